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

from groupetl.config import ProjectConfig
from groupetl.ingest.amplitude import parse_amplitude
from groupetl.ingest.formats import SOURCE_OF_FORMAT
from groupetl.ingest.groups import with_groups
from groupetl.ingest.posthog import parse_posthog
from groupetl.ingest.properties import with_operations
from groupetl.ingest.records import explode_records
from groupetl.ingest.segment import parse_segment
from groupetl.ingest.shape import PARSED, PARSER_FIELDS
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


def parse_records(lines: DataFrame, config: ProjectConfig) -> DataFrame:
    """Bronze lines -> one parsed row per raw record (:data:`shape.PARSED`), all formats.

    One pass: each format's parser fills its own rows of the same DataFrame.
    """
    return (
        explode_records(lines)
        .transform(_with_parser_fields)
        .transform(parse_amplitude, config)
        .transform(parse_segment, config)
        .transform(parse_posthog, config)
        .select(*PARSED)
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
    )
