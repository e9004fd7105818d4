"""The plan: the seed's transforms exactly, what the team has elsewhere kept, plan errors, target validation."""

from __future__ import annotations

import copy

import pytest
from rolloutkit import ECHO, FOXTROT, docs, spec_of

from gloo_nb.errors import UsageError
from gloo_nb.rollout import RolloutError, RolloutTarget
from gloo_nb.rollout.plan import diff_route_table, find_managed, plan, plan_from_original

pytestmark = pytest.mark.unit


def chain(p, spec, *ids):
    for step_id in ids:
        spec = p.transform(p.step(step_id), spec)
    return spec


def test_seed_foxtrot_transforms_exactly():
    p = plan(FOXTROT, docs("rt-foxtrot-1.yaml")[0])
    assert p.step_ids == ("phase1", "phase2-0", "phase2-10", "phase2-50", "phase2-100", "finish")
    assert p.probe_path == "/foxtrot" and p.notes == ()
    spec = spec_of("rt-foxtrot-1.yaml")
    spec = chain(p, spec, "phase1")
    assert spec == spec_of("rt-foxtrot-2.yaml")
    spec = chain(p, spec, "phase2-0")
    assert spec == spec_of("rt-foxtrot-3.yaml")
    spec = chain(p, spec, "phase2-10", "phase2-50", "phase2-100")
    assert spec == spec_of("rt-foxtrot-4.yaml")
    spec = chain(p, spec, "finish")
    assert spec == spec_of("rt-foxtrot-5.yaml")
    # Transforms are idempotent: a step applied to its own output changes nothing.
    assert chain(p, spec, "finish") == spec


def test_echo_from_rt_echo_1_pins_stable_first():
    p = plan(ECHO, docs("rt-echo-1.yaml")[0])
    assert p.step_ids[:2] == ("pin-stable", "phase1")
    assert "version=v2" in p.steps[0].description and "not to version=v1 alone" in p.steps[0].description
    assert p.notes and p.notes[0].startswith("pin-stable first")
    pinned = chain(p, spec_of("rt-echo-1.yaml"), "pin-stable")
    assert pinned["routes"][0]["routeAction"]["single"]["subset"] == {"values": {"version": "v1"}}
    assert chain(p, pinned, "phase1") == spec_of("rt-echo-2.yaml")
    # The pin is proven by "no request reaches the canary".
    assert [(e.name, e.canary_share) for e in p.steps[0].expectations] == [("without-header", 0.0)]


def test_expectations():
    p = plan(FOXTROT, docs("rt-foxtrot-1.yaml")[0])
    exp = {s.id: [(e.name, e.headers, e.canary_share) for e in s.expectations] for s in p.steps}
    h = (("stage", "canary"),)
    assert exp["phase1"] == [("without-header", (), 0.0), ("with-header", h, 1.0)]
    assert exp["phase2-50"] == [("without-header", (), 0.5), ("with-header", h, 1.0)]
    assert exp["finish"] == [("without-header", (), 1.0), ("with-header", h, 1.0)]


def test_until_and_decommission():
    rt = docs("rt-foxtrot-1.yaml")[0]
    assert plan(RolloutTarget(**{**FOXTROT.__dict__, "until": "phase1"}), rt).step_ids == ("phase1",)
    assert plan(RolloutTarget(**{**FOXTROT.__dict__, "until": "phase2", "weights": (25, 100)}), rt).step_ids == \
        ("phase1", "phase2-0", "phase2-25", "phase2-100")
    assert plan(RolloutTarget(**{**FOXTROT.__dict__, "decommission": True}), rt).step_ids[-2:] == \
        ("finish", "decommission")


def test_already_in_phase2_does_not_pin():
    p = plan(FOXTROT, docs("rt-foxtrot-3.yaml")[0])
    assert p.step_ids[0] == "phase1"
    assert find_managed(FOXTROT, spec_of("rt-foxtrot-3.yaml")).state.order == 2.0
    assert p.notes and "already past the start" in p.notes[0]


