"""A static copy of an executed notebook: gloo_nb views become their HTML rendering, widget state is dropped."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from IPython.core.formatters import DisplayFormatter
from nbconvert import HTMLExporter

from gloo_nb.app.share import WIDGET_STATE, WIDGET_VIEW, static_notebook
from gloo_nb.widgets import DriftGridView

pytestmark = pytest.mark.unit


def executed(tmp_path: Path) -> Path:
    """A notebook as papermill writes it: a gloo_nb view's output, a foreign widget's, and the widget state."""
    view = DriftGridView([])
    data, _ = DisplayFormatter().format(view)
    foreign = {WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": "f00"}, "text/plain": "IntSlider()"}
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell("view", outputs=[nbformat.v4.new_output("display_data", data=data)]),
                  nbformat.v4.new_code_cell("slider", outputs=[nbformat.v4.new_output("display_data", data=foreign)])]
    book.metadata["widgets"] = {WIDGET_STATE: {"state": {view.model_id: {"model_name": "VBoxModel"}},
                                               "version_major": 2, "version_minor": 0}}
    path = tmp_path / "run.ipynb"
    nbformat.write(book, path)
    return path


def test_the_copy_shows_each_views_rendering_in_nbconvert(tmp_path: Path) -> None:
    src = executed(tmp_path)
    # As papermill leaves it, nbconvert picks the widget view (drawn by JavaScript from unpkg.com, if online).
    before, _ = HTMLExporter().from_filename(str(src))
    assert 'type="application/vnd.jupyter.widget-view+json"' in before and "gloo-nb-static" not in before

    assert static_notebook(src, tmp_path / "static.ipynb") == {"static": 1, "other": 1}
    copy = json.loads((tmp_path / "static.ipynb").read_text())
    view_data = copy["cells"][0]["outputs"][0]["data"]
    assert WIDGET_VIEW not in view_data and "gloo-nb-static" in "".join(view_data["text/html"])
    assert WIDGET_VIEW in copy["cells"][1]["outputs"][0]["data"]  # not ours: left as it was
    assert "widgets" not in copy["metadata"]
    after, _ = HTMLExporter().from_filename(str(tmp_path / "static.ipynb"))
    assert '<div class="gloo-nb-static" data-view="DriftGridView">' in after and "<i>no routes</i>" in after
    assert json.loads(src.read_text())["metadata"]["widgets"]  # the source is untouched


def test_in_place_and_bad_input(tmp_path: Path) -> None:
    src = executed(tmp_path)
    static_notebook(src)
    assert "widgets" not in json.loads(src.read_text())["metadata"]
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.ipynb: not a notebook \(JSONDecodeError"):
        static_notebook(bad)
