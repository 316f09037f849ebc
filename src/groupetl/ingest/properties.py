"""A record's group properties -> group property operation rows (docs/semantics.md, operations table).

``group_properties`` may hold plain values (``{"plan": "pro"}`` is ``$set``), operation maps
(``{"$add": {"seats": 2}}``) or both. Segment traits and PostHog ``$group_set`` are plain only
(a key starting with ``$`` is then a property name). Each (group, operation, property) is one
op row; ``$clearAll`` is one row with a null property and makes the record's other operations
ignored. When one record names a property under several operations, the first in the table's
order applies and the rest are reported ``conflicting_property_operation``.

A record is quarantined ``invalid_property_operation`` when: the properties are not an object,
an operation is unknown, an operation's value is not an object, or ``$add`` is given something
that is not a number.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from groupetl.ingest import functions as fx
from groupetl.ingest.shape import KIND_ASSIGNMENT, N
from groupetl.reasons import Reported as R
from groupetl.schemas import C

# docs/semantics.md table order: decides which operation applies when a record repeats a property.
OPERATIONS = (
    "$set",
    "$setOnce",
    "$unset",
    "$add",
    "$append",
    "$prepend",
    "$postInsert",
    "$preInsert",
    "$remove",
)
CLEAR_ALL = "$clearAll"
_ITEMS_TYPE = "array<struct<operation:string,property:string,value:variant>>"
OP_TYPE = (
    "array<struct<group_type:string,group_value:string,operation:string,property:string,"
    "value_json:string>>"
)


def _items(e: Column, plain: Column) -> tuple[Column, Column]:
    """(op items struct(operation, property, value), error) of one top-level properties entry
    (key, value, inner: the value read as an object, see :func:`_with_items`)."""
    key, value = e["key"], e["value"]
    is_op = ~plain & key.startswith("$")
    inner = e["inner"]
    null_variant = F.lit(None).cast("variant")

    def item(op: Column, prop: Column, v: Column) -> Column:
        return F.struct(op.alias("operation"), prop.alias("property"), v.alias("value"))

    items = (
        F.when(~is_op, F.array(item(F.lit("$set"), key, value)))
        .when(
            key == CLEAR_ALL,
            F.array(item(F.lit(CLEAR_ALL), F.lit(None).cast("string"), null_variant)),
        )
        .when(
            inner.isNotNull(),
            F.transform(fx.unique_entries(inner), lambda x: item(key, x["key"], x["value"])),
        )
    )
    unknown = is_op & ~key.isin(*OPERATIONS, CLEAR_ALL)
    error = F.when(unknown, F.format_string("unknown operation %s", key)).when(
        is_op & (key != CLEAR_ALL) & inner.isNull(),
        F.format_string("the value of %s is not an object", key),
    )
    return items, error


def _is_number(v: Column) -> Column:
    numeric_text = fx.variant_string(v).try_cast("double").isNotNull()
    return F.coalesce(
        fx.is_numeric_type(fx.variant_type(v)) | ((fx.variant_type(v) == "STRING") & numeric_text),
        F.lit(False),
    )


def _with_resolved(df: DataFrame) -> DataFrame:
    """Add ``_kept`` and ``_ignored`` items: after $clearAll and the per-property operation
    order. Each step is a column of its own: a lambda does not share the sub-expressions it
    repeats, and the "is it beaten?" test is quadratic in the record's items, so it is done
    once per item, not once per reader."""
    ranked = F.transform(
        F.col("_items"),
        lambda o, i: F.struct(
            fx.position_in(o["operation"], OPERATIONS).alias("rank"),
            i.alias("i"),
            o["operation"].alias("operation"),
            o["property"].alias("property"),
            o["value"].alias("value"),
        ),
    )
    staged = df.withColumn("_ranked", ranked)

    def beaten(o: Column) -> Column:
        return F.exists(
            F.col("_ranked"),
            lambda p: (
                (p["property"] == o["property"])
                & ((p["rank"] < o["rank"]) | ((p["rank"] == o["rank"]) & (p["i"] < o["i"])))
            ),
        )

    flagged = F.transform(
        F.col("_ranked"),
        lambda o: F.struct(
            *[o[f].alias(f) for f in ("rank", "i", "operation", "property", "value")],
            beaten(o).alias("beaten"),
        ),
    )
    staged = staged.withColumn("_flagged", flagged)
    flagged_col = F.col("_flagged")
    has_clear = F.exists(F.col("_items"), lambda o: o["operation"] == CLEAR_ALL)
    is_clear = lambda o: o["operation"] == CLEAR_ALL  # noqa: E731
    kept = F.when(has_clear, F.filter(flagged_col, is_clear)).otherwise(
        F.filter(flagged_col, lambda o: ~o["beaten"])
    )
    ignored = F.when(has_clear, F.filter(flagged_col, lambda o: ~is_clear(o))).otherwise(
        F.filter(flagged_col, lambda o: o["beaten"])
    )
    return staged.withColumns({"_kept": kept, "_ignored": ignored}).drop("_ranked", "_flagged")


def _with_items(df: DataFrame) -> DataFrame:
    """Add ``_items`` (every (operation, property, value) named) and ``_props_error``."""
    pj, plain = F.col(N.PROPS_JSON), F.col(N.PROPS_PLAIN)
    df = df.withColumn("_pm", fx.object_map(pj))
    not_object = ~fx.is_absent_json(pj) & F.col("_pm").isNull()
    entries = fx.unique_entries(F.col("_pm"))

    def per_entry(e: Column) -> Column:
        items, error = _items(e, plain)
        return F.struct(items.alias("items"), error.alias("error"))

    # the value as an object, read once per entry (it is tested and read several times)
    with_inner = F.transform(
        entries,
        lambda e: F.struct(
            e["key"].alias("key"),
            e["value"].alias("value"),
            F.when(
                ~plain & e["key"].startswith("$"),
                F.try_variant_get(e["value"], "$", "map<string,variant>"),
            ).alias("inner"),
        ),
    )
    staged = df.withColumn("_pe", F.transform(with_inner, per_entry))
    pe = F.col("_pe")
    # an entry with an error has no items (null), which makes flatten null: the record is
    # quarantined for that error anyway
    items = F.coalesce(
        F.flatten(F.transform(pe, lambda x: x["items"])), F.array().cast(_ITEMS_TYPE)
    )
    errors = F.filter(F.transform(pe, lambda x: x["error"]), lambda x: x.isNotNull())
    bad_add = F.exists(items, lambda o: (o["operation"] == "$add") & ~_is_number(o["value"]))
    error = (
        F.when(not_object, F.lit("group properties are not a JSON object"))
        .when(F.size(errors) > 0, F.concat_ws("; ", errors))
        .when(bad_add, F.lit("$add needs a number"))
    )
    return staged.withColumns({"_items": items, N.PROPS_ERROR: error}).drop("_pe", "_pm")


def _targets() -> Column:
    """The record's tracked groups as an array of struct(t: type, v: value)."""
    return F.flatten(
        F.transform(
            F.map_entries(F.col(C.GROUPS)),
            lambda g: F.transform(
                g["value"], lambda v: F.struct(g["key"].alias("t"), v.alias("v"))
            ),
        )
    )


