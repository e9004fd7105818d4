"""Frames a person reads: readable times, "-" for no value, no NaN-filled pivots, no answer text as a header.

Checked on the shipped journal of the seed incident (echo's typo at the incident's start; foxtrot's change 1.0 s
later is blocked for 2.6 s until ops patch the Settings).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pandas as pd
import pytest

from gloo_nb.analysis.incident import incident_summary
from gloo_nb.analysis.tables import cell_text, probe_answers, readable, time_text, weights_over_time
from gloo_nb.analysis.timeline import Timeline, load_timeline
from gloo_nb.app.resources import seed_incident_journal

pytestmark = pytest.mark.unit

V1, V2 = "foxtrot_gloo-system {version=v1}", "foxtrot_gloo-system {version=v2}"
ROUTE = "gloo-system_app prefix /foxtrot"


@pytest.fixture(scope="module")
def timeline() -> Timeline:
    return load_timeline(seed_incident_journal())


@pytest.fixture(scope="module")
def since(timeline: Timeline) -> datetime:
    return incident_summary(timeline).incidents[0].start


def test_cell_text() -> None:
    assert [cell_text(v) for v in (None, math.nan, pd.NaT, pd.NA, "", [1])] == ["-", "-", "-", "-", "-", "[1]"]
    assert cell_text(pd.Timestamp("2026-11-28T11:57:50.960535123Z")) == "2026-11-28 11:57:50.960 UTC"
    assert cell_text(datetime(2026, 1, 1, 12)) == "2026-01-01 12:00:00.000 UTC"  # naive: taken as UTC
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert time_text(datetime(2026, 1, 1, 0, 0, 2, 600000, tzinfo=UTC), t0) == "+2.6 s"
    assert time_text(datetime(2025, 12, 31, 23, 59, 59, 600000, tzinfo=UTC), t0) == "-0.4 s"


def test_readable_blocked_frame_times_relative_to_the_incident(timeline: Timeline, since: datetime) -> None:
    frame = readable(timeline.blocked_frame(), since=since, seconds=["seconds"])
    (row,) = frame.to_dict("records")
    assert (row["team"], row["start"], row["end"], row["pendingSince"], row["seconds"]) == (
        "foxtrot", "+1.0 s", "+3.6 s", "+1.0 s", "2.617 s")


def test_readable_changes_frame_has_no_nan_nat_or_microseconds(timeline: Timeline, since: datetime) -> None:
    raw = timeline.changes_frame()
    assert raw["supersededAt"].isna().any() and raw["appliedAfterSeconds"].isna().any()  # what was shown as NaT/NaN
    frame = readable(raw, since=since, seconds=["servedAfterSeconds", "appliedAfterSeconds"])
    # seenAfterSeconds is empty without imported access logs: an empty column is dropped.
    assert raw["seenAfterSeconds"].isna().all()
    assert list(frame.columns) == [c for c in raw.columns if c != "seenAfterSeconds"] and len(frame) == len(raw)
    text = frame.to_string()
    assert "NaN" not in text and "NaT" not in text and "+00:00" not in text
    typo = frame[(frame["resource"] == "echo/echo-routes") & (frame["actor"] == "echo-dev")].iloc[0]
    assert (typo["time"], typo["servedAfterSeconds"]) == ("+0.0 s", "3.625 s")
    ops = frame[frame["actor"] == "ops"].iloc[0]
    assert (ops["resource"], ops["time"], ops["supersededAt"]) == ("gloo-system/default", "+3.6 s", "-")


def test_readable_drops_columns_without_any_value() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [math.nan, None]})
    assert list(readable(frame).columns) == ["a"] and list(readable(frame, drop_empty=False).columns) == ["a", "b"]
    assert list(readable(frame.iloc[:0]).columns) == ["a", "b"]  # no rows: the header still says what there is


def test_weights_over_time_one_row_per_change_one_column_per_source(timeline: Timeline, since: datetime) -> None:
    weights = timeline.weights_frame()
    mine = weights[(weights["team"] == "foxtrot") & (weights["route"] == ROUTE)]
    frame = weights_over_time(mine, since=since)
    sources = list(dict.fromkeys(mine["source"]))
    assert list(frame.columns) == ["time", "route", *sources]
    text = frame.to_string()
    assert "NaN" not in text and ROUTE in set(frame["route"])
    # Foxtrot's change (+1.0 s): the intent moves to v2, served and both replicas keep v1 (blocked) ...
    change = frame[frame["time"] == "+1.0 s"].iloc[0]
    assert change["intent"] == f"{V1} 0, {V2} 100"
    assert change["served"] == change["gateway-proxy-0.gloo-system"] == f"{V1} 100, {V2} 0"
    # ... until the Settings patch is served (+3.6 s) and each replica applies it; then nothing changes.
    assert frame.iloc[-1][sources].tolist() == [f"{V1} 0, {V2} 100"] * len(sources)
    assert not frame.drop(columns="time").duplicated().any()  # a row only where something changed
    # Before a source had the route: "-", not NaN.
    assert frame.iloc[0]["served"] == "-"


def test_probe_answers_put_answers_in_cells_not_headers(timeline: Timeline, since: datetime) -> None:
    probes = timeline.probes_frame()
    frame = probe_answers(probes, since=since)
    assert list(frame.columns) == ["time", "url", "headers", "requests", "answers"]
    assert len(frame) == len(probes.groupby(["time", "url"]))
    replaced = frame[frame["answers"].str.startswith("404 Gloo Gateway has invalid configuration")]
    assert len(replaced) == 1 and replaced.iloc[0]["headers"] == "{'stage': 'canary'}"
    assert replaced.iloc[0]["answers"].endswith(": 100.0 % (50)")
    assert all(h in ("time", "url", "headers", "requests", "answers") for h in frame.columns)
    assert frame.iloc[0]["time"].startswith("-") and frame.iloc[0]["headers"] == "-"
    assert list(probe_answers(probes.iloc[:0]).columns) == ["time", "url", "headers", "requests", "answers"]
