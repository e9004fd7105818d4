"""The Envoy admin reader against real Envoy: driven by the sandbox's ADS server, and in a whole sandbox."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from polling import wait_until
from test_xds_client import ROLE, SEED, assignment, eds_cluster, listener, route_config

from gloo_nb.kube import KubeClient
from gloo_nb.sandbox import runner
from gloo_nb.sandbox.envoy import EnvoyFleet, free_port
from gloo_nb.sandbox.xds_server import AdsServer, NodeState, XdsSnapshot
from gloo_nb.xds import EnvoyAdmin, EnvoyAdminError, route_rows, stat_name
from gloo_nb.xds.admin import parse_config_dump
from gloo_nb.xds.decode import listener_rows
from gloo_nb.xds.protos import TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

RC = "listener-::-8080-routes"


def snap(route_version: str, *, body: str = "one", broken: bool = False, port: int,
         listener_version: str = "l1", bad_listener: bool = False) -> XdsSnapshot:
    ls = listener(RC, port=port)
    if bad_listener:
        # Two filter chains with the same match: Envoy rejects the listener (and keeps the one it has).
        ls.filter_chains.add().CopyFrom(ls.filter_chains[0])
    rc = route_config(RC, weights=(0,), cluster="echo_gloo-system") if broken else route_config(RC, body=body)
    return XdsSnapshot(
        resources={TYPE_LISTENER: [ls], TYPE_ROUTE: [rc], TYPE_CLUSTER: [eds_cluster()],
                   TYPE_ENDPOINT: [assignment("echo_gloo-system", port=free_port())]},
        versions={TYPE_LISTENER: listener_version, TYPE_ROUTE: route_version, TYPE_CLUSTER: "c1",
                  TYPE_ENDPOINT: "e1"},
    )


@pytest.fixture()
def envoy(tmp_path: Path) -> Iterator[tuple[AdsServer, EnvoyFleet]]:
    server = AdsServer(max_workers=8)
    server.start()
    fleet = EnvoyFleet(server.address, tmp_path, replicas=1)
    try:
        yield server, fleet
    finally:
        fleet.stop()
        server.stop()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return resp.read().decode()


def test_rejected_route_config_shows_in_stats_not_in_config_dump(envoy: tuple[AdsServer, EnvoyFleet]) -> None:
    server, fleet = envoy
    port = free_port()
    server.set_snapshot(ROLE, snap("r1", body="one", port=port))
    fleet.start()
    replica = fleet.replicas[0]
    admin = EnvoyAdmin(replica.admin_url)
    wait_until(lambda: admin.config_dump().route_config(RC) is not None, "route config r1 applied")
    wait_until(lambda: _get(f"http://127.0.0.1:{port}/") == "one", "listener serves r1")

    dump = admin.config_dump(include_eds=True)
    assert dump.node_id == replica.node_id == admin.server_info().node_id
    assert (dump.lds_version, dump.cds_version) == ("l1", "c1")
    (ls,) = dump.listeners
    assert (ls.name, ls.version_info, ls.error_state) == ("listener-::-8080", "l1", None)
    assert ls.active is not None and ls.last_updated.endswith("Z")
    assert dump.route_config(RC).version_info == "r1"
    assert [c.cluster_name for c in dump.endpoints] == ["echo_gloo-system"]
    applied = dump.applied()
    assert applied.versions == {TYPE_LISTENER: "l1", TYPE_CLUSTER: "c1", TYPE_ROUTE: "r1"}
    assert [r.action_summary for r in route_rows(applied.route_configurations, replica.node_id)] == ["direct 200"]
    assert admin.ready()

    stats = admin.xds_stats()
    assert stats.connected is True
    assert stats.lds.version_text == "l1" and stats.cds.version_text == "c1"
    rds = stats.route(RC)
    assert rds is not None and stat_name(RC) == "listener-__-8080-routes" and rds.version_text == "r1"
    assert rds.update_rejected == 0 and rds.update_success >= 1
    assert stats.eds["echo_gloo-system"].update_success >= 1

    # Weights summing to 0: Envoy NACKs; the config dump keeps r1 and says nothing; the stats count it.
    server.set_snapshot(ROLE, snap("r2", broken=True, port=port))

    def nacked(nodes: dict[str, NodeState]) -> bool:
        node = nodes.get(replica.node_id)
        return node is not None and node.types[TYPE_ROUTE].rejected

    assert server.wait_for(nacked, 10)
    wait_until(lambda: (admin.xds_stats().route(RC) or rds).update_rejected >= 1, "update_rejected counted")
    after = admin.xds_stats()
    assert after.route(RC).version_text == "r1" and after.rejected >= 1
    assert after.subscriptions()["rds/listener-__-8080-routes"].update_rejected >= 1
    assert after.as_json()["rds"]["listener-__-8080-routes"]["version_text"] == "r1"
    still = admin.config_dump(resource="dynamic_route_configs")
    assert [(r.name, r.version_info) for r in still.route_configs] == [(RC, "r1")]
    assert _get(f"http://127.0.0.1:{port}/") == "one"
    assert "Sum of weights" in server.nodes()[replica.node_id].types[TYPE_ROUTE].nack.message

    # A rejected listener does show error_state, next to the active one it keeps.
    server.set_snapshot(ROLE, snap("r1", port=port, listener_version="l2", bad_listener=True))
    wait_until(lambda: admin.config_dump(resource="dynamic_listeners").listeners[0].error_state is not None,
               "listener error_state")
    ls = admin.config_dump(resource="dynamic_listeners").listeners[0]
    assert ls.version_info == "l1" and ls.active is not None
    assert "l2" not in ls.version_info and ls.error_state["details"]
    assert admin.xds_stats().lds.update_rejected >= 1


def test_mask_and_unreachable_admin(envoy: tuple[AdsServer, EnvoyFleet]) -> None:
    server, fleet = envoy
    server.set_snapshot(ROLE, snap("r1", port=free_port()))
    fleet.start()
    admin = EnvoyAdmin(fleet.replicas[0].admin_url)
    wait_until(lambda: admin.config_dump().route_config(RC) is not None, "route config applied")
    masked = admin.config_dump_json(resource="dynamic_route_configs", mask="version_info")
    assert masked["configs"] == [
        {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig", "version_info": "r1"}]
    assert admin.stats(r"^server\.state$") == {"server.state": 0}

    dead = EnvoyAdmin(f"http://127.0.0.1:{free_port()}", timeout=1)
    assert dead.ready() is False
    with pytest.raises(EnvoyAdminError, match="unreachable"):
        dead.stats()


def test_unknown_any_types_decode_tolerantly() -> None:
    hcm_type = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
    doc = {"configs": [{
        "@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
        "version_info": "l9",
        "dynamic_listeners": [{"name": "gw", "active_state": {"version_info": "l9", "listener": {
            "@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "gw",
            "address": {"socket_address": {"address": "::", "port_value": 8080}},
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                            "typed_config": {
                "@type": hcm_type, "stat_prefix": "http",
                "rds": {"route_config_name": "gw-routes", "config_source": {"ads": {}}},
                "http_filters": [
                    {"name": "io.solo.transformation", "typed_config": {
                        "@type": "type.googleapis.com/envoy.api.v2.filter.http.FilterTransformations",
                        "transformations": [{"match": {"prefix": "/"}}]}},
                    {"name": "envoy.filters.http.router", "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}}}],
    }]}
    dump = parse_config_dump(doc)
    assert dump.unresolved_types == ("type.googleapis.com/envoy.api.v2.filter.http.FilterTransformations",)
    (row,) = listener_rows([dump.listeners[0].active], "r")
    assert (row.name, row.route_configurations, dump.lds_version) == ("gw", ("gw-routes",), "l9")


def test_whole_sandbox_applied_config_requests_and_hosts(tmp_path: Path) -> None:
    state = tmp_path / "sb"
    try:
        info = runner.start(state, gloo_version="1.3", replicas=2)
        kube = KubeClient.from_kubeconfig(info.kubeconfig)
        docs = []
        for name in ("part2/echo.yaml", "part2/upstream-echo.yaml", "part2/rt-echo-1.yaml", "part2/vs.yaml"):
            docs += [d for d in yaml.safe_load_all((SEED / name).read_text()) if d]
        kube.apply_all(docs)
        admins = [EnvoyAdmin(u) for u in info.data["envoyAdmin"]]

        def echo_up() -> bool:
            try:
                _get(info.gateway + "/echo")
            except OSError:
                return False
            return True

        wait_until(echo_up, "echo answers through the gateway", timeout=20)
        for _ in range(4):
            _get(info.gateway + "/echo")
        node_ids = set()
        total = 0
        for admin in admins:
            applied = admin.applied()
            rows = route_rows(applied.route_configurations, admin.server_info().node_id)
            assert [(r.virtual_host, r.match_summary, r.action_summary) for r in rows][0] == (
                "gloo-system_app", "prefix /echo", "echo_gloo-system {version=v2}")
            node_ids.add(rows[0].source)
            total += admin.cluster_requests().get("echo_gloo-system", {}).get("upstream_rq_total", 0)
            hosts = {c.name: c for c in admin.clusters()}
            echo = hosts["echo_gloo-system"]
            assert echo.added_via_api and echo.hosts and all(h.health == "HEALTHY" for h in echo.hosts)
            assert admin.ready()
            assert admin.xds_stats().connected
        assert node_ids == {"gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"}
        assert total >= 5
    finally:
        runner.stop(state)


def test_listener_error_state_decodes_from_listener_dump_type() -> None:
    # The per-resource form (``resource=dynamic_listeners``) carries the same fields.
    doc = {"configs": [{
        "@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump.DynamicListener", "name": "x",
        "error_state": {"details": "boom", "last_update_attempt": "2024-01-01T00:00:00Z",
                        "failed_configuration": {"@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
                                                 "name": "x"}}}]}
    (ls,) = parse_config_dump(doc).listeners
    assert ls.active is None and ls.error_state == {
        "details": "boom", "lastUpdateAttempt": "2024-01-01T00:00:00Z",
        "failedConfiguration": "type.googleapis.com/envoy.config.listener.v3.Listener"}


def test_gloo_s_transformation_filter_decodes_when_gloo_nb_knows_all_its_fields() -> None:
    """gloo_nb registers Gloo's FilterTransformations with the fields Gloo's open-source plugins set: such a value
    decodes as that type; one with more (listener-level ``transformations``, above) stays whole and unresolved."""
    from gloo_nb.translate.http_filters import TRANSFORMATION_TYPE

    doc = {"configs": [{
        "@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
        "dynamic_listeners": [{"name": "gw", "active_state": {"listener": {
            "@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "gw",
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
                         "HttpConnectionManager", "stat_prefix": "http",
                "http_filters": [{"name": "io.solo.transformation", "typed_config": {
                    "@type": TRANSFORMATION_TYPE, "stage": 1, "logRequestResponseInfo": True}}]}}]}]}}}]}]}
    dump = parse_config_dump(doc)
    assert dump.unresolved_types == ()
    hcm = dump.listeners[0].active.filter_chains[0].filters[0].typed_config
    assert TRANSFORMATION_TYPE.rsplit("/", 1)[1].encode() in hcm.value
