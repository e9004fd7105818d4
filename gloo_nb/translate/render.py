"""The ``gloo-nb translate`` document: a :class:`Translation` as JSON, and as readable tables.

The JSON shape is the contract of ``design/architecture.md`` (``gloo-nb translate --json``):
Gloo resources in Gloo's own YAML field names, Envoy resources in Envoy's proto JSON names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from google.protobuf.message import Message

from gloo_nb._types import JSON
from gloo_nb.models import (
    Destination,
    DirectResponseAction,
    Finding,
    Matcher,
    RedirectAction,
    ResourceKey,
    RouteAction,
    Skipped,
)
from gloo_nb.translate.envoy import EnvoyResources, envoy_vhost_name, route_config_name
from gloo_nb.translate.protojson import message_to_dict
from gloo_nb.translate.proxy import Proxy, ProxyRoute
from gloo_nb.translate.routes import RouteRow, rows_from_envoy_json
from gloo_nb.translate.translator import Translation

# --- JSON -----------------------------------------------------------------------------------


def render(translation: Translation, *, parse_findings: Sequence[Finding] = (),
           parse_skipped: Sequence[Skipped] = ()) -> JSON:
    """Return the ``gloo-nb translate --json`` document of a translation.

    Args:
        translation: The translation.
        parse_findings: Findings of the parser (unknown fields...), listed before Gloo's.
        parse_skipped: Documents the parser skipped (unknown kinds), listed before the ones a
            later document replaced.

    Returns:
        The document: ``glooVersion``, ``reports``, ``findings``, ``proxy``, ``envoy``, ``push``
        and ``skipped``.
    """
    return {
        "glooVersion": translation.profile,
        "reports": [r.as_json() for r in translation.reports],
        "findings": [f.as_json() for f in (*parse_findings, *translation.findings)],
        "proxy": proxy_json(translation.proxy),
        "envoy": envoy_json(translation.envoy),
        "push": {"decision": translation.push.decision, "reason": translation.push.reason},
        "skipped": [s.as_json() for s in (*parse_skipped, *translation.skipped)],
    }


def proxy_json(proxy: Proxy) -> JSON:
    """Return a Proxy with its virtual hosts flattened across listeners.

    Args:
        proxy: The Proxy.

    Returns:
        ``{name, namespace, virtualHosts: [{listener, name, domains, routes}]}``.
    """
    return {
        "name": proxy.name,
        "namespace": proxy.namespace,
        "virtualHosts": [
            {"listener": ls.name, "name": vh.name, "domains": list(vh.domains),
             "routes": [route_json(r) for r in vh.routes]}
            for ls in proxy.listeners for vh in ls.virtual_hosts
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


def _proto_json(message: Message) -> JSON:
    result: JSON = message_to_dict(message)  # MessageToDict's output, several times faster
    return result


def envoy_json(resources: EnvoyResources) -> JSON:
    """Return Envoy resources as proto JSON (lowerCamel field names).

    Args:
        resources: The resources.

    Returns:
        ``{listeners, routeConfigurations, clusters}``, plus ``endpoints`` when there are any.
    """
    out: JSON = {
        "listeners": [_proto_json(m) for m in resources.listeners],
        "routeConfigurations": [_proto_json(m) for m in resources.route_configurations],
        "clusters": [_proto_json(m) for m in resources.clusters],
    }
    if resources.endpoints:
        out["endpoints"] = [_proto_json(m) for m in resources.endpoints]
    return out


# --- text -----------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    return [(indent + "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))).rstrip()
            for r in (header, *rows)]


def object_ref(namespace: str, name: str) -> str:
    """Return ``namespace/name``, or ``name`` for a cluster-scoped object.

    Args:
        namespace: The namespace (``""`` when cluster-scoped).
        name: The name.

    Returns:
        The reference as kubectl writes it.
    """
    return f"{namespace}/{name}" if namespace else name


def first_message(messages: Sequence[str]) -> str:
    """Return the first line of the first message, and how many more messages there are.

    Args:
        messages: Messages (errors first, then warnings, as in a report).

    Returns:
        e.g. ``Route Warning: ... not found (+1 more)``; ``""`` without messages.
    """
    if not messages:
        return ""
    first = messages[0].splitlines()[0] if messages[0] else ""
    return first + (f" (+{len(messages) - 1} more)" if len(messages) > 1 else "")


def _source(sources: Sequence[Mapping[str, str]]) -> str:
    return f"{sources[0]['kind']} {sources[0]['namespace']}/{sources[0]['name']}" if sources else "-"


def _vhost_lines(vhost: Mapping[str, Any], envoy_rows: Sequence[RouteRow]) -> list[str]:
    mine = [r for r in envoy_rows if r.route_configuration == route_config_name(vhost["listener"])
            and r.virtual_host == envoy_vhost_name(vhost["name"])]
    rows: list[list[str]] = []
    for route in vhost["routes"]:
        for _ in route["matchers"]:
            env = mine[len(rows)] if len(rows) < len(mine) else None
            rows.append([str(len(rows)), (env.name if env else "") or "-", env.match_summary if env else "?",
                         env.action_summary if env else "?", _source(route["sources"])])
    head = f"Virtual host {vhost['name']} on {vhost['listener']} (domains {', '.join(vhost['domains']) or '*'})"
    return [head, *_table(("#", "envoy route", "match", "action", "source"), rows)]


def _section(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [title, *(_table(header, rows) if rows else ["  none"]), ""]


def render_text(doc: Mapping[str, Any]) -> str:
    """Render a ``gloo-nb translate`` document as readable tables.

    Args:
        doc: The document of :func:`render`.

    Returns:
        The text, ending with a newline: routes per virtual host, reports, findings, the push
        decision and skipped documents.
    """
    lines = [f"Gloo {doc['glooVersion']}: proxy {doc['proxy']['namespace']}/{doc['proxy']['name']}", ""]
    envoy_rows = rows_from_envoy_json(doc["envoy"])
    for vhost in doc["proxy"]["virtualHosts"]:
        lines += [*_vhost_lines(vhost, envoy_rows), ""]
    if not doc["proxy"]["virtualHosts"]:
        lines += ["No virtual hosts.", ""]
    reports = [(f"{r['kind']} {r['namespace']}/{r['name']}", r["state"],
                first_message([*r["errors"], *r["warnings"]])) for r in doc["reports"]]
    lines += _section("Reports", ("resource", "state", "reason"), reports)
    findings = [(f["severity"], f"{f['kind']} {f['resource']}", f"{f['originKind']} {f['origin']}",
                 first_message([f["message"]]) + (f" [{f['field']}]" if f.get("field") else ""))
                for f in doc["findings"]]
    lines += _section("Findings", ("severity", "reported on", "caused by", "message"), findings)
    lines += [f"Push: {doc['push']['decision']}: {doc['push']['reason']}", ""]
    skipped = [(s["file"], "-" if s["document"] is None else str(s["document"]), s["kind"] or "-",
                object_ref(s.get("namespace", ""), s.get("name", "")) or "-", s["why"]) for s in doc["skipped"]]
    lines += _section("Skipped", ("file", "doc", "kind", "name", "why"), skipped)
    return "\n".join(lines).rstrip("\n") + "\n"
