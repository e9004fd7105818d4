"""FailedCreate Events: a pod the ReplicaSet or Job controller creates and the apiserver refuses is a Warning Event
``FailedCreate`` ``Error creating: <the apiserver's error>`` on the owner, as ``kubectl describe`` shows it.

A store served in-process with the kubelet (which runs the controllers) and the ServiceAccount admission plugin;
the refusal is the plugin's, for a ServiceAccount that does not exist.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from polling import wait_until
from sandboxkit import InProcessApi, alive, in_process_api

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubelet import Kubelet
from gloo_nb.sandbox.serviceaccounts_controller import ServiceAccounts
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

NS = "team"
REFUSAL = f'is forbidden: error looking up service account {NS}/ghost: serviceaccount "ghost" not found'


class Env:
    def __init__(self, store: Store, served: InProcessApi, api: client.ApiClient, home: Path) -> None:
        self.store = store
        self.served = served
        self.api = api
        self.home = home

    def kubectl(self, *args: str) -> str:
        out = subprocess.run(["kubectl", "--kubeconfig", str(self.served.kubeconfig), "-n", NS, *args],
                             capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(self.home)})
        if out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {out.stderr}")
        return out.stdout

    def events_of(self, kind: str, name: str) -> list[dict[str, Any]]:
        return [e for e in self.store.list(kinds.EVENT, NS)[0]
                if e["involvedObject"]["kind"] == kind and e["involvedObject"]["name"] == name]



@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    store = Store(tmp_path / "state")
    kubelet = Kubelet(store, tmp_path)
    accounts = ServiceAccounts(store)
    home = tmp_path / "home"
    home.mkdir()
    try:
        store.create(kinds.NAMESPACE, {"metadata": {"name": "default"}})
        accounts.attach()
        store.create(kinds.NAMESPACE, {"metadata": {"name": NS}})
        kubelet.start()
        with in_process_api(store, tmp_path) as served:
            api = config.new_client_from_config(str(served.kubeconfig))
            try:
                yield Env(store, served, api, home)
            finally:
                api.close()
    finally:
        pids = list(kubelet.processes().values())
        kubelet.stop()
        accounts.detach()
        store.close()
        assert not [p for p in pids if alive(p)], "kubelet.stop() left processes behind"


def _template(app: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"serviceAccountName": "ghost", "containers": [{"name": "c", "image": "hashicorp/http-echo"}]}}


def test_replica_set_records_failed_create_with_the_apiservers_error(env: Env) -> None:
    client.AppsV1Api(env.api).create_namespaced_replica_set(NS, {
        "metadata": {"name": "bot"}, "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "bot"}},
                                              "template": _template("bot")}})
    event = wait_until(lambda: next((e for e in env.events_of("ReplicaSet", "bot") if e["reason"] == "FailedCreate"),
                                  None), "the FailedCreate event")
    # The pod was refused by mutating admission, before the apiserver generated its name: "<rs>-".
    assert event["type"] == "Warning" and event["source"]["component"] == "replicaset-controller"
    assert event["message"] == f'Error creating: pods "bot-" {REFUSAL}'
    described = env.kubectl("describe", "rs", "bot")
    line = next(row for row in described.splitlines() if row.split()[:1] == ["Warning"])
    assert line.split()[:2] == ["Warning", "FailedCreate"]
    assert "replicaset-controller" in line and line.endswith(f'Error creating: pods "bot-" {REFUSAL}')
    status = env.store.get(kinds.REPLICA_SET, NS, "bot")["status"]
    cond = next(c for c in status["conditions"] if c["type"] == "ReplicaFailure")
    assert (cond["reason"], cond["message"]) == ("FailedCreate", f'pods "bot-" {REFUSAL}')


def test_job_records_failed_create(env: Env) -> None:
    template = _template("once")
    template["spec"]["restartPolicy"] = "Never"
    client.BatchV1Api(env.api).create_namespaced_job(NS, {"metadata": {"name": "once"},
                                                          "spec": {"template": template}})
    event = wait_until(lambda: next((e for e in env.events_of("Job", "once") if e["reason"] == "FailedCreate"), None),
                     "the Job's FailedCreate event")
    assert event["type"] == "Warning" and event["source"]["component"] == "job-controller"
    assert event["message"] == f'Error creating: pods "once-" {REFUSAL}'
    line = next(row for row in env.kubectl("describe", "job", "once").splitlines() if row.split()[:1] == ["Warning"])
    assert line.split()[:2] == ["Warning", "FailedCreate"] and line.endswith(f'pods "once-" {REFUSAL}')
