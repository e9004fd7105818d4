"""A rollout journal is evidence only for its own cluster and RouteTable object (issue 12, point 1).

Real sandboxes, real Envoy, real traffic, the real ``gloo-nb rollout`` CLI:

* Two sandboxes, one folder: phase 1 proven on sandbox A with the default ``./gloo-nb-journal``; the
  same command on a brand-new sandbox B from the same folder does not claim "nothing to do": it sets A's
  run aside (a notice names it), rolls phase 1 out on B and proves it with B's traffic.
* A journal copied from elsewhere and named with ``--journal``: refused with exit 2, nothing written.
* The RouteTable deleted and recreated under the same name: the named journal is refused (another
  object), the default one is set aside and a new rollout runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from polling import wait_until
from sandboxkit import PART2, SEED, Kube, audit_writes, fetch, kubectl_for, sandbox

from gloo_nb.app import notebook as nb
from gloo_nb.journal import read_journal
from gloo_nb.sandbox.runner import SandboxInfo

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

TEAM = ("foxtrot-dev", "team-foxtrot")
TARGET = ["--route-table", "foxtrot/foxtrot-routes", "--upstream", "gloo-system/foxtrot", "--subset-key",
          "version", "--stable", "v1", "--canary", "v2", "--until", "phase1"]


@contextmanager
def start_seed(root: Path, name: str) -> Iterator[tuple[SandboxInfo, Kube]]:
    with sandbox(root / name, "1.3") as info:
        (root / f"{name}-home").mkdir(exist_ok=True)
        kube = kubectl_for(info, root / f"{name}-home")
        kube.apply(*(PART2 / f for f in nb.FOXTROT_START), SEED / "rbac.yaml")
        settle(info)
        yield info, kube


def settle(info: SandboxInfo) -> None:
    wait_until(lambda: fetch(info.gateway + "/foxtrot", {"stage": "canary"}).body.strip().endswith("v1"),
               "foxtrot served (v1)", timeout=30)


@pytest.fixture
def sandbox_a(tmp_path: Path) -> Iterator[tuple[SandboxInfo, Kube]]:
    with start_seed(tmp_path, "a") as started:
        yield started


def rollout(info: SandboxInfo, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "gloo_nb", "rollout", "--sandbox", str(info.state_dir), *TARGET,
           "--as", TEAM[0], "--as-group", TEAM[1], "--yes", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd)


def canary_answer(info: SandboxInfo) -> str:
    return fetch(info.gateway + "/foxtrot", {"stage": "canary"}).body.strip()


def rt_writes(info: SandboxInfo) -> int:
    return sum(1 for a in audit_writes(info.state_dir / "audit.jsonl") if a.kind == "RouteTable"
               and a.name == "foxtrot-routes" and not a.subresource and a.verb in ("create", "update", "patch"))


def test_a_journal_from_another_cluster_is_never_proof(tmp_path: Path, sandbox_a: tuple[SandboxInfo, Kube]) -> None:
    info_a, _ = sandbox_a
    work = tmp_path / "work"
    work.mkdir()
    first = rollout(info_a, work)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "phase1: proven" in first.stdout and canary_answer(info_a).endswith("v2")
    sessions = [e for e in read_journal(work / "gloo-nb-journal").events if e.kind == "rollout.session"]
    assert len(sessions) == 1 and sessions[0].data["identity"]["cluster"]["id"]
    assert sessions[0].data["proxy"] == "gateway-proxy"  # the proxy the run proves through
    shutil.copytree(work / "gloo-nb-journal", tmp_path / "from-a")
    a_id = sessions[0].data["identity"]["cluster"]["id"]

    with start_seed(tmp_path, "b") as (info_b, _kube_b):
        before = rt_writes(info_b)
        # Named explicitly, A's journal is refused on B: exit 2, one line naming what was found, nothing written.
        copied = rollout(info_b, work, "--journal", str(tmp_path / "from-a"))
        assert copied.returncode == 2, copied.stderr + copied.stdout
        assert copied.stderr.count("\n") == 1 and "another cluster" in copied.stderr and a_id in copied.stderr
        assert rt_writes(info_b) == before and canary_answer(info_b).endswith("v1")

        # The default journal from the same folder: A's run is set aside, B gets its own rollout, proven on B.
        second = rollout(info_b, work)
        assert second.returncode == 0, second.stderr + second.stdout
        assert "nothing to do" not in second.stdout
        assert "set aside 1 run(s)" in second.stderr and "another cluster" in second.stderr
        assert "phase1: proven" in second.stdout
        assert rt_writes(info_b) == before + 1
        assert canary_answer(info_b).endswith("v2")

        # B's own rerun: nothing to do, and only after the re-check against B's live gateway says so.
        third = rollout(info_b, work)
        assert third.returncode == 0, third.stderr + third.stdout
        assert "nothing to do" in third.stdout and "at checkpoint phase1, served" in third.stderr
        assert rt_writes(info_b) == before + 1


def test_a_recreated_route_table_is_another_object(tmp_path: Path, sandbox_a: tuple[SandboxInfo, Kube]) -> None:
    info, kube = sandbox_a
    journal = tmp_path / "named"
    assert rollout(info, tmp_path, "--journal", str(journal)).returncode == 0
    old_uid = kube.json("routetable", "foxtrot-routes", "-n", "foxtrot")["metadata"]["uid"]
    kube.run("delete", "routetable", "foxtrot-routes", "-n", "foxtrot")
    kube.apply(PART2 / "rt-foxtrot-1.yaml")
    new_uid = kube.json("routetable", "foxtrot-routes", "-n", "foxtrot")["metadata"]["uid"]
    assert new_uid != old_uid
    settle(info)

    refused = rollout(info, tmp_path, "--journal", str(journal))
    assert refused.returncode == 2, refused.stderr + refused.stdout
    assert "deleted and recreated" in refused.stderr and old_uid in refused.stderr and new_uid in refused.stderr
    assert canary_answer(info).endswith("v1")

    shutil.copytree(journal, tmp_path / "gloo-nb-journal")  # the same runs, now as the default journal
    again = rollout(info, tmp_path)
    assert again.returncode == 0, again.stderr + again.stdout
    assert "deleted and recreated" in again.stderr and "phase1: proven" in again.stdout
    assert canary_answer(info).endswith("v2")
