"""The sandbox's per-replica transform gives each replica its own access log files, and drift ignores that."""

from __future__ import annotations

from pathlib import Path

import pytest
from envoy.config.accesslog.v3 import accesslog_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.access_loggers.file.v3 import file_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2

from gloo_nb.analysis.listeners import comparable_listener, listener_drift
from gloo_nb.sandbox.controlplane import rewrite_listener_ports
from gloo_nb.sandbox.envoy import access_log_files, replica_dir
from gloo_nb.sandbox.xds_server import TYPE_LISTENER

pytestmark = pytest.mark.unit

NODE = "gateway-proxy-1.gloo-system"


def _file_log(path: str) -> accesslog_pb2.AccessLog:
    log = accesslog_pb2.AccessLog(name="envoy.access_loggers.file")
    log.typed_config.Pack(file_pb2.FileAccessLog(path=path))
    return log


def _paths(logs: object) -> list[str]:
    out = []
    for log in logs:  # type: ignore[attr-defined]
        cfg = file_pb2.FileAccessLog()
        assert log.typed_config.Unpack(cfg)
        out.append(cfg.path)
    return out


def _listener() -> listener_pb2.Listener:
    listener = listener_pb2.Listener(name="listener-::-8080")
    listener.address.socket_address.address = "::"
    listener.address.socket_address.port_value = 8080
    listener.access_log.append(_file_log("/var/log/listener.log"))
    hcm = hcm_pb2.HttpConnectionManager(stat_prefix="http")
    hcm.access_log.extend([_file_log("/var/log/envoy/access.log"), _file_log("/dev/stdout"),
                           _file_log("relative.log")])
    chain = listener.filter_chains.add()
    chain.filters.add(name="envoy.filters.network.http_connection_manager").typed_config.Pack(hcm)
    tcp = tcp_proxy_pb2.TcpProxy(stat_prefix="tcp", cluster="c")
    tcp.access_log.append(_file_log("/var/log/tcp.log"))
    listener.filter_chains.add().filters.add(name="envoy.filters.network.tcp_proxy").typed_config.Pack(tcp)
    return listener


def test_each_replica_gets_its_own_files_and_drift_ignores_it(tmp_path: Path) -> None:
    transform = rewrite_listener_ports(lambda node, port: 40000 if node == NODE else None,
                                       lambda node: node == NODE, "abc",
                                       dir_for=lambda node: replica_dir(tmp_path, node) if node == NODE else None)
    served = _listener()
    (applied,) = transform(NODE, TYPE_LISTENER, [served])
    root = tmp_path / "replicas" / NODE / "fs"
    assert _paths(applied.access_log) == [f"{root}/var/log/listener.log"]
    hcm = hcm_pb2.HttpConnectionManager()
    assert applied.filter_chains[0].filters[0].typed_config.Unpack(hcm)
    # /dev/stdout goes to the replica's log; a relative path is Envoy's working directory's (left as served).
    assert _paths(hcm.access_log) == [f"{root}/var/log/envoy/access.log", "/dev/stdout", "relative.log"]
    tcp = tcp_proxy_pb2.TcpProxy()
    assert applied.filter_chains[1].filters[0].typed_config.Unpack(tcp)
    assert _paths(tcp.access_log) == [f"{root}/var/log/tcp.log"]
    assert applied.address.socket_address.port_value == 40000
    # Made before Envoy opens them, listed for readers; what Gloo serves is untouched.
    assert (root / "var/log/envoy/access.log").is_file()
    assert access_log_files(tmp_path) == {NODE: sorted([root / "var/log/envoy/access.log",
                                                        root / "var/log/listener.log", root / "var/log/tcp.log"])}
    assert _paths(served.access_log) == ["/var/log/listener.log"]
    # Another node (gloo_nb's shadow inspector) gets the listener as served.
    assert transform("inspector", TYPE_LISTENER, [served]) == [served]

    assert comparable_listener(applied) == comparable_listener(served)
    (row,) = listener_drift([served], [served], {NODE: [applied]})
    assert row.state == "in-sync", row.cause
    # A real difference in a path is still seen.
    other = _listener()
    other.access_log[0].typed_config.Pack(file_pb2.FileAccessLog(path="/var/log/other.log"))
    (row,) = listener_drift([served], [served], {NODE: [other]})
    assert row.state != "in-sync" and "accessLog" in row.cause


def test_without_dir_for_paths_stay_as_served(tmp_path: Path) -> None:
    transform = rewrite_listener_ports(lambda node, port: 40000, lambda node: True)
    (applied,) = transform(NODE, TYPE_LISTENER, [_listener()])
    assert _paths(applied.access_log) == ["/var/log/listener.log"]
    assert access_log_files(tmp_path) == {}
