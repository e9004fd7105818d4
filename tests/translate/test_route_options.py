"""Route and virtual-host options reach Envoy as Gloo's plugins write them (gloo_nb.translate.route_options).

Facts transcribed from Gloo's plugin unit tests cite the Gloo test file and test name; the rest cite the
plugin function whose behaviour they pin (CUR at 8d57572e; v1.3.20 for the 1.3 profile).
"""

from __future__ import annotations

from typing import Any

import pytest
from gateway_fixtures import GS, gateway, obj, static_upstream
from google.protobuf import json_format

from gloo_nb.translate import translate
from gloo_nb.translate.route_options import CORS_FILTER, FAULT_FILTER, MODELLED_ROUTE_OPTIONS, MODELLED_VHOST_OPTIONS

pytestmark = pytest.mark.unit

UP = {"single": {"upstream": {"name": "u", "namespace": GS}}}
MULTI = {"multi": {"destinations": [{"destination": {"upstream": {"name": "u", "namespace": GS}}, "weight": 1},
                                    {"destination": {"upstream": {"name": "w", "namespace": GS}}, "weight": 1}]}}


def _vs(route_options: dict[str, Any] | None = None, vhost_options: dict[str, Any] | None = None,
        action: dict[str, Any] | None = None) -> Any:
    route: dict[str, Any] = {"matchers": [{"prefix": "/"}], **(action or {"routeAction": UP})}
    if route_options is not None:
        route["options"] = route_options
    vh: dict[str, Any] = {"domains": ["*"], "routes": [route]}
    if vhost_options is not None:
        vh["options"] = vhost_options
    return obj("VirtualService", "v", {"virtualHost": vh})


def _t(vs: Any, profile: str = "current") -> Any:
    return translate([gateway({"httpGateway": {}}), vs, static_upstream("u"), static_upstream("w")], profile)


def _vhost(t: Any) -> dict[str, Any]:
    (rc,) = t.envoy.route_configurations
    return json_format.MessageToDict(rc.virtual_hosts[0])


def _route(t: Any) -> dict[str, Any]:
    return _vhost(t)["routes"][0]


def _vs_report(t: Any) -> Any:
    (rep,) = [r for r in t.reports if r.key == _vs().key]
    return rep


def _http_filters(t: Any) -> list[str]:
    from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2

    (listener,) = t.envoy.listeners
    hcm = hcm_pb2.HttpConnectionManager()
    listener.filter_chains[0].filters[0].typed_config.Unpack(hcm)
    return [f.name for f in hcm.http_filters]


# --- basicroute ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_prefix_rewrite_timeout_host_rewrite_and_websocket(profile):
    """basicroute/plugin_test.go "works" (prefix rewrite, timeout) and "rewrites using provided string";
    upgrades "works" (websocket enabled)."""
    t = _t(_vs({"prefixRewrite": "/new", "timeout": "1.5s", "hostRewrite": "backend.internal",
                "upgrades": [{"websocket": {"enabled": True}}]}), profile)
    ra = _route(t)["route"]
    assert ra["prefixRewrite"] == "/new" and ra["timeout"] == "1.500s"
    assert ra["hostRewriteLiteral"] == "backend.internal"
    assert ra["upgradeConfigs"] == [{"upgradeType": "websocket", "enabled": True}]
    assert not _vs_report(t).errors


def test_empty_prefix_rewrite_is_set_not_ignored():
    """basicroute/plugin_test.go "distinguishes between empty string and nil": "" is a rewrite to ""."""
    t = _t(_vs({"prefixRewrite": ""}))
    assert _route(t)["route"].get("prefixRewrite", "") == ""
    t2 = _t(_vs({"prefixRewrite": "/"}))
    assert _route(t2)["route"]["prefixRewrite"] == "/"


def test_current_only_rewrites_and_timeouts():
    """basicroute/plugin_test.go "rewrites using regex", "sets auto_host_rewrite", "sets host_rewrite_header",
    "Sets x-forwarded-host"; idleTimeout and maxStreamDuration as applyIdleTimeout/applyMaxStreamDuration copy
    them."""
    t = _t(_vs({"regexRewrite": {"pattern": {"regex": "^/a/(.*)"}, "substitution": "/b/\\1"},
                "idleTimeout": "10s", "hostRewriteHeader": "x-host", "appendXForwardedHost": True,
                "maxStreamDuration": {"maxStreamDuration": "30s", "grpcTimeoutHeaderMax": "5s"}}))
    ra = _route(t)["route"]
    assert ra["regexRewrite"] == {"pattern": {"regex": "^/a/(.*)"}, "substitution": "/b/\\1"}
    assert ra["idleTimeout"] == "10s" and ra["hostRewriteHeader"] == "x-host" and ra["appendXForwardedHost"]
    assert ra["maxStreamDuration"] == {"maxStreamDuration": "30s", "grpcTimeoutHeaderMax": "5s"}
    t2 = _t(_vs({"autoHostRewrite": True}))
    assert _route(t2)["route"]["autoHostRewrite"] is True
    t3 = _t(_vs({"hostRewritePathRegex": {"pattern": {"regex": "^/(.+)/.+$"}, "substitution": "\\1"}}))
    assert _route(t3)["route"]["hostRewritePathRegex"]["substitution"] == "\\1"


def test_append_x_forwarded_host_needs_a_host_rewrite():
    """applyHostRewrite returns before appendXForwardedHost when no host rewrite type is set."""
    t = _t(_vs({"appendXForwardedHost": True}))
    assert "appendXForwardedHost" not in _route(t)["route"]


def test_1_3_leaves_out_current_only_fields_with_one_decoding_message():
    """v1.3.20's RouteOptions has no regexRewrite/idleTimeout: gloo_nb leaves them out of 1.3's Envoy, and the one
    message is strict decoding's (gogo jsonpb stops at the first unknown field), not a note per field."""
    t = _t(_vs({"regexRewrite": {"pattern": {"regex": "^/a"}, "substitution": "/"}, "idleTimeout": "3s"}), "1.3")
    ra = _route(t)["route"]
    assert "regexRewrite" not in ra and "idleTimeout" not in ra
    (f,) = t.findings
    assert f.field == "spec.virtualHost.routes[0].options.regexRewrite" and f.message.endswith(
        'unknown field "regexRewrite" in v1.RouteOptions')


