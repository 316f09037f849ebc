"""The retention stage (``gold/retention``) and the microscope on one retention cell."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.cohorts.columns import entity_events, with_current_name
from groupetl.cohorts.spec import USER, members_csv_path, parse_cohorts
from groupetl.cohorts.store import read_members, save_cohort, sql_string, write_groups_csv
from groupetl.config import ProjectConfig
from groupetl.errors import ConfigError, InputError
from groupetl.retention.compute import (
    data_horizon,
    retained_flag,
    retention_cells,
    retention_members,
)
from groupetl.retention.spec import RetentionSpec, parse_retention, retention_spec
from groupetl.schemas import ATTRIBUTED_EVENTS, CURRENT_GROUP_PROPERTIES, RC, RETENTION, C, T
from groupetl.stages import StageResult

log = logging.getLogger(__name__)

GOLD_RETENTION = "gold/retention"
MICROSCOPE_COLUMNS = (
    C.GROUP_TYPE, C.GROUP_VALUE, RC.NAME, RC.SEGMENT, RC.COHORT_PERIOD, RC.START_TIME,
)  # fmt: skip


def report_events(spark: SparkSession, config: ProjectConfig, spec: RetentionSpec) -> DataFrame:
    """The entity events of the report's group type, from the attributed events table."""
    attributed = tables.read(spark, config.paths.table(T.ATTRIBUTED_EVENTS), ATTRIBUTED_EVENTS)
    return entity_events(attributed, spec.group_type, config.group_type_names)


def check_cohort_available(spark: SparkSession, config: ProjectConfig, spec: RetentionSpec) -> None:
    """InputError unless the report's cohort is configured or saved for its group type.

    A configured behavioral cohort of another group type is a ConfigError. Only a cohort that
    is neither configured nor saved is looked up in the table (one row at most is read).
    """
    if spec.cohort is None:
        return
    for c in parse_cohorts(config):
        if c.name == spec.cohort.name:
            if c.group_type != spec.group_type:
                raise ConfigError(
                    f"{config.source}: retention {spec.name!r}: cohort {c.name!r} is of group "
                    f"type {c.group_type}, the report counts {spec.group_type}"
                )
            return
    rows = read_members(spark, config).filter(
        (F.col(RC.COHORT) == spec.cohort.name) & (F.col(C.GROUP_TYPE) == spec.group_type)
    )
    if not rows.limit(1).collect():
        raise InputError(
            f"retention {spec.name!r}: no cohort {spec.cohort.name!r} of group type "
            f"{spec.group_type} in {T.COHORT_MEMBERS}; import or compute it first"
        )


def retention_report(
    events: DataFrame,
    spec: RetentionSpec,
    cohorts_df: DataFrame | None,
    run_id: str,
    computed_at: dt.datetime,
) -> DataFrame:
    """Entity events (+ cohort members) -> the report's rows in the RETENTION schema."""
    members = retention_members(events, spec, cohorts_df)
    cells = retention_cells(members, spec, data_horizon(events))
    return cells.select(
        F.lit(spec.name).alias(RC.REPORT_NAME),
        F.lit(run_id).alias(C.RUN_ID),
        F.lit(computed_at).cast("timestamp").alias(RC.COMPUTED_AT),
        F.lit(spec.group_type).alias(C.GROUP_TYPE),
        F.lit(spec.period).alias(RC.PERIOD),
        F.lit(spec.basis).alias(RC.BASIS),
        F.lit(spec.measure).alias(RC.MEASURE),
        RC.SEGMENT,
        RC.COHORT_PERIOD,
        RC.COHORT_SIZE,
        F.col(RC.PERIOD_N).cast("int").alias(RC.PERIOD_N),
        RC.RETAINED,
        RC.RATE,
    )


