"""The translate document (render.py) and the check lines (check.py), on small hand-built inputs."""

from __future__ import annotations

import json

import pytest
from builders import GS, kube_upstream, m, multi, route, rt, sel, service, to, vs

from gloo_nb.models import HeaderMatcher, Matcher, QueryParameterMatcher, RedirectAction, Skipped
from gloo_nb.translate import translate
from gloo_nb.translate.check import problems, summary_line
from gloo_nb.translate.proxy import ProxyRoute
from gloo_nb.translate.render import action_json, first_message, matcher_json, render, render_text
from gloo_nb.translate.routes import action_summary, match_summary

pytestmark = pytest.mark.unit


def test_matchers_use_gloo_field_names_and_leave_unset_fields_out():
    assert matcher_json(Matcher(prefix="/")) == {"prefix": "/"}
    assert matcher_json(Matcher(prefix="")) == {"prefix": ""}
    full = Matcher(exact="/x", case_sensitive=False, methods=("GET",),
                   headers=(HeaderMatcher("a"), HeaderMatcher("b", "v.*", regex=True, invert_match=True)),
                   query_parameters=(QueryParameterMatcher("q", "1"),))
    assert matcher_json(full) == {
        "exact": "/x", "caseSensitive": False, "methods": ["GET"],
        "headers": [{"name": "a"}, {"name": "b", "value": "v.*", "regex": True, "invertMatch": True}],
        "queryParameters": [{"name": "q", "value": "1"}]}


def test_actions_are_keyed_by_gloo_action_names():
    weighted = ProxyRoute((m("/"),), route_action=multi(("up", {"version": "v1"}, 90), ("up", None, None)))
    assert action_json(weighted) == {"routeAction": {"multi": {"destinations": [
        {"destination": {"upstream": {"name": "up", "namespace": GS}, "subset": {"values": {"version": "v1"}}},
         "weight": 90},
        {"destination": {"upstream": {"name": "up", "namespace": GS}}}]}}}
    redirect = ProxyRoute((m("/"),), redirect_action=RedirectAction(host_redirect="example.com", https_redirect=True))
    assert action_json(redirect) == {"redirectAction": {"hostRedirect": "example.com", "httpsRedirect": True}}
    direct = route(m("/"), direct=(404, "gone"))
    assert action_json(ProxyRoute((m("/"),), direct_response_action=direct.direct_response_action)) == {
        "directResponseAction": {"status": 404, "body": "gone"}}


def test_envoy_summaries():
    match = {"path": "/x", "caseSensitive": False, "headers": [
        {"name": "stage", "exactMatch": "canary"}, {"name": "x", "presentMatch": True, "invertMatch": True}],
        "queryParameters": [{"name": "q", "stringMatch": {"exact": "1"}}]}
    assert match_summary(match) == "path /x (case-insensitive), stage=canary, !x present, ?q=1"
    weighted = {"route": {"weightedClusters": {"clusters": [
        {"name": "a", "weight": 90, "metadataMatch": {"filterMetadata": {"envoy.lb": {"version": "v1"}}}},
        {"name": "fallback_cluster_for_invalid_routes", "weight": 10}]}}}
    assert action_summary(weighted, "fallback 404") == "a {version=v1} 90, fallback 404 10"
    assert action_summary({"directResponse": {"status": 503}}) == "direct 503"
    assert first_message(["one\ntwo", "three"]) == "one (+1 more)"


def test_document_merges_parse_results_and_renders_as_text():
    translation = translate([
        vs("app", route(m("/a"), delegate=sel("team"))),
        rt("routes", "team", route(m("/a"), action=to("missing"))),
        kube_upstream("up"), service("up")])
    parse_skipped = [Skipped("x.yaml", 0, "ConfigMap", "kind ConfigMap is not a Gloo resource")]
    doc = render(translation, parse_skipped=parse_skipped)
    assert json.loads(json.dumps(doc)) == doc
    assert doc["skipped"][0]["kind"] == "ConfigMap"
    (vhost,) = doc["proxy"]["virtualHosts"]
    assert vhost["routes"][0]["sources"][0] == {"kind": "RouteTable", "namespace": "team", "name": "routes"}
    text = render_text(doc)
    assert "prefix /a" in text and "RouteTable team/routes" in text and "ConfigMap" in text


def test_check_adds_route_table_attribution_without_repeating_the_gloo_report():
    translation = translate([
        vs("app", route(m("/a"), delegate=sel("team"))),
        rt("routes", "team", route(m("/a"), action=to("missing"))),
        kube_upstream("up"), service("up")])
    lines = [p.line() for p in problems(translation)]
    assert [line.split(":")[0] for line in lines] == ["VirtualService gloo-system/app", "RouteTable team/routes"]
    assert summary_line([]) == "No problems detected."
    assert summary_line(problems(translation)) == "2 problem(s) detected."
