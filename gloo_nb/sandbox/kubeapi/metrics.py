"""The resource metrics API (``metrics.k8s.io/v1beta1``), served in-process as metrics-server serves it.

What ``kubectl top`` and the Python client's ``kubernetes.utils.get_*_metrics`` read. On a cluster,
kubernetes-sigs/metrics-server scrapes each kubelet's resource metrics and serves them through the
aggregator; here the pods are local processes, so the API server measures them itself:

- ``PodMetrics``: per running pod, each container's usage measured from its process and the process's
  descendants (what a container's cgroup would hold): cpu as the rate of ``utime + stime`` of
  ``/proc/<pid>/stat`` between two samples, memory as the resident set size (RSS; a cgroup's working set
  would also count page cache less inactive files, and the sandbox has no cgroup per pod).
- ``NodeMetrics`` for the node ``sandbox``: the machine's cpu rate from ``/proc/stat`` (all but idle and
  iowait) and its working set from ``/proc/meminfo`` (``MemTotal - MemFree - Inactive(file)``: the root
  cgroup's usage less its inactive file pages, as cAdvisor's working set is computed).

Sampling costs nothing when nobody asks: samples are taken on request. A process's usage is kept for a second;
a request that finds no earlier sample of a process (or one older than :data:`MAX_SAMPLE_AGE`) takes two
samples :data:`FIRST_INTERVAL` apart, and ``window`` is the time between the two samples used, as
metrics-server's pkg/storage/types.go ``resourceUsage`` computes it (``timestamp`` is the later sample's time).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gloo_nb.sandbox import kinds as k
from gloo_nb.sandbox.kubeapi import rbac
from gloo_nb.sandbox.object_selectors import field_matcher, label_matcher
from gloo_nb.sandbox.store import ApiError, Identity, Store

__all__ = ["CACHE_SECONDS", "FIRST_INTERVAL", "GROUP", "MAX_SAMPLE_AGE", "VERSION", "MetricsApi", "Sampler",
           "Usage", "cpu_quantity", "duration_string", "memory_quantity"]

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
CACHE_SECONDS = 1.0
"""How long one measured usage of a process is reused."""
FIRST_INTERVAL = 0.3
"""Seconds between the two samples a first request takes."""
MAX_SAMPLE_AGE = 30.0
"""An earlier sample older than this is not used for a rate (a fresh pair is taken)."""

Processes = Callable[[], Mapping[tuple[str, str, str], int]]
"""Returns the running containers' processes: ``(namespace, pod, container) -> pid``."""

_TICK_NS = 1_000_000_000 // (os.sysconf("SC_CLK_TCK") or 100)
_PAGE = os.sysconf("SC_PAGE_SIZE") or 4096
_NODE_KEY = -1  # the machine's own samples, next to the processes' pids
_TABLE_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def cpu_quantity(nanocores: int) -> str:
    """Format a cpu rate as resource.Quantity's canonical DecimalSI string.

    metrics-server makes ``uint64Quantity(cpu, DecimalSI, -9)`` (pkg/storage/types.go); apimachinery's
    quantity.go ``CanonicalizeBytes`` drops trailing zeros in groups of three: ``123456789n``, ``5m``, ``1``.

    Args:
        nanocores: The rate in billionths of a core.

    Returns:
        e.g. ``"123456789n"``.
    """
    if nanocores <= 0:
        return "0"
    value, exponent = nanocores, -9
    while value % 1000 == 0 and exponent < 18:
        value //= 1000
        exponent += 3
    suffix = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}[exponent]
    return f"{value}{suffix}"


def memory_quantity(size: int) -> str:
    """Format bytes as resource.Quantity's canonical BinarySI string (``uint64Quantity(mem, BinarySI, 0)``).

    quantity.go ``CanonicalizeBytes``: below 1024 the plain number; else the largest power-of-1024 suffix that
    divides the value exactly (``71680Ki``, ``70Mi``), the plain number when none does.

    Args:
        size: Bytes.

    Returns:
        e.g. ``"71680Ki"``.
    """
    if size < 1024:
        return str(max(size, 0))
    value, index = size, 0
    suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
    while value % 1024 == 0 and index < len(suffixes) - 1:
        value //= 1024
        index += 1
    return f"{value}{suffixes[index]}"


