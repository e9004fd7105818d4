"""The fleet dataset: journals exported as Parquet partitioned by cluster and day, queried with real DuckDB."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from gloo_nb.analysis.incident import incident_summary
from gloo_nb.analysis.timeline import load_timeline
from gloo_nb.app import fleet
from gloo_nb.app.resources import seed_incident_journal
from gloo_nb.errors import UsageError
from gloo_nb.journal.dataset import (
    SCHEMA_FILE,
    SCHEMA_VERSION,
    TABLES,
    DatasetError,
    check_cluster,
    cluster_from_connection,
    schemas,
)

pytestmark = pytest.mark.unit

SEED = seed_incident_journal()
CURRENT = seed_incident_journal("current")
FOXTROT_CAUSE = "echo/echo-routes: Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {echo-typo " \
                "gloo-system} not found"


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))


def _journal(folder: Path, times: list[str], context: str | None = "kind-prod") -> Path:
    """A small journal written as the recorder writes it: a recorder.start, then one probe per time."""
    folder.mkdir(parents=True, exist_ok=True)
    connection = {"kubeconfig": "/k", "context": context} if context else {"kubeconfig": "/k"}
    lines = [{"time": times[0], "kind": "recorder.start", "source": "recorder",
              "data": {"profile": "current", "namespace": "gloo-system", "replicas": [], "connection": connection}}]
    lines += [{"time": t, "kind": "probe.result", "source": "probe",
               "data": {"url": "http://x/", "headers": {}, "requests": 1, "shares": []}} for t in times]
    (folder / "journal-000001.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder


def test_export_writes_hive_partitions_with_the_schema_and_the_timelines_rows(tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    written = fleet.export([SEED], out, cluster="prod-eu")
    timeline = load_timeline(SEED)
    summary = incident_summary(timeline)
    ident = written.journal
    assert len(ident) == 16 and written.cluster == "prod-eu"
    # One file per table and day, named by the journal: the seed incident happened on one day.
    assert _files(out) == [f"{t}/cluster=prod-eu/day=2026-11-28/{ident}.parquet" for t in sorted(TABLES)]
    doc = json.loads((out / SCHEMA_FILE).read_text())
    assert doc["schemaVersion"] == SCHEMA_VERSION
    assert [p["name"] for p in doc["partitions"]] == ["cluster", "day"]
    for table, schema in schemas().items():
        path = out / table / "cluster=prod-eu" / "day=2026-11-28" / f"{ident}.parquet"
        assert pq.read_schema(path).remove_metadata() == schema, table  # partition columns stay in the path
        assert doc["tables"][table] == [{"name": f.name, "type": str(f.type)} for f in schema]
    assert schemas()["events"].field("time").type == pa.timestamp("us", tz="UTC")
    assert schemas()["blocked"].field("blockedBy").type == pa.list_(pa.string())
    assert written.rows == {"events": len(timeline.journal), "blocked": len(timeline.blocked_frame()),
                            "changes": len(timeline.changes_frame()), "incidents": len(summary.incidents)}
    assert written.rows["blocked"] == 1 and written.rows["incidents"] == 1 and written.rows["changes"] > 5

    # pyarrow reads the dataset with the partitions as columns (what Spark's spark.read.parquet does too).
    blocked = ds.dataset(out / "blocked", format="parquet", partitioning="hive").to_table().to_pylist()
    (row,) = blocked
    frame = timeline.blocked_frame().iloc[0]
    assert (row["cluster"], row["team"], row["blockedBy"], row["resource"], row["cause"], row["incident"],
            row["profile"], row["journal"]) == ("prod-eu", "foxtrot", ["echo"], "foxtrot/foxtrot-routes",
                                                FOXTROT_CAUSE, 1, "1.3", ident)
    assert row["seconds"] == pytest.approx(frame["seconds"]) and row["start"] == frame["start"].to_pydatetime()
    assert row["routes"] == list(frame["routes"])
    events = pq.read_table(out / "events").sort_by("seq")
    assert events["seq"].to_pylist() == list(range(len(timeline.journal)))
    assert events["kind"].to_pylist() == list(timeline.journal.frame()["kind"].astype(str))
    first = json.loads(events["data"][0].as_py())
    assert events["kind"][0].as_py() == "recorder.start" and first["profile"] == "1.3"
    (incident,) = pq.read_table(out / "incidents").to_pylist()
    (impact,) = incident["impact"]
    assert (incident["causeResource"], incident["causeTeam"], incident["fixResource"], incident["fixActor"],
            impact["team"]) == ("echo/echo-routes", "echo", "gloo-system/default", "ops", "foxtrot")
    assert incident["secondsToRecover"] == pytest.approx(summary.incidents[0].time_to_recover)
    changes = pq.read_table(out / "changes").to_pylist()
    assert [c["actor"] for c in changes] == list(timeline.changes_frame()["actor"])


def test_reexport_replaces_its_own_files_and_keeps_other_journals(tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    first = fleet.export(SEED, out, cluster="c1")
    other = fleet.export(_journal(tmp_path / "other", ["2026-11-28T10:00:00Z", "2026-11-28T10:00:01Z"]), out,
                         cluster="c1")
    assert other.journal != first.journal
    before = _files(out)
    again = fleet.export(SEED, out, cluster="c1")
    assert _files(out) == before and again.removed == []
    counts = fleet.query(out, "SELECT journal, count(*) AS n FROM events GROUP BY journal ORDER BY n")
    assert dict(zip(counts["journal"], counts["n"], strict=True)) == {other.journal: 3,
                                                                      first.journal: first.rows["events"]}
    # The other journal grew into the next day (same first line: the same journal): its old day's file goes.
    _journal(tmp_path / "other", ["2026-11-28T10:00:00Z", "2026-11-29T09:00:00Z"])
    grown = fleet.export(tmp_path / "other", out, cluster="c1")
    assert grown.journal == other.journal
    assert sorted(str(p.relative_to(out)) for p in grown.files) == [
        f"events/cluster=c1/day=2026-11-28/{other.journal}.parquet",
        f"events/cluster=c1/day=2026-11-29/{other.journal}.parquet"]
    days = fleet.query(out, "SELECT CAST(day AS VARCHAR) AS day, count(*) AS n FROM events "
                            f"WHERE journal = '{other.journal}' GROUP BY day ORDER BY day")
    assert days.to_dict("records") == [{"day": "2026-11-28", "n": 2}, {"day": "2026-11-29", "n": 1}]
    # Moved to another cluster name: its files under the old name go.
    moved = fleet.export(tmp_path / "other", out, cluster="c2")
    assert {str(p.relative_to(out)).split("/")[1] for p in moved.removed} == {"cluster=c1"}
    assert fleet.query(out, "SELECT DISTINCT cluster FROM events ORDER BY 1")["cluster"].tolist() == ["c1", "c2"]


def test_two_clusters_queried_together(tmp_path: Path) -> None:
    one, two = tmp_path / "machine-a", tmp_path / "machine-b"
    fleet.export(SEED, one, cluster="gloo-1-3")
    fleet.export(CURRENT, two, cluster="gloo-current")
    foxtrot = incident_summary(load_timeline(SEED)).incidents[0].impact[0]
    answer = fleet.blocked_by_team(one, two, days=30)
    rows = answer.to_dict("records")
    assert [r["cluster"] for r in rows] == ["gloo-1-3", "gloo-current"]  # both, the one nobody was blocked on too
    assert rows[0]["team"] == "foxtrot" and rows[0]["blocks"] == 1
    assert rows[0]["blockedSeconds"] == pytest.approx(foxtrot.seconds)
    assert rows[1]["blockedSeconds"] == 0 and answer["team"].isna().tolist() == [False, True]
    # "Last N days" counts back from the newest day in the data: one day keeps only the newer cluster.
    assert fleet.blocked_by_team(one, two, days=1)["cluster"].tolist() == ["gloo-current"]
    # The empty table of a dataset is a typed, empty view.
    empty = fleet.query(two, "SELECT team, seconds, cluster, day FROM blocked")
    assert len(empty) == 0 and list(empty.columns) == ["team", "seconds", "cluster", "day"]
    profiles = fleet.query(one, two, sql="SELECT cluster, any_value(profile) AS p FROM changes GROUP BY 1 ORDER BY 1")
    assert profiles["p"].tolist() == ["1.3", "current"]
    table = fleet.query_table(one, two, "SELECT cluster, day FROM incidents")
    assert table.schema.field("day").type == pa.date32() and table.num_rows == 1


def test_cluster_names(tmp_path: Path) -> None:
    assert cluster_from_connection({"kubeconfig": "/k", "context": "arn:aws:eks:eu-west-1:1:cluster/prod"}) == \
        "arn-aws-eks-eu-west-1-1-cluster-prod"
    assert cluster_from_connection({"sandbox": "/tmp/x/my-sandbox"}) == "my-sandbox"
    assert cluster_from_connection({"kubeconfig": "/k"}) is None and cluster_from_connection(None) is None
    assert check_cluster("prod.eu_1-a") == "prod.eu_1-a"
    for bad in ("", "a/b", "../x", "-x", "x" * 101):
        with pytest.raises(UsageError, match="--cluster"):
            check_cluster(bad)
    written = fleet.export(_journal(tmp_path / "j", ["2026-11-28T10:00:00Z"]), tmp_path / "out")
    assert written.cluster == "kind-prod"
    with pytest.raises(UsageError, match="give --cluster NAME"):
        fleet.export(_journal(tmp_path / "nameless", ["2026-11-28T10:00:00Z"], context=None), tmp_path / "out")
    with pytest.raises(DatasetError, match="no gloo-nb dataset here"):
        fleet.query(tmp_path / "j", "SELECT 1")
    with pytest.raises(UsageError, match="a dataset is a folder"):
        fleet.export(SEED, tmp_path / "x.parquet", cluster="c")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gloo_nb", "journal", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_export_query_and_errors(tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    done = _cli("export", str(SEED), "--parquet", str(out), "--cluster", "prod")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("150 events, 1 blocked, ") and "(cluster prod, journal " in done.stdout
    sql = "SELECT cluster, team, blockedBy, round(seconds, 1) AS s, day FROM blocked"
    text = _cli("query", str(out), sql)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["cluster", "team", "blockedBy", "s", "day"] and lines[-1] == "(1 row)"
    assert lines[2].split() == ["prod", "foxtrot", '["echo"]', "2.6", "2026-11-28"]
    as_json = json.loads(_cli("query", str(out), sql, "--json").stdout)
    assert as_json == [{"cluster": "prod", "team": "foxtrot", "blockedBy": ["echo"], "s": 2.6, "day": "2026-11-28"}]
    times = json.loads(_cli("query", str(out), "SELECT start FROM incidents", "--json").stdout)
    assert times[0]["start"].startswith("2026-11-28T11:57:") and times[0]["start"].endswith("Z")
    assert _cli("query", str(out), sql, "--csv").stdout.splitlines() == [
        "cluster,team,blockedBy,s,day", 'prod,foxtrot,"[""echo""]",2.6,2026-11-28']
    for args, message in ((["query", str(out), "SELECT nope FROM blocked"], "SQL error: Binder Error"),
                          (["query", str(tmp_path), "SELECT 1"], "no gloo-nb dataset here"),
                          (["query", str(out)], "give the dataset folders, then the SQL"),
                          (["export", str(SEED), "--parquet", str(out), "--cluster", "a/b"], "cluster name 'a/b'"),
                          (["export", str(_journal(tmp_path / "j", ["2026-11-28T10:00:00Z"], context=None)),
                            "--parquet", str(out)], "give --cluster NAME")):
        bad = _cli(*args)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        assert message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr


def test_cli_parquet_file_keeps_the_older_single_file(tmp_path: Path) -> None:
    out = tmp_path / "events.parquet"
    done = _cli("export", str(SEED), "--parquet", str(out))
    assert done.returncode == 0, done.stderr
    assert out.is_file() and done.stdout.split()[:3] == ["150", "events", "->"]
    assert pq.read_schema(out).names == ["time", "kind", "source", "data"]
    shutil.rmtree(tmp_path / "nothing", ignore_errors=True)
