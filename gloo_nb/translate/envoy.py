"""Gloo's proxy translator: a Proxy plus Upstreams -> Envoy v3 resources and proxy-level reports.

Sources: ``projects/gloo/pkg/translator/{route_config.go,clusters.go,network_filters.go}`` (CUR)
and ``route_config.go`` at v1.3.20 for the ``1.3`` differences (route names, messages, checks).
Both profiles emit Envoy v3 messages from xds-protos; no channel is opened here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, base_pb2, config_source_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.listener.tls_inspector.v3 import tls_inspector_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from envoy.type.matcher.v3 import regex_pb2
from google.protobuf import any_pb2, duration_pb2, struct_pb2

from gloo_nb._types import Profile
from gloo_nb.models import (
    Destination,
    Finding,
    KubeUpstreamSpec,
    Matcher,
    ObjectMeta,
    ResourceKey,
    ResourceRef,
    Secret,
    Service,
    Unmodelled,
    Upstream,
    UpstreamOptions,
)
from gloo_nb.models.resources import UpstreamGroup, WeightedDestination
from gloo_nb.translate.dynamic_forward_proxy import (
    DFP_FILTER,
    UnknownDfpFields,
    dfp_cluster,
    dfp_cluster_name,
    dfp_http_filter,
    dfp_route_config,
)
from gloo_nb.translate.http_filters import (
    DFP_STAGE,
    ROUTER_FILTER,
    FilterSettings,
    StagedFilter,
    filters_needed,
    hcm_http_filters,
    needs_early_transformation,
)
from gloo_nb.translate.listener_options import (
    OptionProblem,
    apply_hcm_options,
    apply_listener_options,
    apply_route_configuration_options,
    not_modelled,
)
from gloo_nb.translate.proxy import Proxy, ProxyListener, ProxyRoute, ProxyVirtualHost
from gloo_nb.translate.reports import Reports
from gloo_nb.translate.route_options import (
    ActionKind,
    OptionIssue,
    apply_route_options,
    apply_vhost_options,
    apply_weighted_destination_options,
    envoy_header_rejections,
    envoy_route_rejections,
    envoy_vhost_rejections,
)
from gloo_nb.translate.tcp import add_tls_inspector, tcp_filter_chains, tcp_listener
from gloo_nb.translate.tls import (
    TLS_TRANSPORT_SOCKET,
    TlsError,
    consolidate,
    downstream_tls_context,
    parse_ssl_config,
    profile_problems,
    unseen_secret_warning,
    upstream_tls_context,
)
from gloo_nb.translate.upstream_groups import find_upstream_group, group_destinations
from gloo_nb.translate.upstream_options import (
    apply_upstream_options,
    service_upstream_config,
    service_wants_http2,
)

HCM_FILTER = "envoy.filters.network.http_connection_manager"
TLS_INSPECTOR = "envoy.filters.listener.tls_inspector"  # wellknown.TlsInspector
CONNECT_TIMEOUT_S = 5


# --- names ------------------------------------------------------------------------------


def cluster_name(ref: ResourceRef) -> str:
    """``UpstreamToClusterName``: ``<name>_<namespace>``, or ``<name>`` without a namespace.

    Args:
        ref: The upstream.

    Returns:
        The Envoy cluster name.
    """
    return f"{ref.name}_{ref.namespace}" if ref.namespace else ref.name


def kube_service_upstream_name(namespace: str, service: str, port: int) -> str:
    """Name of Gloo's in-memory upstream for a ``kube:`` destination (``conversions.go``).

    Args:
        namespace: Service namespace.
        service: Service name.
        port: Service port.

    Returns:
        ``kube-svc:<ns>-<svc>-<port>``.
    """
    return f"kube-svc:{namespace}-{service}-{port}"


def envoy_vhost_name(name: str) -> str:
    """``SanitizeForEnvoy``: dots become underscores.

    Args:
        name: Gloo virtual host name.

    Returns:
        The Envoy virtual host name.
    """
    return name.replace(".", "_")


def route_config_name(listener: str) -> str:
    """``RouteConfigName``: ``<listener>-routes``.

    Args:
        listener: Listener name.

    Returns:
        The RouteConfiguration name.
    """
    return f"{listener}-routes"


def matched_route_config_name(listener: str, matcher: Mapping[str, Any]) -> str:
    """``MatchedRouteConfigName``: ``<listener>-routes-<hash of the matcher>``.

    Gloo appends the matcher's generated ``Hash()`` (a uint64 from solo-kit's hashing of the proto). gloo_nb
    cannot reproduce that hash: it appends a stable decimal uint64 of its own over the matcher's JSON, so the
    name has Gloo's shape but not Gloo's digits.

    Args:
        listener: Listener name.
        matcher: The matched listener's matcher (raw).

    Returns:
        The RouteConfiguration name.
    """
    digest = hashlib.blake2b(json.dumps(matcher, sort_keys=True, default=str).encode(), digest_size=8).digest()
    return f"{route_config_name(listener)}-{int.from_bytes(digest, 'big')}"


def destination_upstream(dest: Destination) -> ResourceRef | None:
    """``DestinationToUpstreamRef``: the upstream a destination resolves to.

    Args:
        dest: The destination.

    Returns:
        The upstream reference, or None for destinations gloo_nb cannot resolve (consul).
    """
    if dest.upstream is not None:
        return dest.upstream
    if dest.kube is not None:
        ns = dest.kube.ref.namespace
        return ResourceRef(kube_service_upstream_name(ns, dest.kube.ref.name, dest.kube.port), ns)
    return None


# --- messages ---------------------------------------------------------------------------


def upstream_not_found(ref: ResourceRef, profile: Profile, kind: str = "Upstream") -> str:
    """Gloo's ``DestinationNotFoundError`` text.

    Args:
        ref: The missing resource.
        profile: ``1.3`` printed the Go struct ``{name namespace}``.
        kind: ``Upstream`` or ``UpstreamGroup``.

    Returns:
        The message.
    """
    if profile == "1.3":
        return f"*v1.{kind} {{{ref.name} {ref.namespace}}} not found"
    return f"*v1.{kind} {{ {ref.namespace}.{ref.name} }} not found"


def route_warning(kind: str, reason: str) -> str:
    """``Route Warning: <Type>. Reason: <reason>`` (``proxy_validation.go``).

    Args:
        kind: The warning type.
        reason: The reason.

    Returns:
        The formatted warning.
    """
    return f"Route Warning: {kind}. Reason: {reason}"


def level_error(level: str, kind: str, reason: str) -> str:
    """``<Level> Error: <Type>. Reason: <reason>`` (``proxy_validation.go``).

    Args:
        level: ``Route``, ``VirtualHost`` or ``Listener``.
        kind: The error type.
        reason: The reason.

    Returns:
        The formatted error.
    """
    return f"{level} Error: {kind}. Reason: {reason}"


_INVALID_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F", "#")
_INVALID_SUFFIXES = ("/..", "/.")
_VALID_PATH_PATTERN = "^(?:([A-Za-z0-9/:@._~!$&'()*+,:=;-]*|[%][0-9a-fA-F]{2}))*$"
_VALID_PATH = re.compile(_VALID_PATH_PATTERN)


def path_problem(path: str) -> str | None:
    """``ValidateRoutePath`` (CUR): RFC 3986 characters, no ``//``, ``/../`` and the like.

    Args:
        path: A prefix, exact path or redirect path.

    Returns:
        Gloo's error text, or None.
    """
    if not path:
        return None
    if not _VALID_PATH.match(path):
        return f"must only contain valid characters matching pattern {_VALID_PATH_PATTERN}"
    for bad in _INVALID_SEQUENCES:
        if bad in path:
            return f"path [{path}] cannot contain [{bad}]"
    for bad in _INVALID_SUFFIXES:
        if path.endswith(bad):
            return f"path [{path}] cannot end with [{bad}]"
    return None


# --- results ----------------------------------------------------------------------------


@dataclass(slots=True)
class EnvoyResources:
    """Envoy v3 resources of one proxy, by type, each list sorted by name.

    Attributes:
        listeners: Listener messages.
        route_configurations: RouteConfiguration messages.
        clusters: Cluster messages.
        endpoints: ClusterLoadAssignment messages (only when endpoints are known).
    """

    listeners: list[listener_pb2.Listener] = field(default_factory=list)
    route_configurations: list[route_pb2.RouteConfiguration] = field(default_factory=list)
    clusters: list[cluster_pb2.Cluster] = field(default_factory=list)
    endpoints: list[endpoint_pb2.ClusterLoadAssignment] = field(default_factory=list)

    def version(self, type_name: str) -> str:
        """A content hash of one resource type, usable as an xDS ``version_info``.

        Args:
            type_name: ``listeners``, ``route_configurations``, ``clusters`` or ``endpoints``.

        Returns:
            A 16-hex-digit hash (``empty`` when there are no resources).
        """
        items: list[Any] = getattr(self, type_name)
        if not items:
            return "empty"
        h = hashlib.blake2b(digest_size=8)
        for item in items:
            h.update(item.SerializeToString(deterministic=True))
        return h.hexdigest()


@dataclass(slots=True)
class RouteOrigin:
    """Where an Envoy route came from.

    Attributes:
        virtual_host: Envoy virtual host name.
        envoy_index: Position of the Envoy route in the virtual host.
        gloo_index: Position of the Gloo route in the Proxy virtual host.
        matcher_index: Matcher index within the Gloo route.
        route: The Proxy route.
        vs: The VirtualService of the virtual host.
    """

    virtual_host: str
    envoy_index: int
    gloo_index: int
    matcher_index: int
    route: ProxyRoute
    vs: ResourceKey


@dataclass(slots=True)
class ProxyTranslation:
    """The proxy translator's result.

    Attributes:
        resources: Envoy resources.
        route_errors: Route error texts as they appear in reports, with the Envoy route name each
            names (``Route Name: X``) or None.
        origins: Per route configuration name, the origin of each Envoy route, in order.
        generated_clusters: Clusters Gloo's plugins generate for the proxy (``GeneratedResources``: the dynamic
            forward proxy's), to be served with the Upstreams' clusters.
    """

    resources: EnvoyResources
    route_errors: list[tuple[str, str | None]] = field(default_factory=list)
    origins: dict[str, list[RouteOrigin]] = field(default_factory=dict)
    generated_clusters: list[cluster_pb2.Cluster] = field(default_factory=list)


# --- matchers and actions -----------------------------------------------------------------


def _regex(value: str, max_program_size: int | None) -> regex_pb2.RegexMatcher:
    # Gloo's regexutils.NewRegex; the google_re2 engine is Envoy's default and its field is
    # deprecated in v3, so it is set only to carry max_program_size.
    out = regex_pb2.RegexMatcher(regex=value)
    if max_program_size is not None:
        getattr(out, "google_re2").max_program_size.value = max_program_size  # noqa: B009
    return out


def envoy_match(matcher: Matcher, max_program_size: int | None = None,
                out: route_components_pb2.RouteMatch | None = None) -> route_components_pb2.RouteMatch:
    """``glooMatcherToEnvoyMatcher``.

    Args:
        matcher: The Gloo matcher.
        max_program_size: ``settings.gloo.regexMaxProgramSize``.
        out: Fill this message (e.g. ``route.match``) instead of a new one.

    Returns:
        The Envoy RouteMatch.
    """
    if out is None:
        out = route_components_pb2.RouteMatch()
    for h in matcher.headers:
        hm = out.headers.add(name=h.name)
        if not h.value:
            hm.present_match = True
        elif h.regex:
            hm.safe_regex_match.CopyFrom(_regex(h.value, max_program_size))
        else:
            hm.exact_match = h.value
        if h.invert_match:
            hm.invert_match = True
    if matcher.methods:
        out.headers.add(name=":method").safe_regex_match.CopyFrom(_regex("|".join(matcher.methods),
                                                                         max_program_size))
    for q in matcher.query_parameters:
        qm = out.query_parameters.add(name=q.name)
        if not q.value:
            qm.present_match = True
        elif q.regex:
            qm.string_match.safe_regex.CopyFrom(_regex(q.value, max_program_size))
        else:
            qm.string_match.exact = q.value
    kind = matcher.path_kind
    if kind == "prefix":
        out.prefix = matcher.prefix or ""
    elif kind == "exact":
        out.path = matcher.exact or ""
    elif kind == "regex":
        out.safe_regex.CopyFrom(_regex(matcher.regex or "", max_program_size))
    elif kind == "connect":
        out.connect_matcher.SetInParent()
    if matcher.case_sensitive is not None:
        out.case_sensitive.value = matcher.case_sensitive
    return out


def _cluster_of(name: str, namespace: str) -> str:
    return cluster_name(ResourceRef(name=name, namespace=namespace))


def _metadata_match(subset: Mapping[str, str] | None) -> base_pb2.Metadata | None:
    if not subset:
        return None
    md = base_pb2.Metadata()
    md.filter_metadata["envoy.lb"].update(dict(subset))
    return md


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")
_MAX_DURATION_S = 315_576_000_000  # google.protobuf.Duration's range: about 10,000 years


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 7230 token

_REDIRECT_CODES = {"MOVED_PERMANENTLY": 0, "FOUND": 1, "SEE_OTHER": 2, "TEMPORARY_REDIRECT": 3,
                   "PERMANENT_REDIRECT": 4}


class ProxyTranslator:
    """Translates one Proxy with Gloo's rules for a profile."""

    def __init__(self, profile: Profile, upstreams: Sequence[Upstream], services: Sequence[Service],
                 reports: Reports, *, max_program_size: int | None = None, secrets: Sequence[Secret] = (),
                 warn_missing_tls_secret: bool = False, secrets_unreadable: str = "",
                 upstream_groups: Sequence[UpstreamGroup] = (),
                 default_circuit_breakers: Mapping[str, Any] | None = None,
                 undecodable: frozenset[ResourceKey] = frozenset(),
                 filter_settings: FilterSettings | None = None) -> None:
        self.profile = profile
        # The Settings knobs of the default HTTP filters (gloo_nb.translate.http_filters).
        self.filter_settings = filter_settings or FilterSettings()
        # transformation/plugin.go RequireEarlyTransformation: reset by Init per translation, set by any route
        # with an early stage, read by every later listener's HttpFilters.
        self._early_transformation = False
        # Resources Gloo's strict decoding refuses (translate/unmodelled.py option_decoding_findings): their one
        # finding is the report; route_options' "unreadable" issues inside them would say it again.
        self.undecodable = undecodable
        self.upstream_groups = upstream_groups
        self.default_circuit_breakers = default_circuit_breakers
        # The HTTP listener being translated: its options.dynamicForwardProxy names its routes' DFP cluster.
        self._dfp: Mapping[str, Any] | None = None
        # dynamic_forward_proxy plugin.go filterHashMap: one generated cluster per distinct FilterConfig.
        self._dfp_configs: dict[str, tuple[Mapping[str, Any], ResourceKey, str]] = {}
        self.secrets = secrets
        # Snapshot.secrets_unreadable: a secretRef gloo_nb cannot see is unknown, not Gloo's missing secret.
        self.secrets_unreadable = secrets_unreadable
        self.warn_missing_tls_secret = warn_missing_tls_secret
        self.upstreams = {(u.meta.namespace, u.meta.name): u for u in upstreams}
        self.fake_upstreams = {
            (s.meta.namespace, kube_service_upstream_name(s.meta.namespace, s.meta.name, p.port))
            for s in services for p in s.ports}
        self.reports = reports
        self.max_program_size = max_program_size
        self._metadata: dict[tuple[tuple[str, str], ...], base_pb2.Metadata] = {}
        self._subset_checks: dict[tuple[str, str, frozenset[str]], tuple[bool, str] | None] = {}

    def _metadata_match(self, subset: Mapping[str, str] | None) -> base_pb2.Metadata | None:
        # One Struct per distinct subset: filling a Struct from a dict is slow Python code.
        if not subset:
            return None
        key = tuple(subset.items())
        md = self._metadata.get(key)
        if md is None:
            md = self._metadata[key] = _metadata_match(subset)
        return md

    def _exists(self, ref: ResourceRef) -> bool:
        return (ref.namespace, ref.name) in self.upstreams or (ref.namespace, ref.name) in self.fake_upstreams

    def translate(self, proxy: Proxy) -> ProxyTranslation:
        """Translate the proxy's listeners into Envoy listeners and route configurations.

        Args:
            proxy: The Proxy.

        Returns:
            The Envoy resources (clusters are added by :func:`build_clusters`) and route errors.
        """
        out = ProxyTranslation(EnvoyResources())
        for listener in proxy.listeners:
            if listener.matched:
                self._hybrid(listener, out)
                continue
            if listener.tcp is not None:
                # tcpGateway: filter chains with a TCP proxy, no route configuration (gloo_nb.translate.tcp).
                tcp_out, problems = tcp_listener(listener, self.profile, self._exists, self.upstream_groups)
                self.report_option_problems(listener.source, problems)
                if tcp_out is not None:
                    out.resources.listeners.append(tcp_out)
                continue
            self._validate_domains(listener.virtual_hosts)
            rc_name = route_config_name(listener.name)
            origins: list[RouteOrigin] = []
            if not listener.virtual_hosts:
                continue
            # Built in place: constructing messages and then passing them to a parent copies them.
            rc = route_pb2.RouteConfiguration(name=rc_name)
            self._dfp = self._listener_dfp(listener.options)
            for vh in listener.virtual_hosts:
                self._virtual_host(vh, listener.ssl, origins, out, rc.virtual_hosts.add())
            self.report_option_problems(
                listener.source, apply_route_configuration_options(rc, listener.route_options, self.profile))
            out.resources.route_configurations.append(rc)
            out.origins[rc_name] = origins
            envoy_listener = http_listener(listener.name, listener.bind_address, listener.bind_port, rc_name)
            # Gateway options and the HTTP filters on the HCM and the listener first: the TLS listener copies the
            # HCM filter into each of its TLS filter chains.
            self._early_transformation |= needs_early_transformation(listener.virtual_hosts)
            self._apply_gateway_options(listener, envoy_listener, rc)
            if listener.ssl_configurations:
                tls_listener = self._tls_listener(listener, envoy_listener)
                if tls_listener is None:
                    continue
                envoy_listener = tls_listener
            out.resources.listeners.append(envoy_listener)
        out.resources.listeners.sort(key=lambda m: m.name)
        out.resources.route_configurations.sort(key=lambda m: m.name)
        out.generated_clusters = self._dfp_clusters()
        return out

    # -- dynamic forward proxy (gloo_nb.translate.dynamic_forward_proxy) -------------------------

    def _listener_dfp(self, options: Mapping[str, Any]) -> Mapping[str, Any] | None:
        # The plugin and the route destination are current Gloo's (absent at v1.3.20).
        dfp = options.get("dynamicForwardProxy") if self.profile != "1.3" else None
        return dfp if isinstance(dfp, Mapping) else None

    def _set_http_filters(self, hcm: hcm_pb2.HttpConnectionManager, options: Mapping[str, Any],
                          rc: route_pb2.RouteConfiguration, vhosts: Sequence[ProxyVirtualHost], source: ResourceKey,
                          where: str, problems: list[OptionProblem]) -> None:
        # network_filters.go computeHttpFilters: every plugin's staged filters, sorted, router last
        # (gloo_nb.translate.http_filters); the dynamic forward proxy's among them at its stage.
        dfp = self._dfp_filter(options, source, where, problems)
        del hcm.http_filters[:]
        hcm.http_filters.extend(hcm_http_filters(
            self.profile, self.filter_settings, options, filters_needed((rc,), vhosts),
            early_transformation=self._early_transformation, extra=() if dfp is None else (dfp,)))

    def _dfp_filter(self, options: Mapping[str, Any], source: ResourceKey, where: str,
                    problems: list[OptionProblem]) -> StagedFilter | None:
        # plugin.go HttpFilters: the filter at DuringStage(OutAuthStage).
        cfg = self._listener_dfp(options)
        if cfg is None:
            return None
        flt, dfp_problems = dfp_http_filter(cfg, f"{where}.dynamicForwardProxy")
        for p in dfp_problems:
            if p.gloo:
                # HttpFilters' error: reportHTTPListenerProcessingError on the listener (the Gateway).
                problems.append(OptionProblem("error", f"HttpListener Error: ProcessingError. Reason: {p.message}",
                                              p.field))
            else:
                problems.append(OptionProblem("warning", p.message, p.field, gloo=False))
        if flt is None:
            return None
        self._dfp_configs.setdefault(dfp_cluster_name(cfg), (cfg, source, f"{where}.dynamicForwardProxy"))
        return StagedFilter(flt, DFP_STAGE)

    def _dfp_clusters(self) -> list[cluster_pb2.Cluster]:
        # plugin.go GeneratedResources / generateCustomDynamicForwardProxyCluster.
        out = []
        for cfg, source, where in self._dfp_configs.values():
            cluster, problems = dfp_cluster(cfg, where, self.default_circuit_breakers)
            for p in problems:
                if not p.gloo:
                    self.reports.find(Finding(source, "warning", p.message, source, layer="parse", field=p.field))
            if cluster is None:
                continue
            ssl = cfg.get("sslConfig")
            if isinstance(ssl, Mapping):
                ctx = upstream_tls_context(parse_ssl_config(ssl, f"{where}.sslConfig"), self.secrets, self.profile,
                                           secrets_unreadable=self.secrets_unreadable)
                if isinstance(ctx, TlsError):
                    # Gloo: reporter.AddError(proxy, err) and no generated cluster at all. gloo_nb files the error
                    # on the Gateway whose options hold the sslConfig (the Proxy has no status of its own here).
                    self.reports.add_error(source, ctx.message)
                    self.reports.find(Finding(source, "error", ctx.message, source,
                                              layer="parse" if ctx.unmodelled else "gloo"))
                    return []
                cluster.transport_socket.name = TLS_TRANSPORT_SOCKET
                cluster.transport_socket.typed_config.Pack(ctx)
            out.append(cluster)
        return out

    def _set_dfp_route(self, route_cfg: Mapping[str, Any], ra: route_components_pb2.RouteAction,
                       vh: ProxyVirtualHost, route: ProxyRoute, env: route_components_pb2.Route,
                       out: ProxyTranslation) -> None:
        # route_config.go setRouteAction: the cluster generated for this listener's FilterConfig; then the
        # plugin's ProcessRoute adds the per-route host rewrite under the filter's name.
        ra.cluster = dfp_cluster_name(self._dfp)
        per_route = dfp_route_config(route_cfg)
        if isinstance(per_route, UnknownDfpFields):
            self.reports.find(Finding(vh.source, "error", per_route.message, route.owner or vh.source,
                                      layer="parse", field="routeAction.dynamicForwardProxy"))
            return
        if isinstance(per_route, str):
            # reportRoutePluginProcessingError: routes from a VirtualService carry source metadata, so main appends
            # the error twice (AppendRouteErrorWithMetadata, then AppendRouteError).
            self._route_error(vh, route, "ProcessingError", per_route, env.name, out)
            self._route_error(vh, route, "ProcessingError", per_route, env.name, out)
            return
        env.typed_per_filter_config[DFP_FILTER].Pack(per_route)

    def _hybrid(self, listener: ProxyListener, out: ProxyTranslation) -> None:
        # listener_subsystem.go GetHybridListenerTranslators: one filter chain (HTTP) or several (TCP) per
        # matched listener, each with the matcher's source prefix ranges (filter_chain.go
        # applySourcePrefixRangesToFilterChain); an HTTP one gets its own RouteConfiguration
        # (utils/names.go MatchedRouteConfigName).
        env = listener_pb2.Listener(name=listener.name)
        env.address.socket_address.address = listener.bind_address
        env.address.socket_address.port_value = listener.bind_port
        problems: list[OptionProblem] = []
        inspector = False
        # listener_subsystem.go: the route configurations of every matched gateway are computed before the
        # listener's filter chains, so any early transformation among them counts for all.
        self._early_transformation |= needs_early_transformation(
            vh for m in listener.matched if m.kind == "http" for vh in m.virtual_hosts)
        for i, matched in enumerate(listener.matched):
            where = f"spec.hybridGateway.matchedGateways[{i}]" if matched.source is None else f"{matched.source.ref}"
            ssl = matched.matcher.get("sslConfig")
            ranges = matched.matcher.get("sourcePrefixRanges") or ()
            chains: list[Any] = []
            if matched.kind == "http":
                if not matched.virtual_hosts:
                    continue  # network_filters.go: no virtual hosts, no HCM, no filter chain
                if ssl is not None:
                    inspector = True
                    problems.append(not_modelled(
                        f"{where}.matcher.sslConfig", "TLS termination on a matched HTTP gateway",
                        "gloo_nb emits no filter chain for it"))
                    continue
                rc_name = matched_route_config_name(listener.name, matched.matcher)
                self._validate_domains(matched.virtual_hosts)
                origins: list[RouteOrigin] = []
                rc = route_pb2.RouteConfiguration(name=rc_name)
                self._dfp = self._listener_dfp(matched.options)
                for vh in matched.virtual_hosts:
                    self._virtual_host(vh, False, origins, out, rc.virtual_hosts.add())
                problems += apply_route_configuration_options(rc, listener.route_options, self.profile)
                out.resources.route_configurations.append(rc)
                out.origins[rc_name] = origins
                chain_listener = http_listener(listener.name, listener.bind_address, listener.bind_port, rc_name)
                for chain in chain_listener.filter_chains:
                    for flt in chain.filters:
                        hcm = hcm_pb2.HttpConnectionManager()
                        flt.typed_config.Unpack(hcm)
                        # Options of a delegated gateway: the MatchableHttpGateway's, merged with the parent's.
                        path = (f"hybridGateway.matchedGateways[{i}].httpGateway.options" if matched.source is None
                                else f"hybridGateway.delegatedHttpGateways[{matched.source.ref}].httpGateway.options")
                        problems += apply_hcm_options(hcm, matched.options, listener.listener_options, self.profile,
                                                      self._exists, path=path)
                        self._set_http_filters(hcm, matched.options, rc, matched.virtual_hosts, listener.source,
                                               f"spec.{path}", problems)
                        flt.typed_config.Pack(hcm)
                chains = list(chain_listener.filter_chains)
            elif matched.kind == "tcp" and matched.tcp is not None:
                sni = [str(d) for d in (ssl or {}).get("sniDomains") or ()] if isinstance(ssl, Mapping) else []
                tcp_chains, tcp_inspector, tcp_problems = tcp_filter_chains(
                    listener.name, matched.tcp.hosts, matched.tcp.options, listener.listener_options, self.profile,
                    self._exists, default_sni=sni, upstream_groups=self.upstream_groups)
                problems += tcp_problems
                inspector = inspector or tcp_inspector or ssl is not None
                if matched.matcher.get("passthroughCipherSuites"):
                    problems.append(not_modelled(f"{where}.matcher.passthroughCipherSuites",
                                                 "Gloo's cipher-suite filter chain matching"))
                chains = tcp_chains
            for chain in chains:
                for r in ranges:
                    if isinstance(r, Mapping):
                        cidr = chain.filter_chain_match.source_prefix_ranges.add(
                            address_prefix=str(r.get("addressPrefix", "")))
                        if r.get("prefixLen") is not None:
                            cidr.prefix_len.value = int(r["prefixLen"])
                env.filter_chains.append(chain)
        if env.filter_chains:
            if inspector:
                add_tls_inspector(env)
            problems += apply_listener_options(env, listener.listener_options, self.profile,
                                               use_proxy_proto=listener.use_proxy_proto)
            out.resources.listeners.append(env)
        self.report_option_problems(listener.source, problems)

    def _apply_gateway_options(self, listener: ProxyListener, env: listener_pb2.Listener,
                               rc: route_pb2.RouteConfiguration) -> None:
        # Gloo's hcm, als and tracing plugins on each HCM, the listener plugin on the listener
        # (gloo_nb.translate.listener_options), the HTTP filters (gloo_nb.translate.http_filters); problems go on
        # the Gateway, as add_proxy_validation_result does.
        problems = apply_listener_options(env, listener.listener_options, self.profile,
                                          use_proxy_proto=listener.use_proxy_proto)
        for chain in env.filter_chains:
            for flt in chain.filters:
                if flt.name != HCM_FILTER:
                    continue
                hcm = hcm_pb2.HttpConnectionManager()
                flt.typed_config.Unpack(hcm)
                problems += apply_hcm_options(hcm, listener.options, listener.listener_options, self.profile,
                                              self._exists)
                self._set_http_filters(hcm, listener.options, rc, listener.virtual_hosts, listener.source,
                                       "spec.httpGateway.options", problems)
                flt.typed_config.Pack(hcm)
        self.report_option_problems(listener.source, problems)

    def report_option_problems(self, gateway: ResourceKey, problems: Sequence[OptionProblem]) -> None:
        """File Gloo's listener problems on the Gateway and gloo_nb's notes as findings.

        Args:
            gateway: The Gateway the options belong to.
            problems: From :mod:`gloo_nb.translate.listener_options`.
        """
        for p in problems:
            if p.feature:
                # gloo_nb's declaration that it does not model the field: never a problem.
                self.reports.declare(Unmodelled(gateway, p.field, p.feature))
            elif p.gloo:
                add = self.reports.add_error if p.severity == "error" else self.reports.add_warning
                add(gateway, p.message)
                self.reports.find(Finding(gateway, p.severity, p.message, gateway, layer="gloo"))
            else:
                # Notes of gloo_nb's own (not modelled, absent in this profile, unreadable): never Gloo's
                # status, and they never block a push (layer "parse", like unknown fields).
                self.reports.find(Finding(gateway, p.severity, p.message, gateway, layer="parse", field=p.field))

    def _validate_domains(self, vhosts: Sequence[ProxyVirtualHost]) -> None:
        by_domain: dict[str, list[ProxyVirtualHost]] = {}
        for vh in vhosts:
            if not vh.domains:
                by_domain.setdefault("*", []).append(vh)
            for d in vh.domains:
                if d == "":
                    self._vhost_error(vh, "EmptyDomainError", f"virtual host {vh.name} has an empty domain")
                by_domain.setdefault(d, []).append(vh)
        for d, group in by_domain.items():
            if len(group) > 1:
                names = "[" + " ".join(v.name for v in group) + "]"
                for vh in group:
                    self._vhost_error(vh, "DomainsNotUniqueError", f"domain {d} is shared by the following "
                                                                   f"virtual hosts: {names}")

    def _listener_problem(self, listener: ProxyListener, kind: str, reason: str, *, warning: bool = False) -> None:
        # Listener reports reach the listener's source, the Gateway (add_proxy_validation_result.go).
        if warning:
            msg = f"Listener Warning: {kind}. Reason: {reason}"
            self.reports.add_warning(listener.source, msg)
        else:
            msg = level_error("Listener", kind, reason)
            self.reports.add_error(listener.source, msg)
        self.reports.find(Finding(listener.source, "warning" if warning else "error", msg, listener.source,
                                  layer="gloo"))

    def _tls_listener(self, listener: ProxyListener,
                      plain: listener_pb2.Listener) -> listener_pb2.Listener | None:
        # filter_chain.go:createFilterChainsFromSslConfiguration (CUR), listener.go:
        # computeFilterChainsFromSslConfig (1.3): one TLS filter chain per consolidated sslConfig, the
        # HCM copied into each, SNI domains as filter_chain_match.server_names.
        configs = []
        for i, raw in enumerate(listener.ssl_configurations):
            cfg = parse_ssl_config(raw)
            for problem in (*cfg.problems, *profile_problems(cfg, self.profile)):
                self.reports.find(Finding(listener.source, "warning", f"{listener.name}: {problem}",
                                          listener.source, layer="parse", field=f"sslConfigurations[{i}]"))
            configs.append(cfg)
        hcm_filters = list(plain.filter_chains[0].filters)
        del plain.filter_chains[:]
        for cfg in consolidate(configs, self.profile):
            unseen = unseen_secret_warning(cfg, self.secrets, self.profile, self.secrets_unreadable)
            if unseen is not None:
                # gloo_nb's own limit, not Gloo's report: a finding only, and the chain is built as if valid.
                self.reports.find(Finding(listener.source, "warning", f"{listener.name}: {unseen}",
                                          listener.source, layer="parse"))
            ctx = downstream_tls_context(cfg, self.secrets, self.profile, secrets_unreadable=self.secrets_unreadable)
            if isinstance(ctx, TlsError):
                if ctx.unmodelled:
                    self.reports.declare(Unmodelled(listener.source, f"{listener.name}: sslConfig.sds",
                                                    "SDS (sslConfig.sds)", ctx.message))
                elif ctx.missing_secret and self.warn_missing_tls_secret and self.profile != "1.3":
                    self._listener_problem(listener, "SSLConfigWarning", ctx.message, warning=True)
                else:
                    self._listener_problem(listener, "SSLConfigError", ctx.message)
                continue
            chain = plain.filter_chains.add()
            chain.filter_chain_match.server_names.extend(cfg.sni_domains)
            chain.filter_chain_match.SetInParent()
            chain.filters.extend(hcm_filters)
            chain.transport_socket.name = TLS_TRANSPORT_SOCKET
            chain.transport_socket.typed_config.Pack(ctx)
            timeout = cfg.transport_socket_connect_timeout
            if self.profile != "1.3" and timeout and _DURATION.match(timeout):
                chain.transport_socket_connect_timeout.FromNanoseconds(int(float(timeout[:-1]) * 1e9))
        if self.profile != "1.3":
            self._check_chain_consistency(listener, plain)
        # plugins/tls_inspector (CUR): a listener with sslConfigurations gets the TLS inspector. Gloo 1.3
        # had no such plugin: the Envoy of its day injected the inspector itself whenever a filter chain
        # matched on server_names (listener_impl.cc, removed from Envoy since), and today's Envoy does not,
        # so for 1.3 gloo_nb adds it exactly where that Envoy would have: SNI to match on.
        if self.profile != "1.3" or any(c.filter_chain_match.server_names for c in plain.filter_chains):
            flt = plain.listener_filters.add(name=TLS_INSPECTOR)
            flt.typed_config.Pack(tls_inspector_pb2.TlsInspector())
        if not plain.filter_chains:
            # A listener with no filter chain is not emitted (translator.go).
            return None
        return plain

    def _check_chain_consistency(self, listener: ProxyListener, out: listener_pb2.Listener) -> None:
        # listener.go:CheckForFilterChainConsistency (CUR): equal FilterChainMatches are an error
        # (Envoy would reject the listener). %v of the match is Go's proto text; unstable, like all %v.
        chains = list(out.filter_chains)
        for i, a in enumerate(chains):
            for b in chains[i + 1:]:
                if a.filter_chain_match == b.filter_chain_match:
                    text = " ".join(f'server_names:"{n}"' for n in a.filter_chain_match.server_names)
                    self._listener_problem(listener, "SSLConfigError", (
                        f"Tried to apply multiple filter chains with the same FilterChainMatch {{{text}}}. This is "
                        "usually caused by overlapping sniDomains or multiple empty sniDomains in virtual services"))

    def _vhost_error(self, vh: ProxyVirtualHost, kind: str, reason: str) -> None:
        msg = level_error("VirtualHost", kind, reason)
        self.reports.add_error(vh.source, msg)
        self.reports.find(Finding(vh.source, "error", msg, vh.source, layer="gloo"))

    def _virtual_host(self, vh: ProxyVirtualHost, ssl: bool, origins: list[RouteOrigin],
                      out: ProxyTranslation, out_vh: route_components_pb2.VirtualHost) -> None:
        name = envoy_vhost_name(vh.name)
        out_vh.name = name
        domains = list(vh.domains)
        if not domains or domains == [""]:
            domains = ["*"]
        out_vh.domains.extend(domains)
        if ssl:
            out_vh.require_tls = route_components_pb2.VirtualHost.ALL
        routes = out_vh.routes
        for i, route in enumerate(vh.routes):
            generated = f"{name}-route-{i}"
            for j, matcher in enumerate(route.matchers):
                position = len(routes)
                env = routes.add()
                envoy_match(matcher, self.max_program_size, env.match)
                if self.profile == "1.3":
                    matcher = self._matcher_13(vh, route, j, matcher, env.match)
                    if route.name:
                        env.name = f"{route.name}-{j}"
                elif route.name:
                    env.name = f"{generated}-{route.name}-matcher-{j}"
                else:
                    env.name = f"{generated}-matcher-{j}"
                if matcher.path_kind is None:
                    self._route_error(vh, route, "InvalidMatcherError", "no path specifier provided", generated,
                                      out)
                self._set_action(vh, route, env, out)
                if self.profile != "1.3":
                    self._validate_paths(vh, route, env, out)
                origins.append(RouteOrigin(name, position, i, j, route, vh.source))
        self._vhost_options(vh, out_vh)

    # -- route and virtual-host options (gloo_nb.translate.route_options) ------------------

    def _route_options(self, vh: ProxyVirtualHost, route: ProxyRoute, env: route_components_pb2.Route,
                       action: ActionKind, out: ProxyTranslation) -> None:
        # Gloo's route plugins (route_config.go runRoutePlugins); errors are Route ProcessingErrors on the VS.
        issues = apply_route_options(route.options, env, action, self.profile, vhost_options=vh.options,
                                     max_program_size=self.max_program_size, cluster_of=_cluster_of,
                                     secret_lookup=self._header_secret)
        origin = route.owner or vh.source
        # Only routes with options can carry what Envoy refuses here (and the walk costs time on big tables).
        for text in envoy_route_rejections(env) if route.options else ():
            # Gloo passes these through; Envoy NACKs the whole RouteConfiguration. A gloo_nb finding (layer "parse":
            # it never decides Gloo's push), so that a check does not say "no problems".
            self.reports.find(Finding(vh.source, "error", f"Envoy will reject route configuration of virtual host "
                                      f"{vh.name}: {text}", origin, layer="parse", field="options"))
        for issue in issues:
            if issue.kind == "error":
                self._route_error(vh, route, "ProcessingError", issue.message, env.name, out)
            elif not self._said(issue, (*route.sources, vh.source)):
                # gloo_nb's notes are never Gloo's status and never block a push (layer "parse").
                self.reports.find(Finding(vh.source, "error" if issue.kind == "unreadable" else "warning",
                                          issue.message, origin, layer="parse", field=issue.field))

    def _weighted_destination_options(self, vh: ProxyVirtualHost, route: ProxyRoute, env: route_components_pb2.Route,
                                      out: ProxyTranslation) -> None:
        # route_config.go setWeightedClusters: the weighted-destination plugins (headers) on each cluster weight.
        action = route.route_action
        multi = action.multi if action is not None else None
        clusters = env.route.weighted_clusters.clusters
        if not multi or len(multi) != len(clusters):
            return
        for i, (wd, cw) in enumerate(zip(multi, clusters, strict=True)):
            if not wd.options:
                continue
            for issue in apply_weighted_destination_options(
                    wd.options, cw, f"routeAction.multi.destinations[{i}].options", self.profile,
                    secret_lookup=self._header_secret):
                if issue.kind == "error":
                    self._route_error(vh, route, "ProcessingError", issue.message, env.name, out)
                elif not self._said(issue, (*route.sources, vh.source)):
                    self.reports.find(Finding(vh.source, "error" if issue.kind == "unreadable" else "warning",
                                              issue.message, route.owner or vh.source, layer="parse",
                                              field=issue.field))
            for text in envoy_header_rejections(cw):
                self.reports.find(Finding(vh.source, "error", f"Envoy will reject route configuration of virtual "
                                          f"host {vh.name}: weighted cluster {cw.name}: {text}",
                                          route.owner or vh.source, layer="parse", field="options"))

    def _said(self, issue: OptionIssue, sources: Sequence[ResourceKey]) -> bool:
        # An option value Gloo cannot read, inside a resource whose strict-decoding finding already stands: Gloo
        # 1.3 and current read no such resource at all (solo-kit protoutils.UnmarshalResource, jsonpb stopping at
        # the first error), so that finding is the one message; the value is left out of Envoy either way.
        return issue.kind == "unreadable" and any(key in self.undecodable for key in sources)

    def _header_secret(self, namespace: str, name: str) -> Literal["header", "other", "missing", "unknown"]:
        # What Gloo's secret list holds for a headerSecretRef (projects/gloo/pkg/api/converters/kube/
        # header_secret.go: type gloo.solo.io/header, or an Opaque secret, with data; a data-less one is skipped).
        # An Opaque secret another converter claims first (AWS, OAuth, API keys...) is not told apart here.
        if self.secrets_unreadable:
            return "unknown"
        for s in self.secrets:
            if s.meta.namespace == namespace and s.meta.name == name:
                if s.shape:
                    return "other"  # a TLS secret
                if s.type in ("gloo.solo.io/header", "Opaque"):
                    return "header" if s.data_keys else ("unknown" if s.redacted else "missing")
                return "other"
        return "missing"

    def _vhost_options(self, vh: ProxyVirtualHost, out_vh: route_components_pb2.VirtualHost) -> None:
        # Gloo's virtual-host plugins (route_config.go computeVirtualHost); errors are VirtualHost ProcessingErrors.
        issues = apply_vhost_options(vh.options, out_vh, out_vh.name, self.profile,
                                     max_program_size=self.max_program_size, secret_lookup=self._header_secret)
        for text in envoy_vhost_rejections(out_vh) if vh.options else ():
            self.reports.find(Finding(vh.source, "error", f"Envoy will reject route configuration of virtual host "
                                      f"{vh.name}: {text}", vh.source, layer="parse",
                                      field="virtualHost.options"))
        for issue in issues:
            if issue.kind == "error":
                self._vhost_error(vh, "ProcessingError", issue.message)
            elif not self._said(issue, (vh.source,)):
                self.reports.find(Finding(vh.source, "error" if issue.kind == "unreadable" else "warning",
                                          issue.message, vh.source, layer="parse",
                                          field=issue.field if issue.field.startswith("virtualHost.")
                                          else f"virtualHost.{issue.field}"))

    def _matcher_13(self, vh: ProxyVirtualHost, route: ProxyRoute, index: int, matcher: Matcher,
                    match: route_components_pb2.RouteMatch) -> Matcher:
        # v1.3.20 projects/gloo/api/v1/core/matchers/matchers.proto has neither caseSensitive nor connectMatcher,
        # and route_config.go:GlooMatcherToEnvoyMatcher sets no case_sensitive: gloo_nb leaves both out for 1.3
        # and says so (Gloo 1.3 itself would not decode a resource that sets them).
        dropped = []
        if matcher.case_sensitive is not None:
            match.ClearField("case_sensitive")
            dropped.append("caseSensitive")
        if matcher.connect:
            match.ClearField("connect_matcher")
            dropped.append("connectMatcher")
            matcher = replace(matcher, connect=False)
        for name in dropped:
            self.reports.find(Finding(vh.source, "warning", (
                f"matchers[{index}].{name} does not exist in Gloo 1.3 (its Matcher has no such field): gloo_nb "
                "ignores it for this profile"), route.owner or vh.source, layer="parse",
                field=f"matchers[{index}].{name}"))
        return matcher

    # -- reports -------------------------------------------------------------------------

    def _route_warning(self, vh: ProxyVirtualHost, route: ProxyRoute, kind: str, reason: str) -> None:
        msg = route_warning(kind, reason)
        # add_proxy_validation_result.go: route reports go to the VirtualService of the vhost.
        self.reports.add_warning(vh.source, msg)
        self.reports.find(Finding(vh.source, "warning", msg, route.owner or vh.source, layer="gloo"))

    def _route_error(self, vh: ProxyVirtualHost, route: ProxyRoute, kind: str, reason: str, name: str,
                     out: ProxyTranslation) -> None:
        if self.profile == "1.3":
            msg = level_error("Route", kind, reason)
            out.route_errors.append((msg, None))
        else:
            msg = level_error("Route", kind, f"{reason}. Route Name: {name}")
            out.route_errors.append((msg, name))
        self.reports.add_error(vh.source, msg)
        self.reports.find(Finding(vh.source, "error", msg, route.owner or vh.source, layer="gloo"))

    def _validate_paths(self, vh: ProxyVirtualHost, route: ProxyRoute, env: route_components_pb2.Route,
                        out: ProxyTranslation) -> None:
        for path in (env.match.path, env.match.prefix, env.redirect.path_redirect, env.redirect.host_redirect):
            if not path:
                continue
            problem = path_problem(path)
            if problem:
                self._route_error(vh, route, "ProcessingError", f"the path is invalid: {path}: {problem}",
                                  env.name, out)
        for rewrite in (env.route.prefix_rewrite, env.redirect.prefix_rewrite):
            if not rewrite:
                continue
            problem = path_problem(rewrite.split("?", 1)[0].split("#", 1)[0])
            if problem:
                self._route_error(vh, route, "ProcessingError", f"the rewrite is invalid: {rewrite}: {problem}",
                                  env.name, out)

    # -- actions -------------------------------------------------------------------------

    def _set_action(self, vh: ProxyVirtualHost, route: ProxyRoute, env: route_components_pb2.Route,
                    out: ProxyTranslation) -> None:
        if route.route_action is not None:
            action = route.route_action
            problem = self._validate_destinations(action)
            if problem:
                self._route_warning(vh, route, "InvalidDestinationWarning", problem)
            ra = env.route
            ra.SetInParent()
            err = self._set_route_action(action, ra, vh, route, env, out)
            if err is not None:
                warning, text = err
                if warning:
                    self._route_warning(vh, route, "InvalidDestinationWarning", text)
                else:
                    self._route_error(vh, route, "ProcessingError", text, env.name, out)
            self._weighted_destination_options(vh, route, env, out)
            self._route_options(vh, route, env, "route", out)
        elif route.direct_response_action is not None:
            dr = route.direct_response_action
            env.direct_response.status = dr.status
            env.direct_response.body.inline_string = dr.body
            self._route_options(vh, route, env, "direct_response", out)
        elif route.redirect_action is not None:
            rd = route.redirect_action
            r = env.redirect
            r.host_redirect = rd.host_redirect
            r.response_code = _REDIRECT_CODES.get(rd.response_code, 0)
            r.https_redirect = rd.https_redirect
            r.strip_query = rd.strip_query
            if rd.port_redirect is not None:
                r.port_redirect = rd.port_redirect
            if rd.path_redirect is not None:
                r.path_redirect = rd.path_redirect
            elif rd.prefix_rewrite is not None:
                r.prefix_rewrite = rd.prefix_rewrite
            elif rd.regex_rewrite is not None:
                pattern = rd.regex_rewrite.get("pattern")
                r.regex_rewrite.pattern.regex = str(pattern.get("regex", "")) if isinstance(pattern, Mapping) else ""
                r.regex_rewrite.substitution = str(rd.regex_rewrite.get("substitution", ""))
            self._route_options(vh, route, env, "redirect", out)

    def _validate_destinations(self, action: Any) -> str | None:
        # ValidateRouteDestinations.
        if action.single is not None:
            return self._validate_single(action.single)
        if action.multi is not None:
            for wd in action.multi:
                problem = self._validate_single(wd.destination)
                if problem:
                    return f"invalid destination in weighted destination list: {problem}"
            return None
        if action.upstream_group is not None:
            return self._validate_upstream_group(action.upstream_group)
        if self.profile == "1.3":
            return "must specify either 'singleDestination', 'multipleDestinations' or 'upstreamGroup' for action"
        if action.cluster_header is not None:
            if not _HEADER_NAME.match(action.cluster_header):
                return f"{action.cluster_header} is an invalid HTTP header name"
            return None
        if action.dynamic_forward_proxy is not None:
            return None
        return ("must specify either 'singleDestination', 'multipleDestinations', 'upstreamGroup', "
                "'clusterHeader', or 'dynamicForwardProxy' for action")

    def _validate_upstream_group(self, ref: ResourceRef) -> str | None:
        # route_config.go:validateUpstreamGroup (v1.3.20 and main): the group must exist and each of its
        # destinations must name an Upstream, with validateMultiDestination's wrapping.
        ug = find_upstream_group(self.upstream_groups, ref, self.profile)
        if ug is None:
            return upstream_not_found(ref, self.profile, "UpstreamGroup")
        for wd in group_destinations(ug, self.profile):
            problem = self._validate_single(wd.destination)
            if problem:
                return f"invalid destination in weighted destination list: {problem}"
        return None

    def _exists_any_namespace(self, ref: ResourceRef) -> bool:
        """Whether the generated ``UpstreamList.Find`` (``upstream.sk.go``) finds an upstream.

        At v1.3.20 a reference without a namespace matches the name in any namespace; on main it must be equal.

        Args:
            ref: The upstream reference.

        Returns:
            Whether Gloo's lookup finds it.
        """
        if ref.namespace or self.profile != "1.3":
            return self._exists(ref)
        return any(name == ref.name for _, name in self.upstreams) or any(
            name == ref.name for _, name in self.fake_upstreams)

    def _validate_single(self, dest: Destination) -> str | None:
        ref = destination_upstream(dest)
        if ref is None:
            return None
        if not self._exists_any_namespace(ref):
            return upstream_not_found(ref, self.profile)
        return None

    def _check_subset(self, dest: Destination) -> tuple[bool, str] | None:
        # checkThatSubsetMatchesUpstream: returns (is_warning, text) or None.
        if not dest.subset:
            return None
        ref = destination_upstream(dest)
        if ref is None:
            return None
        key = (ref.namespace, ref.name, frozenset(dest.subset))
        if key not in self._subset_checks:
            self._subset_checks[key] = self._check_subset_uncached(dest, ref)
        return self._subset_checks[key]

    def _check_subset_uncached(self, dest: Destination, ref: ResourceRef) -> tuple[bool, str] | None:
        assert dest.subset is not None
        if not self._exists(ref):
            return True, upstream_not_found(ref, self.profile)
        upstream = self.upstreams.get((ref.namespace, ref.name))
        spec = upstream.subset_spec if upstream else None
        if spec is None:
            return True, ("route has a subset config, but the upstream does not." if self.profile == "1.3"
                          else "route has a subset config, but the upstream does not")
        keys = set(dest.subset)
        for sel in spec.selectors:
            if len(sel.keys) == len(keys) and all(k in keys for k in sel.keys):
                return None
        text = "route has a subset config, but none of the subsets in the upstream match it"
        return False, text + "." if self.profile == "1.3" else text

    def _set_route_action(self, action: Any, ra: route_components_pb2.RouteAction, vh: ProxyVirtualHost,
                          route: ProxyRoute, env: route_components_pb2.Route,
                          out: ProxyTranslation) -> tuple[bool, str] | None:
        if action.single is not None:
            ref = destination_upstream(action.single)
            if ref is None:
                return False, "unknown upstream destination type"
            ra.cluster = cluster_name(ref)
            md = self._metadata_match(action.single.subset)
            if md is not None:
                ra.metadata_match.CopyFrom(md)
            return self._check_subset(action.single)
        if action.multi is not None:
            return self._set_weighted(action.multi, ra, vh, route, env, out)
        if action.upstream_group is not None:
            return self._set_upstream_group(action.upstream_group, ra, vh, route, env, out)
        if action.cluster_header is not None and self.profile != "1.3":
            ra.cluster_header = action.cluster_header
            return None
        if action.dynamic_forward_proxy is not None and self.profile != "1.3":
            self._set_dfp_route(action.dynamic_forward_proxy, ra, vh, route, env, out)
            return None
        if self.profile == "1.3" and (action.dynamic_forward_proxy is not None or action.cluster_header is not None):
            # v1.3.20 proxy.proto RouteAction: single, multi and upstreamGroup only. gloo_nb keeps 1.3's handling of
            # a route action without a destination it knows, and says why.
            name = "dynamicForwardProxy" if action.dynamic_forward_proxy is not None else "clusterHeader"
            self.reports.find(Finding(vh.source, "warning", (
                f"routeAction.{name} does not exist in Gloo 1.3 (its RouteAction has single, multi and upstreamGroup "
                "only): gloo_nb translates the route as Gloo 1.3 treats an action without a destination"),
                route.owner or vh.source, layer="parse", field=f"routeAction.{name}"))
        return False, "unknown upstream destination type"

    def _declare_group_destination_options(self, wd: WeightedDestination, index: int, group: UpstreamGroup) -> None:
        # setWeightedClusters runs the WeightedDestinationPlugins on each ClusterWeight, an UpstreamGroup's
        # destinations included: headers (headerManipulation) and, in Gloo's own filters or Enterprise,
        # transformations, stagedTransformations, extauth, bufferPerRoute, csrf, extensions. For a group's
        # destinations gloo_nb reproduces none of them yet (a route's own `multi` gets headerManipulation in
        # _weighted_destination_options): each one is declared, never dropped silently.
        for key in wd.options:
            self.reports.declare(Unmodelled(group.key, f"spec.destinations[{index}].options.{key}",
                                            f"weighted destination option {key}",
                                            "Gloo applies it to this destination's weighted cluster"))

    def _set_upstream_group(self, ref: ResourceRef, ra: route_components_pb2.RouteAction, vh: ProxyVirtualHost,
                            route: ProxyRoute, env: route_components_pb2.Route,
                            out: ProxyTranslation) -> tuple[bool, str] | None:
        # route_config.go:setRouteAction, case RouteAction_UpstreamGroup: the group's destinations become the
        # route's weighted clusters, exactly as an inline multi's (setWeightedClusters).
        ug = find_upstream_group(self.upstream_groups, ref, self.profile)
        if ug is None:
            if self.profile != "1.3":
                # main: "the UpstreamGroup isn't found but set a bogus cluster so route replacement will
                # still work". v1.3.20 returned before setting any cluster specifier: the RouteAction stays
                # empty (which Envoy refuses: RouteActionValidationError.ClusterSpecifier is required).
                ra.cluster = ""
            return True, upstream_not_found(ref, self.profile, "UpstreamGroup")
        return self._set_weighted(group_destinations(ug, self.profile), ra, vh, route, env, out, group=ug)

    def _set_weighted(self, dests: Sequence[WeightedDestination], ra: route_components_pb2.RouteAction,
                      vh: ProxyVirtualHost, route: ProxyRoute, env: route_components_pb2.Route,
                      out: ProxyTranslation, group: UpstreamGroup | None = None) -> tuple[bool, str] | None:
        # route_config.go:setWeightedClusters. main sets the (empty) WeightedClusters before refusing an
        # empty list; v1.3.20 refused first, leaving the RouteAction without a cluster specifier.
        if not dests and self.profile == "1.3":
            return False, "must specify at least one weighted destination for multi destination routes"
        wc = ra.weighted_clusters
        wc.SetInParent()
        if not dests:
            return False, "must specify at least one weighted destination for multi destination routes"
        total = 0
        for wd in dests:
            ref = destination_upstream(wd.destination)
            if ref is None:
                return False, "unknown upstream destination type"
            weight = wd.weight or 0
            total += weight
            cw = wc.clusters.add(name=cluster_name(ref))
            cw.weight.value = weight
            md = self._metadata_match(wd.destination.subset)
            if md is not None:
                cw.metadata_match.CopyFrom(md)
            if group is not None:
                self._declare_group_destination_options(wd, len(wc.clusters) - 1, group)
            err = self._check_subset(wd.destination)
            if err is not None:
                return err
        if self.profile != "1.3" and total < 1:
            self._route_error(vh, route, "ProcessingError",
                              "Incorrect configuration for Weighted Destination for route - Weighted "
                              "Destinations require a total weight that is greater than or equal to 1",
                              env.name, out)
        wc.total_weight.value = total
        return None


