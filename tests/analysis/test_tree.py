"""The delegation tree view-model on the seed scenario's Part 2 (profile 1.3) and a synthetic large tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from gloo_nb.analysis.tree import INHERITED_COLOURS, TREE_COLOURS, TREE_LEGEND, TREE_STATES, DelegationTree
from gloo_nb.app.manifests import read_manifests
from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_object
from gloo_nb.models.defaults import helm_default_settings_manifest
from gloo_nb.translate import Translator

pytestmark = pytest.mark.unit

PART2 = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary" / "part2"


class Cluster:
    """Objects applied file by file, translated by one long-lived translator (as Gloo's pod)."""

    def __init__(self) -> None:
        self.objects: dict = {}
        self.gloo = Translator("1.3")

    def apply(self, *files: str, patch: bool = False, extra=()):
        for res in [*read_manifests([str(PART2 / f) for f in files]).resources, *extra]:
            self.objects[(res.kind, res.meta.namespace, res.meta.name)] = res
        if patch:
            manifest = helm_default_settings_manifest(profile="1.3")
            manifest["spec"]["gloo"]["invalidConfigPolicy"].update(
                {"replaceInvalidRoutes": True, "invalidRouteResponseCode": 404})
            self.objects[("Settings", "gloo-system", "default")] = parse_object(manifest).resource
        return self.gloo.translate(Snapshot.from_resources(self.objects.values()))


def step4(c: Cluster):
    c.apply("echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "rt-echo-1.yaml",
            "rt-foxtrot-1.yaml", "vs.yaml")
    c.apply("foxtrot-v2.yaml", "rt-foxtrot-2.yaml")
    c.apply("rt-foxtrot-3.yaml")
    return c.apply("echo-v2.yaml", "rt-echo-2.yaml")


def by_label(tree: DelegationTree):
    return {n.label: n for n in tree.walk()}


def test_accepted_tree_shape_order_and_envoy_routes():
    tree = DelegationTree(step4(Cluster()))
    roots = tree.roots()
    assert [n.label for n in roots] == ["VirtualService gloo-system/app"]
    delegates = tree.children(roots[0].id)
    assert [d.label for d in delegates] == ['delegate prefix /echo -> selector {"namespaces": ["echo"]}',
                                            'delegate prefix /foxtrot -> selector {"namespaces": ["foxtrot"]}']
    (echo_rt,) = tree.children(delegates[0].id)
    assert echo_rt.label == "RouteTable echo/echo-routes (weight 0)" and echo_rt.weight == 0
    routes = tree.children(echo_rt.id)
    assert [r.label for r in routes] == ["route prefix /echo [stage=canary]", "route prefix /echo"]
    assert all(n.shown_state == "accepted" and n.colour == TREE_COLOURS["accepted"] for n in tree.walk())
    weighted = by_label(tree)["route prefix /foxtrot"]
    assert [d.label for d in tree.children(weighted.id)] == [
        "upstream gloo-system/foxtrot version=v1 weight 100", "upstream gloo-system/foxtrot version=v2 weight 0"]
    (envoy,) = tree.detail(routes[0].id).envoy_routes
    assert (envoy.virtual_host, envoy.index, envoy.match) == ("gloo-system_app", 0, "prefix /echo, stage=canary")
    assert set(TREE_LEGEND) == set(TREE_COLOURS) == set(TREE_STATES)


def test_typo_blocks_then_settings_patch_replaces():
    c = Cluster()
    step4(c)
    tree = DelegationTree(c.apply("rt-echo-3.yaml", "rt-foxtrot-4.yaml"))
    nodes = by_label(tree)
    typo = nodes["route prefix /echo [stage=canary]"]
    assert typo.state == "blocked" and "echo-typo" in typo.findings[0].message
    assert typo.findings[0].severity == "warning"
    assert nodes["VirtualService gloo-system/app"].state == "blocked"
    # foxtrot's change is held back too: it inherits the block.
    assert nodes["route prefix /foxtrot"].inherited == "blocked"
    # Only inherited (nothing wrong with it): a lighter tint, never the colour of what blocks.
    assert nodes["route prefix /foxtrot"].colour == INHERITED_COLOURS["blocked"] != TREE_COLOURS["blocked"]
    detail = tree.detail(typo.id)
    assert "echo-typo" in detail.yaml and detail.findings == typo.findings

    tree = DelegationTree(c.apply(patch=True))
    nodes = by_label(tree)
    canary = nodes["route prefix /echo [stage=canary]"]
    assert canary.state == "replaced" and canary.inherited == "accepted"
    (envoy,) = tree.detail(canary.id).envoy_routes
    assert envoy.replaced and envoy.action == "fallback"
    assert nodes["route prefix /echo"].state == "accepted"
    assert nodes["route prefix /foxtrot"].shown_state == "accepted"


def test_prefix_mismatch_route_is_dropped():
    bad = parse_object({
        "apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
        "metadata": {"name": "stray", "namespace": "echo"},
        "spec": {"routes": [{"matchers": [{"prefix": "/elsewhere"}],
                             "routeAction": {"single": {"upstream": {"name": "echo", "namespace": "gloo-system"}}}}]},
    }).resource
    c = Cluster()
    step4(c)
    tree = DelegationTree(c.apply(extra=[bad]))
    nodes = by_label(tree)
    stray = nodes["RouteTable echo/stray (weight 0)"]
    (route,) = tree.children(stray.id)
    assert route.state == "dropped" and route.colour == TREE_COLOURS["dropped"]
    assert stray.state == "rejected"  # Gloo 1.3 reports the mismatch as an error on the table
    assert tree.detail(route.id).envoy_routes == []
    (dest,) = tree.children(route.id)
    assert dest.inherited == "rejected"  # the more severe of the table's rejection and the drop


def test_search_and_path():
    tree = DelegationTree(step4(Cluster()))
    hits = tree.search("FOXTROT version=v2")
    assert [h.label for h in hits] == ["upstream gloo-system/foxtrot version=v2",
                                       "upstream gloo-system/foxtrot version=v2 weight 0"]
    path = tree.path(hits[0].id)
    assert [tree.node(i).kind for i in path] == ["VirtualService", "DelegateRoute", "RouteTable", "Route",
                                                 "Destination"]
    assert tree.search("no such thing") == []


def test_lazy_expansion_on_many_tables():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_widgets", PART2.parents[3] / "bench" / "widgets.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    translation = bench.big_translation(2000)
    # Lazy: only what was opened is built (how fast it opens is bench/widgets.py's).
    tree = DelegationTree(translation)
    roots = tree.roots()
    delegates = tree.children(roots[0].id)
    assert tree._children.keys() == {roots[0].id}  # nothing else built yet
    tables = tree.children(delegates[0].id)
    assert len(tables) == 5 and all(t.kind == "RouteTable" for t in tables)
    assert len(tree._nodes) < 200


def test_detail_shows_the_source_document_at_the_parser_s_index(tmp_path: Path):
    """An empty document before the table counts in its index (as the parser gives it): the detail shows the
    table as written (its comment-free content, including a field the summary would not show), not a neighbour."""
    from gloo_nb.translate import translate

    (tmp_path / "all.yaml").write_text(
        "---\n# nothing here\n---\n"
        "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {name: app, namespace: gloo-system}\n"
        "spec:\n  virtualHost:\n    domains: ['*']\n    routes:\n"
        "    - matchers: [{prefix: /t}]\n      delegateAction: {ref: {name: t, namespace: team}}\n"
        "---\n"
        "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {name: t, namespace: team, labels: {a: b}}\n"
        "spec:\n  routes:\n  - matchers: [{prefix: /t/x}]\n    directResponseAction: {status: 204}\n")
    parsed = read_manifests([tmp_path / "all.yaml"])
    tree = DelegationTree(translate(parsed.resources))
    table = by_label(tree)["RouteTable team/t (weight 0)"]
    text = tree.detail(table.id).yaml
    assert "kind: RouteTable" in text and "labels:" in text and "VirtualService" not in text, text


def test_culprit_victim_broken_destination_and_replaced_route_never_look_alike():
    """Issue 16: with the drift rows, foxtrot's held-back route is the victim, echo's route naming echo-typo the
    cause, the missing upstream the broken destination; after the settings patch echo's route is the replaced one."""
    from gloo_nb.analysis.headline import ROLE_COLOURS
    from gloo_nb.analysis.inspection import Inspection
    from gloo_nb.xds.decode import ServedSnapshot

    def served(t):
        e = t.envoy
        return ServedSnapshot(list(e.listeners), list(e.route_configurations), list(e.clusters), list(e.endpoints))

    c = Cluster()
    good = step4(c)
    typo = c.apply("rt-echo-3.yaml", "rt-foxtrot-4.yaml")
    inspection = Inspection.build(typo, served(good), {"r0": served(good)}, {})
    tree = DelegationTree(typo, inspection.drift)
    nodes = by_label(tree)
    cause = nodes["route prefix /echo [stage=canary]"]
    victim = nodes["route prefix /foxtrot"]
    broken = nodes["upstream gloo-system/echo-typo version=v2 (does not exist)"]
    assert (cause.role, victim.role, broken.role) == ("cause", "blocked", "broken")
    assert (cause.mark, victim.mark, broken.mark) == ("CAUSE", "held back", "broken destination")
    assert len({cause.colour, victim.colour, broken.colour, TREE_COLOURS["blocked"]}) == 4
    assert nodes["RouteTable echo/echo-routes (weight 0)"].role == "cause"
    assert nodes["RouteTable foxtrot/foxtrot-routes (weight 0)"].role == "blocked"
    # Gloo reports the missing upstream on the VirtualService, but it is not the cause: no role, its state stays.
    vs = nodes["VirtualService gloo-system/app"]
    assert vs.role == "" and vs.state == "blocked"
    # echo's unchanged route is served as before: neither cause nor victim.
    assert nodes["route prefix /echo"].role == ""
    # Without drift rows the victim cannot be told from an unchanged route: no role is guessed.
    assert by_label(DelegationTree(typo))["route prefix /foxtrot"].role == ""

    patched = by_label(DelegationTree(c.apply(patch=True)))
    replaced = patched["route prefix /echo [stage=canary]"]
    assert replaced.role == "replaced" and replaced.mark == "replaced by fallback"
    assert replaced.colour == ROLE_COLOURS["replaced"]
