"""Tests of THE parser (gloo_nb.models.codec) and its file edge (gloo_nb.app.manifests)."""

from __future__ import annotations

import ast
import io
import json
import random
import string
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from gloo_nb.app.manifests import read_manifests
from gloo_nb.errors import ParseError
from gloo_nb.models import codec
from gloo_nb.models.codec import ParseResult, merge_patch, parse_object, parse_objects, parse_stream
from gloo_nb.models.defaults import helm_default_gateway_manifest, helm_default_settings_manifest
from gloo_nb.models.resources import (
    HELM_INVALID_ROUTE_BODY,
    Gateway,
    Location,
    Namespace,
    ResourceKey,
    ResourceRef,
    RouteTable,
    Service,
    ServicePort,
    Settings,
    Upstream,
    VirtualService,
)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "data" / "scenarios" / "two-phase-canary"
TIME_LIMIT = 10.0  # seconds; generous, these machines are noisy


def read_seed(relative: str) -> ParseResult:
    return read_manifests([str(SEED / relative)])


def only(result: ParseResult) -> Any:
    assert len(result.resources) == 1, result
    return result.resources[0]


# --- the seed scenario ---------------------------------------------------------------------

SEED_KINDS = {
    "part1/echo-v1.yaml": ([], ["Deployment"]),
    "part1/echo-v2.yaml": ([], ["Deployment"]),
    "part1/echo.yaml": ([Namespace, Service], ["Deployment"]),
    "part1/upstream.yaml": ([Upstream], []),
    **{f"part1/vs-{i}.yaml": ([VirtualService], []) for i in range(1, 8)},
    "part2/echo-v2.yaml": ([], ["Deployment"]),
    "part2/echo.yaml": ([Namespace, Service], ["Deployment"]),
    "part2/foxtrot-v1.yaml": ([], ["Deployment"]),
    "part2/foxtrot-v2.yaml": ([], ["Deployment"]),
    "part2/foxtrot.yaml": ([Namespace, Service], ["Deployment"]),
    **{f"part2/rt-echo-{i}.yaml": ([RouteTable], []) for i in range(1, 5)},
    **{f"part2/rt-foxtrot-{i}.yaml": ([RouteTable], []) for i in range(1, 7)},
    "part2/upstream-echo.yaml": ([Upstream], []),
    "part2/upstream-foxtrot.yaml": ([Upstream], []),
    "part2/vs.yaml": ([VirtualService], []),
    "part2/vs-2.yaml": ([VirtualService], []),
    "rbac.yaml": ([], ["ClusterRole", "ClusterRoleBinding", "ClusterRole", "RoleBinding", "RoleBinding",
                       "Role", "RoleBinding"]),
}
SEED_PATCHES = ["part2/settings-patch.yaml", "part2/settings-patch-revert.yaml"]


def test_seed_catalogue_is_complete() -> None:
    on_disk = {p.relative_to(SEED).as_posix() for p in SEED.rglob("*.yaml")}
    assert on_disk == set(SEED_KINDS) | set(SEED_PATCHES)


@pytest.mark.parametrize("relative", sorted(SEED_KINDS))
def test_seed_manifest_parses_into_its_types(relative: str) -> None:
    types, skipped_kinds = SEED_KINDS[relative]
    result = read_seed(relative)
    assert [type(r) for r in result.resources] == types
    assert [s.kind for s in result.skipped] == skipped_kinds
    assert result.findings == []
    for skipped in result.skipped:
        assert skipped.why == f"kind {skipped.kind} is not a Gloo resource gloo_nb translates"
        assert skipped.file == str(SEED / relative)


@pytest.mark.parametrize("relative", SEED_PATCHES)
def test_seed_settings_patches_are_patches_not_manifests(relative: str) -> None:
    # A bare patch is listed in `skipped`, so that a folder of manifests and patches reads whole.
    result = read_seed(relative)
    assert result.resources == []
    (skipped,) = result.skipped
    assert (skipped.kind, skipped.document) == ("", 0) and "patch" in skipped.why
    # A manifest that has metadata but no kind is still refused.
    with pytest.raises(ParseError, match="field kind: missing"):
        parse_stream(b"metadata: {name: x}\nspec: {}\n", file="m.yaml")


def test_settings_patch_applied_to_helm_default_settings() -> None:
    patch = yaml.safe_load((SEED / "part2/settings-patch.yaml").read_text())
    settings = only(parse_objects([merge_patch(helm_default_settings_manifest(profile="1.3"), patch)]))
    assert isinstance(settings, Settings)
    assert settings.key == ResourceKey("Settings", "gloo-system", "default")
    policy = settings.invalid_config_policy
    assert policy.replace_invalid_routes is True
    assert policy.invalid_route_response_code == 404
    assert policy.invalid_route_response_body == HELM_INVALID_ROUTE_BODY
    assert settings.validation is not None
    assert settings.validation.always_accept is True
    assert settings.validation.allow_warnings is None  # 1.3 had no allowWarnings
    assert settings.discovery_namespace == "gloo-system"
    assert settings.xds_bind_addr == "0.0.0.0:9977"

    revert = yaml.safe_load((SEED / "part2/settings-patch-revert.yaml").read_text())
    reverted = only(parse_objects([merge_patch(merge_patch(helm_default_settings_manifest(), patch), revert)]))
    assert isinstance(reverted, Settings)
    assert reverted.invalid_config_policy.replace_invalid_routes is False
    assert reverted.invalid_config_policy.invalid_route_response_code == 404


