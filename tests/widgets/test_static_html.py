"""Saved notebooks read well: every view's display data carries a static HTML rendering of its state.

Each view's ``_repr_mimebundle_`` keeps ipywidgets' widget view (so a live front end draws the widget) and adds
``text/html`` (the state at display time, from the view-model) and a one-line ``text/plain`` instead of the repr.
The seed incident is the data: echo's typo (upstream ``echo-typo``) blocks foxtrot's change under Gloo 1.3.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from IPython.core.formatters import DisplayFormatter

from gloo_nb.analysis.headline import ROLE_COLOURS
from gloo_nb.analysis.probe import split
from gloo_nb.analysis.timeline import load_timeline
from gloo_nb.app.connect import Inspection
from gloo_nb.app.manifests import read_manifests
from gloo_nb.app.probe import ProbeResult
from gloo_nb.app.rollout import StepReport
from gloo_nb.models import Snapshot
from gloo_nb.rollout import RolloutStatus, RolloutTarget, StepStatus
from gloo_nb.rollout.effects import Converged, ProbeObservation
from gloo_nb.translate import Translator
from gloo_nb.widgets import (
    DelegationTreeView,
    DriftGridView,
    InvalidRoutesView,
    ProbeView,
    RolloutStepper,
    TimeTravelView,
    TrafficWeightsView,
    TryRequestView,
)
from gloo_nb.widgets._html import cell_text, table, time_text
from gloo_nb.widgets._static import STATIC_CLASS, StaticView
from gloo_nb.xds.decode import ServedSnapshot

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "data" / "scenarios" / "two-phase-canary" / "part2"
JOURNAL = ROOT / "data" / "journals" / "seed-incident"
BASE = ["echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "foxtrot-v2.yaml", "echo-v2.yaml",
        "vs.yaml"]
GOOD = [*BASE, "rt-echo-2.yaml", "rt-foxtrot-3.yaml"]
TYPO = [*BASE, "rt-echo-3.yaml", "rt-foxtrot-4.yaml"]
R0, R1 = "gateway-proxy-0.gloo-system", "gateway-proxy-1.gloo-system"
FOXTROT = "gloo-system_app #3 prefix /foxtrot"
WIDGET = "application/vnd.jupyter.widget-view+json"


def translate(files):
    objects = {}
    for res in read_manifests([str(SEED / f) for f in files]).resources:
        objects[(res.kind, res.meta.namespace, res.meta.name)] = res
    return Translator("1.3").translate(Snapshot.from_resources(objects.values()))


def served(translation):
    e = translation.envoy
    return ServedSnapshot(list(e.listeners), list(e.route_configurations), list(e.clusters), list(e.endpoints))


@pytest.fixture(scope="module")
def blocked() -> Inspection:
    good, typo = translate(GOOD), translate(TYPO)
    return Inspection.build(typo, served(good), {R0: served(good), R1: served(good)}, {})


def bundle(view: StaticView) -> tuple[str, str]:
    """The display data as IPython computes it for ``display(view)``: checks the common shape, returns html, text."""
    data, _meta = DisplayFormatter().format(view)
    name = type(view).__name__
    # The widget view stays: a live front end draws the widget (it outranks text/html).
    assert data[WIDGET]["model_id"] == view.model_id
    html, text = data["text/html"], data["text/plain"]
    assert html.startswith(f'<div class="{STATIC_CLASS}" data-view="{name}">') and html.endswith("</div>")
    assert "<script" not in html and "no static rendering" not in html, html
    # Readable: one line, not ipywidgets' repr.
    assert "\n" not in text and not text.startswith(f"{name}(") and "children=" not in text, text
    assert "nan" not in re.sub(r"<[^>]*>", " ", html).lower().split(), html
    return html, text


# --- the shared helper -------------------------------------------------------------------------------------------


def test_a_view_whose_rendering_fails_still_displays_and_says_why() -> None:
    class Broken(DriftGridView):
        def static_html(self) -> str:
            raise KeyError("gone")

    data, _ = DisplayFormatter().format(Broken([]))
    assert WIDGET in data and "no static rendering (KeyError: &#x27;gone&#x27;)" in data["text/html"]
    assert data["text/plain"].startswith("Broken (no static rendering: KeyError")


def test_table_pads_cells_shows_dash_for_no_value_and_drops_empty_columns() -> None:
    frame = pd.DataFrame({"a": [1.0, math.nan], "b": [None, None], "c": ["x", ""]})
    html = table(frame)
    assert 'cellpadding="4"' in html
    assert "<th>b</th>" not in html and "<th>a</th><th>c</th>" in html  # b: no value in any row
    assert "<tr><td>1.0</td><td>x</td></tr><tr><td>-</td><td>-</td></tr>" in html
    assert "nan" not in html.lower() and "None" not in html
    # Kept when asked, and when there are no rows (the header says what would be there).
    assert "<th>b</th>" in table(frame, drop_empty=False) and "<th>b</th>" in table(frame.iloc[:0])


def test_table_times_to_the_millisecond_or_relative_to_the_incident() -> None:
    t0 = pd.Timestamp("2026-12-07T10:00:00.123456789Z")
    frame = pd.DataFrame({"time": [t0, t0 + pd.Timedelta(seconds=2.6), pd.NaT], "what": ["a", "b", "c"]})
    html = table(frame)
    assert "<td>2026-12-07 10:00:00.123 UTC</td>" in html and "<td>2026-12-07 10:00:02.723 UTC</td>" in html
    assert "123456789" not in html and "+00:00" not in html and "<td>-</td>" in html
    rel = table(frame, since=t0.to_pydatetime(warn=False))
    assert '<td title="2026-12-07 10:00:02.723 UTC">+2.6 s</td>' in rel and ">+0.0 s</td>" in rel
    assert time_text(datetime(2026, 1, 1, 0, 3, 5, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)) == "+3 min 5.0 s"
    assert cell_text(0.1 + 0.2) == "0.3" and cell_text(100.0) == "100.0"


def test_table_marks_a_row() -> None:
    html = table(pd.DataFrame({"x": [1, 2]}), row_style=lambda i: "background:#fff9c4" if i == 1 else "")
    assert '<tr><td>1</td></tr><tr style="background:#fff9c4"><td>2</td></tr>' in html


# --- each view ---------------------------------------------------------------------------------------------------


def test_drift_grid_renders_its_rows_states_causes_and_selection(blocked: Inspection) -> None:
    view = DriftGridView(blocked.drift, only_drifted=True)
    html, text = bundle(view)
    assert text == f"drift grid: 4 route(s), 2 not in sync, sources served, {R0}, {R1} (showing drifted)"
    assert "foxtrot: prefix /foxtrot" in html and "foxtrot/foxtrot-routes" in html
    # 2 drifted routes x 3 sources, as the live grid shows: echo's the cause, foxtrot's held back (issue 16).
    assert html.count(">CAUSE</td>") == 3 and html.count(">held back</td>") == 3
    assert f"background:{ROLE_COLOURS['cause']}" in html and "echo-typo" in html  # the role's colour, the cause
    assert "prefix /echo</td>" not in html  # in sync: not shown under "drifted"
    assert "selected" not in html
    view.select(view.grid.routes.index("foxtrot: prefix /foxtrot"), 2)
    html, _ = bundle(view)
    assert "<b>selected</b>" in html and f"{R1}: blocked-by-last-known-good" in html


def test_invalid_routes_renders_the_filtered_table(blocked: Inspection) -> None:
    view = InvalidRoutesView.from_inspection(blocked)
    html, text = bundle(view)
    assert text == "invalid routes: 2 of 2 finding row(s); effects: blocked change x2"
    assert "echo-typo" in html and html.count("blocked change") == 2
    view.sort_by.value = "route"
    view.descending.value = True
    html, text = bundle(view)
    assert "(sorted by route descending)" in text and html.index("prefix /foxtrot") < html.index("prefix /echo")


def test_delegation_tree_renders_the_expanded_nodes_only(blocked: Inspection) -> None:
    view = DelegationTreeView(blocked.translation, blocked)
    html, text = bundle(view)
    (root,) = view.tree.roots()
    assert root.label in html and "foxtrot-routes" not in html  # collapsed: only the VirtualService
    assert text.startswith("delegation tree: 1 node(s) shown (")
    for node in list(view.tree.walk()):
        if node.has_children:
            view.toggle(node.id)
    html, text = bundle(view)
    shown = [n for n in view.tree.walk() if n.id in view.expanded or (n.parent in view.expanded)]
    assert all(escape(n.label) in html for n in shown)
    assert "echo-typo" in html and "foxtrot/foxtrot-routes" in html
    assert f"{len(view._visible())} node(s) shown" in text and "blocked" in text
    view.select(root.id)
    html, _ = bundle(view)
    assert "<b>selected</b>" in html and "kind: VirtualService" in html  # the selection's YAML


def test_weights_render_table_chart_and_no_nan_for_unmapped_answers(blocked: Inspection) -> None:
    probe = ProbeResult("http://gw/foxtrot", {}, ["200 version:v1"] * 30 + ["503 no healthy upstream"] * 10)
    probe.shares = split(probe.answers)
    view = TrafficWeightsView(blocked.routes_frame(), observed={FOXTROT: probe})
    html, text = bundle(view)
    assert text.startswith(f"traffic weights of {FOXTROT}: foxtrot_gloo-system {{version=v1}}: intent 0 %, served "
                           "100 %"), text
    assert "<svg" in html and "<?xml" not in html  # the chart inline, as SVG
    assert "<th>observed</th>" in html and "503 no healthy upstream" in html
    row = html[html.index("503 no healthy upstream"):].split("</tr>")[0]
    assert re.findall(r"<td>([^<]*)</td>", row) == ["-", "-", "-", "-", "25.0"]  # no NaN: "-" where no value


def test_weights_without_weighted_routes_say_so() -> None:
    clean = Inspection.build(translate(GOOD[:-1] + ["rt-foxtrot-2.yaml"]), None, {}, {})
    html, text = bundle(TrafficWeightsView(clean.routes_frame()))
    assert text == "traffic weights: no route has weighted destinations" and "no route has weighted" in html


def test_probe_renders_the_last_split_or_not_run() -> None:
    def prober(url: str, requests: int, *, headers: dict[str, str], progress) -> ProbeResult:
        result = ProbeResult(url, headers, ["200 v1", "200 v2"] * (requests // 2))
        result.shares = split(result.answers)
        return result

    view = ProbeView("http://gw.invalid/", path="/foxtrot", requests=100, prober=prober)
    html, text = bundle(view)
    assert text == "probe http://gw.invalid/foxtrot: not run" and "<i>not run</i>" in html
    view.headers.value = "stage: canary"
    view.run()
    html, text = bundle(view)
    assert text == "probe http://gw.invalid/foxtrot: 200 v1 x50, 200 v2 x50"
    assert "<td>50.0 %</td>" in html and "headers <code>stage: canary</code>" in html


def test_try_request_renders_each_sources_route(blocked: Inspection) -> None:
    view = TryRequestView(blocked.rows)
    html, text = bundle(view)
    assert text == "try a request: GET / not tried" and "not tried" in html
    view.path.value = "/foxtrot"
    view.run()
    html, text = bundle(view)
    assert text.startswith("try a request: GET /foxtrot: intent: prefix /foxtrot; served: prefix /foxtrot")
    assert "<b>GET /foxtrot</b>" in html and R1 in html


def test_time_travel_renders_the_moment_its_tabs_and_relative_moments() -> None:
    view = TimeTravelView(load_timeline(JOURNAL))
    html, text = bundle(view)
    ms = view.current
    assert ms.blocked_teams == ("foxtrot",)
    assert text.startswith(f"time travel: moment #{ms.moment.number} of {len(view.model)}, ")
    assert text.endswith("(foxtrot blocked)")
    assert escape(ms.header[0]) in html
    for title in ("routes and weights", "delegation tree", "findings"):
        assert f"<div><b>{title}</b></div>" in html
    assert f"<details style=\"margin:6px 0\"><summary><b>all {len(view.model)} moments (times from the first" in html
    assert ">+0.0 s</td>" in html  # the first moment; every time is relative to it
    moment_rows = re.findall(r'<tr( style="[^"]*")?><td>(\d+)</td><td title="[^"]+">\+[\d.]+ (?:s|min)', html)
    assert len(moment_rows) == len(view.model)
    marked = [int(n) for style, n in moment_rows if style]
    assert marked == [view.index + 1]  # the moment shown is marked, numbered as the header counts
    view.step(1)
    html2, _ = bundle(view)
    assert html2 != html and f">{view.index + 1}</td>" in html2


# --- the stepper, on a rollout object that reads no cluster ---------------------------------------------------------


def fake_rollout(status: RolloutStatus, reports: list[StepReport]) -> SimpleNamespace:
    target = RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "version", "v1", "v2")
    return SimpleNamespace(dry_run=False, status=lambda: status, reports=reports, target=target,
                           conn=SimpleNamespace(collect=lambda: SimpleNamespace(drift=[], rows=[], findings=[],
                                                                                resources={}, translation=None)))


def test_stepper_renders_header_plan_and_the_last_step() -> None:
    steps = (StepStatus("phase1", "header route to v2", "proven"), StepStatus("phase2-0", "weights 100/0", "pending"))
    status = RolloutStatus("foxtrot/foxtrot-routes", "header route to version=v2", steps, "phase1", "phase2-0")
    report = StepReport("phase1", "proven", guards=[("not-last-known-good", True, "")],
                        converged=Converged(True, 0.12, {R0: 0.2}),
                        probes=[("with-header", ProbeObservation(20, {200: 20}, {"v2": 20}, seconds=0.3))],
                        verdicts=[("with-header", True, "all 20 to v2")])
    rollout = fake_rollout(status, [report])
    view = RolloutStepper(rollout)  # type: ignore[arg-type]
    view.report = report
    view.refresh()
    html, text = bundle(view)
    assert text == ("rollout of foxtrot/foxtrot-routes: live header route to version=v2; last checkpoint phase1; "
                    "next phase2-0; last step phase1 proven")
    assert "<b>plan</b>" in html and "<code>phase2-0</code>" in html and ">proven</td>" in html
    assert "<b>not-last-known-good</b>: ok" in html and "<td>0.12 s</td>" in html
    assert "<td>with-header</td><td>20</td><td>v2: 20</td>" in html
    assert "no route of foxtrot/foxtrot-routes" in html  # the live routes part, as the widget shows it


def test_overview_and_stop_button_render_statically() -> None:
    """Notebook 01's overview and the live notebooks' stop button publish their state like every other view."""
    from gloo_nb.analysis.overview import gateway_overview
    from gloo_nb.widgets.close import StopButton
    from gloo_nb.widgets.overview import GatewayOverviewView

    html, text = bundle(GatewayOverviewView(gateway_overview(translate(
        ["vs.yaml", "rt-echo-3.yaml", "rt-foxtrot-1.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml"]))))
    assert text.startswith("gateway overview: VirtualService ") and "finding(s)" in text, text
    assert "Resources by state" in html and "echo-typo" in html

    closed: list[str] = []
    gateway = SimpleNamespace(closed=False, close=lambda: closed.append("gw"), on_close=lambda callback: None)
    stop = StopButton(gateway)
    html, text = bundle(stop)
    assert "(not pressed)" in html and text.startswith("stop button: ")
    assert stop.stop() and closed == ["gw"]
    html, text = bundle(stop)
    assert text == "stop button: closed" and "(pressed, closed)" in html and "closed" in html
