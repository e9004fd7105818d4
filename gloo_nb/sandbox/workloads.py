r"""The program a sandbox pod's container runs: an emulation of its image, serving HTTP on loopback.

``python -m gloo_nb.sandbox.workloads --image IMAGE [--emulate auto|generic] --pod NAME --namespace NS
[--container C] [--labels JSON] [--ports P,P] [--socket CPORT=FD ...] [--port-map JSON] [--ready-fd N]
[--parent-pid PID] -- ARGS...``

- ``hashicorp/http-echo`` (any tag) is emulated after its source (github.com/hashicorp/http-echo, main.go and
  handlers.go): Go ``flag`` parsing of ``-text``, ``-listen`` (default ``:5678``), ``-version`` and, from 1.0 on,
  ``-status-code`` and the ``ECHO_TEXT`` variable; every path answers ``text + "\\n"``, ``/health`` answers
  ``{"status":"ok"}``, with the ``X-App-Name`` / ``X-App-Version`` headers and Go's access log on stdout.
- Any other image runs a generic echo: every declared container port answers JSON naming the pod (name,
  namespace, labels, container, image) and the request (method, path, query, headers, body).

The kubelet binds the listening sockets itself (loopback, port 0) and hands them over as inherited file
descriptors (``--socket CONTAINERPORT=FD``), so the host port is known before the process starts and survives
restarts. ``--port-map`` (containerPort -> host port) is the fallback when no descriptor is given. Once every
listener serves, one byte is written to ``--ready-fd``: that is the kubelet's readiness signal.

This module imports only the standard library's light modules so that a pod starts in a few tens of
milliseconds; it must not import the rest of gloo_nb.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

_MAX_HEADER_BYTES = 1 << 20
_REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently",
    302: "Found", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 418: "I'm a teapot",
    429: "Too Many Requests", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

HTTP_ECHO_IMAGE = "hashicorp/http-echo"
HTTP_ECHO_DEFAULT_LISTEN = ":5678"


class WorkloadExit(Exception):  # not in gloo_nb.errors: this file runs as `python -I -S workloads.py`, stdlib only
    """The emulated program ends before serving, with an exit code and what it printed.

    Attributes:
        code: The process exit code.
        stderr: What the program writes to stderr before exiting.
        stdout: What the program writes to stdout before exiting.
    """

    def __init__(self, code: int, stderr: str = "", stdout: str = "") -> None:
        super().__init__(stderr or stdout or f"exit {code}")
        self.code = code
        self.stderr = stderr
        self.stdout = stdout


@dataclass(slots=True)
class Request:
    """One parsed HTTP/1.x request.

    Attributes:
        method: The request method.
        target: The raw request target (path and query).
        version: ``HTTP/1.1`` or ``HTTP/1.0``.
        headers: Header fields in arrival order, names as sent.
        body: The request body (de-chunked).
        remote: ``host:port`` of the peer.
    """

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    remote: str = ""

    def header(self, name: str, default: str = "") -> str:
        """Return the first value of a header, compared case-insensitively.

        Args:
            name: Header name.
            default: Value when absent.

        Returns:
            The header value.
        """
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    @property
    def path(self) -> str:
        """The path part of the target, without the query."""
        return self.target.split("?", 1)[0]

    @property
    def raw_query(self) -> str:
        """The query string without ``?`` ('' when none)."""
        parts = self.target.split("?", 1)
        return parts[1] if len(parts) == 2 else ""


@dataclass(slots=True)
class Response:
    """An HTTP response to write.

    Attributes:
        status: Status code.
        headers: Header fields (``Content-Length`` and ``Date`` are added when writing).
        body: The body bytes (not sent for HEAD).
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes


Handler = Callable[[Request, int], Response]


def http_date(now: float | None = None) -> str:
    """Format a time as an HTTP ``Date`` value (RFC 7231 IMF-fixdate).

    Args:
        now: Seconds since the epoch; the current time when None.

    Returns:
        For example ``Mon, 02 Jan 2006 15:04:05 GMT``.
    """
    t = time.gmtime(now)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


def _read_exact(rfile: BinaryIO, n: int) -> bytes:
    data = rfile.read(n)
    if data is None or len(data) < n:
        raise ConnectionError("short body")
    return data


