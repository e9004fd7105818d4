"""What Gloo reads: watchNamespaces, watchNamespaceSelectors and the discovery namespace (both profiles).

Transcribed from Gloo's own tests:

- ``pkg/utils/settingsutil/settings_test.go`` (main): ``IsAllNamespacesFromSettings``, "should add the
  discovery namespace ...", ``GenerateNamespacesToWatch`` (watchNamespaces win, nil without either, the
  ``match-me``/``skip-me`` selector) and ``NamespaceWatched``.
- ``pkg/utils/namespaces_test.go`` (v1.3.20): ``AllNamespaces`` and ``ProcessWatchNamespaces``.
- ``test/kubernetes/e2e/features/watch_namespace_selector/suite.go`` (main) with its Helm values
  ``test/kubernetes/e2e/tests/manifests/watch-namespace-selector.yaml`` (selectors ``label: match`` and
  ``expression In [match]``): ``TestMatchLabels``, ``TestMatchExpressions`` (the install namespace's VS is
  served, ``random``'s only while labelled) and ``TestWatchedNamespaceValidation`` (a VS in the install
  namespace routing to an Upstream of ``random``: ``*v1.Upstream { random.http-echo-upstream } not found``
  once ``random`` is unlabelled).
"""

from __future__ import annotations

import pytest

from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_object
from gloo_nb.translate import translate
from gloo_nb.translate.check import problems
from gloo_nb.translate.watch import NOT_WATCHED, namespaces_to_watch

pytestmark = pytest.mark.unit

GS = "gloo-system"
# test/kubernetes/e2e/tests/manifests/watch-namespace-selector.yaml
E2E_SELECTORS = [{"matchLabels": {"label": "match"}},
                 {"matchExpressions": [{"key": "expression", "operator": "In", "values": ["match"]}]}]


def _settings(**spec):
    return parse_object({"apiVersion": "gloo.solo.io/v1", "kind": "Settings",
                         "metadata": {"name": "default", "namespace": GS},
                         "spec": {"discoveryNamespace": GS, **spec}}).resource


def _ns(name, **labels):
    return parse_object({"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": name, "labels": labels}}).resource


def _vs(name, ns, domain, route=None):
    action = route or {"directResponseAction": {"status": 200, "body": "Hello, world!"}}
    return parse_object({"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
                         "metadata": {"name": name, "namespace": ns},
                         "spec": {"virtualHost": {"domains": [domain],
                                                  "routes": [{"matchers": [{"prefix": "/"}], **action}]}}}).resource


def _rt(name, ns, labels=None):
    return parse_object({"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
                         "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
                         "spec": {"routes": [{"matchers": [{"prefix": "/a"}],
                                              "directResponseAction": {"status": 200}}]}}).resource


def _watched(settings, namespaces, profile="current"):
    scope = namespaces_to_watch(settings, namespaces, profile)
    return None if scope.namespaces is None else sorted(scope.namespaces)


def _domains(t):
    return sorted(d for ls in t.proxy.listeners for vh in ls.virtual_hosts for d in vh.domains)


def _watch_findings(t):
    return [f for f in t.findings if f.layer == "watch"]


# --- settings_test.go / namespaces_test.go -------------------------------------------------------

@pytest.mark.parametrize("profile", ["1.3", "current"])
@pytest.mark.parametrize("watch", [[], [""]])
def test_empty_or_blank_watch_namespaces_mean_every_namespace(profile, watch):
    """settings_test.go "should return true for IsAllNamespacesFromSettings when WatchNamespaces is empty" and
    "... only has empty namespace"; namespaces_test.go@v1.3.20 "should consider empty list as all namespaces"."""
    assert _watched(_settings(watchNamespaces=watch), [], profile) is None


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_the_discovery_namespace_is_added_to_watch_namespaces(profile):
    """settings_test.go "should add the discovery namespace to the list of namespaces to watch if not present"
    (["test", "gloo-system"]); namespaces_test.go@v1.3.20 "should add write namespace if not there" and
    "should not add write namespace if already there"."""
    assert _watched(_settings(watchNamespaces=["test"]), [], profile) == ["gloo-system", "test"]
    assert _watched(_settings(watchNamespaces=["ns1"], discoveryNamespace="ns1"), [], profile) == ["ns1"]
    assert _watched(_settings(watchNamespaces=["ns1"], discoveryNamespace="test"), [], profile) == ["ns1", "test"]