def duration_string(seconds: float) -> str:
    """Format a duration as Go's ``time.Duration.String`` (metav1.Duration's JSON), to the millisecond.

    Args:
        seconds: A non-negative duration.

    Returns:
        e.g. ``"312ms"``, ``"1.5s"``, ``"1m0.25s"``.
    """
    ms = max(round(seconds * 1000), 0)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    whole, frac = divmod(ms, 1000)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{secs}" + (f".{frac:03d}".rstrip("0") if frac else "") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


def _rfc3339(at: float) -> str:
    # metav1.Time marshals as RFC 3339 in seconds, UTC.
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class _Sample:
    at: float  # wall clock, for timestamps
    mono: float  # monotonic clock, for the window
    cpu_ns: int  # cumulative cpu time, nanoseconds
    memory: int  # bytes
    identity: tuple[int, ...]  # the start times of the processes measured: a restart makes a new series


@dataclass(frozen=True, slots=True)
class Usage:
    """One measured usage, as a metrics-server ``MetricsPoint`` pair becomes one.

    Attributes:
        nanocores: The cpu rate between the two samples.
        memory: The working set at the later sample (RSS for a process), bytes.
        timestamp: The later sample's time (epoch seconds).
        window: Seconds between the two samples.
    """

    nanocores: int
    memory: int
    timestamp: float
    window: float


