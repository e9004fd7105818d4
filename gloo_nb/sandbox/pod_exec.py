"""What ``kubectl exec`` runs in a sandbox pod: a small toolbox of commands, in the container's emulated environment.

The sandbox's images are emulations (:mod:`~gloo_nb.sandbox.workloads`), not filesystems with binaries, and the
sandbox has no container runtime to isolate a process: running the machine's own programs would run them with the
sandbox's rights and the host's files, which is not what ``exec`` into a container means. So exec runs, in the API
server's process, only these commands, written after the busybox applets a troubleshooting recipe uses:

``cat [FILE...]`` (stdin without files), ``date``, ``echo``, ``env``, ``printenv [NAME...]``, ``hostname``, ``pwd``,
``ls [-aAl] [PATH...]``, ``true``, ``false``, ``sleep SECONDS``, ``seq``, ``wget [-q] [-O -] URL`` and ``curl [-s]
[-f] [-i] [-X M] [-H H] [-d D] [-o -] URL``; the text, archive and system applets of
:mod:`~gloo_nb.sandbox.pod_exec_tools` (``gzip``, ``head``, ``grep``, ``sort``, ``uptime``, ``uname``, ``test``...);
and ``sh`` (``sh -c SCRIPT``, ``sh FILE``, or a script read from stdin a complete command at a time), the POSIX
shell subset of :mod:`~gloo_nb.sandbox.pod_exec_shell`: pipelines, lists, ``if``/``while``/``until``/``for``/
``case``, groups, expansions and the redirections to stderr, ``/dev/null`` and from files.

What the command sees is the container as the sandbox gives it: its environment (``PATH``, ``HOSTNAME`` and the
container's ``env``, as the pod's process gets them), its ``workingDir`` (``/`` by default), its volume mounts
(a container path under a ``mountPath`` reads the mounted Secret, ConfigMap or emptyDir), the files of
:mod:`~gloo_nb.sandbox.pod_image_fs` (the image's top-level directories, ``/etc/hosts``, ``/etc/resolv.conf``...;
nothing else exists) and its network: ``localhost``, ``127.0.0.1`` and the pod IP reach the pod's own container
ports, mapped to the host ports the kubelet bound (the ``sandbox.gloo-nb.io/ports`` annotation). So in a
``gateway-proxy`` pod, ``localhost:19000`` is that replica's Envoy admin port, and Gloo's recipe
``kubectl exec -n gloo-system deploy/gateway-proxy -- wget -O - localhost:19000/config_dump`` prints its config dump.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import posixpath
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

# Relative imports: inside a pod's process (workloads.py) these modules form a package of their own, without
# gloo_nb's (see workloads.run_to_completion); they import only the standard library.
from . import pod_exec_shell, pod_exec_tools, pod_image_fs

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
        image: The container's image: which root directories and files it has
            (:mod:`~gloo_nb.sandbox.pod_image_fs`).
        started: When the container started (seconds since the epoch): ``uptime``, ``/proc/uptime``.
        host_aliases: The pod's ``hostAliases`` as ``(ip, hostnames)`` pairs (``/etc/hosts``).
        hostname: The pod's ``spec.hostname`` when it sets one (an Indexed Job's pods do); else the pod's name.
        subdomain: The pod's ``spec.subdomain``: its ``/etc/hosts`` line is then the FQDN
            ``HOSTNAME.SUBDOMAIN.NAMESPACE.svc.cluster.local`` (pkg/kubelet/kubelet_pods.go
            GeneratePodHostNameAndDomain).
    """

    pod: str
    namespace: str
    container: str
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    mounts: list[tuple[str, Path]] = field(default_factory=list)
    ports: dict[int, int] = field(default_factory=dict)
    pod_ip: str = "127.0.0.1"
    image: str = ""
    started: float = field(default_factory=time.time)
    host_aliases: list[tuple[str, list[str]]] = field(default_factory=list)
    hostname: str = ""
    subdomain: str = ""

    @property
    def host_name(self) -> str:
        """The container's hostname: ``spec.hostname``, else the pod's name (truncated to 63 as the kubelet does)."""
        return (self.hostname or self.pod)[:63]

    def full_path(self, path: str) -> str:
        """A path as the container resolves it: absolute, normalised, relative ones from :attr:`workdir`.

        Args:
            path: The path as a command got it.

        Returns:
            The absolute path.
        """
        full = posixpath.normpath(posixpath.join(self.workdir, path))
        return "/" + full.lstrip("/")  # normpath keeps a leading "//"

    def image_files(self) -> dict[str, bytes]:
        """The files the container has besides its volumes (:func:`~gloo_nb.sandbox.pod_image_fs.image_files`).

        Returns:
            Container path -> content.
        """
        domain = f"{self.subdomain}.{self.namespace}.svc.cluster.local" if self.subdomain else ""
        return pod_image_fs.image_files(self.image, self.host_name, self.namespace, self.pod_ip, self.started,
                                        self.host_aliases, domain)

    def read(self, path: str) -> bytes:
        """Read a file of the container: a mounted volume's, else one the image has.

        Args:
            path: The path (relative to :attr:`workdir`).

        Returns:
            Its content.

        Raises:
            FileNotFoundError: The container has no such file.
            IsADirectoryError: It is a directory.
        """
        host = self.host_path(path)
        if host is not None:
            return host.read_bytes()
        full = self.full_path(path)
        files = self.image_files()
        if full in files:
            return files[full]
        if self.is_dir(full):
            raise IsADirectoryError(full)
        raise FileNotFoundError(full)

    def listdir(self, path: str) -> dict[str, bool] | None:
        """A directory's entries (name -> whether a directory), or None when the path is no directory.

        Args:
            path: The path (relative to :attr:`workdir`).

        Returns:
            The entries: the mounted volume's files, else the image's entries with the mount points under it.
        """
        host = self.host_path(path)
        if host is not None:
            if not host.is_dir():
                return None
            return {n: (host / n).is_dir() for n in os.listdir(host)}
        full = self.full_path(path)
        prefix = full.rstrip("/") + "/"
        entries: dict[str, bool] = {}
        if full == "/":
            entries.update(pod_image_fs.root_dirs(self.image))
        for name in self.image_files():
            if name.startswith(prefix):
                rest = name[len(prefix):].split("/")
                entries[rest[0]] = entries.get(rest[0], False) or len(rest) > 1
        for mount, _ in self.mounts:
            if mount.startswith(prefix):
                entries[mount[len(prefix):].split("/")[0]] = True
        if not entries and not (full == "/" or full.count("/") == 1
                                and pod_image_fs.root_dirs(self.image).get(full[1:]) is True):
            return None
        return entries

    def is_dir(self, path: str) -> bool:
        """Whether the container has this directory.

        Args:
            path: The path.

        Returns:
            True for a directory.
        """
        return self.listdir(path) is not None

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


