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
from groupetl.ingest.formats import Format
from groupetl.ingest.shape import KIND_ASSIGNMENT, KIND_EVENT, KIND_PROPERTY, N, fill_parsed
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
    return F.when(parsed.isNotNull(), F.to_json(kept)).otherwise(properties)


def parse_posthog(records: DataFrame, config: ProjectConfig) -> DataFrame:
    """Fill the parsed fields (:data:`shape.PARSED`) of the PostHog records among ``records``.

    In: rows of :data:`shape.PARSED` plus ``_rec`` and ``_env_sent_at``; the PostHog rows are
    those of format ``posthog`` whose REASON is null. Out: the same rows; the others unchanged.
    """
    mine = F.col(C.REASON).isNull() & (F.col(C.FILE_FORMAT) == Format.POSTHOG)
    staged = records.withColumn(
        "_p", F.when(mine, F.from_json(F.col(N.REC)["properties"], PROPERTIES))
    )
    r, p = F.col(N.REC), F.col("_p")
    kind = _kind(r["event"])
    group_pair = ~fx.is_blank(p["$group_type"]) & p["$group_key"].isNotNull()
    group_identify = F.when(group_pair, F.to_json(F.create_map(p["$group_type"], p["$group_key"])))
    time, problem = fx.checked_time(~fx.is_blank(r["timestamp"]), fx.iso_time(r["timestamp"]))
    fields = {
        C.SOURCE: F.lit("posthog"),
        C.RECORD_KIND: kind,
        C.REASON: F.col(C.REASON),
        C.MESSAGE: F.col(C.MESSAGE),
        C.EVENT_TYPE: r["event"],
        C.USER_ID: F.coalesce(r["distinct_id"], p["distinct_id"]),
        C.DEVICE_ID: F.lit(None).cast("string"),
        C.INSERT_ID: r["uuid"],
        C.EVENT_TIME: time,
        N.TIME_PROBLEM: problem,
        C.SEQ_MS: fx.epoch_ms(fx.iso_time(F.coalesce(r["sent_at"], F.col(N.ENV_SENT_AT)))),
        N.MIN_ID: F.lit(config.min_id_length["posthog"]),
        N.NEEDS_USER: kind != KIND_PROPERTY,
        N.EVENT_PROPS_JSON: F.when(kind == KIND_EVENT, _event_properties(r["properties"])),
        N.GROUPS_JSON: F.when(kind == KIND_PROPERTY, group_identify).when(
            kind == KIND_EVENT, p["$groups"]
        ),
        N.ASSIGNS: F.lit(False),
        N.PROPS_JSON: F.when(kind == KIND_PROPERTY, p["$group_set"]),
        N.PROPS_PLAIN: F.lit(True),
    }
    return fill_parsed(staged, mine, fields).drop("_p")