SETTINGS_TEST_SELECTOR = [{"matchLabels": {"match": "me"},
                           "matchExpressions": [{"key": "common", "operator": "In", "values": ["label"]}]}]
MATCH_ME = _ns("match-me", match="me", common="label")
SKIP_ME = _ns("skip-me", skip="me", common="label")


def test_watch_namespaces_win_over_selectors():
    """settings_test.go GenerateNamespacesToWatch "should return watchNamespaces if defined"."""
    s = _settings(watchNamespaces=["test"], watchNamespaceSelectors=SETTINGS_TEST_SELECTOR)
    assert _watched(s, [MATCH_ME, SKIP_ME]) == ["gloo-system", "test"]


def test_neither_set_watches_every_namespace():
    """settings_test.go "should return nil if watchNamespaces and watchNamespaceSelector are not defined"."""
    assert _watched(_settings(), [MATCH_ME, SKIP_ME]) is None


def test_selectors_watch_the_matching_namespaces_plus_the_discovery_namespace():
    """settings_test.go "should return namespaces that match watchNamespaceSelector" (["gloo-system",
    "match-me"]) and NamespaceWatched true for match-me, false for skip-me."""
    s = _settings(watchNamespaceSelectors=SETTINGS_TEST_SELECTOR)
    assert _watched(s, [MATCH_ME, SKIP_ME]) == ["gloo-system", "match-me"]
    scope = namespaces_to_watch(s, [MATCH_ME, SKIP_ME], "current")
    assert scope.watches("match-me") and not scope.watches("skip-me")


def test_gloo_13_has_no_namespace_selectors():
    """v1.3.20's settings.proto has watchNamespaces only: selectors select nothing and every namespace is
    watched; gloo_nb warns on the Settings."""
    s = _settings(watchNamespaceSelectors=SETTINGS_TEST_SELECTOR)
    assert _watched(s, [MATCH_ME, SKIP_ME], "1.3") is None
    t = translate([s, SKIP_ME, _vs("vs", "skip-me", "skip")], "1.3")
    assert _domains(t) == ["skip"]
    [f] = _watch_findings(t)
    assert f.resource == s.key and "not a Settings field in Gloo 1.3" in f.message


@pytest.mark.parametrize(("expression", "watched"), [
    ({"key": "team", "operator": "In", "values": ["a", "b"]}, ["a", "gloo-system"]),
    ({"key": "team", "operator": "NotIn", "values": ["a"]}, ["gloo-system", "none", "other"]),
    ({"key": "team", "operator": "Exists"}, ["a", "gloo-system", "other"]),
    ({"key": "team", "operator": "DoesNotExist"}, ["gloo-system", "none"]),
])
def test_match_expression_operators(expression, watched):
    """labelSelectorAsSelector's four operators, with apimachinery's Requirement.Matches (NotIn and
    DoesNotExist hold for a namespace without the label)."""
    namespaces = [_ns("a", team="a"), _ns("other", team="c"), _ns("none")]
    assert _watched(_settings(watchNamespaceSelectors=[{"matchExpressions": [expression]}]), namespaces) == watched


def test_an_empty_selector_selects_every_namespace_and_selectors_are_ored():
    """labelSelectorAsSelector: no labels and no expressions is labels.Everything(); namespaceMatchesSelector
    watches a namespace that any selector matches."""
    namespaces = [_ns("a", team="a"), _ns("b", env="b")]
    assert _watched(_settings(watchNamespaceSelectors=[{}]), namespaces) == ["a", "b", "gloo-system"]
    both = [{"matchLabels": {"team": "a"}}, {"matchLabels": {"env": "b"}}]
    assert _watched(_settings(watchNamespaceSelectors=both), namespaces) == ["a", "b", "gloo-system"]
    anded = [{"matchLabels": {"team": "a", "env": "b"}}]
    assert _watched(_settings(watchNamespaceSelectors=anded), namespaces) == ["gloo-system"]


