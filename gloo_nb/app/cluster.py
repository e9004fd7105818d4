"""Connecting to a gateway on a Kubernetes cluster: the running Gloo's profile, the replicas, the port-forwards.

:func:`connect` finds the parts of one gateway through the Kubernetes API (the gloo Deployment's image for the
profile, the proxy's pods for the replicas) and, when no address is given, reaches the Envoy admin APIs and the
control plane's xDS port through port-forwards. It builds a :class:`gloo_nb.app.gateway.GatewayConnection`, which
does the reading; kept apart from it because this is the only part that knows a cluster's layout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gloo_nb._types import Profile, check_profile
from gloo_nb.app.gateway import DEFAULT_ROLE, GatewayConnection, GatewayUnreachable, Replica
from gloo_nb.kube import KubeClient, KubeError, pod_ready
from gloo_nb.kube.portforward import PortForward

__all__ = ["ADMIN_PORT", "GATEWAY_PORT", "XDS_PORT", "connect", "detect_profile", "profile_from_image"]


ADMIN_PORT = 19000
GATEWAY_PORT = 8080
XDS_PORT = 9977


def profile_from_image(image: str) -> Profile | None:
    """The behaviour profile of a Gloo image tag (``quay.io/solo-io/gloo:1.3.20`` -> ``1.3``).

    Args:
        image: The gloo container image.

    Returns:
        ``1.3`` for Gloo < 1.12, ``current`` from 1.12 on, None when the tag is not a version.
    """
    m = re.search(r":v?(\d+)\.(\d+)", image)
    if m is None:
        return None
    major, minor = int(m[1]), int(m[2])
    return "1.3" if (major, minor) < (1, 12) else "current"



def connect(kubeconfig: str | None = None, *, context: str | None = None, as_user: str | None = None,
            as_group: str | None = None, gloo_version: str | None = None, namespace: str = "gloo-system",
            xds: str | None = None, role: str = DEFAULT_ROLE, port_forward: bool = True,
            admin_urls: Mapping[str, str] | None = None, gateway_url: str | None = None,
            xds_tls: bool = False, proxy: str | None = None) -> GatewayConnection:
    """Connect to one Gloo gateway on a Kubernetes cluster.

    Args:
        kubeconfig: The kubeconfig (default: ``$KUBECONFIG`` or ``~/.kube/config``).
        context: The kubeconfig context.
        as_user: Impersonate this user.
        as_group: Impersonate this group.
        gloo_version: ``1.3`` or ``current``; default: detected from the gloo Deployment's image, else current.
        namespace: Gloo's install namespace.
        xds: The control plane's ADS address; default: a port-forward to a gloo pod's 9977.
        role: The proxy role (xDS snapshot key).
        port_forward: Reach the replicas' admin APIs (and xDS) through port-forwards.
        admin_urls: Replica admin URLs by pod name, when reachable directly (skips port-forwards).
        gateway_url: The gateway's URL for probes.
        xds_tls: Speak TLS to the xDS port (system roots).
        proxy: The gateway proxy to look at (its pods are ``gateway-proxy-id=<proxy>``, its role
            ``<namespace>~<proxy>``); overrides ``role``. Default: the role's (``gateway-proxy``).

    Returns:
        The connection; close it (or use ``with``) to stop its streams and port-forwards.

    Raises:
        GatewayUnreachable: The cluster or a required part of the gateway cannot be reached.
    """
    if proxy:
        role = f"{namespace}~{proxy}"
    kube = KubeClient.from_kubeconfig(kubeconfig, context=context, as_user=as_user, as_group=as_group)
    profile = check_profile(gloo_version, source="gloo_version") if gloo_version else "current"
    conn = GatewayConnection(kube, profile, namespace, xds, role, gateway_url=gateway_url, xds_tls=xds_tls)
    conn.profile_source = "gloo_version" if gloo_version else f"default: no gloo Deployment in {namespace}"
    try:
        if gloo_version is None:
            detected = detect_profile(kube, namespace)
            if detected is not None:
                conn.profile, conn.profile_source = detected
            else:
                # Said, not silent: a wrong profile gives another Gloo's findings and drift states (issue 20: a
                # 1.3 gateway read as current reported errors 1.3 never had).
                # A note on the connection, not a log line: a refusal that follows stays one line.
                conn.notes.append(f"no gloo Deployment with a versioned image in {namespace} (or it may not be "
                                  "read): translating as Gloo current; pass --gloo-version 1.3 for Gloo < 1.12")
        pods = kube.list("Pod", namespace, label_selector="gateway-proxy-id=" + role.split("~", 1)[-1])["items"]
        for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
            name = pod["metadata"]["name"]
            node_id = f"{name}.{namespace}"
            if admin_urls and name in admin_urls:
                url = admin_urls[name]
            elif port_forward:
                fwd = PortForward(kube, namespace, name, ADMIN_PORT)
                conn._closers.append(fwd.close)
                url = fwd.url
            else:
                continue
            conn.replicas.append(Replica(node_id, name, url))
        if conn.xds_address is None and port_forward:
            conn.xds_address = _forward_to_gloo(conn, kube, namespace)
        if conn.gateway_url is None and port_forward and conn.replicas:
            # The gateway-proxy Service's target port on a replica, for probes.
            fwd = PortForward(kube, namespace, conn.replicas[0].pod, GATEWAY_PORT)
            conn._closers.append(fwd.close)
            conn.gateway_url = fwd.url
    except KubeError as err:
        conn.close()
        raise GatewayUnreachable(f"cannot read the gateway from Kubernetes: {err}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def detect_profile(kube: KubeClient, namespace: str = "gloo-system") -> tuple[Profile, str] | None:
    """The running Gloo's profile from the ``gloo`` Deployment's image tag, as a cluster tells it.

    Args:
        kube: The Kubernetes client.
        namespace: Gloo's install namespace.

    Returns:
        ``(profile, source)`` (the source names the image and the Deployment), None when the Deployment cannot
        be read or no container's tag is a version.
    """
    try:
        deploy = kube.get("Deployment", namespace, "gloo")
    except KubeError:
        return None
    for c in deploy.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
        image = str(c.get("image", ""))
        found = profile_from_image(image)
        if found is not None:
            return found, f"image {image} of Deployment {namespace}/gloo"
    return None


def _forward_to_gloo(conn: GatewayConnection, kube: KubeClient, namespace: str) -> str | None:
    try:
        svc = kube.get("Service", namespace, "gloo")
    except KubeError:
        return None
    selector = ",".join(f"{k}={v}" for k, v in (svc.get("spec", {}).get("selector") or {}).items())
    if not selector:
        return None

    def serving() -> str | None:
        # As the Service routes a new connection: to a pod that is there now, a Ready one first (a restarted or
        # rolled gloo has a new pod; a live connection's ADS stream reconnects to it by itself).
        pods = kube.list("Pod", namespace, label_selector=selector)["items"]
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
                   and not (p.get("metadata") or {}).get("deletionTimestamp")]
        chosen = next((p for p in running if pod_ready(p)), running[0] if running else None)
        return chosen["metadata"]["name"] if chosen else None

    first = serving()
    # No pod now (the control plane is down): the address exists all the same, so that the stream connects when
    # Gloo is back; GatewayConnection.control_plane_down says it is down meanwhile.
    fwd = PortForward(kube, namespace, first or "", XDS_PORT, follow=serving)
    conn._closers.append(fwd.close)
    return f"127.0.0.1:{fwd.local_port}"
