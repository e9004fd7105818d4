"""The replay: the journal's Kubernetes events folded into the changes made and the translations they led to.

The objects are replayed once, incrementally, and the translator runs only where a change was made (once per batch
of changes, not per event). The delays, the episodes and the blocked intervals all read this one fold; it is kept
apart from them because it is the only place that translates the journal's history.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from gloo_nb._types import Profile
from gloo_nb.analysis.timeline.events import EventIndex, actor_of, ident_of, parse_recorded_event
from gloo_nb.analysis.timeline.routes import RouteKey, owners, route_rows
from gloo_nb.models import ResourceKey
from gloo_nb.models.codec import ParseResult
from gloo_nb.models.snapshot import Snapshot
from gloo_nb.translate import Translation, translate
from gloo_nb.translate.translator import BlockCause

__all__ = ["CHANGE_KINDS", "UNKNOWN_DECISION", "Cause", "Change", "Intent", "Replay", "replay", "unknown_ref"]

CHANGE_KINDS = ("VirtualService", "RouteTable", "Gateway", "Upstream", "Settings", "Service", "UpstreamGroup",
                "VirtualHostOption", "RouteOption")
"""Kinds whose spec changes are changes (rows of :meth:`Timeline.changes_frame`); Pods and Endpoints churn by
themselves."""
_ROUTE_CHANGE_KINDS = frozenset(CHANGE_KINDS)
# Secrets decide TLS listeners and Gloo's TLS errors (so the push decision): replayed, but not change rows.
_REPLAYED_KINDS = _ROUTE_CHANGE_KINDS | {"Secret"}

Cause = BlockCause
"""A resource whose findings make the proxy keep its last good snapshot (:meth:`Translation.block_causes`)."""


@dataclass(frozen=True)
class Intent:
    """The translation after the changes up to ``time`` (kept small: rows, owners, decision, causes).

    Attributes:
        time: When the last change of its batch was made.
        rows: Its route rows (:func:`gloo_nb.analysis.timeline.routes.route_rows`).
        owners: Per resource, the keys of its routes.
        teams: Per route key, its team.
        decision: The push decision (``push`` or ``keep-last-good``).
        reason: The decision's reason.
        causes: What makes the proxy keep its last good snapshot.
        unknown: Objects whose content the journal does not know at that time (an import from an audit log that
            holds only who wrote them, or a broken patch chain): ``Kind namespace/name``. With any, the decision is
            ``unknown``: the translation cannot be rebuilt, and nothing is guessed.
    """

    time: datetime
    rows: tuple[dict[str, Any], ...]
    owners: Mapping[ResourceKey, frozenset[RouteKey]]
    teams: Mapping[RouteKey, str]
    decision: str
    reason: str
    causes: tuple[Cause, ...]
    unknown: tuple[str, ...] = ()


UNKNOWN_DECISION = "unknown"
"""An :class:`Intent`'s decision when the content of a replayed object is not known."""


def unknown_ref(ident: tuple[str, str, str]) -> str:
    """``Kind namespace/name`` of an object identity."""
    kind, namespace, name = ident
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


