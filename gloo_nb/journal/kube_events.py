"""The ``kube.event`` journal entry, built in one place for every writer (pure: no file or network I/O).

Two writers record Kubernetes objects into a journal: the recorder (:mod:`gloo_nb.app.record`, from a watch) and the
importer (:mod:`gloo_nb.journal.importer`, from a cluster's audit log). Both write the contract of
:mod:`gloo_nb.journal.schema` ``kube.event`` through :class:`KubeEventBuilder`, so a replay cannot tell them apart
except by what they say they do not know (``contentUnknown``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gloo_nb.journal.redact import redact
from gloo_nb.models import Secret
from gloo_nb.models.codec import parse_objects, secret_facts_json

__all__ = ["SERVER_METADATA", "UNKNOWN_ACTOR", "KubeEventBuilder", "content_of", "event_data", "json_diff",
           "managed_fields_actor", "secret_facts", "without_managed_fields"]

SERVER_METADATA = frozenset({"resourceVersion", "generation", "managedFields", "uid", "creationTimestamp",
                             "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"})
"""Metadata the API server sets by itself: a change in it alone is not a change of the object's content."""

UNKNOWN_ACTOR: Mapping[str, Any] = {"user": None, "groups": [], "via": "unknown", "manager": None}
"""The ``actor`` of a write nobody can attribute."""


