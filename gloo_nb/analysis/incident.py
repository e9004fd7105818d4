"""The written incident summary, the ``gloo-nb journal summary --json`` document and the timeline plot.

An incident is an episode during which the proxy held a last-known-good snapshot
(:attr:`gloo_nb.analysis.timeline.Timeline.episodes`): it starts with the change Gloo rejected and ends when the
first configuration after the fix is served. Its impact is the teams blocked meanwhile
(:attr:`~gloo_nb.analysis.timeline.Timeline.blocked`); the time to detect runs to the first status Gloo wrote with a
warning or an error that names a cause.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gloo_nb.analysis.timeline import Blocked, Cause, Change, ChangeDelay, Timeline, rfc3339
from gloo_nb.journal import Loss

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Incident", "IncidentSummary", "TeamImpact", "incident_summary", "timeline_figure"]

_NOT_ACCEPTED = frozenset({2, 3, "Rejected", "Warning"})
"""Gloo's status states for an error or a warning (1.3 writes numbers: 2 Rejected, 3 Warning)."""


@dataclass(frozen=True, slots=True)
class TeamImpact:
    """How one team was hurt during an incident.

    Attributes:
        team: The team (namespace).
        seconds: How long it was blocked (open blocks count to the journal's end).
        resources: Its changed resources that were held back, ``ns/name``.
        routes: Its routes that were intended but not served, ``match -> action``.
    """

    team: str
    seconds: float
    resources: tuple[str, ...]
    routes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Incident:
    """One episode of the proxy holding its last good snapshot, with its impact.

    Attributes:
        start: When the rejected change was made.
        end: When the first configuration after the fix was served; None while still held.
        started_by: The change(s) Gloo rejected first.
        fix: The change(s) after which Gloo pushed again.
        causes: The resources and Gloo's messages that kept the last good snapshot.
        detected: When Gloo first wrote a status with a warning or error naming a cause, or None.
        detected_on: ``Kind ns/name`` of that status, or ``""``.
        impact: Per blocked team.
    """

    start: datetime
    end: datetime | None
    started_by: tuple[Change, ...]
    fix: tuple[Change, ...]
    causes: tuple[Cause, ...]
    detected: datetime | None
    detected_on: str
    impact: tuple[TeamImpact, ...]

    @property
    def time_to_detect(self) -> float | None:
        """Seconds from the start to the first status naming a cause, or None."""
        return None if self.detected is None else (self.detected - self.start).total_seconds()

    @property
    def time_to_recover(self) -> float | None:
        """Seconds from the start to the end, or None while still held."""
        return None if self.end is None else (self.end - self.start).total_seconds()

    def document(self) -> dict[str, Any]:
        """The incident as JSON (times RFC 3339)."""
        return {
            "start": rfc3339(self.start), "end": rfc3339(self.end),
            "startedBy": [_change_doc(c) for c in self.started_by], "fix": [_change_doc(c) for c in self.fix],
            "causes": [c.text() for c in self.causes],
            "detected": rfc3339(self.detected), "detectedOn": self.detected_on or None,
            "timeToDetectSeconds": self.time_to_detect, "timeToRecoverSeconds": self.time_to_recover,
            "impact": [{"team": i.team, "blockedSeconds": i.seconds, "resources": list(i.resources),
                        "routes": list(i.routes)} for i in self.impact],
        }


def _change_doc(change: Change) -> dict[str, Any]:
    return {"resource": change.ref, "kind": change.kind, "time": rfc3339(change.time), "actor": change.actor}


def _blocked_doc(b: Blocked, until: datetime | None) -> dict[str, Any]:
    return {"team": b.team, "blockedBy": list(b.blocked_by), "resource": b.resource, "kind": b.kind,
            "start": rfc3339(b.start), "end": rfc3339(b.end),
            "pendingSince": rfc3339(b.pending_since), "cause": b.cause, "routes": list(b.routes),
            "seconds": b.seconds(until) if until else None}


def _delay_doc(d: ChangeDelay) -> dict[str, Any]:
    return {"resource": d.change.ref, "kind": d.change.kind, "team": d.change.namespace, "type": d.change.type,
            "time": rfc3339(d.change.time), "actor": d.change.actor, "servedAfterSeconds": d.served_after,
            "appliedAfterSeconds": d.applied_after, "supersededAt": rfc3339(d.superseded),
            **({"seenAfterSeconds": d.seen_after, "seenBy": {n: rfc3339(t) for n, t in d.seen.items()}}
               if d.seen else {})}


