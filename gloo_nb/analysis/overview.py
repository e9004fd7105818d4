"""The gateway overview: what Gloo's UI shows first, as a view-model (pure: no widgets, no network).

- resource counts by state: VirtualServices, RouteTables and Upstreams as Gloo reports them
  (``Accepted``/``Warning``/``Rejected``, :class:`gloo_nb.translate.reports.ResourceReport`);
- upstream health: per Upstream, the endpoints Kubernetes has ready of all it lists (what Gloo's kube EDS
  reads) and, per Envoy replica, the hosts ``/clusters`` reports healthy of all it holds;
- every finding linked to the line of its origin resource's YAML, with the lines around it.

:func:`gateway_overview` builds it; ``gloo_nb.app.overview`` reads what it needs from a connection or a bundle,
``gloo_nb.widgets.overview`` lays it out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd
import yaml

from gloo_nb.models import Finding, ResourceKey, ResourceRef
from gloo_nb.translate import Translation
from gloo_nb.translate.eds import kube_endpoints_of
from gloo_nb.translate.envoy import cluster_name

__all__ = ["COUNTED_KINDS", "STATES", "FindingLink", "GatewayOverview", "HostsLike", "ResourceYaml",
           "UpstreamHealth", "gateway_overview", "locate", "names_in"]

COUNTED_KINDS = ("VirtualService", "RouteTable", "Upstream")
"""The kinds the overview counts, in the order shown."""

STATES = ("Accepted", "Warning", "Rejected")
"""Gloo's resource states (``gloo_nb.translate.reports.ResourceReport.state``)."""

CONTEXT_LINES = 3
"""Lines shown before and after a finding's line."""


class HostLike(Protocol):
    """One host of ``/clusters`` (``gloo_nb.xds.cluster_status.HostStatus`` has it)."""

    @property
    def health(self) -> str: ...  # noqa: D102
    @property
    def failed(self) -> tuple[str, ...]: ...  # noqa: D102


class HostsLike(Protocol):
    """One cluster of ``/clusters`` (``gloo_nb.xds.cluster_status.ClusterHosts`` has it)."""

    @property
    def name(self) -> str: ...  # noqa: D102
    @property
    def hosts(self) -> Sequence[HostLike]: ...  # noqa: D102


@dataclass(frozen=True, slots=True)
class ResourceYaml:
    """The YAML a resource was read from.

    Attributes:
        text: The resource's document (as written in its file, or as the API server returns the object).
        file: Where it is: a file path, or ``<kubernetes>`` for a live object (then ``text`` is the object as
            ``kubectl get -o yaml`` would print it, without ``managedFields``).
        first_line: The line (1-based) of ``file`` at which ``text`` begins (1 for a live object).
    """

    text: str
    file: str
    first_line: int = 1


