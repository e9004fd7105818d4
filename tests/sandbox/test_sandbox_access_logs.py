"""Each sandbox replica writes the Gateway's file access logs to its own files (issue 17), and gloo_nb reads them.

A Gateway with file sinks in Envoy's default format, a stringFormat and a jsonFormat (plus ``/dev/stdout``), real
requests through each of two real Envoy replicas: every file parses with :mod:`gloo_nb.models.access_log`, the
records are the requests sent to that replica (path, code, route, cluster, the pod's address), the upstream host
maps back to its Pod through the Endpoints (``ip:port``: every sandbox pod has the loopback IP and its own port), and
the served configuration shows no drift although each replica's paths were rewritten.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from polling import wait_until
from sandboxkit import Kube, fetch, kubectl_for, sandbox, wait_ready_pods

from gloo_nb.app.connect import connect_sandbox
from gloo_nb.models.access_log import (
    AccessLogFormat,
    AccessLogRead,
    AccessRecord,
    access_log_formats,
    read_access_log,
    served_path,
)
from gloo_nb.sandbox.envoy import access_log_files, replica_dir

pytestmark = [pytest.mark.sandbox, pytest.mark.envoy]

GS = "gloo-system"
TEXT = ("[%START_TIME%] %REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %ROUTE_NAME% %UPSTREAM_CLUSTER% "
        "%UPSTREAM_HOST% %RESPONSE_CODE% %REQ(stage)%\n")
JSON = {  # shaped like Gloo's access logging guide's jsonFormat example
    "startTime": "%START_TIME%", "protocol": "%PROTOCOL%", "duration": "%DURATION%",
    "upstreamCluster": "%UPSTREAM_CLUSTER%", "upstreamHost": "%UPSTREAM_HOST%", "requestMethod": "%REQ(:METHOD)%",
    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "responseCode": "%RESPONSE_CODE%", "routeName": "%ROUTE_NAME%",
    "requestId": "%REQ(X-REQUEST-ID)%", "stage": "%REQ(stage)%"}
SINKS = {"default": "/var/log/envoy/default.log", "text": "/var/log/envoy/text.log", "json": "/var/log/envoy/json.log"}
ACCESS_LOGGING = {"accessLog": [
    {"fileSink": {"path": SINKS["default"]}},
    {"fileSink": {"path": SINKS["text"], "stringFormat": TEXT}},
    {"fileSink": {"path": SINKS["json"], "jsonFormat": JSON}},
    {"fileSink": {"path": "/dev/stdout"}},
]}
MANIFESTS = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web-v1", "namespace": "web"},
     "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web", "version": "v1"}},
              "template": {"metadata": {"labels": {"app": "web", "version": "v1"}},
                           "spec": {"containers": [{"name": "web", "image": "hashicorp/http-echo",
                                                    "args": ["-text=web-v1", "-listen=:8080"],
                                                    "ports": [{"containerPort": 8080}]}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "web"},
     "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "web", "namespace": GS},
     "spec": {"kube": {"serviceName": "web", "serviceNamespace": "web", "servicePort": 80}}},
    {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "app", "namespace": GS},
     "spec": {"virtualHost": {"domains": ["*"], "routes": [
         {"matchers": [{"prefix": "/web"}], "routeAction": {"single": {"upstream": {"name": "web", "namespace": GS}}}},
         {"matchers": [{"prefix": "/teapot"}], "directResponseAction": {"status": 418, "body": "short and stout"}}]}}},
]


def _sent(index: int) -> list[tuple[str, dict[str, str], int]]:
    """What the test sends to replica ``index``: a different mix per replica, so the files cannot be swapped."""
    return ([(f"/web/{index}/{n}", {"stage": "canary"} if n % 2 else {}, 200) for n in range(3 + index)]
            + [(f"/teapot/{index}", {}, 418)])


def _pod_of(kube: Kube, host: str) -> dict[str, Any]:
    """The Pod behind an upstream host ``ip:port``: the Endpoints address with that ip and port, its targetRef."""
    ip, port = host.rsplit(":", 1)
    for subset in kube.json("endpoints", "web", "-n", "web").get("subsets", []):
        if any(p["port"] == int(port) for p in subset.get("ports", [])):
            for address in subset.get("addresses", []):
                if address["ip"] == ip:
                    ref = address["targetRef"]
                    pod: dict[str, Any] = kube.json("pod", ref["name"], "-n", ref["namespace"])
                    return pod
    raise AssertionError(f"no Endpoints address for {host}")


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_each_replica_writes_its_own_access_logs_and_they_parse(profile: str, tmp_path: Path) -> None:
    state = tmp_path / "sb"
    with sandbox(state, profile, replicas=2) as info:
        kube = kubectl_for(info, tmp_path)
        manifest = tmp_path / "app.yaml"
        manifest.write_text(yaml.safe_dump_all(MANIFESTS))
        kube.apply(manifest)
        wait_ready_pods(kube, "web")
        kube.run("patch", "gateways.gateway.solo.io", "gateway-proxy", "-n", GS, "--type", "merge", "-p",
                 json.dumps({"spec": {"options": {"accessLoggingService": ACCESS_LOGGING}}}))
        replicas = info.data["gateways"]
        nodes = [f"gateway-proxy-{i}.{GS}" for i in range(len(replicas))]
        # The control plane makes the files before the replica applies the listener that names them; Envoy writes
        # (and flushes) the first line at once: a probe logged in the default sink means logging is on.
        for url, node in zip(replicas, nodes, strict=True):
            first = replica_dir(state, node) / "fs" / SINKS["default"].lstrip("/")
            wait_until(lambda url=url, first=first: fetch(url + "/web/ready").status == 200 and first.exists()
                       and first.stat().st_size > 0, f"{node} logs requests", timeout=60)
        files = access_log_files(state)
        assert sorted(files) == nodes
        for node in nodes:
            assert [served_path(str(p)) for p in files[node]] == sorted(SINKS.values())
            assert all(p.is_relative_to(replica_dir(state, node) / "fs") for p in files[node])
        for index, url in enumerate(replicas):
            for path, headers, code in _sent(index):
                assert fetch(url + path, headers).status == code, path

        gateway = kube.json("gateways.gateway.solo.io", "gateway-proxy", "-n", GS)
        formats = {f.path: f for f in access_log_formats(gateway, profile)}
        assert sorted(p for p in formats if p != "/dev/stdout") == sorted(SINKS.values())
        web_pod: dict[str, Any] | None = None
        for index, node in enumerate(nodes):
            sent = _sent(index)
            for file in files[node]:
                fmt = formats[served_path(str(file))]

                def logged(file: Path = file, fmt: AccessLogFormat = fmt, node: str = node) -> list[AccessRecord]:
                    # Envoy flushes file access logs every 10 s (Bootstrap.file_flush_interval's default).
                    return [r for r in read_access_log(file, fmt, node=node) if r.path != "/web/ready"]
                want = len(sent)
                new = wait_until(logged, f"{file} to log {want} requests", until=lambda n, want=want: len(n) >= want,
                                 timeout=40)
                report = AccessLogRead()
                list(read_access_log(file, fmt, node=node, report=report))
                assert report.unparsed_count == 0, report.unparsed
                assert [(r.path, r.code, r.node) for r in new] == [(p, c, node) for p, _, c in sent], file
                assert all(r.time is not None for r in new)
                web = [r for r in new if r.code == 200]
                teapot = [r for r in new if r.code == 418]
                assert {r.upstream_host for r in teapot} == {None} and {r.cluster for r in teapot} in ({None}, set())
                hosts = {r.upstream_host for r in web}
                if fmt.default:
                    assert {r.cluster for r in new} == {None}  # Envoy's default format has no cluster: unknown
                else:
                    assert {r.cluster for r in web} == {"web_gloo-system"}, file
                    # Gloo 1.3 names only routes that have a name; current names every route.
                    assert {r.route_name for r in web} == ({None} if profile == "1.3" else
                                                           {"gloo-system_app-route-0-matcher-0"}), file
                    staged = [r.headers.get("stage") for r in web]
                    assert staged == [("canary" if n % 2 else None) for n in range(len(web))], file
                (host,) = hosts
                assert host is not None
                # upstream host -> Endpoints (ip:port) -> Pod -> labels: what the journal import will do.
                web_pod = _pod_of(kube, host)
                assert web_pod["metadata"]["labels"] == {"app": "web", "version": "v1",
                                                         "pod-template-hash": web_pod["metadata"]["labels"][
                                                             "pod-template-hash"]}
        assert web_pod is not None and web_pod["metadata"]["name"].startswith("web-v1-")

        # /dev/stdout stays: those lines are in the replica's log, among Envoy's own lines (counted, not raised).
        log0 = state / "envoy-0.log"
        stdout_report = AccessLogRead()
        from_stdout = wait_until(lambda: [r.path for r in read_access_log(log0, formats["/dev/stdout"],
                                                                         report=stdout_report)
                                          if r.path != "/web/ready"],
                                 "the stdout sink's lines in envoy-0.log", until=lambda p: len(p) >= len(_sent(0)),
                                 timeout=40)
        assert from_stdout == [p for p, _, _ in _sent(0)]
        assert stdout_report.unparsed_count > 0  # Envoy's own log lines, skipped

        # Served (Gloo's paths) and applied (each replica's own paths) agree for drift detection.
        with connect_sandbox(state) as conn:
            seen = wait_until(conn.collect, "the listener in sync everywhere", timeout=60,
                              until=lambda i: i.listener_drift and all(d.state == "in-sync" for d in i.listener_drift))
            assert seen.listener_drift
        done = subprocess.run([sys.executable, "-m", "gloo_nb", "inspect", "--sandbox", str(state), "--json"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        doc = json.loads(done.stdout)
        assert [(d["listener"], d["state"]) for d in doc["listenerDrift"]] == [("listener-::-8080", "in-sync")]
        assert {d["state"] for d in doc["drift"]} == {"in-sync"}
