"""Upstream options other than TLS: Envoy cluster fields, Gloo's per-Upstream errors and states.

Facts transcribed from Gloo's own tests are cited by file and test name in each docstring.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from builders import GS, m, messages, route, service, to, vs
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2
from google.protobuf import json_format

from gloo_nb.models import ObjectMeta, Service, ServicePort
from gloo_nb.models.codec import parse_object
from gloo_nb.translate import translate
from gloo_nb.translate.envoy import build_cluster
from gloo_nb.translate.upstream_options import HTTP_PROTOCOL_OPTIONS_KEY, service_wants_http2

pytestmark = pytest.mark.unit

HTTP1_AND_HTTP2 = ("Both HTTP1 and HTTP2 options may only be configured with non-default "
                   "'Upstream_USE_DOWNSTREAM_PROTOCOL' specified for Protocol Selection")


def upstream(**spec: Any):
    doc = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "u", "namespace": GS},
           "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 8080}]}, **spec}}
    parsed = parse_object(doc)
    assert parsed.findings == ()
    return parsed.resource


def cluster_json(up, profile="current") -> dict[str, Any]:
    return json_format.MessageToDict(build_cluster(up, profile))


def upstream_report(up, profile):
    t = translate([up], profile)
    return messages(t, "Upstream", GS, "u"), t


HC = {"timeout": "1s", "interval": "2s", "healthyThreshold": 1, "unhealthyThreshold": 2,
      "httpHealthCheck": {"path": "/healthz", "useHttp2": True, "serviceName": "svc"}}


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_health_check_is_copied_to_the_cluster(profile):
    """api_conversion/health_check.go:ToEnvoyHealthCheck: useHttp2 -> codec HTTP2, serviceName -> prefix matcher."""
    c = cluster_json(upstream(healthChecks=[HC]), profile)
    assert c["healthChecks"] == [{"timeout": "1s", "interval": "2s", "healthyThreshold": 1, "unhealthyThreshold": 2,
                                  "httpHealthCheck": {"path": "/healthz", "codecClientType": "HTTP2",
                                                      "serviceNameMatcher": {"prefix": "svc"}}}]


@pytest.mark.parametrize(("missing", "name"), [("healthyThreshold", "HealthyThreshold"),
                                                ("unhealthyThreshold", "UnhealthyThreshold"),
                                                ("httpHealthCheck", "HealthChecker")])
def test_health_check_without_a_required_field_is_an_upstream_error(missing, name):
    """clusters.go:createHealthCheckConfig: NilFieldError, the upstream is Rejected in 1.3 and Warning in current."""
    hc = {k: v for k, v in HC.items() if k != missing}
    text = f"The field HealthCheck[0].{name} cannot be nil"
    rep13, _ = upstream_report(upstream(healthChecks=[hc]), "1.3")
    assert rep13.state == "Rejected" and rep13.errors == [text]
    rep, t = upstream_report(upstream(healthChecks=[hc]), "current")
    assert rep.state == "Warning" and rep.warnings == [f"1 error occurred:\n\t* {text}\n\n"]
    # UpstreamRemovingSanitizer: the errored upstream's cluster is not served.
    assert "u_gloo-system" not in [c.name for c in t.envoy.clusters]


def test_outlier_detection_and_its_nil_interval_message_per_profile():
    """clusters.go:createOutlierDetectionConfig (v1.3.20 and main differ in the field name)."""
    od = {"interval": "10s", "consecutive5xx": 3, "baseEjectionTime": "30s", "maxEjectionPercent": 50}
    assert cluster_json(upstream(outlierDetection=od))["outlierDetection"] == {
        "interval": "10s", "consecutive5xx": 3, "baseEjectionTime": "30s", "maxEjectionPercent": 50}
    rep13, _ = upstream_report(upstream(outlierDetection={"consecutive5xx": 3}), "1.3")
    assert rep13.errors == ["The field OutlierDetection.HealthChecker cannot be nil"]
    rep, _ = upstream_report(upstream(outlierDetection={"consecutive5xx": 3}), "current")
    text = "The field OutlierDetection.HealthChecker.Interval cannot be nil"
    assert rep.warnings == [f"1 error occurred:\n\t* {text}\n\n"]


def test_circuit_breakers_become_one_threshold():
    """clusters.go:getCircuitBreakers: one threshold; trackRemaining is not copied."""
    c = cluster_json(upstream(circuitBreakers={"maxConnections": 10, "maxRequests": {"value": 20},
                                               "trackRemaining": True}))
    assert c["circuitBreakers"] == {"thresholds": [{"maxConnections": 10, "maxRequests": 20}]}


def test_load_balancer_config():
    """plugins/loadbalancer/plugin.go:ProcessUpstream."""
    c = cluster_json(upstream(loadBalancerConfig={"healthyPanicThreshold": 40, "updateMergeWindow": "2s",
                                                  "leastRequest": {"choiceCount": 4}}))
    assert c["lbPolicy"] == "LEAST_REQUEST"
    assert c["leastRequestLbConfig"] == {"choiceCount": 4}
    assert c["commonLbConfig"] == {"healthyPanicThreshold": {"value": 40.0}, "updateMergeWindow": "2s"}
    ring = cluster_json(upstream(loadBalancerConfig={"ringHash": {"ringHashConfig": {"maximumRingSize": 2048}}}))
    assert ring["lbPolicy"] == "RING_HASH" and ring["ringHashLbConfig"] == {"maximumRingSize": "2048"}
    assert cluster_json(upstream(loadBalancerConfig={"maglev": {}}))["lbPolicy"] == "MAGLEV"


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_connection_config(profile):
    """plugins/upstreamconn/plugin.go: keepalive durations are rounded up to whole seconds (roundToSecond)."""
    cfg = {"maxRequestsPerConnection": 7, "connectTimeout": "2s",
           "tcpKeepalive": {"keepaliveProbes": 3, "keepaliveTime": "60s", "keepaliveInterval": "1.2s"},
           "perConnectionBufferLimitBytes": 4096}
    c = cluster_json(upstream(connectionConfig=cfg), profile)
    assert c["connectTimeout"] == "2s" and c["maxRequestsPerConnection"] == 7
    assert c["upstreamConnectionOptions"] == {"tcpKeepalive": {"keepaliveProbes": 3, "keepaliveTime": 60,
                                                               "keepaliveInterval": 2}}
    # perConnectionBufferLimitBytes came after v1.3.20.
    assert ("perConnectionBufferLimitBytes" in c) is (profile == "current")


def test_use_http2_in_1_3_is_the_cluster_field_only():
    """v1.3.20 clusters.go:getHttp2ptions; the protocoloptions plugin did not exist."""
    c = cluster_json(upstream(useHttp2=True, initialStreamWindowSize=70000), "1.3")
    assert c["http2ProtocolOptions"] == {} and "typedExtensionProtocolOptions" not in c


def test_use_http2_in_current_writes_typed_extension_protocol_options():
    """protocoloptions/plugin_test.go "should accept valid values for all http2 connection settings"."""
    up = upstream(useHttp2=True, maxConcurrentStreams=1234, initialStreamWindowSize=268435457,
                  initialConnectionWindowSize=65535, overrideStreamErrorOnInvalidHttpMessage=True)
    c = build_cluster(up, "current")
    opts = http_protocol_options_pb2.HttpProtocolOptions()
    assert c.typed_extension_protocol_options[HTTP_PROTOCOL_OPTIONS_KEY].Unpack(opts)
    h2 = opts.explicit_http_config.http2_protocol_options
    assert (h2.max_concurrent_streams.value, h2.initial_stream_window_size.value,
            h2.initial_connection_window_size.value) == (1234, 268435457, 65535)
    assert h2.override_stream_error_on_invalid_http_message.value is True
    assert c.HasField("http2_protocol_options")  # clusters.go:getHttp2options still sets it


def test_use_downstream_protocol_carries_http1_options():
    """protocoloptions/plugin_test.go "should unpack Http1ProtocolOptions to envoy object"."""
    up = upstream(useHttp2=True, protocolSelection="USE_DOWNSTREAM_PROTOCOL",
                  connectionConfig={"http1ProtocolOptions": {"enableTrailers": True}})
    c = build_cluster(up, "current")
    opts = http_protocol_options_pb2.HttpProtocolOptions()
    c.typed_extension_protocol_options[HTTP_PROTOCOL_OPTIONS_KEY].Unpack(opts)
    assert opts.use_downstream_protocol_config.http_protocol_options.enable_trailers is True
    assert c.protocol_selection == c.USE_DOWNSTREAM_PROTOCOL


def test_http1_and_http2_with_configured_protocol_is_an_error():
    """protocoloptions/plugin_test.go "Should only deny configuration if (1) useHttp2 is true AND ..."."""
    bad = upstream(useHttp2=True, connectionConfig={"http1ProtocolOptions": {}})
    rep, _ = upstream_report(bad, "current")
    assert rep.warnings == [f"1 error occurred:\n\t* {HTTP1_AND_HTTP2}\n\n"]
    ok, _ = upstream_report(upstream(useHttp2=False, connectionConfig={"http1ProtocolOptions": {}}), "current")
    assert ok.state == "Accepted"


@pytest.mark.parametrize(("field", "value", "text"), [
    ("initialConnectionWindowSize", 65534, "Invalid Initial Connection Window Size: 65534"),
    ("initialStreamWindowSize", 2147483648, "Invalid Initial Stream Window Size: 2147483648"),
    ("maxConcurrentStreams", 0, "Invalid Max Concurrent Streams Size: 0"),
])
def test_window_sizes_are_checked_only_with_http2(field, value, text):
    """protocoloptions/plugin_test.go "should not accept connection streams that are too small/large"
    and "should not use window sizes if UseHttp2 is not true"."""
    rep, _ = upstream_report(upstream(useHttp2=True, **{field: value}), "current")
    assert rep.warnings == [f"1 error occurred:\n\t* {text}\n\n"]
    rep, _ = upstream_report(upstream(**{field: value}), "current")
    assert rep.state == "Accepted"


def test_ignore_health_on_host_removal_is_current_only():
    assert cluster_json(upstream(ignoreHealthOnHostRemoval=True))["ignoreHealthOnHostRemoval"] is True
    rep, t = upstream_report(upstream(ignoreHealthOnHostRemoval=True), "1.3")
    assert "ignoreHealthOnHostRemoval" not in cluster_json(upstream(ignoreHealthOnHostRemoval=True), "1.3")
    assert any(f.field == "spec.ignoreHealthOnHostRemoval" for f in t.findings)


def test_failover_is_reported_as_not_modelled():
    _, t = upstream_report(upstream(failover={"prioritizedLocalities": []}), "current")
    (u,) = [u for u in t.unmodelled if u.path == "spec.failover"]
    assert u.feature == "failover" and not any(f.field == "spec.failover" for f in t.findings)


def _svc(port_name="http", annotations=None, app_protocol=None) -> tuple[Service, ServicePort]:
    port = ServicePort(port=80, name=port_name, app_protocol=app_protocol)
    return Service(meta=ObjectMeta("s", "default", annotations=annotations or {}), ports=(port,)), port


@pytest.mark.parametrize(("name", "annotations", "app", "cur", "v13"), [
    ("http", None, None, None, False),
    ("grpc-api", None, None, True, True),
    ("h2c", None, None, True, True),
    ("http2", None, None, True, True),
    ("web", None, "kubernetes.io/h2c", True, False),
    ("web", None, "grpc-web", True, False),
    ("grpc", {"gloo.solo.io/h2_service": "false"}, None, False, False),
    ("web", {"gloo.solo.io/h2_service": "true"}, None, True, True),
])
def test_service_http2_rules(name, annotations, app, cur, v13):
    """serviceconverter/use_http2_annotation_converter.go (main and v1.3.20)."""
    svc, port = _svc(name, annotations, app)
    assert service_wants_http2(svc, port, "current") is cur
    assert service_wants_http2(svc, port, "1.3") is v13


def test_kube_destination_to_a_grpc_port_gets_http2():
    grpc = parse_object({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "g", "namespace": GS},
                         "spec": {"ports": [{"name": "grpc", "port": 9000}]}}).resource
    t = translate([vs("app", route(m("/"), action=to("echo"))), grpc], "current")
    (c,) = [c for c in t.envoy.clusters if c.name == "kube-svc:gloo-system-g-9000_gloo-system"]
    assert c.HasField("http2_protocol_options") and HTTP_PROTOCOL_OPTIONS_KEY in c.typed_extension_protocol_options
    assert service  # the builders' Service helper stays the way to write plain Services


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_static_host_without_port(profile):
    """plugins/static/plugin.go: "port cannot be empty for host"; validateCluster then finds no endpoints.
    Current's UpstreamRemovingSanitizer makes it a Warning (the cluster is dropped); 1.3 Rejects."""
    doc = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "u", "namespace": GS},
           "spec": {"static": {"hosts": [{"addr": "example.com"}]}}}
    rep, t = upstream_report(parse_object(doc).resource, profile)
    errors = ["port cannot be empty for host",
              "cluster was configured improperly by one or more plugins: cluster type STATIC specified but "
              "LoadAssignment was empty"]
    if profile == "1.3":
        assert rep.state == "Rejected" and rep.errors == errors
    else:
        assert rep.state == "Warning" and rep.errors == []
        assert rep.warnings == ["2 errors occurred:\n\t* " + "\n\t* ".join(errors) + "\n\n"]
        assert {f.severity for f in t.findings if f.resource == rep.key} == {"warning"}


