"""A journal rebuilt from a cluster's Kubernetes audit log, for incidents nobody recorded (pure: events in, events out).

The audit log (:mod:`gloo_nb.models.audit`) says who wrote which object when; depending on its level, also what.
Each object's content is rebuilt over time and written as the recorder writes it (``kube.event``, through
:func:`gloo_nb.journal.kube_events.event_data`), so that the timeline, the incident summary and time travel read an
import like any journal. What the log cannot tell is written as unknown, never guessed:

- ``RequestResponse`` level: the content after each write is the response (exact).
- ``Request`` level: a create or update carries the whole object; a patch carries only the patch, applied to the
  last known content: a JSON patch (a list), a JSON merge patch (custom resources, where Kubernetes refuses
  strategic merge patches), a strategic merge patch (built-in kinds; when the patch has no ``$`` directive and the
  two rules give different results, the log does not say which was sent: unknown). A server-side apply's result
  depends on field ownership the log does not hold: unknown. A patch that does not apply to the last known content
  means a write is missing from the log: the chain breaks there, and stays broken until a whole object is seen.
- ``Metadata`` level: who and when, not what: the content is unknown from that write on.
- Secrets are audited at ``Metadata`` level by every sane policy: their content comes from the state given, else it
  is unknown, and the replay treats references to them as unknown rather than missing (``secretsUnreadable``).

A state of the objects (a snapshot bundle's ``resources.yaml`` or a ``kubectl get -o yaml`` dump) gives what the log
cannot: taken before the window, it is where the replay starts; taken after, it is each object's content after its
last write (and the whole content of objects the window never touched), and what the replay of each object is
checked against. Served and applied configuration is never in an audit log: an import says so in its
``recorder.start`` (``imported``), and the timeline shows it as unknown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import jsonpatch

from gloo_nb.journal.events import Event
from gloo_nb.journal.kube_events import content_of, event_data
from gloo_nb.journal.schema import KUBE_EVENT, RECORDER_START
from gloo_nb.models.audit import AuditEvent
from gloo_nb.models.codec import merge_patch
from gloo_nb.models.strategic_merge import strategic_merge_patch

__all__ = ["AUDIT_SOURCE", "IMPORT_SOURCE", "ContentGap", "ImportResult", "import_audit"]

AUDIT_SOURCE = "audit"
"""The ``source`` of ``kube.event`` lines an import rebuilt from an audit log."""
IMPORT_SOURCE = "import"
"""The ``source`` of an import's ``recorder.start`` and of the start state's ``INITIAL`` events."""

StateTaken = Literal["before", "after"]
_BUILT_IN_GROUPS = frozenset({"", "apps"})
_Key = tuple[str, str, str]


@dataclass(frozen=True)
class ContentGap:
    """Where the audit log stops telling an object's content, and why.

    Attributes:
        kind: The object's kind.
        namespace: Its namespace.
        name: Its name.
        since: The write from which its content is unknown (or at which the log was found to miss a write).
        why: In words.
        until: When a whole object was seen again (None: unknown to the end, or a check that found no gap in content).
        source: ``file:line`` of the audit event concerned.
    """

    kind: str
    namespace: str
    name: str
    since: datetime
    why: str
    until: datetime | None = None
    source: str = ""

    @property
    def ref(self) -> str:
        """``Kind namespace/name``."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def document(self) -> dict[str, Any]:
        """As JSON (camelCase keys, RFC 3339 times)."""
        from gloo_nb.journal.events import format_time
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name, "since": format_time(self.since),
                "until": format_time(self.until) if self.until else None, "why": self.why, "source": self.source}


@dataclass
class ImportResult:
    """An import: the journal's events and what the sources could not tell.

    Attributes:
        events: The journal events, by time.
        gaps: Where content is unknown or the log misses a write.
        levels: How many writes were logged at each level.
        writes: Writes imported.
        objects: Objects seen (state and log).
        start: The journal's start (the ``recorder.start`` time), or None for an empty import.
        end: The last write's time, or None.
    """

    events: list[Event] = field(default_factory=list)
    gaps: list[ContentGap] = field(default_factory=list)
    levels: Counter[str] = field(default_factory=Counter)
    writes: int = 0
    objects: int = 0
    start: datetime | None = None
    end: datetime | None = None


