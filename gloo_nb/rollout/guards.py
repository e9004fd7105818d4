"""Guards: pure checks before a step, over the live world and the translator's what-if of the step.

Each guard is a predicate with a one-line reason, whether it passes or not. They translate the
live snapshot and the what-if snapshot (the live one with the team's RouteTable replaced by the
step's new spec, parsed by the same codec) with Gloo's semantics (:mod:`gloo_nb.translate`):

* ``canary-endpoints`` (``stable-endpoints`` for ``pin-stable``): the subset that will get traffic
  has ready endpoints, as Gloo's kube EDS computes them (ready Endpoints addresses whose pod
  carries the Upstream's selector), filtered by the subset label.
* ``team-tree-clean``: no blocking finding whose resource or origin is in the team's namespace.
* ``no-new-finding``: the what-if has no finding the live translation lacks.
* ``no-collateral``: the Envoy routes that do not come from this RouteTable are the same in the
  what-if as live, on every proxy.
* ``not-last-known-good``: no proxy that serves the team's RouteTable holds its last known good
  configuration, and the step would not make one do so. Each proxy the Gateways name is pushed on
  its own (``projects/gloo/pkg/syncer/envoy_translator_syncer.go``), so every proxy whose routes
  come from the RouteTable (live or after the step) is checked, and named when there are several.
* ``webhook``: Gloo's validating webhook would admit the step's write, predicted from the live snapshot and
  its Settings (``spec.gateway.validation``) by :func:`gloo_nb.translate.webhook.decide`; where the connection
  allows, the step machine adds the API server's own answer to a dry run of the exact write
  (:func:`webhook_guard`), and both are in the guard's ``detail``.

A finding is *blocking* when it is an error, or, under profile ``1.3``, any finding of Gloo's own
translation: Gloo 1.3 rejects the whole proxy on route warnings such as a missing upstream
(``InvalidDestinationWarning``), which is what freezes every team in the seed scenario.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gloo_nb.models import Snapshot
from gloo_nb.models.codec import parse_object
from gloo_nb.models.resources import ResourceKey, ResourceRef, RouteTable
from gloo_nb.rollout.effects import Applied, Conflict, Observation, Refused, World
from gloo_nb.rollout.plan import RolloutError, RolloutTarget, Step
from gloo_nb.translate import Translation, translate
from gloo_nb.translate.eds import Endpoints, kube_endpoints_of
from gloo_nb.translate.envoy import cluster_name
from gloo_nb.translate.routes import fallback_label, route_rows
from gloo_nb.translate.webhook import Change, Decision, WebhookSettings, decide, dry_run_refusal

__all__ = [
    "CONTROL_PLANE_GUARD",
    "Assessment",
    "GuardResult",
    "RouteSummary",
    "WEBHOOK_GUARD",
    "assess",
    "check_guards",
    "failed_reasons",
    "route_summaries",
    "webhook_guard",
    "webhook_prediction",
    "what_if_world",
]

CONTROL_PLANE_GUARD = "control-plane-up"
"""The guard that refuses every step while Gloo's control plane is down."""

WEBHOOK_GUARD = "webhook"
"""The guard that asks whether Gloo's validating webhook admits the step's write."""

RouteSummary = tuple[str, str, str]
"""An Envoy route as ``(virtual host, match summary, action summary)``."""