def _read_chunked(rfile: BinaryIO) -> bytes:
    chunks: list[bytes] = []
    while True:
        line = rfile.readline(65537)
        if not line:
            raise ConnectionError("eof in chunked body")
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            # Trailers end with an empty line.
            while True:
                trailer = rfile.readline(65537)
                if trailer in (b"\r\n", b"\n", b""):
                    return b"".join(chunks)
        chunks.append(_read_exact(rfile, size))
        rfile.readline(3)


def serve_connection(conn: socket.socket, handler: Handler, container_port: int) -> None:
    """Serve HTTP/1.x requests on one connection until the peer closes or asks to close.

    Keep-alive is the default for HTTP/1.1 (Envoy reuses upstream connections). Each response goes out in
    one ``sendall`` with Nagle off, so there is no delayed-ACK stall.

    Args:
        conn: The accepted connection.
        handler: Builds a response for a request.
        container_port: The container port the connection arrived on (passed to the handler).
    """
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = conn.getpeername()
        remote = f"{peer[0]}:{peer[1]}"
    except OSError:
        remote = ""
    rfile: BinaryIO = conn.makefile("rb", buffering=65536)  # type: ignore[assignment]
    try:
        while True:
            line = rfile.readline(65537)
            if not line:
                return
            if line in (b"\r\n", b"\n"):
                continue  # RFC 7230 3.5: ignore empty lines before a request line
            parts = line.decode("latin-1").strip().split()
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                             b"Connection: close\r\n\r\n400 Bad Request")
                return
            req = Request(parts[0], parts[1], parts[2], remote=remote)
            total = 0
            while True:
                hline = rfile.readline(65537)
                total += len(hline)
                if not hline or total > _MAX_HEADER_BYTES:
                    return
                if hline in (b"\r\n", b"\n"):
                    break
                name, _, value = hline.decode("latin-1").partition(":")
                req.headers.append((name.strip(), value.strip()))
            if req.header("Expect").lower() == "100-continue":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if "chunked" in req.header("Transfer-Encoding").lower():
                req.body = _read_chunked(rfile)
            else:
                length = req.header("Content-Length")
                if length:
                    req.body = _read_exact(rfile, int(length))
            conn_hdr = req.header("Connection").lower()
            keep = ("close" not in conn_hdr) if req.version == "HTTP/1.1" else ("keep-alive" in conn_hdr)
            try:
                resp = handler(req, container_port)
            except Exception as exc:  # noqa: BLE001 - a handler bug must not kill the connection loop silently
                resp = Response(500, [("Content-Type", "text/plain; charset=utf-8")], f"{exc}\n".encode())
            headers = [*resp.headers, ("Date", http_date())]
            if req.method != "HEAD" or resp.body:
                headers.append(("Content-Length", str(len(resp.body))))
            if not keep:
                headers.append(("Connection", "close"))
            headers.sort(key=lambda kv: kv[0])  # Go writes header fields sorted by name
            head = f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Status')}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
            payload = head.encode("latin-1")
            if req.method != "HEAD":
                payload += resp.body
            conn.sendall(payload)
            if not keep:
                return
    except (OSError, ValueError, ConnectionError):
        return
    finally:
        try:
            rfile.close()
            conn.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------------------------
# hashicorp/http-echo
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class HttpEchoConfig:
    """The parsed command line of http-echo.

    Attributes:
        text: The text every path answers.
        listen: The ``-listen`` address (``[host]:port``).
        port: The port ``listen`` names.
        status_code: Status of the text responses (1.0+ only; 200 before).
        version: The version the image reports in ``X-App-Version``.
    """

    text: str
    listen: str
    port: int
    status_code: int
    version: str


def http_echo_version(image: str) -> str:
    """Return the http-echo version an image reference stands for.

    Args:
        image: For example ``hashicorp/http-echo:0.2.3``; no tag or ``latest`` means 1.0.0.

    Returns:
        The version string (``0.2.3``, ``1.0.0``...).
    """
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    tag = tag.lstrip("v")
    if not tag or not tag[0].isdigit():
        return "1.0.0"
    parts = tag.split("-", 1)[0].split(".")
    while len(parts) < 3:
        parts.append("0")
    return ".".join(parts[:3])


