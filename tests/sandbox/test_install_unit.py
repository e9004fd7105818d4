"""Issue 20, in process: the install's objects and the ReplicaSet controller's rule for the daemon's pods."""

from __future__ import annotations

import pytest

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.events import EventRecorder
from gloo_nb.sandbox.install import gloo_deployment, install_workloads, proxy_deployment, validation_objects
from gloo_nb.sandbox.pod_objects import MANAGED_BY, is_daemon_managed
from gloo_nb.sandbox.replicaset_controller import ReplicaSetController
from gloo_nb.sandbox.store import ADMIN, CONTROLLER, Store

pytestmark = pytest.mark.unit

NS = "gloo-system"


def _replica_set(managed: bool) -> dict[str, object]:
    annotations = {MANAGED_BY: "sandbox-envoy"} if managed else {}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "gateway-proxy-abc", "namespace": NS},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"gloo": "gateway-proxy"}},
                     "template": {"metadata": {"labels": {"gloo": "gateway-proxy"}, "annotations": annotations},
                                  "spec": {"containers": [{"name": "gateway-proxy", "image": "envoy"}]}}}}


@pytest.mark.parametrize("managed", [True, False])
def test_a_daemon_managed_replicaset_adopts_and_counts_but_creates_no_pod(managed: bool) -> None:
    store = Store()
    for name in ("default", NS):
        store.create(kinds.NAMESPACE, {"metadata": {"name": name}}, identity=ADMIN)
    store.create(kinds.SERVICE_ACCOUNT, {"metadata": {"name": "default", "namespace": NS}}, identity=ADMIN)
    rs = store.create(kinds.REPLICA_SET, _replica_set(managed), identity=ADMIN)
    assert is_daemon_managed(rs) is managed
    # One pod of the daemon's, matching the selector, without an owner.
    store.create(kinds.POD, {"metadata": {"name": "gateway-proxy-0", "namespace": NS,
                                          "labels": {"gloo": "gateway-proxy"},
                                          "annotations": {MANAGED_BY: "sandbox-envoy"}},
                             "spec": {"containers": [{"name": "gateway-proxy", "image": "envoy"}]}}, identity=ADMIN)
    controller = ReplicaSetController(store, EventRecorder(store, "default-scheduler", CONTROLLER))
    controller.sync(NS, "gateway-proxy-abc")
    pods = store.list(kinds.POD, NS)[0]
    # Adopted: controlled by the ReplicaSet (controller_ref_manager.go ClaimObject) and counted in its status.
    adopted = next(p for p in pods if p["metadata"]["name"] == "gateway-proxy-0")
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert len(pods) == (1 if managed else 2)
    assert store.get(kinds.REPLICA_SET, NS, "gateway-proxy-abc")["status"]["replicas"] == len(pods)


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_every_install_template_is_daemon_managed_and_valid_for_the_store(profile: str) -> None:
    assert is_daemon_managed(gloo_deployment(profile))  # type: ignore[arg-type]
    assert is_daemon_managed(proxy_deployment(profile, "internal", 3))  # type: ignore[arg-type]
    store = Store()
    for name in ("default", NS):
        store.create(kinds.NAMESPACE, {"metadata": {"name": name}}, identity=ADMIN)
    # The store's validation (the apiserver's) accepts every object as rendered.
    for kind, manifest in [*install_workloads(profile, [("gateway-proxy", 2)]),  # type: ignore[arg-type]
                           *validation_objects(profile)]:  # type: ignore[arg-type]
        store.create(kind, manifest, identity=ADMIN)
    names = {(o["kind"], o["metadata"]["name"]) for k in (kinds.DEPLOYMENT, kinds.SERVICE_ACCOUNT, kinds.CONFIGMAP)
             for o in store.list(k, NS)[0]}
    assert {("Deployment", "gloo"), ("Deployment", "gateway-proxy"), ("ServiceAccount", "gloo"),
            ("ServiceAccount", "gateway-proxy"), ("ConfigMap", "gateway-proxy-envoy-config")} <= names
