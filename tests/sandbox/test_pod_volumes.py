"""The kubelet mounts Secret and ConfigMap volumes into pods, and the nginx emulation serves TLS with them.

The pod is the one Gloo's client-TLS e2e suite deploys (solo-io/gloo
test/kubernetes/e2e/defaults/testdata/nginx_pod.yaml): nginx.conf from a ConfigMap through ``subPath``, the
``nginx-tls`` Secret at ``/etc/nginx/tls/``, ``listen 80`` and ``listen 443 ssl``; its expected answer is
"Welcome to nginx!" (test/kubernetes/e2e/features/client_tls/types.go ``expectedHealthyResponse``).
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until
from sandboxkit import alive
from tlskit import ca_pem, kube_tls_secret, server

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubelet import PORTS_ANNOTATION, Kubelet
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

NS = "nginx"
SAN = "nginx.nginx.svc"
CERT = server("nginx", "localhost", "nginx", "nginx.nginx", SAN, "nginx.nginx.svc.cluster.local")

NGINX_CONF = """user nginx;
worker_processes  1;
events {
  worker_connections  10240;
}
http {
  server {
      listen              80;
      listen              443 ssl;
      server_name         localhost nginx nginx.nginx nginx.nginx.svc nginx.nginx.svc.cluster.local;
      ssl_certificate     /etc/nginx/tls/tls.crt;
      ssl_certificate_key /etc/nginx/tls/tls.key;

      location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }
      location = /hello {
        return 200 "hello over tls";
    }
  }
}
"""


def nginx_pod(name: str = "nginx", secret: str = "nginx-tls") -> dict[str, Any]:
    """nginx_pod.yaml's Pod (resources left out: the sandbox does not limit CPU)."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": {"app.kubernetes.io/name": name}},
            "spec": {"containers": [{
                "name": "nginx", "image": "nginx:stable",
                "ports": [{"containerPort": 80, "name": "http-web-svc"},
                          {"containerPort": 443, "name": "https-web-svc"}],
                "volumeMounts": [{"name": "nginx-conf", "mountPath": "/etc/nginx/nginx.conf", "subPath": "nginx.conf",
                                  "readOnly": True},
                                 {"name": "nginx-tls", "mountPath": "/etc/nginx/tls/", "readOnly": True}]}],
                "volumes": [{"name": "nginx-conf", "configMap": {"name": "nginx-conf"}},
                            {"name": "nginx-tls", "secret": {"secretName": secret}}]}}


def conf_map() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nginx-conf", "namespace": NS},
            "data": {"nginx.conf": NGINX_CONF}}


class Env:
    def __init__(self, store: Store, kubelet: Kubelet, root: Path) -> None:
        self.store = store
        self.kubelet = kubelet
        self.root = root

    def pod(self, name: str = "nginx") -> dict[str, Any]:
        return self.store.get(kinds.POD, NS, name)

    def ready(self, name: str = "nginx", timeout: float = 15.0) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            pod = self.pod(name)
            conds = pod.get("status", {}).get("conditions", [])
            return pod if any(c["type"] == "Ready" and c["status"] == "True" for c in conds) else None
        return wait_until(check, f"pod {name} ready", timeout=timeout)

    def events(self, name: str) -> list[dict[str, Any]]:
        return self.store.list(kinds.EVENT, NS, field_selector=f"involvedObject.kind=Pod,involvedObject.name={name}")[0]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    store = Store()
    store.create(kinds.NAMESPACE, {"metadata": {"name": NS}})
    kubelet = Kubelet(store, tmp_path)
    kubelet.start()
    try:
        yield Env(store, kubelet, tmp_path)
    finally:
        pids = list(kubelet.processes().values())
        kubelet.stop()
        assert not [p for p in pids if alive(p)]


def https(port: int, sni: str, path: str = "/", *, verify: bool = True) -> tuple[int, str, str, bytes]:
    ctx = ssl.create_default_context(cadata=ca_pem()) if verify else ssl._create_unverified_context()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname=sni) as tls:
        der = tls.getpeercert(binary_form=True) or b""
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
        conn.sock = tls
        conn.request("GET", path, headers={"Host": sni})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Server") or "", resp.read().decode(), der


def ports(pod: dict[str, Any]) -> dict[str, int]:
    return json.loads(pod["metadata"]["annotations"][PORTS_ANNOTATION])


