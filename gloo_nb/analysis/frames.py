"""Tidy pandas frames of routes, findings and drift, for notebooks and analysis.

Each function takes plain rows (from ``gloo_nb.xds.decode``, the translator or the drift
classification) and returns a DataFrame with one row per fact; nothing here touches the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from gloo_nb.analysis.drift import DriftRow, RouteKey, route_key
from gloo_nb.analysis.rows import RouteRowLike
from gloo_nb.models import Finding

ROUTE_COLUMNS = ("source", "virtualHost", "order", "name", "match", "action", "resource", "replaced",
                 "routeConfiguration", "domains", "matchJson", "actionJson")
FINDING_COLUMNS = ("team", "resource", "kind", "severity", "message", "origin", "originKind", "layer", "field")
DRIFT_COLUMNS = ("resource", "virtualHost", "order", "match", "state", "cause", "bySource")


def routes_frame(rows: Iterable[RouteRowLike], resources: Mapping[RouteKey, str] | None = None) -> pd.DataFrame:
    """One row per Envoy route and source.

    Args:
        rows: Route rows of any sources (``intent``, ``served``, replica node ids).
        resources: The Gloo resource (``ns/name``) of each route, by route key.

    Returns:
        Columns ``source``, ``virtualHost``, ``order``, ``name``, ``match`` and ``action`` (readable
        summaries), ``resource``, ``replaced``, ``routeConfiguration``, ``domains``, and the match and
        action in Envoy's proto-JSON field names (``matchJson``, ``actionJson``).
    """
    owners = resources or {}
    data = [(r.source, r.virtual_host, r.order, r.name, r.match_summary, r.action_summary,
             owners.get(route_key(r), ""), r.replaced, r.route_configuration, list(r.domains), r.match, r.action)
            for r in rows]
    return pd.DataFrame.from_records(data, columns=list(ROUTE_COLUMNS))


def route_records(rows: Iterable[RouteRowLike],
                  resources: Mapping[RouteKey, str] | None = None) -> list[dict[str, Any]]:
    """The ``routes`` rows of the ``inspect --json`` contract.

    Args:
        rows: Route rows.
        resources: The Gloo resource of each route, by route key.

    Returns:
        Dicts with ``source``, ``virtualHost``, ``order``, ``name``, ``match``, ``action`` (Envoy
        proto-JSON), ``resource``, ``replaced`` and ``fingerprint`` (the digest of the whole route but its match
        that drift compares replicas with served by, :attr:`gloo_nb.translate.routes.RouteRow.fingerprint`;
        ``""`` when unknown).
    """
    owners = resources or {}
    return [{"source": r.source, "virtualHost": r.virtual_host, "order": r.order, "name": r.name,
             "match": r.match, "action": r.action, "resource": owners.get(route_key(r), ""), "replaced": r.replaced,
             "fingerprint": getattr(r, "fingerprint", "") or ""}
            for r in rows]


def findings_frame(findings: Sequence[Finding]) -> pd.DataFrame:
    """One row per finding, with the team (namespace) that owns the resource causing it.

    Args:
        findings: Findings from the translator and the parser.

    Returns:
        Columns ``team``, ``resource``, ``kind``, ``severity``, ``message``, ``origin``, ``originKind``,
        ``layer``, ``field``.
    """
    data = [(f.origin.namespace, f.resource.ref, f.resource.kind, f.severity, f.message, f.origin.ref,
             f.origin.kind, f.layer, f.field) for f in findings]
    return pd.DataFrame.from_records(data, columns=list(FINDING_COLUMNS))


def drift_frame(rows: Sequence[DriftRow]) -> pd.DataFrame:
    """The drift rows (see :func:`gloo_nb.analysis.drift.drift_rows`) as a frame.

    Args:
        rows: Drift rows.

    Returns:
        Columns ``resource``, ``virtualHost``, ``order``, ``match``, ``state``, ``cause`` and
        ``bySource`` (a JSON string: the action per source).
    """
    data = [(r.resource, r.virtual_host, r.order, r.match, r.state, r.cause, json.dumps(r.by_source)) for r in rows]
    return pd.DataFrame.from_records(data, columns=list(DRIFT_COLUMNS))
