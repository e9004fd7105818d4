"""batch/v1 Jobs in the sandbox: pods that run to completion, with real kubectl and the official Python client
against a running sandbox (API server, Job controller, kubelet, garbage collector)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException
from polling import wait_until
from sandboxkit import Kube, sandbox

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubelet import Kubelet
from gloo_nb.sandbox.store import Store

pytestmark = pytest.mark.sandbox

NS = "jobs"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kube, str]]:
    root = tmp_path_factory.mktemp("jobs")
    with sandbox(root / "sb", "1.3", replicas=1) as info:
        home = root / "home"
        home.mkdir()
        kube = Kube(str(info.kubeconfig), home)
        kube.run("create", "namespace", NS)
        yield kube, str(info.kubeconfig)


@pytest.fixture
def batch(env) -> Iterator[k8s.BatchV1Api]:
    api_client = k8s_config.new_client_from_config(config_file=env[1])
    try:
        yield k8s.BatchV1Api(api_client)
    finally:
        api_client.close()


def job_manifest(name: str, command: list[str], **spec: Any) -> str:
    return json.dumps({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": NS},
        "spec": {**spec, "template": {"spec": {"restartPolicy": spec.pop("restartPolicy", "Never"),
                                                "containers": [{"name": "main", "image": "busybox:1.36",
                                                                "command": command}]}}}})


def kubectl(kube: Kube, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    # the namespace first: what follows `--` is the container's command
    return kube.run("-n", NS, *args, input=stdin, check=check)


def pods_of(kube: Kube, job: str) -> list[dict[str, Any]]:
    return kube.json("pods", "-n", NS, "-l", f"batch.kubernetes.io/job-name={job}")["items"]


def test_kubectl_create_job_wait_and_logs(env) -> None:
    kube, _ = env
    kubectl(kube, "create", "job", "hello", "--image=busybox", "--", "echo", "hi")
    done = kubectl(kube, "wait", "--for=condition=complete", "job/hello", "--timeout=60s")
    assert "job.batch/hello condition met" in done.stdout
    assert kubectl(kube, "logs", "job/hello").stdout == "hi\n"
    job = kube.json("job", "hello", "-n", NS)
    uid = job["metadata"]["uid"]
    # defaults.go SetDefaults_Job and strategy.go generateSelector
    assert job["spec"]["parallelism"] == 1 and job["spec"]["completions"] == 1
    assert job["spec"]["backoffLimit"] == 6 and job["spec"]["completionMode"] == "NonIndexed"
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "hello"
    status = job["status"]
    assert status["succeeded"] == 1 and "active" not in status and status["ready"] == 0
    assert status["startTime"] and status["completionTime"]
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("SuccessCriteriaMet", "True", "CompletionsReached"), ("Complete", "True", "CompletionsReached")]
    (pod,) = pods_of(kube, "hello")
    assert pod["metadata"]["name"].startswith("hello-") and len(pod["metadata"]["name"]) == len("hello-") + 5
    (ref,) = pod["metadata"]["ownerReferences"]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == ("Job", "hello", uid, True)
    assert pod["status"]["phase"] == "Succeeded"
    (cs,) = pod["status"]["containerStatuses"]
    assert cs["state"]["terminated"]["exitCode"] == 0 and cs["state"]["terminated"]["reason"] == "Completed"
    # printJob: STATUS, COMPLETIONS, DURATION, AGE
    lines = kubectl(kube, "get", "jobs", "hello").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert lines[1].split()[:3] == ["hello", "Complete", "1/1"]
    wide = kubectl(kube, "get", "job", "hello", "-o", "wide").stdout.splitlines()
    assert wide[0].split()[5:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1].split()[5:] == ["hello", "busybox", f"batch.kubernetes.io/controller-uid={uid}"]
    assert "job.batch/hello" in kubectl(kube, "get", "all").stdout  # category all


def test_a_failing_job_ends_failed_past_its_backoff_limit(env) -> None:
    kube, _ = env
    kubectl(kube, "apply", "-f", "-", stdin=job_manifest("fails", ["false"], backoffLimit=1))
    kubectl(kube, "wait", "--for=condition=failed", "job/fails", "--timeout=60s")
    status = kube.json("job", "fails", "-n", NS)["status"]
    failed = {c["type"]: c for c in status["conditions"]}
    assert failed["Failed"]["reason"] == "BackoffLimitExceeded"
    assert failed["Failed"]["message"] == "Job has reached the specified backoff limit"
    assert failed["FailureTarget"]["reason"] == "BackoffLimitExceeded"
    assert status["failed"] == 2 and "succeeded" not in status and "completionTime" not in status
    pods = pods_of(kube, "fails")
    assert len(pods) == 2 and {p["status"]["phase"] for p in pods} == {"Failed"}
    term = pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (1, "Error")
    assert kubectl(kube, "get", "job", "fails").stdout.splitlines()[1].split()[:3] == ["fails", "Failed", "0/1"]


def test_completions_with_parallelism(env) -> None:
    kube, _ = env
    kubectl(kube, "apply", "-f", "-", stdin=job_manifest("three", ["sh", "-c", "echo $HOSTNAME"],
                                                          completions=3, parallelism=2))
    kubectl(kube, "wait", "--for=condition=complete", "job/three", "--timeout=60s")
    pods = pods_of(kube, "three")
    assert len(pods) == 3 and {p["status"]["phase"] for p in pods} == {"Succeeded"}
    assert kube.json("job", "three", "-n", NS)["status"]["succeeded"] == 3
    # a pod's command runs in its environment: HOSTNAME is the pod's name
    name = pods[0]["metadata"]["name"]
    assert kubectl(kube, "logs", name).stdout == f"{name}\n"


def test_on_failure_restarts_in_place(env) -> None:
    kube, _ = env
    kubectl(kube, "apply", "-f", "-", stdin=job_manifest("retry", ["false"], backoffLimit=2,
                                                          restartPolicy="OnFailure"))
    kubectl(kube, "wait", "--for=condition=failed", "job/retry", "--timeout=60s")
    status = kube.json("job", "retry", "-n", NS)["status"]
    cond = {c["type"]: c for c in status["conditions"]}
    assert cond["Failed"]["reason"] == "BackoffLimitExceeded"
    # one pod, restarted in place until its restarts reached the limit, then deleted and counted failed
    assert status["failed"] == 1
    events = kube.json("events", "-n", NS, "--field-selector", "involvedObject.name=retry")["items"]
    assert [e["reason"] for e in events].count("SuccessfulCreate") == 1
    pod_events = [e for e in kube.json("events", "-n", NS)["items"]
                  if e["involvedObject"]["name"].startswith("retry-") and e["reason"] == "Started"]
    assert sum(e.get("count", 1) for e in pod_events) >= 2


def test_ttl_after_finished_deletes_the_job_and_its_pods(env) -> None:
    kube, _ = env
    kubectl(kube, "apply", "-f", "-", stdin=job_manifest("brief", ["true"], ttlSecondsAfterFinished=1))
    wait_until(lambda: kubectl(kube, "get", "job", "brief", check=False).returncode, "the Job deleted",
               until=lambda rc: rc != 0, timeout=30)
    wait_until(lambda: pods_of(kube, "brief"), "its pods deleted", until=lambda p: not p, timeout=30)


def test_active_deadline_fails_the_job(env) -> None:
    kube, _ = env
    kubectl(kube, "apply", "-f", "-", stdin=job_manifest("slow", ["sleep", "60"], activeDeadlineSeconds=1))
    kubectl(kube, "wait", "--for=condition=failed", "job/slow", "--timeout=60s")
    cond = {c["type"]: c for c in kube.json("job", "slow", "-n", NS)["status"]["conditions"]}
    assert cond["Failed"]["reason"] == "DeadlineExceeded"
    assert cond["Failed"]["message"] == "Job was active longer than specified deadline"
    wait_until(lambda: pods_of(kube, "slow"), "the active pod deleted", until=lambda p: not p, timeout=30)


def test_restart_policy_always_is_invalid(env) -> None:
    kube, _ = env
    done = kubectl(kube, "apply", "-f", "-", stdin=job_manifest("bad", ["true"], restartPolicy="Always"),
                   check=False)
    assert done.returncode != 0
    assert ('The Job "bad" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": '
            'supported values: "OnFailure", "Never"') in done.stderr


def test_cronjobs_are_not_served(env) -> None:
    kube, _ = env
    done = kubectl(kube, "get", "cronjobs", check=False)
    assert done.returncode != 0
    assert 'the server doesn\'t have a resource type "cronjobs"' in done.stderr


def test_deleting_a_job_deletes_its_pods(env) -> None:
    kube, _ = env
    kubectl(kube, "apply", "-f", "-", stdin=job_manifest("gone", ["sleep", "60"]))
    wait_until(lambda: pods_of(kube, "gone"), "its pod", until=lambda p: len(p) == 1, timeout=30)
    kubectl(kube, "delete", "job", "gone")
    wait_until(lambda: pods_of(kube, "gone"), "its pod deleted", until=lambda p: not p, timeout=30)


def test_python_client_batch_v1(batch: k8s.BatchV1Api) -> None:
    # kubernetes-client/python kubernetes/e2e_test/test_batch.py test_job_apis: create, read, list, delete.
    name = "py-job"
    body = {"kind": "Job", "apiVersion": "batch/v1", "metadata": {"name": name},
            "spec": {"template": {"metadata": {"name": name},
                                  "spec": {"containers": [{"name": "test", "image": "busybox",
                                                           "command": ["sh", "-c", "echo done"]}],
                                           "restartPolicy": "Never"}}}}
    created = batch.create_namespaced_job(body=body, namespace=NS)
    assert created.metadata.name == name
    read = batch.read_namespaced_job(name=name, namespace=NS)
    assert read.metadata.uid == created.metadata.uid and read.spec.backoff_limit == 6
    assert name in [j.metadata.name for j in batch.list_namespaced_job(namespace=NS).items]
    wait_until(lambda: batch.read_namespaced_job_status(name=name, namespace=NS).status.succeeded,
               "the Job succeeded", until=lambda n: n == 1, timeout=60)
    batch.delete_namespaced_job(name=name, namespace=NS, body={"propagationPolicy": "Background"})
    with pytest.raises(ApiException) as info:
        wait_until(lambda: batch.read_namespaced_job(name=name, namespace=NS), "the Job deleted",
                   until=lambda _j: False, timeout=10)
    assert info.value.status == 404


def test_python_client_invalid_restart_policy(batch: k8s.BatchV1Api) -> None:
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "always"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    with pytest.raises(ApiException) as info:
        batch.create_namespaced_job(body=body, namespace=NS)
    assert info.value.status == 422
    status = json.loads(info.value.body)
    assert status["reason"] == "Invalid" and status["details"]["kind"] == "Job"
    assert status["details"]["causes"][0]["field"] == "spec.template.spec.restartPolicy"


def test_discovery_lists_jobs(env, tmp_path: Path) -> None:
    kube, _ = env
    resources = kube.run("api-resources", "--api-group=batch").stdout
    assert "jobs" in resources and "batch/v1" in resources and "cronjobs" not in resources


def test_a_finished_job_pod_is_not_run_again_after_a_restart(tmp_path: Path) -> None:
    # The kubelet alone over a store: a restarted sandbox adopts the stored pods; a Succeeded one stays so.
    store = Store()
    store.create(kinds.NAMESPACE, {"metadata": {"name": NS}})
    store.create(kinds.JOB, json.loads(job_manifest("once", ["echo", "ran"])))
    kubelet = Kubelet(store, tmp_path)
    kubelet.start()
    try:
        wait_until(lambda: store.get(kinds.JOB, NS, "once").get("status", {}).get("succeeded"), "the Job done",
                   timeout=30)
    finally:
        kubelet.stop()
    (pod,) = store.list(kinds.POD, NS)[0]
    name = pod["metadata"]["name"]
    again = Kubelet(store, tmp_path)
    again.start()
    try:
        assert again.wait_idle(10)
        after = store.get(kinds.POD, NS, name)
        assert after["status"]["phase"] == "Succeeded"
        assert after["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
        assert not again.processes(NS)
        log = again.log_path(NS, name)
        assert log is not None and "ran" in log.read_text()
        assert len(store.list(kinds.POD, NS)[0]) == 1
    finally:
        again.stop()


def test_python_client_e2e_job_apis_and_orphaning_delete(env, batch: k8s.BatchV1Api) -> None:
    # e2e_test/test_batch.py test_job_apis: the command is `sh -c "sleep 5"` and delete sends body={}, so the
    # batch/v1 default applies: the pods are orphaned (strategy.go DefaultGarbageCollectionPolicy), not deleted.
    kube, _ = env
    name = "test-job-e2e"
    manifest = {"kind": "Job", "apiVersion": "batch/v1", "metadata": {"name": name},
                "spec": {"template": {"spec": {"containers": [{"image": "busybox", "name": name,
                                                               "command": ["sh", "-c", "sleep 5"]}],
                                               "restartPolicy": "Never"},
                                      "metadata": {"name": name}}}}
    assert batch.create_namespaced_job(body=manifest, namespace=NS).metadata.name == name
    assert batch.read_namespaced_job(name=name, namespace=NS).metadata.name == name
    (pod,) = wait_until(lambda: pods_of(kube, name), "the Job's pod", until=lambda p: len(p) == 1, timeout=30)
    _, _, headers = batch.delete_namespaced_job_with_http_info(name=name, body={}, namespace=NS)
    assert headers["Warning"] == ('299 - "child pods are preserved by default when jobs are deleted; set '
                                  'propagationPolicy=Background to remove them or set propagationPolicy=Orphan '
                                  'to suppress this warning"')
    kept = kube.json("pod", pod["metadata"]["name"], "-n", NS)
    assert "ownerReferences" not in kept["metadata"]
    kubectl(kube, "delete", "pod", pod["metadata"]["name"], "--wait=false")


def test_python_client_create_from_yaml_in_a_missing_namespace(env) -> None:
    # e2e_test/test_utils.py: job-non-existent-namespace.yaml fails to create with the namespace's 404.
    from kubernetes import utils

    api_client = k8s_config.new_client_from_config(config_file=env[1])
    try:
        with pytest.raises(utils.FailToCreateError) as info:
            utils.create_from_dict(api_client, {
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"namespace": "non-existent-namespace", "name": "test-job"},
                "spec": {"template": {"metadata": {"labels": {"app": "test-job"}},
                                      "spec": {"restartPolicy": "Never",
                                               "containers": [{"name": "test-job", "image": "some-image:latest",
                                                               "imagePullPolicy": "IfNotPresent"}]}}}})
        (exc,) = info.value.api_exceptions
        assert exc.status == 404
        assert json.loads(exc.body)["message"] == 'namespaces "non-existent-namespace" not found'
    finally:
        api_client.close()


def test_suspend_deletes_the_active_pods_and_resume_starts_them(env) -> None:
    kube, _ = env
    kubectl(kube, "apply", "-f", "-", stdin=job_manifest("paused", ["sleep", "2"]))
    wait_until(lambda: pods_of(kube, "paused"), "its pod", until=lambda p: len(p) == 1, timeout=30)
    kubectl(kube, "patch", "job", "paused", "--type=merge", "-p", '{"spec":{"suspend":true}}')
    kubectl(kube, "wait", "--for=condition=suspended", "job/paused", "--timeout=30s")
    wait_until(lambda: pods_of(kube, "paused"), "the pod deleted", until=lambda p: not p, timeout=30)
    cond = {c["type"]: c for c in kube.json("job", "paused", "-n", NS)["status"]["conditions"]}
    assert (cond["Suspended"]["reason"], cond["Suspended"]["message"]) == ("JobSuspended", "Job suspended")
    assert kubectl(kube, "get", "job", "paused").stdout.splitlines()[1].split()[1] == "Suspended"
    kubectl(kube, "patch", "job", "paused", "--type=merge", "-p", '{"spec":{"suspend":false}}')
    kubectl(kube, "wait", "--for=condition=complete", "job/paused", "--timeout=60s")
    cond = {c["type"]: c for c in kube.json("job", "paused", "-n", NS)["status"]["conditions"]}
    assert (cond["Suspended"]["status"], cond["Suspended"]["reason"]) == ("False", "JobResumed")


def test_describe_job_shows_its_pods_and_events(env) -> None:
    kube, _ = env
    kubectl(kube, "create", "job", "told", "--image=busybox", "--", "true")
    kubectl(kube, "wait", "--for=condition=complete", "job/told", "--timeout=60s")
    out = kubectl(kube, "describe", "job", "told").stdout
    assert "Pods Statuses:    0 Active (0 Ready) / 1 Succeeded / 0 Failed" in out
    assert "SuccessfulCreate" in out and "Created pod: told-" in out
    assert "Completed" in out and "Job completed" in out


def test_python_client_cronjobs_are_404(batch: k8s.BatchV1Api) -> None:
    with pytest.raises(ApiException) as info:
        batch.list_namespaced_cron_job(namespace=NS)
    assert info.value.status == 404


def test_indexed_job_runs_each_index_once(env) -> None:
    kube, _ = env
    kubectl(kube, "apply", "-f", "-", stdin=job_manifest("idx", ["sh", "-c", "echo index $JOB_COMPLETION_INDEX"],
                                                          completions=3, parallelism=2, completionMode="Indexed"))
    kubectl(kube, "wait", "--for=condition=complete", "job/idx", "--timeout=60s")
    status = kube.json("job", "idx", "-n", NS)["status"]
    assert status["succeeded"] == 3 and status["completedIndexes"] == "0-2"
    pods = sorted(pods_of(kube, "idx"), key=lambda p: p["metadata"]["annotations"][
        "batch.kubernetes.io/job-completion-index"])
    assert [p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in pods] == ["0", "1", "2"]
    for i, pod in enumerate(pods):
        assert pod["metadata"]["name"].startswith(f"idx-{i}-")
        assert pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == str(i)
        assert pod["spec"]["hostname"] == f"idx-{i}"
        assert kubectl(kube, "logs", pod["metadata"]["name"]).stdout == f"index {i}\n"


def test_indexed_job_needs_completions(env) -> None:
    kube, _ = env
    done = kubectl(kube, "apply", "-f", "-", stdin=job_manifest("idx-bad", ["true"], parallelism=2,
                                                                 completionMode="Indexed"), check=False)
    assert done.returncode != 0
    assert 'spec.completions: Required value: when completion mode is Indexed' in done.stderr


def test_completed_indexes_format() -> None:
    from gloo_nb.sandbox.job_controller import format_indexes, parse_indexes

    assert format_indexes({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7"
    assert format_indexes(set()) == ""
    assert parse_indexes("0-2,4,6-7", 7) == {0, 1, 2, 4, 6}


def test_a_bare_busybox_pod_runs_to_completion_and_an_always_pod_keeps_serving(env) -> None:
    kube, _ = env
    kubectl(kube, "run", "once", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo from $HOSTNAME")
    wait_until(lambda: kube.json("pod", "once", "-n", NS)["status"].get("phase"), "the pod done",
               until=lambda phase: phase == "Succeeded", timeout=30)
    assert kubectl(kube, "logs", "once").stdout == "from once\n"
    kubectl(kube, "run", "nope", "--image=alpine:3.20", "--restart=Never", "--", "cat", "/missing")
    pod = wait_until(lambda: kube.json("pod", "nope", "-n", NS), "the pod failed",
                     until=lambda p: p["status"].get("phase") == "Failed", timeout=30)
    term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (1, "Error")
    # restartPolicy Always: busybox runs its command too (issue 18, the Python client's e2e pods); one that ends is
    # restarted, as a kubelet restarts any container that exits under Always (its last state: Completed, 0)
    kubectl(kube, "run", "keeps", "--image=busybox", "--", "sleep", "1")
    kubectl(kube, "wait", "--for=condition=Ready", "pod/keeps", "--timeout=30s")
    status = wait_until(lambda: kube.json("pod", "keeps", "-n", NS)["status"]["containerStatuses"][0],
                        "the restart", until=lambda st: st.get("restartCount", 0) >= 1, timeout=40)
    assert status["lastState"]["terminated"]["exitCode"] == 0
    assert status["lastState"]["terminated"]["reason"] == "Completed"


def test_reapplying_a_job_keeps_its_generated_selector(env) -> None:
    kube, _ = env
    kubectl(kube, "apply", "-f", "-", stdin=job_manifest("again", ["sleep", "30"], backoffLimit=3))
    before = kube.json("job", "again", "-n", NS)
    assert "configured" in kubectl(kube, "apply", "-f", "-",
                                   stdin=job_manifest("again", ["sleep", "30"], backoffLimit=4)).stdout
    after = kube.json("job", "again", "-n", NS)
    assert after["spec"]["backoffLimit"] == 4
    assert after["spec"]["selector"] == before["spec"]["selector"]
    assert after["spec"]["template"]["metadata"]["labels"] == before["spec"]["template"]["metadata"]["labels"]
    assert len(pods_of(kube, "again")) == 1
    kubectl(kube, "delete", "job", "again")


def test_replacing_a_job_without_its_selector_keeps_it(env) -> None:
    kube, _ = env
    kubectl(kube, "create", "-f", "-", stdin=job_manifest("swap", ["sleep", "30"]))
    before = kube.json("job", "swap", "-n", NS)
    kubectl(kube, "replace", "-f", "-", stdin=job_manifest("swap", ["sleep", "30"], backoffLimit=2))
    after = kube.json("job", "swap", "-n", NS)
    assert after["spec"]["selector"] == before["spec"]["selector"] and after["spec"]["backoffLimit"] == 2
    wait_until(lambda: kube.json("job", "swap", "-n", NS)["status"].get("active"), "one active pod",
               until=lambda n: n == 1, timeout=30)
    assert len(pods_of(kube, "swap")) == 1
    kubectl(kube, "delete", "job", "swap")
