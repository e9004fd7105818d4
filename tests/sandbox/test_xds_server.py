"""The sandbox's ADS server, driven by a plain gRPC client that speaks SotW like Envoy."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import grpc
import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import struct_pb2
from google.rpc import status_pb2

from gloo_nb.sandbox.xds_server import (
    MISCONFIGURED_NODE,
    TYPE_CLUSTER,
    TYPE_ENDPOINT,
    TYPE_LISTENER,
    TYPE_ROUTE,
    AdsServer,
    XdsEvent,
    XdsSnapshot,
)

pytestmark = pytest.mark.sandbox

ROLE = "gloo-system~gateway-proxy"


class Client:
    """One ADS stream: send requests, read responses with a timeout."""

    def __init__(self, address: str, node_id: str, role: str | None = ROLE) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(self.channel)
        self.requests: queue.SimpleQueue[discovery_pb2.DiscoveryRequest | None] = queue.SimpleQueue()
        self.responses: queue.SimpleQueue[discovery_pb2.DiscoveryResponse] = queue.SimpleQueue()
        self.node = base_pb2.Node(id=node_id, cluster="gateway")
        if role is not None:
            self.node.metadata.CopyFrom(struct_pb2.Struct(fields={"role": struct_pb2.Value(string_value=role)}))
        self.first = True
        self.call = self.stub.StreamAggregatedResources(self._iter())
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _iter(self) -> Iterator[discovery_pb2.DiscoveryRequest]:
        while (req := self.requests.get()) is not None:
            yield req

    def _read(self) -> None:
        try:
            for resp in self.call:
                self.responses.put(resp)
        except grpc.RpcError:
            pass

    def send(self, type_url: str, *, names: tuple[str, ...] = (), version: str = "", nonce: str = "",
             error: str | None = None) -> None:
        req = discovery_pb2.DiscoveryRequest(type_url=type_url, resource_names=names, version_info=version,
                                             response_nonce=nonce)
        if self.first:
            req.node.CopyFrom(self.node)  # the node only goes with a stream's first request, as Envoy does
            self.first = False
        if error is not None:
            req.error_detail.CopyFrom(status_pb2.Status(code=13, message=error))
        self.requests.put(req)

    def ack(self, resp: discovery_pb2.DiscoveryResponse, names: tuple[str, ...] = ()) -> None:
        self.send(resp.type_url, names=names, version=resp.version_info, nonce=resp.nonce)

    def recv(self, timeout: float = 2.0) -> discovery_pb2.DiscoveryResponse:
        return self.responses.get(timeout=timeout)

    def nothing(self, timeout: float = 0.2) -> bool:
        try:
            self.responses.get(timeout=timeout)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self.requests.put(None)
        self.call.cancel()
        self.channel.close()


def snapshot(version: str, clusters: tuple[str, ...] = ("a",), routes: tuple[str, ...] = ("r1", "r2")) -> XdsSnapshot:
    return XdsSnapshot(
        resources={
            TYPE_LISTENER: [listener_pb2.Listener(name="listener-::-8080")],
            TYPE_ROUTE: [route_pb2.RouteConfiguration(name=n) for n in routes],
            TYPE_CLUSTER: [cluster_pb2.Cluster(name=c) for c in clusters],
            TYPE_ENDPOINT: [endpoint_pb2.ClusterLoadAssignment(cluster_name=c) for c in clusters],
        },
        versions=dict.fromkeys((TYPE_LISTENER, TYPE_ROUTE, TYPE_CLUSTER, TYPE_ENDPOINT), version),
    )


def names(resp: discovery_pb2.DiscoveryResponse) -> list[str]:
    out = []
    for packed in resp.resources:
        for cls in (route_pb2.RouteConfiguration, endpoint_pb2.ClusterLoadAssignment, listener_pb2.Listener,
                    cluster_pb2.Cluster):
            if packed.Is(cls.DESCRIPTOR):
                msg = cls()
                packed.Unpack(msg)
                out.append(getattr(msg, "name", "") or getattr(msg, "cluster_name", ""))
    return out


@pytest.fixture
def server() -> Iterator[AdsServer]:
    ads = AdsServer(max_workers=8)
    ads.start()
    try:
        yield ads
    finally:
        ads.stop()


@pytest.fixture
def clients(server: AdsServer) -> Iterator[list[Client]]:
    made: list[Client] = []
    try:
        yield made
    finally:
        for c in made:
            c.close()


def test_request_is_held_until_a_snapshot_exists_then_acked(server: AdsServer, clients: list[Client]) -> None:
    events: list[XdsEvent] = []
    server.add_listener(events.append)
    c = Client(server.address, "gateway-proxy-0.gloo-system")
    clients.append(c)
    c.send(TYPE_CLUSTER)
    assert c.nothing(0.3), "no snapshot yet: the request must be held"
    server.set_snapshot(ROLE, snapshot("v1"))
    resp = c.recv()
    assert (resp.type_url, resp.version_info, resp.nonce) == (TYPE_CLUSTER, "v1", "1")
    assert names(resp) == ["a"]
    c.ack(resp)
    assert server.wait_for(lambda n: n["gateway-proxy-0.gloo-system"].acked(TYPE_CLUSTER) == "v1", 2)
    node = server.nodes()["gateway-proxy-0.gloo-system"]
    assert (node.role, node.key, node.cluster, node.connected, node.streams) == (ROLE, ROLE, "gateway", True, 1)
    assert node.types[TYPE_CLUSTER].in_sync
    # Same version, acked: nothing more is sent.
    assert c.nothing()
    assert [e.kind for e in events] == ["connect", "request", "response", "ack"]


def test_named_types_are_filtered_and_new_names_get_an_answer(server: AdsServer, clients: list[Client]) -> None:
    server.set_snapshot(ROLE, snapshot("v1", clusters=("a", "b")))
    c = Client(server.address, "n1")
    clients.append(c)
    c.send(TYPE_ENDPOINT, names=("a",))
    resp = c.recv()
    assert names(resp) == ["a"]
    # The ACK of the same version with a new cluster name must still be answered (a new cluster's EDS).
    c.send(TYPE_ENDPOINT, names=("a", "b"), version=resp.version_info, nonce=resp.nonce)
    resp2 = c.recv()
    assert sorted(names(resp2)) == ["a", "b"]
    assert int(resp2.nonce) > int(resp.nonce)
    c.ack(resp2, names=("a", "b"))
    assert c.nothing()
    # A route config that is not asked for is not sent.
    c.send(TYPE_ROUTE, names=("r2",))
    assert names(c.recv()) == ["r2"]


def test_snapshot_change_pushes_in_make_before_break_order(server: AdsServer, clients: list[Client]) -> None:
    server.set_snapshot(ROLE, snapshot("v1"))
    c = Client(server.address, "n1")
    clients.append(c)
    c.send(TYPE_LISTENER)
    c.send(TYPE_ROUTE, names=("r1",))
    c.send(TYPE_CLUSTER)
    c.send(TYPE_ENDPOINT, names=("a",))
    first = {}
    for _ in range(4):
        r = c.recv()
        first[r.type_url] = r
    for t in (TYPE_LISTENER, TYPE_CLUSTER):
        c.ack(first[t])
    c.ack(first[TYPE_ROUTE], names=("r1",))
    c.ack(first[TYPE_ENDPOINT], names=("a",))
    assert server.wait_applied(ROLE, 2)
    server.set_snapshot(ROLE, snapshot("v2"))
    order = [c.recv().type_url for _ in range(4)]
    assert order == [TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE]
    assert not server.wait_applied(ROLE, 0.1), "v2 is sent but not acked yet"


def test_nack_is_recorded_and_not_resent(server: AdsServer, clients: list[Client]) -> None:
    server.set_snapshot(ROLE, snapshot("v1"))
    c = Client(server.address, "n1")
    clients.append(c)
    c.send(TYPE_CLUSTER)
    good = c.recv()
    c.ack(good)
    server.set_snapshot(ROLE, snapshot("v2", clusters=("bad",)))
    bad = c.recv()
    assert bad.version_info == "v2"
    c.send(TYPE_CLUSTER, version="v1", nonce=bad.nonce, error="Sum of weights must be greater than 0.")
    assert server.wait_for(lambda n: n["n1"].types[TYPE_CLUSTER].nack is not None, 2)
    state = server.nodes()["n1"].types[TYPE_CLUSTER]
    assert state.nack is not None
    assert (state.nack.version, state.nack.nonce, state.nack.message) == (
        "v1", bad.nonce, "Sum of weights must be greater than 0.")
    assert state.rejected and state.acked_version == "v1" and state.sent_version == "v2"
    assert c.nothing(), "a NACKed version is not resent"
    # A fixed snapshot goes out and clears the rejection.
    server.set_snapshot(ROLE, snapshot("v3"))
    fixed = c.recv()
    c.ack(fixed)
    assert server.wait_for(lambda n: n["n1"].types[TYPE_CLUSTER].acked_version == "v3", 2)
    assert not server.nodes()["n1"].types[TYPE_CLUSTER].rejected


def test_stale_nonce_is_ignored(server: AdsServer, clients: list[Client]) -> None:
    server.set_snapshot(ROLE, snapshot("v1", clusters=("a", "b")))
    c = Client(server.address, "n1")
    clients.append(c)
    c.send(TYPE_ENDPOINT, names=("a",))
    r1 = c.recv()
    c.send(TYPE_ENDPOINT, names=("a", "b"), version="v1", nonce=r1.nonce)
    r2 = c.recv()
    c.send(TYPE_ENDPOINT, names=("b",), version="v1", nonce=r1.nonce)  # answers an older response: ignored
    assert c.nothing()
    c.ack(r2, names=("a", "b"))
    assert server.wait_for(lambda n: n["n1"].types[TYPE_ENDPOINT].acked_nonce == r2.nonce, 2)
    assert server.nodes()["n1"].types[TYPE_ENDPOINT].in_sync
    assert c.nothing()


def test_node_without_role_gets_gloo_fallback(server: AdsServer, clients: list[Client]) -> None:
    c = Client(server.address, "stray", role=None)
    clients.append(c)
    c.send(TYPE_ROUTE, names=("routes-for-invalid-envoy",))
    resp = c.recv()
    assert resp.version_info == "unversioned"
    rc = route_pb2.RouteConfiguration()
    resp.resources[0].Unpack(rc)
    action = rc.virtual_hosts[0].routes[0].direct_response
    assert action.status == 500
    assert action.body.inline_string.startswith("Invalid Envoy Bootstrap Configuration.")
    assert server.nodes()["stray"].key == MISCONFIGURED_NODE


def test_node_transform_applies_per_node(server: AdsServer, clients: list[Client]) -> None:
    def transform(node_id: str, type_url: str, resources: list) -> list:
        if type_url != TYPE_LISTENER:
            return resources
        out = []
        for res in resources:
            copy = listener_pb2.Listener()
            copy.CopyFrom(res)
            copy.name = f"{res.name}@{node_id}"
            out.append(copy)
        return out

    server.set_node_transform(transform)
    snap = snapshot("v1")
    server.set_snapshot(ROLE, snap)
    a, b = Client(server.address, "a"), Client(server.address, "b")
    clients += [a, b]
    a.send(TYPE_LISTENER)
    b.send(TYPE_LISTENER)
    assert names(a.recv()) == ["listener-::-8080@a"]
    assert names(b.recv()) == ["listener-::-8080@b"]
    assert snap.resources[TYPE_LISTENER][0].name == "listener-::-8080", "the input is not mutated"


def test_disconnect_and_stop_end_streams(server: AdsServer) -> None:
    server.set_snapshot(ROLE, snapshot("v1"))
    c = Client(server.address, "n1")
    try:
        c.send(TYPE_CLUSTER)
        c.recv()
        c.close()
        assert server.wait_for(lambda n: not n["n1"].connected, 2)
        assert server.nodes()["n1"].streams == 0
        d = Client(server.address, "n2")
        d.send(TYPE_CLUSTER)
        d.recv()
        server.stop()
        d.thread.join(3)
        assert not d.thread.is_alive(), "stop must end open streams"
        assert server.wait_for(lambda n: not n["n2"].connected, 2)
        d.close()
    finally:
        c.close()
