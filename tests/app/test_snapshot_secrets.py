"""A snapshot bundle never holds Secret data: resources.yaml leaves Secrets out, secrets.json keeps their facts,
and reopened, those facts translate as the live Secrets did (no false TLS errors, the same listeners)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tlskit import kube_tls_secret, server

from gloo_nb.app.snapshot import open_snapshot, save_snapshot, served_json
from gloo_nb.errors import ParseError
from gloo_nb.models.codec import parse_objects
from gloo_nb.translate import translate
from gloo_nb.translate.envoy_json import envoy_json

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


PROFILES = ("1.3", "current")
GS = "gloo-system"
API = server("api.example.com", "api.example.com")
WWW = server("www.example.com", "www.example.com")


def _vs(name: str, secret: str | None, domain: str, **ssl: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"virtualHost": {"domains": [domain], "routes": [
        {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": name}}]}}
    if secret is not None:
        spec["sslConfig"] = {"secretRef": {"name": secret, "namespace": GS}, **ssl}
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": name, "namespace": GS},
            "spec": spec}


TLS_OBJECTS = [kube_tls_secret("api", GS, API), kube_tls_secret("www", GS, WWW),
               _vs("api", "api", "api.example.com", sniDomains=["api.example.com"]),
               _vs("www", "www", "www.example.com", sniDomains=["www.example.com"]),
               _vs("plain", None, "plain.example.com")]


def _gloo_problems(t: Any) -> list[str]:
    return [m for r in t.reports for m in (*r.errors, *r.warnings)]


def _listener_shape(t: Any) -> list[tuple[str, list[list[str]]]]:
    return [(li.name, [list(c.filter_chain_match.server_names) for c in li.filter_chains]) for li in t.envoy.listeners]


@pytest.mark.parametrize("profile", PROFILES)
def test_bundle_reopens_with_no_tls_error_and_the_live_listener_shape(tmp_path: Path, profile: str) -> None:
    """Issue 14 follow-up: a bundle's own translation used to find every TLS secret missing (false Gateway errors,
    false drift); its secrets.json facts now translate as the live Secrets do."""
    live = translate(parse_objects(TLS_OBJECTS).resources, profile)  # type: ignore[arg-type]
    assert _gloo_problems(live) == []
    save_snapshot(_Conn(TLS_OBJECTS, profile), tmp_path)  # type: ignore[arg-type]
    bundle = open_snapshot(tmp_path)
    t, _ = bundle.intent()
    assert _gloo_problems(t) == [] and [f.message for f in t.findings] == [f.message for f in live.findings]
    assert _listener_shape(t) == _listener_shape(live)
    assert ("listener-::-8443", [["api.example.com"], ["www.example.com"]]) in _listener_shape(t)
    assert envoy_json(t.envoy)["listeners"] == envoy_json(live.envoy)["listeners"]  # certificates by fingerprint
    text = "".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert "PRIVATE KEY" not in text and API.key.splitlines()[1] not in text and API.cert.splitlines()[1] not in text


def test_bundle_of_an_identity_without_secret_access_warns_instead_of_gloo_errors(tmp_path: Path) -> None:
    objects = [o for o in TLS_OBJECTS if o["kind"] != "Secret"]
    conn = _Conn(objects)
    conn.secrets_unreadable = "403 Forbidden"  # type: ignore[attr-defined]
    save_snapshot(conn, tmp_path)  # type: ignore[arg-type]
    assert json.loads((tmp_path / "bundle.json").read_text())["secretsUnreadable"] == "403 Forbidden"
    t, _ = open_snapshot(tmp_path).intent()
    assert _gloo_problems(t) == []
    assert sorted(f.message for f in t.findings) == [
        f"listener-::-8443: cannot read Secrets (403 Forbidden): the TLS checks Gloo makes on secret gloo-system.{n} "
        "were not made" for n in ("api", "www")]
    assert _listener_shape(t) == _listener_shape(translate(parse_objects(TLS_OBJECTS).resources))


def test_bundle_without_secrets_json_says_so(tmp_path: Path) -> None:
    save_snapshot(_Conn(TLS_OBJECTS), tmp_path)  # type: ignore[arg-type]
    (tmp_path / "secrets.json").unlink()
    t, _ = open_snapshot(tmp_path).intent()
    assert _gloo_problems(t) == []
    assert all("(the bundle has no secrets.json)" in f.message for f in t.findings) and len(t.findings) == 2


def test_bad_secrets_json_names_the_entry_and_field(tmp_path: Path) -> None:
    save_snapshot(_Conn(TLS_OBJECTS), tmp_path)  # type: ignore[arg-type]
    (tmp_path / "secrets.json").write_text('[{"name": "a"}, {"name": "b", "glooTls": {"hasRootCa": 1}}]')
    with pytest.raises(ParseError) as err:
        open_snapshot(tmp_path).intent()
    assert err.value.one_line() == (f"{tmp_path / 'secrets.json'}: field [1].glooTls.hasRootCa: expected a boolean, "
                                    "got int")
