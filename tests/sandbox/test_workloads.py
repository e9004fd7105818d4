"""The pod program: http-echo's emulation and the generic echo, run as real processes on real sockets."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gloo_nb.sandbox import workloads
from gloo_nb.sandbox.workloads import WorkloadExit, http_echo_version, is_http_echo, parse_http_echo_args

pytestmark = pytest.mark.sandbox

WORKLOADS = Path(workloads.__file__)


class Proc:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, ready: bool) -> None:
        self.proc = proc
        self.port = port
        self.ready = ready

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()


@pytest.fixture
def run_pod() -> Iterator:
    started: list[subprocess.Popen[bytes]] = []
    sockets: list[socket.socket] = []

    def run(image: str, args: list[str], *, cport: int = 8080, extra: list[str] | None = None,
            env: dict[str, str] | None = None) -> Proc:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sockets.append(sock)
        r, w = os.pipe()
        cmd = [sys.executable, "-S", str(WORKLOADS), "--image", image, "--pod", "web-1", "--namespace", "team",
               "--container", "main", "--labels", json.dumps({"app": "web"}), "--ports", str(cport),
               "--socket", f"{cport}={sock.fileno()}", "--ready-fd", str(w), "--parent-pid", str(os.getpid()),
               *(extra or []), "--", *args]
        proc = subprocess.Popen(cmd, pass_fds=(sock.fileno(), w), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={"PATH": os.environ.get("PATH", ""), **(env or {})})
        started.append(proc)
        os.close(w)
        ready = os.read(r, 1) == b"1"
        os.close(r)
        return Proc(proc, sock.getsockname()[1], ready)

    try:
        yield run
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=5)
        for s in sockets:
            s.close()


def test_http_echo_answers_text_with_go_headers(run_pod) -> None:
    pod = run_pod("hashicorp/http-echo:0.2.3", ["-text=version:v1", "-listen=:8080"])
    assert pod.ready
    status, headers, body = pod.get("/echo/anything?x=1")
    assert (status, body) == (200, b"version:v1\n")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["X-App-Name"] == "http-echo"
    assert headers["X-App-Version"] == "0.2.3"
    assert headers["Content-Length"] == "11"
    status, headers, body = pod.get("/health")
    assert (status, body) == (200, b'{"status":"ok"}\n')
    assert headers["X-App-Version"] == "0.2.3"
    status, headers, _ = pod.get("//a/./b/../c")
    assert status == 301 and headers["Location"] == "/a/c"


def test_http_echo_keeps_connections_alive(run_pod) -> None:
    pod = run_pod("hashicorp/http-echo", ["-text", "hi", "-listen", ":8080"])
    conn = http.client.HTTPConnection("127.0.0.1", pod.port, timeout=5)
    try:
        conn.connect()
        first = conn.sock
        for i in range(50):
            conn.request("GET", f"/r{i}")
            resp = conn.getresponse()
            assert resp.read() == b"hi\n"
            assert resp.getheader("X-App-Version") == "1.0.0"
        assert conn.sock is first  # the same TCP connection served all 50
        # What a request costs (Nagle plus delayed ACK would make it ~40 ms) is bench/sandbox.py's.
        conn.request("POST", "/with-body", body=b"x" * 10_000, headers={"Content-Type": "text/plain"})
        assert conn.getresponse().read() == b"hi\n"
        conn.request("HEAD", "/")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b""
    finally:
        conn.close()


def test_http_echo_status_code_and_env_text_from_1_0(run_pod) -> None:
    pod = run_pod("hashicorp/http-echo:1.0", ["-status-code=503", "-listen=:8080"], env={"ECHO_TEXT": "from env"})
    status, _, body = pod.get("/")
    assert (status, body) == (503, b"from env\n")
    assert pod.get("/health")[0] == 200


def test_http_echo_exits_on_sigterm(run_pod) -> None:
    pod = run_pod("hashicorp/http-echo:0.2.3", ["-text=x", "-listen=:8080"])
    pod.proc.send_signal(signal.SIGTERM)
    # It exits by itself (no SIGKILL needed) and reports the signal as a normal stop.
    assert pod.proc.wait(timeout=30) is not None


def test_http_echo_without_text_exits_127(run_pod) -> None:
    pod = run_pod("hashicorp/http-echo:0.2.3", ["-listen=:8080"])
    assert not pod.ready
    assert pod.proc.wait(timeout=5) == 127
    assert pod.proc.stderr is not None and pod.proc.stderr.read() == b"Missing -text option!\n"


def test_generic_echo_answers_json_about_pod_and_request(run_pod) -> None:
    pod = run_pod("example/web:1.25", ["--foo"], cport=80)
    status, headers, body = pod.get("/some/path?a=1&a=2&b=", headers={"X-Trace": "t1"})
    assert status == 200 and headers["Content-Type"] == "application/json"
    data = json.loads(body)
    assert data["pod"] == "web-1" and data["namespace"] == "team" and data["labels"] == {"app": "web"}
    assert data["image"] == "example/web:1.25" and data["port"] == 80 and data["container"] == "main"
    req = data["request"]
    assert req["method"] == "GET" and req["path"] == "/some/path"
    assert req["query"] == {"a": ["1", "2"], "b": [""]}
    assert req["headers"]["x-trace"] == "t1"


def test_generic_emulation_overrides_http_echo(run_pod) -> None:
    pod = run_pod("hashicorp/http-echo", [], extra=["--emulate", "generic"])
    assert json.loads(pod.get("/")[2])["image"] == "hashicorp/http-echo"


@pytest.mark.parametrize(("image", "expected"), [
    ("hashicorp/http-echo", "1.0.0"), ("hashicorp/http-echo:latest", "1.0.0"), ("hashicorp/http-echo:0.2.3", "0.2.3"),
    ("docker.io/hashicorp/http-echo:1.0", "1.0.0"), ("hashicorp/http-echo@sha256:abc", "1.0.0"),
])
def test_http_echo_version_from_tag(image: str, expected: str) -> None:
    assert is_http_echo(image)
    assert http_echo_version(image) == expected


def test_not_http_echo() -> None:
    assert not is_http_echo("someone/http-echo-ng:1")
    assert not is_http_echo("nginx")
    assert is_http_echo("http-echo:0.2.3")


def test_http_echo_flag_parsing_like_go() -> None:
    cfg = parse_http_echo_args(["--text", "a b", "-listen=127.0.0.1:9000"], "hashicorp/http-echo:0.2.3", {})
    assert (cfg.text, cfg.port, cfg.status_code) == ("a b", 9000, 200)
    assert parse_http_echo_args(["-text=x"], "hashicorp/http-echo", {}).port == 5678
    with pytest.raises(WorkloadExit) as info:
        parse_http_echo_args(["-text=x", "-status-code=500"], "hashicorp/http-echo:0.2.3", {})
    assert info.value.code == 2 and info.value.stderr.startswith("flag provided but not defined: -status-code")
    with pytest.raises(WorkloadExit) as info:
        parse_http_echo_args(["-listen=:1"], "hashicorp/http-echo:1.0.0", {})
    assert (info.value.code, info.value.stderr) == (127, "Missing -text option or ECHO_TEXT env var!\n")
    with pytest.raises(WorkloadExit) as info:
        parse_http_echo_args(["-text=x", "extra"], "hashicorp/http-echo", {})
    assert (info.value.code, info.value.stderr) == (127, "Too many arguments!\n")
    with pytest.raises(WorkloadExit) as info:
        parse_http_echo_args(["-text"], "hashicorp/http-echo", {})
    assert info.value.code == 2 and "flag needs an argument: -text" in info.value.stderr
    with pytest.raises(WorkloadExit) as info:
        parse_http_echo_args(["-version"], "hashicorp/http-echo:0.2.3", {})
    assert info.value.code == 0 and info.value.stderr.startswith("http-echo v0.2.3")
