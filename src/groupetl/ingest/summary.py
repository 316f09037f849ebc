"""Counts of an ingest run, taken from the DataFrames written, and the run log row.

One aggregation over a batch's classified records (cached, so it is not recomputed) gives every
count; the writes then skip empty tables. The counts must add up (docs/semantics.md "Bad input"):
``records_read == accepted (all kinds) + duplicates + quarantined``, checked for every batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import ProjectConfig
from groupetl.errors import StageError
from groupetl.ingest.shape import (
    KIND_ASSIGNMENT,
    KIND_EVENT,
    KIND_PROPERTY,
    STATUS_ACCEPTED,
    STATUS_DUPLICATE,
    STATUS_QUARANTINED,
    N,
)
from groupetl.reasons import Quarantine as Q
from groupetl.reasons import Reported as R
from groupetl.schemas import RUN_LOG, C, T

ACCEPTED_KEYS = {
    KIND_EVENT: "accepted_events",
    KIND_ASSIGNMENT: "accepted_group_assignments",
    KIND_PROPERTY: "accepted_group_property_records",
}
# The order counts are printed in; reason counts follow their totals.
ORDER = (
    "batches",
    "files_read",
    "files_changed_skipped",
    "files_unreadable",
    "lines_read",
    "records_read",
    *ACCEPTED_KEYS.values(),
    "duplicates",
    "moved_to_duplicates",
    "quarantined",
    *[f"quarantined_{r}" for r in Q.ALL],
    "reported",
    *[f"reported_{r}" for r in R.ALL],
    "silver_event_rows",
    "silver_group_assignment_rows",
    "silver_group_property_op_rows",
)
_ALWAYS = {
    "files_read",
    "lines_read",
    "records_read",
    *ACCEPTED_KEYS.values(),
    "duplicates",
    "quarantined",
}


def _sum_if(cond: Column, value: Column | None = None) -> Column:
    v = value if value is not None else F.lit(1)
    return F.sum(F.when(cond, v).otherwise(F.lit(0))).cast("long")


def _reports_of(reason: str) -> Column:
    # a named one-argument function: F.filter takes a two-argument lambda as (element, index)
    def same(x: Column) -> Column:
        return x[C.REASON] == reason

    return F.size(F.filter(N.REPORTS, same))


def batch_counts(final: DataFrame, displaced: DataFrame) -> dict[str, int]:
    """Every count of one batch, in one Spark job: one pass over its classified records
    (``_status`` set) and one over the accepted records it displaced (``moved_to_duplicates``).
    """
    status, kind = F.col(N.STATUS), F.col(C.RECORD_KIND)
    accepted = status == STATUS_ACCEPTED
    aggs = [F.count(F.lit(1)).alias("records_read")]
    aggs += [_sum_if(accepted & (kind == k)).alias(name) for k, name in ACCEPTED_KEYS.items()]
    aggs += [
        _sum_if(status == STATUS_DUPLICATE).alias("duplicates"),
        _sum_if(status == STATUS_QUARANTINED).alias("quarantined"),
        _sum_if(accepted, F.size(N.REPORTS)).alias("reported"),
        _sum_if(accepted & (kind == KIND_EVENT)).alias("silver_event_rows"),
        _sum_if(accepted & F.col(N.ASSIGNS), F.size(C.GROUPS)).alias(
            "silver_group_assignment_rows"
        ),
        _sum_if(accepted, F.size(N.OPS)).alias("silver_group_property_op_rows"),
    ]
    aggs += [
        _sum_if((status == STATUS_QUARANTINED) & (F.col(C.REASON) == r)).alias(f"quarantined_{r}")
        for r in Q.ALL
    ]
    aggs += [_sum_if(accepted, _reports_of(r)).alias(f"reported_{r}") for r in R.ALL]
    moved = displaced.agg(F.count(F.lit(1)).alias("moved_to_duplicates"))
    row = final.agg(*aggs).crossJoin(moved).first()
    return {k: int(v or 0) for k, v in row.asDict().items()}


def with_quarantined(counts: Mapping[str, int], reason: str, records: int) -> dict[str, int]:
    """``counts`` plus ``records`` read and quarantined outside the parse, for ``reason``."""
    out = dict(counts)
    for key in ("records_read", "quarantined", f"quarantined_{reason}"):
        out[key] = out.get(key, 0) + records
    return out


def with_unreadable_files(counts: Mapping[str, int], files: int) -> dict[str, int]:
    """``counts`` plus the batch's unreadable files, each ONE quarantined record (its whole file)."""
    return with_quarantined(counts, Q.UNREADABLE_FILE, files)


def check_balance(counts: Mapping[str, int], where: str) -> None:
    """Raise ``StageError`` unless every record is counted in exactly one place."""
    accepted = sum(counts.get(k, 0) for k in ACCEPTED_KEYS.values())
    placed = accepted + counts.get("duplicates", 0) + counts.get("quarantined", 0)
    by_reason = sum(counts.get(f"quarantined_{r}", 0) for r in Q.ALL)
    if placed != counts.get("records_read", 0) or by_reason != counts.get("quarantined", 0):
        raise StageError(
            f"ingest counts do not add up for {where}: records_read={counts.get('records_read')} "
            f"but accepted {accepted} + duplicates {counts.get('duplicates')} + quarantined "
            f"{counts.get('quarantined')} = {placed} (quarantined by reason: {by_reason})"
        )


def merge_counts(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Sum counts of several batches and order them for printing; zero reason counts dropped."""
    total: dict[str, int] = {}
    for part in parts:
        for k, v in part.items():
            total[k] = total.get(k, 0) + int(v)
    ordered = {k: total.get(k, 0) for k in ORDER if k in _ALWAYS or total.get(k, 0)}
    return ordered


def write_run_log(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    run_id: str,
    started_at: dt.datetime,
    status: str,
    counts: Mapping[str, int] | None,
    message: str | None,
) -> None:
    """Append the run's row to ``T.RUN_LOG`` (stage ``ingest``; no logical date)."""
    finished = dt.datetime.now(dt.timezone.utc)
    row = (run_id, "ingest", None, started_at, finished, status, dict(counts or {}), message)
    tables.append(spark.createDataFrame([row], RUN_LOG), config.paths.table(T.RUN_LOG))
