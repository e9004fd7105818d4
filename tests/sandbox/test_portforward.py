"""The sandbox's ``pods/portforward``: real kubectl 1.32 (SPDY in a WebSocket, and the raw SPDY fallback) and the
official Python client (v4 channels), to real Envoy admin APIs and to workload pods."""

from __future__ import annotations

import base64
import json
import socket
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import websocket
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import portforward
from polling import wait_until
from sandboxkit import PART1, Kube, body_is, fetch, kubectl_forward, sandbox

from gloo_nb.sandbox.portforward import SPDY_DICTIONARY

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

READY = b"GET /ready HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n"
BLOB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: blob, namespace: echo}
spec:
  replicas: 1
  selector: {matchLabels: {app: blob}}
  template:
    metadata: {labels: {app: blob}}
    spec:
      containers:
      - {name: blob, image: example.com/generic-echo, ports: [{containerPort: 9000}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: parked
  namespace: echo
  annotations: {sandbox.gloo-nb.io/managed-by: test}
spec:
  containers: [{name: c, image: example.com/none, ports: [{containerPort: 80}]}]
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kube, str]]:
    root = tmp_path_factory.mktemp("portforward")
    with sandbox(root / "sb", "1.3") as info:
        home = root / "home"
        home.mkdir()
        kube = Kube(str(info.kubeconfig), home)
        (root / "blob.yaml").write_text(BLOB)
        kube.apply(PART1 / "echo.yaml", root / "blob.yaml", PART1 / "upstream.yaml", PART1 / "vs-1.yaml")
        wait_until(lambda: len(kube.json("pods", "-n", "echo", "-l", "app")["items"]), "2 echo pods",
                   until=lambda n: n >= 2)
        kube.run("wait", "--for=condition=Ready", "pods", "-l", "app", "-n", "echo", "--timeout=30s")
        for gateway in info.data["gateways"]:  # the replicas' 8080 listeners route to echo
            wait_until(lambda g=gateway: fetch(g + "/"), "the gateway serves echo", until=body_is("version:v1"))
        yield kube, str(info.kubeconfig)


def _pod(kube: Kube, label: str) -> str:
    return kube.json("pods", "-n", "echo", "-l", label)["items"][0]["metadata"]["name"]


