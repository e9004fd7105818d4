"""UpstreamGroups: the kind, a route's ``upstreamGroup`` as weighted clusters, and the group's own report.

Gloo sources: ``projects/gloo/pkg/translator/route_config.go`` (setRouteAction, setWeightedClusters,
validateUpstreamGroup), ``translator/upstream_groups.go`` (verifyUpstreamGroups), both at v1.3.20 and main.
"""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from gloo_nb.errors import ParseError
from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_stream
from gloo_nb.models.resources import UpstreamGroup
from gloo_nb.translate import translate
from gloo_nb.translate.translator import Translator

pytestmark = pytest.mark.unit

GS = "gloo-system"


def _upstream(name: str, ns: str = GS, port: int = 9000) -> str:
    return f"""apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {{name: {name}, namespace: {ns}}}
spec: {{static: {{hosts: [{{addr: 127.0.0.1, port: {port}}}]}}}}
"""


def _group(*dests: tuple[str, str | None, int], name: str = "test", ns: str = GS) -> str:
    lines = []
    for up, up_ns, weight in dests:
        ref = f"{{name: {up}}}" if up_ns is None else f"{{name: {up}, namespace: {up_ns}}}"
        lines.append(f"  - destination: {{upstream: {ref}}}\n    weight: {weight}")
    body = "\n".join(lines)
    return f"""apiVersion: gloo.solo.io/v1
kind: UpstreamGroup
metadata: {{name: {name}, namespace: {ns}}}
spec:
  destinations:
{body}
"""


def _vs(group: str = "test", group_ns: str = GS) -> str:
    return f"""apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: vs, namespace: {GS}}}
spec:
  virtualHost:
    domains: ['*']
    routes:
    - matchers: [{{prefix: /}}]
      routeAction: {{upstreamGroup: {{name: {group}, namespace: {group_ns}}}}}
"""


def _translate(*docs: str, profile: str = "current"):
    parsed = parse_stream("---\n".join(docs), file="t.yaml")
    return translate(parsed.resources, profile)


def _routes(t) -> list[dict]:
    (rc,) = t.envoy.route_configurations
    return [json_format.MessageToDict(r) for r in rc.virtual_hosts[0].routes]


def _report(t, kind: str, name: str):
    return next(r for r in t.reports if r.key.kind == kind and r.key.name == name)


# --- the kind ---------------------------------------------------------------------------------


def test_the_codec_reads_an_upstream_group():
    """proxy.proto UpstreamGroup: ``destinations`` are WeightedDestinations; an entry without a destination
    is kept (as an empty Destination) and its index remembered for Gloo's ``destination is nil``."""
    parsed = parse_stream(_group(("a", GS, 9)) + "  - weight: 1\n", file="ug.yaml")
    (ug,) = parsed.resources
    assert isinstance(ug, UpstreamGroup)
    assert ug.key.kind == "UpstreamGroup" and ug.key.ref == "gloo-system/test"
    assert [wd.weight for wd in ug.destinations] == [9, 1]
    assert ug.destinations[0].destination.upstream is not None
    assert ug.nil_destinations == (1,)
    assert parsed.findings == [] and parsed.skipped == []


def test_an_unknown_field_in_an_upstream_group_is_a_finding_naming_the_field():
    parsed = parse_stream(_group(("a", GS, 1)).replace("  destinations:", "  destinatons: []\n  destinations:"),
                          file="ug.yaml")
    (finding,) = parsed.findings
    assert finding.resource.kind == "UpstreamGroup" and "destinatons" in finding.message


def test_a_wrong_type_in_an_upstream_group_is_one_error_naming_file_and_field():
    with pytest.raises(ParseError, match=r"ug\.yaml.*spec\.destinations\[0\]\.weight"):
        parse_stream(_group(("a", GS, 1)).replace("weight: 1", "weight: lots"), file="ug.yaml")


def test_upstream_groups_are_in_the_snapshot_sorted_by_namespace_then_name():
    t = _translate(_group(("a", GS, 1), name="z"), _group(("a", GS, 1), name="b"),
                   _group(("a", GS, 1), name="c", ns="default"))
    assert [ug.key.ref for ug in t.snapshot.upstream_groups] == ["default/c", "gloo-system/b", "gloo-system/z"]


