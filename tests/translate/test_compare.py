"""``gloo-nb translate --compare 1.3,current``: what the other Gloo version would do with the same resources.

The seed scenario's lesson (spec section 6) as a tool: in Part 2, rt-echo-3.yaml names an Upstream that does not
exist (``echo-typo``). Gloo 1.3 withholds the whole proxy's snapshot for that warning (``reports.ValidateStrict``,
``projects/gloo/pkg/syncer/envoy_translator_syncer.go@v1.3.20``), so no team's change reaches Envoy; current Gloo
pushes the sanitized snapshot (``syncer/sanitizer/*.go``) and every other route is served.
"""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace

import pytest
from builders import kube_upstream, m, route, service, settings, static_upstream, to, vs
from test_proxies import scenario

from gloo_nb import cli
from gloo_nb.app.manifests import read_manifests
from gloo_nb.errors import UsageError
from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_object, parse_objects
from gloo_nb.models.defaults import helm_default_settings_manifest
from gloo_nb.translate import compare, translate
from gloo_nb.translate.compare import compare_translations, parse_profile_pair

pytestmark = pytest.mark.unit

SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary" / "part2"
BASE = ["echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "vs.yaml", "echo-v2.yaml",
        "foxtrot-v2.yaml"]
STEP4 = [*BASE, "rt-echo-2.yaml", "rt-foxtrot-3.yaml"]
STEP5 = [*BASE, "rt-echo-3.yaml", "rt-foxtrot-4.yaml"]
PROXY = "gloo-system/gateway-proxy"
CANARY_ECHO = '{"headers":[{"exactMatch":"canary","name":"stage"}],"prefix":"/echo"}'
TYPO_13 = "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {echo-typo gloo-system} not found"
TYPO_CUR = "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { gloo-system.echo-typo } not found"


def seed(files):
    return read_manifests([str(SEED / f) for f in files]).resources


def run_cli(*argv):
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(list(argv))
    return code, out.getvalue()


def by_match(proxy):
    return {(r.route.virtual_host, r.route.match): r for r in proxy.routes}


def test_seed_typo_freezes_the_whole_proxy_on_13_and_current_serves_every_route():
    c = compare(seed(STEP5), "1.3,current")
    assert c.profiles == ("1.3", "current")
    assert not c.identical
    (px,) = c.proxies
    assert px.ref == PROXY
    assert px.push["1.3"].decision == "keep-last-good"
    assert px.push["1.3"].reason == f"proxy gloo-system.gateway-proxy was rejected due to invalid config: {TYPO_13}"
    assert px.push["current"].decision == "push"
    assert px.push_differs
    # Every route of the proxy, not only echo's: the freeze is whole-proxy.
    assert [(r.resource, r.sides["1.3"].state, r.sides["current"].state) for r in px.routes] == [
        ("echo/echo-routes", "frozen", "served"), ("echo/echo-routes", "frozen", "served"),
        ("foxtrot/foxtrot-routes", "frozen", "served"), ("foxtrot/foxtrot-routes", "frozen", "served")]
    assert px.route_states == {"1.3": {"frozen": 4}, "current": {"served": 4}}
    canary = by_match(px)[("gloo-system_app", CANARY_ECHO)]
    assert canary.sides["current"].intended.action_summary == "echo-typo_gloo-system {version=v2}"
    assert canary.sides["1.3"].served is None  # a fresh control plane: nothing earlier to keep
    assert {c.name: (c.states["1.3"], c.states["current"]) for c in px.clusters} == {
        "echo_gloo-system": ("frozen", "served"), "foxtrot_gloo-system": ("frozen", "served"),
        "kube-svc:echo-echo-80_echo": ("frozen", "served"),
        "kube-svc:foxtrot-foxtrot-80_foxtrot": ("frozen", "served")}
    # Same state (Warning) on the VirtualService, but each version writes the missing Upstream its own way.
    vs_diff = next(d for d in c.reports if d.key.kind == "VirtualService")
    assert vs_diff.reports["1.3"].warnings == [TYPO_13, TYPO_13]
    assert vs_diff.reports["current"].warnings == [TYPO_CUR, TYPO_CUR]
    assert c.summary() == [
        "On current, VirtualService gloo-system/app would be Warning as on 1.3, with other messages",
        "On current, Proxy gloo-system/gateway-proxy would be Warning as on 1.3, with other messages",
        f"On current, proxy {PROXY} would push its sanitized snapshot instead of keeping its last good "
        "configuration for the whole proxy",
        f"On current, 4 routes of proxy {PROXY} would be served instead of frozen",
        f"On current, 1 listener, 1 virtual host and 4 clusters of proxy {PROXY} would be served instead of "
        "frozen",
        # Current Gloo's default HTTP filters (local_ratelimit, csrf) are not 1.3's (translate/http_filters.py).
        f"On current, 1 listener of proxy {PROXY} would be built differently",
    ]


