"""Prometheus query answers (``/api/v1/query_range``, ``/api/v1/query`` JSON) and Envoy's cluster stats per step.

A range query answers ``{"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {...},
"values": [[t, "v"], ...]}]}}``; an instant query ``"vector"`` results with one ``"value"`` each (also
``"scalar"``/``"string"``: one unnamed point). Values are strings (``"NaN"``, ``"+Inf"`` allowed).

Envoy's stats as Gloo's Prometheus scrapes them from each gateway-proxy (``/stats/prometheus``, tags extracted as
labels): ``envoy_cluster_upstream_rq_total{envoy_cluster_name}`` (every request), ``envoy_cluster_upstream_rq
{envoy_cluster_name, envoy_response_code}``, ``envoy_cluster_upstream_rq_xx{envoy_cluster_name,
envoy_response_code_class}`` and the histogram ``envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name, le}``
(milliseconds). :func:`cluster_steps` takes the raw counters of a range query (one series per pod) and gives per
cluster and step the request count and rate, the 5xx share and p50/p99, the way PromQL's ``increase`` and
``histogram_quantile`` would: counter resets (an Envoy restart) are handled as ``extrapolatedRate`` does
(``promql/functions.go``: a drop adds the value before it back), quantiles interpolate linearly within the bucket
(``promql/quantile.go`` ``BucketQuantile``).

Gloo's own control-plane metrics (OpenCensus views exported to Prometheus, names with ``/`` and ``.`` made
``_``: ``gloo_edge_translation_time_sec`` from ``pkg/utils/statsutils/translation_metrics.go``,
``api_gloosnapshot_gloo_solo_io_sync_time_sec``, ``gloo_solo_io_sanitizer_routes_replaced``,
``validation_gateway_solo_io_valid_config``...) are given as plain series by :func:`control_plane_series`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from gloo_nb._files import binary_content
from gloo_nb.errors import BadDataError

__all__ = ["CONTROL_PLANE_PREFIXES", "ClusterStep", "PrometheusError", "Series", "bucket_quantile",
           "cluster_steps", "control_plane_series", "increases", "parse_prometheus", "read_prometheus"]

CONTROL_PLANE_PREFIXES = ("gloo_edge_", "gloo_solo_io_", "api_gloosnapshot_gloo_solo_io_", "api_gloo_solo_io_",
                          "gateway_solo_io_", "validation_gateway_solo_io_", "eds_gloo_solo_io_",
                          "discovery_gloo_solo_io_", "setup_gloo_solo_io_", "gloosnapshot_gloo_solo_io_")
"""Name prefixes of Gloo's control-plane metrics as its Prometheus exporter writes them (OpenCensus names such as
``gloo.solo.io/sanitizer/routes_replaced`` with ``.`` and ``/`` made ``_``)."""

_HOW = ("save the JSON of a Prometheus HTTP API answer, e.g. curl -G 'http://PROMETHEUS/api/v1/query_range' "
        "--data-urlencode 'query=envoy_cluster_upstream_rq_total' -d start=... -d end=... -d step=30s > FILE")


class PrometheusError(BadDataError):
    """A Prometheus answer cannot be read: not JSON, not a query answer, or ``status: error``."""


@dataclass(frozen=True, slots=True)
class Series:
    """One time series of a query result.

    Attributes:
        metric: Its labels (``__name__`` when the query kept it).
        times: Sample times, Unix seconds, ascending.
        values: Sample values (``NaN``/``inf`` as floats).
    """

    metric: Mapping[str, str]
    times: tuple[float, ...]
    values: tuple[float, ...]

    @property
    def name(self) -> str:
        """``__name__``, or empty when the query dropped it (``rate(...)``, ``sum(...)``)."""
        return self.metric.get("__name__", "")

    def points(self) -> list[tuple[datetime, float]]:
        """The samples as (UTC time, value)."""
        return [(datetime.fromtimestamp(t, UTC), v) for t, v in zip(self.times, self.values, strict=True)]


def _float(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)  # "NaN", "+Inf", "-Inf" included
        except ValueError:
            pass
    raise PrometheusError(f"{where}: expected a number or a string of one, got {value!r}")


def _sample(pair: Any, where: str) -> tuple[float, float]:
    if not isinstance(pair, list) or len(pair) != 2:
        raise PrometheusError(f"{where}: expected a sample [time, \"value\"], got {pair!r:.80}")
    return _float(pair[0], where), _float(pair[1], where)


def parse_prometheus(answer: Any, *, name: str = "<prometheus>") -> list[Series]:
    """The series of one decoded Prometheus HTTP API answer (pure).

    Args:
        answer: The decoded JSON.
        name: The file it came from, for errors.

    Returns:
        The series, in the answer's order.

    Raises:
        PrometheusError: Not a query answer, ``status: error``, or a malformed field (one line naming the field).
    """
    if not isinstance(answer, Mapping) or "status" not in answer:
        raise PrometheusError(f"{name}: not a Prometheus query answer (no status): {_HOW}")
    if answer["status"] != "success":
        raise PrometheusError(f"{name}: Prometheus answered status {answer['status']!r}: "
                              f"{answer.get('errorType', '')}: {answer.get('error', '')}: fix the query and save "
                              "the answer again")
    data = answer.get("data")
    if not isinstance(data, Mapping):
        raise PrometheusError(f"{name}: field data: expected an object with resultType and result: {_HOW}")
    kind, result = data.get("resultType"), data.get("result")
    if kind in ("scalar", "string"):
        t, v = _sample(result, f"{name}: field data.result")
        return [Series({}, (t,), (v,))]
    if kind not in ("matrix", "vector"):
        raise PrometheusError(f"{name}: field data.resultType: {kind!r} is not matrix, vector, scalar or string")
    if not isinstance(result, list):
        raise PrometheusError(f"{name}: field data.result: expected a list of series")
    out: list[Series] = []
    for i, item in enumerate(result):
        where = f"{name}: field data.result[{i}]"
        if not isinstance(item, Mapping):
            raise PrometheusError(f"{where}: expected an object with metric and values")
        metric = item.get("metric") or {}
        if not isinstance(metric, Mapping):
            raise PrometheusError(f"{where}.metric: expected an object of labels")
        labels = {str(k): str(v) for k, v in metric.items()}
        if kind == "vector":
            t, v = _sample(item.get("value"), f"{where}.value")
            out.append(Series(labels, (t,), (v,)))
            continue
        values = item.get("values")
        if not isinstance(values, list):
            raise PrometheusError(f"{where}.values: expected a list of [time, \"value\"]"
                                  + (" (native histograms are not read)" if "histograms" in item else ""))
        samples = [_sample(p, f"{where}.values[{j}]") for j, p in enumerate(values)]
        samples.sort()
        out.append(Series(labels, tuple(t for t, _ in samples), tuple(v for _, v in samples)))
    return out


def read_prometheus(path: str | os.PathLike[str]) -> list[Series]:
    """The series of one saved Prometheus answer (plain or ``.gz``): :func:`parse_prometheus` of its JSON.

    Args:
        path: The file.

    Returns:
        The series.

    Raises:
        PrometheusError: The file cannot be read or is not a Prometheus answer.
    """
    name = os.fspath(path)
    data = binary_content(path, PrometheusError, "the Prometheus answer")
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise PrometheusError(f"{name}: not JSON ({error}): {_HOW}") from None
    return parse_prometheus(answer, name=name)


# --- counters and histograms ------------------------------------------------------------------------------------

def increases(series: Series) -> list[tuple[float, float, float]]:
    """A counter's increase between consecutive samples, counter resets handled as PromQL's ``increase``.

    PromQL (``promql/functions.go`` ``extrapolatedRate``) adds the value before each drop back: a counter that
    falls restarted from zero (an Envoy restart), so the increase over the drop is the new value. Samples that are
    NaN are skipped (no data).

    Args:
        series: A counter's samples.

    Returns:
        ``(step start, step end, increase)`` per pair of consecutive samples.
    """
    out: list[tuple[float, float, float]] = []
    prev_t: float | None = None
    prev_v = 0.0
    for t, v in zip(series.times, series.values, strict=True):
        if math.isnan(v):
            continue
        if prev_t is not None:
            out.append((prev_t, t, v - prev_v if v >= prev_v else v))
        prev_t, prev_v = t, v
    return out


def bucket_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """PromQL's ``histogram_quantile`` over classic buckets (``promql/quantile.go`` ``BucketQuantile``).

    Buckets are sorted by upper bound and those with the same bound summed (``coalesceBuckets``); counts are made
    monotonic (``ensureMonotonic``); the quantile is interpolated linearly inside its bucket, from 0 for the first
    bucket when its bound is positive; in the ``+Inf`` bucket it is the highest finite bound.

    Args:
        q: The quantile, 0 to 1.
        buckets: ``(upper bound, cumulative count)`` pairs; one must be ``+Inf``.

    Returns:
        The quantile; NaN with fewer than two buckets, no ``+Inf`` bucket or no observations.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    merged: dict[float, float] = {}
    for bound, count in buckets:
        merged[bound] = merged.get(bound, 0.0) + count
    ordered = sorted(merged.items())
    if not ordered or not math.isinf(ordered[-1][0]):
        return math.nan
    counts: list[float] = []
    for _, count in ordered:
        counts.append(max(count, counts[-1]) if counts else count)
    if len(ordered) < 2:
        return math.nan
    observations = counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = next((i for i in range(len(ordered) - 1) if counts[i] >= rank), len(ordered) - 1)
    if b == len(ordered) - 1:
        return ordered[-2][0]
    if b == 0 and ordered[0][0] <= 0:
        return ordered[0][0]
    start, end, count = 0.0, ordered[b][0], counts[b]
    if b > 0:
        start = ordered[b - 1][0]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * (rank / count)


