"""Loading journals: every file of one or more journal directories, merged by time, into events or a DataFrame.

A bad last line of a file is what a killed writer leaves (it was cut mid-write): it is reported in
:attr:`Journal.losses` and skipped. A bad line anywhere else is corruption and raises :class:`JournalError`
naming the file and line.

Speed: a whole file is parsed with one ``orjson.loads`` call as a JSON array (about twice as fast as line by line
with ``json``; orjson itself some 25% faster than ``json`` on the same array), falling back to line
by line only to locate a bad line; the cyclic garbage collector is paused while loading. :class:`Event` objects are
built only when :attr:`Journal.events` is first read; :meth:`Journal.frame` is built from the columns directly.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from gloo_nb._gc import gc_paused
from gloo_nb.journal.events import Event, JournalError, format_time, parse_time
from gloo_nb.journal.schema import JOURNAL_CLOSE, JOURNAL_OPEN
from gloo_nb.journal.store import FILE_PATTERN, journal_files

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Journal", "LazyData", "Loss", "read_journal"]

_TRUNCATED = "last line truncated (process killed mid-write?)"


# The writer's own line shape (`encode`): envelope fields in contract order, plain strings, a UTC time
# with microseconds. Lines of this shape are split without decoding `data`.
_CANONICAL = re.compile(
    rb'^\{"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})Z","kind":"([^"\\]+)","source":"([^"\\]*)",'
    rb'"data":(\{.*\})\}$', re.M)


class LazyData(Mapping[str, Any]):
    """An event's ``data``, decoded from its JSON text on first access (read-only).

    Decoding a million events' data takes many seconds and most analyses read a few kinds only, so
    :meth:`Journal.frame` hands out these; ``dict(d)`` gives a plain dict.
    """

    __slots__ = ("_file", "_line", "_raw", "_value")

    def __init__(self, raw: bytes, file: str, line: int) -> None:
        self._raw = raw
        self._value: dict[str, Any] | None = None
        self._file = file
        self._line = line

    def decoded(self) -> dict[str, Any]:
        """The data as a plain dict (decoded once).

        Raises:
            JournalError: The text is not a JSON object (corruption: names the file and line).
        """
        if self._value is None:
            try:
                value = orjson.loads(self._raw)
            except ValueError as exc:
                raise JournalError(f"field 'data' is not JSON ({exc}): the file is corrupt; move it out of the "
                                   "directory to read the rest", file=self._file, line=self._line) from None
            if type(value) is not dict:
                raise JournalError("field 'data' is not a JSON object: the file is corrupt", file=self._file,
                                   line=self._line)
            self._value, self._raw = value, b""
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self.decoded()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.decoded())

    def __len__(self) -> int:
        return len(self.decoded())

    def __repr__(self) -> str:
        return repr(self.decoded())


def _dumps(value: Any) -> bytes:
    # orjson refuses to write more than 255 levels (a team's deeply nested unknown field does that).
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        if "recursion" not in str(exc).lower():
            raise
        return json.dumps(value, separators=(",", ":")).encode()


def _plain(data: dict[str, Any] | LazyData) -> dict[str, Any]:
    return data.decoded() if isinstance(data, LazyData) else data


class _Columns:
    """Events as parallel columns (cheaper than a million Event objects)."""

    __slots__ = ("datas", "kinds", "sources", "times")

    def __init__(self) -> None:
        self.times: list[np.ndarray[Any, Any]] = []  # one datetime64[us] array per file
        self.kinds: list[str] = []
        self.sources: list[str] = []
        self.datas: list[dict[str, Any] | LazyData] = []


class Journal:
    """Events loaded from one or more journal directories (built by :func:`read_journal`).

    Attributes:
        files: The files read, in reading order.
        losses: What may be missing (:class:`Loss`): a run that ended without its clean stop marker (its
            writer was killed), a cut last line; empty when nothing was lost.
    """

    def __init__(self, *, times: np.ndarray[Any, Any], kinds: list[str], sources: list[str],
                 datas: list[dict[str, Any] | LazyData], files: list[Path], losses: list[Loss]) -> None:
        self._times = times
        self._kinds = kinds
        self._sources = sources
        self._datas = datas
        self.files = files
        self.losses = losses

    @cached_property
    def events(self) -> list[Event]:
        """The events, by time (stable: equal times keep file order). Built on first use."""
        naive = self._times.astype("datetime64[us]").astype(object)
        with gc_paused():
            return [Event(time=t.replace(tzinfo=UTC), kind=k, source=s, data=_plain(d))
                    for t, k, s, d in zip(naive, self._kinds, self._sources, self._datas, strict=True)]

    def __len__(self) -> int:
        return len(self._kinds)

    def __repr__(self) -> str:
        return f"<Journal {len(self)} events from {len(self.files)} files, {len(self.losses)} losses>"

    def frame(self) -> pd.DataFrame:
        """The events as a DataFrame.

        Returns:
            Columns ``time`` (``datetime64[ns, UTC]``), ``kind`` and ``source`` (categoricals), ``data``
            (read-only mappings, decoded on first access: :class:`LazyData` or dicts),
            one row per event, by time.
        """
        import pandas as pd

        with gc_paused():
            time = pd.DatetimeIndex(self._times).tz_localize("UTC").as_unit("ns")
            # A few distinct kinds and sources over millions of rows: categories are built an order of
            # magnitude faster than string columns and take a fraction of the memory.
            return pd.DataFrame({"time": time, "kind": pd.Categorical(self._kinds),
                                 "source": pd.Categorical(self._sources), "data": self._datas})

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Export the events to one Parquet file (for pandas, DuckDB, Spark, ...).

        ``data`` is stored as its JSON text: events of different kinds have different shapes, which a
        Parquet schema cannot hold in one column (``pd.read_parquet(path).data.map(json.loads)``
        gives the dicts back).

        Args:
            path: The file to write (replaced).

        Returns:
            The path written.

        Raises:
            JournalError: pyarrow is missing or the file cannot be written.
        """
        frame = self.frame()
        frame["data"] = self.data_texts()
        out = Path(path)
        try:
            frame.to_parquet(out, index=False)
        except ImportError:
            raise JournalError("Parquet export needs pyarrow: pip install pyarrow", file=str(out)) from None
        except OSError as exc:
            raise JournalError(f"cannot write the Parquet file: {exc.strerror or exc}", file=str(out)) from None
        return out

    def data_texts(self) -> list[str]:
        """Each event's ``data`` as its JSON text, by time (the text read, when it was never decoded).

        Returns:
            One string per event, in the order of :meth:`frame`.
        """
        return [(d._raw if isinstance(d, LazyData) and d._value is None else _dumps(_plain(d))).decode()
                for d in self._datas]

    def times_us(self) -> np.ndarray[Any, Any]:
        """The events' times as a ``datetime64[us]`` array (UTC, without a zone), by time.

        Returns:
            A read-only view: one time per event, in the order of :meth:`frame`.
        """
        view = self._times.astype("datetime64[us]", copy=False).view()
        view.flags.writeable = False
        return view

    def of_kind(self, prefix: str) -> Journal:
        """The events whose kind is ``prefix`` or lies under it (``"rollout"`` matches ``rollout.apply``).

        Args:
            prefix: A kind or a dotted prefix of kinds (with or without the trailing dot); ``""`` keeps all.

        Returns:
            A journal with those events (same files and losses).
        """
        dotted = prefix if prefix.endswith(".") or not prefix else prefix + "."
        keep = [i for i, kind in enumerate(self._kinds) if kind == prefix or kind.startswith(dotted)]
        return Journal(times=self._times[keep] if keep else self._times[:0],
                       kinds=[self._kinds[i] for i in keep], sources=[self._sources[i] for i in keep],
                       datas=[self._datas[i] for i in keep], files=list(self.files), losses=list(self.losses))




