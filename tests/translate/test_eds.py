"""Kube EDS (plugins/kubernetes/eds.go at v1.3.20 and current) on the sandbox's shapes: pods on 127.0.0.1."""

from __future__ import annotations

import pytest

from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_object, parse_stream
from gloo_nb.models.resources import KubeEndpoints, ObjectMeta, Pod, Service, Upstream
from gloo_nb.translate import Translator
from gloo_nb.translate.eds import kube_endpoints

pytestmark = pytest.mark.unit

GS = "gloo-system"
ECHO = "echo_gloo-system"
FAKE = "kube-svc:echo-echo-80_echo"


def parsed(obj):
    return parse_object(obj).resource


def upstream(port=8080, selector=None, name="echo"):
    kube = {"serviceName": "echo", "serviceNamespace": "echo", "servicePort": port,
            "subsetSpec": {"selectors": [{"keys": ["version"]}]}}
    if selector is not None:
        kube["selector"] = selector
    return parsed({"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
                   "metadata": {"name": name, "namespace": GS}, "spec": {"kube": kube}})


def service(*ports):
    ports = ports or ({"port": 80, "targetPort": 8080, "protocol": "TCP"},)
    return parsed({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": "echo"},
                   "spec": {"ports": list(ports), "selector": {"app": "echo"}}})


