"""Traffic weights: configured (intent) vs served vs each replica vs observed, as a table and a bar chart."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import ipywidgets as w
import pandas as pd
from matplotlib.figure import Figure

from gloo_nb.analysis import routes_frame
from gloo_nb.analysis.figures import short_labels, svg_text
from gloo_nb.analysis.views import ProbeLike, weights_frame, weights_table
from gloo_nb.app.connect import GatewayConnection
from gloo_nb.translate.routes import route_id
from gloo_nb.widgets._html import esc, is_empty, table
from gloo_nb.widgets._static import StaticView
from gloo_nb.xds.client import XdsUpdate
from gloo_nb.xds.decode import fallback_label, route_rows


def weights_figure(frame: pd.DataFrame, route: str) -> Figure:
    """Grouped bars: one group per destination, one bar per source, the share in percent.

    Destinations carry short labels (:func:`gloo_nb.analysis.figures.short_labels`: ``v1``, ``v2``; answers
    that matched no destination as ``unmatched: <answer>``); the legend sits right of the plot area, and the
    title says what is shown. Observed bars carry their Wilson 95 % interval as error bars. Built on a bare
    :class:`matplotlib.figure.Figure` (no pyplot state, renders with Agg anywhere).

    Args:
        frame: :func:`gloo_nb.analysis.views.weights_frame`'s result.
        route: The route label.

    Returns:
        The figure.
    """
    mine = frame[frame["route"] == route]
    sources = list(dict.fromkeys(mine["source"]))
    dests = list(dict.fromkeys(mine["destination"]))
    short = short_labels(dests)
    resource = next((r for r in mine["resource"] if r), "")
    fig = Figure(figsize=(max(4.5, 1.6 * len(dests)) + 2.2, 3.4), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(sources))
    for k, src in enumerate(sources):
        rows = mine[mine["source"] == src].set_index("destination").reindex(dests)
        xs = [i + (k - (len(sources) - 1) / 2) * width for i in range(len(dests))]
        heights = (rows["share"].fillna(0.0) * 100).tolist()
        err = None
        if src == "observed":
            low = ((rows["share"] - rows["low"]).fillna(0.0) * 100).tolist()
            high = ((rows["high"] - rows["share"]).fillna(0.0) * 100).tolist()
            err = [low, high]
        ax.bar(xs, heights, width, label=src, yerr=err, capsize=3 if err else 0)
    # Wrapped so that a long label (an unmatched answer) does not run into its neighbours.
    ax.set_xticks(range(len(dests)), [textwrap.fill(short[d], 16) for d in dests], fontsize=9)
    ax.set_ylabel("% of requests")
    ax.set_ylim(0, 105)
    ax.set_title(f"Share of requests per destination: {route}" + (f" ({resource})" if resource else ""),
                 fontsize=9, loc="left")
    # Outside the axes: a legend inside would cover the 100 % bars it explains.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, title="source",
              title_fontsize=8)
    return fig


def figure_svg(fig: Figure) -> bytes:
    """The figure as SVG bytes for an :class:`ipywidgets.Image` (``format="svg+xml"``)."""
    return svg_text(fig).encode()


class TrafficWeightsView(StaticView, w.VBox):
    """Per route with weighted destinations: each destination's share per source, as a table and a chart.

    Args:
        routes: ``Inspection.routes_frame()``.
        observed: Probe results (``gloo_nb.app.probe.probe``) by route label
            (``gloo_nb.analysis.views.weight_routes``).

    Attributes:
        frame: The view-model (:func:`gloo_nb.analysis.views.weights_frame`).
        route: Route dropdown.
        table: HTML table (destinations x sources, percent).
        chart: The bar chart as an SVG image widget (sharp at any size); ``figure``: the last matplotlib figure.
    """

    def __init__(self, routes: pd.DataFrame, observed: Mapping[str, ProbeLike] | None = None):
        self.routes = routes
        self.observed = observed
        self.frame = weights_frame(routes, observed)
        labels = list(dict.fromkeys(self.frame["route"])) if len(self.frame) else []
        self.route = w.Dropdown(options=labels, value=labels[0] if labels else None, description="route",
                                layout=w.Layout(width="40em"))
        self.table = w.HTML()
        self.chart = w.Image(format="svg+xml")
        self.figure: Figure | None = None
        super().__init__([self.route, self.table, self.chart])
        self.route.observe(lambda _change: self._render(), names="value")
        self._render()

    def update(self, routes: pd.DataFrame) -> None:
        """Show new route rows (keeps the selected route when it still exists).

        Args:
            routes: A routes frame, as ``Inspection.routes_frame()``.
        """
        self.routes = routes
        self.frame = weights_frame(routes, self.observed)
        labels = list(dict.fromkeys(self.frame["route"])) if len(self.frame) else []
        keep = self.route.value if self.route.value in labels else (labels[0] if labels else None)
        with self.hold_trait_notifications():
            self.route.options = labels
            self.route.value = keep
        self._render()

    def follow(self, conn: GatewayConnection) -> None:
        """Update the ``served`` weights live from the connection's xDS stream.

        Args:
            conn: The gateway connection (its shadow ADS node is used; nothing else is read).
        """
        client = conn.ads()
        others = self.routes[self.routes["source"] != "served"]
        owners = {route_id(vh, match): res for vh, match, res in
                  zip(self.routes["virtualHost"], self.routes["matchJson"], self.routes["resource"], strict=True)}

        def on_update(update: XdsUpdate) -> None:
            if update.type not in ("rds", "lds", "cds"):
                return
            snap = client.snapshot()
            rows = route_rows(snap.route_configurations, "served", fallback_body=fallback_label(snap.listeners))
            served = routes_frame(rows, {r.id: owners.get(r.id, "") for r in rows})
            self.update(pd.concat([others, served], ignore_index=True))

        client.add_listener(on_update)

    def _render(self) -> None:
        route = self.route.value
        if route is None:
            self.table.value = "<i>no route has weighted destinations</i>"
            self.chart.value = b""
            self.figure = None
            return
        pivot = weights_table(self.frame, route, blank="-")
        resource = next(iter(self.frame.loc[self.frame["route"] == route, "resource"]), "")
        self.table.value = (f"<div><b>{esc(route)}</b> ({esc(resource or '?')}), % of requests</div>"
                            + table(pivot, index=True))
        self.figure = weights_figure(self.frame, route)
        self.chart.value = figure_svg(self.figure)

    # --- static rendering (saved notebooks) ----------------------------------------------------------------

    def summary(self) -> str:
        """One line: the route shown and each destination's share per source."""
        route = self.route.value
        if route is None:
            return "traffic weights: no route has weighted destinations"
        pivot = weights_table(self.frame, route)
        shares = "; ".join(
            f"{dest}: " + ", ".join(f"{src} {value:g} %" for src, value in row.items() if not is_empty(value))
            for dest, row in pivot.iterrows())
        others = len(self.route.options) - 1
        return f"traffic weights of {route}: {shares}" + (f" (+{others} other route(s))" if others > 0 else "")

    def static_html(self) -> str:
        """The route shown, its destinations x sources table and the chart as inline SVG."""
        others = [str(o) for o in self.route.options if o != self.route.value]
        note = (f"<div><i>other weighted route(s): {esc(', '.join(others))}</i></div>" if others else "")
        svg = bytes(self.chart.value).decode() if self.route.value else ""
        chart = svg[svg.find("<svg"):] if "<svg" in svg else ""  # inline: without the XML declaration and DOCTYPE
        return self.table.value + chart + note
