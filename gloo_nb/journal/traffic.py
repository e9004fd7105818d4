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

import re
from collections.abc import Iterable, Mapping
from typing import Any

from gloo_nb.journal.events import Event, format_time
from gloo_nb.models.access_log import AccessLogFormat, AccessRecord
from gloo_nb.models.prometheus import ClusterStep, Series

__all__ = ["METRICS_CLUSTER", "METRICS_CONTROL_PLANE", "TRAFFIC_REQUESTS", "control_plane_events", "logged_headers",
           "metrics_events",
           "traffic_events", "traffic_source"]

METRICS_CONTROL_PLANE = "metrics.controlPlane"
"""The journal kind of one sample of Gloo's own control-plane metrics (:func:`control_plane_events`)."""
METRICS_CLUSTER = "metrics.cluster"
"""The journal kind of one cluster's Prometheus step (:func:`metrics_events`; the analysis names it too)."""

TRAFFIC_REQUESTS = "traffic.requests"
"""The journal kind of aggregated access-log lines."""


_HEADER_OPERATOR = re.compile(r"%(?:REQ|REQUEST_HEADER|REQ_WITHOUT_QUERY)\(([^)]*)\)")
# Headers models.access_log reads into fields of their own, not into ``headers``.
_FIELD_HEADERS = frozenset({":method", ":path", "x-envoy-original-path", ":authority", "host", "x-request-id"})


def logged_headers(fmt: AccessLogFormat) -> frozenset[str]:
    """The request headers a format logs into ``headers`` (lower case): a request without one is logged as absent.

    Args:
        fmt: The format.

    Returns:
        The header names.
    """
    texts = [fmt.text or ""] if fmt.kind == "text" else [str(v) for v in _values(fmt.json or {})]
    names = {m.group(1).split("?", 1)[0].lower() for t in texts for m in _HEADER_OPERATOR.finditer(t)}
    return frozenset(names - _FIELD_HEADERS)


def _values(mapping: Mapping[str, Any]) -> Iterable[Any]:
    for value in mapping.values():
        if isinstance(value, Mapping):
            yield from _values(value)
        else:
            yield value


def metrics_events(steps: Iterable[ClusterStep], *, file: str = "") -> list[Event]:
    """Prometheus cluster steps as ``metrics.cluster`` events (source ``prometheus``), at each step's end.

    Args:
        steps: :func:`gloo_nb.models.prometheus.cluster_steps`.
        file: The file they came from.

    Returns:
        The events: ``{"cluster", "start", "end", "requests", "rate", "errors5xx", "share5xx", "p50Ms", "p99Ms",
        "replicas", "file"}``, null where the metrics do not say.
    """
    return [Event(time=s.end, kind=METRICS_CLUSTER, source="prometheus", data={
        "cluster": s.cluster, "start": format_time(s.start), "end": format_time(s.end), "requests": s.requests,
        "rate": s.rate, "errors5xx": s.errors_5xx, "share5xx": s.share_5xx, "p50Ms": s.p50_ms, "p99Ms": s.p99_ms,
        "replicas": s.replicas, "file": file or None}) for s in steps]


def control_plane_events(series: Iterable[Series], *, file: str = "") -> list[Event]:
    """Gloo's control-plane metrics (translation time, syncs...) as ``metrics.controlPlane`` events, one per sample.

    Args:
        series: :func:`gloo_nb.models.prometheus.control_plane_series`.
        file: The file they came from.

    Returns:
        The events: ``{"name", "labels", "value", "file"}`` (source ``prometheus``); NaN and infinite samples left out.
    """
    out = []
    for s in series:
        labels = {k: v for k, v in s.metric.items() if k != "__name__"}
        for when, value in s.points():
            if value == value and value not in (float("inf"), float("-inf")):
                out.append(Event(time=when, kind=METRICS_CONTROL_PLANE, source="prometheus",
                                 data={"name": s.name, "labels": labels, "value": value, "file": file or None}))
    return out


def traffic_source(node: str) -> str:
    """The ``source`` of a replica's traffic events: ``access-log/<node>``."""
    return f"access-log/{node}"


def traffic_events(records: Iterable[AccessRecord], node: str, *, logged: Iterable[str] = (),
                   file: str = "") -> list[Event]:
    """Fold one replica's access-log records into ``traffic.requests`` events, by first time.

    Args:
        records: The records, in any order (those without a time are left out).
        node: The replica (its node id, or what the file is called).
        logged: The request headers the format logs (:func:`logged_headers`): one a record lacks was logged as
            absent, and is kept as null (known absent), unlike a header the format does not log (unknown).
        file: The file they came from.

    Returns:
        The events.
    """
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    names = sorted(set(logged))
    for r in records:
        if r.time is None:
            continue
        second = int(r.time.timestamp())
        headers = tuple(sorted({**dict.fromkeys(names), **r.headers}.items()))
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