@dataclass(frozen=True)
class IncidentSummary:
    """What a journal says happened: incidents, who was blocked, how long changes took.

    Attributes:
        profile: The Gloo behaviour profile replayed.
        start: The journal's first event time.
        end: The journal's last event time.
        events: How many events were read.
        losses: What may be missing from the journal (killed runs, cut lines), with the time span.
        incidents: The incidents, by start.
        blocked: Every blocked row.
        delays: Every change with its delays.
    """

    profile: str
    start: datetime | None
    end: datetime | None
    events: int
    losses: tuple[Loss, ...]
    incidents: tuple[Incident, ...]
    blocked: tuple[Blocked, ...]
    delays: tuple[ChangeDelay, ...]
    imported: tuple[Mapping[str, Any], ...] = ()
    unknown: tuple[tuple[datetime, datetime | None, tuple[str, ...]], ...] = ()

    def document(self) -> dict[str, Any]:
        """The ``gloo-nb journal summary --json`` document (``design/architecture.md``, Journal).

        Returns:
            ``{"journal", "glooVersion", "blocked": [{team, blockedBy, resource, kind, start, end, pendingSince, cause,
            routes, seconds}], "changes": [{resource, kind, team, type, time, actor, servedAfterSeconds,
            appliedAfterSeconds, supersededAt}], "incidents": [...]}``, times RFC 3339, null for open ends and
            never-served or never-applied changes.
        """
        return {
            "journal": {"start": rfc3339(self.start), "end": rfc3339(self.end), "events": self.events,
                        "losses": [loss.as_json() for loss in self.losses]},
            "glooVersion": self.profile,
            "blocked": [_blocked_doc(b, self.end) for b in self.blocked],
            "changes": [_delay_doc(d) for d in self.delays],
            "incidents": [i.document() for i in self.incidents],
            **({"imported": [dict(i) for i in self.imported]} if self.imported else {}),
            **({"unknown": [{"start": rfc3339(a), "end": rfc3339(b), "objects": list(refs)}
                            for a, b, refs in self.unknown]} if self.unknown else {}),
        }

    def text(self) -> str:
        """The written summary.

        Returns:
            Per incident its start, end, impact per team, cause, fix, time to detect and to recover; then every
            change's delays.
        """
        lines = [f"Journal {_t(self.start)} to {_t(self.end)}, {self.events} events, Gloo {self.profile}"]
        lines += [f"  lost: {loss}" for loss in self.losses]
        for source in self.imported:
            audit = ", ".join(str(f) for f in source.get("audit") or []) or "-"
            levels = ", ".join(str(x) for x in source.get("levels") or []) or "-"
            lines.append(f"  imported from audit log(s) {audit} (levels {levels}): what was served and applied is "
                         "unknown; an incident ends when the fix makes Gloo push again (the translation says so)")
        for a, b, refs in self.unknown:
            lines.append(f"  unknown from {_t(a)} to {_t(b) if b else 'the end'}: the content of "
                         f"{', '.join(refs)} (no incident can be told there)")
        if not self.incidents:
            lines.append("No incident: the proxy never held a last-known-good configuration.")
        for n, inc in enumerate(self.incidents, start=1):
            lines.append("")
            lines.append(f"Incident {n}: Gloo kept its last good configuration from {_t(inc.start)} to "
                         f"{_t(inc.end) if inc.end else 'the end of the journal (still held)'}")
            lines += [f"  started by {_who(c)}" for c in inc.started_by]
            lines += [f"  cause: {c.text()}" for c in inc.causes]
            if inc.impact:
                for imp in inc.impact:
                    lines.append(f"  impact: {imp.team} blocked {_s(imp.seconds)} ({', '.join(imp.resources)})")
                    lines += [f"    route not served: {r}" for r in imp.routes]
            else:
                lines.append("  impact: no other team had a change held back")
            lines += [f"  fix: {_who(c)}" for c in inc.fix] or ["  fix: none yet"]
            detect = inc.time_to_detect
            lines.append(f"  time to detect: {_s(detect)} (first status naming the cause, on {inc.detected_on})"
                         if detect is not None else "  time to detect: Gloo wrote no status naming the cause")
            recover = inc.time_to_recover
            lines.append(f"  time to recover: {_s(recover)}" if recover is not None else "  time to recover: not yet")
        if self.delays:
            lines += ["", "Changes (served: first served update containing it; applied: the last replica)"]
            for d in self.delays:
                superseded = f", superseded at {_t(d.superseded)}" if d.superseded else ""
                timing = ("served and applied unknown" if self.imported and d.served is None else
                          f"served after {_s(d.served_after)}, applied after {_s(d.applied_after)}")
                if d.seen_after is not None:
                    first = min((t, n) for n, t in d.seen.items() if t is not None)[1]
                    timing += f", seen in traffic after {_s(d.seen_after)} ({first})"
                lines.append(f"  {_t(d.change.time)} {d.change.kind} {d.change.ref} by {d.change.actor}: "
                             f"{timing}{superseded}")
        return "\n".join(lines) + "\n"


def _t(time: datetime | None) -> str:
    return rfc3339(time) or "-"