# --- routes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_upstream_group_becomes_weighted_clusters(profile):
    """translator_test.go "when handling upstream groups" / "should translate upstream groups": total weight 2,
    two clusters in the group's order, named after each upstream."""
    t = _translate(_upstream("test"), _upstream("test2", port=9001), _group(("test", GS, 1), ("test2", GS, 1)),
                   _vs(), profile=profile)
    (route,) = _routes(t)
    assert route["route"]["weightedClusters"] == {
        "clusters": [{"name": "test_gloo-system", "weight": 1}, {"name": "test2_gloo-system", "weight": 1}],
        "totalWeight": 2}
    assert _report(t, "VirtualService", "vs").warnings == []
    ug = _report(t, "UpstreamGroup", "test")
    assert (ug.errors, ug.warnings) == ([], [])
    assert t.push.decision == "push"
    # No cluster of its own: the group only points at the Upstreams' clusters.
    assert sorted(c.name for c in t.envoy.clusters) == ["test2_gloo-system", "test_gloo-system"]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_invalid_ref_in_an_upstream_group(profile):
    """translator_test.go "should error on invalid ref in upstream groups": the group's report has
    ``destination # 1: upstream not found: list did not find upstream gloo-system.notexist``, the route a
    warning ``invalid destination in weighted destination list: *v1.Upstream { gloo-system.notexist } not found``
    (1.3 printed the ref as ``{notexist gloo-system}``)."""
    t = _translate(_upstream("test2", port=9001), _group(("notexist", GS, 1), ("test2", GS, 1)), _vs(),
                   profile=profile)
    assert _report(t, "UpstreamGroup", "test").errors == [
        "destination # 1: upstream not found: list did not find upstream gloo-system.notexist"]
    missing = "*v1.Upstream {notexist gloo-system} not found" if profile == "1.3" else \
        "*v1.Upstream { gloo-system.notexist } not found"
    assert _report(t, "VirtualService", "vs").warnings == [
        "Route Warning: InvalidDestinationWarning. Reason: invalid destination in weighted destination list: "
        + missing]
    (route,) = _routes(t)
    assert [c["name"] for c in route["route"]["weightedClusters"]["clusters"]] == [
        "notexist_gloo-system", "test2_gloo-system"]


def test_an_errored_upstream_group_freezes_the_proxy_in_1_3_only():
    """v1.3.20 envoy_translator_syncer.go + sanitizer/upstream_removing_sanitizer.go: only Upstreams' errors
    become warnings before ``reports.Validate()``; an UpstreamGroup's error keeps the last good snapshot.
    Current Gloo always pushes the sanitized snapshot."""
    docs = (_upstream("test2", port=9001), _group(("notexist", GS, 1), ("test2", GS, 1)), _vs())
    old = _translate(*docs, profile="1.3")
    assert old.push.decision == "keep-last-good"
    assert "destination # 1: upstream not found" in old.push.reason
    assert _translate(*docs, profile="current").push.decision == "push"


def test_group_namespace_is_the_default_for_its_upstreams_in_current():
    """translator_test.go "should use upstreamGroup's namespace as default if namespace is omitted on upstream
    destination" (main's verifyUpstreamGroups fills it in)."""
    t = _translate(_upstream("test"), _upstream("test2", port=9001), _group(("test", None, 1), ("test2", GS, 1)),
                   _vs())
    (route,) = _routes(t)
    assert [c["name"] for c in route["route"]["weightedClusters"]["clusters"]] == [
        "test_gloo-system", "test2_gloo-system"]
    assert _report(t, "UpstreamGroup", "test").errors == []


def test_group_without_upstream_namespace_in_1_3_names_the_cluster_without_one():
    """v1.3.20's verifyUpstreamGroups leaves the namespace empty; solo-kit's ``UpstreamList.Find`` then matches the
    name in any namespace (no error), and ``UpstreamToClusterName`` of a ref without namespace is the bare name."""
    t = _translate(_upstream("test"), _upstream("test2", port=9001), _group(("test", None, 1), ("test2", GS, 1)),
                   _vs(), profile="1.3")
    (route,) = _routes(t)
    assert [c["name"] for c in route["route"]["weightedClusters"]["clusters"]] == ["test", "test2_gloo-system"]
    assert _report(t, "UpstreamGroup", "test").errors == []
    assert _report(t, "VirtualService", "vs").warnings == []


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_nil_destination_in_a_group(profile):
    """upstream_groups.go: ``destination # N: destination is nil`` on the group."""
    doc = _group(("test", GS, 1)) + "  - weight: 1\n"
    t = _translate(_upstream("test"), doc, profile=profile)
    assert _report(t, "UpstreamGroup", "test").errors == ["destination # 2: destination is nil"]


