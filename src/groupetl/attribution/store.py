"""The attribute stage's Delta writes and reads: keyed replacement, the ledger, time travel.

All storage goes through ``groupetl.tables`` except the keyed MERGE below, which needs a delete
clause that ``tables.merge_upsert`` does not offer.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from groupetl import tables
from groupetl.config import ProjectConfig
from groupetl.errors import InputError
from groupetl.schemas import (
    ATTRIBUTED_EVENTS,
    ATTRIBUTION_LEDGER,
    CURRENT_GROUP_PROPERTIES,
    GROUP_PROPERTY_HISTORY,
    GROUP_VERSIONS,
    MEMBERSHIP_HISTORY,
    C,
    T,
)


def replace_keys(
    spark: SparkSession,
    path: str,
    schema: StructType,
    rows: DataFrame,
    keys: DataFrame,
    identity: Sequence[str],
) -> None:
    """Make the table's rows of the given keys exactly ``rows``, in one Delta MERGE.

    ``keys`` holds the key columns (a user and type, or a group); a row is identified by them
    plus ``identity``. Rows of those keys that ``rows`` no longer has come into the MERGE flagged
    as stale and are deleted by it, so a reader never sees a half-replaced key. ``rows`` and
    ``keys`` are read more than once: pass them ``persisted``.
    """
    if not tables.exists(spark, path):
        tables.append(rows, path)
        return
    key_cols = list(keys.columns)
    ids = [*key_cols, *identity]
    current = tables.read(spark, path, schema).join(keys, on=key_cols, how="left_semi")
    stale = current.join(rows.select(*ids), on=ids, how="left_anti")
    source = rows.withColumn("_stale", F.lit(False)).unionByName(
        stale.withColumn("_stale", F.lit(True))
    )
    condition = " AND ".join(f"t.`{c}` = s.`{c}`" for c in ids)
    values = {c: f"s.`{c}`" for c in schema.fieldNames()}
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(source.alias("s"), condition)
        .whenMatchedDelete("s._stale")
        .whenMatchedUpdate(set=values)
        .whenNotMatchedInsert(values=values)
        .execute()
    )


@contextmanager
def persisted(df: DataFrame) -> Iterator[DataFrame]:
    """``df`` computed once for the block (memory, spilling to disk), released after it.

    For inputs that several writes of one run read (recomputed history rows, affected keys):
    a MERGE alone reads its source twice.
    """
    df = df.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        yield df
    finally:
        df.unpersist()


def overwrite_by_date(spark: SparkSession, rows: DataFrame, path: str) -> None:
    """Replace the whole ``event_date``-partitioned table at ``path`` with ``rows``.

    ``tables.overwrite`` cannot be used: the session runs dynamic partition overwrite, which
    would keep the dates ``rows`` does not have (and refuses ``overwriteSchema``).
    """
    if tables.exists(spark, path):
        tables.replace_where(rows, path, "true", [C.EVENT_DATE])
    else:
        tables.append(rows, path, [C.EVENT_DATE])


def replace_dates(rows: DataFrame, path: str, dates: Sequence[dt.date]) -> None:
    """Atomically replace the ``event_date`` partitions ``dates`` of ``path`` with ``rows``."""
    tables.replace_where(rows, path, dates_predicate(dates), [C.EVENT_DATE])


Batches = dict[str, dict[str, tuple[int, int]]]  # table -> batch id -> (rows, fingerprint)


def collect_batches(
    spark: SparkSession,
    inputs: Mapping[str, tuple[DataFrame, Sequence[str]]],
    ledger_path: str,
) -> tuple[Batches, Batches]:
    """(batches present now, batches as attributed before), in one Spark job.

    ``inputs``: table name -> (its DataFrame, the columns that identify a row). A batch is
    described by its row count and an order-free fingerprint (XOR of row hashes), so a batch whose
    rows changed since it was attributed can be told apart. One row per batch and table:
    metadata-sized, so collecting it is fine.
    """
    described = [C.SOURCE_TABLE, C.BATCH_ID, C.ROW_COUNT, C.FINGERPRINT]
    hashed = [
        df.select(
            F.lit(name).alias(C.SOURCE_TABLE), C.BATCH_ID, F.xxhash64(*identity).alias("_hash")
        )
        for name, (df, identity) in inputs.items()
    ]
    per_batch = functools.reduce(DataFrame.unionByName, hashed).groupBy(C.SOURCE_TABLE, C.BATCH_ID)
    listing = (
        per_batch.agg(F.count(F.lit(1)).alias(C.ROW_COUNT), F.bit_xor("_hash").alias(C.FINGERPRINT))
        .withColumn("_done", F.lit(False))
        .unionByName(read_ledger(spark, ledger_path).select(*described, F.lit(True).alias("_done")))
    )
    present: Batches = {name: {} for name in inputs}
    done: Batches = {name: {} for name in inputs}
    for table, batch, n, fingerprint, is_done in listing.collect():
        (done if is_done else present).setdefault(table, {})[batch] = (n, fingerprint)
    return present, done


def collect_dates(dates: DataFrame) -> list[dt.date]:
    """The distinct dates of a one-column DataFrame, sorted (at most one per day of data)."""
    return sorted(r[0] for r in dates.distinct().collect())


def read_ledger(spark: SparkSession, path: str) -> DataFrame:
    """The ledger; empty when missing or written by an older layout (the run then rebuilds)."""
    if tables.exists(spark, path):
        ledger = tables.read(spark, path)
        if set(ATTRIBUTION_LEDGER.fieldNames()) <= set(ledger.columns):
            return ledger.select(*ATTRIBUTION_LEDGER.fieldNames())
    return spark.createDataFrame([], ATTRIBUTION_LEDGER)


def write_ledger(spark: SparkSession, path: str, batches: Batches, replace: bool) -> None:
    """Record ``batches`` as attributed (``replace``: as the only ones)."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = [
        (name, batch, n, fingerprint, now)
        for name, ids in batches.items()
        for batch, (n, fingerprint) in sorted(ids.items())
    ]
    df = spark.createDataFrame(rows, ATTRIBUTION_LEDGER)
    if replace:
        tables.overwrite(df, path)
    elif rows:
        tables.append(df, path)


