"""View-models of the notebook widgets: plain data and frames, no ipywidgets, no network.

Each function turns the inspector's rows (drift rows, the routes and findings frames, route rows)
into what one widget shows, so the widgets in ``gloo_nb.widgets`` only lay it out:

- :func:`drift_grid`: routes x sources (``served`` and each replica) with a sync state per cell;
- :func:`invalid_routes_frame`: every finding with its effect on traffic (rules in its docstring);
- :func:`weights_frame`: per route with weighted destinations, each destination's share per source,
  and optionally the share a traffic probe observed;
- :func:`try_request`: which route each source would use for one request.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from gloo_nb.analysis.drift import STATES, DriftRow, SourceCell
from gloo_nb.analysis.headline import ROLE_COLOURS, ROLE_MEANINGS, ROLE_WORDS
from gloo_nb.analysis.matching import Request, match_request
from gloo_nb.analysis.probe import Share
from gloo_nb.analysis.rows import RouteRowLike as RowLike
from gloo_nb.translate.envoy import FALLBACK_CLUSTER
from gloo_nb.translate.routes import action_clusters, destination_label, destination_shares, route_id

__all__ = [
    "EFFECTS",
    "INVALID_COLUMNS",
    "ROLE_COLOURS",
    "ROLE_WORDS",
    "STATE_COLOURS",
    "STATE_MEANINGS",
    "TRY_COLUMNS",
    "WEIGHT_COLUMNS",
    "DriftCell",
    "DriftGrid",
    "ProbeLike",
    "UNMATCHED",
    "answer_destination",
    "destination_label",
    "destination_shares",
    "drift_grid",
    "team_labels",
    "filter_sort",
    "invalid_routes_frame",
    "legend",
    "parse_header_lines",
    "try_request",
    "weight_routes",
    "weights_frame",
    "weights_table",
]

STATE_COLOURS: dict[str, str] = {
    "in-sync": "#2e7d32",
    "pending": "#f9a825",
    "blocked-by-last-known-good": "#c62828",
    "rejected-by-envoy": "#6a1b9a",
    "replica-lagging": "#ef6c00",
    "replaced-by-fallback": "#1565c0",
    "unmodelled": "#00838f",
    "absent": "#9e9e9e",
}
"""Cell colour of each drift state; ``absent``: the route is in no source the cell stands for."""

STATE_MEANINGS: dict[str, str] = {
    "in-sync": "intent, served and this replica agree",
    "pending": "the control plane has not served the intended route yet",
    "blocked-by-last-known-good": "the control plane withholds the change (last known good)",
    "rejected-by-envoy": "the replica rejected the served route configuration",
    "replica-lagging": "the replica has not applied the served route yet",
    "replaced-by-fallback": "Gloo replaced the invalid route by its fallback response",
    "unmodelled": "routing agrees, but the route uses features gloo_nb does not predict",
    "absent": "the route exists neither here nor in the reference",
}
"""One line per state, for the legend."""


EFFECTS = ("fallback", "blocked change", "503 missing cluster", "dropped", "none")
"""Effect categories of :func:`invalid_routes_frame` (``fallback`` is shown with its status, e.g. ``fallback 404``)."""

INVALID_COLUMNS = ("team", "severity", "resource", "kind", "origin", "route", "routeResource", "message", "effect",
                   "causeTeam", "affectedTeam", "role")
"""Columns of :func:`invalid_routes_frame`: ``team`` (kept, the same as ``causeTeam``) is the team whose resource
causes the finding; ``affectedTeam`` the team owning the affected route (``routeResource``); ``role`` what the route
is in the problem (``cause``, ``blocked``, ``replaced``, ``broken``; ``""`` when no route is affected)."""


# --- drift grid ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriftCell:
    """One cell of the drift grid.

    Attributes:
        state: A drift state (:data:`gloo_nb.analysis.drift.STATES`) or ``absent``.
        colour: Its colour (:data:`STATE_COLOURS`).
        action: What this source does for the route (None when it lacks the route).
        cause: Why the cell is in its state (``""`` when in sync).
        role: The route's role (:data:`ROLE_WORDS`) when this cell shows it (a cell in the route's own state);
            its colour is then the role's.
    """

    state: str
    colour: str
    action: str | None
    cause: str
    role: str = ""

    @property
    def word(self) -> str:
        """What the cell says: its role's word, else its state."""
        return ROLE_WORDS.get(self.role, self.state)


