"""The fleet dataset: journals exported as Parquet tables, Hive-partitioned by cluster and day.

Layout (``gloo-nb journal export DIR... --parquet OUT``)::

    OUT/_schema.json                                        the tables' columns and types, SCHEMA_VERSION
    OUT/<table>/cluster=<name>/day=<YYYY-MM-DD>/<journal id>.parquet

Tables: :data:`TABLES` (``events``, ``blocked``, ``changes``, ``incidents``). ``cluster`` and ``day`` are Hive
partition columns: they live in the folder names, not in the files. A column in both is what Spark's
``DataSource.getOrInferFileFormatSchema`` (sql/core/.../execution/datasources/DataSource.scala) checks with
``checkColumnNameDuplication(..., "in the data schema and the partition schema")``: an error in older releases, a
warning since SPARK-18108/SPARK-21144, and an ambiguous column either way. Each journal writes one file per table
and day, named after its id (:func:`journal_id`), so a re-export replaces its own files and leaves other journals'
files in the same partition alone. The compatibility promise: columns are only ever added (readers union files by name).

This module is the adapter (schema, file names, writing); the rows come from :mod:`gloo_nb.analysis.fleet`, the
queries from :mod:`gloo_nb.app.fleet`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gloo_nb.errors import BadDataError, UsageError
from gloo_nb.journal.events import JournalError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DAY_COLUMNS", "PARTITIONS", "SCHEMA_FILE", "SCHEMA_VERSION", "TABLES", "DatasetError", "Written",
           "check_cluster", "cluster_from_connection", "dataset_tables", "journal_id", "schemas", "write_dataset"]

SCHEMA_VERSION = 1
"""Raised when a column is added (never for a removal or a type change: those do not happen)."""

SCHEMA_FILE = "_schema.json"
"""At the dataset's root; Spark and pyarrow skip files whose name begins with ``_``."""

TABLES = ("events", "blocked", "changes", "incidents")
"""The tables, each a folder of the dataset."""

PARTITIONS = ("cluster", "day")
"""The Hive partition columns, in folder order: ``cluster`` (string) and ``day`` (a date, UTC)."""

DAY_COLUMNS: Mapping[str, str] = {"events": "time", "blocked": "start", "changes": "time", "incidents": "start"}
"""The timestamp column whose UTC date is a row's ``day``."""

_CLUSTER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class DatasetError(BadDataError):
    """A fleet dataset cannot be read or written (no dataset at a folder, a file that is not Parquet)."""


def schemas() -> dict[str, pa.Schema]:
    """The schema of each table's files (the partition columns ``cluster`` and ``day`` come from the folders).

    Returns:
        Table name -> its pyarrow schema; the one definition of the columns (the README documents each).
    """
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    strings = pa.list_(pa.string())
    return {
        "events": pa.schema([("journal", pa.string()), ("seq", pa.int64()), ("time", ts), ("kind", pa.string()),
                             ("source", pa.string()), ("data", pa.string())]),
        "blocked": pa.schema([("journal", pa.string()), ("incident", pa.int32()), ("profile", pa.string()),
                              ("team", pa.string()), ("blockedBy", strings), ("resource", pa.string()),
                              ("kind", pa.string()), ("start", ts), ("end", ts), ("pendingSince", ts),
                              ("cause", pa.string()), ("routes", strings), ("seconds", pa.float64())]),
        "changes": pa.schema([("journal", pa.string()), ("profile", pa.string()), ("resource", pa.string()),
                              ("kind", pa.string()), ("team", pa.string()), ("type", pa.string()), ("time", ts),
                              ("actor", pa.string()), ("servedAfterSeconds", pa.float64()),
                              ("appliedAfterSeconds", pa.float64()), ("supersededAt", ts)]),
        "incidents": pa.schema([
            ("journal", pa.string()), ("incident", pa.int32()), ("profile", pa.string()), ("start", ts), ("end", ts),
            ("startedBy", strings), ("causeResource", pa.string()), ("causeTeam", pa.string()),
            ("causeMessage", pa.string()), ("causes", strings), ("fixResource", pa.string()),
            ("fixKind", pa.string()), ("fixActor", pa.string()), ("fixTime", ts), ("detected", ts),
            ("detectedOn", pa.string()), ("secondsToDetect", pa.float64()), ("secondsToRecover", pa.float64()),
            ("impact", pa.list_(pa.struct([("team", pa.string()), ("blockedSeconds", pa.float64()),
                                           ("resources", strings)])))]),
    }


