"""Classified records of one batch -> silver, quarantine, duplicates and reported tables.

Every raw record ends in exactly one place (docs/semantics.md "Bad input"): quarantined, duplicate,
or accepted. An accepted record is one row of ``SILVER_RECORDS`` and, by kind, rows of
``SILVER_EVENTS`` (partitioned by ``event_date``), ``SILVER_GROUP_ASSIGNMENTS`` (one per group
type assigned) and ``SILVER_GROUP_PROPERTY_OPS`` (one per group, operation and property); its
reported issues go to ``SILVER_REPORTED``. Each function selects the table's columns explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import ProjectConfig
from groupetl.ingest.shape import (
    KIND_EVENT,
    KIND_PROPERTY,
    STATUS_ACCEPTED,
    STATUS_DUPLICATE,
    STATUS_QUARANTINED,
    N,
)
from groupetl.schemas import (
    DUPLICATES,
    QUARANTINE,
    SILVER_EVENTS,
    SILVER_GROUP_ASSIGNMENTS,
    SILVER_GROUP_PROPERTY_OPS,
    SILVER_RECORDS,
    C,
    T,
)

ORIGIN_EVENT = "event"
ORIGIN_GROUP_IDENTIFY = "group_identify"


def _status(df: DataFrame, status: str) -> DataFrame:
    return df.filter(F.col(N.STATUS) == status)


def quarantine_rows(quarantined: DataFrame, unreadable: DataFrame | None = None) -> DataFrame:
    """QUARANTINE rows: reason, message, pointer and the raw record (or line); plus the
    ``unreadable`` files' rows when given (one per file, line 0, no raw text).

    In: the batch's quarantined records with their text (:func:`classify.with_raw`)."""
    rows = _status(quarantined, STATUS_QUARANTINED).select(*QUARANTINE.fieldNames())
    if unreadable is not None:
        rows = rows.unionByName(unreadable.select(*QUARANTINE.fieldNames()))
    return rows


def duplicate_rows(final: DataFrame, displaced: DataFrame) -> DataFrame:
    """DUPLICATES rows: this batch's duplicates and the accepted records it displaced."""
    new = _status(final, STATUS_DUPLICATE).select(*DUPLICATES.fieldNames())
    return new.unionByName(displaced.select(*DUPLICATES.fieldNames()))


def reported_rows(final: DataFrame) -> DataFrame:
    """REPORTED rows: one per issue of an accepted record."""
    accepted = _status(final, STATUS_ACCEPTED)
    exploded = accepted.select("*", F.explode(N.REPORTS).alias("_rep"))
    return exploded.select(
        C.RECORD_ID,
        F.col("_rep")[C.REASON].alias(C.REASON),
        F.col("_rep")[C.DETAIL].alias(C.DETAIL),
        C.SOURCE_FILE,
        C.LINE_NUMBER,
        C.RECORD_INDEX,
        C.BATCH_ID,
    )


def record_rows(final: DataFrame) -> DataFrame:
    """SILVER_RECORDS rows: every accepted record."""
    return _status(final, STATUS_ACCEPTED).select(*SILVER_RECORDS.fieldNames())


def event_rows(final: DataFrame) -> DataFrame:
    """SILVER_EVENTS rows: accepted activity events; the record id is the event id."""
    events = _status(final, STATUS_ACCEPTED).filter(F.col(C.RECORD_KIND) == KIND_EVENT)
    return events.select(
        F.col(C.RECORD_ID).alias(C.EVENT_ID),
        C.EVENT_TIME,
        F.to_date(C.EVENT_TIME).alias(C.EVENT_DATE),
        *SILVER_EVENTS.fieldNames()[3:],
    )


def assignment_rows(final: DataFrame) -> DataFrame:
    """SILVER_GROUP_ASSIGNMENTS rows: one per (accepted assigning record, group type)."""
    assigning = _status(final, STATUS_ACCEPTED).filter(F.col(N.ASSIGNS))
    exploded = assigning.select("*", F.explode(C.GROUPS).alias("_type", "_values"))
    return exploded.select(
        C.RECORD_ID,
        F.col(C.EVENT_TIME).alias(C.ASSIGNED_AT),
        C.USER_KEY,
        F.col("_type").alias(C.GROUP_TYPE),
        F.col("_values").alias(C.GROUP_VALUES),
        *SILVER_GROUP_ASSIGNMENTS.fieldNames()[5:],
    )


