"""JVM-free Delta reads for the read-only commands: delta-rs (``deltalake``) + Arrow + DuckDB.

``tables.py`` is the Spark side (every write, and reads of event-sized data by the stages). This
module reads the same tables without starting a JVM, so ``show``, ``account``, ``lookup`` and
``microscope`` over stored rows answer in well under a second. The tables groupetl writes use
Delta reader protocol 1 (no reader features), which delta-rs reads fully; ``open_table`` refuses
a table with a newer reader protocol rather than risk wrong rows.

Results leave this module as plain Python rows (``rows_of``): timestamps as naive UTC
``datetime`` (as Spark's ``collect()`` gives them with the session in UTC) and maps as ``dict``,
so a row read here equals the row Spark returns for the same table.
"""

from __future__ import annotations

import atexit
import datetime as dt
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute
import pyarrow.dataset as pads
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from groupetl.errors import InputError

# groupetl writes Delta reader protocol 1 (no reader features); that is what the JVM-free reads
# are tested on. A table upgraded since (deletion vectors, column mapping, ...) is refused with
# a message rather than read by a path nobody tested on it.
SUPPORTED_READER_VERSION = 1


def is_table(path: Path | str) -> bool:
    """True when a Delta table (a ``_delta_log`` with at least one commit) lives at ``path``."""
    return DeltaTable.is_deltatable(str(path))


def parse_time(text: str) -> dt.datetime:
    """``--as-of-time`` text -> naive UTC datetime; InputError naming the accepted forms.

    Accepts what Spark's ``timestampAsOf`` accepts in practice: ``2026-01-14``,
    ``2026-01-14 06:00:00``, with fractions, ``T`` or an offset (converted to UTC).
    """
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"--as-of-time: {text!r} is not a time; use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS (UTC)"
        ) from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when


def _check_reader(table: DeltaTable, path: Path | str) -> None:
    protocol = table.protocol()
    if protocol.min_reader_version > SUPPORTED_READER_VERSION:
        features = ", ".join(sorted(protocol.reader_features or ())) or "none listed"
        raise InputError(
            f"{path}: Delta reader version {protocol.min_reader_version} (features: {features}); "
            f"the commands that read without Spark support version {SUPPORTED_READER_VERSION}"
        )


def commits(path: Path | str) -> list[dict[str, Any]]:
    """The table's commit history, newest first: version, timestamp (naive UTC), operation,
    operationParameters and operationMetrics (maps of text, as Spark's ``history()`` shows)."""
    out = []
    for c in DeltaTable(str(path)).history():
        out.append(
            {
                "version": int(c["version"]),
                "timestamp": _ms_to_utc(c["timestamp"]),
                "operation": c.get("operation"),
                "operationParameters": _text_map(c.get("operationParameters")),
                "operationMetrics": _text_map(c.get("operationMetrics")),
            }
        )
    return sorted(out, key=lambda c: -c["version"])


def _ms_to_utc(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(ms))


