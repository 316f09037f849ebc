"""Report input: attributed events with their group's properties as of event time.

``report_rows(events, versions, report)`` is the one place a report's rows are chosen:

- a group report (``group_type: company``) takes the ATTRIBUTED_EVENTS rows of that type that
  have a group: one row per (event, group), so an event of two companies counts in each;
- a user report takes the rows of ``property_group_type`` (default: the first declared type)
  *with or without* a group: every event appears at least once, and counts use distinct event
  ids and user keys, so the extra rows of multi-valued groups never double-count.

Group properties come from an equi-join on (group_type, group_value, group_version = version)
with GROUP_VERSIONS (docs/semantics.md "Attribution": properties as of the event's time).
Property values are compared in decoded text form (``groupetl.cohorts.columns.decoded_text``).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.cohorts import apply_cohort, read_members
from groupetl.cohorts.columns import decoded_text, list_items_text
from groupetl.config import ProjectConfig
from groupetl.reports.columns import NONE_LABEL, R
from groupetl.reports.definitions import Condition, FunnelReport, PropertyRef, Report
from groupetl.schemas import ATTRIBUTED_EVENTS, GROUP_VERSIONS, C, T

ROW_COLUMNS = (
    C.EVENT_ID,
    C.EVENT_TIME,
    C.EVENT_DATE,
    C.EVENT_TYPE,
    C.USER_KEY,
    C.GROUP_VALUE,
    C.EVENT_PROPERTIES,
    C.PROPERTIES,
    R.UNIT,
)


def read_inputs(spark: SparkSession, config: ProjectConfig) -> tuple[DataFrame, DataFrame]:
    """ATTRIBUTED_EVENTS and GROUP_VERSIONS (empty with their schemas before attribution ran)."""
    events = tables.read(spark, config.paths.table(T.ATTRIBUTED_EVENTS), ATTRIBUTED_EVENTS)
    versions = tables.read(spark, config.paths.table(T.GROUP_VERSIONS), GROUP_VERSIONS)
    return events, versions


def input_dates(report: Report) -> tuple[dt.date | None, dt.date | None]:
    """The event dates a report reads: its ``from``..``to``, plus the conversion window after
    ``to`` for a funnel (a first step on ``to`` may convert later, as in Amplitude)."""
    end = report.date_to
    if isinstance(report, FunnelReport) and end is not None:
        end = end + dt.timedelta(days=-(-report.window_ms // 86_400_000) + 1)
    return report.date_from, end


def report_rows(
    events: DataFrame,
    versions: DataFrame,
    report: Report,
    dates: tuple[dt.date | None, dt.date | None] = (None, None),
) -> DataFrame:
    """ATTRIBUTED_EVENTS (+ GROUP_VERSIONS) -> ROW_COLUMNS for ``report`` (see module doc).

    ``properties`` is the group's property map at event time (null: no group or no property
    yet); ``_unit`` is what the report counts: the group value, or the user key.
    """
    rows = events.filter(F.col(C.GROUP_TYPE) == report.property_group_type)
    if not report.counts_users:
        rows = rows.filter(F.col(C.GROUP_VALUE).isNotNull())
    start, end = dates
    if start is not None:
        rows = rows.filter(F.col(C.EVENT_DATE) >= F.lit(start))
    if end is not None:
        rows = rows.filter(F.col(C.EVENT_DATE) <= F.lit(end))
    if reads_group_properties(report):
        rows = with_group_properties(rows, versions)
    else:  # no group.* reference: skip the join
        rows = rows.withColumn(C.PROPERTIES, F.lit(None).cast("map<string,string>"))
    unit = F.col(C.USER_KEY) if report.counts_users else F.col(C.GROUP_VALUE)
    return rows.withColumn(R.UNIT, unit).select(*ROW_COLUMNS)


def reads_group_properties(report: Report) -> bool:
    """True when a filter, segment or breakdown of ``report`` reads a ``group.<property>``."""
    refs: list[PropertyRef | None] = []
    if isinstance(report, FunnelReport):
        refs.append(report.breakdown)
        conds = [c for s in report.steps for c in s.where]
        conds += [c for x in report.exclusions for c in x.where]
    else:
        refs.append(report.segment_by)
        conds = list(report.where)
    refs += [c.prop for c in conds]
    return any(r is not None and r.scope == "group" and r.name for r in refs)


def with_group_properties(rows: DataFrame, versions: DataFrame) -> DataFrame:
    """ATTRIBUTED_EVENTS rows -> the same rows plus ``properties`` of their group version.

    A left equi-join on (group_type, group_value, group_version = version): rows without a
    group or without a version get null properties.
    """
    props = versions.select(
        C.GROUP_TYPE, C.GROUP_VALUE, F.col(C.VERSION).alias(C.GROUP_VERSION), C.PROPERTIES
    )
    return rows.join(props, on=[C.GROUP_TYPE, C.GROUP_VALUE, C.GROUP_VERSION], how="left")


def with_cohort(
    spark: SparkSession, config: ProjectConfig, rows: DataFrame, report: Report
) -> DataFrame:
    """Rows -> the rows of the report's cohort (filter), or all rows plus ``cohort_segment``
    ('in cohort' | 'rest') for a split; ``cohort_segment`` is null without a split.

    Uses the cohort's latest snapshot in T.COHORT_MEMBERS, members of the report's group type
    (users for a user report); a cohort with no such members filters everything out.
    """
    if report.cohort is None:
        return rows.withColumn(R.COHORT_SEGMENT, F.lit(None).cast("string"))
    mode = "split" if report.cohort.split else "filter"
    members = read_members(spark, config)
    out = apply_cohort(rows, members, report.cohort.name, mode, report.group_type, key=R.UNIT)
    if mode == "filter":
        out = out.withColumn(R.COHORT_SEGMENT, F.lit(None).cast("string"))
    return out


def property_text(ref: PropertyRef) -> Column:
    """The decoded text of ``event.x`` / ``group.x`` on a report row (null when absent);
    ``group`` with no name (``segment_by: group``) is the counting unit itself."""
    if ref.scope == "group" and not ref.name:
        return F.col(R.UNIT)
    source = C.EVENT_PROPERTIES if ref.scope == "event" else C.PROPERTIES
    return decoded_text(F.try_element_at(F.col(source), F.lit(ref.name)))


def label_text(ref: PropertyRef | None, default: str) -> Column:
    """A segment/breakdown label: the property's text, ``(none)`` when absent."""
    if ref is None:
        return F.lit(default)
    return F.coalesce(property_text(ref), F.lit(NONE_LABEL))


