"""The ``attribute`` stage: silver tables in, resolved tables out, incrementally.

Inputs: silver events, user-level assignments and property operations, and the derived property
operations of CRM sync and dynamic properties. A ledger lists the input batches already
attributed, with each batch's row count and fingerprint. A run takes the batches not in it:

- membership history is recomputed for the (user, group type) keys with new assignments, and
  property history, group versions and current properties for the groups with new operations,
  each from all of that key's rows, and swapped in with one keyed MERGE per table;
- attributed events are rewritten (``replaceWhere``) for every event date that can change: the
  dates of new events, the dates of a user's events at or after a new assignment's time, and the
  dates of a group's attributed events at or after a new operation's time.

Every input of a restated date is re-read whole, so the result equals a full rebuild whatever
the batch cuts. The first run, ``full_rebuild``, and a batch that changed after it was
attributed (its fingerprint differs) rebuild every table.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from groupetl import tables
from groupetl.attribution import store
from groupetl.attribution.join import GROUP_KEY, USER_KEY, attribute_events
from groupetl.config import ProjectConfig
from groupetl.membership import membership_history, time_ms
from groupetl.properties import (
    NON_NUMERIC_ADD,
    changes,
    current_group_properties,
    group_versions,
    property_values,
)
from groupetl.schemas import (
    ATTRIBUTED_EVENTS,
    GROUP_PROPERTY_HISTORY,
    GROUP_VERSIONS,
    MEMBERSHIP_HISTORY,
    SILVER_EVENTS,
    SILVER_GROUP_ASSIGNMENTS,
    SILVER_GROUP_PROPERTY_OPS,
    C,
    T,
)
from groupetl.stages import StageResult

log = logging.getLogger(__name__)

EVENTS, ASSIGNMENTS, OPS = T.SILVER_EVENTS, T.SILVER_GROUP_ASSIGNMENTS, T.SILVER_GROUP_PROPERTY_OPS
DERIVED = T.DERIVED_PROPERTY_OPS  # CRM sync and dynamic properties: applied like ingested ops
_OP_IDENTITY = (
    C.RECORD_ID,
    C.OP_TIME,
    C.GROUP_TYPE,
    C.GROUP_VALUE,
    C.OPERATION,
    C.PROPERTY,
    C.VALUE_JSON,
)
# Input tables, their schema, and the columns whose hash fingerprints a batch's rows.
INPUTS = (
    (EVENTS, SILVER_EVENTS, (C.EVENT_ID, C.EVENT_TIME, C.USER_KEY)),
    (
        ASSIGNMENTS,
        SILVER_GROUP_ASSIGNMENTS,
        (C.RECORD_ID, C.ASSIGNED_AT, C.USER_KEY, C.GROUP_TYPE, C.GROUP_VALUES),
    ),
    (OPS, SILVER_GROUP_PROPERTY_OPS, _OP_IDENTITY),
    (DERIVED, SILVER_GROUP_PROPERTY_OPS, _OP_IDENTITY),
)
OUTPUTS = (
    T.MEMBERSHIP_HISTORY,
    T.GROUP_PROPERTY_HISTORY,
    T.GROUP_VERSIONS,
    T.CURRENT_GROUP_PROPERTIES,
    T.ATTRIBUTED_EVENTS,
    T.ATTRIBUTION_LEDGER,
)


def run(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    full_rebuild: bool = False,
    progress: Callable[[str], None] | None = None,
) -> StageResult:
    """Attribute the input batches not attributed yet (all of them when ``full_rebuild``).

    Inputs: silver events, assignments and property operations, and the derived property
    operations (CRM sync, dynamic properties). A batch that changed since it was attributed
    (ingest displaced a duplicate, a derived date was re-run on other input) makes the run a
    full rebuild, said in the notes.

    Counts: ``batches_new``; ``events_new`` and ``events_restated`` (events of earlier runs whose
    dates were rewritten); ``rows_written`` and ``rows_restated`` (attributed rows of those earlier
    events); ``dates_restated``; ``non_numeric_add`` (new ``$add`` ops left alone). The notes
    list the restated dates.
    """
    say = progress or log.info
    started = time.monotonic()
    path = config.paths.table
    silver = {name: tables.read(spark, path(name), schema) for name, schema, _ in INPUTS}
    inputs = {name: (silver[name], identity) for name, _, identity in INPUTS}
    present, done = store.collect_batches(spark, inputs, path(T.ATTRIBUTION_LEDGER))
    new = {name: sorted(set(present[name]) - set(done[name])) for name in silver}
    changed = [
        f"{name} {batch}"
        for name in silver
        for batch, described in sorted(done[name].items())
        if present[name].get(batch) != described
    ]
    # no ledger entry for anything attributed: a first run, or a ledger of an older layout
    first = not tables.exists(spark, path(T.ATTRIBUTED_EVENTS)) or not any(done.values())
    rebuild = full_rebuild or first or bool(changed)
    n_new = sum(len(b) for b in new.values())
    result = StageResult(stage="attribute", tables=[path(t) for t in OUTPUTS])
    if rebuild or n_new:
        say(f"[attribute] {'full rebuild' if rebuild else 'incremental'}: {n_new} new batches")
        result.counts, result.notes = _Run(spark, config, silver, new, rebuild).execute(say)
        if changed:
            shown = ", ".join(changed[:5]) + (
                f" and {len(changed) - 5} more" if len(changed) > 5 else ""
            )
            result.notes.append(f"batches changed since attributed (rebuilt): {shown}")
        attributed = present if rebuild else {n: {b: present[n][b] for b in new[n]} for n in new}
        store.write_ledger(spark, path(T.ATTRIBUTION_LEDGER), attributed, replace=rebuild)
    else:
        result.counts = {"batches_new": 0, "rows_written": 0, "rows_restated": 0}
        result.notes.append("nothing new to attribute")
    result.seconds = time.monotonic() - started
    return result


class _Run:
    """One run: which keys and dates it restates, and its writes."""

    def __init__(
        self,
        spark: SparkSession,
        config: ProjectConfig,
        silver: dict[str, DataFrame],
        new: dict[str, list[str]],
        rebuild: bool,
    ):
        self.spark, self.config, self.rebuild = spark, config, rebuild
        self.path = config.paths.table
        self.plan = ""  # the lookup plans write_attributed chose, for the notes
        self.events, self.assignments = silver[EVENTS], silver[ASSIGNMENTS]
        self.ops = silver[OPS].unionByName(silver[DERIVED])
        # batch ids are per table; derived ids name their origin and date, so the two op tables'
        # ids do not meet (if they did, an old batch would only be recomputed for nothing)
        self.new = {
            EVENTS: new[EVENTS],
            ASSIGNMENTS: new[ASSIGNMENTS],
            OPS: new[OPS] + new[DERIVED],
        }

    def execute(self, say: Callable[[str], None]) -> tuple[dict[str, int], list[str]]:
        counts = {"batches_new": sum(len(b) for b in self.new.values())}
        if self.rebuild or self.new[ASSIGNMENTS]:
            say("[attribute] membership history")
            self.write_membership()
        if self.rebuild or self.new[OPS]:
            say("[attribute] group property history, versions and current properties")
            counts["non_numeric_add"] = self.write_properties()
        dates = None if self.rebuild else store.collect_dates(self.affected_dates())
        say(f"[attribute] attributed events: {'all' if dates is None else len(dates)} dates")
        counts.update(self.write_attributed(dates))
        if dates is None:
            notes = ["full rebuild: every event date rewritten"]
        else:
            notes = [f"restated event dates: {store.dates_text(dates) or 'none'}"]
        if self.plan:
            notes.append(f"lookup plans: {self.plan}")
        return counts, notes

    def _is_new(self, table: str):
        return F.col(C.BATCH_ID).isin(*self.new[table])

    def affected_users(self) -> DataFrame:
        """(user, type) keys with new assignments, and the earliest new assignment's time."""
        new = self.assignments.filter(self._is_new(ASSIGNMENTS))
        return new.groupBy(*USER_KEY).agg(F.min(time_ms(C.ASSIGNED_AT)).alias("_since"))

    def affected_groups(self) -> DataFrame:
        """Groups with new property operations, and the earliest new operation's time."""
        new = self.ops.filter(self._is_new(OPS))
        return new.groupBy(*GROUP_KEY).agg(F.min(time_ms(C.OP_TIME)).alias("_since"))

    def write_membership(self) -> None:
        """Rewrite the membership history of the (user, type) keys with new assignments."""
        target = self.path(T.MEMBERSHIP_HISTORY)
        if self.rebuild:
            tables.overwrite(membership_history(self.assignments), target)
            return
        with store.persisted(self.affected_users().select(*USER_KEY)) as keys:
            assignments = self.assignments.join(keys, on=USER_KEY, how="left_semi")
            with store.persisted(membership_history(assignments)) as rows:
                store.replace_keys(
                    self.spark, target, MEMBERSHIP_HISTORY, rows, keys, [C.VALID_FROM]
                )

    def write_properties(self) -> int:
        """Rewrite history, versions and current properties of the groups with new operations.

        The recomputed history of those groups is their whole history, so versions and current
        properties are built from it (held in memory) without reading the tables back. Returns
        the number of new ``$add`` operations left alone on a non-numeric value, counted while
        writing.
        """
        if self.rebuild:
            return self._write_property_tables(self.ops, None)
        with store.persisted(self.affected_groups().select(*GROUP_KEY)) as keys:
            return self._write_property_tables(
                self.ops.join(keys, on=GROUP_KEY, how="left_semi"), keys
            )

    def _write_property_tables(self, ops: DataFrame, keys: DataFrame | None) -> int:
        def write(rows: DataFrame, name: str, schema: StructType, identity: list[str]) -> None:
            if keys is None:
                tables.overwrite(rows, self.path(name))
            else:
                store.replace_keys(self.spark, self.path(name), schema, rows, keys, identity)

        reported = Observation("non_numeric_add")
        flagged = F.col(NON_NUMERIC_ADD) & self._is_new(OPS)
        values = property_values(ops).observe(
            reported, F.coalesce(F.sum(flagged.cast("long")), F.lit(0)).alias("n")
        )
        with store.persisted(changes(values)) as history:
            write(
                history,
                T.GROUP_PROPERTY_HISTORY,
                GROUP_PROPERTY_HISTORY,
                [C.PROPERTY, C.VALID_FROM],
            )
            with store.persisted(group_versions(history)) as versions:
                write(versions, T.GROUP_VERSIONS, GROUP_VERSIONS, [C.VERSION])
                current = current_group_properties(versions)
                target = self.path(T.CURRENT_GROUP_PROPERTIES)
                if keys is None:
                    tables.overwrite(current, target)
                else:  # a group with a version always keeps one: nothing to delete
                    tables.merge_upsert(self.spark, current, target, GROUP_KEY)
        return int(reported.get["n"])

    def affected_dates(self) -> DataFrame:
        """Event dates whose attribution a new event or a new change can alter.

        A new event's date; for a new assignment at T, the dates of that user's events at or after
        T; for a new property operation at T, the dates of the events attributed to that group at
        or after T (an operation changes no membership, so the attributed table knows them).
        """
        dates = self.events.filter(self._is_new(EVENTS)).select(C.EVENT_DATE)
        if self.new[ASSIGNMENTS]:
            users = (
                self.affected_users()
                .filter(F.col(C.GROUP_TYPE).isin(*self.config.group_type_names))
                .groupBy(C.USER_KEY)
                .agg(F.min("_since").alias("_since"))
            )
            dates = dates.union(_at_or_after(self.events.join(users, on=C.USER_KEY, how="inner")))
        if self.new[OPS]:
            attributed = tables.read(self.spark, self.path(T.ATTRIBUTED_EVENTS), ATTRIBUTED_EVENTS)
            later = attributed.join(self.affected_groups(), on=GROUP_KEY, how="inner")
            dates = dates.union(_at_or_after(later))
        return dates

    def write_attributed(self, dates: list[dt.date] | None) -> dict[str, int]:
        """Attribute all events (``dates`` None) or those of ``dates``, and write them."""
        if dates is not None and not dates:
            return {"events_new": 0, "events_restated": 0, "rows_written": 0, "rows_restated": 0}
        events = self.events
        if dates is not None:
            events = events.filter(F.col(C.EVENT_DATE).isin(*dates))
        is_new = self._is_new(EVENTS)
        seen, written = Observation("events"), Observation("rows")
        events = events.observe(seen, *_count_new(is_new))
        membership = tables.read(self.spark, self.path(T.MEMBERSHIP_HISTORY), MEMBERSHIP_HISTORY)
        versions = tables.read(self.spark, self.path(T.GROUP_VERSIONS), GROUP_VERSIONS)
        limit = self.config.attribution.broadcast_history_rows
        small = {"membership": membership.count() <= limit, "versions": versions.count() <= limit}
        self.plan = ", ".join(f"{k} {'broadcast' if b else 'sort-merge'}" for k, b in small.items())
        rows = attribute_events(
            events,
            membership,
            versions,
            self.config.group_type_names,
            broadcast_membership=small["membership"],
            broadcast_versions=small["versions"],
        )
        rows = rows.observe(written, *_count_new(is_new))
        if not all(small.values()):
            # the sort-merge plan leaves rows spread by user or group over every shuffle
            # partition: gather each date in one task, for one file per date and write (every
            # later stage reads this table; hundreds of tiny files cost more to open than their
            # rows). The broadcast plan keeps the scan's partitions of date-partitioned silver
            # events, about one file per date already, so it needs no such shuffle.
            rows = rows.repartition(C.EVENT_DATE)
        target = self.path(T.ATTRIBUTED_EVENTS)
        if dates is None:
            store.overwrite_by_date(self.spark, rows, target)
        else:
            store.replace_dates(rows, target, dates)
        ev, out = seen.get, written.get
        return {
            "events_new": int(ev["new"]),
            "events_restated": int(ev["all"] - ev["new"]),
            "rows_written": int(out["all"]),
            "rows_restated": int(out["all"] - out["new"]),
            "dates_restated": len(dates or []),
        }


def _count_new(is_new):
    """Observed metrics: all rows, and rows of new batches."""
    return (
        F.count(F.lit(1)).alias("all"),
        F.coalesce(F.sum(is_new.cast("long")), F.lit(0)).alias("new"),
    )


def _at_or_after(rows: DataFrame) -> DataFrame:
    return rows.filter(time_ms(C.EVENT_TIME) >= F.col("_since")).select(C.EVENT_DATE)
