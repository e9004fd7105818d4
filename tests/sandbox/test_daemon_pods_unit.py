"""gloo_nb.sandbox.daemon_pods in-process: readiness conditions, the downwardAPI files, scale and template changes.

A store with a Deployment whose pod template has no readinessProbe (the kubelet then counts a running container as
ready) and a component that only records its starts and stops; the probed, real-port behaviour is
tests/sandbox/test_gloo_pod_lifecycle.py's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from polling import wait_until

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.daemon_pods import DaemonPod, set_ready, write_downward_api
from gloo_nb.sandbox.store import ApiError, Store

pytestmark = pytest.mark.unit

NS = "gloo-system"


def _status(ready: bool) -> dict[str, Any]:
    return {"phase": "Running",
            "conditions": [{"type": t, "status": "True" if ready or t == "PodScheduled" else "False",
                            "lastTransitionTime": "2026-01-01T00:00:00Z"} for t in ("PodScheduled", "Ready",
                                                                                     "ContainersReady")],
            "containerStatuses": [{"name": "gloo", "ready": ready}]}


def test_set_ready_writes_the_kubelets_conditions_and_moves_transition_times_only_on_change() -> None:
    down = set_ready(_status(True), False, now="2026-02-02T00:00:00Z")
    conds = {c["type"]: c for c in down["conditions"]}
    assert conds["Ready"] == {"type": "Ready", "status": "False", "lastTransitionTime": "2026-02-02T00:00:00Z",
                              "reason": "ContainersNotReady", "message": "containers with unready status: [gloo]"}
    assert conds["ContainersReady"]["reason"] == "ContainersNotReady"
    assert conds["PodScheduled"] == {"type": "PodScheduled", "status": "True",
                                     "lastTransitionTime": "2026-01-01T00:00:00Z"}
    assert down["containerStatuses"] == [{"name": "gloo", "ready": False}]
    same = set_ready(down, False, now="2026-03-03T00:00:00Z")
    assert {c["type"]: c for c in same["conditions"]}["Ready"]["lastTransitionTime"] == "2026-02-02T00:00:00Z"
    up = set_ready(down, True, now="2026-04-04T00:00:00Z")
    assert {c["type"]: c for c in up["conditions"]}["Ready"] == {
        "type": "Ready", "status": "True", "lastTransitionTime": "2026-04-04T00:00:00Z"}
    assert up["containerStatuses"][0]["ready"] is True


def test_the_downward_api_labels_file_is_formatted_as_fieldpath_formatmap(tmp_path: Path) -> None:
    pod = {"metadata": {"name": "gloo-abc", "namespace": NS, "labels": {"pod-template-hash": "h1", "gloo": "gloo"},
                        "annotations": {"a": 'say "hi"'}},
           "spec": {"volumes": [{"name": "labels-volume", "downwardAPI": {"items": [
               {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
               {"path": "sub/name", "fieldRef": {"fieldPath": "metadata.name"}},
               {"path": "one", "fieldRef": {"fieldPath": "metadata.labels['gloo']"}},
               {"path": "ann", "fieldRef": {"fieldPath": "metadata.annotations"}},
               {"path": "../escape", "fieldRef": {"fieldPath": "metadata.name"}},
               {"path": "cpu", "resourceFieldRef": {"resource": "limits.cpu"}}]}}]}}
    write_downward_api(pod, tmp_path)
    vol = tmp_path / "labels-volume"
    assert (vol / "labels").read_text() == 'gloo="gloo"\npod-template-hash="h1"'
    assert (vol / "sub" / "name").read_text() == "gloo-abc"
    assert (vol / "one").read_text() == "gloo"
    assert (vol / "ann").read_text() == 'a="say \\"hi\\""'
    assert sorted(p.name for p in vol.iterdir()) == ["ann", "labels", "one", "sub"]
    assert not (tmp_path / "escape").exists()


class _Component:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail = False

    def start(self) -> None:
        if self.fail:
            raise OSError("address already in use")
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")


def _deployment(replicas: int, note: str = "") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gloo", "namespace": NS},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"gloo": "gloo"}},
                     "template": {"metadata": {"labels": {"gloo": "gloo"}, "annotations": {"note": note}},
                                  "spec": {"containers": [{"name": "gloo", "image": "quay.io/solo-io/gloo:1.3.20"}]}}}}


def _set(store: Store, **spec: Any) -> None:
    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        if "replicas" in spec:
            obj["spec"]["replicas"] = spec["replicas"]
        if "note" in spec:
            obj["spec"]["template"]["metadata"]["annotations"]["note"] = spec["note"]
        return obj
    store.patch(kinds.DEPLOYMENT, NS, "gloo", mutate)


def _pods(store: Store) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in store.list(kinds.POD, NS)[0]}


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])


@pytest.fixture
def owned(tmp_path: Path) -> Any:
    store = Store(tmp_path)
    store.create(kinds.NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    store.create(kinds.DEPLOYMENT, _deployment(1))
    component = _Component()

    def publish(name: str, pod_hash: str, template: dict[str, Any]) -> dict[str, Any]:
        manifest = {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": NS,
                                 "labels": {**template["metadata"]["labels"], "pod-template-hash": pod_hash}},
                    "spec": {"nodeName": "sandbox", "containers": template["spec"]["containers"]}}
        try:
            store.get(kinds.POD, NS, name)
        except ApiError:
            store.create(kinds.POD, manifest)

        def status(obj: dict[str, Any]) -> dict[str, Any]:
            obj["status"] = _status(False)
            return obj
        store.patch(kinds.POD, NS, name, status, subresource="status")
        return manifest

    pod = DaemonPod(store, "gloo", namespace=NS, publish=publish, name_for=lambda h, n: f"gloo-{h}-{n}",
                    host_port=lambda port: None, start=component.start, stop=component.stop)
    unsubscribe = store.subscribe(pod.notify)
    pod.attach(running=True)
    try:
        yield store, pod, component
    finally:
        unsubscribe()
        pod.close()
        store.close()


def test_scale_and_template_changes_start_stop_and_replace_the_pod(owned: Any) -> None:
    store, pod, component = owned
    first = wait_until(lambda: _pods(store), "the first pod, ready without a probe",
                       until=lambda ps: len(ps) == 1 and all(map(_ready, ps.values())))
    (name,) = first
    assert name.endswith("-0") and component.calls == []
    _set(store, replicas=0)
    wait_until(lambda: _pods(store), "the pod deleted", until=lambda ps: ps == {})
    wait_until(lambda: component.calls, "the component stopped", until=lambda c: c == ["stop"])
    assert pod.pod is None and not pod.running
    _set(store, replicas=1)
    second = wait_until(lambda: _pods(store), "a new pod", until=lambda ps: len(ps) == 1 and name not in ps)
    assert next(iter(second)).endswith("-1")
    wait_until(lambda: component.calls, "the component started", until=lambda c: c == ["stop", "start"])
    # A new template: a new pod with the new hash, the old one gone, the component restarted.
    _set(store, note="restarted")
    third = wait_until(lambda: _pods(store), "the rolled pod",
                       until=lambda ps: len(ps) == 1 and not set(ps) & set(second))
    (third_name,) = third
    assert third[third_name]["metadata"]["labels"]["pod-template-hash"] not in next(iter(second))
    wait_until(lambda: component.calls, "restarted", until=lambda c: c == ["stop", "start", "stop", "start"])
    # A user's delete: the same name again, the component left running.
    uid = third[third_name]["metadata"]["uid"]
    store.delete(kinds.POD, NS, third_name)
    again = wait_until(lambda: _pods(store), "published again",
                       until=lambda ps: third_name in ps and ps[third_name]["metadata"]["uid"] != uid)
    assert set(again) == {third_name} and component.calls == ["stop", "start", "stop", "start"]


def test_a_component_that_cannot_start_is_retried_while_its_pod_waits(owned: Any) -> None:
    store, pod, component = owned
    wait_until(lambda: _pods(store), "the first pod", until=lambda ps: len(ps) == 1)
    _set(store, replicas=0)
    wait_until(lambda: component.calls, "stopped", until=lambda c: c == ["stop"])
    component.fail = True
    _set(store, replicas=1)
    wait_until(lambda: _pods(store), "a new pod while the component fails", until=lambda ps: len(ps) == 1)
    assert not pod.running
    component.fail = False
    wait_until(lambda: component.calls, "started on a retry", until=lambda c: c == ["stop", "start"], timeout=10)
    assert pod.running
