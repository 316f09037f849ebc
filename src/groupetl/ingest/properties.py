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


def _resolved(items: Column) -> Column:
    """struct(kept, ignored) of the ``items``: after $clearAll and the per-property operation
    order. The "is it beaten?" test is quadratic in the record's items: done once per item
    (bound by :func:`fx.let`), not once per reader."""
    ranked = F.transform(
        items,
        lambda o, i: F.struct(
            fx.position_in(o["operation"], OPERATIONS).alias("rank"),
            i.alias("i"),
            o["operation"].alias("operation"),
            o["property"].alias("property"),
            o["value"].alias("value"),
        ),
    )

    def beaten(o: Column, all_ranked: Column) -> Column:
        return F.exists(
            all_ranked,
            lambda p: (
                (p["property"] == o["property"])
                & ((p["rank"] < o["rank"]) | ((p["rank"] == o["rank"]) & (p["i"] < o["i"])))
            ),
        )

    def flag(all_ranked: Column) -> Column:
        return F.transform(
            all_ranked,
            lambda o: F.struct(
                *[o[f].alias(f) for f in ("rank", "i", "operation", "property", "value")],
                beaten(o, all_ranked).alias("beaten"),
            ),
        )

    has_clear = F.exists(items, lambda o: o["operation"] == CLEAR_ALL)
    is_clear = lambda o: o["operation"] == CLEAR_ALL  # noqa: E731

    def split(flagged: Column) -> Column:
        kept = F.when(has_clear, F.filter(flagged, is_clear)).otherwise(
            F.filter(flagged, lambda o: ~o["beaten"])
        )
        ignored = F.when(has_clear, F.filter(flagged, lambda o: ~is_clear(o))).otherwise(
            F.filter(flagged, lambda o: o["beaten"])
        )
        return F.struct(kept.alias("kept"), ignored.alias("ignored"))

    return fx.let(fx.let(ranked, flag), split)


def _items_and_error(pm: Column, pj: Column, plain: Column) -> Column:
    """struct(items: every (operation, property, value) named, error) of the properties object
    ``pm`` (:func:`fx.object_map` of the text ``pj``)."""
    not_object = ~fx.is_absent_json(pj) & pm.isNull()
    entries = fx.unique_entries(pm)

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

    def of_entries(pe: Column) -> Column:
        # an entry with an error has no items (null), which makes flatten null: the record is
        # quarantined for that error anyway
        items = F.coalesce(
            F.flatten(F.transform(pe, lambda x: x["items"])), F.array().cast(_ITEMS_TYPE)
        )
        errors = F.filter(F.transform(pe, lambda x: x["error"]), lambda x: x.isNotNull())

        def with_error(its: Column) -> Column:
            bad_add = F.exists(its, lambda o: (o["operation"] == "$add") & ~_is_number(o["value"]))
            error = (
                F.when(not_object, F.lit("group properties are not a JSON object"))
                .when(F.size(errors) > 0, F.concat_ws("; ", errors))
                .when(bad_add, F.lit("$add needs a number"))
            )
            return F.struct(its.alias("items"), error.alias("error"))

        return fx.let(items, with_error)

    return fx.let(F.transform(with_inner, per_entry), of_entries)


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
    pj = F.col(N.PROPS_JSON)
    staged = df.withColumn("_pm", fx.object_map(pj))
    pm = F.col("_pm")
    # Most records name no property (no object, or an empty one): nothing to compute for
    # them. The rest is one expression (values bound by fx.let) rather than a projection per
    # step: every projection holding a lambda copies every row, whether it has properties or not.
    named = (pm.isNotNull() & (F.size(pm) > 0)) | (~fx.is_absent_json(pj) & pm.isNull())

    def of_items(ie: Column) -> Column:
        def of_resolved(r: Column) -> Column:
            kept, ignored = r["kept"], r["ignored"]
            # Events have groups but no operation: no targets to compute for them. With no
            # kept item there is no ignored one either, so nothing else changes.
            has_ops = (F.col(C.RECORD_KIND) != KIND_ASSIGNMENT) & (F.size(kept) > 0)

            def on(targets: Column) -> Column:
                applies = has_ops & (F.size(targets) > 0)
                keys = F.array_distinct(
                    F.filter(
                        F.transform(kept, lambda o: fx.cut(o["property"])),
                        lambda k: k.isNotNull(),
                    )
                )
                return F.struct(
                    F.when(applies, _on_targets(targets, kept))
                    .otherwise(F.array().cast(OP_TYPE))
                    .alias("ops"),
                    F.when(applies, keys).otherwise(F.array().cast("array<string>")).alias("keys"),
                    ie["error"].alias("error"),
                    # reports only when the operations apply to something
                    F.when(applies, F.concat(F.col(N.REPORTS), _reports(kept, ignored)))
                    .otherwise(F.col(N.REPORTS))
                    .alias("reports"),
                )

            return fx.let(F.when(has_ops, _targets()), on)

        return fx.let(_resolved(ie["items"]), of_resolved)

    staged = staged.withColumn(
        "_opr", F.when(named, fx.let(_items_and_error(pm, pj, F.col(N.PROPS_PLAIN)), of_items))
    )
    r = F.col("_opr")
    return staged.withColumns(
        {
            N.OPS: F.when(named, r["ops"]).otherwise(F.array().cast(OP_TYPE)),
            N.OP_KEYS: F.when(named, r["keys"]).otherwise(F.array().cast("array<string>")),
            N.PROPS_ERROR: r["error"],
            N.REPORTS: F.when(named, r["reports"]).otherwise(F.col(N.REPORTS)),
        }
    ).drop("_pm", "_opr")
