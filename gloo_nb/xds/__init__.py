"""The xDS adapter: an ADS shadow-node client, an Envoy admin reader, and decoding of Envoy config into rows.

``protos`` imports every pb2 module needed to resolve ``Any``; ``decode`` is pure; ``client`` (gRPC) and
``admin`` (HTTP) are the only modules here that do I/O.
"""

from gloo_nb.xds.admin import ConfigDump, EnvoyAdmin, EnvoyAdminError, TypeStats, XdsStats, stat_name
from gloo_nb.xds.client import AdsClient, XdsClientError, XdsUpdate
from gloo_nb.xds.decode import ClusterRow, EndpointRow, ListenerRow, RouteRow, ServedSnapshot, route_rows

__all__ = [
    "AdsClient",
    "ClusterRow",
    "ConfigDump",
    "EndpointRow",
    "EnvoyAdmin",
    "EnvoyAdminError",
    "ListenerRow",
    "RouteRow",
    "ServedSnapshot",
    "TypeStats",
    "XdsClientError",
    "XdsStats",
    "XdsUpdate",
    "route_rows",
    "stat_name",
]