# --- listeners and clusters ---------------------------------------------------------------


def _any(msg: Any) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(msg)
    return out


def _ads_source() -> config_source_pb2.ConfigSource:
    src = config_source_pb2.ConfigSource(resource_api_version=config_source_pb2.V3)
    src.ads.SetInParent()
    return src


def http_listener(name: str, bind_address: str, bind_port: int, rc_name: str) -> listener_pb2.Listener:
    """An Envoy HTTP listener with Gloo's HCM settings (``network_filters.go``).

    Args:
        name: Listener name.
        bind_address: Address.
        bind_port: Port.
        rc_name: RouteConfiguration served over RDS.

    Returns:
        The Listener.
    """
    hcm = hcm_pb2.HttpConnectionManager(stat_prefix="http", codec_type=hcm_pb2.HttpConnectionManager.AUTO)
    hcm.normalize_path.value = True
    hcm.rds.route_config_name = rc_name
    hcm.rds.config_source.CopyFrom(_ads_source())
    hcm.http_filters.add(name=ROUTER_FILTER).typed_config.CopyFrom(_any(router_pb2.Router()))
    listener = listener_pb2.Listener(name=name)
    listener.address.socket_address.address = bind_address
    listener.address.socket_address.port_value = bind_port
    chain = listener.filter_chains.add()
    chain.filters.add(name=HCM_FILTER).typed_config.CopyFrom(_any(hcm))
    return listener


