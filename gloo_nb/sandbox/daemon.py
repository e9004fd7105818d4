"""The sandbox process: the Kubernetes-compatible API, the kubelet, the control plane, Envoy.

``gloo-nb sandbox start`` runs this module in the background (``python -m gloo_nb.sandbox.daemon``);
it writes ``endpoints.json`` once everything serves and removes its ``pid`` from it on a clean stop.
Everything binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import datetime
import itertools
import json
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gloo_nb._types import Profile, check_profile
from gloo_nb.errors import GlooNbError
from gloo_nb.models.defaults import (
    VALIDATION_MODES,
    helm_default_gateway_manifest,
    helm_default_settings_manifest,
    helm_default_ssl_gateway_manifest,
    validation_block,
)
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.apiservices import APIServices
from gloo_nb.sandbox.audit import DEFAULT_LEVEL as DEFAULT_AUDIT_LEVEL
from gloo_nb.sandbox.audit import LEVELS as AUDIT_LEVELS
from gloo_nb.sandbox.controlplane import ControlPlane, rewrite_listener_ports
from gloo_nb.sandbox.daemon_pods import DaemonPod, write_downward_api
from gloo_nb.sandbox.envoy import EnvoyFleet, Replica, replica_dir
from gloo_nb.sandbox.gloo_validation_grpc import GlooValidationServer
from gloo_nb.sandbox.gloo_webhook import GlooWebhook
from gloo_nb.sandbox.install import (
    CONTROLPLANE_MANAGER,
    ENVOY_MANAGER,
    VALIDATION_PORT,
    WEBHOOK_CONFIGURATION,
    WEBHOOK_PORT,
    create_missing,
    gateway_pod_name,
    gloo_pod,
    gloo_pod_name,
    install_workloads,
    stored_template_hash,
    validation_enabled,
    validation_objects,
    webhook_service,
)
from gloo_nb.sandbox.kubeapi import KubeApiServer, metrics, write_kubeconfig
from gloo_nb.sandbox.kubeapi.exec import ExecHandler
from gloo_nb.sandbox.kubeapi.logs import LogHandler
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.kubelet import Kubelet
from gloo_nb.sandbox.node import register_node
from gloo_nb.sandbox.pod_exec import ExecTarget
from gloo_nb.sandbox.pod_objects import MANAGED_BY, PORTS_ANNOTATION, is_daemon_managed, is_ready, pod_ports
from gloo_nb.sandbox.pod_supervisor import state_path
from gloo_nb.sandbox.pod_volumes import container_mounts, mount_volumes
from gloo_nb.sandbox.portforward import PortForwardHandler
from gloo_nb.sandbox.proxyspec import parse_proxy_specs
from gloo_nb.sandbox.serviceaccounts_controller import ServiceAccounts
from gloo_nb.sandbox.statedir import PRIVATE_UMASK, private_dir
from gloo_nb.sandbox.store import ADMIN, KUBELET, ApiError, Identity, Store, WatchEvent
from gloo_nb.sandbox.webhook_server import WebhookServer
from gloo_nb.sandbox.xds_server import TYPE_CLUSTER, TYPE_LISTENER, AdsServer

log = logging.getLogger("gloo_nb.sandbox")

NAMESPACE = "gloo-system"
PROXY = "gateway-proxy"
ADMIN_PORT = 19000
"""Gloo's Envoy admin port in the gateway-proxy pod (``EnvoyAdminPort``)."""
GATEWAY_PORT = 8080
HTTPS_PORT = 8443
"""The Helm default Gateway's bind port (the gateway-proxy pod's ``httpPort``)."""
PROXY_LABELS = {"gloo": "gateway-proxy", "gateway-proxy-id": PROXY, "gateway-proxy": "live"}
"""Labels of the Helm chart's gateway-proxy pods, which its Service selects."""


# --- what a fresh Gloo install holds ---------------------------------------------------------


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def install_manifests(profile: Profile) -> list[tuple[kinds.Kind, dict[str, Any]]]:
    """The objects of a fresh Gloo install (Helm defaults), without the gateway-proxy pods.

    Args:
        profile: The Gloo profile (Settings differ slightly).

    Returns:
        ``(kind, manifest)`` pairs in creation order.
    """
    ns = lambda name: {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}  # noqa: E731
    gloo_svc = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "gloo", "namespace": NAMESPACE, "labels": {"app": "gloo", "gloo": "gloo"}},
        # install/helm/gloo/templates/2-gloo-service.yaml with Helm's defaults: at v1.3.20 grpc-xds, grpc-validation,
        # metrics-grpc and wasm-cache; at main also rest-xds, grpc-proxydebug (9966's new name) and, with validation
        # enabled (the default), https 443 -> 8443; http-monitoring only with serviceMonitorEnabled (off).
        "spec": {"selector": {"gloo": "gloo"}, "ports": [
            {"name": "grpc-xds", "port": 9977, "protocol": "TCP", "targetPort": 9977},
            {"name": "grpc-validation", "port": 9988, "protocol": "TCP", "targetPort": 9988},
            {"name": "metrics-grpc", "port": 9966, "protocol": "TCP", "targetPort": 9966},
            {"name": "wasm-cache", "port": 9979, "protocol": "TCP", "targetPort": 9979}] if profile == "1.3" else [
            {"name": "grpc-xds", "port": 9977, "protocol": "TCP", "targetPort": 9977},
            {"name": "rest-xds", "port": 9976, "protocol": "TCP", "targetPort": 9976},
            {"name": "grpc-validation", "port": 9988, "protocol": "TCP", "targetPort": 9988},
            {"name": "grpc-proxydebug", "port": 9966, "protocol": "TCP", "targetPort": 9966},
            {"name": "wasm-cache", "port": 9979, "protocol": "TCP", "targetPort": 9979},
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]},
    }
    proxy_svc = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": PROXY, "namespace": NAMESPACE,
                     "labels": {"app": "gloo", "gloo": "gateway-proxy", "gateway-proxy-id": PROXY}},
        # install/helm/gloo/templates/8-gateway-proxy-service.yaml
        "spec": {"type": "LoadBalancer", "selector": {"gateway-proxy-id": PROXY, "gateway-proxy": "live"},
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                           {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}]},
    }
    return [
        (kinds.NAMESPACE, ns("default")),
        (kinds.NAMESPACE, ns(NAMESPACE)),
        (kinds.SETTINGS, helm_default_settings_manifest(profile=profile)),
        (kinds.GATEWAY, helm_default_gateway_manifest()),
        (kinds.GATEWAY, helm_default_ssl_gateway_manifest()),
        (kinds.SERVICE, gloo_svc),
        (kinds.SERVICE, proxy_svc),
    ]


