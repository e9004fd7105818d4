"""Dynamic forward proxy as current Gloo builds it: the HTTP filter, the generated cluster, the route.

Gloo sources: ``projects/gloo/pkg/plugins/dynamic_forward_proxy/plugin.go`` and its ``plugin_test.go``;
``translator/route_config.go:setRouteAction`` (``RouteAction_DynamicForwardProxy``). Gloo 1.3 has neither.
"""

from __future__ import annotations

import pytest
import yaml
from google.protobuf import json_format

from gloo_nb.models.codec import parse_stream
from gloo_nb.translate import translate

pytestmark = pytest.mark.unit

GS = "gloo-system"
DFP = "envoy.filters.http.dynamic_forward_proxy"


def _docs(dfp_options: dict | None, *route_configs: dict, settings: dict | None = None) -> list:
    gw: dict = {"apiVersion": "gateway.solo.io/v1", "kind": "Gateway",
                "metadata": {"name": "gateway-proxy", "namespace": GS},
                "spec": {"bindAddress": "::", "bindPort": 8080, "proxyNames": ["gateway-proxy"], "httpGateway": {}}}
    if dfp_options is not None:
        gw["spec"]["httpGateway"]["options"] = {"dynamicForwardProxy": dfp_options}
    vs = {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "vs", "namespace": GS},
          "spec": {"virtualHost": {"domains": ["*"], "routes": [
              {"matchers": [{"prefix": f"/r{i}"}], "routeAction": {"dynamicForwardProxy": cfg}}
              for i, cfg in enumerate(route_configs)]}}}
    docs = [gw, vs]
    if settings is not None:
        docs.append({"apiVersion": "gloo.solo.io/v1", "kind": "Settings", "metadata": {"name": "default",
                                                                                      "namespace": GS},
                     "spec": settings})
    return parse_stream(yaml.safe_dump_all(docs), file="dfp.yaml").resources


def _t(*args, profile="current", **kw):
    return translate(_docs(*args, **kw), profile)


def _hcm(t) -> dict:
    (listener,) = t.envoy.listeners
    return json_format.MessageToDict(listener)["filterChains"][0]["filters"][0]["typedConfig"]


def _dfp_filter(t) -> dict:
    (dfp,) = [f for f in _hcm(t)["httpFilters"] if f["name"] == DFP]
    return dfp


def _dfp_clusters(t) -> list[dict]:
    return [json_format.MessageToDict(c) for c in t.envoy.clusters if c.name.startswith("solo_io_generated_dfp:")]


def _vs(t):
    return next(r for r in t.reports if r.key.kind == "VirtualService")


def test_sane_defaults_with_an_empty_filter_config():
    """plugin_test.go "sane defaults" / "uses sane defaults with empty http filter": V4_PREFERRED."""
    t = _t({}, {"hostRewrite": "example.com"})
    # DuringStage(OutAuthStage): after Gloo's default filters up to the transformation filter, before csrf (RouteStage).
    assert [f["name"] for f in _hcm(t)["httpFilters"]] == [
        "envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.local_ratelimit",
        "envoy.filters.http.grpc_web", "io.solo.transformation", DFP, "envoy.filters.http.csrf",
        "envoy.filters.http.router"]
    dfp = _dfp_filter(t)
    assert dfp["typedConfig"]["dnsCacheConfig"]["dnsLookupFamily"] == "V4_PREFERRED"
    assert dfp["typedConfig"]["dnsCacheConfig"]["name"].startswith("solo_io_generated_dfp:")


def test_no_filter_without_the_option():
    """plugin_test.go "does not configure DFP filter if not needed"."""
    t = translate(_docs(None), "current")
    assert DFP not in [f["name"] for f in _hcm(t)["httpFilters"]]
    assert _dfp_clusters(t) == []


