"""A route's fingerprint (the whole Envoy route except its match): canonical across the ways a route is read."""

from __future__ import annotations

from typing import Any

import pytest
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.fault.v3 import fault_pb2
from google.protobuf import any_pb2, json_format

from gloo_nb.translate import routes as routes_mod
from gloo_nb.translate.routes import route_fingerprint, route_rows, row_from_json, row_json
from gloo_nb.xds import protos  # noqa: F401 - every type an Envoy config dump may hold, as the inspector has them
from gloo_nb.xds.config_dump import UNRESOLVED_KEY, parse_config_dump

pytestmark = pytest.mark.unit

GLOO_TYPE = "type.googleapis.com/io.solo.transformation.RouteTransformations"


def _any(msg: Any) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(msg)
    return out


def _route(prefix: str = "/retry", *, retries: int = 2, name: str = "") -> route_components_pb2.Route:
    r = route_components_pb2.Route(name=name)
    r.match.prefix = prefix
    r.route.cluster = "echo_gloo-system"
    r.route.retry_policy.retry_on = "5xx"
    r.route.retry_policy.num_retries.value = retries
    r.route.timeout.seconds = 7
    r.request_headers_to_add.add().header.key = "x-added"
    r.request_headers_to_remove.append("x-secret")
    r.typed_per_filter_config["envoy.filters.http.cors"].CopyFrom(
        _any(cors_pb2.CorsPolicy(allow_methods="GET,POST", max_age="600")))
    fault = fault_pb2.HTTPFault()
    fault.abort.http_status = 418
    fault.abort.percentage.numerator = 100
    r.typed_per_filter_config["envoy.filters.http.fault"].CopyFrom(_any(fault))
    r.metadata.filter_metadata["io.solo"].update({"b": 1, "a": "x"})
    return r


def _via_config_dump_json(r: route_components_pb2.Route) -> route_components_pb2.Route:
    # What /config_dump gives back: the route as proto JSON, parsed again (every Any packed again by json_format).
    return json_format.ParseDict(json_format.MessageToDict(r), route_components_pb2.Route())


def test_a_route_read_back_from_json_has_the_fingerprint_it_had_on_the_wire() -> None:
    wire = _route()
    back = _via_config_dump_json(wire)
    assert route_fingerprint(back) == route_fingerprint(wire)
    fp = route_fingerprint(wire)
    assert len(fp.fingerprint) == 16 and fp.opaque == ()
    assert set(fp.settings) == {"route.cluster", "route.retryPolicy", "route.timeout", "requestHeadersToAdd",
                                "requestHeadersToRemove", "typedPerFilterConfig", "metadata"}


def test_the_same_any_serialized_in_another_field_order_fingerprints_alike() -> None:
    """The wire form is not canonical (a Go control plane writes an ``Any``'s bytes its own way): the decoded
    message is what counts, not the bytes."""
    wire = _route()
    cors = cors_pb2.CorsPolicy(allow_methods="GET,POST", max_age="600")
    # The same CorsPolicy with its fields in the reverse order on the wire: valid protobuf, other bytes.
    parts = [cors_pb2.CorsPolicy(allow_methods="GET,POST").SerializeToString(),
             cors_pb2.CorsPolicy(max_age="600").SerializeToString()]
    reversed_bytes = b"".join(reversed(parts))
    assert reversed_bytes != cors.SerializeToString() and cors_pb2.CorsPolicy.FromString(reversed_bytes) == cors
    other = route_components_pb2.Route()
    other.CopyFrom(wire)
    other.typed_per_filter_config["envoy.filters.http.cors"].value = reversed_bytes
    assert other.SerializeToString(deterministic=True) != wire.SerializeToString(deterministic=True)
    assert route_fingerprint(other).fingerprint == route_fingerprint(wire).fingerprint


def test_an_option_change_changes_the_fingerprint_and_names_its_field() -> None:
    a, b = route_fingerprint(_route(retries=2)), route_fingerprint(_route(retries=3))
    assert a.fingerprint != b.fingerprint
    assert [k for k in a.settings if a.settings[k] != b.settings[k]] == ["route.retryPolicy"]
    # The match is the identity, not part of the fingerprint.
    assert route_fingerprint(_route("/a")).fingerprint == route_fingerprint(_route("/b")).fingerprint