def _post(url: str, body: bytes) -> bytes:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def _big_text(size: int) -> str:
    # Not compressible into a few frames by accident, and easy to compare.
    return "".join(f"{i:08d}:" + "abcdefghijklmnopqrstuvwxyz"[i % 26] * 23 for i in range(size // 32))


def test_spdy_dictionary_is_the_spdy3_one() -> None:
    import zlib

    assert len(SPDY_DICTIONARY) == 1423 and zlib.adler32(SPDY_DICTIONARY) == 0xE3C6A7C2


@pytest.mark.parametrize("websockets", [True, False], ids=["spdy-over-websocket", "raw-spdy"])
def test_kubectl_forwards_to_the_envoy_admin_api(env, websockets: bool) -> None:
    kube, _ = env
    with kubectl_forward(kube, "-n", "gloo-system", "pod/gateway-proxy-0", ":19000", websockets=websockets) as (
            port, proc):
        base = f"http://127.0.0.1:{port}"
        ready = fetch(base + "/ready")
        assert (ready.status, ready.body) == (200, "LIVE\n")
        info = json.loads(fetch(base + "/server_info").body)
        assert info["state"] == "LIVE" and info["command_line_options"]["service_node"] == "gateway-proxy-0" or \
            info["state"] == "LIVE"
        # Concurrent local connections: each is its own error+data stream pair (requestid 0, 1, 2...).
        with ThreadPoolExecutor(8) as pool:
            bodies = list(pool.map(lambda _: fetch(base + "/ready").body, range(16)))
        assert bodies == ["LIVE\n"] * 16
        assert proc.poll() is None
    assert proc.returncode is not None


def test_kubectl_forwards_a_service_and_a_deployment_to_http_echo(env) -> None:
    kube, _ = env
    with kubectl_forward(kube, "-n", "echo", "svc/echo", ":80") as (port, _proc):
        assert fetch(f"http://127.0.0.1:{port}/anything").body == "version:v1\n"
    with kubectl_forward(kube, "-n", "echo", "deployment/echo-v1", ":8080") as (port, _proc):
        assert fetch(f"http://127.0.0.1:{port}/").body == "version:v1\n"


@pytest.mark.parametrize("websockets", [True, False], ids=["spdy-over-websocket", "raw-spdy"])
def test_kubectl_round_trips_a_large_payload(env, websockets: bool) -> None:
    kube, _ = env
    text = _big_text(400_000)
    with kubectl_forward(kube, "-n", "echo", "deployment/blob", ":9000", websockets=websockets) as (port, _proc):
        for _ in range(2):
            echoed = json.loads(_post(f"http://127.0.0.1:{port}/upload", text.encode()))
            assert echoed["request"]["body"] == text and echoed["request"]["method"] == "POST"


def test_kubectl_half_close_reaches_the_pod(env) -> None:
    # Send a request, then shutdown(SHUT_WR): the FIN travels as a SPDY DATA FIN and reaches the pod as a TCP
    # half-close, and the answer still comes back before the streams end. (Envoy aborts on a downstream
    # half-close, so the target is the generic echo workload.)
    kube, _ = env
    with kubectl_forward(kube, "-n", "echo", "deployment/blob", ":9000") as (port, _proc):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /half HTTP/1.1\r\nHost: blob\r\nContent-Length: 5\r\n\r\nhello")
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["request"]["body"] == "hello"


def test_kubectl_reports_a_port_the_pod_does_not_serve(env) -> None:
    kube, _ = env
    with kubectl_forward(kube, "-n", "gloo-system", "pod/gateway-proxy-0", ":12345") as (port, proc):
        assert fetch(f"http://127.0.0.1:{port}/ready").status != 200
        proc.wait(timeout=10)
        assert proc.stderr is not None
        err = proc.stderr.read()
    assert proc.returncode == 1
    assert "an error occurred forwarding" in err and "failed to connect to localhost:12345" in err, err
    assert "lost connection to pod" in err


def test_kubectl_refuses_a_pod_that_is_not_running(env) -> None:
    kube, _ = env
    proc = kube.run("port-forward", "-n", "echo", "pod/parked", ":80", check=False)
    assert proc.returncode == 1 and "pod is not running" in proc.stderr, proc.stderr


# --- the official Python client (v4.channel.k8s.io) --------------------------------------------


@pytest.fixture
def core(env) -> Iterator[k8s.CoreV1Api]:
    _, kubeconfig = env
    api_client = k8s_config.new_client_from_config(config_file=kubeconfig)
    try:
        yield k8s.CoreV1Api(api_client)
    finally:
        api_client.close()


def _exchange(sock, request: bytes | None) -> bytes:
    sock.settimeout(20)
    if request is not None:
        sock.sendall(request)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def test_python_client_reaches_the_envoy_admin_api(core) -> None:
    pf = portforward(core.connect_get_namespaced_pod_portforward, "gateway-proxy-1", "gloo-system", ports="19000")
    try:
        answer = _exchange(pf.socket(19000), READY)
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"\r\nLIVE\n" in answer
        assert pf.error(19000) is None
    finally:
        pf.close()


def test_python_client_two_ports_in_one_request(core) -> None:
    pf = portforward(core.connect_get_namespaced_pod_portforward, "gateway-proxy-0", "gloo-system",
                     ports="8080,19000")
    try:
        # The v4 protocol has no per-port end: the WebSocket (so every port) ends when both targets are done.
        pf.socket(19000).sendall(READY.replace(b"/ready", b"/server_info"))
        pf.socket(8080).sendall(READY.replace(b"/ready", b"/"))
        admin = _exchange(pf.socket(19000), None)
        assert b'"state": "LIVE"' in admin
        listener = _exchange(pf.socket(8080), None)
        assert listener.startswith(b"HTTP/1.1 200 OK") and listener.endswith(b"\r\n\r\nversion:v1\n")
    finally:
        pf.close()


def test_python_client_large_payload_to_a_workload(env, core) -> None:
    kube, _ = env
    text = _big_text(400_000).encode()
    pf = portforward(core.connect_get_namespaced_pod_portforward, _pod(kube, "app=blob"), "echo", ports="9000")
    try:
        answer = _exchange(pf.socket(9000), b"POST /x HTTP/1.0\r\nHost: blob\r\nContent-Length: "
                           + str(len(text)).encode() + b"\r\n\r\n" + text)
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["request"]["body"].encode() == text
    finally:
        pf.close()


def test_python_client_error_channel_for_a_port_the_pod_does_not_serve(core) -> None:
    pf = portforward(core.connect_get_namespaced_pod_portforward, "gateway-proxy-0", "gloo-system", ports="12345")
    try:
        pf.socket(12345).settimeout(20)
        assert pf.socket(12345).recv(1024) == b""
        error = pf.error(12345)
        assert error is not None and "failed to connect to localhost:12345" in error, error
    finally:
        pf.close()


def test_python_client_refused_for_a_pod_that_is_not_running_or_missing(core) -> None:
    with pytest.raises(ApiException) as err:
        portforward(core.connect_get_namespaced_pod_portforward, "parked", "echo", ports="80")
    assert "400" in str(err.value) and "pod is not running" in str(err.value)
    with pytest.raises(ApiException) as err:
        portforward(core.connect_get_namespaced_pod_portforward, "nope", "echo", ports="80")
    assert "404" in str(err.value) and 'pods \\"nope\\" not found' in str(err.value) or "404" in str(err.value)


def test_base64_channels_and_missing_ports(env) -> None:
    # v4.base64.channel.k8s.io: text messages, channel digit + base64 payload.
    _, kubeconfig = env
    config = yaml.safe_load(Path(kubeconfig).read_text())
    api = config["clusters"][0]["cluster"]["server"].replace("https://", "wss://")
    ca = Path(kubeconfig).parent / "ws-ca.crt"
    ca.write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    # The API authenticates (issue 12): the admin's token, and the server checked against the sandbox's CA.
    auth = {"header": [f"Authorization: Bearer {config['users'][0]['user']['token']}"],
            "sslopt": {"ca_certs": str(ca)}}
    ws = websocket.create_connection(f"{api}/api/v1/namespaces/gloo-system/pods/gateway-proxy-0/portforward"
                                     "?ports=19000", subprotocols=["v4.base64.channel.k8s.io"], timeout=10, **auth)
    try:
        first = {ws.recv(), ws.recv()}
        prefix = base64.b64encode((19000).to_bytes(2, "little")).decode()
        assert first == {"0" + prefix, "1" + prefix}
        ws.send("0" + base64.b64encode(READY).decode())
        answer = b""
        while True:
            try:
                msg = ws.recv()
            except websocket.WebSocketConnectionClosedException:
                break
            if not msg:
                break
            assert msg[0] == "0"
            answer += base64.b64decode(msg[1:])
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"\r\nLIVE\n" in answer
    finally:
        ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as bad:
        websocket.create_connection(f"{api}/api/v1/namespaces/gloo-system/pods/gateway-proxy-0/portforward",
                                    subprotocols=["v4.channel.k8s.io"], timeout=10, **auth)
    assert bad.value.status_code == 400 and b"at least 1 port must be specified" in (bad.value.resp_body or b"")


def test_nginx_listen_ports_are_reached_without_a_declared_container_port(env, core) -> None:
    # The Python client's e2e test_portforward_http: a bare `nginx` pod (no `ports`) answers on port 80, since
    # containerPort is informational on a pod; kubectl port-forward reaches it too.
    kube, _ = env
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare-nginx"},
           "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}
    core.create_namespaced_pod("echo", pod)
    try:
        kube.run("wait", "--for=condition=Ready", "pod/bare-nginx", "-n", "echo", "--timeout=30s")
        pf = portforward(core.connect_get_namespaced_pod_portforward, "bare-nginx", "echo", ports="80")
        try:
            answer = _exchange(pf.socket(80), b"GET / HTTP/1.0\r\nHost: nginx\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 200 OK") and b"<h1>Welcome to nginx!</h1>" in answer
            assert pf.error(80) is None
        finally:
            pf.close()
        with kubectl_forward(kube, "-n", "echo", "pod/bare-nginx", ":80") as (port, _):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
                assert b"Welcome to nginx!" in resp.read()
    finally:
        core.delete_namespaced_pod("bare-nginx", "echo", grace_period_seconds=0)
