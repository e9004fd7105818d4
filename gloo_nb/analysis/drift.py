"""Drift: what Kubernetes asks for (intent) against what the control plane serves and each Envoy applied.

Routes are identified by :class:`~gloo_nb.translate.routes.RouteId` (virtual host and match: Gloo 1.3 routes
have no names, and an order can differ between sources while a change is blocked). Every route seen in any
source gets one typed :class:`DriftRow` (identity, owner, state, cause, and per source a :class:`SourceCell` with
its action, state and cause); the frames, the ``inspect --json`` rows and the widgets are views of these rows, so
nothing downstream re-derives a state from text. A route's state:

- ``in-sync``: intent, served and every replica agree.
- ``replaced-by-fallback``: served, but pointed at Gloo's fallback cluster (``replaceInvalidRoutes``).
- ``blocked-by-last-known-good``: intent differs from what is served and the control plane withholds
  the snapshot (Gloo 1.3's ValidateStrict, or errors in current); the cause names the resources and
  Gloo messages that block it.
- ``pending``: intent differs from what is served and nothing blocks it (not translated yet).
- ``rejected-by-envoy``: a replica differs from what is served and has rejected route updates.
- ``replica-lagging``: a replica differs from what is served without having rejected anything.
- ``unmodelled``: intent, served and every replica route alike (match and destination), but the route or its
  virtual host uses features whose effect gloo_nb does not predict (``Translation.unmodelled``): gloo_nb
  cannot say that the rest of the route is in sync, so it never says ``in-sync``. A routing difference still
  gets its own state (``pending``, ``blocked-by-last-known-good``...): the routing is modelled. Served and
  applied are compared with each other as for any route. A route whose served or applied copy holds ``Any``
  configuration gloo_nb cannot decode (``RouteRow.opaque``, Gloo's own filters) is ``unmodelled`` too, the cause
  naming those types: served and applied were compared without their insides.

What "differs" means (one rule, :func:`differs`, for the route's state and every cell; the timeline's moments go
through :func:`drift_rows` too, :func:`gloo_nb.analysis.inspection.inspection_at`):

- intent against served (or against a replica when served was not read): by routing only, the action summary
  (destinations and weights, direct response, redirect). The intent is gloo_nb's prediction, which does not
  reproduce every Envoy field Gloo writes: comparing more would make false drift on a real cluster.
- a replica against served: the whole route except its match. Both are Envoy's own configuration, so the action
  summary and the fingerprint (:attr:`gloo_nb.translate.routes.RouteRow.fingerprint`, a canonical digest of every
  other field: retries, timeouts, header manipulation, CORS, ``typedPerFilterConfig``...) must both agree; a
  replica that kept an old option is ``replica-lagging`` (``rejected-by-envoy`` when it rejected updates) even when
  its destination is the served one, and the cause names the route fields that differ (``route.retryPolicy``,
  ``requestHeadersToAdd``...). A row without a fingerprint (a journal written before fingerprints) compares by its
  action summary only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gloo_nb.analysis.rows import RouteRowLike as RouteLike
from gloo_nb.translate.routes import RouteId, route_id

STATES = ("in-sync", "pending", "blocked-by-last-known-good", "rejected-by-envoy", "replica-lagging",
          "replaced-by-fallback", "unmodelled")
"""Drift states, as the ``inspect`` contract names them."""


RouteKey = RouteId
"""A route's identity across sources (:class:`gloo_nb.translate.routes.RouteId`)."""


def route_key(row: RouteLike) -> RouteKey:
    """The identity of a route across sources.

    Args:
        row: A route row.

    Returns:
        Its virtual host and canonical match.
    """
    return route_id(row.virtual_host, row.match)


@dataclass(frozen=True, slots=True)
class DriftInputs:
    """Facts about the sources that are not in the route rows.

    Attributes:
        blocked: Whether the control plane withholds the intended snapshot (last known good).
        block_causes: ``ns/name: <Gloo message>`` of what blocks it.
        rejected: Per replica node id, why it is taken as having rejected route updates (empty
            when it has not).
        resources: The Gloo resource (``ns/name``) each route comes from, by route key.
        route_causes: Per route key, the finding that explains a replaced route.
        unmodelled: Per route key, what gloo_nb does not predict of the route (its features, e.g.
            ``retries, CORS``); such a route is ``unmodelled`` rather than ``in-sync``.
        cause_resources: The resources (``ns/name``) whose own content keeps the last good snapshot (the block
            causes' origins): their blocked routes are the ``cause``, the others' the ``blocked`` victims.
    """

    blocked: bool = False
    block_causes: Sequence[str] = ()
    rejected: Mapping[str, str] = field(default_factory=dict)
    resources: Mapping[RouteKey, str] = field(default_factory=dict)
    route_causes: Mapping[RouteKey, str] = field(default_factory=dict)
    unmodelled: Mapping[RouteKey, str] = field(default_factory=dict)
    cause_resources: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SourceCell:
    """What one source does for one route, and the state of that source's cell.

    Attributes:
        action: The source's action summary (None when the source lacks the route).
        state: A drift state (:data:`STATES`) or ``absent`` (neither this source nor the reference has the route).
        cause: Why the cell is in its state (``""`` when in sync or absent).
        replaced: Whether this source points the route at Gloo's fallback cluster (``RouteRow.replaced``).
    """

    action: str | None
    state: str
    cause: str
    replaced: bool = False


