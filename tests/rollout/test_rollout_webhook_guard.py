"""The ``webhook`` guard (issue 19): Gloo's validating webhook's predicted answer to a step's write, per profile and
validation mode, joined by the API server's answer to a dry run of the same write when the connection can ask.

Gloo's rules are :mod:`gloo_nb.translate.webhook`'s (tested in tests/translate/test_webhook.py); these tests
check what the guard makes of them: who fails, which words, what the journal's ``detail`` holds.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from rolloutkit import FOXTROT, Cluster, drive, history

from gloo_nb.models.defaults import validation_block
from gloo_nb.rollout import RolloutMachine, assess
from gloo_nb.rollout.effects import Applied, Apply, DryRun, Record, Refused, StepDone
from gloo_nb.rollout.guards import webhook_guard, webhook_prediction
from gloo_nb.rollout.plan import plan_from_original

pytestmark = pytest.mark.unit

TYPO = "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream { gloo-system.foxtrot-typo } not found"
DENIED = 'admission webhook "gloo.gloo-system.svc" denied the request: resource incompatible with current Gloo snapshot'


def settings(mode: str, profile: str) -> dict[str, Any]:
    block = validation_block(mode, profile=profile)
    spec: dict[str, Any] = {"gateway": {"validation": block}} if block is not None else {}
    return {"apiVersion": "gloo.solo.io/v1", "kind": "Settings",
            "metadata": {"name": "default", "namespace": "gloo-system"}, "spec": spec}


def cluster(mode: str, profile: str = "current") -> Cluster:
    return Cluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml", profile=profile, extra=[settings(mode, profile)])


def phase1(c: Cluster, *, typo: bool = False, subset: bool = False) -> tuple[Any, Any, dict[str, Any]]:
    world = c.world(FOXTROT)
    p = plan_from_original(FOXTROT, world.route_table["spec"])
    step = p.step("phase1")
    new = p.transform(step, world.route_table["spec"])
    if typo:
        # The header route's destination mistyped, as echo's rt-echo-3 did.
        new = copy.deepcopy(new)
        new["routes"][0]["routeAction"]["single"]["upstream"]["name"] = "foxtrot-typo"
    if subset:
        # A subset key the Upstream's subsetSpec does not have: an error (checkThatSubsetMatchesUpstream).
        new = copy.deepcopy(new)
        new["routes"][0]["routeAction"]["single"]["subset"] = {"values": {"track": "v2"}}
    return world, step, new


def guard(world: Any, step: Any, new: dict[str, Any]) -> Any:
    return {g.name: g for g in assess(world, FOXTROT, step, new).guards}["webhook"]


def test_strict_current_predicts_the_denial_with_glooss_message() -> None:
    world, step, new = phase1(cluster("strict"), typo=True)
    g = guard(world, step, new)
    assert not g.ok
    assert g.reason.startswith("Gloo's webhook would deny the write: " + DENIED)
    assert TYPO in g.reason
    assert g.detail is not None and g.detail["server"] is None and g.detail["agree"] is None
    assert g.detail["prediction"]["allowed"] is False and TYPO in g.detail["prediction"]["denial"]


def test_a_clean_step_passes_strict_validation() -> None:
    world, step, new = phase1(cluster("strict"))
    g = guard(world, step, new)
    assert g.ok, g.reason
    assert g.reason == "Gloo's webhook would admit the write: the change passes Gloo's validation"


def test_accept_admits_an_error_and_says_it_would_only_log() -> None:
    world, step, new = phase1(cluster("accept"), subset=True)
    g = guard(world, step, new)
    assert g.ok
    assert g.reason.startswith("Gloo's webhook would admit the write and only log (alwaysAccept: true): "
                               "the change fails its validation; it would log: resource incompatible")
    assert "route has a subset config, but none of the subsets in the upstream match it" in g.reason
    # The same write under errors or strict validation is refused.
    assert not guard(*phase1(cluster("errors"), subset=True)).ok
    # A warning does not count under accept (allowWarnings: true): nothing to log.
    assert guard(*phase1(cluster("accept"), typo=True)).reason.endswith("the change passes its validation")
    clean = guard(*phase1(cluster("accept")))
    assert clean.ok and clean.reason == ("Gloo's webhook would admit the write and only log (alwaysAccept: true): "
                                         "the change passes its validation")


def test_errors_mode_admits_a_warning_in_current() -> None:
    g = guard(*phase1(cluster("errors"), typo=True))
    assert g.ok and g.reason == "Gloo's webhook would admit the write: the change passes Gloo's validation"


def test_gloo_13_admits_the_typo_even_strict() -> None:
    # 1.3 has no allowWarnings (AllowMissingLinks = true): a missing upstream is a warning, which never counts.
    g = guard(*phase1(cluster("strict", "1.3"), typo=True))
    assert g.ok, g.reason
    assert g.detail is not None and g.detail["prediction"]["webhook"] == "gateway.gloo-system.svc"


def test_validation_off_says_nothing_checks_the_write() -> None:
    g = guard(*phase1(cluster("off"), typo=True))
    assert g.ok
    assert g.reason.startswith("Gloo's webhook is off (Settings have no spec.gateway.validation)")


def test_the_servers_answer_is_shown_beside_the_prediction() -> None:
    world, _, new = phase1(cluster("strict"), typo=True)
    decision = webhook_prediction(world, FOXTROT, new)
    denial = f"PUT /apis/gateway.solo.io/v1/namespaces/foxtrot/routetables/foxtrot-routes: {decision.denial()}"
    agree = webhook_guard(world, decision, Refused(denial))
    assert not agree.ok and agree.reason.endswith("server: the API server refused a dry run of the write "
                                                  "(dryRun=All) with the same message; the prediction and the "
                                                  "server agree")
    assert agree.detail == {**agree.detail, "agree": True, "server": {"answer": "denied", "message": denial}}

    # The server admits what gloo_nb predicts it denies: shown, and the guard still fails (either denial stops it).
    disagree = webhook_guard(world, decision, Applied())
    assert not disagree.ok and disagree.reason.endswith("the prediction and the server DISAGREE")
    assert disagree.detail is not None and disagree.detail["agree"] is False

    # The other way round: gloo_nb admits, the cluster's webhook denies.
    world_ok, _, clean = phase1(cluster("strict"))
    other = webhook_guard(world_ok, webhook_prediction(world_ok, FOXTROT, clean), Refused(denial))
    assert not other.ok and "DISAGREE" in other.reason and "server: the API server refused a dry run" in other.reason


def test_a_refusal_before_admission_is_shown_not_counted() -> None:
    # RBAC's 403 on the dry run: the webhook was not asked; the write meets the same refusal and the step says so.
    world, _, new = phase1(cluster("strict"))
    forbidden = ('PUT /apis/gateway.solo.io/v1/namespaces/foxtrot/routetables/foxtrot-routes: routetables.gateway.'
                 'solo.io "foxtrot-routes" is forbidden: User "viewer" cannot update resource "routetables"')
    g = webhook_guard(world, webhook_prediction(world, FOXTROT, new), Refused(forbidden))
    assert g.ok and g.detail is not None and g.detail["server"]["answer"] == "refused" and g.detail["agree"] is None
    assert g.reason.endswith(f"server: the API server refused a dry run of the write before admission answered: "
                             f"{forbidden}")


def test_a_webhook_that_cannot_dry_run_says_so() -> None:
    world, _, new = phase1(cluster("accept", "1.3"))
    refusal = ('PUT /apis/gateway.solo.io/v1/namespaces/foxtrot/routetables/foxtrot-routes: admission webhook '
               '"gateway.gloo-system.svc" does not support dry run')
    g = webhook_guard(world, webhook_prediction(world, FOXTROT, new), Refused(refusal))
    assert g.ok
    assert f"server: the connection cannot dry-run the write: {refusal}" in g.reason
    assert g.detail is not None and g.detail["server"]["answer"] == "no-dry-run" and g.detail["agree"] is None


class DryRunCluster(Cluster):
    """A cluster whose API answers dry runs with a fixed observation, and records them."""

    def __init__(self, *args: Any, answer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dry_answer = answer
        self.dry_runs: list[DryRun] = []

    def world(self, target: Any) -> Any:
        return dataclasses.replace(super().world(target), server_dry_run=True)

    def answer(self, effect: Any, target: Any) -> Any:
        if isinstance(effect, DryRun):
            self.dry_runs.append(effect)
            return self.dry_answer
        return super().answer(effect, target)


def test_the_machine_dry_runs_the_exact_write_and_a_denial_stops_the_step_before_it() -> None:
    # The rolloutkit's kubelet gives endpoints as Gloo 1.3 reads them; 1.3 predicts an admission here, and the
    # server (a cluster whose webhook says otherwise) denies: the denial stops the step, the disagreement is shown.
    world, _, new = phase1(cluster("strict", "1.3"))
    denial = ('PUT /apis/gateway.solo.io/v1/namespaces/foxtrot/routetables/foxtrot-routes: admission webhook '
              '"gateway.gloo-system.svc" denied the request: resource incompatible with current Gloo snapshot')
    c = DryRunCluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml", profile="1.3",
                      extra=[settings("strict", "1.3")], answer=Refused(denial))
    effects = drive(RolloutMachine(FOXTROT).steps(), c, FOXTROT)
    assert not any(isinstance(e, Apply) for e in effects) and c.applies == []
    (dry,) = c.dry_runs
    assert dry.step == "phase1" and dry.manifest["spec"] == new
    assert dry.manifest["metadata"]["resourceVersion"] == world.route_table["metadata"]["resourceVersion"]
    done = [e for e in effects if isinstance(e, StepDone)]
    assert done[-1].outcome == "refused" and "webhook: prediction: Gloo's webhook would admit" in done[-1].reason
    assert "the prediction and the server DISAGREE" in done[-1].reason
    (guards,) = [r["data"] for r in history(effects) if r["kind"] == "rollout.guards"]
    webhook = next(g for g in guards["guards"] if g["name"] == "webhook")
    assert webhook["detail"]["server"] == {"answer": "denied", "message": denial}


def test_an_admitting_server_lets_the_step_write() -> None:
    c = DryRunCluster("rt-echo-2.yaml", "rt-foxtrot-1.yaml", profile="1.3",
                      extra=[settings("strict", "1.3")], answer=Applied())
    effects = drive(RolloutMachine(FOXTROT).steps(), c, FOXTROT, stop=lambda e: isinstance(e, Apply))
    kinds = [type(e).__name__ for e in effects]
    assert kinds.index("DryRun") < kinds.index("Apply")
    records = [e for e in effects if isinstance(e, Record) and e.kind == "rollout.guards"]
    webhook = next(g for g in records[0].data["guards"] if g["name"] == "webhook")
    assert webhook["ok"] and webhook["detail"]["agree"] is True


def test_no_dry_run_without_a_connection_that_can() -> None:
    c = cluster("strict", "1.3")
    effects = drive(RolloutMachine(FOXTROT).steps(), c, FOXTROT, stop=lambda e: isinstance(e, Apply))
    assert not any(isinstance(e, DryRun) for e in effects) and any(isinstance(e, Apply) for e in effects)
