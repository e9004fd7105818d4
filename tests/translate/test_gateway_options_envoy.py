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