def test_invalid_host_rewrite_header_is_gloos_route_error():
    """headers.ValidateHeaderKey through applyHostRewrite; reported as reportRoutePluginProcessingError does
    ("%T: %v")."""
    t = _t(_vs({"hostRewriteHeader": "bad header"}))
    (err,) = _vs_report(t).errors
    assert err == ("Route Error: ProcessingError. Reason: *basicroute.plugin: 'bad header' is an invalid HTTP "
                   "header key. Route Name: gloo-system_v-route-0-matcher-0")
    # CUR: a VirtualService with errors loses its virtual host from the new Proxy (spec 4.1); none was accepted
    # before, so Envoy gets no route configuration at all.
    assert not t.envoy.route_configurations


def test_duplicate_upgrades_fail():
    """basicroute/plugin_test.go "fails on double config" (upgradeconfig.ValidateRouteUpgradeConfigs)."""
    t = _t(_vs({"upgrades": [{"websocket": {}}, {"websocket": {"enabled": False}}]}))
    (err,) = _vs_report(t).errors
    assert "*basicroute.plugin: 1 error occurred:\n\t* upgrade config websocket is not unique" in err


def test_connect_terminate_upgrade():
    """basicroute/plugin_test.go "works with connect_terminate": CONNECT with an empty connect_config."""
    t = _t(_vs({"upgrades": [{"connectTerminate": {}}]}))
    assert _route(t)["route"]["upgradeConfigs"] == [{"upgradeType": "CONNECT", "connectConfig": {}}]


# --- retries ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_retries_default_to_one_retry(profile):
    """convertPolicy: numRetries 0 becomes 1; retryOn and perTryTimeout copied."""
    t = _t(_vs({"retries": {"retryOn": "5xx", "perTryTimeout": "2s"}}), profile)
    assert _route(t)["route"]["retryPolicy"] == {"retryOn": "5xx", "numRetries": 1, "perTryTimeout": "2s"}


def test_retries_with_both_intervals_route_and_vhost():
    """basicroute/plugin_test.go "retries with both intervals" "works" and "works on vhost"."""
    policy = {"retryOn": "if at first you don't succeed", "numRetries": 5, "perTryTimeout": "60s",
              "retryBackOff": {"maxInterval": "0.012s", "baseInterval": "0.011s"}}
    t = _t(_vs({"retries": policy}, {"retries": policy}))
    expected = {"retryOn": "if at first you don't succeed", "numRetries": 5, "perTryTimeout": "60s",
                "retryBackOff": {"baseInterval": "0.011s", "maxInterval": "0.012s"}}
    assert _route(t)["route"]["retryPolicy"] == expected
    assert _vhost(t)["retryPolicy"] == expected


def test_retry_priority_previous_priorities():
    """basicroute/plugin_test.go "retries priority predicate" "works": update frequency 2."""
    t = _t(_vs({"retries": {"retryOn": "5xx", "numRetries": 5, "previousPriorities": {"updateFrequency": 2}}}))
    rp = _route(t)["route"]["retryPolicy"]["retryPriority"]
    assert rp["name"] == "envoy.retry_priorities.previous_priorities"
    assert rp["typedConfig"]["updateFrequency"] == 2


def test_rate_limited_back_off_and_status_codes():
    """convertPolicy: rateLimitedRetryBackOff (convertRateLimitedBackoff) and retriableStatusCodes."""
    t = _t(_vs({"retries": {"retryOn": "retriable-status-codes", "retriableStatusCodes": [503, 429],
                            "rateLimitedRetryBackOff": {"maxInterval": "10s", "resetHeaders": [
                                {"name": "Retry-After"}, {"name": "X-RateLimit-Reset", "format": "UNIX_TIMESTAMP"}]}}}))
    rp = _route(t)["route"]["retryPolicy"]
    assert rp["retriableStatusCodes"] == [503, 429]
    reset = [{"name": "Retry-After"}, {"name": "X-RateLimit-Reset", "format": "UNIX_TIMESTAMP"}]
    assert rp["rateLimitedRetryBackOff"] == {"resetHeaders": reset, "maxInterval": "10s"}


@pytest.mark.parametrize(("backoff", "message"), [
    ({"baseInterval": "2s", "maxInterval": "1s"}, "base interval: 2000 is > max interval: 1000"),
    ({"maxInterval": "1s"}, "max interval was defined, but the base interval was not"),
    ({"baseInterval": "0s"}, "base interval for retry backoff was <= than 0 | you provided: 0"),
    ({"baseInterval": "0.0001s"}, "base interval for retry backoff was <= than 0 | you provided: 0"),
])
def test_retry_back_off_errors(backoff, message):
    """convertPolicy's checks, with Gloo's texts; the VirtualService is rejected (its virtual host dropped)."""
    t = _t(_vs({"retries": {"retryOn": "5xx", "retryBackOff": backoff}}))
    (err,) = _vs_report(t).errors
    assert f"*basicroute.plugin: {message}. Route Name:" in err
    assert not t.envoy.route_configurations


def test_vhost_retry_error_is_a_virtual_host_error():
    """reportVirtualHostPluginProcessingError: invalid virtual host [<name>] while processing plugin basic_route."""
    t = _t(_vs(None, {"retries": {"retryBackOff": {"maxInterval": "1s"}}}))
    (err,) = _vs_report(t).errors
    assert err == ("VirtualHost Error: ProcessingError. Reason: invalid virtual host [gloo-system_v] while processing "
                   "plugin basic_route: max interval was defined, but the base interval was not")


def test_1_3_vhost_error_format():
    """route_config.go at v1.3.20: invalid virtual host [<name>]: <err>."""
    t = _t(_vs(None, {"cors": {"allowMethods": ["GET"]}}), "1.3")
    (err,) = _vs_report(t).errors
    assert err == ("VirtualHost Error: ProcessingError. Reason: invalid virtual host [gloo-system_v]: must provide "
                   "at least one of AllowOrigin or AllowOriginRegex")


