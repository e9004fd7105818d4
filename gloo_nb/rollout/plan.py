"""The two-phase canary plan: the target, the managed routes of a RouteTable, and the steps.

A rollout manages exactly two routes of the team's RouteTable and leaves everything else the team
has in it alone (other routes, options, labels, order):

* the **default route**: one matcher with a path (prefix, exact or regex) and nothing else, going
  to the target Upstream (``routeAction.single`` to it, or ``routeAction.multi`` whose destinations
  are all that Upstream's subsets);
* the **header route**: the same path plus the header matcher ``{name: H, value: V}``, going to
  the canary subset, ordered right before the default route (Gloo keeps a RouteTable's routes in
  the order written, and Envoy takes the first route that matches).

Each step sets the managed routes to one state (:class:`ManagedState`); the state decides the
step's transform, its expectations (what probes prove it) and its place in the order of steps.
Everything here is pure: it reads and returns plain dicts as Kubernetes returns them.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import yaml

from gloo_nb._types import JSON
from gloo_nb.errors import RolloutError, UsageError
from gloo_nb.models.codec import parse_object
from gloo_nb.models.resources import Destination, Matcher, Route, RouteTable

__all__ = [
    "Expectation",
    "expectations_for",
    "Managed",
    "ManagedState",
    "Plan",
    "RolloutError",
    "RolloutTarget",
    "Step",
    "Until",
    "diff_route_table",
    "find_managed",
    "live_state",
    "managed_routes",
    "plan",
    "plan_from_original",
    "set_managed",
    "set_state",
]

Until = Literal["phase1", "phase2", "finish"]
"""Where a rollout stops: after phase 1, after phase 2 (canary at 100 %, proven) or after finish."""

_UNTIL: tuple[Until, ...] = ("phase1", "phase2", "finish")
_API_VERSION = "gateway.solo.io/v1"


def _split_ref(value: str, what: str) -> tuple[str, str]:
    namespace, sep, name = value.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise UsageError(f"{what} must be NAMESPACE/NAME, got {value!r}")
    return namespace, name


@dataclass(frozen=True)
class RolloutTarget:
    """What to roll out.

    Attributes:
        route_table: The team's RouteTable as ``ns/name``.
        upstream: The Upstream as ``ns/name``.
        subset_key: The subset label key (``version``).
        stable: The stable subset's value (``v1``).
        canary: The canary subset's value (``v2``).
        header: The canary header ``(name, value)``.
        weights: The canary's percentages in phase 2 after an implicit 0, strictly increasing, ending at 100.
        until: Where to stop: ``phase1``, ``phase2`` or ``finish``.
        decommission: Delete the stable Deployment(s) after finish.
    """

    route_table: str
    upstream: str
    subset_key: str
    stable: str
    canary: str
    header: tuple[str, str] = ("stage", "canary")
    weights: tuple[int, ...] = (10, 50, 100)
    until: Until = "finish"
    decommission: bool = False

    def __post_init__(self) -> None:
        """Check the target; raise :class:`UsageError` with a one-line message otherwise."""
        _split_ref(self.route_table, "--route-table")
        _split_ref(self.upstream, "--upstream")
        if not self.subset_key or not self.stable or not self.canary:
            raise UsageError("--subset-key, --stable and --canary must not be empty")
        if self.stable == self.canary:
            raise UsageError(f"--stable and --canary are both {self.stable!r}: give two different subset values")
        if len(self.header) != 2 or not self.header[0] or not self.header[1]:
            raise UsageError(f"--header must be NAME=VALUE, got {self.header!r}")
        weights = self.weights
        if (not weights or any(isinstance(w, bool) or not isinstance(w, int) for w in weights)
                or any(not 1 <= w <= 100 for w in weights)
                or any(b <= a for a, b in zip(weights, weights[1:], strict=False)) or weights[-1] != 100):
            raise UsageError(f"--weights must be strictly increasing whole percentages in 1..100 ending at 100 "
                             f"(e.g. 10,50,100), got {','.join(map(str, weights)) or 'nothing'}")
        if self.until not in _UNTIL:
            raise UsageError(f"--until must be one of {', '.join(_UNTIL)}, got {self.until!r}")
        if self.decommission and self.until != "finish":
            raise UsageError("--decommission needs --until finish (the stable subset still serves before that)")

    @classmethod
    def parse(cls, route_table: str, upstream: str, subset_key: str, stable: str, canary: str, *,
              header: str = "stage=canary", weights: str = "10,50,100", until: str = "finish",
              decommission: bool = False) -> RolloutTarget:
        """Build a target from the CLI's and the notebooks' strings (``--header NAME=VALUE``, ``--weights 10,50,100``).

        Args:
            route_table: ``ns/name``.
            upstream: ``ns/name``.
            subset_key: The subset label key.
            stable: The stable subset's value.
            canary: The canary subset's value.
            header: ``NAME=VALUE``.
            weights: Comma-separated canary percentages.
            until: ``phase1``, ``phase2`` or ``finish``.
            decommission: Delete the stable Deployment(s) after finish.

        Returns:
            The target.

        Raises:
            UsageError: A value cannot be read; the message names the flag.
        """
        name, sep, value = header.partition("=")
        if not sep:
            raise UsageError(f"--header must be NAME=VALUE, got {header!r}")
        try:
            percentages = tuple(int(w) for w in weights.split(",")) if weights.strip() else ()
        except ValueError:
            raise UsageError(f"--weights must be whole percentages separated by commas (e.g. 10,50,100), "
                             f"got {weights!r}") from None
        return cls(route_table, upstream, subset_key, stable, canary, header=(name.strip(), value.strip()),
                   weights=percentages, until=cast(Until, until), decommission=decommission)

    @property
    def namespace(self) -> str:
        """The RouteTable's namespace (the team's)."""
        return _split_ref(self.route_table, "--route-table")[0]

    @property
    def name(self) -> str:
        """The RouteTable's name."""
        return _split_ref(self.route_table, "--route-table")[1]

    @property
    def upstream_ref(self) -> tuple[str, str]:
        """The Upstream as ``(namespace, name)``."""
        return _split_ref(self.upstream, "--upstream")

    def as_json(self) -> JSON:
        """Return the target as JSON (for the journal's ``rollout.plan`` event).

        Returns:
            The fields, with Gloo-style lowerCamel names.
        """
        return {"routeTable": self.route_table, "upstream": self.upstream, "subsetKey": self.subset_key,
                "stable": self.stable, "canary": self.canary, "header": list(self.header),
                "weights": list(self.weights), "until": self.until, "decommission": self.decommission}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RolloutTarget:
        """Read a target written by :meth:`as_json`.

        Args:
            data: The JSON object.

        Returns:
            The target.
        """
        header = data.get("header", ("stage", "canary"))
        return cls(route_table=str(data["routeTable"]), upstream=str(data["upstream"]),
                   subset_key=str(data["subsetKey"]), stable=str(data["stable"]), canary=str(data["canary"]),
                   header=(str(header[0]), str(header[1])),
                   weights=tuple(int(w) for w in data.get("weights", (10, 50, 100))),
                   until=data.get("until", "finish"), decommission=bool(data.get("decommission", False)))