def test_helm_defaults_parse_without_findings() -> None:
    result = parse_objects([helm_default_gateway_manifest(), helm_default_settings_manifest()])
    assert result.findings == [] and result.skipped == []
    gateway, settings = result.resources
    assert isinstance(gateway, Gateway) and isinstance(settings, Settings)
    assert (gateway.bind_address, gateway.bind_port, gateway.ssl) == ("::", 8080, False)
    assert gateway.proxy_names == ("gateway-proxy",)
    assert gateway.http_gateway is not None and gateway.http_gateway.virtual_services == ()
    assert gateway.use_proxy_proto is False
    assert settings.validation is not None and settings.validation.allow_warnings is True


def test_rt_echo_2_fields() -> None:
    rt = only(read_seed("part2/rt-echo-2.yaml"))
    assert isinstance(rt, RouteTable)
    assert rt.key == ResourceKey("RouteTable", "echo", "echo-routes")
    assert rt.meta.labels == {} and rt.weight is None and rt.status is None
    assert rt.meta.location == Location(str(SEED / "part2/rt-echo-2.yaml"), 0)
    canary, stable = rt.routes
    assert (canary.index, stable.index) == (0, 1)
    (m,) = canary.matchers
    assert (m.prefix, m.exact, m.regex, m.path_kind, m.case_sensitive) == ("/echo", None, None, "prefix", None)
    assert [(h.name, h.value, h.regex, h.invert_match) for h in m.headers] == [("stage", "canary", False, False)]
    assert canary.inheritable_matchers is None and canary.delegate_action is None
    assert canary.route_action is not None and canary.route_action.single is not None
    assert canary.route_action.single.upstream == ResourceRef("echo", "gloo-system")
    assert canary.route_action.single.subset == {"version": "v2"}
    assert canary.route_action.multi is None
    assert stable.matchers[0].headers == () and stable.matchers[0].prefix == "/echo"
    assert stable.route_action is not None and stable.route_action.single is not None
    assert stable.route_action.single.subset == {"version": "v1"}


def test_rt_foxtrot_3_fields() -> None:
    rt = only(read_seed("part2/rt-foxtrot-3.yaml"))
    assert isinstance(rt, RouteTable)
    assert rt.key == ResourceKey("RouteTable", "foxtrot", "foxtrot-routes")
    canary, weighted = rt.routes
    assert canary.route_action is not None and canary.route_action.single is not None
    assert canary.route_action.single.upstream == ResourceRef("foxtrot", "gloo-system")
    assert weighted.route_action is not None and weighted.route_action.single is None
    multi = weighted.route_action.multi
    assert multi is not None
    assert [(d.destination.upstream, d.destination.subset, d.weight) for d in multi] == [
        (ResourceRef("foxtrot", "gloo-system"), {"version": "v1"}, 100),
        (ResourceRef("foxtrot", "gloo-system"), {"version": "v2"}, 0),
    ]
    assert weighted.matchers[0].prefix == "/foxtrot"


def test_upstream_fields() -> None:
    us = only(read_seed("part1/upstream.yaml"))
    assert isinstance(us, Upstream)
    assert us.key == ResourceKey("Upstream", "gloo-system", "echo")
    assert us.upstream_type == "kube" and us.static is None and us.ssl_secret_ref is None
    assert us.kube is not None
    assert (us.kube.service_name, us.kube.service_namespace, us.kube.service_port) == ("echo", "echo", 8080)
    assert us.kube.selector == {"app": "echo"}
    assert us.subset_spec is not None
    assert [s.keys for s in us.subset_spec.selectors] == [("version",)]
    assert us.subset_spec.fallback_policy is None and us.subset_spec.default_subset is None


def test_vs_fields() -> None:
    vs = only(read_seed("part2/vs.yaml"))
    assert isinstance(vs, VirtualService)
    assert vs.key == ResourceKey("VirtualService", "gloo-system", "app")
    assert vs.ssl_config is None and vs.virtual_host is not None
    assert vs.virtual_host.domains == ("*",)
    echo, foxtrot = vs.virtual_host.routes
    for route, prefix, namespace in ((echo, "/echo", "echo"), (foxtrot, "/foxtrot", "foxtrot")):
        assert route.matchers[0].prefix == prefix and route.route_action is None
        delegate = route.delegate_action
        assert delegate is not None and delegate.ref is None and delegate.selector is not None
        assert delegate.selector.namespaces == (namespace,)
        assert delegate.selector.labels == {} and delegate.selector.expressions == ()

    vs2 = only(read_seed("part2/vs-2.yaml"))
    assert isinstance(vs2, VirtualService) and vs2.virtual_host is not None
    selector = vs2.virtual_host.routes[0].delegate_action.selector  # type: ignore[union-attr]
    assert selector is not None
    assert selector.labels == {"apiGroup": "example"} and selector.namespaces == ("*",)


