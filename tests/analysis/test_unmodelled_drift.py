"""Drift and the delegation tree for routes with features gloo_nb does not model: `unmodelled`, never a false state."""

from __future__ import annotations

from typing import Any

import pytest

from gloo_nb.analysis import DriftInputs, drift_rows, route_key
from gloo_nb.analysis.inspection import Inspection
from gloo_nb.analysis.tree import DelegationTree
from gloo_nb.models.codec import parse_object
from gloo_nb.translate import Translation
from gloo_nb.translate.translator import translate
from gloo_nb.xds.decode import ServedSnapshot
from gloo_nb.xds.protos import TYPE_ROUTE

pytestmark = pytest.mark.unit

GS = "gloo-system"
R0 = "gateway-proxy-0.gloo-system"
# A route option gloo_nb does not model (translate/option_catalogue.py), and its feature name.
TF = "transformations (Gloo's transformation filter)"
UPSTREAMS = [{"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": n, "namespace": GS},
              "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 9000}]}}} for n in ("echo", "other")]


def _route(prefix: str, upstream: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"matchers": [{"prefix": prefix}],
                         "routeAction": {"single": {"upstream": {"name": upstream, "namespace": GS}}}}
    if options:
        r["options"] = options
    return r


def _translate(routes: list[dict[str, Any]], vh_options: dict[str, Any] | None = None) -> Translation:
    vh: dict[str, Any] = {"domains": ["*"], "routes": routes}
    if vh_options:
        vh["options"] = vh_options
    vs = {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "app", "namespace": GS},
          "spec": {"virtualHost": vh}}
    return translate([parse_object(d).resource for d in (*UPSTREAMS, vs)], "current")  # type: ignore[arg-type]


def _served(t: Translation) -> ServedSnapshot:
    e = t.envoy
    return ServedSnapshot(list(e.listeners), list(e.route_configurations), list(e.clusters), list(e.endpoints),
                          versions={TYPE_ROUTE: "1"})


def _inspect(intent: Translation, served: Translation, applied: Translation) -> dict[str, Any]:
    insp = Inspection.build(intent, _served(served), {R0: _served(applied)}, {})
    return {d.match: d for d in insp.drift}


def test_a_route_with_unmodelled_options_is_unmodelled_not_in_sync():
    t = _translate([_route("/a", "echo", {"transformations": {"clearRouteCache": True}}), _route("/b", "echo")])
    rows = _inspect(t, t, t)
    a, b = rows["prefix /a"], rows["prefix /b"]
    assert (a.state, a.cause) == ("unmodelled", "routing in sync; gloo_nb does not predict: " + TF)
    assert {c.state for c in a.cells.values()} == {"unmodelled"}
    assert b.state == "in-sync"
    assert a.as_json()["state"] == "unmodelled"


def test_virtual_host_options_make_every_route_of_the_host_unmodelled():
    t = _translate([_route("/a", "echo"), _route("/b", "echo")], {"waf": {"disabled": True}})
    rows = _inspect(t, t, t)
    assert {r.state for r in rows.values()} == {"unmodelled"}
    assert rows["prefix /a"].cause.endswith("does not predict: WAF (Gloo Enterprise)")


def test_modelled_options_stay_in_sync():
    t = _translate([_route("/a", "echo", {"prefixRewrite": "/x", "timeout": "3s"})])
    assert _inspect(t, t, t)["prefix /a"].state == "in-sync"


def test_the_routing_of_an_unmodelled_route_is_still_compared():
    """A routing change (another destination) not served yet is pending, whatever else the route has."""
    old = _translate([_route("/a", "echo", {"transformations": {"clearRouteCache": True}})])
    new = _translate([_route("/a", "other", {"transformations": {"clearRouteCache": True}})])
    assert _inspect(new, old, old)["prefix /a"].state == "pending"


def test_served_and_applied_are_still_compared_for_unmodelled_routes():
    old = _translate([_route("/a", "echo", {"transformations": {"clearRouteCache": True}})])
    new = _translate([_route("/a", "other", {"transformations": {"clearRouteCache": True}})])
    row = _inspect(new, new, old)["prefix /a"]
    assert row.state == "replica-lagging" and row.cells[R0].state == "replica-lagging"


def test_drift_rows_take_unmodelled_from_the_inputs():
    class Row:
        action_summary = "echo_gloo-system"
        match_summary = "prefix /a"
        virtual_host = "vh"
        order = 0
        name = ""
        replaced = False
        match = {"prefix": "/a"}  # noqa: RUF012

    key = route_key(Row())  # type: ignore[arg-type]
    (row,) = drift_rows([Row()], [Row()], {}, DriftInputs(unmodelled={key: "faults"}))  # type: ignore[list-item]
    assert (row.state, row.cause) == ("unmodelled", "routing in sync; gloo_nb does not predict: faults")


def test_the_tree_lists_what_is_not_modelled_without_changing_states():
    t = _translate([_route("/a", "echo", {"transformations": {"clearRouteCache": True}}), _route("/b", "echo")],
                   {"waf": {"disabled": True}})
    tree = DelegationTree(t)
    (root,) = tree.roots()
    assert root.state == "accepted"
    assert [u.path for u in root.unmodelled] == ["spec.virtualHost.options.waf",
                                                 "spec.virtualHost.routes[0].options.transformations"]
    a, b = tree.children(root.id)
    assert [u.feature for u in a.unmodelled] == [TF] and a.state == "accepted"
    assert b.unmodelled == []
    assert [u.feature for u in tree.detail(a.id).unmodelled] == [TF]


def test_inspect_document_and_text_list_what_is_not_modelled():
    t = _translate([_route("/a", "echo", {"transformations": {"clearRouteCache": True}})])
    insp = Inspection.build(t, _served(t), {R0: _served(t)}, {})
    assert insp.document()["unmodelled"] == [{"kind": "VirtualService", "namespace": GS, "name": "app",
                                              "path": "spec.virtualHost.routes[0].options.transformations",
                                              "feature": TF}]
    assert (f"  not modelled: VirtualService gloo-system/app: spec.virtualHost.routes[0].options.transformations ({TF})"
            in insp.text().splitlines())
