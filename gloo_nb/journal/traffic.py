"""Envoy access-log lines folded into ``traffic.requests`` journal events (pure).

A week of access logs is millions of lines; the journal keeps what the analysis reads: per replica, per second,
per distinct request shape (method, path, authority, the request headers the format logs) and outcome (route name,
upstream cluster, upstream host, response code and flags), how many requests, the first and last time, and the
duration's sum and maximum. The first time of each shape per second is exact, so "the first line that shows the new
route" keeps the access log's own resolution.

``traffic.requests`` (source ``access-log/<node>``): ``{"node", "second", "first", "last", "count", "method",
"path", "authority", "headers": {name: value or null (logged as absent)}, "routeName", "cluster", "upstreamHost",
"code", "flags", "durationMsSum", "durationMsMax", "file"}``; fields the format does not log are null (never guessed);
``headers`` holds only the headers the format logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from gloo_nb.journal.events import Event, format_time

__all__ = ["TRAFFIC_REQUESTS", "AccessRecordLike", "traffic_events", "traffic_source"]

TRAFFIC_REQUESTS = "traffic.requests"
"""The journal kind of aggregated access-log lines."""


class AccessRecordLike(Protocol):
    """What :func:`traffic_events` reads of an access-log record (:class:`gloo_nb.models.access_log.AccessRecord`)."""

    time: datetime
    method: str | None
    path: str | None
    authority: str | None
    route_name: str | None
    cluster: str | None
    upstream_host: str | None
    code: int | None
    flags: str | None
    duration_ms: float | None
    headers: Mapping[str, str | None]


def traffic_source(node: str) -> str:
    """The ``source`` of a replica's traffic events: ``access-log/<node>``."""
    return f"access-log/{node}"


def traffic_events(records: Iterable[AccessRecordLike], node: str, *, file: str = "") -> list[Event]:
    """Fold one replica's access-log records into ``traffic.requests`` events, by first time.

    Args:
        records: The records, in any order.
        node: The replica (its node id, or what the file is called).
        file: The file they came from.

    Returns:
        The events.
    """
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in records:
        second = int(r.time.timestamp())
        headers = tuple(sorted(r.headers.items())) if r.headers else ()
        key = (second, r.method, r.path, r.authority, headers, r.route_name, r.cluster, r.upstream_host, r.code,
               r.flags)
        g = groups.get(key)
        duration = r.duration_ms
        if g is None:
            groups[key] = {"first": r.time, "last": r.time, "count": 1,
                           "sum": duration or 0.0, "max": duration, "headers": dict(headers)}
            continue
        g["count"] += 1
        if r.time < g["first"]:
            g["first"] = r.time
        if r.time > g["last"]:
            g["last"] = r.time
        if duration is not None:
            g["sum"] += duration
            g["max"] = duration if g["max"] is None else max(g["max"], duration)
    out = []
    source = traffic_source(node)
    for key, g in groups.items():
        second, method, path, authority, _, route_name, cluster, upstream_host, code, flags = key
        out.append(Event(time=g["first"], kind=TRAFFIC_REQUESTS, source=source, data={
            "node": node, "second": second, "first": format_time(g["first"]), "last": format_time(g["last"]),
            "count": g["count"], "method": method, "path": path, "authority": authority, "headers": g["headers"],
            "routeName": route_name, "cluster": cluster, "upstreamHost": upstream_host, "code": code, "flags": flags,
            "durationMsSum": round(g["sum"], 3), "durationMsMax": g["max"], "file": file or None}))
    out.sort(key=lambda e: e.time)
    return out
