"""Statuses and the Proxy object exactly as Gloo writes them to Kubernetes, per profile."""

from __future__ import annotations

import pytest
from builders import GS, kube_upstream, m, route, service, static_upstream, to, vs
from test_seed_scenario import part2_steps

from gloo_nb.models import ResourceKey, Snapshot
from gloo_nb.models.resources import Matcher, ObjectMeta
from gloo_nb.translate import translate
from gloo_nb.translate.reports import ResourceReport
from gloo_nb.translate.status import (
    proxy_manifest,
    proxy_status,
    resource_status,
    status_patch_too_large,
)

pytestmark = pytest.mark.unit

PROXY_13 = "*v1.Proxy.gloo-system.gateway-proxy"
PROXY_CUR = "*v1.Proxy.gateway-proxy_gloo-system"


@pytest.fixture(scope="module")
def steps():
    return {p: dict(part2_steps(p)) for p in ("1.3", "current")}


def statuses(t, kind, ns, name):
    return resource_status(t.report(kind, ns, name), t.profile, proxy_status=t.proxy_report)


def test_accepted(steps):
    t = steps["1.3"][4]
    assert statuses(t, "VirtualService", GS, "app") == {
        "state": 1, "reported_by": "gateway", "subresource_statuses": {PROXY_13: {"state": 1, "reported_by": "gloo"}}}
    assert statuses(t, "RouteTable", "echo", "echo-routes")["reported_by"] == "gateway"
    # Upstreams: the gloo reporter, no subresource statuses.
    assert statuses(t, "Upstream", GS, "echo") == {"state": 1, "reported_by": "gloo"}
    t = steps["current"][4]
    assert statuses(t, "VirtualService", GS, "app") == {"statuses": {GS: {
        "state": "Accepted", "reportedBy": "gloo",
        "subresourceStatuses": {PROXY_CUR: {"state": "Accepted", "reportedBy": "gloo"}}}}}
    assert statuses(t, "Upstream", GS, "echo") == {"statuses": {GS: {"state": "Accepted", "reportedBy": "gloo"}}}
    # Without the proxy's status (1.3 before Gloo has reported on the Proxy): no subresources.
    assert resource_status(t.report("VirtualService", GS, "app"), "1.3") == {"state": 1, "reported_by": "gateway"}


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_warning_echo_typo_twice(steps, profile):
    t = steps[profile][5]
    text = ("*v1.Upstream {echo-typo gloo-system} not found" if profile == "1.3"
            else "*v1.Upstream { gloo-system.echo-typo } not found")
    w = f"Route Warning: InvalidDestinationWarning. Reason: {text}"
    reason = f"warning: \n  {w}\n{w}"
    assert t.proxy_report.warnings == [w, w] and t.proxy_report.errors == []
    if profile == "1.3":
        expected = {"state": 3, "reason": reason, "reported_by": "gateway",
                    "subresource_statuses": {PROXY_13: {"state": 3, "reason": reason, "reported_by": "gloo"}}}
        rt = {"state": 1, "reported_by": "gateway",
              "subresource_statuses": {PROXY_13: {"state": 3, "reason": reason, "reported_by": "gloo"}}}
    else:
        sub = {PROXY_CUR: {"state": "Warning", "reason": reason, "reportedBy": "gloo"}}
        expected = {"statuses": {GS: {"state": "Warning", "reason": reason, "reportedBy": "gloo",
                                      "subresourceStatuses": sub}}}
        rt = {"statuses": {GS: {"state": "Accepted", "reportedBy": "gloo", "subresourceStatuses": sub}}}
    assert statuses(t, "VirtualService", GS, "app") == expected
    assert statuses(t, "RouteTable", "echo", "echo-routes") == rt


def test_rejected_upstream():
    """1.3 merged the reports before the UpstreamRemovingSanitizer ran (v1.3.20 syncEnvoy), so the
    Upstream is Rejected; current merges after it, and the sanitizer turned the errors into one
    warning (upstream_removing_sanitizer_test.go: "removes upstreams whose reports have an error,
    and changes the error to a warning")."""
    t13 = translate([static_upstream("s", hosts=(("1.2.3.4", 0),))], "1.3")
    reason = ("2 errors occurred:\n\t* port cannot be empty for host\n\t* cluster was configured improperly by "
              "one or more plugins: cluster type STATIC specified but LoadAssignment was empty\n\n")
    assert statuses(t13, "Upstream", GS, "s") == {"state": 2, "reason": reason, "reported_by": "gloo"}
    cur = translate([static_upstream("s", hosts=(("1.2.3.4", 0),))], "current")
    assert statuses(cur, "Upstream", GS, "s") == {
        "statuses": {GS: {"state": "Warning", "reason": "warning: \n  " + reason, "reportedBy": "gloo"}}}


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_rejected_route(profile):
    # A matcher without a path specifier: the VS is Rejected (and its vhost kept out of the Proxy).
    a = vs("a", route(Matcher(), m("/x"), action=to("echo")))
    t = translate([a, kube_upstream("echo"), service("echo")], profile)
    if profile == "1.3":
        err = "Route Error: InvalidMatcherError. Reason: no path specifier provided"
        assert statuses(t, "VirtualService", GS, "a") == {
            "state": 2, "reason": f"1 error occurred:\n\t* {err}\n\n", "reported_by": "gateway",
            "subresource_statuses": {PROXY_13: {"state": 1, "reported_by": "gloo"}}}
    else:
        err = ("Route Error: InvalidMatcherError. Reason: no path specifier provided. "
               "Route Name: gloo-system_a-route-0")
        assert statuses(t, "VirtualService", GS, "a")["statuses"][GS] == {
            "state": "Rejected", "reason": f"1 error occurred:\n\t* {err}\n\n", "reportedBy": "gloo",
            "subresourceStatuses": {PROXY_CUR: {"state": "Accepted", "reportedBy": "gloo"}}}


