"""ReplicationControllers, DaemonSets and ControllerRevisions, with real kubectl 1.32 and the official Python client
against the sandbox's API server, controllers and kubelet (issue 18; the Python client's e2e flows for them)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, utils
from kubernetes.client.rest import ApiException
from polling import wait_until
from sandboxkit import Kube, alive, in_process_api
from test_kubelet import NS, start_kubelet

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubelet import Kubelet
from gloo_nb.sandbox.node import register_node
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

_SUFFIX = "[bcdfghjklmnpqrstvwxz2456789]{5}"


class Cluster:
    def __init__(self, store: Store, kubelet: Kubelet, kube: Kube, api: client.ApiClient) -> None:
        self.store = store
        self.kubelet = kubelet
        self.kube = kube
        self.api = api
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return self.kube.run(*args, input=stdin).stdout

    def pods(self, owner_kind: str | None = None, owner: str | None = None) -> list[dict[str, Any]]:
        return [p for p in self.store.list(kinds.POD, NS)[0]
                if owner is None or any(r.get("kind") == owner_kind and r.get("name") == owner
                                        for r in p["metadata"].get("ownerReferences") or [])]

    def revisions(self, ds: str) -> list[dict[str, Any]]:
        return sorted((r for r in self.store.list(kinds.CONTROLLER_REVISION, NS)[0]
                       if any(o.get("name") == ds for o in r["metadata"].get("ownerReferences") or [])),
                      key=lambda r: r["revision"])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    store = Store()
    store.create(kinds.NAMESPACE, {"metadata": {"name": NS}})
    register_node(store, tmp_path)
    kubelet = start_kubelet(store, tmp_path)
    api: client.ApiClient | None = None
    try:
        with in_process_api(store, tmp_path) as served:
            (tmp_path / "home").mkdir()
            api = config.new_client_from_config(str(served.kubeconfig))
            yield Cluster(store, kubelet, Kube(str(served.kubeconfig), tmp_path / "home"), api)
    finally:
        if api is not None:
            api.close()
        pids = list(kubelet.processes().values())
        kubelet.stop()
        assert not [p for p in pids if alive(p)], "kubelet.stop() left processes behind"


def echo_template(text: str = "v1", app: str = "echo") -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "echo", "image": "hashicorp/http-echo:0.2.3",
                                     "args": [f"-text={text}", "-listen=:8080"],
                                     "ports": [{"containerPort": 8080}]}]}}


def rc_manifest(name: str = "echo", replicas: int = 2) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name},
                       "spec": {"replicas": replicas, "template": echo_template(app=name)}})


def ds_manifest(name: str = "agent", **spec: Any) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
                       "spec": {"selector": {"matchLabels": {"app": name}}, "template": echo_template(app=name),
                                **spec}})


# --- ReplicationControllers ------------------------------------------------------------------------


def test_the_python_clients_replication_controller_flow(cluster: Cluster) -> None:
    # kubernetes-client/python e2e_test/test_client.py test_replication_controller_apis, plus the pods it makes.
    name = "frontend-abc12"
    manifest = {"apiVersion": "v1", "kind": "ReplicationController",
                "metadata": {"labels": {"name": name}, "name": name},
                "spec": {"replicas": 2, "selector": {"name": name},
                         "template": {"metadata": {"labels": {"name": name}},
                                      "spec": {"containers": [{"image": "nginx", "name": "nginx",
                                                               "ports": [{"containerPort": 80,
                                                                          "protocol": "TCP"}]}]}}}}
    resp = cluster.core.create_namespaced_replication_controller(body=manifest, namespace=NS)
    assert (resp.metadata.name, resp.spec.replicas, resp.status.replicas) == (name, 2, 0)
    resp = cluster.core.read_namespaced_replication_controller(name=name, namespace=NS)
    assert (resp.metadata.name, resp.spec.replicas) == (name, 2)

    wait_until(lambda: (cluster.store.get(kinds.REPLICATION_CONTROLLER, NS, name).get("status") or {})
               .get("readyReplicas") == 2, "the RC's two pods to be ready")
    rc = cluster.store.get(kinds.REPLICATION_CONTROLLER, NS, name)
    pods = cluster.pods("ReplicationController", name)
    assert len(pods) == 2
    for pod in pods:
        assert re.fullmatch(rf"{name}-{_SUFFIX}", pod["metadata"]["name"])
        assert pod["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "ReplicationController",
                                                       "name": name, "uid": rc["metadata"]["uid"],
                                                       "controller": True, "blockOwnerDeletion": True}]
    st = cluster.core.read_namespaced_replication_controller_status(name, NS).status
    assert (st.replicas, st.ready_replicas, st.available_replicas, st.fully_labeled_replicas,
            st.observed_generation) == (2, 2, 2, 2, 1)
    events = [e for e in cluster.store.list(kinds.EVENT, NS)[0] if e["involvedObject"].get("name") == name]
    assert {(e["source"]["component"], e["reason"]) for e in events} == {
        ("replication-controller", "SuccessfulCreate")}

    cluster.core.delete_namespaced_replication_controller(name=name, namespace=NS, propagation_policy="Background")
    wait_until(lambda: not cluster.pods("ReplicationController", name), "the garbage collector to remove the pods")


MULTI_RESOURCE = """\
apiVersion: v1
kind: Service
metadata:
  name: mock
  labels:
    app: mock