def test_a_bad_second_host_stops_the_plugin_but_keeps_the_load_assignment():
    """plugins/static/plugin.go returns at the first bad host; the first host already started the
    load assignment, so validateCluster has nothing to say."""
    doc = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "u", "namespace": GS},
           "spec": {"static": {"hosts": [{"addr": "1.2.3.4", "port": 80}, {"addr": "", "port": 0}]}}}
    rep, _ = upstream_report(parse_object(doc).resource, "1.3")
    assert rep.errors == ["addr cannot be empty for host"]


def test_bad_values_are_findings_naming_the_field():
    _, t = upstream_report(upstream(healthChecks=[{**HC, "timeout": "1m"}]), "current")
    (f,) = [f for f in t.findings if f.field == "spec.healthChecks[0].timeout"]
    assert "expected a duration" in f.message


def test_text_tables_show_cluster_settings_for_tuned_upstreams_only():
    from gloo_nb.translate.render import render
    from gloo_nb.translate.tables import render_text

    tuned = upstream(healthChecks=[HC], outlierDetection={"interval": "10s", "consecutive5xx": 3},
                     circuitBreakers={"maxConnections": 10})
    text = render_text(render(translate([tuned], "current")))
    assert "Cluster settings" in text
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("u_gloo-system"))
    assert "health http /healthz every 2s" in line and "outlier detection every 10s, 3 x 5xx" in line
    assert "circuit breakers Connections 10" in line
    assert "Cluster settings" not in render_text(render(translate([upstream()], "current")))