@dataclass(frozen=True, slots=True)
class FindingLink:
    """A finding and the line of its origin's YAML that it is about.

    Attributes:
        finding: The finding.
        file: Where the origin resource's YAML is (``""`` when it is not known).
        line: The line in ``file`` (1-based), None when the YAML is not known.
        how: How the line was found: ``field`` (the finding's field path), ``name <x>`` (a name the message
            quotes, found as a value in the YAML), ``document`` (neither: the document's first line), or
            ``unknown`` (no YAML).
        excerpt: ``(line number, text)`` of the lines around it.
    """

    finding: Finding
    file: str
    line: int | None
    how: str
    excerpt: tuple[tuple[int, str], ...] = ()

    @property
    def where(self) -> str:
        """``file:line`` (or ``file``, or ``""``)."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True, slots=True)
class UpstreamHealth:
    """The endpoints of one Upstream: Kubernetes' view and each Envoy replica's.

    Attributes:
        upstream: ``namespace/name``.
        cluster: Its Envoy cluster (``<name>_<namespace>``).
        kind: The upstream type (``kube``, ``static``...).
        ready: Endpoints Gloo's kube EDS serves (ready addresses of the Service's Endpoints that the upstream
            selects); for a static upstream its hosts; None for other types.
        total: ``ready`` plus the not-ready addresses the Service's Endpoints object lists (those are not
            filtered by the upstream's selector: a pod that is not ready has no say yet); None as ``ready``.
        envoy: Per replica node id: ``(healthy, total)`` hosts of the cluster in ``/clusters``; None when the
            replica does not have the cluster.
    """

    upstream: str
    cluster: str
    kind: str
    ready: int | None
    total: int | None
    envoy: Mapping[str, tuple[int, int] | None]


@dataclass(frozen=True)
class GatewayOverview:
    """The overview.

    Attributes:
        counts: Index :data:`COUNTED_KINDS`, columns :data:`STATES` plus ``total``: how many resources of each
            kind Gloo reports in each state.
        health: One :class:`UpstreamHealth` per Upstream, in name order.
        replicas: The replicas whose ``/clusters`` were read (the columns of :meth:`health_frame`).
        findings: Every finding with its link, errors first.
        unread: Replicas whose ``/clusters`` could not be read, with why (not in :attr:`replicas`).
    """

    counts: pd.DataFrame
    health: tuple[UpstreamHealth, ...]
    replicas: tuple[str, ...]
    findings: tuple[FindingLink, ...]
    unread: Mapping[str, str] = field(default_factory=dict)

    def health_frame(self) -> pd.DataFrame:
        """Upstream health as a table.

        Returns:
            Columns ``upstream``, ``cluster``, ``kubernetes`` (``ready/total``) and one per replica
            (``healthy/total``, ``absent`` when it lacks the cluster); ``-`` where a value does not apply.
        """
        rows = []
        for h in self.health:
            row = {"upstream": h.upstream, "cluster": h.cluster,
                   "kubernetes": f"{h.ready}/{h.total}" if h.ready is not None and h.total is not None else (
                       f"{h.ready}" if h.ready is not None else "-")}
            for node in self.replicas:
                got = h.envoy.get(node)
                row[node] = f"{got[0]}/{got[1]}" if got is not None else "absent"
            rows.append(row)
        return pd.DataFrame(rows, columns=["upstream", "cluster", "kubernetes", *self.replicas])

    def text(self) -> str:
        """Plain text: the counts, the health table and one line per finding (``where: severity origin: message``)."""
        counts = ", ".join(f"{kind} " + " ".join(f"{int(self.counts.loc[kind, s])} {s}" for s in STATES)
                           for kind in COUNTED_KINDS)
        lines = [counts]
        frame = self.health_frame()
        if len(frame):
            lines.append(frame.to_string(index=False))
        lines.extend(f"{node}: /clusters not read: {why}" for node, why in self.unread.items())
        for link in self.findings:
            f = link.finding
            lines.append(f"{link.where or '?'}: {f.severity} {f.origin.kind} {f.origin.ref}: {f.message}")
        return "\n".join(lines)


# --- finding the line ---------------------------------------------------------------------------------------


_BRACED_REF = re.compile(r"\{([A-Za-z0-9][-A-Za-z0-9_.]*) [A-Za-z0-9][-A-Za-z0-9_.]*\}")
_BRACED_REF_CURRENT = re.compile(r"\{ [A-Za-z0-9][-A-Za-z0-9_]*\.([A-Za-z0-9][-A-Za-z0-9_.]*) \}")
_QUOTED = re.compile(r"""["']([^"'\s]{2,})["']""")


def names_in(message: str) -> list[str]:
    """The names a message quotes, in order.

    Gloo 1.3 prints a resource ref as ``{name namespace}`` (``*v1.Upstream {echo-typo gloo-system} not found``,
    Go's ``%v`` of ``core.ResourceRef``), current Gloo as ``{ namespace.name }`` (spec 3.2, from
    ``projects/gloo/pkg/translator/route_config.go``); other names come quoted.

    Args:
        message: A finding's message.

    Returns:
        The names (``echo-typo``).
    """
    return list(dict.fromkeys([*_BRACED_REF.findall(message), *_BRACED_REF_CURRENT.findall(message),
                               *_QUOTED.findall(message)]))


def _path_parts(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in path.split("."):
        m = re.fullmatch(r"([^\[\]]*)((?:\[\d+\])*)", piece)
        if m is None:
            return []
        if m[1]:
            parts.append(m[1])
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", m[2]))
    return parts


def _follow(node: Any, parts: Sequence[str | int]) -> Any:
    """The YAML node at a field path: a mapping key's own node (``matcher:``'s line), the deepest one reached."""
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            pair = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
            if pair is None:
                return node
            if last:
                return pair[0]
            node = pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _scalars(node: Any) -> Iterable[yaml.ScalarNode]:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.ScalarNode):
            yield n
        elif isinstance(n, yaml.MappingNode):
            stack.extend(v for pair in reversed(n.value) for v in reversed(pair))
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(reversed(n.value))


def locate(text: str, *, field: str = "", names: Sequence[str] = ()) -> tuple[int, str]:
    """The line of a resource's YAML a finding is about.

    Rules, first that applies: the finding's field path (parse findings carry one), followed key by key; the
    first value (in document order) equal to a name the message quotes; else the document's first line.

    Args:
        text: One YAML document.
        field: A field path, e.g. ``spec.routes[0].matchers``.
        names: Names the message quotes (:func:`names_in`).

    Returns:
        ``(line, how)``: the 1-based line within ``text`` and the rule (``field``, ``name <x>``, ``document``).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return 1, "document"
    if root is None:
        return 1, "document"
    if field:
        parts = _path_parts(field)
        node = _follow(root, parts) if parts else None
        if node is not None and node is not root:
            return node.start_mark.line + 1, "field"
    scalars = list(_scalars(root))
    for name in names:
        hit = next((s for s in scalars if s.value == name), None)
        if hit is not None:
            return hit.start_mark.line + 1, f"name {name}"
    return root.start_mark.line + 1, "document"


