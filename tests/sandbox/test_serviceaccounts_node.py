"""ServiceAccounts (the serviceaccounts controller, the ServiceAccount admission plugin) and the one Node.

A store served in-process with the sandbox's kubelet, the ServiceAccounts controller attached and the Node
registered, as the sandbox daemon does; driven with real kubectl and the official Python client (the flows of
kubernetes-client/python's e2e suite: ``CoreV1Api`` create/read/delete of a ServiceAccount, ``list_node``).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from polling import wait_until
from sandboxkit import InProcessApi, alive, in_process_api

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubelet import Kubelet
from gloo_nb.sandbox.node import register_node
from gloo_nb.sandbox.serviceaccounts_controller import ServiceAccounts
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

NS = "apps"


class Env:
    def __init__(self, store: Store, served: InProcessApi, api: client.ApiClient) -> None:
        self.store = store
        self.served = served
        self.api = api
        self.core = client.CoreV1Api(api)

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["kubectl", "--kubeconfig", str(self.served.kubeconfig), *args], capture_output=True,
                             text=True, timeout=60, input=stdin)
        if check and out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {out.stderr}")
        return out



@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    store = Store(tmp_path / "state")
    kubelet = Kubelet(store, tmp_path)
    accounts = ServiceAccounts(store)
    try:
        store.create(kinds.NAMESPACE, {"metadata": {"name": "default"}})  # before the controller: synced on attach
        accounts.attach()
        register_node(store, tmp_path)
        store.create(kinds.NAMESPACE, {"metadata": {"name": NS}})
        kubelet.start()
        with in_process_api(store, tmp_path) as served:
            api = config.new_client_from_config(str(served.kubeconfig))
            try:
                yield Env(store, served, api)
            finally:
                api.close()
    finally:
        pids = list(kubelet.processes().values())
        kubelet.stop()
        accounts.detach()
        store.close()
        assert not [p for p in pids if alive(p)], "kubelet.stop() left processes behind"


def test_every_namespace_has_a_default_service_account(env: Env) -> None:
    # Namespaces that existed before the controller started, and those created afterwards (through the API too).
    env.kubectl("create", "namespace", "later")
    names = env.kubectl("get", "sa", "-A", "-o", "jsonpath={range .items[*]}{.metadata.namespace}/"
                        "{.metadata.name} {end}").stdout.split()
    assert names == ["apps/default", "default/default", "later/default"]
    table = env.kubectl("get", "sa", "-n", NS).stdout.splitlines()
    assert table[0].split() == ["NAME", "SECRETS", "AGE"] and table[1].split()[:2] == ["default", "0"]
    sa = env.store.get(kinds.SERVICE_ACCOUNT, "later", "default")
    assert sa["metadata"]["uid"] and sa["apiVersion"] == "v1" and sa["kind"] == "ServiceAccount"
    # The controller wrote it as its own request, not as part of the namespace's creation.
    assert env.store.audit_path is not None
    lines = [json.loads(line) for line in env.store.audit_path.read_text().splitlines()]
    ns_create = next(e for e in lines if e["objectRef"].get("resource") == "namespaces" and e["verb"] == "create"
                     and e["objectRef"].get("name") == "later")
    sa_create = next(e for e in lines if e["objectRef"].get("resource") == "serviceaccounts"
                     and e["objectRef"].get("namespace") == "later")
    assert ns_create["user"]["username"] == "admin"
    assert sa_create["user"]["username"] == "system:serviceaccount:kube-system:service-account-controller"
    assert sa_create["verb"] == "create" and sa_create["responseStatus"]["code"] == 201


def test_deleted_default_comes_back_but_not_in_a_terminating_namespace(env: Env) -> None:
    before = env.core.read_namespaced_service_account("default", NS).metadata.uid
    env.kubectl("delete", "sa", "default", "-n", NS)
    after = env.core.read_namespaced_service_account("default", NS).metadata.uid
    assert after != before
    env.kubectl("create", "namespace", "doomed")
    env.kubectl("delete", "namespace", "doomed", "--wait=false")
    env.kubectl("delete", "sa", "default", "-n", "doomed")
    with pytest.raises(ApiException) as gone:
        env.core.read_namespaced_service_account("default", "doomed")
    assert gone.value.status == 404


def test_python_client_service_account_crud(env: Env) -> None:
    # The e2e suite's CoreV1Api flow: create, read, list, patch, delete, then 404.
    body = client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="robot", labels={"team": "a"}),
                                   automount_service_account_token=False)
    created = env.core.create_namespaced_service_account(NS, body)
    assert created.metadata.name == "robot" and created.automount_service_account_token is False
    assert env.core.read_namespaced_service_account("robot", NS).metadata.labels == {"team": "a"}
    listed = env.core.list_namespaced_service_account(NS)
    assert [s.metadata.name for s in listed.items] == ["default", "robot"]
    patched = env.core.patch_namespaced_service_account("robot", NS, {"metadata": {"labels": {"team": "b"}}})
    assert patched.metadata.labels == {"team": "b"}
    # Admission copies the ServiceAccount's imagePullSecrets to a pod that names none.
    env.core.patch_namespaced_service_account("robot", NS, {"imagePullSecrets": [{"name": "regcred"}]})
    pod = env.core.create_namespaced_pod(NS, {"metadata": {"name": "pulls"}, "spec": {
        "serviceAccountName": "robot", "containers": [{"name": "c", "image": "hashicorp/http-echo"}]}})
    assert [s.name for s in pod.spec.image_pull_secrets] == ["regcred"] and pod.spec.service_account == "robot"
    env.core.delete_namespaced_pod("pulls", NS)
    env.core.delete_namespaced_service_account("robot", NS)
    with pytest.raises(ApiException) as gone:
        env.core.read_namespaced_service_account("robot", NS)
    assert gone.value.status == 404
    assert json.loads(gone.value.body)["details"] == {"name": "robot", "kind": "serviceaccounts"}


def test_kubectl_create_sa_and_describe(env: Env) -> None:
    assert env.kubectl("create", "sa", "builder", "-n", NS).stdout.strip() == "serviceaccount/builder created"
    again = env.kubectl("create", "sa", "builder", "-n", NS, check=False)
    assert again.returncode == 1
    assert again.stderr.strip() == 'error: failed to create serviceaccount: serviceaccounts "builder" already exists'
    described = env.kubectl("describe", "sa", "builder", "-n", NS).stdout
    assert "Name:                builder" in described and f"Namespace:           {NS}" in described


def test_pods_default_to_the_default_service_account(env: Env) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
           "spec": {"containers": [{"name": "web", "image": "hashicorp/http-echo", "args": ["-text=hi"]}]}}
    # test_client.py test_pod_apis: wait for the default ServiceAccount, then create the pod.
    assert env.core.read_namespaced_service_account("default", NS).metadata.name == "default"
    created = env.core.create_namespaced_pod(NS, pod)
    assert created.spec.service_account_name == "default" and created.spec.service_account == "default"
    # The kubelet runs it on the one node.
    running = wait_until(lambda: (p := env.core.read_namespaced_pod("web", NS)).status.phase == "Running" and p,
                       "the pod running")
    assert running.spec.node_name == "sandbox" and running.status.host_ip == "127.0.0.1"


def test_pod_naming_a_missing_service_account_is_refused(env: Env, tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(f"""apiVersion: v1
kind: Pod
metadata:
  name: lonely
  namespace: {NS}
