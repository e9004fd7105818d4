"""Guards over the seed scenario: last known good names echo's typo, what-if findings, collateral, endpoints."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import replace

import pytest
from rolloutkit import ECHO, FOXTROT, SETTINGS_PATCHED, Cluster, spec_of

from gloo_nb.rollout import assess, check_guards
from gloo_nb.rollout.plan import plan_from_original

pytestmark = pytest.mark.unit


def by_name(results):
    return {g.name: g for g in results}


def phase1(cluster):
    world = cluster.world(FOXTROT)
    p = plan_from_original(FOXTROT, world.route_table["spec"])
    step = p.step("phase1")
    return world, step, p.transform(step, world.route_table["spec"])


def test_all_guards_pass_on_the_seed():
    world, step, new = phase1(Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml"))
    a = assess(world, FOXTROT, step, new)
    assert [g.name for g in a.guards] == ["canary-endpoints", "team-tree-clean", "no-new-finding", "no-collateral",
                                          "not-last-known-good", "webhook", "control-plane-up"]
    assert a.ok, a.failed
    assert by_name(a.guards)["canary-endpoints"].reason == "1 ready endpoint(s) of gloo-system/foxtrot with version=v2"
    # What Envoy should serve for foxtrot after phase 1, in order.
    assert a.expected == (("gloo-system_app", "prefix /foxtrot, stage=canary", "foxtrot_gloo-system {version=v2}"),
                          ("gloo-system_app", "prefix /foxtrot", "foxtrot_gloo-system {version=v1}"))
    assert a.host is None  # the virtual host answers '*'


def test_last_known_good_names_echo_typo():
    cluster = Cluster("rt-echo-3.yaml", "rt-foxtrot-2.yaml")
    world = cluster.world(FOXTROT)
    p = plan_from_original(FOXTROT, world.route_table["spec"])
    step = p.step("phase2-0")
    results = by_name(check_guards(world, FOXTROT, step, p.transform(step, world.route_table["spec"])))
    lkg = results["not-last-known-good"]
    assert not lkg.ok
    assert lkg.reason.startswith("the proxy holds its last known good configuration: echo/echo-routes (team echo): ")
    assert "echo-typo" in lkg.reason
    assert results["team-tree-clean"].ok  # the problem is echo's, not foxtrot's
    # The platform team's settings patch (replace invalid routes) unblocks foxtrot.
    cluster.put(SETTINGS_PATCHED)
    world = cluster.world(FOXTROT)
    assert all(g.ok for g in check_guards(world, FOXTROT, step, p.transform(step, world.route_table["spec"])))


def test_team_tree_dirty_for_echo_itself():
    cluster = Cluster("rt-echo-3.yaml", "rt-foxtrot-1.yaml")
    cluster.put(SETTINGS_PATCHED)
    world = cluster.world(ECHO)
    spec = copy.deepcopy(spec_of("rt-echo-1.yaml"))
    p = plan_from_original(ECHO, spec)
    step = p.step("pin-stable")
    results = by_name(check_guards(world, ECHO, step, p.transform(step, spec)))
    assert results["stable-endpoints"].ok
    assert not results["team-tree-clean"].ok and "echo-typo" in results["team-tree-clean"].reason


def test_what_if_catches_a_new_finding():
    world, step, new = phase1(Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml"))
    new["routes"][0]["routeAction"]["single"]["upstream"]["name"] = "foxtrot-typo"
    results = by_name(check_guards(world, FOXTROT, step, new))
    assert not results["no-new-finding"].ok
    assert "foxtrot-typo" in results["no-new-finding"].reason
    # Under 1.3 that would also freeze the proxy for everyone.
    assert not results["not-last-known-good"].ok
    assert results["not-last-known-good"].reason.startswith("the change would make the proxy keep its last known good")
    assert "foxtrot/foxtrot-routes (team foxtrot)" in results["not-last-known-good"].reason


def test_collateral_guard_sees_other_teams_routes_vanish():
    # Under 1.3 a RouteTable route outside its parent's prefix drops the VirtualService: echo's routes too.
    world, step, new = phase1(Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml"))
    new["routes"].append({"matchers": [{"prefix": "/bad"}],
                          "routeAction": {"single": {"upstream": {"name": "foxtrot", "namespace": "gloo-system"}}}})
    results = by_name(check_guards(world, FOXTROT, step, new))
    coll = results["no-collateral"]
    assert not coll.ok
    assert "-gloo-system_app: prefix /echo -> echo_gloo-system {version=v1} (echo/echo-routes)" in coll.reason
    assert not results["no-new-finding"].ok


def test_no_collateral_when_only_own_routes_change():
    world, step, new = phase1(Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml"))
    assert by_name(check_guards(world, FOXTROT, step, new))["no-collateral"].reason == \
        "the routes of every other resource stay as they are (2 route(s))"


def test_canary_endpoints_missing():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    del cluster.objects[("Deployment", "foxtrot", "foxtrot-v2")]
    world, step, new = phase1(cluster)
    g = by_name(check_guards(world, FOXTROT, step, new))["canary-endpoints"]
    assert not g.ok and g.reason.startswith("no ready endpoint of gloo-system/foxtrot with version=v2")


def _two_proxies(cluster, foxtrot_also_public: bool) -> None:
    # gateway-proxy serves VS app (echo, and foxtrot when asked); the proxy internal serves VS app-internal (foxtrot).
    def gateway(name, vs):
        return {"apiVersion": "gateway.solo.io/v1", "kind": "Gateway",
                "metadata": {"name": name, "namespace": "gloo-system"},
                "spec": {"bindAddress": "::", "bindPort": 8080, "proxyNames": [name],
                         "httpGateway": {"virtualServices": [{"name": vs, "namespace": "gloo-system"}]}}}

    def vs(name, *teams):
        return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
                "metadata": {"name": name, "namespace": "gloo-system"},
                "spec": {"virtualHost": {"domains": ["*"], "routes": [
                    {"matchers": [{"prefix": f"/{team}"}], "delegateAction": {"selector": {"namespaces": [team]}}}
                    for team in teams]}}}
    cluster.put(gateway("gateway-proxy", "app"))
    cluster.put(gateway("internal", "app-internal"))
    cluster.put(vs("app", "echo", *(["foxtrot"] if foxtrot_also_public else [])))
    cluster.put(vs("app-internal", "foxtrot"))


def test_last_known_good_looks_at_every_proxy_serving_the_route_table():
    """1.3: echo's typo holds gateway-proxy's last good snapshot (envoy_translator_syncer.go@v1.3.20 sanitizes
    each proxy on its own); foxtrot's rollout is blocked only when a proxy holding it serves foxtrot."""
    cluster = Cluster("rt-echo-3.yaml", "rt-foxtrot-2.yaml")
    _two_proxies(cluster, foxtrot_also_public=False)
    world = cluster.world(FOXTROT)
    p = plan_from_original(FOXTROT, world.route_table["spec"])
    step = p.step("phase2-0")
    results = by_name(check_guards(world, FOXTROT, step, p.transform(step, world.route_table["spec"])))
    assert results["not-last-known-good"].ok, results["not-last-known-good"].reason
    assert results["not-last-known-good"].reason == "the control plane pushes the current configuration of internal"

    _two_proxies(cluster, foxtrot_also_public=True)
    world = cluster.world(FOXTROT)
    results = by_name(check_guards(world, FOXTROT, step, p.transform(step, world.route_table["spec"])))
    lkg = results["not-last-known-good"]
    assert not lkg.ok
    assert lkg.reason.startswith("the proxy gateway-proxy holds its last known good configuration: "
                                 "echo/echo-routes (team echo): ")


