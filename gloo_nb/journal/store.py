"""The append-only journal store: batched, fsynced, size-rotated JSON-lines files.

A journal is a directory of ``journal-000001.jsonl``, ``journal-000002.jsonl``, ... Each writer starts a new file
after the highest existing number (files are created with ``O_EXCL``), so two runs, or two writers at once, never
share a file. Lines are encoded and redacted when appended, then written in batches; each batch is written with one
``write`` and fsynced. A process killed with SIGKILL loses at most its unflushed batch, and at worst leaves a
half-written last line, which :func:`gloo_nb.journal.read_journal` detects and reports.

Every file starts with a ``journal.open`` line naming the writer's run and the file's part, and a clean
:meth:`JournalWriter.close` ends the run's last file with ``journal.close`` (``gloo_nb.journal.schema``): a run
without it was killed, and the loader reports the time span that may be missing. While a writer is open it holds
an exclusive ``flock`` on its current file, so a reader can tell a live run (a recorder still recording) from a
dead one; the kernel drops the lock when the process dies, whatever killed it.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from gloo_nb.journal.events import Event, JournalError, encode
from gloo_nb.journal.redact import redact
from gloo_nb.journal.schema import JOURNAL_CLOSE, JOURNAL_OPEN, JOURNAL_SOURCE

__all__ = ["FILE_PATTERN", "JournalWriter", "journal_files"]

FILE_PATTERN = re.compile(r"journal-(\d{6,})\.jsonl")
"""Names of journal files; the number orders them."""

Clock = Callable[[], datetime]


def journal_files(directory: Path) -> list[Path]:
    """List a directory's journal files in write order.

    Args:
        directory: The journal directory (must exist).

    Returns:
        The files, by number.
    """
    found = []
    for entry in os.scandir(directory):
        match = FILE_PATTERN.fullmatch(entry.name)
        if match and entry.is_file():
            found.append((int(match.group(1)), Path(entry.path)))
    return [path for _, path in sorted(found)]


def _now() -> datetime:
    return datetime.now(UTC)


class JournalWriter:
    """Writes events to a journal directory. Thread-safe; use it as a context manager.

    Example:
        >>> with JournalWriter("gloo-nb-journal") as journal:  # doctest: +SKIP
        ...     journal.append("rollout.plan", {"steps": 4}, source="rollout")

    Args:
        directory: The journal directory; created (with parents) if missing.
        clock: Returns the current time, timezone-aware; used for event times and for the batch age.
            Default ``datetime.now(UTC)``.
        rotate_bytes: A file is closed and the next one started before it would grow past this size (a single
            longer line still gets a file of its own).
        batch_events: A batch is written once it holds this many events.
        batch_seconds: A batch is written once its first event is this old by ``clock`` (checked on append and by
            a daemon thread, so an idle writer flushes too). ``0`` writes every event at once.
    """

    def __init__(self, directory: str | os.PathLike[str], *, clock: Clock | None = None,
                 rotate_bytes: int = 64 * 1024 * 1024, batch_events: int = 256, batch_seconds: float = 0.5) -> None:
        if rotate_bytes <= 0 or batch_events <= 0 or batch_seconds < 0:
            raise JournalError("rotate_bytes and batch_events must be positive, batch_seconds not negative")
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create the journal directory ({exc.strerror}): pass a writable path",
                               file=str(self.directory)) from exc
        self._clock: Clock = clock or _now
        self._rotate_bytes = rotate_bytes
        self._batch_events = batch_events
        self._batch_seconds = batch_seconds
        # _lock guards the pending batch; _io_lock serialises file writes, taken before _lock, so that batches
        # reach the file in the order they were taken and appends don't wait for an fsync in progress.
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._pending: list[bytes] = []
        self._pending_since: datetime | None = None
        self._file: BinaryIO | None = None
        self._file_size = 0
        self._header_size = 0
        self._next_number = max((int(m.group(1)) for p in journal_files(self.directory)
                                 if (m := FILE_PATTERN.fullmatch(p.name))), default=0) + 1
        self._files: list[Path] = []
        self._run = uuid.uuid4().hex
        self._events = 0
        self._closed = False
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, args=(max(0.01, batch_seconds / 5),),
                                         name=f"journal-flusher:{self.directory}", daemon=True)
        self._flusher.start()
        # A notebook or script that forgets close() still gets its last batch on disk at interpreter exit
        # (the registration keeps the writer alive until then, which is what a forgotten writer needs).
        atexit.register(self.close)

    # -- public ------------------------------------------------------------------------------------------------------

    @property
    def files(self) -> list[Path]:
        """The files this writer created, in order."""
        return list(self._files)

    def append(self, kind: str, data: Mapping[str, Any], *, source: str = "", time: datetime | None = None) -> Event:
        """Record an event now (or at ``time``).

        Args:
            kind: Dotted kind, e.g. ``rollout.apply``.
            data: JSON-serialisable payload; secrets are redacted before it is kept.
            source: Who writes it.
            time: When it happened; default the writer's clock.

        Returns:
            The event as written (its data redacted).

        Raises:
            JournalError: The writer is closed, the data is not JSON-serialisable, or an earlier write failed.
        """
        return self._add(Event(time=time if time is not None else self._clock(), kind=kind, source=source,
                               data=redact(None, data)))

    def write(self, event: Event) -> Event:
        """Record an event built by the caller.

        Args:
            event: The event; its data is redacted before it is kept.

        Returns:
            The event as written (its data redacted).

        Raises:
            JournalError: The writer is closed, the data is not JSON-serialisable, or an earlier write failed.
        """
        return self._add(Event(time=event.time, kind=event.kind, source=event.source, data=redact(None, event.data)))

    def flush(self) -> None:
        """Write the pending batch and fsync it.

        Raises:
            JournalError: Writing failed (the error is also raised by every later call).
        """
        with self._io_lock:
            with self._lock:
                if self._error is not None:
                    raise JournalError(f"an earlier write failed ({self._error}): check the disk, then open a "
                                       "new JournalWriter", file=str(self.directory)) from self._error
                batch, self._pending, self._pending_since = self._pending, [], None
            if not batch:
                return
            try:
                self._write_batch(batch)
            except OSError as exc:
                self._error = exc
                raise JournalError(f"cannot write the journal ({exc.strerror}): check the disk, then open a new "
                                   "JournalWriter", file=str(self.directory)) from exc

    def close(self) -> None:
        """Flush, end the run with its clean stop marker (``journal.close``) and close. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._files or self._pending:
                # The run's last line; like any line it starts a new file rather than grow one past rotate_bytes.
                self._pending.append(self._marker(JOURNAL_CLOSE, {"run": self._run, "events": self._events}))
        self._stop.set()
        atexit.unregister(self.close)
        try:
            self.flush()
        finally:
            with self._io_lock:
                if self._file is not None:
                    self._file.close()
                    self._file = None
        if self._flusher is not threading.current_thread():
            self._flusher.join(timeout=5)

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JournalWriter({str(self.directory)!r}, files={len(self._files)}, closed={self._closed})"

    # -- internals ---------------------------------------------------------------------------------------------------

    def _marker(self, kind: str, data: Mapping[str, Any]) -> bytes:
        return (encode(Event(time=self._clock(), kind=kind, source=JOURNAL_SOURCE, data=dict(data))) + "\n").encode()

    def _check_open(self) -> None:
        if self._closed:
            raise JournalError("the journal writer is closed: open a new JournalWriter", file=str(self.directory))
        if self._error is not None:
            raise JournalError(f"an earlier write failed ({self._error}): check the disk, then open a new "
                               "JournalWriter", file=str(self.directory)) from self._error

    def _add(self, redacted: Event) -> Event:
        # Encoding here, in the caller's thread, reports bad data to the code that produced it.
        line = (encode(redacted) + "\n").encode("ascii")
        with self._lock:
            self._check_open()
            if not self._pending:
                self._pending_since = self._clock()
            self._pending.append(line)
            self._events += 1
            due = len(self._pending) >= self._batch_events or self._batch_age_due()
        if due:
            self.flush()
        return redacted

    def _batch_age_due(self) -> bool:
        """Whether the pending batch is old enough to write (caller holds ``_lock``)."""
        if self._pending_since is None:
            return False
        age = (self._clock() - self._pending_since).total_seconds()
        # A clock that stepped back (NTP) would otherwise hold the batch until it caught up.
        return age >= self._batch_seconds or age < 0

    def _flush_loop(self, interval: float) -> None:
        """The daemon thread: writes a batch that grew old while nobody appended."""
        while not self._stop.wait(interval):
            with self._lock:
                due = bool(self._pending) and self._batch_age_due()
            if due:
                try:
                    self.flush()
                except JournalError:
                    return  # Kept in self._error; the next append or flush raises it.

    def _write_batch(self, batch: list[bytes]) -> None:
        """Write lines, rotating between them (caller holds ``_io_lock``)."""
        chunk: list[bytes] = []
        chunk_size = 0
        for line in batch:
            if self._file is None:
                self._open_next()
            if chunk_size and self._file_size + chunk_size + len(line) > self._rotate_bytes:
                self._write_chunk(chunk, chunk_size)
                chunk, chunk_size = [], 0
            if not chunk and self._file_size > self._header_size and \
                    self._file_size + len(line) > self._rotate_bytes:
                self._open_next()
            chunk.append(line)
            chunk_size += len(line)
        if chunk:
            self._write_chunk(chunk, chunk_size)

    def _write_chunk(self, chunk: list[bytes], size: int) -> None:
        assert self._file is not None
        self._file.write(b"".join(chunk))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file_size += size

    def _open_next(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        while True:
            path = self.directory / f"journal-{self._next_number:06d}.jsonl"
            self._next_number += 1
            try:
                # "xb": O_EXCL, so a second writer in the same directory moves on to the next number.
                self._file = open(path, "xb")
            except FileExistsError:
                continue
            break
        # Held until the file is closed (rotation, close(), or the process's death): readers see a live run.
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._files.append(path)
        header = self._marker(JOURNAL_OPEN, {"run": self._run, "pid": os.getpid(), "part": len(self._files)})
        self._file.write(header)  # fsynced with the chunk that follows
        self._file_size = self._header_size = len(header)
        # The new name must survive a crash too: fsync the directory entry.
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

