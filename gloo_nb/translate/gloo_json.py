"""Gloo resources as JSON in Gloo's own YAML field names: the proxy, its routes, matchers and actions.

The ``proxy`` section of the ``gloo-nb translate`` document, and the matcher/action fields that
statuses (:mod:`gloo_nb.translate.status`) and the delegation tree (:mod:`gloo_nb.analysis.tree`)
show. Separate from the Envoy section (:mod:`gloo_nb.translate.envoy_json`), which uses Envoy's proto
JSON names, and from the text tables (:mod:`gloo_nb.translate.tables`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gloo_nb._types import JSON
from gloo_nb.models import (
    Destination,
    DirectResponseAction,
    Matcher,
    RedirectAction,
    ResourceKey,
    RouteAction,
)
from gloo_nb.translate.proxy import Proxy, ProxyRoute


def proxy_json(proxy: Proxy) -> JSON:
    """Return a Proxy with its virtual hosts flattened across listeners.

    Args:
        proxy: The Proxy.

    Returns:
        ``{name, namespace, virtualHosts: [{listener, name, domains, [options], routes}]}`` (``options``,
        the VirtualHostOptions, only when set).
    """
    return {
        "name": proxy.name,
        "namespace": proxy.namespace,
        "virtualHosts": [
            {"listener": ls.name, "name": vh.name, "domains": list(vh.domains),
             **({"options": dict(vh.options)} if vh.options else {}),
             "routes": [route_json(r) for r in vh.routes]}
            for ls in proxy.listeners
            # A hybrid listener's virtual hosts sit in its matched HTTP listeners.
            for vh in (*ls.virtual_hosts, *(v for m in ls.matched for v in m.virtual_hosts))
        ],
    }


def route_json(route: ProxyRoute) -> JSON:
    """Return a Proxy route in Gloo's YAML field names.

    Args:
        route: The route.

    Returns:
        ``{name, matchers, action, [options], sources}``.
    """
    out: JSON = {"name": route.name, "matchers": [matcher_json(m) for m in route.matchers],
                 "action": action_json(route)}
    if route.options:
        out["options"] = dict(route.options)
    out["sources"] = [_key_json(k) for k in route.sources]
    return out


def _key_json(key: ResourceKey) -> JSON:
    return {"kind": key.kind, "namespace": key.namespace, "name": key.name}


def _ref_json(name: str, namespace: str) -> JSON:
    return {"name": name, "namespace": namespace}


def _pruned(fields: Iterable[tuple[str, Any]]) -> JSON:
    # Gloo's YAML leaves unset fields out; callers turn "unset" into None.
    return {k: v for k, v in fields if v is not None}


def _flag(value: bool) -> bool | None:
    return True if value else None


def _nonempty(items: Iterable[Any]) -> list[Any] | None:
    return list(items) or None


def matcher_json(matcher: Matcher) -> JSON:
    """Return a matcher in Gloo's YAML field names, leaving unset fields out.

    Args:
        matcher: The matcher.

    Returns:
        e.g. ``{"prefix": "/echo", "headers": [{"name": "stage", "value": "canary"}]}``.
    """
    return _pruned([
        ("prefix", matcher.prefix), ("exact", matcher.exact), ("regex", matcher.regex),
        ("connectMatcher", {} if matcher.connect else None),
        ("caseSensitive", matcher.case_sensitive),
        ("headers", _nonempty(_pruned([("name", h.name), ("value", h.value or None), ("regex", _flag(h.regex)),
                                       ("invertMatch", _flag(h.invert_match))]) for h in matcher.headers)),
        ("queryParameters", _nonempty(_pruned([("name", q.name), ("value", q.value or None),
                                               ("regex", _flag(q.regex))]) for q in matcher.query_parameters)),
        ("methods", _nonempty(matcher.methods)),
    ])


def action_json(route: ProxyRoute) -> JSON:
    """Return a route's action keyed by Gloo's action field name.

    Args:
        route: The route.

    Returns:
        ``{"routeAction": ...}``, ``{"directResponseAction": ...}``, ``{"redirectAction": ...}``,
        or ``{}`` when the route has no action.
    """
    if route.route_action is not None:
        return {"routeAction": route_action_json(route.route_action)}
    if route.direct_response_action is not None:
        return {"directResponseAction": direct_response_json(route.direct_response_action)}
    if route.redirect_action is not None:
        return {"redirectAction": redirect_json(route.redirect_action)}
    return {}


def destination_json(dest: Destination) -> JSON:
    """Return a destination in Gloo's YAML field names.

    Args:
        dest: The destination.

    Returns:
        e.g. ``{"upstream": {"name": "echo", "namespace": "gloo-system"}, "subset": {"values": {...}}}``.
    """
    return _pruned([
        ("upstream", _ref_json(dest.upstream.name, dest.upstream.namespace) if dest.upstream else None),
        ("kube", {"ref": _ref_json(dest.kube.ref.name, dest.kube.ref.namespace), "port": dest.kube.port}
         if dest.kube else None),
        ("consul", dict(dest.consul) if dest.consul is not None else None),
        ("subset", {"values": dict(dest.subset)} if dest.subset is not None else None),
        ("destinationSpec", dict(dest.destination_spec) if dest.destination_spec is not None else None),
    ])


def route_action_json(action: RouteAction) -> JSON:
    """Return a ``routeAction`` in Gloo's YAML field names.

    Args:
        action: The action.

    Returns:
        ``{"single": ...}``, ``{"multi": {"destinations": [...]}}``, ``{"upstreamGroup": ...}``,
        ``{"clusterHeader": ...}`` or ``{"dynamicForwardProxy": ...}``.
    """
    if action.single is not None:
        return {"single": destination_json(action.single)}
    if action.multi is not None:
        return {"multi": {"destinations": [
            _pruned([("destination", destination_json(wd.destination)), ("weight", wd.weight),
                     ("options", dict(wd.options) or None)])
            for wd in action.multi]}}
    if action.upstream_group is not None:
        return {"upstreamGroup": _ref_json(action.upstream_group.name, action.upstream_group.namespace)}
    if action.cluster_header is not None:
        return {"clusterHeader": action.cluster_header}
    if action.dynamic_forward_proxy is not None:
        return {"dynamicForwardProxy": dict(action.dynamic_forward_proxy)}
    return {}


def direct_response_json(action: DirectResponseAction) -> JSON:
    """Return a ``directResponseAction`` in Gloo's YAML field names.

    Args:
        action: The action.

    Returns:
        ``{"status": N, ["body": "..."]}``.
    """
    return {"status": action.status} | ({"body": action.body} if action.body else {})


def redirect_json(action: RedirectAction) -> JSON:
    """Return a ``redirectAction`` in Gloo's YAML field names, leaving unset fields out.

    Args:
        action: The action.

    Returns:
        e.g. ``{"hostRedirect": "example.com", "httpsRedirect": true}``.
    """
    return _pruned([
        ("hostRedirect", action.host_redirect or None), ("pathRedirect", action.path_redirect),
        ("prefixRewrite", action.prefix_rewrite),
        ("regexRewrite", dict(action.regex_rewrite) if action.regex_rewrite is not None else None),
        ("responseCode", None if action.response_code == "MOVED_PERMANENTLY" else action.response_code),
        ("httpsRedirect", _flag(action.https_redirect)), ("stripQuery", _flag(action.strip_query)),
        ("portRedirect", action.port_redirect),
    ])

