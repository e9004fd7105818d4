"""Wilson intervals and splits."""

from __future__ import annotations

import pytest

from gloo_nb.analysis.probe import split, split_frame, wilson_interval

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (0, 10, 0.0, 0.2775),      # the interval does not collapse at 0
    (5, 10, 0.2366, 0.7634),
    (10, 10, 0.7225, 1.0),
    (81, 263, 0.2553, 0.3662),  # Wilson (1927) as tabulated by Newcombe (1998), example (c)
])
def test_wilson_matches_published_values(k: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(k, n)
    assert got == pytest.approx((low, high), abs=5e-4)


def test_wilson_edges() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_split_orders_and_counts() -> None:
    shares = split(["200 v1"] * 30 + ["200 v2"] * 10)
    assert [(s.answer, s.count, s.total) for s in shares] == [("200 v1", 30, 40), ("200 v2", 10, 40)]
    assert shares[0].share == 0.75 and shares[0].contains(0.75) and not shares[0].contains(0.5)
    frame = split_frame(shares)
    assert list(frame.columns) == ["answer", "count", "total", "share", "low", "high"]
    assert frame["count"].sum() == 40
