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
layer or with ``unit`` beside a slow one, so none is forgotten.
"""

from __future__ import annotations

import pytest

UNIT = "unit"
SLOW_LAYERS = frozenset({"sandbox", "envoy", "browser"})
LAYERS = SLOW_LAYERS | {UNIT}


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
        why = layer_problem({mark.name for mark in item.iter_markers()})
        if why:
            problems.append(f"{item.nodeid}: {why}")
    if problems:
        raise pytest.UsageError("tests without exactly one layer (see tests/conftest.py):\n  " + "\n  ".join(problems))
