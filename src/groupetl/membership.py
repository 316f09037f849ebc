"""User-level group membership over time, and the record order every time-aware table uses.

docs/semantics.md "Sources of truth": an identify carrying ``groups`` assigns the user to those groups
of that type from its time on, until a later assignment of the same type overwrites it (a list
replaces the previous list). There is no unset.

Times are compared at millisecond precision (Amplitude's resolution): ``time_ms`` truncates a
timestamp to epoch milliseconds and every history table stores times truncated the same way, so
its intervals agree with the attribution join. Within one millisecond, records are ordered by
(source sequence nulls last, file, line, position): docs/semantics.md "Time and order".
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from groupetl.schemas import MEMBERSHIP_HISTORY, C

T_MS = "_t_ms"  # epoch milliseconds of a record's time, the first key of record order


def time_ms(ts: Column | str) -> Column:
    """Epoch milliseconds of a timestamp column (sub-millisecond digits dropped)."""
    return F.unix_millis(F.col(ts) if isinstance(ts, str) else ts)


def record_order() -> list[Column]:
    """Sort keys of record order, for rows that carry ``T_MS`` and the ORDER_FIELDS columns."""
    return [
        F.col(T_MS),
        F.col(C.SEQ_MS).asc_nulls_last(),
        F.col(C.SOURCE_FILE),
        F.col(C.LINE_NUMBER),
        F.col(C.RECORD_INDEX),
    ]


def last_of_each_millisecond(df: DataFrame, key: list[str]) -> DataFrame:
    """Keep, per ``key`` and millisecond, only the last row in record order.

    In: rows with ``key`` columns, ``T_MS`` and the record-order columns. Out: the same rows minus
    those overwritten within their own millisecond, which no event can ever see (an event at that
    millisecond sees all of them applied, docs/semantics.md "Attribution").
    """
    w = Window.partitionBy(*key).orderBy(*record_order())
    next_ms = F.lead(T_MS).over(w)
    return (
        df.withColumn("_next_ms", next_ms)
        .filter(F.col("_next_ms").isNull() | (F.col("_next_ms") != F.col(T_MS)))
        .drop("_next_ms")
    )


def clean_group_values(values: Column) -> Column:
    """The distinct non-empty values of a group-values array, in listed order.

    A user or event listed twice in one group still counts once in it (docs/semantics.md "Words").
    """
    return F.array_distinct(F.filter(values, lambda v: v.isNotNull() & (v != F.lit(""))))


def membership_history(assignments: DataFrame) -> DataFrame:
    """User-level assignments -> validity intervals per (user_key, group_type).

    In: rows shaped like ``SILVER_GROUP_ASSIGNMENTS``. Out: ``MEMBERSHIP_HISTORY``, one row per
    assignment that is in force for some time: ``valid_from`` is its time (milliseconds),
    ``valid_to`` the time of the next assignment of the same type (exclusive), null when none.

    Assignments of nothing (an empty list) assign nothing: ingestion reports them, and they are
    skipped here too. Of several assignments in one millisecond the last in record order wins.
    """
    key = [C.USER_KEY, C.GROUP_TYPE]
    cleaned = (
        assignments.dropDuplicates([C.RECORD_ID, C.GROUP_TYPE])
        .withColumn(C.GROUP_VALUES, clean_group_values(F.col(C.GROUP_VALUES)))
        .filter(F.size(C.GROUP_VALUES) > 0)
        .withColumn(T_MS, time_ms(C.ASSIGNED_AT))
    )
    in_force = last_of_each_millisecond(cleaned, key)
    w = Window.partitionBy(*key).orderBy(T_MS)
    return in_force.select(
        *key,
        C.GROUP_VALUES,
        F.timestamp_millis(T_MS).alias(C.VALID_FROM),
        F.timestamp_millis(F.lead(T_MS).over(w)).alias(C.VALID_TO),
        C.RECORD_ID,
        C.SOURCE,
    ).select(*MEMBERSHIP_HISTORY.fieldNames())