# --- headers ------------------------------------------------------------------------------------------


def test_header_manipulation_on_route_and_vhost():
    """headers/plugin_test.go "converts the header manipulation config for routes" / "... w/ overwrite" /
    "... for virtual hosts": append unset or true -> APPEND_IF_EXISTS_OR_ADD, false -> OVERWRITE_IF_EXISTS_OR_ADD."""
    hm = {"requestHeadersToAdd": [{"header": {"key": "x-a", "value": "1"}},
                                  {"header": {"key": "x-b", "value": "2"}, "append": False}],
          "requestHeadersToRemove": ["x-c"],
          "responseHeadersToAdd": [{"header": {"key": "x-d", "value": "3"}, "append": True}],
          "responseHeadersToRemove": ["server"]}
    t = _t(_vs({"headerManipulation": hm}, {"headerManipulation": hm}))
    for out in (_route(t), _vhost(t)):
        assert out["requestHeadersToAdd"] == [{"header": {"key": "x-a", "value": "1"}},
                                              {"header": {"key": "x-b", "value": "2"},
                                               "appendAction": "OVERWRITE_IF_EXISTS_OR_ADD"}]
        assert out["requestHeadersToRemove"] == ["x-c"] and out["responseHeadersToRemove"] == ["server"]
        assert out["responseHeadersToAdd"] == [{"header": {"key": "x-d", "value": "3"}}]


@pytest.mark.parametrize(("key", "message"), [
    (":scheme", ":-prefixed headers cannot be set: ':scheme'"),
    ("Host", "cannot set Host header in response headers"),
    ("hOST", "cannot set Host header in response headers"),
])
def test_invalid_response_headers(key, message):
    """headers/plugin_test.go DescribeTable "Invalid headers" (CantSetPseudoHeaderError, CantSetHostHeaderError)."""
    t = _t(_vs({"headerManipulation": {"responseHeadersToAdd": [{"header": {"key": key, "value": "v"}}]}}))
    (err,) = _vs_report(t).errors
    assert f"*headers.plugin: {message}. Route Name:" in err


def test_missing_response_header_value_and_forbidden_request_header():
    """headers/plugin_test.go "errors if the response header is nil"; api_conversion CheckForbiddenCustomHeaders."""
    t = _t(_vs({"headerManipulation": {"responseHeadersToAdd": [{"append": True}]}}))
    assert "*headers.plugin: header section of header value option cannot be nil" in _vs_report(t).errors[0]
    t2 = _t(_vs({"headerManipulation": {"requestHeadersToAdd": [{"header": {"key": "host", "value": "x"}}]}}))
    assert ("*headers.plugin: : -prefixed or host headers may not be modified. Received 'host' header"
            in _vs_report(t2).errors[0])


def test_1_3_headers_are_not_validated_and_run_on_direct_responses():
    """headers plugin at v1.3.20: no key checks; route_config.go at v1.3.20 runs it for direct responses."""
    hm = {"responseHeadersToAdd": [{"header": {"key": "Host", "value": "x"}}]}
    t = _t(_vs({"headerManipulation": hm}, action={"directResponseAction": {"status": 200}}), "1.3")
    assert not _vs_report(t).errors
    assert _route(t)["responseHeadersToAdd"] == [{"header": {"key": "Host", "value": "x"}}]


def test_header_secret_ref_is_declared_not_predicted():
    """Secret-sourced request headers are by reference only: declared through the unmodelled channel (not a
    finding), no value in the prediction."""
    hm = {"requestHeadersToAdd": [{"headerSecretRef": {"name": "s", "namespace": GS}},
                                  {"header": {"key": "x-a", "value": "1"}}]}
    t = translate([gateway({"httpGateway": {}}), _vs({"headerManipulation": hm}), static_upstream("u"),
                   _secret("s", "gloo.solo.io/header", {"x-token": "secret-value"})])
    assert "secret-value" not in str(_route(t))
    assert _route(t)["requestHeadersToAdd"] == [{"header": {"key": "x-a", "value": "1"}}]
    assert not t.findings
    (u,) = t.unmodelled
    assert (u.resource, u.path, u.feature, u.detail) == (
        _vs().key, "spec.virtualHost.routes[0].options.headerManipulation.requestHeadersToAdd[0].headerSecretRef",
        "request headers from a Secret (headerSecretRef)",
        "gloo_nb does not put secret values into the predicted routes")


# --- cors ---------------------------------------------------------------------------------------------


def test_cors_full_specification_route():
    """cors/route_plugin_test.go "should process full specification" (typed_per_filter_config, joined lists,
    allowCredentials, disableForRoute -> filter_enabled 0/HUNDRED with runtime key gloo.routeplugin.cors)."""
    cors = {"allowOrigin": ["solo.io", "github.com"], "allowOriginRegex": [r".*\.solo\.io"],
            "allowMethods": ["GET", "POST"], "allowHeaders": ["allowH1", "allow2"],
            "exposeHeaders": ["exHeader", "exVal"], "maxAge": "20", "allowCredentials": True,
            "disableForRoute": True}
    t = _t(_vs({"cors": cors}))
    policy = _route(t)["typedPerFilterConfig"][CORS_FILTER]
    assert policy["allowOriginStringMatch"] == [{"exact": "solo.io"}, {"exact": "github.com"},
                                                {"safeRegex": {"regex": r".*\.solo\.io"}}]
    assert policy["allowMethods"] == "GET,POST" and policy["allowHeaders"] == "allowH1,allow2"
    assert policy["exposeHeaders"] == "exHeader,exVal" and policy["maxAge"] == "20"
    assert policy["allowCredentials"] is True
    assert policy["filterEnabled"] == {"defaultValue": {}, "runtimeKey": "gloo.routeplugin.cors"}
    assert CORS_FILTER in _http_filters(t)  # every HCM has it (cors HttpFilters); tests/translate/test_http_filters.py


