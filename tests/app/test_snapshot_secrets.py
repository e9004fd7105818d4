"""A snapshot bundle never holds Secret data: resources.yaml leaves Secrets out, secrets.json keeps their facts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tlskit import kube_tls_secret, server

from gloo_nb.app.snapshot import save_snapshot, served_json

pytestmark = pytest.mark.unit


@dataclass
class _Conn:
    objects: list[dict[str, Any]]
    profile: str = "current"
    namespace: str = "gloo-system"
    role: str = "gloo-system~gateway-proxy"
    xds_address: str | None = None

    def read_objects(self) -> list[dict[str, Any]]:
        return self.objects

    def admins(self) -> dict[str, Any]:
        return {}


def test_bundle_keeps_certificate_facts_not_keys(tmp_path: Path) -> None:
    pem = server("api.example.com")
    vs = {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "a", "namespace": "gs"},
          "spec": {"sslConfig": {"secretRef": {"name": "tls", "namespace": "gs"}}}}
    save_snapshot(_Conn([vs, kube_tls_secret("tls", "gs", pem)]), tmp_path)  # type: ignore[arg-type]
    text = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert "tls.key" not in (tmp_path / "resources.yaml").read_text()
    assert pem.key.splitlines()[1] not in text and "PRIVATE KEY" not in text
    (facts,) = json.loads((tmp_path / "secrets.json").read_text())
    assert facts["name"] == "tls" and facts["certificate"]["fingerprintSha256"] == pem.fingerprint
    assert "secretRef" in (tmp_path / "resources.yaml").read_text()


def test_served_json_redacts_inline_keys() -> None:
    from envoy.config.listener.v3 import listener_pb2
    from envoy.extensions.transport_sockets.tls.v3 import tls_pb2

    pem = server("api.example.com")
    ctx = tls_pb2.DownstreamTlsContext()
    cert = ctx.common_tls_context.tls_certificates.add()
    cert.certificate_chain.inline_string = pem.cert
    cert.private_key.inline_string = pem.key
    listener = listener_pb2.Listener(name="l")
    chain = listener.filter_chains.add()
    chain.transport_socket.name = "envoy.transport_sockets.tls"
    chain.transport_socket.typed_config.Pack(ctx)

    class Served:
        versions: dict[str, str] = {}

        def resources(self, type_url: str) -> list[Any]:
            return [listener] if "Listener" in type_url else []

    doc = json.dumps(served_json(Served()))  # type: ignore[arg-type]
    assert "PRIVATE KEY" not in doc and pem.key.splitlines()[1] not in doc
