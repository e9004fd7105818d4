"""Invalid routes: every finding with owner team, resource, route, message and effect on traffic."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import ipywidgets as w
import pandas as pd

from gloo_nb.analysis.drift import DriftRow
from gloo_nb.analysis.views import INVALID_COLUMNS, ROLE_COLOURS, ROLE_WORDS, filter_sort, invalid_routes_frame
from gloo_nb.widgets._html import esc, table
from gloo_nb.widgets._static import StaticView

SHOWN_COLUMNS = ("causeTeam", "affectedTeam", "role", "severity", "origin", "route", "effect", "message", "resource")
"""The columns the table shows: who causes it beside who is hurt, first; the message in full (wrapped)."""

ANY = "(any)"
EFFECT_COLOURS = {"blocked change": "#ffcdd2", "503 missing cluster": "#ffe0b2", "dropped": "#e1bee7",
                  "none": ""}
"""Row highlight per effect; ``fallback ...`` effects use :data:`FALLBACK_COLOUR`."""
FALLBACK_COLOUR = "#bbdefb"


def _style(column: str, value: Any) -> str:
    if column == "role" and value in ROLE_COLOURS:
        return f"background:{ROLE_COLOURS[value]};color:white"
    if column == "message":
        return "white-space:normal;overflow-wrap:anywhere;min-width:24em"
    if column == "effect":
        colour = FALLBACK_COLOUR if str(value).startswith("fallback") else EFFECT_COLOURS.get(str(value), "")
        return f"background:{colour}" if colour else ""
    if column == "severity" and value == "error":
        return "color:#c62828;font-weight:bold"
    return ""


_WORD_ROLES = {word: role for role, word in ROLE_WORDS.items()}


def _role_style(column: str, value: Any) -> str:
    # The table shows each role's word; its colour is the role's.
    return _style(column, _WORD_ROLES.get(value, value) if column == "role" else value)


class InvalidRoutesView(StaticView, w.VBox):
    """A table of every finding and its effect on traffic, filterable by team and severity, sortable.

    Args:
        findings: ``Inspection.findings_frame()``.
        drift: ``Inspection.drift``.
        routes: ``Inspection.routes_frame()`` (for the missing-cluster rule).
        clusters: Cluster names that exist (e.g. the intent's); see
            :func:`gloo_nb.analysis.views.invalid_routes_frame` for the effect rules.

    Attributes:
        frame: Every row (the view-model).
        team, affected, severity, effect: Filter dropdowns (``(any)`` for no filter): ``team`` the causing team,
            ``affected`` the team whose route is affected.
        sort_by: Column dropdown; ``descending``: a checkbox.
        table: The HTML table of the rows shown; ``shown``: those rows as a frame.
    """

    def __init__(self, findings: pd.DataFrame, drift: Sequence[DriftRow],
                 routes: pd.DataFrame | None = None, clusters: Collection[str] | None = None):
        self.frame = invalid_routes_frame(findings, drift, routes, clusters)

        def options(column: str) -> list[str]:
            return [ANY, *sorted(set(self.frame[column].astype(str)))]

        self.team = w.Dropdown(options=options("team"), value=ANY, description="cause team")
        self.affected = w.Dropdown(options=options("affectedTeam"), value=ANY, description="affected team")
        self.severity = w.Dropdown(options=options("severity"), value=ANY, description="severity")
        self.effect = w.Dropdown(options=options("effect"), value=ANY, description="effect")
        self.sort_by = w.Dropdown(options=["(none)", *INVALID_COLUMNS], value="(none)", description="sort by")
        self.descending = w.Checkbox(value=False, description="descending")
        self.count = w.HTML()
        self.table = w.HTML()
        self.shown = self.frame
        controls = w.HBox([self.team, self.affected, self.severity, self.effect, self.sort_by, self.descending])
        super().__init__([controls, self.count, self.table])
        for control in (self.team, self.affected, self.severity, self.effect, self.sort_by, self.descending):
            control.observe(lambda _change: self._render(), names="value")
        self._render()

    @classmethod
    def from_inspection(cls, inspection: Any) -> InvalidRoutesView:
        """Build the view from an :class:`gloo_nb.app.connect.Inspection` (clusters: the intent's)."""
        clusters = [c.name for c in inspection.translation.envoy.clusters]
        return cls(inspection.findings_frame(), inspection.drift, inspection.routes_frame(), clusters)

    def _render(self) -> None:
        def chosen(dropdown: w.Dropdown) -> str | None:
            return None if dropdown.value == ANY else str(dropdown.value)

        self.shown = filter_sort(self.frame, filters={"team": chosen(self.team), "severity": chosen(self.severity),
                                                      "effect": chosen(self.effect),
                                                      "affectedTeam": chosen(self.affected)},
                                 sort_by=None if self.sort_by.value == "(none)" else self.sort_by.value,
                                 ascending=not self.descending.value)
        self.count.value = f"{len(self.shown)} of {len(self.frame)} finding row(s)"
        shown = self.shown.assign(role=[ROLE_WORDS.get(r, r) for r in self.shown["role"]]) if len(self.shown) \
            else self.shown
        self.table.value = (table(shown, style=_role_style, columns=SHOWN_COLUMNS) if len(self.shown)
                            else "<i>no findings</i>")

    # --- static rendering (saved notebooks) ----------------------------------------------------------------

    def _filters(self) -> str:
        chosen = [f"{d.description}={d.value}" for d in (self.team, self.affected, self.severity, self.effect)
                  if d.value != ANY]
        if self.sort_by.value != "(none)":
            chosen.append(f"sorted by {self.sort_by.value}" + (" descending" if self.descending.value else ""))
        return ", ".join(chosen)

    def summary(self) -> str:
        """One line: how many finding rows are shown, with which filters, and their effects."""
        effects = ", ".join(f"{effect} x{n}" for effect, n in self.shown["effect"].value_counts().items()) \
            if len(self.shown) else "none"
        filters = self._filters()
        return (f"invalid routes: {len(self.shown)} of {len(self.frame)} finding row(s)"
                + (f" ({filters})" if filters else "") + f"; effects: {effects}")

    def static_html(self) -> str:
        """The count, the filters in force, and the table of the rows shown."""
        filters = self._filters()
        return (f"<div>{esc(self.count.value)}" + (f" ({esc(filters)})" if filters else "") + "</div>"
                + self.table.value)
