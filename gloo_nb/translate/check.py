"""``gloo-nb check``: the problems of a translation, one line each, like ``glooctl check``.

``glooctl check`` (``projects/gloo/cli/pkg/cmd/check/root.go``) looks at the statuses of
VirtualServices, Gateways, Upstreams and UpstreamGroups (and Proxies); RouteTables are not checked, so their
problems only show through the VirtualService. gloo_nb adds its own findings that no Gloo status
carries: problems caused by a RouteTable, EDS problems Gloo only logs, and parse findings.

What gloo_nb does not model (``Translation.unmodelled``) is printed apart, as ``not modelled:`` lines:
not problems, so they never make ``check`` exit 1 (``design/architecture.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gloo_nb.models import Finding, ResourceKey
from gloo_nb.translate.tables import first_message
from gloo_nb.translate.translator import Translation

CHECKED_KINDS = ("VirtualService", "Gateway", "Upstream", "UpstreamGroup")  # check/root.go: checkUpstreamGroups too
"""Kinds whose Gloo status ``glooctl check`` reads."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem line.

    Attributes:
        resource: The resource with the problem.
        state: Gloo's state (``Warning``/``Rejected``) or, for gloo_nb's own findings, the
            severity (``warning``/``error``).
        message: The first line of the first message (and how many more there are).
        note: Where the problem comes from, for gloo_nb's findings.
    """

    resource: ResourceKey
    state: str
    message: str
    note: str = ""

    def line(self) -> str:
        """Return the problem as one line.

        Returns:
            ``<Kind> <ns>/<name>: <state>: <message> [(note)]``.
        """
        return f"{self.resource}: {self.state}: {self.message}" + (f" ({self.note})" if self.note else "")


def _finding_problem(f: Finding) -> Problem:
    if f.layer == "parse":
        note = f"gloo_nb parse finding{', field ' + f.field if f.field else ''}"
    elif f.origin != f.resource:
        note = f"gloo_nb finding; Gloo reports it on {f.resource}"
    else:
        note = "gloo_nb finding; on no Gloo status"
    return Problem(f.origin, f.severity, first_message([f.message]), note=note)


def problems(translation: Translation, parse_findings: Sequence[Finding] = ()) -> list[Problem]:
    """Return the problems of a translation, in glooctl's spirit: Warning counts as a problem.

    Args:
        translation: The translation.
        parse_findings: Findings of the parser.

    Returns:
        First Gloo's Warning/Rejected reports on VirtualServices, Gateways and Upstreams, then
        every finding that such a report does not already show (keyed on the resource whose
        content causes it), without repeats.
    """
    out: list[Problem] = []
    shown: set[tuple[ResourceKey, str]] = set()
    for rep in translation.reports:
        if rep.key.kind not in CHECKED_KINDS or rep.state == "Accepted":
            continue
        messages = [*rep.errors, *rep.warnings]
        out.append(Problem(rep.key, rep.state, first_message(messages)))
        shown.update((rep.key, m) for m in messages)
    for f in (*parse_findings, *translation.findings):
        if (f.origin, f.message) in shown:
            continue
        shown.add((f.origin, f.message))
        out.append(_finding_problem(f))
    return out


def unmodelled_lines(translation: Translation) -> list[str]:
    """``gloo-nb check``'s ``not modelled:`` lines: declared, never problems (they never change the exit code).

    Args:
        translation: The translation.

    Returns:
        One line per :class:`~gloo_nb.models.Unmodelled`, in translation order.
    """
    return [u.line() for u in translation.unmodelled]


def summary_line(found: Sequence[Problem]) -> str:
    """Return the closing line of ``gloo-nb check``.

    Args:
        found: The problems.

    Returns:
        ``No problems detected.`` or ``<N> problem(s) detected.``.
    """
    return "No problems detected." if not found else f"{len(found)} problem(s) detected."
