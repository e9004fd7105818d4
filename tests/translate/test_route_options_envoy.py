"""Real Envoy accepts the route and virtual-host shapes Gloo's option plugins produce (``envoy --mode validate``).

Uses the harness of ``test_envoy_accepts.py`` (static bootstrap, routes inlined).
"""

from __future__ import annotations

from typing import Any

import pytest
from gateway_fixtures import GS, gateway, obj, static_upstream
from test_envoy_accepts import assert_envoy_accepts, assert_envoy_rejects

from gloo_nb.translate import translate

pytestmark = pytest.mark.envoy

UP = {"single": {"upstream": {"name": "u", "namespace": GS}}}
MULTI = {"multi": {"destinations": [{"destination": {"upstream": {"name": "u", "namespace": GS}}, "weight": 1},
                                    {"destination": {"upstream": {"name": "w", "namespace": GS}}, "weight": 3}]}}
HM = {"requestHeadersToAdd": [{"header": {"key": "x-a", "value": "1"}},
                              {"header": {"key": "x-b", "value": "2"}, "append": False}],
      "requestHeadersToRemove": ["x-c"],
      "responseHeadersToAdd": [{"header": {"key": "x-d", "value": "3"}, "append": True}],
      "responseHeadersToRemove": ["server"]}
CORS = {"allowOrigin": ["https://a.example"], "allowOriginRegex": [r"https://.*\.example"],
        "allowMethods": ["GET", "POST"], "allowHeaders": ["x-h"], "exposeHeaders": ["x-e"], "maxAge": "60",
        "allowCredentials": True}
FAULTS = {"abort": {"percentage": 10, "httpStatus": 503}, "delay": {"percentage": 5, "fixedDelay": "1s"}}

# Route options each profile's Gloo reads (v1.3.20's RouteOptions is the 1.3 subset).
ROUTE_13: dict[str, Any] = {
    "prefixRewrite": "/p", "timeout": "15s", "retries": {"retryOn": "5xx,reset", "numRetries": 3,
                                                         "perTryTimeout": "2s"},
    "hostRewrite": "backend.internal", "upgrades": [{"websocket": {"enabled": True}}], "headerManipulation": HM,
    "cors": CORS, "faults": FAULTS, "shadowing": {"upstream": {"name": "w", "namespace": GS}, "percentage": 25},
}
ROUTE_CURRENT: dict[str, Any] = {
    **ROUTE_13,
    "idleTimeout": "30s", "maxStreamDuration": {"maxStreamDuration": "60s", "grpcTimeoutHeaderMax": "10s",
                                                "grpcTimeoutHeaderOffset": "1s"},
    "retries": {"retryOn": "retriable-status-codes,5xx", "numRetries": 2, "perTryTimeout": "1s",
                "retriableStatusCodes": [503], "retryBackOff": {"baseInterval": "0.025s", "maxInterval": "0.25s"},
                "previousPriorities": {"updateFrequency": 2},
                "rateLimitedRetryBackOff": {"maxInterval": "5s", "resetHeaders": [
                    {"name": "Retry-After"}, {"name": "X-Reset", "format": "UNIX_TIMESTAMP"}]}},
    "envoyMetadata": {"io.solo.custom": {"team": "a", "n": 2}},
    "upgrades": [{"websocket": {"enabled": True}}, {"connectTerminate": {}}],
    "shadowing": {"upstream": {"name": "w", "namespace": GS}, "percentage": 25, "hostRewriteLiteral": "shadow.io",
                  "disableShadowHostSuffixAppend": True},
}
VHOST_13: dict[str, Any] = {"headerManipulation": HM, "cors": CORS, "retries": {"retryOn": "5xx"},
                            "stats": {"virtualClusters": [{"name": "api.get", "pattern": "/api/.*", "method": "GET"},
                                                          {"name": "all", "pattern": "/.*"}]}}
VHOST_CURRENT: dict[str, Any] = {**VHOST_13, "includeRequestAttemptCount": True,
                                 "includeAttemptCountInResponse": True,
                                 "corsPolicyMergeSettings": {"exposeHeaders": "UNION"}}


