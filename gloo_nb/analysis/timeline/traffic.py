"""What traffic showed, from access logs (``traffic.requests``): the configuration a replica served, the split.

An access-log line is evidence only where it cannot be explained otherwise. For a line the routes that could have
served it are found with Envoy's first-match rule (:mod:`gloo_nb.analysis.matching`) on what the line logs: path,
authority, and the request headers the format logs; a route matching on a header the format does not log may or may
not have matched, so every such route stays a candidate. A candidate explains the line when its destinations hold
the line's outcome: the upstream cluster (when logged) and the pod behind the upstream host (``ip:port`` -> the
Endpoints' target Pod -> its labels, as they were at that moment) within the destination's subset, with a weight
above zero. A change is **seen** on a replica at the first line after it that a route the change brings explains
and the configuration Gloo served before the change (its last pushed translation) does not.

Nothing here is guessed: a line that every candidate configuration explains is no evidence, and a route whose
candidates are ambiguous is left out of the observed split.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from gloo_nb.analysis.matching import Request, route_matches
from gloo_nb.analysis.timeline.events import EventIndex, ident_of
from gloo_nb.analysis.timeline.replay import Change, Replay
from gloo_nb.analysis.timeline.routes import route_key, route_label
from gloo_nb.journal import parse_time

__all__ = ["TRAFFIC_REQUESTS", "Seen", "TrafficIndex", "seen_by_node"]

TRAFFIC_REQUESTS = "traffic.requests"
"""The journal kind of aggregated access-log lines (:mod:`gloo_nb.journal.traffic`)."""


@dataclass(frozen=True, slots=True)
class Seen:
    """One ``traffic.requests`` event: requests of one shape and outcome, one replica, one second.

    Attributes:
        time: The first request's time.
        node: The replica.
        count: How many requests.
        method: The method, or None when not logged.
        path: The path, or None.
        authority: The ``:authority``, or None.
        headers: The request headers the format logs: name -> value, None when the request had none.
        cluster: The upstream cluster, or None when not logged.
        upstream_host: ``ip:port``, or None (not logged, or no upstream).
        code: The response code, or None.
        duration_ms_max: The longest duration, or None.
        duration_ms_sum: The durations' sum.
    """

    time: datetime
    node: str
    count: int
    method: str | None
    path: str | None
    authority: str | None
    headers: Mapping[str, str | None]
    cluster: str | None
    upstream_host: str | None
    code: int | None
    duration_ms_max: float | None
    duration_ms_sum: float


def _seen(time: datetime, d: Mapping[str, Any]) -> Seen:
    headers = d.get("headers") if isinstance(d.get("headers"), Mapping) else {}
    assert isinstance(headers, Mapping)
    return Seen(time, str(d.get("node") or ""), int(d.get("count") or 1), d.get("method"), d.get("path"),
                d.get("authority"), {str(k).lower(): (None if v is None else str(v)) for k, v in headers.items()},
                d.get("cluster"), d.get("upstreamHost"), d.get("code") if isinstance(d.get("code"), int) else None,
                d.get("durationMsMax"), float(d.get("durationMsSum") or 0.0))


def _outcomes(row: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], float]]:
    """``(cluster, subset labels, weight)`` of a route row's destinations (empty: no upstream)."""
    action = row.get("action") or {}
    action = action.get("route", action)
    if not isinstance(action, Mapping):
        return []

    def subset(entry: Mapping[str, Any]) -> Mapping[str, Any]:
        values = ((entry.get("metadataMatch") or {}).get("filterMetadata") or {}).get("envoy.lb") or {}
        return values if isinstance(values, Mapping) else {}

    if "cluster" in action:
        return [(str(action["cluster"]), subset(action), 1.0)]
    weighted = action.get("weightedClusters")
    if not isinstance(weighted, Mapping):
        return []
    out: list[tuple[str, Mapping[str, Any], float]] = []
    for c in weighted.get("clusters") or []:
        if isinstance(c, Mapping):
            labels = {**subset(action), **subset(c)}
            out.append((str(c.get("name", "")), labels, float(c.get("weight", 0) or 0)))
    return out