# --- the managed routes -----------------------------------------------------------------------


@dataclass(frozen=True)
class ManagedState:
    """A state of the managed routes.

    Attributes:
        header_route: Whether the header route (to the canary) is present.
        default: Where the default route goes: ``stable``, ``canary`` or ``weighted``.
        weight: The canary's weight (percent of 100) when ``weighted``.
    """

    header_route: bool
    default: Literal["stable", "canary", "weighted"]
    weight: int = 0

    @property
    def order(self) -> float | None:
        """The state's place in a rollout (None: a state a rollout does not pass through on its way).

        ``0`` pinned to stable, ``1`` phase 1, ``2 + w/1000`` phase 2 at ``w``, ``3`` finished. A
        weighted default route counts as phase 2 even without the header route (a team that shifted
        weights by hand is past phase 1).
        """
        if self.default == "stable":
            return 1.0 if self.header_route else 0.0
        if self.default == "weighted":
            return 2 + self.weight / 1000
        return None if self.header_route else 3.0

    def describe(self, target: RolloutTarget) -> str:
        """Say the state in words.

        Args:
            target: The rollout target (for subset names).

        Returns:
            E.g. ``header route to version=v2; default route version=v1 50, version=v2 50``.
        """
        k = target.subset_key
        if self.default == "weighted":
            default = f"default route {k}={target.stable} {100 - self.weight}, {k}={target.canary} {self.weight}"
        else:
            default = f"default route to {k}={getattr(target, self.default)}"
        return (f"header route to {k}={target.canary}; " if self.header_route else "no header route; ") + default


