"""Figures that read at a glance (issue 16): short destination labels, SVG, a PNG DPI matched to the width."""

from __future__ import annotations

import re
import struct

import pytest
from matplotlib.figure import Figure

from gloo_nb.analysis.figures import SvgFigure, png_bytes, short_labels, svg_text

pytestmark = pytest.mark.unit


def test_short_labels_keep_what_tells_destinations_apart() -> None:
    one = ["foxtrot_gloo-system {version=v1}", "foxtrot_gloo-system {version=v2}", "unmatched: 503 x"]
    assert short_labels(one) == {one[0]: "v1", one[1]: "v2", one[2]: "unmatched: 503 x"}
    two = ["a_gloo-system {version=v1}", "b_gloo-system {version=v1}"]
    assert short_labels(two) == {two[0]: "a_gloo-system v1", two[1]: "b_gloo-system v1"}
    plain = ["echo-v1_gloo-system", "fallback 404"]
    assert short_labels(plain) == {p: p for p in plain}
    clash = ["c {k=v1}", "c {j=v1}"]  # two keys with one value: short forms would read alike
    assert short_labels(clash) == {c: c for c in clash}


def _figure() -> Figure:
    fig = Figure(figsize=(6, 2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.set_title("a title")
    return fig


def test_svg_keeps_text_as_text() -> None:
    svg = svg_text(_figure())
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert SvgFigure(_figure())._repr_svg_().count("<svg") == 1


def test_png_width_matches_the_displayed_width() -> None:
    data = png_bytes(_figure(), width_px=600)
    width = struct.unpack(">I", data[16:20])[0]  # IHDR width
    assert width == 1200  # twice the displayed width, for high-density screens


def test_a_wide_figure_scales_to_the_notebook_column_instead_of_being_cut() -> None:
    """Notebook 04's timeline (11 in plus its legend outside the plot) is wider than JupyterLab's output area,
    which clips what overflows: the displayed SVG scales down to the column, its viewBox keeping proportions."""
    svg = SvgFigure(_figure())._repr_svg_()
    root = svg[svg.index("<svg"):svg.index(">", svg.index("<svg"))]
    assert 'width="100%"' in root and "height=" not in root and "viewBox=" in root, root
    assert re.search(r'style="max-width:[\d.]+pt;height:auto"', root), root
