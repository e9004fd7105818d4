"""A real sandbox (the daemon) serves ServiceAccounts and its Node from the start, and again after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandboxkit import kubectl_for, sandbox

from gloo_nb.sandbox import runner

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]


def test_fresh_sandbox_has_default_service_accounts_and_its_node(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with sandbox(state, "current", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        accounts = kube.json("sa", "-A")["items"]
        # Issue 20: and the ServiceAccounts of Gloo's chart (gloo, gateway-proxy; certgen: validation is on).
        assert sorted((a["metadata"]["namespace"], a["metadata"]["name"]) for a in accounts) == [
            ("default", "default"), ("gloo-system", "certgen"), ("gloo-system", "default"),
            ("gloo-system", "gateway-proxy"), ("gloo-system", "gloo"),
            # Issue 20: the system namespaces every cluster has get theirs too.
            ("kube-node-lease", "default"), ("kube-public", "default"), ("kube-system", "default")]
        nodes = kube.json("nodes")["items"]
        assert [n["metadata"]["name"] for n in nodes] == ["sandbox"]
        first_heartbeat = nodes[0]["status"]["conditions"][-1]["lastHeartbeatTime"]
        table = kube.run("get", "sa,nodes", "-n", "gloo-system").stdout
        assert "serviceaccount/default" in table and "node/sandbox" in table and " Ready " in table
        # The Envoy replicas' pods, too, are on the node and run as their Deployment's ServiceAccount (issue 20).
        pod = kube.json("pod", "gateway-proxy-0", "-n", "gloo-system")
        assert pod["spec"]["nodeName"] == "sandbox" and pod["spec"]["serviceAccountName"] == "gateway-proxy"
        kube.run("delete", "sa", "default", "-n", "gloo-system")
        assert kube.json("sa", "default", "-n", "gloo-system")["metadata"]["name"] == "default"
        refused = kube.run("run", "x", "--image=nginx", "--overrides",
                           '{"spec": {"serviceAccountName": "ghost"}}', check=False).stderr
        assert 'pods "x" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" ' \
               "not found" in refused
    runner.stop(state)
    with sandbox(state, None, replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        nodes = kube.json("nodes")["items"]
        assert [n["metadata"]["name"] for n in nodes] == ["sandbox"]
        assert nodes[0]["status"]["conditions"][-1]["lastHeartbeatTime"] >= first_heartbeat
        assert len(kube.json("sa", "-A")["items"]) == 8  # no duplicate after a restart