class TrafficIndex:
    """The journal's access-log evidence, with the pods behind upstream hosts over time.

    Attributes:
        events: The journal's events.
    """

    def __init__(self, events: EventIndex) -> None:
        self.events = events

    @cached_property
    def seen(self) -> list[Seen]:
        """The ``traffic.requests`` events, by time."""
        frame = self.events.journal.of_kind(TRAFFIC_REQUESTS).frame()
        if not len(frame):
            return []
        return [_seen(t, d) for t, d in zip(frame["time"].dt.to_pydatetime(), frame["data"], strict=True)]

    @cached_property
    def times(self) -> list[datetime]:
        """The times of :attr:`seen`."""
        return [s.time for s in self.seen]

    @cached_property
    def _hosts(self) -> tuple[list[datetime], list[dict[str, tuple[str, str]]],
                              dict[tuple[str, str], list[tuple[datetime, Mapping[str, Any]]]]]:
        """Endpoints (ip:port -> pod) over time, and each pod's labels over time."""
        times: list[datetime] = []
        maps: list[dict[str, tuple[str, str]]] = []
        endpoints: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
        labels: dict[tuple[str, str], list[tuple[datetime, Mapping[str, Any]]]] = {}
        for t, d in zip(*self.events.kube, strict=True):
            kind, ns, name = ident_of(d)
            obj = d.get("object") or {}
            if kind == "Pod":
                meta = obj.get("metadata") or {}
                labels.setdefault((ns, name), []).append(
                    (t, {} if d.get("type") == "DELETED" or d.get("contentUnknown") else (meta.get("labels") or {})))
            elif kind == "Endpoints":
                hosts: dict[str, tuple[str, str]] = {}
                if d.get("type") != "DELETED":
                    for subset in obj.get("subsets") or []:
                        ports = [p.get("port") for p in subset.get("ports") or [] if isinstance(p, Mapping)]
                        for a in subset.get("addresses") or []:
                            ref = a.get("targetRef") or {}
                            if ref.get("kind") == "Pod":
                                for port in ports:
                                    hosts[f"{a.get('ip')}:{port}"] = (str(ref.get("namespace") or ns),
                                                                       str(ref.get("name")))
                endpoints[(ns, name)] = hosts
                merged: dict[str, tuple[str, str]] = {}
                for m in endpoints.values():
                    merged.update(m)
                times.append(t)
                maps.append(merged)
        return times, maps, labels

    def pod_labels(self, upstream_host: str, t: datetime) -> Mapping[str, Any] | None:
        """The labels of the pod behind ``ip:port`` at ``t``, or None when no Endpoints named it then."""
        times, maps, labels = self._hosts
        i = bisect.bisect_right(times, t) - 1
        pod = maps[i].get(upstream_host) if i >= 0 else None
        if pod is None:
            return None
        history = labels.get(pod) or []
        j = bisect.bisect_right([h[0] for h in history], t) - 1
        return history[j][1] if j >= 0 else None

    def candidates(self, rows: Sequence[Mapping[str, Any]], s: Seen) -> list[Mapping[str, Any]] | None:
        """The routes of one configuration that could have served a line (None: the line cannot be placed).

        Args:
            rows: The configuration's route rows.
            s: The line.

        Returns:
            The candidates, in order: each route whose match may hold given what was logged, up to the first that
            surely holds.
        """
        if s.path is None:
            return None
        logged = dict(s.headers)
        if s.authority is not None:
            logged[":authority"] = s.authority
        request = Request(method=s.method or "GET", path=s.path,
                          headers={k: v for k, v in logged.items() if v is not None})
        # The journal keeps no virtual host domains (translate.routes.row_json): each virtual host is tried, and
        # its candidates are pooled (a line on the wrong one is then explained by more, never by fewer, routes).
        by_vhost: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for row in rows:
            by_vhost.setdefault((str(row.get("routeConfiguration", "")), str(row.get("virtualHost", ""))),
                                []).append(row)
        out: list[Mapping[str, Any]] = []
        for vhost_rows in by_vhost.values():
            for row in vhost_rows:
                match = row.get("match") or {}
                unknown = [h for h in match.get("headers", ()) if str(h.get("name", "")).lower() not in logged
                           and str(h.get("name", "")).lower() not in (":path", ":method")]
                bare = {**match, "headers": [h for h in match.get("headers", ()) if h not in unknown]}
                if not route_matches(bare, request):
                    continue
                out.append(row)
                if not unknown:
                    break
        return out

    def explains(self, row: Mapping[str, Any], s: Seen) -> bool:
        """Whether a route's destinations hold a line's outcome (cluster, the upstream pod's labels)."""
        labels = self.pod_labels(s.upstream_host, s.time) if s.upstream_host else None
        for cluster, subset, weight in _outcomes(row):
            if weight <= 0:
                continue
            if s.cluster is not None and s.cluster != cluster:
                continue
            if labels is not None and any(str(labels.get(k)) != str(v) for k, v in subset.items()):
                continue
            if labels is None and s.cluster is None:
                continue  # nothing tells where it went
            return True
        return False

    def explained_by(self, rows: Sequence[Mapping[str, Any]], s: Seen) -> list[Mapping[str, Any]]:
        """The candidates of ``rows`` that explain ``s``."""
        return [r for r in self.candidates(rows, s) or [] if self.explains(r, s)]


