"""Point-in-time attribution of events to groups and group properties (pure transforms).

docs/semantics.md "Attribution: nothing is retroactive": per declared group type an event belongs to
its event-level groups of that type, else to its user's groups as of the event's time, else to
none; and each group shows its properties as of the event's time. A change at the event's very
millisecond applies to it; among changes of one millisecond, record order decides (the history
tables keep only the last change of each millisecond, see ``membership``).

Two lookups do this: the user's membership as of the event (key: user and group type), then the
group's version as of the event (key: group type and value). Both histories grow with users and
groups, not with events, so each lookup has two plans (docs/architecture.md "Attribution"):

- ``as_of_broadcast``, the default: the history becomes intervals [change, next change) per key
  (a window over the history alone), is broadcast, and every event row finds its interval by a
  hash join on the key plus ``from <= t < to``. Events are never shuffled or sorted.
- ``carry_forward``, for a history above ``attribution.broadcast_history_rows``: event rows and
  change rows of one key are unioned, sorted by (millisecond, changes first), and each event row
  carries the last change forward. This shuffles and sorts events, but needs no memory per key.

Both give the same rows (tests/test_attribution_old_vs_new.py). Neither is a range join without
keys: no nested-loop or cartesian join on events.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from groupetl.membership import T_MS, clean_group_values, time_ms
from groupetl.schemas import ATTRIBUTED_EVENTS, C

EVENT_LEVEL, USER_LEVEL, NO_GROUP = "event", "user", "none"
_TO_MS, _KEY = "_to_ms", "_key_"  # an interval's exclusive end; prefix of the history's keys
_OPEN = sys.maxsize  # the end of the last interval of a key: in force for every later event
_KIND = "_kind"  # sort key after the millisecond: a change (0) applies before an event (1)
_CHANGE, _EVENT = 0, 1
# The version lookup's key. A row without a group is keyed on its own event instead, so those
# rows neither meet a version nor all land in one window partition (skew).
_GROUP, _NO_GROUP = "_group", "\u0000none:"
USER_KEY = [C.USER_KEY, C.GROUP_TYPE]
GROUP_KEY = [C.GROUP_TYPE, C.GROUP_VALUE]
_EVENT_COLUMNS = [
    C.EVENT_ID,
    C.EVENT_TIME,
    C.EVENT_DATE,
    C.EVENT_TYPE,
    C.USER_KEY,
    C.USER_ID,
    C.DEVICE_ID,
    C.EVENT_PROPERTIES,
    C.SOURCE,
    C.BATCH_ID,
]


def carry_forward(
    rows: DataFrame, changes_: DataFrame, key: Sequence[str], carried: str
) -> DataFrame:
    """Give each row the ``carried`` value of the last change of its ``key`` at or before its time.

    In: ``rows`` (``key`` columns, ``_t_ms``, anything else) and ``changes_`` (``key``, ``_t_ms``,
    ``carried`` non-null, at most one change per key and millisecond). Out: ``rows`` plus
    ``carried`` (null when no change precedes the row). Changes sort before rows of the same
    millisecond, so a change at the row's very millisecond applies to it.
    """
    frame = (
        Window.partitionBy(*key)
        .orderBy(T_MS, _KIND)
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    both = rows.withColumn(_KIND, F.lit(_EVENT)).unionByName(
        changes_.withColumn(_KIND, F.lit(_CHANGE)), allowMissingColumns=True
    )
    return (
        both.withColumn(carried, F.last(carried, ignorenulls=True).over(frame))
        .filter(F.col(_KIND) == _EVENT)
        .drop(_KIND)
    )


def as_of_broadcast(
    rows: DataFrame, changes_: DataFrame, key: Sequence[str], carried: str
) -> DataFrame:
    """``carry_forward``'s result by a broadcast interval join: no shuffle or sort of ``rows``.

    In and out as ``carry_forward``. Each change becomes the interval [its millisecond, the next
    change's millisecond of its key), open at the last one; intervals of one key do not overlap,
    so a row meets at most one, by a hash join on ``key`` with the range as extra condition. A
    row whose key has many changes is compared with each of them (the hash join's cost per row is
    the number of changes of its key, which histories keep small).
    """
    by_time = Window.partitionBy(*key).orderBy(T_MS)
    intervals = changes_.select(
        *[F.col(k).alias(_KEY + k) for k in key],
        F.col(T_MS).alias("_from_ms"),
        F.coalesce(F.lead(T_MS).over(by_time), F.lit(_OPEN)).alias(_TO_MS),
        carried,
    )
    match = [rows[k] == F.col(_KEY + k) for k in key] + [
        F.col("_from_ms") <= rows[T_MS],
        rows[T_MS] < F.col(_TO_MS),
    ]
    joined = rows.join(F.broadcast(intervals), on=match, how="left")
    return joined.drop(*[_KEY + k for k in key], "_from_ms", _TO_MS)


def as_of(
    rows: DataFrame, changes_: DataFrame, key: Sequence[str], carried: str, broadcast: bool
) -> DataFrame:
    """``as_of_broadcast`` when ``broadcast``, else ``carry_forward`` (same rows out)."""
    lookup = as_of_broadcast if broadcast else carry_forward
    return lookup(rows, changes_, key, carried)


def events_by_group_type(events: DataFrame, group_types: Sequence[str]) -> DataFrame:
    """``SILVER_EVENTS`` -> one row per (event, declared group type) with ``_event_values``.

    ``_event_values`` are the event's own (event-level) values of that type, possibly empty.
    Types in ``groups`` that are not declared are not looked at (docs/semantics.md "Bad input").
    """
    declared = F.array(*[F.lit(t) for t in group_types])
    values = F.coalesce(
        F.try_element_at(C.GROUPS, F.col(C.GROUP_TYPE)), F.array().cast("array<string>")
    )
    return (
        events.select(*_EVENT_COLUMNS, C.GROUPS, F.explode(declared).alias(C.GROUP_TYPE))
        .withColumn("_event_values", clean_group_values(values))
        .withColumn(T_MS, time_ms(C.EVENT_TIME))
        .drop(C.GROUPS)
    )


def attribute_events(
    events: DataFrame,
    membership: DataFrame,
    versions: DataFrame,
    group_types: Sequence[str],
    *,
    broadcast_membership: bool = True,
    broadcast_versions: bool = True,
) -> DataFrame:
    """Events, membership history and group versions -> ``ATTRIBUTED_EVENTS``.

    In: ``SILVER_EVENTS``, ``MEMBERSHIP_HISTORY`` and ``GROUP_VERSIONS`` rows; the declared group
    types; per history, whether it is small enough to broadcast (else the sort-merge plan).
    Out: one row per (event, declared type, group value): attribution ``event`` (its own
    groups of that type), ``user`` (the user's groups in force at the event's time) or ``none``
    (group_value null, so user-level reports still count the event); ``group_version`` is the
    group's version in force at the event's time (null before the group's first property).
    """
    per_type = events_by_group_type(events, group_types)
    assigned = membership.filter(F.col(C.GROUP_TYPE).isin(*group_types)).select(
        *USER_KEY, time_ms(C.VALID_FROM).alias(T_MS), F.col(C.GROUP_VALUES).alias("_user_values")
    )
    has_event = F.size("_event_values") > 0
    has_user = F.coalesce(F.size("_user_values") > 0, F.lit(False))
    chosen = F.when(has_event, F.col("_event_values")).when(has_user, F.col("_user_values"))
    attribution = F.when(has_event, EVENT_LEVEL).when(has_user, USER_LEVEL).otherwise(NO_GROUP)
    rows = (
        as_of(per_type, assigned, USER_KEY, "_user_values", broadcast_membership)
        .withColumn(C.ATTRIBUTION, attribution)
        .withColumn(C.GROUP_VALUE, F.explode_outer(chosen))
        .withColumn(_GROUP, F.coalesce(C.GROUP_VALUE, F.concat(F.lit(_NO_GROUP), C.EVENT_ID)))
    )
    version_starts = versions.filter(F.col(C.GROUP_TYPE).isin(*group_types)).select(
        C.GROUP_TYPE,
        F.col(C.GROUP_VALUE).alias(_GROUP),
        time_ms(C.VALID_FROM).alias(T_MS),
        F.col(C.VERSION).alias(C.GROUP_VERSION),
    )
    group_key = [C.GROUP_TYPE, _GROUP]
    versioned = as_of(rows, version_starts, group_key, C.GROUP_VERSION, broadcast_versions)
    return versioned.select(*ATTRIBUTED_EVENTS.fieldNames())


def with_group_properties(attributed: DataFrame, versions: DataFrame) -> DataFrame:
    """Attributed rows -> the same plus ``properties``: the group's map at the event's time.

    An equi-join on (group type, group value, version); rows without a version get null.
    """
    maps = versions.select(*GROUP_KEY, F.col(C.VERSION).alias(C.GROUP_VERSION), C.PROPERTIES)
    return attributed.join(maps, on=[*GROUP_KEY, C.GROUP_VERSION], how="left")
