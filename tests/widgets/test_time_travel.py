"""The time-travel widget on the shipped journal of the seed incident (recorded from a Gloo 1.3 sandbox).

The view-model is checked against the timeline's own analyses (moments, who is blocked at each one); the view by
moving the slider and the prev/next buttons from Python and reading the HTML it renders.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gloo_nb.analysis.timeline import Change, Timeline, load_timeline, rfc3339
from gloo_nb.widgets import timeline as tt
from gloo_nb.widgets.timeline import TimeTravel, TimeTravelView, moments

pytestmark = pytest.mark.unit

JOURNAL = Path(__file__).resolve().parents[2] / "data" / "journals" / "seed-incident"
CAUSE = "echo/echo-routes: Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {echo-typo gloo-system} " \
        "not found"
V1, V2 = "foxtrot_gloo-system {version=v1}", "foxtrot_gloo-system {version=v2}"


@pytest.fixture(scope="module")
def timeline() -> Timeline:
    return load_timeline(JOURNAL)


def change(timeline: Timeline, kind: str, ref: str, actor: str, which: int = -1) -> Change:
    return [c for c in timeline.changes if (c.kind, c.ref, c.actor) == (kind, ref, actor)][which]


def weight_row(html: str, destination: str) -> list[str]:
    """The cells of one destination's row in the weights table (intent, served, each replica)."""
    m = re.search(rf"<tr><th>{re.escape(destination)}</th>((?:<td>[^<]*</td>)+)</tr>", html)
    assert m, html
    return re.findall(r"<td>([^<]*)</td>", m[1])


def test_moments_cover_every_change_served_update_and_block(timeline: Timeline) -> None:
    ms = moments(timeline)
    times = [m.time for m in ms]
    assert times == sorted(set(times)) and [m.index for m in ms] == list(range(len(ms)))
    assert all(m.label.startswith(rfc3339(m.time) + "  ") for m in ms)
    by_time = {m.time: m.happened for m in ms}
    for c in timeline.changes:
        assert f"{c.kind} {c.ref} {c.type.lower()} by {c.actor}" in by_time[c.time]
    served = timeline.served_versions()
    assert {t.to_pydatetime() for t in served["time"]} <= set(by_time)
    (block,) = timeline.blocked
    assert block.end is not None
    assert f"foxtrot blocked ({block.resource})" in by_time[block.start]
    assert "foxtrot unblocked" in by_time[block.end] and "Gloo serves again" in by_time[block.end]
    (episode,) = timeline.episodes
    assert "Gloo keeps its last good configuration" in by_time[episode.start]
    assert by_time[timeline.start] == ("recording starts",)
    assert not any("applied routes nan" in h or "applied routes None" in h for hs in by_time.values() for h in hs)


def test_who_is_blocked_at_each_moment(timeline: Timeline) -> None:
    model = TimeTravel(timeline)
    (block,) = timeline.blocked
    assert block.end is not None
    for m in model.moments:
        state = model.at(m.index)
        inside = block.start <= m.time < block.end
        assert state.blocked_teams == (("foxtrot",) if inside else ()), m.label
        assert (state.header[0].startswith("foxtrot blocked since") if inside else
                state.header[0].startswith("no team blocked")), m.label
    echo3 = model.at(model.index_at(change(timeline, "RouteTable", "echo/echo-routes", "echo-dev", 0).time))
    # Echo's typo makes Gloo hold its last good configuration, but nobody else has a change waiting yet.
    assert echo3.holding and not echo3.blocked and "no other team has a change held back" in echo3.header[0]
    assert model.at(0) is model.at(0)  # cached
    assert model.first_blocked() == model.index_at(block.start)
    with pytest.raises(IndexError, match="no moment"):
        model.at(len(model))
    frame = model.frame()
    assert list(frame.loc[frame["blocked"] == "foxtrot", "time"]) == [m.time for m in model.moments
                                                                      if block.start <= m.time < block.end]