def test_an_invalid_operator_is_goos_error_and_nothing_is_filtered():
    """labelSelectorAsSelector: an operator other than In/NotIn/Exists/DoesNotExist is
    '"<op>" is not a valid label selector operator'; UpdateNamespacesToWatch fails, so Gloo does not run
    with these Settings. gloo_nb reports it (error) and translates every namespace."""
    s = _settings(watchNamespaceSelectors=[{"matchExpressions": [{"key": "team", "operator": "Equals",
                                                                   "values": ["a"]}]}])
    t = translate([s, _ns("x"), _vs("vs", "x", "x")], "current")
    [f] = _watch_findings(t)
    assert f.severity == "error" and f.message.startswith('"Equals" is not a valid label selector operator')
    assert _domains(t) == ["x"]
    s = _settings(watchNamespaceSelectors=[{"matchExpressions": [{"key": "team", "operator": "In"}]}])
    [f] = _watch_findings(translate([s], "current"))
    assert f.message.startswith("values: Invalid value: []string{}: for 'in', 'notin' operators, values set "
                                "can't be empty")


# --- the e2e suite: watch_namespace_selector/suite.go --------------------------------------------

def _e2e(random_labels, profile="current"):
    return translate([_settings(watchNamespaceSelectors=E2E_SELECTORS), _ns(GS), _ns("random", **random_labels),
                      _vs("vs-install-ns", GS, "install-ns"), _vs("vs-random", "random", "random")], profile)


@pytest.mark.parametrize("key", ["label", "expression"])
def test_e2e_match_labels_and_expressions(key):
    """suite.go TestMatchLabels / TestMatchExpressions: the install namespace is watched without a label;
    random's VS is served only while random carries `<key>=match`."""
    out = _e2e({})
    assert _domains(out) == ["install-ns"]
    assert [r.key.ref for r in out.reports] == ["gloo-system/vs-install-ns"]  # no status for vs-random
    [f] = _watch_findings(out)
    assert f.resource.ref == "random/vs-random" and f.message.startswith(NOT_WATCHED)
    assert "namespace random (labels {}) matches none of settings.watchNamespaceSelectors " \
           "[label=match; expression in (match)] plus the discoveryNamespace gloo-system" in f.message
    labelled = _e2e({key: "match"})
    assert _domains(labelled) == ["install-ns", "random"] and not _watch_findings(labelled)
    assert _domains(_e2e({key: "other"})) == ["install-ns"]


def test_e2e_gloo_13_watches_random_whatever_its_labels():
    """1.3: no selectors, every namespace is watched (the Settings get the warning, not the VS)."""
    out = _e2e({}, "1.3")
    assert _domains(out) == ["install-ns", "random"]
    assert [f.resource.kind for f in _watch_findings(out)] == ["Settings"]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_e2e_an_upstream_in_an_unwatched_namespace_is_not_found(profile):
    """suite.go TestWatchedNamespaceValidation: vs-upstream (install namespace) routes to
    random/http-echo-upstream; unwatched, it is "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream
    { random.http-echo-upstream } not found" (watchNamespaces [http-echo] here, for both profiles)."""
    upstream = parse_object({"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
                             "metadata": {"name": "http-echo-upstream", "namespace": "random"},
                             "spec": {"kube": {"serviceName": "http-echo", "serviceNamespace": "http-echo",
                                               "servicePort": 3000}}}).resource
    vs = _vs("vs-upstream", GS, "*", {"routeAction": {"single": {"upstream": {
        "name": "http-echo-upstream", "namespace": "random"}}}})
    watched = translate([_settings(watchNamespaces=["random", "http-echo"]), upstream, vs], profile)
    assert not any("not found" in w for r in watched.reports for w in r.warnings)
    out = translate([_settings(watchNamespaces=["http-echo"]), upstream, vs], profile)
    vs_report = out.report("VirtualService", GS, "vs-upstream")
    # Gloo 1.3 prints the ref as a Go struct (core.ResourceRef{Name, Namespace}), current as namespace.name.
    missing = ("*v1.Upstream {http-echo-upstream random} not found" if profile == "1.3"
               else "*v1.Upstream { random.http-echo-upstream } not found")
    assert vs_report.warnings == [f"Route Warning: InvalidDestinationWarning. Reason: {missing}"]
    assert out.report("Upstream", "random", "http-echo-upstream") is None
    assert [f.resource.ref for f in _watch_findings(out)] == ["random/http-echo-upstream"]


