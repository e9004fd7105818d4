"""Small HTML helpers shared by the views (live widget HTML and the static renderings of saved notebooks)."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

# One formatting of values for a person, shared with the frames notebooks show (re-exported for the views).
from gloo_nb.analysis.tables import EMPTY, as_time, cell_text, is_empty, time_text

__all__ = ["CELL_CSS", "EMPTY", "TABLE_ATTRS", "CellStyle", "as_time", "cell_text", "esc", "is_empty", "png_img",
           "table", "time_text"]

CellStyle = Callable[[str, Any], str]
"""``(column, value) -> CSS`` for one cell (``""`` for none)."""

CELL_CSS = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"
"""CSS of a hand-built table cell (a tooltip or colour of its own) that must be padded like :func:`table`'s."""

TABLE_ATTRS = 'class="gloo-nb" cellpadding="4" style="border-collapse:collapse"'
"""Attributes of every table: ``cellpadding`` pads the cells where no stylesheet does (a widget's HTML); it is an
attribute, not a ``<style>``, so that sanitizers (JupyterLab's for untrusted outputs, GitHub's) keep it, and the
cells stay plain ``<td>``."""


def esc(value: Any) -> str:
    """HTML-escape any value's text."""
    return html.escape("" if value is None else str(value))


def table(frame: pd.DataFrame, *, style: CellStyle | None = None, index: bool = False,
          columns: Sequence[str] | None = None, since: datetime | None = None, drop_empty: bool = True,
          row_style: Callable[[int], str] | None = None) -> str:
    """Render a frame as a plain HTML table (escaped, padded cells, optional per-cell CSS).

    Cells without a value show ``-``; times show to the millisecond in UTC (or relative to ``since``); columns
    with no value in any row are left out (a pivot's NaN-only columns say nothing).

    Args:
        frame: The frame.
        style: Per-cell CSS (gets the raw value).
        index: Whether to show the index as the first column.
        columns: Columns to show (default: all).
        since: Show times relative to this time (``+2.6 s``), for views about an incident.
        drop_empty: Leave out columns whose every cell is empty (never when the frame has no rows).
        row_style: ``row position -> CSS`` for a whole row (e.g. to mark the one shown).

    Returns:
        ``<table>...</table>``.
    """
    cols = list(columns) if columns is not None else [str(c) for c in frame.columns]
    data = frame[cols] if columns is not None else frame  # positional: labels need not be strings or unique
    if drop_empty and len(data):
        keep = [i for i in range(data.shape[1]) if not all(is_empty(v) for v in data.iloc[:, i])]
        data, cols = data.iloc[:, keep], [cols[i] for i in keep]
    head = ([esc(frame.index.name or "")] if index else []) + [esc(c) for c in cols]
    rows = []
    for pos, (idx, rec) in enumerate(zip(data.index, data.itertuples(index=False), strict=True)):
        cells = [f"<th>{esc(cell_text(idx, since))}</th>"] if index else []
        for col, value in zip(cols, rec, strict=True):
            css = style(str(col), value) if style else ""
            text = esc(cell_text(value, since))
            when = as_time(value) if since is not None else None
            title = f' title="{esc(time_text(when))}"' if when is not None else ""
            cells.append(f'<td style="{esc(css)}"{title}>{text}</td>' if css else f"<td{title}>{text}</td>")
        css_row = row_style(pos) if row_style else ""
        rows.append((f'<tr style="{esc(css_row)}">' if css_row else "<tr>") + "".join(cells) + "</tr>")
    return (f"<table {TABLE_ATTRS}>"
            "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>")


def png_img(data: bytes, alt: str) -> str:
    """An inline ``<img>`` of PNG bytes (a data URI: the saved notebook carries the picture itself)."""
    if not data:
        return ""
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode("ascii")}">'
