"""Gloo's gateway translator: Gateways, VirtualServices and RouteTables -> a Proxy plus reports.

Sources: ``projects/gateway/pkg/translator/{converter.go,http_translator.go,translator.go}`` at
CUR and ``converter.go``/``http.go`` at v1.3.20 (profile ``1.3``). Where the two differ, the
branch says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gloo_nb._types import Profile
from gloo_nb.errors import BadDataError
from gloo_nb.models import (
    DEFAULT_MATCHER,
    Destination,
    Finding,
    Gateway,
    HttpGateway,
    MatchableHttpGateway,
    Matcher,
    ObjectMeta,
    ResourceKey,
    ResourceRef,
    Route,
    RouteAction,
    RouteTable,
    SelectorExpression,
    Snapshot,
    Unmodelled,
    VirtualService,
    WeightedDestination,
)
from gloo_nb.models.codec import parse_object
from gloo_nb.translate.delegate_options import DelegatedOptions
from gloo_nb.translate.proxy import (
    Proxy,
    ProxyListener,
    ProxyMatchedListener,
    ProxyRoute,
    ProxyTcpListener,
    ProxyVirtualHost,
)
from gloo_nb.translate.reports import Reports
from gloo_nb.translate.route_options import shallow_merge_options
from gloo_nb.translate.selection import (
    RouteTableIndex,
    SelectionError,
    check_expression,
    expression_matches,
    group_by_weight,
    same_weight_warning,
    sort_routes_by_path,
)

NO_ACTION = "invalid route: route must specify an action"
MATCHER_COUNT = "invalid route: routes with delegate actions must omit or specify a single matcher"
MISSING_PREFIX = "invalid route: routes with delegate actions must use a prefix matcher"
INVALID_PREFIX = "invalid route: route table matchers must begin with the prefix of their parent route's matcher"
INVALID_CASE = ("invalid route: route table matchers must have the same case sensitivity of their parent "
                "route's matcher")
INVALID_HEADERS = ("invalid route: route table matchers must have all headers that were specified on their "
                   "parent route's matcher")
INVALID_QUERY = ("invalid route: route table matchers must have all query params that were specified on their "
                 "parent route's matcher")
INVALID_METHODS = ("invalid route: route table matchers must have all methods that were specified on their "
                   "parent route's matcher")
HAS_HEADER_13 = "invalid route: routes with delegate actions cannot use header matchers"
HAS_METHOD_13 = "invalid route: routes with delegate actions cannot use method matchers"
HAS_QUERY_13 = "invalid route: routes with delegate actions cannot use query matchers"


def listener_name(bind_address: str, bind_port: int) -> str:
    """Gloo's listener name (``translator.go:ListenerName``).

    Args:
        bind_address: Bind address.
        bind_port: Bind port.

    Returns:
        ``listener-<address>-<port>``.
    """
    return f"listener-{bind_address}-{bind_port}"


# --- Go %v text of protobuf values (unstable in Gloo itself; match on the stable prefix) ----


def _go_bool(value: bool | None) -> str:
    if value is None:
        return "<nil>"
    return "value:true" if value else ""


def _go_headers(matcher: Matcher) -> str:
    parts = []
    for h in matcher.headers:
        text = f'name:"{h.name}"'
        if h.value:
            text += f' value:"{h.value}"'
        if h.regex:
            text += " regex:true"
        if h.invert_match:
            text += " invert_match:true"
        parts.append(text)
    return "[" + " ".join(parts) + "]"


def _go_query(matcher: Matcher) -> str:
    parts = []
    for q in matcher.query_parameters:
        text = f'name:"{q.name}"'
        if q.value:
            text += f' value:"{q.value}"'
        if q.regex:
            text += " regex:true"
        parts.append(text)
    return "[" + " ".join(parts) + "]"


def _go_strings(values: Sequence[str]) -> str:
    return "[" + " ".join(values) + "]"


class VirtualServiceAborted(BadDataError):  # noqa: N818 - an outcome of Gloo's walk (bad data), caught by the walk
    """Gloo 1.3 returned an error from the route visitor: the whole VS conversion fails.

    Raised by :meth:`RouteConverter.validate_and_merge` and :meth:`RouteConverter.delegate_matcher`; a walk of the
    delegation tree catches it where Gloo would abort the VirtualService (the VS report says why).
    """


@dataclass(frozen=True, slots=True)
class ParentRoute:
    """What a delegating route hands down to the routes of the tables it selects.

    Attributes:
        matcher: The delegating route's matcher (children must begin with its prefix).
        options: Its merged route options.
        name: Its route name (for child route names).
        has_name: Whether a route on the branch is named.
        inheritable_matchers: Whether children inherit header/method/query matchers.
        inheritable_path_matchers: Whether children inherit the path matcher.
    """

    matcher: Matcher
    options: Mapping[str, Any]
    name: str
    has_name: bool
    inheritable_matchers: bool
    inheritable_path_matchers: bool


def _merge_options(child: Mapping[str, Any], parent: Mapping[str, Any],
                   profile: Profile = "current") -> Mapping[str, Any]:
    # ShallowMergeRouteOptions(dst=child, src=parent): child fields win, the parent fills unset ones
    # (http_translator_test.go "merges the vs and route tables" confirms child wins); oneofs and Go's
    # emptiness as gloo_nb.translate.route_options.shallow_merge_options models them.
    return shallow_merge_options(child, parent, profile=profile)


def _default_upstream_namespace(action: RouteAction, namespace: str) -> RouteAction:
    # converter.go: an upstream ref without namespace takes the owner's namespace (not kube refs).
    single, multi = action.single, action.multi
    changed = False
    if single is not None and single.upstream is not None and not single.upstream.namespace:
        single = replace(single, upstream=ResourceRef(single.upstream.name, namespace))
        changed = True
    if multi:
        new_multi: list[WeightedDestination] = []
        for wd in multi:
            dest: Destination = wd.destination
            if dest.upstream is not None and not dest.upstream.namespace:
                wd = replace(wd, destination=replace(dest, upstream=ResourceRef(dest.upstream.name, namespace)))
                changed = True
            new_multi.append(wd)
        multi = tuple(new_multi)
    return replace(action, single=single, multi=multi) if changed else action


class RouteConverter:
    """Gloo's ``routeVisitor``: walks a VirtualService's delegation tree into flat Proxy routes."""

    def __init__(self, profile: Profile, index: RouteTableIndex, reports: Reports, gateway: Gateway | None,
                 proxy_name: str, delegated: DelegatedOptions | None = None) -> None:
        self.profile = profile
        # VirtualHostOption/RouteOption resources for optionsConfigRefs (None: 1.3, or none given).
        self.delegated = delegated
        self.index = index
        self.reports = reports
        self.gateway = gateway
        self.proxy_name = proxy_name
        self.top: VirtualService | None = None

    @classmethod
    def walker(cls, profile: Profile, index: RouteTableIndex, vs: VirtualService,
               delegated: DelegatedOptions | None = None) -> RouteConverter:
        """A walk of one VirtualService's delegation tree for tools (the delegation tree view).

        Gloo's own validation decides which delegated routes it drops; its reports go to throw-away
        :class:`Reports` (the translation holds the real ones), and no Gateway is needed: route validation
        never reads it.

        Args:
            profile: ``1.3`` or ``current``.
            index: The route tables.
            vs: The VirtualService at the top of the walk.
            delegated: RouteOption resources for routes' ``optionsConfigRefs`` (current).

        Returns:
            A converter whose :meth:`validate_and_merge` and :meth:`delegate_matcher` can be called.
        """
        conv = cls(profile, index, Reports(), None, "", delegated)
        conv.top = vs
        return conv

    # -- reporting ----------------------------------------------------------------------------

    def _wrap(self, rt: ResourceKey, message: str) -> str:
        if self.profile == "1.3":
            # v1.3.20 TopLevelVirtualResourceErr prints name.namespace.
            return f"on sub route table {rt.name}.{rt.namespace}: {message}"
        return f"on sub route table {rt.namespace}.{rt.name}: {message}"

    def _report(self, resource: ResourceKey, message: str, *, error: bool, origin: ResourceKey | None = None,
                wrap_on_top: bool = True) -> None:
        assert self.top is not None
        add = self.reports.add_error if error else self.reports.add_warning
        add(resource, message)
        if resource.kind == "RouteTable" and wrap_on_top:
            add(self.top.key, self._wrap(resource, message))
        self.reports.find(Finding(resource=resource, severity="error" if error else "warning", message=message,
                                  origin=origin or resource, layer="gateway"))

    # -- the walk -----------------------------------------------------------------------------

    def convert(self, vs: VirtualService) -> list[ProxyRoute] | None:
        """Convert one VirtualService.

        Args:
            vs: The VirtualService.

        Returns:
            The flat routes, or None when (profile 1.3) the conversion failed as a whole; the
            error is then on the VS's report.
        """
        self.top = vs
        routes = vs.virtual_host.routes if vs.virtual_host else ()
        try:
            return self._visit(vs.key, routes, None, (), ())
        except VirtualServiceAborted as abort:
            message, origin = abort.args
            self.reports.add_error(vs.key, message)
            self.reports.find(Finding(resource=vs.key, severity="error", message=message, origin=origin,
                                      layer="gateway"))
            return None

    def _route_name(self, owner: ResourceKey, route: Route, parent: ParentRoute | None, idx: int) -> tuple[str, bool]:
        named = bool(route.name) or (parent is not None and parent.has_name)
        prefix = parent.name + "_" if parent is not None else ""
        if self.profile == "1.3":
            kind = "vs" if owner.kind == "VirtualService" else "rt"
            display = route.name or "<unnamed>"
            return f"{prefix}{kind}:{owner.name}_route:{display}", named
        display = route.name or f"<unnamed-{idx}>"
        if owner.kind == "VirtualService":
            head = f"vs:{self.gateway.meta.name if self.gateway else ''}_{self.proxy_name}_"
        else:
            head = "rt:"
        return f"{prefix}{head}{owner.namespace}_{owner.name}_route:{display}", named

    def _visit(self, owner: ResourceKey, routes: Sequence[Route], parent: ParentRoute | None,
               visited: tuple[RouteTable, ...], ancestors: tuple[ResourceKey, ...]) -> list[ProxyRoute]:
        # appendSource: a route's sources are its resource, then each enclosing one up to the VS;
        # they are set once, on the leaf, instead of appended level by level.
        sources = (owner, *ancestors)
        out: list[ProxyRoute] = []
        for idx, route in enumerate(routes):
            name, has_name = self._route_name(owner, route, parent, idx)
            route = self.with_delegated_options(owner, route)
            if parent is not None:
                merged = self.validate_and_merge(owner, route, parent)
                if merged is None:
                    continue
                route = merged
            if route.delegate_action is not None:
                out.extend(self._delegate(owner, route, name, has_name, visited, sources))
                continue
            if not has_name:
                name = ""
            action = route.route_action
            if action is not None and self.profile != "1.3":
                action = _default_upstream_namespace(action, owner.namespace)
            if action is None and route.redirect_action is None and route.direct_response_action is None:
                if self.profile == "1.3":
                    raise VirtualServiceAborted(NO_ACTION, owner)
                self._report(owner, NO_ACTION, error=True)
                continue
            out.append(ProxyRoute(matchers=route.matchers or (DEFAULT_MATCHER,), route_action=action,
                                  redirect_action=route.redirect_action,
                                  direct_response_action=route.direct_response_action,
                                  options=route.options, name=name, sources=sources))
        return out

    def with_delegated_options(self, owner: ResourceKey, route: Route) -> Route:
        """The route with the RouteOptions its ``optionsConfigRefs`` name merged in.

        Gloo's missing-ref warnings are reported. converter.go ``routeVisitor.visit`` does this on each route
        before merging it with its parent route.

        Args:
            owner: The resource the route belongs to.
            route: The route.

        Returns:
            The route, with merged options when a ref added any.
        """
        if not route.options_config_refs or self.delegated is None:
            return route
        options, missing = self.delegated.merge_route(route.options, route.options_config_refs, self.profile)
        for msg in missing:
            self._report(owner, msg, error=False)
        return route if options is route.options else replace(route, options=options)

    def delegate_matcher(self, owner: ResourceKey, route: Route) -> Matcher | None:
        """The matcher of a delegating route, or None (with Gloo's error reported) when it is invalid.

        Args:
            owner: The resource the route belongs to.
            route: The delegating route.

        Returns:
            Its single prefix matcher (``/`` when it has none), or None.
        """
        matchers = route.matchers
        if len(matchers) == 0:
            return DEFAULT_MATCHER
        if len(matchers) > 1:
            self._fail_delegate(owner, MATCHER_COUNT)
            return None
        m = matchers[0]
        if self.profile == "1.3":
            for present, msg in ((m.headers, HAS_HEADER_13), (m.methods, HAS_METHOD_13),
                                 (m.query_parameters, HAS_QUERY_13)):
                if present:
                    raise VirtualServiceAborted(msg, owner)
        if m.path_kind is None:
            # No path specifier: the whole default matcher, dropping the matcher's other conditions.
            return DEFAULT_MATCHER
        if not m.prefix:
            self._fail_delegate(owner, MISSING_PREFIX)
            return None
        return m

    def _fail_delegate(self, owner: ResourceKey, message: str) -> None:
        if self.profile == "1.3":
            raise VirtualServiceAborted(message, owner)
        self._report(owner, message, error=True)

    def _delegate(self, owner: ResourceKey, route: Route, name: str, has_name: bool,
                  visited: tuple[RouteTable, ...], sources: tuple[ResourceKey, ...]) -> list[ProxyRoute]:
        matcher = self.delegate_matcher(owner, route)
        if matcher is None:
            return []
        assert route.delegate_action is not None
        try:
            tables = self.index.select(route.delegate_action, owner.namespace, self.profile)
        except SelectionError as err:
            self._report(owner, str(err), error=False)
            return []
        groups = group_by_weight(tables)
        if self.profile == "1.3":
            for weight, group in groups:
                if len(group) > 1:
                    self._report(owner, same_weight_warning(weight, group), error=False)
        info = ParentRoute(matcher=matcher, options=route.options, name=name, has_name=has_name,
                       inheritable_matchers=bool(route.inheritable_matchers),
                       inheritable_path_matchers=bool(route.inheritable_path_matchers))
        out: list[ProxyRoute] = []
        for _weight, group in groups:
            group_routes: list[ProxyRoute] = []
            for rt in group:
                if any(rt is seen for seen in visited):
                    chain = " -> ".join(f"[{t.meta.namespace}.{t.meta.name}]" for t in (*visited, rt))
                    message = f"invalid route: delegation cycle detected: {chain}"
                    if self.profile == "1.3":
                        raise VirtualServiceAborted(message, owner)
                    # converter.go reports the cycle on the table about to be visited.
                    self._report(rt.key, message, error=True, origin=owner)
                    continue
                group_routes.extend(self._visit(rt.key, rt.routes, info, (*visited, rt), sources))
            if len(group) > 1:
                group_routes = sort_routes_by_path(group_routes, lambda r: r.matchers)
            out.extend(group_routes)
        return out

    def validate_and_merge(self, owner: ResourceKey, child: Route, parent: ParentRoute) -> Route | None:
        """A delegated route merged with its parent (``validateAndMergeParentRoute``), or None when dropped.

        Args:
            owner: The route table the route belongs to.
            child: The route.
            parent: What the delegating route hands down.

        Returns:
            The merged route, or None (Gloo's message reported) when its matchers do not fit the parent.
        """
        if self.profile == "1.3":
            for m in child.matchers:
                if not m.path.startswith(parent.matcher.path):
                    msg = f"required prefix: {parent.matcher.path}, path: {m.path}: {INVALID_PREFIX}"
                    self._report(owner, msg, error=True)
                    return None
            options = _merge_options(child.options, parent.options, self.profile)
            return child if options is child.options else replace(child, options=options)

        inherit_path = (child.inheritable_path_matchers if child.inheritable_path_matchers is not None
                        else parent.inheritable_path_matchers)
        inherit = (child.inheritable_matchers if child.inheritable_matchers is not None
                   else parent.inheritable_matchers)
        matchers = child.matchers
        pm = parent.matcher
        if inherit_path:
            def with_parent_path(mt: Matcher) -> Matcher:
                return replace(mt, prefix=pm.prefix, exact=pm.exact, regex=pm.regex, connect=pm.connect,
                               case_sensitive=pm.case_sensitive)

            matchers = tuple(with_parent_path(mt) for mt in matchers) if matchers else (with_parent_path(Matcher()),)
        if not matchers:
            matchers = (DEFAULT_MATCHER,)
        if inherit:
            matchers = tuple(replace(m, headers=pm.headers + m.headers, methods=pm.methods + m.methods,
                                     query_parameters=pm.query_parameters + m.query_parameters)
                             for m in matchers)
        # Only bool() of the inherited flags is read later (_delegate), so an unset flag that
        # resolves to False needs no copy of the route.
        if (matchers is not child.matchers or inherit != bool(child.inheritable_matchers)
                or inherit_path != bool(child.inheritable_path_matchers)):
            child = replace(child, matchers=matchers, inheritable_matchers=inherit,
                            inheritable_path_matchers=inherit_path)
        problem = self._delegate_problem(pm, child)
        if problem:
            self._report(owner, problem, error=False)
            return None
        options = _merge_options(child.options, parent.options, self.profile)
        return child if options is child.options else replace(child, options=options)

    @staticmethod
    def _delegate_problem(pm: Matcher, child: Route) -> str | None:
        parent_prefix = pm.prefix or ""
        for m in child.matchers:
            if not m.path.startswith(parent_prefix):
                return f"required prefix: {parent_prefix}, prefix: {m.path}: {INVALID_PREFIX}"
            if m.case_sensitive != pm.case_sensitive:
                # The argument order is swapped in Gloo's code: child first.
                return (f"required caseSensitive: {_go_bool(m.case_sensitive)}, caseSensitive: "
                        f"{_go_bool(pm.case_sensitive)}: {INVALID_CASE}")
            child_headers = {h.name: h for h in m.headers}
            if any(child_headers.get(h.name) != h for h in pm.headers):
                return f"required headers: {_go_headers(pm)}, headers: {_go_headers(m)}: {INVALID_HEADERS}"
            child_query = {q.name: q for q in m.query_parameters}
            if any(child_query.get(q.name) != q for q in pm.query_parameters):
                return (f"required query params: {_go_query(pm)}, query params: {_go_query(m)}: "
                        f"{INVALID_QUERY}")
            if not set(pm.methods) <= set(m.methods):
                return (f"required methods: {_go_strings(pm.methods)}, methods: {_go_strings(m.methods)}: "
                        f"{INVALID_METHODS}")
        return None


# --- gateways and virtual services ---------------------------------------------------------


INVALID_VS_EXPRESSION = "the virtual service selector expression is invalid"


def http_gateway_contains(http: HttpGateway, ssl: bool, vs: VirtualService, profile: Profile = "current") -> bool:
    """Whether an HTTP gateway (plain or matched in a hybrid gateway) binds a VirtualService.

    Current Gloo (``virtual_service_translator.go:HttpGatewayContainsVirtualService``): ssl-ness must
    agree; then the first of these that is set decides: ``virtualServiceExpressions`` (a set message,
    even with no expressions; all expressions AND, then the namespaces), ``virtualServiceSelector``
    (exact labels, then the namespaces), ``virtualServices`` refs (the namespaces are not consulted),
    else the namespaces alone (none listed, or ``*``, means every namespace).
    Gloo 1.3 (``http.go@v1.3.20:GatewayContainsVirtualService``) had no expressions: the selector,
    then the refs, then the namespaces.

    Args:
        http: The HTTP gateway.
        ssl: Whether the gateway binds VirtualServices with ``sslConfig``.
        vs: The VirtualService.
        profile: ``1.3`` or ``current``.

    Returns:
        True when the gateway selects the VS.

    Raises:
        SelectionError: (current) an expression Kubernetes refuses, with Gloo's text
            ``<k8s error>: the virtual service selector expression is invalid``.
    """
    if ssl != (vs.ssl_config is not None):
        return False

    def namespace_ok() -> bool:
        # virtualServiceNamespaceValidForGateway (both profiles).
        nss = http.virtual_service_namespaces
        return not nss or "*" in nss or vs.meta.namespace in nss

    labels = vs.meta.labels
    if profile != "1.3" and http.virtual_service_expressions is not None:
        for expr in http.virtual_service_expressions:
            problem = check_expression(expr)
            if problem:
                raise SelectionError(f"{problem}: {INVALID_VS_EXPRESSION}")
        if not all(expression_matches(e, labels) for e in http.virtual_service_expressions):
            return False
        return namespace_ok()
    # An empty selector map is nil in Go (GetVirtualServiceSelector() != nil; len() > 0 at v1.3.20).
    if http.virtual_service_selector:
        return all(labels.get(k) == v for k, v in http.virtual_service_selector.items()) and namespace_ok()
    if http.virtual_services:
        return any(ref.name == vs.meta.name and ref.namespace == vs.meta.namespace
                   for ref in http.virtual_services)
    return namespace_ok()


def gateway_contains(gateway: Gateway, vs: VirtualService, profile: Profile = "current") -> bool:
    """Whether an HTTP gateway binds a VirtualService (see :func:`http_gateway_contains`).

    Args:
        gateway: The gateway.
        vs: The VirtualService.
        profile: ``1.3`` or ``current``.

    Returns:
        True when the gateway selects the VS; False for non-HTTP gateways and invalid expressions.
    """
    if gateway.http_gateway is None:
        return False
    try:
        return http_gateway_contains(gateway.http_gateway, gateway.ssl, vs, profile)
    except SelectionError:
        return False


def select_virtual_services(snapshot: Snapshot, gateway: Gateway, http: HttpGateway, ssl: bool, profile: Profile,
                            reports: Reports) -> list[VirtualService]:
    """The VirtualServices an HTTP gateway binds, in snapshot order (``getVirtualServicesForHttpGateway``).

    An invalid expression is an error on the Gateway, once per VirtualService tested, as Gloo's loop
    adds it (``params.reports.AddError(parentGateway, err)``).

    Args:
        snapshot: The resources.
        gateway: The Gateway reports go to.
        http: Its HTTP gateway (or a hybrid gateway's matched one).
        ssl: Whether it binds VirtualServices with ``sslConfig``.
        profile: ``1.3`` or ``current``.
        reports: Reports to fill.

    Returns:
        The selected VirtualServices.
    """
    out = []
    for vs in snapshot.virtual_services:
        try:
            if http_gateway_contains(http, ssl, vs, profile):
                out.append(vs)
        except SelectionError as err:
            reports.add_error(gateway.key, str(err))
            reports.find(Finding(gateway.key, "error", str(err), gateway.key))
    return out


def invalid_vs_ref(ref: ResourceRef, profile: Profile) -> str:
    """``validateGateways``' error for a Gateway ref to a missing VirtualService.

    ``fmt.Errorf("invalid virtual service ref %v", vs)``: at v1.3.20 ``vs`` is a ``core.ResourceRef`` value
    (Go struct text ``{name namespace}``, as in 1.3's ``*v1.Upstream {name namespace} not found``); current
    Gloo passes a pointer, so ``%v`` is the proto text ``name:"x" namespace:"y"``.

    Args:
        ref: The reference.
        profile: ``1.3`` or ``current``.

    Returns:
        The message.
    """
    if profile == "1.3":
        return f"invalid virtual service ref {{{ref.name} {ref.namespace}}}"
    return f'invalid virtual service ref name:"{ref.name}" namespace:"{ref.namespace}"'


def _note_13_expressions(gateway: Gateway, http: HttpGateway, profile: Profile, reports: Reports) -> None:
    # http_gateway.proto@v1.3.20 has no virtual_service_expressions: Gloo 1.3 selects without them.
    if profile == "1.3" and http.virtual_service_expressions is not None:
        msg = ("httpGateway.virtualServiceExpressions does not exist in Gloo 1.3: gloo_nb selects "
               "VirtualServices without it, as the selector, refs and namespaces alone decide there")
        reports.find(Finding(gateway.key, "warning", msg, gateway.key, layer="parse",
                             field="spec.httpGateway.virtualServiceExpressions"))


def _validate_domains(gateway: Gateway, vss: Sequence[VirtualService], reports: Reports) -> None:
    by_domain: dict[str, list[VirtualService]] = {}
    for vs in vss:
        if vs.virtual_host is None:
            msg = f"virtual service [{vs.key.dotted}] does not specify a virtual host"
            reports.add_warning(vs.key, msg)
            reports.find(Finding(vs.key, "warning", msg, vs.key))
            continue
        for domain in vs.virtual_host.domains or ("",):
            by_domain.setdefault(domain, []).append(vs)
    conflicting = []
    for domain, group in by_domain.items():
        if len(group) < 2:
            continue
        conflicting.append(domain)
        for vs in group:
            others = "[" + " ".join(o.key.dotted for o in group if o is not vs) + "]"
            if domain == "":
                msg = ("domain conflict: other virtual services that belong to the same Gateway as this one "
                       f"don't specify a domain (and thus default to '*'): {others}")
            else:
                msg = (f"domain conflict: the [{domain}] domain is present in other virtual services that "
                       f"belong to the same Gateway as this one: {others}")
            reports.add_error(vs.key, msg)
            reports.find(Finding(vs.key, "error", msg, vs.key))
    if conflicting:
        shown = " ".join(d or "EMPTY_DOMAIN" for d in conflicting)
        msg = ("domain conflict: the following domains are present in more than one of the virtual services "
               f"associated with this gateway: [{shown}]")
        reports.add_error(gateway.key, msg)
        reports.find(Finding(gateway.key, "error", msg, gateway.key))


_GO_RE_UNSUPPORTED = re.compile(r"\(\?[=!<]|\\[1-9]")


def _regex_problem(pattern: str) -> str | None:
    # Go's regexp (RE2) rejects look-around and back-references that Python accepts.
    if _GO_RE_UNSUPPORTED.search(pattern):
        return f"error parsing regexp: invalid or unsupported Perl syntax: `{pattern}`"
    try:
        re.compile(pattern)
    except re.error as err:
        text = str(err)
        if "unterminated character set" in text:
            return f"error parsing regexp: missing closing ]: `{pattern[err.pos or 0:]}`"
        if "missing )" in text:
            return f"error parsing regexp: missing closing ): `{pattern}`"
        if "unbalanced parenthesis" in text:
            return f"error parsing regexp: unexpected ): `{pattern}`"
        if "nothing to repeat" in text or "multiple repeat" in text:
            return f"error parsing regexp: missing argument to repetition operator: `{pattern}`"
        return f"error parsing regexp: {text}: `{pattern}`"
    return None


def _validate_regexes(vs: VirtualService, routes: Sequence[ProxyRoute], reports: Reports) -> None:
    for route in routes:
        _validate_option_regexes(vs, route, reports)
        for m in route.matchers:
            if m.regex is None:
                continue
            problem = _regex_problem(m.regex)
            if problem:
                msg = f"virtual service [{vs.key.dotted}] has a regex matcher with invalid regex, {problem}"
                reports.add_error(vs.key, msg)
                reports.find(Finding(vs.key, "error", msg, route.owner or vs.key))
                return


def _validate_option_regexes(vs: VirtualService, route: ProxyRoute, reports: Reports) -> None:
    # virtual_service_translator.go validateRoutesRegex (CUR): the options' hostRewritePathRegex, then
    # regexRewrite, each compiled with Go's regexp; every failure is an error on the VirtualService.
    options = route.options if isinstance(route.options, Mapping) else {}
    for key in ("hostRewritePathRegex", "regexRewrite"):
        spec = options.get(key)
        pattern = spec.get("pattern") if isinstance(spec, Mapping) else None
        regex = pattern.get("regex") if isinstance(pattern, Mapping) else None
        if not isinstance(regex, str):
            continue
        problem = _regex_problem(regex)
        if problem:
            msg = f"virtual service [{vs.key.dotted}] has a regex matcher with invalid regex, {problem}"
            reports.add_error(vs.key, msg)
            reports.find(Finding(vs.key, "error", msg, route.owner or vs.key))


def compute_virtual_hosts(gateway: Gateway, vss: Sequence[VirtualService], profile: Profile, reports: Reports,
                          index: RouteTableIndex, proxy_name: str, *,
                          ssl_configs: list[Mapping[str, Any]] | None = None,
                          default_one_way_tls: bool | None = None,
                          delegated: DelegatedOptions | None = None) -> list[ProxyVirtualHost]:
    """The virtual hosts of the VirtualServices an HTTP gateway binds (``ComputeVirtualHosts``).

    Domain conflicts are checked among ``vss`` (``validateVirtualServiceDomains``), then each VS is converted.

    Args:
        gateway: The Gateway (for names and reports).
        vss: The selected VirtualServices.
        profile: ``1.3`` or ``current``.
        reports: Reports to fill.
        index: The route tables.
        proxy_name: The proxy's name (for route names).
        ssl_configs: For an ssl gateway: filled with its VirtualServices' ``sslConfig`` blocks.
        default_one_way_tls: ``settings.gateway.virtualServiceOptions.oneWayTls`` (current only).
        delegated: VirtualHostOption/RouteOption resources for ``optionsConfigRefs`` (current only).

    Returns:
        One virtual host per VS whose conversion did not fail.
    """
    _validate_domains(gateway, vss, reports)
    vhosts: list[ProxyVirtualHost] = []
    converter = RouteConverter(profile, index, reports, gateway, proxy_name, delegated)
    for vs in vss:
        if delegated is not None and vs.virtual_host is not None and vs.virtual_host.options_config_refs:
            vs = _with_delegated_vh_options(vs, delegated, profile, reports)
        routes = converter.convert(vs)
        if ssl_configs is not None and vs.ssl_config is not None and (routes is not None or profile != "1.3"):
            # http_translator.go (CUR) appends every selected VS's sslConfig; http.go@v1.3.20
            # only those of the VSs whose conversion succeeded.
            ssl_config = vs.ssl_config
            if (profile != "1.3" and default_one_way_tls is not None
                    and ssl_config.get("oneWayTls", ssl_config.get("one_way_tls")) is None):
                # virtual_service_translator.go:applyGlobalVirtualServiceSettings
                ssl_config = {**ssl_config, "oneWayTls": default_one_way_tls}
            ssl_configs.append(ssl_config)
        if routes is None:
            continue
        if profile != "1.3":
            _validate_regexes(vs, routes, reports)
        vh = vs.virtual_host
        vhosts.append(ProxyVirtualHost(name=vs.key.dotted, domains=vh.domains if vh else (), routes=tuple(routes),
                                       options=vh.options if vh else {}, source=vs.key))
    return vhosts


def _with_delegated_vh_options(vs: VirtualService, delegated: DelegatedOptions, profile: Profile,
                               reports: Reports) -> VirtualService:
    # virtual_service_translator.go virtualServiceToVirtualHost: mergeDelegatedVirtualHostOptions runs before the
    # routes are converted (a route's inheritTransformation then sees the merged stagedTransformations).
    vh = vs.virtual_host
    assert vh is not None
    options, missing = delegated.merge_virtual_host(vh.options, vh.options_config_refs, profile)
    for msg in missing:
        reports.add_warning(vs.key, msg)
        reports.find(Finding(vs.key, "warning", msg, vs.key, layer="gateway"))
    return vs if options is vh.options else replace(vs, virtual_host=replace(vh, options=options))


def _vs_refs(gateway: Gateway, profile: Profile) -> list[ResourceRef]:
    # translator.go validateGateways: the httpGateway's refs, and (current) each inline matched HTTP gateway's.
    refs = list(gateway.http_gateway.virtual_services) if gateway.http_gateway is not None else []
    hybrid = gateway.hybrid_gateway
    if hybrid is not None and profile != "1.3":
        for matched in hybrid.get("matchedGateways") or ():
            http = matched.get("httpGateway") if isinstance(matched, Mapping) else None
            for ref in (http or {}).get("virtualServices") or () if isinstance(http, Mapping) else ():
                if isinstance(ref, Mapping):
                    refs.append(ResourceRef(str(ref.get("name", "")), str(ref.get("namespace", ""))))
    return refs


def tcp_proxy_listener(gateway: Gateway) -> ProxyListener:
    """The Proxy listener of a ``tcpGateway`` (``tcp_translator.go:ComputeListener``, ``tcp.go`` at v1.3.20).

    Gloo copies the hosts and options unchanged; unlike HTTP gateways, a TCP gateway gets its listener
    even when the snapshot has no VirtualServices.

    Args:
        gateway: A Gateway with ``tcpGateway``.

    Returns:
        The listener, named ``listener-<bindAddress>-<bindPort>``.
    """
    return ProxyListener(
        name=listener_name(gateway.bind_address, gateway.bind_port), bind_address=gateway.bind_address,
        bind_port=gateway.bind_port, virtual_hosts=(), ssl=gateway.ssl, options={}, source=gateway.key,
        listener_options=gateway.options, use_proxy_proto=gateway.use_proxy_proto,
        route_options=gateway.route_options, tcp=_tcp_of(gateway.tcp_gateway or {}))


EMPTY_HYBRID_GATEWAY = "hybrid gateway does not have any populated matched gateways"
INVALID_GATEWAY_EXPRESSION = "the selector expression is invalid"

# hcm.proto fields of wrapper or Duration type: merge.go's wrapperTransformer lets a delegating parent's value
# replace the child's for these only, when preventChildOverrides is set.
_HCM_WRAPPERS = frozenset({
    "useRemoteAddress", "xffNumTrustedHops", "skipXffAppend", "via", "generateRequestId", "proxy100Continue",
    "streamIdleTimeout", "idleTimeout", "maxRequestHeadersKb", "requestTimeout", "requestHeadersTimeout",
    "drainTimeout", "delayedCloseTimeout", "serverName", "acceptHttp10", "defaultHostForHttp10",
    "allowChunkedLength", "enableTrailers", "properCaseHeaderKeyFormat", "preserveCaseHeaderKeyFormat",
    "preserveExternalRequestId", "maxConnectionDuration", "maxStreamDuration", "maxHeadersCount",
    "maxRequestsPerConnection", "mergeSlashes", "normalizePath", "stripAnyHostPort", "appendXForwardedPort",
})


# Enums: mergo sees a child's zero value as unset and fills it from the parent ("we can't override enums",
# hybrid_translator_test.go), whether or not the child wrote it.
_HCM_ENUM_ZERO = {
    "codecType": ("AUTO", 0), "serverHeaderTransformation": ("OVERWRITE", 0),
    "pathWithEscapedSlashesAction": ("IMPLEMENTATION_SPECIFIC_DEFAULT", 0),
    "headersWithUnderscoresAction": ("ALLOW", 0), "forwardClientCertDetails": ("SANITIZE", 0),
}
_HEADER_FORMAT = ("properCaseHeaderKeyFormat", "preserveCaseHeaderKeyFormat")


def merge_hcm_settings(parent: Mapping[str, Any] | None, child: Mapping[str, Any] | None,
                       prevent_child_overrides: bool) -> Mapping[str, Any] | None:
    """``merge.go:mergeHCMSettings`` on protobuf JSON: the child's fields win, the parent fills the rest.

    With ``preventChildOverrides`` the parent's wrapper and Duration fields replace the child's. mergo merges
    nested messages field by field; gloo_nb keeps a child's nested message whole (a simplification for
    ``tracing``, ``setCurrentClientCertDetails`` and the like).

    Args:
        parent: ``delegatedHttpGateways.httpConnectionManagerSettings``.
        child: The MatchableHttpGateway's ``httpGateway.options.httpConnectionManagerSettings``.
        prevent_child_overrides: ``delegatedHttpGateways.preventChildOverrides``.

    Returns:
        The reconciled settings (None when neither is set).
    """
    if child is None:
        return parent
    if parent is None:
        return child
    merged = {k: v for k, v in child.items() if not (k in _HCM_ENUM_ZERO and v in _HCM_ENUM_ZERO[k])}
    for key, value in parent.items():
        if key in _HEADER_FORMAT and any(k in merged for k in _HEADER_FORMAT):
            continue  # the header_format oneof: a child's choice stands
        if key not in merged or (prevent_child_overrides and key in _HCM_WRAPPERS):
            merged[key] = value
    return merged


def _cidr_ranges(matcher: Mapping[str, Any]) -> Any:
    return matcher.get("sourcePrefixRanges") or ()


class HybridGatewayTranslator:
    """Gloo's ``HybridTranslator`` for one Gateway (``projects/gateway/pkg/translator/hybrid_translator.go``).

    ``matchedGateways`` (inline HTTP and TCP gateways with matchers) take precedence over
    ``delegatedHttpGateways``/``delegatedTcpGateways`` (MatchableHttpGateway/MatchableTcpGateway resources
    chosen by ref or selector, ``gateway_selector.go``). Gloo 1.3 had no hybrid gateways
    (``gateway.proto@v1.3.20``: the GatewayType oneof is http or tcp).

    Args:
        snapshot: The resources.
        gateway: The Gateway with ``hybridGateway``.
        profile: ``1.3`` or ``current``.
        reports: Reports to fill.
        index: The route tables.
        proxy_name: The proxy's name.
        translate_empty: ``settings.gateway.translateEmptyGateways``.
    """

    def __init__(self, snapshot: Snapshot, gateway: Gateway, profile: Profile, reports: Reports,
                 index: RouteTableIndex, proxy_name: str, translate_empty: bool,
                 delegated: DelegatedOptions | None = None) -> None:
        self.snapshot = snapshot
        # Shared with the proxy's other gateways: Gloo's VirtualHostOption merge writes through (delegate_options).
        self.delegated = delegated if delegated is not None else DelegatedOptions.from_snapshot(snapshot, profile)
        self.gateway = gateway
        self.profile = profile
        self.reports = reports
        self.index = index
        self.proxy_name = proxy_name
        self.translate_empty = translate_empty

    def _error(self, message: str, *, warning: bool = False) -> None:
        key = self.gateway.key
        (self.reports.add_warning if warning else self.reports.add_error)(key, message)
        self.reports.find(Finding(key, "warning" if warning else "error", message, key))

    def _note(self, field: str, message: str) -> None:
        key = self.gateway.key
        self.reports.find(Finding(key, "warning", message, key, layer="parse", field=field))

    def listener(self) -> ProxyListener | None:
        """``ComputeListener``: the hybrid Proxy listener, or None (with Gloo's error or warning when due).

        Returns:
            The listener with its matched listeners.
        """
        gw = self.gateway
        hybrid: Mapping[str, Any] = gw.hybrid_gateway or {}
        if self.profile == "1.3":
            self._note("spec.hybridGateway", "hybridGateway does not exist in Gloo 1.3 (gateway.proto@v1.3.20 has "
                                             "httpGateway and tcpGateway only): gloo_nb builds no listener for it")
            return None
        matched_raw = hybrid.get("matchedGateways") or None
        http_sel = hybrid.get("delegatedHttpGateways")
        tcp_sel = hybrid.get("delegatedTcpGateways")
        if matched_raw is None and http_sel is None and tcp_sel is None:
            return None
        if matched_raw is not None:
            matched = [m for i, raw in enumerate(matched_raw) if (m := self._matched(raw, i)) is not None]
            if not matched:
                # Inline matched gateways that produce nothing are an error on the Gateway.
                self._error(EMPTY_HYBRID_GATEWAY)
                return None
        else:
            matched = self._delegated(http_sel, tcp_sel)
            if not matched:
                # "missing refs should only result in a warning"
                self._error(EMPTY_HYBRID_GATEWAY, warning=True)
                return None
        return ProxyListener(
            name=listener_name(gw.bind_address, gw.bind_port), bind_address=gw.bind_address,
            bind_port=gw.bind_port, virtual_hosts=(), ssl=gw.ssl, options={}, source=gw.key,
            listener_options=gw.options, use_proxy_proto=gw.use_proxy_proto,
            route_options=gw.route_options, matched=tuple(matched))

    def _parse_http(self, raw: Any, where: str) -> HttpGateway | None:
        # The one codec reads the inline HttpGateway, as part of a synthetic MatchableHttpGateway.
        doc = {"apiVersion": "gateway.solo.io/v1", "kind": "MatchableHttpGateway",
               "metadata": {"name": self.gateway.meta.name, "namespace": self.gateway.meta.namespace},
               "spec": {"httpGateway": raw}}
        try:
            parsed = parse_object(doc)
        except BadDataError as err:
            self._note(where, f"{where} cannot be read: {err}")
            return None
        for f in parsed.findings:
            # Unknown fields and the like, with their path under the Gateway.
            field = f.field.replace("spec.httpGateway", where, 1) if f.field else where
            self._note(field, f.message.replace("spec.httpGateway", where))
        resource = parsed.resource
        return resource.http_gateway if isinstance(resource, MatchableHttpGateway) else None

    def _matched(self, raw: Any, i: int) -> ProxyMatchedListener | None:
        # computeHybridListenerFromMatchedGateways, one MatchedGateway.
        where = f"spec.hybridGateway.matchedGateways[{i}]"
        if not isinstance(raw, Mapping):
            self._note(where, f"{where} is not an object")
            return None
        raw_matcher = raw.get("matcher")
        matcher: Mapping[str, Any] = raw_matcher if isinstance(raw_matcher, Mapping) else {}
        if raw.get("httpGateway") is not None:
            if not self.snapshot.virtual_services and not self.translate_empty:
                return None
            http = self._parse_http(raw["httpGateway"], f"{where}.httpGateway")
            if http is None:
                return None
            ssl = matcher.get("sslConfig") is not None
            vss = select_virtual_services(self.snapshot, self.gateway, http, ssl, self.profile, self.reports)
            vhosts = compute_virtual_hosts(self.gateway, vss, self.profile, self.reports, self.index,
                                           self.proxy_name,
                                           delegated=self.delegated)
            return ProxyMatchedListener(
                matcher={k: v for k, v in matcher.items() if k in ("sslConfig", "sourcePrefixRanges")},
                virtual_hosts=tuple(vhosts), options=http.options)
        if raw.get("tcpGateway") is not None:
            tcp = raw["tcpGateway"] if isinstance(raw["tcpGateway"], Mapping) else {}
            self._validate_tcp_hosts(tcp, matcher.get("sslConfig"))
            return ProxyMatchedListener(matcher=dict(matcher), tcp=_tcp_of(tcp), kind="tcp")
        # No gateway type: Gloo appends a matched listener with no listener type, which the proxy
        # translator skips (listener_subsystem.go logs "matched listener with an unknown type").
        return ProxyMatchedListener(matcher=dict(matcher), kind="none")

    def _validate_tcp_hosts(self, tcp: Mapping[str, Any], ssl: Any) -> None:
        # validateTcpHosts: with matcher SNI domains, a host SNI domain outside them is a conflict.
        if not isinstance(ssl, Mapping):
            return
        allowed = [str(d) for d in ssl.get("sniDomains") or ()]
        conflicts = []
        for host in tcp.get("tcpHosts") or ():
            host_ssl = host.get("sslConfig") if isinstance(host, Mapping) else None
            for d in (host_ssl or {}).get("sniDomains") or () if isinstance(host_ssl, Mapping) else ():
                if str(d) not in allowed and allowed:
                    conflicts.append(f"{host.get('name', '')}:{d}")
        if conflicts:
            self._error(f"gateway has conflicting sni domains [{' '.join(conflicts)}]")

    def _selected(self, meta: ObjectMeta, selection: Mapping[str, Any]) -> bool:
        # gateway_selector.go matchMetadata: a ref, else the selector (absent: everything).
        ref = selection.get("ref")
        if isinstance(ref, Mapping):
            return (str(ref.get("namespace", "")), str(ref.get("name", ""))) == (meta.namespace, meta.name)
        raw_sel = selection.get("selector")
        sel: Mapping[str, Any] = raw_sel if isinstance(raw_sel, Mapping) else {}
        namespaces = [str(n) for n in sel.get("namespaces") or ()]
        if namespaces and not any(n == "*" or n == meta.namespace for n in namespaces):
            ns_ok = False
        else:
            ns_ok = True
        raw_labels = sel.get("labels")
        labels: Mapping[str, Any] = raw_labels if isinstance(raw_labels, Mapping) else {}
        labels_ok = all(meta.labels.get(k) == v for k, v in labels.items())
        exprs = [SelectorExpression(str(e.get("key", "")), str(e.get("operator", "Equals")),
                                    tuple(str(v) for v in e.get("values") or ()))
                 for e in sel.get("expressions") or () if isinstance(e, Mapping)]
        for expr in exprs:
            problem = check_expression(expr)
            if problem:
                raise SelectionError(f"{problem}: {INVALID_GATEWAY_EXPRESSION}")
        exprs_ok = all(expression_matches(e, meta.labels) for e in exprs)
        return ns_ok and labels_ok and exprs_ok

    def _delegated(self, http_sel: Any, tcp_sel: Any) -> list[ProxyMatchedListener]:
        # computeHybridListenerFromDelegatedGateways: HTTP ones first, then TCP ones, each in snapshot order.
        out: list[ProxyMatchedListener] = []
        http_sel = http_sel if isinstance(http_sel, Mapping) else None
        tcp_sel = tcp_sel if isinstance(tcp_sel, Mapping) else None
        https, tcps = [], []
        if http_sel is not None:
            want_ssl = http_sel.get("sslConfig") is not None
            for mhg in self.snapshot.matchable_http_gateways:
                if (mhg.matcher.get("sslConfig") is not None) != want_ssl:
                    continue
                try:
                    if self._selected(mhg.meta, http_sel):
                        https.append(mhg)
                except SelectionError as err:
                    self._error(str(err))
        if tcp_sel is not None:
            for mtg in self.snapshot.matchable_tcp_gateways:
                try:
                    if self._selected(mtg.meta, tcp_sel):
                        tcps.append(mtg)
                except SelectionError as err:
                    self._error(str(err))
        for mhg in https:
            assert http_sel is not None
            http = mhg.http_gateway or HttpGateway()
            ssl = mhg.matcher.get("sslConfig") is not None
            parent_hcm = http_sel.get("httpConnectionManagerSettings")
            child_hcm = http.options.get("httpConnectionManagerSettings") if http.options else None
            hcm = merge_hcm_settings(parent_hcm, child_hcm, bool(http_sel.get("preventChildOverrides")))
            options = dict(http.options)
            if hcm is not None:
                options["httpConnectionManagerSettings"] = hcm
            vss = select_virtual_services(self.snapshot, self.gateway, http, ssl, self.profile, self.reports)
            vhosts = compute_virtual_hosts(self.gateway, vss, self.profile, self.reports, self.index,
                                           self.proxy_name,
                                           delegated=self.delegated)
            matcher: dict[str, Any] = {}
            if "sourcePrefixRanges" in mhg.matcher:
                matcher["sourcePrefixRanges"] = mhg.matcher["sourcePrefixRanges"]
            if ssl:
                # reconcileGatewayLevelSslConfig merges the parent's sslConfig; TLS is not modelled here.
                matcher["sslConfig"] = mhg.matcher["sslConfig"]
            out.append(ProxyMatchedListener(matcher=matcher, virtual_hosts=tuple(vhosts), options=options,
                                            source=mhg.key))
        for mtg in tcps:
            self._validate_tcp_hosts(mtg.tcp_gateway, mtg.matcher.get("sslConfig"))
            out.append(ProxyMatchedListener(matcher=dict(mtg.matcher), tcp=_tcp_of(mtg.tcp_gateway), kind="tcp",
                                            source=mtg.key))
        return out


def _tcp_of(tcp: Mapping[str, Any]) -> ProxyTcpListener:
    hosts = tcp.get("tcpHosts") or ()
    options = tcp.get("options") or {}
    return ProxyTcpListener(hosts=tuple(h for h in hosts if isinstance(h, Mapping)),
                            options=options if isinstance(options, Mapping) else {})


_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def isolates_virtual_hosts(gateway: Gateway, setting: bool) -> bool:
    """Whether current Gloo turns an HTTP or hybrid Gateway into an aggregate listener.

    ``translator.go:shouldIsolateVirtualHostsForGateway``: the ``gateway.solo.io/isolate_vhost`` annotation when
    ``strconv.ParseBool`` accepts it, else ``settings.gateway.isolateVirtualHostsBySslConfig``.

    Args:
        gateway: The Gateway.
        setting: The Settings value.

    Returns:
        True for an aggregate listener.
    """
    if gateway.http_gateway is None and gateway.hybrid_gateway is None:
        return False
    value = gateway.meta.annotations.get("gateway.solo.io/isolate_vhost")
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    return setting


def read_gateways(gateways: Sequence[Gateway], write_namespace: str, read_all_namespaces: bool,
                  reports: Reports) -> list[Gateway]:
    """The Gateways Gloo translates (``predicate.go:GetPredicate``; ``translator.go:filterGateways`` at v1.3.20).

    Only the write namespace's, unless ``readGatewaysFromAllNamespaces``. Gloo accepts the others without a word;
    gloo_nb says why they have no listener (a finding, not a status).

    Args:
        gateways: The Gateways of one proxy.
        write_namespace: Where Gloo writes Proxies (``settings.discoveryNamespace``).
        read_all_namespaces: ``settings.gateway.readGatewaysFromAllNamespaces``.
        reports: Reports (findings) to fill.

    Returns:
        The Gateways to translate, in order.
    """
    out = []
    for gw in gateways:
        if read_all_namespaces or gw.meta.namespace == write_namespace:
            out.append(gw)
            continue
        msg = (f"Gloo reads Gateways only from its write namespace {write_namespace} "
               "(settings.gateway.readGatewaysFromAllNamespaces is false): this Gateway is not translated")
        reports.find(Finding(gw.key, "warning", msg, gw.key, layer="parse", field="metadata.namespace"))
    return out


def translate_gateways(snapshot: Snapshot, gateways: Sequence[Gateway], profile: Profile, reports: Reports, *,
                       proxy_name: str, write_namespace: str,
                       translate_empty: bool = False, isolate_virtual_hosts: bool = False,
                       read_all_namespaces: bool = False, default_one_way_tls: bool | None = None) -> Proxy:
    """Translate the gateways of one proxy into the desired Proxy, filling ``reports``.

    Args:
        snapshot: The resources.
        gateways: The gateways whose ``proxyNames`` hold ``proxy_name``, sorted.
        profile: Behaviour profile.
        reports: Reports to fill.
        proxy_name: Name of the proxy.
        write_namespace: Namespace the Proxy is written to.
        translate_empty: ``settings.gateway.translateEmptyGateways``.
        isolate_virtual_hosts: ``settings.gateway.isolateVirtualHostsBySslConfig``.
        read_all_namespaces: ``settings.gateway.readGatewaysFromAllNamespaces``.
        default_one_way_tls: ``settings.gateway.virtualServiceOptions.oneWayTls`` (current only).

    Returns:
        The desired Proxy.
    """
    gateways = read_gateways(gateways, write_namespace, read_all_namespaces, reports)
    index = RouteTableIndex(snapshot.route_tables)
    delegated = DelegatedOptions.from_snapshot(snapshot, profile)
    listeners: list[ProxyListener] = []
    binds: dict[tuple[str, int], list[Gateway]] = {}
    # translator.go validateGateways, over every Gateway read (typed or not): refs to missing VirtualServices,
    # then bind addresses shared within the proxy.
    for gw in gateways:
        binds.setdefault((gw.bind_address, gw.bind_port), []).append(gw)
        for ref in _vs_refs(gw, profile):
            if not any(v.meta.name == ref.name and v.meta.namespace == ref.namespace
                       for v in snapshot.virtual_services):
                msg = invalid_vs_ref(ref, profile)
                reports.add_error(gw.key, msg)
                reports.find(Finding(gw.key, "error", msg, gw.key))
    for (addr, port), group in binds.items():
        if len(group) > 1:
            names = ",".join(g.key.dotted for g in group)
            msg = f"bind-address {addr}:{port} is not unique in a proxy. gateways: {names}"
            for g in group:
                reports.add_error(g.key, msg)
                reports.find(Finding(g.key, "error", msg, g.key))
    for gw in gateways:
        http = gw.http_gateway
        if http is None and gw.tcp_gateway is None and gw.hybrid_gateway is None:
            # Current: InvalidGatewayTypeTranslator (listener_translator.go). v1.3.20's http and tcp translators
            # just skipped such a Gateway, without a report.
            if profile != "1.3":
                msg = "invalid gateway: gateway must contain gatewayType"
                reports.add_error(gw.key, msg)
                reports.find(Finding(gw.key, "error", msg, gw.key))
            continue
        if gw.tcp_gateway is not None:
            listeners.append(tcp_proxy_listener(gw))
            continue
        if profile != "1.3" and isolates_virtual_hosts(gw, isolate_virtual_hosts):
            reports.declare(Unmodelled(
                gw.key, "metadata.annotations[gateway.solo.io/isolate_vhost]",
                "aggregate listener (isolateVirtualHostsBySslConfig or the gateway.solo.io/isolate_vhost annotation)",
                "gloo_nb translates this Gateway as a plain HTTP or hybrid listener"))
        if gw.hybrid_gateway is not None:
            hybrid = HybridGatewayTranslator(snapshot, gw, profile, reports, index, proxy_name,
                                             translate_empty, delegated).listener()
            if hybrid is not None:
                listeners.append(hybrid)
            continue
        if http is None:
            continue
        if not snapshot.virtual_services and not translate_empty:
            continue
        _note_13_expressions(gw, http, profile, reports)
        vss = select_virtual_services(snapshot, gw, http, gw.ssl, profile, reports)
        ssl_configs: list[Mapping[str, Any]] = []
        vhosts = compute_virtual_hosts(gw, vss, profile, reports, index, proxy_name,
                                       ssl_configs=ssl_configs if gw.ssl else None,
                                       default_one_way_tls=default_one_way_tls, delegated=delegated)
        listeners.append(ProxyListener(
            name=listener_name(gw.bind_address, gw.bind_port), bind_address=gw.bind_address,
            bind_port=gw.bind_port, virtual_hosts=tuple(vhosts), ssl=gw.ssl, options=http.options,
            source=gw.key, listener_options=gw.options, use_proxy_proto=gw.use_proxy_proto,
            route_options=gw.route_options, ssl_configurations=tuple(ssl_configs)))
    return Proxy(proxy_name, write_namespace, tuple(listeners))
