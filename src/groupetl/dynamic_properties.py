"""Dynamic group properties: a per-group KPI computed for a logical date, written as a property.

A ``dynamic_properties:`` item names the group property it writes, a declared group type, one
time-series metric and a window (docs/dynamic-properties.md)::

    - name: Last 7 Day Active Users
      group_type: company
      metric: active_users            # | event_totals | uniques (of ``event``, with ``where``)
      window: {last_days: 7}          # | week | month

For logical date D the value uses attributed events with event_time < D 00:00 UTC only (rolling:
[D-N, D); ``week``: the previous ISO week, computed on Mondays only; ``month``: the previous
calendar month, computed on the 1st only) and is written as a ``$set`` at D 00:00 UTC into
``T.DERIVED_PROPERTY_OPS``: events on D see it, events before D never do.

Which groups get a value on D: every group of the type with any attributed event in the current
window or in the window of the previous scheduled computation. So a group whose value was not 0
gets 0 when its activity stops (the value drops), and the rows of D depend on the events only,
never on which dates were computed before (backfills in any order give the same rows).

The definition is snapshotted at the property's first computation (``DYNAMIC_DEFINITIONS``); an
edited config becomes a new version valid from the first date after the last one computed, so
re-runs and backfills of earlier dates keep using the snapshot in force on their date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.cohorts.columns import criteria_matches
from groupetl.cohorts.spec import (
    EventCriteria,
    PropertyFilter,
    check_group_type,
    parse_where,
)
from groupetl.config import ConfigNode, ProjectConfig, section_node
from groupetl.derived_ops import (
    KEY,
    apply_key_limit,
    as_date,
    collect_count_and_samples,
    date_predicate,
    describe,
    midnight_utc,
    sql_string,
    to_property_ops,
    write_ops,
    write_quarantine,
)
from groupetl.errors import InputError
from groupetl.properties.values import SET
from groupetl.schemas import (
    ATTRIBUTED_EVENTS,
    DC,
    DYNAMIC_COMPUTATIONS,
    DYNAMIC_DEFINITIONS,
    C,
    T,
)
from groupetl.stages import StageResult

log = logging.getLogger(__name__)

STAGE = "dynamic_properties"
ORIGIN = "dynamic"
DEFINITIONS = "ops/dynamic_definitions"
COMPUTATIONS = "ops/dynamic_computations"

ACTIVE_USERS, EVENT_TOTALS, UNIQUES = "active_users", "event_totals", "uniques"
METRICS = (ACTIVE_USERS, EVENT_TOTALS, UNIQUES)
ROLLING, WEEK, MONTH = "rolling", "week", "month"
_FREQUENCY = ("frequency", "event_frequency", "frequency_distribution", "stickiness")
_PROPERTY_METRICS = (
    "property_distribution",
    "distribution",
    "histogram",
    "property_sum",
    "sum",
    "property_average",
    "average",
    "distinct_property_values",
)
_FORMULA_KEYS = ("formula", "formulas", "custom_formula")
_STATIC_KEYS = ("from", "to", "start", "end", "between", "dates", "date_range", "start_date")
_ITEM_KEYS = ("name", "group_type", "metric", "event", "where", "window", "description")


@dataclass(frozen=True)
class Schedule:
    """When a property is computed and over which days: rolling ``last_days``, ``week``, ``month``."""

    kind: str
    last_days: int | None = None

    def is_due(self, date: dt.date) -> bool:
        """Rolling: every day; week: Mondays (ISO week start); month: the 1st."""
        if self.kind == WEEK:
            return date.isoweekday() == 1
        return date.day == 1 if self.kind == MONTH else True

    def window(self, date: dt.date) -> tuple[dt.date, dt.date]:
        """First day and end (exclusive: ``date`` itself) of the events counted on ``date``."""
        if self.kind == WEEK:
            return date - dt.timedelta(days=7), date
        if self.kind == MONTH:
            return _first_of_previous_month(date), date
        return date - dt.timedelta(days=self.last_days or 1), date

    def latest_due_before(self, date: dt.date) -> dt.date:
        """The last scheduled date strictly before ``date``."""
        if self.kind == WEEK:
            return date - dt.timedelta(days=date.weekday() or 7)
        if self.kind == MONTH:
            first = date.replace(day=1)
            return first if first < date else _first_of_previous_month(date)
        return date - dt.timedelta(days=1)

    def describe(self) -> str:
        return f"last {self.last_days} days" if self.kind == ROLLING else f"previous {self.kind}"


def _first_of_previous_month(date: dt.date) -> dt.date:
    return (date.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


@dataclass(frozen=True)
class DynamicProperty:
    """One dynamic group property: its name (the property key) and its definition."""

    name: str
    group_type: str
    metric: str
    criteria: EventCriteria
    schedule: Schedule

    def definition(self) -> dict[str, object]:
        """The definition without the name, as plain JSON-able data (what a snapshot stores)."""
        where = [
            {"property": f.property, "op": f.op, "values": list(f.values)}
            for f in self.criteria.where
        ]
        return {
            "group_type": self.group_type,
            "metric": self.metric,
            "event": self.criteria.event,
            "where": where,
            "window": {"kind": self.schedule.kind, "last_days": self.schedule.last_days},
        }

    def definition_json(self) -> str:
        return json.dumps(self.definition(), sort_keys=True, separators=(",", ":"))

    def definition_hash(self) -> str:
        return hashlib.sha256(self.definition_json().encode()).hexdigest()

    @staticmethod
    def from_definition(name: str, text: str) -> DynamicProperty:
        """The inverse of ``definition_json`` (a stored snapshot back into a definition)."""
        d = json.loads(text)
        where = tuple(
            PropertyFilter(w["property"], w["op"], tuple(w["values"])) for w in d["where"]
        )
        window = d["window"]
        return DynamicProperty(
            name,
            d["group_type"],
            d["metric"],
            EventCriteria(d["event"], where),
            Schedule(window["kind"], window["last_days"]),
        )


# --- config: refused at load, with file:line: key ---


def parse_dynamic_properties(config: ProjectConfig) -> tuple[DynamicProperty, ...]:
    """Validate the ``dynamic_properties:`` section (a list); ConfigError naming file:line: key.

    Refused: frequency and property-distribution metrics, formulas, static date ranges and
    undeclared group types (docs/semantics.md "Sources of truth").
    """
    props: list[DynamicProperty] = []
    for item in section_node(config, "dynamic_properties").items():
        prop = _parse_item(item, config)
        if prop.name in (p.name for p in props):
            raise item.child("name").error(f"dynamic property {prop.name!r} defined twice")
        props.append(prop)
    return tuple(props)


def _parse_item(item: ConfigNode, config: ProjectConfig) -> DynamicProperty:
    for key in item.mapping():
        if key in _FORMULA_KEYS:
            raise item.child(key).error(_refusal("formulas"))
        if key in _STATIC_KEYS:
            raise item.child(key).error(_refusal("static date ranges"))
    item.mapping(_ITEM_KEYS)
    name = item.child("name").string(required=True)
    if not name.strip() or name.startswith("$") or len(name) > 1024:
        raise item.child("name").error(
            "a property name: 1 to 1024 characters, not starting with '$'"
        )
    try:
        group_type = check_group_type(config, item.child("group_type").string(required=True), False)
    except InputError as exc:
        raise item.child("group_type").error(str(exc)) from None
    metric = _parse_metric(item.child("metric"))
    event_node = item.child("event")
    if metric == ACTIVE_USERS:
        for key in ("event", "where"):
            if item.child(key).value is not None:
                raise item.child(key).error(
                    "active_users counts users with any event; "
                    "use event_totals or uniques for one event"
                )
        criteria = EventCriteria()
    else:
        criteria = EventCriteria(event_node.string(required=True), parse_where(item.child("where")))
    return DynamicProperty(name, group_type, metric, criteria, _parse_window(item.child("window")))


def _refusal(what: str) -> str:
    return (
        f"{what} are not supported for dynamic group properties; use one metric "
        f"({', '.join(METRICS)}) over last_days: N, week or month"
    )


def _parse_metric(node: ConfigNode) -> str:
    metric = node.string(required=True)
    if metric in _FREQUENCY:
        raise node.error(_refusal(f"frequency metrics ({metric})"))
    if metric in _PROPERTY_METRICS:
        raise node.error(_refusal(f"property-distribution metrics ({metric})"))
    if metric in _FORMULA_KEYS:
        raise node.error(_refusal("formulas"))
    if metric not in METRICS:
        raise node.error(f"must be one of {', '.join(METRICS)}; found {metric!r}")
    return metric


def _parse_window(node: ConfigNode) -> Schedule:
    if isinstance(node.value, str):
        if node.value not in (WEEK, MONTH):
            raise node.error(f"expected week, month or {{last_days: N}}; found {node.value!r}")
        return Schedule(node.value)
    value = node.mapping()
    if not value:
        raise node.error("required: {last_days: N}, week or month")
    for key in value:
        if key in _STATIC_KEYS:
            raise node.child(key).error(_refusal("static date ranges"))
    node.mapping(("last_days",))
    return Schedule(ROLLING, node.child("last_days").integer(7, 1, 3660))


# --- definition snapshots (Spark-free decisions) ---


@dataclass(frozen=True)
class Version:
    """One stored version of a property's definition."""

    version: int
    valid_from: dt.date
    created_for: dt.date
    definition_json: str
    definition_hash: str


