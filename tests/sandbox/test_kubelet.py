"""The kubelet and controllers: Deployments -> Pods -> real processes, Services -> Endpoints, with a real Store."""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until
from sandboxkit import alive

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubelet import MANAGED_BY, PORTS_ANNOTATION, Kubelet, template_hash
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

NS = "team-echo"


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def http_get(port: int, path: str = "/") -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
        return resp.read()


def deployment(name: str = "echo", text: str = "version:v1", replicas: int | None = None,
               image: str = "hashicorp/http-echo:0.2.3") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name, "version": "v1"}},
                     "spec": {"containers": [{"name": name, "image": image,
                                              "args": [f"-text={text}", "-listen=:8080"],
                                              "ports": [{"name": "http", "containerPort": 8080}]}]}},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS}, "spec": spec}


def service(name: str = "echo", target: Any = 8080, selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS, "labels": {"t": "1"}},
            "spec": {"selector": selector or {"app": name},
                     "ports": [{"name": "http", "port": 8080, "targetPort": target}]}}


class Env:
    def __init__(self, store: Store, kubelet: Kubelet) -> None:
        self.store = store
        self.kubelet = kubelet

    def pods(self, label: str = "") -> list[dict[str, Any]]:
        return self.store.list(kinds.POD, NS, label_selector=label)[0]

    def ready_pods(self, n: int, label: str = "app=echo", timeout: float = 15.0) -> list[dict[str, Any]]:
        def check() -> list[dict[str, Any]] | None:
            pods = self.pods(label)
            return pods if len(pods) == n and all(ready(p) for p in pods) else None
        return wait_until(check, f"{n} ready pods", timeout=timeout)

    def scale(self, name: str, replicas: int) -> None:
        def mutate(obj: dict[str, Any]) -> dict[str, Any]:
            obj["spec"]["replicas"] = replicas
            return obj
        self.store.patch(kinds.DEPLOYMENT, NS, name, mutate)

    def endpoints(self, name: str = "echo") -> dict[str, Any] | None:
        try:
            return self.store.get(kinds.ENDPOINTS, NS, name)
        except Exception:  # noqa: BLE001
            return None


def start_kubelet(store: Store, state_dir: Path) -> Kubelet:
    kubelet = Kubelet(store, state_dir)
    kubelet.start()
    return kubelet


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    store = Store()
    store.create(kinds.NAMESPACE, {"metadata": {"name": NS}})
    kubelet = start_kubelet(store, tmp_path)
    try:
        yield Env(store, kubelet)
    finally:
        pids = list(kubelet.processes().values())
        kubelet.stop()
        assert not [p for p in pids if alive(p)], "kubelet.stop() left processes behind"


def ports_of(pod: dict[str, Any]) -> dict[str, int]:
    return json.loads(pod["metadata"]["annotations"][PORTS_ANNOTATION])


