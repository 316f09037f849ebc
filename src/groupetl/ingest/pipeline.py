"""The ingest stage: landing files -> bronze -> silver, quarantine, duplicates, reported.

``run`` (exported as ``groupetl.ingest.run``) is what the CLI's ``groupetl ingest`` and
``jobs/ingest.py`` call. One run:

1. recovers from an interrupted run (:mod:`groupetl.ingest.ledger`);
2. lists the landing folder, keeps the files not yet in bronze, writes them to bronze as one new
   batch and commits it (ledger row ``bronze``);
3. processes every batch not finished yet into silver: classify -> property limit -> dedup ->
   write -> ledger ``silver``/``done``;
4. checks the counts add up, writes the run log row and returns the summary.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import uuid
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import MAX_GROUP_PROPERTY_KEYS, ProjectConfig
from groupetl.crm import parse_crm
from groupetl.errors import InputError
from groupetl.ingest import ledger
from groupetl.ingest.bronze import read_batch_lines, unreadable_files, write_bronze_batch
from groupetl.ingest.classify import classify, with_raw
from groupetl.ingest.dedup import find_duplicates, with_status
from groupetl.ingest.landing import (
    batch_id_for,
    collect_ingested_files,
    list_landing,
    split_new,
)
from groupetl.ingest.limits import with_property_limit
from groupetl.ingest.shape import STATUS_QUARANTINED, N
from groupetl.ingest.silver import write_batch
from groupetl.ingest.summary import (
    ACCEPTED_KEYS,
    batch_counts,
    check_balance,
    merge_counts,
    with_unreadable_files,
    write_run_log,
)
from groupetl.schemas import DUPLICATES, SILVER_RECORDS, C, T
from groupetl.session import temporary_conf
from groupetl.stages import StageResult

log = logging.getLogger(__name__)

# Test hook: ``GROUPETL_TEST_CRASH_AFTER=bronze`` (or ``silver``) kills the process with SIGKILL
# right after that ledger commit, to prove a re-run recovers (tests/test_ingest_run.py).
CRASH_ENV = "GROUPETL_TEST_CRASH_AFTER"
Progress = Callable[[str], None]
CODEGEN_MAX_FIELDS = 10_000
PARSE_TASKS_PER_CORE = 4
# Up to this many duplicates (narrow rows: two ids, key, pointer) are broadcast to the writes.
BROADCAST_LOSERS = 500_000
# Up to this many quarantined records' pointers are broadcast to find their text in bronze.
BROADCAST_QUARANTINED = 500_000


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        log.warning("%s=%s: killing this process now", CRASH_ENV, name)
        os.kill(os.getpid(), signal.SIGKILL)


def _not_event_folders(config: ProjectConfig) -> list[Path]:
    """Landing sub-folders that hold no events: the CRM sync's account exports."""
    crm = parse_crm(config)
    return [crm.landing] if crm is not None else []


def _materialize(df: DataFrame) -> DataFrame:
    """Cache ``df``: it feeds several writes and counts, which must not recompute it."""
    return df.persist()


def _known_keys(spark: SparkSession, config: ProjectConfig) -> DataFrame:
    """The distinct group property keys of accepted ops so far (one column ``property``)."""
    path = config.paths.table(T.SILVER_GROUP_PROPERTY_OPS)
    if not tables.exists(spark, path):
        return spark.createDataFrame([], f"{C.PROPERTY} string")
    ops = tables.read(spark, path).select(C.PROPERTY)
    return ops.filter(F.col(C.PROPERTY).isNotNull()).distinct()


def _may_pass_key_limit(checked: DataFrame, known: DataFrame) -> bool:
    """Cheap pre-check: could the batch's keys take the project past the limit at all?"""
    batch_keys = checked.filter(F.col(C.REASON).isNull()).select(
        F.explode(N.OP_KEYS).alias(C.PROPERTY)
    )
    return batch_keys.unionByName(known).distinct().count() > MAX_GROUP_PROPERTY_KEYS