def date_ranges(dates: Sequence[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Sorted dates -> runs of consecutive days as (first, last)."""
    runs: list[tuple[dt.date, dt.date]] = []
    for d in dates:
        if runs and d == runs[-1][1] + dt.timedelta(days=1):
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs


def dates_predicate(dates: Sequence[dt.date]) -> str:
    """A SQL predicate on ``event_date`` that holds for exactly ``dates``."""
    col = C.EVENT_DATE
    return " OR ".join(
        f"({col} >= DATE'{a.isoformat()}' AND {col} <= DATE'{b.isoformat()}')"
        for a, b in date_ranges(dates)
    )


def dates_text(dates: Sequence[dt.date]) -> str:
    """``2024-01-02..2024-01-04, 2024-01-09`` for the run summary."""
    return ", ".join(a.isoformat() if a == b else f"{a}..{b}" for a, b in date_ranges(dates))


# --- reads, with Delta time travel --------------------------------------------------------------


def _read(
    spark: SparkSession,
    config: ProjectConfig,
    name: str,
    schema: StructType,
    as_of_version: int | None,
    as_of_time: str | None,
) -> DataFrame:
    if as_of_version is not None and as_of_time is not None:
        raise InputError("give either an as-of version or an as-of time, not both")
    path = config.paths.table(name)
    travel = as_of_version is not None or as_of_time is not None
    if travel and not tables.exists(spark, path):
        raise InputError(f"no table at {path} yet: nothing to read as of a version or time")
    return tables.read(spark, path, schema, as_of_version=as_of_version, as_of_time=as_of_time)


def read_attributed(
    spark: SparkSession,
    config: ProjectConfig,
    as_of_version: int | None = None,
    as_of_time: str | None = None,
) -> DataFrame:
    """``ATTRIBUTED_EVENTS`` now, or as of a Delta version or timestamp of that table."""
    return _read(spark, config, T.ATTRIBUTED_EVENTS, ATTRIBUTED_EVENTS, as_of_version, as_of_time)


def read_group_versions(
    spark: SparkSession,
    config: ProjectConfig,
    as_of_version: int | None = None,
    as_of_time: str | None = None,
) -> DataFrame:
    """``GROUP_VERSIONS`` now, or as of a Delta version or timestamp of that table."""
    return _read(spark, config, T.GROUP_VERSIONS, GROUP_VERSIONS, as_of_version, as_of_time)


def read_membership_history(
    spark: SparkSession,
    config: ProjectConfig,
    as_of_version: int | None = None,
    as_of_time: str | None = None,
) -> DataFrame:
    """``MEMBERSHIP_HISTORY`` now, or as of a Delta version or timestamp of that table."""
    schema = MEMBERSHIP_HISTORY
    return _read(spark, config, T.MEMBERSHIP_HISTORY, schema, as_of_version, as_of_time)


def read_property_history(
    spark: SparkSession,
    config: ProjectConfig,
    as_of_version: int | None = None,
    as_of_time: str | None = None,
) -> DataFrame:
    """``GROUP_PROPERTY_HISTORY`` now, or as of a Delta version or timestamp of that table."""
    schema = GROUP_PROPERTY_HISTORY
    return _read(spark, config, T.GROUP_PROPERTY_HISTORY, schema, as_of_version, as_of_time)


def read_current_group_properties(
    spark: SparkSession,
    config: ProjectConfig,
    as_of_version: int | None = None,
    as_of_time: str | None = None,
) -> DataFrame:
    """``CURRENT_GROUP_PROPERTIES`` now, or as of a Delta version or timestamp of that table."""
    schema = CURRENT_GROUP_PROPERTIES
    return _read(spark, config, T.CURRENT_GROUP_PROPERTIES, schema, as_of_version, as_of_time)
