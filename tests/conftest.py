"""Pytest configuration: this folder is on ``sys.path`` (rootdir conftest), so every test can import
the shared helpers in ``tests/sandboxkit.py`` and ``tests/polling.py`` wherever it lives.

Every test carries its layer (the markers are registered in pyproject.toml), so that a developer can
run the fast set alone (``pytest -m unit``) or skip the slow layers (``pytest -m "not envoy"``):

* ``unit``: in-process (or the ``gloo-nb`` CLI in a child process); no server, pod, Envoy or browser;
* ``sandbox``: starts a sandbox or one of its servers (Kubernetes API, kubelet pods, ADS server);
* ``envoy``: starts real Envoy (a whole sandbox is ``sandbox`` and ``envoy``);
* ``browser``: runs a notebook in a Jupyter kernel, or JupyterLab in headless Chromium.

A test's layer is ``unit`` alone, or one or more of the other three. A module sets it with
``pytestmark``, or a module whose tests differ marks each test; collection fails on a test with no
layer, with ``unit`` beside a slow one, or marked ``unit`` in a module that uses a helper which starts
a server or Envoy (``HEAVY_HELPERS``), so none is forgotten.
"""

from __future__ import annotations

from types import ModuleType

import pytest

UNIT = "unit"
SLOW_LAYERS = frozenset({"sandbox", "envoy", "browser"})
LAYERS = SLOW_LAYERS | {UNIT}
# Helpers that start something, by name (the sandbox's modules may move; their names stay): a module that
# imports one holds no `unit` test.
HEAVY_HELPERS = frozenset({"sandbox", "in_process_api", "runner", "ServerThread", "Kubelet", "AdsServer", "EnvoyFleet"})


def heavy_helpers(module: ModuleType) -> list[str]:
    """The helpers of ``HEAVY_HELPERS`` that a test module imports (from tests/sandboxkit.py or gloo_nb.sandbox).

    Args:
        module: A test module.

    Returns:
        Their names, sorted.
    """
    found = set()
    for value in vars(module).values():
        if isinstance(value, ModuleType):
            name, home = value.__name__.rsplit(".", 1)[-1], value.__name__
        else:
            name, home = getattr(value, "__qualname__", ""), getattr(value, "__module__", None) or ""
        if name in HEAVY_HELPERS and (home == "sandboxkit" or home.startswith("gloo_nb.sandbox")):
            found.add(name)
    return sorted(found)


def layer_problem(marks: set[str]) -> str | None:
    """Why a test's set of layer markers is not a layer, or None when it is one.

    Args:
        marks: The names of the test's markers (any markers; only layer markers count).

    Returns:
        A short reason, or None.
    """
    layers = marks & LAYERS
    if not layers:
        return "no layer marker (unit, sandbox, envoy or browser)"
    if UNIT in layers and layers & SLOW_LAYERS:
        return f"unit beside {', '.join(sorted(layers & SLOW_LAYERS))}"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: checked before `-m` deselects anything, so `pytest -m unit` also refuses a forgotten layer.
    problems = []
    for item in items:
        marks = {mark.name for mark in item.iter_markers()}
        why = layer_problem(marks)
        module = getattr(item, "module", None)
        if not why and marks & LAYERS == {UNIT} and module is not None and (heavy := heavy_helpers(module)):
            why = f"unit, but its module uses {', '.join(heavy)}"
        if why:
            problems.append(f"{item.nodeid}: {why}")
    if problems:
        raise pytest.UsageError("tests without exactly one layer (see tests/conftest.py):\n  " + "\n  ".join(problems))
