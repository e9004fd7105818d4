"""Envoy resources as proto JSON (lowerCamel field names): the ``envoy`` section of the translate document.

Separate from :mod:`gloo_nb.translate.gloo_json` because it speaks Envoy's proto names (through the
fast :func:`gloo_nb.translate.protojson.message_to_dict`), not Gloo's YAML names.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from gloo_nb._types import JSON
from gloo_nb.models.certs import certificate_info
from gloo_nb.translate.envoy import EnvoyResources
from gloo_nb.translate.protojson import message_to_dict

REDACTED = "<redacted>"
"""What an inlined private key becomes in gloo_nb's JSON (the journal's redaction uses the same text)."""

_INLINE = ("inlineString", "inlineBytes")


def _summary(pem: str) -> str:
    info = certificate_info(pem)
    if info is None:
        return REDACTED
    return f"<certificate sha256:{info.fingerprint_sha256} subject:{info.subject} notAfter:{info.not_after}>"


def _redact(value: Any, parent: str = "") -> Any:
    # Gloo inlines the Secret's key into the TLS contexts it serves (ssl.go); gloo_nb's JSON keeps the
    # references (file names, SDS names) and shows certificates by fingerprint, never the key.
    if isinstance(value, dict):
        if parent in ("privateKey", "private_key") and any(k in value for k in _INLINE):
            return {k: (REDACTED if k in _INLINE else v) for k, v in value.items()}
        if parent in ("certificateChain", "trustedCa") and isinstance(value.get("inlineString"), str):
            return {**value, "inlineString": _summary(value["inlineString"])}
        return {k: _redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, parent) for v in value]
    return value


def _proto_json(message: Message) -> JSON:
    result: JSON = message_to_dict(message)  # MessageToDict's output, several times faster
    if _has_tls(message):
        redacted: JSON = _redact(result)
        return redacted
    return result


def _has_tls(message: Message) -> bool:
    # Only listeners and clusters carry transport sockets; route configurations are never walked.
    names = {f.name for f, _ in message.ListFields()}
    return bool(names & {"transport_socket", "transport_socket_matches"}) or any(
        fc.HasField("transport_socket") for fc in getattr(message, "filter_chains", ()))


def envoy_json(resources: EnvoyResources) -> JSON:
    """Return Envoy resources as proto JSON (lowerCamel field names).

    Args:
        resources: The resources.

    Returns:
        ``{listeners, routeConfigurations, clusters}``, plus ``endpoints`` when there are any.
    """
    out: JSON = {
        "listeners": [_proto_json(m) for m in resources.listeners],
        "routeConfigurations": [_proto_json(m) for m in resources.route_configurations],
        "clusters": [_proto_json(m) for m in resources.clusters],
    }
    if resources.endpoints:
        out["endpoints"] = [_proto_json(m) for m in resources.endpoints]
    return out

