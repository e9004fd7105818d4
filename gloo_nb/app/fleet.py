"""Many clusters: export journals into one Parquet dataset partitioned by cluster and day, and query it with DuckDB.

:func:`export` writes a journal's ``events``, ``blocked``, ``changes`` and ``incidents`` tables
(:mod:`gloo_nb.journal.dataset` says the layout, :mod:`gloo_nb.analysis.fleet` the rows); :func:`query` runs SQL
over one or more datasets (one per cluster or machine: unioned), each table a DuckDB view. The same files read
unchanged with pandas/pyarrow or Spark (``spark.read.parquet("OUT/blocked")``); the README documents the schema.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from gloo_nb._types import check_profile
from gloo_nb.analysis.fleet import fleet_tables
from gloo_nb.analysis.incident import incident_summary
from gloo_nb.analysis.timeline import Timeline
from gloo_nb.errors import UsageError
from gloo_nb.journal import read_journal
from gloo_nb.journal.dataset import (
    TABLES,
    DatasetError,
    Written,
    check_cluster,
    cluster_from_connection,
    dataset_tables,
    journal_id,
    schemas,
    write_dataset,
)
from gloo_nb.journal.schema import RECORDER_START

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

_T = TypeVar("_T")

__all__ = ["BLOCKED_BY_TEAM_SQL", "QueryError", "blocked_by_team", "connect", "export", "query", "query_table"]


class QueryError(UsageError):
    """A fleet query cannot run: DuckDB refused the SQL (the message is DuckDB's first line)."""


def export(journal_dirs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], out: str | os.PathLike[str],
           *, cluster: str | None = None, profile: str | None = None) -> Written:
    """Export journals (merged by time, as ``gloo-nb journal summary`` reads them) into a fleet dataset.

    Args:
        journal_dirs: The journal directories (or one).
        out: The dataset folder (created; other journals' files in it stay).
        cluster: The cluster's name; default: the journal's ``recorder.start`` ``connection`` (kubeconfig context,
            else the sandbox's directory name).
        profile: The Gloo profile to replay (default: the recorder's).

    Returns:
        What was written (rows per table, files).

    Raises:
        UsageError: No cluster name given and the journal does not say, a bad cluster name or profile, or ``out``
            names a ``.parquet`` file (the older single file: :meth:`gloo_nb.journal.Journal.to_parquet`).
        JournalError: A journal directory is missing, empty or corrupt.
        DatasetError: The dataset cannot be written.
    """
    dirs = [journal_dirs] if isinstance(journal_dirs, str | os.PathLike) else list(journal_dirs)
    if str(out).endswith(".parquet"):
        raise UsageError(f"{out}: a dataset is a folder; for the older single file of events use "
                         "read_journal(...).to_parquet(FILE)")
    journal = read_journal(*dirs)
    if cluster is not None:
        name = check_cluster(cluster)
    else:
        starts = journal.of_kind(RECORDER_START).events
        found = cluster_from_connection(starts[-1].data.get("connection")) if starts else None
        if found is None:
            raise UsageError(f"{', '.join(map(str, dirs))}: the journal does not name its cluster (no recorder.start "
                             "with a kubeconfig context or a sandbox): give --cluster NAME")
        name = found
    timeline = Timeline(journal, profile=check_profile(profile, source="profile") if profile else None)
    ident = journal_id(journal.files)
    tables = fleet_tables(timeline, ident, incident_summary(timeline))
    return write_dataset(out, tables, cluster=name, journal=ident)


