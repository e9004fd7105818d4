"""Gloo's default HTTP filters on a whole sandbox (real kubectl, control plane, Envoy): issue 15, "never a false
drift". The intent carries every filter Gloo serves, io.solo.transformation included; the sandbox serves the
pinned Envoy the listener without it, says so in a ``FilterLeftOut`` Warning Event on the Gateway, traffic
flows, and ``inspect`` shows no listener drift."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from polling import wait_until
from sandboxkit import body_is, fetch, kubectl_for, sandbox, wait_ready_pods

from gloo_nb.app.connect import connect_sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

GS = "gloo-system"
VS = {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "app", "namespace": GS},
      "spec": {"virtualHost": {"domains": ["*"], "routes": [
          {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": "filtered hello"}}]}}}
LEFT_OUT = ("left out HTTP filter io.solo.transformation of listener listener-::-8080: the pinned Envoy cannot load "
            "envoy.api.v2.filter.http.FilterTransformations (Gloo's transformation filter, an envoy-gloo extension); "
            "Gloo's own gateway-proxy image loads it")
INTENT = {  # translate/http_filters.py: Gloo's chains (tests/translate/test_http_filters.py)
    "current": ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.local_ratelimit",
                "envoy.filters.http.grpc_web", "io.solo.transformation", "envoy.filters.http.csrf",
                "envoy.filters.http.router"],
    "1.3": ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.grpc_web",
            "io.solo.transformation", "envoy.filters.http.router"],
}
CHAINS = {  # what the pinned Envoy is served and applies
    "current": ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.local_ratelimit",
                "envoy.filters.http.grpc_web", "envoy.filters.http.csrf", "envoy.filters.http.router"],
    "1.3": ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.grpc_web",
            "envoy.filters.http.router"],
}


def _http_filters(listener) -> list[str]:
    hcm = hcm_pb2.HttpConnectionManager()
    assert listener.filter_chains[0].filters[0].typed_config.Unpack(hcm)
    return [f.name for f in hcm.http_filters]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_sandbox_serves_gloos_chain_without_its_own_extensions(profile: str, tmp_path: Path) -> None:
    state = tmp_path / "sb"
    with sandbox(state, profile, replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        wait_ready_pods(kube, GS)
        manifest = tmp_path / "vs.yaml"
        manifest.write_text(yaml.safe_dump(VS))
        kube.apply(manifest)
        wait_until(lambda: fetch(info.gateway + "/x"), "traffic through the filter chain", until=body_is(
            "filtered hello"), timeout=60)
        with connect_sandbox(state) as conn:
            seen = wait_until(conn.collect, "the replica applied the listener", timeout=60,
                              until=lambda i: i.listener_drift and all(d.state == "in-sync" for d in i.listener_drift))
            (intended,) = seen.translation.envoy.listeners
            assert _http_filters(intended) == INTENT[profile]
            ((node, applied),) = conn.applied().items()
            (listener,) = applied.listeners
            assert _http_filters(listener) == CHAINS[profile], node
        # gloo-nb inspect --json: no listener drift, although intent and served differ by Gloo's own filter.
        done = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--sandbox", str(state), "--json"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert [(d["listener"], d["state"]) for d in doc["listenerDrift"]] == [("listener-::-8080", "in-sync")]
        # What an expert looks at: the Gateway's events (kubectl describe gateway / kubectl get events).
        events = [e for e in kube.json("events", "-n", GS)["items"] if e.get("reason") == "FilterLeftOut"]
        assert [(e["type"], e["involvedObject"]["kind"], e["involvedObject"]["name"], e["message"])
                for e in events] == [("Warning", "Gateway", "gateway-proxy", LEFT_OUT)]
        described = kube.run("describe", "gateways.gateway.solo.io", "gateway-proxy", "-n", GS).stdout
        assert "FilterLeftOut" in described
