"""Issue 20: the gloo pod lives as a cluster's would (gloo_nb.sandbox.daemon_pods).

Real kubectl, a real sandbox and real Envoy, in both profiles: the gloo pod's readiness comes from the chart's
readinessProbe measured against the real xDS port (Endpoints follow it; a failing probe records the kubelet's
``Unhealthy`` Event); ``kubectl scale deploy/gloo`` stops and starts the control plane on the same port while Envoy
keeps serving its last configuration; ``kubectl rollout restart`` makes a new pod; ``kubectl exec deploy/gloo``
runs in Gloo's image with the chart's downwardAPI labels file.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from polling import wait_until
from sandboxkit import Kube, Response, fetch, kubectl_for, sandbox

from gloo_nb.sandbox import runner
from gloo_nb.sandbox.runner import SandboxInfo

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

NS = "gloo-system"


def _vs(name: str, domain: str, body: str) -> str:
    return json.dumps({
        "apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": name, "namespace": NS},
        "spec": {"virtualHost": {"domains": [domain], "routes": [
            {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": body}}]}}})


@pytest.fixture(scope="module", params=["1.3", "current"])
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[str, SandboxInfo, Kube]]:
    profile = str(request.param)
    root = tmp_path_factory.mktemp(f"gloo-pod-{profile}")
    with sandbox(root / "sb", profile, replicas=1) as info:
        kube = kubectl_for(info, root)
        kube.run("apply", "-f", "-", input=_vs("alpha", "alpha.example", "alpha"))
        wait_until(lambda: _get(info, "alpha.example"), "route alpha served", until=lambda r: r.body == "alpha",
                   timeout=20)
        yield profile, info, kube


def _get(info: SandboxInfo, host: str) -> Response:
    return fetch(info.gateway + "/", headers={"Host": host})


def _gloo_pods(kube: Kube) -> list[dict[str, Any]]:
    return list(kube.json("pods", "-n", NS, "-l", "gloo=gloo")["items"])


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def _one_ready_pod(kube: Kube, *, not_named: str = "") -> dict[str, Any]:
    pods = wait_until(lambda: _gloo_pods(kube), "one Ready gloo pod", timeout=30,
                      until=lambda ps: len(ps) == 1 and _ready(ps[0]) and ps[0]["metadata"]["name"] != not_named)
    return pods[0]


def _xds_port(info: SandboxInfo) -> int:
    return int(info.data["xds"].rsplit(":", 1)[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _envoy_connected(info: SandboxInfo) -> int:
    # Envoy's own view of its xDS stream (control_plane.connected_state: 1 connected, 0 not).
    stats = fetch(info.data["envoyAdmin"][0] + "/stats?filter=control_plane.connected_state").body
    return int(stats.split(":")[1]) if ":" in stats else -1


def _endpoints(kube: Kube) -> tuple[list[str], list[str]]:
    """The gloo Service's Endpoints: (ready pod names, not-ready pod names)."""
    subsets = kube.json("endpoints", "gloo", "-n", NS).get("subsets") or []
    ready = [a["targetRef"]["name"] for s in subsets for a in s.get("addresses") or []]
    not_ready = [a["targetRef"]["name"] for s in subsets for a in s.get("notReadyAddresses") or []]
    return ready, not_ready


def _events(kube: Kube, pod: str) -> list[dict[str, Any]]:
    return [e for e in kube.json("events", "-n", NS)["items"] if e["involvedObject"]["name"] == pod]


def _scale(kube: Kube, replicas: int) -> None:
    kube.run("scale", "-n", NS, "deploy/gloo", f"--replicas={replicas}")


