"""The recorder on a real sandbox: the seed incident with its actors, the CLI under SIGINT, SIGTERM and SIGKILL,
and secrets that never reach the journal's bytes."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from polling import wait_until
from sandboxkit import PART2, REPO, kubectl_for, sandbox

from gloo_nb.analysis.timeline import load_timeline
from gloo_nb.app.connect import GLOO_KINDS, Replica, connect_sandbox
from gloo_nb.app.record import Recorder
from gloo_nb.journal import Event, journal_files, read_journal
from gloo_nb.journal.schema import (
    KUBE_EVENT,
    PROBE_RESULT,
    RECORDER_START,
    RECORDER_STOP,
    REPLICA_POLL,
    XDS_CONTENT,
    XDS_UPDATE,
)
from gloo_nb.xds.protos import TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

GLOO = "system:serviceaccount:gloo-system:gloo"
NODES = {"gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"}


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("record_seed_incident", REPO / "scripts" / "record_seed_incident.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def _changes(events: list[Event], kind: str, name: str) -> list[Event]:
    return [e for e in events if e.kind == KUBE_EVENT and e.data["kind"] == kind and e.data["name"] == name
            and e.data["type"] != "INITIAL"]


def _spec_writes(events: list[Event]) -> dict[tuple[str, str, str], list[str | None]]:
    """Who changed each Gloo resource, in order (what a recording of the same play must repeat; each kind has its
    own watch stream, so only the order per resource is the cluster's)."""
    writes: dict[tuple[str, str, str], list[str | None]] = {}
    for e in events:
        if e.kind == KUBE_EVENT and e.data["specChanged"] and e.data["kind"] in GLOO_KINDS:
            writes.setdefault((e.data["kind"], e.data["namespace"], e.data["name"]), []).append(
                e.data["actor"]["user"])
    return writes


def test_the_seed_incident_is_recorded_with_actors_xds_replicas_and_probes(tmp_path: Path) -> None:
    out = tmp_path / "journal"
    done = _script().record_seed_incident(out, state_dir=tmp_path / "sb")
    assert done.recorder_errors == []
    journal = read_journal(out)
    assert journal.losses == []
    events = journal.events
    assert events[0].kind == RECORDER_START and events[-1].kind == RECORDER_STOP
    assert events[0].data["profile"] == "1.3" and set(events[0].data["replicas"]) == NODES

    # The initial list: what the sandbox holds before the play (Gloo's Settings and Gateways).
    initial = {(e.data["kind"], e.data["name"]) for e in events if e.kind == KUBE_EVENT and e.data["type"] == "INITIAL"}
    assert ("Settings", "default") in initial and any(kind == "Gateway" for kind, _ in initial)
    assert all("managedFields" not in e.data["object"]["metadata"] for e in events if e.kind == KUBE_EVENT)

    # Each change with its author from the audit log, and its patch.
    typo = next(e for e in _changes(events, "RouteTable", "echo-routes")
                if e.data["specChanged"] and any(op.get("value") == "echo-typo" for op in e.data["patch"] or []))
    actor = dict(typo.data["actor"])
    assert actor.pop("userAgent").startswith("OpenAPI-Generator/"), typo.data["actor"]  # the Python client
    assert actor == {"user": "echo-dev", "groups": ["team-echo", "system:authenticated"], "via": "audit",
                     "manager": None, "impersonatedBy": "admin"}
    assert typo.data["patch"] == [{"op": "replace", "path": "/spec/routes/0/routeAction/single/upstream/name",
                                   "value": "echo-typo"}]
    fox = [e for e in _changes(events, "RouteTable", "foxtrot-routes") if e.data["specChanged"]][-1]
    assert fox.data["actor"]["user"] == "foxtrot-dev" and fox.time > typo.time
    weights = [d["weight"] for d in fox.data["object"]["spec"]["routes"][1]["routeAction"]["multi"]["destinations"]]
    assert weights == [0, 100]
    patch = next(e for e in _changes(events, "Settings", "default") if e.data["specChanged"])
    assert patch.data["actor"]["user"] == "ops" and patch.data["actor"]["groups"][0] == "platform-ops"
    assert {"op": "replace", "path": "/spec/gloo/invalidConfigPolicy/replaceInvalidRoutes", "value": True} \
        in patch.data["patch"]
    revert = [e for e in _changes(events, "RouteTable", "echo-routes") if e.data["specChanged"]][-1]
    assert revert.data["actor"]["user"] == "echo-dev" and revert.time > patch.time

    # The status Gloo wrote after the typo: a status-only change by the control plane's identity.
    vs_status = [e for e in _changes(events, "VirtualService", "app")
                 if typo.time < e.time < fox.time and e.data["statusChanged"]]
    assert vs_status and not vs_status[0].data["specChanged"] and vs_status[0].data["patch"] == []
    assert vs_status[0].data["actor"]["user"] == GLOO and vs_status[0].data["actor"]["via"] == "audit"

    # xDS: every update's content is stored exactly once, before the update that names it.
    contents = [e.data["digest"] for e in events if e.kind == XDS_CONTENT]
    assert len(contents) == len(set(contents))
    updates = [e for e in events if e.kind == XDS_UPDATE]
    assert updates and all(e.data["accepted"] for e in updates)
    stored: set[str] = set()
    for e in events:
        if e.kind == XDS_CONTENT:
            stored.add(e.data["digest"])
        elif e.kind in (XDS_UPDATE, REPLICA_POLL) and e.data.get("routeDigest", e.data.get("digest")):
            assert e.data.get("routeDigest", e.data.get("digest")) in stored, e
    routes = [e for e in updates if e.data["typeUrl"] == TYPE_ROUTE]
    # Gloo 1.3 holds its last good snapshot through the incident: no RDS update until the settings patch.
    assert not [e for e in routes if typo.time < e.time < patch.time]
    served_after_patch = next(e for e in routes if e.time > patch.time).data["digest"]
    content = next(e for e in events if e.kind == XDS_CONTENT and e.data["digest"] == served_after_patch)
    assert any(r["actionSummary"].startswith("fallback") for r in content.data["routes"])

    # Both replicas: still on the old routes while blocked, then on exactly what is served after the patch.
    polls = [e for e in events if e.kind == REPLICA_POLL]
    assert {e.data["node"] for e in polls} == NODES and all(e.data["reachable"] for e in polls)
    for node in NODES:
        mine = [e for e in polls if e.data["node"] == node]
        blocked = [e for e in mine if e.time < patch.time][-1]
        assert blocked.data["routeDigest"] != served_after_patch
        assert any(e.data["routeDigest"] == served_after_patch for e in mine if patch.time < e.time < revert.time)
        assert set(mine[-1].data["rejected"]) == {TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE}

    # Probes: foxtrot's 0/100 change is not served while blocked, and is once the patch lets Gloo push.
    probes = [e for e in events if e.kind == PROBE_RESULT]
    assert len(probes) == 16

    def answers(after: Event, before: Event | None, path: str, headers: dict[str, str]) -> set[str]:
        found = [e for e in probes if e.data["url"].endswith(path) and e.data["headers"] == headers
                 and after.time < e.time and (before is None or e.time < before.time)]
        return {s["answer"] for s in found[0].data["shares"]}

    assert answers(fox, patch, "/foxtrot", {}) == {"200 version:foxtrot-v1"}
    assert answers(patch, revert, "/foxtrot", {}) == {"200 version:foxtrot-v2"}
    assert {a.split()[0] for a in answers(patch, revert, "/echo", {"stage": "canary"})} == {"404"}
    assert answers(revert, None, "/echo", {"stage": "canary"}) == {"200 version:echo-v2"}

    # The shipped journal is a recording of the same play.
    shipped = read_journal(REPO / "data" / "journals" / "seed-incident")
    assert shipped.losses == []
    assert _spec_writes(shipped.events) == _spec_writes(events)


def _record_cli(sandbox_dir: Path, out: Path) -> subprocess.Popen[str]:
    earlier = set(journal_files(out)) if out.is_dir() else set()
    proc = subprocess.Popen([sys.executable, "-m", "gloo_nb", "record", "--sandbox", str(sandbox_dir),
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def started() -> bool:
        assert proc.poll() is None, proc.communicate()
        return out.is_dir() and any(f.stat().st_size for f in journal_files(out) if f not in earlier)

    wait_until(started, "the recorder wrote its first batch", timeout=30)
    return proc


def _kinds(out: Path) -> list[str]:
    return [e.kind for e in read_journal(out).events]


def test_cli_stops_cleanly_on_sigint_and_sigterm_and_loses_at_most_a_batch_on_sigkill(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        procs: list[subprocess.Popen[str]] = []
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                out = tmp_path / f"journal-{sig.name}"
                proc = _record_cli(info.state_dir, out)
                procs.append(proc)
                proc.send_signal(sig)
                _, err = proc.communicate(timeout=30)
                assert proc.returncode == 0, err
                events = read_journal(out).events
                assert events[0].kind == RECORDER_START and events[-1].kind == RECORDER_STOP
                assert events[-1].data == {"reason": f"signal {sig.name}"}

            out = tmp_path / "journal-SIGKILL"
            proc = _record_cli(info.state_dir, out)
            procs.append(proc)
            kube.apply(PART2 / "echo.yaml", PART2 / "upstream-echo.yaml", PART2 / "rt-echo-1.yaml", PART2 / "vs.yaml")
            # Written and flushed: the RouteTable's creation and the status Gloo wrote on it.
            wait_until(lambda: any(e.kind == KUBE_EVENT and e.data["name"] == "echo-routes"
                                   and e.data["statusChanged"] for e in read_journal(out).events),
                       "the recorder flushed the RouteTable's events", timeout=30)
            kube.apply(PART2 / "rt-echo-2.yaml")
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
            journal = read_journal(out)
            assert RECORDER_STOP not in _kinds(out)
            assert [e.data["actor"]["user"] for e in journal.events
                    if e.kind == KUBE_EVENT and e.data["name"] == "echo-routes" and e.data["type"] == "ADDED"] \
                == ["admin"]
            # The killed run never wrote its clean stop marker: one loss, from its last event, end unknown; in the
            # summary's JSON and text and in the timeline.
            loss, = journal.losses
            assert loss.file == str(journal_files(out)[-1]) and "clean stop marker" in loss.why
            assert loss.start == journal.events[-1].time and loss.end is None
            summary = subprocess.run([sys.executable, "-m", "gloo_nb", "journal", "summary", str(out), "--json"],
                                     capture_output=True, text=True, timeout=60)
            assert summary.returncode == 0, summary.stderr
            assert json.loads(summary.stdout)["journal"]["losses"] == [loss.as_json()]
            text = subprocess.run([sys.executable, "-m", "gloo_nb", "journal", "summary", str(out)],
                                  capture_output=True, text=True, timeout=60).stdout
            assert f"  lost: {loss}" in text.splitlines()
            assert load_timeline(out).losses == [loss]

            # A line cut by the kill is reported in the same loss, not raised (made so when the kill did not cut one).
            if "truncated" not in loss.why:
                last = journal_files(out)[-1]
                last.write_bytes(last.read_bytes() + b'{"time":"2026-11-28T11:22:33.123456Z","kind":"kube.ev')
                cut = read_journal(out)
                assert len(cut) == len(journal) and len(cut.losses) == 1 and "truncated" in cut.losses[0].why

            # A restarted recorder bounds the gap: the loss now ends where the next run started.
            proc = _record_cli(info.state_dir, out)
            procs.append(proc)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err
            again = read_journal(out)
            loss, = again.losses
            restart = next(e.time for e in again.events if e.kind == RECORDER_START and e.time > loss.start)
            assert loss.end is not None and loss.start < loss.end <= restart
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate(timeout=30)


PASSWORD = "hunter2-XYZ"
ROTATED = "correct-horse-QRS"
TOKEN = "tok-9f8e7d6c5b4a"
# Not a real key: a PEM block whose body is recognisable in the journal's bytes if it ever leaked.
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDleakedLEAKEDleaked"
PEM = f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\n-----END PRIVATE KEY-----\n"


def _secret_manifest(name: str, password: str) -> str:
    return f"""apiVersion: v1
kind: Secret
metadata: {{name: {name}, namespace: default}}
stringData:
  password: {password}
  tls.key: |
    {PEM.replace(chr(10), chr(10) + '    ')}
"""


def _service_manifest(annotation: str) -> str:
    annotations = f"  annotations:\n    example.com/key: |\n      {annotation.replace(chr(10), chr(10) + '      ')}\n" \
        if annotation else ""
    return f"""apiVersion: v1
kind: Service
metadata:
  name: leaky
  namespace: default
{annotations}spec:
  ports: [{{port: 80}}]
"""


def test_secrets_and_private_keys_never_reach_the_journal(tmp_path: Path) -> None:
    secrets = [PASSWORD, ROTATED, TOKEN, PEM_BODY]
    forbidden = [s.encode() for s in secrets] + [base64.b64encode(s.encode()) for s in secrets] \
        + [base64.b64encode(PEM.encode())[:40]]
    out = tmp_path / "journal"
    with sandbox(tmp_path / "sb", "1.3", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        # One Secret before the recording (INITIAL), the others during it (ADDED, MODIFIED, applied with kubectl's
        # last-applied annotation, which copies the values).
        kube.run("create", "secret", "generic", "db", "-n", "default", f"--from-literal=password={PASSWORD}",
                 f"--from-literal=token={TOKEN}")
        with connect_sandbox(info.state_dir) as conn, Recorder(conn, out, state_dir=info.state_dir) as recorder:
            kube.run("apply", "-f", "-", input=_secret_manifest("tls", PASSWORD))
            kube.run("apply", "-f", "-", input=_secret_manifest("tls", ROTATED))
            kube.run("create", "secret", "generic", "api", "-n", "default", f"--from-literal=token={TOKEN}")
            # A private key pasted where it does not belong: an annotation of a recorded Service (kubectl copies it
            # into the last-applied annotation too, as JSON).
            kube.run("apply", "-f", "-", input=_service_manifest(""))
            kube.run("apply", "-f", "-", input=_service_manifest(PEM))

            def recorded() -> list[dict[str, Any]]:
                if not journal_files(out):
                    return []  # the first batch is not written yet
                return [e.data for e in read_journal(out).events if e.kind == KUBE_EVENT]

            wait_until(lambda: any(d["name"] == "leaky" and d["specChanged"] and d["type"] == "MODIFIED"
                                   for d in recorded()), "the annotation was recorded", timeout=30)
            assert recorder.errors == []
        events = recorded()
        tls = [d for d in events if d["kind"] == "Secret" and d["name"] == "tls"]
        # The change is recorded (which keys changed, by whom), the values are not.
        assert [d["type"] for d in tls] == ["ADDED", "MODIFIED"]
        assert tls[1]["specChanged"] and tls[1]["actor"]["user"] == "admin"
        assert {op["path"] for op in tls[1]["patch"]} >= {"/data/password"}
        assert all(op.get("value") == "<redacted>" for op in tls[1]["patch"] if op["path"].startswith("/data"))
        assert tls[1]["object"]["data"] == {"password": "<redacted>", "tls.key": "<redacted>"}
        assert any(d["kind"] == "Secret" and d["name"] == "db" and d["type"] == "INITIAL" for d in events)
    files = list(out.iterdir())
    assert files
    for path in files:
        data = path.read_bytes()
        for secret in forbidden:
            assert secret not in data, f"{secret!r} leaked into {path.name}"


def test_without_an_audit_log_actors_come_from_managed_fields_and_an_outage_is_recorded_once(tmp_path: Path) -> None:
    out = tmp_path / "journal"
    upstream: dict[str, Any] = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
                                "metadata": {"name": "ext", "namespace": "gloo-system"},
                                "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 1}]}}}
    with sandbox(tmp_path / "sb", "1.3", replicas=1) as info, connect_sandbox(info.state_dir) as conn:
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]  # closed again below: nothing listens there
        conn.replicas.append(Replica("ghost-0.gloo-system", "ghost-0", f"http://127.0.0.1:{port}"))
        # No state_dir: a real cluster's recorder, which has no audit log to read.
        with Recorder(conn, out, poll_seconds=0.05, kinds=["Upstream"]) as recorder:
            conn.kube.apply(upstream)
            managed = {**upstream, "metadata": {**upstream["metadata"], "name": "helm-managed", "managedFields": [
                {"manager": "kubectl", "operation": "Update", "time": "2026-01-01T00:00:00Z"},
                {"manager": "helm", "operation": "Update", "time": "2026-02-01T00:00:00Z"}]}}
            conn.kube.apply(managed)
            time.sleep(1.0)  # some twenty polls
        assert recorder.errors == []
    events = read_journal(out).events
    actors = {e.data["name"]: e.data["actor"] for e in events if e.kind == KUBE_EVENT and e.data["type"] == "ADDED"}
    # Issue 20: the sandbox records managedFields as kube-apiserver does: the Python client's writes are its
    # User-Agent's prefix's (OpenAPI-Generator/<version>/python), the create's entry the newest; the entries a body
    # brings whose fields the write itself sets are left with none, and dropped.
    assert actors["ext"] == {"user": None, "groups": [], "via": "managedFields", "manager": "OpenAPI-Generator"}
    assert actors["helm-managed"] == {"user": None, "groups": [], "via": "managedFields",
                                      "manager": "OpenAPI-Generator"}
    polls = [e.data for e in events if e.kind == REPLICA_POLL]
    ghost = [p for p in polls if p["node"] == "ghost-0.gloo-system"]
    assert ghost == [{"node": "ghost-0.gloo-system", "versions": {}, "rejected": {}, "routeDigest": None,
                      "reachable": False, "proxy": "gateway-proxy"}]
    real = [p for p in polls if p["node"] == "gateway-proxy-0.gloo-system"]
    assert real and all(p["reachable"] for p in real) and real[0]["routeDigest"]
    # Written on change only: far fewer polls than rounds.
    assert len(real) <= 5
