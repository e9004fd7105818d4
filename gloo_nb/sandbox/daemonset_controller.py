"""The DaemonSet controller: one pod per eligible node, rolled as ``updateStrategy`` says, with its history.

As pkg/controller/daemon does: ``syncDaemonSet`` (daemon_controller.go) builds the history first
(update.go ``constructHistory``: the ControllerRevision whose ``data`` equals the DaemonSet's template patch is
the current one, renumbered to the highest revision when it is an old one coming back, as ``kubectl rollout
undo`` makes it; otherwise a new ``<ds>-<hash>`` revision is snapshotted), then ``manage``s the pods (a pod on
each node whose labels match the template's ``nodeSelector``, none elsewhere), rolls them
(update.go ``rollingUpdate`` with ``maxUnavailable``/``maxSurge``; ``OnDelete`` waits for the user to delete
pods), cleans up old revisions beyond ``revisionHistoryLimit`` (``cleanupHistory``) and writes ``status``
(``updateDaemonSetStatus``). The sandbox has one node, ``sandbox``; the nodes are read from the store.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from typing import Any

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.deployment_controller import template_hash
from gloo_nb.sandbox.events import NORMAL, WARNING, EventRecorder, object_ref
from gloo_nb.sandbox.pod_objects import is_ready, record_scheduled
from gloo_nb.sandbox.replicaset_controller import SAFE_CHARS, OwnerController, _ready_since, claim
from gloo_nb.sandbox.store import CONTROLLER, ApiError, Store
from gloo_nb.sandbox.validation import DAEMON_SET_TEMPLATE_GENERATION

__all__ = ["REVISION_HASH_LABEL", "TEMPLATE_GENERATION_LABEL", "DaemonSetController", "revision_patch"]

REVISION_HASH_LABEL = "controller-revision-hash"
"""pkg/apis/apps/types.go ``DefaultDaemonSetUniqueLabelKey`` (= ``ControllerRevisionHashLabelKey``)."""
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
"""pkg/apis/extensions ``DaemonSetTemplateGenerationKey``: the template generation a pod was made from."""

# pkg/controller/daemon/util/daemonset_util.go AddOrUpdateDaemonPodTolerations: daemon pods tolerate the node
# conditions (NoExecute for not-ready/unreachable, NoSchedule for the pressures and unschedulable).
_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def revision_patch(ds: dict[str, Any]) -> dict[str, Any]:
    """Return a ControllerRevision's ``data`` for a DaemonSet: a strategic merge patch replacing its template.

    pkg/controller/daemon/update.go ``getPatch``: ``{"spec": {"template": {..., "$patch": "replace"}}}``, which
    ``kubectl rollout undo`` sends back as the patch that restores the revision.

    Args:
        ds: The DaemonSet.

    Returns:
        The patch (keys sorted, as Go marshals a map).
    """
    template = json.loads(json.dumps((ds.get("spec") or {}).get("template") or {}))
    template["$patch"] = "replace"
    data: dict[str, Any] = json.loads(json.dumps({"spec": {"template": template}}, sort_keys=True))
    return data


def _int_or_percent(value: Any, total: int) -> int:
    # intstr.GetScaledValueFromIntOrPercent rounding up, as update.go/util.go unavailableCount/surgeCount do.
    if isinstance(value, str) and value.endswith("%"):
        try:
            return -(-total * int(value[:-1]) // 100)
        except ValueError:
            return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _created(obj: dict[str, Any]) -> tuple[str, str]:
    return (obj["metadata"].get("creationTimestamp") or "", obj["metadata"]["name"])


class DaemonSetController(OwnerController):
    """Reconciles DaemonSets into pods and ControllerRevisions.

    Args:
        store: The object store to read and write (as ``CONTROLLER``).
        scheduler_events: The ``default-scheduler`` recorder, shared with the kubelet (both bind pods).
    """

    def __init__(self, store: Store, scheduler_events: EventRecorder) -> None:
        super().__init__(store, scheduler_events, kinds.DAEMON_SET, "daemonset-controller")

    def all_keys(self, namespace: str | None = None) -> list[tuple[str, str]]:
        """Return every DaemonSet (of ``namespace``, or all), for events that concern them all (a node's labels).

        Args:
            namespace: A namespace, or None for every namespace.

        Returns:
            ``(namespace, name)`` pairs.
        """
        return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.list(self.kind, namespace)[0]]

    def sync(self, ns: str, name: str) -> None:
        """Reconcile one DaemonSet: its history, its pods, its rollout and its ``status``.

        Args:
            ns: The DaemonSet's namespace.
            name: The DaemonSet's name.
        """
        ds = self._get_or_collect(ns, name)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        current, old = self._construct_history(ds)
        hash_ = (current["metadata"].get("labels") or {}).get(REVISION_HASH_LABEL, "")
        nodes = self.store.list(kinds.NODE)[0]
        pods = self._pods(ds)
        changed = self._manage(ds, nodes, pods, hash_)
        strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
        if not changed and strategy.get("type", "RollingUpdate") == "RollingUpdate":
            changed = self._rolling_update(ds, nodes, pods, hash_)
        if changed:
            pods = self._pods(ds)
        self._cleanup_history(ds, old, pods)
        self._write_status(ds, nodes, pods, hash_)

    # --- pods ------------------------------------------------------------------------------------

    def _pods(self, ds: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        # daemon_controller.go getNodesToDaemonPods: the claimed pods by node, oldest first.
        ns = ds["metadata"]["namespace"]
        by_node: dict[str, list[dict[str, Any]]] = {}
        for pod in sorted(claim(self.store, kinds.POD, ds, self.store.list(kinds.POD, ns)[0]), key=_created):
            if pod["metadata"].get("deletionTimestamp"):
                continue
            by_node.setdefault(str((pod.get("spec") or {}).get("nodeName") or ""), []).append(pod)
        return by_node

    @staticmethod
    def _should_run(ds: dict[str, Any], node: dict[str, Any]) -> bool:
        # daemon_controller.go NodeShouldRunDaemonPod: the template's nodeName, if any, and its nodeSelector
        # against the node's labels (the sandbox's node has no taints; daemon pods tolerate the condition ones).
        spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
        if spec.get("nodeName") and spec["nodeName"] != node["metadata"]["name"]:
            return False
        labels = node["metadata"].get("labels") or {}
        return all(labels.get(key) == value for key, value in (spec.get("nodeSelector") or {}).items())

    @staticmethod
    def _updated(ds: dict[str, Any], pod: dict[str, Any], hash_: str) -> bool:
        # daemon/util/daemonset_util.go IsPodUpdated: the revision hash label, or the template generation label.
        labels = pod["metadata"].get("labels") or {}
        generation = (ds["metadata"].get("annotations") or {}).get(DAEMON_SET_TEMPLATE_GENERATION)
        return bool(hash_ and labels.get(REVISION_HASH_LABEL) == hash_) or bool(
            generation and labels.get(TEMPLATE_GENERATION_LABEL) == generation)

    def _available(self, ds: dict[str, Any], pod: dict[str, Any]) -> bool:
        # podutil.IsPodAvailable with the DaemonSet's minReadySeconds; synced again when the pod turns available.
        since = _ready_since(pod)
        if since is None:
            return False
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        left = since + min_ready - time.time()
        if min_ready and left >= 0:
            self._wake_in(ds["metadata"]["namespace"], ds["metadata"]["name"], left)
            return False
        return True

    def _manage(self, ds: dict[str, Any], nodes: list[dict[str, Any]], pods: dict[str, list[dict[str, Any]]],
                hash_: str) -> bool:
        # daemon_controller.go manage / podsShouldBeOnNode: create on nodes that should run a pod and have none;
        # delete failed pods (recreated next sync), the excess (the oldest stays; with surge, the oldest updated
        # and the oldest old one), and every pod on a node that should not run one.
        surge = self._max_surge(ds, len(nodes)) > 0
        creates, deletes = [], []
        for node in nodes:
            node_name = node["metadata"]["name"]
            here = pods.get(node_name, [])
            if not self._should_run(ds, node):
                deletes.extend(here)
                continue
            running = []
            for pod in here:
                if (pod.get("status") or {}).get("phase") == "Failed":
                    self._events.record(self._involved(ds), WARNING, "FailedDaemonPod",
                                        f"Found failed daemon pod {ds['metadata']['namespace']}/"
                                        f"{pod['metadata']['name']} on node {node_name}, will try to kill it")
                    deletes.append(pod)
                else:
                    running.append(pod)
            if not running:
                if not any((p.get("status") or {}).get("phase") == "Failed" for p in here):
                    creates.append(node_name)
                continue
            if surge:
                new = [p for p in running if self._updated(ds, p, hash_)]
                old = [p for p in running if not self._updated(ds, p, hash_)]
                deletes.extend(new[1:] + old[1:])
            else:
                deletes.extend(running[1:])
        for node_name in creates:
            self._create_pod(ds, node_name, hash_)
        for pod in deletes:
            self._delete_pod(ds, pod)
        return bool(creates or deletes)

    def _max_surge(self, ds: dict[str, Any], desired: int) -> int:
        rolling = (((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {})
        return _int_or_percent(rolling.get("maxSurge", 0), desired)

    def _rolling_update(self, ds: dict[str, Any], nodes: list[dict[str, Any]],
                        pods: dict[str, list[dict[str, Any]]], hash_: str) -> bool:
        # update.go rollingUpdate. Without surge: old pods that are not available go at once; available ones
        # while fewer than maxUnavailable nodes lack an available pod (manage then creates the new pod). With
        # surge: a new pod is created next to the old one (at once when the old one is not available, else
        # within maxSurge), and the old one goes when the new one is available.
        eligible = [n["metadata"]["name"] for n in nodes if self._should_run(ds, n)]
        desired = len(eligible)
        rolling = (((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {})
        max_surge = self._max_surge(ds, desired)
        max_unavailable = _int_or_percent(rolling.get("maxUnavailable", 1), desired)
        if desired and not max_unavailable and not max_surge:
            max_unavailable = 1  # update.go updatedDesiredNodeCounts: never stuck at 0/0
        deletes: list[dict[str, Any]] = []
        creates: list[str] = []
        if max_surge == 0:
            unavailable = 0
            candidates = []
            for node_name in eligible:
                here = pods.get(node_name, [])
                new = next((p for p in here if self._updated(ds, p, hash_)), None)
                old = next((p for p in here if not self._updated(ds, p, hash_)), None)
                if new is not None:
                    if not self._available(ds, new):
                        unavailable += 1
                    continue
                if old is None:
                    unavailable += 1
                elif not self._available(ds, old):
                    deletes.append(old)
                    unavailable += 1
                else:
                    candidates.append(old)
            for old in candidates:
                if unavailable >= max_unavailable:
                    break
                deletes.append(old)
                unavailable += 1
        else:
            surging = 0
            wanting: list[str] = []
            for node_name in eligible:
                here = pods.get(node_name, [])
                new = next((p for p in here if self._updated(ds, p, hash_)), None)
                old = next((p for p in here if not self._updated(ds, p, hash_)), None)
                if old is None:
                    continue
                if new is None:
                    if self._available(ds, old):
                        wanting.append(node_name)
                    else:
                        creates.append(node_name)
                elif self._available(ds, new):
                    deletes.append(old)
                else:
                    surging += 1  # waiting for the new pod to become available
            creates.extend(wanting[:max(0, max_surge - surging)])
        for node_name in creates:
            self._create_pod(ds, node_name, hash_)
        for pod in deletes:
            self._delete_pod(ds, pod)
        return bool(creates or deletes)

    def _involved(self, ds: dict[str, Any]) -> dict[str, Any]:
        meta = ds["metadata"]
        return object_ref(kinds.DAEMON_SET, meta["namespace"], meta["name"], meta["uid"])

    def _delete_pod(self, ds: dict[str, Any], pod: dict[str, Any]) -> None:
        with contextlib.suppress(ApiError):
            self.store.delete(kinds.POD, ds["metadata"]["namespace"], pod["metadata"]["name"], identity=CONTROLLER)
            self._events.record(self._involved(ds), NORMAL, "SuccessfulDelete",
                                f"Deleted pod: {pod['metadata']['name']}")

    def _create_pod(self, ds: dict[str, Any], node_name: str, hash_: str) -> None:
        # daemon/util/daemonset_util.go CreatePodTemplate (the template generation and revision hash labels, the
        # daemon tolerations) and ReplaceDaemonSetPodNodeNameNodeAffinity (a required node affinity to exactly
        # this node, by metadata.name); controller_utils.go GetPodFromTemplate: ownerReference and generateName.
        ds_meta = ds["metadata"]
        ns, ds_name = ds_meta["namespace"], ds_meta["name"]
        template = json.loads(json.dumps((ds.get("spec") or {}).get("template") or {}))
        tmeta = template.get("metadata") or {}
        labels = dict(tmeta.get("labels") or {})
        generation = (ds_meta.get("annotations") or {}).get(DAEMON_SET_TEMPLATE_GENERATION)
        if generation:
            labels[TEMPLATE_GENERATION_LABEL] = generation
        if hash_:
            labels[REVISION_HASH_LABEL] = hash_
        meta: dict[str, Any] = {
            "namespace": ns, "labels": labels, "generateName": f"{ds_name}-",
            "ownerReferences": [{"apiVersion": kinds.DAEMON_SET.api_version, "kind": kinds.DAEMON_SET.kind,
                                 "name": ds_name, "uid": ds_meta["uid"], "controller": True,
                                 "blockOwnerDeletion": True}]}
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        spec = template.get("spec") or {}
        tolerations = list(spec.get("tolerations") or [])
        for toleration in _TOLERATIONS:
            if not any(t.get("key") == toleration["key"] and t.get("effect") == toleration["effect"]
                       for t in tolerations):
                tolerations.append(dict(toleration))
        spec["tolerations"] = tolerations
        affinity = spec.get("affinity") or {}
        node_affinity = affinity.setdefault("nodeAffinity", {})
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}
        spec["affinity"] = affinity
        # The default scheduler binds the pod to the node its affinity names; the sandbox binds it at once.
        spec["nodeName"] = node_name
        for _ in range(10):
            meta["name"] = f"{ds_name}-{''.join(random.choices(SAFE_CHARS, k=5))}"
            try:
                pod = self.store.create(kinds.POD, {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                                                    "spec": spec}, identity=CONTROLLER)
            except ApiError as exc:
                if exc.code == 409:
                    continue
                self._events.record(self._involved(ds), WARNING, "FailedCreate", f"Error creating: {exc.message}")
                return
            record_scheduled(self._scheduler_events, pod)
            self._events.record(self._involved(ds), NORMAL, "SuccessfulCreate",
                                f"Created pod: {pod['metadata']['name']}")
            return

    # --- history ---------------------------------------------------------------------------------

    def _construct_history(self, ds: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        # update.go constructHistory / controlledHistories / Match / snapshot / dedupCurHistories.
        ns = ds["metadata"]["namespace"]
        histories = claim(self.store, kinds.CONTROLLER_REVISION, ds, self.store.list(kinds.CONTROLLER_REVISION, ns)[0])
        patch = revision_patch(ds)
        current = [h for h in histories if h.get("data") == patch]
        old = [h for h in histories if h.get("data") != patch]
        revision = max((int(h.get("revision") or 0) for h in old), default=0) + 1
        if not current:
            return self._snapshot(ds, patch, revision), old
        current.sort(key=lambda h: int(h.get("revision") or 0), reverse=True)
        keep = current[0]
        for extra in current[1:]:
            with contextlib.suppress(ApiError):
                self.store.delete(kinds.CONTROLLER_REVISION, ns, extra["metadata"]["name"], identity=CONTROLLER)
        if int(keep.get("revision") or 0) < revision:
            def renumber(obj: dict[str, Any]) -> dict[str, Any]:
                obj["revision"] = revision
                return obj
            keep = self.store.patch(kinds.CONTROLLER_REVISION, ns, keep["metadata"]["name"], renumber,
                                    identity=CONTROLLER)
        return keep, old

    def _snapshot(self, ds: dict[str, Any], patch: dict[str, Any], revision: int) -> dict[str, Any]:
        # update.go snapshot: name <ds>-<ComputeHash(template, collisionCount)>, the template's labels plus the
        # hash label, the DaemonSet's annotations, a controller reference, the patch and the revision number.
        meta, spec = ds["metadata"], ds.get("spec") or {}
        ns = meta["namespace"]
        collision = int((ds.get("status") or {}).get("collisionCount") or 0)
        hash_ = template_hash(spec.get("template") or {}, collision)
        labels = dict(((spec.get("template") or {}).get("metadata") or {}).get("labels") or {})
        labels[REVISION_HASH_LABEL] = hash_
        body: dict[str, Any] = {
            "apiVersion": kinds.CONTROLLER_REVISION.api_version, "kind": kinds.CONTROLLER_REVISION.kind,
            "metadata": {"name": f"{meta['name']}-{hash_}", "namespace": ns, "labels": labels,
                         "ownerReferences": [{"apiVersion": kinds.DAEMON_SET.api_version,
                                              "kind": kinds.DAEMON_SET.kind, "name": meta["name"],
                                              "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}]},
            "data": patch, "revision": revision}
        if meta.get("annotations"):
            body["metadata"]["annotations"] = dict(meta["annotations"])
        try:
            return self.store.create(kinds.CONTROLLER_REVISION, body, identity=CONTROLLER)
        except ApiError as exc:
            if exc.code != 409:
                raise
        existing = self.store.get(kinds.CONTROLLER_REVISION, ns, body["metadata"]["name"])
        if existing.get("data") == patch:
            return existing
        # A hash collision: snapshot bumps status.collisionCount and the next sync hashes again.
        def bump(obj: dict[str, Any]) -> dict[str, Any]:
            obj.setdefault("status", {})["collisionCount"] = collision + 1
            return obj
        self.store.patch(kinds.DAEMON_SET, ns, meta["name"], bump, identity=CONTROLLER, subresource="status")
        raise ApiError(409, "AlreadyExists", f"found a hash collision for DaemonSet {meta['name']!r}")

    def _cleanup_history(self, ds: dict[str, Any], old: list[dict[str, Any]],
                         pods: dict[str, list[dict[str, Any]]]) -> None:
        # daemon_controller.go cleanupHistory: old revisions no live pod runs, beyond revisionHistoryLimit, go,
        # lowest revision first.
        limit = int((ds.get("spec") or {}).get("revisionHistoryLimit", 10))
        if len(old) <= limit:
            return
        live = {(p["metadata"].get("labels") or {}).get(REVISION_HASH_LABEL) for here in pods.values() for p in here}
        unused = sorted((h for h in old if (h["metadata"].get("labels") or {}).get(REVISION_HASH_LABEL) not in live),
                        key=lambda h: int(h.get("revision") or 0))
        for history in unused[:len(old) - limit]:
            with contextlib.suppress(ApiError):
                self.store.delete(kinds.CONTROLLER_REVISION, ds["metadata"]["namespace"],
                                  history["metadata"]["name"], identity=CONTROLLER)

    # --- status ----------------------------------------------------------------------------------

    def _write_status(self, ds: dict[str, Any], nodes: list[dict[str, Any]],
                      pods: dict[str, list[dict[str, Any]]], hash_: str) -> None:
        # daemon_controller.go updateDaemonSetStatus / storeDaemonSetStatus: per node, desired when it should
        # run the pod, current when it has one, misscheduled when it has one it should not; ready, available (of
        # the ready ones) and updated from the node's oldest pod (podByCreationTimestampAndPhase). The four counts
        # are not omitempty, the rest are.
        desired = current = misscheduled = ready = available = updated = 0
        for node in nodes:
            here = pods.get(node["metadata"]["name"], [])
            if self._should_run(ds, node):
                desired += 1
                if here:
                    current += 1
                    oldest = here[0]
                    if is_ready(oldest):
                        ready += 1
                        available += self._available(ds, oldest)
                    updated += self._updated(ds, oldest, hash_)
            elif here:
                misscheduled += 1
        meta = ds["metadata"]
        prev = ds.get("status") or {}
        status: dict[str, Any] = {"currentNumberScheduled": current, "numberMisscheduled": misscheduled,
                                  "desiredNumberScheduled": desired, "numberReady": ready,
                                  "observedGeneration": meta.get("generation", 1)}
        for key, value in (("updatedNumberScheduled", updated), ("numberAvailable", available),
                           ("numberUnavailable", desired - available)):
            if value:
                status[key] = value
        for key in ("collisionCount", "conditions"):
            if prev.get(key):
                status[key] = prev[key]
        self.write_status(meta["namespace"], meta["name"], status, prev)