def run_retention(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    progress: Callable[[str], None] | None = None,
    names: Sequence[str] | None = None,
) -> StageResult:
    """Compute the configured retention reports (all, or ``names``) into ``gold/retention``.

    The rows of the computed reports are replaced in one commit; other reports' rows stay.
    Counts: ``reports`` and ``cells`` (rows written, counted while writing).
    """
    say = progress or log.info
    specs = [s for s in parse_retention(config) if names is None or s.name in names]
    unknown = sorted(set(names or ()) - {s.name for s in specs})
    if unknown:
        raise ConfigError(f"{config.source}: retention: no report named {', '.join(unknown)}")
    result = StageResult("retention", counts={"reports": len(specs)}, tables=[GOLD_RETENTION])
    if not specs:
        result.notes.append("no retention reports configured (config section 'retention:')")
        return result
    run_id, computed_at = uuid.uuid4().hex, dt.datetime.now(dt.timezone.utc)
    cohorts_df = read_members(spark, config)
    frames = []
    for spec in specs:
        check_cohort_available(spark, config, spec)
        say(f"[retention] {spec.name}: {spec.group_type}, {spec.basis} {spec.period}s")
        events = report_events(spark, config, spec)
        frames.append(retention_report(events, spec, cohorts_df, run_id, computed_at))
    rows = frames[0]
    for f in frames[1:]:
        rows = rows.unionByName(f)
    path = config.paths.table(GOLD_RETENTION)
    tables.ensure(spark, path, RETENTION)
    observed = Observation("retention")
    predicate = f"{RC.REPORT_NAME} IN ({', '.join(sql_string(s.name) for s in specs)})"
    rows = rows.observe(observed, F.count(F.lit(1)).alias("cells"))
    tables.replace_where(rows, path, predicate)
    result.counts["cells"] = int(observed.get.get("cells", 0))
    result.notes.append(f"run {run_id}: {', '.join(s.name for s in specs)}")
    return result


def read_retention(
    spark: SparkSession, config: ProjectConfig, report_name: str | None = None
) -> DataFrame:
    """The ``gold/retention`` rows (of one report when ``report_name`` is given)."""
    df = tables.read(spark, config.paths.table(GOLD_RETENTION), RETENTION)
    return df if report_name is None else df.filter(F.col(RC.REPORT_NAME) == report_name)


def retention_microscope(
    spark: SparkSession,
    config: ProjectConfig,
    report_name: str,
    cohort_period: dt.date,
    period_n: int,
    retained: bool,
    *,
    segment: str | None = None,
) -> DataFrame:
    """The groups behind one retention cell: retained (``True``) or not retained (``False``).

    Recomputed from the attributed events with the report's current config, so it agrees with
    ``gold/retention`` as long as no new data arrived in between. Out: MICROSCOPE_COLUMNS
    (``name`` = the group's current name property), ordered by ``group_value``. ``segment``
    picks 'in cohort' or 'rest' of a split report (default: both).
    """
    spec = retention_spec(config, report_name)
    if not 0 <= period_n <= spec.periods:
        raise InputError(f"period {period_n} is outside 0..{spec.periods} of {report_name!r}")
    check_cohort_available(spark, config, spec)
    members = retention_members(
        report_events(spark, config, spec), spec, read_members(spark, config)
    )
    cell = members.filter(F.col(RC.COHORT_PERIOD) == F.lit(cohort_period))
    if segment is not None:
        cell = cell.filter(F.col(RC.SEGMENT) == segment)
    flag = retained_flag(F.lit(period_n), spec.measure)
    cell = cell.filter(flag if retained else ~flag).withColumn(C.GROUP_TYPE, F.lit(spec.group_type))
    current = tables.read(
        spark, config.paths.table(T.CURRENT_GROUP_PROPERTIES), CURRENT_GROUP_PROPERTIES
    )
    name_property = (
        None if spec.group_type == USER else config.group_type(spec.group_type).name_property
    )
    named = with_current_name(cell, current, spec.group_type, name_property)
    return named.select(*MICROSCOPE_COLUMNS).orderBy(C.GROUP_VALUE)


def save_microscope_cohort(
    spark: SparkSession,
    config: ProjectConfig,
    microscope: DataFrame,
    report_name: str,
    cohort_name: str,
    *,
    as_of: dt.date | None = None,
) -> int:
    """Save a ``retention_microscope`` result as cohort ``cohort_name`` (source ``microscope``),
    and as CSV at ``cohorts.spec.members_csv_path``, where the report page links it (as
    ``reports.save_as_cohort`` does for a report's point).

    Replaces an existing cohort of that name atomically; returns the number of members.
    """
    spec = retention_spec(config, report_name)
    saved = save_cohort(
        spark, config, microscope, cohort_name, spec.group_type, "microscope", as_of
    )
    csv_path = members_csv_path(config.paths.root, cohort_name)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    write_groups_csv(microscope, csv_path)
    return saved
