"""Rollout benchmark: foxtrot's two-phase canary rollout on a fresh Gloo 1.3 sandbox, step by step.

Starts a sandbox (2 Envoy replicas) with the seed scenario's start (foxtrot on v1, a v2 Deployment
ready), then runs foxtrot's rollout (weights 10, 50, 100) with :class:`gloo_nb.app.rollout.Rollout`,
rolls it back to the start, and runs it again (more samples). It prints, never asserts (bench rules):

* per step: the time from the apply to the control plane serving it and to every replica having
  applied it (the reports' ``converged``; measured by polling every ~50 ms plus one round of reads,
  so that is the resolution), and the requests and seconds the proof needed;
* the p95 of "apply -> every replica applied" over all steps and the rollback (target < 1 s);
* the proof of the 10 % step (the weighted probe: requests, seconds) and of the 50 % step, the
  hardest (about 14,500 requests for +/-3 points; target < 5 s for the step's whole proof);
* the same-run baselines, with the same number of requests and connections: a plain ``probe()``
  straight to the canary pod's port (no Envoy) and one through the gateway (Envoy, but no per-host
  counters read around it); the ratios show Envoy's cost and the counters' cost.

Usage: ``python bench/rollout.py [--weights 10,50,100] [--runs 2] [--concurrency 16] [--replicas 2]``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from gloo_nb.app import notebook as nb
from gloo_nb.app.connect import GatewayConnection, connect_sandbox
from gloo_nb.app.probe import probe
from gloo_nb.app.rollout import Rollout, StepReport
from gloo_nb.rollout import RolloutTarget
from gloo_nb.sandbox import runner
from gloo_nb.xds.decode import endpoint_rows

START = ("echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "rt-echo-1.yaml",
         "rt-foxtrot-1.yaml", "vs.yaml", "foxtrot-v2.yaml", "echo-v2.yaml")
"""The seed's start (nb.STEP4 without its weight steps): foxtrot's RouteTable on v1, both versions running."""
CONVERGE_TARGET_S = 1.0
PROOF_50_TARGET_S = 5.0
WEIGHTED = "without-header"
"""The probe of a phase-2 step that measures the split (the other checks the header route)."""


def p95(xs: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(xs)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def applied_all(report: StepReport) -> float | None:
    """Seconds from the apply to the last replica having applied it (None: not measured or never)."""
    c = report.converged
    if c is None or not c.ok or not c.applied_seconds or any(v is None for v in c.applied_seconds.values()):
        return None
    return max(v for v in c.applied_seconds.values() if v is not None)


def proof(report: StepReport, name: str | None = None) -> tuple[int, float]:
    """Requests and seconds of a step's probes (all of them, or the one named)."""
    probes = [o for n, o in report.probes if name is None or n == name]
    return sum(o.sent for o in probes), sum(o.seconds for o in probes)


def secs(value: float | None) -> str:
    return "   never" if value is None else f"{value:7.3f}s"


def print_reports(run: str, reports: list[StepReport]) -> None:
    for r in reports:
        c = r.converged
        n, s = proof(r)
        served = c.served_seconds if c is not None else None
        print(f"  {run:<9}{r.step:<22}{r.outcome:<9}{secs(served)} {secs(applied_all(r))} "
              f"{n:>9,} {s:8.2f}s {n / s if s else 0:>9,.0f}/s {r.seconds:8.2f}s")


def run_or_die(rollout: Rollout, what: str) -> list[StepReport]:
    reports = rollout.run()
    bad = [r for r in reports if not r.ok]
    if bad:
        raise SystemExit(f"{what}: step {bad[0].step} {bad[0].outcome}: {bad[0].reason}\n{bad[0].text()}")
    return reports


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results.

    Args:
        argv: Command-line arguments.

    Returns:
        0 (a rollout step that fails ends the benchmark with its reason instead).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--weights", default="10,50,100", help="the canary's phase-2 percentages")
    parser.add_argument("--runs", type=int, default=2, help="rollouts, rolled back to the start in between")
    parser.add_argument("--concurrency", type=int, default=16, help="connections the proofs send on")
    parser.add_argument("--replicas", type=int, default=2, help="Envoy replicas")
    args = parser.parse_args(argv)
    weights = tuple(int(w) for w in args.weights.split(","))
    target = RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "version", "v1", "v2", weights=weights)

    with tempfile.TemporaryDirectory(prefix="gloo-nb-bench-rollout-") as tmp:
        state_dir = Path(tmp) / "sb"
        t0 = time.perf_counter()
        info = runner.start(state_dir, gloo_version="1.3", replicas=args.replicas, exit_with=os.getpid())
        try:
            gateway = nb.open_gateway(sandbox_dir=info.state_dir, apply_changes=True)
            conn = connect_sandbox(info.state_dir)
            try:
                gateway.apply(START)
                gateway.settle()
                print(f"gloo_nb rollout benchmark: foxtrot, weights {args.weights}, {args.replicas} replicas, "
                      f"{args.concurrency} connections; sandbox ready in {time.perf_counter() - t0:.1f} s")
                print(f"  {'run':<9}{'step':<22}{'outcome':<9}{'served':>8} {'applied':>8} {'requests':>9} "
                      f"{'proof':>9} {'rate':>11} {'step':>9}")
                runs: list[list[StepReport]] = []
                rollbacks: list[StepReport] = []
                with Rollout(conn, target, journal=Path(tmp) / "journal", concurrency=args.concurrency) as rollout:
                    for i in range(args.runs):
                        if i:
                            back = rollout.rollback(to="start")
                            if not back.ok:
                                raise SystemExit(f"rollback: {back.outcome}: {back.reason}\n{back.text()}")
                            rollbacks.append(back)
                            print_reports("rollback", [back])
                        runs.append(run_or_die(rollout, f"run {i + 1}"))
                        print_reports(f"run {i + 1}", runs[-1])
                base = baselines(info.gateway, conn, runs, args.concurrency)
            finally:
                conn.close()
                gateway.close()
        finally:
            runner.stop(state_dir)

    summarize(runs, rollbacks, base)
    return 0


