"""Time travel over a journal: a slider over the moments that mattered, showing the gateway as it was then.

The view-model is pure (no widgets, no I/O): :func:`moments` lists a
:class:`~gloo_nb.analysis.timeline.Timeline`'s moments (recordings starting, every change, served update, replica
applying routes or rejecting an update, last-known-good episodes and blocked intervals starting and ending), and
:class:`TimeTravel` rebuilds each moment once (cached) from :meth:`Timeline.state_at`: an
:class:`~gloo_nb.app.connect.Inspection` (intent vs served vs each replica, with drift), the teams blocked and why,
the weights of weighted routes and the findings with their effect on traffic. :class:`TimeTravelView` lays that out
under a slider with prev/next buttons; moving re-renders from the cache, fast enough to drag.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import ipywidgets as w
import pandas as pd

from gloo_nb.analysis.headline import Headline, headline
from gloo_nb.analysis.inspection import Inspection, as_datetime, inspection_at, type_name
from gloo_nb.analysis.timeline import TYPE_ROUTE, Blocked, StateAt, Timeline, rfc3339
from gloo_nb.analysis.tree import DelegationTree
from gloo_nb.analysis.views import invalid_routes_frame, weights_frame, weights_table
from gloo_nb.journal import parse_time
from gloo_nb.journal.schema import RECORDER_START
from gloo_nb.widgets._html import esc, table
from gloo_nb.widgets._static import StaticView, section
from gloo_nb.widgets.tree import DelegationTreeView

__all__ = ["MARKS", "Moment", "MomentState", "TimeTravel", "TimeTravelView", "focus_nodes", "inspection_at", "moments",
           "relative_time"]

# --- moments ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Moment:
    """A time at which something happened, and what.

    Attributes:
        index: Position in :func:`moments`' list (in :class:`TimeTravel`, in its list of visible moments).
        time: When (events at the same time are one moment).
        happened: What happened, one phrase each, in the order: recording, changes, served, replicas, episodes,
            blocked.
        marks: Which of :data:`MARKS` the moment is: ``incident`` (Gloo begins keeping its last good
            configuration, or a team's block begins), ``change`` (a resource changed), ``fix`` (Gloo serves
            again, or a block ends).
        visible: Whether a person would see anything change at this moment in the time-travel view; False
            when all that happened is the control plane serving clusters, endpoints or listeners (their
            version hashes churn on every translation, while the view shows routes, weights, the tree and the
            findings).
    """

    index: int
    time: datetime
    happened: tuple[str, ...]
    marks: tuple[str, ...] = ()
    visible: bool = True

    @property
    def number(self) -> int:
        """The moment's number as the widget and :meth:`TimeTravel.frame` show it (``#1`` is the first)."""
        return self.index + 1

    @property
    def label(self) -> str:
        """``<RFC 3339 time>  <what happened; ...>`` (unique per moment: the times are)."""
        return f"{rfc3339(self.time)}  {'; '.join(self.happened)}"

    def slider_label(self, origin: datetime | None) -> str:
        """What the slider shows: ``#<number> <time from origin> [marks] <what happened>``.

        Args:
            origin: The first change's time (:func:`relative_time`), None when the journal has no change.

        Returns:
            e.g. ``#14 +2.8 s [incident, change] RouteTable echo/echo-routes modified by echo-dev; ...``.
        """
        marks = f" [{', '.join(self.marks)}]" if self.marks else ""
        return f"#{self.number} {relative_time(self.time, origin)}{marks} {'; '.join(self.happened)}"


MARKS = ("incident", "change", "fix")
"""The kinds of moment the slider marks (:attr:`Moment.marks`), in the order they are listed."""

_QUIET_SERVED = ("served clusters ", "served endpoints ", "served listeners ")