def read_journal(*directories: str | os.PathLike[str]) -> Journal:
    """Load every journal file of the given directories, merged by time.

    Args:
        *directories: Journal directories (a single journal file is accepted too). Several runs can be read at
            once; their events are merged by time.

    Returns:
        The journal; see :attr:`Journal.losses` for what a killed writer cut off.

    Raises:
        JournalError: No directory given, a directory is missing or holds no journal file, or a line other than the
            last of its file is corrupt (the message names file and line).
    """
    if not directories:
        raise JournalError("no journal directory given: pass read_journal(DIR), e.g. ./gloo-nb-journal")
    files: list[Path] = []
    for directory in map(Path, directories):
        if directory.is_file() and FILE_PATTERN.fullmatch(directory.name):
            files.append(directory)
            continue
        if not directory.is_dir():
            raise JournalError("no such journal directory: pass the directory given to --journal or --out",
                               file=str(directory))
        found = journal_files(directory)
        if not found:
            raise JournalError("no journal files (journal-NNNNNN.jsonl) in this directory: pass the directory "
                               "given to --journal or --out", file=str(directory))
        files.extend(found)
    columns = _Columns()
    cuts: list[_Cut] = []
    runs: list[_FileRun] = []
    with gc_paused():
        for path in files:
            start = len(columns.kinds)
            _read_file(path, columns, cuts)
            runs.append(_take_markers(path, columns, start))
        return _sorted_journal(columns, files, _losses(runs, cuts))


