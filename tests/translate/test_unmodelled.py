"""The `unmodelled` channel: what gloo_nb declares it does not reproduce, and Gloo's strict decoding of `options`."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from gloo_nb.models.codec import parse_object
from gloo_nb.translate import option_catalogue
from gloo_nb.translate.render import render, render_text
from gloo_nb.translate.translator import translate
from gloo_nb.translate.unmodelled import decode_options, go_duration_error

pytestmark = pytest.mark.unit

GS = "gloo-system"
UPSTREAM = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "echo", "namespace": GS},
            "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 9000}]}}}


def vs(route_options: dict[str, Any] | None = None, vh_options: dict[str, Any] | None = None, *,
       name: str = "vs", extra_route: dict[str, Any] | None = None) -> dict[str, Any]:
    route: dict[str, Any] = {"matchers": [{"prefix": "/"}],
                             "routeAction": {"single": {"upstream": {"name": "echo", "namespace": GS}}}}
    if route_options is not None:
        route["options"] = route_options
    vh: dict[str, Any] = {"domains": ["*"], "routes": [route, *([extra_route] if extra_route else [])]}
    if vh_options is not None:
        vh["options"] = vh_options
    return {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "default"}, "spec": {"virtualHost": vh}}


def run(docs: list[dict[str, Any]], profile: str = "current"):
    return translate([parse_object(d).resource for d in docs], profile)  # type: ignore[arg-type]


def paths(t) -> dict[str, str]:
    return {u.path: u.feature for u in t.unmodelled}


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_route_options_gloo_nb_does_not_map_are_declared_and_not_problems(profile):
    # retries, cors and headerManipulation are modelled (translate/route_options.py): not declared.
    t = run([UPSTREAM, vs({"prefixRewrite": "/x", "timeout": "2s", "retries": {"retryOn": "5xx", "numRetries": 3},
                           "cors": {"allowOrigin": ["*"]}, "extauth": {"disable": True},
                           "transformations": {"clearRouteCache": True}, "waf": {"disabled": True}},
                          {"headerManipulation": {"requestHeadersToRemove": ["x"]},
                           "ratelimit": {"rateLimits": []}})], profile)
    declared = paths(t)
    route = "spec.virtualHost.routes[0].options"
    assert declared == {f"{route}.transformations": "transformations (Gloo's transformation filter)",
                        f"{route}.extauth": "external auth (Gloo Enterprise)", f"{route}.waf": "WAF (Gloo Enterprise)",
                        "spec.virtualHost.options.ratelimit": "rate limiting (Gloo Enterprise)"}
    assert {u.resource.ref for u in t.unmodelled} == {"default/vs"}
    # Modelled ones reach Envoy and are not declared.
    (rc,) = t.envoy.route_configurations
    assert rc.virtual_hosts[0].routes[0].route.prefix_rewrite == "/x"
    assert not t.findings and t.report("VirtualService", "default", "vs").state == "Accepted"


def test_the_modelled_registry_is_the_one_switch():
    """Declaring a key modelled (option_catalogue.MODELLED_ROUTE_OPTIONS) removes it from `unmodelled`."""
    doc = vs({"transformations": {"clearRouteCache": True}})
    where = "spec.virtualHost.routes[0].options.transformations"
    assert where in paths(run([UPSTREAM, doc]))
    option_catalogue.MODELLED_ROUTE_OPTIONS["transformations"] = frozenset({"current"})
    try:
        assert where not in paths(run([UPSTREAM, doc]))
        assert where in paths(run([UPSTREAM, doc], "1.3"))
    finally:
        del option_catalogue.MODELLED_ROUTE_OPTIONS["transformations"]
    assert where in paths(run([UPSTREAM, doc]))


def test_route_table_options_weighted_destination_options_and_destination_specs():
    rt = {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable", "metadata": {"name": "rt", "namespace": "team"},
          "spec": {"routes": [{"matchers": [{"prefix": "/a"}], "options": {"extauth": {"disable": True}},
                               "routeAction": {"multi": {"destinations": [
                                   {"weight": 1, "destination": {"upstream": {"name": "echo", "namespace": GS},
                                                                 "destinationSpec": {"aws": {"logicalName": "f"}}},
                                    "options": {"headerManipulation": {"requestHeadersToRemove": ["a"]},
                                                "transformations": {"clearRouteCache": True}}}]}}}]}}
    t = run([UPSTREAM, rt])
    # headerManipulation on a weighted destination is modelled (headers.ProcessWeightedDestination).
    assert paths(t) == {
        "spec.routes[0].options.extauth": "external auth (Gloo Enterprise)",
        "spec.routes[0].routeAction.multi.destinations[0].destination.destinationSpec.aws":
            "aws destinationSpec (function routing)",
        "spec.routes[0].routeAction.multi.destinations[0].options.transformations":
            "transformations (Gloo's transformation filter)"}
    assert {u.resource.ref for u in t.unmodelled} == {"team/rt"}


def test_graphql_action_is_declared_not_a_finding():
    doc = vs(extra_route={"matchers": [{"prefix": "/g"}], "graphqlApiRef": {"name": "g", "namespace": GS}})
    parsed = parse_object(doc)
    assert not parsed.findings
    t = translate([parsed.resource, parse_object(UPSTREAM).resource], "current")
    assert paths(t)["spec.virtualHost.routes[1].graphqlApiRef"] == "GraphQL (Gloo Enterprise)"


def test_options_config_refs_are_modelled_not_declared():
    """optionsConfigRefs are applied (translate/delegate_options.py): a missing ref is Gloo's warning, not a
    declaration."""
    doc = vs()
    doc["spec"]["virtualHost"]["optionsConfigRefs"] = {"delegateOptions": [{"name": "o", "namespace": "default"}]}
    t = run([UPSTREAM, doc])
    assert "spec.virtualHost.optionsConfigRefs" not in paths(t)
    assert any(f.message == "list did not find virtualHostOption default.o" for f in t.findings)


# --- strict decoding ---------------------------------------------------------------------------------

def _decode_message(t) -> list[tuple[str, str, str, str]]:
    return [(f.resource.ref, f.severity, f.field, f.message) for f in t.findings if "crd spec" in f.message]


@pytest.mark.parametrize(("profile", "type_name"), [("current", "gloo.solo.io.RouteOptions"),
                                                    ("1.3", "v1.RouteOptions")])
def test_unknown_route_option_gets_glooss_strict_decoding_message(profile, type_name):
    """Gloo's own expectations of the wording: projects/gateway/pkg/validation/validator_test.go (current,
    "rejects the vs list"... ``unknown field "matcherss" in gateway.solo.io.Route``, after
    ``parsing resource from crd spec testproxy1-rt in namespace gloo-system into *v1.RouteTable``) and
    v1.3.20 test/kube2e/gateway/gateway_test.go "rejects bad resources" (``could not unmarshal raw object:
    parsing resource from crd spec default in namespace ... into *v1.VirtualService: unknown field
    "virtualHoost" in v1.VirtualService``)."""
    t = run([UPSTREAM, vs({"prefixRewrite": "/x", "prefixRewrit": "/y"})], profile)
    assert _decode_message(t) == [(
        "default/vs", "error", "spec.virtualHost.routes[0].options.prefixRewrit",
        "could not unmarshal raw object: parsing resource from crd spec vs in namespace default into "
        f'*v1.VirtualService: unknown field "prefixRewrit" in {type_name}')]
    assert "spec.virtualHost.routes[0].options.prefixRewrit" not in paths(t)


@pytest.mark.parametrize(("option", "declared"), [
    ({"stagedTransformations": {"early": {}}}, {"spec.virtualHost.routes[0].options.stagedTransformations":
                                                "staged transformations (Gloo's transformation filter)"}),
    # Modelled in current (basicroute applyRegexRewrite): unknown to 1.3 all the same, and not declared in current.
    ({"regexRewrite": {"pattern": {"regex": "^/a"}, "substitution": "/b"}}, {}),
])
def test_a_field_only_current_gloo_has_is_unknown_to_13_and_declared_in_current(option, declared):
    doc = vs(option)
    (key,) = option
    old = run([UPSTREAM, doc], "1.3")
    assert [m for *_, m in _decode_message(old)] == [
        "could not unmarshal raw object: parsing resource from crd spec vs in namespace default into "
        f'*v1.VirtualService: unknown field "{key}" in v1.RouteOptions']
    assert paths(old) == {}
    new = run([UPSTREAM, doc], "current")
    assert _decode_message(new) == []
    assert paths(new) == declared


def test_bad_duration_inside_virtual_host_retries():
    """Gloo's docs (validation of VirtualHostOption retries, "bad-retries"): maxInterval "5" gives
    ``bad Duration: time: missing unit in duration "5"``; the same RetryPolicy in virtualHost.options."""
    t = run([UPSTREAM, vs(vh_options={"retries": {"retryOn": "5xx", "retryBackOff": {"baseInterval": "1s",
                                                                                         "maxInterval": "5"}}})])
    assert _decode_message(t) == [(
        "default/vs", "error", "spec.virtualHost.options.retries.retryBackOff.maxInterval",
        "could not unmarshal raw object: parsing resource from crd spec vs in namespace default into "
        '*v1.VirtualService: bad Duration: time: missing unit in duration "5"')]


@pytest.mark.parametrize(("options", "field", "error"), [
    ({"timeout": 5}, "timeout", "json: cannot unmarshal number into Go value of type string"),
    ({"autoHostRewrite": "true"}, "autoHostRewrite", "json: cannot unmarshal string into Go value of type bool"),
    ({"retries": "5xx"}, "retries", "json: cannot unmarshal string into Go value of type map[string]json.RawMessage"),
    ({"upgrades": {"websocket": {}}}, "upgrades", "json: cannot unmarshal object into Go value of type "
                                                  "[]json.RawMessage"),
    ({"retries": {"numRetries": -1}}, "retries.numRetries", "json: cannot unmarshal number -1 into Go value of "
                                                            "type uint32"),
    ({"faults": {"abort": {"httpStatus": "abc"}}}, "faults.abort.httpStatus",
     "invalid character 'a' looking for beginning of value"),
    ({"headerManipulation": {"responseHeadersToAdd": [{"header": {"key": "a", "valu": "b"}}]}},
     "headerManipulation.responseHeadersToAdd[0].header.valu",
     'unknown field "valu" in headers.options.gloo.solo.io.HeaderValue'),
    ({"cors": {"allowOrigin": ["*"], "alowHeaders": ["x"]}}, "cors.alowHeaders",
     'unknown field "alowHeaders" in cors.options.gloo.solo.io.CorsPolicy'),
])
def test_wrong_types_and_nested_unknown_fields(options, field, error):
    problem = decode_options(options, option_catalogue.ROUTE_OPTIONS, "current", "options")
    assert problem == (f"options.{field}", error)


def test_jsonpb_reads_proto_names_and_numbers_in_strings():
    """jsonpb accepts a field's proto name (prefix_rewrite) and quoted numbers (trimQuote)."""
    assert decode_options({"prefix_rewrite": "/a", "retries": {"numRetries": "3", "retryOn": "5xx"}},
                          option_catalogue.ROUTE_OPTIONS, "current", "options") is None


