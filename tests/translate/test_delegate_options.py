"""VirtualHostOption and RouteOption resources, merged into options through ``optionsConfigRefs.delegateOptions``.

Gloo sources: ``projects/gateway/pkg/translator/virtual_service_translator.go:mergeDelegatedVirtualHostOptions``,
``converter.go:routeVisitor.visit``, ``projects/gloo/pkg/utils/merge.go`` (ShallowMerge*Options) and
``projects/gateway/api/v1/external_options.proto`` (the documented precedence example), all on main; neither the
kinds nor ``optionsConfigRefs`` exist at v1.3.20.
"""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from gloo_nb.models.codec import parse_stream
from gloo_nb.models.resources import RouteOption, VirtualHostOption
from gloo_nb.translate import translate

pytestmark = pytest.mark.unit

NS = "default"

UPSTREAM = """apiVersion: gloo.solo.io/v1
kind: Upstream
metadata: {name: up, namespace: default}
spec: {static: {hosts: [{addr: 127.0.0.1, port: 9000}]}}
"""


def _vho(name: str, options: str) -> str:
    return f"""apiVersion: gateway.solo.io/v1
kind: VirtualHostOption
metadata: {{name: {name}, namespace: {NS}}}
spec:
  options: {options}
"""


def _ro(name: str, options: str) -> str:
    return f"""apiVersion: gateway.solo.io/v1
kind: RouteOption
metadata: {{name: {name}, namespace: {NS}}}
spec:
  options: {options}
"""


def _refs(*names: str, ns: str = NS) -> str:
    return "{delegateOptions: [" + ", ".join(f"{{name: {n}, namespace: {ns}}}" for n in names) + "]}"


def _vs(vh_extra: str = "", route_extra: str = "") -> str:
    return f"""apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: vs, namespace: {NS}}}
spec:
  virtualHost:
    domains: ['*']
{vh_extra}    routes:
    - matchers: [{{prefix: /}}]
{route_extra}      routeAction: {{single: {{upstream: {{name: up, namespace: {NS}}}}}}}
"""


def _translate(*docs: str, profile: str = "current"):
    parsed = parse_stream("---\n".join((*docs, UPSTREAM)), file="t.yaml")
    return translate(parsed.resources, profile)


def _vhost(t) -> dict:
    (rc,) = t.envoy.route_configurations
    return json_format.MessageToDict(rc.virtual_hosts[0])


def _vs_report(t):
    return next(r for r in t.reports if r.key.kind == "VirtualService")


def test_the_codec_reads_both_kinds():
    """external_options.proto: both kinds hold ``options`` and ``targetRefs``."""
    parsed = parse_stream(_vho("a", "{prefixRewrite: /x}") + "---\n" + _ro("b", "{prefixRewrite: /y}")
                          + "  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]\n",
                          file="t.yaml")
    vho, ro = parsed.resources
    assert isinstance(vho, VirtualHostOption) and vho.key.ref == "default/a"
    assert isinstance(ro, RouteOption) and ro.options == {"prefixRewrite": "/y"}
    assert ro.target_refs[0]["kind"] == "HTTPRoute"
    assert parsed.findings == [] and parsed.skipped == []


def test_an_unknown_spec_field_is_a_finding_naming_it():
    parsed = parse_stream(_ro("b", "{}") + "  optionz: {}\n", file="t.yaml")
    assert any(f.field == "spec.optionz" for f in parsed.findings)


