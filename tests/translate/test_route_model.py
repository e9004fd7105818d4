"""The one route model: identity, owners by identity, block causes, fallback label and destination shares."""

from __future__ import annotations

import pytest
from builders import GS, kube_upstream, m, ref, route, rt, settings, to, vs

from gloo_nb.models import ResourceKey
from gloo_nb.translate import Translator, translate
from gloo_nb.translate.envoy import FALLBACK_CLUSTER
from gloo_nb.translate.render import envoy_json
from gloo_nb.translate.routes import (
    RouteId,
    destination_shares,
    fallback_label,
    fallback_label_json,
    route_id,
    route_rows,
    rows_from_envoy_json,
)

pytestmark = pytest.mark.unit

UP = kube_upstream("echo")
TEAM = ResourceKey("RouteTable", "team", "routes")
APP = ResourceKey("VirtualService", GS, "app")


def _two_teams(target: str = "echo"):
    return [vs("app", route(m("/own"), action=to("echo")), route(m("/t"), delegate=ref("routes", "team"))),
            rt("routes", "team", route(m("/t/a"), action=to(target)), route(m("/t/b"), action=to("echo"))), UP]


def test_route_identity_is_virtual_host_and_canonical_match() -> None:
    assert route_id("vh", {"prefix": "/a", "caseSensitive": False}) == route_id("vh", {"caseSensitive": False,
                                                                                        "prefix": "/a"})
    assert route_id("vh", {"prefix": "/a"}) != route_id("other", {"prefix": "/a"})
    assert isinstance(route_id("vh", {}), RouteId) and route_id("vh", {"prefix": "/a"}).virtual_host == "vh"


def test_the_translation_names_each_route_owner_by_identity() -> None:
    t = translate(_two_teams())
    rows = route_rows(t.envoy.route_configurations, "intent")
    owners = {r.match_summary: t.route_sources()[r.id] for r in rows}
    assert owners["prefix /own"] == (APP,)
    assert owners["prefix /t/a"] == (TEAM, APP) and owners["prefix /t/b"] == (TEAM, APP)
    # Identity, not position: a row of another source at another position finds the same owner.
    moved = route_id(rows[2].virtual_host, dict(rows[2].match))
    assert t.route_owner(moved) == TEAM and t.route_owner(route_id("nowhere", {})) is None


def test_owners_of_the_served_snapshot_stay_known_while_the_push_is_held() -> None:
    tr = Translator("1.3")
    tr.translate(translate(_two_teams()).snapshot)
    held = tr.translate(translate(_two_teams(target="missing")).snapshot)
    assert held.push.decision == "keep-last-good"
    served = route_rows(held.served.route_configurations, "served") if held.served else []
    assert served and all(held.route_sources()[r.id][0] in (APP, TEAM) for r in served)


def test_block_causes_name_the_resource_and_gloo_message_once() -> None:
    tr = Translator("1.3")
    tr.translate(translate(_two_teams()).snapshot)
    held = tr.translate(translate(_two_teams(target="missing")).snapshot)
    causes = held.block_causes()
    assert causes and all(c.ref == "team/routes" and c.namespace == "team" for c in causes)
    assert len({c.text() for c in causes}) == len(causes) and causes[0].text().startswith("team/routes: ")
    assert translate(_two_teams()).block_causes() == ()


def test_fallback_label_and_rows_agree_between_protos_and_proto_json() -> None:
    t = translate([*_two_teams(target="missing"), settings(replace=True, code=418)], "current")
    assert fallback_label(t.envoy.listeners) == "fallback 418" == fallback_label_json(envoy_json(t.envoy)["listeners"])
    rows = route_rows(t.envoy.route_configurations, "intent", fallback_body=fallback_label(t.envoy.listeners))
    from_json = rows_from_envoy_json(envoy_json(t.envoy))
    assert [(r.id, r.match_summary, r.action_summary, r.replaced) for r in rows] == [
        (r.id, r.match_summary, r.action_summary, r.replaced) for r in from_json]
    assert any(r.replaced and r.action_summary == "fallback 418" for r in rows)


def test_destination_shares_is_the_one_weights_computation() -> None:
    weighted = {"weightedClusters": {"clusters": [
        {"name": "fox", "weight": 90, "metadataMatch": {"filterMetadata": {"envoy.lb": {"version": "v1"}}}},
        {"name": FALLBACK_CLUSTER, "weight": 10}]}}
    assert destination_shares(weighted, "fallback 404") == {"fox {version=v1}": 0.9, "fallback 404": 0.1}
    # A whole proto-JSON route reads the same as its route action.
    assert destination_shares({"route": weighted}) == {"fox {version=v1}": 0.9, "fallback": 0.1}
    assert destination_shares({"redirect": {"hostRedirect": "x"}}) == {}
