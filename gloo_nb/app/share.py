"""A static copy of an executed notebook, to share after an incident: every widget shown as its HTML rendering.

Every gloo_nb view publishes ``text/html`` of its state beside the widget view (see
:mod:`gloo_nb.widgets._static`). Whether a viewer shows that HTML depends on the widget state saved in the
notebook's metadata: papermill (nbclient) saves it, and then ``jupyter nbconvert --to html`` picks the widget view
and draws it with ``@jupyter-widgets/html-manager`` loaded from unpkg.com (nothing shows offline), and a trusted
JupyterLab without a kernel draws the saved widgets. :func:`static_notebook` removes the saved widget state and,
from outputs that carry gloo_nb's static rendering, the widget view: every viewer then shows the rendering.
Plain JSON: no Jupyter package is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["WIDGET_STATE", "WIDGET_VIEW", "static_notebook"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_STATIC_MARK = 'class="gloo-nb-static"'  # gloo_nb.widgets._static.STATIC_CLASS (app does not import widgets)


def _html(data: dict[str, Any]) -> str:
    value = data.get("text/html", "")
    return "".join(value) if isinstance(value, list) else str(value)


def static_notebook(src: str | Path, dst: str | Path | None = None) -> dict[str, int]:
    """Write a copy of a notebook whose widget outputs read without a kernel and without widget JavaScript.

    Args:
        src: An executed notebook (``.ipynb``).
        dst: Where to write the copy (default: ``src`` itself).

    Returns:
        Counts: ``static`` widget outputs now shown as their HTML rendering, ``other`` widget outputs left as
        they were (not gloo_nb views: they keep their widget view and, without state, show their text).

    Raises:
        ValueError: ``src`` is not a notebook (one line naming the file).
    """
    path = Path(src)
    try:
        book = json.loads(path.read_text(encoding="utf-8"))
        cells = book["cells"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a notebook ({type(err).__name__}: {err})") from err
    counts = {"static": 0, "other": 0}
    for cell in cells:
        for output in cell.get("outputs", []) or []:
            data = output.get("data") or {}
            if WIDGET_VIEW not in data:
                continue
            if _STATIC_MARK in _html(data):
                del data[WIDGET_VIEW]
                counts["static"] += 1
            else:
                counts["other"] += 1
    widgets = book.get("metadata", {}).get("widgets")
    if isinstance(widgets, dict):
        widgets.pop(WIDGET_STATE, None)
        if not widgets:
            del book["metadata"]["widgets"]
    Path(dst if dst is not None else path).write_text(json.dumps(book, indent=1, ensure_ascii=False) + "\n",
                                                       encoding="utf-8")
    return counts
