"""UpstreamGroups live on a sandbox: kubectl applies the kind, the control plane reads it, writes Gloo's status
on it (``envoy_translator_syncer.go`` accepts every UpstreamGroup; ``upstream_groups.go`` adds its errors) and
real Envoy routes by the group's weights.
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

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

GS = "gloo-system"


def _server(body: bytes) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture()
def backends() -> Iterator[tuple[int, int]]:
    a, b = _server(b"backend-a\n"), _server(b"backend-b\n")
    try:
        yield a.server_address[1], b.server_address[1]
    finally:
        for s in (a, b):
            s.shutdown()
            s.server_close()


def _upstream(name: str, port: int) -> dict:
    return {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": name, "namespace": GS},
            "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": port}]}}}


def _group(name: str, weights: dict[str, int]) -> dict:
    return {"apiVersion": "gloo.solo.io/v1", "kind": "UpstreamGroup", "metadata": {"name": name, "namespace": GS},
            "spec": {"destinations": [{"destination": {"upstream": {"name": up, "namespace": GS}}, "weight": w}
                                      for up, w in weights.items()]}}


def test_upstream_group_routes_by_weight_and_gets_a_status(tmp_path: Path, backends: tuple[int, int]) -> None:
    port_a, port_b = backends
    docs = [
        _upstream("a", port_a), _upstream("b", port_b),
        _group("ab", {"a": 0, "b": 1}),
        _group("broken", {"a": 1, "ghost": 1}),
        {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "web", "namespace": GS},
         "spec": {"virtualHost": {"domains": ["*"], "routes": [
             {"matchers": [{"prefix": "/"}], "routeAction": {"upstreamGroup": {"name": "ab", "namespace": GS}}}]}}},
    ]
    with sandbox(tmp_path / "sb", "current", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        manifest = tmp_path / "groups.yaml"
        manifest.write_text(yaml.safe_dump_all(docs))
        kube.apply(manifest)
        wait_until(lambda: fetch(info.gateway + "/"), "the group's only weighted upstream serves",
                   until=body_is("backend-b"))

        ok = wait_until(lambda: kube.json("upstreamgroup", "ab", "-n", GS).get("status"), "ab has a status")
        assert ok["statuses"][GS]["state"] == "Accepted", ok
        broken = wait_until(lambda: kube.json("ug", "broken", "-n", GS).get("status"), "broken has a status")
        mine = broken["statuses"][GS]
        assert mine["state"] == "Rejected", broken
        assert "destination # 2: upstream not found: list did not find upstream gloo-system.ghost" in mine["reason"]

        # A weight change in the group alone reaches Envoy.
        manifest.write_text(yaml.safe_dump_all([_group("ab", {"a": 1, "b": 0})]))
        kube.apply(manifest)
        wait_until(lambda: fetch(info.gateway + "/"), "the new weights serve", until=body_is("backend-a"))


def test_dynamic_forward_proxy_route_reaches_the_host_it_names(tmp_path: Path, backends: tuple[int, int]) -> None:
    """plugins/dynamic_forward_proxy: the filter resolves the (rewritten) host, the generated cluster connects."""
    port_a, _ = backends
    docs = [
        {"apiVersion": "gateway.solo.io/v1", "kind": "Gateway", "metadata": {"name": "gateway-proxy", "namespace": GS},
         "spec": {"bindAddress": "::", "bindPort": 8080, "proxyNames": ["gateway-proxy"],
                  "httpGateway": {"options": {"dynamicForwardProxy": {
                      "dnsCacheConfig": {"dnsLookupFamily": "V4_ONLY"}}}}}},
        {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "dfp", "namespace": GS},
         "spec": {"virtualHost": {"domains": ["*"], "routes": [
             {"matchers": [{"prefix": "/"}],
              "routeAction": {"dynamicForwardProxy": {"hostRewrite": f"127.0.0.1:{port_a}"}}}]}}},
    ]
    with sandbox(tmp_path / "sb", "current", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        manifest = tmp_path / "dfp.yaml"
        manifest.write_text(yaml.safe_dump_all(docs))
        kube.apply(manifest)
        wait_until(lambda: fetch(info.gateway + "/"), "the forward proxy reaches backend a",
                   until=body_is("backend-a"))
        status = wait_until(lambda: kube.json("virtualservice", "dfp", "-n", GS).get("status"), "dfp has a status")
        assert status["statuses"][GS]["state"] == "Accepted", status