def test_the_gloo_pod_is_ready_by_the_charts_probe_and_its_endpoints_follow(
        cluster: tuple[str, SandboxInfo, Kube]) -> None:
    _profile, info, kube = cluster
    pod = _one_ready_pod(kube)
    name = pod["metadata"]["name"]
    probe = pod["spec"]["containers"][0]["readinessProbe"]
    # The chart's probe, with the API's defaults (SetDefaults_Probe: timeoutSeconds 1, successThreshold 1).
    assert probe == {"tcpSocket": {"port": 9977}, "initialDelaySeconds": 1, "periodSeconds": 2, "failureThreshold": 10,
                     "timeoutSeconds": 1, "successThreshold": 1}
    assert pod["status"]["containerStatuses"][0]["ready"] is True
    assert json.loads(pod["metadata"]["annotations"]["sandbox.gloo-nb.io/ports"])["9977"] == _xds_port(info)
    assert wait_until(lambda: _endpoints(kube), "the gloo pod in the Service's Endpoints",
                      until=lambda e: e == ([name], [])) == ([name], [])


def test_scale_to_zero_stops_the_control_plane_envoy_keeps_serving_and_scale_up_serves_what_came_meanwhile(
        cluster: tuple[str, SandboxInfo, Kube]) -> None:
    _profile, info, kube = cluster
    port = _xds_port(info)
    endpoints_json = (info.state_dir / "endpoints.json").read_text()
    old = _one_ready_pod(kube)["metadata"]["name"]
    assert _envoy_connected(info) == 1
    _scale(kube, 0)
    try:
        wait_until(lambda: _gloo_pods(kube), "the gloo pod deleted", until=lambda ps: ps == [])
        assert not _listening(port), "the ADS server still listens with the gloo Deployment at 0"
        killing = [e for e in _events(kube, old) if e["reason"] == "Killing"]
        assert [(e["type"], e["message"], e["source"]["component"]) for e in killing] == [
            ("Normal", "Stopping container gloo", "kubelet")]
        assert _endpoints(kube) == ([], [])
        wait_until(lambda: _envoy_connected(info), "Envoy sees its xDS stream gone", until=lambda v: v == 0)
        # Envoy keeps its last configuration: the route answers, again and again, with no control plane.
        for _ in range(5):
            assert _get(info, "alpha.example").body == "alpha"
            time.sleep(0.2)
        # A change meanwhile is neither served nor given a status: nobody translates.
        kube.run("apply", "-f", "-", input=_vs("beta", "beta.example", "beta"))
        time.sleep(2.0)
        assert _get(info, "beta.example").status == 404
        assert not kube.json("virtualservice", "beta", "-n", NS).get("status")
    finally:
        _scale(kube, 1)
    new = _one_ready_pod(kube, not_named=old)
    assert new["metadata"]["name"] != old
    assert _listening(port), "the ADS server did not come back on the same port"
    assert (info.state_dir / "endpoints.json").read_text() == endpoints_json
    # The Envoys reconnect by themselves, get the pending change, and it gets its status.
    wait_until(lambda: _envoy_connected(info), "Envoy reconnected", until=lambda v: v == 1, timeout=30)
    wait_until(lambda: _get(info, "beta.example"), "the pending change served", until=lambda r: r.body == "beta",
               timeout=30)
    assert _get(info, "alpha.example").body == "alpha"
    assert wait_until(lambda: kube.json("virtualservice", "beta", "-n", NS).get("status"), "beta's status written")
    created = [e["message"] for e in kube.json("events", "-n", NS)["items"] if e["reason"] == "SuccessfulCreate"]
    assert f"Created pod: {new['metadata']['name']}" in created