def _static(addr: str, **spec: Any):
    doc = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "u", "namespace": GS},
           "spec": {"static": {"hosts": [{"addr": addr, "port": 8080}]}, **spec}}
    return parse_object(doc).resource


def test_dns_refresh_rate_below_a_millisecond_is_a_warning_and_the_cluster_stays():
    """translator_test.go DescribeTable "Sets DnsRefreshRate on Cluster", entry "Static, DsnRefreshRate=0":
    a translator.Warning, so the Upstream is Warning (not Rejected) and its cluster is served without the rate."""
    rep, t = upstream_report(_static("example.com", dnsRefreshRate="0s"), "current")
    assert rep.state == "Warning" and rep.errors == []
    assert rep.warnings == ["dnsRefreshRate was set below minimum requirement (nanos:1000000), ignoring configuration"]
    (c,) = [c for c in t.envoy.clusters if c.name == "u_gloo-system"]
    assert not c.HasField("dns_refresh_rate")


def test_dns_refresh_rate_on_a_dns_cluster_and_on_an_eds_one():
    """translator_test.go entries "Static, DsnRefreshRate valid" and "Eds, DsnRefreshRate valid"."""
    rep, t = upstream_report(_static("example.com", dnsRefreshRate="1s"), "current")
    assert rep.state == "Accepted"
    (c,) = [c for c in t.envoy.clusters if c.name == "u_gloo-system"]
    assert c.dns_refresh_rate.seconds == 1
    meta = {"name": "u", "namespace": GS}
    kube = parse_object({"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": meta,
                         "spec": {"kube": {"serviceName": "s", "serviceNamespace": GS, "servicePort": 80},
                                  "dnsRefreshRate": "1s"}}).resource
    rep, _ = upstream_report(kube, "current")
    assert rep.warnings == ["1 error occurred:\n\t* cluster was configured improperly by one or more plugins: "
                            "DnsRefreshRate is only valid with STRICT_DNS or LOGICAL_DNS cluster type, found EDS\n\n"]


