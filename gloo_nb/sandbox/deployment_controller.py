"""The Deployment controller: Deployments get pods and a ``status`` as kube-controller-manager writes them.

Pods are named ``<deployment>-<template hash>-<5 chars>`` with a ``pod-template-hash`` label and an
``ownerReference`` to the Deployment (there are no ReplicaSet objects in the sandbox); scaling, rolling updates
(new pods first, old ones deleted as the new turn Ready), ``Recreate``, quota refusals as ``ReplicaFailure`` and
the Deployment ``status`` follow the Deployment and ReplicaSet controllers. Separate from the kubelet: it only
writes objects (pods, Deployment status); running the pods is the process supervisor's job.
"""

from __future__ import annotations

import contextlib
import json
import random
from typing import Any

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.events import NORMAL, EventRecorder, object_ref
from gloo_nb.sandbox.garbage_collector import collect_garbage
from gloo_nb.sandbox.pod_objects import NODE_NAME, is_ready, owner_uid, record_scheduled, rfc3339_now
from gloo_nb.sandbox.store import CONTROLLER, ApiError, Store

__all__ = ["TEMPLATE_HASH_LABEL", "DeploymentController", "template_hash"]

TEMPLATE_HASH_LABEL = "pod-template-hash"

_SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand: no vowels, no look-alikes


def template_hash(template: dict[str, Any], collision_count: int = 0) -> str:
    """Return the ``pod-template-hash`` of a pod template, in Kubernetes' alphabet.

    Kubernetes hashes the Go struct with FNV-32a and spells the decimal number with ``SafeEncodeString``
    (pkg/controller/controller_utils.go ``ComputeHash``); the sandbox hashes canonical JSON the same way and pads
    the decimal to 10 digits, so names look like ``echo-5d59d67564-x2x7k``.

    Args:
        template: The Deployment's ``spec.template``.
        collision_count: The Deployment's ``status.collisionCount``.

    Returns:
        Ten characters from ``bcdfghjklmnpqrstvwxz2456789``.
    """
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE_CHARS[ord(ch) % len(_SAFE_CHARS)] for ch in str(h).zfill(10))


