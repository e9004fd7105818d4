"""Envoy resources as proto JSON (lowerCamel field names): the ``envoy`` section of the translate document.

Separate from :mod:`gloo_nb.translate.gloo_json` because it speaks Envoy's proto names (through the
fast :func:`gloo_nb.translate.protojson.message_to_dict`), not Gloo's YAML names.
"""

from __future__ import annotations

from google.protobuf.message import Message

from gloo_nb._types import JSON
from gloo_nb.translate.envoy import EnvoyResources
from gloo_nb.translate.protojson import message_to_dict


def _proto_json(message: Message) -> JSON:
    result: JSON = message_to_dict(message)  # MessageToDict's output, several times faster
    return result


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

