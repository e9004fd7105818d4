"""The ``gloo-nb translate`` document as readable tables (``gloo-nb translate`` without ``--json``).

Text only: it reads the JSON document of :func:`gloo_nb.translate.render.render` and lays it out;
:func:`first_message` and :func:`object_ref` are also how ``gloo-nb check`` words its lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gloo_nb.translate.envoy import envoy_vhost_name, route_config_name
from gloo_nb.translate.routes import RouteRow, rows_from_envoy_json


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
    # A hybrid listener's matched HTTP listeners each have "<listener>-routes-<matcher hash>".
    rc_name = route_config_name(vhost["listener"])
    mine = [r for r in envoy_rows if r.virtual_host == envoy_vhost_name(vhost["name"])
            and (r.route_configuration == rc_name or str(r.route_configuration or "").startswith(rc_name + "-"))]
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


def cluster_settings(cluster: Mapping[str, Any]) -> str:
    """Summarise the operator-relevant settings an Upstream's options put on its Envoy cluster.

    Args:
        cluster: One ``envoy.clusters`` entry (Envoy proto JSON).

    Returns:
        ``; ``-joined facts (health checks, outlier detection, circuit breakers, load balancing,
        HTTP/2, connection limits), or ``""`` when the cluster has none of them.
    """
    facts = []
    for hc in cluster.get("healthChecks", ()):
        kind = next((k.removesuffix("HealthCheck") for k in ("httpHealthCheck", "tcpHealthCheck", "grpcHealthCheck")
                     if k in hc), "custom")
        path = hc.get("httpHealthCheck", {}).get("path", "")
        facts.append(f"health {kind}{' ' + path if path else ''} every {hc.get('interval', '?')}")
    od = cluster.get("outlierDetection")
    if od is not None:
        facts.append(f"outlier detection every {od.get('interval', '?')}"
                     + (f", {od['consecutive5xx']} x 5xx" if "consecutive5xx" in od else ""))
    for th in cluster.get("circuitBreakers", {}).get("thresholds", ()):
        limits = ", ".join(f"{k.removeprefix('max')} {v}" for k, v in th.items() if k.startswith("max"))
        facts.append(f"circuit breakers {limits}" if limits else "circuit breakers")
    if "lbPolicy" in cluster:
        facts.append(f"lb {cluster['lbPolicy']}")
    if "http2ProtocolOptions" in cluster or "typedExtensionProtocolOptions" in cluster:
        facts.append("http2")
    if cluster.get("protocolSelection") == "USE_DOWNSTREAM_PROTOCOL":
        facts.append("downstream protocol")
    if "maxRequestsPerConnection" in cluster:
        facts.append(f"max {cluster['maxRequestsPerConnection']} requests/connection")
    if cluster.get("ignoreHealthOnHostRemoval"):
        facts.append("ignore health on host removal")
    return "; ".join(facts)


def endpoint_rows(envoy: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """One row per endpoint of the ClusterLoadAssignments Gloo's EDS sends (``envoy.endpoints``).

    Args:
        envoy: The ``envoy`` section of the translate document (Envoy proto JSON).

    Returns:
        ``(cluster, address:port, labels)``: labels are the endpoint's ``envoy.lb`` metadata (its pod's
        labels, which subsets select on), ``key=value`` comma-joined, ``-`` without any.
    """
    rows = []
    for cla in envoy.get("endpoints", ()):
        for locality in cla.get("endpoints", ()):
            for lb in locality.get("lbEndpoints", ()):
                sock = lb.get("endpoint", {}).get("address", {}).get("socketAddress", {})
                labels = lb.get("metadata", {}).get("filterMetadata", {}).get("envoy.lb", {})
                rows.append((cla.get("clusterName", ""), f"{sock.get('address', '?')}:{sock.get('portValue', '?')}",
                             ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"))
    return rows


def _proxy_lines(proxy: Mapping[str, Any], envoy: Mapping[str, Any]) -> list[str]:
    envoy_rows = rows_from_envoy_json(envoy)
    lines: list[str] = []
    for vhost in proxy["virtualHosts"]:
        lines += [*_vhost_lines(vhost, envoy_rows), ""]
    if not proxy["virtualHosts"]:
        lines += ["No virtual hosts.", ""]
    return lines


def unmodelled_line(entry: Mapping[str, Any]) -> str:
    """One ``not modelled:`` line for an ``unmodelled`` entry of the translate document.

    Args:
        entry: ``{kind, namespace, name, path, feature[, detail]}``.

    Returns:
        ``not modelled: <Kind> <ns>/<name>: <path> (<feature>)[: <detail>]`` (as
        :meth:`gloo_nb.models.Unmodelled.line`).
    """
    ref = object_ref(entry.get("namespace", ""), entry.get("name", ""))
    return (f"not modelled: {entry['kind']} {ref}: {entry['path']} ({entry['feature']})"
            + (f": {entry['detail']}" if entry.get("detail") else ""))


def unmodelled_lines(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The text output's own section for what gloo_nb does not model (nothing when there is none).

    Args:
        entries: The document's ``unmodelled`` entries.

    Returns:
        A title, one ``not modelled:`` line per entry, and a blank line; ``[]`` without entries.
    """
    if not entries:
        return []
    return ["Not modelled by gloo_nb (Gloo applies these; the prediction lacks their effect; not problems)",
            *(f"  {unmodelled_line(e)}" for e in entries), ""]