def upstream_hash(upstream: Upstream) -> str:
    """A stable hash of an upstream's spec, standing in for Gloo's ``upstream.Hash()``.

    Args:
        upstream: The upstream.

    Returns:
        A decimal uint64, as Gloo prints it in EDS service names.
    """
    spec: tuple[object, ...] = (upstream.kube, upstream.static, upstream.upstream_type)
    if upstream.options != UpstreamOptions() or upstream.use_http2:
        # Gloo hashes the whole spec; options join the key only when set, so the EDS names of
        # upstreams without options stay what they were.
        spec = (*spec, upstream.options, upstream.use_http2)
    digest = hashlib.blake2b(repr(spec).encode(), digest_size=8).digest()
    return str(int.from_bytes(digest, "big"))


_IP = re.compile(r"^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$")


def build_cluster(upstream: Upstream, profile: Profile = "current", *,
                  default_circuit_breakers: Mapping[str, Any] | None = None) -> cluster_pb2.Cluster:
    """One Envoy cluster for an Upstream (``clusters.go``).

    Args:
        upstream: The upstream.
        profile: Gloo profile; decides how the upstream's options (health checks, HTTP/2...)
            are written (:mod:`gloo_nb.translate.upstream_options`).
        default_circuit_breakers: Settings' ``gloo.circuitBreakers``, for an upstream without its own.

    Returns:
        The Cluster.
    """
    name = cluster_name(ResourceRef(upstream.meta.name, upstream.meta.namespace))
    cluster = cluster_pb2.Cluster(name=name, connect_timeout=duration_pb2.Duration(seconds=CONNECT_TIMEOUT_S))
    if upstream.static is not None:
        hosts = upstream.static.hosts
        dns = any(not _IP.match(h.addr) for h in hosts)
        cluster.type = cluster_pb2.Cluster.STRICT_DNS if dns else cluster_pb2.Cluster.STATIC
        if dns:
            cluster.dns_lookup_family = cluster_pb2.Cluster.V4_ONLY
        cla = cluster.load_assignment
        cla.cluster_name = name
        lb = cla.endpoints.add()
        for h in hosts:
            ep = lb.lb_endpoints.add()
            ep.endpoint.address.socket_address.address = h.addr
            ep.endpoint.address.socket_address.port_value = h.port
            if h.load_balancing_weight is not None:
                ep.load_balancing_weight.value = h.load_balancing_weight
    else:
        cluster.type = cluster_pb2.Cluster.EDS
        cluster.eds_cluster_config.eds_config.CopyFrom(_ads_source())
        cluster.eds_cluster_config.service_name = f"{name}-{upstream_hash(upstream)}"
    spec = upstream.subset_spec
    if spec is not None:
        lsc = cluster.lb_subset_config
        policy = spec.fallback_policy or "ANY_ENDPOINT"
        lsc.fallback_policy = cluster_pb2.Cluster.LbSubsetConfig.LbSubsetFallbackPolicy.Value(policy)
        if spec.default_subset:
            lsc.default_subset.CopyFrom(struct_pb2.Struct())
            lsc.default_subset.update(dict(spec.default_subset))
        for sel in spec.selectors:
            s = lsc.subset_selectors.add(keys=list(sel.keys))
            s.single_host_per_subset = sel.single_host_per_subset
    apply_upstream_options(cluster, upstream, profile, default_circuit_breakers=default_circuit_breakers)
    return cluster


