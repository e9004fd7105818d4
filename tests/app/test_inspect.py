"""The inspector against a whole sandbox at the seed scenario's incident (Gloo 1.3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from polling import wait_until
from sandboxkit import PART2, body_is, fetch, kubectl_for, sandbox, wait_ready_pods

import gloo_nb
from gloo_nb.app.connect import connect_sandbox, profile_from_image

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

FOX_BLOCKED_INTENT = "foxtrot_gloo-system {version=v1} 0, foxtrot_gloo-system {version=v2} 100"
FOX_SERVED = "foxtrot_gloo-system {version=v1} 100, foxtrot_gloo-system {version=v2} 0"


def _row(drift: list[dict], match: str) -> dict:
    rows = [d for d in drift if d["route"]["match"] == match]
    assert len(rows) == 1, (match, drift)
    return rows[0]


@pytest.fixture(scope="module")
def shared_incident(tmp_path_factory: pytest.TempPathFactory):
    """One sandbox at the incident for the module (a sandbox costs seconds); ``patched`` changes it, once, last."""
    tmp = tmp_path_factory.mktemp("inspect")
    with sandbox(tmp / "sb", "1.3") as info:
        kube = kubectl_for(info, tmp)
        kube.apply(PART2 / "echo.yaml", PART2 / "foxtrot.yaml", PART2 / "echo-v2.yaml", PART2 / "foxtrot-v2.yaml")
        wait_ready_pods(kube, "echo")
        wait_ready_pods(kube, "foxtrot")
        kube.apply(PART2 / "upstream-echo.yaml", PART2 / "upstream-foxtrot.yaml", PART2 / "rt-echo-2.yaml",
                   PART2 / "rt-foxtrot-3.yaml", PART2 / "vs.yaml")
        wait_until(lambda: fetch(info.gateway + "/foxtrot"), "foxtrot serves", until=body_is("version:foxtrot-v1"))
        kube.apply(PART2 / "rt-echo-3.yaml", PART2 / "rt-foxtrot-4.yaml")
        wait_until(lambda: "echo-typo" in json.dumps(kube.json("vs", "app", "-n", "gloo-system").get("status")),
                   "the typo is reported")
        yield info, kube, tmp, {"patched": False}


@pytest.fixture
def incident(shared_incident):
    """The sandbox at the incident, as the settings patch has not changed it yet."""
    info, kube, tmp, state = shared_incident
    if state["patched"]:
        pytest.fail("the settings patch already ran on this module's sandbox: the tests that read the incident "
                    "must run before the one that uses the `patched` fixture (keep it last in the module)")
    return info, kube, tmp


@pytest.fixture
def patched(shared_incident):
    """The module's sandbox after the settings patch (invalid route replacement): a state no later test reads."""
    info, kube, tmp, state = shared_incident
    if not state["patched"]:
        state["patched"] = True
        kube.run("patch", "-n", "gloo-system", "settings", "default", "--type", "merge",
                 "--patch", (PART2 / "settings-patch.yaml").read_text())
    return info, kube, tmp


def test_blocked_foxtrot_names_echo_as_the_cause(incident) -> None:
    info, _, _ = incident
    with connect_sandbox(info.state_dir) as conn:
        assert conn.profile == "1.3" and len(conn.replicas) == 2
        inspection = conn.collect()
    fox = _row(inspection.drift, "prefix /foxtrot")
    assert fox["state"] == "blocked-by-last-known-good"
    assert fox["resource"] == "foxtrot/foxtrot-routes"
    assert fox["bySource"]["intent"] == FOX_BLOCKED_INTENT
    assert fox["bySource"]["served"] == FOX_SERVED
    assert fox["bySource"]["gateway-proxy-0.gloo-system"] == FOX_SERVED
    assert fox["bySource"]["gateway-proxy-1.gloo-system"] == FOX_SERVED
    assert "echo/echo-routes" in fox["cause"] and "echo-typo" in fox["cause"]
    canary = _row(inspection.drift, "prefix /echo, stage=canary")
    assert canary["state"] == "blocked-by-last-known-good" and canary["resource"] == "echo/echo-routes"
    findings = inspection.findings_frame()
    typo = findings[findings["message"].str.contains("echo-typo")]
    assert set(typo["origin"]) == {"echo/echo-routes"} and set(typo["team"]) == {"echo"}
    routes = inspection.routes_frame()
    assert set(routes["source"]) == {"intent", "served", "gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"}
    served_fox = routes[(routes["source"] == "served") & (routes["match"] == "prefix /foxtrot")]
    assert list(served_fox["action"]) == [FOX_SERVED] and list(served_fox["resource"]) == ["foxtrot/foxtrot-routes"]


def test_snapshot_bundle_gives_the_same_inspection_offline(incident) -> None:
    info, _, tmp = incident
    bundle = tmp / "bundle"
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "snapshot", "save", "--sandbox", str(info.state_dir),
                           "--out", str(bundle)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (bundle / "resources.yaml").exists() and (bundle / "served.json").exists()
    assert sorted(p.name for p in (bundle / "applied").iterdir()) == [
        "gateway-proxy-0.gloo-system.json", "gateway-proxy-1.gloo-system.json"]
    offline = gloo_nb.open_snapshot(bundle).collect()
    with gloo_nb.connect_sandbox(info.state_dir) as conn:
        live = conn.collect()
    assert offline.drift == live.drift
    assert _row(offline.drift, "prefix /foxtrot")["state"] == "blocked-by-last-known-good"
    cli = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--snapshot", str(bundle), "--json"],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0 and json.loads(cli.stdout)["drift"] == [d.as_json() for d in live.drift]


