"""``tcpGateway``: TCP proxy filter chains, Gloo's reports, both profiles (``plugins/tcp/plugin.go``)."""

from __future__ import annotations

import pytest
from gateway_fixtures import GS, direct_vs, gateway, static_upstream
from google.protobuf import json_format

from gloo_nb.translate import translate
from gloo_nb.translate.status import proxy_manifest

pytestmark = pytest.mark.unit


def _single(name, ns=GS):
    return {"single": {"upstream": {"name": name, "namespace": ns}}}


def _tcp(hosts, options=None, listener_options=None):
    spec = {"bindPort": 8000, "tcpGateway": {"tcpHosts": hosts, **({"options": options} if options else {})}}
    if listener_options:
        spec["options"] = listener_options
    return gateway(spec, name="tcp")


def _listeners(t):
    return [json_format.MessageToDict(ls) for ls in t.envoy.listeners]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_single_destination_is_a_tcp_proxy_chain(profile):
    """tcp/plugin.go tcpProxyFilters: stat prefix ``tcp``, cluster ``<name>_<ns>``, tcpProxySettings copied; the
    listener exists without any VirtualService (only the HTTP translator needs one)."""
    gw = _tcp([{"name": "one", "destination": _single("echo")}],
              options={"tcpProxySettings": {"maxConnectAttempts": 3, "idleTimeout": "10s"}})
    t = translate([gw, static_upstream("echo", 9000)], profile)
    (listener,) = _listeners(t)
    assert listener["name"] == "listener-::-8000"
    (chain,) = listener["filterChains"]
    (flt,) = chain["filters"]
    assert flt["name"] == "envoy.filters.network.tcp_proxy"
    cfg = flt["typedConfig"]
    assert (cfg["statPrefix"], cfg["cluster"], cfg["maxConnectAttempts"], cfg["idleTimeout"]) == (
        "tcp", "echo_gloo-system", 3, "10s")
    assert "listenerFilters" not in listener
    assert t.route_sources() == {} and t.envoy.route_configurations == []


def test_weighted_passthrough_and_sni_forwarding():
    gw = _tcp([
        {"name": "w", "sslConfig": {"sniDomains": ["a.example.com"]}, "destination": {"multi": {"destinations": [
            {"destination": {"upstream": {"name": "echo", "namespace": GS}}, "weight": 1},
            {"destination": {"upstream": {"name": "echo2", "namespace": GS}}, "weight": 3}]}}},
        {"name": "sni", "destination": {"forwardSniClusterName": {}}}])
    t = translate([gw, static_upstream("echo", 9000), static_upstream("echo2", 9001)], "current")
    (listener,) = _listeners(t)
    weighted, sni = listener["filterChains"]
    assert weighted["filterChainMatch"] == {"serverNames": ["a.example.com"]}
    assert weighted["filters"][0]["typedConfig"]["weightedClusters"] == {"clusters": [
        {"name": "echo_gloo-system", "weight": 1}, {"name": "echo2_gloo-system", "weight": 3}]}
    # An empty cluster, overwritten by the SNI cluster filter placed first.
    assert [f["name"] for f in sni["filters"]] == ["envoy.filters.network.sni_cluster",
                                                   "envoy.filters.network.tcp_proxy"]
    assert sni["filters"][1]["typedConfig"].get("cluster", "") == ""
    # tls_inspector/plugin.go includeTlsInspectorForTcpListener: an sslConfig or SNI forwarding.
    assert [f["name"] for f in listener["listenerFilters"]] == ["envoy.filters.listener.tls_inspector"]


def test_missing_upstream_drops_every_chain_and_warns_on_the_gateway():
    """filter_chain.go ComputeFilterChains: CreateTcpFilterChains' error makes it skip all of the plugin's chains;
    reportCreateTcpFilterChainsError files a warning ConfigurationError as a TcpHost warning
    ``listener <name>: TcpHost error: <err>``. The listener has no chain and is not emitted."""
    gw = _tcp([{"name": "ok", "destination": _single("echo")}, {"name": "bad", "destination": _single("missing")}])
    t = translate([gw, static_upstream("echo", 9000), direct_vs()], "current")
    assert t.envoy.listeners == []
    report = t.report("Gateway", GS, "tcp")
    assert report.errors == []
    assert report.warnings == ["TcpHost Warning: UnknownWarning. Reason: listener listener-::-8000: TcpHost error: "
                               "*v1.Upstream { gloo-system.missing } not found"]
    assert t.push.decision == "push"


def test_13_skips_only_the_failing_host_and_reports_nothing():
    """plugins/tcp/plugin.go@v1.3.20: a failing host is logged and skipped; no report on any resource."""
    gw = _tcp([{"name": "ok", "destination": _single("echo")}, {"name": "bad", "destination": _single("missing")}])
    t = translate([gw, static_upstream("echo", 9000)], "1.3")
    (listener,) = _listeners(t)
    assert len(listener["filterChains"]) == 1
    report = t.report("Gateway", GS, "tcp")
    assert report.errors == [] and report.warnings == []
    (note,) = [f for f in t.findings if f.field == "spec.tcpGateway.tcpHosts[1]"]
    assert "*v1.Upstream {missing gloo-system} not found" in note.message and note.layer == "parse"
    assert t.push.decision == "push"


def test_host_without_destination_is_a_tcp_listener_error():
    gw = _tcp([{"name": "nothing"}])
    t = translate([gw, static_upstream("echo", 9000)], "current")
    assert t.report("Gateway", GS, "tcp").errors == [
        'TcpListener Error: ProcessingError. Reason: listener listener-::-8000: no destination type was specified '
        'for tcp host name:"nothing"']
    assert t.envoy.listeners == []


