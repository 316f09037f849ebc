"""Segment messages -> the shared parsed shape (:data:`shape.PARSED`).

| message | kind | event_type | groups | group properties |
|---|---|---|---|---|
| ``track`` | event | ``event`` | event-level, at ``segment.event_groups_path`` | none |
| ``page`` | event | ``Viewed <name> Page`` (``Loaded a Page`` without name) | as track | none |
| ``screen`` | event | ``Viewed <name> Screen`` (``Loaded a Screen``) | as track | none |
| ``identify`` | group_assignment | - | user-level, at ``event_groups_path`` | none |
| ``group`` | group_property | - | user-level ``{type trait: value trait}`` | ``$set`` of all traits |
| ``group`` without both traits | group_property | - | user-level ``{"[Segment] Group": groupId}`` | none |
| ``alias``, other | quarantined ``unsupported_message_type`` | | | |

Page and screen names follow Amplitude's Segment destination ("Track Named Pages"). The user is
``userId`` (user_id), else ``anonymousId`` (device_id); the source sequence is ``receivedAt``,
else ``sentAt`` (message, then batch); ``messageId`` is the dedup key.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from groupetl.config import ProjectConfig
from groupetl.ingest import functions as fx
from groupetl.ingest.formats import Format
from groupetl.ingest.shape import KIND_ASSIGNMENT, KIND_EVENT, KIND_PROPERTY, N, fill_parsed
from groupetl.reasons import Quarantine as Q
from groupetl.schemas import C

RECORD = (
    "type string, userId string, anonymousId string, messageId string, timestamp string, "
    "receivedAt string, sentAt string, event string, name string, properties string, "
    "traits string, groupId string"
)
FALLBACK_GROUP_TYPE = "[Segment] Group"
_KINDS = {
    "track": KIND_EVENT,
    "page": KIND_EVENT,
    "screen": KIND_EVENT,
    "identify": KIND_ASSIGNMENT,
    "group": KIND_PROPERTY,
}


def _event_type(r: Column) -> Column:
    named = ~fx.is_blank(r["name"])
    return (
        F.when(r["type"] == "track", r["event"])
        .when(
            r["type"] == "page",
            F.when(named, F.format_string("Viewed %s Page", r["name"])).otherwise(
                F.lit("Loaded a Page")
            ),
        )
        .when(
            r["type"] == "screen",
            F.when(named, F.format_string("Viewed %s Screen", r["name"])).otherwise(
                F.lit("Loaded a Screen")
            ),
        )
    )


def _group_call(r: Column, config: ProjectConfig) -> tuple[Column, Column]:
    """(groups JSON, properties JSON) of a ``group`` call (SEMANTICS.md, Segment ``group``)."""
    traits = F.from_json(r["traits"], fx.VARIANT_MAP)
    type_value = fx.variant_string(F.element_at(traits, F.lit(config.segment.group_type_trait)))
    group_value = F.element_at(traits, F.lit(config.segment.group_value_trait))
    both = (
        ~fx.is_blank(type_value)
        & group_value.isNotNull()
        & (fx.variant_type(group_value) != "VOID")
    )
    mapped = F.to_json(F.create_map(type_value, group_value))
    fallback = F.when(
        ~fx.is_blank(r["groupId"]),
        F.to_json(F.create_map(F.lit(FALLBACK_GROUP_TYPE), r["groupId"])),
    )
    return F.when(both, mapped).otherwise(fallback), F.when(both, r["traits"])


def _time(r: Column) -> tuple[Column, Column]:
    present = ~fx.is_blank(r["timestamp"])
    return fx.checked_time(present, fx.iso_time(r["timestamp"]))


def parse_segment(records: DataFrame, config: ProjectConfig) -> DataFrame:
    """Fill the parsed fields (:data:`shape.PARSED`) of the Segment records among ``records``.

    In: rows of :data:`shape.PARSED` plus ``_rec`` and ``_env_sent_at``; the Segment rows are
    those of format ``segment`` whose REASON is null. Out: the same rows; the others unchanged.
    """
    mine = F.col(C.REASON).isNull() & (F.col(C.FILE_FORMAT) == Format.SEGMENT)
    staged = records.withColumn("_r", F.when(mine, F.from_json(F.col(N.REC), RECORD)))
    r = F.col("_r")
    kind: Column = F.lit(None).cast("string")
    for message_type, k in _KINDS.items():
        kind = F.when(r["type"] == message_type, F.lit(k)).otherwise(kind)
    unsupported = kind.isNull()
    message = F.when(
        unsupported,
        F.when(r["type"].isNull(), F.lit("the Segment message has no type")).otherwise(
            F.format_string("Segment %s calls are not supported", r["type"])
        ),
    )
    path_groups = F.get_json_object(F.col(N.REC), fx.json_path(config.segment.event_groups_path))
    call_groups, call_props = _group_call(r, config)
    time, problem = _time(r)
    seq = F.coalesce(r["receivedAt"], r["sentAt"], F.col(N.ENV_SENT_AT))
    fields = {
        C.SOURCE: F.lit("segment"),
        C.RECORD_KIND: kind,
        C.REASON: F.when(unsupported, F.lit(Q.UNSUPPORTED_MESSAGE_TYPE)),
        C.MESSAGE: message,
        C.EVENT_TYPE: _event_type(r),
        C.USER_ID: r["userId"],
        C.DEVICE_ID: r["anonymousId"],
        C.INSERT_ID: r["messageId"],
        C.EVENT_TIME: time,
        N.TIME_PROBLEM: problem,
        C.SEQ_MS: fx.epoch_ms(fx.iso_time(seq)),
        N.MIN_ID: F.lit(config.min_id_length["segment"]),
        N.NEEDS_USER: F.lit(True),
        N.EVENT_PROPS_JSON: F.when(kind == KIND_EVENT, r["properties"]),
        N.GROUPS_JSON: F.when(kind == KIND_PROPERTY, call_groups).otherwise(path_groups),
        N.ASSIGNS: kind.isin(KIND_ASSIGNMENT, KIND_PROPERTY),
        N.PROPS_JSON: F.when(kind == KIND_PROPERTY, call_props),
        N.PROPS_PLAIN: F.lit(True),
    }
    return fill_parsed(staged, mine, fields).drop("_r")
