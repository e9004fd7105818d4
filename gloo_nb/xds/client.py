"""An ADS (State of the World) client that watches a control plane as a shadow node.

Gloo keys its snapshots on ``node.metadata.role`` (``projects/gloo/pkg/xds/node_hash.go``), so a client that
connects with the gateway proxy's role receives exactly what the gateway's Envoys receive. The client subscribes
the way Envoy does (``envoy/docs/root/api-docs/xds_protocol.rst``, "Aggregated Discovery Service"): CDS and LDS as
wildcards, then EDS for the EDS clusters' names and RDS for the listeners' ``rds.route_config_name``. It ACKs every
response (it never NACKs: it is an observer, and a NACK would not change what the gateway gets) and keeps the
latest resources and version per type.

It runs in its own daemon thread. When the stream ends (the control plane restarted, the network broke) it
reconnects with capped, jittered exponential backoff and resumes, sending the versions it has, as Envoy does.
Every response is reported as an :class:`XdsUpdate` to callbacks (run in the client thread: keep them quick) and
to iterators from :meth:`AdsClient.updates`, which a notebook thread or a journal writer can consume.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import struct_pb2

from gloo_nb.errors import UsageError
from gloo_nb.xds import protos
from gloo_nb.xds.decode import ServedSnapshot, eds_names, rds_names
from gloo_nb.xds.protos import TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ORDER, TYPE_ROUTE

__all__ = ["DEFAULT_ROLE", "AdsClient", "ClientState", "XdsClientError", "XdsUpdate", "default_node_id"]

_log = logging.getLogger(__name__)

DEFAULT_ROLE = "gloo-system~gateway-proxy"

# Gloo snapshots of >50k routes have produced 21 MB messages; the issue asks for hundreds of MB.
_MAX_RECEIVE = 1 << 30
# HTTP/2 pings no more often than grpc-go's default enforcement allows (5 min), or the server sends GOAWAY
# ENHANCE_YOUR_CALM; the ping detects a half-open connection the control plane vanished from.
_KEEPALIVE_MS = 300_000
_KEEPALIVE_TIMEOUT_MS = 20_000

_STOP = object()


class XdsClientError(UsageError):
    """The xDS client cannot be used as asked (bad address, closed client): check the address and create a new one."""


def default_node_id() -> str:
    """Return the default shadow node id, ``gloo-nb-inspector-<pid>``."""
    return f"gloo-nb-inspector-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class XdsUpdate:
    """One DiscoveryResponse the client received (and ACKed).

    Attributes:
        time: ``time.time()`` when it arrived.
        type_url: The xDS type.
        version: ``version_info``.
        nonce: The response nonce.
        resource_names: Names of the resources in the response.
        size: Serialized size of the resources, in bytes.
    """

    time: float
    type_url: str
    version: str
    nonce: str
    resource_names: tuple[str, ...]
    size: int

    @property
    def type(self) -> str:
        """Short type name: ``lds``, ``rds``, ``cds`` or ``eds``."""
        return protos.TYPE_SHORT.get(self.type_url, self.type_url)


@dataclass(frozen=True, slots=True)
class ClientState:
    """The connection as the client sees it.

    Attributes:
        connected: Whether a stream is open and has received at least one response.
        connects: How many streams were opened so far.
        responses: How many responses were received in total.
        last_error: The last stream error, ``""`` when none.
        next_retry: Seconds of the backoff before the next attempt (0 while connected).
    """

    connected: bool
    connects: int
    responses: int
    last_error: str
    next_retry: float


def _resource_name(message: Any) -> str:
    name = getattr(message, "name", "")
    return name if name else str(getattr(message, "cluster_name", ""))


class _Updates:
    """An iterator over updates, fed by the client thread."""

    def __init__(self, client: AdsClient, maxsize: int) -> None:
        self._client = client
        self._queue: queue.Queue[Any] = queue.Queue(maxsize)
        self.dropped = 0

    def put(self, item: Any) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            # A slow consumer must never stall the stream (the control plane would see a stuck node).
            self.dropped += 1

    def __iter__(self) -> Iterator[XdsUpdate]:
        return self

    def __next__(self) -> XdsUpdate:
        item = self._queue.get()
        if item is _STOP:
            self._queue.put(_STOP)
            raise StopIteration
        update: XdsUpdate = item
        return update

    def get(self, timeout: float | None = None) -> XdsUpdate | None:
        """Return the next update, or None after ``timeout`` seconds or once the client is closed."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _STOP:
            self._queue.put(_STOP)
            return None
        update: XdsUpdate = item
        return update

    def close(self) -> None:
        """Stop receiving updates."""
        self._client._remove_iterator(self)
        self.put(_STOP)


