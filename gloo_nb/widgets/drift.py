"""Drift grid: routes x sources (``served``, each replica), each cell its sync state, the cause on selection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as w

from gloo_nb.analysis.drift import DriftRow
from gloo_nb.analysis.views import DriftGrid, drift_grid, legend
from gloo_nb.widgets._html import CELL_CSS, TABLE_ATTRS, esc
from gloo_nb.widgets._static import StaticView, section

SHORT = {
    "in-sync": "in sync",
    "pending": "pending",
    "blocked-by-last-known-good": "blocked",
    "rejected-by-envoy": "rejected",
    "replica-lagging": "lagging",
    "replaced-by-fallback": "replaced",
    "unmodelled": "not modelled",
    "absent": "absent",
}
"""Cell text per state (the colour and the legend say the rest)."""


class DriftGridView(StaticView, w.VBox):
    """Routes x sources grid of sync states; click a route for its row, or a cell for that source.

    Args:
        drift: ``Inspection.drift`` rows.
        only_drifted: Start with only routes that are not in sync.
        max_rows: Show at most this many routes (a note says how many are hidden).

    Attributes:
        grid: The view-model.
        show: Dropdown ``all`` / ``drifted``.
        cells: The cell buttons of the rows shown, ``cells[row][column]`` (rows as in ``shown``).
        route_buttons: One button per shown row (selects the whole row).
        shown: Grid row indexes currently shown.
        detail: The selection's route, state, cause and actions.
    """

    def __init__(self, drift: Sequence[DriftRow], *, only_drifted: bool = False, max_rows: int = 200):
        self.grid: DriftGrid = drift_grid(drift)
        self.max_rows = max_rows
        self.show = w.Dropdown(options=["all", "drifted"], value="drifted" if only_drifted else "all",
                               description="routes")
        self.detail = w.HTML("<i>select a route or a cell</i>")
        self.legend = w.HTML(_legend_html())
        self.body = w.VBox()
        self.cells: list[list[w.Button]] = []
        self.route_buttons: list[w.Button] = []
        self.shown: list[int] = []
        self.selection: tuple[int, int | None] | None = None
        super().__init__([self.show, self.legend, self.body, self.detail])
        self.show.observe(lambda _change: self._render(), names="value")
        self._render()

    def select(self, row: int, column: int | None = None) -> None:
        """Show the cause of one grid row (or one cell of it).

        Args:
            row: Grid row index (into ``grid.routes``).
            column: Source index, or None for the whole row.
        """
        self.selection = (row, column)
        self.detail.value = f"<pre>{esc(self.grid.detail(row, column))}</pre>"

    def _render(self) -> None:
        g = self.grid
        rows = [i for i in range(len(g.routes))
                if self.show.value == "all" or any(c.state != "in-sync" for c in g.cells[i])]
        self.shown = rows[: self.max_rows]
        template = f"minmax(16em, 2fr) repeat({len(g.sources)}, minmax(7em, 1fr))"
        header = [w.HTML("<b>route</b>")] + [w.HTML(f"<b>{esc(s)}</b>") for s in g.sources]
        children: list[Any] = list(header)
        self.cells, self.route_buttons = [], []
        for i in self.shown:
            label = w.Button(description=g.routes[i], tooltip=f"{g.routes[i]} ({g.resources[i]})",
                             layout=w.Layout(width="auto"))
            label.on_click(lambda _b, i=i: self.select(i))
            line = []
            for c, cell in enumerate(g.cells[i]):
                b = w.Button(description=SHORT[cell.state], tooltip=cell.cause or cell.state,
                             layout=w.Layout(width="auto"))
                b.style.button_color = cell.colour
                b.style.text_color = "white"
                b.on_click(lambda _b, i=i, c=c: self.select(i, c))
                line.append(b)
            self.route_buttons.append(label)
            self.cells.append(line)
            children += [label, *line]
        grid = w.GridBox(children, layout=w.Layout(grid_template_columns=template, grid_gap="2px"))
        hidden = len(rows) - len(self.shown)
        note = w.HTML(f"<i>{hidden} more route(s) not shown (max_rows={self.max_rows})</i>" if hidden else
                      ("<i>no routes</i>" if not rows else ""))
        self.body.children = [grid, note]

    # --- static rendering (saved notebooks) ----------------------------------------------------------------

    def summary(self) -> str:
        """One line: how many routes, how many not in sync, over which sources."""
        g = self.grid
        drifted = sum(1 for row in g.cells if any(c.state != "in-sync" for c in row))
        return (f"drift grid: {len(g.routes)} route(s), {drifted} not in sync, sources {', '.join(g.sources)}"
                f" (showing {self.show.value})")

    def static_html(self) -> str:
        """The legend, the rows shown (each cell's state in its colour, its cause as a tooltip), the selection."""
        g = self.grid
        head = "".join(f'<th style="{CELL_CSS}">{esc(h)}</th>' for h in ("route", "resource", *g.sources))
        body = []
        for i in self.shown:
            cells = "".join(
                f'<td style="{CELL_CSS};background:{esc(c.colour)};color:white" title="{esc(c.cause or c.state)}">'
                f"{esc(SHORT[c.state])}</td>" for c in g.cells[i])
            body.append(f'<tr><td style="{CELL_CSS}">{esc(g.routes[i])}</td>'
                        f'<td style="{CELL_CSS}">{esc(g.resources[i] or "?")}</td>{cells}</tr>')
        grid = (f"<table {TABLE_ATTRS}><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table>" if self.shown else "<i>no routes</i>")
        # The causes are in the cells' tooltips live; a saved page has no hover on some viewers: list them.
        causes = "".join(f"<li>{esc(g.routes[i])}: {esc(g.states[i])} - {esc(g.causes[i])}</li>"
                         for i in self.shown if g.causes[i])
        parts = [self.legend.value, grid, self.body.children[1].value if len(self.body.children) > 1 else "",
                 section("causes", f"<ul>{causes}</ul>" if causes else "")]
        if self.selection is not None:
            parts.append(section("selected", self.detail.value))
        return "".join(parts)


def _legend_html() -> str:
    items = "".join(f'<span style="background:{colour};color:white;padding:1px 6px;margin-right:6px" '
                    f'title="{esc(meaning)}">{esc(state)}</span>' for state, colour, meaning in legend())
    return f"<div>{items}</div>"