def test_translates_cares_config_and_top_level_fields():
    """plugin_test.go "translates provided config" / "translates cares config and top level fields"."""
    options = {"saveUpstreamAddress": True, "dnsCacheConfig": {
        "dnsLookupFamily": "V4_ONLY", "dnsRefreshRate": "10.000000020s", "hostTtl": "30.000000040s", "maxHosts": 10,
        "caresDns": {"resolvers": [{"socketAddress": {"protocol": "UDP", "address": "127.0.0.1", "portValue": 80,
                                                      "resolverName": "resolverName", "ipv4Compat": True}}],
                     "dnsResolverOptions": {"useTcpForDnsLookups": True, "noDefaultSearchDomain": True}}}}
    t = _t(options, {"hostRewrite": "example.com"})
    cfg = _dfp_filter(t)["typedConfig"]
    assert cfg["saveUpstreamAddress"] is True
    cache = cfg["dnsCacheConfig"]
    assert (cache["dnsLookupFamily"], cache["dnsRefreshRate"], cache["hostTtl"], cache["maxHosts"]) == (
        "V4_ONLY", "10.000000020s", "30.000000040s", 10)
    resolver = cache["typedDnsResolverConfig"]
    assert resolver["name"] == "envoy.network.dns_resolver.cares"
    assert resolver["typedConfig"]["dnsResolverOptions"] == {"useTcpForDnsLookups": True,
                                                             "noDefaultSearchDomain": True}
    assert resolver["typedConfig"]["resolvers"] == [{"socketAddress": {
        "protocol": "UDP", "address": "127.0.0.1", "portValue": 80, "resolverName": "resolverName",
        "ipv4Compat": True}}]
    # The generated cluster carries the very same DNS cache config (Envoy requires it).
    (cluster,) = _dfp_clusters(t)
    assert cluster["clusterType"]["typedConfig"]["dnsCacheConfig"] == cache


def test_cache_config_name_is_per_dns_cache_config():
    """plugin_test.go "cache config name is per dns cache config"."""
    one = _dfp_filter(_t({"dnsCacheConfig": {"dnsLookupFamily": "V4_ONLY"}}, {"hostRewrite": "a"}))
    two = _dfp_filter(_t({"dnsCacheConfig": {"dnsLookupFamily": "V6_ONLY"}}, {"hostRewrite": "a"}))
    name1 = one["typedConfig"]["dnsCacheConfig"]["name"]
    name2 = two["typedConfig"]["dnsCacheConfig"]["name"]
    assert name1 != name2 and name1.startswith("solo_io_generated_dfp:")


SETTINGS_CB = {"maxConnections": 1000, "maxPendingRequests": 1000, "maxRequests": 1000, "maxRetries": 1000}
DFP_CB = {"maxConnections": 2000, "maxPendingRequests": 2000, "maxRequests": 2000, "maxRetries": 2000}


@pytest.mark.parametrize(("settings_cb", "dfp_cb", "expected"), [
    (SETTINGS_CB, None, SETTINGS_CB), (None, DFP_CB, DFP_CB), (SETTINGS_CB, DFP_CB, DFP_CB), (None, None, None)])
def test_translates_circuit_breakers(settings_cb, dfp_cb, expected):
    """plugin_test.go DescribeTable "Translates CircuitBreakers": the FilterConfig's, else Settings' gloo ones."""
    options = {"dnsCacheConfig": {}, **({"circuitBreakers": dfp_cb} if dfp_cb else {})}
    settings = {"gloo": {"circuitBreakers": settings_cb}} if settings_cb else None
    t = _t(options, {"hostRewrite": "a"}, settings=settings)
    (cluster,) = _dfp_clusters(t)
    assert cluster.get("circuitBreakers") == ({"thresholds": [expected]} if expected else None)


def test_generated_cluster_shape_and_the_route_pointing_at_it():
    """plugin.go generateCustomDynamicForwardProxyCluster (5 s, CLUSTER_PROVIDED, the custom cluster type) and
    ProcessRoute (``hostRewrite`` -> ``host_rewrite_literal``, ``autoHostRewriteHeader`` -> ``host_rewrite_header``,
    under the filter's name); route_config.go: the route's cluster is the listener's generated one."""
    t = _t({"dnsCacheConfig": {}}, {"hostRewrite": "example.com"}, {"autoHostRewriteHeader": "x-host"})
    (cluster,) = _dfp_clusters(t)
    assert (cluster["connectTimeout"], cluster["lbPolicy"], cluster["clusterType"]["name"]) == (
        "5s", "CLUSTER_PROVIDED", "envoy.clusters.dynamic_forward_proxy")
    routes = [json_format.MessageToDict(r) for r in t.envoy.route_configurations[0].virtual_hosts[0].routes]
    assert [r["route"]["cluster"] for r in routes] == [cluster["name"]] * 2
    assert routes[0]["typedPerFilterConfig"][DFP]["hostRewriteLiteral"] == "example.com"
    assert routes[1]["typedPerFilterConfig"][DFP]["hostRewriteHeader"] == "x-host"
    assert (_vs(t).state, t.push.decision) == ("Accepted", "push")


def test_a_dfp_route_is_not_rejected_any_more():
    """The issue's false Rejected: current Gloo accepts a dynamicForwardProxy destination (ValidateRouteDestinations:
    "no need to validate dynamic forward proxy cluster as it's generated by the control plane")."""
    t = _t({}, {"hostRewrite": "example.com"})
    assert (_vs(t).errors, _vs(t).warnings) == ([], [])


