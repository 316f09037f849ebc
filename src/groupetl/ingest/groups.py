"""A record's groups JSON -> the groups it tracks, with Amplitude's limits and what is reported.

docs/semantics.md "Words": values are strings (numbers are stringified); a list gives several values
of one type. Per record at most 5 group types (declared types first, in declared order, then
others in listed order) and 10 values in total (in that order) are tracked; the rest is ignored
and reported ``group_limit_exceeded``, the record is kept.

Decisions (docs/input-formats.md):
- a value that is an object, a boolean, or a list holding one -> the record is quarantined
  ``invalid_group_value``; ``null``, ``""`` and ``[]`` mean "no value" (an assignment of no
  value is reported ``empty_group_assignment`` and assigns nothing);
- undeclared group types are KEPT in the silver rows and reported ``undeclared_group_type``
  (one row per type): attribution reads only declared types, and declaring a type later makes
  the already-ingested data usable without re-ingesting;
- repeated values of one type count once; values longer than 1024 characters are cut.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from groupetl.ingest import functions as fx
from groupetl.ingest.shape import N
from groupetl.reasons import Reported as R
from groupetl.schemas import C

MAX_TYPES = 5
MAX_VALUES = 10
_UNDECLARED_RANK = 1000  # undeclared types sort after declared ones, in listed order
_ENTRY_TYPE = "array<struct<rank:int,key:string,values:array<string>,long:boolean,bad:boolean>>"
_GROUPS_TYPE = "map<string,array<string>>"

# The common shape, read without interpreted lambdas (:func:`_common_groups`): a flat object of
# declared types whose values are non-empty strings, numbers or non-empty flat lists of them.
_STR = r'"(?:[^"\\]++|\\.)++"'
_NUM = r"-?(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?(?:[eE][+-]?[0-9]++)?"
_SCALAR = rf"(?:{_STR}|{_NUM})"
_VALUE = rf"(?:{_SCALAR}|\[\s*+{_SCALAR}(?:\s*+,\s*+{_SCALAR})*+\s*+\])"
_ENTRY = rf"{_STR}\s*+:\s*+{_VALUE}"
COMMON_GROUPS = rf"^\s*+\{{\s*+(?:{_ENTRY}(?:\s*+,\s*+{_ENTRY})*+)?\s*+\}}\s*+$"


def _entry_values(e: Column) -> Column:
    """``e`` (key, value, i, t: the value's variant type) with ``values`` (its distinct
    non-empty values as text; null when the value is not a string, a number or a flat list of
    them) and ``bad``."""
    t, value = e["t"], e["value"]
    items = F.try_variant_get(value, "$", "array<variant>")
    items_ok = F.forall(items, lambda x: fx.is_scalar_variant(x) | (fx.variant_type(x) == "VOID"))
    values = (
        F.when(t == "VOID", F.array().cast("array<string>"))
        .when(fx.is_scalar_type(t), F.array(fx.variant_string(value)))
        .when(t.startswith("ARRAY") & items_ok, F.transform(items, fx.variant_string))
    )
    present = F.array_distinct(F.filter(values, lambda v: v.isNotNull() & (v != "")))
    return F.struct(
        e["key"].alias("key"),
        e["i"].alias("i"),
        present.alias("values"),
        values.isNull().alias("bad"),
    )


def _classified(groups_map: Column, declared: tuple[str, ...]) -> Column:
    """Entries struct(rank, key, values, long, bad) of the groups object (map<string,variant>
    from :func:`fx.object_map`), in listed order.

    Three passes over the (few) entries, each computing a value once that the next reads
    several times: a lambda does not share repeated sub-expressions.
    """
    typed = F.transform(
        fx.unique_entries(groups_map),
        lambda e, i: F.struct(
            e["key"].alias("key"),
            e["value"].alias("value"),
            i.alias("i"),
            fx.variant_type(e["value"]).alias("t"),
        ),
    )

    def entry(e: Column) -> Column:
        values = e["values"]
        position = fx.position_in(e["key"], declared)
        rank = F.when(position > 0, position).otherwise(F.lit(_UNDECLARED_RANK) + e["i"])
        return F.struct(
            rank.cast("int").alias("rank"),
            e["key"].alias("key"),
            F.array_distinct(F.transform(values, fx.cut)).alias("values"),
            F.exists(values, fx.is_too_long).alias("long"),
            (e["bad"] | (e["key"] == "")).alias("bad"),
        )

    return F.transform(F.transform(typed, _entry_values), entry)


def _tracked(entries: Column) -> tuple[Column, Column]:
    """(tracked entries in priority order, limit exceeded?) after the 5-type / 10-value limits."""
    given = F.sort_array(F.filter(entries, lambda e: F.size(e["values"]) > 0))
    types = F.slice(given, 1, MAX_TYPES)
    sizes = F.transform(types, lambda e: F.size(e["values"]))

    def trimmed(e: Column, i: Column) -> Column:
        before = F.aggregate(F.slice(sizes, 1, i), F.lit(0), lambda a, b: a + b)
        room = F.greatest(F.lit(0), F.lit(MAX_VALUES) - before)
        return F.struct(e["key"].alias("key"), F.slice(e["values"], 1, room).alias("values"))

    kept = F.filter(F.transform(types, trimmed), lambda e: F.size(e["values"]) > 0)
    total = F.aggregate(
        F.transform(given, lambda e: F.size(e["values"])), F.lit(0), lambda a, b: a + b
    )
    exceeded = (F.size(given) > MAX_TYPES) | (total > MAX_VALUES)
    detail = F.format_string(
        "%d group types with %d values given; at most %d types and %d values are tracked",
        F.size(given),
        total,
        F.lit(MAX_TYPES),
        F.lit(MAX_VALUES),
    )
    return kept, F.when(exceeded, detail)


def _common_groups(
    text: Column, groups_map: Column, declared: tuple[str, ...]
) -> tuple[Column, Column]:
    """(is the groups object of the common shape, its tracked groups) without lambdas.

    Common: absent, or a JSON object (``groups_map`` from :func:`fx.object_map`) no longer than
    the string limit whose keys are distinct declared types, at most :data:`MAX_TYPES` of them,
    whose values are non-empty strings, numbers or non-empty flat lists of them
    (:data:`COMMON_GROUPS`), at most :data:`MAX_VALUES` distinct values in total. For such an
    object the general rules (:func:`_classified`, :func:`_tracked`) keep every entry, in
    declared order, with its distinct values, and report nothing: this gives the same map with
    compiled expressions only (the general rules' lambdas are interpreted).
    """
    present = [F.map_contains_key(groups_map, d) for d in declared]
    values = {}
    for d in declared:
        v = groups_map[d]
        listed = F.try_variant_get(v, "$", "array<string>")
        values[d] = F.when(listed.isNotNull(), F.array_distinct(listed)).otherwise(
            F.array(fx.variant_string(v))
        )
    count: Column = F.lit(0)
    total: Column = F.lit(0)
    entries = []
    for d, has in zip(declared, present, strict=True):
        count = count + has.cast("int")
        total = total + F.when(has, F.size(values[d])).otherwise(0)
        entries.append(
            F.when(
                has, F.array(F.struct(F.lit(d).alias("key"), values[d].alias("value")))
            ).otherwise(F.array().cast("array<struct<key:string,value:array<string>>>"))
        )
    empty = F.create_map().cast(_GROUPS_TYPE)
    tracked = F.map_from_entries(F.concat(*entries)) if entries else empty
    given = (
        groups_map.isNotNull()
        & (F.length(text) <= fx.MAX_STRING)
        & text.rlike(COMMON_GROUPS)
        & (F.size(groups_map) == count)
        & (count <= MAX_TYPES)
        & (total <= MAX_VALUES)
    )
    common = fx.is_absent_json(text) | F.coalesce(given, F.lit(False))
    return common, F.when(groups_map.isNull() | (count == 0), empty).otherwise(tracked)


def with_groups(df: DataFrame, declared_types: tuple[str, ...]) -> DataFrame:
    """Add ``groups`` (map type -> values), ``_groups_error`` and the group reports.

    In: rows with ``_groups_json`` and ``_assigns_groups`` (:data:`shape.PARSED`). Out: the same
    plus ``groups`` (tracked groups in priority order; empty map when none), ``_groups_error``
    (why the groups are invalid, or null) and ``_reports`` (array of struct(reason, detail)).
    """
    gj = F.col(N.GROUPS_JSON)
    staged = df.withColumn("_gm", fx.object_map(gj))
    common, common_groups = _common_groups(gj, F.col("_gm"), declared_types)
    staged = staged.withColumns({"_common": common, "_common_groups": common_groups})
    common = F.col("_common")
    not_object = ~fx.is_absent_json(gj) & F.col("_gm").isNull()
    # the general rules (interpreted lambdas) only for the other records
    staged = staged.withColumn(
        "_g",
        F.when(
            ~common,
            F.coalesce(
                F.when(F.col("_gm").isNotNull(), _classified(F.col("_gm"), declared_types)),
                F.array().cast(_ENTRY_TYPE),
            ),
        ),
    )
    g = F.col("_g")
    bad_keys = F.transform(F.filter(g, lambda e: e["bad"]), lambda e: e["key"])
    error = F.when(not_object, F.lit("groups is not a JSON object")).when(
        F.size(bad_keys) > 0,
        F.concat(
            F.lit("group value of "),
            F.concat_ws(", ", bad_keys),
            F.lit(" is not a string, a number or a flat list of them"),
        ),
    )
    kept, exceeded = _tracked(g)
    # kept is read twice below: computed once, in a projection of its own
    staged = staged.withColumns({"_kept": F.when(~common, kept), "_exceeded": exceeded})
    kept, exceeded = F.col("_kept"), F.col("_exceeded")
    undeclared = F.filter(kept, lambda e: fx.position_in(e["key"], declared_types) == 0)
    empty = F.filter(g, lambda e: (F.size(e["values"]) == 0) & ~e["bad"])
    reports = F.concat(
        F.transform(undeclared, lambda e: fx.report(R.UNDECLARED_GROUP_TYPE, e["key"])),
        F.when(
            F.col(N.ASSIGNS),
            F.transform(empty, lambda e: fx.report(R.EMPTY_GROUP_ASSIGNMENT, e["key"])),
        ).otherwise(F.array().cast(fx.REPORTS_TYPE)),
        fx.reports_when(
            (exceeded.isNotNull(), fx.report(R.GROUP_LIMIT_EXCEEDED, exceeded)),
            (F.exists(g, lambda e: e["long"]), fx.report(R.STRING_TRUNCATED, "groups")),
        ),
    )
    groups = F.map_from_entries(F.transform(kept, lambda e: F.struct(e["key"], e["values"])))
    return staged.select(
        "*",
        F.when(common, F.col("_common_groups"))
        .otherwise(F.coalesce(groups, F.create_map().cast(_GROUPS_TYPE)))
        .alias(C.GROUPS),
        F.when(~common, error).alias(N.GROUPS_ERROR),
        F.when(common, F.array().cast(fx.REPORTS_TYPE)).otherwise(reports).alias(N.REPORTS),
    ).drop("_g", "_gm", "_kept", "_exceeded", "_common", "_common_groups")
