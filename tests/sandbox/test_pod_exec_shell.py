"""Exec's shell and busybox applets, in-process: the grammar (pipelines, loops, conditionals, groups, expansions,
redirections), each applet's behaviour and busybox's messages, and the emulated image's files."""

from __future__ import annotations

import asyncio
import gzip
import re
import struct
from pathlib import Path

import pytest

from gloo_nb.sandbox.pod_exec import ExecIO, ExecTarget, run_command

pytestmark = pytest.mark.unit


def _run(argv: list[str], target: ExecTarget | None = None, stdin: bytes | list[bytes] | None = None,
         timeout: float = 10.0) -> tuple[int, bytes, str]:
    target = target or ExecTarget(pod="box", namespace="team", container="c", image="busybox",
                                  env={"PATH": "/bin", "HOME": "/root"})
    out: list[bytes] = []
    err: list[bytes] = []

    async def go() -> int:
        async def put_out(data: bytes) -> None:
            out.append(data)

        async def put_err(data: bytes) -> None:
            err.append(data)

        queue: asyncio.Queue[bytes | None] | None = None
        if stdin is not None:
            queue = asyncio.Queue()
            for chunk in [stdin] if isinstance(stdin, bytes) else stdin:
                queue.put_nowait(chunk)
            queue.put_nowait(None)
        return await asyncio.wait_for(run_command(argv, target, ExecIO(put_out, put_err, queue)), timeout)

    code = asyncio.run(go())
    return code, b"".join(out), b"".join(err).decode()


def _sh(script: str, **kw) -> tuple[int, str, str]:
    code, out, err = _run(["/bin/sh", "-c", script], **kw)
    return code, out.decode(), err


# --- pipes and gzip ---


def test_a_pipe_into_gzip_is_what_the_python_clients_e2e_suite_decompresses() -> None:
    code, out, err = _run(["/bin/sh", "-c", 'echo -n "This is a test string" | gzip'])
    assert (code, err) == (0, "")
    assert gzip.decompress(out) == b"This is a test string"
    # busybox's header (archival/gzip.c zip): method 8, no flags, mtime 0, XFL 0 at the default level, OS 3
    assert out[:10] == b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x00\x03"
    assert _run(["sh", "-c", "echo abc | gzip -9"])[1][8:10] == b"\x02\x03"
    assert _sh("echo hello | gzip -c | gunzip") == (0, "hello\n", "")
    assert _sh("printf 'a\\nb\\n' | gzip | zcat | wc -l") == (0, "2\n", "")
    assert _sh("echo plain | gzip -d") == (1, "", "gzip: invalid magic\n")


def test_a_pipelines_status_is_its_last_commands_and_stages_run_together() -> None:
    assert _sh("false | true")[0] == 0
    assert _sh("true | false")[0] == 1
    assert _sh("! true | false")[0] == 0
    assert _sh("set -o pipefail; false | true")[0] == 1
    # an endless writer ends when its reader does (SIGPIPE), so this finishes
    assert _sh("while true; do echo y; done | head -n 3") == (0, "y\ny\ny\n", "")
    assert _sh("seq 1 10 | grep -v 1 | sort -r | head -n 3 | tail -n 1") == (0, "7\n", "")
    assert _sh("echo one two | while read a b; do echo $b $a; done") == (0, "two one\n", "")


# --- the grammar ---


