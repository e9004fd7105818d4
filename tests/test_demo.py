"""``python -m gloo_nb.demo``: the seed scenario's Part 2 through one stateful Gloo 1.3."""

from __future__ import annotations

import re
import subprocess
import sys

ROW = re.compile(r"^    \S+  #\d+  (?P<match>.+?)\s+-> (?P<action>.+)$")
FOX_V1 = "foxtrot_gloo-system {version=v1} 100, foxtrot_gloo-system {version=v2} 0"
FOX_V2 = "foxtrot_gloo-system {version=v1} 0, foxtrot_gloo-system {version=v2} 100"


def step_blocks(out: str) -> dict[int, str]:
    parts = re.split(r"^Step (\d+): ", out, flags=re.M)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts), 2)}


def section(block: str, title: str) -> list[tuple[str, str]]:
    """The (match, action) rows under a heading such as `Envoy is served:`."""
    lines = block.split(f"  {title}\n", 1)[1].splitlines()
    rows = []
    for line in lines:
        m = ROW.match(line)
        if m is None:
            break
        rows.append((m["match"], m["action"]))
    return rows


def test_demo_blocks_foxtrot_at_step_5_and_serves_the_fallback_at_step_6():
    done = subprocess.run([sys.executable, "-m", "gloo_nb.demo"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    steps = step_blocks(done.stdout)
    assert sorted(steps) == list(range(1, 9))
    assert all("push: push:" in steps[n] for n in (1, 2, 3, 4, 6, 7, 8))

    five = steps[5]
    assert "push: keep-last-good:" in five
    served = dict(section(five, "Envoy is served:"))
    assert served["prefix /foxtrot"] == FOX_V1
    assert served["prefix /echo, stage=canary"] == "echo_gloo-system {version=v2}"
    blocked = dict(section(five, "desired but not served (blocked by last-known-good):"))
    assert blocked == {"prefix /foxtrot": FOX_V2, "prefix /echo, stage=canary": "echo-typo_gloo-system {version=v2}"}

    six = steps[6]
    served = dict(section(six, "Envoy is served:"))
    assert served["prefix /echo, stage=canary"] == "fallback 404"
    assert served["prefix /echo"] == "echo_gloo-system {version=v1}"
    assert served["prefix /foxtrot"] == FOX_V2
    assert "blocked" not in six
    assert done.stdout.rstrip().splitlines()[-1].startswith("Summary: ")