@dataclass(frozen=True, slots=True)
class Change:
    """One change to a resource (a ``kube.event`` other than INITIAL whose spec changed).

    Attributes:
        time: When the recorder saw it.
        kind: The resource's kind.
        namespace: Its namespace (its team).
        name: Its name.
        type: ``ADDED``, ``MODIFIED`` or ``DELETED``.
        resource_version: The version written.
        actor: Who made it (user, else manager, else ``unknown``).
        intent: Index of the intent state that includes it.
    """

    time: datetime
    kind: str
    namespace: str
    name: str
    type: str
    resource_version: str
    actor: str
    intent: int

    @property
    def key(self) -> ResourceKey:
        """The resource's key."""
        return ResourceKey(self.kind, self.namespace, self.name)

    @property
    def ref(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"


class Replay:
    """The fold's result: the translations by time and the changes that led to them.

    Attributes:
        intents: The translations, by time.
        changes: The changes, by time; each names the first translation at or after it.
    """

    def __init__(self, intents: list[Intent], changes: list[Change]) -> None:
        self.intents = intents
        self.changes = changes

    @cached_property
    def times(self) -> list[datetime]:
        """The times of :attr:`intents`."""
        return [i.time for i in self.intents]

    def index_at(self, t: datetime) -> int:
        """Index of the last translation at or before ``t`` (-1 before the first)."""
        return bisect.bisect_right(self.times, t) - 1

    def intent_at(self, t: datetime) -> Intent | None:
        """The last translation at or before ``t`` (None before the first)."""
        i = self.index_at(t)
        return self.intents[i] if i >= 0 else None


def _intent(time: datetime, translation: Translation) -> Intent:
    rows = route_rows(translation.envoy)
    owned, teams = owners(translation, rows)
    return Intent(time, tuple(rows), owned, teams, translation.push.decision, translation.push.reason,
                  translation.block_causes())


def replay(events: EventIndex, starts: Sequence[datetime], profile: Profile, proxy: str | None = None, *,
           secrets_unreadable: Sequence[str] = ()) -> Replay:
    """Replay the Kubernetes events; translate once per batch of changes (not per event).

    Args:
        events: The journal's events.
        starts: When each recording started (``recorder.start``), by time.
        profile: The Gloo behaviour profile to translate with.
        proxy: The proxy recorded (``recorder.start``'s ``proxy``), whose translation is replayed.
        secrets_unreadable: Per recording (same order as ``starts``), why it holds no Secrets (``""``: it does);
            see :func:`gloo_nb.analysis.timeline.events.secrets_unreadable`.

    Returns:
        The translations and the changes.
    """
    parsed: dict[tuple[str, str, str], ParseResult] = {}
    unknown: dict[tuple[str, str, str], str] = {}
    intents: list[Intent] = []
    changes: list[Change] = []
    dirty = False
    dirty_time: datetime | None = None
    starts = list(starts)
    reasons = list(secrets_unreadable)
    unreadable = ""

    def flush() -> None:
        nonlocal dirty
        if not dirty or dirty_time is None:
            return
        dirty = False
        if unknown:
            refs = tuple(unknown_ref(k) for k in sorted(unknown))
            intents.append(Intent(dirty_time, (), {}, {}, UNKNOWN_DECISION,
                                  "content unknown: " + "; ".join(f"{unknown_ref(k)} ({why})"
                                                                  for k, why in sorted(unknown.items())), (), refs))
            return
        resources = [r for key in sorted(parsed) for r in parsed[key].resources]
        snapshot = Snapshot.from_resources(resources)
        if unreadable:
            snapshot = replace(snapshot, secrets_unreadable=unreadable)
        translation = translate(snapshot, profile, proxy=proxy)
        intents.append(_intent(dirty_time, translation))

    kube_times, kube_datas = events.kube
    for time, d in zip(kube_times, kube_datas, strict=True):
        if d.get("kind") not in _REPLAYED_KINDS:
            continue  # EDS inputs (Pods, Endpoints) never change routes or the push decision
        while starts and starts[0] <= time:
            # A new recording lists every object again (INITIAL): what it does not list is gone.
            starts.pop(0)
            flush()
            parsed.clear()
            unknown.clear()
            unreadable = reasons.pop(0) if reasons else ""
        ident = ident_of(d)
        etype = str(d.get("type", ""))
        kind = ident[0]
        spec = etype in ("INITIAL", "ADDED", "DELETED") or bool(d.get("specChanged", True))
        relevant = spec or ident not in parsed or d.get("contentUnknown") is not None
        # A recording's INITIAL listing is one batch; any other change closes the batch before it.
        if relevant and etype != "INITIAL":
            flush()
        if etype == "DELETED":
            parsed.pop(ident, None)
            unknown.pop(ident, None)
        elif d.get("contentUnknown") is not None:
            parsed.pop(ident, None)
            if kind != "Secret":
                # A Secret whose content is unknown is a reference the translation treats as unknown
                # (the import's secretsUnreadable); any other object leaves the translation unknown.
                unknown[ident] = str(d["contentUnknown"])
        elif relevant:
            parsed[ident] = parse_recorded_event(d)
            unknown.pop(ident, None)
        if relevant:
            dirty, dirty_time = True, time
        if etype in ("ADDED", "MODIFIED", "DELETED") and spec and kind in _ROUTE_CHANGE_KINDS:
            changes.append(Change(time, kind, ident[1], ident[2], etype, str(d.get("resourceVersion", "")),
                                  actor_of(d), -1))
    flush()
    # Each change belongs to the first translation at or after it.
    times = [i.time for i in intents]
    changes = [Change(c.time, c.kind, c.namespace, c.name, c.type, c.resource_version, c.actor,
                      bisect.bisect_left(times, c.time)) for c in changes]
    return Replay(intents, changes)