@pytest.mark.parametrize(("script", "out", "code"), [
    ("while true;do date;sleep 0; break; done | wc -l", "1\n", 0),
    ("i=0; while [ $i -lt 3 ]; do echo $i; i=$((i+1)); done", "0\n1\n2\n", 0),
    ("n=0; until [ $n -ge 2 ]; do n=$(expr $n + 1); done; echo $n", "2\n", 0),
    ("if false; then echo a; elif true; then echo b; else echo c; fi", "b\n", 0),
    ("if false; then echo a; fi", "", 0),
    ("if [ -z \"$NOPE\" ]; then echo empty; fi", "empty\n", 0),
    ("case hello.txt in *.yaml) echo y;; *.txt|*.md) echo text;; *) echo other;; esac", "text\n", 0),
    ("for i in 1 2 3; do [ $i = 2 ] && continue; echo $i; done", "1\n3\n", 0),
    ("for i in 1 2; do for j in a b; do [ $j = b ] && break 2; echo $i$j; done; done", "1a\n", 0),
    ("{ echo a; echo b; } | wc -l", "2\n", 0),
    ("x=1; (x=2; echo $x); echo $x", "2\n1\n", 0),
    ("echo $(echo hi | tr a-z A-Z) `echo there`", "HI there\n", 0),
    ("echo \"${UNSET:-default}\" ${#HOME} $((7 % 3 * 2))", "default 5 2\n", 0),
    ("set -- a b c; echo $# $2", "3 b\n", 0),
    ("false; echo $?", "1\n", 0),
    ("f=x; case $f in x) exit 7;; esac; echo never", "", 7),
    ("echo a >&2; echo b 2>/dev/null", "b\n", 0),
    ("echo quiet >/dev/null; echo shown", "shown\n", 0),
    ("cat < /etc/hostname", "box\n", 0),
    ("cd /etc && pwd && cat hostname", "/etc\nbox\n", 0),
    ("# a comment\necho 'a;b' \\\n  c", "a;b c\n", 0),
    ("sh -ec 'false; echo no'; echo $?", "1\n", 0),
    ("sh -c 'echo $0 $1' me you", "me you\n", 0),
    ("set -e; if false; then :; fi; false || echo ok; false; echo no", "ok\n", 1),
])
def test_the_shell_runs_posix_grammar(script: str, out: str, code: int) -> None:
    got, stdout, stderr = _sh(script)
    assert (got, stdout) == (code, out), stderr


def test_redirections_and_refusals_are_one_line() -> None:
    code, out, err = _sh("echo text >&2")
    assert (code, out, err) == (0, "", "text\n")
    code, out, err = _sh("cat /nope 2>&1")
    assert (code, out, err) == (1, "cat: can't open '/nope': No such file or directory\n", "")
    # ash's messages (shell/ash.c openredirect): nothing in the emulated container is writable
    assert _sh("echo x > /tmp/f") == (1, "", "sh: can't create /tmp/f: Read-only file system\n")
    assert _sh("cat < /nope") == (1, "", "sh: can't open /nope: no such file\n")
    for script in ("sleep 1 &", "cat <<EOF", "f() { echo; }"):
        code, _, err = _sh(script)
        assert code == 2 and err.count("\n") == 1 and err.startswith("sh: "), err
    # a command the image lacks: ash's message inside a script, the runtime's for exec's own argv
    assert _sh("nosuch x; echo $?") == (0, "127\n", "sh: nosuch: not found\n")
    assert _run(["nosuch"])[0] == 126
    assert _sh("if true; then echo") == (2, "", "sh: syntax error: unexpected end of file\n")
    assert _sh("done") == (2, "", 'sh: syntax error: unexpected "done"\n')


def test_sh_reads_its_script_from_stdin_a_command_at_a_time() -> None:
    # a loop spread over lines runs once its `done` arrives; `exit` ends the shell with what it says
    stdin = [b"i=0\nwhile [ $i -lt 2 ]\n", b"do echo $i; i=$((i+1))\n", b"done\necho err >&2\nexit 5\necho no\n"]
    assert _run(["sh"], stdin=stdin) == (5, b"0\n1\n", "err\n")
    # `cat` in the script reads the rest of the same stdin, until it ends
    assert _run(["sh"], stdin=[b"cat\n", b"more\n"]) == (0, b"more\n", "")


# --- the applets ---


