"""Bronze lines -> raw records: unwrap each format's body and parse every record, once.

A line is one of:
- a body holding a list of records: Amplitude HTTP V2 / Batch ``{"api_key", "events": [...]}``,
  Identify / Group Identify API ``{"api_key", "identification": [...]}`` (the list may also be
  given as a JSON-encoded string, as the form-encoded API sends it), Segment batch
  ``{"batch": [...], "sentAt"}``, PostHog batch ``{"api_key", "batch": [...], "sent_at"}``;
- a single record: an Amplitude Export line, a Segment message, a PostHog event.

Every element of the list is one record (``record_index`` 0, 1, ...; a single record is index 0).
A line that cannot be unwrapped (not JSON, not an object, no list where the format needs one) is
ONE record, with a null ``record_index``, quarantined with its reason (docs/semantics.md "Bad input").
A body with an empty list holds no records.

A line nested deeper than ``functions.MAX_JSON_DEPTH`` levels is ONE quarantined record too
(``nesting_too_deep``): the one parse reads within that limit, and Spark's VARIANT functions
recurse per level (deep enough, a task's stack overflows and takes the local JVM with it).

A line that is not valid UTF-8 is ONE quarantined record too (``invalid_utf8``, before any
other reason): Spark's line reader does not check the encoding, and a parse would read each
invalid byte as U+FFFD, so a Latin-1 ``"Müller"`` would load as ``"M\ufffdller"`` with nobody
told. Its other records, if any, are not loaded (a line is used whole or not at all, as for
``invalid_json``); the quarantine's ``raw`` shows each invalid sequence as U+FFFD (a string
column holds valid UTF-8 for the readers without Spark), and bronze keeps the bytes.

How a line is read (parsing JSON is the cost of ingest, docs/architecture.md "Ingest"):

- **one parse** (nearly every line): ``from_json`` of the line with its format's declared schema,
  the list typed as ``array<struct<record fields>>``, so every record's fields come out of the
  same parse as the envelope. It applies when that parse reports nothing malformed (Spark's
  corrupt-record column is null) and the list is there (for Segment and PostHog, or provably
  absent: the line is then one message). The record's own JSON text is not kept: the few
  records that end in the quarantine get theirs back from their bronze line
  (:func:`raw_of_record`).
- **the careful path** (anything else: not JSON, not an object, a list given as a string, an
  item that is not an object, a field of an unexpected shape): the envelope and the list are
  read as text, each record is parsed from its own text, and the line-level reasons are decided
  as before. Both paths give the same record fields; the careful one keeps each record's text.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

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
_CORRUPT = "_corrupt"
_ENV_FIELDS = ("options", "sentAt", "sent_at")
_UTF8_MESSAGE = (
    "line %d of %s is not valid UTF-8 (raw shows each invalid byte sequence as U+FFFD; bronze "
    "keeps the bytes): the line is quarantined whole"
)
_BAD_UTF8 = "_bad_utf8"
_DEEP_MESSAGE = f"the %s's JSON nests deeper than {fx.MAX_JSON_DEPTH} levels"


def record_id(source_file: Column, line_number: Column, record_index: Column) -> Column:
    """Stable id of a raw record: sha2 of ``source_file|line_number|record_index``.

    A whole-line record (no index) hashes ``source_file|line_number``.
    """
    return F.sha2(
        F.concat_ws("|", source_file, line_number.cast("string"), record_index.cast("string")), 256
    )


def line_type(record_type: StructType) -> StructType:
    """The declared schema every line is read with: the record's fields (a line may be one
    record), the envelope fields, every format's list typed as records, and the corrupt-record
    column that tells a line this schema cannot read whole."""
    fields = {f.name: f for f in record_type.fields}
    for name in _ENV_FIELDS:
        fields[name] = StructField(name, StringType())
    for list_field in sorted(set(_LIST_FIELD.values())):
        fields[list_field] = StructField(list_field, ArrayType(record_type))
    fields[_CORRUPT] = StructField(_CORRUPT, StringType())
    return StructType(list(fields.values()))


def _by_format(values: dict[str, Column]) -> Column:
    """``values[file_format]`` (null for a format not in ``values``)."""
    fmt = F.col(C.FILE_FORMAT)
    out: Column = F.lit(None)
    for name, value in values.items():
        out = F.when(fmt == name, value).otherwise(out)
    return out


def _list_text(env: Column) -> Column:
    """The text of the line's list of records (its format's list field), or null."""
    return _by_format({name: env[field] for name, field in _LIST_FIELD.items()}).cast("string")


def _surely_no_list(text: Column, field: str) -> Column:
    """True when the line cannot hold the key ``field``: its quoted name is nowhere in the text
    and no ``\\u`` escape could spell it. Only then is a Segment/PostHog line with no parsed
    list one message without reading it a second time."""
    return ~F.contains(text, F.lit(f'"{field}"')) & ~F.contains(text, F.lit("\\u"))


def _one_parse(text: Column, line: Column, record_type: StructType) -> tuple[Column, Column]:
    """(typed records of the line, or null when the line takes the careful path; is the line
    one record) from the one-parse struct ``line``."""
    fmt = F.col(C.FILE_FORMAT)
    clean = line[_CORRUPT].isNull()
    top = F.struct(*[line[f.name].alias(f.name) for f in record_type.fields])
    lists = {name: line[field] for name, field in _LIST_FIELD.items()}
    single = (fmt == Format.AMPLITUDE_EXPORT) | (
        fmt.isin(*_OPTIONAL_LIST) & line["batch"].isNull() & _surely_no_list(text, "batch")
    )
    listed = _by_format(lists)
    records = F.when(clean & single, F.array(top)).when(clean & listed.isNotNull(), listed)
    return records, single


def _records_of_line(
    text: Column, list_text: Column, parsed_list: Column
) -> tuple[Column, Column, Column]:
    """Careful path: (list of record texts, line-level reason or null, is the line one record)."""
    fmt = F.col(C.FILE_FORMAT)
    single = (fmt == Format.AMPLITUDE_EXPORT) | (fmt.isin(*_OPTIONAL_LIST) & list_text.isNull())
    # Parsing is the cost of ingest: the cheap test first, the second parse only when it fails.
    reason = (
        F.when(F.col(_BAD_UTF8), F.lit(Q.INVALID_UTF8))
        .when(fx.nests_too_deep(text), F.lit(Q.NESTING_TOO_DEEP))
        .when(
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
    utf8 = F.format_string(_UTF8_MESSAGE, F.col(C.LINE_NUMBER), F.col(C.SOURCE_FILE))
    return (
        F.when(reason == Q.INVALID_UTF8, utf8)
        .when(reason == Q.NESTING_TOO_DEEP, F.lit(_DEEP_MESSAGE % "line"))
        .when(reason == Q.INVALID_JSON, F.lit("the line is not valid JSON"))
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


def raw_of_record(line: Column, record_index: Column) -> Column:
    """The JSON text of record ``record_index`` of a list body ``line``, exactly as the careful
    path reads it (the list field as text, then its items as text). For the few quarantined
    records of one-parse lines: their text is read again only when it is to be stored."""
    env = F.from_json(line, ENVELOPE)
    items = F.from_json(_list_text(env), "array<string>")
    return F.get(items, record_index)


def explode_records(lines: DataFrame, record_type: StructType) -> DataFrame:
    """One row per raw record of the bronze lines given (columns :data:`shape.EXPLODED`).

    In: bronze record rows (``BRONZE_RECORDS`` columns) and the struct every record is read
    into (the union of the parsers' fields). Out: each record's fields in ``_rec`` (null when the
    line or the record is unusable), its pointer, REASON/MESSAGE set when the line or the record
    is unusable as a record, and ``raw``: the record's text where the careful path read it (a
    line-level failure keeps the whole line), else null with ``_single`` telling where in its
    line the text is (:func:`groupetl.ingest.classify.with_raw` takes it from bronze).
    """
    # A UTF-8 byte order mark at the start of a file is not part of the JSON; bronze keeps it.
    prepared = lines.withColumns(
        {"_text": fx.strip_bom(F.col(C.RAW)), _BAD_UTF8: ~F.is_valid_utf8(C.RAW)}
    )
    text = F.col("_text")
    prepared = prepared.withColumn(
        "_line",
        F.from_json(
            text,
            line_type(record_type),
            {"columnNameOfCorruptRecord": _CORRUPT, **fx.JSON_LIMITS},
        ),
    )
    # `from_json` keeps a projection out of generated code (CodegenFallback): each one copies
    # its rows. So the line's parsed struct is dropped as soon as its list is taken, and its
    # text is kept only for the lines of the careful path (a few): every other projection
    # before the explode copies the typed records alone, not the whole line three times over.
    typed, typed_single = _one_parse(text, F.col("_line"), record_type)
    typed = F.when(~F.col(_BAD_UTF8), typed)  # a line that is not UTF-8 fails whole (careful)
    fast_env = F.when(
        F.col(C.FILE_FORMAT) != Format.AMPLITUDE_EXPORT,
        F.struct(*[F.col("_line")[f].alias(f) for f in _ENV_FIELDS]),
    )
    prepared = prepared.select(
        *[F.col(c) for c in (C.BATCH_ID, C.INGESTED_AT, C.SOURCE_FILE, C.FILE_FORMAT)],
        C.ARRIVAL_TIME,
        C.LINE_NUMBER,
        typed.alias("_typed"),
        typed_single.alias("_typed_single"),
        fast_env.alias("_fast_env"),
        F.when(typed.isNull(), text).alias("_ctext"),
        F.when(typed.isNull(), F.col(C.RAW)).alias("_craw"),
        _BAD_UTF8,
    )
    careful = F.col("_typed").isNull()
    ctext = F.col("_ctext")

    def careful_path(env: Column) -> Column:
        # the envelope and the list as text, each parse bound once (careful lines only)
        def with_list_text(list_text: Column) -> Column:
            def with_list(parsed_list: Column) -> Column:
                items, reason, single = _records_of_line(ctext, list_text, parsed_list)
                return F.struct(
                    items.alias("items"),
                    reason.alias("reason"),
                    single.alias("single"),
                    F.struct(*[env[f].alias(f) for f in _ENV_FIELDS]).alias("env"),
                )

            return fx.let(F.from_json(list_text, "array<string>"), with_list)

        return fx.let(_list_text(env), with_list_text)

    env_of_text = F.when(
        F.col(C.FILE_FORMAT) != Format.AMPLITUDE_EXPORT, F.from_json(ctext, ENVELOPE)
    )
    prepared = prepared.withColumn("_c", F.when(careful, fx.let(env_of_text, careful_path)))
    c = F.col("_c")
    items, line_reason, single = c["items"], c["reason"], c["single"]
    # the body's options and send time (an Export line is one record, with no body)
    env = F.when(careful, c["env"]).otherwise(F.col("_fast_env"))
    options = F.from_json(env["options"], "min_id_length string")
    sent_at = F.coalesce(env["sentAt"], env["sent_at"])
    line_reason = F.when(careful, line_reason)
    staged = prepared.select(
        *[F.col(c) for c in (C.BATCH_ID, C.INGESTED_AT, C.SOURCE_FILE, C.FILE_FORMAT)],
        C.ARRIVAL_TIME,
        C.LINE_NUMBER,
        # the line's text is copied to each of its records: only a failed line's is needed
        F.when(line_reason == Q.INVALID_UTF8, F.make_valid_utf8("_craw"))
        .when(line_reason.isNotNull(), F.col("_craw"))
        .alias(C.RAW),
        line_reason.alias("_line_reason"),
        F.when(careful, single).otherwise(F.col("_typed_single")).alias("_single"),
        (~careful).alias("_fast"),
        # the one-parse records, or (careful path) a placeholder per record text, or one for a
        # failed line: one record. No copy of the one-parse records before the explode.
        F.when(~careful, F.col("_typed"))
        .when(line_reason.isNull(), F.array_repeat(F.lit(None).cast(record_type), F.size(items)))
        .otherwise(F.array(F.lit(None).cast(record_type)))
        .alias("_items"),
        F.when(careful & line_reason.isNull(), items).alias("_texts"),
        options["min_id_length"].try_cast("int").alias(N.ENV_MIN_ID),
        sent_at.alias(N.ENV_SENT_AT),
    )
    # _outer: Spark infers no size(_items) > 0 filter for it, which it would push below the
    # projections above and so parse every line twice; the row of an empty list is dropped here
    exploded = (
        staged.select("*", F.posexplode_outer("_items").alias("_pos", "_item"))
        .filter(F.col("_pos").isNotNull())
        .drop("_items")
        .withColumn("_rec_text", F.get(F.col("_texts"), F.col("_pos")))
        .drop("_texts")
    )
    line_failed = F.col("_line_reason").isNotNull()
    fast, single = F.col("_fast"), F.col("_single")
    rec_text = F.col("_rec_text")
    index = F.when(line_failed, F.lit(None).cast("int")).otherwise(F.col("_pos").cast("int"))
    # a one-record line was checked whole; a careful list's items are checked one by one; a
    # one-parse list holds objects, or JSON nulls (not an object either)
    # an item of a list given as a JSON string was not part of its line's parse: its depth is
    # checked on its own (a one-parse line was read within the depth limit whole)
    listed = ~line_failed & ~single
    rec_reason = F.when(
        listed & ~fast & fx.nests_too_deep(rec_text), F.lit(Q.NESTING_TOO_DEEP)
    ).when(
        listed & F.when(fast, F.col("_item").isNull()).otherwise(~fx.is_json_object(rec_text)),
        F.lit(Q.NOT_AN_OBJECT),
    )
    reason = F.coalesce(F.col("_line_reason"), rec_reason)
    message = (
        F.when(line_failed, _line_message(F.col("_line_reason")))
        .when(reason == Q.NESTING_TOO_DEEP, F.lit(_DEEP_MESSAGE % "record"))
        .when(reason.isNotNull(), F.lit("the record is not a JSON object"))
    )
    record = F.when(
        reason.isNull(),
        F.when(fast, F.col("_item")).otherwise(F.from_json(rec_text, record_type, fx.JSON_LIMITS)),
    )
    # a one-parse record's text is not carried (rows are copied many times on their way to
    # the cache): the few quarantined ones get theirs from bronze (classify.with_raw)
    raw = F.when(line_failed, F.col(C.RAW)).when(~fast, rec_text)
    return exploded.select(
        C.BATCH_ID,
        C.INGESTED_AT,
        C.SOURCE_FILE,
        C.FILE_FORMAT,
        C.ARRIVAL_TIME,
        C.LINE_NUMBER,
        index.alias(C.RECORD_INDEX),
        record_id(F.col(C.SOURCE_FILE), F.col(C.LINE_NUMBER), index).alias(C.RECORD_ID),
        raw.alias(C.RAW),
        F.when(fast, single).alias(N.SINGLE),
        record.alias(N.REC),
        rec_text.alias(N.REC_TEXT),
        reason.alias(C.REASON),
        message.alias(C.MESSAGE),
        N.ENV_MIN_ID,
        N.ENV_SENT_AT,
    ).select(*EXPLODED)
