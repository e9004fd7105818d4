"""The API server's credentials: a CA made at first start, a serving certificate it signs, and the admin token.

Kept in ``<state dir>/pki`` so a restarted sandbox serves with the same CA and accepts the same token: a
kubeconfig written before a restart stays valid. Keys and the token are written mode 0600, the directory 0700.
The credential is a bearer token (as a static token file gives a kube-apiserver), not a client certificate:
kubectl and the official Python client send it over HTTPS, port-forward's WebSocket included.
"""

from __future__ import annotations

import base64
import datetime
import hmac
import ipaddress
import os
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Credentials"]

_CA_DAYS = 3650  # kubeadm's CA lifetime
_SERVING_DAYS = 3650  # a sandbox is not rotated by an operator: as long as its CA
_RENEW_BEFORE = datetime.timedelta(days=30)


def _write_private(path: Path, data: bytes) -> None:
    # Created 0600 from the start (never briefly world-readable), then replaced atomically.
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _make_ca() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sandbox-ca")])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _make_serving(ca_cert_pem: bytes, ca_key_pem: bytes) -> tuple[bytes, bytes]:
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(min(now + datetime.timedelta(days=_SERVING_DAYS), ca_cert.not_valid_after_utc))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _usable(cert_path: Path, ca_pem: bytes | None = None) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    if cert.not_valid_after_utc - _RENEW_BEFORE < _now():
        return False
    if ca_pem is not None:
        try:
            cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
        except (ValueError, TypeError, InvalidSignature):
            return False
    return True


@dataclass(frozen=True, slots=True)
class Credentials:
    """The files of one API server's TLS and authentication.

    Attributes:
        directory: Where they are (``<state dir>/pki``).
        token: The admin's bearer token.
    """

    directory: Path
    token: str

    @property
    def ca_cert(self) -> Path:
        """The CA certificate (PEM) clients verify the server with."""
        return self.directory / "ca.crt"

    @property
    def server_cert(self) -> Path:
        """The serving certificate (PEM), SAN IP 127.0.0.1 and DNS localhost."""
        return self.directory / "apiserver.crt"

    @property
    def server_key(self) -> Path:
        """The serving certificate's private key (PEM, mode 0600)."""
        return self.directory / "apiserver.key"

    @classmethod
    def load_or_create(cls, directory: Path) -> Credentials:
        """Read the credentials in ``directory``, making what is missing (or expiring) first.

        The CA and the token are made once and then kept; the serving certificate is re-issued by the same CA
        when it is missing, unreadable or within 30 days of expiry, so existing kubeconfigs stay valid.

        Args:
            directory: e.g. ``<state dir>/pki``; created mode 0700.

        Returns:
            The credentials.
        """
        directory = Path(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        ca_cert, ca_key = directory / "ca.crt", directory / "ca.key"
        if not (ca_key.exists() and _usable(ca_cert)):
            cert_pem, key_pem = _make_ca()
            _write_private(ca_key, key_pem)
            ca_cert.write_bytes(cert_pem)
            (directory / "apiserver.crt").unlink(missing_ok=True)
        creds = cls(directory, "")
        if not (creds.server_key.exists() and _usable(creds.server_cert, ca_cert.read_bytes())):
            cert_pem, key_pem = _make_serving(ca_cert.read_bytes(), ca_key.read_bytes())
            _write_private(creds.server_key, key_pem)
            creds.server_cert.write_bytes(cert_pem)
        token_file = directory / "admin.token"
        token = token_file.read_text().strip() if token_file.exists() else ""
        if not token:
            token = secrets.token_urlsafe(32)
            _write_private(token_file, token.encode() + b"\n")
        return cls(directory, token)

    @classmethod
    def existing(cls, directory: Path) -> Credentials | None:
        """Read credentials a server made earlier, without making any (for clients such as ``sandbox status``).

        Args:
            directory: e.g. ``<state dir>/pki``.

        Returns:
            The credentials, or None when the CA or the token is missing.
        """
        directory = Path(directory)
        try:
            token = (directory / "admin.token").read_text().strip()
        except OSError:
            return None
        return cls(directory, token) if token and (directory / "ca.crt").exists() else None

    def is_admin_token(self, presented: str) -> bool:
        """Tell whether a bearer token is the admin's (in constant time).

        Args:
            presented: The token from an ``Authorization: Bearer`` header.

        Returns:
            True when it matches.
        """
        return hmac.compare_digest(presented.encode(), self.token.encode())

    def server_context(self) -> ssl.SSLContext:
        """Return the TLS context the API server listens with (TLS 1.2+, HTTP/1.1 only)."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.server_cert, self.server_key)
        # kubectl speaks HTTP/2 when offered; aiohttp serves HTTP/1.1 only (see notes/kubectl-wire.md §0.2).
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """Return a TLS context that trusts only the sandbox's CA (for Python callers outside kubectl)."""
        return ssl.create_default_context(cafile=str(self.ca_cert))

    def ca_data(self) -> str:
        """The CA certificate, base64-encoded as a kubeconfig's ``certificate-authority-data``."""
        return base64.b64encode(self.ca_cert.read_bytes()).decode()
