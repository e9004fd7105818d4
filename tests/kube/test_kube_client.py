"""gloo_nb.kube.KubeClient against the sandbox's Kubernetes-compatible API (real HTTP, real client)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gloo_nb.kube import ConflictError, KubeClient, KubeError
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubeapi import ServerThread, write_kubeconfig
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.store import GLOO, Store

pytestmark = pytest.mark.sandbox


def _rt(body: str) -> dict:
    return {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
            "metadata": {"name": "routes", "namespace": "team"},
            "spec": {"routes": [{"matchers": [{"prefix": "/x"}],
                                 "directResponseAction": {"status": 200, "body": body}}]}}


@pytest.fixture
def served(tmp_path: Path):
    store = Store()
    store.create(kinds.NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    creds = Credentials.load_or_create(tmp_path / "pki")
    with ServerThread(store, creds) as url:
        write_kubeconfig(tmp_path / "kubeconfig", url, creds)
        yield store, KubeClient.from_kubeconfig(str(tmp_path / "kubeconfig"))


def test_apply_creates_configures_and_keeps_status(served) -> None:
    store, kube = served
    assert kube.apply(_rt("a"))[0] == "created"
    store.patch(kinds.ROUTE_TABLE, "team", "routes", lambda o: {**o, "status": {"state": 1}},
                identity=GLOO, subresource="status")
    assert kube.apply(_rt("a"))[0] == "unchanged"
    outcome, stored = kube.apply(_rt("b"))
    assert outcome == "configured"
    assert stored["spec"]["routes"][0]["directResponseAction"]["body"] == "b"
    assert stored["status"] == {"state": 1}
    assert kube.patch("RouteTable", "team", "routes", {"metadata": {"labels": {"x": "y"}}})["metadata"]["labels"]
    assert kube.delete("RouteTable", "team", "routes") is True
    assert kube.delete("RouteTable", "team", "routes") is False
    with pytest.raises(KubeError) as err:
        kube.get("RouteTable", "team", "routes")
    assert err.value.status == 404 and 'routetables.gateway.solo.io "routes" not found' in str(err.value)


def test_apply_does_not_conflict_with_a_controller_writing_the_status(served) -> None:
    store, kube = served
    kube.apply(_rt("v0"))
    stop = threading.Event()
    writes = 0

    def controller() -> None:
        nonlocal writes
        while not stop.wait(0.001):
            writes += 1
            status = {"n": writes}
            store.patch(kinds.ROUTE_TABLE, "team", "routes", lambda o, s=status: {**o, "status": s},
                        identity=GLOO, subresource="status")

    thread = threading.Thread(target=controller)
    thread.start()
    try:
        for i in range(1, 30):
            assert kube.apply(_rt(f"v{i}"))[0] == "configured"
    finally:
        stop.set()
        thread.join()
    assert store.get(kinds.ROUTE_TABLE, "team", "routes")["spec"]["routes"][0]["directResponseAction"]["body"] == "v29"
    assert writes > 10, "the controller kept writing while apply ran"


def test_conflict_error_is_typed(served) -> None:
    _, kube = served
    kube.apply(_rt("a"))
    live = kube.get("RouteTable", "team", "routes")
    kube.apply(_rt("b"))
    with pytest.raises(ConflictError):
        kube._call("PUT", "/apis/gateway.solo.io/v1/namespaces/team/routetables/routes", live)


def test_replace_is_guarded_by_the_resource_version(served) -> None:
    _, kube = served
    kube.apply(_rt("a"))
    live = kube.get("RouteTable", "team", "routes")
    mine = {**live, "spec": _rt("mine")["spec"]}
    stored = kube.replace(mine)
    assert stored["spec"]["routes"][0]["directResponseAction"]["body"] == "mine"
    assert stored["metadata"]["resourceVersion"] != live["metadata"]["resourceVersion"]
    # A second write from the same stale copy must not overwrite "mine".
    with pytest.raises(ConflictError):
        kube.replace({**live, "spec": _rt("stale")["spec"]})
    assert kube.get("RouteTable", "team", "routes")["spec"]["routes"][0]["directResponseAction"]["body"] == "mine"
    unversioned = _rt("x")
    with pytest.raises(KubeError, match="resourceVersion is missing"):
        kube.replace(unversioned)


def test_apply_removes_what_the_manifest_no_longer_has(served) -> None:
    store, kube = served
    first = _rt("a")
    first["metadata"]["labels"] = {"team": "x", "old": "y"}
    first["spec"]["weight"] = 3
    kube.apply(first)
    second = _rt("a")
    second["metadata"]["labels"] = {"team": "x"}
    outcome, stored = kube.apply(second)
    assert outcome == "configured"
    assert stored["metadata"]["labels"] == {"team": "x"} and "weight" not in stored["spec"]
    assert stored["metadata"]["uid"] == store.get(kinds.ROUTE_TABLE, "team", "routes")["metadata"]["uid"]


def test_watch_from_a_list_version(served) -> None:
    store, kube = served
    kube.apply(_rt("a"))
    rv = kube.list("RouteTable", "team")["metadata"]["resourceVersion"]

    def writer() -> None:
        kube.apply(_rt("b"))
        kube.delete("RouteTable", "team", "routes")

    thread = threading.Thread(target=writer)
    thread.start()
    events = []
    for etype, obj in kube.watch("RouteTable", "team", resource_version=rv, timeout_seconds=1):
        events.append((etype, obj["spec"]["routes"][0]["directResponseAction"]["body"]))
    thread.join()
    assert events == [("MODIFIED", "b"), ("DELETED", "b")]
    initial = list(kube.watch("Namespace", timeout_seconds=1))
    assert [(t, o["metadata"]["name"]) for t, o in initial] == [("ADDED", "team")]


def test_response_bodies_decode_with_orjson_and_the_stdlib_where_orjson_refuses() -> None:
    from gloo_nb.kube.client import _loads

    assert _loads(b'{"items": [{"a": 1, "b": "\\u00e9"}]}') == {"items": [{"a": 1, "b": "é"}]}
    assert _loads(b'{"n": 123456789012345678901234567890}') == {"n": 123456789012345678901234567890}
    deep = "[" * 1500 + "]" * 1500
    with pytest.raises(RecursionError):  # as json.loads alone did
        _loads(deep.encode())
    with pytest.raises(ValueError):
        _loads(b"{not json")
    assert _loads(b'{"s": "1234567890123456789012", "n": -9223372036854775809}') == {
        "s": "1234567890123456789012", "n": -9223372036854775809}
    assert type(_loads(b'{"n": 9223372036854775807}')["n"]) is int