spec:
  ports:
  - port: 99
    protocol: TCP
    targetPort: 9949
  selector:
    app: mock
---
apiVersion: v1
kind: ReplicationController
metadata:
  name: mock
spec:
  replicas: 1
  selector:
    app: mock
  template:
    metadata:
      labels:
        app: mock
    spec:
      containers:
      - name: mock-container
        image: k8s.gcr.io/pause:2.0
        ports:
        - containerPort: 9949
          protocol: TCP
"""


def test_create_from_yaml_with_a_replication_controller_and_a_service(cluster: Cluster, tmp_path: Path) -> None:
    # e2e_test/test_utils.py test_create_from_multi_resource_yaml (its multi-resource.yaml).
    path = tmp_path / "multi-resource.yaml"
    path.write_text(MULTI_RESOURCE)
    utils.create_from_yaml(cluster.api, str(path), namespace=NS)
    svc = cluster.core.read_namespaced_service(name="mock", namespace=NS)
    assert (svc.metadata.name, svc.metadata.labels["app"], svc.spec.selector["app"]) == ("mock", "mock", "mock")
    ctr = cluster.core.read_namespaced_replication_controller(name="mock", namespace=NS)
    assert (ctr.metadata.name, ctr.spec.template.metadata.labels["app"], ctr.spec.selector["app"],
            ctr.spec.replicas) == ("mock", "mock", "mock", 1)
    assert (ctr.spec.template.spec.containers[0].image, ctr.spec.template.spec.containers[0].name) == (
        "k8s.gcr.io/pause:2.0", "mock-container")
    # SetDefaults_ReplicationController: no labels of its own, so the template's.
    assert ctr.metadata.labels == {"app": "mock"}
    wait_until(lambda: len(cluster.pods("ReplicationController", "mock")) == 1, "the RC's pod")
    # A second create of the same file: AlreadyExists, as utils.FailToCreateError reports it.
    with pytest.raises(utils.FailToCreateError) as failed:
        utils.create_from_yaml(cluster.api, str(path), namespace=NS)
    assert sorted(e.status for e in failed.value.api_exceptions) == [409, 409]
    cluster.core.delete_namespaced_replication_controller(name="mock", namespace=NS, propagation_policy="Background")
    cluster.core.delete_namespaced_service(name="mock", namespace=NS, body={})
    wait_until(lambda: not cluster.pods("ReplicationController", "mock"), "the RC's pod to go")


def test_kubectl_get_scale_and_cascade_delete_of_a_replication_controller(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-n", NS, "-f", "-", stdin=rc_manifest())
    rc = cluster.store.get(kinds.REPLICATION_CONTROLLER, NS, "echo")
    # SetDefaults_ReplicationController: the selector and the labels from the template's labels.
    assert rc["spec"]["selector"] == {"app": "echo"} and rc["metadata"]["labels"] == {"app": "echo"}
    wait_until(lambda: (cluster.store.get(kinds.REPLICATION_CONTROLLER, NS, "echo").get("status") or {})
               .get("readyReplicas") == 2, "two ready replicas")
    shown = cluster.kubectl("get", "rc", "-n", NS)
    assert shown.splitlines()[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"], shown
    assert re.search(r"^echo\s+2\s+2\s+2\s+\S+$", shown, re.M), shown
    wide = cluster.kubectl("get", "rc", "-n", NS, "-o", "wide")
    assert wide.splitlines()[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES",
                                            "SELECTOR"], wide
    assert re.search(r"^echo\s+2\s+2\s+2\s+\S+\s+echo\s+hashicorp/http-echo:0.2.3\s+app=echo$", wide, re.M), wide
    assert re.search(r"^replicationcontroller/echo\s+2\s+2\s+2", cluster.kubectl("get", "all", "-n", NS), re.M)

    # kubectl scale rc: the scale subresource (an autoscaling/v1 Scale), then the controller.
    assert cluster.kubectl("scale", "rc", "echo", "--replicas=3", "-n", NS).strip() == (
        "replicationcontroller/echo scaled")
    wait_until(lambda: len(cluster.pods("ReplicationController", "echo")) == 3, "a third pod")
    scale = cluster.core.read_namespaced_replication_controller_scale("echo", NS)
    assert (scale.spec.replicas, scale.status.selector) == (3, "app=echo")
    cluster.kubectl("scale", "rc/echo", "--replicas=1", "-n", NS)
    wait_until(lambda: len([p for p in cluster.pods("ReplicationController", "echo")
                            if not p["metadata"].get("deletionTimestamp")]) == 1, "scaled down to one pod")
    wait_until(lambda: re.search(r"^echo\s+1\s+1\s+1\s", cluster.kubectl("get", "rc", "-n", NS), re.M),
               "kubectl get rc to show 1 1 1")

    # --cascade=orphan: the pod loses its ownerReference and stays; the RC is gone.
    [pod] = cluster.pods("ReplicationController", "echo")
    cluster.kubectl("delete", "rc", "echo", "-n", NS, "--cascade=orphan")
    kept = cluster.store.get(kinds.POD, NS, pod["metadata"]["name"])
    assert "ownerReferences" not in kept["metadata"] and not kept["metadata"].get("deletionTimestamp")
    # A bare pod with the RC's labels is adopted at once (addPod wakes the matching RC), the surplus deleted.
    cluster.kubectl("apply", "-n", NS, "-f", "-", stdin=rc_manifest(replicas=1))
    wait_until(lambda: cluster.pods("ReplicationController", "echo"), "the RC to adopt the orphan")
    cluster.kubectl("run", "stray", "-n", NS, "--image=hashicorp/http-echo:0.2.3", "--labels=app=echo",
                    "--", "-text=stray", "-listen=:8080")
    wait_until(lambda: len([p for p in cluster.store.list(kinds.POD, NS)[0]
                            if not p["metadata"].get("deletionTimestamp")]) == 1, "the surplus pod to go", timeout=8)
    cluster.kubectl("delete", "rc", "echo", "-n", NS, "--cascade=orphan")
    # A new RC with the same selector adopts it (ClaimPods) and makes the second one.
    cluster.kubectl("apply", "-n", NS, "-f", "-", stdin=rc_manifest())
    wait_until(lambda: len(cluster.pods("ReplicationController", "echo")) == 2, "adoption and one more pod")
    assert pod["metadata"]["name"] in {p["metadata"]["name"] for p in cluster.pods("ReplicationController", "echo")}
    # A default (background) kubectl delete: the garbage collector removes the pods.
    cluster.kubectl("delete", "rc", "echo", "-n", NS)
    wait_until(lambda: not [p for p in cluster.store.list(kinds.POD, NS)[0]
                            if p["metadata"]["labels"].get("app") == "echo"], "the pods to be collected")


def test_replication_controller_validation_messages(cluster: Cluster) -> None:
    bad = json.loads(rc_manifest())
    bad["spec"]["selector"] = {"app": "other"}
    proc = cluster.kube.run("create", "-n", NS, "-f", "-", input=json.dumps(bad), check=False)
    assert proc.returncode == 1
    # ValidatePodTemplateSpecForRC
    assert ('The ReplicationController "echo" is invalid: spec.template.metadata.labels: Invalid value: '
            'map[string]string{"app":"echo"}: `selector` does not match template `labels`') in proc.stderr
    bare = json.loads(rc_manifest())
    del bare["spec"]["template"]["metadata"]
    with pytest.raises(ApiException) as err:
        cluster.core.create_namespaced_replication_controller(NS, bare)
    assert err.value.status == 422
    assert json.loads(err.value.body)["details"]["causes"][0] == {
        "reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"}


# --- DaemonSets and ControllerRevisions ------------------------------------------------------------


def test_the_python_clients_daemon_set_flow(cluster: Cluster) -> None:
    # e2e_test/test_apps.py test_create_daemonset (and the aio suite's copy).
    name = "nginx-app-0b7e3f6c"
    daemonset = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"labels": {"app": "nginx"}, "name": name},
                 "spec": {"selector": {"matchLabels": {"app": "nginx"}},
                          "template": {"metadata": {"labels": {"app": "nginx"}, "name": name},
                                       "spec": {"containers": [{"name": "nginx-app", "image": "nginx:1.15.4"}]}},
                          "updateStrategy": {"type": "RollingUpdate"}}}
    created = cluster.apps.create_namespaced_daemon_set(NS, body=daemonset)
    # SetDefaults_DaemonSet, and the status's four counts that are not omitempty.
    assert created.spec.update_strategy.rolling_update.max_unavailable == 1
    assert created.spec.update_strategy.rolling_update.max_surge == 0
    assert created.spec.revision_history_limit == 10
    assert created.status.desired_number_scheduled == 0
    resp = cluster.apps.read_namespaced_daemon_set(name, NS)
    assert resp.metadata.name == name
    assert resp.spec.selector.match_labels["app"] == "nginx"
    assert resp.spec.template.metadata.labels["app"] == "nginx"
    assert (resp.spec.template.spec.containers[0].name, resp.spec.template.spec.containers[0].image) == (
        "nginx-app", "nginx:1.15.4")

    wait_until(lambda: (cluster.store.get(kinds.DAEMON_SET, NS, name).get("status") or {}).get("numberAvailable")
               == 1, "the daemon pod to be available")
    st = cluster.apps.read_namespaced_daemon_set_status(name, NS).status
    assert (st.desired_number_scheduled, st.current_number_scheduled, st.number_ready, st.number_available,
            st.updated_number_scheduled, st.number_misscheduled, st.observed_generation) == (1, 1, 1, 1, 1, 0, 1)
    [revision] = cluster.revisions(name)
    hash_ = revision["metadata"]["labels"]["controller-revision-hash"]
    assert revision["metadata"]["name"] == f"{name}-{hash_}" and revision["revision"] == 1
    assert revision["data"]["spec"]["template"]["$patch"] == "replace"
    typed = cluster.apps.read_namespaced_controller_revision(revision["metadata"]["name"], NS)
    assert (typed.revision, typed.metadata.owner_references[0].kind) == (1, "DaemonSet")
    [pod] = cluster.pods("DaemonSet", name)
    assert re.fullmatch(rf"{name}-{_SUFFIX}", pod["metadata"]["name"])
    assert pod["metadata"]["labels"] == {"app": "nginx", "controller-revision-hash": hash_,
                                         "pod-template-generation": "1"}
    # ReplaceDaemonSetPodNodeNameNodeAffinity and the daemon tolerations.
    assert pod["spec"]["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["sandbox"]}]}]}}}
    assert {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"} in pod["spec"][
        "tolerations"]
    assert pod["spec"]["nodeName"] == "sandbox"

    cluster.apps.delete_namespaced_daemon_set(name, NS, body=client.V1DeleteOptions(propagation_policy="Foreground"))
    wait_until(lambda: not cluster.pods("DaemonSet", name) and not cluster.revisions(name),
               "the pod and the revision to be collected")


def test_kubectl_get_ds_and_a_node_selector_that_matches_no_node(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-n", NS, "-f", "-", stdin=ds_manifest())
    spec = json.loads(ds_manifest("picky"))["spec"]
    spec["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    cluster.kubectl("apply", "-n", NS, "-f", "-", stdin=json.dumps(
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "picky"}, "spec": spec}))
    cluster.kubectl("rollout", "status", "ds/agent", "-n", NS, "--timeout=60s")
    wait_until(lambda: (cluster.store.get(kinds.DAEMON_SET, NS, "picky").get("status") or {})
               .get("observedGeneration") == 1, "the picky DaemonSet to be synced")
    shown = cluster.kubectl("get", "ds", "-n", NS)
    assert shown.splitlines()[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE",
                                             "NODE", "SELECTOR", "AGE"], shown
    assert re.search(r"^agent\s+1\s+1\s+1\s+1\s+1\s+<none>\s+\S+$", shown, re.M), shown
    assert re.search(r"^picky\s+0\s+0\s+0\s+0\s+0\s+disk=ssd\s+\S+$", shown, re.M), shown
    assert not cluster.pods("DaemonSet", "picky")
    both = cluster.kubectl("get", "rc,ds", "-n", NS)
    assert re.search(r"^daemonset\.apps/agent\s+1\s+1\s+1\s+1\s+1\s+<none>", both, re.M), both
    assert re.search(r"^daemonset\.apps/agent\s", cluster.kubectl("get", "all", "-n", NS), re.M)

    # The node gets the label: the DaemonSet runs there (daemon_controller.go updateNode).
    cluster.kubectl("label", "node", "sandbox", "disk=ssd")
    wait_until(lambda: len(cluster.pods("DaemonSet", "picky")) == 1, "a pod once the node matches")
    # And loses it: the pod is deleted (numberMisscheduled until it is).
    cluster.kubectl("label", "node", "sandbox", "disk-")
    wait_until(lambda: not [p for p in cluster.pods("DaemonSet", "picky") if not p["metadata"].get(
        "deletionTimestamp")], "the pod to go when the node no longer matches")
    revisions = cluster.kubectl("get", "controllerrevisions", "-n", NS)
    assert revisions.splitlines()[0].split() == ["NAME", "CONTROLLER", "REVISION", "AGE"], revisions
    assert re.search(r"^agent-\S+\s+daemonset\.apps/agent\s+1\s+\S+$", revisions, re.M), revisions
    # A deleted revision is snapshotted again (daemon_controller.go deleteHistory requeues its DaemonSet).
    [revision] = cluster.revisions("agent")
    cluster.kubectl("delete", "controllerrevision", revision["metadata"]["name"], "-n", NS)
    wait_until(lambda: [r["metadata"]["uid"] for r in cluster.revisions("agent")] not in ([], [revision["metadata"][
        "uid"]]), "the revision to be made again", timeout=8)
    assert [r["metadata"]["name"] for r in cluster.revisions("agent")] == [revision["metadata"]["name"]]


def test_a_daemon_set_rolling_update_with_rollout_status_history_undo_and_restart(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-n", NS, "-f", "-", stdin=ds_manifest())
    cluster.kubectl("rollout", "status", "ds/agent", "-n", NS, "--timeout=60s")
    [first] = cluster.pods("DaemonSet", "agent")

    cluster.kubectl("set", "image", "ds/agent", "echo=hashicorp/http-echo:1.0", "-n", NS)
    out = cluster.kubectl("rollout", "status", "ds/agent", "-n", NS, "--timeout=60s")
    assert out.strip().splitlines()[-1] == 'daemon set "agent" successfully rolled out', out
    [second] = cluster.pods("DaemonSet", "agent")
    assert second["metadata"]["name"] != first["metadata"]["name"]
    assert second["spec"]["containers"][0]["image"] == "hashicorp/http-echo:1.0"
    assert second["metadata"]["labels"]["pod-template-generation"] == "2"
    revs = cluster.revisions("agent")
    assert [r["revision"] for r in revs] == [1, 2]
    assert second["metadata"]["labels"]["controller-revision-hash"] == revs[1]["metadata"]["labels"][
        "controller-revision-hash"]

    history = cluster.kubectl("rollout", "history", "ds/agent", "-n", NS)
    assert re.search(r"^REVISION\s+CHANGE-CAUSE$", history, re.M), history
    assert re.findall(r"^(\d+)\s+<none>$", history, re.M) == ["1", "2"], history
    one = cluster.kubectl("rollout", "history", "ds/agent", "-n", NS, "--revision=1")
    assert "hashicorp/http-echo:0.2.3" in one and "1.0" not in one, one

    # kubectl compares its own getDaemonSetPatch of the live DaemonSet with the revision's data byte for byte:
    # the stored patch is the same bytes, so undoing to the current revision is skipped.
    assert cluster.kubectl("rollout", "undo", "ds/agent", "-n", NS, "--to-revision=2").strip() == (
        "daemonset.apps/agent skipped rollback (current template already matches revision 2)")
    missing = cluster.kube.run("rollout", "undo", "ds/agent", "-n", NS, "--to-revision=7", check=False)
    assert missing.stderr.strip() == "error: unable to find specified revision 7 in history", missing.stderr
    assert cluster.kubectl("rollout", "undo", "ds/agent", "-n", NS).strip() == "daemonset.apps/agent rolled back"
    cluster.kubectl("rollout", "status", "ds/agent", "-n", NS, "--timeout=60s")
    wait_until(lambda: [p["spec"]["containers"][0]["image"] for p in cluster.pods("DaemonSet", "agent")
                        if not p["metadata"].get("deletionTimestamp")] == ["hashicorp/http-echo:0.2.3"],
               "the pod back on the first image")
    # update.go constructHistory: revision 1 comes back as revision 3, with its original hash.
    revs = cluster.revisions("agent")
    assert [(r["metadata"]["name"], r["revision"]) for r in revs] == [
        (revs[0]["metadata"]["name"], 2), (revs[1]["metadata"]["name"], 3)]
    assert cluster.store.get(kinds.CONTROLLER_REVISION, NS, revs[1]["metadata"]["name"])["data"]["spec"][
        "template"]["spec"]["containers"][0]["image"] == "hashicorp/http-echo:0.2.3"
    assert re.findall(r"^(\d+)\s", cluster.kubectl("rollout", "history", "ds/agent", "-n", NS), re.M) == ["2", "3"]

    assert cluster.kubectl("rollout", "restart", "ds/agent", "-n", NS).strip() == "daemonset.apps/agent restarted"
    cluster.kubectl("rollout", "status", "ds/agent", "-n", NS, "--timeout=60s")
    wait_until(lambda: [r["revision"] for r in cluster.revisions("agent")] == [2, 3, 4], "a fourth revision")
    [restarted] = [p for p in cluster.pods("DaemonSet", "agent") if not p["metadata"].get("deletionTimestamp")]
    assert "kubectl.kubernetes.io/restartedAt" in restarted["metadata"]["annotations"]


def test_on_delete_waits_for_the_user_and_max_surge_keeps_the_old_pod_until_the_new_is_ready(
        cluster: Cluster) -> None:
    cluster.kubectl("apply", "-n", NS, "-f", "-", stdin=ds_manifest(updateStrategy={"type": "OnDelete"}))
    wait_until(lambda: len(cluster.pods("DaemonSet", "agent")) == 1, "the daemon pod")
    [old] = cluster.pods("DaemonSet", "agent")
    cluster.kubectl("set", "image", "ds/agent", "echo=hashicorp/http-echo:1.0", "-n", NS)
    wait_until(lambda: (cluster.store.get(kinds.DAEMON_SET, NS, "agent").get("status") or {})
               .get("observedGeneration") == 2, "the update to be observed")
    assert [p["metadata"]["name"] for p in cluster.pods("DaemonSet", "agent")] == [old["metadata"]["name"]]
    assert "updatedNumberScheduled" not in cluster.store.get(kinds.DAEMON_SET, NS, "agent")["status"]
    proc = cluster.kube.run("rollout", "status", "ds/agent", "-n", NS, check=False)
    assert "rollout status is only available for RollingUpdate strategy type" in proc.stderr, proc.stderr
    cluster.kubectl("delete", "pod", old["metadata"]["name"], "-n", NS, "--wait=false")
    wait_until(lambda: [p["spec"]["containers"][0]["image"] for p in cluster.pods("DaemonSet", "agent")
                        if not p["metadata"].get("deletionTimestamp")] == ["hashicorp/http-echo:1.0"],
               "a new pod from the new template once the user deleted the old one")

    # RollingUpdate with maxSurge 1, maxUnavailable 0: the new pod starts next to the old one.
    cluster.kubectl("patch", "ds/agent", "-n", NS, "-p", json.dumps({"spec": {"updateStrategy": {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}))
    cluster.kubectl("rollout", "status", "ds/agent", "-n", NS, "--timeout=60s")
    seen: set[int] = set()

    def count() -> bool:
        seen.add(len([p for p in cluster.pods("DaemonSet", "agent") if not p["metadata"].get("deletionTimestamp")]))
        return 2 in seen
    cluster.kubectl("set", "image", "ds/agent", "echo=hashicorp/http-echo:0.2.3", "-n", NS)
    wait_until(count, "two pods at once during a surge")
    cluster.kubectl("rollout", "status", "ds/agent", "-n", NS, "--timeout=60s")
    wait_until(lambda: [p["spec"]["containers"][0]["image"] for p in cluster.pods("DaemonSet", "agent")
                        if not p["metadata"].get("deletionTimestamp")] == ["hashicorp/http-echo:0.2.3"],
               "only the new pod left")


def test_daemon_set_validation_and_orphaning(cluster: Cluster) -> None:
    body = json.loads(ds_manifest())
    del body["spec"]["selector"]
    proc = cluster.kube.run("create", "-n", NS, "-f", "-", input=json.dumps(body), check=False)
    assert proc.returncode == 1
    # ValidateDaemonSetSpec: a nil selector selects nothing, so the template's labels do not match it.
    assert ('The DaemonSet "agent" is invalid: spec.template.metadata.labels: Invalid value: '
            'map[string]string{"app":"agent"}: `selector` does not match template `labels`\n') == proc.stderr, (
        proc.stderr)
    body["spec"]["selector"] = {}
    proc = cluster.kube.run("create", "-n", NS, "-f", "-", input=json.dumps(body), check=False)
    assert proc.stderr == (
        'The DaemonSet "agent" is invalid: spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]'
        "string{},MatchExpressions:[]LabelSelectorRequirement{},}: empty selector is invalid for daemonset\n"), (
        proc.stderr)
    body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    proc = cluster.kube.run("create", "-n", NS, "-f", "-", input=json.dumps(body), check=False)
    assert ("spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"agent\"}: `selector` does "
            "not match template `labels`") in proc.stderr, proc.stderr

    cluster.kubectl("apply", "-n", NS, "-f", "-", stdin=ds_manifest())
    wait_until(lambda: len(cluster.pods("DaemonSet", "agent")) == 1 and len(cluster.revisions("agent")) == 1,
               "the pod and the revision")
    [pod] = cluster.pods("DaemonSet", "agent")
    [revision] = cluster.revisions("agent")
    cluster.kubectl("delete", "ds", "agent", "-n", NS, "--cascade=orphan")
    kept = cluster.store.get(kinds.POD, NS, pod["metadata"]["name"])
    assert "ownerReferences" not in kept["metadata"]
    assert "ownerReferences" not in cluster.store.get(kinds.CONTROLLER_REVISION, NS,
                                                      revision["metadata"]["name"])["metadata"]


def test_discovery_lists_the_kinds_with_their_short_names(cluster: Cluster) -> None:
    # kubectl api-resources reads aggregated discovery: rc (core, scale and status), ds, controllerrevisions.
    shown = cluster.kubectl("api-resources", "--no-headers")
    rows = {line.split()[0]: line.split() for line in shown.splitlines()}
    assert rows["replicationcontrollers"] == ["replicationcontrollers", "rc", "v1", "true", "ReplicationController"]
    assert rows["daemonsets"] == ["daemonsets", "ds", "apps/v1", "true", "DaemonSet"]
    assert rows["controllerrevisions"] == ["controllerrevisions", "apps/v1", "true", "ControllerRevision"]
    core = client.CoreV1Api(cluster.api).get_api_resources()
    names = {r.name: r for r in core.resources}
    assert names["replicationcontrollers"].short_names == ["rc"]
    assert {"replicationcontrollers/scale", "replicationcontrollers/status"} <= set(names)
    # RBAC as for the other kinds: a Role granting get on daemonsets lets a user read them, nothing more.
    rbac = "rbac.authorization.k8s.io"
    cluster.store.create(kinds.ROLE, {"metadata": {"name": "ds-reader", "namespace": NS}, "rules": [
        {"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["get", "list"]}]})
    cluster.store.create(kinds.ROLE_BINDING, {"metadata": {"name": "ds-reader", "namespace": NS},
                                              "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "ds-reader"},
                                              "subjects": [{"apiGroup": rbac, "kind": "User", "name": "alice"}]})
    assert cluster.kube.run("get", "ds", "-n", NS, as_user="alice").returncode == 0
    denied = cluster.kube.run("get", "rc", "-n", NS, as_user="alice", check=False)
    assert ('User "alice" cannot list resource "replicationcontrollers" in API group "" in the namespace '
            f'"{NS}"') in denied.stderr, denied.stderr


def test_the_audit_log_and_the_state_directory_keep_them(tmp_path: Path) -> None:
    # The audit log records their writes as for the other kinds (objectRef resource, group, subresource), and a
    # store reopened from its state directory holds them (ReplicationControllers, DaemonSets, revisions).
    state = tmp_path / "state"
    store = Store(state)
    store.create(kinds.NAMESPACE, {"metadata": {"name": NS}})
    with in_process_api(store, tmp_path) as served:
        (tmp_path / "home").mkdir()
        kube = Kube(str(served.kubeconfig), tmp_path / "home")
        kube.run("apply", "-n", NS, "-f", "-", input=rc_manifest())
        kube.run("scale", "rc/echo", "--replicas=3", "-n", NS)
        kube.run("apply", "-n", NS, "-f", "-", input=ds_manifest())
    lines = [json.loads(line) for line in (state / "audit.jsonl").read_text().splitlines()]
    refs = [(e["verb"], e["objectRef"]) for e in lines if e["stage"] == "ResponseComplete"]
    assert ("create", {"resource": "replicationcontrollers", "namespace": NS, "name": "echo",
                       "apiVersion": "v1"}) in [(v, {k: r[k] for k in r if k != "resourceVersion"}) for v, r in refs]
    assert any(v == "patch" and r.get("resource") == "replicationcontrollers" and r.get("subresource") == "scale"
               for v, r in refs), refs
    assert any(v == "create" and r.get("resource") == "daemonsets" and r.get("apiGroup") == "apps"
               for v, r in refs), refs
    store.close()
    reopened = Store(state)
    try:
        assert reopened.get(kinds.REPLICATION_CONTROLLER, NS, "echo")["spec"]["replicas"] == 3
        assert reopened.get(kinds.DAEMON_SET, NS, "agent")["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    finally:
        reopened.close()


def test_a_refused_pod_is_a_replica_failure_and_a_freed_slot_is_retried(cluster: Cluster) -> None:
    # The ReplicaSet logic behind the adapter: replica_set_utils.go calculateStatus's ReplicaFailure condition
    # on the RC, and the retry when a pod goes (the quota-blocked RCs are woken by pod deletions).
    cluster.store.pod_quota = 1
    cluster.kubectl("apply", "-n", NS, "-f", "-", stdin=rc_manifest())

    def failure() -> dict[str, Any] | None:
        status = cluster.store.get(kinds.REPLICATION_CONTROLLER, NS, "echo").get("status") or {}
        return next((c for c in status.get("conditions") or [] if c["type"] == "ReplicaFailure"), None)

    cond = wait_until(failure, "a ReplicaFailure condition")
    assert cond["reason"] == "FailedCreate" and re.fullmatch(
        rf'pods "echo-{_SUFFIX}" is forbidden: exceeded quota: sandbox-pods, requested: pods=1, used: pods=1, '
        r"limited: pods=1", cond["message"]), cond
    [pod] = cluster.pods("ReplicationController", "echo")
    cluster.store.pod_quota = 3
    cluster.kubectl("delete", "pod", pod["metadata"]["name"], "-n", NS, "--wait=false")
    wait_until(lambda: len([p for p in cluster.pods("ReplicationController", "echo")
                            if not p["metadata"].get("deletionTimestamp")]) == 2, "two pods once a slot is free",
               timeout=8)
    wait_until(lambda: failure() is None, "the condition to clear")
