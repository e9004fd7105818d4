"""What ``kubectl exec`` runs in a sandbox pod: a small toolbox of commands, in the container's emulated environment.

The sandbox's images are emulations (:mod:`~gloo_nb.sandbox.workloads`), not filesystems with binaries, and the
sandbox has no container runtime to isolate a process: running the machine's own programs would run them with the
sandbox's rights and the host's files, which is not what ``exec`` into a container means. So exec runs, in the API
server's process, only these commands, written after the busybox applets a troubleshooting recipe uses:

``cat [FILE...]`` (stdin without files), ``date``, ``echo``, ``env``, ``printenv [NAME...]``, ``hostname``, ``pwd``,
``ls [PATH...]``, ``true``, ``false``, ``sleep SECONDS``, ``wget [-q] [-O -] URL`` and ``curl [-s] [-f] [-i]
[-X M] [-H H] [-d D] [-o -] URL``, plus ``sh -c 'ONE COMMAND'`` and ``sh`` reading commands from stdin, one a
line (each one simple command, ``exit N``, or a command ending in ``>&2``: no pipes, lists, other redirections or
substitutions, since there is no shell; ``$NAME`` expands).

What the command sees is the container as the sandbox gives it: its environment (``PATH``, ``HOSTNAME`` and the
container's ``env``, as the pod's process gets them), its ``workingDir`` (``/`` by default), its volume mounts
(a container path under a ``mountPath`` reads the mounted Secret, ConfigMap or emptyDir; nothing else exists) and
its network: ``localhost``, ``127.0.0.1`` and the pod IP reach the pod's own container ports, mapped to the host
ports the kubelet bound (the ``sandbox.gloo-nb.io/ports`` annotation). So in a ``gateway-proxy`` pod,
``localhost:19000`` is that replica's Envoy admin port, and Gloo's recipe
``kubectl exec -n gloo-system deploy/gateway-proxy -- wget -O - localhost:19000/config_dump`` prints its config dump.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import posixpath
import re
import shlex
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["COMMANDS", "ExecIO", "ExecTarget", "run_command"]

_LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")
_HTTP_TIMEOUT = 30.0


@dataclass(slots=True)
class ExecTarget:
    """The container an exec runs in, as the sandbox emulates it.

    Attributes:
        pod: The pod's name (the container's hostname).
        namespace: The pod's namespace.
        container: The container's name.
        env: The container's environment, as its process gets it.
        workdir: The container's working directory (``workingDir``, else ``/``).
        mounts: ``(mountPath, host directory)`` pairs of its volume mounts.
        ports: ``containerPort -> host port``: what ``localhost:PORT`` reaches inside the pod.
        pod_ip: The pod's IP (also reaches the pod's ports).
    """

    pod: str
    namespace: str
    container: str
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    mounts: list[tuple[str, Path]] = field(default_factory=list)
    ports: dict[int, int] = field(default_factory=dict)
    pod_ip: str = "127.0.0.1"

    def host_path(self, path: str) -> Path | None:
        """Where a container path lives on the host: under the longest mount path that holds it, else nowhere.

        Args:
            path: The path as the command got it (relative to :attr:`workdir`).

        Returns:
            The host path, or None when no mount holds it (the emulated image has no other files).
        """
        full = posixpath.normpath(posixpath.join(self.workdir, path))
        for mount, host in sorted(self.mounts, key=lambda mh: -len(mh[0])):
            if full == mount or full.startswith(mount.rstrip("/") + "/"):
                rest = full[len(mount):].lstrip("/")
                target = (host / rest) if rest else host
                # ``..`` was normalised away above; a symlink in a volume (ConfigMaps use them) stays inside it.
                return target
        return None


class ExecIO:
    """The exec's standard streams: stdin as a queue of chunks (None is EOF), stdout and stderr as writers.

    Args:
        stdout: Writes bytes to the client's stdout channel.
        stderr: Writes bytes to the client's stderr channel.
        stdin: Chunks from the client's stdin channel, None at its end; None when the exec has no stdin.
    """

    def __init__(self, stdout: Callable[[bytes], Awaitable[None]], stderr: Callable[[bytes], Awaitable[None]],
                 stdin: asyncio.Queue[bytes | None] | None = None) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.stdin = stdin

    async def read_stdin(self) -> bytes | None:
        """Return the next chunk of stdin, or None at its end (or when the exec has none)."""
        if self.stdin is None:
            return None
        return await self.stdin.get()

    async def say(self, text: str) -> None:
        """Write text to stderr."""
        await self.stderr(text.encode())


Command = Callable[[list[str], ExecTarget, ExecIO], Awaitable[int]]


def _not_found(name: str) -> str:
    # runc's message when the binary is not in the image (libcontainer/standard_init_linux.go, via containerd's
    # "OCI runtime exec failed"); kubectl shows it and `command terminated with exit code 126`.
    return (f'OCI runtime exec failed: exec failed: unable to start container process: exec: "{name}": '
            "executable file not found in $PATH: unknown\n")


async def run_command(argv: list[str], target: ExecTarget, io: ExecIO) -> int:
    """Run one exec command in the target container.

    Args:
        argv: The command and its arguments (``command=`` query parameters, in order).
        target: The container.
        io: Its streams.

    Returns:
        The exit code.
    """
    name = posixpath.basename(argv[0]) if argv else ""
    command = COMMANDS.get(name)
    if command is None:
        await io.say(_not_found(argv[0] if argv else ""))
        await io.say("(the sandbox's emulated images run only these commands: " + ", ".join(sorted(COMMANDS))
                     + ")\n")
        return 126
    return await command(argv[1:], target, io)


# --- the commands --------------------------------------------------------------------------------------


async def _true(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    return 0


async def _false(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    return 1


async def _echo(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    await io.stdout((" ".join(args) + ("\n" if newline else "")).encode())
    return 0


async def _env(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    if args:
        await io.say("env: running a command is not supported in the sandbox\n")
        return 125
    await io.stdout("".join(f"{k}={v}\n" for k, v in target.env.items()).encode())
    return 0


async def _printenv(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    if not args:
        return await _env(args, target, io)
    code = 0
    for name in args:
        if name in target.env:
            await io.stdout((target.env[name] + "\n").encode())
        else:
            code = 1  # busybox/coreutils printenv: 1 when a variable is not set
    return code


async def _date(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    # busybox/coreutils `date` default format in UTC (the sandbox's containers have no TZ data)
    now = time.gmtime()
    await io.stdout((time.strftime("%a %b ", now) + f"{now.tm_mday:2d}" + time.strftime(" %H:%M:%S UTC %Y\n", now))
                    .encode())
    return 0


async def _hostname(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    await io.stdout((target.pod + "\n").encode())
    return 0


async def _pwd(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    await io.stdout((target.workdir + "\n").encode())
    return 0


async def _sleep(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    try:
        seconds = float(args[0].rstrip("s")) if args else -1.0
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        await io.say(f"sleep: invalid number '{args[0] if args else ''}'\n")
        return 1
    await asyncio.sleep(seconds)
    return 0


async def _cat(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    if not args or args == ["-"]:
        while (chunk := await io.read_stdin()) is not None:
            await io.stdout(chunk)
        return 0
    code = 0
    for arg in args:
        host = target.host_path(arg)
        try:
            if host is None:
                raise FileNotFoundError
            data = await asyncio.to_thread(host.read_bytes)
        except IsADirectoryError:
            await io.say("cat: read error: Is a directory\n")
            code = 1
            continue
        except OSError:
            await io.say(f"cat: can't open '{arg}': No such file or directory\n")
            code = 1
            continue
        await io.stdout(data)
    return code


async def _ls(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    paths = [a for a in args if not a.startswith("-")] or ["."]
    code = 0
    for arg in paths:
        full = posixpath.normpath(posixpath.join(target.workdir, arg))
        host = target.host_path(arg)
        names: list[str] = []
        if host is not None and host.is_dir():
            names = sorted(n for n in os.listdir(host) if not n.startswith("."))
        elif host is not None and host.exists():
            names = [arg]
        else:
            # A directory above mount points holds them (the image itself has no files the sandbox knows).
            prefix = full.rstrip("/") + "/"
            names = sorted({m[len(prefix):].split("/")[0] for m, _ in target.mounts if m.startswith(prefix)})
            if not names:
                await io.say(f"ls: {arg}: No such file or directory\n")
                code = 1
                continue
        if len(paths) > 1:
            await io.stdout(f"{arg}:\n".encode())
        await io.stdout("".join(n + "\n" for n in names).encode())
    return code


async def _sh(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    if not args:
        return await _sh_stdin(target, io)
    if len(args) < 2 or args[0] != "-c":
        await io.say("sh: the sandbox's shell runs `sh -c 'SCRIPT'` and `sh` reading a script a line from stdin\n")
        return 2
    code, _ = await _sh_line(args[1], target, io, {})
    return code


async def _sh_stdin(target: ExecTarget, io: ExecIO) -> int:
    # `sh` with commands on stdin, one line at a time (the Python client's e2e test_pod_apis drives one so).
    pending, code = b"", 0
    variables: dict[str, str] = {}
    while True:
        chunk = await io.read_stdin()
        if chunk is not None:
            pending += chunk
        *lines, pending = pending.split(b"\n") if chunk is not None else [*pending.split(b"\n"), b""]
        for line in lines:
            code, exited = await _sh_line(line.decode(errors="replace"), target, io, variables)
            if exited:
                return code
        if chunk is None:
            return code


def _split_list(script: str) -> list[tuple[str, str]] | None:
    """A script's commands with the operator before each (``""``, ``;``, ``&&`` or ``||``), split outside quotes.

    None when it holds what the sandbox's shell does not run: a pipe, a background ``&``, input redirection, backquotes.
    """
    out: list[tuple[str, str]] = []
    current, op, quote, i = "", "", "", 0
    while i < len(script):
        ch = script[i]
        if quote:
            current += ch
            if ch == quote:
                quote = ""
            elif ch == "\\" and quote == '"' and i + 1 < len(script):
                current += script[i + 1]
                i += 1
        elif ch in "'\"":
            quote, current = ch, current + ch
        elif script.startswith(("&&", "||"), i):
            out.append((current.strip(), op))
            current, op = "", script[i:i + 2]
            i += 1
        elif ch in ";\n":
            out.append((current.strip(), op))
            current, op = "", ";"
        elif ch == "&" and script[i - 1:i] != ">" or ch in "|<`":
            return None
        else:
            current += ch
        i += 1
    out.append((current.strip(), op))
    return [(text, o) for text, o in out if text]


async def _sh_line(script: str, target: ExecTarget, io: ExecIO, variables: dict[str, str]) -> tuple[int, bool]:
    """Run a script: simple commands joined by ``;``, ``&&``, ``||``, and ``for NAME in WORDS; do ...; done``.

    Words take ``$VAR`` and ``$(COMMAND)``. Returns ``(exit code, whether ``exit`` ended the shell)``.
    """
    commands = _split_list(script)
    if commands is None:
        await io.say("sh: the sandbox's shell does not run pipes, background jobs, input redirection or backquotes\n")
        return 2, False
    return await _run_list(commands, target, io, variables)


async def _run_list(commands: list[tuple[str, str]], target: ExecTarget, io: ExecIO,
                    variables: dict[str, str]) -> tuple[int, bool]:
    code, i = 0, 0
    while i < len(commands):
        text, op = commands[i]
        end = _block_end(commands, i) if text.startswith("for ") else i
        if end < 0:
            await io.say("sh: syntax error: `for` without `do ...; done`\n")
            return 2, False
        if (op == "&&" and code != 0) or (op == "||" and code == 0):
            i = end + 1
            continue  # the and-or list skips it, keeping the last status
        if text.startswith("for "):
            code, exited = await _run_for(commands[i:end + 1], target, io, variables)
        else:
            code, exited = await _simple(text, target, io, variables)
        if exited:
            return code, True
        i = end + 1
    return code, False


def _block_end(commands: list[tuple[str, str]], start: int) -> int:
    depth = 0
    for j in range(start, len(commands)):
        text = commands[j][0]
        if text.removeprefix("do").lstrip().startswith("for "):
            depth += 1
        elif text == "done":
            depth -= 1
            if depth == 0:
                return j
    return -1


async def _run_for(block: list[tuple[str, str]], target: ExecTarget, io: ExecIO,
                   variables: dict[str, str]) -> tuple[int, bool]:
    head = block[0][0].split(None, 3)
    body = block[1:-1]
    if len(head) < 3 or head[2] != "in" or not body or not (body[0][0] == "do" or body[0][0].startswith("do ")):
        await io.say("sh: syntax error: expected `for NAME in WORDS; do ...; done`\n")
        return 2, False
    words_text = await _substitute(head[3] if len(head) > 3 else "", target, io, variables)
    try:
        words = [_expand_vars(w, {**target.env, **variables}) for w in shlex.split(words_text)]
    except ValueError as exc:
        await io.say(f"sh: syntax error: {exc}\n")
        return 2, False
    first = body[0][0][2:].strip()
    commands = ([(first, "")] if first else []) + [(t, o if k or first else "") for k, (t, o) in enumerate(body[1:])]
    code = 0
    for word in words:
        variables[head[1]] = word
        code, exited = await _run_list(commands, target, io, variables)
        if exited:
            return code, True
    return code, False


async def _substitute(text: str, target: ExecTarget, io: ExecIO, variables: dict[str, str]) -> str:
    # $(COMMAND): the command's stdout, trailing newlines removed (innermost first).
    while (m := re.search(r"\$\(([^()]*)\)", text)) is not None:
        captured = bytearray()

        async def keep(data: bytes, into: bytearray = captured) -> None:
            into.extend(data)

        await _sh_line(m.group(1), target, ExecIO(keep, io.stderr, io.stdin), dict(variables))
        text = text[:m.start()] + captured.decode(errors="replace").rstrip("\n") + text[m.end():]
    return text


async def _simple(script: str, target: ExecTarget, io: ExecIO, variables: dict[str, str]) -> tuple[int, bool]:
    """One simple command: words, ``$VAR``, ``$(COMMAND)``, ``exit N``, and ``>&2`` at its end."""
    for suffix in ("1>&2", ">&2"):
        if script.endswith(suffix):
            # the one output redirection modelled: stdout to stderr (`echo text >&2`)
            script, io = script[: -len(suffix)].rstrip(), ExecIO(io.stderr, io.stderr, io.stdin)
            break
    if ">" in script:
        await io.say("sh: the sandbox's shell does not redirect output to files\n")
        return 2, False
    script = await _substitute(script, target, io, variables)
    try:
        words = shlex.split(script)
    except ValueError as exc:
        await io.say(f"sh: syntax error: {exc}\n")
        return 2, False
    words = [_expand_vars(w, {**target.env, **variables}) for w in words]
    if not words:
        return 0, False
    if "=" in words[0] and len(words) == 1 and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        name, _, value = words[0].partition("=")
        variables[name] = value
        return 0, False
    if words[0] == "exit":
        try:
            return (int(words[1]) & 0xFF if len(words) > 1 else 0), True
        except ValueError:
            await io.say(f"sh: exit: Illegal number: {words[1]}\n")
            return 2, True
    return await run_command(words, target, io), False


async def _seq(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    try:
        numbers = [int(a) for a in args]
    except ValueError:
        await io.say(f"seq: invalid number: {args}\n")
        return 1
    if not 1 <= len(numbers) <= 3:
        await io.say("seq: usage: seq [FIRST [INCREMENT]] LAST\n")
        return 1
    first, step, last = (1, 1, numbers[0]) if len(numbers) == 1 else (numbers[0], 1, numbers[1]) \
        if len(numbers) == 2 else (numbers[0], numbers[1], numbers[2])
    if step == 0:
        await io.say("seq: invalid zero increment\n")
        return 1
    values = range(first, last + (1 if step > 0 else -1), step)
    await io.stdout("".join(f"{v}\n" for v in values[:100_000]).encode())
    return 0


def _expand_vars(word: str, env: dict[str, str]) -> str:
    # ``$NAME`` and ``${NAME}`` only, as a shell expands them in a simple command.
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)",
                  lambda m: env.get(m.group(1) or m.group(2), ""), word)


# --- wget and curl ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _HttpCall:
    url: str
    method: str = "GET"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None


def _resolve(target: ExecTarget, url: str) -> tuple[str, int, str, str]:
    """``(host as asked, container port, path, Host header)`` of a URL; only the pod's own addresses resolve."""
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        raise ValueError(f"the sandbox's exec speaks plain http only, not {parts.scheme}")
    host = parts.hostname or ""
    port = parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return host, port, path, parts.netloc


