"""The cohort membership table (T.COHORT_MEMBERS): reading, replacing, and applying a cohort.

A cohort name is unique in a project. Behavioral cohorts keep one snapshot per ``as_of_date``
(recomputing a date replaces that date's snapshot); imported and microscope cohorts are replaced
whole on each save. Reports use a cohort's *latest* snapshot. Every replacement is one Delta
commit (``replaceWhere``), so a reader sees the old members or the new ones, never a mix.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.cohorts.spec import USER, check_cohort_name, parse_cohorts
from groupetl.config import ProjectConfig
from groupetl.errors import InputError
from groupetl.schemas import COHORT_MEMBERS, RC, C, T

IN_COHORT = "in cohort"
REST = "rest"
MODES = ("filter", "split")


def sql_string(value: str) -> str:
    """``value`` as a Spark SQL string literal (for Delta ``replaceWhere`` predicates)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def read_members(spark: SparkSession, config: ProjectConfig) -> DataFrame:
    """The whole cohort membership table (empty with its schema before the first write)."""
    return tables.read(spark, config.paths.table(T.COHORT_MEMBERS), COHORT_MEMBERS)


def latest_members(cohorts_df: DataFrame, name: str, group_type: str) -> DataFrame:
    """COHORT_MEMBERS -> (group_value): the members of cohort ``name`` in its latest snapshot.

    Only rows of ``group_type`` are taken, so a cohort of another type yields no members.
    """
    rows = cohorts_df.filter((F.col(RC.COHORT) == name) & (F.col(C.GROUP_TYPE) == group_type))
    latest = rows.agg(F.max(RC.AS_OF_DATE).alias(RC.AS_OF_DATE))
    return rows.join(latest, on=RC.AS_OF_DATE, how="inner").select(C.GROUP_VALUE).distinct()


def apply_cohort(
    df: DataFrame,
    cohorts_df: DataFrame,
    name: str,
    mode: str,
    group_type: str,
    key: str | None = None,
) -> DataFrame:
    """Filter ``df`` to the groups of cohort ``name``, or split it into cohort vs rest.

    In: ``df`` with a column holding values of ``group_type`` (``key``; default ``group_value``,
    or ``user_key`` for ``group_type="user"`` when ``df`` has it), and COHORT_MEMBERS.
    Out: ``mode="filter"``: the rows whose group is in the cohort's latest snapshot (a semi-join);
    ``mode="split"``: every row plus ``cohort_segment`` = ``'in cohort'`` or ``'rest'`` (rows
    with a null key are ``'rest'``).

    >>> apply_cohort(events, members, "Power users", "split", "company")  # doctest: +SKIP
    """
    if mode not in MODES:
        raise InputError(f"cohort mode must be one of {', '.join(MODES)}; found {mode!r}")
    if key is None:
        key = C.USER_KEY if group_type == USER and C.USER_KEY in df.columns else C.GROUP_VALUE
    members = latest_members(cohorts_df, name, group_type).withColumnRenamed(C.GROUP_VALUE, key)
    if mode == "filter":
        return df.join(members, on=key, how="left_semi")
    flagged = members.withColumn("_in_cohort", F.lit(True))
    segment = F.when(F.col("_in_cohort"), F.lit(IN_COHORT)).otherwise(F.lit(REST))
    return (
        df.join(flagged, on=key, how="left")
        .withColumn(RC.COHORT_SEGMENT, segment)
        .drop("_in_cohort")
    )


def cohort_rows(
    members: DataFrame, name: str, group_type: str, source: str, as_of: dt.date
) -> DataFrame:
    """(group_value) -> COHORT_MEMBERS rows of cohort ``name`` (distinct, null values dropped)."""
    return (
        members.select(C.GROUP_VALUE)
        .where(F.col(C.GROUP_VALUE).isNotNull())
        .distinct()
        .select(
            F.lit(name).alias(RC.COHORT),
            F.lit(group_type).alias(C.GROUP_TYPE),
            C.GROUP_VALUE,
            F.lit(as_of).alias(RC.AS_OF_DATE),
            F.lit(source).alias(RC.COHORT_SOURCE),
            F.current_timestamp().alias(RC.COMPUTED_AT),
        )
    )


def replace_cohorts(
    spark: SparkSession, config: ProjectConfig, rows: DataFrame, predicate: str
) -> int:
    """Replace the membership rows matching ``predicate`` with ``rows`` in one commit.

    Returns the number of rows written (counted while writing).
    """
    path = config.paths.table(T.COHORT_MEMBERS)
    tables.ensure(spark, path, COHORT_MEMBERS)
    observed = Observation("cohort_members")
    tables.replace_where(
        rows.select(*COHORT_MEMBERS.fieldNames()).observe(observed, F.count(F.lit(1)).alias("n")),
        path,
        predicate,
    )
    return int(observed.get.get("n", 0))


def save_cohort(
    spark: SparkSession,
    config: ProjectConfig,
    members: DataFrame,
    name: str,
    group_type: str,
    source: str = "microscope",
    as_of: dt.date | None = None,
) -> int:
    """Save the groups of ``members`` (a ``group_value`` column) as cohort ``name``.

    Any existing cohort of that name (every snapshot, any source) is replaced atomically.
    ``as_of`` defaults to today (UTC). Returns the number of members saved. A configured
    behavioral cohort's name is refused: its members come from its rule.
    """
    check_cohort_name(name)
    if name in (s.name for s in parse_cohorts(config)):
        raise InputError(f"cohort {name!r} is a behavioral cohort of the config; pick another name")
    day = as_of or dt.datetime.now(dt.timezone.utc).date()
    rows = cohort_rows(members, name, group_type, source, day)
    return replace_cohorts(spark, config, rows, f"{RC.COHORT} = {sql_string(name)}")


def write_groups_csv(df: DataFrame, out: str | Path, columns: Sequence[str] | None = None) -> int:
    """Write ``df`` (e.g. a microscope result) as CSV with a header; returns the rows written.

    Rows stream to the driver one partition at a time (``toLocalIterator``), so memory stays
    bounded whatever the size. Nulls are written as empty fields.
    """
    cols = list(columns or df.columns)
    written = 0
    with Path(out).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(cols)
        for row in df.select(*cols).toLocalIterator():
            writer.writerow(["" if v is None else v for v in row])
            written += 1
    return written