def test_route_own_options_win_then_earlier_refs():
    """external_options.proto's RouteOption example: the route's headerManipulation stays, cors comes from the
    first RouteOption (not the second), transformations only the second has."""
    route = (f"      options: {{headerManipulation: {{requestHeadersToRemove: [header-from-route]}}}}\n"
             f"      optionsConfigRefs: {_refs('opt1', 'opt2')}\n")
    t = _translate(
        _vs(route_extra=route),
        _ro("opt1", "{headerManipulation: {requestHeadersToRemove: [header-from-extopt1]}, "
                    "cors: {exposeHeaders: [header-from-extopt1], allowOrigin: ['https://solo.io']}}"),
        _ro("opt2", "{headerManipulation: {requestHeadersToRemove: [header-from-extopt2]}, "
                    "cors: {exposeHeaders: [header-from-extopt2], maxAge: 2s, allowOrigin: ['https://solo.io']}, "
                    "prefixRewrite: /from-opt2}"))
    (route_json,) = _vhost(t)["routes"]
    assert route_json["requestHeadersToRemove"] == ["header-from-route"]
    assert route_json["route"]["prefixRewrite"] == "/from-opt2"
    cors = route_json["typedPerFilterConfig"]["envoy.filters.http.cors"]
    assert cors["exposeHeaders"] == "header-from-extopt1" and "maxAge" not in cors
    assert _vs_report(t).warnings == []


def test_virtual_host_own_options_win_then_earlier_refs():
    """external_options.proto's VirtualHostOption example, with response headers."""
    vh = (f"    options: {{headerManipulation: {{responseHeadersToRemove: [from-vs]}}}}\n"
          f"    optionsConfigRefs: {_refs('o1', 'o2')}\n")
    t = _translate(
        _vs(vh_extra=vh),
        _vho("o1", "{headerManipulation: {responseHeadersToRemove: [from-o1]}, "
                   "cors: {allowOrigin: ['https://o1']}}"),
        _vho("o2", "{cors: {allowOrigin: ['https://o2']}, includeRequestAttemptCount: true}"))
    host = _vhost(t)
    assert host["responseHeadersToRemove"] == ["from-vs"]
    assert host["includeRequestAttemptCount"] is True
    cors = host["typedPerFilterConfig"]["envoy.filters.http.cors"]
    assert [o["exact"] for o in cors["allowOriginStringMatch"]] == ["https://o1"]


def test_missing_refs_warn_on_the_virtual_service_with_finds_text():
    """virtual_host_option.sk.go / route_option.sk.go Find: ``list did not find <kind> <ns>.<name>``; a warning
    ("missing refs should only result in a warning"), the other refs still merged."""
    t = _translate(
        _vs(vh_extra=f"    optionsConfigRefs: {_refs('nope', 'o1')}\n",
            route_extra=f"      optionsConfigRefs: {_refs('gone')}\n"),
        _vho("o1", "{includeRequestAttemptCount: true}"))
    rep = _vs_report(t)
    assert rep.errors == []
    assert rep.warnings == ["list did not find virtualHostOption default.nope",
                            "list did not find routeOption default.gone"]
    assert _vhost(t)["includeRequestAttemptCount"] is True
    assert any(f.message == "list did not find routeOption default.gone" and f.severity == "warning"
               for f in t.findings)


def test_a_ref_without_namespace_finds_nothing():
    """Find compares the namespace exactly: no default to the owner's namespace."""
    t = _translate(_vs(route_extra="      optionsConfigRefs: {delegateOptions: [{name: r1}]}\n"),
                   _ro("r1", "{prefixRewrite: /x}"))
    assert _vs_report(t).warnings == ["list did not find routeOption .r1"]


def test_route_table_missing_ref_warns_on_the_table_and_wrapped_on_the_vs():
    """converter.go reporterHelper.addWarning: on the RouteTable, and on the top VirtualService wrapped by
    TopLevelVirtualResourceErr."""
    vs = f"""apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: vs, namespace: {NS}}}
spec:
  virtualHost:
    domains: ['*']
    routes:
    - matchers: [{{prefix: /a}}]
      options: {{prefixRewrite: /parent}}
      delegateAction: {{ref: {{name: rt, namespace: {NS}}}}}
"""
    rt = f"""apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata: {{name: rt, namespace: {NS}}}
spec:
  routes:
  - matchers: [{{prefix: /a/b}}]
    optionsConfigRefs: {_refs('shared', 'missing')}
    routeAction: {{single: {{upstream: {{name: up, namespace: {NS}}}}}}}
"""
    t = _translate(vs, rt, _ro("shared", "{hostRewrite: example.com}"))
    rt_rep = next(r for r in t.reports if r.key.kind == "RouteTable")
    assert rt_rep.warnings == ["list did not find routeOption default.missing"]
    assert _vs_report(t).warnings == ["on sub route table default.rt: list did not find routeOption default.missing"]
    (route_json,) = _vhost(t)["routes"]
    # converter_test.go "Route converter delegateOptions isolation" / "does not mutate the shared snapshot
    # RouteOption...": the delegated route has the RouteOption's option (hostRewrite here) plus the parent's rewrite.
    assert route_json["route"]["prefixRewrite"] == "/parent"
    assert route_json["route"]["hostRewriteLiteral"] == "example.com"


