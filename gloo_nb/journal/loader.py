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

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from gloo_nb._gc import gc_paused
from gloo_nb.journal.events import Event, JournalError, format_time, parse_time
from gloo_nb.journal.store import FILE_PATTERN, journal_files

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Journal", "LazyData", "read_journal"]

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
        losses: One line per problem that lost data (a truncated last line); empty when nothing was lost.
    """

    def __init__(self, *, times: np.ndarray[Any, Any], kinds: list[str], sources: list[str],
                 datas: list[dict[str, Any] | LazyData], files: list[Path], losses: list[str]) -> None:
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
        frame["data"] = [(d._raw if isinstance(d, LazyData) and d._value is None else orjson.dumps(_plain(d))).decode()
                         for d in self._datas]
        out = Path(path)
        try:
            frame.to_parquet(out, index=False)
        except ImportError:
            raise JournalError("Parquet export needs pyarrow: pip install pyarrow", file=str(out)) from None
        except OSError as exc:
            raise JournalError(f"cannot write the Parquet file: {exc.strerror or exc}", file=str(out)) from None
        return out

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
    losses: list[str] = []
    with gc_paused():
        for path in files:
            _read_file(path, columns, losses)
        return _sorted_journal(columns, files, losses)


def _read_file(path: Path, columns: _Columns, losses: list[str]) -> None:
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
                losses.append(f"{path}: {_TRUNCATED}" if truncated else
                              f"{path}: line {number} (the last) is not JSON, skipped ({exc})")
    _append_rows(path, objects, line_count, truncated, columns, losses)


def _read_canonical(path: Path, body: bytes, line_count: int, truncated: bool, columns: _Columns,
                    losses: list[str]) -> bool:
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
            losses.append(f"{path}: {_TRUNCATED}")
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
                 losses: list[str]) -> None:
    kinds, sources, datas = columns.kinds, columns.sources, columns.datas
    times: list[str] = []
    for number, obj in enumerate(objects, start=1):
        row = _check_row(obj)
        if isinstance(row, str):
            if number == line_count:
                losses.append(f"{path}: {_TRUNCATED}" if truncated else
                              f"{path}: line {number} (the last) is not a journal event, skipped ({row})")
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


def _sorted_journal(columns: _Columns, files: list[Path], losses: list[str]) -> Journal:
    times = np.concatenate(columns.times) if columns.times else np.array([], dtype="datetime64[us]")
    kinds, sources, datas = columns.kinds, columns.sources, columns.datas
    if len(times) > 1 and not bool(np.all(times[1:] >= times[:-1])):
        order = np.argsort(times, kind="stable")
        times = times[order]
        kinds = [kinds[i] for i in order]
        sources = [sources[i] for i in order]
        datas = [datas[i] for i in order]
    return Journal(times=times, kinds=kinds, sources=sources, datas=datas, files=files, losses=losses)
