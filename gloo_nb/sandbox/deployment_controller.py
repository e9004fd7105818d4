"""The Deployment controller: Deployments own ReplicaSets and get a ``status`` as kube-controller-manager writes them.

As pkg/controller/deployment does: a Deployment owns one ReplicaSet per pod template,
``<deployment>-<template hash>`` with a ``pod-template-hash`` label and selector, an ``ownerReference``
(controller, blockOwnerDeletion) and the ``deployment.kubernetes.io/revision``, ``desired-replicas`` and
``max-replicas`` annotations; a template change makes a new ReplicaSet that is scaled up while the old ones are
scaled down as ``maxSurge``/``maxUnavailable`` allow (rolling.go), or after them (recreate.go); old ReplicaSets
beyond ``revisionHistoryLimit`` are deleted (sync.go ``cleanupDeployment``); ``status`` and the ``Available``/
``Progressing``/``ReplicaFailure`` conditions follow sync.go ``calculateStatus`` and progress.go. The pods are the
ReplicaSet controller's (:mod:`~gloo_nb.sandbox.replicaset_controller`). Separate from the kubelet: it only
writes objects; running the pods is the process supervisor's job.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.events import NORMAL, EventRecorder, object_ref
from gloo_nb.sandbox.pod_objects import owner_uid, rfc3339_now
from gloo_nb.sandbox.replicaset_controller import SAFE_CHARS, OwnerController, claim
from gloo_nb.sandbox.store import CONTROLLER, ApiError, Store

__all__ = ["CHANGE_CAUSE_ANNOTATION", "REVISION_ANNOTATION", "TEMPLATE_HASH_LABEL", "DeploymentController",
           "template_hash"]

TEMPLATE_HASH_LABEL = "pod-template-hash"

_SAFE_CHARS = SAFE_CHARS

# pkg/controller/deployment/util/deployment_util.go: the annotations the controller writes.
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
_REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
_DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
_MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"
"""What ``kubectl rollout history`` shows as CHANGE-CAUSE (copied from the Deployment to its ReplicaSets)."""
# deployment_util.go skipCopyAnnotation: never copied from the Deployment to a ReplicaSet.
_SKIP_COPY = frozenset({"kubectl.kubernetes.io/last-applied-configuration", REVISION_ANNOTATION,
                        _REVISION_HISTORY, _DESIRED_REPLICAS, _MAX_REPLICAS,
                        "deprecated.deployment.rollback.to"})


def template_hash(template: dict[str, Any], collision_count: int = 0) -> str:
    """Return the ``pod-template-hash`` of a pod template, in Kubernetes' alphabet.

    Kubernetes hashes the Go struct with FNV-32a and spells the decimal number with ``SafeEncodeString``
    (pkg/controller/controller_utils.go ``ComputeHash``). The bytes it hashes are ``hashutil.DeepHashObject``'s
    go-spew dump of the ``v1.PodTemplateSpec`` struct (every Go field, defaulted), followed by the collision
    count as 4 little-endian bytes: not reproducible from JSON without the whole Go type. The sandbox hashes
    canonical JSON with the same FNV-32a and alphabet (the collision count appended as decimal) and pads the
    decimal to 10 digits, so names look like Kubernetes' (``echo-5d59d67564-x2x7k``) but the values differ.

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



