"""Live widgets are honest about their connection, and the stepper waits for a person (issue 16).

The probe and the stepper run here against fakes (a fake prober, a fake rollout and connection), so
every assertion is about the widgets' own decisions: what they show, and what they let a person do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from gloo_nb.analysis.probe import split
from gloo_nb.app import notebook as nb
from gloo_nb.app.probe import ProbeResult, probe
from gloo_nb.app.rollout import StepReport
from gloo_nb.kube import KubeError
from gloo_nb.models import Snapshot
from gloo_nb.rollout import RolloutStatus, RolloutTarget, StepStatus
from gloo_nb.translate import Translator
from gloo_nb.widgets._live import (
    CLOSED,
    UNREACHABLE,
    connection_problem,
    failures_html,
    is_transport_error,
    probe_outcome,
)
from gloo_nb.widgets.probe import ProbeView
from gloo_nb.widgets.rollout import (
    RolloutStepper,
    next_label,
    progress_html,
    progress_rows,
    rollback_label,
    standing_html,
)

pytestmark = pytest.mark.unit

TARGET = RolloutTarget("foxtrot/foxtrot-routes", "gloo-system/foxtrot", "version", "v1", "v2", weights=(10, 50, 100))
STEPS = ("phase1", "phase2-0", "phase2-10", "phase2-50", "phase2-100", "finish")


class FakeConn:
    """A connection with GatewayConnection's close protocol (closed, on_close) and a switch to go unreachable."""

    def __init__(self) -> None:
        self.closed = False
        self.down = False
        self.listeners: list[Callable[[], None]] = []
        self.gateway_url = "http://127.0.0.1:1"

    def on_close(self, callback: Callable[[], None]) -> None:
        self.listeners.append(callback)

    def close(self) -> None:
        self.closed = True
        for cb in self.listeners:
            cb()

    def collect(self) -> Any:
        if self.down:
            raise KubeError("GET /api/v1/pods: cannot reach the Kubernetes API at http://127.0.0.1:1: MaxRetryError")

        @dataclass
        class Inspection:  # what the stepper reads: the drift rows, and for its headline the translation
            drift: list[Any] = field(default_factory=list)
            translation: Any = field(default_factory=lambda: Translator("1.3").translate(Snapshot.from_resources([])))
            findings: list[Any] = field(default_factory=list)
            rows: list[Any] = field(default_factory=list)
            resources: dict[Any, str] = field(default_factory=dict)

        return Inspection()


class FakeRollout:
    """The parts of Rollout the stepper uses; steps prove themselves in order and tell their phases."""

    def __init__(self, proven: int = 1) -> None:
        self.conn = FakeConn()
        self.target = TARGET
        self.dry_run = False
        self.reports: list[StepReport] = []
        self.progress: Callable[[str, str], None] | None = None
        self.proven = proven
        self.calls: list[str] = []
        self.progress_seen_by_panes: list[str] = []

    def status(self) -> RolloutStatus:
        if self.conn.down:
            raise KubeError("GET /apis/gateway.solo.io/v1/namespaces/foxtrot/routetables/foxtrot-routes: cannot "
                            "reach the Kubernetes API at http://127.0.0.1:1: MaxRetryError")
        steps = tuple(StepStatus(s, f"does {s}", "proven" if i < self.proven else "pending")
                      for i, s in enumerate(STEPS))
        return RolloutStatus(TARGET.route_table, f"live after {self.proven}", steps,
                             STEPS[self.proven - 1] if self.proven else None,
                             STEPS[self.proven] if self.proven < len(STEPS) else None)

    def next(self) -> StepReport:
        self.calls.append("next")
        assert self.progress is not None
        for phase, detail in (("guards", "checking"), ("apply", "writing"), ("converge", "served: yes"),
                              ("proof", "without-header: 500 of 1000 requests sent")):
            self.progress(phase, detail)
        step = STEPS[self.proven]
        self.proven += 1
        report = StepReport(step, "proven", "ok")
        self.reports.append(report)
        return report

    def rollback(self, to: str | None) -> StepReport:
        self.calls.append(f"rollback {to}")
        self.proven = STEPS.index(to) + 1 if to and to != "start" else 0
        report = StepReport(f"rollback-{to}", "proven", "restored")
        self.reports.append(report)
        return report


# --- the connection view-model ----------------------------------------------------------------


def test_a_closed_connection_says_run_the_connect_cell_again() -> None:
    conn = FakeConn()
    assert connection_problem(conn) is None
    conn.close()
    problem = connection_problem(conn, ConnectionRefusedError())
    assert problem is not None and problem.headline == CLOSED == "connection closed: run the connect cell again"


