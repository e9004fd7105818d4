"""How many requests prove a traffic split, and whether an observed split passes.

The rollout never moves on without proof from the data plane (issue 6). A step is proven by a
binomial test on the share of probe requests that reach the canary subset:

* A **correct** step fails less than once in a million: two-sided significance ``ALPHA = 1e-6``.
* A step **3 points off** (observed share ``p0 +/- 0.03``) is caught 99 % of the time: power
  ``0.99`` against the worse of the two alternatives (the one closer to 1/2, which needs more
  requests).

For a target share ``p0`` in (0, 1) the normal approximation gives the classic sample size

    n = ceil(((z_a * sqrt(p0 q0) + z_b * sqrt(p1 q1)) / 0.03) ** 2)

and the step passes when ``|observed - p0| <= z_a * sqrt(p0 q0 / n)``. For ``p0`` in {0, 1}
("every request with the header reaches the canary") there is no spread to test: the step needs
``n`` requests with ``0.97 ** n < 0.01`` (a route that sends 3 % of the requests the wrong way is
seen with 99 % probability) and passes only when every one of them lands right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

__all__ = ["ALPHA", "MARGIN", "POWER", "Z_ALPHA", "Z_BETA", "Verdict", "acceptance_margin", "judge",
           "required_requests", "wilson_interval"]

ALPHA = 1e-6
"""Two-sided probability that a correct step fails its proof."""

POWER = 0.99
"""Probability that a step ``MARGIN`` off its target fails its proof."""

MARGIN = 0.03
"""The smallest error (3 percentage points) the proof must catch."""

Z_ALPHA = NormalDist().inv_cdf(1 - ALPHA / 2)
"""The two-sided ``ALPHA`` normal quantile (4.8916)."""

Z_BETA = NormalDist().inv_cdf(POWER)
"""The one-sided ``POWER`` normal quantile (2.3263)."""

_Z95 = NormalDist().inv_cdf(0.975)


def _check_share(p0: float) -> None:
    if not 0.0 <= p0 <= 1.0:
        raise ValueError(f"a target share must be within 0..1, got {p0}")


def _extreme(p0: float) -> bool:
    return p0 <= 0.0 or p0 >= 1.0


def required_requests(p0: float) -> int:
    """The number of probe requests that proves a canary share of ``p0``.

    Args:
        p0: The target canary share, 0..1.

    Returns:
        About 14,455 for 0.5, 5,624 for 0.1, 152 for 0 or 1.

    Raises:
        ValueError: ``p0`` is outside 0..1.
    """
    _check_share(p0)
    if _extreme(p0):
        # Smallest n with (1 - MARGIN) ** n < 1 - POWER.
        return math.floor(math.log(1 - POWER) / math.log(1 - MARGIN)) + 1
    q0 = 1 - p0
    alternatives = [p for p in (p0 - MARGIN, p0 + MARGIN) if 0 < p < 1]
    p1 = max(alternatives, key=lambda p: p * (1 - p)) if alternatives else p0
    spread = Z_ALPHA * math.sqrt(p0 * q0) + Z_BETA * math.sqrt(p1 * (1 - p1))
    return math.ceil((spread / MARGIN) ** 2)


def acceptance_margin(p0: float, n: int) -> float:
    """The largest distance from ``p0`` that still passes with ``n`` requests.

    Args:
        p0: The target canary share, 0..1.
        n: Requests counted.

    Returns:
        ``z_a * sqrt(p0 q0 / n)`` (0 for the targets 0 and 1, where every request must land right).
    """
    if _extreme(p0) or n <= 0:
        return 0.0
    return Z_ALPHA * math.sqrt(p0 * (1 - p0) / n)


def wilson_interval(successes: int, trials: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % by default).

    The same formula as :func:`gloo_nb.analysis.probe.wilson_interval`, repeated here because the
    rollout core may not import the pandas layer.

    Args:
        successes: Trials with the outcome (clipped into ``0..trials``).
        trials: Trials.
        z: The normal quantile.

    Returns:
        ``(low, high)``; ``(0.0, 1.0)`` without trials.
    """
    if trials <= 0:
        return 0.0, 1.0
    successes = min(max(successes, 0), trials)
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Verdict:
    """Whether an observed split proves a target share.

    Attributes:
        ok: Whether the step passes.
        observed: The observed canary share.
        low: Low end of the observed share's 95 % Wilson interval.
        high: High end of that interval.
        reason: One line, e.g. ``canary 48.1% of 14455 (target 50% +/- 2.0)``.
    """

    ok: bool
    observed: float
    low: float
    high: float
    reason: str


def _pct(x: float) -> str:
    text = f"{100 * x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def judge(p0: float, canary: int, total: int, *, other: int = 0, side: str = "canary") -> Verdict:
    """Judge a probe: did ``canary`` of ``total`` requests prove the target share ``p0``?

    Requests are attributed by Envoy's per-host counters, which also count traffic the probe did
    not send (``other``, someone else's requests). The rule keeps foreign traffic from failing a
    step by itself, and never lets it hide a wrong split of our own requests:

    * ``p0 = 0``: ``canary`` (the hits on the wrong side) may be at most ``other``: every one of
      them might be foreign, but beyond that at least one of ours went wrong.
    * ``p0 = 1``: the hits on the wrong side are ``total + other - canary``; the same bound gives
      ``canary >= total``.
    * ``0 < p0 < 1``: the share is ``canary / (total + other)``, the split of everything the route
      served (foreign traffic on the same route splits the same way; foreign traffic that picks
      a side, e.g. with the canary header, moves the share, which is why the reason names it).

    Args:
        p0: The target canary share, 0..1.
        canary: Requests counted on the canary side (see above).
        total: Requests the probe sent and that were answered 2xx.
        other: Requests the counters saw beyond those sent.
        side: What ``canary`` counts, for the reason (the machine proves "no canary" as "all
            ``stable``": ``judge(1.0, stable_hits, sent, side="stable")``, which also fails when the
            counters saw nothing).

    Returns:
        The verdict; it fails too when ``total`` is below :func:`required_requests`.
    """
    _check_share(p0)
    other = max(other, 0)
    counted = total + other
    observed = canary / counted if counted else 0.0
    low, high = wilson_interval(canary, counted)
    foreign = f", {other} foreign" if other else ""
    needed = required_requests(p0)
    if total < needed:
        return Verdict(False, observed, low, high,
                       f"only {total} of the {needed} requests needed to prove {_pct(p0)}% {side}{foreign}")
    if p0 <= 0.0:
        ok = canary <= other
        what = "no request" if ok else f"{canary - other} request(s)"
        return Verdict(ok, observed, low, high,
                       f"{what} of {total} reached the {side} (target 0%){foreign}")
    if p0 >= 1.0:
        missed = max(total - canary, 0)
        ok = missed == 0
        what = "every request" if ok else f"{missed} request(s) of {total} did not"
        return Verdict(ok, observed, low, high,
                       f"{what} reached the {side} (target 100%){foreign}" if ok
                       else f"{what} reach the {side} (target 100%){foreign}")
    margin = acceptance_margin(p0, counted)
    ok = abs(observed - p0) <= margin
    return Verdict(ok, observed, low, high,
                   f"{side} {_pct(observed)}% of {counted} (target {_pct(p0)}% +/- {100 * margin:.1f}){foreign}")
