"""The sandbox's audit log as real kubectl 1.32 drives it: ``audit.k8s.io/v1`` Events, one per mutating request.

Each line is checked against what kubectl sent (its ``-v=9`` log prints every request body) and what the API
answered: the verb, the request URI as sent, the user and impersonated user, the user agent, the objectRef, the
response status, the request object (the patch itself for a patch), the response object (the object stored), the
level the policy gives it, and the sandbox's resource-version annotation.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sandboxkit import in_process_api

from gloo_nb.models.audit import SANDBOX_RV_ANNOTATION
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

SCENARIO = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary"
KUBECTL = shutil.which("kubectl") or "kubectl"
# klog's two ways of printing a value: a Go-quoted string, or (a value with newlines) "<", tab-indented lines, " >".
_BODY = re.compile(r'"Request Body" body=(?:("(?:[^"\\]|\\.)*")|<\n((?:\t.*\n)*) >)')


@dataclass
class Run:
    """One kubectl call: its result and the request bodies it sent (from ``-v=9``)."""

    proc: subprocess.CompletedProcess[str]
    bodies: list[Any]


@dataclass
class Cluster:
    store: Store
    home: Path
    kubeconfig: Path
    state: Path

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> Run:
        proc = subprocess.run([KUBECTL, "-v=9", *args], input=stdin, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "HOME": str(self.home), "KUBECONFIG": str(self.kubeconfig)})
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        bodies = []
        for quoted, block in _BODY.findall(proc.stderr):
            # A Go-quoted string has JSON's escapes.
            text = json.loads(quoted) if quoted else "\n".join(line[1:] for line in block.splitlines())
            if text:
                bodies.append(yaml.safe_load(text))  # JSON, or the YAML of server-side apply
        return Run(proc, bodies)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (self.state / "audit.jsonl").read_text().splitlines()]


@pytest.fixture(params=["RequestResponse"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    store = Store(tmp_path / "state", namespace_grace=0.3, audit_level=request.param)
    try:
        with in_process_api(store, tmp_path) as api:
            home = tmp_path / "home"
            home.mkdir()
            yield Cluster(store, home, api.kubeconfig, tmp_path / "state")
    finally:
        store.close()


def seed(c: Cluster) -> None:
    c.kubectl("create", "namespace", "gloo-system")
    c.kubectl("create", "namespace", "echo")
    c.kubectl("create", "namespace", "foxtrot")
    c.kubectl("apply", "-f", str(SCENARIO / "rbac.yaml"))


def since(c: Cluster, mark: int) -> list[dict[str, Any]]:
    return c.lines()[mark:]


def check_common(e: dict[str, Any]) -> None:
    """What every line holds, in the order kube-apiserver's JSON backend writes the Event struct."""
    # k8s.io/apiserver/pkg/apis/audit/v1/types.go Event, field by field; the optional ones where they belong.
    order = ["kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user", "impersonatedUser",
             "sourceIPs", "userAgent", "objectRef", "responseStatus", "requestObject", "responseObject",
             "requestReceivedTimestamp", "stageTimestamp", "annotations"]
    assert list(e) == [k for k in order if k in e]
    assert set(order) - set(e) <= {"impersonatedUser", "requestObject", "responseObject"}
    assert (e["kind"], e["apiVersion"], e["stage"]) == ("Event", "audit.k8s.io/v1", "ResponseComplete")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", e["auditID"])
    assert e["userAgent"].startswith("kubectl/v1.32"), e["userAgent"]
    assert e["sourceIPs"] == ["127.0.0.1"] and e["user"]["username"] == "admin"
    for stamp in ("requestReceivedTimestamp", "stageTimestamp"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", e[stamp]), e[stamp]
    assert e["requestReceivedTimestamp"] <= e["stageTimestamp"]
    assert e["annotations"]["authorization.k8s.io/decision"] in ("allow", "forbid")
    assert list(e["annotations"]) == sorted(e["annotations"])  # a Go map: keys sorted


def only(lines: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(lines) == 1, [(e["verb"], e["requestURI"]) for e in lines]
    check_common(lines[0])
    return lines[0]


def stored(c: Cluster, e: dict[str, Any]) -> None:
    """The line's responseObject is the object as stored, and the annotation its resourceVersion."""
    ref = e["objectRef"]
    kind = {"services": "service", "routetables": "routetables.gateway.solo.io",
            "settings": "settings.gloo.solo.io"}[ref["resource"]]
    # kubectl prints managedFields only when asked (issue 20: the sandbox records them).
    now = json.loads(c.kubectl("get", kind, ref["name"], "-n", ref["namespace"], "-o", "json",
                               "--show-managed-fields").proc.stdout)
    assert e["responseObject"] == now
    assert e["annotations"][SANDBOX_RV_ANNOTATION] == now["metadata"]["resourceVersion"]


SERVICE = """apiVersion: v1
kind: Service
metadata: {name: echo, namespace: echo, labels: {app: echo}}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 8080, targetPort: 8080}]
"""


def test_kubectl_writes_are_audited_as_kube_apiserver_does(cluster: Cluster) -> None:
    c = cluster
    seed(c)

    # kubectl apply: a create, then a strategic merge patch for a Service (kubectl 1.32's client-side apply).
    mark = len(c.lines())
    run = c.kubectl("apply", "-f", "-", stdin=SERVICE)
    create = only(since(c, mark))
    assert create["verb"] == "create" and create["responseStatus"] == {"metadata": {}, "code": 201}
    assert create["requestURI"] == ("/api/v1/namespaces/echo/services?fieldManager=kubectl-client-side-apply"
                                    "&fieldValidation=Strict")
    assert create["objectRef"] == {"resource": "services", "namespace": "echo", "name": "echo", "apiVersion": "v1"}
    assert create["requestObject"] == run.bodies[-1]
    stored(c, create)
    mark = len(c.lines())
    run = c.kubectl("apply", "-f", "-",
                    stdin=SERVICE.replace("labels: {app: echo}", "labels: {app: echo, tier: web}"))
    smp = only(since(c, mark))
    assert smp["verb"] == "patch" and smp["responseStatus"]["code"] == 200
    assert smp["requestObject"] == run.bodies[-1]  # the patch kubectl sent, not the object
    assert smp["requestObject"]["metadata"]["labels"] == {"tier": "web"}
    stored(c, smp)

    # kubectl apply of a Gloo RouteTable (a custom resource): create, then a JSON merge patch, as the team.
    team = ("--as", "echo-dev", "--as-group", "team-echo")
    c.kubectl("apply", "-f", str(SCENARIO / "part2/rt-echo-1.yaml"), *team)
    mark = len(c.lines())
    run = c.kubectl("apply", "-f", str(SCENARIO / "part2/rt-echo-2.yaml"), *team)
    merge = only(since(c, mark))
    assert merge["verb"] == "patch" and merge["requestObject"] == run.bodies[-1]
    assert merge["objectRef"] == {"resource": "routetables", "namespace": "echo", "name": "echo-routes",
                                  "apiGroup": "gateway.solo.io", "apiVersion": "v1"}
    # Impersonation: the user is who authenticated, impersonatedUser whom the request acted as.
    assert merge["user"] == {"username": "admin", "groups": ["system:masters", "system:authenticated"]}
    assert merge["impersonatedUser"] == {"username": "echo-dev", "groups": ["team-echo", "system:authenticated"]}
    # The authorizer's reason, as kube-apiserver's RBAC authorizer words it (system:masters: empty).
    assert merge["annotations"]["authorization.k8s.io/reason"] == (
        'RBAC: allowed by RoleBinding "team-echo/echo" of ClusterRole "service-team" to Group "team-echo"')
    assert create["annotations"]["authorization.k8s.io/reason"] == ""
    stored(c, merge)

    # kubectl patch --type json and --type merge: the patch as sent.
    mark = len(c.lines())
    ops = '[{"op": "replace", "path": "/spec/ports/0/port", "value": 9090}]'
    run = c.kubectl("patch", "service", "echo", "-n", "echo", "--type", "json", "-p", ops)
    jp = only(since(c, mark))
    assert jp["requestObject"] == json.loads(ops) == run.bodies[-1]
    stored(c, jp)
    mark = len(c.lines())
    run = c.kubectl("patch", "routetables.gateway.solo.io", "echo-routes", "-n", "echo", "--type", "merge", "-p",
                    '{"metadata": {"labels": {"team": "echo"}}}', *team)
    mp = only(since(c, mark))
    assert mp["requestObject"] == {"metadata": {"labels": {"team": "echo"}}} == run.bodies[-1]
    stored(c, mp)
    mark = len(c.lines())
    c.kubectl("delete", "service", "nope", "-n", "echo", check=False)
    missing = only(since(c, mark))  # 404, answered and audited (kubectl patch would GET first and send nothing)
    assert missing["responseStatus"]["code"] == 404 and missing["responseStatus"]["reason"] == "NotFound"
    assert missing["responseObject"]["kind"] == "Status" and SANDBOX_RV_ANNOTATION not in missing["annotations"]

    # kubectl apply --server-side: verb patch, the apply configuration (sent as YAML) as JSON.
    mark = len(c.lines())
    run = c.kubectl("apply", "--server-side", "-f", str(SCENARIO / "part2/upstream-echo.yaml"))
    ssa = only(since(c, mark))
    assert ssa["verb"] == "patch" and ssa["responseStatus"]["code"] == 201  # created by apply
    assert "fieldManager=kubectl" in ssa["requestURI"] and ssa["requestObject"] == run.bodies[-1]
    assert ssa["requestObject"]["kind"] == "Upstream"

    # A dry run: audited with the dryRun in the URI, nothing stored.
    mark = len(c.lines())
    rv = c.store.resource_version
    c.kubectl("apply", "--dry-run=server", "-f", "-", stdin=SERVICE.replace("8080}", "8081}"))
    dry = only(since(c, mark))
    assert "dryRun=All" in dry["requestURI"] and dry["responseStatus"]["code"] == 200
    assert SANDBOX_RV_ANNOTATION not in dry["annotations"] and c.store.resource_version == rv

    # A write RBAC refuses: 403 with the Status as answered, the decision forbid.
    mark = len(c.lines())
    refused = c.kubectl("apply", "-f", str(SCENARIO / "part2/rt-foxtrot-1.yaml"), *team, check=False)
    assert refused.proc.returncode != 0
    forbid = only(since(c, mark))
    assert forbid["verb"] == "create" and forbid["annotations"]["authorization.k8s.io/decision"] == "forbid"
    status = forbid["responseStatus"]
    assert status["code"] == 403 and status["reason"] == "Forbidden" and status["status"] == "Failure"
    assert 'User "echo-dev" cannot create resource "routetables"' in status["message"]
    assert forbid["impersonatedUser"]["username"] == "echo-dev"

    # A conflict: create what exists (409 AlreadyExists).
    mark = len(c.lines())
    c.kubectl("create", "-f", "-", stdin=SERVICE, check=False)
    exists = only(since(c, mark))
    assert exists["responseStatus"]["code"] == 409 and exists["responseStatus"]["reason"] == "AlreadyExists"

    # Invalid: 422 with the Status (its field causes) as answered.
    mark = len(c.lines())
    bad = SERVICE.replace("name: echo,", "name: bad,").replace("port: 8080", "port: 99999")
    c.kubectl("create", "-f", "-", stdin=bad, check=False)
    invalid = only(since(c, mark))
    assert invalid["responseStatus"]["code"] == 422 and invalid["responseStatus"]["reason"] == "Invalid"
    assert invalid["objectRef"]["name"] == "bad" and invalid["responseStatus"]["details"]["causes"]

    # A status write through the API: the subresource in the objectRef and the URI.
    mark = len(c.lines())
    run = c.kubectl("patch", "routetables.gateway.solo.io", "echo-routes", "-n", "echo", "--subresource=status",
                    "--type", "merge", "-p", '{"status": {"statuses": {"gloo-system": {"state": "Accepted"}}}}')
    status_write = only(since(c, mark))
    assert status_write["objectRef"]["subresource"] == "status" and "/echo-routes/status?" in status_write["requestURI"]
    assert status_write["requestObject"] == run.bodies[-1]
    stored(c, status_write)

    # A Secret: always Metadata, whatever the default level; its content never reaches the log.
    mark = len(c.lines())
    c.kubectl("create", "secret", "generic", "token", "-n", "echo", "--from-literal=password=hunter2")
    secret = only(since(c, mark))
    assert secret["level"] == "Metadata" and "requestObject" not in secret and "responseObject" not in secret
    assert secret["objectRef"]["name"] == "token" and "hunter2" not in json.dumps(secret)
    assert "aHVudGVyMg" not in (c.state / "audit.jsonl").read_text()  # base64 of it, anywhere in the log

    # kubectl delete: the DeleteOptions kubectl sent, and what the API returned.
    mark = len(c.lines())
    run = c.kubectl("delete", "service", "echo", "-n", "echo")
    delete = only(since(c, mark))
    assert delete["verb"] == "delete" and delete["requestObject"] == run.bodies[-1]
    assert "propagationPolicy" in delete["requestObject"]  # kubectl sends DeleteOptions
    assert delete["responseObject"]["metadata"]["name"] == "echo"
    assert delete["annotations"][SANDBOX_RV_ANNOTATION] == c.store.resource_version

    # The default level everywhere else; reads are never written.
    assert {e["level"] for e in c.lines() if e["objectRef"]["resource"] != "secrets"} == {"RequestResponse"}
    assert {e["verb"] for e in c.lines()} <= {"create", "update", "patch", "delete", "deletecollection"}
    policy = yaml.safe_load((c.state / "audit-policy.yaml").read_text())
    assert (policy["apiVersion"], policy["kind"], policy["omitStages"]) == (
        "audit.k8s.io/v1", "Policy", ["RequestReceived"])


@pytest.mark.parametrize("cluster", ["Metadata", "Request"], indirect=True)
def test_the_level_decides_what_content_is_kept(cluster: Cluster) -> None:
    c = cluster
    seed(c)
    c.kubectl("apply", "-f", "-", stdin=SERVICE)
    mark = len(c.lines())
    run = c.kubectl("patch", "service", "echo", "-n", "echo", "--type", "merge", "-p", '{"spec":{"ports":null}}',
                    check=False)
    c.kubectl("label", "service", "echo", "-n", "echo", "tier=web")
    level = c.store.audit_policy.level
    for e in since(c, mark):
        check_common(e)
        assert e["level"] == level and "responseObject" not in e
        assert ("requestObject" in e) == (level == "Request")
        if e["responseStatus"]["code"] == 200:
            # Matched to the watch event by the version it stored, even without a response.
            assert e["annotations"][SANDBOX_RV_ANNOTATION].isdigit()
    if level == "Request":
        assert since(c, mark)[0]["requestObject"] == run.bodies[-1]


@pytest.mark.parametrize("cluster", ["Metadata"], indirect=True)
def test_the_recorder_matches_metadata_lines_by_the_version_written(cluster: Cluster) -> None:
    # The recorder reads the sandbox's log to name each watch event's writer: at Metadata level there is no
    # response to read the version from, nor a name for a generateName create or a deletecollection.
    from gloo_nb.app.record import _AuditLog

    c = cluster
    seed(c)
    c.kubectl("create", "-f", "-", "--as", "echo-dev", "--as-group", "team-echo",
              stdin="apiVersion: v1\nkind: Service\nmetadata: {generateName: web-, namespace: echo}\n"
                    "spec: {ports: [{port: 80}]}\n")
    c.kubectl("apply", "-f", "-", stdin=SERVICE)
    services = json.loads(c.kubectl("get", "services", "-n", "echo", "-o", "json").proc.stdout)["items"]
    versions = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in services}
    generated = next(name for name in versions if name.startswith("web-"))
    creates = [e for e in c.lines() if e["objectRef"]["resource"] == "services"]
    assert "name" not in creates[0]["objectRef"]  # a generateName create names nothing at request time
    # deletecollection (kubectl deletes one by one: the API's own collection delete, as a controller sends it)
    mark = len(c.lines())
    run = c.kubectl("delete", "--raw", "/api/v1/namespaces/echo/services")
    assert run.proc.returncode == 0
    (collection,) = since(c, mark)
    check_common(collection)
    assert collection["verb"] == "deletecollection" and "name" not in collection["objectRef"]
    gone = collection["annotations"][SANDBOX_RV_ANNOTATION].split(",")
    assert len(gone) == 2 and all(int(v) > max(int(v) for v in versions.values()) for v in gone)

    log = _AuditLog(c.state / "audit.jsonl", ["Service"])
    try:
        web = log.find("Service", "echo", generated, versions[generated])
        assert web is not None and web["user"] == "echo-dev" and web["impersonatedBy"] == "admin"
        assert web["groups"] == ["team-echo", "system:authenticated"] and web["userAgent"].startswith("kubectl/v1.32")
        echo = log.find("Service", "echo", "echo", versions["echo"])
        assert echo is not None and echo["user"] == "admin" and echo["impersonatedBy"] is None
        for name, rv in zip(sorted(versions), gone, strict=True):  # each DELETED watch event's version
            deleted = log.find("Service", "echo", name, rv)
            assert deleted is not None and deleted["user"] == "admin"
        assert log.find("Service", "echo", "echo", "999999") is None  # nothing stored at that version
    finally:
        log.close()
