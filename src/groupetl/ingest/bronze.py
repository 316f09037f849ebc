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

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import ProjectConfig
from groupetl.errors import StageError
from groupetl.ingest.landing import NewFile
from groupetl.schemas import BRONZE_FILES, BRONZE_RECORDS, C, T

# Files read by one Spark scan (one bronze commit each): bounds what one read caches. One scan
# over many files is packed into a few tasks; a scan per file costs driver planning per file.
FILES_PER_READ = 20_000
BYTES_PER_READ = 1 << 30  # on-disk bytes (a .gz file decompresses to several times this)
_GLOB = re.compile(r"([\\\[\]{}*?])")


def arrival_time(mtime_ms: int) -> dt.datetime:
    """A file's modification time (epoch ms) as a UTC datetime."""
    return dt.datetime.fromtimestamp(mtime_ms / 1000, tz=dt.timezone.utc)


def _escape_glob(path: str) -> str:
    """Spark treats ``[]{}*?`` in a path as a glob; a landing file name is literal."""
    return _GLOB.sub(r"\\\1", path)


def _scan_key(spark: SparkSession, path: str) -> str:
    """The path as Spark's ``_metadata.file_path`` spells it, without the scheme.

    Spark reports a file as its Hadoop ``Path`` URI (``#`` -> ``%23``, space -> ``%20``, ...);
    asking Hadoop for the same conversion keeps every file name literal.
    """
    return str(spark._jvm.org.apache.hadoop.fs.Path(path).toUri().toString())


def read_lines(
    spark: SparkSession, files: list[NewFile], batch_id: str, ingested_at: dt.datetime
) -> DataFrame:
    """The non-blank lines of ``files`` as ``BRONZE_RECORDS`` rows (lazy: nothing read yet).

    One scan over all the files; each row's file is found from ``_metadata.file_path``. A line
    whose file is not found (it cannot happen unless Spark changes its path spelling) keeps a
    null ``source_file``, which :func:`write_bronze` refuses.
    """
    info = spark.createDataFrame(
        [
            (
                _scan_key(spark, str(n.file.path)),
                n.file.relative,
                n.file_format,
                arrival_time(n.file.mtime_ms),
            )
            for n in files
        ],
        f"_key string, {C.SOURCE_FILE} string, {C.FILE_FORMAT} string, {C.ARRIVAL_TIME} timestamp",
    )
    paths = [_escape_glob(str(n.file.path)) for n in files]
    text = spark.read.text(paths, wholetext=True).select(
        F.regexp_replace(F.col("_metadata.file_path"), "^[a-zA-Z][a-zA-Z0-9+.-]*:(//)?", "").alias(
            "_key"
        ),
        F.posexplode(F.split(F.col("value"), "\n")).alias("_pos", "_line"),
    )
    lines = text.join(F.broadcast(info), on="_key", how="left")
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


def _chunks(files: list[NewFile]) -> list[list[NewFile]]:
    """Consecutive groups of at most FILES_PER_READ files and (about) BYTES_PER_READ bytes."""
    out: list[list[NewFile]] = []
    size = 0
    for n in files:
        if not out or len(out[-1]) >= FILES_PER_READ or size + n.file.size > BYTES_PER_READ:
            out.append([])
            size = 0
        out[-1].append(n)
        size += n.file.size
    return out


def write_bronze(
    spark: SparkSession,
    config: ProjectConfig,
    files: list[NewFile],
    batch_id: str,
    ingested_at: dt.datetime,
) -> int:
    """Write the files' lines and their ledger rows to bronze; return the number of lines."""
    total = 0
    for chunk in _chunks(files):
        lines = read_lines(spark, chunk, batch_id, ingested_at).persist()
        try:
            per_file = {
                r[C.SOURCE_FILE]: int(r["n"])
                for r in lines.groupBy(C.SOURCE_FILE).agg(F.count(F.lit(1)).alias("n")).collect()
            }
            if None in per_file:
                raise StageError(
                    f"bronze: {per_file[None]} lines could not be matched to their landing "
                    "file (Spark reported a path that is not in the listing)"
                )
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
