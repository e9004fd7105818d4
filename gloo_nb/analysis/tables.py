"""Frames a person reads: readable times, ``-`` for no value, no NaN-filled pivots, no message text as a header.

The analyses' frames keep exact values (timezone-aware times to the microsecond, NaN where there is no value) for
further analysis. What a notebook shows, and what the widgets render as HTML, goes through here:

- :func:`cell_text` is the one formatting of a value for a person (the widgets' tables use it too);
- :func:`readable` formats a whole frame (times to the millisecond in UTC, or relative ``+2.6 s`` to an
  incident's start; ``-`` for no value; columns with no value at all left out);
- :func:`weights_over_time` and :func:`probe_answers` replace pivots whose cells were mostly NaN (one column per
  route x destination x source) or whose column headers were answer texts (``200 version:foxtrot-v1``): the
  answers and weights are cell values, one row per moment or probe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd

__all__ = ["EMPTY", "as_time", "cell_text", "is_empty", "probe_answers", "readable", "time_text",
           "weights_over_time"]

EMPTY = "-"
"""What a cell without a value shows (never ``NaN``, ``None`` or ``NaT``)."""


def is_empty(value: Any) -> bool:
    """Whether a cell value means "no value": None, NaN, NaT, pandas' NA, or an empty string."""
    if value is None or (isinstance(value, str) and value == ""):
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False  # lists, dicts, arrays: a value


def as_time(value: Any) -> datetime | None:
    """The value as a timezone-aware ``datetime`` when it is a point in time (naive: taken as UTC), else None."""
    if value is pd.NaT:
        return None  # NaT is a datetime instance that cannot say its offset
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime(warn=False)  # drops nanoseconds: nobody reads them
    if isinstance(value, datetime):
        return value if value.utcoffset() is not None else value.replace(tzinfo=UTC)
    return None


def time_text(value: datetime, since: datetime | None = None) -> str:
    """A time as a person reads it.

    Args:
        value: A timezone-aware time.
        since: When given, the time is shown relative to it (``+2.6 s``, ``-0.4 s``, ``+3 min 5.0 s``).

    Returns:
        ``2026-12-07 10:00:01.234 UTC`` (milliseconds, UTC), or the relative form.
    """
    if since is not None:
        seconds = (value - since).total_seconds()
        sign = "-" if seconds < 0 else "+"
        seconds = abs(seconds)
        if seconds < 60:
            return f"{sign}{seconds:.1f} s"
        minutes, rest = divmod(seconds, 60)
        return f"{sign}{int(minutes)} min {rest:.1f} s"
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d} UTC"


def cell_text(value: Any, since: datetime | None = None) -> str:
    """One cell's text: ``-`` for no value, readable times, floats without float noise.

    Args:
        value: The value.
        since: Show times relative to this time (see :func:`time_text`).

    Returns:
        The text (not escaped).
    """
    if is_empty(value):
        return EMPTY
    when = as_time(value)
    if when is not None:
        return time_text(when, since)
    if isinstance(value, pd.Timedelta):
        return f"{value.total_seconds():.3g} s"
    if isinstance(value, float):
        return str(round(value, 6))  # 100.0 stays 100.0; 0.30000000000000004 reads 0.3
    return str(value)


def _empty_columns(frame: pd.DataFrame) -> list[int]:
    if not len(frame):
        return []
    return [i for i in range(frame.shape[1]) if all(is_empty(v) for v in frame.iloc[:, i])]


