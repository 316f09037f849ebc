"""The ingest batch ledger and crash recovery: every batch ends finished whatever was killed.

A batch moves through phases, each recorded by one row in ``T.INGEST_BATCHES`` written LAST:

- ``bronze``: its files and lines are in bronze (the bronze commit);
- ``silver``: its own rows are in silver, quarantine, duplicates and reported (only written when
  it displaced older records, see :mod:`groupetl.ingest.dedup`);
- ``done``: the records it displaced are moved out of the accepted tables too.

Recovery at the start of every run, so a run killed at any point (even SIGKILL) and run again
leaves the tables as a clean run would:

- files in ``BRONZE_FILES`` of a batch with no ledger row: bronze was interrupted (bronze writes a
  batch's ``BRONZE_FILES`` rows first, then its lines, then the rows again with their counts:
  :mod:`groupetl.ingest.bronze`); the batch's bronze rows are deleted and its files are read
  again as new (an unreadable file too: it is detected and quarantined again);
- a ``bronze`` batch without ``silver``/``done``: any partial rows it left (every silver row
  carries its batch id) are deleted, then it is processed again;
- a ``silver`` batch without ``done``: the displacement is applied again (idempotent).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import ProjectConfig
from groupetl.schemas import DUPLICATES, INGEST_BATCHES, C, T

log = logging.getLogger(__name__)

BRONZE, SILVER, DONE = "bronze", "silver", "done"
_PHASES = (BRONZE, SILVER, DONE)


@dataclass(frozen=True)
class BatchState:
    """Where a batch stands: its furthest phase and when its bronze was committed."""

    batch_id: str
    phase: str
    bronze_at: dt.datetime


def batch_tables(config: ProjectConfig) -> list[str]:
    """Every table the silver phase writes rows with a ``batch_id`` into."""
    return [
        str(config.paths.quarantine),
        config.paths.table(T.SILVER_DUPLICATES),
        config.paths.table(T.SILVER_REPORTED),
        config.paths.table(T.SILVER_RECORDS),
        config.paths.table(T.SILVER_EVENTS),
        config.paths.table(T.SILVER_GROUP_ASSIGNMENTS),
        config.paths.table(T.SILVER_GROUP_PROPERTY_OPS),
    ]


def collect_batch_states(spark: SparkSession, config: ProjectConfig) -> dict[str, BatchState]:
    """Batch id -> state, from the ledger (collected: a few rows per batch)."""
    rows = tables.read(spark, config.paths.table(T.INGEST_BATCHES), INGEST_BATCHES).collect()
    states: dict[str, BatchState] = {}
    for r in sorted(rows, key=lambda r: _PHASES.index(r[C.STATUS])):
        prev = states.get(r[C.BATCH_ID])
        bronze_at = prev.bronze_at if prev else r[C.FINISHED_AT]
        states[r[C.BATCH_ID]] = BatchState(r[C.BATCH_ID], r[C.STATUS], bronze_at)
    return states


def mark(spark: SparkSession, config: ProjectConfig, batch_id: str, phase: str) -> None:
    """Append the ledger row saying ``batch_id`` reached ``phase``."""
    now = dt.datetime.now(dt.timezone.utc)
    row = spark.createDataFrame([(batch_id, phase, now)], INGEST_BATCHES)
    tables.append(row, config.paths.table(T.INGEST_BATCHES))


def remove_interrupted_bronze(
    spark: SparkSession,
    config: ProjectConfig,
    states: dict[str, BatchState],
    bronze_batches: set[str],
) -> list[str]:
    """Delete bronze rows of batches whose bronze commit never happened; return their ids.

    ``bronze_batches``: the batch ids found in ``BRONZE_FILES``.
    """
    orphans = sorted(bronze_batches - set(states))
    for batch_id in orphans:
        log.warning(
            "batch %s was interrupted before its bronze commit: reading its files again", batch_id
        )
        # records first: the files rows are what marks the batch as started
        tables.delete_where(
            spark, config.paths.table(T.BRONZE_RECORDS), F.col(C.BATCH_ID) == batch_id
        )
        tables.delete_where(
            spark, config.paths.table(T.BRONZE_FILES), F.col(C.BATCH_ID) == batch_id
        )
    return orphans


def remove_partial_silver(spark: SparkSession, config: ProjectConfig, batch_id: str) -> None:
    """Delete every row a batch interrupted in its silver phase may have written."""
    for path in batch_tables(config):
        tables.delete_where(spark, path, F.col(C.BATCH_ID) == batch_id)


def apply_displacement(spark: SparkSession, config: ProjectConfig, batch_id: str) -> None:
    """Move the accepted records displaced by ``batch_id`` out of the accepted tables.

    Derived from the tables alone, so it can be re-run after a crash: every record in the
    batch's duplicates rows must not be accepted (deleted from records, events, assignments, ops
    and reported), and older duplicates that pointed to it now point to its winner.
    """
    dups_path = config.paths.table(T.SILVER_DUPLICATES)
    moved = (
        tables.read(spark, dups_path, DUPLICATES)
        .filter(F.col(C.BATCH_ID) == batch_id)
        .select(C.RECORD_ID, C.KEPT_RECORD_ID)
        .persist()
    )
    try:
        _repoint_duplicates(spark, dups_path, moved)
        for path, key in (
            (config.paths.table(T.SILVER_EVENTS), C.EVENT_ID),
            (config.paths.table(T.SILVER_GROUP_ASSIGNMENTS), C.RECORD_ID),
            (config.paths.table(T.SILVER_GROUP_PROPERTY_OPS), C.RECORD_ID),
            (config.paths.table(T.SILVER_REPORTED), C.RECORD_ID),
            (config.paths.table(T.SILVER_RECORDS), C.RECORD_ID),  # last: the dedup lookup
        ):
            _delete_matching(spark, path, key, moved)
    finally:
        moved.unpersist()


def _repoint_duplicates(spark: SparkSession, path: str, moved: DataFrame) -> None:
    if not tables.exists(spark, path):
        return
    source = moved.select(
        F.col(C.RECORD_ID).alias("_moved"), F.col(C.KEPT_RECORD_ID).alias("_winner")
    )
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(source.alias("s"), f"t.{C.KEPT_RECORD_ID} = s._moved")
        .whenMatchedUpdate(set={C.KEPT_RECORD_ID: "s._winner"})
        .execute()
    )


def _delete_matching(spark: SparkSession, path: str, key: str, moved: DataFrame) -> None:
    if not tables.exists(spark, path):
        return
    source = moved.select(F.col(C.RECORD_ID).alias("_moved")).distinct()
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(source.alias("s"), f"t.`{key}` = s._moved")
        .whenMatchedDelete()
        .execute()
    )
