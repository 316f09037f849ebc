"""PostHog capture events -> the shared parsed shape (:data:`shape.PARSED`).

| event | kind | groups | group properties |
|---|---|---|---|
| ``$groupidentify`` | group_property | ``{$group_type: $group_key}`` (from ``properties``) | ``$set`` of ``$group_set`` |
| ``$identify``, ``$set``, ``$set_once`` | group_assignment (an identify) | none: PostHog has no user-level groups | none |
| any other ``event`` | event | event-level, ``properties.$groups`` | none |

The user is ``distinct_id`` (top level, else ``properties.distinct_id``) and counts as a user_id;
``timestamp`` is ISO-8601 (absent: the file's arrival time); ``uuid`` is the dedup key; the source
sequence is ``sent_at`` (event, then batch). Event properties are ``properties`` without
``$groups`` and the ``$group_*`` keys.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from groupetl.config import ProjectConfig
from groupetl.ingest import functions as fx
from groupetl.ingest.shape import KIND_ASSIGNMENT, KIND_EVENT, KIND_PROPERTY, PARSED, N
from groupetl.schemas import C

RECORD = (
    "event string, distinct_id string, timestamp string, uuid string, sent_at string, "
    "properties string"
)
PROPERTIES = (
    "distinct_id string, `$groups` string, `$group_type` string, `$group_key` variant, "
    "`$group_set` string"
)
IDENTIFY_EVENTS = ("$identify", "$set", "$set_once")
GROUP_IDENTIFY = "$groupidentify"
NOT_EVENT_PROPERTIES = ("$groups", "$group_type", "$group_key", "$group_set")


def _kind(event: Column) -> Column:
    return (
        F.when(event == GROUP_IDENTIFY, F.lit(KIND_PROPERTY))
        .when(event.isin(*IDENTIFY_EVENTS), F.lit(KIND_ASSIGNMENT))
        .otherwise(F.lit(KIND_EVENT))
    )


def _event_properties(properties: Column) -> Column:
    """``properties`` without the group keys, as JSON object text (null when not an object)."""
    parsed = F.from_json(properties, fx.VARIANT_MAP)
    kept = F.map_filter(parsed, lambda k, _v: ~k.isin(*NOT_EVENT_PROPERTIES))
    return F.when(fx.is_json_object(properties), F.to_json(kept)).otherwise(properties)


def parse_posthog(records: DataFrame, config: ProjectConfig) -> DataFrame:
    """PostHog records (rows of :data:`shape.EXPLODED`, REASON null) -> :data:`shape.PARSED`."""
    staged = records.withColumn("_r", F.from_json(F.col(N.REC), RECORD))
    staged = staged.withColumn("_p", F.from_json(F.col("_r.properties"), PROPERTIES))
    r, p = F.col("_r"), F.col("_p")
    kind = _kind(r["event"])
    group_pair = ~fx.is_blank(p["$group_type"]) & p["$group_key"].isNotNull()
    group_identify = F.when(group_pair, F.to_json(F.create_map(p["$group_type"], p["$group_key"])))
    time, problem = fx.checked_time(~fx.is_blank(r["timestamp"]), fx.iso_time(r["timestamp"]))
    out = staged.select(
        *PARSED[:9],
        F.lit("posthog").alias(C.SOURCE),
        kind.alias(C.RECORD_KIND),
        F.col(C.REASON),
        F.col(C.MESSAGE),
        r["event"].alias(C.EVENT_TYPE),
        F.coalesce(r["distinct_id"], p["distinct_id"]).alias(C.USER_ID),
        F.lit(None).cast("string").alias(C.DEVICE_ID),
        r["uuid"].alias(C.INSERT_ID),
        time.alias(C.EVENT_TIME),
        problem.alias(N.TIME_PROBLEM),
        fx.epoch_ms(fx.iso_time(F.coalesce(r["sent_at"], F.col(N.ENV_SENT_AT)))).alias(C.SEQ_MS),
        F.lit(config.min_id_length["posthog"]).alias(N.MIN_ID),
        (kind != KIND_PROPERTY).alias(N.NEEDS_USER),
        F.when(kind == KIND_EVENT, _event_properties(r["properties"])).alias(N.EVENT_PROPS_JSON),
        F.when(kind == KIND_PROPERTY, group_identify)
        .when(kind == KIND_EVENT, p["$groups"])
        .alias(N.GROUPS_JSON),
        F.lit(False).alias(N.ASSIGNS),
        F.when(kind == KIND_PROPERTY, p["$group_set"]).alias(N.PROPS_JSON),
        F.lit(True).alias(N.PROPS_PLAIN),
    )
    return out.select(*PARSED)