def relative_time(time: datetime, origin: datetime | None) -> str:
    """A moment's time relative to the first change, as people count during an incident.

    Args:
        time: The moment's time.
        origin: The first change's time (None: shown as the RFC 3339 time).

    Returns:
        ``+2.6 s`` (one decimal; ``-0.1 s`` before the first change), or the RFC 3339 time without an origin.
    """
    if origin is None:
        return rfc3339(time) or ""
    seconds = (time - origin).total_seconds()
    return f"{'-' if seconds < -0.05 else '+'}{abs(seconds):.1f} s"


def moments(timeline: Timeline) -> list[Moment]:
    """Every moment of a journal worth stopping at, by time.

    Args:
        timeline: The timeline.

    Returns:
        One moment per distinct time at which a recording started, a resource changed
        (:attr:`Timeline.changes`), the control plane served an update, a replica applied new routes or began
        rejecting updates, Gloo began or stopped holding its last good configuration, or a team's block began or
        ended; each with its :attr:`Moment.marks` and :attr:`Moment.visible`.
    """
    happened: dict[datetime, list[str]] = {}
    marks: dict[datetime, set[str]] = {}

    def add(time: Any, text: str, mark: str = "") -> None:
        happened.setdefault(as_datetime(time), []).append(text)
        if mark:
            marks.setdefault(as_datetime(time), set()).add(mark)

    events = timeline.events_frame()
    for time in events.loc[events["kind"] == RECORDER_START, "time"]:
        add(time, "recording starts")
    for change in timeline.changes:
        add(change.time, f"{change.kind} {change.ref} {change.type.lower()} by {change.actor}", "change")
    served = timeline.served_versions()
    for time, type_url, version, accepted in zip(served["time"], served["typeUrl"], served["version"],
                                                 served["accepted"], strict=True):
        add(time, f"served {type_name(type_url)} {version}" + ("" if accepted else " (NACKed by the shadow node)"))
    applied = timeline.applied_versions()
    routes = applied[applied["typeUrl"] == TYPE_ROUTE]
    last: dict[str, Any] = {}
    for time, node, version in zip(routes["time"], routes["node"], routes["version"], strict=True):
        if version is None or pd.isna(version):
            continue  # polled before the replica had any routes
        if last.get(node) != version:
            add(time, f"{node} applied routes {version}")
            last[node] = version
    nacks = timeline.nacks_frame()
    for time, node, type_url, kept in zip(nacks["start"], nacks["node"], nacks["typeUrl"], nacks["version"],
                                          strict=True):
        add(time, f"{node} rejected {type_name(type_url)} (kept {kept})")
    for ep in timeline.episodes:
        add(ep.start, "Gloo keeps its last good configuration", "incident")
        if ep.end is not None:
            add(ep.end, "Gloo serves again", "fix")
    for b in timeline.blocked:
        add(b.start, f"{b.team} blocked ({b.resource})", "incident")
        if b.end is not None:
            add(b.end, f"{b.team} unblocked", "fix")
    out = []
    for i, (time, texts) in enumerate(sorted(happened.items())):
        mine = marks.get(time, set())
        quiet = all(t.startswith(_QUIET_SERVED) for t in texts)
        out.append(Moment(i, time, tuple(dict.fromkeys(texts)), tuple(m for m in MARKS if m in mine), not quiet))
    return out