class _Stdin:
    """A stdin shared by the commands of one shell: the chunks' queue, a partly read chunk, and EOF once seen."""

    def __init__(self, queue: asyncio.Queue[bytes | None] | None) -> None:
        self.queue = queue
        self.pending = b""
        self.eof = queue is None

    async def read(self) -> bytes | None:
        if self.pending:
            pending, self.pending = self.pending, b""
            return pending
        if self.eof or self.queue is None:
            return None
        chunk = await self.queue.get()
        if chunk is None:
            self.eof = True
        return chunk


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
        self._in = _Stdin(stdin)

    def derive(self, stdout: Callable[[bytes], Awaitable[None]] | None = None,
               stderr: Callable[[bytes], Awaitable[None]] | None = None,
               stdin: asyncio.Queue[bytes | None] | None = None, keep_stdin: bool = True) -> ExecIO:
        """Streams for a command inside this one (a shell's redirection or pipeline stage).

        Args:
            stdout: Its stdout; this one's when None.
            stderr: Its stderr; this one's when None.
            stdin: A stdin of its own (a pipe); when None, this one's is shared (``keep_stdin``) or it has none.
            keep_stdin: Share this stdin, with what was already read of it, when ``stdin`` is None.

        Returns:
            The streams.
        """
        io = ExecIO(stdout or self.stdout, stderr or self.stderr, stdin)
        if stdin is None and keep_stdin:
            io.stdin, io._in = self.stdin, self._in
        return io

    async def read_stdin(self) -> bytes | None:
        """Return the next chunk of stdin, or None at its end (or when the exec has none)."""
        return await self._in.read()

    async def read_all(self) -> bytes:
        """Return the rest of stdin, up to its end."""
        chunks = []
        while (chunk := await self.read_stdin()) is not None:
            chunks.append(chunk)
        return b"".join(chunks)

    async def read_line(self) -> tuple[bytes, bool]:
        """Return the next line of stdin (with its newline) and whether stdin ended; a shell's ``read``.

        Returns:
            ``(line, at_eof)``: the line is what was left without a newline at EOF.
        """
        buf = b""
        while True:
            chunk = await self.read_stdin()
            if chunk is None:
                return buf, True
            buf += chunk
            nl = buf.find(b"\n")
            if nl >= 0:
                self._in.pending = buf[nl + 1:] + self._in.pending
                return buf[:nl + 1], False

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
    # busybox echo (coreutils/echo.c): leading -n, -e, -E (and their combinations) are options; -e interprets
    # backslash escapes, \c ending the output.
    newline, escapes = True, False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        for flag in args[0][1:]:
            if flag == "n":
                newline = False
            else:
                escapes = flag == "e"
        args = args[1:]
    text = " ".join(args)
    if escapes:
        text, stop = pod_exec_tools.printf_escape(text, stop_at_c=True)
        newline = newline and not stop
    await io.stdout((text + ("\n" if newline else "")).encode(errors="replace"))
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
    await io.stdout((target.host_name + "\n").encode())
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
    files = [a for a in args if a == "-" or not a.startswith("-")]  # -n, -v...: accepted, not modelled
    if not files:
        files = ["-"]
    code = 0
    for arg in files:
        if arg == "-":
            # stdin until it ends (v5's close of channel 0: test_pod_exec_close_channel)
            while (chunk := await io.read_stdin()) is not None:
                await io.stdout(chunk)
            continue
        try:
            data = await asyncio.to_thread(target.read, arg)
        except IsADirectoryError:
            # busybox cat: bb_copyfd_eof fails with EISDIR (coreutils/cat.c -> libbb/copyfd.c "read error")
            await io.say("cat: read error: Is a directory\n")
            code = 1
            continue
        except OSError:
            # libbb/wfopen_input.c: bb_perror_msg("can't open '%s'")
            await io.say(f"cat: can't open '{arg}': No such file or directory\n")
            code = 1
            continue
        await io.stdout(data)
    return code


