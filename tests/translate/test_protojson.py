"""The fast Envoy proto JSON (protojson.py) is json_format.MessageToDict's output, key for key."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from google.protobuf import any_pb2, struct_pb2, wrappers_pb2
from google.protobuf.json_format import MessageToDict

from gloo_nb.app.manifests import read_manifests
from gloo_nb.models.codec import parse_objects
from gloo_nb.translate import translate
from gloo_nb.translate.protojson import message_to_dict

pytestmark = pytest.mark.unit

SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary"


def _same(message) -> None:
    expected = MessageToDict(message, preserving_proto_field_name=False)
    got = message_to_dict(message)
    assert got == expected
    # the same order of keys too: the printed document is the same text
    assert json.dumps(got) == json.dumps(expected)


def _all_envoy(translation):
    e = translation.envoy
    return [*e.listeners, *e.route_configurations, *e.clusters, *e.endpoints]


@pytest.mark.parametrize("profile", ["1.3", "current"])
@pytest.mark.parametrize("part", ["part1", "part2"])
def test_the_seed_scenario_converts_as_json_format_does(profile, part):
    translation = translate(read_manifests([str(SEED / part)]).resources, profile)
    messages = _all_envoy(translation)
    assert messages
    for message in messages:
        _same(message)


def _manifests(tables: int):
    yield {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "up", "namespace": "gloo-system"},
           "spec": {"kube": {"serviceName": "up", "serviceNamespace": "apps", "servicePort": 80,
                             "subsetSpec": {"selectors": [{"keys": ["version"]}]}}}}
    yield {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService",
           "metadata": {"name": "vs", "namespace": "apps"},
           "spec": {"virtualHost": {"domains": ["*"], "routes": [
               {"matchers": [{"prefix": "/"}], "delegateAction": {"selector": {"namespaces": ["apps"]}}}]}}}
    for t in range(tables):
        routes = []
        for r in range(10):
            dest = {"upstream": {"name": "up", "namespace": "gloo-system"},
                    "subset": {"values": {"version": f"v{r % 3}"}}}
            matcher = {"prefix": f"/t{t}/r{r}", "headers": [{"name": "stage", "value": "canary"}] if r % 4 == 0 else []}
            if r % 5 == 4:
                routes.append({"matchers": [matcher], "directResponseAction": {"status": 200 + r, "body": "é\x7f"}})
            elif r % 5 == 3:
                routes.append({"matchers": [matcher],
                               "redirectAction": {"hostRedirect": "x.example", "httpsRedirect": True}})
            elif r % 2:
                routes.append({"matchers": [matcher], "routeAction": {"multi": {"destinations": [
                    {"destination": dest, "weight": 90 - r},
                    {"destination": {**dest, "subset": {"values": {"version": "v9"}}}, "weight": 10 + r}]}}})
            else:
                routes.append({"matchers": [matcher], "routeAction": {"single": dest}})
        yield {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
               "metadata": {"name": f"rt-{t}", "namespace": "apps"},
               "spec": {"routes": routes}}


def test_a_large_generated_input_converts_as_json_format_does():
    resources = parse_objects(list(_manifests(300)), file="generated").resources
    translation = translate(resources, "current")
    routes = sum(len(vh.routes) for rc in translation.envoy.route_configurations for vh in rc.virtual_hosts)
    assert routes >= 3000
    for message in _all_envoy(translation):
        _same(message)


def test_well_known_types_scalars_and_maps():
    cluster = cluster_pb2.Cluster(name="c", connect_timeout={"seconds": 5, "nanos": 1000},
                                  per_connection_buffer_limit_bytes=wrappers_pb2.UInt32Value(value=0),
                                  lb_policy=cluster_pb2.Cluster.LbPolicy.Value("RING_HASH"))
    cluster.metadata.filter_metadata["f"].update({"s": "x", "n": 1.5, "b": True, "z": None, "l": [1, "a", {"k": []}]})
    packed = any_pb2.Any()
    packed.Pack(wrappers_pb2.StringValue(value="v"))
    cluster.typed_extension_protocol_options["ext"].CopyFrom(packed)
    cluster.common_lb_config.healthy_panic_threshold.value = 12.5  # envoy.type.v3.Percent: a double
    cluster.lb_policy = 77  # an open enum's unknown number stays a number
    _same(cluster)
    route = route_components_pb2.Route(name="r")
    route.match.prefix = "/"
    route.route.cluster = "c"
    route.route.timeout.seconds = 3
    route.route.retry_policy.num_retries.value = 4
    route.metadata.CopyFrom(base_pb2.Metadata())
    route.route.hash_policy.add().header.header_name = "h"
    _same(route_pb2.RouteConfiguration(name="rc", virtual_hosts=[{"name": "vh", "domains": ["*"], "routes": [route]}]))


def test_special_doubles_follow_json_format():
    for number in (math.inf, -math.inf, math.nan):
        cluster = cluster_pb2.Cluster(name="c")
        cluster.common_lb_config.healthy_panic_threshold.value = number
        expected = MessageToDict(cluster)["commonLbConfig"]["healthyPanicThreshold"]["value"]
        assert message_to_dict(cluster)["commonLbConfig"]["healthyPanicThreshold"]["value"] == expected
    value = struct_pb2.Value(number_value=math.nan)
    with pytest.raises(ValueError):
        MessageToDict(value)
    with pytest.raises(ValueError):
        message_to_dict(value)


def test_identical_messages_are_converted_once_and_results_do_not_share_across_calls():
    rc = route_pb2.RouteConfiguration(name="rc")
    vh = rc.virtual_hosts.add(name="vh", domains=["*"])
    for i in range(3):
        r = vh.routes.add(name=f"r{i}")
        r.match.prefix = f"/{i}"
        r.route.cluster = "same"
    first, second = message_to_dict(rc), message_to_dict(rc)
    assert first == second == MessageToDict(rc)
    assert first["virtualHosts"][0]["routes"][0]["route"] is not second["virtualHosts"][0]["routes"][0]["route"]
