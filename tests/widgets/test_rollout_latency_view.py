"""Latency beside the split (issue 16): the probe measures it, the proof table, the text report and JSON show it."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gloo_nb.app.probe import probe
from gloo_nb.app.rollout import StepReport, probe_json
from gloo_nb.rollout.effects import ProbeObservation
from gloo_nb.rollout.signals import MIXED, attribute_latency, latency_signal
from gloo_nb.widgets.rollout import probe_rows, probes_html

pytestmark = pytest.mark.unit


class _Slow(BaseHTTPRequestHandler):
    """Answers after 30 ms, with the header Envoy's router adds (``x-envoy-upstream-service-time``)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        time.sleep(0.03)
        body = b"version:v2"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-envoy-upstream-service-time", "31")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_probe_measures_each_answered_requests_round_trip_and_envoys_upstream_time() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = probe(f"http://127.0.0.1:{server.server_address[1]}/x", 6, concurrency=2)
    finally:
        server.shutdown()
        server.server_close()
    assert len(result.round_trips_ms) == len(result.upstream_ms) == len(result.responses) == 6
    assert all(ms >= 30.0 for ms in result.round_trips_ms)
    assert result.upstream_ms == [31.0] * 6
    sig = attribute_latency({"v2": 6}, result.round_trips_ms, result.upstream_ms)["v2"]
    assert sig.p50_ms is not None and sig.p50_ms >= 30.0 and sig.envoy_p99_ms == 31.0


def test_a_request_without_an_answer_has_no_latency() -> None:
    result = probe("http://127.0.0.1:9/x", 2)  # discard port: nothing listens
    assert result.errors and result.round_trips_ms == [] and result.upstream_ms == []


def _report() -> StepReport:
    with_header = ProbeObservation(152, {200: 152}, {"v2": 152}, seconds=0.3, errors_by_subset={},
                                   latency_by_subset={"v2": latency_signal([10.0] * 150 + [400.0] * 2, [8.0] * 152)})
    without = ProbeObservation(100, {200: 100}, {"v1": 90, "v2": 10}, seconds=0.2, errors_by_subset={},
                               latency_by_subset={MIXED: latency_signal([3.0] * 100)})
    return StepReport("phase2-10", "proven", probes=[("without-header", without), ("with-header", with_header)],
                      verdicts=[("without-header", True, "ok"), ("with-header", True, "ok")])


def test_the_proof_table_shows_p50_p99_per_subset_labelled_as_the_probes() -> None:
    report = _report()
    html = probes_html(report, probe_rows(report))
    assert "<th>latency p50 / p99 (measured by the probe)</th>" in html
    assert "v2: 10.0 ms / 400.0 ms (Envoy upstream 8.0 ms / 8.0 ms)" in html
    # A probe split between subsets is shown as a whole, never spread over v1 and v2.
    assert "split (not attributable): 3.0 ms / 3.0 ms" in html
    assert "<td>-</td>" not in html.split("with-header")[1].split("</tr>")[0]


def test_older_observations_without_latency_show_a_dash() -> None:
    old = ProbeObservation(10, {200: 10}, {"v1": 10})
    report = StepReport("phase1", "proven", probes=[("p", old)])
    html = probes_html(report, probe_rows(report))
    row = html.split("<tbody>")[1]
    assert row.count("<td>-</td>") == 1  # the latency cell (the success rate says "- of 10")


def test_text_and_json_carry_the_signals_additively() -> None:
    report = _report()
    text = report.text()
    assert "latency (measured by the probe): v2 p50 10.0 ms p99 400.0 ms" in text
    assert "latency (measured by the probe): split p50 3.0 ms p99 3.0 ms" in text
    doc = json.loads(json.dumps(probe_json(*report.probes[1])))
    # The contract's fields are unchanged; errorsBySubset and latencyBySubset are added.
    assert {k: doc[k] for k in ("name", "sent", "bySubset", "statuses", "other")} == {
        "name": "with-header", "sent": 152, "bySubset": {"v2": 152}, "statuses": {"200": 152}, "other": 0}
    assert doc["errorsBySubset"] == {}
    assert doc["latencyBySubset"]["v2"] == {"requests": 152, "p50Ms": 10.0, "p99Ms": 400.0,
                                            "envoyUpstreamP50Ms": 8.0, "envoyUpstreamP99Ms": 8.0,
                                            "source": "probe"}
    none = probe_json("p", ProbeObservation(10, {200: 10}, {"v1": 10}))
    assert none["errorsBySubset"] is None and none["latencyBySubset"] is None
