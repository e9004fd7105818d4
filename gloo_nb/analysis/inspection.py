"""The inspection: intent, served and applied side by side, from a live connection, a bundle or a journal's moment.

Pure analysis over what a source read: :class:`Inspection` decodes the route rows of every source
(:mod:`gloo_nb.translate.routes`), asks the translation who owns each route and what blocks the push, and classifies
drift (:mod:`gloo_nb.analysis.drift`). A source is anything that implements :class:`InspectionSource` (the live
``GatewayConnection`` and the ``SnapshotBundle`` of :mod:`gloo_nb.app`); :func:`collect` reads it once.
:func:`inspection_at` builds the same inspection for one moment of a journal (the time-travel view).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pandas as pd
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from google.protobuf import json_format

from gloo_nb.analysis.drift import DriftInputs, DriftRow, RouteKey, drift_rows, rejection_text, route_key
from gloo_nb.analysis.frames import drift_frame, findings_frame, route_records
from gloo_nb.analysis.frames import routes_frame as make_routes_frame
from gloo_nb.analysis.listeners import ListenerDrift, listener_drift
from gloo_nb.analysis.timeline import TYPE_ROUTE, StateAt
from gloo_nb.models import Finding
from gloo_nb.models.codec import ParseResult
from gloo_nb.translate import Translation
from gloo_nb.translate.http_filters import unpredicted_filters
from gloo_nb.translate.routes import RouteRow, fallback_label, route_rows, row_from_json

__all__ = ["Inspection", "InspectionSource", "ServedLike", "StatsLike", "as_datetime", "collect", "combine_documents",
           "inspection_at", "type_name"]


class ServedLike(Protocol):
    """xDS resources of one source with their versions (``gloo_nb.xds.decode.ServedSnapshot`` has it)."""

    @property
    def listeners(self) -> Sequence[listener_pb2.Listener]: ...  # noqa: D102
    @property
    def route_configurations(self) -> Sequence[route_pb2.RouteConfiguration]: ...  # noqa: D102
    def version(self, type_url: str) -> str | None: ...  # noqa: D102


class SubscriptionStatsLike(Protocol):
    """One xDS subscription's counters (``gloo_nb.xds.admin.TypeStats`` has it)."""

    @property
    def update_rejected(self) -> int: ...  # noqa: D102
    @property
    def version_text(self) -> str: ...  # noqa: D102


class StatsLike(Protocol):
    """A replica's xDS counters (``gloo_nb.xds.admin.XdsStats`` has it)."""

    def subscriptions(self) -> Mapping[str, SubscriptionStatsLike]: ...  # noqa: D102


class InspectionSource(Protocol):
    """What an inspection reads: a live gateway connection or a snapshot bundle, through one small interface."""

    def intent(self) -> tuple[Translation, ParseResult]:
        """The translation of the Kubernetes resources, and what was read (with its parse findings)."""
        ...

    def served_now(self, timeout: float) -> ServedLike | None:
        """What the control plane serves (None when the source has no xDS stream)."""
        ...

    def served_unavailable(self) -> str:
        """Why :meth:`served_now` gave nothing, in words (``""``: it was not asked, or it answered)."""
        ...

    def applied_now(self) -> tuple[Mapping[str, ServedLike], Mapping[str, StatsLike]]:
        """Each replica's applied configuration and xDS stats, by node id."""
        ...


def collect(source: InspectionSource, *, timeout: float = 10.0) -> Inspection:
    """Read every part of a source once and put intent, served and applied side by side.

    Args:
        source: A live connection or a snapshot bundle.
        timeout: Seconds to wait for the xDS stream (a live source).

    Returns:
        The inspection (frames and the ``inspect`` document).
    """
    translation, parsed = source.intent()
    served = source.served_now(timeout)
    applied, stats = source.applied_now()
    out = Inspection.build(translation, served, applied, stats, parse_findings=parsed.findings)
    out.served_unavailable = source.served_unavailable() if served is None else ""
    return out


