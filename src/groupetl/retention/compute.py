"""Retention of groups as pure DataFrame transforms (see docs/reports/retention.md).

Flow: entity events -> ``start_anchors`` (one row per group and cohort period: the start event
that puts the group in the cohort) -> ``retention_members`` (plus the periods 1..N in which the
group did the return event) -> ``retention_cells`` (cohort size and retained groups per period).

Period 0 is the cohort itself: ``retained = cohort_size`` there, and return events are counted
from period 1 on. Period indexes:
- rolling: ``floor((return time - start time) / L)`` with L = 24 h, 7 days or 30 days;
- calendar: the number of day / ISO-week (Monday) / month boundaries between the two UTC dates.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from groupetl.cohorts.columns import criteria_matches
from groupetl.cohorts.store import apply_cohort
from groupetl.errors import InputError
from groupetl.retention.spec import ROLLING_DAYS, RetentionSpec
from groupetl.schemas import RC, C

RETURNED = "returned_periods"  # sorted array<int> of the periods 1..N with a return event
MEMBER_COLUMNS = (C.GROUP_VALUE, RC.COHORT_PERIOD, RC.START_TIME, RC.SEGMENT, RETURNED)
CELL_COLUMNS = (RC.SEGMENT, RC.COHORT_PERIOD, RC.COHORT_SIZE, RC.PERIOD_N, RC.RETAINED, RC.RATE)
_DAY_MICROS = 86_400_000_000
_CALENDAR_DAYS = {"day": 1, "week": 7}  # calendar months are handled with add_months


def period_start(ts: Column, period: str) -> Column:
    """The first day (UTC date) of the calendar day / ISO week (Monday) / month of ``ts``."""
    day = F.to_date(ts)
    return day if period == "day" else F.trunc(day, period)


def period_index(start: Column, ts: Column, spec: RetentionSpec) -> Column:
    """Integer period of ``ts`` relative to the start time ``start`` (0 = the start's period)."""
    if spec.basis == "rolling":
        length = ROLLING_DAYS[spec.period] * _DAY_MICROS
        return F.floor((F.unix_micros(ts) - F.unix_micros(start)) / F.lit(length)).cast("int")
    a, b = period_start(start, spec.period), period_start(ts, spec.period)
    if spec.period == "month":
        return F.months_between(b, a).cast("int")
    return (F.datediff(b, a) / F.lit(7 if spec.period == "week" else 1)).cast("int")


def cell_start(cohort_period: Column, n: Column, spec: RetentionSpec) -> Column:
    """Earliest day on which period ``n`` of a cohort starting ``cohort_period`` can begin."""
    if spec.basis == "calendar" and spec.period == "month":
        return F.add_months(cohort_period, n)
    days = ROLLING_DAYS[spec.period] if spec.basis == "rolling" else _CALENDAR_DAYS[spec.period]
    return F.date_add(cohort_period, n * F.lit(days))


def start_anchors(events: DataFrame, spec: RetentionSpec) -> DataFrame:
    """Entity events -> (group_value, cohort_period, start_time): each group's cohort entries.

    ``first_time``: the group's first start event ever (one row per group); ``any``: one row per
    period in which the group did the start event, at its first start event of that period.
    ``cohort_dates`` then keeps the rows whose start time falls in the range (UTC dates).
    """
    starts = events.filter(criteria_matches(spec.start_event))
    if spec.start == "first_time":
        anchors = starts.groupBy(C.GROUP_VALUE).agg(F.min(C.EVENT_TIME).alias(RC.START_TIME))
        anchors = anchors.withColumn(
            RC.COHORT_PERIOD, period_start(F.col(RC.START_TIME), spec.period)
        )
    else:
        anchors = (
            starts.withColumn(RC.COHORT_PERIOD, period_start(F.col(C.EVENT_TIME), spec.period))
            .groupBy(C.GROUP_VALUE, RC.COHORT_PERIOD)
            .agg(F.min(C.EVENT_TIME).alias(RC.START_TIME))
        )
    start_day = F.to_date(RC.START_TIME)
    if spec.cohort_from is not None:
        anchors = anchors.filter(start_day >= F.lit(spec.cohort_from))
    if spec.cohort_to is not None:
        anchors = anchors.filter(start_day <= F.lit(spec.cohort_to))
    return anchors.select(C.GROUP_VALUE, RC.COHORT_PERIOD, RC.START_TIME)


def return_periods(anchors: DataFrame, events: DataFrame, spec: RetentionSpec) -> DataFrame:
    """Anchors + entity events -> (group_value, cohort_period, returned_periods).

    Only groups with at least one return event in periods 1..N get a row. Calendar periods
    first reduce the return events to one row per group and period day/week/month.
    """
    returns = events.filter(criteria_matches(spec.return_event))
    when = F.col(C.EVENT_TIME)
    if spec.basis == "calendar":
        when = period_start(when, spec.period)
    returns = returns.select(C.GROUP_VALUE, when.alias("_return")).distinct()
    n = period_index(F.col(RC.START_TIME), F.col("_return"), spec)
    return (
        anchors.join(returns, on=C.GROUP_VALUE, how="inner")
        .withColumn(RC.PERIOD_N, n)
        .filter(F.col(RC.PERIOD_N).between(1, spec.periods))
        .groupBy(C.GROUP_VALUE, RC.COHORT_PERIOD)
        .agg(F.array_sort(F.collect_set(RC.PERIOD_N)).alias(RETURNED))
    )


def retention_members(
    events: DataFrame, spec: RetentionSpec, cohorts_df: DataFrame | None = None
) -> DataFrame:
    """Entity events -> MEMBER_COLUMNS: one row per group and cohort period it belongs to.

    With ``spec.cohort``, groups outside the cohort are dropped (``filter``) or labelled
    ``segment`` = 'in cohort' / 'rest' (``split``); otherwise ``segment`` is null.
    """
    anchors = start_anchors(events, spec)
    if spec.cohort is not None:
        if cohorts_df is None:
            raise InputError(f"retention report {spec.name!r} needs cohort {spec.cohort.name!r}")
        anchors = apply_cohort(
            anchors, cohorts_df, spec.cohort.name, spec.cohort.mode, spec.group_type, C.GROUP_VALUE
        )
    segment = F.col(RC.COHORT_SEGMENT) if spec.split else F.lit(None).cast("string")
    anchors = anchors.withColumn(RC.SEGMENT, segment)
    returned = return_periods(
        anchors.select(C.GROUP_VALUE, RC.COHORT_PERIOD, RC.START_TIME), events, spec
    )
    empty = F.array().cast("array<int>")
    return (
        anchors.join(returned, on=[C.GROUP_VALUE, RC.COHORT_PERIOD], how="left")
        .withColumn(RETURNED, F.coalesce(F.col(RETURNED), empty))
        .select(*MEMBER_COLUMNS)
    )


def retained_flag(n: Column, measure: str) -> Column:
    """Whether a member row counts as retained in period ``n`` (``on`` / ``on_or_after``)."""
    returned = F.col(RETURNED)
    hit = F.array_contains(returned, n) if measure == "on" else F.array_max(returned) >= n
    return (n == 0) | F.coalesce(hit, F.lit(False))


def retention_cells(members: DataFrame, spec: RetentionSpec, horizon: DataFrame) -> DataFrame:
    """Members -> CELL_COLUMNS: cohort size and retained groups per (segment, cohort, period).

    ``horizon`` is a one-row DataFrame ``(horizon: date)``, the last day with data; a cell is
    kept when its period can have begun by then (``cell_start <= horizon``), so the output is
    the usual triangle.
    """
    n = F.col(RC.PERIOD_N)
    cells = members.select(
        RC.SEGMENT, RC.COHORT_PERIOD, RETURNED,
        F.explode(F.sequence(F.lit(0), F.lit(spec.periods))).alias(RC.PERIOD_N),
    )  # fmt: skip
    counted = cells.groupBy(RC.SEGMENT, RC.COHORT_PERIOD, RC.PERIOD_N).agg(
        F.count(F.lit(1)).alias(RC.COHORT_SIZE),
        F.count_if(retained_flag(n, spec.measure)).alias(RC.RETAINED),
    )
    open_cells = F.col("horizon").isNotNull() & (
        cell_start(F.col(RC.COHORT_PERIOD), n, spec) <= F.col("horizon")
    )
    return (
        counted.crossJoin(horizon)
        .filter(open_cells)
        .withColumn(RC.RATE, F.try_divide(F.col(RC.RETAINED), F.col(RC.COHORT_SIZE)))
        .select(*CELL_COLUMNS)
    )


def data_horizon(events: DataFrame) -> DataFrame:
    """Entity events -> one row ``(horizon)``: the last event date (null when no events)."""
    return events.agg(F.max(C.EVENT_DATE).alias("horizon"))
