"""The project-wide limit of 1000 distinct group property keys (docs/semantics.md "Words").

A key counts from its first accepted use, all group types together, and ``$unset`` does not free
it. Keys already used by accepted silver ops are *known*; the new keys of a batch are admitted in
the record order of their first use until the project holds 1000; every record that names a key
not admitted is quarantined whole ``property_limit_exceeded`` (an update is applied whole or not
at all).

Approximation, documented: a key first used by a record that is quarantined for another new key
still takes one of the free places. Exactness would need a sequential pass over records; the
difference only shows at the boundary, when a project crosses 1000 keys in one batch.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from groupetl.config import MAX_GROUP_PROPERTY_KEYS
from groupetl.ingest.shape import N
from groupetl.reasons import Quarantine as Q
from groupetl.schemas import C

_LAST = 2**62  # sorts a missing source sequence last inside a min() over structs


def _first_use_order() -> F.Column:
    return F.struct(
        F.col(C.EVENT_TIME),
        F.coalesce(F.col(C.SEQ_MS), F.lit(_LAST)),
        F.col(C.SOURCE_FILE),
        F.col(C.LINE_NUMBER),
        F.col(C.RECORD_INDEX),
    )


def with_property_limit(
    df: DataFrame, known_keys: DataFrame, max_keys: int = MAX_GROUP_PROPERTY_KEYS
) -> DataFrame:
    """Quarantine the records whose group property keys would pass ``max_keys``.

    In: classified records (``_op_keys``; REASON null for candidates) and ``known_keys`` (one
    column ``property``: the distinct keys of accepted silver ops). Out: ``df`` with REASON and
    MESSAGE set to ``property_limit_exceeded`` for those records.
    """
    candidates = df.filter(F.col(C.REASON).isNull() & (F.size(N.OP_KEYS) > 0)).select(
        C.RECORD_ID,
        _first_use_order().alias("_order"),
        F.explode(N.OP_KEYS).alias(C.PROPERTY),
    )
    new = candidates.join(known_keys, on=C.PROPERTY, how="left_anti")
    first_use = new.groupBy(C.PROPERTY).agg(F.min("_order").alias("_first"))
    # The new keys are few (the project's whole budget is 1000): one partition is fine here.
    ranked = first_use.withColumn(
        "_rank", F.row_number().over(Window.orderBy("_first", C.PROPERTY))
    )
    free = known_keys.agg((F.lit(max_keys) - F.count(F.lit(1))).alias("_free"))
    refused = ranked.crossJoin(free).filter(F.col("_rank") > F.col("_free")).select(C.PROPERTY)
    over = (
        new.join(refused, on=C.PROPERTY, how="left_semi")
        .groupBy(C.RECORD_ID)
        .agg(F.concat_ws(", ", F.sort_array(F.collect_set(C.PROPERTY))).alias("_refused"))
    )
    flagged = df.join(over, on=C.RECORD_ID, how="left")
    hit = F.col("_refused").isNotNull() & F.col(C.REASON).isNull()
    message = F.format_string(
        "the update would take the project past %d group property keys (new keys: %s)",
        F.lit(max_keys),
        F.substring(F.col("_refused"), 1, 512),
    )
    return flagged.withColumns(
        {
            C.REASON: F.when(hit, F.lit(Q.PROPERTY_LIMIT_EXCEEDED)).otherwise(F.col(C.REASON)),
            C.MESSAGE: F.when(hit, message).otherwise(F.col(C.MESSAGE)),
        }
    ).drop("_refused")
