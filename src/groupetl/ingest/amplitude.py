"""Amplitude records -> the shared parsed shape (:data:`shape.PARSED`).

Formats: HTTP V2 and Batch API events, Export API lines, Identify API and Group Identify API
``identification`` items. What each record becomes:

| record | kind | groups | group properties |
|---|---|---|---|
| event (any other ``event_type``) | event | event-level | its ``group_properties`` on its groups, origin ``event`` |
| ``$identify`` event, Identify API item | group_assignment | user-level assignment | none (user properties are not group data) |
| ``$groupidentify`` event | group_property | the groups whose properties change | ``group_properties`` |
| Group Identify API item | group_property | ``{group_type: group_value}`` | ``group_properties`` |

Times: ``time`` (integer epoch ms) for HTTP/Batch, ``event_time`` for Export; Identify and Group
Identify API items have none and take the file's arrival time, as does an event without ``time``.
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
    "event_type string, user_id string, device_id string, time string, event_time string, "
    "server_upload_time string, insert_id string, `$insert_id` string, event_properties string, "
    "groups string, group_properties string, group_type string, group_value variant"
)
IDENTIFY = "$identify"
GROUP_IDENTIFY = "$groupidentify"


def _kind(fmt: Column, event_type: Column) -> Column:
    return (
        F.when(fmt == Format.AMPLITUDE_IDENTIFY, F.lit(KIND_ASSIGNMENT))
        .when(fmt == Format.AMPLITUDE_GROUP_IDENTIFY, F.lit(KIND_PROPERTY))
        .when(event_type == IDENTIFY, F.lit(KIND_ASSIGNMENT))
        .when(event_type == GROUP_IDENTIFY, F.lit(KIND_PROPERTY))
        .otherwise(F.lit(KIND_EVENT))
    )


def _time(fmt: Column, r: Column) -> tuple[Column, Column]:
    is_export = fmt == Format.AMPLITUDE_EXPORT
    api_only = fmt.isin(Format.AMPLITUDE_IDENTIFY, Format.AMPLITUDE_GROUP_IDENTIFY)
    text = F.when(is_export, r["event_time"]).otherwise(r["time"])
    present = ~api_only & ~fx.is_blank(text)
    parsed = F.when(is_export, fx.export_time(text)).otherwise(fx.epoch_ms_time(text))
    huge = ~is_export & fx.is_huge_integer(text)
    return fx.checked_time(present, parsed, huge)


def _groups_json(fmt: Column, r: Column) -> Column:
    """Groups as JSON object text; the Group Identify API's type/value pair becomes one group."""
    explicit = F.to_json(F.create_map(r["group_type"], r["group_value"]))
    has_pair = ~fx.is_blank(r["group_type"]) & r["group_value"].isNotNull()
    return F.when(fmt == Format.AMPLITUDE_GROUP_IDENTIFY, F.when(has_pair, explicit)).otherwise(
        r["groups"]
    )


def parse_amplitude(records: DataFrame, config: ProjectConfig) -> DataFrame:
    """Fill the parsed fields (:data:`shape.PARSED`) of the Amplitude records among ``records``.

    In: rows of :data:`shape.PARSED` plus ``_rec`` (the record's fields, read with at least
    :data:`RECORD`) and ``_env_min_id_length``; the Amplitude rows
    are those of an Amplitude format whose REASON is null. Out: the same rows; the others unchanged.
    """
    fmt = F.col(C.FILE_FORMAT)
    mine = F.col(C.REASON).isNull() & fmt.isin(*Format.AMPLITUDE)
    r = F.col(N.REC)
    event_type = F.when(
        ~fmt.isin(Format.AMPLITUDE_IDENTIFY, Format.AMPLITUDE_GROUP_IDENTIFY), r["event_type"]
    )
    kind = _kind(fmt, event_type)
    time, problem = _time(fmt, r)
    default_min = config.min_id_length["amplitude"]
    fields = {
        C.SOURCE: F.lit("amplitude"),
        C.RECORD_KIND: kind,
        C.REASON: F.col(C.REASON),
        C.MESSAGE: F.col(C.MESSAGE),
        C.EVENT_TYPE: event_type,
        C.USER_ID: r["user_id"],
        C.DEVICE_ID: r["device_id"],
        C.INSERT_ID: F.coalesce(r["insert_id"], r["$insert_id"]),
        C.EVENT_TIME: time,
        N.TIME_PROBLEM: problem,
        C.SEQ_MS: fx.epoch_ms(fx.export_time(r["server_upload_time"])),
        N.MIN_ID: F.coalesce(F.col(N.ENV_MIN_ID), F.lit(default_min)),
        N.NEEDS_USER: kind != KIND_PROPERTY,
        N.EVENT_PROPS_JSON: r["event_properties"],
        N.GROUPS_JSON: _groups_json(fmt, r),
        N.ASSIGNS: kind == KIND_ASSIGNMENT,
        N.PROPS_JSON: F.when(kind != KIND_ASSIGNMENT, r["group_properties"]),
        N.PROPS_PLAIN: F.lit(False),
    }
    return fill_parsed(records, mine, fields)
