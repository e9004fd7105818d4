"""The pure parts of exec and logs: the log files' times and filters, the exec toolbox in a container's view."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from gloo_nb.sandbox.kubeapi.exec import exit_status
from gloo_nb.sandbox.kubeapi.logs import parse_log_options
from gloo_nb.sandbox.pod_exec import ExecIO, ExecTarget, run_command
from gloo_nb.sandbox.pod_logs import LogOptions, copy_output, format_time, parse_time, read_log, times_path
from gloo_nb.sandbox.store import ApiError

pytestmark = pytest.mark.unit


def test_times_are_gos_rfc3339nano_in_utc() -> None:
    assert format_time(1_765_114_304_000_000_000) == "2025-12-07T13:31:44Z"
    assert format_time(1_765_114_304_120_000_000) == "2025-12-07T13:31:44.12Z"
    assert format_time(1_765_114_304_000_000_001) == "2025-12-07T13:31:44.000000001Z"
    assert parse_time("2025-12-07T13:31:44.5+01:00") == 1_765_110_704.5
    assert parse_time("2025-12-07T13:31:44Z") == 1_765_114_304.0
    with pytest.raises(ValueError):
        parse_time("yesterday")


def _log(tmp_path: Path, lines: list[tuple[str, str]], partial: str = "") -> Path:
    log = tmp_path / "0.log"
    log.write_text("".join(text + "\n" for _, text in lines) + partial)
    times_path(log).write_text("".join(stamp + "\n" for stamp, _ in lines))
    return log


def test_read_log_tails_then_filters_by_time_then_limits(tmp_path: Path) -> None:
    log = _log(tmp_path, [("2025-12-07T13:00:00Z", "a"), ("2025-12-07T13:00:01.5Z", "b"),
                          ("2025-12-07T13:00:03Z", "c")], partial="d")
    assert read_log(log, LogOptions())[0] == b"a\nb\nc\nd"
    assert read_log(log, LogOptions(), final=False)[:2] == (b"a\nb\nc\n", 6)  # the partial line waits
    assert read_log(log, LogOptions(tail_lines=2), final=False)[0] == b"b\nc\n"
    since = parse_time("2025-12-07T13:00:01Z")
    assert read_log(log, LogOptions(since=since), final=False)[0] == b"b\nc\n"
    stamped = read_log(log, LogOptions(tail_lines=1, timestamps=True), final=False)[0]
    assert stamped == b"2025-12-07T13:00:03Z c\n"
    assert read_log(log, LogOptions(limit_bytes=3))[0] == b"a\nb"
    assert read_log(log, LogOptions(), offset=4, final=False)[0] == b"c\n"  # a follower goes on from its offset


def test_copy_output_records_one_time_per_line(tmp_path: Path) -> None:
    r, w = os.pipe()
    os.write(w, b"one\ntwo\nthr")
    os.write(w, b"ee\n")
    os.close(w)
    log = tmp_path / "3.log"
    copy_output(r, log)
    assert log.read_bytes() == b"one\ntwo\nthree\n"
    stamps = times_path(log).read_text().splitlines()
    assert len(stamps) == 3 and all(stamp.endswith("Z") for stamp in stamps)


def test_pod_log_options_are_validated_as_the_apiserver_does() -> None:
    options = parse_log_options("p", {"tailLines": "3", "sinceSeconds": "10", "timestamps": "true"}, 100.0)
    assert options == LogOptions(tail_lines=3, since=90.0, timestamps=True)
    with pytest.raises(ApiError) as caught:
        parse_log_options("p", {"sinceSeconds": "0"}, 0.0)
    assert caught.value.message == ('PodLogOptions "p" is invalid: sinceSeconds: Invalid value: 0: must be greater '
                                    "than 0")
    with pytest.raises(ApiError) as caught:
        parse_log_options("p", {"sinceSeconds": "5", "sinceTime": "2025-01-01T00:00:00Z"}, 0.0)
    assert caught.value.code == 422


def test_exit_status_is_the_kubelets() -> None:
    assert exit_status(["true"], 0) == {"metadata": {}, "status": "Success"}
    assert exit_status(["sh", "-c", "exit 3"], 3) == {
        "metadata": {}, "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
        "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}


def _run(argv: list[str], target: ExecTarget, stdin: bytes | None = None) -> tuple[int, str, str]:
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
            queue.put_nowait(stdin)
            queue.put_nowait(None)
        return await run_command(argv, target, ExecIO(put_out, put_err, queue))

    code = asyncio.run(go())
    return code, b"".join(out).decode(), b"".join(err).decode()


def test_the_toolbox_sees_the_container_not_the_host(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    volume.mkdir()
    (volume / "tls.crt").write_text("CERT\n")
    target = ExecTarget(pod="p", namespace="ns", container="c", env={"A": "1", "B": "two"}, workdir="/etc/certs",
                        mounts=[("/etc/certs", volume)])
    assert _run(["/bin/cat", "tls.crt"], target) == (0, "CERT\n", "")
    assert _run(["cat", "/etc/certs/../certs/tls.crt"], target)[1] == "CERT\n"
    code, _, err = _run(["cat", str(volume / "tls.crt")], target)  # a host path is not in the container
    assert code == 1 and "No such file or directory" in err
    # the mount point, and the files the kubelet writes into every container
    assert _run(["ls", "/etc"], target)[1] == "certs\nhostname\nhosts\nresolv.conf\n"
    assert _run(["env"], target)[1] == "A=1\nB=two\n"
    assert _run(["printenv", "B", "NOPE"], target) == (1, "two\n", "")
    assert _run(["sh", "-c", "echo $B ${A}"], target)[1] == "two 1\n"
    assert _run(["sh", "-c", "exit 300"], target)[0] == 300 & 0xFF
    # a pipeline's status is its last command's: grep found nothing in what the failing cat wrote
    assert _run(["sh", "-c", "cat /etc/passwd | grep root"], target)[0] == 1
    assert _run(["cat"], target, stdin=b"in\n")[1] == "in\n"
    assert _run(["sh"], target, stdin=b"echo one\necho two >&2\nexit 4\necho never\n") == (4, "one\n", "two\n")
    assert _run(["/bin/sh"], target, stdin=b"false\necho last") == (0, "last\n", "")
    assert re.fullmatch(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}\n", _run(["date"], target)[1])
    code, _, err = _run(["python3", "-c", "print(1)"], target)
    assert code == 126 and 'exec: "python3": executable file not found in $PATH' in err


def test_http_from_inside_reaches_only_the_pods_own_ports(tmp_path: Path) -> None:
    target = ExecTarget(pod="p", namespace="ns", container="c", ports={})
    code, _, err = _run(["curl", "-sS", "localhost:19000/ready"], target)
    assert code == 7 and "Failed to connect to localhost port 19000" in err
    code, _, err = _run(["wget", "-qO-", "http://example.com/"], target)
    assert code == 1 and "bad address 'example.com:80'" in err
    code, _, err = _run(["wget", "localhost:19000/config_dump"], target)
    assert code == 1 and "use -O -" in err
    code, _, err = _run(["curl", "https://localhost/"], target)
    assert code == 1 and "plain http only" in err


@pytest.mark.parametrize(("script", "out", "code"), [
    ("for i in $(seq 1 3); do date; done", 3, 0),  # the Python client's e2e test_pod_apis
    ("sleep 0; exit 3", 0, 3),  # its test_exit_code
    ("true && echo yes || echo no", 1, 0),
    ("false && echo yes || echo no", 1, 0),
    ("false; echo after", 1, 0),
    ("x=2; for i in $(seq $x); do echo $i $x; done", 2, 0),
    ("for i in a b; do for j in 1 2; do echo $i$j; done; done", 4, 0),
    ("echo 'a;b' && exit 4; echo never", 1, 4),
])
def test_the_shell_runs_lists_loops_and_substitutions(script: str, out: int, code: int) -> None:
    target = ExecTarget(pod="p", namespace="ns", container="c")
    got, stdout, _ = _run(["/bin/sh", "-c", script], target)
    assert (got, len(stdout.splitlines())) == (code, out), stdout


@pytest.mark.parametrize("script", ["sleep 1 &", "for i in 1 2; do echo $i", "cat <<EOF", "f() { echo; }",
                                    "if true; then echo", "echo $((1 +))", "done"])
def test_the_shell_refuses_what_it_does_not_run(script: str) -> None:
    target = ExecTarget(pod="p", namespace="ns", container="c")
    got, _, stderr = _run(["/bin/sh", "-c", script], target)
    assert got == 2 and stderr.startswith("sh: "), stderr
