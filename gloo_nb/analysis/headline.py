"""The headline: the answer an on-call engineer needs first, in one sentence, then the fix options.

Pure: built from an :class:`~gloo_nb.analysis.inspection.Inspection` (its translation and drift rows) and, where
known, who changed which resource and when (:class:`ResourceChange`: a sandbox's audit log, Kubernetes
``managedFields`` or a journal's changes). What it cannot know it says (``changed by unknown``, ``since unknown``).

For the seed incident (Gloo 1.3, echo's upstream typo while foxtrot changes weights) it reads::

    foxtrot's change to foxtrot/foxtrot-routes is NOT served (2.6 s): Gloo keeps its last good configuration
    because echo/echo-routes (team echo, changed by echo-dev) names upstream echo-typo, which does not exist.

Roles (:data:`ROLES`) keep culprit and victim apart in every view: the ``cause`` (the resource whose content is
invalid), the ``broken`` destination (a missing upstream), the ``blocked`` victim (a change held back by someone
else's problem) and the ``replaced`` route (answered by Gloo's fallback).

The ``replaceInvalidRoutes`` option is not guessed: the same snapshot is translated again with the Settings
patched (``spec.gloo.invalidConfigPolicy.replaceInvalidRoutes: true``, Gloo's
``projects/gloo/pkg/plugins/basicroute``/``projects/gloo/pkg/translator`` route replacement as
:mod:`gloo_nb.translate` models it), and its routes are compared with the intent's.
"""

from __future__ import annotations

import html as _html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from gloo_nb.analysis.drift import DriftRow, route_key
from gloo_nb.analysis.inspection import inspection_at
from gloo_nb.models import Finding, ResourceKey, Settings
from gloo_nb.models.audit import WRITE_VERBS, AuditError, parse_audit_event
from gloo_nb.models.resources import InvalidConfigPolicy, Route
from gloo_nb.translate import Translation, translate
from gloo_nb.translate.envoy import FALLBACK_CLUSTER
from gloo_nb.translate.routes import RouteId, RouteRow, action_clusters, fallback_label, route_rows

__all__ = ["CONTROL_PLANE_DOWN", "ROLES", "ROLE_COLOURS", "ROLE_MEANINGS", "ROLE_WORDS", "Culprit", "FixOption",
           "Headline", "ResourceChange", "Victim", "changes_from_audit", "changes_from_objects", "headline",
           "headline_at", "read_audit_changes", "route_label", "team_of"]

ROLES = ("cause", "broken", "blocked", "replaced")
"""Roles of a route, resource or destination in a problem (``""``: none)."""

ROLE_MEANINGS: dict[str, str] = {
    "cause": "CAUSE: its own content is invalid (it keeps Gloo on its last good configuration)",
    "broken": "BROKEN destination: names an upstream that does not exist",
    "blocked": "HELD BACK: its change is valid but not served, because of another resource's problem",
    "replaced": "REPLACED: Gloo answers it with its fallback response",
}
"""One line per role, for legends and tooltips."""

ROLE_COLOURS: dict[str, str] = {
    "cause": "#7f0000",
    "broken": "#4e342e",
    "blocked": "#ad1457",
    "replaced": "#1565c0",
}
"""Colour of each role (:data:`gloo_nb.analysis.headline.ROLES`): culprit and victim never share a colour."""

ROLE_WORDS: dict[str, str] = {
    "cause": "CAUSE",
    "broken": "broken destination",
    "blocked": "held back",
    "replaced": "replaced by fallback",
}
"""The word shown for each role (its meaning: :data:`gloo_nb.analysis.headline.ROLE_MEANINGS`)."""

UNKNOWN = "unknown"


class ChangeLike(Protocol):
    """A change to a resource (:class:`ResourceChange`, or a journal's ``gloo_nb.analysis.timeline.Change``)."""

    @property
    def time(self) -> datetime: ...  # noqa: D102
    @property
    def kind(self) -> str: ...  # noqa: D102
    @property
    def namespace(self) -> str: ...  # noqa: D102
    @property
    def name(self) -> str: ...  # noqa: D102
    @property
    def actor(self) -> str: ...  # noqa: D102


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """Who wrote a resource, and when.

    Attributes:
        time: When (timezone-aware).
        kind: The resource's kind.
        namespace: Its namespace.
        name: Its name.
        actor: Who (a user, else a field manager, else ``unknown``).
    """

    time: datetime
    kind: str
    namespace: str
    name: str
    actor: str