def test_one_error_per_resource_as_jsonpb_stops_at_the_first():
    t = run([UPSTREAM, vs({"timeout": 5, "nope": 1}, {"nope": 2})])
    assert [f for *_, f in _decode_message(t)] == [
        "could not unmarshal raw object: parsing resource from crd spec vs in namespace default into "
        "*v1.VirtualService: json: cannot unmarshal number into Go value of type string"]


@pytest.mark.parametrize(("text", "error"), [
    ("1.5s", None), ("100ms", None), ("1h30m", None), ("0", None),
    ("5", 'time: missing unit in duration "5"'), ("5x", 'time: unknown unit "x" in duration "5x"'),
    ("abc", 'time: invalid duration "abc"'), ("", 'time: invalid duration ""')])
def test_go_duration_errors(text, error):
    assert go_duration_error(text) == error


# --- outputs -----------------------------------------------------------------------------------------

def test_translate_document_and_text_carry_unmodelled():
    t = run([UPSTREAM, vs({"waf": {"disabled": True}})])
    doc = render(t)
    assert doc["unmodelled"] == [{"kind": "VirtualService", "namespace": "default", "name": "vs",
                                  "path": "spec.virtualHost.routes[0].options.waf", "feature": "WAF (Gloo Enterprise)"}]
    text = render_text(doc)
    assert ("  not modelled: VirtualService default/vs: spec.virtualHost.routes[0].options.waf (WAF (Gloo Enterprise))"
            in text.splitlines())


