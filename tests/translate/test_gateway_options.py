"""Gateway and HTTP gateway options on Envoy listeners (hcm, als, tracing, listener plugins), both profiles."""

from __future__ import annotations

import pytest
from gateway_fixtures import FULL_HCM, FULL_LISTENER, GS, direct_vs, gateway, static_upstream
from google.protobuf import json_format

from gloo_nb.translate import translate
from gloo_nb.translate.envoy import http_connection_managers

pytestmark = pytest.mark.unit


def _hcm(t):
    (listener,) = t.envoy.listeners
    (hcm,) = http_connection_managers(listener)
    return json_format.MessageToDict(hcm)


def _listener(t):
    (listener,) = t.envoy.listeners
    return json_format.MessageToDict(listener)


def _gw_report(t, name="gateway-proxy"):
    return t.report("Gateway", GS, name)


def _http(settings, listener_options=None):
    spec = {"httpGateway": {"options": {"httpConnectionManagerSettings": settings}}}
    if listener_options is not None:
        spec["options"] = listener_options
    return gateway(spec)


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_websocket_upgrade_by_default(profile):
    """hcm/plugin_test.go "enables websockets by default with no settings" (v1.3.20's copyCoreHcmSettings too)."""
    t = translate([gateway({"httpGateway": {}}), direct_vs()], profile)
    assert _hcm(t)["upgradeConfigs"] == [{"upgradeType": "websocket"}]


def test_duplicate_upgrade_is_an_http_listener_error_on_the_gateway():
    """hcm/plugin_test.go "should error when there's a duplicate upgrade config" ("upgrade config websocket is
    not unique"), reported by reportHTTPListenerProcessingError as an HttpListener ProcessingError."""
    ws = {"websocket": {"enabled": True}}
    t = translate([_http({"upgrades": [ws, ws]}), direct_vs()], "current")
    (error,) = _gw_report(t).errors
    assert error.startswith("HttpListener Error: ProcessingError. Reason: ")
    assert "upgrade config websocket is not unique" in error


def test_connect_terminate_is_refused_at_hcm_level():
    t = translate([_http({"upgrades": [{"connectTerminate": {"enabled": True}}]}), direct_vs()], "current")
    assert _gw_report(t).errors == [
        "HttpListener Error: ProcessingError. Reason: connect_terminate is not supported at HCM level; use "
        "'connect' at HCM level and 'connect_terminate' at route level"]


def test_hcm_settings_map_to_envoy_fields():
    """hcm/plugin.go ProcessHcmNetworkFilter, field by field (plugin_test.go "copy all settings to hcm filter")."""
    t = translate([_http(FULL_HCM), direct_vs(), static_upstream("zipkin")], "current")
    hcm = _hcm(t)
    assert hcm["useRemoteAddress"] is True and hcm["xffNumTrustedHops"] == 2 and hcm["skipXffAppend"] is True
    assert hcm["via"] == "gloo" and hcm["generateRequestId"] is False and hcm["proxy100Continue"] is True
    assert hcm["streamIdleTimeout"] == "1.500s" and hcm["requestTimeout"] == "60s"
    assert hcm["requestHeadersTimeout"] == "5s" and hcm["drainTimeout"] == "2s" and hcm["delayedCloseTimeout"] == "1s"
    assert hcm["maxRequestHeadersKb"] == 90 and hcm["serverName"] == "gloo-edge"
    assert hcm["preserveExternalRequestId"] is True
    assert hcm["serverHeaderTransformation"] == "PASS_THROUGH"
    assert hcm["pathWithEscapedSlashesAction"] == "UNESCAPE_AND_REDIRECT"
    assert hcm["codecType"] == "HTTP1" and hcm["mergeSlashes"] is True and hcm["normalizePath"] is False
    assert hcm["stripAnyHostPort"] is True and hcm["appendXForwardedPort"] is True
    assert hcm["httpProtocolOptions"] == {"acceptHttp10": True, "defaultHostForHttp10": "example.com",
                                          "headerKeyFormat": {"properCaseWords": {}}, "allowChunkedLength": True,
                                          "enableTrailers": True}
    assert hcm["commonHttpProtocolOptions"] == {
        "idleTimeout": "30s", "maxConnectionDuration": "300s", "maxStreamDuration": "120s", "maxHeadersCount": 50,
        # Gloo's REJECT_CLIENT_REQUEST (1) is cast by number to Envoy's REJECT_REQUEST.
        "maxRequestsPerConnection": 100, "headersWithUnderscoresAction": "REJECT_REQUEST"}
    # The configured upgrades in order; a configured websocket suppresses the default one.
    assert hcm["upgradeConfigs"] == [{"upgradeType": "websocket", "enabled": False},
                                     {"upgradeType": "CONNECT", "enabled": True}]
    assert hcm["forwardClientCertDetails"] == "APPEND_FORWARD"
    assert hcm["setCurrentClientCertDetails"] == {"subject": True, "dns": True}
    assert _gw_report(t).errors == [] and _gw_report(t).warnings == []


