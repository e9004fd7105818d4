"""``hybridGateway``: matched gateways and delegated Matchable*Gateways (``hybrid_translator.go``), current only."""

from __future__ import annotations

import pytest
from gateway_fixtures import GS, direct_vs, gateway, obj, static_upstream
from google.protobuf import json_format

from gloo_nb.models import Snapshot
from gloo_nb.models.resources import MatchableHttpGateway, MatchableTcpGateway, ObjectMeta, VirtualService
from gloo_nb.translate import translate
from gloo_nb.translate.envoy import http_connection_managers
from gloo_nb.translate.gateway import EMPTY_HYBRID_GATEWAY, merge_hcm_settings
from gloo_nb.translate.status import proxy_manifest

pytestmark = pytest.mark.unit

TCP_ECHO = {"tcpHosts": [{"name": "t", "destination": {"single": {"upstream": {"name": "echo", "namespace": GS}}}}]}


def _labelled_vs(name, labels, domain):
    base = direct_vs(name, (domain,))
    return VirtualService(meta=ObjectMeta(name, GS, labels=labels), virtual_host=base.virtual_host)


def _hybrid(spec, name="hybrid"):
    return gateway({"bindPort": 8087, "hybridGateway": spec}, name=name)


def _ranges(prefix, length):
    return {"sourcePrefixRanges": [{"addressPrefix": prefix, "prefixLen": length}]}


def _chains(t):
    (listener,) = t.envoy.listeners
    return json_format.MessageToDict(listener)["filterChains"]


def _report(t, name="hybrid"):
    return t.report("Gateway", GS, name)


def test_no_sub_gateways_no_listener():
    """hybrid_translator_test.go "no sub-gateways": "does not generate a listener" (and no report)."""
    t = translate([_hybrid({}), direct_vs()], "current")
    assert t.envoy.listeners == [] and t.proxy.listeners == ()
    assert _report(t).errors == [] and _report(t).warnings == []


def test_matched_http_and_tcp_gateways():
    """hybrid_translator_test.go MatchedGateway "http non-ssl works" and "tcp works": one filter chain per matched
    gateway, with the matcher's source prefix ranges; each HTTP one has its own RouteConfiguration
    (``<listener>-routes-<matcher hash>``) holding the VSs its httpGateway selects."""
    gw = _hybrid({"matchedGateways": [
        {"matcher": _ranges("10.0.0.0", 8), "httpGateway": {"virtualServiceSelector": {"team": "a"}}},
        {"matcher": _ranges("127.0.0.1", 32), "tcpGateway": TCP_ECHO},
        {"httpGateway": {"virtualServiceSelector": {"team": "b"}}}]})
    t = translate([gw, _labelled_vs("a", {"team": "a"}, "a.com"), _labelled_vs("b", {"team": "b"}, "b.com"),
                   static_upstream("echo", 9000)], "current")
    http_a, tcp, http_b = _chains(t)
    assert http_a["filterChainMatch"] == {"sourcePrefixRanges": [{"addressPrefix": "10.0.0.0", "prefixLen": 8}]}
    assert tcp["filterChainMatch"] == {"sourcePrefixRanges": [{"addressPrefix": "127.0.0.1", "prefixLen": 32}]}
    assert tcp["filters"][0]["typedConfig"]["cluster"] == "echo_gloo-system"
    assert "filterChainMatch" not in http_b
    rds = [c["filters"][0]["typedConfig"]["rds"]["routeConfigName"] for c in (http_a, http_b)]
    assert all(name.startswith("listener-::-8087-routes-") for name in rds) and rds[0] != rds[1]
    vhosts = {rc.name: [vh.name for vh in rc.virtual_hosts] for rc in t.envoy.route_configurations}
    assert vhosts == {rds[0]: ["gloo-system_a"], rds[1]: ["gloo-system_b"]}
    # The Proxy keeps the matched listeners; route sources reach the VS.
    (listener,) = proxy_manifest(t)["spec"]["listeners"]
    assert [sorted(m) for m in listener["hybridListener"]["matchedListeners"]] == [
        ["httpListener", "matcher"], ["matcher", "tcpListener"], ["httpListener"]]
    assert {s[-1].name for s in t.route_sources().values()} == {"a", "b"}


def test_matched_http_without_virtual_services_is_an_error():
    """hybrid_translator_test.go MatchedGateway "No virtual Services": no listener, and reports fail
    ValidateStrict (inline matched gateways that produce nothing: EmptyHybridGatewayMessage as an error)."""
    gw = _hybrid({"matchedGateways": [{"matcher": _ranges("10.0.0.0", 8), "httpGateway": {}}]})
    t = translate([gw, static_upstream("echo", 9000)], "current")
    assert t.envoy.listeners == []
    assert _report(t).errors == [EMPTY_HYBRID_GATEWAY]