@dataclass(frozen=True)
class Loss:
    """Events that may be missing from a journal, and when.

    Attributes:
        file: The journal file concerned.
        start: The last event read before the gap (None when nothing of the file could be read).
        end: When recording resumed: the start of the next run written to the same directory, or
            None when no later run was recorded (the gap's end is unknown).
        why: What happened, in words.
    """

    file: str
    start: datetime | None
    end: datetime | None
    why: str

    def as_json(self) -> dict[str, Any]:
        """The ``losses`` entry of ``gloo-nb journal summary --json``.

        Returns:
            ``{"file", "from", "to", "why"}``, times RFC 3339, null when unknown.
        """
        return {"file": self.file, "from": format_time(self.start) if self.start else None,
                "to": format_time(self.end) if self.end else None, "why": self.why}

    def __str__(self) -> str:
        since = format_time(self.start) if self.start else "the file's start"
        until = format_time(self.end) + " (the next run)" if self.end else "unknown (no later run recorded)"
        return f"{self.file}: {self.why}; events from {since} to {until} may be missing"


_Cut = tuple[Path, str]
"""A file whose last line was lost, and how."""


@dataclass
class _FileRun:
    """What a file's store markers say about the run that wrote it."""

    path: Path
    run: str | None  # None: a file without a journal.open header (written before markers existed)
    part: int
    pid: int | None
    closed: bool
    opened: datetime | None  # when the run began recording (its first event or its header, the earlier)
    last: datetime | None  # the last event's time (or the header's, for a file of no events)


def _take_markers(path: Path, columns: _Columns, start: int) -> _FileRun:
    """Remove the store's own marker lines of the file just read (rows from ``start`` on) and describe its run."""
    info = _FileRun(path, None, 0, None, False, None, None)
    kinds = columns.kinds
    if len(kinds) == start:
        return info
    times = columns.times[-1]  # this file's times, one per row from `start`
    keep: list[int] = []
    for i in range(start, len(kinds)):
        kind = kinds[i]
        if kind != JOURNAL_OPEN and kind != JOURNAL_CLOSE:
            keep.append(i)
            continue
        data = _plain(columns.datas[i])
        when = _utc(times[i - start])
        if kind == JOURNAL_OPEN and info.run is None:
            info.run, info.opened = str(data.get("run") or ""), when
            part, pid = data.get("part"), data.get("pid")
            info.part = part if isinstance(part, int) else 0
            info.pid = pid if isinstance(pid, int) else None
        elif kind == JOURNAL_CLOSE:
            info.closed = True
    if len(keep) != len(kinds) - start:
        columns.times[-1] = times[[i - start for i in keep]]
        columns.kinds[start:] = [kinds[i] for i in keep]
        columns.sources[start:] = [columns.sources[i] for i in keep]
        columns.datas[start:] = [columns.datas[i] for i in keep]
    rest = columns.times[-1]
    info.last = _utc(rest.max()) if len(rest) else info.opened
    if len(rest) and info.opened is not None:
        # Events carry their own times: the run began at its first event, which can precede the file's creation.
        info.opened = min(info.opened, _utc(rest.min()))
    return info


