"""core/v1 Events, as the kubelet, the scheduler and the deployment controller record them.

One :class:`EventRecorder` per reporting component. A repeat of the same event (same object, reason, message,
type and source) bumps ``count`` and ``lastTimestamp`` of the stored Event instead of adding one, as
client-go's ``EventCorrelator`` does, so a crash loop is one ``BackOff`` line ``(x7 over 2m)``, not seven.
Recording never fails the caller: an Event that cannot be written (its namespace is terminating) is dropped,
as a real component drops it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kinds import Kind
from gloo_nb.sandbox.store import ApiError, Identity, Store

__all__ = ["NORMAL", "WARNING", "EventRecorder", "object_ref"]

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
_CACHE = 4096  # client-go's maxLruCacheEntries


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def object_ref(kind: Kind, namespace: str, name: str, uid: str = "", field_path: str = "") -> dict[str, Any]:
    """Return an Event's ``involvedObject`` (an ``ObjectReference``).

    Args:
        kind: The object's kind.
        namespace: Its namespace.
        name: Its name.
        uid: Its uid.
        field_path: The part of it the event is about, e.g. ``spec.containers{web}``.

    Returns:
        The reference.
    """
    ref: dict[str, Any] = {"kind": kind.kind, "namespace": namespace, "name": name, "apiVersion": kind.api_version}
    if uid:
        ref["uid"] = uid
    if field_path:
        ref["fieldPath"] = field_path
    return ref


class EventRecorder:
    """Writes Events on behalf of one component.

    Args:
        store: Where Events are stored.
        component: ``source.component``, e.g. ``kubelet``, ``default-scheduler``, ``deployment-controller``.
        identity: Who writes them (in-process, as the component).
        host: ``source.host`` (the node, for the kubelet).
    """

    def __init__(self, store: Store, component: str, identity: Identity, host: str = "") -> None:
        self.store = store
        self.component = component
        self.identity = identity
        self.host = host
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, ...], str] = OrderedDict()

    def record(self, involved: dict[str, Any], etype: str, reason: str, message: str) -> None:
        """Record that something happened to an object (or count one more time it did).

        Args:
            involved: The object, from :func:`object_ref`.
            etype: :data:`NORMAL` or :data:`WARNING`.
            reason: e.g. ``Started``, ``BackOff``, ``ScalingReplicaSet``.
            message: One human-readable line.
        """
        namespace = involved.get("namespace") or "default"
        key = (namespace, involved.get("uid") or involved.get("name", ""), involved.get("fieldPath", ""), etype,
               reason, message)
        now = _now()
        try:
            with self._lock:
                name = self._seen.get(key)
                if name is not None and self._bump(namespace, name, now):
                    self._seen.move_to_end(key)
                    return
                name = f"{involved.get('name', 'event')}.{time.time_ns():x}"
                source = {"component": self.component, **({"host": self.host} if self.host else {})}
                self.store.create(kinds.EVENT, {
                    "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": namespace},
                    "involvedObject": involved, "reason": reason, "message": message, "source": source,
                    "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": etype, "eventTime": None,
                    "reportingComponent": self.component, "reportingInstance": self.host}, identity=self.identity)
                self._seen[key] = name
                if len(self._seen) > _CACHE:
                    self._seen.popitem(last=False)
        except ApiError as exc:
            log.debug("event %s %s on %s dropped: %s", reason, message, involved.get("name"), exc.message)

    def _bump(self, namespace: str, name: str, now: str) -> bool:
        def count(obj: dict[str, Any]) -> dict[str, Any]:
            obj["count"] = int(obj.get("count") or 1) + 1
            obj["lastTimestamp"] = now
            return obj

        try:
            self.store.patch(kinds.EVENT, namespace, name, count, identity=self.identity)
        except ApiError:
            return False  # deleted meanwhile (its namespace went away): record a fresh one
        return True
