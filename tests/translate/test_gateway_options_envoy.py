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
    gw = gateway({"options": FULL_LISTENER, "httpGateway": {"options": {"httpConnectionManagerSettings": FULL_HCM}}})
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