def test_route_without_host_rewrite_is_gloos_plugin_error_twice():
    """ProcessRoute: no host rewrite -> "unimplemented dynamic forward proxy route config type <nil>", printed
    ``%T: %v`` with the plugin's type; reportRoutePluginProcessingError appends it with and without the route's
    source metadata, so the VirtualService carries it twice."""
    t = _t({}, {})
    text = ("Route Error: ProcessingError. Reason: *dynamic_forward_proxy.plugin: unimplemented dynamic forward "
            "proxy route config type <nil>. Route Name: gloo-system_vs-route-0-matcher-0")
    assert _vs(t).errors == [text, text]


def test_route_without_listener_option_names_a_cluster_nobody_generates():
    """setRouteAction names ``GetGeneratedClusterName(nil)`` and no cluster is generated; Envoy answers 503."""
    t = translate(_docs(None, {"hostRewrite": "example.com"}), "current")
    route = t.envoy.route_configurations[0].virtual_hosts[0].routes[0]
    assert route.route.cluster.startswith("solo_io_generated_dfp:")
    assert route.route.cluster not in {c.name for c in t.envoy.clusters}


def test_gloo_1_3_has_no_dynamic_forward_proxy():
    """v1.3.20 has no such destination: ValidateRouteDestinations' 1.3 text and setRouteAction's error."""
    t = _t({}, {"hostRewrite": "example.com"}, profile="1.3")
    assert "Route Error: ProcessingError. Reason: unknown upstream destination type" in _vs(t).errors
    assert any("does not exist in Gloo 1.3" in f.message for f in t.findings)


def test_gloo_1_3_notes_the_destination_it_does_not_have():
    t = _t({}, {"hostRewrite": "example.com"}, profile="1.3")
    assert any(f.field == "routeAction.dynamicForwardProxy" and "does not exist in Gloo 1.3" in f.message
               for f in t.findings)


def test_ssl_config_with_a_missing_secret_generates_no_cluster():
    """generateCustomDynamicForwardProxyCluster: ResolveUpstreamSslConfig's error -> ``reporter.AddError(proxy, err)``
    and GeneratedResources returns nothing. gloo_nb files the error on the Gateway holding the sslConfig."""
    t = _t({"dnsCacheConfig": {}, "sslConfig": {"secretRef": {"name": "nope", "namespace": GS}}},
           {"hostRewrite": "example.com"})
    assert _dfp_clusters(t) == []
    gw = next(r for r in t.reports if r.key.kind == "Gateway")
    assert any("nope" in e for e in gw.errors), gw.errors


def test_ssl_config_puts_tls_on_the_generated_cluster():
    """plugin_test.go "Translates SslConfig": the cluster's transport socket is envoy.transport_sockets.tls with an
    UpstreamTlsContext."""
    t = _t({"dnsCacheConfig": {}, "sslConfig": {"sni": "example.com"}}, {"hostRewrite": "example.com"})
    (cluster,) = _dfp_clusters(t)
    socket = cluster["transportSocket"]
    assert socket["name"] == "envoy.transport_sockets.tls"
    assert socket["typedConfig"]["@type"].endswith("envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext")
    assert socket["typedConfig"]["sni"] == "example.com"


def test_an_undefined_lookup_family_is_gloos_listener_error():
    """convertDnsLookupFamily: a value outside the enum -> "unsupported dns lookup family type %T" (the Go type);
    HttpFilters fails: the Gateway gets the error and no DFP cluster is generated."""
    t = _t({"dnsCacheConfig": {"dnsLookupFamily": 9}}, {"hostRewrite": "a"})
    gw = next(r for r in t.reports if r.key.kind == "Gateway")
    assert gw.errors == ["HttpListener Error: ProcessingError. Reason: unsupported dns lookup family type "
                         "dynamic_forward_proxy.DnsLookupFamily"]
    assert _dfp_clusters(t) == []


def test_an_unknown_per_route_field_is_a_decoding_error_not_a_declaration():
    # PerRouteConfig has hostRewrite and autoHostRewriteHeader only: Gloo's strict decoding refuses anything else,
    # so this is a problem on the route's owner, never an `unmodelled` declaration.
    t = _t({}, {"hostRewrite": "a", "hostRewrit": "b"})
    (f,) = [f for f in t.findings if f.field == "routeAction.dynamicForwardProxy"]
    assert f.severity == "error" and "unknown field(s) hostRewrit" in f.message
    assert not [u for u in t.unmodelled if "dynamicForwardProxy" in u.path]
