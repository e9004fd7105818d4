"""``gloo-nb sandbox start --audit-level``: the level reaches the daemon's store, its policy file and its log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sandboxkit import kubectl_for

from gloo_nb.sandbox import runner

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec: {ports: [{port: 80}]}\n"


def test_the_cli_starts_a_sandbox_whose_audit_log_keeps_only_metadata(tmp_path: Path) -> None:
    state = tmp_path / "sb"
    cli = [sys.executable, "-m", "gloo_nb", "sandbox"]
    started = subprocess.run([*cli, "start", "--state-dir", str(state), "--replicas", "1", "--audit-level",
                              "Metadata", "--exit-with", str(os.getpid())], capture_output=True, text=True, timeout=90)
    try:
        assert started.returncode == 0, started.stderr
        info = runner.read_info(state)
        assert info is not None
        kube = kubectl_for(info, tmp_path)
        kube.run("apply", "-f", "-", input=SERVICE)
        policy = yaml.safe_load((state / "audit-policy.yaml").read_text())
        assert {"level": "Metadata", "verbs": ["create", "delete", "deletecollection", "patch", "update"]} \
            in policy["rules"]
        lines = [json.loads(line) for line in (state / "audit.jsonl").read_text().splitlines()]
        (web,) = [e for e in lines if e["objectRef"].get("name") == "web"]
        assert web["level"] == "Metadata" and "requestObject" not in web and "responseObject" not in web
        assert web["userAgent"].startswith("kubectl/v1.32")
        # The sandbox's own writes follow the same policy.
        assert {e["level"] for e in lines} == {"Metadata"}
    finally:
        subprocess.run([*cli, "stop", "--state-dir", str(state)], capture_output=True, timeout=60)


def test_an_unknown_level_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(runner.SandboxError, match=r"^--audit-level must be one of Metadata, Request, RequestResponse"):
        runner.start(tmp_path / "sb", audit_level="Everything")
    cli = subprocess.run([sys.executable, "-m", "gloo_nb", "sandbox", "start", "--state-dir", str(tmp_path / "x"),
                          "--audit-level", "Everything"], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2 and "--audit-level" in cli.stderr and "Traceback" not in cli.stderr
