"""Landing files -> bronze: one row per non-blank raw line, untouched, plus the file ledger.

Reading: Spark's line reader (``spark.read.option("lineSep", "\\n").text``; ``.gz`` is
decompressed by Hadoop's codec) streams every file, so a file of any size works (no file is ever
one value). A line is split on ``\\n`` only; a trailing ``\\r`` (CRLF files) is not part of the
line; a UTF-8 byte order mark is kept in the first line's raw text. Blank (or space-only) lines
hold no record and are not stored, but they count in line numbers (1-based).

Line numbers, exactly and in one pass (docs/architecture.md "Bronze: exact line numbers"): for the
duration of the bronze read and write, the session's split settings make every file ONE scan
split and every scan partition ONE file (:data:`_ONE_FILE_PER_PARTITION`; Spark's
``FilePartition.maxSplitBytes`` / ``getFilePartitions``). A task then reads exactly one file from
its first byte, and ``monotonically_increasing_id() - (spark_partition_id() << 33)``, computed
in a projection directly over the scan (before any filter), is the line's 0-based position in
its file: no shuffle, no sort, no Python per row. Before writing, the scan's partition count is
checked against the number of non-empty files, so a Spark that planned otherwise fails loudly
instead of numbering lines wrongly.

Unreadable files (a truncated or corrupt gzip, an empty or non-gzip ``.gz``, a file that cannot
be opened) never stop a batch. ``.gz`` files are checked on the driver first (gzip magic bytes);
if the bronze write still fails reading a file (Spark's ``FAILED_READ_FILE`` names it), that file
is set aside and the write runs again without it (a failed Delta write commits nothing). Policy:
none of an unreadable file's lines load; the file is recorded in ``BRONZE_FILES`` with ``lines``
0 and its ``error`` (so it is not read again), and the silver phase quarantines it as ONE record
(reason ``unreadable_file``, line 0, the error as message, with the number of lines that could be
read before the error, counted once with ``spark.sql.files.ignoreCorruptFiles``).

Writes, in this order, so that a crash at any point is recoverable (:mod:`groupetl.ingest.ledger`):
``BRONZE_FILES`` rows for every file of the batch (lines 0: they mark the batch as started),
then ``BRONZE_RECORDS`` rows (one commit per read), then the batch's ``BRONZE_FILES`` rows again
with their line counts and errors (one ``replaceWhere`` commit; the counts are read back from the
written rows' ``source_file`` column, so the text is read once and never cached), then the batch's
``bronze`` ledger row. A batch with files but no ledger row was interrupted: its bronze rows are
deleted and its files are read again by the next run.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import logging
import os
import re
import urllib.parse
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import ProjectConfig
from groupetl.errors import StageError
from groupetl.ingest.functions import is_blank
from groupetl.ingest.landing import NewFile
from groupetl.reasons import Quarantine as Q
from groupetl.schemas import BRONZE_FILES, BRONZE_RECORDS, QUARANTINE, C, T
from groupetl.session import temporary_conf

log = logging.getLogger(__name__)

# Files read by one Spark scan (one bronze commit each). One scan over many files is one task per
# file (see the module docstring); a scan per file would cost driver planning per file.
FILES_PER_READ = 20_000
# Landing bytes per bronze write task (and Parquet file). Small enough that the parse, which
# reads bronze back one file per task, gets several tasks per core to balance.
BYTES_PER_WRITE = 32 << 20
BYTES_PER_READ = 1 << 30  # on-disk bytes (a .gz file decompresses to several times this)
_GLOB = re.compile(r"([\\\[\]{}*?])")
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
# Session settings for the bronze read: a split never cuts a file (maxPartitionBytes: 1 PiB) and
# a partition never takes a second file (the open cost alone exceeds the partition size), and no
# cap on the partition count re-packs files together (maxPartitionNum unset).
_SPLIT_BYTES = 1 << 50
_ONE_FILE_PER_PARTITION: dict[str, str | None] = {
    "spark.sql.files.maxPartitionBytes": str(_SPLIT_BYTES),
    "spark.sql.files.openCostInBytes": str(_SPLIT_BYTES + 1),
    "spark.sql.files.maxPartitionNum": None,
}
_READ_ERROR = "FAILED_READ_FILE"
_READ_ERROR_TEXT = re.compile(r"FAILED_READ_FILE[^\]]*\][^\n]*? reading file (\S+?)\.\s")


def arrival_time(mtime_ms: int) -> dt.datetime:
    """A file's modification time (epoch ms) as a UTC datetime."""
    return dt.datetime.fromtimestamp(mtime_ms / 1000, tz=dt.timezone.utc)


