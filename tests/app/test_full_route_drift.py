"""Served against applied in full on a whole sandbox with real Envoy: a route's fingerprint is the same whether the
route came over xDS (the control plane's stream) or was read back from a replica's ``/config_dump``, and a replica
that did not apply an option change (same destination, other retries) is ``replica-lagging`` until it catches up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from polling import wait_until
from sandboxkit import Kube, kubectl_for, sandbox

from gloo_nb.analysis.inspection import Inspection, inspection_at
from gloo_nb.analysis.timeline import load_timeline
from gloo_nb.app.connect import connect_sandbox
from gloo_nb.app.record import Recorder
from gloo_nb.sandbox.daemon import Sandbox
from gloo_nb.sandbox.xds_server import TYPE_ROUTE
from gloo_nb.translate.routes import RouteRow

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

GS = "gloo-system"
R0, R1 = "gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"
ROLE = "gloo-system~gateway-proxy"


def _manifests(retries: int, header: str) -> str:
    # Nothing answers on the Upstream's port: these tests read configuration, they send no traffic.
    up = {"single": {"upstream": {"name": "echo", "namespace": GS}}}
    docs: list[dict[str, Any]] = [
        {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "echo", "namespace": GS},
         "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 9}]}}},
        {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "opts", "namespace": GS},
         "spec": {"virtualHost": {
             "domains": ["*"],
             "options": {"cors": {"allowOrigin": ["https://app.example"], "allowMethods": ["GET", "POST"],
                                  "maxAge": "600"}},
             "routes": [
                 {"matchers": [{"prefix": "/old"}], "routeAction": up,
                  "options": {"prefixRewrite": "/new",
                              "headerManipulation": {
                                  "requestHeadersToAdd": [{"header": {"key": "x-added", "value": header}}],
                                  "requestHeadersToRemove": ["x-secret"]}}},
                 {"matchers": [{"prefix": "/retry"}], "routeAction": up,
                  "options": {"retries": {"retryOn": "5xx", "numRetries": retries, "perTryTimeout": "2s"},
                              "timeout": "7s"}},
                 {"matchers": [{"prefix": "/nocors"}], "routeAction": up,
                  "options": {"cors": {"allowOrigin": ["https://app.example"], "disableForRoute": True}}},
                 {"matchers": [{"prefix": "/fault"}], "routeAction": up,
                  "options": {"faults": {"abort": {"percentage": 100, "httpStatus": 418}}}},
                 {"matchers": [{"prefix": "/"}], "routeAction": up},
             ]}}},
    ]
    return yaml.safe_dump_all(docs)


def _by_source(inspection: Inspection) -> dict[str, dict[str, RouteRow]]:
    out: dict[str, dict[str, RouteRow]] = {}
    for row in inspection.rows:
        out.setdefault(row.source, {})[row.match_summary] = row
    return out


def _drift(inspection: Inspection, match: str) -> Any:
    rows = [d for d in inspection.drift if d.match == match]
    assert len(rows) == 1, (match, [d.as_json() for d in inspection.drift])
    return rows[0]


def _settled(inspection: Inspection) -> bool:
    # Every source holds the five routes and nothing is on its way.
    return all(len(_by_source(inspection).get(src, {})) == 5 for src in ("intent", "served", R0, R1)) and all(
        d.state in ("in-sync", "unmodelled") for d in inspection.drift)


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_served_over_xds_and_read_back_from_config_dump_fingerprint_alike(tmp_path: Path, profile: str) -> None:
    """The control plane's served routes (xDS wire bytes, decoded) and each replica's ``/config_dump`` (JSON,
    parsed back) give every route the same fingerprint, options included (retries, timeout, header manipulation,
    CORS in ``typedPerFilterConfig`` or the route action, faults): full comparison makes no false drift."""
    with sandbox(tmp_path / "sb", profile) as info:
        kube = kubectl_for(info, tmp_path)
        manifest = tmp_path / "opts.yaml"
        manifest.write_text(_manifests(2, "by-gloo"))
        kube.apply(manifest)
        with connect_sandbox(info.state_dir) as conn:
            inspection = wait_until(conn.collect, "every source holds the routes, in sync", until=_settled,
                                    timeout=30)
    rows = _by_source(inspection)
    for match, served in rows["served"].items():
        assert served.fingerprint and len(served.fingerprint) == 16, served
        assert not served.opaque, served
        for node in (R0, R1):
            applied = rows[node][match]
            assert (applied.fingerprint, dict(applied.settings)) == (served.fingerprint, dict(served.settings)), (
                node, match)
    # The options are part of it: each optioned route has its own fields in the fingerprint.
    assert {"route.retryPolicy", "route.timeout"} <= set(rows["served"]["prefix /retry"].settings)
    assert {"requestHeadersToAdd", "requestHeadersToRemove", "route.prefixRewrite"} <= set(
        rows["served"]["prefix /old"].settings)
    assert "typedPerFilterConfig" in rows["served"]["prefix /fault"].settings
    assert len({r.fingerprint for r in rows["served"].values()}) == 5
    for d in inspection.drift:
        assert d.state in ("in-sync", "unmodelled"), d.as_json()
    # inspect --json's route rows carry it (additively).
    doc = inspection.document()
    assert {r["fingerprint"] for r in doc["routes"] if r["source"] in ("served", R0, R1)} == {
        r.fingerprint for r in rows["served"].values()}


class _Gate:
    """Holds the control plane's responses to one replica: its ADS stream waits while the gate is shut, so the
    replica keeps what it had (as a replica cut off from the control plane does) until the gate opens, when it gets
    the latest snapshot."""

    def __init__(self, node: str) -> None:
        self.node = node
        self._open = threading.Event()
        self._open.set()

    def shut(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    def wrap(self, transform: Callable[[str, str, list[Any]], list[Any]] | None) -> Callable[..., list[Any]]:
        def held(node_id: str, type_url: str, resources: list[Any]) -> list[Any]:
            if node_id == self.node and type_url == TYPE_ROUTE:
                self._open.wait(120)
            return transform(node_id, type_url, resources) if transform is not None else resources
        return held


@contextmanager
def _sandbox_in_process(state_dir: Path, gate: _Gate) -> Iterator[Sandbox]:
    """The sandbox daemon's pieces run in this process (its own thread and event loop) so that the test can hold
    one replica's xDS stream; Envoys are real processes as always."""
    state_dir.mkdir(parents=True)
    sb = Sandbox(state_dir, "current", 2)
    install = sb.ads.set_node_transform
    # The daemon installs its listener-port rewrite at start: the gate goes around it.
    sb.ads.set_node_transform = lambda fn: install(gate.wrap(fn))  # type: ignore[method-assign]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sandbox-loop", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(sb._start(), loop).result(90)
        yield sb
    finally:
        gate.open()
        try:
            asyncio.run_coroutine_threadsafe(sb._shutdown(), loop).result(90)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)
            loop.close()