# --- delegation, findings, unknown labels, discovery namespace ----------------------------------

@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_a_route_table_in_an_unwatched_namespace_is_not_selected(profile):
    """"My RouteTable is ignored": a selector over every namespace does not find the RouteTable of an
    unwatched namespace (Gloo: "no route table matches the given selector"); the finding names it."""
    vs = _vs("vs", GS, "*", {"delegateAction": {"selector": {"labels": {"team": "a"}, "namespaces": ["*"]}}})
    resources = [_settings(watchNamespaces=["team-b"]), vs, _rt("rt-a", "team-a", {"team": "a"})]
    out = translate(resources, profile)
    rep = out.report("VirtualService", GS, "vs")
    assert any("no route table matches the given selector" in m for m in (*rep.errors, *rep.warnings))
    assert out.report("RouteTable", "team-a", "rt-a") is None
    lines = [p.line() for p in problems(out)]
    assert any(line.startswith("RouteTable team-a/rt-a: warning: not watched by Gloo: namespace team-a is not in "
                               "settings.watchNamespaces [team-b] plus the discoveryNamespace gloo-system")
               for line in lines)
    ok = translate([_settings(watchNamespaces=["team-a"]), vs, _rt("rt-a", "team-a", {"team": "a"})], profile)
    assert not _watch_findings(ok) and ok.report("RouteTable", "team-a", "rt-a").state == "Accepted"


def test_unwatched_resources_never_block_the_push_in_13():
    """1.3 withholds the snapshot on warnings; a resource Gloo does not read is not in its snapshot at all."""
    out = translate([_settings(watchNamespaces=["a"]), _vs("vs", "b", "b"), _vs("ok", "a", "a")], "1.3")
    assert out.push.decision == "push" and _domains(out) == ["a"]


def test_unknown_namespace_labels_are_said_not_guessed():
    """Files without Namespace documents: the selectors cannot be evaluated for that namespace; gloo_nb says
    so on each of its resources and translates them as if watched. The discovery namespace needs no labels."""
    s = _settings(watchNamespaceSelectors=E2E_SELECTORS)
    out = translate([s, _vs("vs-random", "random", "random"), _vs("vs-install-ns", GS, "install-ns")], "current")
    assert _domains(out) == ["install-ns", "random"]
    [f] = _watch_findings(out)
    assert f.resource.ref == "random/vs-random"
    assert f.message.startswith("whether Gloo watches namespace random is unknown")
    assert "has no Namespace random" in f.message


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_the_discovery_namespace_scopes_gateways_and_is_always_watched(profile):
    """setup_syncer.go: writeNamespace = discoveryNamespace (default gloo-system), appended to
    watchNamespaces; with readGatewaysFromAllNamespaces false only its Gateways are read."""
    gw = {"apiVersion": "gateway.solo.io/v1", "kind": "Gateway", "spec": {"bindAddress": "::", "bindPort": 8080,
                                                                         "httpGateway": {}}}
    ops_gw = parse_object({**gw, "metadata": {"name": "gateway-proxy", "namespace": "ops"}}).resource
    gs_gw = parse_object({**gw, "metadata": {"name": "gs", "namespace": GS}}).resource
    s = _settings(discoveryNamespace="ops", watchNamespaces=["team", GS])
    out = translate([s, ops_gw, gs_gw, _vs("vs", "team", "team"), _vs("elsewhere", "x", "x")], profile)
    assert out.watch is not None and sorted(out.watch.namespaces) == ["gloo-system", "ops", "team"]
    assert out.proxy.namespace == "ops" and _domains(out) == ["team"]
    assert [li.source.ref for li in out.proxy.listeners] == ["ops/gateway-proxy"]
    assert [f.resource.ref for f in _watch_findings(out)] == ["x/elsewhere"]


def test_snapshot_reads_namespace_documents():
    """Namespaces are an input: the codec reads v1 Namespace documents into the snapshot."""
    snap = Snapshot.from_resources([_ns("random", label="match"), _ns(GS)])
    assert [(n.meta.name, dict(n.meta.labels)) for n in snap.namespaces] == [("gloo-system", {}),
                                                                             ("random", {"label": "match"})]