# --- one moment ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MomentState:
    """Everything the view shows for one moment.

    Attributes:
        moment: The moment.
        state: The journal's state then (:meth:`Timeline.state_at`).
        inspection: Intent vs served vs each replica then (:func:`inspection_at`).
        blocked: The blocked rows active then.
        holding: Whether Gloo held its last good configuration then (inside an episode).
        header: One line per blocked team saying since when and why (or that no team is blocked).
        headline: The moment's headline (:func:`gloo_nb.analysis.headline.headline` of the inspection then, with
            the journal's writers and ``now`` the moment's time: what :func:`~gloo_nb.analysis.headline.headline_at`
            reads), shown first; None only for a state built without one.
    """

    moment: Moment
    state: StateAt
    inspection: Inspection
    blocked: tuple[Blocked, ...]
    holding: bool
    header: tuple[str, ...]
    headline: Headline | None = None

    @property
    def blocked_teams(self) -> tuple[str, ...]:
        """The blocked teams, in order of their block's start."""
        return tuple(dict.fromkeys(b.team for b in self.blocked))

    def routes_frame(self) -> pd.DataFrame:
        """One row per route and source, with its owning resource (``Inspection.routes_frame()``)."""
        return self.inspection.routes_frame()

    def drift_frame(self) -> pd.DataFrame:
        """One row per route: resource, match, state, cause and the action per source."""
        return pd.DataFrame([{"resource": d.resource, "virtualHost": d.virtual_host, "match": d.match,
                              "state": d.state, "cause": d.cause, **d.by_source} for d in self.inspection.drift])

    def weights_frame(self) -> pd.DataFrame:
        """Weighted routes: each destination's share per source (:func:`gloo_nb.analysis.views.weights_frame`)."""
        return weights_frame(self.routes_frame())

    def weights_table(self, route: str) -> pd.DataFrame:
        """One weighted route's destinations x sources, in percent.

        Args:
            route: A route label of :meth:`weights_frame` (``<virtualHost> #<order> <match>``).

        Returns:
            :func:`gloo_nb.analysis.views.weights_table`'s table.
        """
        return weights_table(self.weights_frame(), route)

    def findings_frame(self) -> pd.DataFrame:
        """Every finding with its effect on traffic then (:func:`gloo_nb.analysis.views.invalid_routes_frame`)."""
        insp = self.inspection
        clusters = [c.name for c in insp.translation.envoy.clusters]
        return invalid_routes_frame(insp.findings_frame(), insp.drift, insp.routes_frame(), clusters)


def _header(state: StateAt, blocked: Sequence[Blocked], holding: bool) -> tuple[str, ...]:
    notes = []
    if not state.served_known:
        notes.append("imported from audit logs: served = the last translation Gloo pushed (its rule, not observed); "
                     "applied: unknown")
    if state.unknown:
        notes.append("content unknown (the audit log holds who and when only): " + ", ".join(state.unknown))
    return (*_header_lines(state, blocked, holding), *notes)


def _header_lines(state: StateAt, blocked: Sequence[Blocked], holding: bool) -> tuple[str, ...]:
    lines = []
    for b in blocked:
        routes = f"; not served: {', '.join(b.routes)}" if b.routes else ""
        lines.append(f"{b.team} blocked since {rfc3339(b.start)}: its {b.kind} {b.resource} (changed "
                     f"{rfc3339(b.pending_since)}) is held back by {b.cause}{routes}")
    if lines:
        return tuple(lines)
    if holding:
        causes = "; ".join(c.text() for c in state.translation.block_causes()) or state.translation.push.reason
        return (f"no team blocked; Gloo keeps its last good configuration ({causes}) but no other team has a change "
                "held back",)
    return ("no team blocked",)


