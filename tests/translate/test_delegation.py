"""Delegation, selection, ordering, names and gateway-level messages (spec sections 2, 3.1, 5.4)."""

from __future__ import annotations

import pytest
from builders import (
    GS,
    envoy_routes,
    kube_upstream,
    m,
    messages,
    ref,
    route,
    rt,
    sel,
    to,
    vs,
)

from gloo_nb.models.resources import DelegateAction, ObjectMeta, RouteTable
from gloo_nb.translate import translate

pytestmark = pytest.mark.unit

UP = kube_upstream("echo")


def paths(t):
    return [match.get("prefix") or match.get("path") or match.get("safeRegex", {}).get("regex")
            for _, _, match, _ in envoy_routes(t)]


def clusters_of(t):
    return [(a or {}).get("cluster") for _, _, _, a in envoy_routes(t)]


# --- selection -----------------------------------------------------------------------------

@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_ref_to_missing_table_is_a_warning_on_the_owner(profile):
    t = translate([vs("app", route(m("/a"), delegate=ref("nope", "team"))), UP], profile)
    rep = messages(t, "VirtualService", GS, "app")
    assert rep.state == "Warning"
    assert rep.warnings == ["route table team.nope missing"]


def test_ref_namespace_is_not_defaulted():
    table = rt("a", GS, route(m("/a"), action=to("echo")))
    t = translate([vs("app", route(m("/a"), delegate=ref("a"))), table, UP], "current")
    assert messages(t, "VirtualService", GS, "app").warnings == ["route table .a missing"]


def test_deprecated_name_and_namespace_win_over_ref():
    table = rt("a", "team", route(m("/a"), action=to("echo")))
    action = DelegateAction(name="a", namespace="team", ref=None)
    t = translate([vs("app", route(m("/a"), delegate=action)), table, UP], "current")
    assert paths(t) == ["/a"]


def test_selector_without_namespaces_searches_the_owner_namespace_of_the_delegating_resource():
    # The owner is the RT that holds the delegate route, not the top-level VS.
    mid = rt("mid", "team", route(m("/a"), delegate=sel(labels={"leaf": "1"})))
    leaf_same_ns = rt("leaf", "team", route(m("/a/x"), action=to("echo")), labels={"leaf": "1"})
    leaf_vs_ns = rt("leaf", GS, route(m("/a/y"), action=to("echo")), labels={"leaf": "1"})
    t = translate([vs("app", route(m("/a"), delegate=ref("mid", "team"))), mid, leaf_same_ns, leaf_vs_ns, UP],
                  "current")
    assert paths(t) == ["/a/x"]


def test_selector_namespace_list_and_wildcard():
    a = rt("a", "ns1", route(m("/p/a"), action=to("echo")))
    b = rt("b", "ns2", route(m("/p/b"), action=to("echo")))
    c = rt("c", "ns3", route(m("/p/c"), action=to("echo")))
    t = translate([vs("app", route(m("/p"), delegate=sel("ns1", "ns3"))), a, b, c, UP], "current")
    assert paths(t) == ["/p/c", "/p/a"]  # one weight group of two tables: sorted by path
    t = translate([vs("app", route(m("/p"), delegate=sel("*"))), a, b, c, UP], "current")
    assert sorted(paths(t)) == ["/p/a", "/p/b", "/p/c"]


def test_selector_labels_are_an_exact_subset_match():
    a = rt("a", GS, route(m("/a"), action=to("echo")), labels={"team": "x", "tier": "1"})
    b = rt("b", GS, route(m("/b"), action=to("echo")), labels={"team": "y"})
    t = translate([vs("app", route(m("/"), delegate=sel(labels={"team": "x"}))), a, b, UP], "current")
    assert paths(t) == ["/a"]


@pytest.mark.parametrize(("expr", "expected"), [
    (("team", "Equals", ("x",)), ["/a"]),
    (("team", "DoubleEquals", ("x",)), ["/a"]),
    (("team", "NotEquals", ("x",)), ["/c", "/b"]),
    (("team", "In", ("x", "y")), ["/b", "/a"]),
    (("team", "NotIn", ("x",)), ["/c", "/b"]),
    (("team", "Exists", ()), ["/b", "/a"]),
    (("team", "DoesNotExist", ()), ["/c"]),
    (("rank", "GreaterThan", ("5",)), ["/b"]),
    (("rank", "LessThan", ("5",)), ["/a"]),
])
def test_selector_expressions(expr, expected):
    a = rt("a", GS, route(m("/a"), action=to("echo")), labels={"team": "x", "rank": "1"})
    b = rt("b", GS, route(m("/b"), action=to("echo")), labels={"team": "y", "rank": "9"})
    c = rt("c", GS, route(m("/c"), action=to("echo")), labels={})
    t = translate([vs("app", route(m("/"), delegate=sel(expressions=[expr]))), a, b, c, UP], "current")
    assert paths(t) == expected