def dataset_tables(root: str | os.PathLike[str]) -> dict[str, list[Path]]:
    """The Parquet files of each table of a dataset.

    Args:
        root: A folder written by :func:`write_dataset`.

    Returns:
        Table name -> its files (sorted); tables without files map to an empty list.

    Raises:
        DatasetError: The folder holds no dataset (neither ``_schema.json`` nor a table folder).
    """
    base = Path(root)
    if not base.is_dir() or not ((base / SCHEMA_FILE).is_file() or any((base / t).is_dir() for t in TABLES)):
        raise DatasetError(f"{base}: no gloo-nb dataset here (no {SCHEMA_FILE} and no table folder): pass a folder "
                           "written by `gloo-nb journal export DIR... --parquet OUT`")
    return {t: sorted((base / t).glob("cluster=*/day=*/*.parquet")) for t in TABLES}


def check_cluster(name: str, *, source: str = "--cluster") -> str:
    """Check a cluster name given by a person: it becomes a folder name (``cluster=<name>``).

    Args:
        name: The name.
        source: Where it came from, for the message.

    Returns:
        The name.

    Raises:
        UsageError: Not 1 to 100 of letters, digits, ``.``, ``_`` and ``-``, beginning with a letter or digit.
    """
    if not _CLUSTER.fullmatch(name):
        raise UsageError(f"{source}: cluster name {name[:80]!r} is not 1 to 100 letters, digits, '.', '_' or '-' "
                         "(beginning with a letter or digit): it names a folder; give another")
    return name


def cluster_from_connection(connection: Mapping[str, Any] | None) -> str | None:
    """The cluster's name from a journal's ``recorder.start`` ``connection`` (:mod:`gloo_nb.journal.schema`).

    The name an import was given (``cluster``), else the kubeconfig context, else the sandbox's directory name;
    characters that cannot be in a folder name
    (an EKS context's ``arn:aws:eks:...:cluster/prod``) become ``-``.

    Args:
        connection: The ``connection`` object, or None.

    Returns:
        The name, or None when the journal does not say (a kubeconfig without a context, no connection).
    """
    if not isinstance(connection, Mapping):
        return None
    raw = connection.get("cluster") or connection.get("context")
    if not (isinstance(raw, str) and raw):
        sandbox = connection.get("sandbox")
        raw = Path(sandbox).name if isinstance(sandbox, str) and sandbox else None
    if raw is None:
        return None
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-._")[:100]
    return name or None


def journal_id(files: Sequence[Path]) -> str:
    """A journal's id: what its export's file names are made of, and its rows' ``journal`` column.

    The hash of the first line of each journal directory's first file: a recorder's ``journal.open`` line (its run
    id) or, in older journals, its first event. Files added later by rotation or a resumed run keep the id, so
    re-exporting a journal that grew replaces its files.

    Args:
        files: The journal's files (:attr:`gloo_nb.journal.Journal.files`).

    Returns:
        16 hex digits.

    Raises:
        JournalError: A file cannot be read.
    """
    firsts: dict[Path, Path] = {}
    for f in files:
        known = firsts.get(f.parent)
        if known is None or f.name < known.name:
            firsts[f.parent] = f
    digest = hashlib.sha256()
    for parent in sorted(firsts):
        try:
            with firsts[parent].open("rb") as stream:
                digest.update(stream.readline().rstrip(b"\n") + b"\n")
        except OSError as exc:
            raise JournalError(f"cannot read the journal file: {exc.strerror or exc}", file=str(firsts[parent])) \
                from None
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Written:
    """What :func:`write_dataset` wrote.

    Attributes:
        root: The dataset folder.
        cluster: The cluster partition written.
        journal: The journal id (the files' names).
        rows: Rows written per table.
        files: The files written.
        removed: This journal's earlier files that the new export no longer has (another day or cluster), deleted.
    """

    root: Path
    cluster: str
    journal: str
    rows: dict[str, int]
    files: list[Path]
    removed: list[Path]