def _fetch(target: ExecTarget, call: _HttpCall) -> tuple[int, str, list[tuple[str, str]], bytes]:
    host, port, path, netloc = _resolve(target, call.url)
    if host not in (*_LOOPBACK, target.pod_ip, target.pod):
        raise LookupError(host)
    host_port = target.ports.get(port)
    if host_port is None:
        # Nothing of the pod listens there: what the kernel answers inside a pod.
        raise ConnectionRefusedError(f"nothing listens on port {port} in the pod")
    conn = http.client.HTTPConnection("127.0.0.1", host_port, timeout=_HTTP_TIMEOUT)
    try:
        # The Host header names the address the command used (``localhost:19000``), as inside the pod.
        conn.putrequest(call.method, path, skip_host=True, skip_accept_encoding=True)
        names = {n.lower() for n, _ in call.headers}
        if "host" not in names:
            conn.putheader("Host", netloc)
        if "user-agent" not in names:
            conn.putheader("User-Agent", "Wget" if call.method == "GET" and not call.headers else "curl/8.5.0")
        if "accept" not in names:
            conn.putheader("Accept", "*/*")
        for n, v in call.headers:
            conn.putheader(n, v)
        if call.body is not None:
            conn.putheader("Content-Length", str(len(call.body)))
        conn.endheaders(call.body)
        resp = conn.getresponse()
        return resp.status, resp.reason, resp.getheaders(), resp.read()
    finally:
        conn.close()


