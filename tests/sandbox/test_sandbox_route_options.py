"""Route and virtual-host options on a whole sandbox, checked with real HTTP through real Envoy: a rewritten
path and added headers visible in an echo's request dump, a 503 retried to success, a CORS preflight answered
by Envoy's CORS filter (and not where a route disables it), an injected fault (gloo_nb.translate.route_options).
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from polling import wait_until
from sandboxkit import fetch, kubectl_for, sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

GS = "gloo-system"


class _Echo(http.server.BaseHTTPRequestHandler):
    """Dumps the request it got; a path ending in ``/flaky`` answers 503 to every other request (the first of
    each pair)."""

    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def _answer(self) -> None:
        with self.lock:
            n = self.counts[self.path] = self.counts.get(self.path, 0) + 1
        status = 503 if self.path.endswith("/flaky") and n % 2 == 1 else 200
        body = json.dumps({"path": self.path, "method": self.command, "attempt": n,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer  # noqa: N815 - the stdlib's name
    do_OPTIONS = _answer  # noqa: N815 - the stdlib's name

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass


@pytest.fixture()
def echo() -> Iterator[int]:
    _Echo.counts = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _manifests(port: int) -> str:
    up = {"single": {"upstream": {"name": "echo", "namespace": GS}}}
    docs: list[dict[str, Any]] = [
        {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "echo", "namespace": GS},
         "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": port}]}}},
        {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "opts", "namespace": GS},
         "spec": {"virtualHost": {
             "domains": ["*"],
             "options": {"cors": {"allowOrigin": ["https://app.example"], "allowMethods": ["GET", "POST"],
                                  "allowHeaders": ["x-custom"], "maxAge": "600"},
                         "headerManipulation": {"responseHeadersToAdd": [{"header": {"key": "x-vhost",
                                                                                     "value": "yes"}}]}},
             "routes": [
                 {"matchers": [{"prefix": "/old"}], "routeAction": up,
                  "options": {"prefixRewrite": "/new",
                              "headerManipulation": {
                                  "requestHeadersToAdd": [{"header": {"key": "x-added", "value": "by-gloo"}}],
                                  "requestHeadersToRemove": ["x-secret"],
                                  "responseHeadersToAdd": [{"header": {"key": "x-route", "value": "old"}}]}}},
                 {"matchers": [{"prefix": "/retry"}], "routeAction": up,
                  "options": {"retries": {"retryOn": "5xx", "numRetries": 2, "perTryTimeout": "2s"}}},
                 # CORS disableForRoute: the route's policy turns the filter off (filter_enabled 0%), overriding the
                 # virtual host's policy for this route.
                 {"matchers": [{"prefix": "/nocors"}], "routeAction": up,
                  "options": {"cors": {"allowOrigin": ["https://app.example"], "disableForRoute": True}}},
                 {"matchers": [{"prefix": "/fault"}], "routeAction": up,
                  "options": {"faults": {"abort": {"percentage": 100, "httpStatus": 418}}}},
                 {"matchers": [{"prefix": "/"}], "routeAction": up},
             ]}}},
    ]
    return yaml.safe_dump_all(docs)


def _request(url: str, method: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read().decode()


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_rewrite_headers_retries_and_cors_for_real(tmp_path: Path, echo: int, profile: str) -> None:
    with sandbox(tmp_path / "sb", profile, replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        manifest = tmp_path / "opts.yaml"
        manifest.write_text(_manifests(echo))
        kube.apply(manifest)

        # A rewritten path and added/removed request headers, visible in the echo's request dump.
        resp = wait_until(lambda: fetch(info.gateway + "/old/thing", headers={"x-secret": "s"}),
                          "the gateway serves the rewritten route", until=lambda r: r.status == 200)
        dump = json.loads(resp.body)
        assert dump["path"] == "/new/thing", dump
        assert dump["headers"]["x-added"] == "by-gloo" and "x-secret" not in dump["headers"], dump
        headers = {k.lower(): v for k, v in resp.headers.items()}
        assert headers["x-route"] == "old" and headers["x-vhost"] == "yes", headers

        # A 503 retried: the echo fails the first attempt, Envoy's retry policy gets the second.
        status, _, body = _request(info.gateway + "/retry/flaky", "GET", {})
        assert status == 200, body
        assert json.loads(body)["attempt"] == 2
        assert _Echo.counts.get("/retry/flaky") == 2
        # Negative control: without a retry policy the same 503 reaches the client.
        status, _, body = _request(info.gateway + "/plain/flaky", "GET", {})
        assert status == 503, body
        assert _Echo.counts.get("/plain/flaky") == 1

        # A CORS preflight answered by Envoy's CORS filter from the virtual host's policy.
        status, headers, _ = _request(info.gateway + "/anything", "OPTIONS", {
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
        assert status == 200, headers
        assert headers["access-control-allow-origin"] == "https://app.example", headers
        assert headers["access-control-allow-methods"] == "GET,POST", headers
        assert headers["access-control-max-age"] == "600", headers
        assert "/anything" not in _Echo.counts  # Envoy answered the preflight itself
        status, headers, _ = _request(info.gateway + "/anything", "OPTIONS", {
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in headers, headers

        # disableForRoute: the preflight is not answered by the CORS filter; it reaches the echo.
        status, headers, body = _request(info.gateway + "/nocors/x", "OPTIONS", {
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
        assert status == 200 and json.loads(body)["path"] == "/nocors/x", body
        assert "access-control-allow-origin" not in headers, headers

        # Fault injection: the fault filter (added to the HCM for this per-route config) aborts every request.
        status, _, _ = _request(info.gateway + "/fault/x", "GET", {})
        assert status == 418
        assert "/fault/x" not in _Echo.counts
