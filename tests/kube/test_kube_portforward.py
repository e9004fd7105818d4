"""gloo_nb.kube.PortForward through the sandbox's ``pods/portforward``, with impersonation and RBAC."""

from __future__ import annotations

import json
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from polling import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))
from sandboxkit import PART1, SEED, Kube, fetch, sandbox  # noqa: E402

from gloo_nb.kube import KubeClient  # noqa: E402
from gloo_nb.kube.portforward import PortForward, PortForwardError, forward_pod  # noqa: E402


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A sandbox with the seed's RBAC and the echo Deployment; yields (kubeconfig, echo pod name)."""
    root = tmp_path_factory.mktemp("kube-portforward")
    with sandbox(root / "sb", "1.3") as info:
        home = root / "home"
        home.mkdir()
        kube = Kube(str(info.kubeconfig), home)
        kube.run("create", "namespace", "foxtrot")
        kube.apply(PART1 / "echo.yaml")
        kube.apply(SEED / "rbac.yaml")
        wait_until(lambda: kube.json("pods", "-n", "echo")["items"], "an echo pod")
        kube.run("wait", "--for=condition=Ready", "pods", "--all", "-n", "echo", "--timeout=30s")
        yield str(info.kubeconfig), kube.json("pods", "-n", "echo")["items"][0]["metadata"]["name"]


def _as(kubeconfig: str, group: str | None) -> KubeClient:
    if group is None:
        return KubeClient.from_kubeconfig(kubeconfig)
    return KubeClient.from_kubeconfig(kubeconfig, as_user=f"{group}-user", as_group=group)


def test_platform_ops_reaches_an_envoy_admin_api(cluster) -> None:
    kubeconfig, _ = cluster
    with forward_pod(_as(kubeconfig, "platform-ops"), "gloo-system", "gateway-proxy-1", 19000) as pf:
        assert pf.url == f"http://127.0.0.1:{pf.local_port}" and pf.local_port > 0
        assert fetch(pf.url + "/ready").body == "LIVE\n"
        info = json.loads(fetch(pf.url + "/server_info").body)
        assert info["state"] == "LIVE"
        # Big enough to span many frames, and several connections at once.
        with ThreadPoolExecutor(6) as pool:
            dumps = list(pool.map(lambda _: fetch(pf.url + "/config_dump", timeout=10), range(6)))
        assert all(d.status == 200 and json.loads(d.body)["configs"] for d in dumps)
        assert pf.connections == 8 and pf.errors == []


def test_without_pods_portforward_the_api_refuses_with_403(cluster) -> None:
    kubeconfig, _ = cluster
    with pytest.raises(PortForwardError) as err:
        forward_pod(_as(kubeconfig, "team-foxtrot"), "gloo-system", "gateway-proxy-1", 19000)
    assert err.value.status == 403 and err.value.reason == "Forbidden"
    assert 'User "team-foxtrot-user" cannot' in str(err.value) and "pods/portforward" in str(err.value)
    # Without the upfront check the listener opens, and each connection is refused and recorded.
    with PortForward(_as(kubeconfig, "team-foxtrot"), "gloo-system", "gateway-proxy-1", 19000, check=False) as pf:
        assert fetch(pf.url + "/ready").status != 200
        wait_until(lambda: pf.errors, "the refused connection recorded")
        assert "403" in pf.errors[0]


def test_a_team_forwards_to_its_http_echo_pod_only(cluster) -> None:
    kubeconfig, echo_pod = cluster
    team_echo = _as(kubeconfig, "team-echo")
    with forward_pod(team_echo, "echo", echo_pod, 8080) as pf:
        assert fetch(pf.url + "/").body == "version:v1\n"
        assert fetch(pf.url + "/anything/else").body == "version:v1\n"
    with pytest.raises(PortForwardError) as err:
        forward_pod(team_echo, "gloo-system", "gateway-proxy-0", 19000)
    assert err.value.status == 403
    with pytest.raises(PortForwardError) as err:
        forward_pod(_as(kubeconfig, "team-foxtrot"), "echo", echo_pod, 8080)
    assert err.value.status == 403


def test_admin_large_upload_and_half_closing_client(cluster) -> None:
    kubeconfig, echo_pod = cluster
    with forward_pod(_as(kubeconfig, None), "gloo-system", "gateway-proxy-0", 19000) as pf:
        # A 400 KB request body to Envoy's admin (it answers 200 to POST /ready... or a 4xx, but it must answer).
        body = b"x" * 400_000
        req = urllib.request.Request(pf.url + "/ready", data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status = resp.status
        except urllib.error.HTTPError as error:
            status = error.code
        assert 200 <= status < 500
    with forward_pod(_as(kubeconfig, None), "echo", echo_pod, 8080) as pf:
        # The local client half-closes after its request: the answer still arrives.
        with socket.create_connection(pf.address, timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n")
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"version:v1\n")


def test_errors_name_the_pod_and_close_stops_listening(cluster) -> None:
    kubeconfig, _ = cluster
    admin = _as(kubeconfig, None)
    with pytest.raises(PortForwardError) as err:
        forward_pod(admin, "gloo-system", "no-such-pod", 19000)
    assert err.value.status == 404 and "no-such-pod" in str(err.value)
    # A port the pod does not serve: the pod side reports it on the error channel.
    with forward_pod(admin, "gloo-system", "gateway-proxy-0", 12345) as pf:
        assert fetch(pf.url + "/").status != 200
        wait_until(lambda: pf.errors, "the error channel's report")
        assert "failed to connect to localhost:12345" in pf.errors[0], pf.errors
    pf = forward_pod(admin, "gloo-system", "gateway-proxy-0", 19000)
    port = pf.local_port
    assert fetch(pf.url + "/ready").body == "LIVE\n"
    pf.close()
    pf.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
