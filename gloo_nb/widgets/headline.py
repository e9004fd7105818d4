"""The headline at the top of the notebooks and widgets: what is wrong, for whom, whose cause, the fix options."""

from __future__ import annotations

import ipywidgets as w

from gloo_nb.analysis.headline import Headline


def headline_html(headline: Headline) -> str:
    """The headline as HTML (:meth:`gloo_nb.analysis.headline.Headline.html`).

    The sentence in bold, other problems below it, then the fix options; nothing is cut, long names wrap.

    Args:
        headline: :func:`gloo_nb.analysis.headline.headline`'s result.

    Returns:
        ``<div class="gloo-nb-headline">...</div>``.
    """
    return headline.html()


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
