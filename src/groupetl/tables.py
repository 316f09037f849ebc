"""Delta Lake reads and writes: the only module that talks to storage.

Every write is one Delta commit, so a run killed mid-way leaves either the whole write or none of
it. Reads accept ``as_of_version`` / ``as_of_time`` for Delta time travel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql.types import StructType


def exists(spark: SparkSession, path: str) -> bool:
    """True when a Delta table lives at ``path``."""
    return DeltaTable.isDeltaTable(spark, path)


def ensure(
    spark: SparkSession, path: str, schema: StructType, partition_by: Sequence[str] = ()
) -> None:
    """Create an empty Delta table with ``schema`` at ``path`` unless one is there already."""
    if exists(spark, path):
        return
    writer = spark.createDataFrame([], schema).write.format("delta").mode("ignore")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)


def read(
    spark: SparkSession,
    path: str,
    schema: StructType | None = None,
    as_of_version: int | None = None,
    as_of_time: str | None = None,
) -> DataFrame:
    """Read the Delta table at ``path``, optionally as it was at a version or a timestamp.

    When ``schema`` is given and the table does not exist yet, an empty DataFrame of that schema
    is returned, so a first run needs no special case.
    """
    if schema is not None and not exists(spark, path):
        return spark.createDataFrame([], schema)
    reader = spark.read.format("delta")
    if as_of_version is not None:
        reader = reader.option("versionAsOf", as_of_version)
    if as_of_time is not None:
        reader = reader.option("timestampAsOf", as_of_time)
    df = reader.load(path)
    return df.select(*schema.fieldNames()) if schema is not None else df


def append(df: DataFrame, path: str, partition_by: Sequence[str] = ()) -> None:
    """Append ``df`` to the table at ``path`` (created on first write)."""
    writer = df.write.format("delta").mode("append")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)


def overwrite(df: DataFrame, path: str, partition_by: Sequence[str] = ()) -> None:
    """Replace the whole content of the table at ``path`` with ``df`` in one commit."""
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)


def replace_where(
    df: DataFrame, path: str, predicate: str, partition_by: Sequence[str] = ()
) -> None:
    """Atomically replace the rows matching ``predicate`` with ``df`` (Delta ``replaceWhere``).

    Every row of ``df`` must itself match ``predicate``; Delta checks this and fails otherwise.
    """
    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)


def merge_insert_new(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    keys: Sequence[str],
    partition_by: Sequence[str] = (),
) -> None:
    """Insert the rows of ``df`` whose ``keys`` are not in the table yet (idempotent append)."""
    if not exists(spark, path):
        append(df, path, partition_by)
        return
    condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(df.alias("s"), condition)
        .whenNotMatchedInsertAll()
        .execute()
    )


def merge_upsert(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    keys: Sequence[str],
    partition_by: Sequence[str] = (),
    update_set: Mapping[str, str | Column] | None = None,
) -> None:
    """Update rows matching on ``keys`` (all columns, or ``update_set``) and insert the others."""
    if not exists(spark, path):
        append(df, path, partition_by)
        return
    condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    builder = DeltaTable.forPath(spark, path).alias("t").merge(df.alias("s"), condition)
    builder = (
        builder.whenMatchedUpdate(set=dict(update_set))
        if update_set
        else builder.whenMatchedUpdateAll()
    )
    builder.whenNotMatchedInsertAll().execute()


def delete_where(spark: SparkSession, path: str, predicate: str | Column) -> None:
    """Delete the rows matching ``predicate`` from the table at ``path`` if it exists."""
    if exists(spark, path):
        DeltaTable.forPath(spark, path).delete(predicate)


def version(spark: SparkSession, path: str) -> int | None:
    """The table's latest Delta version, or None when there is no table."""
    if not exists(spark, path):
        return None
    row = DeltaTable.forPath(spark, path).history(1).select("version").first()
    return int(row[0]) if row else None
