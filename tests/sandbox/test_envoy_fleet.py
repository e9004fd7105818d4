"""Real Envoy replicas driven by the sandbox's ADS server: ACK, traffic, NACK, restart, clean stop."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, config_source_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from google.protobuf import any_pb2, wrappers_pb2
from google.protobuf.message import Message
from polling import wait_until
from sandboxkit import alive

from gloo_nb.sandbox.envoy import EnvoyFleet, Replica, bootstrap_config, envoy_binary
from gloo_nb.sandbox.xds_server import (
    TYPE_CLUSTER,
    TYPE_ENDPOINT,
    TYPE_LISTENER,
    TYPE_ROUTE,
    AdsServer,
    NodeState,
    XdsSnapshot,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

ROLE = "gloo-system~gateway-proxy"
LISTENER = "listener-::-8080"
ROUTES = "listener-::-8080-routes"


def _pack(msg: Message) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(msg)
    return out


def listener() -> listener_pb2.Listener:
    hcm = hcm_pb2.HttpConnectionManager(
        stat_prefix="http",
        codec_type=hcm_pb2.HttpConnectionManager.AUTO,
        rds=hcm_pb2.Rds(
            route_config_name=ROUTES,
            config_source=config_source_pb2.ConfigSource(
                ads=config_source_pb2.AggregatedConfigSource(), resource_api_version=config_source_pb2.V3
            ),
        ),
        http_filters=[hcm_pb2.HttpFilter(name="envoy.filters.http.router", typed_config=_pack(router_pb2.Router()))],
    )
    return listener_pb2.Listener(
        name=LISTENER,
        address=address_pb2.Address(socket_address=address_pb2.SocketAddress(address="::", port_value=8080)),
        filter_chains=[listener_components_pb2.FilterChain(filters=[
            listener_components_pb2.Filter(name="envoy.filters.network.http_connection_manager",
                                           typed_config=_pack(hcm))])],
    )


def routes(body: str, *, broken: bool = False) -> route_pb2.RouteConfiguration:
    route = route_components_pb2.Route(match=route_components_pb2.RouteMatch(prefix="/"))
    if broken:
        # Gloo 1.3 emits weights as given; Envoy rejects a sum of 0.
        route.route.weighted_clusters.clusters.add(name="c", weight=wrappers_pb2.UInt32Value(value=0))
    else:
        route.direct_response.status = 200
        route.direct_response.body.inline_string = body
    return route_pb2.RouteConfiguration(
        name=ROUTES,
        virtual_hosts=[route_components_pb2.VirtualHost(name="gloo-system_vs", domains=["*"], routes=[route])],
    )


def snapshot(version: str, body: str, *, broken: bool = False) -> XdsSnapshot:
    return XdsSnapshot(
        resources={
            TYPE_LISTENER: [listener()],
            TYPE_ROUTE: [routes(body, broken=broken)],
            TYPE_CLUSTER: [],
            TYPE_ENDPOINT: [],
        },
        versions={TYPE_LISTENER: "l1", TYPE_ROUTE: version, TYPE_CLUSTER: "c1", TYPE_ENDPOINT: "e1"},
    )


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def applied_everywhere(version: str, fleet: EnvoyFleet):  # noqa: ANN201
    def check(nodes: dict[str, NodeState]) -> bool:
        return all(
            (n := nodes.get(r.node_id)) is not None and n.connected and n.acked(TYPE_ROUTE) == version
            and n.types[TYPE_ROUTE].in_sync
            for r in fleet.replicas
        )
    return check


def serves(replica: Replica, body: str, timeout: float = 15.0) -> bool:
    wait_until(lambda: get(replica.url_for(8080) + "/x"), f"{replica.node_id} to serve {body!r}",
               until=lambda answer: answer == (200, body), ignoring=(OSError,), timeout=timeout, interval=0.02)
    return True


@pytest.fixture
def ads() -> Iterator[AdsServer]:
    server = AdsServer(max_workers=8)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fleet(ads: AdsServer, tmp_path: Path) -> Iterator[EnvoyFleet]:
    envoys = EnvoyFleet(ads.address, tmp_path, replicas=2)
    by_node = {r.node_id: r for r in envoys.replicas}

    def transform(node_id: str, type_url: str, resources: list[Message]) -> list[Message]:
        replica = by_node.get(node_id)
        if type_url != TYPE_LISTENER or replica is None:
            return resources
        out = []
        for res in resources:
            copy = listener_pb2.Listener()
            copy.CopyFrom(res)
            sock = copy.address.socket_address
            sock.port_value = replica.port_for(sock.port_value)
            sock.address = "127.0.0.1"
            out.append(copy)
        return out

    ads.set_node_transform(transform)
    try:
        yield envoys
    finally:
        envoys.stop()


def test_bootstrap_is_gloo_like_and_valid(tmp_path: Path) -> None:
    config = bootstrap_config("gateway-proxy-0.gloo-system", ROLE, "127.0.0.1:9977", 19000)
    assert config["node"] == {"cluster": "gateway", "id": "gateway-proxy-0.gloo-system", "metadata": {"role": ROLE}}
    xds = config["static_resources"]["clusters"][0]
    assert (xds["name"], xds["alt_stat_name"]) == ("gloo.gloo-system.svc.cluster.local:9977", "xds_cluster")
    assert config["dynamic_resources"]["ads_config"]["transport_api_version"] == "V3"
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run([envoy_binary(), "--mode", "validate", "-c", str(path), "--disable-hot-restart"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def test_fleet_serves_updates_rejects_bad_config_and_survives_kill(ads: AdsServer, fleet: EnvoyFleet) -> None:
    ads.set_snapshot(ROLE, snapshot("r1", "hello v1"))
    fleet.start()
    assert ads.wait_for(applied_everywhere("r1", fleet), 10), ads.nodes()
    nodes = ads.nodes()
    for r in fleet.replicas:
        node = nodes[r.node_id]
        assert (node.role, node.cluster) == (ROLE, "gateway")
        assert {t: s.acked_version for t, s in node.types.items()} == {
            TYPE_CLUSTER: "c1", TYPE_LISTENER: "l1", TYPE_ROUTE: "r1"}
        assert serves(r, "hello v1"), r
    assert fleet.replicas[0].port_for(8080) != fleet.replicas[1].port_for(8080)

    # A new body reaches both replicas.
    ads.set_snapshot(ROLE, snapshot("r2", "hello v2"))
    assert ads.wait_for(applied_everywhere("r2", fleet), 5)
    for r in fleet.replicas:
        assert serves(r, "hello v2")

    # Envoy rejects weighted clusters summing to 0: a NACK with its message, the old route keeps serving.
    ads.set_snapshot(ROLE, snapshot("r3", "", broken=True))

    def nacked(nodes: dict[str, NodeState]) -> bool:
        return all(nodes[r.node_id].types[TYPE_ROUTE].rejected for r in fleet.replicas)

    assert ads.wait_for(nacked, 5), ads.nodes()
    for r in fleet.replicas:
        state = ads.nodes()[r.node_id].types[TYPE_ROUTE]
        assert state.nack is not None
        assert state.nack.version == "r2" and state.acked_version == "r2" and state.sent_version == "r3"
        assert "weight" in state.nack.message.lower(), state.nack.message
        assert get(r.url_for(8080) + "/x") == (200, "hello v2")

    # kill -9 one replica: the supervisor restarts it with the same ports and node id, and it resyncs.
    ads.set_snapshot(ROLE, snapshot("r4", "hello v4"))
    assert ads.wait_for(applied_everywhere("r4", fleet), 5)
    restarted: list[Replica] = []
    fleet.add_restart_listener(restarted.append)
    victim = fleet.replicas[1]
    old_pid, admin_port, port = victim.pid, victim.admin_port, victim.port_for(8080)
    assert old_pid is not None
    connects = ads.nodes()[victim.node_id].connects
    os.kill(old_pid, signal.SIGKILL)
    assert ads.wait_for(lambda n: n[victim.node_id].connects > connects and n[victim.node_id].connected, 10)
    assert ads.wait_for(applied_everywhere("r4", fleet), 10)
    assert serves(victim, "hello v4")
    assert victim.pid not in (None, old_pid)
    assert (victim.restarts, victim.admin_port, victim.port_for(8080)) == (1, admin_port, port)
    assert restarted == [victim]

    pids = fleet.pids()
    assert len(pids) == 2
    fleet.stop()
    assert fleet.pids() == []
    assert not any(alive(p) for p in pids + [old_pid])
    assert ads.wait_for(lambda n: not any(n[r.node_id].connected for r in fleet.replicas), 5)


class _Hello(http.server.BaseHTTPRequestHandler):
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = f"upstream {self.server.server_address[1]}".encode()  # type: ignore[index]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstreams() -> Iterator[list[int]]:
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello) for _ in range(2)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    try:
        yield [s.server_address[1] for s in servers]
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def eds_snapshot(version: str, ports: list[int]) -> XdsSnapshot:
    """One EDS cluster per upstream port; the route goes to the last one."""
    clusters, loads = [], []
    for port in ports:
        name = f"up-{port}"
        cluster = cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.EDS)
        cluster.connect_timeout.FromMilliseconds(1000)
        cluster.eds_cluster_config.service_name = name
        cluster.eds_cluster_config.eds_config.ads.SetInParent()
        cluster.eds_cluster_config.eds_config.resource_api_version = config_source_pb2.V3
        clusters.append(cluster)
        cla = endpoint_pb2.ClusterLoadAssignment(cluster_name=name)
        lb = cla.endpoints.add().lb_endpoints.add()
        lb.endpoint.address.socket_address.address = "127.0.0.1"
        lb.endpoint.address.socket_address.port_value = port
        loads.append(cla)
    rc = routes("")
    rc.virtual_hosts[0].routes[0].route.cluster = f"up-{ports[-1]}"
    return XdsSnapshot(
        resources={TYPE_LISTENER: [listener()], TYPE_ROUTE: [rc], TYPE_CLUSTER: clusters, TYPE_ENDPOINT: loads},
        versions=dict.fromkeys((TYPE_LISTENER, TYPE_ROUTE, TYPE_CLUSTER, TYPE_ENDPOINT), version),
    )


def test_new_eds_cluster_is_not_lost(ads: AdsServer, fleet: EnvoyFleet, upstreams: list[int]) -> None:
    ads.set_snapshot(ROLE, eds_snapshot("s1", upstreams[:1]))
    fleet.start()
    for r in fleet.replicas:
        assert serves(r, f"upstream {upstreams[0]}"), ads.nodes()
    # A second cluster appears: Envoy asks EDS for it by name (same EDS version as the CDS push) and must get it.
    ads.set_snapshot(ROLE, eds_snapshot("s2", upstreams))
    for r in fleet.replicas:
        assert serves(r, f"upstream {upstreams[1]}"), ads.nodes()
    assert ads.wait_applied(ROLE, 5, count=2)
    for r in fleet.replicas:
        eds = ads.nodes()[r.node_id].types[TYPE_ENDPOINT]
        assert sorted(eds.sent_names) == sorted(f"up-{p}" for p in upstreams)
