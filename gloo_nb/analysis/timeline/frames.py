"""The timeline's pandas frames: events, resource versions, served and applied versions, blocked, changes, weights.

Each frame is a view of the event index or of an analysis (the replay, the delays, the blocked rows); they hold no
logic of their own beyond laying the facts out in columns, and are kept apart so that the analyses need no pandas.
:class:`gloo_nb.analysis.timeline.Timeline` exposes them as methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gloo_nb._gc import gc_paused
from gloo_nb.analysis.timeline.blocked import Blocked
from gloo_nb.analysis.timeline.delays import ChangeDelay
from gloo_nb.analysis.timeline.events import EventIndex, actor_of
from gloo_nb.analysis.timeline.replay import Intent
from gloo_nb.analysis.timeline.routes import destinations, route_key, route_label
from gloo_nb.journal import Journal
from gloo_nb.journal.schema import PROBE_RESULT, XDS_UPDATE

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "applied_versions_frame",
    "blocked_frame",
    "changes_frame",
    "nacks_frame",
    "probes_frame",
    "resource_versions_frame",
    "served_versions_frame",
    "weights_frame",
]


def resource_versions_frame(events: EventIndex) -> pd.DataFrame:
    """One row per ``kube.event``.

    Args:
        events: The journal's events.

    Returns:
        Columns kind, namespace, name, resourceVersion, time, type, actor, specChanged, statusChanged.
    """
    import pandas as pd

    cols: dict[str, list[Any]] = {k: [] for k in ("kind", "namespace", "name", "resourceVersion", "type", "actor",
                                                  "specChanged", "statusChanged")}
    times, datas = events.kube
    with gc_paused():
        _kube_columns(datas, cols)
    frame = pd.DataFrame({**cols, "time": pd.DatetimeIndex(times, tz="UTC") if times else
                          pd.DatetimeIndex([], tz="UTC")})
    return frame[["kind", "namespace", "name", "resourceVersion", "time", "type", "actor", "specChanged",
                  "statusChanged"]]


def _kube_columns(datas: Sequence[Mapping[str, Any]], cols: dict[str, list[Any]]) -> None:
    for d in datas:
        cols["kind"].append(d.get("kind"))
        cols["namespace"].append(d.get("namespace"))
        cols["name"].append(d.get("name"))
        cols["resourceVersion"].append(d.get("resourceVersion"))
        cols["type"].append(d.get("type"))
        cols["actor"].append(actor_of(d))
        cols["specChanged"].append(bool(d.get("specChanged")))
        cols["statusChanged"].append(bool(d.get("statusChanged")))


def served_versions_frame(journal: Journal) -> pd.DataFrame:
    """One row per ``xds.update``: typeUrl, version, time, digest, accepted.

    Args:
        journal: The loaded journal.

    Returns:
        The frame.
    """
    import pandas as pd

    frame = journal.of_kind(XDS_UPDATE).frame()
    datas = frame["data"].tolist()
    return pd.DataFrame({"typeUrl": [d.get("typeUrl") for d in datas], "version": [d.get("version") for d in datas],
                         "time": frame["time"], "digest": [d.get("digest") for d in datas],
                         "accepted": [bool(d.get("accepted", True)) for d in datas]})


def applied_versions_frame(events: EventIndex) -> pd.DataFrame:
    """One row per ``replica.poll`` and type URL: node, typeUrl, version, time, rejected.

    Args:
        events: The journal's events.

    Returns:
        The frame, by time.
    """
    import pandas as pd

    rows: dict[str, list[Any]] = {"node": [], "typeUrl": [], "version": [], "time": [], "rejected": []}
    with gc_paused():
        for poll in sorted((p for polls in events.polls.values() for p in polls), key=lambda p: p.time):
            for type_url in sorted({*poll.versions, *poll.rejected}):
                rows["node"].append(poll.node)
                rows["typeUrl"].append(type_url)
                rows["version"].append(poll.versions.get(type_url))
                rows["time"].append(poll.time)
                rows["rejected"].append(int(poll.rejected.get(type_url, 0)))
        return pd.DataFrame({**rows, "time": pd.DatetimeIndex(rows["time"], tz="UTC") if rows["time"]
                             else pd.DatetimeIndex([], tz="UTC")})[["node", "typeUrl", "version", "time",
                                                                     "rejected"]]


def blocked_frame(blocked: Sequence[Blocked], until: datetime | None) -> pd.DataFrame:
    """The blocked rows, who blocked whom.

    Args:
        blocked: The blocked rows.
        until: The journal's end (stands in for an open end; None: every row lasts 0 s).

    Returns:
        Columns team, blockedBy, resource, kind, start, end, pendingSince, cause, routes, seconds.
    """
    import pandas as pd

    return pd.DataFrame([{"team": b.team, "blockedBy": ", ".join(b.blocked_by), "resource": b.resource,
                          "kind": b.kind, "start": b.start,
                          "end": b.end, "pendingSince": b.pending_since, "cause": b.cause,
                          "routes": list(b.routes), "seconds": b.seconds(until) if until else 0.0}
                         for b in blocked],
                        columns=["team", "blockedBy", "resource", "kind", "start", "end", "pendingSince", "cause",
                                 "routes",
                                 "seconds"]).astype({"start": "datetime64[ns, UTC]", "end": "datetime64[ns, UTC]",
                                                      "pendingSince": "datetime64[ns, UTC]"})


def changes_frame(delays: Sequence[ChangeDelay]) -> pd.DataFrame:
    """One row per change.

    Args:
        delays: The change delays.

    Returns:
        Columns resource, kind, team, type, time, actor, servedAfterSeconds, appliedAfterSeconds (the last
        replica; NaN when a replica never applied it), supersededAt, seenAfterSeconds (the first request an
        imported access log showed it in; NaN without access logs, or when none did).
    """
    import pandas as pd

    return pd.DataFrame([{"resource": d.change.ref, "kind": d.change.kind, "team": d.change.namespace,
                          "type": d.change.type, "time": d.change.time, "actor": d.change.actor,
                          "servedAfterSeconds": d.served_after, "appliedAfterSeconds": d.applied_after,
                          "supersededAt": d.superseded, "seenAfterSeconds": d.seen_after} for d in delays],
                        columns=["resource", "kind", "team", "type", "time", "actor", "servedAfterSeconds",
                                 "appliedAfterSeconds", "supersededAt", "seenAfterSeconds"]).astype(
        {"time": "datetime64[ns, UTC]", "supersededAt": "datetime64[ns, UTC]",
         "servedAfterSeconds": "float64", "appliedAfterSeconds": "float64", "seenAfterSeconds": "float64"})


def weights_frame(events: EventIndex, intents: Sequence[Intent],
                  observed: Sequence[Mapping[str, Any]] = ()) -> pd.DataFrame:
    """Intended, served and applied weights over time.

    Args:
        events: The journal's events.
        intents: The replay's translations.
        observed: The split access logs showed (:func:`gloo_nb.analysis.timeline.traffic.observed_rows`).

    Returns:
        Columns time, team, route, source (``intent``, ``served`` or a node id), destination, weight (percent);
        one row per destination each time a source's routes changed (a step function per series).
    """
    import pandas as pd

    teams: dict[str, str] = {}
    for state in intents:
        for row in state.rows:
            team = state.teams.get(route_key(row))
            if team is not None:
                teams[route_label(row)] = team
    out: list[dict[str, Any]] = []

    def emit(time: datetime, source: str, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            label = route_label(row)
            for dest, weight in destinations(row):
                out.append({"time": time, "team": teams.get(label, ""), "route": label, "source": source,
                            "destination": dest, "weight": weight})

    for state in intents:
        emit(state.time, "intent", state.rows)
    last: str | None = None
    for u in events.route_updates:
        if u.digest != last and (rows := events.rows_of(u.digest)) is not None:
            emit(u.time, "served", rows)
            last = u.digest
    for node, polls in events.polls.items():
        seen: str | None = None
        for poll in polls:
            if poll.reachable and poll.route_digest != seen and (rows := events.rows_of(poll.route_digest)) \
                    is not None:
                emit(poll.time, node, rows)
                seen = poll.route_digest
    out += [{"time": o["time"], "team": teams.get(str(o["route"]), ""), "route": o["route"], "source": o["source"],
             "destination": o["destination"], "weight": o["weight"]} for o in observed]
    return pd.DataFrame(out, columns=["time", "team", "route", "source", "destination", "weight"]).astype(
        {"time": "datetime64[ns, UTC]", "weight": "float64"})


_METRICS_COLUMNS = ["time", "start", "cluster", "requests", "rate", "errors5xx", "share5xx", "p50Ms", "p99Ms",
                    "replicas"]


def metrics_frame(journal: Journal) -> pd.DataFrame:
    """Envoy's cluster stats from imported Prometheus answers (``metrics.cluster``), one row per cluster and step.

    Args:
        journal: The journal.

    Returns:
        Columns time (the step's end), start, cluster, requests, rate (per second), errors5xx, share5xx, p50Ms,
        p99Ms (from the request-time histogram), replicas; NaN where the metrics did not say.
    """
    import pandas as pd

    frame = journal.of_kind("metrics.cluster").frame()
    rows = [{"time": t, **{c: d.get(c) for c in _METRICS_COLUMNS[1:]}}
            for t, d in zip(frame["time"], frame["data"], strict=True)] if len(frame) else []
    out = pd.DataFrame(rows, columns=_METRICS_COLUMNS)
    out["start"] = pd.to_datetime(out["start"], utc=True)
    return out.astype({"time": "datetime64[ns, UTC]", "requests": "float64", "rate": "float64",
                       "errors5xx": "float64", "share5xx": "float64", "p50Ms": "float64", "p99Ms": "float64"})


def nacks_frame(events: EventIndex) -> pd.DataFrame:
    """NACK intervals, from the replicas' rejected counters.

    Args:
        events: The journal's events.

    Returns:
        Columns node, typeUrl, start (the counter rose), end (the replica's version for that type changed after;
        NaT while open), rejected (the counter), version (the version it kept).
    """
    import pandas as pd

    out: list[dict[str, Any]] = []
    for node, polls in events.polls.items():
        open_: dict[str, dict[str, Any]] = {}
        last_count: dict[str, int] = {}
        for poll in polls:
            for type_url, row in list(open_.items()):
                if poll.versions.get(type_url) != row["version"]:
                    row["end"] = poll.time
                    out.append(open_.pop(type_url))
            for type_url, count in poll.rejected.items():
                if count > last_count.get(type_url, 0 if type_url in last_count else count):
                    if type_url in open_:
                        open_[type_url]["rejected"] = count
                    else:
                        open_[type_url] = {"node": node, "typeUrl": type_url, "start": poll.time, "end": None,
                                           "rejected": count, "version": poll.versions.get(type_url)}
                last_count[type_url] = count
        out.extend(open_.values())
    return pd.DataFrame(out, columns=["node", "typeUrl", "start", "end", "rejected", "version"]).astype(
        {"start": "datetime64[ns, UTC]", "end": "datetime64[ns, UTC]"})


def probes_frame(journal: Journal) -> pd.DataFrame:
    """Probe results over time: time, url, headers, requests, answer, count, share, low, high.

    Args:
        journal: The loaded journal.

    Returns:
        The frame.
    """
    import pandas as pd

    frame = journal.of_kind(PROBE_RESULT).frame()
    out = [{"time": time, "url": d.get("url"), "headers": d.get("headers"), "requests": d.get("requests"),
            **{k: s.get(k) for k in ("answer", "count", "share", "low", "high")}}
           for time, d in zip(frame["time"], frame["data"], strict=True) for s in d.get("shares") or []]
    return pd.DataFrame(out, columns=["time", "url", "headers", "requests", "answer", "count", "share", "low",
                                      "high"]).astype({"time": "datetime64[ns, UTC]"})