def test_with_the_previous_step_it_says_what_envoy_keeps_serving_on_13():
    c = compare(seed(STEP5), ("1.3", "current"), previous=seed(STEP4))
    (px,) = c.proxies
    rows = by_match(px)
    canary = rows[("gloo-system_app", CANARY_ECHO)]
    # 1.3: Envoy keeps step 4's canary route to echo v2; current serves the typo (no healthy cluster).
    assert canary.sides["1.3"].served.action_summary == "echo_gloo-system {version=v2}"
    assert canary.sides["current"].served.action_summary == "echo-typo_gloo-system {version=v2}"
    assert canary.changes == ("state", "servedAction")
    fox = rows[("gloo-system_app", '{"prefix":"/foxtrot"}')]
    # foxtrot's shift to v2=100 is held back by echo's typo on 1.3: the seed incident.
    assert fox.sides["1.3"].served.action["weightedClusters"]["clusters"][0]["weight"] == 100
    assert fox.sides["current"].served.action["weightedClusters"]["clusters"][1]["weight"] == 100
    assert fox.resource == "foxtrot/foxtrot-routes"
    assert f"On current, 4 routes of proxy {PROXY} would be served instead of frozen (2 of them would route " \
           "differently)" in c.summary()
    text = c.text()
    assert text.startswith("Gloo 1.3 -> current\nOn current, VirtualService gloo-system/app")
    assert "1.3: frozen (translated -> echo-typo_gloo-system {version=v2}; Envoy keeps serving -> " \
           "echo_gloo-system {version=v2})" in text


def test_equal_weights_warn_on_13_only_and_the_warning_does_not_freeze_the_proxy():
    """Part 2 step 8 without the settings patch: vs-2 gives both RouteTables weight 0.

    1.3 warns on equal weights (``projects/gateway/pkg/translator/route_table_selector.go@v1.3.20``); current does
    not. It is a gateway warning on the VirtualService, not a warning of Gloo's proxy translation, so 1.3's
    ``reports.ValidateStrict`` does not see it: both push the same routes.
    """
    files = [*BASE, "rt-echo-4.yaml", "rt-foxtrot-6.yaml", "vs-2.yaml"]
    c = compare(seed(files))
    assert c.summary() == ["On current, VirtualService gloo-system/app would be Accepted instead of Warning",
                           f"On current, 1 listener of proxy {PROXY} would be built differently"]
    (px,) = c.proxies
    assert (px.push["1.3"].decision, px.push["current"].decision) == ("push", "push")
    assert px.routes == () and px.clusters == ()
    assert px.route_states == {"1.3": {"served": 3}, "current": {"served": 3}}


def test_an_upstream_error_rejects_on_13_and_drops_the_cluster_on_current():
    """``test_upstream_tls.py::test_missing_upstream_secret``, compared.

    plugins/upstreamssl@v1.3.20: the missing secret is the Upstream's error and 1.3 keeps the last good snapshot;
    current's ``upstream_removing_sanitizer.go`` drops the cluster and turns the error into one warning (the
    multierror text), then pushes.
    """
    docs = [{"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "u", "namespace": "gloo-system"},
             "spec": {"static": {"hosts": [{"addr": "10.0.0.1", "port": 8443}]},
                      "sslConfig": {"secretRef": {"name": "gone", "namespace": "gloo-system"}}}}]
    resources = [*parse_objects(docs).resources, vs("app", route(m("/u"), action=to("u")))]
    c = compare(resources)
    text = "SSL secret not found: list did not find secret gloo-system.gone"
    up = next(d for d in c.reports if d.key.kind == "Upstream")
    assert up.reports["1.3"].errors == [text]
    assert up.reports["current"].warnings == [f"1 error occurred:\n\t* {text}\n\n"]
    assert "On current, Upstream gloo-system/u would be Warning instead of Rejected" in c.summary()
    (px,) = c.proxies
    (cluster,) = px.clusters
    assert (cluster.name, cluster.states["1.3"], cluster.states["current"]) == ("u_gloo-system", "frozen", "absent")
    assert f"On current, 1 cluster of proxy {PROXY} would be absent instead of frozen" in c.summary()
    (r,) = px.routes
    assert (r.sides["1.3"].state, r.sides["current"].state) == ("frozen", "served")


