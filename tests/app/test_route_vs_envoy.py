"""Proof: the route ``gloo_nb.analysis.matching`` predicts for the served configuration is the one real Envoy uses.

Every Gloo route answers a direct response whose body is its id, so the body says which route Envoy picked
(Envoy's empty 404 = no route). A few hundred seeded random requests go through each replica's gateway port.
"""

from __future__ import annotations

import http.client
import json
import random
import subprocess
import sys
import textwrap
from typing import Any
from urllib.parse import urlsplit

import pytest
from polling import wait_until
from sandboxkit import kubectl_for, sandbox

from gloo_nb.analysis.matching import match_request
from gloo_nb.app.connect import connect_sandbox
from gloo_nb.xds.decode import RouteRow, route_rows

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]


def _direct(rid: str) -> str:
    return f"directResponseAction: {{status: 200, body: {rid}}}"


MANIFESTS = textwrap.dedent(f"""\
    apiVersion: gateway.solo.io/v1
    kind: VirtualService
    metadata: {{name: wild, namespace: gloo-system}}
    spec:
      virtualHost:
        domains: ['*']
        routes:
          - matchers: [{{exact: /exact}}]
            {_direct("w-exact")}
          - matchers: [{{exact: /exact/, caseSensitive: false}}]
            {_direct("w-exact-ci")}
          - matchers: [{{regex: '/re/[0-9]+'}}]
            {_direct("w-re")}
          - matchers: [{{prefix: /ci, caseSensitive: false}}]
            {_direct("w-ci")}
          - matchers: [{{prefix: /h, headers: [{{name: x-env, value: prod}}]}}]
            {_direct("w-h-exact")}
          - matchers: [{{prefix: /h, headers: [{{name: x-env, value: 'dev|stag.*', regex: true}}]}}]
            {_direct("w-h-regex")}
          - matchers: [{{prefix: /h, headers: [{{name: x-trace}}]}}]
            {_direct("w-h-present")}
          - matchers: [{{prefix: /h, headers: [{{name: x-env, value: prod, invertMatch: true}}]}}]
            {_direct("w-h-invert")}
          - matchers: [{{prefix: /m, methods: [POST, PUT]}}]
            {_direct("w-m-post")}
          - matchers: [{{prefix: /m, methods: [GET], headers: [{{name: x-env, value: prod}}]}}]
            {_direct("w-m-get-prod")}
          - matchers: [{{prefix: /q, queryParameters: [{{name: q, value: '1'}}]}}]
            {_direct("w-q-exact")}
          - matchers: [{{prefix: /q, queryParameters: [{{name: q, value: '[a-z]+', regex: true}}]}}]
            {_direct("w-q-regex")}
          - matchers: [{{prefix: /q, queryParameters: [{{name: flag}}]}}]
            {_direct("w-q-present")}
          - matchers: [{{prefix: /team}}]
            delegateAction: {{ref: {{name: team, namespace: gloo-system}}}}
          - matchers: [{{prefix: /catch}}, {{exact: /}}]
            {_direct("w-catch")}
    ---
    apiVersion: gateway.solo.io/v1
    kind: RouteTable
    metadata: {{name: team, namespace: gloo-system}}
    spec:
      routes:
        - matchers: [{{exact: /team/a}}]
          {_direct("t-a")}
        - matchers: [{{prefix: /team/b, headers: [{{name: x-env, value: prod}}]}}]
          {_direct("t-b-prod")}
        - matchers: [{{prefix: /team/b}}]
          {_direct("t-b")}
    ---
    apiVersion: gateway.solo.io/v1
    kind: VirtualService
    metadata: {{name: api, namespace: gloo-system}}
    spec:
      virtualHost:
        domains: [api.example.com]
        routes:
          - matchers: [{{prefix: /h, headers: [{{name: x-env, value: prod}}]}}]
            {_direct("a-h")}
          - matchers: [{{prefix: /, methods: [GET]}}]
            {_direct("a-get")}
    ---
    apiVersion: gateway.solo.io/v1
    kind: VirtualService
    metadata: {{name: internal, namespace: gloo-system}}
    spec:
      virtualHost:
        domains: ['*.internal']
        routes:
          - matchers: [{{regex: '/svc/.*'}}]
            {_direct("i-svc")}
          - matchers: [{{exact: /}}]
            {_direct("i-root")}
    """)

