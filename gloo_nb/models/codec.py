"""THE parser: Kubernetes manifests (YAML, JSON or live objects) -> typed Gloo resources.

Pure: it parses the text, bytes and mappings handed to it and never touches a file or the
network (:mod:`gloo_nb.app.manifests` reads files). Every source (files, stdin, the cluster,
recorded journals) goes through the same functions, so that a field means the same everywhere.

Rules (``design/architecture.md``, ``gloo-nb translate``; ``spec/gloo-semantics.md`` section 1):

* Field names are the protobuf JSON (lowerCamel) names of the Gloo protos. Like every protobuf
  JSON parser (jsonpb, which solo-kit uses), the original proto names (``case_sensitive``) are
  accepted as well; v1 Services and ``metadata`` are plain Kubernetes JSON and take only their
  own names.
* ``null`` means "not set", as in protobuf JSON.
* A document that cannot be read (bad YAML or JSON, a wrong type for a known field, several
  members of one oneof, no kind, no ``metadata.name``) raises :class:`~gloo_nb.errors.ParseError`
  naming the file, the document index and the field path.
* Unknown fields in a known kind are warning findings (layer ``parse``); reading goes on. Option
  blocks (``options``, ``sslConfig``, ``destinationSpec``...) are kept raw and not checked.
* Kinds gloo_nb does not translate are returned as :class:`~gloo_nb.models.findings.Skipped`.
  v1 ``Endpoints`` and ``Pod`` are read (only what Gloo's kube EDS uses: addresses, ports, pod
  labels, IP, phase and readiness; a Pod's other spec and status fields are not checked).
* ``metadata.namespace`` absent is kept as ``""``: kubectl would apply the object to its current
  namespace (usually ``default``), and only the caller knows which one that is.
* YAML timestamps are kept as the strings written, as Kubernetes (which reads YAML as JSON) does.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from sys import intern
from typing import Any, NoReturn

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode

from gloo_nb._gc import gc_paused
from gloo_nb.errors import ParseError
from gloo_nb.models.findings import Finding, Skipped
from gloo_nb.models.resources import (
    API_GROUPS,
    KIND_TYPES,
    DelegateAction,
    Destination,
    DirectResponseAction,
    EndpointAddress,
    EndpointPort,
    EndpointSubset,
    Gateway,
    HeaderMatcher,
    HttpGateway,
    InvalidConfigPolicy,
    KubeEndpoints,
    KubeServiceDestination,
    KubeUpstreamSpec,
    Location,
    Matcher,
    ObjectMeta,
    Pod,
    QueryParameterMatcher,
    RedirectAction,
    Resource,
    ResourceKey,
    ResourceRef,
    Route,
    RouteAction,
    RouteTable,
    RouteTableSelector,
    SelectorExpression,
    Service,
    ServicePort,
    Settings,
    StaticHost,
    StaticUpstreamSpec,
    SubsetSelector,
    SubsetSpec,
    Upstream,
    ValidationSettings,
    VirtualHost,
    VirtualService,
    WeightedDestination,
)

__all__ = [
    "MAX_YAML_DEPTH",
    "ParseResult",
    "ParsedObject",
    "load_document",
    "load_documents",
    "merge_patch",
    "parse_object",
    "parse_objects",
    "parse_stream",
    "unreadable_finding",
]

MAX_YAML_DEPTH = 512
"""Deepest YAML nesting read (and deepest JSON nesting :func:`load_document` accepts). libyaml's
composer recurses in C and crashes the interpreter on deep input, so gloo_nb builds documents from
the parser's events itself, with this bound."""

# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedObject:
    """What one Kubernetes object became.

    Exactly one of ``resource`` and ``skipped`` is set.

    Attributes:
        resource: The typed resource, for a kind gloo_nb translates.
        findings: Parse findings (unknown fields, a missing apiVersion), all warnings.
        skipped: Why the object was not used, for any other kind.
    """

    resource: Resource | None
    findings: tuple[Finding, ...] = ()
    skipped: Skipped | None = None


@dataclass(slots=True)
class ParseResult:
    """Everything read from one or more streams, in reading order.

    Attributes:
        resources: Typed resources.
        findings: Parse findings.
        skipped: Documents that were read but are not used.
    """

    resources: list[Resource] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def add(self, parsed: ParsedObject) -> None:
        """Append one parsed object.

        Args:
            parsed: The object to append.
        """
        if parsed.resource is not None:
            self.resources.append(parsed.resource)
        self.findings.extend(parsed.findings)
        if parsed.skipped is not None:
            self.skipped.append(parsed.skipped)

    def extend(self, other: ParseResult) -> None:
        """Append everything from another result.

        Args:
            other: The result to append.
        """
        self.resources.extend(other.resources)
        self.findings.extend(other.findings)
        self.skipped.extend(other.skipped)


# --- field catalogue -----------------------------------------------------------------------


class _OneOf:
    """The members of a protobuf oneof, in declaration order."""

    __slots__ = ("members", "names")

    def __init__(self, *names: str) -> None:
        self.names = names
        self.members = frozenset(names)


# Field names are the union over Gloo v1.3.20 ... v1.22 (main at 8d57572e), read from
# projects/gateway/api/v1/*.proto and projects/gloo/api/v1/**/*.proto, so that a manifest
# written for either profile draws no unknown-field finding.

_TOP = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
_META = frozenset({
    "name", "namespace", "labels", "annotations", "resourceVersion", "generation", "uid",
    "creationTimestamp", "managedFields", "ownerReferences", "finalizers", "generateName",
    "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
})
_REF = frozenset({"name", "namespace"})
_VALUE = frozenset({"value"})
_NOTHING = frozenset[str]()

_VS_SPEC = frozenset({"virtualHost", "sslConfig", "displayName"})
_VIRTUAL_HOST = frozenset({"domains", "routes", "options", "optionsConfigRefs"})
_ROUTE_ACTIONS = _OneOf("routeAction", "redirectAction", "directResponseAction", "delegateAction",
                  "graphqlApiRef", "graphqlSchemaRef")
_ROUTE = frozenset({"matchers", "inheritableMatchers", "inheritablePathMatchers", "options", "name",
                    "optionsConfigRefs", *_ROUTE_ACTIONS.names})
_OPTIONS_REFS = frozenset({"delegateOptions"})
_PATH_SPECIFIERS = _OneOf("prefix", "exact", "regex", "connectMatcher")
_MATCHER = frozenset({*_PATH_SPECIFIERS.names, "caseSensitive", "headers", "queryParameters", "methods"})
_HEADER = frozenset({"name", "value", "regex", "invertMatch"})
_QUERY = frozenset({"name", "value", "regex"})
_DESTINATIONS = _OneOf("single", "multi", "upstreamGroup", "clusterHeader", "dynamicForwardProxy")
_ROUTE_ACTION = _DESTINATIONS.members
_DESTINATION_TYPES = _OneOf("upstream", "kube", "consul")
_DESTINATION = frozenset({*_DESTINATION_TYPES.names, "destinationSpec", "subset"})
_KUBE_DESTINATION = frozenset({"ref", "port"})
_SUBSET = frozenset({"values"})
_MULTI = frozenset({"destinations"})
_WEIGHTED = frozenset({"destination", "weight", "options"})
_PATH_REWRITES = _OneOf("pathRedirect", "prefixRewrite", "regexRewrite")
_REDIRECT = frozenset({*_PATH_REWRITES.names, "hostRedirect", "responseCode", "httpsRedirect", "stripQuery",
                       "portRedirect"})
_REDIRECT_CODES = ("MOVED_PERMANENTLY", "FOUND", "SEE_OTHER", "TEMPORARY_REDIRECT", "PERMANENT_REDIRECT")
_DIRECT_RESPONSE = frozenset({"status", "body"})
_DELEGATION_TYPES = _OneOf("ref", "selector")
_DELEGATE = frozenset({"name", "namespace", *_DELEGATION_TYPES.names})
_SELECTOR = frozenset({"namespaces", "labels", "expressions"})
_EXPRESSION = frozenset({"key", "operator", "values"})
_OPERATORS = ("Equals", "DoubleEquals", "NotEquals", "In", "NotIn", "Exists", "DoesNotExist",
              "GreaterThan", "LessThan")

_RT_SPEC = frozenset({"routes", "weight"})

_GATEWAY_TYPES = _OneOf("httpGateway", "tcpGateway", "hybridGateway")
_GATEWAY_SPEC = frozenset({"ssl", "bindAddress", "bindPort", "options", "useProxyProto", "proxyNames",
                           "routeOptions", *_GATEWAY_TYPES.names})
_HTTP_GATEWAY = frozenset({"virtualServices", "virtualServiceSelector", "virtualServiceExpressions",
                           "virtualServiceNamespaces", "options"})
_VS_EXPRESSIONS = frozenset({"expressions"})

_UPSTREAM_TYPES = _OneOf("kube", "static", "pipe", "aws", "azure", "consul", "awsEc2", "gcp", "ai")
_UPSTREAM_SPEC = frozenset({
    *_UPSTREAM_TYPES.names, "discoveryMetadata", "sslConfig", "circuitBreakers", "loadBalancerConfig",
    "connectionConfig", "healthChecks", "outlierDetection", "useHttp2", "failover",
    "initialStreamWindowSize", "initialConnectionWindowSize", "maxConcurrentStreams",
    "overrideStreamErrorOnInvalidHttpMessage", "httpProxyHostname", "httpConnectSslConfig",
    "httpConnectHeaders", "ignoreHealthOnHostRemoval", "respectDnsTtl", "dnsRefreshRate",
    "proxyProtocolVersion", "preconnectPolicy", "protocolSelection", "disableIstioAutoMtls",
})
_KUBE_UPSTREAM = frozenset({"serviceName", "serviceNamespace", "servicePort", "selector", "serviceSpec",
                            "subsetSpec"})