def _http_echo_major(version: str) -> int:
    try:
        return int(version.split(".", 1)[0])
    except ValueError:
        return 1


def _go_usage(flags: dict[str, str]) -> str:
    lines = ["Usage of /http-echo:"]
    for name, help_text in sorted(flags.items()):
        lines.append(f"  -{name}" + ("" if name == "version" else " string" if name != "status-code" else " int"))
        lines.append(f"    \t{help_text}")
    return "\n".join(lines) + "\n"


def parse_http_echo_args(args: list[str], image: str, env: dict[str, str] | None = None) -> HttpEchoConfig:
    """Parse http-echo's command line the way Go's ``flag`` package and http-echo's ``main`` do.

    Args:
        args: The container's args (after the entrypoint).
        image: The image reference (its tag selects the version's behaviour).
        env: The container environment (``ECHO_TEXT`` counts from 1.0 on); ``os.environ`` when None.

    Returns:
        The configuration.

    Raises:
        WorkloadExit: When http-echo would exit instead of serving (missing text, bad flags, ``-version``).
    """
    env = dict(os.environ) if env is None else env
    version = http_echo_version(image)
    modern = _http_echo_major(version) >= 1
    flags = {"listen": "address and port to listen (default \":5678\")", "text": "text to put on the webpage",
             "version": "display version information"}
    if modern:
        flags["status-code"] = "http response code, e.g.: 200 (default 200)"
    values: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if len(arg) < 2 or arg[0] != "-":
            rest = args[i:]
            break
        if arg == "--":
            rest = args[i + 1:]
            break
        name = arg[2:] if arg.startswith("--") else arg[1:]
        if not name or name[0] == "-" or name[0] == "=":
            raise WorkloadExit(2, f"bad flag syntax: {arg}\n" + _go_usage(flags))
        value: str | None = None
        if "=" in name:
            name, value = name.split("=", 1)
        if name in ("h", "help") and name not in flags:
            raise WorkloadExit(0, _go_usage(flags))
        if name not in flags:
            raise WorkloadExit(2, f"flag provided but not defined: -{name}\n" + _go_usage(flags))
        if name == "version":
            if value is not None and value.lower() not in ("1", "t", "true", "0", "f", "false"):
                raise WorkloadExit(2, f'invalid boolean value "{value}" for -version: parse error\n'
                                   + _go_usage(flags))
            values["version"] = "true" if value is None or value.lower() in ("1", "t", "true") else ""
        else:
            if value is None:
                if i + 1 >= len(args):
                    raise WorkloadExit(2, f"flag needs an argument: -{name}\n" + _go_usage(flags))
                i += 1
                value = args[i]
            values[name] = value
        i += 1
    if values.get("version"):
        human = f"http-echo v{version} ()"
        # 0.2.x printed the version to stderr, 1.0 to stdout (with a build line).
        if modern:
            raise WorkloadExit(0, stdout=human + "\nBuilt: \n")
        raise WorkloadExit(0, stderr=human + "\n")
    status = 200
    if "status-code" in values:
        try:
            status = int(values["status-code"], 0)
        except ValueError:
            raise WorkloadExit(2, f'invalid value "{values["status-code"]}" for flag -status-code: parse error\n'
                               + _go_usage(flags)) from None
    text = values.get("text", "")
    if modern and not text:
        text = env.get("ECHO_TEXT", "")
    if not text:
        raise WorkloadExit(127, "Missing -text option or ECHO_TEXT env var!\n" if modern
                           else "Missing -text option!\n")
    if rest:
        raise WorkloadExit(127, "Too many arguments!\n")
    listen = values.get("listen", HTTP_ECHO_DEFAULT_LISTEN)
    port_text = listen.rsplit(":", 1)[-1] if ":" in listen else ""
    if not port_text.isdigit():
        raise WorkloadExit(127, f"listen tcp: address {listen}: missing port in address\n")
    return HttpEchoConfig(text=text, listen=listen, port=int(port_text), status_code=status, version=version)


def _clean_path(path: str) -> str:
    """Go's ``path.Clean`` as ServeMux applies it (keeping a trailing slash)."""
    if not path.startswith("/"):
        path = "/" + path
    out: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    cleaned = "/" + "/".join(out)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


def _go_log_time() -> str:
    return time.strftime("%Y/%m/%d %H:%M:%S")


