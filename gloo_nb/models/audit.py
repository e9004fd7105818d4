"""Kubernetes audit events (``audit.k8s.io/v1`` ``Event``, one JSON object a line): the one reader.

What a cluster writes with ``--audit-log-path`` (kube-apiserver; EKS, AKS and kubeadm clusters export the same JSON
lines) and what the sandbox writes to ``<state dir>/audit.jsonl``. The fields are those of
``k8s.io/apiserver/pkg/apis/audit/v1/types.go`` ``Event``: ``level``, ``auditID``, ``stage``, ``requestURI``,
``verb``, ``user``, ``impersonatedUser``, ``sourceIPs``, ``userAgent``, ``objectRef``, ``responseStatus``,
``requestObject`` (``Request`` and ``RequestResponse`` levels), ``responseObject`` (``RequestResponse``),
``requestReceivedTimestamp``, ``stageTimestamp``, ``annotations``.

Only writes that happened are events of interest here: the ``ResponseComplete`` (or ``Panic``) stage of a
``create``, ``update``, ``patch`` or ``delete`` that the API server answered with a 2xx code and that was not a
dry run (``dryRun=All`` in the request URI writes nothing, yet is audited). An API server that omits no stage
writes ``RequestReceived`` first, with the same ``auditID``: it is not a second write.

Reading is fast on purpose: a real cluster's log is mostly reads, leases and Events. A line is decoded only when
its bytes name one of the resources asked for and a write verb (one regular expression over the whole buffer),
then with orjson.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from gloo_nb._files import binary_chunks
from gloo_nb.errors import BadDataError

__all__ = ["API_VERSION", "KIND_RESOURCES", "LEVELS", "SANDBOX_RV_ANNOTATION", "WRITE_VERBS", "AuditError",
           "AuditEvent", "AuditRead", "parse_audit_event", "read_audit", "resource_kind"]

API_VERSION = "audit.k8s.io/v1"
LEVELS = ("None", "Metadata", "Request", "RequestResponse")
"""The audit levels, from least to most content (``k8s.io/apiserver/pkg/apis/audit/v1/types.go``)."""
SANDBOX_RV_ANNOTATION = "sandbox.gloo-nb.io/resource-version"
"""The gloo-nb sandbox's own annotation: the resourceVersion a write stored (Kubernetes' ``objectRef.resourceVersion``
is the request's); comma-separated for a ``deletecollection`` of several objects; absent when nothing was stored."""
WRITE_VERBS = frozenset({"create", "update", "patch", "delete"})
"""The verbs that change one object (``deletecollection`` names no object: see :attr:`AuditRead.collections`)."""

KIND_RESOURCES: Mapping[str, tuple[str, str]] = {
    "VirtualService": ("gateway.solo.io", "virtualservices"),
    "RouteTable": ("gateway.solo.io", "routetables"),
    "Gateway": ("gateway.solo.io", "gateways"),
    "MatchableHttpGateway": ("gateway.solo.io", "httpgateways"),
    "VirtualHostOption": ("gateway.solo.io", "virtualhostoptions"),
    "RouteOption": ("gateway.solo.io", "routeoptions"),
    "Upstream": ("gloo.solo.io", "upstreams"),
    "UpstreamGroup": ("gloo.solo.io", "upstreamgroups"),
    "Settings": ("gloo.solo.io", "settings"),
    "Proxy": ("gloo.solo.io", "proxies"),
    "AuthConfig": ("enterprise.gloo.solo.io", "authconfigs"),
    "Service": ("", "services"),
    "Endpoints": ("", "endpoints"),
    "Pod": ("", "pods"),
    "Secret": ("", "secrets"),
    "ConfigMap": ("", "configmaps"),
    "Namespace": ("", "namespaces"),
    "Deployment": ("apps", "deployments"),
    "ReplicaSet": ("apps", "replicasets"),
}
"""Kind -> (API group, resource) for the kinds gloo_nb reads from an audit log."""
_RESOURCE_KINDS = {v: k for k, v in KIND_RESOURCES.items()}