_SUBSET_SPEC = frozenset({"selectors", "fallbackPolicy", "defaultSubset"})
_SUBSET_SELECTOR = frozenset({"keys", "singleHostPerSubset"})
_FALLBACK_POLICIES = ("ANY_ENDPOINT", "DEFAULT_SUBSET", "NO_FALLBACK")
_STATIC_UPSTREAM = frozenset({"hosts", "useTls", "serviceSpec", "autoSniRewrite"})
_STATIC_HOST = frozenset({"addr", "port", "sniAddr", "loadBalancingWeight", "healthCheckConfig",
                          "metadata"})

_SETTINGS_SPEC = frozenset({
    "discoveryNamespace", "watchNamespaces", "kubernetesConfigSource", "directoryConfigSource",
    "consulKvSource", "kubernetesSecretSource", "vaultSecretSource", "directorySecretSource",
    "secretOptions", "kubernetesArtifactSource", "directoryArtifactSource", "consulKvArtifactSource",
    "refreshRate", "devMode", "linkerd", "knative", "discovery", "gloo", "gateway", "consul",
    "consulDiscovery", "kubernetes", "extensions", "ratelimit", "ratelimitServer", "rbac", "extauth",
    "namedExtauth", "cachingServer", "observabilityOptions", "upstreamOptions", "consoleOptions",
    "graphqlOptions", "extProcEarly", "extProc", "extProcLate", "watchNamespaceSelectors", "ipV4Only",
})
_GLOO_OPTIONS = frozenset({
    "xdsBindAddr", "validationBindAddr", "circuitBreakers", "endpointsWarmingTimeout", "awsOptions",
    "invalidConfigPolicy", "disableKubernetesDestinations", "disableGrpcWeb",
    "disableProxyGarbageCollection", "regexMaxProgramSize", "restXdsBindAddr", "enableRestEds",
    "failoverUpstreamDnsPollingInterval", "removeUnusedFilters", "proxyDebugBindAddr",
    "logTransformationRequestResponseInfo", "transformationEscapeCharacters", "istioOptions",
    "enableAutoWebsocketTransformationPassthrough",
})
_INVALID_CONFIG_POLICY = frozenset({"replaceInvalidRoutes", "invalidRouteResponseCode",
                                    "invalidRouteResponseBody"})
_GATEWAY_OPTIONS = frozenset({
    "validationServerAddr", "validation", "readGatewaysFromAllNamespaces", "alwaysSortRouteTableRoutes",
    "compressedProxySpec", "virtualServiceOptions", "persistProxySpec", "enableGatewayController",
    "isolateVirtualHostsBySslConfig", "translateEmptyGateways",
})
_VALIDATION = frozenset({
    "proxyValidationServerAddr", "validationWebhookTlsCert", "validationWebhookTlsKey",
    "ignoreGlooValidationFailure", "alwaysAccept", "allowWarnings", "warnRouteShortCircuiting",
    "disableTransformationValidation", "validationServerGrpcMaxSize", "validationServerGrpcMaxSizeBytes",
    "serverEnabled", "warnMissingTlsSecret", "fullEnvoyValidation",
})

# k8s.io/api/core/v1 ServiceSpec and ServicePort.
_SERVICE_SPEC = frozenset({
    "ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity",
    "loadBalancerIP", "loadBalancerSourceRanges", "externalName", "externalTrafficPolicy",
    "healthCheckNodePort", "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies",
    "ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy",
    "trafficDistribution", "topologyKeys", "ipFamily",
})
_SERVICE_PORT = frozenset({"name", "protocol", "appProtocol", "port", "targetPort", "nodePort"})

# k8s.io/api/core/v1 Endpoints: the object has `subsets` where other kinds have `spec`.
_ENDPOINTS_TOP = frozenset({"apiVersion", "kind", "metadata", "subsets"})
_ENDPOINT_SUBSET = frozenset({"addresses", "notReadyAddresses", "ports"})
_ENDPOINT_ADDRESS = frozenset({"ip", "hostname", "nodeName", "targetRef"})
_ENDPOINT_PORT = frozenset({"name", "port", "protocol", "appProtocol"})
_OBJECT_REFERENCE = frozenset({"kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"})

