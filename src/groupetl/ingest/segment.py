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
from pyspark.sql.types import StringType, StructField, StructType

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


def _path_parts(path: str) -> list[str]:
    return [p for p in path.split(".") if p]


def with_groups_path(record_type: StructType, path: str) -> StructType:
    """``record_type`` with the nested field that reads ``segment.event_groups_path``.

    The path's last part is read as text (an object's JSON, a string's content); its first
    parts become nested structs, unless the first part is already a text field of the record
    (then :func:`path_groups` looks inside that text)."""
    parts = _path_parts(path)
    names = {f.name for f in record_type.fields}
    if not parts or parts[0] in names:
        return record_type
    leaf: StructType | StringType = StringType()
    for part in reversed(parts[1:]):
        leaf = StructType([StructField(part, leaf)])
    return StructType([*record_type.fields, StructField(parts[0], leaf)])


def path_groups(r: Column, text: Column, path: str, record_type: StructType) -> Column:
    """The value at ``segment.event_groups_path`` of a message as text, or null.

    ``text`` is the message's JSON where it was kept (careful path): read with
    ``get_json_object`` as always. Otherwise from the parsed fields (``r``).
    """
    parts = _path_parts(path)
    from_text = F.get_json_object(text, fx.json_path(path))
    if not parts:
        return from_text
    first = record_type[parts[0]]
    if isinstance(first.dataType, StringType):
        inner = r[parts[0]]
        if len(parts) > 1:
            inner = F.get_json_object(inner, fx.json_path(".".join(parts[1:])))
    else:
        inner = r
        for part in parts:
            inner = inner[part]
    return F.when(text.isNotNull(), from_text).otherwise(inner)


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
    """(groups JSON, properties JSON) of a ``group`` call (docs/semantics.md, Segment ``group``)."""
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


def parse_segment(records: DataFrame, config: ProjectConfig, record_type: StructType) -> DataFrame:
    """Fill the parsed fields (:data:`shape.PARSED`) of the Segment records among ``records``.

    In: rows of :data:`shape.PARSED` plus ``_rec`` (fields read with ``record_type``, which
    holds :data:`RECORD` and :func:`with_groups_path`'s field), ``_rec_text`` and
    ``_env_sent_at``; the Segment rows are those of format ``segment`` whose REASON is null.
    Out: the same rows; the others unchanged.
    """
    mine = F.col(C.REASON).isNull() & (F.col(C.FILE_FORMAT) == Format.SEGMENT)
    r = F.col(N.REC)
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
    groups_at_path = path_groups(
        r, F.col(N.REC_TEXT), config.segment.event_groups_path, record_type
    )
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
        N.GROUPS_JSON: F.when(kind == KIND_PROPERTY, call_groups).otherwise(groups_at_path),
        N.ASSIGNS: kind.isin(KIND_ASSIGNMENT, KIND_PROPERTY),
        N.PROPS_JSON: F.when(kind == KIND_PROPERTY, call_props),
        N.PROPS_PLAIN: F.lit(True),
    }
    return fill_parsed(records, mine, fields)