def make_http_echo_handler(cfg: HttpEchoConfig, out: Callable[[str], None]) -> Handler:
    """Build the request handler of http-echo.

    Args:
        cfg: The parsed command line.
        out: Where the access log lines go (stdout in the real program).

    Returns:
        The handler.
    """
    modern = _http_echo_major(cfg.version) >= 1
    text_body = (cfg.text + "\n").encode()
    health_body = b'{"status":"ok"}\n'
    app_headers = [("X-App-Name", "http-echo"), ("X-App-Version", cfg.version),
                   ("Content-Type", "text/plain; charset=utf-8")]

    def handle(req: Request, _port: int) -> Response:
        path = req.path
        if req.method != "CONNECT":
            cleaned = _clean_path(path)
            if cleaned != path:
                # ServeMux redirects unclean paths before any handler runs.
                location = cleaned + ("?" + req.raw_query if req.raw_query else "")
                body = f'<a href="{location}">Moved Permanently</a>.\n\n'.encode()
                return Response(301, [("Location", location), ("Content-Type", "text/html; charset=utf-8")], body)
        if path == "/health":
            return Response(200, list(app_headers), health_body)
        start = time.perf_counter()
        status = cfg.status_code if modern else 200
        resp = Response(status, list(app_headers), text_body)
        dur_us = (time.perf_counter() - start) * 1e6
        host = req.header("Host")
        out(f'{_go_log_time()} {host} {req.remote} "{req.method} {path} {req.version}" {status} '
            f'{len(text_body)} "{req.header("User-Agent")}" {dur_us:.3f}µs\n')
        return resp

    return handle


# ---------------------------------------------------------------------------------------------------------------
# generic echo
# ---------------------------------------------------------------------------------------------------------------

def make_generic_handler(*, pod: str, namespace: str, container: str, image: str,
                         labels: dict[str, str], args: list[str]) -> Handler:
    """Build the handler of the generic echo that stands for any image the sandbox does not emulate.

    Args:
        pod: Pod name.
        namespace: Pod namespace.
        container: Container name.
        image: Image reference.
        labels: Pod labels.
        args: The container's args (reported as they are).

    Returns:
        A handler answering JSON on every path.
    """
    from urllib.parse import parse_qs  # only the generic echo needs it

    def handle(req: Request, port: int) -> Response:
        headers: dict[str, str] = {}
        for key, value in req.headers:
            lkey = key.lower()
            headers[lkey] = f"{headers[lkey]}, {value}" if lkey in headers else value
        body = {
            "pod": pod, "namespace": namespace, "labels": labels, "container": container, "image": image,
            "args": args, "port": port,
            "request": {
                "method": req.method, "path": req.path, "rawQuery": req.raw_query,
                "query": parse_qs(req.raw_query, keep_blank_values=True), "headers": headers,
                "body": req.body.decode("utf-8", "replace"), "remote": req.remote,
            },
        }
        data = (json.dumps(body, sort_keys=True) + "\n").encode()
        return Response(200, [("Content-Type", "application/json"), ("X-Pod-Name", pod)], data)

    return handle


# ---------------------------------------------------------------------------------------------------------------
# process glue
# ---------------------------------------------------------------------------------------------------------------

