"""Redaction: secrets never reach the journal's bytes; references to secrets stay readable."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gloo_nb.journal import REDACTED, JournalWriter, read_journal, redact

pytestmark = pytest.mark.unit

PEM = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7SECRETSECRET\n"
       "-----END PRIVATE KEY-----\n")
RSA_PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEArsaSECRETBYTES\n-----END RSA PRIVATE KEY-----"
CERT = "-----BEGIN CERTIFICATE-----\nMIIDpublicCERTbytes\n-----END CERTIFICATE-----\n"
PASSWORD_B64 = base64.b64encode(b"hunter2-db-password").decode()
TLS_KEY_B64 = base64.b64encode(PEM.encode()).decode()


def kube_secret() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "gateway-tls", "namespace": "gloo-system", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps({"data": {"db": PASSWORD_B64}}),
            "team": "echo"}},
        "data": {"tls.crt": base64.b64encode(CERT.encode()).decode(), "tls.key": TLS_KEY_B64, "db": PASSWORD_B64},
        "stringData": {"plain": "stringdata-plain-secret"},
    }


def config_dump_fragment() -> dict[str, Any]:
    return {"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners": [{
        "name": "listener-::-8443",
        "filter_chains": [{"transport_socket": {"name": "envoy.transport_sockets.tls", "typed_config": {
            "common_tls_context": {
                "tls_certificates": [{"certificate_chain": {"inline_string": CERT},
                                      "private_key": {"inline_string": PEM}}],
                "tls_certificate_sds_secret_configs": [{"name": "gloo-system_gateway-tls"}]}}}}]}]},
        {"dynamic_active_secrets": [{"name": "s", "secret": {"tls_certificate": {
            "privateKey": {"inlineBytes": base64.b64encode(RSA_PEM.encode()).decode()},
            "certificateChain": {"filename": "/etc/certs/tls.crt"}},
            "generic_secret": {"secret": {"inline_string": "generic-hmac-secret"}}}}]}]}


def gloo_vs_with_ssl() -> dict[str, Any]:
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "vs"},
            "spec": {"sslConfig": {"secretRef": {"name": "gateway-tls", "namespace": "gloo-system"},
                                   "sslFiles": {"tlsCert": "/certs/tls.crt", "tlsKey": "/certs/tls.key"}},
                     "virtualHost": {"domains": ["*"]}}}


def test_kubernetes_secret_values_are_redacted_and_names_kept() -> None:
    secret = kube_secret()
    before = copy.deepcopy(secret)
    out = redact(None, {"type": "MODIFIED", "object": secret})["object"]
    assert secret == before, "redact must not touch its input"
    assert out["data"] == {"tls.crt": REDACTED, "tls.key": REDACTED, "db": REDACTED}
    assert out["stringData"] == {"plain": REDACTED}
    annotations = out["metadata"]["annotations"]
    assert annotations == {"kubectl.kubernetes.io/last-applied-configuration": REDACTED, "team": "echo"}
    assert out["metadata"]["name"] == "gateway-tls" and out["type"] == "kubernetes.io/tls"


def test_secret_named_keys_anywhere_case_insensitive() -> None:
    out = redact(None, {"Password": "p1", "auth": {"TOKEN": "t1", "clientSecret": "c1", "client_secret": "c2"},
                        "items": [{"tls.key": "k1", "private_key": "k2", "PrivateKey": "k3"}],
                        "tokens": "not-a-secret-name", "passwordRef": "kept", "none": {"token": None}})
    assert out == {"Password": REDACTED, "auth": {"TOKEN": REDACTED, "clientSecret": REDACTED,
                                                  "client_secret": REDACTED},
                   "items": [{"tls.key": REDACTED, "private_key": REDACTED, "PrivateKey": REDACTED}],
                   "tokens": "not-a-secret-name", "passwordRef": "kept", "none": {"token": None}}


def test_envoy_config_dump_private_keys_redacted_references_kept() -> None:
    out = redact(None, config_dump_fragment())
    tls = out["configs"][0]["dynamic_listeners"][0]["filter_chains"][0]["transport_socket"]["typed_config"][
        "common_tls_context"]
    assert tls["tls_certificates"][0]["private_key"] == {"inline_string": REDACTED}
    assert tls["tls_certificates"][0]["certificate_chain"] == {"inline_string": CERT}, "certificates are public"
    assert tls["tls_certificate_sds_secret_configs"] == [{"name": "gloo-system_gateway-tls"}]
    secret = out["configs"][1]["dynamic_active_secrets"][0]["secret"]
    assert secret["tls_certificate"]["privateKey"] == {"inlineBytes": REDACTED}
    assert secret["tls_certificate"]["certificateChain"] == {"filename": "/etc/certs/tls.crt"}
    assert secret["generic_secret"] == {"secret": {"inline_string": REDACTED}}


def test_private_key_data_source_keeps_file_references() -> None:
    out = redact(None, {"private_key": {"filename": "/etc/envoy/key.pem"}})
    assert out == {"private_key": {"filename": "/etc/envoy/key.pem"}}


def test_gloo_ssl_refs_are_not_secrets() -> None:
    vs = gloo_vs_with_ssl()
    assert redact(None, vs) == vs


def test_pem_private_key_inside_any_string() -> None:
    text = f"note: {PEM} and {CERT} and a cut one {RSA_PEM[:40]}"
    out = redact(None, {"log": [text], "ok": CERT})
    assert "SECRETSECRET" not in out["log"][0] and "rsaSECRET" not in out["log"][0]
    assert out["log"][0].startswith(f"note: {REDACTED}\n and {CERT} and a cut one {REDACTED}")
    assert out["ok"] == CERT


def test_gloo_secret_crd_spec_and_secret_patches() -> None:
    gloo = {"apiVersion": "gloo.solo.io/v1", "kind": "Secret", "metadata": {"name": "aws"},
            "spec": {"aws": {"accessKey": "AKIAEXAMPLE", "secretKey": "aws-secret-key"}}}
    assert redact(None, gloo)["spec"] == {"aws": {"accessKey": REDACTED, "secretKey": REDACTED}}
    patch = [{"op": "replace", "path": "/data/db", "value": PASSWORD_B64},
             {"op": "add", "path": "/stringData", "value": {"x": "y-secret"}},
             {"op": "replace", "path": "/metadata/labels/team", "value": "echo"}]
    assert redact("Secret", patch) == [{"op": "replace", "path": "/data/db", "value": REDACTED},
                                       {"op": "add", "path": "/stringData", "value": {"x": REDACTED}},
                                       {"op": "replace", "path": "/metadata/labels/team", "value": "echo"}]
    # Without knowing the kind, a patch of some other object is left alone ...
    assert redact(None, patch)[0]["value"] == PASSWORD_B64
    # ... unless it sits in an event that says it is about a Secret.
    event = {"kind": "Secret", "name": "db", "diff": patch}
    assert redact(None, event)["diff"][0]["value"] == REDACTED


def test_nothing_secret_reaches_the_files(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, batch_events=2, rotate_bytes=4096) as journal:
        journal.append("kube.watch", {"type": "ADDED", "object": kube_secret()}, source="recorder")
        journal.append("xds.config_dump", config_dump_fragment(), source="gateway-proxy-1")
        journal.append("note", {"text": f"someone pasted {PEM} in a comment"})
        written = journal.append("kube.watch", {"type": "ADDED", "object": gloo_vs_with_ssl()}, source="recorder")
        journal.write(journal.append("x", {"token": "abc-token-value"}))
    assert written.data["object"] == gloo_vs_with_ssl()
    raw = b"".join(p.read_bytes() for p in sorted(tmp_path.iterdir()))
    for secret in ["SECRETSECRET", "MIIEvQ", "rsaSECRET", PASSWORD_B64, TLS_KEY_B64[:40], "stringdata-plain-secret",
                   base64.b64encode(RSA_PEM.encode()).decode()[:40], "generic-hmac-secret", "abc-token-value",
                   "hunter2", "BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY"]:
        assert secret.encode() not in raw, secret
    assert b"/certs/tls.key" in raw and b"gateway-tls" in raw, "references stay"
    assert len(read_journal(tmp_path).events) == 6