@dataclass
class _Object:
    obj: dict[str, Any] | None  # None: content unknown
    why: str = ""
    unknown_since: datetime | None = None
    rv: str = ""  # the resourceVersion of obj, when a response or the state said it (a request's is its base)


def _ident(obj: Mapping[str, Any]) -> _Key:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    return str(obj.get("kind") or ""), str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _is_object(body: Any, kind: str) -> bool:
    return isinstance(body, Mapping) and body.get("kind") == kind and isinstance(body.get("metadata"), Mapping)


def _has_directive(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(str(k).startswith("$") or _has_directive(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_directive(v) for v in value)
    return False


def _patched(e: AuditEvent, before: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The object after a ``Request``-level patch, or None and why it cannot be known."""
    patch = e.request_object
    if isinstance(patch, list):
        try:
            result = jsonpatch.JsonPatch(patch).apply(before, in_place=False)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError, TypeError,
                ValueError) as error:
            return None, (f"its JSON patch does not apply to the last known content ({error}): a write is missing "
                          "from the log before this one")
        return (result, "") if isinstance(result, dict) else (None, "its JSON patch does not give an object")
    if not isinstance(patch, Mapping):
        return None, "the log holds no readable patch body for it"
    if "apiVersion" in patch and "kind" in patch:
        # An apply configuration names its apiVersion and kind (they are required); a merge patch rarely does.
        return None, ("a server-side apply: its result depends on field ownership the audit log does not hold "
                      "(a RequestResponse-level log holds the result)")
    if e.api_group not in _BUILT_IN_GROUPS:
        # Custom resources take JSON merge patches (and JSON patches) only: Kubernetes answers 415 to a strategic
        # merge patch (k8s.io/apiserver/pkg/endpoints/handlers/patch.go, unstructured objects).
        return merge_patch(before, dict(patch)), ""
    smp = strategic_merge_patch(before, dict(patch))
    if _has_directive(patch):
        return smp, ""
    merged = merge_patch(before, dict(patch))
    if merged == smp:
        return smp, ""
    return None, ("a patch whose type the audit log does not record: as a strategic merge patch and as a JSON merge "
                  "patch it gives different objects")


def import_audit(audit: Iterable[AuditEvent], *, kinds: Iterable[str], state: Sequence[Mapping[str, Any]] = (),
                 state_taken: StateTaken = "before", state_time: datetime | None = None, profile: str = "current",
                 namespace: str = "gloo-system", imported: Mapping[str, Any] | None = None,
                 cluster: str | None = None) -> ImportResult:
    """Rebuild a journal from audit events and, optionally, a state of the objects.

    Args:
        audit: The audit log's writes (:func:`gloo_nb.models.audit.read_audit`), any order; deduplicated by
            ``auditID``.
        kinds: The kinds to import (the recorder's :data:`gloo_nb.app.record.RECORDED_KINDS`).
        state: Kubernetes objects (with ``kind``) as they were at ``state_time``.
        state_taken: Whether ``state`` was taken before the log's window or after it.
        state_time: When ``state`` was taken (a bundle says it), or None.
        profile: The Gloo behaviour profile the journal names.
        namespace: Gloo's namespace.
        imported: What to write in ``recorder.start``'s ``imported`` about the sources (files, levels...).
        cluster: The cluster's name (``recorder.start``'s ``connection.cluster``: the fleet dataset's partition).

    Returns:
        The events and what the sources could not tell.
    """
    wanted = frozenset(kinds)
    seen: set[str] = set()
    writes: list[AuditEvent] = []
    for e in audit:
        if e.kind not in wanted or (e.audit_id and e.audit_id in seen):
            continue
        if e.audit_id:
            seen.add(e.audit_id)
        writes.append(e)
    writes.sort(key=lambda e: e.time)  # stable: one file's order stays for equal times
    result = ImportResult(writes=len(writes))
    result.levels.update(e.level for e in writes)
    given = {_ident(o): dict(o) for o in state if isinstance(o, Mapping) and str(o.get("kind") or "") in wanted}
    if not writes:
        return result
    first = writes[0].time
    # The recording "starts" just before the first write, or when a before-state was taken if that is earlier.
    t0 = first - timedelta(milliseconds=1)
    if state_taken == "before" and state_time is not None and state_time < t0:
        t0 = state_time
    result.start, result.end = t0, writes[-1].time
    last_write: dict[_Key, int] = {}
    first_verb: dict[_Key, str] = {}
    for i, e in enumerate(writes):
        key = (e.kind, e.namespace, e.name)
        last_write[key] = i
        first_verb.setdefault(key, e.verb)
    secrets_unknown = ""
    if "Secret" in wanted and not any(k[0] == "Secret" for k in given):
        secrets_unknown = ("the state given holds no Secrets, and an audit log does not hold their content "
                           "(Secrets are audited at Metadata level)")
    out: list[Event] = []
    start_data: dict[str, Any] = {
        "profile": profile, "namespace": namespace, "proxy": None, "role": None, "replicas": [],
        "kinds": sorted(wanted), "connection": {"import": True, **({"cluster": cluster} if cluster else {})},
        "imported": {**(imported or {}), "stateTaken": state_taken if given else None,
                     "served": "unknown", "applied": "unknown"},
    }
    if secrets_unknown:
        start_data["secretsUnreadable"] = secrets_unknown
    out.append(Event(time=t0, kind=RECORDER_START, source=IMPORT_SOURCE, data=start_data))
    objects: dict[_Key, _Object] = {}
    state_actor: dict[str, Any] = {"user": None, "groups": [], "via": "unknown", "manager": None}
    for key in sorted(given):
        if state_taken == "after" and key in first_verb:
            if first_verb[key] == "create":
                continue  # created within the window: absent at its start
            why = (f"before its first write in the log at {writes[last_write[key]].time.isoformat()}: the state "
                   "given was taken after the window")
            objects[key] = _Object(None, why, t0)
            result.gaps.append(ContentGap(*key, since=t0, why=why))
            out.append(Event(time=t0, kind=KUBE_EVENT, source=IMPORT_SOURCE,
                             data=event_data(key[0], "INITIAL", None, state_actor, None, identity=key[1:],
                                             unknown=why)))
            continue
        obj = given[key]
        objects[key] = _Object(obj, rv=str((obj.get("metadata") or {}).get("resourceVersion") or ""))
        out.append(Event(time=t0, kind=KUBE_EVENT, source=IMPORT_SOURCE,
                         data=event_data(key[0], "INITIAL", obj, state_actor, None)))
    if state_taken == "after":
        # Objects the log touches but the after-state does not hold, and that the log does not create: their content
        # before the first write is unknown.
        for key, verb in first_verb.items():
            if key not in given and verb != "create" and key not in objects:
                why = "not in the state given (taken after the window), and the log does not create it"
                objects[key] = _Object(None, why, t0)
                result.gaps.append(ContentGap(*key, since=t0, why=why))
    elif given:
        for key, verb in first_verb.items():
            if key not in given and verb != "create" and key not in objects:
                why = "written in the log but not in the state given (taken before the window)"
                objects[key] = _Object(None, why, t0)
                result.gaps.append(ContentGap(*key, since=t0, why=why))
    for i, e in enumerate(writes):
        key = (e.kind, e.namespace, e.name)
        prev = objects.get(key)
        # Objects are never changed in place here (patches build new ones): no copies needed.
        before = prev.obj if prev is not None else None
        status_only = e.subresource == "status"
        etype = "DELETED" if e.verb == "delete" else "ADDED" if e.verb == "create" and not e.subresource else \
            "MODIFIED"
        new: dict[str, Any] | None = None
        why = ""
        status_unknown = False
        if e.verb == "delete":
            new = dict(e.response_object) if _is_object(e.response_object, e.kind) else before
        elif _is_object(e.response_object, e.kind) and (not e.subresource or status_only):
            new = dict(e.response_object)
        elif e.kind == "Secret" and e.level == "Metadata" and not status_only:
            why = "a Secret's content is not in the audit log (Metadata level)"
        elif e.subresource and not status_only:
            why = f"a write to its {e.subresource} subresource, whose effect on the object the log does not hold"
        elif e.request_object is None:
            if status_only and before is not None:
                new = {k: v for k, v in before.items() if k != "status"}
                status_unknown = True
            else:
                why = f"the audit log has only {e.level or 'Metadata'} for this write (who and when, not what)"
        elif e.verb in ("create", "update"):
            body = e.request_object
            if not _is_object(body, e.kind) and not (isinstance(body, Mapping) and "metadata" in body):
                why = f"its {e.verb} request body is not a {e.kind}"
            elif status_only:
                if before is None:
                    why = "a status write to an object whose content is unknown"
                else:
                    new = {**before, "status": dict(body).get("status")}
            else:
                new = dict(body)
                base = str((new.get("metadata") or {}).get("resourceVersion") or "")
                known_rv = prev.rv if prev is not None else ""
                if e.verb == "update" and base and known_rv and base != known_rv:
                    result.gaps.append(ContentGap(*key, since=e.time, source=e.source, until=e.time, why=(
                        f"the update was made on resourceVersion {base}, the log's last version of it is "
                        f"{known_rv}: a write is missing from the log before this one (the update's whole object "
                        "is its content again)")))
        elif e.verb == "patch":
            if before is None:
                why = "a patch to an object whose content is unknown"
            else:
                new, why = _patched(e, before)
        if new is not None:
            new = _with_identity(new, e)
        if new is not None and before is not None and e.verb != "delete":
            gen_before, gen_after = (before.get("metadata") or {}).get("generation"), \
                (new.get("metadata") or {}).get("generation")
            if isinstance(gen_before, int) and isinstance(gen_after, int) and gen_after > gen_before + 1:
                result.gaps.append(ContentGap(*key, since=e.time, source=e.source, until=e.time, why=(
                    f"its generation went from {gen_before} to {gen_after}: {gen_after - gen_before - 1} spec "
                    "write(s) are missing from the log before this one")))
        if state_taken == "after" and last_write.get(key) == i and e.verb != "delete" and key in given:
            end = given[key]
            if new is None:
                new, why = end, ""
            elif content_of(new) != content_of(end):
                result.gaps.append(ContentGap(*key, since=e.time, source=e.source, until=e.time, why=(
                    "its content rebuilt from the log differs from the state taken after the window: a write is "
                    "missing from the log, or was not applied as logged (the state taken after is used)")))
                new = end
        if e.verb != "delete":
            if new is None:
                if prev is None or prev.obj is not None:
                    result.gaps.append(ContentGap(*key, since=e.time, why=why, source=e.source))
                objects[key] = _Object(None, why, e.time)
            else:
                if prev is not None and prev.obj is None and prev.unknown_since is not None:
                    _close_gap(result.gaps, key, e.time)
                exact = new is e.response_object or _is_object(e.response_object, e.kind) or (
                    state_taken == "after" and last_write.get(key) == i)
                objects[key] = _Object(new, rv=str((new.get("metadata") or {}).get("resourceVersion") or "")
                                       if exact else "")
        data = event_data(e.kind, etype, new, e.actor_json(), _before_pair(before), identity=(e.namespace, e.name),
                          unknown=why, status_unknown=status_unknown, status_only=status_only)
        data["audit"] = {"auditID": e.audit_id, "verb": e.verb, "level": e.level, "subresource": e.subresource or None,
                         "requestURI": e.request_uri, "source": e.source}
        if e.verb == "delete":
            objects.pop(key, None)
        out.append(Event(time=e.time, kind=KUBE_EVENT, source=AUDIT_SOURCE, data=data))
    result.objects = len({*given, *((e.kind, e.namespace, e.name) for e in writes)})
    result.events = out
    result.gaps.sort(key=lambda g: (g.since, g.kind, g.namespace, g.name))
    return result


def _with_identity(obj: dict[str, Any], e: AuditEvent) -> dict[str, Any]:
    # The namespace and name the request's URL gave: a client may leave them out of the body (``kubectl apply -n team
    # -f rt.yaml`` of a manifest without ``metadata.namespace``), and the object stored has them.
    meta = obj.get("metadata")
    meta = dict(meta) if isinstance(meta, Mapping) else {}
    if (not e.namespace or meta.get("namespace") == e.namespace) and (not e.name or meta.get("name")):
        return obj
    if e.namespace:
        meta["namespace"] = e.namespace
    if e.name and not meta.get("name"):
        meta["name"] = e.name
    return {**obj, "metadata": meta}


def _before_pair(before: dict[str, Any] | None) -> tuple[dict[str, Any] | None, Any] | None:
    return None if before is None else (content_of(before), before.get("status"))


def _close_gap(gaps: list[ContentGap], key: _Key, when: datetime) -> None:
    for n in range(len(gaps) - 1, -1, -1):
        g = gaps[n]
        if (g.kind, g.namespace, g.name) == key and g.until is None:
            gaps[n] = ContentGap(g.kind, g.namespace, g.name, g.since, g.why, when, g.source)
            return
