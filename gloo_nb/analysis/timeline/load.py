"""Loading a journal into a :class:`Timeline`, the one object that hands out its analyses, each computed on first use.

The analyses themselves live beside this module, one responsibility each: the event index (:mod:`.events`), the
replay (:mod:`.replay`), the change delays (:mod:`.delays`), the episodes and blocked intervals (:mod:`.blocked`), the
frames (:mod:`.frames`) and the state at a moment (:mod:`.state`). This module only loads, caches and wires them.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import gloo_nb.analysis.timeline.frames as frames
from gloo_nb._gc import gc_paused
from gloo_nb._types import Profile, check_profile
from gloo_nb.analysis.timeline.blocked import Blocked, Episode, find_blocked, find_episodes
from gloo_nb.analysis.timeline.delays import ChangeDelay, change_delays
from gloo_nb.analysis.timeline.events import EventIndex, secrets_unreadable
from gloo_nb.analysis.timeline.replay import UNKNOWN_DECISION, Change, Replay, replay
from gloo_nb.analysis.timeline.state import StateAt, state_at
from gloo_nb.analysis.timeline.traffic import TrafficIndex, metrics_rows, observed_rows, seen_by_node
from gloo_nb.journal import Journal, Loss, format_time, parse_time, read_journal
from gloo_nb.journal.schema import RECORDER_START

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PLATFORM_NAMESPACE", "Timeline", "load_timeline", "rfc3339"]

PLATFORM_NAMESPACE = "gloo-system"
"""Gloo's own namespace when the journal does not say (``recorder.start``'s ``namespace``)."""


class Timeline:
    """A journal folded into what happened at the gateway (built by :func:`load_timeline`).

    Attributes:
        journal: The loaded journal (events, files, losses).
        profile: The Gloo behaviour profile the translation replays.
        namespace: Gloo's namespace (the platform's, not a team's).
        proxy: The proxy the recording followed (``recorder.start``'s ``proxy``); None: the default one.
        imported: Per imported recording, what its ``recorder.start`` says about its sources (``imported``: audit
            logs, levels, the state given); empty for a recorder's journal.
    """

    def __init__(self, journal: Journal, *, profile: Profile | None = None) -> None:
        self.journal = journal
        starts = [e.data for e in journal.of_kind(RECORDER_START).events]
        recorded = (starts[-1].get("profile") or "current") if starts else "current"
        self.profile: Profile = profile or check_profile(recorded, source="journal: recorder start: profile")
        self.namespace: str = str(starts[-1].get("namespace") or PLATFORM_NAMESPACE) if starts else PLATFORM_NAMESPACE
        # The proxy the recorder followed (journals from before proxies were recorded: the default one).
        self.proxy: str | None = str(starts[-1]["proxy"]) if starts and starts[-1].get("proxy") else None
        self._starts = [e.time for e in journal.of_kind(RECORDER_START).events]
        self._secrets_unreadable = [secrets_unreadable(s) for s in starts]
        self._listed = list(dict.fromkeys(str(n) for s in starts for n in s.get("replicas") or []))
        # An import (gloo-nb journal import) says so in its recorder.start: it holds no served or applied versions.
        self.imported: list[Mapping[str, Any]] = [s["imported"] for s in starts
                                                  if isinstance(s.get("imported"), Mapping)]
        self._events = EventIndex(journal, served_recorded=len(self.imported) < len(starts) or not starts)

    def kube_events(self, start: datetime | None = None, end: datetime | None = None) -> Iterator[
            tuple[datetime, Mapping[str, Any]]]:
        """The ``kube.event`` data between two times (both included), by time.

        Args:
            start: From this time (default: the first).
            end: Up to this time (default: the last).

        Yields:
            ``(time, data)``; treat ``data`` as read-only.
        """
        times, datas = self._events.kube
        lo = bisect.bisect_left(times, start) if start is not None else 0
        hi = bisect.bisect_right(times, end) if end is not None else len(times)
        yield from zip(times[lo:hi], datas[lo:hi], strict=True)

    @property
    def replicas(self) -> list[str]:
        """The replicas' node ids (``recorder.start``'s, else those polled, else those of imported access logs)."""
        return self._listed or sorted(self._events.polls) or sorted({s.node for s in self.traffic.seen})

    def __repr__(self) -> str:
        return f"<Timeline {len(self.journal)} events, Gloo {self.profile}, {len(self.journal.losses)} losses>"

    # --- range ---------------------------------------------------------------------------------------------

    @cached_property
    def _range(self) -> tuple[datetime | None, datetime | None]:
        times = self.events_frame()["time"]
        if not len(times):
            return None, None
        return times.iloc[0].to_pydatetime(), times.iloc[-1].to_pydatetime()

    @property
    def start(self) -> datetime | None:
        """The first event's time (None for an empty journal)."""
        return self._range[0]

    @property
    def end(self) -> datetime | None:
        """The last event's time (None for an empty journal)."""
        return self._range[1]

    @property
    def losses(self) -> list[Loss]:
        """What may be missing: runs that ended without their clean stop marker, cut last lines (``str()`` reads)."""
        return list(self.journal.losses)

    # --- the analyses --------------------------------------------------------------------------------------

    @cached_property
    def _fold(self) -> Replay:
        """Replay the Kubernetes events; translate once per batch of changes (not per event)."""
        with gc_paused():
            return replay(self._events, self._starts, self.profile, self.proxy,
                          secrets_unreadable=self._secrets_unreadable)

    @property
    def changes(self) -> list[Change]:
        """The changes, by time."""
        return self._fold.changes

    @cached_property
    def unknown(self) -> list[tuple[datetime, datetime | None, tuple[str, ...]]]:
        """When the translation cannot be rebuilt: ``(start, end, objects)``.

        The objects (``Kind ns/name``) are those whose content the journal does not hold (an import from an audit log
        at Metadata level, a broken patch chain); end None: to the journal's end.
        """
        out: list[tuple[datetime, datetime | None, tuple[str, ...]]] = []
        for intent in self._fold.intents:
            if intent.decision != UNKNOWN_DECISION:
                if out and out[-1][1] is None:
                    out[-1] = (out[-1][0], intent.time, out[-1][2])
                continue
            if out and out[-1][1] is None:
                out[-1] = (out[-1][0], None, tuple(dict.fromkeys((*out[-1][2], *intent.unknown))))
            else:
                out.append((intent.time, None, intent.unknown))
        return out

    @cached_property
    def episodes(self) -> list[Episode]:
        """The intervals during which the proxy held a last-known-good snapshot."""
        return find_episodes(self._events, self._fold)

    @cached_property
    def traffic(self) -> TrafficIndex:
        """The access-log evidence (``traffic.requests``, from ``gloo-nb journal import --access-log``)."""
        return TrafficIndex(self._events)

    @cached_property
    def delays(self) -> list[ChangeDelay]:
        """Per change, when it was served and applied by each replica (and seen in traffic, with access logs)."""
        delays = change_delays(self._events, self._fold, self.replicas)
        nodes = sorted({s.node for s in self.traffic.seen})
        if not nodes:
            return delays
        return [replace(d, seen=seen_by_node(self.traffic, self._fold, d.change, d.superseded, nodes)) for d in delays]

    @cached_property
    def blocked(self) -> list[Blocked]:
        """The blocked intervals, by start (:mod:`gloo_nb.analysis.timeline.blocked` says the rule)."""
        return find_blocked(self._events, self._fold, self.episodes, self.delays)

    # --- frames --------------------------------------------------------------------------------------------

    def events_frame(self) -> pd.DataFrame:
        """Every event: ``time``, ``kind``, ``source``, ``data``."""
        return self.journal.frame()

    def resource_versions(self) -> pd.DataFrame:
        """One row per ``kube.event``.

        Returns:
            Columns kind, namespace, name, resourceVersion, time, type, actor, specChanged, statusChanged.
        """
        return frames.resource_versions_frame(self._events)

    def served_versions(self) -> pd.DataFrame:
        """One row per ``xds.update``: typeUrl, version, time, digest, accepted."""
        return frames.served_versions_frame(self.journal)

    def applied_versions(self) -> pd.DataFrame:
        """One row per ``replica.poll`` and type URL: node, typeUrl, version, time, rejected."""
        return frames.applied_versions_frame(self._events)

    def blocked_frame(self) -> pd.DataFrame:
        """The blocked rows, who blocked whom.

        Returns:
            Columns team, blockedBy, resource, kind, start, end, pendingSince, cause, routes, seconds.
        """
        return frames.blocked_frame(self.blocked, self.end)

    def changes_frame(self) -> pd.DataFrame:
        """One row per change.

        Returns:
            Columns resource, kind, team, type, time, actor, servedAfterSeconds, appliedAfterSeconds (the last
            replica; NaN when a replica never applied it), supersededAt.
        """
        return frames.changes_frame(self.delays)

    def weights_frame(self) -> pd.DataFrame:
        """Intended, served and applied weights over time.

        Returns:
            Columns time, team, route, source (``intent``, ``served``, a node id; ``observed``: the split access
            logs showed, per 5 s window; ``metrics``: the split between a route's Upstreams in imported Prometheus
            steps), destination, weight (percent); one row per destination each time a source's routes changed (a
            step function per series).
        """
        return frames.weights_frame(self._events, self._fold.intents,
                                    [*observed_rows(self.traffic, self._fold), *metrics_rows(self._events, self._fold)])

    def nacks_frame(self) -> pd.DataFrame:
        """NACK intervals, from the replicas' rejected counters.

        Returns:
            Columns node, typeUrl, start (the counter rose), end (the replica's version for that type changed after;
            NaT while open), rejected (the counter), version (the version it kept).
        """
        return frames.nacks_frame(self._events)

    def metrics_frame(self) -> pd.DataFrame:
        """Envoy's cluster stats from imported Prometheus answers: per cluster and step, requests, rate, 5xx, p50/p99.

        Per cluster, not per subset: Gloo puts every subset of an Upstream on one Envoy cluster, so metrics give the
        split between Upstreams, and access logs the split between subsets.
        """
        return frames.metrics_frame(self.journal)

    def control_plane_frame(self) -> pd.DataFrame:
        """Gloo's own metrics from imported Prometheus answers (translation time, syncs): time, name, labels, value."""
        import pandas as pd

        frame = self.journal.of_kind("metrics.controlPlane").frame()
        rows = [{"time": t, "name": d.get("name"), "labels": d.get("labels") or {}, "value": d.get("value")}
                for t, d in zip(frame["time"], frame["data"], strict=True)] if len(frame) else []
        return pd.DataFrame(rows, columns=["time", "name", "labels", "value"]).astype(
            {"time": "datetime64[ns, UTC]", "value": "float64"})

    def probes_frame(self) -> pd.DataFrame:
        """Probe results over time: time, url, headers, requests, answer, count, share, low, high."""
        return frames.probes_frame(self.journal)

    # --- the state at a moment -----------------------------------------------------------------------------

    def state_at(self, t: datetime | str) -> StateAt:
        """Rebuild everything as it was at ``t``.

        Args:
            t: A timezone-aware time, or an RFC 3339 string.

        Returns:
            The state: resources, translation, findings, served and applied routes, blocked rows.
        """
        when = parse_time(t) if isinstance(t, str) else t
        state = state_at(self._events, self._starts, self.profile, self.blocked, when, self.proxy,
                         secrets_unreadable=self._secrets_unreadable)
        if self._events.served_recorded:
            return state
        # An import holds no served configuration: Gloo serves the last translation it pushed (it keeps its last good
        # snapshot otherwise), so that is what the served side shows, marked served_known=False (not observed).
        i = self._fold.index_at(when)
        while i >= 0 and self._fold.intents[i].decision != "push":
            i -= 1
        return replace(state, served_routes=list(self._fold.intents[i].rows) if i >= 0 else [])


def load_timeline(*directories: str | os.PathLike[str], profile: str | None = None) -> Timeline:
    """Load one or more journal directories (merged by time) into a timeline.

    Args:
        *directories: Journal directories (``gloo-nb record --out``, a rollout's ``--journal``).
        profile: The Gloo behaviour profile to replay (default: the recorder's, else ``current``).

    Returns:
        The timeline; its analyses are computed on first use. :attr:`Timeline.losses` says what a killed
        writer cut off.

    Raises:
        JournalError: A directory is missing, empty or corrupt (see :func:`gloo_nb.journal.read_journal`).
        ValueError: ``profile`` is not ``1.3`` or ``current``.
    """
    journal = read_journal(*directories)
    return Timeline(journal, profile=check_profile(profile, source="profile") if profile else None)


def rfc3339(time: datetime | None) -> str | None:
    """A time as the journal writes it (RFC 3339, UTC, microseconds), or None.

    Args:
        time: A timezone-aware time, or None.

    Returns:
        The text, or None.
    """
    return None if time is None else format_time(time)
