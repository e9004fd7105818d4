"""What a rollout journal is about, and which of its events are evidence for the live cluster (pure).

A journal directory is just files: the same ``./gloo-nb-journal`` may hold a rollout of
``foxtrot/foxtrot-routes`` on yesterday's sandbox, on the staging cluster, or on a RouteTable that
was deleted and recreated since. Each run of the rollout therefore starts with a ``rollout.session``
event naming its identity (the cluster: API server URL and a stable cluster id; the RouteTable's
UID; the target; the gateway proxy it proves through, ``proxy``), and stamps every event it writes with
that run's id. A resume uses the events of
the runs whose identity is the live one, and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RUN_KEY", "SESSION", "ForeignRun", "History", "RolloutIdentity", "split_history"]

SESSION = "rollout.session"
"""The kind of the event that opens each run of a rollout and names what it is about."""

RUN_KEY = "run"
"""The ``data`` key, on every rollout event, of the run (session) that wrote it."""


@dataclass(frozen=True)
class RolloutIdentity:
    """The cluster, object and target a rollout journal is evidence for.

    Attributes:
        server: The Kubernetes API server URL the run talked to.
        cluster_id: A stable id of the cluster: the ``kube-system`` namespace's UID on a cluster, the
            sandbox's own id in a sandbox; ``""`` when the identity could not read it.
        route_table_uid: ``metadata.uid`` of the RouteTable the run rolled out (``""`` when it did not exist).
        route_table: The RouteTable as ``namespace/name``.
    """

    server: str
    cluster_id: str
    route_table_uid: str
    route_table: str

    def as_json(self) -> dict[str, Any]:
        """Return the identity as the ``rollout.session`` event's ``identity``."""
        return {"cluster": {"server": self.server, "id": self.cluster_id},
                "routeTable": {"name": self.route_table, "uid": self.route_table_uid}}

    @classmethod
    def from_json(cls, data: Any) -> RolloutIdentity | None:
        """Read an identity written by :meth:`as_json`; None when it is missing or malformed."""
        if not isinstance(data, Mapping):
            return None
        cluster, table = data.get("cluster"), data.get("routeTable")
        if not isinstance(cluster, Mapping) or not isinstance(table, Mapping):
            return None
        return cls(str(cluster.get("server") or ""), str(cluster.get("id") or ""), str(table.get("uid") or ""),
                   str(table.get("name") or ""))

    def describe(self) -> str:
        """One line: ``RouteTable ns/name (uid U) on cluster ID at SERVER``."""
        cluster = f"cluster {self.cluster_id}" if self.cluster_id else "a cluster of unknown id"
        return f"RouteTable {self.route_table} (uid {self.route_table_uid or 'none'}) on {cluster} at {self.server}"

    def mismatch(self, live: RolloutIdentity) -> str:
        """Why events written under this identity are no evidence for ``live``; ``""`` when they are.

        The cluster ids are compared when both are known (the same cluster may be reached at another
        URL, through a port-forward or another kubeconfig); otherwise the URLs must be equal. The
        RouteTable's UID must always be equal: a table deleted and recreated under the same name is
        another object, whatever its content.

        Args:
            live: The identity of the cluster and object as they are now.

        Returns:
            The reason, or ``""``.
        """
        if self.cluster_id and live.cluster_id:
            if self.cluster_id != live.cluster_id:
                return f"another cluster (id {self.cluster_id}, not {live.cluster_id})"
        elif self.server != live.server:
            return f"another API server ({self.server}, not {live.server}) and no cluster id to tell them apart"
        if self.route_table != live.route_table:
            return f"another RouteTable ({self.route_table}, not {live.route_table})"
        if not self.route_table_uid or self.route_table_uid != live.route_table_uid:
            return (f"another object named {live.route_table} (uid {self.route_table_uid or 'none'}, now "
                    f"{live.route_table_uid or 'none'}): it was deleted and recreated")
        return ""


@dataclass(frozen=True)
class ForeignRun:
    """A run in the journal that is not evidence for the live cluster and object.

    Attributes:
        run: The run id (``""`` for events written before runs had identities).
        identity: What that run was about, when it said.
        reason: Why it does not count, in words.
        events: How many events it wrote.
    """

    run: str
    identity: RolloutIdentity | None
    reason: str
    events: int

    def describe(self) -> str:
        """One line for the user: which run was found and why it is set aside."""
        what = self.identity.describe() if self.identity is not None else "no recorded identity"
        return f"run {self.run or '(unnamed)'} ({self.events} events) of {what}: {self.reason}"


@dataclass(frozen=True)
class History:
    """A journal's rollout events, split into evidence for the live cluster and the rest.

    Attributes:
        own: The events (``{"kind", "data"}``, oldest first) of runs whose identity is the live one.
        foreign: The runs set aside, one entry each.
    """

    own: list[dict[str, Any]] = field(default_factory=list)
    foreign: list[ForeignRun] = field(default_factory=list)


def split_history(events: Iterable[Mapping[str, Any]], live: RolloutIdentity) -> History:
    """Split a rollout's journal events into the live cluster's evidence and foreign runs.

    Args:
        events: ``{"kind", "data"}`` of one rollout (one journal source), oldest first.
        live: The identity of the cluster and RouteTable as they are now.

    Returns:
        The split. Events without a run id (written before journals had identities) cannot be tied
        to a cluster, so they are foreign too.
    """
    ordered = _in_order(events)
    counts: dict[str, int] = {}
    identities: dict[str, RolloutIdentity | None] = {}
    for event in ordered:
        data = event["data"]
        run = str(data.get(RUN_KEY) or "")
        counts[run] = counts.get(run, 0) + 1
        if event.get("kind") == SESSION and run not in identities:
            identities[run] = RolloutIdentity.from_json(data.get("identity"))
    own_runs: set[str] = set()
    foreign: list[ForeignRun] = []
    for run, count in counts.items():
        identity = identities.get(run)
        if not run:
            reason = "its events carry no run id (written by a gloo_nb without journal identities)"
        elif identity is None:
            reason = "its run has no readable rollout.session identity"
        else:
            reason = identity.mismatch(live)
        if reason:
            foreign.append(ForeignRun(run, identity, reason, count))
        else:
            own_runs.add(run)
    own = [e for e in ordered if str(e["data"].get(RUN_KEY) or "") in own_runs]
    return History(own, foreign)


def _in_order(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"kind": e.get("kind"), "data": dict(e.get("data") or {})} for e in events]
