"""The explicit stop of a live notebook: a button that closes its connection (and its own sandbox).

Run All in a front end a person uses must not end the notebook's connection: its live widgets (the
probe, the stepper) are what the person came for. The notebooks' last cell shows this button
instead; a person presses it when done (the own sandbox also stops when the kernel ends, since it
follows the kernel's pid). Headless runs (papermill) close at once in that cell.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from gloo_nb.widgets._html import esc
from gloo_nb.widgets._live import is_closed, watch_close
from gloo_nb.widgets._static import StaticView


def stop_label(gateway: Any) -> str:
    """What the stop button does, in words.

    Args:
        gateway: A ``NotebookGateway`` (its ``owned`` says whether the notebook started a sandbox).

    Returns:
        The label.
    """
    return "stop the sandbox and close the connection" if getattr(gateway, "owned", False) else "close the connection"


class StopButton(StaticView, w.VBox):
    """A button that closes things (``rollout``, extra connections, then the gateway), once, when pressed.

    Args:
        gateway: The notebook's gateway (closed last; its label decides the button's words).
        *others: Closed first, in order (a rollout, a connection with the team's identity).

    Attributes:
        button: Closes everything; disabled once closed (also when the gateway is closed elsewhere).
        output: ``closed`` once done (what the notebooks' headless runs print too), or the error.
    """

    def __init__(self, gateway: Any, *others: Any) -> None:
        self.gateway = gateway
        self.others = others
        self.button = w.Button(description=stop_label(gateway), button_style="danger",
                               layout=w.Layout(width="auto"))
        self.output = w.HTML("<i>Run All keeps the connection open for the widgets above: press when done "
                             "(an own sandbox also stops when the kernel ends)</i>")
        self._stopping = False
        self.button.on_click(lambda _b: self.stop())
        super().__init__([self.button, self.output])
        watch_close(gateway, self._closed)
        if is_closed(gateway):
            self._closed()

    def _closed(self) -> None:
        self.button.disabled = True
        if not self._stopping:  # our own stop says "closed" when all of it is done (the sandbox stops last)
            self.output.value = "closed"

    def summary(self) -> str:
        """One line: whether the connection was closed when the notebook was saved."""
        return "stop button: closed" if self.button.disabled else f"stop button: {self.button.description}"

    def static_html(self) -> str:
        """What the button and its line said when the notebook was saved."""
        state = "pressed, closed" if self.button.disabled else "not pressed"
        return f"<div><b>{esc(self.button.description)}</b> ({state})</div>{self.output.value}"

    def stop(self) -> bool:
        """Close the others, then the gateway (each at most once: their ``close`` are idempotent).

        Returns:
            True once everything is closed.
        """
        self.button.disabled = self._stopping = True
        self.output.value = "<i>stopping...</i>"
        try:
            for thing in (*self.others, self.gateway):
                thing.close()
        except Exception as error:  # noqa: BLE001 - shown in the widget: a person decides what next
            self.button.disabled = False
            self.output.value = f'<div style="color:#c62828">stop failed: {esc(error)}</div>'
            return False
        finally:
            self._stopping = False
        self._closed()
        return True


def stop_cell(gateway: Any, *others: Any, headless: bool | None = None) -> StopButton | None:
    """The notebooks' last cell: a stop button for a person, or close at once in a headless run.

    Args:
        gateway: The notebook's gateway.
        *others: Closed before it (a rollout, a connection with the team's identity).
        headless: Whether nobody can press a button (default: ``not gloo_nb.app.notebook.interactive()``).

    Returns:
        The button to display (a person runs the notebook), or None after closing (``closed`` printed).
    """
    from gloo_nb.app.notebook import interactive  # noqa: PLC0415 - the notebooks' helpers, only needed here

    if headless is None:
        headless = not interactive()
    view = StopButton(gateway, *others)
    if not headless:
        return view
    view.stop()
    print(view.output.value)
    return None