def _utc(value: np.datetime64) -> datetime:
    return datetime.fromisoformat(str(value.astype("datetime64[us]"))).replace(tzinfo=UTC)


def _writer_alive(path: Path) -> bool:
    """Whether a writer still holds the file's lock (``JournalWriter`` flocks its current file)."""
    try:
        with open(path, "rb") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def _losses(files: list[_FileRun], cuts: list[_Cut]) -> list[Loss]:
    """One loss per run that ended without its clean stop marker, and per other cut last line."""
    runs: dict[str, list[_FileRun]] = {}
    for f in files:
        if f.run:
            runs.setdefault(f.run, []).append(f)
    by_path = {f.path: f for f in files}
    cut_why = dict(cuts)

    def resumed(after: datetime | None, directory: Path, run: str | None) -> datetime | None:
        # The gap ends when a later run in the same directory started recording again.
        starts = [f.opened for f in files if f.run and f.run != run and f.part == 1 and f.opened is not None
                  and f.path.parent == directory and (after is None or f.opened > after)]
        return min(starts, default=None)

    out: list[Loss] = []
    explained: set[Path] = set()
    for run, parts in runs.items():
        if any(f.closed for f in parts):
            continue
        last = max(parts, key=lambda f: (f.part, f.path.name))
        if _writer_alive(last.path):
            continue  # a live writer (a recorder still recording): nothing is lost yet
        when = max((f.last for f in parts if f.last is not None), default=None)
        why = f"the run (pid {last.pid if last.pid is not None else '?'}) ended without its clean stop marker " \
              "(killed or crashed): its last unflushed events are lost"
        if last.path in cut_why:
            why += f", and {cut_why[last.path]}"
            explained.add(last.path)
        out.append(Loss(str(last.path), when, resumed(when, last.path.parent, run), why))
    for path, why in cuts:
        if path in explained:
            continue
        info = by_path.get(path)
        when = info.last if info is not None else None
        out.append(Loss(str(path), when, resumed(when, path.parent, info.run if info else None), why))
    return out


def _read_file(path: Path, columns: _Columns, losses: list[_Cut]) -> None:
    content = path.read_bytes()
    truncated = bool(content) and not content.endswith(b"\n")
    body = content if truncated else content[:-1]  # without the final newline
    line_count = body.count(b"\n") + 1 if content else 0
    if not line_count:
        return
    if _read_canonical(path, body, line_count, truncated, columns, losses):
        return
    # JSON strings cannot hold a raw newline, so newline -> comma turns the lines into one JSON array.
    objects = _parse_array(b"[" + body.replace(b"\n", b",") + b"]", line_count)
    if objects is None:
        # Something does not parse: find it line by line. Only the last line may be bad (a crash); else corruption.
        lines = body.split(b"\n")
        objects = []
        for number, line in enumerate(lines, start=1):
            try:
                objects.append(json.loads(line))
            except ValueError as exc:
                if number < line_count:
                    raise JournalError(f"not a JSON line ({exc}): the file is corrupt; move it out of the "
                                       "directory to read the rest", file=str(path), line=number) from exc
                losses.append((path, _TRUNCATED if truncated else
                               f"line {number} (the last) is not JSON, skipped ({exc})"))
    _append_rows(path, objects, line_count, truncated, columns, losses)


def _read_canonical(path: Path, body: bytes, line_count: int, truncated: bool, columns: _Columns,
                    losses: list[_Cut]) -> bool:
    """Split a file of writer-shaped lines without decoding their data; False when a line has another shape."""
    rows = _CANONICAL.findall(body)
    if len(rows) != line_count:
        return False
    if truncated:
        # A killed writer's last line can stop right after a '}' and still look whole: decode it now.
        try:
            last = orjson.loads(body[body.rfind(b"\n") + 1:])
        except ValueError:
            last = None
        if isinstance(_check_row(last), str):
            rows.pop()
            losses.append((path, _TRUNCATED))
    try:
        times = np.array([r[0].decode() for r in rows], dtype="datetime64[us]")
    except ValueError:
        return False  # an impossible date: the line-by-line path names the line
    file = str(path)
    kinds: dict[bytes, str] = {}
    sources: dict[bytes, str] = {}
    # Kinds and sources repeat: one str per distinct value.
    columns.kinds.extend(kinds.get(r[1]) or kinds.setdefault(r[1], r[1].decode()) for r in rows)
    columns.sources.extend(sources.get(r[2]) or sources.setdefault(r[2], r[2].decode()) for r in rows)
    columns.datas.extend(LazyData(r[3], file, number) for number, r in enumerate(rows, start=1))
    columns.times.append(times)
    return True


