"""The ADS shadow-node client against the sandbox's ADS server and against a whole sandbox."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, config_source_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from google.protobuf import any_pb2
from google.protobuf.message import Message
from polling import wait_until

from gloo_nb.kube import KubeClient
from gloo_nb.sandbox import runner
from gloo_nb.sandbox.envoy import free_port
from gloo_nb.sandbox.xds_server import AdsServer, NodeState, XdsSnapshot
from gloo_nb.xds import AdsClient, EnvoyAdmin, XdsClientError, XdsUpdate, route_rows
from gloo_nb.xds.protos import TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ORDER, TYPE_ROUTE

pytestmark = pytest.mark.sandbox

ROLE = "gloo-system~gateway-proxy"
SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary"


# --- builders ------------------------------------------------------------------------------------------


def _pack(msg: Message) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(msg)
    return out


def listener(rc_name: str, name: str = "listener-::-8080", port: int = 8080) -> listener_pb2.Listener:
    hcm = hcm_pb2.HttpConnectionManager(
        stat_prefix="http",
        rds=hcm_pb2.Rds(route_config_name=rc_name, config_source=config_source_pb2.ConfigSource(
            ads=config_source_pb2.AggregatedConfigSource(), resource_api_version=config_source_pb2.V3)),
        http_filters=[hcm_pb2.HttpFilter(name="envoy.filters.http.router", typed_config=_pack(router_pb2.Router()))],
    )
    return listener_pb2.Listener(
        name=name,
        address=address_pb2.Address(socket_address=address_pb2.SocketAddress(address="127.0.0.1", port_value=port)),
        filter_chains=[listener_components_pb2.FilterChain(filters=[listener_components_pb2.Filter(
            name="envoy.filters.network.http_connection_manager", typed_config=_pack(hcm))])],
    )


def route_config(name: str, *, routes: int = 1, body: str = "ok", weights: tuple[int, ...] | None = None,
                 cluster: str = "echo_gloo-system") -> route_pb2.RouteConfiguration:
    rc = route_pb2.RouteConfiguration(name=name)
    vh = rc.virtual_hosts.add(name="gloo-system_app", domains=["*"])
    for i in range(routes):
        r = vh.routes.add()
        r.match.prefix = f"/r{i}" if routes > 1 else "/"
        if weights is not None:
            for w in weights:
                r.route.weighted_clusters.clusters.add(name=cluster).weight.value = w
        else:
            r.direct_response.status = 200
            r.direct_response.body.inline_string = body
    return rc


def eds_cluster(name: str = "echo_gloo-system", service_name: str = "") -> cluster_pb2.Cluster:
    c = cluster_pb2.Cluster(name=name, type=cluster_pb2.Cluster.EDS)
    c.connect_timeout.seconds = 5
    c.eds_cluster_config.eds_config.ads.SetInParent()
    c.eds_cluster_config.eds_config.resource_api_version = config_source_pb2.V3
    if service_name:
        c.eds_cluster_config.service_name = service_name
    return c


def assignment(name: str, port: int = 9) -> endpoint_pb2.ClusterLoadAssignment:
    cla = endpoint_pb2.ClusterLoadAssignment(cluster_name=name)
    sa = cla.endpoints.add().lb_endpoints.add().endpoint.address.socket_address
    sa.address = "127.0.0.1"
    sa.port_value = port
    return cla


def snapshot(version: str, *, rc_name: str = "listener-::-8080-routes", routes: int = 1, body: str = "ok",
             weights: tuple[int, ...] | None = None, extra_rcs: tuple[str, ...] = ()) -> XdsSnapshot:
    return XdsSnapshot(
        resources={
            TYPE_LISTENER: [listener(rc_name)],
            TYPE_ROUTE: [route_config(rc_name, routes=routes, body=body, weights=weights),
                         *(route_config(n) for n in extra_rcs)],
            TYPE_CLUSTER: [eds_cluster(), eds_cluster("foxtrot_gloo-system", "foxtrot-eds")],
            TYPE_ENDPOINT: [assignment("echo_gloo-system"), assignment("foxtrot-eds"), assignment("unasked")],
        },
        versions={TYPE_LISTENER: f"l{version}", TYPE_ROUTE: f"r{version}", TYPE_CLUSTER: f"c{version}",
                  TYPE_ENDPOINT: f"e{version}"},
    )


def acked(node_id: str, snap: XdsSnapshot):  # noqa: ANN201
    def check(nodes: dict[str, NodeState]) -> bool:
        node = nodes.get(node_id)
        return (node is not None and node.connected
                and all(node.acked(t) == snap.version(t) and node.types[t].in_sync for t in TYPE_ORDER))
    return check


@pytest.fixture()
def server() -> Iterator[AdsServer]:
    srv = AdsServer(port=0)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture()
def closing() -> Iterator[list[AdsClient]]:
    clients: list[AdsClient] = []
    try:
        yield clients
    finally:
        for c in clients:
            c.close()


# --- against the sandbox's ADS server ------------------------------------------------------------------


def test_subscribes_like_envoy_and_acks_everything(server: AdsServer, closing: list[AdsClient]) -> None:
    snap = snapshot("1")
    server.set_snapshot(ROLE, snap)
    seen: list[XdsUpdate] = []
    client = AdsClient(server.address, on_update=seen.append).start()
    closing.append(client)
    assert client.wait_synced(5)
    assert server.wait_for(acked(client.node_id, snap), 5)
    node = server.nodes()[client.node_id]
    assert client.node_id.startswith("gloo-nb-inspector-")
    assert node.role == ROLE and node.key == ROLE and node.cluster == "gateway"
    # LDS and CDS are wildcards; RDS and EDS name what the listeners and clusters need (service_name first).
    assert node.types[TYPE_LISTENER].requested_names == ()
    assert node.types[TYPE_CLUSTER].requested_names == ()
    assert node.types[TYPE_ROUTE].requested_names == ("listener-::-8080-routes",)
    assert node.types[TYPE_ENDPOINT].requested_names == ("echo_gloo-system", "foxtrot-eds")
    assert all(node.types[t].nack is None for t in TYPE_ORDER)

    served = client.snapshot()
    assert served.versions == {t: snap.version(t) for t in TYPE_ORDER}
    assert [m.name for m in served.listeners] == ["listener-::-8080"]
    assert [m.name for m in served.route_configurations] == ["listener-::-8080-routes"]
    assert [m.name for m in served.clusters] == ["echo_gloo-system", "foxtrot_gloo-system"]
    assert [m.cluster_name for m in served.endpoints] == ["echo_gloo-system", "foxtrot-eds"]
    assert served.route_configurations[0] == snap.resources[TYPE_ROUTE][0]
    assert {u.type for u in seen} == {"lds", "rds", "cds", "eds"}
    rds = next(u for u in seen if u.type_url == TYPE_ROUTE)
    assert rds.version == "r1" and rds.resource_names == ("listener-::-8080-routes",) and rds.size > 0 and rds.nonce
    assert client.state().connected and client.state().connects == 1


def test_updates_iterator_new_versions_and_resubscription(server: AdsServer, closing: list[AdsClient]) -> None:
    server.set_snapshot(ROLE, snapshot("1"))
    client = AdsClient(server.address, node_id="shadow").start()
    closing.append(client)
    assert client.wait_synced(5)
    updates = client.updates()
    got: list[XdsUpdate] = []

    def consume() -> None:  # a notebook thread reading the stream
        for u in updates:
            got.append(u)

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    # The listener now points at another route configuration: the client asks for it and drops the old one.
    snap2 = snapshot("2", rc_name="other-routes", body="two", extra_rcs=("listener-::-8080-routes",))
    server.set_snapshot(ROLE, snap2)
    assert client.wait_for(lambda s: s.versions.get(TYPE_ROUTE) == "r2"
                           and [rc.name for rc in s.route_configurations] == ["other-routes"], 5)
    assert server.wait_for(acked("shadow", snap2), 5)
    assert server.nodes()["shadow"].types[TYPE_ROUTE].requested_names == ("other-routes",)
    rows = route_rows(client.snapshot().route_configurations, "served")
    assert [(r.route_configuration, r.action_summary) for r in rows] == [("other-routes", "direct 200")]
    client.close()
    reader.join(5)
    assert not reader.is_alive(), "the iterator ends when the client closes"
    assert {u.version for u in got} >= {"l2", "r2", "c2", "e2"}


def test_reconnects_to_a_new_server_on_the_same_port(closing: list[AdsClient]) -> None:
    port = free_port()
    first = AdsServer(port=port)
    first.start()
    try:
        first.set_snapshot(ROLE, snapshot("1", body="one"))
        client = AdsClient(first.address, backoff_initial=0.05, backoff_max=0.5).start()
        closing.append(client)
        assert client.wait_synced(5)
    finally:
        first.stop()
    assert client.wait_for(lambda s: not client.state().connected, 5)
    # The held snapshot survives the outage.
    assert client.snapshot().versions[TYPE_ROUTE] == "r1"
    time.sleep(0.3)  # a few failed attempts while nothing listens
    second = AdsServer(port=port)
    requests: list[tuple[str, str]] = []
    second.add_listener(lambda e: requests.append((e.type_url, e.version)) if e.kind == "request" else None)
    second.start()
    try:
        snap2 = snapshot("2", body="two")
        second.set_snapshot(ROLE, snap2)
        assert client.wait_for(lambda s: s.versions == {t: snap2.version(t) for t in TYPE_ORDER}, 10), \
            client.state()
        assert second.wait_for(acked(client.node_id, snap2), 5)
        rows = route_rows(client.snapshot().route_configurations, "served")
        assert rows[0].action["directResponse"]["body"]["inlineString"] == "two"
        state = client.state()
        assert state.connected and state.connects >= 2
        # It resumed as Envoy does: the first requests of the new stream carry the versions it held.
        assert requests[:4] == [(TYPE_CLUSTER, "c1"), (TYPE_ENDPOINT, "e1"), (TYPE_LISTENER, "l1"), (TYPE_ROUTE, "r1")]
    finally:
        client.close()
        second.stop()


def test_receives_a_snapshot_larger_than_grpc_default_limit(server: AdsServer, closing: list[AdsClient]) -> None:
    snap = snapshot("big", routes=70_000, weights=(90, 10))
    size = snap.resources[TYPE_ROUTE][0].ByteSize()
    assert size > 4 * 1024 * 1024
    server.set_snapshot(ROLE, snap)
    client = AdsClient(server.address).start()
    closing.append(client)
    assert client.wait_synced(30)
    (rc,) = client.snapshot().route_configurations
    assert len(rc.virtual_hosts[0].routes) == 70_000
    assert server.wait_for(acked(client.node_id, snap), 10)


def test_bad_address_and_closed_client() -> None:
    with pytest.raises(XdsClientError, match="host:port"):
        AdsClient("no-port")
    client = AdsClient("127.0.0.1:1")
    client.close()
    with pytest.raises(XdsClientError, match="closed"):
        client.start()


def test_unreachable_server_reports_state_and_keeps_trying(closing: list[AdsClient]) -> None:
    client = AdsClient(f"127.0.0.1:{free_port()}", backoff_initial=0.05, backoff_max=0.2).start()
    closing.append(client)
    assert not client.wait_synced(0.5)
    state = client.state()
    assert not state.connected and state.connects >= 2 and "UNAVAILABLE" in state.last_error


# --- against a whole sandbox --------------------------------------------------------------------------


def _manifests(*names: str) -> list[dict]:
    out = []
    for n in names:
        out += [d for d in yaml.safe_load_all((SEED / n).read_text()) if d]
    return out


@pytest.mark.envoy
def test_whole_sandbox_served_config_equals_what_replicas_applied(tmp_path: Path, closing: list[AdsClient]) -> None:
    state = tmp_path / "sb"
    try:
        info = runner.start(state, gloo_version="1.3")
        kube = KubeClient.from_kubeconfig(info.kubeconfig)
        kube.apply_all(_manifests("part2/echo.yaml", "part2/foxtrot.yaml", "part2/upstream-echo.yaml",
                                  "part2/upstream-foxtrot.yaml", "part2/rt-echo-1.yaml", "part2/rt-foxtrot-1.yaml",
                                  "part2/vs.yaml"))
        client = AdsClient(info.data["xds"]).start()
        closing.append(client)
        assert client.wait_for(lambda s: any(vh.routes for rc in s.route_configurations for vh in rc.virtual_hosts)
                               and client.synced(), 15)
        rows = route_rows(client.snapshot().route_configurations, "served")
        assert [(r.virtual_host, r.order, r.match_summary, r.action_summary) for r in rows] == [
            ("gloo-system_app", 0, "prefix /echo", "echo_gloo-system {version=v2}"),
            ("gloo-system_app", 1, "prefix /foxtrot", "foxtrot_gloo-system {version=v1}"),
        ]
        served = client.snapshot()
        # Every replica converges on the served versions (the listener address is rewritten per replica).
        for url in info.data["envoyAdmin"]:
            admin = EnvoyAdmin(url)
            applied = wait_until(lambda a=admin: a.config_dump().applied(),
                                 f"{url} to apply the served versions {served.versions}",
                                 until=lambda d: all(d.versions.get(t) == served.versions[t]
                                                     for t in (TYPE_LISTENER, TYPE_ROUTE, TYPE_CLUSTER)))
            assert applied.route_configurations == served.route_configurations
            assert [c.name for c in applied.clusters] == [c.name for c in served.clusters]
    finally:
        runner.stop(state)
