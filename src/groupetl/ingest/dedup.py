"""Deduplication by (user key, insert id), over all history, keeping the first in record order.

Amplitude drops an event whose ``insert_id`` it saw for the same device/user in the last 7 days;
groupetl dedups over ALL history (docs/semantics.md "Bad input" allows it and asks to say so): a
re-send a month later is still a duplicate. Dedup keys: Amplitude ``insert_id`` / Export
``$insert_id``, Segment ``messageId``, PostHog ``uuid``; a record without one is never a
duplicate. Dedup is per raw record, before it is split into silver rows, for every kind.

The kept record is the first in record order (docs/semantics.md "Time and order"), whatever the load
order: when a batch brings a record that sorts before an already accepted one with the same key,
the accepted one is *displaced*: it moves to the duplicates table and the new one is accepted.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from groupetl.ingest import functions as fx
from groupetl.ingest.shape import STATUS_ACCEPTED, STATUS_DUPLICATE, STATUS_QUARANTINED, N
from groupetl.schemas import C

KEY = (C.USER_KEY, C.INSERT_ID)
_ORDER_COLUMNS = (C.EVENT_TIME, C.SEQ_MS, C.SOURCE_FILE, C.LINE_NUMBER, C.RECORD_INDEX)


def _same_key(left: DataFrame, right: DataFrame) -> F.Column:
    """Join condition on the dedup key; a null user key (``$groupidentify``) matches null."""
    return left[C.USER_KEY].eqNullSafe(right[C.USER_KEY]) & (
        left[C.INSERT_ID] == right[C.INSERT_ID]
    )


def find_duplicates(candidates: DataFrame, accepted: DataFrame) -> DataFrame:
    """Every record of a dedup key that is not the key's first in record order.

    In: the batch's valid records and the accepted records so far (``SILVER_RECORDS``). Out: one
    row per loser: record_id, kept_record_id (the winner), ``_new`` (true: from this batch; false:
    an accepted record displaced by an earlier-ordered new one), and the duplicate's pointer.
    """
    cols = [C.RECORD_ID, *KEY, *_ORDER_COLUMNS]
    new = candidates.filter(F.col(C.INSERT_ID).isNotNull() & (F.col(C.INSERT_ID) != "")).select(
        *cols, F.lit(True).alias(N.NEW)
    )
    keys = new.select(*KEY).distinct()
    old = accepted.filter(F.col(C.INSERT_ID).isNotNull())
    old = old.join(keys, on=_same_key(old, keys), how="left_semi").select(
        *cols, F.lit(False).alias(N.NEW)
    )
    both = new.unionByName(old)
    w = Window.partitionBy(*KEY).orderBy(*fx.record_order())
    ranked = both.withColumn(C.KEPT_RECORD_ID, F.first(C.RECORD_ID).over(w))
    return ranked.filter(F.col(C.RECORD_ID) != F.col(C.KEPT_RECORD_ID)).select(
        C.RECORD_ID,
        C.KEPT_RECORD_ID,
        *KEY,
        C.SOURCE_FILE,
        C.LINE_NUMBER,
        C.RECORD_INDEX,
        N.NEW,
    )


def with_status(df: DataFrame, losers: DataFrame, *, broadcast: bool = False) -> DataFrame:
    """Add ``_status`` (accepted | duplicate | quarantined) and ``kept_record_id`` to records.

    In: classified records (REASON set = quarantined) and :func:`find_duplicates`' result;
    ``broadcast``: the losers are few enough to be sent to every task (the records are then
    not shuffled).
    """
    dup = losers.filter(F.col(N.NEW)).select(C.RECORD_ID, C.KEPT_RECORD_ID)
    if broadcast:
        dup = F.broadcast(dup)
    joined = df.join(dup, on=C.RECORD_ID, how="left")
    status = (
        F.when(F.col(C.REASON).isNotNull(), F.lit(STATUS_QUARANTINED))
        .when(F.col(C.KEPT_RECORD_ID).isNotNull(), F.lit(STATUS_DUPLICATE))
        .otherwise(F.lit(STATUS_ACCEPTED))
    )
    return joined.withColumn(N.STATUS, status)
