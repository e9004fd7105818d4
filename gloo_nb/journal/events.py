"""Journal events and their one-line JSON codec (pure: no file or network I/O).

A journal line is ``{"time": RFC 3339 UTC, "kind": "...", "source": "...", "data": {...}}`` with the keys in that
order, compact separators and the time written as ``2026-11-28T11:22:33.123456Z`` (always UTC, always microseconds),
so that lines sort by time as plain strings and any JSON tool can read them.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gloo_nb.errors import BadDataError

__all__ = ["Event", "JournalError", "decode", "encode", "format_time", "parse_time"]


class JournalError(BadDataError):
    """A journal cannot be written or read (bad event, corrupt file, missing directory).

    Attributes:
        file: The journal file or directory concerned, or None.
        line: One-based line number in ``file``, or None.
        problem: What is wrong and what to do, in words.
    """

    def __init__(self, problem: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        parts = [p for p in (file, f"line {line}" if line is not None else None) if p]
        super().__init__(": ".join([*parts, problem]))


@dataclass(frozen=True)
class Event:
    """One journal event.

    Attributes:
        time: When it happened, timezone-aware (normalised to UTC).
        kind: Dotted kind, e.g. ``rollout.apply`` or ``kube.watch``.
        source: Who wrote it (``rollout``, ``recorder``, a replica's node id); may be empty.
        data: The payload, JSON-serialisable. Treat it as read-only.
    """

    time: datetime
    kind: str
    source: str
    data: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.time, datetime) or self.time.utcoffset() is None:
            raise JournalError(f"event time {self.time!r} is not a timezone-aware datetime: use datetime.now(UTC)")
        if self.time.tzinfo is not UTC:
            object.__setattr__(self, "time", self.time.astimezone(UTC))
        if not isinstance(self.kind, str) or not self.kind:
            raise JournalError(f"event kind {self.kind!r} must be a non-empty string, e.g. 'rollout.apply'")
        if not isinstance(self.source, str):
            raise JournalError(f"event source {self.source!r} must be a string")
        if not isinstance(self.data, Mapping):
            raise JournalError(f"event data must be a mapping, got {type(self.data).__name__}")


def format_time(time: datetime) -> str:
    """Format a timezone-aware time as the journal writes it.

    Args:
        time: A timezone-aware datetime.

    Returns:
        RFC 3339 in UTC with microseconds and ``Z``, e.g. ``2026-11-28T11:22:33.123456Z``.

    Raises:
        JournalError: ``time`` is naive.
    """
    if time.utcoffset() is None:
        raise JournalError(f"time {time!r} is naive: pass a timezone-aware datetime")
    # isoformat is several times faster than strftime; the two agree for this format.
    return time.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 time with an offset (``Z`` or ``+hh:mm``) into a UTC datetime.

    Args:
        text: The time as written in a journal line.

    Returns:
        The time, in UTC.

    Raises:
        ValueError: ``text`` is not an ISO 8601 time or has no offset.
    """
    parsed = datetime.fromisoformat(text)
    if parsed.utcoffset() is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return parsed.astimezone(UTC)


def _default(value: object) -> object:
    # The few non-JSON types that rollout and recorder data naturally carry; anything else is a bug at the caller.
    if isinstance(value, datetime):
        return format_time(value) if value.utcoffset() is not None else value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_default)


def encode(event: Event) -> str:
    """Encode an event as one compact JSON line (without the trailing newline).

    Non-ASCII characters are escaped, so a line never contains a raw line separator of any kind.
    ``datetime`` values in ``data`` are written like the event time, enums as their value, sets as sorted lists.

    Args:
        event: The event.

    Returns:
        The line.

    Raises:
        JournalError: ``data`` holds something JSON cannot represent (an object, NaN).
    """
    try:
        payload = _ENCODER.encode(event.data)
    except (TypeError, ValueError) as exc:
        raise JournalError(f"event {event.kind!r}: data is not JSON-serialisable ({exc}): pass plain dicts, "
                           "lists, strings, numbers") from exc
    # json.dumps of the three strings keeps escaping identical to the payload's.
    return (f'{{"time":"{format_time(event.time)}","kind":{json.dumps(event.kind)},'
            f'"source":{json.dumps(event.source)},"data":{payload}}}')


def event_from_object(obj: object, *, file: str, line_no: int) -> Event:
    """Build an event from a decoded JSON object, checking the contract's fields.

    Args:
        obj: What ``json.loads`` returned for the line.
        file: The file, for errors.
        line_no: One-based line number, for errors.

    Returns:
        The event.

    Raises:
        JournalError: A field is missing or has the wrong type.
    """
    if not isinstance(obj, dict):
        raise JournalError(f"expected a JSON object, got {type(obj).__name__}", file=file, line=line_no)
    time, kind, source, data = obj.get("time"), obj.get("kind"), obj.get("source", ""), obj.get("data", {})
    if not isinstance(time, str):
        raise JournalError("field 'time' is missing or not a string", file=file, line=line_no)
    if not isinstance(kind, str) or not kind:
        raise JournalError("field 'kind' is missing or not a non-empty string", file=file, line=line_no)
    if not isinstance(source, str):
        raise JournalError("field 'source' is not a string", file=file, line=line_no)
    if not isinstance(data, dict):
        raise JournalError("field 'data' is not a JSON object", file=file, line=line_no)
    try:
        when = parse_time(time)
    except ValueError as exc:
        raise JournalError(f"field 'time': {exc}: expected RFC 3339 like 2026-11-28T11:22:33.123456Z",
                           file=file, line=line_no) from exc
    return Event(time=when, kind=kind, source=source, data=data)


def decode(line: str | bytes, *, file: str = "<line>", line_no: int = 1) -> Event:
    """Decode one journal line.

    Args:
        line: The line, with or without its trailing newline.
        file: The file it came from (named in errors).
        line_no: Its one-based line number (named in errors).

    Returns:
        The event.

    Raises:
        JournalError: The line is not JSON or lacks a contract field; the message names file and line.
    """
    try:
        obj = json.loads(line)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors.
        raise JournalError(f"not a JSON line ({exc})", file=file, line=line_no) from exc
    return event_from_object(obj, file=file, line_no=line_no)