@dataclass(frozen=True, slots=True)
class DriftGrid:
    """Routes x sources, a sync state per cell.

    Attributes:
        sources: Column headers: ``served`` (when read) then each replica; ``intent`` alone when
            neither was read.
        routes: Row labels naming the owning team, e.g. ``echo: prefix /echo, stage=canary`` (with the virtual host
            and order added where two rows would read alike).
        resources: The Gloo resource (``ns/name``) of each row.
        states: The route-level state of each row (as the drift rows say).
        causes: The route-level cause of each row.
        intent: What the intent does for each row's route.
        cells: ``cells[row][column]``.
        roles: Each row's role (:data:`ROLE_WORDS`, ``""`` for none).
        envoy: Each row's Envoy identity, ``<virtualHost> #<order> <match>``.
    """

    sources: list[str]
    routes: list[str]
    resources: list[str]
    states: list[str]
    causes: list[str]
    intent: list[str | None]
    cells: list[list[DriftCell]]
    roles: list[str] = field(default_factory=list)
    envoy: list[str] = field(default_factory=list)

    def detail(self, row: int, column: int | None = None) -> str:
        """The text shown when a row (or one cell) is selected.

        Args:
            row: Row index.
            column: Column index, or None for the whole row.

        Returns:
            Route, resource, state and cause, and each source's action (or the one cell's).
        """
        lines = [f"route: {self.routes[row]}", f"resource: {self.resources[row] or '?'}",
                 f"intent: {self.intent[row] or '(absent)'}"]
        if self.envoy:
            lines.insert(1, f"envoy route: {self.envoy[row]}")
        role = self.roles[row] if self.roles else ""
        if role:
            lines.insert(1, f"role: {ROLE_WORDS[role]}: {_role_meaning(role)}")
        columns = range(len(self.sources)) if column is None else [column]
        if column is None:
            lines.append(f"state: {self.states[row]}" + (f" - {self.causes[row]}" if self.causes[row] else ""))
        for c in columns:
            cell = self.cells[row][c]
            lines.append(f"{self.sources[c]}: {cell.state}: {cell.action or '(absent)'}"
                         + (f" - {cell.cause}" if cell.cause else ""))
        return "\n".join(lines)

    def frame(self) -> pd.DataFrame:
        """The grid's states as a frame (index: routes, columns: sources)."""
        return pd.DataFrame([[c.state for c in row] for row in self.cells], index=self.routes, columns=self.sources)


def drift_grid(rows: Sequence[DriftRow], roles: Mapping[Any, str] | None = None) -> DriftGrid:
    """Lay drift rows out as routes x sources (each cell as drift classified it: nothing is re-derived here).

    Args:
        rows: ``Inspection.drift`` (see :func:`gloo_nb.analysis.drift.drift_rows`).
        roles: More roles by route identity (``Headline.roles``: e.g. a route served to a missing cluster is
            ``broken``); a row's own :attr:`~gloo_nb.analysis.drift.DriftRow.role` wins.

    Returns:
        The grid, rows in the drift rows' order; a column a row has no cell for is ``absent``.
    """
    sources: dict[str, None] = {}
    for r in rows:
        sources.update(dict.fromkeys(s for s in r.cells if s != "intent"))
    columns = list(sources) or ["intent"]
    # served first, then replicas in name order.
    columns.sort(key=lambda s: (s != "served", s))
    absent = SourceCell(None, "absent", "")

    extra = roles or {}

    def role_of(r: DriftRow) -> str:
        return r.role or extra.get(r.id, "")

    def cell(r: DriftRow, c: SourceCell) -> DriftCell:
        # The role shows where the route's own state does (a lagging replica of a replaced route stays lagging).
        own = role_of(r)
        role = own if own and c.state in (r.state, _ROLE_STATE.get(own)) else ""
        return DriftCell(c.state, ROLE_COLOURS[role] if role else STATE_COLOURS[c.state], c.action, c.cause, role)

    cells = [[cell(r, r.cells.get(src, absent)) for src in columns] for r in rows]
    return DriftGrid(columns, team_labels(rows), [r.resource for r in rows], [r.state for r in rows],
                     [r.cause for r in rows], [r.by_source.get("intent") for r in rows], cells,
                     [role_of(r) for r in rows], [r.label() for r in rows])


