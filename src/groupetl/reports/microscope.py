"""Microscope: the groups (or users) behind one data point of a report.

A point is a funnel step (units that reached it), a funnel drop-off (units that reached the
step before but not this one), or a segmentation cell (units active in a period, optionally one
segment). Funnel points read gold/funnel_groups (run the report first); segmentation points are
recomputed from the input rows of that period only. Each listed unit carries its *current* name
property (``GroupType.name_property`` in T.CURRENT_GROUP_PROPERTIES; null for users).

The result can be saved as a Delta table (gold/microscope), streamed to CSV, or saved as a
cohort (T.COHORT_MEMBERS, cohort_source ``microscope``).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.cohorts import read_members, save_cohort
from groupetl.cohorts.columns import with_current_name
from groupetl.cohorts.spec import members_csv_path
from groupetl.config import ProjectConfig
from groupetl.errors import InputError
from groupetl.reports import segmentation as seg
from groupetl.reports import store
from groupetl.reports.columns import ALL_LABEL, R
from groupetl.reports.definitions import (
    GOLD_FUNNEL_GROUPS,
    GOLD_MICROSCOPE,
    FunnelReport,
    Report,
    SegmentationReport,
)
from groupetl.reports.runner import prepared_rows
from groupetl.schemas import CURRENT_GROUP_PROPERTIES, FUNNEL_GROUPS, MICROSCOPE, C, T

MICROSCOPE_SOURCE = "microscope"
CSV_MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class MicroscopePoint:
    """One data point. Funnels: ``step`` or ``dropoff`` (a step number >= 2), optionally one
    ``breakdown`` value. Segmentation: ``period_start``, optionally one ``segment``. Either:
    optionally one ``cohort_segment`` ('in cohort' | 'rest') of a split report."""

    step: int | None = None
    dropoff: int | None = None
    period_start: dt.date | None = None
    segment: str | None = None
    breakdown: str | None = None
    cohort_segment: str | None = None

    def label(self) -> str:
        """A stable text naming the point (the ``point`` column of gold/microscope)."""
        if self.step is not None:
            parts = [f"step {self.step}"]
        elif self.dropoff is not None:
            parts = [f"dropoff {self.dropoff}"]
        else:
            parts = [self.period_start.isoformat() if self.period_start else "?"]
            parts += [f"segment={self.segment}"] if self.segment is not None else []
        parts += [f"breakdown={self.breakdown}"] if self.breakdown is not None else []
        parts += [f"cohort={self.cohort_segment}"] if self.cohort_segment is not None else []
        return " / ".join(parts)

    def check(self, report: Report) -> None:
        """InputError when the point does not fit the report."""
        if isinstance(report, FunnelReport):
            n = len(report.steps)
            if (self.step is None) == (self.dropoff is None):
                raise InputError("a funnel point is a step or a dropoff (exactly one)")
            if self.step is not None and not 1 <= self.step <= n:
                raise InputError(f"step must be 1 to {n}; found {self.step}")
            if self.dropoff is not None and not 2 <= self.dropoff <= n:
                raise InputError(f"dropoff must be a step from 2 to {n}; found {self.dropoff}")
        elif self.period_start is None or self.step is not None or self.dropoff is not None:
            raise InputError("a segmentation point needs period_start (and no step/dropoff)")


def microscope(
    spark: SparkSession, config: ProjectConfig, report: Report, point: MicroscopePoint
) -> DataFrame:
    """The units behind ``point`` of ``report`` as MICROSCOPE rows (one per group or user)."""
    point.check(report)
    if isinstance(report, FunnelReport):
        units = funnel_point_units(spark, config, report, point)
    else:
        units = segmentation_point_units(spark, config, report, point)
    current = tables.read(
        spark, config.paths.table(T.CURRENT_GROUP_PROPERTIES), CURRENT_GROUP_PROPERTIES
    )
    name_property = None if report.counts_users else config.group_type(report.group_type)
    named = with_current_name(
        units.select(F.col(R.UNIT).alias(C.GROUP_VALUE)),
        current,
        report.group_type,
        name_property.name_property if name_property else None,
    )
    return named.select(
        F.lit(report.name).alias(R.REPORT_NAME),
        F.lit(point.label()).alias(R.POINT),
        F.lit(report.group_type).alias(C.GROUP_TYPE),
        C.GROUP_VALUE,
        F.col(R.NAME),
        F.current_timestamp().alias(R.COMPUTED_AT),
    )


def funnel_point_units(
    spark: SparkSession, config: ProjectConfig, report: FunnelReport, point: MicroscopePoint
) -> DataFrame:
    """gold/funnel_groups -> (unit) at a funnel step or drop-off."""
    groups = store.read_report_rows(spark, config, GOLD_FUNNEL_GROUPS, FUNNEL_GROUPS, report.name)
    reached = F.col(R.REACHED)
    at_step = reached >= (point.step or 0)
    keep = at_step if point.step is not None else reached == (point.dropoff or 0) - 1
    if point.breakdown is not None and point.breakdown != ALL_LABEL:
        keep = keep & (F.col(R.BREAKDOWN) == point.breakdown)
    if point.cohort_segment is not None:
        keep = keep & (F.col(R.COHORT_SEGMENT) == point.cohort_segment)
    return groups.filter(keep).select(F.col(R.GROUP_VALUE).alias(R.UNIT))


def segmentation_point_units(
    spark: SparkSession, config: ProjectConfig, report: SegmentationReport, point: MicroscopePoint
) -> DataFrame:
    """The report's rows of one period (rolling: the N days ending on it) -> distinct (unit)."""
    srows = seg.segmentation_rows(prepared_rows(spark, config, report), report)
    assert point.period_start is not None
    keep = seg.dates_for_periods(report, [point.period_start])
    if not report.rolling_days:
        date = F.col(C.EVENT_DATE)
        keep = keep & (seg.period_start(date, report.interval) == F.lit(point.period_start))
    if point.segment is not None:
        keep = keep & (F.col(R.SEGMENT) == point.segment)
    if point.cohort_segment is not None:
        keep = keep & (F.col(R.COHORT_SEGMENT) == point.cohort_segment)
    return srows.filter(keep).select(R.UNIT).distinct()