@pytest.mark.parametrize(("policy", "text"), [
    ({"perUpstreamPreconnectRatio": 0.5}, "invalid preconnect policy: perupstream must be between 1 and 3 if set, "
                                          "it was: 0.5"),
    ({"perUpstreamPreconnectRatio": 1, "predictivePreconnectRatio": 1000},
     "invalid preconnect policy: predictive must be between 1 and 3 if set, it was: 1"),
])
def test_invalid_preconnect_policy(policy, text):
    """translator_test.go "When invalid perupstream" / "When valid perupstream but invalid predictive"
    (the second message prints the per-upstream ratio, as clusters.go:getPreconnectPolicy does)."""
    rep, _ = upstream_report(upstream(preconnectPolicy=policy), "current")
    assert rep.warnings == [f"1 error occurred:\n\t* {text}\n\n"]


def test_valid_preconnect_policy_and_respect_dns_ttl():
    """translator_test.go "When valid"."""
    c = cluster_json(upstream(preconnectPolicy={"perUpstreamPreconnectRatio": 1, "predictivePreconnectRatio": 2},
                              respectDnsTtl=True))
    assert c["preconnectPolicy"] == {"perUpstreamPreconnectRatio": 1.0, "predictivePreconnectRatio": 2.0}
    assert c["respectDnsTtl"] is True
    assert "preconnectPolicy" not in cluster_json(upstream(preconnectPolicy={"perUpstreamPreconnectRatio": 1}), "1.3")