def readable(frame: pd.DataFrame, *, since: datetime | None = None, seconds: Iterable[str] = (),
             drop_empty: bool = True) -> pd.DataFrame:
    """A copy of a frame for reading: every cell as text, times readable, ``-`` for no value.

    Args:
        frame: Any frame (the analyses' frames: times are timezone-aware).
        since: Show times relative to this time (``+2.6 s``): for a view about an incident, its start.
        seconds: Columns of durations in seconds (floats): shown to the millisecond with ``s``.
        drop_empty: Leave out columns with no value in any row (kept when the frame has no rows).

    Returns:
        The same rows and index (the index formatted too), object columns of text.
    """
    durations = set(seconds)
    out = pd.DataFrame(index=frame.index)
    for i, column in enumerate(frame.columns):
        values = frame.iloc[:, i]
        if column in durations:
            out[column] = [EMPTY if is_empty(v) else f"{float(v):.3f} s" for v in values]
        else:
            out[column] = [cell_text(v, since) for v in values]
    out.columns = frame.columns
    if drop_empty:
        gone = set(_empty_columns(frame))
        out = out.iloc[:, [i for i in range(frame.shape[1]) if i not in gone]]
    if not isinstance(frame.index, pd.RangeIndex):
        out.index = pd.Index([cell_text(v, since) for v in frame.index], name=frame.index.name)
    return out


def weights_over_time(weights: pd.DataFrame, *, since: datetime | None = None) -> pd.DataFrame:
    """Each route's weights per source over time: one row per time something changed, one column per source.

    Replaces ``pivot_table(index="time", columns=["route", "destination", "source"])``, whose columns were every
    route x destination x source and whose cells were NaN wherever a source had not reported yet.

    Args:
        weights: :meth:`gloo_nb.analysis.timeline.Timeline.weights_frame` rows (time, route, source, destination,
            weight).
        since: Show times relative to this time.

    Returns:
        Columns ``time``, ``route``, then each source in first-seen order; a cell is the source's weights then
        (``<destination> <weight>, ...``, carried forward until the source changes them), ``-`` before the source
        had the route. A row only where some source's weights of that route changed.
    """
    sources = list(dict.fromkeys(weights["source"])) if len(weights) else []
    if not len(weights):
        return pd.DataFrame(columns=["time", "route", *sources])
    records: list[dict[str, Any]] = []
    for route, rows in weights.groupby("route", sort=False):
        state: dict[str, str] = {}
        for time, at in rows.groupby("time", sort=True):
            before = dict(state)
            for source, mine in at.groupby("source", sort=False):
                state[str(source)] = ", ".join(f"{d} {w:g}" for d, w in
                                               zip(mine["destination"], mine["weight"], strict=True))
            if state != before:  # a source reporting the same weights again changes nothing a person sees
                records.append({"time": time, "route": route, **state})
    frame = pd.DataFrame(records, columns=["time", "route", *sources]).sort_values(["time", "route"], kind="stable")
    return readable(frame.reset_index(drop=True), since=since, drop_empty=False)


def probe_answers(probes: pd.DataFrame, *, since: datetime | None = None) -> pd.DataFrame:
    """One row per probe: when, where, with which headers, how many requests, and its answers with their shares.

    Replaces ``pivot_table(..., columns="answer")``, which made each answer text (``200 version:foxtrot-v1``,
    ``404 Gloo Gateway has invalid configuration...``) a column header and filled the rest with NaN.

    Args:
        probes: :meth:`gloo_nb.analysis.timeline.Timeline.probes_frame` rows (time, url, headers, requests,
            answer, count, share, low, high).
        since: Show times relative to this time.

    Returns:
        Columns ``time``, ``url``, ``headers``, ``requests``, ``answers`` (``<answer>: <share> % (<count>)``,
        most frequent first, ``; ``-separated).
    """
    columns = ["time", "url", "headers", "requests", "answers"]
    if not len(probes):
        return pd.DataFrame(columns=columns)
    records = []
    keys = [probes["time"], probes["url"], probes["headers"].astype(str)]
    for (time, url, headers), rows in probes.groupby(keys, sort=True):
        ranked = rows.sort_values(["count", "answer"], ascending=[False, True])
        answers = "; ".join(f"{a}: {100 * s:.1f} % ({c})" for a, s, c in
                            zip(ranked["answer"], ranked["share"], ranked["count"], strict=True))
        records.append({"time": time, "url": url, "headers": "-" if headers in ("{}", "") else headers,
                        "requests": int(rows["requests"].iloc[0]), "answers": answers})
    return readable(pd.DataFrame(records, columns=columns), since=since, drop_empty=False)