class TimeTravel:
    """The view-model: the moments of a timeline and, per moment (cached), what it looked like.

    Args:
        timeline: The timeline (:func:`gloo_nb.analysis.timeline.load_timeline`).
        every: Keep every moment, also those where nothing visible changes (:attr:`Moment.visible`); default:
            skip those.

    Attributes:
        timeline: The timeline.
        moments: :func:`moments` of it that are visible (all with ``every``), numbered again from 0 so that
            :attr:`Moment.number` is the same in the widget and in :meth:`frame`.
        origin: The first change's time (the slider's ``+0.0 s``), None when the journal has no change.
    """

    def __init__(self, timeline: Timeline, *, every: bool = False) -> None:
        self.timeline = timeline
        kept = [m for m in moments(timeline) if every or m.visible]
        self.moments = [replace(m, index=i) for i, m in enumerate(kept)]
        self.origin = timeline.changes[0].time if timeline.changes else None
        self._times = [m.time for m in self.moments]
        self._cache: dict[int, MomentState] = {}
        self._nacks: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.moments)

    def index_at(self, t: datetime | str) -> int:
        """The last moment at or before ``t`` (the first moment when ``t`` is earlier).

        Args:
            t: A timezone-aware time or an RFC 3339 string.

        Returns:
            Its index (-1 for a journal without moments).
        """
        when = parse_time(t) if isinstance(t, str) else t
        if not self.moments:
            return -1
        return max(0, bisect.bisect_right(self._times, when) - 1)

    def at(self, index: int) -> MomentState:
        """The state of one moment (computed once).

        Args:
            index: A moment's index.

        Returns:
            Its state.

        Raises:
            IndexError: There is no such moment.
        """
        if index < 0 or index >= len(self.moments):
            raise IndexError(f"no moment {index}: the journal has {len(self.moments)} moment(s)")
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        if self._nacks is None:
            self._nacks = self.timeline.nacks_frame()
        moment = self.moments[index]
        state = self.timeline.state_at(moment.time)
        holding = any(ep.start <= moment.time and (ep.end is None or moment.time < ep.end)
                      for ep in self.timeline.episodes)
        blocked = tuple(state.blocked)
        inspection = inspection_at(state, self._nacks)
        # The answer first (issue 16), as headline_at reads it: the same inspection, the journal's writers.
        result = MomentState(moment, state, inspection, blocked, holding, _header(state, blocked, holding),
                             headline(inspection, changes=self.timeline.changes, now=moment.time))
        self._cache[index] = result
        return result

    def first_blocked(self) -> int | None:
        """The first moment at which a team is blocked, or None when none ever is."""
        starts = [b.start for b in self.timeline.blocked]
        return self.index_at(min(starts)) if starts else None

    def frame(self) -> pd.DataFrame:
        """The moments as a frame.

        Returns:
            Indexed by the number the widget shows (``#``, 1 first); columns index (for :meth:`at` and
            ``TimeTravelView.show``), time, happened (joined with ``; ``), blocked (teams at that moment),
            ``moment`` (the number again), ``since`` (from the first change, ``+2.6 s``) and ``marks`` (joined
            with ``, ``).
        """
        blocked = self.timeline.blocked
        return pd.DataFrame([{"index": m.index, "time": m.time, "happened": "; ".join(m.happened),
                              "blocked": ", ".join(dict.fromkeys(b.team for b in blocked if b.start <= m.time and (
                                  b.end is None or m.time < b.end))),
                              "moment": m.number, "since": relative_time(m.time, self.origin),
                              "marks": ", ".join(m.marks)} for m in self.moments],
                            columns=["index", "time", "happened", "blocked", "moment", "since", "marks"],
                            index=pd.Index([m.number for m in self.moments], name="#"))

    def marked(self) -> list[Moment]:
        """The moments with a mark (incident starts, changes, fixes), in order: the slider's jump list."""
        return [m for m in self.moments if m.marks]


def focus_nodes(tree: DelegationTree, blocked: Sequence[Blocked], causes: Sequence[str]) -> set[str]:
    """The tree nodes to expand so that the blocked and the causing nodes show at once.

    Rule: a causing node is one with findings whose resource is a cause (``causes``; every node with findings
    when no cause is named); a blocked node is the RouteTable or VirtualService a blocked team changed. Every
    ancestor of both is expanded, and the blocked nodes too (their routes are what is not served).

    Args:
        tree: The moment's delegation tree.
        blocked: The blocked rows active then.
        causes: ``namespace/name`` of the resources that make Gloo keep its last good configuration.

    Returns:
        Node ids to expand (empty when nothing is blocked or failing).
    """
    victims = {b.resource for b in blocked}
    culprits = set(causes)
    out: set[str] = set()
    for node in tree.walk():
        causing = bool(node.findings) and (not culprits or node.resource.ref in culprits)
        victim = node.kind in ("RouteTable", "VirtualService") and node.resource.ref in victims
        if causing or victim:
            out.update(tree.path(node.id)[:-1])
        if victim and node.has_children:
            out.add(node.id)
    return out


# --- the view --------------------------------------------------------------------------------------------------

