"""Which VirtualServices a Gateway binds: refs, selector, expressions, namespaces (both profiles).

Facts transcribed from Gloo's ``projects/gateway/pkg/translator/http_translator_test.go`` (CUR),
context "all-in-one virtual service": three VSs (``gloo-system/name1`` labelled ``a: b``,
``gloo-system/name2``, ``gloo-system-other-namespace/name3`` labelled ``a: b``).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from builders import GS, messages, route, settings

from gloo_nb.models.codec import parse_object
from gloo_nb.models.resources import (
    DirectResponseAction,
    Gateway,
    HttpGateway,
    ObjectMeta,
    ResourceRef,
    SelectorExpression,
    VirtualHost,
    VirtualService,
)
from gloo_nb.translate import translate
from gloo_nb.translate.gateway import http_gateway_contains

pytestmark = pytest.mark.unit

OTHER = GS + "-other-namespace"
LABELS = {"a": "b"}


def _vs(name, ns, domain, labels=None, ssl=None):
    return VirtualService(meta=ObjectMeta(name, ns, labels=labels or {}), ssl_config=ssl,
                          virtual_host=VirtualHost(domains=(domain,), routes=(route(direct=(200, name)),)))


def _snapshot_vss():
    return [_vs("name1", GS, "d1.com", LABELS), _vs("name2", GS, "d2.com"), _vs("name3", OTHER, "d3.com", LABELS)]


def _gw(http, name="gateway-proxy", ssl=False):
    return Gateway(meta=ObjectMeta(name, GS), http_gateway=http, ssl=ssl)


def _vhosts(t):
    return [vh.name for ls in t.proxy.listeners for vh in ls.virtual_hosts]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_empty_http_gateway_binds_every_virtual_service(profile):
    """http_translator_test.go "should translate an empty gateway to have all virtual services"."""
    t = translate([_gw(HttpGateway()), *_snapshot_vss()], profile)
    assert _vhosts(t) == ["gloo-system-other-namespace.name3", "gloo-system.name1", "gloo-system.name2"]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_refs_bind_only_the_referenced_vs_from_any_namespace(profile):
    """http_translator_test.go "should translate a gateway to only have its virtual services" (refs) and
    "can include a virtual service from some other namespace": the namespaces are not consulted for refs."""
    t = translate([_gw(HttpGateway(virtual_services=(ResourceRef("name3", OTHER),),
                                   virtual_service_namespaces=(GS,))), *_snapshot_vss()], profile)
    assert _vhosts(t) == ["gloo-system-other-namespace.name3"]
    assert messages(t, "Gateway", GS, "gateway-proxy").errors == []


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_selector_binds_labelled_vss_and_ignores_refs(profile):
    """http_translator_test.go "with VirtualServiceSelector ... only have its virtual services": 2 vhosts."""
    http = HttpGateway(virtual_service_selector=LABELS, virtual_services=(ResourceRef("name2", GS),))
    t = translate([_gw(http), *_snapshot_vss()], profile)
    assert _vhosts(t) == ["gloo-system-other-namespace.name3", "gloo-system.name1"]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_selector_with_namespaces(profile):
    """http_translator_test.go "should prevent a gateway from matching virtual services outside its own
    namespace if so configured": one vhost, d1.com."""
    http = HttpGateway(virtual_service_selector=LABELS, virtual_service_namespaces=(GS,))
    t = translate([_gw(http), *_snapshot_vss()], profile)
    assert _vhosts(t) == ["gloo-system.name1"]


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_namespaces_alone_and_the_star(profile):
    vss = _snapshot_vss()
    t = translate([_gw(HttpGateway(virtual_service_namespaces=(OTHER,))), *vss], profile)
    assert _vhosts(t) == ["gloo-system-other-namespace.name3"]
    t = translate([_gw(HttpGateway(virtual_service_namespaces=("nope", "*"))), *vss], profile)
    assert len(_vhosts(t)) == 3