def test_expressions_are_anded():
    a = rt("a", GS, route(m("/a"), action=to("echo")), labels={"team": "x", "rank": "1"})
    b = rt("b", GS, route(m("/b"), action=to("echo")), labels={"team": "x"})
    t = translate([vs("app", route(m("/"), delegate=sel(expressions=[("team", "In", ("x",)),
                                                                      ("rank", "Exists", ())]))), a, b, UP],
                  "current")
    assert paths(t) == ["/a"]


@pytest.mark.parametrize(("action", "message"), [
    (sel(labels={"a": "b"}, expressions=[("a", "Exists", ())]),
     "cannot use both labels and expressions within the same selector"),
    (sel(labels={"nobody": "here"}), "no route table matches the given selector"),
    (DelegateAction(), "cannot determine delegation target: you must specify a route table either via a "
                       "resource reference or a selector"),
])
def test_selection_warnings(action, message):
    table = rt("a", GS, route(m("/a"), action=to("echo")))
    t = translate([vs("app", route(m("/"), delegate=action)), table, UP], "current")
    rep = messages(t, "VirtualService", GS, "app")
    assert (rep.state, rep.warnings) == ("Warning", [message])
    assert paths(t) == []


def test_invalid_expression_warning_wraps_the_kubernetes_message():
    table = rt("a", GS, route(m("/a"), action=to("echo")))
    t = translate([vs("app", route(m("/"), delegate=sel(expressions=[("team", "In", ())]))), table, UP],
                  "current")
    (warning,) = messages(t, "VirtualService", GS, "app").warnings
    assert warning.endswith(": the route table selector expression is invalid")
    assert "values set can't be empty" in warning


def test_a_table_selected_twice_emits_its_routes_twice():
    team = rt("t", "team", route(m("/t"), action=to("echo")), labels={"x": "1"})
    t = translate([vs("app", route(m("/"), delegate=sel("*", labels={"x": "1"})),
                      route(m("/"), delegate=ref("t", "team"))), team, UP], "current")
    assert paths(t) == ["/t", "/t"]


# --- ordering ------------------------------------------------------------------------------

def test_weight_groups_ascending_and_nil_is_zero():
    a = rt("a", GS, route(m("/a"), action=to("echo")), weight=5)
    b = rt("b", GS, route(m("/b"), action=to("echo")), weight=-3)
    c = rt("c", GS, route(m("/c"), action=to("echo")))
    t = translate([vs("app", route(m("/"), delegate=sel())), a, b, c, UP], "current")
    assert paths(t) == ["/b", "/c", "/a"]


def test_same_weight_group_sorted_by_code_order_not_docs_order():
    a = rt("a", GS, route(m("/foo/bar/baz"), action=to("echo")), route(m(regex="/foo/.*"), action=to("echo")))
    b = rt("b", GS, route(m("/foo/bars"), action=to("echo")), route(m(exact="/foo"), action=to("echo")),
           route(m("/z", methods=["GET"]), action=to("echo")))
    t = translate([vs("app", route(m("/"), delegate=sel())), a, b, UP], "current")
    # methods first; then exact < regex < prefix; then byte-wise greater path first.
    assert paths(t) == ["/z", "/foo", "/foo/.*", "/foo/bars", "/foo/bar/baz"]


def test_sort_is_stable_and_ignores_headers():
    echo = rt("echo-routes", "echo", route(m("/echo", headers=[("stage", "canary")]), action=to("echo")),
              route(m("/echo"), action=to("echo")))
    fox = rt("foxtrot-routes", "foxtrot", route(m("/foxtrot"), action=to("echo")))
    t = translate([vs("app", route(m("/"), delegate=sel("*"))), echo, fox, UP], "current")
    got = [(match.get("prefix"), bool(match.get("headers"))) for _, _, match, _ in envoy_routes(t)]
    assert got == [("/foxtrot", False), ("/echo", True), ("/echo", False)]


def test_routes_of_a_single_table_are_never_resorted():
    a = rt("a", GS, route(m("/a"), action=to("echo")), route(m("/a/longer"), action=to("echo")))
    t = translate([vs("app", route(m("/"), delegate=sel())), a, UP], "current")
    assert paths(t) == ["/a", "/a/longer"]