def test_cors_reject_bad_cors():
    """cors/route_plugin_test.go "should reject bad CORS" (no origin)."""
    t = _t(_vs({"cors": {"allowMethods": ["GET"]}}))
    (err,) = _vs_report(t).errors
    assert "*cors.plugin: must provide at least one of AllowOrigin or AllowOriginRegex" in err


def test_cors_vhost_and_merge_settings():
    """cors/vhost_plugin_test.go "should process virtual hosts - minimal specification";
    cors/route_plugin_test.go "should apply CorsPolicyMergeSettings if set" (exposeHeaders UNION)."""
    vh = {"cors": {"allowOrigin": ["solo.io"], "exposeHeaders": ["vh-h", "both"]},
          "corsPolicyMergeSettings": {"exposeHeaders": "UNION"}}
    t = _t(_vs({"cors": {"allowOrigin": ["route.io"], "exposeHeaders": ["both", "route-h"]}}, vh))
    assert _vhost(t)["typedPerFilterConfig"][CORS_FILTER]["allowOriginStringMatch"] == [{"exact": "solo.io"}]
    assert _route(t)["typedPerFilterConfig"][CORS_FILTER]["exposeHeaders"] == "vh-h,both,route-h"


def test_cors_on_direct_response_is_response_headers():
    """cors/plugin.go ProcessRoute (CUR): a direct response gets the CORS headers as response headers."""
    t = _t(_vs({"cors": {"allowOrigin": ["a.io"], "allowMethods": ["GET"], "maxAge": "5"}},
               action={"directResponseAction": {"status": 204}}))
    headers = {h["header"]["key"]: h["header"].get("value", "") for h in _route(t)["responseHeadersToAdd"]}
    assert headers == {"Access-Control-Allow-Origin": "a.io", "Access-Control-Allow-Methods": "GET",
                       "Access-Control-Allow-Headers": "", "Access-Control-Expose-Headers": "",
                       "Access-Control-Max-Age": "5", "Access-Control-Allow-Credentials": "false"}
    assert "typedPerFilterConfig" not in _route(t)


def test_cors_and_shadowing_on_redirect_are_errors():
    """InvalidRouteActionError of cors and shadowing (CUR: route plugins run on redirects too)."""
    t = _t(_vs({"cors": {"allowOrigin": ["a"]}, "shadowing": {"upstream": {"name": "u", "namespace": GS}}},
               action={"redirectAction": {"hostRedirect": "x.io"}}))
    errs = _vs_report(t).errors
    assert any("*cors.plugin: cannot use cors plugin on non-Route_Route route actions" in e for e in errs)
    assert any("*shadowing.plugin: cannot use shadowing plugin on non-Route_Route route actions" in e for e in errs)
    t13 = _t(_vs({"cors": {"allowOrigin": ["a"]}}, action={"redirectAction": {"hostRedirect": "x.io"}}), "1.3")
    assert not _vs_report(t13).errors  # v1.3.20 runs no plugin on redirects


# --- faults, shadowing, metadata, vhost -----------------------------------------------------------------


def test_faults_single_and_multi():
    """faultinjection toEnvoyAbort/toEnvoyDelay and pluginutils.MarkPerFilterConfig (route for a single
    destination, each weighted cluster for multi); the fault filter is on the HCM."""
    faults = {"abort": {"percentage": 50, "httpStatus": 503}, "delay": {"percentage": 1.5, "fixedDelay": "1s"}}
    t = _t(_vs({"faults": faults}))
    cfg = _route(t)["typedPerFilterConfig"][FAULT_FILTER]
    assert cfg["abort"] == {"httpStatus": 503, "percentage": {"numerator": 500000, "denominator": "MILLION"}}
    assert cfg["delay"] == {"fixedDelay": "1s", "percentage": {"numerator": 15000, "denominator": "MILLION"}}
    assert FAULT_FILTER in _http_filters(t)  # every HCM has it; tests/translate/test_http_filters.py
    tm = _t(_vs({"faults": faults}, action={"routeAction": MULTI}))
    clusters = _route(tm)["route"]["weightedClusters"]["clusters"]
    assert all(FAULT_FILTER in c["typedPerFilterConfig"] for c in clusters)
    assert "typedPerFilterConfig" not in _route(tm)


@pytest.mark.parametrize(("faults", "message"), [
    ({"abort": {"httpStatus": 600}}, "invalid abort status code '600', must be in range of [200,600)"),
    ({"delay": {"fixedDelay": "0.5s"}}, "invalid delay duration 'nanos:500000000', must be greater than 0"),
])
def test_fault_errors_current_only(faults, message):
    """faultinjection/plugin.go toEnvoyAbort/toEnvoyDelay validation (CUR); v1.3.20 copied the values."""
    t = _t(_vs({"faults": faults}))
    assert f"*faultinjection.plugin: {message}" in _vs_report(t).errors[0]
    assert not _vs_report(_t(_vs({"faults": faults}), "1.3")).errors


def test_shadowing():
    """shadowing/plugin_test.go "should work on valid inputs, with uninitialized outputs",
    "should set HostRewriteLiteral when specified", "should error when given invalid specs"."""
    t = _t(_vs({"shadowing": {"upstream": {"name": "some-upstream", "namespace": "default"}, "percentage": 100,
                              "hostRewriteLiteral": "shadow.io"}}))
    (mirror,) = _route(t)["route"]["requestMirrorPolicies"]
    assert mirror == {"cluster": "some-upstream_default", "hostRewriteLiteral": "shadow.io",
                      "runtimeFraction": {"defaultValue": {"numerator": 1000000, "denominator": "MILLION"}}}
    bad = _t(_vs({"shadowing": {"upstream": {"name": "u", "namespace": GS}, "percentage": 200}}))
    assert "*shadowing.plugin: shadow percentage must be between 0 and 100, received 200" in _vs_report(bad).errors[0]
    none = _t(_vs({"shadowing": {"percentage": 100}}))
    assert "*shadowing.plugin: invalid plugin spec: must specify an upstream ref" in _vs_report(none).errors[0]


