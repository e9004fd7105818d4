"""``kubectl exec`` and ``kubectl logs`` against a real sandbox: real kubectl 1.32 (WebSocket v5 exec) and the official
Python client (``stream(connect_get_namespaced_pod_exec)``, ``read_namespaced_pod_log``), as its e2e suite's
``test_pod_apis`` drives them (kubernetes-client/python kubernetes/e2e_test/test_client.py)."""

from __future__ import annotations

import base64
import gzip
import json
import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import websocket
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL
from polling import wait_until
from sandboxkit import Kube, sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

WORKLOADS = """
apiVersion: v1
kind: Namespace
metadata: {name: tools}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: greeting, namespace: tools}
data: {hello.txt: "hello from a configmap\\n"}
---
apiVersion: v1
kind: Pod
metadata: {name: box, namespace: tools, labels: {app: box}}
spec:
  containers:
  - name: main
    image: example.com/generic-echo
    workingDir: /work
    env:
    - {name: GREETING, value: bonjour}
    - {name: MY_POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    ports: [{containerPort: 9000}]
    volumeMounts: [{name: cfg, mountPath: /etc/greeting}]
  volumes: [{name: cfg, configMap: {name: greeting}}]
---
apiVersion: v1
kind: Pod
metadata: {name: talker, namespace: tools}
spec:
  containers:
  - {name: talker, image: "hashicorp/http-echo:1.0", args: ["-text=hi", "-listen=:5678"],
     ports: [{containerPort: 5678}]}
---
apiVersion: v1
kind: Pod
metadata: {name: crashy, namespace: tools}
spec:
  containers:
  - name: crashy
    image: "hashicorp/http-echo:1.0"
    args: ["-text=crash", "-listen=:5678"]
    ports: [{containerPort: 5678}]
    # nothing listens on 5679: the kubelet kills and restarts the container after each failed probe
    livenessProbe: {tcpSocket: {port: 5679}, initialDelaySeconds: 2, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: nomount, namespace: tools}
spec:
  containers: [{name: c, image: example.com/generic-echo, volumeMounts: [{name: cfg, mountPath: /cfg}]}]
  volumes: [{name: cfg, configMap: {name: missing}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: tools}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: tools}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: reader}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: exec-getter, namespace: tools}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get]}
- {apiGroups: [""], resources: [pods/exec], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: getter, namespace: tools}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: exec-getter}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: getter}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: exec-runner, namespace: tools}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get]}
- {apiGroups: [""], resources: [pods/exec], verbs: [create, get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: runner, namespace: tools}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: exec-runner}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: runner}]
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kube, str]]:
    root = tmp_path_factory.mktemp("exec")
    with sandbox(root / "sb", "1.3") as info:
        home = root / "home"
        home.mkdir()
        kube = Kube(str(info.kubeconfig), home)
        (root / "w.yaml").write_text(WORKLOADS)
        kube.apply(root / "w.yaml")
        wait_until(lambda: len(kube.json("pods", "-n", "tools")["items"]), "the tools pods", until=lambda n: n >= 4)
        kube.run("wait", "--for=condition=Ready", "pod/box", "pod/talker", "-n", "tools", "--timeout=30s")
        yield kube, str(info.kubeconfig)


@pytest.fixture
def core(env) -> Iterator[k8s.CoreV1Api]:
    api_client = k8s_config.new_client_from_config(config_file=env[1])
    try:
        yield k8s.CoreV1Api(api_client)
    finally:
        api_client.close()


def _exec(kube: Kube, *args: str, input: str | None = None, as_user: str | None = None,
          ns: str = "tools") -> subprocess.CompletedProcess[str]:
    who = ["--as", as_user] if as_user else []  # before the pod: what follows `--` is the command
    return kube.run("exec", *who, "-n", ns, *args, check=False, input=input)


# --- kubectl exec --------------------------------------------------------------------------------------


def test_kubectl_exec_prints_the_container_env(env) -> None:
    kube, _ = env
    done = _exec(kube, "box", "--", "env")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "GREETING=bonjour" in lines
    assert "MY_POD=box" in lines
    assert "HOSTNAME=box" in lines
    printed = _exec(kube, "box", "-c", "main", "--", "printenv", "GREETING")
    assert (printed.returncode, printed.stdout) == (0, "bonjour\n")


def test_kubectl_exec_sees_the_working_directory_and_the_mounted_volume(env) -> None:
    kube, _ = env
    assert _exec(kube, "box", "--", "pwd").stdout == "/work\n"
    assert _exec(kube, "box", "--", "cat", "/etc/greeting/hello.txt").stdout == "hello from a configmap\n"
    assert "hello.txt" in _exec(kube, "box", "--", "ls", "/etc/greeting").stdout.split()
    missing = _exec(kube, "box", "--", "cat", "/etc/passwd")
    assert missing.returncode == 1
    assert "cat: can't open '/etc/passwd': No such file or directory" in missing.stderr
    assert "command terminated with exit code 1" in missing.stderr


def test_kubectl_exec_propagates_exit_codes(env) -> None:
    kube, _ = env
    assert _exec(kube, "box", "--", "false").returncode == 1
    three = _exec(kube, "box", "--", "sh", "-c", "exit 3")
    assert three.returncode == 3
    assert "command terminated with exit code 3" in three.stderr
    assert _exec(kube, "box", "--", "true").returncode == 0


def test_kubectl_exec_of_a_command_the_image_lacks(env) -> None:
    kube, _ = env
    done = _exec(kube, "box", "--", "bash")
    assert done.returncode == 126
    assert 'exec: "bash": executable file not found in $PATH' in done.stderr


def test_kubectl_exec_passes_stdin_with_i(env) -> None:
    kube, _ = env
    done = _exec(kube, "-i", "box", "--", "cat", input="line one\nline two\n")
    assert (done.returncode, done.stdout) == (0, "line one\nline two\n"), done.stderr


def test_kubectl_exec_reaches_the_pods_own_port_on_localhost(env) -> None:
    kube, _ = env
    done = _exec(kube, "box", "--", "curl", "-s", "localhost:9000/hi?x=1")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["pod"], answer["namespace"], answer["container"]) == ("box", "tools", "main")
    assert answer["request"]["path"] == "/hi" and answer["request"]["headers"]["host"] == "localhost:9000"
    refused = _exec(kube, "box", "--", "curl", "-sS", "localhost:9999/")
    assert refused.returncode == 7
    assert "Failed to connect to localhost port 9999" in refused.stderr


def test_gloo_config_dump_recipe_works_in_a_gateway_proxy_pod(env) -> None:
    kube, _ = env
    # Gloo's troubleshooting recipe (kubectl exec ... -- wget -O - localhost:19000/config_dump), on a replica's pod.
    done = _exec(kube, "gateway-proxy-0", "--", "wget", "-O", "-", "localhost:19000/config_dump", ns="gloo-system")
    assert done.returncode == 0, done.stderr
    dump = json.loads(done.stdout)
    types = [c["@type"] for c in dump["configs"]]
    assert any(t.endswith("BootstrapConfigDump") for t in types)
    node = dump["configs"][0]["bootstrap"]["node"]["id"]
    assert node.startswith("gateway-proxy-0")  # that replica's own admin port, not another's
    assert "Connecting to localhost:19000" in done.stderr
    curl = _exec(kube, "gateway-proxy-1", "--", "curl", "-s", "localhost:19000/server_info", ns="gloo-system")
    assert json.loads(curl.stdout)["node"]["id"].startswith("gateway-proxy-1")


def test_exec_is_forbidden_without_create_on_pods_exec(env) -> None:
    kube, _ = env
    assert kube.run("get", "pod", "box", "-n", "tools", as_user="reader").returncode == 0
    done = _exec(kube, "box", "--", "env", as_user="reader")
    assert done.returncode == 1
    # The WebSocket GET is refused (`get pods/exec`); kubectl falls back to the SPDY POST (`create pods/exec`),
    # refused too, and prints that last answer.
    assert done.stderr.strip() == (
        'Error from server (Forbidden): pods "box" is forbidden: User "reader" cannot create resource "pods/exec" '
        'in API group "" in the namespace "tools"'), done.stderr
    assert "GREETING" not in done.stdout
    # `get` on pods/exec alone is not enough (the synthetic create check of KEP-4006)...
    getter = _exec(kube, "box", "--", "env", as_user="getter")
    assert getter.returncode == 1
    assert 'User "getter" cannot create resource "pods/exec"' in getter.stderr
    # ...`get` and `create` are.
    runner = _exec(kube, "box", "--", "printenv", "GREETING", as_user="runner")
    assert (runner.returncode, runner.stdout) == (0, "bonjour\n"), runner.stderr


def test_exec_refuses_a_bad_container(env) -> None:
    kube, _ = env
    bad = _exec(kube, "box", "-c", "nope", "--", "env")
    assert bad.returncode == 1
    assert "container nope is not valid for pod box" in bad.stderr


# --- the official Python client ------------------------------------------------------------------------


def test_python_client_exec_with_stdout_and_stderr(core) -> None:
    out = stream(core.connect_get_namespaced_pod_exec, "box", "tools", command=["printenv", "GREETING"],
                 stderr=True, stdin=False, stdout=True, tty=False)
    assert out == "bonjour\n"
    resp = stream(core.connect_get_namespaced_pod_exec, "box", "tools", command=["cat", "/nope"],
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.read_stdout() == ""
    assert "cat: can't open '/nope'" in resp.read_stderr()
    assert resp.returncode == 1
    status = json.loads(resp.read_channel(ERROR_CHANNEL) or "{}") or None
    resp.close()
    assert status is None or status["reason"] == "NonZeroExitCode"


def test_python_client_exec_status_channel_and_stdin(core) -> None:
    resp = stream(core.connect_post_namespaced_pod_exec, "box", "tools", command=["sh", "-c", "cat"],
                  stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    try:
        resp.write_stdin("test string 1\n")
        assert resp.readline_stdout(timeout=10) == "test string 1"
        assert resp.subprotocol == "v5.channel.k8s.io"
        resp.close_channel(0)
        deadline = time.monotonic() + 10
        line = ""
        while not line and time.monotonic() < deadline:
            resp.update(timeout=1)
            line = resp.read_channel(ERROR_CHANNEL)
        assert json.loads(line) == {"metadata": {}, "status": "Success"}
    finally:
        resp.close()


def test_python_client_interactive_sh_as_in_its_e2e_suite(core) -> None:
    # test_client.py test_pod_apis: commands on stdin, stdout and stderr apart, `exit` ends with Success.
    resp = stream(core.connect_post_namespaced_pod_exec, "box", "tools", command=["/bin/sh"],
                  stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
    try:
        resp.write_stdin("echo test string 1\n")
        assert resp.readline_stdout(timeout=10) == "test string 1"
        assert not resp.peek_stderr()
        resp.write_stdin("echo test string 2 >&2\n")
        assert resp.readline_stderr(timeout=10) == "test string 2"
        assert not resp.peek_stdout()
        resp.write_stdin("exit\n")
        deadline = time.monotonic() + 10
        line = ""
        while not line and time.monotonic() < deadline:
            resp.update(timeout=1)
            line = resp.read_channel(ERROR_CHANNEL)
        assert json.loads(line)["status"] == "Success"
        resp.update(timeout=5)
        assert not resp.is_open()
    finally:
        resp.close()


def test_python_client_exec_exit_code_status(core) -> None:
    resp = stream(core.connect_get_namespaced_pod_exec, "box", "tools", command=["sh", "-c", "exit 3"],
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.returncode == 3
    resp.close()


def _ws_refusal(kubeconfig_path: str, query: str, *headers: str) -> tuple[int, dict]:
    """Open an exec WebSocket as websocket-client (the Python client's library) does; return the refusal."""
    kubeconfig = yaml.safe_load(Path(kubeconfig_path).read_text())
    server = kubeconfig["clusters"][0]["cluster"]["server"]
    token = kubeconfig["users"][0]["user"]["token"]
    ca = Path(kubeconfig_path).parent / "ca.pem"
    ca.write_bytes(base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]))
    url = server.replace("https://", "wss://") + "/api/v1/namespaces/tools/pods/box/exec?" + query
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(url, header=[f"Authorization: Bearer {token}", *headers,
                                                 "Sec-WebSocket-Protocol: v5.channel.k8s.io"],
                                    sslopt={"ca_certs": str(ca)}, timeout=10)
    return caught.value.status_code, json.loads(caught.value.resp_body)


