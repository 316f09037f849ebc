"""The catalog of QA expectations, built from a project's config (docs/semantics.md "Instrumentation QA").

Each :class:`Suite` validates one DataFrame (a table, or a small frame derived from tables by
``groupetl.qa.frames``) with Great Expectations; each :class:`Check` is one expectation with a
stable, human-readable id ``<suite>.<name>`` (``silver.events.event_type_in_tracking_plan``), a
default severity and the GX expectation that implements it, named by class and keyword arguments
so the catalog can be listed (docs, config validation) without importing GX or Spark.

Severity ``error`` fails the run; ``warning`` only reports. Config can override each id
(``qa.severity``). A check whose input is not configured (no tracking plan events, no retired
group type, ...) is left out rather than run against an empty rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from groupetl.config import MAX_GROUP_PROPERTY_KEYS, MAX_GROUP_TYPES, ProjectConfig
from groupetl.qa.settings import ERROR, WARNING, QaSettings, Thresholds
from groupetl.schemas import C, T

NUMERIC_VALUE = r"^[0-9]+$"
ATTRIBUTIONS = ("event", "user", "none")  # docs/semantics.md "Attribution" steps 1, 2, otherwise

# The Great Expectations classes the catalog uses (great_expectations.expectations.<name>).
NOT_NULL = "ExpectColumnValuesToNotBeNull"
IS_NULL = "ExpectColumnValuesToBeNull"
IN_SET = "ExpectColumnValuesToBeInSet"
BETWEEN = "ExpectColumnValuesToBeBetween"
MATCH_REGEX = "ExpectColumnValuesToMatchRegex"
DISTINCT_COUNT = "ExpectColumnUniqueValueCountToBeBetween"
MAXIMUM = "ExpectColumnMaxToBeBetween"  # on a one-row frame: the rate itself


class Q:
    """Column names of the derived frames (``groupetl.qa.frames`` builds them)."""

    FOUND_IN = "found_in"  # the table a value was seen in (events, group_assignments, ...)
    TABLE = "table"
    MISSING_INGEST_TABLE = "missing_ingest_table"  # the table's path when absent, else null
    MISSING_ATTRIBUTION_TABLE = "missing_attribution_table"
    RAW_MISSING_AT = "raw_missing_at"  # "file:line" of a bronze row without raw text
    INVALID_USER_KEY = "invalid_user_key"  # the key when Amplitude would refuse it, else null
    MISSING_REQUIRED = "missing_required_properties"  # "Event: a, b" when some are absent
    PLANNED_EVENT_PROPERTY = "planned_event_property"  # "Event.prop" for planned events only
    EMPTY_VALUE_IN = "empty_value_in"  # "company in events" for a blank group value
    HAS_NAME = "has_name"
    UNNAMED_GROUP = "unnamed_group"  # "company:1001" when the group has no name property
    PLANNED_TYPE_KEY = "planned_type_property"  # "company.plan" for types the plan lists
    RECORDS = "records"
    ACCEPTED = "accepted"
    DUPLICATES = "duplicates"
    QUARANTINED = "quarantined"
    QUARANTINE_RATE = "quarantine_rate"
    DUPLICATE_RATE = "duplicate_rate"


@dataclass(frozen=True)
class Check:
    """One expectation: id, what it means, default severity, the GX class and its arguments.

    ``observe`` says how its result reads: ``count`` (offending rows of all rows) or ``value``
    (the metric GX observed, e.g. a distinct count or a rate).
    """

    id: str
    text: str
    severity: str
    expectation: str  # a class of great_expectations.expectations
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    observe: str = "count"


@dataclass(frozen=True)
class Suite:
    """Checks run on one frame. ``requires``: tables without which the suite is skipped."""

    name: str
    frame: str  # key of the frame in groupetl.qa.frames.build_frames's result
    checks: tuple[Check, ...]
    requires: tuple[str, ...] = ()


def build_catalog(
    config: ProjectConfig, settings: QaSettings, now: dt.datetime
) -> tuple[Suite, ...]:
    """Every suite for this project, with severities after config overrides.

    In: the project config, its QA settings, the run's start (naive UTC; the upper time bound
    is relative to it). Out: suites in the order they run. Raises ``ConfigError`` when a
    severity override names an unknown id.
    """
    suites = tuple(
        s
        for s in (
            _tables(),
            _bronze(settings.thresholds, now),
            _events(config, settings.thresholds, now),
            _event_properties(config),
            _group_types(config),
            _group_values(config),
            _group_names(),
            _property_keys(config),
            _record_outcomes(settings.thresholds),
            _membership(config),
            _attributed(config),
        )
        if s.checks
    )
    settings.check_ids({c.id for s in suites for c in s.checks})
    return tuple(_with_severity(s, settings.severity) for s in suites)


def expectation_ids(suites: tuple[Suite, ...]) -> Iterator[str]:
    """Every expectation id of ``suites``, in run order."""
    for s in suites:
        yield from (c.id for c in s.checks)


def _with_severity(suite: Suite, overrides: Mapping[str, str]) -> Suite:
    checks = tuple(
        Check(c.id, c.text, overrides.get(c.id, c.severity), c.expectation, c.kwargs, c.observe)
        for c in suite.checks
    )
    return Suite(suite.name, suite.frame, checks, suite.requires)


# What each fixed check means: shown in Data Docs, the printed table and docs/qa.md.
TEXT = {
    "tables.ingest_tables_exist": "ingest has run: bronze lines and accepted events exist",
    "tables.attribution_tables_exist": "the tables attribution writes exist (else their suites "
    "are skipped)",
    "bronze.records.raw_not_null": "every raw line is kept",
    "silver.events.user_key_valid": "user keys pass Amplitude's id rules (length, refused values)",
    "silver.events.event_type_in_tracking_plan": "every event type is in the tracking plan",
    "silver.events.required_properties_present": "events carry the properties the plan requires",
    "silver.event_properties.in_tracking_plan": "properties of planned events are in the plan",
    "silver.group_types.declared": "events, assignments and property operations use declared "
    "group types only",
    "silver.group_types.not_retired": "no record sends a retired group type",
    "silver.group_values.not_empty": "group values are not blank",
    "silver.group_names.every_group_named": "every group of a declared type gets its name "
    "property ($set or $setOnce)",
    "silver.group_property_keys.in_tracking_plan": "group properties of planned group types are "
    "in the plan",
    "silver.membership_history.group_type_declared": "every user-level membership is of a "
    "declared group type",
    "silver.attributed_events.group_type_declared": "events are attributed to declared group "
    "types only",
    "silver.attributed_events.attribution_known": "attribution is event, user or none",
}


def _check(
    suite: str, name: str, gx: str, severity: str = ERROR, text: str = "", **kwargs: Any
) -> Check:
    """A check ``<suite>.<name>``; ``text`` defaults to its entry in :data:`TEXT`."""
    observe = kwargs.pop("observe", "count")
    check_id = f"{suite}.{name}"
    return Check(check_id, text or TEXT[check_id], severity, gx, kwargs, observe)


def _not_null(suite: str, column: str, severity: str = ERROR) -> Check:
    text = f"every row has {column}"
    return _check(suite, f"{column}_not_null", NOT_NULL, severity, text, column=column)


def _flagged(suite: str, name: str, column: str, severity: str = ERROR) -> Check:
    """A check on a column holding an identifier of each offending row and null elsewhere."""
    return _check(suite, name, IS_NULL, severity, column=column)


def _in_set(
    suite: str, name: str, column: str, values: Iterable[str], severity: str = ERROR
) -> Check:
    return _check(suite, name, IN_SET, severity, column=column, value_set=sorted(values))


def _at_most(
    suite: str, name: str, gx: str, column: str, limit: float, text: str, **kw: Any
) -> Check:
    """An aggregate bound (distinct count, maximum): GX observes the value, passed or not."""
    bounds = {"min_value": 0, "max_value": limit}
    return _check(suite, name, gx, text=text, column=column, observe="value", **bounds, **kw)


def _in_range(suite: str, column: str, t: Thresholds, now: dt.datetime, severity: str) -> Check:
    low, high = t.min_time, t.latest_time(now)
    text = f"{column} from {low:%Y-%m-%d %H:%M} to {high:%Y-%m-%d %H:%M} UTC"
    bounds = {"min_value": low, "max_value": high}
    return _check(suite, f"{column}_in_range", BETWEEN, severity, text, column=column, **bounds)


def _tables() -> Suite:
    s = "tables"
    checks = (
        _flagged(s, "ingest_tables_exist", Q.MISSING_INGEST_TABLE),
        _flagged(s, "attribution_tables_exist", Q.MISSING_ATTRIBUTION_TABLE, WARNING),
    )
    return Suite(s, "tables", checks)


def _bronze(t: Thresholds, now: dt.datetime) -> Suite:
    s = "bronze.records"
    checks = (
        _flagged(s, "raw_not_null", Q.RAW_MISSING_AT),
        _in_range(s, C.ARRIVAL_TIME, t, now, WARNING),
    )
    return Suite(s, "bronze_records", checks, requires=(T.BRONZE_RECORDS,))


def _events(config: ProjectConfig, t: Thresholds, now: dt.datetime) -> Suite:
    s = "silver.events"
    plan = config.tracking_plan
    checks = [
        _not_null(s, C.EVENT_TYPE),
        _not_null(s, C.USER_KEY),
        _not_null(s, C.EVENT_TIME),
        # Amplitude accepts events without insert_id, but they cannot be deduplicated.
        _not_null(s, C.INSERT_ID, WARNING),
        _flagged(s, "user_key_valid", Q.INVALID_USER_KEY),
        _in_range(s, C.EVENT_TIME, t, now, ERROR),
    ]
    if plan.events:
        checks.append(_in_set(s, "event_type_in_tracking_plan", C.EVENT_TYPE, plan.event_names))
    if any(e.required for e in plan.events):
        checks.append(_flagged(s, "required_properties_present", Q.MISSING_REQUIRED))
    return Suite(s, "events", tuple(checks), requires=(T.SILVER_EVENTS,))


def _event_properties(config: ProjectConfig) -> Suite:
    s = "silver.event_properties"
    plan = config.tracking_plan
    pairs = [f"{e.name}.{p}" for e in plan.events for p in e.properties]
    check = _in_set(s, "in_tracking_plan", Q.PLANNED_EVENT_PROPERTY, pairs, WARNING)
    checks = (check,) if plan.events else ()
    return Suite(s, "event_properties", checks, requires=(T.SILVER_EVENTS,))


def _group_types(config: ProjectConfig) -> Suite:
    s = "silver.group_types"
    n = MAX_GROUP_TYPES
    text = f"at most {n} group types in the project's data"
    checks = [
        _in_set(s, "declared", C.GROUP_TYPE, config.group_type_names),
        _at_most(s, f"at_most_{n}", DISTINCT_COUNT, C.GROUP_TYPE, n, text),
    ]
    retired = sorted(g.name for g in config.group_types if g.retired)
    if retired:
        gx = "ExpectColumnValuesToNotBeInSet"
        checks.append(_check(s, "not_retired", gx, WARNING, column=C.GROUP_TYPE, value_set=retired))
    return Suite(s, "group_types", tuple(checks))


def _group_values(config: ProjectConfig) -> Suite:
    s = "silver.group_values"
    checks = [_flagged(s, "not_empty", Q.EMPTY_VALUE_IN)]
    for g in config.group_types:
        if g.value_format != "numeric":
            continue
        # Blank values are not_empty's failure; counting them here too would double-report.
        condition = f"{C.GROUP_TYPE} = {_sql_string(g.name)} AND trim({C.GROUP_VALUE}) != ''"
        where = {"row_condition": condition, "condition_parser": "spark"}
        text = f"{g.name} values are digits only"
        name = f"numeric[{g.name}]"
        regex = {"column": C.GROUP_VALUE, "regex": NUMERIC_VALUE}
        checks.append(_check(s, name, MATCH_REGEX, ERROR, text, **regex, **where))
    return Suite(s, "group_values", tuple(checks))


def _group_names() -> Suite:
    s = "silver.group_names"
    return Suite(s, "group_names", (_flagged(s, "every_group_named", Q.UNNAMED_GROUP),))


def _property_keys(config: ProjectConfig) -> Suite:
    s = "silver.group_property_keys"
    n = MAX_GROUP_PROPERTY_KEYS
    text = f"at most {n} group property keys, all group types together"
    checks = [_at_most(s, f"at_most_{n}", DISTINCT_COUNT, C.PROPERTY, n, text)]
    planned = config.tracking_plan.group_properties
    if planned:
        pairs = [f"{gt}.{p}" for gt, props in planned.items() for p in props]
        checks.append(_in_set(s, "in_tracking_plan", Q.PLANNED_TYPE_KEY, pairs, WARNING))
    return Suite(s, "property_keys", tuple(checks))


def _record_outcomes(t: Thresholds) -> Suite:
    s = "silver.record_outcomes"
    q, d = t.max_quarantine_rate, t.max_duplicate_rate
    q_text = f"at most {q:.2%} of raw records quarantined"
    d_text = f"at most {d:.2%} of raw records are duplicates"
    checks = (
        _at_most(s, "quarantine_rate_within_max", MAXIMUM, Q.QUARANTINE_RATE, q, q_text),
        _at_most(
            s, "duplicate_rate_within_max", MAXIMUM, Q.DUPLICATE_RATE, d, d_text, severity=WARNING
        ),
    )
    return Suite(s, "record_outcomes", checks)


def _membership(config: ProjectConfig) -> Suite:
    s = "silver.membership_history"
    check = _in_set(s, "group_type_declared", C.GROUP_TYPE, config.group_type_names)
    return Suite(s, "membership", (check,), requires=(T.MEMBERSHIP_HISTORY,))


def _attributed(config: ProjectConfig) -> Suite:
    s = "silver.attributed_events"
    checks = (
        _in_set(s, "group_type_declared", C.GROUP_TYPE, config.group_type_names),
        _in_set(s, "attribution_known", C.ATTRIBUTION, ATTRIBUTIONS),
    )
    return Suite(s, "attributed", checks, requires=(T.ATTRIBUTED_EVENTS,))


def _sql_string(text: str) -> str:
    """A Spark SQL string literal (group type names may hold quotes or backslashes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