def _spread(spark: SparkSession, lines: DataFrame) -> DataFrame:
    """The batch's lines in :data:`PARSE_TASKS_PER_CORE` tasks per core, by a hash of their
    pointer: the parse's cost per line varies a lot (a file of group identify bodies with 50
    records of six operations each costs many times a file of single events), and bronze's
    files cannot be split finer than a file; shuffling the lines (text only) balances the parse.
    """
    tasks = PARSE_TASKS_PER_CORE * spark.sparkContext.defaultParallelism
    return lines.repartition(tasks, C.SOURCE_FILE, C.LINE_NUMBER)


def process_batch(spark: SparkSession, config: ProjectConfig, batch_id: str) -> dict[str, int]:
    """Classify, dedup and write one bronze batch into silver; return its counts."""
    known = _known_keys(spark, config)
    # unreadable landing files: one quarantined record each, written with the batch's quarantine
    unreadable, unreadable_count = unreadable_files(spark, config, batch_id)
    lines = read_batch_lines(spark, config, batch_id)
    checked = _materialize(classify(_spread(spark, lines), config))
    cached = [checked]
    try:
        limited = checked
        if _may_pass_key_limit(checked, known):
            limited = _materialize(with_property_limit(checked, known))
            cached.append(limited)
        accepted = tables.read(spark, config.paths.table(T.SILVER_RECORDS), SILVER_RECORDS)
        # The losers (a few narrow columns) are cached, not a second copy of the batch: every
        # write reads the cached records joined with them, and the dedup window runs once.
        losers = _materialize(find_duplicates(limited.filter(F.col(C.REASON).isNull()), accepted))
        cached.append(losers)
        # counted first, so the writes' joins know its size (broadcast, no shuffle of the batch)
        final = with_status(limited, losers, broadcast=losers.count() <= BROADCAST_LOSERS)
        displaced = losers.filter(~F.col(N.NEW)).withColumn(C.BATCH_ID, F.lit(batch_id))
        counts = with_unreadable_files(batch_counts(final, displaced), unreadable_count)
        check_balance(counts, f"batch {batch_id}")
        write_counts = {
            **counts,
            "duplicates_total": counts["duplicates"] + counts["moved_to_duplicates"],
            "accepted_total": sum(counts[k] for k in ACCEPTED_KEYS.values()),
        }
        quarantined = with_raw(
            final.filter(F.col(N.STATUS) == STATUS_QUARANTINED),
            lines,
            broadcast=counts["quarantined"] <= BROADCAST_QUARANTINED,
        )
        write_batch(
            spark,
            config,
            final,
            quarantined,
            displaced.select(*DUPLICATES.fieldNames()),
            write_counts,
            unreadable,
        )
    finally:
        for df in reversed(cached):
            df.unpersist()
    if counts["moved_to_duplicates"]:
        ledger.mark(spark, config, batch_id, ledger.SILVER)
        _crash_point("silver")
        ledger.apply_displacement(spark, config, batch_id)
    ledger.mark(spark, config, batch_id, ledger.DONE)
    return counts


def _bronze_new_files(
    spark: SparkSession,
    config: ProjectConfig,
    states: dict[str, ledger.BatchState],
    ingested: dict[str, tuple[int, int, str]],
    batch_id: str | None,
    say: Progress,
) -> tuple[str | None, dict[str, int]]:
    """Write the landing files not yet in bronze as one batch; return (batch id, counts)."""
    files = list_landing(config.paths.landing, skip=_not_event_folders(config))
    new, changed = split_new(files, ingested)
    counts = {
        "files_read": len(new),
        "files_changed_skipped": len(changed),
        "files_unreadable": 0,
        "lines_read": 0,
    }
    say(
        f"[ingest] {len(files)} landing files: {len(new)} new, {len(files) - len(new)} already in bronze"
    )
    if not new:
        return None, counts
    bid = batch_id or batch_id_for(new)
    if bid in states:
        raise InputError(f"batch id {bid!r} is already in the ingest ledger; choose another")
    ingested_at = dt.datetime.now(dt.timezone.utc)
    bronze = write_bronze_batch(spark, config, new, bid, ingested_at)
    counts["lines_read"] = bronze.lines
    counts["files_unreadable"] = len(bronze.unreadable)
    ledger.mark(spark, config, bid, ledger.BRONZE)
    states[bid] = ledger.BatchState(bid, ledger.BRONZE, ingested_at)
    unreadable = f" ({len(bronze.unreadable)} unreadable, quarantined)" if bronze.unreadable else ""
    say(
        f"[ingest] batch {bid}: {len(new)} files{unreadable}, {counts['lines_read']:,} lines "
        "in bronze"
    )
    _crash_point("bronze")
    return bid, counts