def test_transport_errors_are_unreachable_other_errors_are_not() -> None:
    import urllib3

    assert is_transport_error(ConnectionRefusedError()) and is_transport_error(KubeError("x: MaxRetryError"))
    assert is_transport_error(urllib3.exceptions.MaxRetryError(None, "/x"))
    assert not is_transport_error(ValueError("bad input"))
    problem = connection_problem(FakeConn(), KubeError("cannot reach: MaxRetryError"))
    assert problem is not None and problem.headline == UNREACHABLE and "MaxRetryError" in problem.detail
    assert connection_problem(FakeConn(), ValueError("x")) is None


def test_probe_outcome_keeps_transport_failures_out_of_the_split() -> None:
    everything_failed = probe_outcome(["0 ConnectionRefusedError"] * 200, ["ConnectionRefusedError"] * 200)
    assert everything_failed.unreachable and everything_failed.shares == []
    assert everything_failed.failures == [("ConnectionRefusedError", 200)]
    html = failures_html(everything_failed, "http://gw")
    assert "all 200 requests failed (ConnectionRefusedError x200)" in html and "%" not in html
    some = probe_outcome(["200 v1"] * 97 + ["0 ConnectionResetError"] * 3, ["ConnectionResetError"] * 3)
    assert not some.unreachable and [(s.answer, s.count, s.total) for s in some.shares] == [("200 v1", 97, 97)]
    assert "3 of 100 requests got no answer" in failures_html(some, "http://gw")
    assert failures_html(probe_outcome(["200 v1"], []), "http://gw") == ""


def test_the_real_prober_reports_refused_connections_as_errors() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    result = probe(f"http://127.0.0.1:{port}/", 5)
    assert result.errors == ["ConnectionRefusedError"] * 5 and result.responses == []
    assert result.answers == ["0 ConnectionRefusedError"] * 5  # unchanged for the rollout's proofs


# --- the probe widget ---------------------------------------------------------------------------


def refused(url: str, requests: int, *, headers: dict[str, str], progress: Any) -> ProbeResult:
    result = ProbeResult(url, headers, ["0 ConnectionRefusedError"] * requests,
                         errors=["ConnectionRefusedError"] * requests)
    result.shares = split(result.answers)
    return result


def test_probe_view_shows_an_unreachable_gateway_as_an_error_not_a_share() -> None:
    view = ProbeView("http://127.0.0.1:1", requests=200, prober=refused)
    view.run()
    assert "all 200 requests failed (ConnectionRefusedError x200)" in view.output.value
    assert "100.0 %" not in view.output.value and "Wilson" not in view.output.value
    assert not view.button.disabled  # nothing says it was closed: trying again is allowed


def test_closing_the_connection_disables_the_probe_button_and_says_so() -> None:
    conn = FakeConn()
    calls: list[str] = []

    def prober(url: str, requests: int, *, headers: dict[str, str], progress: Any) -> ProbeResult:
        calls.append(url)
        return refused(url, requests, headers=headers, progress=progress)

    view = ProbeView(conn, path="/foxtrot", prober=prober)
    assert view.gateway_url == "http://127.0.0.1:1" and not view.button.disabled
    conn.close()
    assert view.button.disabled and CLOSED in view.status.value
    assert view.run() is None and calls == []  # nothing sent over a closed connection


def test_a_notebook_gateway_tells_its_widgets_when_it_closes() -> None:
    conn = FakeConn()
    conn.kube = None  # type: ignore[attr-defined]
    gw = nb.NotebookGateway(conn, owned=False, apply_changes=False)  # type: ignore[arg-type]
    view = ProbeView(gw, prober=refused)
    assert not gw.closed and not view.button.disabled
    gw.close()
    assert gw.closed and view.button.disabled and CLOSED in view.status.value


# --- the stepper: labels, progress, standing -------------------------------------------------


def test_buttons_name_what_they_do() -> None:
    assert next_label("phase2-50", TARGET) == "promote to 50 %"
    assert next_label("phase2-0", TARGET) == "weighted destinations (v2 0 %)"
    assert next_label("phase1", TARGET) == "start phase 1: stage=canary to v2"
    assert next_label("finish", TARGET) == "finish: v2 only"
    assert next_label("phase2-10", TARGET, dry_run=True) == "preview: promote to 10 %"
    assert next_label(None, TARGET) == "rollout done"
    assert rollback_label("phase2-10") == "roll back to phase2-10"


