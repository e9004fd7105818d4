"""Episodes and blocked intervals: when the proxy held a last-known-good snapshot, and which teams it held back.

``design/architecture.md``: "a team is blocked while the proxy holds a last-known-good snapshot and that team has a
change that is not served". A team is a namespace. A team is not blocked by its own resources: the team whose change
makes Gloo keep its last good snapshot is the cause, not a victim. This is the ``blocked`` half of the
``gloo-nb journal summary --json`` contract (:mod:`gloo_nb.analysis.incident`), kept apart from the delays it reads.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gloo_nb.analysis.timeline.delays import ChangeDelay, wanted
from gloo_nb.analysis.timeline.events import EventIndex
from gloo_nb.analysis.timeline.replay import Cause, Change, Replay
from gloo_nb.analysis.timeline.routes import route_key

__all__ = ["Blocked", "Episode", "find_blocked", "find_episodes"]


@dataclass(frozen=True, slots=True)
class Episode:
    """An interval during which the proxy held a last-known-good snapshot.

    Attributes:
        start: When the change that Gloo rejected was made.
        end: When the first configuration after the fix was served (None: still held at the journal's end).
        started_by: The changes that began it (those of the first rejected translation).
        ended_by: The changes after which Gloo pushed again (the fix), empty while held.
        causes: Every cause seen during the episode.
    """

    start: datetime
    end: datetime | None
    started_by: tuple[Change, ...]
    ended_by: tuple[Change, ...]
    causes: tuple[Cause, ...]


@dataclass(frozen=True, slots=True)
class Blocked:
    """A team blocked: it had a change that was not served while the proxy held its last good snapshot.

    Attributes:
        team: The team (namespace).
        resource: ``namespace/name`` of the team's changed resource.
        kind: Its kind.
        start: When the block began.
        end: When it ended (its change served, or Gloo pushing again); None while still blocked at the journal's end.
        pending_since: When the team's change was made.
        causes: The other teams' resources that kept the last good snapshot.
        routes: The team's routes that were intended but not served, ``match -> action``.
    """

    team: str
    resource: str
    kind: str
    start: datetime
    end: datetime | None
    pending_since: datetime
    causes: tuple[Cause, ...]
    routes: tuple[str, ...] = ()

    @property
    def cause(self) -> str:
        """The causes as ``ns/name: <Gloo message>``, joined with ``; ``."""
        return "; ".join(c.text() for c in self.causes)

    @property
    def blocked_by(self) -> tuple[str, ...]:
        """The teams (namespaces) whose resources caused the block: "who blocked whom"."""
        return tuple(dict.fromkeys(c.namespace for c in self.causes if c.namespace))

    def seconds(self, until: datetime) -> float:
        """How long the block lasted, ``until`` standing in for an open end."""
        return ((self.end or until) - self.start).total_seconds()


def find_episodes(events: EventIndex, fold: Replay) -> list[Episode]:
    """The intervals during which the proxy held a last-known-good snapshot.

    Args:
        events: The journal's events.
        fold: The replay.

    Returns:
        The episodes, by start.
    """
    intents, changes = fold.intents, fold.changes
    out: list[Episode] = []
    i = 0
    while i < len(intents):
        if intents[i].decision != "keep-last-good":
            i += 1
            continue
        first = i
        causes: dict[str, Cause] = {}
        while i < len(intents) and intents[i].decision == "keep-last-good":
            causes.update((c.text(), c) for c in intents[i].causes)
            i += 1
        started_by = tuple(c for c in changes if c.intent == first)
        if i == len(intents):
            out.append(Episode(intents[first].time, None, started_by, (), tuple(causes.values())))
            break
        fixed = intents[i].time
        limit = intents[i + 1].time if i + 1 < len(intents) else None
        # The proxy holds the last good snapshot until the configuration after the fix is served: its routes
        # (Gloo pushes clusters and listeners first), else whatever it pushes first, else the fix itself.
        end = next((t for t in (_first_after(events.route_update_times, fixed, limit),
                                _first_after(events.update_times, fixed, limit)) if t is not None), fixed)
        out.append(Episode(intents[first].time, end, started_by, tuple(c for c in changes if c.intent == i),
                           tuple(causes.values())))
    return out


def _first_after(times: Sequence[datetime], t: datetime, limit: datetime | None) -> datetime | None:
    j = bisect.bisect_left(times, t)
    return times[j] if j < len(times) and (limit is None or times[j] < limit) else None


def _causes_at(fold: Replay, t: datetime) -> tuple[Cause, ...]:
    # During an episode's tail (fixed, not yet served) the last rejected translation's causes still hold.
    i = fold.index_at(t)
    while i >= 0 and fold.intents[i].decision != "keep-last-good":
        i -= 1
    return fold.intents[i].causes if i >= 0 else ()


def find_blocked(events: EventIndex, fold: Replay, episodes: Sequence[Episode],
                 delays: Sequence[ChangeDelay]) -> list[Blocked]:
    """The blocked intervals, by start (see the module's docstring for the rule).

    Args:
        events: The journal's events.
        fold: The replay.
        episodes: Its episodes (:func:`find_episodes`).
        delays: Its change delays (:func:`gloo_nb.analysis.timeline.delays.change_delays`).

    Returns:
        The blocked rows, a team's consecutive rows for one resource joined.
    """
    rows: list[Blocked] = []
    change_times = sorted({x.time for x in fold.intents})
    intents = fold.intents
    for delay in delays:
        change = delay.change
        if change.intent >= len(intents) or intents[change.intent].decision != "keep-last-good":
            # Gloo pushes what this change brings (the fix, or a change after it): it is not held back.
            continue
        pend_end = min((t for t in (delay.served, delay.superseded) if t is not None), default=None)
        for ep in episodes:
            start = max(change.time, ep.start)
            ends = [t for t in (pend_end, ep.end) if t is not None]
            end = min(ends) if ends else None
            if end is not None and end <= start:
                continue
            # Within the episode the causes change only at translations: split there.
            cuts = [start, *(t for t in change_times if t > start and (end is None or t < end))]
            for a, b in zip(cuts, [*cuts[1:], end], strict=True):
                foreign = tuple(c for c in _causes_at(fold, a) if c.namespace != change.namespace)
                if foreign:
                    rows.append(Blocked(change.namespace, change.ref, change.kind, a, b, change.time, foreign,
                                        _pending_routes(events, fold, change, a)))
    return _merge(rows)


def _pending_routes(events: EventIndex, fold: Replay, change: Change, t: datetime) -> tuple[str, ...]:
    present, _ = wanted(fold, change, t)
    keys = events.served_keys(t)
    if keys is None:
        # Not recorded (an import): Gloo serves its last good snapshot, the last translation it pushed.
        i = fold.index_at(t)
        while i >= 0 and fold.intents[i].decision != "push":
            i -= 1
        keys = frozenset(map(route_key, fold.intents[i].rows)) if i >= 0 else frozenset()
    return tuple(f"{k[1]} -> {k[2]}" for k in sorted(present - keys, key=lambda k: (k[0].virtual_host, k[1])))


def _merge(rows: list[Blocked]) -> list[Blocked]:
    """Join a team's consecutive rows for one resource (a new change or new causes while still blocked)."""
    rows = sorted(rows, key=lambda b: (b.team, b.resource, b.start))
    out: list[Blocked] = []
    for row in rows:
        prev = out[-1] if out else None
        if prev is not None and (prev.team, prev.resource) == (row.team, row.resource) and prev.end == row.start:
            causes = tuple({c.text(): c for c in (*prev.causes, *row.causes)}.values())
            out[-1] = Blocked(prev.team, prev.resource, prev.kind, prev.start, row.end, prev.pending_since, causes,
                              tuple(dict.fromkeys((*prev.routes, *row.routes))))
        else:
            out.append(row)
    return sorted(out, key=lambda b: (b.start, b.team, b.resource))
