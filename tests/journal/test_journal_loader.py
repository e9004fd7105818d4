"""The loader: merging directories, frames, filters, and telling a crash (last line) from corruption (any other)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from gloo_nb.journal import JournalError, JournalWriter, read_journal

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 28, 11, 0, 0, tzinfo=UTC)


def write(directory: Path, events: list[tuple[float, str, dict[str, object]]]) -> list[Path]:
    with JournalWriter(directory) as journal:
        for seconds, kind, data in events:
            journal.append(kind, data, source="test", time=T0 + timedelta(seconds=seconds))
    return journal.files


def test_several_directories_merge_by_time_stably(tmp_path: Path) -> None:
    write(tmp_path / "run1", [(0, "rollout.plan", {"run": 1}), (2, "rollout.apply", {"run": 1}),
                              (4, "rollout.probe", {"run": 1})])
    write(tmp_path / "run2", [(1, "kube.watch", {"run": 2}), (2, "kube.watch", {"run": 2}),
                              (3, "xds.update", {"run": 2})])
    journal = read_journal(tmp_path / "run1", str(tmp_path / "run2"))
    assert [(e.time - T0).total_seconds() for e in journal.events] == [0, 1, 2, 2, 3, 4]
    assert [e.data["run"] for e in journal.events][2:4] == [1, 2], "equal times keep reading order"
    assert len(journal) == 6 and len(journal.files) == 2


def test_frame_columns_and_types(tmp_path: Path) -> None:
    write(tmp_path, [(0.5, "rollout.plan", {"steps": 3}), (0.25, "kube.watch", {"type": "ADDED"})])
    frame = read_journal(tmp_path).frame()
    assert list(frame.columns) == ["time", "kind", "source", "data"]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert frame["time"].tolist() == [pd.Timestamp(T0 + timedelta(seconds=0.25)),
                                      pd.Timestamp(T0 + timedelta(seconds=0.5))]
    assert frame["kind"].tolist() == ["kube.watch", "rollout.plan"]
    assert frame["source"].tolist() == ["test", "test"]
    assert frame["data"].tolist() == [{"type": "ADDED"}, {"steps": 3}]


def test_of_kind_matches_whole_dotted_segments(tmp_path: Path) -> None:
    write(tmp_path, [(0, "rollout.plan", {}), (1, "rollout.apply", {}), (2, "rolloutx", {}), (3, "kube.watch", {}),
                     (4, "rollout", {})])
    journal = read_journal(tmp_path)
    assert [e.kind for e in journal.of_kind("rollout").events] == ["rollout.plan", "rollout.apply", "rollout"]
    assert [e.kind for e in journal.of_kind("rollout.").events] == ["rollout.plan", "rollout.apply"]
    assert [e.kind for e in journal.of_kind("rollout.apply").events] == ["rollout.apply"]
    assert journal.of_kind("nothing").frame().empty
    assert len(journal.of_kind("")) == 5
    assert journal.of_kind("kube").frame()["kind"].tolist() == ["kube.watch"]


def test_lines_from_other_writers_with_other_rfc3339_spellings(tmp_path: Path) -> None:
    (tmp_path / "journal-000001.jsonl").write_text(
        '{"time":"2026-11-28T12:00:01+01:00","kind":"a","data":{}}\n'
        '{"time":"2026-11-28T11:00:00.5Z","kind":"b","source":"s","data":{"x":1}}\n')
    journal = read_journal(tmp_path)
    assert [(e.kind, e.time) for e in journal.events] == [("b", T0 + timedelta(seconds=0.5)),
                                                          ("a", T0 + timedelta(seconds=1))]
    assert journal.events[1].source == ""


@pytest.mark.parametrize(("bad", "message"), [
    (b'{"time":"2026-11-28T11:00:00.000000Z","kind":"e","dat', "not a JSON line"),
    (b'{"time":"2026-11-28T11:00:00.000000Z","data":{}}', "field 'kind'"),
    (b'{"time":"2026-13-28T11:00:00.000000Z","kind":"e","data":{}}', "field 'time'"),
    (b'[1, 2]', "expected a JSON object"),
    (b'', "not a JSON line"),
])
def test_a_bad_line_in_the_middle_is_corruption(tmp_path: Path, bad: bytes, message: str) -> None:
    path, = write(tmp_path, [(i, "e", {"i": i}) for i in range(10)])
    lines = path.read_bytes().splitlines(keepends=True)
    lines[4] = bad + b"\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(JournalError) as caught:
        read_journal(tmp_path)
    assert str(caught.value).startswith(f"{path}: line 5: ")
    assert message in str(caught.value)
    assert (caught.value.file, caught.value.line) == (str(path), 5)


def test_an_undecodable_last_line_with_its_newline_is_a_loss(tmp_path: Path) -> None:
    path, = write(tmp_path, [(i, "e", {"i": i}) for i in range(3)])
    with open(path, "ab") as f:
        f.write(b"\x00\x00\x00\n")
    journal = read_journal(tmp_path)
    assert len(journal.events) == 3
    # Line 1 is the writer's journal.open header, line 5 its journal.close: the run itself ended cleanly.
    assert len(journal.losses) == 1 and str(journal.losses[0]).startswith(f"{path}: line 6 (the last) is not JSON")


def test_missing_or_empty_directory_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match=r"nope: no such journal directory: pass the directory given to --journal"):
        read_journal(tmp_path / "nope")
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(JournalError, match=r"no journal files \(journal-NNNNNN.jsonl\) in this directory"):
        read_journal(tmp_path)
    with pytest.raises(JournalError, match="no journal directory given"):
        read_journal()


def test_empty_files_and_a_single_file_path(tmp_path: Path) -> None:
    (tmp_path / "journal-000001.jsonl").write_bytes(b"")
    path, = write(tmp_path, [(0, "e", {})])
    assert len(read_journal(tmp_path)) == 1
    assert read_journal(path).files == [path]


def test_data_is_decoded_on_access_and_corruption_inside_it_names_the_line(tmp_path: Path) -> None:
    path, = write(tmp_path, [(i, "e", {"i": i, "nested": {"list": [i, "x"]}}) for i in range(6)])
    good = path.read_bytes().splitlines(keepends=True)
    lines = list(good)
    lines[3] = lines[3].replace(b"2026-11-28T11", b"2026-13-28T11")  # the writer's line shape, an impossible date
    path.write_bytes(b"".join(lines))
    with pytest.raises(JournalError) as caught:
        read_journal(tmp_path)
    assert (caught.value.file, caught.value.line) == (str(path), 4) and "field 'time'" in str(caught.value)
    lines = list(good)
    lines[3] = lines[3].replace(b'"nested":{', b'"nested":{,')  # the writer's line shape, bad JSON inside data
    path.write_bytes(b"".join(lines))
    frame = read_journal(tmp_path).frame()
    assert dict(frame["data"][0]) == {"i": 0, "nested": {"list": [0, "x"]}} and frame["data"][5]["i"] == 5
    with pytest.raises(JournalError) as caught:
        frame["data"][2]["i"]  # line 4: line 1 is the journal.open header
    assert (caught.value.file, caught.value.line) == (str(path), 4) and "not JSON" in str(caught.value)
    with pytest.raises(JournalError):
        read_journal(tmp_path).events  # noqa: B018 - building the events decodes everything


def test_a_cut_last_line_that_ends_with_braces_is_a_loss(tmp_path: Path) -> None:
    path, = write(tmp_path, [(i, "e", {"i": i, "inner": {"deep": {"a": 1}}, "b": 2}) for i in range(3)])
    body = path.read_bytes()
    # Killed right after '{"a":1}}': the cut line ends with two braces, like a whole line does.
    path.write_bytes(body[:body.rindex(b'{"a":1}}') + len(b'{"a":1}}')])
    journal = read_journal(tmp_path)
    assert [e.data["i"] for e in journal.events] == [0, 1]
    loss, = journal.losses
    assert loss.file == str(path) and "clean stop marker" in loss.why and "last line truncated" in loss.why