def _proc_table() -> dict[int, tuple[int, int, int, int]]:
    """Every process: ``pid -> (ppid, cpu ticks, rss pages, start time)`` from ``/proc/<pid>/stat``."""
    out: dict[int, tuple[int, int, int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: the fields follow the last ')'.
        fields = data[data.rindex(b")") + 2:].split()
        try:
            # proc(5): field 4 ppid, 14 utime, 15 stime, 22 starttime, 24 rss (counted from field 3, state).
            out[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[21]), int(fields[19]))
        except (IndexError, ValueError):
            continue
    return out


def _tree_sample(pid: int, table: dict[int, tuple[int, int, int, int]], children: dict[int, list[int]],
                 at: float, mono: float) -> _Sample | None:
    if pid not in table:
        return None
    cpu = rss = 0
    starts: list[int] = []
    stack = [pid]
    while stack:
        p = stack.pop()
        _, ticks, pages, start = table[p]
        cpu += ticks
        rss += pages
        if p == pid:
            starts.append(start)
        stack.extend(children.get(p, ()))
    return _Sample(at, mono, cpu * _TICK_NS, rss * _PAGE, tuple(starts))


def _node_sample(at: float, mono: float) -> _Sample:
    with open("/proc/stat", encoding="ascii") as f:
        cpu = f.readline().split()
    # proc(5) /proc/stat "cpu": user nice system idle iowait irq softirq steal (guest is within user).
    busy = sum(int(v) for i, v in enumerate(cpu[1:9]) if i not in (3, 4))
    meminfo: dict[str, int] = {}
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            meminfo[key] = int(rest.split()[0]) * 1024
    working_set = meminfo.get("MemTotal", 0) - meminfo.get("MemFree", 0) - meminfo.get("Inactive(file)", 0)
    return _Sample(at, mono, busy * _TICK_NS, max(working_set, 0), ())


class Sampler:
    """Measures processes and the machine on request, keeping one usage per process for :data:`CACHE_SECONDS`."""

    def __init__(self) -> None:
        self._last: dict[int, _Sample] = {}
        self._usage: dict[int, tuple[float, Usage]] = {}
        self._lock = asyncio.Lock()

    def _take(self, pids: list[int]) -> dict[int, _Sample]:
        at, mono = time.time(), time.monotonic()
        out: dict[int, _Sample] = {}
        if _NODE_KEY in pids:
            out[_NODE_KEY] = _node_sample(at, mono)
        wanted = [p for p in pids if p != _NODE_KEY]
        if wanted:
            table = _proc_table()
            children: dict[int, list[int]] = {}
            for p, (ppid, *_rest) in table.items():
                children.setdefault(ppid, []).append(p)
            for pid in wanted:
                sample = _tree_sample(pid, table, children, at, mono)
                if sample is not None:
                    out[pid] = sample
        return out

    async def usage(self, pids: list[int]) -> dict[int, Usage]:
        """Return the usage of each process (and its descendants) that runs; :data:`_NODE_KEY` is the machine.

        Args:
            pids: The processes.

        Returns:
            ``pid -> Usage`` for those still running.
        """
        async with self._lock:
            now = time.monotonic()
            out = {p: u for p in pids if (c := self._usage.get(p)) and now - c[0] < CACHE_SECONDS for u in [c[1]]}
            todo = [p for p in dict.fromkeys(pids) if p not in out]
            if not todo:
                return out
            current = self._take(todo)
            fresh = [p for p, s in current.items() if not self._usable(self._last.get(p), s)]
            if fresh:
                # No usable earlier sample: this request takes the first of a pair.
                for p in fresh:
                    self._last[p] = current[p]
                await asyncio.sleep(FIRST_INTERVAL)
                current.update(self._take(fresh))
            for pid, last in current.items():
                prev = self._last.get(pid)
                if prev is None or not self._usable(prev, last) or last.mono <= prev.mono:
                    self._last[pid] = last
                    continue
                window = last.mono - prev.mono
                used = Usage(int((last.cpu_ns - prev.cpu_ns) / window), last.memory, last.at, window)
                self._usage[pid] = (time.monotonic(), used)
                self._last[pid] = last
                out[pid] = used
            # Forget processes that are gone (the samples of others stay for the next request, whichever pods it
            # asks about); a reused pid starts a new series anyway (its start time differs).
            for gone in [p for p in self._last if p != _NODE_KEY and not os.path.exists(f"/proc/{p}")]:
                self._last.pop(gone, None)
                self._usage.pop(gone, None)
            return out

    @staticmethod
    def _usable(prev: _Sample | None, last: _Sample) -> bool:
        return (prev is not None and prev.identity == last.identity and prev.cpu_ns <= last.cpu_ns
                and 0 < last.mono - prev.mono <= MAX_SAMPLE_AGE)


def _pod_missing(namespace: str, name: str) -> ApiError:
    # The pod lister's NotFound (client-go tools/cache listers.go): the core group's pods.
    return ApiError(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})


def _no_metrics(resource: str, name: str) -> ApiError:
    # pkg/api/pod.go and node.go Get: errors.NewNotFound(m.groupResource, ...), the group resources being
    # metrics.Resource("podmetrics") and metrics.Resource("nodemetrics") (pkg/api/install.go Install).
    return ApiError(404, "NotFound", f'{resource}.{GROUP} "{name}" not found',
                    {"name": name, "group": GROUP, "kind": resource})


def _meta_selected(obj: dict[str, Any], labels: Callable[[Any], bool], fields: Callable[[Any], bool]) -> bool:
    meta = obj.get("metadata") or {}
    # pkg/api/filter.go: field selectors see only metadata.name and (pods) metadata.namespace
    # (generic.AddObjectMetaFieldsSet).
    stub = {"metadata": {"name": meta.get("name", ""), "namespace": meta.get("namespace", "")}}
    return labels(obj) and fields(stub)


