"""Port-forward through the Kubernetes API: a local 127.0.0.1 listener reaching one port of one pod.

This is how gloo_nb reaches addresses a cluster does not expose, such as each Envoy replica's admin API.
Every accepted local connection gets its own ``pods/portforward`` WebSocket (``v4.channel.k8s.io``), driven by
the official client's channel proxy (:class:`kubernetes.stream.ws_client.PortForward`, the object
``kubernetes.stream.portforward`` returns). The WebSocket is opened here rather than by
``kubernetes.stream.portforward`` because the latter forwards only the ``Authorization`` header and so drops
the ``Impersonate-*`` headers of the :class:`~gloo_nb.kube.KubeClient`; opening it here keeps impersonation.

The v4 channel protocol has no half-close: when the local client stops sending, the forwarder keeps relaying the
pod's answer until the pod closes or stays silent for ``linger`` seconds, then closes both sides.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import quote

import certifi
import websocket
from kubernetes.stream import ws_client

from gloo_nb.kube.client import KubeClient, KubeError

__all__ = ["PortForward", "PortForwardError", "forward_pod"]

log = logging.getLogger(__name__)

_SUBPROTOCOL = "v4.channel.k8s.io"
_CONNECT_TIMEOUT = 10.0
_POLL = 0.25


class PortForwardError(KubeError):
    """The Kubernetes API refused or broke a port-forward; ``status`` is the HTTP status (0 without one)."""


class PortForward:
    """Forward ``127.0.0.1:<local_port>`` to ``remote_port`` of a pod, through the Kubernetes API.

    Use as a context manager, or call :meth:`close`. With ``check`` (the default) one WebSocket is opened and
    closed at once, so a missing permission, a missing pod or a pod that is not Running fails here, not on the
    first connection.

    Args:
        kube: The client whose identity (token, impersonation) opens the port-forwards.
        namespace: The pod's namespace.
        pod: The pod's name.
        remote_port: The container port in the pod.
        local_port: The local port to listen on; 0 picks a free one.
        check: Open one port-forward now to surface refusals.
        linger: Seconds to keep relaying the pod's answer after the local client stopped sending.
        follow: Called for each new local connection: the pod to forward it to now (None: none serves, the
            connection is closed and the reason recorded), as a Service routes each connection to a pod that is
            there now. Without it every connection goes to ``pod`` (``kubectl port-forward`` picks one pod and
            breaks when it is gone). With it, ``pod`` may be ``""`` (no pod yet: the check is skipped).

    Attributes:
        namespace: The pod's namespace.
        pod: The pod's name.
        remote_port: The container port.
        errors: Messages the pod side reported (error channel) or refusals of later connections, oldest first.
        connections: How many local connections were accepted.

    Raises:
        PortForwardError: The listener cannot bind, or (with ``check``) the API refused the port-forward.
    """

    def __init__(self, kube: KubeClient, namespace: str, pod: str, remote_port: int, *, local_port: int = 0,
                 check: bool = True, linger: float = 10.0,
                 follow: Callable[[], str | None] | None = None) -> None:
        if not 0 < remote_port < 65536:
            raise PortForwardError(f"remote port {remote_port} is out of range; use a container port in 1..65535")
        self.namespace = namespace
        self.pod = pod
        self.remote_port = remote_port
        self.errors: list[str] = []
        self.connections = 0
        self._api_client = kube.api_client
        self._linger = linger
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._active: set[Any] = set()
        self._threads: list[threading.Thread] = []
        self._follow = follow
        if check and (pod or follow is None):
            self._open().close()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listener.bind(("127.0.0.1", local_port))
            self._listener.listen(64)
            self._listener.settimeout(_POLL)
        except OSError as error:
            self._listener.close()
            raise PortForwardError(f"cannot listen on 127.0.0.1:{local_port} ({error.strerror or error}); "
                                   "pick another local port or 0") from None
        self.local_port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True,
                                          name=f"port-forward {self.target} on :{self.local_port}")
        self._acceptor.start()

    # --- public -------------------------------------------------------------------------------

    @property
    def target(self) -> str:
        """``namespace/pod:port``, for messages."""
        return f"{self.namespace}/{self.pod}:{self.remote_port}"

    @property
    def address(self) -> tuple[str, int]:
        """The local ``(host, port)`` to connect to."""
        return ("127.0.0.1", self.local_port)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<local_port>``: the base URL of an HTTP server in the pod (e.g. Envoy's admin)."""
        return f"http://127.0.0.1:{self.local_port}"

    def close(self) -> None:
        """Stop listening and close every forwarded connection (idempotent)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._acceptor.join(timeout=2 * _POLL + 1)
        self._listener.close()
        with self._lock:
            active, threads = list(self._active), list(self._threads)
        for sock in active:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in threads:
            thread.join(timeout=2.0)

    def __enter__(self) -> PortForward:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed.is_set() else "open"
        return f"<PortForward 127.0.0.1:{self.local_port} -> {self.target} ({state})>"

    # --- the WebSocket --------------------------------------------------------------------------

    def _open(self, pod: str | None = None) -> websocket.WebSocket:
        """Open one ``pods/portforward`` WebSocket (v4 channels) with the client's credentials and impersonation."""
        cfg = self._api_client.configuration
        pod = pod or self.pod
        path = (f"/api/v1/namespaces/{quote(self.namespace, safe='')}/pods/{quote(pod, safe='')}"
                f"/portforward?ports={self.remote_port}")
        url = ws_client.get_websocket_url(cfg.host.rstrip("/") + path)
        header = []
        for setting in (cfg.auth_settings() or {}).values():
            if setting.get("in") == "header" and setting.get("value"):
                header.append(f"{setting['key']}: {setting['value']}")
        for name, value in self._api_client.default_headers.items():
            if name.lower().startswith("impersonate-"):
                header.append(f"{name}: {value}")
        ws = websocket.WebSocket(sslopt=_ssl_options(cfg, url), skip_utf8_validation=False)
        try:
            ws.connect(url, header=header, subprotocols=[_SUBPROTOCOL], timeout=_CONNECT_TIMEOUT)
        except websocket.WebSocketBadStatusException as error:
            raise self._refused(error.status_code, error.resp_body) from None
        except (OSError, websocket.WebSocketException) as error:
            raise PortForwardError(f"port-forward to {self.target}: cannot reach the Kubernetes API at {cfg.host} "
                                   f"({error}); check the kubeconfig and the network") from None
        # The official channel proxy selects before it reads: blocking reads from here on.
        if ws.sock is not None:
            ws.sock.settimeout(None)
        return ws

    def _refused(self, status: int, body: bytes | None) -> PortForwardError:
        reason, message = "", (body or b"").decode(errors="replace").strip()
        with contextlib.suppress(ValueError, AttributeError):
            doc = json.loads(message)
            reason, message = doc.get("reason", ""), doc.get("message", message)
        hint = {403: "grant pods/portforward (create, get) to this identity in that namespace",
                404: "check the namespace and the pod name",
                400: "wait for the pod to run, or pick another pod"}.get(status, "check the API server")
        return PortForwardError(f"port-forward to {self.target} refused ({status} {reason}): {message}; {hint}",
                                status=status, reason=reason)

    # --- forwarding ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with self._lock:
                self.connections += 1
                self._active.add(conn)
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True,
                                          name=f"port-forward {self.target} #{self.connections}")
                self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        pf = remote = None
        try:
            pod = self.pod
            if self._follow is not None:
                found = self._follow()
                if not found:
                    self._record(f"port-forward to {self.namespace}/(no pod):{self.remote_port}: no pod serves now")
                    return
                pod = self.pod = found
            try:
                pf = ws_client.PortForward(self._open(pod), [self.remote_port])
            except PortForwardError as error:
                self._record(str(error))
                return
            remote = pf.socket(self.remote_port)
            with self._lock:
                self._active.add(remote)
            if self._closed.is_set():
                return
            self._relay(conn, remote)
            reported = pf.error(self.remote_port)
            if reported:
                self._record(f"port-forward to {self.target}: {reported.strip()}")
        except Exception as error:  # noqa: BLE001 - one broken connection must not stop the forwarder
            if not self._closed.is_set():  # close() breaks the relays on purpose
                # The pod side's reason (error channel) explains a broken relay better than EPIPE; it
                # may arrive a moment after the socket broke.
                reported = _reported_error(pf, self.remote_port) if pf is not None else None
                self._record(f"port-forward to {self.target}: {reported.strip() if reported else error}")
        finally:
            for sock in (conn, remote):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()
                    with self._lock:
                        self._active.discard(sock)

    def _relay(self, conn: socket.socket, remote: Any) -> None:
        local_open, deadline = True, 0.0
        while not self._closed.is_set():
            readable, _, _ = select.select([remote, conn] if local_open else [remote], [], [], _POLL)
            if not readable:
                if not local_open and time.monotonic() > deadline:
                    return
                continue
            if remote in readable:
                data = remote.recv(1 << 16)
                if not data:
                    return
                conn.sendall(data)
                deadline = time.monotonic() + self._linger
            if local_open and conn in readable:
                data = conn.recv(1 << 16)
                if data:
                    remote.sendall(data)
                else:
                    # No half-close in the v4 protocol: keep relaying the answer for a while instead.
                    local_open, deadline = False, time.monotonic() + self._linger

    def _record(self, message: str) -> None:
        log.warning("%s", message)
        with self._lock:
            self.errors.append(message)


