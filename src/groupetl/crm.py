"""CRM account sync (the role of Amplitude's Salesforce integration): exports -> group properties.

Config (docs/crm-sync.md)::

    crm:
      group_type: company
      landing: crm                  # under paths.landing (default crm)
      key_field: AccountNumber      # the column holding the group value
      field_mapping: {Name: Account Name, Industry: industry}
      interval: weekly              # daily | weekly | monthly | {days: N}
      activated_on: 2026-01-01

An export (``accounts_YYYY-MM-DD.csv`` with a header, or ``.jsonl``, one account per row) is
dropped into the landing folder; the sync for logical date D reads the newest one dated <= D.
Every account due on D (first sync the day after ``activated_on``, then every interval) whose
group is known (seen in attributed events or non-derived property history before D) gets its
mapped fields as ``$set`` (``$unset`` for an empty field) at D 00:00 UTC. An account whose group
is unknown stays pending and is retried the next day; known groups missing from the export are
reported. The pickup state is a log keyed by sync date, so re-running D gives the same result.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, Observation, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from groupetl import tables
from groupetl.cohorts.spec import check_group_type, parse_date
from groupetl.config import ConfigNode, ProjectConfig, section_node
from groupetl.derived_ops import (
    DERIVED_QUARANTINE,
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
from groupetl.properties.values import SET, UNSET
from groupetl.schemas import (
    ATTRIBUTED_EVENTS,
    CRM_PICKUPS,
    DC,
    GROUP_PROPERTY_HISTORY,
    C,
    T,
)
from groupetl.stages import StageResult

log = logging.getLogger(__name__)

STAGE = "crm_sync"
ORIGIN = "crm"
PICKUPS = "ops/crm_pickups"
SYNCED, PENDING, REFUSED = "synced", "pending", "refused"
MAX_STRING = 1024  # Amplitude cuts longer strings (docs/semantics.md "Bad input")
EXPORT_NAME = re.compile(r"^accounts_(\d{4}-\d{2}-\d{2})\.(csv|jsonl)$")
_INTERVALS = {"daily": 1, "weekly": 7}
_KEYS = ("group_type", "landing", "key_field", "field_mapping", "interval", "activated_on")
_POS = "_pos"
KNOWN = "_known"  # a due account's group is known (see known_groups)


@dataclass(frozen=True)
class Interval:
    """Time between two pickups of an account: ``days`` or ``months`` (monthly)."""

    days: int = 0
    months: int = 0

    def next_after(self, date: dt.date) -> dt.date:
        """The next pickup after a sync on ``date``; monthly: same day next month, clamped."""
        if self.months:
            y, m = divmod(date.month - 1 + self.months, 12)
            year, month = date.year + y, m + 1
            return dt.date(year, month, min(date.day, calendar.monthrange(year, month)[1]))
        return date + dt.timedelta(days=self.days)

    def describe(self) -> str:
        return "monthly" if self.months else f"every {self.days} days"


@dataclass(frozen=True)
class CrmSync:
    """The validated ``crm:`` section."""

    group_type: str
    landing: Path
    key_field: str
    field_mapping: tuple[tuple[str, str], ...]  # (export column, group property), config order
    interval: Interval
    activated_on: dt.date

    @property
    def first_sync(self) -> dt.date:
        """Every account's first pickup: the day after activation."""
        return self.activated_on + dt.timedelta(days=1)

    @property
    def columns(self) -> tuple[str, ...]:
        """The export columns read: the key, then each mapped column once."""
        return tuple(dict.fromkeys([self.key_field, *(c for c, _ in self.field_mapping)]))


