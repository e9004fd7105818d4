"""Issue 20: a fresh sandbox holds what a Helm install of its Gloo version holds, seen with real kubectl 1.32.

The expected objects are transcribed by hand from Gloo's chart, ``install/helm/gloo/templates/`` of solo-io/gloo
at v1.3.20 (profile ``1.3``) and at main 8d57572e (``current``) rendered with the chart's default values
(``values-template.yaml``): ``1-gloo-deployment.yaml``, ``2-gloo-service-account.yaml``, ``2-gloo-service.yaml``,
``7-gateway-proxy-deployment.yaml``, ``8-gateway-proxy-service-account.yaml``, ``8-gateway-proxy-service.yaml``,
``9-gateway-proxy-configmap.yaml``, ``5-gateway-validation-webhook-configuration.yaml`` and, for ``current``,
``6.5-gateway-certgen-job-service-account.yaml``. One sandbox per profile serves every test of this module.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from cryptography import x509
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import struct_pb2
from polling import wait_until
from sandboxkit import Kube, kubectl_for, kubectl_forward, sandbox

from gloo_nb.app.cluster import connect
from gloo_nb.sandbox import runner
from gloo_nb.sandbox.runner import SandboxInfo

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

NS = "gloo-system"
TYPE_CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
VERSION = {"1.3": "1.3.20", "current": "1.22.1"}

# --- the chart, rendered with its default values (transcribed) ----------------------------------------------------

GLOO_PORTS = {
    # 1-gloo-deployment.yaml@v1.3.20: grpc-xds, grpc-validation, wasm-cache.
    "1.3": [("grpc-xds", 9977), ("grpc-validation", 9988), ("wasm-cache", 9979)],
    # 1-gloo-deployment.yaml@main: + rest-xds and grpc-proxydebug (http-monitoring needs podMonitorEnabled).
    "current": [("grpc-xds", 9977), ("rest-xds", 9976), ("grpc-validation", 9988), ("grpc-proxydebug", 9966),
                ("wasm-cache", 9979)],
}
GLOO_SERVICE_PORTS = {
    "1.3": [("grpc-xds", 9977), ("grpc-validation", 9988), ("metrics-grpc", 9966), ("wasm-cache", 9979)],
    "current": [("grpc-xds", 9977), ("rest-xds", 9976), ("grpc-validation", 9988), ("grpc-proxydebug", 9966),
                ("wasm-cache", 9979), ("https", 443)],
}
PROXY_LABELS = {"app": "gloo", "gloo": "gateway-proxy", "gateway-proxy-id": "gateway-proxy"}
PROXY_SELECTOR = {"gloo": "gateway-proxy", "gateway-proxy-id": "gateway-proxy"}
PROXY_POD_LABELS = {**PROXY_SELECTOR, "gateway-proxy": "live"}


@pytest.fixture(scope="module", params=["1.3", "current"])
def installed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[str, SandboxInfo, Kube]]:
    profile = str(request.param)
    root = tmp_path_factory.mktemp(f"install-{profile}")
    with sandbox(root / "sb", profile, replicas=2, validation="strict") as info:
        kube = kubectl_for(info, root)
        # Every Deployment's ReplicaSet and its adopted pods: the controllers run asynchronously.
        kube.run("rollout", "status", "-n", NS, "deploy/gateway-proxy", "--timeout=30s")
        kube.run("rollout", "status", "-n", NS, "deploy/gloo", "--timeout=30s")
        yield profile, info, kube


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in items}


def _container(obj: dict[str, Any]) -> dict[str, Any]:
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def test_kubectl_get_shows_the_charts_objects(installed: tuple[str, SandboxInfo, Kube]) -> None:
    profile, _info, kube = installed
    listed = kube.json("deploy,rs,sa,cm,svc", "-n", NS)["items"]
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for obj in listed:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj

    deploys = by_kind["Deployment"]
    # v1.3.20 also renders the gateway Deployment (5-gateway-deployment.yaml; tests/sandbox/test_webhook_server.py).
    assert set(deploys) == {"gloo", "gateway-proxy"} | ({"gateway"} if profile == "1.3" else set())
    gloo = deploys["gloo"]
    assert gloo["metadata"]["labels"] == {"app": "gloo", "gloo": "gloo"}
    assert gloo["spec"]["selector"] == {"matchLabels": {"gloo": "gloo"}}
    assert gloo["spec"]["template"]["metadata"]["labels"] == {"gloo": "gloo"}
    assert gloo["spec"]["template"]["spec"]["serviceAccountName"] == "gloo"
    assert gloo["spec"]["replicas"] == 1
    c = _container(gloo)
    assert (c["name"], c["image"]) == ("gloo", f"quay.io/solo-io/gloo:{VERSION[profile]}")
    assert [(p["name"], p["containerPort"]) for p in c["ports"]] == GLOO_PORTS[profile]
    assert gloo["status"]["readyReplicas"] == 1

    proxy = deploys["gateway-proxy"]
    assert proxy["metadata"]["labels"] == PROXY_LABELS
    assert proxy["spec"]["selector"] == {"matchLabels": PROXY_SELECTOR}
    assert proxy["spec"]["template"]["metadata"]["labels"] == PROXY_POD_LABELS
    assert proxy["spec"]["template"]["spec"]["serviceAccountName"] == "gateway-proxy"
    assert proxy["spec"]["replicas"] == 2
    c = _container(proxy)
    assert (c["name"], c["image"]) == ("gateway-proxy", f"quay.io/solo-io/gloo-envoy-wrapper:{VERSION[profile]}")
    assert [(p["name"], p["containerPort"]) for p in c["ports"]][:2] == [("http", 8080), ("https", 8443)]
    assert c["args"][0] == "--disable-hot-restart"
    assert proxy["status"]["readyReplicas"] == 2 and proxy["status"]["availableReplicas"] == 2

    # One ReplicaSet per Deployment, <deployment>-<pod-template-hash>, owned by it (the Deployment controller's).
    for rs in by_kind["ReplicaSet"].values():
        owner = rs["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "Deployment" and owner["uid"] == deploys[owner["name"]]["metadata"]["uid"]
        phash = rs["metadata"]["labels"]["pod-template-hash"]
        assert rs["metadata"]["name"] == f"{owner['name']}-{phash}"
    assert sorted(rs["metadata"]["ownerReferences"][0]["name"] for rs in by_kind["ReplicaSet"].values()) == [
        *(["gateway"] if profile == "1.3" else []), "gateway-proxy", "gloo"]

    sas = by_kind["ServiceAccount"]
    assert sas["gloo"]["metadata"]["labels"] == {"app": "gloo", "gloo": "gloo"}
    assert sas["gateway-proxy"]["metadata"]["labels"] == {"app": "gloo", "gloo": "gateway-proxy"}
    # main's certgen ServiceAccount exists with validation on; v1.3.20's chart has none.
    assert ("certgen" in sas) == (profile == "current")

    cm = by_kind["ConfigMap"]["gateway-proxy-envoy-config"]
    assert cm["metadata"]["labels"] == PROXY_LABELS
    boot = yaml.safe_load(cm["data"]["envoy.yaml"])
    assert boot["node"] == {"cluster": "gateway", "id": "{{.PodName}}.{{.PodNamespace}}",
                            "metadata": {"role": "{{.PodNamespace}}~gateway-proxy"}}
    xds = "gloo.gloo-system.svc.cluster.local:9977"
    assert boot["dynamic_resources"]["ads_config"]["grpc_services"] == [{"envoy_grpc": {"cluster_name": xds}}]
    assert boot["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 19000}

    svcs = by_kind["Service"]
    assert svcs["gloo"]["metadata"]["labels"] == {"app": "gloo", "gloo": "gloo"}
    assert svcs["gloo"]["spec"]["selector"] == {"gloo": "gloo"}
    assert [(p["name"], p["port"]) for p in svcs["gloo"]["spec"]["ports"]] == GLOO_SERVICE_PORTS[profile]
    assert svcs["gateway-proxy"]["metadata"]["labels"] == PROXY_LABELS
    assert svcs["gateway-proxy"]["spec"]["selector"] == {"gateway-proxy-id": "gateway-proxy", "gateway-proxy": "live"}
    assert [(p["name"], p["port"], p["targetPort"]) for p in svcs["gateway-proxy"]["spec"]["ports"]] == [
        ("http", 80, 8080), ("https", 443, 8443)]

    # The command, as one request per resource, the cluster-scoped configuration among the namespaced ones.
    shown = kube.run("get", "deploy,rs,sa,cm,svc,validatingwebhookconfigurations", "-n", NS).stdout
    for name in ("deployment.apps/gloo", "deployment.apps/gateway-proxy", "serviceaccount/gloo",
                 "serviceaccount/gateway-proxy", "configmap/gateway-proxy-envoy-config", "service/gloo",
                 "validatingwebhookconfiguration.admissionregistration.k8s.io/"
                 "gloo-gateway-validation-webhook-gloo-system"):
        assert re.search(rf"^{re.escape(name)}\s", shown, re.M), (name, shown)
    assert re.search(r"^replicaset\.apps/gloo-[a-z0-9]{10}\s+1\s+1\s+1\s", shown, re.M), shown
    # kubectl's table: the printer columns of Deployments and of the webhook configurations.
    table = kube.run("get", "deploy", "-n", NS).stdout
    assert re.search(r"^gateway-proxy\s+2/2\s+2\s+2\s", table, re.M), table
    assert re.search(r"^gloo\s+1/1\s+1\s+1\s", table, re.M), table


def test_the_pods_belong_to_their_replicasets(installed: tuple[str, SandboxInfo, Kube]) -> None:
    profile, _info, kube = installed
    sets = _by_name(kube.json("rs", "-n", NS)["items"])
    pods = kube.json("pods", "-n", NS)["items"]
    names = sorted(p["metadata"]["name"] for p in pods)
    # The replicas' pods, gloo's and 1.3's gateway pod.
    assert [n for n in names if n.startswith("gateway-proxy-")] == ["gateway-proxy-0", "gateway-proxy-1"], names
    assert len(names) == (4 if profile == "1.3" else 3), names
    for pod in pods:
        owner = pod["metadata"]["ownerReferences"][0]
        rs = sets[owner["name"]]
        assert owner["kind"] == "ReplicaSet" and owner["controller"] is True and owner["uid"] == rs["metadata"]["uid"]
        assert pod["metadata"]["labels"]["pod-template-hash"] == rs["metadata"]["labels"]["pod-template-hash"]
        assert pod["status"]["phase"] == "Running"
    gloo_pod = next(p for p in pods if p["metadata"]["labels"].get("gloo") == "gloo")
    assert re.fullmatch(r"gloo-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}",
                        gloo_pod["metadata"]["name"])


def test_the_validating_webhook_configuration(installed: tuple[str, SandboxInfo, Kube]) -> None:
    profile, _info, kube = installed
    table = kube.run("get", "validatingwebhookconfigurations").stdout
    want = 1 if profile == "1.3" else 2
    assert re.search(rf"^gloo-gateway-validation-webhook-gloo-system\s+{want}\s", table, re.M), table
    config = kube.json("validatingwebhookconfiguration", "gloo-gateway-validation-webhook-gloo-system")
    assert config["apiVersion"] == "admissionregistration.k8s.io/v1"
    assert config["metadata"]["labels"] == {"app": "gloo", "gloo": "gateway"}
    hook = config["webhooks"][0]
    service = "gateway" if profile == "1.3" else "gloo"
    assert hook["name"] == f"{service}.gloo-system.svc"
    assert hook["clientConfig"]["service"] == {"name": service, "namespace": NS, "path": "/validation"}
    assert hook["failurePolicy"] == "Ignore"
    if profile == "1.3":
        assert hook["rules"] == [{"operations": ["CREATE", "UPDATE", "DELETE"], "apiGroups": ["gateway.solo.io"],
                                  "apiVersions": ["v1"], "resources": ["*"]}]
    else:
        assert hook["sideEffects"] == "None" and hook["matchPolicy"] == "Exact"
        assert [r["resources"] for r in hook["rules"]] == [
            ["virtualservices"], ["routetables"], ["gateways"], ["upstreams"], ["ratelimitconfigs"]]
        assert config["webhooks"][1]["name"] == "kube.gloo-system.svc"
    # The caBundle is the certgen Secret's CA, which signed the server certificate for the webhook's Service.
    secret = kube.json("secret", "-n", NS, "gateway-validation-certs")
    assert secret["type"] == "kubernetes.io/tls"
    ca_pem = base64.b64decode(secret["data"]["ca.crt"])
    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == ca_pem
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)
    assert f"{service}.gloo-system.svc" in names


def test_rollout_status_and_profile_detection_through_the_kubeconfig(
        installed: tuple[str, SandboxInfo, Kube]) -> None:
    profile, info, kube = installed
    out = kube.run("rollout", "status", "-n", NS, "deploy/gateway-proxy", "--timeout=10s").stdout
    assert out.strip() == 'deployment "gateway-proxy" successfully rolled out'
    # gloo_nb.app.cluster: the profile from the gloo Deployment's image tag, through the kubeconfig.
    conn = connect(str(info.kubeconfig), port_forward=False)
    try:
        assert conn.profile == profile
    finally:
        conn.close()


def test_a_default_sandbox_has_the_webhook_configuration_as_a_default_helm_install(tmp_path: Path) -> None:
    # values-template.yaml: gateway.validation.enabled is true by default (alwaysAcceptResources: true), so the
    # chart renders the configuration; a sandbox started without --validation holds it too.
    with sandbox(tmp_path / "sb", "1.3", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        config = kube.json("validatingwebhookconfigurations")["items"]
        assert [c["metadata"]["name"] for c in config] == ["gloo-gateway-validation-webhook-gloo-system"]


def test_logs_of_deploy_gloo_are_the_control_planes(installed: tuple[str, SandboxInfo, Kube]) -> None:
    _profile, _info, kube = installed
    out = kube.run("logs", "-n", NS, "deploy/gloo").stdout
    assert "sandbox serving" in out


def _apply_static_upstream(kube: Kube) -> None:
    kube.run("apply", "-f", "-", input=json.dumps({
        "apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "static-web", "namespace": NS},
        "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 9}]}}}))


def _ads_clusters(address: str, role: str) -> list[str]:
    """One real ADS stream (State of the World): ask for every cluster and return their names."""
    requests: queue.SimpleQueue[discovery_pb2.DiscoveryRequest | None] = queue.SimpleQueue()
    node = base_pb2.Node(id="gloo-nb-install-test", cluster="gateway",
                         metadata=struct_pb2.Struct(fields={"role": struct_pb2.Value(string_value=role)}))
    requests.put(discovery_pb2.DiscoveryRequest(type_url=TYPE_CLUSTER, node=node))

    def it() -> Iterator[discovery_pb2.DiscoveryRequest]:
        while (req := requests.get()) is not None:
            yield req

    with grpc.insecure_channel(address) as channel:
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
        stream = stub.StreamAggregatedResources(it(), timeout=15)
        try:
            resp = next(iter(stream))
        finally:
            requests.put(None)
            stream.cancel()
    assert resp.type_url == TYPE_CLUSTER
    names = []
    for res in resp.resources:
        cluster = cluster_pb2.Cluster()
        res.Unpack(cluster)
        names.append(cluster.name)
    return names


def test_port_forward_to_deploy_gloo_reaches_the_xds_server_and_exec_reaches_envoy(
        installed: tuple[str, SandboxInfo, Kube]) -> None:
    _profile, _info, kube = installed
    _apply_static_upstream(kube)
    # What a replica really applied: kubectl resolves deploy/gateway-proxy to one of its pods and runs wget there.
    dump = wait_until(lambda: kube.run("exec", "-n", NS, "deploy/gateway-proxy", "--", "wget", "-q", "-O", "-",
                                       "localhost:19000/config_dump").stdout,
                      "the replica's config_dump with the upstream's cluster",
                      until=lambda out: "static-web_gloo-system" in out, timeout=20)
    applied = {c["cluster"]["name"] for c in json.loads(dump)["configs"][1].get("dynamic_active_clusters", [])}
    with kubectl_forward(kube, "-n", NS, "deploy/gloo", ":9977") as (port, _):
        served = _ads_clusters(f"127.0.0.1:{port}", "gloo-system~gateway-proxy")
    assert "static-web_gloo-system" in served
    assert set(served) == applied


def test_deleted_daemon_pods_come_back_and_the_replicaset_makes_none(
        installed: tuple[str, SandboxInfo, Kube]) -> None:
    _profile, _info, kube = installed
    before = _by_name(kube.json("pods", "-n", NS)["items"])
    gloo_name = next(n for n, p in before.items() if p["metadata"]["labels"].get("gloo") == "gloo")
    kube.run("delete", "pod", "-n", NS, "gateway-proxy-0", gloo_name, "--wait=true")
    after = wait_until(lambda: _by_name(kube.json("pods", "-n", NS)["items"]), "the daemon's pods published again",
                       until=lambda pods: set(pods) == set(before)
                       and all(p["metadata"]["uid"] != before[n]["metadata"]["uid"]
                               for n, p in pods.items() if n in ("gateway-proxy-0", gloo_name)))
    assert after["gateway-proxy-1"]["metadata"]["uid"] == before["gateway-proxy-1"]["metadata"]["uid"]
    # The ReplicaSets adopt the new pods and create none of their own, now or a moment later.
    time.sleep(1.0)
    pods = kube.json("pods", "-n", NS)["items"]
    assert sorted(p["metadata"]["name"] for p in pods) == sorted(before)
    wait_until(lambda: all(p["metadata"].get("ownerReferences") for p in kube.json("pods", "-n", NS)["items"]),
               "the new pods adopted")
    events = kube.run("get", "events", "-n", NS, "-o", "json").stdout
    assert "SuccessfulCreate" not in events
    kube.run("rollout", "status", "-n", NS, "deploy/gateway-proxy", "--timeout=20s")
    kube.run("rollout", "status", "-n", NS, "deploy/gloo", "--timeout=20s")


def test_scaling_the_proxy_deployment_adds_no_pod(installed: tuple[str, SandboxInfo, Kube]) -> None:
    # The replicas are the daemon's Envoy processes (--replicas at start): the Deployment's spec changes, its
    # ReplicaSet wants 3, and no pod is made from the template; the rollout does not complete.
    _profile, _info, kube = installed
    kube.run("scale", "-n", NS, "deploy/gateway-proxy", "--replicas=3")
    try:
        rs = wait_until(lambda: kube.json("rs", "-n", NS, "-l", "gateway-proxy-id=gateway-proxy")["items"],
                        "the ReplicaSet scaled", until=lambda items: items and items[0]["spec"]["replicas"] == 3)
        time.sleep(1.0)
        assert len(kube.json("pods", "-n", NS, "-l", "gateway-proxy-id=gateway-proxy")["items"]) == 2
        assert rs[0]["status"]["replicas"] == 2
    finally:
        kube.run("scale", "-n", NS, "deploy/gateway-proxy", "--replicas=2")
    kube.run("rollout", "status", "-n", NS, "deploy/gateway-proxy", "--timeout=20s")


def test_many_proxies_one_deployment_each_and_no_webhook_with_validation_off(tmp_path: Path) -> None:
    state = tmp_path / "sb"
    try:
        info = runner.start(state, gloo_version="current", proxies=["gateway-proxy:1", "internal:2"],
                            exit_with=os.getpid(), validation="off")
        kube = kubectl_for(info, tmp_path)
        kube.run("rollout", "status", "-n", NS, "deploy/internal", "--timeout=30s")
        deploys = _by_name(kube.json("deploy", "-n", NS)["items"])
        assert set(deploys) == {"gloo", "gateway-proxy", "internal"}
        internal = deploys["internal"]
        # 7-gateway-proxy-deployment.yaml: one Deployment per gatewayProxies entry, named and labelled after it.
        assert internal["metadata"]["labels"] == {**PROXY_LABELS, "gateway-proxy-id": "internal"}
        assert internal["spec"]["selector"] == {"matchLabels": {**PROXY_SELECTOR, "gateway-proxy-id": "internal"}}
        assert internal["spec"]["replicas"] == 2 and deploys["gateway-proxy"]["spec"]["replicas"] == 1
        assert internal["status"]["readyReplicas"] == 2
        cms = _by_name(kube.json("cm", "-n", NS)["items"])
        boot = yaml.safe_load(cms["internal-envoy-config"]["data"]["envoy.yaml"])
        assert boot["node"]["metadata"]["role"] == "{{.PodNamespace}}~internal"
        pods = kube.json("pods", "-n", NS, "-l", "gateway-proxy-id=internal")["items"]
        assert sorted(p["metadata"]["name"] for p in pods) == ["internal-0", "internal-1"]
        assert all(p["metadata"]["ownerReferences"][0]["name"].startswith("internal-") for p in pods)
        # --validation off: Helm's gateway.validation.enabled=false renders no configuration, no certgen.
        assert "gloo-gateway-validation-webhook" not in kube.run("get", "validatingwebhookconfigurations").stdout
        assert "certgen" not in kube.run("get", "sa", "-n", NS).stdout
        gloo_pod = [p["metadata"]["name"] for p in kube.json("pods", "-n", NS, "-l", "gloo=gloo")["items"]]
        runner.stop(state)
        # A restart with other proxies: the Deployment follows --proxy's count, internal's workloads go, the gloo
        # pod keeps its name, and nothing is duplicated.
        info = runner.start(state, proxies=["gateway-proxy:2"], exit_with=os.getpid(), validation="off")
        kube.run("rollout", "status", "-n", NS, "deploy/gateway-proxy", "--timeout=30s")
        deploys = _by_name(kube.json("deploy", "-n", NS)["items"])
        assert set(deploys) == {"gloo", "gateway-proxy"} and deploys["gateway-proxy"]["spec"]["replicas"] == 2
        assert "internal-envoy-config" not in _by_name(kube.json("cm", "-n", NS)["items"])
        pods = wait_until(lambda: sorted(p["metadata"]["name"] for p in kube.json("pods", "-n", NS)["items"]),
                          "internal's pods gone", until=lambda names: len(names) == 3)
        assert pods == sorted(["gateway-proxy-0", "gateway-proxy-1", *gloo_pod])
        wait_until(lambda: kube.json("rs", "-n", NS, "-l", "gateway-proxy-id=internal")["items"],
                   "internal's ReplicaSet collected", until=lambda items: items == [])
    finally:
        runner.stop(state)



def test_a_users_webhook_configuration_is_stored_and_never_called(installed: tuple[str, SandboxInfo, Kube]) -> None:
    # Served as a kind: kubectl apply, get and delete work; the sandbox calls no webhook it names (a Service that
    # does not exist, failurePolicy Fail: on a cluster every matching write would then be refused).
    _profile, _info, kube = installed
    config = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
              "metadata": {"name": "deny-configmaps"},
              "webhooks": [{"name": "deny.example.com", "failurePolicy": "Fail", "sideEffects": "None",
                            "admissionReviewVersions": ["v1"],
                            "clientConfig": {"service": {"name": "nowhere", "namespace": "default"}},
                            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                       "resources": ["configmaps"]}]}]}
    kube.run("apply", "-f", "-", input=json.dumps(config))
    try:
        assert kube.json("validatingwebhookconfiguration", "deny-configmaps")["webhooks"][0]["name"] == \
            "deny.example.com"
        kube.run("create", "configmap", "admitted", "-n", "default", "--from-literal=a=b")
        kube.run("delete", "configmap", "admitted", "-n", "default")
    finally:
        kube.run("delete", "validatingwebhookconfiguration", "deny-configmaps")
    assert "deny-configmaps" not in kube.run("get", "validatingwebhookconfigurations").stdout
