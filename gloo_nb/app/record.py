"""The recorder: every change a gateway goes through, written to a journal (``gloo-nb record``).

A :class:`Recorder` follows one :class:`~gloo_nb.app.connect.GatewayConnection` from background threads and writes
what it sees through one :class:`~gloo_nb.journal.JournalWriter`, with the event kinds and data of
:mod:`gloo_nb.journal.schema`:

- Kubernetes: each recorded kind is listed (one ``kube.event`` ``INITIAL`` per object), then watched from the list's
  resourceVersion; a stream that ends is reopened, a ``410 Expired`` relists and writes what changed. Each event
  carries the object (redacted, without ``managedFields``), whether spec and status changed, the RFC 6902 patch
  from the previous version, and who wrote it: on a sandbox the matching line of its ``audit.jsonl`` (written by
  the apiserver a moment before it notifies watchers), else the newest ``managedFields`` manager, else unknown.
- xDS: every update the shadow node receives (``conn.ads()``) as ``xds.update``, and the resources of its type as
  ``xds.content`` once per digest (with route rows for RouteConfigurations).
- Replicas: each Envoy's xDS counters every ``poll_seconds`` (one small ``/stats`` request); its route
  configurations are fetched from ``/config_dump`` only when those counters moved. A ``replica.poll`` is written when
  versions, rejections or the applied routes' digest changed, and once per outage.

Nothing loops busily: watches block on their streams, the xDS thread on a queue, the poller on a timer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, BinaryIO

from google.protobuf import json_format

from gloo_nb.app.connect import GLOO_KINDS, GatewayConnection, GatewayUnreachable
from gloo_nb.app.gateway import unreadable_reason
from gloo_nb.app.probe import ProbeResult
from gloo_nb.errors import GlooNbError, UsageError
from gloo_nb.journal import JournalWriter
from gloo_nb.journal.kube_events import UNKNOWN_ACTOR, content_of, event_data, managed_fields_actor
from gloo_nb.journal.schema import (
    KUBE_EVENT,
    KUBE_SOURCE,
    PROBE_RESULT,
    PROBE_SOURCE,
    RECORDER_SOURCE,
    RECORDER_START,
    RECORDER_STOP,
    REPLICA_POLL,
    XDS_CONTENT,
    XDS_SOURCE,
    XDS_UPDATE,
    replica_source,
)
from gloo_nb.kube import KubeError, resource_for
from gloo_nb.models.audit import AuditError, parse_audit_event
from gloo_nb.translate.routes import row_json
from gloo_nb.xds.admin import EnvoyAdmin, EnvoyAdminError, XdsStats
from gloo_nb.xds.client import XdsUpdate
from gloo_nb.xds.decode import ServedSnapshot, fallback_label, route_rows
from gloo_nb.xds.protos import TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE

__all__ = [
    "RECORDED_KINDS",
    "Recorder",
    "RecorderError",
    "probe_data",
    "record",
    "resources_digest",
]

_log = logging.getLogger(__name__)

RECORDED_KINDS = (*GLOO_KINDS, "Service", "Endpoints", "Pod", "Deployment", "Secret")
"""What the recorder lists and watches by default: Gloo's resources, what kube EDS reads, the apps, and Secrets
(recorded redacted, so that a changed TLS secret is visible in the timeline)."""

# How long a watch event waits for its audit line (the sandbox's API writes it before it sends the watch event,
# so this is only reached when a write races the file's flush).
_AUDIT_WAIT = 0.5
# A watch stream is reopened this often even when the server keeps it open, so that stop() is noticed.
_WATCH_SECONDS = 30
_RETRY_SECONDS = 1.0


class RecorderError(UsageError):
    """The recorder cannot start or go on; the message says what to check."""


def resources_digest(resources: Iterable[Any]) -> str:
    """The journal's digest of one xDS type's resources.

    Args:
        resources: Protobuf messages of one type (names from ``name``, or ``cluster_name`` for endpoints).

    Returns:
        The hex sha256 over the resources sorted by name, each ``SerializeToString(deterministic=True)``.
    """
    h = hashlib.sha256()
    for message in sorted(resources, key=_resource_name):
        h.update(message.SerializeToString(deterministic=True))
    return h.hexdigest()


def _resource_name(message: Any) -> str:
    return str(getattr(message, "name", "") or getattr(message, "cluster_name", ""))


def probe_data(result: ProbeResult) -> dict[str, Any]:
    """A probe's ``probe.result`` data.

    Args:
        result: What :func:`gloo_nb.app.probe.probe` returned.

    Returns:
        ``{"url", "headers", "requests", "shares": [{"answer", "count", "share", "low", "high"}]}``.
    """
    return {"url": result.url, "headers": dict(result.headers), "requests": len(result.answers),
            "shares": [{"answer": s.answer, "count": s.count, "share": s.share, "low": s.low, "high": s.high}
                       for s in result.shares]}


# --- Kubernetes helpers ---------------------------------------------------------------------------------------


@dataclass
class _Known:
    """What the recorder last saw of one object (unredacted, in memory only)."""

    content: dict[str, Any]
    status: Any
    resource_version: str
    obj: dict[str, Any]


class _AuditLog:
    """Follows a sandbox's ``audit.jsonl``: who wrote which (kind, resourceVersion).

    The lines are ``audit.k8s.io/v1`` Events, read with the one parser (:func:`gloo_nb.models.audit.parse_audit_event`).
    A write is matched by the resourceVersion it stored: the sandbox's ``sandbox.gloo-nb.io/resource-version``
    annotation (there at every level), else the response's ``metadata.resourceVersion``; resourceVersions are unique
    across a sandbox's kinds, and the namespace and name are checked when the event names them (a ``generateName``
    create at ``Metadata`` level and a ``deletecollection`` do not). Refused writes and dry runs stored nothing and
    are skipped. Read on demand, from where it stopped: a lookup that misses reads what was appended since.
    """

    def __init__(self, path: Path, kinds: Iterable[str]) -> None:
        self.path = path
        self._kinds = frozenset(kinds)
        self._lock = threading.Lock()
        self._file: BinaryIO | None = None
        self._partial = b""
        self._line = 0
        self._index: dict[tuple[str, str], tuple[str, str, dict[str, Any]]] = {}

    def _read_new(self) -> None:
        # Caller holds the lock.
        if self._file is None:
            try:
                self._file = open(self.path, "rb")  # noqa: SIM115 - kept open to follow the file
            except OSError:
                return
        data = self._file.read()
        if not data:
            return
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()  # an unterminated last line is completed by a later read
        for line in lines:
            self._line += 1
            try:
                event = parse_audit_event(json.loads(line), where=f"{self.path}:{self._line}")
            except (ValueError, AuditError):
                continue
            if event is None or event.kind not in self._kinds or not event.ok or event.dry_run:
                continue
            actor = event.actor_json()
            for rv in event.written_versions:
                self._index[(event.kind, rv)] = (event.namespace, event.name, actor)

    def find(self, kind: str, namespace: str, name: str, resource_version: str,
             wait: float = 0.0) -> dict[str, Any] | None:
        """The actor of this write (``kube.event``'s ``actor``), reading what was appended; waits up to ``wait`` s."""
        key = (kind, resource_version)
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                found = self._index.pop(key, None)
                if found is None:
                    self._read_new()
                    found = self._index.pop(key, None)
            if found is not None:
                ns, nm, actor = found
                # A cluster-scoped kind's objectRef carries its name as namespace for Namespaces only.
                if (not nm or nm == name) and (not ns or ns == namespace or kind == "Namespace"):
                    return dict(actor)
                found = None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def forget_before(self, kind: str, resource_version: str) -> None:
        """Drop entries of ``kind`` at or before a list's resourceVersion (versions no watch will deliver)."""
        try:
            floor = int(resource_version)
        except ValueError:
            return
        with self._lock:
            for key in [k for k in self._index if k[0] == kind and k[1].isdigit() and int(k[1]) <= floor]:
                del self._index[key]

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


@dataclass
class _ReplicaState:
    fingerprint: Any = None
    versions: dict[str, str] = field(default_factory=dict)
    route_digest: str | None = None
    last: Any = None
    reachable: bool | None = None


def _stats_rejected(stats: XdsStats) -> dict[str, int]:
    return {TYPE_CLUSTER: stats.cds.update_rejected, TYPE_LISTENER: stats.lds.update_rejected,
            TYPE_ROUTE: sum(s.update_rejected for s in stats.rds.values()),
            TYPE_ENDPOINT: sum(s.update_rejected for s in stats.eds.values())}


def _route_fingerprint(stats: XdsStats) -> Any:
    # What moves when a replica applies (or rejects) new listeners or routes: then its route configs are re-read.
    return (stats.lds.version, stats.lds.update_success, stats.lds.update_rejected,
            tuple((name, s.version, s.update_success, s.update_rejected) for name, s in sorted(stats.rds.items())))


# --- the recorder ---------------------------------------------------------------------------------------------


class Recorder:
    """Records one gateway into a journal directory, in background threads.

    Example:
        >>> with connect_sandbox("sb") as conn, Recorder(conn, Path("journal"), state_dir=Path("sb")):  # doctest: +SKIP
        ...     ...  # make changes; the recorder writes them

    Args:
        conn: The gateway (its Kubernetes client, xDS address and replicas are used; it is not closed).
        out: The journal directory (created; a directory with earlier runs gets a new file).
        state_dir: A sandbox's state directory: actors are then read from its ``audit.jsonl``.
        poll_seconds: How often each replica's counters are read.
        audit_log: A Kubernetes audit log (``audit.k8s.io/v1`` Events as JSON lines, what kube-apiserver's
            ``--audit-log-path`` writes with ``--audit-log-format=json``) to read actors from on a cluster;
            ``state_dir`` implies its ``audit.jsonl``. The same reader either way, so that ``--sandbox DIR``
            and ``--kubeconfig DIR/kubeconfig --audit-log DIR/audit.jsonl`` record the same journal.
        clock: The journal's clock (default: now, UTC).
        kinds: What to list and watch (default :data:`RECORDED_KINDS`); kinds the identity may not list are
            left out with a warning.
        connection: The ``connection`` field of ``recorder.start`` (default: derived from ``state_dir`` and the
            client's impersonation headers).

    Attributes:
        errors: Problems met while recording (a watch that broke and was reopened, a replica's odd answer), the
            last hundred; the recording goes on regardless.
    """

    def __init__(self, conn: GatewayConnection, out: Path, *, state_dir: Path | None = None, poll_seconds: float = 1.0,
                 clock: Callable[[], datetime] | None = None, kinds: Sequence[str] | None = None,
                 connection: Mapping[str, Any] | None = None, audit_log: Path | None = None) -> None:
        if poll_seconds <= 0:
            raise RecorderError(f"poll_seconds must be positive, got {poll_seconds}")
        for kind in kinds or ():
            resource_for(kind)  # an unknown kind fails here, before anything runs
        self.conn = conn
        self.out = Path(out)
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.audit_log = (Path(audit_log) if audit_log is not None
                          else self.state_dir / "audit.jsonl" if self.state_dir is not None else None)
        self.poll_seconds = poll_seconds
        self.kinds: list[str] = list(kinds or RECORDED_KINDS)
        self._clock = clock
        self._connection = dict(connection) if connection is not None else None
        self._writer: JournalWriter | None = None
        self._write_lock = threading.Lock()
        self._closed = False
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._known: dict[str, dict[tuple[str, str], _Known]] = {}
        self._audit: _AuditLog | None = None
        self._digests: set[str] = set()
        self._digest_lock = threading.Lock()
        self._xds_queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._xds_last: dict[str, str] = {}
        self._replicas: dict[str, _ReplicaState] = {}
        self._started = False
        self.errors: list[str] = []

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self) -> Recorder:
        """Write ``recorder.start`` and every listed object, then follow changes in background threads.

        Returns:
            The recorder, once the initial list is written.

        Raises:
            RecorderError: Already started, or the journal cannot be opened.
            GatewayUnreachable: Kubernetes cannot be listed.
        """
        if self._started:
            raise RecorderError("this recorder was started already: create a new Recorder")
        self._started = True
        try:
            self._writer = JournalWriter(self.out, clock=self._clock)
        except GlooNbError as err:
            raise RecorderError(f"cannot open the journal: {err}") from None
        try:
            self._start()
        except BaseException:
            self._stopping.set()
            with self._write_lock:
                self._closed = True
                self._writer.close()
            raise
        return self

    def _start(self) -> None:
        lists: dict[str, dict[str, Any]] = {}
        unreadable = ""
        for kind in self.kinds:
            try:
                lists[kind] = self.conn.kube.list(kind)
            except KubeError as err:
                if err.status in (401, 403, 404):
                    _log.warning("not recording %s: %s", kind, err)
                    self.errors.append(f"{kind} not recorded: {err}")
                    if kind == "Secret":
                        unreadable = unreadable_reason(err)
                    continue
                raise GatewayUnreachable(f"cannot list {kind} from Kubernetes: {err}") from None
        if self.audit_log is not None:
            self._audit = _AuditLog(self.audit_log, lists)
        self._emit(RECORDER_START, {
            "profile": self.conn.profile, "namespace": self.conn.namespace, "proxy": self.conn.proxy,
            "role": self.conn.role, "replicas": [r.node_id for r in self.conn.replicas],
            "gatewayUrl": self.conn.gateway_url, "xds": self.conn.xds_address, "kinds": list(lists),
            "connection": self._connection_info(),
            # why this recording holds no Secrets: its replay then treats secretRefs as unknown, not missing
            **({"secretsUnreadable": unreadable} if unreadable else {})},
            RECORDER_SOURCE)
        for kind, listed in lists.items():
            api_version = resource_for(kind).api_version
            known = self._known.setdefault(kind, {})
            for item in listed.get("items", []):
                # The apiserver leaves kind and apiVersion out of list items.
                item.setdefault("kind", kind)
                item.setdefault("apiVersion", api_version)
                self._kube_event(kind, "INITIAL", item, known)
            rv = str(listed.get("metadata", {}).get("resourceVersion", ""))
            if self._audit is not None:
                self._audit.forget_before(kind, rv)
            self._spawn(f"record-watch-{kind}", self._watch_loop, kind, rv)
        if self.conn.xds_address:
            self._spawn("record-xds", self._xds_loop)
            client = self.conn.ads()
            client.add_listener(self._on_xds_update)
            # Updates that arrived before the listener (the client may be older than the recorder): the state held.
            held = client.snapshot()
            for type_url, version in held.versions.items():
                names = tuple(sorted(_resource_name(r) for r in held.resources(type_url)))
                self._xds_queue.put((XdsUpdate(time.time(), type_url, version, "", names, 0), held))
        if self.conn.replicas:
            self._spawn("record-replicas", self._poll_loop)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _connection_info(self) -> dict[str, Any]:
        if self._connection is not None:
            return self._connection
        headers = getattr(self.conn.kube.api_client, "default_headers", {}) or {}
        where: dict[str, Any] = ({"sandbox": str(self.state_dir)} if self.state_dir is not None
                                 else {"kubeconfig": None, "context": None})
        return {**where, "asUser": headers.get("Impersonate-User"), "asGroup": headers.get("Impersonate-Group")}

    def stop(self, reason: str = "stop()") -> None:
        """Write ``recorder.stop`` (the last event of this recording), flush and close the journal. Idempotent.

        Args:
            reason: Why, e.g. ``signal SIGINT``.
        """
        self._stopping.set()
        self._xds_queue.put(None)
        for thread in self._threads:
            # Watch threads block on their stream until it ends; they are daemons and write nothing from now on.
            if not thread.name.startswith("record-watch-"):
                thread.join(timeout=10)
        with self._write_lock:
            if self._closed or self._writer is None:
                return
            self._writer.append(RECORDER_STOP, {"reason": reason}, source=RECORDER_SOURCE)
            self._closed = True
            self._writer.close()
        if self._audit is not None:
            self._audit.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the recorder stops (another thread called :meth:`stop`).

        Args:
            timeout: Seconds to wait at most; None waits for ever.

        Returns:
            Whether it stopped.
        """
        return self._stopping.wait(timeout)

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping.is_set()

    @property
    def files(self) -> list[Path]:
        """The journal files written by this recorder."""
        return self._writer.files if self._writer is not None else []

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop("stop()" if exc is None else f"error {type(exc).__name__}")

    # -- writing -------------------------------------------------------------------------------------------------

    def write(self, kind: str, data: Mapping[str, Any], source: str = "") -> bool:
        """Write one event into this recording (e.g. a probe's result or a note).

        Args:
            kind: The event kind (see :mod:`gloo_nb.journal.schema`).
            data: Its data (redacted before writing).
            source: Who it is from.

        Returns:
            Whether it was written (False once the recorder stopped).
        """
        return self._emit(kind, data, source)

    def record_probe(self, result: ProbeResult) -> bool:
        """Write a ``probe.result`` event.

        Args:
            result: A probe's result.

        Returns:
            Whether it was written.
        """
        return self._emit(PROBE_RESULT, probe_data(result), PROBE_SOURCE)

    def _emit(self, kind: str, data: Mapping[str, Any], source: str, when: datetime | None = None) -> bool:
        with self._write_lock:
            if self._closed or self._writer is None:
                return False
            self._writer.append(kind, data, source=source, time=when)
            return True

    def _now(self) -> datetime:
        return self._clock() if self._clock is not None else datetime.now(UTC)

    def _problem(self, text: str) -> None:
        _log.warning("%s", text)
        self.errors.append(text)
        del self.errors[:-100]

    # -- Kubernetes ----------------------------------------------------------------------------------------------

    def _watch_loop(self, kind: str, resource_version: str) -> None:
        known = self._known[kind]
        rv = resource_version
        while not self._stopping.is_set():
            try:
                for etype, obj in self.conn.kube.watch(kind, resource_version=rv, timeout_seconds=_WATCH_SECONDS):
                    if self._stopping.is_set():
                        return
                    rv = str(obj.get("metadata", {}).get("resourceVersion") or rv)
                    if etype in ("ADDED", "MODIFIED", "DELETED"):
                        obj.setdefault("kind", kind)
                        obj.setdefault("apiVersion", resource_for(kind).api_version)
                        self._kube_event(kind, etype, obj, known)
            except KubeError as err:
                if self._stopping.is_set():
                    return
                if err.status == 410:
                    try:
                        rv = self._relist(kind, known)
                    except KubeError as again:
                        self._problem(f"relisting {kind} failed: {again}")
                        self._stopping.wait(_RETRY_SECONDS)
                    continue
                self._problem(f"watching {kind}: {err}")
                self._stopping.wait(_RETRY_SECONDS)
            except Exception as err:  # noqa: BLE001 - a recorder thread must survive a broken stream and go on
                if self._stopping.is_set():
                    return
                self._problem(f"watching {kind}: {type(err).__name__}: {err}")
                self._stopping.wait(_RETRY_SECONDS)

    def _relist(self, kind: str, known: dict[tuple[str, str], _Known]) -> str:
        """After a 410: list again and write what changed since the last event seen."""
        listed = self.conn.kube.list(kind)
        api_version = resource_for(kind).api_version
        seen = set()
        for item in listed.get("items", []):
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", api_version)
            meta = item.get("metadata", {})
            key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
            seen.add(key)
            before = known.get(key)
            if before is None:
                self._kube_event(kind, "ADDED", item, known)
            elif before.resource_version != str(meta.get("resourceVersion") or ""):
                self._kube_event(kind, "MODIFIED", item, known)
        for key in [k for k in known if k not in seen]:
            self._kube_event(kind, "DELETED", known[key].obj, known)
        return str(listed.get("metadata", {}).get("resourceVersion", ""))

    def _kube_event(self, kind: str, etype: str, obj: dict[str, Any], known: dict[tuple[str, str], _Known]) -> None:
        # Stamped when it arrived, not when written: waiting for its audit line must not reorder it.
        observed = self._now()
        meta = obj.get("metadata", {})
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        rv = str(meta.get("resourceVersion") or "")
        key = (namespace, name)
        content, status = content_of(obj), obj.get("status")
        before = known.get(key)
        if etype == "DELETED":
            known.pop(key, None)
        else:
            known[key] = _Known(content, status, rv, obj)
        actor = self._actor(kind, namespace, name, rv, obj, wait=0.0 if etype == "INITIAL" else _AUDIT_WAIT)
        data = event_data(kind, etype, obj, actor,
                          None if etype in ("INITIAL", "ADDED") or before is None else (before.content, before.status))
        self._emit(KUBE_EVENT, data, KUBE_SOURCE, observed)

    def _actor(self, kind: str, namespace: str, name: str, rv: str, obj: Mapping[str, Any],
               wait: float) -> dict[str, Any]:
        if self._audit is not None:
            entry = self._audit.find(kind, namespace, name, rv, wait=wait)
            if entry is not None:
                return entry
        return managed_fields_actor(obj) or dict(UNKNOWN_ACTOR)

    # -- xDS -----------------------------------------------------------------------------------------------------

    def _on_xds_update(self, update: XdsUpdate) -> None:
        # Runs in the xDS client's thread, right after the update was stored: the snapshot is this update's state.
        # Only the lists are taken here (cheap); hashing and decoding happen in the recorder's xDS thread.
        if not self._stopping.is_set():
            self._xds_queue.put((update, self.conn.ads().snapshot()))

    def _xds_loop(self) -> None:
        while True:
            item = self._xds_queue.get()
            if item is None or self._stopping.is_set():
                return
            update, snapshot = item
            try:
                self._xds_event(update, snapshot)
            except Exception as err:  # noqa: BLE001 - one undecodable update must not end the recording
                self._problem(f"recording an xDS update of {update.type_url}: {type(err).__name__}: {err}")

    def _xds_event(self, update: XdsUpdate, snapshot: ServedSnapshot) -> None:
        if not update.nonce and self._xds_last.get(update.type_url) == update.version:
            return  # the state held at start, already recorded from the stream
        self._xds_last[update.type_url] = update.version
        resources = snapshot.resources(update.type_url)
        digest = self._store_content(update.type_url, resources, snapshot.listeners)
        self._emit(XDS_UPDATE, {"typeUrl": update.type_url, "version": update.version, "nonce": update.nonce,
                                "digest": digest, "names": list(update.resource_names), "accepted": True,
                                "proxy": self.conn.proxy}, XDS_SOURCE)

    def _store_content(self, type_url: str, resources: Sequence[Any], listeners: Sequence[Any]) -> str:
        """Write ``xds.content`` for these resources unless their digest was stored; return the digest."""
        digest = resources_digest(resources)
        with self._digest_lock:
            if digest in self._digests:
                return digest
        data: dict[str, Any] = {"digest": digest, "typeUrl": type_url,
                                "resources": [_proto_json(r) for r in sorted(resources, key=_resource_name)]}
        if type_url == TYPE_ROUTE:
            rows = route_rows(resources, "served", fallback_body=fallback_label(listeners))
            data["routes"] = [row_json(r) for r in rows]
        with self._digest_lock:
            # Checked again: the xDS thread and the poller may both have decoded it; one writes it, and before any
            # event that names it.
            if digest not in self._digests:
                self._digests.add(digest)
                self._emit(XDS_CONTENT, data, XDS_SOURCE)
        return digest

    # -- replicas ------------------------------------------------------------------------------------------------

    def _poll_loop(self) -> None:
        admins = self.conn.admins()
        while not self._stopping.is_set():
            for node, admin in admins.items():
                if self._stopping.is_set():
                    return
                try:
                    self._poll(node, admin)
                except Exception as err:  # noqa: BLE001 - a replica's odd answer must not end the recording
                    self._problem(f"polling replica {node}: {type(err).__name__}: {err}")
            self._stopping.wait(self.poll_seconds)

    def _poll(self, node: str, admin: EnvoyAdmin) -> None:
        state = self._replicas.setdefault(node, _ReplicaState())
        try:
            stats = admin.xds_stats()
            fingerprint = _route_fingerprint(stats)
            if fingerprint != state.fingerprint or state.route_digest is None:
                applied = admin.config_dump().applied()
                state.versions = dict(applied.versions)
                state.route_digest = self._store_content(TYPE_ROUTE, applied.route_configurations,
                                                         applied.listeners)
                state.fingerprint = fingerprint
        except EnvoyAdminError:
            if state.reachable is not False:
                state.reachable, state.last, state.fingerprint = False, None, None
                self._emit(REPLICA_POLL, {"node": node, "versions": {}, "rejected": {}, "routeDigest": None,
                                          "reachable": False, "proxy": self.conn.proxy}, replica_source(node))
            return
        versions = {**state.versions, TYPE_CLUSTER: stats.cds.version_text or state.versions.get(TYPE_CLUSTER, "")}
        eds = Counter(s.version_text for s in stats.eds.values() if s.version_text)
        if eds:
            versions[TYPE_ENDPOINT] = eds.most_common(1)[0][0]
        record = (versions, _stats_rejected(stats), state.route_digest)
        if record != state.last or state.reachable is not True:
            state.last, state.reachable = record, True
            self._emit(REPLICA_POLL, {"node": node, "versions": versions, "rejected": record[1],
                                      "routeDigest": state.route_digest, "reachable": True,
                                      "proxy": self.conn.proxy}, replica_source(node))


def _proto_json(message: Any) -> dict[str, Any]:
    try:
        return dict(json_format.MessageToDict(message))
    except (TypeError, KeyError, ValueError) as err:
        # An Any of a type outside the descriptor pool (Gloo's own filters): keep its name, say why.
        return {"name": _resource_name(message), "@undecodable": str(err)}


# --- foreground ---------------------------------------------------------------------------------------------------


def record(conn: GatewayConnection, out: Path, *, state_dir: Path | None = None, poll_seconds: float = 1.0,
           kinds: Sequence[str] | None = None, connection: Mapping[str, Any] | None = None,
           on_started: Callable[[Recorder], None] | None = None, audit_log: Path | None = None) -> str:
    """Record in the foreground until SIGINT or SIGTERM, then flush and close the journal (what the CLI runs).

    Must run in the main thread (it installs the two signal handlers, and restores them on return).

    Args:
        conn: The gateway.
        out: The journal directory.
        state_dir: A sandbox's state directory (actors from its audit log).
        poll_seconds: How often each replica is polled.
        kinds: What to watch (default :data:`RECORDED_KINDS`).
        connection: The ``connection`` field of ``recorder.start``.
        on_started: Called once the initial list is written (e.g. to print where the journal goes).
        audit_log: A Kubernetes audit log to read actors from (see :class:`Recorder`).

    Returns:
        Why it stopped, as written in ``recorder.stop`` (``signal SIGINT``, ``signal SIGTERM``).
    """
    reason: list[str] = []
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        reason.append(f"signal {signal.Signals(signum).name}")
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        recorder = Recorder(conn, out, state_dir=state_dir, poll_seconds=poll_seconds, kinds=kinds,
                            connection=connection, audit_log=audit_log).start()
        try:
            if on_started is not None:
                on_started(recorder)
            # Waking now and then lets the signal handler's flag be seen promptly on every platform.
            while not stop.wait(0.5) and not recorder.stopped:
                pass
        finally:
            recorder.stop(reason[0] if reason else "stop()")
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
    return reason[0] if reason else "stop()"