_MAX_NOTES = 100  # parse findings listed per object; a generated document may hold millions
_UINT32_MAX = 2**32 - 1
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INT_TEXT = re.compile(r"-?[0-9]+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _versions(kind: str) -> tuple[str, ...]:
    group = API_GROUPS[kind]
    return (f"{group}/v1",) if group else ("v1",)


def _snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _short(text: str, limit: int = 40) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a value of type {type(value).__name__}"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _key_path(path: str, key: Any) -> str:
    if isinstance(key, str) and _IDENT.fullmatch(key):
        return _join(path, key)
    return f"{path}[{json.dumps(key if isinstance(key, str) else str(key))}]"


def _share(text: str) -> str:
    # Names, namespaces and label values repeat across thousands of objects; keeping one copy of
    # each makes the models of a large input about a quarter smaller.
    return intern(text) if type(text) is str and len(text) <= 64 else text


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- the reader ----------------------------------------------------------------------------


class _Reader:
    """Reads the fields of one object and records where each problem is.

    Scalar readers take the parent path and the field name, so that paths are only built for
    messages, lists and problems (large inputs have millions of scalars).
    """

    __slots__ = ("document", "file", "notes", "prefix", "unlisted")

    def __init__(self, file: str, document: int | None, prefix: str) -> None:
        self.file = file
        self.document = document
        self.prefix = prefix
        self.notes: list[tuple[str, str]] = []
        self.unlisted = 0

    def fail(self, path: str, problem: str) -> NoReturn:
        full = self.prefix + path if path else self.prefix.rstrip(".")
        raise ParseError(problem, file=self.file, document=self.document, field=full or None)

    def note_unknown(self, path: str, key: Any, known: frozenset[str]) -> None:
        if len(self.notes) >= _MAX_NOTES:
            self.unlisted += 1
            return
        full = self.prefix + _key_path(path, key)
        close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6) if known else []
        hint = f" (did you mean {close[0]}?)" if close else ""
        self.notes.append((full, f"unknown field {full}: Gloo ignores or rejects it; check the "
                                 f"spelling{hint}"))

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        """Return ``value`` as a mapping whose fields are not checked."""
        if type(value) is not dict and not isinstance(value, Mapping):
            self.fail(path, f"expected an object, got {_describe(value)}")
        return value

    def obj(self, value: Any, path: str, known: frozenset[str], *, proto: bool = True) -> Mapping[str, Any]:
        """Return ``value`` as a message with fields ``known``, noting unknown fields."""
        m = self.mapping(value, path)
        if known.issuperset(m):
            return m
        out: dict[str, Any] | None = None
        for key in list(m):
            if key in known:
                continue
            camel = _snake_to_camel(key) if proto and isinstance(key, str) and "_" in key else None
            if camel is not None and camel in known:
                if camel in m:
                    self.fail(_join(path, camel), f"set twice, as {camel} and as {key}")
                if out is None:
                    out = dict(m)
                out[camel] = out.pop(key)
            else:
                self.note_unknown(path, key, known)
        return m if out is None else out

    def opt_obj(self, value: Any, path: str, known: frozenset[str], *,
                proto: bool = True) -> Mapping[str, Any] | None:
        return None if value is None else self.obj(value, path, known, proto=proto)

    def raw(self, value: Any, path: str, name: str) -> Mapping[str, Any] | None:
        """Return an opaque block (kept as written), or None when unset."""
        if value is None or isinstance(value, Mapping):
            return value
        self.fail(_join(path, name), f"expected an object, got {_describe(value)}")

    def raw_or_empty(self, value: Any, path: str, name: str) -> Mapping[str, Any]:
        raw = self.raw(value, path, name)
        return {} if raw is None else raw

    def seq(self, value: Any, path: str, name: str) -> list[Any] | tuple[Any, ...]:
        if value is None:
            return ()
        if isinstance(value, list | tuple):
            return value
        self.fail(_join(path, name), f"expected a list, got {_describe(value)}")

    def oneof(self, m: Mapping[str, Any], path: str, oneof: _OneOf) -> str | None:
        """Return the member of ``oneof`` that is set, or None; fail when several are."""
        hits = oneof.members.intersection(m)
        if not hits:
            return None
        if len(hits) == 1:
            (name,) = hits
            return name if m[name] is not None else None
        found = [n for n in oneof.names if m.get(n) is not None]
        if len(found) > 1:
            listed = ", ".join(found[:-1]) + " and " + found[-1]
            self.fail(path, f"{listed} are {'both' if len(found) == 2 else 'all'} set, but only one of "
                            f"{', '.join(oneof.names)} may be set (a protobuf oneof)")
        return found[0] if found else None

    def string(self, value: Any, path: str, name: str) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return _share(value)
        self.fail(_join(path, name), f"expected a string, got {_describe(value)}")

    def opt_string(self, value: Any, path: str, name: str) -> str | None:
        return None if value is None else self.string(value, path, name)

    def boolean(self, value: Any, path: str, name: str) -> bool:
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        self.fail(_join(path, name), f"expected true or false, got {_describe(value)}")

    def opt_bool(self, value: Any, path: str, name: str) -> bool | None:
        """A ``google.protobuf.BoolValue``: a plain boolean or ``{value: ...}``; None when unset."""
        if isinstance(value, Mapping):
            value = self.obj(value, _join(path, name), _VALUE).get("value", False)
        return None if value is None else self.boolean(value, path, name)

    def integer(self, value: Any, path: str, name: str, low: int, high: int, what: str) -> int:
        number: int | None = None
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and len(value) <= 24 and _INT_TEXT.fullmatch(value):
            # protobuf JSON allows 64-bit and 32-bit integers written as strings
            number = int(value)
        if number is None:
            self.fail(_join(path, name), f"expected {what}, got {_describe(value)}")
        if not low <= number <= high:
            self.fail(_join(path, name), f"{number} is out of range for {what} ({low}..{high})")
        return number

    def uint32(self, value: Any, path: str, name: str) -> int | None:
        """A ``uint32`` or ``google.protobuf.UInt32Value``; None when unset."""
        if isinstance(value, Mapping):
            value = self.obj(value, _join(path, name), _VALUE).get("value", 0)
        if value is None:
            return None
        return self.integer(value, path, name, 0, _UINT32_MAX, "a non-negative integer (uint32)")

    def int32(self, value: Any, path: str, name: str) -> int | None:
        """An ``int32`` or ``google.protobuf.Int32Value``; None when unset."""
        if isinstance(value, Mapping):
            value = self.obj(value, _join(path, name), _VALUE).get("value", 0)
        if value is None:
            return None
        return self.integer(value, path, name, _INT32_MIN, _INT32_MAX, "an integer (int32)")

    def kube_int(self, value: Any, path: str, name: str, low: int, high: int) -> int:
        """A Kubernetes integer: a JSON number, never a string."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(_join(path, name), f"expected an integer, got {_describe(value)}")
        if not low <= value <= high:
            self.fail(_join(path, name), f"{value} is out of range ({low}..{high})")
        return value

    def enum(self, value: Any, path: str, name: str, names: tuple[str, ...]) -> str | None:
        if value is None:
            return None
        if isinstance(value, str) and value in names:
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
            return names[value]
        self.fail(_join(path, name), f"expected one of {', '.join(names)}, got {_describe(value)}")

    def strings(self, value: Any, path: str, name: str) -> tuple[str, ...]:
        items = self.seq(value, path, name)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self.fail(f"{_join(path, name)}[{i}]", f"expected a string, got {_describe(item)}")
        return tuple(map(_share, items))

    def string_map(self, value: Any, path: str, name: str) -> Mapping[str, str]:
        if value is None:
            return {}
        where = _join(path, name)
        if not isinstance(value, Mapping):
            self.fail(where, f"expected an object of strings, got {_describe(value)}")
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                self.fail(where, f"expected string keys, got {_describe(key)}")
            if not isinstance(item, str):
                self.fail(_key_path(where, key), f"expected a string, got {_describe(item)}")
            out[_share(key)] = _share(item)
        return out


# --- shared messages -----------------------------------------------------------------------


def _ref(r: _Reader, value: Any, path: str, *, check: bool = True) -> ResourceRef:
    m = r.obj(value, path, _REF) if check else r.mapping(value, path)
    return ResourceRef(name=r.string(m.get("name"), path, "name"),
                       namespace=r.string(m.get("namespace"), path, "namespace"))


def _refs(r: _Reader, value: Any, path: str, name: str) -> tuple[ResourceRef, ...]:
    where = _join(path, name)
    return tuple(_ref(r, v, f"{where}[{i}]") for i, v in enumerate(r.seq(value, path, name)))


def _options_refs(r: _Reader, value: Any, path: str) -> tuple[ResourceRef, ...]:
    where = _join(path, "optionsConfigRefs")
    m = r.opt_obj(value, where, _OPTIONS_REFS)
    return () if m is None else _refs(r, m.get("delegateOptions"), where, "delegateOptions")


def _expression(r: _Reader, value: Any, path: str) -> SelectorExpression:
    m = r.obj(value, path, _EXPRESSION)
    operator = m.get("operator")
    if operator is None:
        operator = "Equals"
    elif isinstance(operator, int) and not isinstance(operator, bool):
        operator = r.enum(operator, path, "operator", _OPERATORS) or _OPERATORS[0]
    elif not isinstance(operator, str):
        # kept as written when it is a string, so that translate reports Gloo's own message
        r.fail(_join(path, "operator"), f"expected one of {', '.join(_OPERATORS)}, got {_describe(operator)}")
    return SelectorExpression(key=r.string(m.get("key"), path, "key"), operator=operator,
                              values=r.strings(m.get("values"), path, "values"))


def _expressions(r: _Reader, value: Any, path: str, name: str) -> tuple[SelectorExpression, ...]:
    where = _join(path, name)
    return tuple(_expression(r, v, f"{where}[{i}]") for i, v in enumerate(r.seq(value, path, name)))


# --- routes --------------------------------------------------------------------------------


def _matcher(r: _Reader, value: Any, path: str) -> Matcher:
    m = r.obj(value, path, _MATCHER)
    r.oneof(m, path, _PATH_SPECIFIERS)
    connect = m.get("connectMatcher")
    if connect is not None:
        r.obj(connect, _join(path, "connectMatcher"), _NOTHING)
    headers = _join(path, "headers")
    query = _join(path, "queryParameters")
    return Matcher(
        prefix=r.opt_string(m.get("prefix"), path, "prefix"),
        exact=r.opt_string(m.get("exact"), path, "exact"),
        regex=r.opt_string(m.get("regex"), path, "regex"),
        connect=connect is not None,
        case_sensitive=r.opt_bool(m.get("caseSensitive"), path, "caseSensitive"),
        headers=tuple(_header(r, v, f"{headers}[{i}]")
                      for i, v in enumerate(r.seq(m.get("headers"), path, "headers"))),
        query_parameters=tuple(
            _query(r, v, f"{query}[{i}]")
            for i, v in enumerate(r.seq(m.get("queryParameters"), path, "queryParameters"))),
        methods=r.strings(m.get("methods"), path, "methods"),
    )


def _header(r: _Reader, value: Any, path: str) -> HeaderMatcher:
    m = r.obj(value, path, _HEADER)
    return HeaderMatcher(name=r.string(m.get("name"), path, "name"),
                         value=r.string(m.get("value"), path, "value"),
                         regex=r.boolean(m.get("regex"), path, "regex"),
                         invert_match=r.boolean(m.get("invertMatch"), path, "invertMatch"))


def _query(r: _Reader, value: Any, path: str) -> QueryParameterMatcher:
    m = r.obj(value, path, _QUERY)
    return QueryParameterMatcher(name=r.string(m.get("name"), path, "name"),
                                 value=r.string(m.get("value"), path, "value"),
                                 regex=r.boolean(m.get("regex"), path, "regex"))


def _destination(r: _Reader, value: Any, path: str) -> Destination:
    m = r.obj(value, path, _DESTINATION)
    kind = r.oneof(m, path, _DESTINATION_TYPES)
    upstream = kube = consul = None
    if kind == "upstream":
        upstream = _ref(r, m["upstream"], _join(path, "upstream"))
    elif kind == "kube":
        where = _join(path, "kube")
        k = r.obj(m["kube"], where, _KUBE_DESTINATION)
        ref = k.get("ref")
        kube = KubeServiceDestination(
            ref=ResourceRef("") if ref is None else _ref(r, ref, _join(where, "ref")),
            port=r.uint32(k.get("port"), where, "port") or 0)
    elif kind == "consul":
        consul = r.raw(m["consul"], path, "consul")
    where = _join(path, "subset")
    subset = r.opt_obj(m.get("subset"), where, _SUBSET)
    return Destination(
        upstream=upstream, kube=kube, consul=consul,
        subset=None if subset is None else r.string_map(subset.get("values"), where, "values"),
        destination_spec=r.raw(m.get("destinationSpec"), path, "destinationSpec"),
    )


def _weighted(r: _Reader, value: Any, path: str) -> WeightedDestination:
    m = r.obj(value, path, _WEIGHTED)
    dest = m.get("destination")
    return WeightedDestination(
        destination=Destination() if dest is None else _destination(r, dest, _join(path, "destination")),
        weight=r.uint32(m.get("weight"), path, "weight"),
        options=r.raw_or_empty(m.get("options"), path, "options"),
    )


def _route_action(r: _Reader, value: Any, path: str) -> RouteAction:
    m = r.obj(value, path, _ROUTE_ACTION)
    kind = r.oneof(m, path, _DESTINATIONS)
    single = multi = group = None
    if kind == "single":
        single = _destination(r, m["single"], _join(path, "single"))
    elif kind == "multi":
        where = _join(path, "multi")
        mm = r.obj(m["multi"], where, _MULTI)
        dests = _join(where, "destinations")
        multi = tuple(_weighted(r, v, f"{dests}[{i}]")
                      for i, v in enumerate(r.seq(mm.get("destinations"), where, "destinations")))
    elif kind == "upstreamGroup":
        group = _ref(r, m["upstreamGroup"], _join(path, "upstreamGroup"))
    return RouteAction(
        single=single, multi=multi, upstream_group=group,
        cluster_header=r.opt_string(m.get("clusterHeader"), path, "clusterHeader"),
        dynamic_forward_proxy=r.raw(m.get("dynamicForwardProxy"), path, "dynamicForwardProxy"),
    )


def _redirect(r: _Reader, value: Any, path: str) -> RedirectAction:
    m = r.obj(value, path, _REDIRECT)
    r.oneof(m, path, _PATH_REWRITES)
    return RedirectAction(
        host_redirect=r.string(m.get("hostRedirect"), path, "hostRedirect"),
        path_redirect=r.opt_string(m.get("pathRedirect"), path, "pathRedirect"),
        prefix_rewrite=r.opt_string(m.get("prefixRewrite"), path, "prefixRewrite"),
        regex_rewrite=r.raw(m.get("regexRewrite"), path, "regexRewrite"),
        response_code=(r.enum(m.get("responseCode"), path, "responseCode", _REDIRECT_CODES)
                       or _REDIRECT_CODES[0]),
        https_redirect=r.boolean(m.get("httpsRedirect"), path, "httpsRedirect"),
        strip_query=r.boolean(m.get("stripQuery"), path, "stripQuery"),
        port_redirect=r.uint32(m.get("portRedirect"), path, "portRedirect"),
    )


def _direct_response(r: _Reader, value: Any, path: str) -> DirectResponseAction:
    m = r.obj(value, path, _DIRECT_RESPONSE)
    return DirectResponseAction(status=r.uint32(m.get("status"), path, "status") or 0,
                                body=r.string(m.get("body"), path, "body"))


def _delegate(r: _Reader, value: Any, path: str) -> DelegateAction:
    m = r.obj(value, path, _DELEGATE)
    kind = r.oneof(m, path, _DELEGATION_TYPES)
    ref = selector = None
    if kind == "ref":
        ref = _ref(r, m["ref"], _join(path, "ref"))
    elif kind == "selector":
        where = _join(path, "selector")
        s = r.obj(m["selector"], where, _SELECTOR)
        selector = RouteTableSelector(namespaces=r.strings(s.get("namespaces"), where, "namespaces"),
                                      labels=r.string_map(s.get("labels"), where, "labels"),
                                      expressions=_expressions(r, s.get("expressions"), where, "expressions"))
    return DelegateAction(name=r.string(m.get("name"), path, "name"),
                          namespace=r.string(m.get("namespace"), path, "namespace"),
                          ref=ref, selector=selector)


def _route(r: _Reader, value: Any, path: str, index: int) -> Route:
    m = r.obj(value, path, _ROUTE)
    action = r.oneof(m, path, _ROUTE_ACTIONS)
    if action is not None and action.startswith("graphql"):
        r.mapping(m[action], _join(path, action))
        full = r.prefix + _join(path, action)
        r.notes.append((full, f"{full}: GraphQL actions (Gloo Enterprise) are not modelled; gloo_nb "
                              f"reads this route as one without an action"))
    matchers = _join(path, "matchers")
    return Route(
        matchers=tuple(_matcher(r, v, f"{matchers}[{i}]")
                       for i, v in enumerate(r.seq(m.get("matchers"), path, "matchers"))),
        inheritable_matchers=r.opt_bool(m.get("inheritableMatchers"), path, "inheritableMatchers"),
        inheritable_path_matchers=r.opt_bool(m.get("inheritablePathMatchers"), path,
                                             "inheritablePathMatchers"),
        route_action=_route_action(r, m[action], _join(path, action)) if action == "routeAction" else None,
        redirect_action=_redirect(r, m[action], _join(path, action)) if action == "redirectAction" else None,
        direct_response_action=(_direct_response(r, m[action], _join(path, action))
                                if action == "directResponseAction" else None),
        delegate_action=_delegate(r, m[action], _join(path, action)) if action == "delegateAction" else None,
        options=r.raw_or_empty(m.get("options"), path, "options"),
        name=r.string(m.get("name"), path, "name"),
        options_config_refs=_options_refs(r, m.get("optionsConfigRefs"), path),
        index=index,
    )


def _routes(r: _Reader, value: Any, path: str) -> tuple[Route, ...]:
    where = _join(path, "routes")
    return tuple(_route(r, v, f"{where}[{i}]", i) for i, v in enumerate(r.seq(value, path, "routes")))


# --- kinds ---------------------------------------------------------------------------------


def _virtual_service(r: _Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", _VS_SPEC)
    if s is None:
        return VirtualService(meta=meta, status=status)
    vh_value = s.get("virtualHost")
    vh = None
    if vh_value is not None:
        where = "spec.virtualHost"
        v = r.obj(vh_value, where, _VIRTUAL_HOST)
        vh = VirtualHost(domains=r.strings(v.get("domains"), where, "domains"),
                         routes=_routes(r, v.get("routes"), where),
                         options=r.raw_or_empty(v.get("options"), where, "options"),
                         options_config_refs=_options_refs(r, v.get("optionsConfigRefs"), where))
    return VirtualService(meta=meta, virtual_host=vh,
                          ssl_config=r.raw(s.get("sslConfig"), "spec", "sslConfig"),
                          display_name=r.string(s.get("displayName"), "spec", "displayName"),
                          status=status)


def _route_table(r: _Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", _RT_SPEC)
    if s is None:
        return RouteTable(meta=meta, status=status)
    return RouteTable(meta=meta, routes=_routes(r, s.get("routes"), "spec"),
                      weight=r.int32(s.get("weight"), "spec", "weight"), status=status)


def _gateway(r: _Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", _GATEWAY_SPEC)
    if s is None:
        return Gateway(meta=meta, status=status)
    r.oneof(s, "spec", _GATEWAY_TYPES)
    given: dict[str, Any] = {}
    if s.get("ssl") is not None:
        given["ssl"] = r.boolean(s["ssl"], "spec", "ssl")
    if s.get("bindAddress") is not None:
        given["bind_address"] = r.string(s["bindAddress"], "spec", "bindAddress")
    if s.get("bindPort") is not None:
        given["bind_port"] = r.uint32(s["bindPort"], "spec", "bindPort")
    if s.get("proxyNames") is not None:
        given["proxy_names"] = r.strings(s["proxyNames"], "spec", "proxyNames")
    http = None
    if s.get("httpGateway") is not None:
        where = "spec.httpGateway"
        h = r.obj(s["httpGateway"], where, _HTTP_GATEWAY)
        exprs = r.opt_obj(h.get("virtualServiceExpressions"), _join(where, "virtualServiceExpressions"),
                          _VS_EXPRESSIONS)
        http = HttpGateway(
            virtual_services=_refs(r, h.get("virtualServices"), where, "virtualServices"),
            virtual_service_selector=r.string_map(h.get("virtualServiceSelector"), where,
                                                  "virtualServiceSelector"),
            virtual_service_expressions=() if exprs is None else _expressions(
                r, exprs.get("expressions"), _join(where, "virtualServiceExpressions"), "expressions"),
            virtual_service_namespaces=r.strings(h.get("virtualServiceNamespaces"), where,
                                                 "virtualServiceNamespaces"),
            options=r.raw_or_empty(h.get("options"), where, "options"),
        )
    return Gateway(meta=meta, options=r.raw_or_empty(s.get("options"), "spec", "options"), http_gateway=http,
                   tcp_gateway=r.raw(s.get("tcpGateway"), "spec", "tcpGateway"),
                   hybrid_gateway=r.raw(s.get("hybridGateway"), "spec", "hybridGateway"),
                   use_proxy_proto=r.opt_bool(s.get("useProxyProto"), "spec", "useProxyProto"),
                   status=status, **given)


def _kube_upstream(r: _Reader, value: Any, path: str) -> KubeUpstreamSpec:
    m = r.obj(value, path, _KUBE_UPSTREAM)
    r.raw(m.get("serviceSpec"), path, "serviceSpec")
    subset_spec = None
    where = _join(path, "subsetSpec")
    ss = r.opt_obj(m.get("subsetSpec"), where, _SUBSET_SPEC)
    if ss is not None:
        sels = _join(where, "selectors")
        selectors = []
        for i, v in enumerate(r.seq(ss.get("selectors"), where, "selectors")):
            sel = r.obj(v, f"{sels}[{i}]", _SUBSET_SELECTOR)
            selectors.append(SubsetSelector(
                keys=r.strings(sel.get("keys"), f"{sels}[{i}]", "keys"),
                single_host_per_subset=r.boolean(sel.get("singleHostPerSubset"), f"{sels}[{i}]",
                                                 "singleHostPerSubset")))
        at = _join(where, "defaultSubset")
        default = r.opt_obj(ss.get("defaultSubset"), at, _SUBSET)
        subset_spec = SubsetSpec(
            selectors=tuple(selectors),
            fallback_policy=r.enum(ss.get("fallbackPolicy"), where, "fallbackPolicy", _FALLBACK_POLICIES),
            default_subset=None if default is None else r.string_map(default.get("values"), at, "values"))
    return KubeUpstreamSpec(service_name=r.string(m.get("serviceName"), path, "serviceName"),
                            service_namespace=r.string(m.get("serviceNamespace"), path, "serviceNamespace"),
                            service_port=r.uint32(m.get("servicePort"), path, "servicePort") or 0,
                            selector=r.string_map(m.get("selector"), path, "selector"),
                            subset_spec=subset_spec)


def _static_upstream(r: _Reader, value: Any, path: str) -> StaticUpstreamSpec:
    m = r.obj(value, path, _STATIC_UPSTREAM)
    r.raw(m.get("serviceSpec"), path, "serviceSpec")
    where = _join(path, "hosts")
    hosts = []
    for i, v in enumerate(r.seq(m.get("hosts"), path, "hosts")):
        at = f"{where}[{i}]"
        h = r.obj(v, at, _STATIC_HOST)
        r.raw(h.get("healthCheckConfig"), at, "healthCheckConfig")
        r.raw(h.get("metadata"), at, "metadata")
        hosts.append(StaticHost(addr=r.string(h.get("addr"), at, "addr"),
                                port=r.uint32(h.get("port"), at, "port") or 0,
                                sni_addr=r.string(h.get("sniAddr"), at, "sniAddr"),
                                load_balancing_weight=r.uint32(h.get("loadBalancingWeight"), at,
                                                               "loadBalancingWeight")))
    return StaticUpstreamSpec(hosts=tuple(hosts), use_tls=r.opt_bool(m.get("useTls"), path, "useTls"),
                              auto_sni_rewrite=r.opt_bool(m.get("autoSniRewrite"), path, "autoSniRewrite"))


def _upstream(r: _Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", _UPSTREAM_SPEC)
    if s is None:
        return Upstream(meta=meta, status=status)
    kind = r.oneof(s, "spec", _UPSTREAM_TYPES)
    kube = static = None
    if kind == "kube":
        kube = _kube_upstream(r, s["kube"], "spec.kube")
    elif kind == "static":
        static = _static_upstream(r, s["static"], "spec.static")
    elif kind is not None:
        r.raw(s[kind], "spec", kind)
    ssl = r.raw(s.get("sslConfig"), "spec", "sslConfig")
    secret = ssl.get("secretRef") if ssl is not None else None
    return Upstream(meta=meta, kube=kube, static=static, upstream_type=kind or "",
                    ssl_secret_ref=None if secret is None else _ref(r, secret, "spec.sslConfig.secretRef",
                                                                    check=False),
                    ssl_config=ssl, use_http2=r.opt_bool(s.get("useHttp2"), "spec", "useHttp2"),
                    status=status)


def _settings(r: _Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", _SETTINGS_SPEC)
    if s is None:
        return Settings(meta=meta, status=status)
    gloo = r.opt_obj(s.get("gloo"), "spec.gloo", _GLOO_OPTIONS) or {}
    where = "spec.gloo.invalidConfigPolicy"
    icp = r.opt_obj(gloo.get("invalidConfigPolicy"), where, _INVALID_CONFIG_POLICY)
    policy = InvalidConfigPolicy() if icp is None else InvalidConfigPolicy(
        replace_invalid_routes=r.boolean(icp.get("replaceInvalidRoutes"), where, "replaceInvalidRoutes"),
        invalid_route_response_code=r.uint32(icp.get("invalidRouteResponseCode"), where,
                                             "invalidRouteResponseCode") or 0,
        invalid_route_response_body=r.string(icp.get("invalidRouteResponseBody"), where,
                                             "invalidRouteResponseBody"))
    gateway = r.opt_obj(s.get("gateway"), "spec.gateway", _GATEWAY_OPTIONS) or {}
    where = "spec.gateway.validation"
    val = r.opt_obj(gateway.get("validation"), where, _VALIDATION)
    validation = None if val is None else ValidationSettings(
        always_accept=r.opt_bool(val.get("alwaysAccept"), where, "alwaysAccept"),
        allow_warnings=r.opt_bool(val.get("allowWarnings"), where, "allowWarnings"),
        warn_route_short_circuiting=r.opt_bool(val.get("warnRouteShortCircuiting"), where,
                                               "warnRouteShortCircuiting"),
        proxy_validation_server_addr=r.string(val.get("proxyValidationServerAddr"), where,
                                              "proxyValidationServerAddr"),
        full_envoy_validation=r.opt_bool(val.get("fullEnvoyValidation"), where, "fullEnvoyValidation"))
    return Settings(
        meta=meta,
        discovery_namespace=r.string(s.get("discoveryNamespace"), "spec", "discoveryNamespace"),
        invalid_config_policy=policy,
        xds_bind_addr=r.string(gloo.get("xdsBindAddr"), "spec.gloo", "xdsBindAddr"),
        regex_max_program_size=r.uint32(gloo.get("regexMaxProgramSize"), "spec.gloo", "regexMaxProgramSize"),
        disable_proxy_garbage_collection=r.opt_bool(gloo.get("disableProxyGarbageCollection"), "spec.gloo",
                                                    "disableProxyGarbageCollection"),
        validation=validation,
        read_gateways_from_all_namespaces=r.boolean(gateway.get("readGatewaysFromAllNamespaces"),
                                                    "spec.gateway", "readGatewaysFromAllNamespaces"),
        isolate_virtual_hosts_by_ssl_config=r.opt_bool(gateway.get("isolateVirtualHostsBySslConfig"),
                                                       "spec.gateway", "isolateVirtualHostsBySslConfig"),
        translate_empty_gateways=r.opt_bool(gateway.get("translateEmptyGateways"), "spec.gateway",
                                            "translateEmptyGateways"),
        watch_namespaces=r.strings(s.get("watchNamespaces"), "spec", "watchNamespaces"),
        status=status,
    )


def _service(r: _Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", _SERVICE_SPEC, proto=False)
    if s is None:
        return Service(meta=meta)
    where = "spec.ports"
    ports = []
    for i, v in enumerate(r.seq(s.get("ports"), "spec", "ports")):
        at = f"{where}[{i}]"
        p = r.obj(v, at, _SERVICE_PORT, proto=False)
        if p.get("port") is None:
            r.fail(_join(at, "port"), "missing: every Service port needs a port number")
        target = p.get("targetPort")
        if target is not None and not isinstance(target, str):
            target = r.kube_int(target, at, "targetPort", 0, 65535)
        protocol = {} if p.get("protocol") is None else {"protocol": r.string(p["protocol"], at, "protocol")}
        ports.append(ServicePort(port=r.kube_int(p["port"], at, "port", 0, 65535), target_port=target,
                                 name=r.string(p.get("name"), at, "name"), **protocol))
    kind = {} if s.get("type") is None else {"type": r.string(s["type"], "spec", "type")}
    return Service(meta=meta, ports=tuple(ports),
                   selector=r.string_map(s.get("selector"), "spec", "selector"),
                   cluster_ip=r.string(s.get("clusterIP"), "spec", "clusterIP"), **kind)


def _endpoint_addresses(r: _Reader, value: Any, path: str, name: str) -> tuple[EndpointAddress, ...]:
    out = []
    where = _join(path, name)
    for i, v in enumerate(r.seq(value, path, name)):
        at = f"{where}[{i}]"
        a = r.obj(v, at, _ENDPOINT_ADDRESS, proto=False)
        target_name = target_namespace = ""
        ref = a.get("targetRef")
        if ref is not None:
            t = r.obj(ref, _join(at, "targetRef"), _OBJECT_REFERENCE, proto=False)
            # Gloo's EDS only follows targetRefs of kind Pod (plugins/kubernetes/eds.go).
            if r.string(t.get("kind"), _join(at, "targetRef"), "kind") == "Pod":
                target_name = r.string(t.get("name"), _join(at, "targetRef"), "name")
                target_namespace = r.string(t.get("namespace"), _join(at, "targetRef"), "namespace")
        out.append(EndpointAddress(ip=r.string(a.get("ip"), at, "ip"), target_name=target_name,
                                   target_namespace=target_namespace))
    return tuple(out)


def _endpoints(r: _Reader, subsets: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    out = []
    for i, v in enumerate(r.seq(subsets, "", "subsets")):
        at = f"subsets[{i}]"
        sub = r.obj(v, at, _ENDPOINT_SUBSET, proto=False)
        ports = []
        for j, pv in enumerate(r.seq(sub.get("ports"), at, "ports")):
            pat = f"{at}.ports[{j}]"
            p = r.obj(pv, pat, _ENDPOINT_PORT, proto=False)
            if p.get("port") is None:
                r.fail(_join(pat, "port"), "missing: every endpoint port needs a port number")
            protocol = {} if p.get("protocol") is None else {"protocol": r.string(p["protocol"], pat, "protocol")}
            ports.append(EndpointPort(port=r.kube_int(p["port"], pat, "port", 0, 65535),
                                      name=r.string(p.get("name"), pat, "name"), **protocol))
        out.append(EndpointSubset(
            addresses=_endpoint_addresses(r, sub.get("addresses"), at, "addresses"),
            not_ready_addresses=_endpoint_addresses(r, sub.get("notReadyAddresses"), at, "notReadyAddresses"),
            ports=tuple(ports)))
    return KubeEndpoints(meta=meta, subsets=tuple(out))


def _pod(r: _Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    # A Pod's spec and status are large and not Gloo's: only the fields EDS reads are checked.
    s = {} if spec is None else r.mapping(spec, "spec")
    st = status or {}
    ready = False
    for i, c in enumerate(r.seq(st.get("conditions"), "status", "conditions")):
        cond = r.mapping(c, f"status.conditions[{i}]")
        if cond.get("type") == "Ready":
            ready = cond.get("status") == "True"
    return Pod(meta=meta, pod_ip=r.string(st.get("podIP"), "status", "podIP"),
               phase=r.string(st.get("phase"), "status", "phase"), ready=ready,
               host_network=r.boolean(s.get("hostNetwork"), "spec", "hostNetwork"))


_BUILDERS = {
    "VirtualService": _virtual_service,
    "RouteTable": _route_table,
    "Gateway": _gateway,
    "Upstream": _upstream,
    "Settings": _settings,
    "Service": _service,
    "Endpoints": _endpoints,
    "Pod": _pod,
}
_SPEC_FIELD = {"Endpoints": "subsets"}
_TOP_FIELDS = {"Endpoints": _ENDPOINTS_TOP}


def _meta(r: _Reader, value: Any, location: Location) -> ObjectMeta:
    if value is None:
        r.fail("metadata.name", "missing: every resource needs metadata.name")
    m = r.obj(value, "metadata", _META, proto=False)
    name = m.get("name")
    if name is None or name == "":
        r.fail("metadata.name", "missing: every resource needs metadata.name")
    generation = m.get("generation")
    return ObjectMeta(
        name=r.string(name, "metadata", "name"),
        namespace=r.string(m.get("namespace"), "metadata", "namespace"),
        labels=r.string_map(m.get("labels"), "metadata", "labels"),
        annotations=r.string_map(m.get("annotations"), "metadata", "annotations"),
        resource_version=r.string(m.get("resourceVersion"), "metadata", "resourceVersion"),
        generation=0 if generation is None else r.kube_int(generation, "metadata", "generation",
                                                           _INT64_MIN, _INT64_MAX),
        uid=r.string(m.get("uid"), "metadata", "uid"),
        location=location,
    )


def _skip(obj: Mapping[str, Any], kind: str, why: str, file: str, document: int | None,
          prefix: str) -> ParsedObject:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name, namespace = meta.get("name"), meta.get("namespace")
    if prefix:
        why += f" ({prefix.rstrip('.')} of the List)"
    return ParsedObject(None, (), Skipped(file=file, document=document, kind=kind, why=why,
                                          namespace=namespace if isinstance(namespace, str) else "",
                                          name=name if isinstance(name, str) else ""))


def _parse(obj: Any, file: str, document: int | None, prefix: str) -> ParsedObject:
    r = _Reader(file, document, prefix)
    if not isinstance(obj, Mapping):
        r.fail("", f"expected an object (a Kubernetes manifest), got {_describe(obj)}")
    kind = obj.get("kind")
    if not kind and not ({"apiVersion", "kind", "metadata"} & set(obj)):
        # A bare patch (settings-patch.yaml in the seed folder): listed, not fatal, so a folder of
        # manifests and patches can be read as a whole.
        return ParsedObject(None, skipped=Skipped(
            file=file, document=document, kind="",
            why="no apiVersion, kind or metadata: a patch, not a manifest (apply it with kubectl patch)"))
    if kind is None or kind == "":
        r.fail("kind", "missing: a Kubernetes manifest needs apiVersion and kind (a patch, such as "
                       "settings-patch.yaml, must be applied to a full manifest first)")
    if not isinstance(kind, str):
        r.fail("kind", f"expected a string, got {_describe(kind)}")
    api = obj.get("apiVersion")
    if api is not None and not isinstance(api, str):
        r.fail("apiVersion", f"expected a string, got {_describe(api)}")
    if kind not in KIND_TYPES:
        close = difflib.get_close_matches(kind, sorted(KIND_TYPES), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return _skip(obj, kind, f"kind {kind} is not a Gloo resource gloo_nb translates{hint}",
                     file, document, prefix)
    versions = _versions(kind)
    if api is not None and api not in versions:
        return _skip(obj, kind, f"kind {kind} of apiVersion {api} is not a resource gloo_nb translates "
                                f"(it reads {kind} of {' or '.join(versions)})", file, document, prefix)
    meta = _meta(r, obj.get("metadata"), Location(file, document))
    r.obj(obj, "", _TOP_FIELDS.get(kind, _TOP), proto=False)
    key = ResourceKey(kind, meta.namespace, meta.name)
    findings = []
    status = obj.get("status")
    if status is not None and not isinstance(status, Mapping):
        # Gloo writes status, not the team: a status of the wrong type says nothing about what Gloo
        # translates (the sandbox's control plane and Gloo's reporter overwrite it), so it is
        # ignored with a finding instead of making the whole object unreadable.
        findings.append(Finding(resource=key, severity="warning", layer="parse", origin=key,
                                field=prefix + "status",
                                message=f"status is {_describe(status)}, not an object: ignored (the controller "
                                        f"that owns the object writes status and replaces it)"))
        status = None
    resource = _BUILDERS[kind](r, obj.get(_SPEC_FIELD.get(kind, "spec")), meta, status)
    if api is None:
        findings.append(Finding(resource=key, severity="warning", layer="parse", origin=key,
                                field=prefix + "apiVersion",
                                message=f"apiVersion is missing (kubectl rejects the document); read as "
                                        f"{versions[0]}"))
    findings.extend(Finding(resource=key, severity="warning", message=message, origin=key, layer="parse",
                            field=path) for path, message in r.notes)
    if r.unlisted:
        findings.append(Finding(resource=key, severity="warning", origin=key, layer="parse",
                                message=f"{r.unlisted} more unknown fields are not listed"))
    return ParsedObject(resource, tuple(findings), None)


_NOWHERE = Location()


def parse_object(obj: Mapping[str, Any], *, location: Location = _NOWHERE) -> ParsedObject:
    """Parse one Kubernetes object (a decoded manifest or a live object from the API).

    A ``List`` is not expanded here; use :func:`parse_objects` or :func:`parse_stream` for that.

    Args:
        obj: The object, as decoded from YAML or JSON.
        location: Where it came from, for messages and for ``meta.location``.

    Returns:
        The typed resource and its parse findings, or a ``skipped`` entry for a kind that gloo_nb
        does not translate (or a known kind of a foreign API group).

    Raises:
        ParseError: The object has no kind or no ``metadata.name``, a known field has the wrong
            type, or several members of one oneof are set.
    """
    return _parse(obj, location.file, location.document, "")


# --- streams -------------------------------------------------------------------------------


def _is_list_kind(kind: Any) -> bool:
    return isinstance(kind, str) and kind.endswith("List")


def _is_list(kind: Any, obj: Mapping[str, Any]) -> bool:
    # A `*List` kind without items may be some CRD's own kind; `List` is always a list.
    return kind == "List" or (_is_list_kind(kind) and "items" in obj)


def unreadable_finding(obj: Any, error: ParseError) -> Finding:
    """The finding for an object that cannot be read, attributed to the object itself.

    Gloo's kube clients cannot decode such an object either, so it is absent from Gloo's snapshot
    (a VirtualService delegating to it then reports the route table missing); naming the object
    lets its team, not everyone, see the cause.

    Args:
        obj: The object as decoded from JSON or YAML.
        error: Why the parser could not read it.

    Returns:
        An ``error`` finding of layer ``parse`` on the object (kind, namespace and name as far as
        they can be read), with the parser's one-line message.
    """
    m = obj if isinstance(obj, Mapping) else {}
    meta = m.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}

    def text(value: Any) -> str:
        return value if isinstance(value, str) else ""

    name = text(meta.get("name")) or (f"document {error.document}" if error.document is not None else "?")
    key = ResourceKey(text(m.get("kind")), text(meta.get("namespace")), name)
    return Finding(resource=key, severity="error", origin=key, layer="parse", field=error.field or "",
                   message=f"cannot be read, so Gloo leaves it out of its snapshot: {error.one_line()}; fix the "
                           f"field or delete the object")


class _Collector:
    """Turns the documents of one stream into a :class:`ParseResult`, expanding Lists.

    With ``tolerant``, an object that cannot be read becomes an error finding (see
    :func:`unreadable_finding`) and the others are still read.
    """

    def __init__(self, file: str, *, tolerant: bool = False) -> None:
        self.file = file
        self.result = ParseResult()
        self.document: int | None = None
        self.tolerant = tolerant

    def fail(self, problem: str, document: int | None, path: str = "") -> NoReturn:
        raise ParseError(problem, file=self.file, document=document, field=path or None)

    def handle(self, obj: Any, document: int, prefix: str = "") -> None:
        if isinstance(obj, Mapping) and _is_list(obj.get("kind"), obj):
            items = obj.get("items")
            if items is None:
                return
            if not isinstance(items, list | tuple):
                self.fail(f"expected a list, got {_describe(items)}", document, prefix + "items")
            for i, item in enumerate(items):
                self.item(obj, i, item, document, prefix)
            return
        if not self.tolerant:
            self.result.add(_parse(obj, self.file, document, prefix))
            return
        try:
            parsed = _parse(obj, self.file, document, prefix)
        except ParseError as error:
            self.result.findings.append(unreadable_finding(obj, error))
            return
        except RecursionError:
            deep = ParseError("nested too deeply to read", file=self.file, document=document)
            self.result.findings.append(unreadable_finding(obj, deep))
            return
        self.result.add(parsed)

    def item(self, owner: Mapping[str, Any], index: int, item: Any, document: int, prefix: str) -> None:
        kind = owner["kind"]
        if kind != "List" and isinstance(item, Mapping) and item.get("kind") is None:
            # typed lists (VirtualServiceList) from the API carry kind and apiVersion only once
            item = {**item, "kind": kind[: -len("List")]}
            if item.get("apiVersion") is None and owner.get("apiVersion") is not None:
                item["apiVersion"] = owner["apiVersion"]
        self.handle(item, document, f"{prefix}items[{index}].")


def parse_objects(objs: Iterable[Mapping[str, Any]], *, file: str = "<object>",
                  tolerant: bool = False) -> ParseResult:
    """Parse live or decoded objects; ``List`` objects are expanded.

    Args:
        objs: The objects; each one's position is its document index.
        file: What to call the source in messages.
        tolerant: Per-object tolerance, for what a cluster holds (live, in a snapshot bundle or a
            journal): an object that cannot be read becomes an ``error`` finding naming it (see
            :func:`unreadable_finding`) instead of failing the whole read. Files given by a user
            are read strictly (``gloo-nb translate`` exits 2 naming the document).

    Returns:
        The resources, findings and skipped objects, in order.

    Raises:
        ParseError: An object cannot be read (see :func:`parse_object`), unless ``tolerant``.
    """
    out = _Collector(file, tolerant=tolerant)
    with gc_paused():  # a cluster's 10,000 RouteTables are millions of acyclic objects
        for i, obj in enumerate(objs):
            out.handle(obj, i)
    return out.result


_NON_SPACE = re.compile(r"\S")
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip_space(text: str, pos: int) -> int:
    match = _JSON_SPACE.match(text, pos)
    return pos if match is None else match.end()


class _JsonArray:
    """The elements of the JSON array that starts at ``pos``, decoded one at a time.

    Attributes:
        end: Position after the closing bracket, once iteration has finished.
    """

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos
        self.end = -1

    def __iter__(self) -> Iterator[Any]:
        text = self.text
        pos = _skip_space(text, self.pos + 1)
        if text.startswith("]", pos):
            self.end = pos + 1
            return
        while True:
            value, pos = _DECODER.raw_decode(text, pos)
            yield value
            pos = _skip_space(text, pos)
            if text.startswith(",", pos):
                pos = _skip_space(text, pos + 1)
            elif text.startswith("]", pos):
                self.end = pos + 1
                return
            else:
                raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)


def _skip_array(text: str, pos: int) -> int:
    array = _JsonArray(text, pos)
    for _ in array:
        pass
    return array.end


_PLAIN_LIST: Mapping[str, Any] = {"kind": "List"}


class _GuessedItems:
    """The items of an array read as a List's before the kind was known (see ``guess_items``)."""

    __slots__ = ("complete", "end", "error", "result", "start")

    def __init__(self, start: int, result: ParseResult) -> None:
        self.start = start
        self.end = -1
        self.result = result
        self.error: ParseError | None = None
        self.complete = True


