"""Faults on a whole sandbox: a dying Envoy, a restarted sandbox, garbage input; and the CLI contract."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from polling import wait_until
from sandboxkit import PART2, REPO, Kube, alive, audit_writes, body_is, fetch, kubectl_for, sandbox, wait_ready_pods

from gloo_nb.sandbox import runner

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

CANARY = {"stage": "canary"}


def _step1(kube: Kube) -> None:
    kube.apply(PART2 / "echo.yaml", PART2 / "foxtrot.yaml")
    wait_ready_pods(kube, "echo")
    wait_ready_pods(kube, "foxtrot")
    kube.apply(PART2 / "upstream-echo.yaml", PART2 / "upstream-foxtrot.yaml", PART2 / "rt-echo-1.yaml",
               PART2 / "rt-foxtrot-1.yaml", PART2 / "vs.yaml")


def _session(pid: int) -> set[int]:
    """Processes in the session of ``pid`` (the daemon runs in its own session, with Envoys and pods)."""
    out = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == pid and fields[0] != "Z":
            out.add(int(proc.name))
    return out


def _gone(pids: set[int], timeout: float = 15.0) -> bool:
    wait_until(lambda: {p for p in pids if alive(p)}, f"processes {sorted(pids)} to exit",
               until=lambda left: not left, timeout=timeout)
    return True


def _envoy_pid(daemon: int, index: int) -> int:
    for pid in _session(daemon):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(c.endswith(b"/envoy") for c in cmd) and any(f"envoy-{index}.yaml".encode() in c for c in cmd):
            return pid
    raise AssertionError(f"no envoy process for replica {index}")


def test_killed_replica_comes_back_and_converges(tmp_path: Path) -> None:
    state = tmp_path / "sb"
    with sandbox(state, "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        _step1(kube)
        replica0 = info.data["gateways"][0]
        wait_until(lambda: fetch(replica0 + "/echo"), "replica 0 serves", until=body_is("version:echo-v1"))
        os.kill(_envoy_pid(info.pid, 0), signal.SIGKILL)
        # A change while the replica is down reaches it once it is back.
        kube.apply(PART2 / "foxtrot-v2.yaml")
        wait_ready_pods(kube, "foxtrot")
        kube.apply(PART2 / "rt-foxtrot-2.yaml")
        for url in info.data["gateways"]:
            wait_until(lambda url=url: fetch(url + "/foxtrot", CANARY),
                       f"{url} should serve foxtrot's canary route after the restart",
                       until=body_is("version:foxtrot-v2"), timeout=30)
        # The front door keeps serving while a replica restarts.
        assert fetch(info.gateway + "/echo").body.strip() == "version:echo-v1"
        # kubectl logs: http-echo's access log, and the Envoy replica's own log.
        assert '"GET /echo HTTP/1.1" 200' in kube.run("logs", "-n", "echo", "deploy/echo-v1").stdout
        assert "initializing epoch 0" in kube.run("logs", "-n", "gloo-system", "gateway-proxy-0").stdout
        missing = kube.run("logs", "-n", "echo", "nope", check=False)
        assert missing.returncode == 1 and 'pods "nope" not found' in missing.stderr


def test_restart_keeps_objects_and_rebuilds_statuses(tmp_path: Path) -> None:
    state = tmp_path / "sb"
    with sandbox(state, "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        _step1(kube)
        wait_until(lambda: fetch(info.gateway + "/echo"), "echo serves", until=body_is("version:echo-v1"))
        rv_before = kube.json("rt", "echo-routes", "-n", "echo")["metadata"]["resourceVersion"]
        # Wipe the VirtualService's status: a status-only change does not wake the control plane, so
        # only a restarted one writes it again.
        kube.run("patch", "vs", "app", "-n", "gloo-system", "--subresource=status", "--type", "merge",
                 "-p", '{"status": null}')
        assert "status" not in kube.json("vs", "app", "-n", "gloo-system")
        started = _session(info.pid)
        assert len(started) >= 5, "the daemon, 2 Envoys and 2 pods run in the sandbox's session"
    assert runner.running(state) is None
    assert _gone(started), "stop must leave no process behind"
    # Restart without --gloo-version: the directory's profile is kept.
    with sandbox(state, None) as info:
        assert info.data["glooVersion"] == "1.3"
        kube = kubectl_for(info, tmp_path)
        rt = kube.json("rt", "echo-routes", "-n", "echo")
        assert int(rt["metadata"]["resourceVersion"]) >= int(rv_before)
        wait_until(lambda: kube.json("vs", "app", "-n", "gloo-system").get("status", {}).get("state") == 1,
                   "the VirtualService status is rebuilt (Accepted)")
        wait_until(lambda: fetch(info.gateway + "/echo"), "echo serves again", until=body_is("version:echo-v1"))
        wait_until(lambda: fetch(info.gateway + "/foxtrot"), "foxtrot serves again",
                   until=body_is("version:foxtrot-v1"))
        # A killed sandbox takes its Envoys and pods with it and leaves a stale state dir...
        kubeconfig_before = (state / "kubeconfig").read_text()
        started = _session(info.pid)
        os.kill(info.pid, signal.SIGKILL)
        assert _gone(started), "Envoys and pods must die with the sandbox"
        assert runner.running(state) is None
    # ...from which the next start carries on, objects included, with the same CA and token: a kubeconfig
    # copied before the restart still works.
    with sandbox(state, None) as info:
        earlier = tmp_path / "kubeconfig-before-restart"
        earlier.write_text(kubeconfig_before)
        kube = Kube(str(earlier), tmp_path / "home")
        assert kube.json("rt", "foxtrot-routes", "-n", "foxtrot")["metadata"]["name"] == "foxtrot-routes"
        wait_until(lambda: fetch(info.gateway + "/foxtrot"), "foxtrot serves again",
                   until=body_is("version:foxtrot-v1"))


def test_last_known_good_does_not_survive_a_restart(tmp_path: Path) -> None:
    # Gloo keeps its last good snapshot in memory only (kgateway-dev/kgateway#8412): after a restart
    # with the typo still in place, 1.3 has nothing good to serve.
    state = tmp_path / "sb"
    with sandbox(state, "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        _step1(kube)
        wait_until(lambda: fetch(info.gateway + "/foxtrot"), "foxtrot serves", until=body_is("version:foxtrot-v1"))
        kube.apply(PART2 / "echo-v2.yaml")
        wait_ready_pods(kube, "echo")
        kube.apply(PART2 / "rt-echo-3.yaml")
        wait_until(lambda: "echo-typo" in json.dumps(kube.json("vs", "app", "-n", "gloo-system").get("status")),
                   "the typo is reported")
        for _ in range(10):
            assert fetch(info.gateway + "/foxtrot").body.strip() == "version:foxtrot-v1", "last good is served"
    with sandbox(state, None) as info:
        kube = kubectl_for(info, tmp_path)
        wait_until(lambda: "echo-typo" in json.dumps(kube.json("vs", "app", "-n", "gloo-system").get("status")),
                   "the typo is reported again")
        time.sleep(0.5)
        assert fetch(info.gateway + "/foxtrot").status == 0, "no listener: nothing good was ever pushed"
        kube.apply(PART2 / "rt-echo-2.yaml")
        wait_until(lambda: fetch(info.gateway + "/foxtrot"), "fixed: serving again",
                   until=body_is("version:foxtrot-v1"))


def test_garbage_is_refused_with_kubernetes_errors(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        _step1(kube)
        wait_until(lambda: fetch(info.gateway + "/echo"), "echo serves", until=body_is("version:echo-v1"))
        bad_deploy = tmp_path / "bad-deploy.yaml"
        bad_deploy.write_text("""apiVersion: apps/v1
