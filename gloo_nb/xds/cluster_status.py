"""Decoding an Envoy replica's ``/clusters?format=json``: each cluster's hosts, their health and counters; pure.

Separate from :mod:`gloo_nb.xds.admin` (the HTTP client), which fetches the document and hands it here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ClusterHosts", "HostStatus", "parse_clusters"]


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


def parse_clusters(doc: Mapping[str, Any]) -> list[ClusterHosts]:
    """Decode ``/clusters?format=json``.

    Args:
        doc: The document Envoy sent.

    Returns:
        Every cluster with its hosts, in Envoy's order.
    """
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