@pytest.mark.parametrize(("script", "out"), [
    ("printf 'a\\nb\\nc\\n' | head -n 2", "a\nb\n"),
    ("printf 'a\\nb\\nc\\n' | head -2", "a\nb\n"),
    ("printf 'a\\nb\\nc\\n' | head -n -1", "a\nb\n"),
    ("echo abcdef | head -c 3", "abc"),
    ("printf 'a\\nb\\nc\\n' | tail -n 1", "c\n"),
    ("printf 'a\\nb\\nc\\n' | tail -n +2", "b\nc\n"),
    ("echo 'one two' | wc", "        1         2         8\n"),
    ("printf 'a\\nb\\n' | wc -l", "2\n"),
    ("printf 'Foo\\nbar\\nfoo\\n' | grep -i foo", "Foo\nfoo\n"),
    ("printf 'Foo\\nbar\\nfoo\\n' | grep -c foo", "1\n"),
    ("printf 'Foo\\nbar\\nfoo\\n' | grep -v foo", "Foo\nbar\n"),
    ("printf 'ab1\\nab22\\nx\\n' | grep -E 'b[0-9]{2}'", "ab22\n"),
    ("printf 'ab1\\nab22\\n' | grep 'b[0-9]\\{2\\}'", "ab22\n"),
    ("printf 'a\\na\\nb\\n' | grep -q b && echo found", "found\n"),
    ("grep localhost /etc/hosts | head -n 1", "127.0.0.1\tlocalhost\n"),
    ("printf 'b\\nc\\na\\n' | sort", "a\nb\nc\n"),
    ("printf '10\\n9\\n100\\n' | sort -n -r", "100\n10\n9\n"),
    ("printf 'b 2\\na 1\\n' | sort -k 2", "a 1\nb 2\n"),
    ("printf 'a\\na\\nb\\na\\n' | uniq -c", "      2 a\n      1 b\n      1 a\n"),
    ("printf 'a\\na\\nb\\n' | sort | uniq -d", "a\n"),
    ("echo hello | tr a-z A-Z", "HELLO\n"),
    ("echo 'a  b   c' | tr -s ' '", "a b c\n"),
    ("echo hello | tr -d l", "heo\n"),
    ("echo 'a:b:c' | cut -d: -f2,3", "b:c\n"),
    ("echo abcdef | cut -c 2-4", "bcd\n"),
    ("echo hi | base64", "aGkK\n"),
    ("echo aGkK | base64 -d", "hi\n"),
    ("printf '%s=%03d\\n' a 7 b 42", "a=007\nb=042\n"),
    ("printf '%5s|%-3s|\\n' x y", "    x|y  |\n"),
    ("expr 6 \\* 7", "42\n"),
    ("expr length hello", "5\n"),
    ("expr abc123 : '[a-z]*'", "3\n"),
    ("[ 3 -gt 2 ] && test -n x && [ ! -d /nope ] && [ -d /etc ] && [ -f /etc/hosts ] && echo ok", "ok\n"),
    ("echo -e 'a\\tb'", "a\tb\n"),
    ("id; whoami", "uid=0(root) gid=0(root) groups=0(root)\nroot\n"),
    ("uname; uname -n; uname -o", "Linux\nbox\nGNU/Linux\n"),
])
def test_each_applet_behaves_as_busyboxs(script: str, out: str) -> None:
    code, stdout, stderr = _sh(script)
    assert (stdout, stderr) == (out, ""), (code, stderr)


