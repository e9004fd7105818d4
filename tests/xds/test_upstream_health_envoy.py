"""Upstream health checks and outlier detection that gloo_nb translates, run by real Envoy.

`envoy --mode validate` (tests/translate/test_envoy_accepts.py) proves Envoy accepts the cluster
shapes; here Envoy actually runs the active health check Gloo would configure: a static Upstream with
one live host and one dead port, served over ADS, ends with the live host healthy and the dead one
flagged by the health checker in ``/clusters``.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import wait_until
from test_xds_client import ROLE

from gloo_nb.models.codec import parse_object
from gloo_nb.sandbox.envoy import EnvoyFleet, free_port
from gloo_nb.sandbox.xds_server import AdsServer, XdsSnapshot
from gloo_nb.translate import translate
from gloo_nb.xds import EnvoyAdmin
from gloo_nb.xds.protos import TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        code = 200 if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


@pytest.fixture()
def health_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_envoy_runs_the_translated_health_check(profile: str, health_server: int, tmp_path: Path) -> None:
    dead = free_port()
    doc = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "hc", "namespace": "gloo-system"},
           "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": health_server},
                                         {"addr": "127.0.0.1", "port": dead}]},
                    "healthChecks": [{"timeout": "1s", "interval": "0.2s", "healthyThreshold": 1,
                                      "unhealthyThreshold": 1, "httpHealthCheck": {"path": "/healthz"}}],
                    "outlierDetection": {"interval": "1s", "consecutive5xx": 2}}}
    t = translate([parse_object(doc).resource], profile)
    (cluster,) = [c for c in t.envoy.clusters if c.name == "hc_gloo-system"]
    server = AdsServer(max_workers=4)
    server.start()
    fleet = EnvoyFleet(server.address, tmp_path, replicas=1)
    try:
        server.set_snapshot(ROLE, XdsSnapshot(
            resources={TYPE_LISTENER: [], TYPE_ROUTE: [], TYPE_CLUSTER: [cluster], TYPE_ENDPOINT: []},
            versions={TYPE_LISTENER: "l1", TYPE_ROUTE: "r1", TYPE_CLUSTER: "c1", TYPE_ENDPOINT: "e1"}))
        fleet.start()
        admin = EnvoyAdmin(fleet.replicas[0].admin_url)

        def hosts() -> dict[int, tuple[str, ...]]:
            found = {c.name: c for c in admin.clusters()}.get("hc_gloo-system")
            return {} if found is None else {int(h.address.rsplit(":", 1)[1]): h.failed for h in found.hosts}

        def settled() -> bool:
            seen = hosts()
            return seen.get(health_server) == () and bool(seen.get(dead))

        wait_until(settled, "the live host healthy and the dead port failed by the health checker", timeout=15)
        assert any("health" in flag for flag in hosts()[dead])
    finally:
        fleet.stop()
        server.stop()