kind: Deployment
metadata: {name: broken, namespace: echo}
spec:
  template:
    metadata: {labels: {app: broken}}
    spec: {containers: [{name: c, image: hashicorp/http-echo, args: ["-text=x"]}]}
""")
        proc = kube.run("apply", "-f", str(bad_deploy), check=False)
        assert proc.returncode == 1
        assert 'The Deployment "broken" is invalid: spec.selector: Required value' in proc.stderr, proc.stderr
        bad_rt = tmp_path / "bad-rt.yaml"
        bad_rt.write_text("""apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata: {name: broken, namespace: echo}
spec:
  routes: oops
""")
        proc = kube.run("apply", "-f", str(bad_rt), check=False)
        assert proc.returncode == 1
        assert "spec.routes" in proc.stderr, proc.stderr
        # Nothing else disturbed: no such objects, traffic unchanged.
        assert kube.run("get", "deploy", "broken", "-n", "echo", check=False).returncode == 1
        assert kube.run("get", "rt", "broken", "-n", "echo", check=False).returncode == 1
        for _ in range(10):
            assert fetch(info.gateway + "/echo").body.strip() == "version:echo-v1"


EVENT_READER = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: event-reader, namespace: echo}
rules: [{apiGroups: [""], resources: [events], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: event-reader, namespace: echo}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: event-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: team-echo}]
"""