def _schema_document() -> dict[str, Any]:
    return {"schemaVersion": SCHEMA_VERSION, "partitioning": "hive",
            "partitions": [{"name": "cluster", "type": "string"}, {"name": "day", "type": "date32"}],
            "tables": {name: [{"name": f.name, "type": str(f.type)} for f in schema]
                       for name, schema in schemas().items()}}


def write_dataset(root: str | os.PathLike[str], tables: Mapping[str, pa.Table], *, cluster: str,
                  journal: str) -> Written:
    """Write one journal's tables into the dataset, replacing that journal's earlier files.

    New files are written beside the old ones under a temporary name (``.<id>.parquet.tmp``, which readers skip)
    and renamed over them, then this journal's files that the export no longer has are removed: a reader never
    sees a partition without this journal's rows, nor twice its rows.

    Args:
        root: The dataset folder (created).
        tables: Table name -> its rows, with :func:`schemas`' columns (cast to them; missing columns are null).
        cluster: The cluster partition (:func:`check_cluster`).
        journal: The journal id (:func:`journal_id`): the files' names.

    Returns:
        What was written.

    Raises:
        DatasetError: A file cannot be written, or a table has a column the schema does not know.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    base = Path(root)
    check_cluster(cluster)
    known = schemas()
    name = f"{journal}.parquet"
    written: list[Path] = []
    rows: dict[str, int] = {}
    try:
        base.mkdir(parents=True, exist_ok=True)
        (base / SCHEMA_FILE).write_text(json.dumps(_schema_document(), indent=2) + "\n")
        for table_name, table in tables.items():
            schema = known[table_name]
            extra = [c for c in table.column_names if schema.get_field_index(c) < 0]
            if extra:
                raise DatasetError(f"{table_name}: columns {extra} are not in the dataset's schema (a bug: add "
                                   "them to gloo_nb.journal.dataset.schemas)")
            table = pa.table({f.name: (table[f.name].cast(f.type) if f.name in table.column_names
                                       else pa.nulls(table.num_rows, f.type)) for f in schema}, schema=schema)
            rows[table_name] = table.num_rows
            if not table.num_rows:
                continue
            days = pc.cast(table[DAY_COLUMNS[table_name]], pa.date32())  # the UTC date: times are stored in UTC
            for day in pc.unique(days).to_pylist():
                folder = base / table_name / f"cluster={cluster}" / f"day={day.isoformat()}"
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".{name}.tmp"
                pq.write_table(table.filter(pc.equal(days, pa.scalar(day, pa.date32()))), tmp)
                os.replace(tmp, folder / name)
                written.append(folder / name)
        keep = set(written)
        removed = [p for t in TABLES for p in (base / t).glob(f"cluster=*/day=*/{name}") if p not in keep]
        for p in removed:
            p.unlink()
            for folder in (p.parent, p.parent.parent):  # an empty day, then an empty cluster
                if not any(folder.iterdir()):
                    folder.rmdir()
    except OSError as exc:
        raise DatasetError(f"{getattr(exc, 'filename', None) or base}: cannot write the dataset: "
                           f"{exc.strerror or exc}") from None
    return Written(base, cluster, journal, rows, written, removed)