def test_envoy_metadata():
    """metadata/plugin_test.go "copies it over to the output route"."""
    t = _t(_vs({"envoyMetadata": {"io.solo.test": {"foo": "bar", "n": 1}}}))
    assert _route(t)["metadata"] == {"filterMetadata": {"io.solo.test": {"foo": "bar", "n": 1.0}}}


def test_vhost_attempt_counts_and_stats():
    """virtualhost/plugin_test.go "allows setting both values independently"; stats/stats_test.go "correctly
    processes virtual clusters" and "sanitizes illegal virtual cluster name"."""
    t = _t(_vs(None, {"includeRequestAttemptCount": True, "includeAttemptCountInResponse": False,
                      "stats": {"virtualClusters": [{"name": "get", "pattern": "/test/.*", "method": "get"},
                                                    {"name": "not.valid", "pattern": "/test/.*"}]}}))
    vh = _vhost(t)
    assert vh["includeRequestAttemptCount"] is True and "includeAttemptCountInResponse" not in vh
    assert vh["virtualClusters"] == [
        {"name": "get", "headers": [{"name": ":path", "safeRegexMatch": {"regex": "/test/.*"}},
                                    {"name": ":method", "exactMatch": "GET"}]},
        {"name": "not_valid", "headers": [{"name": ":path", "safeRegexMatch": {"regex": "/test/.*"}}]}]


@pytest.mark.parametrize(("vc", "message"), [
    ({"pattern": "/x"}, "failed to process virtual cluster []: name is required"),
    ({"name": "test-vc"}, "failed to process virtual cluster [test-vc]: pattern is required"),
    ({"name": "test-vc", "pattern": "/x", "method": "DELET"},
     "failed to process virtual cluster [test-vc]: invalid method name [DELET]. Allowed values: CONNECT,DELETE,GET,"
     "HEAD,METHOD_UNSPECIFIED,OPTIONS,PATCH,POST,PUT,TRACE"),
])
def test_stats_expected_failures(vc, message):
    """stats/stats_test.go "expected failures"."""
    t = _t(_vs(None, {"stats": {"virtualClusters": [vc]}}))
    (err,) = _vs_report(t).errors
    assert err.endswith(f"while processing plugin stat: {message}")


# --- delegation, proxy, declarations ----------------------------------------------------------------------


def test_parent_options_reach_delegated_routes_child_wins():
    """gateway translator ShallowMergeRouteOptions (child fields win, parent fills unset ones): the merged
    options are what the plugins write (http_translator_test.go "merges the vs and route tables")."""
    rt = obj("RouteTable", "rt", {"routes": [{"matchers": [{"prefix": "/a/b"}], "routeAction": UP,
                                              "options": {"timeout": "2s"}}]})
    vs = obj("VirtualService", "v", {"virtualHost": {"domains": ["*"], "routes": [{
        "matchers": [{"prefix": "/a"}], "delegateAction": {"ref": {"name": "rt", "namespace": GS}},
        "options": {"timeout": "9s", "retries": {"retryOn": "5xx"}, "prefixRewrite": "/x"}}]}})
    t = translate([gateway({"httpGateway": {}}), vs, rt, static_upstream("u")])
    ra = _route(t)["route"]
    assert ra["timeout"] == "2s" and ra["retryPolicy"]["retryOn"] == "5xx" and ra["prefixRewrite"] == "/x"


def test_vhost_options_are_in_the_proxy_json():
    from gloo_nb.translate.gloo_json import proxy_json

    t = _t(_vs(None, {"retries": {"retryOn": "5xx"}}))
    (vh,) = proxy_json(t.proxy)["virtualHosts"]
    assert vh["options"] == {"retries": {"retryOn": "5xx"}}


def test_unreadable_value_is_one_error_finding_and_left_out():
    """A value Gloo's jsonpb refuses: strict decoding's finding is the one message (route_options leaves the option
    out without saying it again)."""
    t = _t(_vs({"timeout": "soon", "retries": {"retryOn": "5xx"}}))
    assert "timeout" not in _route(t)["route"]
    (f,) = t.findings
    assert (f.field, f.severity, f.layer) == ("spec.virtualHost.routes[0].options.timeout", "error", "parse")
    assert f.message.endswith('bad Duration: time: invalid duration "soon"')


def test_unreadable_value_strict_decoding_does_not_see_is_route_options_finding():
    """previousPriorities' fields are not catalogued: route_options' own finding is then the one message."""
    t = _t(_vs({"retries": {"retryOn": "5xx", "previousPriorities": {"updateFrequency": "often"}}}))
    (f,) = t.findings
    assert f.field == "options.retries.previousPriorities.updateFrequency" and f.severity == "error"
    assert "Gloo cannot read this route's options" in f.message


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_durations_read_as_gloos_jsonpb_reads_them(profile):
    """jsonpb reads a Duration with Go's time.ParseDuration (golang/protobuf jsonpb decode.go "bad Duration"):
    "1m30s" and "250ms" are Gloo timeouts too."""
    t = _t(_vs({"timeout": "1m30s", "retries": {"retryOn": "5xx", "perTryTimeout": "250ms"}}), profile)
    ra = _route(t)["route"]
    assert ra["timeout"] == "90s" and ra["retryPolicy"]["perTryTimeout"] == "0.250s" and not t.findings


def test_modelled_tables_name_the_plugins():
    assert set(MODELLED_ROUTE_OPTIONS) >= {"headerManipulation", "retries", "cors", "timeout", "faults", "shadowing",
                                           "upgrades", "envoyMetadata", "regexRewrite", "autoHostRewrite"}
    assert set(MODELLED_VHOST_OPTIONS) >= {"headerManipulation", "cors", "retries", "stats",
                                           "includeRequestAttemptCount", "includeAttemptCountInResponse"}
    assert all(src.startswith("plugins/") for _, src in [*MODELLED_ROUTE_OPTIONS.values(),
                                                          *MODELLED_VHOST_OPTIONS.values()])


