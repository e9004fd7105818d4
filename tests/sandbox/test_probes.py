"""Container probes in the sandbox's kubelet: real pod processes, real probes on loopback, real kubectl."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until
from sandboxkit import Kube, alive, in_process_api
from test_kubelet import NS, deployment, ports_of, ready, service, start_kubelet

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubelet import Kubelet
from gloo_nb.sandbox.prober import LIVENESS, READINESS, Probe, parse_probes, run_probe
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox


class Cluster:
    def __init__(self, store: Store, kubelet: Kubelet, kube: Kube) -> None:
        self.store = store
        self.kubelet = kubelet
        self.kube = kube

    def pods(self, app: str) -> list[dict[str, Any]]:
        return self.store.list(kinds.POD, NS, label_selector=f"app={app}")[0]

    def pod(self, app: str) -> dict[str, Any]:
        return wait_until(lambda: (p := self.pods(app)) and len(p) == 1 and p[0].get("status", {}).get(
            "containerStatuses") and p[0], f"one {app} pod")

    def unhealthy(self, name: str, reason: str = "Unhealthy") -> list[dict[str, Any]]:
        return [e for e in events_of(self.store, name) if e["reason"] == reason]


def events_of(store: Store, name: str) -> list[dict[str, Any]]:
    found = store.list(kinds.EVENT, NS, field_selector=f"involvedObject.kind=Pod,involvedObject.name={name}")[0]
    return sorted(found, key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))


def probe_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("probe-")]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    store = Store()
    store.create(kinds.NAMESPACE, {"metadata": {"name": NS}})
    kubelet = start_kubelet(store, tmp_path)
    try:
        with in_process_api(store, tmp_path) as api:
            (tmp_path / "home").mkdir()
            yield Cluster(store, kubelet, Kube(str(api.kubeconfig), tmp_path / "home"))
    finally:
        pids = list(kubelet.processes().values())
        kubelet.stop()
        assert not [p for p in pids if alive(p)], "kubelet.stop() left processes behind"
        assert probe_threads() == [], "kubelet.stop() left probe workers running"


def with_probes(dep: dict[str, Any], **probes: dict[str, Any]) -> dict[str, Any]:
    dep["spec"]["template"]["spec"]["containers"][0].update(probes)
    return dep


def get_pods_row(kube: Kube, name: str) -> list[str]:
    out = kube.run("get", "pod", name, "-n", NS).stdout.splitlines()
    assert out[0].split()[:4] == ["NAME", "READY", "STATUS", "RESTARTS"]
    return out[1].split()


def test_failing_readiness_keeps_the_pod_out_of_endpoints_until_a_patch_fixes_it(cluster: Cluster) -> None:
    # http-echo 1.0's -status-code answers every path but /health with that status, as the real image does.
    dep = with_probes(deployment(image="hashicorp/http-echo:1.0", text="v1"),
                      readinessProbe={"httpGet": {"path": "/", "port": "http", "httpHeaders": [
                          {"name": "User-Agent", "value": "probe-test"}]}, "periodSeconds": 1})
    dep["spec"]["template"]["spec"]["containers"][0]["args"].append("-status-code=500")
    cluster.store.create(kinds.DEPLOYMENT, dep)
    cluster.store.create(kinds.SERVICE, service())
    pod = cluster.pod("echo")
    name = pod["metadata"]["name"]
    # The apiserver's defaults (SetDefaults_Probe, SetDefaults_HTTPGetAction) are in the stored pod.
    probe = pod["spec"]["containers"][0]["readinessProbe"]
    assert probe["httpGet"]["scheme"] == "HTTP" and {k: v for k, v in probe.items() if k != "httpGet"} == {
        "periodSeconds": 1, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3}

    # Repeats are one Event, counted (client-go's correlator), not one object per probe.
    [ev] = wait_until(lambda: (u := cluster.unhealthy(name)) and u[0]["count"] >= 2 and u, "a counted Unhealthy event",
                      timeout=6)
    assert (ev["type"], ev["message"]) == ("Warning", "Readiness probe failed: HTTP probe failed with statuscode: 500")
    assert ev["involvedObject"]["fieldPath"] == "spec.containers{echo}"
    assert ev["source"] == {"component": "kubelet", "host": "sandbox"}
    pod = cluster.store.get(kinds.POD, NS, name)
    assert not ready(pod) and pod["status"]["phase"] == "Running"
    [cs] = pod["status"]["containerStatuses"]
    assert cs["ready"] is False and cs["started"] is True and cs["restartCount"] == 0
    ep = wait_until(lambda: (e := cluster.store.get(kinds.ENDPOINTS, NS, "echo")).get("subsets") and e,
                    "endpoints of echo")
    assert [list(s) for s in ep["subsets"]] == [["notReadyAddresses", "ports"]]
    assert get_pods_row(cluster.kube, name)[1:3] == ["0/1", "Running"]
    # The probe's request as http-echo logs it: the path, and the User-Agent from httpHeaders.
    log = cluster.kubelet.log_path(NS, name)
    assert log is not None and re.search(r'"GET / HTTP/1.1" 500 3 "probe-test"', log.read_text())
    shown = cluster.kube.run("get", "events", "-n", NS).stdout
    assert re.search(r"Warning\s+Unhealthy\s+pod/" + name + r"\s+Readiness probe failed: HTTP probe failed with "
                     r"statuscode: 500", shown), shown

    # The fix rolls a new pod (a template change); it turns Ready and replaces the old one in the Endpoints.
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "echo",
                                                            "readinessProbe": {"httpGet": {"path": "/health"}}}]}}}}
    cluster.kube.run("patch", "deployment", "echo", "-n", NS, "-p", json.dumps(patch))
    new = wait_until(lambda: (p := cluster.pods("echo")) and len(p) == 1 and p[0]["metadata"]["name"] != name
                     and ready(p[0]) and p[0], "the fixed pod to be Ready alone", timeout=8)
    assert new["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/health"
    ep = wait_until(lambda: (e := cluster.store.get(kinds.ENDPOINTS, NS, "echo")).get("subsets", [{}])[0]
                    .get("addresses") and e, "the new pod in the Endpoints")
    assert [s["addresses"][0]["targetRef"]["name"] for s in ep["subsets"]] == [new["metadata"]["name"]]
    assert ep["subsets"][0]["ports"][0]["port"] == ports_of(new)["8080"]
    assert get_pods_row(cluster.kube, new["metadata"]["name"])[1:3] == ["1/1", "Running"]
    assert cluster.unhealthy(new["metadata"]["name"]) == []


def test_failing_liveness_restarts_the_container(cluster: Cluster) -> None:
    # Nothing listens on 9999 in this pod: the kubelet's connection is refused, as on a cluster.
    cluster.store.create(kinds.DEPLOYMENT, with_probes(deployment(), livenessProbe={
        "httpGet": {"path": "/healthz", "port": 9999}, "periodSeconds": 1, "failureThreshold": 2}))
    pod = cluster.pod("echo")
    name = pod["metadata"]["name"]
    [(key, pid)] = wait_until(lambda: list(cluster.kubelet.processes(NS).items()), "the process")

    def restarted() -> dict[str, Any] | None:
        p = cluster.store.get(kinds.POD, NS, name)
        return p if p["status"]["containerStatuses"][0]["restartCount"] >= 1 and ready(p) else None
    pod = wait_until(restarted, "a restart after the liveness failures", timeout=8)
    assert not alive(pid) and cluster.kubelet.processes(NS)[key] != pid
    [unhealthy] = cluster.unhealthy(name)
    port = int(re.search(r"127\.0\.0\.1:(\d+)/", unhealthy["message"]).group(1))  # type: ignore[union-attr]
    assert port not in ports_of(pod).values()
    assert unhealthy["type"] == "Warning" and unhealthy["message"] == (
        f'Liveness probe failed: Get "http://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: '
        "connect: connection refused")
    killing = [e for e in events_of(cluster.store, name) if e["reason"] == "Killing"]
    assert [(e["type"], e["message"]) for e in killing] == [
        ("Normal", "Container echo failed liveness probe, will be restarted")]
    assert pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"] in ("Error", "Completed")
    row = get_pods_row(cluster.kube, name)
    assert row[1] == "1/1" and int(row[3]) >= 1


def test_startup_probe_gates_the_others_and_restarts_when_it_fails(cluster: Cluster) -> None:
    # A startup probe on the served port passes: only then does the readiness probe run and pass.
    cluster.store.create(kinds.DEPLOYMENT, with_probes(deployment(name="good"), startupProbe={
        "tcpSocket": {"port": 8080}, "periodSeconds": 1}, readinessProbe={"tcpSocket": {"port": "http"},
                                                                          "periodSeconds": 1}))
    # One that never passes: not started, not ready (the readiness probe never runs), then restarted.
    cluster.store.create(kinds.DEPLOYMENT, with_probes(deployment(name="bad"), startupProbe={
        "tcpSocket": {"port": 9999}, "periodSeconds": 1, "failureThreshold": 2}, readinessProbe={
        "tcpSocket": {"port": 8080}, "periodSeconds": 1}))
    good = wait_until(lambda: (p := cluster.pods("good")) and ready(p[0]) and p[0], "the good pod Ready")
    assert good["status"]["containerStatuses"][0]["started"] is True
    assert cluster.unhealthy(good["metadata"]["name"]) == []
    name = cluster.pod("bad")["metadata"]["name"]
    killing = wait_until(lambda: [e for e in events_of(cluster.store, name) if e["reason"] == "Killing"],
                         "the startup kill", timeout=6)
    assert killing[0]["message"] == "Container bad failed startup probe, will be restarted"
    [unhealthy] = cluster.unhealthy(name)
    assert re.fullmatch(r"Startup probe failed: dial tcp 127\.0\.0\.1:\d+: connect: connection refused",
                        unhealthy["message"])
    pod = wait_until(lambda: (p := cluster.store.get(kinds.POD, NS, name))["status"]["containerStatuses"][0][
        "restartCount"] >= 1 and p, "the restart")
    assert not ready(pod)
    assert pod["status"]["containerStatuses"][0]["started"] is False
    assert not [e for e in events_of(cluster.store, name) if e["message"].startswith("Readiness")]


def test_exec_and_grpc_probes_are_not_run_and_say_so(cluster: Cluster) -> None:
    cluster.store.create(kinds.DEPLOYMENT, with_probes(
        deployment(), readinessProbe={"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1},
        livenessProbe={"grpc": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 1}))
    pod = wait_until(lambda: (p := cluster.pods("echo")) and ready(p[0]) and p[0], "Ready")
    name = pod["metadata"]["name"]
    warnings = wait_until(lambda: (w := cluster.unhealthy(name, "ProbeWarning")) and len(w) == 2 and w,
                          "two ProbeWarning events")
    assert {(e["type"], e["message"]) for e in warnings} == {
        ("Warning", "Readiness probe warning: exec probes are not run by the sandbox (a pod is a local process, "
                    "there is no container to exec into); treated as success"),
        ("Warning", "Liveness probe warning: gRPC probes are not run by the sandbox (its emulated images serve no "
                    "gRPC health); treated as success")}
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    assert cluster.unhealthy(name) == []


def test_tcp_readiness_failure_and_no_worker_without_probes(cluster: Cluster) -> None:
    cluster.store.create(kinds.DEPLOYMENT, deployment(name="plain"))
    wait_until(lambda: (p := cluster.pods("plain")) and ready(p[0]), "the plain pod Ready")
    assert probe_threads() == [], "a pod without probes must not cost a thread"
    cluster.store.create(kinds.DEPLOYMENT, with_probes(deployment(), readinessProbe={
        "tcpSocket": {"port": 7000}, "periodSeconds": 1}))
    name = cluster.pod("echo")["metadata"]["name"]
    [ev] = wait_until(lambda: cluster.unhealthy(name), "an Unhealthy event")
    assert re.fullmatch(r"Readiness probe failed: dial tcp 127\.0\.0\.1:\d+: connect: connection refused",
                        ev["message"])
    assert len(probe_threads()) == 1
    cluster.store.delete(kinds.DEPLOYMENT, NS, "echo")
    wait_until(lambda: probe_threads() == [], "the probe worker to stop with its pod")


def test_probe_fields_default_as_kubernetes_and_named_ports_resolve() -> None:
    # Objects stored before the API defaulted probes still get Kubernetes' defaults from the kubelet.
    container = {"name": "c", "ports": [{"name": "http", "containerPort": 8080}],
                 "readinessProbe": {"tcpSocket": {"port": "http"}},
                 "livenessProbe": {"httpGet": {"port": "nope"}, "initialDelaySeconds": 5}}
    readiness, liveness = parse_probes(container)
    assert readiness == Probe(READINESS, "tcpSocket", port=8080, period=10, timeout=1, success_threshold=1,
                              failure_threshold=3)
    assert (liveness.kind, liveness.path, liveness.scheme, liveness.initial_delay) == (LIVENESS, "/", "HTTP", 5)
    # pkg/probe/util.go ResolveContainerPort's error for a name the container does not have: the probe errors.
    assert run_probe(liveness, lambda _port: None) == ("unknown", "", 'strconv.Atoi: parsing "nope": invalid syntax')
    assert parse_probes({"name": "c"}) == []
