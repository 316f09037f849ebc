"""Amplitude's validation rules, applied to every parsed record whatever its format.

The first failing check decides the quarantine reason (docs/semantics.md "Bad input"):

1. line/record-level problems found while unwrapping or parsing (invalid_json, not_an_object,
   unknown_format, unsupported_message_type);
2. missing_event_type: an activity event without ``event_type`` (Segment ``event``, PostHog
   ``event``);
3. missing_user: neither user_id nor device_id (not required of a group property record such as
   ``$groupidentify``, except a Segment ``group`` call, which also assigns the user);
4. invalid_user_id: a given id that is shorter than the min id length or a refused value
   (``null``, ``none``, ``undefined``, ``unknown``, ``0``, ``-1``, the all-zero UUID, empty) --
   as Amplitude's API, a bad id rejects the record even when the other id is fine;
5. invalid_time / time_out_of_range;
6. missing_group: a group property record naming no group;
7. invalid_group_value;
8. not_an_object: ``event_properties`` (``properties``) given but not an object;
9. invalid_property_operation.

``property_limit_exceeded`` is decided later, over all records in record order
(:mod:`groupetl.ingest.limits`).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from groupetl.ingest import functions as fx
from groupetl.ingest.shape import KIND_EVENT, KIND_PROPERTY, N
from groupetl.reasons import Quarantine as Q
from groupetl.reasons import Reported as R
from groupetl.schemas import C


def with_event_fields(df: DataFrame) -> DataFrame:
    """Add ``event_properties`` (map of text values) and cut a too long ``event_type``.

    String values are kept as text (cut at 1024 characters, reported); numbers, booleans, lists
    and objects as their JSON text; JSON null as null. ``_event_props_error`` is set when the
    properties are given but are not an object.
    """
    text = F.col(N.EVENT_PROPS_JSON)
    df = df.withColumn("_epm", fx.object_map(text))
    parsed = F.col("_epm")
    not_object = ~fx.is_absent_json(text) & parsed.isNull()
    keys = F.map_keys(parsed)
    # Common case, without lambdas: no value can be longer than the limit (the whole text is
    # not), no key is repeated and no number overflows a double (``to_json`` quotes an
    # infinite one, the cast does not). Casting the values (as one variant list) to strings
    # gives each value's text exactly as the general rule below: a string itself, JSON null
    # null, anything else its JSON text.
    common = (
        (F.length(text) <= fx.MAX_STRING)
        & (F.size(F.array_distinct(keys)) == F.size(keys))
        & ~text.rlike(r"[eE][+-]?[0-9]{3}|[0-9]{309}")
    )
    common_text = F.map_from_arrays(
        keys,
        F.try_variant_get(F.to_variant_object(F.map_values(parsed)), "$", "array<string>"),
    )
    as_text = F.when(common, common_text).otherwise(
        F.transform_values(
            parsed,
            lambda _k, v: (
                F.when(fx.variant_type(v) == "VOID", F.lit(None).cast("string"))
                .when(fx.variant_type(v) == "STRING", fx.cut(fx.variant_string(v)))
                .otherwise(F.to_json(v))
            ),
        )
    )
    long_value = F.when(~common, F.exists(F.map_values(parsed), fx.is_long_string_variant))
    cut_reports = fx.reports_when(
        (fx.is_too_long(C.EVENT_TYPE), fx.report(R.STRING_TRUNCATED, C.EVENT_TYPE)),
        (F.coalesce(long_value, F.lit(False)), fx.report(R.STRING_TRUNCATED, C.EVENT_PROPERTIES)),
    )
    return (
        df.withColumn(C.EVENT_PROPERTIES, as_text)
        .withColumn(
            N.EVENT_PROPS_ERROR, F.when(not_object, F.lit("event properties are not a JSON object"))
        )
        .withColumn(N.REPORTS, F.concat(F.col(N.REPORTS), cut_reports))
        .withColumn(C.EVENT_TYPE, fx.cut(C.EVENT_TYPE))
        .drop("_epm")
    )


def _id_problem(min_id: Column) -> Column:
    """Message naming the first given id that is not valid, or null."""

    def bad(name: str) -> Column:
        c = F.col(name)
        return c.isNotNull() & ~fx.is_valid_id(c, min_id)

    def say(name: str) -> Column:
        return F.format_string(
            "%s %s is not a valid id (at least %d characters; null, none, undefined, unknown, "
            "0, -1, the zero UUID and empty are refused)",
            F.lit(name),
            fx.json_string(F.substring(F.col(name), 1, 64)),
            min_id,
        )

    return F.when(bad(C.USER_ID), say(C.USER_ID)).when(bad(C.DEVICE_ID), say(C.DEVICE_ID))


def _checks() -> list[tuple[str, Column, Column]]:
    """(reason, failing condition, message) in precedence order (see module docstring)."""
    kind, needs_user = F.col(C.RECORD_KIND), F.col(N.NEEDS_USER)
    id_problem = _id_problem(F.col(N.MIN_ID))
    no_user = F.col(C.USER_ID).isNull() & F.col(C.DEVICE_ID).isNull()
    time_problem = F.col(N.TIME_PROBLEM)
    no_group = (kind == KIND_PROPERTY) & (F.size(C.GROUPS) == 0) & F.col(N.GROUPS_ERROR).isNull()
    return [
        (
            Q.MISSING_EVENT_TYPE,
            (kind == KIND_EVENT) & fx.is_blank(C.EVENT_TYPE),
            F.lit("the event has no event type"),
        ),
        (
            Q.MISSING_USER,
            needs_user & no_user,
            F.lit("the record has neither a user id nor a device id"),
        ),
        (Q.INVALID_USER_ID, needs_user & id_problem.isNotNull(), id_problem),
        (
            Q.INVALID_TIME,
            time_problem == Q.INVALID_TIME,
            F.lit("the record's time cannot be read in its format's time encoding"),
        ),
        (
            Q.TIME_OUT_OF_RANGE,
            time_problem == Q.TIME_OUT_OF_RANGE,
            F.lit(
                "the record's time is before 2000-01-01 or more than a day after the file arrived"
            ),
        ),
        (
            Q.MISSING_GROUP,
            no_group,
            F.lit("the group property record names no group (type and value)"),
        ),
        (Q.INVALID_GROUP_VALUE, F.col(N.GROUPS_ERROR).isNotNull(), F.col(N.GROUPS_ERROR)),
        (Q.NOT_AN_OBJECT, F.col(N.EVENT_PROPS_ERROR).isNotNull(), F.col(N.EVENT_PROPS_ERROR)),
        (Q.INVALID_PROPERTY_OPERATION, F.col(N.PROPS_ERROR).isNotNull(), F.col(N.PROPS_ERROR)),
    ]


def with_reason(df: DataFrame) -> DataFrame:
    """Set ``reason``/``message`` of every record that fails a check, and ``user_key``.

    In: parsed rows with groups, operations and event fields added. Out: the same; REASON kept
    when already set by parsing; ``user_key`` = the valid user_id, else the valid device_id.
    """
    checks = _checks()
    parsed_reason = F.col(C.REASON)
    reason: Column = F.when(parsed_reason.isNotNull(), parsed_reason)
    message: Column = F.when(parsed_reason.isNotNull(), F.col(C.MESSAGE))
    for code, failing, text in checks:
        reason = reason.when(F.coalesce(failing, F.lit(False)), F.lit(code))
        message = message.when(F.coalesce(failing, F.lit(False)), text)
    min_id = F.col(N.MIN_ID)
    user_key = F.coalesce(
        F.when(fx.is_valid_id(C.USER_ID, min_id), F.col(C.USER_ID)),
        F.when(fx.is_valid_id(C.DEVICE_ID, min_id), F.col(C.DEVICE_ID)),
    )
    # one projection: MESSAGE must see the parsed REASON, not the new one
    return df.withColumns({C.REASON: reason, C.MESSAGE: message, C.USER_KEY: user_key})
