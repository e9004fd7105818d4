"""Redaction of secrets before anything reaches the journal (pure).

What is a secret here:

- the values of a Kubernetes ``Secret``'s ``data`` and ``stringData`` (any object with ``kind: Secret``, at any depth,
  or the object handed in with ``kind="Secret"``), its ``last-applied-configuration`` annotation (kubectl copies the
  whole Secret, values included, into it), JSON-patch operations on its ``/data`` or ``/stringData``, and for Gloo's
  own ``Secret`` CRD (``gloo.solo.io``) everything under ``spec``;
- the value of any key named, case-insensitively, ``privateKey``, ``private_key``, ``tls.key``, ``password``,
  ``token``, ``clientSecret`` or ``client_secret``. When that value is an Envoy ``DataSource`` (``inline_string``,
  ``inline_bytes``, ``inlineString``, ``inlineBytes``, as in config dumps: ``tls_certificates[].private_key``), the
  inline fields are redacted and references (``filename``, ``environment_variable``) kept;
- the ``secret`` DataSource of an Envoy ``generic_secret`` and the ``keys`` of ``session_ticket_keys``;
- a PEM private key block (``-----BEGIN ... PRIVATE KEY-----``) inside any string.

References to secrets are not secrets and stay: Gloo ``sslConfig.sslFiles`` (file paths), ``secretRef``
(name and namespace), SDS config names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REDACTED", "redact"]

REDACTED = "<redacted>"
"""What a redacted value is replaced with."""

_SECRET_KEYS = frozenset({"privatekey", "private_key", "tls.key", "password", "token", "clientsecret",
                          "client_secret"})
# Envoy DataSource fields that carry the bytes themselves (proto and JSON spellings).
_INLINE_KEYS = frozenset({"inline_string", "inline_bytes", "inlinestring", "inlinebytes"})
# Keys whose whole value is secret material, beyond the ones named above (Envoy).
_SECRET_CONTAINERS = frozenset({"generic_secret", "genericsecret", "session_ticket_keys", "sessionticketkeys"})
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_PEM = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL)


def redact(kind: str | None, obj: Any) -> Any:
    """Return a deep copy of ``obj`` with every secret replaced by ``"<redacted>"``.

    Args:
        kind: The Kubernetes kind of ``obj`` when the caller knows it and ``obj`` may not say so itself (e.g.
            ``"Secret"`` for a diff of a Secret, a list of JSON-patch operations); None otherwise. Objects carrying
            their own ``kind: Secret`` are recognised at any depth either way.
        obj: JSON-like data: mappings, lists, tuples, strings, numbers, booleans, None (other values are copied
            as they are).

    Returns:
        The redacted copy (mappings become dicts, tuples lists).
    """
    return _walk(obj, in_secret=kind == "Secret", gloo_secret=False)


def _walk(obj: Any, *, in_secret: bool, gloo_secret: bool) -> Any:
    kind = type(obj)
    if kind is str:
        return _redact_pem(obj)
    if kind is int or kind is float or kind is bool or obj is None:
        return obj
    if kind is dict or isinstance(obj, Mapping):
        if obj.get("kind") == "Secret":
            in_secret = True
            gloo_secret = str(obj.get("apiVersion", "")).startswith("gloo.solo.io/")
        if in_secret and _is_patch_op(obj):
            return _redact_patch_op(obj)
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            lowered = key.lower() if type(key) is str else key
            if lowered in _SECRET_KEYS:
                out[key] = _redact_value(value)
            elif lowered in _SECRET_CONTAINERS:
                out[key] = _redact_all(value)
            elif in_secret and key in ("data", "stringData"):
                out[key] = _redact_values(value)
            elif in_secret and gloo_secret and key == "spec":
                out[key] = _redact_all(value)
            elif in_secret and key == "annotations" and isinstance(value, Mapping):
                out[key] = {k: (REDACTED if k == _LAST_APPLIED else _walk(v, in_secret=False, gloo_secret=False))
                            for k, v in value.items()}
            elif type(value) is str and "PRIVATE KEY-----" not in value:
                out[key] = value  # the common leaf, without a call
            else:
                out[key] = _walk(value, in_secret=in_secret, gloo_secret=gloo_secret)
        return out
    if kind is list or kind is tuple or isinstance(obj, list | tuple):
        return [_walk(item, in_secret=in_secret, gloo_secret=gloo_secret) for item in obj]
    return obj


def _redact_pem(text: str) -> str:
    # The substring test keeps the common case (no key) off the regex engine.
    if "PRIVATE KEY-----" not in text:
        return text
    return _PEM.sub(REDACTED, text)


def _redact_value(value: Any) -> Any:
    """Redact the value of a secret-named key, keeping the references of a DataSource."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, inner in value.items():
            lowered = key.lower() if isinstance(key, str) else key
            if lowered in _INLINE_KEYS:
                out[key] = REDACTED
            elif lowered in ("filename", "environment_variable", "environmentvariable", "name", "namespace",
                             "secretref", "secret_ref"):
                # References (a path, a variable name, a Kubernetes ref) are kept; the PEM check still applies.
                out[key] = _walk(inner, in_secret=False, gloo_secret=False)
            else:
                out[key] = _redact_all(inner)
        return out
    return _redact_all(value)


def _redact_values(value: Any) -> Any:
    """Redact the values of a Secret's ``data``/``stringData`` (the key names are not secret)."""
    if isinstance(value, Mapping):
        return {key: REDACTED for key in value}
    return _redact_all(value)


def _redact_all(value: Any) -> Any:
    """Redact every leaf, keeping the shape (so a reader still sees which fields were set)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {key: _redact_all(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_all(item) for item in value]
    return REDACTED


def _is_patch_op(obj: Mapping[Any, Any]) -> bool:
    return isinstance(obj.get("op"), str) and isinstance(obj.get("path"), str)


def _redact_patch_op(op: Mapping[Any, Any]) -> dict[Any, Any]:
    # RFC 6902 operations on a Secret: the value of one touching its payload carries secret bytes.
    path: str = op["path"]
    out = {key: _walk(value, in_secret=False, gloo_secret=False) for key, value in op.items()}
    if "value" not in op:
        return out
    value = op["value"]
    if path in ("", "/", "/metadata", "/metadata/annotations"):
        # A whole object or its metadata: walk it as part of a Secret (payload and last-applied annotation).
        wrapped = {"annotations": value} if path == "/metadata/annotations" else value
        walked = _walk(wrapped, in_secret=True, gloo_secret=False)
        out["value"] = walked["annotations"] if path == "/metadata/annotations" else walked
    elif path in ("/data", "/stringData"):
        out["value"] = _redact_values(value)
    elif any(path.startswith(p + "/") for p in ("/data", "/stringData")) or path == "/spec" or \
            path.startswith("/spec/") or _LAST_APPLIED.replace("/", "~1") in path:
        out["value"] = _redact_all(value)
    return out
