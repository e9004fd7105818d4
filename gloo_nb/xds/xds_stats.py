"""Reading an Envoy replica's ``/stats`` for how its xDS updates went: per-type counters and versions; pure.

Facts this module relies on (Envoy 1.40, ``notes/runtime.md``):

* Stat names replace ``:`` with ``_`` (``listener-::-8080-routes`` -> ``listener-__-8080-routes``); see
  :func:`stat_name`.
* ``/stats?format=json`` lists counters and gauges with integer values and text readouts (``*.version_text``)
  with string values.
* A RouteConfiguration that Envoy rejected is not in ``/config_dump``: only these counters show it.

Separate from :mod:`gloo_nb.xds.admin` (the HTTP client) so that saved stats (a snapshot bundle, a journal)
parse the same way without an Envoy to ask.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["TypeStats", "XdsStats", "parse_xds_stats", "stat_name"]


def stat_name(name: str) -> str:
    """Return a resource name as it appears in Envoy stat names (``:`` becomes ``_``).

    Args:
        name: e.g. ``listener-::-8080-routes``.

    Returns:
        e.g. ``listener-__-8080-routes``.
    """
    return name.replace(":", "_")


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
