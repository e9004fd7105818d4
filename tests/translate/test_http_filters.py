"""Gloo's default HTTP filter chain, per profile and Settings (``gloo_nb.translate.http_filters``).

Facts transcribed from Gloo: the current default chain of ``projects/gateway2/setup/testdata/happypath-out.yaml``;
``projects/gloo/pkg/plugins/registry/registry_test.go`` (``Http Filters without override value``: no filter at all
on an empty listener with ``removeUnusedFilters``; ``with route configuration and multiple listeners``: only the
listener whose routes use a filter gets it); ``plugins/grpcweb/plugin_test.go`` (CUR) and ``grpcweb_test.go``
(v1.3.20); ``plugins/transformation/plugin_test.go`` (``sets only one filter when no early filters exist``,
``should add both filter to the chain when early transformations exist``).
"""

from __future__ import annotations

from typing import Any

import pytest
from builders import GS, kube_upstream, m, route, service, to, vs
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from gateway_fixtures import gateway, obj
from google.protobuf import json_format

from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_object
from gloo_nb.models.defaults import helm_default_settings_manifest
from gloo_nb.translate import translate
from gloo_nb.translate.envoy_json import envoy_json
from gloo_nb.translate.http_filters import (
    TRANSFORMATION_TYPE,
    for_pinned_envoy,
    transformation_config,
    unpredicted_filters,
)

pytestmark = pytest.mark.unit

FAULT, CORS, LRL = "envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.local_ratelimit"
GRPC_WEB, TRANSFORMATION = "envoy.filters.http.grpc_web", "io.solo.transformation"
CSRF, ROUTER = "envoy.filters.http.csrf", "envoy.filters.http.router"

# happypath-out.yaml's httpFilters, as proto JSON (the golden file's YAML, key for key).
GOLDEN_CURRENT = [
    {"name": FAULT, "typedConfig": {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}},
    {"name": CORS, "typedConfig": {"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"}},
    {"name": LRL, "typedConfig": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
        "stage": 3, "statPrefix": "http_local_ratelimit"}},
    {"name": GRPC_WEB, "typedConfig": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb"}},
    {"name": TRANSFORMATION, "typedConfig": {
        "@type": "type.googleapis.com/envoy.api.v2.filter.http.FilterTransformations"}},
    {"name": CSRF, "typedConfig": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.csrf.v3.CsrfPolicy",
        "filterEnabled": {"defaultValue": {}}}},
    {"name": ROUTER, "typedConfig": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},
]


def _settings(**gloo: Any) -> Any:
    doc = helm_default_settings_manifest(profile="current")
    doc["spec"]["gloo"].update(gloo)
    resource = parse_object(doc).resource
    assert resource is not None
    return resource


def _t(*extra: Any, options: dict[str, Any] | None = None, profile: str = "current", vhost: Any = None) -> Any:
    app = vs("app", route(m("/"), action=to("echo"), options=options))
    if vhost is not None:
        app = vhost
    resources = [app, kube_upstream("echo", subset_keys=()), service("echo"), *extra]
    return translate(Snapshot.from_resources(resources), profile)  # type: ignore[arg-type]


def _hcms(t: Any) -> list[hcm_pb2.HttpConnectionManager]:
    out = []
    for listener in t.envoy.listeners:
        for chain in listener.filter_chains:
            for flt in chain.filters:
                hcm = hcm_pb2.HttpConnectionManager()
                if flt.typed_config.Unpack(hcm):
                    out.append(hcm)
    return out


def _names(t: Any) -> list[str]:
    (hcm,) = _hcms(t)
    return [f.name for f in hcm.http_filters]


def test_current_default_chain_is_gloos_golden_chain():
    """happypath-out.yaml: fault, cors, local_ratelimit, grpc_web, io.solo.transformation, csrf, router, with these
    exact configs (proto JSON), whatever the routes use (removeUnusedFilters defaults to false)."""
    (hcm,) = _hcms(_t())
    assert [json_format.MessageToDict(f) for f in hcm.http_filters] == GOLDEN_CURRENT
    # The CLI's JSON renders Gloo's own type (registered in the default pool), the same document.
    doc = envoy_json(_t().envoy)["listeners"][0]
    assert doc["filterChains"][0]["filters"][0]["typedConfig"]["httpFilters"] == GOLDEN_CURRENT


def test_13_default_chain():
    """v1.3.20: faultinjection, cors, grpcweb and transformation add their filter to every listener (their
    HttpFilters have no condition but grpc-web's), sorted by stage then name: fault (FaultStage), cors (CorsStage),
    grpc_web and io.solo.transformation (both AfterStage(AuthZStage): by name), router last."""
    assert _names(_t(profile="1.3")) == [FAULT, CORS, GRPC_WEB, TRANSFORMATION, ROUTER]