def test_missing_upstream_group_sets_an_empty_cluster_in_current():
    """translator_test.go "when handling missing upstream groups" / "should set a ClusterSpecifier on the
    referring route": cluster ``""``; the route gets InvalidDestinationWarning twice (ValidateRouteDestinations,
    then setRouteAction's error reported as a warning), and no UpstreamGroup status is invented."""
    t = _translate(_upstream("test"), _vs("missing"))
    (route,) = _routes(t)
    assert route["route"] == {"cluster": ""}
    warning = ("Route Warning: InvalidDestinationWarning. Reason: *v1.UpstreamGroup { gloo-system.missing } "
               "not found")
    assert _report(t, "VirtualService", "vs").warnings == [warning, warning]
    assert not [r for r in t.reports if r.key.kind == "UpstreamGroup"]


def test_missing_upstream_group_leaves_the_route_action_empty_in_1_3():
    """v1.3.20 setRouteAction returns NewUpstreamGroupNotFoundErr before setting a cluster specifier; the
    warning freezes the proxy when replaceInvalidRoutes is off (ValidateStrict)."""
    t = _translate(_upstream("test"), _vs("missing"), profile="1.3")
    (route,) = _routes(t)
    assert route["route"] == {}
    warning = "Route Warning: InvalidDestinationWarning. Reason: *v1.UpstreamGroup {missing gloo-system} not found"
    assert _report(t, "VirtualService", "vs").warnings == [warning, warning]
    assert t.push.decision == "keep-last-good"


def test_group_without_a_namespace_on_the_route_per_profile():
    """``UpstreamGroupList.Find``: v1.3.20's (upstream_group.sk.go) matches an empty namespace to any; main's wants
    the namespace equal, so the group is not found."""
    docs = (_upstream("test"), _group(("test", GS, 3)), _vs(group_ns="''"))
    (route,) = _routes(_translate(*docs, profile="1.3"))
    assert route["route"]["weightedClusters"]["clusters"] == [{"name": "test_gloo-system", "weight": 3}]
    t = _translate(*docs)
    (route,) = _routes(t)
    assert route["route"] == {"cluster": ""}
    assert _report(t, "VirtualService", "vs").warnings[0].endswith("*v1.UpstreamGroup { .test } not found")


def test_a_group_change_reaches_the_route_on_the_next_translation():
    translator = Translator("current")
    first = parse_stream("---\n".join([_upstream("a"), _upstream("b", port=9001), _group(("a", GS, 1)), _vs()]))
    t1 = translator.translate(Snapshot.from_resources(first.resources))
    second = parse_stream("---\n".join([_upstream("a"), _upstream("b", port=9001),
                                        _group(("a", GS, 1), ("b", GS, 4)), _vs()]))
    t2 = translator.translate(Snapshot.from_resources(second.resources))
    assert len(_routes(t1)[0]["route"]["weightedClusters"]["clusters"]) == 1
    assert _routes(t2)[0]["route"]["weightedClusters"]["totalWeight"] == 5


# --- matchers: Gloo's RouteMatch per profile ---------------------------------------------------------