class _JsonReader:
    """Reads a stream of JSON values, decoding the items of a List one at a time.

    ``json.loads`` on a 200 MB List would hold every item as dicts at once; here only one item is
    decoded at a time and turned into a model before the next.
    """

    def __init__(self, text: str, out: _Collector) -> None:
        self.text = text
        self.out = out

    def read(self, start: int) -> None:
        """Read every value from ``start`` to the end of the text."""
        text, out = self.text, self.out
        pos = _skip_space(text, start)
        document = 0
        while pos < len(text):
            out.document = document
            if text.startswith("[", pos):
                array = _JsonArray(text, pos)
                for value in array:
                    out.document = document
                    out.handle(value, document)
                    document += 1
                pos = array.end
            elif text.startswith("{", pos):
                pos = self.object(pos, document)
                document += 1
            else:
                value, pos = _DECODER.raw_decode(text, pos)
                out.handle(value, document)
                document += 1
            pos = _skip_space(text, pos)

    def object(self, pos: int, document: int) -> int:
        """Read the top-level object at ``pos``; return the position after it."""
        text, out = self.text, self.out
        members: dict[str, Any] = {}
        guess: _GuessedItems | None = None
        streamed = False
        pos = _skip_space(text, pos + 1)
        while not text.startswith("}", pos):
            if not text.startswith('"', pos):
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, pos)
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip_space(text, pos)
            if not text.startswith(":", pos):
                raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
            pos = _skip_space(text, pos + 1)
            if key == "items" and text.startswith("[", pos):
                members.pop("items", None)
                kind = members.get("kind")
                if _is_list_kind(kind) and (kind == "List" or "apiVersion" in members):
                    pos = self.items(pos, members, document)
                    streamed, guess = True, None
                else:
                    guess = self.guess_items(pos, document)
                    pos, streamed = guess.end, False
            else:
                if key == "items":
                    streamed, guess = False, None
                members[key], pos = _DECODER.raw_decode(text, pos)
            pos = _skip_space(text, pos)
            if text.startswith(",", pos):
                pos = _skip_space(text, pos + 1)
            elif not text.startswith("}", pos):
                raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        if guess is not None and _is_list_kind(members.get("kind")):
            if not guess.complete:
                self.items(guess.start, members, document)
            elif guess.error is not None:
                raise guess.error
            else:
                out.result.extend(guess.result)
        elif guess is not None:
            members["items"], _ = _DECODER.raw_decode(text, guess.start)
            out.handle(members, document)
        elif not streamed:
            out.handle(members, document)
        return pos + 1

    def guess_items(self, pos: int, document: int) -> _GuessedItems:
        """Read an ``items`` array met before the object's kind, as the items of a List.

        kubectl writes keys in alphabetical order, so a List's kind comes after its items; reading
        them now saves decoding them twice. Items without their own kind and apiVersion (those of a
        typed list such as ``VirtualServiceList``) need the List's, and are decoded again later.
        """
        buffer = _Collector(self.out.file)
        guess = _GuessedItems(pos, buffer.result)
        array = _JsonArray(self.text, pos)
        for i, item in enumerate(array):
            if guess.error is not None or not guess.complete:
                continue
            if not isinstance(item, Mapping) or item.get("kind") is None or item.get("apiVersion") is None:
                guess.complete = False
                continue
            try:
                buffer.item(_PLAIN_LIST, i, item, document, "")
            except ParseError as error:
                guess.error = error
        guess.end = array.end
        return guess

    def items(self, pos: int, owner: dict[str, Any], document: int) -> int:
        array = _JsonArray(self.text, pos)
        for i, item in enumerate(array):
            self.out.item(owner, i, item, document, "")
        return array.end