def test_static_endpoints_carry_hostname_and_health_check_host_in_current():
    """plugins/static/plugin.go (main): endpoint hostname, and health_check_config.hostname from the
    first health check's HTTP host; v1.3.20 set neither."""
    up = _static("example.com", healthChecks=[{**HC, "httpHealthCheck": {"path": "/", "host": "hc.example"}}])
    (ep,) = cluster_json(up)["loadAssignment"]["endpoints"][0]["lbEndpoints"]
    assert ep["endpoint"]["hostname"] == "example.com"
    assert ep["endpoint"]["healthCheckConfig"] == {"hostname": "hc.example"}
    (ep13,) = cluster_json(up, "1.3")["loadAssignment"]["endpoints"][0]["lbEndpoints"]
    assert "hostname" not in ep13["endpoint"]


def test_unmodelled_upstream_fields_are_findings():
    doc = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "u", "namespace": GS},
           "spec": {"static": {"hosts": [{"addr": "1.2.3.4", "port": 80, "metadata": {"f": {"k": "v"}}}]},
                    "proxyProtocolVersion": "V1", "httpProxyHostname": "proxy:8080"}}
    _, t = upstream_report(parse_object(doc).resource, "current")
    assert {u.path for u in t.unmodelled} >= {"spec.proxyProtocolVersion", "spec.httpProxyHostname",
                                              "spec.static.hosts[0].metadata"}
    aws = parse_object({"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "u", "namespace": GS},
                        "spec": {"aws": {"region": "us-east-1"}}}).resource
    _, t = upstream_report(aws, "current")
    assert any(u.path == "spec.aws" and u.feature == "aws upstreams" for u in t.unmodelled)


