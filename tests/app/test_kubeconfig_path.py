"""Issue 20: the real-cluster path (``--kubeconfig``) against a sandbox gives the ``--sandbox`` path's answers.

The kubeconfig path finds everything as on a cluster: the profile from the ``gloo`` Deployment's image tag, the
control plane's xDS through a port-forward to the gloo pod's 9977, each Envoy's admin API through a port-forward to
its pod. ``--sandbox DIR`` reads the same addresses from ``endpoints.json`` and must not answer differently.
Real kubectl, the real Python client, real Envoy.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until
from sandboxkit import PART2, SEED, body_is, fetch, in_process_api, kubectl_for, sandbox, wait_ready_pods

from gloo_nb.app.connect import GatewayUnreachable, connect, connect_sandbox
from gloo_nb.app.manifests import read_documents
from gloo_nb.app.notebook import FOXTROT_START, NotebookGateway, for_profile, open_gateway
from gloo_nb.app.rollout import Rollout
from gloo_nb.journal import journal_files, read_journal
from gloo_nb.rollout import RolloutTarget
from gloo_nb.sandbox import runner
from gloo_nb.sandbox.store import Store

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

FOXTROT = RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "version", "v1", "v2", weights=(10, 50, 100))
IMAGE = {"1.3": "quay.io/solo-io/gloo:1.3.", "current": "quay.io/solo-io/gloo:1."}


@pytest.fixture(scope="module", params=["1.3", "current"])
def incident(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A sandbox of each profile at the seed incident (echo's typo, foxtrot's next step after it)."""
    tmp = tmp_path_factory.mktemp(f"kubeconfig-{request.param}")
    with sandbox(tmp / "sb", request.param) as info:
        kube = kubectl_for(info, tmp)
        kube.apply(PART2 / "echo.yaml", PART2 / "foxtrot.yaml", PART2 / "echo-v2.yaml", PART2 / "foxtrot-v2.yaml")
        wait_ready_pods(kube, "echo")
        wait_ready_pods(kube, "foxtrot")
        for name in ("upstream-echo.yaml", "upstream-foxtrot.yaml"):
            # As the notebooks play the seed: current Gloo finds no endpoints for the seed's servicePort 8080.
            for n, doc in enumerate(read_documents(PART2 / name)):
                adapted = tmp / f"{n}-{name}.json"
                adapted.write_text(json.dumps(for_profile(doc, request.param)))
                kube.apply(adapted)
        kube.apply(PART2 / "rt-echo-2.yaml", PART2 / "rt-foxtrot-3.yaml", PART2 / "vs.yaml")
        wait_until(lambda: fetch(info.gateway + "/foxtrot"), "foxtrot serves", until=body_is("version:foxtrot-v1"))
        kube.apply(PART2 / "rt-echo-3.yaml", PART2 / "rt-foxtrot-4.yaml")
        wait_until(lambda: "echo-typo" in json.dumps(kube.json("vs", "app", "-n", "gloo-system").get("status")),
                   "the typo is reported")
        yield request.param, info, kube, tmp


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gloo_nb", *args], capture_output=True, text=True, timeout=120)