def op_rows(final: DataFrame) -> DataFrame:
    """SILVER_GROUP_PROPERTY_OPS rows: one per (accepted record, group, operation, property)."""
    exploded = _status(final, STATUS_ACCEPTED).select("*", F.explode(N.OPS).alias("_op"))
    origin = F.when(F.col(C.RECORD_KIND) == KIND_PROPERTY, F.lit(ORIGIN_GROUP_IDENTIFY)).otherwise(
        F.lit(ORIGIN_EVENT)
    )
    op = F.col("_op")
    return exploded.select(
        C.RECORD_ID,
        F.col(C.EVENT_TIME).alias(C.OP_TIME),
        *[
            op[c].alias(c)
            for c in (C.GROUP_TYPE, C.GROUP_VALUE, C.OPERATION, C.PROPERTY, C.VALUE_JSON)
        ],
        origin.alias(C.ORIGIN),
        *SILVER_GROUP_PROPERTY_OPS.fieldNames()[8:],
    )


def write_batch(
    spark: SparkSession,
    config: ProjectConfig,
    final: DataFrame,
    quarantined: DataFrame,
    displaced: DataFrame,
    counts: Mapping[str, int],
    unreadable: DataFrame | None = None,
) -> list[str]:
    """Write one batch's rows; skip tables with nothing to add. Return the tables written.

    ``final``: the batch's records with their status; ``quarantined``: its quarantined ones
    with their text (:func:`groupetl.ingest.classify.with_raw`); ``displaced``: accepted
    records of earlier batches that this batch's records displaced (DUPLICATES rows).

    ``unreadable``: ``QUARANTINE`` rows of the batch's unreadable files
    (:func:`groupetl.ingest.bronze.unreadable_files`), written in the same quarantine commit.

    ``counts`` (from :func:`groupetl.ingest.summary.batch_counts`) tells which writes are empty,
    so an empty table costs no Delta commit. The tables are independent and the batch is only
    finished by its ledger row written after all of them, so they are written concurrently (one
    Spark job and one Delta commit each): a small batch is dominated by commit latency.
    """
    p = config.paths
    plan: list[tuple[str, str, Callable[[], DataFrame], tuple[str, ...]]] = [
        ("quarantined", str(p.quarantine), lambda: quarantine_rows(quarantined, unreadable), ()),
        (
            "duplicates_total",
            p.table(T.SILVER_DUPLICATES),
            lambda: duplicate_rows(final, displaced),
            (),
        ),
        ("reported", p.table(T.SILVER_REPORTED), lambda: reported_rows(final), ()),
        ("accepted_total", p.table(T.SILVER_RECORDS), lambda: record_rows(final), ()),
        # one file per event date and batch (not one per date and task): healthy file sizes
        (
            "accepted_events",
            p.table(T.SILVER_EVENTS),
            lambda: event_rows(final).repartition(C.EVENT_DATE),
            (C.EVENT_DATE,),
        ),
        (
            "silver_group_assignment_rows",
            p.table(T.SILVER_GROUP_ASSIGNMENTS),
            lambda: assignment_rows(final),
            (),
        ),
        (
            "silver_group_property_op_rows",
            p.table(T.SILVER_GROUP_PROPERTY_OPS),
            lambda: op_rows(final),
            (),
        ),
    ]
    todo = [(path, rows, part) for key, path, rows, part in plan if counts.get(key, 0) > 0]
    if not todo:
        return []
    with ThreadPoolExecutor(
        max_workers=min(4, len(todo)), thread_name_prefix="ingest-write"
    ) as pool:
        futures = [pool.submit(tables.append, rows(), path, part) for path, rows, part in todo]
        for future in futures:
            future.result()  # re-raises the first failure; the batch is then not finished
    return [path for path, _, _ in todo]
