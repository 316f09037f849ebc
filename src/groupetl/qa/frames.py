"""The DataFrames QA validates: narrow projections of the tables and small derived frames.

Every function is ``DataFrame(s) -> DataFrame`` and lazy. Derived frames are distinct sets
(group types, groups, property keys) or one-row aggregates, so Great Expectations computes its
metrics on small data; per-row checks (required properties, user keys) use a projection with
the columns the checks read.

A check that must name *which* row is wrong uses a column holding an identifier of each offending
row and null elsewhere (``unnamed_group`` = ``"company:1001"``), validated with "values to be
null": GX's sample of unexpected values then lists the offending groups, not ``False``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl.config import ProjectConfig, TrackingPlan
from groupetl.ingest.functions import is_blank, is_valid_id
from groupetl.qa.catalog import Q
from groupetl.qa.sources import ATTRIBUTION, INGEST, SOURCES, QaTables
from groupetl.schemas import C, T

NAMING_OPERATIONS = ("$set", "$setOnce")  # the operations that give a group its name
_EMPTY_JSON = ("null", '""')  # a name set to JSON null or "" is no name


def build_frames(spark: SparkSession, t: QaTables, config: ProjectConfig) -> dict[str, DataFrame]:
    """Every frame a suite may validate, by the ``Suite.frame`` key (all lazy).

    In: the project's tables (missing ones empty) and config. Out: frame key -> DataFrame.
    """
    ops = t[T.SILVER_GROUP_PROPERTY_OPS].unionByName(t[T.DERIVED_PROPERTY_OPS])
    events, assignments = t[T.SILVER_EVENTS], t[T.SILVER_GROUP_ASSIGNMENTS]
    values = group_value_occurrences(events, assignments, ops)
    return {
        "tables": tables_frame(spark, t),
        "bronze_records": bronze_frame(t[T.BRONZE_RECORDS]),
        "events": event_frame(events, config),
        "event_properties": event_property_pairs(events, config.tracking_plan),
        "group_types": group_type_occurrences(events, assignments, ops),
        "group_values": values,
        "group_names": group_names(values, ops, t[T.CURRENT_GROUP_PROPERTIES], config),
        "property_keys": property_keys(ops, config.tracking_plan),
        "record_outcomes": record_outcomes(
            t[T.SILVER_RECORDS], t[T.SILVER_DUPLICATES], t["quarantine"]
        ),
        "membership": t[T.MEMBERSHIP_HISTORY].select(C.GROUP_TYPE).distinct(),
        "attributed": t[T.ATTRIBUTED_EVENTS].select(C.GROUP_TYPE, C.ATTRIBUTION).distinct(),
    }


def tables_frame(spark: SparkSession, t: QaTables) -> DataFrame:
    """One row per table that must exist: its name under its owner's column when missing."""
    rows = [
        (
            s.name,
            s.name if s.owner == INGEST and not t.exists[s.name] else None,
            s.name if s.owner == ATTRIBUTION and not t.exists[s.name] else None,
        )
        for s in SOURCES
        if s.owner in (INGEST, ATTRIBUTION)
    ]
    schema = (
        f"{Q.TABLE} string, {Q.MISSING_INGEST_TABLE} string, {Q.MISSING_ATTRIBUTION_TABLE} string"
    )
    return spark.createDataFrame(rows, schema)


def bronze_frame(bronze: DataFrame) -> DataFrame:
    """Bronze lines reduced to what the checks read: where a raw line is missing, arrival time."""
    where = F.concat_ws(":", C.SOURCE_FILE, F.col(C.LINE_NUMBER).cast("string"))
    return bronze.select(
        F.when(F.col(C.RAW).isNull(), where).alias(Q.RAW_MISSING_AT), C.ARRIVAL_TIME
    )


def event_frame(events: DataFrame, config: ProjectConfig) -> DataFrame:
    """Silver events with the per-row findings: invalid user keys, missing required properties."""
    return events.select(
        C.EVENT_TYPE,
        C.USER_KEY,
        C.EVENT_TIME,
        C.INSERT_ID,
        F.when(~_valid_user_key(config.min_id_length), F.col(C.USER_KEY)).alias(Q.INVALID_USER_KEY),
        missing_required_properties(config.tracking_plan).alias(Q.MISSING_REQUIRED),
    )


