"""The per-kind builders: one decoded Kubernetes object -> one typed resource (or a skipped entry).

Holds :func:`parse_object` and the builders of every kind gloo_nb reads (VirtualService,
RouteTable, Gateway, Upstream, Settings, Service, Endpoints, Pod) and their messages. Knows nothing
of streams, Lists or text formats: :mod:`._collect` feeds it objects, whatever they were read from.
"""

from __future__ import annotations

import base64
import binascii
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gloo_nb.errors import ParseError
from gloo_nb.models.certs import certificate_info
from gloo_nb.models.codec._fields import (
    CIDR_RANGE,
    CIRCUIT_BREAKERS,
    COMMON_HTTP_PROTOCOL_OPTIONS,
    CONNECTION_CONFIG,
    CUSTOM_HEALTH_CHECK,
    DELEGATE,
    DELEGATED_HTTP_GATEWAY,
    DELEGATED_SELECTION,
    DELEGATED_TCP_GATEWAY,
    DELEGATION_TYPES,
    DESTINATION,
    DESTINATION_TYPES,
    DESTINATIONS,
    DIRECT_RESPONSE,
    ENDPOINT_ADDRESS,
    ENDPOINT_PORT,
    ENDPOINT_SUBSET,
    ENDPOINTS_TOP,
    EXPRESSION,
    FALLBACK_POLICIES,
    GATEWAY_MATCHER,
    GATEWAY_OPTIONS,
    GATEWAY_SPEC,
    GATEWAY_TYPES,
    GLOO_OPTIONS,
    GRPC_HEALTH_CHECK,
    HEADER,
    HEALTH_CHECK,
    HEALTH_CHECKERS,
    HTTP1_PROTOCOL_OPTIONS,
    HTTP_GATEWAY,
    HTTP_HEALTH_CHECK,
    HYBRID_GATEWAY,
    INT64_MAX,
    INT64_MIN,
    INVALID_CONFIG_POLICY,
    KUBE_DESTINATION,
    KUBE_UPSTREAM,
    LABEL_SELECTOR,
    LOAD_BALANCER_CONFIG,
    MATCHABLE_HTTP_GATEWAY_SPEC,
    MATCHABLE_TCP_GATEWAY_SPEC,
    MATCHED_GATEWAY,
    MATCHED_GATEWAY_TYPES,
    MATCHER,
    META,
    MULTI,
    NOTHING,
    OBJECT_REFERENCE,
    OPERATORS,
    OPTION_RESOURCE_SPEC,
    OPTIONS_REFS,
    OUTLIER_DETECTION,
    PATH_REWRITES,
    PATH_SPECIFIERS,
    PRECONNECT_POLICY,
    PROTOCOL_SELECTIONS,
    QUERY,
    REDIRECT,
    REDIRECT_CODES,
    REF,
    ROUTE,
    ROUTE_ACTION,
    ROUTE_ACTIONS,
    RT_SPEC,
    SECRET_TOP,
    SELECTOR,
    SERVICE_PORT,
    SERVICE_SPEC,
    SETTINGS_SPEC,
    STATIC_HOST,
    STATIC_UPSTREAM,
    SUBSET,
    SUBSET_SELECTOR,
    SUBSET_SPEC,
    TCP_ACTIONS,
    TCP_GATEWAY,
    TCP_HEALTH_CHECK,
    TCP_HOST,
    TCP_KEEPALIVE,
    TCP_LISTENER_OPTIONS,
    TOP,
    UNMODELLED_UPSTREAM_FIELDS,
    UPSTREAM_GROUP_SPEC,
    UPSTREAM_OPTIONS,
    UPSTREAM_SPEC,
    UPSTREAM_TYPES,
    VALIDATION,
    VIRTUAL_HOST,
    VS_EXPRESSIONS,
    VS_OPTIONS,
    VS_SPEC,
    WEIGHTED,
)
from gloo_nb.models.codec._reader import (
    Reader,
    describe,
    join_path,
    key_path,
)
from gloo_nb.models.codec._yaml_events import yaml_documents
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
    LabelSelector,
    Location,
    MatchableHttpGateway,
    MatchableTcpGateway,
    Matcher,
    Namespace,
    ObjectMeta,
    Pod,
    QueryParameterMatcher,
    RedirectAction,
    Resource,
    ResourceKey,
    ResourceRef,
    Route,
    RouteAction,
    RouteOption,
    RouteTable,
    RouteTableSelector,
    Secret,
    SelectorExpression,
    Service,
    ServicePort,
    Settings,
    StaticHost,
    StaticUpstreamSpec,
    SubsetSelector,
    SubsetSpec,
    TlsSecret,
    Upstream,
    UpstreamGroup,
    UpstreamOptions,
    ValidationSettings,
    VirtualHost,
    VirtualHostOption,
    VirtualService,
    WeightedDestination,
)


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



def _versions(kind: str) -> tuple[str, ...]:
    group = API_GROUPS[kind]
    return (f"{group}/v1",) if group else ("v1",)



def _ref(r: Reader, value: Any, path: str, *, check: bool = True) -> ResourceRef:
    m = r.obj(value, path, REF) if check else r.mapping(value, path)
    return ResourceRef(name=r.string(m.get("name"), path, "name"),
                       namespace=r.string(m.get("namespace"), path, "namespace"))


def _refs(r: Reader, value: Any, path: str, name: str) -> tuple[ResourceRef, ...]:
    where = join_path(path, name)
    return tuple(_ref(r, v, f"{where}[{i}]") for i, v in enumerate(r.seq(value, path, name)))


def _options_refs(r: Reader, value: Any, path: str) -> tuple[ResourceRef, ...]:
    where = join_path(path, "optionsConfigRefs")
    m = r.opt_obj(value, where, OPTIONS_REFS)
    return () if m is None else _refs(r, m.get("delegateOptions"), where, "delegateOptions")


def _expression(r: Reader, value: Any, path: str) -> SelectorExpression:
    m = r.obj(value, path, EXPRESSION)
    operator = m.get("operator")
    if operator is None:
        operator = "Equals"
    elif isinstance(operator, int) and not isinstance(operator, bool):
        operator = r.enum(operator, path, "operator", OPERATORS) or OPERATORS[0]
    elif not isinstance(operator, str):
        # kept as written when it is a string, so that translate reports Gloo's own message
        r.fail(join_path(path, "operator"), f"expected one of {', '.join(OPERATORS)}, got {describe(operator)}")
    return SelectorExpression(key=r.string(m.get("key"), path, "key"), operator=operator,
                              values=r.strings(m.get("values"), path, "values"))