@dataclass(frozen=True)
class Managed:
    """Where the managed routes are in one RouteTable spec.

    Attributes:
        default_index: Index of the default route in ``spec.routes``.
        header_index: Index of the header route (None: absent).
        path: The default route's path matcher in words (``prefix /foxtrot``).
        probe_path: A request path the default route matches (None for a regex).
        state: The managed routes' state (None: the default route goes somewhere a rollout does not
            set, e.g. a subset other than stable and canary).
    """

    default_index: int
    header_index: int | None
    path: str
    probe_path: str | None
    state: ManagedState | None


def _typed(target: RolloutTarget, spec: Mapping[str, Any]) -> RouteTable:
    obj = {"apiVersion": _API_VERSION, "kind": "RouteTable",
           "metadata": {"name": target.name, "namespace": target.namespace}, "spec": dict(spec)}
    parsed = parse_object(obj).resource
    if not isinstance(parsed, RouteTable):  # parse_object returns the kind it was given
        raise RolloutError(f"{target.route_table}: not readable as a RouteTable")
    return parsed


def _path_of(route: Route) -> tuple[str, str, bool | None] | None:
    # One matcher with a path and nothing else (an empty matcher list means one `prefix: /`).
    if not route.matchers:
        return ("prefix", "/", None)
    if len(route.matchers) != 1:
        return None
    m = route.matchers[0]
    if m.headers or m.query_parameters or m.methods or m.connect:
        return None
    return _path_key(m)


def _path_key(m: Matcher) -> tuple[str, str, bool | None]:
    if m.exact is not None:
        return ("exact", m.exact, m.case_sensitive)
    if m.regex is not None:
        return ("regex", m.regex, m.case_sensitive)
    return ("prefix", m.prefix if m.prefix is not None else "/", m.case_sensitive)


def _routes_to(dest: Destination, target: RolloutTarget) -> bool:
    if dest.upstream is None:
        return False
    namespace = dest.upstream.namespace or target.namespace  # Gloo's converter defaults it so
    return (namespace, dest.upstream.name) == target.upstream_ref


def _subset_value(dest: Destination, target: RolloutTarget) -> str | None:
    values = dict(dest.subset or {})
    if list(values) != [target.subset_key]:
        return None
    return values[target.subset_key]


def _is_default_candidate(route: Route, target: RolloutTarget) -> bool:
    if _path_of(route) is None or route.route_action is None:
        return False
    if route.redirect_action or route.direct_response_action or route.delegate_action:
        return False
    action = route.route_action
    if action.single is not None:
        return _routes_to(action.single, target)
    if action.multi:
        return all(_routes_to(wd.destination, target) for wd in action.multi)
    return False


def _default_state(route: Route, target: RolloutTarget) -> Literal["stable", "canary"] | tuple[int, int] | None:
    action = route.route_action
    if action is None:
        return None
    if action.single is not None:
        value = _subset_value(action.single, target)
        if value == target.stable:
            return "stable"
        if value == target.canary:
            return "canary"
        return None
    weights: dict[str, int] = {}
    for wd in action.multi or ():
        value = _subset_value(wd.destination, target)
        if value not in (target.stable, target.canary) or value in weights:
            return None
        weights[value] = wd.weight or 0
    if set(weights) != {target.stable, target.canary}:
        return None
    return weights[target.stable], weights[target.canary]


def _where(target: RolloutTarget, index: int | None = None) -> str:
    return f"RouteTable {target.route_table}" + (f" route {index}" if index is not None else "")


def _path_words(path: tuple[str, str, bool | None]) -> str:
    kind, value, case = path
    return f"{kind} {value}" + (" (case-insensitive)" if case is False else "")


