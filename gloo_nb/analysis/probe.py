"""Traffic splits with confidence intervals: what share of requests each answer got.

Wilson's score interval is used rather than the normal approximation because probes are often
small and shares often sit at 0 or 1 (a canary at 0 %, a finished rollout at 100 %), where the
normal interval collapses to a point.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from gloo_nb.rollout import proof

Z95 = 1.959963984540054
"""The two-sided 95 % normal quantile."""


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Args:
        successes: How many trials had the outcome.
        trials: How many trials.
        z: The normal quantile (1.96 for 95 %).

    Returns:
        ``(low, high)``; ``(0.0, 1.0)`` when there were no trials.

    Raises:
        ValueError: ``successes`` is outside ``[0, trials]``.
    """
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be within 0..{trials}, got {successes}")
    # One formula for notebooks' probes and the rollout's proofs.
    return proof.wilson_interval(successes, trials, z)


@dataclass(frozen=True, slots=True)
class Share:
    """One answer's share of a probe.

    Attributes:
        answer: The answer (e.g. ``200 version:v1``).
        count: How many requests got it.
        total: How many requests were sent.
        share: ``count / total``.
        low: Lower bound of the Wilson 95 % interval.
        high: Upper bound.
    """

    answer: str
    count: int
    total: int
    share: float
    low: float
    high: float

    def contains(self, share: float) -> bool:
        """Whether ``share`` lies within the interval.

        Args:
            share: A proportion in ``[0, 1]``.

        Returns:
            True when ``low <= share <= high``.
        """
        return self.low <= share <= self.high


def split(answers: Iterable[str], z: float = Z95) -> list[Share]:
    """Count answers and give each its share with a Wilson interval.

    Args:
        answers: One answer per request.
        z: The normal quantile.

    Returns:
        Shares, most frequent first (ties by answer).
    """
    counts = Counter(answers)
    total = sum(counts.values())
    out = []
    for answer, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        low, high = wilson_interval(count, total, z)
        out.append(Share(answer, count, total, count / total, low, high))
    return out


def split_frame(shares: Iterable[Share]) -> pd.DataFrame:
    """The shares as a frame (``answer``, ``count``, ``total``, ``share``, ``low``, ``high``).

    Args:
        shares: Shares from :func:`split`.

    Returns:
        The frame.
    """
    rows = [(s.answer, s.count, s.total, s.share, s.low, s.high) for s in shares]
    return pd.DataFrame.from_records(rows, columns=["answer", "count", "total", "share", "low", "high"])
