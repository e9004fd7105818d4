"""Live widgets are honest about their connection: the view-model of a closed or unreachable gateway.

A widget that acts on a gateway (the probe, the rollout stepper) asks :func:`connection_problem`
before it acts and after an action failed; when there is a problem its actions are disabled and it
says so in words (:func:`problem_html`), never as a result (a transport failure is not an answer of
the gateway: :func:`probe_outcome`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gloo_nb.analysis.probe import Share, split
from gloo_nb.errors import UnreachableError
from gloo_nb.widgets._html import esc

CLOSED = "connection closed: run the connect cell again"
"""What a widget over a closed connection says (the issue's wording)."""

UNREACHABLE = "gateway unreachable: check that the sandbox or cluster runs, then run the connect cell again"
"""What a widget says when the gateway (Kubernetes, xDS, Envoy or its front door) did not answer."""

_BAD = "#c62828"


def is_closed(conn: Any) -> bool:
    """Whether a connection-like object (``GatewayConnection``, ``NotebookGateway``) says it is closed.

    Args:
        conn: The object, or None (a widget given a bare URL knows nothing of a connection).

    Returns:
        Its ``closed`` attribute, False when it has none.
    """
    return bool(getattr(conn, "closed", False))


def watch_close(conn: Any, callback: Callable[[], None]) -> bool:
    """Register ``callback`` with the connection's ``on_close`` when it has one.

    Args:
        conn: A connection-like object, or None.
        callback: Called once when it closes.

    Returns:
        Whether it was registered.
    """
    on_close = getattr(conn, "on_close", None)
    if not callable(on_close):
        return False
    on_close(callback)
    return True


def is_transport_error(error: BaseException) -> bool:
    """Whether an exception means the gateway could not be reached (not that it answered something wrong).

    gloo_nb's adapters wrap transport failures in :class:`~gloo_nb.errors.UnreachableError` (e.g.
    ``KubeError: ... cannot reach the Kubernetes API at ...: MaxRetryError``); a bare ``OSError``
    (``ConnectionRefusedError``) or urllib3's ``HTTPError`` (``MaxRetryError``) that escaped is one too.

    Args:
        error: The exception.

    Returns:
        True for transport failures.
    """
    if isinstance(error, UnreachableError | OSError):
        return True
    return any(cls.__module__.startswith("urllib3") for cls in type(error).__mro__)


@dataclass(frozen=True)
class ConnectionProblem:
    """Why a widget cannot act.

    Attributes:
        headline: One line for the person (:data:`CLOSED` or :data:`UNREACHABLE`).
        detail: The underlying error's text (shown folded), ``""`` when none.
    """

    headline: str
    detail: str = ""


def connection_problem(conn: Any, error: BaseException | None = None) -> ConnectionProblem | None:
    """The problem that stops a widget from acting, if any.

    Args:
        conn: The widget's connection-like object (or None).
        error: The error its last read or action raised (or None).

    Returns:
        :data:`CLOSED` when the connection is closed (whatever the error), :data:`UNREACHABLE` with the
        error's text when the error is a transport failure, else None.
    """
    if is_closed(conn):
        return ConnectionProblem(CLOSED)
    if error is not None and is_transport_error(error):
        return ConnectionProblem(UNREACHABLE, f"{type(error).__name__}: {error}")
    return None


def problem_html(problem: ConnectionProblem) -> str:
    """The problem as one red line, the underlying error folded under it (never the only text shown).

    Args:
        problem: :func:`connection_problem`.

    Returns:
        HTML.
    """
    out = f'<div class="gloo-nb connection-problem" style="color:{_BAD}"><b>{esc(problem.headline)}</b></div>'
    if problem.detail:
        out += f"<details><summary>details</summary><pre>{esc(problem.detail)}</pre></details>"
    return out


@dataclass(frozen=True)
class ProbeOutcome:
    """A probe's result split into what the gateway answered and what never reached it.

    Attributes:
        sent: Requests sent.
        failures: Transport error name -> requests that got no HTTP answer, most frequent first.
        shares: The split of the requests that got an answer, with Wilson intervals over those only.
    """

    sent: int
    failures: list[tuple[str, int]]
    shares: list[Share]

    @property
    def unreachable(self) -> bool:
        """Whether no request got an answer (then there is no split to show, only the errors)."""
        return self.sent > 0 and not self.shares


def probe_outcome(answers: Sequence[str], errors: Sequence[str],
                  responses: Sequence[str] | None = None) -> ProbeOutcome:
    """Separate a probe's transport failures from the gateway's answers.

    Args:
        answers: :attr:`ProbeResult.answers` (every request).
        errors: :attr:`ProbeResult.errors` (the transport error name of each failed request).
        responses: :attr:`ProbeResult.responses` (the answered requests' answers); None: a prober that
            does not report them, whose answers are all taken as answered unless ``errors`` says otherwise
            (then the answers for status 0 of the default classifier, ``"0 <Error>"``, are taken out).

    Returns:
        The outcome.
    """
    if responses is None:
        responses = list(answers)
        for name in errors:
            for candidate in (f"0 {name}", name):
                if candidate in responses:
                    responses.remove(candidate)
                    break
    failures = Counter(errors).most_common()
    return ProbeOutcome(len(answers), [(k, v) for k, v in failures], split(list(responses)) if responses else [])


def failures_html(outcome: ProbeOutcome, url: str) -> str:
    """The transport failures as an error (red), never as a share with an interval.

    Args:
        outcome: :func:`probe_outcome`.
        url: Where the requests went.

    Returns:
        HTML (``""`` when every request got an answer).
    """
    if not outcome.failures:
        return ""
    failed = sum(n for _, n in outcome.failures)
    names = ", ".join(f"{esc(name)} x{n}" for name, n in outcome.failures)
    if outcome.unreachable:
        head = f"no answer from {esc(url)}: all {failed} requests failed ({names})"
    else:
        head = (f"{failed} of {outcome.sent} requests got no answer from {esc(url)} ({names}); "
                f"the split below counts the {outcome.sent - failed} answered requests only")
    return f'<div class="gloo-nb probe-errors" style="color:{_BAD}"><b>{head}</b></div>'
