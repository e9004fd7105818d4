"""Gloo's gRPC validation service on the gloo pod's port 9988 (``grpc-validation``), as far as the sandbox models it.

Gloo serves it for its gateway translator (1.3: the ``gateway`` pod; current: in-process, and for tools):
``gloo.solo.io.GlooValidationService`` at main (``projects/gloo/api/grpc/validation/gloo_validation.proto``),
``gloo.solo.io.ProxyValidationService`` at v1.3.20 (``proxy_validation.proto``). The sandbox answers both methods:

* ``NotifyOnResync`` as ``projects/gloo/pkg/validation/server.go`` ``validator.NotifyOnResync`` does: an empty
  ``NotifyOnResyncResponse`` at once (the ACK), then one each time what validation depends on changes
  (``shouldNotify``: Upstreams, UpstreamGroups, Secrets, AuthConfigs, RateLimitConfigs and Proxies, not Endpoints),
  at most one pending per stream (Gloo's receiver channel has room for one).
* ``Validate`` (``ValidateProxy`` in 1.3) answers ``UNIMPLEMENTED`` with a message that says so: it takes Gloo's
  ``Proxy`` protobuf, whose schema (every plugin's options) the sandbox does not carry. Gloo's webhook, which
  gives the same verdict from the resources users write, answers on the webhook port (8443) with the decision
  the API server applies. It never answers a guess.

Messages are handled as raw bytes (both responses are empty messages): no generated code for Gloo's protos.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc

from gloo_nb._types import Profile
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.controlplane import content_key
from gloo_nb.sandbox.store import Store, WatchEvent
from gloo_nb.sandbox.xds_server import bind_insecure

log = logging.getLogger(__name__)

__all__ = ["NOTIFY_KINDS", "SERVICES", "VALIDATE_UNMODELLED", "GlooValidationServer"]

SERVICES: dict[Profile, tuple[str, str]] = {
    "1.3": ("gloo.solo.io.ProxyValidationService", "ValidateProxy"),
    "current": ("gloo.solo.io.GlooValidationService", "Validate"),
}
"""The service and its validate method per profile (the proto files named in the module docstring)."""

NOTIFY_KINDS = (kinds.UPSTREAM, kinds.UPSTREAM_GROUP, kinds.SECRET, kinds.PROXY)
"""What ``shouldNotify`` hashes that the sandbox serves (AuthConfigs and RateLimitConfigs are not served)."""

VALIDATE_UNMODELLED = ("gloo_nb sandbox: validating a Proxy over gRPC is not modelled (the sandbox does not decode "
                       "Gloo's Proxy protobuf); Gloo's validating webhook (the gloo Service's port 443, the pod's "
                       "8443, path /validation) answers with the same decision the API server applies")


class GlooValidationServer:
    """The gRPC server of Gloo's validation service, on loopback.

    Args:
        store: The sandbox's store (what ``NotifyOnResync`` follows).
        profile: The Gloo profile (service name).
        host: The bind address.
        port: The port (0: any free one).

    A stopped server starts again on the same port (a new Gloo process of the same pod: port-forwards and the pod's
    ports map stay valid).
    """

    def __init__(self, store: Store, profile: Profile, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._store = store
        self._profile: Profile = profile
        self._host = host
        self._port = port
        self._server: grpc.Server | None = None
        self._lock = threading.Lock()
        self._streams: list[threading.Event] = []
        self._keys: dict[tuple[str, str, str], str] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._stopping = threading.Event()
        self.port = 0
        """The bound port, once started."""

    def start(self) -> int:
        """Bind and serve.

        Returns:
            The port.

        Raises:
            XdsServerError: The port cannot be bound.
        """
        service, validate = SERVICES[self._profile]
        handler = grpc.method_handlers_generic_handler(service, {
            "NotifyOnResync": grpc.unary_stream_rpc_method_handler(self._notify_on_resync),
            validate: grpc.unary_unary_rpc_method_handler(self._validate),
        })
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="gloo-validation"),
                             handlers=[handler], options=[("grpc.so_reuseport", 0)])
        port = bind_insecure(server, self._host, self._port, "Gloo's validation server")
        self._stopping.clear()
        self._keys.clear()  # a new process: its first sync notifies (server.go shouldNotify, no snapshot yet)
        self._unsubscribe = self._store.subscribe(self._on_event)
        server.start()
        self._server, self.port = server, port
        self._port = port  # a restart binds the same port
        return port

    def stop(self) -> None:
        """Stop serving; open ``NotifyOnResync`` streams end."""
        self._stopping.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        with self._lock:
            for wake in self._streams:
                wake.set()
        if self._server is not None:
            self._server.stop(grace=0.5).wait(5)
            self._server = None

    def _on_event(self, event: WatchEvent) -> None:
        # Runs under the store lock: note only. Gloo's hash of these kinds changes when their content does.
        if event.kind not in NOTIFY_KINDS:
            return
        meta = event.object.get("metadata") or {}
        ident = (event.kind.kind, meta.get("namespace", ""), meta.get("name", ""))
        key = "" if event.type == "DELETED" else content_key(event)
        if self._keys.get(ident) == key:
            return
        if key:
            self._keys[ident] = key
        else:
            self._keys.pop(ident, None)
        with self._lock:
            for wake in self._streams:
                wake.set()  # an Event holds one pending notification, as Gloo's channel of size one

    def _notify_on_resync(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        del request
        wake = threading.Event()
        with self._lock:
            self._streams.append(wake)
        try:
            yield b""  # validator.NotifyOnResync: "send initial response as ACK"
            while context.is_active() and not self._stopping.is_set():
                if wake.wait(0.5):
                    wake.clear()
                    if self._stopping.is_set():
                        return
                    yield b""
        finally:
            with self._lock:
                self._streams.remove(wake)

    def _validate(self, request: bytes, context: grpc.ServicerContext) -> Any:
        del request
        context.abort(grpc.StatusCode.UNIMPLEMENTED, VALIDATE_UNMODELLED)