def test_a_failing_readiness_probe_is_an_unhealthy_event_and_keeps_the_pod_out_of_the_endpoints(
        cluster: tuple[str, SandboxInfo, Kube]) -> None:
    _profile, info, kube = cluster
    port = _xds_port(info)
    old = _one_ready_pod(kube)["metadata"]["name"]
    _scale(kube, 0)
    blocker = socket.socket()
    try:
        wait_until(lambda: not _listening(port) and not _gloo_pods(kube), "the control plane stopped")
        # Someone holds the xDS port (bound, not listening): the control plane cannot listen, connects are refused.
        # SO_REUSEADDR to bind past the stopped server's TIME_WAIT connections, then off, so that the control plane's
        # own SO_REUSEADDR bind conflicts with it.
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", port))
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        _scale(kube, 1)
        pod = wait_until(lambda: _gloo_pods(kube), "a new gloo pod", until=lambda ps: len(ps) == 1)[0]
        name = pod["metadata"]["name"]
        assert name != old and pod["status"]["phase"] == "Running" and not _ready(pod)
        unhealthy = wait_until(lambda: [e for e in _events(kube, name) if e["reason"] == "Unhealthy"],
                               "the kubelet's Unhealthy event", timeout=20)
        assert unhealthy[0]["type"] == "Warning" and unhealthy[0]["source"]["component"] == "kubelet"
        # pkg/kubelet/prober/prober.go probe: "%s probe failed: %s" with pkg/probe/tcp's dial error.
        assert unhealthy[0]["message"] == \
            f"Readiness probe failed: dial tcp 127.0.0.1:{port}: connect: connection refused"
        assert unhealthy[0]["involvedObject"]["fieldPath"] == "spec.containers{gloo}"
        ready = [c for c in _gloo_pods(kube)[0]["status"]["conditions"] if c["type"] == "Ready"][0]
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "False", "ContainersNotReady", "containers with unready status: [gloo]")
        assert wait_until(lambda: _endpoints(kube), "the not-ready pod in notReadyAddresses",
                          until=lambda e: e == ([], [name])) == ([], [name])
    finally:
        blocker.close()
    # The port is free: the control plane binds it, the next probe succeeds, the pod is Ready and an endpoint.
    assert _one_ready_pod(kube)["metadata"]["name"] == name
    assert _listening(port)
    wait_until(lambda: _endpoints(kube), "the Ready pod in addresses", until=lambda e: e == ([name], []))
    wait_until(lambda: _envoy_connected(info), "Envoy reconnected", until=lambda v: v == 1, timeout=30)