def _table(items: list[dict[str, Any]], include_object: str) -> dict[str, Any]:
    # metrics-server's pkg/api/table.go addPodMetricsToTable / addNodeMetricsToTable: Name, the usage names
    # sorted (a pod's summed over its containers), Window.
    rows = []
    columns: list[dict[str, Any]] = []
    for item in items:
        if "containers" in item:
            cpu = sum(_nanocores(c["usage"]["cpu"]) for c in item["containers"])
            memory = sum(_bytes(c["usage"]["memory"]) for c in item["containers"])
            usage = {"cpu": cpu_quantity(cpu), "memory": memory_quantity(memory)}
        else:
            usage = item["usage"]
        names = sorted(usage)
        if not columns:
            columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name of the resource",
                        "priority": 0},
                       *({"name": n, "type": "string", "format": "quantity", "description": "", "priority": 0}
                         for n in names),
                       {"name": "Window", "type": "string", "format": "duration", "description": "", "priority": 0}]
        meta = item["metadata"]
        obj = item if include_object == "Object" else (
            None if include_object == "None" else
            {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta})
        rows.append({"cells": [meta["name"], *(usage[n] for n in names), item["window"]], "object": obj})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": columns,
            "rows": rows}


def _nanocores(text: str) -> int:
    scale = {"n": 1, "u": 1000, "m": 1_000_000, "k": 10 ** 12, "M": 10 ** 15, "G": 10 ** 18}
    return int(text[:-1]) * scale[text[-1]] if text[-1:] in scale else int(text) * 1_000_000_000


def _bytes(text: str) -> int:
    for i, suffix in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), 1):
        if text.endswith(suffix):
            return int(text[:-2]) * 1024 ** i
    return int(text)