class AuditError(BadDataError):
    """An audit log cannot be read (missing file, not JSON lines of ``audit.k8s.io/v1`` Events)."""


def resource_kind(api_group: str, resource: str) -> str | None:
    """The kind of an ``objectRef``'s group and resource, for the kinds gloo_nb reads.

    Args:
        api_group: ``objectRef.apiGroup`` (empty for the core group).
        resource: ``objectRef.resource`` (the plural).

    Returns:
        The kind, or None for a resource gloo_nb does not read.
    """
    return _RESOURCE_KINDS.get((api_group, resource))


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audited write, as the API server recorded it.

    Attributes:
        time: When the API server answered (``stageTimestamp`` of ``ResponseComplete``), UTC.
        received: ``requestReceivedTimestamp``, or None.
        level: ``Metadata``, ``Request`` or ``RequestResponse``.
        audit_id: ``auditID``.
        verb: ``create``, ``update``, ``patch`` or ``delete``.
        kind: The object's kind (:data:`KIND_RESOURCES`).
        api_group: ``objectRef.apiGroup``.
        api_version: ``objectRef.apiVersion``.
        namespace: ``objectRef.namespace`` (empty for cluster-scoped kinds).
        name: ``objectRef.name``; for a ``create`` without it, the response's or request's ``metadata.name``
            (``generateName``), else empty.
        subresource: ``objectRef.subresource`` (``status`` for a controller's status write), else empty.
        code: ``responseStatus.code``, or None when the event has none.
        user: ``user.username``.
        groups: ``user.groups``.
        impersonated_user: ``impersonatedUser.username`` when the request was impersonated, else None.
        impersonated_groups: ``impersonatedUser.groups``.
        user_agent: ``userAgent``.
        request_uri: ``requestURI``.
        request_object: ``requestObject`` (the object for create/update, the patch for patch), or None.
        response_object: ``responseObject`` (the object written), or None.
        annotations: ``annotations``.
        source: ``file:line`` of the event.
    """

    time: datetime
    received: datetime | None
    level: str
    audit_id: str
    verb: str
    kind: str
    api_group: str
    api_version: str
    namespace: str
    name: str
    subresource: str
    code: int | None
    user: str
    groups: tuple[str, ...]
    impersonated_user: str | None
    impersonated_groups: tuple[str, ...]
    user_agent: str
    request_uri: str
    request_object: Any
    response_object: Any
    annotations: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def actor(self) -> str:
        """Who the write was made as: the impersonated user when there is one, else the user."""
        return self.impersonated_user or self.user

    def actor_json(self) -> dict[str, Any]:
        """The journal's ``actor`` of this write (:mod:`gloo_nb.journal.schema`): who, in which groups, with what.

        Returns:
            ``{"user", "groups", "via": "audit", "manager": None, "userAgent", "impersonatedBy"}``: ``user`` the
            impersonated user when there is one, ``groups`` that identity's, ``impersonatedBy`` the real user then.
        """
        impersonated = self.impersonated_user is not None
        return {"user": self.actor, "groups": list(self.impersonated_groups if impersonated else self.groups),
                "via": "audit", "manager": None, "userAgent": self.user_agent or None,
                "impersonatedBy": self.user if impersonated else None}

    @property
    def query(self) -> Mapping[str, list[str]]:
        """The request URI's query parameters (``fieldManager``, ``force``, ``dryRun``...)."""
        return _query(self.request_uri)

    @property
    def field_manager(self) -> str | None:
        """The ``fieldManager`` query parameter, or None."""
        values = self.query.get("fieldManager")
        return values[0] if values else None

    @property
    def dry_run(self) -> bool:
        """The request was a dry run (``dryRun=All``): nothing was stored."""
        return "All" in self.query.get("dryRun", ())

    @property
    def written_versions(self) -> tuple[str, ...]:
        """The resourceVersions this write stored, when the log tells (else empty).

        The sandbox's :data:`SANDBOX_RV_ANNOTATION`, else the response's ``metadata.resourceVersion``
        (``RequestResponse`` level).
        """
        written = self.annotations.get(SANDBOX_RV_ANNOTATION)
        if written:
            return tuple(v for v in written.split(",") if v)
        meta = self.response_object.get("metadata") if isinstance(self.response_object, Mapping) else None
        rv = meta.get("resourceVersion") if isinstance(meta, Mapping) else None
        return (rv,) if isinstance(rv, str) and rv and self.response_object.get("kind") != "Status" else ()

    @property
    def ok(self) -> bool:
        """The API server answered with a 2xx code (an event without a code is taken as answered)."""
        return self.code is None or 200 <= self.code < 300


@dataclass
class AuditRead:
    """What :func:`read_audit` saw besides the events it returned, for the import's report.

    Attributes:
        lines: Lines read.
        events: Write events returned.
        refused: Writes the API server refused (non-2xx), not changes.
        dry_runs: Dry-run writes (``dryRun=All``), not changes.
        other_stages: ``RequestReceived``/``ResponseStarted`` events of the resources asked for (not outcomes).
        unreadable: ``file:line: why`` for lines that are not audit events (at most 20 kept).
        unreadable_count: How many such lines.
        collections: ``deletecollection`` writes of the resources asked for (they name no object: which objects went
            is known only from the objects' own later events or a response).
    """

    lines: int = 0
    events: int = 0
    refused: int = 0
    dry_runs: int = 0
    other_stages: int = 0
    unreadable: list[str] = field(default_factory=list)
    unreadable_count: int = 0
    collections: list[AuditEvent] = field(default_factory=list)

    def bad(self, where: str, why: str) -> None:
        """Count an unreadable line, keeping the first few."""
        self.unreadable_count += 1
        if len(self.unreadable) < 20:
            self.unreadable.append(f"{where}: {why}")


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise AuditError(f"{where}: a timestamp is missing or not a string: expected RFC 3339 like "
                         "2026-11-28T11:22:33.123456Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise AuditError(f"{where}: timestamp {value!r} is not RFC 3339") from None
    if parsed.utcoffset() is None:
        raise AuditError(f"{where}: timestamp {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    return value if isinstance(value, str) else ""


def _groups(user: Any) -> tuple[str, ...]:
    groups = user.get("groups") if isinstance(user, Mapping) else None
    return tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else ()


def parse_audit_event(obj: Any, *, where: str = "<audit>") -> AuditEvent | None:
    """One decoded audit line as an :class:`AuditEvent`, or None when it is not a completed write of interest.

    Not of interest (None): another stage than ``ResponseComplete``/``Panic``, a verb that is not a write, a
    resource gloo_nb does not read. A refused or dry-run write is returned (check :attr:`AuditEvent.ok` and the
    query's ``dryRun``).

    Args:
        obj: What the JSON line decoded to.
        where: ``file:line``, for errors.

    Returns:
        The event, or None.

    Raises:
        AuditError: The object is not an ``audit.k8s.io/v1`` ``Event`` (wrong kind or apiVersion, missing
            timestamps or objectRef).
    """
    if not isinstance(obj, Mapping):
        raise AuditError(f"{where}: expected a JSON object (an audit.k8s.io/v1 Event), got {type(obj).__name__}")
    if obj.get("kind") != "Event" or not str(obj.get("apiVersion", "")).startswith("audit.k8s.io/"):
        raise AuditError(f"{where}: not an audit event (kind {obj.get('kind')!r}, apiVersion "
                         f"{obj.get('apiVersion')!r}): expected kind Event, apiVersion {API_VERSION}, as "
                         "kube-apiserver writes with --audit-log-path")
    if obj.get("stage") not in ("ResponseComplete", "Panic"):
        return None
    verb = obj.get("verb")
    if verb not in WRITE_VERBS and verb != "deletecollection":
        return None
    ref = obj.get("objectRef")
    if not isinstance(ref, Mapping):
        raise AuditError(f"{where}: a {verb} event without objectRef: expected the object it wrote")
    kind = resource_kind(_str(ref, "apiGroup"), _str(ref, "resource"))
    if kind is None:
        return None
    raw_user, raw_imp = obj.get("user"), obj.get("impersonatedUser")
    user: Mapping[str, Any] = raw_user if isinstance(raw_user, Mapping) else {}
    imp: Mapping[str, Any] | None = raw_imp if isinstance(raw_imp, Mapping) else None
    status = obj.get("responseStatus")
    code = status.get("code") if isinstance(status, Mapping) and isinstance(status.get("code"), int) else None
    request, response = obj.get("requestObject"), obj.get("responseObject")
    name = _str(ref, "name")
    if not name and verb == "create":
        for body in (response, request):
            meta = body.get("metadata") if isinstance(body, Mapping) else None
            if isinstance(meta, Mapping) and isinstance(meta.get("name"), str):
                name = meta["name"]
                break
    received = obj.get("requestReceivedTimestamp")
    annotations = obj.get("annotations")
    return AuditEvent(
        time=_time(obj.get("stageTimestamp", received), where),
        received=_time(received, where) if received is not None else None,
        level=_str(obj, "level"), audit_id=_str(obj, "auditID"), verb=str(verb), kind=kind,
        api_group=_str(ref, "apiGroup"), api_version=_str(ref, "apiVersion"), namespace=_str(ref, "namespace"),
        name=name, subresource=_str(ref, "subresource"), code=code, user=_str(user, "username"),
        groups=_groups(user), impersonated_user=_str(imp, "username") or None if imp is not None else None,
        impersonated_groups=_groups(imp), user_agent=_str(obj, "userAgent"), request_uri=_str(obj, "requestURI"),
        request_object=request, response_object=response,
        annotations={str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, Mapping) else {},
        source=where)


_CHUNK = 1 << 24
_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")


def _unquote(text: str) -> str:
    # application/x-www-form-urlencoded, as urllib.parse.unquote_plus (urllib is not for the pure core).
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    return _PERCENT.sub(lambda m: bytes((int(m.group(1), 16),)), text.encode()).decode("utf-8", "replace")


def _query(uri: str) -> dict[str, list[str]]:
    """A request URI's query parameters, as ``urllib.parse.parse_qs`` reads them (blank values dropped)."""
    query = uri.partition("?")[2].partition("#")[0]
    out: dict[str, list[str]] = {}
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key and value:
            out.setdefault(_unquote(key), []).append(_unquote(value))
    return out
# The first three bytes of create, update, patch, delete and deletecollection.
_WRITE_PREFIXES = frozenset({b"cre", b"upd", b"pat", b"del"})


def read_audit(path: str | os.PathLike[str], *, kinds: Collection[str] | None = None,
               report: AuditRead | None = None) -> Iterator[AuditEvent]:
    """The completed, answered, real writes of one audit log file (plain or ``.gz``), in file order.

    Args:
        path: The file: JSON lines of ``audit.k8s.io/v1`` Events.
        kinds: The kinds to return (default: every kind of :data:`KIND_RESOURCES`).
        report: Filled with what was skipped and why.

    Yields:
        The events; refused writes (non-2xx) and dry runs are counted in ``report``, not yielded.

    Raises:
        AuditError: The file cannot be read, or holds no audit event at all (the wrong file).
    """
    report = report if report is not None else AuditRead()
    wanted = set(kinds) if kinds is not None else set(KIND_RESOURCES)
    unknown = wanted - set(KIND_RESOURCES)
    if unknown:
        raise AuditError(f"cannot read kinds {sorted(unknown)} from an audit log: known are {sorted(KIND_RESOURCES)}")
    names = sorted({KIND_RESOURCES[k][1] for k in wanted})
    # The encoders of kube-apiserver and of the sandbox write no space after the colon; allow it anyway.
    candidate = re.compile(rb'"resource"\s*:\s*"(?:' + b"|".join(re.escape(n.encode()) for n in names) + rb')"')
    verbs = re.compile(rb'"verb"\s*:\s*"(?:create|update|patch|delete|deletecollection)"')
    name = os.fspath(path)
    seen_event = False
    line_no = 0
    # The file is opened outside the pure core (gloo_nb._files); closing() closes it if the caller stops early.
    with contextlib.closing(binary_chunks(
            path, AuditError, "the audit log", _CHUNK,
            cut_short=lambda why: report.bad(f"{name}:end", f"the file ends early ({why}); the lines before are "
                                                            "read"))) as chunks:
        rest = b""
        while True:
            chunk = next(chunks, b"")
            if not chunk and not rest:
                break
            data = rest + chunk
            if chunk:
                cut = data.rfind(b"\n") + 1
                data, rest = data[:cut], data[cut:]
                if not data:
                    rest = data + rest
                    continue
            else:
                rest = b""
            base = line_no
            line_no += data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
            if not chunk and data.strip():
                # What follows the last newline: one line without its end. A writer stopped mid-line (a killed
                # apiserver, a log copied while written) leaves a torn line there; a whole one is read as usual.
                try:
                    orjson.loads(data)
                except orjson.JSONDecodeError:
                    report.bad(f"{name}:{base + 1}", "truncated last line (no newline at its end and not JSON: the "
                                                     "writer stopped mid-line); left out")
                    continue
            if not seen_event:
                # The first line tells a wrong file (an access log, a journal) from an audit log with nothing of
                # interest.
                first = data[:data.find(b"\n")] if b"\n" in data else data
                if first.strip():
                    try:
                        obj = orjson.loads(first)
                    except orjson.JSONDecodeError:
                        raise AuditError(f"{name}:{base + 1}: not a JSON line: expected JSON lines of "
                                         f"{API_VERSION} Events (kube-apiserver --audit-log-path)") from None
                    parse_audit_event(obj, where=f"{name}:{base + 1}")
                    seen_event = True
            last = -1
            pos, lines_before = 0, base  # counted incrementally: one pass over the buffer, not one per match
            for m in candidate.finditer(data):
                start = data.rfind(b"\n", 0, m.start()) + 1
                if start <= last:
                    continue
                end = data.find(b"\n", m.end())
                end = len(data) if end < 0 else end
                last = end
                # Most lines naming a resource of interest are reads (list, watch, get): tell by the verb's first
                # bytes, in place, before copying the line out (kube-apiserver writes the verb before objectRef, but
                # any order is read).
                v = data.find(b'"verb":"', start, end)
                if v >= 0 and data[v + 8:v + 11] not in _WRITE_PREFIXES:
                    continue
                line = data[start:end]
                if v < 0 and not verbs.search(line):
                    continue
                lines_before += data.count(b"\n", pos, start)
                pos = start
                where = f"{name}:{lines_before + 1}"
                try:
                    event = parse_audit_event(orjson.loads(line), where=where)
                except orjson.JSONDecodeError as error:
                    report.bad(where, f"not JSON ({error})")
                    continue
                except AuditError as error:
                    report.bad(where, str(error).removeprefix(f"{where}: "))
                    continue
                if event is None:
                    if b'"stage":"ResponseComplete"' not in line:
                        report.other_stages += 1
                    continue
                if event.kind not in wanted:
                    continue
                if not event.ok:
                    report.refused += 1
                    continue
                if "All" in event.query.get("dryRun", ()):
                    report.dry_runs += 1
                    continue
                if event.verb == "deletecollection":
                    report.collections.append(event)
                    continue
                report.events += 1
                yield event
    report.lines += line_no
