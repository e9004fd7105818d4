"""A reader for one Envoy replica's admin API: what the replica applied, and how its xDS updates went.

Facts this module relies on (Envoy 1.40, ``notes/runtime.md``):

* ``/config_dump`` is JSON only. A RouteConfiguration that Envoy rejected is NOT in it (no ``error_state``): only
  the ``update_rejected`` counters and the ``version_text`` readouts show it. A rejected listener shows
  ``error_state`` on its dynamic listener entry.
* Stat names replace ``:`` with ``_`` (``listener-::-8080-routes`` -> ``listener-__-8080-routes``); see
  :func:`stat_name`.
* ``/stats?format=json`` lists counters and gauges with integer values and text readouts (``*.version_text``)
  with string values.

Gloo's own filter types are not in xds-protos: their ``Any`` values are decoded tolerantly (kept as a
``google.protobuf.Struct`` carrying ``@unresolvedType``) and listed in :attr:`ConfigDump.unresolved_types`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import urllib.error
import urllib.parse
import urllib.request
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

from gloo_nb.errors import UnreachableError
from gloo_nb.xds import protos
from gloo_nb.xds.decode import ServedSnapshot
from gloo_nb.xds.protos import TYPE_CLUSTER, TYPE_LISTENER, TYPE_ROUTE

__all__ = [
    "ClusterHosts",
    "ClusterState",
    "ConfigDump",
    "EnvoyAdmin",
    "EnvoyAdminError",
    "HostStatus",
    "ListenerState",
    "RouteConfigState",
    "ServerInfo",
    "TypeStats",
    "XdsStats",
    "parse_config_dump",
    "parse_xds_stats",
    "stat_name",
]

_STRUCT_URL = "type.googleapis.com/google.protobuf.Struct"
UNRESOLVED_KEY = "@unresolvedType"


class EnvoyAdminError(UnreachableError):
    """An Envoy admin API did not answer as expected: check that the replica runs and its admin address."""


def stat_name(name: str) -> str:
    """Return a resource name as it appears in Envoy stat names (``:`` becomes ``_``).

    Args:
        name: e.g. ``listener-::-8080-routes``.

    Returns:
        e.g. ``listener-__-8080-routes``.
    """
    return name.replace(":", "_")


# --- config dump ------------------------------------------------------------------------------------


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
        if isinstance(url, str) and not protos.resolvable(url):
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


# --- stats ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeStats:
    """xDS update counters of one subscription (CDS, LDS, one RDS route config or one EDS cluster).

    Attributes:
        update_attempt: Responses received.
        update_success: Responses applied.
        update_rejected: Responses rejected (NACKed).
        update_failure: Network failures of the subscription.
        version: Hash of the applied version (Envoy's ``version`` gauge).
        version_text: The applied ``version_info`` itself (the ``version_text`` readout), ``""`` when absent.
    """

    update_attempt: int = 0
    update_success: int = 0
    update_rejected: int = 0
    update_failure: int = 0
    version: int = 0
    version_text: str = ""


@dataclass(frozen=True)
class XdsStats:
    """A replica's xDS health from ``/stats``.

    Attributes:
        connected: ``control_plane.connected_state`` (None when the stat is absent).
        cds: Cluster discovery.
        lds: Listener discovery.
        rds: Per route configuration, keyed by its stat name (see :func:`stat_name`).
        eds: Per EDS cluster, keyed by its stat name.
    """

    connected: bool | None
    cds: TypeStats
    lds: TypeStats
    rds: dict[str, TypeStats]
    eds: dict[str, TypeStats]

    def route(self, route_config_name: str) -> TypeStats | None:
        """Return the RDS stats of a route configuration by its real name (``:`` allowed), or None."""
        return self.rds.get(stat_name(route_config_name))

    def subscriptions(self) -> dict[str, TypeStats]:
        """Return every subscription flat: ``cds``, ``lds``, ``rds/<route config>``, ``eds/<cluster>`` (stat names).

        Returns:
            Subscription -> its counters, e.g. ``{"rds/listener-__-8080-routes": TypeStats(...)}``.
        """
        return {"cds": self.cds, "lds": self.lds, **{f"rds/{k}": v for k, v in self.rds.items()},
                **{f"eds/{k}": v for k, v in self.eds.items()}}

    def as_json(self) -> dict[str, Any]:
        """Return the stats as JSON-ready dicts (for the snapshot bundle and ``--json`` output).

        Returns:
            ``{"connected", "cds", "lds", "rds": {name: {...}}, "eds": {name: {...}}}`` with the
            :class:`TypeStats` field names.
        """
        return {"connected": self.connected, "cds": dataclasses.asdict(self.cds), "lds": dataclasses.asdict(self.lds),
                "rds": {k: dataclasses.asdict(v) for k, v in self.rds.items()},
                "eds": {k: dataclasses.asdict(v) for k, v in self.eds.items()}}

    @property
    def rejected(self) -> int:
        """Rejected updates over every subscription."""
        return (self.cds.update_rejected + self.lds.update_rejected + sum(s.update_rejected for s in self.rds.values())
                + sum(s.update_rejected for s in self.eds.values()))


_TYPE_FIELDS = ("update_attempt", "update_success", "update_rejected", "update_failure", "version", "version_text")
_RDS = re.compile(r"^http\.(?:.+)\.rds\.(.+)\.(" + "|".join(_TYPE_FIELDS) + r")$")
_EDS = re.compile(r"^cluster\.(.+)\.(" + "|".join(_TYPE_FIELDS) + r")$")


def _type_stats(values: Mapping[str, Any]) -> TypeStats:
    def num(key: str) -> int:
        return int(values.get(key, 0))

    return TypeStats(num("update_attempt"), num("update_success"), num("update_rejected"), num("update_failure"),
                     num("version"), str(values.get("version_text", "")))


def parse_xds_stats(stats: Mapping[str, int | str]) -> XdsStats:
    """Extract the xDS subscription stats from a ``stats()`` dict.

    Args:
        stats: Stat name -> value.

    Returns:
        Per type and resource counters, versions and the control plane connection.
    """
    cds: dict[str, Any] = {}
    lds: dict[str, Any] = {}
    rds: dict[str, dict[str, Any]] = {}
    eds: dict[str, dict[str, Any]] = {}
    for name, value in stats.items():
        if name.startswith("cluster_manager.cds."):
            cds[name[len("cluster_manager.cds."):]] = value
        elif name.startswith("listener_manager.lds."):
            lds[name[len("listener_manager.lds."):]] = value
        elif name.startswith("http.") and (m := _RDS.match(name)):
            rds.setdefault(m.group(1), {})[m.group(2)] = value
        elif name.startswith("cluster.") and (m := _EDS.match(name)):
            eds.setdefault(m.group(1), {})[m.group(2)] = value
    connected = stats.get("control_plane.connected_state")
    return XdsStats(
        connected=None if connected is None else bool(int(connected)),
        cds=_type_stats(cds),
        lds=_type_stats(lds),
        rds={k: _type_stats(v) for k, v in sorted(rds.items())},
        # Only subscriptions count rejections; static clusters have membership counters without them.
        eds={k: _type_stats(v) for k, v in sorted(eds.items()) if "update_rejected" in v},
    )


# --- clusters --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostStatus:
    """One host of a cluster in ``/clusters``.

    Attributes:
        address: ``host:port`` or a pipe path.
        health: ``eds_health_status`` (``HEALTHY``, ``UNHEALTHY``...), ``HEALTHY`` when Envoy reports none.
        failed: Failure flags Envoy set (e.g. ``failed_active_health_check``).
        weight: Load balancing weight.
        stats: Host counters (``rq_total``, ``rq_success``...).
    """

    address: str
    health: str
    failed: tuple[str, ...]
    weight: int
    stats: dict[str, int]


@dataclass(frozen=True)
class ClusterHosts:
    """One cluster in ``/clusters``.

    Attributes:
        name: Cluster name.
        added_via_api: Whether CDS added it.
        eds_service_name: The EDS name, ``""`` for non-EDS clusters.
        hosts: Its hosts.
    """

    name: str
    added_via_api: bool
    eds_service_name: str
    hosts: list[HostStatus]


def _host_address(addr: Mapping[str, Any]) -> str:
    if "socket_address" in addr:
        sa = addr["socket_address"]
        return f"{sa.get('address', '')}:{sa.get('port_value', 0)}"
    if "pipe" in addr:
        return str(addr["pipe"].get("path", ""))
    return json.dumps(addr, sort_keys=True)


def _clusters(doc: Mapping[str, Any]) -> list[ClusterHosts]:
    out = []
    for cs in doc.get("cluster_statuses", []):
        hosts = []
        for h in cs.get("host_statuses", []):
            hs = h.get("health_status", {})
            hosts.append(HostStatus(
                address=_host_address(h.get("address", {})),
                health=str(hs.get("eds_health_status", "HEALTHY")),
                failed=tuple(sorted(k for k, v in hs.items() if k != "eds_health_status" and v is True)),
                weight=int(h.get("weight", 0)),
                stats={s["name"]: int(s.get("value", 0)) for s in h.get("stats", []) if "name" in s},
            ))
        out.append(ClusterHosts(cs.get("name", ""), bool(cs.get("added_via_api", False)),
                                cs.get("eds_service_name", ""), hosts))
    return out


@dataclass(frozen=True)
class ServerInfo:
    """``/server_info``.

    Attributes:
        node_id: ``node.id``.
        state: ``LIVE``, ``DRAINING``, ``PRE_INITIALIZING`` or ``INITIALIZING``.
        version: Envoy's build version string.
        raw: The JSON.
    """

    node_id: str
    state: str
    version: str
    raw: dict[str, Any] = field(repr=False)


# --- the reader -------------------------------------------------------------------------------------


class EnvoyAdmin:
    """Read one Envoy replica's admin API.

    Args:
        base_url: e.g. ``http://127.0.0.1:19000``.
        timeout: Seconds per request.
        opener: A ``urllib.request.OpenerDirector`` to send requests with (e.g. through a port-forward);
            default: one without proxies (admin addresses are local or port-forwarded).
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0,
                 opener: urllib.request.OpenerDirector | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._opener = opener or urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self) -> str:
        return f"EnvoyAdmin({self.base_url!r})"

    def _get(self, path: str, params: Mapping[str, str | None] | None = None) -> tuple[int, bytes]:
        query = ""
        if params:
            # A flag without value (include_eds) is written bare, as Envoy's docs do.
            query = "?" + "&".join(k if v is None else f"{k}={urllib.parse.quote(v, safe='')}"
                                   for k, v in params.items())
        url = f"{self.base_url}{path}{query}"
        try:
            with self._opener.open(urllib.request.Request(url), timeout=self.timeout) as resp:
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as err:
            return int(err.code), bytes(err.read())
        except (OSError, ValueError) as err:
            raise EnvoyAdminError(f"Envoy admin {self.base_url} is unreachable ({err}): check that the replica "
                                  "runs and the address (or port-forward) is right") from err

    def _json(self, path: str, params: Mapping[str, str | None] | None = None) -> Any:
        status, body = self._get(path, params)
        if status != 200:
            text = body.decode(errors="replace").strip().splitlines()
            raise EnvoyAdminError(f"Envoy admin {self.base_url}{path} answered {status}: "
                                  f"{text[0] if text else ''}".rstrip())
        try:
            return json.loads(body)
        except ValueError as err:
            raise EnvoyAdminError(f"Envoy admin {self.base_url}{path} sent invalid JSON: {err}") from err

    # -- endpoints ---------------------------------------------------------------------------------------------

    def config_dump_json(self, *, resource: str | None = None, mask: str | None = None,
                         include_eds: bool = False) -> dict[str, Any]:
        """Fetch ``/config_dump`` as JSON.

        Args:
            resource: e.g. ``dynamic_route_configs``, ``dynamic_listeners``, ``dynamic_active_clusters``.
            mask: A field mask, e.g. ``version_info`` (comma-separated paths).
            include_eds: Include ``EndpointsConfigDump``.

        Returns:
            The document.
        """
        params: dict[str, str | None] = {}
        if resource:
            params["resource"] = resource
        if mask:
            params["mask"] = mask
        if include_eds:
            params["include_eds"] = None
        doc: dict[str, Any] = self._json("/config_dump", params)
        return doc

    def config_dump(self, *, resource: str | None = None, mask: str | None = None,
                    include_eds: bool = False) -> ConfigDump:
        """Fetch and decode ``/config_dump``.

        Args:
            resource: Only this resource kind, e.g. ``dynamic_route_configs``.
            mask: A field mask.
            include_eds: Include endpoint configs.

        Returns:
            The decoded dump.
        """
        return parse_config_dump(self.config_dump_json(resource=resource, mask=mask, include_eds=include_eds))

    def applied(self, *, include_eds: bool = True) -> ServedSnapshot:
        """Return what this replica applied, as a :class:`ServedSnapshot` (``config_dump().applied()``).

        Args:
            include_eds: Include endpoints.

        Returns:
            The snapshot with the versions Envoy reports.
        """
        return self.config_dump(include_eds=include_eds).applied()

    def stats(self, filter: str | None = None) -> dict[str, int | str]:  # noqa: A002 - Envoy's parameter name
        r"""Fetch ``/stats?format=json``: counters and gauges as ints, text readouts as strings.

        Args:
            filter: Envoy's ``filter`` regex (RE2), e.g. ``^cluster_manager\\.cds\\.``.

        Returns:
            Stat name -> value (histograms are left out).
        """
        params: dict[str, str | None] = {"format": "json"}
        if filter:
            params["filter"] = filter
        doc = self._json("/stats", params)
        out: dict[str, int | str] = {}
        for entry in doc.get("stats", []):
            if "name" in entry:
                value = entry.get("value", 0)
                out[entry["name"]] = value if isinstance(value, str) else int(value)
        return out

    def xds_stats(self) -> XdsStats:
        """Return the per-type xDS counters and versions and the control plane connection state."""
        return parse_xds_stats(self.stats(
            r"^(cluster_manager\.cds\.|listener_manager\.lds\.|control_plane\.connected_state$|http\..*\.rds\.|"
            r"cluster\..*\.(update_|version))"))

    def cluster_requests(self) -> dict[str, dict[str, int]]:
        """Return per-cluster request counters (``upstream_rq_total``, ``upstream_rq_2xx``, ...).

        Returns:
            Cluster stat name -> counter name -> value.
        """
        pattern = re.compile(r"^cluster\.(.+)\.(upstream_rq_[a-z0-9_]+)$")
        out: dict[str, dict[str, int]] = {}
        for name, value in self.stats(r"^cluster\..*\.upstream_rq_").items():
            m = pattern.match(name)
            # cluster.<name>.{internal,external,canary}.upstream_rq_* split the same requests by origin.
            if m and not isinstance(value, str) and not m.group(1).endswith((".internal", ".external", ".canary")):
                out.setdefault(m.group(1), {})[m.group(2)] = value
        return out

    def clusters(self) -> list[ClusterHosts]:
        """Fetch ``/clusters?format=json``: every cluster with its hosts and their health."""
        return _clusters(self._json("/clusters", {"format": "json"}))

    def ready(self) -> bool:
        """Whether ``/ready`` answers 200 (``LIVE``); False when it answers otherwise or not at all."""
        try:
            status, _ = self._get("/ready")
        except EnvoyAdminError:
            return False
        return status == 200

    def server_info(self) -> ServerInfo:
        """Fetch ``/server_info``."""
        doc = self._json("/server_info")
        return ServerInfo(str(doc.get("node", {}).get("id", "")), str(doc.get("state", "")),
                          str(doc.get("version", "")), doc)