def test_with_route_replacement_current_replaces_the_route_13_strips():
    """``test_policy.py``'s ``test_current_replace_demotes_route_errors_so_the_vs_is_not_frozen`` and
    ``test_13_replace_policy_still_rejects_on_route_errors``, compared: a subset the Upstream does not declare.

    Current's ``route_replacing_sanitizer.go:removeErroredRoutesFromReport`` demotes the route error to a warning
    and points the route at the fallback cluster; 1.3's gateway rejects the VirtualService, and its virtual host
    is stripped from the Proxy (``proxy_reconciler.go``).
    """
    c = compare([vs("app", route(m("/"), action=to("echo", subset={"color": "blue"}))), kube_upstream("echo"),
                 settings(replace=True)])
    assert c.summary()[0] == "On current, VirtualService gloo-system/app would be Warning instead of Rejected"
    (px,) = c.proxies
    (r,) = px.routes
    assert (r.sides["1.3"].state, r.sides["current"].state) == ("absent", "replaced")
    assert r.sides["current"].intended.action == {"cluster": "fallback_cluster_for_invalid_routes",
                                                  "metadataMatch": {"filterMetadata": {"envoy.lb": {"color": "blue"}}}}
    assert f"On current, 1 route of proxy {PROXY} would be replaced by the fallback instead of absent" in c.summary()
    assert {x.name: (x.states["1.3"], x.states["current"]) for x in px.listeners} == {
        "fallback_listener_for_invalid_routes": ("absent", "served"), "listener-::-8080": ("absent", "served")}


def test_a_route_removed_while_13_is_frozen_stays_served_there():
    before = [vs("app", route(m("/a"), action=to("echo")), route(m("/old"), action=to("echo"))),
              static_upstream("echo")]
    after = [vs("app", route(m("/a"), action=to("missing"))), static_upstream("echo")]
    c = compare(after, previous=before)
    (px,) = c.proxies
    rows = {r.match_summary: r for r in px.routes}
    old = rows["prefix /old"]
    assert (old.sides["1.3"].state, old.sides["current"].state) == ("kept", "absent")
    assert old.sides["1.3"].served.action_summary == "echo_gloo-system"
    a = rows["prefix /a"]
    assert (a.sides["1.3"].state, a.sides["current"].state) == ("frozen", "served")
    assert a.sides["1.3"].served.action_summary == "echo_gloo-system"
    assert a.sides["current"].served.action_summary == "missing_gloo-system"
    assert f"On current, 1 route of proxy {PROXY} would be absent instead of kept from the last good " \
           "configuration" in c.summary()
    assert "1.3: kept from the last good configuration -> echo_gloo-system" in c.text()


def test_the_same_resources_differ_only_in_current_default_filters():
    """Current Gloo adds local_ratelimit and csrf to every HCM (their ``HttpFilters``), v1.3.20 does not."""
    c = compare([vs("app", route(m("/"), action=to("echo"))), kube_upstream("echo", subset_keys=()),
                 service("echo")], "1.3,current")
    assert not c.identical
    (px,) = c.proxies
    assert [(li.name, li.fields) for li in px.listeners] == [("listener-::-8080", ("filterChains",))]
    assert c.summary() == [f"On current, 1 listener of proxy {PROXY} would be built differently"]


def test_the_same_resources_can_do_the_same_on_both():
    """With ``removeUnusedFilters``, ``disableGrpcWeb: false`` (else it follows removeUnusedFilters) and routes that
    use the fault, CORS and transformation filters, current's chain is 1.3's (fault, cors, grpc_web,
    io.solo.transformation, router): nothing differs."""
    opts = {"faults": {"abort": {"percentage": 50, "httpStatus": 503}}, "cors": {"allowOrigin": ["a.example"]},
            "transformations": {"clearRouteCache": True}}
    doc = helm_default_settings_manifest(profile="current")
    doc["spec"]["gloo"].update(removeUnusedFilters=True, disableGrpcWeb=False)
    parsed = parse_object(doc).resource
    c = compare([vs("app", route(m("/"), action=to("echo"), options=opts)), kube_upstream("echo", subset_keys=()),
                 service("echo"), parsed], "1.3,current")
    assert c.identical, c.summary()
    assert c.summary() == ["1.3 and current would do the same with these resources: same reports, push "
                           "decisions, routes and clusters."]
    assert c.text().count("\n") == 2