_TRANSPORT_SOCKET_MATCH = "envoy.transport_socket_match"  # plugins/static TransportSocketMatchKey


def apply_upstream_tls(cluster: cluster_pb2.Cluster, upstream: Upstream, secrets: Sequence[Secret],
                       profile: Profile, *, secrets_unreadable: str = "") -> TlsError | None:
    """Give an Upstream's cluster its TLS transport socket, as Gloo does.

    Order as in Gloo: the Upstream's ``sslConfig`` first (``translator/clusters.go`` (CUR),
    ``plugins/upstreamssl`` (1.3)), then the static plugin's automatic TLS
    (``plugins/static/plugin.go``): a static upstream with a host on port 443, or ``useTls``, gets an
    UpstreamTlsContext whose SNI is its first host name (not an IP) when no sslConfig set one. In 1.3
    ``useTls`` was a plain bool (``useTls || port 443``); now an explicit ``useTls: false`` turns the
    automatic TLS off. Current Gloo then adds one ``transport_socket_matches`` entry per host with an
    SNI address (``sniAddr``, else the host's address unless ``autoSniRewrite: false``), matched by
    endpoint metadata ``envoy.transport_socket_match``.

    Args:
        cluster: The cluster to complete (changed in place).
        upstream: Its Upstream.
        secrets: The snapshot's Secrets.
        profile: Behaviour profile.
        secrets_unreadable: Why Secrets could not be listed (``Snapshot.secrets_unreadable``).

    Returns:
        Gloo's error for the Upstream's sslConfig, or None.
    """
    error: TlsError | None = None
    if upstream.ssl_config is not None:
        ctx = upstream_tls_context(parse_ssl_config(upstream.ssl_config, "spec.sslConfig"), secrets, profile,
                                   secrets_unreadable=secrets_unreadable)
        if isinstance(ctx, TlsError):
            error = ctx
        else:
            cluster.transport_socket.name = TLS_TRANSPORT_SOCKET
            cluster.transport_socket.typed_config.Pack(ctx)
    static = upstream.static
    if static is None:
        return error
    hostname = next((h.addr for h in static.hosts if h.addr and not _IP.match(h.addr)), "")
    on_443 = any(h.port == 443 for h in static.hosts)
    wants_tls = (bool(static.use_tls) or on_443) if profile == "1.3" else (
        bool(static.use_tls) or (static.use_tls is None and on_443))
    if wants_tls and not cluster.HasField("transport_socket"):
        auto = tls_pb2.UpstreamTlsContext(sni=hostname)
        if profile != "1.3":
            # GetCommonTlsContextFromUpstreamOptions: settings.upstreamOptions.sslParameters (not modelled: none)
            auto.common_tls_context.SetInParent()
        cluster.transport_socket.name = TLS_TRANSPORT_SOCKET
        cluster.transport_socket.typed_config.Pack(auto)
    if profile != "1.3" and cluster.transport_socket.name == TLS_TRANSPORT_SOCKET:
        endpoints = list(cluster.load_assignment.endpoints[0].lb_endpoints) if cluster.load_assignment.endpoints \
            else []
        for host, ep in zip(static.hosts, endpoints, strict=False):
            sni = host.sni_addr or (host.addr if static.auto_sni_rewrite is None or static.auto_sni_rewrite else "")
            if not sni:
                continue
            name = f"{sni};{host.addr}:{host.port}"
            ctx = tls_pb2.UpstreamTlsContext()
            cluster.transport_socket.typed_config.Unpack(ctx)
            ctx.sni = sni
            match = cluster.transport_socket_matches.add(name=name)
            match.match.update({name: True})
            match.transport_socket.name = TLS_TRANSPORT_SOCKET
            match.transport_socket.typed_config.Pack(ctx)
            ep.metadata.filter_metadata[_TRANSPORT_SOCKET_MATCH].update({name: True})
    return error