def _cli(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gloo_nb", *args], input=stdin, capture_output=True, text=True,
                          timeout=120, check=False)


def test_check_prints_not_modelled_lines_and_exits_0_for_them():
    docs = json.dumps({"apiVersion": "v1", "kind": "List", "items": [UPSTREAM, vs({"waf": {"disabled": True}})]})
    done = _cli("check", "-", stdin=docs)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == [
        "not modelled: VirtualService default/vs: spec.virtualHost.routes[0].options.waf (WAF (Gloo Enterprise))",
        "No problems detected."]
    js = json.loads(_cli("translate", "--json", "-", stdin=docs).stdout)
    assert [u["path"] for u in js["unmodelled"]] == ["spec.virtualHost.routes[0].options.waf"]


def test_check_still_exits_1_for_problems_next_to_not_modelled_lines():
    docs = json.dumps({"apiVersion": "v1", "kind": "List",
                       "items": [UPSTREAM, vs({"waf": {"disabled": True}, "timeout": 5})]})
    done = _cli("check", "-", stdin=docs)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[-1].endswith("problem(s) detected.")
    assert any(line.startswith("VirtualService default/vs: error: could not unmarshal raw object") for line in lines)
    assert ("not modelled: VirtualService default/vs: spec.virtualHost.routes[0].options.waf (WAF (Gloo Enterprise))"
            in lines)