def test_reversed_order_speaks_from_13s_point_of_view():
    c = compare(seed(STEP5), "current,1.3")
    assert c.profiles == ("current", "1.3")
    assert f"On 1.3, proxy {PROXY} would keep its last good configuration for the whole proxy instead of " \
           "pushing" in c.summary()
    assert f"On 1.3, 4 routes of proxy {PROXY} would be frozen instead of served" in c.summary()


def test_each_proxy_is_compared_on_its_own():
    """Gloo sanitizes and sets each proxy's snapshot key on its own (``envoy_translator_syncer.go``).

    A missing Upstream behind the ``internal`` proxy freezes only that proxy on 1.3.
    """
    c = compare(scenario(only_b_upstream="missing"), "1.3,current")
    assert [p.name for p in c.proxies] == ["gateway-proxy", "internal"]
    default, internal = c.proxies
    assert not default.push_differs and default.routes == ()
    assert (internal.push["1.3"].decision, internal.push["current"].decision) == ("keep-last-good", "push")
    assert internal.route_states["1.3"] == {"frozen": 2}
    doc = c.document()
    assert [p["name"] for p in doc["proxies"]] == ["gateway-proxy", "internal"]
    assert doc["proxies"][1]["push"]["differs"] is True


def test_compare_translations_needs_two_versions():
    snap = Snapshot.from_resources(seed(STEP5))
    with pytest.raises(UsageError, match="both translations are of Gloo 1.3"):
        compare_translations(translate(snap, "1.3"), translate(snap, "1.3"))
    same = compare_translations(translate(snap, "1.3"), translate(snap, "current"))
    assert same.document() == compare(snap).document()


@pytest.mark.parametrize(("value", "message"), [
    ("1.3", "--compare: expected two Gloo versions separated by a comma, e.g. 1.3,current; got '1.3'"),
    ("1.3,current,1.3", "--compare: expected two Gloo versions"),
    ("1.3,", "--compare: expected two Gloo versions"),
    ("1.3,1.3", "--compare: give two different Gloo versions, e.g. 1.3,current; got 1.3 twice"),
    ("1.3,1.2", "--compare: unknown Gloo version '1.2': use one of 1.3, current"),
])
def test_bad_profile_pairs_are_one_line_usage_errors(value, message):
    with pytest.raises(UsageError, match="^" + message.replace(".", r"\.").replace("(", r"\(")) as err:
        parse_profile_pair(value)
    assert "\n" not in str(err.value)


def test_json_document_shape():
    c = compare(seed(STEP5), previous=seed(STEP4))
    doc = json.loads(json.dumps(c.document()))
    assert set(doc) == {"profiles", "identical", "summary", "reports", "proxies"}
    assert doc["profiles"] == ["1.3", "current"] and doc["identical"] is False
    report = doc["reports"][0]
    assert set(report) == {"kind", "namespace", "name", "byProfile"}
    assert set(report["byProfile"]["1.3"]) == {"state", "errors", "warnings", "reason"}
    px = doc["proxies"][0]
    assert set(px) == {"namespace", "name", "push", "routeStates", "routes", "clusters", "listeners", "virtualHosts"}
    assert px["push"]["byProfile"]["1.3"]["decision"] == "keep-last-good"
    r = px["routes"][0]
    assert set(r) == {"routeConfiguration", "virtualHost", "match", "matchSummary", "resource", "sources",
                      "changes", "byProfile"}
    assert r["routeConfiguration"] == "listener-::-8080-routes"
    assert r["match"] == {"headers": [{"exactMatch": "canary", "name": "stage"}], "prefix": "/echo"}
    assert r["sources"][0] == {"kind": "RouteTable", "namespace": "echo", "name": "echo-routes"}
    side = r["byProfile"]["1.3"]
    assert set(side) == {"state", "order", "action", "actionSummary", "servedAction", "servedActionSummary"}
    assert side["state"] == "frozen" and side["servedAction"]["cluster"] == "echo_gloo-system"
    assert r["byProfile"]["current"]["action"]["cluster"] == "echo-typo_gloo-system"
    assert px["listeners"] == [{"name": "listener-::-8080", "fields": ["filterChains"],
                               "byProfile": {"1.3": {"state": "frozen"}, "current": {"state": "served"}}}]
    assert px["clusters"][0] == {"name": "echo_gloo-system", "fields": [],
                                 "byProfile": {"1.3": {"state": "frozen"}, "current": {"state": "served"}}}


