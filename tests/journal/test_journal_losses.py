"""A run that did not end with its clean stop marker is a reported loss; a live writer's run is not."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gloo_nb.journal import JournalWriter, read_journal

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)

_KILLED_WRITER = """
import os, sys, time
from datetime import datetime, timedelta, UTC
from gloo_nb.journal import JournalWriter
t0 = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
w = JournalWriter(sys.argv[1], batch_events=1)
for i in range(3):
    w.append("e", {"i": i}, time=t0 + timedelta(seconds=i))
w.flush()
os.kill(os.getpid(), 9)
"""


def test_a_killed_run_is_a_loss_from_its_last_event_to_the_next_run(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(tmp_path)], timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == -signal.SIGKILL
    killed, = sorted(tmp_path.glob("journal-*.jsonl"))
    alone = read_journal(tmp_path)
    loss, = alone.losses
    assert loss.file == str(killed) and "without its clean stop marker" in loss.why
    assert loss.start == T0 + timedelta(seconds=2) and loss.end is None
    assert loss.as_json() == {"file": str(killed), "from": "2026-11-28T11:00:02.000000Z", "to": None,
                              "why": loss.why}
    assert "to unknown" in str(loss)
    # A later run in the same directory bounds the gap.
    later = datetime.now(UTC)
    with JournalWriter(tmp_path, clock=lambda: later) as second:
        second.append("e", {"i": 10})
    loss, = read_journal(tmp_path).losses
    assert loss.file == str(killed) and loss.start == T0 + timedelta(seconds=2) and loss.end == later
    assert [e.data["i"] for e in read_journal(tmp_path).events] == [0, 1, 2, 10], "markers are not events"


def test_a_live_writer_is_not_a_loss_and_a_clean_close_is_none(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, rotate_bytes=400)
    for i in range(10):
        writer.append("e", {"i": i, "pad": "x" * 50})
    writer.flush()
    assert len(writer.files) > 1
    live = read_journal(tmp_path)  # the writer holds the lock on its current file: still recording
    assert live.losses == [] and len(live) == 10
    writer.close()
    closed = read_journal(tmp_path)
    assert closed.losses == [] and len(closed) == 10
    last = json.loads(writer.files[-1].read_bytes().splitlines()[-1])
    assert last["kind"] == "journal.close" and last["data"]["events"] == 10
    first = json.loads(writer.files[0].read_bytes().splitlines()[0])
    assert first["kind"] == "journal.open" and first["data"]["run"] == last["data"]["run"]
    assert first["data"]["pid"] == os.getpid() and first["data"]["part"] == 1


def test_parquet_export_of_data_nested_deeper_than_orjson_writes(tmp_path: Path) -> None:
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(400):
        deep = {"x": deep}
    with JournalWriter(tmp_path) as writer:
        writer.append("kube.event", {"object": deep})
    journal = read_journal(tmp_path)
    assert journal.events[0].data["object"] == deep  # decoded: the export has to write it again
    out = journal.to_parquet(tmp_path / "out.parquet")
    import pandas as pd

    assert json.loads(pd.read_parquet(out)["data"][0]) == {"object": deep}