def test_13_has_no_remove_unused_filters():
    """removeUnusedFilters is not in v1.3.20's settings.proto: 1.3 keeps every default filter."""
    assert _names(_t(_settings(removeUnusedFilters=True), profile="1.3")) == [
        FAULT, CORS, GRPC_WEB, TRANSFORMATION, ROUTER]


def test_13_disable_grpc_web_in_settings():
    """grpcweb_test.go@v1.3.20 "should not filter if disabled by settings"."""
    assert _names(_t(_settings(disableGrpcWeb=True), profile="1.3")) == [FAULT, CORS, TRANSFORMATION, ROUTER]


def test_remove_unused_filters_leaves_only_the_router():
    """registry_test.go "Http Filters without override value": with removeUnusedFilters, a listener no route of which
    uses a filter gets none by default (grpc-web too: its default follows removeUnusedFilters)."""
    assert _names(_t(_settings(removeUnusedFilters=True))) == [ROUTER]


@pytest.mark.parametrize(("options", "wanted"), [
    ({"faults": {"abort": {"percentage": 50, "httpStatus": 503}}}, [FAULT]),
    ({"cors": {"allowOrigin": ["a.example"]}}, [CORS]),
    ({"transformations": {"clearRouteCache": True}}, [TRANSFORMATION]),
    ({"stagedTransformations": {"regular": {"requestTransforms": []}}}, [TRANSFORMATION]),
    ({"csrf": {"filterEnabled": {"defaultValue": {"numerator": 1}}}}, [CSRF]),
    ({"ratelimit": {"localRatelimit": {"maxTokens": 1}}}, [LRL]),
])
def test_remove_unused_filters_keeps_what_routes_use(options, wanted):
    """Each plugin's filterRequiredForListener: set by a route that uses the filter (faultinjection, cors,
    transformation, csrf, local_ratelimit ProcessRoute), then HttpFilters keeps the filter."""
    assert _names(_t(_settings(removeUnusedFilters=True), options=options)) == [*wanted, ROUTER]


def test_remove_unused_filters_counts_virtual_host_options():
    """cors/plugin.go ProcessVirtualHost marks the listener as soon as the virtual host has a CORS policy."""
    app = obj("VirtualService", "app", {"virtualHost": {
        "domains": ["*"], "options": {"cors": {"allowOrigin": ["a.example"]}},
        "routes": [{"matchers": [{"prefix": "/"}],
                    "routeAction": {"single": {"upstream": {"name": "echo", "namespace": GS}}}}]}})
    assert _names(_t(_settings(removeUnusedFilters=True), vhost=app)) == [CORS, ROUTER]


def test_remove_unused_filters_is_per_listener():
    """registry_test.go "Http Filters with route configuration and multiple listeners": the listener whose route
    uses fault injection gets the filter, the other does not."""
    faulty = obj("VirtualService", "faulty", {"virtualHost": {"domains": ["*"], "routes": [{
        "matchers": [{"prefix": "/"}], "options": {"faults": {"abort": {"percentage": 50, "httpStatus": 503}}},
        "routeAction": {"single": {"upstream": {"name": "echo", "namespace": GS}}}}]}})
    plain = obj("VirtualService", "plain", {"virtualHost": {"domains": ["*"], "routes": [{
        "matchers": [{"prefix": "/"}], "routeAction": {"single": {"upstream": {"name": "echo", "namespace": GS}}}}]}})
    gw_a = gateway({"httpGateway": {"virtualServices": [{"name": "faulty", "namespace": GS}]}}, name="a")
    gw_b = gateway({"bindPort": 8081, "httpGateway": {"virtualServices": [{"name": "plain", "namespace": GS}]}},
                   name="b")
    t = translate(Snapshot.from_resources([faulty, plain, gw_a, gw_b, kube_upstream("echo", subset_keys=()),
                                           service("echo"), _settings(removeUnusedFilters=True)]), "current")
    by_listener = {}
    for listener in t.envoy.listeners:
        hcm = hcm_pb2.HttpConnectionManager()
        listener.filter_chains[0].filters[0].typed_config.Unpack(hcm)
        by_listener[listener.name] = [f.name for f in hcm.http_filters]
    assert by_listener == {"listener-::-8080": [FAULT, ROUTER], "listener-::-8081": [ROUTER]}


def test_disable_grpc_web_in_settings():
    """grpcweb/plugin_test.go "should not filter if disabled by settings"."""
    assert GRPC_WEB not in _names(_t(_settings(disableGrpcWeb=True)))


