"""Event segmentation counted by group: totals, active groups and users per day/week/month.

Pure DataFrame transforms; ``groupetl.reports.runner`` reads the inputs and writes the gold
table. The chain for one report::

    report_rows(...)                       # inputs.py: (event, group) rows + properties
      .transform(with_cohort)              # inputs.py: cohort filter / split
      -> segmentation_rows(rows, report)   # filters, segment label
      -> segmentation_counts(srows, report)
      -> segmentation_table(counts, report, run)

A row counts under the segment value its event had *at event time*: a company whose ``region``
changed mid-week counts once under each value that week (docs/semantics.md "Reports are counted by
group"). ``events`` counts distinct events, ``uniques`` distinct counting units (groups, or users
in a user report) and ``users`` distinct user keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from groupetl.reports.columns import ALL_LABEL, R
from groupetl.reports.definitions import SegmentationReport
from groupetl.reports.inputs import all_hold, fingerprint, label_text
from groupetl.schemas import SEGMENTATION, C

SEGMENT_ROW_COLUMNS = (C.EVENT_ID, C.EVENT_DATE, R.UNIT, C.USER_KEY, R.SEGMENT, R.COHORT_SEGMENT)
COUNT_COLUMNS = (R.PERIOD_START, R.SEGMENT, R.COHORT_SEGMENT, R.EVENTS, R.UNIQUES, R.USERS)
_KIND, _KEY, _N = "_kind", "_key", "_n"


@dataclass(frozen=True)
class RunInfo:
    """The identity of one report run, stamped on every row it writes."""

    run_id: str
    computed_at: dt.datetime


def segmentation_rows(rows: DataFrame, report: SegmentationReport) -> DataFrame:
    """Report rows (inputs.ROW_COLUMNS + cohort_segment) -> SEGMENT_ROW_COLUMNS.

    Keeps the events of ``report.events`` (all when empty) where every ``where`` condition holds,
    and labels each row with its segment (``(all)`` without segment_by; ``(none)`` when the
    property is absent at event time).
    """
    keep = all_hold(report.where)
    if report.events:
        keep = keep & F.col(C.EVENT_TYPE).isin(*report.events)
    return rows.filter(keep).select(
        C.EVENT_ID,
        C.EVENT_DATE,
        R.UNIT,
        C.USER_KEY,
        label_text(report.segment_by, ALL_LABEL).alias(R.SEGMENT),
        R.COHORT_SEGMENT,
    )


def row_fingerprint() -> Column:
    """The hash of one segmentation row (every column that can change a count)."""
    return fingerprint(*SEGMENT_ROW_COLUMNS)


def period_start(date: Column, interval: str) -> Column:
    """The first day of ``date``'s day, ISO week (Monday) or month."""
    if interval == "day":
        return date
    if interval == "week":
        return F.date_trunc("week", date).cast("date")
    return F.trunc(date, "month")


def python_period_start(day: dt.date, interval: str) -> dt.date:
    """``period_start`` for a Python date (used to list the periods a changed date touches)."""
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def affected_periods(
    report: SegmentationReport,
    changed: Iterable[dt.date],
    last_days: tuple[dt.date | None, dt.date | None] = (None, None),
) -> list[dt.date]:
    """The output periods whose counts can change when the rows of ``changed`` dates change.

    A day's rolling value covers the N days ending on it, so a changed date d touches the days
    d .. d+N-1. Rolling days are reported up to the last event date; when it moved (``last_days``
    = before, now), the days between the two are affected too (new days to report, or days
    to remove).
    """
    out: set[dt.date] = set()
    for d in changed:
        if report.rolling_days:
            out.update(d + dt.timedelta(days=i) for i in range(report.rolling_days))
        else:
            out.add(python_period_start(d, report.interval))
    before, now = last_days
    if report.rolling_days and before is not None and now is not None and before != now:
        low, high = min(before, now), max(before, now)
        out.update(low + dt.timedelta(days=i) for i in range(1, (high - low).days + 1))
    return sorted(out)


def dates_for_periods(report: SegmentationReport, periods: Sequence[dt.date]) -> Column:
    """A filter on ``event_date`` keeping the rows that feed ``periods``."""
    if report.rolling_days:
        first = min(periods) - dt.timedelta(days=report.rolling_days - 1)
        return F.col(C.EVENT_DATE).between(F.lit(first), F.lit(max(periods)))
    return period_start(F.col(C.EVENT_DATE), report.interval).isin(*periods)


