"""From decoded objects to a :class:`ParseResult`: Lists expanded, unreadable objects tolerated on request.

Holds :func:`parse_objects` (live objects, bundles, journals) and the collector that both stream
readers (:mod:`._json_stream`, :mod:`._yaml_events` via :mod:`._streams`) hand their documents to, so
that a List means the same whatever format it came in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from gloo_nb._gc import gc_paused
from gloo_nb.errors import ParseError
from gloo_nb.models.codec._builders import ParsedObject, parse
from gloo_nb.models.codec._reader import (
    describe,
)
from gloo_nb.models.findings import Finding, Skipped
from gloo_nb.models.resources import Resource, ResourceKey


@dataclass(slots=True)
class ParseResult:
    """Everything read from one or more streams, in reading order.

    Attributes:
        resources: Typed resources.
        findings: Parse findings.
        skipped: Documents that were read but are not used.
    """

    resources: list[Resource] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def add(self, parsed: ParsedObject) -> None:
        """Append one parsed object.

        Args:
            parsed: The object to append.
        """
        if parsed.resource is not None:
            self.resources.append(parsed.resource)
        self.findings.extend(parsed.findings)
        if parsed.skipped is not None:
            self.skipped.append(parsed.skipped)

    def extend(self, other: ParseResult) -> None:
        """Append everything from another result.

        Args:
            other: The result to append.
        """
        self.resources.extend(other.resources)
        self.findings.extend(other.findings)
        self.skipped.extend(other.skipped)


def is_list_kind(kind: Any) -> bool:
    return isinstance(kind, str) and kind.endswith("List")


def _is_list(kind: Any, obj: Mapping[str, Any]) -> bool:
    # A `*List` kind without items may be some CRD's own kind; `List` is always a list.
    return kind == "List" or (is_list_kind(kind) and "items" in obj)


def unreadable_finding(obj: Any, error: ParseError) -> Finding:
    """The finding for an object that cannot be read, attributed to the object itself.

    Gloo's kube clients cannot decode such an object either, so it is absent from Gloo's snapshot
    (a VirtualService delegating to it then reports the route table missing); naming the object
    lets its team, not everyone, see the cause.

    Args:
        obj: The object as decoded from JSON or YAML.
        error: Why the parser could not read it.

    Returns:
        An ``error`` finding of layer ``parse`` on the object (kind, namespace and name as far as
        they can be read), with the parser's one-line message.
    """
    m = obj if isinstance(obj, Mapping) else {}
    meta = m.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}

    def text(value: Any) -> str:
        return value if isinstance(value, str) else ""

    name = text(meta.get("name")) or (f"document {error.document}" if error.document is not None else "?")
    key = ResourceKey(text(m.get("kind")), text(meta.get("namespace")), name)
    return Finding(resource=key, severity="error", origin=key, layer="parse", field=error.field or "",
                   message=f"cannot be read, so Gloo leaves it out of its snapshot: {error.one_line()}; fix the "
                           f"field or delete the object")


class Collector:
    """Turns the documents of one stream into a :class:`ParseResult`, expanding Lists.

    With ``tolerant``, an object that cannot be read becomes an error finding (see
    :func:`unreadable_finding`) and the others are still read.
    """

    def __init__(self, file: str, *, tolerant: bool = False) -> None:
        self.file = file
        self.result = ParseResult()
        self.document: int | None = None
        self.tolerant = tolerant

    def fail(self, problem: str, document: int | None, path: str = "") -> NoReturn:
        raise ParseError(problem, file=self.file, document=document, field=path or None)

    def handle(self, obj: Any, document: int, prefix: str = "") -> None:
        if isinstance(obj, Mapping) and _is_list(obj.get("kind"), obj):
            items = obj.get("items")
            if items is None:
                return
            if not isinstance(items, list | tuple):
                self.fail(f"expected a list, got {describe(items)}", document, prefix + "items")
            for i, item in enumerate(items):
                self.item(obj, i, item, document, prefix)
            return
        if not self.tolerant:
            self.result.add(parse(obj, self.file, document, prefix))
            return
        try:
            parsed = parse(obj, self.file, document, prefix)
        except ParseError as error:
            self.result.findings.append(unreadable_finding(obj, error))
            return
        except RecursionError:
            deep = ParseError("nested too deeply to read", file=self.file, document=document)
            self.result.findings.append(unreadable_finding(obj, deep))
            return
        self.result.add(parsed)

    def item(self, owner: Mapping[str, Any], index: int, item: Any, document: int, prefix: str) -> None:
        kind = owner["kind"]
        if kind != "List" and isinstance(item, Mapping) and item.get("kind") is None:
            # typed lists (VirtualServiceList) from the API carry kind and apiVersion only once
            item = {**item, "kind": kind[: -len("List")]}
            if item.get("apiVersion") is None and owner.get("apiVersion") is not None:
                item["apiVersion"] = owner["apiVersion"]
        self.handle(item, document, f"{prefix}items[{index}].")


def parse_objects(objs: Iterable[Mapping[str, Any]], *, file: str = "<object>",
                  tolerant: bool = False) -> ParseResult:
    """Parse live or decoded objects; ``List`` objects are expanded.

    Args:
        objs: The objects; each one's position is its document index.
        file: What to call the source in messages.
        tolerant: Per-object tolerance, for what a cluster holds (live, in a snapshot bundle or a
            journal): an object that cannot be read becomes an ``error`` finding naming it (see
            :func:`unreadable_finding`) instead of failing the whole read. Files given by a user
            are read strictly (``gloo-nb translate`` exits 2 naming the document).

    Returns:
        The resources, findings and skipped objects, in order.

    Raises:
        ParseError: An object cannot be read (see :func:`parse_object`), unless ``tolerant``.
    """
    out = Collector(file, tolerant=tolerant)
    with gc_paused():  # a cluster's 10,000 RouteTables are millions of acyclic objects
        for i, obj in enumerate(objs):
            out.handle(obj, i)
    return out.result
