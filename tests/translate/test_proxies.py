"""Every proxy the Gateways name is translated: its own listeners, reports, push and xDS key (issue 14).

Gloo builds one Proxy per name in ``proxyNames`` (``projects/gateway/pkg/utils/gateway_filtering.go``,
``projects/gateway/pkg/syncer/translator_syncer.go``) and sanitizes and serves each on its own
(``projects/gloo/pkg/syncer/envoy_translator_syncer.go``).
"""

from __future__ import annotations

import json

import pytest
from builders import GS, envoy_routes, kube_upstream, m, route, service, to, vs

from gloo_nb.models import Gateway, HttpGateway, ObjectMeta, ResourceKey, ResourceRef, Snapshot
from gloo_nb.translate import Translator
from gloo_nb.translate.check import problems
from gloo_nb.translate.render import render, render_text
from gloo_nb.translate.reports import ResourceReport
from gloo_nb.translate.status import resource_status
from gloo_nb.translate.translator import merge_proxy_reports, proxy_names, snapshot_key

pytestmark = pytest.mark.unit


def gw(name, port, proxies, *vss):
    return Gateway(meta=ObjectMeta(name, GS), bind_address="::", bind_port=port, proxy_names=tuple(proxies),
                   http_gateway=HttpGateway(virtual_services=tuple(ResourceRef(v, GS) for v in vss)))


def scenario(only_b_upstream="echo", only_a_path="/a", default_name="gateway-proxy"):
    return [gw("gw-a", 8080, [default_name], "shared", "only-a"), gw("gw-b", 8081, ["internal"], "shared", "only-b"),
            vs("shared", route(m("/s"), action=to("echo"), name="r1")),
            vs("only-a", route(m(only_a_path), action=to("echo")), domains=("a.example",)),
            vs("only-b", route(m("/b"), action=to(only_b_upstream)), domains=("b.example",)),
            kube_upstream("echo", subset_keys=()), service("echo")]


def vhosts(translation):
    return sorted(vh.name for ls in translation.proxy.listeners for vh in ls.virtual_hosts)


def prefixes(envoy):
    return sorted(r.match.prefix for rc in envoy.route_configurations for vh in rc.virtual_hosts for r in vh.routes)


def test_proxy_names_are_sorted_and_a_gateway_without_names_belongs_to_gateway_proxy():
    gws = [gw("x", 1, ["zeta"]), gw("y", 2, []), gw("z", 3, ["alpha", "zeta"])]
    assert proxy_names(gws) == ["alpha", "gateway-proxy", "zeta"]
    assert snapshot_key("gloo-system", "alpha") == "gloo-system~alpha"


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_each_proxy_gets_its_gateways_listeners_and_a_shared_vs_appears_in_both(profile):
    t = Translator(profile).translate(Snapshot.from_resources(scenario()))
    assert [p.proxy.name for p in t.proxies] == ["gateway-proxy", "internal"]
    a, b = t.proxies
    assert [ls.name for ls in a.proxy.listeners] == ["listener-::-8080"]
    assert [ls.name for ls in b.proxy.listeners] == ["listener-::-8081"]
    assert vhosts(a) == ["gloo-system.only-a", "gloo-system.shared"]
    assert vhosts(b) == ["gloo-system.only-b", "gloo-system.shared"]
    assert [rc.name for rc in a.envoy.route_configurations] == ["listener-::-8080-routes"]
    assert [rc.name for rc in b.envoy.route_configurations] == ["listener-::-8081-routes"]
    assert (a.snapshot_key, b.snapshot_key) == ("gloo-system~gateway-proxy", "gloo-system~internal")
    # The top level is the default proxy's.
    assert t.proxy.name == "gateway-proxy" and t.envoy is a.envoy and t.push == a.push


def test_route_names_embed_the_gateway_and_proxy_in_current():
    t = Translator("current").translate(Snapshot.from_resources(scenario()))
    names = {p.proxy.name: [r.name for rc in p.envoy.route_configurations for vh in rc.virtual_hosts
                            for r in vh.routes if "shared" in vh.name] for p in t.proxies}
    # converter.go:routeName: vs:<gateway>_<proxy>_<ns>_<vs>_route:<name>
    assert names == {
        "gateway-proxy": ["gloo-system_shared-route-0-vs:gw-a_gateway-proxy_gloo-system_shared_route:r1-matcher-0"],
        "internal": ["gloo-system_shared-route-0-vs:gw-b_internal_gloo-system_shared_route:r1-matcher-0"]}