_DRIFT_COLOURS = {"blocked-by-last-known-good": "#ffcdd2", "replaced-by-fallback": "#bbdefb", "pending": "#fff9c4",
                  "rejected-by-envoy": "#ffe0b2", "replica-lagging": "#e1bee7", "unmodelled": "#b2ebf2"}


def _drift_style(column: str, value: Any) -> str:
    colour = _DRIFT_COLOURS.get(str(value), "") if column == "state" else ""
    return f"background:{colour}" if colour else ""


def _header_html(ms: MomentState, position: str) -> str:
    colour = "#c62828" if ms.blocked else ("#ef6c00" if ms.holding else "#2e7d32")
    lines = "".join(f'<div style="color:{colour}"><b>{esc(line)}</b></div>' for line in ms.header)
    push = ms.state.translation.push
    first = ms.headline.html() if ms.headline is not None else ""  # the answer first, then the moment's details
    return (f"{first}<div><b>{esc(rfc3339(ms.moment.time))}</b> ({esc(position)}): {esc('; '.join(ms.moment.happened))}"
            f"</div>{lines}<div>Gloo {esc(ms.state.translation.profile)} would {esc(push.decision)}: "
            f"{esc(push.reason)}</div>")


def _routes_html(ms: MomentState) -> str:
    drift = ms.drift_frame()
    if not len(drift):
        return "<i>no routes</i>"
    return "<b>routes: intent vs served vs each replica</b>" + table(drift, style=_drift_style)


def _weights_html(ms: MomentState) -> str:
    frame = ms.weights_frame()
    if not len(frame):
        return "<i>no route has weighted destinations</i>"
    parts = []
    for route in dict.fromkeys(frame["route"]):
        resource = next(iter(frame.loc[frame["route"] == route, "resource"]), "")
        parts.append(f"<div><b>{esc(route)}</b> ({esc(resource or '?')}), weight %</div>"
                     + table(weights_table(frame, route, blank="-"), index=True))
    return "".join(parts)


def _findings_html(ms: MomentState) -> str:
    frame = ms.findings_frame()
    return table(frame) if len(frame) else "<i>no findings</i>"


_MARK_COLOURS = {"incident": "#c62828", "fix": "#2e7d32", "change": "#616161"}


def _marks_html(model: TimeTravel, shown: int) -> str:
    cells = []
    for m in model.moments:
        colour = next((_MARK_COLOURS[k] for k in ("incident", "fix", "change") if k in m.marks), "#e0e0e0")
        border = "2px solid #000" if m.index == shown else "1px solid #fff"
        title = esc(m.slider_label(model.origin))
        cells.append(f'<span title="{title}" style="display:inline-block;width:10px;height:14px;'
                     f'background:{colour};border:{border}"></span>')
    legend = " ".join(f'<span style="color:{c}">&#9632;</span> {k}' for k, c in _MARK_COLOURS.items())
    return f'<div style="line-height:0">{"".join(cells)}</div><div style="font-size:90%">{legend}</div>'


TREE_CACHE = 64
"""How many moments' delegation trees :class:`TimeTravelView` keeps (their widgets stay open while kept)."""


def _close(widget: w.Widget) -> None:
    for child in getattr(widget, "children", ()):
        _close(child)
    widget.close()