# --- YAML ----------------------------------------------------------------------------------

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_KEPT_AS_TEXT = frozenset({_STR_TAG, "tag:yaml.org,2002:timestamp"})
_CONSTRUCTED = frozenset({"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                          "tag:yaml.org,2002:float", "tag:yaml.org,2002:binary"})
_SEQ_TAGS = frozenset({None, "!", "tag:yaml.org,2002:seq"})
_MAP_TAGS = frozenset({None, "!", "tag:yaml.org,2002:map"})
_MERGE = object()
_NO_KEY = object()
_PLAIN_CACHE = 100_000  # distinct plain scalars remembered per stream (their values are immutable)


class _Frame:
    __slots__ = ("anchor", "container", "key", "merges", "start")

    def __init__(self, container: list[Any] | dict[Any, Any], anchor: str | None, start: int) -> None:
        self.container = container
        self.anchor = anchor
        self.key: Any = _NO_KEY
        self.merges: list[Any] | None = None
        self.start = start


def _yaml_error(error: yaml.YAMLError, source: str | bytes) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        what = ", ".join(_one_line(p) for p in (error.context, error.problem) if p)
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"invalid YAML: {what or 'syntax error'}{where}"
    if isinstance(error, yaml.reader.ReaderError):
        char = error.character
        code = ord(char) if isinstance(char, str) else int(char)
        # libyaml gives an offset into the UTF-8 bytes; for ASCII text that is also the character
        pos = min(int(error.position), len(source))
        if isinstance(source, str):
            line, column = source.count("\n", 0, pos) + 1, pos - source.rfind("\n", 0, pos)
        else:
            line, column = source.count(b"\n", 0, pos) + 1, pos - source.rfind(b"\n", 0, pos)
        return (f"invalid YAML: {_one_line(str(error.reason))} (character #x{code:04x}) at line {line}, "
                f"column {column}")
    return f"invalid YAML: {_one_line(str(error))}"


def _yaml_documents(text: str | bytes, file: str) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, value)`` for each document of a YAML stream.

    Built from the parser's events rather than with ``yaml.load_all``: the C composer recurses
    once per nesting level and crashes on deep input, and aliases could expand a small document
    into billions of nodes. Here depth is bounded by :data:`MAX_YAML_DEPTH` and alias expansion by
    the document's own size.
    """
    loader: Any = yaml.CSafeLoader(text) if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader(text)
    get_event = loader.get_event
    resolve = loader.resolve
    constructors = loader.yaml_constructors
    stack: list[_Frame] = []
    anchors: dict[str, tuple[Any, int]] = {}
    plain: dict[str, Any] = {}
    document = -1
    nodes = expanded = 0
    root: Any = None

    def fail(problem: str, mark: Any) -> NoReturn:
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ParseError(f"invalid YAML: {problem}{where}", file=file,
                         document=document if document >= 0 else None)

    try:
        while True:
            event = get_event()
            cls = type(event)
            anchor = None
            if cls is ScalarEvent:
                nodes += 1
                expanded += 1
                anchor = event.anchor
                tag = event.tag
                scalar: str = event.value
                # A plain scalar's value depends on its text alone: resolved and built once per
                # distinct text (Kubernetes YAML repeats its keys and values; most events are these).
                cacheable = tag is None and event.implicit[0]
                value: Any = plain.get(scalar, _NO_KEY) if cacheable else _NO_KEY
                if value is _NO_KEY:
                    if tag is None or tag == "!":
                        tag = resolve(ScalarNode, scalar, event.implicit) if event.implicit[0] else _STR_TAG
                    if tag in _KEPT_AS_TEXT:
                        value = scalar
                    elif tag in _CONSTRUCTED:
                        value = constructors[tag](loader, ScalarNode(tag, scalar))
                    elif tag == _MERGE_TAG:
                        # only a mapping key merges; anywhere else `<<` is just text
                        key_position = bool(stack) and type(stack[-1].container) is dict and stack[-1].key is _NO_KEY
                        value = _MERGE if key_position else scalar
                        cacheable = False
                    else:
                        fail(f"unsupported tag {tag}", event.start_mark)
                    if cacheable and len(plain) < _PLAIN_CACHE:
                        plain[scalar] = value
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                nodes += 1
                expanded += 1
                if event.tag not in (_MAP_TAGS if cls is MappingStartEvent else _SEQ_TAGS):
                    fail(f"unsupported tag {event.tag}", event.start_mark)
                if len(stack) >= MAX_YAML_DEPTH:
                    fail(f"nested deeper than {MAX_YAML_DEPTH} levels", event.start_mark)
                stack.append(_Frame({} if cls is MappingStartEvent else [], event.anchor, expanded))
                continue
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                frame = stack.pop()
                value = frame.container
                if frame.merges:
                    for merged in frame.merges:
                        for k, v in merged.items():
                            value.setdefault(k, v)
                if frame.anchor is not None:
                    anchors[frame.anchor] = (value, expanded - frame.start + 1)
            elif cls is AliasEvent:
                if event.anchor not in anchors:
                    fail(f"found undefined alias {event.anchor!r}", event.start_mark)
                value, weight = anchors[event.anchor]
                expanded += weight
                if expanded > 10 * nodes + 100_000:
                    fail("aliases expand the document to more than ten times its size; "
                         "write the repeated parts out", event.start_mark)
            elif cls is DocumentStartEvent:
                document += 1
                anchors = {}
                nodes = expanded = 0
                root = None
                continue
            elif cls is DocumentEndEvent:
                yield document, root
                root = None
                continue
            elif cls is StreamEndEvent:
                return
            else:
                continue
            if anchor is not None:
                anchors[anchor] = (value, 1)
            if not stack:
                root = value
                continue
            top = stack[-1]
            container = top.container
            if type(container) is list:
                container.append(value)
            elif top.key is _NO_KEY:
                if isinstance(value, list | dict):
                    fail("a mapping key must be a scalar", event.start_mark)
                top.key = value
            else:
                if top.key is _MERGE:
                    merged = value if isinstance(value, list) else [value]
                    if not all(isinstance(m, dict) for m in merged):
                        fail("a merge key (<<) takes a mapping or a list of mappings", event.start_mark)
                    top.merges = (top.merges or []) + merged
                else:
                    container[top.key] = value
                top.key = _NO_KEY
    except yaml.YAMLError as error:
        raise ParseError(_yaml_error(error, text), file=file,
                         document=document if document >= 0 else None) from None
    finally:
        loader.dispose()


def parse_stream(data: str | bytes, *, file: str = "<input>") -> ParseResult:
    """Parse a stream of Kubernetes manifests: multi-document YAML, or JSON.

    Input whose first non-blank character is ``{`` or ``[`` is read as JSON (a top-level array is
    a list of documents; several values may follow each other); anything else as YAML. Empty
    documents are ignored; ``kind: List`` (and typed lists such as ``VirtualServiceList``) are
    expanded, their items keeping the List's document index. Work and memory grow linearly with
    the input: the items of a JSON List are decoded one at a time.

    Args:
        data: The stream; bytes must be UTF-8.
        file: What to call the source in messages (``-`` for stdin).

    Returns:
        The resources, findings and skipped documents, in order.

    Raises:
        ParseError: The stream or one of its documents cannot be read; the message is one line
            naming the file, the document index and the field.
    """
    raw: bytes | None = None
    if isinstance(data, str):
        text = data
    else:
        raw = bytes(data)
        del data
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ParseError(f"not UTF-8 text at byte {error.start}; save the file as UTF-8",
                             file=file) from None
    out = _Collector(file)
    first = _NON_SPACE.search(text, 1 if text.startswith("\ufeff") else 0)
    if first is None:
        return out.result
    # Millions of small acyclic objects (dicts, then models): the cyclic collector would walk all of
    # them again and again (a 39 MB file: 40% of the read). Reference counting still frees them.
    with gc_paused():
        try:
            if text[first.start()] in "{[":
                del raw
                try:
                    _JsonReader(text, out).read(first.start())
                except json.JSONDecodeError as error:
                    raise ParseError(f"invalid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
                                     file=file, document=out.document) from None
            else:
                # libyaml reads UTF-8 bytes as they are; a str would be encoded again (a second copy)
                source: str | bytes = text if raw is None else raw
                del text, raw
                for document, value in _yaml_documents(source, file):
                    out.document = document
                    if value is not None:
                        out.handle(value, document)
        except UnicodeEncodeError as error:
            raise ParseError(f"the text holds {error.object[error.start:error.end]!r}, which is not valid "
                             f"Unicode", file=file) from None
        except RecursionError:
            raise ParseError("nested too deeply to read", file=file, document=out.document) from None
    return out.result


def load_documents(data: str | bytes, *, file: str = "<input>") -> list[Any]:
    """Decode a YAML or JSON stream into its raw documents, for writing them back to an API.

    The same reader as :func:`parse_stream` (bounded nesting, no alias bombs), without typing the
    objects: what ``kubectl apply -f`` would send. Empty documents are dropped; a top-level JSON
    array is a list of documents.

    Args:
        data: The stream; bytes must be UTF-8.
        file: What to call the source in messages.

    Returns:
        The documents, in order.

    Raises:
        ParseError: The stream cannot be read.
    """
    try:
        text = data.decode("utf-8", errors="strict") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise ParseError(f"not UTF-8 text at byte {error.start}; save the file as UTF-8", file=file) from None
    first = _NON_SPACE.search(text, 1 if text.startswith("\ufeff") else 0)
    if first is None:
        return []
    if text[first.start()] in "{[":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ParseError(f"invalid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
                             file=file) from None
        except RecursionError:
            raise ParseError("nested too deeply to read", file=file) from None
        return [v for v in (value if isinstance(value, list) else [value]) if v is not None]
    try:
        return [value for _, value in _yaml_documents(text, file) if value is not None]
    except RecursionError:
        raise ParseError("nested too deeply to read", file=file) from None


def _refuse_constant(name: str) -> Any:
    # Go's encoding/json (which the apiserver decodes with) has no NaN or Infinity literals; Python's
    # json accepts them, and one stored NaN makes every later JSON answer unreadable to kubectl.
    what = "'I' in numeric literal" if name.startswith("-") else f"{name[0]!r} looking for beginning of value"
    raise ValueError(f"invalid character {what}")


def _check_value(value: Any, file: str) -> None:
    """Refuse what JSON cannot carry (NaN, infinities) and nesting deeper than :data:`MAX_YAML_DEPTH`.

    Iterative, so a deep value cannot exhaust the interpreter's stack while being checked.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                shown = "NaN" if item != item else ("+Inf" if item > 0 else "-Inf")  # Go's strconv spelling
                raise ParseError(f"json: unsupported value: {shown}", file=file)
        elif isinstance(item, dict | list):
            if depth > MAX_YAML_DEPTH:
                raise ParseError(f"exceeded max depth: nested deeper than {MAX_YAML_DEPTH} levels", file=file)
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))


def load_document(data: str | bytes, *, file: str = "<input>", yaml_allowed: bool = True) -> Any:
    """Decode exactly one JSON (or YAML) value, as an API server decodes a request body.

    Stricter than :func:`load_documents`: what Go's encoding/json would refuse is refused here too
    (``NaN``, ``Infinity``, including YAML's ``.nan``/``.inf``), nesting is bounded by
    :data:`MAX_YAML_DEPTH` for JSON as for YAML, and YAML aliases are bounded as in every YAML this
    module reads (an alias may not expand a document past ten times its own size plus 100,000
    nodes). A value is checked after decoding, so nothing half-read is ever returned.

    Args:
        data: The body; bytes must be UTF-8.
        file: What to call the source in messages.
        yaml_allowed: Read YAML when the text does not start like JSON; False reads JSON only.

    Returns:
        The value (None for YAML with no document).

    Raises:
        ParseError: The body is not one readable JSON/YAML value; the problem is worded like the
            apiserver's (``invalid character 'N' looking for beginning of value``).
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise ParseError(f"not UTF-8 text at byte {error.start}", file=file) from None
    first = _NON_SPACE.search(text, 1 if text.startswith("\ufeff") else 0)
    if first is None:
        raise ParseError("the body is empty", file=file)
    value: Any
    try:
        json_error: json.JSONDecodeError | None = None
        if not yaml_allowed or text[first.start()] in "{[":
            try:
                value = json.loads(text[first.start():], parse_constant=_refuse_constant)
            except json.JSONDecodeError as error:
                json_error = error
            except ValueError as error:
                raise ParseError(str(error), file=file) from None
            if json_error is not None and not yaml_allowed:
                raise ParseError(f"invalid JSON: {json_error.msg} at line {json_error.lineno}, "
                                 f"column {json_error.colno}", file=file)
        if yaml_allowed and (json_error is not None or text[first.start()] not in "{["):
            # YAML flow style (`{name: x}`) starts like JSON too
            documents = [v for _, v in _yaml_documents(text, file) if v is not None]
            if len(documents) > 1:
                raise ParseError(f"expected one YAML document, found {len(documents)}", file=file)
            value = documents[0] if documents else None
    except RecursionError:
        raise ParseError(f"exceeded max depth: nested deeper than {MAX_YAML_DEPTH} levels", file=file) from None
    _check_value(value, file)
    return value


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply a JSON merge patch (RFC 7386), as ``kubectl patch --type merge`` does.

    The seed scenario's ``settings-patch.yaml`` is such a patch: it has no kind and is applied to
    the ``gloo-system/default`` Settings, not read as a manifest.

    Args:
        target: The document to patch (not modified).
        patch: The patch; ``null`` values delete keys.

    Returns:
        The patched document (new mappings wherever the patch reaches).
    """
    if not isinstance(patch, Mapping):
        return patch
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out