def test_bad_options_get_busyboxs_message_and_usage() -> None:
    code, out, err = _run(["gzip", "-z"])
    assert code == 1 and out == b""
    assert err.startswith("gzip: invalid option -- 'z'\nBusyBox v1.36.1 (2023-05-18 22:34:17 UTC) multi-call binary."
                          "\n\nUsage: gzip [-cfkdt123456789] [FILE]...\n\nCompress FILEs (or stdin)\n")
    code, _, err = _run(["head", "-n"])
    assert code == 1 and err.startswith("head: option requires an argument -- 'n'\nBusyBox")
    code, _, err = _run(["wc", "--bogus"])
    assert code == 1 and err.startswith("wc: unrecognized option '--bogus'\nBusyBox")
    assert _run(["grep", "-Z", "x"])[0] == 2  # grep's errors are 2, its "no match" 1
    # test and [ are ash builtins inside the shell (messages as "sh"), applets of their own when exec'd
    assert _run(["sh", "-c", "[ 1 -eq x ]"]) == (2, b"", "sh: x: bad number\n")
    assert _run(["sh", "-c", "[ 1 = 1"]) == (2, b"", "sh: missing ]\n")
    assert _run(["[", "1", "=", "1"]) == (2, b"", "[: missing ]\n")
    assert _run(["test", "1", "-lt", "y"]) == (2, b"", "test: y: bad number\n")
    assert _run(["expr", "1", "/", "0"]) == (2, b"", "expr: division by zero\n")
    assert _run(["expr", "0"])[0] == 1  # expr: a null or 0 result exits 1
    assert _run(["head", "/nope"]) == (1, b"", "head: can't open '/nope': No such file or directory\n")


def test_tail_f_follows_until_stopped() -> None:
    with pytest.raises(TimeoutError):
        _run(["tail", "-f", "/etc/hostname"], timeout=0.5)
    assert _run(["sh", "-c", "echo a | tail -f"]) == (0, b"a\n", "")  # stdin (a pipe) is not followed


def test_uptime_is_busyboxs_one_line_with_the_containers_own_uptime() -> None:
    import time

    target = ExecTarget(pod="box", namespace="team", container="c", image="busybox",
                        started=time.time() - (2 * 86400 + 3 * 3600 + 4 * 60 + 5))
    code, out, _ = _run(["uptime"], target)
    # procps/uptime.c: " %02u:%02u:%02u up ", "%u day%s, ", "%2u:%02u", ",  %u users", ",  load average: ..."
    assert code == 0 and re.fullmatch(r" \d\d:\d\d:\d\d up 2 days,  3:04,  0 users,  load average: "
                                      r"\d+\.\d\d, \d+\.\d\d, \d+\.\d\d\n", out.decode()), out
    fresh = ExecTarget(pod="box", namespace="team", container="c")
    assert re.fullmatch(r" \d\d:\d\d:\d\d up 0 min,  0 users,  load average: .*\n", _run(["uptime"], fresh)[1].decode())
    up, idle = _run(["cat", "/proc/uptime"], target)[1].split()
    assert 183844 < float(up) < 183900 and float(idle) >= float(up)
    assert len(_run(["cat", "/proc/loadavg"], target)[1].split()) == 5


# --- the image's files ---