def _escape_glob(path: str) -> str:
    """Spark treats ``[]{}*?`` in a path as a glob; a landing file name is literal."""
    return _GLOB.sub(r"\\\1", path)


def _scan_keys(spark: SparkSession, paths: list[str]) -> list[str]:
    """The paths as Spark's ``_metadata.file_path`` spells them, without the scheme.

    Spark reports a file as its Hadoop ``Path`` URI (``#`` -> ``%23``, space -> ``%20``, ...);
    asking Hadoop for the same conversion keeps every file name literal. The class is looked up
    once: through ``spark._jvm`` per path, the lookup alone cost about 2 ms a file (5 s of the
    demo's 1,800 files), three times the conversion itself.
    """
    hadoop_path = spark._jvm.org.apache.hadoop.fs.Path
    return [str(hadoop_path(path).toUri().toString()) for path in paths]


def one_file_per_partition(spark: SparkSession) -> AbstractContextManager[None]:
    """Set :data:`_ONE_FILE_PER_PARTITION` on the session for a block; restore it after."""
    return temporary_conf(spark, _ONE_FILE_PER_PARTITION)


def _scan(spark: SparkSession, files: list[NewFile]) -> DataFrame:
    """Spark's line reader over ``files`` (lines split on ``\\n`` only; lists the files now)."""
    paths = [_escape_glob(str(n.file.path)) for n in files]
    return spark.read.option("lineSep", "\n").text(paths)


def read_lines(
    spark: SparkSession,
    files: list[NewFile],
    batch_id: str,
    ingested_at: dt.datetime,
    scan: DataFrame | None = None,
    heads: dict[str, FileHead] | None = None,
) -> DataFrame:
    """The non-blank lines of ``files`` as ``BRONZE_RECORDS`` rows (lazy: nothing read yet).

    One scan over all the files (``scan``, default :func:`_scan`); each row's file is found from
    ``_metadata.file_path``. Line numbers are exact only when the scan runs under
    :func:`one_file_per_partition` (which :func:`write_bronze` does, and checks). A line whose
    file is not found (it cannot happen unless Spark changes its path spelling) fails the job
    before anything is committed.

    Spark's line reader drops a UTF-8 byte order mark at the start of a file; bronze keeps the
    raw text, so the mark is put back on line 1 of the files that start with one (``heads``,
    default :func:`inspect_file` of each file), and a file holding nothing but the mark is its
    one line, as before.
    """
    heads = heads if heads is not None else {n.file.relative: inspect_file(n) for n in files}
    no_head = FileHead()
    keys = _scan_keys(spark, [str(n.file.path) for n in files])
    info = spark.createDataFrame(
        [
            (
                key,
                n.file.relative,
                n.file_format,
                arrival_time(n.file.mtime_ms),
                heads.get(n.file.relative, no_head).bom,
            )
            for key, n in zip(keys, files, strict=True)
        ],
        f"_key string, {C.SOURCE_FILE} string, {C.FILE_FORMAT} string, "
        f"{C.ARRIVAL_TIME} timestamp, _bom boolean",
    )
    scan = scan if scan is not None else _scan(spark, files)
    # Directly over the scan, before any filter: a partition is one file, read from its start.
    position = F.monotonically_increasing_id() - F.shiftleft(
        F.spark_partition_id().cast("long"), 33
    )
    text = scan.select(
        F.regexp_replace(F.col("_metadata.file_path"), "^[a-zA-Z][a-zA-Z0-9+.-]*:(//)?", "").alias(
            "_key"
        ),
        (position + 1).alias(C.LINE_NUMBER),
        F.col("value").alias("_line"),
    )
    lines = text.join(F.broadcast(info), on="_key", how="left")
    bom_put_back = F.col("_bom") & (F.col(C.LINE_NUMBER) == 1)
    raw = F.when(bom_put_back, F.concat(F.lit("\ufeff"), F.col("_line"))).otherwise(F.col("_line"))
    # the regex only where it can match: a line holding a carriage return (a fast byte search)
    line = F.when(raw.contains("\r"), F.regexp_replace(raw, "\r$", "")).otherwise(raw)
    unmatched = F.raise_error(
        F.concat(
            F.lit("bronze: a line could not be matched to its landing file (Spark reported "),
            F.col("_key"),
            F.lit(", which is not in the listing)"),
        )
    )
    out = lines.filter(~is_blank(line)).select(
        F.lit(batch_id).alias(C.BATCH_ID),
        F.lit(ingested_at).alias(C.INGESTED_AT),
        F.coalesce(F.col(C.SOURCE_FILE), unmatched.cast("string")).alias(C.SOURCE_FILE),
        C.FILE_FORMAT,
        C.ARRIVAL_TIME,
        C.LINE_NUMBER,
        line.alias(C.RAW),
    )
    only_bom = [
        (
            batch_id,
            ingested_at,
            n.file.relative,
            n.file_format,
            arrival_time(n.file.mtime_ms),
            1,
            "\ufeff",
        )
        for n in files
        if heads.get(n.file.relative, no_head).only_bom
    ]
    if only_bom:
        out = out.unionByName(spark.createDataFrame(only_bom, BRONZE_RECORDS))
    return out


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


