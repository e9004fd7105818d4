r"""The program a sandbox pod's container runs: an emulation of its image, serving HTTP on loopback.

``python -m gloo_nb.sandbox.workloads --image IMAGE [--emulate auto|generic] --pod NAME --namespace NS
[--container C] [--labels JSON] [--ports P,P] [--socket CPORT=FD ...] [--port-map JSON] [--ready-fd N]
[--parent-pid PID] [--mount '["MOUNTPATH", "HOSTPATH"]' ...] -- ARGS...``

``--mount`` is the container's view of its volumes (:mod:`gloo_nb.sandbox.pod_volumes`): a container path
under ``MOUNTPATH`` is read from ``HOSTPATH`` (the longest mount path wins).

- ``hashicorp/http-echo`` (any tag) is emulated after its source (github.com/hashicorp/http-echo, main.go and
  handlers.go): Go ``flag`` parsing of ``-text``, ``-listen`` (default ``:5678``), ``-version`` and, from 1.0 on,
  ``-status-code`` and the ``ECHO_TEXT`` variable; every path answers ``text + "\\n"``, ``/health`` answers
  ``{"status":"ok"}``, with the ``X-App-Name`` / ``X-App-Version`` headers and Go's access log on stdout.
- ``nginx`` (the official image, any tag) is an emulation, not nginx: it reads ``/etc/nginx/nginx.conf`` (the
  image's stock file, or one mounted from a ConfigMap) with its ``include``s, and serves the ``server`` blocks'
  ``listen`` ports (declared container ports or not: the kubelet binds a socket for each), over TLS for
  ``listen ... ssl`` with ``ssl_certificate`` /
  ``ssl_certificate_key`` read from the mounted Secret (Python ``ssl``, SNI picks the server). Answers: the
  image's "Welcome to nginx!" page, files under ``root``, or ``return``. See :func:`parse_nginx_config` for
  the directives modelled. Modelled on what Gloo's client-TLS e2e test deploys
  (solo-io/gloo test/kubernetes/e2e/defaults/testdata/nginx_pod.yaml).
- ``--emulate run`` (what the kubelet picks for ``busybox`` and ``alpine`` containers that give a ``command`` or
  ``args``, whatever their ``restartPolicy``, and for the containers of a Job's pods): the command runs to its end
  through the built-in command set and shell of ``kubectl exec`` (:mod:`gloo_nb.sandbox.pod_exec`, loaded as a
  package of its own: it needs only the standard library), in the container's environment and mounts, its output
  the container's log and its exit code the container's. ``while true; do date; sleep 5; done`` runs until the
  container is stopped.
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
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

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
# nginx (an emulation: a small subset of its configuration language, served by this module's HTTP/1.1 loop)
# ---------------------------------------------------------------------------------------------------------------

NGINX_IMAGE = "nginx"

# The official image's files the emulation needs (docker-library/nginx: /etc/nginx/nginx.conf includes
# conf.d/*.conf, whose default.conf serves /usr/share/nginx/html on port 80), trimmed to what is modelled.
NGINX_BUILTIN_FILES: dict[str, bytes] = {
    "/etc/nginx/nginx.conf": b"""user  nginx;
