"""One team's garbage is that team's finding, not everyone's outage (issue 12, point 5), on a real sandbox
driven by real kubectl: a 400-deep unknown field, a status of the wrong type, and (in a bundle) an unreadable spec."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until
from sandboxkit import kubectl_for, sandbox

import gloo_nb
from gloo_nb.analysis.incident import incident_summary
from gloo_nb.analysis.timeline import load_timeline
from gloo_nb.app.connect import connect_sandbox
from gloo_nb.app.record import Recorder
from gloo_nb.journal import read_journal
from gloo_nb.models.codec import load_documents
from gloo_nb.translate.check import problems

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

VS = """apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: app, namespace: gloo-system}
spec:
  virtualHost:
    domains: ["*"]
    routes:
    - matchers: [{prefix: /a}]
      delegateAction: {ref: {name: routes, namespace: team-a}}
    - matchers: [{prefix: /b}]
      delegateAction: {ref: {name: deep, namespace: team-b}}
"""


def _rt(name: str, namespace: str, prefix: str) -> dict[str, Any]:
    return {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"routes": [{"matchers": [{"prefix": prefix}], "directResponseAction": {"status": 200}}]}}


def _deep(leaf: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": leaf}
    for _ in range(400):
        value = {"x": value}
    return value


def _recorded_garbage(journal: Path) -> bool:
    if not list(journal.glob("journal-*.jsonl")):
        return False  # the first batch is not written yet
    return any(e.kind == "kube.event" and e.data["object"].get("status") == [1, 2]
               for e in read_journal(journal).events)


@pytest.fixture(scope="module")
def garbage(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("tolerance")
    with sandbox(tmp / "sb", "1.3", replicas=1) as info:
        kube = kubectl_for(info, tmp)
        kube.run("create", "namespace", "team-a")
        kube.run("create", "namespace", "team-b")
        kube.run("apply", "-f", "-", input=json.dumps(_rt("routes", "team-a", "/a")))
        deep = _rt("deep", "team-b", "/b")
        deep["spec"]["deep"] = _deep(1)
        # The sandbox refuses unknown fields by default, as a CRD with a schema does: a team gets past that.
        kube.run("apply", "--validate=false", "-f", "-", input=json.dumps(deep))
        kube.run("apply", "-f", "-", input=VS)
        wait_until(lambda: (kube.json("vs", "app", "-n", "gloo-system").get("status") or {}).get("state") == 1,
                   "the VirtualService is accepted")
        with connect_sandbox(info.state_dir) as conn, Recorder(conn, tmp / "journal", state_dir=info.state_dir,
                                                               poll_seconds=0.2):
            deep["spec"]["deep"] = _deep(2)
            kube.run("apply", "--validate=false", "-f", "-", input=json.dumps(deep))
            # Status is Gloo's to write; a garbage one (from a buggy tool) must not blind anyone.
            kube.run("patch", "rt", "routes", "-n", "team-a", "--subresource=status", "--type=merge",
                     "-p", '{"status": [1, 2]}')
            wait_until(lambda: _recorded_garbage(tmp / "journal"), "the garbage status is recorded")
        yield info, kube, tmp


def test_check_and_inspect_name_the_object_and_read_everything_else(garbage) -> None:
    info, _, _ = garbage
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "check", "--sandbox", str(info.state_dir)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "RouteTable team-b/deep: warning: unknown field spec.deep" in done.stdout
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--sandbox", str(info.state_dir), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert {"resource": "team-b/deep", "field": "spec.deep", "severity": "warning"}.items() <= \
        next(f for f in doc["findings"] if f["resource"] == "team-b/deep").items()
    assert {d["route"]["match"] for d in doc["drift"]} >= {"prefix /a", "prefix /b"}


def test_snapshot_save_keeps_the_bundle_and_reopening_gives_the_same_findings(garbage) -> None:
    info, _, tmp = garbage
    bundle = tmp / "bundle"
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "snapshot", "save", "--sandbox", str(info.state_dir),
                           "--out", str(bundle)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    offline = gloo_nb.open_snapshot(bundle).collect()
    with connect_sandbox(info.state_dir) as conn:
        live = conn.collect()
    assert [f.as_json() for f in offline.findings] == [f.as_json() for f in live.findings]
    assert any(f.origin.name == "deep" and f.field == "spec.deep" for f in offline.findings)

    # A team's RouteTable whose spec cannot be read at all (a CRD without a schema lets that in): the bundle still
    # opens, the table is the team's error, and the delegating VirtualService reports it missing, as Gloo does.
    docs = load_documents((bundle / "resources.yaml").read_text())
    for d in docs:
        if d["kind"] == "RouteTable" and d["metadata"]["name"] == "routes":
            d["spec"]["routes"] = "oops"
    (bundle / "resources.yaml").write_text("".join("---\n" + json.dumps(d) + "\n" for d in docs))
    opened = gloo_nb.open_snapshot(bundle)
    inspection = opened.collect()
    frame = inspection.findings_frame()
    bad = frame[(frame["origin"] == "team-a/routes") & (frame["severity"] == "error")]
    assert list(bad["team"]) == ["team-a"] and list(bad["layer"]) == ["parse"]
    assert "field spec.routes: expected a list, got the string 'oops'" in bad["message"].iloc[0]
    assert any("route table team-a.routes missing" in m for m in frame["message"])
    translation, parsed = opened.intent()
    lines = [p.line() for p in problems(translation, parsed.findings)]
    assert any(line.startswith("RouteTable team-a/routes: error: cannot be read") for line in lines), lines
    assert any(d["route"]["match"] == "prefix /b" for d in inspection.drift), "team-b still inspected"


def test_the_recorder_and_the_timeline_carry_on_past_the_garbage(garbage) -> None:
    _, _, tmp = garbage
    journal = read_journal(tmp / "journal")
    assert journal.losses == []
    timeline = load_timeline(tmp / "journal")
    changed = [c for c in timeline.changes if (c.namespace, c.name) == ("team-b", "deep")]
    assert changed, "the 400-deep change is a change"
    garbage_at = next(e.time for e in journal.events
                      if e.kind == "kube.event" and e.data["object"].get("status") == [1, 2])
    state = timeline.state_at(garbage_at)
    assert any(f.origin.name == "routes" and f.field == "status" and f.severity == "warning" for f in state.findings)
    assert any(r.meta.name == "routes" for r in state.parsed.resources), "a garbage status does not drop the table"
    assert incident_summary(timeline).document()["journal"]["losses"] == []
