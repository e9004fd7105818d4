"""The one reader of Kubernetes audit logs (gloo_nb.models.audit) on lines shaped as kube-apiserver writes them.

The lines are hand-written in the shape of kube-apiserver's JSON log backend: the ``Event`` fields of
``k8s.io/apiserver/pkg/apis/audit/v1/types.go`` in the struct's order, ``responseStatus`` as
``k8s.io/apiserver/pkg/audit/context.go`` ``LogResponseObject`` copies it, and the documented example lines of
the Kubernetes documentation ("Auditing", kubernetes.io/docs/tasks/debug/debug-cluster/audit/): a
``RequestReceived`` then a ``ResponseComplete`` event of one ``auditID``, ``annotations`` with
``authorization.k8s.io/decision`` and ``authorization.k8s.io/reason``.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from gloo_nb.models.audit import (
    SANDBOX_RV_ANNOTATION,
    AuditError,
    AuditRead,
    parse_audit_event,
    read_audit,
    resource_kind,
)

pytestmark = pytest.mark.unit

RT = {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
      "metadata": {"name": "echo-routes", "namespace": "echo", "resourceVersion": "812"},
      "spec": {"routes": [{"matchers": [{"prefix": "/echo"}],
                           "routeAction": {"single": {"upstream": {"name": "echo-typo",
                                                                   "namespace": "gloo-system"}}}}]}}


def event(verb: str = "patch", *, stage: str = "ResponseComplete", level: str = "RequestResponse",
          resource: str = "routetables", group: str = "gateway.solo.io", namespace: str = "echo",
          name: str = "echo-routes", subresource: str = "", code: int = 200, uri: str | None = None,
          user: str = "admin", groups: tuple[str, ...] = ("system:masters", "system:authenticated"),
          impersonated: tuple[str, list[str]] | None = None, request: Any = None, response: Any = None,
          audit_id: str = "0c1f1d5e-4a8b-4b41-9d0e-2b1f6a3c7d01", when: str = "2026-11-28T11:57:49.952601Z",
          annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """One Event, its keys in the order kube-apiserver writes them."""
    base = f"/apis/{group}/v1" if group else "/api/v1"
    path = f"{base}/namespaces/{namespace}/{resource}" + (f"/{name}" if name and verb != "create" else "")
    ev: dict[str, Any] = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level, "auditID": audit_id, "stage": stage,
        "requestURI": uri if uri is not None else path + (f"/{subresource}" if subresource else "")
        + ("?fieldManager=kubectl-client-side-apply&fieldValidation=Strict" if verb == "patch" else ""),
        "verb": verb, "user": {"username": user, "groups": list(groups)}}
    if impersonated is not None:
        ev["impersonatedUser"] = {"username": impersonated[0], "groups": impersonated[1]}
    ev["sourceIPs"] = ["10.0.0.7"]
    ev["userAgent"] = "kubectl/v1.32.2 (linux/amd64) kubernetes/67a30c0"
    ref = {"resource": resource, "namespace": namespace}
    if name:
        ref["name"] = name
    if group:
        ref["apiGroup"] = group
    ref["apiVersion"] = "v1"
    if subresource:
        ref["subresource"] = subresource
    ev["objectRef"] = ref
    if stage != "RequestReceived":
        status: dict[str, Any] = {"metadata": {}, "code": code}
        if code >= 300:
            status = {"metadata": {}, "status": "Failure", "message": "refused", "reason": "Forbidden", "code": code}
        ev["responseStatus"] = status
    if request is not None and level != "Metadata":
        ev["requestObject"] = request
    if response is not None and level == "RequestResponse" and stage != "RequestReceived":
        ev["responseObject"] = response
    ev["requestReceivedTimestamp"] = "2026-11-28T11:57:49.950012Z"
    ev["stageTimestamp"] = when
    ev["annotations"] = annotations if annotations is not None else {
        "authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""}
    return ev


def write(path: Path, events: list[dict[str, Any] | str], *, gz: bool = False) -> Path:
    text = "".join((e if isinstance(e, str) else json.dumps(e, separators=(",", ":"))) + "\n" for e in events)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


PATCH = {"spec": {"routes": [{"routeAction": {"single": {"upstream": {"name": "echo-typo"}}}}]}}


@pytest.mark.parametrize("level", ["Metadata", "Request", "RequestResponse"])
def test_each_level_gives_the_write_with_what_that_level_holds(level: str) -> None:
    ev = parse_audit_event(event(level=level, request=PATCH, response=RT), where="a.log:1")
    assert ev is not None
    assert (ev.verb, ev.kind, ev.namespace, ev.name, ev.api_group, ev.api_version) == (
        "patch", "RouteTable", "echo", "echo-routes", "gateway.solo.io", "v1")
    assert ev.time == datetime(2026, 11, 28, 11, 57, 49, 952601, tzinfo=UTC)
    assert ev.received == datetime(2026, 11, 28, 11, 57, 49, 950012, tzinfo=UTC)
    assert ev.level == level and ev.code == 200 and ev.ok and not ev.dry_run
    assert ev.user_agent.startswith("kubectl/v1.32") and ev.field_manager == "kubectl-client-side-apply"
    assert ev.request_object == (None if level == "Metadata" else PATCH)
    assert ev.response_object == (RT if level == "RequestResponse" else None)
    # What a write stored is known from the response only (Kubernetes' objectRef has the request's version).
    assert ev.written_versions == (("812",) if level == "RequestResponse" else ())
    assert ev.source == "a.log:1" and ev.annotations["authorization.k8s.io/decision"] == "allow"


def test_the_sandbox_annotation_tells_the_stored_version_at_every_level() -> None:
    ev = parse_audit_event(event(level="Metadata", annotations={SANDBOX_RV_ANNOTATION: "812"}))
    assert ev is not None and ev.written_versions == ("812",)
    many = parse_audit_event(event("deletecollection", name="", annotations={SANDBOX_RV_ANNOTATION: "9,10"}))
    assert many is not None and many.written_versions == ("9", "10")


def test_stages_and_reads_that_are_not_writes_are_not_events() -> None:
    assert parse_audit_event(event(stage="RequestReceived")) is None
    assert parse_audit_event(event("get")) is None and parse_audit_event(event("watch")) is None
    assert parse_audit_event(event(resource="leases", group="coordination.k8s.io")) is None  # not read here
    assert resource_kind("gateway.solo.io", "routetables") == "RouteTable" and resource_kind("", "pods") == "Pod"


def test_request_received_and_response_complete_of_one_request_count_once(tmp_path: Path) -> None:
    log = write(tmp_path / "audit.log", [event(stage="RequestReceived", request=PATCH), event(request=PATCH)])
    report = AuditRead()
    events = list(read_audit(log, report=report))
    assert len(events) == 1 and report.events == 1 and report.other_stages == 1 and report.lines == 2


def test_refused_and_dry_run_writes_are_counted_not_returned(tmp_path: Path) -> None:
    forbidden = event(impersonated=("echo-dev", ["team-echo"]), code=403,
                      annotations={"authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": ""})
    conflict = event("update", code=409)
    invalid = event("create", code=422, name="")
    dry = event(uri="/apis/gateway.solo.io/v1/namespaces/echo/routetables/echo-routes?dryRun=All"
                    "&fieldManager=kubectl-client-side-apply")
    log = write(tmp_path / "audit.log", [forbidden, conflict, invalid, dry, event(request=PATCH)])
    report = AuditRead()
    (ok,) = read_audit(log, report=report)
    assert ok.ok and report.refused == 3 and report.dry_runs == 1 and report.events == 1
    refused = parse_audit_event(forbidden)
    assert refused is not None and not refused.ok and refused.code == 403 and refused.actor == "echo-dev"
    done = parse_audit_event(dry)
    assert done is not None and done.dry_run


def test_gzip_files_read_like_plain_ones(tmp_path: Path) -> None:
    log = write(tmp_path / "audit.log.gz", [event(request=PATCH), event("delete", response=RT)], gz=True)
    assert [e.verb for e in read_audit(log)] == ["patch", "delete"]


def test_deletecollection_is_reported_apart_since_it_names_no_object(tmp_path: Path) -> None:
    log = write(tmp_path / "audit.log", [event("deletecollection", name="", resource="pods", group="",
                                               uri="/api/v1/namespaces/echo/pods?labelSelector=app%3Decho")])
    report = AuditRead()
    assert list(read_audit(log, report=report)) == []
    (collection,) = report.collections
    assert (collection.kind, collection.namespace, collection.name) == ("Pod", "echo", "")


def test_a_generate_name_create_is_named_from_the_response_else_the_request() -> None:
    created = {**RT, "metadata": {"generateName": "echo-", "name": "echo-x7k2p", "namespace": "echo"}}
    ev = parse_audit_event(event("create", name="", request={"metadata": {"generateName": "echo-"}},
                                 response=created))
    assert ev is not None and ev.name == "echo-x7k2p"
    unknown = parse_audit_event(event("create", name="", level="Metadata"))
    assert unknown is not None and unknown.name == ""  # said, not guessed


def test_impersonation_acts_as_the_impersonated_user() -> None:
    ev = parse_audit_event(event(impersonated=("echo-dev", ["team-echo", "system:authenticated"])))
    assert ev is not None and ev.actor == "echo-dev" and ev.user == "admin"
    assert ev.impersonated_groups == ("team-echo", "system:authenticated")
    assert ev.groups == ("system:masters", "system:authenticated")
    plain = parse_audit_event(event())
    assert plain is not None and plain.actor == "admin" and plain.impersonated_user is None


def test_status_subresource_writes_say_so() -> None:
    ev = parse_audit_event(event("update", subresource="status", user="system:serviceaccount:gloo-system:gloo"))
    assert ev is not None and ev.subresource == "status" and ev.actor == "system:serviceaccount:gloo-system:gloo"


@pytest.mark.parametrize(("first", "says"), [
    ('{"schema": 1, "kind": "recorder.start", "time": "2026-11-28T11:00:00Z", "data": {}}', "not an audit event"),
    ('[2026-11-28T11:57:49.952Z] "GET /echo HTTP/1.1" 200 - 0 5 1 1 "-" "curl/8.5.0" "-" "127.0.0.1:8080" "x"',
     "not a JSON line"),
    ('{"kind":"Event","apiVersion":"v1","involvedObject":{"kind":"Pod"},"reason":"Started"}',
     "not an audit event"),
])
def test_a_wrong_file_is_refused_with_one_line_naming_it(tmp_path: Path, first: str, says: str) -> None:
    log = write(tmp_path / "wrong.jsonl", [first, json.dumps(event())])
    with pytest.raises(AuditError) as err:
        list(read_audit(log))
    message = str(err.value)
    assert message.startswith(f"{log}:1: ") and says in message and "\n" not in message
    assert "audit.k8s.io/v1" in message or "kube-apiserver" in message


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match=r"missing\.log: cannot read the audit log"):
        list(read_audit(tmp_path / "missing.log"))


def test_a_truncated_last_line_is_reported_not_fatal(tmp_path: Path) -> None:
    whole = json.dumps(event(request=PATCH), separators=(",", ":"))
    log = tmp_path / "audit.log"
    log.write_text(whole + "\n" + whole[: len(whole) // 2])  # the writer was killed mid-line
    report = AuditRead()
    assert len(list(read_audit(log, report=report))) == 1
    assert report.unreadable_count == 1 and report.unreadable[0].startswith(f"{log}:2: truncated last line")


def test_a_bad_event_in_the_middle_names_its_line_and_field() -> None:
    broken = event()
    del broken["stageTimestamp"], broken["requestReceivedTimestamp"]
    with pytest.raises(AuditError, match=r"^x\.log:7: a timestamp is missing"):
        parse_audit_event(broken, where="x.log:7")
    no_ref = event()
    del no_ref["objectRef"]
    with pytest.raises(AuditError, match=r"^x\.log:8: a patch event without objectRef"):
        parse_audit_event(no_ref, where="x.log:8")


KUBECTL_LOG = Path(__file__).resolve().parents[1] / "data" / "audit" / "kubectl-1.32-seed-incident.jsonl"
SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary" / "part2"


def test_the_log_recorded_while_kubectl_played_the_seed_incident_reads_whole() -> None:
    # scripts/record_audit_fixture.py wrote it: the sandbox's own audit.jsonl, real kubectl 1.32 on the wire.
    report = AuditRead()
    events = list(read_audit(KUBECTL_LOG, report=report))
    assert report.unreadable == [] and report.refused == 0 and report.lines == len(KUBECTL_LOG.read_text().splitlines())
    # Every write says what it stored, and at RequestResponse level the response agrees.
    for e in events:
        assert e.level in ("RequestResponse", "Metadata") and e.annotations[SANDBOX_RV_ANNOTATION].isdigit()
        if e.level == "RequestResponse":
            assert e.response_object["metadata"]["resourceVersion"] == e.annotations[SANDBOX_RV_ANNOTATION]
    teams = [e for e in events if e.impersonated_user is not None]
    assert [(e.actor, e.verb, e.kind, e.namespace, e.name) for e in teams] == [
        ("echo-dev", "patch", "RouteTable", "echo", "echo-routes"),        # the typo
        ("foxtrot-dev", "patch", "RouteTable", "foxtrot", "foxtrot-routes"),  # the blocked weight change
        ("ops", "patch", "Settings", "gloo-system", "default"),            # the fix
        ("echo-dev", "patch", "RouteTable", "echo", "echo-routes"),        # the revert
    ]
    assert all(e.user == "admin" and e.user_agent.startswith("kubectl/v1.32") for e in teams)
    typo, fox, fix, revert = teams
    # kubectl's client-side apply of a custom resource: a JSON merge patch, kept as sent.
    assert "echo-typo" in json.dumps(typo.request_object["spec"])
    assert typo.response_object["spec"]["routes"][0]["routeAction"]["single"]["upstream"]["name"] == "echo-typo"
    assert "echo-typo" not in json.dumps(revert.response_object["spec"])
    weights = [d["weight"] for d in fox.response_object["spec"]["routes"][1]["routeAction"]["multi"]["destinations"]]
    assert weights == [0, 100]
    assert fix.request_object == yaml.safe_load((SEED / "settings-patch.yaml").read_text())
    assert fix.impersonated_groups == ("platform-ops", "system:authenticated")
    # The sandbox's own components wrote too, as the requests they stand for.
    agents = {e.user_agent for e in events if e.impersonated_user is None}
    assert {"gloo-nb-sandbox/gloo", "gloo-nb-sandbox/kubelet"} <= agents


def test_a_gz_file_cut_short_keeps_what_came_before(tmp_path: Path) -> None:
    whole = write(tmp_path / "whole.log.gz", [event(request=PATCH, audit_id=f"id-{i}") for i in range(200)], gz=True)
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) * 2 // 3])  # copied while it was written
    report = AuditRead()
    events = list(read_audit(cut, report=report))
    assert 0 < len(events) < 200 and report.unreadable_count >= 1
    assert any(line.startswith(f"{cut}:end: the file ends early") for line in report.unreadable)


def test_query_parameters_read_as_urllib_does() -> None:
    ev = parse_audit_event(event(uri="/api/v1/namespaces/echo/pods?labelSelector=app%3Decho+x&dryRun=All&empty="))
    assert ev is not None and ev.dry_run
    assert ev.query == {"labelSelector": ["app=echo x"], "dryRun": ["All"]}
