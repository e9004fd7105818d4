"""Real Envoy (``envoy --mode validate``) on the route shapes an ``upstreamGroup`` produces.

A found group is a ``weighted_clusters`` route Envoy accepts. A missing group is Gloo's own hand-off of a route
Envoy refuses: main's bogus ``cluster: ""`` ("so route replacement will still work", route_config.go
setRouteAction) and v1.3.20's RouteAction without any cluster specifier both fail Envoy's proto validation, so
without route replacement Envoy NACKs the RouteConfiguration and keeps its previous one.
"""

from __future__ import annotations

import pytest
from test_envoy_accepts import assert_envoy_accepts, assert_envoy_rejects
from test_upstream_groups import GS, _group, _translate, _upstream, _vs

pytestmark = pytest.mark.envoy


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_upstream_group_weighted_clusters_are_accepted(profile, tmp_path):
    t = _translate(_upstream("test"), _upstream("test2", port=9001), _group(("test", GS, 1), ("test2", GS, 3)),
                   _vs(), profile=profile)
    assert t.envoy.route_configurations[0].virtual_hosts[0].routes[0].route.HasField("weighted_clusters")
    assert_envoy_accepts(t.envoy, tmp_path)


def test_missing_group_empty_cluster_is_refused_by_envoy_current(tmp_path):
    t = _translate(_upstream("test"), _vs("missing"))
    assert t.push.decision == "push"  # current pushes it: the NACK is Envoy's
    assert_envoy_rejects(t.envoy, tmp_path, "RouteActionValidationError.Cluster")


def test_missing_group_route_without_cluster_is_refused_by_envoy_1_3(tmp_path):
    t = _translate(_upstream("test"), _vs("missing"), profile="1.3")
    assert_envoy_rejects(t.envoy, tmp_path, 'field: "cluster_specifier", reason: is required')
