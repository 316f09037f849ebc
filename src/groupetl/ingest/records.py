"""Bronze lines -> raw records: unwrap each format's body and number its records.

A line is one of:
- a body holding a list of records: Amplitude HTTP V2 / Batch ``{"api_key", "events": [...]}``,
  Identify / Group Identify API ``{"api_key", "identification": [...]}`` (the list may also be
  given as a JSON-encoded string, as the form-encoded API sends it), Segment batch
  ``{"batch": [...], "sentAt"}``, PostHog batch ``{"api_key", "batch": [...], "sent_at"}``;
- a single record: an Amplitude Export line, a Segment message, a PostHog event.

Every element of the list is one record (``record_index`` 0, 1, ...; a single record is index 0).
A line that cannot be unwrapped (not JSON, not an object, no list where the format needs one) is
ONE record, with a null ``record_index``, quarantined with its reason (SEMANTICS.md "Bad input").
A body with an empty list holds no records.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from groupetl.ingest import functions as fx
from groupetl.ingest.formats import Format
from groupetl.ingest.shape import EXPLODED, N
from groupetl.reasons import Quarantine as Q
from groupetl.schemas import C

ENVELOPE = (
    "events string, batch string, identification string, options string, "
    "sentAt string, sent_at string"
)
_LIST_FIELD = {
    Format.AMPLITUDE_HTTP: "events",
    Format.AMPLITUDE_BATCH: "events",
    Format.AMPLITUDE_IDENTIFY: "identification",
    Format.AMPLITUDE_GROUP_IDENTIFY: "identification",
    Format.SEGMENT: "batch",
    Format.POSTHOG: "batch",
}
_OPTIONAL_LIST = (Format.SEGMENT, Format.POSTHOG)  # a single message per line is fine too


def record_id(source_file: Column, line_number: Column, record_index: Column) -> Column:
    """Stable id of a raw record: sha2 of ``source_file|line_number|record_index``.

    A whole-line record (no index) hashes ``source_file|line_number``.
    """
    return F.sha2(
        F.concat_ws("|", source_file, line_number.cast("string"), record_index.cast("string")), 256
    )


def _list_text(env: Column) -> Column:
    """The text of the line's list of records (its format's list field), or null."""
    fmt = F.col(C.FILE_FORMAT)
    list_text: Column = F.lit(None).cast("string")
    for name, field in _LIST_FIELD.items():
        list_text = F.when(fmt == name, env[field]).otherwise(list_text)
    return list_text


def _records_of_line(
    text: Column, list_text: Column, parsed_list: Column
) -> tuple[Column, Column, Column]:
    """(list of record texts, line-level reason or null, is the line one record) of one line."""
    fmt = F.col(C.FILE_FORMAT)
    single = (fmt == Format.AMPLITUDE_EXPORT) | (fmt.isin(*_OPTIONAL_LIST) & list_text.isNull())
    # Parsing is the cost of ingest: the cheap test first, the second parse only when it fails.
    reason = (
        F.when(
            ~fx.is_json_object(text),
            F.when(F.get_json_object(text, "$").isNull(), F.lit(Q.INVALID_JSON)).otherwise(
                F.lit(Q.NOT_AN_OBJECT)
            ),
        )
        .when(~fmt.isin(*Format.KNOWN), F.lit(Q.UNKNOWN_FORMAT))
        .when(~single & parsed_list.isNull(), F.lit(Q.UNKNOWN_FORMAT))
    )
    items = F.when(single, F.array(text)).otherwise(parsed_list)
    return items, reason, single


def _line_message(reason: Column) -> Column:
    fmt = F.col(C.FILE_FORMAT)
    return (
        F.when(reason == Q.INVALID_JSON, F.lit("the line is not valid JSON"))
        .when(reason == Q.NOT_AN_OBJECT, F.lit("the line is JSON but not an object"))
        .when(
            ~fmt.isin(*Format.KNOWN),
            F.lit("the file's format could not be detected (see docs/input-formats.md)"),
        )
        .when(
            reason == Q.UNKNOWN_FORMAT,
            F.concat(F.lit("no list of records where format "), fmt, F.lit(" expects one")),
        )
    )


def explode_records(lines: DataFrame) -> DataFrame:
    """One row per raw record of the bronze lines given (columns :data:`shape.EXPLODED`).

    In: bronze record rows (``BRONZE_RECORDS`` columns). Out: each record's JSON text in ``_rec``
    and its pointer; REASON/MESSAGE set when the line or the record is unusable as a record.
    """
    # A UTF-8 byte order mark at the start of a file is not part of the JSON; bronze keeps it.
    # Text and envelope in projections of their own: each is used several times below and must
    # be computed once (an Export line is one record with no envelope: not parsed as one).
    prepared = lines.withColumn("_text", F.regexp_replace(F.col(C.RAW), "^\ufeff", ""))
    is_export = F.col(C.FILE_FORMAT) == Format.AMPLITUDE_EXPORT
    prepared = prepared.withColumn(
        "_env", F.when(~is_export, F.from_json(F.col("_text"), ENVELOPE))
    )
    prepared = prepared.withColumn("_list_text", _list_text(F.col("_env")))
    prepared = prepared.withColumn("_list", F.from_json(F.col("_list_text"), "array<string>"))
    text, env = F.col("_text"), F.col("_env")
    items, line_reason, single = _records_of_line(text, F.col("_list_text"), F.col("_list"))
    options = F.from_json(env["options"], "min_id_length string")
    staged = prepared.select(
        *[F.col(c) for c in (C.BATCH_ID, C.INGESTED_AT, C.SOURCE_FILE, C.FILE_FORMAT)],
        C.ARRIVAL_TIME,
        C.LINE_NUMBER,
        C.RAW,
        line_reason.alias("_line_reason"),
        single.alias("_single"),
        # a failed line is one record: explode a one-element placeholder for it
        F.when(line_reason.isNull(), items)
        .otherwise(F.array(F.lit(None).cast("string")))
        .alias("_items"),
        options["min_id_length"].try_cast("int").alias(N.ENV_MIN_ID),
        F.coalesce(env["sentAt"], env["sent_at"]).alias(N.ENV_SENT_AT),
    )
    # _outer: Spark infers no size(_items) > 0 filter for it, which it would push below the
    # projections above and so parse every line twice; the row of an empty list is dropped here
    exploded = (
        staged.select("*", F.posexplode_outer("_items").alias("_pos", N.REC))
        .filter(F.col("_pos").isNotNull())
        .drop("_items")
    )
    line_failed = F.col("_line_reason").isNotNull()
    index = F.when(line_failed, F.lit(None).cast("int")).otherwise(F.col("_pos").cast("int"))
    # a one-record line was checked whole above; a list's items are checked one by one
    rec_reason = F.when(
        ~line_failed & ~F.col("_single") & ~fx.is_json_object(N.REC), F.lit(Q.NOT_AN_OBJECT)
    )
    reason = F.coalesce(F.col("_line_reason"), rec_reason)
    # reason, not rec_reason: reason is computed once for the row, a second rec_reason here
    # would parse the record again (conditional branches escape subexpression elimination)
    message = F.when(line_failed, _line_message(F.col("_line_reason"))).when(
        reason.isNotNull(), F.lit("the record is not a JSON object")
    )
    return exploded.select(
        C.BATCH_ID,
        C.INGESTED_AT,
        C.SOURCE_FILE,
        C.FILE_FORMAT,
        C.ARRIVAL_TIME,
        C.LINE_NUMBER,
        index.alias(C.RECORD_INDEX),
        record_id(F.col(C.SOURCE_FILE), F.col(C.LINE_NUMBER), index).alias(C.RECORD_ID),
        F.when(line_failed, F.col(C.RAW)).otherwise(F.col(N.REC)).alias(C.RAW),
        F.when(reason.isNull(), F.col(N.REC)).alias(N.REC),
        reason.alias(C.REASON),
        message.alias(C.MESSAGE),
        N.ENV_MIN_ID,
        N.ENV_SENT_AT,
    ).select(*EXPLODED)