def _expressions(r: Reader, value: Any, path: str, name: str) -> tuple[SelectorExpression, ...]:
    where = join_path(path, name)
    return tuple(_expression(r, v, f"{where}[{i}]") for i, v in enumerate(r.seq(value, path, name)))


# --- routes --------------------------------------------------------------------------------


def _matcher(r: Reader, value: Any, path: str) -> Matcher:
    m = r.obj(value, path, MATCHER)
    r.oneof(m, path, PATH_SPECIFIERS)
    connect = m.get("connectMatcher")
    if connect is not None:
        r.obj(connect, join_path(path, "connectMatcher"), NOTHING)
    headers = join_path(path, "headers")
    query = join_path(path, "queryParameters")
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


def _header(r: Reader, value: Any, path: str) -> HeaderMatcher:
    m = r.obj(value, path, HEADER)
    return HeaderMatcher(name=r.string(m.get("name"), path, "name"),
                         value=r.string(m.get("value"), path, "value"),
                         regex=r.boolean(m.get("regex"), path, "regex"),
                         invert_match=r.boolean(m.get("invertMatch"), path, "invertMatch"))


def _query(r: Reader, value: Any, path: str) -> QueryParameterMatcher:
    m = r.obj(value, path, QUERY)
    return QueryParameterMatcher(name=r.string(m.get("name"), path, "name"),
                                 value=r.string(m.get("value"), path, "value"),
                                 regex=r.boolean(m.get("regex"), path, "regex"))


def _destination(r: Reader, value: Any, path: str) -> Destination:
    m = r.obj(value, path, DESTINATION)
    kind = r.oneof(m, path, DESTINATION_TYPES)
    upstream = kube = consul = None
    if kind == "upstream":
        upstream = _ref(r, m["upstream"], join_path(path, "upstream"))
    elif kind == "kube":
        where = join_path(path, "kube")
        k = r.obj(m["kube"], where, KUBE_DESTINATION)
        ref = k.get("ref")
        kube = KubeServiceDestination(
            ref=ResourceRef("") if ref is None else _ref(r, ref, join_path(where, "ref")),
            port=r.uint32(k.get("port"), where, "port") or 0)
    elif kind == "consul":
        consul = r.raw(m["consul"], path, "consul")
    where = join_path(path, "subset")
    subset = r.opt_obj(m.get("subset"), where, SUBSET)
    return Destination(
        upstream=upstream, kube=kube, consul=consul,
        subset=None if subset is None else r.string_map(subset.get("values"), where, "values"),
        destination_spec=r.raw(m.get("destinationSpec"), path, "destinationSpec"),
    )


def _weighted(r: Reader, value: Any, path: str) -> WeightedDestination:
    m = r.obj(value, path, WEIGHTED)
    dest = m.get("destination")
    return WeightedDestination(
        destination=Destination() if dest is None else _destination(r, dest, join_path(path, "destination")),
        weight=r.uint32(m.get("weight"), path, "weight"),
        options=r.raw_or_empty(m.get("options"), path, "options"),
    )


def _route_action(r: Reader, value: Any, path: str) -> RouteAction:
    m = r.obj(value, path, ROUTE_ACTION)
    kind = r.oneof(m, path, DESTINATIONS)
    single = multi = group = None
    if kind == "single":
        single = _destination(r, m["single"], join_path(path, "single"))
    elif kind == "multi":
        where = join_path(path, "multi")
        mm = r.obj(m["multi"], where, MULTI)
        dests = join_path(where, "destinations")
        multi = tuple(_weighted(r, v, f"{dests}[{i}]")
                      for i, v in enumerate(r.seq(mm.get("destinations"), where, "destinations")))
    elif kind == "upstreamGroup":
        group = _ref(r, m["upstreamGroup"], join_path(path, "upstreamGroup"))
    return RouteAction(
        single=single, multi=multi, upstream_group=group,
        cluster_header=r.opt_string(m.get("clusterHeader"), path, "clusterHeader"),
        dynamic_forward_proxy=r.raw(m.get("dynamicForwardProxy"), path, "dynamicForwardProxy"),
    )


def _redirect(r: Reader, value: Any, path: str) -> RedirectAction:
    m = r.obj(value, path, REDIRECT)
    r.oneof(m, path, PATH_REWRITES)
    return RedirectAction(
        host_redirect=r.string(m.get("hostRedirect"), path, "hostRedirect"),
        path_redirect=r.opt_string(m.get("pathRedirect"), path, "pathRedirect"),
        prefix_rewrite=r.opt_string(m.get("prefixRewrite"), path, "prefixRewrite"),
        regex_rewrite=r.raw(m.get("regexRewrite"), path, "regexRewrite"),
        response_code=(r.enum(m.get("responseCode"), path, "responseCode", REDIRECT_CODES)
                       or REDIRECT_CODES[0]),
        https_redirect=r.boolean(m.get("httpsRedirect"), path, "httpsRedirect"),
        strip_query=r.boolean(m.get("stripQuery"), path, "stripQuery"),
        port_redirect=r.uint32(m.get("portRedirect"), path, "portRedirect"),
    )


def _direct_response(r: Reader, value: Any, path: str) -> DirectResponseAction:
    m = r.obj(value, path, DIRECT_RESPONSE)
    return DirectResponseAction(status=r.uint32(m.get("status"), path, "status") or 0,
                                body=r.string(m.get("body"), path, "body"))


def _delegate(r: Reader, value: Any, path: str) -> DelegateAction:
    m = r.obj(value, path, DELEGATE)
    kind = r.oneof(m, path, DELEGATION_TYPES)
    ref = selector = None
    if kind == "ref":
        ref = _ref(r, m["ref"], join_path(path, "ref"))
    elif kind == "selector":
        where = join_path(path, "selector")
        s = r.obj(m["selector"], where, SELECTOR)
        selector = RouteTableSelector(namespaces=r.strings(s.get("namespaces"), where, "namespaces"),
                                      labels=r.string_map(s.get("labels"), where, "labels"),
                                      expressions=_expressions(r, s.get("expressions"), where, "expressions"))
    return DelegateAction(name=r.string(m.get("name"), path, "name"),
                          namespace=r.string(m.get("namespace"), path, "namespace"),
                          ref=ref, selector=selector)