def test_nginx_pod_of_glooss_client_tls_suite_serves_https_with_the_mounted_secret(env: Env) -> None:
    env.store.create(kinds.CONFIGMAP, conf_map())
    env.store.create(kinds.SECRET, kube_tls_secret("nginx-tls", NS, CERT, ca=ca_pem()))
    env.store.create(kinds.POD, nginx_pod())
    pod = env.ready()
    status, server_header, body, der = https(ports(pod)["443"], SAN)
    assert status == 200 and "Welcome to nginx!" in body and server_header == "nginx"
    import hashlib

    assert hashlib.sha256(der).hexdigest() == CERT.fingerprint  # the mounted Secret's certificate
    assert https(ports(pod)["443"], SAN, "/hello")[:3] == (200, "nginx", "hello over tls")
    # plain HTTP to the TLS port: nginx's 497 page (ngx_http_ssl_handshake), not a dropped connection
    plain = http.client.HTTPConnection("127.0.0.1", ports(pod)["443"], timeout=5)
    plain.request("GET", "/")
    resp = plain.getresponse()
    assert resp.status == 400 and b"The plain HTTP request was sent to HTTPS port" in resp.read()
    # plain HTTP on 80, the same server block
    conn = http.client.HTTPConnection("127.0.0.1", ports(pod)["80"], timeout=5)
    conn.request("GET", "/missing")
    resp = conn.getresponse()
    assert resp.status == 404 and b"<center><h1>404 Not Found</h1></center>" in resp.read()
    # the Secret's files: 0600 in a 0700 folder under the pod's state directory
    [pod_dir] = (env.root / "pods").glob(f"{NS}_nginx_*")
    tls_dir = pod_dir / "volumes" / "nginx-tls"
    assert stat.S_IMODE(tls_dir.stat().st_mode) == 0o700
    assert sorted(p.name for p in tls_dir.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]
    assert stat.S_IMODE((tls_dir / "tls.key").stat().st_mode) == 0o600
    assert (tls_dir / "tls.key").read_text() == CERT.key


def test_missing_secret_keeps_the_pod_container_creating_until_it_exists(env: Env) -> None:
    env.store.create(kinds.CONFIGMAP, conf_map())
    env.store.create(kinds.POD, nginx_pod())

    def failed_mount() -> dict[str, Any] | None:
        return next((e for e in env.events("nginx") if e["reason"] == "FailedMount"), None)

    event = wait_until(failed_mount, "a FailedMount event")
    # operation_generator.go GenerateMountVolumeFunc + watch_based_manager.go's NotFound("secret")
    assert event["type"] == "Warning"
    assert event["message"] == 'MountVolume.SetUp failed for volume "nginx-tls" : secret "nginx-tls" not found'
    assert event["source"] == {"component": "kubelet", "host": "sandbox"}
    pod = env.pod()
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert not env.kubelet.processes(NS)
    env.store.create(kinds.SECRET, kube_tls_secret("nginx-tls", NS, CERT))
    pod = env.ready()
    assert https(ports(pod)["443"], SAN)[0] == 200


def test_items_modes_optional_and_a_missing_key(env: Env) -> None:
    env.store.create(kinds.SECRET, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": NS},
                                    "data": {"a": base64.b64encode(b"A").decode(),
                                             "b": base64.b64encode(b"B").decode()}})
    pod = {"metadata": {"name": "files", "namespace": NS, "labels": {"app": "files"}},
           "spec": {"containers": [{"name": "c", "image": "example/anything",
                                    "ports": [{"containerPort": 8080}],
                                    "volumeMounts": [{"name": "v", "mountPath": "/data"}]}],
                    "volumes": [{"name": "v", "secret": {"secretName": "s", "defaultMode": 0o400,
                                                         "items": [{"key": "a", "path": "sub/a.txt"},
                                                                   {"key": "b", "path": "b.txt", "mode": 0o644}]}},
                                {"name": "gone", "secret": {"secretName": "nope", "optional": True}},
                                {"name": "scratch", "emptyDir": {}}]}}
    env.store.create(kinds.POD, pod)
    env.ready("files")
    [pod_dir] = (env.root / "pods").glob(f"{NS}_files_*")
    vol = pod_dir / "volumes" / "v"
    assert (vol / "sub" / "a.txt").read_bytes() == b"A"
    assert stat.S_IMODE((vol / "sub" / "a.txt").stat().st_mode) == 0o400
    assert stat.S_IMODE((vol / "b.txt").stat().st_mode) == 0o600  # group/other bits dropped on purpose
    assert list((pod_dir / "volumes" / "gone").iterdir()) == []
    # the Secret changes: the files follow (the kubelet syncs the namespace's pods)
    def change(obj: dict[str, Any]) -> dict[str, Any]:
        obj["data"]["a"] = base64.b64encode(b"A2").decode()
        return obj
    env.store.patch(kinds.SECRET, NS, "s", change)
    wait_until(lambda: (vol / "sub" / "a.txt").read_bytes() == b"A2", "the volume follows the Secret")

    bad = json.loads(json.dumps(pod))
    bad["metadata"]["name"] = "badkey"
    bad["spec"]["volumes"] = [{"name": "v", "secret": {"secretName": "s", "items": [{"key": "c", "path": "c"}]}}]
    env.store.create(kinds.POD, bad)
    event = wait_until(lambda: next((e for e in env.events("badkey") if e["reason"] == "FailedMount"), None),
                       "FailedMount for a missing key")
    # pkg/volume/secret/secret.go MakePayload
    assert event["message"] == 'MountVolume.SetUp failed for volume "v" : references non-existent secret key: c'


