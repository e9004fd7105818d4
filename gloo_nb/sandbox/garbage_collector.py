"""The garbage collector, for the owner kinds the sandbox creates: Deployment → ReplicaSets → Pods.

Kubernetes' garbage-collector controller (pkg/controller/garbagecollector/garbagecollector.go
``attemptToDeleteItem``) deletes dependents whose ``ownerReferences`` point at an object that no longer exists;
with kubectl's default background propagation the owner goes first and its dependents after, level by level.
The sandbox does the same in one pass per namespace: ReplicaSets whose Deployment is gone, then the pods whose
ReplicaSet (or, for pods from a sandbox state written before ReplicaSets existed, whose Deployment) is gone. It
is separate from the controllers because it runs on namespace deletions and resyncs too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.pod_objects import owner_uid
from gloo_nb.sandbox.store import CONTROLLER, ApiError, Store

__all__ = ["collect_garbage"]


def collect_garbage(store: Store, namespaces: Iterable[str]) -> None:
    """Delete the ReplicaSets and pods of ``namespaces`` whose owner no longer exists, owners' dependents first.

    Args:
        store: The object store.
        namespaces: The namespaces to look in.
    """
    for ns in namespaces:
        deployments = {d["metadata"]["uid"] for d in store.list(kinds.DEPLOYMENT, ns)[0]}
        replica_sets = set()
        for rs in store.list(kinds.REPLICA_SET, ns)[0]:
            owner = owner_uid(rs)
            if owner is not None and owner not in deployments:
                with contextlib.suppress(ApiError):
                    store.delete(kinds.REPLICA_SET, ns, rs["metadata"]["name"], identity=CONTROLLER)
                continue
            replica_sets.add(rs["metadata"]["uid"])
        for pod in store.list(kinds.POD, ns)[0]:
            by_rs, by_deployment = owner_uid(pod, "ReplicaSet"), owner_uid(pod)
            if (by_rs is not None and by_rs not in replica_sets) or (
                    by_deployment is not None and by_deployment not in deployments):
                with contextlib.suppress(ApiError):
                    store.delete(kinds.POD, ns, pod["metadata"]["name"], identity=CONTROLLER)
