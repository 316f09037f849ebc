"""Landing files -> bronze: one row per non-blank raw line, untouched, plus the file ledger.

Reading: each file is read by Spark as ONE text value (``wholetext``; ``.gz`` is decompressed by
Hadoop's codec) and split into lines with ``posexplode``, which numbers lines reliably (1-based)
whatever the partitioning. The limit: a whole decompressed file must fit in one Spark row (Java
strings stop at 2 GB; keep files under a few hundred MB). Blank lines hold no record and are not
stored; a trailing ``\\r`` (CRLF files) is not part of the line.

Writes, in this order, so that a crash at any point is recoverable (:mod:`groupetl.ingest.ledger`):
``BRONZE_FILES`` rows, then ``BRONZE_RECORDS`` rows, then the batch's ``bronze`` ledger row. A
batch with files but no ledger row was interrupted: its bronze rows are deleted and its files
are read again by the next run.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import ProjectConfig
from groupetl.ingest.landing import NewFile
from groupetl.schemas import BRONZE_FILES, BRONZE_RECORDS, C, T

FILES_PER_READ = 200  # files unioned into one Spark read; bounds the plan size
_GLOB = re.compile(r"([\\\[\]{}*?])")


def arrival_time(mtime_ms: int) -> dt.datetime:
    """A file's modification time (epoch ms) as a UTC datetime."""
    return dt.datetime.fromtimestamp(mtime_ms / 1000, tz=dt.timezone.utc)


def _escape_glob(path: str) -> str:
    """Spark treats ``[]{}*?`` in a path as a glob; a landing file name is literal."""
    return _GLOB.sub(r"\\\1", path)


def read_lines(
    spark: SparkSession, files: list[NewFile], batch_id: str, ingested_at: dt.datetime
) -> DataFrame:
    """The non-blank lines of ``files`` as ``BRONZE_RECORDS`` rows (lazy: nothing read yet)."""
    parts = []
    for n in files:
        text = spark.read.text(_escape_glob(str(n.file.path)), wholetext=True)
        parts.append(
            text.select(
                F.lit(n.file.relative).alias(C.SOURCE_FILE),
                F.lit(n.file_format).alias(C.FILE_FORMAT),
                F.lit(arrival_time(n.file.mtime_ms)).alias(C.ARRIVAL_TIME),
                F.posexplode(F.split(F.col("value"), "\n")).alias("_pos", "_line"),
            )
        )
    lines = reduce(DataFrame.unionByName, parts)
    line = F.regexp_replace(F.col("_line"), "\r$", "")
    return lines.filter(F.trim(line) != "").select(
        F.lit(batch_id).alias(C.BATCH_ID),
        F.lit(ingested_at).alias(C.INGESTED_AT),
        C.SOURCE_FILE,
        C.FILE_FORMAT,
        C.ARRIVAL_TIME,
        (F.col("_pos") + 1).cast("long").alias(C.LINE_NUMBER),
        line.alias(C.RAW),
    )


def write_bronze(
    spark: SparkSession,
    config: ProjectConfig,
    files: list[NewFile],
    batch_id: str,
    ingested_at: dt.datetime,
) -> int:
    """Write the files' lines and their ledger rows to bronze; return the number of lines."""
    total = 0
    for start in range(0, len(files), FILES_PER_READ):
        chunk = files[start : start + FILES_PER_READ]
        lines = read_lines(spark, chunk, batch_id, ingested_at).persist()
        try:
            per_file = {
                r[C.SOURCE_FILE]: int(r["n"])
                for r in lines.groupBy(C.SOURCE_FILE).agg(F.count(F.lit(1)).alias("n")).collect()
            }
            ledger = [
                (
                    n.file.relative,
                    n.file_format,
                    n.file.size,
                    arrival_time(n.file.mtime_ms),
                    batch_id,
                    ingested_at,
                    per_file.get(n.file.relative, 0),
                )
                for n in chunk
            ]
            tables.append(
                spark.createDataFrame(ledger, BRONZE_FILES), config.paths.table(T.BRONZE_FILES)
            )
            if sum(per_file.values()):
                tables.append(
                    lines.select(*BRONZE_RECORDS.fieldNames()), config.paths.table(T.BRONZE_RECORDS)
                )
        finally:
            lines.unpersist()
        total += sum(per_file.values())
    return total


def read_batch_lines(spark: SparkSession, config: ProjectConfig, batch_id: str) -> DataFrame:
    """The bronze lines of one batch."""
    path = config.paths.table(T.BRONZE_RECORDS)
    return tables.read(spark, path, BRONZE_RECORDS).filter(F.col(C.BATCH_ID) == batch_id)
