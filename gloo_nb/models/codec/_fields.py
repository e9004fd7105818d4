"""The field catalogue: which fields each Gloo and Kubernetes message has, and the ranges of proto integers.

Data only, read by :mod:`._reader` (unknown-field findings, "did you mean") and by the per-kind
builders in :mod:`._builders`. Kept apart so that adding a field Gloo grew is a one-line change that
touches no parsing code.
"""

from __future__ import annotations


class OneOf:
    """The members of a protobuf oneof, in declaration order."""

    __slots__ = ("members", "names")

    def __init__(self, *names: str) -> None:
        self.names = names
        self.members = frozenset(names)


# Field names are the union over Gloo v1.3.20 ... v1.22 (main at 8d57572e), read from
# projects/gateway/api/v1/*.proto and projects/gloo/api/v1/**/*.proto, so that a manifest
# written for either profile draws no unknown-field finding.

TOP = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
META = frozenset({
    "name", "namespace", "labels", "annotations", "resourceVersion", "generation", "uid",
    "creationTimestamp", "managedFields", "ownerReferences", "finalizers", "generateName",
    "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
})
REF = frozenset({"name", "namespace"})
VALUE = frozenset({"value"})
NOTHING = frozenset[str]()

VS_SPEC = frozenset({"virtualHost", "sslConfig", "displayName"})
VIRTUAL_HOST = frozenset({"domains", "routes", "options", "optionsConfigRefs"})
ROUTE_ACTIONS = OneOf("routeAction", "redirectAction", "directResponseAction", "delegateAction",
                  "graphqlApiRef", "graphqlSchemaRef")
ROUTE = frozenset({"matchers", "inheritableMatchers", "inheritablePathMatchers", "options", "name",
                    "optionsConfigRefs", *ROUTE_ACTIONS.names})
OPTIONS_REFS = frozenset({"delegateOptions"})
PATH_SPECIFIERS = OneOf("prefix", "exact", "regex", "connectMatcher")
MATCHER = frozenset({*PATH_SPECIFIERS.names, "caseSensitive", "headers", "queryParameters", "methods"})
HEADER = frozenset({"name", "value", "regex", "invertMatch"})
QUERY = frozenset({"name", "value", "regex"})
DESTINATIONS = OneOf("single", "multi", "upstreamGroup", "clusterHeader", "dynamicForwardProxy")
ROUTE_ACTION = DESTINATIONS.members
DESTINATION_TYPES = OneOf("upstream", "kube", "consul")
DESTINATION = frozenset({*DESTINATION_TYPES.names, "destinationSpec", "subset"})
KUBE_DESTINATION = frozenset({"ref", "port"})
SUBSET = frozenset({"values"})
MULTI = frozenset({"destinations"})
WEIGHTED = frozenset({"destination", "weight", "options"})
UPSTREAM_GROUP_SPEC = frozenset({"destinations"})  # projects/gloo/api/v1/proxy.proto UpstreamGroup
# projects/gateway/api/v1/external_options.proto VirtualHostOption / RouteOption (not in v1.3.20).
OPTION_RESOURCE_SPEC = frozenset({"options", "targetRefs"})
PATH_REWRITES = OneOf("pathRedirect", "prefixRewrite", "regexRewrite")
REDIRECT = frozenset({*PATH_REWRITES.names, "hostRedirect", "responseCode", "httpsRedirect", "stripQuery",
                       "portRedirect"})
REDIRECT_CODES = ("MOVED_PERMANENTLY", "FOUND", "SEE_OTHER", "TEMPORARY_REDIRECT", "PERMANENT_REDIRECT")
DIRECT_RESPONSE = frozenset({"status", "body"})
DELEGATION_TYPES = OneOf("ref", "selector")
DELEGATE = frozenset({"name", "namespace", *DELEGATION_TYPES.names})
SELECTOR = frozenset({"namespaces", "labels", "expressions"})
EXPRESSION = frozenset({"key", "operator", "values"})
# settings.proto (current) LabelSelector and LabelSelectorRequirement: watchNamespaceSelectors entries.
LABEL_SELECTOR = frozenset({"matchLabels", "matchExpressions"})
OPERATORS = ("Equals", "DoubleEquals", "NotEquals", "In", "NotIn", "Exists", "DoesNotExist",
              "GreaterThan", "LessThan")

