"""Decoding Envoy protos into rows: equal to MessageToDict and to render's summaries, and fast."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from google.protobuf.json_format import MessageToDict

from gloo_nb.app.manifests import read_manifests
from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_object
from gloo_nb.models.defaults import helm_default_settings_manifest
from gloo_nb.translate import Translator
from gloo_nb.translate.envoy import FALLBACK_CLUSTER
from gloo_nb.translate.render import envoy_json
from gloo_nb.translate.routes import rows_from_envoy_json
from gloo_nb.xds.decode import (
    cluster_rows,
    columns,
    eds_names,
    endpoint_rows,
    fallback_label,
    listener_rows,
    rds_names,
    route_rows,
)

pytestmark = pytest.mark.unit

SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary"
PATCH = {"replaceInvalidRoutes": True, "invalidRouteResponseCode": 404,
         "invalidRouteResponseBody": "Gloo Gateway has invalid configuration."}


def _translate(files: list[str], settings_patch: dict | None = None):
    objects = {}
    for res in read_manifests([str(SEED / f) for f in files]).resources:
        objects[(res.kind, res.meta.namespace, res.meta.name)] = res
    if settings_patch is not None:
        manifest = helm_default_settings_manifest(profile="1.3")
        manifest["spec"]["gloo"]["invalidConfigPolicy"].update(settings_patch)
        objects[("Settings", "gloo-system", "default")] = parse_object(manifest).resource
    return Translator("1.3").translate(Snapshot.from_resources(objects.values()))


INCIDENT = ["part2/echo.yaml", "part2/foxtrot.yaml", "part2/upstream-echo.yaml", "part2/upstream-foxtrot.yaml",
            "part2/foxtrot-v2.yaml", "part2/echo-v2.yaml", "part2/rt-echo-3.yaml", "part2/rt-foxtrot-4.yaml",
            "part2/vs.yaml"]


def _as_proto_json(route: route_components_pb2.Route) -> tuple[dict, dict]:
    full = MessageToDict(route)
    action = {k: v for k, v in full.items() if k in ("directResponse", "redirect")}
    if "route" in full:
        action = {k: v for k, v in full["route"].items()
                  if k in ("cluster", "metadataMatch", "weightedClusters", "clusterHeader", "prefixRewrite")}
    return full.get("match", {}), action


def test_seed_rows_match_message_to_dict_and_render() -> None:
    t = _translate(INCIDENT, PATCH)
    rcs = t.envoy.route_configurations
    label = fallback_label(t.envoy.listeners)
    assert label == "fallback 404"
    rows = route_rows(rcs, "intent", fallback_body=label)
    routes = [r for rc in rcs for vh in rc.virtual_hosts for r in vh.routes]
    assert len(rows) == len(routes) == 4
    for row, route in zip(rows, routes, strict=True):
        match, action = _as_proto_json(route)
        assert row.match == match
        assert row.action == action
    # The same summaries as `gloo-nb translate`'s tables.
    rendered = rows_from_envoy_json(envoy_json(t.envoy))
    assert [(r.virtual_host, r.order, r.match_summary, r.action_summary, r.replaced, r.id) for r in rows] == [
        (r.virtual_host, r.order, r.match_summary, r.action_summary, r.replaced, r.id) for r in rendered]
    replaced = [r for r in rows if r.replaced]
    assert [(r.match_summary, r.action_summary) for r in replaced] == [("prefix /echo, stage=canary", "fallback 404")]
    assert replaced[0].action["cluster"] == FALLBACK_CLUSTER
    assert {r.source for r in rows} == {"intent"}
    assert rows[0].virtual_host == "gloo-system_app" and rows[0].domains == ("*",)


def _rich_route_config() -> route_pb2.RouteConfiguration:
    rc = route_pb2.RouteConfiguration(name="rc")
    vh = rc.virtual_hosts.add(name="ns_vs", domains=["a.example.com", "*.b"])
    r = vh.routes.add(name="r0")
    r.match.safe_regex.regex = "/re/[0-9]+"
    r.match.case_sensitive.value = False
    h = r.match.headers.add(name="x-env", exact_match="prod", invert_match=True)
    r.match.headers.add(name=":method").safe_regex_match.regex = "GET|POST"
    r.match.headers.add(name="x-present", present_match=True)
    h = r.match.headers.add(name="x-sm")
    h.string_match.prefix = "ab"
    q = r.match.query_parameters.add(name="debug")
    q.present_match = True
    q = r.match.query_parameters.add(name="v")
    q.string_match.exact = "2"
    wc = r.route.weighted_clusters
    c = wc.clusters.add(name="a_ns")
    c.weight.value = 90
    c.metadata_match.filter_metadata["envoy.lb"].update({"version": "v1", "n": 1.0, "ok": True})
    wc.clusters.add(name="b_ns").weight.value = 10
    wc.total_weight.value = 100
    r.route.prefix_rewrite = "/"
    r = vh.routes.add()
    r.match.path = "/exact"
    r.direct_response.status = 418
    r.direct_response.body.inline_string = "teapot"
    r = vh.routes.add()
    r.match.prefix = ""
    r.redirect.host_redirect = "example.com"
    r.redirect.https_redirect = True
    r.redirect.response_code = route_components_pb2.RedirectAction.FOUND
    r.redirect.strip_query = True
    r = vh.routes.add()
    r.match.prefix = "/h"
    r.route.cluster_header = "x-cluster"
    r = vh.routes.add()
    r.match.prefix = "/w"
    r.route.weighted_clusters.clusters.add(name=FALLBACK_CLUSTER).weight.value = 1
    return rc


def test_rich_routes_equal_message_to_dict() -> None:
    rc = route_pb2.RouteConfiguration.FromString(_rich_route_config().SerializeToString())
    rows = route_rows([rc], "served")
    routes = list(rc.virtual_hosts[0].routes)
    for row, route in zip(rows, routes, strict=True):
        match, action = _as_proto_json(route)
        assert row.match == match, row.order
        assert row.action == action, row.order
    assert [r.name for r in rows] == ["r0", "", "", "", ""]
    assert [r.order for r in rows] == [0, 1, 2, 3, 4]
    assert rows[0].domains == ("a.example.com", "*.b")
    assert rows[0].match_summary == ("regex /re/[0-9]+ (case-insensitive), !x-env=prod, :method~GET|POST, "
                                     "x-present present, x-sm=ab*, ?debug present, ?v=2")
    assert rows[0].action_summary == "a_ns {n=1.0,ok=True,version=v1} 90, b_ns 10"
    assert rows[1].action == {"directResponse": {"status": 418, "body": {"inlineString": "teapot"}}}
    assert rows[1].action_summary == "direct 418"
    assert rows[2].action["redirect"]["responseCode"] == "FOUND"
    assert rows[2].action_summary == "redirect example.com"
    assert rows[3].action_summary == "cluster from header x-cluster"
    assert [r.replaced for r in rows] == [False, False, False, False, True]
    assert rows[4].action_summary == "fallback 1"  # the label, then the weight


def test_rows_share_equal_actions_and_frame_from_columns() -> None:
    rc = route_pb2.RouteConfiguration(name="rc")
    vh = rc.virtual_hosts.add(name="vh", domains=["*"])
    for i in range(10):
        r = vh.routes.add()
        r.match.prefix = f"/p{i}"
        r.route.cluster = "same"
    rows = route_rows([rc], "served")
    assert all(r.action is rows[0].action for r in rows)
    df = pd.DataFrame(columns(rows))
    assert list(df.columns)[:6] == ["source", "route_configuration", "virtual_host", "domains", "order", "name"]
    assert df["match_summary"].tolist() == [f"prefix /p{i}" for i in range(10)]
    assert columns([]) == {}


def test_listener_cluster_endpoint_rows_and_names() -> None:
    t = _translate(INCIDENT, PATCH)
    listeners = listener_rows(t.envoy.listeners, "intent")
    by_name = {r.name: r for r in listeners}
    assert by_name["listener-::-8080"].route_configurations == ("listener-::-8080-routes",)
    assert by_name["listener-::-8080"].address == "[::]:8080"
    assert by_name["fallback_listener_for_invalid_routes"].inline_routes
    assert by_name["fallback_listener_for_invalid_routes"].address == "@fallback_listener_for_invalid_routes"
    assert rds_names(t.envoy.listeners) == ["listener-::-8080-routes"]
    clusters = {r.name: r for r in cluster_rows(t.envoy.clusters, "intent")}
    assert clusters["echo_gloo-system"].type == "EDS"
    assert clusters["echo_gloo-system"].subset_keys == (("version",),)
    assert clusters[FALLBACK_CLUSTER].type == "STATIC" and clusters[FALLBACK_CLUSTER].inline_endpoints == 1
    assert clusters["echo_gloo-system"].connect_timeout == 5.0
    names = eds_names(t.envoy.clusters)
    assert names and all(n.startswith(("echo_gloo-system", "foxtrot_gloo-system", "kube-svc")) for n in names)
    assert FALLBACK_CLUSTER not in names
    c = cluster_pb2.Cluster(name="plain", type=cluster_pb2.Cluster.EDS)
    assert eds_names([c]) == ["plain"]

    cla = endpoint_pb2.ClusterLoadAssignment(cluster_name="svc")
    le = cla.endpoints.add().lb_endpoints.add()
    le.endpoint.address.socket_address.address = "10.0.0.1"
    le.endpoint.address.socket_address.port_value = 8080
    le.metadata.filter_metadata["envoy.lb"].update({"version": "v1"})
    le.load_balancing_weight.value = 3
    (row,) = endpoint_rows([cla], "served")
    assert (row.cluster, row.address, row.health, row.weight, row.metadata) == (
        "svc", "10.0.0.1:8080", "UNKNOWN", 3, {"version": "v1"})


def _big(n_vhosts: int, per_vhost: int) -> bytes:
    rc = route_pb2.RouteConfiguration(name="listener-::-8080-routes")
    for v in range(n_vhosts):
        vh = rc.virtual_hosts.add(name=f"team{v}_vs", domains=[f"t{v}.example.com"])
        for i in range(per_vhost):
            r = vh.routes.add()
            r.match.prefix = f"/g{i % 10}/r{i}"
            r.match.headers.add(name="stage", exact_match="canary")
            wc = r.route.weighted_clusters.clusters.add(name=f"svc-{i % 6}_gloo-system")
            wc.weight.value = 100
            wc.metadata_match.filter_metadata["envoy.lb"].update({"version": "v1"})
    return rc.SerializeToString()


def test_decode_of_many_routes() -> None:
    # 20,000 routes; how fast (100,000 routes, target 1.5 s including the frame) is bench/inspect_gateway.py's.
    data = _big(20, 1000)
    rows = route_rows([route_pb2.RouteConfiguration.FromString(data)], "served")
    df = pd.DataFrame(columns(rows))
    assert len(df) == 20_000 and df["virtual_host"].nunique() == 20


@pytest.mark.parametrize("body", [None, "fallback 503"])
def test_fallback_label_in_summary(body: str | None) -> None:
    rc = route_pb2.RouteConfiguration(name="rc")
    r = rc.virtual_hosts.add(name="vh", domains=["*"]).routes.add()
    r.match.prefix = "/"
    r.route.cluster = FALLBACK_CLUSTER
    (row,) = route_rows([rc], "served", fallback_body=body)
    assert row.replaced and row.action_summary == (body or "fallback")
