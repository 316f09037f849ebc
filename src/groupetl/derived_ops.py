"""Group property operations made by groupetl itself: what CRM sync and dynamic properties share.

Both write rows of ``SILVER_GROUP_PROPERTY_OPS`` into ``T.DERIVED_PROPERTY_OPS`` at D 00:00 UTC
for a logical date D (docs/semantics.md "Sources of truth"), so attribution applies them in record
order with the ingested operations. Every column is a function of the inputs and D alone
(record ids are sha2 of a key, batch ids name the date), and a date is replaced atomically
(Delta ``replaceWhere``), so a re-run gives attribution identical input.

The 1000-key limit (docs/semantics.md "Words", "Bad input"): keys already used by silver or derived
operations are known; new keys are admitted in name order while places are free; an update (one
source record's operations for one group: a CRM account row, one dynamic value) that names a
refused key is not written at all, and is quarantined in ``DERIVED_QUARANTINE`` (same columns as the ingest quarantine, its own table, so the ingest
counts of raw records still add up).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import MAX_GROUP_PROPERTY_KEYS, ProjectConfig
from groupetl.errors import InputError
from groupetl.reasons import Quarantine as Q
from groupetl.schemas import QUARANTINE, SILVER_GROUP_PROPERTY_OPS, C, T

DERIVED_QUARANTINE = "ops/derived_quarantine"
KEY = "_key"  # input column of ``to_property_ops``: the text hashed into record_id
SAMPLES = 5

# Columns ``to_property_ops`` expects (besides KEY): the op itself and its place in record order.
OP_INPUT = (
    C.GROUP_TYPE,
    C.GROUP_VALUE,
    C.OPERATION,
    C.PROPERTY,
    C.VALUE_JSON,
    C.FILE_FORMAT,
    C.SOURCE_FILE,
    C.LINE_NUMBER,
    C.RECORD_INDEX,
)


def as_date(value: object) -> dt.date:
    """A logical date from a ``date`` or ``YYYY-MM-DD`` text; InputError otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"expected a date YYYY-MM-DD, found {value!r}") from None


def epoch_seconds(date: dt.date) -> int:
    """Seconds since the epoch of ``date`` 00:00:00 UTC."""
    return int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.timezone.utc).timestamp())


def midnight_utc(date: dt.date) -> Column:
    """``date`` 00:00:00 UTC as a timestamp Column, whatever the session time zone."""
    return F.timestamp_seconds(F.lit(epoch_seconds(date)))


def sql_string(text: str) -> str:
    """``text`` as a Spark SQL string literal (for ``replaceWhere`` predicates)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def date_predicate(origin: str, date: dt.date) -> str:
    """SQL predicate of one feature's operations for one logical date (its ``replaceWhere``)."""
    return f"{C.ORIGIN} = {sql_string(origin)} AND {C.OP_TIME} = timestamp_seconds({epoch_seconds(date)})"


def to_property_ops(rows: DataFrame, origin: str, date: dt.date, batch_id: str) -> DataFrame:
    """Derived operation rows -> ``SILVER_GROUP_PROPERTY_OPS`` rows at ``date`` 00:00 UTC.

    In: ``OP_INPUT`` columns and ``KEY`` (a deterministic text naming the operation). Out: the
    silver schema with ``record_id`` = sha2(KEY), ``origin`` = ``source`` = ``origin``, no source
    sequence (``seq_ms`` null) and ``batch_id`` = ``batch_id``.
    """
    extra = {
        C.RECORD_ID: F.sha2(F.col(KEY), 256),
        C.OP_TIME: midnight_utc(date),
        C.ORIGIN: F.lit(origin),
        C.SOURCE: F.lit(origin),
        C.SEQ_MS: F.lit(None).cast("long"),
        C.BATCH_ID: F.lit(batch_id),
    }
    return conform(rows.withColumns(extra), SILVER_GROUP_PROPERTY_OPS.fieldNames())


def conform(df: DataFrame, names: Iterable[str]) -> DataFrame:
    """``df`` reduced to ``names`` in that order, each cast to its type in the owning schema."""
    types = {f.name: f.dataType for s in _SCHEMAS for f in s.fields}
    return df.select(*[F.col(n).cast(types[n]).alias(n) for n in names])


_SCHEMAS = (SILVER_GROUP_PROPERTY_OPS, QUARANTINE)


def known_property_keys(spark: SparkSession, config: ProjectConfig) -> DataFrame:
    """Distinct group property keys of silver and derived operations (one column ``property``)."""
    paths = (T.SILVER_GROUP_PROPERTY_OPS, T.DERIVED_PROPERTY_OPS)
    reads = [tables.read(spark, config.paths.table(p), SILVER_GROUP_PROPERTY_OPS) for p in paths]
    keys = reads[0].select(C.PROPERTY).unionByName(reads[1].select(C.PROPERTY))
    return keys.filter(F.col(C.PROPERTY).isNotNull()).distinct()


# One update = the operations of one source record for one group (a CRM account row, one
# dynamic property's value): applied whole or not at all (docs/semantics.md "Bad input").
UPDATE = (C.GROUP_TYPE, C.GROUP_VALUE, C.SOURCE_FILE, C.LINE_NUMBER)


def collect_key_budget(
    spark: SparkSession, config: ProjectConfig, candidates: Sequence[str]
) -> tuple[int, set[str]]:
    """(how many keys are known, which of ``candidates`` are among them): one small job."""
    known = known_property_keys(spark, config)
    hit = F.when(F.col(C.PROPERTY).isin(*candidates), F.col(C.PROPERTY))
    row = known.agg(F.count(F.lit(1)).alias("n"), F.collect_set(hit).alias("hits")).first()
    return (int(row["n"]), set(row["hits"])) if row else (0, set())


