"""Golden signals of a proof per subset (latency), and the guard that refuses to promote a bad canary.

A proof already counts, per subset, the requests Envoy's per-host counters attribute to it and the 5xx
among them (``ProbeObservation.by_subset`` / ``errors_by_subset``). This module adds latency and the
thresholds a rollout may refuse to promote on. Nothing here does I/O.

Latency, honestly attributed. Envoy keeps ``upstream_rq_time`` per *cluster* (``cluster.<name>.
upstream_rq_time``, Envoy ``source/common/router/router.cc`` ``Filter::onUpstreamComplete`` ->
``chargeUpstreamCode``/``upstream_rq_time``), and Gloo's subsets of one Upstream share one cluster
(``projects/gloo/pkg/translator/clusters.go`` ``createLbConfig`` sets ``lb_subset_config`` on the Upstream's one
cluster, in 1.3 and current alike),
so Envoy has no per-subset latency histogram; its histograms also change only at the stats flush.
Per request, Envoy's router adds ``x-envoy-upstream-service-time`` to the response (the upstream's
time in ms, Envoy ``source/common/router/router.cc`` ``Filter::onUpstreamHeaders``, unless
``suppress_envoy_headers``). The probe keeps, per answered request, its own round trip and that
header. A probe's latency is attributed to a subset only when Envoy's per-host counters put every
request of the probe on that one subset (the ``with-header`` probe: all on the canary; a 0 % or
100 % step: all on one side); a probe whose requests were split between subsets is shown as a whole
(``*``), never spread over the subsets by guess.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gloo_nb.errors import UsageError

__all__ = ["MIXED", "CanarySignals", "LatencySignal", "SignalThresholds", "attribute_latency", "canary_signals",
           "latency_signal", "percentile", "signals_guard"]

MIXED = "*"
"""The ``latency_by_subset`` key of a probe whose requests went to more than one subset (not attributable)."""

GUARD = "canary-signals"
"""The guard's name in step reports and the journal."""


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` percentile (``q`` in 0..100): the smallest sample with at least q % at or below it.

    Args:
        samples: The values (any order).
        q: The percentile.

    Returns:
        The value, None without samples.
    """
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class LatencySignal:
    """The latency of the requests of a probe attributed to one subset.

    Attributes:
        requests: Answered requests measured.
        p50_ms: Median round trip the probe measured (client side, through the gateway), ms.
        p99_ms: 99th percentile of that round trip, ms.
        envoy_p50_ms: Median of Envoy's ``x-envoy-upstream-service-time`` answer header (the upstream's time
            as Envoy's router measured it), ms; None when Envoy sent no such header.
        envoy_p99_ms: 99th percentile of that header, ms; None likewise.
        source: Always ``probe``: measured by the rollout's probe per request, not read from Envoy's
            per-cluster histograms (which do not separate subsets).
    """

    requests: int
    p50_ms: float | None
    p99_ms: float | None
    envoy_p50_ms: float | None = None
    envoy_p99_ms: float | None = None
    source: str = "probe"

    def as_json(self) -> dict[str, Any]:
        """Return the signal as JSON (journal, ``gloo-nb rollout --json``).

        Returns:
            ``{requests, p50Ms, p99Ms, envoyUpstreamP50Ms, envoyUpstreamP99Ms, source}``.
        """
        return {"requests": self.requests, "p50Ms": self.p50_ms, "p99Ms": self.p99_ms,
                "envoyUpstreamP50Ms": self.envoy_p50_ms, "envoyUpstreamP99Ms": self.envoy_p99_ms,
                "source": self.source}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LatencySignal:
        """Read :meth:`as_json` back (a resumed run's last proof).

        Args:
            data: The JSON object.

        Returns:
            The signal.
        """
        def num(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        return cls(int(data.get("requests") or 0), num("p50Ms"), num("p99Ms"), num("envoyUpstreamP50Ms"),
                   num("envoyUpstreamP99Ms"), str(data.get("source") or "probe"))


def latency_signal(round_trips_ms: Sequence[float], upstream_ms: Sequence[float | None] = ()) -> LatencySignal:
    """p50/p99 of a set of requests.

    Args:
        round_trips_ms: The probe's round trip of each answered request, ms.
        upstream_ms: Envoy's ``x-envoy-upstream-service-time`` of each (None where absent).

    Returns:
        The signal.
    """
    envoy = [v for v in upstream_ms if v is not None]
    return LatencySignal(len(round_trips_ms), percentile(round_trips_ms, 50), percentile(round_trips_ms, 99),
                         percentile(envoy, 50), percentile(envoy, 99))


def attribute_latency(by_subset: Mapping[str, int], round_trips_ms: Sequence[float],
                      upstream_ms: Sequence[float | None] = ()) -> dict[str, LatencySignal]:
    """The probe's latency per subset, attributed only where Envoy's counters allow it.

    Args:
        by_subset: Subset -> requests Envoy's per-host counters attribute to it during the probe.
        round_trips_ms: The probe's round trip of each answered request, ms.
        upstream_ms: Envoy's upstream service time of each answered request (None where absent).

    Returns:
        ``{subset: signal}`` when every counted request went to one subset; ``{MIXED: signal}`` when they
        were split (the probe as a whole); ``{}`` without answered requests.
    """
    if not round_trips_ms:
        return {}
    served = [s for s, n in by_subset.items() if n > 0]
    key = served[0] if len(served) == 1 else MIXED
    return {key: latency_signal(round_trips_ms, upstream_ms)}


@dataclass(frozen=True)
class SignalThresholds:
    """When a rollout refuses to promote the canary (default: never; both off).

    Attributes:
        max_error_rate: The highest share (0..1) of the canary's requests Envoy may have counted as 5xx
            (its hosts' ``rq_error``) in the last proof; None: off.
        max_p99_ms: The highest p99 latency (ms, measured by the probe) of the canary's requests in the last
            proof; None: off.
    """

    max_error_rate: float | None = None
    max_p99_ms: float | None = None

    def __post_init__(self) -> None:
        """Check the thresholds; raise :class:`UsageError` with a one-line message naming the flag."""
        if self.max_error_rate is not None and not 0.0 <= self.max_error_rate <= 1.0:
            raise UsageError(f"--max-error-rate must be a percentage within 0..100, got "
                             f"{100 * self.max_error_rate:g}")
        if self.max_p99_ms is not None and not self.max_p99_ms > 0:
            raise UsageError(f"--max-p99-ms must be a positive number of milliseconds, got {self.max_p99_ms:g}")

    @property
    def active(self) -> bool:
        """Whether any threshold is set."""
        return self.max_error_rate is not None or self.max_p99_ms is not None

    def as_json(self) -> dict[str, Any]:
        """Return the thresholds as JSON (``maxErrorRate`` as a share 0..1, ``maxP99Ms``)."""
        return {"maxErrorRate": self.max_error_rate, "maxP99Ms": self.max_p99_ms}

    @classmethod
    def parse(cls, max_error_rate: str | float | None = None, max_p99_ms: str | float | None = None
              ) -> SignalThresholds:
        """Build thresholds from the CLI's and the notebooks' values (error rate in percent).

        Args:
            max_error_rate: The highest canary 5xx share in percent (``1`` or ``"1"`` is 1 %); None or ``""``: off.
            max_p99_ms: The highest canary p99 in ms; None or ``""``: off.

        Returns:
            The thresholds.

        Raises:
            UsageError: A value is not a number; the message names the flag.
        """
        def number(value: str | float | None, flag: str) -> float | None:
            if value is None or (isinstance(value, str) and not value.strip()):
                return None
            try:
                return float(value)
            except ValueError:
                raise UsageError(f"{flag} must be a number, got {value!r}") from None

        rate = number(max_error_rate, "--max-error-rate")
        return cls(None if rate is None else rate / 100, number(max_p99_ms, "--max-p99-ms"))


@dataclass(frozen=True)
class CanarySignals:
    """The canary's golden signals over the probes of one proof.

    Attributes:
        step: The proven step the probes belong to.
        requests: Requests Envoy's counters attribute to the canary (all probes together).
        errors: Of them, the 5xx Envoy counted (None: not measured).
        p99_ms: The highest p99 round trip of a probe whose requests all reached the canary (None: none did).
    """

    step: str
    requests: int
    errors: int | None
    p99_ms: float | None

    @property
    def error_rate(self) -> float | None:
        """The canary's 5xx share (None: not measured, or no request reached it)."""
        return None if self.errors is None or not self.requests else self.errors / self.requests


def canary_signals(step: str, probes: Iterable[Mapping[str, Any]], canary: str) -> CanarySignals:
    """The canary's signals from a proof's ``rollout.probe`` records.

    Args:
        step: The step the probes proved.
        probes: ``rollout.probe`` journal data (``bySubset``, ``errorsBySubset``, ``latencyBySubset``).
        canary: The canary subset value.

    Returns:
        The signals (errors None when no probe measured 5xx).
    """
    requests, errors, measured = 0, 0, False
    p99: float | None = None
    for data in probes:
        requests += int((data.get("bySubset") or {}).get(canary, 0))
        errs = data.get("errorsBySubset")
        if errs is not None:
            measured = True
            errors += int(errs.get(canary, 0))
        lat = (data.get("latencyBySubset") or {}).get(canary)
        if lat is not None:
            value = LatencySignal.from_json(lat).p99_ms
            if value is not None and (p99 is None or value > p99):
                p99 = value
    return CanarySignals(step, requests, errors if measured else None, p99)


GuardResultLike = tuple[bool, str]
"""``(ok, reason)`` of the signals guard (the machine wraps it in a ``GuardResult``)."""


def _pct(x: float) -> str:
    return f"{100 * x:.2f}".rstrip("0").rstrip(".")


def signals_guard(thresholds: SignalThresholds, signals: CanarySignals | None, canary: str) -> GuardResultLike:
    """Whether the last proof's canary signals allow the next promotion.

    Args:
        thresholds: The thresholds (a guard only runs when one is set).
        signals: The last proof's canary signals (None: no step proven yet).
        canary: ``key=value`` of the canary subset, for the reason.

    Returns:
        ``(ok, reason)``. A threshold whose signal was not measured refuses: a guard never passes on a
        number it did not see.
    """
    if signals is None:
        return True, "no proof yet to judge the canary's signals by"
    problems: list[str] = []
    seen: list[str] = []
    if thresholds.max_error_rate is not None:
        rate = signals.error_rate
        if rate is None:
            problems.append(f"the canary's 5xx share was not measured in the proof of {signals.step} "
                            f"(max {_pct(thresholds.max_error_rate)} %)")
        elif rate > thresholds.max_error_rate:
            problems.append(f"canary {canary} answered {signals.errors} of {signals.requests} requests 5xx "
                            f"({_pct(rate)} %) in the proof of {signals.step}, above the max error rate "
                            f"{_pct(thresholds.max_error_rate)} %")
        else:
            seen.append(f"5xx {_pct(rate)} % <= {_pct(thresholds.max_error_rate)} %")
    if thresholds.max_p99_ms is not None:
        p99 = signals.p99_ms
        if p99 is None:
            problems.append(f"the canary's p99 latency was not measured in the proof of {signals.step} "
                            f"(no probe reached {canary} alone; max {thresholds.max_p99_ms:g} ms)")
        elif p99 > thresholds.max_p99_ms:
            problems.append(f"canary {canary} p99 latency {p99:.1f} ms (measured by the probe) in the proof of "
                            f"{signals.step}, above the max {thresholds.max_p99_ms:g} ms")
        else:
            seen.append(f"p99 {p99:.1f} ms <= {thresholds.max_p99_ms:g} ms")
    if problems:
        return False, "refusing to promote: " + "; ".join(problems)
    return True, f"canary {canary} in the proof of {signals.step}: " + ", ".join(seen)