def test_slider_at_foxtrots_change_shows_the_block(timeline: Timeline) -> None:
    foxtrot4 = change(timeline, "RouteTable", "foxtrot/foxtrot-routes", "foxtrot-dev")
    view = TimeTravelView(timeline, start=timeline.start)
    assert view.index == 0 and view.prev.disabled
    view.slider.value = view.model.index_at(foxtrot4.time)
    header = view.header.value
    assert rfc3339(foxtrot4.time) in header and "RouteTable foxtrot/foxtrot-routes modified by foxtrot-dev" in header
    assert "foxtrot blocked since" in header and "echo/echo-routes" in header and "echo-typo" in header
    assert "Gloo 1.3 would keep-last-good" in header
    # Served (and both replicas) still send everything to v1, while the intent is 0/100.
    assert weight_row(view.weights.value, V1) == ["0.0", "100.0", "100.0", "100.0"]
    assert weight_row(view.weights.value, V2) == ["100.0", "0.0", "0.0", "0.0"]
    assert "<b>gloo-system_app #3 prefix /foxtrot</b> (foxtrot/foxtrot-routes)" in view.weights.value
    routes = view.routes.value
    assert routes.count(">blocked-by-last-known-good</td>") == 2 and CAUSE in routes
    assert "blocked change" in view.findings.value and "echo/echo-routes" in view.findings.value
    # The tree is the translation at that moment: the VirtualService is blocked by last known good.
    assert view.tree is not None and view.tree_box.children == (view.tree,)
    assert view.tree.rows[0][2].description == "VirtualService gloo-system/app  [blocked]"


def test_after_the_settings_patch_nothing_is_blocked_and_echos_canary_is_replaced(timeline: Timeline) -> None:
    (episode,) = timeline.episodes
    assert episode.end is not None and [c.actor for c in episode.ended_by] == ["ops"]
    view = TimeTravelView(timeline)
    assert view.index == view.model.first_blocked()  # opens at the incident
    view.seek(rfc3339(episode.end))
    header = view.header.value
    assert "Gloo serves again" in header and "no team blocked" in header and "foxtrot blocked" not in header
    canary = re.search(r"<tr><td>echo/echo-routes</td><td>gloo-system_app</td><td>prefix /echo, stage=canary</td>"
                       r"(.*?)</tr>", view.routes.value)
    assert canary, view.routes.value
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", canary[1])
    assert cells[3] == "fallback 404"  # served, while the replicas may still lag
    assert weight_row(view.weights.value, V1)[:2] == ["0.0", "0.0"]  # intent and served are 0/100 now
    assert "fallback 404" in view.findings.value
    # Once both replicas applied it, echo's canary route reads replaced-by-fallback everywhere.
    revert = change(timeline, "RouteTable", "echo/echo-routes", "echo-dev")
    view.show(view.model.index_at(revert.time) - 1)
    assert "replaced-by-fallback" in view.routes.value and "blocked" not in view.routes.value
    assert weight_row(view.weights.value, V1) == ["0.0", "0.0", "0.0", "0.0"]


def test_prev_next_are_clamped_and_the_tree_keeps_what_was_opened(timeline: Timeline) -> None:
    view = TimeTravelView(timeline)
    first = view.index
    root_id, toggle, _ = view.tree.rows[0]
    assert root_id in view.tree.expanded  # opened at the block, expanded to it
    toggle.click()  # the reader closes it
    opened = [r[0] for r in view.tree.rows]
    assert opened == [root_id]
    view.next.click()
    assert view.index == first + 1 and [r[0] for r in view.tree.rows] == opened
    toggle = view.tree.rows[0][1]
    toggle.click()  # and opens it again
    view.prev.click()
    view.prev.click()
    assert view.index == first - 1 and root_id in view.tree.expanded
    view.show(len(view.model) - 1)
    assert view.next.disabled
    view.next.click()
    assert view.index == len(view.model) - 1
    view.show(0)
    assert view.prev.disabled and view.step(-1).moment.index == 0


def test_slider_skips_hash_churn_numbers_moments_as_the_frame_and_marks_them(timeline: Timeline) -> None:
    """Issue 16: relative times, marks for incident starts, changes and fixes, no served-cluster churn stops."""
    every = moments(timeline)
    churn = [m for m in every if not m.visible]
    assert churn and all(h.startswith(("served clusters ", "served endpoints ", "served listeners "))
                         for m in churn for h in m.happened)
    model = TimeTravel(timeline)
    assert len(model) == len(every) - len(churn)
    assert len(TimeTravel(timeline, every=True)) == len(every)
    assert not any(h.startswith("served clusters ") for m in model.moments for h in m.happened)
    assert [m.index for m in model.moments] == list(range(len(model)))
    (episode,) = timeline.episodes
    (block,) = timeline.blocked
    incident = model.moments[model.index_at(episode.start)]
    assert incident.marks == ("incident", "change")
    fix = model.moments[model.index_at(block.end)]
    assert "fix" in fix.marks
    origin = timeline.changes[0].time
    seconds = (block.start - origin).total_seconds()
    view = TimeTravelView(timeline)  # opens at the block
    assert view.index == model.index_at(block.start)
    number = view.index + 1
    assert view.slider.label.startswith(f"#{number} +{seconds:.1f} s [incident, change] ")
    assert f"<b>#{number}</b> +{seconds:.1f} s" in view.when.value
    assert f"moment #{number} of {len(model)}, +{seconds:.1f} s" in view.header.value
    frame = view.model.frame()
    row = frame[frame["moment"] == number].iloc[0]
    assert row["time"] == block.start and row["since"] == f"+{seconds:.1f} s" and row["marks"] == "incident, change"
    assert list(frame["moment"]) == list(frame.index) == [m.index + 1 for m in view.model.moments]
    assert [label for label, _ in view.jump.options[1:]] == [m.slider_label(origin) for m in model.marked()]
    view.jump.value = model.index_at(block.end)
    assert view.index == model.index_at(block.end) and view.jump.value == -1
    assert view.marks.value.count("<span title=") == len(model)
    assert view.marks.value.count("2px solid #000") == 1


