"""Gloo's control plane down (its Deployment scaled to 0): both connection paths say so first, at once.

A real sandbox, real kubectl and Envoy: foxtrot's rollout start served, then ``kubectl scale deploy/gloo
--replicas=0``. ``gloo-nb inspect`` through ``--sandbox`` and through ``--kubeconfig`` gives the same document and
the same headline: the control plane is down and the replicas keep what they applied; never "served as intended".
A rollout step is refused by its ``control-plane-up`` guard before it writes.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until
from sandboxkit import PART2, kubectl_for, play, sandbox

from gloo_nb.app import notebook as nb
from gloo_nb.app.connect import GatewayUnreachable, connect
from gloo_nb.journal import journal_files, read_journal

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

DOWN = ("Gloo's control plane is down (no ready pod behind Service gloo-system/gloo; Deployment gloo-system/gloo "
        "is scaled to 0 replicas): the Envoy replicas keep serving what they last applied; no change is served "
        "until it is back.")


def _inspect(*connection: str, json_out: bool = True) -> Any:
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", *connection, *(["--json"] if json_out else [])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if json_out else done.stdout


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_scaled_down_gloo_leads_the_headline_on_both_paths(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3", replicas=1) as info, ExitStack() as stack:
        play(info.state_dir, nb.FOXTROT_START)  # foxtrot's rollout can start: everything to v1, v2 deployed
        kube = kubectl_for(info, tmp_path)
        paths = (("--sandbox", str(info.state_dir)), ("--kubeconfig", str(info.kubeconfig)))
        assert _inspect(*paths[0])["headline"]["state"] == "ok"
        # A live connection (a notebook's) open across the outage, through the kubeconfig: port-forwards.
        live = connect(str(info.kubeconfig))
        stack.callback(live.close)
        assert not live.collect(timeout=10).served_unavailable
        kube.run("scale", "-n", "gloo-system", "deploy/gloo", "--replicas=0")
        wait_until(lambda: kube.json("pods", "-n", "gloo-system", "-l", "gloo=gloo")["items"], "the gloo pod gone",
                   until=lambda items: items == [])
        assert live.collect(timeout=10).served_unavailable.startswith("Gloo's control plane is down (")
        # A recorder started during the outage (as on-call does) records what is served once Gloo is back.
        journal = tmp_path / "journal"
        recorder = subprocess.Popen([sys.executable, "-m", "gloo_nb", "record", *paths[1], "--out", str(journal),
                                     "--poll-seconds", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        stack.callback(_stop, recorder)
        wait_until(lambda: journal_files(journal) and read_journal(journal).events, "the recorder started",
                   ignoring=(OSError, ValueError))
        by_sandbox, by_kubeconfig = (_inspect(*p) for p in paths)
        assert by_sandbox == by_kubeconfig
        assert by_sandbox["headline"]["state"] == "control-plane-down"
        assert by_sandbox["headline"]["text"] == DOWN
        assert by_sandbox["servedUnavailable"].startswith("Gloo's control plane is down (")
        assert {r["source"] for r in by_sandbox["routes"]} == {"intent", "gateway-proxy-0.gloo-system"}
        # The replicas still apply what was served before: every route agrees with the intent.
        assert {d["state"] for d in by_sandbox["drift"]} == {"in-sync"}
        # A rollout step is refused before anything is written (exit 1, the guard named), on both paths.
        before = kube.json("routetables.gateway.solo.io", "-n", "foxtrot", "foxtrot-routes")["metadata"]
        for path in paths:
            step = subprocess.run([sys.executable, "-m", "gloo_nb", "rollout", *path, "--route-table",
                                   "foxtrot/foxtrot-routes", "--upstream", "gloo-system/foxtrot", "--subset-key",
                                   "version", "--stable", "v1", "--canary", "v2", "--until", "phase1", "--yes",
                                   "--journal", str(tmp_path / f"journal{path[0]}")],
                                  capture_output=True, text=True, timeout=120)
            assert step.returncode == 1, (step.stdout, step.stderr)
            assert "control-plane-up: Gloo's control plane is down (no ready pod behind Service gloo-system/gloo" \
                in step.stdout + step.stderr, (step.stdout, step.stderr)
        after = kube.json("routetables.gateway.solo.io", "-n", "foxtrot", "foxtrot-routes")["metadata"]
        assert after["resourceVersion"] == before["resourceVersion"]
        text = _inspect(*paths[1], json_out=False)
        assert text.splitlines()[0] == DOWN
        assert "fix: bring Gloo's control plane back (kubectl -n gloo-system scale deploy/gloo --replicas=1" in text
        assert "Served: not read (Gloo's control plane is down" in text and "served as intended" not in text
        # Back: the stream is read again and the headline is the usual one.
        kube.run("scale", "-n", "gloo-system", "deploy/gloo", "--replicas=1")
        kube.run("rollout", "status", "-n", "gloo-system", "deploy/gloo", "--timeout=60s")
        back = wait_until(lambda: _inspect(*paths[1]), "the headline after the control plane is back",
                          until=lambda doc: doc["headline"]["state"] == "ok", timeout=60)
        assert back["headline"]["text"].startswith("Everything is served as intended")
        assert "servedUnavailable" not in back and "served" in {r["source"] for r in back["routes"]}
        # The live connection follows the gloo Service to its new pod (kubectl's port-forward would stay on the
        # gone one): its ADS stream reconnects by itself, and a change made now is seen served through it (never
        # the resources it had before the outage passed off as current).
        kube.run("apply", "-f", str(PART2 / "rt-foxtrot-3.yaml"))
        again = wait_until(lambda: live.collect(timeout=5), "the live connection's served read again",
                           until=lambda i: not i.served_unavailable and {d.state for d in i.drift} == {"in-sync"},
                           ignoring=(GatewayUnreachable,), timeout=60)
        assert "served" in {r.source for r in again.rows}
        wait_until(lambda: [e for e in read_journal(journal).events if e.kind == "xds.content"],
                   "the recorder's xDS content after Gloo is back", timeout=60)
        _stop(recorder)
        started = next(e for e in read_journal(journal).events if e.kind == "recorder.start")
        assert started.data["xds"], started.data