def test_normalize_path_defaults_to_true():
    """hcm/plugin_test.go "should contain the default value for NormalizePath"."""
    t = translate([_http({"serverName": "x"}), direct_vs()], "current")
    assert _hcm(t)["normalizePath"] is True


def test_13_ignores_fields_it_did_not_have_and_says_so():
    t = translate([_http(FULL_HCM, FULL_LISTENER), direct_vs(), static_upstream("zipkin")], "1.3")
    hcm = _hcm(t)
    assert "codecType" not in hcm and "mergeSlashes" not in hcm and "maxHeadersCount" not in str(hcm)
    assert hcm["serverName"] == "gloo-edge" and hcm["commonHttpProtocolOptions"] == {"idleTimeout": "30s"}
    # 1.3's upgrades: websocket only (its ProtocolUpgradeConfig had no connect).
    assert [u["upgradeType"] for u in hcm["upgradeConfigs"]] == ["websocket"]
    listener = _listener(t)
    assert "perConnectionBufferLimitBytes" not in listener and "socketOptions" not in listener
    notes = {f.field for f in t.findings if "does not exist in Gloo 1.3" in f.message}
    assert {"spec.options.perConnectionBufferLimitBytes", "spec.options.socketOptions",
            "spec.httpGateway.options.httpConnectionManagerSettings.codecType",
            "spec.httpGateway.options.httpConnectionManagerSettings.tracing.zipkinConfig"} <= notes
    # gloo_nb's notes are not Gloo's: the Gateway's status stays clean and 1.3 still pushes.
    assert _gw_report(t).warnings == [] and t.push.decision == "push"


def test_listener_options():
    """listener/plugin.go ProcessListener: buffer limit, socket options (translateSocketOption), exact balance."""
    t = translate([gateway({"options": FULL_LISTENER, "httpGateway": {}}), direct_vs()], "current")
    listener = _listener(t)
    assert listener["perConnectionBufferLimitBytes"] == 32768
    assert listener["socketOptions"] == [{"description": "SO_KEEPALIVE", "level": "1", "name": "9", "intValue": "1",
                                          "state": "STATE_LISTENING"}]
    assert listener["connectionBalanceConfig"] == {"exactBalance": {}}


def test_connection_balancer_without_type_is_a_listener_error():
    t = translate([gateway({"options": {"connectionBalanceConfig": {}}, "httpGateway": {}}), direct_vs()], "current")
    assert _gw_report(t).errors == [
        "Listener Error: ProcessingError. Reason: connection balancer does not specify balancer type"]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_file_access_log_string_and_json(profile):
    """als/converter.go copyFileSettings: text or JSON log format; CUR adds the two formatter extensions."""
    t = translate([gateway({"options": {"accessLoggingService": FULL_LISTENER["accessLoggingService"]},
                            "httpGateway": {}}), direct_vs()], profile)
    logs = _hcm(t)["accessLog"]
    assert [log["name"] for log in logs] == ["envoy.access_loggers.file"] * 2
    text, js = (log["typedConfig"] for log in logs)
    assert text["path"] == "/dev/stdout"
    assert text["logFormat"]["textFormatSource"] == {"inlineString": "[%START_TIME%] %REQ(:METHOD)%\n"}
    assert js["logFormat"]["jsonFormat"] == {"method": "%REQ(:METHOD)%", "path": "%REQ(:PATH)%"}
    formatters = [f["name"] for f in text["logFormat"].get("formatters", [])]
    assert formatters == ([] if profile == "1.3" else ["envoy.formatter.req_without_query", "envoy.formatter.metadata"])


def test_grpc_access_log_is_not_modelled_and_says_so():
    als = {"accessLog": [{"grpcService": {"logName": "x", "staticClusterName": "als"}}]}
    t = translate([gateway({"options": {"accessLoggingService": als}, "httpGateway": {}}), direct_vs()], "current")
    assert "accessLog" not in _hcm(t)
    (note,) = t.unmodelled
    assert note.path == "spec.options.accessLoggingService.accessLog[0].grpcService"