def test_a_template_change_and_rollout_restart_make_new_pods_and_exec_runs_in_gloos_image(
        cluster: tuple[str, SandboxInfo, Kube]) -> None:
    profile, info, kube = cluster
    port = _xds_port(info)
    first = _one_ready_pod(kube)
    # A template change as an operator makes one (the chart's optional LOG_LEVEL, 1-gloo-deployment.yaml).
    assert {"name": "labels-volume", "mountPath": "/etc/gloo", "readOnly": True} in \
        first["spec"]["containers"][0]["volumeMounts"]  # the chart's downwardAPI labels-volume (both versions)
    kube.run("patch", "-n", NS, "deploy/gloo", "-p", json.dumps({"spec": {"template": {"spec": {
        "containers": [{"name": "gloo", "env": [{"name": "LOG_LEVEL", "value": "debug"}]}]}}}}))
    kube.run("rollout", "status", "-n", NS, "deploy/gloo", "--timeout=40s")
    second = _one_ready_pod(kube, not_named=first["metadata"]["name"])
    first_hash = first["metadata"]["labels"]["pod-template-hash"]
    second_hash = second["metadata"]["labels"]["pod-template-hash"]
    assert second_hash != first_hash and second["metadata"]["name"].startswith(f"gloo-{second_hash}-")
    kube.run("rollout", "restart", "-n", NS, "deploy/gloo")
    kube.run("rollout", "status", "-n", NS, "deploy/gloo", "--timeout=40s")
    third = _one_ready_pod(kube, not_named=second["metadata"]["name"])
    third_hash = third["metadata"]["labels"]["pod-template-hash"]
    assert third_hash not in (first_hash, second_hash)
    rs = {r["metadata"]["name"]: r["spec"]["replicas"] for r in kube.json("rs", "-n", NS, "-l", "gloo=gloo")["items"]}
    assert rs == {f"gloo-{first_hash}": 0, f"gloo-{second_hash}": 0, f"gloo-{third_hash}": 1}
    assert _listening(port)
    wait_until(lambda: _envoy_connected(info), "Envoy reconnected", until=lambda v: v == 1, timeout=30)
    assert _get(info, "alpha.example").body == "alpha"

    # kubectl exec into deploy/gloo: Gloo's image has a shell (alpine at v1.3.20, envoy-gloo's base at main).
    name = third["metadata"]["name"]
    labels = kube.run("exec", "-n", NS, "deploy/gloo", "--", "cat", "/etc/gloo/labels").stdout
    assert labels == f'gloo="gloo"\npod-template-hash="{third_hash}"'
    shell = kube.run("exec", "-n", NS, "deploy/gloo", "--", "sh", "-c", "echo $HOSTNAME $POD_NAMESPACE; ls /etc/gloo")
    assert shell.stdout == f"{name} gloo-system\nlabels\n"
    root = kube.run("exec", "-n", NS, "deploy/gloo", "--", "ls", "/").stdout.split()
    assert {"bin", "etc", "usr", "tmp"} <= set(root), root
    # localhost:9977 reaches the real xDS server through the pod's ports: it answers HTTP/2 frames, which busybox
    # wget cannot read as a status line; 9979 (wasm-cache) has no listener in the sandbox: the connection is refused.
    xds = kube.run("exec", "-n", NS, "deploy/gloo", "--", "wget", "-q", "-O", "-", "localhost:9977", check=False)
    assert (xds.returncode, xds.stdout) == (1, "")
    assert xds.stderr.startswith("wget: server returned error: \n"), xds.stderr
    curl = kube.run("exec", "-n", NS, "deploy/gloo", "--", "curl", "localhost:9977", check=False)
    assert (curl.returncode, curl.stdout) == (1, "")
    assert curl.stderr.startswith("curl: (1) Received HTTP/0.9 when not allowed\n"), curl.stderr
    refused = kube.run("exec", "-n", NS, "deploy/gloo", "--", "wget", "-q", "-O", "-", "localhost:9979", check=False)
    assert "wget: can't connect to remote host (127.0.0.1): Connection refused" in refused.stderr
    missing = kube.run("exec", "-n", NS, "deploy/gloo", "--", "glooctl", "version", check=False)
    assert missing.returncode == 126
    assert 'exec: "glooctl": executable file not found in $PATH: unknown' in missing.stderr + missing.stdout
    del profile


def test_a_new_control_plane_has_no_last_known_good_in_1_3_and_pushes_valid_parts_in_current(
        cluster: tuple[str, SandboxInfo, Kube]) -> None:
    # Gloo keeps its last good snapshot in memory only. Scaled down and up with an invalid VirtualService in the
    # store, 1.3's new process rejects the proxy and has no earlier snapshot to keep serving (envoy_translator_syncer.go
    # updateEndpointsOnly): it sets none, the Envoys keep what they have (alpha), and a valid change made meanwhile
    # (delta) is blocked too. current pushes the valid parts.
    profile, info, kube = cluster
    _one_ready_pod(kube)
    _scale(kube, 0)
    try:
        wait_until(lambda: _gloo_pods(kube), "the gloo pod deleted", until=lambda ps: ps == [])
        kube.run("apply", "-f", "-", input=_vs("delta", "delta.example", "delta"))
        kube.run("apply", "-f", "-", input=json.dumps({
            "apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
            "metadata": {"name": "gamma", "namespace": NS},
            "spec": {"virtualHost": {"domains": ["gamma.example"], "routes": [{
                "matchers": [{"prefix": "/"}],
                "routeAction": {"single": {"upstream": {"name": "missing", "namespace": NS}}}}]}}}))
    finally:
        _scale(kube, 1)
    _one_ready_pod(kube)
    wait_until(lambda: kube.json("virtualservice", "gamma", "-n", NS).get("status"), "gamma's status written")
    wait_until(lambda: _envoy_connected(info), "Envoy reconnected", until=lambda v: v == 1, timeout=30)
    if profile == "1.3":
        time.sleep(2.0)
        assert _get(info, "delta.example").status == 404
    else:
        wait_until(lambda: _get(info, "delta.example"), "delta served", until=lambda r: r.body == "delta", timeout=30)
    assert _get(info, "alpha.example").body == "alpha"
    kube.run("delete", "virtualservice", "gamma", "-n", NS)
    wait_until(lambda: _get(info, "delta.example"), "delta served once the proxy is valid",
               until=lambda r: r.body == "delta", timeout=30)


