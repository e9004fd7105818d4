"""The rollout under faults, on a real sandbox with real Envoy and real traffic (issue 6, "Proof").

* Conflict: another writer changes foxtrot's RouteTable between the machine's Observe and its Apply
  (a :class:`Rollout` subclass writes with kubectl first) or between two steps. A change to a route the
  rollout does not manage is kept (409, re-plan, proceed); a change to a managed route stops the
  rollout with ``conflict`` and is never overwritten, and the CLI exits 3 on it.
* Interruption: ``gloo-nb rollout`` is SIGKILLed right after a step's apply is journaled (during its
  proof) and, separately, between two steps; the rerun resumes and finishes, and the sandbox's audit
  log shows the RouteTable written exactly once per step.
* Dry run: without ``--yes`` nothing is written; bad input exits 2 with one line.

One sandbox serves the module (starting one costs seconds); each test resets the RouteTable to
``rt-foxtrot-1`` and waits for the gateway to settle, and uses its own journal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until
from sandboxkit import PART2, REPO, SEED, Kube, audit_writes, fetch, kubectl_for, sandbox

from gloo_nb.app import notebook as nb
from gloo_nb.app.connect import GatewayConnection, connect_sandbox
from gloo_nb.app.rollout import Rollout, StepReport
from gloo_nb.journal import read_journal
from gloo_nb.rollout import RolloutTarget
from gloo_nb.rollout.effects import Apply, Observation
from gloo_nb.sandbox.runner import SandboxInfo

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

START = nb.FOXTROT_START
RT = ("foxtrot", "foxtrot-routes")
TEAM = ("foxtrot-dev", "team-foxtrot")
OTHER = ("foxtrot-oncall", "team-foxtrot")  # the other writer: same team, another person
UPSTREAM = {"name": "foxtrot", "namespace": "gloo-system"}
ADMIN_ROUTE = {"matchers": [{"prefix": "/foxtrot-admin"}],
               "directResponseAction": {"status": 200, "body": "foxtrot admin"}}
STEPS_50 = ["phase1", "phase2-0", "phase2-50", "phase2-100", "finish"]
CLI_TARGET = ["--route-table", "foxtrot/foxtrot-routes", "--upstream", "gloo-system/foxtrot", "--subset-key",
              "version", "--stable", "v1", "--canary", "v2"]


@dataclass
class Env:
    info: SandboxInfo
    kube: Kube
    gateway: nb.NotebookGateway

    @property
    def audit(self) -> Path:
        return self.info.state_dir / "audit.jsonl"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("faults")
    with sandbox(root / "sb", "1.3") as info:
        kube = kubectl_for(info, root)
        kube.apply(*(PART2 / f for f in START), SEED / "rbac.yaml")
        gateway = nb.open_gateway(sandbox_dir=info.state_dir, apply_changes=True)
        try:
            gateway.settle()
            yield Env(info, kube, gateway)
        finally:
            gateway.close()


@pytest.fixture
def fresh(env: Env) -> Env:
    """Foxtrot's RouteTable back at ``rt-foxtrot-1`` (v1 only), served by every replica."""
    env.kube.run("replace", "-f", str(PART2 / "rt-foxtrot-1.yaml"))
    wait_until(lambda: fetch(env.info.gateway + "/foxtrot", {"stage": "canary"}).body.strip().endswith("v1")
               and fetch(env.info.gateway + "/foxtrot-admin").body.strip() != "foxtrot admin",
               "foxtrot back to v1 only")
    env.gateway.settle()
    return env


@pytest.fixture
def team_conn(env: Env) -> Iterator[GatewayConnection]:
    conn = connect_sandbox(env.info.state_dir, as_user=TEAM[0], as_group=TEAM[1])
    try:
        yield conn
    finally:
        conn.close()


# --- helpers ------------------------------------------------------------------------------------


def target(weights: tuple[int, ...]) -> RolloutTarget:
    return RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "version", "v1", "v2", weights=weights)


def live_routes(env: Env) -> list[dict[str, Any]]:
    return list(env.kube.json("routetable", RT[1], "-n", RT[0])["spec"]["routes"])


def other_writer_edits(env: Env, edit: Callable[[list[dict[str, Any]]], None]) -> None:
    """Read-modify-write the RouteTable with kubectl, as another person (guarded by the version it read)."""
    obj = env.kube.json("routetable", RT[1], "-n", RT[0])
    edit(obj["spec"]["routes"])
    env.kube.run("replace", "-f", "-", input=json.dumps(obj), as_user=OTHER[0], as_group=OTHER[1])


