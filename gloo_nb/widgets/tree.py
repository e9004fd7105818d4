"""Delegation tree: VirtualService -> delegate routes -> RouteTables -> routes -> destinations, lazily expanded."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from gloo_nb.analysis.headline import ROLE_COLOURS, ROLE_MEANINGS, ROLE_WORDS
from gloo_nb.analysis.tree import INHERITED_COLOURS, TREE_COLOURS, TREE_LEGEND, DelegationTree, NodeDetail, TreeNode
from gloo_nb.widgets._html import esc
from gloo_nb.widgets._static import StaticView, section


class DelegationTreeView(StaticView, w.VBox):
    """A collapsible, searchable delegation tree; selecting a node shows its YAML, findings and Envoy routes.

    Args:
        translation: The translation (``Inspection.translation`` or ``translate(...)``).
        inspection: Optional ``gloo_nb.app.connect.Inspection``, for which replicas applied a route.
        proxy: One gateway proxy's tree (``DelegationTree(..., proxy=...)``); default: the translation's own.

    Attributes:
        tree: The view-model.
        expanded: Ids of the expanded nodes.
        selected: Id of the selected node, or None.
        search: Text box; committing text runs :meth:`run_search`, which expands to and lists the hits.
        rows: The shown rows' ``(node id, toggle button, label button)``, in display order.
        detail: The selection's YAML, findings and Envoy routes (HTML).
    """

    def __init__(self, translation: Any, inspection: Any | None = None, *, proxy: str | None = None) -> None:
        self.tree = DelegationTree(translation, inspection.drift if inspection is not None else None, proxy=proxy)
        self.expanded: set[str] = set()
        self.selected: str | None = None
        self.hits: list[str] = []
        # Search when the text is committed (Enter or blur), not on each keystroke: a search expands.
        self.search = w.Text(placeholder="search (label text)", description="search", continuous_update=False)
        self.search.observe(lambda change: self.run_search(change["new"]), names="value")
        self.legend = w.HTML(_legend_html())
        self.body = w.VBox()
        self.detail = w.HTML("<i>select a node</i>")
        self.rows: list[tuple[str, w.Button, w.Button]] = []
        super().__init__([self.legend, self.search, self.body, self.detail])
        self._render()

    def toggle(self, node_id: str) -> None:
        """Expand or collapse a node.

        Args:
            node_id: The node's id.
        """
        if node_id in self.expanded:
            self.expanded.discard(node_id)
        else:
            self.expanded.add(node_id)
        self._render()

    def select(self, node_id: str) -> NodeDetail:
        """Select a node and show its details.

        Args:
            node_id: The node's id.

        Returns:
            The detail shown.
        """
        self.selected = node_id
        detail = self.tree.detail(node_id)
        self.detail.value = _detail_html(detail)
        self._render()
        return detail

    def expand_to_roles(self) -> list[str]:
        """Expand the tree down to every node with a role, so culprit and victim show at once.

        The cause, the broken destination, the held-back victim and the replaced route are those nodes.

        Returns:
            The ids of those nodes.
        """
        ids = [n.id for n in self.tree.role_nodes()]
        for node_id in ids:
            self.expanded.update(self.tree.path(node_id)[:-1])
        self._render()
        return ids

    def run_search(self, text: str) -> list[str]:
        """Expand the tree down to every node whose label contains ``text`` and highlight them.

        Args:
            text: The text (case-insensitive); empty clears the search.

        Returns:
            The ids of the hits.
        """
        self.hits = [n.id for n in self.tree.search(text)] if text else []
        for hit in self.hits:
            self.expanded.update(self.tree.path(hit)[:-1])
        self._render()
        return self.hits

    def _render(self) -> None:
        rows: list[Any] = []
        self.rows = []
        stack = [(n, 0) for n in reversed(self.tree.roots())]
        hits = set(self.hits)
        while stack:
            node, depth = stack.pop()
            rows.append(self._row(node, depth, node.id in hits))
            if node.id in self.expanded:
                stack.extend((c, depth + 1) for c in reversed(self.tree.children(node.id)))
        self.body.children = rows

    def _row(self, node: TreeNode, depth: int, hit: bool) -> w.HBox:
        sign = ("-" if node.id in self.expanded else "+") if node.has_children else " "
        toggle = w.Button(description=sign, layout=w.Layout(width="2.5em", margin=f"0 0 0 {depth * 1.5}em"),
                          disabled=not node.has_children)
        toggle.on_click(lambda _b, i=node.id: self.toggle(i))
        # A button cuts its text with an ellipsis when narrow: the tooltip keeps the whole label and its meaning.
        label = w.Button(description=f"{node.label}  [{node.mark}]", tooltip=f"{node.label}: {node.meaning}",
                         layout=w.Layout(width="auto", border="2px solid black" if hit or node.id == self.selected
                                         else ""))
        label.style.button_color = node.colour
        label.style.text_color = "white"
        label.on_click(lambda _b, i=node.id: self.select(i))
        self.rows.append((node.id, toggle, label))
        return w.HBox([toggle, label])


    # --- static rendering (saved notebooks) ----------------------------------------------------------------

    def _visible(self) -> list[tuple[TreeNode, int]]:
        # The rows the live view shows, in its order (expanded nodes open, the rest closed).
        out = []
        stack = [(n, 0) for n in reversed(self.tree.roots())]
        while stack:
            node, depth = stack.pop()
            out.append((node, depth))
            if node.id in self.expanded:
                stack.extend((c, depth + 1) for c in reversed(self.tree.children(node.id)))
        return out

    def summary(self) -> str:
        """One line: how many nodes are shown and how many of them are in each state."""
        shown = self._visible()
        counts: dict[str, int] = {}
        for node, _depth in shown:
            counts[node.shown_state] = counts.get(node.shown_state, 0) + 1
        states = ", ".join(f"{n} {s}" for s, n in counts.items())
        return f"delegation tree: {len(shown)} node(s) shown ({states})"

    def static_html(self) -> str:
        """The legend, the expanded tree as the live view shows it (indented, coloured), and the selection."""
        hits = set(self.hits)
        rows = []
        for node, depth in self._visible():
            sign = ("-" if node.id in self.expanded else "+") if node.has_children else "&nbsp;"
            state = node.state if node.inherited == "accepted" else f"{node.state}, inherits {node.inherited}"
            mark = "outline:2px solid black;" if node.id in hits or node.id == self.selected else ""
            rows.append(f'<div style="margin-left:{depth * 1.5}em;padding:1px 0"><code>{sign}</code> '
                        f'<span style="background:{esc(node.colour)};color:white;padding:1px 6px;{mark}" '
                        f'title="{esc(TREE_LEGEND[node.shown_state])}">{esc(node.label)} [{esc(state)}]</span></div>')
        parts = [self.legend.value, "".join(rows) or "<i>no VirtualService</i>"]
        if self.selected is not None:
            parts.append(section("selected", self.detail.value))
        return "".join(parts)


def _legend_html() -> str:
    items = "".join(f'<span style="background:{TREE_COLOURS[s]};color:white;padding:1px 6px;margin-right:6px" '
                    f'title="{esc(m)}">{esc(s)}</span>' for s, m in TREE_LEGEND.items())
    roles = "".join(f'<span style="background:{ROLE_COLOURS[r]};color:white;padding:1px 6px;margin-right:6px" '
                    f'title="{esc(ROLE_MEANINGS[r])}">{esc(word)}</span>' for r, word in ROLE_WORDS.items())
    inherited = "".join(f'<span style="background:{colour};color:white;padding:1px 6px;margin-right:6px" '
                        f'title="nothing wrong with the node itself; an ancestor is {esc(s)}">inherits {esc(s)}</span>'
                        for s, colour in INHERITED_COLOURS.items())
    return f"<div>{items}</div><div>{inherited}</div><div>roles: {roles}</div>"


def _detail_html(detail: NodeDetail) -> str:
    node = detail.node
    parts = [f"<b>{esc(node.label)}</b> &mdash; {esc(node.state)} (inherits {esc(node.inherited)})"
             + (f"<br><b>{esc(node.meaning)}</b>" if node.role else ""),
             f'<pre style="white-space:pre-wrap">{esc(detail.yaml)}</pre>']
    if detail.findings:
        parts.append("<b>findings</b><ul>" + "".join(
            f"<li>{esc(f.severity)}: {esc(f.message)} ({esc(f.origin)})</li>" for f in detail.findings) + "</ul>")
    if detail.unmodelled:
        # Declared, not problems: what gloo_nb's prediction of this node lacks.
        parts.append("<b>not modelled</b><ul>" + "".join(
            f"<li>{esc(u.path)} ({esc(u.feature)}){': ' + esc(u.detail) if u.detail else ''}</li>"
            for u in detail.unmodelled) + "</ul>")
    if detail.envoy_routes:
        items = []
        for r in detail.envoy_routes:
            replicas = ", ".join(f"{k}: {v or 'absent'}" for k, v in r.replicas.items()) or "no replica data"
            items.append(f"<li>{esc(r.virtual_host)}[{r.index}] {esc(r.match)} &rarr; {esc(r.action)}"
                         f"{' (replaced by the fallback)' if r.replaced else ''}; replicas: {esc(replicas)}</li>")
        parts.append("<b>Envoy routes</b><ul>" + "".join(items) + "</ul>")
    return "".join(parts)