def _revision(rs: dict[str, Any]) -> int:
    # deployment_util.go Revision: the revision annotation, 0 when absent or not a number.
    try:
        return int(((rs["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION)) or 0)
    except ValueError:
        return 0


def _without_hash(template: dict[str, Any]) -> str:
    # deployment_util.go EqualIgnoreHash: templates compared with the pod-template-hash label removed.
    copy = json.loads(json.dumps(template or {}))
    labels = (copy.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(TEMPLATE_HASH_LABEL, None)
        if not labels:
            copy["metadata"].pop("labels")
    return json.dumps(copy, sort_keys=True)


def _created(obj: dict[str, Any]) -> tuple[str, str]:
    # controller.ReplicaSetsByCreationTimestamp: oldest first, the name breaking ties.
    return (obj["metadata"].get("creationTimestamp") or "", obj["metadata"]["name"])


def _spec_replicas(rs: dict[str, Any]) -> int:
    return int((rs.get("spec") or {}).get("replicas", 0))


def _status_count(rs: dict[str, Any], field: str) -> int:
    return int((rs.get("status") or {}).get(field) or 0)


def _set_condition(conditions: list[dict[str, Any]], cond: dict[str, Any]) -> list[dict[str, Any]]:
    # deployment_util.go SetDeploymentCondition: the same status and reason leave the condition as it is; the
    # same status keeps lastTransitionTime; the new one goes last.
    current = next((c for c in conditions if c.get("type") == cond["type"]), None)
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return conditions
    if current is not None and current.get("status") == cond["status"]:
        cond = {**cond, "lastTransitionTime": current.get("lastTransitionTime", cond["lastTransitionTime"])}
    return [c for c in conditions if c.get("type") != cond["type"]] + [cond]


def _condition(ctype: str, status: bool, reason: str, message: str) -> dict[str, Any]:
    # deployment_util.go NewDeploymentCondition: both times are now.
    now = rfc3339_now()
    return {"type": ctype, "status": "True" if status else "False", "lastUpdateTime": now,
            "lastTransitionTime": now, "reason": reason, "message": message}


class DeploymentController(OwnerController):
    """Reconciles Deployments into ReplicaSets, as pkg/controller/deployment does.

    Args:
        store: The object store to read and write (as ``CONTROLLER``).
        scheduler_events: Unused since the ReplicaSet controller creates the pods (kept for callers).
    """

    def __init__(self, store: Store, scheduler_events: EventRecorder | None = None) -> None:
        # Its timers are progress deadlines (progress.go requeueStuckDeployment); its dependents ReplicaSets.
        super().__init__(store, scheduler_events, kinds.DEPLOYMENT, "deployment-controller")

    # --- the sync --------------------------------------------------------------------------------

    def sync(self, ns: str, name: str) -> None:
        """Reconcile one Deployment: its ReplicaSets (create, scale, roll, clean up) and its ``status``.

        A Deployment that is gone has its ReplicaSets collected instead (pkg/controller/deployment/
        deployment_controller.go ``syncDeployment``; the garbage collector's work in Kubernetes).

        Args:
            ns: The Deployment's namespace.
            name: The Deployment's name.
        """
        dep = self._get_or_collect(ns, name)
        if dep is None:
            return
        if dep["metadata"].get("deletionTimestamp"):
            return
        uid = dep["metadata"]["uid"]
        # Pods a sandbox wrote before it had ReplicaSets belong to no ReplicaSet: they go, the ReplicaSet makes new.
        for pod in self.store.list(kinds.POD, ns)[0]:
            if owner_uid(pod) == uid:
                with contextlib.suppress(ApiError):
                    self.store.delete(kinds.POD, ns, pod["metadata"]["name"], identity=CONTROLLER)
        spec = dep.get("spec") or {}
        # deployment_controller.go getReplicaSetsForDeployment: ClaimReplicaSets adopts and releases by selector.
        rs_all = sorted(claim(self.store, kinds.REPLICA_SET, dep, self.store.list(kinds.REPLICA_SET, ns)[0]),
                        key=_created)
        wanted = _without_hash(spec.get("template") or {})
        # deployment_util.go FindNewReplicaSet: the oldest ReplicaSet whose template equals the Deployment's.
        new_rs = next((rs for rs in rs_all if _without_hash((rs.get("spec") or {}).get("template") or {}) == wanted),
                      None)
        old = [rs for rs in rs_all if rs is not new_rs]
        status = json.loads(json.dumps(dep.get("status") or {}))
        conditions: list[dict[str, Any]] = list(status.get("conditions") or [])
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        conditions = self._paused_conditions(dep, conditions)
        if not spec.get("paused") and self._is_scaling_event(dep, new_rs, old):
            # deployment_controller.go syncDeployment: a resize is sync.go sync (scale, then calculateStatus).
            new_rs, conditions = self._new_replica_set(dep, new_rs, old, conditions, create=False)
            new_rs, old = self._scale_all(dep, new_rs, old)
            self._write_status(dep, new_rs, old, conditions, progress=False)
            return
        if spec.get("paused"):
            new_rs, old, conditions = self._paused(dep, new_rs, old, conditions)
        elif recreate:
            new_rs, old, conditions = self._recreate(dep, new_rs, old, conditions)
        else:
            new_rs, old, conditions = self._rolling(dep, new_rs, old, conditions)
        self._write_status(dep, new_rs, old, conditions)

    @staticmethod
    def _paused_conditions(dep: dict[str, Any], conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # deployment_controller.go checkPausedConditions: Progressing Unknown while paused (kubectl rollout
        # pause), DeploymentResumed after; a ProgressDeadlineExceeded is never overwritten.
        spec = dep.get("spec") or {}
        if spec.get("progressDeadlineSeconds") is None:
            return conditions
        cond = next((c for c in conditions if c.get("type") == "Progressing"), None)
        if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
            return conditions
        paused_now = cond is not None and cond.get("reason") == "DeploymentPaused"
        if spec.get("paused") and not paused_now:
            new = _condition("Progressing", True, "DeploymentPaused", "Deployment is paused")
        elif not spec.get("paused") and paused_now:
            new = _condition("Progressing", True, "DeploymentResumed", "Deployment is resumed")
        else:
            return conditions
        new["status"] = "Unknown"
        return _set_condition(conditions, new)

    def _paused(self, dep: dict[str, Any], new_rs: dict[str, Any] | None, old: list[dict[str, Any]],
                conditions: list[dict[str, Any]],
                ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]:
        # sync.go sync: a paused Deployment is scaled, never rolled (no new ReplicaSet is created), and its
        # old ReplicaSets are cleaned up. Scaling touches the one active ReplicaSet (FindActiveOrLatest).
        new_rs, conditions = self._new_replica_set(dep, new_rs, old, conditions, create=False)
        new_rs, old = self._scale_all(dep, new_rs, old)
        return new_rs, self._cleanup(dep, old), conditions

    @staticmethod
    def _is_scaling_event(dep: dict[str, Any], new_rs: dict[str, Any] | None, old: list[dict[str, Any]]) -> bool:
        # sync.go isScalingEvent: an active ReplicaSet's desired-replicas annotation differs from spec.replicas.
        replicas = str(int((dep.get("spec") or {}).get("replicas", 1)))
        return any((rs["metadata"].get("annotations") or {}).get(_DESIRED_REPLICAS, replicas) != replicas
                   for rs in [*([new_rs] if new_rs is not None else []), *old] if _spec_replicas(rs))

    def _scale_all(self, dep: dict[str, Any], new_rs: dict[str, Any] | None, old: list[dict[str, Any]],
                   ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        # sync.go scale: the one active (or the latest) ReplicaSet takes spec.replicas; a saturated new one
        # leaves the old ones at zero; otherwise, rolling, every active ReplicaSet grows or shrinks in
        # proportion (deployment_util.go GetProportion / getReplicaSetFraction), the leftover to the first.
        spec = dep.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        everyone = [*([new_rs] if new_rs is not None else []), *old]
        active = [rs for rs in everyone if _spec_replicas(rs)]
        by_uid = {rs["metadata"]["uid"]: rs for rs in everyone}

        def done() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
            fresh = by_uid[new_rs["metadata"]["uid"]] if new_rs is not None else None
            return fresh, [by_uid[rs["metadata"]["uid"]] for rs in old]

        # deployment_util.go FindActiveOrLatest.
        target = active[0] if len(active) == 1 else None
        if not active:
            target = new_rs if new_rs is not None else max(old, key=_created, default=None)
        if target is not None:
            by_uid[target["metadata"]["uid"]] = self._scale(dep, target, replicas)
            return done()
        if new_rs is not None and (_spec_replicas(new_rs) == replicas and _status_count(new_rs, "availableReplicas")
                                   == replicas and (new_rs["metadata"].get("annotations") or {})
                                   .get(_DESIRED_REPLICAS) == str(replicas)):
            # deployment_util.go IsSaturated.
            for rs in old:
                if _spec_replicas(rs):
                    by_uid[rs["metadata"]["uid"]] = self._scale(dep, rs, 0)
            return done()
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            return done()
        allowed = replicas + self._max_surge(dep) if replicas > 0 else 0
        to_add = allowed - sum(_spec_replicas(rs) for rs in active)
        if to_add > 0:
            # controller.ReplicaSetsBySizeNewer: larger first, newer first among equals.
            ordered = sorted(active, key=_created, reverse=True)
            ordered.sort(key=_spec_replicas, reverse=True)
        else:
            # controller.ReplicaSetsBySizeOlder: larger first, older first among equals.
            ordered = sorted(active, key=_created)
            ordered.sort(key=_spec_replicas, reverse=True)
        sizes: dict[str, int] = {}
        added = 0
        before = int((dep.get("status") or {}).get("replicas") or 0)
        for rs in ordered:
            proportion = 0
            if to_add and to_add != added:
                if replicas == 0:
                    fraction = -_spec_replicas(rs)
                else:
                    try:
                        max_before = int((rs["metadata"].get("annotations") or {}).get(_MAX_REPLICAS) or 0)
                    except ValueError:
                        max_before = 0
                    max_before = max_before or before
                    # Go's integer.RoundToInt32: half away from zero.
                    fraction = (int(_spec_replicas(rs) * allowed / max_before + 0.5) - _spec_replicas(rs)
                                if max_before else 0)
                proportion = min(fraction, to_add - added) if to_add > 0 else max(fraction, to_add - added)
            sizes[rs["metadata"]["uid"]] = _spec_replicas(rs) + proportion
            added += proportion
        for i, rs in enumerate(ordered):
            uid = rs["metadata"]["uid"]
            if i == 0 and to_add:
                sizes[uid] = max(0, sizes[uid] + to_add - added)
            by_uid[uid] = self._scale(dep, rs, sizes[uid])
        return done()

    # --- the new ReplicaSet ----------------------------------------------------------------------

    def _new_replica_set(self, dep: dict[str, Any], new_rs: dict[str, Any] | None, old: list[dict[str, Any]],
                         conditions: list[dict[str, Any]], *, create: bool,
                         ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        # sync.go getNewReplicaSet: an existing new ReplicaSet gets the Deployment's annotations and the next
        # revision; otherwise one is created (named <deployment>-<hash>) with its first replica count.
        meta, spec = dep["metadata"], dep.get("spec") or {}
        ns, name = meta["namespace"], meta["name"]
        revision = max((_revision(rs) for rs in old), default=0) + 1
        if new_rs is not None:
            annotations = dict(new_rs["metadata"].get("annotations") or {})
            changed = self._copy_annotations(dep, annotations, revision)
            min_ready = spec.get("minReadySeconds", 0)
            if changed or (new_rs.get("spec") or {}).get("minReadySeconds", 0) != min_ready:
                def update(obj: dict[str, Any]) -> dict[str, Any]:
                    obj["metadata"]["annotations"] = annotations
                    if min_ready:
                        obj["spec"]["minReadySeconds"] = min_ready
                    else:
                        obj["spec"].pop("minReadySeconds", None)
                    return obj
                new_rs = self.store.patch(kinds.REPLICA_SET, ns, new_rs["metadata"]["name"], update,
                                          identity=CONTROLLER)
            self._set_deployment_revision(dep, annotations.get(REVISION_ANNOTATION, ""))
            if not any(c.get("type") == "Progressing" for c in conditions):
                conditions.append(_condition("Progressing", True, "FoundNewReplicaSet",
                                             f'Found new replica set "{new_rs["metadata"]["name"]}"'))
            return new_rs, conditions
        if not create:
            return None, conditions
        template = json.loads(json.dumps(spec.get("template") or {}))
        collisions = int((dep.get("status") or {}).get("collisionCount") or 0)
        phash = template_hash(template, collisions)
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = {**(tmeta.get("labels") or {}), TEMPLATE_HASH_LABEL: phash}
        selector = json.loads(json.dumps(spec.get("selector") or {}))
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), TEMPLATE_HASH_LABEL: phash}
        rs_name = f"{name}-{phash}"
        rs_spec: dict[str, Any] = {"replicas": 0, "selector": selector, "template": template}
        if spec.get("minReadySeconds"):
            rs_spec["minReadySeconds"] = spec["minReadySeconds"]
        draft = {"spec": rs_spec}
        replicas = self._new_rs_replicas(dep, [*old, draft], draft)
        rs_spec["replicas"] = replicas
        rs_annotations: dict[str, str] = {}
        self._copy_annotations(dep, rs_annotations, revision)
        rs_annotations[_DESIRED_REPLICAS] = str(int(spec.get("replicas", 1)))
        rs_annotations[_MAX_REPLICAS] = str(int(spec.get("replicas", 1)) + self._max_surge(dep))
        body = {"apiVersion": kinds.REPLICA_SET.api_version, "kind": "ReplicaSet",
                "metadata": {"name": rs_name, "namespace": ns, "labels": dict(tmeta["labels"]),
                             "annotations": rs_annotations,
                             "ownerReferences": [{"apiVersion": kinds.DEPLOYMENT.api_version, "kind": "Deployment",
                                                  "name": name, "uid": meta["uid"], "controller": True,
                                                  "blockOwnerDeletion": True}]},
                "spec": rs_spec}
        try:
            created = self.store.create(kinds.REPLICA_SET, body, identity=CONTROLLER)
        except ApiError as exc:
            if exc.code != 409:
                raise
            # sync.go getNewReplicaSet: a ReplicaSet of that name that is not this template's is a hash
            # collision; collisionCount goes up and the next sync hashes again.
            existing = self.store.get(kinds.REPLICA_SET, ns, rs_name)
            if owner_uid(existing) == meta["uid"] and _without_hash(
                    (existing.get("spec") or {}).get("template") or {}) == _without_hash(template):
                return existing, conditions
            status = dict(dep.get("status") or {})
            status["collisionCount"] = collisions + 1

            def bump(obj: dict[str, Any]) -> dict[str, Any]:
                obj["status"] = status
                return obj
            self.store.patch(kinds.DEPLOYMENT, ns, name, bump, identity=CONTROLLER, subresource="status")
            raise
        involved = object_ref(kinds.DEPLOYMENT, ns, name, meta["uid"])
        if replicas > 0:
            self._events.record(involved, NORMAL, "ScalingReplicaSet",
                                f"Scaled up replica set {rs_name} from 0 to {replicas}")
        self._set_deployment_revision(dep, rs_annotations[REVISION_ANNOTATION])
        conditions = _set_condition(conditions, _condition("Progressing", True, "NewReplicaSetCreated",
                                                           f'Created new replica set "{rs_name}"'))
        return created, conditions

    @staticmethod
    def _copy_annotations(dep: dict[str, Any], annotations: dict[str, str], revision: int) -> bool:
        # deployment_util.go SetNewReplicaSetAnnotations: the Deployment's annotations (less skipCopyAnnotation)
        # and a revision only ever raised, the replaced one kept in revision-history.
        changed = False
        for key, value in (dep["metadata"].get("annotations") or {}).items():
            if key not in _SKIP_COPY and annotations.get(key) != value:
                annotations[key] = value
                changed = True
        old_text = annotations.get(REVISION_ANNOTATION, "")
        try:
            old_revision = int(old_text or 0)
        except ValueError:
            old_revision = 0
        if old_revision < revision:
            annotations[REVISION_ANNOTATION] = str(revision)
            changed = True
            if old_text:
                history = annotations.get(_REVISION_HISTORY, "")
                annotations[_REVISION_HISTORY] = f"{history},{old_text}" if history else old_text
        return changed

    def _set_deployment_revision(self, dep: dict[str, Any], revision: str) -> None:
        # deployment_util.go SetDeploymentRevision: the Deployment carries its newest ReplicaSet's revision.
        if not revision or (dep["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION) == revision:
            return

        def mutate(obj: dict[str, Any]) -> dict[str, Any]:
            obj["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = revision
            return obj
        updated = self.store.patch(kinds.DEPLOYMENT, dep["metadata"]["namespace"], dep["metadata"]["name"], mutate,
                                   identity=CONTROLLER)
        dep["metadata"] = updated["metadata"]

    # --- sizes -----------------------------------------------------------------------------------

    @staticmethod
    def _fenceposts(dep: dict[str, Any]) -> tuple[int, int]:
        # deployment_util.go ResolveFenceposts: surge rounds up, unavailability down, never both zero.
        spec = dep.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        surge = _int_or_percent(rolling.get("maxSurge", "25%"), replicas, round_up=True)
        unavailable = _int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return surge, unavailable

    def _max_surge(self, dep: dict[str, Any]) -> int:
        # deployment_util.go MaxSurge: 0 unless RollingUpdate.
        if ((dep.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            return 0
        return self._fenceposts(dep)[0]

    def _max_unavailable(self, dep: dict[str, Any]) -> int:
        # deployment_util.go MaxUnavailable: 0 unless RollingUpdate with replicas, never above replicas.
        spec = dep.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        if (spec.get("strategy") or {}).get("type") == "Recreate" or replicas == 0:
            return 0
        return min(self._fenceposts(dep)[1], replicas)

    def _new_rs_replicas(self, dep: dict[str, Any], all_rs: list[dict[str, Any]], new_rs: dict[str, Any]) -> int:
        # deployment_util.go NewRSNewReplicas.
        replicas = int((dep.get("spec") or {}).get("replicas", 1))
        if ((dep.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
            return replicas
        current = sum(_spec_replicas(rs) for rs in all_rs)
        max_total = replicas + self._max_surge(dep)
        if current >= max_total:
            return _spec_replicas(new_rs)
        return _spec_replicas(new_rs) + min(max_total - current, replicas - _spec_replicas(new_rs))

    def _scale(self, dep: dict[str, Any], rs: dict[str, Any], count: int) -> dict[str, Any]:
        # sync.go scaleReplicaSet: spec.replicas and the desired/max annotations, one ScalingReplicaSet event.
        before = _spec_replicas(rs)
        desired = str(int((dep.get("spec") or {}).get("replicas", 1)))
        most = str(int(desired) + self._max_surge(dep))
        annotations = rs["metadata"].get("annotations") or {}
        if before == count and annotations.get(_DESIRED_REPLICAS) == desired and annotations.get(_MAX_REPLICAS) == most:
            return rs

        def mutate(obj: dict[str, Any]) -> dict[str, Any]:
            obj["spec"]["replicas"] = count
            notes = obj["metadata"].setdefault("annotations", {})
            notes[_DESIRED_REPLICAS] = desired
            notes[_MAX_REPLICAS] = most
            return obj
        ns, rs_name = rs["metadata"]["namespace"], rs["metadata"]["name"]
        updated = self.store.patch(kinds.REPLICA_SET, ns, rs_name, mutate, identity=CONTROLLER)
        if before != count:
            self._events.record(object_ref(kinds.DEPLOYMENT, ns, dep["metadata"]["name"], dep["metadata"]["uid"]),
                                NORMAL, "ScalingReplicaSet",
                                f"Scaled {'up' if count > before else 'down'} replica set {rs_name} from {before} "
                                f"to {count}")
        return updated

    # --- strategies ------------------------------------------------------------------------------

    def _rolling(self, dep: dict[str, Any], new_rs: dict[str, Any] | None, old: list[dict[str, Any]],
                 conditions: list[dict[str, Any]],
                 ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]:
        # rolling.go rolloutRolling: the new ReplicaSet up (reconcileNewReplicaSet), then the old ones down
        # (reconcileOldReplicaSets), then the history cleanup once complete.
        new_rs, conditions = self._new_replica_set(dep, new_rs, old, conditions, create=True)
        assert new_rs is not None
        replicas = int((dep.get("spec") or {}).get("replicas", 1))
        current = _spec_replicas(new_rs)
        if current > replicas:
            new_rs = self._scale(dep, new_rs, replicas)
        elif current < replicas:
            new_rs = self._scale(dep, new_rs, self._new_rs_replicas(dep, [*old, new_rs], new_rs))
        old = self._reconcile_old(dep, new_rs, old)
        if self._complete(dep, dep.get("status") or {}):
            old = self._cleanup(dep, old)
        return new_rs, old, conditions

    def _reconcile_old(self, dep: dict[str, Any], new_rs: dict[str, Any],
                       old: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # rolling.go reconcileOldReplicaSets, cleanupUnhealthyReplicas, scaleDownOldReplicaSetsForRollingUpdate.
        if not sum(_spec_replicas(rs) for rs in old):
            return old
        replicas = int((dep.get("spec") or {}).get("replicas", 1))
        min_available = replicas - self._max_unavailable(dep)
        all_pods = sum(_spec_replicas(rs) for rs in [*old, new_rs])
        new_unavailable = _spec_replicas(new_rs) - _status_count(new_rs, "availableReplicas")
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return old
        old = sorted(old, key=_created)
        cleaned = 0
        for i, rs in enumerate(old):
            if cleaned >= max_scaled_down:
                break
            unhealthy = _spec_replicas(rs) - _status_count(rs, "availableReplicas")
            if _spec_replicas(rs) == 0 or unhealthy <= 0:
                continue
            count = min(max_scaled_down - cleaned, unhealthy)
            old[i] = self._scale(dep, rs, _spec_replicas(rs) - count)
            cleaned += count
        available = sum(_status_count(rs, "availableReplicas") for rs in [*old, new_rs])
        if available <= min_available:
            return old
        budget = available - min_available
        done = 0
        for i, rs in enumerate(old):
            if done >= budget:
                break
            if _spec_replicas(rs) == 0:
                continue
            count = min(_spec_replicas(rs), budget - done)
            old[i] = self._scale(dep, rs, _spec_replicas(rs) - count)
            done += count
        return old

    def _recreate(self, dep: dict[str, Any], new_rs: dict[str, Any] | None, old: list[dict[str, Any]],
                  conditions: list[dict[str, Any]],
                  ) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]:
        # recreate.go rolloutRecreate: old ReplicaSets to zero, wait until their pods are gone, then the new one
        # (created only then) straight to spec.replicas.
        new_rs, conditions = self._new_replica_set(dep, new_rs, old, conditions, create=False)
        scaled_down = False
        for i, rs in enumerate(old):
            if _spec_replicas(rs):
                old[i] = self._scale(dep, rs, 0)
                scaled_down = True
        if scaled_down:
            return new_rs, old, conditions
        old_uids = {rs["metadata"]["uid"] for rs in old}
        ns = dep["metadata"]["namespace"]
        if any(owner_uid(p, "ReplicaSet") in old_uids
               and (p.get("status") or {}).get("phase") not in ("Failed", "Succeeded")
               for p in self.store.list(kinds.POD, ns)[0]):
            return new_rs, old, conditions
        if new_rs is None:
            new_rs, conditions = self._new_replica_set(dep, None, old, conditions, create=True)
            assert new_rs is not None
        new_rs = self._scale(dep, new_rs, int((dep.get("spec") or {}).get("replicas", 1)))
        if self._complete(dep, dep.get("status") or {}):
            old = self._cleanup(dep, old)
        return new_rs, old, conditions

    def _cleanup(self, dep: dict[str, Any], old: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # sync.go cleanupDeployment: the oldest revisions past revisionHistoryLimit go, if they have no pods.
        limit = (dep.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return old
        alive = [rs for rs in old if not rs["metadata"].get("deletionTimestamp")]
        diff = len(alive) - int(limit)
        if diff <= 0:
            return old
        gone = set()
        for rs in sorted(alive, key=lambda r: (_revision(r), _created(r)))[:diff]:
            if (_status_count(rs, "replicas") or _spec_replicas(rs)
                    or int(rs["metadata"].get("generation", 1)) > _status_count(rs, "observedGeneration")):
                continue
            with contextlib.suppress(ApiError):
                self.store.delete(kinds.REPLICA_SET, rs["metadata"]["namespace"], rs["metadata"]["name"],
                                  identity=CONTROLLER)
                gone.add(rs["metadata"]["uid"])
        return [rs for rs in old if rs["metadata"]["uid"] not in gone]

    # --- status ----------------------------------------------------------------------------------

    @staticmethod
    def _complete(dep: dict[str, Any], status: dict[str, Any]) -> bool:
        # deployment_util.go DeploymentComplete.
        replicas = int((dep.get("spec") or {}).get("replicas", 1))
        return (int(status.get("updatedReplicas") or 0) == replicas and int(status.get("replicas") or 0) == replicas
                and int(status.get("availableReplicas") or 0) == replicas
                and int(status.get("observedGeneration") or 0) >= int(dep["metadata"].get("generation", 1)))

    def _write_status(self, dep: dict[str, Any], new_rs: dict[str, Any] | None, old: list[dict[str, Any]],
                      conditions: list[dict[str, Any]], *, progress: bool = True) -> None:
        # sync.go calculateStatus, then progress.go syncRolloutStatus for Progressing and ReplicaFailure.
        meta, spec = dep["metadata"], dep.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        all_rs = [*old, *([new_rs] if new_rs is not None else [])]
        prev = dep.get("status") or {}
        available = sum(_status_count(rs, "availableReplicas") for rs in all_rs)
        total = sum(_spec_replicas(rs) for rs in all_rs)
        counts = {"replicas": sum(_status_count(rs, "replicas") for rs in all_rs),
                  "updatedReplicas": _status_count(new_rs, "replicas") if new_rs is not None else 0,
                  "readyReplicas": sum(_status_count(rs, "readyReplicas") for rs in all_rs),
                  "availableReplicas": available,
                  "unavailableReplicas": max(0, total - available)}
        status: dict[str, Any] = {"observedGeneration": meta.get("generation", 1)}
        status.update((key, value) for key, value in counts.items() if value)
        if available >= replicas - self._max_unavailable(dep):
            conditions = _set_condition(conditions, _condition("Available", True, "MinimumReplicasAvailable",
                                                               "Deployment has minimum availability."))
        else:
            conditions = _set_condition(conditions, _condition("Available", False, "MinimumReplicasUnavailable",
                                                               "Deployment does not have minimum availability."))
        current = next((c for c in conditions if c.get("type") == "Progressing"), None)
        complete_already = (status.get("replicas", 0) == status.get("updatedReplicas", 0) and current is not None
                            and current.get("reason") == "NewReplicaSetAvailable")
        deadline = spec.get("progressDeadlineSeconds")
        rs_label = (f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs is not None
                    else f'Deployment "{meta["name"]}"')
        if deadline is None:
            conditions = [c for c in conditions if c.get("type") != "Progressing"]
        elif spec.get("paused") or not progress:
            # sync.go syncDeploymentStatus: a paused or resized Deployment's status is calculateStatus alone.
            pass
        elif not complete_already:
            old_out = int(prev.get("replicas") or 0) - int(prev.get("updatedReplicas") or 0)
            new_out = status.get("replicas", 0) - status.get("updatedReplicas", 0)
            if self._complete(dep, status):
                conditions = _set_condition(conditions, _condition("Progressing", True, "NewReplicaSetAvailable",
                                                                   f"{rs_label} has successfully progressed."))
            elif (status.get("updatedReplicas", 0) > int(prev.get("updatedReplicas") or 0) or new_out < old_out
                  or status.get("readyReplicas", 0) > int(prev.get("readyReplicas") or 0)
                  or available > int(prev.get("availableReplicas") or 0)):
                cond = _condition("Progressing", True, "ReplicaSetUpdated", f"{rs_label} is progressing.")
                if current is not None and current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime", cond["lastTransitionTime"])
                conditions = [c for c in conditions if c.get("type") != "Progressing"] + [cond]
            elif current is not None and current.get("status") == "True" and self._timed_out(current, int(deadline)):
                # deployment_util.go DeploymentTimedOut: no progress for progressDeadlineSeconds.
                conditions = _set_condition(conditions, _condition("Progressing", False, "ProgressDeadlineExceeded",
                                                                   f"{rs_label} has timed out progressing."))
        key = (meta["namespace"], meta["name"])
        self._wake.pop(key, None)
        progressing = next((c for c in conditions if c.get("type") == "Progressing"), None)
        if (deadline is not None and not spec.get("paused") and progressing is not None
                and progressing.get("status") == "True" and progressing.get("reason") != "NewReplicaSetAvailable"):
            # progress.go requeueStuckDeployment: sync again when lastUpdateTime + progressDeadlineSeconds passes.
            left = self._seconds_to_deadline(progressing, int(deadline))
            if left is not None:
                self._wake_in(key[0], key[1], left + 0.05)
        # progress.go getReplicaFailures: the new ReplicaSet's ReplicaFailure first, else an old one's.
        failure = None
        for rs in ([new_rs] if new_rs is not None else []) + old:
            failure = next((c for c in (rs.get("status") or {}).get("conditions") or []
                            if c.get("type") == "ReplicaFailure"), None)
            if failure is not None:
                break
        if failure is not None:
            # deployment_util.go ReplicaSetToDeploymentCondition.
            conditions = _set_condition(conditions, {
                "type": "ReplicaFailure", "status": failure.get("status", "True"),
                "lastUpdateTime": failure.get("lastTransitionTime"),
                "lastTransitionTime": failure.get("lastTransitionTime"),
                "reason": failure.get("reason", ""), "message": failure.get("message", "")})
        else:
            conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
        status["conditions"] = conditions
        if prev.get("collisionCount"):
            status["collisionCount"] = prev["collisionCount"]
        self.write_status(meta["namespace"], meta["name"], status, prev)

    @staticmethod
    def _seconds_to_deadline(cond: dict[str, Any], deadline: int) -> float | None:
        stamp = cond.get("lastUpdateTime")
        if not isinstance(stamp, str):
            return None
        try:
            then = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return None
        return then + deadline - datetime.now(UTC).timestamp()

    def _timed_out(self, cond: dict[str, Any], deadline: int) -> bool:
        # deployment_util.go DeploymentTimedOut: lastUpdateTime + progressDeadlineSeconds is before now.
        left = self._seconds_to_deadline(cond, deadline)
        return left is not None and left < 0
