"""The issue's proof: the seed incident played on a Gloo 1.3 sandbox, and the import of what a cluster keeps anyway.

One play (``scripts/record_seed_incident.py --logs``) gives both sides: the recorder's journal (the reference) and, as
if nobody had recorded, the sandbox's audit log (``audit.k8s.io/v1``) and each Envoy replica's access log (the
Gateway's ``accessLoggingService`` file sink). ``gloo-nb journal import`` of the logs alone must tell the same
incident: cause, team, fix and actors; the blocked interval within the access logs' resolution.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from gloo_nb.analysis.incident import incident_summary
from gloo_nb.analysis.timeline import load_timeline
from gloo_nb.journal import parse_time

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

REPO = Path(__file__).resolve().parents[2]
FOXTROT = "foxtrot/foxtrot-routes"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("record_seed_incident_logs", REPO / "scripts" /
                                                  "record_seed_incident.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_import_of_the_audit_and_access_logs_tells_the_recorders_incident(tmp_path: Path) -> None:
    done = _script().record_seed_incident(tmp_path / "recorded", state_dir=tmp_path / "sb", pods=False,
                                          logs=tmp_path / "logs")
    assert done.recorder_errors == []
    logs = tmp_path / "logs"
    access = sorted((logs / "access").glob("*.log"))
    assert [p.name for p in access] == ["gateway-proxy-0.gloo-system.log", "gateway-proxy-1.gloo-system.log"]
    # The CLI, as a user runs it: the audit log of the sandbox's whole life needs no start state.
    run = subprocess.run([sys.executable, "-m", "gloo_nb", "journal", "import", "--audit", str(logs / "audit.jsonl"),
                          "--access-log", *map(str, access), "--gloo-version", "1.3", "--out",
                          str(tmp_path / "imported"), "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    imported_doc = json.loads(run.stdout)
    # Issue 20: the install's certgen Secret is the one gap: Secrets are audited at Metadata whatever the level, so
    # its content is unknown (as on a cluster whose Gloo has validation on).
    assert [(g["kind"], g["name"]) for g in imported_doc["gaps"]] == [("Secret", "gateway-validation-certs")]
    assert imported_doc["levels"] == {"RequestResponse": imported_doc["writes"] - 1, "Metadata": 1}
    assert all(v["unparsed"] == 0 and v["records"] > 100 for v in imported_doc["accessLogs"].values())

    recorded = incident_summary(load_timeline(tmp_path / "recorded")).document()
    imported = incident_summary(load_timeline(tmp_path / "imported")).document()
    [rec], [imp] = recorded["incidents"], imported["incidents"]
    assert imp["causes"] == rec["causes"]
    for side in ("startedBy", "fix"):
        assert [(c["resource"], c["kind"], c["actor"]) for c in imp[side]] == \
            [(c["resource"], c["kind"], c["actor"]) for c in rec[side]]
    assert [i["team"] for i in imp["impact"]] == [i["team"] for i in rec["impact"]] == ["foxtrot"]
    assert imp["detectedOn"] == rec["detectedOn"]
    # The audit log's time of a write and the recorder's watch event are the same write, milliseconds apart.
    assert abs((parse_time(imp["start"]) - parse_time(rec["start"])).total_seconds()) < 0.1
    [rb] = [b for b in recorded["blocked"] if b["team"] == "foxtrot"]
    [ib] = [b for b in imported["blocked"] if b["team"] == "foxtrot"]
    assert ib["blockedBy"] == rb["blockedBy"] == ["echo"] and ib["routes"] == rb["routes"]
    assert abs((parse_time(ib["start"]) - parse_time(rb["start"])).total_seconds()) < 0.1
    # Without a recorder the block ends when the fix makes Gloo push (the translation); the recorder saw the push.
    assert abs(ib["seconds"] - rb["seconds"]) < 0.25
    # The access logs show foxtrot's change once Gloo pushed it: after the recorder saw it served, and no later than
    # the traffic's interval (50 ms) after a replica applied it (the replicas are polled every 0.25 s).
    [rc] = [c for c in recorded["changes"] if c["resource"] == FOXTROT and c["actor"] == "foxtrot-dev"]
    [ic] = [c for c in imported["changes"] if c["resource"] == FOXTROT and c["actor"] == "foxtrot-dev"]
    assert ic["servedAfterSeconds"] is None and ic["seenAfterSeconds"] is not None
    assert rc["servedAfterSeconds"] - 0.1 <= ic["seenAfterSeconds"] <= rc["appliedAfterSeconds"] + 0.3
    assert set(ic["seenBy"]) == {"gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"}
