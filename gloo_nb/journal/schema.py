"""The journal's event kinds and what their ``data`` holds: the contract between writers and analyses.

Every line is ``{"time", "kind", "source", "data"}`` (:mod:`gloo_nb.journal.events`). Writers: the
recorder (``gloo-nb record``, :mod:`gloo_nb.app.record`), the rollout runner
(:mod:`gloo_nb.app.rollout`) and probes. Readers: :mod:`gloo_nb.analysis.timeline`. Keys are
camelCase like the rest of gloo_nb's JSON; times inside ``data`` are RFC 3339 strings.

``recorder.start`` (source ``recorder``)
    ``{"profile", "namespace", "proxy", "role", "replicas": [node id...], "gatewayUrl", "xds", "kinds": [...],
    "connection": {"sandbox" | "kubeconfig", "context", "asUser", "asGroup"}, "secretsUnreadable"?}``. A
    journal may hold several recordings (restarts); each begins with this event. ``proxy`` is the gateway
    proxy the recorder follows (``gateway-proxy``) and ``role`` its xDS role (``gloo-system~gateway-proxy``);
    journals written before they were recorded lack them (the default proxy). ``secretsUnreadable`` (the
    API's answer) is there when the recorder could not list Secrets: replays then treat ``secretRef``s as
    unknown rather than missing.
    An import (``gloo-nb journal import``, :mod:`gloo_nb.journal.importer`) writes one with source ``import``
    and ``"imported": {"audit": [files], "levels": [...], "startState", "stateTaken": "before"|"after"|null,
    "profileSource", "served": "unknown", "applied": "unknown"}``: nothing in it was recorded from xDS or a
    replica, and readers show served and applied as unknown.
``recorder.stop`` (source ``recorder``)
    ``{"reason": "signal SIGINT" | "stop()" | ...}``.
``kube.event`` (source ``kube``)
    One per object per watch event, and one ``INITIAL`` per object listed when recording starts:
    ``{"type": "INITIAL"|"ADDED"|"MODIFIED"|"DELETED", "kind", "namespace", "name",
    "resourceVersion", "generation", "object": <the object, redacted, without managedFields>,
    "specChanged": bool (anything but status and server-set metadata changed), "statusChanged": bool,
    "patch": <RFC 6902 JSON patch from the previous version's content (everything but status and
    server-set metadata) to this one; null for INITIAL and ADDED>,
    "actor": {"user", "groups", "via": "audit"|"managedFields"|"unknown", "manager", "userAgent"?,
    "impersonatedBy"?},
    "secretFacts"?: <Secrets only, not on DELETED: the facts of gloo_nb.models.codec.secret_facts_json,
    computed from the unredacted data (certificate facts, which TLS parts are set, Go's key-pair verdict)>}``.
    ``actor`` says who wrote this version: from the sandbox's audit log (matched by kind,
    namespace, name and resourceVersion), else from the newest ``managedFields`` entry's manager,
    else unknown. From the audit log, ``user`` is the impersonated user when the request was impersonated
    (``kubectl --as``), and ``groups`` that identity's groups; ``userAgent`` is the request's ``User-Agent``
    and ``impersonatedBy`` the authenticated user who impersonated (null when not impersonated). Journals
    written before these two were added lack them.
    An import writes these from an audit log (source ``audit``; the start state's ``INITIAL`` ones with source
    ``import``), adding ``"audit": {"auditID", "verb", "level", "subresource", "requestURI", "source": "file:line"}``.
    Where the log does not hold the content (``Metadata`` level, a server-side apply or patch it cannot replay, a
    broken patch chain) ``object`` is null and ``"contentUnknown": "<why>"`` says so; ``"statusUnknown": true``
    marks a status write whose new status is not known (the object is the last known one, without status).
``xds.content`` (source ``xds``)
    Stored once per digest: ``{"digest": sha256 of the resources' deterministic proto bytes,
    "typeUrl", "resources": [proto JSON...], "routes": [route rows, for RouteConfigurations only:
    {"routeConfiguration", "virtualHost", "order", "name", "match", "action", "matchSummary",
    "actionSummary", "fingerprint"?, "settings"?, "opaque"?}]}``. ``fingerprint`` (16 hex digits over the whole
    Envoy route but its match), ``settings`` (per route field, 8 hex digits) and ``opaque`` (``Any`` type URLs
    gloo_nb cannot decode) come from :func:`gloo_nb.translate.routes.row_json`; journals written before them lack
    them, and their rows compare by ``actionSummary`` only.
``xds.update`` (source ``xds``)
    One per update the shadow node received and ACKed or NACKed: ``{"typeUrl", "version", "nonce",
    "digest", "names": [resource names], "accepted": bool, "proxy"}`` (``proxy``: whose snapshot the
    shadow node follows; absent in older journals).
``replica.poll`` (source ``replica/<node id>``)
    Written when something changed since the last poll of that replica (and on the first poll):
    ``{"node", "versions": {typeUrl: version}, "rejected": {typeUrl: count of update_rejected},
    "routeDigest": digest of the applied RouteConfigurations (same digest rule as ``xds.content``,
    whose content is then stored as an ``xds.content`` if new), "reachable": bool, "proxy"}`` (``proxy``:
    the replica's gateway proxy; absent in older journals).
``probe.result`` (source ``probe``)
    ``{"url", "headers", "requests", "shares": [{"answer", "count", "share", "low", "high"}]}``.
``traffic.requests`` (source ``access-log/<node>``)
    Envoy access-log lines folded per replica, second and request shape (:mod:`gloo_nb.journal.traffic`):
    ``{"node", "second", "first", "last", "count", "method", "path", "authority", "headers": {logged name: value or
    null}, "routeName", "cluster", "upstreamHost", "code", "flags", "durationMsSum", "durationMsMax", "file"}``; what
    the format does not log is null.
``metrics.cluster`` (source ``prometheus``)
    One imported Prometheus step of one Envoy cluster (:func:`gloo_nb.journal.traffic.metrics_events`), at the step's
    end: ``{"cluster", "start", "end", "requests", "rate", "errors5xx", "share5xx", "p50Ms", "p99Ms", "replicas",
    "file"}``.
``metrics.controlPlane`` (source ``prometheus``)
    One sample of Gloo's own metrics: ``{"name", "labels", "value", "file"}``.
``journal.open`` (source ``journal``)
    The first line of every file a :class:`~gloo_nb.journal.JournalWriter` creates, written by the
    store itself: ``{"run": id of this writer (one per process run), "pid", "part": 1, 2, ... (the
    file's place in the run)}``.
``journal.close`` (source ``journal``)
    The last line of a run's last file, written when the writer is closed (a clean stop):
    ``{"run", "events": events written}``. A run without it was killed or
    crashed: :func:`gloo_nb.journal.read_journal` reports it in ``losses`` unless the writer still
    holds the lock on its file (a live recorder). The loader keeps both markers out of the events.
``rollout.*`` (source ``rollout/<ns>/<name>``)
    The rollout's own events (:mod:`gloo_nb.rollout.machine` and :mod:`gloo_nb.app.rollout`).
"""

from __future__ import annotations

RECORDER_START = "recorder.start"
RECORDER_STOP = "recorder.stop"
KUBE_EVENT = "kube.event"
XDS_CONTENT = "xds.content"
XDS_UPDATE = "xds.update"
REPLICA_POLL = "replica.poll"
PROBE_RESULT = "probe.result"

JOURNAL_OPEN = "journal.open"
JOURNAL_CLOSE = "journal.close"
JOURNAL_SOURCE = "journal"
KUBE_SOURCE = "kube"
XDS_SOURCE = "xds"
RECORDER_SOURCE = "recorder"
PROBE_SOURCE = "probe"


def replica_source(node: str) -> str:
    """The ``source`` of a replica's poll events.

    Args:
        node: The replica's node id.

    Returns:
        ``replica/<node>``.
    """
    return f"replica/{node}"
