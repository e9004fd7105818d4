"""Container probes for the sandbox's kubelet: readiness, liveness and startup, as Kubernetes runs them.

Kubernetes' kubelet starts one worker per probe of a container (pkg/kubelet/prober/prober_manager.go
``AddPod``); each worker probes every ``periodSeconds`` once the container runs and ``initialDelaySeconds``
have passed, keeps the probe's result until ``successThreshold``/``failureThreshold`` consecutive results
say otherwise (pkg/kubelet/prober/worker.go ``doProbe``), and the prober records an ``Unhealthy`` Warning
Event for every failed probe (pkg/kubelet/prober/prober.go ``probe``). :class:`ProbeWorker` is that worker,
one thread per probe; a container without probes gets none.

What the sandbox runs, and how it differs from a node:

- ``httpGet`` (scheme HTTP or HTTPS, the latter without certificate verification as the kubelet's prober
  does: the nginx emulation serves TLS) and ``tcpSocket`` connect to ``127.0.0.1`` only, on the loopback
  port the kubelet bound for the container port the probe names (by number or by the container's port name). A port the
  container does not declare gets a bound socket that nobody listens on, so a probe there is refused, as on
  a pod where nothing listens. ``httpGet.host`` is never used: the sandbox dials no other address.
- ``exec`` and ``grpc`` probes are not run: a pod is a local process emulating its
  image, with nothing to exec into, and the emulated images serve no gRPC health. Such a probe
  counts as a success with a ``ProbeWarning`` Event (Kubernetes' own reason for a probe that passed with a
  caveat) saying so, never silently.
- Messages follow the Go kubelet's wording (``HTTP probe failed with statuscode: 500``,
  ``Get "http://127.0.0.1:P/": dial tcp 127.0.0.1:P: connect: connection refused``), with the real
  loopback port where a node would print the pod IP and container port.
"""

from __future__ import annotations

import errno
import http.client
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

__all__ = ["FAILURE", "LIVENESS", "PROBE_DEFAULTS", "READINESS", "STARTUP", "SUCCESS", "WARNING", "Probe",
           "ProbeWorker", "Target", "parse_probes", "run_probe"]

log = logging.getLogger(__name__)

READINESS = "Readiness"
LIVENESS = "Liveness"
STARTUP = "Startup"
_FIELDS = {READINESS: "readinessProbe", LIVENESS: "livenessProbe", STARTUP: "startupProbe"}

SUCCESS = "success"
FAILURE = "failure"
WARNING = "warning"
_UNKNOWN = "unknown"

PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
"""pkg/apis/core/v1/defaults.go ``SetDefaults_Probe``."""

