"""Real Envoy (``envoy --mode validate``) accepts the dynamic forward proxy filter, cluster and routes gloo_nb emits
(``plugins/dynamic_forward_proxy/plugin.go``): Envoy checks that the filter's and the cluster's DNS cache configs
are identical, which is why Gloo generates one cluster per FilterConfig."""

from __future__ import annotations

import pytest
from test_dynamic_forward_proxy import SETTINGS_CB, _t
from test_envoy_accepts import assert_envoy_accepts

pytestmark = pytest.mark.envoy


@pytest.mark.parametrize("options", [
    {},
    {"saveUpstreamAddress": True, "circuitBreakers": {"maxConnections": 7, "trackRemaining": True},
     "dnsCacheConfig": {"dnsLookupFamily": "V4_ONLY", "dnsRefreshRate": "10s", "hostTtl": "30s", "maxHosts": 10,
                        "dnsFailureRefreshRate": {"baseInterval": "1s", "maxInterval": "5s"},
                        "dnsCacheCircuitBreaker": {"maxPendingRequests": 5}, "dnsQueryTimeout": "2s",
                        "caresDns": {"resolvers": [{"socketAddress": {"address": "127.0.0.1", "portValue": 53,
                                                                      "protocol": "UDP"}}],
                                     "dnsResolverOptions": {"useTcpForDnsLookups": True}},
                        "preresolveHostnames": [{"address": "localhost", "portValue": 80}]}},
    {"dnsCacheConfig": {}, "sslConfig": {"sni": "example.com"}},
], ids=["defaults", "everything", "tls"])
def test_dfp_resources_are_accepted(options, tmp_path):
    t = _t(options, {"hostRewrite": "example.com"}, {"autoHostRewriteHeader": "x-host"},
           settings={"gloo": {"circuitBreakers": SETTINGS_CB}})
    assert any(c.name.startswith("solo_io_generated_dfp:") for c in t.envoy.clusters)
    assert_envoy_accepts(t.envoy, tmp_path)