def test_service_fields_and_document_index() -> None:
    result = read_seed("part1/echo.yaml")
    ns, svc = result.resources  # Namespaces are read too (their labels decide watchNamespaceSelectors)
    assert isinstance(ns, Namespace) and ns.key == ResourceKey("Namespace", "", "echo")
    assert isinstance(svc, Service)
    assert svc.key == ResourceKey("Service", "echo", "echo")
    assert svc.ports == (ServicePort(port=80, target_port=8080, name="", protocol="TCP"),)
    assert svc.selector == {"app": "echo"} and svc.type == "ClusterIP"
    assert svc.meta.location.document == 2
    assert [s.document for s in result.skipped] == [1]
    assert (result.skipped[0].name, result.skipped[0].namespace) == ("echo-v1", "echo")


def test_folder_is_read_recursively_in_path_order(tmp_path: Path) -> None:
    result = read_manifests([str(SEED / "part1")])
    files = [r.meta.location.file for r in result.resources]
    assert files == sorted(files)
    assert len([r for r in result.resources if isinstance(r, VirtualService)]) == 7
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "rt.yml").write_text((SEED / "part2/rt-echo-1.yaml").read_text())
    (tmp_path / "a" / "us.json").write_text(json.dumps(yaml.safe_load((SEED / "part1/upstream.yaml").read_text())))
    (tmp_path / "notes.txt").write_text("not a manifest: [")
    result = read_manifests([str(tmp_path)])
    assert [type(r) for r in result.resources] == [RouteTable, Upstream]


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(ParseError) as caught:
        read_manifests([missing])
    assert str(caught.value) == f"{missing}: no such file or folder; check the path, or give - to read standard input"
    with pytest.raises(ParseError, match="holds no"):
        read_manifests([str(tmp_path)])


def test_stdin() -> None:
    data = (SEED / "part2/rt-foxtrot-3.yaml").read_bytes() + b"\n---\n" + (SEED / "part2/vs.yaml").read_bytes()
    result = read_manifests(["-", str(SEED / "part1/upstream.yaml")], stdin=io.BytesIO(data))
    assert [type(r) for r in result.resources] == [RouteTable, VirtualService, Upstream]
    assert [(r.meta.location.file, r.meta.location.document) for r in result.resources[:2]] == [("-", 0), ("-", 1)]
    with pytest.raises(ParseError) as caught:
        read_manifests(["-"], stdin=io.BytesIO(b"kind: [\n"))
    assert str(caught.value).startswith("-: document 0: invalid YAML:")


# --- Lists, JSON, live objects -------------------------------------------------------------

RT = {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable", "metadata": {"name": "rt", "namespace": "ns"},
      "spec": {"routes": [{"matchers": [{"prefix": "/a"}],
                           "routeAction": {"single": {"upstream": {"name": "u", "namespace": "gloo-system"}}}}]}}
CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns"}}


def test_kind_list_in_yaml() -> None:
    text = yaml.safe_dump_all([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}},
                               {"apiVersion": "v1", "kind": "List", "items": [RT, CONFIG_MAP]}])
    result = parse_stream(text, file="list.yaml")
    ns, rt = result.resources
    assert isinstance(ns, Namespace) and ns.meta.location == Location("list.yaml", 0)
    assert isinstance(rt, RouteTable) and rt.meta.location == Location("list.yaml", 1)
    assert [(s.kind, s.document) for s in result.skipped] == [("ConfigMap", 1)]
    assert result.skipped[0].why.endswith("(items[1] of the List)")


@pytest.mark.parametrize("order", ["kubectl", "go", "items-first-typed", "typed-in-order"])
def test_kind_list_in_json(order: str) -> None:
    bad = {**RT, "metadata": {"name": "rt2", "namespace": "ns"}, "spec": {"routes": [{"matcher": []}]}}
    if order == "kubectl":  # alphabetical keys: items before kind
        doc: dict[str, Any] = {"apiVersion": "v1", "items": [RT, CONFIG_MAP, bad], "kind": "List",
                               "metadata": {"resourceVersion": ""}}
    elif order == "go":
        doc = {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": [RT, CONFIG_MAP, bad]}
    else:  # a typed list from the API: items carry no kind
        items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in (RT, bad)]
        doc = {"apiVersion": "gateway.solo.io/v1", "items": items, "kind": "RouteTableList"}
        if order == "typed-in-order":
            doc = {"kind": "RouteTableList", "apiVersion": "gateway.solo.io/v1", "items": items}
    result = parse_stream(json.dumps(doc, indent=1).encode(), file="list.json")
    assert [r.meta.name for r in result.resources] == ["rt", "rt2"]
    assert all(r.meta.location == Location("list.json", 0) for r in result.resources)
    (finding,) = result.findings
    index = 1 if order.startswith(("typed", "items")) else 2
    assert finding.field == f"items[{index}].spec.routes[0].matcher"


def test_json_stream_of_values_and_top_level_array() -> None:
    text = json.dumps(RT) + "\n" + json.dumps([CONFIG_MAP, RT]) + "\n"
    result = parse_stream(text, file="s.json")
    assert [r.meta.location.document for r in result.resources] == [0, 2]
    assert [s.document for s in result.skipped] == [1]


