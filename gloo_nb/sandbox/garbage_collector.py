"""The garbage collector, for the owner kinds the sandbox creates: Deployments, ReplicaSets, Jobs, and more.

Deployment → ReplicaSets → Pods, Job → Pods, ReplicationController → Pods, DaemonSet → Pods and ControllerRevisions.

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
from typing import Any

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.pod_objects import owner_uid
from gloo_nb.sandbox.store import CONTROLLER, ApiError, Store

__all__ = ["collect_garbage", "orphan_dependents"]


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
        jobs = {j["metadata"]["uid"] for j in store.list(kinds.JOB, ns)[0]}
        # Issue 18: ReplicationControllers own pods; DaemonSets own pods and their ControllerRevisions.
        owners = {"ReplicationController": {o["metadata"]["uid"]
                                            for o in store.list(kinds.REPLICATION_CONTROLLER, ns)[0]},
                  "DaemonSet": {o["metadata"]["uid"] for o in store.list(kinds.DAEMON_SET, ns)[0]}}
        for revision in store.list(kinds.CONTROLLER_REVISION, ns)[0]:
            by_ds = owner_uid(revision, "DaemonSet")
            if by_ds is not None and by_ds not in owners["DaemonSet"]:
                with contextlib.suppress(ApiError):
                    store.delete(kinds.CONTROLLER_REVISION, ns, revision["metadata"]["name"], identity=CONTROLLER)
        for pod in store.list(kinds.POD, ns)[0]:
            by_rs, by_deployment, by_job = owner_uid(pod, "ReplicaSet"), owner_uid(pod), owner_uid(pod, "Job")
            if (by_rs is not None and by_rs not in replica_sets) or (
                    by_deployment is not None and by_deployment not in deployments) or (
                    by_job is not None and by_job not in jobs) or any(
                    (uid := owner_uid(pod, owner_kind)) is not None and uid not in alive
                    for owner_kind, alive in owners.items()):
                with contextlib.suppress(ApiError):
                    store.delete(kinds.POD, ns, pod["metadata"]["name"], identity=CONTROLLER)


_DEPENDENT_KINDS = {"Deployment": (kinds.REPLICA_SET,), "ReplicaSet": (kinds.POD,), "Job": (kinds.POD,),
                    "ReplicationController": (kinds.POD,), "DaemonSet": (kinds.POD, kinds.CONTROLLER_REVISION)}


def orphan_dependents(store: Store, owner_kind: str, namespace: str, owner_uid_: str) -> int:
    """Remove an owner's ``ownerReferences`` from its dependents, before the owner is deleted with ``Orphan``.

    garbagecollector.go ``orphanDependents``: with ``propagationPolicy: Orphan`` (``kubectl delete
    --cascade=orphan``) the dependents lose their reference to the owner and stay.

    Args:
        store: The object store.
        owner_kind: The kind of the object about to be deleted (``Deployment``, ``ReplicaSet``, ``Job``,
            ``ReplicationController`` or ``DaemonSet``; others have no dependents in the sandbox).
        namespace: Its namespace.
        owner_uid_: Its uid.

    Returns:
        How many dependents were orphaned.
    """
    count = 0
    for kind, obj in ((dependent, obj) for dependent in _DEPENDENT_KINDS.get(owner_kind, ())
                      for obj in store.list(dependent, namespace)[0]):
        refs = obj["metadata"].get("ownerReferences") or []
        if not any(ref.get("uid") == owner_uid_ for ref in refs):
            continue

        def strip(o: dict[str, Any]) -> dict[str, Any]:
            kept = [r for r in o["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid_]
            if kept:
                o["metadata"]["ownerReferences"] = kept
            else:
                o["metadata"].pop("ownerReferences", None)
            return o
        with contextlib.suppress(ApiError):
            store.patch(kind, namespace, obj["metadata"]["name"], strip, identity=CONTROLLER)
            count += 1
    return count
