"""The gateway overview: resource counts by state, upstream health, findings linked to their YAML line."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from gloo_nb.analysis.overview import STATES, FindingLink, GatewayOverview
from gloo_nb.widgets._html import esc, table
from gloo_nb.widgets._static import StaticView

__all__ = ["GatewayOverviewView", "overview_html"]

_STATE_COLOURS = {"Accepted": "#2e7d32", "Warning": "#ef6c00", "Rejected": "#c62828"}


def _count_style(column: str, value: Any) -> str:
    colour = _STATE_COLOURS.get(column)
    return f"color:{colour};font-weight:bold" if colour and value else ""


def _health_style(column: str, value: Any) -> str:
    text = str(value)
    if column in ("upstream", "cluster") or text == "-":
        return ""
    if text == "absent":
        return "color:#c62828"
    ready, _, total = text.partition("/")
    if ready.isdigit() and total.isdigit():
        return "color:#c62828;font-weight:bold" if int(ready) == 0 or int(ready) < int(total) else "color:#2e7d32"
    return ""


def _finding_html(link: FindingLink) -> str:
    f = link.finding
    colour = "#c62828" if f.severity == "error" else "#ef6c00"
    head = (f'<span style="color:{colour}"><b>{esc(f.severity)}</b></span> {esc(f.origin.kind)} '
            f"<b>{esc(f.origin.ref)}</b>: {esc(f.message)}")
    if link.line is None:
        return f'<div style="margin:2px 0">{head} <i>(its YAML is not known)</i></div>'
    rows = []
    for number, text in link.excerpt:
        mark = "background:#fff3e0;font-weight:bold" if number == link.line else ""
        rows.append(f'<div style="{mark}"><span style="color:#888">{number:>5} </span>{esc(text)}</div>')
    body = "".join(rows)
    return (f'<details style="margin:2px 0"><summary>{head} <code>{esc(link.where)}</code> '
            f'<span style="color:#888">({esc(link.how)})</span></summary>'
            f'<pre style="margin:2px 0 6px 1.5em;white-space:pre">{body}</pre></details>')


def overview_html(overview: GatewayOverview) -> str:
    """The overview as one HTML fragment (also what :class:`GatewayOverviewView` shows).

    Args:
        overview: :func:`gloo_nb.analysis.overview.gateway_overview`'s result.

    Returns:
        Three sections: resources by state, upstream health, findings (each a ``<details>`` with the YAML
        around its line).
    """
    counts = overview.counts.copy()
    counts.index.name = "kind"
    parts = ["<b>Resources by state (as Gloo reports them)</b>",
             table(counts, index=True, style=_count_style, columns=[*STATES, "total"])]
    health = overview.health_frame()
    parts.append("<b>Upstream health: endpoints ready/total in Kubernetes, hosts healthy/total in each Envoy "
                 "replica's /clusters</b>")
    parts.append(table(health, style=_health_style) if len(health) else "<i>no upstreams</i>")
    parts.extend(f"<div style='color:#c62828'>{esc(node)}: /clusters not read: {esc(why)}</div>"
                 for node, why in overview.unread.items())
    parts.append(f"<b>Findings ({len(overview.findings)}), each at the line of the resource's YAML it is about "
                 "(click to see it)</b>")
    parts.extend(_finding_html(link) for link in overview.findings)
    if not overview.findings:
        parts.append("<i>no findings</i>")
    return "<div>" + "".join(f"<div style='margin:4px 0'>{p}</div>" for p in parts) + "</div>"


class GatewayOverviewView(StaticView, w.VBox):
    """The gateway overview, as Gloo's UI opens: counts by state, upstream health, findings at their YAML line.

    Args:
        overview: :func:`gloo_nb.analysis.overview.gateway_overview` (``gloo_nb.app.overview.read_overview``
            reads one from a notebook's gateway).

    Attributes:
        overview: The view-model.
        html: Its rendering (:func:`overview_html`).
    """

    def __init__(self, overview: GatewayOverview) -> None:
        self.overview = overview
        self.html = w.HTML(overview_html(overview))
        super().__init__([self.html])

    def update(self, overview: GatewayOverview) -> None:
        """Show a new overview.

        Args:
            overview: The new view-model.
        """
        self.overview = overview
        self.html.value = overview_html(overview)

    # --- static rendering (saved notebooks) ----------------------------------------------------------------

    def summary(self) -> str:
        """One line: resources per state, upstreams, findings."""
        counts = self.overview.counts
        parts = [f"{kind} " + ", ".join(f"{int(counts.loc[kind, s])} {s}" for s in STATES if int(counts.loc[kind, s]))
                 for kind in counts.index if int(counts.loc[kind, "total"])]
        return (f"gateway overview: {'; '.join(parts) or 'no resources'}; {len(self.overview.health)} upstream(s), "
                f"{len(self.overview.findings)} finding(s)")

    def static_html(self) -> str:
        """The same HTML the widget shows (it has no controls)."""
        return self.html.value
