"""The pure event codec: the exact line format of the journal contract."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gloo_nb.journal import Event, JournalError, decode, encode, format_time, parse_time

pytestmark = pytest.mark.unit

T = datetime(2026, 11, 28, 11, 22, 33, 123456, tzinfo=UTC)


def test_encode_is_one_compact_line_in_contract_order() -> None:
    line = encode(Event(time=T, kind="rollout.apply", source="rollout", data={"b": 1, "a": [1, 2]}))
    assert line == ('{"time":"2026-11-28T11:22:33.123456Z","kind":"rollout.apply","source":"rollout",'
                    '"data":{"b":1,"a":[1,2]}}')
    assert list(json.loads(line)) == ["time", "kind", "source", "data"]


def test_time_is_utc_with_z_and_microseconds_even_when_zero() -> None:
    paris = timezone(timedelta(hours=1))
    event = Event(time=datetime(2026, 11, 28, 12, 0, 0, tzinfo=paris), kind="k", source="", data={})
    assert event.time == datetime(2026, 11, 28, 11, 0, 0, tzinfo=UTC) and event.time.tzinfo is UTC
    assert encode(event).startswith('{"time":"2026-11-28T11:00:00.000000Z"')
    assert format_time(T) == "2026-11-28T11:22:33.123456Z"


def test_round_trip_with_escapes_and_unicode() -> None:
    data = {"text": 'line1\nline2\u2028"quoted" \\ é 漢字 🙂', "n": 1.5, "none": None, "nested": {"l": [True, {}]}}
    event = Event(time=T, kind="x.y", source="node-1", data=data)
    line = encode(event)
    assert "\n" not in line and line.isascii()  # no raw separator of any kind can split the line
    assert decode(line) == event
    assert decode(line.encode() + b"\n") == event


def test_data_datetimes_enums_and_sets_are_written_as_json() -> None:
    class Phase(enum.Enum):
        ONE = "phase1"

    line = encode(Event(time=T, kind="k", source="", data={"at": T, "phase": Phase.ONE, "s": {2, 1}}))
    assert json.loads(line)["data"] == {"at": "2026-11-28T11:22:33.123456Z", "phase": "phase1", "s": [1, 2]}


@pytest.mark.parametrize("data", [{"x": object()}, {"x": float("nan")}])
def test_unserialisable_data_is_a_journal_error(data: dict[str, object]) -> None:
    with pytest.raises(JournalError, match="not JSON-serialisable"):
        encode(Event(time=T, kind="k", source="", data=data))


def test_naive_time_and_empty_kind_are_refused() -> None:
    with pytest.raises(JournalError, match="timezone-aware"):
        Event(time=datetime(2026, 1, 1), kind="k", source="", data={})
    with pytest.raises(JournalError, match="kind"):
        Event(time=T, kind="", source="", data={})


def test_decode_errors_name_file_and_line() -> None:
    with pytest.raises(JournalError) as caught:
        decode('{"time": "2026-11-28T11:22:33Z", "kind":', file="j/journal-000001.jsonl", line_no=7)
    assert str(caught.value).startswith("j/journal-000001.jsonl: line 7: not a JSON line")
    assert (caught.value.file, caught.value.line) == ("j/journal-000001.jsonl", 7)
    with pytest.raises(JournalError, match="f: line 2: field 'kind'"):
        decode('{"time": "2026-11-28T11:22:33Z", "data": {}}', file="f", line_no=2)
    with pytest.raises(JournalError, match="field 'time'"):
        decode('{"time": "2026-11-28T11:22:33", "kind": "k", "data": {}}', file="f", line_no=3)


def test_decode_accepts_other_rfc3339_spellings() -> None:
    event = decode('{"time": "2026-11-28T12:22:33+01:00", "kind": "k", "data": {"a": 1}}')
    assert event.time == datetime(2026, 11, 28, 11, 22, 33, tzinfo=UTC)
    assert event.source == ""
    assert parse_time("2026-11-28T11:22:33.5Z") == datetime(2026, 11, 28, 11, 22, 33, 500000, tzinfo=UTC)
