"""View-model of the delegation tree: VirtualService -> delegate routes -> RouteTables -> routes -> destinations.

The tree is built lazily: :meth:`DelegationTree.roots` returns the VirtualServices, and
:meth:`DelegationTree.children` builds one node's children on first request (then caches them), so a
tree over 10,000 RouteTables opens in milliseconds. Selection and ordering of RouteTables, and the
check that drops a child route (prefix mismatch and the other delegation rules), are the gateway
translator's own (:class:`gloo_nb.translate.selection.RouteTableIndex`,
:func:`~gloo_nb.translate.selection.group_by_weight` and the translator's route validation); nothing
here re-decides Gloo semantics.

States, most severe last (:data:`TREE_STATES`): ``accepted``, ``warning``, ``dropped`` (Gloo drops
the route: its prefix does not start with the parent's), ``replaced`` (Envoy gets Gloo's fallback
response instead), ``blocked`` (the control plane keeps the last known good snapshot because of this
node's problem), ``rejected``. A node's ``inherited`` state is the most severe state of its ancestors
that also applies to it (``dropped``, ``blocked`` and ``rejected`` flow down; ``warning`` and
``replaced`` do not).

Roles (:data:`gloo_nb.analysis.headline.ROLES`) keep culprit and victim apart on top of the states: the ``cause``
(a route or resource whose own content blocks, e.g. echo's route naming ``echo-typo``), the ``broken`` destination
(an upstream that does not exist), the ``blocked`` victim (a route whose valid change is held back, known from the
drift rows) and the ``replaced`` route (Gloo's fallback answers it). A node with a role shows its role's word and
colour instead of its state's.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from google.protobuf.json_format import MessageToDict

from gloo_nb.analysis.drift import DriftRow
from gloo_nb.analysis.headline import ROLE_COLOURS, ROLE_MEANINGS, ROLE_WORDS
from gloo_nb.errors import ParseError, UsageError
from gloo_nb.models import Finding, ResourceKey, Route, RouteTable, Unmodelled, VirtualService
from gloo_nb.models.codec import load_documents
from gloo_nb.translate import Translation
from gloo_nb.translate.delegate_options import DelegatedOptions
from gloo_nb.translate.gateway import ParentRoute, RouteConverter, VirtualServiceAborted
from gloo_nb.translate.gloo_json import destination_json, matcher_json
from gloo_nb.translate.proxy import ProxyRoute
from gloo_nb.translate.routes import action_summary, match_summary, route_id, route_match_json
from gloo_nb.translate.selection import RouteTableIndex, SelectionError, group_by_weight
from gloo_nb.translate.translator import proxy_virtual_services

TREE_STATES = ("accepted", "warning", "dropped", "replaced", "blocked", "rejected")
"""Node states, least severe first."""

TREE_COLOURS: dict[str, str] = {
    "accepted": "#2e7d32",
    "warning": "#f9a825",
    "dropped": "#757575",
    "replaced": "#1565c0",
    "blocked": "#c62828",
    "rejected": "#6a1b9a",
}
"""Colour of each state."""

TREE_LEGEND: dict[str, str] = {
    "accepted": "accepted by Gloo, served as written",
    "warning": "accepted with a warning",
    "dropped": "dropped by Gloo (prefix mismatch with the parent route, or another delegation rule)",
    "replaced": "replaced by Gloo's fallback response (e.g. 404)",
    "blocked": "its problem makes the control plane keep the last known good configuration",
    "rejected": "rejected by Gloo: not translated",
}
"""One line per state, for the legend."""

INHERITED_COLOURS: dict[str, str] = {
    "dropped": "#9e9e9e",
    "blocked": "#e57373",
    "rejected": "#ba68c8",
}
"""A lighter tint of each state that flows down, for a node that only inherits it (nothing wrong with the node
itself): it never looks like the node that causes it."""

_RANK = {s: i for i, s in enumerate(TREE_STATES)}
_FLOWS_DOWN = ("dropped", "blocked", "rejected")


def worst(states: Sequence[str]) -> str:
    """The most severe of some states (``accepted`` when none).

    Args:
        states: States from :data:`TREE_STATES`.

    Returns:
        The most severe one.
    """
    return max(states, key=_RANK.__getitem__, default="accepted")


@dataclass(slots=True)
class TreeNode:
    """One node of the tree.

    Attributes:
        id: Unique path-like id (stable across calls).
        kind: ``VirtualService``, ``DelegateRoute``, ``RouteTable``, ``Route`` or ``Destination``.
        label: One-line text.
        state: The node's own state.
        inherited: The most severe state flowing down from its ancestors (``accepted`` when none).
        has_children: Whether :meth:`DelegationTree.children` can return anything.
        parent: The parent's id (None for a VirtualService).
        resource: The Gloo resource the node belongs to.
        weight: RouteTable weight or destination weight, where one applies.
        findings: Findings attributed to the node.
        unmodelled: What gloo_nb declares it does not model in the node's resource (a VirtualService or
            RouteTable node: all of it; a route node: that route's fields). Not a state: a node is never
            worse for it, its detail lists it.
        role: The node's role in the problem (``cause``, ``broken``, ``blocked``, ``replaced``; ``""`` for none).
    """

    id: str
    kind: str
    label: str
    state: str
    inherited: str
    has_children: bool
    parent: str | None
    resource: ResourceKey
    weight: int | None = None
    findings: list[Finding] = field(default_factory=list)
    unmodelled: list[Unmodelled] = field(default_factory=list)
    role: str = ""
    # Private construction inputs for children and details.
    _route: Route | None = field(default=None, repr=False)
    _merged: Route | None = field(default=None, repr=False)
    _chain: tuple[ResourceKey, ...] = field(default=(), repr=False)
    _visited: tuple[RouteTable, ...] = field(default=(), repr=False)
    _parent_info: Any = field(default=None, repr=False)
    _tables: tuple[tuple[int, RouteTable], ...] = field(default=(), repr=False)

    @property
    def colour(self) -> str:
        """The role's colour; a node that only inherits a state: that state's lighter tint; else its state's."""
        if self.role:
            return ROLE_COLOURS[self.role]
        if self.state == "accepted" and self.inherited in INHERITED_COLOURS:
            return INHERITED_COLOURS[self.inherited]
        return TREE_COLOURS[self.shown_state]

    @property
    def mark(self) -> str:
        """What the node's tag says: its role's word, else its state (with the inherited one when it differs)."""
        if self.role:
            return ROLE_WORDS[self.role]
        return self.state if self.inherited == "accepted" else f"{self.state}, inherits {self.inherited}"

    @property
    def meaning(self) -> str:
        """One line explaining :attr:`mark` (a legend entry)."""
        return ROLE_MEANINGS[self.role] if self.role else TREE_LEGEND[self.shown_state]

    @property
    def shown_state(self) -> str:
        """The own state when it is not ``accepted`` (what happened to this node), else the inherited one."""
        return self.state if self.state != "accepted" else self.inherited