@dataclass
class Inspection:
    """Intent, served and applied, side by side.

    Attributes:
        translation: The intent's translation.
        rows: Route rows of every source.
        resources: The Gloo resource of each route, by route key.
        drift: Drift rows.
        findings: Every finding.
        listener_drift: Listener drift rows (:mod:`gloo_nb.analysis.listeners`: filter chains, SNI, TLS
            certificates by fingerprint); empty when the source holds no listeners (a journal's moment).
        served_unavailable: Why what the control plane serves could not be read (e.g. no gloo pod is ready: the
            control plane is down); ``""`` when it was read or not asked for. The headline leads with it.
    """

    translation: Translation
    rows: list[RouteRow]
    resources: dict[RouteKey, str]
    drift: list[DriftRow]
    findings: list[Finding]
    listener_drift: list[ListenerDrift] = field(default_factory=list)
    served_unavailable: str = ""

    @classmethod
    def build(cls, translation: Translation, served: ServedLike | None, applied: Mapping[str, ServedLike],
              stats: Mapping[str, StatsLike], *, parse_findings: Sequence[Finding] = ()) -> Inspection:
        """Decode every source and classify drift.

        Args:
            translation: The intent.
            served: What the control plane serves (None when not read).
            applied: What each replica applied, by node id.
            stats: Each replica's xDS stats (``EnvoyAdmin.xds_stats()``), by node id.
            parse_findings: Findings of reading the resources (unknown fields).

        Returns:
            The inspection.
        """
        intent = route_rows(translation.envoy.route_configurations, "intent",
                            fallback_body=fallback_label(translation.envoy.listeners))
        served_rows = (route_rows(served.route_configurations, "served", fallback_body=fallback_label(served.listeners))
                       if served is not None else None)
        applied_rows = {node: route_rows(snap.route_configurations, node, fallback_body=fallback_label(snap.listeners))
                        for node, snap in applied.items()}
        rejected = {node: cause for node, s in stats.items() if (cause := _rejection(s, served))}
        out = cls.from_rows(translation, intent, served_rows, applied_rows, rejected, parse_findings=parse_findings)
        out.listener_drift = listener_drift(
            translation.envoy.listeners, list(served.listeners) if served is not None else None,
            {node: list(snap.listeners) for node, snap in applied.items()},
            blocked=translation.push.decision == "keep-last-good",
            block_causes=[c.text() for c in translation.block_causes()], rejected=rejected,
            unpredicted=_unpredicted_filters(translation))
        return out

    @classmethod
    def from_rows(cls, translation: Translation, intent: Sequence[RouteRow], served: Sequence[RouteRow] | None,
                  applied: Mapping[str, Sequence[RouteRow]], rejected: Mapping[str, str], *,
                  parse_findings: Sequence[Finding] = ()) -> Inspection:
        """Classify drift from route rows already decoded (a live read, or a journal's moment).

        Args:
            translation: The intent.
            intent: The intent's route rows.
            served: The served route rows (None when not read).
            applied: Each replica's route rows, by node id.
            rejected: Per replica node id that rejected updates, why.
            parse_findings: Findings of reading the resources.

        Returns:
            The inspection.
        """
        resources = _route_resources(translation)
        facts = DriftInputs(
            blocked=translation.push.decision == "keep-last-good",
            block_causes=[c.text() for c in translation.block_causes()],
            rejected=dict(rejected),
            resources=resources,
            route_causes=_route_causes(translation, intent, resources),
            unmodelled=translation.route_unmodelled(),
            cause_resources=frozenset(c.ref for c in translation.block_causes() if c.ref),
        )
        drift = drift_rows(intent, served, applied, facts)
        rows = [*intent, *(served or []), *(r for rs in applied.values() for r in rs)]
        return cls(translation, rows, resources, drift, [*parse_findings, *translation.findings])

    def routes_frame(self) -> pd.DataFrame:
        """One row per Envoy route and source (``intent``, ``served``, each replica)."""
        return make_routes_frame(self.rows, self.resources)

    def drift_frame(self) -> pd.DataFrame:
        """One row per route with its drift state and cause."""
        return drift_frame(self.drift)

    def findings_frame(self) -> pd.DataFrame:
        """One row per finding, with the owning team."""
        return findings_frame(self.findings)

    def text(self) -> str:
        """Readable tables: the push decision, drift per route, and findings."""
        several = len(self.translation.proxies) > 1
        lines = [f"Gloo {self.translation.profile}: "
                 + (f"proxy {self.translation.proxy.name}: " if several else "")
                 + f"push {self.translation.push.decision}: {self.translation.push.reason}", "", "Drift"]
        drift = self.drift_frame().drop(columns=["bySource"])
        lines.append(drift.to_string(index=False) if len(drift) else "  no routes")
        differing = [d for d in self.listener_drift if d.state != "in-sync"]
        if differing:
            lines += ["", "Listeners"] + [f"  {d.name}: {d.state}: {d.cause}" for d in differing]
        if self.served_unavailable:
            lines += ["", f"Served: not read ({self.served_unavailable})"]
        findings = self.findings_frame()[["team", "severity", "resource", "origin", "message"]]
        lines += ["", "Findings", findings.to_string(index=False) if len(findings) else "  none"]
        if self.translation.unmodelled:
            # Declared, not problems: what the intent column cannot predict.
            lines += ["", "Not modelled by gloo_nb", *(f"  {u.line()}" for u in self.translation.unmodelled)]
        return "\n".join(lines) + "\n"

    def document(self) -> dict[str, Any]:
        """The ``gloo-nb inspect --json`` document.

        ``proxy`` names the proxy inspected (the connection's); when the Gateways name several,
        ``proxies`` lists each one's push decision and every route and drift row carries ``proxy``.
        """
        proxy = self.translation.proxy.name
        routes = route_records(self.rows, self.resources)
        drift = [d.as_json() for d in self.drift]
        doc: dict[str, Any] = {
            "glooVersion": self.translation.profile,
            "proxy": proxy,
            "push": {"decision": self.translation.push.decision, "reason": self.translation.push.reason},
            "routes": routes,
            "drift": drift,
            "findings": [f.as_json() for f in self.findings],
            "listenerDrift": [d.as_json() for d in self.listener_drift],
            "unmodelled": [u.as_json() for u in self.translation.unmodelled],
        }
        if self.served_unavailable:
            # Additive: why there is no `served` source (architecture.md's keys are unchanged).
            doc["servedUnavailable"] = self.served_unavailable
        if len(self.translation.proxies) > 1:
            doc["proxies"] = [{"name": t.proxy.name, "snapshotKey": t.snapshot_key,
                               "push": {"decision": t.push.decision, "reason": t.push.reason}}
                              for t in self.translation.proxies]
            for row in (*routes, *drift, *doc["listenerDrift"]):
                row["proxy"] = proxy
        return doc