def test_json_object_with_items_that_is_not_a_list() -> None:
    doc = {"apiVersion": "example.com/v1", "items": [{"kind": "RouteTable"}], "kind": "Shelf",
           "metadata": {"name": "s"}}
    result = parse_stream(json.dumps(doc))
    assert result.resources == [] and [s.kind for s in result.skipped] == ["Shelf"]


def test_parse_objects_for_live_objects() -> None:
    live = {**RT, "metadata": {**RT["metadata"], "resourceVersion": "42", "generation": 3, "uid": "u-1",
                               "creationTimestamp": "2020-04-11T00:00:00Z", "managedFields": []},
            "status": {"statuses": {"gloo-system": {"state": 1, "reportedBy": "gloo"}}}}
    result = parse_objects([live, {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTableList", "items": [RT]}],
                           file="cluster")
    rt, again = result.resources
    assert isinstance(rt, RouteTable) and result.findings == []
    assert (rt.meta.resource_version, rt.meta.generation, rt.meta.uid) == ("42", 3, "u-1")
    assert rt.status == live["status"]
    assert again.meta.location == Location("cluster", 1)


def test_parse_object_single() -> None:
    parsed = parse_object(RT, location=Location("x.yaml", 4))
    assert parsed.skipped is None and parsed.findings == ()
    assert isinstance(parsed.resource, RouteTable) and parsed.resource.meta.location.document == 4
    skipped = parse_object(CONFIG_MAP, location=Location("x.yaml", 5))
    assert skipped.resource is None and skipped.skipped is not None
    assert (skipped.skipped.file, skipped.skipped.document, skipped.skipped.name) == ("x.yaml", 5, "cm")


# --- unknown fields, skipped kinds, accepted spellings ------------------------------------


def test_unknown_field_is_a_warning_and_reading_goes_on() -> None:
    text = """
apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: app, namespace: gloo-system, lables: {a: b}}
spek: {}
spec:
  virtualHost:
    domains: ['*']
    routes:
    - matcher: [{prefix: /typo}]
      matchers: [{prefix: /echo, caseSensitive: false, headerz: []}]
      routeAction: {single: {upstream: {name: echo, namespace: gloo-system}}}
      options: {prefixRewrite: /, anythingAtAll: {nested: [1, 2]}}
"""
    result = parse_stream(text, file="vs.yaml")
    vs = only(result)
    assert isinstance(vs, VirtualService) and vs.virtual_host is not None
    route = vs.virtual_host.routes[0]
    assert route.matchers[0].prefix == "/echo" and route.matchers[0].case_sensitive is False
    assert route.options == {"prefixRewrite": "/", "anythingAtAll": {"nested": [1, 2]}}
    by_field = {f.field: f for f in result.findings}
    assert set(by_field) == {"metadata.lables", "spek", "spec.virtualHost.routes[0].matcher",
                             "spec.virtualHost.routes[0].matchers[0].headerz"}
    finding = by_field["spec.virtualHost.routes[0].matcher"]
    assert finding.message == ("unknown field spec.virtualHost.routes[0].matcher: Gloo ignores or rejects it; "
                               "check the spelling (did you mean matchers?)")
    assert (finding.severity, finding.layer) == ("warning", "parse")
    assert finding.resource == finding.origin == ResourceKey("VirtualService", "gloo-system", "app")
    assert "did you mean labels?" in by_field["metadata.lables"].message
    assert "did you mean spec?" in by_field["spek"].message
    assert finding.as_json()["field"] == "spec.virtualHost.routes[0].matcher"


def test_many_unknown_fields_are_capped_and_fast() -> None:
    spec = {"routes": [], **{f"field{i}": i for i in range(200_000)}}
    start = time.monotonic()
    parsed = parse_object({**RT, "spec": spec})
    assert time.monotonic() - start < TIME_LIMIT
    assert len(parsed.findings) == 101
    assert parsed.findings[-1].message == "199900 more unknown fields are not listed"


def test_option_blocks_are_opaque() -> None:
    us = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "s", "namespace": "gloo-system"},
          "spec": {"static": {"hosts": [{"addr": "example.com", "port": "443", "healthCheckConfig": {"x": 1}}],
                              "useTls": {"value": True}},
                   "sslConfig": {"secretRef": {"name": "tls", "namespace": "gloo-system", "extra": 1}, "sni": "e"},
                   "circuitBreakers": {"maxConnections": 1}, "useHttp2": True}}
    parsed = parse_object(us)
    assert parsed.findings == ()
    upstream = parsed.resource
    assert isinstance(upstream, Upstream) and upstream.static is not None
    assert upstream.upstream_type == "static"
    assert upstream.static.hosts[0].port == 443 and upstream.static.use_tls is True
    assert upstream.ssl_secret_ref == ResourceRef("tls", "gloo-system")
    assert upstream.use_http2 is True