def _resources(route_options: dict[str, Any], vhost_options: dict[str, Any]) -> list[Any]:
    routes = [
        {"matchers": [{"prefix": "/single"}], "routeAction": UP, "options": route_options},
        {"matchers": [{"prefix": "/multi"}], "routeAction": MULTI,
         "options": {"faults": FAULTS, "cors": {**CORS, "disableForRoute": True}}},
        {"matchers": [{"prefix": "/direct"}], "directResponseAction": {"status": 200, "body": "ok"},
         "options": {"headerManipulation": HM}},
        {"matchers": [{"prefix": "/regex"}], "routeAction": UP,
         "options": {"regexRewrite": {"pattern": {"regex": "^/regex/(.*)$"}, "substitution": "/\\1"},
                     "autoHostRewrite": True}},
        {"matchers": [{"prefix": "/hdr"}], "routeAction": UP,
         "options": {"hostRewriteHeader": "x-host", "appendXForwardedHost": True}},
        {"matchers": [{"prefix": "/path"}], "routeAction": UP,
         # The pattern's own googleRe2.maxProgramSize (regexutils.ConvertRegexMatchAndSubstitute).
         "options": {"hostRewritePathRegex": {"pattern": {"regex": "^/path/([^/]+)/.*$",
                                                          "googleRe2": {"maxProgramSize": 200}},
                                              "substitution": "\\1"}}},
    ]
    vs = obj("VirtualService", "v", {"virtualHost": {"domains": ["*"], "options": vhost_options, "routes": routes}})
    return [gateway({"httpGateway": {}}), vs, static_upstream("u"), static_upstream("w", 9412)]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_every_modelled_route_and_vhost_option_is_accepted(profile, tmp_path):
    route, vhost = (ROUTE_13, VHOST_13) if profile == "1.3" else (ROUTE_CURRENT, VHOST_CURRENT)
    t = translate(_resources(route, vhost), profile)
    assert not [r for r in t.reports if r.errors], [r.errors for r in t.reports if r.errors]
    (rc,) = t.envoy.route_configurations
    assert len(rc.virtual_hosts[0].routes) == 6
    assert_envoy_accepts(t.envoy, tmp_path)


def test_negative_control_fault_abort_status_out_of_range(tmp_path):
    """Proves the harness reads per-filter configs: a fault abort status Envoy's proto constraints refuse
    (Gloo 1.3 copied it unchecked) makes Envoy reject the route table."""
    t = translate(_resources({"faults": {"abort": {"percentage": 10, "httpStatus": 700}}}, {}), "1.3")
    assert_envoy_rejects(t.envoy, tmp_path, "http_status")


@pytest.mark.parametrize(("profile", "route_options", "vhost_options", "envoy_text"), [
    ("1.3", {"headerManipulation": {"requestHeadersToAdd": [{"header": {"key": "Host", "value": "x"}}]}}, {},
     "may not be modified"),
    ("current", {"headerManipulation": {"responseHeadersToRemove": ["host"]}}, {}, "may not be removed"),
    ("current", {"retries": {"retryOn": "5xx", "rateLimitedRetryBackOff": {"maxInterval": "1s"}}}, {},
     "ResetHeaders"),
    ("1.3", {"retries": {"perTryTimeout": "-1s"}}, {}, "Expected positive duration"),
    ("1.3", {"faults": {"delay": {"percentage": 5}}}, {}, "fault_delay_secifier"),
    ("current", {}, {"stats": {"virtualClusters": [{"name": "a", "pattern": "(("}]}}, "missing )"),
])
def test_predicted_rejections_are_real(profile, route_options, vhost_options, envoy_text, tmp_path):
    """The cases gloo_nb reports as "Envoy will reject" are refused by the pinned Envoy."""
    t = translate(_resources(route_options, vhost_options), profile)
    assert any(f.message.startswith("Envoy will reject") for f in t.findings)
    assert_envoy_rejects(t.envoy, tmp_path, envoy_text)


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_weighted_destination_headers_are_accepted(profile, tmp_path):
    multi = {"multi": {"destinations": [
        {"destination": {"upstream": {"name": "u", "namespace": GS}}, "weight": 1,
         "options": {"headerManipulation": HM}},
        {"destination": {"upstream": {"name": "w", "namespace": GS}}, "weight": 1}]}}
    vs = obj("VirtualService", "v", {"virtualHost": {"domains": ["*"], "routes": [
        {"matchers": [{"prefix": "/"}], "routeAction": multi, "options": {"faults": FAULTS}}]}})
    t = translate([gateway({"httpGateway": {}}), vs, static_upstream("u"), static_upstream("w", 9412)], profile)
    clusters = t.envoy.route_configurations[0].virtual_hosts[0].routes[0].route.weighted_clusters.clusters
    assert clusters[0].request_headers_to_add
    assert_envoy_accepts(t.envoy, tmp_path)