def _esc(value: Any) -> str:
    return _html.escape(str(value))


def team_of(resource: str) -> str:
    """The team of a resource: its namespace (``echo/echo-routes`` -> ``echo``; ``""`` when unknown)."""
    return resource.partition("/")[0] if "/" in resource else ""


def route_label(resource: str, match: str, fallback: str = "") -> str:
    """How a route is named for people: its owning team and its match, e.g. ``foxtrot: prefix /foxtrot``.

    Args:
        resource: The owning resource (``ns/name``), ``""`` when unknown.
        match: The match summary.
        fallback: What stands for the team when the owner is unknown (e.g. the virtual host).

    Returns:
        The label.
    """
    team = team_of(resource) or fallback or "?"
    return f"{team}: {match}"


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


def changes_from_audit(lines: Iterable[str]) -> list[ResourceChange]:
    """Writes of an audit log: ``audit.k8s.io/v1`` Event JSON lines (a sandbox's ``audit.jsonl``, kube-apiserver's).

    Each line is read with :func:`gloo_nb.models.audit.parse_audit_event`.

    Only writes that happened count: refused ones (non-2xx) and dry runs are skipped, as are status writes
    (``subresource: status``, the control plane's: not changes of intent), ``deletecollection`` (it names no object),
    kinds gloo_nb does not read and lines that do not read. The actor is the impersonated user when the request was
    impersonated (``kubectl --as``), else the user.

    Args:
        lines: The lines.

    Returns:
        The changes, in file order.
    """
    out = []
    for number, line in enumerate(lines, 1):
        try:
            event = parse_audit_event(json.loads(line), where=f"line {number}")
        except (ValueError, AuditError):
            continue
        if (event is None or event.verb not in WRITE_VERBS or event.subresource or not event.ok or event.dry_run
                or not event.name):
            continue
        out.append(ResourceChange(event.time, event.kind, event.namespace, event.name, event.actor or UNKNOWN))
    return out


