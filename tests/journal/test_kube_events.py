"""The ``kube.event`` builder's JSON patch: applied to the earlier content it gives the later one."""

from __future__ import annotations

import random
from typing import Any

import jsonpatch
import pytest

from gloo_nb.journal.kube_events import json_diff

pytestmark = pytest.mark.unit


def _doc(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(6 if depth < 4 else 3)
    if kind == 0:
        return rng.randrange(5)
    if kind == 1:
        return rng.choice(["a", "b", "x/y", "t~1", ""])
    if kind == 2:
        return rng.choice([None, True, 1.5])
    if kind in (3, 4):
        return {rng.choice(["a", "b", "c/d", "e~f", "g"]): _doc(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [_doc(rng, depth + 1) for _ in range(rng.randrange(4))]


@pytest.mark.parametrize("seed", range(300))
def test_json_diff_applies(seed: int) -> None:
    rng = random.Random(seed)
    before, after = _doc(rng), _doc(rng)
    patch = json_diff(before, after)
    assert jsonpatch.apply_patch(before, patch) == after
    assert json_diff(after, after) == []


def test_json_diff_names_the_changed_field() -> None:
    before = {"spec": {"routes": [{"w": 100}, {"w": 0}], "x~/y": 1}}
    after = {"spec": {"routes": [{"w": 90}, {"w": 10}], "x~/y": 2}}
    assert json_diff(before, after) == [
        {"op": "replace", "path": "/spec/routes/0/w", "value": 90},
        {"op": "replace", "path": "/spec/routes/1/w", "value": 10},
        {"op": "replace", "path": "/spec/x~0~1y", "value": 2}]