def _int_or_percent(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        try:
            pct = int(value[:-1])
        except ValueError:
            return 0
        scaled = total * pct / 100
        return int(-(-scaled // 1)) if round_up else int(scaled)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class DeploymentController:
    """Reconciles Deployments into pods, as the Deployment and ReplicaSet controllers together do.

    Args:
        store: The object store to read and write (as ``CONTROLLER``).
        scheduler_events: The ``default-scheduler`` recorder, shared with the kubelet (both bind pods).
    """

    def __init__(self, store: Store, scheduler_events: EventRecorder) -> None:
        self.store = store
        self._scheduler_events = scheduler_events
        self._deployment_events = EventRecorder(store, "deployment-controller", CONTROLLER)
        self.quota_blocked: set[tuple[str, str]] = set()
        """Deployments whose last pod creation the namespace's quota refused: retried when a pod goes."""

    def owning(self, namespace: str, uid: str) -> list[str]:
        """Return the names of the Deployments of ``namespace`` with this uid (the owner of a pod).

        Args:
            namespace: The pod's namespace.
            uid: The owner uid from the pod's ``ownerReferences``.

        Returns:
            The Deployments' names (none or one).
        """
        return [d["metadata"]["name"] for d in self.store.list(kinds.DEPLOYMENT, namespace)[0]
                if d["metadata"].get("uid") == uid]

    def sync(self, ns: str, name: str) -> None:
        """Reconcile one Deployment: its pods (create, scale, roll) and its ``status``.

        A Deployment that is gone has its pods collected instead.

        Args:
            ns: The Deployment's namespace.
            name: The Deployment's name.
        """
        try:
            dep = self.store.get(kinds.DEPLOYMENT, ns, name)
        except ApiError as exc:
            if exc.code == 404:
                collect_garbage(self.store, [ns])
                return
            raise
        spec = dep.get("spec") or {}
        uid = dep["metadata"]["uid"]
        replicas = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        status = dep.get("status") or {}
        phash = template_hash(template, int(status.get("collisionCount") or 0))
        rs_name = f"{name}-{phash}"
        owned = [p for p in self.store.list(kinds.POD, ns)[0] if owner_uid(p) == uid]
        new = [p for p in owned if (p["metadata"].get("labels") or {}).get(TEMPLATE_HASH_LABEL) == phash]
        old = [p for p in owned if p not in new]
        created = False
        involved = object_ref(kinds.DEPLOYMENT, ns, name, uid)

        def scaled(up: bool, rs: str, before: int, after: int) -> None:
            # pkg/controller/deployment/sync.go: one ScalingReplicaSet event per ReplicaSet resize.
            self._deployment_events.record(involved, NORMAL, "ScalingReplicaSet",
                                           f"Scaled {'up' if up else 'down'} replica set {rs} from {before} "
                                           f"to {after}")

        def scale_down_old(doomed: list[dict[str, Any]]) -> None:
            for old_hash in sorted({(p["metadata"].get("labels") or {}).get(TEMPLATE_HASH_LABEL, "")
                                    for p in doomed}):
                total = sum(1 for p in old if (p["metadata"].get("labels") or {}).get(TEMPLATE_HASH_LABEL)
                            == old_hash)
                gone = sum(1 for p in doomed if (p["metadata"].get("labels") or {}).get(TEMPLATE_HASH_LABEL)
                           == old_hash)
                scaled(False, f"{name}-{old_hash}", total, total - gone)
            for pod in doomed:
                self._delete_pod(ns, pod)

        failure: str | None = None
        if not spec.get("paused"):
            if (spec.get("strategy") or {}).get("type") == "Recreate" and old:
                scale_down_old(old)
                old = []
            if len(new) < replicas:
                before = len(new)
                for _ in range(replicas - len(new)):
                    try:
                        new.append(self._create_pod(dep, template, phash, rs_name))
                    except ApiError as exc:
                        if exc.code != 403:
                            raise
                        # A quota refusal (the namespace's pod cap): the ReplicaSet controller records it
                        # as ReplicaFailure/FailedCreate and the Deployment controller copies it up.
                        failure = exc.message
                        break
                    created = True
                if len(new) > before:
                    scaled(True, rs_name, before, len(new))
            elif len(new) > replicas:
                doomed = sorted(new, key=self._deletion_rank)[: len(new) - replicas]
                for pod in doomed:
                    self._delete_pod(ns, pod)
                scaled(False, rs_name, len(new), replicas)
                new = [p for p in new if p not in doomed]
            ready_new = sum(1 for p in new if is_ready(p))
            keep_old = max(0, replicas - ready_new)
            if len(old) > keep_old:
                doomed = sorted(old, key=self._deletion_rank)[: len(old) - keep_old]
                scale_down_old(doomed)
                old = [p for p in old if p not in doomed]
        pods = new + old
        ready = sum(1 for p in pods if is_ready(p))
        max_unavailable = _int_or_percent(((spec.get("strategy") or {}).get("rollingUpdate") or {})
                                          .get("maxUnavailable", "25%"), replicas, round_up=False)
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            max_unavailable = 0
        complete = (len(new) == replicas and not old and sum(1 for p in new if is_ready(p)) == replicas)
        now = rfc3339_now()
        conditions = {c.get("type"): c for c in status.get("conditions") or []}

        def condition(ctype: str, ok: bool, reason: str, message: str) -> dict[str, Any]:
            prev = conditions.get(ctype) or {}
            same = prev.get("status") == ("True" if ok else "False")
            unchanged = same and prev.get("reason") == reason and prev.get("message") == message
            return {"type": ctype, "status": "True" if ok else "False",
                    "lastUpdateTime": prev.get("lastUpdateTime", now) if unchanged else now,
                    "lastTransitionTime": prev.get("lastTransitionTime", now) if same else now,
                    "reason": reason, "message": message}

        available = ready >= replicas - max_unavailable
        avail_cond = condition("Available", available,
                               "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                               "Deployment has minimum availability." if available
                               else "Deployment does not have minimum availability.")
        if complete:
            prog = condition("Progressing", True, "NewReplicaSetAvailable",
                             f'ReplicaSet "{rs_name}" has successfully progressed.')
        elif created and "Progressing" not in conditions:
            prog = condition("Progressing", True, "NewReplicaSetCreated", f'Created new replica set "{rs_name}"')
        else:
            prog = condition("Progressing", True, "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
        new_status: dict[str, Any] = {"observedGeneration": dep["metadata"].get("generation", 1)}
        if pods:
            new_status["replicas"] = len(pods)
            new_status["updatedReplicas"] = len(new)
        if ready:
            new_status["readyReplicas"] = ready
            new_status["availableReplicas"] = ready
        unavailable = max(len(pods), replicas) - ready
        if unavailable > 0:
            new_status["unavailableReplicas"] = unavailable
        new_status["conditions"] = [avail_cond, prog]
        if failure is not None:
            # Kept as first written while it holds (replica_set_utils.go calculateStatus sets it only when
            # absent): a fresh pod name in every retry's message would rewrite the status forever.
            prev_failure = conditions.get("ReplicaFailure") or {}
            if prev_failure.get("status") == "True" and prev_failure.get("reason") == "FailedCreate":
                failure = str(prev_failure.get("message") or failure)
            new_status["conditions"].append(condition("ReplicaFailure", True, "FailedCreate", failure))
            self.quota_blocked.add((ns, name))
        else:
            self.quota_blocked.discard((ns, name))
        if status.get("collisionCount"):
            new_status["collisionCount"] = status["collisionCount"]

        def mutate(obj: dict[str, Any]) -> dict[str, Any]:
            obj["status"] = new_status
            return obj

        self.store.patch(kinds.DEPLOYMENT, ns, name, mutate, identity=CONTROLLER, subresource="status")

    @staticmethod
    def _deletion_rank(pod: dict[str, Any]) -> tuple[int, int, str, str]:
        # Like the ReplicaSet controller: unscheduled/pending and not-ready pods go first, then the newest.
        status = pod.get("status") or {}
        phase = {"Pending": 0, "Unknown": 1}.get(status.get("phase", "Pending"), 2)
        created = pod["metadata"].get("creationTimestamp") or ""
        inverted = "".join(chr(0x10FFFF - ord(c)) for c in created)
        return (phase, 1 if is_ready(pod) else 0, inverted, pod["metadata"]["name"])

    def _create_pod(self, dep: dict[str, Any], template: dict[str, Any], phash: str, rs_name: str) -> dict[str, Any]:
        ns = dep["metadata"]["namespace"]
        tmeta = template.get("metadata") or {}
        labels = {**(tmeta.get("labels") or {}), TEMPLATE_HASH_LABEL: phash}
        meta: dict[str, Any] = {
            "namespace": ns, "labels": labels,
            "ownerReferences": [{"apiVersion": kinds.DEPLOYMENT.api_version, "kind": "Deployment",
                                 "name": dep["metadata"]["name"], "uid": dep["metadata"]["uid"],
                                 "controller": True, "blockOwnerDeletion": True}],
        }
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        spec = json.loads(json.dumps(template.get("spec") or {}))
        spec["nodeName"] = NODE_NAME
        for _ in range(10):
            meta["name"] = f"{rs_name}-{''.join(random.choices(_SAFE_CHARS, k=5))}"
            try:
                pod = self.store.create(kinds.POD, {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                                                    "spec": spec}, identity=CONTROLLER)
            except ApiError as exc:
                if exc.code != 409:
                    raise
                continue
            record_scheduled(self._scheduler_events, pod)
            return pod
        raise ApiError(409, "AlreadyExists", f"could not find a free pod name for {rs_name}")

    def _delete_pod(self, ns: str, pod: dict[str, Any]) -> None:
        with contextlib.suppress(ApiError):
            self.store.delete(kinds.POD, ns, pod["metadata"]["name"], identity=CONTROLLER)
