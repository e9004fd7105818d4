"""``gloo-nb translate`` on a manifest dump of a cluster: the endpoints Gloo's EDS would send
(ClusterLoadAssignments computed from the dump's Services, Endpoints and Pods), and what Gloo reads
(``watch``, findings on the resources of unwatched namespaces), in JSON and in the tables; ``check`` names them.

EDS facts: Gloo's ``projects/gloo/pkg/plugins/kubernetes/eds.go`` (v1.3.20 ``filterEndpoints``: the only port of
a single-port Service whatever ``servicePort`` says; current ``findPortForService``: an exact port only), the
pod's labels as ``envoy.lb`` metadata (``projects/gloo/pkg/translator/endpoints.go`` ``getLbMetadata``);
gloo_nb's computation is :mod:`gloo_nb.translate.eds`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

DUMP = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "echo", "labels": {"gloo": "watched"}}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gloo-system"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "legacy"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": "echo"},
     "spec": {"selector": {"app": "echo"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
    {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "echo", "namespace": "echo"},
     "subsets": [{"addresses": [{"ip": f"10.0.0.{4 + i}",
                                 "targetRef": {"kind": "Pod", "name": f"echo-{i}", "namespace": "echo"}}
                                for i in (1, 2)],
                  "notReadyAddresses": [{"ip": "10.0.0.7"}],
                  "ports": [{"name": "http", "port": 8080}]}]},
    *({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"echo-{i}", "namespace": "echo",
                                                       "labels": {"app": "echo", "version": f"v{i}"}},
       "spec": {"containers": [{"name": "c", "image": "x"}]},
       "status": {"phase": "Running", "podIP": f"10.0.0.{4 + i}"}} for i in (1, 2)),
    # servicePort 8080 is not the Service's port (80): 1.3 takes the single port anyway, current finds none.
    {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "echo", "namespace": "gloo-system"},
     "spec": {"kube": {"serviceName": "echo", "serviceNamespace": "echo", "servicePort": 8080}}},
    {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
     "metadata": {"name": "app", "namespace": "gloo-system"},
     "spec": {"virtualHost": {"domains": ["*"], "routes": [
         {"matchers": [{"prefix": "/echo"}], "routeAction": {"single": {"kube": {
             "ref": {"name": "echo", "namespace": "echo"}, "port": 80}}}},
         {"matchers": [{"prefix": "/up"}], "routeAction": {"single": {"upstream": {
             "name": "echo", "namespace": "gloo-system"}}}}]}}},
]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gloo_nb", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def _write(tmp_path: Path, docs: list[dict]) -> str:
    path = tmp_path / "dump.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return str(path)


def _endpoints(doc: dict) -> dict[str, list[tuple[str, int, dict]]]:
    out = {}
    for cla in doc["envoy"].get("endpoints", []):
        out[cla["clusterName"].split("-")[0] if not cla["clusterName"].startswith("kube-svc:") else "kube-svc"] = [
            (lb["endpoint"]["address"]["socketAddress"]["address"], lb["endpoint"]["address"]["socketAddress"][
                "portValue"], lb["metadata"]["filterMetadata"]["envoy.lb"])
            for loc in cla.get("endpoints", []) for lb in loc.get("lbEndpoints", [])]
    return out


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_translate_emits_the_cluster_load_assignments_of_a_dump(tmp_path: Path, profile: str) -> None:
    done = _run("translate", "--json", "--gloo-version", profile, _write(tmp_path, DUMP))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    eps = _endpoints(doc)
    ready = [("10.0.0.5", 8080, {"app": "echo", "version": "v1"}), ("10.0.0.6", 8080, {"app": "echo", "version": "v2"})]
    assert eps["kube-svc"] == ready  # notReadyAddresses are not sent
    if profile == "1.3":
        assert eps["echo_gloo"] == ready  # the single port, whatever servicePort says
    else:
        # current: port 8080 not found for the Service: an empty assignment (the cluster has no endpoints)
        assert eps["echo_gloo"] == []
    # Every ClusterLoadAssignment names an EDS cluster of the same document.
    eds_names = {c.get("edsClusterConfig", {}).get("serviceName") for c in doc["envoy"]["clusters"]}
    assert {cla["clusterName"] for cla in doc["envoy"]["endpoints"]} <= eds_names
    assert "watch" not in doc  # no Settings limit what Gloo reads
    text = _run("translate", "--gloo-version", profile, _write(tmp_path, DUMP)).stdout
    section = text.split("Endpoints (EDS)\n", 1)[1].split("\n\n", 1)[0]
    assert "10.0.0.5:8080  app=echo,version=v1" in section and "10.0.0.7" not in section


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_endpoints_and_resources_of_unwatched_namespaces_are_left_out(tmp_path: Path, profile: str) -> None:
    settings = {"apiVersion": "gloo.solo.io/v1", "kind": "Settings",
                "metadata": {"name": "default", "namespace": "gloo-system"},
                "spec": {"discoveryNamespace": "gloo-system", "watchNamespaces": ["legacy"]}}
    rt = {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable", "metadata": {"name": "rt", "namespace": "echo"},
          "spec": {"routes": [{"matchers": [{"prefix": "/rt"}], "directResponseAction": {"status": 200}}]}}
    path = _write(tmp_path, [settings, rt, *DUMP])
    doc = json.loads(_run("translate", "--json", "--gloo-version", profile, path).stdout)
    assert not any(_endpoints(doc).values())  # echo's Service, Endpoints and Pods are not read
    assert doc["watch"] == {"namespaces": ["gloo-system", "legacy"], "unknownLabels": [],
                            "rule": "settings.watchNamespaces [legacy] plus the discoveryNamespace gloo-system"}
    [finding] = [f for f in doc["findings"] if f["layer"] == "watch"]
    assert finding["resource"] == "echo/rt" and finding["kind"] == "RouteTable"
    assert finding["message"].startswith("not watched by Gloo: namespace echo is not in settings.watchNamespaces")
    assert ("RouteTable", "echo", "rt") not in {(r["kind"], r["namespace"], r["name"]) for r in doc["reports"]}
    text = _run("translate", "--gloo-version", profile, path).stdout
    assert "Watched namespaces: gloo-system, legacy (settings.watchNamespaces [legacy] plus the discoveryNamespace " \
           "gloo-system)" in text
    check = _run("check", "--gloo-version", profile, path)
    assert check.returncode == 1
    assert "RouteTable echo/rt: warning: not watched by Gloo: namespace echo is not in settings.watchNamespaces " \
           "[legacy]" in check.stdout


def test_selectors_on_a_dump_use_its_namespace_documents(tmp_path: Path) -> None:
    """current: watchNamespaceSelectors evaluated on the dump's Namespace labels (echo is labelled gloo=watched)."""
    settings = {"apiVersion": "gloo.solo.io/v1", "kind": "Settings",
                "metadata": {"name": "default", "namespace": "gloo-system"},
                "spec": {"watchNamespaceSelectors": [{"matchLabels": {"gloo": "watched"}}]}}
    doc = json.loads(_run("translate", "--json", _write(tmp_path, [settings, *DUMP])).stdout)
    assert doc["watch"]["namespaces"] == ["echo", "gloo-system"]
    assert _endpoints(doc)["kube-svc"][0][0] == "10.0.0.5"
    no_ns = [d for d in DUMP if d["kind"] != "Namespace"]
    doc = json.loads(_run("translate", "--json", _write(tmp_path, [settings, *no_ns])).stdout)
    assert doc["watch"]["unknownLabels"] == ["echo"]  # said, not guessed
