"""Helpers the notebooks' cells call: open a gateway (or a sandbox of its own), play seed steps, wait to settle.

A notebook run with no connection parameters starts its own sandbox through the ``gloo-nb sandbox``
CLI (a separate session, so it outlives nothing by accident: :func:`open_gateway` registers its stop
with the kernel's ``atexit`` as well as returning it, because papermill runs cells one by one and no
``try``/``finally`` can span them). Given a connection, the helpers use it and change nothing unless
the notebook's ``apply_changes`` parameter says so.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gloo_nb.analysis.headline import Headline, ResourceChange, changes_from_objects, headline, read_audit_changes
from gloo_nb.analysis.inspection import Inspection
from gloo_nb.analysis.probe import split
from gloo_nb.app.connect import GatewayConnection, connect, connect_sandbox
from gloo_nb.app.manifests import read_documents
from gloo_nb.app.probe import ProbeResult
from gloo_nb.app.resources import seed_scenario
from gloo_nb.app.rollout import Rollout, RolloutStopped, StepReport
from gloo_nb.app.snapshot import SnapshotBundle, open_snapshot
from gloo_nb.errors import GlooNbError, UsageError
from gloo_nb.kube import KubeClient, pod_ready

SEED = seed_scenario("part2")
"""The seed scenario's Part 2 manifests."""
SEED_PROFILE = "1.3"
"""The seed manifests only work in Gloo 1.3 (``servicePort: 8080``)."""

STEP4 = ("echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "rt-echo-1.yaml",
         "rt-foxtrot-1.yaml", "vs.yaml", "foxtrot-v2.yaml", "rt-foxtrot-3.yaml", "echo-v2.yaml", "rt-echo-2.yaml")
"""Steps 1 to 4 of the seed scenario (spec 6.2), in order: every route valid, foxtrot's weights 100/0."""
FOXTROT_START = ("echo.yaml", "foxtrot.yaml", "upstream-echo.yaml", "upstream-foxtrot.yaml", "rt-echo-1.yaml",
                 "rt-foxtrot-1.yaml", "vs.yaml", "foxtrot-v2.yaml", "echo-v2.yaml")
"""Where foxtrot's rollout starts: the seed's apps, upstreams and VirtualService, ``rt-foxtrot-1`` (all to v1)."""
INCIDENT = ("rt-echo-3.yaml", "rt-foxtrot-4.yaml")
"""Step 5: echo's upstream typo and foxtrot's weight change (0/100)."""
SETTINGS_PATCH = "settings-patch.yaml"
"""Step 6: ``replaceInvalidRoutes`` with a 404, as a merge patch on Settings ``gloo-system/default``."""
REVERT = ("rt-echo-2.yaml",)
"""Echo's typo reverted."""

SEED_NAMESPACES = ("echo", "foxtrot")
"""Where the seed scenario's apps run."""

TRANSIENT = frozenset({"pending", "replica-lagging", "absent"})
"""Drift states that change by themselves once the configuration has propagated."""


class NotebookError(UsageError):
    """A notebook helper cannot do what a cell asked; the message says what to pass or check."""


