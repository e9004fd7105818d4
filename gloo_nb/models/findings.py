"""Findings: problems in Gloo resources, as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gloo_nb._types import Severity
from gloo_nb.models.resources import ResourceKey

Layer = Literal["parse", "gateway", "gloo", "envoy", "watch"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, attributed to the resource that reports it and the one that causes it.

    Attributes:
        resource: The resource the problem is reported on (where Gloo writes it, for Gloo's own
            messages).
        severity: ``error`` or ``warning``.
        message: The message, with Gloo's exact text for Gloo's own conditions.
        origin: The resource whose content causes the problem (a RouteTable for a missing
            upstream in one of its routes, although Gloo reports it on the VirtualService).
        layer: Who finds it: ``parse`` (gloo_nb reading the document), ``gateway`` (Gloo's gateway
            translator), ``gloo`` (Gloo's proxy translator), ``envoy``, or ``watch`` (what Gloo reads at all:
            a resource in a namespace Gloo does not watch, :mod:`gloo_nb.translate.watch`).
        field: Field path, for parse findings (e.g. ``spec.virtualHost.routes[0].matcher``).
    """

    resource: ResourceKey
    severity: Severity
    message: str
    origin: ResourceKey
    layer: Layer = "gateway"
    field: str = ""

    def as_json(self) -> dict[str, str]:
        """Return the finding in the ``gloo-nb translate --json`` shape.

        Returns:
            A dict with ``resource``, ``kind``, ``severity``, ``message`` and ``origin``.
        """
        out = {
            "resource": self.resource.ref,
            "kind": self.resource.kind,
            "severity": self.severity,
            "message": self.message,
            "origin": self.origin.ref,
            "originKind": self.origin.kind,
            "layer": self.layer,
        }
        if self.field:
            out["field"] = self.field
        return out


@dataclass(frozen=True, slots=True)
class Skipped:
    """A document that was read but not used.

    Attributes:
        file: File name (``-`` for stdin).
        document: Zero-based index of the document in the file's stream.
        kind: The document's kind (``""`` when it has none).
        why: Why it was skipped.
        namespace: Its namespace, when it has one.
        name: Its name, when it has one.
    """

    file: str
    document: int | None
    kind: str
    why: str
    namespace: str = ""
    name: str = ""

    def as_json(self) -> dict[str, object]:
        """Return the entry in the ``gloo-nb translate --json`` ``skipped`` shape.

        Returns:
            A dict with ``file``, ``document``, ``kind`` and ``why`` (and the name when known).
        """
        out: dict[str, object] = {"file": self.file, "document": self.document, "kind": self.kind,
                                  "why": self.why}
        if self.name:
            out["namespace"] = self.namespace
            out["name"] = self.name
        return out


@dataclass(frozen=True, slots=True)
class Unmodelled:
    """A field whose effect on Envoy gloo_nb does not reproduce: declared, never a problem.

    Not a finding: Gloo may well accept and apply the field (a Gloo filter, a Gloo Enterprise feature,
    a cloud upstream...); gloo_nb only says that its prediction lacks that effect. ``gloo-nb check``
    prints these as ``not modelled:`` lines and exits 0 for them (``design/architecture.md``).

    Attributes:
        resource: The resource that holds the field.
        path: The field path in the resource (``spec.virtualHost.routes[0].options.retries``).
        feature: The feature's name (``retries``, ``GraphQL``, ``access log filters``...).
        detail: What gloo_nb does instead, when worth saying (``""`` otherwise).
    """

    resource: ResourceKey
    path: str
    feature: str
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        """Return the entry in the ``gloo-nb translate --json`` ``unmodelled`` shape.

        Returns:
            ``{kind, namespace, name, path, feature}``, plus ``detail`` when there is one.
        """
        out = {"kind": self.resource.kind, "namespace": self.resource.namespace, "name": self.resource.name,
               "path": self.path, "feature": self.feature}
        if self.detail:
            out["detail"] = self.detail
        return out

    def line(self) -> str:
        """Return the entry as one ``not modelled:`` line.

        Returns:
            ``not modelled: <Kind> <ns>/<name>: <path> (<feature>)[: <detail>]``.
        """
        return (f"not modelled: {self.resource}: {self.path} ({self.feature})"
                + (f": {self.detail}" if self.detail else ""))
