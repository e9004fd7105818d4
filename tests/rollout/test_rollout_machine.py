"""The step machine driven against an in-test world: full runs, refusals, conflicts, resume, rollback."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
from rolloutkit import ECHO, FOXTROT, SETTINGS_PATCHED, Cluster, drive, history, spec_of

from gloo_nb.rollout import RolloutError, RolloutMachine, RolloutTarget
from gloo_nb.rollout.effects import Apply, AwaitApproval, AwaitConverged, Checkpoint, Delete, Probe, Record, StepDone

pytestmark = pytest.mark.unit


def done(effects):
    return [(e.step, e.outcome) for e in effects if isinstance(e, StepDone)]


def records(effects, kind):
    return [e.data for e in effects if isinstance(e, Record) and e.kind == kind]


def test_foxtrot_runs_to_finish():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    effects = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT)
    assert done(effects) == [(s, "proven") for s in
                             ("phase1", "phase2-0", "phase2-10", "phase2-50", "phase2-100", "finish")]
    assert [s for s, _ in cluster.applies] == ["phase1", "phase2-0", "phase2-10", "phase2-50", "phase2-100", "finish"]
    assert cluster.route_table(FOXTROT)["spec"] == spec_of("rt-foxtrot-5.yaml")
    assert [spec for s, spec in cluster.applies if s == "phase2-100"] == [spec_of("rt-foxtrot-4.yaml")]
    # Each apply carries the resourceVersion it was computed from, and a diff.
    first = next(e for e in effects if isinstance(e, Apply))
    assert first.manifest["metadata"]["resourceVersion"] and "+      - name: stage" in first.diff
    # Probes: enough requests for each expectation.
    probes = {(p.step, p.name): p.requests for p in cluster.probes}
    assert probes[("phase2-50", "without-header")] == 14_456
    assert probes[("phase1", "with-header")] == 152
    assert next(p for p in cluster.probes if p.name == "with-header").headers == {"stage": "canary"}
    conv = next(e for e in effects if isinstance(e, AwaitConverged))
    assert conv.resource == "foxtrot/foxtrot-routes" and len(conv.expected) == 2
    assert [c.step for c in effects if isinstance(c, Checkpoint)] == [s for s, _ in done(effects)]
    # The plan was recorded once, first.
    assert records(effects, "rollout.plan")[0]["steps"][0] == "phase1"
    # Echo's routes were never touched.
    assert cluster.objects[("RouteTable", "echo", "echo-routes")]["spec"] == spec_of("rt-echo-2.yaml")


def test_echo_from_rt_echo_1_pins_first():
    cluster = Cluster("rt-echo-1.yaml", "rt-foxtrot-1.yaml")
    target = RolloutTarget(**{**ECHO.__dict__, "until": "phase1"})
    effects = drive(RolloutMachine(target).steps(), cluster, target)
    assert done(effects) == [("pin-stable", "proven"), ("phase1", "proven")]
    assert cluster.route_table(ECHO)["spec"] == spec_of("rt-echo-2.yaml")
    pin_probe = next(p for p in cluster.probes if p.step == "pin-stable")
    assert (pin_probe.name, pin_probe.requests) == ("without-header", 152)


def test_refused_under_last_known_good_then_proceeds_with_the_settings_patch():
    cluster = Cluster("rt-echo-3.yaml", "rt-foxtrot-2.yaml")
    history_so_far = []
    effects = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT)
    history_so_far += history(effects)
    # phase1 is already live (someone did exactly it): proven without a write, then phase2-0 is refused.
    assert done(effects) == [("phase1", "proven"), ("phase2-0", "refused")]
    assert records(effects, "rollout.adopted")[0]["step"] == "phase1"
    refused = [e for e in effects if isinstance(e, StepDone)][-1]
    assert refused.reason.startswith("not-last-known-good: the proxy holds its last known good configuration: "
                                     "echo/echo-routes (team echo)")
    assert "echo-typo" in refused.reason
    assert cluster.applies == []
    cluster.put(SETTINGS_PATCHED)
    effects = drive(RolloutMachine(FOXTROT, history=history_so_far).steps(), cluster, FOXTROT)
    assert done(effects)[0] == ("phase2-0", "proven")
    assert done(effects)[-1] == ("finish", "proven")


def test_conflict_on_another_route_replans_and_keeps_their_change():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    extra = {"matchers": [{"exact": "/foxtrot/health"}], "directResponseAction": {"status": 200}}

    def other_writer(c, _apply):
        rt = copy.deepcopy(c.route_table(FOXTROT))
        rt["spec"]["routes"].insert(0, extra)
        c.put(rt)

    cluster.before_apply = other_writer
    target = RolloutTarget(**{**FOXTROT.__dict__, "until": "phase1"})
    effects = drive(RolloutMachine(target).steps(), cluster, target)
    assert done(effects) == [("phase1", "proven")]
    assert len(records(effects, "rollout.conflict")) == 1
    assert [s for s, _ in cluster.applies] == ["phase1"]  # the retry, not the stale write
    spec = cluster.route_table(FOXTROT)["spec"]
    assert spec["routes"][0] == extra and spec["routes"][1:] == spec_of("rt-foxtrot-2.yaml")["routes"]


def test_conflict_on_a_managed_route_stops():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")

    def other_writer(c, _apply):
        rt = copy.deepcopy(c.route_table(FOXTROT))
        rt["spec"]["routes"][0]["routeAction"]["single"]["subset"]["values"]["version"] = "v3"
        c.put(rt)

    cluster.before_apply = other_writer
    effects = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT)
    assert done(effects) == [("phase1", "conflict")]
    assert "another writer changed the routes this rollout manages" in effects[-1].reason
    assert cluster.applies == []
    # Never overwritten.
    assert cluster.route_table(FOXTROT)["spec"]["routes"][0]["routeAction"]["single"]["subset"]["values"] == \
        {"version": "v3"}


def test_a_table_reverted_between_runs_voids_the_proofs_and_plans_from_the_live_table():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    target = RolloutTarget(**{**FOXTROT.__dict__, "until": "phase1"})
    h = history(drive(RolloutMachine(target).steps(), cluster, target))
    rt = copy.deepcopy(cluster.route_table(FOXTROT))
    del rt["spec"]["routes"][0]  # someone removed the header route: the table is back where it started
    cluster.put(rt)
    status = RolloutMachine(FOXTROT, history=h).status(cluster.world(FOXTROT))
    assert {s.step: s.state for s in status.steps}["phase1"] == "proven, but the live RouteTable moved since"
    assert [p.step for p in RolloutMachine(FOXTROT, history=h).preview(cluster.world(FOXTROT))][0] == "phase1"
    effects = drive(RolloutMachine(target, history=h).steps(), cluster, target)
    recheck = records(effects, "rollout.recheck")
    assert len(recheck) == 1 and not recheck[0]["ok"] and recheck[0]["dropped"] == ["phase1"]
    assert "no longer at checkpoint phase1" in recheck[0]["reason"]
    # Nothing is claimed from the journal: phase 1 is applied again and proven by new traffic.
    assert done(effects) == [("phase1", "proven")]
    assert [s for s, _ in cluster.applies] == ["phase1", "phase1"]
    # A later resume agrees: the dropped proof stays dropped, the new one holds.
    h2 = h + history(effects)
    effects = drive(RolloutMachine(target, history=h2).steps(), cluster, target)
    assert records(effects, "rollout.recheck")[0]["ok"] and done(effects) == []


def test_a_hand_made_change_between_runs_is_a_conflict_and_never_overwritten():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    target = RolloutTarget(**{**FOXTROT.__dict__, "until": "phase1"})
    h = history(drive(RolloutMachine(target).steps(), cluster, target))
    rt = copy.deepcopy(cluster.route_table(FOXTROT))
    rt["spec"]["routes"][1]["routeAction"]["single"]["subset"]["values"]["version"] = "v3"
    cluster.put(rt)
    effects = drive(RolloutMachine(FOXTROT, history=h).steps(), cluster, FOXTROT)
    assert not records(effects, "rollout.recheck")[0]["ok"]
    assert done(effects)[-1][1] == "conflict" and len(cluster.applies) == 1


def test_nothing_to_do_is_rechecked_against_the_live_cluster():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    h = history(drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT))
    # Every step is proven; the table is where the rollout left it, but the gateway does not serve it.
    cluster.converge_ok = False
    effects = drive(RolloutMachine(FOXTROT, history=h).steps(), cluster, FOXTROT)
    waits = [e for e in effects if isinstance(e, AwaitConverged)]
    assert len(waits) == 1 and waits[0].step == "finish" and waits[0].timeout < 30
    assert done(effects) == [("finish", "failed")]
    assert "nothing is claimed as proven" in effects[-1].reason and "lagging" in effects[-1].reason
    cluster.converge_ok = True
    effects = drive(RolloutMachine(FOXTROT, history=h).steps(), cluster, FOXTROT)
    assert done(effects) == [] and records(effects, "rollout.recheck")[0]["ok"]
    assert "served" in records(effects, "rollout.recheck")[0]["reason"]


def test_resume_after_kill_between_apply_and_proof():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    effects = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT,
                    stop=lambda e: isinstance(e, Apply) and e.step == "phase2-0")
    h = history(effects)
    assert [s for s, _ in cluster.applies] == ["phase1", "phase2-0"]
    status = RolloutMachine(FOXTROT, history=h).status(cluster.world(FOXTROT))
    assert {s.step: s.state for s in status.steps}["phase2-0"] == "live" and not status.drift
    effects = drive(RolloutMachine(FOXTROT, history=h).steps(), cluster, FOXTROT)
    assert done(effects)[0] == ("phase2-0", "proven")
    assert not records(effects, "rollout.plan")  # the recorded plan is used
    assert Counter(s for s, _ in cluster.applies) == Counter(
        {"phase1": 1, "phase2-0": 1, "phase2-10": 1, "phase2-50": 1, "phase2-100": 1, "finish": 1})


def test_resume_after_apply_recorded_does_not_apply_twice():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    effects = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT,
                    stop=lambda e: isinstance(e, Record) and e.kind == "rollout.apply"
                    and e.data["step"] == "phase2-10")
    h = history(effects)
    effects = drive(RolloutMachine(FOXTROT, history=h).steps(), cluster, FOXTROT)
    assert not records(effects, "rollout.adopted")  # it knows it applied phase2-10 itself
    assert [s for s, _ in cluster.applies].count("phase2-10") == 1
    assert done(effects)[-1] == ("finish", "proven")


def test_failed_proof_and_convergence_stop():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    cluster.converge_ok = False
    effects = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT)
    assert done(effects) == [("phase1", "failed")]
    assert effects[-1].reason == "not converged: replica gateway-proxy-0 lagging"
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    real = cluster.probe

    def wrong(effect, target):  # 2 % of the requests with the header miss the canary
        obs = real(effect, target)
        if effect.name == "with-header":
            return type(obs)(obs.sent, obs.statuses, {"v2": obs.sent - 3, "v1": 3})
        return obs

    cluster.probe = wrong
    effects = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT)
    assert done(effects) == [("phase1", "failed")]
    assert effects[-1].reason == "with-header: 3 request(s) of 152 did not reach the canary (version=v2) (target 100%)"
    assert not any(isinstance(e, Checkpoint) for e in effects)


def run_to(cluster, until_step):
    return history(drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT,
                         stop=lambda e: isinstance(e, StepDone) and e.step == until_step))


def test_rollback_to_start_and_to_a_checkpoint():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    h = run_to(cluster, "phase2-50")
    effects = drive(RolloutMachine(FOXTROT, history=h).rollback("phase1"), cluster, FOXTROT)
    assert done(effects) == [("rollback-phase1", "proven")]
    assert cluster.route_table(FOXTROT)["spec"] == spec_of("rt-foxtrot-2.yaml")
    assert sorted(records(effects, "rollout.rollback")[0]["dropped"]) == ["phase2-0", "phase2-10", "phase2-50"]
    assert {p.name for p in cluster.probes if p.step == "rollback-phase1"} == {"with-header", "without-header"}
    h += history(effects)
    status = RolloutMachine(FOXTROT, history=h).status(cluster.world(FOXTROT))
    assert status.last_checkpoint == "phase1" and status.next_step == "phase2-0" and not status.drift
    # Default: the last proven state before the current one (phase1 -> start).
    effects = drive(RolloutMachine(FOXTROT, history=h).rollback(), cluster, FOXTROT)
    assert done(effects) == [("rollback-start", "proven")]
    assert cluster.route_table(FOXTROT)["spec"] == spec_of("rt-foxtrot-1.yaml")
    h += history(effects)
    # A rerun starts over, reusing the recorded plan.
    effects = drive(RolloutMachine(FOXTROT, history=h).steps(), cluster, FOXTROT)
    assert done(effects)[0] == ("phase1", "proven") and done(effects)[-1] == ("finish", "proven")


def test_rollback_default_goes_one_checkpoint_back():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    h = run_to(cluster, "phase2-50")
    effects = drive(RolloutMachine(FOXTROT, history=h).rollback(), cluster, FOXTROT)
    assert done(effects) == [("rollback-phase2-10", "proven")]
    weights = [d["weight"] for d in cluster.route_table(FOXTROT)["spec"]["routes"][1]["routeAction"]["multi"][
        "destinations"]]
    assert weights == [90, 10]


def test_echo_rollback_to_start_restores_the_pinned_state():
    cluster = Cluster("rt-echo-1.yaml", "rt-foxtrot-1.yaml")
    h = history(drive(RolloutMachine(ECHO).steps(), cluster, ECHO,
                      stop=lambda e: isinstance(e, StepDone) and e.step == "phase2-10"))
    effects = drive(RolloutMachine(ECHO, history=h).rollback("start"), cluster, ECHO)
    assert done(effects) == [("rollback-pin-stable", "proven")]
    spec = cluster.route_table(ECHO)["spec"]
    assert spec["routes"] == [{**spec_of("rt-echo-1.yaml")["routes"][0],
                               "routeAction": {"single": {"upstream": {"name": "echo", "namespace": "gloo-system"},
                                                          "subset": {"values": {"version": "v1"}}}}}]
    # v1-only traffic, proven.
    assert [(p.name, p.requests) for p in cluster.probes if p.step.startswith("rollback")] == [("without-header", 152)]


def test_rollback_needs_a_checkpoint():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    h = run_to(cluster, "phase1")
    with pytest.raises(RolloutError, match="no checkpoint 'phase2-50'"):
        drive(RolloutMachine(FOXTROT, history=h).rollback("phase2-50"), cluster, FOXTROT)
    with pytest.raises(RolloutError, match="nothing to roll back to"):
        drive(RolloutMachine(FOXTROT).rollback(), cluster, FOXTROT)


def test_live_already_in_phase2_goes_on_from_there():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-4.yaml")  # canary at 100 by hand
    effects = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT)
    assert done(effects) == [("phase1", "skipped"), ("phase2-0", "skipped"), ("phase2-10", "skipped"),
                             ("phase2-50", "skipped"), ("phase2-100", "proven"), ("finish", "proven")]
    assert [s for s, _ in cluster.applies] == ["finish"]


def test_a_hand_made_split_between_two_steps_is_not_skipped_over():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    target = RolloutTarget(**{**FOXTROT.__dict__, "until": "phase1"})
    h = history(drive(RolloutMachine(target).steps(), cluster, target))
    cluster.put(copy.deepcopy({**cluster.route_table(FOXTROT), "spec": spec_of("rt-foxtrot-4.yaml")}))
    rt = copy.deepcopy(cluster.route_table(FOXTROT))
    rt["spec"]["routes"][1]["routeAction"]["multi"]["destinations"][0]["weight"] = 30
    rt["spec"]["routes"][1]["routeAction"]["multi"]["destinations"][1]["weight"] = 70  # 30/70: no step writes it
    cluster.put(rt)
    applies = len(cluster.applies)
    # The plan preview and the status say the same as the run: nothing "already past", a conflict.
    previews = RolloutMachine(FOXTROT, history=h).preview(cluster.world(FOXTROT))
    assert not any(p.description.startswith("(already past)") for p in previews)
    assert "another writer changed" in RolloutMachine(FOXTROT, history=h).status(cluster.world(FOXTROT)).drift
    effects = drive(RolloutMachine(FOXTROT, history=h).steps(), cluster, FOXTROT)
    assert done(effects) == [("phase2-0", "conflict")] and len(cluster.applies) == applies
    assert [d["weight"] for d in cluster.route_table(FOXTROT)["spec"]["routes"][1]["routeAction"]["multi"]
            ["destinations"]] == [30, 70]


def test_decommission_asks_then_deletes_the_stable_deployment():
    target = RolloutTarget(**{**FOXTROT.__dict__, "decommission": True})
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    cluster.approve = False
    effects = drive(RolloutMachine(target).steps(), cluster, target)
    assert done(effects)[-1] == ("decommission", "refused")
    ask = next(e for e in effects if isinstance(e, AwaitApproval))
    assert "foxtrot/foxtrot-v1" in ask.question
    assert cluster.deleted == []
    cluster.approve = True
    effects = drive(RolloutMachine(target, history=history(effects)).steps(), cluster, target)
    assert done(effects) == [("decommission", "proven")]
    assert cluster.deleted == ["foxtrot/foxtrot-v1"]
    # approve_destructive: no question asked.
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    effects = drive(RolloutMachine(target, approve_destructive=True).steps(), cluster, target)
    assert not any(isinstance(e, AwaitApproval) for e in effects)
    assert [e.name for e in effects if isinstance(e, Delete)] == ["foxtrot-v1"]


def test_preview_chains_the_steps_without_applying():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    previews = RolloutMachine(FOXTROT).preview(cluster.world(FOXTROT))
    assert [p.step for p in previews] == ["phase1", "phase2-0", "phase2-10", "phase2-50", "phase2-100", "finish"]
    assert all(g.ok for p in previews for g in p.guards)
    changed = [line.split() for line in previews[3].diff.splitlines() if line[:1] in "+-" and "weight" in line]
    assert changed == [["-", "weight:", "90"], ["+", "weight:", "50"], ["-", "weight:", "10"], ["+", "weight:", "50"]]
    assert cluster.applies == []


def test_records_are_json_and_the_world_is_read_only():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    effects = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT)
    kinds = Counter(e.kind for e in effects if isinstance(e, Record))
    assert kinds["rollout.plan"] == 1 and kinds["rollout.checkpoint"] == 6 and kinds["rollout.step"] == 6
    assert kinds["rollout.probe"] == kinds["rollout.verdict"] == 12
    assert len(history(effects)) == sum(kinds.values())
    assert all(not isinstance(e, Probe) or e.upstream == "gloo-system/foxtrot" for e in effects)


def test_guard_records_carry_each_result():
    cluster = Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    target = RolloutTarget(**{**FOXTROT.__dict__, "until": "phase1"})
    effects = drive(RolloutMachine(target).steps(), cluster, target)
    guards = records(effects, "rollout.guards")[0]
    assert guards["step"] == "phase1" and guards["ok"] is True
    assert [g["name"] for g in guards["guards"]][0] == "canary-endpoints"