def test_same_weight_warning_only_in_13():
    a = rt("a", GS, route(m("/a"), action=to("echo")))
    b = rt("b", GS, route(m("/b"), action=to("echo")))
    old = translate([vs("app", route(m("/"), delegate=sel())), a, b, UP], "1.3")
    assert messages(old, "VirtualService", GS, "app").warnings == [
        "the following route tables have the same weight (0): [gloo-system.a, gloo-system.b]. This can result "
        "in unintended ordering of the resulting routes on the Proxy resource"]
    # A gateway-level warning is not a proxy report: 1.3 still pushes.
    assert old.push.decision == "push"
    new = translate([vs("app", route(m("/"), delegate=sel())), a, b, UP], "current")
    assert messages(new, "VirtualService", GS, "app").state == "Accepted"


# --- cycles --------------------------------------------------------------------------------

def test_cycle_is_an_error_on_the_table_about_to_be_visited_and_the_vs_current():
    a = rt("a", "team", route(m("/a"), delegate=ref("b", "team")))
    b = rt("b", "team", route(m("/a"), delegate=ref("a", "team")))
    t = translate([vs("app", route(m("/a"), delegate=ref("a", "team"))), a, b, UP], "current")
    msg = "invalid route: delegation cycle detected: [team.a] -> [team.b] -> [team.a]"
    assert messages(t, "RouteTable", "team", "a").errors == [msg]
    assert messages(t, "VirtualService", GS, "app").errors == [f"on sub route table team.a: {msg}"]
    assert messages(t, "VirtualService", GS, "app").state == "Rejected"
    assert t.envoy.listeners == []  # the rejected VS has no earlier vhost to keep


def test_cycle_aborts_the_whole_vs_in_13():
    a = rt("a", "team", route(m("/a"), delegate=ref("a", "team")))
    t = translate([vs("app", route(m("/a"), delegate=ref("a", "team"))), a, UP], "1.3")
    assert messages(t, "VirtualService", GS, "app").errors == [
        "invalid route: delegation cycle detected: [team.a] -> [team.a]"]
    assert messages(t, "RouteTable", "team", "a").state == "Accepted"


# --- child vs parent matchers ---------------------------------------------------------------

def test_prefix_mismatch_drops_the_child_route_with_a_warning_current():
    team = rt("t", "team", route(m("/other"), action=to("echo")), route(m("/api/ok"), action=to("echo")))
    t = translate([vs("app", route(m("/api"), delegate=ref("t", "team"))), team, UP], "current")
    msg = ("required prefix: /api, prefix: /other: invalid route: route table matchers must begin with the "
           "prefix of their parent route's matcher")
    assert messages(t, "RouteTable", "team", "t").warnings == [msg]
    assert messages(t, "VirtualService", GS, "app").warnings == [f"on sub route table team.t: {msg}"]
    assert paths(t) == ["/api/ok"]
    assert t.push.decision == "push"


def test_prefix_mismatch_is_an_error_in_13_with_name_dot_namespace_wrap():
    team = rt("t", "team", route(m("/other"), action=to("echo")), route(m("/api/ok"), action=to("echo")))
    t = translate([vs("app", route(m("/api"), delegate=ref("t", "team"))), team, UP], "1.3")
    msg = ("required prefix: /api, path: /other: invalid route: route table matchers must begin with the "
           "prefix of their parent route's matcher")
    assert messages(t, "RouteTable", "team", "t").errors == [msg]
    assert messages(t, "VirtualService", GS, "app").errors == [f"on sub route table t.team: {msg}"]
    # The VS is rejected and had no earlier vhost: nothing is served for it.
    assert t.envoy.route_configurations == []


def test_regex_child_passes_the_plain_string_prefix_test():
    team = rt("t", "team", route(m(regex="/api/.*"), action=to("echo")))
    t = translate([vs("app", route(m("/api"), delegate=ref("t", "team"))), team, UP], "current")
    assert paths(t) == ["/api/.*"]


def test_delegate_route_with_headers_13_is_an_error():
    team = rt("t", "team", route(m("/a"), action=to("echo")))
    t = translate([vs("app", route(m("/a", headers=[("x", "1")]), delegate=ref("t", "team"))), team, UP], "1.3")
    assert messages(t, "VirtualService", GS, "app").errors == [
        "invalid route: routes with delegate actions cannot use header matchers"]


