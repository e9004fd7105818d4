"""HTTPS through a whole sandbox: kubectl applies a TLS Secret, Helm's ssl Gateway and a VirtualService with
sslConfig; a real Envoy replica then serves the certificate for the SNI name, and the VS's response."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
from pathlib import Path

import pytest
import yaml
from polling import wait_until
from sandboxkit import kubectl_for, sandbox, wait_ready_pods
from tlskit import ca_pem, kube_tls_secret, server

from gloo_nb.sandbox.pod_objects import PORTS_ANNOTATION

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

GS = "gloo-system"
API = server("api.example.com", "api.example.com")

SSL_GATEWAY = {  # install/helm/gloo/templates/_8-default-gateways.tpl, defaultGateway.sslGateway
    "apiVersion": "gateway.solo.io/v1", "kind": "Gateway",
    "metadata": {"name": "gateway-proxy-ssl", "namespace": GS, "labels": {"app": "gloo"}},
    "spec": {"bindAddress": "::", "bindPort": 8443, "httpGateway": {}, "useProxyProto": False, "ssl": True,
             "proxyNames": ["gateway-proxy"]}}
VS = {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "api", "namespace": GS},
      "spec": {"sslConfig": {"secretRef": {"name": "api-tls", "namespace": GS}, "sniDomains": ["api.example.com"]},
               "virtualHost": {"domains": ["api.example.com"], "routes": [
                   {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": "secure hello"}}]}}}


def _https(port: int) -> tuple[int, str, str] | None:
    ctx = ssl.create_default_context(cadata=ca_pem())
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=3)
        tls = ctx.wrap_socket(sock, server_hostname="api.example.com")
    except OSError:
        return None
    der = tls.getpeercert(binary_form=True) or b""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=3)
    conn.sock = tls
    conn.request("GET", "/", headers={"Host": "api.example.com"})
    resp = conn.getresponse()
    out = (resp.status, resp.read().decode(), hashlib.sha256(der).hexdigest())
    conn.close()
    return out


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_https_with_sni_through_a_sandbox_replica(profile: str, tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", profile, replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        wait_ready_pods(kube, GS)
        manifest = tmp_path / "tls.yaml"
        manifest.write_text(yaml.safe_dump_all([kube_tls_secret("api-tls", GS, API), SSL_GATEWAY, VS]))
        kube.apply(manifest)
        pod = kube.json("pod", "-n", GS, "gateway-proxy-0")
        port = json.loads(pod["metadata"]["annotations"][PORTS_ANNOTATION])["8443"]
        result = wait_until(lambda: _https(port), "the replica serves HTTPS on its 8443 listener",
                            until=lambda r: r is not None and r[0] == 200, timeout=60)
        assert result == (200, "secure hello", API.fingerprint)
        # the Secret's data never reaches the status Gloo writes, nor the Gateway's
        statuses = json.dumps([kube.json("-n", GS, f"{kind}/{name}").get("status", {})
                               for kind, name in (("virtualservices.gateway.solo.io", "api"),
                                                ("gateways.gateway.solo.io", "gateway-proxy-ssl"))])
        assert "PRIVATE KEY" not in statuses and "Rejected" not in statuses