def parse_crm(config: ProjectConfig) -> CrmSync | None:
    """Validate the ``crm:`` section; None when absent; ConfigError naming file:line: key."""
    node = section_node(config, "crm")
    if node.value is None:
        return None
    node.mapping(_KEYS)
    try:
        group_type = check_group_type(config, node.child("group_type").string(required=True), False)
    except InputError as exc:
        raise node.child("group_type").error(str(exc)) from None
    landing = Path(node.child("landing").string("crm")).expanduser()
    mapping_node = node.child("field_mapping")
    mapping = tuple(
        (str(col), mapping_node.child(col).string(required=True)) for col in mapping_node.mapping()
    )
    if not mapping:
        raise mapping_node.error("required: {export column: group property name, ...}")
    properties = [p for _, p in mapping]
    for col, prop in mapping:
        if properties.count(prop) > 1:
            raise mapping_node.child(col).error(f"group property {prop!r} is mapped twice")
        if prop.startswith("$") or not prop.strip():
            raise mapping_node.child(col).error(
                "a property name must not be empty or start with '$'"
            )
    activated = node.child("activated_on")
    if activated.value is None:
        raise activated.error("required: the activation date YYYY-MM-DD")
    return CrmSync(
        group_type=group_type,
        landing=landing if landing.is_absolute() else config.paths.landing / landing,
        key_field=node.child("key_field").string(required=True),
        field_mapping=mapping,
        interval=_parse_interval(node.child("interval")),
        activated_on=parse_date(activated),
    )


def _parse_interval(node: ConfigNode) -> Interval:
    if isinstance(node.value, dict):
        node.mapping(("days",))
        if node.child("days").value is None:
            raise node.error("expected daily, weekly, monthly or {days: N}; days is missing")
        return Interval(days=node.child("days").integer(1, 1, 366))
    value = node.choice("daily", ("daily", "weekly", "monthly"))
    return Interval(months=1) if value == "monthly" else Interval(days=_INTERVALS[value])


# --- the export file ---


@dataclass(frozen=True)
class Export:
    """An account export in the CRM landing folder."""

    path: Path
    date: dt.date
    file_format: str  # csv | jsonl

    @property
    def source_file(self) -> str:
        """The stable pseudo-path written into ``source_file``: ``crm/<file name>``."""
        return f"{ORIGIN}/{self.path.name}"


def find_export(folder: Path, date: dt.date) -> Export | None:
    """The newest ``accounts_YYYY-MM-DD.csv|jsonl`` dated <= ``date`` (other names are ignored).

    Two exports of the same date (a .csv and a .jsonl) are ambiguous: InputError.
    """
    found: dict[dt.date, list[Export]] = {}
    for path in folder.iterdir() if folder.is_dir() else ():
        m = EXPORT_NAME.match(path.name)
        day = _date_or_none(m.group(1)) if m else None
        if m and day is not None and day <= date and path.is_file():
            found.setdefault(day, []).append(Export(path, day, m.group(2)))
    if not found:
        return None
    newest = found[max(found)]
    if len(newest) > 1:
        names = ", ".join(sorted(e.path.name for e in newest))
        raise InputError(f"{folder}: two account exports for {max(found)} ({names}); keep one")
    return newest[0]


def _date_or_none(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f), [])


def read_export(spark: SparkSession, export: Export, crm: CrmSync) -> DataFrame:
    """The export -> one row per account row: ``line_number`` and ``_c0``.. (``crm.columns``).

    Every column is read as a string through a declared schema (CSV: one string field per header
    column, by position; JSON lines: the needed keys). ``line_number`` is the row's line in the
    file (1-based, after the CSV header; a quoted multi-line CSV field counts as one line).
    """
    if export.file_format == "csv":
        header = _csv_header(export.path)
        missing = [c for c in crm.columns if c not in header]
        if missing:
            raise InputError(
                f"{export.path}: columns missing from the header: {', '.join(missing)}"
            )
        schema = StructType([StructField(f"_h{i}", StringType()) for i in range(len(header))])
        df = spark.read.csv(
            str(export.path), schema=schema, header=True, multiLine=True, escape='"'
        )
        picked = [F.col(f"_h{header.index(c)}").alias(f"_c{i}") for i, c in enumerate(crm.columns)]
        offset = 1
    else:
        schema = StructType([StructField(c, StringType()) for c in crm.columns])
        df = spark.read.schema(schema).json(str(export.path))
        picked = [
            F.col(f"`{c.replace('`', '``')}`").alias(f"_c{i}") for i, c in enumerate(crm.columns)
        ]
        offset = 0
    line = F.row_number().over(Window.orderBy(_POS)) + F.lit(offset)
    # One window partition: the export is account-sized, and file order needs one sequence.
    return df.withColumn(_POS, F.monotonically_increasing_id()).select(
        line.cast("long").alias(C.LINE_NUMBER), *picked
    )