def test_proxy_status_mapping_and_truncation():
    key = ResourceKey("VirtualService", GS, "app")
    long = ResourceReport(key, warnings=["x" * 2000])
    proxy = ResourceReport(ResourceKey("Proxy", GS, "gateway-proxy"), errors=["é" * 600])
    # 1.3 writes everything; current cuts reasons to 1024 bytes, a subresource's to 512.
    old = resource_status(long, "1.3", proxy_status=proxy_status(proxy, "1.3"))
    assert len(old["reason"]) == len("warning: \n  ") + 2000
    assert old["subresource_statuses"][PROXY_13]["reason"] == proxy.reason
    cur = resource_status(long, "current", proxy_status=proxy_status(proxy, "current"))
    inner = cur["statuses"][GS]
    assert len(inner["reason"].encode()) == 1024
    sub = inner["subresourceStatuses"][PROXY_CUR]
    # Go cuts the bytes (here inside a 2-byte rune), and the cut rune is written as U+FFFD.
    assert sub["state"] == "Rejected" and sub["reason"] == proxy.reason.encode()[:512].decode(errors="replace")
    assert sub["reason"].endswith("é\ufffd")
    # The same from the report directly.
    assert resource_status(long, "current", proxy_status=proxy) == cur
    # The 2048-byte patch limit counts JSON escapes: 1024 bytes of quotes are 2048 escaped.
    assert not status_patch_too_large(cur)
    assert status_patch_too_large(resource_status(ResourceReport(key, warnings=['"' * 1100]), "current"))
    assert not status_patch_too_large(resource_status(ResourceReport(key), "current", proxy_status=proxy))


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_proxy_manifest(steps, profile):
    t = steps[profile][5]
    man = proxy_manifest(t)
    assert man["apiVersion"] == "gloo.solo.io/v1" and man["kind"] == "Proxy"
    assert man["metadata"] == {"name": "gateway-proxy", "namespace": GS,
                               "labels": {"created_by": "gateway" if profile == "1.3" else "gloo-gateway"}}
    assert man["status"] == proxy_status(t.proxy_report, profile)
    # Helm's two default gateways: gateway-proxy (8080) and gateway-proxy-ssl (8443, no ssl VS: no virtual hosts)
    listener, ssl_listener = man["spec"]["listeners"]
    assert (listener["name"], listener["bindAddress"], listener["bindPort"]) == ("listener-::-8080", "::", 8080)
    assert (ssl_listener["name"], ssl_listener["bindPort"], ssl_listener["httpListener"]) == (
        "listener-::-8443", 8443, {})
    (vh,) = listener["httpListener"]["virtualHosts"]
    assert vh["name"] == "gloo-system.app" and vh["domains"] == ["*"]
    first = vh["routes"][0]
    assert first["matchers"] == [{"prefix": "/echo", "headers": [{"name": "stage", "value": "canary"}]}]
    assert first["routeAction"] == {"single": {"upstream": {"name": "echo-typo", "namespace": GS},
                                               "subset": {"values": {"version": "v2"}}}}
    if profile == "1.3":
        assert first["metadata"]["sources"] == [
            {"name": "echo-routes", "namespace": "echo", "kind": "*v1.RouteTable", "observedGeneration": 0},
            {"name": "app", "namespace": GS, "kind": "*v1.VirtualService", "observedGeneration": 0}]
        assert listener["metadata"]["sources"][0]["kind"] == "*v1.Gateway"
    else:
        assert [s["resourceKind"] for s in first["metadataStatic"]["sources"]] == [
            "*v1.RouteTable", "*v1.VirtualService"]


def test_proxy_manifest_observed_generation():
    a = vs("a", route(m("/x"), action=to("echo")))
    a = a.__class__(meta=ObjectMeta("a", GS, generation=7), virtual_host=a.virtual_host)
    t = translate(Snapshot.from_resources([a, kube_upstream("echo"), service("echo")]), "1.3")
    vh = proxy_manifest(t)["spec"]["listeners"][0]["httpListener"]["virtualHosts"][0]
    assert vh["metadata"]["sources"] == [{"name": "a", "namespace": GS, "kind": "*v1.VirtualService",
                                          "observedGeneration": 7}]
    cur = translate(Snapshot.from_resources([a, kube_upstream("echo"), service("echo")]), "current")
    vh = proxy_manifest(cur)["spec"]["listeners"][0]["httpListener"]["virtualHosts"][0]
    assert vh["metadataStatic"]["sources"][0]["observedGeneration"] == "7"
