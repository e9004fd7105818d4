"""The garbage collector, for the one owner kind the sandbox creates: pods whose Deployment is gone are deleted.

Kubernetes' garbage-collector controller deletes dependents whose ``ownerReferences`` point at an object that
no longer exists. The sandbox has no ReplicaSets, so the only dependents it makes are pods owned by a
Deployment; this is separate from the Deployment controller because it runs on namespace deletions and resyncs
too, not only when one Deployment changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.pod_objects import owner_uid
from gloo_nb.sandbox.store import CONTROLLER, ApiError, Store

__all__ = ["collect_garbage"]


def collect_garbage(store: Store, namespaces: Iterable[str]) -> None:
    """Delete the pods of ``namespaces`` whose owning Deployment no longer exists.

    Args:
        store: The object store.
        namespaces: The namespaces to look in.
    """
    for ns in namespaces:
        uids = {d["metadata"]["uid"] for d in store.list(kinds.DEPLOYMENT, ns)[0]}
        for pod in store.list(kinds.POD, ns)[0]:
            owner = owner_uid(pod)
            if owner is not None and owner not in uids:
                with contextlib.suppress(ApiError):
                    store.delete(kinds.POD, ns, pod["metadata"]["name"], identity=CONTROLLER)