def _inspect(*connection: str) -> dict[str, Any]:
    done = _cli("inspect", *connection, "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


_SECONDS = re.compile(r"\((?:\d+(?:\.\d+)? (?:s|min|h)|since unknown)\)")


def _timeless(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with the headline's durations (time passes between the two runs) blanked."""
    return dict(json.loads(_SECONDS.sub("(…)", json.dumps(doc))))


def test_inspect_json_is_the_same_through_the_kubeconfig(incident: Any) -> None:
    profile, info, _, _ = incident
    kubeconfig = str(info.kubeconfig)
    by_sandbox = _inspect("--sandbox", str(info.state_dir))
    by_kubeconfig = _inspect("--kubeconfig", kubeconfig, "--audit-log", str(info.state_dir / "audit.jsonl"))
    assert by_sandbox["glooVersion"] == by_kubeconfig["glooVersion"] == profile
    assert _timeless(by_kubeconfig) == _timeless(by_sandbox)
    blocked = [d for d in by_kubeconfig["drift"] if d["resource"] == "foxtrot/foxtrot-routes"]
    assert blocked, by_kubeconfig["drift"]
    if profile == "1.3":
        # The symptom: without the gloo Deployment this was Gloo current's "replica-lagging" and
        # "port 8080 not found for service echo".
        assert by_kubeconfig["headline"]["state"] == "blocked-by-last-known-good"
        assert {d["state"] for d in blocked} >= {"blocked-by-last-known-good"}
    assert "port 8080 not found" not in json.dumps(by_kubeconfig)

    texts = [_cli("inspect", *conn) for conn in (("--sandbox", str(info.state_dir)),
                                                 ("--kubeconfig", kubeconfig, "--audit-log",
                                                  str(info.state_dir / "audit.jsonl")))]
    assert [t.returncode for t in texts] == [0, 0], [t.stderr for t in texts]
    assert _SECONDS.sub("(…)", texts[0].stdout) == _SECONDS.sub("(…)", texts[1].stdout)
    assert f"Gloo {profile}" in texts[1].stdout

    # Without an audit log a cluster's API names no user: only the headline's actor differs.
    plain = _inspect("--kubeconfig", kubeconfig)
    assert {k: v for k, v in plain.items() if k != "headline"} == \
        {k: v for k, v in by_sandbox.items() if k != "headline"}
    assert plain["headline"]["state"] == by_sandbox["headline"]["state"]
    # Issue 20: the sandbox records managedFields, so that actor is the field manager that wrote the culprit
    # (kubectl apply's), not "unknown".
    assert "changed by kubectl-client-side-apply" in json.dumps(plain["headline"]), plain["headline"]
    assert "changed by unknown" not in json.dumps(plain["headline"])


def test_the_profile_comes_from_the_gloo_image_on_both_paths(incident: Any) -> None:
    profile, info, kube, _ = incident
    image = kube.json("deployment", "gloo", "-n", "gloo-system")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith(IMAGE[profile])
    with connect(str(info.kubeconfig)) as conn, connect_sandbox(info.state_dir) as sb:
        assert conn.profile == sb.profile == profile
        assert conn.profile_source == sb.profile_source == f"image {image} of Deployment gloo-system/gloo"
        # On the kubeconfig path xDS and the admin APIs are port-forwards, not endpoints.json's addresses.
        endpoints = json.loads((info.state_dir / "endpoints.json").read_text())
        assert conn.xds_address != endpoints["xds"]
        assert len(conn.replicas) == len(endpoints["envoyAdmin"])
        assert not {r.admin_url for r in conn.replicas} & set(endpoints["envoyAdmin"])
        assert [r.node_id for r in conn.replicas] == [r.node_id for r in sb.replicas]


def test_the_cluster_id_is_the_same_on_both_paths(incident: Any) -> None:
    # A rollout journal's identity: the kubeconfig path reads kube-system's UID, --sandbox endpoints.json's clusterId.
    _, info, _, _ = incident
    with connect(str(info.kubeconfig), port_forward=False) as conn, connect_sandbox(info.state_dir) as sb:
        assert conn.cluster_identity() == sb.cluster_identity()


def test_check_snapshot_and_route_agree(incident: Any, tmp_path: Path) -> None:
    _, info, _, _ = incident
    sb = ("--sandbox", str(info.state_dir))
    kc = ("--kubeconfig", str(info.kubeconfig))
    a, b = _cli("check", *sb), _cli("check", *kc)
    assert (a.returncode, a.stdout) == (b.returncode, b.stdout)
    assert a.returncode == 1 and "echo-typo" in a.stdout
    wa, wb = _cli("check", *sb, "--webhook", "--json"), _cli("check", *kc, "--webhook", "--json")
    assert wa.returncode == wb.returncode and wa.stdout == wb.stdout, wa.stderr + wb.stderr
    assert json.loads(wb.stdout)["glooVersion"] == incident[0]
    ra = _cli("route", *sb, "--path", "/foxtrot", "--json")
    rb = _cli("route", *kc, "--path", "/foxtrot", "--json")
    assert ra.returncode == rb.returncode == 0, ra.stderr + rb.stderr
    assert json.loads(ra.stdout) == json.loads(rb.stdout)
    for name, conn in (("a", sb), ("b", kc)):
        done = _cli("snapshot", "save", *conn, "--out", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
    one, two = (json.loads((tmp_path / n / "served.json").read_text()) for n in "ab")
    assert one == two
    assert (tmp_path / "a" / "resources.yaml").read_text() == (tmp_path / "b" / "resources.yaml").read_text()
    bundle_a, bundle_b = (json.loads((tmp_path / n / "bundle.json").read_text()) for n in "ab")
    assert {k: v for k, v in bundle_a.items() if k != "time"} == {k: v for k, v in bundle_b.items() if k != "time"}


def test_the_notebooks_kubeconfig_parameter_opens_the_same_gateway(incident: Any) -> None:
    profile, info, _, _ = incident
    by_kubeconfig = open_gateway(kubeconfig=str(info.kubeconfig), audit_log=info.state_dir / "audit.jsonl")
    by_sandbox = open_gateway(sandbox_dir=info.state_dir)
    try:
        assert isinstance(by_kubeconfig, NotebookGateway) and isinstance(by_sandbox, NotebookGateway)
        assert by_kubeconfig.conn.profile == by_sandbox.conn.profile == profile
        one, two = by_kubeconfig.inspect(), by_sandbox.inspect()
        assert one.document() == two.document()
        lines = [_SECONDS.sub("(…)", "\n".join(gw.headline(i).lines())) for gw, i in
                 ((by_kubeconfig, one), (by_sandbox, two))]
        assert lines[0] == lines[1]
        assert "changed by admin" in lines[0]
    finally:
        by_kubeconfig.close()
        by_sandbox.close()


def _record(out: Path, *connection: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "gloo_nb", "record", *connection, "--out", str(out),
                             "--poll-seconds", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def started() -> bool:
        assert proc.poll() is None, proc.communicate()
        return out.is_dir() and any(f.stat().st_size for f in journal_files(out))

    wait_until(started, "the recorder wrote its first batch", timeout=60)
    return proc


def _kube_events(out: Path) -> list[tuple[Any, ...]]:
    return sorted((e.data["type"], e.data["kind"], e.data["namespace"], e.data["name"],
                   json.dumps(e.data["actor"], sort_keys=True))
                  for e in read_journal(out).events if e.kind == "kube.event")


def test_record_through_the_kubeconfig_writes_the_sandbox_paths_journal(incident: Any, tmp_path: Path) -> None:
    profile, info, kube, _ = incident
    procs = [_record(tmp_path / "sb", "--sandbox", str(info.state_dir)),
             _record(tmp_path / "kc", "--kubeconfig", str(info.kubeconfig),
                     "--audit-log", str(info.state_dir / "audit.jsonl"))]
    try:
        kube.run("annotate", "upstream", "foxtrot", "-n", "gloo-system", f"issue20/{profile}=recorded")

        def seen(out: Path) -> bool:
            return any(ev[3] == "foxtrot" and '"admin"' in ev[4] and ev[0] == "MODIFIED" for ev in _kube_events(out))

        for out in (tmp_path / "sb", tmp_path / "kc"):
            wait_until(lambda out=out: seen(out), f"{out.name} recorded the annotation", timeout=30)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.communicate(timeout=30)
    assert [p.returncode for p in procs] == [0, 0]
    sb, kc = _kube_events(tmp_path / "sb"), _kube_events(tmp_path / "kc")
    assert sb == kc
    starts = [next(e.data for e in read_journal(tmp_path / n).events if e.kind == "recorder.start")
              for n in ("sb", "kc")]
    for key in ("profile", "namespace", "proxy", "role", "replicas", "kinds"):
        assert starts[0][key] == starts[1][key], key
    assert starts[1]["profile"] == profile


def test_the_sandbox_path_says_what_a_team_identity_could_not_do_through_the_kubeconfig(incident: Any) -> None:
    # Last of the module's tests on this sandbox: it adds the seed's RBAC.
    _, info, kube, _ = incident
    kube.apply(SEED / "rbac.yaml")
    with connect_sandbox(info.state_dir, as_user="foxtrot-dev", as_group="team-foxtrot") as team:
        assert team.cluster_differences == [
            "foxtrot-dev may not get/create pods/portforward in gloo-system: gloo-nb --kubeconfig as this identity "
            "could not reach the Envoy admin APIs (the sandbox's direct addresses are used here)"]
    with pytest.raises(GatewayUnreachable, match=r'User "foxtrot-dev" cannot get resource "pods/portforward"'):
        connect(str(info.kubeconfig), as_user="foxtrot-dev", as_group="team-foxtrot").close()
    with connect_sandbox(info.state_dir, as_user="ops", as_group="platform-ops") as ops:
        assert ops.cluster_differences == []
    with connect(str(info.kubeconfig), as_user="ops", as_group="platform-ops") as ops:
        assert len(ops.replicas) == 2 and ops.served(10).route_configurations


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Any]:
    with sandbox(tmp_path / "sb", "1.3") as info:
        kube = kubectl_for(info, tmp_path)
        kube.apply(*(PART2 / f for f in FOXTROT_START))
        wait_ready_pods(kube, "echo")
        wait_ready_pods(kube, "foxtrot")
        yield info, kube


def test_a_rollout_step_through_the_kubeconfig_is_proven(fresh: Any, tmp_path: Path) -> None:
    info, kube = fresh
    target = ("--route-table", "foxtrot/foxtrot-routes", "--upstream", "gloo-system/foxtrot", "--subset-key",
              "version", "--stable", "v1", "--canary", "v2", "--weights", "10,50,100", "--json")
    plans = [_cli("rollout", *conn, *target) for conn in (("--sandbox", str(info.state_dir)),
                                                           ("--kubeconfig", str(info.kubeconfig)))]
    assert [p.returncode for p in plans] == [0, 0], [p.stderr for p in plans]
    assert json.loads(plans[0].stdout) == json.loads(plans[1].stdout)
    assert "phase2-50" in plans[1].stdout
    with connect(str(info.kubeconfig)) as conn:
        assert conn.profile == "1.3" and conn.profile_source.startswith("image quay.io/solo-io/gloo:1.3.")
        endpoints = json.loads((info.state_dir / "endpoints.json").read_text())
        assert conn.xds_address and conn.xds_address != endpoints["xds"]
        assert conn.gateway_url and conn.gateway_url != endpoints["gateway"]
        rollout = Rollout(conn, FOXTROT, journal=tmp_path / "journal")
        try:
            reports = rollout.run(until="phase2-0")
        finally:
            rollout.close()
    assert [(r.step, r.outcome) for r in reports] == [("phase1", "proven"), ("phase2-0", "proven")], \
        [r.text() for r in reports]
    assert all(r.converged is not None and r.converged.ok for r in reports)
    kinds = [e.kind for e in read_journal(tmp_path / "journal").events]
    assert "rollout.guards" in kinds and kinds.count("rollout.checkpoint") == 2
    canary = fetch(info.gateway + "/foxtrot", headers={"stage": "canary"})
    assert canary.body.strip() == "version:foxtrot-v2"


def _vs(name: str, proxy: str, body: str) -> dict[str, Any]:
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "gloo-system", "labels": {"proxy": proxy}},
            "spec": {"virtualHost": {"domains": ["*"], "routes": [
                {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": body}}]}}}


def test_every_proxy_through_the_kubeconfig(tmp_path: Path) -> None:
    # Helm's gatewayProxies: one Deployment per proxy, its pods labelled gateway-proxy-id=<proxy>, which the
    # kubeconfig path finds and port-forwards to, as --sandbox reads them from endpoints.json.
    state = tmp_path / "sb"
    try:
        info = runner.start(state, gloo_version="1.3", exit_with=os.getpid(), proxies=["gateway-proxy:1", "internal:2"])
        kube = kubectl_for(info, tmp_path)
        for name in ("gateway-proxy", "internal"):
            kube.run("patch", "-n", "gloo-system", "gateways.gateway.solo.io", name, "--type", "merge", "--patch",
                     json.dumps({"spec": {"httpGateway": {"virtualServiceSelector": {"proxy": name}}}}))
        for doc in (_vs("public", "gateway-proxy", "public"), _vs("private", "internal", "private")):
            path = tmp_path / f"{doc['metadata']['name']}.json"
            path.write_text(json.dumps(doc))
            kube.apply(path)
        wait_until(lambda: fetch(info.proxies["internal"]["gateway"] + "/x"), "internal serves",
                   until=body_is("private"))
        runs = [_cli("inspect", *conn, "--all-proxies", "--json")
                for conn in (("--sandbox", str(state)),
                             ("--kubeconfig", str(info.kubeconfig), "--audit-log", str(state / "audit.jsonl")))]
        assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
        by_sandbox, by_kubeconfig = (_timeless(json.loads(r.stdout)) for r in runs)
        assert by_kubeconfig == by_sandbox
        assert [p["name"] for p in by_kubeconfig["proxies"]] == ["gateway-proxy", "internal"]
        assert {r["source"] for r in by_kubeconfig["routes"]} >= {"internal-0.gloo-system", "internal-1.gloo-system"}
        assert {(r["proxy"], r["state"]) for r in by_kubeconfig["drift"]} == {
            ("gateway-proxy", "in-sync"), ("internal", "in-sync")}
    finally:
        runner.stop(state)


def test_endpoints_json_disagreeing_with_the_cluster_is_an_error(incident: Any, tmp_path: Path) -> None:
    # A state directory whose endpoints.json says the other profile than the gloo image: --sandbox refuses,
    # naming both, instead of answering otherwise than --kubeconfig would.
    profile, info, _, _ = incident
    endpoints = json.loads((info.state_dir / "endpoints.json").read_text())
    other = "current" if profile == "1.3" else "1.3"
    (tmp_path / "endpoints.json").write_text(json.dumps({**endpoints, "glooVersion": other}))
    with pytest.raises(GatewayUnreachable) as err:
        connect_sandbox(tmp_path)
    assert f"runs Gloo {other}" in str(err.value) and f"its cluster says {profile} (image quay.io/solo-io/gloo:" \
        in str(err.value)


def test_without_a_gloo_deployment_the_default_profile_is_said(tmp_path: Path) -> None:
    with in_process_api(Store(), tmp_path) as api:
        with connect(str(api.kubeconfig), port_forward=False) as conn:
            assert (conn.profile, conn.profile_source) == ("current", "default: no gloo Deployment in gloo-system")
            assert any("translating as Gloo current; pass --gloo-version 1.3" in n for n in conn.notes)