def collect_export_summary(rows: DataFrame) -> dict[str, int]:
    """One small job: rows, rows without a key, duplicate-key rows, values over 1024 chars."""
    key = F.trim(F.col("_c0"))
    n_values = len([c for c in rows.columns if c.startswith("_c")])
    cut = sum((F.length(f"_c{i}") > MAX_STRING).cast("int") for i in range(1, n_values))
    row = rows.agg(
        F.count(F.lit(1)).alias("accounts_in_export"),
        F.count_if(key.isNull() | (key == "")).alias("accounts_without_key"),
        F.count_distinct(F.when(key != "", key)).alias("_keys"),
        F.sum(cut if n_values > 1 else F.lit(0)).alias("values_cut"),
    ).first()
    keyed = row["accounts_in_export"] - row["accounts_without_key"]
    return {
        "accounts_in_export": row["accounts_in_export"],
        "accounts_without_key": row["accounts_without_key"],
        "duplicate_key_rows": keyed - row["_keys"],
        "values_cut": int(row["values_cut"] or 0),
    }


def latest_accounts(rows: DataFrame) -> DataFrame:
    """Export rows -> one per account: ``group_value`` (the trimmed key), its last row wins.

    Rows without a key are dropped (counted by ``collect_export_summary``).
    """
    key = F.trim(F.col("_c0"))
    last = Window.partitionBy(C.GROUP_VALUE).orderBy(F.col(C.LINE_NUMBER).desc())
    return (
        rows.withColumn(C.GROUP_VALUE, key)
        .filter(F.col(C.GROUP_VALUE) != "")
        .withColumn("_n", F.row_number().over(last))
        .filter(F.col("_n") == 1)
        .drop("_n")
    )


# --- who is due ---


def pickup_state(pickups: DataFrame, crm: CrmSync, date: dt.date) -> DataFrame:
    """CRM_PICKUPS -> each group's latest row before ``date`` (and after activation).

    Out: ``group_value``, ``next_pickup_date``, ``last_synced_date``.
    """
    in_scope = (
        (F.col(C.GROUP_TYPE) == crm.group_type)
        & (F.col(DC.SYNC_DATE) < F.lit(date))
        & (F.col(DC.SYNC_DATE) > F.lit(crm.activated_on))
    )
    latest = Window.partitionBy(C.GROUP_VALUE).orderBy(F.col(DC.SYNC_DATE).desc())
    return (
        pickups.filter(in_scope)
        .withColumn("_n", F.row_number().over(latest))
        .filter(F.col("_n") == 1)
        .select(C.GROUP_VALUE, DC.NEXT_PICKUP_DATE, DC.LAST_SYNCED_DATE)
    )


def due_accounts(accounts: DataFrame, state: DataFrame, date: dt.date) -> DataFrame:
    """Accounts whose pickup is due on ``date``: never picked up, or next pickup <= ``date``.

    Out: the account columns plus ``last_synced_date`` (null when never synced).
    """
    joined = accounts.join(state, on=C.GROUP_VALUE, how="left")
    due = F.col(DC.NEXT_PICKUP_DATE).isNull() | (F.col(DC.NEXT_PICKUP_DATE) <= F.lit(date))
    return joined.filter(due).drop(DC.NEXT_PICKUP_DATE)