RT_SPEC = frozenset({"routes", "weight"})

GATEWAY_TYPES = OneOf("httpGateway", "tcpGateway", "hybridGateway")
GATEWAY_SPEC = frozenset({"ssl", "bindAddress", "bindPort", "options", "useProxyProto", "proxyNames",
                           "routeOptions", *GATEWAY_TYPES.names})
HTTP_GATEWAY = frozenset({"virtualServices", "virtualServiceSelector", "virtualServiceExpressions",
                           "virtualServiceNamespaces", "options"})
VS_EXPRESSIONS = frozenset({"expressions"})
# TcpGateway / TcpHost (projects/gateway/api/v1/gateway.proto, projects/gloo/api/v1/proxy.proto; at v1.3.20 a
# TcpHost's destination was a RouteAction with single/multi/upstreamGroup), HybridGateway (current only).
TCP_GATEWAY = frozenset({"tcpHosts", "options"})
TCP_HOST = frozenset({"name", "sslConfig", "destination"})
TCP_ACTIONS = OneOf("single", "multi", "upstreamGroup", "forwardSniClusterName")
TCP_LISTENER_OPTIONS = frozenset({"tcpProxySettings", "localRatelimit", "connectionLimit"})
HYBRID_GATEWAY = frozenset({"matchedGateways", "delegatedHttpGateways", "delegatedTcpGateways"})
MATCHED_GATEWAY_TYPES = OneOf("httpGateway", "tcpGateway")
MATCHED_GATEWAY = frozenset({"matcher", *MATCHED_GATEWAY_TYPES.names})
GATEWAY_MATCHER = frozenset({"sslConfig", "sourcePrefixRanges", "passthroughCipherSuites"})
CIDR_RANGE = frozenset({"addressPrefix", "prefixLen"})
DELEGATED_SELECTION = OneOf("ref", "selector")
DELEGATED_HTTP_GATEWAY = frozenset({*DELEGATED_SELECTION.names, "preventChildOverrides",
                                     "httpConnectionManagerSettings", "sslConfig"})
DELEGATED_TCP_GATEWAY = DELEGATED_SELECTION.members
# projects/gateway/api/v1/matchable_{http,tcp}_gateway.proto (current Gloo only).
MATCHABLE_HTTP_GATEWAY_SPEC = frozenset({"matcher", "httpGateway"})
MATCHABLE_TCP_GATEWAY_SPEC = frozenset({"matcher", "tcpGateway"})

UPSTREAM_TYPES = OneOf("kube", "static", "pipe", "aws", "azure", "consul", "awsEc2", "gcp", "ai")
UPSTREAM_SPEC = frozenset({
    *UPSTREAM_TYPES.names, "discoveryMetadata", "sslConfig", "circuitBreakers", "loadBalancerConfig",
    "connectionConfig", "healthChecks", "outlierDetection", "useHttp2", "failover",
    "initialStreamWindowSize", "initialConnectionWindowSize", "maxConcurrentStreams",
    "overrideStreamErrorOnInvalidHttpMessage", "httpProxyHostname", "httpConnectSslConfig",
    "httpConnectHeaders", "ignoreHealthOnHostRemoval", "respectDnsTtl", "dnsRefreshRate",
    "proxyProtocolVersion", "preconnectPolicy", "protocolSelection", "disableIstioAutoMtls",
})
KUBE_UPSTREAM = frozenset({"serviceName", "serviceNamespace", "servicePort", "selector", "serviceSpec",
                            "subsetSpec"})
SUBSET_SPEC = frozenset({"selectors", "fallbackPolicy", "defaultSubset"})
SUBSET_SELECTOR = frozenset({"keys", "singleHostPerSubset"})
FALLBACK_POLICIES = ("ANY_ENDPOINT", "DEFAULT_SUBSET", "NO_FALLBACK")
STATIC_UPSTREAM = frozenset({"hosts", "useTls", "serviceSpec", "autoSniRewrite"})
STATIC_HOST = frozenset({"addr", "port", "sniAddr", "loadBalancingWeight", "healthCheckConfig",
                          "metadata"})

