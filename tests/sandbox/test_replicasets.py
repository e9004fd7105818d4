"""ReplicaSets between Deployments and Pods, rolling updates and ``kubectl rollout``, with real kubectl and the
official Python client against the sandbox's API server, controllers and kubelet."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from polling import wait_until
from sandboxkit import Kube, alive, in_process_api
from test_kubelet import NS, ready, start_kubelet

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubelet import Kubelet, template_hash
from gloo_nb.sandbox.store import Store, WatchEvent

pytestmark = pytest.mark.sandbox


class Cluster:
    def __init__(self, store: Store, kubelet: Kubelet, kube: Kube, api: client.ApiClient) -> None:
        self.store = store
        self.kubelet = kubelet
        self.kube = kube
        self.apps = client.AppsV1Api(api)

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return self.kube.run(*args, input=stdin).stdout

    def replica_sets(self) -> list[dict[str, Any]]:
        return sorted(self.store.list(kinds.REPLICA_SET, NS)[0], key=lambda r: r["metadata"]["name"])

    def pods(self) -> list[dict[str, Any]]:
        return self.store.list(kinds.POD, NS)[0]

    def rollout_status(self, name: str = "echo") -> str:
        return self.kubectl("rollout", "status", f"deployment/{name}", "-n", NS, "--timeout=60s")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    store = Store()
    store.create(kinds.NAMESPACE, {"metadata": {"name": NS}})
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


def manifest(replicas: int = 2, strategy: dict[str, Any] | None = None, **spec: Any) -> str:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo", "namespace": NS},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "echo"}},
                 "template": {"metadata": {"labels": {"app": "echo"}},
                              "spec": {"containers": [{"name": "echo", "image": "hashicorp/http-echo:0.2.3",
                                                       "args": ["-text=v1", "-listen=:8080"],
                                                       "ports": [{"containerPort": 8080}]}]}},
                 **spec}}
    if strategy is not None:
        body["spec"]["strategy"] = strategy
    return json.dumps(body)


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()[1:]]


def conditions(store: Store, name: str = "echo") -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in store.get(kinds.DEPLOYMENT, NS, name).get("status", {}).get("conditions", [])}


def test_a_deployment_owns_a_replicaset_that_owns_its_pods(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=manifest())
    # kubectl wait reads the Available condition the Deployment controller writes (sync.go calculateStatus).
    cluster.kubectl("wait", "--for=condition=Available", "deployment/echo", "-n", NS, "--timeout=30s")
    dep = cluster.store.get(kinds.DEPLOYMENT, NS, "echo")
    [rs] = cluster.replica_sets()
    rs_name = rs["metadata"]["name"]
    phash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs_name == f"echo-{phash}"

    # The Python client: typed read and a list by the pod-template-hash label.
    typed = cluster.apps.read_namespaced_replica_set(rs_name, NS)
    [ref] = typed.metadata.owner_references
    assert (ref.kind, ref.name, ref.uid, ref.controller, ref.block_owner_deletion) == (
        "Deployment", "echo", dep["metadata"]["uid"], True, True)
    assert typed.metadata.annotations == {"deployment.kubernetes.io/revision": "1",
                                          "deployment.kubernetes.io/desired-replicas": "2",
                                          "deployment.kubernetes.io/max-replicas": "3"}
    assert typed.spec.selector.match_labels == {"app": "echo", "pod-template-hash": phash}
    assert typed.spec.template.metadata.labels == {"app": "echo", "pod-template-hash": phash}
    wait_until(lambda: cluster.store.get(kinds.REPLICA_SET, NS, rs_name)["status"].get("readyReplicas") == 2,
               "the ReplicaSet's status to count 2 ready pods")
    st = cluster.apps.read_namespaced_replica_set_status(rs_name, NS).status
    assert (st.replicas, st.ready_replicas, st.available_replicas, st.fully_labeled_replicas,
            st.observed_generation) == (2, 2, 2, 2, 1)
    listed = cluster.apps.list_namespaced_replica_set(NS, label_selector=f"pod-template-hash={phash}").items
    assert [r.metadata.name for r in listed] == [rs_name]
    assert cluster.apps.list_namespaced_replica_set(NS, label_selector="pod-template-hash=nope").items == []
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"

    pods = cluster.pods()
    assert len(pods) == 2
    for pod in pods:
        assert re.fullmatch(rf"{rs_name}-[bcdfghjklmnpqrstvwxz2456789]{{5}}", pod["metadata"]["name"])
        assert pod["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                       "name": rs_name, "uid": rs["metadata"]["uid"],
                                                       "controller": True, "blockOwnerDeletion": True}]

    # The owner chain tools walk with the Python client: Pod -> ReplicaSet -> Deployment.
    pod_owner = client.CoreV1Api(cluster.apps.api_client).read_namespaced_pod(
        pods[0]["metadata"]["name"], NS).metadata.owner_references[0]
    rs_owner = cluster.apps.read_namespaced_replica_set(pod_owner.name, NS).metadata.owner_references[0]
    assert (pod_owner.kind, rs_owner.kind, rs_owner.name) == ("ReplicaSet", "Deployment", "echo")

    # kubectl get deploy,rs,po: the server-side tables (printReplicaSet: DESIRED CURRENT READY AGE).
    shown = cluster.kubectl("get", "deploy,rs,po", "-n", NS)
    assert re.search(rf"^replicaset\.apps/{rs_name}\s+2\s+2\s+2\s+\S+$", shown, re.M), shown
    assert re.search(r"^deployment\.apps/echo\s+2/2\s+2\s+2\s+\S+$", shown, re.M), shown
    assert len(re.findall(rf"^pod/{rs_name}-\S+\s+1/1\s+Running", shown, re.M)) == 2, shown
    header = cluster.kubectl("get", "rs", "-n", NS, "-o", "wide").splitlines()[0].split()
    assert header == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert f"pod-template-hash={phash}" in cluster.kubectl("get", "rs", rs_name, "-n", NS, "-o", "wide")
    assert re.search(rf"^replicaset\.apps/{rs_name}\s+2\s+2\s+2", cluster.kubectl("get", "all", "-n", NS), re.M)
    # kubectl describe rs: its controller and its pods (found by the ReplicaSet's selector).
    described = cluster.kubectl("describe", "rs", rs_name, "-n", NS)
    assert re.search(r"^Controlled By:\s+Deployment/echo$", described, re.M), described
    assert re.search(r"^Replicas:\s+2 current / 2 desired$", described, re.M), described
    assert re.search(r"^Pods Status:\s+2 Running / 0 Waiting / 0 Succeeded / 0 Failed$", described, re.M), described
    cond = conditions(cluster.store)
    assert (cond["Available"]["status"], cond["Available"]["reason"], cond["Available"]["message"]) == (
        "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    assert (cond["Progressing"]["reason"], cond["Progressing"]["message"]) == (
        "NewReplicaSetAvailable", f'ReplicaSet "{rs_name}" has successfully progressed.')

    # A pod deleted by hand is replaced by the ReplicaSet controller, under the same ReplicaSet.
    gone = pods[0]["metadata"]["name"]
    cluster.kubectl("delete", "pod", gone, "-n", NS, "--wait=false")
    wait_until(lambda: len(p := [x for x in cluster.pods() if x["metadata"]["name"] != gone]) == 2
               and all(ready(x) for x in p), "a replacement pod")
    events = cluster.kubectl("get", "events", "-n", NS, "--field-selector", f"involvedObject.name={rs_name}")
    assert re.search(r"Normal\s+SuccessfulCreate\s+replicaset/" + rs_name + r"\s+Created pod: " + rs_name, events)

    # Deleting the Deployment takes its ReplicaSet and then its pods (the garbage collector).
    cluster.kubectl("delete", "deployment", "echo", "-n", NS)
    wait_until(lambda: not cluster.replica_sets() and not cluster.pods(), "the ReplicaSet and pods to go")


def test_rolling_update_with_max_surge_1_max_unavailable_0(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=manifest(
        replicas=2, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}))
    cluster.rollout_status()
    [old] = cluster.replica_sets()
    # Every pod change from here on, seen in order: never more than 3 pods, never fewer than 2 ready.
    pods: dict[str, bool] = {p["metadata"]["name"]: ready(p) for p in cluster.pods()}
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def on_event(event: WatchEvent) -> None:
        if event.kind is not kinds.POD:
            return
        with lock:
            name = event.object["metadata"]["name"]
            if event.type == "DELETED":
                pods.pop(name, None)
            else:
                pods[name] = ready(event.object) and not event.object["metadata"].get("deletionTimestamp")
            seen.append((len(pods), sum(pods.values())))

    unsubscribe = cluster.store.subscribe(on_event)
    try:
        cluster.kubectl("set", "env", "deployment/echo", "-n", NS, "COLOR=blue")
        out = cluster.rollout_status()
    finally:
        unsubscribe()
    assert out.strip().endswith('deployment "echo" successfully rolled out'), out
    assert seen and max(total for total, _ in seen) == 3, seen
    assert min(ready_ for _, ready_ in seen) >= 2, seen
    new, = [rs for rs in cluster.replica_sets() if rs["metadata"]["uid"] != old["metadata"]["uid"]]
    shown = rows(cluster.kubectl("get", "rs", "-n", NS))
    assert sorted(r[:4] for r in shown) == sorted([[old["metadata"]["name"], "0", "0", "0"],
                                                   [new["metadata"]["name"], "2", "2", "2"]]), shown
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "3"
    assert {e["name"]: e["value"] for e in new["spec"]["template"]["spec"]["containers"][0]["env"]} == {
        "COLOR": "blue"}
    wait_until(lambda: all(p["metadata"]["labels"]["pod-template-hash"] == new["metadata"]["labels"]
                           ["pod-template-hash"] for p in cluster.pods()), "only the new ReplicaSet's pods")
    # The Deployment's events, as the controller words them (sync.go scaleReplicaSet).
    events = cluster.kubectl("get", "events", "-n", NS, "--field-selector", "involvedObject.kind=Deployment")
    assert f"Scaled up replica set {new['metadata']['name']} from 0 to 1" in events
    assert f"Scaled down replica set {old['metadata']['name']} from 2 to 1" in events
    st = cluster.store.get(kinds.DEPLOYMENT, NS, "echo")["status"]
    assert (st["replicas"], st["updatedReplicas"], st["readyReplicas"], st["availableReplicas"]) == (2, 2, 2, 2)
    assert "unavailableReplicas" not in st


def test_rollout_history_undo_and_restart(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=manifest(replicas=1))
    cluster.kubectl("annotate", "deployment/echo", "-n", NS, "kubernetes.io/change-cause=first")
    cluster.rollout_status()
    cluster.kubectl("set", "env", "deployment/echo", "-n", NS, "COLOR=green")
    cluster.kubectl("annotate", "--overwrite", "deployment/echo", "-n", NS, "kubernetes.io/change-cause=green")
    cluster.rollout_status()
    wait_until(lambda: len(cluster.replica_sets()) == 2 and all(
        rs["metadata"].get("annotations", {}).get("kubernetes.io/change-cause") for rs in cluster.replica_sets()),
        "the change-cause on both ReplicaSets")
    history = cluster.kubectl("rollout", "history", "deployment/echo", "-n", NS)
    assert rows(history)[1:] == [["1", "first"], ["2", "green"]], history
    one = cluster.kubectl("rollout", "history", "deployment/echo", "-n", NS, "--revision=1")
    assert "revision #1" in one and "COLOR" not in one and "hashicorp/http-echo:0.2.3" in one, one

    # undo: kubectl patches the Deployment with revision 1's template; that ReplicaSet is the new one again and
    # takes the next revision (deployment_util.go SetNewReplicaSetAnnotations).
    first = next(rs for rs in cluster.replica_sets()
                 if rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1")
    out = cluster.kubectl("rollout", "undo", "deployment/echo", "-n", NS)
    assert out.strip() == "deployment.apps/echo rolled back", out
    cluster.rollout_status()
    wait_until(lambda: cluster.store.get(kinds.REPLICA_SET, NS, first["metadata"]["name"])["metadata"]
               ["annotations"]["deployment.kubernetes.io/revision"] == "3", "revision 1 to become 3")
    assert len(cluster.replica_sets()) == 2
    dep = cluster.store.get(kinds.DEPLOYMENT, NS, "echo")
    assert "env" not in dep["spec"]["template"]["spec"]["containers"][0]
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert [r[0] for r in rows(cluster.kubectl("rollout", "history", "deployment/echo", "-n", NS))[1:]] == ["2", "3"]
    wait_until(lambda: all(p["metadata"]["name"].startswith(first["metadata"]["name"] + "-")
                           for p in cluster.pods()) and len(cluster.pods()) == 1, "the pod of revision 3")

    out = cluster.kubectl("rollout", "undo", "deployment/echo", "-n", NS, "--to-revision=2")
    cluster.rollout_status()
    dep = cluster.store.get(kinds.DEPLOYMENT, NS, "echo")
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "COLOR", "value": "green"}]
    skipped = cluster.kubectl("rollout", "undo", "deployment/echo", "-n", NS, "--to-revision=4")
    assert "skipped rollback (current template already matches revision 4)" in skipped, skipped

    # restart: a template annotation, so a third ReplicaSet; the Deployment is Available throughout.
    cluster.kubectl("rollout", "restart", "deployment/echo", "-n", NS)
    cluster.rollout_status()
    rss = cluster.replica_sets()
    assert len(rss) == 3
    newest = max(rss, key=lambda r: int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]))
    assert newest["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "5"
    assert "kubectl.kubernetes.io/restartedAt" in newest["spec"]["template"]["metadata"]["annotations"]
    cluster.kubectl("wait", "--for=condition=Available", "deployment/echo", "-n", NS, "--timeout=30s")
    cond = conditions(cluster.store)
    assert cond["Progressing"]["message"] == f'ReplicaSet "{newest["metadata"]["name"]}" has successfully progressed.'


def test_recreate_and_revision_history_limit(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=manifest(replicas=2, strategy={"type": "Recreate"},
                                                       revisionHistoryLimit=1))
    cluster.rollout_status()
    hashes: list[set[str]] = []

    def on_event(event: WatchEvent) -> None:
        if event.kind is kinds.POD and event.type != "DELETED":
            hashes.append({p["metadata"]["labels"]["pod-template-hash"] for p in cluster.store.list(kinds.POD, NS)[0]})

    unsubscribe = cluster.store.subscribe(on_event)
    try:
        for color in ("red", "blue"):
            cluster.kubectl("set", "env", "deployment/echo", "-n", NS, f"COLOR={color}")
            cluster.rollout_status()
    finally:
        unsubscribe()
    # Recreate: the old pods are gone before any new one is made (recreate.go oldPodsRunning).
    assert hashes and all(len(h) <= 1 for h in hashes), hashes
    # revisionHistoryLimit 1: the current ReplicaSet and one old one (sync.go cleanupDeployment).
    wait_until(lambda: len(cluster.replica_sets()) == 2, "the oldest ReplicaSet to be cleaned up")
    revisions = sorted(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                       for rs in cluster.replica_sets())
    assert revisions == ["2", "3"]


def test_a_bare_replicaset_scales_with_kubectl_scale(cluster: Cluster) -> None:
    body = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "solo", "namespace": NS},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "solo"}},
                     "template": {"metadata": {"labels": {"app": "solo"}},
                                  "spec": {"containers": [{"name": "echo", "image": "hashicorp/http-echo:0.2.3",
                                                           "args": ["-text=solo", "-listen=:8080"]}]}}}}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(body))
    wait_until(lambda: len(p := cluster.pods()) == 2 and all(ready(x) for x in p), "2 ready pods")
    cluster.kubectl("scale", "rs/solo", "-n", NS, "--replicas=1")
    wait_until(lambda: len(cluster.pods()) == 1, "1 pod")
    scale = cluster.apps.read_namespaced_replica_set_scale("solo", NS)
    assert scale.spec.replicas == 1
    wait_until(lambda: cluster.apps.read_namespaced_replica_set("solo", NS).status.replicas == 1, "status")
    bad = cluster.kube.run("apply", "-f", "-", check=False, input=json.dumps(
        {**body, "metadata": {"name": "bad", "namespace": NS},
         "spec": {**body["spec"], "selector": {"matchLabels": {"app": "other"}}}}))
    assert bad.returncode != 0
    assert ('The ReplicaSet "bad" is invalid: spec.template.metadata.labels: Invalid value: '
            'map[string]string{"app":"solo"}: `selector` does not match template `labels`') in bad.stderr, bad.stderr
    cluster.kubectl("delete", "rs", "solo", "-n", NS)
    wait_until(lambda: not cluster.pods(), "the pods to be collected")


def test_a_stuck_rollout_exceeds_its_progress_deadline(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=manifest(replicas=1, progressDeadlineSeconds=2))
    cluster.rollout_status()
    described = cluster.kubectl("describe", "deployment", "echo", "-n", NS)
    [first] = cluster.replica_sets()
    # kubectl describe finds the ReplicaSets itself (deploymentutil.GetAllReplicaSets).
    assert re.search(rf"NewReplicaSet:\s+{first['metadata']['name']} \(1/1 replicas created\)", described), described
    # The new template's pod never turns Ready (http-echo 1.0 answers 500, its readiness probe fails).
    bad = {"spec": {"template": {"spec": {"containers": [{
        "name": "echo", "image": "hashicorp/http-echo:1.0", "args": ["-text=v2", "-listen=:8080", "-status-code=500"],
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}}]}}}}
    cluster.kubectl("patch", "deployment", "echo", "-n", NS, "-p", json.dumps(bad))
    stuck = cluster.kube.run("rollout", "status", "deployment/echo", "-n", NS, "--timeout=40s", check=False)
    # kubectl's DeploymentStatusViewer turns the controller's ProgressDeadlineExceeded into this error.
    assert stuck.returncode != 0 and 'error: deployment "echo" exceeded its progress deadline' in stuck.stderr, stuck
    cond = conditions(cluster.store)
    new = next(rs for rs in cluster.replica_sets() if rs["metadata"]["uid"] != first["metadata"]["uid"])
    assert (cond["Progressing"]["status"], cond["Progressing"]["reason"], cond["Progressing"]["message"]) == (
        "False", "ProgressDeadlineExceeded", f'ReplicaSet "{new["metadata"]["name"]}" has timed out progressing.')
    # The old pod keeps serving: with one replica 25 % unavailable rounds down to 0.
    assert cond["Available"]["status"] == "True"
    assert cluster.store.get(kinds.REPLICA_SET, NS, first["metadata"]["name"])["spec"]["replicas"] == 1


def test_rollout_pause_holds_template_changes_until_resume(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=manifest(replicas=1))
    cluster.rollout_status()
    cluster.kubectl("rollout", "pause", "deployment/echo", "-n", NS)
    wait_until(lambda: conditions(cluster.store)["Progressing"]["reason"] == "DeploymentPaused", "paused")
    cond = conditions(cluster.store)["Progressing"]
    assert (cond["status"], cond["message"]) == ("Unknown", "Deployment is paused")
    cluster.kubectl("set", "env", "deployment/echo", "-n", NS, "COLOR=held")
    cluster.kubectl("scale", "deployment/echo", "-n", NS, "--replicas=2")
    # Scaled while paused (sync.go sync), but no new ReplicaSet for the new template.
    wait_until(lambda: len(p := cluster.pods()) == 2 and all(ready(x) for x in p), "2 ready pods of revision 1")
    assert len(cluster.replica_sets()) == 1
    assert all("env" not in p["spec"]["containers"][0] for p in cluster.pods())
    cluster.kubectl("rollout", "resume", "deployment/echo", "-n", NS)
    cluster.rollout_status()
    assert len(cluster.replica_sets()) == 2
    wait_until(lambda: all(p["spec"]["containers"][0].get("env") == [{"name": "COLOR", "value": "held"}]
                           for p in cluster.pods()), "only pods of the resumed template")
    assert conditions(cluster.store)["Progressing"]["reason"] == "NewReplicaSetAvailable"


def test_cascade_orphan_keeps_the_dependents(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=manifest(replicas=1))
    cluster.rollout_status()
    [rs] = cluster.replica_sets()
    [pod] = cluster.pods()
    out = cluster.kubectl("delete", "deployment", "echo", "-n", NS, "--cascade=orphan")
    assert out.strip() == 'deployment.apps "echo" deleted', out
    assert cluster.kubelet.wait_idle()
    [kept] = cluster.replica_sets()
    assert kept["metadata"]["uid"] == rs["metadata"]["uid"] and "ownerReferences" not in kept["metadata"]
    assert [p["metadata"]["uid"] for p in cluster.pods()] == [pod["metadata"]["uid"]]
    # The ReplicaSet, now on its own, still keeps its pod; orphaned in turn, the pod stays alone.
    cluster.kubectl("delete", "rs", rs["metadata"]["name"], "-n", NS, "--cascade=orphan")
    assert cluster.kubelet.wait_idle()
    [alone] = cluster.pods()
    assert alone["metadata"]["uid"] == pod["metadata"]["uid"] and "ownerReferences" not in alone["metadata"]
    assert cluster.replica_sets() == []


def test_replicasets_adopt_and_release_pods_by_selector(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=manifest(replicas=1))
    cluster.rollout_status()
    [rs] = cluster.replica_sets()
    [pod] = cluster.pods()
    # Re-labelled out of the selector, the pod is released (ControllerRefManager) and replaced.
    cluster.kubectl("label", "pod", pod["metadata"]["name"], "-n", NS, "app=quarantine", "--overwrite")
    wait_until(lambda: len(cluster.pods()) == 2, "a replacement pod")
    released = cluster.store.get(kinds.POD, NS, pod["metadata"]["name"])
    assert "ownerReferences" not in released["metadata"]
    # Orphaned with the Deployment and re-created, the Deployment adopts its old ReplicaSet (same template):
    # no second ReplicaSet and no new pod.
    cluster.kubectl("delete", "deployment", "echo", "-n", NS, "--cascade=orphan")
    assert cluster.kubelet.wait_idle()
    before = {p["metadata"]["uid"] for p in cluster.pods()}
    cluster.kubectl("apply", "-f", "-", stdin=manifest(replicas=1))
    dep = cluster.store.get(kinds.DEPLOYMENT, NS, "echo")
    wait_until(lambda: cluster.replica_sets()[0]["metadata"].get("ownerReferences", [{}])[0].get("uid")
               == dep["metadata"]["uid"], "the ReplicaSet adopted")
    cluster.rollout_status()
    assert [r["metadata"]["name"] for r in cluster.replica_sets()] == [rs["metadata"]["name"]]
    assert {p["metadata"]["uid"] for p in cluster.pods()} == before


def test_resizing_mid_rollout_scales_replicasets_proportionally(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=manifest(
        replicas=2, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}))
    cluster.rollout_status()
    [old] = cluster.replica_sets()
    # A template whose pod never turns Ready holds the rollout at old 2 + new 1.
    bad = {"spec": {"template": {"spec": {"containers": [{
        "name": "echo", "image": "hashicorp/http-echo:1.0", "args": ["-text=v2", "-listen=:8080", "-status-code=500"],
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}}]}}}}
    cluster.kubectl("patch", "deployment", "echo", "-n", NS, "-p", json.dumps(bad))

    def sizes() -> dict[str, int]:
        return {rs["metadata"]["name"]: rs["spec"]["replicas"] for rs in cluster.replica_sets()}

    wait_until(lambda: sorted(sizes().values()) == [1, 2], "old 2 + new 1")
    new_name = next(n for n in sizes() if n != old["metadata"]["name"])
    # sync.go scale: 5 allowed (4 + maxSurge 1) over 3 running: old 2 -> 3, new 1 -> 2 (GetProportion).
    cluster.kubectl("scale", "deployment/echo", "-n", NS, "--replicas=4")
    wait_until(lambda: sizes() == {old["metadata"]["name"]: 3, new_name: 2}, "old 3 + new 2")
    for rs in cluster.replica_sets():
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "4"
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "5"
    events = cluster.kubectl("get", "events", "-n", NS, "--field-selector", "involvedObject.kind=Deployment")
    assert f"Scaled up replica set {old['metadata']['name']} from 2 to 3" in events, events
    assert f"Scaled up replica set {new_name} from 1 to 2" in events, events


def test_min_ready_seconds_delays_availability(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=manifest(replicas=1, minReadySeconds=3))
    wait_until(lambda: (cluster.replica_sets() or [{}])[0].get("status", {}).get("readyReplicas") == 1,
               "a Ready pod")
    [rs] = cluster.replica_sets()
    # Ready, not yet available (podutil.IsPodAvailable): the Deployment is not Available either.
    assert rs["spec"]["minReadySeconds"] == 3 and "availableReplicas" not in rs["status"]
    assert conditions(cluster.store)["Available"]["reason"] == "MinimumReplicasUnavailable"
    cluster.kubectl("wait", "--for=condition=Available", "deployment/echo", "-n", NS, "--timeout=30s")
    st = cluster.apps.read_namespaced_replica_set_status(rs["metadata"]["name"], NS).status
    assert (st.ready_replicas, st.available_replicas) == (1, 1)


def test_a_hash_collision_bumps_collision_count(cluster: Cluster) -> None:
    # Paused, the Deployment makes no ReplicaSet (sync.go sync): its name can be taken first by a stranger.
    cluster.kubectl("apply", "-f", "-", stdin=manifest(replicas=1, paused=True))
    template = cluster.store.get(kinds.DEPLOYMENT, NS, "echo")["spec"]["template"]
    taken = f"echo-{template_hash(template)}"
    stranger = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": taken, "namespace": NS},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "stranger"}},
                         "template": {"metadata": {"labels": {"app": "stranger"}},
                                      "spec": {"containers": [{"name": "s", "image": "hashicorp/http-echo:0.2.3"}]}}}}
    cluster.kubectl("apply", "-f", "-", stdin=json.dumps(stranger))
    cluster.kubectl("rollout", "resume", "deployment/echo", "-n", NS)
    # sync.go getNewReplicaSet: AlreadyExists with another template -> collisionCount + 1, hashed again.
    cluster.rollout_status()
    dep = cluster.store.get(kinds.DEPLOYMENT, NS, "echo")
    assert dep["status"]["collisionCount"] == 1
    names = {rs["metadata"]["name"] for rs in cluster.replica_sets()}
    assert names == {taken, f"echo-{template_hash(template, 1)}"}
    assert "ownerReferences" not in cluster.store.get(kinds.REPLICA_SET, NS, taken)["metadata"]