def refused_keys(
    candidates: Sequence[str],
    known_count: int,
    known_candidates: set[str],
    max_keys: int = MAX_GROUP_PROPERTY_KEYS,
) -> list[str]:
    """The candidate keys past the limit: new keys are admitted in name order while places are free.

    >>> refused_keys(["b", "a", "c"], 999, {"c"}, 1000)  # a and b are new, one place is free
    ['b']
    """
    new = sorted(set(candidates) - known_candidates)
    return new[max(max_keys - known_count, 0) :]


def refused_updates(ops: DataFrame, keys: Sequence[str]) -> DataFrame:
    """Operations -> the updates (``UPDATE`` columns) naming any of ``keys``, with those keys.

    Out: one row per refused update; ``property`` lists its refused keys, comma-separated.
    """
    return (
        ops.filter(F.col(C.PROPERTY).isin(*keys))
        .groupBy(*UPDATE)
        .agg(F.concat_ws(", ", F.sort_array(F.collect_set(C.PROPERTY))).alias(C.PROPERTY))
    )


def quarantine_rows(ops: DataFrame, refused: DataFrame) -> DataFrame:
    """Operations of refused updates -> ``QUARANTINE`` rows, one per update.

    In: ``SILVER_GROUP_PROPERTY_OPS`` rows and ``refused_updates`` output. Out: QUARANTINE rows,
    reason ``property_limit_exceeded``, ``raw`` = the update as JSON (time, group and its ops).
    """
    op = F.struct(C.OPERATION, C.PROPERTY, C.VALUE_JSON)
    update = ops.join(refused.withColumnRenamed(C.PROPERTY, "_keys"), list(UPDATE), "inner")
    grouped = update.groupBy(*UPDATE, C.BATCH_ID, C.FILE_FORMAT, C.OP_TIME, "_keys").agg(
        F.sort_array(F.collect_list(op)).alias("_ops")
    )
    message = F.format_string(
        "the update would take the project past %d group property keys (new keys: %s)",
        F.lit(MAX_GROUP_PROPERTY_KEYS),
        F.substring("_keys", 1, 512),
    )
    raw = F.to_json(F.struct(C.OP_TIME, C.GROUP_TYPE, C.GROUP_VALUE, F.col("_ops").alias("ops")))
    key = F.concat_ws("|", F.lit("refused"), C.BATCH_ID, *UPDATE)
    rows = grouped.withColumns(
        {
            C.INGESTED_AT: F.current_timestamp(),
            C.RECORD_INDEX: F.lit(None).cast("int"),
            C.RECORD_ID: F.sha2(key, 256),
            C.REASON: F.lit(Q.PROPERTY_LIMIT_EXCEEDED),
            C.MESSAGE: message,
            C.RAW: raw,
        }
    )
    return conform(rows, QUARANTINE.fieldNames())


def apply_key_limit(
    spark: SparkSession,
    config: ProjectConfig,
    ops: DataFrame,
    candidates: Sequence[str],
    max_keys: int = MAX_GROUP_PROPERTY_KEYS,
) -> tuple[DataFrame, DataFrame | None]:
    """``ops`` -> (the operations to write, ``refused_updates`` or None when nothing is refused).

    ``candidates`` are the keys ``ops`` may name (config-sized: the mapped CRM properties, the
    dynamic property names), so the decision is one small job plus Python.
    """
    count, hits = collect_key_budget(spark, config, candidates)
    keys = refused_keys(candidates, count, hits, max_keys)
    if not keys:
        return ops, None
    refused = refused_updates(ops, keys)
    return ops.join(refused.select(*UPDATE), on=list(UPDATE), how="left_anti"), refused


def write_ops(spark: SparkSession, config: ProjectConfig, ops: DataFrame, predicate: str) -> None:
    """Replace the derived operations matching ``predicate`` with ``ops`` in one Delta commit."""
    path = config.paths.table(T.DERIVED_PROPERTY_OPS)
    tables.ensure(spark, path, SILVER_GROUP_PROPERTY_OPS)
    tables.replace_where(ops, path, predicate)


def write_quarantine(
    spark: SparkSession,
    config: ProjectConfig,
    ops: DataFrame,
    refused: DataFrame | None,
    batch_id: str,
) -> None:
    """Replace the derived quarantine rows of ``batch_id`` with the refused updates of ``ops``.

    ``refused`` None (nothing refused) deletes that batch's earlier rows, if any: a re-run that
    refuses nothing leaves none behind.
    """
    path = config.paths.table(DERIVED_QUARANTINE)
    predicate = f"{C.BATCH_ID} = {sql_string(batch_id)}"
    if refused is None:
        tables.delete_where(spark, path, predicate)
        return
    tables.ensure(spark, path, QUARANTINE)
    tables.replace_where(quarantine_rows(ops, refused), path, predicate)


def collect_count_and_samples(
    df: DataFrame, column: str, n: int = SAMPLES
) -> tuple[int, list[str]]:
    """How many rows ``df`` has, and its first ``n`` values of ``column`` in sorted order.

    Two small jobs; meant for report lines ("3 accounts unknown, e.g. 1001, 1002").
    """
    samples = [r[0] for r in df.select(column).orderBy(column).limit(n).collect()]
    return (df.count() if samples else 0), samples


def describe(count: int, samples: list[str], what: str) -> str:
    """``3 accounts unknown (e.g. 1001, 1002, 1007)`` as one report line."""
    shown = ", ".join(str(s) for s in samples)
    return f"{count} {what}" + (f" (e.g. {shown})" if samples else "")