def endpoints_for(cluster: cluster_pb2.Cluster,
                  addresses: Sequence[tuple[str, int, Mapping[str, str]]]) -> endpoint_pb2.ClusterLoadAssignment:
    """A ClusterLoadAssignment for an EDS cluster, with subset labels as ``envoy.lb`` metadata.

    ``translator/endpoints.go:getLbMetadata``: every key of the upstream's subset selectors is
    first set to ``""``, then the endpoint's labels (all of its pod's labels) are written over them;
    an endpoint with neither gets no metadata.

    Args:
        cluster: The EDS cluster.
        addresses: ``(ip, port, labels)`` per endpoint.

    Returns:
        The ClusterLoadAssignment named after the cluster's EDS service name.
    """
    cla = endpoint_pb2.ClusterLoadAssignment(cluster_name=cluster.eds_cluster_config.service_name)
    if not addresses:
        # translator.go's `emptyendpointlist`: the cluster name alone, no locality group.
        return cla
    lb = cla.endpoints.add()
    zero = {k: "" for sel in cluster.lb_subset_config.subset_selectors for k in sel.keys}
    for ip, port, labels in addresses:
        ep: endpoint_components_pb2.LbEndpoint = lb.lb_endpoints.add()
        ep.endpoint.address.socket_address.address = ip
        ep.endpoint.address.socket_address.port_value = port
        metadata = {**zero, **labels} if zero else labels
        if metadata:
            ep.metadata.filter_metadata["envoy.lb"].update(dict(metadata))
    return cla