def find_managed(target: RolloutTarget, spec: Mapping[str, Any], *, repair: bool = False) -> Managed:
    """Find the default route and the header route of a RouteTable spec.

    Args:
        target: The rollout target.
        spec: The RouteTable's ``spec``.
        repair: Take a header route that goes elsewhere (the seed's ``echo-typo``) as the managed one
            instead of refusing: a rollback replaces it, which is how a team gets out of its own mistake.

    Returns:
        Where the managed routes are and their state.

    Raises:
        RolloutError: No default route, several candidates, or a header route that goes elsewhere
            or comes after the default route; the message names the RouteTable, the route index and
            what to do.
    """
    table = _typed(target, spec)
    candidates = [r for r in table.routes if _is_default_candidate(r, target)]
    if not candidates:
        raise RolloutError(
            f"{_where(target)}: no route goes to upstream {target.upstream} with a single path matcher "
            f"(prefix, exact or regex, no headers): add one, or check --route-table and --upstream")
    if len(candidates) > 1:
        indices = ", ".join(str(r.index) for r in candidates)
        raise RolloutError(
            f"{_where(target)}: routes {indices} could each be the default route to {target.upstream}: "
            f"keep one plain route to it per RouteTable, or roll out from a RouteTable that has one")
    default = candidates[0]
    path = _path_of(default)
    assert path is not None  # a candidate has one
    header_index: int | None = None
    hname, hvalue = target.header
    for route in table.routes:
        if len(route.matchers) != 1:
            continue
        m = route.matchers[0]
        if (m.query_parameters or m.methods or _path_key(m) != path or len(m.headers) != 1
                or m.headers[0].name.lower() != hname.lower()):
            continue
        h = m.headers[0]
        if h.regex or h.invert_match or h.value != hvalue:
            continue
        action = route.route_action
        ok = (action is not None and action.single is not None and _routes_to(action.single, target)
              and _subset_value(action.single, target) == target.canary
              and not (route.redirect_action or route.direct_response_action or route.delegate_action))
        if not ok and not repair:
            raise RolloutError(
                f"{_where(target, route.index)}: matches {_path_words(path)} with header {hname}: {hvalue} but does "
                f"not go to {target.upstream} {target.subset_key}={target.canary} alone: fix or remove it")
        if route.index > default.index:
            raise RolloutError(
                f"{_where(target, route.index)}: the header route comes after the default route "
                f"(route {default.index}), so Envoy never reaches it: move it before, or remove it")
        if header_index is not None:
            raise RolloutError(
                f"{_where(target, route.index)}: a second header route (the first is route {header_index}): "
                f"remove one")
        header_index = route.index
    found = _default_state(default, target)
    state: ManagedState | None
    if found is None:
        state = None
    elif isinstance(found, tuple):
        stable_w, canary_w = found
        state = (ManagedState(header_index is not None, "weighted", round(100 * canary_w / (stable_w + canary_w)))
                 if stable_w + canary_w > 0 else None)
    else:
        state = ManagedState(header_index is not None, found)
    kind, value, _ = path
    probe_path = value if kind != "regex" else None
    return Managed(default.index, header_index, _path_words(path), probe_path, state)


def managed_routes(target: RolloutTarget, spec: Mapping[str, Any]) -> tuple[Any, ...]:
    """The managed routes of a spec, for comparing two specs (what a rollout owns in them).

    Args:
        target: The rollout target.
        spec: A RouteTable spec.

    Returns:
        ``(header route or None, default route, header route index, default route index)``.

    Raises:
        RolloutError: See :func:`find_managed`.
    """
    where = find_managed(target, spec)
    routes = list(spec.get("routes") or [])
    header = routes[where.header_index] if where.header_index is not None else None
    return header, routes[where.default_index], where.header_index, where.default_index


def live_state(target: RolloutTarget, spec: Mapping[str, Any]) -> ManagedState | None:
    """The state of the managed routes of a spec.

    Args:
        target: The rollout target.
        spec: A RouteTable spec.

    Returns:
        The state, or None when the default route goes somewhere a rollout does not set.

    Raises:
        RolloutError: See :func:`find_managed`.
    """
    return find_managed(target, spec).state