def test_conflicting_sni_domains_on_a_matched_tcp_gateway():
    """hybrid_translator.go validateTcpHosts: host SNI domains outside the matcher's are an error."""
    tcp = {"tcpHosts": [{"name": "t", "sslConfig": {"sniDomains": ["other.com"]},
                         "destination": {"single": {"upstream": {"name": "echo", "namespace": GS}}}}]}
    gw = _hybrid({"matchedGateways": [{"matcher": {"sslConfig": {"sniDomains": ["a.com"]}}, "tcpGateway": tcp}]})
    t = translate([gw, static_upstream("echo", 9000)], "current")
    assert _report(t).errors == ["gateway has conflicting sni domains [t:other.com]"]


def test_tcp_matcher_sni_fills_server_names():
    """filter_chain.go: a matcher's sslConfig sniDomains become the server names of chains that have none."""
    gw = _hybrid({"matchedGateways": [{"matcher": {"sslConfig": {"sniDomains": ["a.com"]}}, "tcpGateway": TCP_ECHO}]})
    t = translate([gw, static_upstream("echo", 9000)], "current")
    (chain,) = _chains(t)
    assert chain["filterChainMatch"] == {"serverNames": ["a.com"]}
    (listener,) = t.envoy.listeners
    assert [f.name for f in listener.listener_filters] == ["envoy.filters.listener.tls_inspector"]


def test_hybrid_gateway_does_not_exist_in_13():
    gw = _hybrid({"matchedGateways": [{"httpGateway": {}}]})
    t = translate([gw, direct_vs()], "1.3")
    assert t.envoy.listeners == []
    assert any(f.field == "spec.hybridGateway" and "does not exist in Gloo 1.3" in f.message for f in t.findings)


# --- delegated gateways --------------------------------------------------------------------------


def _mhg(name, spec, labels=None, ns=GS):
    res = obj("MatchableHttpGateway", name, spec, ns=ns)
    return MatchableHttpGateway(meta=ObjectMeta(name, ns, labels=labels or {}), matcher=res.matcher,
                                http_gateway=res.http_gateway)


def _mtg(name, spec, labels=None):
    res = obj("MatchableTcpGateway", name, spec)
    return MatchableTcpGateway(meta=ObjectMeta(name, GS, labels=labels or {}), matcher=res.matcher,
                               tcp_gateway=res.tcp_gateway)


def test_codec_reads_matchable_gateways():
    res = obj("MatchableHttpGateway", "m", {"matcher": _ranges("10.0.0.0", 8),
                                            "httpGateway": {"virtualServiceSelector": {"a": "b"}}})
    assert isinstance(res, MatchableHttpGateway) and res.http_gateway.virtual_service_selector == {"a": "b"}
    tcp = obj("MatchableTcpGateway", "t", {"tcpGateway": TCP_ECHO})
    assert isinstance(tcp, MatchableTcpGateway) and tcp.tcp_gateway == TCP_ECHO
    snap = Snapshot.from_resources([res, tcp])
    assert snap.matchable_http_gateways == (res,) and snap.matchable_tcp_gateways == (tcp,)


def test_delegated_by_selector_http_then_tcp():
    """computeHybridListenerFromDelegatedGateways: selected MatchableHttpGateways (labels, namespaces), then
    MatchableTcpGateways, each in snapshot order; a matchable gateway's ssl-ness must equal the selector's."""
    gw = _hybrid({"delegatedHttpGateways": {"selector": {"labels": {"tier": "edge"}}},
                  "delegatedTcpGateways": {"ref": {"name": "tcp", "namespace": GS}}})
    resources = [gw, direct_vs(), static_upstream("echo", 9000),
                 _mhg("edge", {"matcher": _ranges("10.0.0.0", 8), "httpGateway": {}}, labels={"tier": "edge"}),
                 _mhg("other", {"httpGateway": {}}, labels={"tier": "internal"}),
                 _mhg("tls", {"matcher": {"sslConfig": {"sniDomains": ["x"]}}, "httpGateway": {}},
                      labels={"tier": "edge"}),
                 _mtg("tcp", {"tcpGateway": TCP_ECHO})]
    t = translate(resources, "current")
    http, tcp = _chains(t)
    assert http["filterChainMatch"]["sourcePrefixRanges"] == [{"addressPrefix": "10.0.0.0", "prefixLen": 8}]
    assert tcp["filters"][0]["name"] == "envoy.filters.network.tcp_proxy"
    (listener,) = t.proxy.listeners
    assert [m.source.name for m in listener.matched] == ["edge", "tcp"]


def test_delegated_nothing_selected_is_a_warning():
    """hybrid_translator.go: delegated gateways that select nothing: EmptyHybridGatewayMessage as a warning."""
    gw = _hybrid({"delegatedHttpGateways": {"ref": {"name": "missing", "namespace": GS}}})
    t = translate([gw, direct_vs()], "current")
    assert t.envoy.listeners == []
    assert _report(t).warnings == [EMPTY_HYBRID_GATEWAY] and _report(t).errors == []


def test_delegated_invalid_selector_expression():
    """gateway_selector.go matchExpressions: ``<k8s error>: the selector expression is invalid`` on the Gateway."""
    gw = _hybrid({"delegatedHttpGateways": {"selector": {"expressions": [
        {"key": "tier", "operator": "In", "values": []}]}}})
    t = translate([gw, direct_vs(), _mhg("edge", {"httpGateway": {}})], "current")
    assert _report(t).errors == [
        "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty: "
        "the selector expression is invalid"]
    assert _report(t).warnings == [EMPTY_HYBRID_GATEWAY]


