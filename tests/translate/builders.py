"""Small builders of Gloo models for translator tests (tests only)."""

from __future__ import annotations

from gloo_nb.models.resources import (
    HELM_INVALID_ROUTE_BODY,
    DelegateAction,
    Destination,
    DirectResponseAction,
    HeaderMatcher,
    InvalidConfigPolicy,
    KubeUpstreamSpec,
    Matcher,
    ObjectMeta,
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
    VirtualHost,
    VirtualService,
    WeightedDestination,
)

GS = "gloo-system"


def m(prefix=None, *, exact=None, regex=None, headers=(), methods=(), query=(), case=None):
    return Matcher(prefix=prefix, exact=exact, regex=regex, case_sensitive=case,
                   headers=tuple(HeaderMatcher(*h) if isinstance(h, tuple) else h for h in headers),
                   methods=tuple(methods), query_parameters=tuple(query))


def to(upstream, ns=GS, subset=None):
    return RouteAction(single=Destination(upstream=ResourceRef(upstream, ns), subset=subset))


def multi(*pairs, ns=GS):
    return RouteAction(multi=tuple(
        WeightedDestination(Destination(upstream=ResourceRef(u, ns), subset=s), w) for u, s, w in pairs))


def route(*matchers, action=None, delegate=None, name="", direct=None, options=None, inherit=None,
          inherit_path=None):
    return Route(matchers=tuple(matchers), route_action=action, delegate_action=delegate, name=name,
                 direct_response_action=DirectResponseAction(*direct) if direct else None,
                 options=options or {}, inheritable_matchers=inherit, inheritable_path_matchers=inherit_path)


def sel(*namespaces, labels=None, expressions=()):
    return DelegateAction(selector=RouteTableSelector(
        namespaces=tuple(namespaces), labels=labels or {},
        expressions=tuple(SelectorExpression(*e) for e in expressions)))


def ref(name, ns=""):
    return DelegateAction(ref=ResourceRef(name, ns))


def vs(name, *routes, ns=GS, domains=("*",)):
    return VirtualService(meta=ObjectMeta(name, ns), virtual_host=VirtualHost(domains=tuple(domains),
                                                                             routes=tuple(routes)))


def rt(name, ns, *routes, labels=None, weight=None):
    return RouteTable(meta=ObjectMeta(name, ns, labels=labels or {}), routes=tuple(routes), weight=weight)


def kube_upstream(name, ns=GS, *, svc=None, port=80, subset_keys=("version",)):
    svc = svc or name
    spec = SubsetSpec(selectors=(SubsetSelector(keys=tuple(subset_keys)),)) if subset_keys else None
    return Upstream(meta=ObjectMeta(name, ns), kube=KubeUpstreamSpec(
        service_name=svc, service_namespace=svc, service_port=port, selector={"app": svc}, subset_spec=spec),
        upstream_type="kube")


def static_upstream(name, ns=GS, hosts=(("127.0.0.1", 8080),)):
    return Upstream(meta=ObjectMeta(name, ns), static=StaticUpstreamSpec(
        hosts=tuple(StaticHost(a, p) for a, p in hosts)), upstream_type="static")


def service(name, ns=None, port=80, target=8080):
    return Service(meta=ObjectMeta(name, ns or name), ports=(ServicePort(port, target),), selector={"app": name})


def settings(replace=False, code=404, body=HELM_INVALID_ROUTE_BODY):
    return Settings(meta=ObjectMeta("default", GS), discovery_namespace=GS,
                    invalid_config_policy=InvalidConfigPolicy(replace, code, body))


def envoy_routes(translation, served=False):
    """[(vhost, name, match dict, action dict)] of the (served or translated) route configurations."""
    from google.protobuf import json_format

    res = translation.served if served else translation.envoy
    out = []
    if res is None:
        return out
    for rc in res.route_configurations:
        for vh in rc.virtual_hosts:
            for r in vh.routes:
                d = json_format.MessageToDict(r)
                out.append((vh.name, r.name, d.get("match", {}),
                            d.get("route") or d.get("directResponse") or d.get("redirect")))
    return out


def messages(translation, kind, ns, name):
    rep = translation.report(kind, ns, name)
    assert rep is not None, f"no report for {kind} {ns}/{name}"
    return rep