def _destinations(route: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    action = route.get("routeAction") or route.get("route_action") or {}
    single = action.get("single")
    if isinstance(single, Mapping):
        return [single]
    multi = action.get("multi") or {}
    return [wd.get("destination") or {} for wd in multi.get("destinations") or []]


def _with_subset(dest: Mapping[str, Any], key: str, value: str) -> JSON:
    # Keep the destination as the team wrote it (upstream ref fields, destinationSpec); set only the subset.
    out = copy.deepcopy(dict(dest))
    out.pop("subset", None)
    out["subset"] = {"values": {key: value}}
    return out


def _route_action(route: Mapping[str, Any], target: RolloutTarget, state: ManagedState) -> JSON:
    template = _destinations(route)[0]
    k = target.subset_key
    if state.default == "weighted":
        return {"multi": {"destinations": [
            {"destination": _with_subset(template, k, target.stable), "weight": 100 - state.weight},
            {"destination": _with_subset(template, k, target.canary), "weight": state.weight},
        ]}}
    value = target.stable if state.default == "stable" else target.canary
    return {"single": _with_subset(template, k, value)}


def _header_route(default: Mapping[str, Any], target: RolloutTarget) -> JSON:
    matchers = default.get("matchers") or [{"prefix": "/"}]
    matcher = copy.deepcopy(dict(matchers[0]))
    matcher["headers"] = [{"name": target.header[0], "value": target.header[1]}]
    route: JSON = {"matchers": [matcher],
                   "routeAction": _route_action(default, target, ManagedState(False, "canary"))}
    if default.get("options"):
        # The canary answers the same requests as the default route: same rewrites, timeouts, retries.
        route["options"] = copy.deepcopy(default["options"])
    return route


def set_state(target: RolloutTarget, spec: Mapping[str, Any], state: ManagedState) -> JSON:
    """Return a copy of ``spec`` with the managed routes in ``state`` (nothing else changes).

    Args:
        target: The rollout target.
        spec: The live RouteTable spec.
        state: The state to set.

    Returns:
        The new spec. An existing header route is kept as written; a new one copies the default
        route's path matcher (and options) and goes right before it; the default route keeps its
        matchers, options and destination fields and gets only a new ``single`` or ``multi``.

    Raises:
        RolloutError: See :func:`find_managed`.
    """
    where = find_managed(target, spec)
    out = copy.deepcopy(dict(spec))
    routes: list[Any] = list(out.get("routes") or [])
    default = dict(routes[where.default_index])
    default.pop("route_action", None)
    default["routeAction"] = _route_action(routes[where.default_index], target, state)
    routes[where.default_index] = default
    if state.header_route and where.header_index is None:
        routes.insert(where.default_index, _header_route(default, target))
    elif not state.header_route and where.header_index is not None:
        del routes[where.header_index]
    out["routes"] = routes
    return out


def set_managed(target: RolloutTarget, spec: Mapping[str, Any], source: Mapping[str, Any]) -> JSON:
    """Return ``spec`` with its managed routes replaced by those of ``source`` (a checkpoint's spec).

    Args:
        target: The rollout target.
        spec: The live spec (its other routes are kept).
        source: The spec whose managed routes to restore.

    Returns:
        The new spec.

    Raises:
        RolloutError: See :func:`find_managed`.
    """
    header, default, _, _ = managed_routes(target, source)
    where = find_managed(target, spec, repair=True)
    out = copy.deepcopy(dict(spec))
    routes: list[Any] = list(out.get("routes") or [])
    routes[where.default_index] = copy.deepcopy(default)
    if where.header_index is not None:
        del routes[where.header_index]
    if header is not None:
        position = where.default_index - (1 if where.header_index is not None else 0)
        routes.insert(position, copy.deepcopy(header))
    out["routes"] = routes
    return out


def diff_route_table(namespace: str, name: str, live: Mapping[str, Any], new: Mapping[str, Any],
                     label: str = "new") -> str:
    """A unified diff of a RouteTable's YAML (metadata name/namespace and spec), live -> new.

    Args:
        namespace: The RouteTable's namespace.
        name: Its name.
        live: The live spec.
        new: The new spec.
        label: What to call the new side (a step id).

    Returns:
        The diff ("" when nothing changes).
    """
    def text(spec: Mapping[str, Any]) -> list[str]:
        doc = {"apiVersion": _API_VERSION, "kind": "RouteTable",
               "metadata": {"name": name, "namespace": namespace}, "spec": _plain(spec)}
        return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False).splitlines(keepends=True)

    return "".join(difflib.unified_diff(text(live), text(new), fromfile=f"{namespace}/{name} (live)",
                                        tofile=f"{namespace}/{name} ({label})"))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# --- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """A probe that proves a step.

    Attributes:
        name: ``with-header`` or ``without-header``.
        headers: Request headers.
        canary_share: The share of requests that must reach the canary (0..1).
    """

    name: str
    headers: tuple[tuple[str, str], ...]
    canary_share: float


def expectations_for(target: RolloutTarget, state: ManagedState) -> tuple[Expectation, ...]:
    """The probes that prove a state.

    Args:
        target: The rollout target.
        state: The managed routes' state.

    Returns:
        Without the header first (the traffic every user sees), then with it when it matters.
    """
    without_share = {"stable": 0.0, "canary": 1.0, "weighted": state.weight / 100}[state.default]
    out = [Expectation("without-header", (), without_share)]
    if state.header_route or state.default == "canary":
        out.append(Expectation("with-header", (target.header,), 1.0))
    return tuple(out)


StepKind = Literal["pin-stable", "phase1", "phase2", "finish", "decommission"]


@dataclass(frozen=True)
class Step:
    """One step of the plan.

    Attributes:
        id: Stable id (``pin-stable``, ``phase1``, ``phase2-<w>``, ``finish``, ``decommission``),
            used in the journal and for resuming.
        kind: The kind of step.
        description: What the step does (and for ``pin-stable``, why).
        state: The managed routes' state the step sets (None for ``decommission``).
        expectations: The probes that prove the step.
    """

    id: str
    kind: StepKind
    description: str
    state: ManagedState | None
    expectations: tuple[Expectation, ...]

    @property
    def order(self) -> float:
        """The step's place in the rollout (see :attr:`ManagedState.order`); 4 for ``decommission``."""
        if self.state is None:
            return 4.0
        order = self.state.order
        return 3.0 if order is None else order

    @property
    def destructive(self) -> bool:
        """Whether the step deletes something (asks first)."""
        return self.kind == "decommission"


