"""Typed, immutable models of the Gloo resources gloo_nb reads.

Field names follow the Gloo protos (``projects/gateway/api/v1/*.proto``,
``projects/gloo/api/v1/*.proto``) in snake_case; the YAML spelling is the protobuf JSON
(lowerCamel) name. ``None`` means "field not set" wherever Gloo distinguishes unset from a
zero value (``BoolValue``/``UInt32Value`` wrappers, oneofs), because Gloo's behaviour depends
on that difference (e.g. ``caseSensitive`` nil != false in delegation checks).

Option blocks (``RouteOptions``, ``VirtualHostOptions``, ``ListenerOptions``...) are large
and open-ended; they are kept as plain mappings and merged field by field as Gloo does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gloo_nb.models.certs import CertificateInfo, key_pair_problem

__all__ = [
    "DEFAULT_MATCHER",
    "DelegateAction",
    "Destination",
    "DirectResponseAction",
    "EndpointAddress",
    "EndpointPort",
    "EndpointSubset",
    "Gateway",
    "HELM_INVALID_ROUTE_BODY",
    "HeaderMatcher",
    "HttpGateway",
    "InvalidConfigPolicy",
    "Kind",
    "LabelSelector",
    "KubeEndpoints",
    "KubeServiceDestination",
    "KubeUpstreamSpec",
    "Location",
    "MatchableHttpGateway",
    "MatchableTcpGateway",
    "Namespace",
    "Matcher",
    "ObjectMeta",
    "PathKind",
    "Pod",
    "QueryParameterMatcher",
    "RedirectAction",
    "Resource",
    "ResourceKey",
    "ResourceRef",
    "Route",
    "RouteAction",
    "RouteTable",
    "RouteTableSelector",
    "Secret",
    "SelectorExpression",
    "SelectorOperator",
    "Service",
    "ServicePort",
    "Settings",
    "StaticHost",
    "StaticUpstreamSpec",
    "SubsetSelector",
    "SubsetSpec",
    "TlsFacts",
    "TlsSecret",
    "Upstream",
    "UpstreamGroup",
    "UpstreamOptions",
    "RouteOption",
    "VirtualHostOption",
    "ValidationSettings",
    "VirtualHost",
    "VirtualService",
    "WeightedDestination",
]

Kind = Literal["VirtualService", "RouteTable", "Gateway", "Upstream", "Settings", "Service", "Endpoints", "Pod",
               "MatchableHttpGateway", "MatchableTcpGateway", "Secret", "UpstreamGroup",
               "VirtualHostOption", "RouteOption", "Namespace"]


@dataclass(frozen=True, slots=True)
class Location:
    """Where a resource was read from.

    Attributes:
        file: File name, ``-`` for stdin, or ``<object>`` for live objects.
        document: Zero-based index of the document in the file's stream.
    """

    file: str = "<object>"
    document: int | None = None

    def __str__(self) -> str:
        return self.file if self.document is None else f"{self.file}: document {self.document}"


@dataclass(frozen=True, slots=True, order=True)
class ResourceKey:
    """Identity of a resource: kind, namespace and name.

    Attributes:
        kind: The Kubernetes kind, e.g. ``RouteTable``.
        namespace: The namespace (``""`` for cluster-scoped objects).
        name: The name.
    """

    kind: str
    namespace: str
    name: str

    @property
    def ref(self) -> str:
        """``namespace/name``, as kubectl and gloo_nb's JSON write it."""
        return f"{self.namespace}/{self.name}"

    @property
    def dotted(self) -> str:
        """``namespace.name``, as Gloo's messages write it."""
        return f"{self.namespace}.{self.name}"

    def __str__(self) -> str:
        return f"{self.kind} {self.ref}"


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """The part of Kubernetes ``metadata`` that gloo_nb uses.

    Attributes:
        name: ``metadata.name``.
        namespace: ``metadata.namespace`` (``""`` when absent).
        labels: ``metadata.labels``.
        annotations: ``metadata.annotations``.
        resource_version: ``metadata.resourceVersion`` of a live object.
        generation: ``metadata.generation`` of a live object.
        uid: ``metadata.uid`` of a live object.
        location: Where the object was read from (not part of equality).
    """

    name: str
    namespace: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    resource_version: str = ""
    generation: int = 0
    uid: str = ""
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """A solo-kit ``core.ResourceRef``.

    Attributes:
        name: Name of the referenced resource.
        namespace: Namespace; ``""`` when not given (Gloo does not always default it).
    """

    name: str
    namespace: str = ""

    @property
    def dotted(self) -> str:
        """``namespace.name``, as Gloo's messages write it."""
        return f"{self.namespace}.{self.name}"


# --- matchers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeaderMatcher:
    """A header condition (``matchers.proto`` HeaderMatcher).

    Attributes:
        name: Header name.
        value: Value to match; ``""`` means "header present".
        regex: Whether ``value`` is an RE2 regex.
        invert_match: Whether the condition is inverted.
    """

    name: str
    value: str = ""
    regex: bool = False
    invert_match: bool = False


@dataclass(frozen=True, slots=True)
class QueryParameterMatcher:
    """A query-parameter condition (``matchers.proto`` QueryParameterMatcher).

    Attributes:
        name: Parameter name.
        value: Value to match; ``""`` means "parameter present".
        regex: Whether ``value`` is an RE2 regex.
    """

    name: str
    value: str = ""
    regex: bool = False


