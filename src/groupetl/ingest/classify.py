"""Bronze lines -> classified records: parsed, validated, with groups, ops and reports.

The chain (each step a ``DataFrame -> DataFrame`` transform)::

    explode_records -> parse_<source> (per format) -> with_groups -> with_operations
        -> with_event_fields -> with_reason

Out: one row per raw record with REASON set when it is to be quarantined. Dedup comes after
(:mod:`groupetl.ingest.dedup`), since only valid records can be kept or be duplicates.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, StructField, StructType

from groupetl.config import ProjectConfig
from groupetl.ingest import amplitude, posthog, segment
from groupetl.ingest import functions as fx
from groupetl.ingest.amplitude import parse_amplitude
from groupetl.ingest.formats import SOURCE_OF_FORMAT
from groupetl.ingest.groups import with_groups
from groupetl.ingest.posthog import parse_posthog
from groupetl.ingest.properties import with_operations
from groupetl.ingest.records import explode_records, raw_of_record
from groupetl.ingest.segment import parse_segment
from groupetl.ingest.shape import PARSED, PARSER_FIELDS, N
from groupetl.ingest.validate import with_event_fields, with_reason
from groupetl.schemas import C


def _with_parser_fields(records: DataFrame) -> DataFrame:
    """Exploded records with every parser field added: ``source`` from the file's format, the
    rest null until a parser fills its rows (a record already failed keeps them null)."""
    source = F.lit(None).cast("string")
    for fmt, src in SOURCE_OF_FORMAT.items():
        source = F.when(F.col(C.FILE_FORMAT) == fmt, F.lit(src)).otherwise(source)
    given = {C.SOURCE: source, C.REASON: F.col(C.REASON), C.MESSAGE: F.col(C.MESSAGE)}
    return records.withColumns(
        {
            name: given.get(name, F.lit(None).cast(type_name))
            for name, type_name in PARSER_FIELDS.items()
        }
    )


def record_type(config: ProjectConfig) -> StructType:
    """The struct every raw record is read into: the union of the parsers' record fields (a
    name shared by two formats has one type) plus the Segment groups path's field."""
    fields: dict[str, StructField] = {}
    for ddl in (amplitude.RECORD, segment.RECORD, posthog.RECORD):
        parsed = DataType.fromDDL(ddl)
        assert isinstance(parsed, StructType)
        for f in parsed.fields:
            if fields.setdefault(f.name, f).dataType != f.dataType:
                raise ValueError(f"record field {f.name} has two types in the parsers")
    union = StructType(list(fields.values()))
    return segment.with_groups_path(union, config.segment.event_groups_path)


def parse_records(lines: DataFrame, config: ProjectConfig) -> DataFrame:
    """Bronze lines -> one parsed row per raw record (:data:`shape.PARSED`), all formats.

    One pass: each line is parsed once (:mod:`groupetl.ingest.records`) and each format's
    parser fills its own rows of the same DataFrame.
    """
    rtype = record_type(config)
    return (
        explode_records(lines, rtype)
        .transform(_with_parser_fields)
        .transform(parse_amplitude, config)
        .transform(parse_segment, config, rtype)
        .transform(parse_posthog, config)
        .select(*PARSED)
    )


def with_raw(df: DataFrame, lines: DataFrame, *, broadcast: bool = True) -> DataFrame:
    """Give every quarantined one-parse record its JSON text, taken from its bronze line.

    One-parse records carry no text (:func:`records.explode_records`); the few that end in the
    quarantine get it here, exactly as the careful path would have kept it: the whole line
    (without a byte order mark) for a one-record line, the item's text for a list body.
    In: classified rows (``_single`` set for one-parse records) and the batch's bronze lines;
    ``broadcast``: the records to fix are few enough to send their pointers to every task, so
    the lines are not shuffled. Out: the same rows and columns, ``raw`` filled.
    """
    need = F.col(C.REASON).isNotNull() & F.col(C.RAW).isNull() & F.col(N.SINGLE).isNotNull()
    wanted = df.filter(need).select(
        C.RECORD_ID, C.SOURCE_FILE, C.LINE_NUMBER, C.RECORD_INDEX, N.SINGLE
    )
    text = fx.strip_bom(F.col(C.RAW))
    text_of_record = F.when(F.col(N.SINGLE), text).otherwise(
        raw_of_record(text, F.col(C.RECORD_INDEX))
    )
    found = (
        lines.select(C.SOURCE_FILE, C.LINE_NUMBER, C.FILE_FORMAT, C.RAW)
        .join(F.broadcast(wanted) if broadcast else wanted, on=[C.SOURCE_FILE, C.LINE_NUMBER])
        .select(C.RECORD_ID, text_of_record.alias("_found"))
    )
    fixed = df.join(F.broadcast(found) if broadcast else found, on=C.RECORD_ID, how="left")
    return fixed.withColumn(C.RAW, F.coalesce(F.col(C.RAW), F.col("_found"))).drop("_found")


# Read by the rules above and by nothing after them: dropped at the end, so the optimizer also
# drops each from the projections after its last use (every projection copies its rows).
_RULES_ONLY = (
    N.GROUPS_JSON,
    N.PROPS_JSON,
    N.PROPS_PLAIN,
    N.EVENT_PROPS_JSON,
    N.NEEDS_USER,
    N.TIME_PROBLEM,
    N.MIN_ID,
    N.GROUPS_ERROR,
    N.PROPS_ERROR,
    N.EVENT_PROPS_ERROR,
)


def classify(lines: DataFrame, config: ProjectConfig) -> DataFrame:
    """Bronze lines -> classified records (see module docstring), before the property limit.

    The 1000-key limit (:func:`groupetl.ingest.limits.with_property_limit`) needs the keys
    already accepted, so the pipeline applies it to this result.
    """
    return (
        parse_records(lines, config)
        .transform(with_groups, config.group_type_names)
        .transform(with_operations)
        .transform(with_event_fields)
        .transform(with_reason)
        .drop(*_RULES_ONLY)
    )