def test_a_replica_that_missed_a_retries_change_is_lagging_until_it_catches_up(tmp_path: Path) -> None:
    """Issue 15: a replica that did not apply an option change whose destination stays the same is caught.

    The route keeps its destination and only its retries change; the replica whose xDS stream is held keeps the
    old retries: the route is ``replica-lagging`` with the held replica's cell lagging (its action summary is the
    served one: only the fingerprint tells), the other replica in sync; once the stream flows again, all agree.
    A recorder runs meanwhile: the timeline's view of a moment in the window (``inspection_at``) says the same.
    """
    gate = _Gate(R0)
    journal = tmp_path / "journal"
    with _sandbox_in_process(tmp_path / "sb", gate) as sb:
        (tmp_path / "home").mkdir()
        kube = Kube(str(sb.state_dir / "kubeconfig"), tmp_path / "home")
        manifest = tmp_path / "opts.yaml"
        manifest.write_text(_manifests(2, "by-gloo"))
        kube.apply(manifest)
        with connect_sandbox(sb.state_dir) as conn, connect_sandbox(sb.state_dir) as rec_conn, \
                Recorder(rec_conn, journal, poll_seconds=0.1, kinds=["VirtualService", "Upstream"]) as recorder:
            before = wait_until(conn.collect, "every source holds the routes, in sync", until=_settled, timeout=30)
            old = _by_source(before)["served"]["prefix /retry"]

            gate.shut()
            manifest.write_text(_manifests(3, "by-gloo"))
            kube.apply(manifest)

            def retries_served_to_r1(ins: Inspection) -> bool:
                rows = _by_source(ins)
                return (rows["served"]["prefix /retry"].fingerprint != old.fingerprint
                        and rows[R1]["prefix /retry"].fingerprint == rows["served"]["prefix /retry"].fingerprint)

            lagging = wait_until(conn.collect, "the retries change served and applied by replica 1",
                                 until=retries_served_to_r1, timeout=30)
            rows = _by_source(lagging)
            # Replica 0 really did not get it: it still runs the route configuration it had.
            assert rows[R0]["prefix /retry"].fingerprint == old.fingerprint
            assert sb.ads.nodes()[R0].acked(TYPE_ROUTE) != sb.ads.snapshot(ROLE).version(TYPE_ROUTE)
            row = _drift(lagging, "prefix /retry")
            assert row.state == "replica-lagging", row.as_json()
            assert row.by_source[R0] == row.by_source["served"] == row.by_source[R1]  # the destination is the same
            assert row.cause == (f"{R0} not yet at the served configuration (same destination; other route settings "
                                 "differ: route.retryPolicy)")
            assert (row.cells[R0].state, row.cells[R1].state, row.cells["served"].state) == (
                "replica-lagging", "in-sync", "in-sync")
            assert "route.retryPolicy" in row.cells[R0].cause
            # The routes that did not change stay as they were.
            for match in ("prefix /old", "prefix /nocors", "prefix /fault", "prefix /"):
                assert _drift(lagging, match).state in ("in-sync", "unmodelled"), match
            time.sleep(1.0)  # some ten polls: the recorder has replica 1's new routes
            in_window = datetime.now(UTC)
            time.sleep(0.2)

            gate.open()
            after = wait_until(conn.collect, "replica 0 catches up", until=_settled, timeout=30)
            rows = _by_source(after)
            assert rows[R0]["prefix /retry"].fingerprint == rows["served"]["prefix /retry"].fingerprint \
                == rows[R1]["prefix /retry"].fingerprint != old.fingerprint
            time.sleep(1.0)
            caught_up = datetime.now(UTC)
        assert recorder.errors == []

    timeline = load_timeline(journal)
    then = inspection_at(timeline.state_at(in_window), timeline.nacks_frame())
    row = _drift(then, "prefix /retry")
    assert row.state == "replica-lagging", row.as_json()
    assert row.cause == (f"{R0} not yet at the served configuration (same destination; other route settings "
                         "differ: route.retryPolicy)")
    later = inspection_at(timeline.state_at(caught_up), timeline.nacks_frame())
    assert all(d.state in ("in-sync", "unmodelled") for d in later.drift), [d.as_json() for d in later.drift]