@dataclass
class ClusterStep:
    """One Envoy cluster over one step of a range query, summed over every replica scraped.

    Attributes:
        cluster: ``envoy_cluster_name`` (Gloo's cluster name with ``:`` as Envoy's stats write it, ``_``).
        start: The step's start (the earlier sample), UTC.
        end: The step's end, UTC.
        requests: Requests in the step (``increase`` of ``envoy_cluster_upstream_rq_total``; else of the per-code
            ``envoy_cluster_upstream_rq`` or the ``_xx`` classes, summed), or None when no counter says.
        rate: ``requests`` per second, or None.
        errors_5xx: 5xx responses in the step (``_xx`` class 5, else codes 5..), or None when neither is present.
        share_5xx: ``errors_5xx / requests`` (None without requests).
        p50_ms: Median upstream request time from ``envoy_cluster_upstream_rq_time_bucket``, or None.
        p99_ms: 99th percentile, or None.
        replicas: How many series (pods) the step sums.
    """

    cluster: str
    start: datetime
    end: datetime
    requests: float | None = None
    rate: float | None = None
    errors_5xx: float | None = None
    share_5xx: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    replicas: int = 0
    _buckets: dict[float, float] = field(default_factory=dict, repr=False)


_TOTAL = ("envoy_cluster_upstream_rq_total",)
_BY_CODE = "envoy_cluster_upstream_rq"
_BY_CLASS = "envoy_cluster_upstream_rq_xx"
_TIME_BUCKET = "envoy_cluster_upstream_rq_time_bucket"