def write_microscope(
    spark: SparkSession,
    config: ProjectConfig,
    report: Report,
    point: MicroscopePoint,
    df: DataFrame,
) -> int:
    """Save a microscope result as the rows of (report, point) in gold/microscope (replacing
    an earlier save of the same point in one commit); returns the rows written."""
    predicate = store.report_predicate(
        report.name, f"{R.POINT} = {store.sql_string(point.label())}"
    )
    return store.replace_rows(spark, config, GOLD_MICROSCOPE, MICROSCOPE, df, predicate)


def write_csv(df: DataFrame, path: str | Path, max_rows: int = CSV_MAX_ROWS) -> int:
    """Stream a microscope result to CSV (header, then group_type, group_value, name).

    Rows come to the driver one partition at a time (``toLocalIterator``). More than
    ``max_rows`` rows is an InputError and leaves no file: narrow the point, or read the table.
    """
    columns = [C.GROUP_TYPE, C.GROUP_VALUE, R.NAME]
    out = Path(path)
    written = 0
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in df.select(*columns).orderBy(C.GROUP_VALUE).toLocalIterator():
            written += 1
            if written > max_rows:
                break
            writer.writerow(["" if v is None else v for v in row])
    if written > max_rows:
        out.unlink()
        raise InputError(f"more than {max_rows:,} groups behind this point; no CSV written")
    return written


def save_as_cohort(
    spark: SparkSession, config: ProjectConfig, df: DataFrame, cohort_name: str
) -> int:
    """Save the groups of a microscope result as cohort ``cohort_name`` (source microscope),
    and the result as CSV (``write_csv``) at ``cohorts.spec.members_csv_path``, where the report
    page links it.

    Replaces an earlier microscope cohort of that name in one commit; an imported or behavioral
    cohort of that name is refused. Returns the members saved.
    """
    types = [r[0] for r in df.select(C.GROUP_TYPE).distinct().limit(2).collect()]
    if len(types) != 1:
        raise InputError(
            "a microscope result of one group type is needed to save a cohort; found "
            f"{', '.join(types) or 'no rows'}"
        )
    existing = (
        read_members(spark, config)
        .filter(F.col("cohort") == cohort_name)
        .select("cohort_source")
        .distinct()
        .limit(3)
        .collect()
    )
    others = sorted({r[0] for r in existing} - {MICROSCOPE_SOURCE})
    if others:
        raise InputError(
            f"cohort {cohort_name!r} exists as a {', '.join(others)} cohort; pick another name"
        )
    saved = save_cohort(
        spark, config, df.select(C.GROUP_VALUE), cohort_name, types[0], MICROSCOPE_SOURCE
    )
    csv_path = members_csv_path(config.paths.root, cohort_name)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(df, csv_path)
    return saved
