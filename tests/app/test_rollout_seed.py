"""The seed scenario's two-phase rollouts on the sandbox, end to end, with each team's identity.

Echo and foxtrot roll out at the same time; echo stops in phase 1; echo's typo (``rt-echo-3``) freezes
Gloo 1.3 on its last good configuration, and foxtrot's next step is refused, naming echo's RouteTable;
with the settings patch (``replaceInvalidRoutes``) foxtrot proceeds to finish; echo's rollback to its
start restores v1-only traffic and proves it. Real kubectl, real Envoy, real requests.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sandboxkit import PART2, SEED, audit_writes, fetch, kubectl_for, sandbox, wait_ready_pods

from gloo_nb.app.connect import connect_sandbox
from gloo_nb.app.notebook import FOXTROT_START
from gloo_nb.app.probe import probe
from gloo_nb.app.rollout import Rollout, StepReport
from gloo_nb.journal import read_journal
from gloo_nb.rollout import RolloutTarget

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

START = FOXTROT_START
ECHO = RolloutTarget("echo/echo-routes", "gloo-system/echo", "version", "v1", "v2", until="phase1")
FOXTROT = RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "version", "v1", "v2", weights=(10, 50, 100))


def answers(url: str, n: int = 40, headers: dict[str, str] | None = None) -> dict[str, int]:
    return {s.answer: s.count for s in probe(url, n, headers=headers).shares}


def test_echo_and_foxtrot_roll_out_together_through_the_typo_the_patch_and_a_rollback(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        kube.apply(*(PART2 / f for f in START), SEED / "rbac.yaml")
        wait_ready_pods(kube, "echo")
        wait_ready_pods(kube, "foxtrot")
        echo_conn = connect_sandbox(info.state_dir, as_user="echo-dev", as_group="team-echo")
        fox_conn = connect_sandbox(info.state_dir, as_user="foxtrot-dev", as_group="team-foxtrot")
        echo = Rollout(echo_conn, ECHO, journal=tmp_path / "journal-echo")
        fox = Rollout(fox_conn, FOXTROT, journal=tmp_path / "journal-foxtrot")
        try:
            # rt-echo-1 sends /echo to v2 (served by the subset fallback while no v2 pod existed): pin v1 first.
            assert [p.step for p in echo.plan()] == ["pin-stable", "phase1"]
            assert [p.step for p in fox.plan()] == ["phase1", "phase2-0", "phase2-10", "phase2-50", "phase2-100",
                                                    "finish"]

            # Both teams at once, each in its own thread with its own identity.
            results: dict[str, list[StepReport]] = {}
            threads = [threading.Thread(target=lambda: results.__setitem__("echo", echo.run())),
                       threading.Thread(target=lambda: results.__setitem__("foxtrot", fox.run(until="phase2-10")))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            assert [(r.step, r.outcome) for r in results["echo"]] == [("pin-stable", "proven"), ("phase1", "proven")]
            assert [(r.step, r.outcome) for r in results["foxtrot"]] == [
                ("phase1", "proven"), ("phase2-0", "proven"), ("phase2-10", "proven")]
            ten = next(r for r in results["foxtrot"] if r.step == "phase2-10")
            (_, split), = [(n, o) for n, o in ten.probes if n == "without-header"]
            assert split.sent >= 5000 and abs(split.by_subset["v2"] / split.sent - 0.10) < 0.02
            assert all(r.converged is not None and r.converged.ok for rs in results.values() for r in rs)
            assert echo.next().outcome == "done"  # echo sits in phase 1 (its target ends there)

            # Each team wrote as itself (the sandbox's audit log).
            writers = {(a.namespace, a.actor) for a in audit_writes(info.state_dir / "audit.jsonl")
                       if a.kind == "RouteTable" and a.verb == "update"}
            assert writers == {("echo", "echo-dev"), ("foxtrot", "foxtrot-dev")}

            # Echo's typo: Gloo 1.3 keeps its last good snapshot; foxtrot's next step is refused, naming echo.
            kube.run("apply", "-f", str(PART2 / "rt-echo-3.yaml"), as_user="echo-dev", as_group="team-echo")
            refused = fox.next()
            assert refused.step == "phase2-50" and refused.outcome == "refused", refused.text()
            lkg = next(g for g in refused.guards if g[0] == "not-last-known-good")
            assert not lkg[1] and "echo/echo-routes" in lkg[2] and "echo-typo" in lkg[2] and "team echo" in lkg[2]
            # Nothing was applied: the table still holds the proven 90/10 split.
            weights = [d["weight"] for d in kube.json("routetable", "foxtrot-routes", "-n", "foxtrot")
                       ["spec"]["routes"][1]["routeAction"]["multi"]["destinations"]]
            assert weights == [90, 10]

            # The platform team's settings patch: the typo route becomes a 404, foxtrot proceeds to finish.
            kube.run("patch", "settings", "default", "-n", "gloo-system", "--type", "merge",
                     "--patch-file", str(PART2 / "settings-patch.yaml"), as_user="ops", as_group="platform-ops")
            rest = fox.run()
            assert [(r.step, r.outcome) for r in rest] == [
                ("phase2-50", "proven"), ("phase2-100", "proven"), ("finish", "proven")], [r.text() for r in rest]
            assert answers(info.gateway + "/foxtrot") == {"200 version:foxtrot-v2": 40}
            assert answers(info.gateway + "/foxtrot", headers={"stage": "canary"}) == {"200 version:foxtrot-v2": 40}
            live = kube.json("routetable", "foxtrot-routes", "-n", "foxtrot")
            assert live["spec"] == {"routes": [{"matchers": [{"prefix": "/foxtrot"}], "routeAction": {"single": {
                "upstream": {"name": "foxtrot", "namespace": "gloo-system"},
                "subset": {"values": {"version": "v2"}}}}}]}  # exactly rt-foxtrot-5

            # Echo rolls back to its start (the pinned v1): v1 only, proven with real traffic.
            back = echo.rollback("start")
            assert back.outcome == "proven", back.text()
            assert answers(info.gateway + "/echo") == {"200 version:echo-v1": 40}
            assert answers(info.gateway + "/echo", headers={"stage": "canary"}) == {"200 version:echo-v1": 40}
            assert fetch(info.gateway + "/foxtrot").body.strip() == "version:foxtrot-v2"

            # The journals hold every step, with the checkpoints a later rollback can restore.
            fox_kinds = [e.kind for e in read_journal(tmp_path / "journal-foxtrot").events]
            assert fox_kinds.count("rollout.checkpoint") == 6 and "rollout.guards" in fox_kinds
            echo_events = read_journal(tmp_path / "journal-echo").events
            assert any(e.kind == "rollout.rollback" for e in echo_events)
        finally:
            echo.close()
            fox.close()
            echo_conn.close()
            fox_conn.close()


def test_decommission_asks_then_deletes_the_stable_deployment(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        kube.apply(*(PART2 / f for f in START))
        wait_ready_pods(kube, "foxtrot")
        target = RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "version", "v1", "v2",
                               weights=(100,), decommission=True)
        questions: list[str] = []
        with connect_sandbox(info.state_dir) as conn:
            no = Rollout(conn, target, journal=tmp_path / "journal", approve=lambda q: questions.append(q) or False)
            reports = no.run()
            no.close()
            assert [r.step for r in reports] == ["phase1", "phase2-0", "phase2-100", "finish", "decommission"]
            assert reports[-1].outcome != "proven" and "foxtrot-v1" in questions[0]
            assert kube.run("get", "deployment", "foxtrot-v1", "-n", "foxtrot", check=False).returncode == 0
            yes = Rollout(conn, target, journal=tmp_path / "journal", approve=lambda q: True)
            (last,) = yes.run()
            yes.close()
            assert (last.step, last.outcome) == ("decommission", "proven"), last.text()
        gone = kube.run("get", "deployment", "foxtrot-v1", "-n", "foxtrot", check=False)
        assert gone.returncode != 0 and "NotFound" in gone.stderr
        assert fetch(info.gateway + "/foxtrot").body.strip() == "version:foxtrot-v2"


def test_a_dry_run_refuses_to_roll_back(tmp_path: Path) -> None:
    import pytest

    from gloo_nb.app.rollout import RolloutStopped

    dry = Rollout(None, FOXTROT, journal=tmp_path / "journal", dry_run=True)  # type: ignore[arg-type]
    with pytest.raises(RolloutStopped, match="dry run, which never writes"):
        dry.rollback("start")
    assert not (tmp_path / "journal").exists()


def test_target_from_the_cli_and_notebook_strings() -> None:
    import pytest

    from gloo_nb.errors import UsageError

    t = RolloutTarget.parse("a/rt", "gloo-system/up", "version", "v1", "v2", header="x-canary = yes", weights="25,100")
    assert t.header == ("x-canary", "yes") and t.weights == (25, 100) and t.until == "finish"
    for header, weights, message in (("stage", "10,100", "NAME=VALUE"), ("a=b", "10,x", "whole percentages"),
                                     ("a=b", "50,40", "strictly increasing")):
        with pytest.raises(UsageError, match=message):
            RolloutTarget.parse("a/rt", "gloo-system/up", "version", "v1", "v2", header=header, weights=weights)
