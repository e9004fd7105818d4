"""Dynamic forward proxy: the HTTP filter, the generated cluster and the route, as Gloo builds them.

Source: ``projects/gloo/pkg/plugins/dynamic_forward_proxy/plugin.go`` (main; the plugin and the ``dynamicForwardProxy``
route destination do not exist at v1.3.20, so the ``1.3`` profile keeps Gloo 1.3's "must specify either ..."
handling in :mod:`gloo_nb.translate.envoy`) and ``translator/route_config.go:setRouteAction`` (the route's cluster).

* A Gateway's ``httpGateway.options.dynamicForwardProxy`` (a ``dfp.options.gloo.solo.io.FilterConfig``) adds the
  ``envoy.filters.http.dynamic_forward_proxy`` filter (stage ``DuringStage(OutAuthStage)``: before the router) and
  one generated cluster per distinct FilterConfig (``GeneratedResources``): type
  ``envoy.clusters.dynamic_forward_proxy``, ``CLUSTER_PROVIDED``, connect timeout 5 s, the same DNS cache config as
  the filter (Envoy insists), the FilterConfig's or Settings' circuit breakers, and its ``sslConfig``.
* A route with ``routeAction.dynamicForwardProxy`` goes to ``solo_io_generated_dfp:<hash of the listener's
  FilterConfig>`` and carries the per-route config (``hostRewrite`` / ``autoHostRewriteHeader``) under the filter's
  name in ``typed_per_filter_config``.

Names: Gloo appends ``hashutils.MustHash`` of the FilterConfig (cluster) and of the DnsCacheConfig (DNS cache)
as decimal uint64s. gloo_nb cannot reproduce those digits (they hash the Go proto); it appends a stable decimal
uint64 of its own over the config's JSON, so names have Gloo's shape but not Gloo's digits (as
:func:`gloo_nb.translate.envoy.matched_route_config_name`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.extensions.clusters.dynamic_forward_proxy.v3 import cluster_pb2 as dfp_cluster_pb2
from envoy.extensions.common.dynamic_forward_proxy.v3 import dns_cache_pb2
from envoy.extensions.filters.http.dynamic_forward_proxy.v3 import dynamic_forward_proxy_pb2 as dfp_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.network.dns_resolver.apple.v3 import apple_dns_resolver_pb2
from envoy.extensions.network.dns_resolver.cares.v3 import cares_dns_resolver_pb2
from google.protobuf import duration_pb2, json_format

__all__ = [
    "DFP_CLUSTER_PREFIX",
    "DFP_FILTER",
    "DfpProblem",
    "dfp_cluster",
    "dfp_cluster_name",
    "dfp_http_filter",
    "dfp_route_config",
]

DFP_FILTER = "envoy.filters.http.dynamic_forward_proxy"  # plugin.go FilterName
DFP_CLUSTER_PREFIX = "solo_io_generated_dfp:"  # constants.SoloGeneratedClusterPrefix + "dfp:"
_DFP_CLUSTER_TYPE = "envoy.clusters.dynamic_forward_proxy"

# dynamic_forward_proxy.proto DnsLookupFamily -> Envoy's (convertDnsLookupFamily); V4_PREFERRED is Gloo's 0.
_FAMILIES = {"V4_PREFERRED": "V4_PREFERRED", "V4_ONLY": "V4_ONLY", "V6_ONLY": "V6_ONLY", "AUTO": "AUTO",
             "ALL": "ALL", 0: "V4_PREFERRED", 1: "V4_ONLY", 2: "V6_ONLY", 3: "AUTO", 4: "ALL"}
_FILTER_FIELDS = frozenset({"dnsCacheConfig", "saveUpstreamAddress", "sslConfig", "circuitBreakers"})
_CACHE_FIELDS = frozenset({"dnsLookupFamily", "dnsRefreshRate", "hostTtl", "maxHosts", "dnsFailureRefreshRate",
                           "dnsCacheCircuitBreaker", "caresDns", "appleDns", "preresolveHostnames", "dnsQueryTimeout"})
_ROUTE_FIELDS = frozenset({"hostRewrite", "autoHostRewriteHeader"})


@dataclass(frozen=True, slots=True)
class DfpProblem:
    """A problem with a DFP config.

    Attributes:
        message: The text (Gloo's own where ``gloo``, else gloo_nb's note).
        field: The field path below the config.
        gloo: Whether Gloo reports it (else gloo_nb cannot read the value and says so).
    """

    message: str
    field: str = ""
    gloo: bool = False


def _hash(value: Any) -> str:
    digest = hashlib.blake2b(json.dumps(value, sort_keys=True, default=str).encode(), digest_size=8).digest()
    return str(int.from_bytes(digest, "big"))


def dfp_cluster_name(filter_config: Mapping[str, Any] | None) -> str:
    """``GetGeneratedClusterName``: ``solo_io_generated_dfp:<hash of the listener's FilterConfig>``.

    A listener without ``dynamicForwardProxy`` options still names a cluster (the hash of a nil config) that
    nothing generates: Envoy then answers such routes with 503 (no cluster), as it would with Gloo.

    Args:
        filter_config: The HTTP listener's ``options.dynamicForwardProxy``, or None.

    Returns:
        The cluster name.
    """
    return DFP_CLUSTER_PREFIX + _hash(filter_config)


def _socket_address(raw: Any, where: str, problems: list[DfpProblem]) -> dict[str, Any] | None:
    # convertSocketAddress: protocol TCP (0) or UDP, a port value or a named port.
    if not isinstance(raw, Mapping):
        problems.append(DfpProblem(f"{where} is not an object: left out", where))
        return None
    out: dict[str, Any] = {"address": str(raw.get("address", ""))}
    protocol = raw.get("protocol", "TCP")
    out["protocol"] = "UDP" if protocol in ("UDP", 1) else "TCP"
    if raw.get("portValue") is not None:
        out["portValue"] = raw["portValue"]
    elif raw.get("namedPort") is not None:
        out["namedPort"] = raw["namedPort"]
    else:
        # Gloo: "unsupported type for socket address port specifier": the whole DFP config fails.
        problems.append(DfpProblem(f"unsupported type for socket address port specifier {_go_type(protocol)}",
                                   where, gloo=True))
        return None
    for key in ("resolverName", "ipv4Compat"):
        if raw.get(key) is not None:
            out[key] = raw[key]
    return out


def _go_type(protocol: Any) -> str:
    # plugin.go prints the *protocol's* type with %T (a Go slip): always the enum type.
    del protocol
    return "v3.SocketAddress_Protocol"


def _dns_cache_config(raw: Any, where: str, problems: list[DfpProblem]) -> dns_cache_pb2.DnsCacheConfig | None:
    # convertDnsCacheConfig
    cfg: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    for key in cfg:
        if key not in _CACHE_FIELDS:
            problems.append(DfpProblem(f"unknown field {where}.{key}: not a DnsCacheConfig field", f"{where}.{key}"))
    out: dict[str, Any] = {"name": DFP_CLUSTER_PREFIX + _hash(raw)}
    family = cfg.get("dnsLookupFamily", "V4_PREFERRED")
    if family not in _FAMILIES:
        # convertDnsLookupFamily prints the enum's Go type with %T, not the value.
        problems.append(DfpProblem("unsupported dns lookup family type dynamic_forward_proxy.DnsLookupFamily",
                                   f"{where}.dnsLookupFamily", gloo=True))
        return None
    out["dnsLookupFamily"] = _FAMILIES[family]
    for key in ("dnsRefreshRate", "hostTtl", "maxHosts", "dnsQueryTimeout"):
        if cfg.get(key) is not None:
            out[key] = cfg[key]
    rate = cfg.get("dnsFailureRefreshRate")
    if isinstance(rate, Mapping):
        out["dnsFailureRefreshRate"] = {k: rate[k] for k in ("baseInterval", "maxInterval") if rate.get(k) is not None}
    breaker = cfg.get("dnsCacheCircuitBreaker")
    if isinstance(breaker, Mapping):
        out["dnsCacheCircuitBreaker"] = {k: breaker[k] for k in ("maxPendingRequests",) if breaker.get(k) is not None}
    if cfg.get("caresDns") is not None:
        cares = cfg["caresDns"] if isinstance(cfg["caresDns"], Mapping) else {}
        resolvers = []
        for i, addr in enumerate(cares.get("resolvers") or ()):
            at = f"{where}.caresDns.resolvers[{i}]"
            if isinstance(addr, Mapping) and addr.get("pipe") is not None:
                pipe = addr["pipe"] if isinstance(addr["pipe"], Mapping) else {}
                resolvers.append({"pipe": {k: pipe[k] for k in ("path", "mode") if pipe.get(k) is not None}})
                continue
            sock = _socket_address((addr or {}).get("socketAddress") if isinstance(addr, Mapping) else None,
                                   f"{at}.socketAddress", problems)
            if sock is None:
                return None
            resolvers.append({"socketAddress": sock})
        typed: dict[str, Any] = {"@type": "type.googleapis.com/" +
                                 cares_dns_resolver_pb2.CaresDnsResolverConfig.DESCRIPTOR.full_name}
        if resolvers:
            typed["resolvers"] = resolvers
        opts = cares.get("dnsResolverOptions")
        if isinstance(opts, Mapping):
            typed["dnsResolverOptions"] = {k: opts[k] for k in ("useTcpForDnsLookups", "noDefaultSearchDomain")
                                           if opts.get(k) is not None}
        out["typedDnsResolverConfig"] = {"name": "envoy.network.dns_resolver.cares", "typedConfig": typed}
    elif cfg.get("appleDns") is not None:
        out["typedDnsResolverConfig"] = {"name": "envoy.network.dns_resolver.apple", "typedConfig": {
            "@type": "type.googleapis.com/" + apple_dns_resolver_pb2.AppleDnsResolverConfig.DESCRIPTOR.full_name}}
    hosts = []
    for i, h in enumerate(cfg.get("preresolveHostnames") or ()):
        sock = _socket_address(h, f"{where}.preresolveHostnames[{i}]", problems)
        if sock is None:
            return None
        hosts.append(sock)
    if hosts:
        out["preresolveHostnames"] = hosts
    msg = dns_cache_pb2.DnsCacheConfig()
    try:
        json_format.ParseDict(out, msg)
    except json_format.ParseError as err:
        problems.append(DfpProblem(f"{where}: a value gloo_nb cannot read as Gloo's DnsCacheConfig: {err}", where))
        return None
    return msg


def dfp_http_filter(filter_config: Mapping[str, Any],
                    where: str) -> tuple[hcm_pb2.HttpFilter | None, list[DfpProblem]]:
    """``HttpFilters``: the ``envoy.filters.http.dynamic_forward_proxy`` filter for a listener's FilterConfig.

    Args:
        filter_config: ``options.dynamicForwardProxy``.
        where: Its path, for messages.

    Returns:
        The HCM HTTP filter (None when the config cannot be converted) and the problems.
    """
    problems: list[DfpProblem] = []
    for key in filter_config:
        if key not in _FILTER_FIELDS:
            problems.append(DfpProblem(f"unknown field {where}.{key}: not a dynamic forward proxy FilterConfig field",
                                       f"{where}.{key}"))
    cache = _dns_cache_config(filter_config.get("dnsCacheConfig"), f"{where}.dnsCacheConfig", problems)
    if cache is None:
        return None, problems
    cfg = dfp_pb2.FilterConfig(save_upstream_address=bool(filter_config.get("saveUpstreamAddress")))
    cfg.dns_cache_config.CopyFrom(cache)
    out = hcm_pb2.HttpFilter(name=DFP_FILTER)
    out.typed_config.Pack(cfg)
    return out, problems


def dfp_cluster(filter_config: Mapping[str, Any], where: str,
                default_circuit_breakers: Mapping[str, Any] | None) -> tuple[cluster_pb2.Cluster | None,
                                                                             list[DfpProblem]]:
    """``generateCustomDynamicForwardProxyCluster``: the cluster generated for one FilterConfig.

    The FilterConfig's ``sslConfig`` (an UpstreamTlsContext on the cluster) is not built here: the caller resolves
    it with the TLS translator and adds the transport socket.

    Args:
        filter_config: ``options.dynamicForwardProxy``.
        where: Its path, for messages.
        default_circuit_breakers: Settings' ``gloo.circuitBreakers`` (``getCircuitBreakers``'s fallback).

    Returns:
        The cluster (None when the DNS cache config cannot be converted) and the problems.
    """
    problems: list[DfpProblem] = []
    cache = _dns_cache_config(filter_config.get("dnsCacheConfig"), f"{where}.dnsCacheConfig", problems)
    if cache is None:
        return None, problems
    cc = dfp_cluster_pb2.ClusterConfig(allow_insecure_cluster_options=False, allow_coalesced_connections=False)
    cc.dns_cache_config.CopyFrom(cache)
    out = cluster_pb2.Cluster(name=dfp_cluster_name(filter_config), connect_timeout=duration_pb2.Duration(seconds=5),
                              lb_policy=cluster_pb2.Cluster.CLUSTER_PROVIDED)
    out.cluster_type.name = _DFP_CLUSTER_TYPE
    out.cluster_type.typed_config.Pack(cc)
    cb = filter_config.get("circuitBreakers")
    if cb is None:
        cb = default_circuit_breakers
    if isinstance(cb, Mapping):
        # convertCircuitBreakers: one threshold, trackRemaining copied too (unlike clusters.go's).
        th = out.circuit_breakers.thresholds.add()
        for key, attr in (("maxConnections", "max_connections"), ("maxPendingRequests", "max_pending_requests"),
                          ("maxRequests", "max_requests"), ("maxRetries", "max_retries")):
            if isinstance(cb.get(key), int) and not isinstance(cb.get(key), bool):
                getattr(th, attr).value = cb[key]
        if cb.get("trackRemaining") is True:
            th.track_remaining = True
    return out, problems


@dataclass(frozen=True, slots=True)
class UnknownDfpFields:
    """Fields of ``routeAction.dynamicForwardProxy`` that Gloo's ``PerRouteConfig`` does not have.

    Gloo's strict decoding refuses the whole resource for them; gloo_nb reports them on the route.

    Attributes:
        fields: The unknown field names, sorted.
    """

    fields: tuple[str, ...]

    @property
    def message(self) -> str:
        """The finding's text."""
        return (f"unknown field(s) {', '.join(self.fields)} in routeAction.dynamicForwardProxy: Gloo's strict "
                "decoding refuses the resource; remove or correct them")


def dfp_route_config(route_config: Mapping[str, Any]) -> dfp_pb2.PerRouteConfig | UnknownDfpFields | str:
    """``ProcessRoute``: the per-route config of a ``dynamicForwardProxy`` destination.

    Args:
        route_config: ``routeAction.dynamicForwardProxy`` (a ``PerRouteConfig``).

    Returns:
        The Envoy PerRouteConfig, or Gloo's error text when neither host rewrite is set (the plugin's error is
        printed with the plugin's Go type first: ``reportRoutePluginProcessingError``).
    """
    out = dfp_pb2.PerRouteConfig()
    unknown = sorted(str(k) for k in route_config if k not in _ROUTE_FIELDS)
    if unknown:
        # A field Gloo's PerRouteConfig lacks fails Gloo's strict decoding of the whole resource.
        return UnknownDfpFields(tuple(unknown))
    if route_config.get("hostRewrite") is not None:
        out.host_rewrite_literal = str(route_config["hostRewrite"])
    elif route_config.get("autoHostRewriteHeader") is not None:
        out.host_rewrite_header = str(route_config["autoHostRewriteHeader"])
    else:
        return "*dynamic_forward_proxy.plugin: unimplemented dynamic forward proxy route config type <nil>"
    return out