def test_without_gateway_proxy_the_first_proxy_by_name_is_the_default():
    t = Translator("current").translate(Snapshot.from_resources(scenario(default_name="public")))
    assert [p.proxy.name for p in t.proxies] == ["internal", "public"]
    assert t.proxy.name == "internal"
    snap = Snapshot.from_resources(scenario(default_name="public"))
    named = Translator("current", proxy_name="public").translate(snap)
    assert named.proxy.name == "public" and named.for_proxy("internal") is named.proxies[0]


def test_13_one_proxys_error_keeps_its_last_good_snapshot_but_not_the_other_proxys():
    """v1.3.20 envoy_translator_syncer.go: each proxy is sanitized and set on its own key; a rejected
    proxy gets updateEndpointsOnly and ``continue``s, the next proxy still gets its new snapshot."""
    gloo = Translator("1.3")
    first = gloo.translate(Snapshot.from_resources(scenario()))
    assert [p.push.decision for p in first.proxies] == ["push", "push"]
    second = gloo.translate(Snapshot.from_resources(scenario(only_b_upstream="typo", only_a_path="/a2")))
    a, b = second.proxies
    assert a.push.decision == "push" and prefixes(a.served) == ["/a2", "/s"]
    assert b.push.decision == "keep-last-good"
    assert b.push.reason == ("proxy gloo-system.internal was rejected due to invalid config: Route Warning: "
                             "InvalidDestinationWarning. Reason: *v1.Upstream {typo gloo-system} not found")
    assert prefixes(b.served) == ["/b", "/s"]  # the last good one, from the first translation
    assert second.push.decision == "push"  # the top level is gateway-proxy's
    # `check` reports the blocked proxy's problem.
    assert [p.resource for p in problems(second)] == [ResourceKey("VirtualService", GS, "only-b")]


def test_reports_of_a_vs_in_two_proxies_are_appended_in_proxy_order():
    """Current translator_syncer.go:extractCurrentReports appends every proxy's errors and warnings."""
    res = scenario()
    res[2] = vs("shared", route(m("/s"), action=to("missing")))
    t = Translator("current").translate(Snapshot.from_resources(res))
    warning = "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { gloo-system.missing } not found"
    assert [p.report("VirtualService", GS, "shared").warnings for p in t.proxies] == [[warning], [warning]]
    assert t.report("VirtualService", GS, "shared").warnings == [warning, warning]
    assert [f.message for f in t.findings] == [warning]  # gloo_nb's attribution says it once


def test_merge_transcribes_gloos_translator_syncer_tests():
    """gateway/pkg/syncer/translator_syncer_test.go: "should set status correctly when resources are in
    both proxies" (warning 1 then warning 2) and "should set status correctly when one proxy errors"
    (invalid 1 then invalid 2)."""
    rt = ResourceKey("RouteTable", GS, "rt")
    vsk = ResourceKey("VirtualService", GS, "vs")
    up = ResourceKey("Upstream", GS, "up")
    one = [ResourceReport(rt, warnings=["warning 1"]), ResourceReport(vsk, errors=["invalid 1"]),
           ResourceReport(up, errors=["bad"])]
    two = [ResourceReport(rt, warnings=["warning 2"]), ResourceReport(vsk, errors=["invalid 2"]),
           ResourceReport(up, errors=["bad"])]
    merged = {r.key: r for r in merge_proxy_reports([one, two])}
    assert merged[rt].warnings == ["warning 1", "warning 2"]
    assert merged[vsk].errors == ["invalid 1", "invalid 2"]
    assert merged[vsk].reason == "2 errors occurred:\n\t* invalid 1\n\t* invalid 2\n\n"
    assert merged[up].errors == ["bad"]  # one Gloo translation of the Upstreams, reported once


def test_each_proxy_has_its_own_subresource_status_key():
    """translator_syncer_test.go "should set status correctly when one proxy errors": keys
    ``*v1.Proxy.test1_gloo-system`` and ``*v1.Proxy.test2_gloo-system`` with each proxy's state."""
    report = ResourceReport(ResourceKey("VirtualService", GS, "vs"))
    px1 = ResourceReport(ResourceKey("Proxy", GS, "test1"))
    px2 = ResourceReport(ResourceKey("Proxy", GS, "test2"), errors=["boom"])
    cur = resource_status(report, "current", proxy_reports=[px1, px2])["statuses"][GS]["subresourceStatuses"]
    assert {k: v["state"] for k, v in cur.items()} == {"*v1.Proxy.test1_gloo-system": "Accepted",
                                                       "*v1.Proxy.test2_gloo-system": "Rejected"}
    old = resource_status(report, "1.3", proxy_reports=[px1, px2])["subresource_statuses"]
    assert {k: v["state"] for k, v in old.items()} == {"*v1.Proxy.gloo-system.test1": 1,
                                                       "*v1.Proxy.gloo-system.test2": 2}
    upstream = ResourceReport(ResourceKey("Upstream", GS, "up"))
    assert "subresourceStatuses" not in resource_status(upstream, "current", proxy_reports=[px1])["statuses"][GS]