def test_expressions_all_must_match():
    """http_translator_test.go "should translate a gateway to only have virtual services that match the
    provided expressions": a: In [b] AND extraLabel: In [andValue] selects only the VS with both labels."""
    vss = [*_snapshot_vss(), _vs("name4", GS, "d4.com", {"a": "b", "extraLabel": "andValue"})]
    http = HttpGateway(virtual_service_expressions=(SelectorExpression("a", "In", ("b",)),
                                                    SelectorExpression("extraLabel", "In", ("andValue",))))
    t = translate([_gw(http), *vss], "current")
    assert _vhosts(t) == ["gloo-system.name4"]


def test_set_but_empty_expressions_win_over_the_selector():
    """http_translator_test.go "should not select using both labels and expressions": an empty
    ``virtualServiceExpressions`` message is non-nil, checked first, and selects all three VSs."""
    http = HttpGateway(virtual_service_expressions=(), virtual_service_selector=LABELS)
    t = translate([_gw(http), *_snapshot_vss()], "current")
    assert len(_vhosts(t)) == 3
    assert messages(t, "Gateway", GS, "gateway-proxy").errors == []


def test_expressions_then_namespaces():
    http = HttpGateway(virtual_service_expressions=(SelectorExpression("a", "Exists"),),
                       virtual_service_namespaces=(OTHER,))
    t = translate([_gw(http), *_snapshot_vss()], "current")
    assert _vhosts(t) == ["gloo-system-other-namespace.name3"]


def test_expressions_do_not_exist_in_13():
    """http_gateway.proto@v1.3.20 has no virtual_service_expressions: selection falls to the selector."""
    http = HttpGateway(virtual_service_expressions=(SelectorExpression("a", "DoesNotExist"),),
                       virtual_service_selector=LABELS)
    t = translate([_gw(http), *_snapshot_vss()], "1.3")
    assert _vhosts(t) == ["gloo-system-other-namespace.name3", "gloo-system.name1"]
    notes = [f for f in t.findings if f.field == "spec.httpGateway.virtualServiceExpressions"]
    assert len(notes) == 1 and "does not exist in Gloo 1.3" in notes[0].message


def test_invalid_expression_is_an_error_on_the_gateway_per_vs():
    """virtual_service_translator.go: ``errors.Wrap(VirtualServiceSelectorInvalidExpressionWarning,
    err.Error())`` added to the Gateway for each VS tested; the Gateway is then Rejected."""
    http = HttpGateway(virtual_service_expressions=(SelectorExpression("a", "In", ()),))
    t = translate([_gw(http), *_snapshot_vss()], "current")
    errors = messages(t, "Gateway", GS, "gateway-proxy").errors
    expected = ("values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty: "
                "the virtual service selector expression is invalid")
    assert errors == [expected] * 3
    assert t.envoy.listeners == []


def test_ssl_ness_must_agree():
    """HttpGatewayContainsVirtualService: ``ssl != hasSsl(vs)`` excludes the VS before any selector."""
    plain, tls = _vs("a", GS, "a.com"), _vs("b", GS, "b.com", ssl={"secretRef": {"name": "s", "namespace": GS}})
    http = HttpGateway(virtual_services=(ResourceRef("a", GS), ResourceRef("b", GS)))
    assert http_gateway_contains(http, False, plain) and not http_gateway_contains(http, False, tls)
    assert http_gateway_contains(http, True, tls) and not http_gateway_contains(http, True, plain)


@pytest.mark.parametrize(("profile", "text"), [
    ("1.3", "invalid virtual service ref {missing gloo-system}"),
    ("current", 'invalid virtual service ref name:"missing" namespace:"gloo-system"'),
])
def test_missing_ref_message_per_profile(profile, text):
    """translator.go validateGateways (``%v`` of a ResourceRef value at v1.3.20, of a pointer now)."""
    http = HttpGateway(virtual_services=(ResourceRef("missing", GS),))
    t = translate([_gw(http), *_snapshot_vss()], profile)
    assert messages(t, "Gateway", GS, "gateway-proxy").errors == [text]


