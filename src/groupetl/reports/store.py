"""Reads and writes of the report gold tables (each write one Delta commit) and the run state.

Every report owns its rows of each gold table (``report_name``): a full run replaces them all,
an incremental run replaces the rows of the periods (segmentation) or units (funnels) it
recomputed. The state table remembers what each report was computed from (see runner.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from groupetl import tables
from groupetl.cohorts.store import sql_string
from groupetl.config import ProjectConfig
from groupetl.reports.columns import R
from groupetl.reports.definitions import GOLD_FUNNEL_GROUPS, GOLD_REPORT_STATE, Report
from groupetl.reports.segmentation import RunInfo
from groupetl.schemas import FUNNEL_GROUPS, REPORT_STATE

Fingerprints = Mapping[dt.date, tuple[object, int]]  # event date -> (fingerprint, rows)


def report_predicate(name: str, extra: str = "") -> str:
    """The Delta predicate selecting a report's rows (plus ``extra`` when given)."""
    base = f"{R.REPORT_NAME} = {sql_string(name)}"
    return f"{base} AND ({extra})" if extra else base


def dates_predicate(column: str, dates: Iterable[dt.date]) -> str:
    """``column IN (DATE'...', ...)`` for a Delta predicate."""
    literals = ", ".join(f"DATE'{d.isoformat()}'" for d in dates)
    return f"{column} IN ({literals})"


def replace_rows(
    spark: SparkSession,
    config: ProjectConfig,
    table: str,
    schema: StructType,
    df: DataFrame,
    predicate: str,
) -> int:
    """Replace the rows of ``table`` matching ``predicate`` with ``df`` in one commit (the
    first write creates the table with ``schema``'s types).

    Returns the rows written, counted while writing (an Observation, no extra pass).
    """
    path = config.paths.table(table)
    observed = Observation(f"report_rows_{table.replace('/', '_')}")
    typed = df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema])
    counted = typed.observe(observed, F.count(F.lit(1)).alias("n"))
    if tables.exists(spark, path):
        tables.replace_where(counted, path, predicate)
    else:
        tables.append(counted, path)
    return int(observed.get.get("n", 0))


def read_report_rows(
    spark: SparkSession, config: ProjectConfig, table: str, schema: StructType, name: str
) -> DataFrame:
    """The rows of report ``name`` in ``table`` (empty before its first run)."""
    df = tables.read(spark, config.paths.table(table), schema)
    return df.filter(F.col(R.REPORT_NAME) == name)


def merge_funnel_units(
    spark: SparkSession,
    config: ProjectConfig,
    report: Report,
    new_rows: DataFrame,
    removed_units: DataFrame,
) -> None:
    """Upsert ``new_rows`` (FUNNEL_GROUPS rows of recomputed units) and delete the rows of
    ``removed_units`` (a ``group_value`` column) of ``report``, in one Delta MERGE commit."""
    path = config.paths.table(GOLD_FUNNEL_GROUPS)
    tables.ensure(spark, path, FUNNEL_GROUPS)
    deletions = removed_units.select(
        *[
            F.lit(report.name).alias(f.name)
            if f.name == R.REPORT_NAME
            else F.col(R.GROUP_VALUE)
            if f.name == R.GROUP_VALUE
            else F.lit(None).cast(f.dataType).alias(f.name)
            for f in FUNNEL_GROUPS
        ]
    )
    source = new_rows.select(*FUNNEL_GROUPS.fieldNames()).unionByName(deletions)
    columns = {c: f"s.`{c}`" for c in FUNNEL_GROUPS.fieldNames()}
    condition = f"t.{R.REPORT_NAME} = s.{R.REPORT_NAME} AND t.{R.GROUP_VALUE} = s.{R.GROUP_VALUE}"
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(source.alias("s"), condition)
        .whenMatchedDelete(condition=f"s.{R.RUN_ID} IS NULL")
        .whenMatchedUpdate(condition=f"s.{R.RUN_ID} IS NOT NULL", set=columns)
        .whenNotMatchedInsert(condition=f"s.{R.RUN_ID} IS NOT NULL", values=columns)
        .execute()
    )


def collect_state(
    spark: SparkSession, config: ProjectConfig, report: Report
) -> tuple[str | None, dict[dt.date, tuple[object, int]]]:
    """(definition hash of the last run or None, {event date: (fingerprint, rows)}).

    Collects the report's state rows to the driver: one row per event date, a small table.
    """
    rows = read_report_rows(spark, config, GOLD_REPORT_STATE, REPORT_STATE, report.name)
    marker: str | None = None
    dates: dict[dt.date, tuple[object, int]] = {}
    for row in rows.collect():
        if row[R.EVENT_DATE] is None:
            marker = row[R.DEFINITION_HASH]
        else:
            dates[row[R.EVENT_DATE]] = (row[R.FINGERPRINT], row[R.ROWS])
    return marker, dates


def collect_date_fingerprints(fingerprints: DataFrame) -> dict[dt.date, tuple[object, int]]:
    """(event_date, fingerprint, rows) -> a dict; one row per date, so small to collect."""
    return {r[R.EVENT_DATE]: (r[R.FINGERPRINT], r[R.ROWS]) for r in fingerprints.collect()}


def state_rows(report: Report, run: RunInfo, dates: Fingerprints) -> list[tuple]:
    """REPORT_STATE rows of ``report``: a marker with its definition hash, and its dates."""
    digest = report.definition_hash()
    rows = [(report.name, report.kind, digest, None, None, None, run.run_id, run.computed_at)]
    rows += [
        (report.name, report.kind, digest, d, fp, n, run.run_id, run.computed_at)
        for d, (fp, n) in sorted(dates.items())
    ]
    return rows


def write_states(
    spark: SparkSession, config: ProjectConfig, names: list[str], rows: list[tuple]
) -> None:
    """Replace the state of the reports ``names`` with ``rows`` (one commit for a whole run).

    Written after the reports' gold rows: a run that stops before this recomputes those
    reports next time, which gives the same result.
    """
    if not names:
        return
    df = spark.createDataFrame(rows, REPORT_STATE)
    predicate = f"{R.REPORT_NAME} IN ({', '.join(sql_string(n) for n in names)})"
    replace_rows(spark, config, GOLD_REPORT_STATE, REPORT_STATE, df, predicate)