spec:
  serviceAccountName: ghost
  containers:
  - name: c
    image: hashicorp/http-echo
""")
    out = env.kubectl("apply", "-f", str(manifest), check=False)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f'Error from server (Forbidden): error when creating "{manifest}": pods "lonely" is forbidden: error looking '
        f'up service account {NS}/ghost: serviceaccount "ghost" not found')
    with pytest.raises(ApiException) as refused:
        env.core.create_namespaced_pod(NS, {"metadata": {"generateName": "lonely-"},
                                            "spec": {"serviceAccountName": "ghost",
                                                     "containers": [{"name": "c", "image": "x"}]}})
    # admission.NewForbidden names a generated pod by its generateName; a core kind's details have no group.
    assert refused.value.body == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"lonely-\\" is '
        f'forbidden: error looking up service account {NS}/ghost: serviceaccount \\"ghost\\" not found",'
        '"reason":"Forbidden","details":{"name":"lonely-","kind":"pods"},"code":403}\n')
    assert env.store.list(kinds.POD, NS)[0] == []


def test_deployment_pods_wait_for_their_service_account(env: Env) -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bot"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "bot"}},
                    "template": {"metadata": {"labels": {"app": "bot"}},
                                 "spec": {"serviceAccountName": "bot",
                                          "containers": [{"name": "bot", "image": "hashicorp/http-echo",
                                                          "args": ["-text=bot"]}]}}}}
    client.AppsV1Api(env.api).create_namespaced_deployment(NS, dep)

    def failure() -> str | None:
        status = env.store.get(kinds.DEPLOYMENT, NS, "bot").get("status") or {}
        return next((c["message"] for c in status.get("conditions") or []
                     if c["type"] == "ReplicaFailure" and c["reason"] == "FailedCreate"), None)

    message = wait_until(failure, "the FailedCreate condition")
    assert "is forbidden: error looking up service account apps/bot: serviceaccount \"bot\" not found" in message
    assert env.store.list(kinds.POD, NS)[0] == []
    env.kubectl("create", "sa", "bot", "-n", NS)
    pods = wait_until(lambda: env.store.list(kinds.POD, NS, label_selector="app=bot")[0], "the pod, once the SA exists")
    assert pods[0]["spec"]["serviceAccountName"] == "bot" and pods[0]["spec"]["nodeName"] == "sandbox"


def test_the_node(env: Env) -> None:
    nodes = client.CoreV1Api(env.api).list_node()
    assert [n.metadata.name for n in nodes.items] == ["sandbox"]
    # test_client.py test_node_apis: read_node of each listed node, with labels.
    node = env.core.read_node(nodes.items[0].metadata.name)
    assert node.metadata.labels["kubernetes.io/hostname"] == "sandbox"
    assert node.metadata.labels["kubernetes.io/os"] == "linux"
    assert node.status.capacity["cpu"] == str(os.cpu_count())
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    assert node.status.capacity["memory"] == f"{mem_kib}Ki" and node.status.capacity["pods"] == "110"
    assert node.status.allocatable["memory"] == f"{mem_kib - 100 * 1024}Ki"
    assert [(a.type, a.address) for a in node.status.addresses] == [("InternalIP", "127.0.0.1"),
                                                                     ("Hostname", "sandbox")]
    ready = next(c for c in node.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("True", "KubeletReady")
    assert node.status.node_info.operating_system == "linux" and node.status.node_info.kernel_version == os.uname()[2]
    table = env.kubectl("get", "nodes").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert table[1].split()[:3] == ["sandbox", "Ready", "<none>"] and table[1].split()[4] == "v1.32.0-sandbox"
    wide = env.kubectl("get", "no", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[5:7] == ["INTERNAL-IP", "EXTERNAL-IP"] and wide[1].split()[5:7] == ["127.0.0.1", "<none>"]
    # Nodes are cluster-scoped: no namespaced URL.
    with pytest.raises(urllib.error.HTTPError) as nowhere:
        env.served.urlopen("/api/v1/namespaces/default/nodes/sandbox")
    assert nowhere.value.code == 404


def test_kubectl_describe_node_and_get_sa_nodes_together(env: Env) -> None:
    env.core.create_namespaced_pod(NS, {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "hashicorp/http-echo", "args": ["-text=p"]}]}})
    wait_until(lambda: env.core.read_namespaced_pod("p", NS).spec.node_name == "sandbox", "the pod bound")
    described = env.kubectl("describe", "node", "sandbox").stdout
    assert "Name:               sandbox" in described
    assert "InternalIP:  127.0.0.1" in described and "Hostname:    sandbox" in described
    assert "Ready            True" in described and "KubeletReady" in described
    assert f"{NS}" in described and " p " in described  # the node's non-terminated pods
    both = env.kubectl("get", "sa,nodes", "-n", NS).stdout
    assert "serviceaccount/default" in both and "node/sandbox" in both