def condition_holds(cond: Condition) -> Column:
    """Boolean Column for one condition; never null.

    ``=`` / ``in``: the value reads one of the values (numbers compare as numbers when the
    config gives numbers; a list property matches when one item does). ``!=`` / ``not in``:
    the negation, so they hold when the property is absent. ``>`` / ``<``: numeric, false
    when the property is absent or not a number. ``contains``: substring of the text.
    """
    text = property_text(cond.prop)
    if cond.op in (">", "<"):
        number = text.try_cast("double")
        bound = F.lit(cond.numbers[0])
        holds = number > bound if cond.op == ">" else number < bound
        return F.coalesce(holds, F.lit(False))
    if cond.op == "contains":
        return F.coalesce(text.contains(cond.values[0]), F.lit(False))
    numeric = text.try_cast("double").isin(*cond.numbers)
    equal = numeric if cond.numbers else text.isin(*cond.values)
    items = F.exists(list_items_text(text_source(cond.prop)), lambda i: i.isin(*cond.values))
    matches = F.coalesce(equal, F.lit(False)) | F.coalesce(items, F.lit(False))
    return ~matches if cond.op in ("!=", "not in") else matches


def text_source(ref: PropertyRef) -> Column:
    """The raw (JSON or plain) value of a property reference, before decoding."""
    if ref.scope == "group" and not ref.name:
        return F.col(R.UNIT)
    source = C.EVENT_PROPERTIES if ref.scope == "event" else C.PROPERTIES
    return F.try_element_at(F.col(source), F.lit(ref.name))


def all_hold(conditions: tuple[Condition, ...]) -> Column:
    """True when every condition holds (true for none)."""
    out = F.lit(True)
    for cond in conditions:
        out = out & condition_holds(cond)
    return out


def fingerprint(*cols: str | Column) -> Column:
    """A per-row 64-bit hash as DECIMAL, to be summed: equal sums = (almost surely) same rows.

    DECIMAL, not BIGINT, so that sums of millions of hashes cannot overflow (ANSI mode fails on
    a BIGINT overflow).
    """
    return F.xxhash64(*cols).cast("decimal(20,0)")


def sum_fingerprint(col: Column) -> Column:
    """The sum of per-row fingerprints as DECIMAL(38,0) (0 for no rows)."""
    return F.coalesce(F.sum(col), F.lit(0)).cast("decimal(38,0)")