def proxy_manifests(profile: Profile, proxy: str) -> list[tuple[kinds.Kind, dict[str, Any]]]:
    """The Helm chart's objects for one more gateway proxy: its default Gateway(s) and its Service.

    The chart renders, for each entry of ``gatewayProxies``, Gateways named after the proxy with
    ``proxyNames: [<proxy>]`` (``install/helm/gloo/templates/8-default-gateways.yaml``) and a Service
    named after it selecting ``gateway-proxy-id: <proxy>`` (``8-gateway-proxy-service.yaml``). They
    are made from ``gateway-proxy``'s own install objects, renamed.

    Args:
        profile: The Gloo profile.
        proxy: The proxy's name.

    Returns:
        ``(kind, manifest)`` pairs; none for ``gateway-proxy`` (the install already holds them).
    """
    if proxy == PROXY:
        return []
    out: list[tuple[kinds.Kind, dict[str, Any]]] = []
    for kind, manifest in install_manifests(profile):
        meta = manifest["metadata"]
        if kind is kinds.GATEWAY and PROXY in manifest["spec"].get("proxyNames", []):
            made = copy.deepcopy(manifest)
            made["metadata"]["name"] = proxy + meta["name"][len(PROXY):] if meta["name"].startswith(PROXY) \
                else f"{proxy}-{meta['name']}"
            made["spec"]["proxyNames"] = [proxy]
            out.append((kind, made))
        elif kind is kinds.SERVICE and meta["name"] == PROXY:
            made = copy.deepcopy(manifest)
            made["metadata"]["name"] = proxy
            made["metadata"]["labels"]["gateway-proxy-id"] = proxy
            made["spec"]["selector"]["gateway-proxy-id"] = proxy
            out.append((kind, made))
    return out


