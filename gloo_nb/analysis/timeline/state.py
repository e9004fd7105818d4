"""The state at one moment of a journal: resources, their translation and findings, served and applied routes.

Rebuilt on request for a single time (the time-travel view's slider, :func:`gloo_nb.analysis.inspection`'s
``inspection_at``), unlike the replay, which folds the whole history once and keeps only what the delays and blocked
intervals need; kept apart for that reason.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gloo_nb._types import Profile
from gloo_nb.analysis.timeline.blocked import Blocked
from gloo_nb.analysis.timeline.events import EventIndex, ident_of, parse_recorded_event
from gloo_nb.analysis.timeline.replay import unknown_ref
from gloo_nb.analysis.timeline.routes import route_rows
from gloo_nb.models import Finding
from gloo_nb.models.codec import ParseResult
from gloo_nb.models.snapshot import Snapshot
from gloo_nb.translate import Translation, translate

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TRANSLATED_KINDS", "TYPE_LISTENER", "StateAt", "state_at"]

TYPE_LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
"""The xDS type URL of Listeners (``gloo_nb.xds.protos.TYPE_LISTENER``; analysis may not import xds)."""

TRANSLATED_KINDS = ("VirtualService", "RouteTable", "Gateway", "Upstream", "Settings", "Service", "Endpoints", "Pod",
                    "Secret", "UpstreamGroup", "VirtualHostOption", "RouteOption")
"""Kinds the translation reads (Endpoints and Pods only for EDS, which never changes routes; Secrets from their
recorded facts)."""


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
        intent_routes: The translation's route rows (:func:`gloo_nb.analysis.timeline.routes.route_rows`).
        served_routes: The routes of the last served RouteConfiguration update at or before ``time``.
        served_versions: Type URL -> version of the last served update of each type.
        applied_routes: Per replica, the routes it had applied at ``time`` (by its last poll's routeDigest).
        applied_versions: Per replica, type URL -> the version it reported.
        rejected: Per replica, type URL -> its update_rejected counter.
        blocked: The blocked rows active at ``time``.
        served_listeners: The Listeners of the last served Listener update at or before ``time``, as recorded
            (proto JSON, keys redacted); None when none was recorded.
        unknown: ``Kind namespace/name`` -> why, for the objects whose content the journal does not know at ``time``
            (an import from an audit log): they are left out of the translation, which is then incomplete.
        served_known: Whether the journal recorded what was served and applied. False for an import: the served
            routes are then the last translation Gloo pushed (Gloo's rule, not an observation; see
            :meth:`Timeline.state_at`), and the applied ones are unknown (empty).
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
    served_listeners: list[Mapping[str, Any]] | None = None
    unknown: Mapping[str, str] = field(default_factory=dict)
    served_known: bool = True

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


def state_at(events: EventIndex, starts: Sequence[datetime], profile: Profile, blocked: Sequence[Blocked],
             when: datetime, proxy: str | None = None, *, secrets_unreadable: Sequence[str] = ()) -> StateAt:
    """Rebuild everything as it was at ``when``.

    Args:
        events: The journal's events.
        starts: When each recording started (``recorder.start``), by time.
        profile: The Gloo behaviour profile to translate with.
        blocked: The timeline's blocked rows.
        when: A timezone-aware time.
        proxy: The proxy recorded (``recorder.start``'s ``proxy``), whose translation is rebuilt.
        secrets_unreadable: Per recording (same order as ``starts``), why it holds no Secrets (``""``: it does).

    Returns:
        The state: resources, translation, findings, served and applied routes, blocked rows.
    """
    objects: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    datas: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    unknown: dict[tuple[str, str, str], str] = {}
    before = [s for s in starts if s <= when]
    since = before[-1] if before else None
    unreadable = secrets_unreadable[len(before) - 1] if before and len(secrets_unreadable) >= len(before) else ""
    kube_times, kube_datas = events.kube
    first = bisect.bisect_left(kube_times, since) if since is not None else 0
    # Objects from before the latest recording are dropped: it listed everything again.
    for d in kube_datas[first:bisect.bisect_right(kube_times, when)]:
        ident = ident_of(d)
        if d.get("type") == "DELETED":
            objects.pop(ident, None)
            datas.pop(ident, None)
            unknown.pop(ident, None)
        elif d.get("contentUnknown") is not None:
            objects.pop(ident, None)
            datas.pop(ident, None)
            unknown[ident] = str(d["contentUnknown"])
        else:
            unknown.pop(ident, None)
            objects[ident] = d.get("object") or {}
            datas[ident] = d
    parsed = ParseResult()
    for ident in sorted(objects):
        if ident[0] in TRANSLATED_KINDS:
            one = parse_recorded_event(datas[ident])
            parsed.resources.extend(one.resources)
            parsed.findings.extend(one.findings)
            parsed.skipped.extend(one.skipped)
    snapshot = Snapshot.from_resources(parsed.resources)
    if unreadable:
        snapshot = replace(snapshot, secrets_unreadable=unreadable)
    translation = translate(snapshot, profile, proxy=proxy)
    update = events.served_at(when)
    served_versions: dict[str, str] = {}
    for u in events.updates[:bisect.bisect_right(events.update_times, when)]:
        served_versions[u.type_url] = u.version
    applied_routes: dict[str, list[dict[str, Any]]] = {}
    applied_versions: dict[str, Mapping[str, str]] = {}
    rejected: dict[str, Mapping[str, int]] = {}
    for node, polls in events.polls.items():
        k = bisect.bisect_right(events.poll_times[node], when) - 1
        if k < 0:
            continue
        poll = polls[k]
        applied_routes[node] = events.rows_of(poll.route_digest) or []
        applied_versions[node] = dict(poll.versions)
        rejected[node] = dict(poll.rejected)
    return StateAt(
        time=when, objects=objects, parsed=parsed, translation=translation,
        findings=[*parsed.findings, *translation.findings],
        intent_routes=route_rows(translation.envoy),
        served_routes=(events.rows_of(update.digest) or []) if update else [],
        served_versions=served_versions, applied_routes=applied_routes, applied_versions=applied_versions,
        rejected=rejected,
        blocked=[b for b in blocked if b.start <= when and (b.end is None or when < b.end)],
        served_listeners=events.served_resources_at(TYPE_LISTENER, when),
        unknown={unknown_ref(k): why for k, why in sorted(unknown.items())}, served_known=events.served_recorded)
