"""Post-incident analysis of a journal: frames, the state at any moment, blocked teams, change delays, weights.

:func:`load_timeline` reads journals written by the recorder (kinds in :mod:`gloo_nb.journal.schema`) and folds
them once, incrementally: the Kubernetes objects are replayed, and the translator runs only where a change was made
(not per event). From that fold come

- the frames: events, resource versions, served versions, applied versions, weights, NACKs, probes;
- :meth:`Timeline.state_at`: the resources, the translation and its findings, the served routes and each
  replica's applied routes at any time;
- the blocked intervals (``design/architecture.md``: "a team is blocked while the proxy holds a last-known-good
  snapshot and that team has a change that is not served") and the delay from each change to served and to the
  last replica, the ``gloo-nb journal summary --json`` contract (:mod:`gloo_nb.analysis.incident`).

A team is a namespace. A team is not blocked by its own resources: the team whose change makes Gloo keep its last
good snapshot is the cause, not a victim. Routes are compared by their route configuration, virtual host, match
and action summaries (:func:`gloo_nb.translate.render.match_summary` and ``action_summary``), the same fields the
recorder writes for served and applied RouteConfigurations, so intent, served and applied rows compare equal.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from gloo_nb._gc import gc_paused
from gloo_nb._types import Profile, check_profile
from gloo_nb.journal import Journal, Loss, format_time, parse_time, read_journal
from gloo_nb.journal.schema import (
    KUBE_EVENT,
    PROBE_RESULT,
    RECORDER_START,
    REPLICA_POLL,
    XDS_CONTENT,
    XDS_UPDATE,
)
from gloo_nb.models import Finding, ResourceKey
from gloo_nb.models.codec import ParseResult, parse_objects
from gloo_nb.models.snapshot import Snapshot
from gloo_nb.translate import Translation, translate
from gloo_nb.translate.eds import kube_endpoints_of
from gloo_nb.translate.envoy import EnvoyResources
from gloo_nb.translate.routes import RouteId, destination_shares, fallback_label, route_id, row_json
from gloo_nb.translate.routes import route_rows as envoy_route_rows
from gloo_nb.translate.translator import BlockCause

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CHANGE_KINDS",
    "PLATFORM_NAMESPACE",
    "TRANSLATED_KINDS",
    "TYPE_ROUTE",
    "Blocked",
    "Cause",
    "Change",
    "ChangeDelay",
    "Episode",
    "StateAt",
    "Timeline",
    "load_timeline",
    "rfc3339",
    "route_rows",
]

TYPE_ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
"""The xDS type URL of RouteConfigurations (``gloo_nb.xds.protos.TYPE_ROUTE``; analysis may not import xds)."""
TRANSLATED_KINDS = ("VirtualService", "RouteTable", "Gateway", "Upstream", "Settings", "Service", "Endpoints", "Pod")
"""Kinds the translation reads (Endpoints and Pods only for EDS, which never changes routes)."""
CHANGE_KINDS = ("VirtualService", "RouteTable", "Gateway", "Upstream", "Settings", "Service")
"""Kinds whose spec changes are changes (rows of :meth:`Timeline.changes_frame`); Pods and Endpoints churn by
themselves."""
PLATFORM_NAMESPACE = "gloo-system"
"""Gloo's own namespace when the journal does not say (``recorder.start``'s ``namespace``)."""
_ROUTE_CHANGE_KINDS = frozenset(CHANGE_KINDS)

RouteKey = tuple[RouteId, str, str]
"""``(route identity, matchSummary, actionSummary)``: a route (:class:`gloo_nb.translate.routes.RouteId`, the one
identity) and what it does; a change is served when every one of its keys is. The match summary, a function of the
identity, is kept for the blocked rows' ``pendingRoutes`` text."""


# --- rows ------------------------------------------------------------------------------------------------------


def route_rows(envoy: EnvoyResources) -> list[dict[str, Any]]:
    """Flatten translated RouteConfigurations into rows with the fields the recorder writes for served ones.

    Args:
        envoy: Translated Envoy resources (``Translation.envoy`` or ``.served``); a replaced route reads
            ``fallback 404`` (the fallback listener's status, :func:`gloo_nb.translate.routes.fallback_label`) as in
            served rows.

    Returns:
        :func:`gloo_nb.translate.routes.row_json` per Envoy route, in configuration, virtual host and route order.
    """
    label = fallback_label(envoy.listeners)
    return [row_json(r) for r in envoy_route_rows(envoy.route_configurations, "intent", fallback_body=label)]


def _id(row: Mapping[str, Any]) -> RouteId:
    return route_id(str(row.get("virtualHost", "")), row.get("match") or {})


def _key(row: Mapping[str, Any]) -> RouteKey:
    return (_id(row), row["matchSummary"], row["actionSummary"])


def _route_label(row: Mapping[str, Any]) -> str:
    return f"{row['virtualHost']} {row['matchSummary']}"


def _destinations(row: Mapping[str, Any]) -> list[tuple[str, float]]:
    """``(destination, weight in percent)`` of a recorded route; a route without clusters is its action summary."""
    shares = destination_shares(row.get("action") or {})
    return [(d, 100.0 * share) for d, share in shares.items()] or [(row.get("actionSummary", ""), 100.0)]


