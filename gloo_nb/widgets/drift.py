"""Drift grid: routes x sources (``served``, each replica), each cell its sync state, the cause on selection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as w

from gloo_nb.analysis.drift import DriftRow
from gloo_nb.analysis.headline import ROLE_MEANINGS, Headline, headline
from gloo_nb.analysis.views import ROLE_COLOURS, ROLE_WORDS, DriftGrid, drift_grid, legend
from gloo_nb.widgets._html import CELL_CSS, TABLE_ATTRS, esc
from gloo_nb.widgets._static import StaticView, section
from gloo_nb.widgets.headline import HeadlineView

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
        headline: The headline to show at the top (:meth:`from_inspection` makes it); None: none.

    Attributes:
        grid: The view-model.
        headline: The headline shown at the top, or None.
        top: The headline's widget (empty when there is none).
        show: Dropdown ``all`` / ``drifted``.
        cells: The cell buttons of the rows shown, ``cells[row][column]`` (rows as in ``shown``).
        route_buttons: One button per shown row (selects the whole row).
        shown: Grid row indexes currently shown.
        detail: The selection's route, state, cause and actions.
    """

    def __init__(self, drift: Sequence[DriftRow], *, only_drifted: bool = False, max_rows: int = 200,
                 headline: Headline | None = None):
        self.grid: DriftGrid = drift_grid(drift, headline.roles if headline is not None else None)
        self.headline = headline
        self.top: w.Widget = HeadlineView(headline) if headline is not None else w.HTML("")
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
        super().__init__([self.top, self.show, self.legend, self.body, self.detail])
        self.show.observe(lambda _change: self._render(), names="value")
        self._render()

    @classmethod
    def from_inspection(cls, inspection: Any, *, changes: Any = (), now: Any = None, only_drifted: bool = False,
                        max_rows: int = 200) -> DriftGridView:
        """The grid of an inspection with its headline at the top.

        Args:
            inspection: An inspection.
            changes: Who changed what when (:func:`gloo_nb.analysis.headline.headline`'s ``changes``).
            now: The time the inspection stands for.
            only_drifted: Start with only routes that are not in sync.
            max_rows: Show at most this many routes.

        Returns:
            The view.
        """
        return cls(inspection.drift, only_drifted=only_drifted, max_rows=max_rows,
                   headline=headline(inspection, changes=changes, now=now))

    def select(self, row: int, column: int | None = None) -> None:
        """Show the cause of one grid row (or one cell of it).

        Args:
            row: Grid row index (into ``grid.routes``).
            column: Source index, or None for the whole row.
        """
        self.selection = (row, column)
        # Wrapped, never cut: causes carry Gloo's whole message (resource and upstream names included).
        text = esc(self.grid.detail(row, column))
        self.detail.value = f'<pre style="white-space:pre-wrap;overflow-wrap:anywhere">{text}</pre>'

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
            role = g.roles[i] if g.roles else ""
            label = w.Button(description=g.routes[i] + (f"  [{ROLE_WORDS[role]}]" if role else ""),
                             tooltip=f"{g.routes[i]} ({g.resources[i]}; {g.envoy[i] if g.envoy else ''})",
                             layout=w.Layout(width="auto"))
            label.on_click(lambda _b, i=i: self.select(i))
            line = []
            for c, cell in enumerate(g.cells[i]):
                b = w.Button(description=ROLE_WORDS[cell.role] if cell.role else SHORT[cell.state],
                             tooltip=cell.cause or cell.state, layout=w.Layout(width="auto"))
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
        line = (f"drift grid: {len(g.routes)} route(s), {drifted} not in sync, sources {', '.join(g.sources)}"
                f" (showing {self.show.value})")
        return f"{line}; {self.headline.text}" if self.headline is not None else line

    def static_html(self) -> str:
        """The legend, the rows shown (each cell's state in its colour, its cause as a tooltip), the selection."""
        g = self.grid
        head = "".join(f'<th style="{CELL_CSS}">{esc(h)}</th>' for h in ("route", "resource", *g.sources))
        body = []
        for i in self.shown:
            cells = "".join(
                f'<td style="{CELL_CSS};background:{esc(c.colour)};color:white" title="{esc(c.cause or c.state)}">'
                f"{esc(ROLE_WORDS[c.role] if c.role else SHORT[c.state])}</td>" for c in g.cells[i])
            body.append(f'<tr><td style="{CELL_CSS}">{esc(g.routes[i])}</td>'
                        f'<td style="{CELL_CSS}">{esc(g.resources[i] or "?")}</td>{cells}</tr>')
        grid = (f"<table {TABLE_ATTRS}><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table>" if self.shown else "<i>no routes</i>")
        # The causes are in the cells' tooltips live; a saved page has no hover on some viewers: list them.
        causes = "".join(f"<li>{esc(g.routes[i])}: {esc(g.states[i])} - {esc(g.causes[i])}</li>"
                         for i in self.shown if g.causes[i])
        # The answer first, as in the live view.
        parts = [self.headline.html() if self.headline is not None else "", self.legend.value, grid,
                 self.body.children[1].value if len(self.body.children) > 1 else "",
                 section("causes", f"<ul>{causes}</ul>" if causes else "")]
        if self.selection is not None:
            parts.append(section("selected", self.detail.value))
        return "".join(parts)


def _legend_html() -> str:
    items = "".join(f'<span style="background:{colour};color:white;padding:1px 6px;margin-right:6px" '
                    f'title="{esc(meaning)}">{esc(state)}</span>' for state, colour, meaning in legend())
    # Roles: who causes a problem and who suffers it never share a mark.
    roles = "".join(f'<span style="background:{ROLE_COLOURS[r]};color:white;padding:1px 6px;margin-right:6px" '
                    f'title="{esc(ROLE_MEANINGS[r])}">{esc(word)}</span>' for r, word in ROLE_WORDS.items())
    return f"<div>{items}</div><div>roles: {roles}</div>"
