"""Journal benchmark: write and load 1,000,000 events; the recorder's CPU at 10 changes per second.

Prints, never asserts (bench rules):

* writing ``--events`` recorder-shaped events through ``JournalWriter`` (redaction, encoding, batched
  fsync), against the same lines written with a plain ``file.write`` (the baseline);
* loading them into frames (``read_journal(...).frame()``), against ``json.loads`` of every line of the
  same files (the baseline); target: under 3 s;
* ``gloo-nb record`` on a 1.3 sandbox with the seed scenario loaded: its CPU time (from
  ``/proc/<pid>/stat``) while idle and while a RouteTable changes 10 times a second, as a share of one
  core; target: the added load under 5 %.
* ``gloo-nb journal import`` of ``--audit-events`` Kubernetes audit events (1 % of them writes of the kinds gloo_nb
  reads, the rest reads, leases and Events as on a real cluster), against orjson-decoding every line of the same
  file (the baseline); target: under 10 s.
* dragging the time-travel slider over every moment of the shipped incident journal: the first pass
  (each moment rebuilt), then back from the cache; the ratio of the two (moved out of the tests).
* the fleet query (``gloo_nb.app.fleet.blocked_by_team``: blocked seconds per cluster and team, last 30 days) over
  ``--fleet-rows`` ``blocked`` rows (10 million) in a dataset written by ``gloo_nb.journal.dataset.write_dataset``
  (10 clusters x 40 days), in DuckDB; against ``SELECT count(*) FROM blocked`` through the same views and against
  pyarrow reading the columns the query reads (the baselines); target: under 2 s.

Usage: ``python bench/journal.py [--events 1000000] [--seconds 20] [--skip-recorder] [--fleet-rows 10000000]
[--only-fleet]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOAD_TARGET_S = 3.0
IMPORT_TARGET_S = 10.0
FLEET_TARGET_S = 2.0
OVERHEAD_TARGET = 0.05


def _event_data(i: int) -> dict[str, object]:
    # A kube.event as the recorder writes it for a RouteTable weight change (object trimmed).
    weight = i % 101
    return {"type": "MODIFIED", "kind": "RouteTable", "namespace": f"team-{i % 50}", "name": "routes",
            "resourceVersion": str(1000 + i), "generation": i, "specChanged": True, "statusChanged": False,
            "patch": [{"op": "replace", "path": "/spec/routes/1/routeAction/multi/destinations/0/weight",
                       "value": 100 - weight}],
            "actor": {"user": f"team-{i % 50}-dev", "groups": [], "via": "audit", "manager": ""}}


def bench_write_and_load(events: int) -> None:
    from gloo_nb.journal import JournalWriter, read_journal
    from gloo_nb.journal.events import Event, encode

    folder = Path(tempfile.mkdtemp(prefix="gloo-nb-bench-journal-"))
    plain = folder / "plain.jsonl"
    journal = folder / "journal"
    try:
        start = datetime(2026, 11, 28, tzinfo=UTC)
        t0 = time.perf_counter()
        with plain.open("w") as f:
            for i in range(events):
                f.write(encode(Event(start + timedelta(microseconds=i), "kube.event", "kube", _event_data(i))) + "\n")
        plain_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with JournalWriter(journal, batch_events=4096, batch_seconds=5) as w:
            for i in range(events):
                w.append("kube.event", _event_data(i), source="kube", time=start + timedelta(microseconds=i))
        write_s = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in journal.iterdir())
        print(f"write {events:,} events ({size / 1e6:.0f} MB, {len(list(journal.iterdir()))} files): "
              f"JournalWriter {write_s:.2f} s ({1e6 * write_s / events:.1f} us/event); "
              f"plain encode+write baseline {plain_s:.2f} s; ratio {write_s / plain_s:.2f}")

        import pandas  # noqa: F401  (imported before timing: a cold pandas import is not loading)

        files = sorted(journal.iterdir())
        gc.collect()
        t0 = time.perf_counter()
        gc.disable()
        try:
            for p in files:
                with p.open("rb") as f:
                    for line in f:
                        json.loads(line)
        finally:
            gc.enable()
        base_s = time.perf_counter() - t0
        gc.collect()
        t0 = time.perf_counter()
        loaded = read_journal(journal)
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        frame = loaded.frame()
        frame_s = time.perf_counter() - t0
        total = read_s + frame_s
        assert len(frame) == events, (len(frame), events)
        print(f"load into frames: {total:.2f} s (read {read_s:.2f} s + frame {frame_s:.2f} s); "
              f"json.loads per line baseline {base_s:.2f} s; ratio {total / base_s:.2f}; "
              f"target < {LOAD_TARGET_S:.0f} s: {'met' if total < LOAD_TARGET_S else 'NOT met'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_recorder(seconds: float) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from gloo_nb.app import notebook as nb
    from gloo_nb.kube import KubeClient
    from gloo_nb.sandbox import runner

    folder = Path(tempfile.mkdtemp(prefix="gloo-nb-bench-record-"))
    state = folder / "sandbox"
    proc: subprocess.Popen[bytes] | None = None
    try:
        info = runner.start(state, gloo_version="1.3", replicas=2, exit_with=os.getpid())
        gw = nb.open_gateway(sandbox_dir=state, apply_changes=True)
        try:
            gw.apply(nb.STEP4)
            gw.settle()
        finally:
            gw.close()
        proc = subprocess.Popen([sys.executable, "-m", "gloo_nb", "record", "--sandbox", str(state),
                                 "--out", str(folder / "journal")], stderr=subprocess.PIPE)
        assert proc.stderr is not None
        proc.stderr.readline()  # "recording into ..." once the initial list is written
        time.sleep(1.0)
        c0, t0 = _cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        idle = (_cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
        kube = KubeClient.from_kubeconfig(str(info.kubeconfig))
        changes = 0
        c0, t0 = _cpu_seconds(proc.pid), time.monotonic()
        while time.monotonic() - t0 < seconds:
            weight = changes % 101
            kube.patch("RouteTable", "foxtrot", "foxtrot-routes", {"metadata": {"annotations": {
                "bench.gloo-nb.io/change": str(changes)}}, "spec": {"routes": [
                    {"matchers": [{"prefix": "/foxtrot", "headers": [{"name": "stage", "value": "canary"}]}],
                     "routeAction": {"single": {"upstream": {"name": "foxtrot", "namespace": "gloo-system"},
                                                "subset": {"values": {"version": "v2"}}}}},
                    {"matchers": [{"prefix": "/foxtrot"}], "routeAction": {"multi": {"destinations": [
                        {"destination": {"upstream": {"name": "foxtrot", "namespace": "gloo-system"},
                                         "subset": {"values": {"version": "v1"}}}, "weight": 100 - weight},
                        {"destination": {"upstream": {"name": "foxtrot", "namespace": "gloo-system"},
                                         "subset": {"values": {"version": "v2"}}}, "weight": weight}]}}}]}})
            changes += 1
            time.sleep(max(0.0, t0 + changes / 10 - time.monotonic()))
        busy = (_cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
        rate = changes / (time.monotonic() - t0)
        print(f"gloo-nb record: idle {100 * idle:.1f} % of one core; at {rate:.1f} RouteTable changes/s "
              f"{100 * busy:.1f} %; added {100 * (busy - idle):.1f} %; target < {100 * OVERHEAD_TARGET:.0f} %: "
              f"{'met' if busy < OVERHEAD_TARGET else 'NOT met'}")
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        runner.stop(state)
        shutil.rmtree(folder, ignore_errors=True)


def bench_time_travel() -> None:
    from gloo_nb.analysis.timeline import load_timeline
    from gloo_nb.widgets.timeline import TimeTravelView

    view = TimeTravelView(load_timeline(REPO / "data" / "journals" / "seed-incident"))
    n = len(view.model)
    t0 = time.perf_counter()
    for i in range(n):
        view.slider.value = i
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in reversed(range(n)):
        view.slider.value = i
    again = time.perf_counter() - t0
    print(f"time travel over {n} moments: first pass {1000 * first / n:.1f} ms/moment, from the cache "
          f"{1000 * again / n:.2f} ms/moment; ratio first / cached {first / again:.0f}x")


def _audit_lines(path: Path, events: int) -> int:
    """Write an audit log as a busy cluster's: mostly reads, lease renewals and Events; 1 % RouteTable writes."""
    head = '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"%s","auditID":"%08d-0000-4000-8000-000000000000",'
    tail = ('"requestReceivedTimestamp":"%s","stageTimestamp":"%s"}\n')
    start = datetime(2026, 11, 28, tzinfo=UTC)
    writes = 0
    with path.open("w") as f:
        for i in range(events):
            t = (start + timedelta(milliseconds=i)).isoformat().replace("+00:00", "Z")
            k = i % 100
            if k == 0:
                writes += 1
                team = f"team-{(i // 100) % 50}"
                body = ('{"apiVersion":"gateway.solo.io/v1","kind":"RouteTable","metadata":{"name":"routes",'
                        f'"namespace":"{team}","resourceVersion":"{1000 + i}","generation":{i}}},"spec":{{"routes":['
                        '{"matchers":[{"prefix":"/a","headers":[{"name":"stage","value":"canary"}]}],"routeAction":'
                        '{"single":{"upstream":{"name":"a","namespace":"gloo-system"}}}},{"matchers":[{"prefix":"/a"}],'
                        '"routeAction":{"multi":{"destinations":[{"weight":%d,"destination":{"upstream":{"name":"a",'
                        '"namespace":"gloo-system"}}}]}}}]}}' % (i % 101))
                f.write(head % ("RequestResponse", i) + '"stage":"ResponseComplete","requestURI":"/apis/gateway.solo.io'
                        f'/v1/namespaces/{team}/routetables/routes","verb":"update","user":{{"username":"{team}-dev",'
                        '"groups":["system:authenticated"]},"sourceIPs":["10.0.0.9"],"userAgent":"kubectl/v1.32.4",'
                        f'"objectRef":{{"resource":"routetables","namespace":"{team}","name":"routes","apiGroup":'
                        '"gateway.solo.io","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},'
                        f'"requestObject":{body},"responseObject":{body},' + tail % (t, t))
            elif k < 40:
                lease = ('"stage":"ResponseComplete","requestURI":"/apis/coordination.k8s.io/v1/namespaces/'
                         'kube-system/leases/kube-scheduler","verb":"update","user":{"username":"system:kube-'
                         'scheduler","groups":["system:authenticated"]},"sourceIPs":["10.0.0.2"],"userAgent":'
                         '"kube-scheduler/v1.32.4","objectRef":{"resource":"leases","namespace":"kube-system",'
                         '"name":"kube-scheduler","apiGroup":"coordination.k8s.io","apiVersion":"v1"},'
                         '"responseStatus":{"metadata":{},"code":200},"requestObject":{"kind":"Lease","apiVersion":'
                         '"coordination.k8s.io/v1","metadata":{"name":"kube-scheduler","namespace":"kube-system"},'
                         '"spec":{"holderIdentity":"node-1_0f6c","leaseDurationSeconds":15,"renewTime":"')
                f.write(head % ("RequestResponse", i) + lease + t + '"}},' + tail % (t, t))
            else:
                f.write(head % ("Metadata", i) + '"stage":"ResponseComplete","requestURI":"/api/v1/namespaces/'
                        'default/pods?limit=500","verb":"list","user":{"username":"system:serviceaccount:kube-system:'
                        'replicaset-controller","groups":["system:serviceaccounts"]},"sourceIPs":["10.0.0.3"],'
                        '"userAgent":"kube-controller-manager/v1.32.4","objectRef":{"resource":"pods","namespace":'
                        '"default","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},' + tail % (t, t))
    return writes


