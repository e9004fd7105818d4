"""Start, stop and query a sandbox running in the background (``gloo-nb sandbox ...``).

A sandbox is one background process (:mod:`gloo_nb.sandbox.daemon`) per state directory. Its
``endpoints.json`` says where everything listens and which process runs it; ``sandbox.log``
collects its log and the Envoy logs sit beside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gloo_nb._types import Profile, check_profile
from gloo_nb.errors import UnreachableError
from gloo_nb.models.defaults import VALIDATION_MODES
from gloo_nb.sandbox.audit import DEFAULT_LEVEL as DEFAULT_AUDIT_LEVEL
from gloo_nb.sandbox.audit import LEVELS as AUDIT_LEVELS
from gloo_nb.sandbox.kubeapi.pki import Credentials
from gloo_nb.sandbox.proxyspec import parse_proxy_specs
from gloo_nb.sandbox.statedir import private_dir

DAEMON = "gloo_nb.sandbox.daemon"


class SandboxError(UnreachableError):
    """A sandbox cannot be started, stopped or reached; the message says what to do."""


@dataclass(frozen=True, slots=True)
class SandboxInfo:
    """Where a running sandbox listens (the ``endpoints.json`` contract).

    Attributes:
        state_dir: The state directory.
        data: The ``endpoints.json`` document.
    """

    state_dir: Path
    data: dict[str, Any]

    @property
    def gloo_version(self) -> Profile:
        """The sandbox's Gloo profile."""
        return check_profile(self.data.get("glooVersion"), source=f"{_endpoints_file(self.state_dir)}: glooVersion")

    @property
    def kubeconfig(self) -> str:
        """The admin kubeconfig path."""
        return str(self.data["kubeconfig"])

    @property
    def gateway(self) -> str:
        """The front door URL (the gateway-proxy Service)."""
        return str(self.data["gateway"])

    @property
    def envoy_admin(self) -> list[str]:
        """Each replica's admin URL."""
        return list(self.data["envoyAdmin"])

    @property
    def proxies(self) -> dict[str, dict[str, Any]]:
        """Per proxy the sandbox runs: ``{"gateway", "gateways", "envoyAdmin"}`` (its front door and replicas).

        A sandbox written before proxies were listed runs ``gateway-proxy`` alone, with the top-level URLs.
        """
        found = self.data.get("proxies")
        if isinstance(found, dict) and found:
            return {str(k): dict(v) for k, v in found.items()}
        return {"gateway-proxy": {"gateway": self.data.get("gateway"), "gateways": list(self.data.get("gateways", [])),
                                  "envoyAdmin": list(self.data.get("envoyAdmin", []))}}

    @property
    def pid(self) -> int | None:
        """The sandbox process, when running."""
        pid = self.data.get("pid")
        return int(pid) if pid else None


def _endpoints_file(state_dir: Path) -> Path:
    return Path(state_dir) / "endpoints.json"


def read_info(state_dir: Path) -> SandboxInfo | None:
    """Read a state directory's ``endpoints.json``.

    Args:
        state_dir: The state directory.

    Returns:
        The info, or None when the file is missing or unreadable.
    """
    try:
        return SandboxInfo(Path(state_dir), json.loads(_endpoints_file(state_dir).read_text()))
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    # A recycled pid belongs to some other program: only our daemon counts.
    return DAEMON.encode() in cmdline


