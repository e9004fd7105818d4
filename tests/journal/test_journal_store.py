"""The writer: files, rotation, batching (by count, by age, by the idle flusher), reopen, threads, SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from polling import wait_until

from gloo_nb.journal import JournalError, JournalWriter, read_journal

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 28, 11, 0, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def lines_on_disk(directory: Path) -> list[bytes]:
    """The event lines on disk, without the store's own journal.open/journal.close markers."""
    return [line for p in sorted(directory.glob("journal-*.jsonl")) for line in p.read_bytes().splitlines()
            if b'"source":"journal"' not in line]


def test_round_trip(tmp_path: Path) -> None:
    clock = FakeClock()
    written = []
    with JournalWriter(tmp_path, clock=clock) as journal:
        for i in range(50):
            clock.advance(0.001)
            written.append(journal.append("rollout.probe", {"i": i, "answers": {"v1": 9, "v2": 1}}, source="rollout"))
        written.append(journal.append("rollout.plan", {"steps": ["a"]}, time=T0 - timedelta(seconds=1)))
    assert [p.name for p in journal.files] == ["journal-000001.jsonl"]
    loaded = read_journal(tmp_path)
    assert loaded.losses == [] and loaded.files == journal.files
    # Sorted by time: the plan written last with an earlier time comes first.
    assert loaded.events == [written[-1], *written[:-1]]
    assert loaded.events[1].time == T0 + timedelta(seconds=0.001)


def test_rotation_by_size(tmp_path: Path) -> None:
    clock = FakeClock()
    with JournalWriter(tmp_path, clock=clock, rotate_bytes=1000, batch_events=7) as journal:
        for i in range(100):
            clock.advance(1)
            journal.append("kube.watch", {"i": i, "pad": "x" * 50})
    files = journal.files
    assert len(files) >= 8
    assert [p.name for p in files][:3] == ["journal-000001.jsonl", "journal-000002.jsonl", "journal-000003.jsonl"]
    assert all(p.stat().st_size <= 1000 for p in files)
    assert all(p.read_bytes().endswith(b"\n") for p in files)
    loaded = read_journal(tmp_path)
    assert [e.data["i"] for e in loaded.events] == list(range(100))


def test_a_line_longer_than_rotate_bytes_gets_its_own_file(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, rotate_bytes=100) as journal:
        journal.append("a", {"x": 1})
        journal.append("big", {"x": "y" * 500})
        journal.append("c", {"x": 2})
    assert [len([line for line in p.read_bytes().splitlines() if b'"source":"journal"' not in line])
            for p in journal.files] == [1, 1, 1, 0], "the journal.close marker did not fit in 100 bytes either"
    assert [e.kind for e in read_journal(tmp_path).events] == ["a", "big", "c"]


def test_reopen_continues_in_a_new_file(tmp_path: Path) -> None:
    with JournalWriter(tmp_path) as first:
        first.append("run", {"n": 1})
    before = first.files[0].read_bytes()
    (tmp_path / "journal-000007.jsonl").write_bytes(b"")  # a gap in the numbers: continue after the highest
    with JournalWriter(tmp_path) as second:
        second.append("run", {"n": 2})
    assert [p.name for p in second.files] == ["journal-000008.jsonl"]
    assert first.files[0].read_bytes() == before, "an old file is never appended to"
    assert [e.data["n"] for e in read_journal(tmp_path).events] == [1, 2]


def test_two_writers_at_once_never_share_a_file(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, batch_events=1) as a, JournalWriter(tmp_path, batch_events=1) as b:
        a.append("w", {"who": "a"})
        b.append("w", {"who": "b"})
        a.append("w", {"who": "a"})
    assert set(a.files).isdisjoint(b.files)
    assert sorted(e.data["who"] for e in read_journal(tmp_path).events) == ["a", "a", "b"]


def test_batch_is_written_when_it_reaches_batch_events(tmp_path: Path) -> None:
    clock = FakeClock()  # frozen: only the count can trigger a write
    journal = JournalWriter(tmp_path, clock=clock, batch_events=5, batch_seconds=0.5)
    try:
        for i in range(4):
            journal.append("e", {"i": i})
        time.sleep(0.15)  # the flusher runs meanwhile, but the batch is not old by the writer's clock
        assert lines_on_disk(tmp_path) == []
        journal.append("e", {"i": 4})
        assert len(lines_on_disk(tmp_path)) == 5
        journal.append("e", {"i": 5})
        assert len(lines_on_disk(tmp_path)) == 5
    finally:
        journal.close()
    assert len(lines_on_disk(tmp_path)) == 6, "close writes the pending batch"


def test_batch_is_written_when_its_first_event_is_batch_seconds_old(tmp_path: Path) -> None:
    clock = FakeClock()
    with JournalWriter(tmp_path, clock=clock, batch_events=1000, batch_seconds=0.5) as journal:
        journal.append("e", {"i": 0})
        clock.advance(0.3)
        journal.append("e", {"i": 1})
        assert lines_on_disk(tmp_path) == []
        clock.advance(0.3)  # the first event is now 0.6 s old
        journal.append("e", {"i": 2})
        assert len(lines_on_disk(tmp_path)) == 3


