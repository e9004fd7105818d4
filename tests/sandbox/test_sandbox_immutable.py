"""Fields Kubernetes refuses to change on update and patch, refused with the apiserver's 422 and exact messages.

A store served in-process, driven with real kubectl (apply, patch, replace) and the official Python client. The
expected messages are the apiserver's, as real clusters print them (e.g. Helm's ``cannot patch "x" with kind
Deployment: Deployment.apps "x" is invalid: spec.selector: Invalid value: v1.LabelSelector{...}: field is
immutable``).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from sandboxkit import InProcessApi, in_process_api

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

NS = "team"


class Env:
    def __init__(self, store: Store, served: InProcessApi, api: client.ApiClient, home: Path) -> None:
        self.store = store
        self.served = served
        self.api = api
        self.home = home

    def kubectl(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(["kubectl", "--kubeconfig", str(self.served.kubeconfig), "-n", NS, *args],
                             capture_output=True, text=True, timeout=60, input=stdin,
                             env={**os.environ, "HOME": str(self.home)})
        if check and out.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {out.stderr}")
        return out


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    store = Store(tmp_path / "state")
    home = tmp_path / "home"
    home.mkdir()
    try:
        for ns in ("default", NS):
            store.create(kinds.NAMESPACE, {"metadata": {"name": ns}})
        with in_process_api(store, tmp_path) as served:
            api = config.new_client_from_config(str(served.kubeconfig))
            try:
                yield Env(store, served, api, home)
            finally:
                api.close()
    finally:
        store.close()


def _deployment(app: str, image: str = "hashicorp/http-echo", replicas: int = 1) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                       "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                                "template": {"metadata": {"labels": {"app": app}},
                                             "spec": {"containers": [{"name": "web", "image": image}]}}}})


def _body(error: ApiException) -> dict[str, Any]:
    body = json.loads(error.body)
    assert isinstance(body, dict)
    return body


def test_kubectl_apply_of_a_deployment_with_a_changed_selector_fails(env: Env) -> None:
    env.kubectl("apply", "-f", "-", stdin=_deployment("web"))
    out = env.kubectl("apply", "-f", "-", stdin=_deployment("web2"), check=False)
    assert out.returncode == 1
    assert ('The Deployment "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
            'map[string]string{"app":"web2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is '
            'immutable') in out.stderr
    # Nothing changed; a change that keeps the selector goes through.
    assert env.store.get(kinds.DEPLOYMENT, NS, "web")["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert "configured" in env.kubectl("apply", "-f", "-", stdin=_deployment("web", replicas=3)).stdout
    # The Python client's patch gets the apiserver's Status.
    apps = client.AppsV1Api(env.api)
    with pytest.raises(ApiException) as refused:
        apps.patch_namespaced_deployment("web", NS, {"spec": {"selector": {"matchLabels": {"tier": "x"}},
                                                              "template": {"metadata": {"labels": {"tier": "x"}}}}})
    body = _body(refused.value)
    assert refused.value.status == 422 and body["reason"] == "Invalid"
    assert body["message"] == (
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string{"app":"web", "tier":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
        "field is immutable")
    assert body["details"]["causes"] == [{"reason": "FieldValueInvalid", "message": body["message"].split(
        "spec.selector: ", 1)[1], "field": "spec.selector"}]


def test_replica_set_selector_with_expressions_is_dumped_as_go_prints_it(env: Env) -> None:
    apps = client.AppsV1Api(env.api)
    rs = {"metadata": {"name": "rs"}, "spec": {
        "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]},
        "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    apps.create_namespaced_replica_set(NS, rs)
    rs["spec"]["selector"]["matchExpressions"][0]["values"] = ["a"]
    with pytest.raises(ApiException) as refused:
        apps.replace_namespaced_replica_set("rs", NS, rs)
    assert _body(refused.value)["message"] == (
        'ReplicaSet.apps "rs" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:'
        'map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{'
        'Key:"app", Operator:"In", Values:[]string{"a"}}}}: field is immutable')


def test_job_selector_and_template_are_immutable_unless_suspended_before_start(env: Env) -> None:
    batch = client.BatchV1Api(env.api)
    job = {"metadata": {"name": "once"}, "spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
    batch.create_namespaced_job(NS, job)
    out = env.kubectl("patch", "job", "once", "--type=merge", "-p",
                      '{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox:2"}]}}}}', check=False)
    assert out.returncode == 1
    assert 'The Job "once" is invalid: spec.template: Invalid value: core.PodTemplateSpec{' in out.stderr
    assert "}: field is immutable" in out.stderr
    with pytest.raises(ApiException) as refused:
        batch.patch_namespaced_job("once", NS, {"spec": {"selector": {"matchLabels": {"extra": "x"}}}})
    message = _body(refused.value)["message"]
    assert message.startswith('Job.batch "once" is invalid: spec.selector: Invalid value: v1.LabelSelector{'
                              'MatchLabels:map[string]string{"batch.kubernetes.io/controller-uid":')
    assert message.endswith(', "extra":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is '
                            "immutable")
    # A suspended Job that never started may change its template's labels and annotations (not its containers).
    batch.create_namespaced_job(NS, {"metadata": {"name": "later"}, "spec": {"suspend": True, **job["spec"]}})
    env.kubectl("patch", "job", "later", "--type=merge", "-p",
                '{"spec":{"template":{"metadata":{"labels":{"queue":"a"},"annotations":{"note":"x"}}}}}')
    assert env.store.get(kinds.JOB, NS, "later")["spec"]["template"]["metadata"]["labels"]["queue"] == "a"
    out = env.kubectl("patch", "job", "later", "--type=merge", "-p",
                      '{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox:2"}]}}}}', check=False)
    assert out.returncode == 1 and "spec.template: Invalid value" in out.stderr


def test_service_cluster_ip_may_not_change(env: Env) -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
               "spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    env.kubectl("apply", "-f", "-", stdin=json.dumps(service))
    ip = env.store.get(kinds.SERVICE, NS, "api")["spec"]["clusterIP"]
    out = env.kubectl("patch", "service", "api", "--type=merge", "-p", '{"spec":{"clusterIP":"10.96.200.200"}}',
                      check=False)
    assert out.returncode == 1
    assert ('The Service "api" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.96.200.200"}: may not '
            "change once set") in out.stderr
    out = env.kubectl("patch", "service", "api", "--type=merge", "-p", '{"spec":{"clusterIP":"None"}}', check=False)
    assert 'spec.clusterIPs[0]: Invalid value: []string{"None"}: may not change once set' in out.stderr
    # A replace that leaves the allocated address out keeps it (patchAllocatedValues), and may change the rest.
    svc = env.store.get(kinds.SERVICE, NS, "api")
    del svc["spec"]["clusterIP"], svc["spec"]["clusterIPs"]
    svc["spec"]["ports"][0]["port"] = 81
    env.kubectl("replace", "-f", "-", stdin=json.dumps(svc))
    kept = env.store.get(kinds.SERVICE, NS, "api")["spec"]
    assert (kept["clusterIP"], kept["clusterIPs"], kept["ports"][0]["port"]) == (ip, [ip], 81)


def test_immutable_configmaps_and_secrets(env: Env) -> None:
    core = client.CoreV1Api(env.api)
    core.create_namespaced_config_map(NS, {"metadata": {"name": "cfg"}, "data": {"a": "1"}, "immutable": True})
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_config_map("cfg", NS, {"data": {"a": "2"}})
    body = _body(refused.value)
    assert body["message"] == 'ConfigMap "cfg" is invalid: data: Forbidden: field is immutable when `immutable` is set'
    assert body["details"]["causes"][0]["reason"] == "FieldValueForbidden"
    out = env.kubectl("patch", "configmap", "cfg", "--type=merge", "-p", '{"immutable":false,"data":{"a":"3"}}',
                      check=False)
    assert out.returncode == 1
    assert ('The ConfigMap "cfg" is invalid: \n* immutable: Forbidden: field is immutable when `immutable` is set\n'
            "* data: Forbidden: field is immutable when `immutable` is set") in out.stderr
    env.kubectl("label", "configmap", "cfg", "team=a")  # metadata stays mutable
    core.create_namespaced_secret(NS, {"metadata": {"name": "s"}, "stringData": {"k": "v"}, "immutable": True})
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_secret("s", NS, {"stringData": {"k": "w"}})
    assert _body(refused.value)["message"] == (
        'Secret "s" is invalid: data: Forbidden: field is immutable when `immutable` is set')
    core.create_namespaced_secret(NS, {"metadata": {"name": "typed"}, "type": "example.com/one"})
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_secret("typed", NS, {"type": "example.com/two"})
    assert _body(refused.value)["message"] == (
        'Secret "typed" is invalid: type: Invalid value: "example.com/two": field is immutable')


def test_a_changed_name_is_refused_before_validation(env: Env) -> None:
    # staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go applyPatch and update.go: checkName.
    out = env.kubectl("patch", "namespace", NS, "--type=merge", "-p", '{"metadata":{"name":"other"}}', check=False)
    assert out.returncode == 1
    assert ("Error from server (BadRequest): the name of the object (other) does not match the name on the URL "
            f"({NS})") in out.stderr
    core = client.CoreV1Api(env.api)
    core.create_namespaced_config_map(NS, {"metadata": {"name": "one"}})
    with pytest.raises(ApiException) as refused:
        core.replace_namespaced_config_map("one", NS, {"metadata": {"name": "two"}})
    assert refused.value.status == 400
    assert _body(refused.value)["message"] == "the name of the object (two) does not match the name on the URL (one)"