def known_groups(
    spark: SparkSession, config: ProjectConfig, group_type: str, date: dt.date
) -> DataFrame:
    """Group values of ``group_type`` groupetl knows before ``date`` 00:00 UTC (``group_value``).

    Known: attributed to an event, or given a property by a non-derived source (CRM and dynamic
    operations do not make a group known).
    """
    before = midnight_utc(date)
    events = tables.read(spark, config.paths.table(T.ATTRIBUTED_EVENTS), ATTRIBUTED_EVENTS)
    history = tables.read(
        spark, config.paths.table(T.GROUP_PROPERTY_HISTORY), GROUP_PROPERTY_HISTORY
    )
    of_type = F.col(C.GROUP_TYPE) == group_type
    seen = events.filter(
        of_type
        & F.col(C.GROUP_VALUE).isNotNull()
        & (F.col(C.EVENT_TIME) < before)
        & (F.col(C.EVENT_DATE) <= F.lit(date))
    ).select(C.GROUP_VALUE)
    named = history.filter(
        of_type & (F.col(C.VALID_FROM) < before) & ~F.col(C.ORIGIN).isin(ORIGIN, "dynamic")
    ).select(C.GROUP_VALUE)
    return seen.unionByName(named).distinct()


# --- operations and pickups ---


def typed_json(text: Column, kind: str) -> Column:
    """A CRM field's text -> JSON text: a number / boolean when the tracking plan says so and the
    text is one, else a JSON string (cut to 1024 characters)."""
    as_string = F.to_json(F.substring(text, 1, MAX_STRING).cast("variant"))
    if kind == "number":
        parsed = F.try_parse_json(F.trim(text))
        is_number = F.schema_of_variant(parsed).rlike(
            r"^(BIGINT|INT|SMALLINT|TINYINT|DECIMAL|DOUBLE|FLOAT)"
        )
        return F.when(is_number, F.to_json(parsed)).otherwise(as_string)
    if kind == "boolean":
        lowered = F.lower(F.trim(text))
        return F.when(lowered.isin("true", "false"), lowered).otherwise(as_string)
    return as_string


def account_ops(
    accounts: DataFrame, crm: CrmSync, kinds: dict[str, str], date: dt.date, export: Export
) -> DataFrame:
    """Due, known accounts -> one operation row per mapped field for ``to_property_ops``.

    A field with text sets the property (``$set``); an empty or missing field removes it
    (``$unset``). ``record_index`` is the field's place in ``field_mapping``.
    """
    fields = []
    for i, (column, prop) in enumerate(crm.field_mapping):
        text = F.col(f"_c{crm.columns.index(column)}")
        empty = text.isNull() | (F.trim(text) == "")
        fields.append(
            F.struct(
                F.lit(i).alias(C.RECORD_INDEX),
                F.lit(prop).alias(C.PROPERTY),
                F.when(empty, F.lit(UNSET)).otherwise(F.lit(SET)).alias(C.OPERATION),
                F.when(~empty, typed_json(text, kinds.get(prop, "any"))).alias(C.VALUE_JSON),
            )
        )
    exploded = accounts.select(
        C.GROUP_VALUE, C.LINE_NUMBER, F.explode(F.array(*fields)).alias("_f")
    )
    key = F.concat_ws(
        "|", F.lit(ORIGIN), F.lit(str(date)), F.lit(crm.group_type), C.GROUP_VALUE, "_f.property"
    )
    return exploded.select(
        F.lit(crm.group_type).alias(C.GROUP_TYPE),
        C.GROUP_VALUE,
        "_f.*",
        F.lit(f"{ORIGIN}_{export.file_format}").alias(C.FILE_FORMAT),
        F.lit(export.source_file).alias(C.SOURCE_FILE),
        C.LINE_NUMBER,
        key.alias(KEY),
    )


def mark_known(due: DataFrame, known: DataFrame) -> DataFrame:
    """Due accounts -> the same plus ``_known`` (true when groupetl knows the group)."""
    flagged = known.withColumn(KNOWN, F.lit(True))
    joined = due.join(flagged, on=C.GROUP_VALUE, how="left")
    return joined.withColumn(KNOWN, F.coalesce(F.col(KNOWN), F.lit(False)))


