"""The sandbox Store: CRUD semantics, resourceVersions, validation, watch history, persistence and audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until
from sandboxkit import audit_writes

from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.store import ADMIN, GLOO, ApiError, Identity, Store, WatchEvent

pytestmark = pytest.mark.unit


def deployment(name: str = "echo", ns: str = "echo", *, selector: bool = True, env: list[Any] | None = None
               ) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": 1,
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"containers": [{"name": name, "image": "hashicorp/http-echo", "env": env or []}]}}}
    if selector:
        spec["selector"] = {"matchLabels": {"app": name}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def route_table(name: str = "rt", ns: str = "echo", routes: Any = None) -> dict[str, Any]:
    if routes is None:
        routes = [{"matchers": [{"prefix": "/echo"}],
                   "routeAction": {"single": {"upstream": {"name": "echo", "namespace": "gloo-system"}}}}]
    return {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable", "metadata": {"name": name, "namespace": ns},
            "spec": {"routes": routes}}


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store(namespace_grace=0.05)
    s.create(k.NAMESPACE, {"metadata": {"name": "echo"}})
    try:
        yield s
    finally:
        s.close()


def test_create_fills_metadata_and_defaults(store: Store) -> None:
    obj = store.create(k.DEPLOYMENT, deployment())
    meta = obj["metadata"]
    assert obj["apiVersion"] == "apps/v1" and obj["kind"] == "Deployment"
    assert meta["generation"] == 1 and meta["uid"] and meta["resourceVersion"] == store.resource_version
    assert meta["creationTimestamp"].endswith("Z") and len(meta["creationTimestamp"]) == 20
    assert obj["spec"]["strategy"]["type"] == "RollingUpdate"
    svc = store.create(k.SERVICE, {"metadata": {"name": "echo", "namespace": "echo"},
                                   "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80}]}})
    assert svc["spec"]["clusterIP"].startswith("10.96.")
    assert svc["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    ns = store.get(k.NAMESPACE, None, "echo")
    assert ns["status"]["phase"] == "Active"
    generated = store.create(k.CONFIGMAP, {"metadata": {"generateName": "cfg-", "namespace": "echo"}})
    assert generated["metadata"]["name"].startswith("cfg-") and len(generated["metadata"]["name"]) == 9


def test_create_errors(store: Store) -> None:
    store.create(k.DEPLOYMENT, deployment())
    with pytest.raises(ApiError) as err:
        store.create(k.DEPLOYMENT, deployment())
    assert (err.value.code, err.value.reason) == (409, "AlreadyExists")
    assert err.value.message == 'deployments.apps "echo" already exists'
    with pytest.raises(ApiError) as err:
        store.create(k.ROUTE_TABLE, route_table(ns="nope"))
    assert err.value.code == 404 and err.value.message == 'namespaces "nope" not found'
    with pytest.raises(ApiError) as err:
        store.get(k.ROUTE_TABLE, "echo", "x")
    assert err.value.status()["message"] == 'routetables.gateway.solo.io "x" not found'
    assert err.value.status()["details"] == {"name": "x", "group": "gateway.solo.io", "kind": "routetables"}


def test_validation_rejects_garbage_and_changes_nothing(store: Store) -> None:
    store.create(k.ROUTE_TABLE, route_table())
    before = store.resource_version
    with pytest.raises(ApiError) as err:
        store.create(k.DEPLOYMENT, deployment("bad", selector=False))
    assert err.value.code == 422 and err.value.reason == "Invalid"
    assert err.value.message == 'Deployment.apps "bad" is invalid: spec.selector: Required value'
    assert err.value.details and err.value.details["causes"][0]["field"] == "spec.selector"
    with pytest.raises(ApiError) as err:
        store.create(k.ROUTE_TABLE, route_table("bad", routes="oops"))
    assert err.value.code == 422
    assert err.value.message.startswith('RouteTable.gateway.solo.io "bad" is invalid: spec.routes: Invalid value: '
                                        '"oops": expected a list')
    with pytest.raises(ApiError) as err:
        store.patch(k.ROUTE_TABLE, "echo", "rt", lambda o: {**o, "spec": {"routes": "oops"}})
    assert err.value.code == 422
    with pytest.raises(ApiError) as err:
        store.create(k.SERVICE, {"metadata": {"name": "svc", "namespace": "echo"}, "spec": {"ports": [{"port": 0}]}})
    assert "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive" in err.value.message
    with pytest.raises(ApiError) as err:
        store.create(k.CONFIGMAP, {"metadata": {"name": "Bad_Name", "namespace": "echo"}})
    assert "a lowercase RFC 1123 subdomain" in err.value.message
    assert store.resource_version == before
    assert [o["metadata"]["name"] for o in store.list(k.ROUTE_TABLE)[0]] == ["rt"]


def test_patch_generation_noop_and_conflict(store: Store) -> None:
    created = store.create(k.ROUTE_TABLE, route_table())
    same = store.patch(k.ROUTE_TABLE, "echo", "rt", lambda o: o)
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    labeled = store.patch(k.ROUTE_TABLE, "echo", "rt", lambda o: {**o, "metadata": {**o["metadata"],
                                                                                    "labels": {"a": "b"}}})
    assert labeled["metadata"]["generation"] == 1
    assert int(labeled["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    changed = store.patch(k.ROUTE_TABLE, "echo", "rt", lambda o: {**o, "spec": {"routes": []}})
    assert changed["metadata"]["generation"] == 2
    stale = dict(created)
    with pytest.raises(ApiError) as err:
        store.replace(k.ROUTE_TABLE, stale)
    assert err.value.code == 409 and err.value.message == (
        'Operation cannot be fulfilled on routetables.gateway.solo.io "rt": the object has been modified; please '
        "apply your changes to the latest version and try again")
    fresh = store.get(k.ROUTE_TABLE, "echo", "rt")
    fresh["spec"] = {"routes": []}
    assert store.replace(k.ROUTE_TABLE, fresh)["metadata"]["resourceVersion"] == fresh["metadata"]["resourceVersion"]


def test_status_subresource(store: Store) -> None:
    store.create(k.ROUTE_TABLE, route_table())

    def set_status(o: dict[str, Any]) -> dict[str, Any]:
        o["status"] = {"state": "Accepted"}
        o["spec"] = {"routes": []}  # ignored by a status write
        return o

    after = store.patch(k.ROUTE_TABLE, "echo", "rt", set_status, identity=GLOO, subresource="status")
    assert after["status"] == {"state": "Accepted"} and after["spec"]["routes"] and after["metadata"]["generation"] == 1
    # A main-resource write keeps the status.
    obj = store.get(k.ROUTE_TABLE, "echo", "rt")
    obj["status"] = {"state": "Rejected"}
    obj["spec"]["routes"] = []
    again = store.replace(k.ROUTE_TABLE, obj)
    assert again["status"] == {"state": "Accepted"} and again["spec"]["routes"] == []


def test_list_selectors(store: Store) -> None:
    for name, labels in (("a", {"app": "echo", "tier": "web"}), ("b", {"app": "echo"}), ("c", {"app": "other"})):
        store.create(k.POD, {"metadata": {"name": name, "namespace": "echo", "labels": labels},
                             "spec": {"containers": [{"name": "c", "image": "i"}]}})
    store.patch(k.POD, "echo", "b", lambda o: {**o, "status": {"phase": "Running"}}, subresource="status")

    def names(**kw: str) -> list[str]:
        return [o["metadata"]["name"] for o in store.list(k.POD, "echo", **kw)[0]]

    assert names(label_selector="app=echo") == ["a", "b"]
    assert names(label_selector="app in (echo,other),!tier") == ["b", "c"]
    assert names(label_selector="tier") == ["a"]
    assert names(label_selector="app!=echo") == ["c"]
    assert names(field_selector="status.phase=Running") == ["b"]
    assert names(field_selector="metadata.name=c,metadata.namespace=echo") == ["c"]
    assert store.list(k.POD, "other")[0] == []
    with pytest.raises(ApiError) as err:
        store.list(k.POD, label_selector="app in echo")
    assert err.value.code == 400


def test_subscribe_and_events_since(store: Store) -> None:
    seen: list[WatchEvent] = []
    unsubscribe = store.subscribe(seen.append)
    start = int(store.resource_version)
    store.create(k.ROUTE_TABLE, route_table())
    store.patch(k.ROUTE_TABLE, "echo", "rt", lambda o: o)  # no-op: no event
    store.patch(k.ROUTE_TABLE, "echo", "rt", lambda o: {**o, "spec": {"routes": []}})
    store.delete(k.ROUTE_TABLE, "echo", "rt")
    unsubscribe()
    store.create(k.ROUTE_TABLE, route_table("later"))
    assert [(e.type, e.resource_version) for e in seen] == [("ADDED", start + 1), ("MODIFIED", start + 2),
                                                             ("DELETED", start + 3)]
    assert seen[2].object["metadata"]["resourceVersion"] == str(start + 3)
    assert [e.type for e in store.events_since(start + 1)] == ["MODIFIED", "DELETED", "ADDED"]
    assert store.events_since(int(store.resource_version)) == []


def test_namespace_delete_cascades_after_terminating(store: Store) -> None:
    store.create(k.ROUTE_TABLE, route_table())
    store.create(k.DEPLOYMENT, deployment())
    gone = store.delete(k.NAMESPACE, None, "echo")
    assert gone["status"]["phase"] == "Terminating"
    # While terminating, the objects that follow a Namespace in a manifest can still be deleted...
    store.delete(k.DEPLOYMENT, "echo", "echo")
    with pytest.raises(ApiError) as err:  # ...but nothing new may be created.
        store.create(k.CONFIGMAP, {"metadata": {"name": "x", "namespace": "echo"}})
    assert err.value.code == 403 and "being terminated" in err.value.message
    wait_until(lambda: store.list(k.NAMESPACE)[0], "the terminating namespace to go", until=lambda ns: ns == [])
    assert store.list(k.ROUTE_TABLE)[0] == []


def test_dry_run_stores_nothing(store: Store) -> None:
    rv = store.resource_version
    obj = store.create(k.ROUTE_TABLE, route_table(), dry_run=True)
    assert obj["metadata"]["name"] == "rt" and store.resource_version == rv
    with pytest.raises(ApiError):
        store.get(k.ROUTE_TABLE, "echo", "rt")


def test_persistence_audit_and_rv_continue(tmp_path: Path) -> None:
    s = Store(tmp_path)
    alice = Identity("alice", ("team-echo", "system:authenticated"))
    s.create(k.NAMESPACE, {"metadata": {"name": "echo"}})
    s.create(k.ROUTE_TABLE, route_table(), identity=alice)
    s.create(k.ROUTE_TABLE, route_table("gone"))
    s.delete(k.ROUTE_TABLE, "echo", "gone")
    s.patch(k.ROUTE_TABLE, "echo", "rt", lambda o: {**o, "spec": {"routes": []}}, identity=alice)
    rv = int(s.resource_version)
    s.close()

    again = Store(tmp_path)
    try:
        assert [o["metadata"]["name"] for o in again.list(k.ROUTE_TABLE)[0]] == ["rt"]
        assert again.get(k.ROUTE_TABLE, "echo", "rt")["spec"] == {"routes": []}
        assert int(again.resource_version) == rv
        created = again.create(k.ROUTE_TABLE, route_table("new"))
        assert int(created["metadata"]["resourceVersion"]) == rv + 1
        with pytest.raises(ApiError) as err:  # history does not survive a restart
            again.events_since(rv - 1)
        assert err.value.code == 410 and err.value.reason == "Expired"
    finally:
        again.close()
    audit = audit_writes(tmp_path / "audit.jsonl")
    assert [(a.verb, a.name, a.user) for a in audit] == [
        ("create", "echo", "admin"), ("create", "rt", "alice"), ("create", "gone", "admin"),
        ("delete", "gone", "admin"), ("patch", "rt", "alice"), ("create", "new", "admin")]
    assert audit[1].groups == ("team-echo", "system:authenticated")
    assert (audit[1].api_group, audit[1].api_version, audit[1].kind) == ("gateway.solo.io", "v1", "RouteTable")
    assert audit[1].namespace == "echo" and audit[1].written_versions == ("2",)
    # An in-process write at the default level: the request it stands for, and the object stored.
    assert audit[1].level == "RequestResponse" and audit[1].code == 201
    assert audit[1].request_uri == "/apis/gateway.solo.io/v1/namespaces/echo/routetables"
    assert audit[1].response_object["metadata"]["resourceVersion"] == "2"
    assert audit[4].request_object == {"spec": {"routes": []}}  # the merge patch of the in-process patch


def test_truncated_log_tail_is_ignored(tmp_path: Path) -> None:
    s = Store(tmp_path)
    s.create(k.NAMESPACE, {"metadata": {"name": "echo"}})
    s.create(k.ROUTE_TABLE, route_table())
    # No close(): a kill -9 leaves the flushed lines and maybe half a line.
    with open(tmp_path / "objects.jsonl", "a") as f:
        f.write('{"op":"put","rv":99,"o":{"apiVe')
    again = Store(tmp_path)
    try:
        assert again.get(k.ROUTE_TABLE, "echo", "rt")["metadata"]["name"] == "rt"
        assert again.resource_version == "2"
    finally:
        again.close()
        s.close()


def test_five_hundred_route_tables_created_patched_and_listed(tmp_path: Path) -> None:
    # What it costs is bench/sandbox.py's (a ratio against json copies of the same writes).
    s = Store(tmp_path)
    try:
        s.create(k.NAMESPACE, {"metadata": {"name": "echo"}})
        for i in range(500):
            s.create(k.ROUTE_TABLE, route_table(f"rt-{i}"))
        for i in range(200):
            s.patch(k.ROUTE_TABLE, "echo", f"rt-{i % 500}",
                    lambda o, n=str(i): {**o, "metadata": {**o["metadata"], "labels": {"n": n}}})
        for _ in range(20):
            items, _ = s.list(k.ROUTE_TABLE, "echo")
            s.get(k.ROUTE_TABLE, "echo", "rt-250")
        assert len(items) == 500
        assert {o["metadata"]["labels"]["n"] for o in items if o["metadata"]["name"] == "rt-199"} == {"199"}
    finally:
        s.close()


def test_admin_identity_is_master() -> None:
    assert "system:masters" in ADMIN.groups
