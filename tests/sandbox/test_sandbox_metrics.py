"""The resource metrics API (metrics.k8s.io/v1beta1): ``kubectl top`` and the Python client's metrics utilities.

A store served in-process with the sandbox's kubelet and its Node, the metrics API registered as the daemon
registers it; pods are real local processes, measured from /proc.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, utils
from kubernetes.client.rest import ApiException
from kubernetes.utils.quantity import parse_quantity
from sandboxkit import alive, kubectl_for, sandbox

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubeapi import ServerThread, metrics, write_kubeconfig
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.kubelet import Kubelet
from gloo_nb.sandbox.node import register_node
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

NS = "apps"
POD = "myapp-pod"
BUSY = "busy"


class Env:
    def __init__(self, store: Store, kubeconfig: Path, home: Path, api: client.ApiClient) -> None:
        self.store = store
        self.kubeconfig = kubeconfig
        self.home = home
        self.api = api
        self.core = client.CoreV1Api(api)

    def kubectl(self, *args: str, check: bool = True) -> Any:
        import os
        import subprocess
        out = subprocess.run(["kubectl", "--kubeconfig", str(self.kubeconfig), *args], capture_output=True,
                             text=True, timeout=60, env={**os.environ, "HOME": str(self.home)})
        if check and out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {out.stderr}")
        return out

    def wait_running(self, name: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pod = self.store.find(kinds.POD, NS, name)
            if pod and (pod.get("status") or {}).get("phase") == "Running":
                return
            time.sleep(0.1)
        raise AssertionError(f"pod {name} did not run")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    store = Store(tmp_path / "state")
    kubelet = Kubelet(store, tmp_path)
    server = ServerThread(store, Credentials.load_or_create(tmp_path / "pki"))
    try:
        for ns in ("default", NS):
            store.create(kinds.NAMESPACE, {"metadata": {"name": ns}})
        register_node(store, tmp_path)
        kubelet.start()
        url = server.start()
        assert server.server is not None
        server.server.register_group_version(metrics.GROUP, metrics.VERSION,
                                             metrics.MetricsApi(store, kubelet.processes))
        kubeconfig = tmp_path / "kubeconfig"
        write_kubeconfig(kubeconfig, url, server.credentials)
        api = config.new_client_from_config(str(kubeconfig))
        try:
            yield Env(store, kubeconfig, tmp_path / "home", api)
        finally:
            api.close()
    finally:
        server.stop()
        pids = list(kubelet.processes().values())
        kubelet.stop()
        store.close()
        assert not [p for p in pids if alive(p)], "kubelet.stop() left processes behind"


def _pods(env: Env) -> None:
    # The e2e suite's core-pod.yaml (busybox, sleeping), and a pod whose shell spins.
    env.core.create_namespaced_pod(NS, {"metadata": {"name": POD, "labels": {"app": "myapp"}}, "spec": {
        "containers": [{"name": "myapp-container", "image": "busybox",
                        "command": ["sh", "-c", "echo Hello Kubernetes! && sleep 3600"]}]}})
    env.core.create_namespaced_pod(NS, {"metadata": {"name": BUSY, "labels": {"app": "busy"}}, "spec": {
        "containers": [{"name": "spin", "image": "busybox", "command": ["sh", "-c", "while true; do :; done"]}]}})
    env.wait_running(POD)
    env.wait_running(BUSY)


def test_kubectl_top_prints_measured_usage(env: Env) -> None:
    _pods(env)
    rows = [line.split() for line in env.kubectl("top", "pod", "-n", NS, "--containers").stdout.splitlines()]
    assert rows[0] == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    by_pod = {r[0]: r for r in rows[1:]}
    assert set(by_pod) == {POD, BUSY}
    assert by_pod[BUSY][1] == "spin" and by_pod[POD][1] == "myapp-container"
    busy_cpu, busy_mem = int(by_pod[BUSY][2].rstrip("m")), int(by_pod[BUSY][3].rstrip("Mi"))
    assert busy_cpu >= 50 and busy_mem > 0  # a spinning shell uses most of a core (2 shared cores: be lenient)
    assert int(by_pod[POD][2].rstrip("m")) < busy_cpu
    everywhere = env.kubectl("top", "pod", "-A").stdout.splitlines()
    assert everywhere[0].split() == ["NAMESPACE", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert {tuple(line.split()[:2]) for line in everywhere[1:]} == {(NS, POD), (NS, BUSY)}
    node = env.kubectl("top", "node").stdout.splitlines()
    assert node[0].split()[:2] == ["NAME", "CPU(cores)"]
    name, cpu, _, memory, _ = node[1].split()
    assert name == "sandbox" and int(cpu.rstrip("m")) > 0 and int(memory.rstrip("Mi")) > 0


def test_the_e2e_metrics_flow(env: Env) -> None:
    # kubernetes-client/python e2e_test/test_utils.py test_metrics_utilities_integration, step by step.
    _pods(env)
    nodes = utils.get_nodes_metrics(env.api)
    assert [n["metadata"]["name"] for n in nodes["items"]] == ["sandbox"]
    usage = nodes["items"][0]["usage"]
    assert parse_quantity(usage["cpu"]) > 0 and parse_quantity(usage["memory"]) > 0
    assert usage["memory"][-2:] in ("Ki", "Mi")  # bytes of whole pages, in BinarySI's canonical form
    result = utils.get_pods_metrics(env.api, NS)
    assert [i["metadata"]["name"] for i in result["items"]] == [BUSY, POD]  # sorted, as metrics-server sorts
    result = utils.get_pods_metrics(env.api, NS, "app=myapp")
    assert [i["metadata"]["name"] for i in result["items"]] == [POD]
    item = result["items"][0]
    assert item["kind"] == "PodMetrics" and item["metadata"]["labels"] == {"app": "myapp"}
    assert item["containers"][0]["name"] == "myapp-container"
    assert parse_quantity(item["containers"][0]["usage"]["memory"]) > Decimal(1024 * 1024)
    assert item["window"].endswith("s") and item["timestamp"].endswith("Z")
    across = utils.get_pods_metrics_in_all_namespaces(env.api, [NS, "default"])
    assert "error" not in across[NS] and across["default"]["items"] == []
    # A field selector on the name, as metrics-server's filter supports (metadata.name, metadata.namespace).
    custom = client.CustomObjectsApi(env.api)
    one = custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", NS, "pods",
                                               field_selector=f"metadata.name={BUSY}")
    assert [i["metadata"]["name"] for i in one["items"]] == [BUSY]
    # kubectl get asks for a Table: metrics-server's columns (Name, cpu, memory, Window).
    table = env.kubectl("get", "pods.metrics.k8s.io", "-n", NS).stdout.splitlines()
    assert table[0].split() == ["NAME", "CPU", "MEMORY", "WINDOW"]
    assert sorted(line.split()[0] for line in table[1:]) == [BUSY, POD]
    assert env.kubectl("get", "nodes.metrics.k8s.io").stdout.splitlines()[1].split()[0] == "sandbox"
    busy = custom.get_namespaced_custom_object("metrics.k8s.io", "v1beta1", NS, "pods", BUSY)
    assert parse_quantity(busy["containers"][0]["usage"]["cpu"]) > Decimal("0.05")


def test_no_metrics_for_a_missing_or_finished_pod(env: Env) -> None:
    custom = client.CustomObjectsApi(env.api)
    with pytest.raises(ApiException) as missing:
        custom.get_namespaced_custom_object("metrics.k8s.io", "v1beta1", NS, "pods", "nope")
    assert missing.value.status == 404 and '"message":"pods \\"nope\\" not found"' in missing.value.body
    env.core.create_namespaced_pod(NS, {"metadata": {"name": "done"}, "spec": {"restartPolicy": "Never",
                                   "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]}})
    deadline = time.monotonic() + 20
    while (env.store.get(kinds.POD, NS, "done").get("status") or {}).get("phase") != "Succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with pytest.raises(ApiException) as finished:
        custom.get_namespaced_custom_object("metrics.k8s.io", "v1beta1", NS, "pods", "done")
    assert finished.value.status == 404
    assert 'podmetrics.metrics.k8s.io \\"apps/done\\" not found' in finished.value.body
    top = env.kubectl("top", "pod", "done", "-n", NS, check=False)
    assert top.returncode != 0 and 'podmetrics.metrics.k8s.io "apps/done" not found' in top.stderr
    with pytest.raises(ApiException) as node:
        custom.get_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes", "elsewhere")
    assert node.value.status == 404 and 'nodes \\"elsewhere\\" not found' in node.value.body


def test_discovery_and_rbac(env: Env) -> None:
    listed = env.kubectl("api-resources", "--api-group=metrics.k8s.io", "--no-headers").stdout.split("\n")
    rows = sorted(line.split() for line in listed if line.strip())
    assert rows == [["nodes", "metrics.k8s.io/v1beta1", "false", "NodeMetrics"],
                    ["pods", "metrics.k8s.io/v1beta1", "true", "PodMetrics"]]
    assert '"verbs":["get","list"]' in env.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1").stdout
    # Reads as for any resource: RBAC's get/list on pods.metrics.k8s.io.
    denied = env.kubectl("top", "pod", "-n", NS, "--as", "bob", check=False)
    assert denied.returncode != 0
    assert ('pods.metrics.k8s.io is forbidden: User "bob" cannot list resource "pods" in API group '
            '"metrics.k8s.io" in the namespace "apps"') in denied.stderr
    env.store.create(kinds.CLUSTER_ROLE, {"metadata": {"name": "top"}, "rules": [
        {"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": ["get", "list"]},
        # kubectl top node lists the core Nodes too (k8s.io/kubectl/pkg/cmd/top/top_node.go RunTopNode).
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}]})
    env.store.create(kinds.CLUSTER_ROLE_BINDING, {"metadata": {"name": "bob-top"}, "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "top"},
        "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}]})
    env.kubectl("top", "node", "--as", "bob")
    # Not the store: no writes, no watch.
    with pytest.raises(ApiException) as write:
        client.CustomObjectsApi(env.api).create_namespaced_custom_object(
            "metrics.k8s.io", "v1beta1", NS, "pods", {"metadata": {"name": "x"}})
    assert write.value.status == 405


@pytest.mark.envoy
def test_the_sandbox_daemon_serves_its_envoy_pods_metrics_and_tokens(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with sandbox(state, "current", replicas=2) as info:
        kube = kubectl_for(info, tmp_path)
        rows = [line.split() for line in kube.run("top", "pod", "-n", "gloo-system", "--containers").stdout
                .splitlines()]
        assert rows[0] == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
        by_pod = {r[0]: r for r in rows[1:]}
        assert {"gateway-proxy-0", "gateway-proxy-1"} <= set(by_pod)
        for name in ("gateway-proxy-0", "gateway-proxy-1"):
            assert by_pod[name][1] == "gateway-proxy"
            assert int(by_pod[name][3].rstrip("Mi")) >= 10  # a real Envoy's resident set
        assert kube.run("top", "node").stdout.splitlines()[1].split()[0] == "sandbox"
        # The gloo pod stands for the daemon itself (API server, kubelet and all): it has no metrics of its own.
        gloo = [p["metadata"]["name"] for p in kube.json("pods", "-n", "gloo-system")["items"]
                if p["metadata"]["name"].startswith("gloo-")]
        assert gloo and not set(gloo) & set(by_pod)
        none = kube.run("top", "pod", gloo[0], "-n", "gloo-system", check=False)
        assert none.returncode != 0 and f'podmetrics.metrics.k8s.io "gloo-system/{gloo[0]}" not found' in none.stderr
        # The daemon's API mints and accepts ServiceAccount tokens too, signed with a key in its state directory.
        token = kube.run("create", "token", "default", "-n", "gloo-system").stdout.strip()
        assert (state / "pki" / "sa.key").exists()
        can = kube.run("--token", token, "auth", "can-i", "list", "pods", "-n", "gloo-system", check=False)
        assert can.stdout.strip() == "no" and can.returncode == 1
        assert kube.run("--token", token, "auth", "can-i", "create", "selfsubjectaccessreviews").stdout.strip() \
            == "yes"
    # The key is kept: a token minted before a restart is still accepted after it.
    with sandbox(state, "current", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        assert kube.run("--token", token, "auth", "can-i", "create", "selfsubjectaccessreviews").stdout.strip() \
            == "yes"