ROUTE_IDS = {"w-exact", "w-exact-ci", "w-re", "w-ci", "w-h-exact", "w-h-regex", "w-h-present", "w-h-invert",
             "w-m-post", "w-m-get-prod", "w-q-exact", "w-q-regex", "w-q-present", "w-catch", "t-a", "t-b-prod", "t-b",
             "a-h", "a-get", "i-svc", "i-root"}

PATHS = ["/", "/exact", "/exact/", "/EXACT/", "/Exact", "/re/12", "/re/12/x", "/re/", "/re/1a", "/ci", "/CI/x",
         "/Ci", "/h", "/h/x", "/H", "/m", "/m/1", "/q", "/q/a", "/team", "/team/a", "/team/a/", "/team/b/x",
         "/catch", "/catch/y", "/svc/x", "/svc", "/nothing"]
QUERIES = ["", "", "q=1", "q=2", "q=abc", "q=ABC", "flag", "flag=", "a=1&q=1", "q=x&q=1", "Q=1"]
HOSTS = ["localhost", "api.example.com", "API.Example.com", "api.example.com:28080", "x.internal", "a.b.internal",
         "internal", "other.com"]
ENVS = [None, None, "prod", "dev", "staging", "Prod"]
METHODS = ["GET", "GET", "POST", "PUT", "DELETE"]


def _requests(n: int, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        query = rnd.choice(QUERIES)
        headers = {"host": rnd.choice(HOSTS)}
        env = rnd.choice(ENVS)
        if env is not None:
            headers["x-env"] = env
        if rnd.random() < 0.3:
            headers["x-trace"] = "1"
        out.append({"method": rnd.choice(METHODS), "path": rnd.choice(PATHS) + (f"?{query}" if query else ""),
                    "headers": headers})
    return out


def _send(conn: http.client.HTTPConnection, req: dict[str, Any]) -> tuple[int, str]:
    conn.putrequest(req["method"], req["path"], skip_host=True, skip_accept_encoding=True)
    for name, value in req["headers"].items():
        conn.putheader(name, value)
    conn.putheader("content-length", "0")
    conn.endheaders()
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


def _served_bodies(rows: list[RouteRow]) -> set[str]:
    return {r.action["directResponse"]["body"]["inlineString"] for r in rows if "directResponse" in r.action}


def _predicted(rows: list[RouteRow], req: dict[str, Any]) -> str | None:
    m = match_request(rows, req)
    return None if m is None else str(m.action["directResponse"]["body"]["inlineString"])


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("route")
    with sandbox(tmp / "sb", "current") as info:
        kube = kubectl_for(info, tmp)
        (tmp / "routes.yaml").write_text(MANIFESTS)
        kube.apply(tmp / "routes.yaml")
        with connect_sandbox(info.state_dir) as conn:
            def everywhere() -> bool:
                served = route_rows(conn.served().route_configurations, "served")
                if _served_bodies(served) != ROUTE_IDS:
                    return False
                key = [(r.virtual_host, r.order, json.dumps(r.match), json.dumps(r.action)) for r in served]
                return all([(r.virtual_host, r.order, json.dumps(r.match), json.dumps(r.action))
                            for r in route_rows(snap.route_configurations, node)] == key
                           for node, snap in conn.applied().items())
            wait_until(everywhere, "every route served and applied by every replica", timeout=20)
            rows = route_rows(conn.served().route_configurations, "served")
        yield info, rows, tmp


def test_envoy_uses_the_predicted_route_for_generated_requests(gateway) -> None:
    info, rows, _ = gateway
    requests = _requests(400, seed=5)
    seen: set[str | None] = set()
    mismatches = []
    for i, url in enumerate(info.data["gateways"]):
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        try:
            for req in requests[i::len(info.data["gateways"])]:
                status, body = _send(conn, req)
                actual = body if status == 200 else None
                if status not in (200, 404) or (status == 404 and body):
                    mismatches.append((req, f"unexpected {status} {body!r}"))
                    continue
                predicted = _predicted(rows, req)
                seen.add(actual)
                if predicted != actual:
                    mismatches.append((req, f"predicted {predicted}, Envoy used {actual}"))
        finally:
            conn.close()
    assert not mismatches, f"{len(mismatches)} of {len(requests)} differ, e.g. {mismatches[:5]}"
    # The generator must exercise most routes and the no-match case, or the proof proves little.
    assert None in seen and len(seen & ROUTE_IDS) >= len(ROUTE_IDS) - 2, sorted(map(str, seen))


def test_tricky_requests_against_envoy(gateway) -> None:
    info, rows, _ = gateway
    cases = [
        ({"path": "/h", "headers": {"host": "x"}}, None),                        # inverted exact, header missing
        ({"path": "/h", "headers": {"host": "x", "x-env": "qa"}}, "w-h-invert"),
        ({"path": "/h", "headers": {"host": "x", "x-env": "staging"}}, "w-h-regex"),
        ({"path": "/h", "headers": {"host": "x", "x-trace": ""}}, "w-h-present"),
        ({"path": "/EXACT/?z=1", "headers": {"host": "x"}}, "w-exact-ci"),
        ({"path": "/re/12/x", "headers": {"host": "x"}}, None),
        ({"path": "/q?z=1&q=1", "headers": {"host": "x"}}, "w-q-exact"),
        ({"path": "/q?q=ABC", "headers": {"host": "x"}}, None),
        ({"path": "/m", "method": "PUT", "headers": {"host": "x"}}, "w-m-post"),
        ({"path": "/zzz", "headers": {"host": "API.example.COM"}}, "a-get"),
        ({"path": "/zzz", "headers": {"host": "api.example.com:28080"}}, None),
        ({"path": "/", "headers": {"host": "api.example.com:28080"}}, "w-catch"),
        ({"path": "/", "headers": {"host": "internal"}}, "w-catch"),
        ({"path": "/", "headers": {"host": "a.b.internal"}}, "i-root"),
        ({"path": "/team/b/1", "headers": {"host": "x", "x-env": "prod"}}, "t-b-prod"),
    ]
    parts = urlsplit(info.data["gateways"][0])
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        for req, want in cases:
            full = {"method": "GET", **req}
            status, body = _send(conn, full)
            assert (body if status == 200 else None) == want, (req, status, body)
            assert _predicted(rows, full) == want, req
    finally:
        conn.close()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gloo_nb", "route", *args], capture_output=True, text=True,
                          timeout=60)