def test_codec_keeps_an_empty_expressions_message_apart_from_none():
    base = {"apiVersion": "gateway.solo.io/v1", "kind": "Gateway", "metadata": {"name": "g", "namespace": GS}}
    with_empty = parse_object({**base, "spec": {"httpGateway": {"virtualServiceExpressions": {}}}}).resource
    without = parse_object({**base, "spec": {"httpGateway": {}}}).resource
    assert isinstance(with_empty, Gateway) and isinstance(without, Gateway)
    assert with_empty.http_gateway.virtual_service_expressions == ()
    assert without.http_gateway.virtual_service_expressions is None


def test_direct_response_body_survives():
    # A sanity check of the helper VSs: each vhost carries its own route.
    t = translate([_gw(HttpGateway()), _vs("only", GS, "x.com")], "current")
    (ls,) = t.proxy.listeners
    assert ls.virtual_hosts[0].routes[0].direct_response_action == DirectResponseAction(200, "only")


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_gateways_outside_the_write_namespace_are_not_read(profile):
    """predicate.go SingleNamespacePredicate (translator.go filterGateways at v1.3.20): only Gateways in the
    write namespace are translated unless settings.gateway.readGatewaysFromAllNamespaces."""
    other = Gateway(meta=ObjectMeta("elsewhere", "team-a"), http_gateway=HttpGateway(), bind_port=9090)
    t = translate([other, *_snapshot_vss()], profile)
    assert t.proxy.listeners == () and t.envoy.listeners == []
    assert messages(t, "Gateway", "team-a", "elsewhere").errors == []
    (note,) = [f for f in t.findings if f.resource.name == "elsewhere"]
    assert note.field == "metadata.namespace" and "readGatewaysFromAllNamespaces" in note.message
    everywhere = replace(settings(), read_gateways_from_all_namespaces=True)
    t = translate([other, everywhere, *_snapshot_vss()], profile)
    assert [ls.name for ls in t.proxy.listeners] == ["listener-::-9090"]


def test_gateway_without_type_shares_the_bind_address_check():
    """translator_test.go "should error on two gateways with the same port in the same namespace": the second
    Gateway has no type and still counts (``bind-address :2 is not unique in a proxy. gateways:
    gloo-system.name,gloo-system.name2``); "should error on gateway without gateway type"."""
    typed = Gateway(meta=ObjectMeta("name", GS), http_gateway=HttpGateway(), bind_address="", bind_port=2)
    untyped = Gateway(meta=ObjectMeta("name2", GS), bind_address="", bind_port=2)
    t = translate([typed, untyped, *_snapshot_vss()], "current")
    clash = "bind-address :2 is not unique in a proxy. gateways: gloo-system.name,gloo-system.name2"
    assert messages(t, "Gateway", GS, "name").errors == [clash]
    assert messages(t, "Gateway", GS, "name2").errors == [clash, "invalid gateway: gateway must contain gatewayType"]


def test_13_skips_a_gateway_without_type_silently():
    """v1.3.20: the http and tcp translators skip it; validateGateways has no type check."""
    t = translate([Gateway(meta=ObjectMeta("bare", GS)), *_snapshot_vss()], "1.3")
    assert messages(t, "Gateway", GS, "bare").errors == [] and t.proxy.listeners == ()


def test_missing_ref_comes_before_the_bind_address_error():
    """validateGateways adds each Gateway's ref errors in its loop and the bind-address errors after it."""
    a = Gateway(meta=ObjectMeta("a", GS), http_gateway=HttpGateway(virtual_services=(ResourceRef("nope", GS),)))
    b = Gateway(meta=ObjectMeta("b", GS), http_gateway=HttpGateway())
    t = translate([a, b, *_snapshot_vss()], "current")
    assert messages(t, "Gateway", GS, "a").errors == [
        'invalid virtual service ref name:"nope" namespace:"gloo-system"',
        "bind-address :::8080 is not unique in a proxy. gateways: gloo-system.a,gloo-system.b"]