def test_access_logs_and_listener_options_apply_to_tcp():
    als = {"accessLog": [{"fileSink": {"path": "/dev/stdout", "stringFormat": "%UPSTREAM_HOST%\n"}}]}
    gw = _tcp([{"name": "one", "destination": _single("echo")}],
              listener_options={"accessLoggingService": als, "perConnectionBufferLimitBytes": 1024})
    t = translate([gw, static_upstream("echo", 9000)], "current")
    (listener,) = _listeners(t)
    assert listener["perConnectionBufferLimitBytes"] == 1024
    (log,) = listener["filterChains"][0]["filters"][0]["typedConfig"]["accessLog"]
    assert log["typedConfig"]["logFormat"]["textFormatSource"] == {"inlineString": "%UPSTREAM_HOST%\n"}


def test_tls_termination_on_tcp_hosts_is_declared_not_modelled():
    gw = _tcp([{"name": "tls", "destination": _single("echo"),
                "sslConfig": {"secretRef": {"name": "s", "namespace": GS}}}])
    t = translate([gw, static_upstream("echo", 9000)], "current")
    assert t.envoy.listeners == []
    assert any(u.path == "spec.tcpGateway.tcpHosts[0].sslConfig" for u in t.unmodelled)


def test_proxy_manifest_has_a_tcp_listener():
    gw = _tcp([{"name": "one", "destination": _single("echo")}])
    t = translate([gw, static_upstream("echo", 9000)], "current")
    (listener,) = proxy_manifest(t)["spec"]["listeners"]
    assert "httpListener" not in listener
    assert listener["tcpListener"]["tcpHosts"] == [{"name": "one", "destination": _single("echo")}]


def test_codec_checks_tcp_and_hybrid_gateways():
    """The one codec checks these blocks field by field: unknown fields are findings, snake_case keys are read
    as lowerCamel, and two members of a oneof make the document unreadable (one line naming the field)."""
    from gloo_nb.errors import BadDataError
    from gloo_nb.models.codec import parse_object

    base = {"apiVersion": "gateway.solo.io/v1", "kind": "Gateway", "metadata": {"name": "g", "namespace": GS}}
    parsed = parse_object({**base, "spec": {"tcpGateway": {"tcp_hosts": [
        {"name": "a", "destinaton": {}, "destination": {"single": {"upstream": {"name": "x", "namespace": GS}}}}]}}})
    assert parsed.resource.tcp_gateway["tcpHosts"][0]["destination"]["single"]["upstream"]["name"] == "x"
    (f,) = parsed.findings
    assert f.field == "spec.tcpGateway.tcpHosts[0].destinaton" and "did you mean destination?" in f.message
    with pytest.raises(BadDataError, match=r"spec.tcpGateway.tcpHosts\[0\].destination.*only one of"):
        parse_object({**base, "spec": {"tcpGateway": {"tcpHosts": [{"destination": {
            "single": {"upstream": {"name": "x"}}, "forwardSniClusterName": {}}}]}}})
    hybrid = parse_object({**base, "spec": {"hybridGateway": {"matchedGateways": [
        {"matcher": {"sourcePrefixRanges": [{"addressPrefix": "10.0.0.0", "prefix_len": 8, "mask": 1}]},
         "tcpGateway": {"tcpHosts": []}}],
        "delegatedHttpGateways": {"selector": {"labels": {"a": "b"}}, "preventChildOverride": True}}}})
    assert hybrid.resource.hybrid_gateway["matchedGateways"][0]["matcher"]["sourcePrefixRanges"][0]["prefixLen"] == 8
    assert {f.field for f in hybrid.findings} == {
        "spec.hybridGateway.matchedGateways[0].matcher.sourcePrefixRanges[0].mask",
        "spec.hybridGateway.delegatedHttpGateways.preventChildOverride"}


def _group(name, *dests):
    return {"apiVersion": "gloo.solo.io/v1", "kind": "UpstreamGroup", "metadata": {"name": name, "namespace": GS},
            "spec": {"destinations": [{"destination": {"upstream": {"name": up, "namespace": GS}}, "weight": w}
                                      for up, w in dests]}}


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_upstream_group_destination_is_weighted_clusters(profile):
    """plugins/tcp/plugin.go (v1.3.20 and main), TcpHost_TcpAction_UpstreamGroup: the group's destinations as the
    TCP proxy's weighted clusters (convertToWeightedCluster); no false "not found"."""
    from gloo_nb.models.codec import parse_object
    group = parse_object(_group("g", ("echo", 1), ("echo2", 3))).resource
    gw = _tcp([{"name": "g", "destination": {"upstreamGroup": {"name": "g", "namespace": GS}}}])
    t = translate([gw, group, static_upstream("echo", 9000), static_upstream("echo2", 9001)], profile)
    (listener,) = _listeners(t)
    (chain,) = listener["filterChains"]
    assert chain["filters"][0]["typedConfig"]["weightedClusters"] == {"clusters": [
        {"name": "echo_gloo-system", "weight": 1}, {"name": "echo2_gloo-system", "weight": 3}]}
    gw_report = next(r for r in t.reports if r.key.kind == "Gateway" and r.key.name == "tcp")
    assert (gw_report.errors, gw_report.warnings) == ([], [])


def test_missing_upstream_group_is_a_tcp_host_warning():
    gw = _tcp([{"name": "g", "destination": {"upstreamGroup": {"name": "nope", "namespace": GS}}}])
    t = translate([gw, static_upstream("echo", 9000)], "current")
    gw_report = next(r for r in t.reports if r.key.kind == "Gateway" and r.key.name == "tcp")
    assert any("*v1.UpstreamGroup { gloo-system.nope } not found" in w for w in gw_report.warnings)
