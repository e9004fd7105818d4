"""``gloo-nb journal import`` of a real wire-format audit log: the sandbox's, while kubectl 1.32 played the incident.

``tests/data/audit/kubectl-1.32-seed-incident.jsonl`` (``scripts/record_audit_fixture.py``) holds every write of a
fresh Gloo 1.3 sandbox at ``RequestResponse`` level: the admin's ``kubectl apply`` (creates, then client-side apply's
merge and strategic merge patches), the teams' changes through ``kubectl --as``, the ops' ``kubectl patch``, and the
sandbox's own components (kubelet, controllers, Gloo's status writes). The same log at ``Request`` level (responses
dropped: the patches as kubectl sent them must be replayed) gives the same incident; at ``Metadata`` level it can tell
who and when only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gloo_nb.analysis.incident import incident_summary
from gloo_nb.analysis.timeline import load_timeline
from gloo_nb.app.journal_import import import_journal

pytestmark = pytest.mark.unit

LOG = Path(__file__).resolve().parents[1] / "data" / "audit" / "kubectl-1.32-seed-incident.jsonl"


def _at_level(level: str) -> Iterator[dict[str, Any]]:
    for line in LOG.read_text().splitlines():
        event = json.loads(line)
        if level != "RequestResponse":
            event["level"] = level
            event.pop("responseObject", None)
            if level == "Metadata":
                event.pop("requestObject", None)
        yield event


def _import(tmp_path: Path, level: str) -> dict[str, Any]:
    log = tmp_path / f"{level}.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in _at_level(level)))
    summary = import_journal([log], tmp_path / level, gloo_version="1.3")
    doc = incident_summary(load_timeline(tmp_path / level)).document()
    doc["gaps"] = [g.document() for g in summary.gaps]
    return doc


@pytest.mark.parametrize("level", ["RequestResponse", "Request"])
def test_the_seed_incident_from_kubectls_wire_format(tmp_path: Path, level: str) -> None:
    doc = _import(tmp_path, level)
    [incident] = doc["incidents"]
    assert incident["causes"] == ["echo/echo-routes: Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream "
                                  "{echo-typo gloo-system} not found"]
    assert [(c["resource"], c["actor"]) for c in incident["startedBy"]] == [("echo/echo-routes", "echo-dev")]
    assert [(c["resource"], c["actor"]) for c in incident["fix"]] == [("gloo-system/default", "ops")]
    assert incident["detectedOn"] == "VirtualService gloo-system/app"
    [blocked] = doc["blocked"]
    assert (blocked["team"], blocked["blockedBy"], blocked["resource"]) == ("foxtrot", ["echo"],
                                                                           "foxtrot/foxtrot-routes")
    assert blocked["routes"] == ["prefix /foxtrot -> foxtrot_gloo-system {version=v1} 0, "
                                 "foxtrot_gloo-system {version=v2} 100"]
    if level == "Request":
        # kubectl's patches replay to the same objects; what cannot be replayed is said, not guessed. Pods and
        # other objects the kubelet patches with status only may be unknown, never a Gloo resource.
        assert not [g for g in doc["gaps"] if g["kind"] in ("RouteTable", "VirtualService", "Settings", "Upstream",
                                                            "Gateway")], doc["gaps"]


def test_a_metadata_level_log_gives_actors_not_incidents(tmp_path: Path) -> None:
    doc = _import(tmp_path, "Metadata")
    assert doc["incidents"] == [] and doc["blocked"] == []
    actors = {(c["resource"], c["actor"]) for c in doc["changes"]}
    assert {("echo/echo-routes", "echo-dev"), ("foxtrot/foxtrot-routes", "foxtrot-dev"),
            ("gloo-system/default", "ops")} <= actors
    assert doc["unknown"] and any("RouteTable echo/echo-routes" in u["objects"] for u in doc["unknown"])