def test_progress_rows_mark_done_running_waiting() -> None:
    assert [s for _, s, _ in progress_rows([])] == ["waiting"] * 4
    rows = progress_rows([("guards", "checking"), ("apply", "writing"), ("converge", "served: yes; p0: waiting"),
                          ("converge", "served: yes; p0: applied")])
    assert rows == [("guards", "done", "checking"), ("apply", "done", "writing"),
                    ("converge", "running", "served: yes; p0: applied"), ("proof", "waiting", "")]
    html = progress_html("promote to 50 %", [("proof", "without-header: 300 of 1000 requests sent")])
    assert "<b>promote to 50 %</b> running" in html and "300 of 1000 requests sent" in html


def test_after_a_rollback_the_header_says_where_the_rollout_stands() -> None:
    rollout = FakeRollout(proven=2)
    st = rollout.status()
    assert standing_html(st, StepReport("phase2-0", "proven")) == ""
    html = standing_html(st, StepReport("rollback-phase2-0", "proven", "restored"))
    assert "rolled back to phase2-0</b> (done): the rollout stands at checkpoint <code>phase2-0</code>" in html
    assert "next step: <code>phase2-10</code>" in html


# --- the stepper widget ---------------------------------------------------------------------


def test_the_next_button_performs_exactly_one_named_step_with_a_progress_row() -> None:
    rollout = FakeRollout(proven=3)
    view = RolloutStepper(rollout)  # type: ignore[arg-type]
    assert view.next_button.description == "promote to 50 %" and not view.next_button.disabled
    shown: list[str] = []
    view.progress.observe(lambda c: shown.append(c["new"]), names="value")
    panes: list[str] = []
    view.guards.observe(lambda c: panes.append(c["new"]), names="value")
    view.next_button.click()
    assert rollout.calls == ["next"] and view.report is not None and view.report.step == "phase2-50"
    # While it ran: the phases (proof with requests sent out of needed), and the old results put away.
    assert any("&#9654; <b>proof</b> (without-header: 500 of 1000 requests sent)" in s for s in shown)
    assert panes[0].startswith("<i>promote to 50 % running")
    assert view.progress.value == "" and view.next_button.description == "promote to 100 %"


def test_rollback_asks_for_confirmation_in_the_widget() -> None:
    rollout = FakeRollout(proven=4)
    view = RolloutStepper(rollout)  # type: ignore[arg-type]
    view.checkpoint.value = "phase2-10"
    assert view.rollback_button.description == "roll back to phase2-10"
    view.rollback_button.click()
    assert rollout.calls == [] and view.confirm.layout.display == "flex"
    assert view.confirm_button.description == "yes, roll back to phase2-10"
    view.cancel_button.click()
    assert rollout.calls == [] and view.confirm.layout.display == "none"
    view.rollback_button.click()
    view.confirm_button.click()
    assert rollout.calls == ["rollback phase2-10"] and view.confirm.layout.display == "none"
    assert "rolled back to phase2-10</b> (done): the rollout stands at checkpoint <code>phase2-10</code>" \
        in view.header.value


def test_an_unreachable_gateway_disables_the_stepper_without_a_raw_exception() -> None:
    rollout = FakeRollout()
    view = RolloutStepper(rollout)  # type: ignore[arg-type]
    rollout.conn.down = True
    view.refresh()
    assert view.header.value.startswith('<div class="gloo-nb connection-problem"')
    headline = view.header.value.split("<details>")[0]
    assert f"<b>{UNREACHABLE}</b>" in headline and "MaxRetryError" not in headline
    assert view.next_button.disabled and view.rollback_button.disabled
    rollout.conn.down = False
    view.check_button.click()  # the gateway is back: check again re-enables
    assert not view.next_button.disabled and view.problem is None


def test_closing_the_connection_disables_the_stepper_at_once() -> None:
    rollout = FakeRollout()
    view = RolloutStepper(rollout)  # type: ignore[arg-type]
    rollout.conn.close()
    assert view.next_button.disabled and view.rollback_button.disabled and CLOSED in view.header.value
    assert f"live routes unavailable: {CLOSED}" in view.weights.value
    assert view.next() is None and rollout.calls == []
    view.check_button.click()
    assert view.next_button.disabled  # still closed: only a new connection helps


# --- the runbook waits for a person ---------------------------------------------------------