def test_a_probe_on_a_port_without_a_server_fails_and_rollout_undo_brings_the_charts_probe_back(
        cluster: tuple[str, SandboxInfo, Kube]) -> None:
    _profile, info, kube = cluster
    before = _one_ready_pod(kube)
    # wasm-cache 9979 is a container port of the chart with no server in the sandbox: refused, as where nothing
    # listens in a pod.
    kube.run("patch", "-n", NS, "deploy/gloo", "--type", "json", "-p", json.dumps([
        {"op": "replace", "path": "/spec/template/spec/containers/0/readinessProbe/tcpSocket/port", "value": 9979}]))
    pod = wait_until(lambda: _gloo_pods(kube), "the pod of the new template",
                     until=lambda ps: len(ps) == 1 and ps[0]["metadata"]["name"] != before["metadata"]["name"])[0]
    name = pod["metadata"]["name"]
    unhealthy = wait_until(lambda: [e for e in _events(kube, name) if e["reason"] == "Unhealthy"],
                           "the kubelet's Unhealthy event", timeout=20)
    message = unhealthy[0]["message"]
    assert message.startswith("Readiness probe failed: dial tcp 127.0.0.1:") and \
        message.endswith(": connect: connection refused"), message
    assert not _ready(_gloo_pods(kube)[0]) and _listening(_xds_port(info))
    kube.run("rollout", "undo", "-n", NS, "deploy/gloo")
    kube.run("rollout", "status", "-n", NS, "deploy/gloo", "--timeout=40s")
    after = _one_ready_pod(kube, not_named=name)
    assert after["metadata"]["labels"]["pod-template-hash"] == before["metadata"]["labels"]["pod-template-hash"]
    assert after["spec"]["containers"][0]["readinessProbe"]["tcpSocket"] == {"port": 9977}


# Last: it restarts the sandbox (new Envoy processes, so the fixture's admin addresses no longer hold).
def test_a_restarted_sandbox_keeps_the_gloo_deployments_scale_and_its_pods_name(
        cluster: tuple[str, SandboxInfo, Kube]) -> None:
    profile, info, kube = cluster
    port = _xds_port(info)
    _scale(kube, 0)
    wait_until(lambda: _gloo_pods(kube), "the gloo pod deleted", until=lambda ps: ps == [])
    runner.stop(info.state_dir)
    # A cluster's Deployment stays at 0 across a node's reboot: the sandbox starts without its control plane.
    again = runner.start(info.state_dir, gloo_version=profile, replicas=1, exit_with=os.getpid())
    assert again.data["xds"] == info.data["xds"]
    assert _gloo_pods(kube) == [] and not _listening(port)
    # The Envoys are new processes too (a restart starts them afresh): with no control plane they have no listener.
    assert _get(again, "alpha.example").status == 0
    _scale(kube, 1)
    pod = _one_ready_pod(kube)
    assert _listening(port)
    wait_until(lambda: _get(again, "alpha.example"), "served after the scale-up", until=lambda r: r.body == "alpha")
    runner.stop(info.state_dir)
    third = runner.start(info.state_dir, gloo_version=profile, replicas=1, exit_with=os.getpid())
    # Started with the Deployment at 1: the pod stored before the restart is the pod again, Ready once it serves.
    assert [p["metadata"]["name"] for p in _gloo_pods(kube)] == [pod["metadata"]["name"]]
    assert _ready(_gloo_pods(kube)[0]) and _listening(_xds_port(third))