_MAX_RETRIES = 3  # prober.go maxProbeRetries: a probe that errors (not fails) is retried this often
_MAX_BODY = 10 * 1024  # pkg/probe/http/http.go maxRespBodyLength
_MAX_REDIRECTS = 10  # Go's http.Client default
_USER_AGENT = "kube-probe/1.32"  # pkg/probe/http/request.go: kube-probe/<major>.<minor> of the kubelet
_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe of a container, with Kubernetes' defaults applied.

    Attributes:
        kind: :data:`READINESS`, :data:`LIVENESS` or :data:`STARTUP`.
        handler: ``httpGet``, ``tcpSocket``, ``grpc``, ``exec`` or ``""`` (none given).
        port: The container port it targets (0 when it has none or it does not resolve).
        error: Why the port does not resolve (Kubernetes' error text), or ``""``.
        path: ``httpGet.path``.
        scheme: ``httpGet.scheme`` (``HTTP`` or ``HTTPS``).
        headers: ``httpGet.httpHeaders`` as (name, value) pairs.
        initial_delay: ``initialDelaySeconds``.
        period: ``periodSeconds``.
        timeout: ``timeoutSeconds``.
        success_threshold: ``successThreshold``.
        failure_threshold: ``failureThreshold``.
    """

    kind: str
    handler: str
    port: int = 0
    error: str = ""
    path: str = "/"
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3


def _int(spec: dict[str, Any], key: str, default: int, minimum: int) -> int:
    try:
        value = int(spec.get(key) or default)
    except (TypeError, ValueError):
        value = default
    return max(value, minimum)


def _resolve_port(param: Any, container: dict[str, Any]) -> tuple[int, str]:
    """pkg/probe/util.go ``ResolveContainerPort``: a number, or the name of one of the container's ports."""
    if isinstance(param, bool) or param is None:
        return 0, f"intOrString had no kind: {param!r}"
    if isinstance(param, str):
        for p in container.get("ports") or []:
            if isinstance(p, dict) and p.get("name") == param and "containerPort" in p:
                param = p["containerPort"]
                break
        else:
            try:
                param = int(param)  # "last ditch effort - maybe it was an int stored as string?"
            except ValueError:
                return 0, f'strconv.Atoi: parsing "{param}": invalid syntax'
    try:
        port = int(param)
    except (TypeError, ValueError):
        return 0, f"intOrString had no kind: {param!r}"
    if 0 < port < 65536:
        return port, ""
    return 0, f"invalid port number: {port}"


def parse_probes(container: dict[str, Any]) -> list[Probe]:
    """Read a container's ``startupProbe``, ``readinessProbe`` and ``livenessProbe``.

    Args:
        container: One entry of a pod's ``spec.containers``.

    Returns:
        Its probes (empty for a container without any), with Kubernetes' defaults where fields are missing.
    """
    out: list[Probe] = []
    for kind in (STARTUP, READINESS, LIVENESS):
        spec = container.get(_FIELDS[kind])
        if not isinstance(spec, dict):
            continue
        base = Probe(kind, "", initial_delay=_int(spec, "initialDelaySeconds", 0, 0),
                     period=_int(spec, "periodSeconds", PROBE_DEFAULTS["periodSeconds"], 1),
                     timeout=_int(spec, "timeoutSeconds", PROBE_DEFAULTS["timeoutSeconds"], 1),
                     success_threshold=_int(spec, "successThreshold", PROBE_DEFAULTS["successThreshold"], 1),
                     failure_threshold=_int(spec, "failureThreshold", PROBE_DEFAULTS["failureThreshold"], 1))
        http_get, tcp, grpc = spec.get("httpGet"), spec.get("tcpSocket"), spec.get("grpc")
        if isinstance(http_get, dict):
            port, error = _resolve_port(http_get.get("port"), container)
            headers = tuple((str(h.get("name", "")), str(h.get("value", "")))
                            for h in http_get.get("httpHeaders") or [] if isinstance(h, dict) and h.get("name"))
            out.append(replace(base, handler="httpGet", port=port, error=error, path=str(http_get.get("path") or "/"),
                               scheme=str(http_get.get("scheme") or "HTTP").upper(), headers=headers))
        elif isinstance(tcp, dict):
            port, error = _resolve_port(tcp.get("port"), container)
            out.append(replace(base, handler="tcpSocket", port=port, error=error))
        elif isinstance(grpc, dict):
            out.append(replace(base, handler="grpc"))
        elif isinstance(spec.get("exec"), dict):
            out.append(replace(base, handler="exec"))
        else:
            out.append(base)
    return out


# --- one probe -------------------------------------------------------------------------------------------


def _dial_error(exc: OSError, port: int) -> str:
    """Go's ``net.Dialer`` error text for a failed connect to 127.0.0.1:port."""
    if isinstance(exc, TimeoutError):
        return f"dial tcp {_HOST}:{port}: i/o timeout"
    reason = {errno.ECONNREFUSED: "connection refused", errno.ECONNRESET: "connection reset by peer",
              errno.EADDRNOTAVAIL: "cannot assign requested address"}.get(exc.errno or 0, exc.strerror or str(exc))
    return f"dial tcp {_HOST}:{port}: connect: {reason}"


def _tcp_probe(port: int, timeout: float) -> tuple[str, str]:
    # pkg/probe/tcp/tcp.go DoTCPProbe: connect and close; any error is a failure.
    try:
        socket.create_connection((_HOST, port), timeout=timeout).close()
    except OSError as exc:
        return FAILURE, _dial_error(exc, port)
    return SUCCESS, ""


def _http_probe(probe: Probe, port: int) -> tuple[str, str]:
    # pkg/probe/http/http.go DoHTTPProbe, with request.go's headers (User-Agent kube-probe, Accept */*, Host).
    headers = {"User-Agent": _USER_AGENT, "Accept": "*/*"}
    for name, value in probe.headers:
        headers[name.title()] = value
    headers.setdefault("Host", f"{_HOST}:{port}")
    target = probe.path if probe.path.startswith("/") else "/" + probe.path
    deadline = time.monotonic() + probe.timeout
    body = b""
    scheme = "https" if probe.scheme == "HTTPS" else "http"
    for _ in range(_MAX_REDIRECTS + 1):
        url = f"{scheme}://{_HOST}:{port}{target}"
        conn: http.client.HTTPConnection
        if scheme == "https":
            # pkg/probe/http/http.go New: the prober's transport has TLSClientConfig{InsecureSkipVerify: true}
            conn = http.client.HTTPSConnection(_HOST, port, timeout=max(0.01, deadline - time.monotonic()),
                                               context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection(_HOST, port, timeout=max(0.01, deadline - time.monotonic()))
        try:
            try:
                conn.connect()
            except ssl.SSLError as exc:
                if "WRONG_VERSION_NUMBER" in str(exc) or "record layer failure" in str(exc):
                    # Go's net/http when a plain-HTTP server answers the TLS ClientHello
                    return FAILURE, f'Get "{url}": http: server gave HTTP response to HTTPS client'
                return FAILURE, f'Get "{url}": {exc}'
            except OSError as exc:
                return FAILURE, f'Get "{url}": {_dial_error(exc, port)}'
            conn.request("GET", target, headers=headers)
            resp = conn.getresponse()
            body = resp.read(_MAX_BODY)
            status, location = resp.status, resp.getheader("Location") or ""
        except TimeoutError:
            return FAILURE, (f'Get "{url}": context deadline exceeded '
                             "(Client.Timeout exceeded while awaiting headers)")
        except (http.client.RemoteDisconnected, http.client.IncompleteRead):
            return FAILURE, f'Get "{url}": EOF'
        except (OSError, http.client.HTTPException) as exc:
            return FAILURE, f'Get "{url}": {exc}'
        finally:
            conn.close()
        if 300 <= status < 400 and location:
            # The prober follows redirects to the same host only (followNonLocalRedirects is false).
            loc = urlsplit(location)
            if loc.netloc in ("", f"{_HOST}:{port}") and loc.scheme in ("", scheme):
                target = (loc.path or "/") + (f"?{loc.query}" if loc.query else "")
                continue
        break
    text = body.decode("utf-8", "replace")
    if 200 <= status < 400:
        if status >= 300:
            return WARNING, f"Probe terminated redirects, Response body: {text}"
        return SUCCESS, text
    return FAILURE, f"HTTP probe failed with statuscode: {status}"


_NOT_RUN = {
    "exec": "exec probes are not run by the sandbox (a pod is a local process, there is no container to exec "
            "into); treated as success",
    "grpc": "gRPC probes are not run by the sandbox (its emulated images serve no gRPC health); treated as "
            "success",
}


def run_probe(probe: Probe, host_port: Callable[[int], int | None]) -> tuple[str, str, str]:
    """Run a probe once, as prober.go ``runProbe`` does.

    Args:
        probe: The probe.
        host_port: Maps a container port to the loopback port the kubelet bound for it (None when none).

    Returns:
        ``(result, output, error)``: result is :data:`SUCCESS`, :data:`FAILURE`, :data:`WARNING` or
        ``"unknown"``; output is what the event quotes; error is non-empty when the probe could not run.
    """
    if probe.handler in ("exec", "grpc"):
        return WARNING, _NOT_RUN[probe.handler], ""
    if probe.handler not in ("httpGet", "tcpSocket"):
        return _UNKNOWN, "", "missing probe handler"
    if probe.error:
        return _UNKNOWN, "", probe.error
    port = host_port(probe.port)
    if port is None:
        return _UNKNOWN, "", f"no loopback port for container port {probe.port}"
    if probe.handler == "tcpSocket":
        return (*_tcp_probe(port, probe.timeout), "")
    return (*_http_probe(probe, port), "")


# --- the worker ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """What a worker needs to know of its container (worker.go reads it from the status manager).

    Attributes:
        instance: Which run of the container (a new one resets the worker, like a new container ID); 0 before
            the first start.
        running: Whether its process runs.
        started_at: ``time.monotonic()`` when that process started.
        started: Whether the startup probe passed (True when there is none).
        finished: Whether it ended for good (the pod is terminal or the container is not restarted).
    """

    instance: int
    running: bool
    started_at: float
    started: bool
    finished: bool


class ProbeWorker:
    """Probes one container with one probe on its own thread, as pkg/kubelet/prober/worker.go does.

    Args:
        probe: The probe.
        name: A thread name.
        target: The container's current state; None when it is gone (the worker then ends).
        host_port: Maps a container port to its loopback port.
        report: Called with ``(instance, ok)`` when the probe's result changes (the results manager's ``Set``).
        record: Records an Event on the container: ``(type, reason, message)``.
    """

    def __init__(self, probe: Probe, name: str, target: Callable[[], Target | None],
                 host_port: Callable[[int], int | None], report: Callable[[int, bool], None],
                 record: Callable[[str, str, str], None]) -> None:
        self.probe = probe
        self._target = target
        self._host_port = host_port
        self._report = report
        self._record = record
        self._stop = threading.Event()
        self._trigger = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        # worker.go initialValue: readiness starts failed, liveness passed, startup unknown.
        self._initial: bool | None = {READINESS: False, LIVENESS: True}.get(probe.kind)
        self._instance = 0
        self._reported: bool | None = self._initial
        self._last: str | None = None
        self._run_length = 0
        self._on_hold = False

    def start(self) -> None:
        """Start probing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop probing (no probe result or Event comes after this returns, except one already being written)."""
        self._stop.set()
        self._trigger.set()

    def join(self, timeout: float) -> None:
        """Wait for the thread to end.

        Args:
            timeout: Seconds at most.
        """
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def trigger(self) -> None:
        """Probe now instead of at the next period (prober_manager.go's ``manualTriggerCh``)."""
        self._trigger.set()

    @property
    def alive(self) -> bool:
        """Whether the thread still runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and self._do_probe():
                self._trigger.wait(self.probe.period)
                self._trigger.clear()
        except Exception:  # a worker must never take the kubelet down (worker.go recovers from panics)
            log.exception("probe worker %s failed", self._thread.name)

    def _do_probe(self) -> bool:
        t = self._target()
        if t is None or t.finished:
            return False
        if t.instance == 0:
            return True  # not created yet
        if t.instance != self._instance:
            # A new container: start over from the initial value and resume probing.
            self._instance, self._reported, self._last, self._run_length = t.instance, self._initial, None, 0
            self._on_hold = False
        if self._on_hold or not t.running:
            return True
        if time.monotonic() - t.started_at < self.probe.initial_delay:
            return True
        if t.started == (self.probe.kind == STARTUP):
            return True  # startup probes stop once started; the others wait for it
        result, output, error = "", "", ""
        for _ in range(_MAX_RETRIES):
            result, output, error = run_probe(self.probe, self._host_port)
            if not error:
                break
        if self._stop.is_set():
            return False
        kind = self.probe.kind
        if error:
            self._record("Warning", "Unhealthy", f"{kind} probe errored and resulted in {result} state: {error}")
            return True  # worker.go: a prober error throws the result away
        if result == WARNING:
            self._record("Warning", "ProbeWarning", f"{kind} probe warning: {output}")
        elif result != SUCCESS:
            self._record("Warning", "Unhealthy", f"{kind} probe failed: {output}")
        ok = result in (SUCCESS, WARNING)
        outcome = SUCCESS if ok else FAILURE
        if outcome == self._last:
            self._run_length += 1
        else:
            self._last, self._run_length = outcome, 1
        threshold = self.probe.success_threshold if ok else self.probe.failure_threshold
        if self._run_length < threshold:
            return True
        if ok != self._reported:
            self._reported = ok
            self._report(t.instance, ok)
        if kind in (LIVENESS, STARTUP) and not ok:
            # Hold until the restarted container shows up (a new instance).
            self._on_hold, self._run_length = True, 0
        return True