def test_parent_hcm_settings_reach_the_child():
    gw = _hybrid({"delegatedHttpGateways": {"selector": {}, "httpConnectionManagerSettings": {
        "serverName": "parent", "via": "parent-via"}}})
    child = _mhg("edge", {"httpGateway": {"options": {"httpConnectionManagerSettings": {"serverName": "child"}}}})
    t = translate([gw, direct_vs(), child], "current")
    (listener,) = t.envoy.listeners
    (hcm,) = http_connection_managers(listener)
    assert (hcm.server_name, hcm.via) == ("child", "parent-via")


def test_merge_hcm_settings_as_gloo_test():
    """hybrid_translator_test.go "Should merge complicated config of various object types with
    PreventChildOverrides=false": set child values win even when zero, nil ones take the parent's, a child's
    header-format choice stands, and an enum's zero value is filled from the parent (Gloo's noted limitation)."""
    child = {"skipXffAppend": False, "via": "", "xffNumTrustedHops": 0, "streamIdleTimeout": "0s",
             "maxRequestHeadersKb": 32, "codecType": "AUTO", "properCaseHeaderKeyFormat": True}
    parent = {"skipXffAppend": True, "via": "should-not-overwrite", "xffNumTrustedHops": 32,
              "useRemoteAddress": True, "streamIdleTimeout": "10.000000032s", "maxRequestHeadersKb": 31,
              "codecType": "HTTP1", "preserveCaseHeaderKeyFormat": True}
    merged = merge_hcm_settings(parent, child, False)
    assert merged == {"skipXffAppend": False, "via": "", "xffNumTrustedHops": 0, "streamIdleTimeout": "0s",
                      "maxRequestHeadersKb": 32, "properCaseHeaderKeyFormat": True, "useRemoteAddress": True,
                      "codecType": "HTTP1"}
    prevented = merge_hcm_settings(parent, child, True)
    assert prevented["via"] == "should-not-overwrite" and prevented["maxRequestHeadersKb"] == 31


def test_rejected_virtual_service_is_stripped_from_its_matched_listener():
    """proxy_reconciler.go: each matched HTTP listener drops the virtual hosts of VirtualServices with errors
    (and restores a previously accepted one, matched by an equal matcher)."""
    from gloo_nb.translate import Translator

    gw = _hybrid({"matchedGateways": [{"matcher": _ranges("10.0.0.0", 8), "httpGateway": {}}]})
    good, bad = direct_vs("good", ("good.com",)), direct_vs("bad", ("bad.com",))
    broken = obj("VirtualService", "bad", {"virtualHost": {"domains": ["bad.com"], "routes": [{"name": "x"}]}})
    gloo = Translator("current")
    first = gloo.translate(Snapshot.from_resources([gw, good, bad]))
    assert [vh.name for vh in first.proxy.listeners[0].matched[0].virtual_hosts] == ["gloo-system.bad",
                                                                                   "gloo-system.good"]
    second = gloo.translate(Snapshot.from_resources([gw, good, broken]))
    assert second.report("VirtualService", GS, "bad").errors == ["invalid route: route must specify an action"]
    (matched,) = second.proxy.listeners[0].matched
    # The rejected VS keeps its last accepted virtual host; the good one is the new one.
    assert [vh.name for vh in matched.virtual_hosts] == ["gloo-system.bad", "gloo-system.good"]
    assert matched.virtual_hosts[0] is first.proxy.listeners[0].matched[0].virtual_hosts[0]
    fresh = translate([gw, good, broken], "current")
    assert [vh.name for vh in fresh.proxy.listeners[0].matched[0].virtual_hosts] == ["gloo-system.good"]


def test_text_tables_find_the_routes_of_matched_listeners():
    """``gloo-nb translate`` without --json: a hybrid virtual host's Envoy routes sit in the matched listener's
    ``<listener>-routes-<hash>`` RouteConfiguration."""
    from gloo_nb.translate.render import render, render_text

    gw = _hybrid({"matchedGateways": [{"matcher": _ranges("10.0.0.0", 8), "httpGateway": {}}]})
    text = render_text(render(translate([gw, direct_vs()], "current")))
    assert "gloo-system_v-route-0-matcher-0  prefix /  direct 200" in text


def test_inline_http_gateway_is_read_by_the_codec():
    """A typo inside an inline matched httpGateway is a finding with its path under the Gateway."""
    gw = _hybrid({"matchedGateways": [{"httpGateway": {"virtualServiceSelectr": {"a": "b"}}}]})
    t = translate([gw, direct_vs()], "current")
    (f,) = [f for f in t.findings if "virtualServiceSelectr" in f.field]
    assert f.field == "spec.hybridGateway.matchedGateways[0].httpGateway.virtualServiceSelectr"
    assert "did you mean virtualServiceSelector?" in f.message