def _reported_error(pf: Any, port: int, wait: float = 0.5) -> str | None:
    deadline = time.monotonic() + wait
    while True:
        reported = pf.error(port)
        if reported or time.monotonic() > deadline:
            return str(reported) if reported else None
        time.sleep(0.02)


def _ssl_options(cfg: Any, url: str) -> dict[str, Any]:
    # Same choices as kubernetes.stream.ws_client.create_websocket.
    if url.startswith("wss://") and cfg.verify_ssl:
        opts: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": cfg.ssl_ca_cert or certifi.where()}
        if cfg.assert_hostname is not None:
            opts["check_hostname"] = cfg.assert_hostname
    else:
        opts = {"cert_reqs": ssl.CERT_NONE}
    if cfg.cert_file:
        opts["certfile"] = cfg.cert_file
    if cfg.key_file:
        opts["keyfile"] = cfg.key_file
    if getattr(cfg, "tls_server_name", None):
        opts["server_hostname"] = cfg.tls_server_name
    return opts


def forward_pod(kube: KubeClient, namespace: str, pod: str, port: int, *, local_port: int = 0) -> PortForward:
    """Start forwarding a local port to a pod's port (checked at once; close the result when done).

    Args:
        kube: The client (its identity opens the port-forwards).
        namespace: The pod's namespace.
        pod: The pod's name.
        port: The container port.
        local_port: The local port; 0 picks a free one.

    Returns:
        The running :class:`PortForward`.

    Raises:
        PortForwardError: The API refused the port-forward, or the local port is taken.
    """
    return PortForward(kube, namespace, pod, port, local_port=local_port)