SSL_SERVICE_ANNOTATIONS = {
    "secret": "gloo.solo.io/sslService.secret",
    "tlsCert": "gloo.solo.io/sslService.tlsCert",
    "tlsKey": "gloo.solo.io/sslService.tlsKey",
    "rootCa": "gloo.solo.io/sslService.rootCa",
    "oneWayTls": "gloo.solo.io/sslService.oneWayTls",
}
"""The Service annotations Gloo's ``UseSslConverter`` reads (``plugins/kubernetes/serviceconverter``)."""

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})  # strconv.ParseBool


def service_ssl_config(service: Service, port: int, profile: Profile = "current") -> dict[str, Any] | None:
    """The UpstreamSslConfig Gloo derives from a Service's ``gloo.solo.io/sslService.*`` annotations.

    ``use_ssl_annotation_converter.go``: a value ``<port>:<value>`` applies to that service port only,
    a bare value to every port; ``secret`` wins over the files. ``oneWayTls`` is current Gloo only.

    Args:
        service: The Service.
        port: The service port of the upstream.
        profile: Behaviour profile.

    Returns:
        The sslConfig as YAML would write it, or None when the annotations ask for no TLS.
    """
    def value(key: str) -> str:
        raw = service.meta.annotations.get(SSL_SERVICE_ANNOTATIONS[key], "")
        parts = raw.split(":")
        if len(parts) != 2:
            return raw
        try:
            only = int(parts[0])
        except ValueError:
            only = 0  # strconv.Atoi's error is ignored: port 0 = every port
        return parts[1] if only in (0, port) else ""

    out: dict[str, Any] = {}
    one_way = value("oneWayTls") if profile != "1.3" else ""
    if one_way:
        out["oneWayTls"] = one_way in _GO_TRUE
    if value("secret"):
        out["secretRef"] = {"name": value("secret"), "namespace": service.meta.namespace}
    elif value("tlsCert") or value("tlsKey") or value("rootCa"):
        out["sslFiles"] = {"tlsCert": value("tlsCert"), "tlsKey": value("tlsKey"), "rootCa": value("rootCa")}
    else:
        return None
    return out