worker_processes  auto;
events {
    worker_connections  1024;
}
http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;
    include /etc/nginx/conf.d/*.conf;
}
""",
    "/etc/nginx/conf.d/default.conf": b"""server {
    listen       80;
    listen  [::]:80;
    server_name  localhost;
    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }
    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
""",
    "/etc/nginx/mime.types": b"types {\n    text/html html htm shtml;\n    text/plain txt;\n"
                             b"    application/json json;\n}\n",
    "/usr/share/nginx/html/index.html": b"""<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
""",
    "/usr/share/nginx/html/50x.html": b"""<!DOCTYPE html>
<html>
<head>
<title>Error</title>
</head>
<body>
<h1>An error occurred.</h1>
<p>Sorry, the page you are looking for is currently unavailable.<br/>
Please try again later.</p>
</body>
</html>
""",
}
"""The nginx image's files as the emulation has them (what ``kubectl exec ... cat`` shows in an nginx pod)."""
_NGINX_REDIRECTS = (301, 302, 303, 307, 308)
_NGINX_MIME = {"html": "text/html", "htm": "text/html", "txt": "text/plain", "json": "application/json",
               "css": "text/css", "js": "application/javascript", "png": "image/png"}


class MountTable:
    """The container's view of files: its ``volumeMounts`` (``--mount``) over the emulated image's own files.

    Args:
        mounts: ``(mountPath, host path)`` pairs; the longest matching mount path wins, as in a mount namespace.
        builtin: The image's own files, ``container path -> content``.
    """

    def __init__(self, mounts: list[tuple[str, str]], builtin: dict[str, bytes] | None = None) -> None:
        import posixpath

        self._norm = posixpath.normpath
        self.mounts = sorted(((self._norm(m), h) for m, h in mounts), key=lambda mh: -len(mh[0]))
        self.builtin = dict(builtin or {})

    def host_path(self, path: str) -> str | None:
        """Return where a container path is on this machine, or None when no mount covers it.

        Args:
            path: An absolute container path (``..`` is resolved first, so it cannot leave a mount).

        Returns:
            The host path.
        """
        path = self._norm("/" + path.lstrip("/"))
        for mount, host in self.mounts:
            if path == mount:
                return host
            if path.startswith(mount.rstrip("/") + "/"):
                return os.path.join(host, path[len(mount.rstrip("/")) + 1:])
        return None

    def read(self, path: str) -> bytes:
        """Read a container path: a mounted file, else the image's own file.

        Args:
            path: Absolute container path.

        Returns:
            The content.

        Raises:
            FileNotFoundError: Neither a mount nor the image has it.
        """
        host = self.host_path(path)
        if host is not None:
            with open(host, "rb") as f:
                return f.read()
        norm = self._norm("/" + path.lstrip("/"))
        if norm in self.builtin:
            return self.builtin[norm]
        raise FileNotFoundError(path)

    def glob(self, pattern: str) -> list[str]:
        """Container paths matching a glob (``include conf.d/*.conf``), sorted as nginx's ``ngx_read_glob``.

        Args:
            pattern: Absolute container path pattern.

        Returns:
            The matching container paths.
        """
        import fnmatch
        import glob as globmod

        if not any(ch in pattern for ch in "*?["):
            return [pattern]
        directory = os.path.dirname(pattern)
        host_dir = self.host_path(directory)
        if host_dir is not None:
            found = [os.path.join(directory, os.path.basename(p))
                     for p in globmod.glob(os.path.join(host_dir, os.path.basename(pattern)))]
        else:
            found = [p for p in self.builtin if fnmatch.fnmatch(p, pattern)]
        return sorted(found)


@dataclass(slots=True)
class NginxLocation:
    """One ``location`` block: ``= /x`` (exact) or a prefix; regex locations are not modelled.

    Attributes:
        path: The location's path.
        exact: ``location = path``.
        root: ``root`` in effect.
        index: ``index`` files in effect.
        ret: ``return code [text|URL]`` when set.
        default_type: ``default_type`` in effect.
    """

    path: str
    exact: bool = False
    root: str = "/usr/share/nginx/html"  # nginx's compiled-in prefix is /etc/nginx; the image's pages live here
    index: list[str] = field(default_factory=lambda: ["index.html"])
    ret: tuple[int, str] | None = None
    default_type: str = "text/plain"


@dataclass(slots=True)
class NginxServer:
    """One ``server`` block.

    Attributes:
        listens: ``(port, ssl, default_server)`` for each ``listen``.
        names: ``server_name`` values.
        certificate: ``ssl_certificate`` (container path).
        certificate_key: ``ssl_certificate_key`` (container path).
        locations: The ``location`` blocks, in order.
        root: The server-level ``root``; locations inherit it.
    """

    listens: list[tuple[int, bool, bool]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    certificate: str = ""
    certificate_key: str = ""
    locations: list[NginxLocation] = field(default_factory=list)
    root: str | None = None


def _nginx_tokens(text: str, source: str) -> list[tuple[str, int]]:
    """Split nginx configuration into words, ``{``, ``}`` and ``;`` with their line numbers."""
    tokens: list[tuple[str, int]] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch.isspace():
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in "{};":
            tokens.append((ch, line))
            i += 1
        elif ch in "\"'":
            j = i + 1
            buf = []
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                    buf.append({"n": "\n", "t": "\t", "r": "\r"}.get(text[j], text[j]))
                else:
                    if text[j] == "\n":
                        line += 1
                    buf.append(text[j])
                j += 1
            if j >= n:
                raise WorkloadExit(1, f'nginx: [emerg] unexpected end of file, expecting ";" or "}}" in '
                                      f"{source}:{line}\n")
            tokens.append(("\0" + "".join(buf), line))  # quoted: never a brace
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "{};":
                j += 1
            tokens.append((text[i:j], line))
            i = j
    return tokens


def _nginx_parse(fs: MountTable, path: str, depth: int = 0) -> list[tuple[str, list[str], Any, str, int]]:
    """Parse one configuration file into ``(directive, args, block or None, file, line)``, following includes."""
    try:
        text = fs.read(path).decode("utf-8", "replace")
    except OSError as exc:
        reason = exc.strerror or "No such file or directory"
        raise WorkloadExit(1, f'nginx: [emerg] open() "{path}" failed (2: {reason})\n') from None
    tokens = _nginx_tokens(text, path)
    pos = 0

    def block(top: bool) -> list[tuple[str, list[str], Any, str, int]]:
        nonlocal pos
        out: list[tuple[str, list[str], Any, str, int]] = []
        words: list[str] = []
        start = 0
        while pos < len(tokens):
            tok, line = tokens[pos]
            pos += 1
            if tok == "}":
                if top or words:
                    raise WorkloadExit(1, f'nginx: [emerg] unexpected "}}" in {path}:{line}\n')
                return out
            if tok in (";", "{"):
                if not words:
                    raise WorkloadExit(1, f'nginx: [emerg] unexpected "{tok}" in {path}:{line}\n')
                name, args = words[0].lstrip("\0"), [w.lstrip("\0") for w in words[1:]]
                words = []
                if tok == "{":
                    out.append((name, args, block(False), path, start))
                elif name == "include" and depth < 10:
                    base = "/etc/nginx"
                    for arg in args:
                        pattern = arg if arg.startswith("/") else f"{base}/{arg}"
                        for inc in fs.glob(pattern):
                            out.extend(_nginx_parse(fs, inc, depth + 1))
                else:
                    out.append((name, args, None, path, start))
                continue
            if not words:
                start = line
            words.append(tok)
        if not top or words:
            raise WorkloadExit(1, f'nginx: [emerg] unexpected end of file, expecting "}}" in {path}:'
                                  f"{tokens[-1][1] if tokens else 1}\n")
        return out

    return block(True)


def parse_nginx_config(fs: MountTable, path: str = "/etc/nginx/nginx.conf") -> list[NginxServer]:
    """Read nginx's configuration the way the emulation models it: ``http { server { ... } }`` blocks.

    Modelled directives: ``include`` (globs; relative to ``/etc/nginx``), ``http``, ``server``, ``listen``
    (``[addr:]port [ssl] [default_server]``), ``server_name``, ``ssl_certificate``, ``ssl_certificate_key``,
    ``location`` (prefix and ``=`` exact), ``root``, ``index``, ``return`` (its text expands ``$uri``,
    ``$request_uri``, ``$host``, ``$request_method``, ``$remote_addr``, ``$args``) and ``default_type``. Every other
    directive (``user``, ``events``, ``worker_processes``, ``error_page``, ``ssl_protocols``...) is read and
    ignored: the emulation does not check what nginx would refuse there.

    Args:
        fs: The container's files.
        path: The main configuration file.

    Returns:
        The server blocks.

    Raises:
        WorkloadExit: When nginx would refuse to start (``nginx: [emerg] ...``, exit 1).
    """
    servers: list[NginxServer] = []

    def location_from(args: list[str], body: list[Any], inherited: NginxLocation) -> NginxLocation:
        exact = len(args) == 2 and args[0] == "="
        loc = NginxLocation(path=args[-1], exact=exact, root=inherited.root, index=list(inherited.index),
                            default_type=inherited.default_type)
        apply_common(loc, body)
        return loc

    def apply_common(loc: NginxLocation, body: list[Any]) -> None:
        for name, args, _sub, _src, _line in body:
            if name == "root" and args:
                loc.root = args[0]
            elif name == "index" and args:
                loc.index = list(args)
            elif name == "default_type" and args:
                loc.default_type = args[0]
            elif name == "return" and args:
                if not args[0].isdigit():
                    loc.ret = (302, args[0])
                else:
                    loc.ret = (int(args[0]), args[1] if len(args) > 1 else "")

    def server_from(body: list[Any], http_defaults: NginxLocation) -> NginxServer:
        server = NginxServer()
        base = NginxLocation(path="/", root=http_defaults.root, index=list(http_defaults.index),
                             default_type=http_defaults.default_type)
        apply_common(base, [d for d in body if d[0] in ("root", "index", "default_type")])
        server_return = next((d for d in body if d[0] == "return"), None)
        for name, args, sub, src, line in body:
            if name == "listen" and args:
                addr = args[0]
                port_text = addr.rsplit(":", 1)[-1] if not addr.isdigit() else addr
                if addr.startswith("[") and "]:" not in addr:
                    port_text = "80"
                if not port_text.isdigit():
                    raise WorkloadExit(1, f'nginx: [emerg] invalid port in "{addr}" of the "listen" directive '
                                          f"in {src}:{line}\n")
                server.listens.append((int(port_text), "ssl" in args[1:], "default_server" in args[1:]))
            elif name == "server_name":
                server.names.extend(args)
            elif name == "ssl_certificate" and args:
                server.certificate = args[0]
            elif name == "ssl_certificate_key" and args:
                server.certificate_key = args[0]
            elif name == "location" and sub is not None and args:
                server.locations.append(location_from(args, sub, base))
        if not server.listens:
            server.listens.append((80, False, False))  # ngx_http_core_module: listen *:80 by default (as root)
        if server_return is not None:
            # a server-level return answers before any location is chosen
            ret = NginxLocation(path="/", root=base.root, default_type=base.default_type)
            apply_common(ret, [server_return])
            server.locations.insert(0, ret)
        elif not any(loc.path == "/" and not loc.exact for loc in server.locations):
            server.locations.append(base)  # no location matched: the server's root serves the request
        server.root = base.root
        return server

    top = _nginx_parse(fs, path)
    for name, _args, sub, _src, _line in top:
        if name != "http" or sub is None:
            continue
        http_defaults = NginxLocation(path="/")
        apply_common(http_defaults, [d for d in sub if d[0] in ("root", "index", "default_type")])
        for sname, _sargs, ssub, _ssrc, _sline in sub:
            if sname == "server" and ssub is not None:
                servers.append(server_from(ssub, http_defaults))
    for server in servers:
        if any(ssl for _, ssl, _ in server.listens):
            if not server.certificate:
                port = next(p for p, ssl, _ in server.listens if ssl)
                raise WorkloadExit(1, f'nginx: [emerg] no "ssl_certificate" is defined for the "listen ... ssl" '
                                      f"directive in {path}:{port}\n")
    return servers


def nginx_version(image: str) -> str:
    """The version an nginx image reference names (``nginx:1.27.3`` -> ``1.27.3``), ``""`` when the tag has none.

    Args:
        image: The image reference.

    Returns:
        The version or ``""`` (``stable``, ``latest``, no tag).
    """
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    version = tag.split("-", 1)[0]
    return version if version[:1].isdigit() else ""


def is_nginx(image: str) -> bool:
    """Return whether an image reference is the official nginx image (any registry prefix, tag or digest).

    Args:
        image: The image reference.

    Returns:
        True for ``nginx``, ``nginx:stable``, ``docker.io/library/nginx:1.27``...
    """
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)
    name = last[-1].split(":", 1)[0]
    owner = last[0].rsplit("/", 1)[-1] if len(last) == 2 else ""
    return name == NGINX_IMAGE and owner in ("library", "")


def _nginx_error_page(status: int, server_header: str) -> bytes:
    title = f"{status} {_REASONS.get(status, '')}".strip()
    return (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
            f"<hr><center>{server_header}</center>\r\n</body>\r\n</html>\r\n").encode()


_NGINX_VAR = re.compile(r"\$\{?(uri|request_uri|host|request_method|remote_addr|args)\}?")  # json imports re


def _nginx_vars(text: str, req: Request, path: str) -> str:
    """Expand the few variables the emulation knows in a ``return`` text; others stay as written."""
    if "$" not in text:
        return text
    host = req.header("Host").rsplit(":", 1)[0] if req.header("Host").count(":") == 1 else req.header("Host")
    values = {"uri": path, "request_uri": req.target, "host": host.lower(), "request_method": req.method,
              "remote_addr": req.remote.rsplit(":", 1)[0], "args": req.raw_query}
    return _NGINX_VAR.sub(lambda m: values[m.group(1)], text)


def make_nginx_handler(servers: list[NginxServer], fs: MountTable, server_header: str,
                       out: Callable[[str], None]) -> Callable[[Request, int], Response]:
    """Build the request handler of the nginx emulation.

    The server block is chosen by port and ``Host`` (``server_name``, else the port's ``default_server``,
    else its first server, as ``ngx_http_find_virtual_server`` does for exact names); the location by
    ``=`` exact match first, then the longest prefix. ``return`` answers its code and text (a URL becomes
    ``Location`` for redirects); otherwise the file under ``root`` (``index`` for paths ending in ``/``) is
    served, else nginx's 404 page.

    Args:
        servers: The parsed server blocks.
        fs: The container's files.
        server_header: The ``Server`` header value (``nginx`` or ``nginx/<version>``).
        out: Where the access log lines go (stdout, as the official image links access.log there).

    Returns:
        The handler; its ``port`` argument is the container port the request arrived on.
    """
    def pick_server(port: int, host: str) -> NginxServer | None:
        candidates = [s for s in servers if any(p == port for p, _, _ in s.listens)]
        if not candidates:
            return None
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        for s in candidates:
            if name.lower() in (n.lower() for n in s.names):
                return s
        for s in candidates:
            if any(p == port and d for p, _, d in s.listens):
                return s
        return candidates[0]

    def pick_location(server: NginxServer, path: str) -> NginxLocation | None:
        for loc in server.locations:
            if loc.exact and loc.path == path:
                return loc
        best = None
        for loc in server.locations:
            if not loc.exact and path.startswith(loc.path) and (best is None or len(loc.path) > len(best.path)):
                best = loc
        return best

    def respond(status: int, ctype: str, body: bytes, extra: list[tuple[str, str]] | None = None) -> Response:
        return Response(status, [("Server", server_header), ("Content-Type", ctype), *(extra or [])], body)

    def handle(req: Request, port: int) -> Response:
        resp = route(req, port)
        out(f'{req.remote.rsplit(":", 1)[0]} - - [{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())}] '
            f'"{req.method} {req.target} {req.version}" {resp.status} {len(resp.body)} "-" '
            f'"{req.header("User-Agent", "-")}" "-"\n')
        return resp

    def route(req: Request, port: int) -> Response:
        server = pick_server(port, req.header("Host"))
        path = _clean_path(req.path)
        loc = pick_location(server, path) if server is not None else None
        if loc is None:
            return respond(404, "text/html", _nginx_error_page(404, server_header))
        if loc.ret is not None:
            code, text = loc.ret
            text = _nginx_vars(text, req, path)
            if code in _NGINX_REDIRECTS:
                return respond(code, "text/html", _nginx_error_page(code, server_header), [("Location", text)])
            if not text and code >= 400:
                return respond(code, "text/html", _nginx_error_page(code, server_header))
            return respond(code, loc.default_type, text.encode())
        if req.method not in ("GET", "HEAD"):
            return respond(405, "text/html", _nginx_error_page(405, server_header))
        candidates = [path + i for i in loc.index] if path.endswith("/") else [path]
        for candidate in candidates:
            try:
                body = fs.read(loc.root.rstrip("/") + candidate)
            except OSError:
                continue
            ext = candidate.rsplit(".", 1)[-1] if "." in candidate.rsplit("/", 1)[-1] else ""
            return respond(200, _NGINX_MIME.get(ext, "application/octet-stream"), body)
        return respond(404, "text/html", _nginx_error_page(404, server_header))

    return handle


def make_nginx_plain_on_tls_handler(server_header: str) -> Handler:
    """Build what nginx answers plain HTTP on a ``listen ... ssl`` port.

    400 with "The plain HTTP request was sent to HTTPS port" (ngx_http_request.c ``ngx_http_ssl_handshake``
    sees no TLS record and ends the request with ``NGX_HTTP_TO_HTTPS``, 497, whose page is
    ``ngx_http_error_497_page``), and the connection is closed.

    Args:
        server_header: The ``Server`` header value.

    Returns:
        The handler.
    """
    body = ("<html>\r\n<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>\r\n"
            "<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
            "<center>The plain HTTP request was sent to HTTPS port</center>\r\n"
            f"<hr><center>{server_header}</center>\r\n</body>\r\n</html>\r\n").encode()

    def handle(_req: Request, _port: int) -> Response:
        return Response(400, [("Server", server_header), ("Content-Type", "text/html"), ("Connection", "close")],
                        body)

    return handle


def nginx_tls_contexts(servers: list[NginxServer], fs: MountTable) -> dict[int, Any]:
    """One server-side TLS context per ``listen ... ssl`` port, with SNI choosing among that port's servers.

    Args:
        servers: The parsed server blocks.
        fs: The container's files (certificates and keys are read through the mounts).

    Returns:
        ``port -> ssl.SSLContext``.

    Raises:
        WorkloadExit: A certificate or key cannot be loaded (nginx's ``[emerg] cannot load certificate``).
    """
    import ssl
    import tempfile

    def load(server: NginxServer) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        for what, path in (("certificate", server.certificate), ("certificate key", server.certificate_key
                                                                   or server.certificate)):
            try:
                fs.read(path)
            except OSError:
                raise WorkloadExit(1, f'nginx: [emerg] cannot load {what} "{path}": BIO_new_file() failed '
                                      f"(SSL: error:80000002:system library::No such file or directory)\n") from None
        cert_host = fs.host_path(server.certificate)
        key_host = fs.host_path(server.certificate_key or server.certificate)
        with tempfile.TemporaryDirectory() as tmp:
            # a certificate from the image itself (not a mount) has no host path: copy it out for OpenSSL
            if cert_host is None:
                cert_host = os.path.join(tmp, "cert.pem")
                with open(cert_host, "wb") as f:
                    f.write(fs.read(server.certificate))
            if key_host is None:
                key_host = os.path.join(tmp, "key.pem")
                with open(key_host, "wb") as f:
                    f.write(fs.read(server.certificate_key or server.certificate))
            try:
                ctx.load_cert_chain(cert_host, key_host)
            except (ssl.SSLError, OSError) as exc:
                raise WorkloadExit(1, f'nginx: [emerg] cannot load certificate "{server.certificate}": {exc}\n') \
                    from None
        return ctx

    contexts: dict[int, Any] = {}
    for port in sorted({p for s in servers for p, ssl_on, _ in s.listens if ssl_on}):
        on_port = [s for s in servers if any(p == port and ssl_on for p, ssl_on, _ in s.listens)]
        by_name: dict[str, ssl.SSLContext] = {}
        default = None
        for s in on_port:
            ctx = load(s)
            if default is None or any(p == port and d for p, _, d in s.listens):
                default = ctx
            for name in s.names:
                by_name.setdefault(name.lower(), ctx)

        def pick(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext,
                 by_name: dict[str, ssl.SSLContext] = by_name) -> None:
            chosen = by_name.get((name or "").lower())
            if chosen is not None:
                sock.context = chosen

        assert default is not None
        default.sni_callback = pick
        contexts[port] = default
    return contexts


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


def _serve_tls(conn: socket.socket, tls: Any, handler: Handler, container_port: int,
               plain: Handler | None = None) -> None:
    """The TLS handshake (off the accept loop, bounded in time), then HTTP as on a plain connection.

    ``plain`` answers a client that speaks plain HTTP to the TLS port (its first byte is no TLS record),
    as nginx does; without it such a connection is closed.
    """
    try:
        conn.settimeout(10)
        if plain is not None:
            first = conn.recv(1, socket.MSG_PEEK)
            if first and first[0] not in (0x16, 0x80):  # a TLS handshake record, or an SSLv2-style hello
                conn.settimeout(None)
                serve_connection(conn, plain, container_port)
                return
        wrapped = tls.wrap_socket(conn, server_side=True)
        wrapped.settimeout(None)
    except OSError:
        # a client that gives up or refuses the certificate (an Envoy whose verification fails) closes here
        try:
            conn.close()
        except OSError:
            pass
        return
    serve_connection(wrapped, handler, container_port)


def _accept_loop(sock: socket.socket, handler: Handler, container_port: int, stop: threading.Event,
                 tls: Any = None, plain: Handler | None = None) -> None:
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except OSError:
            if stop.is_set():
                return
            time.sleep(0.01)
            continue
        if tls is not None:
            threading.Thread(target=_serve_tls, args=(conn, tls, handler, container_port, plain),
                             daemon=True).start()
        else:
            threading.Thread(target=serve_connection, args=(conn, handler, container_port), daemon=True).start()


_SHELL_IMAGES = ("busybox", "alpine")


def is_shell_image(image: str) -> bool:
    """Whether an image is one whose containers run a command to its end (``busybox``, ``alpine``, any tag).

    Args:
        image: The container's image, e.g. ``busybox:1.36`` or ``docker.io/library/alpine``.

    Returns:
        True for those images.
    """
    name = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    return name in _SHELL_IMAGES


def run_to_completion(opts: dict) -> int:
    """Run a container's command to its end with the exec command set (``--emulate run``).

    Args:
        opts: The parsed command line: ``args`` is the command, ``mounts`` and ``port_map`` its container.

    Returns:
        The command's exit code.
    """
    import asyncio
    import importlib
    import types
    from pathlib import Path

    # pod_exec and its sibling modules import only the standard library and each other (relatively): load them
    # as a package of their own, so that this process stays free of gloo_nb (and of its package __init__).
    package = types.ModuleType("_sandbox_exec")
    package.__path__ = [str(Path(__file__).resolve().parent)]
    sys.modules["_sandbox_exec"] = package
    try:
        pod_exec = importlib.import_module("_sandbox_exec.pod_exec")
    except ImportError as exc:
        sys.stderr.write(f"workloads: the command set is missing: {exc}\n")
        return 127
    target = pod_exec.ExecTarget(pod=opts["pod"], namespace=opts["namespace"], container=opts["container"],
                                 env=dict(os.environ), mounts=[(m, Path(h)) for m, h in opts["mounts"]],
                                 ports=dict(opts["port_map"]), image=opts["image"])
    if opts["ready_fd"] is not None:
        # the container runs from now on: without probes a running container is ready (prober_manager.go)
        try:
            os.write(opts["ready_fd"], b"1")
            os.close(opts["ready_fd"])
        except OSError:
            pass

    async def out(data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()

    async def err(data: bytes) -> None:
        sys.stderr.buffer.write(data)
        sys.stderr.buffer.flush()

    argv = list(opts["args"]) or ["sh"]
    return int(asyncio.run(pod_exec.run_command(argv, target, pod_exec.ExecIO(out, err))))


def _parse_cli(argv: list[str]) -> dict:
    opts: dict = {"image": "", "emulate": "auto", "pod": "", "namespace": "default", "container": "", "labels": {},
                  "sockets": {}, "port_map": {}, "ports": [], "ready_fd": None, "parent_pid": None, "args": [],
                  "mounts": []}
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
        elif arg == "--mount":
            mount_path, host = json.loads(value)
            opts["mounts"].append((str(mount_path), str(host)))
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

    if opts["emulate"] == "run":
        signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
        return run_to_completion(opts)
    listen_ports: list[int]
    tls: dict[int, Any] = {}
    plain_on_tls: Handler | None = None
    echo = is_http_echo(image) and opts["emulate"] != "generic"
    if is_nginx(image) and opts["emulate"] != "generic":
        fs = MountTable(list(opts["mounts"]), NGINX_BUILTIN_FILES)
        try:
            servers = parse_nginx_config(fs)
            tls = nginx_tls_contexts(servers, fs)
        except WorkloadExit as exc:
            sys.stdout.write(exc.stdout)
            sys.stderr.write(exc.stderr)
            return exc.code
        version = nginx_version(image)
        server_header = f"nginx/{version}" if version else "nginx"
        handler = make_nginx_handler(servers, fs, server_header, out)
        plain_on_tls = make_nginx_plain_on_tls_handler(server_header)
        wanted = sorted({p for srv in servers for p, _, _ in srv.listens})
        reachable = set(sockets) | set(port_map)
        listen_ports = [p for p in wanted if p in reachable]
        for p in wanted:
            if p not in reachable:
                # the kubelet gives every listen a socket unless an earlier container of the pod holds the port
                sys.stderr.write(f"sandbox nginx emulation: listen {p}: the port is another container's in this "
                                 "pod, so it is not served\n")
        banner = (f"sandbox nginx emulation ({image}): serving ports {listen_ports}"
                  f"{' (TLS on ' + str(sorted(tls)) + ')' if tls else ''}\n")
    elif echo:
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
        threading.Thread(target=_accept_loop, args=(sock, handler, port, stop, tls.get(port), plain_on_tls),
                         daemon=True).start()
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