def test_disable_grpc_web_false_overrides_remove_unused_filters():
    """grpcweb/plugin.go Init: an explicit disableGrpcWeb wins over removeUnusedFilters' default."""
    assert _names(_t(_settings(removeUnusedFilters=True, disableGrpcWeb=False))) == [GRPC_WEB, ROUTER]


@pytest.mark.parametrize(("profile", "chain"), [
    ("current", [FAULT, CORS, LRL, GRPC_WEB, TRANSFORMATION, CSRF, ROUTER]),
    ("1.3", [FAULT, CORS, GRPC_WEB, TRANSFORMATION, ROUTER]),
])
def test_listener_grpc_web_enables_what_settings_disable(profile, chain):
    """grpcweb plugin_test "should filter when enabled in listener": the listener's grpcWeb block decides."""
    gw = gateway({"httpGateway": {"options": {"grpcWeb": {"disable": False}}}})
    assert _names(_t(gw, _settings(disableGrpcWeb=True), profile=profile)) == chain


@pytest.mark.parametrize("profile", ["current", "1.3"])
def test_listener_grpc_web_disable(profile):
    """grpcweb plugin_test "should not add filter if disabled": grpcWeb.disable on the listener; it is modelled, so
    nothing is declared unmodelled for it."""
    gw = gateway({"httpGateway": {"options": {"grpcWeb": {"disable": True}}}})
    t = _t(gw, profile=profile)
    assert GRPC_WEB not in _names(t)
    assert not [u for u in t.unmodelled if "grpcWeb" in u.path]


def test_early_transformation_adds_a_second_filter_after_fault():
    """transformation/plugin_test.go "should add both filter to the chain when early transformations exist": the
    early filter (FilterTransformations{stage: 1}, AfterStage(FaultStage)) and the regular one (empty config)."""
    t = _t(options={"stagedTransformations": {"early": {"requestTransforms": []}}})
    (hcm,) = _hcms(t)
    assert [f.name for f in hcm.http_filters] == [FAULT, TRANSFORMATION, CORS, LRL, GRPC_WEB, TRANSFORMATION, CSRF,
                                                 ROUTER]
    early, regular = (f.typed_config for f in hcm.http_filters if f.name == TRANSFORMATION)
    assert (early.type_url, early.value) == (TRANSFORMATION_TYPE, b"\x10\x01")
    assert (regular.type_url, regular.value) == (TRANSFORMATION_TYPE, b"")


def test_one_transformation_filter_with_an_empty_config_without_early_stages():
    """transformation/plugin_test.go "sets only one filter when no early filters exist": its value is empty."""
    (hcm,) = _hcms(_t())
    (only,) = [f for f in hcm.http_filters if f.name == TRANSFORMATION]
    assert only.typed_config.value == b""


def test_transformation_settings_shape_the_filter_config():
    """transformation/plugin.go HttpFilters: LogRequestResponseInfo and AutoWebsocketPassthrough from Settings."""
    t = _t(_settings(logTransformationRequestResponseInfo=True, enableAutoWebsocketTransformationPassthrough=True))
    (hcm,) = _hcms(t)
    (only,) = [f for f in hcm.http_filters if f.name == TRANSFORMATION]
    assert only.typed_config == transformation_config(log_request_response_info=True,
                                                      auto_websocket_passthrough=True)
    assert json_format.MessageToDict(only)["typedConfig"] == {
        "@type": TRANSFORMATION_TYPE, "logRequestResponseInfo": True, "autoWebsocketPassthrough": True}


def test_router_options_current_only():
    """network_filters.go computeHttpFilters: options.router's suppressEnvoyHeaders and dynamicStats (current);
    v1.3.20's HttpListenerOptions has no router: the field is reported as absent there, the router stays empty."""
    gw = gateway({"httpGateway": {"options": {"router": {"suppressEnvoyHeaders": True, "dynamicStats": False}}}})
    (hcm,) = _hcms(_t(gw))
    assert json_format.MessageToDict(hcm.http_filters[-1])["typedConfig"] == {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
        "dynamicStats": False, "suppressEnvoyHeaders": True}
    t13 = _t(gw, profile="1.3")
    (hcm13,) = _hcms(t13)
    assert hcm13.http_filters[-1].typed_config.value == b""
    assert any("router does not exist in Gloo 1.3" in f.message for f in t13.findings)