def pickup_rows(
    marked: DataFrame, refused: DataFrame | None, crm: CrmSync, date: dt.date, export: Export
) -> DataFrame:
    """``mark_known`` accounts -> their ``CRM_PICKUPS`` rows for ``date``.

    synced: next pickup ``date`` + interval, last synced ``date``; refused (past the key limit):
    next pickup as if synced, last synced unchanged; pending (group unknown): due again the next
    day, last synced unchanged.
    """
    if refused is not None:
        refused_values = refused.select(C.GROUP_VALUE, F.lit(True).alias("_refused")).distinct()
        marked = marked.join(refused_values, on=C.GROUP_VALUE, how="left")
    else:
        marked = marked.withColumn("_refused", F.lit(None).cast("boolean"))
    is_known, is_refused = F.col(KNOWN), F.col("_refused").isNotNull()
    status = (
        F.when(~is_known, F.lit(PENDING)).when(is_refused, F.lit(REFUSED)).otherwise(F.lit(SYNCED))
    )
    next_date = F.when(~is_known, F.lit(date + dt.timedelta(days=1))).otherwise(
        F.lit(crm.interval.next_after(date))
    )
    last = F.when(status == SYNCED, F.lit(date)).otherwise(F.col(DC.LAST_SYNCED_DATE))
    return marked.select(
        F.lit(crm.group_type).alias(C.GROUP_TYPE),
        C.GROUP_VALUE,
        F.lit(date).alias(DC.SYNC_DATE),
        status.alias(C.STATUS),
        next_date.alias(DC.NEXT_PICKUP_DATE),
        last.alias(DC.LAST_SYNCED_DATE),
        F.lit(export.path.name).alias(DC.EXPORT_FILE),
        F.col(C.LINE_NUMBER).cast("long").alias(C.LINE_NUMBER),
    )


# --- the stage ---


def crm_sync(
    spark: SparkSession,
    config: ProjectConfig,
    date: dt.date | str,
    progress: Callable[[str], None] | None = None,
) -> StageResult:
    """Apply the mapped CRM fields of every account due on ``date`` (see module docstring).

    Counts: the export's ``accounts_in_export``, ``accounts_without_key``, ``duplicate_key_rows``
    (earlier rows of a repeated key, ignored), ``values_cut``; ``accounts_due``, ``accounts_synced``,
    ``accounts_pending`` (group unknown), ``accounts_refused`` (past 1000 property keys),
    ``operations_written``, ``known_groups_missing_from_export``. A date before the first sync,
    or without an export dated on or before it, is a no-op with a note.
    """
    say = progress or log.info
    started = time.monotonic()
    day = as_date(date)
    crm = parse_crm(config)
    if crm is None:
        raise InputError(f"{config.source}: no crm: section; nothing to sync")
    result = StageResult(
        stage=STAGE,
        tables=[config.paths.table(T.DERIVED_PROPERTY_OPS), config.paths.table(PICKUPS)],
    )
    export = find_export(crm.landing, day) if day >= crm.first_sync else None
    if day < crm.first_sync:
        result.notes.append(f"not active yet: the first sync runs on {crm.first_sync}")
    elif export is None:
        result.notes.append(f"no account export dated on or before {day} in {crm.landing}")
    else:
        say(f"[{STAGE}] {day}: {export.path.name} ({crm.interval.describe()})")
        _sync(spark, config, crm, export, day, result)
    result.seconds = time.monotonic() - started
    return result


