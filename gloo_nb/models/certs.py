"""X.509 facts about PEM certificates, and the key-pair check Gloo runs on TLS secrets (pure).

What gloo_nb shows about a TLS secret is its certificate's SHA-256 fingerprint, subject, subject
alternative names and expiry, never the key. The key-pair check reproduces Go's
``tls.X509KeyPair`` outcomes with Go's own error texts, which Gloo (current) runs on every TLS
secret it reads (``projects/gloo/pkg/utils/ssl.go:cleanedSslKeyPair``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

__all__ = ["CertificateInfo", "certificate_info", "key_pair_problem"]

_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_PEM_KEY = re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----", re.S)


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """Public facts about the first certificate of a PEM chain.

    Attributes:
        fingerprint_sha256: SHA-256 of the DER certificate, lowercase hex.
        subject: The subject as an RFC 4514 string.
        sans: DNS names and IP addresses of the subjectAltName extension, in order.
        not_after: Expiry, RFC 3339 UTC (``2027-01-01T00:00:00Z``).
        chain_length: How many certificates the PEM holds.
    """

    fingerprint_sha256: str
    subject: str
    sans: tuple[str, ...]
    not_after: str
    chain_length: int = 1

    def as_json(self) -> dict[str, object]:
        """The facts as JSON (camelCase keys, as the rest of gloo_nb's JSON)."""
        return {"fingerprintSha256": self.fingerprint_sha256, "subject": self.subject, "sans": list(self.sans),
                "notAfter": self.not_after, "chainLength": self.chain_length}


def _certs(pem: str) -> list[x509.Certificate]:
    out = []
    for block in _PEM_CERT.findall(pem):
        try:
            out.append(x509.load_pem_x509_certificate(block.encode()))
        except ValueError:
            continue
    return out


def certificate_info(pem: str) -> CertificateInfo | None:
    """Describe the leaf (first) certificate of a PEM chain.

    Args:
        pem: PEM text, possibly several certificates.

    Returns:
        The facts, or None when the text holds no readable certificate.
    """
    certs = _certs(pem)
    if not certs:
        return None
    leaf = certs[0]
    sans: list[str] = []
    try:
        ext = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [*ext.get_values_for_type(x509.DNSName), *(str(ip) for ip in ext.get_values_for_type(x509.IPAddress))]
    except x509.ExtensionNotFound:
        pass
    return CertificateInfo(
        fingerprint_sha256=leaf.fingerprint(hashes.SHA256()).hex(),
        subject=leaf.subject.rfc4514_string(),
        sans=tuple(sans),
        not_after=leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        chain_length=len(certs),
    )


def key_pair_problem(cert_chain: str, private_key: str) -> str | None:
    """Go's ``tls.X509KeyPair`` verdict on a certificate chain and key, with Go's error texts.

    Args:
        cert_chain: PEM certificate chain.
        private_key: PEM private key.

    Returns:
        None when the pair is valid, else Go's message (``tls: private key does not match public key``...).
    """
    certs = _certs(cert_chain)
    if not certs:
        # crypto/tls X509KeyPair: no CERTIFICATE block at all
        return "tls: failed to find any PEM data in certificate input"
    match = _PEM_KEY.search(private_key)
    if match is None:
        return "tls: failed to find any PEM data in key input"
    try:
        key = serialization.load_pem_private_key(match.group(0).encode(), password=None)
    except (ValueError, TypeError):
        return "tls: failed to parse private key"
    public = certs[0].public_key()
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        mine = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        theirs = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if mine != theirs:
            return "tls: private key does not match public key"
        return None
    return "tls: unknown public key algorithm"
