"""The seed scenario on a whole sandbox: real kubectl, real Envoy, real HTTP through the front door.

Part 1 and Part 2 of the two-phase canary under Gloo 1.3 with the responses the blog reports at
each step, then Part 2 under ``current``, where the spec predicts other outcomes (servicePort
8080 finds no endpoints; a warning no longer freezes the proxy).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from polling import wait_until
from sandboxkit import PART1, PART2, Kube, body_is, fetch, kubectl_for, sandbox, wait_ready_pods

from gloo_nb.xds.admin import EnvoyAdmin

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

CANARY = {"stage": "canary"}
INVALID_BODY = ("Gloo Gateway has invalid configuration. Administrators should run `glooctl check` "
                "to find and fix config errors.")


def _get(gateway: str, path: str, headers: dict[str, str] | None = None):
    return lambda: fetch(gateway + path, headers)


def _expect(gateway: str, path: str, text: str, headers: dict[str, str] | None = None) -> None:
    wait_until(_get(gateway, path, headers), f"{path} {headers or ''} should answer {text}", until=body_is(text))


def _settings_patch(kube: Kube, name: str) -> None:
    patch = (PART2 / name).read_text()
    kube.run("patch", "-n", "gloo-system", "settings", "default", "--type", "merge", "--patch", patch)


def _status_text(kube: Kube, *args: str) -> str:
    return json.dumps(kube.json(*args).get("status", {}))


def test_part1_under_1_3(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        gw = info.gateway
        kube.apply(PART1 / "echo.yaml")
        wait_ready_pods(kube, "echo")
        kube.apply(PART1 / "upstream.yaml", PART1 / "vs-1.yaml")
        _expect(gw, "/", "version:v1")
        kube.apply(PART1 / "vs-2.yaml")
        _expect(gw, "/", "version:v1")
        kube.apply(PART1 / "echo-v2.yaml")
        wait_ready_pods(kube, "echo")
        kube.apply(PART1 / "vs-3.yaml")
        _expect(gw, "/", "version:v2", CANARY)
        _expect(gw, "/", "version:v1")
        kube.apply(PART1 / "vs-4.yaml")
        _expect(gw, "/", "version:v2", CANARY)
        _expect(gw, "/", "version:v1")
        kube.apply(PART1 / "vs-5.yaml")
        seen = set()
        for _ in range(200):
            seen.add(fetch(gw + "/").body.strip())
            if seen >= {"version:v1", "version:v2"}:
                break
        assert seen == {"version:v1", "version:v2"}, f"a 50/50 split should reach both versions, saw {seen}"
        kube.apply(PART1 / "vs-6.yaml")
        _expect(gw, "/", "version:v2")
        kube.run("delete", "-f", str(PART1 / "echo-v1.yaml"))
        _expect(gw, "/", "version:v2")
        kube.apply(PART1 / "vs-7.yaml")
        _expect(gw, "/", "version:v2")
        for _ in range(20):
            assert fetch(gw + "/").body.strip() == "version:v2"


def test_part1_under_current(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "current") as info:
        kube = kubectl_for(info, tmp_path)
        kube.apply(PART1 / "echo.yaml")
        wait_ready_pods(kube, "echo")
        kube.apply(PART1 / "upstream.yaml", PART1 / "vs-1.yaml")
        # servicePort 8080 is not the Service's port (80): current Gloo gives the Upstream no endpoints.
        wait_until(_get(info.gateway, "/"), "/ should have no healthy upstream", until=lambda r: r.status == 503)
        kube.run("patch", "upstream", "echo", "-n", "gloo-system", "--type", "merge",
                 "-p", '{"spec":{"kube":{"servicePort":80}}}')
        _expect(info.gateway, "/", "version:v1")
        status = kube.json("vs", "echo", "-n", "gloo-system")["status"]
        assert status["statuses"]["gloo-system"]["state"] == "Accepted", status


def _part2_steps_1_to_4(kube: Kube, gw: str) -> None:
    kube.apply(PART2 / "echo.yaml", PART2 / "foxtrot.yaml")
    wait_ready_pods(kube, "echo")
    wait_ready_pods(kube, "foxtrot")
    kube.apply(PART2 / "upstream-echo.yaml", PART2 / "upstream-foxtrot.yaml", PART2 / "rt-echo-1.yaml",
               PART2 / "rt-foxtrot-1.yaml", PART2 / "vs.yaml")


def test_part2_under_1_3(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        gw = info.gateway
        # Step 1: both services at v1 (echo's route says v2, served by Envoy's subset fallback).
        _part2_steps_1_to_4(kube, gw)
        _expect(gw, "/echo", "version:echo-v1")
        _expect(gw, "/foxtrot", "version:foxtrot-v1")
        # Step 2: foxtrot phase 1.
        kube.apply(PART2 / "foxtrot-v2.yaml")
        wait_ready_pods(kube, "foxtrot")
        kube.apply(PART2 / "rt-foxtrot-2.yaml")
        _expect(gw, "/foxtrot", "version:foxtrot-v2", CANARY)
        _expect(gw, "/foxtrot", "version:foxtrot-v1")
        _expect(gw, "/echo", "version:echo-v1")
        # Step 3: foxtrot phase 2 starts at 100/0.
        kube.apply(PART2 / "rt-foxtrot-3.yaml")
        _expect(gw, "/foxtrot", "version:foxtrot-v2", CANARY)
        for _ in range(20):
            assert fetch(gw + "/foxtrot").body.strip() == "version:foxtrot-v1"
        # Step 4: echo phase 1.
        kube.apply(PART2 / "echo-v2.yaml")
        wait_ready_pods(kube, "echo")
        kube.apply(PART2 / "rt-echo-2.yaml")
        _expect(gw, "/echo", "version:echo-v2", CANARY)
        _expect(gw, "/echo", "version:echo-v1")
        # Step 5: echo's typo freezes the whole proxy: foxtrot's 0/100 is blocked.
        kube.apply(PART2 / "rt-echo-3.yaml", PART2 / "rt-foxtrot-4.yaml")
        wait_until(lambda: "echo-typo" in _status_text(kube, "vs", "app", "-n", "gloo-system"),
                   "the VirtualService status should carry the echo-typo warning")
        status = _status_text(kube, "vs", "app", "-n", "gloo-system")
        assert status.count("*v1.Upstream {echo-typo gloo-system} not found") >= 2, status
        for _ in range(20):
            assert fetch(gw + "/foxtrot").body.strip() == "version:foxtrot-v1"
        assert fetch(gw + "/echo", CANARY).body.strip() == "version:echo-v2"
        assert fetch(gw + "/foxtrot", CANARY).body.strip() == "version:foxtrot-v2"
        # Step 6: replaceInvalidRoutes: echo's canary route becomes the 404 fallback, foxtrot moves.
        _settings_patch(kube, "settings-patch.yaml")
        wait_until(_get(gw, "/echo", CANARY), "the echo canary route should be replaced by the fallback 404",
                   until=lambda r: r.status == 404 and r.body == INVALID_BODY)
        _expect(gw, "/foxtrot", "version:foxtrot-v2")
        _expect(gw, "/echo", "version:echo-v1")
        _expect(gw, "/foxtrot", "version:foxtrot-v2", CANARY)
        # Every replica took the fallback listener (each binds its own pipe: one machine, no pod netns).
        for admin in info.envoy_admin:
            assert EnvoyAdmin(admin).xds_stats().rejected == 0, admin
        # Step 7: echo fixed, foxtrot finished, foxtrot-v1 removed.
        kube.apply(PART2 / "rt-echo-2.yaml", PART2 / "rt-foxtrot-5.yaml")
        kube.run("delete", "-f", str(PART2 / "foxtrot-v1.yaml"))
        _expect(gw, "/echo", "version:echo-v2", CANARY)
        _expect(gw, "/echo", "version:echo-v1")
        _expect(gw, "/foxtrot", "version:foxtrot-v2")
        assert not [p for p in kube.json("pods", "-n", "foxtrot")["items"]
                    if p["metadata"]["labels"].get("version") == "v1"]
        # Step 8: selection by label across namespaces.
        kube.apply(PART2 / "rt-echo-4.yaml", PART2 / "rt-foxtrot-6.yaml", PART2 / "vs-2.yaml")
        _expect(gw, "/echo", "version:echo-v2", CANARY)
        _expect(gw, "/echo", "version:echo-v1")
        _expect(gw, "/foxtrot", "version:foxtrot-v2")
        # Cleanup: with no VirtualService the gateway has no listener again.
        kube.run("delete", "-f", str(PART2 / "vs-2.yaml"), "-f", str(PART2 / "rt-echo-4.yaml"),
                 "-f", str(PART2 / "rt-foxtrot-6.yaml"), "-f", str(PART2 / "upstream-echo.yaml"),
                 "-f", str(PART2 / "upstream-foxtrot.yaml"))
        kube.run("delete", "namespace", "echo", "foxtrot")
        wait_until(_get(gw, "/echo"), "the gateway should stop serving /echo", until=lambda r: r.status != 200)
        assert "No resources found" in kube.run("get", "pods", "-n", "echo").stderr


def test_part2_under_current(tmp_path: Path) -> None:
    with sandbox(tmp_path / "sb", "current") as info:
        kube = kubectl_for(info, tmp_path)
        gw = info.gateway
        assert info.data["glooVersion"] == "current"
        _part2_steps_1_to_4(kube, gw)
        # servicePort 8080 is not a port of the Service (80 -> 8080): current Gloo finds no endpoints.
        wait_until(_get(gw, "/echo"), "/echo should have no healthy upstream", until=lambda r: r.status == 503)
        for _ in range(5):
            assert fetch(gw + "/foxtrot").status == 503
        # With the Service's real port, the same routes serve.
        for up in ("echo", "foxtrot"):
            kube.run("patch", "upstream", up, "-n", "gloo-system", "--type", "merge",
                     "-p", '{"spec":{"kube":{"servicePort":80}}}')
        _expect(gw, "/echo", "version:echo-v1")
        _expect(gw, "/foxtrot", "version:foxtrot-v1")
        kube.apply(PART2 / "foxtrot-v2.yaml", PART2 / "echo-v2.yaml")
        wait_ready_pods(kube, "foxtrot")
        wait_ready_pods(kube, "echo")
        kube.apply(PART2 / "rt-foxtrot-3.yaml", PART2 / "rt-echo-2.yaml")
        _expect(gw, "/echo", "version:echo-v2", CANARY)
        _expect(gw, "/foxtrot", "version:foxtrot-v2", CANARY)
        # Step 5: the typo is a warning and warnings no longer freeze anything: foxtrot moves to
        # v2 at once, and echo's canary route points at a cluster that does not exist (503).
        kube.apply(PART2 / "rt-echo-3.yaml", PART2 / "rt-foxtrot-4.yaml")
        _expect(gw, "/foxtrot", "version:foxtrot-v2")
        wait_until(_get(gw, "/echo", CANARY), "the typo route should answer 503", until=lambda r: r.status == 503)
        _expect(gw, "/echo", "version:echo-v1")
        vs_status = kube.json("vs", "app", "-n", "gloo-system")["status"]
        assert "echo-typo" in json.dumps(vs_status)
        # Step 6: route replacement turns the 503 into the configured 404.
        _settings_patch(kube, "settings-patch.yaml")
        wait_until(_get(gw, "/echo", CANARY), "the echo canary route should be replaced by the fallback 404",
                   until=lambda r: r.status == 404 and r.body == INVALID_BODY)
        _expect(gw, "/echo", "version:echo-v1")


@pytest.mark.parametrize("replicas", [2])
def test_every_replica_serves(tmp_path: Path, replicas: int) -> None:
    with sandbox(tmp_path / "sb", "1.3", replicas=replicas) as info:
        kube = kubectl_for(info, tmp_path)
        assert len(info.data["gateways"]) == replicas
        _part2_steps_1_to_4(kube, info.gateway)
        for url in info.data["gateways"]:
            _expect(url, "/echo", "version:echo-v1")