@dataclass
class NotebookGateway:
    """The gateway a notebook works on.

    Attributes:
        conn: The connection (inspection, probes).
        owned: Whether the notebook started this sandbox (then it may change it, and stops it).
        apply_changes: Whether cells may change the cluster.
        sandbox_dir: The sandbox's state directory, when connected to a sandbox.
        pid: The sandbox daemon's pid, when the notebook started it.
        audit_log: The cluster's audit log (``audit.k8s.io/v1`` Events as JSON lines), read for who changed what;
            default with a sandbox: its ``audit.jsonl``.
    """

    conn: GatewayConnection
    owned: bool
    apply_changes: bool
    sandbox_dir: Path | None = None
    pid: int | None = None
    audit_log: Path | None = None
    _temp: Path | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def may_change(self) -> bool:
        """Whether cells may change the cluster (own sandbox, or ``apply_changes``)."""
        return self.owned or self.apply_changes

    @property
    def gateway_url(self) -> str | None:
        """The front door for real requests (None when unknown)."""
        return self.conn.gateway_url

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` (or the connection's own close) was called."""
        return self._closed or self.conn.closed

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once when the connection closes (live widgets disable their actions then).

        Args:
            callback: Takes no argument.
        """
        self.conn.on_close(callback)

    def describe(self) -> str:
        """One line: the profile, the replicas, the front door and (own sandbox) the sandbox's pid and directory."""
        line = f"Gloo {self.conn.profile}, {len(self.conn.replicas)} replica(s), gateway {self.conn.gateway_url}"
        if self.owned:
            line += f"\nown sandbox pid {self.pid} in {self.sandbox_dir} (stopped at the end, or when the kernel exits)"
        return line

    def inspect(self) -> Inspection:
        """Read every source once; on the notebook's own sandbox, first wait until it has settled."""
        return self.settle() if self.owned else self.conn.collect()

    def changes(self) -> list[ResourceChange]:
        """Who wrote which resource when: the audit log, else each object's newest ``managedFields`` entry.

        The audit log is :attr:`audit_log`, else a sandbox's ``audit.jsonl``: with the same file the kubeconfig
        path names the same writers as the sandbox path (``gloo-nb --audit-log``).

        Returns:
            The changes (empty when neither is readable).
        """
        if self.audit_log is not None:
            return read_audit_changes(self.audit_log)
        if self.sandbox_dir is not None:
            return read_audit_changes(self.sandbox_dir / "audit.jsonl")
        try:
            return changes_from_objects(self.conn.read_objects())
        except GlooNbError:
            return []

    def headline(self, inspection: Inspection) -> Headline:
        """The inspection's headline (:func:`gloo_nb.analysis.headline.headline`), with who changed what, as of now.

        Args:
            inspection: A fresh inspection of this gateway.

        Returns:
            The headline.
        """
        return headline(inspection, changes=self.changes(), now=datetime.now(UTC))

    def apply(self, files: Sequence[str], folder: Path = SEED, *, as_teams: bool = False,
              adapt_ports: bool = False) -> list[str]:
        """Apply manifests (create or update), when changes are allowed.

        Args:
            files: File names under ``folder``, applied in order.
            folder: Where they are.
            as_teams: On the notebook's own sandbox, write each object of a team namespace as that team's
                developer (``<ns>-dev`` in group ``team-<ns>``, the seed's ``rbac.yaml``, applied first), as the
                teams do in the seed scenario: the audit log, and so the headline, then names who changed what.
            adapt_ports: Make the seed's Upstreams name their Service's port (:func:`for_profile`) when this
                gateway runs Gloo ``current``, which finds no endpoints for the seed's ``servicePort: 8080``.

        Returns:
            One line per object (``Kind ns/name outcome``), or one line saying nothing was changed.

        Raises:
            NotebookError: ``as_teams`` on anything but the notebook's own sandbox (it never impersonates on a
                cluster it was given).
        """
        if not self.may_change:
            return [f"not applied (read-only connection; pass apply_changes=True): {', '.join(files)}"]
        if as_teams and (not self.owned or self.sandbox_dir is None):
            raise NotebookError("apply(as_teams=True) writes as each team only on the notebook's own sandbox")
        lines = []
        if as_teams:
            for doc in read_documents(SEED.parent / "rbac.yaml"):
                self.conn.kube.apply(doc)
        for name in files:
            for doc in read_documents(folder / name):
                if adapt_ports:
                    doc = for_profile(doc, self.conn.profile)
                meta = doc.get("metadata", {})
                namespace = meta.get("namespace", "")
                if as_teams and namespace and namespace != self.conn.namespace:
                    kube = KubeClient.from_kubeconfig(str(Path(str(self.sandbox_dir)) / "kubeconfig"),
                                                      as_user=f"{namespace}-dev", as_group=f"team-{namespace}")
                    try:
                        outcome, _ = kube.apply(doc)
                    finally:
                        kube.api_client.close()
                    by = f", as {namespace}-dev"
                else:
                    outcome, _ = self.conn.kube.apply(doc)
                    by = ""
                lines.append(f"{doc['kind']} {namespace}/{meta['name']} {outcome} ({name}{by})")
        return lines

    def patch_settings(self, file: str = SETTINGS_PATCH, folder: Path = SEED) -> list[str]:
        """Merge-patch Settings ``<gloo namespace>/default``, when changes are allowed.

        Args:
            file: The merge patch's file name under ``folder``.
            folder: Where it is.

        Returns:
            What was done, one line.
        """
        if not self.may_change:
            return [f"not patched (read-only connection; pass apply_changes=True): {file}"]
        for doc in read_documents(folder / file):
            self.conn.kube.patch("Settings", self.conn.namespace, "default", doc)
        return [f"Settings {self.conn.namespace}/default patched ({file})"]

    def settle(self, *, timeout: float = 20.0, quiet: float = 0.3,
               namespaces: Sequence[str] = SEED_NAMESPACES) -> Inspection:
        """Wait until pods are ready and no route is pending or lagging, and stays so; return that inspection.

        Args:
            namespaces: Where to wait for the Deployments' pods (the seed's apps).
            timeout: Give up after this many seconds (the last inspection is returned).
            quiet: How long the drift states must stay unchanged.

        Returns:
            The last inspection.
        """
        deadline = time.monotonic() + timeout
        wait_pods(self.conn.kube, namespaces, deadline)
        last: list[tuple[str, str]] | None = None
        since = time.monotonic()
        while True:
            inspection = self.conn.collect(timeout=max(1.0, deadline - time.monotonic()))
            states = [(str(d["route"]), str(d["state"])) for d in inspection.drift]
            now = time.monotonic()
            if states != last:
                last, since = states, now
            settled = not any(state in TRANSIENT for _, state in states) and now - since >= quiet
            if settled or now >= deadline:
                return inspection
            time.sleep(0.1)

    def close(self) -> None:
        """Close the connection; stop the sandbox when the notebook started it. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.conn.close()
        if self.owned and self.sandbox_dir is not None:
            sandbox_cli("stop", self.sandbox_dir)
        if self._temp is not None:
            shutil.rmtree(self._temp, ignore_errors=True)


@dataclass
class NotebookSnapshot:
    """A snapshot bundle opened by a notebook: the same cells, read-only and offline (post-incident use).

    Attributes:
        bundle: The bundle (``gloo-nb snapshot save``).
    """

    bundle: SnapshotBundle
    owned: bool = False
    may_change: bool = False
    gateway_url: str | None = None

    def describe(self) -> str:
        """One line: the bundle, its profile, its replicas and when it was saved."""
        replicas = len(self.bundle.applied()[0])
        saved = self.bundle.meta.get("time", "at an unknown time")
        return f"Gloo {self.bundle.profile}, {replicas} replica(s), snapshot bundle {self.bundle.path} saved {saved}"

    def inspect(self) -> Inspection:
        """The bundle's inspection (intent, served and each replica as saved)."""
        return self.bundle.collect()

    def headline(self, inspection: Inspection) -> Headline:
        """The inspection's headline; a bundle records no writers, so actors and durations are unknown.

        Args:
            inspection: The bundle's inspection.

        Returns:
            The headline.
        """
        return headline(inspection)

    def apply(self, files: Sequence[str], folder: Path = SEED) -> list[str]:
        """Change nothing: a bundle is a record.

        Args:
            files: What a live notebook would apply.
            folder: Where they are.

        Returns:
            One line saying nothing was applied.
        """
        return [f"not applied (a snapshot bundle is read-only): {', '.join(files)}"]

    def close(self) -> None:
        """Nothing to close; here so cells can treat bundles and connections alike."""


INTERACTIVE_ENV = "GLOO_NB_INTERACTIVE"
"""Set to ``1`` or ``0`` to say whether a person runs the notebook, overriding what :func:`interactive` detects."""


def interactive() -> bool:
    """Whether a person runs this notebook in a front end that can ask them something (JupyterLab, VS Code).

    A front end a person uses sends ``allow_stdin: true`` with each cell (it can show ``input()``);
    papermill, ``nbconvert --execute`` and plain Python cannot ask anyone and send ``false`` (or have no
    kernel). That is the question the runbook asks before it pauses, so it is the one signal used;
    :data:`INTERACTIVE_ENV` overrides it (``1``/``0``).

    Returns:
        True when a person can answer.
    """
    forced = os.environ.get(INTERACTIVE_ENV, "").strip().lower()
    if forced in ("1", "true", "yes"):
        return True
    if forced in ("0", "false", "no"):
        return False
    try:
        from IPython import get_ipython  # noqa: PLC0415 - only notebooks have IPython; the CLI does not need it
    except ImportError:
        return False
    kernel = getattr(get_ipython(), "kernel", None)
    # ipykernel keeps the current execute_request's allow_stdin here (ipykernel/kernelbase.py, execute_request).
    return bool(getattr(kernel, "_allow_stdin", False))


class RunbookPause(NotebookError):  # noqa: N818 - a deliberate stop, not an error of the notebook
    """Raised on purpose by :func:`wait_for_human` to stop an interactive Run All at this cell.

    Jupyter front ends stop Run All at the first cell that ends in an error; this one renders as its
    message only (no traceback: ``_render_traceback_`` is IPython's hook for that).
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\u23f8 {line}" if i == 0 else line for i, line in enumerate(str(self).splitlines())]


def wait_for_human(message: str, *, headless: bool | None = None) -> None:
    """Stop an interactive Run All here (the runbook waits for a person); do nothing in headless runs.

    Args:
        message: What the person does next (shown instead of a traceback).
        headless: Whether nobody can answer (default: ``not interactive()``).

    Raises:
        RunbookPause: A person runs the notebook: Run All stops at this cell, on purpose.
    """
    if headless is None:
        headless = not interactive()
    if not headless:
        raise RunbookPause(message)


def sandbox_cli(action: str, state_dir: Path, *extra: str) -> str:
    """Run ``gloo-nb sandbox ACTION --state-dir DIR`` in a child process (the sandbox's CLI contract).

    Args:
        action: ``start``, ``stop`` or ``status``.
        state_dir: The state directory.
        *extra: More arguments.

    Returns:
        What it printed.

    Raises:
        NotebookError: It failed.
    """
    done = subprocess.run([sys.executable, "-m", "gloo_nb", "sandbox", action, "--state-dir", str(state_dir), *extra],
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        why = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise NotebookError(f"gloo-nb sandbox {action} --state-dir {state_dir} failed: {why[0]}")
    return done.stdout


def open_gateway(sandbox_dir: str | Path | None = None, kubeconfig: str | None = None, context: str | None = None,
                 as_user: str | None = None, as_group: str | None = None, gloo_version: str | None = None,
                 *, apply_changes: bool = False, replicas: int = 2,
                 snapshot_dir: str | Path | None = None,
                 audit_log: str | Path | None = None) -> NotebookGateway | NotebookSnapshot:
    """Connect as the notebook's parameters say, open a snapshot bundle, or start a sandbox of its own.

    The returned gateway's :meth:`NotebookGateway.close` is also registered with ``atexit``, so the
    sandbox stops when the kernel exits even if a cell failed before the notebook's last cell.

    Args:
        sandbox_dir: A running sandbox's state directory.
        kubeconfig: A kubeconfig (with ``context``, ``as_user``, ``as_group``).
        context: The kubeconfig context.
        as_user: Impersonate this user.
        as_group: Impersonate this group.
        gloo_version: ``1.3`` or ``current``; for an own sandbox, default ``1.3`` (the seed scenario's).
        apply_changes: Whether cells may change a given connection's cluster.
        replicas: Envoy replicas of an own sandbox.
        snapshot_dir: A snapshot bundle (``gloo-nb snapshot save``): read it offline instead of connecting.
        audit_log: The cluster's audit log, read for who changed what (:attr:`NotebookGateway.audit_log`).

    Returns:
        The gateway, or the opened bundle.

    Raises:
        NotebookError: More than one of sandbox, kubeconfig and snapshot was given, or the own sandbox did not start.
    """
    if sum(bool(x) for x in (sandbox_dir, kubeconfig or context, snapshot_dir)) > 1:
        raise NotebookError("give one of sandbox_dir, kubeconfig (with context) or snapshot_dir, not several")
    if snapshot_dir:
        return NotebookSnapshot(open_snapshot(snapshot_dir, gloo_version=gloo_version))
    if sandbox_dir:
        return NotebookGateway(connect_sandbox(sandbox_dir, as_user=as_user, as_group=as_group), owned=False,
                               apply_changes=apply_changes, sandbox_dir=Path(sandbox_dir),
                               audit_log=Path(audit_log) if audit_log else None)
    if kubeconfig or context:
        conn = connect(kubeconfig, context=context, as_user=as_user, as_group=as_group, gloo_version=gloo_version)
        return NotebookGateway(conn, owned=False, apply_changes=apply_changes,
                               audit_log=Path(audit_log) if audit_log else None)
    return own_sandbox(gloo_version or SEED_PROFILE, replicas=replicas, as_user=as_user, as_group=as_group)


def own_sandbox(gloo_version: str, *, replicas: int = 2, validation: str | None = None, as_user: str | None = None,
                as_group: str | None = None) -> NotebookGateway:
    """Start a sandbox the notebook owns: stopped by :meth:`NotebookGateway.close`, the kernel's exit, or its death.

    Args:
        gloo_version: ``1.3`` or ``current``.
        replicas: Envoy replicas.
        validation: ``gloo-nb sandbox start --validation`` (``accept``, ``errors``, ``strict``, ``off``); None: the
            sandbox's default.
        as_user: Impersonate this user.
        as_group: Impersonate this group.

    Returns:
        The gateway (``owned``).

    Raises:
        NotebookError: The sandbox did not start.
    """
    temp = Path(tempfile.mkdtemp(prefix="gloo-nb-notebook-"))
    state = temp / "sandbox"
    extra = ("--validation", validation) if validation else ()
    try:
        info = json.loads(sandbox_cli("start", state, "--gloo-version", gloo_version,
                                      "--replicas", str(replicas), *extra,
                                      # the kernel may be killed before atexit runs: the sandbox follows it
                                      "--exit-with", str(os.getpid())))
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    try:
        conn = connect_sandbox(state, as_user=as_user, as_group=as_group)
    except BaseException:
        with contextlib.suppress(GlooNbError):
            sandbox_cli("stop", state)
        shutil.rmtree(temp, ignore_errors=True)
        raise
    gateway = NotebookGateway(conn, owned=True, apply_changes=True, sandbox_dir=state, pid=info.get("pid"),
                              _temp=temp)
    atexit.register(gateway.close)
    return gateway


def wait_pods(kube: KubeClient, namespaces: Sequence[str], deadline: float) -> None:
    """Wait until the namespaces' Deployments have their ready pods and no extra ones (or the deadline).

    Args:
        kube: The Kubernetes client.
        namespaces: The namespaces.
        deadline: ``time.monotonic()`` value to give up at.
    """
    for ns in namespaces:
        while time.monotonic() < deadline:
            deploys = kube.list("Deployment", ns)["items"]
            pods = kube.list("Pod", ns)["items"]
            want = sum(int(d.get("spec", {}).get("replicas", 1)) for d in deploys)
            if len([p for p in pods if pod_ready(p)]) == want == len(pods):
                break
            time.sleep(0.05)


def probe_line(label: str, result: ProbeResult) -> str:
    """One line for a probe: each answer with its count and Wilson interval; requests that got no answer apart.

    A transport failure (``ConnectionRefusedError``) is not an answer of the gateway: it is listed as
    ``no answer: <error> xN``, never as a share with an interval, and the intervals count the answered
    requests only.

    Args:
        label: What was probed (printed first).
        result: :func:`gloo_nb.app.probe.probe`'s result.

    Returns:
        The line.
    """
    answered = result.responses if len(result.responses) + len(result.errors) == len(result.answers) \
        else result.answers
    parts = [f"{s.answer} x{s.count} [{s.low:.2f}, {s.high:.2f}]" for s in split(answered)] if answered else []
    if result.errors:
        names: dict[str, int] = {}
        for name in result.errors:
            names[name] = names.get(name, 0) + 1
        parts.append("no answer: " + ", ".join(f"{k} x{v}" for k, v in names.items())
                     + f" ({len(result.errors)} of {len(result.answers)} requests)")
    return f"{label} {', '.join(parts)}"


class RunbookSteps:
    """Notebook 02's step cells: run the plan's steps up to one, printing what each did (the headless record).

    One place for what every step cell does, so that the cells stay one call each: a step already proven (by
    the stepper's button, or an earlier run) is not run again; in a dry run a previewed step is not previewed
    again; a failed step stops the notebook (:class:`~gloo_nb.app.rollout.RolloutStopped`). With weights other
    than the cells' (10, 50, 100), a cell runs the weight steps before it too.

    Args:
        rollout: The rollout.
        out: Where the lines go (default: print).

    Attributes:
        planned: The plan's steps by id, in order (:meth:`print_plan` fills it).
        stepper: A :class:`~gloo_nb.widgets.rollout.RolloutStepper` refreshed after each step, once shown.
    """

    def __init__(self, rollout: Rollout, *, out: Callable[[str], None] = print) -> None:
        self.rollout = rollout
        self.out = out
        self.planned: dict[str, Any] = {}
        self.previewed: list[str] = []
        self.stepper: Any = None

    def print_plan(self) -> dict[str, Any]:
        """Print the plan, one line per step, with the guards predicted to refuse it.

        Returns:
            :attr:`planned`.
        """
        self.planned = {}
        for p in self.rollout.plan():
            self.planned[p.step] = p
            failing = [f"{g.name} ({g.reason})" for g in p.guards if not g.ok]
            self.out(f"{p.step:12} {p.description}"
                     + (f"\n{'':12} predicted to be refused by: {'; '.join(failing)}" if failing else ""))
        return self.planned

    def _done(self, step_id: str) -> bool:
        if self.rollout.dry_run:
            return step_id in self.previewed
        return any(s.step == step_id and s.state == "proven" for s in self.rollout.status().steps)

    def run(self, step_id: str) -> StepReport | None:
        """Run the plan's steps up to ``step_id`` (a dry run shows their diffs and guards).

        Args:
            step_id: e.g. ``phase1``, ``phase2-50``, ``finish``.

        Returns:
            The last step's report; None when nothing ran (not in the plan, already done, or the rollout is done).

        Raises:
            RolloutStopped: A step failed (its guards refused, or its proof did not hold).
        """
        if not self.planned:
            self.planned = {p.step: p for p in self.rollout.plan()}
        if step_id not in self.planned:
            target = self.rollout.target
            self.out(f"{step_id}: not in this plan (already proven, or not one of weights "
                     f"{','.join(map(str, target.weights))} / until {target.until})")
            return None
        report: StepReport | None = None
        for _ in range(len(self.planned) + 1):
            if self._done(step_id):
                if report is None:
                    self.out(f"{step_id}: already {'previewed' if self.rollout.dry_run else 'proven'}")
                break
            report = self.rollout.next()
            if report.outcome == "done":
                self.out(f"{step_id}: {report.reason}")
                return None
            self.previewed.append(report.step)
            self.out(report.text())
            if self.rollout.dry_run and report.diff:
                self.out(report.diff)
            if self.stepper is not None:
                self.stepper.refresh()  # the widget shows what the cell did
            if not report.ok:
                raise RolloutStopped(f"{report.step} {report.outcome}: {report.reason}; see rollout.status(), "
                                     f"or rollout.rollback()")
        return report


# --- notebook 03's third answer: Gloo's webhook with strict validation (issue 19) ---------------------------------

CURRENT_SEED_SERVICE_PORT = 80
"""The seed Services' port (``targetPort: 8080``), which current Gloo needs in an Upstream's ``servicePort``."""

THIRD_ANSWER_PROFILE = "current"
"""The profile whose webhook refuses echo's typo under strict validation (1.3's admits it)."""

ANSWERS = ("last-known-good", "replaceInvalidRoutes", "webhook (strict)")
"""The three answers to the seed's incident, in the order notebook 03 shows them."""


def for_profile(doc: Any, profile: str) -> Any:
    """A seed manifest as a ``current`` gateway needs it: a kube Upstream names its Service's port.

    The seed was written for Gloo 1.3, whose kube EDS takes a single-port Service's port whatever ``servicePort``
    says; current Gloo (v1.12.0+) finds no endpoints when ``servicePort`` is not one of the Service's ports
    (:mod:`gloo_nb.translate.eds`). Other documents and profiles are returned as they are.

    Args:
        doc: One manifest document.
        profile: The gateway's profile.

    Returns:
        The document (a changed copy for a seed Upstream under ``current``).
    """
    if profile == "1.3" or not isinstance(doc, dict) or doc.get("kind") != "Upstream":
        return doc
    kube = (doc.get("spec") or {}).get("kube") or {}
    if kube.get("servicePort") != 8080:
        return doc
    return {**doc, "spec": {**doc["spec"], "kube": {**kube, "servicePort": CURRENT_SEED_SERVICE_PORT}}}


def share_text(result: ProbeResult | None) -> str:
    """A probe's answers in a few words (``200 version:foxtrot-v2 x20``), for the answers' table.

    Args:
        result: The probe, or None when none was made.

    Returns:
        The answers, most frequent first; transport failures apart; ``-`` for no probe.
    """
    if result is None:
        return "-"
    parts = [f"{_cut(s.answer.splitlines()[0] if s.answer else '(empty)')} x{s.count}"
             for s in split(result.responses)]
    if result.errors:
        parts.append(f"no answer x{len(result.errors)}")
    return ", ".join(parts) or "-"


def _cut(text: str, width: int = 44) -> str:
    # A table cell stays readable in a notebook's plain-text output (pandas cuts cells at 50 characters).
    return text if len(text) <= width else text[:width - 1] + "\u2026"


@dataclass
class IncidentAnswers:
    """What users of echo and foxtrot got under each answer to the seed's incident, as notebook 03 probed it.

    Attributes:
        probes: ``(answer, team) -> probe`` (``team`` ``echo`` is echo's canary route, ``foxtrot`` is ``/foxtrot``).
        seen_at: ``answer -> time.monotonic()`` of its first probe (how long each state lasted in this run).
    """

    probes: dict[tuple[str, str], ProbeResult] = field(default_factory=dict)
    seen_at: dict[str, float] = field(default_factory=dict)

    def observe(self, answer: str, path: str, result: ProbeResult | None) -> None:
        """Record one probe of a section.

        Args:
            answer: ``last-known-good``, ``replaceInvalidRoutes`` or ``reverted``.
            path: The probed path (``/foxtrot``, ``/echo``).
            result: The probe (None: nothing was probed, e.g. no gateway URL).
        """
        self.seen_at.setdefault(answer, time.monotonic())
        if result is not None:
            self.probes[(answer, path.strip("/").split("/")[0])] = result

    def _lasted(self, start: str, end: str) -> str:
        if start in self.seen_at and end in self.seen_at:
            return f"{self.seen_at[end] - self.seen_at[start]:.1f} s here"
        return "-"

    def table(self, third: WebhookAnswer) -> Any:
        """The three answers side by side: who is blocked, what users of echo and foxtrot get, how long.

        Args:
            third: The webhook section's answer (:func:`strict_webhook_answer`).

        Returns:
            A pandas DataFrame, one row per answer.
        """
        import pandas as pd  # noqa: PLC0415 - only the notebook's table needs pandas

        rows = [
            (ANSWERS[0], "every team (foxtrot waits behind echo)",
             share_text(self.probes.get(("last-known-good", "echo"))) + " (old config)",
             share_text(self.probes.get(("last-known-good", "foxtrot"))) + " (old weights)",
             "until fixed or patched: " + self._lasted("last-known-good", "replaceInvalidRoutes")),
            (ANSWERS[1], "nobody (echo's broken route replaced)",
             share_text(self.probes.get(("replaceInvalidRoutes", "echo"))),
             share_text(self.probes.get(("replaceInvalidRoutes", "foxtrot"))),
             "until echo reverts: " + self._lasted("replaceInvalidRoutes", "reverted")),
            (ANSWERS[2], third.blocked, third.echo_text, third.foxtrot_text, third.how_long),
        ]
        return pd.DataFrame.from_records(rows, columns=["answer", "who is blocked", "echo canary users get",
                                                        "foxtrot users get", "how long"]).set_index("answer")


@dataclass
class WebhookAnswer:
    """Notebook 03's third answer: Gloo's validating webhook with strict validation, in front of the incident.

    Attributes:
        headline: The answer, one line.
        denial: Echo's typo refused, as ``kubectl apply`` printed it (own sandbox), or ``""``.
        applied: What was applied on the strict sandbox, one line per object.
        verdicts: ``gloo-nb check --webhook``'s lines for the incident's files under strict Settings (a user's
            cluster: the prediction instead of writing; own sandbox: beside what happened).
        probes: The probe lines through the strict sandbox's gateway.
        gloo13: One line: what Gloo 1.3's webhook would have done with the typo, and why.
        blocked: Who is blocked, for the answers' table.
        echo_text: What echo's canary users get.
        foxtrot_text: What foxtrot's users get.
        how_long: How long, for the answers' table.
        foxtrot: The ``/foxtrot`` probe through the strict sandbox (None: not run).
        echo: The ``/echo`` canary probe through the strict sandbox (None: not run).
        sandbox: The second sandbox's ``own sandbox pid ... in ...`` line (stopped by now), or ``""``.
    """

    headline: str
    denial: str = ""
    applied: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    gloo13: str = ""
    blocked: str = ""
    echo_text: str = "-"
    foxtrot_text: str = "-"
    how_long: str = "-"
    foxtrot: ProbeResult | None = None
    echo: ProbeResult | None = None
    sandbox: str = ""

    def text(self) -> str:
        """The section's output: the answer first, then kubectl's denial, the gateway's answers, the predictions.

        Returns:
            The lines.
        """
        lines = [self.headline]
        if self.denial:
            lines += ["", "$ kubectl apply -f rt-echo-3.yaml   # as echo-dev", self.denial.rstrip()]
        if self.probes:
            lines += ["", *self.probes]
        if self.verdicts:
            lines += ["", "gloo-nb check --webhook --validation strict (the incident's files):", *self.verdicts]
        if self.gloo13:
            lines += ["", self.gloo13]
        if self.sandbox:
            lines += ["", self.sandbox]
        return "\n".join(lines)


def _incident_resources() -> list[Any]:
    from gloo_nb.app.manifests import read_manifests  # noqa: PLC0415 - keeps this module's imports light

    return list(read_manifests([str(SEED / f) for f in INCIDENT]).resources)


def _gloo13_line(snapshot: Any) -> str:
    # Asked of the pure decision, not asserted: Gloo 1.3's webhook with alwaysAccept: false on the same snapshot.
    from gloo_nb.translate.webhook import decide_all, with_validation_mode  # noqa: PLC0415

    typo = [r for r in _incident_resources() if r.kind == "RouteTable" and r.meta.namespace == "echo"]
    verdict = decide_all(snapshot, typo, "1.3", with_validation_mode(snapshot.settings, "strict", "1.3"))[0]
    if not verdict.decision.allowed:
        return f"Gloo 1.3's webhook would have refused the typo too: {verdict.line()}"
    return ("Gloo 1.3's webhook would have admitted the typo even with alwaysAccept: false: a missing upstream is "
            "a warning there, 1.3 counts only errors (it has no allowWarnings), and it validates a RouteTable only "
            "for VirtualServices that name it (routesContainRefs skips the seed's selectors).")


def _predictions(snapshot: Any, profile: str) -> list[str]:
    from gloo_nb.translate.webhook import decide_all, with_validation_mode  # noqa: PLC0415

    settings = with_validation_mode(snapshot.settings, "strict", profile)  # type: ignore[arg-type]
    return [v.line() for v in decide_all(snapshot, _incident_resources(), profile, settings)]  # type: ignore[arg-type]


def _kubectl_apply(gw: NotebookGateway, path: Path, user: str, group: str) -> tuple[bool, str]:
    # Real kubectl when there is one, so the denial is exactly what a developer sees; else the API's message in
    # kubectl's words for a refused patch (k8s.io/kubectl/pkg/cmd/apply/apply.go: "error when patching").
    kubectl = shutil.which("kubectl")
    assert gw.sandbox_dir is not None
    if kubectl is not None:
        # From the file's folder, as a developer applies it: kubectl names the file as given.
        done = subprocess.run([kubectl, "--kubeconfig", str(gw.sandbox_dir / "kubeconfig"), "apply", "-f", path.name,
                               "--as", user, "--as-group", group], capture_output=True, text=True, timeout=60,
                              check=False, cwd=str(path.parent))
        return done.returncode == 0, (done.stdout + done.stderr).rstrip()
    kube = KubeClient.from_kubeconfig(str(gw.sandbox_dir / "kubeconfig"), as_user=user, as_group=group)
    try:
        for doc in read_documents(path):
            kube.apply(doc)
    except GlooNbError as exc:
        message = str(exc).split(": ", 1)[-1]
        return False, f'Error from server: error when patching "{path.name}": {message}'
    finally:
        kube.api_client.close()
    return True, f"{path.name}: applied"


def strict_webhook_answer(gw: NotebookGateway | NotebookSnapshot, *, replicas: int = 1) -> WebhookAnswer:
    """Notebook 03's third answer to the seed's incident: Gloo's webhook with strict validation.

    On the notebook's own sandbox: a second own sandbox (``current``, ``--validation strict``) replays steps 1-4
    (the seed's Upstreams naming their Service's port, :func:`for_profile`) and the incident, each team as
    itself: echo's typo is refused by ``kubectl apply`` with Gloo's message, foxtrot's change (0/100) is applied
    and served; real requests through its gateway show both. The second sandbox is stopped before this returns,
    also on failure (and with the kernel, as the first). On a given connection: ``gloo-nb check --webhook``'s
    prediction for the incident's files under strict Settings, against what the cluster holds; nothing is
    written.

    Args:
        gw: The notebook's gateway.
        replicas: Envoy replicas of the second sandbox.

    Returns:
        The answer.
    """
    if not isinstance(gw, NotebookGateway) or not gw.owned:
        return _predicted_answer(gw)
    strict = own_sandbox(THIRD_ANSWER_PROFILE, replicas=replicas, validation="strict")
    try:
        return _replayed_answer(strict)
    finally:
        strict.close()


def _predicted_answer(gw: NotebookGateway | NotebookSnapshot) -> WebhookAnswer:
    if isinstance(gw, NotebookSnapshot):
        snapshot = gw.bundle.collect().translation.snapshot
        profile = gw.bundle.profile
    else:
        snapshot, _ = gw.conn.read_snapshot()
        profile = gw.conn.profile
    verdicts = [f"Gloo {p}: {line}" for p in dict.fromkeys((profile, THIRD_ANSWER_PROFILE))
                for line in _predictions(snapshot, p)]
    denied = any(": denied: " in v for v in verdicts if v.startswith(f"Gloo {THIRD_ANSWER_PROFILE}:"))
    headline = ("Predicted, nothing written: under strict validation current Gloo's webhook "
                + ("refuses echo's typo at apply" if denied else "admits these files on this cluster")
                + " (the incident's files against what this cluster holds; see the lines below).")
    return WebhookAnswer(headline, verdicts=verdicts, gloo13=_gloo13_line(snapshot),
                         blocked="echo's typo, at apply (predicted)" if denied else "nobody (predicted)",
                         echo_text="old config (predicted)" if denied else "-",
                         foxtrot_text="its change (predicted)" if denied else "-",
                         how_long="never in (predicted)" if denied else "-")


def _replayed_answer(strict: NotebookGateway) -> WebhookAnswer:
    applied = strict.apply(STEP4, adapt_ports=True)  # as notebook 03 does: steps 1-4 by the admin
    before, _ = strict.conn.read_snapshot()
    verdicts = _predictions(before, THIRD_ANSWER_PROFILE)
    for doc in read_documents(SEED.parent / "rbac.yaml"):
        strict.conn.kube.apply(doc)  # the teams' identities, before each team writes as itself
    ok, denial = _kubectl_apply(strict, SEED / INCIDENT[0], "echo-dev", "team-echo")
    started = time.monotonic()
    applied += strict.apply(INCIDENT[1:], as_teams=True, adapt_ports=True)
    inspection = strict.settle()
    served_after = time.monotonic() - started
    probes: list[str] = []
    fox = echo = None
    if strict.gateway_url:
        fox = _probe(strict.gateway_url + "/foxtrot")
        echo = _probe(strict.gateway_url + "/echo", {"stage": "canary"})
        probes = [probe_line("/foxtrot :", fox), probe_line("/echo {'stage': 'canary'}:", echo)]
    served = inspection.translation.push.decision == "push" and not ok
    headline = ("Gloo's webhook (current, strict validation) refused echo's typo at kubectl apply; foxtrot's change "
                f"(0/100) was applied and served {served_after:.1f} s later, nobody blocked."
                if served else
                f"Gloo's webhook (current, strict validation): echo's typo was {'ADMITTED' if ok else 'refused'}; "
                f"the control plane's push decision is {inspection.translation.push.decision}.")
    return WebhookAnswer(
        headline, denial=denial if not ok else "", applied=applied, verdicts=verdicts, probes=probes,
        gloo13=_gloo13_line(before),
        blocked="echo's typo only, at kubectl apply" if not ok else "-",
        echo_text=share_text(echo) + " (old config)",
        foxtrot_text=share_text(fox),
        how_long=f"never in; foxtrot served after {served_after:.1f} s",
        foxtrot=fox, echo=echo,
        sandbox=f"second own sandbox pid {strict.pid} in {strict.sandbox_dir} (current, --validation strict; "
                f"stopped now)")


def _probe(url: str, headers: dict[str, str] | None = None, n: int = 20) -> ProbeResult:
    from gloo_nb.app.probe import probe  # noqa: PLC0415

    return probe(url, n, headers=headers)