def _sync(
    spark: SparkSession, config: ProjectConfig, crm: CrmSync, export: Export, day: dt.date,
    result: StageResult,
) -> None:  # fmt: skip
    """Read the export, decide who is due, write operations, quarantine and pickups, report."""
    rows = read_export(spark, export, crm)
    result.counts.update(collect_export_summary(rows))
    pickups = tables.read(spark, config.paths.table(PICKUPS), CRM_PICKUPS)
    # account-sized and used by every write and report below: computed once
    accounts = latest_accounts(rows).persist()
    known = known_groups(spark, config, crm.group_type, day).persist()
    marked = mark_known(due_accounts(accounts, pickup_state(pickups, crm, day), day), known)
    marked = marked.persist()
    try:
        _write_sync(spark, config, crm, export, day, marked, result)
        _report(marked, known, accounts, result)
    finally:
        for df in (marked, known, accounts):
            df.unpersist()
    result.notes.insert(0, f"export {export.path.name} ({export.date}); {crm.interval.describe()}")


def _write_sync(
    spark: SparkSession, config: ProjectConfig, crm: CrmSync, export: Export, day: dt.date,
    marked: DataFrame, result: StageResult,
) -> None:  # fmt: skip
    """Write the operations of known due accounts (limit-checked) and every due account's pickup."""
    kinds = dict(config.tracking_plan.group_properties.get(crm.group_type, {}))
    ready = marked.filter(F.col(KNOWN))
    ops = to_property_ops(account_ops(ready, crm, kinds, day, export), ORIGIN, day, batch_id(day))
    kept, refused = apply_key_limit(spark, config, ops, [p for _, p in crm.field_mapping])
    ops_obs = Observation(f"{STAGE}-ops")
    predicate = f"{date_predicate(ORIGIN, day)} AND {C.GROUP_TYPE} = {sql_string(crm.group_type)}"
    write_ops(spark, config, kept.observe(ops_obs, F.count(F.lit(1)).alias("n")), predicate)
    write_quarantine(spark, config, ops, refused, batch_id(day))
    pick_obs = Observation(f"{STAGE}-pickups")
    statuses = [
        F.count_if(F.col(C.STATUS) == s).alias(f"accounts_{s}") for s in (SYNCED, PENDING, REFUSED)
    ]
    counted = pickup_rows(marked, refused, crm, day, export).observe(
        pick_obs, F.count(F.lit(1)).alias("accounts_due"), *statuses
    )
    path = config.paths.table(PICKUPS)
    tables.ensure(spark, path, CRM_PICKUPS)
    where = f"{C.GROUP_TYPE} = {sql_string(crm.group_type)} AND {DC.SYNC_DATE} = DATE'{day}'"
    tables.replace_where(counted, path, where)
    result.counts.update({k: int(v) for k, v in pick_obs.get.items()})
    result.counts["operations_written"] = int(ops_obs.get.get("n", 0))


def _report(marked: DataFrame, known: DataFrame, accounts: DataFrame, result: StageResult) -> None:
    """Report lines: pending accounts, refused updates, known groups missing from the export."""
    pending = marked.filter(~F.col(KNOWN))
    n, samples = collect_count_and_samples(pending, C.GROUP_VALUE)
    if n:
        result.notes.append(describe(n, samples, "accounts with no known group: kept, retried"))
    if result.counts.get("accounts_refused"):
        result.notes.append(
            describe(result.counts["accounts_refused"], [], "account updates refused (past 1000 "
                     f"property keys): quarantined in {DERIVED_QUARANTINE}")
        )  # fmt: skip
    missing = known.join(accounts, on=C.GROUP_VALUE, how="left_anti")
    n, samples = collect_count_and_samples(missing, C.GROUP_VALUE)
    result.counts["known_groups_missing_from_export"] = n
    if n:
        result.notes.append(describe(n, samples, "known groups missing from the export"))


def batch_id(date: dt.date) -> str:
    return f"{ORIGIN}-{date}"


def run(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    date: dt.date | str,
    progress: Callable[[str], None] | None = None,
    **_: object,
) -> StageResult:
    """Stage entry point (CLI ``groupetl crm-sync --date D``, ``jobs/``)."""
    return crm_sync(spark, config, date, progress=progress)