def test_interactive_runs_pause_headless_runs_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(nb.INTERACTIVE_ENV, "0")
    assert not nb.interactive()
    nb.wait_for_human("press the button")  # headless: nothing happens
    monkeypatch.setenv(nb.INTERACTIVE_ENV, "1")
    assert nb.interactive()
    with pytest.raises(nb.RunbookPause) as paused:
        nb.wait_for_human("phase 1 is proven: press 'promote' in the stepper")
    # Shown without a traceback: just the message.
    assert paused.value._render_traceback_() == ["\u23f8 phase 1 is proven: press 'promote' in the stepper"]
    monkeypatch.delenv(nb.INTERACTIVE_ENV)
    assert not nb.interactive()  # plain Python (no kernel): nobody to ask


# --- the explicit stop ------------------------------------------------------------------------


class Closable:
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name

    def close(self) -> None:
        self.log.append(self.name)


def test_a_person_gets_a_stop_button_that_closes_once_headless_runs_close_at_once(
        capsys: pytest.CaptureFixture[str]) -> None:
    from gloo_nb.widgets.close import StopButton, stop_cell

    conn = FakeConn()
    log: list[str] = []
    rollout = Closable(log, "rollout")
    view = stop_cell(conn, rollout, headless=False)
    assert isinstance(view, StopButton) and log == [] and not conn.closed  # Run All closes nothing
    assert view.button.description == "close the connection"
    probe_view = ProbeView(conn, prober=refused)
    view.button.click()
    assert log == ["rollout"] and conn.closed and view.button.disabled and view.output.value == "closed"
    assert probe_view.button.disabled  # the live widgets learn it at once
    log.clear()
    assert stop_cell(FakeConn(), Closable(log, "rollout"), headless=True) is None
    assert log == ["rollout"] and capsys.readouterr().out == "closed\n"


def test_the_stop_button_names_the_own_sandbox() -> None:
    from gloo_nb.widgets.close import stop_label

    assert stop_label(nb.NotebookGateway(FakeConn(), owned=True, apply_changes=True)) == (  # type: ignore[arg-type]
        "stop the sandbox and close the connection")


def test_the_notebooks_probe_line_keeps_transport_errors_apart() -> None:
    ok = ProbeResult("u", {}, ["200 v1"] * 20, responses=["200 v1"] * 20)
    assert nb.probe_line("/foxtrot :", ok) == "/foxtrot : 200 v1 x20 [0.84, 1.00]"
    down = ProbeResult("u", {}, ["0 ConnectionRefusedError"] * 20, errors=["ConnectionRefusedError"] * 20)
    assert nb.probe_line("/foxtrot :", down) == "/foxtrot : no answer: ConnectionRefusedError x20 (20 of 20 requests)"
    some = ProbeResult("u", {}, ["200 v1"] * 19 + ["0 ConnectionResetError"], errors=["ConnectionResetError"],
                       responses=["200 v1"] * 19)
    assert nb.probe_line("/x:", some) == ("/x: 200 v1 x19 [0.83, 1.00], no answer: ConnectionResetError x1 "
                                          "(1 of 20 requests)")


# --- golden signals beside the split ---------------------------------------------------------


def test_each_proof_shows_the_success_rate_per_subset_from_envoys_host_counters() -> None:
    from gloo_nb.rollout.effects import ProbeObservation
    from gloo_nb.widgets.rollout import probe_rows, probes_html

    obs = ProbeObservation(100, {200: 90, 503: 10}, {"v1": 50, "v2": 50}, seconds=0.4,
                           errors_by_subset={"v2": 10})
    report = StepReport("phase2-50", "failed", probes=[("without-header", obs)],
                        verdicts=[("without-header", False, "10 of 100 requests failed (503: 10)")])
    rows = probe_rows(report)
    assert rows[0].signals() == [("v1", 50, 1.0), ("v2", 50, 0.8)]
    html = probes_html(report, rows)
    # The canary that answers 5xx is visible (red) beside the split before any promotion.
    assert '<th>success rate (non-5xx, Envoy)</th>' in html
    assert 'v1: <span style="color:#2e7d32">100.0 %</span> of 50' in html
    assert 'v2: <span style="color:#c62828">80.0 %</span> of 50' in html
    # Not measured (an older journal's observation): no rate is made up.
    old = ProbeObservation(10, {200: 10}, {"v1": 10})
    old_rows = probe_rows(StepReport("phase1", "proven", probes=[("p", old)]))
    assert old_rows[0].signals() == [("v1", 10, None)]
    assert "v1: - of 10" in probes_html(StepReport("phase1", "proven", probes=[("p", old)]), old_rows)
    measured = ProbeObservation(10, {200: 10}, {"v1": 10}, errors_by_subset={})
    assert probe_rows(StepReport("phase1", "proven", probes=[("p", measured)]))[0].signals() == [("v1", 10, 1.0)]