def test_deployment_pod_ready_serves_http_echo_and_gets_endpoints(env: Env) -> None:
    env.store.create(kinds.DEPLOYMENT, deployment())
    [pod] = env.ready_pods(1)  # how fast: bench/sandbox.py (target under 1 s)
    meta = pod["metadata"]
    dep = env.store.get(kinds.DEPLOYMENT, NS, "echo")
    phash = meta["labels"]["pod-template-hash"]
    assert phash == template_hash(dep["spec"]["template"])
    assert re.fullmatch(rf"echo-{phash}-[bcdfghjklmnpqrstvwxz2456789]{{5}}", meta["name"])
    assert len(phash) == 10
    assert meta["labels"]["app"] == "echo" and meta["labels"]["version"] == "v1"
    # Deployment -> ReplicaSet echo-<hash> -> Pod, each owned by the one before.
    rs = env.store.get(kinds.REPLICA_SET, NS, f"echo-{phash}")
    assert meta["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"echo-{phash}",
                                        "uid": rs["metadata"]["uid"], "controller": True,
                                        "blockOwnerDeletion": True}]
    assert rs["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "echo",
                                                  "uid": dep["metadata"]["uid"], "controller": True,
                                                  "blockOwnerDeletion": True}]
    assert pod["spec"]["nodeName"] == "sandbox"
    status = pod["status"]
    assert status["phase"] == "Running"
    assert status["podIP"] == status["hostIP"] == "127.0.0.1" and status["podIPs"] == [{"ip": "127.0.0.1"}]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True", "ContainersReady": "True",
        "PodScheduled": "True"}
    [cs] = status["containerStatuses"]
    assert cs["name"] == "echo" and cs["image"] == "hashicorp/http-echo:0.2.3"
    assert cs["ready"] is True and cs["started"] is True and cs["restartCount"] == 0
    assert "startedAt" in cs["state"]["running"]
    port = ports_of(pod)["8080"]
    assert port != 8080 and port == env.kubelet.host_ports(NS, meta["name"])[8080]
    assert http_get(port, "/anything") == b"version:v1\n"

    env.store.create(kinds.SERVICE, service(target="http"))
    ep = wait_until(lambda: (e := env.endpoints()) and e.get("subsets") and e, "endpoints")
    assert ep["metadata"]["labels"] == {"t": "1"}
    assert ep["subsets"] == [{
        "addresses": [{"ip": "127.0.0.1", "nodeName": "sandbox",
                       "targetRef": {"kind": "Pod", "namespace": NS, "name": meta["name"], "uid": meta["uid"]}}],
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}]

    def deployment_done() -> dict[str, Any] | None:
        st = env.store.get(kinds.DEPLOYMENT, NS, "echo").get("status", {})
        return st if st.get("availableReplicas") == 1 and st["conditions"][1]["reason"] == "NewReplicaSetAvailable" \
            else None
    st = wait_until(deployment_done, "deployment status")
    assert st["observedGeneration"] == 1 and st["replicas"] == 1 and st["updatedReplicas"] == 1
    assert st["readyReplicas"] == 1 and "unavailableReplicas" not in st
    avail, prog = st["conditions"]
    assert (avail["type"], avail["status"], avail["reason"]) == ("Available", "True", "MinimumReplicasAvailable")
    assert prog["message"] == f'ReplicaSet "echo-{phash}" has successfully progressed.'

    env.store.delete(kinds.SERVICE, NS, "echo")
    wait_until(lambda: env.endpoints() is None, "endpoints deleted with the service")


def test_scale_up_and_down(env: Env) -> None:
    env.store.create(kinds.DEPLOYMENT, deployment())
    env.store.create(kinds.SERVICE, service())
    env.ready_pods(1)
    env.scale("echo", 3)
    pods = env.ready_pods(3)
    ports = {ports_of(p)["8080"] for p in pods}
    assert len(ports) == 3
    assert all(http_get(p) == b"version:v1\n" for p in ports)
    ep = wait_until(lambda: (e := env.endpoints()) and len(e.get("subsets", [])) == 3 and e, "3 subsets")
    assert {s["ports"][0]["port"] for s in ep["subsets"]} == ports
    procs = env.kubelet.processes(NS)
    assert len(procs) == 3
    wait_until(lambda: env.store.get(kinds.DEPLOYMENT, NS, "echo")["status"].get("readyReplicas") == 3,
               "3 ready replicas in the Deployment status")

    env.scale("echo", 1)
    [survivor] = env.ready_pods(1)
    gone = [pid for (_, pod, _), pid in procs.items() if pod != survivor["metadata"]["name"]]
    assert len(gone) == 2
    wait_until(lambda: not any(alive(pid) for pid in gone), "scaled-down processes to exit")
    wait_until(lambda: len(env.endpoints().get("subsets", [])) == 1, "1 subset")
    wait_until(lambda: env.store.get(kinds.DEPLOYMENT, NS, "echo")["status"].get("replicas") == 1,
               "1 replica in the Deployment status")
    # The Events a cluster records: the deployment controller's resizes, the scheduler's and kubelet's pod steps.
    rs = f"echo-{survivor['metadata']['labels']['pod-template-hash']}"
    assert [e["message"] for e in events(env, "Deployment", "echo")] == [
        f"Scaled up replica set {rs} from 0 to 1", f"Scaled up replica set {rs} from 1 to 3",
        f"Scaled down replica set {rs} from 3 to 1"]
    on_survivor = events(env, "Pod", survivor["metadata"]["name"])
    assert [e["reason"] for e in on_survivor] == ["Scheduled", "Pulled", "Created", "Started"]
    assert on_survivor[0]["message"] == f"Successfully assigned {NS}/{survivor['metadata']['name']} to sandbox"
    assert on_survivor[0]["source"] == {"component": "default-scheduler"}
    assert on_survivor[3]["source"] == {"component": "kubelet", "host": "sandbox"}
    assert on_survivor[3]["involvedObject"]["fieldPath"] == "spec.containers{echo}"
    assert on_survivor[1]["message"] == 'Container image "hashicorp/http-echo:0.2.3" already present on machine'
    victim = next(pod for (_, pod, _) in procs if pod != survivor["metadata"]["name"])
    wait_until(lambda: "Killing" in [e["reason"] for e in events(env, "Pod", victim)], "a Killing event")


