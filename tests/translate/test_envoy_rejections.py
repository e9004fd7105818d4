"""Envoy's own rejections of what Gloo pushes: predicted per route, with Envoy's text and what keeps running.

Each case is a manifest Gloo accepts (or only warns about) whose pushed route Envoy refuses; the same cases run
against the real Envoy in ``test_envoy_rejections_envoy.py``, so every prediction here is Envoy's measured answer.
Gloo sources: ``translator/route_config.go`` (what Gloo validates itself and what it passes through),
``syncer/sanitizer/route_replacing_sanitizer.go`` (what route replacement renames).
"""

from __future__ import annotations

import pytest
import yaml

from gloo_nb.models.codec import parse_stream
from gloo_nb.translate import translate
from gloo_nb.translate.envoy_rejections import re2_problem

pytestmark = pytest.mark.unit

GS = "gloo-system"
TO = {"single": {"upstream": {"name": "test", "namespace": GS}}}


def docs(routes: list, *, replace: bool = False, policy: dict | None = None) -> list:
    policy = {"invalidRouteResponseCode": 404} if policy is None else policy
    out: list = [
        {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "test", "namespace": GS},
         "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 1}]}}},
        {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "vs", "namespace": GS},
         "spec": {"virtualHost": {"domains": ["*"], "routes": routes}}}]
    if replace:
        out.append({"apiVersion": "gloo.solo.io/v1", "kind": "Settings", "metadata": {"name": "default",
                                                                                    "namespace": GS},
                    "spec": {"gloo": {"invalidConfigPolicy": {"replaceInvalidRoutes": True, **policy}}}})
    return parse_stream(yaml.safe_dump_all(out), file="rej.yaml").resources


def _route(matcher: dict, action: dict | None = None) -> list:
    return [{"matchers": [matcher], "routeAction": action or TO}]


ZERO = {"multi": {"destinations": [{"destination": {"upstream": {"name": "test", "namespace": GS}}, "weight": 0}]}}
MISSING_GROUP = {"upstreamGroup": {"name": "nope", "namespace": GS}}

