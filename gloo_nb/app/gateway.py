"""The gateway connection: one Gloo gateway read through Kubernetes, the xDS stream and every Envoy replica.

A :class:`GatewayConnection` reads what Kubernetes holds (intent, translated with the running Gloo's profile), what
the control plane serves (a shadow ADS node with the proxy's role) and what each replica applied (its admin API),
and puts them side by side (:func:`gloo_nb.analysis.inspection.collect`). It is kept apart from how a connection is
made (:mod:`gloo_nb.app.cluster` for a Kubernetes cluster, :mod:`gloo_nb.app.sandbox_connect` for a sandbox), which
only finds the addresses and opens the port-forwards.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gloo_nb._types import Profile
from gloo_nb.analysis.headline import CONTROL_PLANE_DOWN
from gloo_nb.analysis.inspection import Inspection, collect
from gloo_nb.errors import UnreachableError
from gloo_nb.kube import KubeClient, KubeError, pod_ready, resource_for
from gloo_nb.models.codec import ParseResult, parse_objects
from gloo_nb.models.snapshot import Snapshot
from gloo_nb.translate import Translation, Translator
from gloo_nb.xds.admin import EnvoyAdmin, XdsStats
from gloo_nb.xds.client import AdsClient
from gloo_nb.xds.decode import ServedSnapshot

__all__ = ["DEFAULT_ROLE", "GLOO_KINDS", "KUBE_KINDS", "GatewayConnection", "GatewayUnreachable", "Replica",
           "unreadable_reason"]

_log = logging.getLogger(__name__)


GLOO_KINDS = ("VirtualService", "RouteTable", "Gateway", "Upstream", "Settings", "UpstreamGroup", "VirtualHostOption",
              "RouteOption")
"""The Gloo resources read for the intent."""
# Namespace: cluster-scoped, so a team identity often may not list it; its labels are then unknown and the
# translation says so where watchNamespaceSelectors need them (translate/watch.py).
_OPTIONAL_KINDS = frozenset({"UpstreamGroup", "VirtualHostOption", "RouteOption", "Namespace"})
KUBE_KINDS = ("Service", "Endpoints", "Pod", "Namespace")
"""Kubernetes objects Gloo reads: for kube EDS, and Namespaces (whose labels ``watchNamespaceSelectors`` select)."""
SECRET_KIND = "Secret"
"""Read too, for sslConfig ``secretRef``s (TLS listeners and clusters); an identity that may not list
Secrets still connects: its translation then treats every TLS secret as unknown (a warning finding per
reference, never Gloo's "SSL secret not found"), see :attr:`GatewayConnection.secrets_unreadable`."""
DEFAULT_ROLE = "gloo-system~gateway-proxy"


class GatewayUnreachable(UnreachableError):
    """A part of the gateway cannot be reached; the message says which and what to check."""


@dataclass(frozen=True, slots=True)
class Replica:
    """One Envoy replica of the gateway.

    Attributes:
        node_id: Its xDS node id (``<pod>.<namespace>`` as Gloo's bootstrap sets it).
        pod: Its pod name.
        admin_url: Its admin API base URL (direct or through a port-forward).
    """

    node_id: str
    pod: str
    admin_url: str



def unreadable_reason(err: KubeError) -> str:
    """Why a list was refused, in one line for a finding: the status and the API's own words.

    Args:
        err: The API's refusal (a 403 names the user, the verb and the resource).

    Returns:
        ``<status>: <message>``.
    """
    text = " ".join(str(err).split())
    return f"{err.status}: {text}"


@dataclass
class GatewayConnection:
    """One Gloo gateway: Kubernetes, the control plane's xDS and every Envoy replica.

    Attributes:
        kube: The Kubernetes client (with the identity asked for).
        profile: The running Gloo's behaviour profile.
        namespace: Gloo's install namespace.
        xds_address: The control plane's ADS address (``host:port``), or None when unknown.
        role: The proxy's role (the xDS snapshot key, ``<namespace>~<proxy>``): which proxy the
            connection looks at (:attr:`proxy`).
        replicas: The Envoy replicas.
        gateway_url: The front door for probes, when known.
        cluster_id: The cluster's stable id when the connection knows it without asking (a sandbox's
            own id); otherwise :meth:`cluster_identity` reads the ``kube-system`` namespace's UID.
        secrets_unreadable: Why the last :meth:`read_objects` could not list Secrets (the API's answer, e.g. a
            403), ``""`` when it could.
        profile_source: Where :attr:`profile` came from (``image quay.io/solo-io/gloo:1.3.20 of Deployment
            gloo-system/gloo``, ``gloo_version``, the default when no gloo Deployment was found).
        cluster_differences: What this connection could do that the same identity could not through
            ``--kubeconfig`` on a cluster (a sandbox's direct addresses where a port-forward would be refused),
            one sentence each; empty on the kubeconfig path.
        notes: What the connection assumed and the user should know (the default profile when no gloo Deployment
            could be read), one sentence each; the CLI says them after a command's answer.
    """

    kube: KubeClient
    profile: Profile
    namespace: str = "gloo-system"
    xds_address: str | None = None
    role: str = DEFAULT_ROLE
    replicas: list[Replica] = field(default_factory=list)
    xds_tls: bool = False
    gateway_url: str | None = None
    cluster_id: str | None = None
    secrets_unreadable: str = ""
    profile_source: str = ""
    cluster_differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _ads: AdsClient | None = field(default=None, repr=False)
    _is_closed: bool = field(default=False, repr=False)
    _on_close: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _served_unavailable: str = field(default="", repr=False)

    @property
    def proxy(self) -> str:
        """The proxy this connection looks at: the name part of its role (``gateway-proxy``)."""
        return self.role.split("~", 1)[-1]

    # --- reading ----------------------------------------------------------------------------

    def read_objects(self) -> list[dict[str, Any]]:
        """Read the Gloo resources, Services, Endpoints, Pods and Secrets from Kubernetes, as returned.

        Returns:
            The objects, with ``kind`` and ``apiVersion`` on every one.
        """
        objs: list[dict[str, Any]] = []
        for kind in (*GLOO_KINDS, *KUBE_KINDS):
            api_version = resource_for(kind).api_version
            try:
                items = self.kube.list(kind).get("items", [])
            except KubeError as err:
                if kind not in _OPTIONAL_KINDS or err.status not in (403, 404):
                    raise
                # Added to gloo_nb after the others: an identity (or an old install, e.g. Gloo 1.3 without the
                # VirtualHostOption/RouteOption CRDs) without it still connects; what names one then gets Gloo's
                # "not found" warning, which this log line explains.
                _log.warning("cannot list %s (%s): references to one are translated as if it were missing",
                             kind, err)
                items = []
            for item in items:
                # The apiserver leaves kind and apiVersion out of list items of built-in kinds.
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", api_version)
                objs.append(item)
        try:
            secrets = self.kube.list(SECRET_KIND).get("items", [])
        except KubeError as err:
            if err.status not in (401, 403):
                raise
            # a team identity usually may not read Secrets: not worth a line on every command's stderr; the
            # translation says it per secretRef instead (Snapshot.secrets_unreadable)
            _log.debug("cannot list Secrets (%s): TLS secrets are unknown to the translation", err)
            self.secrets_unreadable = unreadable_reason(err)
            secrets = []
        else:
            self.secrets_unreadable = ""
        for item in secrets:
            item.setdefault("kind", SECRET_KIND)
            item.setdefault("apiVersion", "v1")
            objs.append(item)
        return objs

    def cluster_identity(self) -> tuple[str, str]:
        """Which cluster this is: the API server URL and a stable cluster id.

        The id is the sandbox's own when connected to one, else the ``kube-system`` namespace's UID
        (every cluster has that namespace, and its UID lives as long as the cluster: the id
        ``kubectl`` users and tools such as Velero and Argo CD take for a cluster). When the identity
        may not read it, the id is ``""`` and callers must make do with the URL.

        Returns:
            ``(server, cluster_id)``.
        """
        server = str(self.kube.api_client.configuration.host or "")
        if self.cluster_id is None:
            try:
                ns = self.kube.get("Namespace", None, "kube-system")
                self.cluster_id = str((ns.get("metadata") or {}).get("uid") or "")
            except KubeError:
                self.cluster_id = ""
        return server, self.cluster_id

    def read_resources(self) -> ParseResult:
        """Read and parse what Gloo reads from Kubernetes.

        One team's unreadable object is that team's finding, not everyone's outage: it becomes an
        error finding naming it and is left out, as Gloo leaves it out of its snapshot.

        Returns:
            The parsed objects (with parse findings).
        """
        return parse_objects(self.read_objects(), file="<kubernetes>", tolerant=True)

    def intent(self) -> tuple[Translation, ParseResult]:
        """Translate what Kubernetes holds, as a freshly started Gloo of this profile would.

        Every proxy the Gateways name is translated; the translation's top level is this connection's
        proxy (:attr:`proxy`), every proxy's own in ``Translation.proxies``.

        Returns:
            The translation (``envoy`` is what Gloo intends to serve; ``push`` says whether it would)
            and what was read (with its parse findings).
        """
        snapshot, parsed = self.read_snapshot()
        return Translator(self.profile, proxy_name=self.proxy).translate(snapshot), parsed

    def read_snapshot(self) -> tuple[Snapshot, ParseResult]:
        """Read what Gloo reads, as the snapshot gloo_nb translates.

        Returns:
            The snapshot (``secrets_unreadable`` set when this identity may not list Secrets, so that TLS secrets are
            unknown to the translation rather than missing) and what was read.
        """
        parsed = self.read_resources()
        snapshot = Snapshot.from_resources(parsed.resources)
        if self.secrets_unreadable:
            snapshot = replace(snapshot, secrets_unreadable=self.secrets_unreadable)
        return snapshot, parsed

    def ads(self) -> AdsClient:
        """The shadow xDS node (started on first use, kept open and reconnecting).

        Returns:
            The ADS client.

        Raises:
            GatewayUnreachable: No xDS address is known.
        """
        if self._ads is None:
            if not self.xds_address:
                raise GatewayUnreachable("no xDS address: pass xds='host:9977' (or connect with port_forward=True "
                                       "to reach the gloo pod)")
            self._ads = AdsClient(self.xds_address, role=self.role, tls=self.xds_tls).start()
            self._closers.append(self._ads.close)
        return self._ads

    def served(self, timeout: float = 10.0) -> ServedSnapshot:
        """What the control plane serves now.

        Args:
            timeout: Seconds to wait for the first complete set of resources.

        Returns:
            The served resources and versions.

        Raises:
            GatewayUnreachable: Nothing complete arrived in time, or the stream broke and did not come back in
                time (what arrived before is then not passed off as what is served now).
        """
        deadline = time.monotonic() + timeout
        client = self.ads()
        if not client.wait_synced(timeout):
            raise GatewayUnreachable(f"the control plane at {self.xds_address} sent no complete configuration "
                                   f"for role {self.role} within {timeout:.0f} s; check the address and the role")
        # A stream that broke (Gloo restarted, a port-forward gone) keeps its last resources: wait for it to be back
        # (it reconnects by itself, and the control plane sends everything again) rather than show them as now.
        while not (state := client.state()).connected:
            if time.monotonic() >= deadline:
                raise GatewayUnreachable(f"the xDS stream to the control plane at {self.xds_address} is down "
                                       f"({state.last_error or 'reconnecting'}); what it served before is not "
                                       "shown as served now")
            time.sleep(0.05)
        return client.snapshot()

    def admins(self) -> dict[str, EnvoyAdmin]:
        """Each replica's admin API, by node id."""
        return {r.node_id: EnvoyAdmin(r.admin_url) for r in self.replicas}

    def applied(self) -> dict[str, ServedSnapshot]:
        """What each replica applied (its config dump), by node id."""
        return {node: admin.applied() for node, admin in self.admins().items()}

    # --- seeing -----------------------------------------------------------------------------

    def collect(self, *, timeout: float = 10.0) -> Inspection:
        """Read every source once and put them side by side.

        Args:
            timeout: Seconds to wait for the xDS stream.

        Returns:
            The inspection (frames and the ``inspect`` document).
        """
        return collect(self, timeout=timeout)

    def served_now(self, timeout: float) -> ServedSnapshot | None:
        """What the control plane serves now, None without an xDS address (:class:`InspectionSource`).

        Args:
            timeout: Seconds to wait for the xDS stream.

        Returns:
            The served resources, or None.
        """
        down = self.control_plane_down()
        if down:
            # Asked first, as an operator reads `kubectl get pods` before blaming the stream: no 10 s wait for an
            # answer that cannot come, and both paths (--sandbox, --kubeconfig) say the same.
            self._served_unavailable = f"{CONTROL_PLANE_DOWN} ({down})"
            return None
        if not self.xds_address:
            self._served_unavailable = ("no xDS address: the gloo pod could not be port-forwarded (pass xds= or "
                                        "connect with port_forward=True)")
            return None
        self._served_unavailable = ""
        return self.served(timeout)

    def served_unavailable(self) -> str:
        """Why the last :meth:`served_now` gave nothing (:class:`InspectionSource`); ``""`` when it answered."""
        return self._served_unavailable

    def control_plane_down(self) -> str:
        """Why Gloo's control plane cannot serve now, as the cluster tells it; ``""`` when it can or it cannot be told.

        Gloo's clients reach the control plane through the ``gloo`` Service (the chart's xDS cluster is
        ``gloo.<namespace>.svc``): with no Ready pod behind it there is nothing to serve, and the Envoy replicas keep
        what they last applied. Unreadable (RBAC, an install without the Service) is not "down": the xDS stream
        answers then.

        Returns:
            ``no ready pod behind Service gloo-system/gloo; Deployment gloo-system/gloo is scaled to 0 replicas``,
            or ``""``.
        """
        try:
            service = self.kube.get("Service", self.namespace, "gloo")
            selector = ",".join(f"{k}={v}" for k, v in ((service.get("spec") or {}).get("selector") or {}).items())
            if not selector:
                return ""
            pods = self.kube.list("Pod", self.namespace, label_selector=selector).get("items", [])
        except KubeError:
            return ""
        if any(pod_ready(p) for p in pods):
            return ""
        where = f"no ready pod behind Service {self.namespace}/gloo"
        try:
            deploy = self.kube.get("Deployment", self.namespace, "gloo")
        except KubeError:
            return where
        wanted = (deploy.get("spec") or {}).get("replicas", 1)
        if wanted == 0:
            return f"{where}; Deployment {self.namespace}/gloo is scaled to 0 replicas"
        ready = (deploy.get("status") or {}).get("readyReplicas", 0)
        return f"{where}; Deployment {self.namespace}/gloo: {ready} of {wanted} ready"

    def applied_now(self) -> tuple[dict[str, ServedSnapshot], dict[str, XdsStats]]:
        """Each replica's applied configuration and xDS stats, by node id (:class:`InspectionSource`)."""
        admins = self.admins()
        return {node: a.applied() for node, a in admins.items()}, {node: a.xds_stats() for node, a in admins.items()}

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (widgets disable their actions then)."""
        return self._is_closed

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once when the connection is closed (at once when it already is).

        Live widgets register here so that closing the connection disables their actions at once,
        instead of their next click failing with a transport error.

        Args:
            callback: Takes no argument; its exceptions are logged, not raised.
        """
        if self._is_closed:
            callback()
        else:
            self._on_close.append(callback)

    def close(self) -> None:
        """Close the xDS stream and every port-forward, then tell the :meth:`on_close` listeners."""
        self._is_closed = True
        while self._on_close:
            listener = self._on_close.pop(0)
            try:
                listener()
            except Exception as exc:  # noqa: BLE001 - a broken widget must not keep the connection open
                _log.debug("close listener %r failed: %r", listener, exc)
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception as exc:  # noqa: BLE001 - one broken part must not keep the others open
                _log.debug("closing %r failed: %r", closer, exc)

    def __enter__(self) -> GatewayConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