def events(env: Env, kind: str, name: str) -> list[dict[str, Any]]:
    found = env.store.list(kinds.EVENT, NS, field_selector=f"involvedObject.kind={kind},involvedObject.name={name}")
    return sorted(found[0], key=lambda e: (e["firstTimestamp"], e["metadata"]["name"]))


def test_killed_process_is_restarted(env: Env) -> None:
    env.store.create(kinds.DEPLOYMENT, deployment())
    [pod] = env.ready_pods(1)
    name = pod["metadata"]["name"]
    [(key, pid)] = env.kubelet.processes(NS).items()
    port = ports_of(pod)["8080"]
    os.kill(pid, signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        p = env.store.get(kinds.POD, NS, name)
        return p if p["status"]["containerStatuses"][0]["restartCount"] == 1 and ready(p) else None
    pod = wait_until(restarted, "restart")
    cs = pod["status"]["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["exitCode"] == 137
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    new_pid = env.kubelet.processes(NS)[key]
    assert new_pid != pid and not alive(pid)
    assert ports_of(pod)["8080"] == port, "the host port survives a container restart"
    assert http_get(port) == b"version:v1\n"


def test_delete_deployment_stops_its_processes(env: Env) -> None:
    env.store.create(kinds.DEPLOYMENT, deployment(replicas=2))
    env.store.create(kinds.SERVICE, service())
    env.ready_pods(2)
    pids = list(env.kubelet.processes(NS).values())
    assert len(pids) == 2 and all(alive(p) for p in pids)
    env.store.delete(kinds.DEPLOYMENT, NS, "echo")
    wait_until(lambda: not env.pods(), "pods deleted with their deployment")
    wait_until(lambda: not any(alive(p) for p in pids), "processes gone")
    # Eventually consistent, as in Kubernetes: a pod the controller created just before the
    # Deployment went is an orphan that the garbage collector removes with its process.
    wait_until(lambda: env.kubelet.processes() == {}, "no process left")
    wait_until(lambda: not env.pods(), "no pod left")
    wait_until(lambda: "subsets" not in env.endpoints(), "endpoints emptied")


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    store = Store()
    store.create(kinds.NAMESPACE, {"metadata": {"name": NS}})
    kubelet = start_kubelet(store, tmp_path)
    try:
        store.create(kinds.DEPLOYMENT, deployment(replicas=2))
        wait_until(lambda: len(kubelet.processes()) == 2 and all(ready(p) for p in store.list(kinds.POD, NS)[0]),
                   "2 processes and every pod Ready")
        pids = list(kubelet.processes().values())
    finally:
        kubelet.stop()
    assert not any(alive(p) for p in pids)
    assert kubelet.processes() == {}


def test_generic_image_answers_json(env: Env) -> None:
    dep = deployment(name="web", image="example/web:1.25")  # nginx is emulated now
    dep["spec"]["template"]["spec"]["containers"][0].update(
        args=[], ports=[{"name": "http", "containerPort": 80}, {"name": "metrics", "containerPort": 9090}])
    env.store.create(kinds.DEPLOYMENT, dep)
    [pod] = env.ready_pods(1, label="app=web")
    ports = ports_of(pod)
    assert set(ports) == {"80", "9090"}
    data = json.loads(http_get(ports["80"], "/hello?x=1"))
    assert data["pod"] == pod["metadata"]["name"] and data["namespace"] == NS
    assert data["labels"] == pod["metadata"]["labels"]
    assert data["request"]["path"] == "/hello" and data["request"]["query"] == {"x": ["1"]}
    assert json.loads(http_get(ports["9090"]))["port"] == 9090
    env.store.create(kinds.SERVICE, service(name="web", target="metrics"))
    ep = wait_until(lambda: (e := env.endpoints("web")) and e.get("subsets") and e,
                    "endpoints of the web Service")
    assert ep["subsets"][0]["ports"] == [{"name": "http", "port": ports["9090"], "protocol": "TCP"}]


def test_template_change_rolls_new_pods_first(env: Env) -> None:
    env.store.create(kinds.DEPLOYMENT, deployment())
    [old] = env.ready_pods(1)

    def change(obj: dict[str, Any]) -> dict[str, Any]:
        obj["spec"]["template"]["spec"]["containers"][0]["args"][0] = "-text=version:v2"
        return obj
    env.store.patch(kinds.DEPLOYMENT, NS, "echo", change)
    [new] = wait_until(lambda: (p := env.pods("app=echo")) and len(p) == 1 and ready(p[0])
                       and p[0]["metadata"]["name"] != old["metadata"]["name"] and p, "rolled pod")
    assert new["metadata"]["labels"]["pod-template-hash"] != old["metadata"]["labels"]["pod-template-hash"]
    assert http_get(ports_of(new)["8080"]) == b"version:v2\n"
    st = wait_until(lambda: (s := env.store.get(kinds.DEPLOYMENT, NS, "echo")["status"]).get("observedGeneration") == 2
                    and s.get("updatedReplicas") == 1 and s.get("replicas") == 1 and s, "the rolled Deployment status")
    assert st["conditions"][0]["status"] == "True"


def test_crashing_container_backs_off(env: Env) -> None:
    dep = deployment()
    dep["spec"]["template"]["spec"]["containers"][0]["args"] = ["-listen=:8080"]  # no -text: exits 127
    env.store.create(kinds.DEPLOYMENT, dep)

    def crashed() -> dict[str, Any] | None:
        pods = env.pods()
        if not pods:
            return None
        cs = pods[0]["status"].get("containerStatuses") or [{}]
        return pods[0] if cs[0].get("restartCount", 0) >= 1 and cs[0].get("lastState") else None
    pod = wait_until(crashed, "a crash")
    cs = pod["status"]["containerStatuses"][0]
    assert cs["lastState"]["terminated"]["exitCode"] == 127
    assert not ready(pod) and pod["status"]["phase"] == "Running"
    wait_until(lambda: env.pods()[0]["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason")
               == "CrashLoopBackOff", "CrashLoopBackOff")
    log = env.kubelet.log_path(NS, pod["metadata"]["name"], previous=True)
    assert log is not None and "Missing -text option!" in log.read_text()
    # One BackOff Event per container, counted (client-go's correlator), not one per restart.
    uid = pod["metadata"]["uid"]
    backoff = wait_until(lambda: [e for e in events(env, "Pod", pod["metadata"]["name"]) if e["reason"] == "BackOff"],
                         "a BackOff event")
    assert len(backoff) == 1 and backoff[0]["type"] == "Warning"
    assert backoff[0]["message"] == (f"Back-off restarting failed container echo in pod "
                                     f"{pod['metadata']['name']}_{NS}({uid})")
    started = [e for e in events(env, "Pod", pod["metadata"]["name"]) if e["reason"] == "Started"]
    assert len(started) == 1 and started[0]["count"] >= 2


def test_managed_pods_get_no_process_but_count_for_endpoints(env: Env) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "gateway-proxy-0", "namespace": NS, "labels": {"app": "gw"},
                        "annotations": {MANAGED_BY: "sandbox-envoy", PORTS_ANNOTATION: json.dumps({"8080": 40001})}},
           "spec": {"nodeName": "sandbox", "containers": [{"name": "envoy", "image": "envoy",
                                                           "ports": [{"containerPort": 8080}]}]}}
    env.store.create(kinds.POD, pod)

    def set_status(obj: dict[str, Any]) -> dict[str, Any]:
        obj["status"] = {"phase": "Running", "podIP": "127.0.0.1",
                         "conditions": [{"type": "Ready", "status": "True"}]}
        return obj
    env.store.patch(kinds.POD, NS, "gateway-proxy-0", set_status, subresource="status")
    env.store.create(kinds.SERVICE, service(name="gw"))
    ep = wait_until(lambda: (e := env.endpoints("gw")) and e.get("subsets") and e,
                    "endpoints of the gw Service")
    assert ep["subsets"][0]["ports"][0]["port"] == 40001
    assert env.kubelet.wait_idle()
    assert env.kubelet.processes() == {}
    assert env.store.get(kinds.POD, NS, "gateway-proxy-0")["status"]["phase"] == "Running"