class AdsClient:
    """A shadow-node ADS client: subscribes to CDS, EDS, LDS and RDS, ACKs, keeps the latest of each.

    Args:
        address: ``host:port`` of the control plane's xDS server (Gloo: the ``gloo`` Service, port 9977).
        node_id: ``node.id``; default ``gloo-nb-inspector-<pid>``.
        role: ``node.metadata.role``, the snapshot key (``<namespace>~<proxy>``).
        cluster: ``node.cluster``.
        tls: Use TLS (``grpc.ssl_channel_credentials``).
        root_certificates: PEM CA bundle for TLS; None for the system roots.
        credentials: Channel credentials to use instead of ``tls``/``root_certificates``.
        on_update: A callback for every update (more with :meth:`add_listener`).
        backoff_initial: First reconnect delay in seconds.
        backoff_max: Cap of the reconnect delay.
        channel_options: Extra gRPC channel options, appended to the defaults.

    The client starts when :meth:`start` is called (or on ``with AdsClient(...) as client``).
    """

    def __init__(
        self,
        address: str,
        *,
        node_id: str | None = None,
        role: str = DEFAULT_ROLE,
        cluster: str = "gateway",
        tls: bool = False,
        root_certificates: bytes | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        on_update: Callable[[XdsUpdate], None] | None = None,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        channel_options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise XdsClientError(f"xDS address {address!r} is not host:port, e.g. 127.0.0.1:9977")
        self.address = address
        self.node_id = node_id or default_node_id()
        self.role = role
        self.cluster = cluster
        if credentials is None and (tls or root_certificates is not None):
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
        self._credentials = credentials
        self._options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", _MAX_RECEIVE),
            ("grpc.max_send_message_length", 64 << 20),
            ("grpc.keepalive_time_ms", _KEEPALIVE_MS),
            ("grpc.keepalive_timeout_ms", _KEEPALIVE_TIMEOUT_MS),
            ("grpc.keepalive_permit_without_calls", 0),
            # Reconnection is this client's job (below); keep the channel's own backoff short.
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
            *channel_options,
        ]
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._cond = threading.Condition()
        self._resources: dict[str, dict[str, Any]] = {t: {} for t in TYPE_ORDER}
        self._received: set[str] = set()
        self._versions: dict[str, str] = {}
        self._nonces: dict[str, str] = {}
        self._wanted: dict[str, tuple[str, ...]] = {TYPE_ROUTE: (), TYPE_ENDPOINT: ()}
        self._listeners: list[Callable[[XdsUpdate], None]] = [on_update] if on_update else []
        self._iterators: list[_Updates] = []
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._call: Any = None
        self._channel: grpc.Channel | None = None
        self._connected = False
        self._connects = 0
        self._responses = 0
        self._last_error = ""
        self._next_retry = 0.0

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> AdsClient:
        """Start the client thread (idempotent).

        Returns:
            The client, for ``client = AdsClient(addr).start()``.

        Raises:
            XdsClientError: The client was closed.
        """
        if self._closed.is_set():
            raise XdsClientError("this xDS client is closed: create a new AdsClient")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"ads-client-{self.node_id}", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop the stream and the thread; iterators from :meth:`updates` end.

        Args:
            timeout: Seconds to wait for the thread.
        """
        self._closed.set()
        call, channel = self._call, self._channel
        if call is not None:
            call.cancel()
        if channel is not None:
            channel.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        with self._cond:
            self._connected = False
            iterators = list(self._iterators)
            self._iterators.clear()
            self._cond.notify_all()
        for it in iterators:
            it.put(_STOP)

    def __enter__(self) -> AdsClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- observation -------------------------------------------------------------------------------------------

    def snapshot(self) -> ServedSnapshot:
        """Return the latest resources of every type, sorted by name, with their versions."""
        with self._cond:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> ServedSnapshot:
        def listed(type_url: str) -> list[Any]:
            res = self._resources[type_url]
            return [res[k] for k in sorted(res)]

        return ServedSnapshot(
            listeners=listed(TYPE_LISTENER),
            route_configurations=listed(TYPE_ROUTE),
            clusters=listed(TYPE_CLUSTER),
            endpoints=listed(TYPE_ENDPOINT),
            versions=dict(self._versions),
        )

    @property
    def versions(self) -> dict[str, str]:
        """Type URL -> the last version received (and ACKed)."""
        with self._cond:
            return dict(self._versions)

    def state(self) -> ClientState:
        """Return the connection state."""
        with self._cond:
            return ClientState(self._connected, self._connects, self._responses, self._last_error,
                               self._next_retry)

    def add_listener(self, fn: Callable[[XdsUpdate], None]) -> None:
        """Call ``fn(update)`` for every update, in the client thread (keep it quick; exceptions are logged).

        Args:
            fn: The callback.
        """
        with self._cond:
            self._listeners.append(fn)

    def updates(self, maxsize: int = 10_000) -> _Updates:
        """Return an iterator over the updates from now on; it ends when the client is closed.

        Args:
            maxsize: Updates kept for a slow consumer; more are dropped (counted in ``.dropped``).

        Returns:
            An iterator (also ``.get(timeout)`` and ``.close()``).
        """
        it = _Updates(self, maxsize)
        with self._cond:
            if self._closed.is_set():
                it.put(_STOP)
            else:
                self._iterators.append(it)
        return it

    def _remove_iterator(self, it: _Updates) -> None:
        with self._cond:
            if it in self._iterators:
                self._iterators.remove(it)

    def wait_for(self, predicate: Callable[[ServedSnapshot], bool], timeout: float) -> bool:
        """Wait until ``predicate(snapshot())`` holds, re-checking after every update.

        Args:
            predicate: A quick function of the snapshot.
            timeout: Seconds to wait at most.

        Returns:
            Whether the predicate held before the timeout.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if predicate(self._snapshot_locked()):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed.is_set():
                    return False
                self._cond.wait(remaining)

    def synced(self) -> bool:
        """Whether CDS and LDS arrived, and EDS and RDS hold every name the clusters and listeners need."""
        with self._cond:
            return self._synced_locked()

    def _synced_locked(self) -> bool:
        if not {TYPE_CLUSTER, TYPE_LISTENER} <= self._received:
            return False
        for type_url in (TYPE_ENDPOINT, TYPE_ROUTE):
            wanted = self._wanted[type_url]
            # A type with nothing to ask for is complete: Envoy sends no request for it either.
            if wanted and (type_url not in self._received or not set(wanted) <= set(self._resources[type_url])):
                return False
        return True

    def wait_synced(self, timeout: float) -> bool:
        """Wait until :meth:`synced` holds.

        Args:
            timeout: Seconds to wait at most.

        Returns:
            Whether the client synced before the timeout.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._synced_locked():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed.is_set():
                    return False
                self._cond.wait(remaining)
            return True

    # -- the stream --------------------------------------------------------------------------------------------

    def _node(self) -> base_pb2.Node:
        node = base_pb2.Node(id=self.node_id, cluster=self.cluster, user_agent_name="gloo-nb")
        node.metadata.CopyFrom(struct_pb2.Struct(fields={"role": struct_pb2.Value(string_value=self.role)}))
        return node

    def _request(self, type_url: str, *, names: Sequence[str] = (), version: str = "",
                 nonce: str = "") -> discovery_pb2.DiscoveryRequest:
        return discovery_pb2.DiscoveryRequest(type_url=type_url, resource_names=list(names), version_info=version,
                                              response_nonce=nonce)

    def _run(self) -> None:
        delay = self._backoff_initial
        while not self._closed.is_set():
            got_response = self._stream_once()
            if self._closed.is_set():
                break
            if got_response:
                delay = self._backoff_initial  # the last stream worked: retry soon, as from scratch
            # Full jitter over the upper half: replicas and inspectors do not reconnect in lockstep.
            sleep = random.uniform(delay / 2, delay)
            with self._cond:
                self._next_retry = sleep
            _log.info("xDS stream to %s ended (%s); reconnecting in %.2fs", self.address, self._last_error, sleep)
            if self._closed.wait(sleep):
                break
            delay = min(delay * 2, self._backoff_max)

    def _stream_once(self) -> bool:
        requests: queue.SimpleQueue[Any] = queue.SimpleQueue()

        def request_iter() -> Iterator[discovery_pb2.DiscoveryRequest]:
            while True:
                item = requests.get()
                if item is _STOP:
                    return
                yield item

        if self._credentials is not None:
            channel = grpc.secure_channel(self.address, self._credentials, options=self._options)
        else:
            channel = grpc.insecure_channel(self.address, options=self._options)
        self._channel = channel
        got_response = False
        try:
            stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
            with self._cond:
                self._connects += 1
                # Resume: the versions held, so that a control plane with the same snapshot need not resend
                # (Envoy does the same; the sandbox and go-control-plane answer a new stream regardless).
                first = True
                for type_url in TYPE_ORDER:
                    named = type_url in self._wanted
                    if named and not self._wanted[type_url]:
                        continue
                    req = self._request(type_url, names=self._wanted.get(type_url, ()),
                                        version=self._versions.get(type_url, ""))
                    if first:
                        req.node.CopyFrom(self._node())  # the node goes with a stream's first request only
                        first = False
                    requests.put(req)
                # Nonces belong to a stream.
                self._nonces.clear()
            call = stub.StreamAggregatedResources(request_iter())
            self._call = call
            if self._closed.is_set():
                call.cancel()
            for response in call:
                got_response = True
                self._on_response(response, requests)
            with self._cond:
                self._last_error = "stream closed by the server"
        except grpc.RpcError as err:
            code = err.code() if hasattr(err, "code") else None
            details = err.details() if hasattr(err, "details") else str(err)
            with self._cond:
                self._last_error = f"{code.name if code else 'error'}: {details}"
        except Exception as err:  # noqa: BLE001 - the client thread must survive and reconnect
            _log.exception("xDS client stream failed")
            with self._cond:
                self._last_error = f"{type(err).__name__}: {err}"
        finally:
            requests.put(_STOP)
            self._call = None
            self._channel = None
            channel.close()
            with self._cond:
                self._connected = False
                self._cond.notify_all()
        return got_response

    def _on_response(self, response: discovery_pb2.DiscoveryResponse, requests: queue.SimpleQueue[Any]) -> None:
        now = time.time()
        type_url = response.type_url
        cls = protos.message_class(type_url)
        decoded: dict[str, Any] = {}
        size = 0
        for packed in response.resources:
            size += len(packed.value)
            if cls is None or packed.type_url != type_url:
                continue  # not a type gloo_nb knows: ACK it anyway, an observer never NACKs
            try:
                msg = cls.FromString(packed.value)
            except Exception:  # noqa: BLE001 - an undecodable resource must not stop the watch
                _log.warning("cannot decode a %s resource from %s", type_url, self.address)
                continue
            decoded[_resource_name(msg)] = msg
        follow_ups: list[discovery_pb2.DiscoveryRequest] = []
        with self._cond:
            if type_url in (TYPE_LISTENER, TYPE_CLUSTER):
                self._resources[type_url] = decoded  # wildcard SotW: the response is the whole set
            elif type_url in self._resources:
                # A response may answer an older subscription (the server sent it before our new names arrived):
                # keep only what is still wanted; the ACK below carries the current names.
                wanted = set(self._wanted[type_url])
                self._resources[type_url].update((k, v) for k, v in decoded.items() if k in wanted)
            self._versions[type_url] = response.version_info
            self._nonces[type_url] = response.nonce
            self._received.add(type_url)
            self._responses += 1
            self._connected = True
            self._next_retry = 0.0
            names = self._wanted.get(type_url, ())
            ack = self._request(type_url, names=names, version=response.version_info, nonce=response.nonce)
            requests.put(ack)
            # Envoy asks for a child type's new names after it ACKs the parent (make-before-break).
            if type_url == TYPE_CLUSTER:
                follow_ups += self._resubscribe(TYPE_ENDPOINT, eds_names(decoded.values()))
            elif type_url == TYPE_LISTENER:
                follow_ups += self._resubscribe(TYPE_ROUTE, rds_names(decoded.values()))
            for req in follow_ups:
                requests.put(req)
            listeners = list(self._listeners)
            iterators = list(self._iterators)
            self._cond.notify_all()
        update = XdsUpdate(now, type_url, response.version_info, response.nonce, tuple(sorted(decoded)), size)
        for fn in listeners:
            try:
                fn(update)
            except Exception:  # noqa: BLE001 - a broken observer must not break the stream
                _log.exception("xDS update listener failed")
        for it in iterators:
            it.put(update)

    def _resubscribe(self, type_url: str, names: list[str]) -> list[discovery_pb2.DiscoveryRequest]:
        # Called with the lock held.
        wanted = tuple(names)
        if wanted == self._wanted[type_url]:
            return []
        self._wanted[type_url] = wanted
        keep = set(wanted)
        held = self._resources[type_url]
        self._resources[type_url] = {k: v for k, v in held.items() if k in keep}
        return [self._request(type_url, names=wanted, version=self._versions.get(type_url, ""),
                              nonce=self._nonces.get(type_url, ""))]
