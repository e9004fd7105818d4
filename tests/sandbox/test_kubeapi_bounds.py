"""Bounded input at the sandbox API: body size, YAML aliases, NaN/Infinity, nesting, names, the pod cap.

In-process (a real server on loopback, HTTPS requests with the admin token); the kubectl view of the same rules is in
test_kubeapi_kubectl.py.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sandboxkit import in_process_api

from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.kubeapi.server import MAX_BODY_BYTES
from gloo_nb.sandbox.kubelet import state_path
from gloo_nb.sandbox.store import POD_QUOTA, ApiError, Store

pytestmark = pytest.mark.sandbox

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"


class _Admin(urllib.request.BaseHandler):
    """Sends the admin's bearer token with every request (the API authenticates, issue 12.3)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def https_request(self, req: urllib.request.Request) -> urllib.request.Request:
        req.add_unredirected_header("Authorization", f"Bearer {self.token}")
        return req


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[Store, str]]:
    store = Store(tmp_path / "state")
    store.create(k.NAMESPACE, {"metadata": {"name": "default"}})
    try:
        with in_process_api(store, tmp_path) as served:
            urllib.request.install_opener(urllib.request.build_opener(
                urllib.request.HTTPSHandler(context=served.tls()), _Admin(served.creds.token)))
            yield store, served.url
    finally:
        urllib.request.install_opener(None)  # type: ignore[arg-type]
        store.close()


def post(url: str, body: bytes | Iterator[bytes], ctype: str = "application/json",
         method: str = "POST") -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": ctype})  # type: ignore[arg-type]
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def configmap(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra}


def test_body_over_the_apiservers_limit_is_413_and_stores_nothing(api: tuple[Store, str]) -> None:
    store, url = api
    assert MAX_BODY_BYTES == 3 * 1024 * 1024
    big = json.dumps(configmap("big", data={"k": "x" * MAX_BODY_BYTES})).encode()
    code, status = post(url + CONFIGMAPS, big)
    assert code == 413 and status["reason"] == "RequestEntityTooLarge"
    assert status["message"] == "Request entity too large: limit is 3145728"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield big[: len(big) // 2]
        yield big[len(big) // 2:]

    code, status = post(url + CONFIGMAPS, chunks())
    assert code == 413 and status["reason"] == "RequestEntityTooLarge"
    # just under the limit is fine
    fits = json.dumps(configmap("fits", data={"k": "x" * (MAX_BODY_BYTES - 200)})).encode()
    assert len(fits) <= MAX_BODY_BYTES and post(url + CONFIGMAPS, fits)[0] == 201
    assert [c["metadata"]["name"] for c in store.list(k.CONFIGMAP, "default")[0]] == ["fits"]


@pytest.mark.parametrize("ctype", ["application/yaml", "application/apply-patch+yaml"])
def test_yaml_alias_bomb_is_refused_quickly(api: tuple[Store, str], ctype: str) -> None:
    store, url = api
    levels = [f"l0: &l0 [{', '.join(['x'] * 10)}]"]
    levels += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nbinaryData:\n"
            + "\n".join("  " + line for line in levels) + "\n").encode()
    assert len(bomb) < 1000  # 10**9 scalars once expanded
    path = url + CONFIGMAPS + ("/bomb" if "apply" in ctype else "")
    # Refused before expansion: expanding 10**9 scalars would not end within the test's timeout.
    code, status = post(path, bomb, ctype, method="PATCH" if "apply" in ctype else "POST")
    assert code == 400 and status["reason"] == "BadRequest"
    assert "aliases expand the document" in status["message"]
    assert store.list(k.CONFIGMAP, "default")[0] == []


@pytest.mark.parametrize(("body", "ctype", "said"), [
    (b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n"},"x":NaN}', "application/json",
     "invalid character 'N' looking for beginning of value"),
    (b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n"},"x":Infinity}', "application/json",
     "invalid character 'I' looking for beginning of value"),
    (b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n"},"x":[-Infinity]}', "application/json",
     "invalid character 'I' in numeric literal"),
    (b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n}\nx: .nan\n", "application/yaml",
     "json: unsupported value: NaN"),
    (b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n}\nx: -.inf\n", "application/yaml",
     "json: unsupported value: -Inf"),
])
def test_nan_and_infinity_are_refused(api: tuple[Store, str], body: bytes, ctype: str, said: str) -> None:
    store, url = api
    code, status = post(url + CONFIGMAPS, body, ctype)
    assert (code, status["reason"]) == (400, "BadRequest") and said in status["message"]
    assert store.list(k.CONFIGMAP, "default")[0] == []


def test_nan_in_a_patch_is_refused_and_the_object_stays(api: tuple[Store, str]) -> None:
    store, url = api
    assert post(url + CONFIGMAPS, json.dumps(configmap("keep", data={"a": "b"})).encode())[0] == 201
    code, status = post(url + CONFIGMAPS + "/keep", b'{"data": {"a": NaN}}', "application/merge-patch+json",
                        method="PATCH")
    assert code == 400 and "invalid character 'N'" in status["message"]
    assert store.get(k.CONFIGMAP, "default", "keep")["data"] == {"a": "b"}