# Upstream option blocks (projects/gloo/api/v1/{circuit_breaker/circuit_breaker,connection,load_balancer,
# options/protocol/protocol}.proto and api/external/envoy/api/v2/{core/health_check,
# cluster/outlier_detection}.proto, Gloo's copies of Envoy v2 messages), union of v1.3.20 and main.
PROTOCOL_SELECTIONS = ("USE_CONFIGURED_PROTOCOL", "USE_DOWNSTREAM_PROTOCOL")
CIRCUIT_BREAKERS = frozenset({"maxConnections", "maxPendingRequests", "maxRequests", "maxRetries",
                              "trackRemaining"})
CONNECTION_CONFIG = frozenset({"maxRequestsPerConnection", "connectTimeout", "tcpKeepalive",
                               "perConnectionBufferLimitBytes", "commonHttpProtocolOptions",
                               "http1ProtocolOptions"})
TCP_KEEPALIVE = frozenset({"keepaliveProbes", "keepaliveTime", "keepaliveInterval"})
COMMON_HTTP_PROTOCOL_OPTIONS = frozenset({"idleTimeout", "maxHeadersCount", "maxStreamDuration",
                                          "headersWithUnderscoresAction"})
HTTP1_PROTOCOL_OPTIONS = frozenset({"enableTrailers", "properCaseHeaderKeyFormat",
                                    "preserveCaseHeaderKeyFormat", "overrideStreamErrorOnInvalidHttpMessage"})
LB_TYPES = OneOf("roundRobin", "leastRequest", "random", "ringHash", "maglev")
LOAD_BALANCER_CONFIG = frozenset({"healthyPanicThreshold", "updateMergeWindow", *LB_TYPES.names,
                                  "localityWeightedLbConfig", "useHostnameForHashing",
                                  "closeConnectionsOnHostSetChange"})
HEALTH_CHECKERS = OneOf("httpHealthCheck", "tcpHealthCheck", "grpcHealthCheck", "customHealthCheck")
HEALTH_CHECK = frozenset({"timeout", "interval", "initialJitter", "intervalJitter", "intervalJitterPercent",
                          "unhealthyThreshold", "healthyThreshold", "reuseConnection", *HEALTH_CHECKERS.names,
                          "noTrafficInterval", "unhealthyInterval", "unhealthyEdgeInterval", "healthyEdgeInterval",
                          "eventLogPath", "alwaysLogHealthCheckFailures"})
HTTP_HEALTH_CHECK = frozenset({"host", "path", "serviceName", "requestHeadersToAdd", "requestHeadersToRemove",
                               "useHttp2", "expectedStatuses", "responseAssertions", "method"})
TCP_HEALTH_CHECK = frozenset({"send", "receive"})
GRPC_HEALTH_CHECK = frozenset({"serviceName", "authority"})
CUSTOM_HEALTH_CHECK = frozenset({"name", "config", "typedConfig"})
# Gloo's copy of Envoy's v2 OutlierDetection (api/external/envoy/api/v2/cluster/outlier_detection.proto).
OUTLIER_DETECTION = frozenset({
    "consecutive5xx", "interval", "baseEjectionTime", "maxEjectionPercent", "enforcingConsecutive5xx",
    "enforcingSuccessRate", "successRateMinimumHosts", "successRateRequestVolume", "successRateStdevFactor",
    "consecutiveGatewayFailure", "enforcingConsecutiveGatewayFailure", "splitExternalLocalOriginErrors",
    "consecutiveLocalOriginFailure", "enforcingConsecutiveLocalOriginFailure", "enforcingLocalOriginSuccessRate",
})
PRECONNECT_POLICY = frozenset({"perUpstreamPreconnectRatio", "predictivePreconnectRatio"})
# Upstream fields whose Envoy effect gloo_nb does not reproduce: the upstream proxy protocol
# transport socket, the tunneling plugin's generated clusters and listeners, Istio auto-mTLS.
UNMODELLED_UPSTREAM_FIELDS = ("proxyProtocolVersion", "httpProxyHostname", "httpConnectSslConfig",
                              "httpConnectHeaders", "disableIstioAutoMtls")