_ROLE_STATE = {"cause": "blocked-by-last-known-good", "blocked": "blocked-by-last-known-good",
               "replaced": "replaced-by-fallback"}


def _role_meaning(role: str) -> str:
    return ROLE_MEANINGS[role].partition(": ")[2] or ROLE_MEANINGS[role]


def team_labels(rows: Sequence[DriftRow]) -> list[str]:
    """Each drift row's label naming its owning team (``foxtrot: prefix /foxtrot``), unique among the rows.

    Args:
        rows: Drift rows.

    Returns:
        :meth:`DriftRow.team_label` per row; where two rows would read alike, each gets its Envoy identity
        (``(gloo-system_app #3)``) appended.
    """
    labels = [r.team_label() for r in rows]
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return [label if counts[label] == 1 else f"{label} ({r.virtual_host} #{r.order})"
            for label, r in zip(labels, rows, strict=True)]


def legend() -> list[tuple[str, str, str]]:
    """The legend: ``(state, colour, meaning)`` for every state, in :data:`STATES` order then ``absent``."""
    return [(s, STATE_COLOURS[s], STATE_MEANINGS[s]) for s in (*STATES, "absent")]


# --- invalid routes -----------------------------------------------------------------------------


def invalid_routes_frame(findings: pd.DataFrame, drift: Sequence[DriftRow],
                         routes: pd.DataFrame | None = None, clusters: Collection[str] | None = None) -> pd.DataFrame:
    """Every finding with the routes it affects and its effect on traffic.

    A finding's cause text is ``<origin>: <message>`` in the drift rows' causes. Effect rules, first
    that applies:

    1. ``fallback <status>``: a drift row in ``replaced-by-fallback`` whose cause names the finding, or
       a drift row of the finding's origin resource whose reference action (``served``, else ``intent``)
       is the fallback while a replica lags (one output row per such route; the status from that
       action, e.g. ``fallback 404``).
    2. ``blocked change``: a drift row in ``blocked-by-last-known-good`` whose cause names the finding;
       this includes other teams' routes held back by it (``routeResource`` says whose).
    3. ``503 missing cluster``: a route of the finding's origin resource that the reference source
       (``served`` when present in ``routes``, else ``intent``) sends to a cluster not in ``clusters``
       (Envoy answers 503 for a cluster it does not have).
    4. ``dropped``: the message is Gloo's delegation prefix mismatch (``must begin with the prefix``):
       the route is not in the configuration, requests fall through to later routes or a plain 404.
    5. ``none``: no effect on traffic was found (a warning with nothing replaced, blocked or missing).

    Args:
        findings: ``Inspection.findings_frame()``.
        drift: ``Inspection.drift``.
        routes: ``Inspection.routes_frame()`` (for rule 3).
        clusters: Cluster names that exist (for rule 3; without it rule 3 is skipped).

    Returns:
        Columns :data:`INVALID_COLUMNS`; ``route`` names the affected route's owning team (:func:`team_labels`,
        e.g. ``foxtrot: prefix /foxtrot``) and is ``""`` when no route is known; ``causeTeam`` and ``affectedTeam``
        say who causes it and who is hurt (they differ on a row where one team's problem blocks another's change).
    """
    out: list[tuple[Any, ...]] = []
    ref_routes: list[tuple[str, str, list[str]]] = []
    if routes is not None and clusters is not None and len(routes):
        ref = "served" if (routes["source"] == "served").any() else "intent"
        mine = routes[routes["source"] == ref]
        ref_routes = [(res, f"{res.partition('/')[0] if '/' in res else vh}: {match}", action_clusters(action))
                      for res, vh, match, action
                      in zip(mine["resource"], mine["virtualHost"], mine["match"], mine["actionJson"], strict=True)]
    known = set(clusters or ()) | {FALLBACK_CLUSTER}
    labels = dict(zip((d.id for d in drift), team_labels(drift), strict=True))
    for f in findings.itertuples(index=False):
        base = (f.team, f.severity, f.resource, f.kind, f.origin)
        text = f"{f.origin}: {f.message}"
        hits: list[tuple[str, str, str, str]] = []
        for d in drift:
            ref_cell = d.reference_cell
            if (d.state == "replaced-by-fallback" and text in d.cause) or (
                    d.resource == f.origin and ref_cell.replaced):
                effect = ref_cell.action if ref_cell.replaced and ref_cell.action else "fallback"
                hits.append((labels[d.id], d.resource, effect, "replaced"))
                continue
            if d.state == "blocked-by-last-known-good" and text in d.cause:
                hits.append((labels[d.id], d.resource, "blocked change", d.role or "blocked"))
        if not hits:
            hits = [(label, res, "503 missing cluster", "broken") for res, label, names in ref_routes
                    if res == f.origin and any(n not in known for n in names)]
        if not hits:
            effect = "dropped" if "must begin with the prefix" in f.message else "none"
            hits = [("", "", effect, "")]
        out.extend((*base, route, route_res, f.message, effect, f.team,
                    route_res.partition("/")[0] if "/" in route_res else "", role)
                   for route, route_res, effect, role in hits)
    return pd.DataFrame.from_records(out, columns=list(INVALID_COLUMNS))