def segmentation_counts(
    srows: DataFrame,
    report: SegmentationReport,
    periods: Sequence[dt.date] | None = None,
    last_day: dt.date | None = None,
) -> DataFrame:
    """SEGMENT_ROW_COLUMNS -> COUNT_COLUMNS: one row per (period, segment, cohort_segment).

    ``periods`` (optional) limits the output to those period starts; ``last_day`` caps rolling
    days (a rolling window is not reported past the last day with data).
    """
    if periods is not None:
        srows = srows.filter(dates_for_periods(report, periods))
    if report.rolling_days:
        counts = rolling_counts(srows, report.rolling_days)
    else:
        counts = srows.groupBy(
            period_start(F.col(C.EVENT_DATE), report.interval).alias(R.PERIOD_START),
            R.SEGMENT,
            R.COHORT_SEGMENT,
        ).agg(
            F.count_distinct(C.EVENT_ID).alias(R.EVENTS),
            F.count_distinct(R.UNIT).alias(R.UNIQUES),
            F.count_distinct(C.USER_KEY).alias(R.USERS),
        )
    if periods is not None:
        counts = counts.filter(F.col(R.PERIOD_START).isin(*periods))
    if report.rolling_days and last_day is not None:
        counts = counts.filter(F.col(R.PERIOD_START) <= F.lit(last_day))
    return counts.select(*COUNT_COLUMNS)


def rolling_counts(srows: DataFrame, days: int) -> DataFrame:
    """SEGMENT_ROW_COLUMNS -> COUNT_COLUMNS where day D counts the ``days`` days ending on D.

    Linear in ``days`` and one scan of the rows: each row gives three keys (unit, user, event);
    distinct (date, segment, key) are taken, events are then counted per date (an event has one
    date, so daily distinct counts add up), and only then is each (date, unit), (date, user)
    and daily event count exploded into the ``days`` days it is active for.
    """
    keys = (C.EVENT_DATE, R.SEGMENT, R.COHORT_SEGMENT)
    tagged = F.explode(
        F.array(
            F.struct(F.lit("u").alias(_KIND), F.col(R.UNIT).alias(_KEY)),
            F.struct(F.lit("p").alias(_KIND), F.col(C.USER_KEY).alias(_KEY)),
            F.struct(F.lit("e").alias(_KIND), F.col(C.EVENT_ID).alias(_KEY)),
        )
    )
    distinct = srows.select(*keys, tagged.alias("_k")).select(*keys, "_k.*").distinct()
    is_event = F.col(_KIND) == "e"
    daily = distinct.groupBy(*keys, _KIND, F.when(~is_event, F.col(_KEY)).alias(_KEY)).agg(
        F.count(F.lit(1)).alias(_N)
    )  # events: one row per date with the count
    window_days = F.sequence(F.col(C.EVENT_DATE), F.date_add(F.col(C.EVENT_DATE), days - 1))
    exploded = daily.withColumn(R.PERIOD_START, F.explode(window_days))
    kind = F.col(_KIND)
    return exploded.groupBy(R.PERIOD_START, R.SEGMENT, R.COHORT_SEGMENT).agg(
        F.coalesce(F.sum(F.when(kind == "e", F.col(_N))), F.lit(0)).cast("long").alias(R.EVENTS),
        F.count_distinct(F.when(kind == "u", F.col(_KEY))).alias(R.UNIQUES),
        F.count_distinct(F.when(kind == "p", F.col(_KEY))).alias(R.USERS),
    )


def top_segments(srows: DataFrame, report: SegmentationReport) -> DataFrame:
    """SEGMENT_ROW_COLUMNS -> (segment, segment_rank): the ``top.n`` segments with the most
    ``top.by`` (events, uniques or users) over the whole report range; ties by segment text."""
    assert report.top is not None
    measure = {R.EVENTS: C.EVENT_ID, R.UNIQUES: R.UNIT, R.USERS: C.USER_KEY}[report.top.by]
    ranked = (
        srows.groupBy(R.SEGMENT)
        .agg(F.count_distinct(measure).alias("_m"))
        .orderBy(F.col("_m").desc(), F.col(R.SEGMENT))
        .limit(report.top.n)
    )
    # ``limit`` of an ordered DataFrame is a TakeOrderedAndProject of at most n rows; the
    # rank is then numbered on those n rows only.
    rank = F.row_number().over(Window.orderBy(F.col("_m").desc(), F.col(R.SEGMENT)))
    return ranked.select(R.SEGMENT, rank.cast("int").alias(R.SEGMENT_RANK))


def segmentation_table(
    counts: DataFrame, report: SegmentationReport, run: RunInfo, ranks: DataFrame | None = None
) -> DataFrame:
    """COUNT_COLUMNS (+ segment ranks) -> rows of the gold SEGMENTATION table."""
    if ranks is not None:
        counts = counts.join(F.broadcast(ranks), on=R.SEGMENT, how="inner")
    else:
        counts = counts.withColumn(R.SEGMENT_RANK, F.lit(None).cast("int"))
    return counts.select(
        F.lit(report.name).alias(R.REPORT_NAME),
        F.lit(run.run_id).alias(R.RUN_ID),
        F.lit(run.computed_at).cast("timestamp").alias(R.COMPUTED_AT),
        F.lit(report.group_type).alias(R.GROUP_TYPE),
        F.lit(report.interval).alias(R.INTERVAL),
        F.lit(report.rolling_days).cast("int").alias(R.ROLLING_DAYS),
        R.PERIOD_START,
        R.SEGMENT,
        R.SEGMENT_RANK,
        R.COHORT_SEGMENT,
        R.EVENTS,
        R.UNIQUES,
        R.USERS,
    ).select(*SEGMENTATION.fieldNames())