PathKind = Literal["prefix", "exact", "regex", "connect"]


@dataclass(frozen=True, slots=True)
class Matcher:
    """A Gloo route matcher; at most one path specifier is set (a proto oneof).

    Attributes:
        prefix: ``prefix`` path specifier, or None when unset (``""`` is set-but-empty).
        exact: ``exact`` path specifier.
        regex: ``regex`` path specifier.
        connect: Whether ``connectMatcher`` is the path specifier.
        case_sensitive: ``caseSensitive`` BoolValue; None when unset.
        headers: Header conditions, in order.
        query_parameters: Query-parameter conditions, in order.
        methods: HTTP methods.
    """

    prefix: str | None = None
    exact: str | None = None
    regex: str | None = None
    connect: bool = False
    case_sensitive: bool | None = None
    headers: tuple[HeaderMatcher, ...] = ()
    query_parameters: tuple[QueryParameterMatcher, ...] = ()
    methods: tuple[str, ...] = ()

    @property
    def path_kind(self) -> PathKind | None:
        """Which path specifier is set, or None."""
        if self.prefix is not None:
            return "prefix"
        if self.exact is not None:
            return "exact"
        if self.regex is not None:
            return "regex"
        if self.connect:
            return "connect"
        return None

    @property
    def path(self) -> str:
        """Gloo's ``PathAsString``: the prefix, exact or regex string (``""`` otherwise)."""
        return self.prefix or self.exact or self.regex or ""


DEFAULT_MATCHER = Matcher(prefix="/")
"""The matcher Gloo uses for a route with no matchers."""


# --- actions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KubeServiceDestination:
    """A ``kube:`` destination: a Kubernetes Service and port, without an Upstream.

    Attributes:
        ref: The Service.
        port: The Service port.
    """

    ref: ResourceRef
    port: int = 0


@dataclass(frozen=True, slots=True)
class Destination:
    """A route destination; exactly one of ``upstream``, ``kube`` or ``consul`` is set.

    Attributes:
        upstream: Upstream reference.
        kube: Kubernetes Service destination.
        consul: Consul destination, kept raw.
        subset: ``subset.values``; None when the route sets no subset.
        destination_spec: ``destinationSpec``, kept raw.
    """

    upstream: ResourceRef | None = None
    kube: KubeServiceDestination | None = None
    consul: Mapping[str, Any] | None = None
    subset: Mapping[str, str] | None = None
    destination_spec: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class WeightedDestination:
    """One entry of a ``multi`` destination.

    Attributes:
        destination: Where the traffic goes.
        weight: The weight; None when unset (Gloo treats nil as 0).
        options: ``options`` (WeightedDestinationOptions), kept raw.
    """

    destination: Destination
    weight: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RouteAction:
    """A ``routeAction``; exactly one destination kind is set.

    Attributes:
        single: One destination.
        multi: Weighted destinations (possibly empty, which Gloo rejects).
        upstream_group: Reference to an UpstreamGroup.
        cluster_header: Name of a header carrying the cluster name.
        dynamic_forward_proxy: Dynamic forward proxy config, kept raw.
    """

    single: Destination | None = None
    multi: tuple[WeightedDestination, ...] | None = None
    upstream_group: ResourceRef | None = None
    cluster_header: str | None = None
    dynamic_forward_proxy: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RedirectAction:
    """A ``redirectAction``.

    Attributes:
        host_redirect: New host.
        path_redirect: New path (oneof with the two rewrites).
        prefix_rewrite: Prefix rewrite.
        regex_rewrite: Regex rewrite, kept raw.
        response_code: Response code enum name (``MOVED_PERMANENTLY`` when unset).
        https_redirect: Redirect to https.
        strip_query: Drop the query string.
        port_redirect: New port; None when unset.
    """

    host_redirect: str = ""
    path_redirect: str | None = None
    prefix_rewrite: str | None = None
    regex_rewrite: Mapping[str, Any] | None = None
    response_code: str = "MOVED_PERMANENTLY"
    https_redirect: bool = False
    strip_query: bool = False
    port_redirect: int | None = None


@dataclass(frozen=True, slots=True)
class DirectResponseAction:
    """A ``directResponseAction``.

    Attributes:
        status: HTTP status.
        body: Response body.
    """

    status: int = 0
    body: str = ""


SelectorOperator = Literal[
    "Equals", "DoubleEquals", "NotEquals", "In", "NotIn", "Exists", "DoesNotExist", "GreaterThan", "LessThan"
]


