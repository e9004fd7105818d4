"""Test certificates made at test time (a CA and server certificates) and TLS Secret manifests.

No private key is ever committed: every key here is generated when a test runs.
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOT_AFTER = datetime.datetime(2036, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Pem:
    """A certificate and its key, as PEM text."""

    cert: str
    key: str
    fingerprint: str


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@cache
def _ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(_name("gloo-nb test CA")).issuer_name(_name("gloo-nb test CA"))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def ca_pem() -> str:
    """The test CA's certificate (PEM)."""
    return _ca()[0].public_bytes(serialization.Encoding.PEM).decode()


@cache
def server(cn: str, *sans: str) -> Pem:
    """A server certificate signed by the test CA, with DNS SANs (the CN when none are given).

    Args:
        cn: Common name.
        *sans: DNS subject alternative names.

    Returns:
        The certificate and key as PEM, and the certificate's SHA-256 fingerprint (hex).
    """
    ca, ca_key = _ca()
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(NOT_AFTER)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in (sans or (cn,))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return Pem(cert=cert.public_bytes(serialization.Encoding.PEM).decode(),
               key=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode(),
               fingerprint=cert.fingerprint(hashes.SHA256()).hex())


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def kube_tls_secret(name: str, namespace: str, pem: Pem, *, ca: str = "") -> dict[str, Any]:
    """A ``kubernetes.io/tls`` Secret manifest.

    Args:
        name: Secret name.
        namespace: Namespace.
        pem: Certificate and key.
        ca: Optional ``ca.crt``.

    Returns:
        The manifest.
    """
    data = {"tls.crt": _b64(pem.cert), "tls.key": _b64(pem.key)}
    if ca:
        data["ca.crt"] = _b64(ca)
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace}, "data": data}


def gloo_tls_secret(name: str, namespace: str, pem: Pem, *, ca: str = "") -> dict[str, Any]:
    """Gloo's own TLS secret shape: Opaque, ``resource_kind: '*v1.Secret'``, YAML under ``tls``.

    Args:
        name: Secret name.
        namespace: Namespace.
        pem: Certificate and key.
        ca: Optional root CA.

    Returns:
        The manifest.
    """
    def block(text: str) -> str:
        return "|\n" + "".join("  " + line + "\n" for line in text.strip().splitlines())

    tls = f"certChain: {block(pem.cert)}privateKey: {block(pem.key)}"
    if ca:
        tls += f"rootCa: {block(ca)}"
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, "annotations": {"resource_kind": "*v1.Secret"}},
            "data": {"tls": _b64(tls)}}
