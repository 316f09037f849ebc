"""Account lookup: groups of a type whose property ever had a value, among recently active ones.

``lookup(spark, config, "company", 'plan = paid', now)`` matches a group when **any** value the
property had up to the end of ``now`` reads ``paid`` (decoded text form, see
``groupetl.cohorts.columns``; a list value matches when one of its items does), and the group
had at least one attributed event in the active window: from ``active_since(now)`` (the same day
six calendar months before ``now``, clamped to the month's end: Aug 31 -> Feb 29) through ``now``,
both days included (UTC).
"""

from __future__ import annotations

import calendar
import datetime as dt

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.cohorts.columns import decoded_text, value_matches
from groupetl.cohorts.spec import check_group_type
from groupetl.config import ProjectConfig
from groupetl.lookup.query import Query, parse_query
from groupetl.schemas import ATTRIBUTED_EVENTS, GROUP_PROPERTY_HISTORY, RC, C, T

ACTIVE_MONTHS = 6
DEFAULT_LIMIT = 100
LOOKUP_COLUMNS = (
    C.GROUP_TYPE, C.GROUP_VALUE, RC.NAME, C.PROPERTY, RC.MATCHED_VALUES, RC.CURRENT_VALUE,
    RC.LAST_SEEN,
)  # fmt: skip


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier, clamped to that month's last day."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def active_since(now: dt.date) -> dt.date:
    """First day of the lookup's active window (six calendar months before ``now``)."""
    return months_before(now, ACTIVE_MONTHS)


def end_of(day: dt.date) -> dt.datetime:
    """Midnight UTC after ``day``: the exclusive end of everything known on ``day``.

    Timezone-aware, so Spark reads it as UTC whatever the driver's local zone is.
    """
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)


def in_force_at(moment: dt.datetime) -> Column:
    """History rows (valid_from/valid_to) whose value was in force just before ``moment``."""
    started = F.col(C.VALID_FROM) < F.lit(moment)
    return started & (F.col(C.VALID_TO).isNull() | (F.col(C.VALID_TO) >= F.lit(moment)))


def active_groups(attributed: DataFrame, group_type: str, now: dt.date) -> DataFrame:
    """ATTRIBUTED_EVENTS -> (group_value, last_seen) of groups active in the lookup window."""
    window = F.col(C.EVENT_DATE).between(F.lit(active_since(now)), F.lit(now))
    rows = attributed.filter((F.col(C.GROUP_TYPE) == group_type) & F.col(C.GROUP_VALUE).isNotNull())
    return rows.filter(window).groupBy(C.GROUP_VALUE).agg(F.max(C.EVENT_TIME).alias(RC.LAST_SEEN))


def matching_groups(history: DataFrame, group_type: str, query: Query, now: dt.date) -> DataFrame:
    """GROUP_PROPERTY_HISTORY -> (group_value, matched_values): groups whose property ever
    (before the end of ``now``) had the queried value, with the decoded values that matched."""
    rows = history.filter(
        (F.col(C.GROUP_TYPE) == group_type)
        & (F.col(C.PROPERTY) == query.property)
        & F.col(C.VALUE).isNotNull()
        & (F.col(C.VALID_FROM) < F.lit(end_of(now)))
    )
    hits = rows.filter(value_matches(F.col(C.VALUE), query.value))
    return hits.groupBy(C.GROUP_VALUE).agg(
        F.array_sort(F.collect_set(decoded_text(F.col(C.VALUE)))).alias(RC.MATCHED_VALUES)
    )


def values_at(
    history: DataFrame, group_type: str, prop: str, now: dt.date, alias: str
) -> DataFrame:
    """GROUP_PROPERTY_HISTORY -> (group_value, alias): the decoded value in force at end of now."""
    rows = history.filter(
        (F.col(C.GROUP_TYPE) == group_type) & (F.col(C.PROPERTY) == prop) & in_force_at(end_of(now))
    )
    return rows.select(C.GROUP_VALUE, decoded_text(F.col(C.VALUE)).alias(alias))


def lookup(
    spark: SparkSession,
    config: ProjectConfig,
    group_type: str,
    query: Query | str,
    now: dt.date,
    *,
    limit: int = DEFAULT_LIMIT,
    as_of_time: str | None = None,
) -> DataFrame:
    """Groups of ``group_type`` matching ``query`` among the groups active around ``now``.

    Out: LOOKUP_COLUMNS, at most ``limit`` rows, most recently seen first: ``name`` (the name
    property in force at the end of ``now``), ``matched_values`` (the historical values that
    matched), ``current_value`` (the property's value at the end of ``now``, null if unset),
    ``last_seen`` (the group's latest event in the window). ``as_of_time``: read the tables as
    they were then (Delta time travel, UTC text).
    """
    q = parse_query(query) if isinstance(query, str) else query
    check_group_type(config, group_type, allow_user=False)
    name_property = config.group_type(group_type).name_property
    history = tables.read(
        spark,
        config.paths.table(T.GROUP_PROPERTY_HISTORY),
        GROUP_PROPERTY_HISTORY,
        as_of_time=as_of_time,
    )
    path = config.paths.table(T.ATTRIBUTED_EVENTS)
    attributed = tables.read(spark, path, ATTRIBUTED_EVENTS, as_of_time=as_of_time)
    found = matching_groups(history, group_type, q, now).join(
        active_groups(attributed, group_type, now), on=C.GROUP_VALUE, how="inner"
    )
    return (
        found.join(values_at(history, group_type, name_property, now, RC.NAME),
                   on=C.GROUP_VALUE, how="left")
        .join(values_at(history, group_type, q.property, now, RC.CURRENT_VALUE),
              on=C.GROUP_VALUE, how="left")
        .withColumn(C.GROUP_TYPE, F.lit(group_type))
        .withColumn(C.PROPERTY, F.lit(q.property))
        .select(*LOOKUP_COLUMNS)
        .orderBy(F.col(RC.LAST_SEEN).desc(), C.GROUP_VALUE)
        .limit(limit)
    )  # fmt: skip
