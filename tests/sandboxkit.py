"""Helpers for tests that drive a whole sandbox with real kubectl and real HTTP through Envoy."""

from __future__ import annotations

import json
import os
import re
import select
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polling import wait_until

from gloo_nb.models.audit import AuditEvent, parse_audit_event
from gloo_nb.sandbox import runner
from gloo_nb.sandbox.kubeapi import ServerThread, write_kubeconfig
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.runner import SandboxInfo
from gloo_nb.sandbox.store import Store

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "data" / "scenarios" / "two-phase-canary"
PART1 = SEED / "part1"
PART2 = SEED / "part2"


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie has exited; its parent just has not reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def audit_writes(path: Path, since: int = 0) -> list[AuditEvent]:
    """The writes a sandbox's ``audit.jsonl`` says were stored (after line ``since``), through the one parser.

    Refused writes, dry runs and no-ops (audited, as Kubernetes does, but storing nothing) are left out.
    """
    events = (parse_audit_event(json.loads(line), where=f"{path}:{n}")
              for n, line in enumerate(Path(path).read_text().splitlines()[since:], since + 1))
    return [e for e in events if e is not None and e.ok and not e.dry_run and e.written_versions]


@dataclass
class Response:
    status: int
    body: str
    headers: dict[str, str]


@dataclass
class Kube:
    """Real kubectl against one sandbox, with a private HOME (kubectl caches discovery)."""

    kubeconfig: str
    home: Path

    def run(self, *args: str, check: bool = True, input: str | None = None,
            as_user: str | None = None, as_group: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = ["kubectl", *args]
        if as_user:
            cmd += ["--as", as_user]
        if as_group:
            cmd += ["--as-group", as_group]
        env = {**os.environ, "KUBECONFIG": self.kubeconfig, "HOME": str(self.home)}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, input=input, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}{proc.stdout}")
        return proc

    def apply(self, *paths: Path) -> str:
        args: list[str] = ["apply"]
        for p in paths:
            args += ["-f", str(p)]
        return self.run(*args).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run("get", *args, "-o", "json").stdout)


def kubectl_for(info: SandboxInfo, root: Path) -> Kube:
    """Real kubectl against a sandbox, with its own HOME under ``root``."""
    home = root / "home"
    home.mkdir(exist_ok=True)
    return Kube(str(info.kubeconfig), home)


@dataclass
class InProcessApi:
    """The sandbox's Kubernetes API served in this process over a store (HTTPS, the admin token)."""

    url: str
    creds: Credentials
    kubeconfig: Path

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.creds.ca_cert))

    def urlopen(self, path: str, data: bytes | None = None, *, method: str | None = None,
                headers: dict[str, str] | None = None, timeout: float = 10) -> Any:
        """urllib's urlopen as the admin (raises HTTPError on a Status answer, as urllib does)."""
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={**(headers or {}), "Authorization": f"Bearer {self.creds.token}"})
        return urllib.request.urlopen(req, timeout=timeout, context=self.tls())  # noqa: S310 - loopback


@contextmanager
def in_process_api(store: Store, root: Path) -> Iterator[InProcessApi]:
    """Serve ``store`` with a CA and admin token made under ``root``; write the admin kubeconfig there."""
    creds = Credentials.load_or_create(root / "pki")
    server = ServerThread(store, creds)
    try:
        url = server.start()
        kubeconfig = root / "kubeconfig"
        write_kubeconfig(kubeconfig, url, creds)
        yield InProcessApi(url, creds, kubeconfig)
    finally:
        server.stop()


@contextmanager
def sandbox(state_dir: Path, gloo_version: str, replicas: int = 2,
            audit_level: str = "RequestResponse", validation: str | None = None) -> Iterator[SandboxInfo]:
    """A running sandbox, stopped at the end whatever happens (``validation``: ``--validation``)."""
    try:
        # Tied to this test process: a run killed before teardown leaves no sandbox behind.
        yield runner.start(state_dir, gloo_version=gloo_version, replicas=replicas, exit_with=os.getpid(),
                           audit_level=audit_level, validation=validation)
    finally:
        runner.stop(state_dir)


def fetch(url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> Response:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, resp.read().decode(), dict(resp.headers))
    except urllib.error.HTTPError as err:
        return Response(err.code, err.read().decode(), dict(err.headers))
    except (OSError, ValueError) as err:
        return Response(0, str(err), {})


def body_is(text: str) -> Callable[[Response], bool]:
    return lambda r: r.status == 200 and r.body.strip() == text


def wait_ready_pods(kube: Kube, namespace: str) -> None:
    # Pods appear asynchronously after a Deployment is created; `kubectl wait --all` needs them listed.
    wait_until(lambda: kube.json("pods", "-n", namespace)["items"], f"pods in {namespace}")
    kube.run("wait", "--for=condition=Ready", "pods", "--all", "-n", namespace, "--timeout=30s")


@contextmanager
def kubectl_forward(kube: Kube, *args: str, websockets: bool = True) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """Run ``kubectl port-forward ARGS``; yield the local port from its "Forwarding from" line; stop kubectl."""
    environ = {**os.environ, "KUBECONFIG": kube.kubeconfig, "HOME": str(kube.home)}
    if not websockets:
        environ["KUBECTL_PORT_FORWARD_WEBSOCKETS"] = "false"
    proc = subprocess.Popen(["kubectl", "port-forward", *args, "--address", "127.0.0.1"], env=environ, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline() if ready else ""
        found = re.search(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
        if found is None:
            proc.kill()
            raise AssertionError(f"kubectl port-forward {args}: no Forwarding line: {line!r} {proc.stderr.read()}")
        yield int(found.group(1)), proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def play(state_dir: Path, *steps: Sequence[str]) -> None:
    """Apply the seed scenario's steps (``nb.STEP4``, ``nb.INCIDENT``...) to a sandbox in order, each settled.

    Through the notebooks' own gateway (``open_gateway(sandbox_dir=..., apply_changes=True)``), closed after.
    """
    from gloo_nb.app import notebook as nb

    gw = nb.open_gateway(sandbox_dir=state_dir, apply_changes=True)
    try:
        for step in steps:
            gw.apply(step)
            gw.settle()
    finally:
        gw.close()
