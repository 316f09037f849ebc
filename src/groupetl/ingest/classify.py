"""Bronze lines -> classified records: parsed, validated, with groups, ops and reports.

The chain (each step a ``DataFrame -> DataFrame`` transform)::

    explode_records -> parse_<source> (per format) -> with_groups -> with_operations
        -> with_event_fields -> with_reason

Out: one row per raw record with REASON set when it is to be quarantined. Dedup comes after
(:mod:`groupetl.ingest.dedup`), since only valid records can be kept or be duplicates.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from groupetl.config import ProjectConfig
from groupetl.ingest.amplitude import parse_amplitude
from groupetl.ingest.formats import SOURCE_OF_FORMAT, Format
from groupetl.ingest.groups import with_groups
from groupetl.ingest.posthog import parse_posthog
from groupetl.ingest.properties import with_operations
from groupetl.ingest.records import explode_records
from groupetl.ingest.segment import parse_segment
from groupetl.ingest.shape import PARSED, N
from groupetl.ingest.validate import with_event_fields, with_reason
from groupetl.schemas import C

_NULL_TYPES = {
    C.EVENT_TIME: "timestamp",
    C.SEQ_MS: "long",
    N.MIN_ID: "int",
    N.NEEDS_USER: "boolean",
    N.ASSIGNS: "boolean",
    N.PROPS_PLAIN: "boolean",
}


def _unparsed(records: DataFrame) -> DataFrame:
    """Records already failed while unwrapping, in the parsed shape (format fields null)."""
    source = F.lit(None).cast("string")
    for fmt, src in SOURCE_OF_FORMAT.items():
        source = F.when(F.col(C.FILE_FORMAT) == fmt, F.lit(src)).otherwise(source)
    given = {C.SOURCE: source}
    cols = []
    for name in PARSED:
        if name in records.columns:
            cols.append(F.col(name))
        elif name in given:
            cols.append(given[name].alias(name))
        else:
            cols.append(F.lit(None).cast(_NULL_TYPES.get(name, "string")).alias(name))
    return records.select(*cols)


def parse_records(lines: DataFrame, config: ProjectConfig) -> DataFrame:
    """Bronze lines -> one parsed row per raw record (:data:`shape.PARSED`), all formats."""
    records = explode_records(lines)
    ok = records.filter(F.col(C.REASON).isNull())
    fmt = F.col(C.FILE_FORMAT)
    parts = [
        parse_amplitude(ok.filter(fmt.isin(*Format.AMPLITUDE)), config),
        parse_segment(ok.filter(fmt == Format.SEGMENT), config),
        parse_posthog(ok.filter(fmt == Format.POSTHOG), config),
        _unparsed(records.filter(F.col(C.REASON).isNotNull())),
    ]
    return reduce(DataFrame.unionByName, parts)


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