def _link(finding: Finding, documents: Mapping[ResourceKey, ResourceYaml]) -> FindingLink:
    doc = documents.get(finding.origin) or documents.get(finding.resource)
    if doc is None:
        return FindingLink(finding, "", None, "unknown")
    line, how = locate(doc.text, field=finding.field if doc is documents.get(finding.resource) else "",
                       names=names_in(finding.message))
    lines = doc.text.splitlines()
    lo, hi = max(1, line - CONTEXT_LINES), min(len(lines), line + CONTEXT_LINES)
    excerpt = tuple((doc.first_line + i - 1, lines[i - 1]) for i in range(lo, hi + 1))
    return FindingLink(finding, doc.file, doc.first_line + line - 1, how, excerpt)


# --- the overview -------------------------------------------------------------------------------------------


def _counts(translation: Translation) -> pd.DataFrame:
    states: dict[ResourceKey, str] = {}
    for report in translation.reports:
        if report.key.kind in COUNTED_KINDS:
            # Reports of one resource from several proxies: the worst state is what its status says.
            prev = states.get(report.key, "Accepted")
            states[report.key] = max(prev, report.state, key=STATES.index)
    snap = translation.snapshot
    keys = [*(r.key for r in snap.virtual_services), *(r.key for r in snap.route_tables),
            *(r.key for r in snap.upstreams)]
    for key in keys:
        # A resource no translation reported on (e.g. a RouteTable no VirtualService selects): Gloo writes no
        # error on it, so it counts as Accepted (its status in Gloo is whatever was written last).
        states.setdefault(key, "Accepted")
    counts = pd.DataFrame(0, index=list(COUNTED_KINDS), columns=[*STATES, "total"])
    for key, state in states.items():
        counts.loc[key.kind, state] += 1
        counts.loc[key.kind, "total"] += 1
    return counts


def _not_ready(translation: Translation) -> dict[tuple[str, str], int]:
    """How many not-ready addresses the Endpoints object of each Service lists (by pod, else by IP)."""
    out: dict[tuple[str, str], int] = {}
    for eps in translation.snapshot.endpoints:
        seen = {(a.ip, a.target_namespace, a.target_name) for s in eps.subsets for a in s.not_ready_addresses}
        key = (eps.meta.namespace, eps.meta.name)
        out[key] = out.get(key, 0) + len(seen)
    return out


def _health(translation: Translation, clusters: Mapping[str, Sequence[HostsLike]]) -> list[UpstreamHealth]:
    # Gloo's kube EDS (projects/gloo/pkg/plugins/kubernetes/eds.go) serves only an Endpoints object's ready
    # ``addresses``; ``kube_endpoints_of`` applies the same rule, so its count is what Envoy should get.
    served = kube_endpoints_of(translation.snapshot, translation.profile)
    waiting = _not_ready(translation)
    by_node = {node: {c.name: c for c in cs} for node, cs in clusters.items()}
    out = []
    for up in sorted(translation.snapshot.upstreams, key=lambda u: (u.meta.namespace, u.meta.name)):
        name = cluster_name(ResourceRef(up.meta.name, up.meta.namespace))
        ready: int | None = None
        total: int | None = None
        if up.kube is not None:
            ready = len(served.get(name, ()))
            total = ready + waiting.get((up.kube.service_namespace, up.kube.service_name), 0)
        elif up.static is not None:
            ready = len(up.static.hosts)
        envoy: dict[str, tuple[int, int] | None] = {}
        for node, mine in by_node.items():
            c = mine.get(name)
            envoy[node] = None if c is None else (
                sum(1 for h in c.hosts if h.health == "HEALTHY" and not h.failed), len(c.hosts))
        out.append(UpstreamHealth(f"{up.meta.namespace}/{up.meta.name}", name, up.upstream_type or (
            "kube" if up.kube is not None else "static" if up.static is not None else "?"), ready, total, envoy))
    return out


def gateway_overview(translation: Translation, *, documents: Mapping[ResourceKey, ResourceYaml] | None = None,
                     clusters: Mapping[str, Sequence[HostsLike]] | None = None,
                     unread: Mapping[str, str] | None = None) -> GatewayOverview:
    """Build the overview from a translation, the resources' YAML and each replica's ``/clusters``.

    Args:
        translation: The intent's translation (``Inspection.translation``).
        documents: The YAML of each resource (``gloo_nb.app.overview.resource_documents``); findings of a
            resource without one have no line.
        clusters: Each replica's ``/clusters`` by node id (``EnvoyAdmin.clusters()``); none: no Envoy columns.
        unread: Replicas whose ``/clusters`` could not be read, with why (shown as such).

    Returns:
        The overview.
    """
    links = [_link(f, documents or {}) for f in translation.findings]
    links.sort(key=lambda link: link.finding.severity != "error")
    return GatewayOverview(_counts(translation), tuple(_health(translation, clusters or {})),
                           tuple(clusters or {}), tuple(links), dict(unread or {}))