_LS_TIME = time.strftime("%b %e %H:%M", time.gmtime())


async def _ls(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    # busybox ls (coreutils/ls.c): one name a line when stdout is no terminal; -a adds . and .. and dot files,
    # -A dot files, -l the long format of display_single ("%-10s %4lu %-8s %-8s %9llu %.12s NAME").
    flags = set("".join(a[1:] for a in args if a.startswith("-") and a != "-"))
    bad = flags - set("1aAlCxdinshFpertSR")
    if bad:
        await io.say(_busybox_bad_option("ls", sorted(bad)[0]))
        return 1
    paths = [a for a in args if not a.startswith("-") or a == "-"] or ["."]
    long = "l" in flags
    code = 0
    # ls.c: the operands that are files (and, with -d, directories) first, then each directory's listing, headed
    # "NAME:" when there are several operands
    files: list[str] = []
    dirs: list[tuple[str, dict[str, bool]]] = []
    for arg in paths:
        entries = target.listdir(arg)
        if entries is None:
            try:
                await asyncio.to_thread(target.read, arg)
            except IsADirectoryError:
                entries = {}
            except OSError:
                await io.say(f"ls: {arg}: No such file or directory\n")
                code = 1
                continue
            else:
                files.append(_ls_line(arg, False, long, _size(target, arg)))
                continue
        if "d" in flags:
            files.append(_ls_line(arg, True, long))
        else:
            dirs.append((arg, entries))
    out: list[str] = sorted(files, key=lambda line: line.rsplit(" ", 1)[-1])
    for arg, entries in sorted(dirs):
        names = sorted(n for n in entries if not n.startswith(".") or flags & {"a", "A"})
        if len(paths) > 1:
            out.append(("\n" if out else "") + f"{arg}:")
        if long:
            out.append("total 0")
        if "a" in flags:
            out.extend(_ls_line(n, True, long) for n in (".", ".."))
        out.extend(_ls_line(n, entries[n], long, _size(target, posixpath.join(target.full_path(arg), n)) if long
                            else 0) for n in names)
    if out:
        await io.stdout(("\n".join(out) + "\n").encode())
    return code


def _size(target: ExecTarget, path: str) -> int:
    host = target.host_path(path)
    try:
        if host is not None:
            return host.stat().st_size
        return len(target.image_files().get(target.full_path(path), b""))
    except OSError:
        return 0


def _ls_line(name: str, is_dir: bool, long: bool, size: int = 0) -> str:
    if not long:
        return name
    mode = "drwxr-xr-x" if is_dir else "-rw-r--r--"
    return f"{mode} {2 if is_dir else 1:4d} {'root':<8} {'root':<8} {4096 if is_dir else size:9d} {_LS_TIME} {name}"


def _busybox_bad_option(applet: str, flag: str) -> str:
    return pod_exec_tools.bad_option(applet, flag)


async def _sh(args: list[str], target: ExecTarget, io: ExecIO) -> int:
    # busybox ash: `sh [-eux...] -c SCRIPT [NAME [ARG...]]` ($0 is NAME), `sh FILE [ARG...]`, and `sh` / `sh -s`
    # reading the script from stdin. -e is errexit; -x and -u are accepted (tracing and nounset are not modelled).
    flags = ""
    while args and re.fullmatch(r"-[ceuxsv]+", args[0]) and args[0] != "-":
        flags += args[0][1:]
        args = args[1:]
    if args and args[0].startswith("-") and args[0] not in ("-", "--"):
        await io.say(f"sh: illegal option {args[0]}\n")
        return 2
    if "c" in flags:
        if not args:
            await io.say("sh: -c requires an argument\n")
            return 2
        shell = pod_exec_shell.Shell(target, run_command, args[1] if len(args) > 1 else "sh", args[2:],
                                     _in_image)
        shell.errexit = "e" in flags
        code, _ = await shell.run_script(args[0], io)
        return code
    if args and args[0] in ("-", "--"):
        args = args[1:]
    if args and "s" not in flags:
        try:
            script = await asyncio.to_thread(target.read, args[0])
        except OSError:
            await io.say(f"sh: can't open '{args[0]}': No such file or directory\n")
            return 2
        shell = pod_exec_shell.Shell(target, run_command, args[0], args[1:], _in_image)
        shell.errexit = "e" in flags
        code, _ = await shell.run_script(script.decode(errors="replace"), io)
        return code
    shell = pod_exec_shell.Shell(target, run_command, "sh", args, _in_image)
    shell.errexit = "e" in flags
    return await _sh_stdin(shell, io)


def _in_image(name: str) -> bool:
    return posixpath.basename(name) in COMMANDS


async def _sh_stdin(shell: pod_exec_shell.Shell, io: ExecIO) -> int:
    # `sh` with its script on stdin, run a complete command at a time as lines arrive (the Python client's e2e
    # test_pod_apis drives one so): a line that leaves a construct open waits for the lines that close it.
    pending = ""
    while True:
        line, eof = await io.read_line()
        pending += line.decode(errors="replace")
        if pending.strip():
            try:
                tree = pod_exec_shell.parse(pending)
            except pod_exec_shell.ShellSyntaxError as exc:
                if exc.incomplete and not eof:
                    continue
                await io.say(f"sh: {exc}\n")
                return 2
            except pod_exec_shell.ShellRefusal as exc:
                await io.say(f"{exc}\n")
                pending = ""
                shell.status = 2
                if eof:
                    return 2
                continue
            pending = ""
            code, exited = await shell.run_tree(tree, io)
            if exited:
                return code
        if eof:
            return shell.status


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
    if host not in (*_LOOPBACK, target.pod_ip, target.pod, target.host_name):
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


def _status_line(exc: http.client.HTTPException) -> str:
    line = str(exc.args[0]) if exc.args else ""
    return re.split(r"[\x00-\x1f]", line, maxsplit=1)[0]


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
        except http.client.HTTPException as exc:
            # Not HTTP/1 (a gRPC port such as the gloo pod's 9977 answers with HTTP/2 frames): busybox wget.c reads
            # the status line, trims it at the first control character (sanitize_string), finds no status and
            # dies with "server returned error: <line>".
            await io.say(f"wget: server returned error: {_status_line(exc)}\n")
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
        except http.client.HTTPException:
            # No HTTP/1 status line (a gRPC port): curl's lib/http.c refuses it as HTTP/0.9, CURLE_UNSUPPORTED_PROTOCOL.
            if loud:
                await io.say("curl: (1) Received HTTP/0.9 when not allowed\n")
            code = 1
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
    "wget": _wget, "ash": _sh, **pod_exec_tools.TOOLS,
}
"""The commands exec runs, by the base name of ``argv[0]`` (``/bin/cat`` is ``cat``)."""