def test_cli_compare_text_and_json():
    paths = [str(SEED / f) for f in STEP5]
    code, out = run_cli("translate", "--compare", "1.3,current", *paths)
    assert code == 0
    assert out.splitlines()[0] == "Gloo 1.3 -> current"
    assert f"On current, 4 routes of proxy {PROXY} would be served instead of frozen" in out
    code, out = run_cli("translate", "--compare", "1.3,current", "--json", *paths,
                        *[a for f in STEP4 for a in ("--previous", str(SEED / f))])
    assert code == 0
    doc = json.loads(out)
    assert doc["proxies"][0]["routes"][0]["byProfile"]["1.3"]["servedActionSummary"] == \
        "echo_gloo-system {version=v2}"


@pytest.mark.parametrize(("argv", "message"), [
    (["--compare", "1.3"], "gloo-nb: --compare: expected two Gloo versions separated by a comma"),
    (["--compare", "1.3,2.0"], "gloo-nb: --compare: unknown Gloo version '2.0'"),
    (["--compare", "current,current"], "gloo-nb: --compare: give two different Gloo versions"),
    (["--compare", "1.3,current", "--gloo-version", "1.3"], "gloo-nb: translate: give --compare A,B or "
                                                             "--gloo-version, not both"),
    (["--previous", "x.yaml"], "gloo-nb: translate: --previous needs --compare A,B"),
])
def test_cli_bad_compare_flags_exit_2_with_one_line(argv, message, capsys):
    code = cli.main(["translate", *argv, str(SEED / "vs.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1


def test_cli_compare_on_a_connection_reads_the_live_resources(monkeypatch):
    snapshot = Snapshot.from_resources(seed(STEP5))

    class FakeConnection:
        proxy = "gateway-proxy"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read_snapshot(self):
            return snapshot, None

    seen = []
    monkeypatch.setattr(cli, "_connect", lambda args: seen.append(args.sandbox) or FakeConnection())
    code, out = run_cli("translate", "--compare", "1.3,current", "--sandbox", "/nowhere", "--json")
    assert code == 0 and seen == ["/nowhere"]
    assert json.loads(out) == compare(snapshot, "1.3,current", proxy="gateway-proxy").document()
    code = cli.main(["translate", "--compare", "1.3,current", "--sandbox", "/nowhere", str(SEED / "vs.yaml")])
    assert code == 2


def test_a_plain_translate_still_needs_input(capsys):
    assert cli.main(["translate"]) == 2
    assert "pass manifest files" in capsys.readouterr().err
    assert sys.modules["gloo_nb.translate"].compare is compare


def test_a_proxy_only_one_side_has_is_said_not_dropped():
    # compare_translations matches proxies by name; here the two inputs differ on purpose (a Gateway for the
    # `internal` proxy on one side only), as when a Gateway kind or field is read by one version only.
    a = translate(scenario(), "1.3")
    b = translate([r for r in scenario() if getattr(r.meta, "name", "") != "gw-b"], "current")
    c = compare_translations(a, b)
    internal = next(p for p in c.proxies if p.name == "internal")
    assert internal.push["current"] is None and internal.push["1.3"] is not None
    assert "On current, proxy gloo-system/internal would not exist (there on 1.3)" in c.summary()
    assert all(r.sides["current"].state == "absent" for r in internal.routes)
    assert c.document()["proxies"][1]["push"]["byProfile"]["current"] is None
    assert "push on current: no such proxy" in c.text()


def test_translate_on_a_connection_without_compare(monkeypatch):
    t = translate(seed(STEP5), "1.3")

    class FakeConnection:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def intent(self):
            return t, SimpleNamespace(findings=[], skipped=[])  # a ParseResult with nothing to say

    monkeypatch.setattr(cli, "_connect", lambda args: FakeConnection())
    code, out = run_cli("translate", "--sandbox", "/nowhere", "--json")
    assert code == 0
    assert json.loads(out)["glooVersion"] == "1.3"
    assert cli.main(["translate", "--sandbox", "/nowhere", str(SEED / "vs.yaml")]) == 2
