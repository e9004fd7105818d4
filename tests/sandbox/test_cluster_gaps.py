"""Issue 20's last gaps: what every cluster gives that the sandbox gave not, seen with real kubectl 1.32.

- The namespaces kube-apiserver's system namespaces controller keeps (``kube-system``, ``kube-public``,
  ``kube-node-lease``, ``default``), ``kube-system``'s UID being the sandbox's cluster id, across restarts.
- ``metadata.managedFields`` on every write, as kube-apiserver's field manager records them (kubectl's managers,
  ``Update``/``Apply``, ``subresource: status``, the sandbox's own components as ``kube-controller-manager``,
  ``kubelet`` and ``gloo``).
- ``kubectl apply -f`` of a ``kind: List`` file validates (kubectl loads ``/openapi/v2`` for its items).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from sandboxkit import Kube, kubectl_for, sandbox

from gloo_nb.sandbox import kinds, managed_fields
from gloo_nb.sandbox.daemon import system_namespaces
from gloo_nb.sandbox.runner import SandboxInfo
from gloo_nb.sandbox.store import Store

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxInfo, Kube, Path]]:
    root = tmp_path_factory.mktemp("gaps")
    with sandbox(root / "state", "1.3", replicas=1) as info:
        yield info, kubectl_for(info, root), root


def _endpoints(info: SandboxInfo) -> dict[str, Any]:
    return dict(json.loads((Path(info.state_dir) / "endpoints.json").read_text()))


def test_every_cluster_namespace_is_there_and_kube_system_is_the_cluster(box: Any) -> None:
    info, kube, _ = box
    names = {n["metadata"]["name"]: n for n in kube.json("ns")["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease", "gloo-system"} <= set(names)
    cluster = _endpoints(info)["clusterId"]
    assert names["kube-system"]["metadata"]["uid"] == cluster
    assert names["kube-public"]["metadata"]["uid"] != cluster
    assert names["kube-system"]["status"]["phase"] == "Active"
    # The official client reads it the way gloo_nb reads a cluster's id.
    api = client.CoreV1Api(config.new_client_from_config(str(info.kubeconfig)))
    assert api.read_namespace("kube-system").metadata.uid == cluster


def test_a_state_dir_without_them_gets_them_with_the_same_uid(tmp_path: Path) -> None:
    # A state dir of an older sandbox holds default and gloo-system only: the restart adds the rest.
    store = Store(tmp_path)
    store.create(kinds.NAMESPACE, {"metadata": {"name": "default"}})
    old_default = store.get(kinds.NAMESPACE, None, "default")["metadata"]["uid"]
    system_namespaces(store, "11111111-2222-3333-4444-555555555555")
    assert store.get(kinds.NAMESPACE, None, "kube-system")["metadata"]["uid"] == "11111111-2222-3333-4444-555555555555"
    assert store.get(kinds.NAMESPACE, None, "default")["metadata"]["uid"] == old_default
    store.close()
    again = Store(tmp_path)
    system_namespaces(again, "11111111-2222-3333-4444-555555555555")
    assert {n["metadata"]["name"] for n in again.list(kinds.NAMESPACE)[0]} == \
        {"default", "kube-system", "kube-public", "kube-node-lease"}
    again.close()


LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: listed, namespace: default}
  data: {x: "1"}
- apiVersion: v1
  kind: Service
  metadata: {name: listed, namespace: default}
  spec:
    selector: {app: listed}
    ports: [{port: 80, targetPort: 8080}]
"""


def test_kubectl_applies_a_list_document_with_validation_on(box: Any, tmp_path: Path) -> None:
    _, kube, _ = box
    path = tmp_path / "list.yaml"
    path.write_text(LIST)
    out = kube.run("apply", "-f", str(path)).stdout
    assert "configmap/listed created" in out and "service/listed created" in out
    assert kube.json("cm", "listed", "-n", "default")["data"] == {"x": "1"}
    again = kube.run("apply", "-f", str(path)).stdout
    assert "configmap/listed unchanged" in again and "service/listed unchanged" in again
    # The items are still validated: by the server (kubectl sends fieldValidation=Strict with each).
    path.write_text(LIST.replace('data: {x: "1"}', 'data: {x: "2"}\n  bogus: 1'))
    bad = kube.run("apply", "-f", str(path), check=False)
    assert bad.returncode == 1 and 'strict decoding error: unknown field "bogus"' in bad.stderr
    assert kube.json("cm", "listed", "-n", "default")["data"] == {"x": "1"}
    # What kubectl fetched: /openapi/v2, which JSON clients can read too.
    doc = json.loads(kube.run("get", "--raw", "/openapi/v2").stdout)
    assert doc["swagger"] == "2.0"


def _entries(kube: Kube, *what: str) -> list[dict[str, Any]]:
    obj = json.loads(kube.run("get", *what, "-o", "json", "--show-managed-fields").stdout)
    return list(obj["metadata"].get("managedFields") or [])