@dataclass(frozen=True)
class Baseline:
    """Same-run baselines for the 50 % step's proof.

    Attributes:
        requests: Requests per probe (the 50 % step's split probe).
        direct_s: A plain ``probe()`` straight to the canary pod's port (no Envoy).
        gateway_s: A plain ``probe()`` through the gateway (Envoy, no counters read).
        counters_s: Reading every replica's ``/clusters`` twice (before and after), as each proof does.
    """

    requests: int
    direct_s: float
    gateway_s: float
    counters_s: float


def baselines(gateway_url: str, conn: GatewayConnection, runs: list[list[StepReport]],
              concurrency: int) -> Baseline:
    """Time plain probes of the 50 % step's request count, and the counter reads a proof adds.

    Args:
        gateway_url: The gateway.
        conn: The sandbox connection.
        runs: The rollouts' reports (for the request count).
        concurrency: Connections, as the rollout's proofs used.

    Returns:
        The baselines.
    """
    fifty = [r for rs in runs for r in rs if r.step == "phase2-50"]
    n = proof(fifty[0], WEIGHTED)[0] if fifty else 14_456
    served = conn.served(timeout=5.0)
    (pod,) = {row.address for row in endpoint_rows(served.endpoints, "served")
              if row.cluster.startswith("foxtrot_gloo-system") and row.metadata.get("version") == "v2"}
    timings = []
    for url in (f"http://{pod}/foxtrot", gateway_url.rstrip("/") + "/foxtrot"):
        started = time.perf_counter()
        result = probe(url, n, concurrency=concurrency)
        timings.append(time.perf_counter() - started)
        failed = sum(s.count for s in result.shares if not s.answer.startswith("200 "))
        if failed:
            print(f"  warning: {failed} of {n} baseline requests to {url} were not answered 200")
    started = time.perf_counter()
    for _ in range(2):
        for admin in conn.admins().values():
            admin.clusters()
    return Baseline(n, timings[0], timings[1], time.perf_counter() - started)


def summarize(runs: list[list[StepReport]], rollbacks: list[StepReport], base: Baseline) -> None:
    """Print the percentiles, the proof times against their targets, and the baseline ratios.

    Args:
        runs: The rollouts' reports.
        rollbacks: The rollbacks' reports.
        base: The baselines.
    """
    reports = [r for rs in runs for r in rs] + rollbacks
    applied = [a for a in map(applied_all, reports) if a is not None]
    served = [r.converged.served_seconds for r in reports
              if r.converged is not None and r.converged.served_seconds is not None]
    print()
    if applied:
        print(f"apply -> served:                median {statistics.median(served):6.3f} s, p95 {p95(served):6.3f} s "
              f"over {len(served)} changes")
        verdict = "met" if p95(applied) < CONVERGE_TARGET_S else "NOT met"
        print(f"apply -> every replica applied: median {statistics.median(applied):6.3f} s, "
              f"p95 {p95(applied):6.3f} s over {len(applied)} changes (target p95 < {CONVERGE_TARGET_S:g} s: "
              f"{verdict})")
    for step, label in (("phase2-10", "10 %"), ("phase2-50", "50 %")):
        steps = [r for r in reports if r.step == step]
        if not steps:
            continue
        weighted = ", ".join(f"{n:,} requests in {s:.2f} s" for n, s in (proof(r, WEIGHTED) for r in steps))
        whole = [proof(r)[1] for r in steps]
        line = f"proof of the {label} step: split {weighted}; whole proof (with the header probe) " \
               + ", ".join(f"{s:.2f} s" for s in whole)
        if step == "phase2-50":
            line += f" (target < {PROOF_50_TARGET_S:g} s: {'met' if max(whole) < PROOF_50_TARGET_S else 'NOT met'})"
        print(line)
    n = base.requests
    print(f"baseline, {n:,} requests on the same connections: straight to the canary pod {base.direct_s:.2f} s "
          f"({n / base.direct_s:,.0f}/s), through the gateway {base.gateway_s:.2f} s ({n / base.gateway_s:,.0f}/s); "
          f"the counters (every replica's /clusters, before and after) {base.counters_s * 1000:.0f} ms")
    print(f"ratio gateway / pod (Envoy's cost):                        {base.gateway_s / base.direct_s:5.2f}x")
    fifty = [r for r in reports if r.step == "phase2-50"]
    if fifty:
        best = min(fifty, key=lambda r: proof(r, WEIGHTED)[1])
        split_s = proof(best, WEIGHTED)[1]
        print(f"ratio 50 % split probe / pod (Envoy + the rollout's probe): {split_s / base.direct_s:5.2f}x")
        print(f"ratio 50 % split probe + counters / gateway probe:          "
              f"{(split_s + base.counters_s) / base.gateway_s:5.2f}x")
        print(f"ratio 50 % step (guards, apply, converge, proofs) / pod:    {best.seconds / base.direct_s:5.2f}x")


if __name__ == "__main__":
    sys.exit(main())
