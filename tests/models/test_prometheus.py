"""Prometheus answers: range and instant queries, errors, counter resets, histogram quantiles, Envoy cluster steps."""

from __future__ import annotations

import gzip
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gloo_nb.errors import BadDataError
from gloo_nb.models.prometheus import (
    PrometheusError,
    Series,
    bucket_quantile,
    cluster_steps,
    control_plane_series,
    increases,
    parse_prometheus,
    read_prometheus,
)

pytestmark = pytest.mark.unit

T0 = 1_765_000_000.0  # step starts, 30 s apart


def _matrix(*series: tuple[dict[str, str], list[float | str]], step: float = 30.0) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": metric, "values": [[T0 + i * step, str(v)] for i, v in enumerate(values)]}
        for metric, values in series]}}


def _rq(cluster: str, pod: str, values: list[float | str], name: str = "envoy_cluster_upstream_rq_total",
        **labels: str) -> tuple[dict[str, str], list[float | str]]:
    return {"__name__": name, "envoy_cluster_name": cluster, "pod": pod, **labels}, values


def test_a_range_query_answer() -> None:
    answer = _matrix(_rq("echo-v1", "gateway-proxy-0", [0, 10, "NaN", 30]))
    (series,) = parse_prometheus(answer, name="rq.json")
    assert series.name == "envoy_cluster_upstream_rq_total" and series.metric["pod"] == "gateway-proxy-0"
    assert series.times == (T0, T0 + 30, T0 + 60, T0 + 90)
    assert series.values[:2] == (0.0, 10.0) and math.isnan(series.values[2])
    assert series.points()[0] == (datetime.fromtimestamp(T0, UTC), 0.0)


def test_an_instant_query_answer_and_a_scalar() -> None:
    vector = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"__name__": "up", "job": "envoy"}, "value": [T0, "1"]},
        {"metric": {"__name__": "up", "job": "gloo"}, "value": [T0, "+Inf"]}]}}
    one, two = parse_prometheus(vector)
    assert (one.metric["job"], one.values) == ("envoy", (1.0,)) and two.values == (math.inf,)
    (scalar,) = parse_prometheus({"status": "success", "data": {"resultType": "scalar", "result": [T0, "2.5"]}})
    assert scalar.metric == {} and scalar.values == (2.5,)


@pytest.mark.parametrize(("answer", "expected"), [
    ({"status": "error", "errorType": "bad_data", "error": "parse error at char 5"},
     "rq.json: Prometheus answered status 'error': bad_data: parse error at char 5: fix the query"),
    ({"kind": "Event"}, "rq.json: not a Prometheus query answer (no status): save the JSON of"),
    ({"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "x"]]}]}},
     "rq.json: field data.result[0].values[0]: expected a number or a string of one, got 'x'"),
    ({"status": "success", "data": {"resultType": "streams", "result": []}},
     "rq.json: field data.resultType: 'streams' is not matrix"),
])
def test_bad_answers_are_one_line(answer: Any, expected: str) -> None:
    with pytest.raises(PrometheusError) as caught:
        parse_prometheus(answer, name="rq.json")
    assert isinstance(caught.value, BadDataError)
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)


def test_files_plain_gzip_missing_and_not_json(tmp_path: Path) -> None:
    answer = _matrix(_rq("c", "p", [1, 2]))
    (tmp_path / "a.json").write_text(json.dumps(answer))
    with gzip.open(tmp_path / "a.json.gz", "wt") as f:
        f.write(json.dumps(answer))
    assert read_prometheus(tmp_path / "a.json") == read_prometheus(tmp_path / "a.json.gz")
    with pytest.raises(PrometheusError, match="cannot read the Prometheus answer"):
        read_prometheus(tmp_path / "none.json")
    (tmp_path / "b.json").write_text("<html>login</html>")
    with pytest.raises(PrometheusError, match=r"b\.json: not JSON .*curl -G"):
        read_prometheus(tmp_path / "b.json")


def test_increase_handles_a_counter_reset_like_promql() -> None:
    # An Envoy restart between the 3rd and 4th samples: 120 -> 7 counts 7 new requests, not -113.
    series = Series({}, (0.0, 30.0, 60.0, 90.0, 120.0), (100.0, 110.0, 120.0, 7.0, 17.0))
    assert [inc for _, _, inc in increases(series)] == [10.0, 10.0, 7.0, 10.0]
    assert increases(series)[0][:2] == (0.0, 30.0)
    assert [inc for _, _, inc in increases(Series({}, (0.0, 30.0, 60.0), (1.0, math.nan, 4.0)))] == [3.0]