def _matcher_vs(matcher: str) -> str:
    return f"""apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: vs, namespace: {GS}}}
spec:
  virtualHost:
    domains: ['*']
    routes:
    - matchers: [{matcher}]
      routeAction: {{single: {{upstream: {{name: test, namespace: {GS}}}}}}}
"""


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_matcher_fields_in_gloos_order(profile):
    """route_config.go glooMatcherToEnvoyMatcher (v1.3.20 and main): the headers in order (empty value -> present,
    ``regex`` -> safe_regex, else exact; invertMatch kept), then ``:method`` as a regex of the methods joined by
    ``|``; query parameters alike; the path specifier last."""
    t = _translate(_upstream("test"), _matcher_vs(
        "{exact: /e, headers: [{name: a}, {name: b, value: 'x.*', regex: true}, {name: c, value: v, invertMatch: true},"
        " {name: d, invertMatch: true}], methods: [GET, POST], queryParameters: [{name: q}, {name: r, value: '1'},"
        " {name: s, value: '[0-9]+', regex: true}]}"), profile=profile)
    (route,) = _routes(t)
    match = route["match"]
    assert match["path"] == "/e"
    assert match["headers"] == [
        {"name": "a", "presentMatch": True},
        {"name": "b", "safeRegexMatch": {"regex": "x.*"}},
        {"name": "c", "exactMatch": "v", "invertMatch": True},
        {"name": "d", "presentMatch": True, "invertMatch": True},  # "absent": present, inverted
        {"name": ":method", "safeRegexMatch": {"regex": "GET|POST"}}]
    assert match["queryParameters"] == [
        {"name": "q", "presentMatch": True}, {"name": "r", "stringMatch": {"exact": "1"}},
        {"name": "s", "stringMatch": {"safeRegex": {"regex": "[0-9]+"}}}]


def test_case_sensitive_is_current_only():
    """main sets ``match.CaseSensitive = matcher.GetCaseSensitive()``; v1.3.20's Matcher has no caseSensitive (nor
    connectMatcher) and its translator sets none: gloo_nb leaves it out for 1.3, with a note."""
    doc = _matcher_vs("{prefix: /ci, caseSensitive: false}")
    (cur,) = _routes(_translate(_upstream("test"), doc))
    assert cur["match"] == {"prefix": "/ci", "caseSensitive": False}
    old = _translate(_upstream("test"), doc, profile="1.3")
    (route,) = _routes(old)
    assert route["match"] == {"prefix": "/ci"}
    assert any(f.field == "matchers[0].caseSensitive" and "does not exist in Gloo 1.3" in f.message
               for f in old.findings)


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_regex_path_and_one_envoy_route_per_matcher(profile):
    """initRoutes: one Envoy route per matcher, in order; a regex path is safe_regex."""
    t = _translate(_upstream("test"), _matcher_vs("{regex: '/r/[0-9]+'}, {prefix: /p}"), profile=profile)
    assert [r["match"] for r in _routes(t)] == [{"safeRegex": {"regex": "/r/[0-9]+"}}, {"prefix": "/p"}]


@pytest.mark.parametrize("where", ["group", "multi"])
def test_per_destination_options_reach_the_cluster_weight_or_are_declared(where):
    """setWeightedClusters runs the WeightedDestinationPlugins (headers, transformations...) per destination.
    A route's own ``multi`` gets headerManipulation on its ClusterWeight (plugins/headers
    ProcessWeightedDestination); an UpstreamGroup's destinations do not yet, so gloo_nb declares each option in
    ``unmodelled`` on the group instead of dropping it silently."""
    options = "\n    options: {headerManipulation: {requestHeadersToRemove: [x-a]}}"
    if where == "group":
        docs = (_upstream("test"), _group(("test", GS, 1)).replace("weight: 1", "weight: 1" + options), _vs())
        on = "UpstreamGroup"
    else:
        docs = (_upstream("test"), f"""apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: vs, namespace: {GS}}}
spec:
  virtualHost:
    domains: ['*']
    routes:
    - matchers: [{{prefix: /}}]
      routeAction:
        multi:
          destinations:
          - destination: {{upstream: {{name: test, namespace: {GS}}}}}
            weight: 1
            options: {{headerManipulation: {{requestHeadersToRemove: [x-a]}}}}
""")
        on = "VirtualService"
    t = _translate(*docs)
    assert not [f for f in t.findings if "not modelled" in f.message]
    if where == "group":
        (note,) = [u for u in t.unmodelled if u.resource.kind == on]
        assert note.path == "spec.destinations[0].options.headerManipulation"
    else:
        (rc,) = t.envoy.route_configurations
        (cw,) = rc.virtual_hosts[0].routes[0].route.weighted_clusters.clusters
        assert list(cw.request_headers_to_remove) == ["x-a"]
