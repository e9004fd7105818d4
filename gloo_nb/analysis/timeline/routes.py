"""Route rows as the timeline compares them: intent rows shaped like recorded ones, their keys, owners and weights.

Routes are compared by their route configuration, virtual host, match and action summaries
(:func:`gloo_nb.translate.render.match_summary` and ``action_summary``), the same fields the recorder writes for
served and applied RouteConfigurations, so intent, served and applied rows compare equal. The row shape and
identity come from :mod:`gloo_nb.translate.routes` (the one route model); this module only keys recorded rows
(dicts read from the journal) by it, apart from the analyses that use the keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gloo_nb.models import ResourceKey
from gloo_nb.translate import Translation
from gloo_nb.translate.envoy import EnvoyResources
from gloo_nb.translate.routes import RouteId, destination_shares, fallback_label, route_id, row_json
from gloo_nb.translate.routes import route_rows as envoy_route_rows

__all__ = ["RouteKey", "destinations", "owners", "route_key", "route_label", "route_rows"]

RouteKey = tuple[RouteId, str, str]
"""``(route identity, matchSummary, actionSummary)``: a route (:class:`gloo_nb.translate.routes.RouteId`, the one
identity) and what it does; a change is served when every one of its keys is. The match summary, a function of the
identity, is kept for the blocked rows' ``pendingRoutes`` text."""


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


def route_key(row: Mapping[str, Any]) -> RouteKey:
    """The key of a route row (intent, served or applied).

    Args:
        row: A row with ``virtualHost``, ``match``, ``matchSummary`` and ``actionSummary``.

    Returns:
        Its :data:`RouteKey`.
    """
    return (_id(row), row["matchSummary"], row["actionSummary"])


def route_label(row: Mapping[str, Any]) -> str:
    """``virtualHost matchSummary``: a route as the weights frame names it.

    Args:
        row: A route row.

    Returns:
        The label.
    """
    return f"{row['virtualHost']} {row['matchSummary']}"


def destinations(row: Mapping[str, Any]) -> list[tuple[str, float]]:
    """``(destination, weight in percent)`` of a recorded route; a route without clusters is its action summary.

    Args:
        row: A route row.

    Returns:
        The destinations and their weights.
    """
    shares = destination_shares(row.get("action") or {})
    return [(d, 100.0 * share) for d, share in shares.items()] or [(row.get("actionSummary", ""), 100.0)]


def owners(translation: Translation, rows: Sequence[Mapping[str, Any]]) -> tuple[
        dict[ResourceKey, frozenset[RouteKey]], dict[RouteKey, str]]:
    """Per resource the keys of its routes, and per route its team.

    A resource takes part in its own routes and, for a VirtualService or a parent RouteTable, the delegated ones; a
    route's team is the namespace of the resource that defines it.

    Args:
        translation: The translation the rows come from.
        rows: Its route rows (:func:`route_rows`).

    Returns:
        The keys per resource, and the team per key.
    """
    sources_of = translation.route_sources()
    owned: dict[ResourceKey, set[RouteKey]] = {}
    teams: dict[RouteKey, str] = {}
    for row in rows:
        sources = sources_of.get(_id(row))
        if not sources:
            continue
        key = route_key(row)
        for source in sources:
            owned.setdefault(source, set()).add(key)
        teams[key] = sources[0].namespace
    return {k: frozenset(v) for k, v in owned.items()}, teams