def test_nginx_without_a_certificate_file_exits_like_nginx(env: Env) -> None:
    conf = NGINX_CONF.replace("/etc/nginx/tls/tls.crt", "/etc/nginx/tls/missing.crt")
    env.store.create(kinds.CONFIGMAP, {**conf_map(), "data": {"nginx.conf": conf}})
    env.store.create(kinds.SECRET, kube_tls_secret("nginx-tls", NS, CERT))
    env.store.create(kinds.POD, nginx_pod())

    def crashed() -> dict[str, Any] | None:
        st = env.pod().get("status", {}).get("containerStatuses") or [{}]
        return st[0] if st[0].get("lastState", {}).get("terminated") else None

    status = wait_until(crashed, "nginx exits")
    assert status["lastState"]["terminated"]["exitCode"] == 1
    log = env.kubelet.log_path(NS, "nginx", previous=True) or env.kubelet.log_path(NS, "nginx")
    assert log is not None
    assert 'nginx: [emerg] cannot load certificate "/etc/nginx/tls/missing.crt"' in log.read_text()


def test_the_api_refuses_volumes_the_kubelet_could_not_mount() -> None:
    """pkg/apis/core/validation/validation.go: volume sources, key-to-path items, mounts naming a volume."""
    from gloo_nb.sandbox.store import ApiError

    store = Store()
    store.create(kinds.NAMESPACE, {"metadata": {"name": NS}})
    pod = nginx_pod()
    pod["spec"]["volumes"] = [
        {"name": "nginx-conf", "configMap": {"name": "nginx-conf", "items": [{"key": "k", "path": "../x"}]}},
        {"name": "nginx-tls", "secret": {"defaultMode": 0o1000}, "emptyDir": {}},
        {"name": "plain"}]
    pod["spec"]["containers"][0]["volumeMounts"].append({"name": "other", "mountPath": "/etc/nginx/tls/"})
    with pytest.raises(ApiError) as exc:
        store.create(kinds.POD, pod)
    assert exc.value.code == 422
    assert {(c["field"], c["message"]) for c in exc.value.details["causes"]} == {
        ("spec.volumes[0].configMap.items[0].path", "Invalid value: \"../x\": must not contain '..'"),
        ("spec.volumes[1].emptyDir", "Forbidden: may not specify more than 1 volume type"),
        ("spec.volumes[1].secret.secretName", "Required value"),
        ("spec.volumes[1].secret.defaultMode",
         "Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive"),
        ("spec.volumes[2]", "Required value: must specify a volume type"),
        ("spec.containers[0].volumeMounts[2].name", 'Not found: "other"'),
        ("spec.containers[0].volumeMounts[2].mountPath", 'Invalid value: "/etc/nginx/tls/": must be unique'),
    }


def test_https_probes_run_against_the_nginx_emulation(env: Env) -> None:
    """pkg/probe/http/http.go: HTTPS probes skip certificate verification; one on a plain port fails as Go says."""
    env.store.create(kinds.CONFIGMAP, conf_map())
    env.store.create(kinds.SECRET, kube_tls_secret("nginx-tls", NS, CERT))
    pod = nginx_pod()
    pod["spec"]["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": "/hello", "port": 443, "scheme": "HTTPS"}, "periodSeconds": 1}
    env.store.create(kinds.POD, pod)
    env.ready()
    assert not [e for e in env.events("nginx") if e["reason"] == "ProbeWarning"]

    bad = nginx_pod("plain")
    bad["spec"]["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": "/", "port": 80, "scheme": "HTTPS"}, "periodSeconds": 1}
    env.store.create(kinds.POD, bad)
    event = wait_until(lambda: next((e for e in env.events("plain") if e["reason"] == "Unhealthy"), None),
                       "an Unhealthy event for HTTPS on a plain port")
    assert event["message"].startswith('Readiness probe failed: Get "https://127.0.0.1:')
    assert event["message"].endswith('/": http: server gave HTTP response to HTTPS client')


