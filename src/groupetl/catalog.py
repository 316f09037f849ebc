"""A project's tables by name: listing, reading as of a Delta version or time, and history.

``groupetl show`` is built on this, and none of it starts a JVM: tables are found on disk (a
folder holding ``_delta_log``) and read through delta-rs (``groupetl.lake``), whose history and
snapshots come from the Delta log itself. A table is named by its path under the warehouse
(``silver/attributed_events``), by its last part when that is unambiguous
(``attributed_events``), or ``quarantine`` (which may live outside the warehouse).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groupetl import lake
from groupetl.config import ProjectConfig
from groupetl.errors import ArgumentError, InputError

QUARANTINE = "quarantine"
HISTORY_COLUMNS = ("version", "timestamp", "operation", "operationParameters", "operationMetrics")


@dataclass(frozen=True)
class TableInfo:
    """One Delta table found on disk: its name, folder, latest version and commit time (UTC)."""

    name: str
    path: Path
    version: int
    committed_at: dt.datetime


def table_folders(config: ProjectConfig) -> dict[str, Path]:
    """name -> folder of every Delta table of the project (no log is read)."""
    found: dict[str, Path] = {}
    warehouse = config.paths.warehouse
    if warehouse.is_dir():
        for log in sorted(warehouse.rglob("_delta_log")):
            found[log.parent.relative_to(warehouse).as_posix()] = log.parent
    if (config.paths.quarantine / "_delta_log").is_dir():
        found[QUARANTINE] = config.paths.quarantine
    return found


def table_names(config: ProjectConfig) -> list[str]:
    """The names of the project's tables, sorted (file system only)."""
    return sorted(table_folders(config))


def list_tables(config: ProjectConfig) -> list[TableInfo]:
    """Every Delta table of the project with its latest version and commit time, by name."""
    out = []
    for name, path in sorted(table_folders(config).items()):
        if not lake.is_table(path):
            continue  # a folder whose first commit is still being written
        latest = lake.commits(path)[0]
        committed = latest["timestamp"].replace(microsecond=0)
        out.append(TableInfo(name, path, latest["version"], committed))
    return out


def resolve(config: ProjectConfig, name: str) -> tuple[str, Path]:
    """(full name, folder) of the table called ``name``.

    ArgumentError (exit 2, before any read) naming the tables when there is no such table or
    when the last part is ambiguous.
    """
    folders = table_folders(config)
    wanted = name.strip("/")
    matches = (
        [wanted] if wanted in folders else [n for n in folders if n.rsplit("/", 1)[-1] == wanted]
    )
    if len(matches) == 1:
        return matches[0], folders[matches[0]]
    if matches:
        raise ArgumentError(f"table name {name!r} is ambiguous: give one of {', '.join(matches)}")
    names = ", ".join(sorted(folders)) or "none yet (run a stage first)"
    raise ArgumentError(f"no table {name!r} in {config.paths.warehouse}; tables: {names}")


def find_table(config: ProjectConfig, name: str) -> TableInfo:
    """The table called ``name`` with its latest version (see ``resolve`` for the errors)."""
    full, path = resolve(config, name)
    latest = lake.commits(path)[0]
    return TableInfo(full, path, latest["version"], latest["timestamp"].replace(microsecond=0))


def read_rows(
    config: ProjectConfig,
    name: str,
    *,
    as_of_version: int | None = None,
    as_of_time: str | None = None,
    where: str | None = None,
    columns: Sequence[str] = (),
    limit: int = 20,
) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, up to ``limit`` rows) of table ``name``, now or as of a version or time.

    ``where`` is a SQL filter and ``columns`` a projection, both run by DuckDB over the table's
    Arrow dataset (so only the needed columns and row groups are read). InputError for a bad
    filter or column, or a version or time the table does not have.
    """
    full, path = resolve(config, name)
    table = lake.open_table(path, full, as_of_version, as_of_time)
    con = lake.connect()
    con.register("t", lake.dataset(table))
    select = ", ".join(_quoted(c) for c in columns) if columns else "*"
    sql = f"SELECT {select} FROM t" + (f" WHERE {where}" if where else "") + f" LIMIT {limit:d}"
    try:
        result = lake.query(con, sql)
    except Exception as exc:  # duckdb.Error: a bad --where or --columns; say so, no traceback
        first = str(exc).splitlines()[0]
        raise InputError(f"{full}: {first}") from None
    return result.column_names, lake.rows_of(result)


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def history_rows(config: ProjectConfig, name: str) -> list[dict[str, Any]]:
    """The Delta commit history of table ``name``, newest first (``HISTORY_COLUMNS``)."""
    full, path = resolve(config, name)
    lake.open_table(path, full)  # refuses a table delta-rs cannot read
    return lake.commits(path)
