"""Small HTML helpers shared by the views."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

CellStyle = Callable[[str, Any], str]
"""``(column, value) -> CSS`` for one cell (``""`` for none)."""


def esc(value: Any) -> str:
    """HTML-escape any value's text."""
    return html.escape("" if value is None else str(value))


def table(frame: pd.DataFrame, *, style: CellStyle | None = None, index: bool = False,
          columns: Sequence[str] | None = None) -> str:
    """Render a frame as a plain HTML table (escaped, optional per-cell CSS).

    Args:
        frame: The frame.
        style: Per-cell CSS.
        index: Whether to show the index as the first column.
        columns: Columns to show (default: all).

    Returns:
        ``<table>...</table>``.
    """
    cols = list(columns) if columns is not None else [str(c) for c in frame.columns]
    head = ([esc(frame.index.name or "")] if index else []) + [esc(c) for c in cols]
    rows = []
    for idx, rec in zip(frame.index, frame[cols].itertuples(index=False), strict=True):
        cells = [f"<th>{esc(idx)}</th>"] if index else []
        for col, value in zip(cols, rec, strict=True):
            css = style(col, value) if style else ""
            cells.append(f'<td style="{esc(css)}">{esc(value)}</td>' if css else f"<td>{esc(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return ('<table class="gloo-nb" style="border-collapse:collapse">'
            "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>")
