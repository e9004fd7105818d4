"""The Endpoints controller: every Service with a selector gets Endpoints listing its pods and their real ports.

As kube-controller-manager's endpoints controller does, with one difference the sandbox needs: every pod has
its own loopback host port (``PORTS_ANNOTATION``), so each pod gets its own subset. Selectorless Services'
Endpoints belong to the user and are left alone. Separate from the kubelet because it only reads pods and
Services and writes Endpoints; it owns no process.
"""

from __future__ import annotations

import contextlib
from typing import Any

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.pod_objects import NODE_NAME, is_ready, pod_ports
from gloo_nb.sandbox.store import CONTROLLER, ApiError, Store

__all__ = ["sync_endpoints"]


def _selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def sync_endpoints(store: Store, ns: str, name: str) -> None:
    """Bring one Service's Endpoints in line with its pods (delete them when the Service is gone).

    Args:
        store: The object store.
        ns: The Service's namespace.
        name: The Service's name.
    """
    svc = store.find(kinds.SERVICE, ns, name)
    if svc is None:
        with contextlib.suppress(ApiError):
            store.delete(kinds.ENDPOINTS, ns, name, identity=CONTROLLER)
        return
    spec = svc.get("spec") or {}
    selector = spec.get("selector")
    if not selector or spec.get("type") == "ExternalName":
        return  # selectorless Services' Endpoints belong to the user
    publish_all = bool(spec.get("publishNotReadyAddresses"))
    subsets: list[dict[str, Any]] = []
    for pod in store.list(kinds.POD, ns)[0]:
        meta, status = pod["metadata"], pod.get("status") or {}
        if not _selector_matches(selector, meta.get("labels") or {}) or not status.get("podIP"):
            continue
        if meta.get("deletionTimestamp") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        ports = _endpoint_ports(spec.get("ports") or [], pod)
        if ports is None:
            continue
        addr = {"ip": status["podIP"], "nodeName": pod["spec"].get("nodeName", NODE_NAME),
                "targetRef": {"kind": "Pod", "namespace": ns, "name": meta["name"], "uid": meta["uid"]}}
        subset: dict[str, Any] = {"addresses" if publish_all or is_ready(pod) else "notReadyAddresses": [addr]}
        if ports:
            subset["ports"] = ports
        subsets.append(subset)
    labels = dict(svc["metadata"].get("labels") or {})
    if spec.get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    if store.find(kinds.ENDPOINTS, ns, name) is None:
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints",
                                "metadata": {"name": name, "namespace": ns}}
        if labels:
            body["metadata"]["labels"] = labels
        if subsets:
            body["subsets"] = subsets
        store.create(kinds.ENDPOINTS, body, identity=CONTROLLER)
        return

    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        if labels:
            obj["metadata"]["labels"] = labels
        else:
            obj["metadata"].pop("labels", None)
        if subsets:
            obj["subsets"] = subsets
        else:
            obj.pop("subsets", None)
        return obj

    store.patch(kinds.ENDPOINTS, ns, name, mutate, identity=CONTROLLER)


def _endpoint_ports(service_ports: list[dict[str, Any]], pod: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The Endpoints ports of one pod, or None when a named targetPort is missing on it (the pod is left out)."""
    host = pod_ports(pod)
    named: dict[str, int] = {}
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if isinstance(p, dict) and p.get("name") and "containerPort" in p:
                named.setdefault(p["name"], int(p["containerPort"]))
    out: list[dict[str, Any]] = []
    for sp in service_ports:
        target = sp.get("targetPort", sp.get("port"))
        if isinstance(target, str) and not target.isdigit():
            if target not in named:
                if len(service_ports) == 1:
                    return None
                continue
            cport = named[target]
        else:
            cport = int(target or 0)
        # Without a mapping the pod's own port number stands (a real cluster would use it as is).
        ep: dict[str, Any] = {"port": host.get(str(cport), cport), "protocol": sp.get("protocol", "TCP")}
        if sp.get("name"):
            ep["name"] = sp["name"]
        if sp.get("appProtocol"):
            ep["appProtocol"] = sp["appProtocol"]
        out.append(ep)
    return out