def filter_sort(frame: pd.DataFrame, *, filters: Mapping[str, str | None] | None = None, sort_by: str | None = None,
                ascending: bool = True) -> pd.DataFrame:
    """Filter a frame on exact column values and sort it (stable), for the table widgets.

    Args:
        frame: The frame.
        filters: Column -> wanted value; None or ``""`` means any.
        sort_by: Column to sort by, or None to keep the order.
        ascending: Sort direction.

    Returns:
        A new frame with a fresh index.

    Raises:
        KeyError: A column is not in the frame.
    """
    out = frame
    for column, value in (filters or {}).items():
        if column not in frame.columns:
            raise KeyError(f"no column {column!r}; columns are {', '.join(frame.columns)}")
        if value not in (None, ""):
            out = out[out[column] == value]
    if sort_by:
        if sort_by not in frame.columns:
            raise KeyError(f"no column {sort_by!r}; columns are {', '.join(frame.columns)}")
        out = out.sort_values(sort_by, ascending=ascending, kind="stable")
    return out.reset_index(drop=True)


# --- traffic weights ----------------------------------------------------------------------------


class ProbeLike(Protocol):
    """A traffic probe's result (``gloo_nb.app.probe.ProbeResult`` has it)."""

    @property
    def shares(self) -> list[Share]: ...  # noqa: D102


UNMATCHED = "unmatched: "
"""Prefix of an observed answer that came from no destination (:func:`weights_frame`), e.g. ``unmatched: 503 x``."""


def _words(text: str) -> set[str]:
    # Words at every separator, hyphen, colon and underscore included (Gloo names a kube upstream's cluster
    # ``<name>_<namespace>``): http-echo's ``version:foxtrot-v1`` names the
    # subset value ``v1`` only as the last part of a hyphenated word.
    return {x for x in re.split(r"[^A-Za-z0-9.]+", text) if x}


