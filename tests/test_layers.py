"""Every test carries exactly one layer (tests/conftest.py refuses collection otherwise)."""

from __future__ import annotations

import types

import pytest
import sandboxkit
from conftest import LAYERS, heavy_helpers, layer_problem

pytestmark = pytest.mark.unit


def test_registered_markers_are_the_layers(pytestconfig: pytest.Config) -> None:
    registered = {line.split(":")[0].strip() for line in pytestconfig.getini("markers")}
    assert registered >= LAYERS


@pytest.mark.parametrize("marks", [{"unit"}, {"sandbox"}, {"sandbox", "envoy"}, {"envoy"},
                                   {"browser", "sandbox", "envoy"}, {"unit", "parametrize", "timeout"}])
def test_a_layer(marks: set[str]) -> None:
    assert layer_problem(marks) is None


@pytest.mark.parametrize(("marks", "why"), [(set(), "no layer"), ({"parametrize"}, "no layer"),
                                            ({"unit", "envoy"}, "unit beside envoy")])
def test_not_a_layer(marks: set[str], why: str) -> None:
    problem = layer_problem(marks)
    assert problem is not None and why in problem


def test_this_session_checked_every_collected_test(request: pytest.FixtureRequest) -> None:
    # The check ran at collection: every test of this session has a layer.
    for item in request.session.items:
        assert layer_problem({m.name for m in item.iter_markers()}) is None, item.nodeid


def test_heavy_helpers_are_found_by_name_and_home() -> None:
    # Imported here: this module's own globals must not hold a heavy helper (it is a unit test).
    from gloo_nb.sandbox import runner

    module = types.ModuleType("test_fake")
    module.sandbox = sandboxkit.sandbox  # type: ignore[attr-defined]
    module.runner = runner  # type: ignore[attr-defined]
    module.fetch = sandboxkit.fetch  # type: ignore[attr-defined]
    assert heavy_helpers(module) == ["runner", "sandbox"]

    def sandbox() -> None:  # same name, but not the sandbox's helper
        pass

    assert heavy_helpers(types.SimpleNamespace(sandbox=sandbox)) == []  # type: ignore[arg-type]
