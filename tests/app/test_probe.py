"""The traffic probe through a sandbox's gateway, with real Envoy splitting by weight."""

from __future__ import annotations

from pathlib import Path

import pytest
from polling import wait_until
from sandboxkit import PART1, body_is, fetch, kubectl_for, sandbox, wait_ready_pods

from gloo_nb.app.probe import probe
from gloo_nb.errors import UsageError

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]


def test_probe_measures_the_split_with_intervals(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        kube.apply(PART1 / "echo.yaml", PART1 / "echo-v2.yaml")
        wait_ready_pods(kube, "echo")
        kube.apply(PART1 / "upstream.yaml", PART1 / "vs-3.yaml")
        wait_until(lambda: fetch(info.gateway + "/"), "v1 serves", until=body_is("version:v1"))
        ticks: list[tuple[int, int]] = []
        only_v1 = probe(info.gateway + "/", 400, progress=lambda done, total: ticks.append((done, total)))
        assert [s.answer for s in only_v1.shares] == ["200 version:v1"]
        assert only_v1.shares[0].low > 0.99 and ticks[-1] == (400, 400) and len(ticks) == 400
        canary = probe(info.gateway + "/", 50, headers={"stage": "canary"})
        assert canary.share_of("200 version:v2").count == 50
        assert canary.share_of("200 version:v1").count == 0 and canary.share_of("200 version:v1").high < 0.08
        kube.apply(PART1 / "vs-5.yaml")  # 50/50
        wait_until(lambda: probe(info.gateway + "/", 40).share_of("200 version:v2").count > 0, "the split reaches v2")
        ticks.clear()
        half = probe(info.gateway + "/", 400, concurrency=8, progress=lambda done, total: ticks.append((done, total)))
        v1, v2 = half.share_of("200 version:v1"), half.share_of("200 version:v2")
        assert v1.count + v2.count == 400
        assert ticks == [(i, 400) for i in range(1, 401)]  # one tick per request, in order, across threads
        assert 0.35 < v2.share < 0.65 and v2.low < v2.share < v2.high and v2.high - v2.low < 0.11


def test_probe_refuses_bad_input() -> None:
    with pytest.raises(UsageError):
        probe("ftp://x/", 1)
    with pytest.raises(UsageError):
        probe("http://127.0.0.1:1/", 0)
    with pytest.raises(UsageError):
        probe("http://127.0.0.1:1/", 1, concurrency=0)


def test_probe_counts_refused_connections() -> None:
    result = probe("http://127.0.0.1:1/", 3)
    assert [(s.answer, s.count) for s in result.shares] == [("0 ConnectionRefusedError", 3)]
    assert len(probe("http://127.0.0.1:1/", 7, concurrency=3).answers) == 7