def test_shallow_merge_top_level_only():
    """utils/merge_test.go "merges top-level route options fields": the child's retries are kept whole
    (numRetries 0 is not filled from the parent), the parent's timeout and ratelimitBasic are taken."""
    from gloo_nb.translate.route_options import shallow_merge_options

    child = {"prefixRewrite": "preserve-me", "retries": {"retryOn": "5XX", "numRetries": 0}}
    parent = {"timeout": "60s", "retries": {"retryOn": "5XX", "numRetries": 3, "perTryTimeout": "60s"},
              "ratelimitBasic": {"authorizedLimits": {"unit": "SECOND", "requestsPerUnit": 2}}}
    assert shallow_merge_options(child, parent) == {
        "prefixRewrite": "preserve-me", "retries": {"retryOn": "5XX", "numRetries": 0}, "timeout": "60s",
        "ratelimitBasic": {"authorizedLimits": {"unit": "SECOND", "requestsPerUnit": 2}}}


def test_shallow_merge_oneofs_and_go_emptiness():
    """merge.go isEmptyValue: a oneof is one Go field (the child's autoHostRewrite keeps the parent's hostRewrite
    out); an empty list or map is empty (the parent fills it); a set wrapper such as prefixRewrite "" is not."""
    from gloo_nb.translate.route_options import shallow_merge_options

    child = {"autoHostRewrite": True, "upgrades": [], "envoyMetadata": {}, "prefixRewrite": ""}
    parent = {"hostRewrite": "parent.io", "upgrades": [{"websocket": {}}], "envoyMetadata": {"a": {"b": 1}},
              "prefixRewrite": "/parent"}
    assert shallow_merge_options(child, parent) == {
        "autoHostRewrite": True, "upgrades": [{"websocket": {}}], "envoyMetadata": {"a": {"b": 1}},
        "prefixRewrite": ""}


def test_delegated_child_host_rewrite_oneof_wins_through_translation():
    rt = obj("RouteTable", "rt", {"routes": [{"matchers": [{"prefix": "/a/b"}], "routeAction": UP,
                                              "options": {"autoHostRewrite": True}}]})
    vs = obj("VirtualService", "v", {"virtualHost": {"domains": ["*"], "routes": [{
        "matchers": [{"prefix": "/a"}], "delegateAction": {"ref": {"name": "rt", "namespace": GS}},
        "options": {"hostRewrite": "parent.io"}}]}})
    t = translate([gateway({"httpGateway": {}}), vs, rt, static_upstream("u")])
    ra = _route(t)["route"]
    assert ra["autoHostRewrite"] is True and "hostRewriteLiteral" not in ra
    assert not [f for f in t.findings if "oneof" in f.message]


@pytest.mark.parametrize(("profile", "route_options", "vhost_options", "text"), [
    ("1.3", {"headerManipulation": {"requestHeadersToAdd": [{"header": {"key": "Host", "value": "x"}}]}}, None,
     "header 'Host' (:-prefixed or host headers may not be modified)"),
    ("current", {"headerManipulation": {"responseHeadersToRemove": ["host"]}}, None,
     "removing 'host' (:-prefixed or host headers may not be removed)"),
    ("current", None, {"headerManipulation": {"requestHeadersToRemove": [":path"]}},
     "removing ':path' (:-prefixed or host headers may not be removed)"),
    ("current", {"retries": {"retryOn": "5xx", "rateLimitedRetryBackOff": {"maxInterval": "1s"}}}, None,
     "no reset_headers"),
    ("1.3", {"retries": {"perTryTimeout": "-1s"}}, None, "a negative duration"),
    ("1.3", {"faults": {"delay": {"percentage": 5}}}, None, "fault delay: no fixed_delay"),
    ("1.3", {"faults": {"abort": {"httpStatus": 700}}}, None, "http_status 700"),
    ("current", None, {"stats": {"virtualClusters": [{"name": "a", "pattern": "(("}]}}, "virtual cluster a: regex"),
])
def test_what_envoy_refuses_is_a_finding(profile, route_options, vhost_options, text):
    """Each case was seen refused by the pinned Envoy (``envoy --mode validate``) while Gloo reports nothing:
    gloo_nb says so instead of a false "no problems" (the prediction of which version Envoy keeps is not made)."""
    t = _t(_vs(route_options, vhost_options), profile)
    assert not _vs_report(t).errors
    (f,) = [f for f in t.findings if f.message.startswith("Envoy will reject")]
    assert text in f.message and f.severity == "error" and f.layer == "parse"


@pytest.mark.parametrize(("regex", "message"), [
    ("((", "error parsing regexp: missing closing ): `((`"),
    ("^(?!x)", "error parsing regexp: invalid or unsupported Perl syntax: `(?!`"),
])
def test_cors_origin_regex_checked_as_go_does(regex, message):
    """cors translateCommonUserCorsConfig -> regexutils.NewCheckedRegex (Go regexp.Compile's text)."""
    t = _t(_vs({"cors": {"allowOriginRegex": [regex]}}))
    assert f"*cors.plugin: {message}. Route Name:" in _vs_report(t).errors[0]


def test_vhost_cors_error_current_joins_invalid_cors_config():
    """cors ProcessVirtualHost (CUR): errors.Join(errors.New("invalid cors config"), err)."""
    t = _t(_vs(None, {"cors": {"allowMethods": ["GET"]}}))
    assert _vs_report(t).errors == [
        "VirtualHost Error: ProcessingError. Reason: invalid virtual host [gloo-system_v] while processing plugin "
        "cors: invalid cors config\nmust provide at least one of AllowOrigin or AllowOriginRegex"]


def test_1_3_zero_timeout_is_empty_for_the_merge():
    """merge_route_plugins.go at v1.3.20: Timeout is a gogo *time.Duration, so isEmptyValue sees 0 as empty and the
    parent's timeout fills it; current's durationpb pointer is set, so the child's 0s stays."""
    from gloo_nb.translate.route_options import shallow_merge_options

    assert shallow_merge_options({"timeout": "0s"}, {"timeout": "5s"}, profile="1.3") == {"timeout": "5s"}
    assert shallow_merge_options({"timeout": "0s"}, {"timeout": "5s"}) == {"timeout": "0s"}