@dataclass(frozen=True)
class GuardResult:
    """One guard's outcome.

    Attributes:
        name: The guard (``canary-endpoints``, ``team-tree-clean``, ``no-new-finding``,
            ``no-collateral``, ``not-last-known-good``, ``webhook``, ``control-plane-up``).
        ok: Whether it passes.
        reason: Why, in one line.
        detail: More than the line, as JSON, for guards that have it (``webhook``: ``prediction``, ``server``,
            ``agree``; see :func:`webhook_guard`); None otherwise.
    """

    name: str
    ok: bool
    reason: str
    detail: Mapping[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the result as JSON (for the journal).

        Returns:
            ``{name, ok, reason}``, and ``detail`` when the guard has one.
        """
        out: dict[str, Any] = {"name": self.name, "ok": self.ok, "reason": self.reason}
        if self.detail is not None:
            out["detail"] = dict(self.detail)
        return out


@dataclass(frozen=True)
class Assessment:
    """The guards of a step, and what the step should make Envoy serve.

    Attributes:
        guards: The guard results, in a fixed order.
        expected: The what-if's Envoy routes that come from the team's RouteTable.
        host: A Host header that reaches the RouteTable's routes (None: the virtual host answers ``*``).
    """

    guards: tuple[GuardResult, ...]
    expected: tuple[RouteSummary, ...]
    host: str | None

    @property
    def ok(self) -> bool:
        """Whether every guard passes."""
        return all(g.ok for g in self.guards)

    @property
    def failed(self) -> tuple[GuardResult, ...]:
        """The guards that fail."""
        return tuple(g for g in self.guards if not g.ok)


def _manifest(world: World, target: RolloutTarget, spec: Mapping[str, Any]) -> dict[str, Any]:
    live = world.route_table or {}
    meta = dict(live.get("metadata") or {"name": target.name, "namespace": target.namespace})
    return {"apiVersion": live.get("apiVersion", "gateway.solo.io/v1"), "kind": "RouteTable",
            "metadata": meta, "spec": dict(spec)}


def what_if_world(world: World, target: RolloutTarget, spec: Mapping[str, Any]) -> World:
    """The world with the team's RouteTable spec replaced (nothing is written anywhere).

    Args:
        world: The live world.
        target: The rollout target.
        spec: The RouteTable's new spec.

    Returns:
        A world whose ``route_table`` and ``snapshot`` hold the new RouteTable.

    Raises:
        RolloutError: The new spec cannot be read as a RouteTable.
    """
    manifest = _manifest(world, target, spec)
    parsed = parse_object(manifest).resource
    if not isinstance(parsed, RouteTable):
        raise RolloutError(f"{target.route_table}: the new spec is not readable as a RouteTable")
    key = (target.namespace, target.name)
    tables = [rt for rt in world.snapshot.route_tables if (rt.meta.namespace, rt.meta.name) != key]
    tables.append(parsed)
    tables.sort(key=lambda rt: (rt.meta.namespace, rt.meta.name))
    snapshot = dataclasses.replace(world.snapshot, route_tables=tuple(tables))
    return dataclasses.replace(world, route_table=manifest, snapshot=snapshot)


def _endpoints(world: World) -> Endpoints:
    return kube_endpoints_of(world.snapshot, world.profile)


def _translate(world: World, snapshot: Snapshot, endpoints: Endpoints) -> Translation:
    return translate(snapshot, world.profile, endpoints=endpoints, proxy=world.proxy)


def _serving(live: Translation, what_if: Translation, resource: str) -> list[tuple[Translation, Translation]]:
    # The (live, what-if) translations of every proxy with routes from the resource, in Gloo's order;
    # the top level alone when neither translation has several proxies or none serves it yet.
    pairs = [(one, what_if.for_proxy(one.proxy.name) or one) for one in live.proxies]
    mine = [(a, b) for a, b in pairs if route_summaries(a, resource) or route_summaries(b, resource)]
    return mine or [(live, what_if)]


def _rows(translation: Translation) -> list[tuple[RouteSummary, str]]:
    # Each Envoy route with the resource that defines it (its innermost source, a RouteTable or the VS).
    owners = translation.route_sources()
    rows = route_rows(translation.envoy.route_configurations, "intent",
                      fallback_body=fallback_label(translation.envoy.listeners))
    return [((row.virtual_host, row.match_summary, row.action_summary),
             sources[0].ref if (sources := owners.get(row.id)) else "") for row in rows]


def route_summaries(translation: Translation, resource: str) -> tuple[RouteSummary, ...]:
    """The Envoy routes a translation builds from one resource.

    Args:
        translation: The translation.
        resource: The resource as ``ns/name``.

    Returns:
        ``(virtual host, match summary, action summary)`` in Envoy order.
    """
    return tuple(summary for summary, owner in _rows(translation) if owner == resource)


def _causes(translation: Translation) -> str:
    # What blocks the push (the translation's one answer), with each cause's team for the rollout's operator.
    return "; ".join(f"{c.ref} (team {c.namespace}): {c.message}" if c.ref else c.message
                     for c in translation.block_causes()) or translation.push.reason


def _host(translation: Translation, resource: str) -> str | None:
    vs_keys = {o.vs for origins in translation.origins.values() for o in origins
               if o.route.owner is not None and o.route.owner.ref == resource}
    for vs in translation.snapshot.virtual_services:
        if vs.key not in vs_keys or vs.virtual_host is None:
            continue
        domains = vs.virtual_host.domains or ("*",)
        if "*" in domains:
            return None
        # A wildcard domain (*.example.com) answers any name in it.
        return domains[0].replace("*", "probe", 1)
    return None


def _subset_endpoints(world: World, target: RolloutTarget, endpoints: Endpoints, value: str,
                      name: str) -> GuardResult:
    namespace, upstream = target.upstream_ref
    cluster = cluster_name(ResourceRef(upstream, namespace))
    ready = [e for e in endpoints.get(cluster, ()) if e[2].get(target.subset_key) == value]
    subset = f"{target.subset_key}={value}"
    if ready:
        return GuardResult(name, True, f"{len(ready)} ready endpoint(s) of {target.upstream} with {subset}")
    return GuardResult(name, False, f"no ready endpoint of {target.upstream} with {subset}: start its pods "
                                    f"(labelled {subset}) and wait until they are ready")


def _team_tree(live: Translation, target: RolloutTarget) -> GuardResult:
    ns = target.namespace
    mine = [f for f in live.findings if live.would_block(f) and ns in (f.resource.namespace, f.origin.namespace)]
    if not mine:
        return GuardResult("team-tree-clean", True, f"no blocking finding in namespace {ns}")
    text = "; ".join(dict.fromkeys(f"{f.origin.ref}: {f.message}" for f in mine))
    return GuardResult("team-tree-clean", False, f"team {ns} has blocking findings: {text}: fix them first")


def _new_findings(live: Translation, what_if: Translation) -> GuardResult:
    before = {(f.resource, f.message) for f in live.findings}
    new = [f for f in what_if.findings if (f.resource, f.message) not in before]
    if not new:
        return GuardResult("no-new-finding", True, "the change adds no finding")
    text = "; ".join(dict.fromkeys(f"{f.resource.ref}: {f.message}" for f in new))
    return GuardResult("no-new-finding", False, f"the change would add {len(new)} finding(s): {text}")


def _collateral(live: Translation, what_if: Translation, resource: str) -> GuardResult:
    def others(t: Translation) -> Counter[tuple[RouteSummary, str]]:
        # Every proxy's routes (each proxy is served on its own); a proxy's name leads its virtual
        # hosts when there are several.
        several = len(t.proxies) > 1
        return Counter((((f"{one.proxy.name}/{vh}" if several else vh), match, action), owner)
                       for one in (t.proxies or [t]) for ((vh, match, action), owner) in _rows(one)
                       if owner != resource)

    before, after = others(live), others(what_if)
    if before == after:
        return GuardResult("no-collateral", True, f"the routes of every other resource stay as they are "
                                                  f"({sum(before.values())} route(s))")

    def text(rows: Counter[tuple[RouteSummary, str]], sign: str) -> list[str]:
        return [f"{sign}{vh}: {match} -> {action} ({owner or 'no owner'})"
                for ((vh, match, action), owner) in sorted(rows.elements())]

    changes = [*text(before - after, "-"), *text(after - before, "+")]
    return GuardResult("no-collateral", False, f"the change would alter {len(changes)} route(s) of others: "
                                               + "; ".join(changes))


def _last_known_good(live: Translation, what_if: Translation, resource: str = "") -> GuardResult:
    name = "not-last-known-good"
    pairs = _serving(live, what_if, resource) if resource else [(live, what_if)]
    several = len(live.proxies) > 1
    for now, after in pairs:
        proxy = f"the proxy {now.proxy.name}" if several else "the proxy"
        if now.push.decision == "keep-last-good":
            return GuardResult(name, False, f"{proxy} holds its last known good configuration: {_causes(now)}")
        if after.push.decision == "keep-last-good":
            return GuardResult(name, False, f"the change would make {proxy} keep its last known good configuration: "
                                            f"{_causes(after)}")
    if several:
        return GuardResult(name, True, "the control plane pushes the current configuration of "
                                       + ", ".join(now.proxy.name for now, _ in pairs))
    return GuardResult(name, True, "the control plane pushes the current configuration")


def webhook_prediction(world: World, target: RolloutTarget, new_spec: Mapping[str, Any]) -> Decision:
    """Gloo's webhook's answer to the step's write, predicted (pure).

    The write is an update of the team's RouteTable (a create when it does not exist), put to
    :func:`gloo_nb.translate.webhook.decide` against the live snapshot, with the Settings it holds (Helm's
    defaults when it holds none), in the world's profile.

    Args:
        world: The live world.
        target: The rollout target.
        new_spec: The RouteTable spec the step would write.

    Returns:
        The decision.

    Raises:
        RolloutError: The new spec cannot be read as a RouteTable.
    """
    new = what_if_world(world, target, new_spec)
    key = ResourceKey("RouteTable", target.namespace, target.name)
    resource = next(rt for rt in new.snapshot.route_tables if rt.key == key)
    old = next((rt for rt in world.snapshot.route_tables if rt.key == key), None)
    change = Change("UPDATE" if old is not None else "CREATE", key, resource, old)
    return decide(world.snapshot, change, world.profile, world.snapshot.settings)


def _prediction_json(decision: Decision) -> dict[str, Any]:
    return {"allowed": decision.allowed, "validated": decision.validated, "reason": decision.reason,
            "denial": decision.denial(), "message": decision.message, "webhook": decision.webhook}


def _prediction_line(decision: Decision, world: World) -> str:
    if not decision.allowed:
        # One line for the step's report; the denial as kubectl prints it stays whole in the guard's detail.
        return f"Gloo's webhook would deny the write: {_one_line(decision.denial())}"
    config = WebhookSettings.of(world.snapshot.settings, world.profile)
    if not config.enabled:
        return "Gloo's webhook is off (Settings have no spec.gateway.validation): nothing checks the write at apply"
    if config.always_accept:
        # alwaysAccept (Helm's default): projects/gateway/pkg/services/k8sadmission/validating_admission_webhook.go
        # makeAdmissionResponse admits every write without an unmarshal error, logging the validation errors
        # ("Succeeded, alwaysAccept: %v validationErrs: %v", debug level).
        failure = f"; it would log: {_one_line(decision.message)}" if decision.message else ""
        return ("Gloo's webhook would admit the write and only log (alwaysAccept: true): "
                + ("the change fails its validation" + failure if decision.errors
                   else "the change passes its validation"))
    return f"Gloo's webhook would admit the write: {decision.reason}"


def _one_line(text: str) -> str:
    # Gloo's multi-line text with its line breaks folded (as check --webhook prints it); its spacing stays.
    return re.sub(r"\s*\n\s*", " ", text).strip()


def webhook_guard(world: World, decision: Decision, server: Observation = None) -> GuardResult:
    """The ``webhook`` guard: the prediction, and the API server's answer to a dry run of the write when asked.

    A denial by either fails the guard with Gloo's message; a disagreement between them is said in the reason
    and in ``detail.agree``. A server that cannot dry-run the write (Gloo 1.3's webhook: ``admission webhook
    "gateway.<ns>.svc" does not support dry run``, ``k8s.io/apiserver/pkg/admission/plugin/webhook/errors/
    statuserror.go:NewDryRunUnsupportedErr``) leaves the prediction alone and says so. A dry run that meets a
    conflict says nothing about admission (the write is retried after a re-read, guards included).

    Args:
        world: The live world (its profile and Settings word the prediction).
        decision: The prediction (:func:`webhook_prediction`).
        server: The dry run's observation (:class:`~gloo_nb.rollout.effects.Applied`, ``Refused``, ``Conflict``),
            or None when the connection was not asked.

    Returns:
        The guard, with ``detail``: ``prediction`` (``allowed``, ``validated``, ``reason``, ``denial``,
        ``message``, ``webhook``), ``server`` (None when not asked; else ``answer``: ``admitted``, ``denied``,
        ``no-dry-run``, ``conflict`` or ``refused`` (refused before admission answered, e.g. RBAC's 403: shown,
        not counted, as the write meets it anyway), and ``message``) and ``agree`` (None when the server gave
        no admission answer).
    """
    predicted = _prediction_line(decision, world)
    detail: dict[str, Any] = {"prediction": _prediction_json(decision), "server": None, "agree": None}
    if server is None:
        return GuardResult(WEBHOOK_GUARD, decision.allowed, predicted, detail)
    # dry_run_refusal's words, whatever the webhook's name (the cluster's Gloo namespace may differ).
    no_dry_run = dry_run_refusal(world.profile).rsplit('" ', 1)[-1]
    if isinstance(server, Applied):
        answer, message, said = "admitted", "", "the API server admitted a dry run of the write (dryRun=All)"
        allowed: bool | None = True
    elif isinstance(server, Refused) and server.message.endswith(no_dry_run):
        answer, message, allowed = "no-dry-run", server.message, None
        said = f"the connection cannot dry-run the write: {server.message}"
    elif isinstance(server, Refused) and not ("admission webhook" in server.message
                                              and "denied the request" in server.message):
        # Not admission's answer (RBAC's 403, a 422, ...): the webhook was not asked. The write meets the same
        # refusal and the step reports it as the API server's; this guard does not answer for it.
        answer, message, allowed = "refused", server.message, None
        said = f"the API server refused a dry run of the write before admission answered: {_one_line(server.message)}"
    elif isinstance(server, Refused):
        answer, message, allowed = "denied", server.message, False
        if not decision.allowed and decision.denial() in server.message:
            # The same words twice would bury the line; the detail keeps both whole.
            said = "the API server refused a dry run of the write (dryRun=All) with the same message"
        else:
            said = f"the API server refused a dry run of the write (dryRun=All): {_one_line(server.message)}"
    elif isinstance(server, Conflict):
        answer, message, allowed = "conflict", server.message, None
        said = f"a dry run of the write met a conflict (no admission answer): {server.message}"
    else:
        answer, message, allowed, said = "refused", repr(server), None, f"unexpected dry-run answer {server!r}"
    agree = None if allowed is None else allowed == decision.allowed
    detail["server"] = {"answer": answer, "message": message}
    detail["agree"] = agree
    ok = decision.allowed and allowed is not False
    reason = f"prediction: {predicted}; server: {said}"
    if agree is False:
        reason += "; the prediction and the server DISAGREE"
    elif agree:
        reason += "; the prediction and the server agree"
    return GuardResult(WEBHOOK_GUARD, ok, reason, detail)


def assess(world: World, target: RolloutTarget, step: Step, new_spec: Mapping[str, Any]) -> Assessment:
    """Check a step's guards and predict what it makes Envoy serve.

    Args:
        world: The live world.
        target: The rollout target.
        step: The step.
        new_spec: The RouteTable spec the step would write.

    Returns:
        The guards (subset endpoints, then, for steps that change the RouteTable, team tree,
        what-if findings, collateral, last known good, and the webhook's predicted answer), the expected
        routes and the probe's Host.
    """
    endpoints = _endpoints(world)
    live = _translate(world, world.snapshot, endpoints)
    resource = target.route_table
    if step.kind == "pin-stable":
        guards = [_subset_endpoints(world, target, endpoints, target.stable, "stable-endpoints")]
    else:
        guards = [_subset_endpoints(world, target, endpoints, target.canary, "canary-endpoints")]
    if step.state is None:
        guards.append(_control_plane_up(world))
        return Assessment(tuple(guards), route_summaries(live, resource), _host(live, resource))
    what_if = _translate(world, what_if_world(world, target, new_spec).snapshot, endpoints)
    guards += [_team_tree(live, target), _new_findings(live, what_if), _collateral(live, what_if, resource),
               _last_known_good(live, what_if, resource), webhook_guard(world, webhook_prediction(world, target,
                                                                                     new_spec)),
               _control_plane_up(world)]
    return Assessment(tuple(guards), route_summaries(what_if, resource), _host(what_if, resource))


def _control_plane_up(world: World) -> GuardResult:
    # With no gloo pod ready nothing translates: a RouteTable change is not served, and neither are endpoint changes
    # (EDS), so even deleting the stable Deployment would leave Envoy sending requests to pods that are gone.
    if world.control_plane_down:
        return GuardResult(CONTROL_PLANE_GUARD, False, f"{world.control_plane_down}: a change would not be served "
                                                       "and Envoy keeps its endpoints as they are: bring Gloo back "
                                                       "first")
    return GuardResult(CONTROL_PLANE_GUARD, True, "a gloo pod is ready: Gloo translates and serves changes")


def check_guards(world: World, target: RolloutTarget, step: Step, new_spec: Mapping[str, Any]) -> list[GuardResult]:
    """Check a step's guards.

    Args:
        world: The live world.
        target: The rollout target.
        step: The step.
        new_spec: The RouteTable spec the step would write.

    Returns:
        One result per guard (see :func:`assess`).
    """
    return list(assess(world, target, step, new_spec).guards)


def failed_reasons(results: Sequence[GuardResult]) -> str:
    """Join the reasons of failed guards into one line.

    Args:
        results: Guard results.

    Returns:
        ``name: reason; ...`` of the failed ones ("" when all pass).
    """
    return "; ".join(f"{g.name}: {g.reason}" for g in results if not g.ok)