@dataclass
class BronzeResult:
    """What one batch's bronze write did: lines stored, and the files that could not be read."""

    lines: int = 0
    unreadable: dict[str, str] = field(default_factory=dict)  # relative path -> error


@dataclass(frozen=True)
class FileHead:
    """What the driver learns from a file's first bytes (cheap: a few bytes read per file)."""

    error: str | None = None  # why the file cannot be read, when that is already certain
    bom: bool = False  # the (decompressed) text starts with a UTF-8 byte order mark
    only_bom: bool = False  # ... and holds nothing else


def inspect_file(n: NewFile) -> FileHead:
    """Open ``n`` and read its first bytes (decompressed for ``.gz``).

    A ``.gz`` file must start with gzip's magic bytes (an empty or non-gzip ``.gz`` would
    otherwise fail the read, or read as garbage). The byte order mark is looked for because
    Spark's line reader drops it and bronze keeps it (see :func:`read_lines`). A ``.gz`` whose
    first bytes do not decompress is left to Spark, which then names it and its readable lines.
    """
    path = n.file.path
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        return FileHead(error=f"cannot be opened ({type(exc).__name__}: {exc.strerror or exc})")
    if path.name.endswith(".gz"):
        if not head:
            return FileHead(error="is an empty .gz file (0 bytes), not gzip data")
        if head[:2] != GZIP_MAGIC:
            return FileHead(
                error=f"is not gzip data (starts with {head[:2].hex()}, gzip starts with 1f8b)"
            )
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(4)
        except (OSError, EOFError, zlib.error):
            return FileHead()
    return FileHead(bom=head.startswith(UTF8_BOM), only_bom=head == UTF8_BOM)


def check_file(n: NewFile) -> str | None:
    """Why the driver already knows ``n`` cannot be read (None when it looks readable)."""
    return inspect_file(n).error


def _java_throwables(exc: BaseException) -> Iterator[Any]:
    """The Java exception behind a PySpark/py4j error and its causes, outermost first."""
    java = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    seen = 0
    while java is not None and seen < 50:
        yield java
        java = java.getCause()
        seen += 1


def _failed_read(exc: BaseException) -> tuple[str, str] | None:
    """(the path Spark named, the root cause) when ``exc`` is Spark's FAILED_READ_FILE."""
    path, cause = None, None
    try:
        for java in _java_throwables(exc):
            condition = None
            if hasattr(java, "getCondition"):
                try:
                    condition = java.getCondition()
                except Exception:  # not a SparkThrowable
                    condition = None
            if path is None and condition and str(condition).startswith(_READ_ERROR):
                path = str(java.getMessageParameters().get("path"))
            if path is not None:
                cause = f"{java.getClass().getName()}: {java.getMessage()}"
    except Exception:  # the JVM side is gone or changed: fall back to the message text
        path = None
    if path is None:
        found = _READ_ERROR_TEXT.search(str(exc))
        if not found:
            return None
        path = found.group(1)
    return path, cause or "FAILED_READ_FILE"


