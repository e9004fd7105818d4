"""The ReplicationController controller: the ReplicaSet controller behind an adapter.

As pkg/controller/replication does (replication_controller.go ``NewReplicationManager`` wraps
``replicaset.NewBaseController``; conversion.go converts each ReplicationController to a ReplicaSet): a
ReplicationController keeps ``spec.replicas`` pods ``<rc>-<5 chars>`` owned by it and reports ``replicas``,
``fullyLabeledReplicas``, ``readyReplicas``, ``availableReplicas`` and ``observedGeneration``. The only
difference the controller sees is the selector, a plain label map (conversion.go
``Convert_v1_ReplicationControllerSpec_To_apps_ReplicaSetSpec`` makes it ``matchLabels``); the pods'
``ownerReferences`` and the Events name the ReplicationController, and the Events come
from ``replication-controller`` (replication_controller.go).
"""

from __future__ import annotations

from typing import Any

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.events import EventRecorder
from gloo_nb.sandbox.replicaset_controller import ReplicaSetController
from gloo_nb.sandbox.store import Store

__all__ = ["ReplicationManager"]


class ReplicationManager(ReplicaSetController):
    """Reconciles ReplicationControllers into pods with the ReplicaSet controller's logic.

    Args:
        store: The object store to read and write (as ``CONTROLLER``).
        scheduler_events: The ``default-scheduler`` recorder, shared with the kubelet (both bind pods).
    """

    def __init__(self, store: Store, scheduler_events: EventRecorder) -> None:
        super().__init__(store, scheduler_events, kind=kinds.REPLICATION_CONTROLLER,
                         component="replication-controller")

    def as_replica_set(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Return a ReplicationController as the ReplicaSet controller reads it (a ``matchLabels`` selector).

        pkg/controller/replication/conversion.go: the selector map becomes ``matchLabels``; everything else is
        the same shape. ``apiVersion``/``kind`` stay, so adopted pods name the ReplicationController.

        Args:
            obj: The stored ReplicationController.

        Returns:
            A shallow converted copy.
        """
        spec = dict(obj.get("spec") or {})
        selector = spec.get("selector")
        spec["selector"] = {"matchLabels": dict(selector)} if isinstance(selector, dict) and selector else None
        return {**obj, "apiVersion": kinds.REPLICATION_CONTROLLER.api_version,
                "kind": kinds.REPLICATION_CONTROLLER.kind, "spec": spec}
