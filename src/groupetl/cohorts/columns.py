"""Column expressions and small transforms shared by cohorts, retention and account lookup.

Property values are compared in their *decoded text form*: a JSON string value ``"Acme"`` and a
plain ``Acme`` both read ``Acme``; numbers read as JSON spells them after parsing (``5``, ``5.0``
and ``"5"`` all read ``5``); booleans read ``true`` / ``false``. So a filter ``plan = paid`` or a
lookup ``seats = 10`` works whether the stored text is JSON (group properties) or plain (event
properties as some sources send them). Comparison is exact and case-sensitive.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from groupetl.cohorts.spec import USER, EventCriteria, PropertyFilter
from groupetl.schemas import RC, C

# Columns of entity_events(): the events of one group type, one row per (event, group).
ENTITY_EVENT_COLUMNS = (
    C.GROUP_VALUE,
    C.EVENT_ID,
    C.EVENT_TIME,
    C.EVENT_DATE,
    C.EVENT_TYPE,
    C.USER_KEY,
    C.EVENT_PROPERTIES,
)


def decoded_text(value: Column) -> Column:
    """JSON text -> its string/number/boolean as text; text that is not JSON stays as it is.

    ``'"Acme"'`` -> ``Acme``; ``'5.0'`` -> ``5``; ``'Acme'`` (not JSON) -> ``Acme``;
    a list or object -> its JSON text; null -> null.
    """
    return F.coalesce(F.try_variant_get(F.try_parse_json(value), "$", "string"), value)


def list_items_text(value: Column) -> Column:
    """The decoded items of a JSON list value (``'["a", 1]'`` -> ``[a, 1]``); null if not a list."""
    items = F.try_parse_json(value).try_cast("array<variant>")
    return F.transform(items, lambda x: F.try_variant_get(x, "$", "string"))


def value_matches(value: Column, text: str) -> Column:
    """True when the JSON/plain ``value`` reads ``text``, or is a list with an item that does."""
    wanted = decoded_text(F.lit(text))
    in_list = F.exists(list_items_text(value), lambda item: item == wanted)
    return F.coalesce(decoded_text(value) == wanted, F.lit(False)) | F.coalesce(
        in_list, F.lit(False)
    )


def property_filter(f: PropertyFilter) -> Column:
    """Boolean Column for one event property filter (never null).

    ``=`` and ``in`` need the property present with a matching value; ``!=`` holds when the
    property is absent or has another value (like SQL ``IS DISTINCT FROM``).
    """
    value = decoded_text(F.try_element_at(F.col(C.EVENT_PROPERTIES), F.lit(f.property)))
    wanted = [decoded_text(F.lit(v)) for v in f.values]
    equal = F.coalesce(value.isin(*wanted), F.lit(False))
    return ~equal if f.op == "!=" else equal


def criteria_matches(criteria: EventCriteria) -> Column:
    """Boolean Column: the event is ``criteria.event`` (any, when None) and every filter holds."""
    cond = F.lit(True) if criteria.event is None else F.col(C.EVENT_TYPE) == criteria.event
    for f in criteria.where:
        cond = cond & property_filter(f)
    return cond


def entity_events(attributed: DataFrame, group_type: str, declared: Sequence[str]) -> DataFrame:
    """Attributed events -> the events of ``group_type``, one row per (event, group).

    In: ATTRIBUTED_EVENTS (one row per event, declared group type and group value).
    Out: ENTITY_EVENT_COLUMNS, ``group_value`` never null. For ``group_type="user"``,
    ``group_value`` is the user key and each event appears once (the rows of the first declared
    type hold every event once per value; duplicates by event id are dropped).
    """
    if group_type == USER:
        rows = attributed.filter(F.col(C.GROUP_TYPE) == declared[0])
        return rows.dropDuplicates([C.EVENT_ID]).select(
            F.col(C.USER_KEY).alias(C.GROUP_VALUE), *ENTITY_EVENT_COLUMNS[1:]
        )
    rows = attributed.filter((F.col(C.GROUP_TYPE) == group_type) & F.col(C.GROUP_VALUE).isNotNull())
    return rows.select(*ENTITY_EVENT_COLUMNS)


def current_names(current: DataFrame, group_type: str, name_property: str) -> DataFrame:
    """CURRENT_GROUP_PROPERTIES -> (group_value, name): the decoded name property of each group."""
    rows = current.filter(F.col(C.GROUP_TYPE) == group_type)
    name = decoded_text(F.try_element_at(F.col(C.PROPERTIES), F.lit(name_property)))
    return rows.select(C.GROUP_VALUE, name.alias(RC.NAME))


def with_current_name(
    df: DataFrame, current: DataFrame, group_type: str, name_property: str | None
) -> DataFrame:
    """Add ``name`` (the group's current name property; null for users or unnamed groups).

    In: any DataFrame with ``group_value``. Out: the same rows plus ``name``.
    """
    if group_type == USER or name_property is None:
        return df.withColumn(RC.NAME, F.lit(None).cast("string"))
    names = current_names(current, group_type, name_property)
    return df.join(names, on=C.GROUP_VALUE, how="left")