def _local_path(spark_path: str) -> str:
    """A Spark file URI (``file:///a%20b``) as a decoded, absolute local path."""
    parsed = urllib.parse.urlparse(spark_path)
    return os.path.abspath(urllib.parse.unquote(parsed.path if parsed.scheme else spark_path))


def _culprit(exc: BaseException, files: list[NewFile]) -> tuple[NewFile, str] | None:
    """The file of ``files`` whose read failed ``exc``, with the cause; None if not a read error."""
    failed = _failed_read(exc)
    if failed is None:
        return None
    path, cause = failed
    target = _local_path(path)
    for n in files:
        if os.path.abspath(str(n.file.path)) == target:
            return n, cause
    return None


def _readable_lines(spark: SparkSession, n: NewFile) -> int:
    """How many lines of an unreadable file Spark reads before its error (skipping the rest)."""
    try:
        with temporary_conf(spark, {"spark.sql.files.ignoreCorruptFiles": "true"}):
            return spark.read.option("lineSep", "\n").text(_escape_glob(str(n.file.path))).count()
    except Exception as exc:  # e.g. gone since: the count is only informative
        log.warning("could not count the readable lines of %s: %s", n.file.relative, exc)
        return 0


def _append_lines(
    spark: SparkSession,
    config: ProjectConfig,
    files: list[NewFile],
    batch_id: str,
    ingested_at: dt.datetime,
    heads: dict[str, FileHead],
) -> None:
    """One scan of ``files`` written to ``BRONZE_RECORDS`` (one commit), one partition per file."""
    with one_file_per_partition(spark):
        scan = _scan(spark, files)
        planned = int(scan._jdf.rdd().getNumPartitions())  # plans the split; reads nothing
        expected = sum(1 for n in files if n.file.size > 0)  # Spark skips 0-byte files
        if planned != expected:
            raise StageError(
                f"bronze: Spark planned {planned} scan partitions for {expected} non-empty "
                "files; exact line numbers need one partition per file (docs/architecture.md)"
            )
        lines = read_lines(spark, files, batch_id, ingested_at, scan, heads)
        path = config.paths.table(T.BRONZE_RECORDS)
        # Line numbers are computed inside each file's own partition, below the coalesce: a
        # task then reads several files in turn, instead of one task and one tiny Parquet file
        # per landing file (thousands of files made the write and every later read slow).
        written = lines.select(*BRONZE_RECORDS.fieldNames()).coalesce(
            write_partitions(spark, files)
        )
        tables.append(written, path)


