"""A notebook view of :mod:`gloo_nb.translate.compare`: one row per difference between two Gloo versions."""

from __future__ import annotations

from typing import Any

import pandas as pd

from gloo_nb.translate.compare import Comparison

COMPARISON_COLUMNS = ("proxy", "what", "subject", "resource", "changes")
"""The leading columns of :func:`comparison_frame`; one column per version follows (e.g. ``1.3``, ``current``)."""


def comparison_frame(comparison: Comparison) -> pd.DataFrame:
    """One row per difference: reports, push decisions, routes, listeners, virtual hosts and clusters.

    Args:
        comparison: The comparison (``gloo_nb.compare(...)``).

    Returns:
        Columns ``proxy`` (``ns/name``; ``""`` for reports, which cover every proxy), ``what`` (``report``,
        ``push``, ``route``, ``listener``, ``virtualHost``, ``cluster``), ``subject`` (the resource, the route's
        virtual host and match, or the Envoy name), ``resource`` (the Gloo resource behind it, ``ns/name``),
        ``changes`` (what differs), then one column per version with what it does there, in words (e.g.
        ``Warning (2 warnings)``, ``keep-last-good``, ``frozen -> echo_gloo-system {version=v2}``).
    """
    a, b = comparison.profiles
    rows: list[tuple[Any, ...]] = []
    for d in comparison.reports:
        states = {(None if r is None else r.state) for r in (d.reports.get(a), d.reports.get(b))}
        cells = ["no report" if r is None else f"{r.state} ({len(r.errors)} errors, {len(r.warnings)} warnings)"
                 for r in (d.reports.get(a), d.reports.get(b))]
        rows.append(("", "report", str(d.key), d.key.ref, "state" if len(states) > 1 else "messages", *cells))
    for px in comparison.proxies:
        if px.push_differs:
            rows.append((px.ref, "push", px.ref, "", "decision",
                         *(("no such proxy" if (push := px.push.get(p)) is None else push.decision) for p in (a, b))))
        for r in px.routes:
            rows.append((px.ref, "route", f"{r.route.virtual_host} {r.match_summary or '(any)'}", r.resource,
                         ", ".join(r.changes), *(r.sides[p].text() for p in (a, b))))
        for x in (*px.listeners, *px.virtual_hosts, *px.clusters):
            rows.append((px.ref, x.kind, x.name, "", ", ".join(["state"] * (x.states[a] != x.states[b])
                                                               + [f"fields: {f}" for f in x.fields]),
                         x.states[a], x.states[b]))
    return pd.DataFrame.from_records(rows, columns=[*COMPARISON_COLUMNS, a, b])