def test_everything_else_the_team_has_is_kept():
    rt = copy.deepcopy(docs("rt-foxtrot-1.yaml")[0])
    health = {"matchers": [{"exact": "/foxtrot/health"}], "directResponseAction": {"status": 200, "body": "ok"}}
    rt["spec"]["routes"][0]["options"] = {"timeout": "5s"}
    rt["spec"]["routes"].insert(0, health)
    rt["spec"]["routes"].append({"matchers": [{"prefix": "/foxtrot/legacy"}],
                                 "routeAction": {"single": {"upstream": {"name": "legacy", "namespace": "foxtrot"}}}})
    rt["spec"]["weight"] = 5
    p = plan(FOXTROT, rt)
    phase1 = p.transform(p.step("phase1"), rt["spec"])
    assert phase1["routes"][0] == health
    assert phase1["routes"][1]["matchers"][0]["headers"] == [{"name": "stage", "value": "canary"}]
    assert phase1["routes"][1]["options"] == {"timeout": "5s"}  # the canary answers like the default route
    assert phase1["routes"][2]["options"] == {"timeout": "5s"}
    assert phase1["routes"][3]["matchers"] == [{"prefix": "/foxtrot/legacy"}]
    assert phase1["weight"] == 5
    finish = chain(p, phase1, "phase2-0", "phase2-100", "finish")
    assert [r["matchers"] for r in finish["routes"]] == [[{"exact": "/foxtrot/health"}], [{"prefix": "/foxtrot"}],
                                                         [{"prefix": "/foxtrot/legacy"}]]
    assert rt["spec"]["routes"][1].get("routeAction") == docs("rt-foxtrot-1.yaml")[0]["spec"]["routes"][0][
        "routeAction"]  # the input is not modified


def test_upstream_ref_kept_as_written():
    spec = copy.deepcopy(spec_of("rt-foxtrot-1.yaml"))
    del spec["routes"][0]["routeAction"]["single"]["upstream"]["namespace"]
    target = RolloutTarget("gloo-system/rt", "gloo-system/foxtrot", "version", "v1", "v2")
    p = plan_from_original(target, spec)
    out = chain(p, spec, "phase1", "phase2-0")
    assert out["routes"][1]["routeAction"]["multi"]["destinations"][0]["destination"]["upstream"] == \
        {"name": "foxtrot"}


def test_plan_errors_are_one_line_and_name_the_table():
    with pytest.raises(RolloutError, match=r"RouteTable foxtrot/foxtrot-routes: no route goes to upstream "
                                           r"gloo-system/other"):
        plan(RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/other", "version", "v1", "v2"),
             docs("rt-foxtrot-1.yaml")[0])
    # rt-echo-3: the header route goes to the typo'd upstream.
    with pytest.raises(RolloutError, match=r"RouteTable echo/echo-routes route 0: .* fix or remove it") as err:
        plan(ECHO, docs("rt-echo-3.yaml")[0])
    assert "\n" not in str(err.value)
    spec = copy.deepcopy(spec_of("rt-echo-2.yaml"))
    spec["routes"].reverse()
    with pytest.raises(RolloutError, match=r"route 1: the header route comes after the default route \(route 0\)"):
        plan_from_original(ECHO, spec)
    spec = copy.deepcopy(spec_of("rt-echo-1.yaml"))
    spec["routes"].append(copy.deepcopy(spec["routes"][0]))
    spec["routes"][1]["matchers"] = [{"prefix": "/echo/v2"}]
    with pytest.raises(RolloutError, match=r"routes 0, 1 could each be the default route"):
        plan_from_original(ECHO, spec)
    with pytest.raises(RolloutError, match=r"expected RouteTable echo/echo-routes"):
        plan(ECHO, docs("rt-foxtrot-1.yaml")[0])


@pytest.mark.parametrize("weights", [(50, 10, 100), (10, 50), (0, 100), (10, 10, 100), (10, 101), ()])
def test_bad_weights(weights):
    with pytest.raises(UsageError, match="--weights must be strictly increasing"):
        RolloutTarget("a/b", "c/d", "version", "v1", "v2", weights=weights)


def test_bad_targets():
    with pytest.raises(UsageError, match="--route-table must be NAMESPACE/NAME"):
        RolloutTarget("b", "c/d", "version", "v1", "v2")
    with pytest.raises(UsageError, match="both 'v1'"):
        RolloutTarget("a/b", "c/d", "version", "v1", "v1")
    with pytest.raises(UsageError, match="--until"):
        RolloutTarget("a/b", "c/d", "version", "v1", "v2", until="phase3")  # type: ignore[arg-type]
    assert RolloutTarget.from_json(FOXTROT.as_json()) == FOXTROT


def test_diff():
    text = diff_route_table("foxtrot", "foxtrot-routes", spec_of("rt-foxtrot-1.yaml"), spec_of("rt-foxtrot-2.yaml"),
                            "phase1")
    assert text.startswith("--- foxtrot/foxtrot-routes (live)\n+++ foxtrot/foxtrot-routes (phase1)\n")
    assert "+      - name: stage" in text and "namespace: foxtrot" in text
    assert diff_route_table("a", "b", {"routes": []}, {"routes": []}) == ""