def test_for_pinned_envoy_leaves_out_glooss_extension_filters():
    """The sandbox's rule: io.solo.transformation (envoy-gloo's FilterTransformations) out, once per listener, with
    one line saying which filter, which listener and why; a listener without one is returned as is."""
    (listener,) = _t().envoy.listeners
    served, left = for_pinned_envoy(listener)
    hcm = hcm_pb2.HttpConnectionManager()
    served.filter_chains[0].filters[0].typed_config.Unpack(hcm)
    assert [f.name for f in hcm.http_filters] == [FAULT, CORS, LRL, GRPC_WEB, CSRF, ROUTER]
    assert [(x.listener, x.filter) for x in left] == [("listener-::-8080", TRANSFORMATION)]
    assert left[0].message() == (
        "left out HTTP filter io.solo.transformation of listener listener-::-8080: the pinned Envoy cannot load "
        "envoy.api.v2.filter.http.FilterTransformations (Gloo's transformation filter, an envoy-gloo extension); "
        "Gloo's own gateway-proxy image loads it")
    again, none = for_pinned_envoy(served)
    assert again is served and none == []
    assert listener_pb2.Listener.FromString(listener.SerializeToString()) == listener  # the intent is untouched


def test_unmodelled_listener_options_name_their_filters():
    """A listener option whose filter gloo_nb does not build is declared not modelled, and its filter is named for
    drift (gzip/plugin.go CompressorFilterName, healthcheck wellknown.HealthCheck, customHttpFilters by name)."""
    options = {"gzip": {}, "healthCheck": {"path": "/h"}, "customHttpFilters": [{"name": "my.filter"}]}
    assert unpredicted_filters([options]) == {"envoy.filters.http.compressor", "envoy.filters.http.health_check",
                                              "my.filter"}
    gw = gateway({"httpGateway": {"options": {"gzip": {}}}})
    t = _t(gw)
    assert [u.path for u in t.unmodelled if "gzip" in u.path] == ["spec.httpGateway.options.gzip"]


def test_settings_codec_reads_the_filter_knobs():
    """settings.proto GlooOptions: removeUnusedFilters and disableGrpcWeb are BoolValues (a bool or {value})."""
    s = _settings(removeUnusedFilters={"value": True}, disableGrpcWeb=False,
                  logTransformationRequestResponseInfo=True)
    assert (s.remove_unused_filters, s.disable_grpc_web, s.log_transformation_request_response_info) == (
        True, False, True)
    default = _settings()
    assert (default.remove_unused_filters, default.disable_grpc_web) == (False, None)


def test_upstreams_gloo_nb_does_not_model_name_their_filters():
    """aws/plugin.go HttpFilters (io.solo.aws_lambda, and a transformation filter at AwsStageNumber), grpc and
    grpcjson plugins (the gRPC-JSON transcoder for a gRPC service spec)."""
    aws = obj("Upstream", "lambda", {"aws": {"region": "us-east-1", "secretRef": {"name": "s", "namespace": GS}}},
              group="gloo.solo.io")
    grpc = obj("Upstream", "grpc", {"static": {"hosts": [{"addr": "127.0.0.1", "port": 1}],
                                               "serviceSpec": {"grpc": {}}}}, group="gloo.solo.io")
    assert unpredicted_filters([], [aws]) == {"io.solo.aws_lambda", TRANSFORMATION}
    assert unpredicted_filters([], [grpc]) == {"envoy.filters.http.grpc_json_transcoder"}
    assert unpredicted_filters([{}], [kube_upstream("echo")]) == frozenset()


def test_settings_default_auth_and_rate_limit_servers_are_declared_and_named():
    """extauth/config_generator.go GenerateListenerExtAuthzConfig and ratelimit/plugin.go
    getServerSettingsForListener: Settings' extauth and ratelimitServer add their filters to every listener."""
    doc = helm_default_settings_manifest(profile="current")
    doc["spec"]["extauth"] = {"extauthzServerRef": {"name": "extauth", "namespace": GS}}
    doc["spec"]["ratelimitServer"] = {"ratelimitServerRef": {"name": "rl", "namespace": GS}}
    s = parse_object(doc).resource
    t = _t(s)
    assert {(u.path, u.feature) for u in t.unmodelled if u.resource.kind == "Settings"} >= {
        ("spec.extauth", "the external auth filter of every HTTP listener (envoy.filters.http.ext_authz)"),
        ("spec.ratelimitServer", "the rate-limit filter of every HTTP listener (envoy.filters.http.ratelimit)")}
    assert unpredicted_filters([], [], s) == {"envoy.filters.http.ext_authz", "envoy.filters.http.ratelimit"}
    assert unpredicted_filters([], [], _settings()) == frozenset()


def test_remove_unused_filters_ignores_a_direct_response_cors_policy():
    """cors/plugin.go ProcessRoute: a direct-response route's policy becomes response headers and does not mark the
    listener (filterRequiredForListener is set only on the route-action path)."""
    direct = vs("app", route(m("/"), direct=(200, "ok"), options={"cors": {"allowOrigin": ["a.example"]}}))
    assert _names(_t(_settings(removeUnusedFilters=True), vhost=direct)) == [ROUTER]
