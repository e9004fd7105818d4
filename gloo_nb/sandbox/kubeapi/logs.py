"""The ``pods/log`` subresource: ``kubectl logs`` as the kubelet serves it.

``-f``, ``--previous``, ``--tail``, ``--since``, ``--since-time``, ``--timestamps`` and ``--limit-bytes``, served
from the log files the kubelet keeps (:mod:`gloo_nb.sandbox.pod_logs`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.pod_logs import LogOptions, parse_time, read_log
from gloo_nb.sandbox.store import ApiError, Identity, Store

__all__ = ["LogHandler", "LogLocator", "LogLiveness", "parse_log_options"]

LogLocator = Callable[[str, str, "str | None", bool], "Path | None"]
"""``(namespace, pod, container, previous) -> log file`` (None: there is none)."""
LogLiveness = Callable[[str, str, "str | None", Path], bool]
"""``(namespace, pod, container, log file) -> still written?``: a follower stops once it is not."""

_FOLLOW_POLL = 0.2


def _invalid(name: str, field: str, value: str, why: str) -> ApiError:
    # pkg/apis/core/validation/validation.go ValidatePodLogOptions: field.Invalid errors, a 422 on PodLogOptions.
    return ApiError(422, "Invalid", f'PodLogOptions "{name}" is invalid: {field}: Invalid value: {value}: {why}',
                    {"name": name, "kind": "PodLogOptions",
                     "causes": [{"reason": "FieldValueInvalid", "message": f"Invalid value: {value}: {why}",
                                 "field": field}]})


def _int(name: str, query: dict[str, str], key: str, minimum: int, why: str) -> int | None:
    raw = query.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "BadRequest", f'strconv.ParseInt: parsing "{raw}": invalid syntax') from None
    if value < minimum:
        raise _invalid(name, key, str(value), why)
    return value


def parse_log_options(name: str, query: dict[str, str], now: float) -> LogOptions:
    """PodLogOptions from a ``pods/log`` query, validated as the apiserver does.

    pkg/apis/core/validation/validation.go ValidatePodLogOptions: ``tailLines`` >= 0, ``limitBytes`` >= 1,
    ``sinceSeconds`` >= 1, and not both ``sinceSeconds`` and ``sinceTime``.

    Args:
        name: The pod (for messages).
        query: The query parameters.
        now: The current time (``sinceSeconds`` counts back from it).

    Returns:
        The options.

    Raises:
        ApiError: An invalid option.
    """
    tail = _int(name, query, "tailLines", 0, "must be greater than or equal to 0")
    limit = _int(name, query, "limitBytes", 1, "must be greater than 0")
    since_seconds = _int(name, query, "sinceSeconds", 1, "must be greater than 0")
    since_time = query.get("sinceTime") or None
    if since_seconds is not None and since_time is not None:
        raise ApiError(422, "Invalid", f'PodLogOptions "{name}" is invalid: [sinceSeconds: Forbidden: at most one '
                                       "of `sinceTime` or `sinceSeconds` may be specified]")
    since = now - since_seconds if since_seconds is not None else None
    if since_time is not None:
        try:
            since = parse_time(since_time)
        except ValueError:
            raise ApiError(400, "BadRequest", f'parsing time "{since_time}" as "2006-01-02T15:04:05Z07:00": '
                                              "cannot parse") from None
    return LogOptions(tail_lines=tail, since=since, timestamps=query.get("timestamps") in ("true", "1"),
                      limit_bytes=limit)


class LogHandler:
    """The ``pods/log`` subresource handler for :meth:`KubeApiServer.register_subresource`.

    Args:
        store: The object store (the pods).
        locate: Finds a container's log file (current or previous instance).
        live: Tells a follower whether its file is still written.
    """

    def __init__(self, store: Store, locate: LogLocator, live: LogLiveness) -> None:
        self.store = store
        self.locate = locate
        self.live = live

    async def __call__(self, request: web.Request, identity: Identity, namespace: str,
                       name: str) -> web.StreamResponse:
        """Serve one ``pods/log`` request (RBAC already allowed ``get pods/log``).

        Args:
            request: The request.
            identity: The caller.
            namespace: The pod's namespace.
            name: The pod's name.

        Returns:
            ``text/plain``: the log, or with ``follow=true`` a stream until the container instance ends or the
            client leaves.

        Raises:
            ApiError: No such pod or container, no log (yet), or an invalid option.
        """
        pod = self.store.get(kinds.POD, namespace, name)  # 404 in Kubernetes' words when there is no such pod
        q = request.query
        container = q.get("container") or None
        names = [str(c.get("name", "")) for c in (pod.get("spec") or {}).get("containers") or []]
        if container is not None and names and container not in names:
            # pkg/registry/core/pod/strategy.go LogLocation.
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        options = parse_log_options(name, dict(q), time.time())
        previous = q.get("previous") in ("true", "1")
        shown = container or (names[0] if names else "")
        path = self.locate(namespace, name, container, previous)
        if (path is None or not path.exists()) and not previous:
            # pkg/kubelet/kubelet_pods.go validateContainerLogStatus: a container that is not running (waiting
            # to restart, CrashLoopBackOff) shows its last terminated instance's log.
            path = self.locate(namespace, name, container, True)
        if path is None or not path.exists():
            # validateContainerLogStatus's refusals, in its words.
            if previous:
                raise ApiError(400, "BadRequest", f'previous terminated container "{shown}" in pod "{name}" not found')
            statuses = (pod.get("status") or {}).get("containerStatuses") or []
            waiting = next(((s.get("state") or {}).get("waiting") for s in statuses if s.get("name") == shown), None)
            if waiting and waiting.get("reason"):
                raise ApiError(400, "BadRequest",
                               f'container "{shown}" in pod "{name}" is waiting to start: {waiting["reason"]}')
            raise ApiError(400, "BadRequest", f'container "{shown}" in pod "{name}" is waiting to start - no logs yet')
        if q.get("follow") not in ("true", "1") or previous:
            data, _, _ = read_log(path, options, final=True)
            return web.Response(body=data, content_type="text/plain")
        return await self._follow(request, namespace, name, container, path, options)

    async def _follow(self, request: web.Request, namespace: str, name: str, container: str | None, path: Path,
                      options: LogOptions) -> web.StreamResponse:
        # kuberuntime/logs/logs.go ReadLogs with Follow: read to the end, then wait for more until the container
        # stops (this instance's file is done) or the client goes.
        resp = web.StreamResponse(headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
        await resp.prepare(request)
        offset, remaining = 0, options.limit_bytes
        options = dataclasses.replace(options, limit_bytes=None)  # counted over the whole stream below
        try:
            while True:
                writing = self.live(namespace, name, container, path)
                data, offset, _ = read_log(path, options, offset, final=not writing)
                options = dataclasses.replace(options, tail_lines=None)
                if remaining is not None:
                    data, remaining = data[:remaining], remaining - min(len(data), remaining)
                if data:
                    await resp.write(data)
                if not writing or remaining == 0:
                    break
                if request.transport is None or request.transport.is_closing():
                    break
                await asyncio.sleep(_FOLLOW_POLL)
            await resp.write_eof()
        except (ConnectionError, RuntimeError):
            pass
        return resp