def test_admin_apis_through_port_forwards_as_on_a_cluster(incident) -> None:
    info, _, _ = incident
    with gloo_nb.connect_sandbox(info.state_dir, port_forward=True) as conn:
        urls = [r.admin_url for r in conn.replicas]
        assert len(urls) == 2 and not set(urls) & set(info.envoy_admin), "admin reached through port-forwards"
        through_forwards = conn.collect()
    with gloo_nb.connect_sandbox(info.state_dir) as conn:
        direct = conn.collect()
    assert through_forwards.drift == direct.drift


def test_inspect_cli_as_on_a_cluster(incident) -> None:
    # --kubeconfig: replicas found from the gateway-proxy pods, admin APIs and the gateway through
    # port-forwards, the profile given (no gloo Deployment to read it from), xDS given.
    info, _, _ = incident
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--kubeconfig", info.kubeconfig,
                           "--xds", info.data["xds"], "--gloo-version", "1.3", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert {r["source"] for r in doc["routes"]} == {"intent", "served", "gateway-proxy-0.gloo-system",
                                                    "gateway-proxy-1.gloo-system"}
    # A user without rights on the pods' port-forward gets Kubernetes' refusal in one line.
    denied = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--kubeconfig", info.kubeconfig,
                             "--xds", info.data["xds"], "--as", "nobody", "--as-group", "nobody"],
                            capture_output=True, text=True, timeout=60)
    assert denied.returncode == 2 and denied.stderr.count("\n") == 1 and "forbidden" in denied.stderr, denied.stderr
    with gloo_nb.connect(info.kubeconfig, gloo_version="1.3", xds=info.data["xds"]) as conn:
        assert conn.gateway_url and conn.gateway_url not in info.data["gateways"]
        assert fetch(conn.gateway_url + "/echo").status == 200


def test_profile_from_the_gloo_image() -> None:
    assert profile_from_image("quay.io/solo-io/gloo:1.3.20") == "1.3"
    assert profile_from_image("quay.io/solo-io/gloo:v1.11.4") == "1.3"
    assert profile_from_image("quay.io/solo-io/gloo:1.12.0") == "current"
    assert profile_from_image("quay.io/solo-io/gloo:1.17.3-patch1") == "current"
    assert profile_from_image("quay.io/solo-io/gloo@sha256:abc") is None


def test_inspect_cli_json_contract(incident) -> None:
    info, _, _ = incident
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--sandbox", str(info.state_dir), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["glooVersion"] == "1.3"
    assert {"source", "virtualHost", "order", "name", "match", "action", "resource"} <= set(doc["routes"][0])
    assert {r["source"] for r in doc["routes"]} >= {"intent", "served", "gateway-proxy-0.gloo-system"}
    for d in doc["drift"]:
        assert {"resource", "route", "state", "cause", "bySource"} <= set(d)
        assert {"virtualHost", "order", "match"} <= set(d["route"])
    # Issue 16, the answer first: the headline leads the text and is an additive key of the JSON; the writer is
    # the sandbox audit log's user (the fixture applied with the admin kubeconfig).
    assert doc["headline"]["state"] == "blocked-by-last-known-good"
    assert doc["headline"]["text"].startswith("foxtrot's change to foxtrot/foxtrot-routes is NOT served (")
    assert "because echo/echo-routes (team echo, changed by admin) names upstream echo-typo" in doc["headline"]["text"]
    assert doc["headline"]["lines"][0] == doc["headline"]["text"]
    assert any(line.startswith("fix: ") for line in doc["headline"]["lines"])
    text = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--sandbox", str(info.state_dir)],
                          capture_output=True, text=True, timeout=60)
    assert text.returncode == 0 and "Drift" in text.stdout and "Findings" in text.stdout
    assert text.stdout.startswith("foxtrot's change to foxtrot/foxtrot-routes is NOT served ("), text.stdout[:500]


def test_check_reads_a_sandbox(incident) -> None:
    info, _, _ = incident
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "check", "--sandbox", str(info.state_dir)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "echo-typo" in done.stdout and "RouteTable echo/echo-routes" in done.stdout


def test_no_sandbox_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--sandbox", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "no sandbox runs in" in done.stderr


# Last: it changes the module's sandbox (see the `patched` fixture).
def test_after_the_settings_patch_foxtrot_is_in_sync_and_echo_canary_replaced(patched) -> None:
    info, _, _ = patched
    wait_until(lambda: fetch(info.gateway + "/foxtrot"), "foxtrot moves", until=body_is("version:foxtrot-v2"))
    with connect_sandbox(info.state_dir) as conn:
        inspection = conn.collect()
    fox = _row(inspection.drift, "prefix /foxtrot")
    assert fox["state"] == "in-sync", fox
    canary = _row(inspection.drift, "prefix /echo, stage=canary")
    assert canary["state"] == "replaced-by-fallback", canary
    assert canary["bySource"]["served"] == "fallback 404"
    assert "echo-typo" in canary["cause"]
    assert _row(inspection.drift, "prefix /echo")["state"] == "in-sync"