def test_upstream_option_blocks_have_their_field_names_checked() -> None:
    us = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "s", "namespace": "gloo-system"},
          "spec": {"static": {"hosts": [{"addr": "1.2.3.4", "port": 80}]}, "circuitBreakers": {"whatever": True},
                   "healthChecks": [{"timeout": "1s", "intervl": "1s"}], "protocolSelection": "USE_DOWNSTREAM_PROTOCOL",
                   "initialStreamWindowSize": {"value": 65535}, "ignoreHealthOnHostRemoval": True}}
    parsed = parse_object(us)
    assert [f.field for f in parsed.findings] == ["spec.circuitBreakers.whatever", "spec.healthChecks[0].intervl"]
    upstream = parsed.resource
    assert isinstance(upstream, Upstream)
    assert upstream.options.protocol_selection == "USE_DOWNSTREAM_PROTOCOL"
    assert upstream.options.initial_stream_window_size == 65535
    assert upstream.options.ignore_health_on_host_removal is True
    assert upstream.options.health_checks == ({"timeout": "1s", "intervl": "1s"},)


def test_wrappers_enums_and_proto_names() -> None:
    rt = {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable", "metadata": {"name": "r"},
          "spec": {"weight": {"value": "-3"}, "routes": [
              {"matchers": [{"exact": "/x", "case_sensitive": {"value": True}}],
               "redirect_action": {"hostRedirect": "h", "responseCode": 1, "portRedirect": "8443"}},
              {"redirectAction": {"responseCode": "PERMANENT_REDIRECT"}},
              {"directResponseAction": {"status": 503.0, "body": "down"}},
              {"matchers": [{"regex": "/a.*"}], "delegateAction": {"ref": {"name": "child"}},
               "inheritableMatchers": True},
              {"delegateAction": {"selector": {"expressions": [{"key": "tier", "operator": "In", "values": ["a"]},
                                                               {"key": "x", "operator": 5},
                                                               {"key": "y", "operator": "Bogus"}]}}},
              {"matchers": [{"connectMatcher": {}}],
               "routeAction": {"multi": {"destinations": [{"destination": {"kube": {"ref": {"name": "svc"},
                                                                                     "port": 80}}}]}}}]}}
    parsed = parse_object(rt)
    assert parsed.findings == ()
    table = parsed.resource
    assert isinstance(table, RouteTable) and table.weight == -3
    assert table.meta.namespace == ""  # kept empty: the caller knows kubectl's namespace
    r0, r1, r2, r3, r4, r5 = table.routes
    assert r0.matchers[0].case_sensitive is True and r0.matchers[0].path_kind == "exact"
    assert r0.redirect_action is not None
    assert (r0.redirect_action.response_code, r0.redirect_action.port_redirect) == ("FOUND", 8443)
    assert r1.redirect_action is not None and r1.redirect_action.response_code == "PERMANENT_REDIRECT"
    assert r1.matchers == ()
    assert r2.direct_response_action is not None and r2.direct_response_action.status == 503
    assert r3.delegate_action is not None and r3.delegate_action.ref == ResourceRef("child")
    assert r3.inheritable_matchers is True
    assert r4.delegate_action is not None and r4.delegate_action.selector is not None
    assert [e.operator for e in r4.delegate_action.selector.expressions] == ["In", "Exists", "Bogus"]
    assert r5.matchers[0].connect and r5.matchers[0].path_kind == "connect"
    assert r5.route_action is not None and r5.route_action.multi is not None
    (weighted,) = r5.route_action.multi
    assert weighted.weight is None and weighted.destination.kube is not None
    assert (weighted.destination.kube.ref, weighted.destination.kube.port) == (ResourceRef("svc"), 80)


def test_skipped_kinds_and_foreign_api_groups() -> None:
    text = """
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: knative, namespace: default}
---
apiVersion: gateway.solo.io/v1
kind: VirtualServce
metadata: {name: typo}
---
apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata: {name: ok, namespace: default}
"""
    result = parse_stream(text, file="mixed.yaml")
    assert [r.meta.name for r in result.resources] == ["ok"]
    knative, typo = result.skipped
    assert (knative.kind, knative.document, knative.name) == ("Service", 0, "knative")
    assert "apiVersion serving.knative.dev/v1" in knative.why and "v1" in knative.why
    assert typo.why == "kind VirtualServce is not a Gloo resource gloo_nb translates (did you mean VirtualService?)"


def test_missing_api_version_is_a_warning() -> None:
    parsed = parse_object({"kind": "RouteTable", "metadata": {"name": "r", "namespace": "n"}})
    assert isinstance(parsed.resource, RouteTable)
    (finding,) = parsed.findings
    assert finding.field == "apiVersion" and "read as gateway.solo.io/v1" in finding.message


def test_empty_documents_are_ignored_and_counted() -> None:
    text = "---\n---\n# only a comment\n---\n" + yaml.safe_dump(RT)
    result = parse_stream(text)
    assert only(result).meta.location.document == 2
    assert parse_stream("").resources == [] and parse_stream(b"  \n\n").resources == []


