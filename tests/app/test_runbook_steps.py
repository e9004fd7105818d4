"""Notebook 02's step cells as one library call (``gloo_nb.app.notebook.RunbookSteps``): what each cell does."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from gloo_nb.app.notebook import RunbookSteps
from gloo_nb.app.rollout import RolloutStopped
from gloo_nb.rollout import RolloutTarget

pytestmark = pytest.mark.unit

ORDER = ["phase1", "phase2-0", "phase2-10", "phase2-50", "phase2-100", "finish"]


class FakeRollout:
    """Steps in ORDER; ``fail`` names a step whose proof does not hold."""

    def __init__(self, *, dry_run: bool = False, fail: str | None = None) -> None:
        self.dry_run = dry_run
        self.fail = fail
        self.proven: list[str] = []
        self.target = RolloutTarget.parse("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "version", "v1", "v2",
                                          header="stage=canary")

    def plan(self) -> list[Any]:
        guards = [SimpleNamespace(name="canary-endpoints", ok=False, reason="no pod")]
        return [SimpleNamespace(step=s, description=f"do {s}", guards=guards if s == "phase1" else []) for s in ORDER]

    def status(self) -> Any:
        return SimpleNamespace(steps=[SimpleNamespace(step=s, state="proven") for s in self.proven])

    def next(self) -> Any:
        done = self.proven if not self.dry_run else []
        left = [s for s in ORDER if s not in done]
        if not left:
            return SimpleNamespace(outcome="done", reason="the rollout is finished", step="", ok=True, diff="")
        step = left[0] if not self.dry_run else ORDER[len(self._previews)]
        ok = step != self.fail
        if ok and not self.dry_run:
            self.proven.append(step)
        if self.dry_run:
            self._previews.append(step)
        return SimpleNamespace(outcome="proven" if ok else "failed", reason="" if ok else "requests failed", step=step,
                               ok=ok, diff=f"diff of {step}" if self.dry_run else "",
                               text=lambda: f"{step}: {'proven' if ok else 'failed'}")

    _previews: list[str]


def runner(rollout: FakeRollout) -> tuple[RunbookSteps, list[str]]:
    lines: list[str] = []
    rollout._previews = []
    return RunbookSteps(rollout, out=lines.append), lines  # type: ignore[arg-type]


def test_the_plan_is_printed_with_predicted_refusals() -> None:
    steps, lines = runner(FakeRollout())
    assert list(steps.print_plan()) == ORDER
    assert lines[0] == "phase1       do phase1\n             predicted to be refused by: canary-endpoints (no pod)"


def test_a_cell_runs_up_to_its_step_once_and_refreshes_the_stepper() -> None:
    rollout = FakeRollout()
    steps, lines = runner(rollout)
    refreshed: list[int] = []
    steps.stepper = SimpleNamespace(refresh=lambda: refreshed.append(1))
    assert steps.run("phase2-10").step == "phase2-10"  # phase1 and phase2-0 before it
    assert rollout.proven == ["phase1", "phase2-0", "phase2-10"] and len(refreshed) == 3
    assert steps.run("phase2-0") is None and lines[-1] == "phase2-0: already proven"
    assert steps.run("phase2-25") is None
    assert lines[-1] == "phase2-25: not in this plan (already proven, or not one of weights 10,50,100 / until finish)"


def test_a_dry_run_previews_each_step_once_with_its_diff() -> None:
    steps, lines = runner(FakeRollout(dry_run=True))
    steps.run("phase1")
    assert lines == ["phase1: proven", "diff of phase1"]
    assert steps.run("phase1") is None and lines[-1] == "phase1: already previewed"


def test_a_failed_step_stops_the_notebook() -> None:
    steps, _ = runner(FakeRollout(fail="phase2-0"))
    with pytest.raises(RolloutStopped, match="phase2-0 failed: requests failed; see rollout.status"):
        steps.run("phase2-10")


def test_as_teams_is_refused_outside_the_notebook_s_own_sandbox() -> None:
    """Impersonating each team is for the notebook's own sandbox only, never a cluster it was given."""
    from gloo_nb.app.notebook import NotebookError, NotebookGateway

    gw = NotebookGateway(conn=SimpleNamespace(), owned=False, apply_changes=True)  # type: ignore[arg-type]
    with pytest.raises(NotebookError, match="only on the notebook's own sandbox"):
        gw.apply(["rt-echo-3.yaml"], as_teams=True)
