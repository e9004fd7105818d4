"""The widgets on the seed scenario's incident (echo's typo blocks foxtrot; after the patch, a 404 replacement).

Inspections are built from translations of the seed manifests, with what is served and applied set to
the Envoy resources of the translation a real Gloo 1.3 would still serve: no sandbox needed.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from gloo_nb.analysis.probe import split
from gloo_nb.analysis.views import ROLE_COLOURS, weight_routes
from gloo_nb.app.connect import Inspection
from gloo_nb.app.manifests import read_manifests
from gloo_nb.app.probe import ProbeResult
from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_object
from gloo_nb.models.defaults import helm_default_settings_manifest
from gloo_nb.translate import Translator
from gloo_nb.widgets import (
    DriftGridView,
    InvalidRoutesView,
    ProbeView,
    TrafficWeightsView,
    TryRequestView,
    http_fetch,
)
from gloo_nb.xds.decode import ServedSnapshot

pytestmark = pytest.mark.unit

SEED = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "two-phase-canary" / "part2"
BASE = ["echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "foxtrot-v2.yaml", "echo-v2.yaml",
        "vs.yaml"]
GOOD = [*BASE, "rt-echo-2.yaml", "rt-foxtrot-3.yaml"]  # step 4: foxtrot weights 100/0
TYPO = [*BASE, "rt-echo-3.yaml", "rt-foxtrot-4.yaml"]  # step 5: echo's typo, foxtrot weights 0/100
R0, R1 = "gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"
FOXTROT = "foxtrot: prefix /foxtrot"
ECHO_CANARY = "echo: prefix /echo, stage=canary"
WEIGHTED_FOXTROT = "gloo-system_app #3 prefix /foxtrot"  # the weights view's label (its probe key)


def translate(files, patch=False):
    objects = {}
    for res in read_manifests([str(SEED / f) for f in files]).resources:
        objects[(res.kind, res.meta.namespace, res.meta.name)] = res
    if patch:
        manifest = helm_default_settings_manifest(profile="1.3")
        manifest["spec"]["gloo"]["invalidConfigPolicy"].update({"replaceInvalidRoutes": True,
                                                                 "invalidRouteResponseCode": 404})
        objects[("Settings", "gloo-system", "default")] = parse_object(manifest).resource
    return Translator("1.3").translate(Snapshot.from_resources(objects.values()))


def served(translation):
    e = translation.envoy
    return ServedSnapshot(list(e.listeners), list(e.route_configurations), list(e.clusters), list(e.endpoints))


@pytest.fixture(scope="module")
def blocked() -> Inspection:
    """Step 5: Gloo 1.3 keeps serving step 4; replica 1 still has step 4 too, replica 0 as well."""
    good, typo = translate(GOOD), translate(TYPO)
    assert typo.push.decision == "keep-last-good"
    return Inspection.build(typo, served(good), {R0: served(good), R1: served(good)}, {})


@pytest.fixture(scope="module")
def lagging() -> Inspection:
    """Step 6 (settings patch) served; replica 1 still applies step 4."""
    fixed = translate(TYPO, patch=True)
    return Inspection.build(fixed, served(fixed), {R0: served(fixed), R1: served(translate(GOOD))}, {})


# --- drift --------------------------------------------------------------------------------------


def test_drift_grid_shows_blocked_foxtrot_and_its_cause_on_click(blocked: Inspection) -> None:
    view = DriftGridView(blocked.drift)
    assert view.grid.sources == ["served", R0, R1]
    row = view.grid.routes.index(FOXTROT)
    cell = view.cells[view.shown.index(row)][2]
    # foxtrot is the victim (held back), echo's typo route the cause: never the same word or colour.
    assert cell.description == "held back" and cell.style.button_color == ROLE_COLOURS["blocked"]
    cause = view.cells[view.shown.index(view.grid.routes.index(ECHO_CANARY))][2]
    assert cause.description == "CAUSE" and cause.style.button_color == ROLE_COLOURS["cause"]
    assert cause.style.button_color != cell.style.button_color
    assert "[CAUSE]" in view.route_buttons[view.shown.index(view.grid.routes.index(ECHO_CANARY))].description
    cell.click()
    assert f"{R1}: blocked-by-last-known-good" in view.detail.value
    assert "echo-typo gloo-system} not found" in view.detail.value and "echo/echo-routes" in view.detail.value
    view.route_buttons[view.shown.index(row)].click()
    assert "resource: foxtrot/foxtrot-routes" in view.detail.value and "served:" in view.detail.value
    assert "replaced-by-fallback" in view.legend.value
    # Only drifted routes: the two blocked ones.
    view.show.value = "drifted"
    assert [view.grid.routes[i] for i in view.shown] == [ECHO_CANARY, FOXTROT]
    assert len(view.cells) == 2


def test_drift_grid_after_the_patch_shows_replaced_and_a_lagging_replica(lagging: Inspection) -> None:
    view = DriftGridView(lagging.drift, max_rows=1)
    assert view.grid.frame().loc[ECHO_CANARY].tolist() == [
        "replaced-by-fallback", "replaced-by-fallback", "replica-lagging"]
    assert len(view.shown) == 1 and "3 more route(s) not shown" in view.body.children[1].value
    view.cells[0][2].click()
    assert f"{R1} has echo_gloo-system {{version=v2}}, served has fallback 404" in view.detail.value


# --- invalid routes -----------------------------------------------------------------------------


def test_invalid_routes_table_effects_filter_and_sort(blocked: Inspection, lagging: Inspection) -> None:
    view = InvalidRoutesView.from_inspection(blocked)
    assert view.frame[["team", "routeResource", "effect"]].values.tolist() == [
        ["echo", "echo/echo-routes", "blocked change"], ["echo", "foxtrot/foxtrot-routes", "blocked change"]]
    assert view.table.value.count("<tr>") == 3 and "blocked change" in view.table.value
    assert "2 of 2" in view.count.value
    view.sort_by.value = "route"
    view.descending.value = True
    assert view.shown["route"].tolist() == [FOXTROT, ECHO_CANARY]
    assert view.table.value.index("prefix /foxtrot") < view.table.value.index("prefix /echo")
    assert view.team.options == ("(any)", "echo") and view.severity.options == ("(any)", "warning")
    view.severity.value = "warning"
    assert len(view.shown) == 2

    after = InvalidRoutesView.from_inspection(lagging)
    assert after.frame["effect"].tolist() == ["fallback 404"]
    assert "background:#bbdefb" in after.table.value
    after.effect.value = "fallback 404"
    assert len(after.shown) == 1


def test_invalid_routes_empty(lagging: Inspection) -> None:
    clean = Inspection.build(translate(GOOD), served(translate(GOOD)), {}, {})
    view = InvalidRoutesView.from_inspection(clean)
    assert len(view.frame) == 0 and "no findings" in view.table.value


# --- weights ------------------------------------------------------------------------------------


def test_weights_table_and_chart_configured_vs_served_vs_replicas_vs_observed(blocked: Inspection) -> None:
    assert weight_routes(blocked.routes_frame()) == [WEIGHTED_FOXTROT]
    probe = ProbeResult("http://gw/foxtrot", {}, ["200 version:v1"] * 40)
    probe.shares = split(probe.answers)
    view = TrafficWeightsView(blocked.routes_frame(), observed={WEIGHTED_FOXTROT: probe})
    assert view.route.value == WEIGHTED_FOXTROT
    html = view.table.value
    for header in ("intent", "served", R0, R1, "observed"):
        assert f"<th>{header}</th>" in html
    v1 = html[html.index("{version=v1}"):].split("</tr>")[0]
    assert [c.split("</td>")[0] for c in v1.split("<td>")[1:]] == ["0.0", "100.0", "100.0", "100.0", "100.0"]
    assert view.chart.format == "svg+xml" and b"<svg" in bytes(view.chart.value)
    ax = view.figure.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["intent", "served", R0, R1, "observed"]
    # Issue 16: short labels, the legend outside the plot area, a title that says what is shown.
    assert [t.get_text() for t in ax.get_xticklabels()] == ["v1", "v2"]
    FigureCanvasAgg(view.figure).draw()
    legend_box = ax.get_legend().get_window_extent()
    assert legend_box.x0 >= ax.get_window_extent().x1
    assert ax.get_title(loc="left").startswith(f"Share of requests per destination: {WEIGHTED_FOXTROT}")
    heights = [round(p.get_height()) for p in ax.patches]
    assert heights == [0, 100, 100, 0, 100, 0, 100, 0, 100, 0]  # per source: v1, v2


def test_weights_without_weighted_routes(lagging: Inspection) -> None:
    clean = Inspection.build(translate(GOOD[:-1] + ["rt-foxtrot-2.yaml"]), None, {}, {})
    view = TrafficWeightsView(clean.routes_frame())
    assert view.route.value is None and "no route has weighted destinations" in view.table.value
    assert view.figure is None


# --- try a request ------------------------------------------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = f"{self.path} stage={self.headers.get('stage', '')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_try_request_per_source_and_the_real_response(lagging: Inspection, gateway: str) -> None:
    view = TryRequestView(lagging.rows, fetch=http_fetch(gateway))
    view.path.value = "/echo/hi"
    view.headers.value = "stage: canary\n"
    view.button.click()
    assert view.result[["source", "action"]].values.tolist() == [
        ["intent", "fallback 404"], ["served", "fallback 404"], [R0, "fallback 404"],
        [R1, "echo_gloo-system {version=v2}"]]
    assert "response: <b>200</b> <code>/echo/hi stage=canary</code>" in view.output.value
    view.headers.value = ""
    view.button.click()
    assert set(view.result["action"]) == {"echo_gloo-system {version=v1}"}
    view.path.value = "/nowhere"
    view.button.click()
    assert set(view.result["match"]) == {"no match"} and "color:#c62828" in view.output.value


def test_try_request_input_errors_and_no_fetch(lagging: Inspection) -> None:
    view = TryRequestView(lagging.rows)
    view.path.value = "echo"
    view.button.click()
    assert "must start with" in view.output.value and view.result is None
    view.path.value = "/foxtrot"
    view.headers.value = "broken line"
    view.button.click()
    assert "name: value" in view.output.value
    view.headers.value = "host: anything.example"
    view.button.click()
    assert "response" not in view.output.value and len(view.result) == 4
    assert set(view.result["action"]) == {"foxtrot_gloo-system {version=v1} 0, foxtrot_gloo-system {version=v2} 100",
                                          "foxtrot_gloo-system {version=v1} 100, foxtrot_gloo-system {version=v2} 0"}


def test_http_fetch_reports_a_refused_connection() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    from gloo_nb.analysis.matching import Request

    assert http_fetch(f"http://127.0.0.1:{port}", timeout=2)(Request()) == (0, "ConnectionRefusedError")


# --- the probe ----------------------------------------------------------------------------------


def test_probe_view_sends_real_requests_moves_the_bar_and_shows_the_split(gateway: str) -> None:
    view = ProbeView(gateway, path="/foxtrot", requests=250)
    seen: list[int] = []
    view.progress.observe(lambda change: seen.append(change["new"]), names="value")
    view.headers.value = "stage: canary"
    result = view.button.click() or view.result
    assert result is not None and [(s.answer, s.count) for s in result.shares] == [("200 /foxtrot stage=canary", 250)]
    # The bar moved in about 1 % steps (not 250 comm messages) and ended full.
    assert seen[-1] == 250 and 50 <= len(seen) <= 130 and view.progress.description == "250 / 250"
    assert "250</b> requests to <code>/foxtrot</code> (stage: canary)" in view.output.value
    assert "<td>100.0 %</td>" in view.output.value
    view.path.value = "nowhere"
    view.button.click()
    assert view.result is None and "must start with" in view.output.value
    assert not view.button.disabled


def test_probe_view_split_of_two_answers_with_intervals() -> None:
    answers = iter(["200 v1", "200 v2"] * 50)

    def prober(url: str, requests: int, *, headers: dict[str, str], progress) -> ProbeResult:
        result = ProbeResult(url, headers)
        for i in range(requests):
            result.answers.append(next(answers))
            progress(i + 1, requests)
        result.shares = split(result.answers)
        return result

    view = ProbeView("http://gw.invalid/", requests=100, prober=prober)
    view.run()
    assert view.result is not None and [s.count for s in view.result.shares] == [50, 50]
    assert "<td>50.0 %</td>" in view.output.value and "<td>40.4 %</td>" in view.output.value
