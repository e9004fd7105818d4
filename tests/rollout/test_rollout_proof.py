"""Proof maths: sample sizes and the verdict rule (a correct step fails < 1e-6, 3 points off caught 99 %)."""

from __future__ import annotations

import math

import pytest

from gloo_nb.rollout.proof import Z_ALPHA, Z_BETA, acceptance_margin, judge, required_requests, wilson_interval

pytestmark = pytest.mark.unit


def test_quantiles():
    assert Z_ALPHA == pytest.approx(4.8916, abs=1e-4)
    assert Z_BETA == pytest.approx(2.3263, abs=1e-4)


def test_required_requests():
    assert 14_400 <= required_requests(0.5) <= 14_500
    assert required_requests(0.5) == 14_456
    assert 5_550 <= required_requests(0.1) <= 5_700
    assert required_requests(0.1) == required_requests(0.9)  # symmetric
    assert required_requests(0.0) == required_requests(1.0) == 152
    assert 0.97 ** 152 < 0.01 <= 0.97 ** 151
    # The hardest splits are those around 1/2 (the alternative 3 points off is 1/2 itself).
    assert max(required_requests(p / 100) for p in range(1, 100)) < 14_500
    with pytest.raises(ValueError):
        required_requests(1.5)


def test_margin_is_inside_three_points():
    for p in (0.01, 0.1, 0.5, 0.9):
        assert acceptance_margin(p, required_requests(p)) < 0.03


def test_judge_boundaries_half():
    n = required_requests(0.5)
    margin = acceptance_margin(0.5, n)
    inside = math.floor((0.5 + margin) * n)
    outside = inside + 1
    assert judge(0.5, inside, n).ok
    assert not judge(0.5, outside, n).ok
    low = math.ceil((0.5 - margin) * n)
    assert judge(0.5, low, n).ok
    assert not judge(0.5, low - 1, n).ok
    v = judge(0.5, 6950, n)
    assert v.ok and v.reason == f"canary 48.1% of {n} (target 50% +/- 2.0)"
    assert v.low < v.observed < v.high


def test_judge_three_points_off_fails():
    n = required_requests(0.1)
    assert not judge(0.1, round(0.13 * n), n).ok
    assert not judge(0.1, round(0.07 * n), n).ok
    assert judge(0.1, round(0.1 * n), n).ok


def test_judge_every_request():
    n = required_requests(1.0)
    assert judge(1.0, n, n).ok
    v = judge(1.0, n - 1, n)
    assert not v.ok and "1 request(s)" in v.reason
    assert judge(0.0, 0, n).ok
    assert not judge(0.0, 1, n).ok
    # Foreign traffic alone does not fail a step, and is named.
    v = judge(0.0, 2, n, other=2)
    assert v.ok and "2 foreign" in v.reason
    assert not judge(0.0, 3, n, other=2).ok
    assert judge(1.0, n + 5, n, other=5).ok


def test_judge_needs_enough_requests():
    v = judge(0.5, 50, 100)
    assert not v.ok and "only 100 of the 14456 requests" in v.reason


def test_wilson():
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)
