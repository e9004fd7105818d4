"""The ``pods/exec`` subresource: Kubernetes' WebSocket exec protocol over the sandbox's command toolbox.

kubectl 1.32 offers ``v5.channel.k8s.io`` (and falls back to SPDY when the WebSocket handshake fails); the official
Python client offers ``v5.channel.k8s.io,v4.channel.k8s.io``. Both are the channel protocol of
k8s.io/apimachinery/pkg/util/httpstream/wsstream (conn.go): every binary message is one channel byte and its payload;
channel 0 is stdin, 1 stdout, 2 stderr, 3 the error channel (one ``Status`` JSON: Success, or Failure with reason
``NonZeroExitCode`` and an ``ExitCode`` cause), 4 terminal resizes; v5 adds 255, a client's "close this channel"
(``[255, 0]`` ends stdin). Only the WebSocket protocol is served: the SPDY fallback is answered 400, which kubectl
reports.

What runs is :mod:`gloo_nb.sandbox.pod_exec`: the sandbox's images have no binaries, so a small set of commands runs
in the container's emulated environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.kubeapi import rbac
from gloo_nb.sandbox.pod_exec import ExecIO, ExecTarget, run_command
from gloo_nb.sandbox.store import ApiError, Identity, Store

__all__ = ["EXEC_PROTOCOLS", "ExecHandler", "TargetResolver", "exit_status"]

log = logging.getLogger(__name__)

EXEC_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
"""The subprotocols served, newest first (k8s.io/apimachinery/pkg/util/remotecommand/constants.go)."""
_STDIN, _STDOUT, _STDERR, _ERROR, _RESIZE, _CLOSE = 0, 1, 2, 3, 4, 255
_MAX_WS_MESSAGE = 16 * 1024 * 1024

TargetResolver = Callable[[dict[str, Any], str], "ExecTarget | None"]
"""``(pod, container) -> ExecTarget``: the running container's environment, or None when it does not run."""


def exit_status(command: list[str], code: int) -> dict[str, Any]:
    """The error channel's Status for a command that ended with ``code``, as the kubelet writes it.

    pkg/kubelet/cri/streaming/remotecommand/exec.go (ServeExec): Success for 0; otherwise a Failure with reason
    ``NonZeroExitCode`` and one ``ExitCode`` cause whose message is the code, the message wrapping the runtime's
    error (containerd's streaming.go: ``error executing command [argv...], exit code N``). Go marshals
    metav1.Status in field order, with an empty ``metadata`` and no ``code``.

    Args:
        command: The command as run.
        code: Its exit code.

    Returns:
        The Status object.
    """
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command [{' '.join(command)}], "
                       f"exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def _internal_error(error: str) -> dict[str, Any]:
    # exec.go's other branch: apierrors.NewInternalError(fmt.Errorf("error executing command in container: %v")).
    text = f"error executing command in container: {error}"
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {text}",
            "reason": "InternalError", "details": {"causes": [{"message": text}]}, "code": 500}


