"""The translation pipeline, for both behaviour profiles.

Gateway translation, proxy validation, last-accepted reconciliation, Gloo translation, sanitizers
and the push decision.

Sources: ``projects/gateway/pkg/reconciler/proxy_reconciler.go`` (both profiles),
``projects/gloo/pkg/syncer/envoy_translator_syncer.go`` and ``syncer/sanitizer/*.go`` (CUR and
v1.3.20). See spec sections 0 and 4 for how the two protection layers combine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from envoy.config.cluster.v3.cluster_pb2 import Cluster

from gloo_nb._gc import gc_paused
from gloo_nb._types import Profile
from gloo_nb.models import (
    HELM_INVALID_ROUTE_BODY,
    Finding,
    Gateway,
    HttpGateway,
    InvalidConfigPolicy,
    ObjectMeta,
    Resource,
    ResourceKey,
    ResourceRef,
    Service,
    Settings,
    Skipped,
    Snapshot,
    Unmodelled,
    Upstream,
)
from gloo_nb.translate.eds import Endpoints, kube_endpoints_of
from gloo_nb.translate.envoy import (
    FALLBACK_CLUSTER,
    EnvoyResources,
    ProxyTranslation,
    ProxyTranslator,
    RouteOrigin,
    apply_upstream_tls,
    build_cluster,
    cluster_name,
    endpoints_for,
    fake_kube_upstreams,
    fallback_cluster,
    fallback_listener,
    kube_service_upstream_name,
)
from gloo_nb.translate.envoy_rejections import EnvoyRejection, predict_cluster_rejections, predict_rejections
from gloo_nb.translate.gateway import gateway_contains, translate_gateways
from gloo_nb.translate.http_filters import FilterSettings
from gloo_nb.translate.proxy import Proxy, ProxyListener
from gloo_nb.translate.reports import Reports, ResourceReport, multierror_text
from gloo_nb.translate.routes import RouteId, route_id, route_match_json
from gloo_nb.translate.tls import parse_ssl_config, profile_problems, unseen_secret_warning
from gloo_nb.translate.unmodelled import declared_unmodelled, option_decoding_findings, route_features
from gloo_nb.translate.upstream_groups import verify_upstream_groups
from gloo_nb.translate.upstream_options import apply_upstream_options, service_upstream_config
from gloo_nb.translate.watch import WatchScope, select_watched

GLOO_NAMESPACE = "gloo-system"
DEFAULT_PROXY = "gateway-proxy"


def helm_default_settings() -> Settings:
    """Settings as the Helm chart installs them (``invalidConfigPolicy`` 404 and Helm's body).

    Returns:
        The Settings model ``gloo-system/default``.
    """
    return Settings(meta=ObjectMeta("default", GLOO_NAMESPACE), discovery_namespace=GLOO_NAMESPACE,
                    invalid_config_policy=InvalidConfigPolicy(False, 404, HELM_INVALID_ROUTE_BODY),
                    xds_bind_addr="0.0.0.0:9977")


def helm_default_gateway() -> Gateway:
    """The Helm chart's default HTTP gateway ``gloo-system/gateway-proxy`` on ``::``:8080.

    Returns:
        The Gateway model.
    """
    return Gateway(meta=ObjectMeta(DEFAULT_PROXY, GLOO_NAMESPACE), bind_address="::", bind_port=8080,
                   proxy_names=(DEFAULT_PROXY,), http_gateway=HttpGateway())


def helm_default_ssl_gateway() -> Gateway:
    """The Helm chart's default HTTPS gateway ``gloo-system/gateway-proxy-ssl`` on ``::``:8443, ``ssl: true``.

    Both profiles' charts render it next to ``gateway-proxy`` (``templates/8-default-gateways.yaml`` at
    v1.3.20, ``_8-default-gateways.tpl`` now), with ``bindPort`` = ``podTemplate.httpsPort`` (8443).

    Returns:
        The Gateway model.
    """
    return Gateway(meta=ObjectMeta(f"{DEFAULT_PROXY}-ssl", GLOO_NAMESPACE), ssl=True, bind_address="::",
                   bind_port=8443, proxy_names=(DEFAULT_PROXY,), http_gateway=HttpGateway())


def helm_default_gateways() -> tuple[Gateway, ...]:
    """The Helm chart's default Gateways: ``gateway-proxy`` (8080) and ``gateway-proxy-ssl`` (8443), sorted.

    Returns:
        The two Gateway models.
    """
    return (helm_default_gateway(), helm_default_ssl_gateway())


@dataclass(frozen=True, slots=True)
class PushDecision:
    """The control plane's decision for a snapshot.

    Attributes:
        decision: ``push`` (Envoy gets the new configuration) or ``keep-last-good``.
        reason: Why, in words.
    """

    decision: Literal["push", "keep-last-good"]
    reason: str


@dataclass(frozen=True, slots=True)
class BlockCause:
    """A resource whose findings make the control plane keep its last good configuration.

    Attributes:
        ref: ``namespace/name`` of the resource (``""`` when no finding explains the decision).
        namespace: Its namespace (its team).
        message: Gloo's message (the push decision's reason when no finding explains it).
    """

    ref: str
    namespace: str
    message: str

    def text(self) -> str:
        """``ns/name: <Gloo message>`` (the message alone without a resource)."""
        return f"{self.ref}: {self.message}" if self.ref else self.message


@dataclass(slots=True)
class Translation:
    """Everything one translation produced.

    Attributes:
        profile: The behaviour profile.
        snapshot: The input.
        settings: The Settings in force.
        reports: Gloo's reports on VirtualServices, RouteTables, Gateways and Upstreams.
        findings: gloo_nb's attribution of every problem.
        proxy: The Proxy Gloo writes (after last-accepted reconciliation).
        envoy: The sanitized Envoy resources this snapshot produced.
        push: The push decision.
        served: What Envoy is served after this snapshot (the new resources, or the last good
            ones, or None when nothing has ever been pushed).
        origins: Per RouteConfiguration, the origin of each Envoy route of ``envoy``.
        served_origins: The same for ``served`` (the origins of the last pushed snapshot).
        replaced: ``(route configuration, virtual host, route name or index)`` of every route
            pointed at the fallback cluster.
        proxy_report: Gloo's report on the Proxy itself (every listener, virtual host and route
            error and warning of its translation, after the sanitizers), which becomes the
            Proxy's status and the ``*v1.Proxy...`` subresource status of gateway resources.
        proxies: Every proxy the Gateways name, in Gloo's order (by name), each its own translation
            (its own ``proxy``, ``envoy``, ``push``, ``served``; its ``reports`` are what that proxy's
            translation reports). Filled on the translation :meth:`Translator.translate` returns,
            whose other fields are those of the default proxy (``gateway-proxy`` when present, else
            the first), except ``reports`` and ``findings``, which cover every proxy (see
            :func:`merge_proxy_reports`). Empty on the per-proxy translations themselves.
        unmodelled: Every field whose effect on Envoy gloo_nb does not reproduce (declared, never a
            problem: ``gloo-nb translate --json``'s ``unmodelled``, ``check``'s ``not modelled:`` lines).
        envoy_rejections: What Envoy will refuse (NACK) of what this snapshot pushes
            (:mod:`gloo_nb.translate.envoy_rejections`); each is also a finding of layer ``envoy``.
        watch: The namespaces Gloo watches (:mod:`gloo_nb.translate.watch`); ``snapshot`` holds only their
            resources, and every Gloo resource left out has a finding of layer ``watch``. None: every namespace.
    """

    profile: Profile
    snapshot: Snapshot
    settings: Settings
    reports: list[ResourceReport]
    findings: list[Finding]
    proxy: Proxy
    envoy: EnvoyResources
    push: PushDecision
    served: EnvoyResources | None
    origins: dict[str, list[RouteOrigin]] = field(default_factory=dict)
    served_origins: dict[str, list[RouteOrigin]] = field(default_factory=dict)
    replaced: list[tuple[str, str, str]] = field(default_factory=list)
    proxy_report: ResourceReport | None = None
    proxies: list[Translation] = field(default_factory=list)
    unmodelled: list[Unmodelled] = field(default_factory=list)
    envoy_rejections: list[EnvoyRejection] = field(default_factory=list)
    watch: WatchScope | None = None
    _sources: dict[RouteId, tuple[ResourceKey, ...]] | None = field(default=None, init=False, repr=False,
                                                                     compare=False)

    @property
    def snapshot_key(self) -> str:
        """The xDS snapshot key of this proxy, ``<namespace>~<name>`` (Gloo's ``xds.SnapshotCacheKey``)."""
        return snapshot_key(self.proxy.namespace, self.proxy.name)

    def for_proxy(self, name: str) -> Translation | None:
        """The translation of one proxy, by name.

        Args:
            name: The proxy's name.

        Returns:
            The proxy's own translation (:attr:`proxies`), or None when no Gateway names it (this
            translation itself when it is that proxy's and has no ``proxies``).
        """
        if self.proxies:
            return next((t for t in self.proxies if t.proxy.name == name), None)
        return self if self.proxy.name == name else None

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        """Documents replaced by later ones with the same identity."""
        return self.snapshot.skipped

    def blocking_findings(self) -> list[Finding]:
        """The findings that make the control plane keep its last good configuration (none when it pushes).

        Returns:
            The findings, in translation order.
        """
        if self.push.decision != "keep-last-good":
            return []
        return [f for f in self.findings if self.would_block(f)]

    def block_causes(self) -> tuple[BlockCause, ...]:
        """What blocks the push: one cause per distinct ``ns/name: <Gloo message>``, in translation order.

        Gloo 1.3 withholds the snapshot on warnings too, current only on errors (:meth:`would_block`).

        Returns:
            The causes; empty when it pushes; the push reason alone when no finding explains keeping.
        """
        if self.push.decision != "keep-last-good":
            return ()
        causes: dict[str, BlockCause] = {}
        for f in self.blocking_findings():
            cause = BlockCause(f.origin.ref, f.origin.namespace, f.message)
            causes.setdefault(cause.text(), cause)
        return tuple(causes.values()) or (BlockCause("", "", self.push.reason),)

    def route_sources(self) -> dict[RouteId, tuple[ResourceKey, ...]]:
        """Who owns each Envoy route: the resources it comes from (its own first, then ancestors, then the VS).

        Covers the routes of ``envoy`` and of ``served`` (the last pushed snapshot), keyed by route identity so
        that a row of any source (intent, served, a replica, the journal) finds its owner without relying on its
        position; where both hold a route, ``envoy``'s origin wins.

        Returns:
            Route identity -> sources (``ProxyRoute.sources``); routes without a Gloo route are left out.
            Computed once per translation (a translation is not changed after it is made).
        """
        if self._sources is not None:
            return self._sources
        out: dict[RouteId, tuple[ResourceKey, ...]] = {}
        for envoy, origins in ((self.served, self.served_origins), (self.envoy, self.origins)):
            if envoy is None:
                continue
            for rc in envoy.route_configurations:
                # origins list each route configuration's Envoy routes in order (translate.envoy.RouteOrigin).
                by_position = {(o.virtual_host, o.envoy_index): o for o in origins.get(rc.name, ())}
                for vh in rc.virtual_hosts:
                    for index, route in enumerate(vh.routes):
                        origin = by_position.get((vh.name, index))
                        if origin is not None and origin.route.sources:
                            out[route_id(vh.name, route_match_json(route.match))] = origin.route.sources
        self._sources = out
        return out

    def route_unmodelled(self) -> dict[RouteId, str]:
        """What gloo_nb does not predict of each Envoy route of ``envoy`` (the intent), for drift.

        A route's own options (merged from its parents, as Gloo merges them), its destinations' and its
        virtual host's options that gloo_nb does not map to Envoy (:func:`~gloo_nb.translate.unmodelled.
        route_features`).

        Returns:
            Route identity -> ``, ``-joined feature names; routes gloo_nb models fully are left out.
        """
        vh_options = {vs.key: vs.virtual_host.options for vs in self.snapshot.virtual_services
                      if vs.virtual_host is not None}
        out: dict[RouteId, str] = {}
        for rc in self.envoy.route_configurations:
            by_position = {(o.virtual_host, o.envoy_index): o for o in self.origins.get(rc.name, ())}
            for vh in rc.virtual_hosts:
                for index, route in enumerate(vh.routes):
                    origin = by_position.get((vh.name, index))
                    if origin is None:
                        continue
                    features = route_features(origin.route, vh_options.get(origin.vs), self.profile)
                    if features:
                        out[route_id(vh.name, route_match_json(route.match))] = ", ".join(features)
        return out

    def route_owner(self, route: RouteId) -> ResourceKey | None:
        """The resource that defines one Envoy route (its innermost source: a RouteTable or the VS).

        Args:
            route: The route's identity (``RouteRow.id``).

        Returns:
            The owner, or None when the route has no Gloo route in this translation.
        """
        sources = self.route_sources().get(route)
        return sources[0] if sources else None

    def would_block(self, finding: Finding) -> bool:
        """Whether a finding of this kind makes this profile's control plane keep its last good configuration.

        Gloo 1.3 withholds the whole snapshot on warnings too (its ValidateStrict); current Gloo on
        errors only. Parse findings (unknown fields) never block.

        Args:
            finding: A finding.

        Returns:
            True when it blocks (by default policy).
        """
        # Envoy's NACKs (layer "envoy") happen after the push: they never hold it back; a resource Gloo does not
        # read (layer "watch") is not in its snapshot at all.
        return (finding.layer not in ("parse", "envoy", "watch")
                and (self.profile == "1.3" or finding.severity == "error"))

    def report(self, kind: str, namespace: str, name: str) -> ResourceReport | None:
        """Return Gloo's report on one resource.

        Args:
            kind: The kind.
            namespace: The namespace.
            name: The name.

        Returns:
            The report, or None when the resource was not translated.
        """
        key = ResourceKey(kind, namespace, name)
        return next((r for r in self.reports if r.key == key), None)


def _upstream_checks(upstreams: Sequence[Upstream], services: Sequence[Service], profile: Profile,
                     reports: Reports) -> None:
    for up in upstreams:
        # clusters.go:computeCluster: the errors of initializeCluster, each upstream plugin and
        # validateCluster, in that order (translate/upstream_options.py).
        # The kube plugin's missing-Service error (current) is not applied yet: gloo_nb's inputs
        # often omit Services, and Gloo would then drop every such cluster (services=None).
        problems = apply_upstream_options(Cluster(), up, profile)
        for e in problems.errors:
            reports.add_error(up.key, e)
            reports.find(Finding(up.key, "error", e, up.key, layer="gloo"))
        for w in problems.warnings:
            # computeClusters: a *translator.Warning is AddWarning, so the Upstream is Warning and
            # keeps its cluster.
            reports.add_warning(up.key, w)
            reports.find(Finding(up.key, "warning", w, up.key, layer="gloo"))
        for path, note in problems.notes:
            reports.find(Finding(up.key, "warning", f"{path}: {note}", up.key, layer="gloo", field=path))
        for path, feature, detail in problems.unmodelled:
            reports.declare(Unmodelled(up.key, path, feature, detail))
        kube = up.kube
        if kube is None or up.meta.name.startswith("kube-svc:"):
            continue
        svc = next((s for s in services
                    if (s.meta.namespace, s.meta.name) == (kube.service_namespace, kube.service_name)), None)
        if svc is None or any(p.port == kube.service_port for p in svc.ports):
            continue
        if profile == "1.3" and len(svc.ports) == 1:
            # v1.3 EDS used the only port of a single-port Service (plugins/kubernetes/eds.go@v1.3.20).
            continue
        # CUR plugins/kubernetes/eds.go:findPortForService: logged by EDS, not written on the
        # Upstream's status; the upstream gets no endpoints.
        reports.find(Finding(
            up.key, "error",
            f"upstream {up.key.dotted}: port {kube.service_port} not found for service {kube.service_name}",
            up.key, layer="gloo"))


def _service_annotation_findings(services: Sequence[Service], profile: Profile, settings: Settings,
                                 reports: Reports) -> None:
    # general_annotation_converter.go (current): a gloo.solo.io/upstream_config Gloo cannot read is
    # only logged; gloo_nb says so on the Service.
    if profile == "1.3":
        return
    for svc in services:
        for p in svc.ports[:1]:
            probe = Upstream(meta=ObjectMeta(kube_service_upstream_name(svc.meta.namespace, svc.meta.name, p.port),
                                             svc.meta.namespace), upstream_type="kube")
            merged, problems = service_upstream_config(probe, svc, settings.upstream_global_annotations)
            for text in problems:
                reports.find(Finding(svc.key, "warning", text, svc.key, layer="gloo"))
            for name in merged.options.unmodelled:
                # general_annotation_converter.go merges these into the kube-svc upstream; gloo_nb does not.
                reports.declare(Unmodelled(svc.key, f"metadata.annotations[gloo.solo.io/upstream_config].{name}",
                                           name, "gloo_nb does not reproduce it on the Service's kube-svc upstream"))


def _upstream_tls(cluster: Cluster, upstream: Upstream, snapshot: Snapshot, profile: Profile,
                  warn_missing: bool, gloo_reports: Reports) -> None:
    # clusters.go (CUR): an sslConfig error is the Upstream's error, or a warning for a missing secret
    # with warnMissingTlsSecret; plugins/upstreamssl (1.3): always an error. In-memory kube-svc:
    # upstreams take their sslConfig from Service annotations: gloo_nb names the Service as the origin.
    origin = upstream.key
    if upstream.meta.name.startswith("kube-svc:") and upstream.kube is not None:
        origin = ResourceKey("Service", upstream.kube.service_namespace, upstream.kube.service_name)
    if upstream.ssl_config is not None:
        cfg = parse_ssl_config(upstream.ssl_config, "spec.sslConfig")
        for problem in (*cfg.problems, *profile_problems(cfg, profile, "spec.sslConfig")):
            gloo_reports.find(Finding(upstream.key, "warning", problem, origin, layer="parse",
                                      field="spec.sslConfig"))
        unseen = unseen_secret_warning(cfg, snapshot.secrets, profile, snapshot.secrets_unreadable)
        if unseen is not None:
            # gloo_nb cannot see the Secret: its own warning instead of Gloo's "SSL secret not found"
            gloo_reports.find(Finding(upstream.key, "warning", unseen, origin, layer="parse",
                                      field="spec.sslConfig.secretRef"))
    error = apply_upstream_tls(cluster, upstream, snapshot.secrets, profile,
                               secrets_unreadable=snapshot.secrets_unreadable)
    if error is None:
        return
    if error.unmodelled:
        gloo_reports.declare(Unmodelled(upstream.key, "spec.sslConfig.sds", "SDS (sslConfig.sds)", error.message))
    elif error.missing_secret and warn_missing and profile != "1.3":
        gloo_reports.add_warning(upstream.key, error.message)
        gloo_reports.find(Finding(upstream.key, "warning", error.message, origin, layer="gloo"))
    else:
        gloo_reports.add_error(upstream.key, error.message)
        gloo_reports.find(Finding(upstream.key, "error", error.message, origin, layer="gloo"))


def _strip_and_restore(desired: Proxy, previous: Proxy | None, reports: Reports) -> Proxy:
    # proxy_reconciler.go: drop listeners of Gateways with errors and vhosts of VSs with errors,
    # then copy back what the previously written Proxy had for them; sort by name.
    prev_listeners = {ls.name: ls for ls in previous.listeners} if previous else {}
    listeners: list[ProxyListener] = []
    for ls in desired.listeners:
        if reports.has_errors(ls.source):
            if ls.name in prev_listeners:
                listeners.append(prev_listeners[ls.name])
            continue
        if ls.matched:
            # proxy_reconciler.go: each matched HTTP listener of a hybrid listener is stripped and restored
            # like an HTTP listener, against the previous matched listener with an equal matcher.
            listeners.append(_strip_matched(ls, prev_listeners.get(ls.name), reports))
            continue
        vhosts = [vh for vh in ls.virtual_hosts if not reports.has_errors(vh.source)]
        prev = prev_listeners.get(ls.name)
        if prev is not None:
            kept = {vh.name for vh in vhosts}
            for vh in prev.virtual_hosts:
                if vh.name not in kept and reports.has_errors(vh.source):
                    vhosts.append(vh)
        vhosts.sort(key=lambda v: v.name)
        listeners.append(replace(ls, virtual_hosts=tuple(vhosts)))
    listeners.sort(key=lambda ls: ls.name)
    return replace(desired, listeners=tuple(listeners))


def _strip_matched(ls: ProxyListener, previous: ProxyListener | None, reports: Reports) -> ProxyListener:
    changed = False
    matched = []
    for m in ls.matched:
        vhosts = [vh for vh in m.virtual_hosts if not reports.has_errors(vh.source)]
        prev = next((p for p in (previous.matched if previous else ()) if p.matcher == m.matcher), None)
        if prev is not None:
            kept = {vh.name for vh in vhosts}
            vhosts += [vh for vh in prev.virtual_hosts if vh.name not in kept and reports.has_errors(vh.source)]
        vhosts.sort(key=lambda v: v.name)
        if [id(v) for v in vhosts] != [id(v) for v in m.virtual_hosts]:
            m = replace(m, virtual_hosts=tuple(vhosts))
            changed = True
        matched.append(m)
    return replace(ls, matched=tuple(matched)) if changed else ls


def _merge_validation(validation: Reports, reports: Reports, demote_route_errors: bool) -> None:
    # add_proxy_validation_result.go: proxy results go to the VS (vhost/route) or Gateway (listener).
    for rep in validation:
        for err in rep.errors:
            if demote_route_errors and err.startswith("Route Error: "):
                # validation/server.go routeErrorToWarnings, with replaceInvalidRoutes on.
                reports.add_warning(rep.key, err)
            else:
                reports.add_error(rep.key, err)
        for warning in rep.warnings:
            reports.add_warning(rep.key, warning)
    for u in validation.unmodelled:
        reports.declare(u)
    for f in validation.findings:
        if demote_route_errors and f.message.startswith("Route Error: "):
            f = replace(f, severity="warning")
        reports.find(f)


def snapshot_key(namespace: str, name: str) -> str:
    """The xDS snapshot key of a proxy: ``<namespace>~<name>``.

    Gloo keys its snapshot cache on the Envoy node's ``metadata.role``, which the Helm bootstrap
    sets to this (``projects/gloo/pkg/xds/cache.go:SnapshotCacheKey``; ``xds.SnapshotKey`` in v1.3.20).

    Args:
        namespace: The Proxy's (write) namespace.
        name: The Proxy's name.

    Returns:
        The key, e.g. ``gloo-system~gateway-proxy``.
    """
    return f"{namespace}~{name}"


def proxy_names(gateways: Iterable[Gateway]) -> list[str]:
    """The proxies the Gateways name, in Gloo's order.

    ``projects/gateway/pkg/utils/gateway_filtering.go:GatewaysByProxyName`` groups the Gateways by
    each name in ``proxyNames``, a Gateway without any counting for ``gateway-proxy``
    (``GetProxyNamesForGateway``); the gateway translator syncer then builds one Proxy per name
    (``projects/gateway/pkg/syncer/translator_syncer.go``). Current Gloo processes and reports
    them sorted by namespace and name (``statusSyncer.setCurrentProxies``; all share the write
    namespace); v1.3.20 translates them in Go map order but writes them sorted by metadata
    (``proxy_reconciler.go:ReconcileProxies``), and gloo_nb uses the name order for both.

    Args:
        gateways: The Gateways.

    Returns:
        The distinct proxy names, sorted.
    """
    return sorted({name for g in gateways for name in (g.proxy_names or (DEFAULT_PROXY,))})


def proxy_virtual_services(snapshot: Snapshot, name: str) -> list[ResourceKey]:
    """The VirtualServices a proxy's HTTP Gateways select, in snapshot order.

    A VirtualService is in a proxy when one of the Gateways naming the proxy binds it
    (``HttpGatewayContainsVirtualService``; :func:`~gloo_nb.translate.gateway.gateway_contains`).

    Args:
        snapshot: The resources (without Gateways: Helm's default one).
        name: The proxy's name.

    Returns:
        The VirtualServices' keys.
    """
    gateways = [g for g in _readable_gateways(snapshot)
                if name in (g.proxy_names or (DEFAULT_PROXY,)) and g.http_gateway is not None]
    return [vs.key for vs in snapshot.virtual_services if any(gateway_contains(g, vs) for g in gateways)]


def merge_proxy_reports(per_proxy: Sequence[Iterable[ResourceReport]]) -> list[ResourceReport]:
    """Combine the reports of several proxies' translations into the ones Gloo writes.

    Current Gloo (``projects/gateway/pkg/syncer/translator_syncer.go:extractCurrentReports``) walks
    the proxies in order and, for a resource reported by several, appends the later proxy's errors
    (``multierror.Append``, duplicates kept) and warnings (duplicates kept) to the earlier ones'.
    Upstream reports come from Gloo's translation of each proxy, which reports every Upstream the
    same way; ``ResourceReports.Merge`` keeps one copy (v1.3.20 overwrites, current folds repeats),
    so the first proxy's is kept.

    Gloo v1.3.20 writes each proxy's reports separately (``translator_syncer.go:propagateProxyStatus``,
    one goroutine per proxy, each overwriting the whole status with its own report and only its own
    Proxy's subresource status), so the status a resource ends with there depends on which write
    lands last. gloo_nb does not model that race: it reports the combination in both profiles, so
    that no proxy's problem is hidden; each proxy's own reports stay on :attr:`Translation.proxies`.

    Args:
        per_proxy: Each proxy's reports, in Gloo's proxy order.

    Returns:
        One report per resource, in first-seen order.
    """
    merged: dict[ResourceKey, ResourceReport] = {}
    for reports in per_proxy:
        for rep in reports:
            have = merged.get(rep.key)
            if have is None:
                merged[rep.key] = ResourceReport(rep.key, list(rep.errors), list(rep.warnings))
            elif rep.key.kind not in _SHARED_REPORT_KINDS:
                have.errors.extend(rep.errors)
                have.warnings.extend(rep.warnings)
    return list(merged.values())


_SHARED_REPORT_KINDS = frozenset({"Upstream", "UpstreamGroup"})
# Resources every proxy's translation reports the same way (translator.go: computeClusters and
# verifyUpstreamGroups run per proxy over the whole snapshot): merged once, not once per proxy.


def _readable_gateways(snapshot: Snapshot) -> list[Gateway]:
    # The gateway translator reads only the Gateways of its write namespace unless
    # settings.gateway.readGatewaysFromAllNamespaces (v1.3.20 translator.go:filterGateways; current
    # translator/predicate.go:GetPredicate). A proxy whose Gateways are all elsewhere gets no Proxy.
    # Without any Gateway: Helm's default one.
    gateways = snapshot.gateways or helm_default_gateways()
    settings = snapshot.settings or helm_default_settings()
    if settings.read_gateways_from_all_namespaces:
        return list(gateways)
    write_ns = settings.discovery_namespace or GLOO_NAMESPACE
    return [g for g in gateways if g.meta.namespace == write_ns]


@dataclass(slots=True)
class _ProxyMemory:
    # What Gloo's pods remember per proxy: the Proxy last written (proxy_reconciler.go) and the
    # snapshot last set for the proxy's cache key (envoy_translator_syncer.go).
    last_proxy: Proxy | None = None
    last_pushed: EnvoyResources | None = None
    last_origins: dict[str, list[RouteOrigin]] = field(default_factory=dict)


class Translator:
    """A stateful translator that remembers what it last wrote and pushed, as Gloo's pods do.

    Gloo keeps this memory in process: a new Translator is a restarted control plane. It keeps it
    per proxy, as Gloo does: one proxy's Proxy and last pushed snapshot never stand in for another's.

    Every proxy the Gateways name is translated (:func:`proxy_names`); the translation returned is
    the default proxy's, with every proxy's in :attr:`Translation.proxies`.

    Args:
        profile: ``1.3`` or ``current``.
        proxy_name: The default proxy, whose translation the top-level fields describe. None (the
            default): ``gateway-proxy`` when a Gateway names it, else the first proxy by name. A
            name no Gateway names gets an empty Proxy (no listeners), as before.
    """

    def __init__(self, profile: Profile = "current", *, proxy_name: str | None = None) -> None:
        self.profile: Profile = profile
        self.proxy_name = proxy_name
        self._memory: dict[str, _ProxyMemory] = {}
        self._default = proxy_name or DEFAULT_PROXY

    def _mem(self, name: str) -> _ProxyMemory:
        mem = self._memory.get(name)
        if mem is None:
            mem = self._memory[name] = _ProxyMemory()
        return mem

    @property
    def last_pushed(self) -> EnvoyResources | None:
        """What the default proxy of the last translation was last served (None: never pushed)."""
        return self._mem(self._default).last_pushed

    def translate(self, snapshot: Snapshot, *, endpoints: Endpoints | None = None) -> Translation:
        """Translate a snapshot for every proxy, updating each proxy's memory of its last Proxy and push.

        Args:
            snapshot: The resources.
            endpoints: Endpoint addresses per cluster name, for EDS. When not given, they are
                derived from the snapshot's Services, Endpoints and Pods
                (:func:`~gloo_nb.translate.eds.kube_endpoints_of`), as Gloo's EDS watches them.

        Only the namespaces Gloo watches are translated (``watchNamespaces``, ``watchNamespaceSelectors`` on the
        snapshot's Namespaces, plus the discovery namespace: :mod:`gloo_nb.translate.watch`); the resources of the
        others get no report, and a finding of layer ``watch`` each.

        Returns:
            The default proxy's translation, every proxy's in :attr:`Translation.proxies`, and
            ``reports``/``findings`` covering every proxy.
        """
        with gc_paused():
            translation = self._translate_all(snapshot, endpoints)
        return translation

    def _translate_all(self, snapshot: Snapshot, endpoints: Endpoints | None) -> Translation:
        # What Gloo reads at all: the watched namespaces' resources (translate/watch.py); the others get
        # findings, no status, and are invisible to delegation.
        settings = snapshot.settings or helm_default_settings()
        snapshot, unwatched, scope = select_watched(snapshot, self.profile, settings)
        translation = self._translate_watched(snapshot, endpoints)
        translation.watch = scope if scope.namespaces is not None or scope.error else None
        if unwatched:
            translation.findings = [*unwatched, *translation.findings]
        return translation

    def _translate_watched(self, snapshot: Snapshot, endpoints: Endpoints | None) -> Translation:
        names = proxy_names(_readable_gateways(snapshot))
        if endpoints is None:
            endpoints = kube_endpoints_of(snapshot, self.profile)
        # Snapshot-wide: what gloo_nb does not model in VirtualServices and RouteTables, and Gloo's
        # strict decoding of their options (translate/unmodelled.py), once for every proxy.
        declared = declared_unmodelled(snapshot, self.profile)
        undecodable = option_decoding_findings(snapshot, self.profile)
        per_proxy = [self._translate(snapshot, endpoints, name, declared, undecodable) for name in names]
        default = self.proxy_name or (DEFAULT_PROXY if DEFAULT_PROXY in names or not names else names[0])
        self._default = default
        # A proxy no Gateway names any more is gone: Gloo deletes its Proxy (proxy_reconciler.go)
        # and garbage-collects its snapshot key (envoy_translator_syncer.go sets the empty
        # snapshot), so nothing of it is remembered should it come back.
        for gone in set(self._memory) - set(names) - {default}:
            del self._memory[gone]
        chosen = next((t for t in per_proxy if t.proxy.name == default), None)
        if chosen is None:
            # A default proxy that no Gateway names (Translator(proxy_name=...)): an empty Proxy.
            chosen = self._translate(snapshot, endpoints, default, declared, undecodable)
        if not per_proxy:
            return chosen  # no Gateway Gloo reads: no Proxy at all (the default one, empty, stands in)
        if len(per_proxy) == 1 and per_proxy[0] is chosen:
            return replace(chosen, proxies=[chosen])
        findings: dict[Finding, None] = {}
        unmodelled: dict[Unmodelled, None] = {}
        for t in per_proxy:
            findings.update(dict.fromkeys(t.findings))
            unmodelled.update(dict.fromkeys(t.unmodelled))
        return replace(chosen, reports=merge_proxy_reports([t.reports for t in per_proxy]),
                       findings=list(findings), proxies=per_proxy, unmodelled=list(unmodelled))

    def _translate(self, snapshot: Snapshot, endpoints: Endpoints, proxy_name: str,
                   declared: Sequence[Unmodelled] = (), undecodable: Sequence[Finding] = ()) -> Translation:
        mem = self._mem(proxy_name)
        profile = self.profile
        settings = snapshot.settings or helm_default_settings()
        policy = settings.invalid_config_policy
        # GatewaysByProxyName: the Gateways naming this proxy (none: gateway-proxy), in snapshot order;
        # translate_gateways keeps those Gloo reads (read_gateways: the write namespace's) and says
        # why the others have no listener.
        mine = [g for g in (snapshot.gateways or helm_default_gateways())
                if proxy_name in (g.proxy_names or (DEFAULT_PROXY,))]
        write_ns = settings.discovery_namespace or GLOO_NAMESPACE
        upstreams = list(snapshot.upstreams) + fake_kube_upstreams(snapshot.services, profile,
                                                                   settings.upstream_global_annotations)

        reports = Reports()
        reports.accept(vs.key for vs in snapshot.virtual_services)
        reports.accept(rt.key for rt in snapshot.route_tables)
        reports.accept(g.key for g in snapshot.gateways)
        reports.accept(u.key for u in snapshot.upstreams)
        # envoy_translator_syncer.go (v1.3.20 and main): allReports.Accept(snap.UpstreamGroups...).
        reports.accept(ug.key for ug in snapshot.upstream_groups)
        for f in undecodable:
            reports.find(f)
        for item in declared:
            reports.declare(item)

        desired = translate_gateways(
            snapshot, mine, profile, reports, proxy_name=proxy_name, write_namespace=write_ns,
            translate_empty=bool(settings.translate_empty_gateways),
            default_one_way_tls=settings.virtual_service_one_way_tls,
            isolate_virtual_hosts=bool(settings.isolate_virtual_hosts_by_ssl_config),
            read_all_namespaces=bool(settings.read_gateways_from_all_namespaces))

        if settings.isolate_virtual_hosts_by_ssl_config and any(ls.ssl_configurations for ls in desired.listeners):
            # gateway/pkg/translator (CUR): this setting turns ssl gateways into hybrid listeners, one
            # matched listener per SSL config (GroupVirtualServicesBySslConfig); gloo_nb builds the plain one.
            reports.declare(Unmodelled(
                settings.key, "spec.gateway.isolateVirtualHostsBySslConfig", "isolateVirtualHostsBySslConfig",
                "gloo_nb builds one route configuration for all virtual hosts of an ssl gateway, where Gloo "
                "isolates them per SSL config"))
        # extauth/config_generator.go GenerateListenerExtAuthzConfig and ratelimit/plugin.go
        # getServerSettingsForListener: the Settings' servers are every HTTP listener's default, each adding its
        # filter (ext_authz, ratelimit), which gloo_nb does not build (translate/http_filters.py names them for drift).
        for path, value, feature in (("spec.extauth", settings.extauth, "the external auth filter of every HTTP "
                                      "listener (envoy.filters.http.ext_authz)"),
                                     ("spec.ratelimitServer", settings.ratelimit_server, "the rate-limit filter of "
                                      "every HTTP listener (envoy.filters.http.ratelimit)")):
            if value is not None:
                reports.declare(Unmodelled(settings.key, path, feature))

        # The gateway validates the desired Proxy with Gloo and merges the results into its reports.
        undecodable_keys = frozenset(f.resource for f in undecodable)
        validation = Reports()
        warn_missing = bool(settings.validation and settings.validation.warn_missing_tls_secret)

        def gloo_translator(into: Reports) -> ProxyTranslator:
            # Gloo's translator of this snapshot: the validation pass and the final pass differ only in
            # where their reports go.
            return ProxyTranslator(profile, upstreams, snapshot.services, into,
                                   max_program_size=settings.regex_max_program_size, secrets=snapshot.secrets,
                                   warn_missing_tls_secret=warn_missing,
                                   secrets_unreadable=snapshot.secrets_unreadable,
                                   upstream_groups=snapshot.upstream_groups,
                                   default_circuit_breakers=settings.circuit_breakers,
                                   undecodable=undecodable_keys,
                                   filter_settings=FilterSettings(
                                       remove_unused_filters=settings.remove_unused_filters,
                                       disable_grpc_web=settings.disable_grpc_web,
                                       log_transformation_request_response_info=(
                                           settings.log_transformation_request_response_info),
                                       auto_websocket_passthrough=(
                                           settings.enable_auto_websocket_transformation_passthrough)))

        validated = gloo_translator(validation).translate(desired)
        demote = profile != "1.3" and policy.replace_invalid_routes
        _merge_validation(validation, reports, demote)

        proxy = _strip_and_restore(desired, mem.last_proxy, reports)
        mem.last_proxy = proxy

        gloo_reports = Reports()
        gloo_reports.accept(u.key for u in snapshot.upstreams)
        _upstream_checks(snapshot.upstreams, snapshot.services, profile, gloo_reports)
        _upstream_group_checks(snapshot, upstreams, profile, gloo_reports)
        _service_annotation_findings(snapshot.services, profile, settings, reports)
        final: ProxyTranslation
        if _same_proxy(proxy, desired):
            # Nothing was stripped, restored or reordered: Gloo's translation of this Proxy is the
            # one the validation pass just made (same inputs), so reuse it and its reports.
            final = validated
            _copy_reports(validation, gloo_reports)
        else:
            final = gloo_translator(gloo_reports).translate(proxy)
        resources = final.resources
        clusters = {cluster_name(ResourceRef(u.meta.name, u.meta.namespace)):
                    build_cluster(u, profile, default_circuit_breakers=settings.circuit_breakers)
                    for u in upstreams}
        for u in upstreams:
            _upstream_tls(clusters[cluster_name(ResourceRef(u.meta.name, u.meta.namespace))], u, snapshot,
                          profile, warn_missing, gloo_reports)
        # Plugins' generated clusters (dynamic forward proxy) join the Upstreams' (translator.go: GeneratedResources).
        for generated in final.generated_clusters:
            clusters.setdefault(generated.name, generated)
        resources.clusters = [clusters[k] for k in sorted(clusters)]
        # Every EDS cluster gets a load assignment, an empty one when nothing backs it: Gloo adds
        # them so that Envoy does not wait for the cluster forever (projects/gloo/pkg/translator/
        # translator.go, "Find all the EDS clusters without endpoints").
        resources.endpoints = [endpoints_for(c, endpoints.get(c.name, ())) for c in resources.clusters
                               if c.HasField("eds_cluster_config")]
        for rep in gloo_reports:
            # in-memory kube-svc: upstreams have no status to write (their problems are findings on the Service)
            if rep.key.kind == "Upstream" and not rep.key.name.startswith("kube-svc:"):
                if profile != "1.3" and rep.errors:
                    # upstream_removing_sanitizer.go (current): an errored Upstream's cluster is
                    # removed and its report becomes one warning, the multierror text; reports are
                    # merged after sanitizing (envoy_translator_syncer.go:syncEnvoy). v1.3.20 merged
                    # them before sanitizing, so 1.3 keeps the errors (Rejected).
                    reports.add_warning(rep.key, multierror_text(rep.errors))
                    continue
                for e in rep.errors:
                    reports.add_error(rep.key, e)
                for w in rep.warnings:
                    reports.add_warning(rep.key, w)
        for rep in gloo_reports:
            if rep.key.kind == "UpstreamGroup":
                # An UpstreamGroup's errors are its status; no sanitizer turns them into warnings.
                for e in rep.errors:
                    reports.add_error(rep.key, e)
        for f in gloo_reports.findings:
            if f.resource.kind == "UpstreamGroup":
                reports.find(f)
        for f in gloo_reports.findings:
            if f.resource.kind == "Upstream":
                if profile != "1.3" and f.severity == "error" and f.message in gloo_reports.get(f.resource).errors:
                    f = replace(f, severity="warning")
                reports.find(f)
        for item in gloo_reports.unmodelled:
            reports.declare(item)

        proxy_key = ResourceKey("Proxy", write_ns, proxy_name)
        errored_upstreams = {u.key for u in upstreams if gloo_reports.has_errors(u.key)}
        proxy_errors = [e for e, _ in final.route_errors] + [
            e for rep in gloo_reports if rep.key.kind != "Upstream" for e in rep.errors
            if not e.startswith("Route Error: ")]
        proxy_warnings = [w for rep in gloo_reports if rep.key.kind != "Upstream" for w in rep.warnings]
        upstream_errors = [f"{k.dotted}: {e}" for k in sorted(errored_upstreams) for e in
                           gloo_reports.get(k).errors]

        proxy_report = _proxy_report(proxy_key, gloo_reports, demote=profile != "1.3" and policy.replace_invalid_routes)
        replaced: list[tuple[str, str, str]] = []
        push: PushDecision
        if profile == "1.3":
            push, resources = self._sanitize_13(resources, policy, proxy_key, proxy_errors, proxy_warnings,
                                                upstream_errors, errored_upstreams, upstreams, replaced)
        else:
            resources = _remove_errored_upstreams(resources, errored_upstreams)
            if policy.replace_invalid_routes:
                valid = {c.name for c in resources.clusters}
                errored_names = {name for _, name in final.route_errors if name}
                resources = _replace_routes(resources, valid, errored_names, policy, replaced)
            push = PushDecision("push", "Gloo >= 1.12 always pushes the sanitized snapshot"
                                + (f" ({len(replaced)} route(s) replaced by the fallback)" if replaced else ""))

        rejections = _envoy_rejections(resources, final.origins, proxy_key, reports) if push.decision == "push" \
            else []
        if push.decision == "push":
            served: EnvoyResources | None = resources
            mem.last_pushed = resources
            mem.last_origins = final.origins
        elif mem.last_pushed is not None:
            # updateEndpointsOnly: keep listeners, routes and clusters; take the new endpoints. Per
            # proxy: envoy_translator_syncer.go sanitizes and sets each proxy's snapshot key on its
            # own, so one proxy keeping its last good snapshot does not hold back another's.
            last = mem.last_pushed
            served = EnvoyResources(last.listeners, last.route_configurations, last.clusters,
                                    resources.endpoints or last.endpoints)
            mem.last_pushed = served
        else:
            served = None
        return Translation(profile=profile, snapshot=snapshot, settings=settings, reports=list(reports),
                           findings=list(reports.findings), proxy=proxy, envoy=resources, push=push, served=served,
                           origins=final.origins, served_origins=mem.last_origins, replaced=replaced,
                           proxy_report=proxy_report, unmodelled=list(reports.unmodelled),
                           envoy_rejections=rejections)

    def _sanitize_13(self, resources: EnvoyResources, policy: InvalidConfigPolicy, proxy_key: ResourceKey,
                     proxy_errors: list[str], proxy_warnings: list[str], upstream_errors: list[str],
                     errored_upstreams: set[ResourceKey], upstreams: Sequence[Upstream],
                     replaced: list[tuple[str, str, str]]) -> tuple[PushDecision, EnvoyResources]:
        rejected = f"proxy {proxy_key.dotted} was rejected due to invalid config: "
        if not policy.replace_invalid_routes:
            # RouteReplacingSanitizer@v1.3.20 disabled: reports.ValidateStrict(), warnings count.
            # Gloo repeats some warnings (the subset check); say each once.
            problems = list(dict.fromkeys(proxy_errors + upstream_errors + proxy_warnings))
            if problems:
                return PushDecision("keep-last-good", rejected + "; ".join(problems)), resources
            return PushDecision("push", "no errors or warnings in Gloo's translation of the proxy"), resources
        # UpstreamRemovingSanitizer@v1.3.20: drop errored upstreams; other errors still reject.
        if proxy_errors:
            return PushDecision("keep-last-good", rejected + "; ".join(proxy_errors)), resources
        resources = _remove_errored_upstreams(resources, errored_upstreams)
        # RouteReplacingSanitizer@v1.3.20: valid clusters are every upstream in Gloo's snapshot.
        valid = {cluster_name(ResourceRef(u.meta.name, u.meta.namespace)) for u in upstreams}
        resources = _replace_routes(resources, valid, set(), policy, replaced)
        reason = "replaceInvalidRoutes: invalid routes replaced, snapshot pushed" if replaced else \
            "replaceInvalidRoutes: no route needed replacing"
        return PushDecision("push", reason), resources


def _upstream_group_checks(snapshot: Snapshot, upstreams: Sequence[Upstream], profile: Profile,
                           gloo_reports: Reports) -> None:
    # translator.go: verifyUpstreamGroups runs first in every proxy's translation (upstream_groups.go).
    # Its errors stay in the proxy's reports: v1.3.20's sanitizers then refuse the snapshot
    # (UpstreamRemovingSanitizer turns only Upstreams' errors into warnings before reports.Validate()).
    names = {u.meta.name for u in upstreams}
    keys = {(u.meta.namespace, u.meta.name) for u in upstreams}

    def exists(ref: ResourceRef) -> bool:
        # UpstreamList.Find: v1.3.20 matches an empty namespace to any; main wants it equal.
        if ref.namespace or profile != "1.3":
            return (ref.namespace, ref.name) in keys
        return ref.name in names

    def add_error(key: ResourceKey, message: str) -> None:
        gloo_reports.add_error(key, message)
        gloo_reports.find(Finding(key, "error", message, key, layer="gloo"))

    gloo_reports.accept(ug.key for ug in snapshot.upstream_groups)
    verify_upstream_groups(snapshot.upstream_groups, exists, profile, kube_service_upstream_name,
                           add_error, gloo_reports.declare)


def _envoy_rejections(resources: EnvoyResources, origins: dict[str, list[RouteOrigin]], proxy_key: ResourceKey,
                      reports: Reports) -> list[EnvoyRejection]:
    # What Gloo pushes but Envoy refuses: a finding on the VirtualService of the route (its owner as the origin),
    # or on the Proxy when the route has no Gloo origin.
    out = predict_rejections(resources.route_configurations, resources.listeners)
    for r in out:
        origin = next((o for o in origins.get(r.resource, ()) if o.virtual_host == r.virtual_host
                       and o.envoy_index == r.route_index), None)
        resource = origin.vs if origin is not None else proxy_key  # the fallback listener has no Gloo route
        owner = (origin.route.owner or origin.vs) if origin is not None else proxy_key
        reports.find(Finding(resource, "error", r.message(), owner, layer="envoy"))
    upstreams = {cluster_name(ResourceRef(rep.key.name, rep.key.namespace)): rep.key for rep in reports
                 if rep.key.kind == "Upstream"}
    for r in predict_cluster_rejections(resources.clusters):
        key = upstreams.get(r.resource, proxy_key)
        reports.find(Finding(key, "error", r.message(), key, layer="envoy"))
        out.append(r)
    return out


def _proxy_report(key: ResourceKey, gloo_reports: Reports, *, demote: bool) -> ResourceReport:
    # Gloo reports every listener, virtual host and route problem on the Proxy (gloo_nb files them
    # under the Gateway or VirtualService they came from); upstream problems stay on the Upstreams.
    report = ResourceReport(key)
    for rep in gloo_reports:
        if rep.key.kind not in _SHARED_REPORT_KINDS:
            report.errors.extend(rep.errors)
            report.warnings.extend(rep.warnings)
    if demote:
        # route_replacing_sanitizer.go:removeErroredRoutesFromReport (current): route errors that
        # name their route become warnings, appended after the existing ones.
        moved = [e for e in report.errors if e.startswith("Route Error: ") and "Route Name: " in e]
        report.errors = [e for e in report.errors if e not in moved]
        report.warnings.extend(moved)
    return report


def _same_proxy(a: Proxy, b: Proxy) -> bool:
    # Identity of the virtual hosts, in order: _strip_and_restore keeps the objects it does not drop.
    if len(a.listeners) != len(b.listeners):
        return False
    for la, lb in zip(a.listeners, b.listeners, strict=True):
        if (la.name, la.bind_address, la.bind_port, la.ssl) != (lb.name, lb.bind_address, lb.bind_port, lb.ssl):
            return False
        if la.tcp is not lb.tcp or la.matched is not lb.matched:
            return False
        if len(la.virtual_hosts) != len(lb.virtual_hosts) or any(
                x is not y for x, y in zip(la.virtual_hosts, lb.virtual_hosts, strict=True)):
            return False
    return True


def _copy_reports(source: Reports, target: Reports) -> None:
    for rep in source:
        for e in rep.errors:
            target.add_error(rep.key, e)
        for w in rep.warnings:
            target.add_warning(rep.key, w)
    for f in source.findings:
        target.find(f)
    for u in source.unmodelled:
        target.declare(u)


def _remove_errored_upstreams(resources: EnvoyResources, errored: set[ResourceKey]) -> EnvoyResources:
    if not errored:
        return resources
    names = {cluster_name(ResourceRef(k.name, k.namespace)) for k in errored}
    return replace(resources, clusters=[c for c in resources.clusters if c.name not in names],
                   endpoints=[e for e in resources.endpoints if e.cluster_name.rsplit("-", 1)[0] not in names])


def _replace_routes(resources: EnvoyResources, valid: set[str], errored_names: set[str],
                    policy: InvalidConfigPolicy, replaced: list[tuple[str, str, str]]) -> EnvoyResources:
    # route_replacing_sanitizer.go: a `route` action whose cluster is not valid, or whose route
    # name had a route error, goes to the fallback cluster; weighted entries are renamed one by one.
    new_rcs = []
    for rc in resources.route_configurations:
        copy = type(rc)()
        copy.CopyFrom(rc)
        for vh in copy.virtual_hosts:
            for idx, route in enumerate(vh.routes):
                if not route.HasField("route"):
                    continue
                action = route.route
                which = action.WhichOneof("cluster_specifier")
                hit = False
                if which == "cluster":
                    if action.cluster not in valid or route.name in errored_names:
                        action.cluster = FALLBACK_CLUSTER
                        hit = True
                elif which == "weighted_clusters":
                    for wc in action.weighted_clusters.clusters:
                        # isInvalid(cluster, route name): an errored route's weighted clusters are renamed too.
                        if wc.name not in valid or route.name in errored_names:
                            wc.name = FALLBACK_CLUSTER
                            hit = True
                if hit:
                    replaced.append((copy.name, vh.name, route.name or str(idx)))
        new_rcs.append(copy)
    if not replaced:
        return resources
    listeners = sorted([*resources.listeners, fallback_listener(policy.invalid_route_response_code,
                                                                policy.invalid_route_response_body)],
                       key=lambda m: m.name)
    clusters = sorted([*resources.clusters, fallback_cluster()], key=lambda m: m.name)
    return EnvoyResources(listeners, new_rcs, clusters, resources.endpoints)


def translate(resources: Snapshot | Iterable[Resource], profile: Profile = "current", *,
              endpoints: Endpoints | None = None, proxy: str | None = None) -> Translation:
    """Translate resources once, with no earlier snapshot (a freshly started control plane).

    Args:
        resources: A snapshot, or resources in reading order (later duplicates win).
        profile: ``1.3`` or ``current``.
        endpoints: Endpoint addresses per cluster name; derived from the snapshot when not given.
        proxy: The proxy the top level describes (default: ``gateway-proxy`` when a Gateway names
            it, else the first); every proxy is in ``Translation.proxies``.

    Returns:
        The translation.
    """
    snapshot = resources if isinstance(resources, Snapshot) else Snapshot.from_resources(resources)
    return Translator(profile, proxy_name=proxy).translate(snapshot, endpoints=endpoints)