def test_yaml_details() -> None:
    text = """
base: &base {name: u, namespace: gloo-system}
apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata:
  name: r
  annotations: {when: 2020-04-11T00:00:00Z}
spec:
  routes:
  - routeAction: {single: {upstream: {<<: *base, name: v}}}
"""
    result = parse_stream(text.encode("utf-8-sig"))
    rt = only(result)
    assert isinstance(rt, RouteTable)
    assert rt.meta.annotations == {"when": "2020-04-11T00:00:00Z"}  # kept as text, as Kubernetes does
    single = rt.routes[0].route_action.single  # type: ignore[union-attr]
    assert single is not None and single.upstream == ResourceRef("v", "gloo-system")
    assert [f.field for f in result.findings] == ["base"]


# --- unreadable input ----------------------------------------------------------------------

VS_HEAD = "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {name: app, namespace: gloo-system}\n"
RT_HEAD = "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {name: rt, namespace: ns}\n"
NEXT = "---\n" + VS_HEAD + "---\n" + VS_HEAD + "---\n"  # lines 1-9; the next document is document 2


def _random_bytes() -> bytes:
    return random.Random(7).randbytes(20_000_000)


def _random_text(alphabet: str) -> str:
    table = bytes(ord(alphabet[b % len(alphabet)]) for b in range(256))
    return _random_bytes().translate(table).decode("ascii")


def _random_printable() -> str:
    return _random_text(string.printable)


def _random_printable_no_controls() -> str:
    return _random_text(string.ascii_letters + string.digits + string.punctuation + " \n")


BAD_INPUTS: list[tuple[str, Any, list[str]]] = [
    ("bad yaml indentation", NEXT + RT_HEAD + "spec:\n  routes:\n  - matchers: []\n   name: x\n",
     ["document 2", "invalid YAML: while parsing a block mapping", "line 16, column 4"]),
    ("bad yaml flow", "a: [b, c\n", ["document 0", "invalid YAML", "line 2, column 1"]),
    ("yaml tab", "a:\n\tb: c\n", ["document 0", "invalid YAML", "line 2, column 1"]),
    ("routes not a list", NEXT + RT_HEAD + "spec: {routes: {matchers: []}}\n",
     ["document 2", "field spec.routes: expected a list, got an object"]),
    ("matchers a string", NEXT + VS_HEAD + "spec:\n  virtualHost:\n    routes:\n    - {}\n    - matchers: /echo\n",
     ["document 2", "field spec.virtualHost.routes[1].matchers: expected a list, got the string '/echo'"]),
    ("weight not a number", RT_HEAD + "spec:\n  routes:\n  - routeAction:\n      multi:\n        destinations:\n"
                            "        - {weight: abc}\n",
     ["document 0", "field spec.routes[0].routeAction.multi.destinations[0].weight: expected a non-negative "
                    "integer (uint32), got the string 'abc'"]),
    ("rt weight out of range", RT_HEAD + "spec: {weight: 4294967296}\n",
     ["field spec.weight: 4294967296 is out of range"]),
    ("port -1", "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: u}\nspec: {kube: {servicePort: -1}}\n",
     ["document 0", "field spec.kube.servicePort: -1 is out of range for a non-negative integer (uint32)"]),
    ("bool for a string", RT_HEAD + "spec: {routes: [{matchers: [{prefix: true}]}]}\n",
     ["field spec.routes[0].matchers[0].prefix: expected a string, got the boolean true"]),
    ("string for a bool", RT_HEAD + "spec: {routes: [{matchers: [{headers: [{name: a, regex: 'yes'}]}]}]}\n",
     ["field spec.routes[0].matchers[0].headers[0].regex: expected true or false, got the string 'yes'"]),
    ("number for a label", "apiVersion: v1\nkind: Service\nmetadata: {name: s, labels: {app.kubernetes.io/v: 2}}\n",
     ['field metadata.labels["app.kubernetes.io/v"]: expected a string, got the number 2']),
    ("service port as text", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: '80'}]}\n",
     ["field spec.ports[0].port: expected an integer, got the string '80'"]),
    ("bad enum", RT_HEAD + "spec: {routes: [{redirectAction: {responseCode: MOVED}}]}\n",
     ["field spec.routes[0].redirectAction.responseCode: expected one of MOVED_PERMANENTLY"]),
    ("spec a list", RT_HEAD + "spec: []\n", ["field spec: expected an object, got a list"]),
    ("missing name", NEXT + "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {namespace: ns}\n",
     ["document 2", "field metadata.name: missing"]),
    ("missing metadata", "apiVersion: v1\nkind: Service\n", ["document 0", "field metadata.name: missing"]),
    ("missing kind", NEXT + "apiVersion: gateway.solo.io/v1\nmetadata: {name: x}\n",
     ["document 2", "field kind: missing"]),
    ("kind not a string", "kind: [RouteTable]\nmetadata: {name: x}\n", ["field kind: expected a string"]),
    ("not a mapping", NEXT + "- just\n- a list\n", ["document 2", "expected an object (a Kubernetes manifest)"]),
    ("list item not a mapping", '{"apiVersion": "v1", "kind": "List", "items": [3]}',
     ["document 0", "field items[0]: expected an object"]),
    ("two actions", NEXT + RT_HEAD + "spec:\n  routes:\n  - routeAction: {single: {upstream: {name: u}}}\n"
                    "    delegateAction: {ref: {name: x}}\n",
     ["document 2", "field spec.routes[0]: routeAction and delegateAction are both set"]),
    ("prefix and exact", RT_HEAD + "spec: {routes: [{matchers: [{prefix: /, exact: /a}]}]}\n",
     ["field spec.routes[0].matchers[0]: prefix and exact are both set"]),
    ("two upstream types", "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: u}\n"
                           "spec: {kube: {}, static: {}}\n", ["field spec: kube and static are both set"]),
    ("field twice", RT_HEAD + "spec: {routes: [{routeAction: {}, route_action: {}}]}\n",
     ["field spec.routes[0].routeAction: set twice"]),
    ("bad json", '{"apiVersion": "v1",\n "kind": "List", "items": [}\n',
     ["document 0", "invalid JSON", "line 2, column 28"]),
    ("json list item bad type", json.dumps({"apiVersion": "v1", "items": [json.loads(json.dumps(RT)),
                                           {**RT, "spec": {"routes": "x"}}], "kind": "List"}),
     ["document 0", "field items[1].spec.routes: expected a list"]),
    ("not UTF-8", b"apiVersion: v1\nkind: Service\nmetadata: {name: caf\xe9}\n",
     ["not UTF-8 text at byte 49; save the file as UTF-8"]),
    ("UTF-16", "kind: Service\n".encode("utf-16"), ["not UTF-8 text at byte 0"]),
    ("control character", "apiVersion: v1\nkind: Service\x00\n", ["invalid YAML", "line 2, column 14"]),
    ("20 MB random bytes", _random_bytes, ["not UTF-8 text at byte"]),
    ("20 MB random printable", _random_printable, ["invalid YAML"]),
    ("20 MB random printable, no control characters", _random_printable_no_controls, ["document 0"]),
    ("20 MB of one word", lambda: "x" * 20_000_000, ["document 0", "expected an object"]),
    ("deep JSON", lambda: "[" * 1_000_000, ["nested too deeply"]),
    ("deep JSON objects", lambda: '{"a":' * 1_000_000, ["nested too deeply"]),
    # libyaml >= 0.2.5 stops flow nesting itself (at 1000) before gloo_nb's 512-level limit.
    ("deep YAML flow", lambda: "a: " + "[" * 1_000_000, ["document 0", "nest"]),
    ("deep YAML block", lambda: "- " * 1_000_000 + "x", ["document 0", "nested deeper than 512 levels"]),
    ("YAML alias bomb", "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
     ["document 0", "aliases expand the document"]),
    ("undefined alias", "a: *nope\n", ["document 0", "undefined alias"]),
    ("unknown tag", "a: !Ref x\n", ["document 0", "unsupported tag !Ref"]),
    ("list as a key", "? [a, b]\n: 1\n", ["document 0", "a mapping key must be a scalar", "line 1"]),
    ("mapping as a key", "x: 1\n? {a: b}\n: 1\n", ["document 0", "a mapping key must be a scalar", "line 2"]),
]