def test_the_name_is_part_of_the_route() -> None:
    plain, named = route_fingerprint(_route()), route_fingerprint(_route(name="vh-route-0-matcher-0"))
    assert plain.fingerprint != named.fingerprint and plain.settings == named.settings


def test_route_rows_fingerprint_each_route_as_route_fingerprint_does() -> None:
    rc = route_pb2.RouteConfiguration(name="listener-::-8080-routes")
    vh = rc.virtual_hosts.add(name="gloo-system_opts", domains=["*"])
    for prefix, retries, name in (("/a", 2, ""), ("/b", 2, ""), ("/c", 3, ""), ("/d", 2, "n")):
        vh.routes.add().CopyFrom(_route(prefix, retries=retries, name=name))
    rows = route_rows([rc], "served")
    for row, r in zip(rows, vh.routes, strict=True):
        fp = route_fingerprint(r)
        assert (row.fingerprint, dict(row.settings), row.opaque) == (fp.fingerprint, dict(fp.settings), fp.opaque)
    # Equal but for the match: decoded once, one shared action.
    assert rows[0].action is rows[1].action and rows[0].fingerprint == rows[1].fingerprint
    assert len({r.fingerprint for r in rows}) == 3


def _config_dump(rc_json: dict[str, Any]) -> dict[str, Any]:
    return {"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
                         "dynamicRouteConfigs": [{"versionInfo": "7", "routeConfig": {
                             "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", **rc_json}}]}]}


def test_a_gloo_filter_config_is_opaque_alike_on_the_wire_and_in_the_config_dump() -> None:
    """Gloo's own filter types are not in the descriptor pool: on the wire they are bytes, in /config_dump JSON
    that the parser keeps as a Struct stand-in; both count by their type only, and the row says so."""
    assert routes_mod._UNRESOLVED_KEY == UNRESOLVED_KEY
    rc = route_pb2.RouteConfiguration(name="listener-::-8080-routes")
    vh = rc.virtual_hosts.add(name="gloo-system_opts", domains=["*"])
    r = vh.routes.add()
    r.CopyFrom(_route())
    r.typed_per_filter_config["io.solo.transformation"].CopyFrom(any_pb2.Any(type_url=GLOO_TYPE, value=b"\n\x02ab"))
    wire_rows = route_rows([rc], "served")
    # Envoy (Gloo's build) prints the Gloo type as JSON; gloo_nb cannot decode it.
    rc_json = json_format.MessageToDict(route_pb2.RouteConfiguration(
        name=rc.name, virtual_hosts=[route_components_pb2.VirtualHost(name=vh.name, domains=["*"],
                                                                      routes=[_route()])]))
    rc_json["virtualHosts"][0]["routes"][0]["typedPerFilterConfig"]["io.solo.transformation"] = {
        "@type": GLOO_TYPE, "transformations": [{"matcher": {"prefix": "/"}}]}
    applied = parse_config_dump(_config_dump(rc_json)).applied()
    dump_rows = route_rows(applied.route_configurations, "gateway-proxy-0.gloo-system")
    assert wire_rows[0].opaque == dump_rows[0].opaque == (GLOO_TYPE,)
    assert wire_rows[0].fingerprint == dump_rows[0].fingerprint


def test_a_route_read_from_a_config_dump_document_matches_the_wire() -> None:
    rc = route_pb2.RouteConfiguration(name="listener-::-8080-routes")
    vh = rc.virtual_hosts.add(name="gloo-system_opts", domains=["*"])
    vh.routes.add().CopyFrom(_route())
    applied = parse_config_dump(_config_dump(json_format.MessageToDict(rc))).applied()
    wire = route_rows([route_pb2.RouteConfiguration.FromString(rc.SerializeToString())], "served")
    dump = route_rows(applied.route_configurations, "gateway-proxy-0.gloo-system")
    assert (wire[0].fingerprint, dict(wire[0].settings)) == (dump[0].fingerprint, dict(dump[0].settings))