def test_a_shared_route_option_does_not_leak_a_parent_option_into_a_sibling():
    """converter_test.go "does not leak one route's parent options into a sibling route that references the same
    RouteOption"."""
    def rt(name: str, prefix: str) -> str:
        return f"""apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata: {{name: {name}, namespace: {NS}}}
spec:
  routes:
  - matchers: [{{prefix: {prefix}}}]
    optionsConfigRefs: {_refs('shared-ro')}
    directResponseAction: {{status: 200, body: foo}}
"""
    vs = f"""apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: vs, namespace: {NS}}}
spec:
  virtualHost:
    domains: ['*']
    routes:
    - matchers: [{{prefix: /with-opts}}]
      options: {{prefixRewrite: /parent}}
      delegateAction: {{ref: {{name: rt-with-opts, namespace: {NS}}}}}
    - matchers: [{{prefix: /without-opts}}]
      delegateAction: {{ref: {{name: rt-without-opts, namespace: {NS}}}}}
"""
    t = _translate(vs, rt("rt-with-opts", "/with-opts"), rt("rt-without-opts", "/without-opts"),
                   _ro("shared-ro", "{prefixRewrite: /own}"))
    a, b = (r["match"]["prefix"] for r in _vhost(t)["routes"])
    assert (a, b) == ("/with-opts", "/without-opts")
    assert _vs_report(t).warnings == []


def test_profile_13_has_neither_kind_nor_field():
    """v1.3.20's virtual_service.proto has no optionsConfigRefs (gogo jsonpb: unknown field in v1.Route), and no
    external_options.proto: the resources are declared as never read, and nothing merges."""
    t = _translate(_vs(route_extra=f"      optionsConfigRefs: {_refs('r1')}\n"), _ro("r1", "{prefixRewrite: /x}"),
                   profile="1.3")
    (route_json,) = _vhost(t)["routes"]
    assert "prefixRewrite" not in route_json["route"]
    assert any(f.layer == "parse" and f.message.endswith('unknown field "optionsConfigRefs" in v1.Route')
               for f in t.findings)
    assert any(u.resource.kind == "RouteOption" and u.path == "kind" for u in t.unmodelled)


def test_unmodelled_options_and_target_refs_in_the_resources_are_declared():
    t = _translate(_vs(), _ro("r1", "{extauth: {disable: true}}")
                   + "  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]\n")
    paths = {(u.resource.name, u.path) for u in t.unmodelled}
    assert ("r1", "spec.options.extauth") in paths and ("r1", "spec.targetRefs") in paths


def test_an_unknown_option_in_a_route_option_is_gloos_decoding_error():
    """The validation webhook decodes RouteOption strictly like every solo-kit resource (golang/protobuf jsonpb
    names the message by its proto name in current Gloo)."""
    t = _translate(_vs(), _ro("r1", "{prefixRewritee: /x}"))
    (f,) = [f for f in t.findings if f.layer == "parse"]
    assert f.resource.kind == "RouteOption" and f.field == "spec.options.prefixRewritee"
    assert f.message == ("could not unmarshal raw object: parsing resource from crd spec r1 in namespace default "
                         'into *v1.RouteOption: unknown field "prefixRewritee" in gloo.solo.io.RouteOptions')