def _marks(destinations: Sequence[str]) -> dict[str, set[str]]:
    """What sets each destination apart: its subset values, else the words of its cluster name no other has."""
    marks: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    for d in destinations:
        m = re.search(r"\{(.*)\}$", d)
        if m:
            marks[d] = set().union(*(_words(kv.partition("=")[2]) for kv in m[1].split(",")))
        names[d] = _words(d.split(" {", 1)[0])
    for d in destinations:
        if not marks.get(d):
            others = set().union(*(names[o] for o in destinations if o != d)) if len(destinations) > 1 else set()
            marks[d] = names[d] - others if others else set()
    return marks


def answer_destination(answer: str, destinations: Iterable[str], answers: Mapping[str, str] | None = None) -> str:
    """Which destination a probe answer came from.

    Rule: ``answers`` (an explicit answer -> destination map) first; else a ``2xx`` answer belongs to the one
    destination whose marks all appear as words of the answer, where a destination's marks are its subset
    values (``{version=v1}`` -> ``v1``) or, without a subset, the words of its cluster name that no other
    destination's name has (``echo-v1_gloo-system`` beside ``echo-v2_gloo-system`` -> ``v1``). Words split
    at hyphens and colons too, so ``200 version:foxtrot-v1`` names ``v1``. Any other answer (an error, no
    destination named, or two named) stays as it is.

    Args:
        answer: A probe answer (``<status> <body>``).
        destinations: Destination labels (:func:`destination_label`).
        answers: Known answers of each destination, e.g. read from the pods behind each subset.

    Returns:
        The destination, or the answer itself.
    """
    dests = list(destinations)
    if answers and answer in answers and answers[answer] in dests:
        return answers[answer]
    if not answer[:1] == "2":
        return answer
    words = _words(answer.partition(" ")[2])
    found = [d for d, marks in _marks(dests).items() if marks and marks <= words]
    return found[0] if len(found) == 1 else answer


WEIGHT_COLUMNS = ("route", "resource", "destination", "source", "share", "low", "high")


