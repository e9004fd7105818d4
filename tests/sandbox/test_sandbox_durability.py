"""A whole sandbox, killed and restarted, with real kubectl: acknowledged writes survive, files stay private."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest
from polling import wait_until
from sandboxkit import PART2, alive, kubectl_for, sandbox, wait_ready_pods

from gloo_nb.sandbox import runner

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]


def test_writes_after_a_torn_restart_survive_and_the_state_dir_is_private(tmp_path: Path) -> None:
    state = tmp_path / "sb"
    # A state dir from before (or made by hand) with loose modes is tightened when a sandbox starts there.
    state.mkdir()
    state.chmod(0o755)
    (state / "sandbox.log").write_text("an older run\n")
    (state / "sandbox.log").chmod(0o644)
    with sandbox(state, "1.3", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        kube.apply(PART2 / "echo.yaml")
        wait_ready_pods(kube, "echo")  # a pod writes its log under the state dir
        kube.run("create", "configmap", "before", "-n", "echo", "--from-literal=a=1")
        pid = info.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not alive(pid), "the sandbox dies")
    # What a SIGKILL in the middle of a large append leaves behind.
    with open(state / "objects.jsonl", "a") as f:
        f.write('{"op":"put","rv":999,"o":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"half"')
    with sandbox(state, None, replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        assert "configmap/after created" in kube.run("create", "configmap", "after", "-n", "echo",
                                                     "--from-literal=b=2").stdout
    assert runner.running(state) is None
    with sandbox(state, None, replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        listed = kube.json("configmaps", "-n", "echo")["items"]
        assert {c["metadata"]["name"] for c in listed} >= {"before", "after"}, "acknowledged writes survive"
        assert "half" not in {c["metadata"]["name"] for c in listed}
        modes = {path: stat.S_IMODE(path.lstat().st_mode) for path in state.rglob("*") if not path.is_symlink()}
        loose = [f"{path.relative_to(state)} {oct(mode)}" for path, mode in modes.items() if mode & 0o077]
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        assert loose == [], f"readable by others: {loose}"
        for name in ("kubeconfig", "endpoints.json", "objects.jsonl", "audit.jsonl", "sandbox.log", "envoy-0.log"):
            assert state / name in modes, f"{name} was checked"
        assert any(path.suffix == ".log" and "pods" in path.parts for path in modes), "a pod log was checked"