def _valid_user_key(min_id_length: Mapping[str, int]) -> Column:
    """Amplitude's id rule with the minimum length of the event's source (1 for other sources)."""
    lengths = F.create_map(*[F.lit(x) for kv in min_id_length.items() for x in kv])
    min_len = F.coalesce(lengths[F.col(C.SOURCE)], F.lit(1))
    # A null key is user_key_not_null's failure, not this check's.
    return F.coalesce(is_valid_id(C.USER_KEY, min_len), F.col(C.USER_KEY).isNull())


def missing_required_properties(plan: TrackingPlan) -> Column:
    """``"Event: a, b"`` naming the plan's required properties an event lacks; null when none.

    A property counts as present when its key holds a non-null value.
    """
    props = F.col(C.EVENT_PROPERTIES)
    missing: Column | None = None
    for event in plan.events:
        if not event.required:
            continue
        absent = F.filter(F.array(*[F.lit(r) for r in event.required]), lambda p: props[p].isNull())
        listed = F.array_join(absent, ", ")
        is_event = F.col(C.EVENT_TYPE) == event.name
        missing = F.when(is_event, listed) if missing is None else missing.when(is_event, listed)
    if missing is None:
        return F.lit(None).cast("string")
    return F.when(F.length(missing) > 0, F.concat_ws(": ", C.EVENT_TYPE, missing))


def event_property_pairs(events: DataFrame, plan: TrackingPlan) -> DataFrame:
    """Distinct (event type, property key); ``"Event.prop"`` kept only for planned events.

    Unplanned events are event_type_in_tracking_plan's failure; their properties are not
    reported a second time.
    """
    pairs = events.select(
        C.EVENT_TYPE, F.explode(F.map_keys(C.EVENT_PROPERTIES)).alias(C.PROPERTY)
    ).distinct()
    planned = F.col(C.EVENT_TYPE).isin(list(plan.event_names))
    return pairs.withColumn(
        Q.PLANNED_EVENT_PROPERTY,
        F.when(planned, F.concat_ws(".", C.EVENT_TYPE, C.PROPERTY)),
    )


def group_type_occurrences(events: DataFrame, assignments: DataFrame, ops: DataFrame) -> DataFrame:
    """Distinct (group type, table it was seen in): event-level groups, assignments, ops."""
    from_events = events.select(F.explode(F.map_keys(C.GROUPS)).alias(C.GROUP_TYPE))
    parts = [
        from_events.withColumn(Q.FOUND_IN, F.lit("events")),
        assignments.select(C.GROUP_TYPE, F.lit("group_assignments").alias(Q.FOUND_IN)),
        ops.select(C.GROUP_TYPE, F.lit("group_property_ops").alias(Q.FOUND_IN)),
    ]
    return _union(parts).distinct()


def group_value_occurrences(events: DataFrame, assignments: DataFrame, ops: DataFrame) -> DataFrame:
    """Distinct (group type, group value, table) with ``empty_value_in`` set for blank values.

    An empty list of values counts as one blank value: it names a group type and no group.
    """
    event_groups = events.select(F.explode(C.GROUPS).alias(C.GROUP_TYPE, C.GROUP_VALUES))
    parts = [
        event_groups.select(
            C.GROUP_TYPE,
            F.explode_outer(C.GROUP_VALUES).alias(C.GROUP_VALUE),
            F.lit("events").alias(Q.FOUND_IN),
        ),
        assignments.select(
            C.GROUP_TYPE,
            F.explode_outer(C.GROUP_VALUES).alias(C.GROUP_VALUE),
            F.lit("group_assignments").alias(Q.FOUND_IN),
        ),
        ops.select(C.GROUP_TYPE, C.GROUP_VALUE, F.lit("group_property_ops").alias(Q.FOUND_IN)),
    ]
    blank_in = F.concat_ws(" in ", C.GROUP_TYPE, Q.FOUND_IN)
    return (
        _union(parts)
        .distinct()
        .withColumn(Q.EMPTY_VALUE_IN, F.when(is_blank(C.GROUP_VALUE), blank_in))
    )