def render_text(doc: Mapping[str, Any]) -> str:
    """Render a ``gloo-nb translate`` document as readable tables.

    Args:
        doc: The document of :func:`render`.

    Returns:
        The text, ending with a newline: routes per virtual host, cluster settings, the endpoints EDS sends,
        the watched namespaces (when Settings limit them), reports, findings, the push decision and skipped
        documents.
    """
    proxies = doc.get("proxies") or []
    if len(proxies) > 1:
        # Many proxies: each with its own virtual hosts and push decision (the top-level push is
        # the default proxy's, so it is not repeated at the end).
        lines = [f"Gloo {doc['glooVersion']}: {len(proxies)} proxies: "
                 + ", ".join(f"{p['namespace']}/{p['name']}" for p in proxies), ""]
        for proxy in proxies:
            lines += [f"Proxy {proxy['namespace']}/{proxy['name']} (xDS key {proxy['snapshotKey']})", ""]
            lines += _proxy_lines(proxy, proxy["envoy"])
            lines += [f"Push ({proxy['name']}): {proxy['push']['decision']}: {proxy['push']['reason']}", ""]
    else:
        lines = [f"Gloo {doc['glooVersion']}: proxy {doc['proxy']['namespace']}/{doc['proxy']['name']}", ""]
        lines += _proxy_lines(doc["proxy"], doc["envoy"])
    tuned = [(c["name"], c.get("type", "-"), text) for c in doc["envoy"].get("clusters", ())
             if (text := cluster_settings(c))]
    if tuned:
        # Only clusters whose Upstream sets options: the plain ones add nothing for an operator.
        lines += _section("Cluster settings", ("cluster", "type", "settings"), tuned)
    if doc["envoy"].get("endpoints"):
        # What Gloo's EDS sends for kube Upstreams, from the input's Services, Endpoints and Pods (translate/eds.py).
        lines += _section("Endpoints (EDS)", ("cluster", "address", "labels"), endpoint_rows(doc["envoy"]))
    watch = doc.get("watch")
    if watch:
        lines += ["Watched namespaces: " + (", ".join(watch["namespaces"]) if watch.get("namespaces") is not None
                                            else "every namespace") + (f" ({watch['rule']})" if watch.get("rule")
                                                                       else ""), ""]
    reports = [(f"{r['kind']} {r['namespace']}/{r['name']}", r["state"],
                first_message([*r["errors"], *r["warnings"]])) for r in doc["reports"]]
    lines += _section("Reports", ("resource", "state", "reason"), reports)
    findings = [(f["severity"], f"{f['kind']} {f['resource']}", f"{f['originKind']} {f['origin']}",
                 first_message([f["message"]]) + (f" [{f['field']}]" if f.get("field") else ""))
                for f in doc["findings"]]
    lines += _section("Findings", ("severity", "reported on", "caused by", "message"), findings)
    if len(proxies) <= 1:
        lines += [f"Push: {doc['push']['decision']}: {doc['push']['reason']}", ""]
    skipped = [(s["file"], "-" if s["document"] is None else str(s["document"]), s["kind"] or "-",
                object_ref(s.get("namespace", ""), s.get("name", "")) or "-", s["why"]) for s in doc["skipped"]]
    lines += _section("Skipped", ("file", "doc", "kind", "name", "why"), skipped)
    lines += unmodelled_lines(doc.get("unmodelled") or ())
    return "\n".join(lines).rstrip("\n") + "\n"