def test_upstream_config_annotation_fields_gloo_nb_does_not_merge_are_declared_on_the_service():
    """general_annotation_converter.go (current) merges the annotation's fields into the kube-svc upstream."""
    annotation = json.dumps({"proxyProtocolVersion": "V1", "static": {"hosts": []}})
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "s", "namespace": "default",
                        "annotations": {"gloo.solo.io/upstream_config": annotation}},
           "spec": {"ports": [{"port": 80}]}}
    t = run([svc])
    assert {(u.resource.ref, u.path) for u in t.unmodelled} == {
        ("default/s", "metadata.annotations[gloo.solo.io/upstream_config].proxyProtocolVersion"),
        ("default/s", "metadata.annotations[gloo.solo.io/upstream_config].static")}
    assert not t.findings


# --- one message per problem, and parts of modelled options ---------------------------------------------

_WRONG: dict[str, Any] = {"string": 5, "bool": "yes", "uint32": "abc", "float": "abc", "duration": "soon",
                          "map": "x", "message": "x"}
_BLOCKS = {"route": (option_catalogue.ROUTE_OPTIONS, "spec.virtualHost.routes[0].options"),
           "virtualHost": (option_catalogue.VIRTUAL_HOST_OPTIONS, "spec.virtualHost.options")}


def _field_paths(message: option_catalogue.OptionMessage, profile: str) -> list[tuple[list[str], Any]]:
    out: list[tuple[list[str], Any]] = []
    for name, f in (message.fields or {}).items():
        if profile == "1.3" and f.since != "1.3" or f.shape == "any":
            continue
        out.append(([name], [_WRONG[f.shape]] if f.repeated else _WRONG[f.shape]))
        if f.message is not None and not f.repeated:
            out += [([name, *sub], v) for sub, v in _field_paths(f.message, profile)]
    return out


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_a_value_gloo_cannot_read_gives_one_message(profile):
    """Every catalogued field path with a value of the wrong JSON type: strict decoding's one finding, naming the
    path; route_options leaves the value out without a second message (the translation goes on with the resource
    as written, as translate/unmodelled.py says, so Gloo's errors for what the minimal block lacks may follow)."""
    for where, (message, prefix) in _BLOCKS.items():
        for path, value in _field_paths(message, profile):
            block: Any = value
            for key in reversed(path):
                block = {key: block}
            doc = vs(block) if where == "route" else vs(vh_options=block)
            t = run([UPSTREAM, doc], profile)
            # Gloo's own plugin errors for what the minimal block lacks (layer "gloo") are other problems.
            at = f"{prefix}.{'.'.join(path)}" + ("[0]" if isinstance(value, list) else "")
            assert [f.field for f in t.findings if f.layer == "parse"] == [at], (where, path, t.findings)