def _route(r: Reader, value: Any, path: str, index: int) -> Route:
    m = r.obj(value, path, ROUTE)
    action = r.oneof(m, path, ROUTE_ACTIONS)
    unmodelled_action = ""
    if action is not None and action.startswith("graphql"):
        # GraphQL actions (Gloo Enterprise): declared by the translator (translate/unmodelled.py).
        r.mapping(m[action], join_path(path, action))
        unmodelled_action = action
    matchers = join_path(path, "matchers")
    return Route(
        matchers=tuple(_matcher(r, v, f"{matchers}[{i}]")
                       for i, v in enumerate(r.seq(m.get("matchers"), path, "matchers"))),
        inheritable_matchers=r.opt_bool(m.get("inheritableMatchers"), path, "inheritableMatchers"),
        inheritable_path_matchers=r.opt_bool(m.get("inheritablePathMatchers"), path,
                                             "inheritablePathMatchers"),
        route_action=_route_action(r, m[action], join_path(path, action)) if action == "routeAction" else None,
        redirect_action=_redirect(r, m[action], join_path(path, action)) if action == "redirectAction" else None,
        direct_response_action=(_direct_response(r, m[action], join_path(path, action))
                                if action == "directResponseAction" else None),
        delegate_action=_delegate(r, m[action], join_path(path, action)) if action == "delegateAction" else None,
        options=r.raw_or_empty(m.get("options"), path, "options"),
        name=r.string(m.get("name"), path, "name"),
        options_config_refs=_options_refs(r, m.get("optionsConfigRefs"), path),
        index=index,
        unmodelled_action=unmodelled_action,
    )


def _routes(r: Reader, value: Any, path: str) -> tuple[Route, ...]:
    where = join_path(path, "routes")
    return tuple(_route(r, v, f"{where}[{i}]", i) for i, v in enumerate(r.seq(value, path, "routes")))


# --- kinds ---------------------------------------------------------------------------------