def test_a_deployments_pods_mount_too_and_their_keys_go_with_them(env: Env) -> None:
    env.store.create(kinds.CONFIGMAP, conf_map())
    env.store.create(kinds.SECRET, kube_tls_secret("nginx-tls", NS, CERT))
    template = nginx_pod()
    env.store.create(kinds.DEPLOYMENT, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
        "spec": {"replicas": 2, "selector": {"matchLabels": template["metadata"]["labels"]},
                 "template": {"metadata": {"labels": template["metadata"]["labels"]}, "spec": template["spec"]}}})

    def ready_pods() -> list[dict[str, Any]] | None:
        pods = env.store.list(kinds.POD, NS)[0]
        ok = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                     for c in p.get("status", {}).get("conditions", []))]
        return ok if len(ok) == 2 else None

    pods = wait_until(ready_pods, "2 ready nginx pods")
    assert {https(ports(p)["443"], SAN)[0] for p in pods} == {200}
    keys = list((env.root / "pods").glob("*/volumes/nginx-tls/tls.key"))
    assert len(keys) == 2
    env.store.delete(kinds.DEPLOYMENT, NS, "web")
    wait_until(lambda: not any(k.exists() for k in keys), "the pods' key files removed with the pods")


def test_a_file_in_the_way_is_a_failed_mount_not_a_stuck_kubelet(env: Env) -> None:
    pod = {"metadata": {"name": "odd", "namespace": NS},
           "spec": {"containers": [{"name": "c", "image": "example/x", "ports": [{"containerPort": 8080}],
                                    "volumeMounts": [{"name": "v", "mountPath": "/etc/x=y"}]}],
                    "volumes": [{"name": "v", "secret": {"secretName": "nginx-tls"}}]}}
    created = env.store.create(kinds.POD, pod)
    wait_until(lambda: next((e for e in env.events("odd") if "not found" in e["message"]), None), "secret not found")
    # a folder where the Secret's file must go (no API path makes one: the state directory was tampered with)
    in_the_way = env.root / "pods" / f"{NS}_odd_{created['metadata']['uid']}" / "volumes" / "v" / "tls.key"
    in_the_way.mkdir(parents=True)
    env.store.create(kinds.SECRET, kube_tls_secret("nginx-tls", NS, CERT))
    event = wait_until(lambda: next((e for e in env.events("odd") if "IsADirectoryError" in e["message"]), None),
                       "FailedMount naming the error")
    assert event["reason"] == "FailedMount"
    assert event["message"].startswith('MountVolume.SetUp failed for volume "v" : IsADirectoryError: ')
    in_the_way.rmdir()
    env.ready("odd")  # the retry mounts it
    [pid] = env.kubelet.processes(NS).values()
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    mount = json.loads(argv[argv.index(b"--mount") + 1])
    assert mount[0] == "/etc/x=y" and mount[1].endswith("/volumes/v")  # a mountPath with '=' stays whole


def test_configmap_binary_data_and_a_missing_configmap(env: Env) -> None:
    env.store.create(kinds.CONFIGMAP, {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": "cm", "namespace": NS},
                                       "data": {"a.txt": "text"},
                                       "binaryData": {"b.bin": base64.b64encode(b"\x00\x01").decode()}})
    pod = {"metadata": {"name": "cm-pod", "namespace": NS},
           "spec": {"containers": [{"name": "c", "image": "example/x", "ports": [{"containerPort": 8080}],
                                    "volumeMounts": [{"name": "v", "mountPath": "/cfg"}]}],
                    "volumes": [{"name": "v", "configMap": {"name": "cm"}},
                                {"name": "w", "configMap": {"name": "cm-missing"}}]}}
    env.store.create(kinds.POD, pod)
    event = wait_until(lambda: next((e for e in env.events("cm-pod") if e["reason"] == "FailedMount"), None),
                       "FailedMount for the missing ConfigMap")
    # watch_based_manager.go: NotFound of the group resource "configmap"
    assert event["message"] == 'MountVolume.SetUp failed for volume "w" : configmap "cm-missing" not found'
    env.store.create(kinds.CONFIGMAP, {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": "cm-missing", "namespace": NS}, "data": {}})
    env.ready("cm-pod")
    [pod_dir] = (env.root / "pods").glob(f"{NS}_cm-pod_*")
    assert (pod_dir / "volumes" / "v" / "a.txt").read_text() == "text"
    assert (pod_dir / "volumes" / "v" / "b.bin").read_bytes() == b"\x00\x01"
