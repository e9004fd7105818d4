"""Opening the files that gloo_nb's readers take (plain or gzip), outside the pure core.

The parsers of ``gloo_nb.models`` take lines (pure); their ``read_`` functions get those lines from here, so the
one place that opens a log file, and says in one line why it cannot, is this module.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Generator, Iterator


def text_lines(path: str | os.PathLike[str], error: Callable[[str], Exception], what: str,
               cut_short: Callable[[str], None] | None = None) -> Iterator[str]:
    """The lines of a text file, plain or ``.gz`` (by its name), as UTF-8 with bad bytes replaced.

    A ``.gz`` file cut short (copied while it was written) ends where it can be read no further, without an error:
    what came before stands, and ``cut_short`` is told why.

    Args:
        path: The file.
        error: Builds the exception for a file that cannot be opened (from one line of text).
        what: What the file should be, for that line (``the access log``).
        cut_short: Called with the reason when the file ends early.

    Yields:
        Each line, with its newline.

    Raises:
        Exception: ``error(...)`` when the file cannot be opened.
    """
    name = os.fspath(path)
    try:
        f = gzip.open(name, "rt", encoding="utf-8", errors="replace", newline="\n") if name.endswith(".gz") \
            else open(name, encoding="utf-8", errors="replace", newline="\n")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise error(f"{name}: cannot read {what}: {exc.strerror or exc}") from None
    with f:
        try:
            yield from f
        except (OSError, EOFError) as exc:
            if cut_short is not None:
                cut_short(str(exc) or type(exc).__name__)


def binary_content(path: str | os.PathLike[str], error: Callable[[str], Exception], what: str) -> bytes:
    """The whole content of a file, plain or ``.gz`` (by its name).

    Args:
        path: The file.
        error: Builds the exception for a file that cannot be read (from one line of text).
        what: What the file should be, for that line (``the Prometheus answer``).

    Returns:
        Its bytes (uncompressed).

    Raises:
        Exception: ``error(...)`` when the file cannot be read.
    """
    name = os.fspath(path)
    try:
        if name.endswith(".gz"):
            with gzip.open(name, "rb") as f:
                return f.read()
        with open(name, "rb") as f:
            return f.read()
    except (OSError, EOFError) as exc:
        raise error(f"{name}: cannot read {what}: {getattr(exc, 'strerror', None) or exc}") from None


def binary_chunks(path: str | os.PathLike[str], error: Callable[[str], Exception], what: str, size: int,
                  cut_short: Callable[[str], None] | None = None) -> Generator[bytes, None, None]:
    """The content of a file, plain or ``.gz`` (by its name), in chunks of ``size`` bytes (uncompressed).

    For readers that scan a large log as bytes (the audit log reader prefilters whole buffers). A ``.gz`` file cut
    short ends where it can be read no further, without an error; ``cut_short`` is told why.

    Args:
        path: The file.
        error: Builds the exception for a file that cannot be opened (from one line of text).
        what: What the file should be, for that line (``the audit log``).
        size: Bytes per chunk.
        cut_short: Called with the reason when the file ends early.

    Yields:
        The chunks (the last one may be shorter).

    Raises:
        Exception: ``error(...)`` when the file cannot be opened.
    """
    name = os.fspath(path)
    try:
        f = gzip.open(name, "rb") if name.endswith(".gz") else open(name, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise error(f"{name}: cannot read {what}: {exc.strerror or exc}") from None
    # gzip's read(n) loses what it decompressed when the stream ends early: read1 pieces, gathered to ``size``.
    read = f.read1 if isinstance(f, gzip.GzipFile) else f.read
    buf = bytearray()
    with f:
        try:
            while piece := read(size - len(buf)):
                buf += piece
                if len(buf) >= size:
                    yield bytes(buf)
                    buf.clear()
        except (OSError, EOFError) as exc:
            if buf:
                yield bytes(buf)
            if cut_short is not None:
                cut_short(str(exc) or type(exc).__name__)
            return
    if buf:
        yield bytes(buf)