def proxy_pod(replica: Replica, *, ready: bool, proxy: str = PROXY, pod_hash: str | None = None,
              template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``<proxy>-<i>`` pod (``gateway-proxy-<i>``) standing for one Envoy replica.

    Its container ports 8080, 8443 and 19000 map to the replica's listeners and admin port (the
    ``sandbox.gloo-nb.io/ports`` annotation), so Services, Endpoints and port-forwards reach them.

    Args:
        replica: The replica.
        ready: Whether the replica is connected to the control plane.
        proxy: The proxy the replica serves (its pod's name and ``gateway-proxy-id`` label).
        pod_hash: The ``pod-template-hash`` of the proxy's Deployment (:mod:`gloo_nb.sandbox.install`), so that
            its ReplicaSet adopts the pod; None for a pod outside any Deployment.
        template: That Deployment's pod template: the pod takes its annotations, image and ServiceAccount.

    Returns:
        The Pod manifest, with status.
    """
    # 8443: Helm's httpsPort, gateway-proxy-ssl's bindPort; the replica's TLS listener binds its own loopback port
    ports = {str(GATEWAY_PORT): replica.port_for(GATEWAY_PORT), str(HTTPS_PORT): replica.port_for(HTTPS_PORT),
             str(ADMIN_PORT): replica.admin_port}
    cond = "True" if ready else "False"
    now = _now()
    tmeta = (template or {}).get("metadata") or {}
    tspec = (template or {}).get("spec") or {}
    image = next((str(c.get("image")) for c in tspec.get("containers") or [] if c.get("image")),
                 "quay.io/solo-io/gloo-envoy-wrapper")
    labels = {**PROXY_LABELS, "gateway-proxy-id": proxy}
    if pod_hash:
        labels["pod-template-hash"] = pod_hash
    spec_extra = {"serviceAccountName": tspec["serviceAccountName"]} if tspec.get("serviceAccountName") else {}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"{proxy}-{replica.index}", "namespace": NAMESPACE,
                     "labels": labels,
                     "annotations": {**(tmeta.get("annotations") or {}), MANAGED_BY: ENVOY_MANAGER,
                                     PORTS_ANNOTATION: json.dumps(ports)}},
        "spec": {"nodeName": "sandbox", **spec_extra, "containers": [{
            "name": proxy, "image": image,
            "args": ["--disable-hot-restart"],
            "ports": [{"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"},
                      {"name": "https", "containerPort": HTTPS_PORT, "protocol": "TCP"},
                      {"name": "admin", "containerPort": ADMIN_PORT, "protocol": "TCP"}]}]},
        "status": {
            "phase": "Running", "hostIP": "127.0.0.1", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": now,
            "conditions": [{"type": t, "status": "True" if t in ("PodScheduled", "Initialized") else cond,
                            "lastTransitionTime": now}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            # imageID: core/v1 types.go ContainerStatus `json:"imageID"` has no omitempty (the Python client requires
            # it); the kubelet's own pods write "" as well (pod_supervisor).
            "containerStatuses": [{"name": proxy, "image": image, "imageID": "",
                                   "ready": ready,
                                   "restartCount": replica.restarts, "started": True,
                                   "state": {"running": {"startedAt": now}}}],
        },
    }


def seed(store: Store, profile: Profile, proxies: Sequence[str] = (),
         workloads: Sequence[tuple[str, int]] | None = None, *, validation: bool = True) -> None:
    """Create what a fresh install holds, unless the store already has it (a restarted sandbox).

    Args:
        store: The store.
        profile: The Gloo profile.
        proxies: Further gateway proxies the install runs (:func:`proxy_manifests`).
        workloads: ``(proxy, replicas)`` of every proxy: the install's ServiceAccounts, ConfigMaps and
            Deployments are made too (:func:`gloo_nb.sandbox.install.install_workloads`); a restart with another
            replica count sets the proxy Deployment's ``spec.replicas`` to it. None: the objects of
            :func:`install_manifests` only.
        validation: ``gateway.validation.enabled`` as Helm renders the workloads with it (the webhook's volume and,
            in ``1.3``, the ``gateway`` container's port).
    """
    create_missing(store, [*install_manifests(profile), *(m for p in proxies for m in proxy_manifests(profile, p))])
    if workloads is None:
        return
    create_missing(store, install_workloads(profile, workloads, validation=validation))
    for name, count in workloads:
        def scale(obj: dict[str, Any], count: int = count) -> dict[str, Any]:
            obj.setdefault("spec", {})["replicas"] = count
            return obj
        with contextlib.suppress(ApiError):
            if store.get(kinds.DEPLOYMENT, NAMESPACE, name).get("spec", {}).get("replicas") != count:
                store.patch(kinds.DEPLOYMENT, NAMESPACE, name, scale, identity=ADMIN)


SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "default")
"""What kube-apiserver's system namespaces controller keeps in every cluster
(pkg/controlplane/controller/systemnamespaces/system_namespaces_controller.go, ``Controller.sync``:
metav1.NamespaceSystem, NamespacePublic, NamespaceNodeLease and NamespaceDefault)."""

APISERVER = Identity("system:apiserver", ("system:authenticated", "system:masters"))
"""kube-apiserver's own loopback user (pkg/controlplane/apiserver: ``user.APIServerUser``), which creates them."""


def system_namespaces(store: Store, cluster: str) -> None:
    """Create the namespaces every cluster has, unless there (a fresh or a restarted sandbox alike).

    ``kube-system``'s uid is the sandbox's cluster id (:func:`cluster_id`): tools, gloo_nb among them
    (:meth:`gloo_nb.app.gateway.Gateway.cluster_identity`), read a cluster's identity as that UID, and a rollout
    journal is bound to it; a restart from the same state dir makes it with the same uid. A ``kube-system`` a
    user made on an older sandbox keeps its own uid (an object's uid never changes).

    Args:
        store: The store.
        cluster: The sandbox's cluster id.
    """
    for name in SYSTEM_NAMESPACES:
        if store.find(kinds.NAMESPACE, None, name) is None:
            with contextlib.suppress(ApiError):  # created meanwhile (409): as the controller, keep what is there
                store.create(kinds.NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                             identity=APISERVER, uid=cluster if name == "kube-system" else None)


def install_validation(store: Store, profile: Profile) -> None:
    """With validation on, what Gloo's certgen Job leaves: the webhook's Secret and ValidatingWebhookConfiguration.

    On as the Settings say at start (:func:`gloo_nb.sandbox.install.validation_enabled`): a default Helm install
    enables the webhook (``gateway.validation.enabled: true``, always accepting), so a fresh sandbox holds the
    configuration unless ``--validation off``, which removes it (Helm's ``validation.enabled=false``).

    Args:
        store: The store (the Settings as :func:`seed` and :func:`set_validation` left them).
        profile: The Gloo profile.
    """
    service = webhook_service(profile)  # 1.3's gateway Service, rendered only with validation enabled
    if not validation_enabled(store, profile):
        with contextlib.suppress(ApiError):
            store.delete(kinds.VALIDATING_WEBHOOK_CONFIGURATION, None, WEBHOOK_CONFIGURATION, identity=ADMIN)
        if service is not None:
            with contextlib.suppress(ApiError):
                store.delete(kinds.SERVICE, NAMESPACE, service["metadata"]["name"], identity=ADMIN)
        return
    try:
        store.get(kinds.VALIDATING_WEBHOOK_CONFIGURATION, None, WEBHOOK_CONFIGURATION)
    except ApiError:
        create_missing(store, validation_objects(profile))
    if service is not None:
        create_missing(store, [(kinds.SERVICE, service)])  # a state dir from before the sandbox had it


def publish_gloo_pod(store: Store, profile: Profile, cluster: str, ports: dict[int, int], *, ready: bool,
                     name: str | None = None) -> dict[str, Any] | None:
    """Create or update the ``gloo`` Deployment's pod, which stands for the daemon's control plane.

    Args:
        store: The store (the ``gloo`` Deployment exists: :func:`seed`).
        profile: The Gloo profile.
        cluster: The sandbox's cluster id (the pod's stable name).
        ports: Container port -> the daemon's loopback port of the server behind it (9977: the xDS server; 9988:
            Gloo's gRPC validation service; in ``current`` 8443: the validation webhook).
        ready: Whether the control plane serves.
        name: The pod's name, chosen by the caller (:class:`gloo_nb.sandbox.daemon_pods.DaemonPod`, which also
            deletes the pods it replaces); None: :func:`gloo_nb.sandbox.install.gloo_pod_name`, and other gloo
            pods of the daemon go.

    Returns:
        The manifest published, or None when the Deployment is gone.
    """
    found = stored_template_hash(store, "gloo")
    if found is None:
        return None
    pod_hash, template = found
    chosen = name is not None
    name = name or gloo_pod_name(pod_hash, cluster)
    manifest = gloo_pod(profile, name, pod_hash, template, ports, ready=ready)
    # A pod of an earlier template (a restarted sandbox after a change of the Deployment) goes.
    for pod in [] if chosen else store.list(kinds.POD, NAMESPACE, label_selector="gloo=gloo")[0]:
        meta = pod["metadata"]
        if meta["name"] != name and (meta.get("annotations") or {}).get(MANAGED_BY) == CONTROLPLANE_MANAGER:
            with contextlib.suppress(ApiError):
                store.delete(kinds.POD, NAMESPACE, meta["name"], identity=KUBELET)
    _put_pod(store, manifest)
    return manifest


def publish_gateway_pod(store: Store, profile: Profile, cluster: str, webhook_port: int) -> None:
    """Create or update Gloo 1.3's ``gateway`` pod, which stands for the daemon's gateway translator and webhook.

    Daemon-managed as the ``gloo`` pod (its ReplicaSet adopts it, never creates nor deletes one; a deleted one is
    published again); its container port 8443 maps to the webhook's HTTPS server. Nothing in ``current``.

    Args:
        store: The store (the ``gateway`` Deployment exists: :func:`seed`).
        profile: The Gloo profile.
        cluster: The sandbox's cluster id (the pod's stable name).
        webhook_port: The validation webhook's HTTPS port; 0 when it does not serve.
    """
    if profile != "1.3":
        return
    found = stored_template_hash(store, "gateway")
    if found is None:
        return
    pod_hash, template = found
    name = gateway_pod_name(pod_hash, cluster)
    # Ready: the daemon translates; with validation on (the readiness probe on 8443) only while the webhook serves.
    probe = any(c.get("readinessProbe") for c in (template.get("spec") or {}).get("containers") or [])
    ports = {WEBHOOK_PORT: webhook_port} if webhook_port else {}
    manifest = gloo_pod(profile, name, pod_hash, template, ports, ready=bool(webhook_port) or not probe)
    for pod in store.list(kinds.POD, NAMESPACE, label_selector="gloo=gateway")[0]:
        meta = pod["metadata"]
        if meta["name"] != name and (meta.get("annotations") or {}).get(MANAGED_BY) == CONTROLPLANE_MANAGER:
            with contextlib.suppress(ApiError):
                store.delete(kinds.POD, NAMESPACE, meta["name"], identity=KUBELET)
    _put_pod(store, manifest)


def _put_pod(store: Store, manifest: dict[str, Any]) -> None:
    name = manifest["metadata"]["name"]
    try:
        store.get(kinds.POD, NAMESPACE, name)
    except ApiError:
        status = manifest.pop("status")
        store.create(kinds.POD, manifest, identity=KUBELET)
        manifest["status"] = status

    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["annotations"] = manifest["metadata"]["annotations"]
        obj["metadata"]["labels"] = manifest["metadata"]["labels"]
        obj["status"] = manifest["status"]
        return obj
    store.patch(kinds.POD, NAMESPACE, name, mutate, identity=KUBELET)
    store.patch(kinds.POD, NAMESPACE, name, mutate, identity=KUBELET, subresource="status")


def set_validation(store: Store, mode: str, profile: Profile) -> None:
    """Set ``spec.gateway.validation`` of Settings ``gloo-system/default`` to a ``--validation`` mode.

    Args:
        store: The store (the Settings exist: :func:`seed` made them).
        mode: ``accept``, ``errors``, ``strict`` or ``off`` (:func:`gloo_nb.models.defaults.validation_block`).
        profile: The Gloo profile.
    """
    block = validation_block(mode, profile=profile)

    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        gateway = obj.setdefault("spec", {}).setdefault("gateway", {})
        if block is None:
            gateway.pop("validation", None)
        else:
            gateway["validation"] = block
        return obj

    store.patch(kinds.SETTINGS, NAMESPACE, "default", mutate, identity=ADMIN)


def publish_proxy_pods(store: Store, replicas: list[Replica], ready: bool, proxy: str = PROXY) -> None:
    """Create or update a proxy's pods and drop pods of replicas that no longer exist.

    Args:
        store: The store.
        replicas: The proxy's Envoy replicas.
        ready: Whether the replicas are connected.
        proxy: The proxy (``gateway-proxy``).
    """
    wanted = {f"{proxy}-{r.index}": r for r in replicas}
    items, _ = store.list(kinds.POD, NAMESPACE, label_selector="gateway-proxy-id=" + proxy)
    for pod in items:
        name = pod["metadata"]["name"]
        if name not in wanted and pod["metadata"].get("annotations", {}).get(MANAGED_BY):
            store.delete(kinds.POD, NAMESPACE, name, identity=KUBELET)
    # The proxy's Deployment (a Gloo install's: gloo_nb.sandbox.install), when the store holds one: its pods carry
    # its template's hash, annotations and image, so that its ReplicaSet adopts and counts them.
    found = stored_template_hash(store, proxy)
    pod_hash, template = found if found is not None else (None, None)
    for replica in wanted.values():
        _put_pod(store, proxy_pod(replica, ready=ready, proxy=proxy, pod_hash=pod_hash, template=template))


def _drop_other_proxy_pods(store: Store, proxies: set[str]) -> None:
    # A restart with fewer --proxy than before: the pods of replicas of proxies that no longer run go.
    items, _ = store.list(kinds.POD, NAMESPACE)
    for pod in items:
        meta = pod["metadata"]
        if (meta.get("annotations") or {}).get(MANAGED_BY) == ENVOY_MANAGER \
                and (meta.get("labels") or {}).get("gateway-proxy-id") not in proxies:
            with contextlib.suppress(ApiError):
                store.delete(kinds.POD, NAMESPACE, meta["name"], identity=KUBELET)


def _drop_other_proxy_workloads(store: Store, proxies: set[str]) -> None:
    # A restart with fewer --proxy than before: the Deployments (their ReplicaSets go with them: the garbage
    # collector) and bootstrap ConfigMaps of proxies that no longer run go, as a Helm upgrade without that
    # gatewayProxies entry deletes them. Their Gateways and Services stay, as they always did.
    for kind in (kinds.DEPLOYMENT, kinds.CONFIGMAP):
        for obj in store.list(kind, NAMESPACE, label_selector="gloo=gateway-proxy")[0]:
            meta = obj["metadata"]
            if (meta.get("labels") or {}).get("gateway-proxy-id") not in proxies and \
                    (kind is kinds.CONFIGMAP or is_daemon_managed(obj)):
                with contextlib.suppress(ApiError):
                    store.delete(kind, NAMESPACE, meta["name"], identity=ADMIN)


# --- the front door ----------------------------------------------------------------------------


class FrontDoor:
    """The ``gateway-proxy`` Service's load balancer: spreads TCP connections over the replicas.

    Args:
        backends: ``() -> [loopback port]`` of the replicas, asked on each connection.
    """

    def __init__(self, backends: Any) -> None:
        self._backends = backends
        self._rr = itertools.count()
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener."""
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 1)
            except Exception as exc:  # noqa: BLE001 - a client still connected must not stop the shutdown
                log.debug("the port-forward listener did not close cleanly: %r", exc)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ports = list(self._backends())
        upstream = None
        start = next(self._rr)
        # Like a Service's kube-proxy: try the next backend when one refuses (a replica restarting).
        for i in range(len(ports)):
            port = ports[(start + i) % len(ports)]
            try:
                upstream = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                continue
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    if dst.can_write_eof():
                        dst.write_eof()
                except Exception as exc:  # noqa: BLE001 - the other side may be gone already
                    log.debug("half-close of a forwarded connection failed: %r", exc)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        for w in (writer, up_writer):
            w.close()


# --- the process -------------------------------------------------------------------------------


class Sandbox:
    """Every piece of a running sandbox, in one process.

    Args:
        state_dir: Where objects, logs, the kubeconfig and ``endpoints.json`` live.
        profile: The Gloo profile.
        replicas: How many Envoy replicas (of ``gateway-proxy``, when ``proxies`` is not given).
        proxies: ``(proxy name, replicas)`` of every gateway proxy to run (``--proxy NAME[:REPLICAS]``);
            the default proxy is ``gateway-proxy`` when listed, else the first.
        audit_level: The audit level of writes (``--audit-level``; see :mod:`gloo_nb.sandbox.audit`).
        validation: ``--validation``: set ``Settings.spec.gateway.validation`` at start to this mode
            (:func:`gloo_nb.models.defaults.validation_block`); None keeps what the Settings say (a fresh
            install: Helm's default, ``accept``).
    """

    def __init__(self, state_dir: Path, profile: Profile, replicas: int, *, exit_with: int | None = None,
                 proxies: Sequence[tuple[str, int]] | None = None, audit_level: str = DEFAULT_AUDIT_LEVEL,
                 validation: str | None = None) -> None:
        self.state_dir = state_dir
        self.validation = validation
        self.exit_with = exit_with
        self.profile = profile
        self.proxies = list(proxies) if proxies else [(PROXY, replicas)]
        self.default_proxy = PROXY if any(n == PROXY for n, _ in self.proxies) else self.proxies[0][0]
        self.replicas = sum(n for _, n in self.proxies)
        self.store = Store(state_dir, audit_level=audit_level)
        max_pods = os.environ.get("GLOO_NB_SANDBOX_MAX_PODS", "").strip()
        if max_pods:
            # the per-namespace pod cap (store.POD_QUOTA by default); the seeded proxy pods count too
            if max_pods.isdigit():
                # + the gloo pod (and 1.3's gateway pod)
                self.store.pod_quota = max(int(max_pods), self.replicas + (2 if profile == "1.3" else 1))
            else:
                log.warning("GLOO_NB_SANDBOX_MAX_PODS=%r is not a whole number; keeping %s pods per namespace",
                            max_pods, self.store.pod_quota)
        # A restarted sandbox takes its earlier API and xDS ports back when they are free, so
        # kubeconfigs, connections and xDS streams opened before the restart keep working.
        self._ports_file = state_dir / "ports.json"
        earlier = _read_json(self._ports_file)
        # Made at first start and kept: a kubeconfig written before a restart stays valid.
        self.credentials = Credentials.load_or_create(state_dir / "pki")
        self.api = KubeApiServer(self.store, self.credentials, port=_free_or_any(earlier.get("kubeApi")))
        self.ads = AdsServer(port=_free_or_any(earlier.get("xds")))
        self.fleet: EnvoyFleet | None = None
        """The default proxy's replicas (every proxy's are in :attr:`fleets`)."""
        self.fleets: dict[str, EnvoyFleet] = {}
        self.kubelet = Kubelet(self.store, state_dir)
        self.service_accounts = ServiceAccounts(self.store)
        self.api_services = APIServices(self.store)
        # Gloo's validating admission webhook (gloo_nb.sandbox.gloo_webhook): on as the Settings say.
        self.gloo_webhook = GlooWebhook(self.store, profile, namespace=NAMESPACE)
        # ... and its HTTPS endpoint, on its real port through the gloo (current) or gateway (1.3) pod's 8443.
        self.webhook_server = WebhookServer(self.store, self.gloo_webhook, state_dir / "webhook-certs")
        # Gloo's gRPC validation service, the gloo pod's 9988 (gloo_nb.sandbox.gloo_validation_grpc).
        self.validation_grpc = GlooValidationServer(self.store, profile)
        self.controlplane = ControlPlane(self.store, self.ads, profile, proxy=self.default_proxy,
                                         serve=[n for n, _ in self.proxies])
        # One front door per proxy, as each proxy has its own Service.
        self.fronts = {name: FrontDoor(lambda name=name: self._gateway_ports(name)) for name, _ in self.proxies}
        self.front = self.fronts[self.default_proxy]
        self._stop = asyncio.Event()
        self._xds_port = 0
        self._republish = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._republish_task: asyncio.Task[None] | None = None
        self.gloo: DaemonPod | None = None
        """The gloo Deployment's pod and its control plane's lifecycle (started in :meth:`_start`)."""
        self._unsubscribe_gloo: Callable[[], None] | None = None
        self._refusing: socket.socket | None = None

    def _on_store_event(self, event: WatchEvent) -> None:
        # Runs under the store lock: only note it. A deleted pod of a replica's (or 1.3's gateway pod) is published
        # again, as a ReplicaSet would make a new pod for it; the ReplicaSet itself makes none. The gloo pod is the
        # DaemonPod's (self.gloo, which follows its own events).
        meta = event.object.get("metadata") or {}
        manager = (meta.get("annotations") or {}).get(MANAGED_BY)
        if event.kind is kinds.POD and event.type == "DELETED" and meta.get("namespace") == NAMESPACE \
                and (manager == ENVOY_MANAGER
                     or (manager == CONTROLPLANE_MANAGER and (meta.get("labels") or {}).get("gloo") == "gateway")):
            if self._loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop is closed: the sandbox is stopping
                    self._loop.call_soon_threadsafe(self._republish.set)

    async def _republisher_task(self) -> None:
        while not self._stop.is_set():
            await self._republish.wait()
            self._republish.clear()
            await asyncio.sleep(0.05)  # one publication for a burst of deletions (kubectl delete pod --all)
            try:
                await asyncio.to_thread(self._publish_pods)
            except Exception:  # noqa: BLE001 - the next deletion tries again; the sandbox keeps serving
                log.exception("publishing the daemon's pods again failed")

    def _publish_pods(self) -> None:
        for name, fleet in list(self.fleets.items()):
            publish_proxy_pods(self.store, fleet.replicas, True, name)
        publish_gateway_pod(self.store, self.profile, cluster_id(self.state_dir), self.webhook_server.port)

    # --- the gloo pod: the control plane's lifecycle (gloo_nb.sandbox.daemon_pods) ---------------------------------

    def _gloo_ports(self) -> dict[int, int]:
        """The gloo pod's container ports -> the daemon's loopback ports.

        9977: the xDS server; 9988: Gloo's gRPC validation service; in ``current`` 8443: the validation webhook's
        HTTPS server when it serves (main's gloo serves it; 1.3's ``gateway`` pod does in ``1.3``).
        """
        ports = {9977: self._xds_port, VALIDATION_PORT: self.validation_grpc.port}
        if self.profile != "1.3" and self.webhook_server.port:
            ports[WEBHOOK_PORT] = self.webhook_server.port
        return {k: v for k, v in ports.items() if v}

    def _gloo_probe_port(self, port: int) -> int:
        # A container port with no server behind it in the sandbox (9988, 9979...): a socket bound and never listening,
        # so a probe there is refused as on a pod where nothing listens (the kubelet's pods get the same).
        found = self._gloo_ports().get(port)
        if found is not None:
            return found
        if self._refusing is None:
            self._refusing = socket.socket()
            self._refusing.bind(("127.0.0.1", 0))
        return int(self._refusing.getsockname()[1])

    def _gloo_name_for(self, pod_hash: str, made: int) -> str:
        # The first pod keeps the name it always had (stable for the sandbox's life); each later one gets a new
        # random suffix, as a ReplicaSet names each pod it makes (generateName), never one of an earlier life.
        cluster = cluster_id(self.state_dir)
        return gloo_pod_name(pod_hash, cluster if made == 0 else f"{cluster}/{made}/{uuid.uuid4()}")

    def _publish_gloo(self, name: str, pod_hash: str, template: dict[str, Any]) -> dict[str, Any]:
        del pod_hash, template  # publish_gloo_pod reads the stored Deployment itself
        manifest = publish_gloo_pod(self.store, self.profile, cluster_id(self.state_dir), self._gloo_ports(),
                                    ready=False, name=name)
        return manifest or {}

    def _wait_gloo_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            name = self.gloo.pod if self.gloo is not None else None
            pod = self.store.find(kinds.POD, NAMESPACE, name) if name else None
            if pod is not None and is_ready(pod):
                return True
            time.sleep(0.05)
        return False

    def _start_control_plane(self) -> None:
        # A new process of Gloo's: the ADS server on the same port (Envoys reconnect by themselves; endpoints.json
        # and port-forwards stay valid), then a new control plane with a fresh memory (no last-known-good) that
        # translates what the store holds now and writes its statuses.
        self.ads.start()
        self.validation_grpc.start()
        plane = ControlPlane(self.store, self.ads, self.profile, proxy=self.default_proxy,
                             serve=[n for n, _ in self.proxies], restarted=True)
        plane.start()
        self.controlplane = plane
        log.info("control plane started (the gloo pod %s)", self.gloo.pod if self.gloo else None)

    def _stop_control_plane(self) -> None:
        # The gloo container is killed: no more translation, status writes or xDS; the Envoys keep their last
        # configuration and retry the xDS connection (Envoy's own backoff), as with a real Gloo gone.
        self.controlplane.stop()
        self.ads.stop()
        self.validation_grpc.stop()
        log.info("control plane stopped (its gloo pod was killed)")

    def _gateway_ports(self, proxy: str | None = None) -> list[int]:
        fleet = self.fleets.get(proxy or self.default_proxy)
        return [r.port_for(GATEWAY_PORT) for r in fleet.replicas] if fleet else []

    def _replicas(self) -> list[Replica]:
        return [r for fleet in list(self.fleets.values()) for r in fleet.replicas]

    def _republisher(self, proxy: str, fleet: EnvoyFleet) -> Callable[[Replica], None]:
        # After a replica restarts, its pod says so (restartCount), as the kubelet would.
        return lambda _replica: publish_proxy_pods(self.store, fleet.replicas, True, proxy)

    def _replica_dir(self, node_id: str) -> Path | None:
        # Each replica's files (its access logs) live in its own directory, as each pod has its own file system.
        return replica_dir(self.state_dir, node_id) if any(r.node_id == node_id for r in self._replicas()) else None

    def _port_for(self, node_id: str, bind_port: int) -> int | None:
        for r in self._replicas():
            if r.node_id == node_id:
                return r.port_for(bind_port)
        return None

    async def run(self) -> None:
        """Start everything, write ``endpoints.json``, serve until SIGTERM/SIGINT, stop everything."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        try:
            await self._start()
            if self.exit_with:
                asyncio.create_task(self._watch_owner(self.exit_with))
            await self._stop.wait()
        finally:
            await self._shutdown()

    async def _watch_owner(self, pid: int) -> None:
        # A sandbox started for a test run or a notebook kernel stops when that process is gone,
        # even if it was killed before it could stop the sandbox itself.
        while not self._stop.is_set():
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                log.info("owner process %d is gone: stopping", pid)
                self._stop.set()
                return
            except PermissionError:
                pass
            await asyncio.sleep(1.0)

    def _log_file(self, namespace: str, name: str, container: str | None, previous: bool) -> Path | None:
        """``kubectl logs``: a pod container's log file (an Envoy replica's log for ``gateway-proxy-<i>``)."""
        path = self.kubelet.log_path(namespace, name, container, previous=previous)
        if path is None and namespace == NAMESPACE and not previous:
            path = next((r.log_path for proxy, fleet in self.fleets.items() for r in fleet.replicas
                         if f"{proxy}-{r.index}" == name), None)
        if path is None and namespace == NAMESPACE and not previous and name == self._gloo_pod_name():
            # The gloo pod stands for this process's control plane: its log is the sandbox's own.
            path = self.state_dir / "sandbox.log"
        return path

    def _gloo_pod_name(self) -> str | None:
        if self.gloo is not None:
            return self.gloo.pod
        found = stored_template_hash(self.store, "gloo")
        return gloo_pod_name(found[0], cluster_id(self.state_dir)) if found else None

    def _log_writing(self, namespace: str, name: str, container: str | None, path: Path) -> bool:
        if self.kubelet.log_writing(namespace, name, container, path):
            return True
        if path == self.state_dir / "sandbox.log":
            return not self._stop.is_set()
        # An Envoy replica's log is written while its pod exists (a restarted replica appends to the same file).
        return namespace == NAMESPACE and path in {r.log_path for f in self.fleets.values() for r in f.replicas} \
            and any(f"{proxy}-{r.index}" == name for proxy, f in self.fleets.items() for r in f.replicas)

    def _pod_processes(self) -> dict[tuple[str, str, str], int]:
        """The running containers' processes for the metrics API: the kubelet's, and each Envoy replica's."""
        found = dict(self.kubelet.processes())
        for proxy, fleet in list(self.fleets.items()):
            for r in fleet.replicas:
                if r.pid is not None:
                    found[(NAMESPACE, f"{proxy}-{r.index}", proxy)] = r.pid
        return found

    def _exec_target(self, pod: dict[str, Any], container: str) -> ExecTarget | None:
        """Where ``kubectl exec`` runs: a kubelet pod's container, an Envoy replica's pod, the gloo pod (own ports)."""
        meta, spec = pod["metadata"], pod.get("spec") or {}
        annotations = meta.get("annotations") or {}
        if annotations.get(MANAGED_BY) == CONTROLPLANE_MANAGER:
            target = self._gloo_exec_target(pod, container)
        elif annotations.get(MANAGED_BY) == "sandbox-envoy":
            running = any(s.get("name") == container and "running" in (s.get("state") or {})
                          for s in (pod.get("status") or {}).get("containerStatuses") or [])
            try:
                ports = {int(k): int(v) for k, v in json.loads(annotations.get(PORTS_ANNOTATION) or "{}").items()}
            except (ValueError, TypeError, AttributeError):
                ports = {}
            target = ExecTarget(pod=meta["name"], namespace=meta["namespace"], container=container,
                                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOSTNAME": meta["name"]},
                                ports=ports) if running else None
        else:
            target = self.kubelet.exec_target(meta["namespace"], meta["name"], container)
        if target is not None:
            cspec: dict[str, Any] = next((c for c in spec.get("containers") or [] if c.get("name") == container), {})
            target.workdir = str(cspec.get("workingDir") or "/")
            target.pod_ip = str((pod.get("status") or {}).get("podIP") or "127.0.0.1")
            target.image = target.image or str(cspec.get("image") or "")  # which root listing and files it has
            target.host_aliases = [(str(a.get("ip", "")), [str(h) for h in a.get("hostnames") or []])
                                   for a in spec.get("hostAliases") or [] if isinstance(a, dict)]
            target.hostname = str(spec.get("hostname") or "")
            target.subdomain = str(spec.get("subdomain") or "")
        return target

    def _gloo_exec_target(self, pod: dict[str, Any], container: str) -> ExecTarget | None:
        """The gloo pod's container, as Gloo's image has it: a shell and busybox-like tools, its volumes, its ports.

        Gloo's control-plane image has a shell at both profiles (projects/gloo/cmd/Dockerfile: ``FROM alpine:3.11.3``
        at v1.3.20, busybox's ``sh``, ``wget`` and ``nc``; at main ``FROM $ENVOY_IMAGE``, solo-io/envoy-gloo, with
        ``apt-get install wget``; only the ``-distroless`` variant, not Helm's default, has none), so ``kubectl exec
        deploy/gloo -- sh`` runs the sandbox's exec shell (:mod:`gloo_nb.sandbox.pod_exec`). ``localhost:9977``
        reaches the real xDS server through the pod's ports; its volumes are mounted as the kubelet would (Secrets,
        ConfigMaps; the chart's downwardAPI ``labels-volume`` at ``/etc/gloo``: ``/etc/gloo/labels``).
        """
        meta, spec = pod["metadata"], pod.get("spec") or {}
        if self.gloo is None or meta["name"] != self.gloo.pod or not self.gloo.running or not any(
                s.get("name") == container and "running" in (s.get("state") or {})
                for s in (pod.get("status") or {}).get("containerStatuses") or []):
            return None  # no process there now: the API's "container not found"
        cspec: dict[str, Any] = next((c for c in spec.get("containers") or [] if c.get("name") == container), {})
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME": meta["name"]}
        for var in cspec.get("env") or []:
            field = ((var.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
            value = meta.get("namespace", "") if field == "metadata.namespace" else \
                meta.get("name", "") if field == "metadata.name" else var.get("value")
            if value is not None:
                env[str(var.get("name"))] = str(value)
        root = state_path(self.state_dir, "daemon-pods", meta["namespace"], meta["name"], "volumes")
        try:
            result = mount_volumes(self.store, pod, root, set())
            write_downward_api(pod, root)
            mounts = container_mounts(cspec, pod, root)
        except (OSError, GlooNbError) as exc:
            log.warning("exec into %s: its volumes cannot be set up: %s", meta["name"], exc)
            mounts = []
        else:
            if result.errors:
                log.warning("exec into %s: %s", meta["name"], "; ".join(result.errors))
        started = next((s.get("state", {}).get("running", {}).get("startedAt") for s in
                        (pod.get("status") or {}).get("containerStatuses") or [] if s.get("name") == container), None)
        target = ExecTarget(pod=meta["name"], namespace=meta["namespace"], container=container, env=env,
                            mounts=mounts, ports={int(k): v for k, v in pod_ports(pod).items()})
        with contextlib.suppress(TypeError, ValueError):
            target.started = datetime.datetime.fromisoformat(str(started).replace("Z", "+00:00")).timestamp()
        return target

    async def _start(self) -> None:
        self.api.register_subresource(kinds.POD, "log", LogHandler(self.store, self._log_file, self._log_writing))
        self.api.register_subresource(kinds.POD, "exec", ExecHandler(self.store, self._exec_target))
        self.api.register_subresource(kinds.POD, "portforward", PortForwardHandler(self.store))
        # kubectl top: the resource metrics API, measured from the pods' processes on request.
        self.api.register_group_version(metrics.GROUP, metrics.VERSION,
                                        metrics.MetricsApi(self.store, self._pod_processes))
        await self.api.start()
        # The serviceaccounts controller and admission plugin before anything is created, so that the seeded
        # namespaces get their default ServiceAccount and every pod is admitted; then the one Node.
        self.service_accounts.attach()
        self.gloo_webhook.attach()
        register_node(self.store, self.state_dir)
        # Issue 20: the namespaces every cluster has, kube-system's uid being the cluster id.
        system_namespaces(self.store, cluster_id(self.state_dir))
        # Issue 20: with the install's Deployments, ServiceAccounts and ConfigMaps (gloo_nb.sandbox.install).
        seed(self.store, self.profile, [n for n, _ in self.proxies], workloads=self.proxies,
             validation=self.validation != "off")
        # kube-aggregator's autoregister: the local APIServices of every served group-version, once seeded.
        self.api_services.attach()
        if self.validation is not None:
            set_validation(self.store, self.validation, self.profile)
        install_validation(self.store, self.profile)
        # Gloo's webhook on its real port, with the certgen Secret's certificate: Gloo runs no webhook server without a
        # validation block in its Settings (setup_syncer.go), even if the Secret of an earlier install is left.
        if validation_enabled(self.store, self.profile):
            await self.webhook_server.start()
        xds = self.ads.start()
        self._ports_file.write_text(json.dumps({"kubeApi": self.api.port, "xds": int(xds.rsplit(":", 1)[1])}) + "\n")
        self.ads.set_node_transform(rewrite_listener_ports(
            self._port_for, lambda node: any(r.node_id == node for r in self._replicas()),
            sandbox_id=cluster_id(self.state_dir)[:8], dir_for=self._replica_dir))
        self.controlplane.start()
        self.validation_grpc.start()
        self._xds_port = int(xds.rsplit(":", 1)[1])
        # The gloo Deployment's pod (9977 is the real xDS server): Ready by its readinessProbe; its Deployment's
        # replicas start and stop the control plane (gloo_nb.sandbox.daemon_pods).
        self.gloo = DaemonPod(self.store, "gloo", namespace=NAMESPACE, publish=self._publish_gloo,
                              name_for=self._gloo_name_for, host_port=self._gloo_probe_port,
                              start=self._start_control_plane, stop=self._stop_control_plane)
        self._unsubscribe_gloo = self.store.subscribe(self.gloo.notify)
        self.gloo.attach(running=True)
        publish_gateway_pod(self.store, self.profile, cluster_id(self.state_dir), self.webhook_server.port)
        # Each proxy's replicas: node ids <proxy>-<i>.gloo-system, role gloo-system~<proxy>.
        for name, count in self.proxies:
            fleet = EnvoyFleet(xds, self.state_dir, count, namespace=NAMESPACE, proxy=name)
            for r in fleet.replicas:
                r.port_for(GATEWAY_PORT)
            self.fleets[name] = fleet
        self.fleet = self.fleets[self.default_proxy]
        self.kubelet.start()
        for name, fleet in self.fleets.items():
            fleet.start()
            fleet.add_restart_listener(self._republisher(name, fleet))
        for front in self.fronts.values():
            await front.start()
        ids = {r.node_id for r in self._replicas()}
        # A control plane scaled to 0 before this start (kept in the store) serves nobody: no wait for the Envoys.
        ok = not self.gloo.running or await asyncio.to_thread(self.ads.wait_for, lambda nodes: all(
            n in nodes and nodes[n].connected and nodes[n].acked(TYPE_CLUSTER) and nodes[n].acked(TYPE_LISTENER)
            for n in ids), 20.0)
        if not ok:
            raise RuntimeError("the Envoy replicas did not connect to the control plane within 20 s; "
                               f"see {self.state_dir}/envoy-*.log")
        for name, fleet in self.fleets.items():
            publish_proxy_pods(self.store, fleet.replicas, True, name)
        # A started sandbox serves: its gloo pod is Ready too (its readinessProbe's first success, ~1 s after start).
        if self.gloo.running and not await asyncio.to_thread(self._wait_gloo_ready, 15.0):
            log.warning("the gloo pod %s is not Ready yet (its readinessProbe fails; kubectl describe says why)",
                        self.gloo.pod)
        _drop_other_proxy_pods(self.store, set(self.fleets))
        _drop_other_proxy_workloads(self.store, set(self.fleets))
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self.store.subscribe(self._on_store_event)
        self._republish_task = asyncio.create_task(self._republisher_task())
        kubeconfig = self.state_dir / "kubeconfig"
        write_kubeconfig(kubeconfig, self.api.url, self.credentials)
        info = {
            "glooVersion": self.profile,
            "kubeconfig": str(kubeconfig),
            "kubeApi": self.api.url,
            "xds": xds,
            "gateway": f"http://127.0.0.1:{self.front.port}",
            "gateways": [f"http://127.0.0.1:{p}" for p in self._gateway_ports()],
            "envoyAdmin": [f"http://127.0.0.1:{r.admin_port}" for r in self.fleet.replicas],
            "proxies": {name: {"gateway": f"http://127.0.0.1:{self.fronts[name].port}",
                               "gateways": [f"http://127.0.0.1:{p}" for p in self._gateway_ports(name)],
                               "envoyAdmin": [f"http://127.0.0.1:{r.admin_port}" for r in fleet.replicas]}
                        for name, fleet in self.fleets.items()},
            "pid": os.getpid(),
            "clusterId": cluster_id(self.state_dir),
        }
        tmp = self.state_dir / "endpoints.json.tmp"
        tmp.write_text(json.dumps(info, indent=2) + "\n")
        tmp.replace(self.state_dir / "endpoints.json")
        log.info("sandbox serving: %s", json.dumps(info))

    async def _shutdown(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._unsubscribe_gloo is not None:
            self._unsubscribe_gloo()
            self._unsubscribe_gloo = None
        if self.gloo is not None:
            await asyncio.to_thread(self.gloo.close)
        if self._refusing is not None:
            self._refusing.close()
        steps = [self.kubelet.stop, *(f.stop for f in self.fleets.values()), self.controlplane.stop, self.ads.stop,
                 self.validation_grpc.stop, self.api_services.detach]
        for step in steps:
            if step is None:
                continue
            try:
                await asyncio.to_thread(step)
            except Exception:  # noqa: BLE001 - stop the rest whatever one piece does
                log.exception("stopping %s failed", step)
        for front in self.fronts.values():
            await front.stop()
        await self.webhook_server.stop()
        await self.api.stop()
        self.store.close()
        endpoints = self.state_dir / "endpoints.json"
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(endpoints.read_text())
            if info.get("pid") == os.getpid():
                info["pid"] = None
                endpoints.write_text(json.dumps(info, indent=2) + "\n")


def cluster_id(state_dir: Path) -> str:
    """The sandbox's own cluster id: made at first start, kept in ``DIR/cluster-id`` for its life.

    It stands for a real cluster's ``kube-system`` namespace UID: what tells two clusters apart
    (a rollout journal is evidence only for the cluster it was written on). A restart from the same
    state dir is the same cluster; a new state dir, or one wiped, is another.

    Args:
        state_dir: The sandbox's state directory.

    Returns:
        The id (a UUID).
    """
    path = state_dir / "cluster-id"
    try:
        found = path.read_text(encoding="utf-8").strip()
    except OSError:
        found = ""
    if found:
        return found
    made = str(uuid.uuid4())
    tmp = path.with_name("cluster-id.tmp")
    tmp.write_text(made + "\n", encoding="utf-8")
    tmp.replace(path)
    return made


def _free_or_any(port: Any) -> int:
    """``port`` when it is a port number nobody listens on now, else 0 (any free port)."""
    if not isinstance(port, int) or not 0 < port < 65536:
        return 0
    with socket.socket() as probe:
        # As the servers bind: SO_REUSEADDR, so connections in TIME_WAIT from before do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return {}


def main(argv: list[str] | None = None) -> int:
    """Run a sandbox in the foreground (``gloo-nb sandbox start`` runs this in the background).

    Args:
        argv: Arguments (``--state-dir``, ``--gloo-version``, ``--replicas``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m gloo_nb.sandbox.daemon")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--gloo-version", default="current")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--proxy", action="append", default=None, metavar="NAME[:REPLICAS]")
    parser.add_argument("--exit-with", type=int, default=None, metavar="PID",
                        help="stop when this process is gone (a test run or a notebook kernel)")
    parser.add_argument("--audit-level", choices=AUDIT_LEVELS, default=DEFAULT_AUDIT_LEVEL)
    parser.add_argument("--validation", choices=VALIDATION_MODES, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Everything this process and its children (Envoy, pods) create is private to the user: the state dir
    # holds the admin kubeconfig, Secrets and logs.
    os.umask(PRIVATE_UMASK)
    private_dir(args.state_dir)
    try:
        profile = check_profile(args.gloo_version, source="--gloo-version")
        proxies = parse_proxy_specs(args.proxy, default_replicas=args.replicas)
        sandbox = Sandbox(args.state_dir.resolve(), profile, args.replicas, exit_with=args.exit_with,
                          proxies=proxies, audit_level=args.audit_level, validation=args.validation)
    except GlooNbError as exc:  # e.g. an object log it cannot read: one line, which the parent prints
        log.error("sandbox failed: %s", exc)
        return 1
    try:
        asyncio.run(sandbox.run())
    except Exception as exc:  # noqa: BLE001 - the parent prints the log's last line
        log.exception("sandbox failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
