"""APIServices (apiregistration.k8s.io/v1): the local ones kube-aggregator registers, and the availability of others.

A store served in-process with the APIServices controllers attached, as the sandbox daemon does; driven with real
kubectl and the official Python client (the flow of kubernetes-client/python's e2e
``test_utils.py::test_create_apiservice_from_yaml_with_conflict``, with its ``api-service.yaml``).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, utils
from kubernetes.client.rest import ApiException
from sandboxkit import InProcessApi, in_process_api, kubectl_for, sandbox

from gloo_nb.sandbox import kinds, runner
from gloo_nb.sandbox.apiservices import APIServices
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

# kubernetes-client/python e2e_test/test_yaml/api-service.yaml, verbatim.
API_SERVICE_YAML = """\
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1alpha1.wardle.k8s.io
spec:
  insecureSkipTLSVerify: true
  group: wardle.k8s.io
  groupPriorityMinimum: 1000
  versionPriority: 15
  service:
    name: api
    namespace: wardle
  version: v1alpha1
"""


class Env:
    def __init__(self, store: Store, served: InProcessApi, api: client.ApiClient, controllers: APIServices,
                 home: Path) -> None:
        self.store = store
        self.served = served
        self.api = api
        self.reg = client.ApiregistrationV1Api(api)
        self.controllers = controllers
        self.home = home

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["kubectl", "--kubeconfig", str(self.served.kubeconfig), *args], capture_output=True,
                             text=True, timeout=60, input=stdin, env={**os.environ, "HOME": str(self.home)})
        if check and out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {out.stderr}")
        return out

    def available(self, name: str) -> dict[str, Any]:
        self.controllers.wait_idle()
        obj = self.store.get(kinds.API_SERVICE, None, name)
        return next(c for c in obj["status"]["conditions"] if c["type"] == "Available")


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    store = Store(tmp_path / "state")
    controllers = APIServices(store)
    home = tmp_path / "home"
    home.mkdir()
    try:
        store.create(kinds.NAMESPACE, {"metadata": {"name": "default"}})
        controllers.attach()
        with in_process_api(store, tmp_path) as served:
            api = config.new_client_from_config(str(served.kubeconfig))
            try:
                yield Env(store, served, api, controllers, home)
            finally:
                api.close()
    finally:
        controllers.detach()
        store.close()


def test_a_fresh_sandbox_holds_the_local_api_services(env: Env) -> None:
    table = [line.split() for line in env.kubectl("get", "apiservices").stdout.splitlines()]
    assert table[0] == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    rows = {row[0]: row[1:3] for row in table[1:]}
    for name in ("v1.", "v1.apps", "v1.batch", "v1.rbac.authorization.k8s.io", "v1.authorization.k8s.io",
                 "v1.apiextensions.k8s.io", "v1.admissionregistration.k8s.io", "v1.gateway.solo.io", "v1.gloo.solo.io"):
        assert rows.get(name) == ["Local", "True"], (name, rows)
    # Only what the sandbox serves and kube-apiserver has a priority for (no apiregistration.k8s.io itself).
    assert set(rows) == {"v1.", "v1.apps", "v1.batch", "v1.rbac.authorization.k8s.io", "v1.authorization.k8s.io",
                         "v1.apiextensions.k8s.io", "v1.admissionregistration.k8s.io", "v1.gateway.solo.io",
                         "v1.gloo.solo.io"}
    apps = env.reg.read_api_service("v1.apps")
    assert (apps.spec.group, apps.spec.version, apps.spec.group_priority_minimum, apps.spec.version_priority,
            apps.spec.service) == ("apps", "v1", 17800, 15, None)
    assert apps.metadata.labels == {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    cond = apps.status.conditions[0]
    assert (cond.type, cond.status, cond.reason, cond.message) == (
        "Available", "True", "Local", "Local APIServices are always available")
    core = env.reg.read_api_service("v1.")
    assert (core.spec.group, core.spec.group_priority_minimum, core.spec.version_priority) in (
        ("", 18000, 1), (None, 18000, 1))
    gloo = env.reg.read_api_service("v1.gateway.solo.io")
    assert (gloo.spec.group_priority_minimum, gloo.spec.version_priority) == (1000, 100)
    assert gloo.metadata.labels == {"kube-aggregator.kubernetes.io/automanaged": "true"}


def test_python_client_e2e_create_apiservice_from_yaml_with_conflict(env: Env, tmp_path: Path) -> None:
    # test_utils.py::test_create_apiservice_from_yaml_with_conflict, step by step.
    manifest = tmp_path / "api-service.yaml"
    manifest.write_text(API_SERVICE_YAML)
    utils.create_from_yaml(env.api, str(manifest))
    svc = env.reg.read_api_service(name="v1alpha1.wardle.k8s.io")
    assert svc.metadata.name == "v1alpha1.wardle.k8s.io"
    assert (svc.spec.group, svc.spec.version, svc.spec.service.port) == ("wardle.k8s.io", "v1alpha1", 443)
    with pytest.raises(utils.FailToCreateError) as cm:
        utils.create_from_yaml(env.api, str(manifest))
    assert str(cm.value) == (
        'Error from server (Conflict): {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        '"message":"apiservices.apiregistration.k8s.io \\"v1alpha1.wardle.k8s.io\\" already exists",'
        '"reason":"AlreadyExists","details":{"name":"v1alpha1.wardle.k8s.io","group":"apiregistration.k8s.io",'
        '"kind":"apiservices"},"code":409}\n')
    # Not proxied: the availability controller says why, as kube-aggregator does without the Service.
    cond = env.available("v1alpha1.wardle.k8s.io")
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False", "ServiceNotFound", 'service/api in "wardle" is not present')
    row = env.kubectl("get", "apiservice", "v1alpha1.wardle.k8s.io").stdout.splitlines()[1].split()
    assert row[:4] == ["v1alpha1.wardle.k8s.io", "wardle/api", "False", "(ServiceNotFound)"]
    described = env.kubectl("describe", "apiservice", "v1alpha1.wardle.k8s.io").stdout
    assert 'Message:               service/api in "wardle" is not present' in described
    assert "Reason:                ServiceNotFound" in described
    env.reg.delete_api_service(name="v1alpha1.wardle.k8s.io", body={})
    with pytest.raises(ApiException) as gone:
        env.reg.read_api_service("v1alpha1.wardle.k8s.io")
    assert gone.value.status == 404


def test_availability_follows_the_service_and_its_endpoints(env: Env) -> None:
    env.kubectl("create", "namespace", "wardle")
    env.kubectl("apply", "-f", "-", stdin=API_SERVICE_YAML)
    # A Service on another port: ServicePortError.
    env.store.create(kinds.SERVICE, {"metadata": {"name": "api", "namespace": "wardle"},
                                     "spec": {"ports": [{"name": "https", "port": 8443}]}})
    deadline = time.monotonic() + 10
    while env.available("v1alpha1.wardle.k8s.io")["reason"] == "ServiceNotFound" and time.monotonic() < deadline:
        time.sleep(0.05)
    cond = env.available("v1alpha1.wardle.k8s.io")
    assert (cond["reason"], cond["message"]) == (
        "ServicePortError", 'service/api in "wardle" is not listening on port 443')
    first_transition = cond["lastTransitionTime"]
    env.kubectl("patch", "service", "api", "-n", "wardle", "--type=json",
                "-p", '[{"op":"replace","path":"/spec/ports/0/port","value":443}]')
    cond = env.available("v1alpha1.wardle.k8s.io")
    assert (cond["reason"], cond["message"]) == (
        "EndpointsNotFound", 'cannot find endpoints for service/api in "wardle"')
    assert cond["lastTransitionTime"] == first_transition  # still False: the transition time stays
    env.store.create(kinds.ENDPOINTS, {"metadata": {"name": "api", "namespace": "wardle"},
                                       "subsets": [{"notReadyAddresses": [{"ip": "10.0.0.9"}],
                                                    "ports": [{"name": "https", "port": 8443}]}]})
    cond = env.available("v1alpha1.wardle.k8s.io")
    assert (cond["reason"], cond["message"]) == (
        "MissingEndpoints", 'endpoints for service/api in "wardle" have no addresses with port name "https"')
    env.kubectl("patch", "endpoints", "api", "-n", "wardle", "--type=merge", "-p",
                '{"subsets":[{"addresses":[{"ip":"10.0.0.9"}],"ports":[{"name":"https","port":8443}]}]}')
    cond = env.available("v1alpha1.wardle.k8s.io")
    ip = env.store.get(kinds.SERVICE, "wardle", "api")["spec"]["clusterIP"]
    url = f"https://{ip}:443/apis/wardle.k8s.io/v1alpha1"
    assert cond["reason"] == "FailedDiscoveryCheck"
    assert cond["message"].startswith(f"failing or missing response from {url}: ")
    # Made local (no service, no insecureSkipTLSVerify): Available at once, as the local controller says.
    env.kubectl("patch", "apiservice", "v1alpha1.wardle.k8s.io", "--type=json", "-p",
                '[{"op":"remove","path":"/spec/service"},{"op":"remove","path":"/spec/insecureSkipTLSVerify"}]')
    cond = env.available("v1alpha1.wardle.k8s.io")
    assert (cond["status"], cond["reason"]) == ("True", "Local")
    assert env.kubectl("get", "apiservice", "v1alpha1.wardle.k8s.io").stdout.splitlines()[1].split()[1:3] == [
        "Local", "True"]


def test_apiservice_validation_has_kube_aggregators_messages(env: Env) -> None:
    bad = API_SERVICE_YAML.replace("name: v1alpha1.wardle.k8s.io", "name: wardle").replace(
        "groupPriorityMinimum: 1000", "groupPriorityMinimum: 30000").replace("name: api\n", "name: api\n    port: 0\n")
    out = env.kubectl("create", "-f", "-", stdin=bad, check=False)
    assert out.returncode == 1
    assert 'The APIService "wardle" is invalid: ' in out.stderr
    assert ('metadata.name: Invalid value: "wardle": must be `spec.version+"."+spec.group`: '
            '"v1alpha1.wardle.k8s.io"') in out.stderr
    assert "spec.groupPriorityMinimum: Invalid value: 30000: must be positive and less than 20000" in out.stderr
    assert ("spec.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive"
            in out.stderr)
    local = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1.example.com"},
             "spec": {"group": "example.com", "version": "v1", "groupPriorityMinimum": 100, "versionPriority": 10,
                      "insecureSkipTLSVerify": True}}
    with pytest.raises(ApiException) as refused:
        env.reg.create_api_service(local)
    assert refused.value.status == 422
    assert ('APIService.apiregistration.k8s.io \\"v1.example.com\\" is invalid: spec.insecureSkipTLSVerify: '
            'Invalid value: true: local APIServices may not have insecureSkipTLSVerify') in refused.value.body


def test_crd_api_services_come_back_and_builtin_ones_are_registered_once(env: Env) -> None:
    env.kubectl("delete", "apiservice", "v1.gateway.solo.io")
    env.controllers.wait_idle()
    again = env.reg.read_api_service("v1.gateway.solo.io")
    assert again.spec.group_priority_minimum == 1000
    # A CRD's spec is kept as crdregistration wants it ...
    env.kubectl("patch", "apiservice", "v1.gloo.solo.io", "--type=merge", "-p", '{"spec":{"versionPriority":7}}')
    env.controllers.wait_idle()
    assert env.reg.read_api_service("v1.gloo.solo.io").spec.version_priority == 100
    # ... a built-in one is synced on start only (manageOnStart): deleted, it stays deleted until a restart.
    env.kubectl("delete", "apiservice", "v1.batch")
    env.controllers.wait_idle()
    with pytest.raises(ApiException) as gone:
        env.reg.read_api_service("v1.batch")
    assert gone.value.status == 404
    env.controllers.register()  # what the next start does
    assert env.reg.read_api_service("v1.batch").spec.group_priority_minimum == 17400
    # A user's APIService without the automanaged label is theirs: left alone.
    env.kubectl("apply", "-f", "-", stdin=API_SERVICE_YAML)
    env.controllers.register()
    assert env.reg.read_api_service("v1alpha1.wardle.k8s.io").spec.group_priority_minimum == 1000


@pytest.mark.envoy
def test_the_sandbox_daemon_registers_them_at_every_start(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with sandbox(state, "current", replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        names = {a["metadata"]["name"] for a in kube.json("apiservices")["items"]}
        assert {"v1.", "v1.apps", "v1.batch", "v1.gateway.solo.io", "v1.gloo.solo.io"} <= names
        kube.run("delete", "apiservice", "v1.batch")
        kube.run("apply", "-f", "-", input=API_SERVICE_YAML)
        deadline = time.monotonic() + 10
        while not (kube.json("apiservice", "v1alpha1.wardle.k8s.io").get("status") or {}).get("conditions"):
            assert time.monotonic() < deadline, "the availability controller wrote no condition"
            time.sleep(0.1)
        wardle = kube.json("apiservice", "v1alpha1.wardle.k8s.io")
        assert wardle["status"]["conditions"][0]["reason"] == "ServiceNotFound"
    runner.stop(state)
    with sandbox(state, None, replicas=1) as info:
        kube = kubectl_for(info, tmp_path)
        rows = {line.split()[0]: line.split()[1:3] for line in kube.run("get", "apiservices").stdout.splitlines()[1:]}
        assert rows["v1.batch"] == ["Local", "True"]  # onstart: registered again at the next start
        assert rows["v1alpha1.wardle.k8s.io"] == ["wardle/api", "False"]
        assert len([n for n in rows if n == "v1.apps"]) == 1