@pytest.mark.parametrize(("q", "buckets", "expected"), [
    # The worked example of promql/quantile.go's interpolation: rank 0.9*27892 falls in (0.5, 1].
    (0.9, [(0.5, 24101.0), (1.0, 26351.0), (math.inf, 27892.0)], 0.5 + 0.5 * ((0.9 * 27892 - 24101) / 2250)),
    (0.5, [(10.0, 50.0), (20.0, 100.0), (math.inf, 100.0)], 10.0),   # from 0 in the first bucket
    (0.25, [(10.0, 50.0), (20.0, 100.0), (math.inf, 100.0)], 5.0),
    (0.99, [(10.0, 50.0), (20.0, 100.0), (math.inf, 100.0)], 19.8),
    (0.5, [(10.0, 0.0), (math.inf, 5.0)], 10.0),                      # in +Inf: the highest finite bound
    (0.5, [(10.0, 5.0), (20.0, 3.0), (math.inf, 10.0)], 10.0 * (5.0 / 5.0)),  # made monotonic
    (0.5, [(10.0, 2.0), (10.0, 3.0), (math.inf, 10.0)], 10.0),          # same bound summed: 5 of 10
])
def test_bucket_quantile_is_promqls(q: float, buckets: list[tuple[float, float]], expected: float) -> None:
    assert bucket_quantile(q, buckets) == pytest.approx(expected)


def test_bucket_quantile_edges() -> None:
    assert math.isnan(bucket_quantile(0.5, [(10.0, 5.0)]))                    # no +Inf
    assert math.isnan(bucket_quantile(0.5, [(10.0, 0.0), (math.inf, 0.0)]))  # no observations
    assert bucket_quantile(-1, [(math.inf, 1.0)]) == -math.inf and bucket_quantile(2, []) == math.inf


def test_cluster_steps_from_two_replicas_with_a_restart() -> None:
    bucket = "envoy_cluster_upstream_rq_time_bucket"
    answer = _matrix(
        _rq("echo-v1", "gateway-proxy-0", [0, 60, 120]),
        _rq("echo-v1", "gateway-proxy-1", [500, 530, 30]),  # restarted in the 2nd step: +30, not -500
        _rq("echo-v1", "gateway-proxy-0", [0, 57, 117], "envoy_cluster_upstream_rq_xx", envoy_response_code_class="2"),
        _rq("echo-v1", "gateway-proxy-0", [0, 3, 3], "envoy_cluster_upstream_rq_xx", envoy_response_code_class="5"),
        _rq("echo-v1", "gateway-proxy-0", [0, 40, 40], bucket, le="5"),
        _rq("echo-v1", "gateway-proxy-0", [0, 60, 60], bucket, le="10"),
        _rq("echo-v1", "gateway-proxy-0", [0, 60, 60], bucket, le="+Inf"),
        _rq("echo-v2", "gateway-proxy-0", [10, 10, 16]),
        ({"__name__": "envoy_server_live", "pod": "gateway-proxy-0"}, [1, 1, 1]),
    )
    steps = cluster_steps(parse_prometheus(answer))
    assert [(s.cluster, s.requests) for s in steps] == [("echo-v1", 90.0), ("echo-v1", 90.0), ("echo-v2", 0.0),
                                                        ("echo-v2", 6.0)]
    first, second = steps[0], steps[1]
    assert first.start == datetime.fromtimestamp(T0, UTC) and first.end == datetime.fromtimestamp(T0 + 30, UTC)
    assert first.rate == pytest.approx(3.0) and first.replicas == 2
    assert (first.errors_5xx, first.share_5xx) == (3.0, pytest.approx(3 / 90))
    assert first.p50_ms == pytest.approx(5 * 30 / 40) and first.p99_ms == pytest.approx(5 + 5 * (59.4 - 40) / 20)
    assert (second.errors_5xx, second.share_5xx) == (0.0, 0.0)
    assert second.p50_ms is None  # no request time observed in that step
    assert steps[2].errors_5xx is None and steps[2].p99_ms is None  # echo-v2: no _xx, no histogram: unknown


def test_per_code_counters_when_there_is_no_total() -> None:
    answer = _matrix(_rq("c", "p", [0, 8], "envoy_cluster_upstream_rq", envoy_response_code="200"),
                     _rq("c", "p", [0, 2], "envoy_cluster_upstream_rq", envoy_response_code="503"))
    (step,) = cluster_steps(parse_prometheus(answer))
    assert (step.requests, step.errors_5xx, step.share_5xx) == (10.0, 2.0, 0.2)


def test_control_plane_series() -> None:
    answer = _matrix(({"__name__": "gloo_edge_translation_time_sec_bucket", "translator_name": "gloo", "le": "1"},
                      [1, 2]),
                     ({"__name__": "api_gloosnapshot_gloo_solo_io_sync_time_sec", "syncer_name": "x"}, [0.1, 0.2]),
                     _rq("c", "p", [0, 1]))
    names = [s.name for s in control_plane_series(parse_prometheus(answer))]
    assert names == ["gloo_edge_translation_time_sec_bucket", "api_gloosnapshot_gloo_solo_io_sync_time_sec"]