@dataclass(frozen=True, slots=True)
class EnvoyRouteRef:
    """An Envoy route a Gloo route became.

    Attributes:
        route_configuration: RouteConfiguration name.
        virtual_host: Envoy virtual host name.
        index: Position in the virtual host.
        match: Envoy match summary.
        action: Envoy action summary.
        replaced: Whether Gloo pointed it at the fallback.
        replicas: Action each replica applied for this route (None: the replica lacks it).
        role: The route's role from the drift rows (``cause``, ``blocked``, ``replaced`` or ``""``).
    """

    route_configuration: str
    virtual_host: str
    index: int
    match: str
    action: str
    replaced: bool
    replicas: Mapping[str, str | None]
    role: str = ""


@dataclass(frozen=True, slots=True)
class NodeDetail:
    """What selecting a node shows.

    Attributes:
        node: The node.
        yaml: The resource (or route) as YAML.
        findings: Its findings.
        envoy_routes: The Envoy routes it became.
        unmodelled: What gloo_nb does not model in it (:attr:`TreeNode.unmodelled`).
    """

    node: TreeNode
    yaml: str
    findings: list[Finding]
    envoy_routes: list[EnvoyRouteRef]
    unmodelled: list[Unmodelled] = field(default_factory=list)


def _route_dict(route: Route) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if route.name:
        out["name"] = route.name
    if route.matchers:
        out["matchers"] = [matcher_json(m) for m in route.matchers]
    act = route.route_action
    if act is not None:
        if act.single is not None:
            out["routeAction"] = {"single": destination_json(act.single)}
        elif act.multi is not None:
            out["routeAction"] = {"multi": {"destinations": [
                {"destination": destination_json(w.destination), "weight": w.weight} for w in act.multi]}}
        elif act.upstream_group is not None:
            out["routeAction"] = {"upstreamGroup": {"name": act.upstream_group.name,
                                                    "namespace": act.upstream_group.namespace}}
    d = route.delegate_action
    if d is not None:
        if d.ref is not None or d.name:
            out["delegateAction"] = {"ref": {"name": d.ref.name if d.ref else d.name,
                                             "namespace": d.ref.namespace if d.ref else d.namespace}}
        elif d.selector is not None:
            sel: dict[str, Any] = {}
            if d.selector.namespaces:
                sel["namespaces"] = list(d.selector.namespaces)
            if d.selector.labels:
                sel["labels"] = dict(d.selector.labels)
            if d.selector.expressions:
                sel["expressions"] = [{"key": e.key, "operator": e.operator, "values": list(e.values)}
                                      for e in d.selector.expressions]
            out["delegateAction"] = {"selector": sel}
    if route.direct_response_action is not None:
        out["directResponseAction"] = {"status": route.direct_response_action.status}
    if route.redirect_action is not None:
        out["redirectAction"] = {"hostRedirect": route.redirect_action.host_redirect}
    if route.options:
        out["options"] = dict(route.options)
    if route.options_config_refs:
        out["optionsConfigRefs"] = {"delegateOptions": [{"name": r.name, "namespace": r.namespace}
                                                        for r in route.options_config_refs]}
    return out


