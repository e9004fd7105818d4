"""The Job controller: a ``batch/v1`` Job runs pods to completion and reports them in its ``status``.

After pkg/controller/job/job_controller.go ``syncJob`` and ``manageJob``: the pods a Job controls are those with
an ``ownerReference`` (``controller: true``) to it (claimed through its selector, as ``ControllerRefManager``
does); while fewer than ``completions`` have succeeded, it keeps ``min(parallelism, completions - succeeded)``
pods active (``<job>-<5 chars>``, from the template); a failed pod counts toward ``backoffLimit``
(``pastBackoffLimitOnFailure`` counts container restarts for ``restartPolicy: OnFailure``), and past it, or past
``activeDeadlineSeconds``, the Job fails (``FailureTarget`` then ``Failed``, as 1.31+ writes them) and its active
pods are deleted; when enough succeed it completes (``SuccessCriteriaMet`` then ``Complete``). The
TTL-after-finished controller (pkg/controller/ttlafterfinished/ttlafterfinished_controller.go ``processJob``)
deletes a finished Job ``ttlSecondsAfterFinished`` after it finished; the garbage collector
(:mod:`~gloo_nb.sandbox.garbage_collector`) then deletes its pods.

Differences, on purpose: the pod-failure back-off (10s doubling to 6 minutes, ``getBackoff``) is shortened to
0.5s doubling to 5s, so that a sandbox's failing Job ends within seconds; pods carry no
``batch.kubernetes.io/job-tracking`` finalizer (the sandbox's pods are deleted at once, so the counts are kept
monotonic in ``status`` instead, and ``uncountedTerminatedPods`` stays empty).
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
from gloo_nb.sandbox.pod_objects import NODE_NAME, is_ready, record_scheduled, rfc3339_now
from gloo_nb.sandbox.replicaset_controller import OwnerController, claim, is_namespace_terminating
from gloo_nb.sandbox.store import CONTROLLER, ApiError, Store

__all__ = ["BACKOFF_BASE", "BACKOFF_MAX", "COMPLETION_INDEX", "JobController", "format_indexes", "parse_indexes"]

BACKOFF_BASE = 0.5
"""Seconds before a failed pod is replaced, doubling per failure (Kubernetes: 10s, ``DefaultJobPodFailureBackOff``)."""
BACKOFF_MAX = 5.0
"""The longest such wait (Kubernetes: 6 minutes, ``MaxJobPodFailureBackOff``)."""

# job_controller.go: the reasons and messages of the conditions and events it writes.
_COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
_BACKOFF_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
_DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")


COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
"""The annotation and label holding an Indexed Job's pod's index (pkg/apis/batch/types.go)."""


def format_indexes(indexes: set[int]) -> str:
    """Format completed indexes as ``status.completedIndexes`` does: ``"1,3-5,7"``.

    indexed_job_utils.go ``orderedIntervals.String``: ascending, consecutive runs as ``first-last``.

    Args:
        indexes: The indexes.

    Returns:
        The text (empty for none).
    """
    parts: list[str] = []
    ordered = sorted(indexes)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def parse_indexes(text: str, completions: int) -> set[int]:
    """Parse ``status.completedIndexes`` (indexed_job_utils.go ``parseIndexesFromString``), below ``completions``.

    Args:
        text: e.g. ``"1,3-5"``.
        completions: The Job's completions; larger indexes are dropped.

    Returns:
        The indexes.
    """
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        first, _, last = part.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            continue
        out.update(i for i in range(lo, hi + 1) if 0 <= i < completions)
    return out


def _index_of(pod: dict[str, Any]) -> int | None:
    # indexed_job_utils.go getCompletionIndex: the annotation, a non-negative integer.
    value = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX)
    try:
        index = int(str(value))
    except ValueError:
        return None
    return index if index >= 0 else None


def _seconds(stamp: Any) -> float | None:
    try:
        return datetime.strptime(str(stamp)[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _condition(status: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == ctype and cond.get("status") == "True":
            return dict(cond)
    return None


def _new_condition(ctype: str, reason: str, message: str, status: str = "True") -> dict[str, Any]:
    # job_controller.go newCondition: lastProbeTime and lastTransitionTime both now.
    now = rfc3339_now()
    return {"type": ctype, "status": status, "lastProbeTime": now, "lastTransitionTime": now, "reason": reason,
            "message": message}


def finished_at(job: dict[str, Any]) -> float | None:
    """Return when a Job finished (its ``Complete`` or ``Failed`` condition's transition), or None.

    Args:
        job: The Job.

    Returns:
        Seconds since the epoch, or None while it runs.
    """
    status = job.get("status") or {}
    for ctype in ("Complete", "Failed"):
        cond = _condition(status, ctype)
        if cond is not None:
            return _seconds(cond.get("lastTransitionTime")) or time.time()
    return None


class JobController(OwnerController):
    """Reconciles Jobs into pods that run to completion, and deletes finished Jobs after their TTL.

    Args:
        store: The object store to read and write (as ``CONTROLLER``).
        scheduler_events: The ``default-scheduler`` recorder, shared with the kubelet (both bind pods).
    """

    def __init__(self, store: Store, scheduler_events: EventRecorder) -> None:
        super().__init__(store, scheduler_events, kinds.JOB, "job-controller")

    def sync(self, ns: str, name: str) -> None:
        """Reconcile one Job: create or delete pods, then write ``status`` (``syncJob``).

        A Job that is gone has its pods collected instead.

        Args:
            ns: The Job's namespace.
            name: The Job's name.
        """
        job = self._get_or_collect(ns, name)
        if job is None:
            return
        meta, spec = job["metadata"], job.get("spec") or {}
        status = dict(job.get("status") or {})
        involved = object_ref(kinds.JOB, ns, name, meta["uid"])
        pods = claim(self.store, kinds.POD, job, self.store.list(kinds.POD, ns)[0])
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        active = [p for p in live if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        # Without the tracking finalizer the counts are kept in status: a deleted pod is not forgotten.
        succeeded = max(int(status.get("succeeded", 0)),
                        sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"))
        indexed = spec.get("completionMode") == "Indexed" and spec.get("completions") is not None
        done_indexes: set[int] = set()
        if indexed:
            # indexed_job_utils.go calculateSucceededIndexes: the stored completedIndexes and the indexes of
            # the pods that succeeded; succeeded counts indexes, not pods.
            done_indexes = parse_indexes(str(status.get("completedIndexes") or ""), int(spec["completions"]))
            done_indexes.update(i for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"
                                and (i := _index_of(p)) is not None and i < int(spec["completions"]))
            succeeded = len(done_indexes)
            status["completedIndexes"] = format_indexes(done_indexes)
        failed = max(int(status.get("failed", 0)),
                     sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed"))
        if finished_at(job) is not None:
            self._after_finished(job, active)
            return
        if meta.get("deletionTimestamp"):
            return
        now = time.time()
        suspended = bool(spec.get("suspend"))
        if not suspended and not status.get("startTime"):
            status["startTime"] = rfc3339_now()
        completions = spec.get("completions")
        conditions = [dict(c) for c in status.get("conditions") or []]
        finish: tuple[str, str, str] | None = None  # (target condition, reason, message)
        target = _condition(status, "FailureTarget") or _condition(status, "SuccessCriteriaMet")
        if target is not None:
            finish = (str(target["type"]), str(target.get("reason", "")), str(target.get("message", "")))
        elif completions is not None and succeeded >= int(completions) or (
                completions is None and succeeded > 0 and not active):
            finish = ("SuccessCriteriaMet", *_COMPLETIONS_REACHED)
        elif self._past_backoff_limit(spec, failed, active):
            finish = ("FailureTarget", *_BACKOFF_EXCEEDED)
        elif (spec.get("activeDeadlineSeconds") is not None and status.get("startTime")
              and not suspended):
            left = (_seconds(status["startTime"]) or now) + int(spec["activeDeadlineSeconds"]) - now
            if left <= 0:
                finish = ("FailureTarget", *_DEADLINE_EXCEEDED)
            else:
                self._wake_in(ns, name, left)
        if finish is not None:
            ctype, reason, message = finish
            if target is None:
                conditions.append(_new_condition(ctype, reason, message))
                if ctype == "FailureTarget":
                    self._events.record(involved, WARNING, reason, message)
            # The Job's pods end before its terminal condition is written (job_controller.go: the Failed and
            # Complete conditions wait for the terminating pods).
            for pod in active:
                with contextlib.suppress(ApiError):
                    self.store.delete(kinds.POD, ns, pod["metadata"]["name"], identity=CONTROLLER)
            if ctype == "FailureTarget":
                failed += len(active)
            active = []
            conditions.append(_new_condition("Failed" if ctype == "FailureTarget" else "Complete", reason, message))
            if ctype == "SuccessCriteriaMet":
                status["completionTime"] = rfc3339_now()
                self._events.record(involved, NORMAL, "Completed", "Job completed")
        else:
            active = self._manage(job, active, succeeded, failed, suspended, involved,
                                  done_indexes if indexed else None)
            conditions = self._suspend_conditions(conditions, suspended, involved)
        status.update({"active": len(active), "succeeded": succeeded, "failed": failed,
                       "ready": sum(1 for p in active if is_ready(p)), "terminating": 0,
                       "uncountedTerminatedPods": {}, "conditions": conditions})
        # JobStatus: active, succeeded and failed are omitempty; ready and terminating are pointers (written).
        for key in ("active", "succeeded", "failed"):
            if not status[key]:
                del status[key]
        if not conditions:
            del status["conditions"]
        self._write_status(job, status)
        if finish is not None:
            self._after_finished(self.store.get(kinds.JOB, ns, name), [])

    @staticmethod
    def _past_backoff_limit(spec: dict[str, Any], failed: int, active: list[dict[str, Any]]) -> bool:
        # job_controller.go: failed pods beyond backoffLimit (exceedsBackoffLimit), or for OnFailure the
        # active pods' container restarts reaching it (pastBackoffLimitOnFailure).
        limit = int(spec.get("backoffLimit", 6))
        if failed > limit:
            return True
        policy = (((spec.get("template") or {}).get("spec") or {}).get("restartPolicy"))
        if policy != "OnFailure":
            return False
        restarts = sum(int(s.get("restartCount", 0)) for p in active
                       for s in (p.get("status") or {}).get("containerStatuses") or [])
        return limit == 0 and restarts > 0 or limit > 0 and restarts >= limit

    def _manage(self, job: dict[str, Any], active: list[dict[str, Any]], succeeded: int, failed: int,
                suspended: bool, involved: dict[str, Any], done_indexes: set[int] | None) -> list[dict[str, Any]]:
        # manageJob: wantActive = parallelism, capped at the completions still missing; a suspended Job
        # deletes its active pods. New pods wait out the back-off after failures (getBackoff, shortened).
        meta, spec = job["metadata"], job.get("spec") or {}
        ns, name = meta["namespace"], meta["name"]
        parallelism = int(spec.get("parallelism", 1))
        completions = spec.get("completions")
        if suspended:
            want = 0
        elif completions is None:
            want = 0 if succeeded > 0 else parallelism
        else:
            want = max(0, min(parallelism, int(completions) - succeeded))
        if done_indexes is not None:
            # indexed_job_utils.go firstPendingIndexes: an Indexed Job's active pods run the lowest indexes
            # that neither succeeded nor run; a pod of a succeeded index is surplus.
            surplus = [p for p in active if _index_of(p) in done_indexes or _index_of(p) is None]
            active = [p for p in active if p not in surplus] + surplus
        if len(active) > want:
            for pod in active[want:]:
                with contextlib.suppress(ApiError):
                    self.store.delete(kinds.POD, ns, pod["metadata"]["name"], identity=CONTROLLER)
                self._events.record(involved, NORMAL, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
            return active[:want]
        if len(active) < want:
            if failed:
                last = max((_seconds(s.get("state", {}).get("terminated", {}).get("finishedAt")) or 0.0
                            for p in self.store.list(kinds.POD, ns)[0]
                            for s in (p.get("status") or {}).get("containerStatuses") or []
                            if any(r.get("uid") == meta["uid"] for r in p["metadata"].get("ownerReferences") or [])),
                           default=0.0)
                wait = last + min(BACKOFF_BASE * 2 ** (failed - 1), BACKOFF_MAX) - time.time()
                if wait > 0:
                    self._wake_in(ns, name, wait)
                    return active
            pending: list[int | None] = [None] * (want - len(active))
            if done_indexes is not None:
                running = {_index_of(p) for p in active}
                free: list[int | None] = [i for i in range(int(spec["completions"]))
                                          if i not in done_indexes and i not in running]
                pending = free[:want - len(active)]
            for index in pending:
                try:
                    pod = self._create_pod(job, index)
                except ApiError as exc:
                    # controller_utils.go createPods: "Error creating: <error>", not for a terminating namespace.
                    if not is_namespace_terminating(exc):
                        self._events.record(involved, WARNING, "FailedCreate", f"Error creating: {exc.message}")
                    break
                active.append(pod)
                self._events.record(involved, NORMAL, "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
        return active

    def _suspend_conditions(self, conditions: list[dict[str, Any]], suspended: bool,
                            involved: dict[str, Any]) -> list[dict[str, Any]]:
        # job_controller.go: Suspended True (JobSuspended, "Job suspended") while suspended, False (JobResumed,
        # "Job resumed") once resumed; with the Suspended / Resumed events.
        current = next((c for c in conditions if c.get("type") == "Suspended"), None)
        if suspended and (current is None or current.get("status") != "True"):
            conditions = [c for c in conditions if c.get("type") != "Suspended"]
            conditions.append(_new_condition("Suspended", "JobSuspended", "Job suspended"))
            self._events.record(involved, NORMAL, "Suspended", "Job suspended")
        elif not suspended and current is not None and current.get("status") == "True":
            conditions = [c for c in conditions if c.get("type") != "Suspended"]
            conditions.append(_new_condition("Suspended", "JobResumed", "Job resumed", status="False"))
            self._events.record(involved, NORMAL, "Resumed", "Job resumed")
        return conditions

    def _after_finished(self, job: dict[str, Any], active: list[dict[str, Any]]) -> None:
        # A finished Job keeps no running pods; ttlafterfinished_controller.go processJob deletes it (with
        # background propagation) ttlSecondsAfterFinished after it finished.
        meta, spec = job["metadata"], job.get("spec") or {}
        ns, name = meta["namespace"], meta["name"]
        for pod in active:
            with contextlib.suppress(ApiError):
                self.store.delete(kinds.POD, ns, pod["metadata"]["name"], identity=CONTROLLER)
        ttl = spec.get("ttlSecondsAfterFinished")
        done = finished_at(job)
        if ttl is None or done is None or meta.get("deletionTimestamp"):
            return
        left = done + int(ttl) - time.time()
        if left > 0:
            self._wake_in(ns, name, left)
            return
        with contextlib.suppress(ApiError):
            self.store.delete(kinds.JOB, ns, name, identity=CONTROLLER)
        collect_garbage(self.store, [ns])

    def _write_status(self, job: dict[str, Any], status: dict[str, Any]) -> None:
        meta = job["metadata"]
        self.write_status(meta["namespace"], meta["name"], status, job.get("status") or {})

    def _create_pod(self, job: dict[str, Any], index: int | None = None) -> dict[str, Any]:
        # job_controller.go manageJob → podControl.CreatePodsWithGenerateName: the template's labels (with the
        # generated controller-uid/job-name ones) and annotations, an ownerReference to the Job (controller,
        # blockOwnerDeletion), generateName "<job>-".
        meta_job = job["metadata"]
        ns, job_name = meta_job["namespace"], meta_job["name"]
        template = (job.get("spec") or {}).get("template") or {}
        tmeta = template.get("metadata") or {}
        meta: dict[str, Any] = {
            "namespace": ns, "labels": dict(tmeta.get("labels") or {}), "generateName": f"{job_name}-",
            "ownerReferences": [{"apiVersion": kinds.JOB.api_version, "kind": "Job", "name": job_name,
                                 "uid": meta_job["uid"], "controller": True, "blockOwnerDeletion": True}],
        }
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        spec = json.loads(json.dumps(template.get("spec") or {}))
        spec["nodeName"] = NODE_NAME
        prefix = job_name
        if index is not None:
            # indexed_job_utils.go addCompletionIndexAnnotation/Label, podGenerateNameWithIndex ("<job>-<i>-"),
            # the hostname "<job>-<i>", and addCompletionIndexEnvVariables: JOB_COMPLETION_INDEX from the
            # annotation, in every container that does not set it.
            prefix = f"{job_name}-{index}"
            meta["generateName"] = f"{prefix}-"
            meta.setdefault("annotations", {})[COMPLETION_INDEX] = str(index)
            meta["labels"][COMPLETION_INDEX] = str(index)
            spec.setdefault("hostname", prefix)
            for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
                env = c.setdefault("env", [])
                if not any(v.get("name") == "JOB_COMPLETION_INDEX" for v in env):
                    env.append({"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
                        "apiVersion": "v1", "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}})
        # CreatePodsWithGenerateName: no name; the apiserver adds the suffix after mutating admission.
        pod = self.store.create(kinds.POD, {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec},
                                identity=CONTROLLER)
        record_scheduled(self._scheduler_events, pod)
        return pod
