"""``python -m gloo_nb.demo`` (``make demo``): the seed scenario's Part 2 on a sandbox, step by step.

It starts a sandbox (Gloo 1.3 profile, two real Envoy replicas), applies each step's manifests
through the Kubernetes API with gloo_nb's client, waits for the pods and for the gateway to settle,
and prints what the step changed, what Gloo wrote in the VirtualService's status, and what real
requests through the gateway saw, beside what the blog observed. The sandbox is stopped at the end,
also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from gloo_nb._types import Profile
from gloo_nb.app.connect import GatewayConnection, connect_sandbox
from gloo_nb.app.manifests import read_documents
from gloo_nb.app.notebook import sandbox_cli, wait_pods
from gloo_nb.app.resources import seed_scenario
from gloo_nb.errors import GlooNbError
from gloo_nb.kube import KubeClient

PART2 = seed_scenario("part2")
PROFILE: Profile = "1.3"
"""The seed scenario's manifests only work in Gloo 1.3 (``servicePort: 8080``)."""
REQUESTS = 20
"""Requests sent per probe and step."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of spec section 6.2.

    Attributes:
        number: Step number.
        apply: Files applied, in order.
        delete: Files deleted.
        patch: A merge patch applied to Settings ``gloo-system/default``.
        blog: What the blog's curl checks observe after the step.
    """

    number: int
    apply: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    patch: str = ""
    blog: str = ""


STEPS = (
    Step(1, ("echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "rt-echo-1.yaml",
             "rt-foxtrot-1.yaml", "vs.yaml"),
         blog="/echo -> echo-v1 (no v2 pod yet: Envoy's subset fallback); /foxtrot -> foxtrot-v1"),
    Step(2, ("foxtrot-v2.yaml", "rt-foxtrot-2.yaml"),
         blog="/echo -> echo-v1; /foxtrot -> foxtrot-v1; /foxtrot canary -> foxtrot-v2"),
    Step(3, ("rt-foxtrot-3.yaml",), blog="as step 2 (weights 100/0)"),
    Step(4, ("echo-v2.yaml", "rt-echo-2.yaml"),
         blog="/echo -> echo-v1; /echo canary -> echo-v2; /foxtrot -> foxtrot-v1; /foxtrot canary -> foxtrot-v2"),
    Step(5, ("rt-echo-3.yaml", "rt-foxtrot-4.yaml"),
         blog="whole proxy frozen: /echo canary -> echo-v2; /foxtrot -> foxtrot-v1 (blocked)"),
    Step(6, patch="settings-patch.yaml",
         blog="/echo -> echo-v1; /echo canary -> 404 with the configured body; /foxtrot -> foxtrot-v2"),
    Step(7, ("rt-echo-2.yaml", "rt-foxtrot-5.yaml"), delete=("foxtrot-v1.yaml",),
         blog="/echo -> echo-v1; /echo canary -> echo-v2; /foxtrot -> foxtrot-v2"),
    Step(8, ("rt-echo-4.yaml", "rt-foxtrot-6.yaml", "vs-2.yaml"),
         blog="/echo -> echo-v1; /echo canary -> echo-v2; /foxtrot -> foxtrot-v2"),
)
"""The steps of spec section 6.2."""

PROBES: tuple[tuple[str, dict[str, str]], ...] = (
    ("/echo", {}), ("/echo", {"stage": "canary"}), ("/foxtrot", {}), ("/foxtrot", {"stage": "canary"}))
"""The blog's curl checks."""


def _fetch(url: str, headers: dict[str, str]) -> str:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - the sandbox's loopback gateway
            return f"{resp.status} {resp.read().decode().strip()}"
    except urllib.error.HTTPError as err:
        return f"{err.code} {err.read().decode().strip()}"
    except OSError as err:
        return f"no answer ({err})"


def probe(gateway: str, requests: int = REQUESTS) -> dict[str, Counter[str]]:
    """Send the blog's requests through the gateway.

    Args:
        gateway: The front door URL.
        requests: Requests per probe.

    Returns:
        Per probe (``/echo``, ``/echo canary``…), how often each answer was seen.
    """
    out = {}
    for path, headers in PROBES:
        name = path + (" canary" if headers else "")
        out[name] = Counter(_fetch(gateway + path, headers) for _ in range(requests))
    return out


def settle(gateway: str, *, quiet: float = 0.3, timeout: float = 10.0) -> None:
    """Wait until what the gateway answers stops changing (configuration propagates asynchronously).

    Args:
        gateway: The front door URL.
        quiet: How long the answers must stay the same.
        timeout: Give up waiting after this long.
    """
    deadline = time.monotonic() + timeout
    last = probe(gateway, 2)
    since = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.05)
        now = probe(gateway, 2)
        if now != last:
            last, since = now, time.monotonic()


def _vs_status(kube: KubeClient) -> str:
    status: dict[str, Any] = kube.get("VirtualService", "gloo-system", "app").get("status") or {}
    # 1.3 writes the status at the top; current Gloo under statuses.<namespace>.
    for value in (status.get("statuses") or {}).values():
        status = value
    reason = " ".join(line.strip() for line in str(status.get("reason", "")).splitlines() if line.strip())
    state = status.get("state", "?")
    # Gloo 1.3 stores the state as the enum's number (solo-kit core.Status_State).
    state = {0: "Pending", 1: "Accepted", 2: "Rejected", 3: "Warning"}.get(state, state)
    return f"{state}" + (f" ({reason})" if reason else "")