def test_a_rollout_through_one_proxy_expects_that_proxys_routes():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    _two_proxies(cluster, foxtrot_also_public=False)
    world = dataclasses.replace(cluster.world(FOXTROT), proxy="internal")
    p = plan_from_original(FOXTROT, world.route_table["spec"])
    step = p.step("phase1")
    a = assess(world, FOXTROT, step, p.transform(step, world.route_table["spec"]))
    assert a.ok, a.failed
    vh = "gloo-system_app-internal"
    assert a.expected == ((vh, "prefix /foxtrot, stage=canary", "foxtrot_gloo-system {version=v2}"),
                          (vh, "prefix /foxtrot", "foxtrot_gloo-system {version=v1}"))


def test_a_control_plane_that_is_down_refuses_every_step():
    world, step, new = phase1(Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml"))
    down = replace(world, control_plane_down="Gloo's control plane is down (no ready pod behind Service "
                                             "gloo-system/gloo)")
    a = assess(down, FOXTROT, step, new)
    assert not a.ok
    guard = by_name(a.guards)["control-plane-up"]
    assert guard.reason.startswith("Gloo's control plane is down (no ready pod behind Service gloo-system/gloo): "
                                   "a change would not be served") and guard.reason.endswith("bring Gloo back first")
    # A step that writes no RouteTable (deleting the stable Deployment) is refused too: endpoints are not served.
    target = replace(FOXTROT, decommission=True)
    decommission = plan_from_original(target, world.route_table["spec"]).step("decommission")
    assert decommission.state is None
    assert not by_name(assess(down, target, decommission, new).guards)["control-plane-up"].ok
    assert by_name(assess(world, target, decommission, new).guards)["control-plane-up"].ok