def group_names(
    values: DataFrame, ops: DataFrame, current: DataFrame, config: ProjectConfig
) -> DataFrame:
    """Distinct groups of declared types with ``has_name`` and ``unnamed_group`` ("type:value").

    A group is named when a ``$set``/``$setOnce`` of its type's ``name_property`` with a value
    was ever accepted, or when the current properties table (if attribution ran) holds one.
    """
    name_of = F.create_map(
        *[F.lit(x) for g in config.group_types for x in (g.name, g.name_property)]
    )
    key = [C.GROUP_TYPE, C.GROUP_VALUE]
    groups = (
        values.filter(F.col(C.GROUP_TYPE).isin(list(config.group_type_names)))
        .filter(~is_blank(C.GROUP_VALUE))
        .select(*key)
        .distinct()
    )
    named_by_ops = ops.filter(
        F.col(C.OPERATION).isin(*NAMING_OPERATIONS)
        & (F.col(C.PROPERTY) == name_of[F.col(C.GROUP_TYPE)])
        & ~is_blank(C.VALUE_JSON)
        & ~F.col(C.VALUE_JSON).isin(*_EMPTY_JSON)
    ).select(*key)
    current_name = F.col(C.PROPERTIES)[name_of[F.col(C.GROUP_TYPE)]]
    named_now = current.filter(~is_blank(current_name) & ~current_name.isin(*_EMPTY_JSON))
    named = named_by_ops.unionByName(named_now.select(*key)).distinct()
    has_name = F.col(Q.HAS_NAME)
    return (
        groups.join(named.withColumn(Q.HAS_NAME, F.lit(True)), on=key, how="left")
        .withColumn(Q.HAS_NAME, F.coalesce(has_name, F.lit(False)))
        .withColumn(Q.UNNAMED_GROUP, F.when(~has_name, F.concat_ws(":", *key)))
    )


def property_keys(ops: DataFrame, plan: TrackingPlan) -> DataFrame:
    """Distinct (group type, property key) of accepted operations (``$clearAll`` has none).

    ``planned_type_property`` ("company.plan") is set only for group types the plan lists, so
    a type without planned properties is not reported key by key.
    """
    planned_type = F.col(C.GROUP_TYPE).isin(list(plan.group_properties))
    return (
        ops.filter(F.col(C.PROPERTY).isNotNull())
        .select(C.GROUP_TYPE, C.PROPERTY)
        .distinct()
        .withColumn(
            Q.PLANNED_TYPE_KEY, F.when(planned_type, F.concat_ws(".", C.GROUP_TYPE, C.PROPERTY))
        )
    )


def record_outcomes(records: DataFrame, duplicates: DataFrame, quarantine: DataFrame) -> DataFrame:
    """One row: raw records accepted, deduplicated and quarantined, and the two rates.

    Every raw record ends in exactly one of the three places (docs/semantics.md "Bad input"), so
    their sum is the number of raw records; an empty project has rates 0.
    """
    counts = (
        records.agg(F.count(F.lit(1)).alias(Q.ACCEPTED))
        .crossJoin(duplicates.agg(F.count(F.lit(1)).alias(Q.DUPLICATES)))
        .crossJoin(quarantine.agg(F.count(F.lit(1)).alias(Q.QUARANTINED)))
        .withColumn(Q.RECORDS, F.col(Q.ACCEPTED) + F.col(Q.DUPLICATES) + F.col(Q.QUARANTINED))
    )
    total = F.col(Q.RECORDS)

    def share(part: str) -> Column:
        return F.when(total > 0, F.col(part) / total).otherwise(F.lit(0.0))

    return counts.select(
        "*",
        share(Q.QUARANTINED).alias(Q.QUARANTINE_RATE),
        share(Q.DUPLICATES).alias(Q.DUPLICATE_RATE),
    )


def _union(parts: list[DataFrame]) -> DataFrame:
    result = parts[0]
    for part in parts[1:]:
        result = result.unionByName(part)
    return result
