"""Reading manifests from files, folders and standard input: the I/O edge of the parser.

All parsing is done by :mod:`gloo_nb.models.codec`; this module only finds and reads the bytes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from gloo_nb.errors import ParseError
from gloo_nb.models.codec import ParseResult, load_documents, parse_stream

MANIFEST_SUFFIXES = frozenset({".yaml", ".yml", ".json"})
"""File name endings read from folders (as ``kubectl apply -f DIR -R`` does)."""


def _folder_files(folder: Path) -> list[Path]:
    # rglob does not follow symlinked folders, so a link loop cannot make this endless.
    files = [p for p in folder.rglob("*") if p.suffix.lower() in MANIFEST_SUFFIXES and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(folder).parts)


def _read(path: Path, shown: str) -> ParseResult:
    try:
        # no local name for the bytes: parse_stream drops them once decoded, which lowers the peak
        # memory of a large file by its size
        return parse_stream(path.read_bytes(), file=shown)
    except PermissionError:
        raise ParseError("cannot read the file: permission denied; check its permissions",
                         file=shown) from None
    except OSError as error:
        raise ParseError(f"cannot read the file: {error.strerror or error}", file=shown) from None


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
            result.extend(parse_stream(source.read(), file="-"))
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
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ParseError(f"cannot read the file: {error.strerror or error}", file=str(path)) from None
    try:
        return load_documents(data, file=str(path))
    except UnicodeDecodeError as error:
        raise ParseError(f"not UTF-8 text at byte {error.start}; save the file as UTF-8", file=str(path)) from None
