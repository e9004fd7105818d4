"""Proxy-level messages, statuses, invalid-config policies and the push decision (spec 3.2, 3.3, 4)."""

from __future__ import annotations

import pytest
from builders import (
    GS,
    envoy_routes,
    kube_upstream,
    m,
    messages,
    multi,
    ref,
    route,
    rt,
    sel,
    service,
    settings,
    static_upstream,
    to,
    vs,
)

from gloo_nb.models import Snapshot
from gloo_nb.models.resources import HELM_INVALID_ROUTE_BODY
from gloo_nb.translate import Translator, translate
from gloo_nb.translate.envoy import FALLBACK_CLUSTER, FALLBACK_LISTENER
from gloo_nb.translate.reports import ResourceReport

pytestmark = pytest.mark.unit

ECHO = kube_upstream("echo")
FOX = kube_upstream("foxtrot")
V1, V2 = {"version": "v1"}, {"version": "v2"}


def two_teams(echo_canary_upstream="echo", fox_weights=(100, 0)):
    app = vs("app", route(m("/echo"), delegate=sel("echo")), route(m("/foxtrot"), delegate=sel("foxtrot")))
    echo = rt("echo-routes", "echo", route(m("/echo", headers=[("stage", "canary")]),
                                           action=to(echo_canary_upstream, subset=V2)),
              route(m("/echo"), action=to("echo", subset=V1)))
    fox = rt("foxtrot-routes", "foxtrot", route(m("/foxtrot"), action=multi(
        ("foxtrot", V1, fox_weights[0]), ("foxtrot", V2, fox_weights[1]))))
    return [app, echo, fox, ECHO, FOX, service("echo"), service("foxtrot")]


def fox_weights(res):
    for _, _, match, action in envoy_routes(res, served=True):
        if match.get("prefix") == "/foxtrot":
            return [c["weight"] for c in action["weightedClusters"]["clusters"]]
    return None


# --- messages --------------------------------------------------------------------------------

@pytest.mark.parametrize(("profile", "text"), [
    ("1.3", "*v1.Upstream {echo-typo gloo-system} not found"),
    ("current", "*v1.Upstream { gloo-system.echo-typo } not found"),
])
def test_missing_upstream_with_subset_warns_twice_on_the_vs_not_the_rt(profile, text):
    t = translate(two_teams("echo-typo"), profile)
    warning = f"Route Warning: InvalidDestinationWarning. Reason: {text}"
    assert messages(t, "VirtualService", GS, "app").warnings == [warning, warning]
    assert messages(t, "RouteTable", "echo", "echo-routes").state == "Accepted"
    (finding,) = [f for f in t.findings if "echo-typo" in f.message]
    assert (finding.resource.ref, finding.origin.ref, finding.severity) == (
        "gloo-system/app", "echo/echo-routes", "warning")


def test_missing_upstream_without_subset_warns_once():
    t = translate([vs("app", route(m("/"), action=to("nope"))), ECHO], "current")
    assert messages(t, "VirtualService", GS, "app").warnings == [
        "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { gloo-system.nope } not found"]


def test_missing_upstream_in_multi():
    t = translate([vs("app", route(m("/"), action=multi(("echo", V1, 50), ("nope", V2, 50)))), ECHO], "current")
    assert messages(t, "VirtualService", GS, "app").warnings == [
        "Route Warning: InvalidDestinationWarning. Reason: invalid destination in weighted destination list: "
        "*v1.Upstream { gloo-system.nope } not found",
        "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { gloo-system.nope } not found"]


def test_subset_on_upstream_without_subset_spec():
    t = translate([vs("app", route(m("/"), action=to("plain", subset=V1))), kube_upstream("plain",
                                                                                            subset_keys=())],
                  "current")
    assert messages(t, "VirtualService", GS, "app").warnings == [
        "Route Warning: InvalidDestinationWarning. Reason: route has a subset config, but the upstream does not"]


def test_subset_mismatch_is_a_route_error_with_the_envoy_route_name():
    t = translate([vs("app", route(m("/"), action=to("echo", subset={"color": "blue"}))), ECHO], "current")
    assert messages(t, "VirtualService", GS, "app").errors == [
        "Route Error: ProcessingError. Reason: route has a subset config, but none of the subsets in the upstream "
        "match it. Route Name: gloo-system_app-route-0-matcher-0"]


def test_total_weight_below_one_is_an_error_current():
    t = translate([vs("app", route(m("/"), action=multi(("echo", V1, 0), ("echo", V2, 0)))), ECHO], "current")
    (error,) = messages(t, "VirtualService", GS, "app").errors
    assert error.startswith("Route Error: ProcessingError. Reason: Incorrect configuration for Weighted "
                            "Destination for route - Weighted Destinations require a total weight that is greater "
                            "than or equal to 1. Route Name: gloo-system_app-route-0-matcher-0")