class TimeTravelView(StaticView, w.VBox):
    """A slider over a journal's moments that shows the gateway as it was at the moment chosen.

    Shown: who is blocked and why, the routes of every source with their drift, the weights of weighted routes,
    the delegation tree and the findings.

    Args:
        timeline: The timeline (:func:`gloo_nb.analysis.timeline.load_timeline`).
        start: The moment shown first, as a time (the last moment at or before it); default the first moment at
            which a team is blocked, else the last moment.

    Attributes:
        model: The view-model.
        slider: One stop per visible moment (value: the moment's index; labels: :meth:`Moment.slider_label`,
            ``#14 +2.8 s [incident, change] ...``).
        when: The shown moment's number and time from the first change, beside the slider (HTML).
        marks: One cell per moment, coloured by its mark (incident red, change grey, fix green), the shown
            one outlined (HTML).
        jump: Jump to a marked moment (:meth:`TimeTravel.marked`).
        prev, next: Step one moment back or forward.
        header: The moment's headline first (:attr:`MomentState.headline`), then the moment, what happened, who
            is blocked and why, Gloo's push decision (HTML).
        routes: Drift per route (HTML); ``weights``: per weighted route, destinations x sources (HTML).
        tree_box: Holds the moment's :class:`DelegationTreeView` (``tree``); it opens expanded to the blocked
            and causing nodes (:func:`focus_nodes`); after that, expansion, search and selection carry over from
            moment to moment (what the reader opened or closed wins).
        findings: Every finding with its effect on traffic (HTML).
    """

    def __init__(self, timeline: Timeline, *, start: datetime | str | None = None) -> None:
        self.model = TimeTravel(timeline)
        origin = self.model.origin
        options = ([(m.slider_label(origin), m.index) for m in self.model.moments]
                   or [("(the journal has no moments)", -1)])
        self.slider = w.SelectionSlider(options=options, description="moment", readout=False,
                                        continuous_update=True, layout=w.Layout(width="60%"))
        self.when = w.HTML()
        self.marks = w.HTML()
        jumps = [(m.slider_label(origin), m.index) for m in self.model.marked()]
        self.jump = w.Dropdown(options=[("jump to an incident, change or fix...", -1), *jumps], value=-1,
                               layout=w.Layout(width="60%"))
        self.jump.observe(lambda change: self._jump(change["new"]), names="value")
        self.prev = w.Button(description="prev", icon="step-backward", layout=w.Layout(width="7em"))
        self.next = w.Button(description="next", icon="step-forward", layout=w.Layout(width="7em"))
        self.prev.on_click(lambda _b: self.step(-1))
        self.next.on_click(lambda _b: self.step(1))
        self.header = w.HTML()
        self.routes = w.HTML()
        self.weights = w.HTML()
        self.findings = w.HTML()
        self.tree_box = w.VBox()
        self.tree: DelegationTreeView | None = None
        self._trees: dict[int, DelegationTreeView] = {}
        self._html: dict[int, tuple[str, str, str, str]] = {}
        self.tabs = w.Tab(children=[w.VBox([self.routes, self.weights]), self.tree_box, self.findings])
        self.tabs.titles = ("routes and weights", "delegation tree", "findings")
        super().__init__([w.HBox([self.prev, self.slider, self.next, self.when]), self.marks, self.jump, self.header,
                          self.tabs])
        self.slider.observe(lambda change: self._show(change["new"]), names="value")
        if start is not None:
            first = self.model.index_at(start)
        else:
            blocked = self.model.first_blocked()
            first = blocked if blocked is not None else len(self.model) - 1
        if first >= 0:
            if self.slider.value == first:
                self._show(first)
            else:
                self.slider.value = first  # the observer renders
        else:
            self.header.value = "<i>the journal has no moments</i>"

    @property
    def index(self) -> int:
        """The index of the moment shown."""
        return int(self.slider.value)

    @property
    def current(self) -> MomentState:
        """The state of the moment shown."""
        return self.model.at(self.index)

    def show(self, index: int) -> MomentState:
        """Move to a moment (as dragging the slider there does).

        Args:
            index: The moment's index.

        Returns:
            Its state.

        Raises:
            IndexError: There is no such moment.
        """
        state = self.model.at(index)
        if self.slider.value != index:
            self.slider.value = index
        return state

    def seek(self, t: datetime | str) -> MomentState:
        """Move to the last moment at or before a time.

        Args:
            t: A timezone-aware time or an RFC 3339 string.

        Returns:
            That moment's state.
        """
        return self.show(self.model.index_at(t))

    def step(self, delta: int) -> MomentState:
        """Move ``delta`` moments (clamped to the first and last).

        Args:
            delta: -1 for the previous moment, 1 for the next.

        Returns:
            The state shown.
        """
        return self.show(min(max(self.index + delta, 0), len(self.model) - 1))

    def _show(self, index: int) -> None:
        if index < 0:
            return
        ms = self.model.at(index)
        html = self._html.get(index)
        if html is None:
            since = relative_time(ms.moment.time, self.model.origin)
            position = f"moment #{ms.moment.number} of {len(self.model)}, {since}"
            html = (_header_html(ms, position), _routes_html(ms), _weights_html(ms), _findings_html(ms))
            self._html[index] = html
        self.header.value, self.routes.value, self.weights.value, self.findings.value = html
        marks = f" [{', '.join(ms.moment.marks)}]" if ms.moment.marks else ""
        self.when.value = (f"<b>#{ms.moment.number}</b> {esc(relative_time(ms.moment.time, self.model.origin))}"
                           f"{esc(marks)}")
        self.marks.value = _marks_html(self.model, index)
        self._show_tree(index, ms)
        self.prev.disabled = index == 0
        self.next.disabled = index == len(self.model) - 1

    def _jump(self, index: int) -> None:
        if index >= 0:
            self.show(index)
            self.jump.value = -1  # ready for the next jump, even to the same moment

    # --- static rendering (saved notebooks) ----------------------------------------------------------------

    def summary(self) -> str:
        """One line: which moment is shown, of how many, what happened then and who is blocked."""
        if not len(self.model) or self.index < 0:
            return "time travel: the journal has no moments"
        ms = self.current
        blocked = ", ".join(ms.blocked_teams) or "no team"
        return (f"time travel: moment #{ms.moment.number} of {len(self.model)}, {rfc3339(ms.moment.time)}: "
                f"{'; '.join(ms.moment.happened)} ({blocked} blocked)")

    def static_html(self) -> str:
        """Every moment (times relative to the first, the one shown marked), then the shown moment's tabs."""
        if not len(self.model) or self.index < 0:
            return self.header.value
        # numbered as the header and the slider number them; times relative to the first (table's since)
        frame = self.model.frame()[["moment", "time", "happened", "blocked", "marks"]]
        shown = self.index
        moments_html = table(frame, since=self.model.moments[0].time,
                             row_style=lambda i: "font-weight:bold;background:#fff9c4" if i == shown else "")
        tree = self.tree.static_html() if self.tree is not None else ""
        return "".join([self.header.value,
                        section(f"all {len(self.model)} moments (times from the first, "
                                f"{rfc3339(self.model.moments[0].time)}; the one shown marked)", moments_html,
                                folded=True),
                        section("routes and weights", self.routes.value + self.weights.value),
                        section("delegation tree", tree), section("findings", self.findings.value)])

    def _show_tree(self, index: int, ms: MomentState) -> None:
        previous = self.tree
        tree = self._trees.pop(index, None)
        if tree is None:
            tree = DelegationTreeView(ms.state.translation, ms.inspection)
            causes = [c.ref for c in ms.state.translation.block_causes() if c.ref] if ms.holding else []
            focus = focus_nodes(tree.tree, ms.blocked, causes) if (ms.blocked or causes) else set()
            if focus:
                tree.expanded = focus
                tree.run_search(tree.search.value)  # renders with the focus open
        self._trees[index] = tree  # most recently shown last
        while len(self._trees) > TREE_CACHE:
            # Each tree is a few widgets per shown node: keep a bounded number alive on a long journal.
            _close(self._trees.pop(next(iter(self._trees))))
        if previous is not None and previous is not tree:
            # Node ids are paths of resource keys, stable across translations: keep what the reader opened.
            tree.expanded = set(previous.expanded)
            if tree.search.value != previous.search.value:
                tree.search.value = previous.search.value  # its observer searches and renders
            else:
                tree.run_search(tree.search.value)
            if previous.selected is not None and previous.selected != tree.selected:
                try:
                    tree.select(previous.selected)
                except KeyError:
                    tree.selected = None  # that node does not exist at this moment
        self.tree = tree
        self.tree_box.children = [tree]