def _s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.2f} s"


def _who(change: Change) -> str:
    return f"{change.kind} {change.ref} {change.type.lower()} by {change.actor} at {_t(change.time)}"


def _states(status: Any) -> Iterator[tuple[Any, str]]:
    """Every ``(state, reason)`` in a status, its subresource statuses and namespaced statuses included."""
    if isinstance(status, Mapping):
        if "state" in status:
            yield status["state"], str(status.get("reason", ""))
        for value in status.values():
            yield from _states(value)


def _detection(timeline: Timeline, start: datetime, end: datetime | None,
               causes: Sequence[Cause]) -> tuple[datetime | None, str]:
    messages = [c.message for c in causes if c.message]
    if not messages:
        return None, ""
    for time, d in timeline.kube_events(start, end):
        if not d.get("statusChanged"):
            continue
        status = (d.get("object") or {}).get("status")
        if any(state in _NOT_ACCEPTED and any(m in reason for m in messages) for state, reason in _states(status)):
            return time, f"{d.get('kind')} {d.get('namespace')}/{d.get('name')}"
    return None, ""


def incident_summary(timeline: Timeline) -> IncidentSummary:
    """Summarise a timeline: incidents with their impact, cause, fix and timings; blocked rows; change delays.

    Args:
        timeline: A loaded timeline (:func:`gloo_nb.analysis.timeline.load_timeline`).

    Returns:
        The summary; ``.text()`` to read, ``.document()`` for ``gloo-nb journal summary --json``.
    """
    until = timeline.end
    incidents = []
    for ep in timeline.episodes:
        inside = [b for b in timeline.blocked if b.start >= ep.start and (ep.end is None or b.start < ep.end)]
        impact = []
        for team in sorted({b.team for b in inside}):
            mine = [b for b in inside if b.team == team]
            impact.append(TeamImpact(team, _union_seconds(mine, until),
                                     tuple(dict.fromkeys(b.resource for b in mine)),
                                     tuple(dict.fromkeys(r for b in mine for r in b.routes))))
        detected, on = _detection(timeline, ep.start, ep.end, ep.causes)
        incidents.append(Incident(ep.start, ep.end, ep.started_by, ep.ended_by, ep.causes, detected, on,
                                  tuple(impact)))
    return IncidentSummary(timeline.profile, timeline.start, until, len(timeline.journal), tuple(timeline.losses),
                           tuple(incidents), tuple(timeline.blocked), tuple(timeline.delays),
                           tuple(timeline.imported), tuple(timeline.unknown))


def _union_seconds(rows: Sequence[Blocked], until: datetime | None) -> float:
    spans = sorted((b.start, b.end or until or b.start) for b in rows)
    total, cur_start, cur_end = 0.0, None, None
    for a, b in spans:
        if cur_end is None or a > cur_end:
            if cur_start is not None and cur_end is not None:
                total += (cur_end - cur_start).total_seconds()
            cur_start, cur_end = a, b
        else:
            cur_end = max(cur_end, b)
    if cur_start is not None and cur_end is not None:
        total += (cur_end - cur_start).total_seconds()
    return total