def _ingest(
    spark: SparkSession, config: ProjectConfig, batch_id: str | None, say: Progress
) -> StageResult:
    states = ledger.collect_batch_states(spark, config)
    ingested = collect_ingested_files(spark, config.paths.table(T.BRONZE_FILES))
    bronze_batches = {batch for _, _, batch in ingested.values()}
    orphans = ledger.remove_interrupted_bronze(spark, config, states, bronze_batches)
    ingested = {k: v for k, v in ingested.items() if v[2] not in orphans}
    notes = [f"batch {b}: interrupted before its bronze commit, read again" for b in orphans]
    fresh, file_counts = _bronze_new_files(spark, config, states, ingested, batch_id, say)
    parts = [file_counts]
    pending = sorted(
        (s for s in states.values() if s.phase != ledger.DONE),
        key=lambda s: (s.bronze_at, s.batch_id),
    )
    for state in pending:
        if state.phase == ledger.SILVER:
            ledger.apply_displacement(spark, config, state.batch_id)
            ledger.mark(spark, config, state.batch_id, ledger.DONE)
            notes.append(f"batch {state.batch_id}: interrupted after silver, finished")
            continue
        if state.batch_id != fresh:
            ledger.remove_partial_silver(spark, config, state.batch_id)
            notes.append(f"batch {state.batch_id}: interrupted before silver, processed again")
        counts = process_batch(spark, config, state.batch_id)
        say(f"[ingest] batch {state.batch_id}: {counts['records_read']:,} records into silver")
        parts.append(counts)
    parts.append({"batches": sum(1 for s in pending if s.phase == ledger.BRONZE)})
    counts = merge_counts(parts)
    check_balance(counts, "the run")
    if counts.get("files_changed_skipped"):
        notes.append(
            f"{counts['files_changed_skipped']} changed files skipped: already ingested under the same name (see the log)"
        )
    return StageResult(
        stage="ingest", counts=counts, tables=ledger.batch_tables(config), notes=notes
    )


def ingest_confs(spark: SparkSession) -> dict[str, str]:
    """Session settings for the ingest stage only (docs/architecture.md "Ingest")."""
    cores = spark.sparkContext.defaultParallelism
    return {
        # A record row has a few hundred nested fields (the parsed line, the record struct):
        # above the default 100, Spark leaves every projection out of whole-stage code
        # generation, and each of classify's projections then copies the whole row.
        "spark.sql.codegen.maxFields": str(CODEGEN_MAX_FIELDS),
        # The parse reads bronze in this many splits at least (Spark's default: one per core):
        # per-line cost varies a lot (identify bodies, long lists), and with one task per core
        # the slowest task decides the stage's time.
        "spark.sql.files.minPartitionNum": str(PARSE_TASKS_PER_CORE * cores),
    }


def run(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    batch_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> StageResult:
    """Ingest the project's landing folder; return the counts (and write them to the run log).

    ``batch_id`` names the new bronze batch (default: derived from its files). ``progress``
    receives human-readable progress lines (default: the logger).
    """
    say = progress or log.info
    started = dt.datetime.now(dt.timezone.utc)
    run_id = uuid.uuid4().hex
    # A JSON object repeating a key is read as its last value (like JSON.parse), not as null.
    spark.conf.set("spark.sql.variant.allowDuplicateKeys", "true")
    try:
        with temporary_conf(spark, ingest_confs(spark)):
            result = _ingest(spark, config, batch_id, say)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"[:4000]
        try:
            write_run_log(
                spark,
                config,
                run_id=run_id,
                started_at=started,
                status="failed",
                counts=None,
                message=message,
            )
        except Exception:  # the original error matters more than the log row
            log.exception("could not write the failed run's log row")
        raise
    write_run_log(
        spark,
        config,
        run_id=run_id,
        started_at=started,
        status="succeeded",
        counts=result.counts,
        message="; ".join(result.notes) or None,
    )
    return result