def test_exec_websocket_forbidden_body(env) -> None:
    # The Python client's stream() forwards only the Authorization header (no impersonation), so the refusal is
    # shown on the same WebSocket upgrade with websocket-client, the library it uses.
    code, body = _ws_refusal(env[1], "command=env&stdout=true", "Impersonate-User: reader")
    assert code == 403
    assert (body["reason"], body["code"]) == ("Forbidden", 403)
    assert body["message"] == ('pods "box" is forbidden: User "reader" cannot get resource "pods/exec" in API group '
                               '"" in the namespace "tools"')


def test_exec_refuses_a_tty_and_no_command(env) -> None:
    # kubectl itself drops -t when its stdin is no terminal, so the refusal is shown on the wire.
    code, body = _ws_refusal(env[1], "command=env&stdout=true&tty=true")
    assert (code, body["reason"]) == (400, "BadRequest")
    assert "no terminal" in body["message"] and "without -t" in body["message"]
    code, body = _ws_refusal(env[1], "stdout=true")
    assert (code, body["message"]) == (400, "you must specify at least one command for the container")


# --- kubectl logs --------------------------------------------------------------------------------------

BANNER = "[INFO] server is listening on :5678"


def _restarted(kube: Kube, pod: str) -> int:
    return int(kube.json("pod", pod, "-n", "tools")["status"]["containerStatuses"][0].get("restartCount", 0))


