"""The headline at the top of the widgets: the drift grid's, the HeadlineView, the invalid-routes table's columns."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path

import pytest

from gloo_nb.analysis.headline import headline
from gloo_nb.widgets import DriftGridView, InvalidRoutesView
from gloo_nb.widgets.headline import HeadlineView, headline_html

pytestmark = pytest.mark.unit

_spec = importlib.util.spec_from_file_location("headline_vm_tests", Path(__file__).resolve().parents[1] / "analysis"
                                               / "test_headline.py")
assert _spec is not None and _spec.loader is not None
vm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vm)


@pytest.fixture(scope="module")
def incident():
    return vm.incident()[2]


def test_drift_grid_opens_with_the_headline(incident) -> None:
    view = DriftGridView.from_inspection(incident, changes=vm.CHANGES, now=vm.T0 + timedelta(seconds=3))
    assert view.children[0] is view.top and isinstance(view.top, HeadlineView)
    assert view.headline is not None and view.headline.text == vm.SEED_TEXT
    # The whole sentence, escaped, nothing cut; the fix options below it.
    assert "foxtrot&#x27;s change to foxtrot/foxtrot-routes is NOT served (2.6 s)" in view.top.value
    assert "names upstream echo-typo, which does not exist." in view.top.value
    assert "replaceInvalidRoutes" in view.top.value and "revert" in view.top.value
    assert 'data-state="blocked-by-last-known-good"' in view.top.value
    # A saved notebook shows it first too (the static rendering), and the one-line text carries it.
    assert view.static_html().startswith('<div class="gloo-nb-headline" data-state="blocked-by-last-known-good"')
    assert view.summary().endswith(vm.SEED_TEXT) and "\n" not in view.summary()
    # Without a headline the grid starts with an empty slot (the old constructor keeps working).
    assert DriftGridView(incident.drift).top.value == ""


def test_the_ok_headline_is_green_and_one_line() -> None:
    tr = vm.Translator("1.3")
    good = tr.translate(vm._resources(vm.GOOD))
    h = headline(vm.collect(vm.Source(good, good)))
    html = headline_html(h)
    assert 'data-state="ok"' in html and "#2e7d32" in html and "fix options" not in html
    view = HeadlineView(h)
    view.show(headline(vm.incident()[2]))
    assert "NOT served (since unknown)" in view.value


def test_invalid_routes_table_shows_cause_team_beside_affected_team_and_the_full_message(incident) -> None:
    view = InvalidRoutesView.from_inspection(incident)
    assert view.frame[["causeTeam", "affectedTeam", "role", "route"]].values.tolist() == [
        ["echo", "echo", "cause", "echo: prefix /echo, stage=canary"],
        ["echo", "foxtrot", "blocked", "foxtrot: prefix /foxtrot"]]
    html = view.table.value
    assert "<th>causeTeam</th><th>affectedTeam</th><th>role</th>" in html
    assert "held back" in html and "CAUSE" in html
    # The message is whole, upstream name included, and wraps instead of being cut.
    assert "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {echo-typo gloo-system} not found" in html
    assert "white-space:normal" in html
    view.affected.value = "foxtrot"
    assert view.shown["route"].tolist() == ["foxtrot: prefix /foxtrot"]


def test_messages_are_never_cut_in_the_drift_detail(incident) -> None:
    """Issue 16: `Route Warning: InvalidDestinationWarning. Reas...` lost the upstream's name; the detail wraps."""
    view = DriftGridView(incident.drift)
    row = view.grid.routes.index("foxtrot: prefix /foxtrot")
    view.select(row)
    assert "white-space:pre-wrap" in view.detail.value
    assert ("echo/echo-routes: Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {echo-typo gloo-system} "
            "not found") in view.detail.value
    assert "role: held back: its change is valid but not served, because of another resource" in view.detail.value
    assert "envoy route: gloo-system_app #3 prefix /foxtrot" in view.detail.value
