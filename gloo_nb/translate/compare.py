"""What another Gloo version would do differently with the same resources: the seed scenario's lesson as a tool.

Pure: two translations of one snapshot (one per behaviour profile) in, a :class:`Comparison` out. It lists, per
resource, Gloo's reports (state, errors, warnings, reason); per proxy, the push decision (Gloo 1.3's
whole-proxy keep-last-good: ``projects/gloo/pkg/syncer/envoy_translator_syncer.go@v1.3.20:syncEnvoy`` calls
``updateEndpointsOnly`` when ``SanitizeSnapshot`` fails, which ``RouteReplacingSanitizer.SanitizeSnapshot`` does
with ``reports.ValidateStrict()`` (warnings too) when route replacement is off; against current Gloo's sanitized
push, ``syncer/sanitizer/*.go``; the decision itself is :class:`~gloo_nb.translate.translator.Translator`'s), and
every Envoy route (by :class:`~gloo_nb.translate.routes.RouteId`, since Gloo 1.3 routes have no names) and cluster
whose fate or content differs.

Listeners, virtual hosts (their own fields; their routes one by one) and clusters are compared too, by name. Each
route, listener, virtual host and cluster has a *state* per profile, which says what Envoy gets after this snapshot:

- ``served``: Envoy is served it as translated;
- ``replaced``: served, but pointed at Gloo's fallback cluster (``route_replacing_sanitizer.go``);
- ``frozen``: translated, but the proxy keeps its last good configuration (keep-last-good), so Envoy does not get
  it; with a ``previous`` snapshot, what Envoy keeps serving in its place is known (``served``);
- ``kept``: not in this translation, but still served because the proxy keeps its last good configuration;
- ``absent``: neither.

The translations are those of a freshly started control plane (no earlier snapshot) unless ``previous`` is given:
then each profile's control plane first translates ``previous`` and remembers what it pushed, as a running Gloo
would have before the change.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from gloo_nb._types import JSON, PROFILES, Profile, check_profile
from gloo_nb.errors import UsageError
from gloo_nb.models import Resource, ResourceKey, Snapshot
from gloo_nb.translate.eds import Endpoints
from gloo_nb.translate.envoy import EnvoyResources
from gloo_nb.translate.reports import ResourceReport
from gloo_nb.translate.routes import RouteId, RouteRow, fallback_label, route_rows
from gloo_nb.translate.translator import PushDecision, Translation, Translator

__all__ = [
    "Comparison",
    "EnvoyDiff",
    "ProxyComparison",
    "ReportDiff",
    "RouteDiff",
    "RouteSide",
    "compare",
    "compare_translations",
    "parse_profile_pair",
]

SideState = Literal["served", "replaced", "frozen", "kept", "absent"]
"""What Envoy gets of a route or cluster after the snapshot (module docstring)."""

_WORDS: dict[str, str] = {
    "served": "served",
    "replaced": "replaced by the fallback",
    "frozen": "frozen",
    "kept": "kept from the last good configuration",
    "absent": "absent",
}


def parse_profile_pair(value: str | Sequence[str]) -> tuple[Profile, Profile]:
    """The two profiles to compare, from ``1.3,current`` (the first is the one you run, the second the other).

    Args:
        value: ``"A,B"`` or a pair of profile names.

    Returns:
        The two profiles, in the given order.

    Raises:
        UsageError: Not two names, an unknown name, or the same name twice (one line).
    """
    parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else [str(p) for p in value]
    if len(parts) != 2 or not all(parts):
        raise UsageError(f"--compare: expected two Gloo versions separated by a comma, e.g. "
                         f"{','.join(PROFILES)}; got {','.join(parts)!r}")
    a = check_profile(parts[0], source="--compare")
    b = check_profile(parts[1], source="--compare")
    if a == b:
        raise UsageError(f"--compare: give two different Gloo versions, e.g. {','.join(PROFILES)}; got {a} twice")
    return a, b


# --- the differences ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportDiff:
    """Gloo's report on one resource, where the two profiles differ.

    Attributes:
        key: The resource (kind ``Proxy`` for Gloo's report on a Proxy itself).
        reports: Per profile, Gloo's report, or None when that profile reports nothing on it.
    """

    key: ResourceKey
    reports: Mapping[str, ResourceReport | None]

    def as_json(self) -> JSON:
        """``{"kind", "namespace", "name", "byProfile": {profile: {"state", "errors", "warnings", "reason"}|null}}``."""
        return {"kind": self.key.kind, "namespace": self.key.namespace, "name": self.key.name,
                "byProfile": {p: None if r is None else {"state": r.state, "errors": list(r.errors),
                                                         "warnings": list(r.warnings), "reason": r.reason}
                              for p, r in self.reports.items()}}


@dataclass(frozen=True, slots=True)
class RouteSide:
    """One Envoy route in one profile's translation.

    Attributes:
        state: ``served``, ``replaced``, ``frozen``, ``kept`` or ``absent`` (module docstring).
        order: Its position in its virtual host in this translation (None when not translated).
        intended: The route as this profile translates it (None when it does not).
        served: The route Envoy is served after this snapshot (None when nothing is served, or not known:
            a keep-last-good with no earlier snapshot).
    """

    state: SideState
    order: int | None
    intended: RouteRow | None
    served: RouteRow | None

    def as_json(self) -> JSON:
        """``{"state", "order", "action", "actionSummary", "servedAction", "servedActionSummary"}``."""
        return {"state": self.state, "order": self.order,
                "action": None if self.intended is None else self.intended.action,
                "actionSummary": None if self.intended is None else self.intended.action_summary,
                "servedAction": None if self.served is None else self.served.action,
                "servedActionSummary": None if self.served is None else self.served.action_summary}

    def text(self) -> str:
        """e.g. ``frozen (translated -> echo_gloo-system {version=v2}; Envoy keeps its last good routes)``."""
        if self.state == "absent":
            return "absent"
        if self.state == "frozen":
            kept = (f"Envoy keeps serving -> {self.served.action_summary}" if self.served is not None
                    else "Envoy keeps its last good routes")
            return f"frozen (translated -> {self.intended.action_summary if self.intended else '?'}; {kept})"
        if self.state == "kept":
            return f"kept from the last good configuration -> {self.served.action_summary if self.served else '?'}"
        row = self.intended or self.served
        where = f" #{self.order}" if self.order is not None else ""
        return f"{_WORDS[self.state]}{where} -> {row.action_summary if row else '?'}"


@dataclass(frozen=True, slots=True)
class RouteDiff:
    """One Envoy route whose fate, action or position differs between the profiles.

    Attributes:
        route_configuration: The RouteConfiguration name.
        route: The route's identity (virtual host and match).
        match_summary: The match, readable (e.g. ``prefix /echo, stage=canary``).
        sources: The Gloo resources it comes from (its own first, then ancestors, then the VirtualService).
        sides: Per profile, the route there.
        changes: What differs: ``state``, ``action``, ``servedAction``, ``order``.
    """

    route_configuration: str
    route: RouteId
    match_summary: str
    sources: tuple[ResourceKey, ...]
    sides: Mapping[str, RouteSide]
    changes: tuple[str, ...]

    @property
    def resource(self) -> str:
        """The route's owner as ``ns/name`` (``""`` when it has no Gloo route)."""
        return self.sources[0].ref if self.sources else ""

    def as_json(self) -> JSON:
        """The route as JSON.

        Returns:
            ``{"routeConfiguration", "virtualHost", "match", "matchSummary", "resource", "sources", "changes",
            "byProfile": {profile: RouteSide.as_json()}}``.
        """
        return {"routeConfiguration": self.route_configuration, "virtualHost": self.route.virtual_host,
                "match": json.loads(self.route.match), "matchSummary": self.match_summary, "resource": self.resource,
                "sources": [{"kind": k.kind, "namespace": k.namespace, "name": k.name} for k in self.sources],
                "changes": list(self.changes), "byProfile": {p: s.as_json() for p, s in self.sides.items()}}


EnvoyKind = Literal["listener", "virtualHost", "cluster"]
"""The Envoy resources compared as a whole (routes are compared one by one, :class:`RouteDiff`)."""


@dataclass(frozen=True, slots=True)
class EnvoyDiff:
    """One Envoy listener, virtual host (without its routes) or cluster whose fate or content differs.

    Attributes:
        kind: ``listener``, ``virtualHost`` or ``cluster``.
        name: Its name.
        states: Per profile, ``served``, ``frozen``, ``kept`` or ``absent``.
        fields: The top-level fields (proto-JSON names) whose values differ where both profiles translate it
            (a virtual host's ``routes`` are left out: they are compared route by route).
        route_configuration: A virtual host's RouteConfiguration (``""`` for listeners and clusters).
    """

    kind: EnvoyKind
    name: str
    states: Mapping[str, SideState]
    fields: tuple[str, ...]
    route_configuration: str = ""

    def as_json(self) -> JSON:
        """``{"name", "fields", "byProfile": {profile: {"state"}}}``, plus ``routeConfiguration`` for a virtual host."""
        doc: JSON = {"name": self.name, "fields": list(self.fields),
                     "byProfile": {p: {"state": s} for p, s in self.states.items()}}
        if self.kind == "virtualHost":
            doc["routeConfiguration"] = self.route_configuration
        return doc


@dataclass(frozen=True, slots=True)
class ProxyComparison:
    """One proxy, in both profiles.

    Attributes:
        namespace: The proxy's namespace.
        name: The proxy's name.
        push: Per profile, the push decision (None when that profile has no such proxy).
        routes: The routes that differ, in the first profile's order, then the second's own.
        clusters: The clusters that differ, by name.
        listeners: The listeners that differ, by name.
        virtual_hosts: The virtual hosts whose own fields (domains, options...) or fate differ, routes left out.
        route_states: Per profile, how many routes are in each state (every route, not only differing ones).
    """

    namespace: str
    name: str
    push: Mapping[str, PushDecision | None]
    routes: tuple[RouteDiff, ...]
    clusters: tuple[EnvoyDiff, ...]
    route_states: Mapping[str, Mapping[str, int]]
    listeners: tuple[EnvoyDiff, ...] = ()
    virtual_hosts: tuple[EnvoyDiff, ...] = ()

    @property
    def ref(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def push_differs(self) -> bool:
        """Whether the push decisions differ (the decision itself, not its wording)."""
        decisions = {None if p is None else p.decision for p in self.push.values()}
        return len(decisions) > 1

    @property
    def identical(self) -> bool:
        """Whether both profiles do the same with this proxy."""
        return not (self.push_differs or self.routes or self.clusters or self.listeners or self.virtual_hosts)

    def as_json(self) -> JSON:
        """``{"namespace", "name", "push", "routeStates", "routes", "clusters", "listeners", "virtualHosts"}``."""
        return {"namespace": self.namespace, "name": self.name,
                "push": {"differs": self.push_differs,
                         "byProfile": {p: None if d is None else {"decision": d.decision, "reason": d.reason}
                                       for p, d in self.push.items()}},
                "routeStates": {p: dict(c) for p, c in self.route_states.items()},
                "routes": [r.as_json() for r in self.routes], "clusters": [c.as_json() for c in self.clusters],
                "listeners": [x.as_json() for x in self.listeners],
                "virtualHosts": [x.as_json() for x in self.virtual_hosts]}


@dataclass(slots=True)
class Comparison:
    """What the other Gloo version would do differently with the same resources.

    Attributes:
        profiles: ``(base, other)``: the version you run first, the one you consider second.
        reports: Resources whose reports differ.
        proxies: Every proxy either profile translates, the default proxy first, then by name.
        translations: Each profile's translation (for deeper looks; not part of the JSON).
    """

    profiles: tuple[Profile, Profile]
    reports: list[ReportDiff]
    proxies: list[ProxyComparison]
    translations: dict[str, Translation] = field(default_factory=dict, repr=False)

    @property
    def identical(self) -> bool:
        """Whether both profiles would do the same (same reports, push decisions, routes and clusters)."""
        return not self.reports and all(p.identical for p in self.proxies)

    def summary(self) -> list[str]:
        """The answer first: one sentence per difference, from the second profile's point of view.

        Returns:
            Sentences such as ``On current, VirtualService gloo-system/app would be Accepted instead of
            Warning`` or ``On current, 4 routes of proxy gloo-system/gateway-proxy would be served instead
            of frozen``.
        """
        a, b = self.profiles
        if self.identical:
            return [f"{a} and {b} would do the same with these resources: same reports, push decisions, "
                    "routes and clusters."]
        out: list[str] = []
        for d in self.reports:
            ra, rb = d.reports.get(a), d.reports.get(b)
            if ra is None or rb is None:
                out.append(f"On {b}, {d.key} would " + (f"be {rb.state} (no report on {a})" if rb is not None
                                                        else f"get no report (on {a}: {ra.state if ra else '?'})"))
            elif ra.state != rb.state:
                out.append(f"On {b}, {d.key} would be {rb.state} instead of {ra.state}")
            else:
                out.append(f"On {b}, {d.key} would be {rb.state} as on {a}, with other messages")
        for p in self.proxies:
            pa, pb = p.push.get(a), p.push.get(b)
            if pa is None or pb is None:
                out.append(f"On {b}, proxy {p.ref} would " + ("exist" if pb is not None else "not exist")
                           + f" ({'not there' if pa is None else 'there'} on {a})")
            elif p.push_differs:
                out.append(f"On {b}, proxy {p.ref} would " + (
                    "push its sanitized snapshot instead of keeping its last good configuration for the whole proxy"
                    if pb.decision == "push" else
                    "keep its last good configuration for the whole proxy instead of pushing"))
            moves = Counter((r.sides[a].state, r.sides[b].state) for r in p.routes
                            if r.sides[a].state != r.sides[b].state)
            for (sa, sb), n in moves.items():
                # With an earlier snapshot, what Envoy keeps serving is known: say how many of these change traffic.
                effect = sum(1 for r in p.routes if (r.sides[a].state, r.sides[b].state) == (sa, sb)
                             and "servedAction" in r.changes)
                tail = f" ({effect} of them would route differently)" if effect else ""
                out.append(f"On {b}, {_count(n, 'route')} of proxy {p.ref} would be {_WORDS[sb]} instead of "
                           f"{_WORDS[sa]}{tail}")
            elsewhere = sum(1 for r in p.routes if r.sides[a].state == r.sides[b].state
                            and ("action" in r.changes or "servedAction" in r.changes))
            if elsewhere:
                out.append(f"On {b}, {_count(elsewhere, 'route')} of proxy {p.ref} would route differently")
            moved = sum(1 for r in p.routes if r.changes == ("order",))
            if moved:
                out.append(f"On {b}, {_count(moved, 'route')} of proxy {p.ref} would be at another position")
            kinds = (("listener", p.listeners), ("virtual host", p.virtual_hosts), ("cluster", p.clusters))
            # One sentence per change of fate (a whole-proxy freeze moves them all alike), then one for content.
            fates: dict[tuple[str, str], list[str]] = {}
            for noun, diffs in kinds:
                fate = Counter((x.states[a], x.states[b]) for x in diffs if x.states[a] != x.states[b])
                for pair, n in fate.items():
                    fates.setdefault(pair, []).append(_count(n, noun))
            for (fa, fb), counts in fates.items():
                out.append(f"On {b}, {_and(counts)} of proxy {p.ref} would be {_WORDS[fb]} instead of {_WORDS[fa]}")
            built = [_count(n, noun) for noun, diffs in kinds if (n := sum(1 for x in diffs if x.fields))]
            if built:
                out.append(f"On {b}, {_and(built)} of proxy {p.ref} would be built differently")
        return out

    def text(self) -> str:
        """A readable diff: the summary first, then reports, push decisions, routes and clusters.

        Returns:
            The text, ending with a newline.
        """
        a, b = self.profiles
        lines = [f"Gloo {a} -> {b}", *self.summary()]
        if self.reports:
            lines += ["", "Reports:"]
            for d in self.reports:
                lines.append(f"  {d.key}")
                for p in self.profiles:
                    r = d.reports.get(p)
                    if r is None:
                        lines.append(f"    {p}: no report")
                        continue
                    lines.append(f"    {p}: {r.state}")
                    lines += [f"      error: {e}" for e in r.errors]
                    lines += [f"      warning: {w}" for w in r.warnings]
        for px in self.proxies:
            if px.identical:
                continue
            lines += ["", f"Proxy {px.ref}:"]
            for p in self.profiles:
                push = px.push.get(p)
                lines.append(f"  push on {p}: " + ("no such proxy" if push is None
                                                   else f"{push.decision} ({push.reason})"))
            for rd in px.routes:
                owner = f" [{rd.resource}]" if rd.resource else ""
                lines.append(f"  route {rd.route.virtual_host} {rd.match_summary or '(any)'}{owner}: "
                             f"{', '.join(rd.changes)}")
                lines += [f"    {p}: {rd.sides[p].text()}" for p in self.profiles]
            for x in (*px.listeners, *px.virtual_hosts, *px.clusters):
                what = ", ".join(f"{p} {x.states[p]}" for p in self.profiles)
                fields = f"; fields differ: {', '.join(x.fields)}" if x.fields else ""
                noun = "virtual host" if x.kind == "virtualHost" else x.kind
                lines.append(f"  {noun} {x.name}: {what}{fields}")
        return "\n".join(lines) + "\n"

    def document(self) -> JSON:
        """The ``gloo-nb translate --compare --json`` document (README, translate section).

        Returns:
            ``{"profiles", "identical", "summary", "reports", "proxies"}``.
        """
        return {"profiles": list(self.profiles), "identical": self.identical, "summary": self.summary(),
                "reports": [d.as_json() for d in self.reports], "proxies": [p.as_json() for p in self.proxies]}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# --- the pure core ------------------------------------------------------------------------------------------


def _reports(t: Translation) -> dict[ResourceKey, ResourceReport]:
    out = {r.key: r for r in t.reports}
    for px in t.proxies or [t]:
        # Gloo's report on the Proxy itself is a status too (the Proxy CR's, and gateway resources'
        # *v1.Proxy subresource status in current Gloo).
        if px.proxy_report is not None:
            out.setdefault(px.proxy_report.key, px.proxy_report)
    return out


def _report_diffs(a: Translation, b: Translation) -> list[ReportDiff]:
    ra, rb = _reports(a), _reports(b)
    keys = list(ra) + [k for k in rb if k not in ra]
    out = []
    for k in keys:
        x, y = ra.get(k), rb.get(k)
        if x is not None and y is not None and (x.errors, x.warnings) == (y.errors, y.warnings):
            continue
        out.append(ReportDiff(k, {a.profile: x, b.profile: y}))
    return out


_RouteKey = tuple[str, str, bytes, int]
"""(route configuration, virtual host, RouteMatch bytes, occurrence): one virtual host may hold a match twice.

The same identity as :class:`~gloo_nb.translate.routes.RouteId` (virtual host and match), keyed by the match's
deterministic proto bytes: encoding every match as canonical JSON cost most of a 20,000-route comparison, so a
:class:`RouteId` is made only for the routes that differ.
"""


def _keyed(envoy: EnvoyResources | None, source: str) -> dict[_RouteKey, RouteRow]:
    if envoy is None:
        return {}
    rows = route_rows(envoy.route_configurations, source, fallback_body=fallback_label(envoy.listeners))
    # route_rows lists routes in route configuration, virtual host and route order: the same walk.
    matches = (r.match.SerializeToString(deterministic=True)
               for rc in envoy.route_configurations for vh in rc.virtual_hosts for r in vh.routes)
    seen: Counter[tuple[str, str, bytes]] = Counter()
    out: dict[_RouteKey, RouteRow] = {}
    for row, match in zip(rows, matches, strict=True):
        k = (row.route_configuration, row.virtual_host, match)
        out[(*k, seen[k])] = row
        seen[k] += 1
    return out


def _route_side(key: _RouteKey, intended: Mapping[_RouteKey, RouteRow], served: Mapping[_RouteKey, RouteRow],
                frozen: bool) -> RouteSide:
    i, s = intended.get(key), served.get(key)
    order = i.order if i is not None else None
    if frozen:
        # envoy_translator_syncer.go@v1.3.20:syncEnvoy: a snapshot the sanitizer refuses is replaced by
        # updateEndpointsOnly (the last snapshot's listeners, routes and clusters, new endpoints): what this
        # translation made does not reach Envoy.
        if i is not None:
            return RouteSide("frozen", order, i, s)
        return RouteSide("kept" if s is not None else "absent", None, None, s)
    if i is None:
        return RouteSide("absent", None, None, None)
    # route_replacing_sanitizer.go: a route pointed at the fallback cluster is still served.
    return RouteSide("replaced" if i.replaced else "served", order, i, s)


def _envoy_state(name: Any, intended: Mapping[Any, Message], served: Mapping[Any, Message],
                 frozen: bool) -> SideState:
    if frozen:
        return "frozen" if name in intended else ("kept" if name in served else "absent")
    return "served" if name in intended else "absent"


def _envoy_diffs(kind: EnvoyKind, intended: Mapping[str, Mapping[Any, Message]],
                 served: Mapping[str, Mapping[Any, Message]], frozen: Mapping[str, bool],
                 pa: str, pb: str) -> tuple[EnvoyDiff, ...]:
    # Keys are names, or (route configuration, name) for virtual hosts.
    out = []
    for key in sorted({*intended[pa], *intended[pb], *served[pa], *served[pb]}):
        st: dict[str, SideState] = {p: _envoy_state(key, intended[p], served[p], frozen[p]) for p in (pa, pb)}
        fields: tuple[str, ...] = ()
        x, y = intended[pa].get(key), intended[pb].get(key)
        if x is not None and y is not None and x != y:
            dx, dy = MessageToDict(x), MessageToDict(y)
            fields = tuple(sorted(f for f in {*dx, *dy} if dx.get(f) != dy.get(f)))
        if st[pa] != st[pb] or fields:
            rc, name = key if isinstance(key, tuple) else ("", key)
            out.append(EnvoyDiff(kind, name, st, fields, rc))
    return tuple(out)


def _named(messages: Iterable[Any]) -> dict[Any, Message]:
    return {m.name: m for m in messages}


def _virtual_hosts(envoy: EnvoyResources | None) -> dict[Any, Message]:
    out: dict[Any, Message] = {}
    for rc in envoy.route_configurations if envoy is not None else ():
        for vh in rc.virtual_hosts:
            own = type(vh)()
            own.CopyFrom(vh)
            del own.routes[:]  # the routes are compared one by one
            out[(rc.name, vh.name)] = own
    return out


def _proxy_comparison(a: Translation | None, b: Translation | None, pa: Profile, pb: Profile) -> ProxyComparison:
    some = a if a is not None else b
    assert some is not None  # one of them has the proxy
    sides: dict[str, Translation | None] = {pa: a, pb: b}
    rows = {p: (_keyed(t.envoy, "intent") if t else {}) for p, t in sides.items()}
    # After a push, what is served is what was translated (the same object): decode it once.
    served = {p: ((rows[p] if t.served is t.envoy else _keyed(t.served, "served")) if t else {})
              for p, t in sides.items()}
    frozen: dict[str, bool] = {p: bool(t and t.push.decision == "keep-last-good") for p, t in sides.items()}
    keys = list(rows[pa]) + [k for k in rows[pb] if k not in rows[pa]]
    keys += [k for p in (pa, pb) for k in served[p] if k not in rows[pa] and k not in rows[pb]]
    keys = list(dict.fromkeys(keys))
    routes: list[RouteDiff] = []
    states: dict[str, Counter[str]] = {pa: Counter(), pb: Counter()}
    for key in keys:
        per: dict[str, RouteSide] = {p: _route_side(key, rows[p], served[p], frozen[p]) for p in (pa, pb)}
        for p, side in per.items():
            if side.state != "absent":
                states[p][side.state] += 1
        x, y = per[pa], per[pb]
        changes = []
        if x.state != y.state:
            changes.append("state")
        if x.intended is not None and y.intended is not None and x.intended.action != y.intended.action:
            changes.append("action")
        if x.served is not None and y.served is not None and x.served.action != y.served.action:
            changes.append("servedAction")
        if x.order is not None and y.order is not None and x.order != y.order:
            changes.append("order")
        if not changes:
            continue
        row = next(r for r in (x.intended, y.intended, x.served, y.served) if r is not None)
        sources: tuple[ResourceKey, ...] = ()
        for t in (a, b):
            if t is not None and not sources:
                sources = t.route_sources().get(row.id, ())
        routes.append(RouteDiff(key[0], row.id, row.match_summary, sources, per, tuple(changes)))
    def envoy(kind: EnvoyKind, pick: Any) -> tuple[EnvoyDiff, ...]:
        intended = {p: (pick(t.envoy) if t else {}) for p, t in sides.items()}
        kept = {p: (pick(t.served) if t and t.served else {}) for p, t in sides.items()}
        return _envoy_diffs(kind, intended, kept, frozen, pa, pb)

    push: dict[str, PushDecision | None] = {p: (t.push if t else None) for p, t in sides.items()}
    return ProxyComparison(some.proxy.namespace, some.proxy.name, push, tuple(routes),
                           envoy("cluster", lambda e: _named(e.clusters)), {p: dict(c) for p, c in states.items()},
                           envoy("listener", lambda e: _named(e.listeners)), envoy("virtualHost", _virtual_hosts))


def compare_translations(a: Translation, b: Translation) -> Comparison:
    """Compare two translations of the same resources, each by its own profile.

    Args:
        a: The base profile's translation (the version you run).
        b: The other profile's translation.

    Returns:
        The comparison, per resource and per proxy (every proxy of ``Translation.proxies``, matched by name).

    Raises:
        UsageError: When both translations have the same profile.
    """
    if a.profile == b.profile:
        raise UsageError(f"compare: both translations are of Gloo {a.profile}; give one of each version")
    by_a = {t.proxy.name: t for t in (a.proxies or [a])}
    by_b = {t.proxy.name: t for t in (b.proxies or [b])}
    default = a.proxy.name
    names = sorted({*by_a, *by_b}, key=lambda n: (n != default, n))
    proxies = [_proxy_comparison(by_a.get(n), by_b.get(n), a.profile, b.profile) for n in names]
    return Comparison((a.profile, b.profile), _report_diffs(a, b), proxies, {a.profile: a, b.profile: b})


def compare(resources: Snapshot | Iterable[Resource], profiles: str | Sequence[str] = PROFILES, *,
            previous: Snapshot | Iterable[Resource] | None = None, endpoints: Endpoints | None = None,
            proxy: str | None = None) -> Comparison:
    """What the other Gloo version would do differently with these resources.

    Args:
        resources: A snapshot, or resources in reading order (later duplicates win).
        profiles: ``"1.3,current"`` or a pair: the version you run first, the one you consider second.
        previous: What the cluster held before (optional): each profile's control plane translates it first and
            remembers what it pushed, so that a keep-last-good shows what Envoy keeps serving.
        endpoints: Endpoint addresses per cluster name; derived from the snapshot when not given.
        proxy: The default proxy (as :func:`~gloo_nb.translate.translate`); every proxy is compared.

    Returns:
        The comparison.

    Raises:
        UsageError: When ``profiles`` is not two different known versions.
    """
    pa, pb = parse_profile_pair(profiles)
    snapshot = resources if isinstance(resources, Snapshot) else Snapshot.from_resources(resources)
    before = None
    if previous is not None:
        before = previous if isinstance(previous, Snapshot) else Snapshot.from_resources(previous)
    out = []
    for p in (pa, pb):
        gloo = Translator(p, proxy_name=proxy)
        if before is not None:
            gloo.translate(before, endpoints=endpoints)
        out.append(gloo.translate(snapshot, endpoints=endpoints))
    return compare_translations(out[0], out[1])
