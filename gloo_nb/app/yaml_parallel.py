"""Large YAML streams read on every core: the stream is cut at document markers, each part parsed apart.

Reading YAML into Python objects costs about a microsecond per libyaml event, in the interpreter, so a
39 MB stream of 10,000 RouteTables takes seconds on one core. Documents are independent (anchors and
aliases do not cross them), and a document start marker (``---`` at the start of a line) can appear
nowhere else in a well-formed stream (YAML 1.2, 9.1.4: ``c-forbidden`` content), so the parts are cut
there and parsed by :func:`~gloo_nb.models.codec._yaml_events.yaml_documents` in worker processes,
with the same bounds (depth, aliases) and the same typing as a serial read.

The codec stays pure (no processes): :func:`~gloo_nb.models.codec.parse_stream` takes this reader
as an argument from the file readers of :mod:`gloo_nb.app.manifests`.

Results are the serial read's, document for document: on any error in any part the stream is read
again serially from the start (skipping what was already handed out), so the message, its line and its
document index are those of a serial read. Separate because it is process plumbing around the loader,
with no YAML or Gloo knowledge of its own.
"""

from __future__ import annotations

import gc
import os
import pickle
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gloo_nb.errors import ParseError
from gloo_nb.models.codec import yaml_documents

PARALLEL_MIN_BYTES = 8 << 20
"""Streams smaller than this are read serially: starting a worker costs about 0.2 s."""

WORKERS_ENV = "GLOO_NB_YAML_WORKERS"
"""Environment variable: the most processes a large YAML stream is read with (1: serially)."""

_MAX_WORKERS = 8
_MARKER: dict[type, re.Pattern[Any]] = {str: re.compile(r"^---(?=[ \t\r\n]|$)", re.M),
                                         bytes: re.compile(rb"^---(?=[ \t\r\n]|$)", re.M)}
_DIRECTIVE: dict[type, re.Pattern[Any]] = {str: re.compile(r"^%", re.M), bytes: re.compile(rb"^%", re.M)}


def _parallelism(size: int) -> int:
    if size < PARALLEL_MIN_BYTES:
        return 1
    wanted = os.environ.get(WORKERS_ENV, "").strip()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = int(wanted) if wanted.isdigit() else _MAX_WORKERS
    return max(1, min(limit, cores, _MAX_WORKERS))


def split_at_documents(source: str | bytes, parts: int) -> list[str | bytes]:
    """Cut a YAML stream into at most ``parts`` pieces of about equal size, each at a document marker.

    Args:
        source: The stream.
        parts: How many pieces are wanted.

    Returns:
        The pieces, in order; their concatenation is ``source``. One piece when the stream has
        directives (``%YAML``, ``%TAG``: they belong to the document after them) or too few markers.
    """
    marker = _MARKER[type(source)]
    if parts < 2 or _DIRECTIVE[type(source)].search(source):
        return [source]
    cuts = [0]
    for k in range(1, parts):
        found = marker.search(source, max(cuts[-1] + 1, len(source) * k // parts))
        if found is None:
            break
        if found.start() > cuts[-1]:
            cuts.append(found.start())
    cuts.append(len(source))
    return [source[a:b] for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _parse_part(part: bytes) -> list[Any] | None:
    """A worker's job: one piece's documents, or None when the piece does not read cleanly."""
    gc.disable()  # millions of acyclic objects; the process ends after the read
    try:
        return [value for _, value in yaml_documents(part, "<part>")]
    except (ParseError, RecursionError):
        return None


class _Worker:
    """One piece parsed by a child interpreter (``python -m`` this module): bytes in, pickle out.

    A plain child process rather than :mod:`multiprocessing`: its ``spawn`` re-runs the caller's main
    script in the child (a script without an ``if __name__ == "__main__"`` guard then fails), and
    ``fork`` can deadlock in a process that runs threads (a notebook kernel does).
    """

    def __init__(self, piece: str | bytes) -> None:
        root = str(Path(__file__).resolve().parents[2])  # the folder that holds the gloo_nb package
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        # -P: the caller's working directory is not put on the child's import path
        self._proc = subprocess.Popen([sys.executable, "-P", "-m", __name__], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self._out: bytes = b""
        data = piece.encode("utf-8") if isinstance(piece, str) else piece
        self._thread = threading.Thread(target=self._talk, args=(data,), daemon=True)
        self._thread.start()

    def _talk(self, data: bytes) -> None:
        try:
            self._out, _ = self._proc.communicate(data)
        except (OSError, ValueError):  # killed while talking: the result is not wanted any more
            self._out = b""

    def result(self) -> list[Any] | None:
        """The piece's documents (None: the piece did not read, or the child failed)."""
        self._thread.join()
        if self._proc.returncode != 0 or not self._out:
            return None
        values = pickle.loads(self._out)  # our own child's answer, written by _main below
        return values if isinstance(values, list) else None

    def stop(self) -> None:
        """Kill the child if it still runs, and reap it."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._thread.join()
        self._proc.wait()


def yaml_documents_parallel(source: str | bytes, file: str) -> Iterator[tuple[int, Any]]:
    """:func:`~gloo_nb.models.codec._yaml_events.yaml_documents`, on several cores for large streams.

    Args:
        source: The stream.
        file: What to call the source in messages.

    Yields:
        ``(index, value)`` per document, exactly as a serial read yields them.

    Raises:
        ParseError: As a serial read raises it (same message, line and document).
    """
    pieces = split_at_documents(source, _parallelism(len(source)))
    if len(pieces) < 2:
        yield from yaml_documents(source, file)
        return
    given = 0
    workers: list[_Worker] = []
    try:
        try:
            for piece in pieces[1:]:
                workers.append(_Worker(piece))
        except OSError:  # no interpreter to start (an embedded Python): read on this core
            for worker in workers:
                worker.stop()
            workers = []
            pieces = [source]
        try:
            for _, value in yaml_documents(pieces[0], file):
                yield given, value
                given += 1
            for worker in workers:
                values = worker.result()
                if values is None:
                    break
                for value in values:
                    yield given, value
                    given += 1
            else:
                return
        except (ParseError, RecursionError):
            pass
    finally:
        # a reader that stops early (a bad document) does not wait for the other pieces
        for worker in workers:
            worker.stop()
    # Some piece did not read: the serial read finds the problem where it is and words it exactly.
    for index, value in yaml_documents(source, file):
        if index >= given:
            yield index, value


def _main() -> None:
    data = sys.stdin.buffer.read()
    sys.stdout.buffer.write(pickle.dumps(_parse_part(data), protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    _main()