@pytest.mark.parametrize("key", ["hostRewritePathRegex", "regexRewrite"])
def test_invalid_option_regex_is_an_error_on_the_virtual_service(key):
    """http_translator_test.go "should error when a virtual service has invalid regex in host rewrite options" and
    "... in regexRewrite options": the error contains Go's "missing closing ]: `[`"
    (virtual_service_translator.go validateRoutesRegex, InvalidRegexErr)."""
    t = _t(_vs({key: {"pattern": {"regex": "["}, "substitution": "x"}}))
    assert _vs_report(t).errors == [
        "virtual service [gloo-system.v] has a regex matcher with invalid regex, error parsing regexp: missing closing "
        "]: `[`"]
    assert not t.envoy.route_configurations


def test_kube_e2e_vs_with_retries():
    """test/kubernetes/e2e/features/basicrouting edge_suite.go TestVirtualServiceWithRetriesIntegration
    (routeRetriesAssertion) on testdata/vs-with-retries.yaml: retryOn 5xx, a retry back-off, a rate-limited back-off
    with max interval 1 s and both reset headers with their formats."""
    options = {"retries": {"retryOn": "5xx", "retryBackOff": {"baseInterval": "1s", "maxInterval": "1s"},
                           "rateLimitedRetryBackOff": {"maxInterval": "1s", "resetHeaders": [
                               {"name": "X-RateLimit-Reset", "format": "UNIX_TIMESTAMP"},
                               {"name": "Retry-After", "format": "SECONDS"}]}}}
    t = _t(_vs(options))
    rp = _route(t)["route"]["retryPolicy"]
    assert rp["retryOn"] == "5xx" and rp["retryBackOff"] == {"baseInterval": "1s", "maxInterval": "1s"}
    assert rp["rateLimitedRetryBackOff"] == {"maxInterval": "1s", "resetHeaders": [
        {"name": "X-RateLimit-Reset", "format": "UNIX_TIMESTAMP"}, {"name": "Retry-After"}]}  # SECONDS is 0
    assert not _vs_report(t).errors and not [f for f in t.findings if "Envoy will reject" in f.message]


def test_cors_bad_origin_regex_and_empty_policy():
    """cors/route_plugin_test.go "should reject bad CORS" ("any regex starting with a * should not be RE2
    compliant") and "should process empty specification" (an error, no per-filter config)."""
    t = _t(_vs({"cors": {"allowOriginRegex": ["*.solo.io"]}}))
    assert ("*cors.plugin: error parsing regexp: missing argument to repetition operator: `*`. Route Name:"
            in _vs_report(t).errors[0])
    t2 = _t(_vs({"cors": {}}))
    assert "*cors.plugin: must provide at least one of AllowOrigin or AllowOriginRegex" in _vs_report(t2).errors[0]


