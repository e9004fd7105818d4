"""What every sandbox controller reads off a pod: the one node, the sandbox's pod annotations, readiness, owner.

The Deployment controller, the process supervisor and the Endpoints controller all look at the same few facts
of a pod object (its host ports, whether it is Ready, which Deployment owns it) and name the same node; those
readers and names live here so that each controller module holds only its own reconciliation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.events import NORMAL, EventRecorder, object_ref

__all__ = ["HOST_IP", "MANAGED_BY", "NODE_NAME", "PORTS_ANNOTATION", "is_daemon_managed", "is_ready", "owner_uid",
           "pod_annotations", "pod_ports", "record_scheduled", "rfc3339_now"]

MANAGED_BY = "sandbox.gloo-nb.io/managed-by"
"""Pods with this annotation are run by someone else (the Envoy replicas' pods): no process for them."""
PORTS_ANNOTATION = "sandbox.gloo-nb.io/ports"
"""JSON ``{"<containerPort>": <host port>}`` on each pod: where its container ports really listen."""
NODE_NAME = "sandbox"
HOST_IP = "127.0.0.1"


def rfc3339_now() -> str:
    """Return the current time as Kubernetes writes it in statuses (RFC 3339, seconds, ``Z``).

    Returns:
        E.g. ``2024-05-01T12:00:00Z``.
    """
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def is_daemon_managed(owner: dict[str, Any]) -> bool:
    """Whether a ReplicaSet's (or Deployment's) pods are the sandbox daemon's, not made from its template.

    The ``gloo`` and gateway-proxy Deployments of a Gloo install (:mod:`gloo_nb.sandbox.install`) carry
    :data:`MANAGED_BY` in their pod template: their pods stand for the daemon's control plane and Envoy replicas,
    which the daemon publishes (and publishes again when one is deleted). Their ReplicaSets adopt and count those
    pods but create and delete none, so that the controllers never fight the daemon.

    Args:
        owner: A ReplicaSet or Deployment.

    Returns:
        True when its pod template carries ``MANAGED_BY``.
    """
    template = (owner.get("spec") or {}).get("template") or {}
    return bool(((template.get("metadata") or {}).get("annotations") or {}).get(MANAGED_BY))


def is_ready(pod: dict[str, Any]) -> bool:
    """Return whether a pod's ``Ready`` condition is ``True``.

    Args:
        pod: The pod object.

    Returns:
        True when Ready.
    """
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def owner_uid(pod: dict[str, Any], kind: str = "Deployment") -> str | None:
    """Return the uid of the object of ``kind`` controlling a pod.

    Args:
        pod: The pod object.
        kind: The owner's kind.

    Returns:
        The uid, or None when no such owner controls it.
    """
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == kind and ref.get("controller", True):
            return ref.get("uid")
    return None


def pod_annotations(obj: dict[str, Any]) -> dict[str, str]:
    """Return an object's annotations (empty when it has none).

    Args:
        obj: The object.

    Returns:
        Its ``metadata.annotations``.
    """
    return obj["metadata"].get("annotations") or {}


def pod_ports(pod: dict[str, Any]) -> dict[str, int]:
    """Return a pod's ``PORTS_ANNOTATION``: where its container ports really listen.

    Args:
        pod: The pod object.

    Returns:
        ``{"<containerPort>": <host port>}``; empty when absent or unreadable.
    """
    try:
        ports = json.loads(pod_annotations(pod).get(PORTS_ANNOTATION) or "{}")
    except ValueError:
        return {}
    return {str(k): int(v) for k, v in ports.items()} if isinstance(ports, dict) else {}


def record_scheduled(recorder: EventRecorder, pod: dict[str, Any]) -> None:
    """Record the scheduler's ``Scheduled`` Event for a pod bound to the one node.

    Args:
        recorder: The ``default-scheduler`` recorder (one, shared, so repeats count up as on a cluster).
        pod: The pod object.
    """
    meta = pod["metadata"]
    recorder.record(object_ref(kinds.POD, meta["namespace"], meta["name"], meta.get("uid", "")),
                    NORMAL, "Scheduled",
                    f"Successfully assigned {meta['namespace']}/{meta['name']} to {NODE_NAME}")
