"""Connecting to a running sandbox: its ``endpoints.json`` (the sandbox CLI contract) gives addresses and profile.

A sandbox is reached through the very same :func:`gloo_nb.app.cluster.connect` as a real cluster; this module only
reads the state directory's document, kept apart so that the cluster path knows nothing of sandboxes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gloo_nb._types import check_profile
from gloo_nb.app.cluster import connect
from gloo_nb.app.gateway import GatewayConnection, GatewayUnreachable
from gloo_nb.kube import KubeError

__all__ = ["connect_sandbox", "read_sandbox_endpoints"]



def read_sandbox_endpoints(state_dir: str | Path) -> dict[str, Any]:
    """Read a running sandbox's ``endpoints.json`` (the sandbox CLI contract).

    Args:
        state_dir: The sandbox's state directory.

    Returns:
        The document.

    Raises:
        GatewayUnreachable: No sandbox runs there.
    """
    path = Path(state_dir) / "endpoints.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or not info.get("pid"):
        raise GatewayUnreachable(f"no sandbox runs in {state_dir}; start one with: gloo-nb sandbox start "
                               f"--state-dir {state_dir}")
    return dict(info)


def connect_sandbox(state_dir: str | Path, *, as_user: str | None = None, as_group: str | None = None,
                    port_forward: bool = False, proxy: str | None = None) -> GatewayConnection:
    """Connect to a running sandbox (its ``endpoints.json`` gives the addresses and the profile).

    Args:
        state_dir: The sandbox's state directory.
        as_user: Impersonate this user.
        as_group: Impersonate this group.
        port_forward: Reach the admin APIs through ``pods/portforward``, as on a real cluster.
        proxy: The gateway proxy to look at, one of those the sandbox runs (``--proxy``); default:
            its default proxy (``gateway-proxy`` when it runs, else the first).

    The profile is detected as :func:`gloo_nb.app.cluster.connect` detects it on any cluster (the ``gloo``
    Deployment's image tag) and checked against ``endpoints.json``'s ``glooVersion``.

    Returns:
        The connection.

    Raises:
        GatewayUnreachable: No sandbox runs there, it does not answer, it runs no such proxy, or its cluster's
            gloo Deployment does not say the profile its ``endpoints.json`` says.
    """
    info = read_sandbox_endpoints(state_dir)
    proxies = info.get("proxies") or {"gateway-proxy": {"gateway": info["gateway"], "envoyAdmin": info["envoyAdmin"]}}
    name = proxy or ("gateway-proxy" if "gateway-proxy" in proxies else next(iter(proxies)))
    if name not in proxies:
        raise GatewayUnreachable(f"the sandbox in {state_dir} runs no proxy {name!r}; it runs: {', '.join(proxies)}")
    mine = proxies[name]
    admin = None if port_forward else {f"{name}-{i}": url for i, url in enumerate(mine["envoyAdmin"])}
    where = Path(state_dir) / "endpoints.json"
    profile = check_profile(info.get("glooVersion"), source=f"{where}: glooVersion")
    # The profile is read as on a cluster (the gloo Deployment's image tag), not taken from endpoints.json: the
    # kubeconfig path is the one users have, and this convenience must not answer differently (issue 20). The
    # document's glooVersion is only checked against it, so that a sandbox whose install disagrees says so.
    def open_(gloo_version: str | None) -> GatewayConnection:
        return connect(info["kubeconfig"], as_user=as_user, as_group=as_group, gloo_version=gloo_version,
                       xds=str(info["xds"]), port_forward=port_forward, admin_urls=admin,
                       gateway_url=mine["gateway"], proxy=name)

    conn = open_(None)
    unread = conn.profile_source.startswith("default")
    if unread and (as_user or as_group):
        # The identity cannot read the gloo Deployment (RBAC): on a cluster the profile would be the default unless
        # --gloo-version says it. Not a disagreement of the install: the sandbox's profile stands, and the
        # difference is said.
        conn.close()
        conn = open_(profile)
        conn.cluster_differences.append(
            f"{as_user or as_group} cannot read the gloo Deployment in {conn.namespace}: gloo-nb --kubeconfig as "
            f"this identity would translate as Gloo current unless given --gloo-version {profile}")
    elif conn.profile != profile or unread:
        said = conn.profile_source
        conn.close()
        raise GatewayUnreachable(f"the sandbox in {state_dir} runs Gloo {profile} ({where}) but its cluster says "
                                 f"{conn.profile} ({said}): gloo-nb --kubeconfig {info['kubeconfig']} would answer "
                                 f"as {conn.profile}; restart the sandbox")
    if (as_user or as_group) and not port_forward:
        _check_port_forward(conn, as_user or as_group or "")
    if info.get("clusterId"):
        conn.cluster_id = str(info["clusterId"])
    return conn


def _check_port_forward(conn: GatewayConnection, who: str) -> None:
    """Say so when the sandbox's direct admin addresses stand in for a port-forward this identity may not open.

    ``--kubeconfig`` reaches each Envoy's admin API through ``pods/portforward`` in Gloo's namespace; the sandbox
    path reads the addresses from ``endpoints.json`` instead, which must not hide that the same identity is refused
    on a cluster (issue 20). gloo_nb's port-forward is a WebSocket GET, which the apiserver authorizes as ``get``
    (``staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go``, ``NewRequestInfo``: GET -> get); kubectl's
    SPDY upgrade is a POST (``create``): both are asked.
    """
    try:
        denied = [verb for verb in ("get", "create")
                  if not conn.kube.can_i(verb, "pods", conn.namespace, subresource="portforward")]
    except KubeError as err:
        denied = [f"(review refused: {err.status})"]
    if denied:
        text = (f"{who} may not {'/'.join(denied)} pods/portforward in {conn.namespace}: gloo-nb --kubeconfig as "
                f"this identity could not reach the Envoy admin APIs (the sandbox's direct addresses are used here)")
        # Kept on the connection (the CLI says it after the command's answer, `note:`), not logged: a refusal
        # that follows must stay one line.
        conn.cluster_differences.append(text)
