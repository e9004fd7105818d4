"""The sandbox's object store: what etcd plus the apiserver's registry are to a real cluster.

Objects are plain JSON dicts exactly as Kubernetes shows them. Every real write bumps one global
resourceVersion, is appended to an on-disk log (when a state dir is given, so that a restarted sandbox
holds every object) and to ``audit.jsonl`` (``audit.k8s.io/v1`` Events: :mod:`gloo_nb.sandbox.audit`), and is
handed to the subscribers (watches, the kubelet, the control plane) in resourceVersion order.

A write exists only once it is durable, like etcd's: the record is serialized first (a value JSON
cannot hold is refused with 400 and changes nothing), appended to ``objects.jsonl`` and
``fdatasync``-ed; only then does the object enter memory, and so GET, list and watch. A failed
append (full disk) is rolled back and answered with 500. The log is a snapshot (the highest
resourceVersion handed out, then every live object) followed by the changes since; it is compacted
into a fresh snapshot, atomically, at every start and whenever the tail outgrows the live objects,
so deleted objects do not stay on disk and a start does not replay an unbounded history. A record
cut short by a kill or a full disk is cut off at the next start, before anything is appended.
"""

from __future__ import annotations

import bisect
import builtins
import json
import logging
import math
import os
import random
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import yaml

from gloo_nb.errors import BadDataError, GlooNbError, UsageError
from gloo_nb.sandbox import audit, managed_fields
from gloo_nb.sandbox.apierror import ApiError
from gloo_nb.sandbox.kinds import KINDS, NAMESPACE, POD, Kind, kind_of
from gloo_nb.sandbox.object_selectors import field_matcher, label_matcher
from gloo_nb.sandbox.statedir import private_dir
from gloo_nb.sandbox.validation import apply_defaults, validate, validate_update

__all__ = [
    "ADMIN",
    "CONTROLLER",
    "POD_QUOTA",
    "GLOO",
    "KUBELET",
    "ApiError",
    "Identity",
    "Store",
    "ValidatingCheck",
    "WatchEvent",
    "conflict",
    "not_found",
]

log = logging.getLogger(__name__)

_HISTORY = 20_000
"""Watch events kept for ``events_since``; older resourceVersions get 410 Expired."""

_COMPACT_SLACK = 1000
"""Records the log's tail may hold beyond twice the live objects before it is compacted."""

_COMPACT_BYTES = 8 << 20
"""Bytes the log may grow beyond twice its last snapshot before it is compacted (large objects rewritten often)."""

POD_QUOTA = 20
"""Most pods a namespace may hold (pods run as local processes: a Deployment scaled to 40 must not start 40).
Refused like a ResourceQuota with ``hard: {pods: 20}`` would (``Store.pod_quota`` changes it; the sandbox
daemon reads ``GLOO_NB_SANDBOX_MAX_PODS``)."""
POD_QUOTA_NAME = "sandbox-pods"
"""The quota named in refusals, as a ResourceQuota's name would be."""

NAMESPACE_GRACE = 1.0
"""Seconds a deleted Namespace stays ``Terminating`` before its content and itself are removed. Like a real
cluster's namespace controller, this lets ``kubectl delete -f`` delete the objects listed after the Namespace."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who makes a request.

    Attributes:
        user: User name, e.g. ``admin`` or ``system:serviceaccount:gloo-system:gloo``.
        groups: Group names.
    """

    user: str
    groups: tuple[str, ...] = ()


ADMIN = Identity("admin", ("system:masters", "system:authenticated"))
KUBELET = Identity("system:node:sandbox", ("system:nodes", "system:authenticated"))
CONTROLLER = Identity("system:kube-controller-manager", ("system:authenticated",))
GLOO = Identity("system:serviceaccount:gloo-system:gloo", ("system:serviceaccounts", "system:authenticated"))

ValidatingCheck = Callable[[str, Kind, dict[str, Any] | None, dict[str, Any] | None, Identity, bool], None]
"""A validating admission check: ``(operation, kind, object, old object, identity, dry run)``; refuses by raising
ApiError."""


def not_found(kind: Kind, name: str) -> ApiError:
    """Return the apiserver's 404 for a missing object, e.g. ``routetables.gateway.solo.io "x" not found``.

    Args:
        kind: The kind looked up.
        name: The name looked up.

    Returns:
        The error (not raised).
    """
    return ApiError(404, "NotFound", f'{kind.resource} "{name}" not found',
                    {"name": name, "group": kind.group, "kind": kind.plural})