def test_invalid_path_is_an_error_current():
    t = translate([vs("app", route(m("/a//b"), action=to("echo"))), ECHO], "current")
    assert messages(t, "VirtualService", GS, "app").errors == [
        "Route Error: ProcessingError. Reason: the path is invalid: /a//b: path [/a//b] cannot contain [//]. "
        "Route Name: gloo-system_app-route-0-matcher-0"]


def test_static_upstream_host_errors_go_on_the_upstream():
    """plugins/static/plugin.go stops at the first bad host (addr before port); validateCluster
    then finds the STATIC cluster without endpoints. 1.3 keeps the errors on the Upstream."""
    t = translate([static_upstream("s", hosts=(("", 0),))], "1.3")
    assert messages(t, "Upstream", GS, "s").errors == [
        "addr cannot be empty for host",
        "cluster was configured improperly by one or more plugins: cluster type STATIC specified but "
        "LoadAssignment was empty"]


def test_kube_service_port_mismatch_is_found_in_current_only():
    inputs = [ECHO.__class__(meta=ECHO.meta, kube=ECHO.kube.__class__(
        service_name="echo", service_namespace="echo", service_port=8080, subset_spec=ECHO.kube.subset_spec),
        upstream_type="kube"), service("echo")]
    cur = translate(inputs, "current")
    assert [f.message for f in cur.findings] == ["upstream gloo-system.echo: port 8080 not found for service echo"]
    assert translate(inputs, "1.3").findings == []


# --- statuses --------------------------------------------------------------------------------

def test_reason_formats():
    from gloo_nb.models import ResourceKey

    key = ResourceKey("VirtualService", GS, "app")
    rep = ResourceReport(key, errors=["e1", "e2"], warnings=["w1", "w2"])
    assert rep.reason == "2 errors occurred:\n\t* e1\n\t* e2\n\n\nwarning: \n  w1\nw2"
    assert ResourceReport(key, errors=["e"]).reason == "1 error occurred:\n\t* e\n\n"
    assert ResourceReport(key, warnings=["w"]).reason == "warning: \n  w"
    assert ResourceReport(key).reason == ""
    assert rep.status("1.3") == {"state": 2, "reason": rep.reason, "reportedBy": "gateway"}
    assert rep.status("current") == {"statuses": {GS: {"state": 2, "reason": rep.reason, "reportedBy": "gloo"}}}
    up = ResourceReport(ResourceKey("Upstream", GS, "u"), warnings=["w"])
    assert up.status("1.3") == {"state": 3, "reason": "warning: \n  w", "reportedBy": "gloo"}


# --- policies ----------------------------------------------------------------------------------

def test_13_default_policy_keeps_the_last_good_snapshot_for_the_whole_proxy():
    gloo = Translator("1.3")
    good = gloo.translate(Snapshot.from_resources(two_teams()))
    assert good.push.decision == "push" and fox_weights(good) == [100, 0]
    # echo's typo and foxtrot's (valid) weight change arrive together.
    bad = gloo.translate(Snapshot.from_resources(two_teams("echo-typo", fox_weights=(0, 100))))
    assert bad.push.decision == "keep-last-good"
    assert "echo-typo" in bad.push.reason
    assert fox_weights(bad) == [100, 0]  # foxtrot is blocked
    # Fixing the typo unblocks foxtrot.
    fixed = gloo.translate(Snapshot.from_resources(two_teams("echo", fox_weights=(0, 100))))
    assert fixed.push.decision == "push" and fox_weights(fixed) == [0, 100]


def test_13_warning_at_startup_serves_nothing():
    t = translate(two_teams("echo-typo"), "1.3")
    assert t.push.decision == "keep-last-good" and t.served is None


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_replace_invalid_routes_points_the_route_at_the_fallback(profile):
    t = translate(two_teams("echo-typo", fox_weights=(0, 100)) + [settings(replace=True)], profile)
    assert t.push.decision == "push"
    routes = envoy_routes(t, served=True)
    canary = next(a for _, _, mt, a in routes if mt.get("headers") and mt["prefix"] == "/echo")
    assert canary["cluster"] == FALLBACK_CLUSTER
    assert canary["metadataMatch"]["filterMetadata"]["envoy.lb"] == {"version": "v2"}
    assert fox_weights(t) == [0, 100]
    (fallback,) = [ls for ls in t.served.listeners if ls.name == FALLBACK_LISTENER]
    assert fallback.address.pipe.path == "@fallback_listener_for_invalid_routes"
    assert FALLBACK_CLUSTER in [c.name for c in t.served.clusters]
    assert [r[:2] for r in t.replaced] == [("listener-::-8080-routes", "gloo-system_app")]