@dataclass(frozen=True)
class Resolved:
    """What a computation on one date uses: the definition, its version, and what to record."""

    prop: DynamicProperty
    version: int
    new_version: Version | None  # a snapshot to store (first computation, or an edit)
    previous: DynamicProperty  # the definition of the previous scheduled computation


def in_force(versions: Sequence[Version], date: dt.date) -> Version | None:
    """The version in force on ``date``: the highest whose valid_from <= date; None before v1."""
    candidates = [v for v in versions if v.valid_from <= date]
    return max(candidates, key=lambda v: v.version) if candidates else None


def resolve_snapshot(
    configured: DynamicProperty,
    versions: Sequence[Version],
    computed_since: bool,
    date: dt.date,
) -> Resolved:
    """Which definition computes ``date``, and whether a snapshot version is to be stored.

    - no version yet: the configured definition becomes version 1, valid from ``date``;
    - ``computed_since`` (the property was computed on ``date`` or a later date: a re-run or a
      backfill): the version in force on ``date`` (version 1 before the property's creation),
      whatever the config says;
    - otherwise (a date after the last one computed): the configured definition, stored as a new
      version valid from ``date`` when it differs from the one in force.
    """
    name = configured.name
    new: Version | None = None
    if not versions:
        new = Version(1, date, date, configured.definition_json(), configured.definition_hash())
        current, versions = new, [new]
    else:
        first = min(versions, key=lambda v: v.version)
        current = in_force(versions, date) or first
        if not computed_since and current.definition_hash != configured.definition_hash():
            number = max(v.version for v in versions) + 1
            new = Version(number, date, first.created_for, configured.definition_json(),
                          configured.definition_hash())  # fmt: skip
            current, versions = new, [*versions, new]
    prop = DynamicProperty.from_definition(name, current.definition_json)
    before = in_force(versions, date - dt.timedelta(days=1))
    previous = DynamicProperty.from_definition(name, before.definition_json) if before else prop
    return Resolved(prop, current.version, new, previous)


