"""docs/coverage.md is generated from the code, and every options field path on it is modelled or declared."""

from __future__ import annotations

import copy
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
    # translate/http_filters.py: the Settings and listener options of the default HTTP filter chain.
    assert f"| `settings spec.gloo.removeUnusedFilters` | current | {absent} | {MODELLED} |  |" in page
    assert f"| `httpGateway.options.grpcWeb` | 1.3 | {MODELLED} | {MODELLED} |  |" in page
    assert (f"| `httpGateway.options.healthCheck` | 1.3 | {DECLARED} | {DECLARED} | HTTP listener option healthCheck "
            "(filter envoy.filters.http.health_check) |") in page


# The smallest value of a message under which Gloo's plugin writes it (so that one sub-field more is visible):
# parent path -> value. cors/plugin.go: "must provide at least one of AllowOrigin or AllowOriginRegex";
# shadowing/plugin.go: "must specify an upstream ref"; faultinjection toEnvoyAbort/toEnvoyDelay: a status in
# [200,600) and a positive fixedDelay (current); regexutils.ConvertRegexMatchAndSubstitute copies pattern.regex.
_MINIMAL_PARENT: dict[tuple[str, ...], Any] = {
    ("cors",): {"allowOrigin": ["https://a.example"]},
    ("shadowing",): {"upstream": {"name": "echo", "namespace": GS}},
    ("faults", "abort"): {"httpStatus": 418},
    ("faults", "delay"): {"fixedDelay": "2s"},
    ("regexRewrite",): {"pattern": {"regex": "^/a"}, "substitution": "/b"},
    ("hostRewritePathRegex",): {"pattern": {"regex": "^/a"}, "substitution": "/b"},
}
# Leaves whose generic sample ({} for an uncatalogued message) says nothing: googleRe2 matters by maxProgramSize.
# httpStatus: current refuses the sample 2 as it refuses the unset 0, so only a valid status shows the field;
# an empty pattern is the unset one (GetPattern().GetRegex() is "" for both).
_LEAF_VALUE: dict[str, Any] = {"googleRe2": {"maxProgramSize": 7}, "httpStatus": 503, "pattern": {"regex": "^/x"}}
# Gloo's own no-ops: cors/plugin.go ProcessVirtualHost only logs "invalid virtual host cors policy:
# DisableForRoute only pertains to cors policies on routes" (route_options does the same: nothing).
_GLOO_NOOP = {("virtualHost", ("cors", "disableForRoute"))}


def _set_in(block: dict[str, Any], path: list[str] | tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        block = block.setdefault(key, {})
    old = block.get(path[-1])
    block[path[-1]] = {**old, **value} if isinstance(old, dict) and isinstance(value, dict) else value


@pytest.mark.parametrize("profile", ["1.3", "current"])
def test_every_nested_field_path_changes_envoy_beyond_its_parent_or_is_declared(profile):
    """Sub-field granularity: each catalogued nested path, set on top of its parent's smallest working value,
    changes the Envoy output, or is declared as a part gloo_nb leaves out (option_catalogue.UNMODELLED_NESTED)."""
    checked = 0
    for where, (message, prefix) in WHERE.items():
        kwarg = {"route": "route_options", "virtualHost": "vh_options", "weighted": "weighted_options"}[where]
        for path, value in _paths(message, profile):
            if len(path) < 2:
                continue
            base: dict[str, Any] = {}
            for i in range(1, len(path)):
                if tuple(path[:i]) in _MINIMAL_PARENT:
                    _set_in(base, path[:i], _MINIMAL_PARENT[tuple(path[:i])])
            _set_in(base, path[:-1], {})
            parent = base
            for key in path[:-1]:
                parent = parent[key]
            parent.pop(path[-1], None)  # the leaf is what differs, even where the smallest parent has it
            variant = copy.deepcopy(base)
            _set_in(variant, path, _LEAF_VALUE.get(path[-1], value))
            before = envoy_json(translate(_docs(**{kwarg: base}), profile).envoy)  # type: ignore[arg-type]
            t = translate(_docs(**{kwarg: variant}), profile)  # type: ignore[arg-type]
            if envoy_json(t.envoy) == before and (where, tuple(path)) not in _GLOO_NOOP:
                assert any(u.path.startswith(f"{prefix}.{'.'.join(path)}") for u in t.unmodelled), (where, path)
            checked += 1
    assert checked == {"1.3": 45, "current": 70}[profile]
