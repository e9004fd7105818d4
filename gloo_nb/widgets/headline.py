"""The headline at the top of the notebooks and widgets: what is wrong, for whom, whose cause, the fix options."""

from __future__ import annotations

import ipywidgets as w

from gloo_nb.analysis.headline import Headline
from gloo_nb.widgets._html import esc

_COLOURS = {"ok": ("#e8f5e9", "#2e7d32")}
_PROBLEM = ("#ffebee", "#b71c1c")


def headline_html(headline: Headline) -> str:
    """The headline as HTML: the sentence in bold, other problems below it, then the fix options.

    Nothing is cut: long names and messages wrap.

    Args:
        headline: :func:`gloo_nb.analysis.headline.headline`'s result.

    Returns:
        ``<div class="gloo-nb-headline">...</div>``.
    """
    background, colour = _COLOURS.get(headline.state, _PROBLEM)
    parts = [f'<div style="font-weight:bold;color:{colour}">{esc(headline.text)}</div>']
    parts += [f"<div>{esc(d)}</div>" for d in headline.details]
    if headline.fixes:
        parts.append("<div>fix options:<ul style=\"margin:2px 0\">"
                     + "".join(f"<li><b>{esc(f.action)}</b>: {esc(f.text)}</li>" for f in headline.fixes)
                     + "</ul></div>")
    return (f'<div class="gloo-nb-headline" data-state="{esc(headline.state)}" style="background:{background};'
            f'padding:6px 10px;margin:4px 0;border-left:4px solid {colour};white-space:normal;'
            f'overflow-wrap:anywhere">' + "".join(parts) + "</div>")


class HeadlineView(w.HTML):
    """The headline as a widget (its ``value`` is :func:`headline_html`).

    Args:
        headline: The headline.

    Attributes:
        headline: The view-model.
    """

    def __init__(self, headline: Headline) -> None:
        self.headline = headline
        super().__init__(headline_html(headline))

    def show(self, headline: Headline) -> None:
        """Show another headline (after a refresh)."""
        self.headline = headline
        self.value = headline_html(headline)