def _settings(**gloo_spec: Any):
    return parse_object({"apiVersion": "gloo.solo.io/v1", "kind": "Settings",
                         "metadata": {"name": "default", "namespace": GS}, "spec": gloo_spec}).resource


def test_settings_circuit_breakers_are_the_default():
    """clusters.go:getCircuitBreakers(upstream.circuitBreakers, settings.gloo.circuitBreakers): the first set one."""
    st = _settings(gloo={"circuitBreakers": {"maxConnections": 99}})
    t = translate([upstream(), st], "1.3")
    (c,) = [c for c in t.envoy.clusters if c.name == "u_gloo-system"]
    assert c.circuit_breakers.thresholds[0].max_connections.value == 99
    t = translate([upstream(circuitBreakers={"maxRetries": 1}), st], "current")
    (c,) = [c for c in t.envoy.clusters if c.name == "u_gloo-system"]
    th = c.circuit_breakers.thresholds[0]
    assert th.max_retries.value == 1 and not th.HasField("max_connections")


def test_global_h2_annotation_in_current_only():
    """use_http2_annotation_converter.go (main): Settings upstreamOptions.globalAnnotations after the Service's own."""
    st = _settings(upstreamOptions={"globalAnnotations": {"gloo.solo.io/h2_service": "true"}})
    svc = parse_object({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "w", "namespace": GS},
                        "spec": {"ports": [{"name": "http", "port": 80}]}}).resource
    for profile, want in (("current", True), ("1.3", False)):
        t = translate([svc, st], profile)
        (c,) = [c for c in t.envoy.clusters if c.name == "kube-svc:gloo-system-w-80_gloo-system"]
        assert c.HasField("http2_protocol_options") is want


def test_cluster_rows_show_health_outlier_lb_and_http2():
    from gloo_nb.xds.decode import cluster_rows

    tuned = upstream(healthChecks=[HC], outlierDetection={"interval": "10s"}, useHttp2=True,
                     loadBalancerConfig={"random": {}})
    for profile in ("1.3", "current"):
        (row,) = cluster_rows([build_cluster(tuned, profile)], "intent")
        assert (row.lb_policy, row.health_checks, row.outlier_detection, row.http2) == (
            "RANDOM", ("http /healthz",), True, True)
    (plain,) = cluster_rows([build_cluster(upstream())], "intent")
    assert (plain.lb_policy, plain.health_checks, plain.outlier_detection, plain.http2) == (
        "ROUND_ROBIN", (), False, False)


def _annotated_service(annotations: dict[str, str]):
    return parse_object({"apiVersion": "v1", "kind": "Service",
                         "metadata": {"name": "w", "namespace": GS, "annotations": annotations},
                         "spec": {"ports": [{"name": "http", "port": 80}]}}).resource