def _virtual_service(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", VS_SPEC)
    if s is None:
        return VirtualService(meta=meta, status=status)
    vh_value = s.get("virtualHost")
    vh = None
    if vh_value is not None:
        where = "spec.virtualHost"
        v = r.obj(vh_value, where, VIRTUAL_HOST)
        vh = VirtualHost(domains=r.strings(v.get("domains"), where, "domains"),
                         routes=_routes(r, v.get("routes"), where),
                         options=r.raw_or_empty(v.get("options"), where, "options"),
                         options_config_refs=_options_refs(r, v.get("optionsConfigRefs"), where))
    return VirtualService(meta=meta, virtual_host=vh,
                          ssl_config=r.raw(s.get("sslConfig"), "spec", "sslConfig"),
                          display_name=r.string(s.get("displayName"), "spec", "displayName"),
                          status=status)


def _route_table(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", RT_SPEC)
    if s is None:
        return RouteTable(meta=meta, status=status)
    return RouteTable(meta=meta, routes=_routes(r, s.get("routes"), "spec"),
                      weight=r.int32(s.get("weight"), "spec", "weight"), status=status)


def _http_gateway(r: Reader, value: Any, where: str) -> HttpGateway:
    h = r.obj(value, where, HTTP_GATEWAY)
    exprs = r.opt_obj(h.get("virtualServiceExpressions"), join_path(where, "virtualServiceExpressions"),
                      VS_EXPRESSIONS)
    return HttpGateway(
        virtual_services=_refs(r, h.get("virtualServices"), where, "virtualServices"),
        virtual_service_selector=r.string_map(h.get("virtualServiceSelector"), where,
                                              "virtualServiceSelector"),
        virtual_service_expressions=None if exprs is None else _expressions(
            r, exprs.get("expressions"), join_path(where, "virtualServiceExpressions"), "expressions"),
        virtual_service_namespaces=r.strings(h.get("virtualServiceNamespaces"), where,
                                             "virtualServiceNamespaces"),
        options=r.raw_or_empty(h.get("options"), where, "options"),
    )


def _tcp_gateway(r: Reader, value: Any, where: str) -> Mapping[str, Any]:
    # Kept as protobuf JSON for the translator, but checked field by field (unknown fields are findings,
    # snake_case keys become lowerCamel, two members of a oneof fail) as every other Gloo message.
    t = dict(r.obj(value, where, TCP_GATEWAY))
    hosts = []
    for i, h in enumerate(r.seq(t.get("tcpHosts"), where, "tcpHosts")):
        hp = f"{join_path(where, 'tcpHosts')}[{i}]"
        host = dict(r.obj(h, hp, TCP_HOST))
        r.string(host.get("name"), hp, "name")
        r.raw(host.get("sslConfig"), hp, "sslConfig")
        if host.get("destination") is not None:
            dp = join_path(hp, "destination")
            action = dict(r.obj(host["destination"], dp, TCP_ACTIONS.members))
            kind = r.oneof(action, dp, TCP_ACTIONS)
            if kind == "single":
                action["single"] = r.obj(action["single"], join_path(dp, "single"), DESTINATION)
            elif kind == "multi":
                mp = join_path(dp, "multi")
                multi = r.obj(action["multi"], mp, MULTI)
                weighted = []
                for j, wd in enumerate(r.seq(multi.get("destinations"), mp, "destinations")):
                    wp = f"{join_path(mp, 'destinations')}[{j}]"
                    w = dict(r.obj(wd, wp, WEIGHTED))
                    w["destination"] = r.obj(w.get("destination"), join_path(wp, "destination"), DESTINATION)
                    r.uint32(w.get("weight"), wp, "weight")
                    weighted.append(w)
                action["multi"] = {"destinations": weighted}
            elif kind == "upstreamGroup":
                _ref(r, action["upstreamGroup"], join_path(dp, "upstreamGroup"))
            host["destination"] = action
        hosts.append(host)
    if "tcpHosts" in t:
        t["tcpHosts"] = hosts
    if t.get("options") is not None:
        t["options"] = r.obj(t["options"], join_path(where, "options"), TCP_LISTENER_OPTIONS)
    return t


def _gateway_matcher(r: Reader, value: Any, where: str) -> Mapping[str, Any]:
    m = dict(r.obj(value, where, GATEWAY_MATCHER))
    ranges = []
    for i, c in enumerate(r.seq(m.get("sourcePrefixRanges"), where, "sourcePrefixRanges")):
        cp = f"{join_path(where, 'sourcePrefixRanges')}[{i}]"
        cidr = r.obj(c, cp, CIDR_RANGE)
        r.string(cidr.get("addressPrefix"), cp, "addressPrefix")
        r.uint32(cidr.get("prefixLen"), cp, "prefixLen")
        ranges.append(cidr)
    if "sourcePrefixRanges" in m:
        m["sourcePrefixRanges"] = ranges
    r.strings(m.get("passthroughCipherSuites"), where, "passthroughCipherSuites")
    r.raw(m.get("sslConfig"), where, "sslConfig")
    return m


def _delegation(r: Reader, value: Any, where: str, known: frozenset[str]) -> Mapping[str, Any]:
    d = r.obj(value, where, known)
    kind = r.oneof(d, where, DELEGATED_SELECTION)
    if kind == "ref":
        _ref(r, d["ref"], join_path(where, "ref"))
    elif kind == "selector":
        sp = join_path(where, "selector")
        sel = r.obj(d["selector"], sp, SELECTOR)
        r.strings(sel.get("namespaces"), sp, "namespaces")
        r.string_map(sel.get("labels"), sp, "labels")
        _expressions(r, sel.get("expressions"), sp, "expressions")
    return d


def _hybrid_gateway(r: Reader, value: Any, where: str) -> Mapping[str, Any]:
    hybrid = dict(r.obj(value, where, HYBRID_GATEWAY))
    matched = []
    for i, mg in enumerate(r.seq(hybrid.get("matchedGateways"), where, "matchedGateways")):
        mp = f"{join_path(where, 'matchedGateways')}[{i}]"
        m = dict(r.obj(mg, mp, MATCHED_GATEWAY))
        r.oneof(m, mp, MATCHED_GATEWAY_TYPES)
        if m.get("matcher") is not None:
            m["matcher"] = _gateway_matcher(r, m["matcher"], join_path(mp, "matcher"))
        if m.get("tcpGateway") is not None:
            m["tcpGateway"] = _tcp_gateway(r, m["tcpGateway"], join_path(mp, "tcpGateway"))
        # An inline httpGateway is read by the translator through this codec (as a MatchableHttpGateway).
        r.raw(m.get("httpGateway"), mp, "httpGateway")
        matched.append(m)
    if "matchedGateways" in hybrid:
        hybrid["matchedGateways"] = matched
    if hybrid.get("delegatedHttpGateways") is not None:
        hybrid["delegatedHttpGateways"] = _delegation(
            r, hybrid["delegatedHttpGateways"], join_path(where, "delegatedHttpGateways"), DELEGATED_HTTP_GATEWAY)
    if hybrid.get("delegatedTcpGateways") is not None:
        hybrid["delegatedTcpGateways"] = _delegation(
            r, hybrid["delegatedTcpGateways"], join_path(where, "delegatedTcpGateways"), DELEGATED_TCP_GATEWAY)
    return hybrid


def _matchable_http_gateway(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", MATCHABLE_HTTP_GATEWAY_SPEC)
    if s is None:
        return MatchableHttpGateway(meta=meta, status=status)
    http = None if s.get("httpGateway") is None else _http_gateway(r, s["httpGateway"], "spec.httpGateway")
    matcher = {} if s.get("matcher") is None else _gateway_matcher(r, s["matcher"], "spec.matcher")
    return MatchableHttpGateway(meta=meta, matcher=matcher, http_gateway=http, status=status)


def _matchable_tcp_gateway(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", MATCHABLE_TCP_GATEWAY_SPEC)
    if s is None:
        return MatchableTcpGateway(meta=meta, status=status)
    matcher = {} if s.get("matcher") is None else _gateway_matcher(r, s["matcher"], "spec.matcher")
    tcp = {} if s.get("tcpGateway") is None else _tcp_gateway(r, s["tcpGateway"], "spec.tcpGateway")
    return MatchableTcpGateway(meta=meta, matcher=matcher, tcp_gateway=tcp, status=status)


def _upstream_group(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    # projects/gloo/api/v1/proxy.proto UpstreamGroup: a list of WeightedDestinations, read as a multi's.
    s = r.opt_obj(spec, "spec", UPSTREAM_GROUP_SPEC)
    if s is None:
        return UpstreamGroup(meta=meta, status=status)
    items = r.seq(s.get("destinations"), "spec", "destinations")
    dests = tuple(_weighted(r, v, f"spec.destinations[{i}]") for i, v in enumerate(items))
    missing = tuple(i for i, v in enumerate(items) if not isinstance(v, Mapping) or v.get("destination") is None)
    return UpstreamGroup(meta=meta, destinations=dests, nil_destinations=missing, status=status)


def _option_resource_parts(r: Reader, spec: Any) -> tuple[Mapping[str, Any], tuple[Mapping[str, Any], ...]]:
    # external_options.proto: both kinds hold ``options`` (kept raw, like inline options) and ``targetRefs``.
    s = r.opt_obj(spec, "spec", OPTION_RESOURCE_SPEC)
    if s is None:
        return {}, ()
    items = r.seq(s.get("targetRefs"), "spec", "targetRefs")
    refs = tuple(r.mapping(v, f"spec.targetRefs[{i}]") for i, v in enumerate(items))
    return r.raw_or_empty(s.get("options"), "spec", "options"), refs


def _virtual_host_option(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    options, refs = _option_resource_parts(r, spec)
    return VirtualHostOption(meta=meta, options=options, target_refs=refs, status=status)


def _route_option(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    options, refs = _option_resource_parts(r, spec)
    return RouteOption(meta=meta, options=options, target_refs=refs, status=status)


def _gateway(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", GATEWAY_SPEC)
    if s is None:
        return Gateway(meta=meta, status=status)
    r.oneof(s, "spec", GATEWAY_TYPES)
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
        http = _http_gateway(r, s["httpGateway"], "spec.httpGateway")
    return Gateway(meta=meta, options=r.raw_or_empty(s.get("options"), "spec", "options"), http_gateway=http,
                   tcp_gateway=None if s.get("tcpGateway") is None else _tcp_gateway(
                       r, s["tcpGateway"], "spec.tcpGateway"),
                   hybrid_gateway=None if s.get("hybridGateway") is None else _hybrid_gateway(
                       r, s["hybridGateway"], "spec.hybridGateway"),
                   use_proxy_proto=r.opt_bool(s.get("useProxyProto"), "spec", "useProxyProto"),
                   route_options=r.raw_or_empty(s.get("routeOptions"), "spec", "routeOptions"),
                   status=status, **given)


def _kube_upstream(r: Reader, value: Any, path: str) -> KubeUpstreamSpec:
    m = r.obj(value, path, KUBE_UPSTREAM)
    r.raw(m.get("serviceSpec"), path, "serviceSpec")
    subset_spec = None
    where = join_path(path, "subsetSpec")
    ss = r.opt_obj(m.get("subsetSpec"), where, SUBSET_SPEC)
    if ss is not None:
        sels = join_path(where, "selectors")
        selectors = []
        for i, v in enumerate(r.seq(ss.get("selectors"), where, "selectors")):
            sel = r.obj(v, f"{sels}[{i}]", SUBSET_SELECTOR)
            selectors.append(SubsetSelector(
                keys=r.strings(sel.get("keys"), f"{sels}[{i}]", "keys"),
                single_host_per_subset=r.boolean(sel.get("singleHostPerSubset"), f"{sels}[{i}]",
                                                 "singleHostPerSubset")))
        at = join_path(where, "defaultSubset")
        default = r.opt_obj(ss.get("defaultSubset"), at, SUBSET)
        subset_spec = SubsetSpec(
            selectors=tuple(selectors),
            fallback_policy=r.enum(ss.get("fallbackPolicy"), where, "fallbackPolicy", FALLBACK_POLICIES),
            default_subset=None if default is None else r.string_map(default.get("values"), at, "values"))
    return KubeUpstreamSpec(service_name=r.string(m.get("serviceName"), path, "serviceName"),
                            service_namespace=r.string(m.get("serviceNamespace"), path, "serviceNamespace"),
                            service_port=r.uint32(m.get("servicePort"), path, "servicePort") or 0,
                            selector=r.string_map(m.get("selector"), path, "selector"),
                            subset_spec=subset_spec)


def _static_upstream(r: Reader, value: Any, path: str) -> StaticUpstreamSpec:
    m = r.obj(value, path, STATIC_UPSTREAM)
    r.raw(m.get("serviceSpec"), path, "serviceSpec")
    where = join_path(path, "hosts")
    hosts = []
    for i, v in enumerate(r.seq(m.get("hosts"), path, "hosts")):
        at = f"{where}[{i}]"
        h = r.obj(v, at, STATIC_HOST)
        r.raw(h.get("healthCheckConfig"), at, "healthCheckConfig")
        r.raw(h.get("metadata"), at, "metadata")
        hosts.append(StaticHost(addr=r.string(h.get("addr"), at, "addr"),
                                port=r.uint32(h.get("port"), at, "port") or 0,
                                sni_addr=r.string(h.get("sniAddr"), at, "sniAddr"),
                                load_balancing_weight=r.uint32(h.get("loadBalancingWeight"), at,
                                                               "loadBalancingWeight")))
    return StaticUpstreamSpec(hosts=tuple(hosts), use_tls=r.opt_bool(m.get("useTls"), path, "useTls"),
                              auto_sni_rewrite=r.opt_bool(m.get("autoSniRewrite"), path, "autoSniRewrite"))


def _health_check(r: Reader, value: Any, path: str) -> Mapping[str, Any]:
    hc = r.obj(value, path, HEALTH_CHECK)
    r.oneof(hc, path, HEALTH_CHECKERS)
    for name, known in (("httpHealthCheck", HTTP_HEALTH_CHECK), ("tcpHealthCheck", TCP_HEALTH_CHECK),
                        ("grpcHealthCheck", GRPC_HEALTH_CHECK), ("customHealthCheck", CUSTOM_HEALTH_CHECK)):
        r.opt_obj(hc.get(name), join_path(path, name), known)
    return hc


def _upstream_options(r: Reader, s: Mapping[str, Any]) -> UpstreamOptions:
    # Field names are checked here; values are converted (and bad ones reported on the Upstream,
    # as Gloo does) by translate/upstream_options.py.
    circuit = r.opt_obj(s.get("circuitBreakers"), "spec.circuitBreakers", CIRCUIT_BREAKERS)
    conn = r.opt_obj(s.get("connectionConfig"), "spec.connectionConfig", CONNECTION_CONFIG)
    if conn is not None:
        r.opt_obj(conn.get("tcpKeepalive"), "spec.connectionConfig.tcpKeepalive", TCP_KEEPALIVE)
        r.opt_obj(conn.get("commonHttpProtocolOptions"), "spec.connectionConfig.commonHttpProtocolOptions",
                  COMMON_HTTP_PROTOCOL_OPTIONS)
        r.opt_obj(conn.get("http1ProtocolOptions"), "spec.connectionConfig.http1ProtocolOptions",
                  HTTP1_PROTOCOL_OPTIONS)
    lb = r.opt_obj(s.get("loadBalancerConfig"), "spec.loadBalancerConfig", LOAD_BALANCER_CONFIG)
    checks = tuple(_health_check(r, v, f"spec.healthChecks[{i}]")
                   for i, v in enumerate(r.seq(s.get("healthChecks"), "spec", "healthChecks")))
    outlier = r.opt_obj(s.get("outlierDetection"), "spec.outlierDetection", OUTLIER_DETECTION)
    return UpstreamOptions(
        protocol_selection=r.enum(s.get("protocolSelection"), "spec", "protocolSelection", PROTOCOL_SELECTIONS),
        initial_stream_window_size=r.uint32(s.get("initialStreamWindowSize"), "spec", "initialStreamWindowSize"),
        initial_connection_window_size=r.uint32(s.get("initialConnectionWindowSize"), "spec",
                                                "initialConnectionWindowSize"),
        max_concurrent_streams=r.uint32(s.get("maxConcurrentStreams"), "spec", "maxConcurrentStreams"),
        override_stream_error_on_invalid_http_message=r.opt_bool(
            s.get("overrideStreamErrorOnInvalidHttpMessage"), "spec", "overrideStreamErrorOnInvalidHttpMessage"),
        ignore_health_on_host_removal=r.opt_bool(s.get("ignoreHealthOnHostRemoval"), "spec",
                                                 "ignoreHealthOnHostRemoval"),
        circuit_breakers=circuit, connection_config=conn, load_balancer_config=lb, health_checks=checks,
        outlier_detection=outlier, failover=r.raw(s.get("failover"), "spec", "failover"),
        dns_refresh_rate=s.get("dnsRefreshRate"),
        respect_dns_ttl=r.opt_bool(s.get("respectDnsTtl"), "spec", "respectDnsTtl"),
        preconnect_policy=r.opt_obj(s.get("preconnectPolicy"), "spec.preconnectPolicy", PRECONNECT_POLICY),
        unmodelled=(*(k for k in UNMODELLED_UPSTREAM_FIELDS if s.get(k) is not None), *_static_host_extras(s)),
        service_spec=_service_spec(s))


def _service_spec(s: Mapping[str, Any]) -> Mapping[str, Any] | None:
    # kube.serviceSpec / static.serviceSpec (options/service_spec.proto), read raw by the type builders.
    for kind in ("kube", "static"):
        block = s.get(kind)
        spec = block.get("serviceSpec") if isinstance(block, Mapping) else None
        if isinstance(spec, Mapping):
            return spec
    return None


def _static_host_extras(s: Mapping[str, Any]) -> list[str]:
    # static.hosts[].healthCheckConfig / metadata become endpoint metadata (Gloo's advanced_http
    # health checker, user filter metadata) that gloo_nb does not write.
    static = s.get("static")
    hosts = static.get("hosts") if isinstance(static, Mapping) else None
    out = []
    for i, h in enumerate(hosts if isinstance(hosts, list) else ()):
        if isinstance(h, Mapping):
            out += [f"static.hosts[{i}].{k}" for k in ("healthCheckConfig", "metadata") if h.get(k) is not None]
    return out


def _upstream(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", UPSTREAM_SPEC)
    if s is None:
        return Upstream(meta=meta, status=status)
    kind = r.oneof(s, "spec", UPSTREAM_TYPES)
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
                    status=status, options=_upstream_options(r, s))


def _label_selectors(r: Reader, value: Any, path: str, name: str) -> tuple[LabelSelector, ...]:
    # settings.proto (current main) LabelSelector: matchLabels, and matchExpressions whose operator is a
    # plain string (kept as written: settingsutil.labelSelectorAsSelector reports an unknown one).
    where = join_path(path, name)
    out = []
    for i, v in enumerate(r.seq(value, path, name)):
        at = f"{where}[{i}]"
        m = r.obj(v, at, LABEL_SELECTOR)
        exprs = []
        for j, e in enumerate(r.seq(m.get("matchExpressions"), at, "matchExpressions")):
            eat = f"{at}.matchExpressions[{j}]"
            em = r.obj(e, eat, EXPRESSION)
            exprs.append(SelectorExpression(key=r.string(em.get("key"), eat, "key"),
                                            operator=r.string(em.get("operator"), eat, "operator"),
                                            values=r.strings(em.get("values"), eat, "values")))
        out.append(LabelSelector(match_labels=r.string_map(m.get("matchLabels"), at, "matchLabels"),
                                 match_expressions=tuple(exprs)))
    return tuple(out)


def _namespace(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    # Only the labels matter (watchNamespaceSelectors); spec (finalizers) and status (phase) are Kubernetes'.
    if spec is not None:
        r.mapping(spec, "spec")
    return Namespace(meta=meta)


def _settings(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", SETTINGS_SPEC)
    if s is None:
        return Settings(meta=meta, status=status)
    gloo = r.opt_obj(s.get("gloo"), "spec.gloo", GLOO_OPTIONS) or {}
    where = "spec.gloo.invalidConfigPolicy"
    icp = r.opt_obj(gloo.get("invalidConfigPolicy"), where, INVALID_CONFIG_POLICY)
    policy = InvalidConfigPolicy() if icp is None else InvalidConfigPolicy(
        replace_invalid_routes=r.boolean(icp.get("replaceInvalidRoutes"), where, "replaceInvalidRoutes"),
        invalid_route_response_code=r.uint32(icp.get("invalidRouteResponseCode"), where,
                                             "invalidRouteResponseCode") or 0,
        invalid_route_response_body=r.string(icp.get("invalidRouteResponseBody"), where,
                                             "invalidRouteResponseBody"))
    gateway = r.opt_obj(s.get("gateway"), "spec.gateway", GATEWAY_OPTIONS) or {}
    where = "spec.gateway.validation"
    val = r.opt_obj(gateway.get("validation"), where, VALIDATION)
    validation = None if val is None else ValidationSettings(
        always_accept=r.opt_bool(val.get("alwaysAccept"), where, "alwaysAccept"),
        allow_warnings=r.opt_bool(val.get("allowWarnings"), where, "allowWarnings"),
        warn_route_short_circuiting=r.opt_bool(val.get("warnRouteShortCircuiting"), where,
                                               "warnRouteShortCircuiting"),
        proxy_validation_server_addr=r.string(val.get("proxyValidationServerAddr"), where,
                                              "proxyValidationServerAddr"),
        full_envoy_validation=r.opt_bool(val.get("fullEnvoyValidation"), where, "fullEnvoyValidation"),
        warn_missing_tls_secret=r.opt_bool(val.get("warnMissingTlsSecret"), where, "warnMissingTlsSecret"))
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
        virtual_service_one_way_tls=_vs_one_way_tls(r, gateway.get("virtualServiceOptions")),
        watch_namespaces=r.strings(s.get("watchNamespaces"), "spec", "watchNamespaces"),
        watch_namespace_selectors=_label_selectors(r, s.get("watchNamespaceSelectors"), "spec",
                                                   "watchNamespaceSelectors"),
        status=status,
        circuit_breakers=r.opt_obj(gloo.get("circuitBreakers"), "spec.gloo.circuitBreakers", CIRCUIT_BREAKERS),
        upstream_global_annotations=r.string_map(
            (r.opt_obj(s.get("upstreamOptions"), "spec.upstreamOptions", UPSTREAM_OPTIONS) or {}).get(
                "globalAnnotations"), "spec.upstreamOptions", "globalAnnotations"),
        # The default HTTP filters' knobs (translate/http_filters.py); BoolValues read like bools.
        remove_unused_filters=r.opt_bool(gloo.get("removeUnusedFilters"), "spec.gloo", "removeUnusedFilters") or False,
        disable_grpc_web=r.opt_bool(gloo.get("disableGrpcWeb"), "spec.gloo", "disableGrpcWeb"),
        log_transformation_request_response_info=r.opt_bool(
            gloo.get("logTransformationRequestResponseInfo"), "spec.gloo",
            "logTransformationRequestResponseInfo") or False,
        enable_auto_websocket_transformation_passthrough=r.opt_bool(
            gloo.get("enableAutoWebsocketTransformationPassthrough"), "spec.gloo",
            "enableAutoWebsocketTransformationPassthrough") or False,
        extauth=r.raw(s.get("extauth"), "spec", "extauth"),
        ratelimit_server=r.raw(s.get("ratelimitServer"), "spec", "ratelimitServer"),
    )


def _vs_one_way_tls(r: Reader, value: Any) -> bool | None:
    # settings.proto VirtualServiceOptions: only oneWayTls exists.
    where = "spec.gateway.virtualServiceOptions"
    m = r.opt_obj(value, where, VS_OPTIONS)
    return None if m is None else r.opt_bool(m.get("oneWayTls"), where, "oneWayTls")


def _service(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    s = r.opt_obj(spec, "spec", SERVICE_SPEC, proto=False)
    if s is None:
        return Service(meta=meta)
    where = "spec.ports"
    ports = []
    for i, v in enumerate(r.seq(s.get("ports"), "spec", "ports")):
        at = f"{where}[{i}]"
        p = r.obj(v, at, SERVICE_PORT, proto=False)
        if p.get("port") is None:
            r.fail(join_path(at, "port"), "missing: every Service port needs a port number")
        target = p.get("targetPort")
        if target is not None and not isinstance(target, str):
            target = r.kube_int(target, at, "targetPort", 0, 65535)
        protocol = {} if p.get("protocol") is None else {"protocol": r.string(p["protocol"], at, "protocol")}
        ports.append(ServicePort(port=r.kube_int(p["port"], at, "port", 0, 65535), target_port=target,
                                 name=r.string(p.get("name"), at, "name"),
                                 app_protocol=r.opt_string(p.get("appProtocol"), at, "appProtocol"), **protocol))
    kind = {} if s.get("type") is None else {"type": r.string(s["type"], "spec", "type")}
    return Service(meta=meta, ports=tuple(ports),
                   selector=r.string_map(s.get("selector"), "spec", "selector"),
                   cluster_ip=r.string(s.get("clusterIP"), "spec", "clusterIP"), **kind)


def _endpoint_addresses(r: Reader, value: Any, path: str, name: str) -> tuple[EndpointAddress, ...]:
    out = []
    where = join_path(path, name)
    for i, v in enumerate(r.seq(value, path, name)):
        at = f"{where}[{i}]"
        a = r.obj(v, at, ENDPOINT_ADDRESS, proto=False)
        target_name = target_namespace = ""
        ref = a.get("targetRef")
        if ref is not None:
            t = r.obj(ref, join_path(at, "targetRef"), OBJECT_REFERENCE, proto=False)
            # Gloo's EDS only follows targetRefs of kind Pod (plugins/kubernetes/eds.go).
            if r.string(t.get("kind"), join_path(at, "targetRef"), "kind") == "Pod":
                target_name = r.string(t.get("name"), join_path(at, "targetRef"), "name")
                target_namespace = r.string(t.get("namespace"), join_path(at, "targetRef"), "namespace")
        out.append(EndpointAddress(ip=r.string(a.get("ip"), at, "ip"), target_name=target_name,
                                   target_namespace=target_namespace))
    return tuple(out)


def _endpoints(r: Reader, subsets: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    out = []
    for i, v in enumerate(r.seq(subsets, "", "subsets")):
        at = f"subsets[{i}]"
        sub = r.obj(v, at, ENDPOINT_SUBSET, proto=False)
        ports = []
        for j, pv in enumerate(r.seq(sub.get("ports"), at, "ports")):
            pat = f"{at}.ports[{j}]"
            p = r.obj(pv, pat, ENDPOINT_PORT, proto=False)
            if p.get("port") is None:
                r.fail(join_path(pat, "port"), "missing: every endpoint port needs a port number")
            protocol = {} if p.get("protocol") is None else {"protocol": r.string(p["protocol"], pat, "protocol")}
            ports.append(EndpointPort(port=r.kube_int(p["port"], pat, "port", 0, 65535),
                                      name=r.string(p.get("name"), pat, "name"), **protocol))
        out.append(EndpointSubset(
            addresses=_endpoint_addresses(r, sub.get("addresses"), at, "addresses"),
            not_ready_addresses=_endpoint_addresses(r, sub.get("notReadyAddresses"), at, "notReadyAddresses"),
            ports=tuple(ports)))
    return KubeEndpoints(meta=meta, subsets=tuple(out))


def _pod(r: Reader, spec: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
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


_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_GLOO_KIND_ANNOTATION = "resource_kind"  # kubeconverters.GlooKindAnnotationKey
_TLS_SECRET_FIELDS = {"certChain": "cert_chain", "cert_chain": "cert_chain", "privateKey": "private_key",
                      "private_key": "private_key", "rootCa": "root_ca", "root_ca": "root_ca",
                      "ocspStaple": "ocsp_staple", "ocsp_staple": "ocsp_staple"}


def _secret_data(r: Reader, obj: Mapping[str, Any]) -> dict[str, bytes]:
    # Kubernetes merges stringData over data (write-only, plain text); data values are base64.
    out: dict[str, bytes] = {}
    data = obj.get("data")
    if data is not None:
        for k, v in r.mapping(data, "data").items():
            if v is None:
                continue
            if not isinstance(v, str):
                r.fail(key_path("data", k), f"expected a base64 string, got {describe(v)}")
            try:
                out[str(k)] = base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                # the value itself is never quoted: it may be key material
                r.fail(key_path("data", k), "not valid base64 (Kubernetes rejects it)")
    string_data = obj.get("stringData")
    if string_data is not None:
        for k, v in r.mapping(string_data, "stringData").items():
            if v is None:
                continue
            if not isinstance(v, str):
                r.fail(key_path("stringData", k), f"expected a string, got {describe(v)}")
            out[str(k)] = v.encode()
    return out


def _gloo_tls_secret(r: Reader, raw: bytes) -> TlsSecret | None:
    # Gloo's own shape: the `tls` key holds the TlsSecret as YAML; solo-kit's kubesecret client
    # unmarshals it (opaque_secret.go); a value that does not unmarshal is not a Gloo secret.
    try:
        docs = list(yaml_documents(raw, "<secret>"))
    except (ParseError, UnicodeError, RecursionError):  # an unreadable payload is "not Gloo's shape", as in Gloo
        return None
    value = docs[0][1] if docs else None
    if not isinstance(value, Mapping) or any(k not in _TLS_SECRET_FIELDS for k in value):
        return None
    fields: dict[str, Any] = {}
    for k, v in value.items():
        name = _TLS_SECRET_FIELDS[k]
        if name == "ocsp_staple":
            try:
                fields[name] = base64.b64decode(str(v or ""), validate=True)
            except (binascii.Error, ValueError):
                return None
        elif v is not None:
            if not isinstance(v, str):
                return None
            fields[name] = v
    return TlsSecret(**fields)


def _secret(r: Reader, obj: Any, meta: ObjectMeta, status: Mapping[str, Any] | None) -> Resource:
    kind = r.string(obj.get("type"), "", "type") or "Opaque"
    data = _secret_data(r, obj)
    if obj.get("immutable") is not None:
        r.boolean(obj["immutable"], "", "immutable")
    if _LAST_APPLIED in meta.annotations:
        meta = replace(meta, annotations={k: v for k, v in meta.annotations.items() if k != _LAST_APPLIED})
    tls = None
    shape = ""
    if kind == "kubernetes.io/tls":
        # TLSSecretConverter (secretconverter.go): tls.crt, tls.key, ca.crt, tls.ocsp-staple. Gloo 1.3 read
        # only tls.crt and tls.key; the translator drops the others for that profile.
        shape = "kubernetes.io/tls"
        tls = TlsSecret(cert_chain=data.get("tls.crt", b"").decode(errors="replace"),
                        private_key=data.get("tls.key", b"").decode(errors="replace"),
                        root_ca=data.get("ca.crt", b"").decode(errors="replace"),
                        ocsp_staple=data.get("tls.ocsp-staple", b""))
    elif meta.annotations.get(_GLOO_KIND_ANNOTATION) == "*v1.Secret" and "tls" in data:
        tls = _gloo_tls_secret(r, data["tls"])
        if tls is None:
            r.notes.append(("data.tls", f"{r.prefix}data.tls: not a Gloo TlsSecret (YAML with certChain, privateKey, "
                                        f"rootCa): Gloo ignores this secret"))
        else:
            shape = "gloo"
    return Secret(meta=meta, type=kind, shape=shape, tls=tls,
                  certificate=certificate_info(tls.cert_chain) if tls and tls.cert_chain else None,
                  ca_certificate=certificate_info(tls.root_ca) if tls and tls.root_ca else None,
                  data_keys=tuple(sorted(data)))


_BUILDERS = {
    "VirtualService": _virtual_service,
    "RouteTable": _route_table,
    "Gateway": _gateway,
    "MatchableHttpGateway": _matchable_http_gateway,
    "MatchableTcpGateway": _matchable_tcp_gateway,
    "Upstream": _upstream,
    "UpstreamGroup": _upstream_group,
    "VirtualHostOption": _virtual_host_option,
    "RouteOption": _route_option,
    "Settings": _settings,
    "Service": _service,
    "Endpoints": _endpoints,
    "Pod": _pod,
    "Secret": _secret,
    "Namespace": _namespace,
}
_SPEC_FIELD = {"Endpoints": "subsets"}
_TOP_FIELDS = {"Endpoints": ENDPOINTS_TOP, "Secret": SECRET_TOP}
_WHOLE_OBJECT = frozenset({"Secret"})  # kinds whose payload sits at the top level, not under one field


def _meta(r: Reader, value: Any, location: Location) -> ObjectMeta:
    if value is None:
        r.fail("metadata.name", "missing: every resource needs metadata.name")
    m = r.obj(value, "metadata", META, proto=False)
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
                                                           INT64_MIN, INT64_MAX),
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


def parse(obj: Any, file: str, document: int | None, prefix: str) -> ParsedObject:
    r = Reader(file, document, prefix)
    if not isinstance(obj, Mapping):
        r.fail("", f"expected an object (a Kubernetes manifest), got {describe(obj)}")
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
        r.fail("kind", f"expected a string, got {describe(kind)}")
    api = obj.get("apiVersion")
    if api is not None and not isinstance(api, str):
        r.fail("apiVersion", f"expected a string, got {describe(api)}")
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
    r.obj(obj, "", _TOP_FIELDS.get(kind, TOP), proto=False)
    key = ResourceKey(kind, meta.namespace, meta.name)
    findings = []
    status = obj.get("status")
    if status is not None and not isinstance(status, Mapping):
        # Gloo writes status, not the team: a status of the wrong type says nothing about what Gloo
        # translates (the sandbox's control plane and Gloo's reporter overwrite it), so it is
        # ignored with a finding instead of making the whole object unreadable.
        findings.append(Finding(resource=key, severity="warning", layer="parse", origin=key,
                                field=prefix + "status",
                                message=f"status is {describe(status)}, not an object: ignored (the controller "
                                        f"that owns the object writes status and replaces it)"))
        status = None
    payload = obj if kind in _WHOLE_OBJECT else obj.get(_SPEC_FIELD.get(kind, "spec"))
    resource = _BUILDERS[kind](r, payload, meta, status)
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
    return parse(obj, location.file, location.document, "")