def test_translate_json_lists_every_proxy_and_keeps_the_top_level():
    t = Translator("1.3").translate(Snapshot.from_resources(scenario(only_b_upstream="typo")))
    doc = json.loads(json.dumps(render(t)))
    assert [(p["name"], p["snapshotKey"], p["push"]["decision"]) for p in doc["proxies"]] == [
        ("gateway-proxy", "gloo-system~gateway-proxy", "push"), ("internal", "gloo-system~internal", "keep-last-good")]
    assert doc["proxy"]["name"] == "gateway-proxy" and doc["push"]["decision"] == "push"
    assert doc["proxies"][0]["envoy"] == doc["envoy"]
    assert [v["name"] for v in doc["proxies"][1]["virtualHosts"]] == ["gloo-system.only-b", "gloo-system.shared"]
    text = render_text(doc)
    assert "Proxy gloo-system/internal (xDS key gloo-system~internal)" in text
    assert "Push (internal): keep-last-good: proxy gloo-system.internal was rejected" in text


def test_one_proxy_keeps_the_single_proxy_document():
    t = Translator("current").translate(Snapshot.from_resources([vs("v", route(m("/"), action=to("echo"))),
                                                                 kube_upstream("echo"), service("echo")]))
    doc = render(t)
    assert [p["name"] for p in doc["proxies"]] == ["gateway-proxy"]
    assert render_text(doc).startswith("Gloo current: proxy gloo-system/gateway-proxy\n")
    assert "Push: push:" in render_text(doc)
    assert envoy_routes(t)


def test_gateways_outside_the_write_namespace_are_read_only_when_settings_say_so():
    """v1.3.20 gateway/pkg/translator/translator.go:filterGateways and current translator/predicate.go:
    only the write namespace's Gateways, unless settings.gateway.readGatewaysFromAllNamespaces."""
    from dataclasses import replace

    from gloo_nb.translate.translator import helm_default_settings

    elsewhere = replace(gw("gw-x", 8082, ["other"], "shared"), meta=ObjectMeta("gw-x", "team-x"))
    res = [*scenario(), elsewhere]
    t = Translator("current").translate(Snapshot.from_resources(res))
    assert [p.proxy.name for p in t.proxies] == ["gateway-proxy", "internal"]
    assert t.report("Gateway", "team-x", "gw-x").state == "Accepted"  # reported, not translated
    settings = replace(helm_default_settings(), read_gateways_from_all_namespaces=True)
    t = Translator("current").translate(Snapshot.from_resources([*res, settings]))
    assert [p.proxy.name for p in t.proxies] == ["gateway-proxy", "internal", "other"]
    assert vhosts(t.for_proxy("other")) == ["gloo-system.shared"]


def test_a_proxy_that_goes_away_is_forgotten():
    """Gloo deletes a proxy no Gateway names and empties its snapshot key (envoy_translator_syncer.go
    garbage collection): when it comes back rejected, 1.3 has no last good snapshot of it to keep."""
    gloo = Translator("1.3")
    gloo.translate(Snapshot.from_resources(scenario()))
    without = [r for r in scenario() if getattr(r, "key", None) != ResourceKey("Gateway", GS, "gw-b")]
    assert [p.proxy.name for p in gloo.translate(Snapshot.from_resources(without)).proxies] == ["gateway-proxy"]
    back = gloo.translate(Snapshot.from_resources(scenario(only_b_upstream="typo"))).for_proxy("internal")
    assert back.push.decision == "keep-last-good" and back.served is None
    # Without the gap, the last good snapshot is kept.
    gloo = Translator("1.3")
    gloo.translate(Snapshot.from_resources(scenario()))
    kept = gloo.translate(Snapshot.from_resources(scenario(only_b_upstream="typo"))).for_proxy("internal")
    assert kept.served is not None and prefixes(kept.served) == ["/b", "/s"]