def add_admin_route(routes: list[dict[str, Any]]) -> None:
    routes.insert(0, dict(ADMIN_ROUTE))  # first: /foxtrot would shadow it (prefix match)


def default_route(routes: list[dict[str, Any]]) -> dict[str, Any]:
    (route,) = [r for r in routes if r["matchers"] == [{"prefix": "/foxtrot"}]]
    return route


def set_weights_70_30(routes: list[dict[str, Any]]) -> None:
    default_route(routes)["routeAction"] = {"multi": {"destinations": [
        {"weight": w, "destination": {"upstream": UPSTREAM, "subset": {"values": {"version": v}}}}
        for w, v in ((70, "v1"), (30, "v2"))]}}


def weights_of(route: dict[str, Any]) -> list[tuple[int, str]]:
    return [(d["weight"], d["destination"]["subset"]["values"]["version"])
            for d in route["routeAction"]["multi"]["destinations"]]


def audit_mark(env: Env) -> int:
    return len(env.audit.read_text().splitlines())


def rt_writes(env: Env, since: int, user: str | None = None) -> list[dict[str, Any]]:
    """Stored writes to the RouteTable itself (not its status) after line ``since`` of the audit log."""
    return [{"user": a.actor, "verb": a.verb, "resourceVersion": a.written_versions[0]}
            for a in audit_writes(env.audit, since) if a.kind == "RouteTable" and (a.namespace, a.name) == RT
            and not a.subresource and a.verb in ("create", "update", "patch") and (user is None or a.actor == user)]


def journal_kinds(journal: Path, kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in read_journal(journal).events if e.kind == kind]


