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


def _last_objects() -> list[dict[str, Any]]:
    """Every object as the log last stored it (what ``kubectl get -o yaml`` would dump after the window)."""
    last: dict[tuple[str, str, str], dict[str, Any] | None] = {}
    for event in _at_level("RequestResponse"):
        ref = event["objectRef"]
        key = (ref["resource"], ref.get("namespace", ""), ref.get("name", ""))
        body = event.get("responseObject")
        if event["verb"] == "delete":
            last[key] = None
        elif isinstance(body, dict) and body.get("kind") not in (None, "Status"):
            last[key] = body
    return [o for o in last.values() if o is not None]


def test_a_state_taken_after_the_window_gives_what_a_metadata_log_cannot(tmp_path: Path) -> None:
    log = tmp_path / "metadata.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in _at_level("Metadata")))
    dump = tmp_path / "after.json"
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": _last_objects()}))
    summary = import_journal([log], tmp_path / "j", start_state=dump, gloo_version="1.3")
    assert summary.state_taken == "after"  # its resourceVersions are the log's newest
    timeline = load_timeline(tmp_path / "j")
    end = timeline.state_at(timeline.end)
    # After each object's last write its content is the state's: the end is known, and clean (the revert).
    assert end.unknown == {} and not [f for f in end.translation.findings if f.severity == "error"]
    assert end.translation.push.decision == "push"
    # Before, what only the Metadata-level log covers stays unknown: no incident is made up.
    assert incident_summary(timeline).document()["incidents"] == []


def test_a_bundle_taken_before_the_window(tmp_path: Path) -> None:
    events = list(_at_level("RequestResponse"))
    cut = next(i for i, e in enumerate(events) if e["objectRef"]["resource"] == "routetables")
    before = [e["responseObject"] for e in events[:cut] if isinstance(e.get("responseObject"), dict)
              and e["verb"] == "create" and e["responseObject"].get("kind") not in (None, "Status")]
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "bundle.json").write_text(json.dumps({"glooVersion": "1.3", "time": events[cut - 1]["stageTimestamp"],
                                                    "namespace": "gloo-system"}))
    (bundle / "resources.yaml").write_text("".join(f"---\n{json.dumps(o)}\n" for o in before))
    log = tmp_path / "window.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in events[cut:]))
    summary = import_journal([log], tmp_path / "j", start_state=bundle)
    assert (summary.state_taken, summary.profile, summary.profile_source) == ("before", "1.3", "the bundle")
    doc = incident_summary(load_timeline(tmp_path / "j")).document()
    [incident] = doc["incidents"]
    assert [(c["resource"], c["actor"]) for c in incident["fix"]] == [("gloo-system/default", "ops")]


def test_a_request_body_without_namespace_takes_the_urls(tmp_path: Path) -> None:
    """``kubectl apply -n echo`` of a manifest without ``metadata.namespace``: the body has none, the URL has it."""
    events = list(_at_level("Request"))
    for event in events:
        body = event.get("requestObject")
        if event["objectRef"]["resource"] == "routetables" and isinstance(body, dict) and "metadata" in body \
                and event["verb"] == "create":
            body["metadata"].pop("namespace", None)
    log = tmp_path / "no-namespace.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in events))
    import_journal([log], tmp_path / "j", gloo_version="1.3")
    doc = incident_summary(load_timeline(tmp_path / "j")).document()
    [blocked] = doc["blocked"]
    assert (blocked["team"], blocked["resource"], blocked["blockedBy"]) == ("foxtrot", "foxtrot/foxtrot-routes",
                                                                           ["echo"])
