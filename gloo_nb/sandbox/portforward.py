"""The sandbox's ``pods/portforward`` subresource, as a kubelet serves it behind the apiserver.

Three wire protocols reach the same forwarding (``notes/kubectl-wire.md`` §7):

- kubectl 1.32: a WebSocket with subprotocol ``SPDY/3.1+portforward.k8s.io`` carrying a SPDY/3.1 byte stream in
  binary messages (message boundaries mean nothing). Per local connection kubectl opens an *error* and a *data*
  stream sharing a ``requestid``; the remote port travels in the stream headers.
- The same SPDY/3.1 session on a raw ``POST`` + ``Upgrade: SPDY/3.1`` (kubectl's fallback when the WebSocket
  handshake fails, or with ``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``).
- The official Python client: a WebSocket ``v4.channel.k8s.io`` (or ``v4.base64.channel.k8s.io``) with
  ``?ports=P[,Q]``; data on channel 2i, errors on 2i+1, each channel opened by a 2-byte little-endian port frame.

A pod's container port is reached on loopback at the host port its ``sandbox.gloo-nb.io/ports`` annotation maps it
to; a port without a mapping fails like a kubelet's dial to a closed port.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from gloo_nb.errors import UnreachableError
from gloo_nb.sandbox import kinds
from gloo_nb.sandbox.pod_objects import PORTS_ANNOTATION
from gloo_nb.sandbox.store import ApiError, Identity, Store

__all__ = ["SPDY_DICTIONARY", "SPDY_SUBPROTOCOL", "DialError", "Dialer", "PortForwardHandler", "SpdySession"]

log = logging.getLogger(__name__)


async def _close_quietly(closing: Awaitable[object], what: str) -> None:
    """Await a close whose failure changes nothing (the peer is gone already); log it for debugging."""
    try:
        await closing
    except Exception as exc:  # noqa: BLE001 - closing a broken connection may fail in any way
        log.debug("closing the %s failed: %r", what, exc)

SPDY_SUBPROTOCOL = "SPDY/3.1+portforward.k8s.io"
"""The WebSocket subprotocol kubectl 1.32 offers for port-forward: SPDY/3.1 tunnelled in binary messages."""
_CHANNEL_SUBPROTOCOLS = ("v4.channel.k8s.io", "v4.base64.channel.k8s.io")

# The SPDY/3 header-compression dictionary (1423 bytes, adler32 0xe3c6a7c2), as in moby/spdystream and kubectl.
SPDY_DICTIONARY = bytes.fromhex(
    "000000076f7074696f6e73000000046865616400000004706f7374000000037075740000000664656c65746500000005"
    "7472616365000000066163636570740000000e6163636570742d636861727365740000000f6163636570742d656e636f"
    "64696e670000000f6163636570742d6c616e67756167650000000d6163636570742d72616e6765730000000361676500"
    "000005616c6c6f770000000d617574686f72697a6174696f6e0000000d63616368652d636f6e74726f6c0000000a636f"
    "6e6e656374696f6e0000000c636f6e74656e742d6261736500000010636f6e74656e742d656e636f64696e6700000010"
    "636f6e74656e742d6c616e67756167650000000e636f6e74656e742d6c656e67746800000010636f6e74656e742d6c6f"
    "636174696f6e0000000b636f6e74656e742d6d64350000000d636f6e74656e742d72616e67650000000c636f6e74656e"
    "742d74797065000000046461746500000004657461670000000665787065637400000007657870697265730000000466"
    "726f6d00000004686f73740000000869662d6d617463680000001169662d6d6f6469666965642d73696e63650000000d"
    "69662d6e6f6e652d6d617463680000000869662d72616e67650000001369662d756e6d6f6469666965642d73696e6365"
    "0000000d6c6173742d6d6f646966696564000000086c6f636174696f6e0000000c6d61782d666f727761726473000000"
    "06707261676d610000001270726f78792d61757468656e7469636174650000001370726f78792d617574686f72697a61"
    "74696f6e0000000572616e676500000007726566657265720000000b72657472792d6166746572000000067365727665"
    "7200000002746500000007747261696c6572000000117472616e736665722d656e636f64696e67000000077570677261"
    "64650000000a757365722d6167656e74000000047661727900000003766961000000077761726e696e67000000107777"
    "772d61757468656e746963617465000000066d6574686f64000000036765740000000673746174757300000006323030"
    "204f4b0000000776657273696f6e00000008485454502f312e310000000375726c000000067075626c69630000000a73"
    "65742d636f6f6b69650000000a6b6565702d616c697665000000066f726967696e313030313031323031323032323035"
    "323036333030333032333033333034333035333036333037343032343035343036343037343038343039343130343131"
    "343132343133343134343135343136343137353032353034353035323033204e6f6e2d417574686f7269746174697665"
    "20496e666f726d6174696f6e323034204e6f20436f6e74656e74333031204d6f766564205065726d616e656e746c7934"
    "303020426164205265717565737434303120556e617574686f72697a656434303320466f7262696464656e343034204e"
    "6f7420466f756e6435303020496e7465726e616c20536572766572204572726f72353031204e6f7420496d706c656d65"
    "6e746564353033205365727669636520556e617661696c61626c654a616e20466562204d617220417072204d6179204a"
    "756e204a756c204175672053657074204f6374204e6f76204465632030303a30303a3030204d6f6e2c205475652c2057"
    "65642c205468752c204672692c205361742c2053756e2c20474d546368756e6b65642c746578742f68746d6c2c696d61"
    "67652f706e672c696d6167652f6a70672c696d6167652f6769662c6170706c69636174696f6e2f786d6c2c6170706c69"
    "636174696f6e2f7868746d6c2b786d6c2c746578742f706c61696e2c746578742f6a6176617363726970742c7075626c"
    "6963707269766174656d61782d6167653d677a69702c6465666c6174652c73646368636861727365743d7574662d3863"
    "6861727365743d69736f2d383835392d312c7574662d2c2a2c656e713d302e"
)

# SPDY/3.1 frame types and flags (draft-mbelshe-httpbis-spdy-00 §2.6).
_SYN_STREAM, _SYN_REPLY, _RST_STREAM, _SETTINGS, _PING, _GOAWAY, _HEADERS, _WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
_FLAG_FIN = 0x01
_CHUNK = 32 * 1024
_MAX_WS_MESSAGE = 64 * 1024 * 1024

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Dialer = Callable[[int], Awaitable[Connection]]
"""Connects to a pod's container port; raises :class:`DialError` with a kubelet-style message when it cannot."""


