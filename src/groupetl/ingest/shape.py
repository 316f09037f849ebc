"""The intermediate shape every source parser produces, and the names of its working columns.

A parser (``amplitude``, ``segment``, ``posthog``) turns raw records into :data:`PARSED`, one row
per raw record; the steps after it (groups, properties, validation, dedup) are shared and add
the derived columns below. Only the silver tables' columns (``groupetl.schemas``) are stored;
the working columns here start with ``_`` and never leave the ingest package.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from groupetl.schemas import C


class N:
    """Working column names of the ingest pipeline (not stored)."""

    REC = "_rec"  # the record's fields (struct: the union of the parsers' record fields)
    REC_TEXT = "_rec_text"  # the record's JSON text, where the careful path read it (else null)
    # one-parse records carry no text: true when the record is its whole line, false for an item
    # of a list body (where a quarantined record's text is taken from, :func:`classify.with_raw`)
    SINGLE = "_single"
    ENV_MIN_ID = "_env_min_id_length"  # Amplitude body options.min_id_length
    ENV_SENT_AT = "_env_sent_at"  # Segment/PostHog body sentAt / sent_at
    TIME_PROBLEM = "_time_problem"  # invalid_time | time_out_of_range | null
    MIN_ID = "_min_id_length"
    NEEDS_USER = "_needs_user"
    EVENT_PROPS_JSON = "_event_props_json"
    GROUPS_JSON = "_groups_json"  # event-level groups, user-level assignment or op targets
    PROPS_JSON = "_props_json"  # group properties: plain values and/or operation maps
    PROPS_PLAIN = "_props_plain"  # true: every key is a plain $set (Segment traits, $group_set)
    ASSIGNS = "_assigns_groups"  # true: GROUPS are a user-level assignment

    GROUPS_ERROR = "_groups_error"
    PROPS_ERROR = "_props_error"
    EVENT_PROPS_ERROR = "_event_props_error"
    OPS = "_ops"  # array<struct<group_type, group_value, operation, property, value_json>>
    OP_KEYS = "_op_keys"  # distinct property keys the record's ops name (for the 1000-key limit)
    REPORTS = "_reports"  # array<struct<reason, detail>>
    STATUS = "_status"  # accepted | duplicate | quarantined
    NEW = "_new"


KIND_EVENT = "event"
KIND_ASSIGNMENT = "group_assignment"
KIND_PROPERTY = "group_property"

STATUS_ACCEPTED = "accepted"
STATUS_DUPLICATE = "duplicate"
STATUS_QUARANTINED = "quarantined"

# Where a record comes from and where it sits in its file: carried unchanged by every step.
POINTER = (
    C.BATCH_ID,
    C.INGESTED_AT,
    C.SOURCE_FILE,
    C.FILE_FORMAT,
    C.ARRIVAL_TIME,
    C.LINE_NUMBER,
    C.RECORD_INDEX,
    C.RECORD_ID,
    C.RAW,
)

# What ``records.explode_records`` produces: one row per raw record, REASON set when the line or
# the record is unusable before any format-specific parsing.
EXPLODED = (
    *POINTER,
    N.SINGLE,
    N.REC,
    N.REC_TEXT,
    C.REASON,
    C.MESSAGE,
    N.ENV_MIN_ID,
    N.ENV_SENT_AT,
)

# What parsing produces (same columns, same order), whatever the format.
PARSED = (
    *POINTER,
    N.SINGLE,
    C.SOURCE,
    C.RECORD_KIND,
    C.REASON,
    C.MESSAGE,
    C.EVENT_TYPE,
    C.USER_ID,
    C.DEVICE_ID,
    C.INSERT_ID,
    C.EVENT_TIME,
    N.TIME_PROBLEM,
    C.SEQ_MS,
    N.MIN_ID,
    N.NEEDS_USER,
    N.EVENT_PROPS_JSON,
    N.GROUPS_JSON,
    N.ASSIGNS,
    N.PROPS_JSON,
    N.PROPS_PLAIN,
)

# PARSED's fields a parser fills (everything after the pointer), with the type of their default.
PARSER_FIELDS = {
    C.SOURCE: "string",
    C.RECORD_KIND: "string",
    C.REASON: "string",
    C.MESSAGE: "string",
    C.EVENT_TYPE: "string",
    C.USER_ID: "string",
    C.DEVICE_ID: "string",
    C.INSERT_ID: "string",
    C.EVENT_TIME: "timestamp",
    N.TIME_PROBLEM: "string",
    C.SEQ_MS: "long",
    N.MIN_ID: "int",
    N.NEEDS_USER: "boolean",
    N.EVENT_PROPS_JSON: "string",
    N.GROUPS_JSON: "string",
    N.ASSIGNS: "boolean",
    N.PROPS_JSON: "string",
    N.PROPS_PLAIN: "boolean",
}
assert tuple(PARSER_FIELDS) == PARSED[len(POINTER) + 1 :]


def fill_parsed(df: DataFrame, mine: Column, fields: dict[str, Column]) -> DataFrame:
    """Set the parser fields of the rows where ``mine`` holds; other rows keep theirs.

    Every parser writes into the same columns of one DataFrame: one pass over the records
    (a union of per-format branches read and unwrapped the batch once per branch).
    In: rows that already hold every :data:`PARSER_FIELDS` column; ``fields`` maps each of them
    to its value for this parser's rows. Out: the same rows and columns.
    """
    missing = set(PARSER_FIELDS) - set(fields)
    if missing:
        raise ValueError(f"parser leaves fields unset: {sorted(missing)}")
    return df.withColumns(
        {name: F.when(mine, value).otherwise(F.col(name)) for name, value in fields.items()}
    )
