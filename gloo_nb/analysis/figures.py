"""What makes a figure read at a glance: short destination labels and a crisp rendering at its displayed size.

Shared by the weights chart (``gloo_nb.widgets.weights``) and the incident timeline
(:func:`gloo_nb.analysis.incident.timeline_figure`). Figures are rendered as SVG (sharp at any zoom, text
stays text); a PNG, where one is needed, uses a DPI matched to the width it is shown at.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["DISPLAY_WIDTH_PX", "SvgFigure", "png_bytes", "short_labels", "svg_text"]

DISPLAY_WIDTH_PX = 900
"""The width (CSS pixels) a notebook output shows a figure at; a PNG's DPI is matched to it."""

_SUBSET = re.compile(r"^(?P<cluster>.*?)\s*\{(?P<subset>.*)\}$")


def short_labels(labels: Sequence[str]) -> dict[str, str]:
    """Short forms of destination labels that still tell them apart.

    Rule: a destination ``cluster {key=value}`` shows its subset values (``v1``) when every labelled
    destination is on the same cluster, else ``cluster value``; ``key=value`` is kept only where two values
    of different keys would read alike. Labels without a subset (another upstream, ``fallback 404``,
    ``unmatched: ...``) stay as they are.

    Args:
        labels: Destination labels (``gloo_nb.translate.routes.destination_label``).

    Returns:
        Label -> short label; distinct labels keep distinct short labels (on a clash the full labels are used).
    """
    parsed = {lab: _SUBSET.match(lab) for lab in labels}
    clusters = {m["cluster"] for m in parsed.values() if m}
    out: dict[str, str] = {}
    for lab, m in parsed.items():
        if m is None:
            out[lab] = lab
            continue
        values = ",".join(kv.partition("=")[2] for kv in m["subset"].split(","))
        out[lab] = values if len(clusters) == 1 else f"{m['cluster']} {values}"
    if len(set(out.values())) != len(out):
        return {lab: lab for lab in labels}
    return out


def svg_text(fig: Figure) -> str:
    """The figure as an SVG document (text kept as text, so it stays sharp and searchable).

    Args:
        fig: A matplotlib figure.

    Returns:
        The SVG markup.
    """
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()


def png_bytes(fig: Figure, width_px: int = DISPLAY_WIDTH_PX) -> bytes:
    """The figure as a PNG whose pixel width is the width it is shown at (no blurry up-scaling).

    Args:
        fig: A matplotlib figure.
        width_px: The displayed width in CSS pixels; rendered at twice that for high-density screens.

    Returns:
        The PNG bytes.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=2 * width_px / fig.get_figwidth())
    return buf.getvalue()


class SvgFigure:
    """A figure for ``IPython.display.display``: shown as SVG in notebooks, papermill outputs and nbconvert HTML.

    Args:
        figure: The matplotlib figure.

    Attributes:
        figure: The figure.
    """

    def __init__(self, figure: Figure):
        self.figure = figure

    def _repr_svg_(self) -> str:
        # Scaled down to the output area when wider (its viewBox keeps the proportions): a figure with its legend
        # outside the plot is wider than a notebook column, and JupyterLab clips what overflows. The width
        # attribute itself is relative (a style alone is not enough in every front end); the style caps it at
        # the figure's own width so that a small figure is not blown up.
        svg = svg_text(self.figure)
        start = svg.find("<svg ")
        if start < 0:
            return svg
        end = svg.index(">", start)
        root = svg[start:end]
        width = re.search(r'\swidth="([^"]+)"', root)
        if width is None or "viewBox" not in root:
            return svg
        root = re.sub(r'\sheight="[^"]+"', "", root.replace(width.group(0), ' width="100%"'))
        root = root.replace("<svg ", f'<svg style="max-width:{width.group(1)};height:auto" ', 1)
        return svg[:start] + root + svg[end:]
