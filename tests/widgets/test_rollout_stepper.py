"""The rollout stepper: its view-model in plain pytest, and the widget clicked against a real sandbox rollout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sandboxkit import sandbox

from gloo_nb.analysis import DriftRow, SourceCell
from gloo_nb.analysis.headline import read_audit_changes
from gloo_nb.app import notebook as nb
from gloo_nb.app.connect import connect_sandbox
from gloo_nb.app.rollout import Rollout, StepReport
from gloo_nb.rollout import RolloutStatus, RolloutTarget, StepStatus
from gloo_nb.rollout.effects import Converged, ProbeObservation
from gloo_nb.translate.routes import RouteId
from gloo_nb.widgets.rollout import (
    STATE_COLOURS,
    RolloutStepper,
    checkpoints,
    convergence_html,
    convergence_rows,
    guards_html,
    plan_html,
    plan_rows,
    probe_rows,
    probes_html,
    weights_html,
    weights_rows,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

STEPS = ("phase1", "phase2-0", "phase2-50", "phase2-100", "finish")


def status(states: dict[str, str], next_step: str | None) -> RolloutStatus:
    proven = [s for s in STEPS if states.get(s) == "proven"]
    return RolloutStatus("foxtrot/foxtrot-routes", "live words",
                         tuple(StepStatus(s, f"does {s}", states.get(s, "pending")) for s in STEPS),
                         proven[-1] if proven else None, next_step)


# --- view-model ------------------------------------------------------------------------------


def test_plan_rows_mark_proven_next_pending() -> None:
    rows = plan_rows(status({"phase1": "proven", "phase2-0": "proven"}, "phase2-50"))
    assert [(r.step, r.state) for r in rows] == [("phase1", "proven"), ("phase2-0", "proven"), ("phase2-50", "next"),
                                                  ("phase2-100", "pending"), ("finish", "pending")]
    assert rows[0].description == "does phase1"


def test_plan_rows_take_refusals_and_failures_from_the_reports() -> None:
    st = status({"phase1": "proven", "phase2-0": "applied"}, "phase2-0")
    failed = StepReport("phase2-0", "failed", "without-header: canary 20 % outside 0 %")
    rows = plan_rows(st, [StepReport("phase1", "proven"), failed])
    assert (rows[1].state, rows[1].detail) == ("failed", "without-header: canary 20 % outside 0 %")
    refused = StepReport("phase2-0", "refused", "not-last-known-good: echo/echo-routes blocks")
    assert plan_rows(st, [failed, refused])[1].state == "refused"  # the latest report counts
    assert plan_rows(st, [StepReport("phase2-0", "conflict", "someone changed it")])[1].state == "refused"
    # Applied but not proven, no report in this session: it is the next step, and says it was applied.
    assert (plan_rows(st)[1].state, plan_rows(st)[1].detail) == ("next", "applied")


def test_a_rollback_clears_earlier_outcomes() -> None:
    st = status({"phase1": "proven"}, "phase2-0")
    reports = [StepReport("phase2-0", "failed", "no"), StepReport("rollback-phase1", "proven", "restored")]
    assert plan_rows(st, reports)[1].state == "next"
    # A proven checkpoint stays proven whatever an old report said.
    assert plan_rows(st, [StepReport("phase1", "failed")])[0].state == "proven"


def test_checkpoints_are_start_then_proven_steps() -> None:
    assert checkpoints(status({}, "phase1")) == ["start"]
    assert checkpoints(status({"phase1": "proven", "phase2-0": "proven"}, "phase2-50")) == ["start", "phase1",
                                                                                             "phase2-0"]


def test_plan_html_colours_each_state() -> None:
    html = plan_html(plan_rows(status({"phase1": "proven"}, "phase2-0"),
                               [StepReport("phase2-50", "refused", "guard <x> failed")]))
    assert f'color:{STATE_COLOURS["proven"]}' in html and f'color:{STATE_COLOURS["next"]}' in html
    assert f'color:{STATE_COLOURS["refused"]}' in html and "guard &lt;x&gt; failed" in html


def test_guards_html_shows_failures_in_red_with_reasons() -> None:
    assert "no guards" in guards_html(None)
    report = StepReport("phase1", "refused", guards=[("canary-endpoints", True, ""),
                                                     ("not-last-known-good", False, "echo/echo-routes: echo-typo")])
    html = guards_html(report)
    assert re.search(r'color:#2e7d32"><b>canary-endpoints</b>: ok</li>', html)
    assert re.search(r'color:#c62828"><b>not-last-known-good</b>: failed \(echo/echo-routes: echo-typo\)', html)


def test_convergence_rows_and_html() -> None:
    assert convergence_rows(StepReport("phase1", "refused")) == []
    conv = Converged(False, 0.12, {"gateway-proxy-0": 0.2, "gateway-proxy-1": None}, "7", "lagging")
    report = StepReport("phase1", "failed", converged=conv)
    assert convergence_rows(report) == [("served", 0.12), ("gateway-proxy-0", 0.2), ("gateway-proxy-1", None)]
    html = convergence_html(report)
    assert "not converged" in html and "<td>0.12 s</td>" in html and ">never</td>" in html and "lagging" in html


def test_probe_rows_carry_the_reports_verdicts() -> None:
    obs = ProbeObservation(100, {200: 100}, {"v1": 52, "v2": 48}, seconds=0.5)
    report = StepReport("phase2-50", "proven", probes=[("without-header", obs), ("with-header", obs)],
                        verdicts=[("without-header", True, "canary 48.0 % within 3 points of 50 %")])
    rows = probe_rows(report)
    assert [(r.name, r.sent, dict(r.by_subset), r.ok, r.reason) for r in rows] == [
        ("without-header", 100, {"v1": 52, "v2": 48}, True, "canary 48.0 % within 3 points of 50 %"),
        ("with-header", 100, {"v1": 52, "v2": 48}, None, ""),
    ]
    html = probes_html(report, rows)
    assert "v1: 52, v2: 48" in html and "<b>ok</b> canary 48.0 %" in html and "no probes" in probes_html(None, [])


def test_weights_rows_keep_the_team_routes_only() -> None:
    def drow(resource, order, match, state, by_source):
        reference = "served" if "served" in by_source else "intent"
        cells = {src: SourceCell(action, state, "") for src, action in by_source.items()}
        return DriftRow(RouteId("vh", match), resource, order, match, state, "", reference, cells)

    drift = [
        drow("foxtrot/foxtrot-routes", 0, "prefix /foxtrot", "replica-lagging",
             {"intent": "v1 50, v2 50", "served": "v1 50, v2 50", "proxy-0": "v1 50, v2 50", "proxy-1": "v1 100"}),
        drow("echo/echo-routes", 1, "prefix /echo", "in-sync", {"intent": "echo", "served": "echo", "proxy-0": "echo"}),
        drow("foxtrot/foxtrot-routes", 1, "prefix /f2", "pending",
             {"intent": "v2", "served": None, "proxy-0": None, "proxy-1": None}),
    ]
    frame = weights_rows(drift, "foxtrot/foxtrot-routes")
    assert list(frame.columns) == ["route", "state", "intent", "served", "proxy-0", "proxy-1"]
    assert frame.values.tolist() == [
        ["prefix /foxtrot", "replica-lagging", "v1 50, v2 50", "v1 50, v2 50", "v1 50, v2 50", "v1 100"],
        ["prefix /f2", "pending", "v2", "-", "-", "-"],
    ]
    html = weights_html(frame, "foxtrot/foxtrot-routes")
    assert 'style="color:#ef6c00">replica-lagging' in html and "live routes of foxtrot/foxtrot-routes" in html
    assert "no route" in weights_html(weights_rows(drift, "x/y"), "x/y")


# --- the widget on a real rollout ------------------------------------------------------------


def plan_states(view: RolloutStepper) -> dict[str, str]:
    return dict(re.findall(r"<code>([\w-]+)</code></td><td style=\"color:#\w+;font-weight:bold\">(\w+)</td>",
                           view.plan.value))


def test_stepper_steps_a_foxtrot_rollout_and_rolls_back(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        gw = nb.open_gateway(sandbox_dir=info.state_dir, apply_changes=True)
        try:
            gw.apply(nb.FOXTROT_START)
            gw.settle()
        finally:
            gw.close()
        conn = connect_sandbox(info.state_dir)
        target = RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "version", "v1", "v2",
                               weights=(50, 100))
        try:
            with Rollout(conn, target, journal=tmp_path / "dry", dry_run=True) as dry:
                view = RolloutStepper(dry)
                assert view.rollback_button.disabled and "dry run" in view.header.value
                view.next_button.click()
                assert view.report is not None and view.report.outcome == "dry-run"
                assert "phase1: dry-run" in view.output.value and "+  - matchers:" in view.output.value
                assert not view.next_button.disabled and view.rollback_button.disabled
                assert plan_states(view)["phase1"] == "next"  # nothing was applied
                assert view.rollback() is None and "does not roll back" in view.output.value
            with Rollout(conn, target, journal=tmp_path / "journal") as rollout:
                view = RolloutStepper(rollout, changes=lambda: read_audit_changes(Path(info.state_dir) / "audit.jsonl"))
                # The stepper opens with the gateway's headline: nothing is wrong before the rollout.
                assert view.children[0] is view.top and view.headline is not None and view.headline.ok
                assert "Everything is served as intended" in view.top.value
                assert plan_states(view) == {"phase1": "next", "phase2-0": "pending", "phase2-50": "pending",
                                             "phase2-100": "pending", "finish": "pending"}
                assert view.checkpoint.options == ("start",)
                assert "prefix /foxtrot" in view.weights.value and "gateway-proxy-1.gloo-system" in view.weights.value
                assert "no guards checked yet" in view.guards.value

                disabled: list[bool] = []
                view.next_button.observe(lambda change: disabled.append(change["new"]), names="disabled")
                view.next_button.click()
                # Disabled while the step ran, enabled again afterwards.
                assert disabled == [True, False] and not view.busy
                assert view.report is not None and view.report.step == "phase1" and view.report.outcome == "proven"
                assert plan_states(view)["phase1"] == "proven" and plan_states(view)["phase2-0"] == "next"
                assert "current step: <code>phase1</code>" in view.header.value
                assert "<b>not-last-known-good</b>: ok" in view.guards.value
                assert "<td>served</td>" in view.convergence.value and "gateway-proxy-0" in view.convergence.value
                assert re.search(r"<td>with-header</td><td>\d+</td><td>v2: \d+</td>", view.probes.value)
                # Golden signals from Envoy's host counters beside the split: every request to v2 answered non-5xx.
                assert re.search(r'<td>with-header</td><td>\d+</td><td>v2: \d+</td><td>v2: <span style="color:#2e7d32">'
                                 r"100.0 %</span> of \d+</td>", view.probes.value), view.probes.value
                assert view.probes.value.count("<b>ok</b>") == 2
                assert "phase1: proven" in view.output.value and "RouteTable diff" in view.output.value
                # The live weights now show the header route, in sync everywhere.
                assert view.weights.value.count("<td>foxtrot_gloo-system {version=v2}</td>") == 4
                assert "prefix /foxtrot, stage=canary</td><td>in-sync" in view.weights.value
                assert view.checkpoint.options == ("start", "phase1")

                view.next_button.click()
                view.next_button.click()
                assert view.report.step == "phase2-50" and view.report.outcome == "proven"
                counts = re.search(r"<td>without-header</td><td>(\d+)</td><td>v1: (\d+), v2: (\d+)</td>",
                                   view.probes.value)
                assert counts, view.probes.value
                assert abs(int(counts[3]) / int(counts[1]) - 0.5) < 0.03
                # Intent, served and both replicas: the default route split 50/50.
                assert view.weights.value.count("{version=v1} 50, foxtrot_gloo-system {version=v2} 50") == 4

                assert view.next_button.description == "promote to 100 %"
                view.checkpoint.value = "phase1"
                assert view.rollback_button.description == "roll back to phase1"
                view.rollback_button.click()  # asks first: nothing is rolled back yet
                assert view.report.step == "phase2-50" and view.confirm.layout.display == "flex"
                view.confirm_button.click()
                assert "rolled back to phase1</b> (done): the rollout stands at checkpoint" in view.header.value
                assert view.report.step == "rollback-phase1" and view.report.outcome == "proven", view.output.value
                states = plan_states(view)
                assert states["phase1"] == "proven" and states["phase2-0"] == "next"
                assert states["phase2-50"] == "pending"
                assert view.checkpoint.options == ("start", "phase1")
                assert "{version=v1} 50" not in view.weights.value
                assert view.weights.value.count("<td>foxtrot_gloo-system {version=v1}</td>") == 4
        finally:
            conn.close()