def test_kubectl_logs_tail_and_timestamps(env) -> None:
    kube, _ = env
    assert _exec(kube, "box", "--", "true").returncode == 0
    _exec(kube, "talker", "--", "wget", "-qO-", "localhost:5678/one")
    _exec(kube, "talker", "--", "wget", "-qO-", "localhost:5678/two")
    wait_until(lambda: kube.run("logs", "talker", "-n", "tools").stdout, "two access-log lines",
               until=lambda text: "/two" in text)
    text = kube.run("logs", "talker", "-n", "tools").stdout
    lines = text.splitlines()
    assert BANNER in lines[0] and "/one" in lines[1] and "/two" in lines[2]
    assert kube.run("logs", "talker", "-n", "tools", "--tail=1").stdout.splitlines() == [lines[-1]]
    assert kube.run("logs", "talker", "-n", "tools", "--tail=0").stdout == ""
    stamped = kube.run("logs", "talker", "-n", "tools", "--timestamps").stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == lines
    # Go's RFC3339Nano in UTC: 2026-12-07T13:31:44.123456789Z (trailing zeros trimmed)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", line.split(" ", 1)[0])
               for line in stamped)
    assert kube.run("logs", "talker", "-n", "tools", "--since=1h").stdout == text
    assert kube.run("logs", "talker", "-n", "tools", "--since-time=2099-01-01T00:00:00Z").stdout == ""
    first_request = stamped[1].split(" ", 1)[0]
    since = kube.run("logs", "talker", "-n", "tools", f"--since-time={first_request}").stdout.splitlines()
    assert since == lines[1:]
    assert kube.run("logs", "talker", "-n", "tools", "--limit-bytes=5").stdout == text[:5]


