"""The pod of a daemon-run Deployment (the ``gloo`` control plane) kept as a cluster keeps it: probed, scaled, rolled.

The sandbox runs Gloo's control plane in its own process, not as a kubelet pod, so the ``gloo`` Deployment's pod is
published by the daemon (:func:`gloo_nb.sandbox.daemon.publish_gloo_pod`) and its ReplicaSet neither creates nor
deletes any (:func:`gloo_nb.sandbox.pod_objects.is_daemon_managed`). :class:`DaemonPod` does the part a cluster's
ReplicaSet controller and kubelet would do for that one pod, generically (a component's ``start``/``stop`` and its
ports are parameters, so another daemon-run Deployment, such as 1.3's ``gateway``, can use it too):

- **Readiness is measured.** The pod template's ``readinessProbe`` (the chart's ``tcpSocket`` 9977,
  ``initialDelaySeconds: 1``, ``periodSeconds: 2``, ``failureThreshold: 10``) runs on a
  :class:`~gloo_nb.sandbox.prober.ProbeWorker`, the kubelet's own worker, against the loopback port the container
  port maps to (the pod's ``sandbox.gloo-nb.io/ports``). A new pod starts not Ready (worker.go ``initialValue``
  for readiness is Failure) and turns Ready after the first success (``successThreshold`` 1); it turns not Ready
  again only after ``failureThreshold`` consecutive failures (pkg/kubelet/prober/worker.go ``doProbe``). Every
  failed probe records the kubelet's ``Unhealthy`` Warning Event (pkg/kubelet/prober/prober.go ``probe``:
  ``Readiness probe failed: dial tcp 127.0.0.1:P: connect: connection refused``). The pod's ``Ready`` and
  ``ContainersReady`` conditions and ``containerStatuses[].ready`` follow the result
  (pkg/kubelet/status/generate.go ``GeneratePodReadyCondition``: reason ``ContainersNotReady``, message
  ``containers with unready status: [gloo]``), and so does the ``gloo`` Service's Endpoints object (the
  endpoints controller reads the condition: ``addresses`` or ``notReadyAddresses``). That condition is the one
  source of truth of the pod's readiness.
- **The Deployment's ``spec.replicas`` decides whether the component runs.** With 0 (``kubectl scale
  deploy/gloo --replicas=0``, or the Deployment deleted) the pod goes as the ReplicaSet controller deletes one
  (``SuccessfulDelete`` ``Deleted pod: <name>`` on the ReplicaSet, pkg/controller/replicaset/replica_set.go
  ``manageReplicas``) and the kubelet kills its container (``Killing`` ``Stopping container gloo``,
  pkg/kubelet/kuberuntime/kuberuntime_container.go ``killContainer``): the component stops. With 1 again a new pod
  is made (``SuccessfulCreate`` ``Created pod: <name>``, a new name), the component starts again and the probe
  makes the pod Ready once its port answers. More than 1 still runs one pod: one control plane per sandbox (its
  ports are fixed), so such a Deployment stays at 1 ready replica of N.
- **A new pod template rolls.** ``kubectl rollout restart deploy/gloo`` (or any template change) gives the
  template a new ``pod-template-hash``: a pod with the new hash is made first (as a rolling update with
  ``maxSurge`` 1 does), then the old one is killed and deleted and the component restarts on the same ports (one
  port cannot serve two processes at once: the brief restart is the sandbox's difference), and the new pod turns
  Ready by its probe.
- A pod a user deletes is published again under the same name with the component left running (the sandbox's
  behaviour before this module; a cluster would make a pod with a new name and a new process).
- A component that cannot start (its port taken meanwhile) is retried every second while its pod stays Running
  and not Ready, failing its probe, as a container whose server does not listen yet.

The daemon tells this class about store events (:meth:`DaemonPod.notify`, called under the store's lock: it only
wakes the worker thread); all work happens on that thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gloo_nb.sandbox import kinds, prober
from gloo_nb.sandbox.deployment_controller import TEMPLATE_HASH_LABEL, template_hash
from gloo_nb.sandbox.events import NORMAL, EventRecorder, object_ref
from gloo_nb.sandbox.pod_objects import NODE_NAME, rfc3339_now
from gloo_nb.sandbox.store import CONTROLLER, KUBELET, ApiError, Store, WatchEvent

__all__ = ["DaemonPod", "set_ready", "write_downward_api"]

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
"""How often a component that could not start is tried again."""


def set_ready(status: dict[str, Any], ready: bool, now: str | None = None) -> dict[str, Any]:
    """A pod status with its readiness set: ``Ready``/``ContainersReady`` and every ``containerStatuses[].ready``.

    As the kubelet's status manager writes them (pkg/kubelet/status/generate.go ``GeneratePodReadyCondition`` and
    ``GenerateContainersReadyCondition``: reason ``ContainersNotReady`` and message ``containers with unready
    status: [<names>]`` when not ready; ``lastTransitionTime`` moves only when the status changes).

    Args:
        status: The pod's status (not changed).
        ready: Whether its containers are ready.
        now: The transition time (RFC 3339); now when None.

    Returns:
        The new status.
    """
    now = now or rfc3339_now()
    out = dict(status)
    containers = [dict(c) for c in out.get("containerStatuses") or []]
    for c in containers:
        c["ready"] = ready
    out["containerStatuses"] = containers
    names = " ".join(str(c.get("name", "")) for c in containers)
    conditions = []
    for cond in out.get("conditions") or []:
        cond = dict(cond)
        if cond.get("type") in ("Ready", "ContainersReady"):
            value = "True" if ready else "False"
            if cond.get("status") != value:
                cond["lastTransitionTime"] = now
            cond["status"] = value
            cond.pop("reason", None)
            cond.pop("message", None)
            if not ready:
                cond["reason"] = "ContainersNotReady"
                cond["message"] = f"containers with unready status: [{names}]"
        conditions.append(cond)
    out["conditions"] = conditions
    return out


class DaemonPod:
    """The one pod of a daemon-run Deployment: its readiness probed, its component started and stopped by scale.

    Args:
        store: The store.
        deployment: The Deployment's name.
        namespace: Its namespace.
        publish: ``(pod name, pod-template-hash, template) -> manifest``: the pod as the daemon publishes it (with
            status; its readiness is set here), e.g. :func:`gloo_nb.sandbox.install.gloo_pod`.
        name_for: ``(pod-template-hash, n) -> name``: the name of the n-th pod made (0 for the first one).
        host_port: Maps a container port to the loopback port it reaches (for the probe).
        start: Starts the component (raises when it cannot start now: retried every second).
        stop: Stops it.
    """

    def __init__(self, store: Store, deployment: str, *, namespace: str,
                 publish: Callable[[str, str, dict[str, Any]], dict[str, Any]],
                 name_for: Callable[[str, int], str], host_port: Callable[[int], int | None],
                 start: Callable[[], None], stop: Callable[[], None]) -> None:
        self.store = store
        self.deployment = deployment
        self.namespace = namespace
        self._publish = publish
        self._name_for = name_for
        self._host_port = host_port
        self._start = start
        self._stop_component = stop
        self._kubelet_events = EventRecorder(store, "kubelet", KUBELET, host=NODE_NAME)
        self._rs_events = EventRecorder(store, "replicaset-controller", CONTROLLER)
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self.running = False
        """Whether the component runs now."""
        self.pod: str | None = None
        """The current pod's name (None while scaled to 0)."""
        self._hash = ""
        self._made = 0
        self._instance = 0
        self._started_at = 0.0
        self._container = ""
        self._worker: prober.ProbeWorker | None = None
        self._retry = False

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def attach(self, *, running: bool) -> None:
        """Take over: adopt a stored pod of the current template (a restarted sandbox), publish, probe, follow.

        Args:
            running: Whether the component already runs (the daemon started it before the pod).
        """
        self.running = running
        found = self._template()
        if found is not None:
            pod_hash = found[0]
            for pod in self.store.list(kinds.POD, self.namespace)[0]:
                labels = pod["metadata"].get("labels") or {}
                if labels.get(TEMPLATE_HASH_LABEL) == pod_hash and self._ours(pod) \
                        and not pod["metadata"].get("deletionTimestamp"):
                    self.pod, self._hash = pod["metadata"]["name"], pod_hash
                    break
        self.reconcile(republish=True)
        self._thread = threading.Thread(target=self._run, name=f"daemon-pod-{self.deployment}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop following the Deployment and stop probing (the component is the daemon's to stop)."""
        self._closing.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        with self._lock:
            if self._worker is not None:
                self._worker.stop()
                self._worker = None

    def notify(self, event: WatchEvent) -> None:
        """Look again after a store event that concerns this Deployment or its pod (cheap: runs under the store lock).

        Args:
            event: The event.
        """
        meta = event.object.get("metadata") or {}
        if meta.get("namespace") != self.namespace:
            return
        if (event.kind is kinds.DEPLOYMENT and meta.get("name") == self.deployment) \
                or (event.kind is kinds.POD and event.type == "DELETED" and meta.get("name") == self.pod):
            self._wake.set()

    def _run(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(RETRY_SECONDS if self._retry else None)
            self._wake.clear()
            if self._closing.is_set():
                return
            try:
                self.reconcile()
            except Exception:  # noqa: BLE001 - the next event or retry tries again; the sandbox keeps serving
                log.exception("reconciling the %s pod failed", self.deployment)
                self._retry = True

    # --- reconciling ----------------------------------------------------------------------------------------------

    def _template(self) -> tuple[str, dict[str, Any], int] | None:
        """``(pod-template-hash, template, wanted pods)`` of the Deployment, or None when it is gone."""
        dep = self.store.find(kinds.DEPLOYMENT, self.namespace, self.deployment)
        if dep is None or dep["metadata"].get("deletionTimestamp"):
            return None
        spec = dep.get("spec") or {}
        template = spec.get("template") or {}
        collisions = int((dep.get("status") or {}).get("collisionCount") or 0)
        replicas = spec.get("replicas", 1)
        return template_hash(template, collisions), template, int(1 if replicas is None else replicas)

    def _ours(self, pod: dict[str, Any]) -> bool:
        labels = pod["metadata"].get("labels") or {}
        found = self.store.find(kinds.DEPLOYMENT, self.namespace, self.deployment)
        selector = ((found or {}).get("spec") or {}).get("selector", {}).get("matchLabels") or {}
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())

    def reconcile(self, *, republish: bool = False) -> None:
        """Bring the pod and the component in line with the Deployment (see the module's docstring).

        Args:
            republish: Write the current pod again even when it exists (the daemon's start).
        """
        with self._lock:
            self._retry = False
            found = self._template()
            if found is None or found[2] < 1:
                if self.pod is not None:
                    self._delete_pod(self.pod, self._hash)
                    self.pod = None
                self._stop()
                return
            pod_hash, template, _ = found
            if self.pod is not None and pod_hash != self._hash:
                # A new template: the new pod first (maxSurge), then the old one goes and the component restarts.
                old, old_hash = self.pod, self._hash
                self._made += 1
                self._new_pod(self._name_for(pod_hash, self._made), pod_hash, template)
                self._delete_pod(old, old_hash)
                self._stop()
            elif self.pod is None:
                self._made += 1 if self._instance else 0
                self._new_pod(self._name_for(pod_hash, self._made), pod_hash, template)
            elif republish or self.store.find(kinds.POD, self.namespace, self.pod) is None:
                self._new_pod(self.pod, pod_hash, template, created=False)
            if not self.running:
                try:
                    self._start()
                    self.running = True
                except Exception as exc:  # noqa: BLE001 - e.g. its port is taken: retried; the probe says it
                    log.warning("the %s pod's component could not start (retrying): %s", self.deployment, exc)
                    self._retry = True

    def _stop(self) -> None:
        if self.running:
            self.running = False
            self._stop_component()

    def _replica_set(self, pod_hash: str) -> dict[str, Any] | None:
        for rs in self.store.list(kinds.REPLICA_SET, self.namespace)[0]:
            if rs["metadata"]["name"] == f"{self.deployment}-{pod_hash}":
                return rs
        return None

    def _rs_event(self, pod_hash: str, reason: str, message: str) -> None:
        rs = self._replica_set(pod_hash)
        if rs is not None:
            meta = rs["metadata"]
            self._rs_events.record(object_ref(kinds.REPLICA_SET, self.namespace, meta["name"], meta.get("uid", "")),
                                   NORMAL, reason, message)

    def _new_pod(self, name: str, pod_hash: str, template: dict[str, Any], *, created: bool = True) -> None:
        """Publish a pod not Ready and start probing it (a new container: the probe starts over)."""
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        manifest = self._publish(name, pod_hash, template)
        self.pod, self._hash = name, pod_hash
        self._instance += 1
        self._started_at = time.monotonic()
        containers = (manifest.get("spec") or {}).get("containers") or [{}]
        self._container = str(containers[0].get("name") or self.deployment)
        self._write_ready(name, False, self._instance)
        if created and self._instance > 1:
            self._rs_event(pod_hash, "SuccessfulCreate", f"Created pod: {name}")
        probes = [p for p in prober.parse_probes(containers[0]) if p.kind == prober.READINESS]
        if not probes:
            # No readinessProbe: the kubelet counts a running container as ready (worker.go: no worker).
            self._write_ready(name, True, self._instance)
            return
        instance, uid = self._instance, self._uid(name)

        def report(seen: int, ok: bool) -> None:
            del seen
            self._write_ready(name, ok, instance)

        def record(etype: str, reason: str, message: str) -> None:
            # pkg/kubelet/kuberuntime: events about a container name it in fieldPath.
            self._kubelet_events.record(object_ref(kinds.POD, self.namespace, name, uid,
                                                   f"spec.containers{{{self._container}}}"), etype, reason, message)

        self._worker = prober.ProbeWorker(probes[0], f"probe-{self.namespace}-{name}-readiness",
                                          lambda: self._target(instance), self._host_port, report, record)
        self._worker.start()

    def _uid(self, name: str) -> str:
        pod = self.store.find(kinds.POD, self.namespace, name)
        return str((pod or {}).get("metadata", {}).get("uid", ""))

    def _target(self, instance: int) -> prober.Target | None:
        if instance != self._instance or self._closing.is_set():
            return None  # another pod now: this worker ends
        # The container runs from its pod's start (a component that has not bound its port yet fails the probe).
        return prober.Target(instance=instance, running=True, started_at=self._started_at, started=True,
                             finished=False)

    def _write_ready(self, name: str, ready: bool, instance: int) -> None:
        with self._lock:
            if instance != self._instance or self.pod != name:
                return  # a result of an earlier pod's probe

            def mutate(obj: dict[str, Any]) -> dict[str, Any]:
                obj["status"] = set_ready(obj.get("status") or {}, ready)
                return obj
            with contextlib.suppress(ApiError):
                self.store.patch(kinds.POD, self.namespace, name, mutate, identity=KUBELET, subresource="status")

    def _delete_pod(self, name: str, pod_hash: str) -> None:
        """The ReplicaSet controller deletes the pod and the kubelet kills its container."""
        if self._worker is not None and self.pod == name:
            self._worker.stop()
            self._worker = None
        pod = self.store.find(kinds.POD, self.namespace, name)
        if pod is None:
            return
        container = next((str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []),
                         self.deployment)
        self._rs_event(pod_hash, "SuccessfulDelete", f"Deleted pod: {name}")
        self._kubelet_events.record(object_ref(kinds.POD, self.namespace, name, pod["metadata"].get("uid", ""),
                                               f"spec.containers{{{container}}}"),
                                    NORMAL, "Killing", f"Stopping container {container}")
        with contextlib.suppress(ApiError):
            self.store.delete(kinds.POD, self.namespace, name, identity=CONTROLLER)


# --- the files of a daemon pod's volumes, for kubectl exec ---------------------------------------------------------


def _format_map(values: dict[str, Any]) -> str:
    # pkg/fieldpath/fieldpath.go FormatMap: `key="value"` lines (Go's %q), keys sorted, no trailing newline.
    return "\n".join(f"{k}={json.dumps(str(values[k]), ensure_ascii=False)}" for k in sorted(values))


def _field(pod: dict[str, Any], path: str) -> str | None:
    """pkg/fieldpath/fieldpath.go ``ExtractFieldPathAsString`` for the metadata paths a downwardAPI volume takes."""
    meta = pod.get("metadata") or {}
    subscripted = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if subscripted:
        return str((meta.get(subscripted[1]) or {}).get(subscripted[2], ""))
    if path in ("metadata.labels", "metadata.annotations"):
        return _format_map(meta.get(path.split(".", 1)[1]) or {})
    if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return str(meta.get(path.split(".", 1)[1], ""))
    return None


def write_downward_api(pod: dict[str, Any], root: Path) -> None:
    """Write each ``downwardAPI`` volume's ``fieldRef`` items under ``root/<volume>/<path>``, as the kubelet does.

    pkg/volume/downwardapi/downwardapi.go ``CollectData`` writes one file per item with the field's value
    (``metadata.labels`` as ``FormatMap``), refreshed when the pod's metadata changes; written now, at each exec, the
    files are current. ``resourceFieldRef`` items and unknown paths are left out.

    Args:
        pod: The pod object.
        root: The pod's volumes folder (the one :func:`gloo_nb.sandbox.pod_volumes.container_mounts` reads).
    """
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        source = volume.get("downwardAPI") if isinstance(volume, dict) else None
        if not isinstance(source, dict) or not re.fullmatch(r"[A-Za-z0-9._-]+", str(volume.get("name", ""))) \
                or str(volume.get("name")) in (".", ".."):
            continue
        directory = root / str(volume["name"])
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for item in source.get("items") or []:
            ref = (item or {}).get("fieldRef") or {}
            value = _field(pod, str(ref.get("fieldPath", "")))
            rel = posixpath.normpath(str((item or {}).get("path", "")))
            if value is None or not rel or rel.startswith(("/", "..")) or rel == ".":
                continue
            target = directory / rel
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_text(value, encoding="utf-8")
            os.chmod(tmp, 0o600)
            tmp.replace(target)