def combine_documents(documents: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One ``inspect --json`` document for every proxy: each proxy's inspection, side by side.

    Args:
        documents: :meth:`Inspection.document` of each proxy's inspection (each through a connection
            to that proxy), the default proxy's first.

    Returns:
        The first document's ``glooVersion``, ``proxy``, ``push``, ``proxies`` and ``findings`` (they
        cover every proxy already), with every document's ``routes``, ``drift`` and ``listenerDrift`` rows,
        each carrying its ``proxy``.
    """
    if not documents:
        return {}
    first = documents[0]
    # listener names repeat across proxies (each has its listener-::-8080): every proxy's rows, tagged
    rows = ("routes", "drift", "listenerDrift")
    out = {k: v for k, v in first.items() if k not in rows}
    for key in rows:
        out[key] = [{**row, "proxy": doc["proxy"]} for doc in documents for row in doc.get(key, [])]
    return out


def _route_resources(translation: Translation) -> dict[RouteKey, str]:
    # The translation answers who owns each Envoy route, by route identity (own resource first).
    return {key: sources[0].ref for key, sources in translation.route_sources().items()}


def _route_causes(translation: Translation, intent: Sequence[RouteRow],
                  resources: Mapping[RouteKey, str]) -> dict[RouteKey, str]:
    # A replaced route is explained by the findings of the resource it comes from (its RouteTable).
    causes: dict[RouteKey, str] = {}
    findings = [f for f in translation.findings if f.layer != "parse"]
    for row in intent:
        if not row.replaced:
            continue
        key = route_key(row)
        owner = resources.get(key)
        mine = [f for f in findings if owner is None or f.origin.ref == owner] or findings
        causes[key] = "; ".join(dict.fromkeys(f"{f.origin.ref}: {f.message}" for f in mine)) \
            or "the route is invalid"
    return causes


def _rejection(stats: StatsLike, served: ServedLike | None) -> str:
    # A rejected RouteConfiguration is not visible in the config dump, only in these counters and
    # in the version the replica still reports (notes/runtime.md).
    parts = [rejection_text(name, s.update_rejected, s.version_text)
             for name, s in stats.subscriptions().items() if s.update_rejected]
    if parts and served is not None:
        parts.append(f"served route version {served.version(TYPE_ROUTE) or '?'}")
    return ", ".join(parts)


# --- one moment of a journal ----------------------------------------------------------------------------------

_TYPE_NAMES = {"Cluster": "clusters", "Listener": "listeners", "RouteConfiguration": "routes",
               "ClusterLoadAssignment": "endpoints"}


def type_name(type_url: str) -> str:
    """A short name of an xDS type for people: ``routes``, ``listeners``, ``clusters``, ``endpoints``.

    Args:
        type_url: The type URL.

    Returns:
        The name (the message name for other types).
    """
    short = type_url.rsplit(".", 1)[-1]
    return _TYPE_NAMES.get(short, short)


def as_datetime(time: Any) -> datetime:
    """A pandas Timestamp or datetime as a timezone-aware datetime (the journal's resolution is microseconds).

    Args:
        time: A frame's time value.

    Returns:
        The datetime.
    """
    return time.to_pydatetime() if isinstance(time, pd.Timestamp) else time


def _rejections(nacks: pd.DataFrame | None, t: datetime) -> dict[str, str]:
    if nacks is None or not len(nacks):
        return {}
    out: dict[str, list[str]] = {}
    for node, type_url, start, end, count, kept in zip(nacks["node"], nacks["typeUrl"], nacks["start"], nacks["end"],
                                                       nacks["rejected"], nacks["version"], strict=True):
        if as_datetime(start) <= t and (pd.isna(end) or t < as_datetime(end)):
            out.setdefault(node, []).append(rejection_text(type_name(type_url), count, str(kept)))
    return {node: ", ".join(parts) for node, parts in out.items()}


def inspection_at(state: StateAt, nacks: pd.DataFrame | None = None) -> Inspection:
    """The inspector's view of one moment of a journal: intent, served and applied rows with their drift.

    Args:
        state: :meth:`Timeline.state_at`'s result.
        nacks: :meth:`Timeline.nacks_frame` (a replica with a NACK open at the moment counts as rejecting).

    Returns:
        An :class:`Inspection` as :func:`collect` would have built it then (``routes_frame()``,
        ``findings_frame()``, ``drift``), for the widgets that take one.
    """
    intent = [row_from_json("intent", r) for r in state.intent_routes]
    served = [row_from_json("served", r) for r in state.served_routes]
    applied = {node: [row_from_json(node, r) for r in rows] for node, rows in state.applied_routes.items()}
    rejected = _rejections(nacks, state.time)
    inspection = Inspection.from_rows(state.translation, intent, served, applied, rejected)
    inspection.findings = list(state.findings)  # the journal's findings include its parse findings
    served_listeners = _listeners(state.served_listeners)
    if served_listeners is not None:
        # the journal records served listeners (xds.content), not the replicas' (their polls carry route digests)
        inspection.listener_drift = listener_drift(
            state.translation.envoy.listeners, served_listeners, {},
            blocked=state.translation.push.decision == "keep-last-good",
            block_causes=[c.text() for c in state.translation.block_causes()], rejected=rejected,
            unpredicted=_unpredicted_filters(state.translation))
    return inspection


def _unpredicted_filters(translation: Translation) -> frozenset[str]:
    # The HTTP filters of listener options and upstreams gloo_nb does not model (gloo_nb.translate.http_filters).
    listeners = translation.proxy.listeners
    return unpredicted_filters([li.options for li in listeners] + [m.options for li in listeners for m in li.matched],
                               translation.snapshot.upstreams, translation.settings)


def _listeners(docs: Sequence[Mapping[str, Any]] | None) -> list[listener_pb2.Listener] | None:
    # Recorded proto JSON back to Listeners; one that does not decode (a type outside the pool) ends the comparison.
    if docs is None:
        return None
    out = []
    for doc in docs:
        try:
            out.append(json_format.ParseDict(dict(doc), listener_pb2.Listener(), ignore_unknown_fields=True))
        except (json_format.ParseError, TypeError, ValueError):
            return None
    return out