@contextmanager
def _follow(kube: Kube, *args: str) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    """Run ``kubectl logs -f ARGS``; its lines arrive on a queue (a reader thread: a test never blocks on it)."""
    follower = subprocess.Popen(["kubectl", "logs", "-f", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "KUBECONFIG": kube.kubeconfig, "HOME": str(kube.home)})
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        yield follower, lines
    finally:
        follower.kill()
        follower.wait(10)


def _line_with(lines: queue.Queue[str], text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if text in line:
            return line
    raise AssertionError(f"no followed line with {text!r} within {timeout} s")


def test_kubectl_logs_follow_sees_a_new_line(env) -> None:
    kube, _ = env
    with _follow(kube, "talker", "-n", "tools") as (follower, lines):
        _line_with(lines, BANNER)
        marker = f"/followed-{time.time_ns()}"
        _exec(kube, "talker", "--", "wget", "-qO-", f"localhost:5678{marker}")
        _line_with(lines, marker)
        assert follower.poll() is None  # still following: the container runs


def test_kubectl_logs_of_an_envoy_replica_pod(env) -> None:
    kube, _ = env
    whole = kube.run("logs", "-n", "gloo-system", "gateway-proxy-0").stdout
    assert "initializing epoch 0" in whole
    assert kube.run("logs", "-n", "gloo-system", "gateway-proxy-0", "--tail=1").stdout == whole.splitlines(True)[-1]
    with _follow(kube, "-n", "gloo-system", "gateway-proxy-1") as (follower, lines):
        _line_with(lines, "initializing epoch 0")  # the replica's log, followed while its pod exists
        time.sleep(1)
        assert follower.poll() is None


def test_kubectl_logs_previous_after_a_restart_and_follow_ends_with_the_instance(env) -> None:
    kube, _ = env
    wait_until(lambda: _restarted(kube, "crashy"), "crashy restarted", until=lambda n: n >= 1, timeout=60)
    previous = kube.run("logs", "crashy", "-n", "tools", "--previous")
    assert BANNER in previous.stdout.splitlines()[0]
    never = kube.run("logs", "talker", "-n", "tools", "--previous", check=False)
    assert never.returncode == 1
    assert never.stderr.strip() == ('Error from server (BadRequest): previous terminated container "talker" in pod '
                                    '"talker" not found')
    # -f stops when the followed container instance ends (the liveness probe kills it within seconds)
    wait_until(lambda: _running(kube, "crashy"), "a running crashy", timeout=60)
    done = kube.run("logs", "-f", "crashy", "-n", "tools", check=False)
    assert done.returncode == 0, done.stderr
    assert BANNER in done.stdout
    # while it waits to restart, `kubectl logs` shows the last terminated instance's log, as the kubelet does
    wait_until(lambda: not _running(kube, "crashy"), "crashy between two runs", timeout=60)
    assert BANNER in kube.run("logs", "crashy", "-n", "tools").stdout


def _running(kube: Kube, pod: str) -> bool:
    return "running" in kube.json("pod", pod, "-n", "tools")["status"]["containerStatuses"][0]["state"]


def test_kubectl_logs_of_a_container_waiting_to_start(env) -> None:
    kube, _ = env
    done = kube.run("logs", "nomount", "-n", "tools", check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == ('Error from server (BadRequest): container "c" in pod "nomount" is waiting to '
                                   "start: ContainerCreating")


def test_python_client_reads_the_previous_log_and_options(env, core) -> None:
    kube, _ = env
    wait_until(lambda: _restarted(kube, "crashy"), "crashy restarted", until=lambda n: n >= 1, timeout=60)
    text = core.read_namespaced_pod_log("crashy", "tools", follow=False, previous=True)
    assert BANNER in text
    last = core.read_namespaced_pod_log("talker", "tools", tail_lines=1, timestamps=True)
    assert len(last.splitlines()) == 1 and re.match(r"\d{4}-\d\d-\d\dT", last)
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("talker", "tools", tail_lines=-1)
    assert caught.value.status == 422
    assert json.loads(caught.value.body)["message"] == (
        'PodLogOptions "talker" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0')
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("box", "tools", container="nope")
    assert json.loads(caught.value.body)["message"] == "container nope is not valid for pod box"


# --- a busybox pod as the Python client's e2e suite makes it: shell scripts, pipes, the image's files ---


def test_a_busybox_pod_runs_its_while_loop_and_exec_pipes_into_gzip(env, core) -> None:
    kube, _ = env
    # e2e test_client.py manifest_with_command: restartPolicy Always (the default), the loop as its args
    core.create_namespaced_pod("tools", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "loop"},
        "spec": {"containers": [{"image": "busybox", "name": "sleep",
                                 "args": ["/bin/sh", "-c", "while true;do date;sleep 1; done"]}]}})
    try:
        wait_until(lambda: core.read_namespaced_pod("loop", "tools").status.phase, "the pod running",
                   until=lambda phase: phase == "Running", timeout=30)
        # the script's output is the container's log, a date a second, and it keeps running
        logs = wait_until(lambda: core.read_namespaced_pod_log("loop", "tools"), "two dates in the log",
                          until=lambda text: len(text.splitlines()) >= 2, timeout=20)
        assert all(re.fullmatch(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}", ln) for ln in logs.splitlines())
        assert core.read_namespaced_pod("loop", "tools").status.container_statuses[0].restart_count == 0

        out = stream(core.connect_get_namespaced_pod_exec, "loop", "tools",
                     command=["/bin/sh", "-c", 'echo -n "This is a test string" | gzip'],
                     stderr=False, stdin=False, stdout=True, tty=False, binary=True)
        assert isinstance(out, bytes) and gzip.decompress(out) == b"This is a test string"
        out = stream(core.connect_post_namespaced_pod_exec, "loop", "tools", command=["uptime"],
                     stderr=False, stdin=False, stdout=True, tty=False)
        assert re.fullmatch(r" \d\d:\d\d:\d\d up \d+ min,  0 users,  load average: .*\n", out), out
        out = stream(core.connect_get_namespaced_pod_exec, "loop", "tools", command=["/bin/sh", "-c", "ls /"],
                     stderr=True, stdin=False, stdout=True, tty=False)
        assert out.split() == ["bin", "dev", "etc", "home", "lib", "lib64", "proc", "root", "sys", "tmp", "usr",
                               "var"]
        # real kubectl: a troubleshooting one-liner over the kubelet's files
        got = _exec(kube, "loop", "--", "sh", "-c", "grep -c -w loop /etc/hosts; cut -d' ' -f2 /etc/resolv.conf "
                                                    "| head -n 1; for f in a b; do echo $f; done | tr a-z A-Z")
        assert (got.returncode, got.stdout) == (0, "1\ntools.svc.cluster.local\nA\nB\n"), got.stderr
        got = _exec(kube, "loop", "--", "gzip", "-z")
        assert got.returncode == 1 and got.stderr.startswith("gzip: invalid option -- 'z'\nBusyBox v1.36.1")
    finally:
        core.delete_namespaced_pod("loop", "tools", grace_period_seconds=0)
