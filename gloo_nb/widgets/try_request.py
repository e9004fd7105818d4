"""Try a request: which route each source (intent, served, each replica) would use, and the real answer."""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as w

from gloo_nb.analysis.matching import Request
from gloo_nb.analysis.views import parse_header_lines, try_request
from gloo_nb.widgets._html import esc, table
from gloo_nb.widgets._static import StaticView

Fetch = Callable[[Request], tuple[int, str]]
"""Sends a request through the gateway: ``request -> (status, body)``."""

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


def http_fetch(base_url: str, timeout: float = 5.0) -> Fetch:
    """A :data:`Fetch` that sends requests to a gateway URL (e.g. ``Inspection``'s ``gateway_url``).

    Args:
        base_url: ``http://host:port``.
        timeout: Seconds per request.

    Returns:
        The callable; a failed connection gives status 0 and the error's name.
    """
    parts = urllib.parse.urlsplit(base_url)

    def fetch(request: Request) -> tuple[int, str]:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
        try:
            conn.request(request.method, request.path, headers=dict(request.headers))
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as err:
            return 0, type(err).__name__
        finally:
            conn.close()

    return fetch


class TryRequestView(StaticView, w.VBox):
    """Method, path and headers in; out the route each source would use, and optionally the real response.

    Args:
        rows: ``Inspection.rows`` (route rows of every source).
        fetch: Sends the request through the gateway (:func:`http_fetch`); None for prediction only.

    Attributes:
        method, path, headers: Inputs (headers one a line, ``name: value``; ``host: ...`` picks the
            virtual host).
        button: Runs the request; ``result``: the per-source frame of the last run.
        output: HTML: the per-source table, the real response, or the input error.
    """

    def __init__(self, rows: Iterable[Any], fetch: Fetch | None = None):
        self.rows = list(rows)
        self.fetch = fetch
        self.method = w.Dropdown(options=list(METHODS), value="GET", description="method")
        self.path = w.Text(value="/", description="path")
        self.headers = w.Textarea(value="", description="headers", placeholder="host: example.com\nstage: canary")
        self.button = w.Button(description="send" if fetch else "which route?", button_style="primary")
        self.output = w.HTML()
        self.result: Any = None
        self.button.on_click(lambda _b: self.run())
        super().__init__([w.HBox([self.method, self.path]), self.headers, self.button, self.output])

    def run(self) -> None:
        """Match the inputs' request in every source (and send it when a fetch is given)."""
        try:
            headers = parse_header_lines(self.headers.value)
            path = self.path.value.strip() or "/"
            if not path.startswith("/"):
                raise ValueError(f"path must start with '/', got {path!r}")
            request = Request(method=self.method.value, path=path, headers=headers)
        except ValueError as err:
            self.result = None
            self.output.value = f'<div style="color:#c62828">{esc(err)}</div>'
            return
        self.result = try_request(self.rows, request)

        def style(column: str, value: Any) -> str:
            return "color:#c62828" if column == "match" and value == "no match" else ""

        html = [f"<div><b>{esc(request.method)} {esc(request.path)}</b> (host {esc(request.host)})</div>",
                table(self.result, style=style)]
        if self.fetch is not None:
            status, body = self.fetch(request)
            shown = body if len(body) <= 500 else body[:500] + "..."
            html.append(f"<div>response: <b>{status or 'no answer'}</b> <code>{esc(shown.strip())}</code></div>")
        self.output.value = "".join(html)

    # --- static rendering (saved notebooks) ----------------------------------------------------------------

    def summary(self) -> str:
        """One line: the request and the route each source would use (or that none was tried)."""
        request = f"{self.method.value} {self.path.value.strip() or '/'}"
        if self.result is None or not len(self.result):
            return f"try a request: {request} not tried"
        answers = "; ".join(f"{src}: {match}" for src, match in zip(self.result["source"], self.result["match"],
                                                                     strict=True))
        return f"try a request: {request}: {answers}"

    def static_html(self) -> str:
        """The last request's per-source table and response (or the inputs when nothing was tried)."""
        if self.output.value:
            return self.output.value
        request = f"{self.method.value} {self.path.value}"
        return f"<div>try a request: <code>{esc(request)}</code> <i>not tried</i></div>"