def weights_frame(routes: pd.DataFrame, observed: Mapping[str, ProbeLike] | None = None,
                  answers: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Per route with weighted destinations (in any source), each destination's share per source.

    Args:
        routes: ``Inspection.routes_frame()``.
        observed: Probe results by route label (``<virtualHost> #<order> <match>``, as :func:`weight_routes`
            names them); their answers are mapped to destinations with :func:`answer_destination`; an answer
            that maps to none is its own destination row, named ``unmatched: <answer>`` (:data:`UNMATCHED`).
        answers: Known answer -> destination (passed to :func:`answer_destination`).

    Returns:
        Long frame, columns :data:`WEIGHT_COLUMNS`: ``source`` is ``intent``, ``served``, a replica or
        ``observed``; ``low``/``high`` are the Wilson 95 % bounds for observed rows, NaN otherwise. A
        destination a source lacks gets share 0 there, so every source lists every destination.
    """
    if not len(routes):
        return pd.DataFrame(columns=list(WEIGHT_COLUMNS))
    # A route is the same across sources by its identity (RouteId: virtual host and match); the label uses
    # the first source's order and match summary (the intent's when the intent has the route).
    ids = pd.Series([route_id(vh, m) for vh, m in zip(routes["virtualHost"], routes["matchJson"], strict=True)],
                    index=routes.index)
    weighted = [("weightedClusters" in a) for a in routes["actionJson"]]
    keys = list(dict.fromkeys(ids[weighted]))
    out: list[tuple[Any, ...]] = []
    for key in keys:
        mine = routes[ids == key]
        label = f"{key.virtual_host} #{int(mine['order'].iloc[0])} {mine['match'].iloc[0]}"
        resource = next((r for r in mine["resource"] if r), "")
        per_source = {src: destination_shares(a) for src, a in zip(mine["source"], mine["actionJson"], strict=True)}
        dests = list(dict.fromkeys(d for shares in per_source.values() for d in shares))
        for src, shares in per_source.items():
            out.extend((label, resource, d, src, shares.get(d, 0.0), float("nan"), float("nan")) for d in dests)
        probe = (observed or {}).get(label)
        if probe is not None:
            seen: dict[str, Share] = {}
            for s in probe.shares:
                d = answer_destination(s.answer, dests, answers)
                if d not in dests:
                    d = UNMATCHED + d
                if d in seen:  # two answers for one destination: add counts, bounds become the wider ones
                    p = seen[d]
                    seen[d] = Share(d, p.count + s.count, p.total, (p.count + s.count) / p.total, min(p.low, s.low),
                                    max(p.high, s.high))
                else:
                    seen[d] = Share(d, s.count, s.total, s.share, s.low, s.high)
            for d in [*dests, *(x for x in seen if x not in dests)]:
                s_ = seen.get(d)
                out.append((label, resource, d, "observed", s_.share if s_ else 0.0, s_.low if s_ else float("nan"),
                            s_.high if s_ else float("nan")))
    return pd.DataFrame.from_records(out, columns=list(WEIGHT_COLUMNS))


def weight_routes(routes: pd.DataFrame) -> list[str]:
    """The labels of the routes :func:`weights_frame` covers, in order.

    Args:
        routes: ``Inspection.routes_frame()``.

    Returns:
        ``<virtualHost> #<order> <match>`` per route with weighted destinations in some source.
    """
    frame = weights_frame(routes)
    return list(dict.fromkeys(frame["route"])) if len(frame) else []


def weights_table(frame: pd.DataFrame, route: str, *, blank: str | None = None) -> pd.DataFrame:
    """One route's shares as destinations x sources (percent).

    Args:
        frame: :func:`weights_frame`'s result.
        route: A route label.
        blank: What to show where a source has no value (an unmatched answer has no configured share); None
            keeps NaN (numbers only).

    Returns:
        Index: destinations; columns: sources in first-seen order; values: percent.
    """
    mine = frame[frame["route"] == route]
    table = mine.pivot_table(index="destination", columns="source", values="share", aggfunc="sum", sort=False)
    table = (table[list(dict.fromkeys(mine["source"]))] * 100).round(1)
    if blank is None:
        return table
    return table.astype(object).where(table.notna(), blank)


# --- try a request ------------------------------------------------------------------------------


TRY_COLUMNS = ("source", "virtualHost", "order", "name", "match", "action")


def parse_header_lines(text: str) -> dict[str, str]:
    """Read headers written one a line as ``name: value`` (or ``name=value``).

    Args:
        text: The lines; blank lines are skipped.

    Returns:
        Lowercase name -> value.

    Raises:
        ValueError: A line has no name or no separator.
    """
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.match(r"\s*([^:=\s][^:=]*?)\s*[:=]\s*(.*?)\s*$", line)
        if m is None:
            raise ValueError(f"header line {line.strip()!r}: write it as name: value")
        headers[m[1].lower()] = m[2]
    return headers


def try_request(rows: Iterable[RowLike], request: Request | Mapping[str, Any]) -> pd.DataFrame:
    """Which route each source would use for a request (Envoy's first match, as ``gloo-nb route``).

    Args:
        rows: ``Inspection.rows`` (route rows of every source).
        request: A :class:`~gloo_nb.analysis.matching.Request` or request document.

    Returns:
        One row per source in first-seen order, columns :data:`TRY_COLUMNS`; a source where nothing
        matches has order -1, match ``no match`` and action ``404 (no route)``.
    """
    by_source: dict[str, list[RowLike]] = {}
    for r in rows:
        by_source.setdefault(r.source, []).append(r)
    out: list[tuple[Any, ...]] = []
    for source, mine in by_source.items():
        m = match_request(mine, request)
        if m is None:
            out.append((source, "", -1, "", "no match", "404 (no route)"))
            continue
        row = next(r for r in mine if (r.route_configuration, r.virtual_host, r.order)
                   == (m.route_configuration, m.virtual_host, m.order))
        out.append((source, m.virtual_host, m.order, m.name, row.match_summary, row.action_summary))
    return pd.DataFrame.from_records(out, columns=list(TRY_COLUMNS))
