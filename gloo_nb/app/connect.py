"""``gloo_nb.connect(...)``: one gateway seen through Kubernetes, the xDS stream and every Envoy replica.

A :class:`GatewayConnection` reads what Kubernetes holds (intent, translated with the running
Gloo's profile), what the control plane serves (a shadow ADS node with the proxy's role) and what
each replica applied (its admin API), and puts them side by side as frames and as the
``gloo-nb inspect`` document. On a cluster, the Envoy admin APIs (and, when no address is given,
the control plane's xDS port) are reached through port-forwards opened via the Kubernetes API.

The connection is built from modules of one responsibility each: :mod:`gloo_nb.app.gateway` (the
:class:`GatewayConnection` that reads), :mod:`gloo_nb.app.cluster` (:func:`connect` to a Kubernetes cluster) and
:mod:`gloo_nb.app.sandbox_connect` (:func:`connect_sandbox`). This module is their public face.
"""

from gloo_nb.analysis.inspection import Inspection
from gloo_nb.app.cluster import ADMIN_PORT, GATEWAY_PORT, XDS_PORT, connect, profile_from_image
from gloo_nb.app.gateway import DEFAULT_ROLE, GLOO_KINDS, KUBE_KINDS, GatewayConnection, GatewayUnreachable, Replica
from gloo_nb.app.sandbox_connect import connect_sandbox, read_sandbox_endpoints

__all__ = [
    "ADMIN_PORT",
    "DEFAULT_ROLE",
    "GATEWAY_PORT",
    "GLOO_KINDS",
    "KUBE_KINDS",
    "XDS_PORT",
    "GatewayConnection",
    "GatewayUnreachable",
    "Inspection",
    "Replica",
    "connect",
    "connect_sandbox",
    "profile_from_image",
    "read_sandbox_endpoints",
]
