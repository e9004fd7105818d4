"""The traffic probe as a widget: N requests with given headers through the gateway, a progress bar, the split."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as w

from gloo_nb.analysis.probe import split_frame
from gloo_nb.analysis.views import parse_header_lines
from gloo_nb.app.probe import ProbeResult, probe
from gloo_nb.widgets._html import esc, table
from gloo_nb.widgets._static import StaticView

Prober = Callable[..., ProbeResult]
"""``(url, requests, headers=, progress=) -> ProbeResult`` (:func:`gloo_nb.app.probe.probe`)."""


class ProbeView(StaticView, w.VBox):
    """Send N requests through the gateway and show the split of answers with Wilson 95 % intervals.

    Args:
        gateway_url: The gateway's ``http://host:port`` (``NotebookGateway.gateway_url``).
        path: The initial path.
        requests: The initial number of requests.
        prober: Sends the requests (default :func:`gloo_nb.app.probe.probe`).

    Attributes:
        path, headers, requests: Inputs (headers one a line, ``name: value``).
        button: Runs the probe; ``progress``: the bar, moved as answers come in.
        result: The last :class:`~gloo_nb.app.probe.ProbeResult` (None before the first run or after bad input).
        output: HTML: the split table or the input error.
    """

    def __init__(self, gateway_url: str, *, path: str = "/", requests: int = 200, prober: Prober = probe):
        self.gateway_url = gateway_url.rstrip("/")
        self.prober = prober
        self.path = w.Text(value=path, description="path")
        self.headers = w.Textarea(value="", description="headers", placeholder="stage: canary")
        self.requests = w.BoundedIntText(value=requests, min=1, max=1_000_000, description="requests")
        self.button = w.Button(description="probe", button_style="primary")
        self.progress = w.IntProgress(value=0, min=0, max=requests, description="0 / " + str(requests))
        self.output = w.HTML()
        self.result: ProbeResult | None = None
        self.button.on_click(lambda _b: self.run())
        super().__init__([w.HBox([self.path, self.requests]), self.headers, self.button, self.progress, self.output])

    def run(self) -> ProbeResult | None:
        """Send the requests the inputs describe; the bar moves as answers come in.

        Returns:
            The result, or None when the inputs are wrong (the reason is shown).
        """
        try:
            headers = parse_header_lines(self.headers.value)
            path = self.path.value.strip() or "/"
            if not path.startswith("/"):
                raise ValueError(f"path must start with '/', got {path!r}")
        except ValueError as err:
            self.result = None
            self.output.value = f'<div style="color:#c62828">{esc(err)}</div>'
            return None
        total = int(self.requests.value)
        self.progress.max, self.progress.value = total, 0
        # A comm message per request would flood the front end: move the bar by about 1 % at a time.
        step = max(1, total // 100)

        def tick(done: int, of: int) -> None:
            if done % step == 0 or done == of:
                self.progress.value = done
                self.progress.description = f"{done} / {of}"

        self.button.disabled = True
        try:
            self.result = self.prober(self.gateway_url + path, total, headers=headers, progress=tick)
        finally:
            self.button.disabled = False
        frame = split_frame(self.result.shares)
        for col in ("share", "low", "high"):
            frame[col] = frame[col].map(lambda v: f"{100 * v:.1f} %")
        sent = ", ".join(f"{k}: {v}" for k, v in headers.items()) or "no extra headers"
        self.output.value = (f"<div><b>{total}</b> requests to <code>{esc(path)}</code> ({esc(sent)}); "
                             f"95 % Wilson intervals</div>" + table(frame))
        return self.result

    # --- static rendering (saved notebooks) ----------------------------------------------------------------

    def summary(self) -> str:
        """One line: the last run's split (answer x count), or that none ran."""
        where = f"{self.gateway_url}{self.path.value.strip() or '/'}"
        if self.result is None:
            return f"probe {where}: not run"
        split = ", ".join(f"{s.answer} x{s.count}" for s in self.result.shares) or "no answers"
        return f"probe {where}: {split}"

    def static_html(self) -> str:
        """The gateway and inputs, then the last run's split table (or the input error)."""
        head = (f"<div>probe <code>{esc(self.gateway_url)}</code>, path <code>{esc(self.path.value)}</code>, "
                f"{esc(self.requests.value)} request(s)"
                + (f", headers <code>{esc('; '.join(self.headers.value.splitlines()))}</code>"
                   if self.headers.value.strip() else "") + "</div>")
        return head + (self.output.value or "<i>not run</i>")

