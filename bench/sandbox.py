"""Benchmark: from a RouteTable patch (the API call returns) to every Envoy replica serving the change.

Runs a sandbox (2 replicas), loads N RouteTables (each a direct response under a delegating
VirtualService), then patches one RouteTable 50 times and polls every replica's listener until
the new body is served. Reported: median and p95 with 1 RouteTable and with 500 loaded, and the
ratio between them (measured in the same run, since these machines are noisy).
Target: p95 under 1 s with 500 RouteTables.

Also measured here, moved out of the tests (a test proves behaviour, a benchmark measures time):

* a new Deployment's pod Ready (target under 1 s), and 50 keep-alive requests to its http-echo
  (Nagle plus delayed ACK would cost about 40 ms each: the ratio says how far below that it is);
* the sandbox store: 500 RouteTable creates, 200 patches and 20 lists, against a baseline of the
  same objects copied through ``json`` (what a store does at least once per write).

Usage: python bench/sandbox.py [--changes 50] [--tables 500]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from gloo_nb.sandbox import kinds, runner
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.kubelet import PORTS_ANNOTATION

# The sandbox's API is HTTPS with an admin bearer token: run() sets both from the state directory's pki/.
_AUTH: dict[str, object] = {}


def _call(method: str, url: str, body: object | None = None, ctype: str = "application/json") -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": ctype, "Authorization": f"Bearer {_AUTH['token']}"})
    tls = _AUTH["tls"]
    assert isinstance(tls, ssl.SSLContext)
    with urllib.request.urlopen(req, timeout=30, context=tls) as resp:  # noqa: S310 - the sandbox's loopback API
        return json.loads(resp.read() or b"{}")


def _rt(i: int, body: str) -> dict:
    return {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
            "metadata": {"name": f"rt-{i}", "namespace": "bench"},
            "spec": {"routes": [{"matchers": [{"prefix": f"/svc/{i}/"}],
                                 "directResponseAction": {"status": 200, "body": body}}]}}


def _get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read().decode()
    except OSError:
        return ""


STARTS: list[float] = []
WORKLOADS: dict[str, float] = {}
NAGLE_S = 0.040  # Nagle plus delayed ACK: what a keep-alive request costs when the echo forgets TCP_NODELAY


def _pod_ready_and_keepalive(api: str) -> None:
    """Time a new Deployment's pod to Ready, then 50 keep-alive requests to it (into WORKLOADS)."""
    ns = "bench-pods"
    _call("POST", f"{api}/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    t0 = time.perf_counter()
    _call("POST", f"{api}/apis/apps/v1/namespaces/{ns}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo", "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": "echo"}}, "template": {
            "metadata": {"labels": {"app": "echo"}},
            "spec": {"containers": [{"name": "echo", "image": "hashicorp/http-echo:0.2.3",
                                     "args": ["-text=hi", "-listen=:8080"]}]}}}})
    while True:
        pods = _call("GET", f"{api}/api/v1/namespaces/{ns}/pods")["items"]
        if pods and any(c["type"] == "Ready" and c["status"] == "True"
                        for c in pods[0].get("status", {}).get("conditions", [])):
            break
        if time.perf_counter() - t0 > 60:
            raise SystemExit("the bench Deployment's pod was not Ready within 60 s")
        time.sleep(0.005)
    WORKLOADS["pod ready"] = time.perf_counter() - t0
    port = json.loads(pods[0]["metadata"]["annotations"][PORTS_ANNOTATION])["8080"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        t0 = time.perf_counter()
        for i in range(50):
            conn.request("GET", f"/r{i}")
            conn.getresponse().read()
        WORKLOADS["keep-alive request"] = (time.perf_counter() - t0) / 50
    finally:
        conn.close()


def bench_store(tmp: Path) -> tuple[float, float]:
    """Time the sandbox store on 500 RouteTables, and the json copies of the same writes (the baseline)."""
    from gloo_nb.sandbox.store import Store

    store = Store(tmp)
    try:
        store.create(kinds.NAMESPACE, {"metadata": {"name": "bench"}})
        tables = [_rt(i, f"rt-{i}") for i in range(500)]
        t0 = time.perf_counter()
        for rt in tables:
            store.create(kinds.ROUTE_TABLE, rt)
        for i in range(200):
            store.patch(kinds.ROUTE_TABLE, "bench", f"rt-{i % 500}",
                        lambda o, n=str(i): {**o, "metadata": {**o["metadata"], "labels": {"n": n}}})
        for _ in range(20):
            store.list(kinds.ROUTE_TABLE, "bench")
            store.get(kinds.ROUTE_TABLE, "bench", "rt-250")
        took = time.perf_counter() - t0
    finally:
        store.close()
    t0 = time.perf_counter()
    for rt in tables + tables[:200]:
        json.loads(json.dumps(rt))
    return took, time.perf_counter() - t0


def run(tables: int, changes: int) -> list[float]:
    """Measure ``changes`` patches with ``tables`` RouteTables loaded; return seconds per change."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        # exit_with: a bench killed before its finally leaves no sandbox behind.
        info = runner.start(Path(tmp) / "sb", gloo_version="current", replicas=2, exit_with=os.getpid())
        STARTS.append(time.perf_counter() - t0)
        try:
            creds = Credentials.existing(Path(tmp) / "sb" / "pki")
            assert creds is not None, "the sandbox made no credentials"
            _AUTH.update(token=creds.token, tls=creds.client_context())
            api = info.data["kubeApi"]
            if not WORKLOADS:
                _pod_ready_and_keepalive(api)
            _call("POST", f"{api}/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": "bench"}})
            rts = f"{api}/apis/gateway.solo.io/v1/namespaces/bench/routetables"
            for i in range(tables):
                _call("POST", rts, _rt(i, f"rt-{i}-v0"))
            _call("POST", f"{api}/apis/gateway.solo.io/v1/namespaces/gloo-system/virtualservices", {
                "apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
                "metadata": {"name": "bench", "namespace": "gloo-system"},
                "spec": {"virtualHost": {"domains": ["*"], "routes": [
                    {"matchers": [{"prefix": "/svc"}],
                     "delegateAction": {"selector": {"namespaces": ["bench"]}}}]}}})
            urls = info.data["gateways"]
            target = tables // 2
            for url in urls:
                deadline = time.monotonic() + 60
                while _get(f"{url}/svc/{target}/x") != f"rt-{target}-v0":
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{url} never served the loaded route tables")
                    time.sleep(0.01)
            out = []
            for k in range(1, changes + 1):
                body = f"rt-{target}-v{k}"
                patch = {"spec": {"routes": [{"matchers": [{"prefix": f"/svc/{target}/"}],
                                              "directResponseAction": {"status": 200, "body": body}}]}}
                _call("PATCH", f"{rts}/rt-{target}", patch, "application/merge-patch+json")
                t0 = time.perf_counter()
                pending = set(urls)
                while pending:
                    pending = {u for u in pending if _get(f"{u}/svc/{target}/x") != body}
                    if time.perf_counter() - t0 > 30:
                        raise SystemExit(f"change {k} not applied within 30 s")
                out.append(time.perf_counter() - t0)
            return out
        finally:
            runner.stop(Path(tmp) / "sb")


def _p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)]


def main() -> None:
    """Run the benchmark and print the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--tables", type=int, default=500)
    args = parser.parse_args()
    small = run(1, args.changes)
    large = run(args.tables, args.changes)
    for name, xs in (("1 RouteTable", small), (f"{args.tables} RouteTables", large)):
        print(f"patch -> every replica applied, {name:>16}: median {statistics.median(xs) * 1000:7.1f} ms, "
              f"p95 {_p95(xs) * 1000:7.1f} ms over {len(xs)} changes")
    print(f"sandbox start to serving (2 replicas): {', '.join(f'{x:.2f} s' for x in STARTS)} (target < 5 s)")
    print(f"ratio p95({args.tables}) / p95(1): {_p95(large) / _p95(small):.1f}x")
    verdict = "met" if _p95(large) < 1.0 else "NOT met"
    print(f"target p95 < 1 s with {args.tables} RouteTables: {verdict}")
    ready = WORKLOADS["pod ready"]
    print(f"new Deployment -> pod Ready: {ready * 1000:.0f} ms (target < 1 s: {'met' if ready < 1.0 else 'NOT met'})")
    per = WORKLOADS["keep-alive request"]
    print(f"http-echo keep-alive request: {per * 1000:.2f} ms; ratio Nagle+delayed ACK ({NAGLE_S * 1000:.0f} ms) / it: "
          f"{NAGLE_S / per:.0f}x")
    with tempfile.TemporaryDirectory() as tmp:
        store_s, copy_s = bench_store(Path(tmp))
    print(f"store, 500 RouteTables created + 200 patches + 20 lists: {store_s:.2f} s; json copies of the same "
          f"writes {copy_s:.3f} s; ratio {store_s / copy_s:.0f}x")


if __name__ == "__main__":
    main()
