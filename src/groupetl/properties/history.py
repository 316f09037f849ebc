"""Group property operations -> each property's value over time (docs/semantics.md operations table).

The operations of one (group, property) are applied in record order without a quadratic fold:

1. ``normalize_ops``: values parsed once, operations ranked in the table's order.
2. ``expand_clear_all``: ``$clearAll`` becomes a removal of every property the group ever has
   (removing an absent property changes nothing, so this equals "every property it has now").
3. ``mark_segments``: one operation per (record, property), ``$clearAll`` first. A *reset*
   (``$set``, ``$unset``, ``$clearAll`` and a ``$setOnce`` that finds no value) makes the value
   independent of what came before, so each reset starts a segment.
4. ``scalar_phase``: inside a segment, ``$add`` is a running window sum on top of the reset's value,
   until the first list operation (``$append`` ...) turns the value into a list.
5. ``values_per_segment``: only the list part of a segment is folded, with one ``aggregate``
   per segment that yields the list after every step.
6. ``changes``: per millisecond the last value wins; rows that change nothing are dropped.

Decisions where docs/semantics.md is silent (docs/attribution.md lists them): an operation whose value
is not JSON or is JSON ``null`` is ignored, as is ``$add`` of a non-number; ``$remove`` on a value
that is not a list leaves it alone; numbers added are exact integers while every operand is an
integer, else doubles.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from groupetl.membership import T_MS, record_order, time_ms
from groupetl.properties.values import (
    ADD,
    CLEAR_ALL,
    FLOAT,
    INT,
    LIST,
    LIST_BUILDERS,
    OPERATIONS,
    REMOVE,
    SET,
    SET_ONCE,
    UNSET,
    apply_list_op,
    as_double,
    as_int,
    as_items,
    list_json,
    value_kind,
)
from groupetl.schemas import GROUP_PROPERTY_HISTORY, C

GROUP_KEY = [C.GROUP_TYPE, C.GROUP_VALUE]
PROPERTY_KEY = [*GROUP_KEY, C.PROPERTY]
# Per-operation output of ``property_values``: the property's value right after the operation.
VALUE_AFTER = "_value"
NON_NUMERIC_ADD = "_non_numeric_add"
_UPTO = (Window.unboundedPreceding, Window.currentRow)


def normalize_ops(ops: DataFrame) -> DataFrame:
    """Operation rows (``SILVER_GROUP_PROPERTY_OPS``) -> the same, parsed and ranked.

    Out: the known operations plus ``_t_ms``, ``_rank`` (position in docs/semantics.md's table,
    ``$clearAll`` first), ``_valid``, ``_kind``, ``_json`` (canonical JSON text), ``_items`` (the
    value as list items), ``_int`` and ``_dbl`` (numbers). Not valid: invalid JSON, JSON null,
    ``$add`` of a non-number; such an operation still counts as the one naming its property.
    """
    op = F.col(C.OPERATION)
    in_table = F.array_position(F.array(*[F.lit(o) for o in OPERATIONS]), op)
    needs_value = ~op.isin(UNSET, CLEAR_ALL)
    v, kind = F.col("_v"), F.col("_kind")
    valid = ~needs_value | (kind.isNotNull() & ((op != ADD) | kind.isin(INT, FLOAT)))
    known = (in_table > 0) & ((op == CLEAR_ALL) | F.col(C.PROPERTY).isNotNull())
    return (
        ops.filter(known)
        .withColumn("_rank", F.when(op == CLEAR_ALL, F.lit(0)).otherwise(in_table))
        .withColumn(T_MS, time_ms(C.OP_TIME))
        .withColumn("_v", F.when(needs_value, F.try_parse_json(C.VALUE_JSON)))
        .withColumn("_kind", value_kind(v))
        .withColumn("_valid", valid)
        .withColumn("_json", F.to_json(v))
        .withColumn("_items", F.when(needs_value, as_items(v)))
        .withColumn("_int", F.when(kind == INT, as_int(v)))
        .withColumn("_dbl", F.when(kind.isin(INT, FLOAT), as_double(v)))
        .drop("_v")
    )


def expand_clear_all(ops: DataFrame) -> DataFrame:
    """Normalized ops -> the same, each ``$clearAll`` replaced by one row per property of its group.

    Removing an absent property changes nothing, so "every property the group has then" is
    every property it ever has. An equi-join on the group: (clearAlls x properties of it).
    """
    is_clear = F.col(C.OPERATION) == CLEAR_ALL
    properties = ops.filter(~is_clear).select(*PROPERTY_KEY).distinct()
    cleared = ops.filter(is_clear).drop(C.PROPERTY).join(properties, on=GROUP_KEY, how="inner")
    return ops.filter(~is_clear).unionByName(cleared)


def mark_segments(ops: DataFrame) -> DataFrame:
    """Keep one operation per record and property; add ``_pos``, ``_reset`` and ``_seg``.

    A record's operations on one property are adjacent in record order, sorted by ``_rank``; only
    the first applies: ``$clearAll`` (ranked first, so the rest of its record is ignored), else the
    first in docs/semantics.md's table. A ``$setOnce`` finding a value does nothing and is dropped.
    Whether a property has a value before an operation only depends on the last operation that
    creates one (all but ``$remove``) or removes it, so it is a carried-forward flag, not a fold.
    ``_seg`` counts the resets so far: each segment starts from a value of its own.
    """
    op = F.col(C.OPERATION)
    w = Window.partitionBy(*PROPERTY_KEY).orderBy(*record_order(), "_rank")
    before = w.rowsBetween(Window.unboundedPreceding, -1)
    upto = w.rowsBetween(*_UPTO)
    same_record = F.coalesce(F.lag(C.RECORD_ID).over(w) == F.col(C.RECORD_ID), F.lit(False))
    presence = F.when(op.isin(UNSET, CLEAR_ALL), F.lit(False)).when(op != REMOVE, F.lit(True))
    present_before = F.coalesce(F.last("_presence", ignorenulls=True).over(before), F.lit(False))
    return (
        ops.withColumn("_later_in_record", same_record)
        .filter(~F.col("_later_in_record") & F.col("_valid"))
        .withColumn("_presence", presence)
        .withColumn("_pos", F.row_number().over(w))
        .withColumn("_present_before", present_before)
        .filter(~((op == SET_ONCE) & F.col("_present_before")))
        .withColumn("_reset", op.isin(SET, SET_ONCE, UNSET, CLEAR_ALL))
        .withColumn("_seg", F.sum(F.col("_reset").cast("int")).over(upto))
        .drop("_later_in_record", "_valid", "_presence", "_present_before")
    )


def scalar_phase(ops: DataFrame) -> DataFrame:
    """Add ``_in_list``, ``_scalar`` (value after the op while not a list) and ``_init``.

    A segment's base is its reset's value (absent for ``$unset``/``$clearAll`` and before the
    first reset). While the value is absent or a number, ``$add`` sums with a running window sum;
    a non-numeric base is left alone. From the first ``$append``-like op on (or at once when the
    base is a list) the segment is in its list phase; ``_init`` is the list it starts from.
    """
    op = F.col(C.OPERATION)
    w = Window.partitionBy(*PROPERTY_KEY, "_seg").orderBy("_pos").rowsBetween(*_UPTO)
    base_cols = ["_reset", C.OPERATION, "_json", "_kind", "_int", "_dbl", "_items"]
    base = F.col("_base")
    has_base = base["_reset"] & base[C.OPERATION].isin(SET, SET_ONCE)
    base_kind = F.when(has_base, base["_kind"])
    builds_list = F.max(op.isin(*LIST_BUILDERS).cast("int")).over(w) == 1
    in_list = ~F.col("_reset") & (base_kind.eqNullSafe(LIST) | builds_list)
    adding = (op == ADD) & ~F.col("_in_list")
    numeric_base = base_kind.isNull() | base_kind.isin(INT, FLOAT)
    float_add = F.max((adding & (F.col("_kind") == FLOAT)).cast("int")).over(w) == 1
    any_float = base_kind.eqNullSafe(FLOAT) | float_add
    n_adds = F.sum(adding.cast("int")).over(w)
    zero_int, zero_dbl = F.lit(0).cast("decimal(38,0)"), F.lit(0.0)
    int_sum = F.coalesce(F.when(has_base, base["_int"]), zero_int) + F.coalesce(
        F.sum(F.when(adding, F.col("_int"))).over(w), zero_int
    )
    dbl_sum = F.coalesce(F.when(has_base, base["_dbl"]), zero_dbl) + F.coalesce(
        F.sum(F.when(adding, F.col("_dbl"))).over(w), zero_dbl
    )
    scalar = (
        F.when(base_kind.isNull() & (n_adds == 0), F.lit(None).cast("string"))
        .when(~numeric_base | (n_adds == 0), base["_json"])
        .when(any_float, dbl_sum.cast("string"))
        .otherwise(int_sum.cast("string"))
    )
    init = (
        F.when(base_kind.eqNullSafe(LIST), base["_items"])
        .when(F.col("_scalar").isNull(), F.array().cast("array<string>"))
        .otherwise(F.array("_scalar"))
    )
    return (
        ops.withColumn("_base", F.first(F.struct(*base_cols)).over(w))
        .withColumn("_in_list", in_list)
        .withColumn("_scalar", scalar)
        .withColumn(NON_NUMERIC_ADD, (op == ADD) & (F.col("_in_list") | ~numeric_base))
        .withColumn("_init", F.when(F.col("_in_list"), init))
        .drop("_base")
    )


_OUT = ["_pos", T_MS, C.OPERATION, C.ORIGIN, C.RECORD_ID, C.BATCH_ID]


def values_per_segment(ops: DataFrame) -> DataFrame:
    """Marked rows -> one row per operation with ``VALUE_AFTER``, assembled per segment.

    Scalar-phase rows already hold their value; the list phase is folded with one ``aggregate``
    that keeps the list after every step (``states[i + 1]`` follows step ``i``), so its cost is
    the size of the values it outputs, not (steps x steps) re-folds. Grouping by segment needs no
    shuffle (the rows are already partitioned by property). A segment's rows sit in one array:
    the operations between two resets (thousands of ``$add`` make an array of thousands).
    """
    in_list = F.col("_in_list")
    scalar_row = F.struct(
        *_OUT, F.col("_scalar").alias(VALUE_AFTER), F.col(NON_NUMERIC_ADD).alias(NON_NUMERIC_ADD)
    )
    per_segment = ops.groupBy(*PROPERTY_KEY, "_seg").agg(
        F.collect_list(F.when(~in_list, scalar_row)).alias("_scalars"),
        F.array_sort(F.collect_list(F.when(in_list, F.struct(*_OUT, "_items")))).alias("_steps"),
        F.first("_init", ignorenulls=True).alias("_init"),
    )
    states = F.aggregate(
        "_steps",
        F.array("_init"),
        lambda acc, x: F.concat(
            acc, F.array(apply_list_op(F.element_at(acc, -1), x[C.OPERATION], x["_items"]))
        ),
    )
    list_rows = F.zip_with(
        "_steps",
        F.slice(states, 2, F.size("_steps")),
        lambda step, after: F.struct(
            *[step[c].alias(c) for c in _OUT],
            list_json(after).alias(VALUE_AFTER),
            (step[C.OPERATION] == ADD).alias(NON_NUMERIC_ADD),  # a list is not a number
        ),
    )
    rows = F.when(F.size("_steps") == 0, F.col("_scalars")).otherwise(
        F.concat("_scalars", list_rows)
    )
    return per_segment.select(*PROPERTY_KEY, F.explode(rows).alias("_row")).select(
        *PROPERTY_KEY, "_row.*"
    )


def property_values(ops: DataFrame) -> DataFrame:
    """``SILVER_GROUP_PROPERTY_OPS`` rows -> one row per applied operation and property.

    Out: group, property, ``_pos`` (record order), ``_t_ms``, operation, origin, record_id,
    batch_id, ``VALUE_AFTER`` (JSON text, null = absent) and ``NON_NUMERIC_ADD`` (an ``$add`` left
    alone because the value is not a number: docs/semantics.md says to report it).
    """
    return (
        ops.transform(normalize_ops)
        .transform(expand_clear_all)
        .transform(mark_segments)
        .transform(scalar_phase)
        .transform(values_per_segment)
    )


def changes(values: DataFrame) -> DataFrame:
    """Per-operation values -> ``GROUP_PROPERTY_HISTORY``: one row per change of value.

    Per millisecond only the last value counts (no event can see the others); a value equal to
    the one before is no change, so re-sending the same value keeps the first origin.
    """
    w = Window.partitionBy(*PROPERTY_KEY).orderBy("_pos")
    next_ms = F.lead(T_MS).over(w)
    value = F.col(VALUE_AFTER)
    return (
        values.withColumn("_next_ms", next_ms)
        .filter(F.col("_next_ms").isNull() | (F.col("_next_ms") != F.col(T_MS)))
        .withColumn("_changed", ~value.eqNullSafe(F.lag(VALUE_AFTER).over(w)))
        .filter("_changed")
        .select(
            *PROPERTY_KEY,
            value.alias(C.VALUE),
            F.timestamp_millis(T_MS).alias(C.VALID_FROM),
            F.timestamp_millis(F.lead(T_MS).over(w)).alias(C.VALID_TO),
            C.OPERATION,
            C.ORIGIN,
            C.RECORD_ID,
        )
        .select(*GROUP_PROPERTY_HISTORY.fieldNames())
    )


def property_history(ops: DataFrame) -> DataFrame:
    """``SILVER_GROUP_PROPERTY_OPS`` rows -> ``GROUP_PROPERTY_HISTORY`` (see module docstring)."""
    return changes(property_values(ops))