def _log_tail(state_dir: Path, lines: int = 3) -> str:
    try:
        text = (Path(state_dir) / "sandbox.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def running(state_dir: Path) -> SandboxInfo | None:
    """Return the info of the sandbox running in ``state_dir``, if one runs.

    Args:
        state_dir: The state directory.

    Returns:
        The info, or None.
    """
    info = read_info(state_dir)
    return info if info is not None and _alive(info.pid) else None


def start(state_dir: Path, *, gloo_version: str | None = None, replicas: int = 2,
          timeout: float = 60.0, exit_with: int | None = None,
          proxies: Sequence[str | tuple[str, int]] | None = None,
          audit_level: str = DEFAULT_AUDIT_LEVEL, validation: str | None = None) -> SandboxInfo:
    """Start a sandbox in the background and return once it serves.

    A state directory that holds objects from an earlier run restarts from them; its Gloo
    profile is kept unless ``gloo_version`` says otherwise.

    Args:
        state_dir: The state directory (created ``0700`` when missing; an existing one is made private to
            its user, see :func:`gloo_nb.sandbox.statedir.private_dir`).
        gloo_version: ``1.3`` or ``current`` (default: the directory's earlier profile, else ``current``).
        replicas: How many Envoy replicas (per proxy that gives no count).
        proxies: The gateway proxies to run, each ``NAME[:REPLICAS]`` or ``(name, replicas)``
            (``--proxy``); default ``gateway-proxy`` with ``replicas``.
        timeout: Seconds to wait for it to serve.
        exit_with: A process id; the sandbox stops by itself once that process is gone (for test
            runs and notebook kernels that may die without stopping it).
        audit_level: The level of the audit log's writes (``--audit-level``: ``Metadata``, ``Request`` or
            ``RequestResponse``; Secrets are always ``Metadata``): see :mod:`gloo_nb.sandbox.audit`.
        validation: ``--validation``: Gloo's validating webhook as ``accept`` (Helm's default: admit, only log),
            ``errors`` (refuse errors), ``strict`` (refuse warnings too) or ``off``, written into Settings
            ``gloo-system/default`` at start; None keeps what the Settings say (fresh: ``accept``).

    Returns:
        Where it listens.

    Raises:
        SandboxError: One already runs there, or it failed to start (with its log's last lines).
    """
    state_dir = Path(state_dir).resolve()
    if replicas < 1:
        raise SandboxError(f"--replicas must be at least 1, got {replicas}")
    if audit_level not in AUDIT_LEVELS:
        raise SandboxError(f"--audit-level must be one of {', '.join(AUDIT_LEVELS)}, got {audit_level!r}")
    if validation is not None and validation not in VALIDATION_MODES:
        raise SandboxError(f"--validation must be one of {', '.join(VALIDATION_MODES)}, got {validation!r}")
    specs = parse_proxy_specs([p if isinstance(p, str) else f"{p[0]}:{p[1]}" for p in proxies] if proxies else None,
                              default_replicas=replicas)
    current = running(state_dir)
    if current is not None:
        raise SandboxError(f"a sandbox already runs in {state_dir} (pid {current.pid}); "
                           f"stop it first with: gloo-nb sandbox stop --state-dir {state_dir}")
    earlier = read_info(state_dir)
    profile = (check_profile(gloo_version, source="--gloo-version") if gloo_version
               else earlier.gloo_version if earlier and earlier.data.get("glooVersion") else "current")
    private_dir(state_dir)
    _endpoints_file(state_dir).unlink(missing_ok=True)
    # Explicit mode: this may be a notebook kernel, whose umask is not ours to change.
    log_fd = os.open(state_dir / "sandbox.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    with open(log_fd, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", DAEMON, "--state-dir", str(state_dir), "--gloo-version", profile,
             "--replicas", str(replicas), "--audit-level", audit_level,
             *(["--validation", validation] if validation else []),
             *(["--exit-with", str(exit_with)] if exit_with else []),
             *(arg for name, count in specs for arg in ("--proxy", f"{name}:{count}"))],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
            # The daemon forks Envoys and pods while grpc threads run; grpc's fork handlers only
            # print warnings there, since the children exec at once.
            env={**os.environ, "GRPC_ENABLE_FORK_SUPPORT": "false"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_info(state_dir)
        if info is not None and info.pid == proc.pid:
            # Reap the daemon when it exits, so a long-lived caller (a notebook kernel) keeps no zombie.
            threading.Thread(target=proc.wait, name=f"sandbox-reaper-{proc.pid}", daemon=True).start()
            return info
        if proc.poll() is not None:
            raise SandboxError(f"the sandbox exited with status {proc.returncode} while starting: "
                               f"{_log_tail(state_dir)} (full log: {state_dir}/sandbox.log)")
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    raise SandboxError(f"the sandbox did not serve within {timeout:.0f} s: {_log_tail(state_dir)} "
                       f"(full log: {state_dir}/sandbox.log)")


def stop(state_dir: Path, *, timeout: float = 20.0) -> bool:
    """Stop the sandbox running in ``state_dir`` and everything it started.

    Args:
        state_dir: The state directory.
        timeout: Seconds to wait for a clean stop before killing its process group.

    Returns:
        Whether a sandbox was running.
    """
    info = running(state_dir)
    if info is None or info.pid is None:
        return False
    pid = info.pid
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.02)
    if _alive(pid):
        # It did not stop in time: take its whole session down (Envoys, pods) rather than leave
        # anything behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.02)
    return True


def _get(url: str, timeout: float = 2.0, credentials: Credentials | None = None) -> int:
    headers = {"Authorization": f"Bearer {credentials.token}"} if credentials else {}
    context = credentials.client_context() if credentials else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),  # noqa: S310 - loopback URLs we wrote
                                    timeout=timeout, context=context) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (OSError, ValueError):
        return 0


def status(state_dir: Path) -> tuple[SandboxInfo | None, dict[str, Any]]:
    """Say whether the sandbox in ``state_dir`` runs and how healthy it is.

    Args:
        state_dir: The state directory.

    Returns:
        The info (None when there is no ``endpoints.json``) and a health document:
        ``running``, ``kubeApi`` (HTTP status of ``/version``), ``envoy`` (per replica of every proxy:
        its ``admin`` URL, ``proxy`` and whether ``/ready`` answers).
    """
    info = read_info(state_dir)
    if info is None or not _alive(info.pid):
        return info, {"running": False}
    # The API is HTTPS with the sandbox's CA and wants the admin token (the same the kubeconfig carries).
    credentials = Credentials.existing(Path(state_dir) / "pki")
    health: dict[str, Any] = {"running": True, "kubeApi": _get(info.data["kubeApi"] + "/version",
                                                               credentials=credentials)}
    health["envoy"] = [{"admin": a, "proxy": proxy, "ready": _get(a + "/ready") == 200}
                       for proxy, urls in info.proxies.items() for a in urls.get("envoyAdmin", [])]
    health["healthy"] = health["kubeApi"] == 200 and all(e["ready"] for e in health["envoy"])
    return info, health