@dataclass(frozen=True)
class Plan:
    """The steps of one rollout, computed from the RouteTable as it was when the rollout began.

    Attributes:
        target: The rollout target.
        original: The RouteTable spec the plan was made from.
        steps: The steps, in order (cut at ``target.until``).
        path: The default route's path matcher in words.
        probe_path: The path probes request.
        notes: What the plan noticed (e.g. why it pins the stable subset first).
    """

    target: RolloutTarget
    original: Mapping[str, Any]
    steps: tuple[Step, ...]
    path: str
    probe_path: str
    notes: tuple[str, ...] = ()

    def step(self, step_id: str) -> Step:
        """Return the step with this id.

        Args:
            step_id: The id.

        Returns:
            The step.

        Raises:
            RolloutError: The plan has no such step.
        """
        for s in self.steps:
            if s.id == step_id:
                return s
        raise RolloutError(f"the plan of {self.target.route_table} has no step {step_id!r}: "
                           f"its steps are {', '.join(s.id for s in self.steps)}")

    @property
    def step_ids(self) -> tuple[str, ...]:
        """The steps' ids, in order."""
        return tuple(s.id for s in self.steps)

    def transform(self, step: Step, spec: Mapping[str, Any]) -> JSON:
        """Apply a step's transform to a live spec.

        Args:
            step: The step.
            spec: The live RouteTable spec.

        Returns:
            The new spec (a copy of ``spec`` for a step that does not change the RouteTable).
        """
        if step.state is None:
            return copy.deepcopy(dict(spec))
        return set_state(self.target, spec, step.state)


def _describe_default(where: Managed, target: RolloutTarget, spec: Mapping[str, Any]) -> str:
    routes = list(spec.get("routes") or [])
    subsets = []
    for dest in _destinations(routes[where.default_index]):
        values = (dest.get("subset") or {}).get("values") or {}
        subsets.append(", ".join(f"{k}={v}" for k, v in values.items()) or "no subset")
    return " and ".join(subsets)


