"""Benchmark: from a RouteTable patch (the API call returns) to every Envoy replica serving the change.

Runs a sandbox (2 replicas), loads N RouteTables (each a direct response under a delegating
VirtualService), then patches one RouteTable 50 times and polls every replica's listener until
the new body is served. Reported: median and p95 with 1 RouteTable and with 500 loaded, and the
ratio between them (measured in the same run, since these machines are noisy).
Target: p95 under 1 s with 500 RouteTables.

Usage: python bench/sandbox.py [--changes 50] [--tables 500]
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

from gloo_nb.sandbox import runner
from gloo_nb.sandbox.kubeapi.pki import Credentials

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


if __name__ == "__main__":
    main()
