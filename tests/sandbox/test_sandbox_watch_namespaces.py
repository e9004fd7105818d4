"""What Gloo reads, on a whole sandbox: real kubectl 1.32 labels a namespace into and out of
``watchNamespaceSelectors`` and real HTTP through real Envoy shows its routes come and go.

Transcribes Gloo's ``test/kubernetes/e2e/features/watch_namespace_selector/suite.go`` (main):
``TestMatchLabels`` and ``TestMatchExpressions`` with the suite's Settings
(``test/kubernetes/e2e/tests/manifests/watch-namespace-selector.yaml``: ``label: match`` or
``expression In [match]``) and testdata (``vs-install-ns.yaml``, ``vs-random.yaml``, ``random-ns-unlabeled.yaml``):
the install namespace's VS answers 200 without any label; ``random``'s answers 404 until ``kubectl label ns
random <key>=match``, 200 then, 404 again after ``kubectl label ns random <key>-``.
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
from sandboxkit import REPO, Kube, fetch, kubectl_for, sandbox

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

GS = "gloo-system"
SELECTORS = [{"matchLabels": {"label": "match"}},
             {"matchExpressions": [{"key": "expression", "operator": "In", "values": ["match"]}]}]


def _vs(name: str, namespace: str, domain: str) -> dict:
    # testdata/vs-install-ns.yaml and vs-random.yaml
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"virtualHost": {"domains": [domain], "routes": [
                {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": "Hello, world!"}}]}}}


def _apply(kube: Kube, tmp: Path, docs: list[dict]) -> None:
    path = tmp / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    kube.apply(path)


def _status(gateway: str, host: str) -> int:
    return fetch(gateway + "/", headers={"Host": host}).status


def _check(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "gloo_nb", "check", "--sandbox", str(state_dir), *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_a_namespace_labelled_into_and_out_of_the_selector_adds_and_removes_its_routes(tmp_path: Path) -> None:
    state = tmp_path / "sb"
    with sandbox(state, "current", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        kube.run("patch", "settings", "default", "-n", GS, "--type", "merge",
                 "-p", json.dumps({"spec": {"watchNamespaceSelectors": SELECTORS}}))
        _apply(kube, tmp_path, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "random"}},
                                _vs("vs-install-ns", GS, "install-ns"), _vs("vs-random", "random", "random")])
        # "Ensure the install namespace is watched even if not specified"
        wait_until(lambda: _status(info.gateway, "install-ns") == 200, "install-ns served")
        assert fetch(info.gateway + "/", headers={"Host": "install-ns"}).body == "Hello, world!"
        # "Ensure CRs defined in non watched-namespaces are not translated": no route, no status, said why.
        assert _status(info.gateway, "random") == 404
        assert not kube.json("virtualservice", "vs-random", "-n", "random").get("status")
        assert kube.json("virtualservice", "vs-install-ns", "-n", GS).get("status")
        events = kube.json("events", "-n", "random")["items"]
        [event] = [e for e in events if e["reason"] == "NotWatchedByGloo"]
        assert event["involvedObject"]["name"] == "vs-random" and event["type"] == "Warning"
        assert event["message"].startswith("not watched by Gloo: namespace random (labels {")
        done = _check(state)
        assert done.returncode == 1, done.stderr
        assert ("VirtualService random/vs-random: warning: not watched by Gloo: namespace random (labels "
                in done.stdout)
        assert "matches none of settings.watchNamespaceSelectors [label=match; expression in (match)]" in done.stdout
        # The inspector (intent beside served and applied) carries the same finding.
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        inspected = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--sandbox", str(state), "--json"],
                                   capture_output=True, text=True, env=env, timeout=120, check=False)
        assert inspected.returncode == 0, inspected.stderr
        [finding] = [f for f in json.loads(inspected.stdout)["findings"] if f["layer"] == "watch"]
        assert finding["resource"] == "random/vs-random" and finding["message"].startswith("not watched by Gloo")

        for key in ("label", "expression"):  # TestMatchLabels, TestMatchExpressions
            out = kube.run("label", "ns", "random", f"{key}=match").stdout
            assert "namespace/random labeled" in out
            wait_until(lambda: _status(info.gateway, "random") == 200, f"random served once labelled {key}=match")
            wait_until(lambda: kube.json("virtualservice", "vs-random", "-n", "random").get("status"),
                       "vs-random gets a status once watched")
            assert "not watched by Gloo" not in _check(state).stdout
            out = kube.run("label", "ns", "random", f"{key}-").stdout
            assert "namespace/random unlabeled" in out
            wait_until(lambda: _status(info.gateway, "random") == 404, f"random gone once {key} is removed")
            # an unrelated label changes nothing (TestUnwatchedNamespaceValidation's inconsequential label)
            kube.run("label", "ns", "random", "inconsequential=label")
            assert _status(info.gateway, "random") == 404 and _status(info.gateway, "install-ns") == 200
            kube.run("label", "ns", "random", "inconsequential-")


def test_gloo_13_follows_watch_namespaces_and_ignores_namespace_labels(tmp_path: Path) -> None:
    """1.3: watchNamespaces decide (plus the discovery namespace); the labels the selectors name do not."""
    with sandbox(tmp_path / "sb", "1.3", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        kube.run("patch", "settings", "default", "-n", GS, "--type", "merge",
                 "-p", json.dumps({"spec": {"watchNamespaces": ["team-a"]}}))
        _apply(kube, tmp_path, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
                                for n in ("team-a", "team-b")]
               + [_vs("vs-gs", GS, "gs"), _vs("vs-a", "team-a", "a"), _vs("vs-b", "team-b", "b")])
        wait_until(lambda: _status(info.gateway, "a") == 200 and _status(info.gateway, "gs") == 200,
                   "team-a and gloo-system served")
        assert _status(info.gateway, "b") == 404
        kube.run("label", "ns", "team-b", "label=match")
        assert _status(info.gateway, "b") == 404
        kube.run("patch", "settings", "default", "-n", GS, "--type", "merge",
                 "-p", json.dumps({"spec": {"watchNamespaces": ["team-a", "team-b"]}}))
        wait_until(lambda: _status(info.gateway, "b") == 200, "team-b served once in watchNamespaces")


def test_a_route_table_selected_by_labels_counts_only_while_its_namespace_is_watched(tmp_path: Path) -> None:
    """"My RouteTable is ignored": a VirtualService delegating by label selector over every namespace serves the
    RouteTable of team-a only while team-a is labelled into watchNamespaceSelectors; unlabelled, Gloo's selector
    finds nothing (the VS reports "no route table matches the given selector")."""
    with sandbox(tmp_path / "sb", "current", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        kube.run("patch", "settings", "default", "-n", GS, "--type", "merge",
                 "-p", json.dumps({"spec": {"watchNamespaceSelectors": [{"matchLabels": {"gloo": "yes"}}]}}))
        vs = _vs("vs", GS, "app")
        vs["spec"]["virtualHost"]["routes"] = [
            {"matchers": [{"prefix": "/team"}], "delegateAction": {"selector": {"labels": {"team": "a"},
                                                                                "namespaces": ["*"]}}},
            {"matchers": [{"prefix": "/"}], "directResponseAction": {"status": 200, "body": "root"}}]
        rt = {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
              "metadata": {"name": "rt-a", "namespace": "team-a", "labels": {"team": "a"}},
              "spec": {"routes": [{"matchers": [{"prefix": "/team/a"}],
                                   "directResponseAction": {"status": 200, "body": "team a"}}]}}
        _apply(kube, tmp_path, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}, vs, rt])
        wait_until(lambda: fetch(info.gateway + "/", headers={"Host": "app"}).body == "root", "the VS served")
        assert fetch(info.gateway + "/team/a", headers={"Host": "app"}).body != "team a"
        wait_until(lambda: "no route table matches the given selector" in json.dumps(
            kube.json("virtualservice", "vs", "-n", GS).get("status", {})), "the VS reports the empty selection")
        kube.run("label", "ns", "team-a", "gloo=yes")
        wait_until(lambda: fetch(info.gateway + "/team/a", headers={"Host": "app"}).body == "team a",
                   "team-a's RouteTable served once its namespace is watched")
        kube.run("label", "ns", "team-a", "gloo-")
        wait_until(lambda: fetch(info.gateway + "/team/a", headers={"Host": "app"}).body != "team a",
                   "team-a's RouteTable gone once its namespace is unwatched")