def _by(entries: list[dict[str, Any]], manager: str, subresource: str | None = None) -> dict[str, Any]:
    found = [e for e in entries if e["manager"] == manager and e.get("subresource") == subresource]
    assert len(found) == 1, entries
    return found[0]


def test_kubectl_create_label_and_the_controllers_are_recorded_as_managers(box: Any) -> None:
    _, kube, _ = box
    kube.run("create", "deployment", "mf", "--image=nginx", "-n", "default")
    deadline = time.monotonic() + 30
    while not any(e.get("subresource") == "status" for e in _entries(kube, "deploy", "mf", "-n", "default")):
        assert time.monotonic() < deadline, "the deployment controller wrote no status"
        time.sleep(0.2)
    entries = _entries(kube, "deploy", "mf", "-n", "default")
    created = _by(entries, "kubectl-create")
    assert created["operation"] == "Update" and created["apiVersion"] == "apps/v1"
    assert created["fieldsType"] == "FieldsV1" and created["time"].endswith("Z")
    fields = created["fieldsV1"]
    assert fields["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert container["."] == {} and container["f:image"] == {} and container["f:imagePullPolicy"] == {}
    assert fields["f:spec"]["f:selector"] == {} and "f:status" not in fields  # atomic; status is reset
    status = _by(entries, "kube-controller-manager", "status")
    assert status["operation"] == "Update" and "f:status" in status["fieldsV1"]
    assert 'k:{"type":"Available"}' in status["fieldsV1"]["f:status"]["f:conditions"]
    # The deployment controller's revision annotation is its own, on the main resource.
    assert _by(entries, "kube-controller-manager")["fieldsV1"]["f:metadata"]["f:annotations"][
        "f:deployment.kubernetes.io/revision"] == {}
    # Apply first, then by time: sorted as the apiserver sorts them.
    assert [e["operation"] for e in entries] == sorted(e["operation"] for e in entries)

    kube.run("label", "deploy", "mf", "-n", "default", "team=a")
    labelled = _entries(kube, "deploy", "mf", "-n", "default")
    assert _by(labelled, "kubectl-label")["fieldsV1"] == {"f:metadata": {"f:labels": {"f:team": {}}}}
    assert _by(labelled, "kubectl-create")["fieldsV1"] == fields  # untouched
    # The pods: the ReplicaSet controller creates them, the kubelet writes their status.
    pod = kube.json("pods", "-n", "default", "-l", "app=mf")["items"][0]["metadata"]["name"]
    deadline = time.monotonic() + 30
    while not any(e["manager"] == "kubelet" for e in _entries(kube, "pod", pod, "-n", "default")):
        assert time.monotonic() < deadline, "no kubelet entry"
        time.sleep(0.2)
    pod_entries = _entries(kube, "pod", pod, "-n", "default")
    assert _by(pod_entries, "kube-controller-manager")["fieldsV1"]["f:metadata"]["f:ownerReferences"]
    assert "f:status" in _by(pod_entries, "kubelet", "status")["fieldsV1"]


def test_apply_patch_edit_and_server_side_apply_move_ownership(box: Any, tmp_path: Path) -> None:
    _, kube, _ = box
    path = tmp_path / "cm.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owned, namespace: default}\n"
                    "data: {x: '1', keep: 'k'}\n")
    kube.run("apply", "-f", str(path))
    applied = _by(_entries(kube, "cm", "owned", "-n", "default"), "kubectl-client-side-apply")
    assert applied["fieldsV1"] == {
        "f:data": {".": {}, "f:keep": {}, "f:x": {}},
        "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}}}
    # kubectl patch takes x; the apply keeps what it alone set.
    kube.run("patch", "cm", "owned", "-n", "default", "-p", '{"data":{"x":"2"}}')
    entries = _entries(kube, "cm", "owned", "-n", "default")
    assert _by(entries, "kubectl-patch")["fieldsV1"] == {"f:data": {"f:x": {}}}
    assert "f:x" not in _by(entries, "kubectl-client-side-apply")["fieldsV1"]["f:data"]
    # kubectl edit, with an editor that changes keep.
    env = {**os.environ, "KUBECONFIG": kube.kubeconfig, "HOME": str(kube.home),
           "KUBE_EDITOR": "sed -i -e s/keep:\\ k/keep:\\ edited/"}
    done = subprocess.run(["kubectl", "edit", "cm", "owned", "-n", "default"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    entries = _entries(kube, "cm", "owned", "-n", "default")
    assert kube.json("cm", "owned", "-n", "default")["data"]["keep"] == "edited"
    assert _by(entries, "kubectl-edit")["fieldsV1"] == {"f:data": {"f:keep": {}}}
    # A no-op write records nothing.
    before = _entries(kube, "cm", "owned", "-n", "default")
    kube.run("patch", "cm", "owned", "-n", "default", "-p", '{"data":{"x":"2"}}')
    assert _entries(kube, "cm", "owned", "-n", "default") == before
    # Server-side apply: operation Apply, the configuration's fields, --field-manager's name.
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, namespace: default}\ndata: {z: '3'}\n")
    kube.run("apply", "--server-side", "--field-manager=team-z", "-f", str(path))
    ssa = _by(_entries(kube, "cm", "ssa", "-n", "default"), "team-z")
    assert ssa["operation"] == "Apply" and ssa["fieldsV1"] == {"f:data": {"f:z": {}}}


def test_gloo_and_the_python_client_are_managers_too(box: Any) -> None:
    info, kube, _ = box
    api = client.CoreV1Api(config.new_client_from_config(str(info.kubeconfig)))
    api.create_namespaced_config_map("default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py"),
                                                                   data={"a": "1"}), field_manager="my-tool")
    got = api.read_namespaced_config_map("py", "default").metadata.managed_fields
    assert [(m.manager, m.operation) for m in got] == [("my-tool", "Update")]
    api.patch_namespaced_config_map("py", "default", {"data": {"b": "2"}})
    got = api.read_namespaced_config_map("py", "default").metadata.managed_fields
    # Without fieldManager: the User-Agent's prefix (the client's is OpenAPI-Generator/<version>/python).
    assert {m.manager for m in got} == {"my-tool", "OpenAPI-Generator"}
    # Gloo's status write of a resource: manager gloo (the sandbox serves Gloo's kinds with a status subresource).
    us = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
          "metadata": {"name": "mf", "namespace": "gloo-system"},
          "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 1}]}}}
    kube.run("apply", "-f", "-", input=json.dumps(us))
    deadline = time.monotonic() + 30
    while not any(e["manager"] == "gloo" for e in _entries(kube, "upstreams.gloo.solo.io", "mf", "-n", "gloo-system")):
        assert time.monotonic() < deadline, "gloo wrote no status"
        time.sleep(0.2)
    entries = _entries(kube, "upstreams.gloo.solo.io", "mf", "-n", "gloo-system")
    gloo = _by(entries, "gloo", "status")
    assert list(gloo["fieldsV1"]) == ["f:status"] and gloo["operation"] == "Update"
    # A custom resource's maps are granular (no schema in Gloo 1.3's CRDs); its metadata is ObjectMeta.
    assert _by(entries, "kubectl-client-side-apply")["fieldsV1"] == {
        "f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
        "f:spec": {".": {}, "f:static": {".": {}, "f:hosts": {}}}}
    # The install's objects are Helm's, kube-system the apiserver's.
    assert {e["manager"] for e in _entries(kube, "svc", "gloo", "-n", "gloo-system")} == {"helm"}
    assert {e["manager"] for e in _entries(kube, "ns", "kube-system")} == {"kube-apiserver"}


