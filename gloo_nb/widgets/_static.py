"""Static renderings: every view also publishes HTML of its current state beside the live widget view.

A saved notebook (shared after an incident, a papermill output, nbconvert HTML, GitHub) has no kernel and, as
papermill writes it, no widget state: the widget view cannot be drawn there. ipywidgets 8's
``Widget._repr_mimebundle_`` gives only the widget view and ``text/plain`` (the widget's repr, cut at 110
characters: ``DriftGridView(children=(Dropdown(...``). :class:`StaticView` adds ``text/html`` (the view's state
at display time, from its view-model) and a readable one-line ``text/plain``.

Which one a front end shows:

- JupyterLab with the kernel alive: the widget view (the widget renderer is registered at rank -10, before
  HTML's).
- JupyterLab on a reopened, untrusted notebook: ``text/html`` (the widget renderer is not ``safe``, so it is
  skipped for untrusted outputs; the HTML is sanitized, which keeps tables, lists and images).
- ``jupyter nbconvert --to html``: ``text/html``, since its ``WidgetsDataTypeFilter`` skips the widget view
  when the notebook's metadata holds no state for that model (papermill never saves widget state).
- GitHub: ``text/html`` (it does not render widgets).

The HTML is the state when the widget was displayed: later clicks change the live view only; display the
view again to keep a later state in the saved notebook.
"""

from __future__ import annotations

from typing import Any

from gloo_nb.widgets._html import esc

STATIC_CLASS = "gloo-nb-static"
"""CSS class of the ``<div>`` around every static rendering (``data-view`` names the view's class)."""


class StaticView:
    """Mixin for a view (before ``ipywidgets.VBox`` in the bases): ``text/html`` and ``text/plain`` of its state.

    Subclasses implement :meth:`static_html` (the state as HTML, built from the same view-model the widget
    shows) and :meth:`summary` (one line).
    """

    def static_html(self) -> str:
        """The view's current state as HTML (no scripts, no widgets: it must read without a kernel)."""
        raise NotImplementedError

    def summary(self) -> str:
        """One line saying what the view shows (the ``text/plain`` of a saved notebook)."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # Keep ipywidgets' own bundle (the widget view) and add to it: the widget view stays first in
        # every front end that can draw it.
        bundle = dict(super()._repr_mimebundle_(**kwargs) or {})  # type: ignore[misc]
        name = type(self).__name__
        try:
            body = self.static_html()
            plain = self.summary()
        except Exception as err:  # noqa: BLE001 - a display must not fail because its snapshot did
            # The live widget still works; say plainly that the saved copy has no rendering, and why.
            body = f'<div style="color:#c62828">{esc(name)}: no static rendering ({esc(type(err).__name__)}: ' \
                   f"{esc(err)})</div>"
            plain = f"{name} (no static rendering: {type(err).__name__}: {err})"
        bundle["text/html"] = f'<div class="{STATIC_CLASS}" data-view="{esc(name)}">{body}</div>'
        bundle["text/plain"] = plain
        return bundle


def section(title: str, body: str, *, folded: bool = False) -> str:
    """A titled block of a static rendering (``folded``: a ``<details>`` a reader opens; long, secondary parts)."""
    if not body:
        return ""
    if folded:
        return f'<details style="margin:6px 0"><summary><b>{esc(title)}</b></summary>{body}</details>'
    return f'<div style="margin:6px 0"><div><b>{esc(title)}</b></div>{body}</div>'
