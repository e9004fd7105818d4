"""The sandbox's one Node, ``sandbox``: what the kubelet registers and reports for the machine it runs on.

Kubernetes' kubelet registers its Node (pkg/kubelet/kubelet_node_status.go ``Kubelet.initialNode``) and keeps its
status (``setNodeStatus``, the setters of pkg/kubelet/nodestatus/setters.go): addresses (``NodeAddress``:
InternalIP and Hostname), capacity and allocatable (``MachineInfo``), nodeInfo (``VersionInfo``,
``MachineInfo``), the four conditions (``MemoryPressureCondition``, ``DiskPressureCondition``,
``PIDPressureCondition``, ``ReadyCondition``) with their reasons and messages. The sandbox's node is the machine
itself: its cpus, its memory, its kernel; every pod it runs reports ``spec.nodeName: sandbox``
(:data:`~gloo_nb.sandbox.pod_objects.NODE_NAME`).
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
from pathlib import Path
from typing import Any

from gloo_nb.sandbox.kinds import NODE
from gloo_nb.sandbox.kubeapi.discovery import VERSION
from gloo_nb.sandbox.pod_objects import HOST_IP, NODE_NAME, rfc3339_now
from gloo_nb.sandbox.store import KUBELET, ApiError, Store

__all__ = ["MAX_PODS", "node_object", "register_node"]

MAX_PODS = 110
"""The kubelet's default ``maxPods`` (pkg/kubelet/apis/config/v1beta1 defaults), the node's pods capacity."""

# pkg/kubelet/eviction/defaults_linux.go DefaultEvictionHard: memory.available<100Mi, nodefs.available<10%;
# allocatable is capacity less the hard eviction thresholds (pkg/kubelet/cm/node_container_manager_linux.go).
_EVICTION_MEMORY_KI = 100 * 1024
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


def _read(path: str) -> str:
    with contextlib.suppress(OSError):
        return Path(path).read_text(encoding="utf-8").strip()
    return ""


def _memory_ki() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])  # kB in /proc/meminfo are KiB
    return 0


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return platform.system()


def _conditions(now: str) -> list[dict[str, Any]]:
    # pkg/kubelet/nodestatus/setters.go: the reasons and messages the kubelet writes on a healthy node.
    rows = [("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status")]
    return [{"type": t, "status": s, "lastHeartbeatTime": now, "lastTransitionTime": now, "reason": r, "message": m}
            for t, s, r, m in rows]


def node_object(state_dir: Path | None = None) -> dict[str, Any]:
    """Return the Node ``sandbox`` as the kubelet would register it on this machine.

    Args:
        state_dir: Where the sandbox keeps its files: the disk whose size is the node's ephemeral storage.

    Returns:
        The Node manifest, with status.
    """
    now = rfc3339_now()
    cpus = os.cpu_count() or 1
    memory = _memory_ki()
    disk = shutil.disk_usage(state_dir or Path.cwd()).total // 1024
    arch = _ARCH.get(platform.machine(), platform.machine())
    capacity = {"cpu": str(cpus), "ephemeral-storage": f"{disk}Ki", "memory": f"{memory}Ki", "pods": str(MAX_PODS)}
    # Allocatable: capacity less the hard eviction thresholds; kube and system reserved are 0 by default.
    allocatable = {**capacity, "ephemeral-storage": str(disk * 1024 * 9 // 10),
                   "memory": f"{max(memory - _EVICTION_MEMORY_KI, 0)}Ki"}
    machine_id = _read("/etc/machine-id")
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            # pkg/kubelet/kubelet_node_status.go initialNode and the well-known labels it sets.
            "labels": {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
                       "kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux"},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": _conditions(now),
            "addresses": [{"type": "InternalIP", "address": HOST_IP}, {"type": "Hostname", "address": NODE_NAME}],
            # No kubelet API port: the sandbox's pods are reached through the API server (port-forward, logs).
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {
                "machineID": machine_id, "systemUUID": machine_id,
                "bootID": _read("/proc/sys/kernel/random/boot_id"),
                "kernelVersion": platform.release(), "osImage": _os_image(),
                # The runtime is the sandbox's process supervisor, not a container runtime.
                "containerRuntimeVersion": "gloo-nb-sandbox://processes",
                "kubeletVersion": VERSION["gitVersion"], "kubeProxyVersion": "",
                "operatingSystem": "linux", "architecture": arch,
            },
        },
    }


def register_node(store: Store, state_dir: Path | None = None) -> dict[str, Any]:
    """Register the Node, or refresh its status when it exists (a restarted sandbox: a new heartbeat).

    Args:
        store: The object store.
        state_dir: The sandbox's state directory (its disk is the node's ephemeral storage).

    Returns:
        The stored Node.
    """
    fresh = node_object(state_dir)
    try:
        store.get(NODE, None, NODE_NAME)
    except ApiError as error:
        if error.code != 404:
            raise
        return store.create(NODE, fresh, identity=KUBELET)

    def refresh(obj: dict[str, Any]) -> dict[str, Any]:
        obj["status"] = fresh["status"]
        return obj

    return store.patch(NODE, None, NODE_NAME, refresh, identity=KUBELET, subresource="status")