async def _wget(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    quiet, out, urls = False, None, []
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-q", "--quiet"):
            quiet = True
        elif a in ("-qO-", "-qO", "-Oq"):
            quiet, out = True, "-" if a == "-qO-" else None
            if a != "-qO-":
                i += 1
                out = args[i] if i < len(args) else None
        elif a.startswith("-O"):
            if a == "-O":
                i += 1
                out = args[i] if i < len(args) else None
            else:
                out = a[2:]
        elif a.startswith("--output-document="):
            out = a.split("=", 1)[1]
        elif a.startswith("-"):
            pass  # -T, --timeout, -S...: accepted, not modelled
        else:
            urls.append(a)
        i += 1
    if not urls:
        await io.say("wget: missing URL\n")
        return 1
    if out != "-":
        # busybox would save a file in the container; the emulated container has no writable filesystem
        await io.say("wget: the sandbox's exec writes downloads to stdout only: use -O - (or -qO-)\n")
        return 1
    code = 0
    for url in urls:
        try:
            host, port, _, _ = _resolve(target, url)
        except ValueError as exc:
            await io.say(f"wget: {exc}\n")
            code = 1
            continue
        if not quiet:
            await io.say(f"Connecting to {host}:{port} ({target.pod_ip}:{port})\n")
        try:
            status, reason, _, body = await asyncio.to_thread(_fetch, target, _HttpCall(url))
        except LookupError:
            await io.say(f"wget: bad address '{host}:{port}'\n")
            code = 1
            continue
        except OSError:
            await io.say(f"wget: can't connect to remote host ({target.pod_ip}): Connection refused\n")
            code = 1
            continue
        if status >= 400:
            await io.say(f"wget: server returned error: HTTP/1.1 {status} {reason}\n")
            code = 1
            continue
        if not quiet:
            await io.say("writing to stdout\n")
        await io.stdout(body)
        if not quiet:
            await io.say("written to stdout\n")
    return code


async def _curl(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    silent = fail = include = show_error = False
    call = _HttpCall("")
    urls: list[str] = []
    i = 0
    takes_value = {"-X", "--request", "-H", "--header", "-d", "--data", "--data-raw", "--data-binary", "-o",
                   "--output", "-m", "--max-time", "--connect-timeout", "-A", "--user-agent"}
    while i < len(args):
        a = args[i]
        value = args[i + 1] if a in takes_value and i + 1 < len(args) else None
        if a in takes_value:
            i += 1
        if a in ("-X", "--request"):
            call.method = value or "GET"
        elif a in ("-H", "--header") and value and ":" in value:
            n, v = value.split(":", 1)
            call.headers.append((n.strip(), v.strip()))
        elif a in ("-d", "--data", "--data-raw", "--data-binary"):
            call.body = (value or "").encode()
            if call.method == "GET":
                call.method = "POST"
        elif a in ("-A", "--user-agent"):
            call.headers.append(("User-Agent", value or ""))
        elif a in ("-o", "--output"):
            if value != "-":
                await io.say("curl: the sandbox's exec writes to stdout only (-o -)\n")
                return 23
        elif a.startswith("-") and not a.startswith("--") and len(a) > 1:
            flags = set(a[1:])
            silent |= "s" in flags
            fail |= "f" in flags
            include |= "i" in flags
            show_error |= "S" in flags
        elif a in ("--silent",):
            silent = True
        elif a in ("--fail",):
            fail = True
        elif a in ("--include",):
            include = True
        elif not a.startswith("-"):
            urls.append(a)
        i += 1
    if not urls:
        await io.say("curl: no URL specified!\n")
        return 2
    loud = not silent or show_error
    code = 0
    for url in urls:
        call.url = url
        try:
            host, port, _, _ = _resolve(target, url)
        except ValueError as exc:
            await io.say(f"curl: (1) {exc}\n")
            code = 1
            continue
        try:
            status, reason, headers, body = await asyncio.to_thread(_fetch, target, call)
        except LookupError:
            if loud:
                await io.say(f"curl: (6) Could not resolve host: {host}\n")
            code = 6
            continue
        except OSError:
            if loud:
                await io.say(f"curl: (7) Failed to connect to {host} port {port} after 0 ms: "
                             "Couldn't connect to server\n")
            code = 7
            continue
        if fail and status >= 400:
            if loud:
                await io.say(f"curl: (22) The requested URL returned error: {status}\n")
            code = 22
            continue
        if include:
            head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
            await io.stdout(head.encode())
        await io.stdout(body)
    return code


COMMANDS: dict[str, Command] = {
    "cat": _cat, "curl": _curl, "date": _date, "echo": _echo, "env": _env, "false": _false, "hostname": _hostname,
    "ls": _ls, "printenv": _printenv, "pwd": _pwd, "seq": _seq, "sh": _sh, "sleep": _sleep, "true": _true,
    "wget": _wget,
}
"""The commands exec runs, by the base name of ``argv[0]`` (``/bin/cat`` is ``cat``)."""