def test_rbac_with_impersonation(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        _step1(kube)
        kube.apply(REPO / "data" / "scenarios" / "two-phase-canary" / "rbac.yaml")
        patch = '{"metadata":{"labels":{"touched":"yes"}}}'
        ok = kube.run("patch", "rt", "echo-routes", "-n", "echo", "--type", "merge", "-p", patch,
                      as_user="echo-dev", as_group="team-echo")
        assert "patched" in ok.stdout
        denied = kube.run("patch", "rt", "foxtrot-routes", "-n", "foxtrot", "--type", "merge", "-p", patch,
                          as_user="echo-dev", as_group="team-echo", check=False)
        assert denied.returncode == 1
        assert ('routetables.gateway.solo.io "foxtrot-routes" is forbidden: User "echo-dev" cannot patch '
                'resource "routetables" in API group "gateway.solo.io" in the namespace "foxtrot"') in denied.stderr
        settings = kube.run("patch", "settings", "default", "-n", "gloo-system", "--type", "merge", "-p", patch,
                            as_user="echo-dev", as_group="team-echo", check=False)
        assert settings.returncode == 1 and "Forbidden" in settings.stderr
        assert "patched" in kube.run("patch", "settings", "default", "-n", "gloo-system", "--type", "merge",
                                     "-p", patch, as_user="ops", as_group="platform-ops").stdout
        audit = audit_writes(Path(info.state_dir) / "audit.jsonl")
        assert any(a.actor == "echo-dev" and a.name == "echo-routes" and a.verb == "patch" for a in audit)
        # A team helps itself: what it may do, and what happened to its workloads.
        assert kube.run("auth", "can-i", "impersonate", "users", as_user="echo-dev", as_group="team-echo",
                        check=False).stdout.strip() == "no"
        # The seed's RBAC (as published) does not grant Events; a platform team would, as here.
        kube.run("apply", "-f", "-", input=EVENT_READER)
        events = kube.run("get", "events", "-n", "echo", "-o", "json", as_user="echo-dev", as_group="team-echo")
        seen = json.loads(events.stdout)["items"]
        reasons = {(e["involvedObject"]["kind"], e["reason"]) for e in seen}
        assert {("Deployment", "ScalingReplicaSet"), ("Pod", "Scheduled"), ("Pod", "Pulled"), ("Pod", "Created"),
                ("Pod", "Started")} <= reasons


def test_cli_contract(tmp_path: Path) -> None:
    state = tmp_path / "sb"
    cli = [sys.executable, "-m", "gloo_nb"]
    started = time.monotonic()
    proc = subprocess.run([*cli, "sandbox", "start", "--state-dir", str(state), "--replicas", "1"],
                          capture_output=True, text=True, timeout=60)
    procs: set[int] = set()
    try:
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr
        info = json.loads(proc.stdout)
        procs = _session(info["pid"])
        assert info["pid"] in procs and len(procs) >= 2, "the daemon and its Envoy run in one session"
        assert info == json.loads((state / "endpoints.json").read_text())
        assert info["glooVersion"] == "current"
        assert set(info) >= {"glooVersion", "kubeconfig", "kubeApi", "xds", "gateway", "gateways", "envoyAdmin", "pid"}
        # The API is HTTPS with the CA made at first start; the data plane ports stay plain, on loopback.
        assert info["kubeApi"].startswith("https://127.0.0.1:")
        for url in [info["gateway"], *info["gateways"], *info["envoyAdmin"]]:
            assert url.startswith("http://127.0.0.1:")
        assert fetch(info["kubeApi"].replace("https://", "http://") + "/version").status == 0, "no plain HTTP"
        for secret in ("pki/ca.key", "pki/apiserver.key", "pki/admin.token", "kubeconfig"):
            assert (state / secret).stat().st_mode & 0o777 == 0o600, secret
        assert info["xds"].startswith("127.0.0.1:")
        print(f"sandbox start took {elapsed:.2f} s")
        again = subprocess.run([*cli, "sandbox", "start", "--state-dir", str(state)], capture_output=True,
                               text=True, timeout=60)
        assert again.returncode == 1 and "already runs" in again.stderr
        st = subprocess.run([*cli, "sandbox", "status", "--state-dir", str(state)], capture_output=True, text=True)
        assert st.returncode == 0 and json.loads(st.stdout)["health"]["healthy"] is True
        # A fresh install: the namespaces, Settings, Gateway, Services, the gloo and proxy pods, nothing else.
        home = tmp_path / "home"
        home.mkdir()
        kube = Kube(info["kubeconfig"], home)
        assert {n["metadata"]["name"] for n in kube.json("ns")["items"]} == {"default", "gloo-system", "kube-system",
                                                                        "kube-public", "kube-node-lease"}
        assert [s["metadata"]["name"] for s in kube.json("settings", "-A")["items"]] == ["default"]
        assert [g["metadata"]["name"] for g in kube.json("gateways.gateway.solo.io", "-A")["items"]] == \
            ["gateway-proxy", "gateway-proxy-ssl"]
        assert {s["metadata"]["name"] for s in kube.json("svc", "-A")["items"]} == {"gloo", "gateway-proxy"}
        pods = kube.json("pods", "-A")["items"]
        # Issue 20: and the gloo Deployment's pod, standing for the control plane.
        assert sorted(p["metadata"]["name"] for p in pods)[0] == "gateway-proxy-0" and len(pods) == 2
        assert [p["metadata"]["name"] for p in pods if p["metadata"]["labels"].get("gloo") == "gloo"][0] \
            .startswith("gloo-")
        pods = [p for p in pods if p["metadata"]["name"] == "gateway-proxy-0"]
        assert pods[0]["status"]["phase"] == "Running"
        ports = json.loads(pods[0]["metadata"]["annotations"]["sandbox.gloo-nb.io/ports"])
        assert f"http://127.0.0.1:{ports['19000']}" == info["envoyAdmin"][0]
        assert f"http://127.0.0.1:{ports['8080']}" == info["gateways"][0]
        assert kube.json("vs", "-A")["items"] == [] and kube.json("upstreams", "-A")["items"] == []
        # No VirtualService yet: no listener, as with Gloo.
        assert fetch(info["gateway"] + "/").status == 0
    finally:
        stop = subprocess.run([*cli, "sandbox", "stop", "--state-dir", str(state)], capture_output=True, text=True)
    assert stop.returncode == 0
    assert _gone(procs)
    st = subprocess.run([*cli, "sandbox", "status", "--state-dir", str(state)], capture_output=True, text=True)
    assert st.returncode == 1


def test_a_sandbox_tied_to_a_process_stops_when_it_dies(tmp_path: Path) -> None:
    state = tmp_path / "sb"
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        done = subprocess.run([sys.executable, "-m", "gloo_nb", "sandbox", "start", "--state-dir", str(state),
                               "--replicas", "1", "--exit-with", str(owner.pid)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        info = json.loads(done.stdout)
        procs = _session(info["pid"])
        assert len(procs) >= 2
        owner.kill()  # the notebook kernel (or test run) dies without stopping anything
        owner.wait()
        assert _gone(procs, timeout=10), "the sandbox and its Envoy must follow their owner"
        assert runner.running(state) is None
    finally:
        owner.kill()
        runner.stop(state)