def test_ls_lists_each_images_root_and_the_mount_points(tmp_path: Path) -> None:
    def ls(image: str, *args: str, mounts: list[tuple[str, Path]] | None = None) -> str:
        target = ExecTarget(pod="box", namespace="team", container="c", image=image, mounts=mounts or [])
        code, out, err = _run(["ls", *args], target)
        assert code == 0, err
        return out.decode()

    assert ls("busybox:1.36", "/") == "bin\ndev\netc\nhome\nlib\nlib64\nproc\nroot\nsys\ntmp\nusr\nvar\n"
    assert ls("docker.io/library/alpine", "/").split() == ["bin", "dev", "etc", "home", "lib", "media", "mnt",
                                                            "opt", "proc", "root", "run", "sbin", "srv", "sys",
                                                            "tmp", "usr", "var"]
    nginx = ls("nginx:1.27", "/").split()
    assert "docker-entrypoint.d" in nginx and "docker-entrypoint.sh" in nginx and "boot" in nginx
    assert ls("python:3.12", "/").split()[:3] == ["bin", "boot", "dev"]
    assert "lib32" in ls("envoyproxy/envoy:v1.31.0", "/").split()
    assert ls("quay.io/solo-io/gloo-envoy-wrapper", "/").split() == ls("alpine", "/").split()
    # an image the sandbox knows nothing of: its mount points only
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "a.yaml").write_text("x: 1\n")
    assert ls("example.com/app", "/", mounts=[("/config/app", tmp_path / "cfg")]).split() == ["config", "etc",
                                                                                              "proc"]
    mounted = ls("example.com/app", "-l", "/config/app", mounts=[("/config/app", tmp_path / "cfg")]).splitlines()
    assert re.fullmatch(r"-rw-r--r-- +1 root +root +5 .* a\.yaml", mounted[1]), mounted  # the file's real size
    with_mount = ls("busybox", "/", mounts=[("/data", tmp_path / "cfg")]).split()
    assert "data" in with_mount and "bin" in with_mount
    assert ls("busybox", "-a", "/tmp") == ".\n..\n"
    long = ls("busybox", "-l", "/").splitlines()
    assert long[0] == "total 0" and re.fullmatch(r"drwxr-xr-x +2 root +root +4096 \w{3} [ \d]\d \d\d:\d\d bin",
                                                 long[1]), long[1]
    # files first, then each directory under its name (ls.c)
    assert ls("busybox", "/proc", "/etc/hostname") == "/etc/hostname\n\n/proc:\nloadavg\nuptime\n"
    assert ls("busybox", "-d", "/etc") == "/etc\n"
    code, _, err = _run(["ls", "/nope"])
    assert (code, err) == (1, "ls: /nope: No such file or directory\n")


def test_the_files_the_kubelet_writes_and_the_images_os_release() -> None:
    target = ExecTarget(pod="web-1", namespace="shop", container="c", image="alpine:3.19.1", pod_ip="127.0.0.1",
                        host_aliases=[("10.1.2.3", ["foo.local", "bar.local"])])
    assert _run(["cat", "/etc/hostname"], target)[1] == b"web-1\n"
    # pkg/kubelet/kubelet_pods.go managedHostsFileContent, then hostsEntriesFromHostAliases
    assert _run(["cat", "/etc/hosts"], target)[1].decode() == (
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
        "127.0.0.1\tweb-1\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\n10.1.2.3\tbar.local\n")
    assert _run(["cat", "/etc/resolv.conf"], target)[1] == (
        b"search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n")
    assert b"VERSION_ID=3.19.1\n" in _run(["cat", "/etc/os-release"], target)[1]
    # spec.hostname and spec.subdomain (an Indexed Job's pod, a headless Service's): the FQDN line
    indexed = ExecTarget(pod="job-0-abcde", namespace="ns", container="c", hostname="job-0", subdomain="svc")
    assert _run(["sh", "-c", "hostname; tail -n 1 /etc/hosts; uname -n"], indexed)[1] == (
        b"job-0\n127.0.0.1\tjob-0.svc.ns.svc.cluster.local\tjob-0\njob-0\n")
    busybox = ExecTarget(pod="b", namespace="ns", container="c", image="busybox")
    assert _run(["cat", "/etc/os-release"], busybox) == (
        1, b"", "cat: can't open '/etc/os-release': No such file or directory\n")  # busybox's image has none
    assert _run(["cat", "/etc/passwd"], busybox)[0] == 1  # "no other files", honestly
    assert _run(["cat", "/etc"], busybox) == (1, b"", "cat: read error: Is a directory\n")
    # an nginx pod: the configuration the nginx emulation serves from, and its web root
    nginx = ExecTarget(pod="web", namespace="ns", container="c", image="nginx:1.27")
    code, out, _ = _run(["sh", "-c", "grep -c include /etc/nginx/nginx.conf; ls /usr/share/nginx/html"], nginx)
    assert (code, out) == (0, b"2\n50x.html\nindex.html\n")
