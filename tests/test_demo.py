"""``python -m gloo_nb.demo``: the seed scenario's Part 2 on a real sandbox, with real traffic."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

INVALID = ("404 Gloo Gateway has invalid configuration. Administrators should run `glooctl check` to find and "
           "fix config errors.")


def step_blocks(out: str) -> dict[int, str]:
    parts = re.split(r"^Step (\d+): ", out, flags=re.M)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts), 2)}


def traffic(block: str) -> dict[str, str]:
    """Probe name -> the answers line, from a step's traffic table."""
    rows = {}
    for line in block.split("  traffic through the gateway", 1)[1].splitlines()[1:]:
        m = re.match(r"^    (/\S+(?: canary)?)\s+(.*)$", line)
        if m is None:
            break
        rows[m[1]] = m[2]
    return rows


def test_demo_plays_part2_on_a_sandbox(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "gloo_nb.demo"], capture_output=True, text=True, timeout=240,
                          check=False, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr + done.stdout
    steps = step_blocks(done.stdout)
    assert sorted(steps) == list(range(1, 9))
    one = traffic(steps[1])
    assert one["/echo"] == "200 version:echo-v1 x20" and one["/foxtrot"] == "200 version:foxtrot-v1 x20"
    five = traffic(steps[5])
    assert five["/foxtrot"] == "200 version:foxtrot-v1 x20", "foxtrot's change must be blocked at step 5"
    assert five["/echo canary"] == "200 version:echo-v2 x20"
    assert "Warning" in steps[5] and "echo-typo" in steps[5]
    blocked = ("prefix /foxtrot (foxtrot/foxtrot-routes) blocked-by-last-known-good: echo/echo-routes: "
               "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {echo-typo gloo-system} not found")
    assert blocked in steps[5]
    assert "prefix /echo, stage=canary (echo/echo-routes) replaced-by-fallback" in steps[6]
    assert "every route in sync" in steps[1] and "every route in sync" in steps[8]
    six = traffic(steps[6])
    assert six["/echo canary"] == f"{INVALID} x20"
    assert six["/foxtrot"] == "200 version:foxtrot-v2 x20" and six["/echo"] == "200 version:echo-v1 x20"
    eight = traffic(steps[8])
    assert eight == {"/echo": "200 version:echo-v1 x20", "/echo canary": "200 version:echo-v2 x20",
                     "/foxtrot": "200 version:foxtrot-v2 x20", "/foxtrot canary": "200 version:foxtrot-v2 x20"}
    assert done.stdout.rstrip().endswith("Sandbox stopped.")
    # Nothing left running: the demo's state dir lived under TMPDIR.
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, str(tmp_path))]
    assert not leftovers


def _cmdline_has(proc: Path, text: str) -> bool:
    try:
        return text.encode() in (proc / "cmdline").read_bytes()
    except OSError:
        return False
