"""The sandbox API server against the official Python ``kubernetes`` client, plus raw HTTP checks."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.kubeapi import ServerThread, write_kubeconfig
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

# Raw HTTPS calls carry the server's admin token and trust its CA, as the kubeconfig does (one opener per server).
_OPENERS: dict[str, urllib.request.OpenerDirector] = {}


def serve(store: Store, pki: Path) -> tuple[ServerThread, Credentials]:
    creds = Credentials.load_or_create(pki)
    server = ServerThread(store, creds)
    url = server.start()
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=creds.client_context()))
    opener.addheaders = [("Authorization", f"Bearer {creds.token}")]
    _OPENERS[url] = opener
    return server, creds


def urlopen(target: str | urllib.request.Request, timeout: float) -> Any:
    url = target if isinstance(target, str) else target.full_url
    base = next(b for b in _OPENERS if url.startswith(b))
    return _OPENERS[base].open(target, timeout=timeout)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Store, str, client.ApiClient]]:
    store = Store(tmp_path / "state")
    api: client.ApiClient | None = None
    server: ServerThread | None = None
    try:
        server, creds = serve(store, tmp_path / "pki")
        url = server.url
        write_kubeconfig(tmp_path / "kubeconfig", url, creds)
        api = config.new_client_from_config(str(tmp_path / "kubeconfig"))
        store.create(k.NAMESPACE, {"metadata": {"name": "echo"}})
        yield store, url, api
    finally:
        if api is not None:
            api.close()
        if server is not None:
            server.stop()
        store.close()


def http(url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
         ) -> tuple[int, dict[str, Any], Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


RT = {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable", "metadata": {"name": "echo-routes"},
      "spec": {"routes": [{"matchers": [{"prefix": "/echo"}],
                           "routeAction": {"single": {"upstream": {"name": "echo", "namespace": "gloo-system"}}}}]}}


def test_core_and_apps_typed_api(served: tuple[Store, str, client.ApiClient]) -> None:
    store, _, api = served
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    pod = core.create_namespaced_pod("echo", {"metadata": {"name": "p", "labels": {"app": "echo"}},
                                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    assert pod.metadata.uid and pod.metadata.creation_timestamp is not None
    assert [p.metadata.name for p in core.list_namespaced_pod("echo", label_selector="app=echo").items] == ["p"]
    assert core.list_namespaced_pod("echo", label_selector="app=other").items == []
    assert [p.metadata.name for p in core.list_pod_for_all_namespaces(field_selector="metadata.name=p").items] == ["p"]
    core.patch_namespaced_pod_status("p", "echo", {"status": {"phase": "Running",
                                                              "conditions": [{"type": "Ready", "status": "True"}]}})
    assert core.read_namespaced_pod("p", "echo").status.phase == "Running"
    # Typed patches are strategic merge patches.
    core.patch_namespaced_pod("p", "echo", {"metadata": {"labels": {"extra": "yes"}}})
    assert store.get(k.POD, "echo", "p")["metadata"]["labels"] == {"app": "echo", "extra": "yes"}
    dep = apps.create_namespaced_deployment("echo", {
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "hashicorp/http-echo"}]}}}})
    assert dep.spec.replicas == 1
    scale = apps.patch_namespaced_deployment_scale("web", "echo", {"spec": {"replicas": 4}})
    assert scale.kind == "Scale" and scale.spec.replicas == 4
    assert apps.read_namespaced_deployment_scale("web", "echo").spec.replicas == 4
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment("echo", {"metadata": {"name": "bad"}, "spec": {
            "selector": {"matchLabels": {"app": "y"}},
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    assert err.value.status == 422
    assert json.loads(err.value.body)["message"] == (
        'Deployment.apps "bad" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: '
        "`selector` does not match template `labels`")
    core.delete_namespaced_pod("p", "echo")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod("p", "echo")
    assert err.value.status == 404 and json.loads(err.value.body)["message"] == 'pods "p" not found'


def test_custom_objects(served: tuple[Store, str, client.ApiClient]) -> None:
    store, _, api = served
    co = client.CustomObjectsApi(api)
    created = co.create_namespaced_custom_object("gateway.solo.io", "v1", "echo", "routetables", RT)
    assert created["metadata"]["resourceVersion"] and created["kind"] == "RouteTable"
    patched = co.patch_namespaced_custom_object("gateway.solo.io", "v1", "echo", "routetables", "echo-routes",
                                                {"spec": {"routes": []}})
    assert patched["spec"] == {"routes": []} and patched["metadata"]["generation"] == 2
    listed = co.list_cluster_custom_object("gateway.solo.io", "v1", "routetables")
    assert listed["kind"] == "RouteTableList" and listed["metadata"]["resourceVersion"] == store.resource_version
    # The v37 client sends a list body as a merge patch unless told otherwise: 400 with Go's message, not a 500.
    with pytest.raises(ApiException) as err:
        co.patch_namespaced_custom_object("gateway.solo.io", "v1", "echo", "routetables", "echo-routes",
                                          [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}])
    assert err.value.status == 400
    assert json.loads(err.value.body)["message"] == ("json: cannot unmarshal array into Go value of type "
                                                     "map[string]interface {}")
    co.patch_namespaced_custom_object("gateway.solo.io", "v1", "echo", "routetables", "echo-routes",
                                      [{"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}],
                                      _content_type="application/json-patch+json")
    assert store.get(k.ROUTE_TABLE, "echo", "echo-routes")["metadata"]["labels"] == {"a": "b"}
    co.patch_namespaced_custom_object_status("gateway.solo.io", "v1", "echo", "routetables", "echo-routes",
                                             {"status": {"state": 1}})
    assert store.get(k.ROUTE_TABLE, "echo", "echo-routes")["status"] == {"state": 1}
    co.delete_namespaced_custom_object("gateway.solo.io", "v1", "echo", "routetables", "echo-routes")
    assert store.list(k.ROUTE_TABLE)[0] == []


def test_watch_stream_initial_events_and_changes(served: tuple[Store, str, client.ApiClient]) -> None:
    store, _, api = served
    core = client.CoreV1Api(api)
    store.create(k.CONFIGMAP, {"metadata": {"name": "a", "namespace": "echo"}})

    def writer() -> None:
        time.sleep(0.5)
        store.create(k.CONFIGMAP, {"metadata": {"name": "b", "namespace": "echo"}})
        store.patch(k.CONFIGMAP, "echo", "a", lambda o: {**o, "data": {"x": "1"}})
        store.create(k.CONFIGMAP, {"metadata": {"name": "other", "namespace": "echo", "labels": {"skip": "y"}}})
        store.delete(k.CONFIGMAP, "echo", "b")

    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    started = time.monotonic()
    for event in watch.Watch().stream(core.list_namespaced_config_map, "echo", label_selector="!skip",
                                      timeout_seconds=2):
        seen.append((event["type"], event["object"].metadata.name))
    thread.join()
    assert seen == [("ADDED", "a"), ("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
    # timeoutSeconds ends the stream (without it the loop would not end), and not before it is due.
    assert time.monotonic() - started > 1.5


def test_watch_label_selector_follows_objects_in_and_out(served: tuple[Store, str, client.ApiClient]) -> None:
    store, url, _ = served
    rv = store.resource_version
    store.create(k.CONFIGMAP, {"metadata": {"name": "a", "namespace": "echo", "labels": {"team": "echo"}}})
    store.patch(k.CONFIGMAP, "echo", "a", lambda o: {**o, "metadata": {**o["metadata"], "labels": {"team": "x"}}})
    store.patch(k.CONFIGMAP, "echo", "a", lambda o: {**o, "metadata": {**o["metadata"], "labels": {"team": "echo"}}})
    store.patch(k.CONFIGMAP, "echo", "a", lambda o: {**o, "data": {"k": "v"}})
    store.delete(k.CONFIGMAP, "echo", "a")
    with urlopen(f"{url}/api/v1/namespaces/echo/configmaps?watch=1&resourceVersion={rv}"
                 "&labelSelector=team%3Decho&timeoutSeconds=1", timeout=10) as resp:
        lines = [json.loads(line) for line in resp.read().splitlines()]
    # Leaving the selector is a DELETED, coming back an ADDED, as with a real apiserver.
    assert [e["type"] for e in lines] == ["ADDED", "DELETED", "ADDED", "MODIFIED", "DELETED"]


def test_watch_resource_version_and_expired(served: tuple[Store, str, client.ApiClient]) -> None:
    store, url, _ = served
    rv = store.resource_version
    store.create(k.CONFIGMAP, {"metadata": {"name": "a", "namespace": "echo"}})
    with urlopen(f"{url}/api/v1/namespaces/echo/configmaps?watch=1&resourceVersion={rv}"
                                "&timeoutSeconds=1", timeout=10) as resp:
        lines = [json.loads(line) for line in resp.read().splitlines()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [("ADDED", "a")]
    with urlopen(f"{url}/api/v1/namespaces/echo/configmaps?watch=1&resourceVersion=0"
                                "&timeoutSeconds=1", timeout=10,) as resp:
        assert [json.loads(line)["type"] for line in resp.read().splitlines()] == ["ADDED"]
    req = urllib.request.Request(f"{url}/api/v1/namespaces/echo/configmaps?watch=true&resourceVersion={rv}"
                                 "&timeoutSeconds=1",
                                 headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    with urlopen(req, timeout=10) as resp:
        event = json.loads(resp.read().splitlines()[0])
    assert event["object"]["kind"] == "Table" and event["object"]["rows"][0]["cells"][:2] == ["a", 0]


def test_watch_from_before_a_restart_is_expired(tmp_path: Path) -> None:
    first = Store(tmp_path)
    first.create(k.NAMESPACE, {"metadata": {"name": "x"}})
    first.create(k.NAMESPACE, {"metadata": {"name": "y"}})
    first.close()
    again = Store(tmp_path)
    try:
        server, _ = serve(again, tmp_path / "pki")
        try:
            url = server.url
            with urlopen(f"{url}/api/v1/namespaces?watch=1&resourceVersion=1", timeout=10) as resp:
                event = json.loads(resp.read().splitlines()[0])
            assert event["type"] == "ERROR" and event["object"]["code"] == 410
            assert event["object"]["reason"] == "Expired"
            with urlopen(f"{url}/api/v1/namespaces?watch=1&resourceVersion=2&timeoutSeconds=1", timeout=10) as resp:
                assert resp.read() == b""
        finally:
            server.stop()
    finally:
        again.close()


def test_server_stop_closes_open_watches(tmp_path: Path) -> None:
    store = Store()
    server, _ = serve(store, tmp_path / "pki")
    url = server.url
    result: list[float] = []

    def watcher() -> None:
        started = time.monotonic()
        try:
            with urlopen(f"{url}/api/v1/namespaces?watch=1", timeout=60) as resp:
                resp.read()
        except Exception:
            pass
        result.append(time.monotonic() - started)

    thread = threading.Thread(target=watcher)
    thread.start()
    time.sleep(0.5)
    server.stop()
    thread.join(60)
    store.close()
    # The server closed the watch: the client did not wait for its own 60 s timeout.
    assert result and result[0] < 30, result


def test_identity_rbac_and_errors(served: tuple[Store, str, client.ApiClient]) -> None:
    store, url, api = served
    co = client.CustomObjectsApi(api)
    co.create_namespaced_custom_object("gateway.solo.io", "v1", "echo", "routetables", RT)
    # A token that is not the sandbox admin's: 401.
    status, _, body = http(f"{url}/api/v1/namespaces", headers={"Authorization": "Bearer nope"})
    assert status == 401 and body["reason"] == "Unauthorized"
    # Impersonation without any binding: 403 with the apiserver's message; discovery stays open.
    alice = {"Impersonate-User": "alice", "Impersonate-Group": "devs"}
    status, _, body = http(f"{url}/apis/gateway.solo.io/v1/namespaces/echo/routetables/echo-routes", headers=alice)
    assert status == 403 and body["message"] == (
        'routetables.gateway.solo.io "echo-routes" is forbidden: User "alice" cannot get resource "routetables" in '
        'API group "gateway.solo.io" in the namespace "echo"')
    assert http(f"{url}/apis", headers=alice)[0] == 200 and http(f"{url}/version", headers=alice)[0] == 200
    store.create(k.ROLE, {"metadata": {"name": "rt-reader", "namespace": "echo"}, "rules": [
        {"apiGroups": ["gateway.solo.io"], "resources": ["routetables"], "verbs": ["get"],
         "resourceNames": ["echo-routes"]}]})
    store.create(k.ROLE_BINDING, {"metadata": {"name": "devs", "namespace": "echo"},
                                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                              "name": "rt-reader"},
                                  "subjects": [{"kind": "Group", "name": "devs"}]})
    assert http(f"{url}/apis/gateway.solo.io/v1/namespaces/echo/routetables/echo-routes", headers=alice)[0] == 200
    status, _, body = http(f"{url}/apis/gateway.solo.io/v1/namespaces/echo/routetables", headers=alice)
    assert status == 403 and body["message"].startswith("routetables.gateway.solo.io is forbidden")
    # Unknown paths and methods: Status bodies, never a traceback.
    assert http(f"{url}/apis/gateway.solo.io/v1/namespaces/echo/nopes")[0] == 404
    status, _, body = http(f"{url}/api/v1/namespaces/echo/configmaps", "PUT", {})
    assert status == 405 and body["reason"] == "MethodNotAllowed"
    status, _, body = http(f"{url}/apis/gateway.solo.io/v1/namespaces/echo/routetables/echo-routes", "PATCH",
                           {"spec": {}}, {"Content-Type": "application/strategic-merge-patch+json"})
    assert status == 415 and body["reason"] == "UnsupportedMediaType"
    # fieldValidation=Warn puts escaped quotes in the Warning header; dryRun stores nothing.
    rv = store.resource_version
    status, headers, _ = http(f"{url}/apis/gateway.solo.io/v1/namespaces/echo/routetables?dryRun=All"
                              "&fieldValidation=Warn", "POST",
                              {**RT, "metadata": {"name": "x"}, "spec": {"routes": [], "bogus": 1}},
                              {"Content-Type": "application/json"})
    assert status == 201 and headers["Warning"] == '299 - "unknown field \\"spec.bogus\\""'
    assert store.resource_version == rv


def test_discovery_and_openapi(served: tuple[Store, str, client.ApiClient]) -> None:
    _, url, _ = served
    req = urllib.request.Request(f"{url}/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"})
    with urlopen(req, timeout=10) as resp:
        assert resp.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        groups = {g["metadata"]["name"] for g in json.loads(resp.read())["items"]}
    assert groups == {"apps", "gateway.solo.io", "gloo.solo.io", "rbac.authorization.k8s.io", "authorization.k8s.io",
                      "apiextensions.k8s.io", "batch", "apiregistration.k8s.io", "authentication.k8s.io",
                      "admissionregistration.k8s.io", "metrics.k8s.io"}
    assert http(f"{url}/version")[2]["minor"] == "32"
    # Issue 20: /openapi/v2 is served (kubectl validates a kind: List's items with it), without definitions.
    assert http(f"{url}/openapi/v2")[2]["swagger"] == "2.0"
    index = http(f"{url}/openapi/v3")[2]["paths"]
    status, _, doc = http(url + index["apis/gateway.solo.io/v1"]["serverRelativeURL"])
    ops = [p["patch"] for p in doc["paths"].values()]
    assert status == 200 and any(o["x-kubernetes-group-version-kind"]["kind"] == "RouteTable" and
                                 any(p["name"] == "fieldValidation" for p in o["parameters"]) for o in ops)
    assert "io.solo.gateway.v1.RouteTable" in doc["components"]["schemas"]
    legacy = http(f"{url}/apis/apps/v1")[2]
    assert {r["name"] for r in legacy["resources"]} == {"deployments", "deployments/status", "deployments/scale",
                                                        "replicasets", "replicasets/status", "replicasets/scale",
                                                        "daemonsets", "daemonsets/status", "controllerrevisions"}
