"""Upstream options on a whole sandbox (current): kubectl applies them, the control plane writes
Gloo's statuses, real Envoy runs the health check and serves traffic through the health-checked host.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from polling import wait_until
from sandboxkit import body_is, fetch, kubectl_for, sandbox

from gloo_nb.xds.admin import EnvoyAdmin

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]


class _Ok(http.server.BaseHTTPRequestHandler):
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = b"healthy-backend\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


@pytest.fixture()
def backend() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _manifests(port: int) -> str:
    docs = [
        {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "web", "namespace": "gloo-system"},
         "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": port}]},
                  "healthChecks": [{"timeout": "1s", "interval": "0.5s", "healthyThreshold": 1,
                                    "unhealthyThreshold": 1, "httpHealthCheck": {"path": "/healthz"}}],
                  "outlierDetection": {"interval": "5s", "consecutive5xx": 3},
                  "circuitBreakers": {"maxConnections": 64}}},
        # A static host without a port: current Gloo writes Warning (not Rejected) and drops its cluster.
        {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
         "metadata": {"name": "noport", "namespace": "gloo-system"},
         "spec": {"static": {"hosts": [{"addr": "127.0.0.1"}]}}},
        {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
         "metadata": {"name": "web", "namespace": "gloo-system"},
         "spec": {"virtualHost": {"domains": ["*"], "routes": [
             {"matchers": [{"prefix": "/"}],
              "routeAction": {"single": {"upstream": {"name": "web", "namespace": "gloo-system"}}}}]}}},
    ]
    return yaml.safe_dump_all(docs)


def test_health_checked_upstream_and_a_warning_upstream(tmp_path: Path, backend: int) -> None:
    with sandbox(tmp_path / "sb", "current", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        manifest = tmp_path / "upstreams.yaml"
        manifest.write_text(_manifests(backend))
        kube.apply(manifest)
        wait_until(lambda: fetch(info.gateway + "/"), "the gateway serves the health-checked backend",
                   until=body_is("healthy-backend"))

        status = wait_until(lambda: kube.json("upstream", "noport", "-n", "gloo-system").get("status"),
                            "noport has a status")
        mine = status["statuses"]["gloo-system"]
        assert mine["state"] == "Warning", status
        assert "port cannot be empty for host" in mine["reason"], status
        web = kube.json("upstream", "web", "-n", "gloo-system")["status"]["statuses"]["gloo-system"]
        assert web["state"] == "Accepted", web

        admin = EnvoyAdmin(info.envoy_admin[0])
        clusters = {c.name: c for c in admin.clusters()}
        assert "noport_gloo-system" not in clusters  # UpstreamRemovingSanitizer
        (host,) = clusters["web_gloo-system"].hosts
        assert host.failed == ()