def test_cli_route_answers_per_source(gateway) -> None:
    info, _, tmp = gateway
    done = _cli("--sandbox", str(info.state_dir), "--path", "/team/b/1", "--header", "x-env=prod", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    (result,) = doc["results"]
    assert result["request"]["path"] == "/team/b/1" and result["request"]["headers"]["x-env"] == "prod"
    sources = [m["source"] for m in result["matches"]]
    assert sources == ["intent", "served", "gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"]
    for m in result["matches"]:
        assert m["action"]["directResponse"]["body"]["inlineString"] == "t-b-prod", m
        assert set(m) == {"source", "virtualHost", "order", "name", "action"}
    reqs = tmp / "reqs.jsonl"
    reqs.write_text(json.dumps({"method": "GET", "path": "/nothing", "headers": {"host": "x"}}) + "\n\n"
                    + json.dumps({"path": "/q", "query": {"flag": ""}, "headers": {"host": "x"}}) + "\n")
    done = _cli("--sandbox", str(info.state_dir), "--requests", str(reqs), "--json")
    assert done.returncode == 0, done.stderr
    first, second = json.loads(done.stdout)["results"]
    assert all(m.get("noMatch") is True and set(m) == {"source", "noMatch"} for m in first["matches"])
    assert {m["action"]["directResponse"]["body"]["inlineString"] for m in second["matches"]} == {"w-q-present"}
    text = _cli("--sandbox", str(info.state_dir), "--path", "/nothing")
    assert text.returncode == 0 and "no match" in text.stdout and "served" in text.stdout, text.stdout
    bad = _cli("--sandbox", str(info.state_dir), "--path", "/x", "--header", "novalue")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "NAME=VALUE" in bad.stderr, bad.stderr


def test_cli_route_on_a_snapshot_bundle(gateway) -> None:
    info, _, tmp = gateway
    bundle = tmp / "bundle"
    saved = subprocess.run([sys.executable, "-m", "gloo_nb", "snapshot", "save", "--sandbox", str(info.state_dir),
                            "--out", str(bundle)], capture_output=True, text=True, timeout=60)
    assert saved.returncode == 0, saved.stderr
    done = _cli("--snapshot", str(bundle), "--path", "/re/7", "--json")
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert len(result["matches"]) == 4
    assert {m["action"]["directResponse"]["body"]["inlineString"] for m in result["matches"]} == {"w-re"}
