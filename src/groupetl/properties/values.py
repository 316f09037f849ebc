"""Column expressions over group property values held as JSON text.

Values are parsed with Spark's VARIANT (``try_parse_json``) and written back with ``to_json``, so
a value keeps its JSON type (``5`` stays a number, ``"5"`` a string) and equal values have equal
text (object keys sorted, no spaces). List items are kept as arrays of such JSON texts; two items
are equal when their texts are (type-strict: ``1``, ``1.0`` and ``"1"`` are three values).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

# Kinds of a parsed value: how $add and the list operations treat it.
INT, FLOAT, LIST, OTHER = "int", "float", "list", "other"

SET, SET_ONCE, UNSET, ADD = "$set", "$setOnce", "$unset", "$add"
APPEND, PREPEND, PRE_INSERT, POST_INSERT = "$append", "$prepend", "$preInsert", "$postInsert"
REMOVE, CLEAR_ALL = "$remove", "$clearAll"
LIST_BUILDERS = (APPEND, PREPEND, PRE_INSERT, POST_INSERT)
# docs/semantics.md's table order: when one record names a property under several operations, the
# first of this order applies.
OPERATIONS = (
    SET,
    SET_ONCE,
    UNSET,
    ADD,
    APPEND,
    PREPEND,
    POST_INSERT,
    PRE_INSERT,
    REMOVE,
    CLEAR_ALL,
)
VALUE_OPERATIONS = tuple(op for op in OPERATIONS if op not in (UNSET, CLEAR_ALL))


def value_kind(v: Column) -> Column:
    """INT, FLOAT, LIST or OTHER for a parsed VARIANT; null for invalid JSON or JSON ``null``."""
    schema = F.schema_of_variant(v)
    integral = schema.isin("BIGINT", "INT", "SMALLINT", "TINYINT") | schema.rlike(
        r"^DECIMAL\(\d+,0\)$"
    )
    fractional = schema.startswith("DECIMAL") | schema.isin("DOUBLE", "FLOAT")
    return (
        F.when(v.isNull() | F.is_variant_null(v), F.lit(None).cast("string"))
        .when(integral, F.lit(INT))
        .when(fractional, F.lit(FLOAT))
        .when(schema.startswith("ARRAY"), F.lit(LIST))
        .otherwise(F.lit(OTHER))
    )


def as_items(v: Column) -> Column:
    """The items of a parsed value as JSON texts: a list's items, or a scalar as one item."""
    return F.when(
        F.schema_of_variant(v).startswith("ARRAY"),
        F.transform(v.try_cast("array<variant>"), lambda x: F.to_json(x)),
    ).otherwise(F.array(F.to_json(v)))


def as_int(v: Column) -> Column:
    """An integral JSON number as DECIMAL(38,0) (exact for any 64-bit and larger integer)."""
    return F.try_variant_get(v, "$", "decimal(38,0)")


def as_double(v: Column) -> Column:
    return F.try_variant_get(v, "$", "double")


def list_json(items: Column) -> Column:
    """JSON text of a list from its items' JSON texts."""
    return F.concat(F.lit("["), F.array_join(items, ","), F.lit("]"))


def apply_list_op(current: Column, op: Column, items: Column) -> Column:
    """The list after one operation (docs/semantics.md table), both lists as arrays of JSON texts.

    ``$postInsert`` / ``$preInsert`` add the items not already present, each once, keeping the
    given order (so ``$preInsert [a, b]`` on ``[x]`` gives ``[a, b, x]``, like ``$prepend``).
    ``$add`` on a list leaves it alone (it is not a number).
    """

    def new_items() -> Column:
        return F.array_distinct(F.filter(items, lambda i: ~F.array_contains(current, i)))

    return (
        F.when(op == APPEND, F.concat(current, items))
        .when(op == PREPEND, F.concat(items, current))
        .when(op == POST_INSERT, F.concat(current, new_items()))
        .when(op == PRE_INSERT, F.concat(new_items(), current))
        .when(op == REMOVE, F.filter(current, lambda i: ~F.array_contains(items, i)))
        .otherwise(current)
    )
