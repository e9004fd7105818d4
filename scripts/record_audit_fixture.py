"""Record the sandbox's audit log while real kubectl plays the seed incident (the test fixture).

Writes ``tests/data/audit/kubectl-1.32-seed-incident.jsonl``.

A Gloo 1.3 sandbox (audit level ``RequestResponse``, the default) is driven by kubectl only, as the teams would:

1. steps 1 to 4 of the seed scenario and ``rbac.yaml``, applied by the admin (``kubectl apply -f``);
2. the incident: ``rt-echo-3`` (echo's upstream typo) as ``echo-dev``/``team-echo``, then ``rt-foxtrot-4``
   (foxtrot's 0/100 change) as ``foxtrot-dev``/``team-foxtrot`` (``kubectl --as --as-group``: a merge patch each,
   since a RouteTable is a custom resource);
3. the settings patch (``kubectl patch settings default --type merge --patch-file settings-patch.yaml``) as
   ``ops``/``platform-ops``;
4. the revert (``rt-echo-2``) as ``echo-dev``.

Between phases the script waits until Gloo and the Envoy replicas settled, so the sandbox's own writes (Pods,
Endpoints, Gloo's statuses) sit where they would. The file is the sandbox's ``audit.jsonl`` as written; the
recording's date and kubectl's version go to ``tests/data/audit/README.md``. Usage::

    python scripts/record_audit_fixture.py [--out tests/data/audit/kubectl-1.32-seed-incident.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from gloo_nb.app.connect import connect_sandbox
from gloo_nb.app.notebook import INCIDENT, REVERT, SEED, SETTINGS_PATCH, STEP4, NotebookGateway
from gloo_nb.sandbox import runner

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "data" / "audit" / "kubectl-1.32-seed-incident.jsonl"
RBAC = SEED.parent / "rbac.yaml"
ECHO = ("echo-dev", "team-echo")
FOXTROT = ("foxtrot-dev", "team-foxtrot")
OPS = ("ops", "platform-ops")
PAUSE = 1.0


def kubectl_agent(log: Path) -> str:
    """The ``userAgent`` kubectl sent, as the log has it (``kubectl/v1.32.4 (linux/amd64) kubernetes/...``)."""
    for line in log.read_text().splitlines():
        agent = str(json.loads(line).get("userAgent", ""))
        if agent.startswith("kubectl/"):
            return agent
    return "kubectl (not seen in the log)"


def record(out: Path) -> int:
    """Play the incident with kubectl on a fresh sandbox; copy its audit log to ``out``.

    Args:
        out: The JSON lines file to write.

    Returns:
        How many lines were written.
    """
    temp = Path(tempfile.mkdtemp(prefix="gloo-nb-audit-"))
    state_dir = temp / "sandbox"
    info = runner.start(state_dir, gloo_version="1.3", replicas=2, exit_with=os.getpid())
    env = {**os.environ, "KUBECONFIG": str(info.kubeconfig), "HOME": str(temp)}

    def kubectl(*args: str, who: tuple[str, str] | None = None) -> None:
        extra = ["--as", who[0], "--as-group", who[1]] if who else []
        subprocess.run(["kubectl", *args, *extra], env=env, check=True, capture_output=True, text=True, timeout=60)

    try:
        with connect_sandbox(state_dir) as conn:
            gateway = NotebookGateway(conn, owned=True, apply_changes=False, sandbox_dir=state_dir)

            def settle() -> None:
                gateway.settle(timeout=30.0)
                time.sleep(PAUSE)

            for name in STEP4:
                kubectl("apply", "-f", str(SEED / name))
            kubectl("apply", "-f", str(RBAC))
            settle()
            kubectl("apply", "-f", str(SEED / INCIDENT[0]), who=ECHO)
            time.sleep(PAUSE)
            kubectl("apply", "-f", str(SEED / INCIDENT[1]), who=FOXTROT)
            settle()
            kubectl("patch", "settings", "default", "-n", conn.namespace, "--type", "merge", "--patch-file",
                    str(SEED / SETTINGS_PATCH), who=OPS)
            settle()
            for name in REVERT:
                kubectl("apply", "-f", str(SEED / name), who=ECHO)
            settle()
    finally:
        runner.stop(state_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(state_dir / "audit.jsonl", out)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return len(out.read_text().splitlines())


def main(argv: list[str] | None = None) -> int:
    """Run the script.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the file to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    lines = record(args.out)
    agent = kubectl_agent(args.out)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    readme = args.out.parent / "README.md"
    readme.write_text(
        "# Audit logs for tests\n\n"
        f"`{args.out.name}`: the sandbox's `audit.jsonl` (`audit.k8s.io/v1` Events, level RequestResponse) "
        f"recorded on {when} while kubectl (userAgent `{agent}`) played the seed scenario's part 2 incident on a "
        "Gloo 1.3 sandbox: steps 1-4 and rbac.yaml as the admin, `rt-echo-3` as echo-dev, `rt-foxtrot-4` as "
        "foxtrot-dev, the Settings merge patch as ops, the revert `rt-echo-2` as echo-dev. "
        f"{lines} lines. Regenerate with `python scripts/record_audit_fixture.py`.\n")
    sys.stdout.write(f"wrote {lines} lines to {args.out} ({agent})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