def test_fallback_listener_carries_code_and_body():
    from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm

    t = translate(two_teams("echo-typo") + [settings(replace=True, code=418, body="teapot")], "current")
    (fallback,) = [ls for ls in t.served.listeners if ls.name == FALLBACK_LISTENER]
    conf = hcm.HttpConnectionManager()
    fallback.filter_chains[0].filters[0].typed_config.Unpack(conf)
    direct = conf.route_config.virtual_hosts[0].routes[0].direct_response
    assert (direct.status, direct.body.inline_string) == (418, "teapot")
    # Helm's default body (values-template.yaml), not the proto comment's "Gloo Edge ..." text.
    assert HELM_INVALID_ROUTE_BODY == ("Gloo Gateway has invalid configuration. Administrators should run "
                                       "`glooctl check` to find and fix config errors.")


def test_current_default_policy_pushes_the_missing_cluster():
    t = translate(two_teams("echo-typo", fox_weights=(0, 100)), "current")
    assert t.push.decision == "push"
    clusters = [(a or {}).get("cluster") for _, _, _, a in envoy_routes(t, served=True)]
    assert "echo-typo_gloo-system" in clusters
    assert fox_weights(t) == [0, 100]


def test_current_replace_renames_only_the_invalid_weighted_entry():
    t = translate([vs("app", route(m("/"), action=multi(("echo", V1, 90), ("nope", V2, 10)))), ECHO,
                   settings(replace=True)], "current")
    (_, _, _, action), = envoy_routes(t, served=True)
    assert [(c["name"], c["weight"]) for c in action["weightedClusters"]["clusters"]] == [
        ("echo_gloo-system", 90), (FALLBACK_CLUSTER, 10)]


def test_current_replace_demotes_route_errors_so_the_vs_is_not_frozen():
    t = translate([vs("app", route(m("/"), action=to("echo", subset={"color": "blue"}))), ECHO,
                   settings(replace=True)], "current")
    rep = messages(t, "VirtualService", GS, "app")
    assert rep.state == "Warning"
    (_, _, _, action), = envoy_routes(t, served=True)
    assert action["cluster"] == FALLBACK_CLUSTER


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_a_vs_with_errors_keeps_its_previous_vhost_while_others_update(profile):
    gloo = Translator(profile)
    a_good = vs("a", route(m("/a"), action=to("echo", subset=V1)), domains=["a.com"])
    b_v1 = vs("b", route(m("/b"), action=to("echo", subset=V1)), domains=["b.com"])
    gloo.translate(Snapshot.from_resources([a_good, b_v1, ECHO]))
    # a now delegates with two matchers (an error in both profiles); b changes its subset.
    a_bad = vs("a", route(m("/a"), m("/x"), delegate=ref("t", GS)), domains=["a.com"])
    b_v2 = vs("b", route(m("/b"), action=to("echo", subset=V2)), domains=["b.com"])
    t = gloo.translate(Snapshot.from_resources([a_bad, b_v2, ECHO]))
    assert messages(t, "VirtualService", GS, "a").state == "Rejected"
    got = {vh: (mt["prefix"], act["metadataMatch"]["filterMetadata"]["envoy.lb"]["version"])
           for vh, _, mt, act in envoy_routes(t, served=True)}
    assert got == {"gloo-system_a": ("/a", "v1"), "gloo-system_b": ("/b", "v2")}


def test_13_replace_policy_still_rejects_on_route_errors():
    t = translate([vs("app", route(m("/"), action=to("echo", subset={"color": "blue"}))), ECHO,
                   settings(replace=True)], "1.3")
    # The VS is rejected at the gateway layer; Gloo's translation of the stripped proxy is clean.
    assert messages(t, "VirtualService", GS, "app").state == "Rejected"
    assert t.envoy.route_configurations == []


def test_a_timeout_beyond_a_protobuf_duration_is_a_finding_not_a_crash():
    from gloo_nb.translate.render import render

    t = translate([vs("app", route(m("/"), action=to("echo"), options={"timeout": "99999999999999s"})), ECHO],
                  "current")
    (finding,) = t.findings
    # Go's time.ParseDuration overflows int64 nanoseconds: jsonpb's "bad Duration" (strict decoding's finding).
    assert finding.severity == "error" and finding.field == "spec.virtualHost.routes[0].options.timeout"
    assert finding.message.endswith('bad Duration: time: invalid duration "99999999999999s"')
    (_, _, _, action), = envoy_routes(t)
    assert "timeout" not in action
    render(t)  # proto JSON of every resource still serializes


def test_redirect_regex_rewrite_reaches_envoy():
    from gloo_nb.models.resources import RedirectAction, Route

    redirect = Route(matchers=(m("/old"),), redirect_action=RedirectAction(
        regex_rewrite={"pattern": {"regex": "^/old/(.*)$"}, "substitution": "/new/\\1"}))
    t = translate([vs("app", redirect), ECHO], "current")
    (_, _, _, action), = envoy_routes(t)
    assert action["regexRewrite"] == {"pattern": {"regex": "^/old/(.*)$"}, "substitution": "/new/\\1"}


def test_translation_restores_the_garbage_collector():
    import gc

    assert gc.isenabled()
    translate(two_teams(), "current")
    assert gc.isenabled()
    gc.disable()
    try:
        translate(two_teams(), "current")
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