# --- Spark: values per group ---


def group_events(
    attributed: DataFrame, group_type: str, since: dt.date, until: dt.date
) -> DataFrame:
    """ATTRIBUTED_EVENTS -> the rows of ``group_type`` with a group, event_time in [since, until).

    ``until`` is the logical date: nothing at or after D 00:00 UTC is ever read.
    """
    in_range = (F.col(C.EVENT_TIME) >= midnight_utc(since)) & (
        F.col(C.EVENT_TIME) < midnight_utc(until)
    )
    dates = (F.col(C.EVENT_DATE) >= F.lit(since)) & (F.col(C.EVENT_DATE) < F.lit(until))
    of_type = (F.col(C.GROUP_TYPE) == group_type) & F.col(C.GROUP_VALUE).isNotNull()
    return attributed.filter(dates & in_range & of_type)


def metric_values(events: DataFrame, prop: DynamicProperty, start: dt.date) -> DataFrame:
    """Group events -> one row per group: ``group_type``, ``group_value``, ``value`` (long).

    In: ``group_events`` rows (the universe: a group with rows gets a value, 0 when none of its
    rows is in the window [start, D) or matches). Out: event_totals counts matching events,
    uniques distinct users doing them, active_users distinct users doing anything.
    """
    in_window = F.col(C.EVENT_TIME) >= midnight_utc(start)
    counted = in_window & criteria_matches(prop.criteria)
    if prop.metric == EVENT_TOTALS:
        value = F.count(F.when(counted, F.lit(1)))
    else:
        value = F.count_distinct(F.when(counted, F.col(C.USER_KEY)))
    return events.groupBy(C.GROUP_TYPE, C.GROUP_VALUE).agg(value.cast("long").alias(C.VALUE))


