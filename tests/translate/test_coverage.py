"""docs/coverage.md is generated from the code, and every options field path on it is modelled or declared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gloo_nb.models.codec import parse_object
from gloo_nb.translate.coverage import DECLARED, MODELLED, coverage_markdown
from gloo_nb.translate.envoy_json import envoy_json
from gloo_nb.translate.option_catalogue import (
    ROUTE_OPTIONS,
    VIRTUAL_HOST_OPTIONS,
    WEIGHTED_DESTINATION_OPTIONS,
    OptionField,
    OptionMessage,
)
from gloo_nb.translate.translator import translate

pytestmark = pytest.mark.unit

PAGE = Path(__file__).resolve().parents[2] / "docs" / "coverage.md"
GS = "gloo-system"
SAMPLE: dict[str, Any] = {"string": "/sample", "bool": True, "uint32": 2, "float": 50.0, "duration": "3s",
                          "map": {"key": {"a": "b"}}}


def test_the_committed_page_is_up_to_date():
    """Regenerate with: python -m gloo_nb.translate.coverage > docs/coverage.md"""
    assert PAGE.read_text() == coverage_markdown()


def _value(f: OptionField) -> Any:
    one: Any = {} if f.shape == "message" else SAMPLE[f.shape]
    return [one] if f.repeated else one


def _paths(message: OptionMessage, profile: str) -> list[tuple[list[str], Any]]:
    """Every catalogued field path of a message that the profile's Gloo has, with a sample value nesting it."""
    out: list[tuple[list[str], Any]] = []
    for name, f in (message.fields or {}).items():
        if profile == "1.3" and f.since != "1.3":
            continue
        out.append(([name], _value(f)))
        if f.message is not None and not f.repeated:
            out += [([name, *sub], v) for sub, v in _paths(f.message, profile)]
    return out


def _nest(path: list[str], value: Any) -> dict[str, Any]:
    for key in reversed(path):
        value = {key: value}
    return value


def _docs(route_options=None, vh_options=None, weighted_options=None) -> list[Any]:
    dest = {"upstream": {"name": "echo", "namespace": GS}}
    route: dict[str, Any] = {"matchers": [{"prefix": "/"}],
                             "routeAction": {"multi": {"destinations": [
                                 {"weight": 1, "destination": dest, **({"options": weighted_options}
                                                                       if weighted_options else {})}]}}}
    if route_options:
        route["options"] = route_options
    vh: dict[str, Any] = {"domains": ["*"], "routes": [route]}
    if vh_options:
        vh["options"] = vh_options
    return [parse_object(d).resource for d in (
        {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "echo", "namespace": GS},
         "spec": {"static": {"hosts": [{"addr": "127.0.0.1", "port": 9000}]}}},
        {"apiVersion": "gateway.solo.io/v1", "kind": "VirtualService", "metadata": {"name": "vs", "namespace": GS},
         "spec": {"virtualHost": vh}})]


# Field paths whose generic sample is a no-op in Gloo itself, with a value (and the options around it) under
# which Gloo's plugin writes something; (where, path) -> (value, extra _docs arguments for both runs).
_EMPTY_IS_NOOP: dict[tuple[str, tuple[str, ...]], tuple[Any, dict[str, Any]]] = {
    # faultinjection/plugin.go ProcessRoute: "neither were configured on the route so return without error".
    ("route", ("faults",)): ({"abort": {"httpStatus": 418, "percentage": 100}}, {}),
    # headers/plugin.go convertHeaderConfig: an empty HeaderManipulation writes four empty lists.
    ("route", ("headerManipulation",)): ({"requestHeadersToRemove": ["x-a"]}, {}),
    ("virtualHost", ("headerManipulation",)): ({"requestHeadersToRemove": ["x-a"]}, {}),
    ("weighted", ("headerManipulation",)): ({"requestHeadersToRemove": ["x-a"]}, {}),
    # stats/stats.go: no virtualClusters, no virtual clusters.
    ("virtualHost", ("stats",)): ({"virtualClusters": [{"name": "vc", "pattern": "/a.*"}]}, {}),
    # basicroute/plugin.go applyHostRewrite: appendXForwardedHost is applied only with a host rewrite.
    ("route", ("appendXForwardedHost",)): (True, {"route_options": {"hostRewrite": "h.example"}}),
    # cors/plugin.go mergeCors: the merge settings matter only when the virtual host and the route both set
    # exposeHeaders.
    ("virtualHost", ("corsPolicyMergeSettings",)): ({"exposeHeaders": "UNION"}, {
        "vh_options": {"cors": {"allowOrigin": ["a"], "exposeHeaders": ["x-v"]}},
        "route_options": {"cors": {"allowOrigin": ["a"], "exposeHeaders": ["x-r"]}}}),
}


def _merge(a: dict[str, Any] | None, b: dict[str, Any]) -> dict[str, Any]:
    return {**(a or {}), **b}


WHERE = {
    "route": (ROUTE_OPTIONS, "spec.virtualHost.routes[0].options"),
    "virtualHost": (VIRTUAL_HOST_OPTIONS, "spec.virtualHost.options"),
    "weighted": (WEIGHTED_DESTINATION_OPTIONS, "spec.virtualHost.routes[0].routeAction.multi.destinations[0].options"),
}


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_every_options_field_path_changes_envoy_or_is_declared(profile):
    """Differential: each catalogued field path, set alone, either changes the Envoy output or is in `unmodelled`;
    no exception, no strict-decoding finding for a well-typed value."""
    plain = envoy_json(translate(_docs(), profile).envoy)  # type: ignore[arg-type]
    counts = {"changes Envoy": 0, "declared": 0}
    for where, (message, prefix) in WHERE.items():
        for path, value in _paths(message, profile):
            value, context = _EMPTY_IS_NOOP.get((where, tuple(path)), (value, {}))
            baseline = envoy_json(translate(_docs(**context), profile).envoy) if context else plain  # type: ignore[arg-type]
            kwarg = {"route": "route_options", "virtualHost": "vh_options", "weighted": "weighted_options"}[where]
            args = {**context, kwarg: _merge(context.get(kwarg), _nest(path, value))}
            t = translate(_docs(**args), profile)  # type: ignore[arg-type]
            assert not [f for f in t.findings if "crd spec" in f.message], (where, path)
            declared = {u.path for u in t.unmodelled}
            top = f"{prefix}.{path[0]}"
            if envoy_json(t.envoy) != baseline:
                counts["changes Envoy"] += 1
            else:
                assert top in declared, (where, path)
                counts["declared"] += 1
    # The keys translate/route_options.py models change Envoy; everything else is declared.
    assert counts == {"1.3": {"changes Envoy": 60, "declared": 23},
                      "current": {"changes Envoy": 95, "declared": 52}}[profile], counts


def test_the_page_counts_both_kinds():
    page = coverage_markdown()
    assert f"| `routes[].options.prefixRewrite` | 1.3 | {MODELLED} | {MODELLED} | prefix rewrite |" in page
    absent = "absent (unknown field)"
    assert f"| `routes[].options.regexRewrite` | current | {absent} | {MODELLED} | regex rewrite |" in page
    assert (f"| `routes[].options.stagedTransformations` | current | {absent} | {DECLARED} | staged transformations "
            "(Gloo's transformation filter) |") in page
    assert f"| `routes[].options.transformations` | 1.3 | {DECLARED} | {DECLARED} |" in page
