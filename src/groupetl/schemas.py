"""Column names and StructTypes of every groupetl table, and where each table lives.

Schemas are declared here, never inferred. Modules refer to columns through ``C`` (``C.EVENT_TIME``)
rather than string literals, and select an explicit list of columns on exit (``select(*SCHEMA)``).

Layers (under the project's warehouse folder):
- ``bronze/``: raw lines exactly as they arrived, plus the files already ingested.
- ``silver/``: one normalized shape for every source (events, user-level group assignments,
  group property operations), duplicates and reported issues; and the resolved, time-aware tables
  built from them (membership and property history, attributed events).
- ``gold/``: report outputs. ``ops/``: run logs. The quarantine table has its own configured path.
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
    DateType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


class C:
    """Column names shared across tables."""

    # where a record came from and its place in record order (SEMANTICS.md "Time and order")
    BATCH_ID = "batch_id"
    INGESTED_AT = "ingested_at"
    SOURCE_FILE = "source_file"  # path relative to the landing folder, '/'-separated
    FILE_FORMAT = "file_format"
    ARRIVAL_TIME = "arrival_time"  # the file's arrival (modification) time, fixed in bronze
    LINE_NUMBER = "line_number"  # 1-based line in the (decompressed) file
    RECORD_INDEX = "record_index"  # 0-based position of the record inside the line's body
    SEQ_MS = "seq_ms"  # source sequence: server_upload_time / receivedAt / sentAt, epoch ms
    RAW = "raw"
    RECORD_ID = "record_id"  # sha2 of source_file, line_number, record_index: stable per record

    # normalized records
    SOURCE = "source"  # amplitude | segment | posthog | crm | dynamic
    EVENT_ID = "event_id"
    EVENT_TIME = "event_time"
    EVENT_DATE = "event_date"
    EVENT_TYPE = "event_type"
    USER_KEY = "user_key"  # user_id when present, else device_id (SEMANTICS.md "Words")
    USER_ID = "user_id"
    DEVICE_ID = "device_id"
    INSERT_ID = "insert_id"
    EVENT_PROPERTIES = "event_properties"
    GROUPS = "groups"  # event-level groups: map group type -> array of values

    ASSIGNED_AT = "assigned_at"
    GROUP_TYPE = "group_type"
    GROUP_VALUE = "group_value"
    GROUP_VALUES = "group_values"

    OP_TIME = "op_time"
    OPERATION = "operation"  # $set, $setOnce, $unset, $add, $append, ... $clearAll
    PROPERTY = "property"
    VALUE_JSON = "value_json"  # the operation's value as JSON text (numbers stay numbers)
    ORIGIN = "origin"  # group_identify | event | crm | dynamic

    # quarantine, duplicates, reported issues
    REASON = "reason"
    MESSAGE = "message"
    KEPT_RECORD_ID = "kept_record_id"
    DETAIL = "detail"
    RECORD_KIND = "record_kind"  # event | group_assignment | group_property

    # resolved (time-aware) tables
    VALID_FROM = "valid_from"
    VALID_TO = "valid_to"  # exclusive; null = still in force
    VERSION = "version"
    PROPERTIES = "properties"  # map property -> value as JSON text
    VALUE = "value"
    ATTRIBUTION = "attribution"  # event | user | none
    GROUP_VERSION = "group_version"

    # run logs
    RUN_ID = "run_id"
    STAGE = "stage"
    LOGICAL_DATE = "logical_date"
    STARTED_AT = "started_at"
    FINISHED_AT = "finished_at"
    STATUS = "status"
    COUNTS = "counts"

    # attribution ledger: which silver batches the attribute stage has already taken in
    SOURCE_TABLE = "source_table"
    ATTRIBUTED_AT = "attributed_at"


def _struct(*fields: tuple[str, object, bool]) -> StructType:
    return StructType([StructField(n, t, nullable) for n, t, nullable in fields])  # type: ignore[arg-type]


STRING_MAP = MapType(StringType(), StringType())
GROUPS_MAP = MapType(StringType(), ArrayType(StringType()))

# Columns that place a record in record order, carried by every normalized table.
ORDER_FIELDS = (
    (C.SEQ_MS, LongType(), True),
    (C.SOURCE_FILE, StringType(), False),
    (C.LINE_NUMBER, LongType(), False),
    (C.RECORD_INDEX, IntegerType(), False),
)

BRONZE_FILES = _struct(
    (C.SOURCE_FILE, StringType(), False),
    (C.FILE_FORMAT, StringType(), False),
    ("size_bytes", LongType(), False),
    (C.ARRIVAL_TIME, TimestampType(), False),
    (C.BATCH_ID, StringType(), False),
    (C.INGESTED_AT, TimestampType(), False),
    ("lines", LongType(), False),
)

BRONZE_RECORDS = _struct(
    (C.BATCH_ID, StringType(), False),
    (C.INGESTED_AT, TimestampType(), False),
    (C.SOURCE_FILE, StringType(), False),
    (C.FILE_FORMAT, StringType(), False),
    (C.ARRIVAL_TIME, TimestampType(), False),
    (C.LINE_NUMBER, LongType(), False),
    (C.RAW, StringType(), False),
)

SILVER_EVENTS = _struct(
    (C.EVENT_ID, StringType(), False),
    (C.EVENT_TIME, TimestampType(), False),
    (C.EVENT_DATE, DateType(), False),
    (C.EVENT_TYPE, StringType(), False),
    (C.USER_KEY, StringType(), False),
    (C.USER_ID, StringType(), True),
    (C.DEVICE_ID, StringType(), True),
    (C.INSERT_ID, StringType(), True),
    (C.EVENT_PROPERTIES, STRING_MAP, True),
    (C.GROUPS, GROUPS_MAP, True),
    (C.SOURCE, StringType(), False),
    (C.FILE_FORMAT, StringType(), False),
    *ORDER_FIELDS,
    (C.BATCH_ID, StringType(), False),
)

SILVER_GROUP_ASSIGNMENTS = _struct(
    (C.RECORD_ID, StringType(), False),
    (C.ASSIGNED_AT, TimestampType(), False),
    (C.USER_KEY, StringType(), False),
    (C.GROUP_TYPE, StringType(), False),
    (C.GROUP_VALUES, ArrayType(StringType()), False),
    (C.SOURCE, StringType(), False),
    (C.FILE_FORMAT, StringType(), False),
    *ORDER_FIELDS,
    (C.BATCH_ID, StringType(), False),
)

SILVER_GROUP_PROPERTY_OPS = _struct(
    (C.RECORD_ID, StringType(), False),
    (C.OP_TIME, TimestampType(), False),
    (C.GROUP_TYPE, StringType(), False),
    (C.GROUP_VALUE, StringType(), False),
    (C.OPERATION, StringType(), False),
    (C.PROPERTY, StringType(), True),  # null for $clearAll
    (C.VALUE_JSON, StringType(), True),
    (C.ORIGIN, StringType(), False),
    (C.SOURCE, StringType(), False),
    (C.FILE_FORMAT, StringType(), False),
    *ORDER_FIELDS,
    (C.BATCH_ID, StringType(), False),
)

QUARANTINE = _struct(
    (C.BATCH_ID, StringType(), False),
    (C.INGESTED_AT, TimestampType(), False),
    (C.SOURCE_FILE, StringType(), False),
    (C.FILE_FORMAT, StringType(), False),
    (C.LINE_NUMBER, LongType(), False),
    (C.RECORD_INDEX, IntegerType(), True),  # null when the whole line is unusable
    (C.RECORD_ID, StringType(), False),
    (C.REASON, StringType(), False),
    (C.MESSAGE, StringType(), False),
    (C.RAW, StringType(), True),
)

DUPLICATES = _struct(
    (C.RECORD_ID, StringType(), False),
    (C.KEPT_RECORD_ID, StringType(), False),
    (C.USER_KEY, StringType(), True),
    (C.INSERT_ID, StringType(), False),
    (C.SOURCE_FILE, StringType(), False),
    (C.LINE_NUMBER, LongType(), False),
    (C.RECORD_INDEX, IntegerType(), False),
    (C.BATCH_ID, StringType(), False),
)

REPORTED = _struct(
    (C.RECORD_ID, StringType(), False),
    (C.REASON, StringType(), False),
    (C.DETAIL, StringType(), True),
    (C.SOURCE_FILE, StringType(), False),
    (C.LINE_NUMBER, LongType(), False),
    (C.RECORD_INDEX, IntegerType(), True),
    (C.BATCH_ID, StringType(), False),
)

RUN_LOG = _struct(
    (C.RUN_ID, StringType(), False),
    (C.STAGE, StringType(), False),
    (C.LOGICAL_DATE, DateType(), True),
    (C.STARTED_AT, TimestampType(), False),
    (C.FINISHED_AT, TimestampType(), True),
    (C.STATUS, StringType(), False),
    (C.COUNTS, MapType(StringType(), LongType()), True),
    (C.MESSAGE, StringType(), True),
)


# --- ingestion-owned schemas (added by the ingest stage below this line) ---

# One row per accepted raw record, whatever silver rows it produced (an identify without groups
# produces none): the record-level ledger that deduplication looks insert ids up in and that
# accepted counts are read from. record_kind: event | group_assignment | group_property.
SILVER_RECORDS = _struct(
    (C.RECORD_ID, StringType(), False),
    (C.RECORD_KIND, StringType(), False),
    (C.EVENT_TIME, TimestampType(), False),  # the record's time (event, assignment or op time)
    (C.USER_KEY, StringType(), True),  # null only for a $groupidentify without a user
    (C.INSERT_ID, StringType(), True),
    (C.SOURCE, StringType(), False),
    (C.FILE_FORMAT, StringType(), False),
    *ORDER_FIELDS,
    (C.BATCH_ID, StringType(), False),
)

# The ingest stage's batch ledger, one row per batch and phase reached (status): ``bronze`` when
# the batch's lines are committed to bronze, ``silver`` when its own silver rows are written,
# ``done`` when records it displaced as duplicates are moved too. A batch is finished when
# ``done``; downstream stages read only finished batches.
INGEST_BATCHES = _struct(
    (C.BATCH_ID, StringType(), False),
    (C.STATUS, StringType(), False),
    (C.FINISHED_AT, TimestampType(), False),
)

# --- attribution-owned schemas (membership, property history, attributed events) ---

# User-level group membership as validity intervals per (user_key, group_type): one row per
# assignment in force for a non-empty time span (the last one of its millisecond).
MEMBERSHIP_HISTORY = _struct(
    (C.USER_KEY, StringType(), False),
    (C.GROUP_TYPE, StringType(), False),
    (C.GROUP_VALUES, ArrayType(StringType()), False),
    (C.VALID_FROM, TimestampType(), False),  # millisecond precision
    (C.VALID_TO, TimestampType(), True),  # exclusive; null = still in force
    (C.RECORD_ID, StringType(), False),  # the assignment record
    (C.SOURCE, StringType(), False),
)

# One row per change of one property of one group: the value (JSON text; null = absent) in force
# from valid_from until valid_to, and the operation, origin and record that made it.
GROUP_PROPERTY_HISTORY = _struct(
    (C.GROUP_TYPE, StringType(), False),
    (C.GROUP_VALUE, StringType(), False),
    (C.PROPERTY, StringType(), False),
    (C.VALUE, StringType(), True),
    (C.VALID_FROM, TimestampType(), False),
    (C.VALID_TO, TimestampType(), True),
    (C.OPERATION, StringType(), False),
    (C.ORIGIN, StringType(), False),
    (C.RECORD_ID, StringType(), False),
)

# One row per distinct property map of a group: version 1, 2, ... in time order.
GROUP_VERSIONS = _struct(
    (C.GROUP_TYPE, StringType(), False),
    (C.GROUP_VALUE, StringType(), False),
    (C.VERSION, LongType(), False),
    (C.VALID_FROM, TimestampType(), False),
    (C.VALID_TO, TimestampType(), True),
    (C.PROPERTIES, STRING_MAP, False),
)

CURRENT_GROUP_PROPERTIES = _struct(
    (C.GROUP_TYPE, StringType(), False),
    (C.GROUP_VALUE, StringType(), False),
    (C.VERSION, LongType(), False),
    (C.VALID_FROM, TimestampType(), False),
    (C.PROPERTIES, STRING_MAP, False),
)

# One row per (event, declared group type, group value); group_value is null when the event has
# no group of that type (attribution "none"). group_version keys GROUP_VERSIONS.
ATTRIBUTED_EVENTS = _struct(
    (C.EVENT_ID, StringType(), False),
    (C.EVENT_TIME, TimestampType(), False),
    (C.EVENT_DATE, DateType(), False),
    (C.EVENT_TYPE, StringType(), False),
    (C.USER_KEY, StringType(), False),
    (C.USER_ID, StringType(), True),
    (C.DEVICE_ID, StringType(), True),
    (C.EVENT_PROPERTIES, STRING_MAP, True),
    (C.SOURCE, StringType(), False),
    (C.GROUP_TYPE, StringType(), False),
    (C.GROUP_VALUE, StringType(), True),
    (C.ATTRIBUTION, StringType(), False),  # event | user | none
    (C.GROUP_VERSION, LongType(), True),  # null: no group, or no property yet at event time
    (C.BATCH_ID, StringType(), False),  # the silver batch the event came in
)

# The silver batches already attributed (the attribute stage's watermark).
ATTRIBUTION_LEDGER = _struct(
    (C.SOURCE_TABLE, StringType(), False),
    (C.BATCH_ID, StringType(), False),
    (C.ATTRIBUTED_AT, TimestampType(), False),
)


# --- cohorts (shared by reports, retention, cohort import and microscope "save as cohort") ---

# One row per (cohort, group) for the cohort as computed on ``as_of_date``. ``group_type`` is
# "user" for a cohort of users (then group_value is the user key). ``cohort_source`` says how it was
# made: behavioral (computed from config), imported (from a file), microscope (saved from a report).
COHORT_MEMBERS = _struct(
    ("cohort", StringType(), False),
    (C.GROUP_TYPE, StringType(), False),
    (C.GROUP_VALUE, StringType(), False),
    ("as_of_date", DateType(), False),
    ("cohort_source", StringType(), False),
    ("computed_at", TimestampType(), False),
)


class T:
    """Table locations relative to the warehouse folder (``Paths.table(T.SILVER_EVENTS)``)."""

    BRONZE_FILES = "bronze/files"
    BRONZE_RECORDS = "bronze/records"
    SILVER_EVENTS = "silver/events"
    SILVER_GROUP_ASSIGNMENTS = "silver/group_assignments"
    SILVER_GROUP_PROPERTY_OPS = "silver/group_property_ops"
    SILVER_DUPLICATES = "silver/duplicates"
    SILVER_REPORTED = "silver/reported"
    MEMBERSHIP_HISTORY = "silver/membership_history"
    GROUP_PROPERTY_HISTORY = "silver/group_property_history"
    GROUP_VERSIONS = "silver/group_versions"
    CURRENT_GROUP_PROPERTIES = "silver/current_group_properties"
    ATTRIBUTED_EVENTS = "silver/attributed_events"
    RUN_LOG = "ops/run_log"
    COHORT_MEMBERS = "gold/cohort_members"
    # Group property operations made by groupetl itself (CRM sync, dynamic properties), with the
    # SILVER_GROUP_PROPERTY_OPS schema; attribution applies them together with the ingested ones.
    DERIVED_PROPERTY_OPS = "silver/derived_property_ops"
    SILVER_RECORDS = "silver/records"  # ingest: accepted raw records (dedup ledger)
    INGEST_BATCHES = "ops/ingest_batches"  # ingest: batch ledger (bronze -> silver -> done)
