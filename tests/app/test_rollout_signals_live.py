"""The canary-signals guard on a real sandbox with real Envoy and real traffic (issue 16).

A canary that answers 5xx but whose 5xx Envoy retries away passes the split proof (every request the
client sees is 200), yet Envoy's per-host ``rq_error`` counted each 503 (Envoy ``source/common/router/
router.cc`` ``Filter::chargeUpstreamCode``). With ``--max-error-rate`` set, the rollout refuses to promote it
after phase 1; without it (the default), the same canary is promoted. The canary subset here is two pods
labelled ``version: v2``: ``foxtrot-v2`` (200) and ``foxtrot-v2-bad`` (http-echo ``-status-code=503``);
foxtrot's route retries 5xx, so Envoy's round robin retries each 503 on the good pod.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_until
from sandboxkit import PART2, REPO, SEED, Kube, kubectl_for, sandbox

from gloo_nb.app import notebook as nb
from gloo_nb.app.connect import GatewayConnection, connect_sandbox
from gloo_nb.app.rollout import Rollout
from gloo_nb.journal import read_journal
from gloo_nb.rollout import RolloutTarget
from gloo_nb.rollout.signals import SignalThresholds

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

TEAM = ("foxtrot-dev", "team-foxtrot")
TARGET = RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "version", "v1", "v2", weights=(100,))
CLUSTER = "foxtrot_gloo-system"

BAD_CANARY = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "foxtrot-v2-bad", "namespace": "foxtrot"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "foxtrot", "version": "v2", "pod": "bad"}},
             "template": {"metadata": {"labels": {"app": "foxtrot", "version": "v2", "pod": "bad"}},
                          "spec": {"containers": [{
                              "name": "foxtrot-v2-bad", "image": "hashicorp/http-echo:1.0.0",
                              "args": ["-text=version:foxtrot-v2 (broken)", "-listen=:8080", "-status-code=503"],
                              "ports": [{"containerPort": 8080}]}]}}}}


def _rt_with_retries() -> dict:
    """``rt-foxtrot-1`` (all to v1) whose route retries 5xx (the rollout copies the options to its header route)."""
    import yaml

    rt = yaml.safe_load((PART2 / "rt-foxtrot-1.yaml").read_text())
    rt["spec"]["routes"][0]["options"] = {"retries": {"retryOn": "5xx", "numRetries": 5, "perTryTimeout": "2s"}}
    return rt


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Kube, Path]]:
    root = tmp_path_factory.mktemp("signals")
    with sandbox(root / "sb", "1.3") as info:
        kube = kubectl_for(info, root)
        kube.apply(*(PART2 / f for f in nb.FOXTROT_START), SEED / "rbac.yaml")
        kube.run("apply", "-f", "-", input=json.dumps(BAD_CANARY))
        gateway = nb.open_gateway(sandbox_dir=info.state_dir, apply_changes=True)
        try:
            gateway.settle()
            yield info.state_dir, kube, root
        finally:
            gateway.close()


@pytest.fixture
def team_conn(env: tuple[Path, Kube, Path]) -> Iterator[GatewayConnection]:
    state_dir, kube, _ = env
    kube.run("replace", "-f", "-", input=json.dumps(_rt_with_retries()))
    conn = connect_sandbox(state_dir, as_user=TEAM[0], as_group=TEAM[1])
    try:
        yield conn
    finally:
        conn.close()


def _hosts(conn: GatewayConnection) -> list[int]:
    """Hosts of foxtrot's cluster in each replica's EDS."""
    return [len(ch.hosts) for admin in conn.admins().values() for ch in admin.clusters() if ch.name == CLUSTER]


def test_a_canary_whose_5xx_envoy_retries_away_is_refused_with_the_threshold(team_conn: GatewayConnection,
                                                                              tmp_path: Path) -> None:
    # Every replica knows both canary pods (the good and the broken one) before the rollout starts.
    wait_until(lambda: _hosts(team_conn) and all(n == 3 for n in _hosts(team_conn)),
               "foxtrot's three pods in every replica's EDS")
    journal = tmp_path / "journal"
    with Rollout(team_conn, TARGET, journal=journal, concurrency=1,
                 thresholds=SignalThresholds(max_error_rate=0.01)) as rollout:
        phase1 = rollout.next()
        assert phase1.step == "phase1" and phase1.outcome == "proven", phase1.text()
        with_header = dict(phase1.probes)["with-header"]
        # The client saw only 200 (Envoy retried), Envoy's host counters saw the canary's 503s.
        assert set(with_header.statuses) == {200}
        assert with_header.errors_by_subset and with_header.errors_by_subset.get("v2", 0) > 0
        # Latency beside the split, measured by the probe, attributed to v2 (the whole probe reached v2).
        lat = with_header.latency_by_subset or {}
        assert set(lat) == {"v2"} and lat["v2"].p99_ms is not None and lat["v2"].source == "probe"
        # Envoy's router answered its upstream time with each request.
        assert lat["v2"].envoy_p99_ms is not None
        step = rollout.next()
    assert (step.step, step.outcome) == ("phase2-0", "refused"), step.text()
    assert "refusing to promote: canary version=v2 answered" in step.reason
    assert "above the max error rate 1 %" in step.reason
    guard = [g for g in step.guards if g[0] == "canary-signals"]
    assert guard and guard[0][1] is False
    events = read_journal(journal).events
    guards = [e.data for e in events if e.kind == "rollout.guards"]
    assert guards[-1]["guards"][-1]["name"] == "canary-signals" and not guards[-1]["guards"][-1]["ok"]
    probes = [e.data for e in events if e.kind == "rollout.probe" and e.data["name"] == "with-header"]
    assert probes[0]["errorsBySubset"]["v2"] > 0 and probes[0]["latencyBySubset"]["v2"]["source"] == "probe"
    # Nothing was promoted: the default route still sends everything to v1.
    live = team_conn.kube.get("RouteTable", "foxtrot", "foxtrot-routes")["spec"]["routes"]
    assert live[-1]["routeAction"] == {"single": {"upstream": {"name": "foxtrot", "namespace": "gloo-system"},
                                                  "subset": {"values": {"version": "v1"}}}}


def test_the_cli_refuses_on_the_p99_flag_and_reports_the_signals_in_json(env: tuple[Path, Kube, Path],
                                                                        team_conn: GatewayConnection,
                                                                        tmp_path: Path) -> None:
    """``--max-p99-ms`` below any real round trip: a healthy canary (the broken pod scaled away) is refused on
    latency after phase 1, and ``--json`` carries the signals (the CLI's 16 connections would overflow Envoy's
    default ``max_retries`` circuit breaker of 3 with the broken pod, failing the proof rather than the guard)."""
    state_dir, kube, _ = env
    kube.run("scale", "deployment/foxtrot-v2-bad", "-n", "foxtrot", "--replicas=0")
    wait_until(lambda: _hosts(team_conn) and all(n == 2 for n in _hosts(team_conn)),
               "the broken canary pod gone from EDS")
    cmd = [sys.executable, "-m", "gloo_nb", "rollout", "--sandbox", str(state_dir),
           "--route-table", "foxtrot/foxtrot-routes", "--upstream", "gloo-system/foxtrot", "--subset-key", "version",
           "--stable", "v1", "--canary", "v2", "--weights", "100", "--as", TEAM[0], "--as-group", TEAM[1],
           "--journal", str(tmp_path / "j"), "--yes", "--json", "--max-error-rate", "1", "--max-p99-ms", "0.001"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    steps = {s["step"]: s for s in doc["steps"]}
    assert [(s["step"], s["outcome"]) for s in doc["steps"]] == [("phase1", "proven"), ("phase2-0", "refused")]
    reason = steps["phase2-0"]["reason"]
    assert "refusing to promote: canary version=v2 p99 latency" in reason and "above the max 0.001 ms" in reason
    assert "5xx" not in reason  # the healthy canary passes the error-rate threshold
    assert any(g["name"] == "canary-signals" and not g["ok"] for g in steps["phase2-0"]["guards"])
    probe = next(p for p in steps["phase1"]["probes"] if p["name"] == "with-header")
    assert probe["errorsBySubset"] == {}
    assert probe["latencyBySubset"]["v2"]["p99Ms"] > 0 and probe["latencyBySubset"]["v2"]["source"] == "probe"


def test_a_slow_route_to_the_canary_is_refused_on_p99_and_envoys_upstream_time_tells_why(
        env: tuple[Path, Kube, Path], team_conn: GatewayConnection, tmp_path: Path) -> None:
    """A 200 ms fault-injection delay on foxtrot's route (Gloo ``faults.delay``, Envoy's fault filter, before the
    router): the canary answers 200 but slowly; ``max_p99_ms=100`` refuses the promotion. The sandbox has no
    workload that sleeps, so the delay is the route's (v1 is as slow; the guard judges only the canary). Envoy's
    ``x-envoy-upstream-service-time`` stays small: the time is spent before the upstream, which the two numbers
    side by side show."""
    state_dir, kube, _ = env
    kube.run("scale", "deployment/foxtrot-v2-bad", "-n", "foxtrot", "--replicas=0")
    wait_until(lambda: _hosts(team_conn) and all(n == 2 for n in _hosts(team_conn)),
               "the broken canary pod gone from EDS")
    rt = _rt_with_retries()
    rt["spec"]["routes"][0]["options"] = {"faults": {"delay": {"percentage": 100, "fixedDelay": "0.2s"}}}
    kube.run("replace", "-f", "-", input=json.dumps(rt))
    with Rollout(team_conn, TARGET, journal=tmp_path / "j", thresholds=SignalThresholds(max_p99_ms=100)) as rollout:
        phase1 = rollout.next()
        assert phase1.outcome == "proven", phase1.text()
        lat = (dict(phase1.probes)["with-header"].latency_by_subset or {})["v2"]
        assert lat.p50_ms is not None and lat.p50_ms >= 200.0
        assert lat.envoy_p99_ms is not None and lat.envoy_p99_ms < 100.0
        step = rollout.next()
    assert (step.step, step.outcome) == ("phase2-0", "refused"), step.text()
    assert "refusing to promote: canary version=v2 p99 latency" in step.reason
    assert "(measured by the probe) in the proof of phase1, above the max 100 ms" in step.reason
