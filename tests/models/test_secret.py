"""The codec's v1 Secret: Gloo's two TLS shapes, certificate facts, and no key material in any printed form."""

from __future__ import annotations

import base64

import pytest
from tlskit import ca_pem, gloo_tls_secret, kube_tls_secret, server

from gloo_nb.errors import ParseError
from gloo_nb.models import Snapshot
from gloo_nb.models.certs import certificate_info, key_pair_problem
from gloo_nb.models.codec import parse_objects
from gloo_nb.models.resources import Secret

pytestmark = pytest.mark.unit


def _one(doc: dict) -> Secret:
    result = parse_objects([doc])
    assert not [f for f in result.findings if f.severity == "error"]
    (secret,) = result.resources
    assert isinstance(secret, Secret)
    return secret


def test_kube_tls_secret_shape_and_certificate_facts() -> None:
    """secretconverter.go TLSSecretConverter: tls.crt, tls.key and ca.crt of a kubernetes.io/tls Secret."""
    pem = server("api.example.com", "api.example.com", "*.api.example.com")
    secret = _one(kube_tls_secret("tls", "gloo-system", pem, ca=ca_pem()))
    assert secret.shape == "kubernetes.io/tls"
    assert secret.tls is not None
    assert secret.tls.cert_chain == pem.cert and secret.tls.private_key == pem.key
    assert secret.tls.root_ca == ca_pem()
    assert secret.certificate is not None
    assert secret.certificate.fingerprint_sha256 == pem.fingerprint
    assert secret.certificate.sans == ("api.example.com", "*.api.example.com")
    assert secret.certificate.subject == "CN=api.example.com"
    assert secret.certificate.not_after == "2036-01-01T00:00:00Z"
    assert secret.ca_certificate is not None and secret.ca_certificate.subject == "CN=gloo-nb test CA"
    assert secret.data_keys == ("ca.crt", "tls.crt", "tls.key")


def test_gloo_own_tls_secret_shape() -> None:
    """opaque_secret_test.go "correctly converts an opaque valid TLS secret to a gloo TLS secret"."""
    pem = server("gloo.example.com")
    secret = _one(gloo_tls_secret("legacy", "gloo-system", pem, ca=ca_pem()))
    assert secret.shape == "gloo"
    assert secret.tls is not None
    assert secret.tls.cert_chain.strip() == pem.cert.strip()
    assert secret.tls.private_key.strip() == pem.key.strip()
    assert secret.tls.root_ca.strip() == ca_pem().strip()
    assert secret.certificate is not None and secret.certificate.fingerprint_sha256 == pem.fingerprint


def test_invalid_gloo_tls_payload_is_not_a_tls_secret() -> None:
    """opaque_secret_test.go "does not convert a secret with invalid tls data"."""
    doc = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": "foo", "namespace": "bar", "annotations": {"resource_kind": "*v1.Secret"}},
           "data": {"tls": base64.b64encode(b"just some stuff").decode()}}
    result = parse_objects([doc])
    (secret,) = result.resources
    assert isinstance(secret, Secret) and secret.tls is None and secret.shape == ""
    assert any("Gloo ignores this secret" in f.message for f in result.findings)


def test_string_data_and_plain_opaque_secret() -> None:
    pem = server("s.example.com")
    doc = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
           "metadata": {"name": "s", "namespace": "ns"}, "stringData": {"tls.crt": pem.cert, "tls.key": pem.key}}
    assert _one(doc).certificate is not None
    plain = _one({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "p", "namespace": "ns"},
                  "data": {"password": base64.b64encode(b"hunter2").decode()}})
    assert plain.tls is None and plain.type == "Opaque" and plain.data_keys == ("password",)


def test_bad_base64_names_the_field_and_not_the_value() -> None:
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
           "data": {"tls.key": "not*base64-SECRETVALUE"}}
    with pytest.raises(ParseError) as err:
        parse_objects([doc])
    text = str(err.value)
    assert "data" in text and "tls.key" in text and "SECRETVALUE" not in text
    assert "\n" not in text


def test_key_material_never_in_repr() -> None:
    pem = server("r.example.com")
    doc = kube_tls_secret("tls", "ns", pem)
    doc["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": str(doc["data"])}
    secret = _one(doc)
    snap = Snapshot.from_resources([secret])
    body = pem.key.splitlines()[1]
    for text in (repr(secret), str(secret), repr(snap), repr(secret.tls)):
        assert "PRIVATE KEY" not in text and body not in text
        assert doc["data"]["tls.key"] not in text
    assert snap.secrets == (secret,)
    # kubectl's last-applied annotation copies the data: it is dropped from the model
    assert "kubectl.kubernetes.io/last-applied-configuration" not in secret.meta.annotations


def test_key_pair_problem_uses_go_texts() -> None:
    """Go crypto/tls X509KeyPair errors, as Gloo's cleanedSslKeyPair returns them."""
    a, b = server("a.example.com"), server("b.example.com")
    assert key_pair_problem(a.cert, a.key) is None
    assert key_pair_problem(a.cert, b.key) == "tls: private key does not match public key"
    assert key_pair_problem("garbage", a.key) == "tls: failed to find any PEM data in certificate input"
    assert key_pair_problem(a.cert, "garbage") == "tls: failed to find any PEM data in key input"
    assert certificate_info("garbage") is None