def test_bare_pod_runs_and_deleting_it_stops_the_process(env: Env) -> None:
    env.store.create(kinds.POD, {"metadata": {"name": "solo", "namespace": NS, "labels": {"app": "solo"}},
                                 "spec": {"containers": [{"name": "c", "image": "hashicorp/http-echo",
                                                          "env": [{"name": "ECHO_TEXT", "value": "from-env"}]}]}})
    [pod] = env.ready_pods(1, label="app=solo")
    assert pod["spec"]["nodeName"] == "sandbox"
    assert http_get(ports_of(pod)["5678"]) == b"from-env\n"  # http-echo's default -listen :5678
    [pid] = env.kubelet.processes(NS).values()
    env.store.delete(kinds.POD, NS, "solo")
    wait_until(lambda: not alive(pid), "process stopped")


def test_restarted_kubelet_adopts_pods_from_the_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "state")
    store.create(kinds.NAMESPACE, {"metadata": {"name": NS}})
    kubelet = start_kubelet(store, tmp_path)
    try:
        store.create(kinds.DEPLOYMENT, deployment())
        [pod] = wait_until(lambda: (p := store.list(kinds.POD, NS)[0]) and ready(p[0]) and p,
                           "a Ready pod")
        old_pid = next(iter(kubelet.processes().values()))
        port = ports_of(pod)["8080"]
    finally:
        kubelet.stop()
    assert not alive(old_pid)
    store.close()
    store = Store(tmp_path / "state")  # the sandbox restarts: objects come back from disk
    kubelet = start_kubelet(store, tmp_path)
    try:
        def adopted() -> dict[str, Any] | None:
            p = store.get(kinds.POD, NS, pod["metadata"]["name"])
            cs = p["status"]["containerStatuses"][0]
            return p if cs["restartCount"] == 1 and ready(p) and kubelet.processes() else None
        again = wait_until(adopted, "adopted pod")
        assert [p["metadata"]["name"] for p in store.list(kinds.POD, NS)[0]] == [pod["metadata"]["name"]]
        assert http_get(ports_of(again)["8080"]) == b"version:v1\n"
        assert ports_of(again)["8080"] == port  # the old host port was free, so it is kept
    finally:
        kubelet.stop()
        store.close()


