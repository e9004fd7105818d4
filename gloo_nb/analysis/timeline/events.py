"""The journal's events read once into columns indexed by time, and the recorded objects parsed.

Every analysis of the timeline (the replay, the delays, the blocked intervals, the frames, the state at a moment)
reads the same few event kinds by time: ``kube.event``, ``xds.update``, ``xds.content``, ``replica.poll``. They are
kept here, built on first use without an Event object per line, apart from the analyses so that each of those
reads the journal through one index and none of them re-reads it.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from gloo_nb._gc import gc_paused
from gloo_nb.analysis.timeline.routes import RouteKey, route_key
from gloo_nb.errors import ParseError
from gloo_nb.journal import Journal
from gloo_nb.journal.schema import KUBE_EVENT, REPLICA_POLL, XDS_CONTENT, XDS_UPDATE
from gloo_nb.models.codec import ParseResult, parse_objects, parse_secret_facts, unreadable_finding

__all__ = ["TYPE_ROUTE", "EventIndex", "Poll", "Update", "actor_of", "ident_of", "parse_recorded",
           "parse_recorded_event", "secrets_unreadable"]

TYPE_ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
"""The xDS type URL of RouteConfigurations (``gloo_nb.xds.protos.TYPE_ROUTE``; analysis may not import xds)."""


@dataclass(frozen=True, slots=True)
class Update:
    """One ``xds.update``: a served resource type's new version.

    Attributes:
        time: When the recorder saw it.
        type_url: The xDS type URL.
        version: The served version.
        digest: The digest of its content (an ``xds.content`` event).
        accepted: Whether Envoy acknowledged it.
    """

    time: datetime
    type_url: str
    version: str
    digest: str
    accepted: bool


@dataclass(frozen=True, slots=True)
class Poll:
    """One ``replica.poll``: what a replica reported at one moment.

    Attributes:
        time: When it was polled.
        node: The replica's node id.
        versions: Type URL -> the version it applied.
        rejected: Type URL -> its update_rejected counter.
        route_digest: The digest of its applied routes, if recorded.
        reachable: Whether the replica answered.
    """

    time: datetime
    node: str
    versions: Mapping[str, str]
    rejected: Mapping[str, int]
    route_digest: str | None
    reachable: bool


def actor_of(data: Mapping[str, Any]) -> str:
    """Who made a ``kube.event``'s change: its user, else its manager, else ``unknown``.

    Args:
        data: The event's data.

    Returns:
        The actor's name.
    """
    actor = data.get("actor") or {}
    return str(actor.get("user") or actor.get("manager") or "unknown")


def ident_of(data: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(kind, namespace, name)`` of a ``kube.event``'s object.

    Args:
        data: The event's data.

    Returns:
        The object's identity.
    """
    return (str(data.get("kind", "")), str(data.get("namespace", "") or ""), str(data.get("name", "")))


def parse_recorded(obj: Mapping[str, Any]) -> ParseResult:
    """Parse one recorded Kubernetes object, tolerantly.

    Args:
        obj: The object as recorded (redacted).

    Returns:
        Its parse; a resource that cannot be read is a finding, not an error.
    """
    # Gloo skips a resource it cannot read and carries on; so does the replay, with a finding naming it.
    return parse_objects([obj], file=f"<journal {obj.get('kind')}>", tolerant=True)


def parse_recorded_event(data: Mapping[str, Any]) -> ParseResult:
    """Parse the object of one ``kube.event``; a Secret from its recorded facts (``secretFacts``).

    A recorded Secret's data is redacted, so it is read back from the facts the recorder computed from the
    data (:func:`gloo_nb.models.codec.secret_facts_json`) as a redacted Secret that translates as the real one
    did. A journal written before the recorder kept facts has only the redacted object: its Secret becomes a
    redacted Secret without facts (identity, type, key names), which the translation treats as unknown.

    Args:
        data: The event's data.

    Returns:
        Its parse; an unreadable object or facts document is a finding, not an error.
    """
    obj = data.get("object") or {}
    if data.get("kind") != "Secret":
        return parse_recorded(obj)
    facts = data.get("secretFacts")
    if facts is None:
        facts = _facts_of_redacted(obj)
    try:
        secret = parse_secret_facts(facts, file="<journal Secret>", where="secretFacts.")
    except ParseError as err:
        return ParseResult(findings=[unreadable_finding(obj, err)])
    return ParseResult(resources=[secret])


def _facts_of_redacted(obj: Mapping[str, Any]) -> dict[str, Any]:
    # What a redacted Secret object still says: identity, type, key names, Gloo's kind annotation.
    raw_meta = obj.get("metadata")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    raw_annotations = meta.get("annotations")
    annotations: Mapping[str, Any] = raw_annotations if isinstance(raw_annotations, Mapping) else {}
    keys = sorted({str(k) for part in ("data", "stringData") if isinstance(obj.get(part), Mapping)
                   for k in obj[part]})
    kind = str(obj.get("type") or "Opaque")
    gloo_kind = annotations.get("resource_kind")
    # secretconverter.go: kubernetes.io/tls is the TLS converter's; Gloo's own shape is an annotated Opaque secret
    shape = "kubernetes.io/tls" if kind == "kubernetes.io/tls" else (
        "gloo" if gloo_kind == "*v1.Secret" and "tls" in keys else None)
    out: dict[str, Any] = {"namespace": meta.get("namespace") or "", "name": meta.get("name") or "", "type": kind,
                           "tls": shape, "dataKeys": keys}
    if isinstance(gloo_kind, str):
        out["annotations"] = {"resource_kind": gloo_kind}
    return out