def _last_pushed(fold: Replay, t: datetime) -> Sequence[Mapping[str, Any]] | None:
    i = fold.index_at(t)
    while i >= 0 and fold.intents[i].decision != "push":
        i -= 1
    return fold.intents[i].rows if i >= 0 else None


def seen_by_node(traffic: TrafficIndex, fold: Replay, change: Change, until: datetime | None,
                 nodes: Iterable[str]) -> dict[str, datetime | None]:
    """Per replica, the first line after a change that shows it (see the module's rule), before ``until``.

    Args:
        traffic: The access-log evidence.
        fold: The replay.
        change: A change that brings routes.
        until: When the resource changed again (the search stops there), or None.
        nodes: The replicas whose logs were imported.

    Returns:
        node -> the time, or None when no line showed it.
    """
    from gloo_nb.analysis.timeline.delays import wanted

    out: dict[str, datetime | None] = dict.fromkeys(nodes)
    old = _last_pushed(fold, change.time - _EPSILON)
    if old is None:
        return out
    k = bisect.bisect_left(traffic.times, change.time)
    for s in traffic.seen[k:]:
        if until is not None and s.time >= until:
            break
        if out.get(s.node) is not None:
            continue
        present, _ = wanted(fold, change, s.time)
        if not present:
            continue
        state = fold.intent_at(s.time)
        rows = state.rows if state is not None and state.rows else fold.intents[change.intent].rows \
            if change.intent < len(fold.intents) else ()
        new = [r for r in traffic.explained_by(rows, s) if route_key(r) in present]
        if new and not traffic.explained_by(old, s):
            out[s.node] = s.time
        if all(v is not None for v in out.values()):
            break
    return out


def observed_rows(traffic: TrafficIndex, fold: Replay, window_seconds: float = 5.0) -> list[dict[str, Any]]:
    """The observed split: per window, per route a line lands on unambiguously, each destination's share.

    Args:
        traffic: The access-log evidence.
        fold: The replay (the routes Gloo served by the translation, to place lines on routes).
        window_seconds: The window.

    Returns:
        Rows ``{"time", "route", "source": "observed", "destination", "weight", "requests"}``.
    """
    counts: dict[tuple[int, str], dict[str, int]] = {}
    for s in traffic.seen:
        rows = _last_pushed(fold, s.time)
        if rows is None:
            continue
        candidates = traffic.candidates(rows, s)
        if not candidates or len(candidates) != 1:
            continue
        row = candidates[0]
        labels = traffic.pod_labels(s.upstream_host, s.time) if s.upstream_host else None
        dest = None
        for cluster, subset, _ in _outcomes(row):
            if (s.cluster is None or s.cluster == cluster) and labels is not None and \
                    all(str(labels.get(k)) == str(v) for k, v in subset.items()):
                dest = cluster + (" {" + ",".join(f"{k}={v}" for k, v in sorted(subset.items())) + "}"
                                  if subset else "")
                break
        if dest is None:
            continue
        window = int(s.time.timestamp() // window_seconds)
        bucket = counts.setdefault((window, route_label(row)), {})
        bucket[dest] = bucket.get(dest, 0) + s.count
    out = []
    for (window, label), by_dest in sorted(counts.items()):
        total = sum(by_dest.values())
        when = datetime.fromtimestamp(window * window_seconds, tz=traffic.times[0].tzinfo)
        for dest, n in sorted(by_dest.items()):
            out.append({"time": when, "route": label, "source": "observed", "destination": dest,
                        "weight": 100.0 * n / total, "requests": n})
    return out


_EPSILON = parse_time("2000-01-01T00:00:00.000001Z") - parse_time("2000-01-01T00:00:00Z")
