"""Lines that are not valid UTF-8: quarantined whole, reason ``invalid_utf8``, before any parse.

Spark's line reader does not check the encoding: a line's bytes go to bronze as they are
(bronze keeps the raw line untouched, bad bytes included). Parsed as JSON, such a line would be
read with every invalid byte silently replaced by U+FFFD, so a Latin-1 ``"Müller"`` would load
as ``"M\ufffdller"`` and nobody would know. Instead the line is ONE quarantined record (null
``record_index``, the whole-line record id), named by file and line, and its other records, if
any, are not loaded: a line is used whole or not at all, as for ``invalid_json``. The
quarantine row's ``raw`` shows the line with each invalid sequence as U+FFFD (a string column
must hold valid UTF-8 for the readers without Spark); the exact bytes stay in bronze.

Cost: one extra job per batch, a byte check over its bronze text (the parse reads it again).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from groupetl.ingest.records import record_id
from groupetl.reasons import Quarantine as Q
from groupetl.schemas import QUARANTINE, C

MESSAGE = (
    "line {line} of {file} is not valid UTF-8 (raw shows each invalid byte sequence as "
    "U+FFFD; bronze keeps the bytes): the line is quarantined whole"
)


def valid_utf8(lines: DataFrame) -> DataFrame:
    """The ``BRONZE_RECORDS`` lines whose raw text is valid UTF-8."""
    return lines.filter(F.is_valid_utf8(C.RAW))


def invalid_utf8(lines: DataFrame) -> tuple[DataFrame | None, int]:
    """(``QUARANTINE`` rows of the lines that are not valid UTF-8, how many); (None, 0) if none.

    One Spark job counts them; the rows stay lazy (read again only when there are some).
    """
    bad = lines.filter(~F.is_valid_utf8(C.RAW))
    count = bad.count()
    if not count:
        return None, 0
    message = F.format_string(
        MESSAGE.replace("{line}", "%d").replace("{file}", "%s"),
        F.col(C.LINE_NUMBER),
        F.col(C.SOURCE_FILE),
    )
    rows = bad.select(
        C.BATCH_ID,
        C.INGESTED_AT,
        C.SOURCE_FILE,
        C.FILE_FORMAT,
        C.LINE_NUMBER,
        F.lit(None).cast("int").alias(C.RECORD_INDEX),
        record_id(F.col(C.SOURCE_FILE), F.col(C.LINE_NUMBER), F.lit(None)).alias(C.RECORD_ID),
        F.lit(Q.INVALID_UTF8).alias(C.REASON),
        message.alias(C.MESSAGE),
        F.make_valid_utf8(C.RAW).alias(C.RAW),
    )
    return rows.select(*QUARANTINE.fieldNames()), count