def pod(name, labels, *, phase="Running", ready=True, ip="127.0.0.1"):
    return parsed({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "echo", "labels": labels},
                   "spec": {"containers": [{"name": "c", "image": "hashicorp/http-echo"}]},
                   "status": {"phase": phase, "podIP": ip,
                              "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}})


def address(pod_name, ip="127.0.0.1"):
    return {"ip": ip, "targetRef": {"kind": "Pod", "name": pod_name, "namespace": "echo"}}


def endpoints(*subsets):
    return parsed({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "echo", "namespace": "echo"},
                   "subsets": list(subsets)})


def subset(pod_name, port, *, name=None, ready=True):
    p = {"port": port, "protocol": "TCP"} | ({"name": name} if name else {})
    key = "addresses" if ready else "notReadyAddresses"
    return {key: [address(pod_name)], "ports": [p]}


V1 = {"app": "echo", "version": "v1", "pod-template-hash": "a1"}
V2 = {"app": "echo", "version": "v2", "pod-template-hash": "b2"}
PODS = [pod("echo-v1-a1-x", V1), pod("echo-v2-b2-y", V2)]
# The sandbox: one subset per pod, every pod on 127.0.0.1 with its own port.
EPS = endpoints(subset("echo-v1-a1-x", 40001), subset("echo-v2-b2-y", 40002))


def test_parse_endpoints_and_pod():
    assert isinstance(EPS, KubeEndpoints)
    assert EPS.subsets[0].addresses[0].target_name == "echo-v1-a1-x"
    assert EPS.subsets[1].ports[0].port == 40002
    p = PODS[0]
    assert isinstance(p, Pod)
    assert (p.pod_ip, p.phase, p.ready, dict(p.meta.labels)) == ("127.0.0.1", "Running", True, V1)
    assert pod("z", {}, ready=False).ready is False
    # Read from YAML with the rest of a manifest stream, no findings for a Pod's many fields.
    doc = """
apiVersion: v1
kind: Endpoints
metadata: {name: echo, namespace: echo}
subsets:
- addresses: [{ip: 127.0.0.1, nodeName: sandbox, targetRef: {kind: Pod, name: p, namespace: echo, uid: u}}]
  notReadyAddresses: [{ip: 127.0.0.2}]
  ports: [{name: http, port: 40001, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: echo, labels: {app: echo}}
spec: {containers: [{name: c, image: x, ports: [{containerPort: 8080}]}], restartPolicy: Always}
status: {phase: Running, podIP: 127.0.0.1, hostIP: 127.0.0.1, conditions: [{type: Ready, status: "True"}]}
"""
    result = parse_stream(doc)
    assert result.findings == [] and result.skipped == []
    eps, p = result.resources
    assert isinstance(eps, KubeEndpoints) and isinstance(p, Pod)
    assert eps.subsets[0].not_ready_addresses[0].ip == "127.0.0.2"
    assert eps.subsets[0].ports[0].name == "http"
    snap = Snapshot.from_resources(result.resources)
    assert snap.endpoints == (eps,) and snap.pods == (p,)


def test_parse_endpoints_unknown_field_is_a_finding():
    result = parse_stream("apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubset: []\n")
    assert [f.field for f in result.findings] == ["subset"]


def test_seed_service_port_mismatch_13_uses_the_only_port_current_gets_none():
    # Service port 80 -> targetPort 8080, Upstream servicePort 8080 (spec section 6).
    up, svc = upstream(8080, {"app": "echo"}), service()
    old = kube_endpoints([up], [svc], [EPS], PODS, "1.3")
    assert old[ECHO] == [("127.0.0.1", 40001, V1), ("127.0.0.1", 40002, V2)]
    cur = kube_endpoints([up], [svc], [EPS], PODS, "current")
    assert ECHO not in cur
    # Gloo's in-memory kube-svc upstream for port 80 gets the same endpoints in both profiles.
    assert cur[FAKE] == old[FAKE] == old[ECHO]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_matching_service_port(profile):
    got = kube_endpoints([upstream(80)], [service()], [EPS], PODS, profile)
    assert [(ip, port, labels["version"]) for ip, port, labels in got[ECHO]] == [
        ("127.0.0.1", 40001, "v1"), ("127.0.0.1", 40002, "v2")]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_selector_filters_pods(profile):
    got = kube_endpoints([upstream(80, {"version": "v2"})], [service()], [EPS], PODS, profile)
    assert got[ECHO] == [("127.0.0.1", 40002, V2)]
    assert kube_endpoints([upstream(80, {"version": "v3"})], [service()], [EPS], PODS, profile).get(ECHO) is None


def test_selector_and_a_pod_without_labels():
    # k8s labels.AreLabelsInWhiteList (1.3) accepts a pod with no labels; SelectorFromSet (current) does not.
    pods = [pod("echo-v1-a1-x", {}), PODS[1]]
    up = upstream(80, {"version": "v2"})
    assert len(kube_endpoints([up], [service()], [EPS], pods, "1.3")[ECHO]) == 2
    assert len(kube_endpoints([up], [service()], [EPS], pods, "current")[ECHO]) == 1


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_not_ready_addresses_are_skipped(profile):
    eps = endpoints(subset("echo-v1-a1-x", 40001), subset("echo-v2-b2-y", 40002, ready=False))
    got = kube_endpoints([upstream(80)], [service()], [eps], PODS, profile)
    assert got[ECHO] == [("127.0.0.1", 40001, V1)]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_labels_come_from_the_target_pod_not_the_shared_ip(profile):
    # All pods share 127.0.0.1: the pod is found by targetRef, so each endpoint keeps its own labels.
    pods = [pod("echo-v2-b2-y", V2), pod("echo-v1-a1-x", V1)]
    got = kube_endpoints([upstream(80)], [service()], [EPS], pods, profile)
    assert {port: labels["version"] for _, port, labels in got[ECHO]} == {40001: "v1", 40002: "v2"}


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_address_without_target_ref_finds_a_running_pod_by_ip(profile):
    eps = endpoints({"addresses": [{"ip": "10.0.0.7"}], "ports": [{"port": 8080}]})
    pods = [pod("a", V1, ip="10.0.0.7", phase="Pending"), pod("b", V2, ip="10.0.0.7")]
    assert kube_endpoints([upstream(80)], [service()], [eps], pods, profile)[ECHO] == [("10.0.0.7", 8080, V2)]
    # No pod for the IP: the endpoint is kept without labels unless a selector needs them.
    assert kube_endpoints([upstream(80)], [service()], [eps], [], profile)[ECHO] == [("10.0.0.7", 8080, {})]
    assert ECHO not in kube_endpoints([upstream(80, {"app": "echo"})], [service()], [eps], [], profile)


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_named_ports(profile):
    svc = service({"name": "http", "port": 80, "targetPort": 8080}, {"name": "admin", "port": 9000, "targetPort": 9001})
    eps = endpoints({"addresses": [address("echo-v1-a1-x")],
                     "ports": [{"name": "admin", "port": 41001}, {"name": "http", "port": 40001}]},
                    {"addresses": [address("echo-v2-b2-y")],
                     "ports": [{"name": "http", "port": 40002}, {"name": "admin", "port": 41002}]})
    http = kube_endpoints([upstream(80)], [svc], [eps], PODS, profile)[ECHO]
    admin = kube_endpoints([upstream(9000)], [svc], [eps], PODS, profile)[ECHO]
    assert [p for _, p, _ in http] == [40001, 40002]
    assert [p for _, p, _ in admin] == [41001, 41002]
    # A two-port Service with no port 8080: no endpoints in either profile.
    assert ECHO not in kube_endpoints([upstream(8080)], [svc], [eps], PODS, profile)
    # The kube-svc upstreams of both ports.
    got = kube_endpoints([], [svc], [eps], PODS, profile)
    assert [p for _, p, _ in got["kube-svc:echo-echo-9000_echo"]] == [41001, 41002]


def test_other_namespace_service_and_non_kube_upstreams_are_ignored():
    static = parsed({"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "s", "namespace": GS},
                     "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 1}]}}})
    other = Service(meta=ObjectMeta("echo", "other"), ports=service().ports)
    got = kube_endpoints([static, upstream(80)], [other], [EPS], PODS, "current")
    assert got == {}


def test_envoy_endpoints_carry_all_pod_labels_and_zero_subset_keys():
    # getLbMetadata: every subset key is set to "" first, then all the pod's labels are written.
    pods = [pod("echo-v1-a1-x", V1), pod("echo-v2-b2-y", {"app": "echo"})]
    up, svc = upstream(80, {"app": "echo"}), service()
    eds = kube_endpoints([up], [svc], [EPS], pods, "current")
    t = Translator("current").translate(Snapshot.from_resources([up, svc]), endpoints=eds)
    (cla,) = [c for c in t.envoy.endpoints if c.cluster_name.startswith(ECHO + "-")]
    got = [(e.endpoint.address.socket_address.port_value, dict(e.metadata.filter_metadata["envoy.lb"]))
           for e in cla.endpoints[0].lb_endpoints]
    assert got == [(40001, V1), (40002, {"app": "echo", "version": ""})]
    assert isinstance(up, Upstream)


def test_translate_derives_endpoints_from_the_snapshot_when_none_are_given():
    # The translation reads Endpoints and Pods from the snapshot itself, as Gloo's EDS watches them:
    # callers do not pass kube_endpoints(...) for the translation to have endpoints.
    pods = [pod("echo-v1-a1-x", V1), pod("echo-v2-b2-y", {"app": "echo"})]
    up, svc = upstream(80, {"app": "echo"}), service()
    derived = Translator("current").translate(Snapshot.from_resources([up, svc, EPS, *pods]))
    given = Translator("current").translate(Snapshot.from_resources([up, svc]),
                                            endpoints=kube_endpoints([up], [svc], [EPS], pods, "current"))
    assert [c.SerializeToString() for c in derived.envoy.endpoints] == \
        [c.SerializeToString() for c in given.envoy.endpoints]
    assert any(c.endpoints and c.endpoints[0].lb_endpoints for c in derived.envoy.endpoints)


def test_an_eds_cluster_with_nothing_behind_it_gets_an_empty_load_assignment():
    # translator.go: "Find all the EDS clusters without endpoints ... create a zero sized load
    # assignment", otherwise Envoy waits for the cluster forever.
    up, svc = upstream(80, {"app": "echo"}), service()
    t = Translator("current").translate(Snapshot.from_resources([up, svc]))
    eds_clusters = sorted(c.eds_cluster_config.service_name for c in t.envoy.clusters
                          if c.HasField("eds_cluster_config"))
    assert eds_clusters and sorted(c.cluster_name for c in t.envoy.endpoints) == eds_clusters
    assert all(not any(loc.lb_endpoints for loc in c.endpoints) for c in t.envoy.endpoints)