class DialError(UnreachableError):
    """The pod's port cannot be reached; the message goes to the client's error stream or channel."""


@dataclass(eq=False)
class _Forward:
    """One forwarded connection: a SPDY error+data stream pair, or one port of a channel session."""

    port: int
    request_id: str = ""
    error_sid: int = 0
    data_sid: int = 0
    pending: bytearray = field(default_factory=bytearray)
    client_fin: bool = False
    writer: asyncio.StreamWriter | None = None
    task: asyncio.Task[None] | None = None

    def to_target(self, data: bytes, fin: bool) -> None:
        """Write client bytes to the target, or keep them until the dial completes."""
        if self.writer is None:
            self.pending += data
        elif data and not self.writer.is_closing():
            self.writer.write(data)
        if fin:
            self.client_fin = True
            if self.writer is not None and not self.writer.is_closing() and self.writer.can_write_eof():
                self.writer.write_eof()

    def connected(self, writer: asyncio.StreamWriter) -> None:
        """Flush what arrived during the dial (no await between, so the order holds)."""
        self.writer = writer
        if self.pending:
            writer.write(bytes(self.pending))
            self.pending.clear()
        if self.client_fin and writer.can_write_eof():
            writer.write_eof()

    def close(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.writer is not None:
            self.writer.close()


def _header_block(pairs: dict[str, str]) -> bytes:
    out = [struct.pack(">I", len(pairs))]
    for name, value in pairs.items():
        for text in (name.encode(), value.encode()):
            out.append(struct.pack(">I", len(text)) + text)
    return b"".join(out)


def _parse_header_block(block: bytes) -> dict[str, str]:
    (count,) = struct.unpack_from(">I", block, 0)
    pos, headers = 4, {}
    for _ in range(count):
        (n,) = struct.unpack_from(">I", block, pos)
        name = block[pos + 4:pos + 4 + n].decode(errors="replace")
        pos += 4 + n
        (n,) = struct.unpack_from(">I", block, pos)
        headers[name.lower()] = block[pos + 4:pos + 4 + n].decode(errors="replace")
        pos += 4 + n
    return headers


def _control_frame(ftype: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | 3, ftype, (flags << 24) | len(payload)) + payload


def _data_frame(sid: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">II", sid & 0x7FFFFFFF, (flags << 24) | len(payload)) + payload


class SpdySession:
    """The server side of a kubelet's SPDY/3.1 port-forward session (what kubectl needs; no flow control).

    Args:
        send: Writes bytes to the client, in order (frames are serialised by a lock, since the header
            compressor's state must follow the wire order).
        dial: Connects to a remote port.
        describe: Names the pod in error messages (``namespace/name``).
    """

    def __init__(self, send: Callable[[bytes], Awaitable[None]], dial: Dialer, describe: str = "") -> None:
        self._send = send
        self._dial = dial
        self._describe = describe
        self._buf = bytearray()
        # One inflater for everything the client sends, one deflater for what we send (SPDY/3 §2.6.10.1).
        self._inflate = zlib.decompressobj(zdict=SPDY_DICTIONARY)
        self._deflate = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, SPDY_DICTIONARY)
        self._lock = asyncio.Lock()
        self._by_request: dict[str, _Forward] = {}
        self._by_sid: dict[int, _Forward] = {}
        self.closed = False

    async def feed(self, data: bytes) -> None:
        """Consume client bytes (any split); handle every complete frame.

        Args:
            data: The next bytes of the SPDY stream.
        """
        self._buf += data
        while len(self._buf) >= 8 and not self.closed:
            length = int.from_bytes(self._buf[5:8], "big")
            if len(self._buf) < 8 + length:
                return
            head = bytes(self._buf[:8])
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            if head[0] & 0x80:
                await self._control(int.from_bytes(head[2:4], "big"), head[4], head, payload)
            else:
                await self._data(int.from_bytes(head[:4], "big") & 0x7FFFFFFF, head[4], payload)

    async def close(self) -> None:
        """Stop the session: close every target connection."""
        self.closed = True
        for fwd in {id(f): f for f in self._by_sid.values()}.values():
            fwd.close()
        self._by_sid.clear()
        self._by_request.clear()

    async def _emit(self, frame: bytes | Callable[[], bytes]) -> None:
        async with self._lock:
            await self._send(frame() if callable(frame) else frame)

    async def _control(self, ftype: int, flags: int, head: bytes, payload: bytes) -> None:
        if ftype == _SYN_STREAM:
            sid = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
            headers = _parse_header_block(self._inflate.decompress(payload[10:]))
            await self._emit(lambda: _control_frame(_SYN_REPLY, 0, struct.pack(">I", sid) + self._compress({})))
            self._open_stream(sid, headers)
        elif ftype in (_SYN_REPLY, _HEADERS):
            self._inflate.decompress(payload[4:])  # keep the inflater in step; nothing to do with the headers
        elif ftype == _PING:
            await self._emit(head + payload)
        elif ftype == _RST_STREAM:
            fwd = self._by_sid.get(int.from_bytes(payload[:4], "big") & 0x7FFFFFFF)
            if fwd is not None:
                fwd.close()
        elif ftype == _GOAWAY:
            await self.close()
        # SETTINGS and WINDOW_UPDATE: spdystream does no flow control, neither do we.

    def _compress(self, headers: dict[str, str]) -> bytes:
        return self._deflate.compress(_header_block(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def _open_stream(self, sid: int, headers: dict[str, str]) -> None:
        request_id = headers.get("requestid", str(sid))
        try:
            port = int(headers.get("port", ""))
        except ValueError:
            port = 0
        fwd = self._by_request.setdefault(request_id, _Forward(port, request_id))
        if headers.get("streamtype") == "error":
            fwd.error_sid = sid
        elif headers.get("streamtype") == "data":
            fwd.data_sid = sid
        else:
            return
        self._by_sid[sid] = fwd
        # The kubelet starts forwarding once it holds both streams of a request.
        if fwd.error_sid and fwd.data_sid and fwd.task is None:
            fwd.task = asyncio.create_task(self._forward(fwd))

    async def _data(self, sid: int, flags: int, payload: bytes) -> None:
        fwd = self._by_sid.get(sid)
        if fwd is None or sid != fwd.data_sid:
            return  # the client half-closes its error stream at once: nothing to do
        fwd.to_target(payload, bool(flags & _FLAG_FIN))
        if fwd.writer is not None and not fwd.writer.is_closing():
            with contextlib.suppress(ConnectionError):
                await fwd.writer.drain()

    async def _forward(self, fwd: _Forward) -> None:
        try:
            try:
                if fwd.port <= 0:
                    raise DialError('invalid or missing "port" header')
                reader, writer = await self._dial(fwd.port)
            except DialError as error:
                message = f"error forwarding port {fwd.port} to pod {self._describe}: {error}"
                await self._emit(_data_frame(fwd.error_sid, 0, message.encode()))
                return
            fwd.connected(writer)
            try:
                while chunk := await reader.read(_CHUNK):
                    await self._emit(_data_frame(fwd.data_sid, 0, chunk))
            except ConnectionError:
                pass
        except (ConnectionError, RuntimeError):
            return  # the client went away
        finally:
            if fwd.writer is not None:
                fwd.writer.close()
            if not self.closed:
                # kubectl waits for the error stream's end before it finishes the local connection.
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self._emit(_data_frame(fwd.data_sid, _FLAG_FIN, b""))
                    await self._emit(_data_frame(fwd.error_sid, _FLAG_FIN, b""))
            for sid in (fwd.error_sid, fwd.data_sid):
                self._by_sid.pop(sid, None)
            self._by_request.pop(fwd.request_id, None)


class _Hijacked(web.StreamResponse):
    """Returned after the handler took the socket over: aiohttp must write nothing more on it."""

    async def prepare(self, request: web.BaseRequest) -> None:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


class PortForwardHandler:
    """The ``pods/portforward`` subresource handler for :meth:`KubeApiServer.register_subresource`.

    Args:
        store: The object store (pods and their ``sandbox.gloo-nb.io/ports`` annotations).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __call__(self, request: web.Request, identity: Identity, namespace: str,
                       name: str) -> web.StreamResponse:
        """Serve one port-forward request (RBAC already allowed it).

        Args:
            request: The HTTP request (a WebSocket or SPDY upgrade).
            identity: The caller.
            namespace: The pod's namespace.
            name: The pod's name.

        Returns:
            The response, once the session is over.

        Raises:
            ApiError: No such pod, the pod is not Running, or the request is no upgrade the kubelet speaks.
        """
        pod = self.store.get(kinds.POD, namespace, name)
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        if phase != "Running":
            raise ApiError(400, "BadRequest",
                           f"unable to forward port because pod is not running. Current status={phase}")
        uid = pod["metadata"].get("uid", "")
        describe = f"{namespace}/{name}, uid {uid}"

        async def dial(port: int) -> Connection:
            return await self._dial(namespace, name, port)

        upgrade = request.headers.get("Upgrade", "").strip().lower()
        if upgrade == "websocket":
            offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
            if SPDY_SUBPROTOCOL in offered:
                return await self._spdy_websocket(request, dial, describe)
            return await self._channels(request, offered, dial, describe)
        if upgrade.startswith("spdy/3.1"):
            return await self._spdy_raw(request, dial, describe)
        raise ApiError(400, "BadRequest", "Upgrade request required")

    async def _dial(self, namespace: str, name: str, port: int) -> Connection:
        # Re-read the pod: a restarted container may listen on a new host port.
        try:
            pod = self.store.get(kinds.POD, namespace, name)
            ports = json.loads(pod["metadata"].get("annotations", {}).get(PORTS_ANNOTATION) or "{}")
        except (ApiError, ValueError):
            ports = {}
        host_port = ports.get(str(port))
        if not isinstance(host_port, int):
            raise DialError(f"failed to connect to localhost:{port} inside the pod: "
                            f"dial tcp4 127.0.0.1:{port}: connect: connection refused")
        try:
            return await asyncio.open_connection("127.0.0.1", host_port)
        except OSError as error:
            raise DialError(f"failed to connect to localhost:{port} inside the pod: "
                            f"dial tcp4 127.0.0.1:{port}: connect: {error.strerror or error}") from None

    # --- SPDY/3.1 tunnelled in a WebSocket (kubectl 1.32) -------------------------------------

    async def _spdy_websocket(self, request: web.Request, dial: Dialer, describe: str) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=(SPDY_SUBPROTOCOL,), max_msg_size=_MAX_WS_MESSAGE)
        await ws.prepare(request)
        session = SpdySession(ws.send_bytes, dial, describe)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    await session.feed(msg.data)  # boundaries mean nothing: one byte stream
                if session.closed:
                    break
        except (ConnectionError, RuntimeError):
            pass
        finally:
            await session.close()
            await _close_quietly(ws.close(), "port-forward WebSocket")
        return ws

    # --- raw SPDY/3.1 (kubectl's fallback) ------------------------------------------------------

    async def _spdy_raw(self, request: web.Request, dial: Dialer, describe: str) -> web.StreamResponse:
        transport = request.transport
        if transport is None:
            raise ApiError(400, "BadRequest", "the connection is gone")
        original = request.protocol
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2 ** 20)
        protocol = asyncio.StreamReaderProtocol(reader)
        # aiohttp only upgrades to websocket/tcp: take the socket over and answer the 101 ourselves.
        transport.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                        b"X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n")
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)

        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        session = SpdySession(send, dial, describe)
        try:
            while not session.closed and (data := await reader.read(65536)):
                await session.feed(data)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            await session.close()
            transport.close()
            # Let aiohttp forget the connection it no longer owns (else server shutdown waits on it).
            try:
                original.connection_lost(None)
            except Exception as exc:  # noqa: BLE001 - the hijacked connection is gone either way
                log.debug("aiohttp's connection_lost after a hijack failed: %r", exc)
        return _Hijacked()

    # --- v4 channels (the official Python client) ---------------------------------------------

    async def _channels(self, request: web.Request, offered: list[str], dial: Dialer,
                        describe: str) -> web.StreamResponse:
        if offered and not any(p in _CHANNEL_SUBPROTOCOLS for p in offered):
            raise ApiError(400, "BadRequest", f"unsupported port-forward subprotocols {offered}; "
                                              f"use one of {', '.join((SPDY_SUBPROTOCOL, *_CHANNEL_SUBPROTOCOLS))}")
        try:
            ports = [int(p) for v in request.query.getall("ports", []) for p in v.split(",") if p.strip()]
        except ValueError:
            raise ApiError(400, "BadRequest", "invalid port in the ports query parameter") from None
        if not ports:
            raise ApiError(400, "BadRequest", "at least 1 port must be specified")
        if any(not 0 < p < 65536 for p in ports) or len(set(ports)) != len(ports):
            raise ApiError(400, "BadRequest", f"invalid ports {ports}: each must be unique, in 1..65535")
        ws = web.WebSocketResponse(protocols=_CHANNEL_SUBPROTOCOLS, max_msg_size=_MAX_WS_MESSAGE)
        await ws.prepare(request)
        b64 = ws.ws_protocol == "v4.base64.channel.k8s.io"
        lock = asyncio.Lock()

        async def send(channel: int, data: bytes) -> None:
            async with lock:
                if b64:
                    await ws.send_str(str(channel) + base64.b64encode(data).decode())
                else:
                    await ws.send_bytes(bytes((channel,)) + data)

        forwards = [_Forward(port) for port in ports]
        try:
            for i, port in enumerate(ports):
                prefix = struct.pack("<H", port)
                await send(2 * i, prefix)
                await send(2 * i + 1, prefix)
            for i, fwd in enumerate(forwards):
                fwd.task = asyncio.create_task(self._pump(i, fwd, dial, send, describe))
            closer = asyncio.create_task(self._close_when_done(ws, forwards))
            try:
                async for msg in ws:
                    if msg.type == WSMsgType.BINARY and msg.data:
                        channel, data = msg.data[0], msg.data[1:]
                    elif msg.type == WSMsgType.TEXT and msg.data:
                        channel, data = int(msg.data[0]), base64.b64decode(msg.data[1:])
                    else:
                        continue
                    if channel % 2 == 0 and channel // 2 < len(forwards):
                        fwd = forwards[channel // 2]
                        fwd.to_target(data, fin=False)
                        if fwd.writer is not None and not fwd.writer.is_closing():
                            with contextlib.suppress(ConnectionError):
                                await fwd.writer.drain()
            finally:
                closer.cancel()
        except (ConnectionError, RuntimeError, ValueError):
            pass
        finally:
            for fwd in forwards:
                fwd.close()
            await _close_quietly(ws.close(), "port-forward WebSocket")
        return ws

    @staticmethod
    async def _pump(index: int, fwd: _Forward, dial: Dialer, send: Callable[[int, bytes], Awaitable[None]],
                    describe: str) -> None:
        try:
            reader, writer = await dial(fwd.port)
        except DialError as error:
            await send(2 * index + 1, f"error forwarding port {fwd.port} to pod {describe}: {error}".encode())
            return
        fwd.connected(writer)
        try:
            while chunk := await reader.read(_CHUNK):
                await send(2 * index, chunk)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _close_when_done(ws: web.WebSocketResponse, forwards: list[_Forward]) -> None:
        # The channel protocol has no per-port end: the WebSocket closes when every target is done.
        await asyncio.gather(*(f.task for f in forwards if f.task is not None), return_exceptions=True)
        await ws.close()
