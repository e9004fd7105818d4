"""The rollout runner: performs the step machine's effects against a gateway and records them in the journal.

:class:`gloo_nb.rollout.machine.RolloutMachine` decides (pure); :class:`Rollout` acts: it reads the
cluster, replaces the RouteTable with the team's identity guarded by its resourceVersion, waits for
the control plane and every Envoy replica, sends real requests through the gateway and attributes
them with Envoy's per-host counters, and writes every effect and observation to the journal as it
goes. One :meth:`Rollout.next` is one step (one notebook cell); a rerun after an interruption
resumes from the journal and the cluster.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
import urllib.parse
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gloo_nb.analysis import DriftRow, RouteKey
from gloo_nb.analysis.inspection import Inspection
from gloo_nb.app.connect import GatewayConnection
from gloo_nb.app.probe import probe
from gloo_nb.errors import GlooNbError, RolloutError
from gloo_nb.journal import JournalWriter, read_journal
from gloo_nb.journal.events import JournalError
from gloo_nb.kube import ConflictError, KubeError
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
from gloo_nb.rollout.guards import WEBHOOK_GUARD, webhook_guard, webhook_prediction
from gloo_nb.rollout.identity import RUN_KEY, SESSION, ForeignRun, RolloutIdentity, split_history
from gloo_nb.rollout.machine import RolloutMachine
from gloo_nb.rollout.plan import RolloutTarget
from gloo_nb.rollout.signals import SignalThresholds, attribute_latency
from gloo_nb.translate import translate
from gloo_nb.xds.admin import EnvoyAdmin
from gloo_nb.xds.decode import ServedSnapshot, endpoint_rows
from gloo_nb.xds.protos import TYPE_ROUTE

_log = logging.getLogger(__name__)

_BEHIND = frozenset({"replica-lagging", "rejected-by-envoy"})
"""Cell states of a replica that differs from what is served (:func:`gloo_nb.analysis.drift.differs`)."""

DEFAULT_JOURNAL = Path("gloo-nb-journal")
"""The journal directory when none is given (the CLI contract's ``./gloo-nb-journal/``)."""

Clock = Callable[[], float]


class RolloutStopped(RolloutError):
    """The rollout cannot go on; the message names the step and why."""


class ForeignJournal(RolloutStopped):
    """The journal named explicitly holds this rollout for another cluster or another object.

    Attributes:
        foreign: The runs found, each with its identity and why it is not evidence here.
    """

    def __init__(self, message: str, foreign: Sequence[ForeignRun]) -> None:
        super().__init__(message)
        self.foreign = list(foreign)


@dataclass
class StepReport:
    """What one step did, for a notebook cell or the CLI.

    Attributes:
        step: The step's id.
        outcome: ``proven``, ``refused``, ``failed``, ``conflict``, ``skipped`` or ``dry-run``.
        reason: Why, in one line.
        guards: ``(name, ok, reason)`` of each guard checked.
        diff: The RouteTable diff applied (``""`` when nothing was applied).
        converged: How convergence went (None when not waited for).
        probes: ``(name, observation)`` of each probe.
        verdicts: ``(name, ok, reason)`` of each probe's verdict.
        seconds: Wall time of the step.
        guard_details: Guard name -> its ``detail`` (the ``webhook`` guard's prediction and the API server's
            answer), for the guards that have one.
    """

    step: str
    outcome: str
    reason: str = ""
    guards: list[tuple[str, bool, str]] = field(default_factory=list)
    diff: str = ""
    converged: Converged | None = None
    probes: list[tuple[str, ProbeObservation]] = field(default_factory=list)
    verdicts: list[tuple[str, bool, str]] = field(default_factory=list)
    seconds: float = 0.0
    guard_details: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the step ended well (proven, or already done)."""
        return self.outcome in ("proven", "skipped", "dry-run")

    def text(self) -> str:
        """A few readable lines: outcome, guards, convergence times and probe splits."""
        lines = [f"{self.step}: {self.outcome}" + (f" ({self.reason})" if self.reason else "")
                 + f" in {self.seconds:.2f} s"]
        # The webhook guard says why even when it passes: what Gloo's webhook would do (admit, only log, off) and
        # whether the API server's dry run agreed is the point of it.
        lines += [f"  guard {name}: {'ok' if ok else 'FAILED'}"
                  + (f" ({why})" if why and (not ok or name == WEBHOOK_GUARD) else "")
                  for name, ok, why in self.guards]
        c = self.converged
        if c is not None:
            applied = ", ".join(f"{node} {_secs(s)}" for node, s in c.applied_seconds.items())
            lines.append(f"  converged: {'yes' if c.ok else 'NO'}; served after {_secs(c.served_seconds)}, "
                         f"applied after {applied or '-'}" + (f"; {c.detail}" if c.detail else ""))
        verdicts = {name: (ok, why) for name, ok, why in self.verdicts}
        for name, obs in self.probes:
            split = ", ".join(f"{k or '(no subset)'} {v}" for k, v in sorted(obs.by_subset.items()))
            ok, why = verdicts.get(name, (None, ""))
            lines.append(f"  probe {name}: {obs.sent} requests in {obs.seconds:.2f} s -> {split or 'nothing counted'}"
                         + (f" (+{obs.other} foreign)" if obs.other else "")
                         + ("" if ok is None else f": {'ok' if ok else 'FAILED'}, {why}"))
            if obs.latency_by_subset:
                lines.append("    latency (measured by the probe): " + ", ".join(
                    f"{'split' if k == '*' else k or '(no subset)'} p50 {_ms(v.p50_ms)} p99 {_ms(v.p99_ms)}"
                    for k, v in sorted(obs.latency_by_subset.items())))
        return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def probe_json(name: str, obs: ProbeObservation) -> dict[str, Any]:
    """One probe of a step as ``gloo-nb rollout --json`` writes it.

    Args:
        name: The probe's name.
        obs: What it saw.

    Returns:
        ``{name, sent, bySubset, statuses, other}`` and (issue 16, additive) ``errorsBySubset`` (5xx per subset
        from Envoy's per-host ``rq_error``; null: not measured) and ``latencyBySubset`` (subset, or ``*`` for a
        probe split between subsets -> ``{requests, p50Ms, p99Ms, envoyUpstreamP50Ms, envoyUpstreamP99Ms,
        source: "probe"}``; null: not measured).
    """
    return {"name": name, "sent": obs.sent, "bySubset": dict(obs.by_subset),
            "statuses": {str(k): v for k, v in obs.statuses.items()}, "other": obs.other,
            "errorsBySubset": None if obs.errors_by_subset is None else dict(obs.errors_by_subset),
            "latencyBySubset": None if obs.latency_by_subset is None else
            {k: v.as_json() for k, v in obs.latency_by_subset.items()}}


def _secs(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


class Rollout:
    """A two-phase canary rollout of one team's RouteTable, driven step by step.

    Args:
        conn: The gateway, with the team's identity (its Kubernetes client impersonates the team).
        target: What to roll out.
        journal: The journal directory. Earlier runs of this rollout there are the history a rerun
            resumes from, but only the runs written on this cluster for this RouteTable object
            (:mod:`gloo_nb.rollout.identity`). Given explicitly, a journal holding this rollout for
            another cluster or object is refused (:class:`ForeignJournal`); by default
            (``./gloo-nb-journal``) such runs are set aside with a notice and a new rollout starts.
        dry_run: Apply nothing: :meth:`next` shows each step's diff and guards instead.
        approve: Answers questions before destructive actions (decommissioning); default: refuse.
        converge_timeout: Seconds to wait for the control plane and every replica after a change.
        concurrency: Connections the proofs send requests on.
        clock: Seconds, monotonic (injected for tests).
        thresholds: The canary's max error rate and p99 latency; when set, the ``canary-signals`` guard refuses
            a promotion whose last proof's canary signals exceed them (default: off).
    """

    def __init__(self, conn: GatewayConnection, target: RolloutTarget, *,
                 journal: str | Path | None = None, dry_run: bool = False,
                 approve: Callable[[str], bool] | None = None, converge_timeout: float = 30.0,
                 concurrency: int = 16, clock: Clock = time.monotonic,
                 thresholds: SignalThresholds | None = None) -> None:
        self.conn = conn
        self.thresholds = thresholds or SignalThresholds()
        self.target = target
        self.journal_dir = Path(journal) if journal is not None else DEFAULT_JOURNAL
        self.journal_named = journal is not None
        self.run_id = uuid.uuid4().hex
        self.notices: list[str] = []
        """What the user should know beyond the step reports (journal runs set aside, re-checks)."""
        self.dry_run = dry_run
        self.approve = approve or (lambda _question: False)
        self.converge_timeout = converge_timeout
        self.concurrency = concurrency
        self.clock = clock
        self.source = f"rollout/{target.route_table}"
        self.reports: list[StepReport] = []
        self.progress: Callable[[str, str], None] | None = None
        """Told ``(phase, detail)`` as a step runs: ``guards``, ``apply``, ``converge`` (per replica), ``proof``
        (requests sent out of needed); the stepper's progress row. Its exceptions are ignored."""
        self._journal: JournalWriter | None = None
        self._machine: RolloutMachine | None = None
        self._gen: Generator[Effect, Observation, None] | None = None
        self._pending: Observation = None
        self._watch_keys: set[RouteKey] = set()
        self._world: World | None = None  # the last Observe's: every Apply is computed from one
        self._preview_cursor = 0
        self._finished = False

    # --- public ---------------------------------------------------------------------------------

    def plan(self) -> list[Any]:
        """The steps from the live RouteTable, each with its description, diff and predicted guards.

        The first pending step's ``webhook`` guard also carries the API server's answer to a ``dryRun=All`` PUT of
        its write (nothing is written); later steps' writes depend on steps not applied yet, so they are predicted.

        Returns:
            :class:`gloo_nb.rollout.machine.StepPreview` per step; nothing is applied.
        """
        world = self.observe()
        return [self._with_server_webhook(p, world) for p in self._new_machine().preview(world)]

    def _with_server_webhook(self, preview: Any, world: World) -> Any:
        """The first pending step's ``webhook`` guard with the API server's answer to a dry run of its write.

        Only that step's write is computed from the live RouteTable (later ones from steps not applied yet).
        """
        if preview.manifest is None or not any(g.name == WEBHOOK_GUARD for g in preview.guards):
            return preview
        server = self._dry_run(DryRun(preview.step, preview.manifest))
        guard = webhook_guard(world, webhook_prediction(world, self.target, preview.manifest.get("spec") or {}),
                              server)
        return dataclasses.replace(preview, guards=tuple(guard if g.name == WEBHOOK_GUARD else g
                                                         for g in preview.guards))

    def next(self) -> StepReport:
        """Run one step: guards, apply, converge, prove, checkpoint (dry run: show the next step only).

        Returns:
            The step's report; after the last step, a report with outcome ``done``.
        """
        if self.dry_run:
            return self._next_preview()
        if self._finished:
            return StepReport("-", "done", "the rollout has no step left")
        if self._gen is None:
            self._machine = self._new_machine()
            self._gen = self._machine.steps()
            self._pending = None
        return self._drive(self._gen, on_end="done")

    def run(self, until: str | None = None) -> list[StepReport]:
        """Run steps until one fails, the plan ends, or step ``until`` is proven.

        Args:
            until: A step id to stop after (default: the target's ``until``).

        Returns:
            The reports of the steps run now.
        """
        out = []
        for report in iter_reports(self):
            out.append(report)
            if report.step == until:
                break
        return out

    def rollback(self, to: str | None = None) -> StepReport:
        """Restore a checkpoint (default: the last proven one; ``start``: before the first step) and prove it.

        Args:
            to: A step id, ``start``, or None.

        Returns:
            The rollback's report.

        Raises:
            RolloutStopped: The rollout is a dry run (a rollback writes).
        """
        if self.dry_run:
            raise RolloutStopped(f"rollback of {self.target.route_table}: this rollout is a dry run, which never "
                                 f"writes; make a Rollout with dry_run=False to roll back")
        machine = self._new_machine()
        self._gen, self._finished = None, False  # a later next() re-plans from the cluster and the journal
        return self._drive(machine.rollback(to), on_end="done")

    def status(self) -> Any:
        """Where the rollout stands (from the cluster and the journal)."""
        return self._new_machine().status(self.observe(), self.history())

    def identity(self) -> RolloutIdentity:
        """What this rollout is about, read from the live cluster: its id and the RouteTable's UID.

        Returns:
            The identity (``route_table_uid`` is ``""`` when the RouteTable does not exist).
        """
        server, cluster = self.conn.cluster_identity()
        ns, name = _split(self.target.route_table)
        try:
            uid = str((self.conn.kube.get("RouteTable", ns, name).get("metadata") or {}).get("uid") or "")
        except KubeError as exc:
            if exc.status != 404:
                raise
            uid = ""
        return RolloutIdentity(server, cluster, uid, self.target.route_table)

    def history(self) -> list[dict[str, Any]]:
        """This rollout's earlier journal events on this cluster and RouteTable, oldest first (``{"kind", "data"}``).

        Runs of the same rollout written on another cluster, or for an earlier object of the same
        name, are never evidence: they are set aside with a notice, or refused when the journal was
        named explicitly.

        Raises:
            ForeignJournal: The journal was named explicitly and holds such runs.
            RolloutStopped: The journal cannot be read.
        """
        if not self.journal_dir.exists() or not any(self.journal_dir.glob("*.jsonl")):
            return []
        if self._journal is not None:
            self._journal.flush()
        try:
            journal = read_journal(self.journal_dir)
        except JournalError as exc:
            raise RolloutStopped(f"cannot resume from the journal {self.journal_dir}: {exc}") from None
        events = [{"kind": e.kind, "data": e.data} for e in journal.events
                  if e.source == self.source and e.kind.startswith("rollout.")]
        if not events:
            return []
        live = self.identity()
        if not live.route_table_uid:
            return []  # no such RouteTable now: nothing is evidence for it, and the machine says it is missing
        split = split_history(events, live)
        if split.foreign:
            found = "; ".join(f.describe() for f in split.foreign)
            if self.journal_named:
                raise ForeignJournal(
                    f"the journal {self.journal_dir} holds this rollout for something else than the live "
                    f"{live.describe()}: {found}; it is no evidence here: pass another --journal directory "
                    f"(or move that one away)", split.foreign)
            notice = (f"journal {self.journal_dir}: set aside {len(split.foreign)} run(s) of "
                      f"{self.target.route_table} that are not about the live {live.describe()} ({found}); "
                      + ("resuming from this cluster's own runs" if split.own
                         else "starting a new rollout (its events go to a new journal file)"))
            if notice not in self.notices:
                self.notices.append(notice)
        return split.own

    def close(self) -> None:
        """Flush and close the journal (the connection stays open: it is the caller's)."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def __enter__(self) -> Rollout:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- driving --------------------------------------------------------------------------------

    def _new_machine(self) -> RolloutMachine:
        return RolloutMachine(self.target, history=self.history(), thresholds=self.thresholds)

    def _next_preview(self) -> StepReport:
        steps = self.plan()
        if self._preview_cursor >= len(steps):
            return StepReport("-", "done", "the plan has no step left")
        p = steps[self._preview_cursor]
        self._preview_cursor += 1
        guards = [(g.name, g.ok, g.reason) for g in p.guards]
        self._write("rollout.dry-run", {"step": p.step, "description": p.description, "diff": p.diff,
                                        "guards": [list(g) for g in guards]})
        return StepReport(p.step, "dry-run", p.description, guards, p.diff)

    def _drive(self, gen: Generator[Effect, Observation, None], *, on_end: str) -> StepReport:
        started = self.clock()
        report = StepReport("-", "running")
        while True:
            try:
                effect = gen.send(self._pending)
            except StopIteration:
                self._finished = True
                self._gen = None
                if report.step == "-":
                    report.outcome, report.reason = on_end, "the rollout has no step left"
                report.seconds = self.clock() - started
                return report
            self._pending = self._perform(effect, report)
            if isinstance(effect, StepDone):
                report.step, report.outcome, report.reason = effect.step, effect.outcome, effect.reason
                report.seconds = self.clock() - started
                self.reports.append(report)
                if effect.outcome not in ("proven", "skipped"):
                    # The machine stops after a failure; the next call re-plans from the cluster and journal.
                    self._gen = None
                    with contextlib.suppress(StopIteration):
                        gen.send(None)
                return report

    def _perform(self, effect: Effect, report: StepReport) -> Observation:
        obs: Observation
        if isinstance(effect, Record):
            self._write(effect.kind, effect.data)
            if effect.kind == "rollout.guards":
                report.guards = [(str(g.get("name")), bool(g.get("ok")), str(g.get("reason", "")))
                                 for g in effect.data.get("guards", [])]
                report.guard_details = {str(g.get("name")): g["detail"] for g in effect.data.get("guards", [])
                                        if g.get("detail") is not None}
            elif effect.kind == "rollout.verdict":
                d = effect.data
                report.verdicts.append((str(d.get("name")), bool(d.get("ok")), str(d.get("reason", ""))))
            return None
        if isinstance(effect, Observe):
            self._tell("guards", "reading the cluster, checking the guards")
            obs = self._world = self.observe()
        elif isinstance(effect, Apply):
            report.diff = effect.diff
            self._tell("apply", f"writing {self.target.route_table}")
            obs = self._apply(effect)
        elif isinstance(effect, DryRun):
            self._tell("guards", f"asking the API server (dry run) whether it admits the write of {effect.step}")
            obs = self._dry_run(effect)
        elif isinstance(effect, Delete):
            obs = self._delete(effect)
        elif isinstance(effect, AwaitConverged):
            obs = self._converge(effect)
            report.converged = obs
        elif isinstance(effect, Probe):
            obs = self._probe(effect)
            report.probes.append((effect.name, obs))
        elif isinstance(effect, AwaitApproval):
            obs = bool(self.approve(effect.question))
        elif isinstance(effect, Checkpoint | StepDone):
            obs = None
        else:  # pragma: no cover - the Effect union is closed
            raise RolloutStopped(f"unknown effect {effect!r}")
        self._write(f"rollout.effect.{type(effect).__name__.lower()}",
                    {"effect": _jsonable(effect), "observation": _jsonable(obs)})
        return obs

    def _tell(self, phase: str, detail: str) -> None:
        if self.progress is None:
            return
        try:
            self.progress(phase, detail)
        except Exception as exc:  # noqa: BLE001 - a broken progress display must not stop a step half-way
            _log.warning("the rollout's progress display failed at %s: %r", phase, exc)

    def _write(self, kind: str, data: Mapping[str, Any]) -> None:
        if self._journal is None:
            identity = self.identity()  # before the file exists: a failure here leaves no empty run behind
            self._journal = JournalWriter(self.journal_dir)
            # Every run opens with what it is about; its events carry its id (resume reads only the runs of
            # the live cluster and object, gloo_nb/rollout/identity.py).
            # `proxy`: the gateway proxy the run proves through (its served versions are that proxy's).
            self._journal.append(SESSION, {RUN_KEY: self.run_id, "identity": identity.as_json(),
                                           "target": self.target.as_json(), "proxy": self.conn.proxy},
                                 source=self.source)
        if kind == "rollout.recheck" and (data.get("ok") or data.get("dropped")):
            # What a re-check established or voided; a re-check that stops the run says it in the step report.
            self.notices.append(str(data.get("reason", "")))
        self._journal.append(kind, {**data, RUN_KEY: self.run_id}, source=self.source)
        # A kill right after a write to the cluster must not lose the record of it (resume relies on it).
        self._journal.flush()

    # --- effects --------------------------------------------------------------------------------

    def observe(self) -> World:
        """Read what the machine needs from the cluster (one consistent-enough look).

        Returns:
            The world: the RouteTable as stored, every resource Gloo reads, the namespace's Deployments.
        """
        ns, name = _split(self.target.route_table)
        kube = self.conn.kube
        try:
            route_table: dict[str, Any] | None = kube.get("RouteTable", ns, name)
        except KubeError as exc:
            if exc.status != 404:
                raise
            route_table = None
        # tolerant: another team's unreadable object is its finding, not our stop; a team identity that may not
        # list Secrets gets TLS secrets as unknown, not as Gloo's missing secrets (which would fail the guards)
        snapshot, _ = self.conn.read_snapshot()
        deployments = tuple(kube.list("Deployment", ns).get("items", []))
        served_version = ""
        down = self.conn.control_plane_down()
        if self.conn.xds_address and not down:
            with contextlib.suppress(GlooNbError):
                served_version = self.conn.served(timeout=5.0).version(TYPE_ROUTE) or ""
        # Every connection reads Kubernetes through its API, so the webhook guard can ask it with a dry run.
        return World(self.conn.profile, route_table, snapshot, deployments, served_version, proxy=self.conn.proxy,
                     server_dry_run=True, control_plane_down=f"Gloo's control plane is down ({down})" if down else "")

    def _apply(self, effect: Apply) -> Observation:
        self._watch_keys = self._resource_keys()
        try:
            stored = self.conn.kube.replace(effect.manifest)
        except ConflictError as exc:
            return Conflict(str(exc))
        except KubeError as exc:
            return Refused(str(exc))
        return Applied(str(stored.get("metadata", {}).get("resourceVersion", "")))

    def _dry_run(self, effect: DryRun) -> Observation:
        # The same PUT as _apply, with dryRun=All: admission (Gloo's webhook) answers, nothing is stored.
        try:
            self.conn.kube.replace(effect.manifest, dry_run=True)
        except ConflictError as exc:
            return Conflict(str(exc))
        except KubeError as exc:
            return Refused(str(exc))
        return Applied()

    def _delete(self, effect: Delete) -> Observation:
        try:
            self.conn.kube.delete(effect.kind, effect.namespace, effect.name, missing_ok=True)
        except KubeError as exc:
            return Refused(str(exc))
        return Applied()

    def _resource_keys(self) -> set[RouteKey]:
        """The (virtual host, match) of the RouteTable's routes before the change (in the world it came from)."""
        world = self._world or self.observe()
        snapshot = world.snapshot
        translation = translate(snapshot, world.profile)
        inspection = Inspection.build(translation, None, {}, {})
        return {d.id for d in inspection.drift if d.resource == self.target.route_table}

    def _converge(self, effect: AwaitConverged) -> Converged:
        """Poll intent, served and each replica until this RouteTable's routes agree everywhere."""
        start = self.clock()
        deadline = start + effect.timeout if effect.timeout else start + self.converge_timeout
        replicas = [r.node_id for r in self.conn.replicas]
        served_at: float | None = None
        applied_at: dict[str, float | None] = dict.fromkeys(replicas)
        served_version, detail = "", ""
        # Kubernetes holds the change once the write returned: read and translate it once; only the
        # control plane and the replicas move while this waits.
        translation, _ = self.conn.intent()
        while True:
            served: ServedSnapshot | None = self.conn.served(timeout=5.0) if self.conn.xds_address else None
            applied = self.conn.applied()
            inspection = Inspection.build(translation, served, applied, {})
            rows = [d for d in inspection.drift if d.resource == effect.resource or d.id in self._watch_keys]
            now = self.clock() - start
            expected_ok = _has_expected(rows, effect.expected)
            if served is not None:
                served_version = served.version(TYPE_ROUTE) or ""
                if served_at is None and expected_ok and all(d.by_source.get("served") == d.by_source["intent"]
                                                              for d in rows):
                    served_at = now
            elif served_at is None and expected_ok:
                served_at = now  # no xDS stream: replicas are compared with the intent
            for node in replicas:
                # Routed as intended, and (drift's one rule, analysis.drift.differs) not behind what is served in
                # anything else: a replica that kept an old option of the route has not applied the change.
                if applied_at[node] is None and served_at is not None and all(
                        d.by_source.get(node) == d.by_source["intent"]
                        and (node not in d.cells or d.cells[node].state not in _BEHIND) for d in rows):
                    applied_at[node] = now
            self._tell("converge", "; ".join(
                [f"served: {'yes' if served_at is not None else 'waiting'}"]
                + [f"{node}: {'applied' if applied_at[node] is not None else 'waiting'}" for node in replicas]))
            if served_at is not None and all(v is not None for v in applied_at.values()):
                return Converged(True, served_at, applied_at, served_version)
            if self.clock() >= deadline:
                behind = [d for d in rows if d.state != "in-sync"] or rows
                detail = "; ".join(f"{d.match}: {d.state}" + (f" ({d.cause})" if d.cause else "")
                                   for d in behind[:3])
                if translation.push.decision == "keep-last-good":
                    detail = f"the control plane keeps its last good configuration ({translation.push.reason}); " \
                             + detail
                return Converged(False, served_at, applied_at, served_version,
                                 f"not converged after {effect.timeout or self.converge_timeout:.0f} s: {detail}")
            time.sleep(0.02)

    def _probe(self, effect: Probe) -> ProbeObservation:
        """Send the requests through the gateway; attribute them to subsets with Envoy's per-host counters."""
        if not self.conn.gateway_url:
            raise RolloutStopped(f"{effect.step}: no gateway URL to send proof traffic to; connect with one")
        cluster, hosts = self._subset_of_hosts(effect.upstream, effect.subset_key)
        admins = self.conn.admins()
        before, errors_before = _host_counts(admins, cluster, ("rq_total", "rq_error"))
        headers = dict(effect.headers)
        if effect.host:
            headers["host"] = effect.host
        url = self.conn.gateway_url.rstrip("/") + urllib.parse.quote(effect.path, safe="/?=&")
        started = self.clock()
        step = max(1, effect.requests // 20)

        def sent(done: int, of: int) -> None:
            if done % step == 0 or done == of:
                self._tell("proof", f"{effect.name}: {done} of {of} requests sent")

        result = probe(url, effect.requests, headers=headers, concurrency=self.concurrency,
                       progress=sent if self.progress is not None else None)
        seconds = self.clock() - started
        after, errors_after = _host_counts(admins, cluster, ("rq_total", "rq_error"))
        by_subset: dict[str, int] = {}
        for address in after:
            delta = after[address] - before.get(address, 0)
            if delta:
                subset = hosts.get(address, "")
                by_subset[subset] = by_subset.get(subset, 0) + delta
        # The golden signal beside the split: 5xx per subset, from the same /clusters host counters.
        errors_by_subset: dict[str, int] = {}
        for address in errors_after:
            delta = errors_after[address] - errors_before.get(address, 0)
            if delta > 0:
                subset = hosts.get(address, "")
                errors_by_subset[subset] = errors_by_subset.get(subset, 0) + delta
        statuses: dict[int, int] = {}
        answers: dict[str, int] = {}
        for answer in result.answers:
            code = int(answer.partition(" ")[0])
            statuses[code] = statuses.get(code, 0) + 1
            first = answer.splitlines()[0] if answer else ""
            answers[first[:200]] = answers.get(first[:200], 0) + 1
        counted = sum(by_subset.values())
        # Latency beside the split: the probe's own per-request times, attributed to a subset only when Envoy's
        # counters put the whole probe on it (gloo_nb/rollout/signals.py says why Envoy cannot split it).
        latency = attribute_latency(by_subset, result.round_trips_ms, result.upstream_ms)
        return ProbeObservation(effect.requests, statuses, by_subset, max(0, counted - effect.requests), answers,
                                seconds, errors_by_subset, latency)

    def _subset_of_hosts(self, upstream: str, subset_key: str) -> tuple[str, dict[str, str]]:
        """The upstream's Envoy cluster and host address -> subset value, from the endpoints served."""
        ns, name = _split(upstream)
        cluster = f"{name}_{ns}"
        served = self.conn.served(timeout=5.0) if self.conn.xds_address else None
        out: dict[str, str] = {}
        if served is not None:
            eds = {c.name: (c.eds_cluster_config.service_name or c.name) for c in served.clusters}
            for row in endpoint_rows(served.endpoints, "served"):
                if row.cluster in (cluster, eds.get(cluster)):
                    out[row.address] = str(row.metadata.get(subset_key, ""))
        else:
            # Without the stream, the endpoints a replica applied.
            for admin in self.conn.admins().values():
                applied = admin.applied()
                eds = {c.name: (c.eds_cluster_config.service_name or c.name) for c in applied.clusters}
                for row in endpoint_rows(applied.endpoints, "applied"):
                    if row.cluster in (cluster, eds.get(cluster)):
                        out[row.address] = str(row.metadata.get(subset_key, ""))
                break
        return cluster, out


def _host_counts(admins: Mapping[str, EnvoyAdmin], cluster: str,
                 counters: Sequence[str] = ("rq_total",)) -> list[dict[str, int]]:
    """Host counters (``rq_total``, ``rq_error``) per host address of one cluster, summed over every replica.

    One ``/clusters`` read per replica gives every counter asked for, so they are from the same moment.

    Returns:
        One ``address -> value`` dict per counter, in the order asked.
    """
    out: list[dict[str, int]] = [{} for _ in counters]
    for admin in admins.values():
        for ch in admin.clusters():
            if ch.name != cluster:
                continue
            for h in ch.hosts:
                for i, counter in enumerate(counters):
                    out[i][h.address] = out[i].get(h.address, 0) + h.stats.get(counter, 0)
    return out


def _has_expected(rows: Sequence[DriftRow], expected: Sequence[tuple[str, str, str]]) -> bool:
    have = {(d.virtual_host, d.match, d.by_source["intent"]) for d in rows}
    return all(tuple(e) in have for e in expected)


def _split(ref: str) -> tuple[str, str]:
    ns, _, name = ref.partition("/")
    return ns, name


def _jsonable(value: Any) -> Any:
    """Effects and observations as JSON (a World as its versions only: the recorder keeps resources)."""
    if isinstance(value, World):
        rt = value.route_table or {}
        return {"profile": value.profile, "routeTableResourceVersion": rt.get("metadata", {}).get("resourceVersion"),
                "servedVersion": value.served_version, "proxy": value.proxy}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def iter_reports(rollout: Rollout) -> Iterator[StepReport]:
    """Yield step reports until the rollout ends or a step fails (for loops in headless runbooks).

    Args:
        rollout: The rollout.

    Yields:
        One report per step.
    """
    while True:
        report = rollout.next()
        if report.outcome == "done":
            return
        yield report
        if not report.ok:
            return