@pytest.mark.parametrize("depth", [600, 100_000])
def test_deep_nesting_is_refused(api: tuple[Store, str], depth: int) -> None:
    store, url = api
    body = ('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"x":'
            + "[" * depth + "]" * depth + "}").encode()
    code, status = post(url + CONFIGMAPS, body)
    assert code == 400 and "exceeded max depth" in status["message"]
    yaml_body = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\nx: " + "[" * depth + "]" * depth).encode()
    code, status = post(url + CONFIGMAPS, yaml_body, "application/yaml")
    assert code == 400 and "nest" in status["message"]  # ours at 512, or libyaml's own at 1000
    assert store.list(k.CONFIGMAP, "default")[0] == []


def pod(name: str, container: str = "main", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": container, "image": "hashicorp/http-echo"}]}}


@pytest.mark.parametrize(("obj", "field", "said"), [
    (pod("p", container="../../x"), "spec.containers[0].name", "a lowercase RFC 1123 label must consist of"),
    (pod("p", container="c" * 64), "spec.containers[0].name", "must be no more than 63 characters"),
    (pod("p", labels={"a b": "x"}), "metadata.labels", "name part must consist of alphanumeric characters"),
    (pod("p", labels={"example.com/": "x"}), "metadata.labels", "name part must be non-empty"),
    (pod("p", labels={"Bad_Prefix/x": "x"}), "metadata.labels", "prefix part a lowercase RFC 1123 subdomain"),
    (pod("p", labels={"app": "../x"}), "metadata.labels", "a valid label must be an empty string or consist"),
    (pod("p", labels={"app": "v" * 64}), "metadata.labels", "must be no more than 63 characters"),
    (pod("p\nq"), "metadata.name", "a lowercase RFC 1123 subdomain must consist of"),
])
def test_names_are_validated_as_kubernetes_does(api: tuple[Store, str], obj: dict[str, Any], field: str,
                                                said: str) -> None:
    store, url = api
    code, status = post(url + PODS, json.dumps(obj).encode())
    assert (code, status["reason"]) == (422, "Invalid"), status
    assert any(c["field"] == field and said in c["message"] for c in status["details"]["causes"]), status
    assert "\n" not in status["message"]  # the offending value is quoted, Go's %q style
    assert store.list(k.POD, "default")[0] == []


def test_duplicate_container_names_and_deployment_template_labels(api: tuple[Store, str]) -> None:
    _, url = api
    dup = pod("p")
    dup["spec"]["containers"].append({"name": "main", "image": "busybox"})
    code, status = post(url + PODS, json.dumps(dup).encode())
    assert code == 422 and 'spec.containers[1].name: Duplicate value: "main"' in status["message"]
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"selector": {"matchLabels": {"app": "x y"}},
                    "template": {"metadata": {"labels": {"app": "x y"}},
                                 "spec": {"containers": [{"name": "../c", "image": "busybox"}]}}}}
    code, status = post(url + "/apis/apps/v1/namespaces/default/deployments", json.dumps(dep).encode())
    assert code == 422
    fields = {c["field"] for c in status["details"]["causes"]}
    assert {"spec.template.metadata.labels", "spec.template.spec.containers[0].name"} <= fields


def test_valid_names_still_pass(api: tuple[Store, str]) -> None:
    _, url = api
    ok = pod("echo-v1.x", container="echo-1", labels={"app.kubernetes.io/name": "Echo_v1.2", "empty": ""})
    ok["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    assert post(url + PODS, json.dumps(ok).encode())[0] == 201


def test_pod_cap_per_namespace_refuses_like_a_resource_quota(api: tuple[Store, str]) -> None:
    store, url = api
    assert POD_QUOTA == 20 and store.pod_quota == 20
    store.create(k.NAMESPACE, {"metadata": {"name": "other"}})
    for i in range(20):
        store.create(k.POD, pod(f"p{i}"))
    code, status = post(url + PODS, json.dumps(pod("p20")).encode())
    assert (code, status["reason"]) == (403, "Forbidden")
    assert status["message"] == ('pods "p20" is forbidden: exceeded quota: sandbox-pods, requested: pods=1, '
                                 "used: pods=20, limited: pods=20")
    # per namespace, and finished pods do not count
    other = pod("p0")
    other["metadata"]["namespace"] = "other"
    store.create(k.POD, other)

    def finish(obj: dict[str, Any]) -> dict[str, Any]:
        obj["status"] = {"phase": "Succeeded"}
        return obj

    store.patch(k.POD, "default", "p0", finish, subresource="status")
    assert post(url + PODS, json.dumps(pod("p20")).encode())[0] == 201
    with pytest.raises(ApiError) as refused:
        store.create(k.POD, pod("p21"))
    assert refused.value.code == 403


def test_state_path_never_leaves_its_root(tmp_path: Path) -> None:
    root = tmp_path / "pods"
    root.mkdir()
    assert state_path(root, "ns_p_uid", "main") == root / "ns_p_uid" / "main"
    for bad in ("../../x", "..", ".", "", "a/b", "a\\b", "a\0b"):
        with pytest.raises(ValueError):
            state_path(root, "ns_p_uid", bad)
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="leaves"):
        state_path(root, "link", "x")
