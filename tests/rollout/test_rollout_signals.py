"""Golden signals per subset (latency p50/p99 measured by the probe) and the canary-signals guard (issue 16)."""

from __future__ import annotations

import dataclasses

import pytest
from rolloutkit import FOXTROT, Cluster, drive, history

from gloo_nb.errors import UsageError
from gloo_nb.rollout import RolloutMachine
from gloo_nb.rollout.effects import Probe, ProbeObservation, Record, StepDone
from gloo_nb.rollout.signals import (
    MIXED,
    CanarySignals,
    LatencySignal,
    SignalThresholds,
    attribute_latency,
    canary_signals,
    latency_signal,
    percentile,
    signals_guard,
)

pytestmark = pytest.mark.unit


# --- the computation ----------------------------------------------------------------------------

def test_nearest_rank_percentiles():
    samples = [float(v) for v in range(1, 101)]  # 1..100 ms, shuffled order must not matter
    assert percentile(list(reversed(samples)), 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile(samples, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    # One slow request in a hundred is the p99; two in a hundred push the p99 to the slow value too.
    assert percentile([1.0] * 99 + [500.0], 99) == 1.0
    assert percentile([1.0] * 98 + [500.0] * 2, 99) == 500.0


def test_latency_signal_keeps_envoys_header_apart_from_the_probes_round_trip():
    sig = latency_signal([10.0, 20.0, 30.0], [4.0, None, 6.0])
    assert (sig.requests, sig.p50_ms, sig.p99_ms) == (3, 20.0, 30.0)
    assert (sig.envoy_p50_ms, sig.envoy_p99_ms) == (4.0, 6.0)
    assert sig.source == "probe"
    assert LatencySignal.from_json(sig.as_json()) == sig
    no_header = latency_signal([5.0], [None])
    assert no_header.envoy_p99_ms is None and no_header.as_json()["envoyUpstreamP99Ms"] is None


def test_latency_is_attributed_only_when_the_whole_probe_reached_one_subset():
    times = [1.0, 2.0, 3.0]
    assert list(attribute_latency({"v2": 152}, times)) == ["v2"]
    # A split probe is never spread over the subsets by guess: it is shown as a whole.
    assert list(attribute_latency({"v1": 90, "v2": 10}, times)) == [MIXED]
    assert list(attribute_latency({"v1": 0, "v2": 5}, times)) == ["v2"]
    assert attribute_latency({"v2": 5}, []) == {}


def test_canary_signals_sum_the_probes_of_a_proof():
    probes = [
        {"bySubset": {"v1": 140, "v2": 12}, "errorsBySubset": {"v2": 3},
         "latencyBySubset": {MIXED: latency_signal([1.0, 900.0]).as_json()}},
        {"bySubset": {"v2": 152}, "errorsBySubset": {"v2": 1},
         "latencyBySubset": {"v2": latency_signal([2.0] * 98 + [250.0] * 2).as_json()}},
    ]
    sig = canary_signals("phase2-10", probes, "v2")
    assert (sig.requests, sig.errors, sig.p99_ms) == (164, 4, 250.0)  # the split probe's 900 ms is not the canary's
    assert sig.error_rate == pytest.approx(4 / 164)
    # Records written before issue 16 (no errorsBySubset) measured nothing.
    old = canary_signals("phase1", [{"bySubset": {"v2": 152}}], "v2")
    assert old.errors is None and old.error_rate is None and old.p99_ms is None


# --- the guard ------------------------------------------------------------------------------------

def test_thresholds_are_off_by_default_and_checked():
    assert not SignalThresholds().active
    assert SignalThresholds.parse("", None) == SignalThresholds()
    t = SignalThresholds.parse("1", "250")
    assert t == SignalThresholds(0.01, 250.0) and t.active
    with pytest.raises(UsageError, match="--max-error-rate must be a number"):
        SignalThresholds.parse("one", None)
    with pytest.raises(UsageError, match="--max-error-rate must be a percentage within 0..100"):
        SignalThresholds.parse("150", None)
    with pytest.raises(UsageError, match="--max-p99-ms must be a positive"):
        SignalThresholds.parse(None, "0")


def test_guard_refuses_above_the_error_rate_and_names_value_and_threshold():
    ok, reason = signals_guard(SignalThresholds(max_error_rate=0.01), CanarySignals("phase1", 152, 15, 3.0),
                               "version=v2")
    assert not ok
    assert reason == ("refusing to promote: canary version=v2 answered 15 of 152 requests 5xx (9.87 %) in the proof "
                      "of phase1, above the max error rate 1 %")


def test_guard_refuses_above_the_p99_and_names_value_and_threshold():
    ok, reason = signals_guard(SignalThresholds(max_p99_ms=100), CanarySignals("phase1", 152, 0, 312.4),
                               "version=v2")
    assert not ok
    assert reason == ("refusing to promote: canary version=v2 p99 latency 312.4 ms (measured by the probe) in the "
                      "proof of phase1, above the max 100 ms")


def test_guard_passes_below_and_at_the_thresholds():
    ok, reason = signals_guard(SignalThresholds(0.01, 100), CanarySignals("phase1", 200, 2, 100.0), "version=v2")
    assert ok, reason
    assert reason == "canary version=v2 in the proof of phase1: 5xx 1 % <= 1 %, p99 100.0 ms <= 100 ms"


def test_guard_never_passes_on_a_number_it_did_not_see():
    ok, reason = signals_guard(SignalThresholds(0.01, 100), CanarySignals("phase1", 152, None, None), "version=v2")
    assert not ok
    assert "5xx share was not measured in the proof of phase1" in reason
    assert "p99 latency was not measured in the proof of phase1" in reason
    # Nothing proven yet: nothing to judge (the first step is not a promotion anyway).
    assert signals_guard(SignalThresholds(0.01), None, "version=v2")[0]


# --- the machine ------------------------------------------------------------------------------------

class SignalCluster(Cluster):
    """The in-test cluster, with Envoy's 5xx and the probe's latency for the canary's requests."""

    def __init__(self, *files, canary_errors=0.0, canary_ms=5.0, **kw):
        super().__init__(*files, **kw)
        self.canary_errors = canary_errors
        self.canary_ms = canary_ms

    def probe(self, effect: Probe, target) -> ProbeObservation:
        obs = super().probe(effect, target)
        canary = obs.by_subset.get(target.canary, 0)
        errors = {target.canary: round(canary * self.canary_errors)} if canary else {}
        ms = self.canary_ms if canary == sum(obs.by_subset.values()) else 2.0
        return dataclasses.replace(obs, errors_by_subset=errors,
                                   latency_by_subset=attribute_latency(obs.by_subset, [ms] * obs.sent))


def done(effects):
    return [(e.step, e.outcome, e.reason) for e in effects if isinstance(e, StepDone)]


def guard_records(effects):
    return [e.data for e in effects if isinstance(e, Record) and e.kind == "rollout.guards"]


def test_off_by_default_a_5xx_slow_canary_is_promoted_but_its_signals_are_journaled():
    cluster = SignalCluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml", canary_errors=0.1, canary_ms=900.0)
    effects = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT)
    assert [s for s, outcome, _ in done(effects) if outcome == "proven"][-1] == "finish"
    assert all(g["name"] != "canary-signals" for r in guard_records(effects) for g in r["guards"])
    probe = next(e.data for e in effects if isinstance(e, Record) and e.kind == "rollout.probe"
                 and e.data["name"] == "with-header")
    assert probe["errorsBySubset"] == {"v2": 15}
    assert probe["latencyBySubset"]["v2"]["p99Ms"] == 900.0 and probe["latencyBySubset"]["v2"]["source"] == "probe"


def test_a_5xx_canary_is_refused_before_the_first_weighted_step():
    cluster = SignalCluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml", canary_errors=0.1)
    machine = RolloutMachine(FOXTROT, thresholds=SignalThresholds(max_error_rate=0.01))
    effects = drive(machine.steps(), cluster, FOXTROT)
    steps = done(effects)
    assert [(s, o) for s, o, _ in steps] == [("phase1", "proven"), ("phase2-0", "refused")]
    assert "canary version=v2 answered 15 of 152 requests 5xx (9.87 %) in the proof of phase1, above the max " \
           "error rate 1 %" in steps[-1][2]
    assert [s for s, _ in cluster.applies] == ["phase1"]  # nothing promoted
    # The guard is journaled like the others; phase1 itself (not a promotion) had no such guard.
    first, last = guard_records(effects)[0], guard_records(effects)[-1]
    assert all(g["name"] != "canary-signals" for g in first["guards"])
    assert last["guards"][-1]["name"] == "canary-signals" and last["guards"][-1]["ok"] is False


def test_a_slow_canary_is_refused_and_a_healthy_one_passes_the_same_thresholds():
    slow = SignalCluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml", canary_ms=400.0)
    thresholds = SignalThresholds(max_error_rate=0.01, max_p99_ms=250)
    effects = drive(RolloutMachine(FOXTROT, thresholds=thresholds).steps(), slow, FOXTROT)
    step, outcome, reason = done(effects)[-1]
    assert (step, outcome) == ("phase2-0", "refused")
    assert "canary version=v2 p99 latency 400.0 ms (measured by the probe) in the proof of phase1, above the max " \
           "250 ms" in reason

    healthy = SignalCluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml", canary_ms=20.0)
    effects = drive(RolloutMachine(FOXTROT, thresholds=thresholds).steps(), healthy, FOXTROT)
    assert [o for _, o, _ in done(effects)] == ["proven"] * 6
    signals = [g for r in guard_records(effects) for g in r["guards"] if g["name"] == "canary-signals"]
    assert len(signals) == 5 and all(g["ok"] for g in signals)  # phase2-0, -10, -50, -100, finish
    assert signals[0]["reason"] == ("canary version=v2 in the proof of phase1: 5xx 0 % <= 1 %, "
                                    "p99 20.0 ms <= 250 ms")


def test_a_resumed_run_judges_by_the_journals_last_proof():
    cluster = SignalCluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml", canary_errors=0.1)
    first = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT, stop=lambda e: isinstance(e, StepDone))
    assert done(first)[-1][:2] == ("phase1", "proven")
    later = RolloutMachine(FOXTROT, history=history(first), thresholds=SignalThresholds(max_error_rate=0.05))
    effects = drive(later.steps(), cluster, FOXTROT)
    step, outcome, reason = done(effects)[-1]
    assert (step, outcome) == ("phase2-0", "refused") and "9.87 %" in reason


