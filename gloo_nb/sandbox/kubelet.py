"""The sandbox's workload machinery: what kube-controller-manager and the node's kubelet do, on one node.

One :class:`Kubelet` runs, for the one-node sandbox, the Deployment controller
(:mod:`~gloo_nb.sandbox.deployment_controller`), the ReplicaSet controller
(:mod:`~gloo_nb.sandbox.replicaset_controller`), the Job controller (:mod:`~gloo_nb.sandbox.job_controller`),
the garbage collector (:mod:`~gloo_nb.sandbox.garbage_collector`),
the Endpoints controller (:mod:`~gloo_nb.sandbox.endpoints_controller`) and the pods' processes with their
probes (:mod:`~gloo_nb.sandbox.pod_supervisor`); this module holds only what ties them together: the store
subscription, the one queue and the one worker thread that handles every event in batches.

Events from :meth:`Store.subscribe <gloo_nb.sandbox.store.Store.subscribe>` arrive on the writer's thread with the
store lock held, so they only go into a queue; one worker thread does all the work (and spawns every process, since
``PR_SET_PDEATHSIG`` is tied to the thread that forks).

The names the sandbox and its tests import from here (:data:`MANAGED_BY`, :data:`PORTS_ANNOTATION`,
:func:`template_hash`, :func:`state_path`...) are re-exported from the modules that define them.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.daemonset_controller import DaemonSetController
from gloo_nb.sandbox.deployment_controller import TEMPLATE_HASH_LABEL, DeploymentController, template_hash
from gloo_nb.sandbox.endpoints_controller import sync_endpoints
from gloo_nb.sandbox.events import EventRecorder
from gloo_nb.sandbox.garbage_collector import collect_garbage
from gloo_nb.sandbox.job_controller import JobController
from gloo_nb.sandbox.object_selectors import label_selector_matches
from gloo_nb.sandbox.pod_exec import ExecTarget
from gloo_nb.sandbox.pod_objects import HOST_IP, MANAGED_BY, NODE_NAME, PORTS_ANNOTATION, owner_uid
from gloo_nb.sandbox.pod_supervisor import STOP_GRACE, PodSupervisor, state_path
from gloo_nb.sandbox.replicaset_controller import ReplicaSetController
from gloo_nb.sandbox.replication_controller import ReplicationManager
from gloo_nb.sandbox.store import CONTROLLER, KUBELET, ApiError, Identity, Store, WatchEvent

__all__ = ["HOST_IP", "MANAGED_BY", "NODE_NAME", "PORTS_ANNOTATION", "TEMPLATE_HASH_LABEL", "Kubelet",
           "state_path", "template_hash"]

log = logging.getLogger(__name__)

_RESYNC = 10.0


class Kubelet:
    """Runs the sandbox's workloads: Deployments, pods as local processes, Services' Endpoints.

    Args:
        store: The object store to watch and write.
        state_dir: Where pod logs go (``pods/<ns>_<name>_<uid>/<container>/<restart>.log``).
        python: The interpreter that runs :mod:`gloo_nb.sandbox.workloads`.
        identity: Who writes pod status (the node); controller writes use ``CONTROLLER``.
    """

    def __init__(self, store: Store, state_dir: Path, *, python: str = sys.executable,
                 identity: Identity = KUBELET) -> None:
        self.store = store
        self.state_dir = Path(state_dir)
        self.python = python
        self.identity = identity
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Any = None
        self._busy = False
        # The Events the kubelet, the scheduler and the deployment controller would record on a cluster; the
        # scheduler's recorder is shared, since both the Deployment controller and the kubelet bind pods.
        scheduler_events = EventRecorder(store, "default-scheduler", CONTROLLER)
        self._supervisor = PodSupervisor(store, self.state_dir, self._queue, python=python, identity=identity,
                                         scheduler_events=scheduler_events)
        self._deployments = DeploymentController(store, scheduler_events)
        self._replica_sets = ReplicaSetController(store, scheduler_events)
        self._jobs = JobController(store, scheduler_events)
        # Issue 18: ReplicationControllers (the ReplicaSet logic behind an adapter) and DaemonSets.
        self._rcs = ReplicationManager(store, scheduler_events)
        self._daemons = DaemonSetController(store, scheduler_events)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to the store, adopt what it already holds (a restarted sandbox) and start working."""
        if self._thread is not None:
            return
        (self.state_dir / "pods").mkdir(parents=True, exist_ok=True)
        self._unsubscribe = self.store.subscribe(self._on_event)
        self._queue.put(("resync",))
        self._thread = threading.Thread(target=self._run, name="sandbox-kubelet", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop every process this kubelet started (SIGTERM, then SIGKILL) and the worker thread.

        The store's objects stay as they are (a restarted sandbox picks them up again).
        """
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join(timeout=STOP_GRACE + 10)
        self._thread = None
        # The worker shuts pods down itself; this catches anything left if it died.
        self._supervisor.shutdown_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event has been handled (for tests and the sandbox's start-up).

        Args:
            timeout: Seconds to wait at most.

        Returns:
            True when idle, False on timeout.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and not self._busy:
                time.sleep(0.02)
                if self._queue.empty() and not self._busy:
                    return True
            time.sleep(0.01)
        return False

    # --- introspection -------------------------------------------------------------------------

    def processes(self, namespace: str | None = None) -> dict[tuple[str, str, str], int]:
        """The live processes, ``(namespace, pod, container) -> pid`` (:meth:`PodSupervisor.processes`)."""
        return self._supervisor.processes(namespace)

    def host_ports(self, namespace: str, name: str) -> dict[int, int]:
        """A pod's ``containerPort -> host port`` map (:meth:`PodSupervisor.host_ports`)."""
        return self._supervisor.host_ports(namespace, name)

    def log_path(self, namespace: str, name: str, container: str | None = None, *,
                 previous: bool = False) -> Path | None:
        """A pod's container log, what ``kubectl logs`` shows (:meth:`PodSupervisor.log_path`)."""
        return self._supervisor.log_path(namespace, name, container, previous=previous)

    def log_writing(self, namespace: str, name: str, container: str | None, log: Path) -> bool:
        """Whether a followed log is still written (:meth:`PodSupervisor.log_writing`)."""
        return self._supervisor.log_writing(namespace, name, container, log)

    def exec_target(self, namespace: str, name: str, container: str) -> ExecTarget | None:
        """A running container's environment, for ``kubectl exec`` (:meth:`PodSupervisor.exec_target`)."""
        return self._supervisor.exec_target(namespace, name, container)

    # --- event intake ----------------------------------------------------------------------------

    def _on_event(self, event: WatchEvent) -> None:
        # Runs on the writer's thread under the store lock: queue only.
        meta = event.object.get("metadata") or {}
        if event.kind is kinds.POD:
            job = owner_uid(event.object, "Job")
            if job:
                # a Job's pod: its Job syncs (job_controller.go updatePod/deletePod)
                self._queue.put(("job-pod", meta.get("namespace", ""), job))
            for owner_kind in (kinds.REPLICATION_CONTROLLER, kinds.DAEMON_SET):
                uid = owner_uid(event.object, owner_kind.kind)
                if uid:
                    # replication_controller.go / daemon_controller.go updatePod: the pod's controller syncs
                    self._queue.put(("owned-pod", meta.get("namespace", ""), owner_kind, uid))
        self._queue.put(("obj", event.kind, event.type, meta.get("namespace", ""), meta.get("name", ""),
                         owner_uid(event.object, "ReplicaSet") if event.kind is kinds.POD
                         else owner_uid(event.object) if event.kind is kinds.REPLICA_SET else None))

    def _run(self) -> None:
        next_resync = time.monotonic() + _RESYNC
        try:
            while True:
                now = time.monotonic()
                wake = self._daemons.next_wake(self._rcs.next_wake(self._jobs.next_wake(self._replica_sets.next_wake(
                    self._deployments.next_wake(self._supervisor.next_wake(next_resync))))))
                try:
                    item = self._queue.get(timeout=max(0.0, wake - now))
                except queue.Empty:
                    item = ("tick",)
                batch = [item]
                while True:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                items = [i for i in batch if i is not None]
                if len(items) < len(batch):
                    return
                self._busy = True
                try:
                    if time.monotonic() >= next_resync:
                        items.append(("resync",))
                        next_resync = time.monotonic() + _RESYNC
                    self._handle(items)
                finally:
                    self._busy = False
        finally:
            self._busy = True
            self._supervisor.shutdown_all()
            self._busy = False

    def _handle(self, batch: list[tuple[Any, ...]]) -> None:
        deployments: set[tuple[str, str]] = set()
        replica_sets: set[tuple[str, str]] = set()
        orphans: set[tuple[Any, str, str]] = set()
        pods: set[tuple[str, str]] = set()
        services: set[tuple[str, str]] = set()
        service_namespaces: set[str] = set()
        gc_namespaces: set[str] = set()
        jobs: set[tuple[str, str]] = set()
        rcs: set[tuple[str, str]] = set()
        daemons: set[tuple[str, str]] = set()
        full = False
        for item in batch:
            tag = item[0]
            if tag == "resync":
                full = True
            elif tag == "job-pod":
                jobs.update((item[1], job) for job in self._jobs.owning(item[1], item[2]))
            elif tag == "owned-pod":
                _, ns, owner_kind, uid = item
                owning, keys = (self._rcs, rcs) if owner_kind is kinds.REPLICATION_CONTROLLER else (self._daemons,
                                                                                                   daemons)
                keys.update((ns, name) for name in owning.owning(ns, uid))
            elif tag == "obj":
                _, kind, etype, ns, name, owner = item
                if kind is kinds.DEPLOYMENT:
                    deployments.add((ns, name))
                    if etype == "DELETED":
                        gc_namespaces.add(ns)
                elif kind is kinds.REPLICA_SET:
                    # the ReplicaSet's pods, and its Deployment (whose status sums the ReplicaSets')
                    replica_sets.add((ns, name))
                    if etype == "DELETED":
                        gc_namespaces.add(ns)
                    if owner:
                        for dep in self._deployments.owning(ns, owner):
                            deployments.add((ns, dep))
                    elif etype != "DELETED":
                        orphans.add((kinds.REPLICA_SET, ns, name))
                elif kind is kinds.POD:
                    pods.add((ns, name))
                    service_namespaces.add(ns)
                    if etype == "DELETED":
                        # a freed quota slot: Deployments refused earlier try again (the ReplicaSet
                        # controller requeues on pod deletion too)
                        replica_sets.update(key for key in self._replica_sets.quota_blocked if key[0] == ns)
                        rcs.update(key for key in self._rcs.quota_blocked if key[0] == ns)
                    if owner:
                        for rs in self._replica_sets.owning(ns, owner):
                            replica_sets.add((ns, rs))
                    elif etype != "DELETED":
                        orphans.add((kinds.POD, ns, name))
                elif kind is kinds.JOB:
                    jobs.add((ns, name))
                    if etype == "DELETED":
                        gc_namespaces.add(ns)
                elif kind is kinds.REPLICATION_CONTROLLER or kind is kinds.DAEMON_SET:
                    (rcs if kind is kinds.REPLICATION_CONTROLLER else daemons).add((ns, name))
                    if etype == "DELETED":
                        gc_namespaces.add(ns)
                elif kind is kinds.NODE:
                    # daemon_controller.go updateNode: a node's labels decide which DaemonSets run on it
                    daemons.update(self._daemons.all_keys())
                elif kind is kinds.CONTROLLER_REVISION:
                    # daemon_controller.go add/update/deleteHistory: the namespace's DaemonSets look again
                    daemons.update(self._daemons.all_keys(ns))
                elif kind is kinds.SERVICE:
                    services.add((ns, name))
                elif kind is kinds.NAMESPACE and etype == "DELETED":
                    gc_namespaces.add(name)
                elif kind is kinds.SECRET or kind is kinds.CONFIGMAP:
                    # volumes mount (or refresh) from them: the namespace's pods sync again
                    pods.update(key for key in self._supervisor.pod_keys() if key[0] == ns)
            elif tag in ("ready", "exited", "probe"):
                self._supervisor.process_event(item)
                pods.add((item[1], item[2]))
        pods.update(self._supervisor.due(time.monotonic()))
        for kind, ns, name in orphans:
            # replica_set.go addPod / deployment_controller.go addReplicaSet: an object without a controller
            # wakes the owners whose selector matches it, which adopt it.
            owners = self._claimers(kind, ns, name)
            (replica_sets if kind is kinds.POD else deployments).update((ns, owner) for owner in owners)
            if kind is kinds.POD:
                # replication_controller.go / daemon_controller.go addPod: the same for RCs and DaemonSets
                rcs.update((ns, owner) for owner in self._claimers(kind, ns, name, kinds.REPLICATION_CONTROLLER))
                daemons.update((ns, owner) for owner in self._claimers(kind, ns, name, kinds.DAEMON_SET))
        deployments.update(self._deployments.due(time.monotonic()))
        replica_sets.update(self._replica_sets.due(time.monotonic()))
        if full:
            for kind, keys in ((kinds.DEPLOYMENT, deployments), (kinds.REPLICA_SET, replica_sets), (kinds.POD, pods),
                               (kinds.SERVICE, services), (kinds.JOB, jobs),
                               (kinds.REPLICATION_CONTROLLER, rcs), (kinds.DAEMON_SET, daemons)):
                keys.update((o["metadata"]["namespace"], o["metadata"]["name"]) for o in self.store.list(kind)[0])
            pods.update(self._supervisor.pod_keys())
            gc_namespaces.update(ns for ns, _ in pods)
        for ns in service_namespaces:
            services.update((s["metadata"]["namespace"], s["metadata"]["name"])
                            for s in self.store.list(kinds.SERVICE, ns)[0])
        self._guard(collect_garbage, self.store, gc_namespaces)
        # ReplicaSets first (their status from their pods), then the Deployments that own them (which read that
        # status to scale), then those Deployments' ReplicaSets again (to make or remove the pods): one batch
        # carries a pod's readiness through a whole rolling-update step, as the informers' chained events do.
        for key in sorted(replica_sets):
            self._guard(self._replica_sets.sync, *key)
        deployments.update(self._owners_of(replica_sets))
        for key in sorted(deployments):
            self._guard(self._deployments.sync, *key)
        for key in sorted(replica_sets | self._replica_sets_of(deployments)):
            self._guard(self._replica_sets.sync, *key)
        jobs.update(self._jobs.due(time.monotonic()))
        for key in sorted(jobs):
            self._guard(self._jobs.sync, *key)
        rcs.update(self._rcs.due(time.monotonic()))
        for key in sorted(rcs):
            self._guard(self._rcs.sync, *key)
        daemons.update(self._daemons.due(time.monotonic()))
        for key in sorted(daemons):
            self._guard(self._daemons.sync, *key)
        for key in sorted(pods):
            self._guard(self._supervisor.sync_pod, *key)
        for key in sorted(services):
            self._guard(sync_endpoints, self.store, *key)

    def _claimers(self, kind: Any, ns: str, name: str, owner_kind: Any = None) -> list[str]:
        try:
            obj = self.store.get(kind, ns, name)
        except ApiError:
            return []
        if any(ref.get("controller") for ref in obj["metadata"].get("ownerReferences") or []):
            return []
        labels = obj["metadata"].get("labels") or {}
        if owner_kind is kinds.REPLICATION_CONTROLLER:
            # a ReplicationController's selector is a plain map (matched as the adapter's matchLabels)
            return [o["metadata"]["name"] for o in self.store.list(owner_kind, ns)[0]
                    if (o.get("spec") or {}).get("selector")
                    and label_selector_matches({"matchLabels": o["spec"]["selector"]}, labels)]
        owner_kind = owner_kind or (kinds.REPLICA_SET if kind is kinds.POD else kinds.DEPLOYMENT)
        return [o["metadata"]["name"] for o in self.store.list(owner_kind, ns)[0]
                if label_selector_matches((o.get("spec") or {}).get("selector"), labels)]

    def _owners_of(self, replica_sets: set[tuple[str, str]]) -> set[tuple[str, str]]:
        owners: set[tuple[str, str]] = set()
        for ns in {ns for ns, _ in replica_sets}:
            for rs in self.store.list(kinds.REPLICA_SET, ns)[0]:
                if (ns, rs["metadata"]["name"]) in replica_sets:
                    owners.update((ns, ref["name"]) for ref in rs["metadata"].get("ownerReferences") or []
                                  if ref.get("kind") == "Deployment" and ref.get("controller"))
        return owners

    def _replica_sets_of(self, deployments: set[tuple[str, str]]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for ns in {ns for ns, _ in deployments}:
            for rs in self.store.list(kinds.REPLICA_SET, ns)[0]:
                if any(ref.get("kind") == "Deployment" and ref.get("controller")
                       and (ns, ref.get("name")) in deployments
                       for ref in rs["metadata"].get("ownerReferences") or []):
                    found.add((ns, rs["metadata"]["name"]))
        return found

    @staticmethod
    def _guard(fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except ApiError as exc:
            # Races with users (an object deleted meanwhile, a namespace terminating) settle on the next event.
            log.debug("%s%s: %s", fn.__name__, args, exc.message)
        except Exception:
            log.exception("%s%s failed", fn.__name__, args)
