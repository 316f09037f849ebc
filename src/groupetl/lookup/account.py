"""The account view of one group, and the raw input records behind its recent events.

Everything is "as known at the end of ``now``" (UTC), so a view of a past date is reproducible:
- properties: the group's property map in force then (GROUP_VERSIONS), values JSON-decoded;
- first/last seen: its earliest and latest attributed event up to then;
- the last 30 days: the 30 calendar days ending on ``now`` (``now - 29`` .. ``now``);
- recent events: the ``recent`` latest events (who did what, when).
All results are small and bounded (one group, ``recent`` events), so they are collected.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.cohorts.spec import check_group_type
from groupetl.config import ProjectConfig
from groupetl.errors import InputError
from groupetl.lookup.search import end_of, in_force_at
from groupetl.schemas import ATTRIBUTED_EVENTS, BRONZE_RECORDS, GROUP_VERSIONS, SILVER_EVENTS, C, T

RECENT_DAYS = 30
MAX_RECENT = 1000


@dataclass(frozen=True)
class RecentEvent:
    """One event of the group: who (user key, user id, device id) did what (event), when."""

    event_time: dt.datetime
    event_type: str
    user_key: str
    user_id: str | None
    device_id: str | None
    attribution: str  # event | user (how the event got the group)
    event_id: str
    event_properties: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountView:
    """What the account view shows for one group on ``now``."""

    group_type: str
    group_value: str
    now: dt.date
    name: str | None
    properties: dict[str, Any]  # JSON-decoded values
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    events_30d: int
    active_users_30d: int
    recent: tuple[RecentEvent, ...]

    @property
    def event_ids(self) -> list[str]:
        return [e.event_id for e in self.recent]


@dataclass(frozen=True)
class RawRecord:
    """The bronze line behind an event (``record_index``: the record's position in the line)."""

    event_id: str
    source_file: str | None
    line_number: int | None
    record_index: int | None
    raw: str | None


def _decoded(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def _properties(
    spark: SparkSession,
    config: ProjectConfig,
    group_type: str,
    value: str,
    now: dt.date,
    as_of_time: str | None,
) -> dict[str, Any]:
    path = config.paths.table(T.GROUP_VERSIONS)
    versions = tables.read(spark, path, GROUP_VERSIONS, as_of_time=as_of_time)
    row = (
        versions.filter((F.col(C.GROUP_TYPE) == group_type) & (F.col(C.GROUP_VALUE) == value))
        .filter(in_force_at(end_of(now)))
        .orderBy(F.col(C.VERSION).desc())
        .select(C.PROPERTIES)
        .first()
    )
    props = row[C.PROPERTIES] if row else {}
    return {k: _decoded(v) for k, v in sorted((props or {}).items())}


def account_view(
    spark: SparkSession,
    config: ProjectConfig,
    group_type: str,
    group_value: str,
    now: dt.date,
    recent: int = 20,
    as_of_time: str | None = None,
) -> AccountView:
    """The account view of group (``group_type``, ``group_value``) as known at the end of ``now``.

    ``as_of_time``: read the tables as they were at that time (Delta time travel, UTC text), to
    see what an earlier run had produced. InputError when the group has neither properties nor
    events by then.
    """
    check_group_type(config, group_type, allow_user=False)
    if not 0 <= recent <= MAX_RECENT:
        raise InputError(f"recent must be from 0 to {MAX_RECENT}; found {recent}")
    path = config.paths.table(T.ATTRIBUTED_EVENTS)
    attributed = tables.read(spark, path, ATTRIBUTED_EVENTS, as_of_time=as_of_time)
    events = attributed.filter(
        (F.col(C.GROUP_TYPE) == group_type)
        & (F.col(C.GROUP_VALUE) == group_value)
        & (F.col(C.EVENT_TIME) < F.lit(end_of(now)))
    )
    last_days = F.col(C.EVENT_DATE) >= F.lit(now - dt.timedelta(days=RECENT_DAYS - 1))
    stats = events.agg(
        F.min(C.EVENT_TIME).alias("first_seen"),
        F.max(C.EVENT_TIME).alias("last_seen"),
        F.count_if(last_days).alias("events_30d"),
        F.count_distinct(F.when(last_days, F.col(C.USER_KEY))).alias("users_30d"),
    ).first()
    properties = _properties(spark, config, group_type, group_value, now, as_of_time)
    if stats is None or (stats["first_seen"] is None and not properties):
        raise InputError(
            f"no {group_type} {group_value!r} known on {now} (no events, no properties)"
        )
    rows = (
        events.orderBy(F.col(C.EVENT_TIME).desc(), F.col(C.EVENT_ID).desc()).limit(recent).collect()
    )
    name_property = config.group_type(group_type).name_property
    name = properties.get(name_property)
    return AccountView(
        group_type=group_type,
        group_value=group_value,
        now=now,
        name=None if name is None else str(name),
        properties=properties,
        first_seen=stats["first_seen"],
        last_seen=stats["last_seen"],
        events_30d=int(stats["events_30d"]),
        active_users_30d=int(stats["users_30d"]),
        recent=tuple(
            RecentEvent(
                event_time=r[C.EVENT_TIME], event_type=r[C.EVENT_TYPE], user_key=r[C.USER_KEY],
                user_id=r[C.USER_ID], device_id=r[C.DEVICE_ID], attribution=r[C.ATTRIBUTION],
                event_id=r[C.EVENT_ID], event_properties=dict(r[C.EVENT_PROPERTIES] or {}),
            )
            for r in rows
        ),
    )  # fmt: skip


def raw_records(
    spark: SparkSession, config: ProjectConfig, event_ids: Sequence[str]
) -> list[RawRecord]:
    """The bronze raw lines behind ``event_ids`` (e.g. ``AccountView.event_ids``), in that order.

    event id -> silver event (source_file, line_number, record_index) -> bronze record on
    (source_file, line_number). A line may carry several records (a batch body): ``record_index``
    says which one. Ids not found in silver or bronze come back with null fields.
    """
    ids = list(dict.fromkeys(event_ids))[:MAX_RECENT]
    if not ids:
        return []
    silver = tables.read(spark, config.paths.table(T.SILVER_EVENTS), SILVER_EVENTS)
    bronze = tables.read(spark, config.paths.table(T.BRONZE_RECORDS), BRONZE_RECORDS)
    keys = [C.SOURCE_FILE, C.LINE_NUMBER]
    pointers = (
        silver.filter(F.col(C.EVENT_ID).isin(ids))
        .select(C.EVENT_ID, *keys, C.RECORD_INDEX)
        .dropDuplicates([C.EVENT_ID])
    )
    wanted = F.broadcast(pointers.select(*keys).distinct())
    lines = bronze.join(wanted, on=keys, how="left_semi").select(*keys, C.RAW).dropDuplicates(keys)
    found = {
        r[C.EVENT_ID]: r
        for r in pointers.join(lines, on=keys, how="left").collect()  # bounded: <= len(ids)
    }
    out = []
    for event_id in ids:
        r = found.get(event_id)
        out.append(
            RawRecord(event_id, r[C.SOURCE_FILE], r[C.LINE_NUMBER], r[C.RECORD_INDEX], r[C.RAW])
            if r else RawRecord(event_id, None, None, None, None)
        )  # fmt: skip
    return out
