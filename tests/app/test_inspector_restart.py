"""An inspector's xDS stream and Kubernetes client survive a restart of the sandbox's control plane."""

from __future__ import annotations

from pathlib import Path

import pytest
from polling import wait_until
from sandboxkit import PART2, body_is, fetch, kubectl_for, sandbox, wait_ready_pods

import gloo_nb
from gloo_nb.sandbox import runner
from gloo_nb.xds.protos import TYPE_CLUSTER, TYPE_LISTENER, TYPE_ROUTE

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]


def test_stream_reconnects_and_resumes_after_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sb"
    with sandbox(state, "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        kube.apply(PART2 / "echo.yaml")
        wait_ready_pods(kube, "echo")
        kube.apply(PART2 / "upstream-echo.yaml", PART2 / "rt-echo-1.yaml", PART2 / "vs.yaml")
        wait_until(lambda: fetch(info.gateway + "/echo"), "echo serves", until=body_is("version:echo-v1"))
        conn = gloo_nb.connect_sandbox(state)
        try:
            client = conn.ads()
            assert client.wait_synced(10)
            before = client.snapshot().versions
            assert client.state().connects == 1
            runner.stop(state)
            restarted = runner.start(state)
            assert restarted.data["xds"] == info.data["xds"], "the restarted control plane takes its port back"
            assert restarted.data["kubeApi"] == info.data["kubeApi"]
            # No user action: the same client reconnects and has the (unchanged) configuration again.
            assert client.wait_for(lambda _s: client.state().connects >= 2 and client.synced(), 15)
            # Same listeners, routes and clusters (endpoints follow the restarted pods, so EDS may move).
            same = (TYPE_LISTENER, TYPE_ROUTE, TYPE_CLUSTER)
            assert client.wait_for(lambda s: all(s.versions.get(t) == before.get(t) for t in same), 15)
            # The same connection object still works end to end (Kubernetes, xDS, the admin APIs by pod).
            kube.apply(PART2 / "echo-v2.yaml")
            wait_ready_pods(kube, "echo")
            kube.apply(PART2 / "rt-echo-2.yaml")
            assert client.wait_for(lambda s: s.versions.get(TYPE_ROUTE) != before.get(TYPE_ROUTE), 15)
            wait_until(lambda: fetch(restarted.gateway + "/echo", {"stage": "canary"}),
                       "the canary route serves after the restart", until=body_is("version:echo-v2"))
        finally:
            conn.close()


def test_a_snapshot_envoy_rejects_shows_as_rejected_by_envoy(tmp_path: Path) -> None:
    # Gloo 1.3 accepts a weighted destination whose weights sum to 0; Envoy refuses such a route
    # configuration (NACK) and keeps the last one it accepted.
    with sandbox(tmp_path / "sb", "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        kube.apply(PART2 / "foxtrot.yaml", PART2 / "foxtrot-v2.yaml")
        wait_ready_pods(kube, "foxtrot")
        kube.apply(PART2 / "upstream-foxtrot.yaml", PART2 / "rt-foxtrot-3.yaml", PART2 / "vs.yaml")
        wait_until(lambda: fetch(info.gateway + "/foxtrot"), "foxtrot serves", until=body_is("version:foxtrot-v1"))
        zero = (PART2 / "rt-foxtrot-3.yaml").read_text().replace("weight: 100", "weight: 0")
        assert zero.count("weight: 0") == 2
        (tmp_path / "zero.yaml").write_text(zero)
        kube.apply(tmp_path / "zero.yaml")
        with gloo_nb.connect_sandbox(info.state_dir) as conn:
            def rejected_everywhere() -> bool:
                stats = [a.xds_stats() for a in conn.admins().values()]
                return all(s.rejected > 0 for s in stats)
            wait_until(lambda: fetch(info.gateway + "/foxtrot"), "both replicas reject the route configuration",
                       until=lambda _r: rejected_everywhere())
            inspection = conn.collect()
        fox = [d for d in inspection.drift if d["route"]["match"] == "prefix /foxtrot"]
        assert len(fox) == 1
        row = fox[0]
        assert row["state"] == "rejected-by-envoy", row
        assert row["bySource"]["served"] == "foxtrot_gloo-system {version=v1} 0, foxtrot_gloo-system {version=v2} 0"
        assert row["bySource"]["gateway-proxy-0.gloo-system"].endswith("{version=v2} 0")
        assert "{version=v1} 100" in row["bySource"]["gateway-proxy-0.gloo-system"], "the last good one stays"
        assert "rejected" in row["cause"] and "gateway-proxy-1.gloo-system" in row["cause"]
        # Traffic still flows on the last good configuration.
        assert fetch(info.gateway + "/foxtrot").body.strip() == "version:foxtrot-v1"