def test_the_journal_keeps_the_fingerprint_and_old_rows_have_none() -> None:
    rc = route_pb2.RouteConfiguration(name="listener-::-8080-routes")
    vh = rc.virtual_hosts.add(name="gloo-system_opts", domains=["*"])
    vh.routes.add().CopyFrom(_route())
    r = vh.routes.add()
    r.CopyFrom(_route("/gloo"))
    r.typed_per_filter_config["io.solo.transformation"].CopyFrom(any_pb2.Any(type_url=GLOO_TYPE, value=b""))
    for row in route_rows([rc], "served"):
        stored = row_json(row)
        assert stored["fingerprint"] == row.fingerprint and stored["settings"] == dict(row.settings)
        back = row_from_json("served", stored)
        assert (back.fingerprint, dict(back.settings), back.opaque) == (row.fingerprint, dict(row.settings),
                                                                        row.opaque)
    old = row_json(route_rows([rc], "served")[0])
    for key in ("fingerprint", "settings", "opaque"):
        old.pop(key, None)
    back = row_from_json("served", old)
    assert (back.fingerprint, dict(back.settings), back.opaque) == ("", {}, ())


def _slow_key(r: route_components_pb2.Route) -> bytes:
    bare = route_components_pb2.Route()
    bare.CopyFrom(r)
    bare.ClearField("match")
    bare.ClearField("name")
    return bare.SerializeToString(deterministic=True)


@pytest.mark.parametrize("shape", ["plain", "named", "named-with-later-fields", "no-match", "long-name", "unicode"])
def test_the_cache_key_is_the_route_without_match_and_name(shape: str) -> None:
    """route_rows' fast cut gives exactly the bytes of the route with match and name cleared."""
    r = _route(name={"plain": "", "no-match": "", "long-name": "n" * 300, "unicode": "route-é"}.get(shape, "r-0"))
    if shape == "named-with-later-fields":
        r.tracing.client_sampling.numerator = 5  # field 15, after the name
        r.stat_prefix = "x"
    if shape == "no-match":
        r.ClearField("match")
    bare = route_components_pb2.Route()
    assert routes_mod._bytes_without_match_and_name(r, r.name.encode(), bare) == _slow_key(r)


def test_fields_unknown_to_gloo_nb_count_as_config_dump_json_counts_them() -> None:
    """A field newer than xds-protos arrives on the wire as unknown bytes, while /config_dump's JSON parsed by
    gloo_nb drops it: both fingerprint alike (in the route, in its action and inside an Any)."""
    plain = _route()
    wire = route_components_pb2.Route()
    unknown = b"\xf8\x3e\x01"  # field 999, varint 1
    wire.ParseFromString(plain.SerializeToString() + unknown)
    action = route_components_pb2.RouteAction()
    action.ParseFromString(plain.route.SerializeToString() + unknown)
    wire.route.CopyFrom(action)
    entry = wire.typed_per_filter_config["envoy.filters.http.cors"]
    entry.value = entry.value + unknown
    assert wire.SerializeToString(deterministic=True) != plain.SerializeToString(deterministic=True)
    assert route_fingerprint(wire) == route_fingerprint(plain)
    rc = route_pb2.RouteConfiguration(name="r")
    rc.virtual_hosts.add(name="v").routes.add().CopyFrom(wire)
    assert route_rows([rc], "served")[0].fingerprint == route_fingerprint(plain).fingerprint


def test_bytes_it_cannot_split_still_fingerprint_the_route(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never expected (upb writes every route's bytes): route_rows then fingerprints the route's remainder whole,
    so a difference is still seen, only not named."""
    def broken(*_: Any, **__: Any) -> Any:
        raise routes_mod.DecodeError("no")

    monkeypatch.setattr(routes_mod, "_records", broken)
    rc = route_pb2.RouteConfiguration(name="r")
    vh = rc.virtual_hosts.add(name="v")
    vh.routes.add().CopyFrom(_route(retries=2))
    vh.routes.add().CopyFrom(_route("/other", retries=3))
    rows = route_rows([rc], "served")
    assert [r.action_summary for r in rows] == ["echo_gloo-system", "echo_gloo-system"]
    assert rows[0].fingerprint and rows[0].fingerprint != rows[1].fingerprint
    assert list(rows[0].settings) == ["(route)"]
