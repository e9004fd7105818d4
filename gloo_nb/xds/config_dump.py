"""Decoding one Envoy replica's ``/config_dump`` into what it applied: pure, no HTTP.

Facts this module relies on (Envoy 1.40, ``notes/runtime.md``):

* ``/config_dump`` is JSON only. A RouteConfiguration that Envoy rejected is NOT in it (no ``error_state``): only
  the ``update_rejected`` counters and the ``version_text`` readouts show it (:mod:`gloo_nb.xds.xds_stats`).
  A rejected listener shows ``error_state`` on its dynamic listener entry.

Gloo's own filter types are not in xds-protos: their ``Any`` values are decoded tolerantly (kept as a
``google.protobuf.Struct`` carrying ``@unresolvedType``) and listed in :attr:`ConfigDump.unresolved_types`; so is
a value of a type gloo_nb registered only in part (:func:`gloo_nb.xds.protos.stand_in_fields`) that holds fields
beyond that part, rather than losing them.
Separate from :mod:`gloo_nb.xds.admin` (the HTTP client) so that a snapshot bundle's saved dumps decode the same
way without an Envoy to ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from envoy.admin.v3 import config_dump_shared_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from google.protobuf import json_format
from google.protobuf.message import Message

from gloo_nb.xds import protos
from gloo_nb.xds.decode import ServedSnapshot
from gloo_nb.xds.protos import TYPE_CLUSTER, TYPE_LISTENER, TYPE_ROUTE

__all__ = ["UNRESOLVED_KEY", "ClusterState", "ConfigDump", "ListenerState", "RouteConfigState", "parse_config_dump"]

_STRUCT_URL = "type.googleapis.com/google.protobuf.Struct"
UNRESOLVED_KEY = "@unresolvedType"


@dataclass(frozen=True)
class ListenerState:
    """One dynamic listener of a config dump.

    Attributes:
        name: Listener name.
        version_info: LDS version of the active (else warming) state.
        last_updated: RFC 3339 time of that state, ``""`` when absent.
        active: The active listener, or None.
        warming: The warming listener, or None.
        error_state: ``{"failedConfiguration", "lastUpdateAttempt", "details"}`` when Envoy rejected the last
            update of this listener, else None.
    """

    name: str
    version_info: str
    last_updated: str
    active: listener_pb2.Listener | None
    warming: listener_pb2.Listener | None
    error_state: dict[str, Any] | None


@dataclass(frozen=True)
class RouteConfigState:
    """One dynamic route configuration of a config dump.

    Attributes:
        name: RouteConfiguration name.
        version_info: RDS version Envoy applied.
        last_updated: RFC 3339 time.
        route_config: The RouteConfiguration.
    """

    name: str
    version_info: str
    last_updated: str
    route_config: route_pb2.RouteConfiguration


@dataclass(frozen=True)
class ClusterState:
    """One dynamic cluster of a config dump.

    Attributes:
        name: Cluster name.
        version_info: CDS version of that cluster.
        last_updated: RFC 3339 time.
        cluster: The Cluster.
        warming: Whether the cluster is still warming.
        error_state: Error state when present, else None.
    """

    name: str
    version_info: str
    last_updated: str
    cluster: cluster_pb2.Cluster
    warming: bool = False
    error_state: dict[str, Any] | None = None


@dataclass(frozen=True)
class ConfigDump:
    """A decoded ``/config_dump``.

    Attributes:
        node_id: ``bootstrap.node.id`` (``""`` when the bootstrap was masked out).
        lds_version: ``version_info`` of the last processed LDS response.
        cds_version: ``version_info`` of the last processed CDS response.
        listeners: Dynamic listeners.
        route_configs: Dynamic route configurations (rejected ones are never here).
        clusters: Dynamic clusters (active and warming).
        static_clusters: Clusters from the bootstrap.
        endpoints: Dynamic ClusterLoadAssignments (only with ``include_eds``).
        unresolved_types: ``Any`` type URLs that could not be decoded (e.g. Gloo's own filters).
        raw: The JSON as Envoy sent it.
    """

    node_id: str = ""
    lds_version: str = ""
    cds_version: str = ""
    listeners: list[ListenerState] = field(default_factory=list)
    route_configs: list[RouteConfigState] = field(default_factory=list)
    clusters: list[ClusterState] = field(default_factory=list)
    static_clusters: list[cluster_pb2.Cluster] = field(default_factory=list)
    endpoints: list[endpoint_pb2.ClusterLoadAssignment] = field(default_factory=list)
    unresolved_types: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def applied(self) -> ServedSnapshot:
        """Return what the replica applied in the shape of a served snapshot.

        Listeners are the active ones; versions are the ones Envoy reports (LDS and CDS from the dump; RDS and
        EDS from the most recently updated route configuration or assignment with a version).

        Returns:
            The snapshot, resources sorted by name.
        """
        versions: dict[str, str] = {}
        if self.lds_version or self.listeners:
            versions[TYPE_LISTENER] = self.lds_version
        if self.cds_version or self.clusters:
            versions[TYPE_CLUSTER] = self.cds_version
        routes = sorted(self.route_configs, key=lambda r: (r.last_updated, r.version_info))
        if routes:
            versions[TYPE_ROUTE] = routes[-1].version_info
        return ServedSnapshot(
            listeners=sorted((ls.active for ls in self.listeners if ls.active is not None), key=lambda m: m.name),
            route_configurations=sorted((r.route_config for r in self.route_configs), key=lambda m: m.name),
            clusters=sorted((c.cluster for c in self.clusters if not c.warming), key=lambda m: m.name),
            endpoints=sorted(self.endpoints, key=lambda m: m.cluster_name),
            versions=versions,
        )

    def listener(self, name: str) -> ListenerState | None:
        """Return the dynamic listener called ``name``, or None."""
        return next((ls for ls in self.listeners if ls.name == name), None)

    def route_config(self, name: str) -> RouteConfigState | None:
        """Return the dynamic route configuration called ``name``, or None."""
        return next((r for r in self.route_configs if r.name == name), None)


def _tolerant(value: Any, unresolved: set[str]) -> Any:
    # json_format fails on an Any whose type is not in the descriptor pool; keep such a value as a Struct.
    if isinstance(value, dict):
        url = value.get("@type")
        known = protos.stand_in_fields(url) if isinstance(url, str) else None
        if isinstance(url, str) and (not protos.resolvable(url) or (
                # a partial stand-in gloo_nb registered (Gloo's transformation filter): content beyond its known
                # fields would be dropped by the parse, so the value stays whole, unresolved
                known is not None and not set(value) - {"@type"} <= known)):
            unresolved.add(url)
            rest = {k: _tolerant(v, unresolved) for k, v in value.items() if k != "@type"}
            return {"@type": _STRUCT_URL, "value": {UNRESOLVED_KEY: url, **rest}}
        return {k: _tolerant(v, unresolved) for k, v in value.items()}
    if isinstance(value, list):
        return [_tolerant(v, unresolved) for v in value]
    return value


def _parse(doc: Mapping[str, Any], cls: type[Message], unresolved: set[str]) -> Any:
    msg = cls()
    json_format.ParseDict(_tolerant(dict(doc), unresolved), msg, ignore_unknown_fields=True)
    return msg


def _unpack(any_msg: Any, cls: type[Message]) -> Any:
    msg = cls()
    if any_msg.type_url and any_msg.Unpack(msg):
        return msg
    return None


def _error_state(state: Any) -> dict[str, Any] | None:
    if not state.ByteSize():
        return None
    return {"details": state.details,
            "lastUpdateAttempt": state.last_update_attempt.ToJsonString() if state.HasField("last_update_attempt")
            else ""}


def _time(msg: Any, name: str = "last_updated") -> str:
    return getattr(msg, name).ToJsonString() if msg.HasField(name) else ""


def parse_config_dump(doc: Mapping[str, Any]) -> ConfigDump:
    """Decode a ``/config_dump`` JSON document (whole, masked or filtered with ``resource=``).

    Args:
        doc: The JSON, ``{"configs": [...]}``.

    Returns:
        The decoded dump; sections that are absent stay empty.
    """
    unresolved: set[str] = set()
    node_id = lds_version = cds_version = ""
    listeners: list[ListenerState] = []
    routes: list[RouteConfigState] = []
    clusters: list[ClusterState] = []
    static_clusters: list[cluster_pb2.Cluster] = []
    endpoints: list[endpoint_pb2.ClusterLoadAssignment] = []

    def add_listener(dl: Any) -> None:
        active = _unpack(dl.active_state.listener, listener_pb2.Listener) if dl.HasField("active_state") else None
        warming = (_unpack(dl.warming_state.listener, listener_pb2.Listener)
                   if dl.HasField("warming_state") else None)
        state = dl.active_state if dl.HasField("active_state") else dl.warming_state
        error = None
        if dl.HasField("error_state"):
            error = _error_state(dl.error_state) or {}
            if dl.error_state.HasField("failed_configuration"):
                error["failedConfiguration"] = dl.error_state.failed_configuration.type_url
        listeners.append(ListenerState(dl.name, state.version_info, _time(state), active, warming, error))

    def add_route(dr: Any) -> None:
        rc = _unpack(dr.route_config, route_pb2.RouteConfiguration)
        if rc is not None:
            routes.append(RouteConfigState(rc.name, dr.version_info, _time(dr), rc))

    def add_cluster(dc: Any, warming: bool) -> None:
        c = _unpack(dc.cluster, cluster_pb2.Cluster)
        if c is not None:
            err = _error_state(dc.error_state) if dc.HasField("error_state") else None
            clusters.append(ClusterState(c.name, dc.version_info, _time(dc), c, warming, err))

    def add_endpoint(de: Any) -> None:
        cla = _unpack(de.endpoint_config, endpoint_pb2.ClusterLoadAssignment)
        if cla is not None:
            endpoints.append(cla)

    admin = "type.googleapis.com/envoy.admin.v3."
    for config in doc.get("configs", []):
        url = config.get("@type", "")
        body = {k: v for k, v in config.items() if k != "@type"}
        if url == admin + "BootstrapConfigDump":
            node_id = str(config.get("bootstrap", {}).get("node", {}).get("id", ""))
        elif url == admin + "ListenersConfigDump":
            dump = _parse(body, config_dump_shared_pb2.ListenersConfigDump, unresolved)
            lds_version = dump.version_info
            for dl in dump.dynamic_listeners:
                add_listener(dl)
        elif url == admin + "ListenersConfigDump.DynamicListener":
            add_listener(_parse(body, config_dump_shared_pb2.ListenersConfigDump.DynamicListener, unresolved))
        elif url == admin + "RoutesConfigDump":
            dump = _parse(body, config_dump_shared_pb2.RoutesConfigDump, unresolved)
            for dr in dump.dynamic_route_configs:
                add_route(dr)
        elif url == admin + "RoutesConfigDump.DynamicRouteConfig":
            add_route(_parse(body, config_dump_shared_pb2.RoutesConfigDump.DynamicRouteConfig, unresolved))
        elif url == admin + "ClustersConfigDump":
            dump = _parse(body, config_dump_shared_pb2.ClustersConfigDump, unresolved)
            cds_version = dump.version_info
            for sc in dump.static_clusters:
                c = _unpack(sc.cluster, cluster_pb2.Cluster)
                if c is not None:
                    static_clusters.append(c)
            for dc in dump.dynamic_active_clusters:
                add_cluster(dc, False)
            for dc in dump.dynamic_warming_clusters:
                add_cluster(dc, True)
        elif url == admin + "ClustersConfigDump.DynamicCluster":
            add_cluster(_parse(body, config_dump_shared_pb2.ClustersConfigDump.DynamicCluster, unresolved), False)
        elif url == admin + "EndpointsConfigDump":
            dump = _parse(body, config_dump_shared_pb2.EndpointsConfigDump, unresolved)
            for de in dump.dynamic_endpoint_configs:
                add_endpoint(de)
        elif url == admin + "EndpointsConfigDump.DynamicEndpointConfig":
            add_endpoint(_parse(body, config_dump_shared_pb2.EndpointsConfigDump.DynamicEndpointConfig, unresolved))
    return ConfigDump(node_id, lds_version, cds_version, listeners, routes, clusters, static_clusters, endpoints,
                      tuple(sorted(unresolved)), dict(doc))