_DRIFT_KEYS = ("resource", "route", "state", "cause", "bySource")


@dataclass(frozen=True)
class DriftRow(Mapping[str, Any]):
    """One route seen in any source, classified: the typed row every drift view reads.

    It is also a read-only mapping with the keys of the ``inspect --json`` ``drift`` rows (:meth:`as_json`), so a
    caller that reads ``row["state"]`` keeps working.

    Attributes:
        id: The route's identity (virtual host and match).
        resource: The Gloo resource (``ns/name``) that owns the route (``""`` when unknown).
        order: The route's position (the served one's, else the intent's, else the first source's).
        match: The match summary, e.g. ``prefix /echo, stage=canary``.
        state: The route's drift state.
        cause: Why (``""`` when in sync).
        reference: The source the others are compared with: ``served`` when read, else ``intent``.
        cells: Per source (``intent``, ``served`` when read, then each replica), what it does and its state.
        role: What the route is in the problem, so culprit and victim never look alike
            (:data:`gloo_nb.analysis.headline.ROLES`): ``cause`` (blocked, and its own resource causes the block),
            ``blocked`` (a victim: its change is held back by another resource), ``replaced`` (answered by Gloo's
            fallback); ``""`` otherwise. Not part of the ``inspect --json`` row.
    """

    id: RouteId
    resource: str
    order: int
    match: str
    state: str
    cause: str
    reference: str
    cells: Mapping[str, SourceCell]
    role: str = ""

    @property
    def team(self) -> str:
        """The owning team: the owning resource's namespace (``""`` when unknown)."""
        return self.resource.partition("/")[0] if "/" in self.resource else ""

    def team_label(self) -> str:
        """``<team>: <match>``, e.g. ``foxtrot: prefix /foxtrot`` (the virtual host stands in for an unknown owner)."""
        return f"{self.team or self.virtual_host}: {self.match}"

    @property
    def virtual_host(self) -> str:
        """The route's Envoy virtual host."""
        return self.id.virtual_host

    @property
    def by_source(self) -> dict[str, str | None]:
        """The action summary per source (None where the source lacks the route)."""
        return {src: cell.action for src, cell in self.cells.items()}

    @property
    def reference_cell(self) -> SourceCell:
        """The reference source's cell."""
        return self.cells[self.reference]

    def label(self) -> str:
        """``<virtualHost> #<order> <match>``, how the views name a route."""
        return f"{self.virtual_host} #{self.order} {self.match}"

    def as_json(self) -> dict[str, Any]:
        """The row of the ``inspect --json`` ``drift`` list.

        Returns:
            ``resource``, ``route`` (``virtualHost``, ``order``, ``match``), ``state``, ``cause``, ``bySource``.
        """
        return {key: self[key] for key in _DRIFT_KEYS}

    def __getitem__(self, key: str) -> Any:
        if key == "route":
            return {"virtualHost": self.virtual_host, "order": self.order, "match": self.match}
        if key == "bySource":
            return self.by_source
        if key in ("resource", "state", "cause"):
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(_DRIFT_KEYS)

    def __len__(self) -> int:
        return len(_DRIFT_KEYS)


def rejection_text(subscription: str, count: int, version: str) -> str:
    """Why a replica is taken as having rejected updates of one xDS subscription (the one wording).

    Args:
        subscription: The subscription, e.g. ``rds/listener-__-8080-routes`` or ``RouteConfiguration``.
        count: How many updates it rejected.
        version: The version it still holds (``""`` when unknown).

    Returns:
        e.g. ``rds/listener-__-8080-routes rejected 1 update(s), still at version 3``.
    """
    return f"{subscription} rejected {count} update(s), still at version {version or '?'}"


def _fingerprint(row: RouteLike) -> str:
    # Stand-in rows (tests) and rows of old journals have none: "" means "compare by routing only".
    return getattr(row, "fingerprint", "") or ""