def bench_audit_import(events: int) -> None:
    import orjson

    from gloo_nb.app.journal_import import import_journal

    folder = Path(tempfile.mkdtemp(prefix="gloo-nb-bench-audit-"))
    try:
        log = folder / "audit.log"
        writes = _audit_lines(log, events)
        gc.collect()
        t0 = time.perf_counter()
        with log.open("rb") as f:
            for line in f:
                orjson.loads(line)
        base_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        summary = import_journal([log], folder / "journal", gloo_version="current")
        import_s = time.perf_counter() - t0
        size = log.stat().st_size / 1e6
        print(f"journal import: {events:,} audit events ({size:.0f} MB, {writes:,} writes of interest) -> "
              f"{summary.events:,} journal events in {import_s:.2f} s; orjson.loads per line baseline {base_s:.2f} s; "
              f"ratio {import_s / base_s:.2f}; target < {IMPORT_TARGET_S:.0f} s: "
              f"{'met' if import_s < IMPORT_TARGET_S else 'NOT met'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _blocked_rows(rows: int, cluster: int, days: int, rng: object) -> object:
    """``rows`` blocked rows of one cluster spread over ``days`` days, built column-wise with numpy and pyarrow."""
    import numpy as np
    import pyarrow as pa

    assert isinstance(rng, np.random.Generator)
    teams = pa.array([f"team-{t:03d}" for t in range(200)])
    causes = pa.array([f"team-{t:03d}/routes: Route Warning: InvalidDestinationWarning" for t in range(200)])
    newest = np.datetime64("2026-12-07T00:00:00", "us")
    start = newest - rng.integers(0, days * 86_400_000_000, rows).astype("timedelta64[us]")
    seconds = rng.exponential(30.0, rows)
    end = start + (seconds * 1e6).astype("timedelta64[us]")
    team = rng.integers(0, 200, rows).astype(np.int32)
    by = rng.integers(0, 200, rows).astype(np.int32)
    ts = pa.timestamp("us", tz="UTC")
    # Dictionary arrays: 200 distinct strings over millions of rows (write_dataset casts them to the schema's strings).
    return pa.table({
        "journal": pa.array(np.full(rows, f"{cluster:016x}")), "incident": pa.array(rng.integers(1, 5, rows, np.int32)),
        "profile": pa.array(np.full(rows, "current")),
        "team": pa.DictionaryArray.from_arrays(team, teams),
        "blockedBy": pa.ListArray.from_arrays(pa.array(np.arange(rows + 1, dtype=np.int32)),
                                              pa.DictionaryArray.from_arrays(by, teams).cast(pa.string())),
        "resource": pa.DictionaryArray.from_arrays(team, teams), "kind": pa.array(np.full(rows, "RouteTable")),
        "start": pa.array(start).cast(ts), "end": pa.array(end).cast(ts), "pendingSince": pa.array(start).cast(ts),
        "cause": pa.DictionaryArray.from_arrays(by, causes), "seconds": pa.array(seconds)})


def bench_fleet_query(rows: int, clusters: int = 10, days: int = 40) -> None:
    import numpy as np
    import pyarrow.dataset as pads

    from gloo_nb.app import fleet
    from gloo_nb.journal.dataset import write_dataset

    folder = Path(tempfile.mkdtemp(prefix="gloo-nb-bench-fleet-"))
    try:
        rng = np.random.default_rng(17)
        t0 = time.perf_counter()
        for c in range(clusters):
            share = rows // clusters + (1 if c < rows % clusters else 0)
            write_dataset(folder, {"blocked": _blocked_rows(share, c, days, rng)}, cluster=f"cluster-{c:02d}",
                          journal=f"{c:016x}")
        write_s = time.perf_counter() - t0
        files = len(list(folder.glob("blocked/*/*/*.parquet")))
        size = sum(p.stat().st_size for p in folder.rglob("*.parquet"))
        fleet.query(folder, "SELECT 1")  # DuckDB loaded and initialised before timing

        t0 = time.perf_counter()
        answer = fleet.blocked_by_team(folder, days=30)
        query_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        counted = int(fleet.query(folder, "SELECT count(*) AS n FROM blocked")["n"].iloc[0])
        count_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        read = pads.dataset(folder / "blocked", format="parquet", partitioning="hive").to_table(
            columns=["cluster", "day", "team", "seconds", "start"])
        arrow_s = time.perf_counter() - t0
        assert counted == rows == read.num_rows, (counted, rows, read.num_rows)
        assert answer["cluster"].nunique() == clusters and len(answer) == clusters * 200, answer
        print(f"fleet dataset: {rows:,} blocked rows, {clusters} clusters x {days} days, {files} files, "
              f"{size / 1e6:.0f} MB, written in {write_s:.1f} s")
        print(f"fleet query (blocked seconds per cluster and team, last 30 days; {len(answer)} rows): {query_s:.2f} s; "
              f"count(*) baseline {count_s:.2f} s (ratio {query_s / count_s:.1f}); pyarrow reading the columns "
              f"{arrow_s:.2f} s (ratio {query_s / arrow_s:.2f}); target < {FLEET_TARGET_S:.0f} s: "
              f"{'met' if query_s < FLEET_TARGET_S else 'NOT met'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print the results.

    Args:
        argv: Command-line arguments.

    Returns:
        0.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="each recorder phase (idle, busy)")
    parser.add_argument("--skip-recorder", action="store_true")
    parser.add_argument("--audit-events", type=int, default=1_000_000)
    parser.add_argument("--fleet-rows", type=int, default=10_000_000, help="blocked rows of the fleet query (0: skip)")
    parser.add_argument("--only-fleet", action="store_true", help="run the fleet query bench alone")
    args = parser.parse_args(argv)
    if args.only_fleet:
        bench_fleet_query(args.fleet_rows)
        return 0
    bench_audit_import(args.audit_events)
    bench_time_travel()
    bench_write_and_load(args.events)
    if not args.skip_recorder:
        bench_recorder(args.seconds)
    if args.fleet_rows:
        bench_fleet_query(args.fleet_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