def test_the_manager_name_and_the_entry_order_are_the_apiservers() -> None:
    # handlers/create.go prefixFromUserAgent: before the first "/", printable, at most 128 bytes.
    assert managed_fields.manager_from_request(None, "kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07") == "kubectl"
    assert managed_fields.manager_from_request("", "OpenAPI-Generator/31.0.0/python") == "OpenAPI-Generator"
    assert managed_fields.manager_from_request("kubectl-edit", "kubectl/v1.32.4") == "kubectl-edit"
    assert managed_fields.manager_from_request(None, "a\tb" + "x" * 200) == "ab" + "x" * 126
    # sortEncodedManagedFields: operation, time, manager, apiVersion, subresource.
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    first = managed_fields.managed_fields(None, cm, manager="z", operation="Update", subresource=None,
                                          now="2026-01-01T00:00:01Z", builtin=True)
    cm2 = {**cm, "metadata": {**cm["metadata"], "managedFields": first}, "data": {"a": "1", "b": "2"}}
    second = managed_fields.managed_fields(cm, cm2, manager="a", operation="Update", subresource=None,
                                           now="2026-01-01T00:00:01Z", builtin=True, entries_so_far=first)
    assert [e["manager"] for e in second] == ["a", "z"]
    assert second[0]["fieldsV1"] == {"f:data": {"f:b": {}}}
    assert second[1]["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}
    # a changes a: it takes it from z, which keeps the map it made.
    cm3 = {**cm2, "data": {"a": "9", "b": "2"}}
    third = managed_fields.managed_fields(cm2, cm3, manager="a", operation="Update", subresource=None,
                                          now="2026-01-01T00:00:02Z", builtin=True, entries_so_far=second)
    assert [(e["manager"], e["fieldsV1"]) for e in third] == [
        ("z", {"f:data": {".": {}}}), ("a", {"f:data": {"f:a": {}, "f:b": {}}})]
    # z's map gone too (the data removed): z owns nothing and is dropped.
    fourth = managed_fields.managed_fields(cm3, {**cm3, "data": {}}, manager="a", operation="Update", subresource=None,
                                           now="2026-01-01T00:00:03Z", builtin=True, entries_so_far=third)
    assert [e["manager"] for e in fourth] == ["a"] and fourth[0]["fieldsV1"] == {"f:data": {}}