# --- the fold's records ----------------------------------------------------------------------------------------


Cause = BlockCause
"""A resource whose findings make the proxy keep its last good snapshot (:meth:`Translation.block_causes`)."""


@dataclass(frozen=True)
class _Intent:
    """The translation after the changes up to ``time`` (kept small: rows, owners, decision, causes)."""

    time: datetime
    rows: tuple[dict[str, Any], ...]
    owners: Mapping[ResourceKey, frozenset[RouteKey]]
    teams: Mapping[RouteKey, str]
    decision: str
    reason: str
    causes: tuple[Cause, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """One change to a resource (a ``kube.event`` other than INITIAL whose spec changed).

    Attributes:
        time: When the recorder saw it.
        kind: The resource's kind.
        namespace: Its namespace (its team).
        name: Its name.
        type: ``ADDED``, ``MODIFIED`` or ``DELETED``.
        resource_version: The version written.
        actor: Who made it (user, else manager, else ``unknown``).
        intent: Index of the intent state that includes it.
    """

    time: datetime
    kind: str
    namespace: str
    name: str
    type: str
    resource_version: str
    actor: str
    intent: int

    @property
    def key(self) -> ResourceKey:
        """The resource's key."""
        return ResourceKey(self.kind, self.namespace, self.name)

    @property
    def ref(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class _Update:
    time: datetime
    type_url: str
    version: str
    digest: str
    accepted: bool


@dataclass(frozen=True, slots=True)
class _Poll:
    time: datetime
    node: str
    versions: Mapping[str, str]
    rejected: Mapping[str, int]
    route_digest: str | None
    reachable: bool


@dataclass(frozen=True, slots=True)
class Episode:
    """An interval during which the proxy held a last-known-good snapshot.

    Attributes:
        start: When the change that Gloo rejected was made.
        end: When the first configuration after the fix was served (None: still held at the journal's end).
        started_by: The changes that began it (those of the first rejected translation).
        ended_by: The changes after which Gloo pushed again (the fix), empty while held.
        causes: Every cause seen during the episode.
    """

    start: datetime
    end: datetime | None
    started_by: tuple[Change, ...]
    ended_by: tuple[Change, ...]
    causes: tuple[Cause, ...]


@dataclass(frozen=True, slots=True)
class Blocked:
    """A team blocked: it had a change that was not served while the proxy held its last good snapshot.

    Attributes:
        team: The team (namespace).
        resource: ``namespace/name`` of the team's changed resource.
        kind: Its kind.
        start: When the block began.
        end: When it ended (its change served, or Gloo pushing again); None while still blocked at the journal's end.
        pending_since: When the team's change was made.
        causes: The other teams' resources that kept the last good snapshot.
        routes: The team's routes that were intended but not served, ``match -> action``.
    """

    team: str
    resource: str
    kind: str
    start: datetime
    end: datetime | None
    pending_since: datetime
    causes: tuple[Cause, ...]
    routes: tuple[str, ...] = ()

    @property
    def cause(self) -> str:
        """The causes as ``ns/name: <Gloo message>``, joined with ``; ``."""
        return "; ".join(c.text() for c in self.causes)

    @property
    def blocked_by(self) -> tuple[str, ...]:
        """The teams (namespaces) whose resources caused the block: "who blocked whom"."""
        return tuple(dict.fromkeys(c.namespace for c in self.causes if c.namespace))

    def seconds(self, until: datetime) -> float:
        """How long the block lasted, ``until`` standing in for an open end."""
        return ((self.end or until) - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class ChangeDelay:
    """How long one change took to be served and applied.

    Attributes:
        change: The change.
        served: When the first served update containing it arrived (None: never).
        applied: Per replica, when it applied the change (None: never).
        superseded: When the resource changed again before this change was served, else None.
    """

    change: Change
    served: datetime | None
    applied: Mapping[str, datetime | None]
    superseded: datetime | None

    @property
    def served_after(self) -> float | None:
        """Seconds from the change to served, or None."""
        return None if self.served is None else (self.served - self.change.time).total_seconds()

    @property
    def applied_after(self) -> float | None:
        """Seconds from the change to the last replica applying it; None when a replica never did (or none)."""
        if not self.applied or any(t is None for t in self.applied.values()):
            return None
        return max((t - self.change.time).total_seconds() for t in self.applied.values() if t is not None)


# --- the state at a moment -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateAt:
    """Everything as it was at one moment of the journal.

    Attributes:
        time: The moment.
        objects: The Kubernetes objects (as recorded, redacted) by ``(kind, namespace, name)``.
        parsed: The parse of the objects the translation reads.
        translation: The translation of those resources (a fresh control plane's: Gloo's last good snapshot
            is what :attr:`served_routes` shows).
        findings: Parse findings, then the translation's findings.
        intent_routes: The translation's route rows (:func:`route_rows`).
        served_routes: The routes of the last served RouteConfiguration update at or before ``time``.
        served_versions: Type URL -> version of the last served update of each type.
        applied_routes: Per replica, the routes it had applied at ``time`` (by its last poll's routeDigest).
        applied_versions: Per replica, type URL -> the version it reported.
        rejected: Per replica, type URL -> its update_rejected counter.
        blocked: The blocked rows active at ``time``.
    """

    time: datetime
    objects: Mapping[tuple[str, str, str], Mapping[str, Any]]
    parsed: ParseResult
    translation: Translation
    findings: list[Finding]
    intent_routes: list[dict[str, Any]]
    served_routes: list[dict[str, Any]]
    served_versions: Mapping[str, str]
    applied_routes: Mapping[str, list[dict[str, Any]]]
    applied_versions: Mapping[str, Mapping[str, str]]
    rejected: Mapping[str, Mapping[str, int]]
    blocked: list[Blocked]

    def routes_frame(self) -> pd.DataFrame:
        """One row per route and source (``intent``, ``served``, each replica): match, action and their summaries."""
        import pandas as pd

        rows = [{"source": "intent", **r} for r in self.intent_routes]
        rows += [{"source": "served", **r} for r in self.served_routes]
        rows += [{"source": node, **r} for node, routes in self.applied_routes.items() for r in routes]
        return pd.DataFrame(rows, columns=["source", "routeConfiguration", "virtualHost", "order", "name", "match",
                                           "action", "matchSummary", "actionSummary"])

    def findings_frame(self) -> pd.DataFrame:
        """One row per finding: team (the origin's namespace), severity, resource, origin, message."""
        import pandas as pd

        return pd.DataFrame([{"team": f.origin.namespace, "severity": f.severity, "resource": f.resource.ref,
                              "kind": f.resource.kind, "origin": f.origin.ref, "message": f.message}
                             for f in self.findings],
                            columns=["team", "severity", "resource", "kind", "origin", "message"])


# --- the timeline ----------------------------------------------------------------------------------------------


def _actor(data: Mapping[str, Any]) -> str:
    actor = data.get("actor") or {}
    return str(actor.get("user") or actor.get("manager") or "unknown")


def _ident(data: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(data.get("kind", "")), str(data.get("namespace", "") or ""), str(data.get("name", "")))


def _owners(translation: Translation, rows: Sequence[Mapping[str, Any]]) -> tuple[
        dict[ResourceKey, frozenset[RouteKey]], dict[RouteKey, str]]:
    """Per resource the keys of its routes, and per route its team.

    A resource takes part in its own routes and, for a VirtualService or a parent RouteTable, the delegated ones; a
    route's team is the namespace of the resource that defines it.
    """
    sources_of = translation.route_sources()
    owners: dict[ResourceKey, set[RouteKey]] = {}
    teams: dict[RouteKey, str] = {}
    for row in rows:
        sources = sources_of.get(_id(row))
        if not sources:
            continue
        key = _key(row)
        for source in sources:
            owners.setdefault(source, set()).add(key)
        teams[key] = sources[0].namespace
    return {k: frozenset(v) for k, v in owners.items()}, teams




def _columns(journal: Journal, kind: str) -> tuple[list[datetime], list[str], list[dict[str, Any]]]:
    """Times, sources and data of one kind's events, without building an Event per line."""
    frame = journal.of_kind(kind).frame()
    if not len(frame):
        return [], [], []
    return list(frame["time"].dt.to_pydatetime()), frame["source"].tolist(), frame["data"].tolist()


def _parse_one(obj: Mapping[str, Any]) -> ParseResult:
    # Gloo skips a resource it cannot read and carries on; so does the replay, with a finding naming it.
    return parse_objects([obj], file=f"<journal {obj.get('kind')}>", tolerant=True)


class Timeline:
    """A journal folded into what happened at the gateway (built by :func:`load_timeline`).

    Attributes:
        journal: The loaded journal (events, files, losses).
        profile: The Gloo behaviour profile the translation replays.
        namespace: Gloo's namespace (the platform's, not a team's).
    """

    def __init__(self, journal: Journal, *, profile: Profile | None = None) -> None:
        self.journal = journal
        starts = [e.data for e in journal.of_kind(RECORDER_START).events]
        recorded = (starts[-1].get("profile") or "current") if starts else "current"
        self.profile: Profile = profile or check_profile(recorded, source="journal: recorder start: profile")
        self.namespace: str = str(starts[-1].get("namespace") or PLATFORM_NAMESPACE) if starts else PLATFORM_NAMESPACE
        self._starts = [e.time for e in journal.of_kind(RECORDER_START).events]
        self._listed = list(dict.fromkeys(str(n) for s in starts for n in s.get("replicas") or []))

    # --- the journal's events as columns (built on first use; no Event objects for the bulk kinds) --------------

    @cached_property
    def _kube(self) -> tuple[list[datetime], list[dict[str, Any]]]:
        times, _, datas = _columns(self.journal, KUBE_EVENT)
        return times, datas

    def kube_events(self, start: datetime | None = None, end: datetime | None = None) -> Iterator[
            tuple[datetime, Mapping[str, Any]]]:
        """The ``kube.event`` data between two times (both included), by time.

        Args:
            start: From this time (default: the first).
            end: Up to this time (default: the last).

        Yields:
            ``(time, data)``; treat ``data`` as read-only.
        """
        times, datas = self._kube
        lo = bisect.bisect_left(times, start) if start is not None else 0
        hi = bisect.bisect_right(times, end) if end is not None else len(times)
        yield from zip(times[lo:hi], datas[lo:hi], strict=True)

    @cached_property
    def _content(self) -> dict[str, Mapping[str, Any]]:
        return {str(d.get("digest")): d for d in _columns(self.journal, XDS_CONTENT)[2]}

    @cached_property
    def _updates(self) -> list[_Update]:
        times, _, datas = _columns(self.journal, XDS_UPDATE)
        with gc_paused():
            return [_Update(t, str(d.get("typeUrl", "")), str(d.get("version", "")), str(d.get("digest", "")),
                            bool(d.get("accepted", True))) for t, d in zip(times, datas, strict=True)]

    @cached_property
    def _update_times(self) -> list[datetime]:
        return [u.time for u in self._updates]

    @cached_property
    def _route_updates(self) -> list[_Update]:
        return [u for u in self._updates if u.type_url == TYPE_ROUTE]

    @cached_property
    def _route_update_times(self) -> list[datetime]:
        return [u.time for u in self._route_updates]

    @cached_property
    def _polls(self) -> dict[str, list[_Poll]]:
        polls: dict[str, list[_Poll]] = {}
        with gc_paused():
            for t, source, d in zip(*_columns(self.journal, REPLICA_POLL), strict=True):
                node = str(d.get("node") or source.removeprefix("replica/"))
                polls.setdefault(node, []).append(_Poll(t, node, d.get("versions") or {}, d.get("rejected") or {},
                                                        d.get("routeDigest"), bool(d.get("reachable", True))))
        return polls

    @cached_property
    def _poll_times(self) -> dict[str, list[datetime]]:
        return {node: [p.time for p in polls] for node, polls in self._polls.items()}

    @property
    def replicas(self) -> list[str]:
        """The replicas' node ids (from ``recorder.start``, else those polled)."""
        return self._listed or sorted(self._polls)

    def __repr__(self) -> str:
        return f"<Timeline {len(self.journal)} events, Gloo {self.profile}, {len(self.journal.losses)} losses>"

    # --- range ---------------------------------------------------------------------------------------------

    @cached_property
    def _range(self) -> tuple[datetime | None, datetime | None]:
        times = self.events_frame()["time"]
        if not len(times):
            return None, None
        return times.iloc[0].to_pydatetime(), times.iloc[-1].to_pydatetime()

    @property
    def start(self) -> datetime | None:
        """The first event's time (None for an empty journal)."""
        return self._range[0]

    @property
    def end(self) -> datetime | None:
        """The last event's time (None for an empty journal)."""
        return self._range[1]

    @property
    def losses(self) -> list[Loss]:
        """What may be missing: runs that ended without their clean stop marker, cut last lines (``str()`` reads)."""
        return list(self.journal.losses)

    # --- the fold ------------------------------------------------------------------------------------------

    @cached_property
    def _fold(self) -> tuple[list[_Intent], list[Change]]:
        """Replay the Kubernetes events; translate once per batch of changes (not per event)."""
        with gc_paused():
            return self._replay()

    def _replay(self) -> tuple[list[_Intent], list[Change]]:
        parsed: dict[tuple[str, str, str], ParseResult] = {}
        intents: list[_Intent] = []
        changes: list[Change] = []
        dirty = False
        dirty_time: datetime | None = None
        starts = list(self._starts)

        def flush() -> None:
            nonlocal dirty
            if not dirty or dirty_time is None:
                return
            dirty = False
            resources = [r for key in sorted(parsed) for r in parsed[key].resources]
            translation = translate(Snapshot.from_resources(resources), self.profile)
            intents.append(self._intent(dirty_time, translation))

        kube_times, kube_datas = self._kube
        for time, d in zip(kube_times, kube_datas, strict=True):
            if d.get("kind") not in _ROUTE_CHANGE_KINDS:
                continue  # EDS inputs (Pods, Endpoints) never change routes or the push decision
            while starts and starts[0] <= time:
                # A new recording lists every object again (INITIAL): what it does not list is gone.
                starts.pop(0)
                flush()
                parsed.clear()
            ident = _ident(d)
            etype = str(d.get("type", ""))
            kind = ident[0]
            spec = etype in ("INITIAL", "ADDED", "DELETED") or bool(d.get("specChanged", True))
            relevant = spec or ident not in parsed
            # A recording's INITIAL listing is one batch; any other change closes the batch before it.
            if relevant and etype != "INITIAL":
                flush()
            if etype == "DELETED":
                parsed.pop(ident, None)
            elif relevant:
                parsed[ident] = _parse_one(d.get("object") or {})
            if relevant:
                dirty, dirty_time = True, time
            if etype in ("ADDED", "MODIFIED", "DELETED") and spec:
                changes.append(Change(time, kind, ident[1], ident[2], etype, str(d.get("resourceVersion", "")),
                                      _actor(d), -1))
        flush()
        # Each change belongs to the first translation at or after it.
        times = [i.time for i in intents]
        changes = [Change(c.time, c.kind, c.namespace, c.name, c.type, c.resource_version, c.actor,
                          bisect.bisect_left(times, c.time)) for c in changes]
        return intents, changes

    def _intent(self, time: datetime, translation: Translation) -> _Intent:
        rows = route_rows(translation.envoy)
        owners, teams = _owners(translation, rows)
        return _Intent(time, tuple(rows), owners, teams, translation.push.decision, translation.push.reason,
                       translation.block_causes())

    @property
    def _intents(self) -> list[_Intent]:
        return self._fold[0]

    @property
    def changes(self) -> list[Change]:
        """The changes, by time."""
        return self._fold[1]

    @cached_property
    def _intent_times(self) -> list[datetime]:
        return [i.time for i in self._intents]

    def _intent_index(self, t: datetime) -> int:
        """Index of the last translation at or before ``t`` (-1 before the first)."""
        return bisect.bisect_right(self._intent_times, t) - 1

    def _intent_at(self, t: datetime) -> _Intent | None:
        i = self._intent_index(t)
        return self._intents[i] if i >= 0 else None

    def _rows_of(self, digest: str | None) -> list[dict[str, Any]] | None:
        if digest is None:
            return None
        content = self._content.get(digest)
        if content is None:
            return None
        return list(content.get("routes") or [])

    def _served_at(self, t: datetime) -> _Update | None:
        i = bisect.bisect_right(self._route_update_times, t) - 1
        return self._route_updates[i] if i >= 0 else None

    def _served_keys(self, t: datetime) -> frozenset[RouteKey] | None:
        update = self._served_at(t)
        rows = self._rows_of(update.digest) if update else []
        return None if rows is None else frozenset(map(_key, rows))

    # --- episodes and blocked ------------------------------------------------------------------------------

    @cached_property
    def episodes(self) -> list[Episode]:
        """The intervals during which the proxy held a last-known-good snapshot."""
        intents, changes = self._fold
        out: list[Episode] = []
        i = 0
        while i < len(intents):
            if intents[i].decision != "keep-last-good":
                i += 1
                continue
            first = i
            causes: dict[str, Cause] = {}
            while i < len(intents) and intents[i].decision == "keep-last-good":
                causes.update((c.text(), c) for c in intents[i].causes)
                i += 1
            started_by = tuple(c for c in changes if c.intent == first)
            if i == len(intents):
                out.append(Episode(intents[first].time, None, started_by, (), tuple(causes.values())))
                break
            fixed = intents[i].time
            limit = intents[i + 1].time if i + 1 < len(intents) else None
            # The proxy holds the last good snapshot until the configuration after the fix is served: its routes
            # (Gloo pushes clusters and listeners first), else whatever it pushes first, else the fix itself.
            end = next((t for t in (self._first_after(self._route_update_times, fixed, limit),
                                    self._first_after(self._update_times, fixed, limit)) if t is not None), fixed)
            out.append(Episode(intents[first].time, end, started_by, tuple(c for c in changes if c.intent == i),
                               tuple(causes.values())))
        return out

    @staticmethod
    def _first_after(times: Sequence[datetime], t: datetime, limit: datetime | None) -> datetime | None:
        j = bisect.bisect_left(times, t)
        return times[j] if j < len(times) and (limit is None or times[j] < limit) else None

    def _causes_at(self, t: datetime) -> tuple[Cause, ...]:
        # During an episode's tail (fixed, not yet served) the last rejected translation's causes still hold.
        i = self._intent_index(t)
        while i >= 0 and self._intents[i].decision != "keep-last-good":
            i -= 1
        return self._intents[i].causes if i >= 0 else ()

    @cached_property
    def delays(self) -> list[ChangeDelay]:
        """Per change, when it was served and applied by each replica."""
        changes = self.changes
        out = []
        for n, change in enumerate(changes):
            later = next((c.time for c in changes[n + 1:] if c.key == change.key), None)
            out.append(self._delay(change, later))
        return out

    def _wanted(self, change: Change, t: datetime) -> tuple[frozenset[RouteKey], frozenset[RouteKey]]:
        """The change's routes that must be present and those that must be gone, as intended at ``t``."""
        intents = self._intents
        idx = max(change.intent, self._intent_index(t))
        if idx >= len(intents):
            return frozenset(), frozenset()
        state = intents[idx]
        present = state.owners.get(change.key, frozenset())
        before = intents[change.intent - 1].owners.get(change.key, frozenset()) if change.intent > 0 else frozenset()
        every = frozenset(map(_key, state.rows))
        return present, before - every

    def _delay(self, change: Change, superseded: datetime | None) -> ChangeDelay:
        present, gone = self._wanted(change, change.time)
        route_less = not present and not gone
        served: datetime | None = None
        served_update: _Update | None = None
        if route_less:
            # A change without routes of its own (Settings, Upstream, Service) is served with the next update that
            # Gloo pushes after it.
            j = bisect.bisect_left(self._update_times, change.time)
            for u in self._updates[j:]:
                if superseded is not None and u.time >= superseded:
                    break
                state = self._intent_at(u.time)
                if state is not None and state.decision == "push":
                    served, served_update = u.time, u
                    break
        else:
            j = bisect.bisect_left(self._route_update_times, change.time)
            for t in [change.time, *(u.time for u in self._route_updates[j:])]:
                if superseded is not None and t >= superseded:
                    break
                present, gone = self._wanted(change, t)
                keys = self._served_keys(t)
                if keys is not None and present <= keys and not gone & keys:
                    served, served_update = t, self._served_at(t)
                    break
        applied: dict[str, datetime | None] = {}
        for node in self.replicas:
            applied[node] = None
            if served is None:
                continue
            polls = self._polls.get(node, [])
            k = bisect.bisect_left(self._poll_times.get(node, []), change.time)
            for poll in polls[k:]:
                if superseded is not None and poll.time >= superseded:
                    break
                if not poll.reachable:
                    continue
                if self._poll_has(poll, change, served_update, route_less):
                    applied[node] = max(poll.time, served)
                    break
        return ChangeDelay(change, served, applied, superseded)

    def _poll_has(self, poll: _Poll, change: Change, update: _Update | None, route_less: bool) -> bool:
        if route_less:
            # The served version, or any version of that type served after it (the replica is at least as new).
            if update is None:
                return False
            j = bisect.bisect_left(self._update_times, update.time)
            return poll.versions.get(update.type_url) in {u.version for u in self._updates[j:]
                                                          if u.type_url == update.type_url and u.time <= poll.time}
        rows = self._rows_of(poll.route_digest)
        if rows is None:
            return update is not None and poll.route_digest == update.digest
        present, gone = self._wanted(change, poll.time)
        keys = frozenset(map(_key, rows))
        return present <= keys and not gone & keys

    @cached_property
    def blocked(self) -> list[Blocked]:
        """The blocked intervals, by start (see the module's docstring for the rule)."""
        rows: list[Blocked] = []
        change_times = sorted({x.time for x in self._intents})
        intents = self._intents
        for delay in self.delays:
            change = delay.change
            if change.intent >= len(intents) or intents[change.intent].decision != "keep-last-good":
                # Gloo pushes what this change brings (the fix, or a change after it): it is not held back.
                continue
            pend_end = min((t for t in (delay.served, delay.superseded) if t is not None), default=None)
            for ep in self.episodes:
                start = max(change.time, ep.start)
                ends = [t for t in (pend_end, ep.end) if t is not None]
                end = min(ends) if ends else None
                if end is not None and end <= start:
                    continue
                # Within the episode the causes change only at translations: split there.
                cuts = [start, *(t for t in change_times if t > start and (end is None or t < end))]
                for a, b in zip(cuts, [*cuts[1:], end], strict=True):
                    foreign = tuple(c for c in self._causes_at(a) if c.namespace != change.namespace)
                    if foreign:
                        rows.append(Blocked(change.namespace, change.ref, change.kind, a, b, change.time, foreign,
                                            self._pending_routes(change, a)))
        return _merge(rows)

    def _pending_routes(self, change: Change, t: datetime) -> tuple[str, ...]:
        present, _ = self._wanted(change, t)
        keys = self._served_keys(t) or frozenset()
        return tuple(f"{k[1]} -> {k[2]}" for k in sorted(present - keys, key=lambda k: (k[0].virtual_host, k[1])))

    # --- frames --------------------------------------------------------------------------------------------

    def events_frame(self) -> pd.DataFrame:
        """Every event: ``time``, ``kind``, ``source``, ``data``."""
        return self.journal.frame()

    def resource_versions(self) -> pd.DataFrame:
        """One row per ``kube.event``.

        Returns:
            Columns kind, namespace, name, resourceVersion, time, type, actor, specChanged, statusChanged.
        """
        import pandas as pd

        cols: dict[str, list[Any]] = {k: [] for k in ("kind", "namespace", "name", "resourceVersion", "type", "actor",
                                                      "specChanged", "statusChanged")}
        times, datas = self._kube
        with gc_paused():
            self._kube_columns(datas, cols)
        frame = pd.DataFrame({**cols, "time": pd.DatetimeIndex(times, tz="UTC") if times else
                              pd.DatetimeIndex([], tz="UTC")})
        return frame[["kind", "namespace", "name", "resourceVersion", "time", "type", "actor", "specChanged",
                      "statusChanged"]]

    @staticmethod
    def _kube_columns(datas: Sequence[Mapping[str, Any]], cols: dict[str, list[Any]]) -> None:
        for d in datas:
            cols["kind"].append(d.get("kind"))
            cols["namespace"].append(d.get("namespace"))
            cols["name"].append(d.get("name"))
            cols["resourceVersion"].append(d.get("resourceVersion"))
            cols["type"].append(d.get("type"))
            cols["actor"].append(_actor(d))
            cols["specChanged"].append(bool(d.get("specChanged")))
            cols["statusChanged"].append(bool(d.get("statusChanged")))

    def served_versions(self) -> pd.DataFrame:
        """One row per ``xds.update``: typeUrl, version, time, digest, accepted."""
        import pandas as pd

        frame = self.journal.of_kind(XDS_UPDATE).frame()
        datas = frame["data"].tolist()
        return pd.DataFrame({"typeUrl": [d.get("typeUrl") for d in datas], "version": [d.get("version") for d in datas],
                             "time": frame["time"], "digest": [d.get("digest") for d in datas],
                             "accepted": [bool(d.get("accepted", True)) for d in datas]})

    def applied_versions(self) -> pd.DataFrame:
        """One row per ``replica.poll`` and type URL: node, typeUrl, version, time, rejected."""
        import pandas as pd

        rows: dict[str, list[Any]] = {"node": [], "typeUrl": [], "version": [], "time": [], "rejected": []}
        with gc_paused():
            for poll in sorted((p for polls in self._polls.values() for p in polls), key=lambda p: p.time):
                for type_url in sorted({*poll.versions, *poll.rejected}):
                    rows["node"].append(poll.node)
                    rows["typeUrl"].append(type_url)
                    rows["version"].append(poll.versions.get(type_url))
                    rows["time"].append(poll.time)
                    rows["rejected"].append(int(poll.rejected.get(type_url, 0)))
            return pd.DataFrame({**rows, "time": pd.DatetimeIndex(rows["time"], tz="UTC") if rows["time"]
                                 else pd.DatetimeIndex([], tz="UTC")})[["node", "typeUrl", "version", "time",
                                                                         "rejected"]]

    def blocked_frame(self) -> pd.DataFrame:
        """The blocked rows, who blocked whom.

        Returns:
            Columns team, blockedBy, resource, kind, start, end, pendingSince, cause, routes, seconds.
        """
        import pandas as pd

        until = self.end
        return pd.DataFrame([{"team": b.team, "blockedBy": ", ".join(b.blocked_by), "resource": b.resource,
                              "kind": b.kind, "start": b.start,
                              "end": b.end, "pendingSince": b.pending_since, "cause": b.cause,
                              "routes": list(b.routes), "seconds": b.seconds(until) if until else 0.0}
                             for b in self.blocked],
                            columns=["team", "blockedBy", "resource", "kind", "start", "end", "pendingSince", "cause",
                                     "routes",
                                     "seconds"]).astype({"start": "datetime64[ns, UTC]", "end": "datetime64[ns, UTC]",
                                                          "pendingSince": "datetime64[ns, UTC]"})

    def changes_frame(self) -> pd.DataFrame:
        """One row per change.

        Returns:
            Columns resource, kind, team, type, time, actor, servedAfterSeconds, appliedAfterSeconds (the last
            replica; NaN when a replica never applied it), supersededAt.
        """
        import pandas as pd

        return pd.DataFrame([{"resource": d.change.ref, "kind": d.change.kind, "team": d.change.namespace,
                              "type": d.change.type, "time": d.change.time, "actor": d.change.actor,
                              "servedAfterSeconds": d.served_after, "appliedAfterSeconds": d.applied_after,
                              "supersededAt": d.superseded} for d in self.delays],
                            columns=["resource", "kind", "team", "type", "time", "actor", "servedAfterSeconds",
                                     "appliedAfterSeconds", "supersededAt"]).astype(
            {"time": "datetime64[ns, UTC]", "supersededAt": "datetime64[ns, UTC]",
             "servedAfterSeconds": "float64", "appliedAfterSeconds": "float64"})

    def weights_frame(self) -> pd.DataFrame:
        """Intended, served and applied weights over time.

        Returns:
            Columns time, team, route, source (``intent``, ``served`` or a node id), destination, weight (percent);
            one row per destination each time a source's routes changed (a step function per series).
        """
        import pandas as pd

        teams: dict[str, str] = {}
        for state in self._intents:
            for row in state.rows:
                team = state.teams.get(_key(row))
                if team is not None:
                    teams[_route_label(row)] = team
        out: list[dict[str, Any]] = []

        def emit(time: datetime, source: str, rows: Sequence[Mapping[str, Any]]) -> None:
            for row in rows:
                label = _route_label(row)
                for dest, weight in _destinations(row):
                    out.append({"time": time, "team": teams.get(label, ""), "route": label, "source": source,
                                "destination": dest, "weight": weight})

        for state in self._intents:
            emit(state.time, "intent", state.rows)
        last: str | None = None
        for u in self._route_updates:
            if u.digest != last and (rows := self._rows_of(u.digest)) is not None:
                emit(u.time, "served", rows)
                last = u.digest
        for node, polls in self._polls.items():
            seen: str | None = None
            for poll in polls:
                if poll.reachable and poll.route_digest != seen and (rows := self._rows_of(poll.route_digest)) \
                        is not None:
                    emit(poll.time, node, rows)
                    seen = poll.route_digest
        return pd.DataFrame(out, columns=["time", "team", "route", "source", "destination", "weight"]).astype(
            {"time": "datetime64[ns, UTC]", "weight": "float64"})

    def nacks_frame(self) -> pd.DataFrame:
        """NACK intervals, from the replicas' rejected counters.

        Returns:
            Columns node, typeUrl, start (the counter rose), end (the replica's version for that type changed after;
            NaT while open), rejected (the counter), version (the version it kept).
        """
        import pandas as pd

        out: list[dict[str, Any]] = []
        for node, polls in self._polls.items():
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

    def probes_frame(self) -> pd.DataFrame:
        """Probe results over time: time, url, headers, requests, answer, count, share, low, high."""
        import pandas as pd

        frame = self.journal.of_kind(PROBE_RESULT).frame()
        out = [{"time": time, "url": d.get("url"), "headers": d.get("headers"), "requests": d.get("requests"),
                **{k: s.get(k) for k in ("answer", "count", "share", "low", "high")}}
               for time, d in zip(frame["time"], frame["data"], strict=True) for s in d.get("shares") or []]
        return pd.DataFrame(out, columns=["time", "url", "headers", "requests", "answer", "count", "share", "low",
                                          "high"]).astype({"time": "datetime64[ns, UTC]"})

    # --- the state at a moment -----------------------------------------------------------------------------

    def state_at(self, t: datetime | str) -> StateAt:
        """Rebuild everything as it was at ``t``.

        Args:
            t: A timezone-aware time, or an RFC 3339 string.

        Returns:
            The state: resources, translation, findings, served and applied routes, blocked rows.
        """
        when = parse_time(t) if isinstance(t, str) else t
        objects: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        starts = [s for s in self._starts if s <= when]
        since = starts[-1] if starts else None
        kube_times, kube_datas = self._kube
        first = bisect.bisect_left(kube_times, since) if since is not None else 0
        # Objects from before the latest recording are dropped: it listed everything again.
        for d in kube_datas[first:bisect.bisect_right(kube_times, when)]:
            ident = _ident(d)
            if d.get("type") == "DELETED":
                objects.pop(ident, None)
            else:
                objects[ident] = d.get("object") or {}
        parsed = ParseResult()
        for ident in sorted(objects):
            if ident[0] in TRANSLATED_KINDS:
                one = _parse_one(objects[ident])
                parsed.resources.extend(one.resources)
                parsed.findings.extend(one.findings)
                parsed.skipped.extend(one.skipped)
        snapshot = Snapshot.from_resources(parsed.resources)
        translation = translate(snapshot, self.profile, endpoints=kube_endpoints_of(snapshot, self.profile))
        update = self._served_at(when)
        served_versions: dict[str, str] = {}
        for u in self._updates[:bisect.bisect_right(self._update_times, when)]:
            served_versions[u.type_url] = u.version
        applied_routes: dict[str, list[dict[str, Any]]] = {}
        applied_versions: dict[str, Mapping[str, str]] = {}
        rejected: dict[str, Mapping[str, int]] = {}
        for node, polls in self._polls.items():
            k = bisect.bisect_right(self._poll_times[node], when) - 1
            if k < 0:
                continue
            poll = polls[k]
            applied_routes[node] = self._rows_of(poll.route_digest) or []
            applied_versions[node] = dict(poll.versions)
            rejected[node] = dict(poll.rejected)
        return StateAt(
            time=when, objects=objects, parsed=parsed, translation=translation,
            findings=[*parsed.findings, *translation.findings],
            intent_routes=route_rows(translation.envoy),
            served_routes=(self._rows_of(update.digest) or []) if update else [],
            served_versions=served_versions, applied_routes=applied_routes, applied_versions=applied_versions,
            rejected=rejected,
            blocked=[b for b in self.blocked if b.start <= when and (b.end is None or when < b.end)])


def _merge(rows: list[Blocked]) -> list[Blocked]:
    """Join a team's consecutive rows for one resource (a new change or new causes while still blocked)."""
    rows = sorted(rows, key=lambda b: (b.team, b.resource, b.start))
    out: list[Blocked] = []
    for row in rows:
        prev = out[-1] if out else None
        if prev is not None and (prev.team, prev.resource) == (row.team, row.resource) and prev.end == row.start:
            causes = tuple({c.text(): c for c in (*prev.causes, *row.causes)}.values())
            out[-1] = Blocked(prev.team, prev.resource, prev.kind, prev.start, row.end, prev.pending_since, causes,
                              tuple(dict.fromkeys((*prev.routes, *row.routes))))
        else:
            out.append(row)
    return sorted(out, key=lambda b: (b.start, b.team, b.resource))


def load_timeline(*directories: str | os.PathLike[str], profile: str | None = None) -> Timeline:
    """Load one or more journal directories (merged by time) into a timeline.

    Args:
        *directories: Journal directories (``gloo-nb record --out``, a rollout's ``--journal``).
        profile: The Gloo behaviour profile to replay (default: the recorder's, else ``current``).

    Returns:
        The timeline; its analyses are computed on first use. :attr:`Timeline.losses` says what a killed
        writer cut off.

    Raises:
        JournalError: A directory is missing, empty or corrupt (see :func:`gloo_nb.journal.read_journal`).
        ValueError: ``profile`` is not ``1.3`` or ``current``.
    """
    journal = read_journal(*directories)
    return Timeline(journal, profile=check_profile(profile, source="profile") if profile else None)


def rfc3339(time: datetime | None) -> str | None:
    """A time as the journal writes it (RFC 3339, UTC, microseconds), or None.

    Args:
        time: A timezone-aware time, or None.

    Returns:
        The text, or None.
    """
    return None if time is None else format_time(time)