class ExecHandler:
    """The ``pods/exec`` subresource handler for :meth:`KubeApiServer.register_subresource`.

    Args:
        store: The object store (the pods).
        resolve: Finds the running container's environment (the kubelet's, or the Envoy fleet's for proxy pods).
    """

    def __init__(self, store: Store, resolve: TargetResolver) -> None:
        self.store = store
        self.resolve = resolve

    async def __call__(self, request: web.Request, identity: Identity, namespace: str,
                       name: str) -> web.StreamResponse:
        """Serve one exec request (RBAC already allowed its verb: ``get`` for a WebSocket GET).

        Args:
            request: The WebSocket upgrade.
            identity: The caller.
            namespace: The pod's namespace.
            name: The pod's name.

        Returns:
            The WebSocket response, once the command ended or the client left.

        Raises:
            ApiError: Forbidden, no such pod or container, a completed pod, no command, a TTY, or no WebSocket.
        """
        if request.method == "GET":
            # KEP-4006's synthetic check (AuthorizePodWebsocketUpgradeCreatePermission, on by default from 1.35):
            # the WebSocket upgrade is a GET, authorized as `get pods/exec`, so `create pods/exec` is checked too,
            # as the SPDY POST always needed it. The sandbox applies it: exec needs `create`, as the docs say.
            req = rbac.Request("create", "", "pods", "exec", namespace, name)
            if not rbac.authorize(self.store, identity, req):
                raise rbac.forbidden(identity, req)
        pod = self.store.get(kinds.POD, namespace, name)
        q = request.query
        command = q.getall("command", [])
        if not command:
            # pkg/registry/core/pod/rest/subresources.go ExecREST -> validation of PodExecOptions.
            raise ApiError(400, "BadRequest", "you must specify at least one command for the container")
        containers = [str(c.get("name", "")) for c in (pod.get("spec") or {}).get("containers") or []]
        container = q.get("container") or ""
        if not container:
            if len(containers) != 1:
                # pkg/registry/core/pod/strategy.go streamLocation: no default among several containers.
                raise ApiError(400, "BadRequest", f"a container name must be specified for pod {name}, choose one "
                                                  f"of: [{' '.join(containers)}]")
            container = containers[0]
        if container not in containers:
            # strategy.go streamLocation.
            raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {name}")
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        if phase in ("Succeeded", "Failed"):
            # kubectl's own check (staging/src/k8s.io/kubectl/pkg/cmd/exec/exec.go Run), for other clients too.
            raise ApiError(400, "BadRequest",
                           f"cannot exec into a container in a completed pod; current phase is {phase}")
        if q.get("tty") in ("true", "1"):
            raise ApiError(400, "BadRequest", "the sandbox's emulated containers have no terminal: exec with tty is "
                                              "not supported; run kubectl exec without -t")
        if request.headers.get("Upgrade", "").strip().lower() != "websocket":
            # kubectl falls back to SPDY only when the WebSocket upgrade fails; the sandbox serves WebSocket only.
            raise ApiError(400, "BadRequest", "Upgrade request required: the sandbox serves exec over WebSocket "
                                              f"({', '.join(EXEC_PROTOCOLS)}) only, not SPDY")
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        # wsstream/conn.go handshake: the first protocol the client offers that the server supports.
        protocol = next((p for p in offered if p in EXEC_PROTOCOLS), None)
        if protocol is None:
            raise ApiError(400, "BadRequest", f"unable to upgrade: requested protocol(s) {offered} are not "
                                              f"supported: supports {list(EXEC_PROTOCOLS)}")
        target = self.resolve(pod, container)
        if target is None:
            # pkg/kubelet/server/server.go: the container is not running (yet, or any more).
            raise ApiError(400, "BadRequest", f'container not found ("{container}")')
        return await self._serve(request, protocol, command, target)

    async def _serve(self, request: web.Request, protocol: str, command: list[str],
                     target: ExecTarget) -> web.StreamResponse:
        q = request.query
        ws = web.WebSocketResponse(protocols=(protocol,), max_msg_size=_MAX_WS_MESSAGE)
        await ws.prepare(request)
        stdin: asyncio.Queue[bytes | None] | None = asyncio.Queue() if q.get("stdin") in ("true", "1") else None

        def writer(channel: int, wanted: bool) -> Callable[[bytes], Any]:
            async def write(data: bytes) -> None:
                if wanted and data:
                    for start in range(0, len(data), 1 << 20):  # bounded messages for big config dumps
                        await ws.send_bytes(bytes([channel]) + data[start:start + (1 << 20)])
            return write

        io = ExecIO(writer(_STDOUT, q.get("stdout") in ("true", "1")),
                    writer(_STDERR, q.get("stderr") in ("true", "1")), stdin)
        run = asyncio.create_task(run_command(command, target, io))
        reader = asyncio.create_task(self._read(ws, stdin, protocol))
        try:
            await asyncio.wait({run, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not run.done():
                return ws  # the client left: the command goes with it (finally)
            try:
                status = exit_status(command, run.result())
            except ConnectionError:
                return ws  # the client went away while the command wrote
            except Exception as error:  # noqa: BLE001 - reported to the client as the kubelet does
                log.exception("exec %s in %s/%s failed", command, target.namespace, target.pod)
                status = _internal_error(str(error))
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_bytes(bytes([_ERROR]) + json.dumps(status, separators=(",", ":")).encode())
        finally:
            for task in (run, reader):
                task.cancel()
            for task in (run, reader):
                # Cancelled on purpose; an error of theirs was reported on the error channel above.
                with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError, OSError):
                    await task
            with contextlib.suppress(ConnectionError, RuntimeError, OSError):
                await ws.close()
        return ws

    @staticmethod
    async def _read(ws: web.WebSocketResponse, stdin: asyncio.Queue[bytes | None] | None, protocol: str) -> None:
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT) or not msg.data:
                    continue
                # wsstream/conn.go reads text and binary frames alike; the Python client sends str stdin as text.
                data: bytes = msg.data.encode() if isinstance(msg.data, str) else msg.data
                channel, payload = data[0], data[1:]
                if channel == _STDIN and stdin is not None and payload:
                    stdin.put_nowait(payload)
                elif channel == _CLOSE and protocol.startswith("v5.") and payload[:1] == bytes([_STDIN]):
                    # wsstream/conn.go: v5's close signal ends that channel's reads (stdin sees EOF).
                    if stdin is not None:
                        stdin.put_nowait(None)
                # _RESIZE: no terminal to resize.
        finally:
            if stdin is not None:
                stdin.put_nowait(None)
