"""Real Envoy accepts the listener shapes Gateway options produce (``envoy --mode validate``).

Uses the harness of ``test_envoy_accepts.py`` (static bootstrap, routes inlined).
"""

from __future__ import annotations

import pytest
from gateway_fixtures import FULL_HCM, FULL_LISTENER, direct_vs, gateway, static_upstream
from test_envoy_accepts import assert_envoy_accepts, assert_envoy_rejects

from gloo_nb.translate import translate

pytestmark = pytest.mark.envoy


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_every_modelled_gateway_option_is_accepted(profile, tmp_path):
    gw = gateway({"options": FULL_LISTENER, "useProxyProto": True,
                  "routeOptions": {"maxDirectResponseBodySizeBytes": 8192, "mostSpecificHeaderMutationsWins": True},
                  "httpGateway": {"options": {"httpConnectionManagerSettings": FULL_HCM}}})
    t = translate([gw, direct_vs(), static_upstream("zipkin")], profile)
    assert_envoy_accepts(t.envoy, tmp_path)


def test_negative_control_zipkin_collector_cluster_missing(tmp_path):
    """Proves the harness sees tracing: without the collector's cluster Envoy refuses the listener."""
    gw = gateway({"httpGateway": {"options": {"httpConnectionManagerSettings": {"tracing": {
        "zipkinConfig": {"clusterName": "nowhere", "collectorEndpoint": "/api/v2/spans",
                         "collectorEndpointVersion": "HTTP_JSON"}}}}}})
    t = translate([gw, direct_vs(), static_upstream("zipkin")], "current")
    assert_envoy_rejects(t.envoy, tmp_path, "nowhere")


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_tcp_gateway_shapes_are_accepted(profile, tmp_path):
    """TCP proxy chains: single, weighted with SNI passthrough match, SNI cluster forwarding, tls_inspector,
    tcpProxySettings, file access log and listener options, beside an HTTP gateway with options."""
    from gateway_fixtures import GS

    tcp = gateway({"bindPort": 8000, "options": FULL_LISTENER, "tcpGateway": {
        "options": {"tcpProxySettings": {"maxConnectAttempts": 3, "idleTimeout": "10s"}},
        "tcpHosts": [
            {"name": "one", "destination": {"single": {"upstream": {"name": "zipkin", "namespace": GS}}}},
            {"name": "w", "sslConfig": {"sniDomains": ["a.example.com"]}, "destination": {"multi": {"destinations": [
                {"destination": {"upstream": {"name": "zipkin", "namespace": GS}}, "weight": 1},
                {"destination": {"upstream": {"name": "other", "namespace": GS}}, "weight": 3}]}}},
            {"name": "sni", "sslConfig": {"sniDomains": ["b.example.com"]},
             "destination": {"forwardSniClusterName": {}}}]}}, name="tcp")
    http = gateway({"options": FULL_LISTENER, "httpGateway": {"options": {"httpConnectionManagerSettings": FULL_HCM}}})
    t = translate([tcp, http, direct_vs(), static_upstream("zipkin"), static_upstream("other", 9000)], profile)
    assert len(t.envoy.listeners) == 2
    assert_envoy_accepts(t.envoy, tmp_path)


def test_hybrid_gateway_shapes_are_accepted(tmp_path):
    """Hybrid listener: matched HTTP chains (own RDS route configurations, source prefix ranges, options), a matched
    TCP chain with SNI server names from the matcher, a delegated MatchableHttpGateway, tls_inspector."""
    from gateway_fixtures import GS, obj
    from test_hybrid_gateway import _labelled_vs

    tcp_echo = {"tcpHosts": [{"name": "t", "destination": {
        "single": {"upstream": {"name": "zipkin", "namespace": GS}}}}]}
    hybrid = gateway({"bindPort": 8087, "options": FULL_LISTENER, "hybridGateway": {"matchedGateways": [
        {"matcher": {"sourcePrefixRanges": [{"addressPrefix": "10.0.0.0", "prefixLen": 8}]},
         "httpGateway": {"virtualServiceSelector": {"team": "a"},
                         "options": {"httpConnectionManagerSettings": FULL_HCM}}},
        {"matcher": {"sourcePrefixRanges": [{"addressPrefix": "127.0.0.1", "prefixLen": 32}],
                     "sslConfig": {"sniDomains": ["t.example.com"]}}, "tcpGateway": tcp_echo},
        {"httpGateway": {"virtualServiceSelector": {"team": "b"}}}]}}, name="hybrid")
    delegating = gateway({"bindPort": 8088, "hybridGateway": {"delegatedHttpGateways": {"selector": {}}}},
                         name="delegating")
    matchable = obj("MatchableHttpGateway", "edge", {
        "matcher": {"sourcePrefixRanges": [{"addressPrefix": "192.168.0.0", "prefixLen": 16}]},
        "httpGateway": {"virtualServiceSelector": {"team": "a"}}})
    t = translate([hybrid, delegating, matchable, _labelled_vs("a", {"team": "a"}, "a.com"),
                   _labelled_vs("b", {"team": "b"}, "b.com"), static_upstream("zipkin")], "current")
    assert [ls.name for ls in t.envoy.listeners] == ["listener-::-8087", "listener-::-8088"]
    assert len(t.envoy.route_configurations) == 3
    assert_envoy_accepts(t.envoy, tmp_path)


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_ssl_gateway_with_options_is_accepted(profile, tmp_path):
    """An ssl Gateway with options: the TLS listener copies the optioned HCM into each TLS chain, and keeps the
    listener options (proxy_protocol before the TLS inspector)."""
    from gateway_fixtures import GS
    from tlskit import kube_tls_secret, server

    from gloo_nb.models.codec import parse_objects

    secret = kube_tls_secret("api", GS, server("api.example.com", "api.example.com"))
    vs = {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "api", "namespace": GS},
          "spec": {"sslConfig": {"secretRef": {"name": "api", "namespace": GS}, "sniDomains": ["api.example.com"]},
                   "virtualHost": {"domains": ["api.example.com"],
                                   "routes": [{"directResponseAction": {"status": 200}}]}}}
    gw = {"apiVersion": "gateway.solo.io/v1", "kind": "Gateway", "metadata": {"name": "ssl", "namespace": GS},
          "spec": {"bindAddress": "::", "bindPort": 8443, "ssl": True, "useProxyProto": True,
                   "options": FULL_LISTENER, "httpGateway": {"options": {"httpConnectionManagerSettings": FULL_HCM}}}}
    resources = [*parse_objects([secret, vs, gw]).resources, static_upstream("zipkin")]
    t = translate(resources, profile)  # type: ignore[arg-type]
    (listener,) = t.envoy.listeners
    assert listener.filter_chains[0].transport_socket.name
    from gloo_nb.translate.envoy import http_connection_managers

    assert {h.server_name for h in http_connection_managers(listener)} == {"gloo-edge"}
    assert [f.name for f in listener.listener_filters][0] == "envoy.filters.listener.proxy_protocol"
    assert listener.per_connection_buffer_limit_bytes.value == (0 if profile == "1.3" else 32768)
    assert_envoy_accepts(t.envoy, tmp_path)