def test_delegate_headers_current_child_must_carry_them():
    parent = route(m("/a", headers=[("x", "1")]), delegate=ref("t", "team"))
    team = rt("t", "team", route(m("/a/1", headers=[("x", "1"), ("y", "2")]), action=to("echo")),
              route(m("/a/2"), action=to("echo")))
    t = translate([vs("app", parent), team, UP], "current")
    (warning,) = messages(t, "RouteTable", "team", "t").warnings
    assert warning.startswith('required headers: [name:"x" value:"1"], headers: []: invalid route: route table '
                              "matchers must have all headers")
    assert paths(t) == ["/a/1"]


def test_inheritable_matchers_prepend_parent_headers_methods_and_query():
    parent = route(m("/a", headers=[("x", "1")], methods=["GET"]), delegate=ref("t", "team"), inherit=True)
    team = rt("t", "team", route(m("/a/1", headers=[("y", "2")], methods=["POST"]), action=to("echo")))
    t = translate([vs("app", parent), team, UP], "current")
    (_, _, match, _), = envoy_routes(t)
    assert [h["name"] for h in match["headers"]] == ["x", "y", ":method"]
    assert match["headers"][2]["safeRegexMatch"]["regex"] == "GET|POST"


def test_inheritable_path_matchers_replace_the_child_path():
    parent = route(m("/a", case=False), delegate=ref("t", "team"), inherit_path=True)
    team = rt("t", "team", route(m("/ignored", headers=[("y", "2")]), action=to("echo")),
              route(action=to("echo")))
    t = translate([vs("app", parent), team, UP], "current")
    got = [(mt["prefix"], mt.get("caseSensitive")) for _, _, mt, _ in envoy_routes(t)]
    assert got == [("/a", False), ("/a", False)]


def test_case_sensitivity_must_equal_the_parent_nil_is_not_false():
    parent = route(m("/a"), delegate=ref("t", "team"))
    team = rt("t", "team", route(m("/a/1", case=False), action=to("echo")))
    t = translate([vs("app", parent), team, UP], "current")
    (warning,) = messages(t, "RouteTable", "team", "t").warnings
    assert warning == ("required caseSensitive: , caseSensitive: <nil>: invalid route: route table matchers "
                       "must have the same case sensitivity of their parent route's matcher")


def test_methods_must_be_a_superset():
    parent = route(m("/a", methods=["GET"]), delegate=ref("t", "team"))
    team = rt("t", "team", route(m("/a/1", methods=["GET", "POST"]), action=to("echo")),
              route(m("/a/2", methods=["POST"]), action=to("echo")))
    t = translate([vs("app", parent), team, UP], "current")
    (warning,) = messages(t, "RouteTable", "team", "t").warnings
    assert warning.startswith("required methods: [GET], methods: [POST]: invalid route")
    assert paths(t) == ["/a/1"]


@pytest.mark.parametrize("profile", ["1.3", "current"])
@pytest.mark.parametrize(("matchers", "message"), [
    ((m("/a"), m("/b")), "invalid route: routes with delegate actions must omit or specify a single matcher"),
    ((m(exact="/a"),), "invalid route: routes with delegate actions must use a prefix matcher"),
])
def test_bad_delegate_matchers_are_errors(profile, matchers, message):
    team = rt("t", "team", route(m("/a"), action=to("echo")))
    t = translate([vs("app", route(*matchers, delegate=ref("t", "team"))), team, UP], profile)
    assert messages(t, "VirtualService", GS, "app").errors == [message]


def test_route_without_action_is_an_error():
    t = translate([vs("app", route(m("/a")), route(m("/b"), action=to("echo"))), UP], "current")
    assert messages(t, "VirtualService", GS, "app").errors == ["invalid route: route must specify an action"]


def test_route_without_action_in_a_table_is_wrapped_on_the_vs():
    team = rt("t", "team", route(m("/a/x")))
    t = translate([vs("app", route(m("/a"), delegate=ref("t", "team"))), team, UP], "current")
    assert messages(t, "VirtualService", GS, "app").errors == [
        "on sub route table team.t: invalid route: route must specify an action"]


def test_child_options_win_and_parent_fills_unset():
    parent = route(m("/a"), delegate=ref("t", "team"), options={"timeout": "9s", "prefixRewrite": "/p"})
    team = rt("t", "team", route(m("/a/1"), action=to("echo"), options={"timeout": "2s"}))
    t = translate([vs("app", parent), team, UP], "current")
    (_, _, _, action), = envoy_routes(t)
    assert (action["timeout"], action["prefixRewrite"]) == ("2s", "/p")