def value_ops(values: DataFrame, prop: DynamicProperty, date: dt.date) -> DataFrame:
    """Metric values -> ``$set`` operation rows for ``to_property_ops`` (value as a JSON number).

    ``source_file`` is ``dynamic/<name>``; ``line_number`` 1 and ``record_index`` 0: one
    operation per (property, group, date), so nothing else needs ordering.
    """
    key = F.concat_ws(
        "|", F.lit(ORIGIN), F.lit(prop.name), C.GROUP_TYPE, C.GROUP_VALUE, F.lit(str(date))
    )
    return values.select(
        C.GROUP_TYPE,
        C.GROUP_VALUE,
        F.lit(SET).alias(C.OPERATION),
        F.lit(prop.name).alias(C.PROPERTY),
        F.col(C.VALUE).cast("string").alias(C.VALUE_JSON),
        F.lit(ORIGIN).alias(C.FILE_FORMAT),
        F.lit(source_file(prop.name)).alias(C.SOURCE_FILE),
        F.lit(1).alias(C.LINE_NUMBER),
        F.lit(0).alias(C.RECORD_INDEX),
        key.alias(KEY),
    )


def source_file(name: str) -> str:
    """The stable pseudo-path of a dynamic property's operations."""
    return f"{ORIGIN}/{name}"


def property_ops(attributed: DataFrame, resolved: Resolved, date: dt.date) -> tuple[DataFrame, str]:
    """The ``SILVER_GROUP_PROPERTY_OPS`` rows of one property on ``date``, and a report line."""
    prop, previous = resolved.prop, resolved.previous
    start, end = prop.schedule.window(date)
    prev_start, _ = previous.schedule.window(previous.schedule.latest_due_before(date))
    since = min(start, prev_start)
    values = metric_values(group_events(attributed, prop.group_type, since, end), prop, start)
    ops = to_property_ops(value_ops(values, prop, date), ORIGIN, date, batch_id(date))
    line = f"{prop.name} (v{resolved.version}, {prop.metric}, {prop.schedule.describe()}): [{start}, {end})"
    return ops, line


def batch_id(date: dt.date) -> str:
    return f"{ORIGIN}-{date}"


# --- the stage ---


def collect_versions(spark: SparkSession, config: ProjectConfig) -> dict[str, list[Version]]:
    """Every stored definition version by property name (config-sized)."""
    rows = tables.read(spark, config.paths.table(DEFINITIONS), DYNAMIC_DEFINITIONS).collect()
    out: dict[str, list[Version]] = {}
    for r in rows:
        v = Version(r[C.VERSION], r[DC.VALID_FROM_DATE], r[DC.CREATED_FOR_DATE],
                    r[DC.DEFINITION_JSON], r[DC.DEFINITION_HASH])  # fmt: skip
        out.setdefault(r[DC.NAME], []).append(v)
    return out


def collect_computed_since(spark: SparkSession, config: ProjectConfig, date: dt.date) -> set[str]:
    """Names of the properties already computed on ``date`` or a later date (config-sized)."""
    done = tables.read(spark, config.paths.table(COMPUTATIONS), DYNAMIC_COMPUTATIONS)
    since = done.filter(F.col(C.LOGICAL_DATE) >= F.lit(date)).select(DC.NAME)
    return {r[DC.NAME] for r in since.collect()}