def _settings(row: RouteLike) -> Mapping[str, str]:
    return getattr(row, "settings", None) or {}


def _opaque(row: RouteLike) -> tuple[str, ...]:
    return tuple(getattr(row, "opaque", ()) or ())


def differs(row: RouteLike | None, reference: RouteLike | None, *, full: bool) -> bool:
    """Whether a source's route differs from the reference's: THE rule of drift (module docstring).

    Args:
        row: The source's route (None when the source lacks it).
        reference: The reference's route (None when it lacks it).
        full: Compare the whole route except its match (a replica against served: both are Envoy's), not only
            its routing (the intent, gloo_nb's prediction, against anything).

    Returns:
        True when exactly one has the route, when their action summaries differ, or (``full``) when both have a
        fingerprint and those differ.
    """
    if row is None or reference is None:
        return (row is None) != (reference is None)
    if row.action_summary != reference.action_summary:
        return True
    if not full:
        return False
    mine, theirs = _fingerprint(row), _fingerprint(reference)
    return bool(mine and theirs and mine != theirs)


def differing_settings(row: RouteLike, reference: RouteLike) -> list[str]:
    """The route fields whose values differ between two rows with different fingerprints.

    Args:
        row: A source's route.
        reference: The reference's route.

    Returns:
        Proto-JSON field names, sorted (the route action's as ``route.<field>``, e.g. ``route.retryPolicy``);
        empty when the rows carry no per-field digests.
    """
    mine, theirs = _settings(row), _settings(reference)
    fields = [k for k in {*mine, *theirs} if mine.get(k) != theirs.get(k)]
    if row.name != reference.name:
        fields.append("name")  # in the fingerprint, not in the settings: the row carries it
    return sorted(fields)


def _other_settings(row: RouteLike, reference: RouteLike) -> str:
    fields = differing_settings(row, reference)
    return "other route settings differ" + (f" ({', '.join(fields)})" if fields else "")


def drift_rows(intent: Sequence[RouteLike], served: Sequence[RouteLike] | None,
               applied: Mapping[str, Sequence[RouteLike]], facts: DriftInputs) -> list[DriftRow]:
    """Classify every route seen in any source, and each source's cell.

    Args:
        intent: Routes of the translation of what Kubernetes holds.
        served: Routes the control plane serves (None when the xDS stream was not read).
        applied: Routes each replica applied, by node id.
        facts: What else is known (blocking, rejections, owning resources).

    Returns:
        One row per route, sorted by virtual host, order and match.
    """
    by_source: dict[str, dict[RouteKey, RouteLike]] = {"intent": {route_key(r): r for r in intent}}
    if served is not None:
        by_source["served"] = {route_key(r): r for r in served}
    for node, rows in applied.items():
        by_source[node] = {route_key(r): r for r in rows}
    keys: dict[RouteKey, None] = {}
    for rows_by_key in by_source.values():
        keys.update(dict.fromkeys(rows_by_key))
    reference = "served" if served is not None else "intent"
    out: list[DriftRow] = []
    for key in keys:
        seen = {src: rows.get(key) for src, rows in by_source.items()}
        actions = {src: (row.action_summary if row is not None else None) for src, row in seen.items()}
        any_row = next(r for r in (seen.get("served"), seen["intent"], *seen.values()) if r is not None)
        ref_row = seen.get(reference)
        # Replicas against served in full; the intent (and replicas when served was not read) by routing only.
        differing = {src: differs(row, ref_row, full=reference == "served" and src != "intent")
                     for src, row in seen.items() if src != reference}
        state, cause, rejecting = _classify(key, seen, differing, ref_row, served is not None, facts)
        cells = _cells(seen, actions, differing, reference, state, cause, rejecting, facts)
        resource = facts.resources.get(key, "")
        out.append(DriftRow(key, resource, any_row.order, any_row.match_summary, state, cause, reference, cells,
                            _role(state, resource, facts)))
    out.sort(key=lambda r: (r.virtual_host, r.order, r.match))
    return out