def conflict(kind: Kind, name: str) -> ApiError:
    """Return the apiserver's 409 for a stale resourceVersion.

    Args:
        kind: The object's kind.
        name: The object's name.

    Returns:
        The error (not raised).
    """
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {kind.resource} "{name}": the object has '
                                     "been modified; please apply your changes to the latest version and try again",
                    {"name": name, "group": kind.group, "kind": kind.plural})


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One committed change.

    Attributes:
        type: ``ADDED``, ``MODIFIED`` or ``DELETED``.
        kind: The object's kind.
        object: The object after the change (for DELETED: as it was, with the deletion's resourceVersion).
            Shared by every subscriber: treat it as read-only.
        resource_version: The change's resourceVersion.
    """

    type: str
    kind: Kind
    object: dict[str, Any]
    resource_version: int


def _copy(value: Any) -> Any:
    # JSON-only data: much cheaper than copy.deepcopy.
    if isinstance(value, dict):
        return {key: _copy(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _rfc3339(t: float, *, precise: bool = False) -> str:
    moment = datetime.fromtimestamp(t, UTC)
    return moment.isoformat(timespec="microseconds" if precise else "seconds").replace("+00:00", "Z")


_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"

_IN_PROCESS_AGENTS = {
    "system:node:sandbox": "gloo-nb-sandbox/kubelet",
    "system:kube-controller-manager": "gloo-nb-sandbox/kube-controller-manager",
    "system:serviceaccount:gloo-system:gloo": "gloo-nb-sandbox/gloo",
}
"""The userAgent of the sandbox's in-process components' audited writes (they send no HTTP request)."""


def _patch_of(old: dict[str, Any], new: dict[str, Any]) -> Any:
    # What an in-process patch is logged as: the merge patch from the old object to the new, without the
    # resourceVersion and generation the store set (a client's patch carries neither).
    patch = audit.merge_patch(old, new)
    meta = patch.get("metadata") if isinstance(patch, dict) else None
    if isinstance(meta, dict):
        meta.pop("resourceVersion", None)
        meta.pop("generation", None)
        if not meta:
            del patch["metadata"]
    return patch


def _write_private(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as error:
        log.warning("could not write %s: %s", path, error)


def _without_versioning(obj: dict[str, Any]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    meta.pop("generation", None)
    return {**obj, "metadata": meta}


def _spec_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    keys = (set(old) | set(new)) - {"metadata", "status", "apiVersion", "kind"}
    return any(old.get(key) != new.get(key) for key in keys)


def _encode(record: dict[str, Any], kind: Kind, name: str) -> bytes:
    """One log line for ``record``; raises 400 when it holds a value JSON cannot represent.

    A real apiserver only ever holds what JSON can say (its YAML decoder, sigs.k8s.io/yaml, turns
    YAML into JSON first). Here a YAML body is parsed by PyYAML, which yields dates for unquoted
    dates; such a value must be refused before anything changes, or it would sit in memory and
    break every list and watch that meets it.
    """
    try:
        return (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()
    except (TypeError, ValueError) as error:
        found = _non_json(record.get("o", {}), "")
        if found is None:
            what = str(error)
        elif isinstance(found[1], float):
            what = f"{found[0]}: Invalid value: {found[1]}: NaN and Infinity are not JSON numbers"
        elif isinstance(found[1], datetime | date | time_of_day):
            # PyYAML reads an unquoted 2024-01-01 as a date; Kubernetes' YAML decoder keeps it a string.
            what = (f'{found[0]}: Invalid value: {found[1]}: a YAML date or time is not a JSON value; quote it '
                    f'("{found[1]}")')
        else:
            what = f"{found[0]}: Invalid value: {found[1]!r}: a {type(found[1]).__name__} is not a JSON value"
        raise ApiError(400, "BadRequest", f'{kind.kind} "{name}" cannot be stored: {what}',
                       {"name": name, "group": kind.group, "kind": kind.plural}) from None


def _non_json(value: Any, path: str) -> tuple[str, Any] | None:
    """The first place in ``value`` JSON cannot represent, as (field path, value), or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str | int | float | bool | None):
                return (path or "<root>", key)
            found = _non_json(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
        return None
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _non_json(item, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return (path, value)
    if value is None or isinstance(value, str | int | float | bool):
        return None
    return (path, value)


class _AppendOnly:
    """An append-only file of newline-terminated records, written without a user-space buffer.

    Args:
        path: The file (created ``0600`` when missing).
        sync: ``fdatasync`` after every append, so that an acknowledged write survives a crash.
    """

    def __init__(self, path: Path, *, sync: bool) -> None:
        self.path = path
        self._sync = sync
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.size = os.fstat(self._fd).st_size
        self._broken = ""

    def append(self, data: bytes) -> None:
        """Append whole records, or nothing.

        Args:
            data: One or more records, each ending in a newline.

        Raises:
            OSError: The write failed (the file is cut back to where it was), or an earlier failure
                could not be cut back.
        """
        if self._broken:
            raise OSError(f"{self.path} holds a partial record that could not be removed ({self._broken}); "
                          "restart the sandbox to repair it")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            if self._sync:
                os.fdatasync(self._fd)
        except OSError:
            try:
                os.ftruncate(self._fd, self.size)
            except OSError as error:
                self._broken = error.strerror or str(error)
            raise
        self.size += len(data)

    def close(self) -> None:
        """Sync and close."""
        try:
            os.fsync(self._fd)
        finally:
            os.close(self._fd)


def _complete_prefix(path: Path, *, records: bool) -> tuple[builtins.list[dict[str, Any]], int]:
    """Read the complete records at the start of ``path`` and cut off anything after them.

    A kill or a full disk in the middle of an append leaves a partial last line; appending after it
    would glue the next record to it and lose that one at the following start. So the file is cut
    back to its last complete record before anything is appended.

    Args:
        path: The file (absent: nothing).
        records: Parse each line as a JSON object (``objects.jsonl``); otherwise only whole lines count.

    Returns:
        The parsed records (empty when ``records`` is false) and the length of the complete prefix.
    """
    out: builtins.list[dict[str, Any]] = []
    good = 0
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return out, 0
    with f:
        for line in f:
            if not line.endswith(b"\n"):
                break
            if records:
                try:
                    rec = json.loads(line)
                except ValueError:
                    break
                if not isinstance(rec, dict):
                    break
                out.append(rec)
            good += len(line)
        f.seek(good)
        rest = f.read()
    if rest:
        size = good + len(rest)
        if records and b"\n" in rest.rstrip(b"\n"):
            # Not a torn last record: something damaged the middle. Keep the whole file for a human.
            shutil.copyfile(path, path.with_name(path.name + ".damaged"))
            log.warning("%s is damaged at byte %d; kept a copy in %s.damaged", path, good, path.name)
        log.warning("cutting %d bytes of an incomplete record off the end of %s", size - good, path)
        os.truncate(path, good)
    return out, good


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    """A thread-safe, optionally persistent object store with watch events.

    Args:
        state_dir: Where objects persist (``objects.jsonl``: a snapshot and the changes since) and where
            ``audit.jsonl`` is written; None keeps everything in memory. Created ``0700``; an existing one
            is made private to its user.
        clock: Time source for timestamps.
        namespace_grace: Seconds a deleted Namespace stays ``Terminating`` before the cascade.
        audit_level: The audit level of writes (``Metadata``, ``Request`` or ``RequestResponse``; Secrets are
            always ``Metadata``): see :mod:`gloo_nb.sandbox.audit`. The policy is written to
            ``audit-policy.yaml`` in the state dir.

    Attributes:
        audit_policy: What is audited at which level.
    """

    pod_quota: int | None = POD_QUOTA
    """Most pods per namespace (see :data:`POD_QUOTA`); None for no limit."""

    def __init__(self, state_dir: Path | None = None, *, clock: Callable[[], float] = time.time,
                 namespace_grace: float = NAMESPACE_GRACE, audit_level: str = audit.DEFAULT_LEVEL) -> None:
        self.audit_policy = audit.AuditPolicy(audit_level)
        self._lock = threading.RLock()
        self._grace = namespace_grace
        self._timers: list[threading.Timer] = []
        self._clock = clock
        self._objects: dict[Kind, dict[tuple[str, str], dict[str, Any]]] = {kind: {} for kind in KINDS}
        self._rv = 0
        self._history: list[WatchEvent] = []
        self._floor = 0
        self._subscribers: list[Callable[[WatchEvent], None]] = []
        self._admission: list[Callable[[Kind, dict[str, Any], str], None]] = []
        self._validating: list[ValidatingCheck] = []
        self._log: _AppendOnly | None = None
        self._log_records = 0
        self._snapshot_bytes = 0
        self._audit: _AppendOnly | None = None
        self._closed = False
        if state_dir is not None:
            state_dir = private_dir(Path(state_dir))
            self._open_log(state_dir / "objects.jsonl")
            _complete_prefix(state_dir / "audit.jsonl", records=False)
            # The audit trail is for people: flushed to the OS with each write (it survives a kill of the
            # sandbox), not synced; the objects log is what must survive a crash.
            self._audit = _AppendOnly(state_dir / "audit.jsonl", sync=False)
            _write_private(state_dir / "audit-policy.yaml",
                           "# The sandbox's audit policy (gloo-nb sandbox start --audit-level), written at start.\n"
                           + yaml.safe_dump(self.audit_policy.document(), sort_keys=False))
        self._floor = self._rv
        for ns in list(self._objects[NAMESPACE].values()):
            if ns["metadata"].get("deletionTimestamp"):
                self._schedule_finish(ns["metadata"]["name"], ADMIN)

    # --- persistence -----------------------------------------------------------------------

    def _open_log(self, path: Path) -> None:
        records, _ = _complete_prefix(path, records=True)
        for number, rec in enumerate(records, 1):
            try:
                self._replay(rec)
            except (KeyError, TypeError, ValueError, AttributeError, GlooNbError) as error:
                # Compacting now would drop this record and everything after it for good: refuse to start.
                raise BadDataError(f"{path}: line {number} is not an object record this sandbox can read "
                                  f"({type(error).__name__}: {error}); move the file away to start without "
                                  "objects") from None
        self._compact(path)

    def _replay(self, rec: dict[str, Any]) -> None:
        self._rv = max(self._rv, int(rec.get("rv", 0)))
        op = rec.get("op")
        if op == "put":
            obj = rec["o"]
            kind = kind_of(obj["apiVersion"], obj["kind"])
            meta = obj["metadata"]
            self._objects[kind][(meta.get("namespace", ""), meta["name"])] = obj
        elif op == "del":
            kind = kind_of(rec["av"], rec["k"])
            self._objects[kind].pop((rec["ns"], rec["n"]), None)

    def _compact(self, path: Path) -> None:
        """Replace the log by a snapshot of the live objects: write a temporary file, sync it, rename it over.

        The snapshot starts with the highest resourceVersion ever handed out, so that resourceVersions
        keep growing across restarts even when the object that held the highest one is gone.
        """
        tmp = path.with_name(path.name + ".tmp")
        lines = [(json.dumps({"op": "rv", "rv": self._rv}) + "\n").encode()]
        for objs in self._objects.values():
            lines.extend((json.dumps({"op": "put", "rv": int(obj["metadata"]["resourceVersion"]), "o": obj},
                                     separators=(",", ":")) + "\n").encode() for obj in objs.values())
        data = b"".join(lines)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as error:
            # The old log is intact and still valid: carry on with it, and try again later.
            tmp.unlink(missing_ok=True)
            log.warning("could not compact %s (%s); keeping the uncompacted log", path, error)
            if self._log is None:
                self._log = _AppendOnly(path, sync=True)
            # Try again once the tail has grown as much again, not on every write.
            self._log_records = 0
            self._snapshot_bytes = self._log.size
            return
        try:
            _fsync_dir(path.parent)  # make the rename itself durable
        except OSError as error:
            log.warning("could not sync %s after compacting the log: %s", path.parent, error)
        if self._log is not None:
            self._log.close()  # the old, now unlinked, file
        self._log = _AppendOnly(path, sync=True)
        self._log_records = len(lines)
        self._snapshot_bytes = len(data)

    def _maybe_compact(self) -> None:
        if self._log is None:
            return
        live = sum(len(objs) for objs in self._objects.values())
        if (self._log_records > 2 * live + _COMPACT_SLACK
                or self._log.size > 2 * self._snapshot_bytes + _COMPACT_BYTES):
            self._compact(self._log.path)

    def _persist(self, data: bytes) -> None:
        if self._log is None:
            return
        try:
            self._log.append(data)
        except OSError as error:
            raise ApiError(500, "InternalError", f"Internal error occurred: the sandbox could not save the write "
                                                 f"to {self._log.path}: {error.strerror or error}") from None
        self._log_records += 1

    @property
    def audit_path(self) -> Path | None:
        """``<state dir>/audit.jsonl``, or None for a store kept in memory."""
        return self._audit.path if self._audit is not None else None

    def append_audit(self, line: bytes) -> None:
        """Append one audit line (the API server's events); a failure is logged, not raised.

        The write it describes is committed and must be answered as such: only its audit line is then missing.

        Args:
            line: One newline-terminated JSON line.
        """
        if self._audit is None:
            return
        try:
            self._audit.append(line)
        except OSError as error:
            log.warning("could not append to %s: %s", self._audit.path, error)

    def _write_audit(self, identity: Identity, verb: str, kind: Kind, stored: dict[str, Any],
                     old: dict[str, Any] | None, subresource: str | None, rv: int) -> None:
        # An in-process component's write (kubelet, controllers, Gloo): audited as a real cluster audits its
        # controllers' requests, with the request they would have sent.
        if self._audit is None:
            return
        level = self.audit_policy.level_for(verb, kind.group, kind.plural)
        if level == "None":
            return
        meta = stored["metadata"]
        namespace, name = meta.get("namespace", ""), meta["name"]
        base = f"/api/{kind.version}" if not kind.group else f"/apis/{kind.group}/{kind.version}"
        path = f"{base}/namespaces/{namespace}/{kind.plural}" if kind.namespaced else f"{base}/{kind.plural}"
        if verb != "create":
            path += f"/{name}" + (f"/{subresource}" if subresource else "")
        request: Any = None
        if level != "Metadata":
            request = (stored if verb in ("create", "update")
                       else _patch_of(old, stored) if verb == "patch" and old is not None else None)
        now = self._clock()
        line = audit.event_line(
            level=level, verb=verb, request_uri=path, user=identity.user, groups=identity.groups, impersonated=None,
            user_agent=_IN_PROCESS_AGENTS.get(identity.user, "gloo-nb-sandbox"),
            # k8s.io/apiserver/pkg/endpoints/request/requestinfo.go: a request on a Namespace by name has that name
            # as its namespace; a create (POST to the collection) has none.
            ref=audit.object_ref(kind.plural, namespace if kind.namespaced else (
                name if kind is NAMESPACE and verb != "create" else ""), name, kind.group, kind.version,
                subresource=subresource or ""),
            code=201 if verb == "create" else 200, status=None, request_object=request, response_object=stored,
            received=now, completed=now, decision="allow", written=[rv])
        self.append_audit(line)

    def close(self) -> None:
        """Sync and close the files; the store must not be written afterwards."""
        with self._lock:
            self._closed = True
            for timer in self._timers:
                timer.cancel()
            for f in (self._log, self._audit):
                if f is not None:
                    f.close()
            self._log = self._audit = None

    # --- reads -------------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        """The current global resourceVersion, as a string."""
        return str(self._rv)

    @staticmethod
    def _key(kind: Kind, namespace: str | None, name: str) -> tuple[str, str]:
        return ((namespace or "") if kind.namespaced else "", name)

    def get(self, kind: Kind, namespace: str | None, name: str) -> dict[str, Any]:
        """Return a copy of one object.

        Args:
            kind: Its kind.
            namespace: Its namespace (ignored for cluster-scoped kinds).
            name: Its name.

        Returns:
            A deep copy of the object.

        Raises:
            ApiError: 404 NotFound.
        """
        with self._lock:
            obj = self._objects[kind].get(self._key(kind, namespace, name))
            if obj is None:
                raise not_found(kind, name)
            return _copy(obj)

    def find(self, kind: Kind, namespace: str | None, name: str) -> dict[str, Any] | None:
        """Return a copy of one object, or None when there is none (where absence is an answer, not an error).

        Args:
            kind: Its kind.
            namespace: Its namespace (ignored for cluster-scoped kinds).
            name: Its name.

        Returns:
            A deep copy of the object, or None.
        """
        with self._lock:
            obj = self._objects[kind].get(self._key(kind, namespace, name))
            return None if obj is None else _copy(obj)

    def list(self, kind: Kind, namespace: str | None = None, *, label_selector: str = "",
             field_selector: str = "") -> tuple[list[dict[str, Any]], str]:
        """List objects of a kind.

        Args:
            kind: The kind.
            namespace: Only this namespace; None or ``""`` for all.
            label_selector: A ``labelSelector`` string.
            field_selector: A ``fieldSelector`` string.

        Returns:
            Copies of the matching objects sorted by namespace and name, and the list's resourceVersion.

        Raises:
            ApiError: 400 for an unparsable selector.
        """
        by_label = label_matcher(label_selector)
        by_field = field_matcher(field_selector)
        with self._lock:
            objs = self._objects[kind]
            keys = sorted(key for key in objs if not namespace or not kind.namespaced or key[0] == namespace)
            items = [_copy(objs[key]) for key in keys if by_label(objs[key]) and by_field(objs[key])]
            return items, str(self._rv)

    # --- writes ------------------------------------------------------------------------------

    def _commit(self, kind: Kind, etype: str, obj: dict[str, Any], identity: Identity, verb: str,
                subresource: str | None, old: dict[str, Any] | None = None) -> dict[str, Any]:
        # Called with the lock held, after validation. Serialize, then persist, then change memory: a write
        # that cannot be represented or saved raises ApiError and leaves no trace (no resourceVersion used,
        # nothing in memory, the log or any watch). Returns the stored object (do not modify it).
        if self._closed:
            raise UsageError("the sandbox store is closed")
        rv = self._rv + 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(rv)
        namespace, name = meta.get("namespace", ""), meta["name"]
        if etype == "DELETED":
            rec: dict[str, Any] = {"op": "del", "rv": rv, "av": kind.api_version, "k": kind.kind, "ns": namespace,
                                   "n": name}
            data = _encode(rec, kind, name)
            stored = obj
        else:
            data = _encode({"op": "put", "rv": rv, "o": obj}, kind, name)
            # Memory holds exactly what the log holds (e.g. a YAML integer key becomes a string, as on a cluster).
            stored = json.loads(data)["o"]
        self._persist(data)
        self._rv = rv
        if etype == "DELETED":
            self._objects[kind].pop((namespace, name), None)
        else:
            self._objects[kind][(namespace, name)] = stored
        # The audit line follows the commit and precedes the watch events. A write made for an API request is
        # handed to the request: the API server writes it, with the request's outcome (gloo_nb.sandbox.audit).
        request = audit.current_request.get()
        if request is not None and request.open:
            request.committed.append((rv, stored))
        else:
            self._write_audit(identity, verb, kind, stored, old, subresource, rv)
        event = WatchEvent(etype, kind, _copy(stored), rv)
        self._history.append(event)
        if len(self._history) > 2 * _HISTORY:
            drop = len(self._history) - _HISTORY
            self._floor = self._history[drop - 1].resource_version
            del self._history[:drop]
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("a store subscriber failed on %s %s", etype, kind)
        self._maybe_compact()
        return stored

    def _prepare(self, kind: Kind, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        validate(kind, obj)
        apply_defaults(kind, obj, old)
        if old is not None:
            validate_update(kind, old, obj)

    def create(self, kind: Kind, obj: dict[str, Any], *, identity: Identity = ADMIN,
               dry_run: bool = False, uid: str | None = None) -> dict[str, Any]:
        """Create an object.

        Fills in uid, resourceVersion, creationTimestamp, generation, apiVersion and kind, resolves
        ``generateName`` and applies the apiserver's defaults.

        Args:
            kind: Its kind.
            obj: The object; its ``metadata.namespace`` (``default`` when absent) is where it goes.
            identity: Who creates it (for the audit log).
            dry_run: Validate and default, but store nothing.
            uid: The uid to give it (the sandbox's own ``kube-system``, whose uid is its cluster id); None: a new one.

        Returns:
            A copy of the stored object.

        Raises:
            ApiError: 422 Invalid, 404 when the namespace does not exist, 409 AlreadyExists.
        """
        obj = _copy(obj)
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata", {}), dict):
            raise ApiError(400, "BadRequest", "the body of the request must be an object with object metadata")
        obj = {"apiVersion": kind.api_version, "kind": kind.kind,
               **{key: v for key, v in obj.items() if key not in ("apiVersion", "kind")}}
        meta = obj.setdefault("metadata", {})
        # The name admission plugins name in their refusals: before generateName is resolved, as in the
        # apiserver (admission.NewForbidden's extractResourceName reads the name, else the generateName).
        asked = str(meta.get("name") or meta.get("generateName") or "")
        with self._lock:
            if not meta.get("name") and meta.get("generateName"):
                while True:
                    name = meta["generateName"] + "".join(random.choices(_NAME_CHARS, k=5))
                    if self._key(kind, meta.get("namespace") or "default", name) not in self._objects[kind]:
                        break
                meta["name"] = name
            if kind.namespaced:
                meta["namespace"] = meta.get("namespace") or "default"
            else:
                meta.pop("namespace", None)
            # The uid comes before defaulting: a Job's generated selector names it (pkg/registry/batch/job/
            # strategy.go PrepareForCreate runs after BeforeCreate has filled in the uid).
            meta["uid"] = uid or str(uuid.uuid4())
            self._prepare(kind, obj, None)
            namespace, name = meta.get("namespace", ""), meta["name"]
            if kind.namespaced:
                ns = self._objects[NAMESPACE].get(("", namespace))
                if ns is None:
                    raise not_found(NAMESPACE, namespace)
                if ns["metadata"].get("deletionTimestamp"):
                    raise ApiError(403, "Forbidden", f'{kind.resource} "{name}" is forbidden: unable to create new '
                                                     f"content in namespace {namespace} because it is being "
                                                     "terminated", {"name": name, "group": kind.group,
                                                                    "kind": kind.plural})
            # Admission plugins run after NamespaceLifecycle (the checks above) and before ResourceQuota
            # (k8s.io/apiserver/pkg/admission/plugin/resourcequota, a validating plugin, last).
            for check in list(self._admission):
                check(kind, obj, asked)
            self._validate_admission("CREATE", kind, obj, None, identity, dry_run)
            if kind is POD:
                self._check_pod_quota(namespace, name)
            if (namespace, name) in self._objects[kind]:
                raise ApiError(409, "AlreadyExists", f'{kind.resource} "{name}" already exists',
                               {"name": name, "group": kind.group, "kind": kind.plural})
            for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
                meta.pop(key, None)
            meta["creationTimestamp"] = _rfc3339(self._clock())
            meta["generation"] = 1
            # Issue 20: what the apiserver's field manager records (gloo_nb.sandbox.managed_fields).
            self._set_managed_fields(kind, None, obj, identity, None,
                                     managed_fields.given_entries(meta.get("managedFields")) or [])
            if dry_run:
                return obj
            return _copy(self._commit(kind, "ADDED", obj, identity, "create", None))

    def _set_managed_fields(self, kind: Kind, old: dict[str, Any] | None, new: dict[str, Any], identity: Identity,
                            subresource: str | None, so_far: builtins.list[dict[str, Any]]) -> None:
        manager, operation, applied = managed_fields.manager_for(identity.user)
        entries = managed_fields.managed_fields(old, new, manager=manager, operation=operation,
                                                subresource=subresource, now=_rfc3339(self._clock()),
                                                builtin=kind.builtin, applied=applied, entries_so_far=so_far,
                                                status=subresource == "status" or "status" not in kind.subresources)
        if entries:
            new["metadata"]["managedFields"] = entries
        else:
            new["metadata"].pop("managedFields", None)

    def _check_pod_quota(self, namespace: str, name: str) -> None:
        # Like the ResourceQuota admission plugin (k8s.io/apiserver/pkg/admission/plugin/resourcequota):
        # pods in a terminal phase do not count, and the refusal is a 403 naming the quota.
        limit = self.pod_quota
        if limit is None:
            return
        used = sum(1 for (ns, _), pod in self._objects[POD].items()
                   if ns == namespace and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"))
        if used + 1 > limit:
            raise ApiError(403, "Forbidden", f'pods "{name}" is forbidden: exceeded quota: {POD_QUOTA_NAME}, '
                                             f"requested: pods=1, used: pods={used}, limited: pods={limit}",
                           {"name": name, "kind": "pods"})

    def _update(self, kind: Kind, old: dict[str, Any], new: dict[str, Any], identity: Identity, verb: str,
                subresource: str | None, dry_run: bool) -> dict[str, Any]:
        # `new` is a private copy; with the lock held.
        old_meta = old["metadata"]
        new["apiVersion"], new["kind"] = kind.api_version, kind.kind
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if meta.get("name") != old_meta["name"]:
            # staging/src/k8s.io/apiserver/pkg/endpoints/handlers/rest.go checkName, run by update.go and by
            # patch.go's applyPatch: a renamed object is a 400, before ValidateObjectMetaUpdate could say immutable.
            raise ApiError(400, "BadRequest", f"the name of the object ({meta.get('name')}) does not match the "
                                              f"name on the URL ({old_meta['name']})")
        if kind.namespaced and meta.get("namespace", old_meta["namespace"]) != old_meta["namespace"]:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                              "sent on the request")
        rv = meta.get("resourceVersion")
        if rv not in (None, "") and rv != old_meta["resourceVersion"]:
            raise conflict(kind, old_meta["name"])
        if subresource == "status":
            status = new.get("status")
            new = _copy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        else:
            if "status" in kind.subresources:
                if "status" in old:
                    new["status"] = _copy(old["status"])
                else:
                    new.pop("status", None)
            for key in ("uid", "creationTimestamp", "namespace", "deletionTimestamp"):
                if key in old_meta:
                    meta[key] = old_meta[key]
            self._prepare(kind, new, old)
            # Validating webhooks see writes of the resource itself, not of its status subresource (a rule's
            # resources "*" matches no subresource: k8s.io/apiserver/pkg/admission/plugin/webhook/predicates/rules).
            self._validate_admission("UPDATE", kind, new, old, identity, dry_run)
        meta = new["metadata"]
        meta["resourceVersion"] = old_meta["resourceVersion"]
        meta["generation"] = old_meta.get("generation", 1)
        # The stored entries unless the body sets usable ones of its own (the apiserver takes those).
        given = managed_fields.given_entries(meta.get("managedFields")) if subresource is None else None
        if given is not None and given != old_meta.get("managedFields"):
            meta["managedFields"] = given
        elif "managedFields" in old_meta:
            meta["managedFields"] = old_meta["managedFields"]
        else:
            meta.pop("managedFields", None)
        if new == old:
            return _copy(old)
        if _spec_changed(old, new):
            meta["generation"] = meta["generation"] + 1
        self._set_managed_fields(kind, old, new, identity, subresource, meta.get("managedFields") or [])
        if dry_run:
            return new
        return _copy(self._commit(kind, "MODIFIED", new, identity, verb, subresource, old))

    def replace(self, kind: Kind, obj: dict[str, Any], *, identity: Identity = ADMIN, subresource: str | None = None,
                dry_run: bool = False) -> dict[str, Any]:
        """Replace an object (PUT).

        Args:
            kind: Its kind.
            obj: The new object; a non-empty ``metadata.resourceVersion`` must be the stored one.
            identity: Who writes (for the audit log).
            subresource: ``"status"`` changes only ``.status``; otherwise ``.status`` is kept from the stored object
                for kinds with a status subresource.
            dry_run: Validate, but store nothing.

        Returns:
            A copy of the stored object (the old one, same resourceVersion, when nothing changed).

        Raises:
            ApiError: 404 NotFound, 409 Conflict, 422 Invalid, 400 BadRequest.
        """
        obj = _copy(obj)
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(meta, dict) or not meta.get("name"):
            raise ApiError(400, "BadRequest", "the body of the request must be an object with metadata.name")
        with self._lock:
            namespace = meta.get("namespace") or "default"
            old = self._objects[kind].get(self._key(kind, namespace, meta["name"]))
            if old is None:
                raise not_found(kind, meta["name"])
            if kind.namespaced:
                meta["namespace"] = namespace
            return self._update(kind, old, obj, identity, "update", subresource, dry_run)

    def patch(self, kind: Kind, namespace: str | None, name: str, mutate: Callable[[dict[str, Any]], dict[str, Any]],
              *, identity: Identity = ADMIN, subresource: str | None = None,
              dry_run: bool = False) -> dict[str, Any]:
        """Read, modify and write one object atomically.

        Args:
            kind: Its kind.
            namespace: Its namespace.
            name: Its name.
            mutate: Gets a private copy of the stored object and returns the new one (or raises ApiError to abort).
                It runs under the store lock: keep it quick and do not call the store from it.
            identity: Who writes (for the audit log).
            subresource: ``"status"`` keeps only the ``.status`` change; ``"scale"`` is recorded as such.
            dry_run: Validate, but store nothing.

        Returns:
            A copy of the stored object; a no-op returns the stored object with the same resourceVersion.

        Raises:
            ApiError: 404 NotFound, 409 Conflict (a resourceVersion in the result that is not the stored one),
                422 Invalid, or whatever ``mutate`` raises.
        """
        with self._lock:
            old = self._objects[kind].get(self._key(kind, namespace, name))
            if old is None:
                raise not_found(kind, name)
            new = mutate(_copy(old))
            if not isinstance(new, dict):
                raise ApiError(400, "BadRequest", "the patched object must be a JSON object")
            new = _copy(new)
            meta = new.get("metadata")
            if isinstance(meta, dict) and meta.get("resourceVersion") in (None, ""):
                meta["resourceVersion"] = old["metadata"]["resourceVersion"]
            return self._update(kind, old, new, identity, "patch", subresource, dry_run)

    def _schedule_finish(self, namespace: str, identity: Identity) -> None:
        timer = threading.Timer(self._grace, self._finish_namespace, (namespace, identity))
        timer.daemon = True
        self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def _finish_namespace(self, name: str, identity: Identity) -> None:
        with self._lock:
            ns = self._objects[NAMESPACE].get(("", name))
            if self._closed or ns is None or not ns["metadata"].get("deletionTimestamp"):
                return
            for other in KINDS:
                if not other.namespaced:
                    continue
                for okey in [key for key in self._objects[other] if key[0] == name]:
                    gone = _copy(self._objects[other][okey])
                    gone["metadata"].setdefault("deletionTimestamp", ns["metadata"]["deletionTimestamp"])
                    self._commit(other, "DELETED", gone, identity, "delete", None)
            self._commit(NAMESPACE, "DELETED", _copy(ns), identity, "delete", None)

    def delete(self, kind: Kind, namespace: str | None, name: str, *, identity: Identity = ADMIN,
               dry_run: bool = False) -> dict[str, Any]:
        """Delete an object.

        A Namespace first turns ``Terminating`` (a MODIFIED event; creating objects in it is then forbidden);
        after ``namespace_grace`` seconds every namespaced object in it is deleted, then the Namespace itself.

        Args:
            kind: Its kind.
            namespace: Its namespace.
            name: Its name.
            identity: Who deletes (for the audit log).
            dry_run: Check only.

        Returns:
            The deleted object, with the deletion's resourceVersion (a Namespace: as it is while Terminating).

        Raises:
            ApiError: 404 NotFound.
        """
        with self._lock:
            key = self._key(kind, namespace, name)
            old = self._objects[kind].get(key)
            if old is None:
                raise not_found(kind, name)
            self._validate_admission("DELETE", kind, None, old, identity, dry_run)
            if dry_run:
                return _copy(old)
            gone = _copy(old)
            if kind is NAMESPACE:
                if old["metadata"].get("deletionTimestamp"):
                    return gone
                gone["metadata"]["deletionTimestamp"] = _rfc3339(self._clock())
                gone.setdefault("status", {})["phase"] = "Terminating"
                stored = self._commit(kind, "MODIFIED", gone, identity, "delete", None)
                self._schedule_finish(name, identity)
                return _copy(stored)
            gone["metadata"]["deletionTimestamp"] = _rfc3339(self._clock())
            return _copy(self._commit(kind, "DELETED", gone, identity, "delete", None))

    # --- watching --------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[WatchEvent], None]) -> Callable[[], None]:
        """Call ``callback`` after every committed write, in resourceVersion order.

        The callback runs in the writing thread with the store lock held: it must be quick (hand the event to a
        queue) and must not write to the store.

        Args:
            callback: Receives each :class:`WatchEvent`.

        Returns:
            A function that unsubscribes.
        """
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def add_admission(self, check: Callable[[Kind, dict[str, Any], str], None]) -> Callable[[], None]:
        """Run ``check(kind, obj, name)`` on every create before it is stored, like an admission plugin.

        It runs with the store lock held, after the namespace checks and before the pod quota; it may change
        ``obj`` (a mutating plugin), read the store, and refuse by raising :class:`ApiError`. ``name`` is the
        name asked for, or the ``generateName`` when the name is generated.

        Args:
            check: The plugin.

        Returns:
            A function that removes it.
        """
        with self._lock:
            self._admission.append(check)

        def remove() -> None:
            with self._lock:
                if check in self._admission:
                    self._admission.remove(check)

        return remove

    def add_validating_admission(self, check: ValidatingCheck) -> Callable[[], None]:
        """Run ``check(operation, kind, obj, old, identity, dry_run)`` on every create, update and delete (a webhook).

        A validating admission webhook (``k8s.io/apiserver/pkg/admission/plugin/webhook/validating``): it runs with
        the store lock held, after defaulting and the other admission plugins, before anything is stored, also for
        dry runs (the webhook is told, and answers as for a real write); status-subresource writes skip it. ``obj``
        is None for a deletion, ``old`` None for a creation. It must not change anything; it refuses by raising
        :class:`ApiError`.

        Args:
            check: The check.

        Returns:
            A function that removes it.
        """
        with self._lock:
            self._validating.append(check)

        def remove() -> None:
            with self._lock:
                if check in self._validating:
                    self._validating.remove(check)

        return remove

    def _validate_admission(self, operation: str, kind: Kind, obj: dict[str, Any] | None,
                            old: dict[str, Any] | None, identity: Identity, dry_run: bool) -> None:
        for check in list(self._validating):
            check(operation, kind, obj, old, identity, dry_run)

    def events_since(self, resource_version: int) -> builtins.list[WatchEvent]:
        """Return the events after a resourceVersion, oldest first.

        Args:
            resource_version: The last version the caller has seen.

        Returns:
            The events with a greater resourceVersion.

        Raises:
            ApiError: 410 Expired when those events are no longer kept (too old, or from before a restart).
        """
        with self._lock:
            if resource_version < self._floor:
                raise ApiError(410, "Expired", f"too old resource version: {resource_version} ({self._floor})")
            start = bisect.bisect_right(self._history, resource_version, key=lambda e: e.resource_version)
            return self._history[start:]