@pytest.mark.parametrize(("name", "data", "expected"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_unreadable_input_fails_fast_in_one_line(name: str, data: Any, expected: list[str]) -> None:
    if callable(data):
        data = data()
    start = time.monotonic()
    with pytest.raises(ParseError) as caught:
        parse_stream(data, file="bad/input.yaml")
    elapsed = time.monotonic() - start
    message = str(caught.value)
    assert elapsed < TIME_LIMIT, f"{name}: took {elapsed:.1f} s"
    assert "\n" not in message and len(message) < 400, message
    assert message.startswith("bad/input.yaml: "), message
    for part in expected:
        assert part in message, message
    assert caught.value.file == "bad/input.yaml"


def test_unreadable_file_through_read_manifests(tmp_path: Path) -> None:
    bad = tmp_path / "vs.yaml"
    bad.write_text(NEXT + RT_HEAD + "spec: {routes: 3}\n")
    with pytest.raises(ParseError) as caught:
        read_manifests([str(bad)])
    assert str(caught.value) == f"{bad}: document 2: field spec.routes: expected a list, got the number 3"
    assert (caught.value.document, caught.value.field) == (2, "spec.routes")


# --- large input ---------------------------------------------------------------------------


def _big_route_table(i: int) -> str:
    return json.dumps({
        "apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
        "metadata": {"name": f"rt-{i}", "namespace": f"team-{i % 97}", "labels": {"apiGroup": "example"}},
        "spec": {"routes": [
            {"matchers": [{"headers": [{"name": "stage", "value": "canary"}], "prefix": f"/svc-{i}"}],
             "routeAction": {"single": {"upstream": {"name": f"svc-{i}", "namespace": "gloo-system"},
                                        "subset": {"values": {"version": "v2"}}}}},
            {"matchers": [{"prefix": f"/svc-{i}"}],
             "routeAction": {"multi": {"destinations": [
                 {"destination": {"upstream": {"name": f"svc-{i}", "namespace": "gloo-system"},
                                  "subset": {"values": {"version": v}}}, "weight": w}
                 for v, w in (("v1", 90), ("v2", 10))]}}}]}})


def test_200_mb_json_list(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    count = 0
    with path.open("w") as out:
        out.write('{"apiVersion": "v1", "items": [\n')  # kubectl's key order: kind after items
        size = 0
        while size < 200_000_000:
            text = _big_route_table(count)
            out.write((",\n" if count else "") + text)
            size += len(text) + 2
            count += 1
        out.write('\n], "kind": "List", "metadata": {"resourceVersion": ""}}\n')
    assert path.stat().st_size >= 200_000_000
    result = read_manifests([str(path)])
    assert len(result.resources) == count
    assert result.findings == [] and result.skipped == []
    last = result.resources[-1]
    assert isinstance(last, RouteTable) and last.meta.name == f"rt-{count - 1}"
    assert last.meta.location == Location(str(path), 0)


# --- purity --------------------------------------------------------------------------------


def test_codec_does_no_io() -> None:
    # the codec is a package of one module per responsibility; every one of them stays pure
    trees = [ast.parse(path.read_text()) for path in sorted(Path(codec.__file__).parent.glob("*.py"))]
    io_calls = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "urlopen", "connect"}
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            assert name not in io_calls, f"codec.py calls {name}() at line {node.lineno}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                assert module.split(".")[0] not in {"os", "io", "pathlib", "socket", "urllib", "http",
                                                    "subprocess", "shutil", "tempfile"}, module


# --- per-object tolerance (issue 12, point 5) --------------------------------------------------------------------

def _rt(name: str, namespace: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"routes": [{"matchers": [{"prefix": "/" + name}], "directResponseAction": {"status": 200}}]},
            **extra}


