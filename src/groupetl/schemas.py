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
    DecimalType,
    DoubleType,
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

    # where a record came from and its place in record order (docs/semantics.md "Time and order")
    BATCH_ID = "batch_id"
    INGESTED_AT = "ingested_at"
    SOURCE_FILE = "source_file"  # path relative to the landing folder, '/'-separated
    FILE_FORMAT = "file_format"
    ARRIVAL_TIME = "arrival_time"  # the file's arrival (modification) time, fixed in bronze
    ERROR = "error"  # why a landing file could not be read (null when it was read)
    LINE_NUMBER = "line_number"  # 1-based line in the (decompressed) file; 0: unreadable file
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
    USER_KEY = "user_key"  # user_id when present, else device_id (docs/semantics.md "Words")
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
    ROW_COUNT = "row_count"
    FINGERPRINT = "fingerprint"  # order-free hash of a batch's rows: tells a changed batch


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
    ("lines", LongType(), False),  # non-blank lines stored in bronze (0 for an unreadable file)
    (C.ERROR, StringType(), True),  # null, or why the file could not be read (quarantined whole)
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

# The silver batches already attributed (the attribute stage's watermark), with the row count
# and fingerprint each had then: a batch that changed since (ingest displaced a duplicate, a
# derived date was re-run with other input) is seen and triggers a rebuild.
ATTRIBUTION_LEDGER = _struct(
    (C.SOURCE_TABLE, StringType(), False),
    (C.BATCH_ID, StringType(), False),
    (C.ROW_COUNT, LongType(), False),
    (C.FINGERPRINT, LongType(), False),
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


# --- dynamic/crm-owned schemas ---


class DC:
    """Column names of the dynamic group property and CRM sync state tables."""

    NAME = "name"  # the dynamic property's name: the group property key it writes
    DEFINITION_JSON = "definition_json"  # canonical JSON of the definition (without the name)
    DEFINITION_HASH = "definition_hash"  # sha256 of definition_json
    CREATED_FOR_DATE = "created_for_date"  # the logical date of the property's first computation
    VALID_FROM_DATE = "valid_from_date"  # first logical date a definition version applies to
    RECORDED_AT = "recorded_at"  # wall-clock time the row was written (information only)
    GROUPS_WRITTEN = "groups_written"
    SYNC_DATE = "sync_date"  # the CRM sync's logical date
    NEXT_PICKUP_DATE = "next_pickup_date"
    LAST_SYNCED_DATE = "last_synced_date"
    EXPORT_FILE = "export_file"  # the export's file name inside the CRM landing folder


# Every version of every dynamic property definition (the snapshot): version 1 is taken at the
# property's first computation; an edited config adds a version valid from the first logical date
# after the last one computed. The version in force on date D is the highest with valid_from <= D.
DYNAMIC_DEFINITIONS = _struct(
    (DC.NAME, StringType(), False),
    (C.VERSION, LongType(), False),
    (DC.VALID_FROM_DATE, DateType(), False),
    (DC.CREATED_FOR_DATE, DateType(), False),
    (DC.DEFINITION_JSON, StringType(), False),
    (DC.DEFINITION_HASH, StringType(), False),
    (DC.RECORDED_AT, TimestampType(), False),
)

# One row per (dynamic property, logical date) computed: which version was used, how many groups
# got a value. Its latest date per name is what "later dates" means for a definition edit.
DYNAMIC_COMPUTATIONS = _struct(
    (DC.NAME, StringType(), False),
    (C.LOGICAL_DATE, DateType(), False),
    (C.VERSION, LongType(), False),
    (DC.GROUPS_WRITTEN, LongType(), False),
    (DC.RECORDED_AT, TimestampType(), False),
)

# CRM pickups, one row per (group, sync date) on which the account was due. The state before a
# date D is each group's latest row with sync_date < D, so re-running D gives the same answer.
# status: synced (applied) | pending (group unknown: retried the next day) | refused (the update
# would pass 1000 group property keys: not applied, quarantined).
CRM_PICKUPS = _struct(
    (C.GROUP_TYPE, StringType(), False),
    (C.GROUP_VALUE, StringType(), False),
    (DC.SYNC_DATE, DateType(), False),
    (C.STATUS, StringType(), False),
    (DC.NEXT_PICKUP_DATE, DateType(), False),
    (DC.LAST_SYNCED_DATE, DateType(), True),  # null until the first applied sync
    (DC.EXPORT_FILE, StringType(), False),
    (C.LINE_NUMBER, LongType(), False),  # the account's row in that export
)


# --- report-owned schemas (gold tables of groupetl.reports; column names in reports.columns) ---

# One row per (report, period, segment, cohort segment) of an event segmentation report: event
# totals, distinct counting units (groups, or users for group_type "user") and distinct users.
SEGMENTATION = _struct(
    ("report_name", StringType(), False),
    (C.RUN_ID, StringType(), False),  # the run that last recomputed this row's period
    ("computed_at", TimestampType(), False),
    (C.GROUP_TYPE, StringType(), False),  # the counting unit: a declared group type, or "user"
    ("interval", StringType(), False),  # day | week | month
    ("rolling_days", IntegerType(), True),  # N: the day's value covers the N days ending on it
    ("period_start", DateType(), False),  # the day, ISO week's Monday or month's first day
    ("segment", StringType(), False),  # segment_by value at event time; "(none)", "(all)"
    ("segment_rank", IntegerType(), True),  # 1..N with top N, else null
    ("cohort_segment", StringType(), True),  # 'in cohort' | 'rest' with a cohort split
    ("events", LongType(), False),
    ("uniques", LongType(), False),
    ("users", LongType(), False),
)

# One row per (funnel report, breakdown value, cohort segment, step).
FUNNEL_STEPS = _struct(
    ("report_name", StringType(), False),
    (C.RUN_ID, StringType(), False),
    ("computed_at", TimestampType(), False),
    (C.GROUP_TYPE, StringType(), False),
    ("breakdown", StringType(), False),  # value at the counted attempt's first step; "(all)"
    ("cohort_segment", StringType(), True),
    ("step", IntegerType(), False),  # 1-based
    ("step_event", StringType(), False),
    ("reached", LongType(), False),  # counting units that reached this step
    ("from_previous", DoubleType(), True),  # reached / reached at the previous step
    ("from_first", DoubleType(), True),  # reached / reached at step 1
    ("dropped", LongType(), False),  # reached the previous step but not this one
    ("median_seconds", DoubleType(), True),  # time from the previous step, among those reaching
    ("p90_seconds", DoubleType(), True),
)

# One row per (funnel report, counting unit with a step-relevant event): the counted attempt.
# Also the incremental state of funnels: ``fingerprint`` hashes the unit's step-relevant rows.
FUNNEL_GROUPS = _struct(
    ("report_name", StringType(), False),
    (C.RUN_ID, StringType(), False),
    ("computed_at", TimestampType(), False),
    (C.GROUP_TYPE, StringType(), False),
    (C.GROUP_VALUE, StringType(), False),  # the group value, or the user key
    ("breakdown", StringType(), True),
    ("cohort_segment", StringType(), True),
    ("reached", IntegerType(), False),  # 0: no first step inside the report's dates
    ("attempt_start", TimestampType(), True),
    ("step_times", ArrayType(TimestampType()), True),  # time of each reached step
    ("fingerprint", DecimalType(38, 0), False),
)

# The groups behind one data point of a report (a microscope result saved as a table).
MICROSCOPE = _struct(
    ("report_name", StringType(), False),
    ("point", StringType(), False),  # e.g. "step 2", "dropoff 2", "2024-01-01 / EU"
    (C.GROUP_TYPE, StringType(), False),
    (C.GROUP_VALUE, StringType(), False),
    ("name", StringType(), True),  # the group's current name property
    ("computed_at", TimestampType(), False),
)

# What each report was last computed from: one marker row (event_date null) per report and, for
# segmentation, one row per event date with a fingerprint of that date's input rows.
REPORT_STATE = _struct(
    ("report_name", StringType(), False),
    ("kind", StringType(), False),
    ("definition_hash", StringType(), False),
    (C.EVENT_DATE, DateType(), True),
    ("fingerprint", DecimalType(38, 0), True),
    ("rows", LongType(), True),
    (C.RUN_ID, StringType(), False),
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
    ATTRIBUTION_LEDGER = "ops/attribution_ledger"  # attribute: silver batches taken in


# --- retention/cohort/lookup-owned schemas ---

from pyspark.sql.types import DoubleType  # noqa: E402  (this section is appended after class T)


class RC:
    """Column names of the retention, cohort and account lookup tables and results."""

    # COHORT_MEMBERS (declared above with literals; the same names)
    COHORT = "cohort"
    AS_OF_DATE = "as_of_date"
    COHORT_SOURCE = "cohort_source"  # behavioral | imported | microscope
    COMPUTED_AT = "computed_at"
    COHORT_SEGMENT = "cohort_segment"  # apply_cohort(mode="split"): 'in cohort' | 'rest'

    # gold/retention
    REPORT_NAME = "report_name"
    PERIOD = "period"  # day | week | month
    BASIS = "basis"  # rolling | calendar
    MEASURE = "measure"  # on | on_or_after
    SEGMENT = "segment"  # null: the report is not split by a cohort
    COHORT_PERIOD = "cohort_period"  # first day of the (calendar) period of the start event
    COHORT_SIZE = "cohort_size"
    PERIOD_N = "period_n"
    RETAINED = "retained"
    RATE = "rate"

    # microscope and lookup results
    NAME = "name"  # the group's name property (GroupType.name_property), decoded
    START_TIME = "start_time"
    MATCHED_VALUES = "matched_values"
    CURRENT_VALUE = "current_value"
    LAST_SEEN = "last_seen"


# One row per (report, segment, cohort period, period N) of the latest run of each configured
# retention report. Period 0 is the cohort itself (retained = cohort_size, rate = 1.0).
RETENTION = _struct(
    (RC.REPORT_NAME, StringType(), False),
    (C.RUN_ID, StringType(), False),
    (RC.COMPUTED_AT, TimestampType(), False),
    (C.GROUP_TYPE, StringType(), False),  # a declared group type, or "user"
    (RC.PERIOD, StringType(), False),
    (RC.BASIS, StringType(), False),
    (RC.MEASURE, StringType(), False),
    (RC.SEGMENT, StringType(), True),
    (RC.COHORT_PERIOD, DateType(), False),
    (RC.COHORT_SIZE, LongType(), False),
    (RC.PERIOD_N, IntegerType(), False),
    (RC.RETAINED, LongType(), False),
    (RC.RATE, DoubleType(), False),
)


# --- qa-owned schemas ---
# (Imported here, not at the top, so the QA section stays in one place at the end of the file.)
from pyspark.sql.types import BooleanType  # noqa: E402

# One row per expectation per QA run (``groupetl.qa.runner.QA_RESULTS`` is the table's path).
# ``observed`` is what GX measured as text; ``samples`` up to five offending values as text.
QA_RESULTS = _struct(
    (C.RUN_ID, StringType(), False),
    ("project", StringType(), False),
    ("suite", StringType(), False),
    ("expectation", StringType(), False),
    ("severity", StringType(), False),  # error | warning
    ("success", BooleanType(), False),
    ("observed", StringType(), True),
    ("samples", ArrayType(StringType()), False),
    ("run_time", TimestampType(), False),
)