def _classify(key: RouteKey, seen: Mapping[str, RouteLike | None], differing: Mapping[str, bool],
              reference: RouteLike | None, have_served: bool,
              facts: DriftInputs) -> tuple[str, str, tuple[str, ...]]:
    if have_served and differing["intent"]:
        if facts.blocked:
            return "blocked-by-last-known-good", "; ".join(facts.block_causes), ()
        return "pending", "the control plane has not served the intended configuration yet", ()
    lagging = [src for src, d in differing.items() if src not in ("intent", "served") and d]
    rejected = tuple(src for src in lagging if facts.rejected.get(src))
    if rejected:
        return "rejected-by-envoy", "; ".join(f"{src}: {facts.rejected[src]}" for src in rejected), rejected
    if lagging:
        # Without what the control plane serves (the stream not read, the control plane down), the replicas are
        # compared with the intent: say so rather than name a served configuration nobody read.
        against = " not yet at the served configuration" if have_served else \
            " not at the intended configuration (what the control plane serves was not read)"
        return "replica-lagging", ", ".join(lagging) + against + _same_destination(seen, lagging, reference), ()
    if reference is not None and reference.replaced:
        return "replaced-by-fallback", facts.route_causes.get(key, "the route is invalid"), ()
    features = facts.unmodelled.get(key)
    opaque = sorted({t for src, row in seen.items() if src != "intent" and row is not None for t in _opaque(row)})
    if features or opaque:
        parts = [f"gloo_nb does not predict: {features}"] if features else []
        if opaque:
            # Their bytes cannot be decoded, so served and applied were compared by these types only.
            parts.append(f"served and applied compared without the insides of: {', '.join(opaque)}")
        return "unmodelled", "routing in sync; " + "; ".join(parts), ()
    return "in-sync", "", ()


def _role(state: str, resource: str, facts: DriftInputs) -> str:
    # Gloo 1.3 keeps the last good snapshot for everyone (spec: ValidateStrict): the resource whose own findings
    # block is the cause; every other route whose change is withheld is a victim.
    if state == "blocked-by-last-known-good":
        return "cause" if resource and resource in facts.cause_resources else "blocked"
    if state == "replaced-by-fallback":
        return "replaced"
    return ""


def _same_destination(seen: Mapping[str, RouteLike | None], lagging: Sequence[str], reference: RouteLike | None) -> str:
    # When every lagging replica routes as served, say so: what differs is the route's other settings.
    if reference is None:
        return ""
    rows = [seen[src] for src in lagging]
    if any(r is None or r.action_summary != reference.action_summary for r in rows):
        return ""
    fields = sorted({f for r in rows if r is not None for f in differing_settings(r, reference)})
    return " (same destination; other route settings differ" + (f": {', '.join(fields)})" if fields else ")")


_REFERENCE_STATES = ("pending", "blocked-by-last-known-good", "replaced-by-fallback", "unmodelled")


def _cells(seen: Mapping[str, RouteLike | None], actions: Mapping[str, str | None], differing: Mapping[str, bool],
           reference: str, state: str, cause: str, rejecting: Sequence[str],
           facts: DriftInputs) -> dict[str, SourceCell]:
    """Each source's cell.

    Rules: the reference's cell has the route's state when that state is about served vs intent (``pending``,
    ``blocked-by-last-known-good``) or about the reference route itself (``replaced-by-fallback``, also when the
    route's state is about a replica but the reference is replaced), else ``in-sync`` (``absent`` when the
    reference lacks the route). A replica (or the intent) that does not differ from the reference (:func:`differs`,
    as for the route's state) shares the reference's state (a replica faithfully serving a blocked snapshot is
    blocked too); a replica that differs is ``rejected-by-envoy`` when it is one the route's state names as
    rejecting, else ``replica-lagging``.
    """
    ref_row = seen.get(reference)
    ref_action = actions.get(reference)
    if state in _REFERENCE_STATES:
        ref_state = state
    elif ref_row is not None and ref_row.replaced:
        ref_state = "replaced-by-fallback"
    else:
        ref_state = "in-sync" if ref_action is not None else "absent"
    cells: dict[str, SourceCell] = {}
    for src, row in seen.items():
        action = actions[src]
        if src in ("served", "intent") or not differing.get(src, False):
            cell_state = ref_state
        elif state == "rejected-by-envoy" and src in rejecting:
            cell_state = "rejected-by-envoy"
        else:
            cell_state = "replica-lagging"
        if cell_state in ("in-sync", "absent"):
            cell_cause = ""
        elif cell_state == "replica-lagging":
            if row is not None and ref_row is not None and action == ref_action:
                cell_cause = f"{src} routes to {action} as {reference} does, but {_other_settings(row, ref_row)}"
            else:
                cell_cause = f"{src} has {action or '(absent)'}, {reference} has {ref_action or '(absent)'}"
        elif cell_state == "replaced-by-fallback" and state != cell_state:
            cell_cause = "Gloo replaced the invalid route by its fallback response"
        elif cell_state == "rejected-by-envoy":
            cell_cause = f"{src}: {facts.rejected[src]}"
        else:
            cell_cause = cause
        cells[src] = SourceCell(action, cell_state, cell_cause, bool(row is not None and row.replaced))
    return cells
