"""Error bodies byte for byte as kube-apiserver writes them, checked with the official Python client's own flows.

The kubernetes-client/python e2e suite (``kubernetes/e2e_test/test_utils.py``) compares ``str(FailToCreateError)``,
which is ``Error from server (<reason>): <the response body>``, with the body a real API server writes: the
``Status`` fields in Go's order, no ``group`` for core kinds, and the JSON encoder's trailing newline. These tests
replay those flows (``create_from_yaml`` of a Service twice, a Deployment three times, an implicit ``ServiceList``
with a duplicate) against the sandbox, with the kinds it serves in place of the ones it does not (a ConfigMap where
the suite has a ReplicationController).
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config, utils
from sandboxkit import InProcessApi, in_process_api

from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.apierror import ApiError, go_json
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

_SVC = """apiVersion: v1
kind: Service
metadata:
  name: mock-2
  labels:
    app: mock-2
spec:
  ports:
  - port: 99
    protocol: TCP
    targetPort: 9949
  selector:
    app: mock-2
"""
_CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: mock-2
data:
  a: b
"""
_NGINX = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: triple-nginx
spec:
  replicas: 1
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.15.4
        ports:
        - containerPort: 80
"""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[InProcessApi, client.ApiClient]]:
    store = Store(tmp_path / "state")
    try:
        store.create(k.NAMESPACE, {"metadata": {"name": "default"}})
        with in_process_api(store, tmp_path) as served:
            api_client = config.new_client_from_config(str(served.kubeconfig))
            try:
                yield served, api_client
            finally:
                api_client.close()
    finally:
        store.close()


def _raw(served: InProcessApi, path: str, body: object | None = None, method: str = "GET") -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    try:
        with served.urlopen(path, data, method=method, headers={"Content-Type": "application/json"}) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_service_created_twice_fails_with_the_bytes_the_e2e_suite_expects(
        api: tuple[InProcessApi, client.ApiClient], tmp_path: Path) -> None:
    # test_create_from_multi_resource_yaml_with_conflict: the second document still gets created.
    _, api_client = api
    (tmp_path / "first.yaml").write_text(_SVC)
    (tmp_path / "multi.yaml").write_text(_SVC + "---\n" + _CM)
    utils.create_from_yaml(api_client, str(tmp_path / "first.yaml"))
    with pytest.raises(utils.FailToCreateError) as failed:
        utils.create_from_yaml(api_client, str(tmp_path / "multi.yaml"))
    assert str(failed.value) == (
        'Error from server (Conflict): {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        '"message":"services \\"mock-2\\" already exists","reason":"AlreadyExists","details":{"name":"mock-2",'
        '"kind":"services"},"code":409}\n')
    assert client.CoreV1Api(api_client).read_namespaced_config_map("mock-2", "default").data == {"a": "b"}


def test_deployment_created_three_times_names_its_group(api: tuple[InProcessApi, client.ApiClient],
                                                        tmp_path: Path) -> None:
    # test_create_from_multi_resource_yaml_with_multi_conflicts: two failures, one after the other.
    _, api_client = api
    (tmp_path / "triple.yaml").write_text("---\n".join([_NGINX] * 3))
    with pytest.raises(utils.FailToCreateError) as failed:
        utils.create_from_yaml(api_client, str(tmp_path / "triple.yaml"))
    one = ('Error from server (Conflict): {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
           '"message":"deployments.apps \\"triple-nginx\\" already exists","reason":"AlreadyExists",'
           '"details":{"name":"triple-nginx","group":"apps","kind":"deployments"},"code":409}\n')
    assert str(failed.value) == one + one
    assert client.AppsV1Api(api_client).read_namespaced_deployment("triple-nginx", "default").spec.replicas == 1


def test_implicit_service_list_with_a_duplicate(api: tuple[InProcessApi, client.ApiClient], tmp_path: Path) -> None:
    # test_create_implicit_service_list_from_yaml_with_conflict: the items' kind comes from the list's.
    _, api_client = api
    items = [{"metadata": {"name": n, "labels": {"app": n}},
              "spec": {"ports": [{"protocol": "TCP", "port": 99, "targetPort": 9949}], "selector": {"app": n}}}
             for n in ("mock-3", "mock-3", "mock-4")]
    (tmp_path / "list.json").write_text(json.dumps({"kind": "ServiceList", "apiVersion": "v1", "items": items}))
    with pytest.raises(utils.FailToCreateError) as failed:
        utils.create_from_yaml(api_client, str(tmp_path / "list.json"))
    assert [e.status for e in failed.value.api_exceptions] == [409]
    core = client.CoreV1Api(api_client)
    assert core.read_namespaced_service("mock-3", "default").metadata.labels == {"app": "mock-3"}
    assert core.read_namespaced_service("mock-4", "default").metadata.labels == {"app": "mock-4"}


def test_raw_bodies_keep_go_order_omit_empty_fields_and_end_with_a_newline(
        api: tuple[InProcessApi, client.ApiClient]) -> None:
    served, _ = api
    code, body = _raw(served, "/api/v1/namespaces/default/configmaps/nope")
    assert (code, body) == (404, b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
                                 b'"configmaps \\"nope\\" not found","reason":"NotFound","details":{"name":"nope",'
                                 b'"kind":"configmaps"},"code":404}\n')
    code, body = _raw(served, "/apis/apps/v1/namespaces/default/deployments/nope")
    assert b'"details":{"name":"nope","group":"apps","kind":"deployments"},"code":404}\n' == body[body.index(b'"det'):]
    # An unknown path: NewGenericServerResponse's message, details set but empty.
    code, body = _raw(served, "/api/v1/nothings")
    assert (code, body) == (404, b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
                                 b'"the server could not find the requested resource","reason":"NotFound",'
                                 b'"details":{},"code":404}\n')
    # NewInvalid: causes in StatusCause's order (reason, message, field); a core kind has no group.
    code, body = _raw(served, "/api/v1/namespaces/default/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "Bad_Name"},
        "spec": {"ports": [{"port": 80}]}}, method="POST")
    status = json.loads(body)
    assert code == 422 and body.endswith(b"}\n") and list(status) == [
        "kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"]
    assert list(status["details"]) == ["name", "kind", "causes"]
    assert all(list(c) == ["reason", "message", "field"] for c in status["details"]["causes"])
    # A BadRequest has no details at all (NewBadRequest).
    code, body = _raw(served, "/api/v1/namespaces/default/configmaps?fieldSelector=%3D%3D", method="GET")
    assert code == 400 and b'"details"' not in body and body.endswith(b',"reason":"BadRequest","code":400}\n')


def test_go_json_escapes_as_encoding_json_does() -> None:
    # encoding/json's Encoder with SetEscapeHTML(true), its default: <, >, & and U+2028/9 escaped; UTF-8 kept.
    assert go_json({"m": "a<b>&c\u2028\u2029 é \n\t\b\f\x01"}) == (
        '{"m":"a\\u003cb\\u003e\\u0026c\\u2028\\u2029 é \\n\\t\\b\\f\\u0001"}')
    forbidden = ApiError(403, "Forbidden", 'pods "p" is forbidden: x', {"group": "", "kind": "pods", "name": "p"})
    assert forbidden.body() == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
                                b'"pods \\"p\\" is forbidden: x","reason":"Forbidden","details":{"name":"p",'
                                b'"kind":"pods"},"code":403}\n')


def test_kubectl_prints_the_status_message(api: tuple[InProcessApi, client.ApiClient]) -> None:
    served, _ = api
    out = subprocess.run(["kubectl", "--kubeconfig", str(served.kubeconfig), "get", "configmap", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip() == 'Error from server (NotFound): configmaps "nope" not found'




def test_forbidden_and_conflict_bodies(api: tuple[InProcessApi, client.ApiClient]) -> None:
    served, api_client = api
    # responsewriters.ForbiddenStatusError -> errors.NewForbidden: a core resource's details have no group.
    code, body = _raw_as(served, "/api/v1/namespaces/default/configmaps/x", "bob")
    assert (code, body) == (403, b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
                                 b'"configmaps \\"x\\" is forbidden: User \\"bob\\" cannot get resource '
                                 b'\\"configmaps\\" in API group \\"\\" in the namespace \\"default\\"","reason":'
                                 b'"Forbidden","details":{"name":"x","kind":"configmaps"},"code":403}\n')
    code, body = _raw_as(served, "/apis/apps/v1/namespaces/default/deployments", "bob")
    assert (code, body) == (403, b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
                                 b'"deployments.apps is forbidden: User \\"bob\\" cannot list resource '
                                 b'\\"deployments\\" in API group \\"apps\\" in the namespace \\"default\\"",'
                                 b'"reason":"Forbidden","details":{"group":"apps","kind":"deployments"},'
                                 b'"code":403}\n')
    # errors.NewConflict on a stale resourceVersion, through the Python client.
    core = client.CoreV1Api(api_client)
    cm = core.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("c", "default", {"data": {"a": "2"}})
    cm.data = {"a": "3"}
    with pytest.raises(client.ApiException) as stale:
        core.replace_namespaced_config_map("c", "default", cm)
    assert stale.value.status == 409 and stale.value.body == (
        '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be '
        'fulfilled on configmaps \\"c\\": the object has been modified; please apply your changes to the latest '
        'version and try again","reason":"Conflict","details":{"name":"c","kind":"configmaps"},"code":409}\n')


def _raw_as(served: InProcessApi, path: str, user: str) -> tuple[int, bytes]:
    try:
        with served.urlopen(path, headers={"Impersonate-User": user}) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
