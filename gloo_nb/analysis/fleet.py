"""A timeline as the fleet dataset's tables (:mod:`gloo_nb.journal.dataset`): events, blocked, changes, incidents.

One row per event, per blocked row (:meth:`Timeline.blocked_frame <gloo_nb.analysis.timeline.Timeline.blocked_frame>`),
per change (:meth:`~gloo_nb.analysis.timeline.Timeline.changes_frame`) and per incident (the ``incidents`` of
``gloo-nb journal summary --json``, :mod:`gloo_nb.analysis.incident`), in the same order and with the same values,
plus the journal's id. Values the analysis does not know stay null (an import from audit logs has no served or
applied times). Pure: the files are written by :func:`gloo_nb.journal.dataset.write_dataset`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from gloo_nb.analysis.incident import Incident, IncidentSummary, incident_summary
from gloo_nb.analysis.timeline import Timeline
from gloo_nb.journal.dataset import schemas

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["fleet_tables", "incident_of"]


def incident_of(incidents: tuple[Incident, ...], start: datetime) -> int | None:
    """Which incident a blocked row belongs to: the rule of :func:`gloo_nb.analysis.incident.incident_summary`.

    Args:
        incidents: The summary's incidents, by start.
        start: The blocked row's start.

    Returns:
        The incident's number (1 for the first), or None when the row lies in none.
    """
    for number, inc in enumerate(incidents, start=1):
        if start >= inc.start and (inc.end is None or start < inc.end):
            return number
    return None


def fleet_tables(timeline: Timeline, journal: str, summary: IncidentSummary | None = None) -> dict[str, pa.Table]:
    """The dataset's tables for one journal.

    Args:
        timeline: The loaded timeline.
        journal: The journal's id (:func:`gloo_nb.journal.dataset.journal_id`), each row's ``journal``.
        summary: The timeline's summary, when already computed (default: computed here).

    Returns:
        ``events``, ``blocked``, ``changes`` and ``incidents`` as pyarrow tables with
        :func:`gloo_nb.journal.dataset.schemas`' columns (without the partition columns ``cluster`` and ``day``).
    """
    import numpy as np
    import pyarrow as pa

    summary = summary or incident_summary(timeline)
    known = schemas()
    source = timeline.journal
    count = len(source)
    frame = source.frame()  # kind and source as categoricals: a dictionary array each, cast to plain strings
    events = pa.table({
        "journal": pa.array([journal] * count, pa.string()),
        "seq": pa.array(np.arange(count, dtype=np.int64)),
        "time": pa.array(source.times_us(), pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
        "kind": pa.array(frame["kind"]).cast(pa.string()),
        "source": pa.array(frame["source"]).cast(pa.string()),
        "data": pa.array(source.data_texts(), pa.string()),
    }, schema=known["events"])
    until = timeline.end
    blocked = _table(known["blocked"], [{
        "journal": journal, "incident": incident_of(summary.incidents, b.start), "profile": timeline.profile,
        "team": b.team, "blockedBy": list(b.blocked_by), "resource": b.resource, "kind": b.kind,
        "start": b.start, "end": b.end, "pendingSince": b.pending_since, "cause": b.cause,
        # Timeline.blocked_frame's rule: an open block lasts until the journal's end.
        "routes": list(b.routes), "seconds": b.seconds(until) if until else 0.0} for b in timeline.blocked])
    changes = _table(known["changes"], [{
        "journal": journal, "profile": timeline.profile, "resource": d.change.ref, "kind": d.change.kind,
        "team": d.change.namespace, "type": d.change.type, "time": d.change.time, "actor": d.change.actor,
        "servedAfterSeconds": d.served_after, "appliedAfterSeconds": d.applied_after,
        "supersededAt": d.superseded} for d in timeline.delays])
    incidents = _table(known["incidents"], [_incident_row(journal, timeline.profile, number, inc)
                                            for number, inc in enumerate(summary.incidents, start=1)])
    return {"events": events, "blocked": blocked, "changes": changes, "incidents": incidents}


def _incident_row(journal: str, profile: str, number: int, inc: Incident) -> dict[str, Any]:
    first = inc.causes[0] if inc.causes else None
    # The notebook's and the summary's fix: the last change after which Gloo pushed again.
    fix = inc.fix[-1] if inc.fix else None
    return {"journal": journal, "incident": number, "profile": profile, "start": inc.start, "end": inc.end,
            "startedBy": [c.ref for c in inc.started_by],
            "causeResource": (first.ref or None) if first else None,
            "causeTeam": (first.namespace or None) if first else None,
            "causeMessage": first.message if first else None, "causes": [c.text() for c in inc.causes],
            "fixResource": fix.ref if fix else None, "fixKind": fix.kind if fix else None,
            "fixActor": fix.actor if fix else None, "fixTime": fix.time if fix else None,
            "detected": inc.detected, "detectedOn": inc.detected_on or None,
            "secondsToDetect": inc.time_to_detect, "secondsToRecover": inc.time_to_recover,
            "impact": [{"team": i.team, "blockedSeconds": i.seconds, "resources": list(i.resources)}
                       for i in inc.impact]}


def _table(schema: pa.Schema, rows: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
