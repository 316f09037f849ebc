"""Machine-readable reason codes for quarantined records and reported (non-fatal) issues.

Every raw record ends in exactly one place (docs/semantics.md "Bad input"): accepted, deduplicated,
or quarantined with one of the ``Quarantine`` codes below. ``Reported`` codes describe problems
that do not stop a record from being accepted (the part that cannot be used is ignored and counted).

The generator's manifest uses the same codes, so tests can compare its counts with the tables.
"""

from __future__ import annotations


class Quarantine:
    """Why a raw record was not accepted. Values are stored in the quarantine table."""

    INVALID_UTF8 = "invalid_utf8"  # the line's bytes are not UTF-8: quarantined before parsing
    INVALID_JSON = "invalid_json"  # the line is not JSON at all
    NESTING_TOO_DEEP = "nesting_too_deep"  # JSON nested deeper than MAX_JSON_DEPTH levels
    NOT_AN_OBJECT = "not_an_object"  # JSON, but not an object where a record must be one
    UNKNOWN_FORMAT = "unknown_format"  # the body matches no supported payload shape
    UNSUPPORTED_MESSAGE_TYPE = "unsupported_message_type"  # e.g. Segment "alias"
    MISSING_EVENT_TYPE = "missing_event_type"
    MISSING_USER = "missing_user"  # neither user_id nor device_id
    INVALID_USER_ID = "invalid_user_id"  # too short, or a refused value such as "null"
    INVALID_TIME = "invalid_time"  # present but not parseable in the format's time encoding
    TIME_OUT_OF_RANGE = "time_out_of_range"  # parseable but outside the sane range
    INVALID_GROUP_VALUE = "invalid_group_value"  # not a string, number or flat list of them
    INVALID_PROPERTY_OPERATION = "invalid_property_operation"  # unknown op or malformed payload
    MISSING_GROUP = "missing_group"  # a group identify without group type or value
    PROPERTY_LIMIT_EXCEEDED = "property_limit_exceeded"  # would pass 1000 group property keys
    UNREADABLE_FILE = "unreadable_file"  # a landing file that cannot be read: one record, line 0

    ALL = (
        INVALID_UTF8,
        INVALID_JSON,
        NESTING_TOO_DEEP,
        NOT_AN_OBJECT,
        UNKNOWN_FORMAT,
        UNSUPPORTED_MESSAGE_TYPE,
        MISSING_EVENT_TYPE,
        MISSING_USER,
        INVALID_USER_ID,
        INVALID_TIME,
        TIME_OUT_OF_RANGE,
        INVALID_GROUP_VALUE,
        INVALID_PROPERTY_OPERATION,
        MISSING_GROUP,
        PROPERTY_LIMIT_EXCEEDED,
        UNREADABLE_FILE,
    )


class Reported:
    """Problems counted and reported while the record itself is kept."""

    UNDECLARED_GROUP_TYPE = "undeclared_group_type"  # ignored for attribution, event kept
    GROUP_LIMIT_EXCEEDED = "group_limit_exceeded"  # > 5 group types or > 10 values on a record
    EMPTY_GROUP_ASSIGNMENT = "empty_group_assignment"  # user-level assignment of nothing
    STRING_TRUNCATED = "string_truncated"  # a string over 1024 characters was cut
    CONFLICTING_PROPERTY_OPERATION = "conflicting_property_operation"  # same key, two ops
    NON_NUMERIC_ADD = "non_numeric_add"  # $add on a value that is not a number

    ALL = (
        UNDECLARED_GROUP_TYPE,
        GROUP_LIMIT_EXCEEDED,
        EMPTY_GROUP_ASSIGNMENT,
        STRING_TRUNCATED,
        CONFLICTING_PROPERTY_OPERATION,
        NON_NUMERIC_ADD,
    )