def _kube_svc_cluster(t):
    (c,) = [c for c in t.envoy.clusters if c.name == "kube-svc:gloo-system-w-80_gloo-system"]
    return c


def test_upstream_config_annotation_sets_options_in_current_only():
    """general_annotation_converter.go: the annotation's set fields replace the in-memory upstream's."""
    svc = _annotated_service({"gloo.solo.io/upstream_config": json.dumps(
        {"healthChecks": [HC], "circuitBreakers": {"maxConnections": 3}, "useHttp2": True})})
    c = _kube_svc_cluster(translate([svc], "current"))
    assert len(c.health_checks) == 1 and c.circuit_breakers.thresholds[0].max_connections.value == 3
    assert c.HasField("http2_protocol_options")
    c13 = _kube_svc_cluster(translate([svc], "1.3"))
    assert not c13.health_checks and not c13.HasField("circuit_breakers")


def test_upstream_config_annotation_service_overrides_global_and_deep_merge():
    """general_annotation_converter.go: global annotations first, then the Service's; deep_merge keeps
    the fields the Service's JSON does not set."""
    st = _settings(upstreamOptions={"globalAnnotations": {"gloo.solo.io/upstream_config": json.dumps(
        {"circuitBreakers": {"maxConnections": 1, "maxRetries": 9}})}})
    five = json.dumps({"circuitBreakers": {"maxConnections": 5}})
    shallow = _annotated_service({"gloo.solo.io/upstream_config": five})
    th = _kube_svc_cluster(translate([shallow, st], "current")).circuit_breakers.thresholds[0]
    assert (th.max_connections.value, th.HasField("max_retries")) == (5, False)
    deep = _annotated_service({"gloo.solo.io/upstream_config": five, "gloo.solo.io/upstream_config.deep_merge": "true"})
    th = _kube_svc_cluster(translate([deep, st], "current")).circuit_breakers.thresholds[0]
    assert (th.max_connections.value, th.max_retries.value) == (5, 9)


@pytest.mark.parametrize("text", ["{not json", json.dumps({"healthChex": []})])
def test_unreadable_upstream_config_annotation_is_ignored_with_a_finding(text):
    svc = _annotated_service({"gloo.solo.io/upstream_config": text})
    t = translate([svc], "current")
    assert not _kube_svc_cluster(t).health_checks
    (f,) = [f for f in t.findings if f.resource.kind == "Service"]
    assert f.severity == "warning" and "gloo.solo.io/upstream_config" in f.message and "ignore" in f.message


GARBAGE = ["x", 7, -1, 1.5, True, [], {}, [1, "a"], {"value": "z"}, None, 2**70]
BLOCKS = {
    "healthChecks": lambda g: [{**HC, "timeout": g, "healthyThreshold": g, "intervalJitterPercent": g,
                                "httpHealthCheck": {"path": g, "expectedStatuses": g, "requestHeadersToAdd": g,
                                                    "requestHeadersToRemove": g, "method": g, "host": g}},
                               {**HC, "httpHealthCheck": None, "tcpHealthCheck": {"send": g, "receive": g}},
                               {**HC, "httpHealthCheck": None, "grpcHealthCheck": g}],
    "outlierDetection": lambda g: {"interval": g, "consecutive5xx": g, "splitExternalLocalOriginErrors": g},
    "circuitBreakers": lambda g: {"maxConnections": g, "maxRetries": g},
    "loadBalancerConfig": lambda g: {"healthyPanicThreshold": g, "updateMergeWindow": g, "leastRequest": g,
                                     "useHostnameForHashing": g},
    "connectionConfig": lambda g: {"connectTimeout": g, "tcpKeepalive": g, "maxRequestsPerConnection": g,
                                   "commonHttpProtocolOptions": {"headersWithUnderscoresAction": g,
                                                                 "maxHeadersCount": g},
                                   "http1ProtocolOptions": g if isinstance(g, dict) else None},
    "preconnectPolicy": lambda g: {"perUpstreamPreconnectRatio": g},
    "dnsRefreshRate": lambda g: g,
}