def read_audit_changes(path: str | Path) -> list[ResourceChange]:
    """:func:`changes_from_audit` of a file; nothing when it cannot be read.

    Args:
        path: ``<sandbox state dir>/audit.jsonl``.

    Returns:
        The changes.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return changes_from_audit(f)
    except OSError:
        return []


def changes_from_objects(objects: Iterable[Mapping[str, Any]]) -> list[ResourceChange]:
    """The last write of each Kubernetes object, from its newest ``metadata.managedFields`` entry.

    The actor is a field manager, not a user: Kubernetes records no user there.

    Args:
        objects: Kubernetes objects as read (with ``managedFields``).

    Returns:
        One change per object that has a dated entry.
    """
    out = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        entries = [e for e in meta.get("managedFields") or [] if isinstance(e, Mapping) and not e.get("subresource")]
        dated = [(t, e) for e in entries if (t := _parse_time(str(e.get("time") or ""))) is not None]
        if not dated:
            continue
        when, newest = max(dated, key=lambda p: p[0])
        out.append(ResourceChange(when, str(obj.get("kind") or ""), str(meta.get("namespace") or ""),
                                  str(meta.get("name") or ""), str(newest.get("manager") or UNKNOWN)))
    return out


@dataclass(frozen=True, slots=True)
class Culprit:
    """A resource whose own content keeps Gloo from serving (or makes it replace a route).

    Attributes:
        resource: ``ns/name``.
        kind: Its kind.
        team: Its team (namespace).
        actor: Who changed it last (``unknown`` when not known).
        messages: Gloo's messages about it, in full.
        missing: The upstreams its routes name that do not exist (``ns/name``).
    """

    resource: str
    kind: str
    team: str
    actor: str
    messages: tuple[str, ...]
    missing: tuple[str, ...] = ()

    def phrase(self) -> str:
        """``echo/echo-routes (team echo, changed by echo-dev) names upstream echo-typo, which does not exist``."""
        who = f"{self.resource} (team {self.team or '?'}, changed by {self.actor})"
        if self.missing:
            names = ", ".join(m.partition("/")[2] or m for m in self.missing)
            if len(self.missing) == 1:
                return f"{who} names upstream {names}, which does not exist"
            return f"{who} names upstreams {names}, which do not exist"
        return f"{who}: " + "; ".join(self.messages) if self.messages else who


@dataclass(frozen=True, slots=True)
class Victim:
    """A team whose routes are not served as it intends because of the problem.

    Attributes:
        team: The team (namespace).
        resource: Its resource (``ns/name``).
        routes: Its routes affected, labelled with the team (:func:`route_label`).
        since: When its change was made (None when unknown).
        seconds: How long ago, at the headline's ``now`` (None when unknown).
        actor: Who made the change (``unknown`` when not known).
    """

    team: str
    resource: str
    routes: tuple[str, ...]
    since: datetime | None
    seconds: float | None
    actor: str

    def duration(self) -> str:
        """``2.6 s``, or ``since unknown``."""
        return "since unknown" if self.seconds is None else f"{self.seconds:.1f} s"


@dataclass(frozen=True, slots=True)
class FixOption:
    """One way out, and what it would do to whom.

    Attributes:
        action: ``revert`` or ``replaceInvalidRoutes``.
        text: The option in one line.
        replaced: Routes Gloo would answer with its fallback (team-labelled), for ``replaceInvalidRoutes``.
        served: Resources whose held-back changes would then be served.
        still_blocked: Whether Gloo would still keep its last good configuration.
    """

    action: str
    text: str
    replaced: tuple[str, ...] = ()
    served: tuple[str, ...] = ()
    still_blocked: bool = False


@dataclass(frozen=True)
class Headline:
    """What is wrong, for whom, since when, caused by whom, and the fix options.

    Attributes:
        state: The most severe drift state found, or ``ok``.
        text: The headline in one line.
        details: Further lines (other problems, one a line).
        culprits: The causing resources.
        victims: The teams hurt.
        fixes: The fix options.
        roles: Per drift row's route identity, its role (:data:`ROLES`).
        cause_resources: The resources that cause the problem (``ns/name``).
    """

    state: str
    text: str
    details: tuple[str, ...] = ()
    culprits: tuple[Culprit, ...] = ()
    victims: tuple[Victim, ...] = ()
    fixes: tuple[FixOption, ...] = ()
    roles: Mapping[RouteId, str] | None = None
    cause_resources: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return self.state == "ok"

    def lines(self) -> list[str]:
        """The headline, the other problems, then each fix option (``fix: ...``)."""
        return [self.text, *self.details, *(f"fix: {f.text}" for f in self.fixes)]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def html(self) -> str:
        """The headline as HTML: the sentence in bold, other problems below it, then the fix options.

        Nothing is cut: long names and messages wrap. A problem is red, all well green.

        Returns:
            ``<div class="gloo-nb-headline" data-state="...">...</div>``.
        """
        background, colour = ("#e8f5e9", "#2e7d32") if self.ok else ("#ffebee", "#b71c1c")
        parts = [f'<div style="font-weight:bold;color:{colour}">{_esc(self.text)}</div>']
        parts += [f"<div>{_esc(d)}</div>" for d in self.details]
        if self.fixes:
            parts.append('<div>fix options:<ul style="margin:2px 0">'
                         + "".join(f"<li><b>{_esc(f.action)}</b>: {_esc(f.text)}</li>" for f in self.fixes)
                         + "</ul></div>")
        return (f'<div class="gloo-nb-headline" data-state="{_esc(self.state)}" style="background:{background};'
                f'padding:6px 10px;margin:4px 0;border-left:4px solid {colour};white-space:normal;'
                f'overflow-wrap:anywhere">' + "".join(parts) + "</div>")

    def _repr_html_(self) -> str:
        # Jupyter shows the HTML; saved notebooks keep it (and the text below) without a widget front end.
        return self.html()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def as_json(self) -> dict[str, Any]:
        """The headline as JSON (times RFC 3339, seconds as numbers)."""
        return {
            "state": self.state, "text": self.text, "details": list(self.details),
            "culprits": [{"resource": c.resource, "kind": c.kind, "team": c.team, "actor": c.actor,
                          "messages": list(c.messages), "missingUpstreams": list(c.missing)} for c in self.culprits],
            "victims": [{"team": v.team, "resource": v.resource, "routes": list(v.routes),
                         "since": v.since.isoformat() if v.since else None, "seconds": v.seconds, "actor": v.actor}
                        for v in self.victims],
            "fixes": [{"action": f.action, "text": f.text, "replaced": list(f.replaced), "served": list(f.served),
                       "stillBlocked": f.still_blocked} for f in self.fixes],
        }


# --- building it ----------------------------------------------------------------------------------------------


def _last_changes(changes: Iterable[ChangeLike], now: datetime | None) -> dict[str, ChangeLike]:
    out: dict[str, ChangeLike] = {}
    for c in changes:
        if now is not None and c.time > now:
            continue
        ref = f"{c.namespace}/{c.name}"
        if ref not in out or c.time >= out[ref].time:
            out[ref] = c
    return out


def _resource_routes(translation: Translation, key: ResourceKey) -> Sequence[Route]:
    snap = translation.snapshot
    if key.kind == "RouteTable":
        rt = next((r for r in snap.route_tables if r.key == key), None)
        return rt.routes if rt is not None else ()
    vs = next((v for v in snap.virtual_services if v.key == key), None)
    return vs.virtual_host.routes if vs is not None and vs.virtual_host is not None else ()


def _missing_upstreams(translation: Translation, key: ResourceKey, messages: Sequence[str]) -> tuple[str, ...]:
    # Gloo names a missing upstream as `*v1.Upstream {name namespace} not found` (1.3, gateway's
    # route_table_translator / reporter) or `list did not find upstream namespace.name` (current,
    # projects/gloo/pkg/plugins/utils/upstreams.go); the route's destinations say which one, the snapshot
    # whether it exists.
    have = {(u.meta.namespace, u.meta.name) for u in translation.snapshot.upstreams}
    out: dict[str, None] = {}
    for route in _resource_routes(translation, key):
        act = route.route_action
        if act is None:
            continue
        dests = [act.single] if act.single is not None else [w.destination for w in act.multi or ()]
        for d in dests:
            if d is None or d.upstream is None:
                continue
            ns = d.upstream.namespace or key.namespace
            name = d.upstream.name
            if (ns, name) in have:
                continue
            if any(f"{{{name} {ns}}}" in m or f"{ns}.{name}" in m or name in m for m in messages):
                out[f"{ns}/{name}"] = None
    return tuple(out)


def _culprits(translation: Translation, findings: Sequence[Finding], refs: Iterable[str],
              last: Mapping[str, ChangeLike]) -> list[Culprit]:
    out = []
    for ref in dict.fromkeys(refs):
        mine = [f for f in findings if f.origin.ref == ref]
        if not mine:
            continue
        key = mine[0].origin
        messages = tuple(dict.fromkeys(f.message for f in mine))
        change = last.get(ref)
        out.append(Culprit(ref, key.kind, key.namespace, change.actor if change else UNKNOWN, messages,
                           _missing_upstreams(translation, key, messages)))
    return out


def _victims(rows: Sequence[DriftRow], last: Mapping[str, ChangeLike], now: datetime | None) -> list[Victim]:
    return _victims_of([(r.resource, r.match, r.virtual_host) for r in rows], last, now)


def _victims_of(routes: Sequence[tuple[str, str, str]], last: Mapping[str, ChangeLike],
                now: datetime | None) -> list[Victim]:
    """One victim per owning resource of ``(resource, match, virtual host)`` routes, with its last change."""
    by_resource: dict[str, list[tuple[str, str, str]]] = {}
    for route in routes:
        by_resource.setdefault(route[0], []).append(route)
    out = []
    for resource, mine in by_resource.items():
        change = last.get(resource)
        since = change.time if change else None
        seconds = (now - since).total_seconds() if since is not None and now is not None else None
        out.append(Victim(team_of(resource), resource, tuple(route_label(res, m, vh) for res, m, vh in mine), since,
                          seconds, change.actor if change else UNKNOWN))
    return out


def _broken_routes(inspection: Any, roles: Mapping[RouteId, str]) -> list[tuple[str, RouteRow, list[str]]]:
    """Routes the reference source (served, else intent) sends to a cluster the intent does not have.

    Envoy answers 503 for a cluster it does not know (``cluster_not_found``); this happens where Gloo serves a route
    to a missing upstream (current profile: the sanitized snapshot is pushed). Routes already in a blocked or
    replaced role are left to those lines.
    """
    rows: Sequence[RouteRow] = inspection.rows
    if not rows:
        return []
    reference = "served" if any(r.source == "served" for r in rows) else "intent"
    known = {c.name for c in inspection.translation.envoy.clusters} | {FALLBACK_CLUSTER}
    resources: Mapping[RouteId, str] = inspection.resources
    out = []
    for row in rows:
        if row.source != reference or row.replaced or row.id in roles:
            continue
        missing = [c for c in action_clusters(row.action) if c and c not in known]
        if missing:
            out.append((resources.get(row.id, ""), row, missing))
    return out


def _and(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _patched_settings(settings: Settings) -> Settings:
    policy = settings.invalid_config_policy
    # The seed scenario's settings-patch.yaml sets 404; a code already configured is kept (Gloo answers it).
    code = policy.invalid_route_response_code or 404
    patched: InvalidConfigPolicy = replace(policy, replace_invalid_routes=True, invalid_route_response_code=code)
    return replace(settings, invalid_config_policy=patched)


def _intent_rows(translation: Translation) -> list[RouteRow]:
    return route_rows(translation.envoy.route_configurations, "intent",
                      fallback_body=fallback_label(translation.envoy.listeners))


def _replace_option(translation: Translation, blocked: Sequence[DriftRow]) -> FixOption | None:
    """What ``replaceInvalidRoutes: true`` would do: the same snapshot translated with the Settings patched."""
    if translation.settings.invalid_config_policy.replace_invalid_routes:
        return None
    snapshot = replace(translation.snapshot, settings=_patched_settings(translation.settings))
    patched = translate(snapshot, translation.profile, proxy=translation.proxy.name)
    owners = {k: s[0].ref for k, s in patched.route_sources().items()}
    rows = {route_key(r): r for r in _intent_rows(patched)}
    replaced = [route_label(owners.get(i, ""), r.match_summary, i.virtual_host) for i, r in rows.items() if r.replaced]
    answers = _and(list(dict.fromkeys(r.action_summary for r in rows.values() if r.replaced)))
    served = []
    for d in blocked:
        new = rows.get(d.id)
        if new is not None and not new.replaced and new.action_summary == d.by_source.get("intent"):
            served.append(d.resource)
    served = list(dict.fromkeys(served))
    still = patched.push.decision == "keep-last-good"
    code = patched.settings.invalid_config_policy.invalid_route_response_code
    text = f"set Settings replaceInvalidRoutes: true (invalidRouteResponseCode {code}): "
    if still:
        text += f"Gloo would still keep its last good configuration ({patched.push.reason})"
    else:
        parts = []
        if replaced:
            parts.append(f"Gloo answers {_and(replaced)} with its fallback ({answers}) instead")
        if served:
            parts.append(f"{_and([f'{team_of(s)} gets its change to {s} served' for s in served])}")
        text += "; ".join(parts) or "nothing would change"
    return FixOption("replaceInvalidRoutes", text, tuple(replaced), tuple(served), still)


def _revert_option(culprits: Sequence[Culprit], outcome: str) -> FixOption:
    what = []
    for c in culprits:
        names = f" (upstream {', '.join(m.partition('/')[2] for m in c.missing)})" if c.missing else ""
        what.append(f"{c.resource}{names}, last changed by {c.actor}")
    return FixOption("revert", f"revert or fix {_and(what)}: {outcome}")


CONTROL_PLANE_DOWN = "Gloo's control plane is down"
"""How a live source's ``served_unavailable`` begins when no gloo pod is ready (the headline's first problem)."""

_PRIORITY = ("control-plane-down", "blocked-by-last-known-good", "replaced-by-fallback", "broken-destination",
             "rejected-by-envoy", "replica-lagging", "pending")
"""Which problem leads the headline: the one hurting the most traffic first."""


def headline(inspection: Any, *, changes: Iterable[ChangeLike] = (), now: datetime | None = None) -> Headline:
    """The headline of an inspection: what is not served, for whom, since when, caused by whom, and the fixes.

    Args:
        inspection: An :class:`~gloo_nb.analysis.inspection.Inspection` (live, a bundle's or a journal moment's).
        changes: Who changed which resource when (:func:`read_audit_changes`, :func:`changes_from_objects`, or a
            journal's ``Timeline.changes``); the last one at or before ``now`` counts.
        now: The time the inspection stands for (for "since when"); None: durations are unknown.

    Returns:
        The headline (``text`` one line; ``lines()`` with the fix options).
    """
    translation: Translation = inspection.translation
    drift: Sequence[DriftRow] = inspection.drift
    findings = [f for f in inspection.findings if f.layer != "parse"]
    last = _last_changes(changes, now)
    by_state: dict[str, list[DriftRow]] = {}
    for d in drift:
        by_state.setdefault(d.state, []).append(d)
    roles: dict[RouteId, str] = {}
    lines: list[tuple[str, str, list[Culprit], list[Victim], list[FixOption]]] = []

    # What the control plane serves could not be read (a live source's reason: GatewayConnection.served_now).
    unread = str(getattr(inspection, "served_unavailable", "") or "")
    if unread.startswith(CONTROL_PLANE_DOWN):
        ns = translation.proxy.namespace or "gloo-system"
        fix = FixOption("restore", f"bring Gloo's control plane back (kubectl -n {ns} scale deploy/gloo --replicas=1, "
                                   f"or see why its pod is not Ready: kubectl -n {ns} describe pods -l gloo=gloo)")
        lines.append(("control-plane-down", f"{unread}: the Envoy replicas keep serving what they last applied; no "
                                            "change is served until it is back.", [], [], [fix]))

    blocked = by_state.get("blocked-by-last-known-good", [])
    cause_refs = [c.ref for c in translation.block_causes() if c.ref] if blocked else []
    if blocked:
        culprits = _culprits(translation, findings, cause_refs, last)
        causes = {c.resource for c in culprits} | set(cause_refs)
        held = [d for d in blocked if d.resource not in causes]
        for d in blocked:
            roles[d.id] = d.role or ("blocked" if d.resource not in causes else "cause")
        victims = _victims(held or blocked, last, now)
        because = _and([c.phrase() for c in culprits]) or (
            "; ".join(c.text() for c in translation.block_causes()) or translation.push.reason)
        changed = _and([f"{v.team}'s change to {v.resource}" for v in victims])
        verb = "is" if len(victims) == 1 else "are"
        durations = ", ".join(v.duration() for v in victims)
        text = (f"{changed} {verb} NOT served ({durations}): Gloo keeps its last good configuration "
                f"because {because}.")
        fixes = [_revert_option(culprits, "Gloo pushes again and every held-back change is served")] if culprits \
            else []
        option = _replace_option(translation, blocked)
        if option is not None:
            fixes.append(option)
        lines.append(("blocked-by-last-known-good", text, culprits, victims, fixes))

    replaced = by_state.get("replaced-by-fallback", [])
    if replaced:
        refs = [d.resource for d in replaced]
        culprits = _culprits(translation, findings, refs, last)
        for d in replaced:
            roles[d.id] = "replaced"
        victims = _victims(replaced, last, now)
        losses = _and([f"{v.team} loses {_and(list(v.routes))} ({v.resource}, {v.duration()})" for v in victims])
        because = _and([c.phrase() for c in culprits]) or _and(list(dict.fromkeys(d.cause for d in replaced)))
        text = f"{losses}: Gloo answers with its fallback response ({replaced[0].reference_cell.action}) " \
               f"because {because}."
        fixes = [_revert_option(culprits, "Gloo serves the route again")] if culprits else []
        lines.append(("replaced-by-fallback", text, culprits, victims, fixes))

    rejected = by_state.get("rejected-by-envoy", [])
    if rejected:
        victims = _victims(rejected, last, now)
        replicas = sorted({src for d in rejected for src, c in d.cells.items() if c.state == "rejected-by-envoy"})
        why = "; ".join(dict.fromkeys(d.cause for d in rejected))
        routes = _and([r for v in victims for r in v.routes])
        text = (f"Envoy replica(s) {', '.join(replicas)} rejected the served configuration: {routes} "
                f"{'is' if len(rejected) == 1 else 'are'} not applied there ({why}).")
        fixes = [FixOption("fix", "fix what Envoy refuses (the replica's log names it); the replica keeps its last "
                                  "accepted configuration until then")]
        lines.append(("rejected-by-envoy", text, [], victims, fixes))

    lagging = by_state.get("replica-lagging", [])
    if lagging:
        victims = _victims(lagging, last, now)
        replicas = sorted({src for d in lagging for src, c in d.cells.items() if c.state == "replica-lagging"})
        routes = _and([r for v in victims for r in v.routes])
        what = "the intended configuration (what the control plane serves was not read)" if unread else \
            "the served configuration yet"
        lines.append(("replica-lagging", f"Replica(s) {', '.join(replicas)} have not applied {what}: {routes}.",
                      [], victims, []))

    pending = by_state.get("pending", [])
    if pending:
        victims = _victims(pending, last, now)
        changed = _and([f"{v.team}'s change to {v.resource} ({v.duration()})" for v in victims])
        lines.append(("pending", f"{changed} {'is' if len(victims) == 1 else 'are'} not served yet: the control "
                                 "plane has not served the intended configuration yet.", [], victims, []))

    broken = _broken_routes(inspection, roles)
    if broken:
        refs = [r for r, _, _ in broken]
        culprits = _culprits(translation, findings, refs, last)
        for _, row, _ in broken:
            roles.setdefault(row.id, "broken")
        routes = _and([f"{route_label(r, row.match_summary, row.virtual_host)} ({', '.join(missing)})"
                       for r, row, missing in broken])
        because = _and([c.phrase() for c in culprits]) or "its destination does not exist"
        text = (f"{routes} {'answers' if len(broken) == 1 else 'answer'} 503 (Envoy has no such cluster) because "
                f"{because}.")
        fixes = [_revert_option(culprits, "the route is served again")] if culprits else []
        option = _replace_option(translation, [])
        if option is not None:
            fixes.append(option)
        victims = _victims_of([(r, row.match_summary, row.virtual_host) for r, row, _ in broken], last, now)
        lines.append(("broken-destination", text, culprits, victims, fixes))

    if not lines:
        unmodelled = len(by_state.get("unmodelled", []))
        text = (f"Everything is served as intended: intent, served and every replica agree on all {len(drift)} "
                f"route(s)." if drift else "No routes: nothing is served, nothing is intended.")
        if unread:
            # Never "served" agreement that was not read.
            text = (f"Everything intended is applied: intent and every replica agree on all {len(drift)} route(s); "
                    f"what the control plane serves was not read ({unread})." if drift else
                    f"No routes: nothing is applied, nothing is intended; what the control plane serves was not "
                    f"read ({unread}).")
        if unmodelled:
            text = text[:-1] + f" ({unmodelled} use features gloo_nb does not predict)."
        quiet = [f for f in findings if f.severity in ("error", "warning")]
        details = (f"{len(quiet)} finding(s) with no effect on traffic found: see the findings.",) if quiet else ()
        return Headline("ok", text, details, roles={})
    lines.sort(key=lambda line: _PRIORITY.index(line[0]))
    state, text, culprits, victims, fixes = lines[0]
    every_culprit = [c for line in lines for c in line[2]]
    return Headline(state, text, tuple(t for _, t, *_ in lines[1:]), tuple(every_culprit),
                    tuple(v for line in lines for v in line[3]), tuple(f for line in lines for f in line[4]),
                    roles, frozenset(c.resource for c in every_culprit) | frozenset(cause_refs))


def headline_at(timeline: Any, time: datetime, nacks: Any = None) -> Headline:
    """The headline of one moment of a journal: the inspection then, with the journal's writers and times.

    Args:
        timeline: A loaded :class:`gloo_nb.analysis.timeline.Timeline`.
        time: The moment.
        nacks: ``timeline.nacks_frame()`` (computed when not given).

    Returns:
        The headline as it would have read at ``time``.
    """
    inspection = inspection_at(timeline.state_at(time), timeline.nacks_frame() if nacks is None else nacks)
    return headline(inspection, changes=timeline.changes, now=time)