def _matcher_text(route: Route) -> str:
    if not route.matchers:
        return "prefix /"
    parts = []
    for m in route.matchers:
        text = f"{m.path_kind or 'prefix'} {m.path or '/'}"
        extra = [f"{h.name}={h.value}" if h.value else h.name for h in m.headers]
        extra += [f"?{q.name}" for q in m.query_parameters] + list(m.methods)
        parts.append(text + (" [" + ", ".join(extra) + "]" if extra else ""))
    return " | ".join(parts)


def _dest_text(dest: Any) -> str:
    if dest.upstream is not None:
        text = f"upstream {dest.upstream.namespace}/{dest.upstream.name}"
    elif dest.kube is not None:
        text = f"kube {dest.kube.ref.namespace}/{dest.kube.ref.name}:{dest.kube.port}"
    else:
        text = "destination"
    if dest.subset:
        text += " " + ",".join(f"{k}={v}" for k, v in sorted(dest.subset.items()))
    return text


class DelegationTree:
    """The lazily built delegation tree of one translation.

    Args:
        translation: The translation (its snapshot, reports, findings, origins, push decision).
        drift: ``Inspection.drift`` rows, to show which replicas applied a route.
        proxy: One gateway proxy's tree: that proxy's translation (its Envoy routes, reports and
            push decision, from ``Translation.proxies``) and only the VirtualServices its Gateways
            select. Default: the translation as given (the default proxy's, every VirtualService).

    Raises:
        UsageError: ``proxy`` names no proxy of the translation.
    """

    def __init__(self, translation: Translation, drift: Sequence[DriftRow] | None = None, *,
                 proxy: str | None = None) -> None:
        self._only: set[ResourceKey] | None = None
        if proxy is not None:
            mine = translation.for_proxy(proxy)
            if mine is None:
                names = ", ".join(t.proxy.name for t in translation.proxies) or translation.proxy.name
                raise UsageError(f"no proxy {proxy!r} in this translation; its proxies: {names}")
            self._only = set(proxy_virtual_services(translation.snapshot, proxy))
            translation = mine
        self.proxy = translation.proxy.name
        self.translation = translation
        self.drift = list(drift or ())
        snap = translation.snapshot
        # Like the translator: these loops allocate many small acyclic objects while the translation's
        # millions are alive, and the cyclic collector's passes over them cost more than the work.
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._build(translation, snap)
        finally:
            if enabled:
                gc.enable()

    def _build(self, translation: Translation, snap: Any) -> None:
        self.index = RouteTableIndex(snap.route_tables)
        # The translation's RouteOptions, so a route's delegated options show and pass down as Gloo merges them.
        self._delegated = DelegatedOptions.from_snapshot(snap, translation.profile)
        self._vs = {vs.key: vs for vs in snap.virtual_services}
        self._replaced = set(translation.replaced)
        self.profile = translation.profile
        self.blocked = translation.push.decision == "keep-last-good"
        self._cause_refs = {c.ref for c in translation.block_causes() if c.ref}
        self._victim_refs = {d.resource for d in self.drift if d.role == "blocked"} - self._cause_refs
        self._upstreams = {(u.meta.namespace, u.meta.name) for u in snap.upstreams}
        self._nodes: dict[str, TreeNode] = {}
        self._children: dict[str, list[TreeNode]] = {}
        self._reports = {r.key: r for r in translation.reports}
        self._findings_by_origin: dict[ResourceKey, list[Finding]] = {}
        self._unmodelled: dict[ResourceKey, list[Unmodelled]] = {}
        for u in translation.unmodelled:
            self._unmodelled.setdefault(u.resource, []).append(u)
        for f in translation.findings:
            self._findings_by_origin.setdefault(f.origin, []).append(f)
            if f.resource != f.origin:
                # The resource Gloo writes the problem on (the VS, for a RouteTable's bad upstream).
                self._findings_by_origin.setdefault(f.resource, []).append(f)
        # Envoy routes by the Proxy route's sources; built up front so expanding a table stays cheap.
        self._envoy_index: dict[tuple[ResourceKey, ...], list[tuple[str, Any]]] = {}
        for rc, origins in translation.origins.items():
            for o in origins:
                self._envoy_index.setdefault(o.route.sources, []).append((rc, o))
        self._envoy_routes = {(conf.name, vh.name): vh.routes for conf in translation.envoy.route_configurations
                              for vh in conf.virtual_hosts}
        self._roots = [self._resource_node(vs.key, None, f"VirtualService {vs.key.ref}", "accepted",
                                           kind="VirtualService", has_children=bool(
                                               vs.virtual_host and vs.virtual_host.routes), vs=vs)
                       for vs in snap.virtual_services if self._only is None or vs.key in self._only]

    # -- nodes ------------------------------------------------------------------------------------

    def _register(self, node: TreeNode) -> TreeNode:
        self._nodes[node.id] = node
        return node

    def _resource_state(self, key: ResourceKey) -> tuple[str, list[Finding]]:
        findings = list(self._findings_by_origin.get(key, ()))
        report = self._reports.get(key)
        states = []
        if report is not None and report.errors:
            states.append("rejected")
        elif (report is not None and report.warnings) or findings:
            states.append("warning")
        if self.blocked and findings:
            states.append("blocked")
        return worst(states), findings

    def _resource_node(self, key: ResourceKey, parent: TreeNode | None, label: str, inherited: str, *, kind: str,
                       has_children: bool, vs: VirtualService | None = None, **extra: Any) -> TreeNode:
        state, findings = self._resource_state(key)
        node_id = f"{parent.id}/{key.kind}:{key.ref}" if parent else f"{key.kind}:{key.ref}"
        node = TreeNode(id=node_id, kind=kind, label=label, state=state, inherited=inherited,
                        has_children=has_children, parent=parent.id if parent else None, resource=key,
                        findings=findings, _chain=(key, *(parent._chain if parent else ())),
                        unmodelled=list(self._unmodelled.get(key, ())), role=self._resource_role(key), **extra)
        return self._register(node)

    def _resource_role(self, key: ResourceKey) -> str:
        # A resource is the cause when a blocking finding originates in it (not where Gloo merely reports it: the
        # VirtualService carries a RouteTable's missing upstream); a victim when the drift says its change is held.
        if key.ref in self._cause_refs:
            return "cause"
        if key.ref in self._victim_refs:
            return "blocked"
        return ""

    def _down(self, node: TreeNode) -> str:
        # What a child inherits: the flowing states of the node and its own ancestors.
        return worst([s for s in (node.state, node.inherited) if s in _FLOWS_DOWN])

    def roots(self) -> list[TreeNode]:
        """The top level: one node per VirtualService, in snapshot order.

        Returns:
            The root nodes.
        """
        return list(self._roots)

    def node(self, node_id: str) -> TreeNode:
        """Return a node that was already built.

        Args:
            node_id: Its id.

        Returns:
            The node.
        """
        return self._nodes[node_id]

    def children(self, node_id: str) -> list[TreeNode]:
        """Build (once) and return a node's children.

        Args:
            node_id: The node's id.

        Returns:
            The children, in Gloo's order.
        """
        cached = self._children.get(node_id)
        if cached is not None:
            return cached
        node = self._nodes[node_id]
        if node.kind == "VirtualService":
            vs = self._vs[node.resource]
            out = self._routes(node, vs.virtual_host.routes if vs.virtual_host else (), None)
        elif node.kind == "RouteTable":
            rt = node._tables[0][1]
            out = self._routes(node, rt.routes, node._parent_info)
        elif node.kind == "DelegateRoute":
            out = self._tables(node)
        elif node.kind == "Route":
            out = self._destinations(node)
        else:
            out = []
        self._children[node_id] = out
        return out

    def _converter(self, top: ResourceKey) -> RouteConverter:
        # The translator's own route walker: its validation decides drops.
        return RouteConverter.walker(self.profile, self.index, self._vs[top], self._delegated)

    def _routes(self, owner: TreeNode, routes: Sequence[Route], parent_info: Any) -> list[TreeNode]:
        conv = self._converter(owner._chain[-1])
        inherited = self._down(owner)
        out = []
        for idx, route in enumerate(routes):
            merged: Route | None = conv.with_delegated_options(owner.resource, route)
            state = "accepted"
            if parent_info is not None and merged is not None:
                try:
                    merged = conv.validate_and_merge(owner.resource, merged, parent_info)
                except VirtualServiceAborted:  # Gloo 1.3 aborts the VS; the VS report says why
                    merged = None
                if merged is None:
                    state = "dropped"
            text = _matcher_text(route)
            if route.delegate_action is not None:
                d = route.delegate_action
                target = (f"ref {(d.ref.namespace if d.ref else d.namespace)}/{d.ref.name if d.ref else d.name}"
                          if d.ref is not None or d.name else "selector " + json.dumps(
                              _route_dict(route).get("delegateAction", {}).get("selector", {}), sort_keys=True))
                node = TreeNode(id=f"{owner.id}/delegate:{idx}", kind="DelegateRoute",
                                label=f"delegate {text} -> {target}", state=state, inherited=inherited,
                                has_children=merged is not None, parent=owner.id, resource=owner.resource,
                                _route=route, _merged=merged, _chain=owner._chain, _visited=owner._visited)
            else:
                node = TreeNode(id=f"{owner.id}/route:{idx}", kind="Route", label=f"route {text}", state=state,
                                inherited=inherited, has_children=route.route_action is not None,
                                parent=owner.id, resource=owner.resource, _route=route, _merged=merged,
                                _chain=owner._chain)
                if merged is not None:
                    self._leaf_state(node)
            node.unmodelled = self._route_unmodelled(owner.resource, route.index)
            out.append(self._register(node))
        return out

    def _route_unmodelled(self, resource: ResourceKey, index: int) -> list[Unmodelled]:
        # Declarations are keyed by field path: a route's are under its routes[index] of its resource.
        prefix = ("spec.virtualHost.routes" if resource.kind == "VirtualService" else "spec.routes") + f"[{index}]."
        return [u for u in self._unmodelled.get(resource, ()) if u.path.startswith(prefix)]

    def _route_findings(self, node: TreeNode) -> list[Finding]:
        route = node._route
        assert route is not None
        names = []
        act = route.route_action
        dests = [] if act is None else ([act.single] if act.single else [w.destination for w in act.multi or ()])
        for d in dests:
            if d.upstream is not None:
                ns = d.upstream.namespace or node.resource.namespace
                names.append(f"{{{d.upstream.name} {ns}}}")
                names.append(f"{ns}.{d.upstream.name}")
        return [f for f in self._findings_by_origin.get(node.resource, ())
                if any(n in f.message for n in names)]

    def _leaf_state(self, node: TreeNode) -> None:
        node.findings = self._route_findings(node)
        states = []
        if node.findings:
            states.append("rejected" if any(f.severity == "error" for f in node.findings) else "warning")
            if self.blocked:
                states.append("blocked")
        refs = self.envoy_routes(node)
        if any(ref.replaced for ref in refs):
            states.append("replaced")
        node.state = worst(states)
        # Its own findings make it the cause; a valid route whose change the drift says is held back, a victim.
        if any(ref.replaced for ref in refs):
            node.role = "replaced"
        elif node.findings and self.blocked:
            node.role = "cause"
        elif any(ref.role == "blocked" for ref in refs):
            node.role = "blocked"

    def _tables(self, node: TreeNode) -> list[TreeNode]:
        route, merged = node._route, node._merged
        assert route is not None and route.delegate_action is not None and merged is not None
        conv = self._converter(node._chain[-1])
        try:
            matcher = conv.delegate_matcher(node.resource, merged)
        except VirtualServiceAborted:  # 1.3 aborts the VS on a bad delegate matcher
            matcher = None
        if matcher is None:
            node.state = worst((node.state, "rejected"))
            return []
        try:
            tables = self.index.select(route.delegate_action, node.resource.namespace, self.profile)
        except SelectionError as err:
            node.state = worst((node.state, "warning"))
            node.label += f"  ({err})"
            return []

        info = ParentRoute(matcher=matcher, options=merged.options, name="", has_name=False,
                       inheritable_matchers=bool(merged.inheritable_matchers),
                       inheritable_path_matchers=bool(merged.inheritable_path_matchers))
        inherited = self._down(node)
        out = []
        for weight, group in group_by_weight(tables):
            for rt in group:
                if any(rt is seen for seen in node._visited):
                    continue
                child = self._resource_node(
                    rt.key, node, f"RouteTable {rt.key.ref} (weight {weight})", inherited, kind="RouteTable",
                    has_children=bool(rt.routes), weight=weight, _parent_info=info, _visited=(*node._visited, rt),
                    _tables=((weight, rt),))
                out.append(child)
        return out

    def _destinations(self, node: TreeNode) -> list[TreeNode]:
        act = node._route.route_action if node._route else None
        if act is None:
            return []
        inherited = self._down(node)
        pairs = [(act.single, None)] if act.single is not None else [(w.destination, w.weight)
                                                                     for w in act.multi or ()]
        out = []
        for i, (dest, weight) in enumerate(pairs):
            text = _dest_text(dest) + (f" weight {weight or 0}" if weight is not None or act.multi else "")
            # Gloo's reporter names a missing upstream (`*v1.Upstream {name ns} not found`); the snapshot says
            # which destination it is. Kube and Consul destinations are not checked here.
            broken = dest.upstream is not None and (
                dest.upstream.namespace or node.resource.namespace, dest.upstream.name) not in self._upstreams
            if broken:
                text += " (does not exist)"
            out.append(self._register(TreeNode(
                id=f"{node.id}/dest:{i}", kind="Destination", label=text, state="accepted", inherited=inherited,
                has_children=False, parent=node.id, resource=node.resource, weight=weight,
                role="broken" if broken else "")))
        return out

    # -- Envoy routes and details ----------------------------------------------------------------

    def envoy_routes(self, node: TreeNode) -> list[EnvoyRouteRef]:
        """The Envoy routes a route node became (nothing for other kinds, or a dropped route).

        A Gloo route is found among the Proxy routes of the same resource chain by its merged
        matchers and action; two identical routes in one resource share their Envoy routes.

        Args:
            node: A ``Route`` node.

        Returns:
            The Envoy routes, with their replacement flag and per-replica actions.
        """
        if node.kind != "Route" or node._merged is None:
            return []
        merged = node._merged
        out = []
        for rc, origin in self._envoy_index.get(node._chain, ()):
            pr: ProxyRoute = origin.route
            if pr.matchers != (merged.matchers or pr.matchers) or not _same_action(pr, merged):
                continue
            out.append(self._envoy_ref(rc, origin))
        return out

    def _envoy_ref(self, rc: str, origin: Any) -> EnvoyRouteRef:
        vh_routes = self._envoy_routes.get((rc, origin.virtual_host), ())
        envoy_route = vh_routes[origin.envoy_index] if origin.envoy_index < len(vh_routes) else None
        as_json = MessageToDict(envoy_route) if envoy_route is not None else {}
        name = envoy_route.name if envoy_route is not None else ""
        replaced = (rc, origin.virtual_host, name or str(origin.envoy_index)) in self._replaced
        match = match_summary(as_json.get("match", {}))
        replicas: dict[str, str | None] = {}
        role = ""
        route = route_id(origin.virtual_host, route_match_json(envoy_route.match) if envoy_route is not None else {})
        for row in self.drift:
            if row.id == route:
                replicas = {k: v for k, v in row.by_source.items() if k not in ("intent", "served")}
                role = row.role
                break
        return EnvoyRouteRef(rc, origin.virtual_host, origin.envoy_index, match, action_summary(as_json),
                             replaced, replicas, role)

    def detail(self, node_id: str) -> NodeDetail:
        """What selecting a node shows: YAML, findings, Envoy routes and the replicas that applied them.

        Args:
            node_id: The node's id.

        Returns:
            The detail.
        """
        node = self._nodes[node_id]
        if node.kind in ("Route", "DelegateRoute") and node._route is not None:
            text = yaml.safe_dump(_route_dict(node._route), sort_keys=False)
        elif node.kind in ("VirtualService", "RouteTable"):
            text = self._resource_yaml(node.resource)
        else:
            text = node.label + "\n"
        return NodeDetail(node, text, list(node.findings), self.envoy_routes(node), list(node.unmodelled))

    def _resource_yaml(self, key: ResourceKey) -> str:
        res: VirtualService | RouteTable | None = self._vs.get(key)
        if res is None and key.kind == "RouteTable":
            res = self.index.get(key.namespace, key.name)
        if res is None:
            return ""
        loc = res.meta.location
        path = Path(loc.file)
        if loc.document is not None and path.is_file():
            # The source object, as written: read by the one parser, at the index it gave the document
            # (empty documents count, as in Location.document).
            try:
                docs = load_documents(path.read_bytes(), file=str(path), keep_empty=True)
                if loc.document < len(docs) and docs[loc.document] is not None:
                    return yaml.safe_dump(docs[loc.document], sort_keys=False)
            except (OSError, ParseError):
                pass
        routes = (res.virtual_host.routes if isinstance(res, VirtualService) and res.virtual_host
                  else res.routes if isinstance(res, RouteTable) else ())
        return yaml.safe_dump({"kind": key.kind, "metadata": {"name": key.name, "namespace": key.namespace},
                               "routes": [_route_dict(r) for r in routes]}, sort_keys=False)

    # -- search ------------------------------------------------------------------------------------

    def walk(self) -> Iterator[TreeNode]:
        """Every node, depth first, expanding as it goes.

        Yields:
            The nodes.
        """
        stack = list(reversed(self._roots))
        while stack:
            node = stack.pop()
            yield node
            if node.has_children:
                stack.extend(reversed(self.children(node.id)))

    def search(self, text: str, *, limit: int = 200) -> list[TreeNode]:
        """Nodes whose label contains ``text`` (case-insensitive), expanding the tree as needed.

        Args:
            text: The text.
            limit: Stop after this many hits.

        Returns:
            The matching nodes; :meth:`path` gives the ids to expand to show one.
        """
        needle = text.lower()
        out = []
        for node in self.walk():
            if needle in node.label.lower():
                out.append(node)
                if len(out) >= limit:
                    break
        return out

    def role_nodes(self, *, limit: int = 200) -> list[TreeNode]:
        """Nodes with a role (cause, broken destination, held-back victim, replaced), expanding the tree as needed.

        Args:
            limit: Stop after this many.

        Returns:
            The nodes, depth first; :meth:`path` gives the ids to expand to show one.
        """
        out = []
        for node in self.walk():
            if node.role:
                out.append(node)
                if len(out) >= limit:
                    break
        return out

    def path(self, node_id: str) -> list[str]:
        """Ids from the root down to a node (inclusive).

        Args:
            node_id: The node's id.

        Returns:
            The ids.
        """
        out = []
        current: str | None = node_id
        while current is not None:
            out.append(current)
            current = self._nodes[current].parent
        return out[::-1]


def _same_action(pr: ProxyRoute, route: Route) -> bool:
    if route.route_action is None:
        return pr.route_action is None
    if pr.route_action is None:
        return False
    a, b = route.route_action, pr.route_action
    if a.single is not None and b.single is not None:
        return a.single.subset == b.single.subset and (a.single.upstream is None) == (b.single.upstream is None) and (
            a.single.upstream is None or b.single.upstream is None or a.single.upstream.name == b.single.upstream.name)
    if a.multi is not None and b.multi is not None:
        return [w.weight for w in a.multi] == [w.weight for w in b.multi]
    return (a.single is None) == (b.single is None)
