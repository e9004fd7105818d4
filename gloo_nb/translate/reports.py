"""Resource reports and statuses, formatted exactly as Gloo writes them.

Sources: solo-kit ``pkg/api/v2/reporter/reporter.go`` (``StatusFromReport``) and hashicorp
go-multierror's ``ListFormatFunc`` for the error list text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from gloo_nb._types import Profile
from gloo_nb.models import Finding, ResourceKey, Unmodelled

State = Literal["Accepted", "Warning", "Rejected"]

STATE_CODES: dict[str, int] = {"Pending": 0, "Accepted": 1, "Rejected": 2, "Warning": 3}
"""solo-kit ``status.proto`` state integers."""


def multierror_text(errors: list[str]) -> str:
    r"""Format errors as hashicorp go-multierror does.

    Args:
        errors: The error messages, in order.

    Returns:
        ``1 error occurred:\\n\\t* e\\n\\n`` or ``N errors occurred:\\n\\t* e1\\n\\t* e2\\n\\n``.
    """
    points = "".join(f"\t* {e}\n" for e in errors)
    head = "1 error occurred" if len(errors) == 1 else f"{len(errors)} errors occurred"
    return f"{head}:\n{points}\n"


@dataclass(slots=True)
class ResourceReport:
    """What Gloo reports on one resource: errors and warnings, duplicates kept.

    Attributes:
        key: The resource.
        errors: Error messages in the order Gloo adds them.
        warnings: Warning messages in the order Gloo adds them.
    """

    key: ResourceKey
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def state(self) -> State:
        """``Rejected`` with errors, ``Warning`` with warnings only, else ``Accepted``."""
        if self.errors:
            return "Rejected"
        if self.warnings:
            return "Warning"
        return "Accepted"

    @property
    def reason(self) -> str:
        """The status reason text exactly as solo-kit's ``StatusFromReport`` writes it."""
        text = multierror_text(self.errors) if self.errors else ""
        if self.warnings:
            # StatusFromReport: reason += "\n" when errors exist, then "warning: \n  " + join(warnings, "\n")
            if text:
                text += "\n"
            text += "warning: \n  " + "\n".join(self.warnings)
        return text

    def status(self, profile: Profile, *, gloo_namespace: str = "gloo-system") -> dict[str, Any]:
        """Return a simplified Kubernetes ``status`` object for this report.

        The exact encoding Gloo's Kubernetes clients write (1.3: snake_case keys; current: state
        names, truncation, the Proxy's subresource status) is :func:`gloo_nb.translate.status.resource_status`.

        Args:
            profile: ``1.3`` writes ``{state, reason, reportedBy}``; ``current`` writes
                ``{statuses: {<gloo namespace>: {...}}}`` with ``reportedBy: gloo``.
            gloo_namespace: The namespace Gloo runs in (the status key in ``current``).

        Returns:
            The status dict.
        """
        reporter = "gloo"
        if profile == "1.3" and self.key.kind in ("VirtualService", "RouteTable", "Gateway"):
            reporter = "gateway"
        inner: dict[str, Any] = {"state": STATE_CODES[self.state], "reportedBy": reporter}
        if self.reason:
            inner["reason"] = self.reason
        if profile == "1.3":
            return inner
        return {"statuses": {gloo_namespace: inner}}

    def as_json(self) -> dict[str, Any]:
        """Return the report in the ``gloo-nb translate --json`` ``reports`` shape.

        Returns:
            A dict with kind, namespace, name, state, errors, warnings and reason.
        """
        return {"kind": self.key.kind, "namespace": self.key.namespace, "name": self.key.name,
                "state": self.state, "errors": list(self.errors), "warnings": list(self.warnings),
                "reason": self.reason}


class Reports:
    """An ordered collection of resource reports plus gloo_nb's findings.

    Gloo's ``reports.Accept(...)`` is :meth:`accept`; ``AddError``/``AddWarning`` are
    :meth:`add_error`/:meth:`add_warning`.
    """

    def __init__(self) -> None:
        self._by_key: dict[ResourceKey, ResourceReport] = {}
        self.findings: list[Finding] = []
        self._finding_set: set[Finding] = set()
        self.unmodelled: list[Unmodelled] = []
        self._unmodelled_set: set[Unmodelled] = set()

    def accept(self, keys: Iterable[ResourceKey]) -> None:
        """Register resources as Accepted (no-op for already known ones).

        Args:
            keys: The resources.
        """
        for key in keys:
            if key not in self._by_key:
                self._by_key[key] = ResourceReport(key)

    def get(self, key: ResourceKey) -> ResourceReport:
        """Return the report of a resource, creating an empty one.

        Args:
            key: The resource.

        Returns:
            Its report.
        """
        rep = self._by_key.get(key)
        if rep is None:
            rep = self._by_key[key] = ResourceReport(key)
        return rep

    def add_error(self, key: ResourceKey, message: str) -> None:
        """Add an error to a resource's report (Gloo's ``AddError``).

        Args:
            key: The resource.
            message: The message.
        """
        self.get(key).errors.append(message)

    def add_warning(self, key: ResourceKey, message: str) -> None:
        """Add a warning to a resource's report (Gloo's ``AddWarning``).

        Args:
            key: The resource.
            message: The message.
        """
        self.get(key).warnings.append(message)

    def find(self, finding: Finding) -> None:
        """Record a finding once (duplicates of the same problem are folded).

        Args:
            finding: The finding.
        """
        if finding not in self._finding_set:
            self._finding_set.add(finding)
            self.findings.append(finding)

    def declare(self, item: Unmodelled) -> None:
        """Declare a field whose effect gloo_nb does not reproduce (once; not a problem, not a finding).

        Args:
            item: The declaration.
        """
        if item not in self._unmodelled_set:
            self._unmodelled_set.add(item)
            self.unmodelled.append(item)

    def has_errors(self, key: ResourceKey) -> bool:
        """Whether a resource has errors.

        Args:
            key: The resource.

        Returns:
            True when its report holds an error.
        """
        rep = self._by_key.get(key)
        return bool(rep and rep.errors)

    def __iter__(self) -> Iterator[ResourceReport]:
        return iter(self._by_key.values())

    def __contains__(self, key: object) -> bool:
        return key in self._by_key
