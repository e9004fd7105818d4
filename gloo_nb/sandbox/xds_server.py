"""A Gloo-like ADS server (State of the World) for the sandbox's Envoy replicas.

It behaves like Gloo's xDS server on port 9977: solo-kit's fork of go-control-plane's snapshot cache
created with ``Ads: true``, keyed by ``node.metadata.role`` (``projects/gloo/pkg/xds/node_hash.go``). Nodes without
a role get Gloo's ``misconfigured-node`` fallback snapshot (``projects/gloo/pkg/xds/fallback_snapshot.go``).

Each ADS stream is served by one worker thread of grpcio's sync server plus one reader thread; both wait on
queues, never on timers, so a new snapshot reaches every connected Envoy within milliseconds.

Per stream and type the server remembers what it last sent (version, nonce, requested names) and answers a
request only when it has something new for that stream: the first request, a new snapshot version, or a changed
set of requested names. ACKs and NACKs are recorded per node (:meth:`AdsServer.nodes`) and reported to listeners.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field, replace
from typing import Any

import grpc
from envoy.config.core.v3 import address_pb2, base_pb2, config_source_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import any_pb2
from google.protobuf.message import Message

from gloo_nb.errors import UnreachableError

__all__ = [
    "MISCONFIGURED_NODE",
    "TYPE_CLUSTER",
    "TYPE_ENDPOINT",
    "TYPE_LISTENER",
    "TYPE_ORDER",
    "TYPE_ROUTE",
    "AdsServer",
    "Nack",
    "NodeState",
    "TypeState",
    "XdsEvent",
    "XdsServerError",
    "XdsSnapshot",
    "bind_insecure",
    "fallback_snapshot",
]

_log = logging.getLogger(__name__)

TYPE_LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
TYPE_ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
TYPE_CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
TYPE_ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"

# Make-before-break: clusters before their endpoints, listeners before their routes
# (go-control-plane's ADS ordering and Envoy's xDS protocol doc, "Eventual consistency considerations").
TYPE_ORDER = (TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE)

# Types whose requests name the resources they want; LDS and CDS are wildcard subscriptions.
_NAMED_TYPES = frozenset({TYPE_ROUTE, TYPE_ENDPOINT})

MISCONFIGURED_NODE = "misconfigured-node"
_ROLE_KEY = "role"
_MAX_MESSAGE = 256 * 1024 * 1024


class XdsServerError(UnreachableError):
    """The ADS server cannot start (for example, its port is taken): pick another port or stop the other server."""


@dataclass(frozen=True)
class XdsSnapshot:
    """One versioned set of xDS resources served to every node with the same key.

    Attributes:
        resources: Type URL -> protos (Listener, RouteConfiguration, Cluster, ClusterLoadAssignment).
        versions: Type URL -> ``version_info`` sent with that type. A type missing here is served as ``""``.
    """

    resources: Mapping[str, Sequence[Message]]
    versions: Mapping[str, str]
    # Packed Any per message object, shared by every stream that serves this snapshot (packing a large
    # RouteConfiguration once instead of once per replica). Keyed by id(); the message is kept alive alongside.
    _packed: dict[int, tuple[Message, any_pb2.Any]] = field(default_factory=dict, compare=False, repr=False)

    def version(self, type_url: str) -> str:
        """Return the version of one type.

        Args:
            type_url: An xDS type URL.

        Returns:
            The version, or ``""`` when the snapshot has none for that type.
        """
        return self.versions.get(type_url, "")

    def pack(self, message: Message) -> any_pb2.Any:
        """Return ``message`` packed as an Any, cached for the lifetime of this snapshot.

        Args:
            message: A resource of this snapshot (or any other message, which is then cached too).

        Returns:
            The packed resource.
        """
        hit = self._packed.get(id(message))
        if hit is not None and hit[0] is message:
            return hit[1]
        packed = any_pb2.Any()
        packed.Pack(message)
        self._packed[id(message)] = (message, packed)
        return packed


@dataclass(frozen=True)
class Nack:
    """A rejected response, as the node reported it.

    Attributes:
        version: The ``version_info`` of the NACK request (the node's previous good version).
        nonce: The nonce of the rejected response.
        message: Envoy's ``error_detail.message``.
        time: When the NACK arrived (``time.time()``).
    """

    version: str
    nonce: str
    message: str
    time: float


@dataclass(frozen=True)
class TypeState:
    """What one node got and acknowledged for one xDS type.

    Attributes:
        sent_version: Version of the last response sent, or None.
        sent_nonce: Nonce of the last response sent, or None.
        sent_time: When the last response was sent.
        sent_names: Names of the resources in the last response.
        acked_version: Last version the node ACKed, or None.
        acked_nonce: Nonce of that ACK.
        acked_time: When that ACK arrived.
        nack: The last NACK, or None.
        requested_names: Resource names of the latest request (empty for a wildcard).
    """

    sent_version: str | None = None
    sent_nonce: str | None = None
    sent_time: float | None = None
    sent_names: tuple[str, ...] = ()
    acked_version: str | None = None
    acked_nonce: str | None = None
    acked_time: float | None = None
    nack: Nack | None = None
    requested_names: tuple[str, ...] = ()

    @property
    def rejected(self) -> bool:
        """Whether the node NACKed the response it was sent last."""
        return self.nack is not None and self.nack.nonce == self.sent_nonce

    @property
    def in_sync(self) -> bool:
        """Whether the node ACKed the response it was sent last."""
        return self.sent_nonce is not None and self.acked_nonce == self.sent_nonce


@dataclass(frozen=True)
class NodeState:
    """One xDS client as the server sees it.

    Attributes:
        node_id: ``node.id`` from the stream's first request.
        role: ``node.metadata.role``, or None when the node has none.
        key: The snapshot key serving this node (the role, or ``misconfigured-node``).
        cluster: ``node.cluster``.
        connected: Whether at least one stream of this node is open.
        streams: How many streams of this node are open.
        connects: How many streams this node has opened in total.
        connected_at: When the latest stream opened.
        types: Per type URL: sent, ACKed and NACKed versions.
    """

    node_id: str
    role: str | None
    key: str
    cluster: str = ""
    connected: bool = False
    streams: int = 0
    connects: int = 0
    connected_at: float | None = None
    types: Mapping[str, TypeState] = field(default_factory=dict)

    def acked(self, type_url: str) -> str | None:
        """Return the last version this node ACKed for one type, or None."""
        state = self.types.get(type_url)
        return state.acked_version if state else None

    def applied(self, snapshot: XdsSnapshot) -> bool:
        """Whether the node ACKed ``snapshot``'s version of every type it subscribes to.

        Args:
            snapshot: The snapshot to compare with.

        Returns:
            True when every type this node has requested is ACKed at the snapshot's version.
        """
        return all(
            state.acked_version == snapshot.version(type_url) and state.in_sync
            for type_url, state in self.types.items()
            if type_url in TYPE_ORDER
        )


@dataclass(frozen=True)
class XdsEvent:
    """Something that happened on an ADS stream, reported to listeners.

    Attributes:
        kind: ``connect``, ``disconnect``, ``request``, ``ack``, ``nack`` or ``response``.
        node_id: The node's id ("" when the node never said).
        key: The snapshot key serving the node.
        time: ``time.time()`` of the event.
        type_url: The xDS type, "" for connect/disconnect.
        version: The version sent (response), ACKed (ack) or kept (nack).
        nonce: The nonce of the response, or the one the request answers.
        error: Envoy's NACK message.
        resource_names: Names requested (request/ack/nack) or sent (response).
    """

    kind: str
    node_id: str
    key: str
    time: float
    type_url: str = ""
    version: str = ""
    nonce: str = ""
    error: str = ""
    resource_names: tuple[str, ...] = ()


NodeTransform = Callable[[str, str, list[Message]], list[Message]]


def _resource_name(message: Message) -> str:
    name = getattr(message, "name", None)
    if isinstance(name, str) and name:
        return name
    return str(getattr(message, "cluster_name", ""))


def fallback_snapshot(bind_address: str = "::", port: int = 8080, status: int = 500) -> XdsSnapshot:
    """Build Gloo's snapshot for nodes without a role (``projects/gloo/pkg/xds/fallback_snapshot.go``).

    Args:
        bind_address: Listener address (Gloo: ``::``, or ``0.0.0.0`` when IPv4 only).
        port: Listener port (Gloo: 8080).
        status: The direct response status (Gloo: 500).

    Returns:
        A snapshot with listener ``listener-for-invalid-envoy`` and route config ``routes-for-invalid-envoy``,
        versioned ``unversioned``.
    """
    route_config_name = "routes-for-invalid-envoy"
    routes = route_pb2.RouteConfiguration(
        name=route_config_name,
        virtual_hosts=[
            route_components_pb2.VirtualHost(
                name="invalid-envoy-config-vhost",
                domains=["*"],
                routes=[
                    route_components_pb2.Route(
                        match=route_components_pb2.RouteMatch(prefix="/"),
                        direct_response=route_components_pb2.DirectResponseAction(
                            status=status,
                            body=base_pb2.DataSource(
                                inline_string="Invalid Envoy Bootstrap Configuration. "
                                "Please refer to Gloo documentation https://gloo.solo.io/"
                            ),
                        ),
                    )
                ],
            )
        ],
    )
    router = any_pb2.Any(type_url="type.googleapis.com/envoy.extensions.filters.http.router.v3.Router")
    manager = hcm_pb2.HttpConnectionManager(
        codec_type=hcm_pb2.HttpConnectionManager.AUTO,
        stat_prefix="http",
        rds=hcm_pb2.Rds(
            config_source=config_source_pb2.ConfigSource(
                ads=config_source_pb2.AggregatedConfigSource(), resource_api_version=config_source_pb2.V3
            ),
            route_config_name=route_config_name,
        ),
        http_filters=[hcm_pb2.HttpFilter(name="envoy.filters.http.router", typed_config=router)],
    )
    typed_manager = any_pb2.Any()
    typed_manager.Pack(manager)
    listener = listener_pb2.Listener(
        name="listener-for-invalid-envoy",
        address=address_pb2.Address(
            socket_address=address_pb2.SocketAddress(
                protocol=address_pb2.SocketAddress.TCP, address=bind_address, port_value=port, ipv4_compat=True
            )
        ),
        filter_chains=[
            listener_components_pb2.FilterChain(
                filters=[
                    listener_components_pb2.Filter(
                        name="envoy.filters.network.http_connection_manager", typed_config=typed_manager
                    )
                ]
            )
        ],
    )
    types = (TYPE_ENDPOINT, TYPE_CLUSTER, TYPE_ROUTE, TYPE_LISTENER)
    return XdsSnapshot(
        resources={TYPE_ENDPOINT: [], TYPE_CLUSTER: [], TYPE_ROUTE: [routes], TYPE_LISTENER: [listener]},
        versions=dict.fromkeys(types, "unversioned"),
    )


_STOP = object()
_SNAPSHOT = object()


@dataclass
class _Watch:
    """Per stream and type: the open request and what this stream last sent."""

    pending: bool = False
    names: tuple[str, ...] = ()
    sent: bool = False
    sent_version: str = ""
    sent_nonce: str = ""
    sent_names: tuple[str, ...] | None = None


class _Stream:
    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.node_id = ""
        self.key: str | None = None
        self.watches: dict[str, _Watch] = {}
        self.nonce = 0


class _Servicer(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):
    def __init__(self, server: AdsServer) -> None:
        self._server = server

    def StreamAggregatedResources(  # noqa: N802 - the gRPC method name
        self, request_iterator: Iterator[discovery_pb2.DiscoveryRequest], context: grpc.ServicerContext
    ) -> Iterator[discovery_pb2.DiscoveryResponse]:
        return self._server._serve_stream(request_iterator, context)


def bind_insecure(server: grpc.Server, host: str, port: int, what: str) -> int:
    """Bind a gRPC server's plaintext port, or say which server could not bind where.

    gRPC answers a failed bind with port 0 or, on some versions, a ``RuntimeError``: both become one error.

    Args:
        server: The server, not started yet.
        host: The address (loopback).
        port: The port (0: any free one).
        what: The server, for the message ("the ADS server").

    Returns:
        The port bound.

    Raises:
        XdsServerError: The port cannot be bound.
    """
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as exc:
        raise XdsServerError(f"cannot bind {what} to {host}:{port}: {exc}") from exc
    if bound == 0:
        raise XdsServerError(f"cannot bind {what} to {host}:{port}")
    return bound


class AdsServer:
    """An ADS (State of the World) server with a snapshot cache keyed by ``node.metadata.role``.

    Args:
        host: Address to bind (loopback only in the sandbox).
        port: Port to bind, 0 for a free one.
        max_workers: gRPC worker threads; each open stream holds one.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, max_workers: int = 32) -> None:
        self._host = host
        self._port = port
        self._max_workers = max_workers
        self._lock = threading.Condition(threading.RLock())
        self._snapshots: dict[str, XdsSnapshot] = {MISCONFIGURED_NODE: fallback_snapshot()}
        self._nodes: dict[str, NodeState] = {}
        self._streams: set[_Stream] = set()
        self._transform: NodeTransform | None = None
        self._listeners: list[Callable[[XdsEvent], None]] = []
        self._server: grpc.Server | None = None
        self._stopping = False
        self.address = ""

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving; after :meth:`stop`, serve again on the same port, as a restarted control plane.

        A ``grpc.Server`` cannot start again once stopped, so each start makes a new one. A start after a stop binds
        the port the first start bound (the Envoys' bootstrap, ``endpoints.json`` and kubeconfig port-forwards name
        it) and begins with an empty snapshot cache, as a new Gloo process does (its xDS cache lives in memory): a
        node's requests wait until the control plane sets its snapshot again; the node states (connects, ACKs) are
        the sandbox's observations and stay.

        Returns:
            The address Envoy should dial, e.g. ``127.0.0.1:40123``.

        Raises:
            XdsServerError: The port cannot be bound (on a restart: someone else took it meanwhile).
        """
        if self._server is not None:
            return self.address
        if self.address:
            with self._lock:
                self._port = int(self.address.rsplit(":", 1)[1])
                self._snapshots = {MISCONFIGURED_NODE: fallback_snapshot()}
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="ads"),
            options=[
                ("grpc.max_receive_message_length", _MAX_MESSAGE),
                ("grpc.max_send_message_length", _MAX_MESSAGE),
                ("grpc.so_reuseport", 0),
                # Envoy keeps one ADS stream open for its lifetime: allow its keepalives.
                ("grpc.http2.min_ping_interval_without_data_ms", 5000),
                ("grpc.keepalive_permit_without_calls", 1),
            ],
            maximum_concurrent_rpcs=self._max_workers,
        )
        ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(_Servicer(self), server)
        port = bind_insecure(server, self._host, self._port, "the ADS server")
        server.start()
        with self._lock:
            self._stopping = False
        self._server = server
        self.address = f"{self._host}:{port}"
        return self.address

    @property
    def serving(self) -> bool:
        """Whether the server listens now (started and not stopped)."""
        return self._server is not None

    def stop(self) -> None:
        """Stop serving and end every open stream promptly."""
        with self._lock:
            self._stopping = True
            streams = list(self._streams)
        for stream in streams:
            stream.queue.put(_STOP)
        if self._server is not None:
            self._server.stop(grace=0.5).wait(5)
            self._server = None

    def __enter__(self) -> AdsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- cache -------------------------------------------------------------------------------------------------

    def set_snapshot(self, key: str, snapshot: XdsSnapshot) -> None:
        """Serve ``snapshot`` to every node whose role is ``key``; connected nodes get it at once.

        Args:
            key: The snapshot key, ``<namespace>~<proxy>``, e.g. ``gloo-system~gateway-proxy``.
            snapshot: The resources and versions.
        """
        with self._lock:
            self._snapshots[key] = snapshot
            streams = [s for s in self._streams if s.key == key]
        for stream in streams:
            stream.queue.put(_SNAPSHOT)

    def snapshot(self, key: str) -> XdsSnapshot | None:
        """Return the snapshot served under ``key``, or None."""
        with self._lock:
            return self._snapshots.get(key)

    def clear_snapshot(self, key: str) -> None:
        """Forget the snapshot of ``key``; nodes keep what they have, new requests wait for a new one."""
        with self._lock:
            self._snapshots.pop(key, None)

    def set_node_transform(self, fn: NodeTransform | None) -> None:
        """Rewrite the resources sent to each node, e.g. each replica's listener port.

        Args:
            fn: ``fn(node_id, type_url, resources) -> resources``; it must not mutate its input and must be
                quick (it runs on every response). None removes the transform.
        """
        with self._lock:
            self._transform = fn

    def add_listener(self, fn: Callable[[XdsEvent], None]) -> None:
        """Call ``fn`` for every stream event; it runs in the stream's thread and must be quick.

        Args:
            fn: The callback.
        """
        with self._lock:
            self._listeners.append(fn)

    # -- observation -------------------------------------------------------------------------------------------

    def nodes(self) -> dict[str, NodeState]:
        """Return every node seen so far, by node id (frozen values: safe to keep)."""
        with self._lock:
            return dict(self._nodes)

    def wait_for(self, predicate: Callable[[dict[str, NodeState]], bool], timeout: float) -> bool:
        """Wait until ``predicate(nodes())`` holds, re-checking on every stream event.

        Args:
            predicate: A quick function of the node states.
            timeout: Seconds to wait at most.

        Returns:
            Whether the predicate held before the timeout.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                if predicate(dict(self._nodes)):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)

    def wait_applied(self, key: str, timeout: float, *, count: int = 1) -> bool:
        """Wait until at least ``count`` connected nodes of ``key`` ACKed its current snapshot.

        Args:
            key: The snapshot key.
            timeout: Seconds to wait at most.
            count: How many connected nodes must have applied it.

        Returns:
            Whether it happened before the timeout.
        """

        def done(nodes: dict[str, NodeState]) -> bool:
            snap = self._snapshots.get(key)
            if snap is None:
                return False
            live = [n for n in nodes.values() if n.key == key and n.connected]
            return len(live) >= count and all(n.applied(snap) for n in live)

        return self.wait_for(done, timeout)

    # -- streams -----------------------------------------------------------------------------------------------

    def _emit(self, event: XdsEvent) -> None:
        for fn in list(self._listeners):
            try:
                fn(event)
            except Exception:  # a broken observer must not break the stream
                _log.exception("xDS event listener failed")

    def _update_node(self, node_id: str, fn: Callable[[NodeState], NodeState]) -> None:
        with self._lock:
            current = self._nodes.get(node_id)
            if current is not None:
                self._nodes[node_id] = fn(current)
                self._lock.notify_all()

    def _update_type(self, node_id: str, type_url: str, **changes: Any) -> None:
        def apply(node: NodeState) -> NodeState:
            types = dict(node.types)
            types[type_url] = replace(types.get(type_url, TypeState()), **changes)
            return replace(node, types=types)

        self._update_node(node_id, apply)

    def _serve_stream(
        self, request_iterator: Iterator[discovery_pb2.DiscoveryRequest], context: grpc.ServicerContext
    ) -> Iterator[discovery_pb2.DiscoveryResponse]:
        stream = _Stream()
        with self._lock:
            if self._stopping:
                return
            self._streams.add(stream)
        context.add_callback(lambda: stream.queue.put(_STOP))

        def read() -> None:
            try:
                for request in request_iterator:
                    stream.queue.put(request)
            except Exception as exc:  # noqa: BLE001 - the stream ended or was cancelled; the handler sees _STOP
                _log.debug("xDS request stream of %s ended: %r", context.peer(), exc)
            finally:
                stream.queue.put(_STOP)

        threading.Thread(target=read, name="ads-reader", daemon=True).start()
        try:
            while True:
                item = stream.queue.get()
                if item is _STOP:
                    break
                if item is _SNAPSHOT:
                    responses = self._on_snapshot(stream)
                else:
                    responses = self._on_request(stream, item)
                yield from responses
        finally:
            with self._lock:
                self._streams.discard(stream)
            if stream.key is not None:
                self._update_node(
                    stream.node_id,
                    lambda n: replace(n, streams=max(0, n.streams - 1), connected=n.streams > 1),
                )
                self._emit(XdsEvent("disconnect", stream.node_id, stream.key, time.time()))

    def _connect(self, stream: _Stream, request: discovery_pb2.DiscoveryRequest) -> None:
        node = request.node
        role_value = node.metadata.fields.get(_ROLE_KEY) if request.HasField("node") else None
        role = role_value.string_value if role_value is not None and role_value.string_value else None
        stream.node_id = node.id
        stream.key = role or MISCONFIGURED_NODE
        now = time.time()
        with self._lock:
            old = self._nodes.get(node.id)
            # A new stream of a node is a fresh Envoy (or a reconnect that resends everything): per-type state
            # starts over, since SotW resends every type on a new stream.
            self._nodes[node.id] = NodeState(
                node_id=node.id,
                role=role,
                key=stream.key,
                cluster=node.cluster,
                connected=True,
                streams=(old.streams if old else 0) + 1,
                connects=(old.connects if old else 0) + 1,
                connected_at=now,
            )
            self._lock.notify_all()
        self._emit(XdsEvent("connect", stream.node_id, stream.key, now))

    def _on_request(self, stream: _Stream, request: discovery_pb2.DiscoveryRequest) -> list[Any]:
        if stream.key is None:
            self._connect(stream, request)
        type_url = request.type_url
        watch = stream.watches.setdefault(type_url, _Watch())
        names = tuple(request.resource_names)
        nonce = request.response_nonce
        now = time.time()
        key = stream.key or MISCONFIGURED_NODE
        if nonce and nonce != watch.sent_nonce:
            # go-control-plane ignores requests that answer an older response: a newer one is in flight.
            return []
        if nonce:
            if request.HasField("error_detail"):
                nack = Nack(request.version_info, nonce, request.error_detail.message, now)
                self._update_type(stream.node_id, type_url, nack=nack, requested_names=names)
                self._emit(
                    XdsEvent("nack", stream.node_id, key, now, type_url, request.version_info, nonce,
                             request.error_detail.message, names)
                )
            else:
                self._update_type(
                    stream.node_id, type_url, acked_version=request.version_info, acked_nonce=nonce,
                    acked_time=now, requested_names=names,
                )
                self._emit(XdsEvent("ack", stream.node_id, key, now, type_url, request.version_info, nonce,
                                    "", names))
        else:
            self._update_type(stream.node_id, type_url, requested_names=names)
            self._emit(XdsEvent("request", stream.node_id, key, now, type_url, request.version_info, "", "", names))
        watch.pending = True
        watch.names = names
        response = self._respond(stream, type_url, watch)
        return [response] if response is not None else []

    def _on_snapshot(self, stream: _Stream) -> list[Any]:
        out = []
        ordered = [t for t in TYPE_ORDER if t in stream.watches]
        ordered += [t for t in stream.watches if t not in TYPE_ORDER]
        for type_url in ordered:
            watch = stream.watches[type_url]
            if watch.pending:
                response = self._respond(stream, type_url, watch)
                if response is not None:
                    out.append(response)
        return out

    def _respond(self, stream: _Stream, type_url: str, watch: _Watch) -> discovery_pb2.DiscoveryResponse | None:
        with self._lock:
            snapshot = self._snapshots.get(stream.key or MISCONFIGURED_NODE)
            transform = self._transform
        if snapshot is None:
            return None  # held until a snapshot for this key exists
        version = snapshot.version(type_url)
        named = type_url in _NAMED_TYPES
        if watch.sent and version == watch.sent_version and (not named or watch.names == watch.sent_names):
            return None
        resources = list(snapshot.resources.get(type_url, ()))
        if named:
            wanted = set(watch.names)
            resources = [r for r in resources if _resource_name(r) in wanted]
        if transform is not None:
            try:
                resources = transform(stream.node_id, type_url, resources)
            except Exception:
                _log.exception("node transform failed for %s %s; sending resources unchanged", stream.node_id,
                               type_url)
        stream.nonce += 1
        nonce = str(stream.nonce)
        response = discovery_pb2.DiscoveryResponse(
            version_info=version,
            type_url=type_url,
            nonce=nonce,
            resources=[snapshot.pack(r) for r in resources],
        )
        watch.pending = False
        watch.sent = True
        watch.sent_version = version
        watch.sent_nonce = nonce
        watch.sent_names = watch.names if named else None
        sent_names = tuple(_resource_name(r) for r in resources)
        now = time.time()
        self._update_type(stream.node_id, type_url, sent_version=version, sent_nonce=nonce, sent_time=now,
                          sent_names=sent_names)
        self._emit(XdsEvent("response", stream.node_id, stream.key or MISCONFIGURED_NODE, now, type_url, version,
                            nonce, "", sent_names))
        return response