@dataclass(frozen=True, slots=True)
class SelectorExpression:
    """A label-selector expression (``RouteTableSelector.Expression``).

    Attributes:
        key: Label key.
        operator: Operator name (kept as written, so that invalid ones can be reported).
        values: Operand values.
    """

    key: str
    operator: str = "Equals"
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteTableSelector:
    """A delegate ``selector``.

    Attributes:
        namespaces: Namespaces to search; empty means the owner's namespace, ``*`` means all.
        labels: Exact label match (all must match).
        expressions: Expressions (all must match).
    """

    namespaces: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    expressions: tuple[SelectorExpression, ...] = ()


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A Kubernetes-style label selector (``Settings.watchNamespaceSelectors`` entries, Gloo's ``v1.LabelSelector``).

    Attributes:
        match_labels: ``matchLabels``: every label must be present with that value.
        match_expressions: ``matchExpressions`` (operators ``In``, ``NotIn``, ``Exists``, ``DoesNotExist``,
            kept as written so that an invalid one can be reported with Gloo's message).
    """

    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[SelectorExpression, ...] = ()


@dataclass(frozen=True, slots=True)
class DelegateAction:
    """A ``delegateAction``.

    Attributes:
        name: Deprecated direct name; if name or namespace is set, ref and selector are ignored.
        namespace: Deprecated direct namespace.
        ref: Reference to one RouteTable.
        selector: Selector of RouteTables.
    """

    name: str = ""
    namespace: str = ""
    ref: ResourceRef | None = None
    selector: RouteTableSelector | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """A route of a VirtualService or RouteTable.

    Attributes:
        matchers: Matchers; empty means one ``prefix: /`` matcher.
        inheritable_matchers: ``inheritableMatchers``; None when unset (inherits the parent's).
        inheritable_path_matchers: ``inheritablePathMatchers``; None when unset.
        route_action: ``routeAction``.
        redirect_action: ``redirectAction``.
        direct_response_action: ``directResponseAction``.
        delegate_action: ``delegateAction``.
        options: ``options`` (RouteOptions), kept raw.
        name: ``name``.
        options_config_refs: ``optionsConfigRefs.delegateOptions``.
        index: Position of the route in its owner's list.
        unmodelled_action: The field name of an action gloo_nb does not model (``graphqlApiRef``,
            ``graphqlSchemaRef``: Gloo Enterprise); the route is read as one without an action and the
            translator declares it not modelled. ``""`` otherwise.
    """

    matchers: tuple[Matcher, ...] = ()
    inheritable_matchers: bool | None = None
    inheritable_path_matchers: bool | None = None
    route_action: RouteAction | None = None
    redirect_action: RedirectAction | None = None
    direct_response_action: DirectResponseAction | None = None
    delegate_action: DelegateAction | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    options_config_refs: tuple[ResourceRef, ...] = ()
    index: int = 0
    unmodelled_action: str = ""


# --- gateway.solo.io ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VirtualHost:
    """A VirtualService's ``virtualHost``.

    Attributes:
        domains: Domains; empty means ``*``.
        routes: Routes in order.
        options: VirtualHostOptions, kept raw.
        options_config_refs: ``optionsConfigRefs.delegateOptions``.
    """

    domains: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    options_config_refs: tuple[ResourceRef, ...] = ()


@dataclass(frozen=True, slots=True)
class VirtualService:
    """A ``gateway.solo.io/v1`` VirtualService.

    Attributes:
        meta: Object metadata.
        virtual_host: The virtual host; None when the VS does not specify one.
        ssl_config: ``sslConfig``, kept raw; its presence binds the VS to ssl gateways.
        display_name: ``displayName``.
        status: The status as read from a live object, kept raw.
    """

    meta: ObjectMeta
    virtual_host: VirtualHost | None = None
    ssl_config: Mapping[str, Any] | None = None
    display_name: str = ""
    status: Mapping[str, Any] | None = None

    kind = "VirtualService"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class RouteTable:
    """A ``gateway.solo.io/v1`` RouteTable.

    Attributes:
        meta: Object metadata.
        routes: Routes in order.
        weight: ``weight``; None when unset (Gloo treats it as 0).
        status: The status as read from a live object, kept raw.
    """

    meta: ObjectMeta
    routes: tuple[Route, ...] = ()
    weight: int | None = None
    status: Mapping[str, Any] | None = None

    kind = "RouteTable"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class HttpGateway:
    """A Gateway's ``httpGateway``.

    Attributes:
        virtual_services: Explicit VirtualService refs.
        virtual_service_selector: Label selector for VirtualServices.
        virtual_service_expressions: Expressions selecting VirtualServices; None when
            ``virtualServiceExpressions`` is absent (Gloo tests the message for nil, so an empty one
            still takes precedence over the selector and the refs).
        virtual_service_namespaces: Namespaces to search; empty or ``*`` means all.
        options: HttpListenerOptions, kept raw.
    """

    virtual_services: tuple[ResourceRef, ...] = ()
    virtual_service_selector: Mapping[str, str] = field(default_factory=dict)
    virtual_service_expressions: tuple[SelectorExpression, ...] | None = None
    virtual_service_namespaces: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Gateway:
    """A ``gateway.solo.io/v1`` Gateway.

    Attributes:
        meta: Object metadata.
        ssl: Whether the gateway binds VirtualServices with sslConfig.
        bind_address: Address Envoy listens on.
        bind_port: Port Envoy listens on.
        proxy_names: Proxies this gateway belongs to.
        options: ListenerOptions, kept raw.
        http_gateway: The HTTP gateway; None for other gateway types.
        tcp_gateway: ``tcpGateway``, kept raw.
        hybrid_gateway: ``hybridGateway``, kept raw.
        use_proxy_proto: ``useProxyProto``.
        status: The status as read from a live object, kept raw.
        route_options: ``routeOptions`` (RouteConfigurationOptions, current Gloo), kept raw.
    """

    meta: ObjectMeta
    ssl: bool = False
    bind_address: str = "::"
    bind_port: int = 8080
    proxy_names: tuple[str, ...] = ("gateway-proxy",)
    options: Mapping[str, Any] = field(default_factory=dict)
    http_gateway: HttpGateway | None = None
    tcp_gateway: Mapping[str, Any] | None = None
    hybrid_gateway: Mapping[str, Any] | None = None
    use_proxy_proto: bool | None = None
    status: Mapping[str, Any] | None = None
    route_options: Mapping[str, Any] = field(default_factory=dict)

    kind = "Gateway"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class MatchableHttpGateway:
    """A ``gateway.solo.io/v1`` MatchableHttpGateway (current Gloo; absent at v1.3.20).

    ``projects/gateway/api/v1/matchable_http_gateway.proto``: an HTTP gateway that hybrid Gateways select
    through ``hybridGateway.delegatedHttpGateways``.

    Attributes:
        meta: Object metadata.
        matcher: ``matcher`` (sourcePrefixRanges, sslConfig), kept raw.
        http_gateway: ``httpGateway``.
        status: The status as read from a live object, kept raw.
    """

    meta: ObjectMeta
    matcher: Mapping[str, Any] = field(default_factory=dict)
    http_gateway: HttpGateway | None = None
    status: Mapping[str, Any] | None = None

    kind = "MatchableHttpGateway"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class MatchableTcpGateway:
    """A ``gateway.solo.io/v1`` MatchableTcpGateway (current Gloo; absent at v1.3.20).

    Attributes:
        meta: Object metadata.
        matcher: ``matcher`` (sourcePrefixRanges, sslConfig, passthroughCipherSuites), kept raw.
        tcp_gateway: ``tcpGateway`` (tcpHosts, options), kept raw.
        status: The status as read from a live object, kept raw.
    """

    meta: ObjectMeta
    matcher: Mapping[str, Any] = field(default_factory=dict)
    tcp_gateway: Mapping[str, Any] = field(default_factory=dict)
    status: Mapping[str, Any] | None = None

    kind = "MatchableTcpGateway"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


# --- gloo.solo.io ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubsetSelector:
    """One ``subsetSpec.selectors`` entry.

    Attributes:
        keys: Label keys that define a subset.
        single_host_per_subset: ``singleHostPerSubset``.
    """

    keys: tuple[str, ...] = ()
    single_host_per_subset: bool = False


@dataclass(frozen=True, slots=True)
class SubsetSpec:
    """An Upstream's ``subsetSpec``.

    Attributes:
        selectors: Subset selectors.
        fallback_policy: ``fallbackPolicy`` enum name; None when unset (ANY_ENDPOINT).
        default_subset: ``defaultSubset.values``; None when unset.
    """

    selectors: tuple[SubsetSelector, ...] = ()
    fallback_policy: str | None = None
    default_subset: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class KubeUpstreamSpec:
    """An Upstream's ``kube`` spec.

    Attributes:
        service_name: Service name.
        service_namespace: Service namespace.
        service_port: Service port (``servicePort``).
        selector: Extra pod-label filter.
        subset_spec: Subsets; None when unset.
    """

    service_name: str = ""
    service_namespace: str = ""
    service_port: int = 0
    selector: Mapping[str, str] = field(default_factory=dict)
    subset_spec: SubsetSpec | None = None


@dataclass(frozen=True, slots=True)
class StaticHost:
    """One ``static.hosts`` entry.

    Attributes:
        addr: Address (IP or host name).
        port: Port.
        sni_addr: SNI address.
        load_balancing_weight: Weight; None when unset.
    """

    addr: str = ""
    port: int = 0
    sni_addr: str = ""
    load_balancing_weight: int | None = None


@dataclass(frozen=True, slots=True)
class StaticUpstreamSpec:
    """An Upstream's ``static`` spec.

    Attributes:
        hosts: Hosts.
        use_tls: ``useTls``; None when unset (auto-true for port 443).
        auto_sni_rewrite: ``autoSniRewrite``.
    """

    hosts: tuple[StaticHost, ...] = ()
    use_tls: bool | None = None
    auto_sni_rewrite: bool | None = None


@dataclass(frozen=True, slots=True)
class UpstreamOptions:
    """The Upstream fields that tune its Envoy cluster (everything but the type and TLS).

    Scalars Gloo copies as wrappers are None when unset. The option blocks are Gloo messages whose
    field names follow Envoy's (``healthChecks``, ``outlierDetection``) or Gloo's own small
    messages (``circuitBreakers``, ``connectionConfig``, ``loadBalancerConfig``); they are kept as
    written (their field names checked by the codec) and converted to Envoy by
    :mod:`gloo_nb.translate.upstream_options`, which reports bad values on the Upstream.

    Attributes:
        protocol_selection: ``protocolSelection`` enum name; None when unset (USE_CONFIGURED_PROTOCOL).
        initial_stream_window_size: ``initialStreamWindowSize``.
        initial_connection_window_size: ``initialConnectionWindowSize``.
        max_concurrent_streams: ``maxConcurrentStreams``.
        override_stream_error_on_invalid_http_message: ``overrideStreamErrorOnInvalidHttpMessage``.
        ignore_health_on_host_removal: ``ignoreHealthOnHostRemoval``.
        circuit_breakers: ``circuitBreakers``, as written.
        connection_config: ``connectionConfig``, as written.
        load_balancer_config: ``loadBalancerConfig``, as written.
        health_checks: ``healthChecks`` entries, as written.
        outlier_detection: ``outlierDetection``, as written.
        failover: ``failover``, as written (Gloo Enterprise only).
        dns_refresh_rate: ``dnsRefreshRate`` (a protobuf JSON duration), as written.
        respect_dns_ttl: ``respectDnsTtl``.
        preconnect_policy: ``preconnectPolicy``, as written.
        unmodelled: Paths (under ``spec``) of the set fields whose effect gloo_nb does not
            reproduce (``proxyProtocolVersion``, ``static.hosts[0].metadata``...), for findings.
        service_spec: The upstream type's ``serviceSpec`` (``kube`` or ``static``), as written.
    """

    protocol_selection: str | None = None
    initial_stream_window_size: int | None = None
    initial_connection_window_size: int | None = None
    max_concurrent_streams: int | None = None
    override_stream_error_on_invalid_http_message: bool | None = None
    ignore_health_on_host_removal: bool | None = None
    circuit_breakers: Mapping[str, Any] | None = None
    connection_config: Mapping[str, Any] | None = None
    load_balancer_config: Mapping[str, Any] | None = None
    health_checks: tuple[Mapping[str, Any], ...] = ()
    outlier_detection: Mapping[str, Any] | None = None
    failover: Mapping[str, Any] | None = None
    dns_refresh_rate: str | Mapping[str, Any] | None = None
    respect_dns_ttl: bool | None = None
    preconnect_policy: Mapping[str, Any] | None = None
    unmodelled: tuple[str, ...] = ()
    service_spec: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Upstream:
    """A ``gloo.solo.io/v1`` Upstream.

    Attributes:
        meta: Object metadata.
        kube: Kubernetes spec, when the upstream type is ``kube``.
        static: Static spec, when the upstream type is ``static``.
        upstream_type: Name of the upstream type oneof that is set (``kube``, ``static``, ``aws``...).
        ssl_secret_ref: ``sslConfig.secretRef``; None when unset.
        ssl_config: ``sslConfig``, kept raw.
        use_http2: ``useHttp2``.
        status: The status as read from a live object, kept raw.
        options: The cluster-tuning fields (health checks, outlier detection, ...).
    """

    meta: ObjectMeta
    kube: KubeUpstreamSpec | None = None
    static: StaticUpstreamSpec | None = None
    upstream_type: str = ""
    ssl_secret_ref: ResourceRef | None = None
    ssl_config: Mapping[str, Any] | None = None
    use_http2: bool | None = None
    status: Mapping[str, Any] | None = None
    options: UpstreamOptions = field(default_factory=UpstreamOptions)

    kind = "Upstream"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)

    @property
    def subset_spec(self) -> SubsetSpec | None:
        """The subset spec of the upstream type that has one (only ``kube`` here)."""
        return self.kube.subset_spec if self.kube else None


@dataclass(frozen=True, slots=True)
class UpstreamGroup:
    """A ``gloo.solo.io/v1`` UpstreamGroup: weighted destinations that routes share by reference.

    Gloo (``projects/gloo/api/v1/proxy.proto`` UpstreamGroup) turns a route's ``upstreamGroup`` into
    the same weighted clusters as an inline ``multi`` (``translator/route_config.go:setRouteAction``).

    Attributes:
        meta: Object metadata.
        destinations: ``destinations``, as a ``multi`` route action's.
        nil_destinations: Indexes of entries without a ``destination`` (Gloo reports them as
            ``destination # N: destination is nil``); they stand in ``destinations`` as an empty Destination.
        status: The status as read from a live object, kept raw.
    """

    meta: ObjectMeta
    destinations: tuple[WeightedDestination, ...] = ()
    nil_destinations: tuple[int, ...] = ()
    status: Mapping[str, Any] | None = None

    kind = "UpstreamGroup"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class VirtualHostOption:
    """A ``gateway.solo.io/v1`` VirtualHostOption: VirtualHostOptions that VirtualServices share by reference.

    Gloo >= 1.8 (``projects/gateway/api/v1/external_options.proto`` VirtualHostOption; absent at v1.3.20).
    A VirtualService's ``virtualHost.optionsConfigRefs.delegateOptions`` names them; their ``options`` fill
    the fields the VirtualService leaves unset (``virtual_service_translator.go:mergeDelegatedVirtualHostOptions``).

    Attributes:
        meta: Object metadata.
        options: ``options`` (VirtualHostOptions), kept raw like a virtual host's inline options.
        target_refs: ``targetRefs`` (PolicyTargetReferenceWithSectionName), kept raw.
        status: The status as read from a live object, kept raw.
    """

    meta: ObjectMeta
    options: Mapping[str, Any] = field(default_factory=dict)
    target_refs: tuple[Mapping[str, Any], ...] = ()
    status: Mapping[str, Any] | None = None

    kind = "VirtualHostOption"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class RouteOption:
    """A ``gateway.solo.io/v1`` RouteOption: RouteOptions that routes share by reference.

    Gloo >= 1.8 (``projects/gateway/api/v1/external_options.proto`` RouteOption; absent at v1.3.20).
    A route's ``optionsConfigRefs.delegateOptions`` names them; their ``options`` fill the fields the route
    leaves unset (``converter.go:routeVisitor.visit``).

    Attributes:
        meta: Object metadata.
        options: ``options`` (RouteOptions), kept raw like a route's inline options.
        target_refs: ``targetRefs`` (PolicyTargetReference), kept raw.
        status: The status as read from a live object, kept raw.
    """

    meta: ObjectMeta
    options: Mapping[str, Any] = field(default_factory=dict)
    target_refs: tuple[Mapping[str, Any], ...] = ()
    status: Mapping[str, Any] | None = None

    kind = "RouteOption"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


HELM_INVALID_ROUTE_BODY = (
    "Gloo Gateway has invalid configuration. Administrators should run `glooctl check` to find and fix "
    "config errors."
)
"""Helm's default ``invalidRouteResponseBody`` (``install/helm/gloo/values-template.yaml``)."""


@dataclass(frozen=True, slots=True)
class InvalidConfigPolicy:
    """``spec.gloo.invalidConfigPolicy`` of Settings.

    Defaults are the proto's (false, 0, ""), not Helm's: Gloo applies the raw field values.

    Attributes:
        replace_invalid_routes: Replace invalid routes with the fallback response.
        invalid_route_response_code: Status of the fallback response.
        invalid_route_response_body: Body of the fallback response.
    """

    replace_invalid_routes: bool = False
    invalid_route_response_code: int = 0
    invalid_route_response_body: str = ""


@dataclass(frozen=True, slots=True)
class ValidationSettings:
    """``spec.gateway.validation`` of Settings.

    Attributes:
        always_accept: ``alwaysAccept``; None when unset (code default true).
        allow_warnings: ``allowWarnings``; None when unset (code default true).
        warn_route_short_circuiting: ``warnRouteShortCircuiting``.
        proxy_validation_server_addr: ``proxyValidationServerAddr``.
        full_envoy_validation: ``fullEnvoyValidation``.
        warn_missing_tls_secret: ``warnMissingTlsSecret`` (current Gloo: a missing TLS secret is a warning).
    """

    always_accept: bool | None = None
    allow_warnings: bool | None = None
    warn_route_short_circuiting: bool | None = None
    proxy_validation_server_addr: str = ""
    full_envoy_validation: bool | None = None
    warn_missing_tls_secret: bool | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """A ``gloo.solo.io/v1`` Settings.

    Attributes:
        meta: Object metadata.
        discovery_namespace: ``discoveryNamespace`` (where Proxies are written).
        invalid_config_policy: ``gloo.invalidConfigPolicy``.
        xds_bind_addr: ``gloo.xdsBindAddr``.
        regex_max_program_size: ``gloo.regexMaxProgramSize``; None when unset.
        disable_proxy_garbage_collection: ``gloo.disableProxyGarbageCollection``.
        validation: ``gateway.validation``; None when the block is absent.
        read_gateways_from_all_namespaces: ``gateway.readGatewaysFromAllNamespaces``.
        isolate_virtual_hosts_by_ssl_config: ``gateway.isolateVirtualHostsBySslConfig``.
        translate_empty_gateways: ``gateway.translateEmptyGateways``.
        virtual_service_one_way_tls: ``gateway.virtualServiceOptions.oneWayTls``: the ``oneWayTls`` of every
            VirtualService sslConfig that sets none (current Gloo).
        watch_namespaces: ``watchNamespaces``; empty means all.
        watch_namespace_selectors: ``watchNamespaceSelectors`` (current Gloo; ignored when ``watchNamespaces``
            is set): the namespaces whose labels one of them selects are watched.
        status: The status as read from a live object, kept raw.
        circuit_breakers: ``gloo.circuitBreakers``, the default for Upstreams without their own.
        upstream_global_annotations: ``upstreamOptions.globalAnnotations`` (current), applied to
            Services that lack the annotation (``gloo.solo.io/h2_service``).
        remove_unused_filters: ``gloo.removeUnusedFilters`` (current): default HTTP filters only where used.
        disable_grpc_web: ``gloo.disableGrpcWeb``; None when unset.
        log_transformation_request_response_info: ``gloo.logTransformationRequestResponseInfo`` (current).
        enable_auto_websocket_transformation_passthrough: ``gloo.enableAutoWebsocketTransformationPassthrough``
            (current).
        extauth: ``extauth`` (the default external auth server of every HTTP listener), kept raw.
        ratelimit_server: ``ratelimitServer`` (the default rate-limit server of every HTTP listener), kept raw.
    """

    meta: ObjectMeta
    discovery_namespace: str = ""
    invalid_config_policy: InvalidConfigPolicy = field(default_factory=InvalidConfigPolicy)
    xds_bind_addr: str = ""
    regex_max_program_size: int | None = None
    disable_proxy_garbage_collection: bool | None = None
    validation: ValidationSettings | None = None
    read_gateways_from_all_namespaces: bool = False
    isolate_virtual_hosts_by_ssl_config: bool | None = None
    translate_empty_gateways: bool | None = None
    virtual_service_one_way_tls: bool | None = None
    watch_namespaces: tuple[str, ...] = ()
    status: Mapping[str, Any] | None = None
    circuit_breakers: Mapping[str, Any] | None = None
    upstream_global_annotations: Mapping[str, str] = field(default_factory=dict)
    remove_unused_filters: bool = False
    disable_grpc_web: bool | None = None
    log_transformation_request_response_info: bool = False
    enable_auto_websocket_transformation_passthrough: bool = False
    extauth: Mapping[str, Any] | None = None
    ratelimit_server: Mapping[str, Any] | None = None
    watch_namespace_selectors: tuple[LabelSelector, ...] = ()

    kind = "Settings"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


# --- v1 -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServicePort:
    """One ``spec.ports`` entry of a v1 Service.

    Attributes:
        port: Service port.
        target_port: Target port (number or named port); None when unset (= port).
        name: Port name.
        protocol: Protocol.
        app_protocol: ``appProtocol``; None when unset.
    """

    port: int
    target_port: int | str | None = None
    name: str = ""
    protocol: str = "TCP"
    app_protocol: str | None = None


@dataclass(frozen=True, slots=True)
class Service:
    """A v1 Service (ports and selector, which kube Upstreams need).

    Attributes:
        meta: Object metadata.
        ports: Ports.
        selector: Pod selector.
        cluster_ip: ``clusterIP``.
        type: ``type``.
    """

    meta: ObjectMeta
    ports: tuple[ServicePort, ...] = ()
    selector: Mapping[str, str] = field(default_factory=dict)
    cluster_ip: str = ""
    type: str = "ClusterIP"

    kind = "Service"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class EndpointAddress:
    """One ``subsets[].addresses`` entry of a v1 Endpoints object.

    Attributes:
        ip: ``ip``.
        target_name: ``targetRef.name`` when the target is a Pod (``""`` otherwise).
        target_namespace: ``targetRef.namespace`` when the target is a Pod (``""`` otherwise).
    """

    ip: str = ""
    target_name: str = ""
    target_namespace: str = ""


@dataclass(frozen=True, slots=True)
class EndpointPort:
    """One ``subsets[].ports`` entry of a v1 Endpoints object.

    Attributes:
        port: The port number.
        name: The port name (``""`` when unnamed, as for a single-port Service).
        protocol: The protocol.
    """

    port: int = 0
    name: str = ""
    protocol: str = "TCP"


@dataclass(frozen=True, slots=True)
class EndpointSubset:
    """One ``subsets`` entry of a v1 Endpoints object.

    Attributes:
        addresses: Ready addresses (``addresses``).
        not_ready_addresses: ``notReadyAddresses``; Gloo's EDS ignores them.
        ports: Ports.
    """

    addresses: tuple[EndpointAddress, ...] = ()
    not_ready_addresses: tuple[EndpointAddress, ...] = ()
    ports: tuple[EndpointPort, ...] = ()


@dataclass(frozen=True, slots=True)
class KubeEndpoints:
    """A v1 Endpoints object (the addresses behind a Service), as Gloo's kube EDS reads it.

    Attributes:
        meta: Object metadata (the Service's name and namespace).
        subsets: Subsets.
    """

    meta: ObjectMeta
    subsets: tuple[EndpointSubset, ...] = ()

    kind = "Endpoints"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class Pod:
    """A v1 Pod, only what Gloo's kube EDS reads (labels, IP, phase, readiness).

    Attributes:
        meta: Object metadata; ``meta.labels`` become the endpoint's subset metadata.
        pod_ip: ``status.podIP``.
        phase: ``status.phase`` (``Pending``, ``Running``...).
        ready: Whether ``status.conditions`` holds ``Ready`` with status ``True``.
        host_network: ``spec.hostNetwork``.
    """

    meta: ObjectMeta
    pod_ip: str = ""
    phase: str = ""
    ready: bool = False
    host_network: bool = False

    kind = "Pod"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class TlsSecret:
    """Gloo's ``TlsSecret`` (``projects/gloo/api/v1/secret.proto``), as its kube secret converters fill it.

    Key material: never shown (``repr`` leaves every field out) and never serialised by gloo_nb; only the
    translator reads it, to inline it into Envoy's TLS contexts as Gloo does.

    Attributes:
        cert_chain: PEM certificate chain (``tls.crt`` / ``certChain``).
        private_key: PEM private key (``tls.key`` / ``privateKey``).
        root_ca: PEM CA (``ca.crt`` / ``rootCa``).
        ocsp_staple: DER OCSP response (``tls.ocsp-staple`` / ``ocspStaple``).
    """

    cert_chain: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)
    root_ca: str = field(default="", repr=False)
    ocsp_staple: bytes = field(default=b"", repr=False)

    def __repr__(self) -> str:
        return "TlsSecret(<redacted>)"

    def facts(self) -> TlsFacts:
        """What Gloo's TLS checks need to know of this payload, without the key material.

        Computed where the key material is at hand (a live read, the recorder, ``snapshot save``) so that a
        bundle or a journal, which never hold keys, still translate as Gloo would.

        Returns:
            Which parts are set and Go's key-pair verdict on them.
        """
        # projects/gloo/pkg/utils/ssl.go:cleanedSslKeyPair (CUR) skips the pair check when only a root CA is set.
        only_ca = not self.cert_chain and not self.private_key and bool(self.root_ca)
        return TlsFacts(cert_chain=bool(self.cert_chain), private_key=bool(self.private_key),
                        root_ca=bool(self.root_ca), ocsp_staple=bool(self.ocsp_staple),
                        key_pair_problem=None if only_ca else key_pair_problem(self.cert_chain, self.private_key))


@dataclass(frozen=True, slots=True)
class TlsFacts:
    """A TLS secret's payload as Gloo's checks see it, without key material (:meth:`TlsSecret.facts`).

    Attributes:
        cert_chain: Whether ``certChain`` (``tls.crt``) is set.
        private_key: Whether ``privateKey`` (``tls.key``) is set.
        root_ca: Whether ``rootCa`` (``ca.crt``) is set.
        ocsp_staple: Whether ``ocspStaple`` (``tls.ocsp-staple``) is set.
        key_pair_problem: Go's ``tls.X509KeyPair`` error text for the chain and key (current Gloo's check), None
            when the pair is valid or only a root CA is set.
    """

    cert_chain: bool = False
    private_key: bool = False
    root_ca: bool = False
    ocsp_staple: bool = False
    key_pair_problem: str | None = None


@dataclass(frozen=True, slots=True)
class Secret:
    """A v1 Secret, as Gloo's secret converters read it (only TLS secrets carry anything).

    Two shapes hold a TLS secret (``projects/gloo/pkg/api/converters/kube/secretconverter.go``):
    ``type: kubernetes.io/tls`` (``tls.crt``, ``tls.key``, and in current Gloo ``ca.crt`` and
    ``tls.ocsp-staple``), and Gloo's own shape, an ``Opaque`` secret annotated
    ``resource_kind: '*v1.Secret'`` whose ``tls`` key holds the ``TlsSecret`` as YAML (what glooctl
    wrote before the TLS converter existed; ``opaque_secret.go``). Other secrets are kept by name only.

    Attributes:
        meta: Object metadata (kubectl's last-applied annotation, which copies the data, is dropped).
        type: ``type`` (``Opaque`` when unset).
        shape: ``kubernetes.io/tls``, ``gloo`` (Gloo's own TLS shape), or ``""`` (not a TLS secret).
        tls: The TLS payload; None for other secrets.
        certificate: Facts about ``tls.cert_chain``'s leaf certificate (None when it has none).
        ca_certificate: Facts about ``tls.root_ca`` (None when it has none).
        data_keys: The names of the data keys (names are not secret).
        redacted: Known by its facts only (a snapshot bundle's ``secrets.json``, a journal's recorded facts):
            ``tls`` is None and ``facts`` says what Gloo's checks found when the data was at hand.
        facts: For a redacted TLS secret, what its payload held (None: not a TLS secret, or, with
            ``redacted`` and a TLS ``shape``, unknown: the translator then assumes Gloo accepts it and says so).
    """

    meta: ObjectMeta
    type: str = "Opaque"
    shape: str = ""
    tls: TlsSecret | None = field(default=None, repr=False)
    certificate: CertificateInfo | None = None
    ca_certificate: CertificateInfo | None = None
    data_keys: tuple[str, ...] = ()
    redacted: bool = False
    facts: TlsFacts | None = None

    kind = "Secret"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


@dataclass(frozen=True, slots=True)
class Namespace:
    """A v1 Namespace: only its labels matter to Gloo (``watchNamespaceSelectors`` select on them).

    Attributes:
        meta: Object metadata (cluster-scoped: ``meta.namespace`` is empty; ``meta.labels`` are what selectors see).
    """

    meta: ObjectMeta

    kind = "Namespace"

    @property
    def key(self) -> ResourceKey:
        """The resource's identity."""
        return ResourceKey(self.kind, self.meta.namespace, self.meta.name)


Resource = (VirtualService | RouteTable | Gateway | Upstream | Settings | Service | KubeEndpoints | Pod | Secret
            | MatchableHttpGateway | MatchableTcpGateway | UpstreamGroup | VirtualHostOption | RouteOption
            | Namespace)
"""Any resource gloo_nb models."""

KIND_TYPES: dict[str, type[Resource]] = {
    "VirtualService": VirtualService,
    "RouteTable": RouteTable,
    "Gateway": Gateway,
    "Upstream": Upstream,
    "Settings": Settings,
    "Service": Service,
    "Endpoints": KubeEndpoints,
    "Pod": Pod,
    "MatchableHttpGateway": MatchableHttpGateway,
    "MatchableTcpGateway": MatchableTcpGateway,
    "Secret": Secret,
    "UpstreamGroup": UpstreamGroup,
    "VirtualHostOption": VirtualHostOption,
    "RouteOption": RouteOption,
    "Namespace": Namespace,
}
"""Modelled kinds by name."""

API_GROUPS: dict[str, str] = {
    "VirtualService": "gateway.solo.io",
    "RouteTable": "gateway.solo.io",
    "Gateway": "gateway.solo.io",
    "Upstream": "gloo.solo.io",
    "Settings": "gloo.solo.io",
    "Service": "",
    "Endpoints": "",
    "Pod": "",
    "MatchableHttpGateway": "gateway.solo.io",
    "MatchableTcpGateway": "gateway.solo.io",
    "Secret": "",
    "UpstreamGroup": "gloo.solo.io",
    "VirtualHostOption": "gateway.solo.io",
    "RouteOption": "gateway.solo.io",
    "Namespace": "",
}
"""The API group each modelled kind belongs to (``""`` = core v1)."""
