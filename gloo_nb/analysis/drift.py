"""Drift: what Kubernetes asks for (intent) against what the control plane serves and each Envoy applied.

Routes are identified by virtual host and match (Gloo 1.3 routes have no names, and an order can
differ between sources while a change is blocked). Every route seen in any source gets one row
with a state:

- ``in-sync``: intent, served and every replica agree.
- ``replaced-by-fallback``: served, but pointed at Gloo's fallback cluster (``replaceInvalidRoutes``).
- ``blocked-by-last-known-good``: intent differs from what is served and the control plane withholds
  the snapshot (Gloo 1.3's ValidateStrict, or errors in current); the cause names the resources and
  Gloo messages that block it.
- ``pending``: intent differs from what is served and nothing blocks it (not translated yet).
- ``rejected-by-envoy``: a replica differs from what is served and has rejected route updates.
- ``replica-lagging``: a replica differs from what is served without having rejected anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gloo_nb.analysis.rows import RouteRowLike as RouteLike
from gloo_nb.translate.routes import RouteId, route_id

STATES = ("in-sync", "pending", "blocked-by-last-known-good", "rejected-by-envoy", "replica-lagging",
          "replaced-by-fallback")
"""Drift states, as the ``inspect`` contract names them."""


RouteKey = RouteId
"""A route's identity across sources (:class:`gloo_nb.translate.routes.RouteId`)."""


def route_key(row: RouteLike) -> RouteKey:
    """The identity of a route across sources.

    Args:
        row: A route row.

    Returns:
        Its virtual host and canonical match.
    """
    return route_id(row.virtual_host, row.match)


@dataclass(frozen=True, slots=True)
class DriftInputs:
    """Facts about the sources that are not in the route rows.

    Attributes:
        blocked: Whether the control plane withholds the intended snapshot (last known good).
        block_causes: ``ns/name: <Gloo message>`` of what blocks it.
        rejected: Per replica node id, why it is taken as having rejected route updates (empty
            when it has not).
        resources: The Gloo resource (``ns/name``) each route comes from, by route key.
        route_causes: Per route key, the finding that explains a replaced route.
    """

    blocked: bool = False
    block_causes: Sequence[str] = ()
    rejected: Mapping[str, str] = field(default_factory=dict)
    resources: Mapping[RouteKey, str] = field(default_factory=dict)
    route_causes: Mapping[RouteKey, str] = field(default_factory=dict)


def drift_rows(intent: Sequence[RouteLike], served: Sequence[RouteLike] | None,
               applied: Mapping[str, Sequence[RouteLike]], facts: DriftInputs) -> list[dict[str, Any]]:
    """Classify every route seen in any source.

    Args:
        intent: Routes of the translation of what Kubernetes holds.
        served: Routes the control plane serves (None when the xDS stream was not read).
        applied: Routes each replica applied, by node id.
        facts: What else is known (blocking, rejections, owning resources).

    Returns:
        One row per route: ``resource``, ``route`` (``virtualHost``, ``order``, ``match``), ``state``,
        ``cause`` and ``bySource`` (the action per source, None where the source lacks the route).
    """
    by_source: dict[str, dict[RouteKey, RouteLike]] = {"intent": {route_key(r): r for r in intent}}
    if served is not None:
        by_source["served"] = {route_key(r): r for r in served}
    for node, rows in applied.items():
        by_source[node] = {route_key(r): r for r in rows}
    keys: dict[RouteKey, None] = {}
    for rows_by_key in by_source.values():
        keys.update(dict.fromkeys(rows_by_key))
    out: list[dict[str, Any]] = []
    for key in keys:
        seen = {src: rows.get(key) for src, rows in by_source.items()}
        actions = {src: (row.action_summary if row is not None else None) for src, row in seen.items()}
        reference = seen.get("served") if served is not None else seen["intent"]
        any_row = next(r for r in (seen.get("served"), seen["intent"], *seen.values()) if r is not None)
        state, cause = _classify(key, actions, reference, served is not None, facts)
        out.append({
            "resource": facts.resources.get(key, ""),
            "route": {"virtualHost": key[0], "order": any_row.order, "match": any_row.match_summary},
            "state": state,
            "cause": cause,
            "bySource": actions,
        })
    out.sort(key=lambda r: (r["route"]["virtualHost"], r["route"]["order"], r["route"]["match"]))
    return out


def _classify(key: RouteKey, actions: Mapping[str, str | None], reference: RouteLike | None, have_served: bool,
              facts: DriftInputs) -> tuple[str, str]:
    ref_action = actions.get("served") if have_served else actions["intent"]
    if have_served and actions["intent"] != ref_action:
        if facts.blocked:
            return "blocked-by-last-known-good", "; ".join(facts.block_causes)
        return "pending", "the control plane has not served the intended configuration yet"
    lagging = [(src, a) for src, a in actions.items() if src not in ("intent", "served") and a != ref_action]
    rejected = [src for src, _ in lagging if facts.rejected.get(src)]
    if rejected:
        return "rejected-by-envoy", "; ".join(f"{src}: {facts.rejected[src]}" for src in rejected)
    if lagging:
        return "replica-lagging", ", ".join(src for src, _ in lagging) + " not yet at the served configuration"
    if reference is not None and reference.replaced:
        return "replaced-by-fallback", facts.route_causes.get(key, "the route is invalid")
    return "in-sync", ""