def test_tree_opens_at_the_blocked_and_causing_nodes(timeline: Timeline) -> None:
    view = TimeTravelView(timeline)  # opens at the block
    shown = [r[0] for r in view.tree.rows]
    assert any(s.endswith("RouteTable:foxtrot/foxtrot-routes") for s in shown)  # the blocked team's table...
    assert any("RouteTable:foxtrot/foxtrot-routes/route:" in s for s in shown)  # ...with its routes
    assert any("RouteTable:echo/echo-routes/route:" in s for s in shown)  # the causing route
    # Nothing blocked or failing at the first moment: the tree opens closed.
    view.show(0)
    fresh = TimeTravelView(timeline, start=timeline.start)
    assert fresh.tree is not None and not fresh.tree.expanded


def test_dragging_rebuilds_each_moment_once(timeline: Timeline, monkeypatch: pytest.MonkeyPatch) -> None:
    # Dragging back over moments already seen re-renders from the cache (how fast: bench/journal.py).
    calls: list[object] = []
    state_at = timeline.state_at
    monkeypatch.setattr(timeline, "state_at", lambda t: calls.append(t) or state_at(t))
    view = TimeTravelView(timeline)
    for i in range(len(view.model)):
        view.slider.value = i
    assert len(calls) == len(view.model)
    for i in reversed(range(len(view.model))):
        view.slider.value = i
    assert len(calls) == len(view.model)


def test_a_long_drag_keeps_a_bounded_number_of_trees(timeline: Timeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tt, "TREE_CACHE", 4)
    view = TimeTravelView(timeline)  # at the block: the VirtualService exists
    first, start = view.tree, view.index
    assert first is not None and first.comm is not None and first.rows
    for i in range(start + 1, start + 6):
        view.show(i)
    assert first.comm is None and first.rows[0][2].comm is None  # closed, widgets and all
    assert view.tree is not None and view.tree.comm is not None
    view.show(start)  # rebuilt on the way back
    assert view.tree is not first and view.tree.rows[0][2].description == first.rows[0][2].description


def test_each_moment_opens_with_its_headline_in_the_widget_and_its_static_rendering(timeline: Timeline) -> None:
    """Issue 16, the answer first: the time-travel header starts with the moment's headline, as
    ``headline_at(timeline, time)`` reads it (same sentence, same writers and times from the journal)."""
    from gloo_nb.analysis.headline import headline_at

    view = TimeTravelView(timeline)
    assert view.index == view.model.first_blocked()
    ms = view.current
    expected = headline_at(timeline, ms.moment.time)
    assert ms.headline is not None and ms.headline.text == expected.text
    assert ms.headline.text.startswith("foxtrot's change to foxtrot/foxtrot-routes is NOT served")
    # First in the header (before the moment's time and who is blocked), and first in the saved rendering.
    header = view.header.value
    assert header.startswith('<div class="gloo-nb-headline" data-state="blocked-by-last-known-good"'), header[:200]
    assert header.index("gloo-nb-headline") < header.index(rfc3339(ms.moment.time)) < header.index(
        "foxtrot blocked since")
    static = view._repr_mimebundle_()["text/html"]  # what a saved notebook shows
    assert static.startswith('<div class="gloo-nb-static" data-view="TimeTravelView"><div class="gloo-nb-headline"'), \
        static[:300]
    # Moving the slider moves the headline: after the fix is served nobody is held back.
    (block,) = timeline.blocked
    assert block.end is not None
    view.seek(rfc3339(block.end))
    after = view.current
    assert after.headline is not None and "NOT served" not in after.headline.text
    assert after.headline.text == headline_at(timeline, after.moment.time).text
    assert view.header.value.startswith(f'<div class="gloo-nb-headline" data-state="{after.headline.state}"')