# (id, routes, profile, replaceInvalidRoutes, the reason Envoy gives, or None when Envoy accepts what is pushed)
CASES = [
    ("header-lookahead", _route({"prefix": "/", "headers": [{"name": "x", "value": "(?=a)", "regex": True}]}),
     "current", False, "invalid perl operator: (?="),
    ("query-unclosed-class", _route({"prefix": "/", "queryParameters": [{"name": "q", "value": "a[", "regex": True}]}),
     "1.3", False, "missing ]: ["),
    ("header-empty-name", _route({"prefix": "/", "headers": [{"name": ""}]}), "current", False,
     "HeaderMatcherValidationError.Name: value length must be at least 1 characters"),
    ("path-backref-1.3", _route({"regex": "/a\\1"}), "1.3", False, "invalid escape sequence: \\1"),
    ("zero-weights-1.3", _route({"prefix": "/"}, ZERO), "1.3", False,
     "Sum of weights in the weighted_cluster must be greater than 0."),
    ("zero-weights-current-replaced", _route({"prefix": "/"}, ZERO), "current", True,
     "Sum of weights in the weighted_cluster must be greater than 0."),
    ("missing-group-current", _route({"prefix": "/"}, MISSING_GROUP), "current", False,
     "RouteActionValidationError.Cluster: value length must be at least 1 characters"),
    ("missing-group-1.3-replace", _route({"prefix": "/"}, MISSING_GROUP), "1.3", True,
     'caused by field: "cluster_specifier", reason: is required'),
    ("no-path-current-replaced", [{"matchers": [{"headers": [{"name": "x"}]}], "routeAction": TO}], "current", True,
     'caused by field: "path_specifier", reason: is required'),
    ("direct-response-status-0", [{"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 0}}],
     "current", False, "DirectResponseActionValidationError.Status: value must be inside range [200, 600)"),
    # Controls: what Gloo itself stops, or route replacement repairs, never reaches Envoy.
    ("missing-group-current-replaced", _route({"prefix": "/"}, MISSING_GROUP), "current", True, None),
    ("path-backref-current", _route({"regex": "/a\\1"}), "current", False, None),
    ("zero-weights-current", _route({"prefix": "/"}, ZERO), "current", False, None),
    ("fine", _route({"prefix": "/", "headers": [{"name": "x", "value": "^a.*$", "regex": True}]}), "1.3", False,
     None),
]


@pytest.mark.parametrize(("routes", "profile", "replace", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_envoy_rejection_is_predicted(routes, profile, replace, reason):
    t = translate(docs(routes, replace=replace), profile)
    if reason is None:
        assert t.envoy_rejections == []
        assert not [f for f in t.findings if f.layer == "envoy"]
        return
    assert t.push.decision == "push"
    (rejection,) = t.envoy_rejections
    assert reason in rejection.reason
    assert (rejection.type_name, rejection.resource) == ("RouteConfiguration", "listener-::-8080-routes")
    (finding,) = [f for f in t.findings if f.layer == "envoy"]
    assert finding.resource.ref == "gloo-system/vs" and finding.severity == "error"
    assert "keeps its previous version of listener-::-8080-routes" in finding.message
    # A NACK happens after the push: it never holds the push back, nor counts as a block cause.
    assert not t.would_block(finding)


def test_the_nack_finding_names_the_route_and_is_a_check_problem():
    from gloo_nb.translate.check import problems
    t = translate(docs(_route({"prefix": "/", "headers": [{"name": "x", "value": "(?!a)", "regex": True}]})),
                  "current")
    (finding,) = [f for f in t.findings if f.layer == "envoy"]
    assert "route gloo-system_vs-route-0-matcher-0 of virtual host gloo-system_vs" in finding.message
    assert any("Envoy will reject RouteConfiguration" in p.line() for p in problems(t))


def test_fallback_listener_without_a_response_code_is_refused():
    """route_replacing_sanitizer.go makeFallbackListenerAndCluster copies invalidRouteResponseCode unchecked: a Settings
    that turns replacement on without a code gives a fallback route with status 0, which Envoy refuses (LDS)."""
    t = translate(docs(_route({"prefix": "/"}, MISSING_GROUP), replace=True, policy={}), "current")
    (rejection,) = t.envoy_rejections
    assert (rejection.type_name, rejection.resource) == ("Listener", "fallback_listener_for_invalid_routes")
    assert "DirectResponseActionValidationError.Status" in rejection.reason
    (finding,) = [f for f in t.findings if f.layer == "envoy"]
    assert finding.resource.kind == "Proxy"


@pytest.mark.parametrize(("pattern", "problem"), [
    ("(?=a)", "invalid perl operator: (?="), ("(?<!a)", "invalid perl operator: (?<!"),
    ("a\\2", "invalid escape sequence: \\2"), ("a[b", "missing ]: [b"), ("(a", "missing ): (a"),
    ("a)", "unexpected ): a)"), ("*a", "no argument for repetition operator: *"),
    ("^/api/v[0-9]+/.*$", None), ("GET|POST", None)])
def test_re2_problems(pattern, problem):
    assert re2_problem(pattern) == problem


HC = {"timeout": "1s", "interval": "2s", "healthyThreshold": 1, "unhealthyThreshold": 1}
CLUSTER_CASES = [
    ("hostname-hashing-eds", {"kube": {"serviceName": "s", "serviceNamespace": "default", "servicePort": 80},
                              "loadBalancerConfig": {"ringHash": {}, "useHostnameForHashing": True}},
     "Cannot use hostname for consistent hashing loadbalancing for cluster of type: 'envoy.cluster.eds'"),
    ("two-health-checks", {"static": {"hosts": [{"addr": "127.0.0.1", "port": 8080}]},
                           "healthChecks": [{**HC, "tcpHealthCheck": {}}, {**HC, "httpHealthCheck": {"path": "/h"}}]},
     "all health checks must have a name when multiple health checks are configured"),
    ("one-health-check", {"static": {"hosts": [{"addr": "127.0.0.1", "port": 8080}]},
                          "healthChecks": [{**HC, "tcpHealthCheck": {}}]}, None),
]


def upstream_doc(spec: dict) -> list:
    from gloo_nb.models.codec import parse_object
    return [parse_object({"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
                          "metadata": {"name": "u", "namespace": GS}, "spec": spec}).resource]


@pytest.mark.parametrize(("spec", "reason"), [c[1:] for c in CLUSTER_CASES], ids=[c[0] for c in CLUSTER_CASES])
def test_cluster_rejections(spec, reason):
    """Cluster shapes Gloo writes that the pinned Envoy refuses: one such cluster refuses the whole CDS update."""
    t = translate(upstream_doc(spec), "current")
    if reason is None:
        assert t.envoy_rejections == []
        return
    (rejection,) = t.envoy_rejections
    assert rejection.type_name == "Cluster" and reason in rejection.reason