def fake_kube_upstreams(services: Sequence[Service], profile: Profile = "current",
                        global_annotations: Mapping[str, str] | None = None) -> list[Upstream]:
    """Gloo's in-memory ``kube-svc:`` upstreams, one per Service port.

    Gloo builds them with the kube plugin's service converters (``upstreams/kubernetes/
    conversions.go`` -> ``DefaultUpstreamConverter().CreateUpstream``, at v1.3.20 and main), in the
    order of ``serviceconverter/service_converter_interface.go``: ``UseHttp2Converter`` (the
    ``gloo.solo.io/h2_service`` annotation, port names, appProtocol: both profiles), ``UseSslConverter``
    (the ``gloo.solo.io/sslService.*`` annotations: both profiles, ``oneWayTls`` in current only; at v1.3.20
    ``serviceconverter/use_ssl_annotation_converter.go`` registers it in ``DefaultServiceConverters`` too),
    then, in current, ``GeneralServiceConverter`` (``gloo.solo.io/upstream_config``).

    Args:
        services: The Services.
        profile: Behaviour profile.
        global_annotations: Settings' ``upstreamOptions.globalAnnotations`` (the HTTP/2 annotation and,
            in current, ``gloo.solo.io/upstream_config``, :func:`~gloo_nb.translate.upstream_options.
            service_upstream_config`).

    Returns:
        Upstreams named ``kube-svc:<ns>-<svc>-<port>`` in the Service's namespace.
    """
    out = []
    for s in services:
        for p in s.ports:
            ssl = service_ssl_config(s, p.port, profile)
            up = Upstream(
                meta=ObjectMeta(name=kube_service_upstream_name(s.meta.namespace, s.meta.name, p.port),
                                namespace=s.meta.namespace),
                kube=KubeUpstreamSpec(service_name=s.meta.name, service_namespace=s.meta.namespace,
                                      service_port=p.port, selector=dict(s.selector)),
                upstream_type="kube", ssl_config=ssl,
                use_http2=service_wants_http2(s, p, profile, global_annotations))
            if profile != "1.3":
                # The general converter runs last and may override what the others set.
                up, _ = service_upstream_config(up, s, global_annotations)
            out.append(up)
    return out