@pytest.mark.parametrize("where", ["route", "virtualHost"])
def test_a_field_13_lacks_gives_one_message(where):
    """Each top-level field only current Gloo has, set in 1.3: the strict-decoding unknown-field error alone."""
    message, prefix = _BLOCKS[where]
    for name, f in (message.fields or {}).items():
        if f.since == "1.3":
            continue
        sample: Any = {"string": "x", "bool": True, "uint32": 1, "float": 1.0, "duration": "1s", "map": {},
                       "message": {}, "any": {}}[f.shape]
        block = {name: [sample] if f.repeated else sample}
        t = run([UPSTREAM, vs(block) if where == "route" else vs(vh_options=block)], "1.3")
        assert [(f.field, f.message.rsplit(": ", 1)[-1]) for f in t.findings] == [
            (f"{prefix}.{name}", f'unknown field "{name}" in {message.go}')], name


def test_header_secret_ref_is_a_declared_part_of_modelled_header_manipulation():
    """headerManipulation is modelled; its headerSecretRef values are not (option_catalogue.UNMODELLED_NESTED):
    declared on the route, the virtual host and the weighted destination, and a route's drift feature."""
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "gloo.solo.io/header",
              "metadata": {"name": "hs", "namespace": GS}, "data": {"x-token": "dA=="}}
    hm = {"requestHeadersToAdd": [{"header": {"key": "x-a", "value": "1"}},
                                  {"headerSecretRef": {"name": "hs", "namespace": GS}}]}
    doc = vs({"headerManipulation": hm}, {"headerManipulation": hm})
    doc["spec"]["virtualHost"]["routes"][0]["routeAction"] = {"multi": {"destinations": [
        {"weight": 1, "destination": {"upstream": {"name": "echo", "namespace": GS}},
         "options": {"headerManipulation": hm}}]}}
    t = run([UPSTREAM, secret, doc])
    gap = "headerManipulation.requestHeadersToAdd[1].headerSecretRef"
    assert paths(t) == {
        f"spec.virtualHost.options.{gap}": "request headers from a Secret (headerSecretRef)",
        f"spec.virtualHost.routes[0].options.{gap}": "request headers from a Secret (headerSecretRef)",
        f"spec.virtualHost.routes[0].routeAction.multi.destinations[0].options.{gap}":
            "request headers from a Secret (headerSecretRef)"}
    assert not t.findings
    assert list(t.route_unmodelled().values()) == ["request headers from a Secret (headerSecretRef)"]


def test_header_secret_ref_is_unknown_to_13():
    """v1.3.20's headers.HeaderValueOption has header and append only: Gloo 1.3 cannot read the resource (one
    message), where gloo_nb used to report Gloo's "header section of header value option cannot be nil"."""
    hm = {"requestHeadersToAdd": [{"headerSecretRef": {"name": "hs", "namespace": GS}}]}
    t = run([UPSTREAM, vs({"headerManipulation": hm})], "1.3")
    assert [(f.field, f.message.rsplit(": ", 1)[-1]) for f in t.findings] == [(
        "spec.virtualHost.routes[0].options.headerManipulation.requestHeadersToAdd[0].headerSecretRef",
        'unknown field "headerSecretRef" in headers.HeaderValueOption')]
    assert t.report("VirtualService", "default", "vs").state == "Accepted" and paths(t) == {}


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_a_modelled_field_written_with_its_proto_name_is_declared_not_dropped(profile):
    """jsonpb reads proto (snake_case) names too (strict decoding accepts them); route_options reads the JSON
    names only, so such a field is declared, top level and nested, instead of vanishing from the prediction."""
    t = run([UPSTREAM, vs({"prefix_rewrite": "/x", "retries": {"retry_on": "5xx", "numRetries": 2}})], profile)
    assert not t.findings
    (rc,) = t.envoy.route_configurations
    assert rc.virtual_hosts[0].routes[0].route.prefix_rewrite == ""  # left out, as declared
    assert {u.path: u.detail for u in t.unmodelled} == {
        "spec.virtualHost.routes[0].options.prefix_rewrite":
            "written with its proto name prefix_rewrite: gloo_nb reads only the JSON name prefixRewrite and leaves "
            "this out",
        "spec.virtualHost.routes[0].options.retries.retry_on":
            "written with its proto name retry_on: gloo_nb reads only the JSON name retryOn and leaves this out"}
