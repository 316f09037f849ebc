"""A project's tables by name: listing, reading as of a Delta version or time, and history.

``groupetl show`` is built on this. A table is named by its path under the warehouse
(``silver/attributed_events``), by its last part when that is unambiguous
(``attributed_events``), or ``quarantine`` (which may live outside the warehouse).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from delta.tables import DeltaTable
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import ProjectConfig
from groupetl.errors import InputError

QUARANTINE = "quarantine"
HISTORY_COLUMNS = ("version", "timestamp", "operation", "operationParameters", "operationMetrics")


@dataclass(frozen=True)
class TableInfo:
    """One Delta table found on disk: its name, folder, latest version and commit time (UTC)."""

    name: str
    path: Path
    version: int
    committed_at: dt.datetime


def _latest_commit(table: Path) -> tuple[int, dt.datetime] | None:
    """(latest version, its commit file's time) from ``_delta_log``, or None if not a table."""
    commits = [p for p in (table / "_delta_log").glob("*.json") if p.stem.isdigit()]
    if not commits:
        return None
    last = max(commits, key=lambda p: int(p.stem))
    when = dt.datetime.fromtimestamp(last.stat().st_mtime, tz=dt.timezone.utc)
    return int(last.stem), when.replace(tzinfo=None, microsecond=0)


def list_tables(config: ProjectConfig) -> list[TableInfo]:
    """Every Delta table of the project (file system only: no Spark job), sorted by name."""
    found: dict[str, TableInfo] = {}
    warehouse = config.paths.warehouse
    if warehouse.is_dir():
        for log in sorted(warehouse.rglob("_delta_log")):
            table = log.parent
            latest = _latest_commit(table)
            if latest is not None:
                name = table.relative_to(warehouse).as_posix()
                found[name] = TableInfo(name, table, *latest)
    quarantine = config.paths.quarantine
    latest = _latest_commit(quarantine)
    if latest is not None:
        found[QUARANTINE] = TableInfo(QUARANTINE, quarantine, *latest)
    return [found[k] for k in sorted(found)]


def find_table(config: ProjectConfig, name: str) -> TableInfo:
    """The table called ``name``; InputError listing the project's tables otherwise."""
    known = list_tables(config)
    wanted = name.strip("/")
    exact = [t for t in known if t.name == wanted]
    by_last_part = [t for t in known if t.name.rsplit("/", 1)[-1] == wanted]
    matches = exact or by_last_part
    if len(matches) == 1:
        return matches[0]
    if matches:
        choices = ", ".join(t.name for t in matches)
        raise InputError(f"table name {name!r} is ambiguous: give one of {choices}")
    names = ", ".join(t.name for t in known) or "none yet (run a stage first)"
    raise InputError(f"no table {name!r} in {config.paths.warehouse}; tables: {names}")


def read_table(
    spark: SparkSession,
    config: ProjectConfig,
    name: str,
    as_of_version: int | None = None,
    as_of_time: str | None = None,
) -> DataFrame:
    """The table ``name`` now, or as it was at a Delta version or timestamp (UTC text).

    InputError when both are given, or when the table has no such version or was created after
    the time (the message says which versions and times exist).
    """
    if as_of_version is not None and as_of_time is not None:
        raise InputError("give either --as-of-version or --as-of-time, not both")
    info = find_table(config, name)
    try:
        # Delta checks the version or time when the reader resolves the table's schema.
        df = tables.read(spark, str(info.path), as_of_version=as_of_version, as_of_time=as_of_time)
        df.schema  # noqa: B018
    except AnalysisException as exc:
        if as_of_version is None and as_of_time is None:
            raise
        first = table_history(spark, config, name).agg(F.min("timestamp")).first()[0]
        wanted = as_of_version if as_of_version is not None else as_of_time
        raise InputError(
            f"{info.name} has versions 0 to {info.version} (the first written {first} UTC); "
            f"cannot read it as of {wanted}: {str(exc).splitlines()[0]}"
        ) from None
    return df


def table_history(spark: SparkSession, config: ProjectConfig, name: str) -> DataFrame:
    """The Delta commit history of table ``name``, newest first (``HISTORY_COLUMNS``)."""
    info = find_table(config, name)
    history = DeltaTable.forPath(spark, str(info.path)).history()
    return history.select(*HISTORY_COLUMNS).orderBy(F.col("version").desc())