def test_a_status_of_the_wrong_type_is_ignored_with_a_warning() -> None:
    # Gloo writes status, not the team: a garbage status must not make the object (or the cluster) unreadable.
    parsed = parse_objects([_rt("a", "team-a", status=[1, 2])])
    rt, = parsed.resources
    assert isinstance(rt, RouteTable) and rt.status is None and len(rt.routes) == 1
    finding, = parsed.findings
    assert (finding.severity, finding.field, finding.origin) == ("warning", "status",
                                                                ResourceKey("RouteTable", "team-a", "a"))
    assert finding.message.startswith("status is a list, not an object: ignored")


def test_tolerant_reading_makes_an_unreadable_object_its_teams_error_finding() -> None:
    bad = _rt("bad", "team-a")
    bad["spec"]["routes"] = "oops"
    objects = [bad, _rt("good", "team-b")]
    with pytest.raises(ParseError, match="field spec.routes: expected a list"):
        parse_objects(objects, file="<kubernetes>")
    parsed = parse_objects(objects, file="<kubernetes>", tolerant=True)
    assert [r.meta.name for r in parsed.resources] == ["good"]
    finding, = parsed.findings
    assert finding.resource == finding.origin == ResourceKey("RouteTable", "team-a", "bad")
    assert (finding.severity, finding.layer, finding.field) == ("error", "parse", "spec.routes")
    assert "<kubernetes>: document 0: field spec.routes: expected a list, got the string 'oops'" in finding.message
    assert "\n" not in finding.message


def test_a_400_deep_unknown_field_is_read_redacted_and_patched_without_hitting_the_recursion_limit() -> None:
    import jsonpatch

    from gloo_nb.journal import redact

    def deep(leaf: int) -> dict[str, Any]:
        value: dict[str, Any] = {"leaf": leaf}
        for _ in range(400):
            value = {"x": value}
        return value

    obj = _rt("deep", "team-b")
    obj["spec"]["deep"] = deep(1)
    text = json.dumps(obj)
    parsed = parse_stream(text, file="deep.json")
    assert [f.field for f in parsed.findings] == ["spec.deep"] and len(parsed.resources) == 1
    assert codec.load_documents(yaml.safe_dump(_rt("shallow", "x")) + "---\n" + text) [1] == obj
    assert redact(None, obj) == obj
    changed = json.loads(text)
    changed["spec"]["deep"] = deep(2)
    assert jsonpatch.make_patch(obj, changed).patch[0]["op"] == "replace"


def test_repeated_plain_scalars_keep_their_types_and_merge_keys_their_place() -> None:
    # plain scalars are resolved once per distinct text: the cached value must be the same as the
    # first, a quoted twin stays text, and `<<` merges only where it is a key
    text = ("a: 1\nb: '1'\nc: 1\nd: true\ne: 'true'\nf: true\ng: null\nh: ~\ni: 1.5\nj: 1.5\n"
            "base: &b {x: 1}\nk: {<<: *b, y: 2}\nl: <<\nm: {<<: *b}\nn: <<\n")
    docs = codec.load_documents(text)
    assert docs == [yaml.safe_load(text.replace("l: <<", "l: '<<'").replace("n: <<", "n: '<<'"))]
    assert docs[0]["m"] == {"x": 1} and docs[0]["l"] == docs[0]["n"] == "<<"
    assert [type(docs[0][k]) for k in "abcdefghij"] == [int, str, int, bool, str, bool, type(None), type(None),
                                                        float, float]


def test_a_yaml_error_after_many_scalars_still_names_its_line() -> None:
    text = "".join(f"k{i}: v\n" for i in range(50)) + "bad: [unclosed\n"
    with pytest.raises(ParseError, match="line 52"):
        codec.load_documents(text, file="x.yaml")
