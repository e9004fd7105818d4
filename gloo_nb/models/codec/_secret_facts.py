"""Secret facts: what gloo_nb may keep of a v1 Secret, as JSON, and back (pure).

A snapshot bundle's ``secrets.json``, a journal's ``kube.event`` of a Secret (``secretFacts``) and the
``secrets`` section of ``gloo-nb translate --json`` hold the same document per Secret: identity, type, Gloo's
TLS shape, the data key names, certificate facts, and which TLS parts were set with Go's key-pair verdict
(:meth:`gloo_nb.models.TlsSecret.facts`), computed where the data was at hand. Never the data. Reading it back
gives a *redacted* :class:`~gloo_nb.models.Secret` that the translator treats as present with that validity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gloo_nb.errors import ParseError
from gloo_nb.models.certs import CertificateInfo
from gloo_nb.models.resources import Location, ObjectMeta, Secret, TlsFacts

__all__ = ["GLOO_KIND_ANNOTATION", "parse_secret_facts", "secret_facts_json"]

GLOO_KIND_ANNOTATION = "resource_kind"
"""kubeconverters.GlooKindAnnotationKey: Gloo 1.3 reads Opaque secrets so annotated; kept in the facts."""

_TLS_SHAPES = ("kubernetes.io/tls", "gloo")


def secret_facts_json(secret: Secret) -> dict[str, Any]:
    """The facts document of a Secret (full or already redacted).

    Args:
        secret: The Secret.

    Returns:
        ``{namespace, name, type, tls, dataKeys, certificate?, caCertificate?, glooTls?, annotations?}``;
        ``glooTls`` (``hasCertChain``, ``hasPrivateKey``, ``hasRootCa``, ``hasOcspStaple``: booleans,
        ``keyPairProblem``: Go's error text or null) when the secret is a TLS secret whose payload is known. The
        key names avoid the names the journal's redaction blanks (``privateKey``...).
    """
    out: dict[str, Any] = {"namespace": secret.meta.namespace, "name": secret.meta.name, "type": secret.type,
                           "tls": secret.shape or None, "dataKeys": list(secret.data_keys)}
    if secret.certificate is not None:
        out["certificate"] = secret.certificate.as_json()
    if secret.ca_certificate is not None:
        out["caCertificate"] = secret.ca_certificate.as_json()
    facts = secret.facts if secret.redacted else (secret.tls.facts() if secret.tls is not None else None)
    if facts is not None:
        out["glooTls"] = {"hasCertChain": facts.cert_chain, "hasPrivateKey": facts.private_key,
                          "hasRootCa": facts.root_ca, "hasOcspStaple": facts.ocsp_staple,
                          "keyPairProblem": facts.key_pair_problem}
    kind = secret.meta.annotations.get(GLOO_KIND_ANNOTATION)
    if kind is not None:
        out["annotations"] = {GLOO_KIND_ANNOTATION: kind}
    return out


def _get(doc: Mapping[str, Any], key: str, expected: type | tuple[type, ...], where: str, file: str,
         document: int | None, default: Any = None) -> Any:
    value = doc.get(key, default)
    if value is None:
        return default
    if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        raise ParseError(f"expected {_name(expected)}, got {type(value).__name__}", file=file, document=document,
                         field=f"{where}{key}")
    return value


def _name(expected: type | tuple[type, ...]) -> str:
    names = {str: "a string", bool: "a boolean", list: "a list", dict: "an object"}
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(names.get(t, t.__name__) for t in types)


def _certificate(value: Any, where: str, file: str, document: int | None) -> CertificateInfo | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ParseError("expected an object", file=file, document=document, field=where.rstrip("."))
    sans = _get(value, "sans", list, where, file, document, [])
    if not all(isinstance(s, str) for s in sans):
        raise ParseError("expected a list of strings", file=file, document=document, field=f"{where}sans")
    length = value.get("chainLength", 1)
    if not isinstance(length, int) or isinstance(length, bool):
        raise ParseError("expected an integer", file=file, document=document, field=f"{where}chainLength")
    return CertificateInfo(
        fingerprint_sha256=_get(value, "fingerprintSha256", str, where, file, document, ""),
        subject=_get(value, "subject", str, where, file, document, ""), sans=tuple(sans),
        not_after=_get(value, "notAfter", str, where, file, document, ""), chain_length=length)


def parse_secret_facts(doc: Any, *, file: str = "<secret facts>", document: int | None = None,
                       where: str = "") -> Secret:
    """Read a facts document back as a redacted Secret.

    Args:
        doc: One document of :func:`secret_facts_json`'s shape.
        file: Where it was read, for errors.
        document: Its index there (``secrets.json[3]``), for errors.
        where: Field path prefix for errors (e.g. ``data.secretFacts.``).

    Returns:
        The Secret, ``redacted`` with no ``tls``; ``facts`` from ``glooTls``.

    Raises:
        ParseError: A field has the wrong type, or the name is missing.
    """
    if not isinstance(doc, Mapping):
        raise ParseError("expected an object", file=file, document=document, field=where.rstrip(".") or None)
    name = _get(doc, "name", str, where, file, document, "")
    if not name:
        raise ParseError("missing name", file=file, document=document, field=f"{where}name")
    shape = _get(doc, "tls", str, where, file, document, "")
    if shape and shape not in _TLS_SHAPES:
        raise ParseError(f"expected one of {', '.join(_TLS_SHAPES)} or null", file=file, document=document,
                         field=f"{where}tls")
    keys = _get(doc, "dataKeys", list, where, file, document, [])
    annotations = _get(doc, "annotations", dict, where, file, document, {})
    facts = None
    gloo = _get(doc, "glooTls", dict, where, file, document)
    if gloo is not None:
        sub = f"{where}glooTls."
        facts = TlsFacts(cert_chain=_get(gloo, "hasCertChain", bool, sub, file, document, False),
                         private_key=_get(gloo, "hasPrivateKey", bool, sub, file, document, False),
                         root_ca=_get(gloo, "hasRootCa", bool, sub, file, document, False),
                         ocsp_staple=_get(gloo, "hasOcspStaple", bool, sub, file, document, False),
                         key_pair_problem=_get(gloo, "keyPairProblem", str, sub, file, document))
    meta = ObjectMeta(name=name, namespace=_get(doc, "namespace", str, where, file, document, ""),
                      annotations={str(k): str(v) for k, v in annotations.items() if k == GLOO_KIND_ANNOTATION},
                      location=Location(file, document))
    return Secret(meta=meta, type=_get(doc, "type", str, where, file, document, "Opaque"), shape=shape,
                  certificate=_certificate(doc.get("certificate"), f"{where}certificate.", file, document),
                  ca_certificate=_certificate(doc.get("caCertificate"), f"{where}caCertificate.", file, document),
                  data_keys=tuple(str(k) for k in keys), redacted=True, facts=facts)