def write_partitions(spark: SparkSession, files: list[NewFile]) -> int:
    """How many tasks (and Parquet files) write one scan's lines: about one per
    :data:`BYTES_PER_WRITE` of landing bytes, at least four per core, at most one per file."""
    total = sum(n.file.size for n in files)
    wanted = max(4 * spark.sparkContext.defaultParallelism, -(-total // BYTES_PER_WRITE))
    return max(1, min(len(files), wanted))


def _write_chunk(
    spark: SparkSession,
    config: ProjectConfig,
    chunk: list[NewFile],
    batch_id: str,
    ingested_at: dt.datetime,
    heads: dict[str, FileHead],
    unreadable: dict[str, str],
) -> None:
    """Write a chunk's lines; a file whose read fails is set aside and the write runs again."""
    pending = list(chunk)
    while pending:
        try:
            _append_lines(spark, config, pending, batch_id, ingested_at, heads)
            return
        except Exception as exc:
            found = _culprit(exc, pending)
            if found is None:
                raise
            bad, cause = found
            pending.remove(bad)
            read = _readable_lines(spark, bad)
            unreadable[bad.file.relative] = (
                f"{bad.file.relative} cannot be read ({cause}); {read:,} lines were read before "
                "the error; the file is quarantined whole, none of its lines are loaded"
            )
            log.warning("bronze: %s", unreadable[bad.file.relative])


def _files_rows(
    spark: SparkSession,
    files: list[NewFile],
    batch_id: str,
    ingested_at: dt.datetime,
    lines: dict[str, int],
    errors: dict[str, str],
) -> DataFrame:
    rows = [
        (
            n.file.relative,
            n.file_format,
            n.file.size,
            arrival_time(n.file.mtime_ms),
            batch_id,
            ingested_at,
            lines.get(n.file.relative, 0),
            errors.get(n.file.relative),
        )
        for n in files
    ]
    return spark.createDataFrame(rows, BRONZE_FILES)


def _append_files_rows(spark: SparkSession, df: DataFrame, path: str) -> None:
    """Append ``BRONZE_FILES`` rows; a table written before the ``error`` column gains it."""
    if tables.exists(spark, path):
        columns = set(spark.read.format("delta").load(path).columns)
        if C.ERROR not in columns:
            log.info("bronze: adding the %s column to %s", C.ERROR, path)
            df.write.format("delta").mode("append").option("mergeSchema", "true").save(path)
            return
    tables.append(df, path)


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def write_bronze_batch(
    spark: SparkSession,
    config: ProjectConfig,
    files: list[NewFile],
    batch_id: str,
    ingested_at: dt.datetime,
) -> BronzeResult:
    """Write the files' lines and their ledger rows to bronze (see the module docstring)."""
    result = BronzeResult()
    heads = {n.file.relative: inspect_file(n) for n in files}
    for relative, head in heads.items():
        if head.error is not None:
            result.unreadable[relative] = (
                f"{relative} {head.error}; 0 lines were read; the file is quarantined whole"
            )
            log.warning("bronze: %s", result.unreadable[relative])
    files_path = config.paths.table(T.BRONZE_FILES)
    # the batch's files rows first: they mark it as started (crash recovery, ledger.py)
    _append_files_rows(spark, _files_rows(spark, files, batch_id, ingested_at, {}, {}), files_path)
    readable = [n for n in files if n.file.relative not in result.unreadable]
    for chunk in _chunks(readable):
        _write_chunk(spark, config, chunk, batch_id, ingested_at, heads, result.unreadable)
    per_file: dict[str, int] = {}
    if len(result.unreadable) < len(files):
        written = read_batch_lines(spark, config, batch_id).groupBy(C.SOURCE_FILE).count()
        per_file = {r[0]: int(r[1]) for r in written.collect()}
    final = _files_rows(spark, files, batch_id, ingested_at, per_file, result.unreadable)
    tables.replace_where(final, files_path, f"{C.BATCH_ID} = {_sql_string(batch_id)}")
    result.lines = sum(per_file.values())
    return result


def write_bronze(
    spark: SparkSession,
    config: ProjectConfig,
    files: list[NewFile],
    batch_id: str,
    ingested_at: dt.datetime,
) -> int:
    """Write the files' lines and their ledger rows to bronze; return the number of lines."""
    return write_bronze_batch(spark, config, files, batch_id, ingested_at).lines


def read_batch_lines(spark: SparkSession, config: ProjectConfig, batch_id: str) -> DataFrame:
    """The bronze lines of one batch."""
    path = config.paths.table(T.BRONZE_RECORDS)
    return tables.read(spark, path, BRONZE_RECORDS).filter(F.col(C.BATCH_ID) == batch_id)


def unreadable_file_id(source_file: str) -> str:
    """The record id of a whole unreadable file: the record id formula with line 0, no index."""
    return hashlib.sha256(f"{source_file}|0".encode()).hexdigest()


def unreadable_files(
    spark: SparkSession, config: ProjectConfig, batch_id: str
) -> tuple[DataFrame | None, int]:
    """(``QUARANTINE`` rows of the batch's unreadable files, how many): one record per file.

    Read from ``BRONZE_FILES`` (a few rows, collected; one small job). (None, 0) when the batch
    has none, or the table was written before the ``error`` column existed.
    """
    path = config.paths.table(T.BRONZE_FILES)
    if not tables.exists(spark, path):
        return None, 0
    df = spark.read.format("delta").load(path)
    if C.ERROR not in df.columns:
        return None, 0
    bad = df.filter((F.col(C.BATCH_ID) == batch_id) & F.col(C.ERROR).isNotNull())
    rows = [
        (
            batch_id,
            r[C.INGESTED_AT],
            r[C.SOURCE_FILE],
            r[C.FILE_FORMAT],
            0,
            None,
            unreadable_file_id(r[C.SOURCE_FILE]),
            Q.UNREADABLE_FILE,
            r[C.ERROR],
            None,
        )
        for r in bad.select(C.SOURCE_FILE, C.FILE_FORMAT, C.INGESTED_AT, C.ERROR).collect()
    ]
    if not rows:
        return None, 0
    return spark.createDataFrame(sorted(rows, key=lambda t: t[2]), QUARANTINE), len(rows)