@pytest.mark.parametrize("block", sorted(BLOCKS))
@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_garbage_values_never_crash_the_translation(block, profile):
    """Bad values become Gloo's errors or gloo_nb's findings naming the field, never an exception."""
    for g in GARBAGE:
        up = upstream()
        opts = {"healthChecks": "health_checks", "outlierDetection": "outlier_detection",
                "circuitBreakers": "circuit_breakers", "loadBalancerConfig": "load_balancer_config",
                "connectionConfig": "connection_config", "preconnectPolicy": "preconnect_policy",
                "dnsRefreshRate": "dns_refresh_rate"}
        value = BLOCKS[block](g)
        up = type(up)(meta=up.meta, static=up.static, upstream_type="static", use_http2=True,
                      options=type(up.options)(**{opts[block]: tuple(value) if block == "healthChecks" else value}))
        t = translate([up], profile)
        assert t.report("Upstream", GS, "u") is not None


def test_headers_with_underscores_action():
    """upstreamconn/plugin.go:convertHttpProtocolOptions: the three actions, and Gloo's error for an unknown number."""
    c = cluster_json(upstream(connectionConfig={"commonHttpProtocolOptions": {
        "headersWithUnderscoresAction": "REJECT_REQUEST", "idleTimeout": "30s"}}))
    assert c["commonHttpProtocolOptions"] == {"idleTimeout": "30s", "headersWithUnderscoresAction": "REJECT_REQUEST"}
    rep, _ = upstream_report(upstream(connectionConfig={"commonHttpProtocolOptions": {
        "headersWithUnderscoresAction": 7}}), "1.3")
    assert rep.state == "Accepted"  # v1.3.20 had no commonHttpProtocolOptions
    rep, _ = upstream_report(upstream(connectionConfig={"commonHttpProtocolOptions": {
        "headersWithUnderscoresAction": 7}}), "current")
    assert rep.warnings == ["1 error occurred:\n\t* invalid HeadersWithUnderscoresAction 7 in "
                            "CommonHttpProtocolOptions\n\n"]


def test_health_check_and_outlier_field_names_follow_gloos_v2_copies():
    """Gloo's Upstream takes api/external/envoy/api/v2/{core/health_check,cluster/outlier_detection}.proto:
    Envoy v3-only fields (altPort is commented out, failurePercentage*) are unknown to Gloo."""
    doc = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "u", "namespace": GS},
           "spec": {"static": {"hosts": [{"addr": "1.2.3.4", "port": 80}]},
                    "healthChecks": [{**HC, "altPort": 81, "httpHealthCheck": {"path": "/", "codecClientType": 1}}],
                    "outlierDetection": {"interval": "1s", "failurePercentageThreshold": 5}}}
    assert [f.field for f in parse_object(doc).findings] == [
        "spec.healthChecks[0].altPort", "spec.healthChecks[0].httpHealthCheck.codecClientType",
        "spec.outlierDetection.failurePercentageThreshold"]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_grpc_service_spec_makes_the_cluster_http2(profile):
    """plugins/grpc/plugin.go (v1.3.20 and main): "GRPC transcoding always requires http2"."""
    doc = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "u", "namespace": GS},
           "spec": {"kube": {"serviceName": "g", "serviceNamespace": GS, "servicePort": 9000,
                             "serviceSpec": {"grpc": {"grpcServices": [{"packageName": "p", "serviceName": "S"}]}}}}}
    up = parse_object(doc).resource
    c = build_cluster(up, profile)
    assert c.HasField("http2_protocol_options")
    _, t = upstream_report(up, profile)
    assert any(u.path == "spec.kube.serviceSpec.grpc" for u in t.unmodelled)