def _text_map(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    return {str(k): v if isinstance(v, str) else _json_text(v) for k, v in value.items()}


def _json_text(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def version_at(history: Sequence[dict[str, Any]], when: dt.datetime) -> int | None:
    """The latest version committed at or before ``when`` (naive UTC), or None if none was.

    ``history`` is ``commits(path)``. Like Delta's ``timestampAsOf``, a time between two commits
    reads the earlier one; unlike it, a time after the last commit reads the latest version.
    """
    earlier = [c["version"] for c in history if c["timestamp"] <= when]
    return max(earlier) if earlier else None


def open_table(
    path: Path | str,
    name: str | None = None,
    as_of_version: int | None = None,
    as_of_time: str | None = None,
) -> DeltaTable:
    """The Delta table at ``path`` now, or as of a version or a time (UTC text).

    InputError (naming ``name``, the versions and the first commit time) when the version or
    time does not exist, or when both are given.
    """
    if as_of_version is not None and as_of_time is not None:
        raise InputError("give either --as-of-version or --as-of-time, not both")
    label = name or str(path)
    try:
        table = DeltaTable(str(path))
    except TableNotFoundError:
        raise InputError(f"no Delta table at {path}") from None
    _check_reader(table, path)
    if as_of_version is None and as_of_time is None:
        return table
    history = commits(path)
    latest, first = history[0], history[-1]
    wanted = as_of_version if as_of_version is not None else as_of_time
    version = as_of_version
    if as_of_time is not None:
        version = version_at(history, parse_time(as_of_time))
    if version is None or version > latest["version"] or version < first["version"]:
        raise InputError(
            f"{label} has versions {first['version']} to {latest['version']} (the first "
            f"written {first['timestamp']} UTC); cannot read it as of {wanted}"
        )
    table.load_as_version(version)
    return table


def row_count(path: Path | str) -> int:
    """Rows of the table's current version, from the Delta log's per-file statistics (no data
    file is read unless a file has no statistics)."""
    table = DeltaTable(str(path))
    actions = pa.table(table.get_add_actions(flatten=True))
    if "num_records" in actions.column_names and actions["num_records"].null_count == 0:
        return int(pa.compute.sum(actions["num_records"]).as_py() or 0)
    return dataset(table).count_rows()


def dataset(table: DeltaTable) -> pads.Dataset:
    """A lazy Arrow dataset over the table's current files (DuckDB pushes filters into it)."""
    return table.to_pyarrow_dataset()


_OPEN: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()


@atexit.register
def _close_connections() -> None:
    """Close every connection before the interpreter tears down: a connection left open with
    registered Arrow datasets can crash the process at exit (seen with DuckDB 2.0 + pyarrow 26:
    a segfault after the answer was printed, so a correct command would exit 139)."""
    for con in list(_OPEN):
        con.close()


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with UTC as its time zone (closed at exit)."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    _OPEN.add(con)
    return con


def _naive(col_type: pa.DataType) -> pa.DataType:
    """``col_type`` with every tz-aware timestamp made naive (values stay UTC)."""
    if pa.types.is_timestamp(col_type) and col_type.tz is not None:
        return pa.timestamp(col_type.unit)
    if pa.types.is_list(col_type):
        return pa.list_(_naive(col_type.value_type))
    if pa.types.is_large_list(col_type):
        return pa.large_list(_naive(col_type.value_type))
    if pa.types.is_struct(col_type):
        return pa.struct([f.with_type(_naive(f.type)) for f in col_type])
    return col_type


def _plain(value: Any, col_type: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_map(col_type):
        return dict(value)
    if pa.types.is_struct(col_type):
        return {f.name: _plain(value.get(f.name), f.type) for f in col_type}
    if pa.types.is_list(col_type) or pa.types.is_large_list(col_type):
        return [_plain(v, col_type.value_type) for v in value]
    return value


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    """Arrow rows -> dicts of plain values: naive UTC datetimes, maps as dicts (as Spark)."""
    schema = pa.schema([f.with_type(_naive(f.type)) for f in table.schema])
    table = table.cast(schema)
    types = {f.name: f.type for f in schema}
    return [{k: _plain(v, types[k]) for k, v in row.items()} for row in table.to_pylist()]


def query(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any] | None = None
) -> pa.Table:
    """Run ``sql`` (named parameters ``$name`` from ``params``) on ``con`` -> an Arrow table."""
    return con.sql(sql, params=dict(params) if params else None).to_arrow_table()


# Macros for SQL users: property maps hold JSON text ('"pro"', '20', '["a","b"]'); these read
# one key as text, as a number or as a list of text, and leave non-JSON text as it is.
PROPERTY_MACROS = (
    "CREATE MACRO prop_json(m, k) AS m[k]",
    "CREATE MACRO prop_text(m, k) AS CASE WHEN json_valid(m[k]) AND json_type(m[k]) "
    "NOT IN ('ARRAY', 'OBJECT') THEN json_extract_string(m[k], '$') ELSE m[k] END",
    "CREATE MACRO prop_number(m, k) AS TRY_CAST(prop_text(m, k) AS DOUBLE)",
    "CREATE MACRO prop_list(m, k) AS CASE WHEN json_valid(m[k]) AND json_type(m[k]) = 'ARRAY' "
    "THEN from_json(m[k], '[\"VARCHAR\"]') END",
)

# One row per (group, property) in force now, decoded: the view most SQL questions start from.
GROUP_PROPERTIES_NOW = """
CREATE VIEW group_properties_now AS
SELECT group_type, group_value, property, value_json,
       prop_text(map([property], [value_json]), property) AS value_text,
       prop_number(map([property], [value_json]), property) AS value_number
FROM (SELECT group_type, group_value, unnest(map_keys(properties)) AS property,
             unnest(map_values(properties)) AS value_json
      FROM silver_current_group_properties)
"""


def view_name(table: str) -> str:
    """``silver/attributed_events`` -> ``silver_attributed_events`` (a SQL identifier)."""
    return table.replace("/", "_").replace("-", "_")


def project_connection(
    tables: Mapping[str, Path | str], used_by: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with every table as a view (``view_name``), the property macros
    (``prop_text``, ``prop_number``, ``prop_list``, ``prop_json``) and, when the project has
    current group properties, the decoded view ``group_properties_now``.

    ``tables``: name -> folder, e.g. ``{t.name: t.path for t in catalog.list_tables(config)}``.
    ``used_by``: a query; only the tables it names are opened (opening each costs a log read).
    Nothing is copied: each view reads its table's current files through delta-rs.
    """
    con = connect()
    wanted = dict(tables)
    if used_by is not None:
        text = used_by.lower()
        needs_now = "group_properties_now" in text
        wanted = {
            n: p for n, p in tables.items()
            if view_name(n) in text or (needs_now and n == "silver/current_group_properties")
        }  # fmt: skip
    for name, path in wanted.items():
        con.register(view_name(name), dataset(open_table(path, name)))
    for macro in PROPERTY_MACROS:
        con.execute(macro)
    if "silver/current_group_properties" in wanted:
        con.execute(GROUP_PROPERTIES_NOW)
    return con