def test_tracing_with_collector_upstream():
    """tracing/plugin_test.go "references valid upstream": cluster ``<name>_<namespace>``, envoy.tracers.zipkin."""
    t = translate([_http({"tracing": FULL_HCM["tracing"]}), direct_vs(), static_upstream("zipkin")], "current")
    tracing = _hcm(t)["tracing"]
    assert tracing["provider"]["name"] == "envoy.tracers.zipkin"
    cfg = tracing["provider"]["typedConfig"]
    assert cfg["collectorCluster"] == "zipkin_gloo-system" and cfg["collectorEndpoint"] == "/api/v2/spans"
    assert cfg["collectorEndpointVersion"] == "HTTP_JSON"
    assert tracing["clientSampling"] == {"value": 10.0} and tracing["randomSampling"] == {"value": 20.0}
    assert tracing["overallSampling"] == {"value": 100.0} and tracing["verbose"] is True
    assert tracing["customTags"] == [
        {"tag": "x-team", "requestHeader": {"name": "x-team"}},
        {"tag": "pod", "environment": {"name": "POD_NAME", "defaultValue": "x"}},
        {"tag": "env", "literal": {"value": "prod"}}]


def test_tracing_defaults():
    """tracing/plugin_test.go "should update listener properly - with defaults": 100% samplings,
    spawn_upstream_span false, no provider."""
    t = translate([_http({"tracing": {}}), direct_vs()], "current")
    assert _hcm(t)["tracing"] == {"clientSampling": {"value": 100.0}, "randomSampling": {"value": 100.0},
                                  "overallSampling": {"value": 100.0}, "spawnUpstreamSpan": False}


def test_missing_collector_upstream_is_glooss_warning_on_the_gateway():
    """tracing/plugin_test.go "references invalid upstream" errors; the error is NewUpstreamNotFoundErr, a warning
    ConfigurationError, so reportHTTPListenerProcessingError files an InvalidDestinationWarning; the HCM gets no
    tracing (the plugin returns before setting it)."""
    t = translate([_http({"tracing": FULL_HCM["tracing"]}), direct_vs()], "current")
    report = _gw_report(t)
    assert report.errors == []
    assert report.warnings == ["HttpListener Warning: InvalidDestinationWarning. Reason: "
                               "*v1.Upstream { gloo-system.zipkin } not found"]
    assert report.state == "Warning"
    assert "tracing" not in _hcm(t)
    assert t.push.decision == "push"


def test_13_tracing_has_no_provider():
    """tracing.proto@v1.3.20: request headers, verbose and percentages only."""
    t = translate([_http({"tracing": {"requestHeadersForTags": ["x-a"], "verbose": True}}), direct_vs()], "1.3")
    assert _hcm(t)["tracing"] == {"clientSampling": {"value": 100.0}, "randomSampling": {"value": 100.0},
                                  "overallSampling": {"value": 100.0}, "verbose": True,
                                  "customTags": [{"tag": "x-a", "requestHeader": {"name": "x-a"}}]}


def test_unmodelled_options_are_findings_never_silent():
    spec = {"options": {"tcpStats": True},
            "httpGateway": {"options": {"gzip": {}, "waf": {}, "httpConnectionManagerSettings": {
                "uuidRequestIdConfig": {"packTraceReason": True}}}}}
    t = translate([gateway(spec), direct_vs()], "current")
    fields = {u.path for u in t.unmodelled}
    assert fields == {"spec.options.tcpStats", "spec.httpGateway.options.gzip",
                      "spec.httpGateway.options.waf",
                      "spec.httpGateway.options.httpConnectionManagerSettings.uuidRequestIdConfig"}
    assert all(u.resource.kind == "Gateway" for u in t.unmodelled)
    assert not any(f.field in fields for f in t.findings)


def test_unreadable_duration_is_a_finding_and_left_unset():
    t = translate([_http({"idleTimeout": "soon"}), direct_vs()], "current")
    assert "commonHttpProtocolOptions" not in _hcm(t) or "idleTimeout" not in _hcm(t)["commonHttpProtocolOptions"]
    (f,) = [f for f in t.findings if f.field.endswith("idleTimeout")]
    assert "is not a protobuf Duration" in f.message


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_use_proxy_proto_adds_the_proxy_protocol_listener_filter(profile):
    """plugins/proxyprotocol/plugin.go (CUR); v1.3.20 set v2's FilterChain.use_proxy_proto, which v3 replaced
    with this listener filter."""
    t = translate([gateway({"useProxyProto": True, "httpGateway": {}}), direct_vs()], profile)
    (listener,) = t.envoy.listeners
    assert [f.name for f in listener.listener_filters] == ["envoy.filters.listener.proxy_protocol"]


