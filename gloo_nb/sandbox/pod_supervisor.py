"""The node's kubelet proper: pods run as local processes, probed, restarted with back-off, their status written.

Every pod bound to the one node (except those annotated ``MANAGED_BY``) runs one local process per container,
:mod:`gloo_nb.sandbox.workloads`, on loopback sockets the supervisor binds itself; the host port of each
container port goes into the pod's ``PORTS_ANNOTATION``. Pod status follows Kubernetes (phase, conditions,
containerStatuses); a process that dies is restarted with back-off (restartCount + 1). Containers' readiness,
liveness and startup probes run on one :class:`~gloo_nb.sandbox.prober.ProbeWorker` thread each; their results,
like the processes' ``ready`` and ``exited`` signals, come back through the kubelet's queue, so that one worker
thread does all the work (and spawns every process, since ``PR_SET_PDEATHSIG`` is tied to the thread that forks).
A pod's ``secret``, ``configMap`` and ``emptyDir`` volumes are set up before its containers start
(:mod:`~gloo_nb.sandbox.pod_volumes`; ``FailedMount`` and ``ContainerCreating`` while one cannot be).
Separate from the controllers: this is the only part that owns processes, sockets and files.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gloo_nb.sandbox import kinds, pod_logs, pod_volumes, prober, workloads
from gloo_nb.sandbox.events import NORMAL, WARNING, EventRecorder, object_ref
from gloo_nb.sandbox.pod_exec import ExecTarget
from gloo_nb.sandbox.pod_objects import (
    HOST_IP,
    MANAGED_BY,
    NODE_NAME,
    PORTS_ANNOTATION,
    pod_annotations,
    pod_ports,
    record_scheduled,
    rfc3339_now,
)
from gloo_nb.sandbox.store import CONTROLLER, ApiError, Identity, Store

__all__ = ["STOP_GRACE", "PodSupervisor", "state_path"]

STOP_GRACE = 3.0
"""Seconds a container gets between SIGTERM and SIGKILL."""
_BACKOFF = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
_BACKOFF_RESET = 10.0
_ENV_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")
_WORKLOADS = Path(workloads.__file__).resolve()


def state_path(root: Path, *parts: str) -> Path:
    """Join names taken from objects (namespace, pod, container) under ``root``, never leaving it.

    The API validates those names (DNS-1123), but the kubelet also reads objects persisted before that
    rule existed: every path it builds from them goes through here, which refuses a part that is not
    one plain file name and a result that resolves (symlinks included) outside ``root``.

    Args:
        root: The directory the path must stay in (the state directory's ``pods``).
        *parts: File names, e.g. ``"ns_pod_uid"``, ``"container"``.

    Returns:
        ``root / parts...``.

    Raises:
        ValueError: A part is empty, ``.``/``..`` or holds a separator or NUL, or the path leaves ``root``.
    """
    for part in parts:
        if part in ("", ".", "..") or any(c in part for c in "/\\\0"):
            raise ValueError(f"{part!r} cannot name a file or folder under {root}")
    path = root.joinpath(*parts)
    if not path.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"{path} leaves {root}")
    return path


@dataclass(slots=True)
class _Container:
    name: str
    image: str
    argv: list[str]
    env: dict[str, str]
    ports: list[int]
    probes: list[prober.Probe] = field(default_factory=list)
    workers: dict[str, prober.ProbeWorker] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    instance: int = 0
    listening: bool = False
    started: bool = True
    probe_ready: bool = False
    probe_killed: bool = False
    restart_count: int = 0
    crashes: int = 0
    started_at: str = ""
    started_mono: float = 0.0
    last_terminated: dict[str, Any] | None = None
    waiting: dict[str, str] | None = None
    next_start: float = 0.0
    done: bool = False
    log_file: Path | None = None
    mounts: list[tuple[str, Path]] = field(default_factory=list)

    def has_probe(self, kind: str) -> bool:
        return any(p.kind == kind for p in self.probes)

    @property
    def ready(self) -> bool:
        # prober_manager.go UpdatePodStatus: ready only once started, and then as the readiness probe says
        # (no readiness probe: ready). The sandbox's own "running" is the process signalling it serves.
        return (self.proc is not None and self.listening and self.started
                and (self.probe_ready or not self.has_probe(prober.READINESS)))


@dataclass(slots=True)
class _PodRuntime:
    namespace: str
    name: str
    uid: str
    restart_policy: str
    directory: Path
    start_time: str
    sockets: dict[int, socket.socket] = field(default_factory=dict)
    closed: dict[int, socket.socket] = field(default_factory=dict)
    containers: dict[str, _Container] = field(default_factory=dict)
    terminating: bool = False
    volumes_ready: bool = False
    mounted: set[str] = field(default_factory=set)
    mount_tries: int = 0
    not_modelled_reported: bool = False

    @property
    def volumes_dir(self) -> Path:
        return self.directory / "volumes"

    @property
    def host_ports(self) -> dict[int, int]:
        return {cport: sock.getsockname()[1] for cport, sock in self.sockets.items()}

    def probe_port(self, cport: int) -> int | None:
        sock = self.sockets.get(cport) or self.closed.get(cport)
        try:
            return int(sock.getsockname()[1]) if sock is not None else None
        except OSError:
            return None  # closed: the pod is going away

    def workers(self) -> list[prober.ProbeWorker]:
        return [w for c in self.containers.values() for w in c.workers.values()]

    def close_sockets(self) -> None:
        for sock in (*self.sockets.values(), *self.closed.values()):
            with contextlib.suppress(OSError):
                sock.close()


class PodSupervisor:
    """Runs the pods bound to the sandbox's node as local processes and writes their status.

    Not thread-safe on its own: the kubelet's one worker thread calls everything but the introspection
    methods (:meth:`processes`, :meth:`host_ports`, :meth:`log_path`), which take the lock.

    Args:
        store: The object store to read and write.
        state_dir: Where pod logs go (``pods/<ns>_<name>_<uid>/<container>/<restart>.log``).
        events: The kubelet's queue: process and probe threads put their items there.
        python: The interpreter that runs :mod:`gloo_nb.sandbox.workloads`.
        identity: Who writes pod status (the node); the scheduler's binding uses ``CONTROLLER``.
        scheduler_events: The ``default-scheduler`` recorder, shared with the Deployment controller.
    """

    def __init__(self, store: Store, state_dir: Path, events: queue.Queue[tuple[Any, ...] | None], *,
                 python: str, identity: Identity, scheduler_events: EventRecorder) -> None:
        self.store = store
        self.state_dir = state_dir
        self.python = python
        self.identity = identity
        self._queue = events
        self._pods: dict[tuple[str, str], _PodRuntime] = {}
        self._lock = threading.Lock()
        self._timers: list[tuple[float, str, str]] = []
        self._serial = 0
        self._kubelet_events = EventRecorder(store, "kubelet", identity, host=NODE_NAME)
        self._scheduler_events = scheduler_events

    def processes(self, namespace: str | None = None) -> dict[tuple[str, str, str], int]:
        """Return the live processes: ``(namespace, pod, container) -> pid``.

        Args:
            namespace: Only this namespace; all when None.

        Returns:
            The pids of the containers whose process is running.
        """
        with self._lock:
            return {(rt.namespace, rt.name, c.name): c.proc.pid
                    for rt in self._pods.values() if namespace is None or rt.namespace == namespace
                    for c in rt.containers.values() if c.proc is not None and c.proc.poll() is None}

    def host_ports(self, namespace: str, name: str) -> dict[int, int]:
        """Return a pod's port map ``containerPort -> host port`` (empty when the pod does not run here).

        Args:
            namespace: The pod's namespace.
            name: The pod's name.

        Returns:
            The map.
        """
        with self._lock:
            rt = self._pods.get((namespace, name))
            return rt.host_ports if rt else {}

    def log_path(self, namespace: str, name: str, container: str | None = None, *,
                 previous: bool = False) -> Path | None:
        """Return the log file of a pod's container (what ``kubectl logs`` shows).

        Args:
            namespace: The pod's namespace.
            name: The pod's name.
            container: The container; the first one when None.
            previous: The previous instance's log (``kubectl logs -p``).

        Returns:
            The file, or None when there is none.
        """
        with self._lock:
            rt = self._pods.get((namespace, name))
            if rt is None or not rt.containers:
                return None
            c = rt.containers.get(container) if container else next(iter(rt.containers.values()))
            if c is None:
                return None
            n = c.restart_count - 1 if previous else c.restart_count
            if n < 0:
                return None
            try:
                path = state_path(rt.directory, c.name, f"{n}.log")
            except ValueError:
                return None
            return path if path.exists() else None

    def log_writing(self, namespace: str, name: str, container: str | None, log: Path) -> bool:
        """Whether ``log`` is the log of a container instance that still runs (``kubectl logs -f`` follows it).

        Args:
            namespace: The pod's namespace.
            name: The pod's name.
            container: The container; the first one when None.
            log: The file being followed.

        Returns:
            False once that instance ended (a restart writes the next file) or the pod is gone.
        """
        with self._lock:
            rt = self._pods.get((namespace, name))
            if rt is None or not rt.containers:
                return False
            c = rt.containers.get(container) if container else next(iter(rt.containers.values()))
            return c is not None and c.log_file == log and c.proc is not None and c.proc.poll() is None

    def exec_target(self, namespace: str, name: str, container: str) -> ExecTarget | None:
        """Return a running container's environment, for ``kubectl exec`` (:mod:`~gloo_nb.sandbox.pod_exec`).

        Args:
            namespace: The pod's namespace.
            name: The pod's name.
            container: The container.

        Returns:
            Its environment (the process's env, its mounts, the pod's port map; ``workdir`` left ``/``), or
            None when the container does not run here now (the kubelet's ``container not found``).
        """
        with self._lock:
            rt = self._pods.get((namespace, name))
            c = rt.containers.get(container) if rt is not None else None
            if rt is None or c is None or c.proc is None or c.proc.poll() is not None:
                return None
            # `started`: the container's own start, for uptime and /proc/uptime (monotonic, converted to wall time)
            return ExecTarget(pod=rt.name, namespace=rt.namespace, container=c.name, env=_process_env(rt, c),
                              mounts=list(c.mounts), ports=dict(rt.host_ports), image=c.image,
                              started=time.time() - max(0.0, time.monotonic() - c.started_mono))

    def pod_keys(self) -> list[tuple[str, str]]:
        """Return ``(namespace, name)`` of every pod this supervisor runs.

        Returns:
            The keys.
        """
        return list(self._pods)

    def next_wake(self, default: float) -> float:
        """Return when the earliest pending restart is due (``time.monotonic()``), at most ``default``.

        Args:
            default: The latest wake-up the caller wants anyway.

        Returns:
            The earlier of the two.
        """
        return min([default] + [t[0] for t in self._timers[:1]])

    def due(self, now: float) -> list[tuple[str, str]]:
        """Pop the pods whose back-off restart is due.

        Args:
            now: ``time.monotonic()``.

        Returns:
            ``(namespace, name)`` of each, to be synced.
        """
        keys: list[tuple[str, str]] = []
        while self._timers and self._timers[0][0] <= now:
            _, ns, name = heapq.heappop(self._timers)
            keys.append((ns, name))
        return keys

    def _container_event(self, rt: _PodRuntime, c: _Container, etype: str, reason: str, message: str) -> None:
        # pkg/kubelet/kuberuntime: events about a container name it in fieldPath.
        self._kubelet_events.record(object_ref(kinds.POD, rt.namespace, rt.name, rt.uid,
                                               f"spec.containers{{{c.name}}}"), etype, reason, message)

    # --- pods ---------------------------------------------------------------------------------------

    def sync_pod(self, ns: str, name: str) -> None:
        """Bring one pod's processes in line with its object: admit, start, restart, kill; then write its status.

        Pods annotated ``MANAGED_BY`` or bound to another node are not run here.

        Args:
            ns: The pod's namespace.
            name: The pod's name.
        """
        pod = self.store.find(kinds.POD, ns, name)
        with self._lock:
            rt = self._pods.get((ns, name))
        if pod is not None and (pod_annotations(pod).get(MANAGED_BY)
                                or pod.get("spec", {}).get("nodeName") not in (None, "", NODE_NAME)):
            pod = None
        if rt is not None and (pod is None or pod["metadata"]["uid"] != rt.uid):
            self._kill_pod(rt, remove=True)
            rt = None
        if pod is None:
            return
        if not pod["spec"].get("nodeName"):
            # The scheduler's binding: there is one node.
            def bind(obj: dict[str, Any]) -> dict[str, Any]:
                obj["spec"]["nodeName"] = NODE_NAME
                return obj
            pod = self.store.patch(kinds.POD, ns, name, bind, identity=CONTROLLER)
            record_scheduled(self._scheduler_events, pod)
        if rt is None:
            rt = self._admit(pod)
        if not self._mount_volumes(rt, pod):
            self._write_status(rt, pod)
            return
        now = time.monotonic()
        for c in rt.containers.values():
            if c.proc is None and not c.done and c.next_start <= now:
                self._spawn(rt, c, pod)
        self._write_status(rt, pod)

    def _admit(self, pod: dict[str, Any]) -> _PodRuntime:
        meta, spec = pod["metadata"], pod["spec"]
        ns, name = meta["namespace"], meta["name"]
        old_status = pod.get("status") or {}
        old_ports = pod_ports(pod)
        rt = _PodRuntime(namespace=ns, name=name, uid=meta["uid"], restart_policy=spec.get("restartPolicy", "Always"),
                         directory=state_path(self.state_dir / "pods", f"{ns}_{name}_{meta['uid']}"),
                         start_time=old_status.get("startTime") or rfc3339_now())
        previous = {s.get("name"): s for s in old_status.get("containerStatuses") or []}
        job_pod = any(ref.get("kind") == "Job" and ref.get("controller")
                      for ref in meta.get("ownerReferences") or [])
        ends = spec.get("restartPolicy", "Always") in ("Never", "OnFailure")
        for cspec in spec.get("containers") or []:
            image = str(cspec.get("image", ""))
            env = self._container_env(pod, cspec)
            command = [_expand(a, env) for a in cspec.get("command") or []]
            args = [_expand(a, env) for a in cspec.get("args") or []]
            ports = [int(p["containerPort"]) for p in cspec.get("ports") or []
                     if isinstance(p, dict) and p.get("protocol", "TCP") == "TCP" and "containerPort" in p]
            emulate = "auto"
            if ((command or args) and workloads.is_shell_image(image)
                    or ends and ((command or args or job_pod) and workloads.is_shell_image(image)
                                 or (command or args) and job_pod)):
                # Run the command (issue 18): busybox/alpine run theirs whatever the restartPolicy (under Always a
                # script such as the Python client's e2e `while true;do date;sleep 5; done` runs until stopped,
                # its output the log; one that ends is restarted with back-off, as a kubelet does), and so does
                # every container of a Job's pod that gives one; through the exec command set and shell
                # (workloads --emulate run). Other images under Always stay the image's emulation.
                emulate = "run"
                args = command + args  # none: the image's default command, sh (reads no stdin, ends)
            elif workloads.is_http_echo(image):
                if command and os.path.basename(command[0]) != "http-echo":
                    emulate = "generic"  # a shell or another program: not http-echo's main
                else:
                    args = command[1:] + args
                    with contextlib.suppress(workloads.WorkloadExit):
                        listen = workloads.parse_http_echo_args(args, image, env).port
                        if listen not in ports:
                            ports.append(listen)
            else:
                if (workloads.is_nginx(image) and command
                        and os.path.basename(command[0]) not in ("nginx", "nginx-debug", "docker-entrypoint.sh")):
                    emulate = "generic"  # a shell or another program: not nginx
                args = command + args
            c = _Container(name=cspec.get("name", "main"), image=image, argv=args, env=env, ports=ports,
                           probes=prober.parse_probes(cspec))
            prev = previous.get(c.name) or {}
            if prev.get("state", {}).get("running") or prev.get("lastState") or prev.get("restartCount"):
                # A restarted sandbox restarts the container, as a rebooted node would.
                c.restart_count = int(prev.get("restartCount", 0)) + (1 if prev.get("state", {}).get("running")
                                                                      else 0)
            c.waiting = {"reason": "ContainerCreating"}
            if old_status.get("phase") in ("Succeeded", "Failed"):
                # A pod that ran to completion stays so when the sandbox restarts: a kubelet never starts the
                # containers of a terminal pod again (pkg/kubelet/pod_workers.go: terminal pods are only cleaned
                # up); its last state and logs stay readable.
                c.restart_count = int(prev.get("restartCount", 0))
                c.last_terminated = dict((prev.get("state") or {}).get("terminated") or {}) or None
                c.done, c.waiting = True, None
            c.argv = ["--image", image, "--emulate", emulate]
            try:
                c.mounts = pod_volumes.container_mounts(cspec, pod, rt.volumes_dir)
            except pod_volumes.VolumeError as exc:
                # the API validates mounts; an object persisted before that rule never runs
                c.waiting = {"reason": "CreateContainerConfigError", "message": str(exc)}
                c.done = True
            for mount_path, host in c.mounts:
                c.argv += ["--mount", json.dumps([mount_path, str(host)])]  # JSON: either path may hold '='
            c.argv += ["--", *args]
            rt.containers[c.name] = c
            for cport in ports:
                if cport not in rt.sockets:
                    rt.sockets[cport] = _bind(old_ports.get(str(cport), 0))
        for c in rt.containers.values():
            for probe in c.probes:
                # Probes reach the pod's network namespace, so any container's port counts; a port nobody
                # declared gets a socket that is bound but never listens: probing it is refused, as on a pod.
                if probe.port and probe.port not in rt.sockets and probe.port not in rt.closed:
                    rt.closed[probe.port] = _reserve()
        rt.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._pods[(ns, name)] = rt
        for c in rt.containers.values():
            self._start_probes(rt, c)
        return rt

    # --- volumes --------------------------------------------------------------------------------------

    def _mount_volumes(self, rt: _PodRuntime, pod: dict[str, Any]) -> bool:
        """Set up or refresh the pod's volumes (:mod:`~gloo_nb.sandbox.pod_volumes`); False while one fails.

        Before every volume is in place no container starts (they stay ``ContainerCreating``): the kubelet
        records ``FailedMount`` for each failing volume and retries with back-off (kubelet's
        ``nestedpendingoperations``: 500 ms doubling; capped at 30 s here, not 2m2s, to keep the sandbox lively),
        and again at once when a Secret or ConfigMap of the namespace changes.
        """
        if not (pod.get("spec") or {}).get("volumes"):
            rt.volumes_ready = True
            return True
        result = pod_volumes.mount_volumes(self.store, pod, rt.volumes_dir, rt.mounted)
        rt.mounted.update(result.mounted)
        if result.not_modelled and not rt.not_modelled_reported:
            rt.not_modelled_reported = True
            self._kubelet_events.record(
                object_ref(kinds.POD, rt.namespace, rt.name, rt.uid), WARNING, "VolumeNotModelled",
                f"the sandbox mounts volumes {sorted(result.not_modelled)} as empty directories: only secret, "
                "configMap and emptyDir volumes are modelled")
        if not result.errors:
            rt.volumes_ready = True
            rt.mount_tries = 0
            return True
        if rt.volumes_ready:
            return True  # a refresh that fails leaves what was mounted, and the running containers, alone
        for message in result.errors:
            # operation_generator.go GenerateMountVolumeFunc: the event is on the pod, no fieldPath
            self._kubelet_events.record(object_ref(kinds.POD, rt.namespace, rt.name, rt.uid), WARNING,
                                        "FailedMount", message)
        delay = min(0.5 * (2 ** rt.mount_tries), 30.0)
        rt.mount_tries += 1
        heapq.heappush(self._timers, (time.monotonic() + delay, rt.namespace, rt.name))
        return False

    # --- probes ---------------------------------------------------------------------------------------

    def _start_probes(self, rt: _PodRuntime, c: _Container) -> None:
        """One worker thread per probe (prober_manager.go AddPod); none for a container without probes."""
        for probe in c.probes:
            def report(instance: int, ok: bool, kind: str = probe.kind) -> None:
                self._queue.put(("probe", rt.namespace, rt.name, rt.uid, c.name, instance, kind, ok))

            def record(etype: str, reason: str, message: str) -> None:
                self._container_event(rt, c, etype, reason, message)

            worker = prober.ProbeWorker(probe, f"probe-{rt.namespace}-{rt.name}-{c.name}-{probe.kind.lower()}",
                                        lambda: self._probe_target(rt, c), rt.probe_port, report, record)
            c.workers[probe.kind] = worker
            worker.start()

    @staticmethod
    def _probe_target(rt: _PodRuntime, c: _Container) -> prober.Target | None:
        if rt.terminating:
            return None
        return prober.Target(instance=c.instance, running=c.proc is not None, started_at=c.started_mono,
                             started=c.started, finished=c.done)

    def _probe_result(self, rt: _PodRuntime, c: _Container, kind: str, ok: bool) -> None:
        if c.proc is None:
            return
        if kind == prober.READINESS:
            c.probe_ready = ok
        elif kind == prober.STARTUP and ok:
            c.started = True
            readiness = c.workers.get(prober.READINESS)
            if readiness is not None:
                readiness.trigger()  # prober_manager.go UpdatePodStatus: probe readiness right after start
        elif not ok:
            # pkg/kubelet/kuberuntime/kuberuntime_manager.go computePodActions: a container that failed its
            # liveness or startup probe is killed (Event Killing with this message) and restarted through
            # the usual back-off unless the pod never restarts.
            restart = rt.restart_policy != "Never"
            message = f"Container {c.name} failed {kind.lower()} probe" + (", will be restarted" if restart else "")
            self._container_event(rt, c, NORMAL, "Killing", message)
            c.probe_killed = True
            threading.Thread(target=_terminate, args=([c.proc], STOP_GRACE), daemon=True,
                             name=f"kill-{rt.namespace}-{rt.name}-{c.name}").start()

    @staticmethod
    def _stop_probes(runtimes: Iterable[_PodRuntime], wait: bool) -> None:
        workers = [w for rt in runtimes for w in rt.workers()]
        for w in workers:
            w.stop()
        if wait:
            deadline = time.monotonic() + STOP_GRACE
            for w in workers:
                w.join(max(0.0, deadline - time.monotonic()))

    def _container_env(self, pod: dict[str, Any], cspec: dict[str, Any]) -> dict[str, str]:
        meta = pod["metadata"]
        env: dict[str, str] = {}
        ns = meta["namespace"]
        for src in cspec.get("envFrom") or []:
            prefix = src.get("prefix", "")
            ref = src.get("configMapRef") or src.get("secretRef")
            if not ref:
                continue
            data = self._ref_data(ns, "secretRef" in src, ref.get("name", ""))
            env.update({prefix + k: v for k, v in data.items()})
        for var in cspec.get("env") or []:
            name = var.get("name")
            if not name:
                continue
            if "value" in var:
                env[name] = _expand(str(var["value"]), env)
                continue
            source = var.get("valueFrom") or {}
            if "fieldRef" in source:
                path = source["fieldRef"].get("fieldPath", "")
                env[name] = self._field_ref(pod, path)
            elif "configMapKeyRef" in source or "secretKeyRef" in source:
                ref = source.get("configMapKeyRef") or source.get("secretKeyRef") or {}
                data = self._ref_data(ns, "secretKeyRef" in source, ref.get("name", ""))
                if ref.get("key") in data:
                    env[name] = data[ref["key"]]
        return env

    def _ref_data(self, ns: str, secret: bool, name: str) -> dict[str, str]:
        try:
            obj = self.store.get(kinds.SECRET if secret else kinds.CONFIGMAP, ns, name)
        except ApiError:
            return {}
        data = dict(obj.get("data") or {})
        if secret:
            import base64

            return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in data.items()}
        return {k: str(v) for k, v in data.items()}

    @staticmethod
    def _field_ref(pod: dict[str, Any], path: str) -> str:
        meta = pod["metadata"]
        simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
                  "metadata.uid": meta.get("uid"), "spec.nodeName": NODE_NAME,
                  "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
                  "status.podIP": HOST_IP, "status.hostIP": HOST_IP, "status.podIPs": HOST_IP,
                  "status.hostIPs": HOST_IP}
        if path in simple:
            return str(simple[path] or "")
        m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
        if m:
            return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
        return ""

    @staticmethod
    def _open_nginx_listens(rt: _PodRuntime, c: _Container) -> None:
        """Give an nginx container a socket for every ``listen`` of its configuration, declared or not.

        On a cluster nginx answers on the pod IP at each ``listen`` port whether or not the pod declares it
        (``containerPort`` is informational: core/v1 types.go ``Container.Ports``), so the Python client's
        e2e ``test_portforward_http`` reaches port 80 of an ``nginx`` pod that declares no port. The
        configuration is read here, once the volumes are mounted (a ConfigMap may hold it); a configuration
        that does not parse is left to the emulation, which reports it as nginx does and exits.
        """
        if "auto" not in c.argv[:c.argv.index("--")] or not workloads.is_nginx(c.image):
            return
        fs = workloads.MountTable([(m, str(h)) for m, h in c.mounts], workloads.NGINX_BUILTIN_FILES)
        try:
            wanted = {p for server in workloads.parse_nginx_config(fs) for p, _, _ in server.listens}
        except (workloads.WorkloadExit, OSError):
            return
        for port in sorted(wanted - set(c.ports)):
            if port in _claimed(rt, c):
                continue  # an earlier container of the pod serves it: nginx would fail to bind (its own report)
            c.ports.append(port)
            if port not in rt.sockets:
                reserved = rt.closed.pop(port, None)  # a probe's placeholder: now the port listens
                if reserved is not None:
                    reserved.close()
                rt.sockets[port] = _bind(0)

    def _spawn(self, rt: _PodRuntime, c: _Container, pod: dict[str, Any]) -> None:
        # A new container starts unready, not started while it has a startup probe (worker.go initial values).
        c.listening = c.probe_ready = c.probe_killed = False
        c.started = not c.has_probe(prober.STARTUP)
        self._serial += 1
        c.instance = self._serial
        sep = c.argv.index("--")
        image_args, program_args = c.argv[:sep], c.argv[sep + 1:]
        labels = pod["metadata"].get("labels") or {}
        # -I -S: workloads.py needs only the standard library, and its own folder must not shadow stdlib modules.
        cmd = [self.python, "-I", "-S", str(_WORKLOADS), *image_args, "--pod", rt.name, "--namespace", rt.namespace,
               "--container", c.name, "--labels", json.dumps(labels), "--parent-pid", str(os.getpid())]
        fds: list[int] = []
        self._open_nginx_listens(rt, c)
        for cport in c.ports:
            sock = rt.sockets.get(cport)
            if sock is not None and cport not in _claimed(rt, c):
                cmd += ["--socket", f"{cport}={sock.fileno()}"]
                fds.append(sock.fileno())
        cmd += ["--ports", ",".join(str(p) for p in c.ports)]
        ready_r, ready_w = os.pipe()
        cmd += ["--ready-fd", str(ready_w), "--", *program_args]
        env = _process_env(rt, c)
        try:
            log_dir = state_path(rt.directory, c.name)
        except ValueError as exc:
            # a name persisted before validation refused it: the container never runs, nothing is written
            c.waiting = {"reason": "CreateContainerConfigError", "message": f"invalid container name: {exc}"}
            c.done = True
            os.close(ready_r)
            os.close(ready_w)
            return
        log_dir.mkdir(parents=True, exist_ok=True)
        c.log_file = log_dir / f"{c.restart_count}.log"
        self._container_event(rt, c, NORMAL, "Pulled", f'Container image "{c.image}" already present on machine')
        self._container_event(rt, c, NORMAL, "Created", f"Created container: {c.name}")
        # The output goes through a pipe that one thread copies to the log, noting each line's arrival time
        # (pod_logs: what the CRI log format keeps, for `kubectl logs --timestamps/--since`).
        out_r, out_w = os.pipe()
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out_w, stderr=subprocess.STDOUT,
                                    pass_fds=(*fds, ready_w), env=env, cwd=rt.directory)
        except OSError as exc:
            for fd in (ready_r, ready_w, out_r, out_w):
                os.close(fd)
            c.waiting = {"reason": "RunContainerError", "message": str(exc)}
            self._container_event(rt, c, WARNING, "Failed", f"Error: {exc}")
            c.crashes += 1
            self._schedule_restart(rt, c)
            return
        os.close(out_w)
        threading.Thread(target=pod_logs.copy_output, args=(out_r, c.log_file), daemon=True,
                         name=f"log-{rt.namespace}-{rt.name}-{c.name}").start()
        os.close(ready_w)
        self._container_event(rt, c, NORMAL, "Started", f"Started container {c.name}")
        c.started_mono = time.monotonic()  # before proc: a probe worker that sees it running reads the delay
        c.started_at = rfc3339_now()
        c.waiting = None
        c.proc = proc
        token = (rt.namespace, rt.name, rt.uid, c.name, c.instance)
        threading.Thread(target=self._watch_process, args=(proc, ready_r, token), daemon=True,
                         name=f"pod-{rt.namespace}-{rt.name}-{c.name}").start()

    def _watch_process(self, proc: subprocess.Popen[bytes], ready_r: int, token: tuple[Any, ...]) -> None:
        try:
            got = os.read(ready_r, 1)
        except OSError:
            got = b""
        finally:
            os.close(ready_r)
        if got:
            self._queue.put(("ready", *token))
        code = proc.wait()
        self._queue.put(("exited", *token, code, rfc3339_now()))

    def process_event(self, item: tuple[Any, ...]) -> None:
        """Apply a ``("ready"|"exited"|"probe", ns, pod, uid, container, instance, ...)`` item from the queue.

        Items about a pod or container instance that is gone are dropped.

        Args:
            item: The queued item, as this supervisor's threads put it.
        """
        tag, ns, name, uid, cname, instance = item[:6]
        with self._lock:
            rt = self._pods.get((ns, name))
        if rt is None or rt.uid != uid:
            return
        c = rt.containers.get(cname)
        if c is None or c.instance != instance:
            return
        if tag == "ready":
            c.listening = c.proc is not None
            return
        if tag == "probe":
            self._probe_result(rt, c, item[6], item[7])
            return
        code, finished = item[6], item[7]
        reason = "Completed" if code == 0 else "Error"
        if code < 0:
            code, reason = 128 - code, "Error"  # killed by a signal: Kubernetes reports 128 + signal number
        c.last_terminated = {"exitCode": code, "reason": reason, "startedAt": c.started_at, "finishedAt": finished,
                             "containerID": f"sandbox://{c.proc.pid if c.proc else 0}"}
        c.proc = None
        c.listening = False
        if rt.terminating:
            return
        restart = rt.restart_policy == "Always" or (rt.restart_policy == "OnFailure" and code != 0) \
            or (c.probe_killed and rt.restart_policy != "Never")
        if not restart:
            c.done = True
            return
        if time.monotonic() - c.started_mono > _BACKOFF_RESET:
            c.crashes = 0
        c.crashes += 1
        c.restart_count += 1
        self._schedule_restart(rt, c)

    def _schedule_restart(self, rt: _PodRuntime, c: _Container) -> None:
        delay = _BACKOFF[min(c.crashes - 1, len(_BACKOFF) - 1)] if c.crashes else 0.0
        c.next_start = time.monotonic() + delay
        if delay > 0:
            c.waiting = {"reason": "CrashLoopBackOff",
                         "message": f"back-off {int(delay)}s restarting failed container={c.name} "
                                    f"pod={rt.name}_{rt.namespace}({rt.uid})"}
            self._container_event(rt, c, WARNING, "BackOff", f"Back-off restarting failed container {c.name} in "
                                                             f"pod {rt.name}_{rt.namespace}({rt.uid})")
        heapq.heappush(self._timers, (c.next_start, rt.namespace, rt.name))

    def _write_status(self, rt: _PodRuntime, pod: dict[str, Any]) -> None:
        ports = {str(k): v for k, v in sorted(rt.host_ports.items())}
        ports_text = json.dumps(ports, separators=(",", ":")) if ports else None
        if ports_text and pod_ports(pod) != ports:
            def annotate(obj: dict[str, Any]) -> dict[str, Any]:
                obj["metadata"].setdefault("annotations", {})[PORTS_ANNOTATION] = ports_text
                return obj
            self.store.patch(kinds.POD, rt.namespace, rt.name, annotate, identity=self.identity)
        status = self._pod_status(rt, pod.get("status") or {})

        def mutate(obj: dict[str, Any]) -> dict[str, Any]:
            obj["status"] = status
            return obj

        self.store.patch(kinds.POD, rt.namespace, rt.name, mutate, identity=self.identity, subresource="status")

    def _pod_status(self, rt: _PodRuntime, old: dict[str, Any]) -> dict[str, Any]:
        now = rfc3339_now()
        containers = list(rt.containers.values())
        all_ready = bool(containers) and all(c.ready for c in containers)
        finished = bool(containers) and all(c.done for c in containers)
        if finished:
            phase = "Succeeded" if all((c.last_terminated or {}).get("exitCode") == 0 for c in containers) \
                else "Failed"
        elif any(c.proc is not None or c.restart_count or c.last_terminated for c in containers):
            phase = "Running"
        else:
            phase = "Pending"
        old_conds = {c.get("type"): c for c in old.get("conditions") or []}

        def cond(ctype: str, ok: bool, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
            value = "True" if ok else "False"
            prev = old_conds.get(ctype) or {}
            out: dict[str, Any] = {"type": ctype, "status": value, "lastProbeTime": None,
                                   "lastTransitionTime": prev.get("lastTransitionTime", now)
                                   if prev.get("status") == value else now}
            if reason:
                out["reason"] = reason
            if message:
                out["message"] = message
            return out

        not_ready = [c.name for c in containers if not c.ready]
        if finished:
            why: tuple[str | None, str | None] = ("PodCompleted", None)
        elif not_ready:
            why = ("ContainersNotReady", f"containers with unready status: [{' '.join(not_ready)}]")
        else:
            why = (None, None)
        conditions = [cond("PodReadyToStartContainers", True), cond("Initialized", True),
                      cond("Ready", all_ready, *why), cond("ContainersReady", all_ready, *why),
                      cond("PodScheduled", True)]
        statuses = []
        for c in containers:
            st: dict[str, Any] = {"name": c.name, "image": c.image, "imageID": "", "ready": c.ready,
                                  "restartCount": c.restart_count,
                                  "started": c.proc is not None and c.started}
            if c.proc is not None:
                st["containerID"] = f"sandbox://{c.proc.pid}"
                st["state"] = {"running": {"startedAt": c.started_at}}
            elif c.done and c.last_terminated:
                st["state"] = {"terminated": dict(c.last_terminated)}
            else:
                st["state"] = {"waiting": dict(c.waiting or {"reason": "ContainerCreating"})}
            st["lastState"] = {"terminated": dict(c.last_terminated)} \
                if c.last_terminated and not (c.done and c.proc is None) else {}
            statuses.append(st)
        status: dict[str, Any] = {
            "phase": phase, "conditions": conditions, "hostIP": HOST_IP, "hostIPs": [{"ip": HOST_IP}],
            "podIP": HOST_IP, "podIPs": [{"ip": HOST_IP}], "startTime": rt.start_time,
            "containerStatuses": statuses, "qosClass": old.get("qosClass", "BestEffort"),
        }
        return status

    def _kill_pod(self, rt: _PodRuntime, *, remove: bool) -> None:
        rt.terminating = True
        self._stop_probes([rt], wait=False)
        for c in rt.containers.values():
            if c.proc is not None:
                self._container_event(rt, c, NORMAL, "Killing", f"Stopping container {c.name}")
        procs = [c.proc for c in rt.containers.values() if c.proc is not None]
        _terminate(procs, STOP_GRACE)
        rt.close_sockets()
        with self._lock:
            if self._pods.get((rt.namespace, rt.name)) is rt:
                del self._pods[(rt.namespace, rt.name)]
        if remove:
            shutil.rmtree(rt.directory, ignore_errors=True)

    def shutdown_all(self) -> None:
        """Stop every pod's processes (SIGTERM, then SIGKILL) and probe workers and forget the pods."""
        with self._lock:
            runtimes = list(self._pods.values())
            self._pods.clear()
        procs: list[subprocess.Popen[bytes]] = []
        for rt in runtimes:
            rt.terminating = True
            procs.extend(c.proc for c in rt.containers.values() if c.proc is not None)
        self._stop_probes(runtimes, wait=False)
        _terminate(procs, STOP_GRACE)
        self._stop_probes(runtimes, wait=True)
        for rt in runtimes:
            rt.close_sockets()

    # --- endpoints controller -----------------------------------------------------------------------


def _process_env(rt: _PodRuntime, c: _Container) -> dict[str, str]:
    """The environment a container's process gets (and what ``kubectl exec`` runs with)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": rt.name, **c.env}


def _claimed(rt: _PodRuntime, c: _Container) -> set[int]:
    """Container ports already handed to an earlier container of the same pod (two cannot share a socket)."""
    taken: set[int] = set()
    for other in rt.containers.values():
        if other is c:
            break
        taken.update(other.ports)
    return taken


def _bind(port: int) -> socket.socket:
    """A listening loopback socket; the previous host port when still free (a restarted sandbox keeps its ports)."""
    for candidate in ((port, 0) if port else (0,)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST_IP, candidate))
            sock.listen(512)
            return sock
        except OSError:
            sock.close()
            if candidate == 0:
                raise
    raise OSError("unreachable")


def _reserve() -> socket.socket:
    """A loopback port bound but never listening: connecting to it is refused, and nobody else can take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST_IP, 0))
    except OSError:
        sock.close()
        raise
    return sock


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in command, args and env values; ``$$`` escapes, unknown refs stay."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _ENV_REF.sub(repl, text)


def _terminate(procs: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM every process, wait up to ``grace`` seconds, then SIGKILL and reap the rest."""
    live = [p for p in procs if p.poll() is None]
    for p in live:
        with contextlib.suppress(OSError):
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in live:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                p.kill()
    for p in live:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=2.0)
