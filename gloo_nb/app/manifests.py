"""Reading manifests from files, folders and standard input: the I/O edge of the parser.

All parsing is done by :mod:`gloo_nb.models.codec`; this module only finds and reads the bytes.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from gloo_nb.errors import ParseError, UsageError
from gloo_nb.models.codec import ParseResult, load_documents, parse_stream

MANIFEST_SUFFIXES = frozenset({".yaml", ".yml", ".json"})
"""File name endings read from folders (as ``kubectl apply -f DIR -R`` does)."""

MAX_INPUT_BYTES = 1 << 30
"""Largest file (or standard input) read by default: 1 GiB, room for the hundreds of MB of valid YAML
``translate`` must handle, while ``/dev/zero`` or a runaway pipe fails instead of eating the memory.
``GLOO_NB_MAX_INPUT_BYTES`` changes it."""
MAX_INPUT_ENV = "GLOO_NB_MAX_INPUT_BYTES"


def max_input_bytes() -> int:
    """The size limit on input files: ``GLOO_NB_MAX_INPUT_BYTES`` when set, else :data:`MAX_INPUT_BYTES`.

    Returns:
        The limit in bytes.

    Raises:
        UsageError: The variable is set but is not a positive whole number.
    """
    given = os.environ.get(MAX_INPUT_ENV, "").strip()
    if not given:
        return MAX_INPUT_BYTES
    if not given.isdigit() or int(given) <= 0:
        raise UsageError(f"{MAX_INPUT_ENV}={given!r}: give the largest input to read, in bytes (e.g. 1073741824)")
    return int(given)


def _too_large(shown: str, limit: int) -> ParseError:
    return ParseError(f"larger than the input limit of {limit} bytes; set {MAX_INPUT_ENV} to read more",
                      file=shown)


def read_input(path: str | Path, *, shown: str | None = None, limit: int | None = None) -> bytes:
    """Read one regular file whole, up to a size limit: the one way gloo_nb reads a file it was given.

    Devices, FIFOs and sockets are refused before anything is read (a FIFO is opened without
    blocking, so one planted in a folder cannot hang the command), as are files over the limit.

    Args:
        path: The file.
        shown: What to call it in messages (default: ``path``).
        limit: Largest size accepted; default :func:`max_input_bytes`.

    Returns:
        The bytes.

    Raises:
        ParseError: One line naming the file: missing, unreadable, not a regular file, or too large.
    """
    shown = str(path) if shown is None else shown
    limit = max_input_bytes() if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ParseError("no such file; check the path", file=shown) from None
    except PermissionError:
        raise ParseError("cannot read the file: permission denied; check its permissions", file=shown) from None
    except OSError as error:
        raise ParseError(f"cannot read the file: {error.strerror or error}", file=shown) from None
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ParseError("is a folder, not a file; give a file", file=shown)
        if not stat.S_ISREG(info.st_mode):
            raise ParseError("not a regular file (a device, FIFO or socket); give a file, or - for standard "
                             "input", file=shown)
        if info.st_size > limit:
            raise _too_large(shown, limit)
        os.set_blocking(fd, True)
        try:
            data = stream.read(limit + 1)
        except OSError as error:
            raise ParseError(f"cannot read the file: {error.strerror or error}", file=shown) from None
    if len(data) > limit:  # it grew while being read
        raise _too_large(shown, limit)
    return data


def read_stream(source: BinaryIO, *, shown: str = "-", limit: int | None = None) -> bytes:
    """Read a stream (standard input) whole, up to a size limit.

    Args:
        source: The stream.
        shown: What to call it in messages.
        limit: Largest size accepted; default :func:`max_input_bytes`.

    Returns:
        The bytes.

    Raises:
        ParseError: The stream holds more than the limit.
    """
    limit = max_input_bytes() if limit is None else limit
    data = source.read(limit + 1)
    if len(data) > limit:
        raise _too_large(shown, limit)
    return data


def _folder_files(folder: Path) -> list[Path]:
    # rglob does not follow symlinked folders, so a link loop cannot make this endless.
    files = [p for p in folder.rglob("*") if p.suffix.lower() in MANIFEST_SUFFIXES and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(folder).parts)


def _read(path: Path, shown: str) -> ParseResult:
    # no local name for the bytes: parse_stream drops them once decoded, which lowers the peak
    # memory of a large file by its size
    return parse_stream(read_input(path, shown=shown), file=shown)


def read_manifests(paths: Sequence[str], *, stdin: BinaryIO | None = None) -> ParseResult:
    """Read Kubernetes manifests from files, folders and standard input.

    Args:
        paths: Each a file, a folder (its ``*.yaml``, ``*.yml`` and ``*.json`` files, recursively,
            sorted by path) or ``-`` for standard input (reported as file ``-``).
        stdin: The stream that ``-`` reads; ``sys.stdin.buffer`` when not given.

    Returns:
        Everything read, in the order of ``paths`` (and of the files in each folder).

    Raises:
        ParseError: A path does not exist or cannot be read, or a document in it cannot be parsed.
    """
    result = ParseResult()
    for given in paths:
        if given == "-":
            source = stdin if stdin is not None else sys.stdin.buffer
            result.extend(parse_stream(read_stream(source), file="-"))
            continue
        path = Path(given)
        if path.is_dir():
            files = _folder_files(path)
            if not files:
                raise ParseError("the folder holds no *.yaml, *.yml or *.json files; check the path",
                                 file=given)
            for file in files:
                result.extend(_read(file, str(file)))
        elif path.exists():
            result.extend(_read(path, given))
        else:
            raise ParseError("no such file or folder; check the path, or give - to read standard input",
                             file=given)
    return result


def read_documents(path: Path) -> list[Any]:
    """Read one manifest file's raw documents (to send them to an API as they are).

    Args:
        path: The file.

    Returns:
        The documents, in order.

    Raises:
        ParseError: The file cannot be read or decoded.
    """
    return load_documents(read_input(path), file=str(path))