def _set_parent_death_signal(parent_pid: int | None) -> None:
    """Ask Linux to SIGKILL this process when its parent dies, so a crashed sandbox leaves no pods behind."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    # The parent may have died between fork and prctl: then we were re-parented already.
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def is_http_echo(image: str) -> bool:
    """Return whether an image reference is hashicorp/http-echo (any registry prefix, tag or digest).

    Args:
        image: The image reference.

    Returns:
        True for http-echo.
    """
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)
    name = last[-1].split(":", 1)[0]
    owner = last[0].rsplit("/", 1)[-1] if len(last) == 2 else ""
    return name == "http-echo" and owner in ("hashicorp", "")


def _listener(container_port: int, sockets: dict[int, int], port_map: dict[int, int]) -> socket.socket:
    if container_port in sockets:
        sock = socket.socket(fileno=sockets[container_port])
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port_map.get(container_port, container_port)))
        sock.listen(128)
    sock.setblocking(True)
    return sock


def _accept_loop(sock: socket.socket, handler: Handler, container_port: int, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except OSError:
            if stop.is_set():
                return
            time.sleep(0.01)
            continue
        threading.Thread(target=serve_connection, args=(conn, handler, container_port), daemon=True).start()


def _parse_cli(argv: list[str]) -> dict:
    opts: dict = {"image": "", "emulate": "auto", "pod": "", "namespace": "default", "container": "", "labels": {},
                  "sockets": {}, "port_map": {}, "ports": [], "ready_fd": None, "parent_pid": None, "args": []}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            opts["args"] = argv[i + 1:]
            break
        if i + 1 >= len(argv):
            raise SystemExit(f"workloads: {arg} needs a value")
        value = argv[i + 1]
        if arg == "--image":
            opts["image"] = value
        elif arg == "--emulate":
            opts["emulate"] = value
        elif arg == "--pod":
            opts["pod"] = value
        elif arg == "--namespace":
            opts["namespace"] = value
        elif arg == "--container":
            opts["container"] = value
        elif arg == "--labels":
            opts["labels"] = json.loads(value)
        elif arg == "--socket":
            cport, _, fd = value.partition("=")
            opts["sockets"][int(cport)] = int(fd)
        elif arg == "--port-map":
            opts["port_map"] = {int(k): int(v) for k, v in json.loads(value).items()}
        elif arg == "--ports":
            opts["ports"] = [int(p) for p in value.split(",") if p]
        elif arg == "--ready-fd":
            opts["ready_fd"] = int(value)
        elif arg == "--parent-pid":
            opts["parent_pid"] = int(value)
        else:
            raise SystemExit(f"workloads: unknown option {arg}")
        i += 2
    if not opts["image"]:
        raise SystemExit("workloads: --image is required")
    return opts


def main(argv: list[str] | None = None) -> int:
    """Run one container until SIGTERM or SIGINT.

    Args:
        argv: Command line without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit code (0 after a clean stop; what the emulated program returns otherwise).
    """
    opts = _parse_cli(sys.argv[1:] if argv is None else argv)
    _set_parent_death_signal(opts["parent_pid"])
    image: str = opts["image"]
    sockets: dict[int, int] = opts["sockets"]
    port_map: dict[int, int] = opts["port_map"]
    lock = threading.Lock()

    def out(line: str) -> None:
        with lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    listen_ports: list[int]
    echo = is_http_echo(image) and opts["emulate"] != "generic"
    if echo:
        try:
            cfg = parse_http_echo_args(list(opts["args"]), image)
        except WorkloadExit as exc:
            sys.stdout.write(exc.stdout)
            sys.stderr.write(exc.stderr)
            return exc.code
        handler = make_http_echo_handler(cfg, out)
        listen_ports = [cfg.port]
        banner = (f"{_go_log_time()} [INFO] server is listening on {cfg.listen}\n"
                  if _http_echo_major(cfg.version) >= 1 else f"{_go_log_time()} Server is listening on {cfg.listen}\n")
    else:
        handler = make_generic_handler(pod=opts["pod"], namespace=opts["namespace"], container=opts["container"],
                                       image=image, labels=opts["labels"], args=list(opts["args"]))
        listen_ports = sorted(set(opts["ports"]) | set(sockets) | set(port_map))
        banner = f"generic echo for {image} listening on container ports {listen_ports}\n"
    try:
        listeners = [(port, _listener(port, sockets, port_map)) for port in listen_ports]
    except OSError as exc:
        sys.stderr.write(f"listen tcp: {exc}\n")
        return 127
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for port, sock in listeners:
        threading.Thread(target=_accept_loop, args=(sock, handler, port, stop), daemon=True).start()
    sys.stderr.write(banner)
    sys.stderr.flush()
    if opts["ready_fd"] is not None:
        try:
            os.write(opts["ready_fd"], b"1")
            os.close(opts["ready_fd"])
        except OSError:
            pass
    while not stop.wait(0.5):
        pass
    for _, sock in listeners:
        try:
            sock.close()
        except OSError:
            pass
    if echo and _http_echo_major(http_echo_version(image)) >= 1:
        # http-echo 1.x: "If we got this far, it was an interrupt, so don't exit cleanly" (main.go).
        sys.stderr.write(f"{_go_log_time()} [INFO] received interrupt, shutting down...\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
