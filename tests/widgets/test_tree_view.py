"""The delegation tree widget: expand, collapse, select and search by calling its handlers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from gloo_nb.analysis.headline import ROLE_COLOURS
from gloo_nb.analysis.tree import TREE_COLOURS
from gloo_nb.widgets import DelegationTreeView

pytestmark = pytest.mark.unit

_spec = importlib.util.spec_from_file_location("tree_vm_tests", Path(__file__).resolve().parents[1] / "analysis"
                                               / "test_tree.py")
assert _spec is not None and _spec.loader is not None
vm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vm)


def labels(view: DelegationTreeView) -> list[str]:
    return [label.description for _id, _t, label in view.rows]


def test_expand_select_collapse_and_search():
    c = vm.Cluster()
    vm.step4(c)
    view = DelegationTreeView(c.apply("rt-echo-3.yaml", "rt-foxtrot-4.yaml"))
    assert labels(view) == ["VirtualService gloo-system/app  [blocked]"]
    assert "replaced by Gloo" in view.legend.value and TREE_COLOURS["dropped"] in view.legend.value

    vs_id, toggle, _ = view.rows[0]
    toggle.click()
    assert len(view.rows) == 3 and view.rows[0][1].description == "-"
    view.rows[1][1].click()  # the /echo delegate route
    # echo's RouteTable and its route naming echo-typo are the cause, not merely "blocked" like everything else.
    assert labels(view)[2] == "RouteTable echo/echo-routes (weight 0)  [CAUSE]"
    view.rows[2][1].click()
    typo_id, _, typo_label = view.rows[3]
    assert typo_label.description == "route prefix /echo [stage=canary]  [CAUSE]"
    assert typo_label.style.button_color == ROLE_COLOURS["cause"] != TREE_COLOURS["blocked"]
    assert "CAUSE: its own content is invalid" in typo_label.tooltip
    view.toggle(typo_id)
    # The missing upstream is the broken destination (it used to read "accepted, inherits blocked").
    assert labels(view)[4] == "upstream gloo-system/echo-typo version=v2 (does not exist)  [broken destination]"
    assert view.rows[4][2].style.button_color == ROLE_COLOURS["broken"]
    view.toggle(typo_id)

    typo_label.click()
    assert view.selected == typo_id
    html = view.detail.value
    assert "echo-typo" in html and "InvalidDestinationWarning" in html and "Envoy routes" in html

    toggle.click()  # collapse the VS
    assert len(view.rows) == 1 and view.rows[0][1].description == "+"

    hits = view.run_search("foxtrot version=v2")
    assert len(hits) == 2 and all(set(view.tree.path(h)[:-1]) <= view.expanded for h in hits)
    shown = labels(view)
    assert any(s.startswith("upstream gloo-system/foxtrot version=v2 weight 100") for s in shown)
    assert sum(1 for _i, _t, b in view.rows if b.layout.border) >= 2  # hits are outlined


def test_fallback_replacement_shows_in_detail():
    c = vm.Cluster()
    vm.step4(c)
    c.apply("rt-echo-3.yaml", "rt-foxtrot-4.yaml")
    view = DelegationTreeView(c.apply(patch=True))
    (hit,) = [h for h in view.run_search("stage=canary") if "/echo" in view.tree.node(h).label]
    detail = view.select(hit)
    assert detail.node.state == "replaced"
    assert "replaced by the fallback" in view.detail.value


def test_the_tree_opens_down_to_culprit_and_victim():
    from gloo_nb.analysis.inspection import Inspection
    from gloo_nb.xds.decode import ServedSnapshot

    def served(t):
        e = t.envoy
        return ServedSnapshot(list(e.listeners), list(e.route_configurations), list(e.clusters), list(e.endpoints))

    c = vm.Cluster()
    good = vm.step4(c)
    typo = c.apply("rt-echo-3.yaml", "rt-foxtrot-4.yaml")
    view = DelegationTreeView(typo, Inspection.build(typo, served(good), {}, {}))
    ids = view.expand_to_roles()
    marks = [view.tree.node(i).mark for i in ids]
    assert marks.count("CAUSE") == 2 and "broken destination" in marks and "held back" in marks
    shown = labels(view)
    assert "route prefix /echo [stage=canary]  [CAUSE]" in shown and "route prefix /foxtrot  [held back]" in shown
    assert "upstream gloo-system/echo-typo version=v2 (does not exist)  [broken destination]" in shown
