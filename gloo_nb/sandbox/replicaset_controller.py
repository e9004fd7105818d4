"""The ReplicaSet controller: a ReplicaSet keeps ``spec.replicas`` pods and reports them in its ``status``.

As pkg/controller/replicaset/replica_set.go ``syncReplicaSet``/``manageReplicas`` does: the pods it controls are
those with an ``ownerReference`` (``controller: true``) to it; it creates the missing ones from its template
(``<replicaset>-<5 chars>``, the apiserver's ``generateName`` suffix) and deletes the surplus (not-ready and
newest first, ``getPodsToDelete``), then writes ``status`` as replica_set_utils.go ``calculateStatus`` does. The
Deployment controller (:mod:`~gloo_nb.sandbox.deployment_controller`) only ever scales ReplicaSets.
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.events import NORMAL, WARNING, EventRecorder, object_ref
from gloo_nb.sandbox.garbage_collector import collect_garbage
from gloo_nb.sandbox.kinds import Kind
from gloo_nb.sandbox.object_selectors import label_selector_matches
from gloo_nb.sandbox.pod_objects import NODE_NAME, is_daemon_managed, is_ready, record_scheduled, rfc3339_now
from gloo_nb.sandbox.store import CONTROLLER, ApiError, Store

__all__ = ["SAFE_CHARS", "ReplicaSetController", "claim", "deletion_rank", "is_namespace_terminating"]

SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"
"""k8s.io/apimachinery/pkg/util/rand: the alphabet of generated names (no vowels, no look-alikes)."""


def deletion_rank(pod: dict[str, Any]) -> tuple[int, int, str, str]:
    """Return a sort key putting the pods to delete first, as ``controller.ActivePods`` orders them.

    Unscheduled/pending before running, not-ready before ready, newer before older (pkg/controller/
    controller_utils.go ``ActivePods.Less``).

    Args:
        pod: A pod.

    Returns:
        The key (smaller is deleted sooner).
    """
    status = pod.get("status") or {}
    phase = {"Pending": 0, "Unknown": 1}.get(status.get("phase", "Pending"), 2)
    created = pod["metadata"].get("creationTimestamp") or ""
    inverted = "".join(chr(0x10FFFF - ord(c)) for c in created)
    return (phase, 1 if is_ready(pod) else 0, inverted, pod["metadata"]["name"])


def is_namespace_terminating(error: ApiError) -> bool:
    """Whether a create was refused because its namespace is terminating (no FailedCreate event then).

    The NamespaceLifecycle admission plugin's refusal (``unable to create new content in namespace X because it is
    being terminated``); controller_utils.go skips the event for it (``apierrors.HasStatusCause(err,
    v1.NamespaceTerminatingCause)``).

    Args:
        error: The refusal.

    Returns:
        True for the terminating namespace's 403.
    """
    return error.code == 403 and "because it is being terminated" in error.message


def _controller_uid(obj: dict[str, Any]) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def claim(store: Store, kind: Kind, owner: dict[str, Any], candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the objects ``owner`` controls, adopting and releasing as ``ControllerRefManager`` does.

    pkg/controller/controller_ref_manager.go ``ClaimObject``: an object controlled by ``owner`` whose labels
    no longer match its selector is released (its ownerReference removed: ``kubectl label pod X app-``
    takes a pod out of its ReplicaSet); an object without a controller whose labels match is adopted
    (unless the owner is being deleted); objects another controller owns are left alone.

    Args:
        store: The object store (written as ``CONTROLLER``).
        kind: The candidates' kind (pods for a ReplicaSet, ReplicaSets for a Deployment).
        owner: The ReplicaSet or Deployment.
        candidates: The objects of ``kind`` in the owner's namespace.

    Returns:
        The objects the owner controls after claiming, as stored.
    """
    meta = owner["metadata"]
    uid, selector = meta["uid"], (owner.get("spec") or {}).get("selector")
    ref = {"apiVersion": owner.get("apiVersion") or "apps/v1", "kind": owner.get("kind") or "ReplicaSet",
           "name": meta["name"], "uid": uid, "controller": True, "blockOwnerDeletion": True}
    owned = []
    for obj in candidates:
        if obj["metadata"].get("deletionTimestamp"):
            if _controller_uid(obj) == uid:
                owned.append(obj)
            continue
        matches = label_selector_matches(selector, obj["metadata"].get("labels") or {})
        controller = _controller_uid(obj)
        if controller == uid and matches:
            owned.append(obj)
        elif controller == uid or (controller is None and matches and not meta.get("deletionTimestamp")):
            adopt = controller is None

            def change(o: dict[str, Any], adopt: bool = adopt) -> dict[str, Any]:
                refs = [r for r in o["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
                if adopt:
                    refs.append(dict(ref))
                if refs:
                    o["metadata"]["ownerReferences"] = refs
                else:
                    o["metadata"].pop("ownerReferences", None)
                return o
            try:
                updated = store.patch(kind, meta["namespace"], obj["metadata"]["name"], change, identity=CONTROLLER)
            except ApiError:
                continue
            if adopt:
                owned.append(updated)
    return owned


def _ready_since(pod: dict[str, Any]) -> float | None:
    # podutil.IsPodAvailable: the Ready condition's lastTransitionTime (seconds), None when not Ready.
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            if cond.get("status") != "True":
                return None
            stamp = cond.get("lastTransitionTime")
            try:
                return datetime.strptime(str(stamp)[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
            except ValueError:
                return 0.0
    return None


def _labels_match(selector_labels: dict[str, Any], labels: dict[str, Any]) -> bool:
    return all(labels.get(key) == value for key, value in selector_labels.items())


class OwnerController:
    """What the controllers that own dependents share (Deployments, ReplicaSets, Jobs).

    Wake-up timers, finding a dependent's owner, and reading the object they sync (or collecting its dependents once
    it is gone).

    Args:
        store: The object store to read and write (as ``CONTROLLER``).
        scheduler_events: The ``default-scheduler`` recorder, shared with the kubelet (pod owners bind pods).
        kind: The kind they reconcile.
        component: Their name in Events (``replicaset-controller``).
    """

    def __init__(self, store: Store, scheduler_events: EventRecorder | None, kind: Kind, component: str) -> None:
        self.store = store
        self.kind = kind
        # Pod owners share the kubelet's default-scheduler recorder; the Deployment controller binds no pod.
        self._scheduler_events = scheduler_events or EventRecorder(store, "default-scheduler", CONTROLLER)
        self._events = EventRecorder(store, component, CONTROLLER)
        self._wake: dict[tuple[str, str], float] = {}

    def write_status(self, namespace: str, name: str, status: dict[str, Any], previous: dict[str, Any]) -> None:
        """Write an object's ``status`` through the status subresource, as the controller, when it changed.

        Args:
            namespace: The object's namespace.
            name: The object's name.
            status: The whole new status.
            previous: The status it had (nothing is written when equal).
        """
        if status == previous:
            return

        def mutate(obj: dict[str, Any]) -> dict[str, Any]:
            obj["status"] = status
            return obj

        self.store.patch(self.kind, namespace, name, mutate, identity=CONTROLLER, subresource="status")

    def next_wake(self, default: float) -> float:
        """Return when the earliest object needs a sync (a timer it set), as ``time.monotonic()``.

        Args:
            default: The latest wake-up the caller wants anyway.

        Returns:
            The earlier of the two.
        """
        return min([default, *self._wake.values()])

    def due(self, now: float) -> list[tuple[str, str]]:
        """Pop the objects whose wake-up time has come.

        Args:
            now: ``time.monotonic()``.

        Returns:
            ``(namespace, name)`` of each, to be synced.
        """
        keys = [key for key, when in self._wake.items() if when <= now]
        for key in keys:
            del self._wake[key]
        return keys

    def owning(self, namespace: str, uid: str) -> list[str]:
        """Return the names of this kind's objects of ``namespace`` with this uid (the controller of a pod).

        Args:
            namespace: The pod's namespace.
            uid: The owner uid from the pod's ``ownerReferences``.

        Returns:
            The names (none or one).
        """
        return [obj["metadata"]["name"] for obj in self.store.list(self.kind, namespace)[0]
                if obj["metadata"].get("uid") == uid]

    def _get_or_collect(self, ns: str, name: str) -> dict[str, Any] | None:
        """The object to sync, or None when it is gone (its dependents then collected: Kubernetes' GC's work)."""
        try:
            return self.store.get(self.kind, ns, name)
        except ApiError as exc:
            if exc.code == 404:
                collect_garbage(self.store, [ns])
                return None
            raise

    def _wake_in(self, ns: str, name: str, seconds: float) -> None:
        when = time.monotonic() + max(seconds, 0.0) + 0.05
        self._wake[(ns, name)] = min(self._wake.get((ns, name), float("inf")), when)


class ReplicaSetController(OwnerController):
    """Reconciles ReplicaSets into pods.

    Args:
        store: The object store to read and write (as ``CONTROLLER``).
        scheduler_events: The ``default-scheduler`` recorder, shared with the kubelet (both bind pods).
    """

    def __init__(self, store: Store, scheduler_events: EventRecorder, *, kind: Kind = kinds.REPLICA_SET,
                 component: str = "replicaset-controller") -> None:
        # kind and component: the ReplicationController adapter (gloo_nb.sandbox.replication_controller) runs this
        # same logic for ReplicationControllers, as pkg/controller/replication does.
        super().__init__(store, scheduler_events, kind, component)
        self.quota_blocked: set[tuple[str, str]] = set()
        """ReplicaSets whose last pod creation the namespace's quota refused: retried when a pod goes."""

    def sync(self, ns: str, name: str) -> None:
        """Reconcile one ReplicaSet: create or delete pods to match ``spec.replicas``, then write ``status``.

        A ReplicaSet that is gone has its pods collected instead.

        Args:
            ns: The ReplicaSet's namespace.
            name: The ReplicaSet's name.
        """
        stored = self._get_or_collect(ns, name)
        if stored is None:
            return
        rs = self.as_replica_set(stored)
        meta, spec = rs["metadata"], rs.get("spec") or {}
        uid = meta["uid"]
        replicas = int(spec.get("replicas", 1))
        pods = [p for p in claim(self.store, kinds.POD, rs, self.store.list(kinds.POD, ns)[0])
                if not p["metadata"].get("deletionTimestamp")]
        failure: str | None = None
        # Issue 20: the pods of a Gloo install's Deployments are the sandbox daemon's (its control plane, its Envoy
        # replicas): adopted and counted, never created nor deleted here (pod_objects.is_daemon_managed).
        if not meta.get("deletionTimestamp") and not is_daemon_managed(rs):
            diff = len(pods) - replicas
            involved = object_ref(self.kind, ns, name, uid)
            if diff < 0:
                for _ in range(-diff):
                    try:
                        pod = self._create_pod(rs)
                    except ApiError as exc:
                        # controller_utils.go RealPodControl.createPods: whatever the apiserver refused (admission's
                        # 403, a 422, a quota) is a FailedCreate event "Error creating: <error>" on the ReplicaSet,
                        # unless the namespace is terminating; replica_set.go manageReplicas returns the error, and
                        # replica_set_utils.go calculateStatus makes it a ReplicaFailure condition.
                        failure = exc.message
                        if not is_namespace_terminating(exc):
                            self._events.record(involved, WARNING, "FailedCreate", f"Error creating: {exc.message}")
                        break
                    pods.append(pod)
                    self._events.record(involved, NORMAL, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
            elif diff > 0:
                for pod in sorted(pods, key=deletion_rank)[:diff]:
                    with contextlib.suppress(ApiError):
                        self.store.delete(kinds.POD, ns, pod["metadata"]["name"], identity=CONTROLLER)
                    pods.remove(pod)
                    self._events.record(involved, NORMAL, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
        self._write_status(rs, pods, failure)

    def as_replica_set(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Return the object this controller syncs as a ReplicaSet; a ReplicaSet is one already.

        Args:
            obj: The stored object.

        Returns:
            The object to reconcile.
        """
        return obj

    def _write_status(self, rs: dict[str, Any], pods: list[dict[str, Any]], failure: str | None) -> None:
        # pkg/controller/replicaset/replica_set_utils.go calculateStatus: replicas is always written (no
        # omitempty), the other counts only when non-zero; availableReplicas counts the pods Ready for at least
        # minReadySeconds (podutil.IsPodAvailable), and the ReplicaSet is synced again when the next one is due.
        meta = rs["metadata"]
        ns, name = meta["namespace"], meta["name"]
        template_labels = (((rs.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
        status = rs.get("status") or {}
        ready = sum(1 for p in pods if is_ready(p))
        labeled = sum(1 for p in pods if _labels_match(template_labels, p["metadata"].get("labels") or {}))
        new_status: dict[str, Any] = {"replicas": len(pods)}
        if labeled:
            new_status["fullyLabeledReplicas"] = labeled
        min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
        available = 0
        now = time.time()
        for pod in pods:
            since = _ready_since(pod)
            if since is None:
                continue
            if min_ready == 0 or since + min_ready < now:
                available += 1
            else:
                self._wake_in(ns, name, since + min_ready - now)  # when this pod turns available
        if ready:
            new_status["readyReplicas"] = ready
        if available:
            new_status["availableReplicas"] = available
        new_status["observedGeneration"] = meta.get("generation", 1)
        prev = {c.get("type"): c for c in status.get("conditions") or []}
        if failure is not None:
            old = prev.get("ReplicaFailure") or {}
            if old.get("status") == "True" and old.get("reason") == "FailedCreate":
                # Set only when absent (calculateStatus): a fresh pod name in every retry's message would
                # rewrite the status forever.
                new_status["conditions"] = [old]
            else:
                new_status["conditions"] = [{"type": "ReplicaFailure", "status": "True",
                                             "lastTransitionTime": rfc3339_now(), "reason": "FailedCreate",
                                             "message": failure}]
            self.quota_blocked.add((ns, name))
        else:
            self.quota_blocked.discard((ns, name))
        self.write_status(ns, name, new_status, status)

    def _create_pod(self, rs: dict[str, Any]) -> dict[str, Any]:
        # controller_utils.go GetPodFromTemplate: the template's labels, annotations and finalizers, an
        # ownerReference to the ReplicaSet (controller, blockOwnerDeletion) and generateName "<rs>-".
        meta_rs = rs["metadata"]
        ns, rs_name = meta_rs["namespace"], meta_rs["name"]
        template = (rs.get("spec") or {}).get("template") or {}
        tmeta = template.get("metadata") or {}
        meta: dict[str, Any] = {
            "namespace": ns, "labels": dict(tmeta.get("labels") or {}), "generateName": f"{rs_name}-",
            "ownerReferences": [{"apiVersion": self.kind.api_version, "kind": self.kind.kind,
                                 "name": rs_name, "uid": meta_rs["uid"],
                                 "controller": True, "blockOwnerDeletion": True}],
        }
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        spec = json.loads(json.dumps(template.get("spec") or {}))
        spec["nodeName"] = NODE_NAME
        # CreatePods sends generateName and no name: the apiserver picks the 5-character suffix, and admission
        # plugins that refuse the pod before that (ServiceAccount) name it "<rs>-", as on a cluster.
        pod = self.store.create(kinds.POD, {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec},
                                identity=CONTROLLER)
        record_scheduled(self._scheduler_events, pod)
        return pod