def _named_vs(name: str, domain: str, vh_extra: str) -> str:
    return f"""apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: {NS}}}
spec:
  virtualHost:
    domains: ['{domain}']
{vh_extra}    routes:
    - matchers: [{{prefix: /}}]
      directResponseAction: {{status: 200}}
"""


def _hosts(t) -> dict[str, dict]:
    (rc,) = t.envoy.route_configurations
    return {vh.name: json_format.MessageToDict(vh) for vh in rc.virtual_hosts}


def test_a_virtual_service_without_options_writes_later_refs_into_its_first_virtual_host_option():
    """mergeDelegatedVirtualHostOptions assigns the first found VirtualHostOption's proto itself (no clone) to a
    VirtualService without options, then ShallowMergeVirtualHostOptions fills that proto in place: a later
    VirtualService delegating to the first VirtualHostOption alone also gets the second's fields."""
    t = _translate(
        _named_vs("vs-a", "a.example", f"    optionsConfigRefs: {_refs('first', 'second')}\n"),
        _named_vs("vs-b", "b.example", f"    optionsConfigRefs: {_refs('first')}\n"),
        _vho("first", "{headerManipulation: {responseHeadersToRemove: [from-first]}}"),
        _vho("second", "{includeRequestAttemptCount: true}"))
    hosts = _hosts(t)
    assert hosts["default_vs-a"]["includeRequestAttemptCount"] is True
    assert hosts["default_vs-b"]["includeRequestAttemptCount"] is True
    assert hosts["default_vs-b"]["responseHeadersToRemove"] == ["from-first"]


def test_a_virtual_service_with_own_options_leaves_its_virtual_host_options_alone():
    t = _translate(
        _named_vs("vs-a", "a.example", "    options: {headerManipulation: {responseHeadersToRemove: [own]}}\n"
                                       f"    optionsConfigRefs: {_refs('first', 'second')}\n"),
        _named_vs("vs-b", "b.example", f"    optionsConfigRefs: {_refs('first')}\n"),
        _vho("first", "{headerManipulation: {responseHeadersToRemove: [from-first]}}"),
        _vho("second", "{includeRequestAttemptCount: true}"))
    hosts = _hosts(t)
    assert hosts["default_vs-a"]["includeRequestAttemptCount"] is True
    assert "includeRequestAttemptCount" not in hosts["default_vs-b"]


def test_the_delegation_tree_passes_a_route_options_down_as_gloo_merges_them():
    """The tree walks with the translator's converter: a delegating route's RouteOption options become its
    parent options (converter.go merges delegateOptions before validateAndMergeParentRoute), and the route's
    detail shows its optionsConfigRefs."""
    from gloo_nb.analysis.tree import DelegationTree

    vs = f"""apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: vs, namespace: {NS}}}
spec:
  virtualHost:
    domains: ['*']
    routes:
    - matchers: [{{prefix: /a}}]
      optionsConfigRefs: {_refs('parent-opts')}
      delegateAction: {{ref: {{name: rt, namespace: {NS}}}}}
"""
    rt = f"""apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata: {{name: rt, namespace: {NS}}}
spec:
  routes:
  - matchers: [{{prefix: /a/b}}]
    routeAction: {{single: {{upstream: {{name: up, namespace: {NS}}}}}}}
"""
    t = _translate(vs, rt, _ro("parent-opts", "{prefixRewrite: /from-ro}"))
    (route_json,) = _vhost(t)["routes"]
    assert route_json["route"]["prefixRewrite"] == "/from-ro"
    tree = DelegationTree(t)
    nodes = list(tree.walk())
    leaf = next(n for n in nodes if n.kind == "Route")
    assert leaf._merged is not None and leaf._merged.options == {"prefixRewrite": "/from-ro"}
    assert len(tree.envoy_routes(leaf)) == 1
    delegate = next(n for n in nodes if n.kind == "DelegateRoute")
    assert "optionsConfigRefs" in tree.detail(delegate.id).yaml