def timeline_figure(timeline: Timeline, team: str | None = None) -> Figure:
    """Plot weights per team over time, blocked intervals shaded and changes marked with their actor.

    Intended weights are dashed, served ones solid, each replica's applied ones thin with its own marker and
    drawn a few points apart (an offset in points, not in percent), so lines that coincide stay tellable
    apart. Legend entries use short destination labels (``prefix /foxtrot -> v1``) and sit right of the plot
    area. Blocked intervals are ``axvspan`` patches with ``gid="blocked"``; change markers are vertical lines
    with ``gid="change"``; change labels (``+2.6 s RouteTable echo/echo-routes by echo-dev``, the time from
    the first change) are numbered above the top plot and spelled out in a legend under the figure (texts
    with ``gid="change-label"``), outside every plot area so no line covers them and nothing clips them.

    Args:
        timeline: The timeline.
        team: Only this team (namespace); default every team that owns a route.

    Returns:
        A matplotlib Figure (not attached to pyplot: display it as ``SvgFigure(fig)``, or ``savefig`` it).
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.transforms import ScaledTranslation

    from gloo_nb.analysis.figures import short_labels

    weights = timeline.weights_frame()
    teams = [team] if team else sorted(t for t in weights["team"].unique() if t)
    labels = _change_labels(timeline)
    fig = Figure(figsize=(11, 2.6 * max(1, len(teams)) + 0.8 + 0.17 * len(labels)), layout="constrained")
    axes = fig.subplots(max(1, len(teams)), 1, sharex=True, squeeze=False)[:, 0]
    end = timeline.end
    colors = [f"C{i}" for i in range(10)]
    for ax, name in zip(axes, teams or [""], strict=False):
        mine = weights[weights["team"] == name]
        series = sorted({(r, d) for r, d in zip(mine["route"], mine["destination"], strict=True)})
        short = short_labels(sorted({d for _r, d in series}))
        sources = _sources(mine)
        for n, (route, dest) in enumerate(series):
            color = colors[n % len(colors)]
            for k, (source, style) in enumerate(sources):
                rows = mine[(mine["route"] == route) & (mine["destination"] == dest) & (mine["source"] == source)]
                if not len(rows):
                    continue
                times = [*rows["time"].dt.to_pydatetime(), end] if end is not None else list(rows["time"])
                values = [*rows["weight"], rows["weight"].iloc[-1]] if end is not None else list(rows["weight"])
                # Sources of one destination usually agree: shift each by 1.5 points (k-th source) so they
                # show side by side instead of hiding each other; the data stay exact.
                shift = ScaledTranslation(0, (k - 1) * 1.5 / 72, fig.dpi_scale_trans)
                ax.step(times, values, where="post", color=color, transform=ax.transData + shift, **style,
                        label=f"{_route_short(route)} -> {short.get(dest, dest)}" if source == "served" else None)
        for b in timeline.blocked:
            if b.team == name and (end is not None or b.end is not None):
                ax.axvspan(b.start, b.end or end, color="tab:red", alpha=0.15, gid="blocked",
                           label=f"{b.team} blocked ({b.resource})")
        for change in timeline.changes:
            ax.axvline(change.time, color="0.4", linewidth=0.8, linestyle=":", gid="change")
        ax.set_ylabel(f"{name or 'routes'}\nweight %")
        ax.set_ylim(-5, 105)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                      title="served (solid)", title_fontsize=8)
    if labels:
        # Numbers at the change lines (above the top plot) and the words in a legend under the figure: long
        # labels never overlap each other or the lines, and constrained layout keeps both inside the figure.
        top = axes[0].secondary_xaxis("top")
        top.set_xticks([when for when, _ in labels], [str(i + 1) for i in range(len(labels))], fontsize=8)
        top.tick_params(length=3, pad=1)
        handles = [Line2D([], [], color="0.4", linewidth=0.8, linestyle=":") for _ in labels]
        legend = fig.legend(handles, [f"{i + 1}  {text}" for i, (_, text) in enumerate(labels)],
                            loc="outside lower left", fontsize=8, ncols=2 if len(labels) > 4 else 1,
                            title="changes (numbered above the top plot)", title_fontsize=8, frameon=False,
                            alignment="left")
        for t in legend.get_texts():
            t.set_gid("change-label")
    axes[-1].set_xlabel("time (UTC); intent dashed, served solid, replicas thin with markers")
    fig.suptitle(f"Gloo {timeline.profile}: traffic weight per destination over time, per team "
                 "(blocked intervals shaded red, changes dotted)", fontsize=10)
    return fig


def _route_short(route: str) -> str:
    """``gloo-system_app prefix /foxtrot`` -> ``prefix /foxtrot`` (the team's axis already says whose)."""
    head, sep, rest = route.partition(" ")
    return rest if sep and rest else route


def _change_labels(timeline: Timeline) -> list[tuple[datetime, str]]:
    """One label per group of changes closer than 2% of the journal's span (a setup burst reads as one).

    Each label starts with the time from the first change (``+2.6 s``), as the time-travel slider counts.
    """
    changes = timeline.changes
    if not changes:
        return []
    span = ((timeline.end or changes[-1].time) - (timeline.start or changes[0].time)) * 0.02
    groups: list[list[Change]] = []
    for change in changes:
        if groups and change.time - groups[-1][0].time <= span:
            groups[-1].append(change)
        else:
            groups.append([change])
    labels = []
    origin = changes[0].time
    for group in groups:
        first = group[0]
        at = f"+{(first.time - origin).total_seconds():.1f} s"
        if len(group) == 1:
            labels.append((first.time, f"{at} {first.kind} {first.ref} by {first.actor}"))
        else:
            actors = ", ".join(dict.fromkeys(c.actor for c in group))
            labels.append((first.time, f"{at} {len(group)} changes by {actors}"))
    return labels


def _sources(frame: Any) -> list[tuple[str, dict[str, Any]]]:
    styles: list[tuple[str, dict[str, Any]]] = [("intent", {"linestyle": "--", "linewidth": 1.5}),
                                                ("served", {"linestyle": "-", "linewidth": 2.2})]
    nodes = sorted(s for s in frame["source"].unique() if s not in ("intent", "served"))
    markers = "os^vD"
    return styles + [(node, {"linestyle": "-", "linewidth": 0.8, "alpha": 0.8, "marker": markers[i % len(markers)],
                             "markersize": 3.5}) for i, node in enumerate(nodes)]
