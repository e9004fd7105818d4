"""A reader for one Envoy replica's admin API: the HTTP client that fetches what the replica applied and its stats.

The documents it fetches are decoded by pure modules, re-exported here so that ``gloo_nb.xds.admin`` stays the
one import for callers: :mod:`~gloo_nb.xds.config_dump` (``/config_dump``: what the replica applied),
:mod:`~gloo_nb.xds.xds_stats` (``/stats``: how its xDS updates went) and :mod:`~gloo_nb.xds.cluster_status`
(``/clusters``: hosts and their health).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gloo_nb.errors import UnreachableError
from gloo_nb.xds.cluster_status import ClusterHosts, HostStatus, parse_clusters
from gloo_nb.xds.config_dump import (
    UNRESOLVED_KEY,
    ClusterState,
    ConfigDump,
    ListenerState,
    RouteConfigState,
    parse_config_dump,
)
from gloo_nb.xds.decode import ServedSnapshot
from gloo_nb.xds.xds_stats import TypeStats, XdsStats, parse_xds_stats, stat_name

__all__ = [
    "UNRESOLVED_KEY",
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


class EnvoyAdminError(UnreachableError):
    """An Envoy admin API did not answer as expected: check that the replica runs and its admin address."""


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
        return parse_clusters(self._json("/clusters", {"format": "json"}))

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