def test_the_dry_run_predicts_the_next_promotions_refusal_from_the_journal():
    cluster = SignalCluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml", canary_errors=0.1)
    first = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT, stop=lambda e: isinstance(e, StepDone))
    previews = RolloutMachine(FOXTROT, history=history(first),
                              thresholds=SignalThresholds(max_error_rate=0.01)).preview(cluster.world(FOXTROT))
    assert previews[0].step == "phase2-0"
    guard = previews[0].guards[-1]
    assert guard.name == "canary-signals" and not guard.ok and "9.87 %" in guard.reason
    # Later steps' signals come from proofs not made yet: not predicted.
    assert all(g.name != "canary-signals" for p in previews[1:] for g in p.guards)
    # Off by default: no such guard in the plan.
    plain = RolloutMachine(FOXTROT, history=history(first)).preview(cluster.world(FOXTROT))
    assert all(g.name != "canary-signals" for p in plain for g in p.guards)


def test_a_checkpoint_without_probe_records_is_not_measured_and_refused():
    cluster = SignalCluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml")
    first = drive(RolloutMachine(FOXTROT).steps(), cluster, FOXTROT, stop=lambda e: isinstance(e, StepDone))
    # A journal written before issue 16: its probe records have no errorsBySubset / latencyBySubset.
    old = [e if e["kind"] != "rollout.probe" else
           {"kind": e["kind"], "data": {k: v for k, v in e["data"].items()
                                        if k not in ("errorsBySubset", "latencyBySubset")}}
           for e in history(first)]
    effects = drive(RolloutMachine(FOXTROT, history=old, thresholds=SignalThresholds(0.01, 100)).steps(),
                    cluster, FOXTROT)
    step, outcome, reason = done(effects)[-1]
    assert (step, outcome) == ("phase2-0", "refused")
    assert "5xx share was not measured in the proof of phase1" in reason
    # Without any probe record for the checkpoint at all, the same.
    bare = [e for e in history(first) if e["kind"] != "rollout.probe"]
    effects = drive(RolloutMachine(FOXTROT, history=bare, thresholds=SignalThresholds(0.01)).steps(),
                    cluster, FOXTROT)
    assert done(effects)[-1][:2] == ("phase2-0", "refused")
