"""Record the seed scenario's incident on a sandbox: the journals shipped in ``data/journals/``.

``seed-incident`` is Gloo 1.3's (the default); ``seed-incident-current`` (``--profile current --without-pods``) the
same steps on a ``current`` sandbox, where nobody is blocked (Gloo >= 1.12 replaces invalid routes): the second
cluster of notebook 04's fleet cell.

The recording starts on an empty sandbox and holds, in order, a second or more apart:

1. steps 1 to 4 of the seed scenario (``STEP4``, applied by the admin): every route valid; probes;
2. the incident: ``rt-echo-3`` (echo's upstream typo, as ``echo-dev``/``team-echo``), then ``rt-foxtrot-4``
   (foxtrot's 0/100 change, as ``foxtrot-dev``/``team-foxtrot``), blocked because Gloo 1.3 keeps its last known
   good configuration; probes;
3. the settings patch (``replaceInvalidRoutes``, as ``ops``/``platform-ops``): foxtrot's change is served, echo's
   typo route answers 404; probes;
4. the revert (``rt-echo-2``, as ``echo-dev``); probes.

Probes go to ``/echo`` and ``/foxtrot``, with and without the canary header. Usage::

    python scripts/record_seed_incident.py [--out data/journals/seed-incident] [--without-pods] [--profile 1.3]
    python scripts/record_seed_incident.py --profile current --without-pods --out data/journals/seed-incident-current
    python scripts/record_seed_incident.py --logs data/imports/seed-incident --out /tmp/journal

With ``--logs DIR`` it also keeps what a cluster keeps when nobody records (``gloo-nb journal import`` reads them;
``data/imports/seed-incident`` is such a copy): the Gateway logs every request to ``/var/log/envoy/access.log`` (each
replica its own file, :data:`ACCESS_LOG_FORMAT`), a steady request to ``/foxtrot`` and ``/echo`` every
:data:`TRAFFIC_INTERVAL` seconds runs from the first probe to the end, and ``DIR`` gets the sandbox's
``audit.jsonl`` (``audit.k8s.io/v1`` Events) and ``access/<node id>.log`` for each replica.

The journal is about 200 kB with Pods (their kubelet status updates make a fifth of it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from gloo_nb._types import PROFILES
from gloo_nb.app.connect import connect_sandbox
from gloo_nb.app.manifests import read_documents
from gloo_nb.app.notebook import INCIDENT, REVERT, SEED, SETTINGS_PATCH, STEP4, NotebookGateway
from gloo_nb.app.probe import probe
from gloo_nb.app.record import RECORDED_KINDS, Recorder
from gloo_nb.kube import KubeClient
from gloo_nb.sandbox import runner

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "data" / "journals" / "seed-incident"
RBAC = SEED.parent / "rbac.yaml"

ECHO = ("echo-dev", "team-echo")
FOXTROT = ("foxtrot-dev", "team-foxtrot")
OPS = ("ops", "platform-ops")
PROBES: tuple[tuple[str, dict[str, str]], ...] = (
    ("/echo", {}), ("/echo", {"stage": "canary"}), ("/foxtrot", {}), ("/foxtrot", {"stage": "canary"}))
PAUSE = 1.0
"""Seconds between phases, so that the timeline reads well."""
ACCESS_LOG_PATH = "/var/log/envoy/access.log"
ACCESS_LOG_FORMAT = ('[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% '
                     '%RESPONSE_FLAGS% %DURATION% "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" "%UPSTREAM_CLUSTER%" '
                     '"%REQ(stage)%"\n')
"""Envoy's default format's first fields, then the upstream cluster and the ``stage`` header the canary routes match
on (without it a v2 answer could be the canary route's, and no access-log line would show foxtrot's change)."""
TRAFFIC_INTERVAL = 0.05
ENVOY_FLUSH_SECONDS = 11.0
"""Envoy writes access logs to files every 10 s (``file_flush_interval``'s default; Gloo's bootstrap keeps it)."""


@dataclass
class Recording:
    """What :func:`record_seed_incident` did.

    Attributes:
        out: The journal directory.
        state_dir: The sandbox's state directory (removed afterwards unless given).
        phases: ``(name, time.time() when it began)`` for each phase.
        recorder_errors: Problems the recorder met (should be empty).
    """

    out: Path
    state_dir: Path
    phases: list[tuple[str, float]] = field(default_factory=list)
    recorder_errors: list[str] = field(default_factory=list)


def _apply(kube: KubeClient, files: tuple[str, ...]) -> None:
    for name in files:
        for doc in read_documents(SEED / name):
            kube.apply(doc)


def _traffic(url: str, stop: threading.Event) -> None:
    """A request to /foxtrot and /echo every TRAFFIC_INTERVAL seconds, no header, until ``stop``."""
    while not stop.wait(TRAFFIC_INTERVAL):
        for path in ("/foxtrot", "/echo"):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url + path, timeout=2).read()  # noqa: S310 - the sandbox's loopback URL


def _keep_logs(state_dir: Path, logs: Path) -> None:
    """Copy the sandbox's audit log and each replica's access log into ``logs`` (replaced)."""
    from gloo_nb.sandbox.envoy import access_log_files

    if logs.exists():
        shutil.rmtree(logs)
    (logs / "access").mkdir(parents=True)
    shutil.copy(state_dir / "audit.jsonl", logs / "audit.jsonl")
    for node, files in access_log_files(state_dir).items():
        for f in files:
            if f.as_posix().endswith(ACCESS_LOG_PATH):
                shutil.copy(f, logs / "access" / f"{node}.log")


def record_seed_incident(out: Path, *, state_dir: Path | None = None, pods: bool = True,
                         requests: int = 50, profile: str = "1.3", logs: Path | None = None) -> Recording:
    """Start a sandbox, record the seed incident into ``out`` (replaced), stop everything.

    Args:
        out: The journal directory; removed first if it exists.
        state_dir: Where the sandbox keeps its state (default: a temporary directory, removed at the end).
        pods: Record Pods too (their kubelet status updates are a fifth of the journal).
        requests: Requests per probe.
        profile: The sandbox's Gloo behaviour profile (``1.3``, the seed scenario's; or ``current``).
        logs: Also keep the audit log and the replicas' access logs there (see the module's docstring).

    Returns:
        What was recorded.
    """
    temp = None
    if state_dir is None:
        temp = Path(tempfile.mkdtemp(prefix="gloo-nb-seed-"))
        state_dir = temp / "sandbox"
    if out.exists():
        shutil.rmtree(out)
    done = Recording(out, state_dir)
    info = runner.start(state_dir, gloo_version=profile, replicas=2, exit_with=os.getpid())
    try:
        with connect_sandbox(state_dir) as conn:
            kubeconfig = str(info.kubeconfig)
            as_ = {who: KubeClient.from_kubeconfig(kubeconfig, as_user=who[0], as_group=who[1])
                   for who in (ECHO, FOXTROT, OPS)}
            gateway = NotebookGateway(conn, owned=True, apply_changes=True, sandbox_dir=state_dir)
            kinds = [k for k in RECORDED_KINDS if pods or k != "Pod"]
            # Polled four times a second so that each change's time to applied reads to a quarter second.
            recorder = Recorder(conn, out, state_dir=state_dir, kinds=kinds, poll_seconds=0.25).start()
            try:
                def phase(name: str) -> None:
                    done.phases.append((name, time.time()))

                def settle_and_probe() -> None:
                    gateway.settle(timeout=30.0)
                    time.sleep(PAUSE)
                    for path, headers in PROBES:
                        recorder.record_probe(probe(info.gateway + path, requests, headers=headers))
                    time.sleep(PAUSE)

                stop_traffic = threading.Event()
                traffic = threading.Thread(target=_traffic, args=(info.gateway, stop_traffic), daemon=True)
                if logs is not None:
                    conn.kube.patch("Gateway", conn.namespace, "gateway-proxy", {"spec": {"options": {
                        "accessLoggingService": {"accessLog": [{"fileSink": {
                            "path": ACCESS_LOG_PATH, "stringFormat": ACCESS_LOG_FORMAT}}]}}}})
                phase("step4")
                _apply(conn.kube, STEP4)
                # The teams' and the platform's permissions (rbac.yaml's RoleBindings need the apps' namespaces).
                for doc in read_documents(RBAC):
                    conn.kube.apply(doc)
                settle_and_probe()
                if logs is not None:
                    traffic.start()
                phase("incident")
                _apply(as_[ECHO], INCIDENT[:1])
                time.sleep(PAUSE)
                _apply(as_[FOXTROT], INCIDENT[1:])
                settle_and_probe()
                phase("settings-patch")
                for doc in read_documents(SEED / SETTINGS_PATCH):
                    as_[OPS].patch("Settings", conn.namespace, "default", doc)
                settle_and_probe()
                phase("revert")
                _apply(as_[ECHO], REVERT)
                settle_and_probe()
            finally:
                stop_traffic.set()
                if traffic.is_alive():
                    traffic.join()
                recorder.stop()
                done.recorder_errors = list(recorder.errors)
            if logs is not None:
                time.sleep(ENVOY_FLUSH_SECONDS)
                _keep_logs(state_dir, logs)
    finally:
        runner.stop(state_dir)
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    return done


def main(argv: list[str] | None = None) -> int:
    """Run the script.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"the journal directory (default {DEFAULT_OUT})")
    parser.add_argument("--without-pods", action="store_true", help="leave Pods out (a smaller journal)")
    parser.add_argument("--logs", type=Path, default=None,
                        help="also keep the audit log and the replicas' access logs in this directory (replaced)")
    parser.add_argument("--profile", choices=PROFILES, default="1.3",
                        help="the sandbox's Gloo behaviour profile (default 1.3, the seed scenario's)")
    args = parser.parse_args(argv)
    done = record_seed_incident(args.out, pods=not args.without_pods, profile=args.profile, logs=args.logs)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    sys.stdout.write(f"recorded {', '.join(name for name, _ in done.phases)} into {args.out} ({size} bytes)\n")
    for problem in done.recorder_errors:
        sys.stdout.write(f"recorder: {problem}\n")
    return 1 if done.recorder_errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