def test_deleted_pod_of_a_deployment_is_replaced(env: Env) -> None:
    env.store.create(kinds.DEPLOYMENT, deployment())
    [pod] = env.ready_pods(1)
    env.store.delete(kinds.POD, NS, pod["metadata"]["name"])
    [again] = env.ready_pods(1)
    assert again["metadata"]["name"] != pod["metadata"]["name"]
    assert again["metadata"]["labels"]["pod-template-hash"] == pod["metadata"]["labels"]["pod-template-hash"]


_ORPHAN_SCRIPT = """
import sys, time
from pathlib import Path
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubelet import Kubelet
from gloo_nb.sandbox.store import Store
store = Store()
store.create(kinds.NAMESPACE, {"metadata": {"name": "ns"}})
kubelet = Kubelet(store, Path(sys.argv[1]))
kubelet.start()
store.create(kinds.DEPLOYMENT, {"metadata": {"name": "d", "namespace": "ns"}, "spec": {
    "replicas": 2, "selector": {"matchLabels": {"app": "d"}}, "template": {"metadata": {"labels": {"app": "d"}},
    "spec": {"containers": [{"name": "c", "image": "hashicorp/http-echo", "args": ["-text=x"]}]}}}})
while len(kubelet.processes()) < 2:
    time.sleep(0.01)
print(" ".join(str(p) for p in kubelet.processes().values()), flush=True)
time.sleep(60)
"""


def test_pods_die_with_a_killed_sandbox(tmp_path: Path) -> None:
    import subprocess
    import sys

    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(tmp_path)], stdout=subprocess.PIPE,
                              text=True)
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        parent.kill()  # no stop(), no finally: only PR_SET_PDEATHSIG can clean up
        parent.wait(timeout=5)
        wait_until(lambda: not any(alive(p) for p in pids), "orphaned pod processes to die")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_pod_cap_stops_a_deployment_like_a_resource_quota(env: Env) -> None:
    env.store.pod_quota = 2
    env.store.create(kinds.DEPLOYMENT, deployment(replicas=4))

    def refused() -> dict[str, Any] | None:
        conds = {c["type"]: c for c in env.store.get(kinds.DEPLOYMENT, NS, "echo")["status"].get("conditions", [])}
        return conds.get("ReplicaFailure")

    cond = wait_until(refused, "a ReplicaFailure condition")
    assert cond["status"] == "True" and cond["reason"] == "FailedCreate"
    assert re.fullmatch(r'pods "echo-[a-z0-9]+-[a-z0-9]{5}" is forbidden: exceeded quota: sandbox-pods, '
                        r"requested: pods=1, used: pods=2, limited: pods=2", cond["message"])
    env.ready_pods(2)
    assert env.kubelet.wait_idle()
    assert len(env.pods()) == 2 and len(env.kubelet.processes(NS)) == 2  # no process beyond the cap
    env.scale("echo", 2)
    wait_until(lambda: refused() is None, "the condition to clear")
