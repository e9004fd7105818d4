"""Change delays: when each change was served by the control plane and applied by each replica.

A change with routes of its own is served when every route it brings is served and every route it removed is gone;
a change without routes (Settings, Upstream, Service), or one that changes no route's routing (options only), is
served with the next update Gloo pushes after it. This is
the ``changes`` half of the ``gloo-nb journal summary --json`` contract, kept apart from the blocked intervals that
read it.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gloo_nb.analysis.timeline.events import EventIndex, Poll, Update
from gloo_nb.analysis.timeline.replay import Change, Replay
from gloo_nb.analysis.timeline.routes import RouteKey, route_key

__all__ = ["ChangeDelay", "change_delays", "wanted"]


@dataclass(frozen=True, slots=True)
class ChangeDelay:
    """How long one change took to be served and applied.

    Attributes:
        change: The change.
        served: When the first served update containing it arrived (None: never).
        applied: Per replica, when it applied the change (None: never).
        superseded: When the resource changed again before this change was served, else None.
        seen: Per replica whose access log was imported, the first request that showed the change
            (:mod:`gloo_nb.analysis.timeline.traffic`), None when none did; empty without access logs.
    """

    change: Change
    served: datetime | None
    applied: Mapping[str, datetime | None]
    superseded: datetime | None
    seen: Mapping[str, datetime | None] = field(default_factory=dict)

    @property
    def seen_after(self) -> float | None:
        """Seconds from the change to the first replica whose traffic showed it, or None."""
        times = [t for t in self.seen.values() if t is not None]
        return None if not times else (min(times) - self.change.time).total_seconds()

    @property
    def served_after(self) -> float | None:
        """Seconds from the change to served, or None."""
        return None if self.served is None else (self.served - self.change.time).total_seconds()

    @property
    def applied_after(self) -> float | None:
        """Seconds from the change to the last replica applying it; None when a replica never did (or none)."""
        if not self.applied or any(t is None for t in self.applied.values()):
            return None
        return max((t - self.change.time).total_seconds() for t in self.applied.values() if t is not None)


def wanted(fold: Replay, change: Change, t: datetime) -> tuple[frozenset[RouteKey], frozenset[RouteKey]]:
    """The change's routes that must be present and those that must be gone, as intended at ``t``.

    Args:
        fold: The replay.
        change: One of its changes.
        t: The moment.

    Returns:
        The keys that must be served, and those that must not.
    """
    intents = fold.intents
    idx = max(change.intent, fold.index_at(t))
    if idx >= len(intents):
        return frozenset(), frozenset()
    state = intents[idx]
    present = state.owners.get(change.key, frozenset())
    before = intents[change.intent - 1].owners.get(change.key, frozenset()) if change.intent > 0 else frozenset()
    every = frozenset(map(route_key, state.rows))
    return present, before - every


def change_delays(events: EventIndex, fold: Replay, replicas: Sequence[str]) -> list[ChangeDelay]:
    """Per change, when it was served and applied by each replica.

    Args:
        events: The journal's events.
        fold: The replay.
        replicas: The replicas' node ids.

    Returns:
        One delay per change, by time.
    """
    changes = fold.changes
    out = []
    for n, change in enumerate(changes):
        later = next((c.time for c in changes[n + 1:] if c.key == change.key), None)
        out.append(_delay(events, fold, replicas, change, later))
    return out


def _delay(events: EventIndex, fold: Replay, replicas: Sequence[str], change: Change,
           superseded: datetime | None) -> ChangeDelay:
    present, gone = wanted(fold, change, change.time)
    # A change that leaves every route's routing as it was (only options: retries, headers, timeouts...) cannot be
    # seen in the route keys, which name routing only (the intent is compared with served by routing: gloo_nb's
    # prediction of the rest must not make a false difference); it is timed like a change without routes, by the
    # next update Gloo pushes after it, never as "served at once" because the unchanged keys were already there.
    before = fold.intents[change.intent - 1].owners.get(change.key, frozenset()) if change.intent > 0 else None
    route_less = (not present and not gone) or (not gone and present == before)
    served: datetime | None = None
    served_update: Update | None = None
    if route_less:
        # A change without routes of its own (Settings, Upstream, Service) is served with the next update that
        # Gloo pushes after it.
        j = bisect.bisect_left(events.update_times, change.time)
        for u in events.updates[j:]:
            if superseded is not None and u.time >= superseded:
                break
            state = fold.intent_at(u.time)
            if state is not None and state.decision == "push":
                served, served_update = u.time, u
                break
    else:
        j = bisect.bisect_left(events.route_update_times, change.time)
        for t in [change.time, *(u.time for u in events.route_updates[j:])]:
            if superseded is not None and t >= superseded:
                break
            present, gone = wanted(fold, change, t)
            keys = events.served_keys(t)
            if keys is not None and present <= keys and not gone & keys:
                served, served_update = t, events.served_at(t)
                break
    applied: dict[str, datetime | None] = {}
    for node in replicas:
        applied[node] = None
        if served is None:
            continue
        polls = events.polls.get(node, [])
        k = bisect.bisect_left(events.poll_times.get(node, []), change.time)
        for poll in polls[k:]:
            if superseded is not None and poll.time >= superseded:
                break
            if not poll.reachable:
                continue
            if _poll_has(events, fold, poll, change, served_update, route_less):
                applied[node] = max(poll.time, served)
                break
    return ChangeDelay(change, served, applied, superseded)


def _poll_has(events: EventIndex, fold: Replay, poll: Poll, change: Change, update: Update | None,
              route_less: bool) -> bool:
    if route_less:
        # The served version, or any version of that type served after it (the replica is at least as new).
        if update is None:
            return False
        j = bisect.bisect_left(events.update_times, update.time)
        return poll.versions.get(update.type_url) in {u.version for u in events.updates[j:]
                                                      if u.type_url == update.type_url and u.time <= poll.time}
    rows = events.rows_of(poll.route_digest)
    if rows is None:
        return update is not None and poll.route_digest == update.digest
    present, gone = wanted(fold, change, poll.time)
    keys = frozenset(map(route_key, rows))
    return present <= keys and not gone & keys
