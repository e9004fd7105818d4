"""Real Envoy accepts the HTTP filter chains the sandbox serves (``gloo_nb.translate.http_filters``).

Each chain is translated, then validated with ``envoy --mode validate`` as the sandbox serves it to the pinned
Envoy (``for_pinned_envoy``: Gloo's own io.solo.transformation left out; see ``test_envoy_accepts.py``'s
``test_gloo_extension_filters_are_what_the_pinned_envoy_refuses``): the default chains of both profiles,
``removeUnusedFilters`` with every filter a route can ask for, the early transformation stage, the router options,
and the dynamic forward proxy among them.
"""

from __future__ import annotations

from typing import Any

import pytest
from builders import kube_upstream, m, route, service, to, vs
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from gateway_fixtures import gateway
from test_envoy_accepts import assert_envoy_accepts

from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_object
from gloo_nb.models.defaults import helm_default_settings_manifest
from gloo_nb.translate import translate
from gloo_nb.translate.http_filters import for_pinned_envoy

pytestmark = pytest.mark.envoy


def _settings(**gloo: Any) -> Any:
    doc = helm_default_settings_manifest(profile="current")
    doc["spec"]["gloo"].update(gloo)
    return parse_object(doc).resource


def _translate(*extra: Any, options: dict[str, Any] | None = None, profile: str = "current") -> Any:
    resources = [vs("app", route(m("/"), action=to("echo"), options=options)), kube_upstream("echo", subset_keys=()),
                 service("echo"), *extra]
    return translate(Snapshot.from_resources(resources), profile)  # type: ignore[arg-type]


def _served_names(t: Any) -> list[str]:
    (listener,) = t.envoy.listeners
    hcm = hcm_pb2.HttpConnectionManager()
    for_pinned_envoy(listener)[0].filter_chains[0].filters[0].typed_config.Unpack(hcm)
    return [f.name for f in hcm.http_filters]


USE_ALL = {"faults": {"abort": {"percentage": 50, "httpStatus": 503}}, "cors": {"allowOrigin": ["a.example"]},
           "ratelimit": {"localRatelimit": {"maxTokens": 1}}, "csrf": {"filterEnabled": {"defaultValue": {}}},
           "stagedTransformations": {"early": {"requestTransforms": []}}}


@pytest.mark.parametrize(("name", "profile", "extra", "options", "served"), [
    ("current default", "current", (), None,
     ["fault", "cors", "local_ratelimit", "grpc_web", "csrf", "router"]),
    ("1.3 default", "1.3", (), None, ["fault", "cors", "grpc_web", "router"]),
    ("removeUnusedFilters, routes use every filter", "current",
     (_settings(removeUnusedFilters=True, disableGrpcWeb=False),), USE_ALL,
     ["fault", "cors", "local_ratelimit", "grpc_web", "csrf", "router"]),
    ("removeUnusedFilters, nothing used", "current", (_settings(removeUnusedFilters=True),), None, ["router"]),
    ("router options", "current",
     (gateway({"httpGateway": {"options": {"router": {"suppressEnvoyHeaders": True, "dynamicStats": False},
                                           "grpcWeb": {"disable": True}}}}),), None,
     ["fault", "cors", "local_ratelimit", "csrf", "router"]),
    ("dynamic forward proxy at its stage", "current",
     (gateway({"httpGateway": {"options": {"dynamicForwardProxy": {}}}}),), None,
     ["fault", "cors", "local_ratelimit", "grpc_web", "dynamic_forward_proxy", "csrf", "router"]),
])
def test_envoy_accepts_the_served_chain(name, profile, extra, options, served, tmp_path):
    t = _translate(*extra, options=options, profile=profile)
    assert [n.rsplit(".", 1)[-1] for n in _served_names(t)] == served, name
    assert_envoy_accepts(t.envoy, tmp_path / "envoy")
