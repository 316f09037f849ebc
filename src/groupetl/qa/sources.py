"""The project tables QA reads, who writes them, and a loader that never fails on a missing one.

A missing table reads as an empty DataFrame of its declared schema. Ingest writes a table only
when it has rows (no quarantined record, no quarantine table), so most absent tables just mean
"empty". The tables every ingested project has (bronze lines, accepted events) and the tables of
attribution are checked by the ``tables`` suite (``tables.ingest_tables_exist`` is an error,
``tables.attribution_tables_exist`` a warning): a clear failed check rather than a crash. Suites
over one table are skipped when that table is missing (``Suite.requires``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from groupetl import schemas, tables
from groupetl.config import ProjectConfig
from groupetl.schemas import T

log = logging.getLogger(__name__)

QUARANTINE = "quarantine"  # the quarantine table has its own configured path, not a T entry
INGEST = "ingest"  # must exist once ingest has run
ATTRIBUTION = "attribution"  # must exist once attribution has run
WHEN_NOT_EMPTY = "when_not_empty"  # written only when it has rows: absent means empty


@dataclass(frozen=True)
class Source:
    """A table QA reads: its name (a ``T`` path or ``quarantine``), schema and presence rule."""

    name: str
    schema: StructType
    owner: str


SOURCES: tuple[Source, ...] = (
    Source(T.BRONZE_RECORDS, schemas.BRONZE_RECORDS, INGEST),
    Source(T.SILVER_EVENTS, schemas.SILVER_EVENTS, INGEST),
    Source(T.SILVER_GROUP_ASSIGNMENTS, schemas.SILVER_GROUP_ASSIGNMENTS, WHEN_NOT_EMPTY),
    Source(T.SILVER_GROUP_PROPERTY_OPS, schemas.SILVER_GROUP_PROPERTY_OPS, WHEN_NOT_EMPTY),
    Source(T.SILVER_RECORDS, schemas.SILVER_RECORDS, WHEN_NOT_EMPTY),
    Source(T.SILVER_DUPLICATES, schemas.DUPLICATES, WHEN_NOT_EMPTY),
    Source(QUARANTINE, schemas.QUARANTINE, WHEN_NOT_EMPTY),
    # CRM sync / dynamic properties, when configured
    Source(T.DERIVED_PROPERTY_OPS, schemas.SILVER_GROUP_PROPERTY_OPS, WHEN_NOT_EMPTY),
    Source(T.MEMBERSHIP_HISTORY, schemas.MEMBERSHIP_HISTORY, ATTRIBUTION),
    Source(T.CURRENT_GROUP_PROPERTIES, schemas.CURRENT_GROUP_PROPERTIES, ATTRIBUTION),
    Source(T.ATTRIBUTED_EVENTS, schemas.ATTRIBUTED_EVENTS, ATTRIBUTION),
)


@dataclass(frozen=True)
class QaTables:
    """The project's tables as DataFrames (empty when missing) and which of them exist."""

    frames: Mapping[str, DataFrame]
    exists: Mapping[str, bool]

    def __getitem__(self, name: str) -> DataFrame:
        return self.frames[name]

    def owner(self, name: str) -> str:
        return next(s.owner for s in SOURCES if s.name == name)


def table_path(config: ProjectConfig, name: str) -> str:
    """Where table ``name`` of this project lives."""
    return str(config.paths.quarantine) if name == QUARANTINE else config.paths.table(name)


def load_tables(spark: SparkSession, config: ProjectConfig) -> QaTables:
    """Read every QA source of the project lazily; a missing one becomes an empty DataFrame.

    In: the session and project. Out: QaTables (no Spark job runs here besides Delta's
    existence checks).
    """
    frames: dict[str, DataFrame] = {}
    exists: dict[str, bool] = {}
    for source in SOURCES:
        path = table_path(config, source.name)
        exists[source.name] = tables.exists(spark, path)
        if not exists[source.name]:
            log.info("QA: table %s not found at %s: read as empty", source.name, path)
        frames[source.name] = tables.read(spark, path, source.schema)
    return QaTables(frames, exists)


def tables_from_frames(
    spark: SparkSession, frames: Mapping[str, DataFrame], exists: Mapping[str, bool] | None = None
) -> QaTables:
    """QaTables from in-memory DataFrames (tests, notebooks); absent names become empty frames.

    ``exists`` defaults to "the frame was given".
    """
    full = {
        s.name: frames[s.name] if s.name in frames else spark.createDataFrame([], s.schema)
        for s in SOURCES
    }
    given = {s.name: s.name in frames for s in SOURCES}
    return QaTables(full, dict(exists) if exists is not None else given)