SETTINGS_SPEC = frozenset({
    "discoveryNamespace", "watchNamespaces", "kubernetesConfigSource", "directoryConfigSource",
    "consulKvSource", "kubernetesSecretSource", "vaultSecretSource", "directorySecretSource",
    "secretOptions", "kubernetesArtifactSource", "directoryArtifactSource", "consulKvArtifactSource",
    "refreshRate", "devMode", "linkerd", "knative", "discovery", "gloo", "gateway", "consul",
    "consulDiscovery", "kubernetes", "extensions", "ratelimit", "ratelimitServer", "rbac", "extauth",
    "namedExtauth", "cachingServer", "observabilityOptions", "upstreamOptions", "consoleOptions",
    "graphqlOptions", "extProcEarly", "extProc", "extProcLate", "watchNamespaceSelectors", "ipV4Only",
})
GLOO_OPTIONS = frozenset({
    "xdsBindAddr", "validationBindAddr", "circuitBreakers", "endpointsWarmingTimeout", "awsOptions",
    "invalidConfigPolicy", "disableKubernetesDestinations", "disableGrpcWeb",
    "disableProxyGarbageCollection", "regexMaxProgramSize", "restXdsBindAddr", "enableRestEds",
    "failoverUpstreamDnsPollingInterval", "removeUnusedFilters", "proxyDebugBindAddr",
    "logTransformationRequestResponseInfo", "transformationEscapeCharacters", "istioOptions",
    "enableAutoWebsocketTransformationPassthrough",
})
UPSTREAM_OPTIONS = frozenset({"sslParameters", "globalAnnotations"})
INVALID_CONFIG_POLICY = frozenset({"replaceInvalidRoutes", "invalidRouteResponseCode",
                                    "invalidRouteResponseBody"})
GATEWAY_OPTIONS = frozenset({
    "validationServerAddr", "validation", "readGatewaysFromAllNamespaces", "alwaysSortRouteTableRoutes",
    "compressedProxySpec", "virtualServiceOptions", "persistProxySpec", "enableGatewayController",
    "isolateVirtualHostsBySslConfig", "translateEmptyGateways",
})
VS_OPTIONS = frozenset({"oneWayTls"})  # settings.proto GatewayOptions.VirtualServiceOptions
VALIDATION = frozenset({
    "proxyValidationServerAddr", "validationWebhookTlsCert", "validationWebhookTlsKey",
    "ignoreGlooValidationFailure", "alwaysAccept", "allowWarnings", "warnRouteShortCircuiting",
    "disableTransformationValidation", "validationServerGrpcMaxSize", "validationServerGrpcMaxSizeBytes",
    "serverEnabled", "warnMissingTlsSecret", "fullEnvoyValidation",
})

# k8s.io/api/core/v1 ServiceSpec and ServicePort.
SERVICE_SPEC = frozenset({
    "ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity",
    "loadBalancerIP", "loadBalancerSourceRanges", "externalName", "externalTrafficPolicy",
    "healthCheckNodePort", "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies",
    "ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy",
    "trafficDistribution", "topologyKeys", "ipFamily",
})
SERVICE_PORT = frozenset({"name", "protocol", "appProtocol", "port", "targetPort", "nodePort"})

# k8s.io/api/core/v1 Endpoints: the object has `subsets` where other kinds have `spec`.
ENDPOINTS_TOP = frozenset({"apiVersion", "kind", "metadata", "subsets"})
ENDPOINT_SUBSET = frozenset({"addresses", "notReadyAddresses", "ports"})
ENDPOINT_ADDRESS = frozenset({"ip", "hostname", "nodeName", "targetRef"})
ENDPOINT_PORT = frozenset({"name", "port", "protocol", "appProtocol"})
# k8s.io/api/core/v1 Secret: the payload sits at the top level.
SECRET_TOP = frozenset({"apiVersion", "kind", "metadata", "type", "data", "stringData", "immutable"})
OBJECT_REFERENCE = frozenset({"kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"})

MAX_NOTES = 100  # parse findings listed per object; a generated document may hold millions
UINT32_MAX = 2**32 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
