"""``gloo-nb journal import``: a journal rebuilt from a cluster's audit logs, for an incident nobody recorded.

Reads the files, decides what the pure importer (:func:`gloo_nb.journal.importer.import_audit`) needs (the Gloo
profile, whether the state given was taken before or after the window), and writes a journal in the recorder's format
that ``gloo-nb journal summary``, :func:`gloo_nb.analysis.timeline.load_timeline`, notebook 04 and the time-travel
widget read like any other.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from gloo_nb._files import text_lines
from gloo_nb._types import Profile, check_profile
from gloo_nb.app.cluster import profile_from_image
from gloo_nb.app.manifests import read_input
from gloo_nb.app.record import RECORDED_KINDS
from gloo_nb.errors import BadDataError, UsageError
from gloo_nb.journal import JournalWriter, format_time, parse_time
from gloo_nb.journal.events import Event
from gloo_nb.journal.importer import ContentGap, import_audit
from gloo_nb.journal.schema import KUBE_EVENT
from gloo_nb.journal.traffic import control_plane_events, logged_headers, metrics_events, traffic_events
from gloo_nb.models.access_log import (
    AccessLogError,
    AccessLogFormat,
    AccessLogRead,
    access_log_formats,
    parse_access_log,
    read_access_log,
)
from gloo_nb.models.audit import AuditEvent, AuditRead, read_audit
from gloo_nb.models.codec import load_document, load_documents
from gloo_nb.models.prometheus import cluster_steps, control_plane_series, read_prometheus

__all__ = ["ImportSummary", "import_journal", "read_state"]

StateTaken = Literal["auto", "before", "after"]


@dataclass
class ImportSummary:
    """What an import wrote and what its sources could not tell.

    Attributes:
        out: The journal directory.
        events: Journal events written.
        writes: Audit writes imported.
        levels: Writes per audit level.
        profile: The Gloo profile the journal names, and where it came from.
        profile_source: Where the profile came from (``--gloo-version``, the gloo Deployment's image, a bundle).
        state_taken: ``before`` or ``after`` (None without a state).
        start: The journal's start.
        end: The last write's time.
        gaps: Where content is unknown or the log misses a write.
        reads: Per audit file, what was skipped.
        access_logs: Per access log file: its replica, the format it was read with, and what was not read.
        metrics: Per Prometheus file, the cluster steps imported.
    """

    out: Path
    events: int
    writes: int
    levels: Mapping[str, int]
    profile: Profile
    profile_source: str
    state_taken: str | None
    start: datetime | None
    end: datetime | None
    gaps: list[ContentGap] = field(default_factory=list)
    reads: dict[str, AuditRead] = field(default_factory=dict)
    access_logs: dict[str, tuple[str, str, AccessLogRead]] = field(default_factory=dict)
    metrics: dict[str, int] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """As JSON (camelCase keys)."""
        return {"out": str(self.out), "events": self.events, "writes": self.writes, "levels": dict(self.levels),
                "profile": self.profile, "profileSource": self.profile_source, "stateTaken": self.state_taken,
                "start": format_time(self.start) if self.start else None,
                "end": format_time(self.end) if self.end else None,
                "gaps": [g.document() for g in self.gaps],
                "skipped": {f: {"lines": r.lines, "refused": r.refused, "dryRuns": r.dry_runs,
                                "unreadable": r.unreadable_count, "firstUnreadable": r.unreadable[:3]}
                            for f, r in self.reads.items()},
                "accessLogs": {f: {"node": node, "format": fmt, "lines": r.lines, "records": r.records,
                                   "unparsed": r.unparsed_count, "firstUnparsed": r.unparsed[:3]}
                               for f, (node, fmt, r) in self.access_logs.items()},
                "prometheus": dict(self.metrics)}

    def text(self) -> str:
        """For people: what was written, and every gap."""
        levels = ", ".join(f"{n} at {level}" for level, n in sorted(self.levels.items()))
        lines = [f"{self.writes} writes ({levels or 'none'}) -> {self.events} events in {self.out}",
                 f"Gloo {self.profile} ({self.profile_source}); window {_t(self.start)} to {_t(self.end)}"
                 + (f"; state taken {self.state_taken} the window" if self.state_taken else "; no state given"),
                 "served and applied versions: unknown (an audit log does not hold them)"]
        for file, r in self.reads.items():
            skipped = [f"{n} {what}" for n, what in ((r.refused, "refused"), (r.dry_runs, "dry runs"),
                                                     (r.unreadable_count, "unreadable lines")) if n]
            if skipped:
                lines.append(f"{file}: skipped " + ", ".join(skipped)
                             + "".join(f"\n  {u}" for u in r.unreadable[:3]))
        for file, (node, fmt, log) in self.access_logs.items():
            unparsed = f"; {log.unparsed_count} lines not in it" if log.unparsed_count else ""
            lines.append(f"{file}: {log.records} requests of {node} ({fmt}{unparsed})")
        for file, n in self.metrics.items():
            lines.append(f"{file}: {n} cluster steps (Prometheus)")
        for r in self.reads.values():
            for c in r.collections:
                lines.append(f"unknown: a deletecollection of {c.kind} in {c.namespace or 'every namespace'} at "
                             f"{_t(c.time)} by {c.actor}: which objects went is not in the log ({c.source})")
        for g in self.gaps:
            until = f" until {_t(g.until)}" if g.until and g.until != g.since else ""
            where = f" ({g.source})" if g.source else ""
            lines.append(f"unknown: {g.ref} from {_t(g.since)}{until}: {g.why}{where}")
        return "\n".join(lines) + "\n"


def _t(time: datetime | None) -> str:
    return format_time(time) if time else "-"


def _objects(docs: Sequence[Any], file: str) -> Iterator[dict[str, Any]]:
    for n, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, Mapping) or not isinstance(doc.get("kind"), str):
            raise BadDataError(f"{file}: document {n}: not a Kubernetes object (no kind): give a `kubectl get ... -o "
                               "yaml` dump or a snapshot bundle")
        if doc["kind"].endswith("List") and isinstance(doc.get("items"), list):
            for item in doc["items"]:
                if isinstance(item, Mapping) and "kind" not in item and doc["kind"] != "List":
                    item = {**item, "kind": doc["kind"].removesuffix("List")}
                if isinstance(item, Mapping):
                    yield dict(item)
        else:
            yield dict(doc)


def read_state(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], datetime | None, str | None]:
    """The objects of a snapshot bundle (``resources.yaml``) or of a YAML/JSON dump (``kubectl get -o yaml``).

    Args:
        path: A bundle folder (``gloo-nb snapshot save``) or a file.

    Returns:
        The objects, when they were taken (a bundle's ``time``; None for a dump), and the bundle's Gloo version.

    Raises:
        BadDataError: The path cannot be read as either.
    """
    p = Path(path)
    if p.is_dir():
        meta_file = p / "bundle.json"
        if not meta_file.is_file():
            raise BadDataError(f"{p}: a folder without bundle.json is not a snapshot bundle: give the folder "
                               "`gloo-nb snapshot save` wrote, or a `kubectl get ... -o yaml` file")
        meta = load_document(read_input(meta_file), file=str(meta_file), yaml_allowed=False)
        taken = None
        if isinstance(meta, Mapping) and isinstance(meta.get("time"), str):
            try:
                taken = parse_time(meta["time"])
            except ValueError:
                raise BadDataError(f"{meta_file}: field time {meta['time']!r} is not RFC 3339") from None
        version = meta.get("glooVersion") if isinstance(meta, Mapping) else None
        file = p / "resources.yaml"
        return (list(_objects(load_documents(read_input(file), file=str(file)), str(file))), taken,
                version if isinstance(version, str) else None)
    return list(_objects(load_documents(read_input(p), file=str(p)), str(p))), None, None


def _gloo_profile(objects: Sequence[Mapping[str, Any]], events: Sequence[AuditEvent],
                  namespace: str) -> tuple[Profile | None, str]:
    """The profile from the gloo Deployment's image (as a live connection detects it), newest first."""
    bodies: list[Any] = [e.response_object or e.request_object for e in reversed(events)
                         if e.kind == "Deployment" and e.namespace == namespace and e.name == "gloo"]
    bodies += [o for o in objects if o.get("kind") == "Deployment"
               and (o.get("metadata") or {}).get("name") == "gloo"
               and (o.get("metadata") or {}).get("namespace") == namespace]
    for body in bodies:
        spec = ((body or {}).get("spec") or {}).get("template", {}).get("spec", {}) if isinstance(body, Mapping) \
            else {}
        for c in spec.get("containers") or []:
            if isinstance(c, Mapping) and isinstance(c.get("image"), str):
                profile = profile_from_image(c["image"])
                if profile is not None:
                    return profile, f"the gloo Deployment's image {c['image']}"
    return None, ""


def _newest_version(objects: Sequence[Mapping[str, Any]]) -> int | None:
    versions = [int(v) for o in objects if str(v := (o.get("metadata") or {}).get("resourceVersion", "")).isdigit()]
    return max(versions) if versions else None


def _decide_taken(taken: StateTaken, objects: Sequence[Mapping[str, Any]], when: datetime | None,
                  events: Sequence[AuditEvent], shown: str) -> Literal["before", "after"]:
    if taken != "auto":
        return taken
    if events and when is not None:
        first, last = min(e.time for e in events), max(e.time for e in events)
        if when <= first:
            return "before"
        if when >= last:
            return "after"
    newest = _newest_version(objects)
    written = [int(v) for e in events for v in e.written_versions if v.isdigit()]
    if newest is not None and written:
        # resourceVersions of one cluster grow with every write (etcd's revision): the state holds versions
        # newer than every write in the log only if it was taken after them.
        if newest >= max(written):
            return "after"
        if newest < min(written):
            return "before"
    raise UsageError(f"--start-state {shown}: cannot tell whether it was taken before or after the audit log's "
                     "window (no time, and its resourceVersions do not say): give --state-taken before|after")


def import_journal(audit: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], *,
                   start_state: str | os.PathLike[str] | None = None, state_taken: StateTaken = "auto",
                   gloo_version: str | None = None, namespace: str = "gloo-system",
                   access_logs: Sequence[str] = (), prometheus: Sequence[str | os.PathLike[str]] = (),
                   cluster: str | None = None) -> ImportSummary:
    """Rebuild a journal from audit logs and write it.

    Args:
        audit: Audit log files (JSON lines of ``audit.k8s.io/v1`` Events; ``.gz`` too).
        out: The journal directory to write (must not hold a journal already).
        start_state: A snapshot bundle folder or a ``kubectl get -o yaml`` dump.
        state_taken: When ``start_state`` was taken: ``before`` or ``after`` the log's window, or ``auto`` (a bundle's
            time, else resourceVersions).
        gloo_version: ``1.3`` or ``current``; default: the gloo Deployment's image in the state or the log, else a
            bundle's, else an error asking for it.
        namespace: Gloo's namespace.
        access_logs: Envoy access logs, each ``FILE`` or ``NODE=FILE`` (the replica; default: the sandbox's
            ``replicas/<node id>/`` folder in the path, else the file's name). The format is the Gateways' file
            sinks' (from the state and the log) or Envoy's default, whichever reads the file's first lines.
        prometheus: Saved answers of Prometheus range queries (``/api/v1/query_range``) over Envoy's cluster stats.
        cluster: The cluster's name, kept in the journal (``gloo-nb journal export`` partitions by it).

    Returns:
        What was written and what the sources could not tell.

    Raises:
        UsageError: No audit file, the profile or the state's time cannot be decided, ``out`` holds a journal.
        BadDataError: A file cannot be read (one line naming file and line).
    """
    if not audit:
        raise UsageError("journal import: give at least one --audit FILE (JSON lines of audit.k8s.io/v1 Events)")
    target = Path(out)
    if target.exists() and any(target.glob("journal-*.jsonl")):
        raise UsageError(f"--out {target}: already holds a journal: give a new directory (an import is not appended "
                         "to another journal)")
    reads: dict[str, AuditRead] = {}
    events: list[AuditEvent] = []
    for file in audit:
        report = AuditRead()
        events.extend(read_audit(file, kinds=RECORDED_KINDS, report=report))
        reads[os.fspath(file)] = report
    objects: list[dict[str, Any]] = []
    when: datetime | None = None
    bundle_version: str | None = None
    taken: Literal["before", "after"] | None = None
    if start_state is not None:
        objects, when, bundle_version = read_state(start_state)
        taken = _decide_taken(state_taken, objects, when, events, os.fspath(start_state))
    if gloo_version:
        profile, source = check_profile(gloo_version, source="--gloo-version"), "--gloo-version"
    else:
        detected, source = _gloo_profile(objects, events, namespace)
        if detected is None and bundle_version:
            detected, source = check_profile(bundle_version, source="bundle.json glooVersion"), "the bundle"
        if detected is None:
            raise UsageError("journal import: cannot tell the Gloo version (no gloo Deployment in the state or the "
                             "log): give --gloo-version 1.3|current")
        profile = detected
    levels = sorted({e.level for e in events})
    result = import_audit(events, kinds=RECORDED_KINDS, state=objects, state_taken=taken or "before", state_time=when,
                          profile=profile, namespace=namespace,
                          imported={"audit": [os.fspath(f) for f in audit], "levels": levels,
                                    "startState": os.fspath(start_state) if start_state is not None else None,
                                    "profileSource": source}, cluster=cluster)
    if not result.events:
        raise UsageError(f"journal import: the audit log(s) hold no completed write of the kinds gloo_nb reads "
                         f"({', '.join(RECORDED_KINDS)}): nothing to import")
    extra: list[Event] = []
    logs: dict[str, tuple[str, str, AccessLogRead]] = {}
    if access_logs:
        formats = _gateway_formats(result.events, profile)
        for spec in access_logs:
            file, node = _access_log_spec(spec)
            fmt = _pick_format(file, formats)
            seen = AccessLogRead()
            extra += traffic_events(read_access_log(file, fmt, node=node, report=seen), node,
                                    logged=logged_headers(fmt), file=file)
            logs[file] = (node, fmt.describe(), seen)
    metrics: dict[str, int] = {}
    for file in prometheus:
        series = read_prometheus(file)
        steps = cluster_steps(series)
        extra += metrics_events(steps, file=os.fspath(file))
        extra += control_plane_events(control_plane_series(series), file=os.fspath(file))
        metrics[os.fspath(file)] = len(steps)
    written = sorted([*result.events, *extra], key=lambda e: e.time)
    writer = JournalWriter(target, batch_events=4096, batch_seconds=3600)
    try:
        for event in written:
            writer.write(event)
    finally:
        writer.close()
    return ImportSummary(target, len(written), result.writes, dict(result.levels), profile, source, taken,
                         result.start, result.end, result.gaps, reads, logs, metrics)


def _gateway_formats(events: Sequence[Event], profile: str) -> list[AccessLogFormat]:
    """The file sinks' formats of every Gateway the import saw (each Gateway's last known content)."""
    gateways: dict[tuple[str, str], Mapping[str, Any]] = {}
    for e in events:
        d = e.data
        if e.kind == KUBE_EVENT and d.get("kind") == "Gateway" and isinstance(d.get("object"), Mapping):
            gateways[(str(d.get("namespace")), str(d.get("name")))] = d["object"]
    out: list[AccessLogFormat] = []
    for gw in gateways.values():
        try:
            out += [f for f in access_log_formats(gw, profile) if f.readable and f not in out]
        except AccessLogError:
            continue  # a Gateway whose logging cannot be read: its files are tried with the other formats
    return out


def _access_log_spec(spec: str) -> tuple[str, str]:
    """``NODE=FILE`` or ``FILE`` -> (file, node)."""
    if "=" in spec and not Path(spec).exists():
        node, _, file = spec.partition("=")
        if node and file:
            return file, node
    parts = Path(spec).parts
    if "replicas" in parts[:-1]:
        # The sandbox writes each replica's files under STATE/replicas/<node id>/fs/ (gloo_nb.sandbox.envoy).
        i = len(parts) - 1 - parts[::-1].index("replicas")
        if i + 1 < len(parts) - 1:
            return spec, parts[i + 1]
    name = Path(spec).name
    for suffix in (".gz", ".log", ".jsonl", ".json", ".txt"):
        name = name.removesuffix(suffix)
    return spec, name


def _pick_format(file: str, formats: Sequence[AccessLogFormat]) -> AccessLogFormat:
    """The format that reads most of the file's first lines (the Gateways' sinks', then Envoy's default)."""
    candidates = [*formats, AccessLogFormat.envoy_default()]
    sample: list[str] = []
    for line in _head(file, 200):
        sample.append(line)
    best, best_n = candidates[-1], -1
    for fmt in candidates:
        try:
            n = sum(1 for _ in parse_access_log(sample, fmt, name=file, report=AccessLogRead()))
        except AccessLogError:
            n = 0  # not one line in this format
        if n > best_n:
            best, best_n = fmt, n
    if best_n <= 0 and sample:
        raise AccessLogError(f"{file}: no line of it is in a format of the Gateways' access logging ("
                             + "; ".join(f.describe() for f in candidates) + "): give the replica's access log file "
                             "(a path of fileSink.path), as written by Envoy")
    return best


def _head(file: str, n: int) -> list[str]:
    # The one opener of text logs (plain or .gz), closed as soon as the first lines are read.
    lines = text_lines(file, AccessLogError, "the access log")
    try:
        return list(itertools.islice(lines, n))
    finally:
        close = getattr(lines, "close", None)  # a generator: closing it closes the file now
        if close is not None:
            close()


def summary_json(summary: ImportSummary) -> str:
    """The summary as indented JSON text."""
    return json.dumps(summary.document(), indent=2) + "\n"