def connect(*dirs: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per table over the datasets' files (unioned by column name).

    Each view reads ``read_parquet(['DIR/<table>/**/*.parquet', ...], hive_partitioning = true, union_by_name =
    true)``: ``cluster`` and ``day`` come from the folder names, typed VARCHAR and DATE with ``hive_types`` (DuckDB's
    hive partitioning docs: without it, ``hive_types_autocast`` detects DATE, TIMESTAMP and BIGINT from the values,
    so a cluster named ``123`` would read as a number in one dataset and a string in another). A table without
    files is an empty view with the schema's columns. Times are shown in UTC.

    Args:
        *dirs: Dataset folders (written by :func:`export`).

    Returns:
        The connection (close it when done).

    Raises:
        UsageError: No folder given.
        DatasetError: A folder holds no dataset.
    """
    import duckdb

    if not dirs:
        raise UsageError("journal query: give at least one dataset folder (written by journal export --parquet)")
    files: dict[str, list[str]] = {t: [] for t in TABLES}
    for d in dirs:
        for table, found in dataset_tables(d).items():
            if found:
                # One glob per dataset and table, as the README's DuckDB example reads it.
                files[table].append(str(Path(d) / table / "**" / "*.parquet"))
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        for table, globs in files.items():
            if globs:
                listed = ", ".join(_literal(g) for g in globs)
                con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}], hive_partitioning = true, "
                            "union_by_name = true, hive_types = {'cluster': 'VARCHAR', 'day': 'DATE'})")
            else:
                con.register(f"_empty_{table}", _empty(table))
                con.execute(f"CREATE VIEW {table} AS SELECT * FROM _empty_{table}")
    except duckdb.Error as exc:
        con.close()
        raise DatasetError(f"{', '.join(map(str, dirs))}: cannot read the dataset: {_first_line(exc)}") from None
    return con


def query(*dirs_and_sql: str | os.PathLike[str], sql: str | None = None,
          params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run SQL over one or more fleet datasets (tables ``events``, ``blocked``, ``changes``, ``incidents``).

    ``query(DIR, ..., "SQL")`` like ``gloo-nb journal query DIR... "SQL"``, or ``query(DIR, ..., sql="SQL")``.

    Args:
        *dirs_and_sql: Dataset folders, then the SQL when ``sql`` is not given.
        sql: The SQL (DuckDB's dialect).
        params: Values for the SQL's placeholders: a list for ``?`` or ``$1``, a mapping for ``$name``.

    Returns:
        The result (times as ``datetime64[us, UTC]``).

    Raises:
        UsageError: No SQL or no folder given.
        DatasetError: A folder holds no dataset.
        QueryError: DuckDB refused the SQL.
    """
    return _run(dirs_and_sql, sql, params, lambda result: result.df())


def query_table(*dirs_and_sql: str | os.PathLike[str], sql: str | None = None,
                params: Sequence[Any] | Mapping[str, Any] | None = None) -> pa.Table:
    """:func:`query`, the result as a pyarrow table (exact types: dates stay dates, lists stay lists).

    Args:
        *dirs_and_sql: Dataset folders, then the SQL when ``sql`` is not given.
        sql: The SQL.
        params: Values for the SQL's placeholders.

    Returns:
        The result.

    Raises:
        UsageError: No SQL or no folder given.
        DatasetError: A folder holds no dataset.
        QueryError: DuckDB refused the SQL.
    """
    return _run(dirs_and_sql, sql, params, lambda result: result.to_arrow_table())


def _run(dirs_and_sql: Sequence[str | os.PathLike[str]], sql: str | None,
         params: Sequence[Any] | Mapping[str, Any] | None, fetch: Callable[[Any], _T]) -> _T:
    import duckdb

    dirs = list(dirs_and_sql)
    if sql is None:
        if not dirs or not isinstance(dirs[-1], str):
            raise UsageError("journal query: give the SQL after the dataset folders")
        sql = str(dirs.pop())
    con = connect(*dirs)
    try:
        bound = None if params is None else dict(params) if isinstance(params, Mapping) else list(params)
        # A relation, not a DB-API cursor: it hands its rows to pandas or Arrow without an extra copy. A statement
        # that returns nothing (SET, CREATE) gives None: an empty result.
        relation = con.sql(sql, params=bound)
        return fetch(relation if relation is not None else con.sql("SELECT 1 WHERE false"))
    except duckdb.Error as exc:
        raise QueryError(f"SQL error: {_first_line(exc)}") from None
    finally:
        con.close()


BLOCKED_BY_TEAM_SQL = """\
WITH newest AS (SELECT greatest((SELECT max(day) FROM events), (SELECT max(day) FROM blocked)) AS day),
window_clusters AS (
    SELECT cluster FROM events, newest WHERE events.day > newest.day - $days::INTEGER
    UNION SELECT cluster FROM blocked, newest WHERE blocked.day > newest.day - $days::INTEGER),
per_team AS (
    SELECT cluster, team, sum(seconds) AS blockedSeconds, count(*) AS blocks, min(start) AS firstBlock
    FROM blocked, newest WHERE blocked.day > newest.day - $days::INTEGER
    GROUP BY cluster, team)
SELECT c.cluster, p.team, coalesce(p.blockedSeconds, 0.0) AS blockedSeconds, coalesce(p.blocks, 0) AS blocks,
       p.firstBlock
FROM window_clusters c LEFT JOIN per_team p USING (cluster)
ORDER BY c.cluster, blockedSeconds DESC, p.team
"""
"""Which teams were blocked how long, per cluster, over the last ``$days`` days up to the newest data's day.

The newest day is the latest of ``events`` and ``blocked``. Every cluster with events or blocks in the window has a
row (a cluster where nobody was blocked: one row, team null, 0 s).
Rows of one team that overlap in time add up here; ``incidents.impact`` holds each incident's union per team.
"""


def blocked_by_team(*dirs: str | os.PathLike[str], days: int = 30) -> pd.DataFrame:
    """Which teams were blocked how long, per cluster, in the last ``days`` days (:data:`BLOCKED_BY_TEAM_SQL`).

    "Last" counts back from the newest day in the data, not from today, so the answer stays put as data ages.

    Args:
        *dirs: Dataset folders.
        days: How many days, the newest included.

    Returns:
        Columns cluster, team (null where nobody was blocked), blockedSeconds, blocks, firstBlock.

    Raises:
        UsageError: ``days`` is below 1.
        DatasetError: A folder holds no dataset.
    """
    if days < 1:
        raise UsageError(f"days must be 1 or more, got {days}")
    return query(*dirs, sql=BLOCKED_BY_TEAM_SQL, params={"days": days})


def _empty(table: str) -> Any:
    import pyarrow as pa

    schema = schemas()[table]
    return schema.append(pa.field("cluster", pa.string())).append(pa.field("day", pa.date32())).empty_table()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2])[:500] if lines else type(exc).__name__