def compute_dynamic_properties(
    spark: SparkSession,
    config: ProjectConfig,
    date: dt.date | str,
    progress: Callable[[str], None] | None = None,
) -> StageResult:
    """Compute every configured dynamic property due on ``date`` and write it at D 00:00 UTC.

    Re-running a date replaces that date's rows of the properties computed (one ``replaceWhere``
    commit), so the result is the same. Counts: ``properties_configured``, ``properties_computed``,
    ``properties_not_scheduled`` (week/month on another day: a no-op, noted), ``values_written``
    (group values), ``updates_refused`` (values of new keys past the 1000-key limit: quarantined).
    """
    say = progress or log.info
    started = time.monotonic()
    day = as_date(date)
    props = parse_dynamic_properties(config)
    result = StageResult(stage=STAGE, tables=[config.paths.table(T.DERIVED_PROPERTY_OPS)])
    versions = collect_versions(spark, config) if props else {}
    since = collect_computed_since(spark, config, day) if props else set()
    due: list[Resolved] = []
    for prop in props:
        resolved = resolve_snapshot(prop, versions.get(prop.name, []), prop.name in since, day)
        schedule = resolved.prop.schedule
        if schedule.is_due(day):
            due.append(resolved)
        else:
            result.notes.append(f"{prop.name}: not scheduled on {day} ({schedule.describe()})")
    result.counts = {
        "properties_configured": len(props),
        "properties_computed": len(due),
        "properties_not_scheduled": len(props) - len(due),
    }
    if due:
        say(f"[{STAGE}] {len(due)} properties for {day}")
        _write(spark, config, due, day, result)
    elif not props:
        result.notes.append("no dynamic_properties configured")
    result.seconds = time.monotonic() - started
    return result


def _write(
    spark: SparkSession,
    config: ProjectConfig,
    due: list[Resolved],
    day: dt.date,
    result: StageResult,
) -> None:
    """Compute, limit-check and write the due properties, then record snapshots and computations."""
    attributed = tables.read(spark, config.paths.table(T.ATTRIBUTED_EVENTS), ATTRIBUTED_EVENTS)
    parts = [property_ops(attributed, r, day) for r in due]
    ops = reduce(DataFrame.unionByName, [part for part, _ in parts])
    names = [r.prop.name for r in due]
    kept, refused = apply_key_limit(spark, config, ops, names)
    obs = Observation(STAGE)
    per_name = [F.count_if(F.col(C.PROPERTY) == n).alias(f"_{i}") for i, n in enumerate(names)]
    observed = kept.observe(obs, F.count(F.lit(1)).alias("_all"), *per_name)
    files = ", ".join(sql_string(source_file(n)) for n in names)
    write_ops(
        spark, config, observed, f"{date_predicate(ORIGIN, day)} AND {C.SOURCE_FILE} IN ({files})"
    )
    write_quarantine(spark, config, ops, refused, batch_id(day))
    metrics = obs.get
    written = [int(metrics.get(f"_{i}", 0)) for i in range(len(names))]
    _record(spark, config, due, day, written)
    n, samples = (0, []) if refused is None else collect_count_and_samples(refused, C.GROUP_VALUE)
    result.counts.update({"values_written": int(metrics.get("_all", 0)), "updates_refused": n})
    result.notes += [f"{line}: {k} groups" for (_, line), k in zip(parts, written, strict=True)]
    if n:
        result.notes.append(describe(n, samples, "values refused (past 1000 property keys)"))


def _record(
    spark: SparkSession,
    config: ProjectConfig,
    due: list[Resolved],
    day: dt.date,
    written: list[int],
) -> None:
    """Store new snapshot versions, and replace the computation log rows of ``day``."""
    now = dt.datetime.now(dt.timezone.utc)
    new = [(r.prop.name, r.new_version) for r in due if r.new_version is not None]
    if new:
        rows = [(n, v.version, v.valid_from, v.created_for, v.definition_json, v.definition_hash, now)
                for n, v in new]  # fmt: skip
        path = config.paths.table(DEFINITIONS)
        tables.ensure(spark, path, DYNAMIC_DEFINITIONS)
        tables.append(spark.createDataFrame(rows, DYNAMIC_DEFINITIONS), path)
    done = [(r.prop.name, day, r.version, n, now) for r, n in zip(due, written, strict=True)]
    names = ", ".join(sql_string(r.prop.name) for r in due)
    path = config.paths.table(COMPUTATIONS)
    tables.ensure(spark, path, DYNAMIC_COMPUTATIONS)
    where = f"{C.LOGICAL_DATE} = DATE'{day}' AND {DC.NAME} IN ({names})"
    tables.replace_where(spark.createDataFrame(done, DYNAMIC_COMPUTATIONS), path, where)


def run(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    date: dt.date | str,
    progress: Callable[[str], None] | None = None,
    **_: object,
) -> StageResult:
    """Stage entry point (CLI ``groupetl dynamic-properties --date D``, ``jobs/``)."""
    return compute_dynamic_properties(spark, config, date, progress=progress)
