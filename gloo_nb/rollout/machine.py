"""The sans-I/O step machine of the two-phase canary rollout.

:class:`RolloutMachine` is a set of generators. Each yields effects
(:mod:`gloo_nb.rollout.effects`), and the runner performs them and sends back the observation
named on each effect. The machine never touches the world itself, so the same code runs a
notebook cell, the CLI and the tests.

Journal events. Everything the machine needs to resume, it writes itself as :class:`Record`
effects, which the runner appends to the journal verbatim (``{"kind", "data"}``). A rerun gets the
events of this rollout back as ``history`` and goes on from there. Kinds and data (JSON, lowerCamel):

``rollout.plan``
    ``{target, routeTable, original (the spec planned from), steps (ids), notes}``: written once.
``rollout.guards``
    ``{step, ok, guards: [{name, ok, reason, detail?}]}`` before each write (informational on rollback);
    ``detail`` only on guards that have one (``webhook``: its prediction and the API server's answer to a dry run
    of the write, :func:`gloo_nb.rollout.guards.webhook_guard`).
``rollout.apply``
    ``{step, resourceVersion}`` once the API server accepted the write.
``rollout.adopted``
    ``{step, reason}``: the live RouteTable already was this step's output and nobody recorded
    applying it (someone did exactly this), so it is proven and checkpointed without a write.
``rollout.conflict``
    ``{step, message, attempt}``: the write met a newer resourceVersion.
``rollout.converged``
    ``{step, ok, servedSeconds, appliedSeconds, servedVersion, detail}``.
``rollout.probe``
    ``{step, name, path, headers, requests, sent, statuses, bySubset, other, seconds}``.
``rollout.verdict``
    ``{step, name, target, ok, observed, low, high, reason}`` (``target`` the canary share).
``rollout.delete``
    ``{step, kind, namespace, name}`` once a Deployment was deleted.
``rollout.checkpoint``
    ``{step, spec, servedVersion}``: the step is proven; ``spec`` is the RouteTable spec as applied.
``rollout.step``
    ``{step, outcome, reason}``: written right before each :class:`StepDone`.
``rollout.rollback``
    ``{to, spec, dropped, resourceVersion}``: the managed routes were restored to checkpoint ``to``
    (``start``: before the first step); the checkpoints of ``dropped`` no longer hold.
``rollout.recheck``
    ``{step, ok, reason, dropped, servedVersion?}``: before a resumed run trusts its last checkpoint
    ``step``, the live cluster is compared with it; ``dropped`` are proofs that no longer hold
    because the live RouteTable moved (the run then plans from the live table).

The runner adds ``rollout.session`` (:mod:`gloo_nb.rollout.identity`: which cluster and RouteTable
UID a run is about) and stamps each event with its run id; the history a machine is given holds
only the runs of the live cluster and object.

The :class:`Checkpoint` effect is yielded as well (the runner may keep the last good state with
it), but resuming reads only the ``rollout.checkpoint`` records.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gloo_nb.rollout.effects import (
    Applied,
    Apply,
    AwaitApproval,
    AwaitConverged,
    Checkpoint,
    Conflict,
    Converged,
    Delete,
    DryRun,
    Effect,
    Observation,
    Observe,
    Probe,
    ProbeObservation,
    Record,
    Refused,
    StepDone,
    World,
)
from gloo_nb.rollout.guards import (
    WEBHOOK_GUARD,
    Assessment,
    GuardResult,
    assess,
    failed_reasons,
    webhook_guard,
    webhook_prediction,
    what_if_world,
)
from gloo_nb.rollout.plan import (
    Expectation,
    ManagedState,
    Plan,
    RolloutError,
    RolloutTarget,
    Step,
    diff_route_table,
    expectations_for,
    live_state,
    managed_routes,
    plan_from_original,
    set_managed,
)
from gloo_nb.rollout.proof import Verdict, judge, required_requests
from gloo_nb.rollout.signals import GUARD as SIGNALS_GUARD
from gloo_nb.rollout.signals import CanarySignals, SignalThresholds, canary_signals, signals_guard

__all__ = ["MAX_RETRIES", "RolloutMachine", "RolloutStatus", "StepPreview", "StepStatus", "verdict_for"]

MAX_RETRIES = 3
"""How many times a write is retried after a conflict that left the managed routes alone."""

RECHECK_TIMEOUT = 10.0
"""Seconds a resumed run waits for its last checkpoint to be served and applied before claiming nothing."""

_PROMOTIONS = frozenset({"phase2", "finish"})
"""Step kinds that move traffic to the canary: the ``canary-signals`` guard runs before them."""

Steps = Generator[Effect, Observation, None]
_T = TypeVar("_T")


def _expect(obs: Observation, kind: type[_T], effect: str) -> _T:
    if not isinstance(obs, kind):
        raise RolloutError(f"the runner answered {type(obs).__name__} to {effect}, expected {kind.__name__}: "
                           f"fix the runner")
    return obs


# --- history ----------------------------------------------------------------------------------


@dataclass
class _Log:
    """What the history of one rollout says."""

    plan: Mapping[str, Any] | None = None
    checkpoints: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)
    probes: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    """Per step, the ``rollout.probe`` records of its latest proof attempt (the signals guard reads the last
    checkpoint's)."""

    @classmethod
    def read(cls, history: Iterable[Mapping[str, Any] | Record]) -> _Log:
        log = cls()
        for event in history:
            kind, data = (event.kind, event.data) if isinstance(event, Record) else \
                (event.get("kind"), event.get("data") or {})
            if kind == "rollout.plan" and log.plan is None:
                log.plan = data
            elif kind == "rollout.apply":
                log.applied.add(str(data.get("step")))
            elif kind == "rollout.converged":
                log.probes[str(data.get("step"))] = []  # a new proof attempt of the step
            elif kind == "rollout.probe":
                log.probes.setdefault(str(data.get("step")), []).append(data)
            elif kind == "rollout.checkpoint":
                log.checkpoints.pop(str(data.get("step")), None)  # keep them in the order proven
                log.checkpoints[str(data.get("step"))] = data
            elif kind in ("rollout.rollback", "rollout.recheck"):
                # A rollback, or a re-check that found the live RouteTable elsewhere, voids these proofs.
                for dropped in data.get("dropped") or ():
                    log.checkpoints.pop(str(dropped), None)
                    log.applied.discard(str(dropped))
        return log

    def last_checkpoint(self) -> Mapping[str, Any] | None:
        # Checkpoints are kept in the order they were proven (a rollback drops the later ones).
        return self.checkpoints[list(self.checkpoints)[-1]] if self.checkpoints else None

    def last_proof(self, canary: str) -> CanarySignals | None:
        """The canary's golden signals in the proof of the last checkpoint (None: nothing proven yet).

        A checkpoint without probe records (a journal from before issue 16 has them without the signals) gives
        signals that were not measured, which a set threshold refuses rather than passes.
        """
        last = self.last_checkpoint()
        if last is None:
            return None
        step = str(last.get("step"))
        return canary_signals(step, self.probes.get(step) or (), canary)


def _spec(world: World, target: RolloutTarget) -> dict[str, Any]:
    if world.route_table is None:
        raise RolloutError(f"RouteTable {target.route_table} not found: check --route-table and the identity's "
                           f"read access")
    return dict(world.route_table.get("spec") or {})


def _managed(target: RolloutTarget, spec: Mapping[str, Any]) -> tuple[Any, Any] | None:
    # What the rollout owns in a spec; positions are left out, so other routes may come and go.
    try:
        header, default, _, _ = managed_routes(target, spec)
    except RolloutError:
        return None
    return header, default


def _put(world: World, spec: Mapping[str, Any]) -> dict[str, Any]:
    manifest = copy.deepcopy(dict(world.route_table or {}))
    manifest["spec"] = copy.deepcopy(dict(spec))
    return manifest


# --- proof ------------------------------------------------------------------------------------


def verdict_for(expectation: Expectation, observation: ProbeObservation, target: RolloutTarget) -> Verdict:
    """Judge a probe against an expectation.

    Every request must be answered 2xx. A 0 % canary expectation is proven as "every request
    reached the stable subset" (so empty counters cannot pass it); the others by the canary's hits.

    Args:
        expectation: What the probe must show.
        observation: What it saw.
        target: The rollout target.

    Returns:
        The verdict (see :func:`gloo_nb.rollout.proof.judge`).
    """
    p0 = expectation.canary_share
    bad = {s: c for s, c in sorted(observation.statuses.items()) if not 200 <= s < 300 and c}
    if bad:
        text = ", ".join(f"{'connection error' if s == 0 else s}: {c}" for s, c in bad.items())
        share = observation.by_subset.get(target.canary, 0) / observation.sent if observation.sent else 0.0
        return Verdict(False, share, 0.0, 1.0, f"{sum(bad.values())} of {observation.sent} requests failed ({text})")
    k = target.subset_key
    if p0 <= 0.0:
        return judge(1.0, observation.by_subset.get(target.stable, 0), observation.sent, other=observation.other,
                     side=f"stable ({k}={target.stable})")
    return judge(p0, observation.by_subset.get(target.canary, 0), observation.sent, other=observation.other,
                 side=f"canary ({k}={target.canary})")


# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepPreview:
    """A step as it would go from the live RouteTable (nothing applied).

    Attributes:
        step: The step's id.
        description: What it does.
        diff: The RouteTable diff, from the previous step's output ("" when nothing changes).
        guards: The guards, evaluated on the world as the previous steps would leave it.
        manifest: The whole object the step would PUT, for the first pending step only (the one computed from the
            live RouteTable, so a runner can dry-run it: the ``webhook`` guard's server answer); None otherwise.
    """

    step: str
    description: str
    diff: str
    guards: tuple[GuardResult, ...]
    manifest: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class StepStatus:
    """Where one step stands.

    Attributes:
        step: The step's id.
        description: What it does.
        state: ``proven`` (checkpointed), ``applied`` (written, not proven yet), ``live`` (the live
            RouteTable is in its state, not proven), ``pending``.
    """

    step: str
    description: str
    state: str


@dataclass(frozen=True)
class RolloutStatus:
    """Where a rollout stands.

    Attributes:
        route_table: The RouteTable.
        live: The live managed routes in words (or why they cannot be read).
        steps: Each step's status.
        last_checkpoint: The last proven step (None: none yet).
        next_step: The next step to run (None: done).
        drift: Non-empty when the live managed routes are neither the last checkpoint's nor the
            original's: someone else changed them.
        notes: The plan's notes.
    """

    route_table: str
    live: str
    steps: tuple[StepStatus, ...]
    last_checkpoint: str | None
    next_step: str | None
    drift: str = ""
    notes: tuple[str, ...] = ()


# --- the machine ------------------------------------------------------------------------------


@dataclass
class _Run:
    plan: Plan
    log: _Log
    baseline: tuple[Any, Any] | None


class RolloutMachine:
    """The rollout as generators of effects.

    Args:
        target: What to roll out.
        history: The journal events of this rollout so far (``{"kind", "data"}``), for resuming.
        approve_destructive: Delete the stable Deployment without asking (``--decommission`` with ``--yes``).
        thresholds: The canary's error-rate and p99 thresholds; when one is set, the ``canary-signals`` guard
            runs before each promotion (``phase2-*``, ``finish``) on the last proof's signals. Default: off.
    """

    def __init__(self, target: RolloutTarget, *, history: Sequence[Mapping[str, Any] | Record] = (),
                 approve_destructive: bool = False, thresholds: SignalThresholds | None = None) -> None:
        self.target = target
        self.history = tuple(history)
        self.approve_destructive = approve_destructive
        self.thresholds = thresholds or SignalThresholds()
        self._proof_probes: list[Mapping[str, Any]] = []  # the probe records of the proof running now

    # --- planning

    def plan(self, world: World, history: Sequence[Mapping[str, Any] | Record] | None = None) -> Plan:
        """The plan: from the recorded original spec when the history has a plan, else from the live table.

        Args:
            world: The live world.
            history: The history (default: the machine's).

        Returns:
            The plan.

        Raises:
            RolloutError: The plan cannot be made, or the recorded plan has other steps than this
                target gives (a different rollout in the same journal).
        """
        log = _Log.read(self.history if history is None else history)
        return self._plan(world, log)

    def _plan(self, world: World, log: _Log) -> Plan:
        if log.plan is None:
            return plan_from_original(self.target, _spec(world, self.target))
        recorded = RolloutTarget.from_json(log.plan.get("target") or {})
        if _identity(recorded) != _identity(self.target):
            raise RolloutError(f"the journal holds another rollout ({recorded.route_table}, {recorded.upstream} "
                               f"{recorded.subset_key} {recorded.stable} -> {recorded.canary}, header "
                               f"{'='.join(recorded.header)}): use the same target or another journal directory")
        # Weights, until and decommission may change between runs (run to phase 1 today, finish tomorrow).
        return plan_from_original(self.target, log.plan.get("original") or {})

    def _plan_record(self, plan: Plan) -> Record:
        return Record("rollout.plan", {"target": self.target.as_json(), "routeTable": self.target.route_table,
                                       "original": copy.deepcopy(dict(plan.original)),
                                       "steps": list(plan.step_ids), "notes": list(plan.notes)})

    # --- running

    def steps(self) -> Steps:
        """Run the remaining steps of the plan, stopping at the first one that is not proven.

        Yields:
            Effects; send each one's observation back.

        Raises:
            RolloutError: The RouteTable is missing, cannot be planned, or the history holds another
                rollout (bad input: nothing was written).
        """
        world = _expect((yield Observe("plan the rollout")), World, "Observe")
        log = _Log.read(self.history)
        plan = self._plan(world, log)
        if log.plan is None:
            yield self._plan_record(plan)
        if log.checkpoints:
            holds = yield from self._recheck(plan, log, world)
            if not holds:
                return
        run = _Run(plan, log, _baseline(plan, log))
        first = True
        for step in plan.steps:
            if step.id in log.checkpoints:
                continue
            if not first:
                world = _expect((yield Observe(f"before {step.id}")), World, "Observe")
            first = False
            if step.state is None:
                proven = yield from self._decommission(run, step, world)
            else:
                proven = yield from self._route_step(run, step, world)
            if not proven:
                return

    def _recheck(self, plan: Plan, log: _Log, world: World) -> Generator[Effect, Observation, bool]:
        """Check the journal's last proof against the live cluster before resuming from it or claiming it.

        A checkpoint is the journal's word; the cluster may have moved since (a hand revert, a restore
        from backup, the table recreated). The proofs stand only while the live RouteTable's managed
        routes are the last checkpoint's, the control plane serves them and every replica applied
        them. When the table moved, the proofs are dropped (recorded, so that later resumes agree)
        and the rollout plans from the live RouteTable; when it did not move but is not served or
        applied, nothing can be claimed and the run stops as failed.

        Returns:
            Whether the rollout may go on (with the checkpoints kept, or dropped).
        """
        target = self.target
        last = log.last_checkpoint()
        assert last is not None  # the caller checks
        step_id = str(last["step"])
        try:
            spec = _spec(world, target)
        except RolloutError as error:
            yield from self._done(step_id, "failed", f"re-check of checkpoint {step_id}: {error}")
            return False
        if _moved(plan, log, spec):
            state = _safe_state(target, spec)
            live = state.describe(target) if state is not None else "routes a rollout does not set"
            if not _on_track(plan, spec):
                # Someone else's hand-made routes: never overwritten, never claimed (the proofs are kept for
                # when the table comes back; the next step reports the conflict, status() the drift).
                reason = (f"the live RouteTable {target.route_table} is no longer at checkpoint {step_id} (now: "
                          f"{live}, which no step of this rollout writes): nothing is claimed as proven")
                yield Record("rollout.recheck", {"step": step_id, "ok": False, "reason": reason, "dropped": []})
                if all(s.id in log.checkpoints for s in plan.steps):
                    yield from self._done(step_id, "conflict", self._conflict_reason(spec, state))
                    return False
                return True
            dropped = list(log.checkpoints)
            reason = (f"the live RouteTable {target.route_table} is no longer at checkpoint {step_id} (now: {live}): "
                      f"the journal's proofs of {', '.join(dropped)} do not hold; planning from the live RouteTable")
            yield Record("rollout.recheck", {"step": step_id, "ok": False, "reason": reason, "dropped": dropped})
            for dropped_id in dropped:
                log.checkpoints.pop(dropped_id, None)
                log.applied.discard(dropped_id)
            return True
        if _managed(target, spec) != _managed(target, last.get("spec") or {}):
            yield Record("rollout.recheck", {
                "step": step_id, "ok": True, "dropped": [],
                "reason": f"the live RouteTable is past checkpoint {step_id} at the next step's output, written by "
                          f"this rollout before it was interrupted: that step is proven now"})
            return True
        step = next((s for s in plan.steps if s.id == step_id), None)
        expected = assess(world, target, step, spec).expected if step is not None and step.state is not None else ()
        conv = _expect((yield AwaitConverged(step_id, target.route_table, expected, RECHECK_TIMEOUT)), Converged,
                       "AwaitConverged")
        if not conv.ok:
            reason = (f"re-check of checkpoint {step_id}: the live RouteTable is this checkpoint's, but "
                      f"{conv.detail or 'it is not served and applied'}: nothing is claimed as proven")
            yield Record("rollout.recheck", {"step": step_id, "ok": False, "reason": reason, "dropped": []})
            yield from self._done(step_id, "failed", reason)
            return False
        yield Record("rollout.recheck", {
            "step": step_id, "ok": True, "servedVersion": conv.served_version, "dropped": [],
            "reason": f"the live RouteTable is at checkpoint {step_id}, served (version {conv.served_version or '-'}) "
                      f"and applied by {len(conv.applied_seconds)} replica(s)"})
        return True

    def _done(self, step: str, outcome: str, reason: str = "") -> Generator[Effect, Observation, None]:
        yield Record("rollout.step", {"step": step, "outcome": outcome, "reason": reason})
        yield StepDone(step, outcome, reason)

    def _route_step(self, run: _Run, step: Step, world: World) -> Generator[Effect, Observation, bool]:
        target, plan = self.target, run.plan
        try:
            spec = _spec(world, target)
            state = live_state(target, spec)
            new = plan.transform(step, spec)
        except RolloutError as error:
            yield from self._done(step.id, "conflict", str(error))
            return False
        if new != spec:
            if state is not None and _skips(plan, step, spec, state, run.baseline):
                reason = f"the live RouteTable is already past this step ({state.describe(target)})"
                run.baseline = _managed(target, spec)
                yield from self._done(step.id, "skipped", reason)
                return True
            if _managed(target, spec) != run.baseline:
                yield from self._done(step.id, "conflict", self._conflict_reason(spec, state))
                return False
            outcome = yield from self._write(run, step, world, spec, new)
            if outcome is None:
                return False
            world, new = outcome
        else:
            if step.id not in run.log.applied:
                yield Record("rollout.adopted", {"step": step.id, "reason": "the live RouteTable already is this "
                                                                            "step's output"})
        assessment = assess(world, target, step, new)
        proven = yield from self._prove(step.id, step.expectations, plan, assessment.expected, assessment.host)
        if proven is None:
            return False
        yield Checkpoint(step.id, copy.deepcopy(new), proven)
        yield Record("rollout.checkpoint", {"step": step.id, "spec": copy.deepcopy(new), "servedVersion": proven})
        run.baseline = _managed(target, new)
        run.log.checkpoints[step.id] = {"step": step.id, "spec": new, "servedVersion": proven}
        run.log.probes[step.id] = list(self._proof_probes)
        yield from self._done(step.id, "proven", step.description)
        return True

    def _conflict_reason(self, spec: Mapping[str, Any], state: ManagedState | None) -> str:
        live = state.describe(self.target) if state is not None else "routes a rollout does not set"
        return (f"another writer changed the routes this rollout manages in {self.target.route_table} "
                f"(now: {live}): review the RouteTable, then roll back or start a new rollout")

    def _write(self, run: _Run, step: Step, world: World, spec: dict[str, Any],
               new: dict[str, Any]) -> Generator[Effect, Observation, tuple[World, dict[str, Any]] | None]:
        """Guards, then apply with conflict retries. Returns the world and spec written, None when stopped."""
        target = self.target
        conflicts = 0
        while True:
            assessment = self._with_signals(assess(world, target, step, new), step, run.log)
            assessment = yield from self._with_server_webhook(assessment, step, world, new)
            yield Record("rollout.guards", {"step": step.id, "ok": assessment.ok,
                                            "guards": [g.as_json() for g in assessment.guards]})
            if not assessment.ok:
                yield from self._done(step.id, "refused", failed_reasons(assessment.guards))
                return None
            diff = diff_route_table(target.namespace, target.name, spec, new, step.id)
            obs = yield Apply(step.id, _put(world, new), diff)
            if isinstance(obs, Applied):
                yield Record("rollout.apply", {"step": step.id, "resourceVersion": obs.resource_version})
                run.log.applied.add(step.id)
                return world, new
            if isinstance(obs, Refused):
                yield from self._done(step.id, "failed", f"the API server refused the change: {obs.message}")
                return None
            conflict = _expect(obs, Conflict, "Apply")
            conflicts += 1
            yield Record("rollout.conflict", {"step": step.id, "message": conflict.message, "attempt": conflicts})
            if conflicts > MAX_RETRIES:
                yield from self._done(step.id, "conflict", f"{target.route_table} kept changing under the rollout "
                                                           f"({conflicts} conflicts): try again when it is quiet")
                return None
            world = _expect((yield Observe(f"conflict on {step.id}: re-read")), World, "Observe")
            try:
                fresh = _spec(world, target)
                same = _managed(target, fresh) == _managed(target, spec)
            except RolloutError as error:
                yield from self._done(step.id, "conflict", str(error))
                return None
            if not same:
                yield from self._done(step.id, "conflict",
                                      self._conflict_reason(fresh, _safe_state(target, fresh)))
                return None
            spec, new = fresh, run.plan.transform(step, fresh)
            if new == spec:
                yield Record("rollout.adopted", {"step": step.id, "reason": "another writer applied this step"})
                return world, new

    def _with_server_webhook(self, assessment: Assessment, step: Step, world: World,
                             new: dict[str, Any]) -> Generator[Effect, Observation, Assessment]:
        """The assessment with the ``webhook`` guard's prediction joined by the server's answer (issue 19).

        The answer is the API server's to a dry run of the exact write the step makes, when the connection can
        dry-run (:attr:`World.server_dry_run`).
        """
        if not world.server_dry_run or not any(g.name == WEBHOOK_GUARD for g in assessment.guards):
            return assessment
        server = yield DryRun(step.id, _put(world, new))
        guard = webhook_guard(world, webhook_prediction(world, self.target, new), server)
        return dataclasses.replace(assessment, guards=tuple(guard if g.name == WEBHOOK_GUARD else g
                                                            for g in assessment.guards))

    def _with_signals(self, assessment: Assessment, step: Step, log: _Log) -> Assessment:
        """The assessment with the ``canary-signals`` guard added before a promotion, when a threshold is set.

        Issue 16: a canary that answers 5xx (retried by Envoy, so the proof's statuses look fine) or slowly
        is refused before more traffic moves to it; judged on the last proven step's probes.
        """
        if not self.thresholds.active or step.kind not in _PROMOTIONS:
            return assessment
        target = self.target
        ok, reason = signals_guard(self.thresholds, log.last_proof(target.canary),
                                   f"{target.subset_key}={target.canary}")
        return dataclasses.replace(assessment, guards=(*assessment.guards, GuardResult(SIGNALS_GUARD, ok, reason)))

    def _prove(self, step_id: str, expectations: Sequence[Expectation], plan: Plan,
               expected: tuple[tuple[str, str, str], ...], host: str | None,
               converge: bool = True) -> Generator[Effect, Observation, str | None]:
        """Converge, then probe each expectation. Returns the served version, None when it failed."""
        target = self.target
        served = ""
        self._proof_probes = []
        if converge:
            conv = _expect((yield AwaitConverged(step_id, target.route_table, expected)), Converged, "AwaitConverged")
            yield Record("rollout.converged", {"step": step_id, "ok": conv.ok, "servedSeconds": conv.served_seconds,
                                               "appliedSeconds": dict(conv.applied_seconds),
                                               "servedVersion": conv.served_version, "detail": conv.detail})
            if not conv.ok:
                yield from self._done(step_id, "failed", f"not converged: {conv.detail or 'timed out'}")
                return None
            served = conv.served_version
        for exp in expectations:
            n = required_requests(exp.canary_share)
            headers = dict(exp.headers)
            obs = _expect((yield Probe(step_id, exp.name, plan.probe_path, headers, n, target.upstream,
                                       target.subset_key, host)), ProbeObservation, "Probe")
            probe_record = {"step": step_id, "name": exp.name, "path": plan.probe_path,
                            "headers": headers, "requests": n, "sent": obs.sent,
                            "statuses": {str(k): v for k, v in obs.statuses.items()},
                            "bySubset": dict(obs.by_subset), "other": obs.other,
                            "seconds": obs.seconds,
                            # golden signals beside the split (issue 16), additive
                            "errorsBySubset": None if obs.errors_by_subset is None else dict(obs.errors_by_subset),
                            "latencyBySubset": None if obs.latency_by_subset is None else
                            {k: v.as_json() for k, v in obs.latency_by_subset.items()}}
            self._proof_probes.append(probe_record)
            yield Record("rollout.probe", probe_record)
            verdict = verdict_for(exp, obs, target)
            yield Record("rollout.verdict", {"step": step_id, "name": exp.name, "target": exp.canary_share,
                                             "ok": verdict.ok, "observed": verdict.observed, "low": verdict.low,
                                             "high": verdict.high, "reason": verdict.reason})
            if not verdict.ok:
                yield from self._done(step_id, "failed", f"{exp.name}: {verdict.reason}")
                return None
        return served

    def _decommission(self, run: _Run, step: Step, world: World) -> Generator[Effect, Observation, bool]:
        target = self.target
        try:
            spec = _spec(world, target)
        except RolloutError as error:
            yield from self._done(step.id, "conflict", str(error))
            return False
        assessment = assess(world, target, step, spec)
        yield Record("rollout.guards", {"step": step.id, "ok": assessment.ok,
                                        "guards": [g.as_json() for g in assessment.guards]})
        if not assessment.ok:
            yield from self._done(step.id, "refused", failed_reasons(assessment.guards))
            return False
        names = _stable_deployments(world, target)
        if names is None:
            yield from self._done(step.id, "refused", f"upstream {target.upstream} is not a kube Upstream with a "
                                                      f"selector: delete the stable Deployment by hand")
            return False
        if names:
            listed = ", ".join(f"{target.namespace}/{n}" for n in names)
            if not self.approve_destructive:
                answer = yield AwaitApproval(step.id, f"delete Deployment(s) {listed} (the stable "
                                                      f"{target.subset_key}={target.stable})?")
                if answer is not True:
                    yield from self._done(step.id, "refused", f"not approved: {listed} kept")
                    return False
            for name in names:
                obs = yield Delete(step.id, "Deployment", target.namespace, name)
                if isinstance(obs, Refused):
                    yield from self._done(step.id, "failed", f"deleting {target.namespace}/{name}: {obs.message}")
                    return False
                _expect(obs, Applied, "Delete")
                yield Record("rollout.delete", {"step": step.id, "kind": "Deployment",
                                                "namespace": target.namespace, "name": name})
        served = yield from self._prove(step.id, step.expectations, run.plan, (), assessment.host, converge=False)
        if served is None:
            return False
        served = served or world.served_version
        yield Checkpoint(step.id, copy.deepcopy(spec), served)
        yield Record("rollout.checkpoint", {"step": step.id, "spec": copy.deepcopy(spec), "servedVersion": served})
        run.log.checkpoints[step.id] = {"step": step.id, "spec": spec, "servedVersion": served}
        run.log.probes[step.id] = list(self._proof_probes)
        deleted = ", ".join(names) if names else "nothing left to delete"
        yield from self._done(step.id, "proven", f"deleted: {deleted}; the canary still answers")
        return True

    # --- rolling back

    def rollback(self, to: str | None = None) -> Steps:
        """Restore the managed routes of a checkpoint and prove them again.

        Args:
            to: A step id, ``start`` (before the first step: the ``pin-stable`` checkpoint when there
                is one, else the original spec), or None: the last proven state before the current one.

        Yields:
            Effects; send each one's observation back.

        Raises:
            RolloutError: The history has no plan, or no checkpoint ``to``.
        """
        target = self.target
        world = _expect((yield Observe("roll back")), World, "Observe")
        log = _Log.read(self.history)
        if log.plan is None:
            raise RolloutError(f"no rollout of {target.route_table} in the journal: nothing to roll back to "
                               f"(pass the journal directory the rollout wrote)")
        plan = self._plan(world, log)
        spec = _spec(world, target)
        name, source = self._rollback_source(plan, log, spec, to)
        order = list(log.checkpoints)
        kept = order[:order.index(name) + 1] if name in order else []
        dropped = sorted({*order, *log.applied} - set(kept))
        step_id = f"rollback-{name}"
        state = live_state(target, source)
        expectations = expectations_for(target, state) if state is not None else ()
        new = set_managed(target, spec, source)
        version = ""
        conflicts = 0
        while new != spec:
            guards_step = plan.step(name) if name in plan.step_ids else plan.steps[0]
            assessment = assess(world, target, guards_step, new)
            # Informational: a rollback is how a team gets out of a bad state, so no guard stops it.
            yield Record("rollout.guards", {"step": step_id, "ok": assessment.ok,
                                            "guards": [g.as_json() for g in assessment.guards]})
            obs = yield Apply(step_id, _put(world, new), diff_route_table(target.namespace, target.name, spec, new,
                                                                          step_id))
            if isinstance(obs, Applied):
                version = obs.resource_version
                break
            if isinstance(obs, Refused):
                yield from self._done(step_id, "failed", f"the API server refused the rollback: {obs.message}")
                return
            _expect(obs, Conflict, "Apply")
            conflicts += 1
            world = _expect((yield Observe(f"conflict on {step_id}: re-read")), World, "Observe")
            fresh = _spec(world, target)
            if conflicts > MAX_RETRIES or _managed(target, fresh) != _managed(target, spec):
                yield from self._done(step_id, "conflict", self._conflict_reason(fresh, _safe_state(target, fresh)))
                return
            spec, new = fresh, set_managed(target, fresh, source)
        yield Record("rollout.rollback", {"to": name, "spec": copy.deepcopy(new), "dropped": dropped,
                                          "resourceVersion": version})
        expected = assess(what_if_world(world, target, new), target, plan.steps[0], new).expected
        served = yield from self._prove(step_id, expectations, plan, expected, None)
        if served is None:
            return
        restored = state.describe(target) if state is not None else "the original routes (not proven by probes)"
        yield from self._done(step_id, "proven", f"restored {name}: {restored}")

    def _rollback_source(self, plan: Plan, log: _Log, spec: Mapping[str, Any],
                         to: str | None) -> tuple[str, Mapping[str, Any]]:
        proven = list(log.checkpoints)

        def start() -> tuple[str, Mapping[str, Any]]:
            if "pin-stable" in log.checkpoints:
                return "pin-stable", log.checkpoints["pin-stable"]["spec"]
            return "start", plan.original

        if to == "start":
            return start()
        if to is not None:
            if to not in log.checkpoints:
                raise RolloutError(f"no checkpoint {to!r} for {self.target.route_table}: proven steps are "
                                   f"{', '.join(proven) or 'none'} (or use start)")
            return to, log.checkpoints[to]["spec"]
        live = _managed(self.target, spec)
        current = [i for i, s in enumerate(proven) if _managed(self.target, log.checkpoints[s]["spec"]) == live]
        if current:
            before = proven[:current[-1]]
        else:
            before = proven
        if not before:
            return start()
        return before[-1], log.checkpoints[before[-1]]["spec"]

    # --- views

    def status(self, world: World, history: Sequence[Mapping[str, Any] | Record] | None = None) -> RolloutStatus:
        """Where the rollout stands, from the live world and the history.

        Args:
            world: The live world.
            history: The history (default: the machine's).

        Returns:
            The status.
        """
        target = self.target
        log = _Log.read(self.history if history is None else history)
        plan = self._plan(world, log)
        spec = _spec(world, target)
        try:
            state = live_state(target, spec)
            live = state.describe(target) if state is not None else "the default route goes elsewhere"
        except RolloutError as error:
            state, live = None, str(error)
        moved = _moved(plan, log, spec)
        rows = []
        for step in plan.steps:
            if step.id in log.checkpoints:
                text = "proven, but the live RouteTable moved since" if moved else "proven"
            elif step.id in log.applied:
                text = "applied"
            elif step.state is not None and state is not None and step.state == state:
                text = "live"
            else:
                text = "pending"
            rows.append(StepStatus(step.id, step.description, text))
        last = log.last_checkpoint()
        baseline = _baseline(plan, log)
        upcoming = next((s for s in plan.steps if s.id not in log.checkpoints), None)
        drift = ""
        if upcoming is not None and upcoming.state is not None and plan.transform(upcoming, spec) != spec \
                and not _skips(plan, upcoming, spec, state, baseline) and _managed(target, spec) != baseline:
            drift = self._conflict_reason(spec, state)
        return RolloutStatus(
            route_table=target.route_table, live=live, steps=tuple(rows),
            last_checkpoint=str(last["step"]) if last is not None else None,
            next_step=next((s.id for s in plan.steps if s.id not in log.checkpoints), None),
            drift=drift, notes=plan.notes)

    def preview(self, world: World) -> list[StepPreview]:
        """The remaining steps as they would go from the live RouteTable, with predicted guards.

        Each step's transform is applied to the previous step's output, and its guards are checked
        on the world as the previous steps would leave it. Nothing is applied.

        Args:
            world: The live world.

        Returns:
            One preview per step not yet proven.
        """
        target = self.target
        log = _Log.read(self.history)
        plan = self._plan(world, log)
        spec = _spec(world, target)
        if _moved(plan, log, spec) and _on_track(plan, spec):
            # As steps() will: the journal's proofs do not hold for a table that moved; plan from the live one.
            log.checkpoints.clear()
            log.applied.clear()
        state = _safe_state(target, spec)
        baseline = _baseline(plan, log)
        out = []
        for step in plan.steps:
            if step.id in log.checkpoints:
                continue
            if _skips(plan, step, spec, state, baseline):
                out.append(StepPreview(step.id, f"(already past) {step.description}", "", ()))
                continue
            new = plan.transform(step, spec)
            assessment = assess(world, target, step, new)
            first = not out or all(not p.guards for p in out)
            if first:
                # The next step's canary-signals guard is known now (the journal's last proof); later steps'
                # depend on proofs not made yet, so they are not predicted.
                assessment = self._with_signals(assessment, step, log)
            guards = assessment.guards
            out.append(StepPreview(step.id, step.description,
                                   diff_route_table(target.namespace, target.name, spec, new, step.id), guards,
                                   _put(world, new) if first and step.state is not None else None))
            if new != spec:
                world = what_if_world(world, target, new)
                spec = new
        return out


def _identity(target: RolloutTarget) -> tuple[str, ...]:
    return (target.route_table, target.upstream, target.subset_key, target.stable, target.canary, *target.header)


def _moved(plan: Plan, log: _Log, spec: Mapping[str, Any]) -> bool:
    """Whether the live managed routes moved since the last proof (one rule for steps, status, preview).

    They moved when they are neither the last checkpoint's nor the output of the next step (which a
    run killed before its proof may have written).
    """
    last = log.last_checkpoint()
    if last is None:
        return False
    live, proven = _managed(plan.target, spec), dict(last.get("spec") or {})
    if live == _managed(plan.target, proven):
        return False
    upcoming = next((s for s in plan.steps if s.id not in log.checkpoints), None)
    if upcoming is None or upcoming.state is None:
        return True
    try:
        return live != _managed(plan.target, plan.transform(upcoming, proven))
    except RolloutError:
        return True


def _on_track(plan: Plan, spec: Mapping[str, Any]) -> bool:
    # The live managed routes are where the rollout started or where one of its steps puts them.
    live = _managed(plan.target, spec)
    if live == _managed(plan.target, plan.original):
        return True
    for step in plan.steps:
        if step.state is None:
            continue
        try:
            if plan.transform(step, spec) == spec:
                return True
        except RolloutError:
            continue
    return False


def _passed(state: ManagedState | None, step: Step) -> bool:
    # The live managed routes are in a later state of the rollout than this step sets.
    return state is not None and state.order is not None and state.order < 3 and step.order < state.order


def _baseline(plan: Plan, log: _Log) -> tuple[Any, Any] | None:
    # The managed routes as the rollout last left them: the last checkpoint, or where it started.
    last = log.last_checkpoint()
    return _managed(plan.target, last["spec"] if last is not None else plan.original)


def _skips(plan: Plan, step: Step, spec: Mapping[str, Any], state: ManagedState | None,
           baseline: tuple[Any, Any] | None) -> bool:
    """Whether the live routes are already past ``step``, so that it is skipped (one rule for steps, status, preview).

    From where the rollout last left the routes (or where it starts), going on from a later state
    is the team's own starting point. Mid-rollout, only a state that a later step writes exactly
    counts: a hand-made split between two steps (30/70 before the 50 % step) is someone else's
    change, and continuing would overwrite it.
    """
    if not _passed(state, step):
        return False
    if _managed(plan.target, spec) == baseline:
        return True
    later = plan.steps[plan.steps.index(step) + 1:]
    return any(s.state is not None and plan.transform(s, spec) == spec for s in later)


def _safe_state(target: RolloutTarget, spec: Mapping[str, Any]) -> ManagedState | None:
    try:
        return live_state(target, spec)
    except RolloutError:
        return None


def _stable_deployments(world: World, target: RolloutTarget) -> list[str] | None:
    namespace, name = target.upstream_ref
    upstream = next((u for u in world.snapshot.upstreams if (u.meta.namespace, u.meta.name) == (namespace, name)),
                    None)
    if upstream is None or upstream.kube is None or not upstream.kube.selector:
        return None
    wanted = {**upstream.kube.selector, target.subset_key: target.stable}
    out = []
    for deployment in world.deployments:
        meta = deployment.get("metadata") or {}
        if meta.get("namespace", target.namespace) != target.namespace:
            continue
        labels = ((((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})
        if all(labels.get(k) == v for k, v in wanted.items()):
            out.append(str(meta.get("name", "")))
    return sorted(out)