HCM_TYPE = "type.googleapis.com/" + hcm_pb2.HttpConnectionManager.DESCRIPTOR.full_name
"""The type URL of an HTTP connection manager filter's ``typed_config``."""


def http_connection_managers(listener: listener_pb2.Listener) -> list[hcm_pb2.HttpConnectionManager]:
    """Return the HTTP connection managers of every filter chain (default chain included).

    Args:
        listener: The listener.

    Returns:
        The decoded managers; filters of other types (or undecodable ones) are skipped.
    """
    chains = list(listener.filter_chains)
    if listener.HasField("default_filter_chain"):
        chains.append(listener.default_filter_chain)
    out = []
    for chain in chains:
        for flt in chain.filters:
            if flt.HasField("typed_config") and flt.typed_config.type_url == HCM_TYPE:
                hcm = hcm_pb2.HttpConnectionManager()
                try:
                    hcm.ParseFromString(flt.typed_config.value)
                except Exception:  # noqa: BLE001 - a broken filter must not hide the listener's other facts
                    continue
                out.append(hcm)
    return out



FALLBACK_LISTENER = "fallback_listener_for_invalid_routes"
FALLBACK_CLUSTER = "fallback_cluster_for_invalid_routes"
FALLBACK_PIPE = "@" + FALLBACK_LISTENER


def fallback_listener(status: int, body: str) -> listener_pb2.Listener:
    """The invalid-route fallback listener on pipe ``@fallback_listener_for_invalid_routes``.

    Args:
        status: ``invalidRouteResponseCode``.
        body: ``invalidRouteResponseBody``.

    Returns:
        The Listener (``route_replacing_sanitizer.go:makeFallbackListenerAndCluster``).
    """
    rc = route_pb2.RouteConfiguration(name="fallback_routes")
    vh = rc.virtual_hosts.add(name="fallback_virtualhost", domains=["*"])
    r = vh.routes.add()
    r.match.prefix = "/"
    r.direct_response.status = status
    r.direct_response.body.inline_string = body
    hcm = hcm_pb2.HttpConnectionManager(stat_prefix=FALLBACK_LISTENER, codec_type=hcm_pb2.HttpConnectionManager.AUTO,
                                        route_config=rc)
    hcm.http_filters.add(name=ROUTER_FILTER).typed_config.CopyFrom(_any(router_pb2.Router()))
    listener = listener_pb2.Listener(name=FALLBACK_LISTENER,
                                     address=address_pb2.Address(pipe=address_pb2.Pipe(path=FALLBACK_PIPE)))
    listener.filter_chains.add().filters.add(name=HCM_FILTER).typed_config.CopyFrom(_any(hcm))
    return listener


def fallback_cluster() -> cluster_pb2.Cluster:
    """The invalid-route fallback cluster, one endpoint on the fallback listener's pipe.

    Returns:
        The Cluster (type STATIC, connect timeout 5 s).
    """
    cluster = cluster_pb2.Cluster(name=FALLBACK_CLUSTER, connect_timeout=duration_pb2.Duration(seconds=5),
                                  type=cluster_pb2.Cluster.STATIC)
    cla = cluster.load_assignment
    cla.cluster_name = FALLBACK_CLUSTER
    cla.endpoints.add().lb_endpoints.add().endpoint.address.pipe.path = FALLBACK_PIPE
    return cluster