def _le(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def cluster_steps(series: Sequence[Series]) -> list[ClusterStep]:
    """Per Envoy cluster and step: requests, rate, 5xx share and p50/p99, from raw counters of a range query.

    Each series (one per pod and label set) is turned into per-step increases first, then summed per cluster and
    step (``sum by (envoy_cluster_name) (increase(...))``). Series of other metrics are ignored.

    Args:
        series: The series of one or more range queries over the same steps.

    Returns:
        The steps, ordered by cluster and time.
    """
    steps: dict[tuple[str, float, float], ClusterStep] = {}
    sums: dict[tuple[str, float, float], dict[str, float]] = {}
    pods: dict[tuple[str, float, float], set[tuple[tuple[str, str], ...]]] = {}

    def step(cluster: str, t0: float, t1: float) -> tuple[tuple[str, float, float], dict[str, float]]:
        key = (cluster, t0, t1)
        if key not in steps:
            steps[key] = ClusterStep(cluster, datetime.fromtimestamp(t0, UTC), datetime.fromtimestamp(t1, UTC))
            sums[key] = {}
            pods[key] = set()
        return key, sums[key]

    for s in series:
        cluster = s.metric.get("envoy_cluster_name")
        if cluster is None or s.name not in (*_TOTAL, _BY_CODE, _BY_CLASS, _TIME_BUCKET):
            continue
        instance = tuple(sorted((k, v) for k, v in s.metric.items()
                                if k not in ("__name__", "le", "envoy_response_code", "envoy_response_code_class")))
        for t0, t1, inc in increases(s):
            key, acc = step(cluster, t0, t1)
            pods[key].add(instance)
            if s.name in _TOTAL:
                acc["total"] = acc.get("total", 0.0) + inc
            elif s.name == _BY_CODE:
                code = s.metric.get("envoy_response_code", "")
                acc["codes"] = acc.get("codes", 0.0) + inc
                if code.startswith("5"):
                    acc["codes5"] = acc.get("codes5", 0.0) + inc
            elif s.name == _BY_CLASS:
                acc["classes"] = acc.get("classes", 0.0) + inc
                if s.metric.get("envoy_response_code_class") == "5":
                    acc["class5"] = acc.get("class5", 0.0) + inc
            else:
                bound = _le(s.metric.get("le", ""))
                if bound is not None:
                    buckets = steps[key]._buckets
                    buckets[bound] = buckets.get(bound, 0.0) + inc
    for key, st in steps.items():
        acc = sums[key]
        st.replicas = len(pods[key])
        st.requests = acc.get("total", acc.get("codes", acc.get("classes")))
        seconds = key[2] - key[1]
        if st.requests is not None and seconds > 0:
            st.rate = st.requests / seconds
        if "classes" in acc:
            st.errors_5xx = acc.get("class5", 0.0)
        elif "codes" in acc:
            st.errors_5xx = acc.get("codes5", 0.0)
        if st.errors_5xx is not None and st.requests:
            st.share_5xx = st.errors_5xx / st.requests
        if st._buckets:
            for q, attr in ((0.5, "p50_ms"), (0.99, "p99_ms")):
                value = bucket_quantile(q, st._buckets.items())
                setattr(st, attr, None if math.isnan(value) else value)
    return [steps[k] for k in sorted(steps)]


def control_plane_series(series: Iterable[Series]) -> list[Series]:
    """Gloo's control-plane metrics among the series (:data:`CONTROL_PLANE_PREFIXES`), as they are.

    Args:
        series: Series of any query.

    Returns:
        Those whose ``__name__`` is one of Gloo's (translation time, snapshot syncs, sanitizer, validation...).
    """
    return [s for s in series if s.name.startswith(CONTROL_PLANE_PREFIXES)]
