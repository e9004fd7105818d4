"""A sandbox running two gateway proxies: real Envoy per proxy, each proxy its own snapshot and front door.

Gloo serves each proxy's snapshot under ``<namespace>~<proxy>`` (``projects/gloo/pkg/xds/cache.go``) to the
Envoys whose ``node.metadata.role`` says so, and the Helm chart gives each proxy its own default Gateway and
Service (``install/helm/gloo/templates/8-default-gateways.yaml``, ``8-gateway-proxy-service.yaml``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from polling import wait_until
from sandboxkit import fetch, kubectl_for

from gloo_nb.app.connect import GatewayUnreachable, connect_sandbox
from gloo_nb.app.record import Recorder
from gloo_nb.app.snapshot import open_snapshot, save_snapshot
from gloo_nb.journal import read_journal
from gloo_nb.sandbox import runner

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]


def _vs(name: str, proxy: str, path: str, body: str, upstream: str | None = None) -> dict:
    action = ({"routeAction": {"single": {"upstream": {"name": upstream, "namespace": "gloo-system"}}}} if upstream
              else {"directResponseAction": {"status": 200, "body": body}})
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "gloo-system", "labels": {"proxy": proxy}},
            "spec": {"virtualHost": {"domains": ["*"], "routes": [
                {"matchers": [{"prefix": path}], **action}]}}}


def _apply(kube, tmp_path: Path, *docs: dict) -> None:
    path = tmp_path / "docs.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    kube.apply(path)


def _answers(url: str, body: str) -> None:
    wait_until(lambda: fetch(url), f"{url} should answer {body!r}",
               until=lambda r: r.status == 200 and r.body == body)


def test_two_proxies_each_serve_their_own_virtual_service(tmp_path: Path) -> None:
    state = tmp_path / "sb"
    try:
        info = runner.start(state, gloo_version="1.3", exit_with=os.getpid(),
                            proxies=["gateway-proxy:1", "internal:1"])
        assert sorted(info.proxies) == ["gateway-proxy", "internal"]
        assert info.gateway == info.proxies["gateway-proxy"]["gateway"]
        assert info.proxies["internal"]["gateway"] != info.gateway
        assert len(info.proxies["internal"]["envoyAdmin"]) == 1
        kube = kubectl_for(info, tmp_path)
        # The install holds one Gateway and one Service per proxy, and one pod per replica.
        items = kube.json("gateways.gateway.solo.io", "-n", "gloo-system")["items"]
        gateways = {g["metadata"]["name"]: g["spec"]["proxyNames"] for g in items}
        assert gateways["internal"] == ["internal"] and gateways["gateway-proxy"] == ["gateway-proxy"]
        kube.json("service", "internal", "-n", "gloo-system")
        pods = {p["metadata"]["name"] for p in kube.json("pods", "-n", "gloo-system")["items"]}
        assert {"gateway-proxy-0", "internal-0"} <= pods
        for name in ("gateway-proxy", "internal"):
            kube.run("patch", "-n", "gloo-system", "gateways.gateway.solo.io", name, "--type", "merge", "--patch",
                     json.dumps({"spec": {"httpGateway": {"virtualServiceSelector": {"proxy": name}}}}))
        _apply(kube, tmp_path, _vs("public", "gateway-proxy", "/", "public"),
               _vs("private", "internal", "/", "private"))
        public, private = info.gateway, info.proxies["internal"]["gateway"]
        _answers(public + "/x", "public")
        _answers(private + "/x", "private")
        _answers(info.proxies["internal"]["gateways"][0] + "/x", "private")
        # A connection looks at one proxy: its replicas, its served snapshot (the shadow node's role), its intent.
        for name in ("internal", "gateway-proxy"):
            with connect_sandbox(state, proxy=name) as conn:
                assert conn.role == f"gloo-system~{name}" and [r.pod for r in conn.replicas] == [f"{name}-0"]
                doc = wait_until(lambda conn=conn: conn.collect().document(), f"{name} in sync",
                                 until=lambda d: d["drift"] and all(r["state"] == "in-sync" for r in d["drift"]))
                assert doc["proxy"] == name and {r["resource"] for r in doc["drift"]} == {
                    "gloo-system/" + ("private" if name == "internal" else "public")}
                assert {r["source"] for r in doc["routes"]} == {"intent", "served", f"{name}-0.gloo-system"}
                # A bundle saved through the connection reopens as that proxy's.
                save_snapshot(conn, tmp_path / f"bundle-{name}")
                offline = open_snapshot(tmp_path / f"bundle-{name}").collect().document()
                assert offline["proxy"] == name and offline["drift"] == doc["drift"]
        # The recorder says which proxy it follows, on its start and on every xDS and replica event.
        out = tmp_path / "journal"
        with connect_sandbox(state, proxy="internal") as conn, Recorder(conn, out, state_dir=state,
                                                                         poll_seconds=0.05):
            wait_until(lambda: read_journal(out).of_kind("replica.poll").events, "a replica poll",
                       ignoring=(Exception,))
        journal = read_journal(out)
        (start,) = journal.of_kind("recorder.start").events
        assert (start.data["proxy"], start.data["role"]) == ("internal", "gloo-system~internal")
        assert start.data["replicas"] == ["internal-0.gloo-system"]
        events = [*journal.of_kind("xds.update").events, *journal.of_kind("replica.poll").events]
        assert events and {e.data["proxy"] for e in events} == {"internal"}
        # gloo-nb inspect --all-proxies: every proxy, each row saying whose it is.
        done = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--sandbox", str(state), "--all-proxies",
                               "--json"], capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert doc["proxy"] == "gateway-proxy" and [p["name"] for p in doc["proxies"]] == ["gateway-proxy", "internal"]
        assert {(r["proxy"], r["resource"], r["state"]) for r in doc["drift"]} == {
            ("gateway-proxy", "gloo-system/public", "in-sync"), ("internal", "gloo-system/private", "in-sync")}
        assert {name: h["state"] for name, h in doc["headlines"].items()} == {"gateway-proxy": "ok", "internal": "ok"}
        assert doc["headline"] == doc["headlines"]["gateway-proxy"]
        with pytest.raises(GatewayUnreachable, match="runs no proxy 'nope'"):
            connect_sandbox(state, proxy="nope")
        # The VirtualServices' statuses carry each proxy's status under its own 1.3 key.
        subs = kube.json("virtualservice", "public", "-n", "gloo-system")["status"]["subresource_statuses"]
        assert sorted(subs) == ["*v1.Proxy.gloo-system.gateway-proxy", "*v1.Proxy.gloo-system.internal"]

        # 1.3: a missing upstream on the internal proxy keeps that proxy's last good snapshot, while the
        # other proxy takes its change (each proxy is sanitized and served on its own).
        _apply(kube, tmp_path, _vs("private", "internal", "/", "", upstream="nowhere"),
               _vs("public", "gateway-proxy", "/", "public-2"))
        _answers(public + "/x", "public-2")
        assert fetch(private + "/x").body == "private"
        wait_until(lambda: kube.json("proxy", "internal", "-n", "gloo-system").get("status", {}).get("state"),
                   "the internal Proxy's status", until=lambda s: s == 3)
        assert fetch(private + "/x").body == "private"
        # Each proxy's answer first: the internal proxy holds its last good snapshot, the public one does not.
        done = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--sandbox", str(state), "--all-proxies",
                               "--json"], capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        heads = json.loads(done.stdout)["headlines"]
        assert heads["internal"]["state"] == "blocked-by-last-known-good" and "nowhere" in heads["internal"]["text"]
        assert heads["gateway-proxy"]["state"] == "ok", heads["gateway-proxy"]
        # A proxy no Gateway names any more: its Proxy is deleted (1.3 proxy_reconciler.go) and its Envoys get
        # Gloo's empty snapshot (garbage collection), so its front door no longer routes. Helm made two Gateways
        # for it (internal, internal-ssl): while one names it, the Proxy stays.
        kube.run("delete", "-n", "gloo-system", "gateways.gateway.solo.io", "internal")
        assert kube.run("get", "-n", "gloo-system", "proxies.gloo.solo.io", "internal").returncode == 0
        kube.run("delete", "-n", "gloo-system", "gateways.gateway.solo.io", "internal-ssl")
        wait_until(lambda: kube.run("get", "-n", "gloo-system", "proxies.gloo.solo.io", "internal",
                                    check=False).returncode, "the internal Proxy deleted", until=lambda rc: rc != 0)
        wait_until(lambda: fetch(private + "/x"), "the internal proxy serves nothing", until=lambda r: r.status != 200)
        assert fetch(public + "/x").body == "public-2"
        # A restart with one proxy fewer drops that proxy's pods; the objects users made stay.
        runner.stop(state)
        info = runner.start(state, exit_with=os.getpid(), proxies=["gateway-proxy:1"])
        assert list(info.proxies) == ["gateway-proxy"]
        pods = {p["metadata"]["name"] for p in kube.json("pods", "-n", "gloo-system")["items"]}
        assert "gateway-proxy-0" in pods and not any(p.startswith("internal-") for p in pods)
        _answers(info.gateway + "/x", "public-2")
    finally:
        runner.stop(state)