def _secret(name: str, type_: str, data: dict[str, str]) -> Any:
    import base64

    from gloo_nb.models.codec import parse_object

    parsed = parse_object({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": GS},
                           "type": type_, "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}})
    return parsed.resource


@pytest.mark.parametrize(("secret", "error"), [
    (None, "*headers.plugin: list did not find secret gloo-system.hs"),
    (("kubernetes.io/basic-auth", {"username": "u"}), "*headers.plugin: Secret gloo-system.hs was not a Header secret"),
    (("gloo.solo.io/header", {}), "*headers.plugin: list did not find secret gloo-system.hs"),
    (("gloo.solo.io/header", {"x-token": "t"}), None),
])
def test_header_secret_ref_checked_against_the_secrets(secret, error):
    """api_conversion.ToEnvoyHeaderValueOptions: secrets.Find's "list did not find secret <ns>.<name>", then
    "Secret <ns>.<name> was not a Header secret"; header_secret.go skips a header secret without data."""
    hm = {"requestHeadersToAdd": [{"headerSecretRef": {"name": "hs", "namespace": GS}}]}
    resources = [gateway({"httpGateway": {}}), _vs({"headerManipulation": hm}), static_upstream("u")]
    if secret is not None:
        resources.append(_secret("hs", *secret))
    t = translate(resources)
    if error is None:
        assert not _vs_report(t).errors
        assert [u.path for u in t.unmodelled] == [
            "spec.virtualHost.routes[0].options.headerManipulation.requestHeadersToAdd[0].headerSecretRef"]
    else:
        (err,) = _vs_report(t).errors
        assert f"{error}. Route Name:" in err


def test_weighted_destination_header_manipulation():
    """headers/plugin_test.go "converts the header manipulation config for weighted destinations"; an error is a
    route error with the plugin's text alone (reportWeightedDestinationPluginProcessingError)."""
    multi = {"multi": {"destinations": [
        {"destination": {"upstream": {"name": "u", "namespace": GS}}, "weight": 1,
         "options": {"headerManipulation": {"requestHeadersToAdd": [{"header": {"key": "x-dest", "value": "u"}}],
                                            "responseHeadersToRemove": ["x-r"]}}},
        {"destination": {"upstream": {"name": "w", "namespace": GS}}, "weight": 1}]}}
    t = _t(_vs(action={"routeAction": multi}))
    c0, c1 = _route(t)["route"]["weightedClusters"]["clusters"]
    assert c0["requestHeadersToAdd"] == [{"header": {"key": "x-dest", "value": "u"}}]
    assert c0["responseHeadersToRemove"] == ["x-r"] and "requestHeadersToAdd" not in c1
    bad = {"multi": {"destinations": [
        {"destination": {"upstream": {"name": "u", "namespace": GS}}, "weight": 1,
         "options": {"headerManipulation": {"responseHeadersToAdd": [{"header": {"key": "host", "value": "x"}}]}}}]}}
    tb = _t(_vs(action={"routeAction": bad}))
    assert _vs_report(tb).errors == ["Route Error: ProcessingError. Reason: cannot set Host header in response "
                                     "headers. Route Name: gloo-system_v-route-0-matcher-0"]


def test_vhost_fields_1_3_lacks_give_one_decoding_message_naming_the_field():
    t = _t(_vs(None, {"retries": {"retryOn": "5xx", "retryBackOff": {"baseInterval": "1s"}},
                      "includeRequestAttemptCount": True}), "1.3")
    (f,) = t.findings
    assert f.field == "spec.virtualHost.options.retries.retryBackOff"
    assert f.message.endswith('unknown field "retryBackOff" in retries.RetryPolicy')
    assert "retryBackOff" not in _vhost(t)["retryPolicy"] and "includeRequestAttemptCount" not in _vhost(t)


_ODD_VALUES: list[Any] = ["x", 7, -1, 1.5, True, [], {}, [1, "a"], {"a": {"b": []}}, [{}], {"pattern": 3}]


@pytest.mark.parametrize("profile", ["1.3", "current"])
@pytest.mark.parametrize("where", ["route", "vhost", "direct", "redirect"])
def test_no_python_exception_on_odd_values(profile, where):
    """Whatever a modelled option holds, translation finishes and reports (findings, never exceptions)."""
    keys = MODELLED_VHOST_OPTIONS if where == "vhost" else MODELLED_ROUTE_OPTIONS
    action = {"direct": {"directResponseAction": {"status": 200}},
              "redirect": {"redirectAction": {"hostRedirect": "x.io"}}}.get(where)
    for key in keys:
        for value in _ODD_VALUES:
            opts = {key: value}
            vs = _vs(None, opts) if where == "vhost" else _vs(opts, action=action)
            _t(vs, profile)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Any:
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_no_python_exception_anywhere_inside_the_options(profile):
    """Every field path of a full route and virtual-host option set, replaced by odd values: translation finishes
    (Gloo's errors or gloo_nb's findings, never an exception)."""
    import copy

    from test_route_options_envoy import ROUTE_CURRENT, VHOST_CURRENT

    odd: list[Any] = [*_ODD_VALUES, None, [None], "-5s", "1e3s", -1]
    for base, where in ((ROUTE_CURRENT, "route"), (VHOST_CURRENT, "vhost")):
        for path in list(_paths(base))[1:]:
            for value in odd:
                opts = copy.deepcopy(base)
                cur: Any = opts
                for p in path[:-1]:
                    cur = cur[p]
                cur[path[-1]] = value
                _t(_vs(None, opts) if where == "vhost" else _vs(opts), profile)


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_options_merge_down_a_nested_delegation_chain(profile):
    """converter.go visit: the routeInfo handed to a delegated table carries the delegating route's options after
    its own merge with its parent, so options flow VS -> RT -> RT with the nearest route winning per field."""
    leaf = obj("RouteTable", "leaf", {"routes": [{"matchers": [{"prefix": "/a/b/c"}], "routeAction": UP,
                                                  "options": {"hostRewrite": "leaf.io"}}]})
    mid = obj("RouteTable", "mid", {"routes": [{"matchers": [{"prefix": "/a/b"}],
                                                "delegateAction": {"ref": {"name": "leaf", "namespace": GS}},
                                                "options": {"prefixRewrite": "/x", "timeout": "3s"}}]})
    vs = obj("VirtualService", "v", {"virtualHost": {"domains": ["*"], "routes": [{
        "matchers": [{"prefix": "/a"}], "delegateAction": {"ref": {"name": "mid", "namespace": GS}},
        "options": {"timeout": "9s", "retries": {"retryOn": "5xx"}, "hostRewrite": "vs.io"}}]}})
    t = translate([gateway({"httpGateway": {}}), vs, mid, leaf, static_upstream("u")], profile)
    ra = _route(t)["route"]
    assert ra["timeout"] == "3s" and ra["prefixRewrite"] == "/x" and ra["hostRewriteLiteral"] == "leaf.io"
    assert ra["retryPolicy"]["retryOn"] == "5xx"


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_plugin_error_rejects_the_virtual_service(profile):
    """Spec 4.1: a route plugin error makes the VirtualService Rejected and the gateway layer keeps its last
    accepted version (none here), in both profiles, so the proxy is pushed without it."""
    t = _t(_vs({"cors": {"allowMethods": ["GET"]}}), profile)
    assert _vs_report(t).errors and t.push.decision == "push" and not t.envoy.route_configurations


def test_1_3_connect_upgrade_is_a_note_not_a_gloo_error():
    t = _t(_vs({"upgrades": [{"websocket": {}}, {"connect": {"enabled": True}}]}), "1.3")
    assert not _vs_report(t).errors
    assert _route(t)["route"]["upgradeConfigs"] == [{"upgradeType": "websocket"}]
    (f,) = t.findings
    assert f.field == "spec.virtualHost.routes[0].options.upgrades[1].connect" and f.message.endswith(
        'unknown field "connect" in protocol_upgrade.ProtocolUpgradeConfig')


@pytest.mark.parametrize(("settings_size", "own", "expected"), [(None, 50, 50), (100, 50, 50), (40, 50, 40),
                                                                 (100, None, 100)])
def test_regex_rewrite_google_re2_max_program_size(settings_size, own, expected):
    """pkg/utils/regexutils/regex.go ConvertRegexMatchAndSubstitute: the pattern's googleRe2.maxProgramSize is
    used when the settings give none or a larger one (regex_test.go "should create regex even without engine"
    is the no-engine case)."""
    pattern: dict[str, Any] = {"regex": "^/a/(.*)"}
    if own is not None:
        pattern["googleRe2"] = {"maxProgramSize": own}
    gloo = {"regexMaxProgramSize": settings_size} if settings_size is not None else {}
    settings = obj("Settings", "default", {"gloo": gloo}, group="gloo.solo.io")
    for key, field in (("regexRewrite", "regexRewrite"), ("hostRewritePathRegex", "hostRewritePathRegex")):
        vs = _vs({key: {"pattern": pattern, "substitution": "/b/\\1"}})
        t = translate([gateway({"httpGateway": {}}), vs, static_upstream("u"), settings], "current")
        assert _route(t)["route"][field]["pattern"] == {"googleRe2": {"maxProgramSize": expected},
                                                       "regex": "^/a/(.*)"}