class RacedRollout(Rollout):
    """A rollout whose cluster gets written by someone else right before chosen steps' writes.

    ``races`` maps a step id to the other writer's action; it runs once, after the machine observed the
    cluster and computed the change, just before the runner PUTs it with the version it observed.
    """

    def __init__(self, *args: Any, races: dict[str, Callable[[], None]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.races = dict(races)

    def _apply(self, effect: Apply) -> Observation:
        race = self.races.pop(effect.step, None)
        if race is not None:
            race()
        return super()._apply(effect)


def cli(env: Env, *args: str, journal: Path) -> list[str]:
    return [sys.executable, "-m", "gloo_nb", "rollout", "--sandbox", str(env.info.state_dir), *CLI_TARGET,
            "--as", TEAM[0], "--as-group", TEAM[1], "--journal", str(journal), *args]


def run_cli(env: Env, *args: str, journal: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli(env, *args, journal=journal), capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)


class JournalTail:
    """Follows a journal directory being written by another process (complete lines only)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.offsets: dict[Path, int] = {}
        self.partial: dict[Path, bytes] = {}

    def new_events(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.directory.glob("journal-*.jsonl")):
            with path.open("rb") as f:
                f.seek(self.offsets.get(path, 0))
                chunk = f.read()
            self.offsets[path] = self.offsets.get(path, 0) + len(chunk)
            data = self.partial.pop(path, b"") + chunk
            *lines, rest = data.split(b"\n")
            self.partial[path] = rest
            out += [json.loads(line) for line in lines if line.strip()]
        return out


def kill_when(env: Env, journal: Path, seen: Callable[[dict[str, Any]], bool],
              timeout: float = 45) -> list[dict[str, Any]]:
    """Start the CLI rollout and SIGKILL it as soon as an event matching ``seen`` is in its journal.

    Returns:
        Every event the process wrote (as read before and right after the kill).
    """
    proc = subprocess.Popen(cli(env, "--weights", "50,100", "--yes", journal=journal), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tail = JournalTail(journal)
    events: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        while True:
            batch = tail.new_events() if journal.exists() else []
            events += batch
            if any(seen(e) for e in batch):
                os.kill(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"the rollout ended ({proc.returncode}) before the kill point: {err}{out}")
            assert time.monotonic() < deadline, "the kill point never came"
            time.sleep(0.002)  # the gap between two steps is short: poll tightly (a stat and a read)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return events + tail.new_events()


def is_(kind: str, step: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["kind"] == kind and e["data"].get("step") == step


# --- conflict -----------------------------------------------------------------------------------


def test_another_writer_adding_a_route_is_kept_and_the_rollout_replans(fresh: Env, team_conn: GatewayConnection,
                                                                         tmp_path: Path) -> None:
    env = fresh
    journal = tmp_path / "journal"
    mark = audit_mark(env)

    def rename_admin(routes: list[dict[str, Any]]) -> None:
        routes[0]["directResponseAction"]["body"] = "foxtrot admin 2"

    # phase1: the other writer adds /foxtrot-admin between the machine's Observe and its Apply (409);
    # phase2-100: it edits that route between two steps (the machine's Observe reads it: no conflict).
    with RacedRollout(team_conn, target((100,)), journal=journal,
                      races={"phase1": lambda: other_writer_edits(env, add_admin_route)}) as rollout:
        reports: list[StepReport] = []
        for step in ("phase1", "phase2-0", "phase2-100", "finish"):
            if step == "phase2-100":
                other_writer_edits(env, rename_admin)
            report = rollout.next()
            assert (report.step, report.outcome) == (step, "proven"), report.text()
            reports.append(report)
            # The other writer's route survives every step, in the table and at the gateway.
            routes = live_routes(env)
            assert routes[0]["matchers"] == ADMIN_ROUTE["matchers"], routes
            body = "foxtrot admin 2" if step in ("phase2-100", "finish") else "foxtrot admin"
            assert routes[0]["directResponseAction"]["body"] == body
            assert fetch(env.info.gateway + "/foxtrot-admin").body.strip() == body
        assert rollout.next().outcome == "done"

    conflicts = journal_kinds(journal, "rollout.conflict")
    assert [(c["step"], c["attempt"]) for c in conflicts] == [("phase1", 1)]
    assert "the object has been modified" in conflicts[0]["message"]  # the API server's 409
    # One write of ours per step (the re-planned phase1 once), two by the other writer.
    assert [w["user"] for w in rt_writes(env, mark)] == [OTHER[0], TEAM[0], TEAM[0], OTHER[0], TEAM[0], TEAM[0]]
    assert journal_kinds(journal, "rollout.apply")[0]["step"] == "phase1"
    assert default_route(live_routes(env))["routeAction"]["single"]["subset"]["values"] == {"version": "v2"}


def test_another_writer_changing_managed_weights_stops_the_rollout_and_the_cli_exits_3(
        fresh: Env, team_conn: GatewayConnection, tmp_path: Path) -> None:
    env = fresh
    journal = tmp_path / "journal"
    mark = audit_mark(env)
    with RacedRollout(team_conn, target((50, 100)), journal=journal,
                      races={"phase2-50": lambda: other_writer_edits(env, set_weights_70_30)}) as rollout:
        assert [(r.step, r.outcome) for r in rollout.run()] == [
            ("phase1", "proven"), ("phase2-0", "proven"), ("phase2-50", "conflict")]
        last = rollout.reports[-1]
        assert "another writer" in last.reason and "foxtrot/foxtrot-routes" in last.reason, last.reason
        assert "70" in last.reason and "30" in last.reason, last.reason  # it says what the table holds now

    # Nothing of ours overwrote the hand edit: 70/30 is live and served.
    assert weights_of(default_route(live_routes(env))) == [(70, "v1"), (30, "v2")]
    writes = rt_writes(env, mark)
    assert [w["user"] for w in writes] == [TEAM[0], TEAM[0], OTHER[0]]
    assert [c["step"] for c in journal_kinds(journal, "rollout.conflict")] == ["phase2-50"]
    assert [a["step"] for a in journal_kinds(journal, "rollout.apply")] == ["phase1", "phase2-0"]

    # The CLI, the same rollout resumed from its journal: it meets the hand edit, stops with 3, writes nothing.
    proc = run_cli(env, "--weights", "50,100", "--yes", journal=journal)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and "another writer" in proc.stderr, proc.stderr
    assert "phase2-50" in proc.stderr
    assert rt_writes(env, mark) == writes
    assert weights_of(default_route(live_routes(env))) == [(70, "v1"), (30, "v2")]


# --- interruption -------------------------------------------------------------------------------


def assert_finished_once_per_step(env: Env, journal: Path, mark: int, rerun: subprocess.CompletedProcess[str]) -> None:
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    # Exactly one write of the RouteTable per step that changes it, over both runs.
    assert len(rt_writes(env, mark, TEAM[0])) == len(STEPS_50), rt_writes(env, mark)
    assert rt_writes(env, mark) == rt_writes(env, mark, TEAM[0])  # nobody else wrote it
    loaded = read_journal(journal)
    assert len(loaded.files) == 2  # one file per writer: the killed run's and the rerun's
    assert loaded.losses == [] or len(loaded.losses) == 1  # at most the killed run's last line, reported
    applied = [e.data["step"] for e in loaded.events if e.kind == "rollout.apply"]
    proven = [e.data["step"] for e in loaded.events if e.kind == "rollout.checkpoint"]
    adopted = [e.data["step"] for e in loaded.events if e.kind == "rollout.adopted"]
    assert sorted(applied + adopted) == sorted(STEPS_50), (applied, adopted)
    assert proven == STEPS_50
    default = default_route(live_routes(env))
    assert default["routeAction"]["single"]["subset"]["values"] == {"version": "v2"}
    assert all(fetch(env.info.gateway + "/foxtrot").body.strip().endswith("v2") for _ in range(10))


def test_killed_during_a_proof_the_rerun_proves_that_step_without_applying_it_again(fresh: Env,
                                                                                    tmp_path: Path) -> None:
    env = fresh
    journal = tmp_path / "journal"
    mark = audit_mark(env)
    events = kill_when(env, journal, is_("rollout.apply", "phase2-50"))
    assert not any(is_("rollout.probe", "phase2-50")(e) for e in events)  # killed before the proof ended
    assert len(rt_writes(env, mark)) == 3  # phase1, phase2-0, phase2-50

    rerun = run_cli(env, "--weights", "50,100", "--yes", journal=journal)
    # The rerun starts with phase2-50's proof (about 14,000 requests), not with its write.
    assert rerun.stdout.startswith("phase2-50: proven"), rerun.stdout
    assert "without-header: 14" in rerun.stdout  # 14,4xx requests for 50 % at +/-3 points
    assert_finished_once_per_step(env, journal, mark, rerun)
    assert [a["step"] for a in journal_kinds(journal, "rollout.apply")].count("phase2-50") == 1


def test_killed_between_two_steps_the_rerun_goes_on_with_the_next(fresh: Env, tmp_path: Path) -> None:
    env = fresh
    journal = tmp_path / "journal"
    mark = audit_mark(env)
    events = kill_when(env, journal, is_("rollout.step", "phase1"))
    assert any(is_("rollout.checkpoint", "phase1")(e) for e in events)
    # The kill lands in the ~20 ms between phase1's end and phase2-0's write (observe, guards); on a busy
    # machine it may land right after that write, before the journal records it: the rerun must then adopt
    # the write it finds instead of writing again. Either way: one write per step.
    written = [w["user"] for w in rt_writes(env, mark)]
    assert written in ([TEAM[0]], [TEAM[0], TEAM[0]]), written

    rerun = run_cli(env, "--weights", "50,100", "--yes", journal=journal)
    assert rerun.stdout.startswith("phase2-0: proven"), rerun.stdout
    assert "phase1:" not in rerun.stdout
    assert_finished_once_per_step(env, journal, mark, rerun)
    if len(written) == 2 and not any(is_("rollout.apply", "phase2-0")(e) for e in events):
        assert [a["step"] for a in journal_kinds(journal, "rollout.adopted")] == ["phase2-0"]


# --- dry run and bad input ----------------------------------------------------------------------


def test_dry_run_writes_nothing_and_bad_input_exits_2(fresh: Env, tmp_path: Path) -> None:
    env = fresh
    journal = tmp_path / "journal"
    mark = audit_mark(env)
    before = live_routes(env)

    text = run_cli(env, "--weights", "50,100", journal=journal)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Plan for foxtrot/foxtrot-routes (dry run: nothing applied")
    for step in STEPS_50:
        assert f"\n== {step}: " in text.stdout
        assert f"\n+++ foxtrot/foxtrot-routes ({step})\n" in text.stdout  # each step's diff
    added = [line for line in text.stdout.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any("name: stage" in line for line in added) and any("weight: 50" in line for line in added)

    doc = run_cli(env, "--weights", "50,100", "--json", journal=journal)
    assert doc.returncode == 0, doc.stderr
    plan = json.loads(doc.stdout)
    assert plan["applied"] is False
    assert [s["step"] for s in plan["steps"]] == STEPS_50
    assert all(s["diff"] for s in plan["steps"])
    assert all(g["ok"] for g in plan["steps"][0]["guards"])

    assert not [a for a in audit_writes(env.audit, mark) if not a.subresource]
    assert live_routes(env) == before

    bad_inputs = (["--weights", "50,40"], ["--route-table", "nope"], ["--route-table", "foxtrot/nope"])
    procs = [subprocess.Popen([*cli(env, journal=journal), *bad, "--yes"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=REPO) for bad in bad_inputs]
    results = []
    try:
        for running in procs:
            out, err = running.communicate(timeout=60)
            results.append(subprocess.CompletedProcess(running.args, running.returncode, out, err))
    finally:
        for running in procs:
            if running.poll() is None:
                running.kill()
                running.wait()
    for bad, proc in zip(bad_inputs, results, strict=True):
        assert proc.returncode == 2, (bad, proc.stdout, proc.stderr)
        assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("gloo-nb: "), proc.stderr
        assert proc.stdout == ""
    assert not [a for a in audit_writes(env.audit, mark) if not a.subresource]