def test_idle_writer_is_flushed_by_its_thread(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, batch_events=1000, batch_seconds=0.05) as journal:
        journal.append("e", {"i": 0})
        # No append, no close: the flusher thread wrote it.
        lines = wait_until(lambda: lines_on_disk(tmp_path), "the flusher thread to write the event")
        assert len(lines) == 1


def test_closed_writer_refuses_and_bad_data_is_reported_to_the_caller(tmp_path: Path) -> None:
    journal = JournalWriter(tmp_path / "new" / "dir")
    with pytest.raises(JournalError, match="not JSON-serialisable"):
        journal.append("e", {"x": object()})
    journal.close()
    journal.close()  # idempotent
    with pytest.raises(JournalError, match="closed: open a new JournalWriter"):
        journal.append("e", {})
    assert journal.files == [], "no event, no file"


def test_threads_append_concurrently(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, batch_events=16, rotate_bytes=20_000) as journal:
        def work(name: str) -> None:
            for i in range(300):
                journal.append("t", {"thread": name, "i": i})

        threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    loaded = read_journal(tmp_path)
    assert loaded.losses == [] and len(loaded.events) == 1200
    for name in ("t0", "t1", "t2", "t3"):
        assert [e.data["i"] for e in loaded.events if e.data["thread"] == name] == list(range(300))


CHILD = """
import sys
from gloo_nb.journal import JournalWriter
journal = JournalWriter(sys.argv[1], batch_events=3, batch_seconds=60, rotate_bytes=200_000)
i = 0
while True:
    journal.append("load.tick", {"i": i, "pad": "p" * (i % 700)}, source="child")
    print(i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("run", range(3))
def test_sigkill_loses_at_most_the_unflushed_batch(tmp_path: Path, run: int) -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        last = -1
        assert child.stdout is not None
        # Let it write a few files' worth, then kill it where it stands.
        while last < 1500 + 300 * run:
            line = child.stdout.readline()
            assert line, "the child died on its own"
            last = int(line)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        # Appends that returned before the kill may still be printed after our last read.
        last = max([last, *(int(x) for x in child.stdout.read().split())])
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    loaded = read_journal(tmp_path)
    numbers = [e.data["i"] for e in loaded.events]
    assert numbers == list(range(len(numbers))), "whole events, in order, no gap"
    assert all(e.data["pad"] == "p" * (e.data["i"] % 700) for e in loaded.events)
    assert numbers[-1] >= last - 3, "at most one batch (batch_events=3) lost"
    assert len(loaded.files) >= 2
    # Whether the kill cut a line is luck; when it did, the loader says so.
    cut = [p for p in loaded.files if p.read_bytes() and not p.read_bytes().endswith(b"\n")]
    # The killed run never wrote its clean stop marker: one loss, on its last file, from its last event on.
    loss, = loaded.losses
    assert loss.file == str(loaded.files[-1]) and "clean stop marker" in loss.why
    assert loss.start == loaded.events[-1].time and loss.end is None
    assert ("last line truncated" in loss.why) == bool(cut) and set(cut) <= {loaded.files[-1]}


def test_a_line_cut_by_hand_is_reported_not_raised(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, rotate_bytes=600) as journal:
        for i in range(20):
            journal.append("e", {"i": i, "pad": "z" * 40})
    first, *_, last = journal.files
    for path in (first, last):
        data = path.read_bytes()
        if path == last:  # drop the run's journal.close marker, as a crash would
            data = data[:data.rindex(b"\n", 0, -1) + 1]
        with open(path, "r+b") as f:
            f.truncate(len(data) - 25)  # mid-line
    loaded = read_journal(tmp_path)
    assert [(loss.file, loss.why) for loss in loaded.losses] == [
        (str(last), f"the run (pid {os.getpid()}) ended without its clean stop marker (killed or crashed): its last "
                    "unflushed events are lost, and last line truncated (process killed mid-write?)"),
        (str(first), "last line truncated (process killed mid-write?)")]
    numbers = [e.data["i"] for e in loaded.events]
    assert len(numbers) == 18 and 19 not in numbers
    assert all(e.data["pad"] == "z" * 40 for e in loaded.events)


def test_a_cut_right_before_the_newline_keeps_the_whole_event(tmp_path: Path) -> None:
    with JournalWriter(tmp_path) as journal:
        for i in range(3):
            journal.append("e", {"i": i})
    path = journal.files[0]
    os.truncate(path, path.stat().st_size - 1)
    loaded = read_journal(tmp_path)
    assert [e.data["i"] for e in loaded.events] == [0, 1, 2] and loaded.losses == []
    assert json.loads(path.read_bytes().splitlines()[-1])["kind"] == "journal.close"