def _parse_array(array: bytes, line_count: int) -> list[Any] | None:
    """Parse the lines as one JSON array, or return None when any of them does not parse."""
    try:
        parsed = orjson.loads(array)
    except ValueError:  # orjson.JSONDecodeError is one
        return None
    # Two objects on one line would parse here but are not journal lines: the count must match.
    return parsed if isinstance(parsed, list) and len(parsed) == line_count else None


def _append_rows(path: Path, objects: Iterable[Any], line_count: int, truncated: bool, columns: _Columns,
                 losses: list[_Cut]) -> None:
    kinds, sources, datas = columns.kinds, columns.sources, columns.datas
    times: list[str] = []
    for number, obj in enumerate(objects, start=1):
        row = _check_row(obj)
        if isinstance(row, str):
            if number == line_count:
                losses.append((path, _TRUNCATED if truncated else
                               f"line {number} (the last) is not a journal event, skipped ({row})"))
                break
            raise JournalError(f"{row}: the file is corrupt; move it out of the directory to read the rest",
                               file=str(path), line=number)
        times.append(row[0])
        kinds.append(row[1])
        sources.append(row[2])
        datas.append(row[3])
    # Converted per file, while line numbers are known for an error.
    try:
        columns.times.append(_to_datetime64(times))
    except ValueError:
        for number, time in enumerate(times, start=1):
            try:
                _to_datetime64([time])
            except ValueError as exc:
                raise JournalError(f"field 'time' {time!r} is not a time ({exc}): the file is corrupt",
                                   file=str(path), line=number) from exc


def _check_row(obj: Any) -> tuple[str, str, str, dict[str, Any]] | str:
    """The row's (time, kind, source, data), or what is wrong with it."""
    if type(obj) is not dict:
        return f"expected a JSON object, got {type(obj).__name__}"
    time, kind, source, data = obj.get("time"), obj.get("kind"), obj.get("source", ""), obj.get("data", {})
    if type(time) is not str:
        return "field 'time' is missing or not a string"
    if type(kind) is not str or not kind:
        return "field 'kind' is missing or not a non-empty string"
    if type(source) is not str:
        return "field 'source' is not a string"
    if type(data) is not dict:
        return "field 'data' is not a JSON object"
    if not (len(time) == 27 and time[26] == "Z" and time[19] == "."):
        # Another writer's RFC 3339 spelling: normalised so that times parse in one vectorised call.
        try:
            time = format_time(parse_time(time))
        except ValueError as exc:
            return f"field 'time': {exc}"
    return time, kind, source, data


def _to_datetime64(times: list[str]) -> np.ndarray[Any, Any]:
    # numpy parses ISO 8601 in C; the "Z" is stripped because numpy deprecates zone designators.
    return np.array([t[:-1] for t in times], dtype="datetime64[us]")


def _sorted_journal(columns: _Columns, files: list[Path], losses: list[Loss]) -> Journal:
    times = np.concatenate(columns.times) if columns.times else np.array([], dtype="datetime64[us]")
    kinds, sources, datas = columns.kinds, columns.sources, columns.datas
    if len(times) > 1 and not bool(np.all(times[1:] >= times[:-1])):
        order = np.argsort(times, kind="stable")
        times = times[order]
        kinds = [kinds[i] for i in order]
        sources = [sources[i] for i in order]
        datas = [datas[i] for i in order]
    return Journal(times=times, kinds=kinds, sources=sources, datas=datas, files=files, losses=losses)