class MetricsApi:
    """Serves ``/apis/metrics.k8s.io/v1beta1``: ``nodes`` and ``pods``, get and list (metrics-server's pkg/api).

    Args:
        store: Where the pods and the node are.
        processes: The running containers' processes.
        sampler: What measures them (a fresh one by default).
    """

    def __init__(self, store: Store, processes: Processes, sampler: Sampler | None = None) -> None:
        self.store = store
        self.processes = processes
        self.sampler = sampler or Sampler()

    async def __call__(self, request: web.Request, identity: Identity, rest: list[str]) -> web.Response:
        """Answer one request under the group-version.

        Args:
            request: The request.
            identity: Who asks (after authentication and impersonation).
            rest: The path segments after ``/apis/metrics.k8s.io/v1beta1``.

        Returns:
            The JSON response.

        Raises:
            ApiError: 404 for paths and objects not served, 403 from RBAC, 405 for anything but GET.
        """
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] == "pods":
            namespace, rest = rest[1], rest[2:]
        if not rest or rest[0] not in ("nodes", "pods") or len(rest) > 2 or (rest[0] == "nodes" and namespace):
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        resource, name = rest[0], rest[1] if len(rest) == 2 else ""
        if resource == "pods" and name and not namespace:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        watch = request.query.get("watch") in ("true", "1")
        verb = "get" if name else ("watch" if watch else "list")
        req = rbac.Request(verb, GROUP, resource, namespace=namespace, name=name)
        if not rbac.authorize(self.store, identity, req):
            raise rbac.forbidden(identity, req)
        if request.method != "GET" or watch:
            # metrics-server's storages are rest.Getter and rest.Lister only.
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if resource == "nodes":
            return await self._nodes(request, name)
        return await self._pods(request, namespace, name)

    @staticmethod
    def _json(body: dict[str, Any], content_type: str = "application/json") -> web.Response:
        return web.json_response(body, dumps=lambda b: json.dumps(b, separators=(",", ":")),
                                 content_type=content_type)

    def _answer(self, request: web.Request, items: list[dict[str, Any]], single: bool, list_kind: str) -> web.Response:
        if "as=Table" in request.headers.get("Accept", ""):
            return self._json(_table(items, request.query.get("includeObject", "Metadata")), _TABLE_TYPE)
        if single:
            return self._json(items[0])
        return self._json({"kind": list_kind, "apiVersion": f"{GROUP}/{VERSION}", "metadata": {}, "items": items})

    async def _nodes(self, request: web.Request, name: str) -> web.Response:
        nodes, rv = self.store.list(k.NODE, None)
        if name:
            nodes = [n for n in nodes if n["metadata"]["name"] == name]
            if not nodes:
                # pkg/api/node.go Get: the node lister's NotFound is returned as is.
                raise ApiError(404, "NotFound", f'nodes "{name}" not found', {"name": name, "kind": "nodes"})
        else:
            q = request.query
            labels, fields = label_matcher(q.get("labelSelector", "")), field_matcher(q.get("fieldSelector", ""))
            nodes = [n for n in nodes if _meta_selected(n, labels, fields)]
        usage = (await self.sampler.usage([_NODE_KEY])).get(_NODE_KEY) if nodes else None
        items: list[dict[str, Any]] = []
        # One node, the machine: every Node object stands for it.
        for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
            if usage is None:
                continue
            meta = node["metadata"]
            # pkg/storage/node.go GetMetrics: name, labels, creationTimestamp now; timestamp and window of the pair.
            items.append({"kind": "NodeMetrics", "apiVersion": f"{GROUP}/{VERSION}",
                          "metadata": {"name": meta["name"], "creationTimestamp": _rfc3339(time.time()),
                                       **({"labels": meta["labels"]} if meta.get("labels") else {})},
                          "timestamp": _rfc3339(usage.timestamp), "window": duration_string(usage.window),
                          "usage": {"cpu": cpu_quantity(usage.nanocores), "memory": memory_quantity(usage.memory)}})
        if name and not items:
            raise _no_metrics("nodemetrics", name)
        return self._answer(request, items, bool(name), "NodeMetricsList")

    async def _pods(self, request: web.Request, namespace: str, name: str) -> web.Response:
        if name:
            found = self.store.find(k.POD, namespace, name)
            if found is None:
                raise _pod_missing(namespace, name)
            pods = [found]
        else:
            q = request.query
            labels, fields = label_matcher(q.get("labelSelector", "")), field_matcher(q.get("fieldSelector", ""))
            listed, _ = self.store.list(k.POD, namespace or None)
            pods = [p for p in listed if _meta_selected(p, labels, fields)]
        procs = self.processes()
        wanted: dict[tuple[str, str], list[tuple[str, int]]] = {}
        for pod in pods:
            meta = pod["metadata"]
            containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
            pids = [(c, procs[(meta["namespace"], meta["name"], c)]) for c in containers
                    if (meta["namespace"], meta["name"], c) in procs]
            # pkg/storage/pod.go GetMetrics: a pod appears only when every container of its point is measured;
            # a container not running has no point, and neither has a pod none of whose containers runs.
            if pids and len(pids) == len(containers):
                wanted[(meta["namespace"], meta["name"])] = pids
        measured = await self.sampler.usage([pid for pids in wanted.values() for _, pid in pids])
        items: list[dict[str, Any]] = []
        for pod in pods:
            meta = pod["metadata"]
            running = wanted.get((meta["namespace"], meta["name"]))
            if not running or any(pid not in measured for _, pid in running):
                continue
            usages = [measured[pid] for _, pid in running]
            earliest = min(usages, key=lambda u: u.timestamp)
            items.append({
                "kind": "PodMetrics", "apiVersion": f"{GROUP}/{VERSION}",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                             "creationTimestamp": _rfc3339(time.time()),
                             **({"labels": meta["labels"]} if meta.get("labels") else {})},
                "timestamp": _rfc3339(earliest.timestamp), "window": duration_string(earliest.window),
                "containers": [{"name": c, "usage": {"cpu": cpu_quantity(measured[pid].nanocores),
                                                     "memory": memory_quantity(measured[pid].memory)}}
                               for c, pid in running]})
        if name and not items:
            raise _no_metrics("podmetrics", f"{namespace}/{name}")
        # pkg/api/pod.go getMetrics: sorted by namespace, then name.
        items.sort(key=lambda m: (m["metadata"]["namespace"], m["metadata"]["name"]))
        return self._answer(request, items, bool(name), "PodMetricsList")