def _steps(target: RolloutTarget, where: Managed, spec: Mapping[str, Any]) -> tuple[list[Step], list[str]]:
    k, h = target.subset_key, f"{target.header[0]}: {target.header[1]}"
    stable, canary = f"{k}={target.stable}", f"{k}={target.canary}"
    notes: list[str] = []
    steps: list[Step] = []
    state = where.state
    if state is None or state.order is None or (state.order == 3.0):
        why = (f"the default route (route {where.default_index}, {where.path}) goes to "
               f"{_describe_default(where, target, spec)}, not to {stable} alone")
        if state is not None and state.default == "canary":
            why += (f" (already the canary, but no proven rollout led there: pods of {canary} may be missing "
                    f"and Envoy's subset fallback may be serving it)")
        notes.append(f"pin-stable first: {why}")
        pin = ManagedState(False, "stable")
        steps.append(Step("pin-stable", "pin-stable", f"pin the default route to {stable}: {why}", pin,
                          expectations_for(target, pin)))
    p1 = ManagedState(True, "stable")
    steps.append(Step("phase1", "phase1",
                      f"add a route for {where.path} with header {h} to {canary}, right before the default "
                      f"route (route {where.default_index}), which keeps going to {stable}",
                      p1, expectations_for(target, p1)))
    if target.until != "phase1":
        for w in (0, *target.weights):
            s = ManagedState(True, "weighted", w)
            text = (f"turn the default route into weighted destinations: {stable} 100, {canary} 0" if w == 0 else
                    f"shift the default route's weights: {stable} {100 - w}, {canary} {w}")
            steps.append(Step(f"phase2-{w}", "phase2", text, s, expectations_for(target, s)))
    if target.until == "finish":
        fin = ManagedState(False, "canary")
        steps.append(Step("finish", "finish", f"send the default route to {canary} only and remove the "
                          f"header route", fin, expectations_for(target, fin)))
        if target.decommission:
            steps.append(Step("decommission", "decommission",
                              f"delete the Deployment(s) of namespace {target.namespace} whose pods carry the "
                              f"upstream's selector and {stable} (asks first)",
                              None, expectations_for(target, fin)[:1]))
    if state is not None and state.order is not None and 0 < state.order < 3:
        notes.append(f"the RouteTable is already past the start ({state.describe(target)}): "
                     f"the rollout goes on from there")
    return steps, notes


def plan_from_original(target: RolloutTarget, spec: Mapping[str, Any]) -> Plan:
    """Plan a rollout from a RouteTable spec (the live one, or the one a journal recorded).

    Args:
        target: The rollout target.
        spec: The RouteTable's spec.

    Returns:
        The plan.

    Raises:
        RolloutError: See :func:`find_managed`; also when the default route's path cannot be probed
            (a regex).
    """
    where = find_managed(target, spec)
    if where.probe_path is None:
        raise RolloutError(f"{_where(target, where.default_index)}: the default route matches a regex "
                           f"({where.path}), which gloo_nb cannot probe: roll out a prefix or exact route")
    steps, notes = _steps(target, where, spec)
    return Plan(target, copy.deepcopy(dict(spec)), tuple(steps), where.path, where.probe_path, tuple(notes))


def plan(target: RolloutTarget, route_table_manifest: Mapping[str, Any]) -> Plan:
    """Plan a rollout from the team's live RouteTable.

    Args:
        target: The rollout target.
        route_table_manifest: The RouteTable as Kubernetes returns it.

    Returns:
        The plan.

    Raises:
        RolloutError: The manifest is not the target's RouteTable, or see :func:`plan_from_original`.
    """
    meta = route_table_manifest.get("metadata") or {}
    found = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    if route_table_manifest.get("kind", "RouteTable") != "RouteTable" or found != target.route_table:
        raise RolloutError(f"expected RouteTable {target.route_table}, got {route_table_manifest.get('kind')} "
                           f"{found}: pass the team's RouteTable")
    return plan_from_original(target, route_table_manifest.get("spec") or {})

