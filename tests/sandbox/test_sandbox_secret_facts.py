"""A TLS gateway inspected three ways on a whole sandbox (real kubectl, control plane, Envoy): live, from a
snapshot bundle (Secrets known by their facts), and as an identity that may not read Secrets. None reports a
Gloo error the gateway does not have, and none shows drift between the intent and the real certificates Envoy
serves (issue 14 follow-up: "the inspector would then report drift that is not there")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from polling import wait_until
from sandboxkit import kubectl_for, sandbox, wait_ready_pods
from tlskit import kube_tls_secret, server

from gloo_nb.analysis.inspection import Inspection
from gloo_nb.app.connect import connect_sandbox
from gloo_nb.app.snapshot import open_snapshot, save_snapshot

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
RBAC = [  # a team identity: reads Gloo's resources and what kube EDS reads, not Secrets
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "gloo-viewer"},
     "rules": [{"apiGroups": ["gateway.solo.io", "gloo.solo.io"], "resources": ["*"],
                "verbs": ["get", "list", "watch"]},
               {"apiGroups": [""], "resources": ["namespaces", "services", "pods", "endpoints"],
                "verbs": ["get", "list", "watch"]}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "viewers"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "gloo-viewer"},
     "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "team-a"}]}]


def _gloo_problems(inspection: Inspection) -> list[str]:
    return [m for r in inspection.translation.reports for m in (*r.errors, *r.warnings)]


def _tls_in_sync(inspection: Inspection) -> bool:
    rows = {d.name: d for d in inspection.listener_drift}
    tls = rows.get("listener-::-8443")
    return (tls is not None and all(d.state == "in-sync" for d in inspection.listener_drift)
            and all(d.state == "in-sync" for d in inspection.drift)
            and tls.by_source.get("served") == f"api.example.com: tls sha256:{API.fingerprint[:12]}")


def _shape(inspection: Inspection) -> list[tuple[str, list[list[str]]]]:
    return [(li.name, [list(c.filter_chain_match.server_names) for c in li.filter_chains])
            for li in inspection.translation.envoy.listeners]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_live_bundle_and_secretless_identity_agree_with_envoy(profile: str, tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", profile, replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        wait_ready_pods(kube, GS)
        manifest = tmp_path / "tls.yaml"
        manifest.write_text(yaml.safe_dump_all([kube_tls_secret("api-tls", GS, API), SSL_GATEWAY, VS, *RBAC]))
        kube.apply(manifest)
        with connect_sandbox(info.state_dir) as conn:
            live = wait_until(conn.collect, "the replica applied the TLS listener", until=_tls_in_sync, timeout=60)
            assert _gloo_problems(live) == [] and live.findings == []
            save_snapshot(conn, tmp_path / "bundle")
        bundle = open_snapshot(tmp_path / "bundle").collect()
        assert _gloo_problems(bundle) == [] and bundle.findings == []
        assert _shape(bundle) == _shape(live) and _tls_in_sync(bundle)
        text = "".join(p.read_text() for p in (tmp_path / "bundle").rglob("*") if p.is_file())
        assert "PRIVATE KEY" not in text and API.key.splitlines()[1] not in text
        with connect_sandbox(info.state_dir, as_user="alice", as_group="team-a") as team:
            seen: Any = team.collect()
        assert _gloo_problems(seen) == []
        (warning,) = seen.findings
        assert warning.severity == "warning" and warning.message.startswith(
            "listener-::-8443: cannot read Secrets (403: ") and warning.message.endswith(
            "the TLS checks Gloo makes on secret gloo-system.api-tls were not made")
        assert _shape(seen) == _shape(live) and _tls_in_sync(seen)
        doc = json.loads(json.dumps(seen.document()))
        assert [d["state"] for d in doc["listenerDrift"]] == ["in-sync"] * len(doc["listenerDrift"])
