"""Issue 20's last gaps: what every cluster gives that the sandbox gave not, seen with real kubectl 1.32.

- The namespaces kube-apiserver's system namespaces controller keeps (``kube-system``, ``kube-public``,
  ``kube-node-lease``, ``default``), ``kube-system``'s UID being the sandbox's cluster id, across restarts.
- ``kubectl apply -f`` of a ``kind: List`` file validates (kubectl loads ``/openapi/v2`` for its items).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from sandboxkit import Kube, kubectl_for, sandbox

from gloo_nb.sandbox import kinds
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
