"""The rollout stepper: a rollout's plan, its last step's guards, convergence and proof, live weights, next/rollback.

The view-model is the plain functions at the top (:func:`plan_rows`, :func:`probe_rows`,
:func:`convergence_rows`, :func:`weights_rows`, :func:`checkpoints` and their ``*_html``
renderers): they take plain data (the status, the step reports, the journal history, drift rows)
and are tested without widgets. :class:`RolloutStepper` only wires them to a
:class:`gloo_nb.app.rollout.Rollout` and its buttons.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ipywidgets as w
import pandas as pd

from gloo_nb.analysis.drift import DriftRow
from gloo_nb.analysis.headline import ChangeLike, Headline, headline
from gloo_nb.app.rollout import Rollout, StepReport
from gloo_nb.errors import GlooNbError
from gloo_nb.rollout import RolloutStatus, RolloutTarget
from gloo_nb.rollout.signals import MIXED, LatencySignal
from gloo_nb.widgets._html import esc, table
from gloo_nb.widgets._live import ConnectionProblem, connection_problem, is_transport_error, problem_html, watch_close
from gloo_nb.widgets._static import StaticView, section
from gloo_nb.widgets.headline import headline_html

__all__ = [
    "PHASES",
    "STATE_COLOURS",
    "PlanRow",
    "ProbeRow",
    "RolloutStepper",
    "checkpoints",
    "next_label",
    "progress_html",
    "progress_rows",
    "rollback_label",
    "standing_html",
    "convergence_html",
    "convergence_rows",
    "guards_html",
    "plan_html",
    "plan_rows",
    "probe_rows",
    "probes_html",
    "weights_html",
    "weights_rows",
]

STATE_COLOURS = {
    "proven": "#2e7d32",
    "next": "#1565c0",
    "pending": "#757575",
    "refused": "#ef6c00",
    "failed": "#c62828",
}
"""Text colour of each plan state."""

_OK, _BAD = "#2e7d32", "#c62828"
_REFUSED = frozenset({"refused", "conflict"})  # nothing was written: the step stopped before its apply


# --- view-model -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRow:
    """One step of the plan as the stepper shows it.

    Attributes:
        step: The step's id.
        description: What it does.
        state: ``proven``, ``next``, ``pending``, ``refused`` or ``failed``.
        detail: Why (the failing report's reason), or the status's finer state (``applied``, ``live``), or ``""``.
    """

    step: str
    description: str
    state: str
    detail: str = ""


def _since_rollback(reports: Sequence[StepReport]) -> list[StepReport]:
    # A rollback re-plans from the restored state: outcomes from before it no longer describe the steps.
    last = max((i for i, r in enumerate(reports) if r.step.startswith("rollback-")), default=-1)
    return list(reports[last + 1:])


def plan_rows(status: RolloutStatus, reports: Sequence[StepReport] = ()) -> list[PlanRow]:
    """Each step of the plan with its state, from the status and the reports of this session.

    A step the status calls proven is ``proven``. Otherwise the latest report about it since the last
    rollback decides: refused (guards or a conflict stopped it before any write) or failed (applied
    but not converged or not proven). Otherwise the status's next step is ``next`` and the rest
    ``pending``.

    Args:
        status: :meth:`Rollout.status`.
        reports: :attr:`Rollout.reports`, oldest first.

    Returns:
        One row per step, in plan order.
    """
    latest = {r.step: r for r in _since_rollback(reports)}
    rows = []
    for s in status.steps:
        report = latest.get(s.step)
        detail = s.state if s.state in ("applied", "live") else ""
        if s.state == "proven":
            state = "proven"
        elif report is not None and report.outcome in _REFUSED:
            state, detail = "refused", report.reason
        elif report is not None and report.outcome == "failed":
            state, detail = "failed", report.reason
        elif s.step == status.next_step:
            state = "next"
        else:
            state = "pending"
        rows.append(PlanRow(s.step, s.description, state, detail))
    return rows


def checkpoints(status: RolloutStatus) -> list[str]:
    """What a rollback can restore: ``start`` then every proven step, in plan order.

    Args:
        status: :meth:`Rollout.status`.

    Returns:
        The checkpoint names.
    """
    return ["start", *(s.step for s in status.steps if s.state == "proven")]


def convergence_rows(report: StepReport) -> list[tuple[str, float | None]]:
    """Seconds until the control plane served the step, then until each replica applied it.

    Args:
        report: A step report.

    Returns:
        ``("served", seconds)`` then ``(node id, seconds)`` per replica (None: never); empty when the
        step did not wait for convergence.
    """
    c = report.converged
    if c is None:
        return []
    return [("served", c.served_seconds), *c.applied_seconds.items()]


@dataclass(frozen=True)
class ProbeRow:
    """One proof probe of a step.

    Attributes:
        name: The probe's name (``with-header``, ``without-header``).
        sent: Requests sent.
        by_subset: Subset value -> requests Envoy counted for it (``""``: hosts without the subset key).
        seconds: How long it took.
        ok: The verdict (None when there is none: the step stopped before judging it).
        reason: The verdict's reason.
        errors_by_subset: Subset value -> 5xx Envoy counted for it (its hosts' ``rq_error``); None: not measured.
        latency_by_subset: Subset value (``*``: the probe was split between subsets) -> p50/p99 measured by the
            probe; None: not measured.
    """

    name: str
    sent: int
    by_subset: Mapping[str, int]
    seconds: float
    ok: bool | None
    reason: str
    errors_by_subset: Mapping[str, int] | None = None
    latency_by_subset: Mapping[str, LatencySignal] | None = None

    def signals(self) -> list[tuple[str, int, float | None]]:
        """The golden signals per subset: ``(subset, requests, success rate)``.

        From Envoy's own per-host counters (``rq_total``, ``rq_error``), in subset order; the success rate
        is the non-5xx share, None when nothing was sent to the subset or 5xx were not measured.
        """
        errors = self.errors_by_subset
        out = []
        for subset in sorted(set(self.by_subset) | set(errors or {})):
            n = self.by_subset.get(subset, 0)
            rate = None if errors is None or not n else max(0, n - errors.get(subset, 0)) / n
            out.append((subset, n, rate))
        return out


def probe_rows(report: StepReport) -> list[ProbeRow]:
    """The step's probes with their verdicts.

    Args:
        report: A step report.

    Returns:
        One row per probe, in the order sent.
    """
    verdicts: dict[str, tuple[bool | None, str]] = {name: (ok, reason) for name, ok, reason in report.verdicts}
    rows = []
    for name, obs in report.probes:
        ok, reason = verdicts.get(name, (None, ""))
        rows.append(ProbeRow(name, obs.sent, dict(obs.by_subset), obs.seconds, ok, reason,
                             None if obs.errors_by_subset is None else dict(obs.errors_by_subset),
                             None if obs.latency_by_subset is None else dict(obs.latency_by_subset)))
    return rows


def weights_rows(drift: Sequence[DriftRow], route_table: str) -> pd.DataFrame:
    """The team RouteTable's routes as Kubernetes intends them, as served, and as each replica applied them.

    A view of the drift rows' cells: each cell's action summary is the one summary of the route's weights
    (:func:`gloo_nb.translate.routes.action_summary`).

    Args:
        drift: ``Inspection.drift`` rows.
        route_table: ``ns/name`` of the team's RouteTable.

    Returns:
        Columns ``route``, ``state``, ``intent``, then ``served`` and each replica as present in the rows;
        one row per route of that RouteTable (``-`` where a source lacks the route).
    """
    mine = [d for d in drift if d.resource == route_table]
    sources: dict[str, None] = {}
    for d in mine:
        sources.update(dict.fromkeys(s for s in d.cells if s != "intent"))
    records = []
    for d in mine:
        by_source = d.by_source
        record = {"route": d.match, "state": d.state, "intent": by_source.get("intent") or "-"}
        record.update({s: by_source.get(s) or "-" for s in sources})
        records.append(record)
    return pd.DataFrame(records, columns=["route", "state", "intent", *sources])


# --- HTML -------------------------------------------------------------------------------------


def plan_html(rows: Sequence[PlanRow]) -> str:
    """The plan as a table, each state coloured.

    Args:
        rows: :func:`plan_rows`.

    Returns:
        HTML.
    """
    body = "".join(
        f'<tr><td><code>{esc(r.step)}</code></td><td style="color:{STATE_COLOURS.get(r.state, "inherit")};'
        f'font-weight:bold">{esc(r.state)}</td><td>{esc(r.description)}'
        + (f"<br><i>{esc(r.detail)}</i>" if r.detail else "") + "</td></tr>"
        for r in rows)
    return ('<table class="gloo-nb rollout-plan" cellpadding="4" style="border-collapse:collapse"><thead><tr>'
            "<th>step</th><th>state</th><th>what it does</th></tr></thead><tbody>" + body + "</tbody></table>")


def guards_html(report: StepReport | None) -> str:
    """The report's guard results: ok in green, failed in red with the reason.

    Args:
        report: The last step report (None: no step run yet).

    Returns:
        HTML.
    """
    if report is None or not report.guards:
        return "<i>no guards checked yet</i>"
    items = "".join(
        f'<li style="color:{_OK if ok else _BAD}"><b>{esc(name)}</b>: {"ok" if ok else "failed"}'
        + (f" ({esc(why)})" if why and not ok else "") + "</li>"
        for name, ok, why in report.guards)
    return f"<div><b>guards of {esc(report.step)}</b><ul class=\"rollout-guards\">{items}</ul></div>"


def convergence_html(report: StepReport | None) -> str:
    """Seconds to served and to each replica (red when never).

    Args:
        report: The last step report.

    Returns:
        HTML.
    """
    rows = convergence_rows(report) if report is not None else []
    if report is None or not rows or report.converged is None:
        return "<i>no convergence measured yet</i>"
    cells = "".join(
        f"<tr><td>{esc(src)}</td>"
        + (f'<td style="color:{_BAD}">never</td>' if s is None else f"<td>{s:.2f} s</td>") + "</tr>"
        for src, s in rows)
    head = (f'<b>convergence of {esc(report.step)}</b>: <span style="color:{_OK if report.converged.ok else _BAD}">'
            f'{"converged" if report.converged.ok else "not converged"}</span>'
            + (f" ({esc(report.converged.detail)})" if report.converged.detail else ""))
    return (f"<div>{head}<table class=\"gloo-nb rollout-convergence\" cellpadding=\"4\" "
            "style=\"border-collapse:collapse\">"
            f"<thead><tr><th>source</th><th>after</th></tr></thead><tbody>{cells}</tbody></table></div>")


def probes_html(report: StepReport | None, rows: Sequence[ProbeRow]) -> str:
    """Each probe's counts per subset and its verdict (green ok, red failed).

    Args:
        report: The last step report.
        rows: :func:`probe_rows` of it.

    Returns:
        HTML.
    """
    if report is None or not rows:
        return "<i>no probes yet</i>"
    body = []
    for r in rows:
        split = ", ".join(f"{k or '(no subset)'}: {v}" for k, v in sorted(r.by_subset.items())) or "nothing counted"
        colour = "inherit" if r.ok is None else _OK if r.ok else _BAD
        verdict = "-" if r.ok is None else "ok" if r.ok else "failed"
        body.append(f"<tr><td>{esc(r.name)}</td><td>{r.sent}</td><td>{esc(split)}</td>"
                    f"<td>{_signals_html(r)}</td><td>{_latency_html(r)}</td><td>{r.seconds:.2f} s</td>"
                    f'<td style="color:{colour}"><b>{verdict}</b> {esc(r.reason)}</td></tr>')
    return (f"<div><b>proof of {esc(report.step)}</b><table class=\"gloo-nb rollout-probes\" "
            "cellpadding=\"4\" style=\"border-collapse:collapse\"><thead><tr><th>probe</th><th>sent</th>"
            "<th>per subset</th><th>success rate (non-5xx, Envoy)</th>"
            "<th>latency p50 / p99 (measured by the probe)</th><th>took</th><th>verdict</th></tr></thead><tbody>"
            + "".join(body) + "</tbody></table></div>")


def _signals_html(row: ProbeRow) -> str:
    # Red below 100 %: a canary that answers 5xx must be visible before promotion.
    parts = []
    for subset, n, rate in row.signals():
        if rate is None:  # not measured, or nothing sent there: no rate is made up
            parts.append(f"{esc(subset or '(no subset)')}: - of {n}")
            continue
        colour = _OK if rate >= 1.0 else _BAD
        parts.append(f'{esc(subset or "(no subset)")}: <span style="color:{colour}">{100 * rate:.1f} %</span> of {n}')
    return ", ".join(parts) or "-"


def _latency_html(row: ProbeRow) -> str:
    # The probe's own numbers, labelled so: Envoy's upstream_rq_time histogram is per cluster and cannot split
    # subsets (gloo_nb/rollout/signals.py). A split probe is shown as a whole, never spread over subsets.
    lat = row.latency_by_subset
    if not lat:
        return "-"
    parts = []
    for subset, sig in sorted(lat.items()):
        label = "split (not attributable)" if subset == MIXED else subset or "(no subset)"
        envoy = (f" (Envoy upstream {_ms(sig.envoy_p50_ms)} / {_ms(sig.envoy_p99_ms)})"
                 if sig.envoy_p99_ms is not None else "")
        parts.append(f"{esc(label)}: {_ms(sig.p50_ms)} / {_ms(sig.p99_ms)}{esc(envoy)}")
    return "<br>".join(parts)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def weights_html(frame: pd.DataFrame, route_table: str) -> str:
    """The live routes table (:func:`weights_rows`), states other than in-sync in orange.

    Args:
        frame: :func:`weights_rows`.
        route_table: The RouteTable, for the title.

    Returns:
        HTML.
    """
    if frame.empty:
        return f"<i>no route of {esc(route_table)} in the intent, served or applied configuration</i>"

    def style(column: str, value: Any) -> str:
        return "color:#ef6c00" if column == "state" and value != "in-sync" else ""

    return f"<div><b>live routes of {esc(route_table)}</b>{table(frame, style=style)}</div>"


# --- labels, progress, standing (view-model) ----------------------------------------------------

PHASES = ("guards", "apply", "converge", "proof")
"""The phases of a step, in the order the progress row shows them (``Rollout.progress``)."""


def next_label(step: str | None, target: RolloutTarget, *, dry_run: bool = False) -> str:
    """What the next-step button does, in words (``promote to 50 %``), not ``next step``.

    Args:
        step: The next step's id (None: the rollout is done).
        target: The rollout's target (its subsets name the destinations).
        dry_run: Whether the button only previews.

    Returns:
        The button's label.
    """
    if step is None:
        return "rollout done"
    if step == "pin-stable":
        label = f"pin the default route to {target.stable}"
    elif step == "phase1":
        label = f"start phase 1: {target.header[0]}={target.header[1]} to {target.canary}"
    elif step.startswith("phase2-"):
        weight = step.removeprefix("phase2-")
        # The first weighted step sends nothing to the canary yet: it is no promotion.
        label = f"weighted destinations ({target.canary} 0 %)" if weight == "0" else f"promote to {weight} %"
    elif step == "finish":
        label = f"finish: {target.canary} only"
    elif step == "decommission":
        label = f"decommission {target.stable}"
    else:
        label = f"run {step}"
    return f"preview: {label}" if dry_run else label


def rollback_label(checkpoint: str | None) -> str:
    """What the rollback button does (``roll back to phase2-10``).

    Args:
        checkpoint: The chosen checkpoint (None: the last good one).

    Returns:
        The button's label.
    """
    return f"roll back to {checkpoint}" if checkpoint else "roll back to the last checkpoint"


def progress_rows(seen: Sequence[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """The running step's phases: each ``done``, ``running`` or ``waiting``, with its latest detail.

    Args:
        seen: ``(phase, detail)`` as :attr:`Rollout.progress` told them, oldest first (a rollback's phases
            repeat: only the latest detail of a phase counts, and the latest phase told is the running one).

    Returns:
        ``(phase, state, detail)`` per phase of :data:`PHASES`, in order.
    """
    latest: dict[str, str] = {}
    for phase, detail in seen:
        latest[phase] = detail
    current = seen[-1][0] if seen else None
    at = PHASES.index(current) if current in PHASES else -1
    rows = []
    for i, phase in enumerate(PHASES):
        state = "running" if i == at else "done" if i < at else "waiting"
        rows.append((phase, state, latest.get(phase, "") if i <= at else ""))
    return rows


def progress_html(what: str, seen: Sequence[tuple[str, str]]) -> str:
    """The progress row shown at the top while a step runs.

    Args:
        what: What runs (``promote to 50 %``).
        seen: ``(phase, detail)`` so far (:func:`progress_rows`).

    Returns:
        HTML.
    """
    colour = {"done": _OK, "running": "#1565c0", "waiting": "#757575"}
    cells = "".join(
        f'<span class="rollout-phase rollout-phase-{state}" style="color:{colour[state]};margin-right:1em">'
        f'{"&#10003; " if state == "done" else "&#9654; " if state == "running" else ""}<b>{esc(phase)}</b>'
        + (f" ({esc(detail)})" if detail else "") + "</span>"
        for phase, state, detail in progress_rows(seen))
    return (f'<div class="gloo-nb rollout-progress" style="background:#e3f2fd;padding:4px">'
            f"<b>{esc(what)}</b> running: {cells}</div>")


def standing_html(status: RolloutStatus, report: StepReport | None) -> str:
    """After a rollback, where the rollout stands (``""`` when the last action was no rollback).

    Args:
        status: The status read after the rollback.
        report: The last report (a rollback's step id is ``rollback-<checkpoint>``).

    Returns:
        HTML.
    """
    if report is None or not report.step.startswith("rollback-"):
        return ""
    to = report.step.removeprefix("rollback-")
    verdict = "done" if report.ok else f"{report.outcome}: {report.reason}"
    stands = f"at checkpoint <code>{esc(status.last_checkpoint)}</code>" if status.last_checkpoint else "at the start"
    return (f'<div class="rollout-standing"><b>rolled back to {esc(to)}</b> ({esc(verdict)}): the rollout stands '
            f"{stands}; live: {esc(status.live)}; next step: <code>{esc(status.next_step or 'none (done)')}</code>"
            "</div>")


# --- the widget -------------------------------------------------------------------------------


class RolloutStepper(StaticView, w.VBox):
    """Step a rollout from a notebook: the plan, the last step's guards, convergence and proof, live weights.

    Honest about its connection: when the rollout's connection is closed or the gateway does not answer,
    the header says so in words (:mod:`gloo_nb.widgets._live`) and the step buttons are disabled (``check
    again`` re-reads). The buttons name what they do (:func:`next_label`, :func:`rollback_label`); a
    rollback asks for confirmation first; while a step runs, the progress row at the top shows its phase
    and the last step's results are put away.

    Args:
        rollout: The rollout (its connection is read for the live weights after each step).
        changes: Who changed what when, read at each refresh for the headline (e.g. ``NotebookGateway.changes``);
            None: actors and durations are unknown.

    Attributes:
        rollout: The rollout.
        top: The headline of the gateway (what is not served, whose cause, the fix options), refreshed with the rest.
        headline: That headline (None before a read succeeded).
        progress: The progress row (empty unless a step runs).
        header: The RouteTable, the live managed routes, the last checkpoint and the next step (or the
            connection problem).
        plan: The plan with each step's state.
        guards, convergence, probes: The last step's results.
        weights: The team RouteTable's routes: intent, served and each replica's action.
        next_button: Runs :meth:`Rollout.next`; labelled with what the next step does.
        checkpoint: The rollback target (``start`` and the proven steps).
        rollback_button: Asks to roll back to the chosen checkpoint (:meth:`ask_rollback`).
        confirm: The confirmation row (hidden unless asked): ``confirm_button`` rolls back, ``cancel_button`` not.
        check_button: Re-reads the status (after the gateway was unreachable).
        output: The last report's text (and diff), or the error that stopped it.
        report: The last step report (None before the first).
        problem: The connection problem that disables the actions (None when there is none).
        busy: True while a step or a rollback runs (the buttons are disabled then).
    """

    def __init__(self, rollout: Rollout, *, changes: Callable[[], Iterable[ChangeLike]] | None = None) -> None:
        self.rollout = rollout
        self.report: StepReport | None = None
        self.problem: ConnectionProblem | None = None
        self.busy = False
        self._changes = changes
        self.headline: Headline | None = None
        self.top = w.HTML()
        self.status: RolloutStatus | None = None  # as of the last refresh (the static rendering reads no cluster)
        self._next_step: str | None = None
        self._seen: list[tuple[str, str]] = []
        self.progress = w.HTML()
        self.header = w.HTML()
        self.plan = w.HTML()
        self.guards = w.HTML()
        self.convergence = w.HTML()
        self.probes = w.HTML()
        self.weights = w.HTML()
        self.output = w.HTML()
        self.next_button = w.Button(description="preview next step" if rollout.dry_run else "next step",
                                    button_style="primary", layout=w.Layout(width="auto"))
        self.checkpoint = w.Dropdown(options=["start"], value="start", description="back to")
        # A rollback writes to the cluster: not offered in a dry run.
        self.rollback_button = w.Button(description=rollback_label("start"), button_style="warning",
                                        disabled=rollout.dry_run, layout=w.Layout(width="auto"))
        self.check_button = w.Button(description="check again", layout=w.Layout(width="auto"))
        self.confirm_text = w.HTML()
        self.confirm_button = w.Button(description="yes, roll back", button_style="danger",
                                       layout=w.Layout(width="auto"))
        self.cancel_button = w.Button(description="cancel", layout=w.Layout(width="auto"))
        self.confirm = w.HBox([self.confirm_text, self.confirm_button, self.cancel_button],
                              layout=w.Layout(display="none"))
        self.next_button.on_click(lambda _b: self.next())
        self.rollback_button.on_click(lambda _b: self.ask_rollback())
        self.confirm_button.on_click(lambda _b: self.confirm_rollback())
        self.cancel_button.on_click(lambda _b: self.cancel_rollback())
        self.check_button.on_click(lambda _b: self.refresh())
        self.checkpoint.observe(lambda _c: self._label_rollback(), names="value")
        super().__init__([self.top, self.progress, self.header, self.plan,
                          w.HBox([self.next_button, self.checkpoint, self.rollback_button, self.check_button]),
                          self.confirm, self.guards, self.convergence, self.probes, self.weights, self.output])
        watch_close(rollout.conn, self._on_closed)
        self.refresh()

    # --- actions ---------------------------------------------------------------------------------

    def next(self) -> StepReport | None:
        """Run the next step (a dry run: preview it), then refresh.

        Returns:
            The report, or None when a step was already running, the connection is closed or unreachable,
            or the rollout stopped with an error.
        """
        return self._run(self.rollout.next, self.next_button.description)

    def ask_rollback(self) -> None:
        """Show the confirmation row for a rollback to the chosen checkpoint (what the rollback button does)."""
        if self.rollout.dry_run or self.problem is not None or self.busy:
            return
        to = self.checkpoint.value
        self.confirm_text.value = (f'<b style="color:{_BAD}">roll {esc(self.rollout.target.route_table)} back to '
                                   f"{esc(to)}?</b> This rewrites its routes as they were at {esc(to)} and proves "
                                   "them with traffic.")
        self.confirm_button.description = f"yes, {rollback_label(to)}"
        self.confirm.layout.display = "flex"

    def confirm_rollback(self) -> StepReport | None:
        """Roll back to the checkpoint the confirmation row names (the confirm button).

        Returns:
            The rollback's report (None: see :meth:`rollback`).
        """
        to = self.checkpoint.value
        self.cancel_rollback()
        return self.rollback(to)

    def cancel_rollback(self) -> None:
        """Hide the confirmation row; nothing is rolled back."""
        self.confirm.layout.display = "none"
        self.confirm_text.value = ""

    def rollback(self, to: str | None = None) -> StepReport | None:
        """Restore a checkpoint and prove it, then refresh (no confirmation: the button asks first).

        Args:
            to: ``start``, a proven step, or None for the last good checkpoint.

        Returns:
            The report, or None when a step was already running, the connection is closed or unreachable,
            or the rollback stopped with an error.
        """
        if self.rollout.dry_run:
            self.output.value = f'<div style="color:{_BAD}">a dry run does not roll back: nothing was applied</div>'
            return None
        return self._run(lambda: self.rollout.rollback(to), rollback_label(to))

    # --- rendering -------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the status and the live routes; re-render every part (or say why it cannot)."""
        rollout = self.rollout
        self.problem = connection_problem(rollout.conn)
        if self.problem is not None:
            self._show_problem()
            return
        try:
            status = rollout.status()
        except Exception as error:
            self.problem = connection_problem(rollout.conn, error)
            if self.problem is not None:
                self._show_problem()
                return
            if not isinstance(error, GlooNbError):
                raise
            self.header.value = f'<div style="color:{_BAD}">{esc(error)}</div>'
            return
        self.status = status
        rows = plan_rows(status, rollout.reports)
        self._next_step = status.next_step
        self.header.value = (standing_html(status, self.report)
                             + _header_html(status, self.report, rollout.dry_run))
        self.plan.value = plan_html(rows)
        options = checkpoints(status)
        keep = self.checkpoint.value if self.checkpoint.value in options else options[-1]
        self.checkpoint.options = options
        self.checkpoint.value = keep
        self.guards.value = guards_html(self.report)
        self.convergence.value = convergence_html(self.report)
        self.probes.value = probes_html(self.report, probe_rows(self.report) if self.report else [])
        try:
            inspection = rollout.conn.collect()
        except Exception as error:
            if not isinstance(error, GlooNbError) and not is_transport_error(error):
                raise
            self.weights.value = f'<div style="color:{_BAD}">live routes unavailable: {esc(error)}</div>'
        else:
            self.weights.value = weights_html(weights_rows(inspection.drift, rollout.target.route_table),
                                              rollout.target.route_table)
            self.headline = headline(inspection, changes=self._changes() if self._changes else (),
                                     now=datetime.now(UTC))
            self.top.value = headline_html(self.headline)
        self._enable()

    def _label_rollback(self) -> None:
        self.rollback_button.description = rollback_label(self.checkpoint.value)
        self.cancel_rollback()  # a confirmation is for the checkpoint it named

    def _enable(self) -> None:
        stopped = self.busy or self.problem is not None
        self.next_button.description = next_label(self._next_step, self.rollout.target, dry_run=self.rollout.dry_run)
        self.next_button.disabled = stopped or self._next_step is None
        self.rollback_button.disabled = stopped or self.rollout.dry_run
        self.confirm_button.disabled = stopped
        self._label_rollback()

    def _show_problem(self) -> None:
        assert self.problem is not None
        self.header.value = problem_html(self.problem)
        self.progress.value = ""
        self.cancel_rollback()
        # The live routes cannot be read: an old table must not pass for the live state. The last step's
        # guards, convergence and proof stay: they are titled with that step and are still what it did.
        self.weights.value = f'<div style="color:{_BAD}">live routes unavailable: {esc(self.problem.headline)}</div>'
        self.next_button.disabled = self.rollback_button.disabled = self.confirm_button.disabled = True

    def _on_closed(self) -> None:
        # The connection's close listener: disable at once, not at the next click.
        self.problem = connection_problem(self.rollout.conn)
        if self.problem is not None:
            self._show_problem()

    def _on_progress(self, what: str, phase: str, detail: str) -> None:
        self._seen.append((phase, detail))
        self.progress.value = progress_html(what, self._seen)

    def _run(self, action: Callable[[], StepReport], what: str) -> StepReport | None:
        if self.busy:
            return None
        self.problem = connection_problem(self.rollout.conn)
        if self.problem is not None:
            self._show_problem()
            return None
        self.busy = True
        self._enable()
        self.cancel_rollback()
        self._seen = []
        self.progress.value = progress_html(what, [])
        # The previous step's results must not pass for this one's while it runs.
        waiting = f"<i>{esc(what)} running: its results appear here when it ends</i>"
        self.guards.value, self.convergence.value, self.probes.value = waiting, "", ""
        self.output.value = ""
        self.rollout.progress = lambda phase, detail: self._on_progress(what, phase, detail)
        report: StepReport | None = None
        try:
            report = action()
        except Exception as error:
            self.problem = connection_problem(self.rollout.conn, error)
            if self.problem is None and not isinstance(error, GlooNbError):
                raise
            self.output.value = (problem_html(self.problem) if self.problem is not None
                                 else f'<div style="color:{_BAD}">{esc(what)} stopped: {esc(error)}</div>')
        else:
            if report.outcome == "done":
                # Nothing ran: the last step's results stay on show.
                self.output.value = f"<pre class=\"rollout-report\">{esc(report.reason)}</pre>"
            else:
                self.report = report
                self.output.value = _report_html(report)
        finally:
            self.busy = False
            self.rollout.progress = None
            self.progress.value = ""
        if self.problem is not None:
            self._show_problem()
        else:
            self.refresh()
        return report


    # --- static rendering (saved notebooks) ----------------------------------------------------------------

    def summary(self) -> str:
        """One line: the RouteTable, what is live, the last checkpoint, the next step and the last step's outcome."""
        status = self.status
        if status is None:
            return f"rollout of {self.rollout.target.route_table}: status unavailable"
        last = f"; last step {self.report.step} {self.report.outcome}" if self.report is not None else ""
        return (f"rollout of {status.route_table}" + (" (dry run)" if self.rollout.dry_run else "")
                + f": live {status.live}; last checkpoint {status.last_checkpoint or 'none'}; "
                f"next {status.next_step or 'none (done)'}{last}")

    def static_html(self) -> str:
        """The header, the plan, the last step's guards, convergence and proof, the live routes, its report."""
        return "".join([self.top.value, self.header.value, section("plan", self.plan.value), self.guards.value,
                        self.convergence.value, self.probes.value, self.weights.value,
                        section("last report", self.output.value)])


def _header_html(status: RolloutStatus, report: StepReport | None, dry_run: bool) -> str:
    parts = [f"<b>{esc(status.route_table)}</b>" + (" <i>(dry run: nothing is applied)</i>" if dry_run else ""),
             f"live: {esc(status.live)}",
             f"last checkpoint: <code>{esc(status.last_checkpoint or 'none')}</code>",
             f"next step: <code>{esc(status.next_step or 'none (done)')}</code>"]
    if report is not None:
        colour = _OK if report.ok else _BAD
        parts.append(f'current step: <code>{esc(report.step)}</code> <span style="color:{colour}">'
                     f"{esc(report.outcome)}</span>")
    if status.drift:
        parts.append(f'<span style="color:{_BAD}">drift: {esc(status.drift)}</span>')
    parts += [f"<i>{esc(n)}</i>" for n in status.notes]
    return "<div>" + "<br>".join(parts) + "</div>"


def _report_html(report: StepReport) -> str:
    colour = _OK if report.ok else _BAD
    out = f'<pre class="rollout-report" style="color:{colour}">{esc(report.text())}</pre>'
    if report.diff:
        out += f"<details><summary>RouteTable diff</summary><pre>{esc(report.diff)}</pre></details>"
    return out
