"""Notebook 02 (the rollout runbook) runs headless with papermill: for real on its own sandbox, dry on a given one."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest
from sandboxkit import sandbox

from gloo_nb.app import notebook as nb
from gloo_nb.app.connect import connect_sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy, pytest.mark.browser]

_spec = importlib.util.spec_from_file_location("notebooks_helpers", Path(__file__).resolve().parent
                                               / "test_notebooks.py")
assert _spec is not None and _spec.loader is not None
nbt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nbt)

venv_kernel = nbt.venv_kernel  # the fixture: a kernelspec running this venv's python
NAME = "02-two-phase-rollout.ipynb"
STEPS = ["phase1", "phase2-0", "phase2-10", "phase2-50", "phase2-100", "finish"]


def widget_outputs(book: nbformat.NotebookNode) -> list[dict[str, object]]:
    return [o for c in book.cells for o in c.get("outputs", [])
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]


def test_parameters_cell_is_the_rollout_contract() -> None:
    book = nbformat.read(nbt.NOTEBOOKS / NAME, as_version=4)
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert tagged[0].source.splitlines() == [
        "sandbox_dir = None", "kubeconfig = None", "context = None", "as_user = None", "as_group = None",
        "gloo_version = None",
        "audit_log = None  # the cluster's audit log (kube-apiserver --audit-log-path): who changed what",
        'route_table = "foxtrot/foxtrot-routes"', 'upstream = "gloo-system/foxtrot"',
        'subset_key = "version"', 'stable = "v1"', 'canary = "v2"', 'header = "stage=canary"',
        'weights = "10,50,100"', 'until = "finish"', "journal_dir = None", "dry_run = None",
        # issue 16: the canary-signals guard's thresholds, off by default
        "max_error_rate = None  # percent: refuse to promote a canary with more 5xx in the last proof (guard "
        "canary-signals)",
        "max_p99_ms = None  # ms: refuse to promote a canary whose p99 (measured by the probe) was higher"]


def test_02_rolls_foxtrot_out_on_its_own_sandbox(venv_kernel: str, tmp_path: Path) -> None:
    book = nbt.run(NAME, tmp_path / "02.ipynb", venv_kernel)
    out = nbt.texts(book)
    joined = "\n".join(out)
    assert "Gloo 1.3" in joined and "live: each step is applied" in joined
    assert "rollout identity: foxtrot-dev (group team-foxtrot)" in joined
    for step in STEPS:
        assert re.search(rf"^{step}: proven ", joined, re.M), step
    # The 50 % step: the requests without the header split near 50/50 (the proof allows 3 points).
    fifty = re.search(r"^phase2-50: proven.*?probe without-header: (\d+) requests in [\d.]+ s -> v1 (\d+), v2 (\d+)",
                      joined, re.M | re.S)
    assert fifty, joined
    assert abs(int(fifty[3]) / int(fifty[1]) - 0.5) < 0.03
    # After finish every request reaches v2 only.
    finish = joined[joined.index("finish: proven"):]
    assert re.search(r"probe without-header: (\d+) requests in [\d.]+ s -> v2 \1: ok, every request", finish), finish
    assert re.search(r"probe with-header: (\d+) requests in [\d.]+ s -> v2 \1: ok, every request", finish), finish
    status = next(t for t in out if t.startswith("foxtrot/foxtrot-routes: "))
    assert "default route to version=v2; last checkpoint finish, next None" in status
    assert all(re.search(rf"^  {step} +proven ", status, re.M) for step in STEPS), status
    journal = next(t for t in out if "rollout.step" in t)
    assert re.findall(r"rollout\.step +(\S+) +(\S+)$", journal, re.M) == [(s, "proven") for s in STEPS], journal
    assert len(widget_outputs(book)) == 1  # the stepper
    stepper = nbt.assert_widgets_render_statically(book)["RolloutStepper"]
    assert "<b>plan</b>" in stepper and "<code>finish</code>" in stepper  # the plan, as the widget showed it
    assert "closed" in out[-1]
    nbt.assert_sandbox_gone(joined)


def test_02_on_a_given_sandbox_is_a_dry_run(venv_kernel: str, tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        gw = nb.open_gateway(sandbox_dir=info.state_dir, apply_changes=True)
        try:
            gw.apply(nb.FOXTROT_START)
            gw.settle()
            before = gw.conn.kube.get("RouteTable", "foxtrot", "foxtrot-routes")
            book = nbt.run(NAME, tmp_path / "02-dry.ipynb", venv_kernel,
                           parameters={"sandbox_dir": str(info.state_dir), "journal_dir": str(tmp_path / "journal")})
            after = connect_sandbox(info.state_dir).kube.get("RouteTable", "foxtrot", "foxtrot-routes")
        finally:
            gw.close()
    assert after["spec"] == before["spec"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    out = nbt.texts(book)
    joined = "\n".join(out)
    assert "dry run: nothing is applied" in joined and "own sandbox" not in joined
    for step in STEPS:
        assert re.search(rf"^{step}: dry-run ", joined, re.M), step
    # Each step cell shows its diff: phase 1 adds the header route, finish removes it and pins v2.
    phase1 = next(t for t in out if t.startswith("phase1: dry-run"))
    assert re.search(r"^\+.*stage", phase1, re.M) and re.search(r"^\+.*v2", phase1, re.M), phase1
    assert "guard not-last-known-good: ok" in phase1
    fifty = next(t for t in out if t.startswith("phase2-50: dry-run"))
    assert re.search(r"^-\s+weight: 90", fifty, re.M) and re.search(r"^\+\s+weight: 50", fifty, re.M), fifty
    status = next(t for t in out if t.startswith("foxtrot/foxtrot-routes: "))
    assert "last checkpoint None, next phase1" in status
    assert all(re.search(rf"^  {step} +pending ", status, re.M) for step in STEPS), status
    journal = next(t for t in out if "rollout.dry-run" in t)
    assert re.findall(r"rollout\.dry-run +(\S+) +dry run$", journal, re.M) == STEPS, journal
    assert len(widget_outputs(book)) == 1
    assert "closed" in out[-1]
