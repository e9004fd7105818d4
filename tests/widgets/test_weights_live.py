"""The traffic weights view follows the xDS stream: a served weight change shows without a new inspection."""

from __future__ import annotations

from pathlib import Path

import pytest
from polling import wait_until
from sandboxkit import PART2, body_is, fetch, kubectl_for, sandbox, wait_ready_pods

import gloo_nb
from gloo_nb.widgets import TrafficWeightsView

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]


def _served_share(view: TrafficWeightsView, version: str) -> float:
    f = view.frame
    rows = f[(f["source"] == "served") & f["destination"].str.contains(f"version={version}")]
    return float(rows["share"].sum())


def test_served_weights_follow_the_stream(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        kube.apply(PART2 / "foxtrot.yaml", PART2 / "foxtrot-v2.yaml")
        wait_ready_pods(kube, "foxtrot")
        kube.apply(PART2 / "upstream-foxtrot.yaml", PART2 / "rt-foxtrot-3.yaml", PART2 / "vs.yaml")
        wait_until(lambda: fetch(info.gateway + "/foxtrot"), "foxtrot serves", until=body_is("version:foxtrot-v1"))
        with gloo_nb.connect_sandbox(info.state_dir) as conn:
            view = TrafficWeightsView(conn.collect().routes_frame())
            assert _served_share(view, "v1") == 1.0 and _served_share(view, "v2") == 0.0
            view.follow(conn)
            kube.apply(PART2 / "rt-foxtrot-4.yaml")  # 0/100
            wait_until(lambda: _served_share(view, "v2"), "the followed view to show v2 at 100 %",
                       until=lambda share: share == 1.0)
            assert _served_share(view, "v1") == 0.0
            assert "100" in view.table.value and b"<svg" in bytes(view.chart.value)
