"""Column names of the report gold tables (declared in ``groupetl.schemas``) and working columns.

``schemas.py`` spells these names as literals in its report section; a test checks that every
report schema's field names are among these constants, so the two cannot drift apart.
"""

from __future__ import annotations

from groupetl.schemas import C


class R:
    """Report column names (shared names, such as ``run_id``, come from ``C``)."""

    REPORT_NAME = "report_name"
    RUN_ID = C.RUN_ID
    COMPUTED_AT = "computed_at"
    GROUP_TYPE = C.GROUP_TYPE
    GROUP_VALUE = C.GROUP_VALUE
    EVENT_DATE = C.EVENT_DATE

    # segmentation
    INTERVAL = "interval"
    ROLLING_DAYS = "rolling_days"
    PERIOD_START = "period_start"
    SEGMENT = "segment"
    SEGMENT_RANK = "segment_rank"
    COHORT_SEGMENT = "cohort_segment"  # same name and values as groupetl.cohorts' split
    EVENTS = "events"
    UNIQUES = "uniques"
    USERS = "users"

    # funnels
    BREAKDOWN = "breakdown"
    STEP = "step"
    STEP_EVENT = "step_event"
    REACHED = "reached"
    FROM_PREVIOUS = "from_previous"
    FROM_FIRST = "from_first"
    DROPPED = "dropped"
    MEDIAN_SECONDS = "median_seconds"
    P90_SECONDS = "p90_seconds"
    ATTEMPT_START = "attempt_start"
    STEP_TIMES = "step_times"
    FINGERPRINT = "fingerprint"

    # microscope and state
    POINT = "point"
    NAME = "name"
    KIND = "kind"
    DEFINITION_HASH = "definition_hash"
    ROWS = "rows"

    # working columns (never written)
    UNIT = "_unit"  # the counting unit: group_value, or user_key for user reports
    DAY = "_day"


NONE_LABEL = "(none)"  # a segment or breakdown value for an absent property
ALL_LABEL = "(all)"  # the segment of a report without segment_by; the funnel's total breakdown