def test_upstream_namespace_defaults_to_the_owner_namespace_current_only():
    team = rt("t", "team", route(m("/a"), action=to("echo", ns="")))
    inputs = [vs("app", route(m("/a"), delegate=ref("t", "team"))), team, kube_upstream("echo", "team")]
    assert clusters_of(translate(inputs, "current")) == ["echo_team"]
    # v1.3.20 converter.go has no such defaulting: the empty namespace stays.
    assert clusters_of(translate(inputs, "1.3")) == ["echo"]


# --- names and sources ---------------------------------------------------------------------

def test_route_names_and_sources_per_profile():
    team = rt("echo-routes", "echo", route(m("/echo"), action=to("echo"), name="canary"),
              route(m("/echo"), action=to("echo")))
    inputs = [vs("app", route(m("/echo"), delegate=ref("echo-routes", "echo"))), team, UP]
    cur = translate(inputs, "current")
    names = [r.name for vh in cur.proxy.listeners[0].virtual_hosts for r in vh.routes]
    assert names == [
        "vs:gateway-proxy_gateway-proxy_gloo-system_app_route:<unnamed-0>_rt:echo_echo-routes_route:canary", ""]
    assert [n for _, n, _, _ in envoy_routes(cur)] == [
        f"gloo-system_app-route-0-{names[0]}-matcher-0", "gloo-system_app-route-1-matcher-0"]
    old = translate(inputs, "1.3")
    names13 = [r.name for vh in old.proxy.listeners[0].virtual_hosts for r in vh.routes]
    assert names13 == ["vs:app_route:<unnamed>_rt:echo-routes_route:canary", ""]
    assert [n for _, n, _, _ in envoy_routes(old)] == [f"{names13[0]}-0", ""]
    sources = cur.proxy.listeners[0].virtual_hosts[0].routes[0].sources
    assert [(s.kind, s.ref) for s in sources] == [("RouteTable", "echo/echo-routes"),
                                                  ("VirtualService", "gloo-system/app")]


def test_nested_sources_list_the_innermost_table_first():
    mid = rt("mid", "team", route(m("/a"), delegate=ref("leaf", "team")))
    leaf = rt("leaf", "team", route(m("/a/b"), action=to("echo")))
    t = translate([vs("app", route(m("/a"), delegate=ref("mid", "team"))), mid, leaf, UP], "current")
    (r,) = t.proxy.listeners[0].virtual_hosts[0].routes
    assert [s.name for s in r.sources] == ["leaf", "mid", "app"]


# --- virtual services and gateways ------------------------------------------------------------

@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_domain_conflict_rejects_both_vs_and_the_gateway(profile):
    a = vs("a", route(m("/"), action=to("echo")), domains=["x.com"])
    b = vs("b", route(m("/"), action=to("echo")), domains=["x.com"])
    t = translate([a, b, UP], profile)
    # The gateway's error, then Gloo's own check of the desired Proxy (merged back onto the VS).
    assert messages(t, "VirtualService", GS, "a").errors == [
        "domain conflict: the [x.com] domain is present in other virtual services that belong to the same "
        "Gateway as this one: [gloo-system.b]",
        "VirtualHost Error: DomainsNotUniqueError. Reason: domain x.com is shared by the following virtual "
        "hosts: [gloo-system.a gloo-system.b]"]
    assert messages(t, "Gateway", GS, "gateway-proxy").errors == [
        "domain conflict: the following domains are present in more than one of the virtual services "
        "associated with this gateway: [x.com]"]


def test_empty_domains_conflict_message():
    a = vs("a", route(m("/"), action=to("echo")), domains=[])
    b = vs("b", route(m("/"), action=to("echo")), domains=[])
    t = translate([a, b, UP], "current")
    assert messages(t, "VirtualService", GS, "b").errors[0] == (
        "domain conflict: other virtual services that belong to the same Gateway as this one don't specify a "
        "domain (and thus default to '*'): [gloo-system.a]")
    assert messages(t, "Gateway", GS, "gateway-proxy").errors[0].endswith("[EMPTY_DOMAIN]")


def test_vs_without_virtual_host_is_a_warning():
    from gloo_nb.models.resources import VirtualService
    t = translate([VirtualService(meta=ObjectMeta("bare", GS)), UP], "current")
    assert messages(t, "VirtualService", GS, "bare").warnings == [
        "virtual service [gloo-system.bare] does not specify a virtual host"]


def test_no_virtual_services_means_no_listener():
    t = translate([UP, RouteTable(meta=ObjectMeta("x", GS))], "current")
    assert t.envoy.listeners == [] and t.envoy.route_configurations == []
    assert [c.name for c in t.envoy.clusters] == ["echo_gloo-system"]