def secrets_unreadable(start: Mapping[str, Any]) -> str:
    """Why a recording holds no Secrets, from its ``recorder.start`` data (``""``: it lists them, or cannot tell).

    Args:
        start: The ``recorder.start`` event's data.

    Returns:
        The recorder's ``secretsUnreadable`` reason, or a sentence when its ``kinds`` leave Secrets out.
    """
    reason = start.get("secretsUnreadable")
    if reason:
        return str(reason)
    kinds = start.get("kinds")
    if isinstance(kinds, list) and "Secret" not in kinds:
        return "the recording did not list Secrets"
    return ""


def _columns(journal: Journal, kind: str) -> tuple[list[datetime], list[str], list[dict[str, Any]]]:
    """Times, sources and data of one kind's events, without building an Event per line."""
    frame = journal.of_kind(kind).frame()
    if not len(frame):
        return [], [], []
    return list(frame["time"].dt.to_pydatetime()), frame["source"].tolist(), frame["data"].tolist()


class EventIndex:
    """The journal's bulk event kinds as columns by time (each built on first use).

    Attributes:
        journal: The loaded journal.
        served_recorded: Whether the journal recorded what the control plane served (False for an import from an
            audit log: :meth:`served_keys` is then None, unknown).
    """

    def __init__(self, journal: Journal, *, served_recorded: bool = True) -> None:
        self.journal = journal
        self.served_recorded = served_recorded

    @cached_property
    def kube(self) -> tuple[list[datetime], list[dict[str, Any]]]:
        """Times and data of the ``kube.event`` events."""
        times, _, datas = _columns(self.journal, KUBE_EVENT)
        return times, datas

    @cached_property
    def content(self) -> dict[str, Mapping[str, Any]]:
        """The ``xds.content`` data by digest."""
        return {str(d.get("digest")): d for d in _columns(self.journal, XDS_CONTENT)[2]}

    @cached_property
    def updates(self) -> list[Update]:
        """The ``xds.update`` events, by time."""
        times, _, datas = _columns(self.journal, XDS_UPDATE)
        with gc_paused():
            return [Update(t, str(d.get("typeUrl", "")), str(d.get("version", "")), str(d.get("digest", "")),
                           bool(d.get("accepted", True))) for t, d in zip(times, datas, strict=True)]

    @cached_property
    def update_times(self) -> list[datetime]:
        """The times of :attr:`updates`."""
        return [u.time for u in self.updates]

    @cached_property
    def route_updates(self) -> list[Update]:
        """The served RouteConfiguration updates, by time."""
        return [u for u in self.updates if u.type_url == TYPE_ROUTE]

    @cached_property
    def route_update_times(self) -> list[datetime]:
        """The times of :attr:`route_updates`."""
        return [u.time for u in self.route_updates]

    @cached_property
    def polls(self) -> dict[str, list[Poll]]:
        """The ``replica.poll`` events per node, by time."""
        polls: dict[str, list[Poll]] = {}
        with gc_paused():
            for t, source, d in zip(*_columns(self.journal, REPLICA_POLL), strict=True):
                node = str(d.get("node") or source.removeprefix("replica/"))
                polls.setdefault(node, []).append(Poll(t, node, d.get("versions") or {}, d.get("rejected") or {},
                                                       d.get("routeDigest"), bool(d.get("reachable", True))))
        return polls

    @cached_property
    def poll_times(self) -> dict[str, list[datetime]]:
        """The times of :attr:`polls`, per node."""
        return {node: [p.time for p in polls] for node, polls in self.polls.items()}

    def rows_of(self, digest: str | None) -> list[dict[str, Any]] | None:
        """The recorded route rows of a content digest.

        Args:
            digest: An ``xds.content`` digest, or None.

        Returns:
            The rows, or None when the digest is None or its content was not recorded.
        """
        if digest is None:
            return None
        content = self.content.get(digest)
        if content is None:
            return None
        return list(content.get("routes") or [])

    def served_resources_at(self, type_url: str, t: datetime) -> list[Mapping[str, Any]] | None:
        """The resources of one xDS type served at ``t``, as recorded (proto JSON, redacted).

        Args:
            type_url: The xDS type URL (e.g. Listener's).
            t: A timezone-aware time.

        Returns:
            The resources of the last update of that type at or before ``t``; None before the first one or when its
            content was not recorded.
        """
        last = None
        for u in self.updates[:bisect.bisect_right(self.update_times, t)]:
            if u.type_url == type_url:
                last = u
        content = self.content.get(last.digest) if last is not None else None
        if content is None:
            return None
        return [r for r in content.get("resources") or [] if isinstance(r, Mapping)]

    def served_at(self, t: datetime) -> Update | None:
        """The last served RouteConfiguration update at or before ``t`` (None before the first)."""
        i = bisect.bisect_right(self.route_update_times, t) - 1
        return self.route_updates[i] if i >= 0 else None

    def served_keys(self, t: datetime) -> frozenset[RouteKey] | None:
        """The keys of the routes served at ``t`` (empty before the first update; None when not recorded)."""
        if not self.served_recorded:
            return None
        update = self.served_at(t)
        rows = self.rows_of(update.digest) if update else []
        return None if rows is None else frozenset(map(route_key, rows))