def content_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object without status and server-set metadata: what its writers changed.

    Args:
        obj: A Kubernetes object.

    Returns:
        A shallow copy without ``status`` and :data:`SERVER_METADATA`.
    """
    out = {k: v for k, v in obj.items() if k != "status"}
    meta = obj.get("metadata")
    if isinstance(meta, Mapping):
        out["metadata"] = {k: v for k, v in meta.items() if k not in SERVER_METADATA}
    return out


def without_managed_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object without ``metadata.managedFields`` (large, and not content).

    Args:
        obj: A Kubernetes object.

    Returns:
        A shallow copy.
    """
    out = dict(obj)
    meta = obj.get("metadata")
    if isinstance(meta, Mapping) and "managedFields" in meta:
        out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def managed_fields_actor(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The actor of an object's newest ``managedFields`` entry (a field manager, not a user), or None.

    Args:
        obj: A Kubernetes object.

    Returns:
        ``{"user": None, "groups": [], "via": "managedFields", "manager"}``, or None without entries.
    """
    meta = obj.get("metadata")
    entries = [e for e in ((meta.get("managedFields") if isinstance(meta, Mapping) else None) or [])
               if isinstance(e, Mapping)]
    if not entries:
        return None
    # RFC 3339 times of one apiserver sort as strings; an entry without a time sorts first.
    newest = max(entries, key=lambda e: str(e.get("time") or ""))
    return {"user": None, "groups": [], "via": "managedFields", "manager": newest.get("manager")}


def secret_facts(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """A Secret's facts (:func:`gloo_nb.models.codec.secret_facts_json`), computed where its data is at hand.

    The journal keeps the Secret redacted; these facts (certificate facts, which TLS parts are set, Go's key-pair
    verdict) let a replay translate its TLS listeners and clusters as Gloo did.

    Args:
        obj: The unredacted Secret.

    Returns:
        The facts, or None when the object cannot be read (the replay then reports it as unreadable).
    """
    parsed = parse_objects([dict(obj)], file="<kubernetes>", tolerant=True)
    secret = next((r for r in parsed.resources if isinstance(r, Secret)), None)
    return secret_facts_json(secret) if secret is not None else None


def _pointer(parts: list[str]) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def json_diff(before: Any, after: Any, parts: list[str] | None = None,
              out: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """An RFC 6902 JSON patch from ``before`` to ``after``.

    Maps are compared key by key; lists of the same length element by element, other lists replaced whole. Not
    minimal for inserts into lists (``jsonpatch.make_patch`` finds those, at some milliseconds an object, which an
    import of a week's audit log cannot pay), always correct: applied to ``before`` it gives ``after``.

    Args:
        before: The earlier document.
        after: The later one.
        parts: The path so far (for recursion).
        out: The operations so far (for recursion).

    Returns:
        The operations.
    """
    parts = [] if parts is None else parts
    out = [] if out is None else out
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before:
            if key not in after:
                out.append({"op": "remove", "path": _pointer([*parts, str(key)])})
        for key, value in after.items():
            if key not in before:
                out.append({"op": "add", "path": _pointer([*parts, str(key)]), "value": value})
            elif before[key] != value:
                json_diff(before[key], value, [*parts, str(key)], out)
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (x, y) in enumerate(zip(before, after, strict=True)):
            if x != y:
                json_diff(x, y, [*parts, str(i)], out)
    elif before != after or type(before) is not type(after):
        out.append({"op": "replace", "path": _pointer(parts), "value": after})
    return out


def event_data(kind: str, etype: str, obj: Mapping[str, Any] | None, actor: Mapping[str, Any],
               before: tuple[dict[str, Any] | None, Any] | None, *, identity: tuple[str, str] | None = None,
               unknown: str = "", status_unknown: bool = False, status_only: bool = False) -> dict[str, Any]:
    """The ``kube.event`` data of one version of an object (:mod:`gloo_nb.journal.schema`).

    Args:
        kind: The object's kind.
        etype: ``INITIAL``, ``ADDED``, ``MODIFIED`` or ``DELETED``.
        obj: The object as written (unredacted; redacted here), or None when its content is not known.
        actor: Who wrote it (the ``actor`` contract).
        before: The previous version's ``(content, status)`` (:func:`content_of`; content None: not known), or None.
        identity: ``(namespace, name)`` when ``obj`` is None.
        unknown: Why the content is not known (with ``obj`` None): written as ``contentUnknown``.
        status_unknown: The write changed the status and its new status is not known (``obj`` is the last known
            object, without status).
        status_only: The write was to the status subresource (its content did not change).

    Returns:
        The event data.
    """
    meta: Mapping[str, Any] = (obj.get("metadata") or {}) if obj is not None else {}
    namespace, name = (str(meta.get("namespace") or ""), str(meta.get("name") or "")) if identity is None \
        else identity
    patch: list[dict[str, Any]] | None = None
    if obj is None:
        spec_changed, status_changed = not status_only and etype != "INITIAL", etype != "INITIAL"
    else:
        content, status = content_of(obj), obj.get("status")
        if etype in ("INITIAL", "ADDED") or before is None or before[0] is None:
            spec_changed = etype != "INITIAL" and not status_only
            status_changed = etype != "INITIAL" and (bool(status) or status_unknown)
        else:
            spec_changed = content != before[0]
            status_changed = status_unknown or status != before[1]
            patch = redact(kind, json_diff(before[0], content)) if spec_changed else []
    data: dict[str, Any] = {
        "type": etype, "kind": kind, "namespace": namespace, "name": name,
        "resourceVersion": str(meta.get("resourceVersion") or ""), "generation": meta.get("generation"),
        "object": redact(kind, without_managed_fields(obj)) if obj is not None else None,
        "specChanged": spec_changed, "statusChanged": status_changed, "patch": patch, "actor": dict(actor),
    }
    if obj is None and etype != "DELETED":
        data["contentUnknown"] = unknown or "not recorded"
    if status_unknown:
        data["statusUnknown"] = True
    if kind == "Secret" and etype != "DELETED" and obj is not None:
        facts = secret_facts(obj)
        if facts is not None:
            data["secretFacts"] = facts
    return data


class KubeEventBuilder:
    """:func:`event_data` for a writer that sees each object's versions in order: it remembers the last one.

    Objects are keyed by ``(kind, namespace, name)``.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, str], tuple[dict[str, Any] | None, Any]] = {}

    def build(self, kind: str, etype: str, obj: Mapping[str, Any] | None, actor: Mapping[str, Any], *,
              identity: tuple[str, str] | None = None, unknown: str = "", status_unknown: bool = False,
              status_only: bool = False) -> dict[str, Any]:
        """The ``kube.event`` data of the next version of an object (arguments as :func:`event_data`'s).

        Returns:
            The event data.
        """
        meta: Mapping[str, Any] = (obj.get("metadata") or {}) if obj is not None else {}
        ns_name = identity if identity is not None else (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        key = (kind, ns_name[0], ns_name[1])
        data = event_data(kind, etype, obj, actor, self._known.get(key), identity=ns_name, unknown=unknown,
                          status_unknown=status_unknown, status_only=status_only)
        if etype == "DELETED":
            self._known.pop(key, None)
        else:
            self._known[key] = (content_of(obj), obj.get("status")) if obj is not None else (None, None)
        return data