def test_proxy_protocol_rules_and_the_enterprise_only_flag():
    rules = {"rules": [{"tlvType": 2, "onTlvPresent": {"metadataNamespace": "ns", "key": "authority"}}]}
    t = translate([gateway({"options": {"proxyProtocol": rules}, "httpGateway": {}}), direct_vs()], "current")
    filters = _listener(t)["listenerFilters"]
    assert filters[0]["typedConfig"]["rules"] == [
        {"tlvType": 2, "onTlvPresent": {"metadataNamespace": "ns", "key": "authority"}}]
    t = translate([gateway({"options": {"proxyProtocol": {"allowRequestsWithoutProxyProtocol": True}},
                            "httpGateway": {}}), direct_vs()], "current")
    assert _gw_report(t).errors == ["Listener Error: ProcessingError. Reason: Could not load configuration for the "
                                    "following Enterprise features: [proxy_protocol]"]


def test_route_options_on_the_route_configuration():
    """route_config.go ComputeRouteConfiguration: the Gateway's routeOptions (current only)."""
    spec = {"routeOptions": {"maxDirectResponseBodySizeBytes": 8192, "mostSpecificHeaderMutationsWins": True},
            "httpGateway": {}}
    t = translate([gateway(spec), direct_vs()], "current")
    (rc,) = t.envoy.route_configurations
    assert rc.max_direct_response_body_size_bytes.value == 8192 and rc.most_specific_header_mutations_wins
    t13 = translate([gateway(spec), direct_vs()], "1.3")
    (rc13,) = t13.envoy.route_configurations
    assert not rc13.HasField("max_direct_response_body_size_bytes")
    assert {f.field for f in t13.findings if "does not exist in Gloo 1.3" in f.message} == {
        "spec.routeOptions.maxDirectResponseBodySizeBytes", "spec.routeOptions.mostSpecificHeaderMutationsWins"}


@pytest.mark.parametrize(("annotation", "setting", "expected"), [
    (None, False, False), (None, True, True), ("true", False, True), ("F", True, False), ("maybe", True, True)])
def test_aggregate_listener_is_declared_not_modelled(annotation, setting, expected):
    """translator.go shouldIsolateVirtualHostsForGateway: the annotation when strconv.ParseBool takes it, else the
    setting; gloo_nb does not build aggregate listeners and says so."""
    from gloo_nb.models.resources import Gateway, HttpGateway, ObjectMeta
    from gloo_nb.translate.gateway import isolates_virtual_hosts

    annotations = {} if annotation is None else {"gateway.solo.io/isolate_vhost": annotation}
    gw = Gateway(meta=ObjectMeta("gateway-proxy", GS, annotations=annotations), http_gateway=HttpGateway())
    assert isolates_virtual_hosts(gw, setting) is expected
    t = translate([gw, direct_vs()], "current")
    noted = any(u.feature.startswith("aggregate listener") for u in t.unmodelled)
    assert noted is (annotation == "true")


def test_listener_level_access_log():
    """als/plugin.go ProcessListener: ``listenerAccessLoggingService`` goes on the Envoy listener itself."""
    als = {"accessLog": [{"fileSink": {"path": "/dev/stdout", "stringFormat": "%DOWNSTREAM_REMOTE_ADDRESS%\n"}}]}
    t = translate([gateway({"options": {"listenerAccessLoggingService": als}, "httpGateway": {}}), direct_vs()],
                  "current")
    (log,) = _listener(t)["accessLog"]
    assert log["name"] == "envoy.access_loggers.file"
    assert "accessLog" not in _hcm(t)


def test_unknown_hcm_field_is_named_with_a_hint():
    t = translate([_http({"serverNmae": "x"}), direct_vs()], "current")
    (f,) = [f for f in t.findings if f.field.endswith("serverNmae")]
    assert f.message == ("unknown field spec.httpGateway.options.httpConnectionManagerSettings.serverNmae: not an "
                         "HttpConnectionManagerSettings field (did you mean serverName?)")