def _on_targets(targets: Column, kept: Column) -> Column:
    """One op row per (target group, kept operation item)."""

    def row(t: Column, o: Column) -> Column:
        return F.struct(
            t["t"].alias(C.GROUP_TYPE),
            t["v"].alias(C.GROUP_VALUE),
            o["operation"].alias(C.OPERATION),
            fx.cut(o["property"]).alias(C.PROPERTY),
            fx.variant_json(o["value"]).alias(C.VALUE_JSON),
        )

    return F.flatten(F.transform(targets, lambda t: F.transform(kept, lambda o: row(t, o))))


def _reports(kept: Column, ignored: Column) -> Column:
    def conflict(o: Column) -> Column:
        what = F.format_string(
            "%s %s ignored", o["operation"], F.coalesce(o["property"], F.lit(""))
        )
        return fx.report(R.CONFLICTING_PROPERTY_OPERATION, what)

    long_value = F.exists(
        kept, lambda o: fx.is_long_string_variant(o["value"]) | fx.is_too_long(o["property"])
    )
    cut = fx.reports_when((long_value, fx.report(R.STRING_TRUNCATED, "group_properties")))
    return F.concat(F.transform(ignored, conflict), cut)


def with_operations(df: DataFrame) -> DataFrame:
    """Add ``_ops`` (op rows on the record's groups), ``_op_keys``, ``_props_error``, reports.

    In: rows with ``groups`` (from :func:`groups.with_groups`), ``_props_json``, ``_props_plain``
    and ``record_kind``. Out: ``_ops`` array of struct(group_type, group_value, operation,
    property, value_json) -- empty for assignments and for records without groups --,
    ``_op_keys`` (the distinct property keys the ops name), ``_props_error`` and more reports.
    """
    staged = _with_items(df)
    staged = _with_resolved(staged).withColumn("_targets", _targets())
    kept, ignored, targets = F.col("_kept"), F.col("_ignored"), F.col("_targets")
    applies = (F.col(C.RECORD_KIND) != KIND_ASSIGNMENT) & (F.size(targets) > 0)
    keys = F.array_distinct(
        F.filter(F.transform(kept, lambda o: fx.cut(o["property"])), lambda k: k.isNotNull())
    )
    return staged.withColumns(
        {
            N.OPS: F.when(applies, _on_targets(targets, kept)).otherwise(F.array().cast(OP_TYPE)),
            N.OP_KEYS: F.when(applies, keys).otherwise(F.array().cast("array<string>")),
            # reports only when the operations apply to something
            N.REPORTS: F.when(
                applies, F.concat(F.col(N.REPORTS), _reports(kept, ignored))
            ).otherwise(F.col(N.REPORTS)),
        }
    ).drop("_items", "_kept", "_ignored", "_targets")
