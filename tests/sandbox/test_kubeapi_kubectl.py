"""The sandbox API server against the real kubectl 1.32 (default flags, private HOME so discovery is not shared)."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sandboxkit import audit_writes, in_process_api

from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.events import EventRecorder, object_ref
from gloo_nb.sandbox.kubeapi import write_kubeconfig
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.store import KUBELET, Store

pytestmark = pytest.mark.sandbox

# The seed scenario as the repository ships it (a fresh CI machine has nothing else).
SCENARIO = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary"
# .ci/run installs kubectl when the machine lacks it: a missing kubectl fails these tests, never skips them.
KUBECTL = shutil.which("kubectl") or "kubectl"


@dataclass
class Cluster:
    store: Store
    url: str
    home: Path
    kubeconfig: Path
    tmp: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.home), "KUBECONFIG": str(self.kubeconfig)}

    def run(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 30
            ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True,
                              env=self.env(), timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def apply(self, text: str) -> subprocess.CompletedProcess[str]:
        return self.run("apply", "-f", "-", stdin=text)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([KUBECTL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=self.env())


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    store = Store(tmp_path / "state", namespace_grace=0.3)
    try:
        with in_process_api(store, tmp_path) as api:
            home = tmp_path / "home"
            home.mkdir()
            yield Cluster(store, api.url, home, api.kubeconfig, tmp_path)
    finally:
        store.close()


def scenario(*parts: str) -> str:
    return "\n---\n".join((SCENARIO / p).read_text() for p in parts)


GLOO_SYSTEM = "apiVersion: v1\nkind: Namespace\nmetadata: {name: gloo-system}\n"
SETTINGS = """apiVersion: gloo.solo.io/v1
kind: Settings
metadata: {name: default, namespace: gloo-system}
spec: {discoveryNamespace: gloo-system}
"""


def seed(c: Cluster) -> None:
    c.apply(GLOO_SYSTEM + "---\n" + SETTINGS)
    c.apply(scenario("part2/echo.yaml", "part2/foxtrot.yaml", "part2/upstream-echo.yaml",
                     "part2/upstream-foxtrot.yaml", "part2/rt-echo-1.yaml", "part2/rt-foxtrot-1.yaml",
                     "part2/vs.yaml"))


def test_apply_get_and_tables(cluster: Cluster) -> None:
    seed(cluster)
    out = cluster.run("get", "deploy,svc", "-n", "echo").stdout
    assert "NAME" in out and "READY" in out and "UP-TO-DATE" in out and "AVAILABLE" in out
    assert "deployment.apps/echo-v1" in out and "service/echo" in out and "CLUSTER-IP" in out and "80/TCP" in out
    wide = cluster.run("get", "deploy", "-n", "echo", "-o", "wide").stdout
    assert "hashicorp/http-echo" in wide and "app=echo,version=v1" in wide
    rts = cluster.run("get", "rt", "-A").stdout.splitlines()
    assert rts[0].split() == ["NAMESPACE", "NAME", "AGE"]
    assert [line.split()[:2] for line in rts[1:]] == [["echo", "echo-routes"], ["foxtrot", "foxtrot-routes"]]
    ns = cluster.run("get", "ns").stdout
    assert "STATUS" in ns and "Active" in ns
    obj = json.loads(cluster.run("get", "rt", "-n", "echo", "echo-routes", "-o", "json").stdout)
    assert obj["kind"] == "RouteTable" and obj["metadata"]["generation"] == 1
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
    # Re-applying the same files changes nothing; a new version is configured with a merge patch.
    again = cluster.apply(scenario("part2/rt-echo-1.yaml")).stdout
    assert "echo-routes unchanged" in again
    assert "echo-routes configured" in cluster.apply(scenario("part2/rt-echo-2.yaml")).stdout
    after = cluster.store.get(k.ROUTE_TABLE, "echo", "echo-routes")
    assert after["metadata"]["generation"] == 2 and len(after["spec"]["routes"]) == 2
    assert "error" not in cluster.run("explain", "routetables.spec").stderr.lower()
    # `get all` prints its categories in discovery's order, which kube-apiserver sorts by resource name
    # (installer.go): pods before services, the core group before apps.
    kinds_in_order = [line.split("/", 1)[0] for line in cluster.run("get", "all", "-n", "echo", "-o", "name")
                      .stdout.split()]
    assert kinds_in_order == sorted(kinds_in_order, key=["pod", "service", "deployment.apps",
                                                         "replicaset.apps"].index), kinds_in_order
    assert "service" in kinds_in_order and "deployment.apps" in kinds_in_order
    resources = json.loads(cluster.run("get", "--raw", "/api/v1").stdout)["resources"]
    names = [r["name"] for r in resources]
    assert names == sorted(names) and names.index("pods") < names.index("pods/log") < names.index("services")


def test_pod_columns_and_wait(cluster: Cluster) -> None:
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\n"
                  "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: team}\n"
                  "spec: {containers: [{name: c, image: busybox}]}\n")
    first = cluster.run("get", "pods", "-n", "team").stdout.splitlines()
    assert first[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert first[1].split()[:4] == ["web", "0/1", "Pending", "0"]
    waiter = cluster.popen("wait", "--for=condition=Ready", "pods", "--all", "-n", "team", "--timeout=20s")
    try:
        time.sleep(1.0)
        assert waiter.poll() is None  # not Ready yet
        cluster.run("patch", "-n", "team", "pod", "web", "--subresource=status", "--type", "merge", "-p", json.dumps(
            {"status": {"phase": "Running", "podIP": "127.0.0.1",
                        "conditions": [{"type": "Ready", "status": "True"}],
                        "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0}]}}))
        out, err = waiter.communicate(timeout=20)
        assert waiter.returncode == 0, err
        assert "pod/web condition met" in out
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.communicate()
    wide = cluster.run("get", "pods", "-n", "team", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert wide[1].split()[:3] == ["web", "1/1", "Running"] and "127.0.0.1" in wide[1]


def test_get_watch_prints_changes(cluster: Cluster) -> None:
    seed(cluster)
    watcher = cluster.popen("get", "rt", "-n", "echo", "-w")
    try:
        time.sleep(1.0)
        cluster.run("label", "-n", "echo", "rt", "echo-routes", "step=two")
        cluster.run("delete", "-n", "echo", "rt", "echo-routes")
        time.sleep(1.0)
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    lines = [line.split()[0] for line in out.splitlines() if line.strip()]
    # The listed row, then one row per change: no replay of the initial state.
    assert lines == ["NAME", "echo-routes", "echo-routes", "echo-routes"], out


def test_patch_label_scale_replace_create(cluster: Cluster) -> None:
    seed(cluster)
    patch = str(SCENARIO / "part2/settings-patch.yaml")
    assert "patched" in cluster.run("patch", "-n", "gloo-system", "settings", "default", "--type", "merge",
                                    "--patch-file", patch).stdout
    assert "(no change)" in cluster.run("patch", "-n", "gloo-system", "settings", "default", "--type", "merge",
                                        "--patch-file", patch).stdout
    settings = cluster.store.get(k.SETTINGS, "gloo-system", "default")
    assert settings["spec"]["gloo"]["invalidConfigPolicy"]["replaceInvalidRoutes"] is True
    smp = cluster.run("patch", "-n", "gloo-system", "settings", "default", "-p", '{"spec":{}}', check=False)
    assert smp.returncode != 0
    assert ("application/strategic-merge-patch+json is not supported by gloo.solo.io/v1, Kind=Settings: the body of "
            "the request was in an unknown format - accepted media types include: application/json-patch+json, "
            "application/merge-patch+json, application/apply-patch+yaml") in smp.stderr
    cluster.run("patch", "-n", "gloo-system", "settings", "default", "--type", "json", "-p",
                '[{"op":"replace","path":"/spec/discoveryNamespace","value":"other"}]')
    assert cluster.store.get(k.SETTINGS, "gloo-system", "default")["spec"]["discoveryNamespace"] == "other"
    bad = cluster.run("patch", "-n", "gloo-system", "settings", "default", "--type", "json", "-p",
                      '[{"op":"test","path":"/spec/discoveryNamespace","value":"x"}]', check=False)
    assert bad.returncode != 0 and "The request is invalid" in bad.stderr

    assert "labeled" in cluster.run("label", "-n", "echo", "rt", "echo-routes", "tier=gold").stdout
    assert cluster.store.get(k.ROUTE_TABLE, "echo", "echo-routes")["metadata"]["labels"] == {"tier": "gold"}
    assert "unlabeled" in cluster.run("label", "-n", "echo", "rt", "echo-routes", "tier-").stdout

    assert "scaled" in cluster.run("scale", "-n", "echo", "deploy", "echo-v1", "--replicas=3").stdout
    assert cluster.store.get(k.DEPLOYMENT, "echo", "echo-v1")["spec"]["replicas"] == 3

    manifest = cluster.tmp / "rt.json"
    manifest.write_text(cluster.run("get", "rt", "-n", "echo", "echo-routes", "-o", "json").stdout)
    cluster.run("label", "-n", "echo", "rt", "echo-routes", "moved=on")
    stale = cluster.run("replace", "-f", str(manifest), check=False)
    assert stale.returncode != 0
    assert ('Error from server (Conflict): error when replacing "' + str(manifest) + '": Operation cannot be '
            'fulfilled on routetables.gateway.solo.io "echo-routes": the object has been modified; please apply your '
            "changes to the latest version and try again") in stale.stderr
    dup = cluster.run("create", "-f", str(manifest), check=False)
    assert dup.returncode != 0 and 'routetables.gateway.solo.io "echo-routes" already exists' in dup.stderr
    missing = cluster.run("get", "rt", "-n", "echo", "nope", check=False)
    assert 'Error from server (NotFound): routetables.gateway.solo.io "nope" not found' in missing.stderr


def test_strategic_merge_apply_removes_env_and_sidecar(cluster: Cluster) -> None:
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n")
    base = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: hashicorp/http-echo
        env: [ENV]
        ports: [{containerPort: 5678}]
SIDECAR"""
    sidecar = "      - {name: sidecar, image: busybox}\n"
    cluster.apply(base.replace("ENV", '{name: A, value: "1"}, {name: B, value: "2"}').replace("SIDECAR", sidecar))
    # Someone else adds an env var outside the manifest: the strategic merge must keep it.
    cluster.store.patch(k.DEPLOYMENT, "demo", "web", lambda o: (
        o["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "X", "value": "live"}) or o))
    out = cluster.apply(base.replace("ENV", '{name: A, value: "1"}, {name: C, value: "3"}').replace("SIDECAR", ""))
    assert "deployment.apps/web configured" in out.stdout and "warning" not in out.stderr
    dep = cluster.store.get(k.DEPLOYMENT, "demo", "web")
    containers = dep["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web"]
    assert sorted(e["name"] for e in containers[0]["env"]) == ["A", "C", "X"]
    assert dep["metadata"]["generation"] == 3


def test_delete_namespace_file_cascades_and_waits(cluster: Cluster) -> None:
    seed(cluster)
    out = cluster.run("delete", "-f", str(SCENARIO / "part2/foxtrot.yaml"))
    assert 'namespace "foxtrot" deleted' in out.stdout and 'service "foxtrot" deleted' in out.stdout
    assert "No resources found in foxtrot namespace." in cluster.run("get", "all", "-n", "foxtrot").stderr
    assert cluster.store.list(k.ROUTE_TABLE, "foxtrot")[0] == []
    assert [o["metadata"]["name"] for o in cluster.store.list(k.ROUTE_TABLE)[0]] == ["echo-routes"]
    gone = cluster.run("delete", "rt", "-n", "echo", "nope", check=False)
    assert 'Error from server (NotFound): routetables.gateway.solo.io "nope" not found' in gone.stderr


def test_rbac_with_impersonation(cluster: Cluster) -> None:
    seed(cluster)
    cluster.run("apply", "-f", str(SCENARIO / "rbac.yaml"))
    echo = ("--as=echo-dev", "--as-group=team-echo")
    ok = cluster.run(*echo, "patch", "-n", "echo", "rt", "echo-routes", "--type", "merge", "-p",
                     '{"metadata":{"labels":{"owner":"echo"}}}')
    assert "patched" in ok.stdout
    refused = cluster.run(*echo, "patch", "-n", "foxtrot", "rt", "foxtrot-routes", "--type", "merge", "-p",
                          '{"metadata":{"labels":{"owner":"echo"}}}', check=False)
    assert refused.returncode != 0
    assert ('Error from server (Forbidden): routetables.gateway.solo.io "foxtrot-routes" is forbidden: User '
            '"echo-dev" cannot patch resource "routetables" in API group "gateway.solo.io" in the namespace '
            '"foxtrot"') in refused.stderr
    settings = cluster.run(*echo, "patch", "-n", "gloo-system", "settings", "default", "--type", "merge",
                           "--patch-file", str(SCENARIO / "part2/settings-patch.yaml"), check=False)
    assert settings.returncode != 0 and 'User "echo-dev" cannot patch resource "settings"' in settings.stderr
    assert "gloo" not in cluster.store.get(k.SETTINGS, "gloo-system", "default")["spec"]
    # Reading is allowed everywhere; listing secrets is not.
    assert "foxtrot-routes" in cluster.run(*echo, "get", "rt", "-A").stdout
    secrets = cluster.run(*echo, "get", "secrets", "-n", "echo", check=False)
    assert ('secrets is forbidden: User "echo-dev" cannot list resource "secrets" in API group "" in the '
            'namespace "echo"') in secrets.stderr
    crb = cluster.run(*echo, "get", "clusterroles", check=False)
    assert 'cannot list resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope' in (
        crb.stderr)
    ops = cluster.run("--as=ops", "--as-group=platform-ops", "patch", "-n", "gloo-system", "settings", "default",
                      "--type", "merge", "--patch-file", str(SCENARIO / "part2/settings-patch.yaml"))
    assert "patched" in ops.stdout
    last = audit_writes(cluster.tmp / "state/audit.jsonl")[-1]
    assert (last.actor, last.name, last.verb, last.user) == ("ops", "default", "patch", "admin")
    assert "platform-ops" in last.impersonated_groups


def test_garbage_gets_4xx_and_disturbs_nothing(cluster: Cluster) -> None:
    seed(cluster)
    rv = cluster.store.resource_version
    before = cluster.store.list(k.ROUTE_TABLE)[0]
    no_selector = """apiVersion: apps/v1
kind: Deployment
metadata: {name: broken, namespace: echo}
spec:
  template:
    metadata: {labels: {app: broken}}
    spec: {containers: [{name: c, image: busybox}]}
"""
    out = cluster.run("apply", "-f", "-", stdin=no_selector, check=False)
    assert out.returncode != 0
    assert 'The Deployment "broken" is invalid: spec.selector: Required value' in out.stderr
    wrong_type = ("apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {name: echo-routes, namespace: echo}\n"
                  "spec: {routes: oops}\n")
    out = cluster.run("apply", "-f", "-", stdin=wrong_type, check=False)
    assert out.returncode != 0 and "spec.routes" in out.stderr and "Invalid value" in out.stderr
    unknown = ("apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {name: extra, namespace: echo}\n"
               "spec: {routes: [], spex: 1}\n")
    out = cluster.run("apply", "-f", "-", stdin=unknown, check=False)
    assert out.returncode != 0 and 'strict decoding error: unknown field "spec.spex"' in out.stderr
    assert cluster.store.resource_version == rv and cluster.store.list(k.ROUTE_TABLE)[0] == before
    warned = cluster.run("apply", "--validate=warn", "-f", "-", stdin=unknown)
    assert 'Warning: unknown field "spec.spex"' in warned.stderr and "extra created" in warned.stdout


def test_generators_with_protobuf_bodies(cluster: Cluster) -> None:
    assert "namespace/pb created" in cluster.run("create", "namespace", "pb").stdout
    cluster.run("create", "configmap", "cm", "-n", "pb", "--from-literal=a=1", "--from-literal=b=two")
    cluster.run("create", "secret", "generic", "s", "-n", "pb", "--from-literal=pw=hunter2")
    assert cluster.store.get(k.CONFIGMAP, "pb", "cm")["data"] == {"a": "1", "b": "two"}
    secret = cluster.store.get(k.SECRET, "pb", "s")
    assert secret["type"] == "Opaque" and secret["data"] == {"pw": "aHVudGVyMg=="}
    # Every generator of a served built-in kind sends protobuf only; one decoder reads them all by the shapes
    # generated from k8s.io/api's generated.proto and types.go.
    cluster.run("create", "deployment", "d", "--image=nginx:1.27", "--replicas=0", "--port=8080", "-n", "pb")
    deployment = cluster.store.get(k.DEPLOYMENT, "pb", "d")
    assert deployment["spec"]["replicas"] == 0, "a pointer field's zero is kept"
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "d"}}
    template = deployment["spec"]["template"]
    assert template["metadata"] == {"creationTimestamp": None, "labels": {"app": "d"}}, "zero Time is null"
    assert template["spec"]["containers"][0]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}
    cluster.run("create", "service", "nodeport", "np", "--tcp=80:8080", "-n", "pb")
    ports = cluster.store.get(k.SERVICE, "pb", "np")["spec"]["ports"]
    assert ports[0]["targetPort"] == 8080 and 30000 <= ports[0]["nodePort"] <= 32767, "IntOrString; a node port"
    cluster.run("create", "service", "externalname", "ext", "--external-name=example.com", "-n", "pb")
    ext = cluster.store.get(k.SERVICE, "pb", "ext")["spec"]
    assert ext["externalName"] == "example.com" and "clusterIP" not in ext, "ExternalName gets no cluster IP"
    table = cluster.run("get", "svc", "-n", "pb").stdout
    assert "ExternalName   <none>" in table and "example.com" in table and ":" + str(ports[0]["nodePort"]) in table
    cluster.run("create", "role", "reader", "--verb=get,list", "--resource=pods,deployments.apps", "-n", "pb")
    assert cluster.store.get(k.ROLE, "pb", "reader")["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}]
    cluster.run("create", "rolebinding", "bob-reads", "--role=reader", "--user=bob", "-n", "pb")
    cluster.run("create", "clusterrole", "nodes", "--verb=get", "--resource=nodes")
    cluster.run("create", "clusterrolebinding", "bob-nodes", "--clusterrole=nodes", "--user=bob")
    assert cluster.store.get(k.CLUSTER_ROLE_BINDING, "", "bob-nodes")["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]
    assert cluster.run("auth", "can-i", "list", "pods", "-n", "pb", "--as=bob").stdout.strip() == "yes"
    assert cluster.run("auth", "can-i", "get", "nodes", "--as=bob").stdout.strip() == "yes"
    assert cluster.run("auth", "can-i", "delete", "pods", "-n", "pb", "--as=bob", check=False).stdout.strip() == "no"
    refused = cluster.run("create", "priorityclass", "p", "--value=1", check=False)
    assert refused.returncode != 0 and "the server could not find the requested resource" in refused.stderr


def test_https_token_and_401(cluster: Cluster) -> None:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")
    assert config["clusters"][0]["cluster"]["certificate-authority-data"]
    assert cluster.kubeconfig.stat().st_mode & 0o777 == 0o600, "the kubeconfig holds the admin token"
    assert cluster.run("get", "ns").returncode == 0
    wrong = cluster.run("--token=not-the-admin", "get", "ns", check=False)
    assert wrong.returncode == 1
    assert "error: You must be logged in to the server (Unauthorized)" in wrong.stderr
    # Without any credential, as the apiserver answers: a Status, not a page.
    ctx = ssl.create_default_context(cafile=str(cluster.tmp / "pki" / "ca.crt"))
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{cluster.url}/api/v1/namespaces", context=ctx, timeout=10)
    assert err.value.code == 401 and json.loads(err.value.read()) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
        "reason": "Unauthorized", "code": 401}
    # Health probes are anonymous (the 1.32 anonymous-auth conditions), nothing else.
    with urllib.request.urlopen(f"{cluster.url}/readyz", context=ctx, timeout=10) as resp:
        assert resp.status == 200
    # A kubeconfig trusting another CA refuses the server: the CA in the kubeconfig is what kubectl checks.
    other = Credentials.load_or_create(cluster.tmp / "other-pki")
    write_kubeconfig(cluster.tmp / "other", cluster.url, other)
    proc = subprocess.run([KUBECTL, "--kubeconfig", str(cluster.tmp / "other"), "--token",
                           Credentials.load_or_create(cluster.tmp / "pki").token, "get", "ns"],
                          capture_output=True, text=True, env=cluster.env(), timeout=30)
    assert proc.returncode == 1 and "certificate signed by unknown authority" in proc.stderr


def test_auth_can_i_answers_from_rbac(cluster: Cluster) -> None:
    seed(cluster)
    cluster.run("apply", "-f", str(SCENARIO / "rbac.yaml"))
    echo = ("--as=echo-dev", "--as-group=team-echo")
    assert cluster.run(*echo, "auth", "can-i", "patch", "rt", "-n", "echo").stdout.strip() == "yes"
    no = cluster.run(*echo, "auth", "can-i", "patch", "rt", "-n", "foxtrot", check=False)
    assert no.returncode == 1 and no.stdout.strip() == "no"
    assert cluster.run(*echo, "auth", "can-i", "create", "pods/portforward", "-n", "echo").stdout.strip() == "yes"
    # Team users may not impersonate; the admin (system:masters) may do anything.
    assert cluster.run(*echo, "auth", "can-i", "impersonate", "groups", check=False).stdout.strip() == "no"
    assert cluster.run("auth", "can-i", "impersonate", "users").stdout.strip() == "yes"
    assert cluster.run("auth", "can-i", "*", "*").stdout.strip() == "yes"
    listed = cluster.run(*echo, "auth", "can-i", "--list", "-n", "echo").stdout
    rows = {line.split()[0]: line for line in listed.splitlines()[1:] if line.strip()}
    assert "patch" in rows["routetables.gateway.solo.io"] and "create" in rows["pods/portforward"]
    assert "selfsubjectaccessreviews.authorization.k8s.io" in rows
    assert "secrets" not in rows


def test_crds_are_listed_read_only(cluster: Cluster) -> None:
    out = cluster.run("get", "crd").stdout.splitlines()
    assert out[0].split() == ["NAME", "CREATED", "AT"]
    assert [line.split()[0] for line in out[1:]] == [
        "gateways.gateway.solo.io", "proxies.gloo.solo.io", "routeoptions.gateway.solo.io",
        "routetables.gateway.solo.io", "settings.gloo.solo.io", "upstreamgroups.gloo.solo.io",
        "upstreams.gloo.solo.io", "virtualhostoptions.gateway.solo.io", "virtualservices.gateway.solo.io"]
    crd = yaml.safe_load(cluster.run("get", "crd", "routetables.gateway.solo.io", "-o", "yaml").stdout)
    assert crd["spec"]["names"]["shortNames"] == ["rt"] and crd["spec"]["scope"] == "Namespaced"
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert schema["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"] is True
    assert {c["type"] for c in crd["status"]["conditions"]} == {"NamesAccepted", "Established"}
    refused = cluster.run("delete", "crd", "routetables.gateway.solo.io", check=False)
    assert refused.returncode == 1 and "read-only" in refused.stderr
    assert "NotFound" in cluster.run("get", "crd", "nopes.gloo.solo.io", check=False).stderr


def test_get_events_with_field_selector(cluster: Cluster) -> None:
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n")
    kubelet = EventRecorder(cluster.store, "kubelet", KUBELET, host="sandbox")
    for pod in ("web", "db"):
        ref = object_ref(k.POD, "team", pod, f"uid-{pod}", f"spec.containers{{{pod}}}")
        kubelet.record(ref, "Normal", "Started", f"Started container {pod}")
    kubelet.record(object_ref(k.POD, "team", "web", "uid-web", "spec.containers{web}"), "Warning", "BackOff",
                   "Back-off restarting failed container web")
    kubelet.record(object_ref(k.POD, "team", "web", "uid-web", "spec.containers{web}"), "Warning", "BackOff",
                   "Back-off restarting failed container web")
    lines = cluster.run("get", "events", "-n", "team").stdout.splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert len(lines) == 4 and any("pod/db" in line and "Started container db" in line for line in lines)
    backoff = next(line for line in lines if "BackOff" in line)
    assert "(x2 over" in backoff and "Warning" in backoff and "pod/web" in backoff
    only = cluster.run("get", "events", "-n", "team", "--field-selector", "involvedObject.name=web",
                       "-o", "json").stdout
    assert sorted((e["reason"], e["count"]) for e in json.loads(only)["items"]) == [("BackOff", 2), ("Started", 1)]
    wide = cluster.run("get", "ev", "-n", "team", "-o", "wide").stdout.splitlines()
    assert "SUBOBJECT" in wide[0] and "COUNT" in wide[0] and "spec.containers{db}" in "\n".join(wide)
def test_bounded_input_through_kubectl(cluster: Cluster) -> None:
    cluster.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n")
    nan = cluster.tmp / "nan.json"
    nan.write_text('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nan"}, "data": {}, "x": NaN}')
    out = cluster.run("create", "--raw", "/api/v1/namespaces/default/configmaps", "-f", str(nan), check=False)
    assert out.returncode != 0
    assert "Error from server (BadRequest)" in out.stderr and "invalid character 'N'" in out.stderr
    big = cluster.tmp / "big.json"
    big.write_text(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
                               "data": {"k": "x" * (3 * 1024 * 1024)}}))
    out = cluster.run("create", "--raw", "/api/v1/namespaces/default/configmaps", "-f", str(big), check=False)
    assert out.returncode != 0 and "limit is 3145728" in out.stderr
    # nothing half-stored: the whole namespace still prints as YAML
    assert "items: []" in cluster.run("get", "cm", "-n", "default", "-o", "yaml").stdout
    bad_container = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\n"
                     "spec: {containers: [{name: ../../x, image: busybox}]}\n")
    out = cluster.run("apply", "-f", "-", stdin=bad_container, check=False)
    assert out.returncode != 0
    assert 'The Pod "p" is invalid: spec.containers[0].name: Invalid value: "../../x"' in out.stderr


def test_auth_whoami_is_a_self_subject_review(cluster: Cluster) -> None:
    # authentication.k8s.io/v1 SelfSubjectReview (kubectl sends it as protobuf): the requester as authenticated,
    # impersonation applied; every authenticated user may ask (system:basic-user).
    assert cluster.run("auth", "whoami").stdout.split("\n")[1:3] == [
        "Username    admin", "Groups      [system:masters system:authenticated]"]
    review = json.loads(cluster.run("auth", "whoami", "--as=alice", "--as-group=devs", "-o", "json").stdout)
    assert review["status"]["userInfo"] == {"username": "alice", "groups": ["devs", "system:authenticated"]}
    assert "authentication.k8s.io/v1" in cluster.run("api-versions").stdout