def play(step: Step, kube: KubeClient, gateway: str, folder: Path) -> list[str]:
    """Apply one step, wait for it to settle, and describe what happened.

    Args:
        step: The step.
        kube: The client.
        gateway: The front door URL.
        folder: Where the manifests are.

    Returns:
        The lines to print.
    """
    lines = []
    touched: set[str] = set()
    for name in step.apply:
        for doc in read_documents(folder / name):
            outcome, _ = kube.apply(doc)
            meta = doc.get("metadata", {})
            if doc.get("kind") == "Deployment":
                touched.add(meta.get("namespace", "default"))
            lines.append(f"  {doc['kind']} {meta.get('namespace', '')}/{meta['name']} {outcome} ({name})")
    for name in step.delete:
        for doc in read_documents(folder / name):
            meta = doc.get("metadata", {})
            kube.delete(doc["kind"], meta.get("namespace"), meta["name"])
            touched.add(meta.get("namespace", "default"))
            lines.append(f"  {doc['kind']} {meta.get('namespace', '')}/{meta['name']} deleted ({name})")
    if step.patch:
        for doc in read_documents(folder / step.patch):
            kube.patch("Settings", "gloo-system", "default", doc)
        lines.append(f"  Settings gloo-system/default patched ({step.patch})")
    wait_pods(kube, sorted(touched), time.monotonic() + 30)
    settle(gateway)
    lines.append(f"  VirtualService gloo-system/app: {_vs_status(kube)}")
    lines.append(f"  traffic through the gateway ({REQUESTS} requests each):")
    for name, seen in probe(gateway).items():
        answers = ", ".join(f"{answer} x{n}" for answer, n in seen.most_common())
        lines.append(f"    {name:<16} {answers}")
    lines.append(f"  blog observes: {step.blog}")
    return lines


def drift_lines(gateway: GatewayConnection) -> list[str]:
    """What gloo_nb's inspector says about the routes that are not in sync.

    Args:
        gateway: The connection to the sandbox.

    Returns:
        The lines to print.
    """
    rows = [d for d in gateway.collect().drift if d["state"] != "in-sync"]
    if not rows:
        return ["  gloo_nb inspect: every route in sync (intent = served = both replicas)"]
    lines = ["  gloo_nb inspect:"]
    for d in rows:
        cause = f": {d['cause']}" if d["cause"] else ""
        lines.append(f"    {d['route']['match']} ({d['resource'] or '?'}) {d['state']}{cause}")
    return lines


def run(out: TextIO = sys.stdout, folder: Path = PART2, state_dir: Path | None = None, steps: int = len(STEPS)) -> int:
    """Start a sandbox, play the steps, print the report, stop the sandbox.

    Args:
        out: Where to print.
        folder: The Part 2 manifests.
        state_dir: The sandbox's state directory (default: a temporary one).
        steps: Play only the first ones (the story's summary needs them all).

    Returns:
        0.
    """
    with tempfile.TemporaryDirectory(prefix="gloo-nb-demo-") as tmp:
        state = state_dir or Path(tmp) / "sandbox"
        out.write(f"Starting a sandbox (Gloo {PROFILE} profile, 2 Envoy replicas) in {state}\n")
        # through the sandbox's CLI contract, as the notebooks do: app does not import the sandbox package
        info = json.loads(sandbox_cli("start", state, "--gloo-version", PROFILE, "--replicas", "2",
                                      "--exit-with", str(os.getpid())))
        try:
            out.write(f"Gateway {info['gateway']}; kubectl: KUBECONFIG={info['kubeconfig']}\n\n")
            out.write(f"Two-phase canary, Part 2 (files from {folder})\n\n")
            kube = KubeClient.from_kubeconfig(info["kubeconfig"])
            gateway = connect_sandbox(state)
            try:
                for step in STEPS[:steps]:
                    what = [*step.apply, *(f"delete {f}" for f in step.delete)] + ([step.patch] if step.patch else [])
                    out.write(f"Step {step.number}: {', '.join(what)}\n")
                    out.write("\n".join(play(step, kube, info["gateway"], folder)) + "\n")
                    out.write("\n".join(drift_lines(gateway)) + "\n\n")
                    out.flush()
            finally:
                gateway.close()
            out.write("" if steps < len(STEPS) else
                "Summary: with Gloo 1.3's default invalid-config policy, echo's upstream typo (step 5) froze "
                "the whole proxy, so foxtrot's unrelated weight change was blocked: real requests kept reaching "
                "foxtrot-v1. With replaceInvalidRoutes (step 6) only echo's broken canary route answered the "
                "fallback 404 and foxtrot's change went live.\n")
        finally:
            sandbox_cli("stop", state)
            out.write("Sandbox stopped.\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; an error is one line on stderr, not a traceback.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``): ``--steps N`` plays the first N.

    Returns:
        0 done, 1 failed.
    """
    parser = argparse.ArgumentParser(prog="python -m gloo_nb.demo",
                                     description="The seed scenario's Part 2 on a sandbox, step by step.")
    parser.add_argument("--steps", type=int, choices=range(1, len(STEPS) + 1), default=len(STEPS), metavar="N",
                        help=f"play only the first N steps (1-{len(STEPS)}; default: all)")
    args = parser.parse_args(argv)
    try:
        return run(steps=args.steps)
    except GlooNbError as err:
        sys.stderr.write(f"demo: {err}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("demo: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
