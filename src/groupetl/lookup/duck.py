"""Account lookup and the account view without a JVM: delta-rs + DuckDB, same answers as Spark.

``lookup`` and ``account_view`` here compute what ``search.lookup`` and ``account.account_view``
compute on Spark (same windows, same "in force at the end of ``now``" rule, same ordering); the
tables are read through ``groupetl.lake`` and the filters and aggregates run in DuckDB over their
Arrow datasets, so only the group type's rows and the needed columns are read. Property values
are compared in their decoded text form (``groupetl.values``): the distinct stored values of the
queried property are few, so they are decoded in Python and the matching ones handed back to
DuckDB as a list.

``explain_empty`` says why a lookup found nothing (no such property, no such value, or no group
with it active in the window), listing up to 10 values the property does have.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from groupetl import lake, values
from groupetl.cohorts.spec import check_group_type
from groupetl.config import ProjectConfig
from groupetl.errors import InputError
from groupetl.lookup.account import MAX_RECENT, RECENT_DAYS, AccountView, RawRecord, RecentEvent
from groupetl.lookup.query import Query, parse_query
from groupetl.lookup.search import DEFAULT_LIMIT, LOOKUP_COLUMNS, active_since, end_of
from groupetl.schemas import RC, C, T

MAX_LISTED_VALUES = 10


def _register(
    con: duckdb.DuckDBPyConnection,
    config: ProjectConfig,
    views: dict[str, str],
    as_of_time: str | None,
) -> None:
    """Register each table (``{view name: T.path}``) on ``con`` as of ``as_of_time``."""
    for view, table in views.items():
        path = Path(config.paths.table(table))
        if not lake.is_table(path):
            raise InputError(
                f"{table} does not exist yet in {config.paths.warehouse}: run attribute"
            )
        con.register(view, lake.dataset(lake.open_table(path, table, as_of_time=as_of_time)))


# In force just before ``moment``: the rule of ``search.in_force_at``.
_IN_FORCE = f"{C.VALID_FROM} < $moment AND ({C.VALID_TO} IS NULL OR {C.VALID_TO} >= $moment)"


def _values_in_force(
    con: duckdb.DuckDBPyConnection, group_type: str, prop: str, moment: dt.datetime
) -> dict[str, str | None]:
    """group_value -> decoded value of ``prop`` in force just before ``moment``."""
    sql = (
        f"SELECT {C.GROUP_VALUE}, {C.VALUE} FROM h WHERE {C.GROUP_TYPE} = $type "
        f"AND {C.PROPERTY} = $prop AND {_IN_FORCE}"
    )
    rows = con.execute(sql, {"type": group_type, "prop": prop, "moment": moment}).fetchall()
    return {g: values.decoded_text(v) for g, v in rows}


def _distinct_values(
    con: duckdb.DuckDBPyConnection, group_type: str, prop: str, moment: dt.datetime
) -> list[str]:
    """The distinct stored (JSON) values ``prop`` had before ``moment`` in groups of the type."""
    sql = (
        f"SELECT DISTINCT {C.VALUE} FROM h WHERE {C.GROUP_TYPE} = $type AND {C.PROPERTY} = $prop "
        f"AND {C.VALUE} IS NOT NULL AND {C.VALID_FROM} < $moment"
    )
    params = {"type": group_type, "prop": prop, "moment": moment}
    return [r[0] for r in con.execute(sql, params).fetchall()]


def lookup(
    config: ProjectConfig,
    group_type: str,
    query: Query | str,
    now: dt.date,
    *,
    limit: int = DEFAULT_LIMIT,
    as_of_time: str | None = None,
) -> list[dict[str, Any]]:
    """Groups of ``group_type`` matching ``query`` among those active around ``now``.

    Out: rows with LOOKUP_COLUMNS, as ``search.lookup`` returns them (most recently seen first,
    at most ``limit``). ``as_of_time``: read the tables as they were then (UTC text).
    """
    q = parse_query(query) if isinstance(query, str) else query
    check_group_type(config, group_type, allow_user=False)
    con = lake.connect()
    views = {"h": T.GROUP_PROPERTY_HISTORY, "a": T.ATTRIBUTED_EVENTS}
    _register(con, config, views, as_of_time)
    moment = end_of(now)
    stored = _distinct_values(con, group_type, q.property, moment)
    wanted = [v for v in stored if values.value_matches(v, q.value)]
    if not wanted:
        return []
    sql = f"""
        WITH hits AS (
            SELECT {C.GROUP_VALUE}, list(DISTINCT {C.VALUE}) AS raw_values FROM h
            WHERE {C.GROUP_TYPE} = $type AND {C.PROPERTY} = $prop AND {C.VALID_FROM} < $moment
              AND list_contains($wanted, {C.VALUE})
            GROUP BY {C.GROUP_VALUE}),
        active AS (
            SELECT {C.GROUP_VALUE}, max({C.EVENT_TIME}) AS {RC.LAST_SEEN} FROM a
            WHERE {C.GROUP_TYPE} = $type AND {C.GROUP_VALUE} IS NOT NULL
              AND {C.EVENT_DATE} BETWEEN $since AND $now
            GROUP BY {C.GROUP_VALUE})
        SELECT hits.{C.GROUP_VALUE}, raw_values, {RC.LAST_SEEN}
        FROM hits JOIN active USING ({C.GROUP_VALUE})
        ORDER BY {RC.LAST_SEEN} DESC, {C.GROUP_VALUE}
        LIMIT $limit
    """
    params = {
        "type": group_type, "prop": q.property, "moment": moment, "wanted": wanted,
        "since": active_since(now), "now": now, "limit": limit,
    }  # fmt: skip
    found = lake.rows_of(lake.query(con, sql, params))
    name_property = config.group_type(group_type).name_property
    names = _values_in_force(con, group_type, name_property, moment)
    current = _values_in_force(con, group_type, q.property, moment)
    rows = []
    for r in found:
        group = r[C.GROUP_VALUE]
        row = {
            C.GROUP_TYPE: group_type,
            C.GROUP_VALUE: group,
            RC.NAME: names.get(group),
            C.PROPERTY: q.property,
            RC.MATCHED_VALUES: sorted({values.decoded_text(v) for v in r["raw_values"]}),
            RC.CURRENT_VALUE: current.get(group),
            RC.LAST_SEEN: r[RC.LAST_SEEN],
        }
        rows.append({c: row[c] for c in LOOKUP_COLUMNS})
    return rows


def explain_empty(
    config: ProjectConfig,
    group_type: str,
    query: Query | str,
    now: dt.date,
    *,
    as_of_time: str | None = None,
) -> str:
    """Why ``lookup`` found no group: one or two lines for the person who asked.

    Checked in order: the group type has no such property (the properties it has are listed);
    no value of it reads the queried value by ``now`` (up to MAX_LISTED_VALUES values it had
    are listed); the groups that had it were not active in the window (the latest activity of
    any of them is given).
    """
    q = parse_query(query) if isinstance(query, str) else query
    con = lake.connect()
    _register(con, config, {"h": T.GROUP_PROPERTY_HISTORY, "a": T.ATTRIBUTED_EVENTS}, as_of_time)
    moment = end_of(now)
    stored = _distinct_values(con, group_type, q.property, moment)
    if not stored:
        sql = f"SELECT DISTINCT {C.PROPERTY} FROM h WHERE {C.GROUP_TYPE} = $type ORDER BY 1"
        props = [r[0] for r in con.execute(sql, {"type": group_type}).fetchall()]
        listed = ", ".join(props[:MAX_LISTED_VALUES]) + (" ..." if len(props) > 10 else "")
        return (
            f"no {group_type} had a property {q.property!r} by {now}; "
            f"{group_type} properties: {listed or 'none'}"
        )
    wanted = [v for v in stored if values.value_matches(v, q.value)]
    if not wanted:
        decoded = sorted({values.decoded_text(v) or "" for v in stored})
        more = f" (and {len(decoded) - MAX_LISTED_VALUES} more)" if len(decoded) > 10 else ""
        listed = ", ".join(decoded[:MAX_LISTED_VALUES])
        return f"no {group_type} had {q.property} = {q.value} by {now}; values: {listed}{more}"
    sql = f"""
        SELECT count(DISTINCT h.{C.GROUP_VALUE}), max(a.{C.EVENT_DATE}) FROM h
        LEFT JOIN a ON a.{C.GROUP_TYPE} = h.{C.GROUP_TYPE} AND a.{C.GROUP_VALUE} = h.{C.GROUP_VALUE}
            AND a.{C.EVENT_DATE} <= $now
        WHERE h.{C.GROUP_TYPE} = $type AND h.{C.PROPERTY} = $prop AND h.{C.VALID_FROM} < $moment
          AND list_contains($wanted, h.{C.VALUE})
    """
    params = {
        "type": group_type,
        "prop": q.property,
        "moment": moment,
        "wanted": wanted,
        "now": now,
    }
    groups, last = con.execute(sql, params).fetchone()
    seen = f"the latest activity of any of them was on {last}" if last else "none has any event"
    return (
        f"{groups} {group_type} group(s) had {q.property} = {q.value}, but none was active from "
        f"{active_since(now)} to {now} (the six months before --now); {seen}"
    )


def _properties(
    con: duckdb.DuckDBPyConnection, group_type: str, group_value: str, now: dt.date
) -> dict[str, Any]:
    sql = (
        f"SELECT {C.PROPERTIES} FROM v WHERE {C.GROUP_TYPE} = $type "
        f"AND {C.GROUP_VALUE} = $value AND {_IN_FORCE} ORDER BY {C.VERSION} DESC LIMIT 1"
    )
    params = {"type": group_type, "value": group_value, "moment": end_of(now)}
    rows = lake.rows_of(lake.query(con, sql, params))
    props = rows[0][C.PROPERTIES] if rows else {}
    return {k: _decoded(v) for k, v in sorted((props or {}).items())}


def _decoded(value: str | None) -> Any:
    """Stored JSON text -> Python value (as ``account._decoded``): text that is not JSON stays."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def account_view(
    config: ProjectConfig,
    group_type: str,
    group_value: str,
    now: dt.date,
    recent: int = 20,
    as_of_time: str | None = None,
) -> AccountView:
    """The account view of one group as known at the end of ``now`` (``account.account_view``).

    InputError when the group has neither properties nor events by then.
    """
    check_group_type(config, group_type, allow_user=False)
    if not 0 <= recent <= MAX_RECENT:
        raise InputError(f"recent must be from 0 to {MAX_RECENT}; found {recent}")
    con = lake.connect()
    _register(con, config, {"a": T.ATTRIBUTED_EVENTS, "v": T.GROUP_VERSIONS}, as_of_time)
    events = (
        f"WITH e AS (SELECT * FROM a WHERE {C.GROUP_TYPE} = $type "
        f"AND {C.GROUP_VALUE} = $value AND {C.EVENT_TIME} < $end) "
    )
    group = {"type": group_type, "value": group_value, "end": end_of(now)}
    since = now - dt.timedelta(days=RECENT_DAYS - 1)
    stats_sql = (
        events
        + f"""
        SELECT min({C.EVENT_TIME}) AS first_seen, max({C.EVENT_TIME}) AS last_seen,
               count(*) FILTER (WHERE {C.EVENT_DATE} >= $since) AS events_30d,
               count(DISTINCT {C.USER_KEY}) FILTER (WHERE {C.EVENT_DATE} >= $since) AS users_30d
        FROM e
    """
    )
    [stats] = lake.rows_of(lake.query(con, stats_sql, {**group, "since": since}))
    properties = _properties(con, group_type, group_value, now)
    if stats["first_seen"] is None and not properties:
        raise InputError(
            f"no {group_type} {group_value!r} known on {now} (no events, no properties)"
        )
    recent_sql = events + (
        f"SELECT * FROM e ORDER BY {C.EVENT_TIME} DESC, {C.EVENT_ID} DESC LIMIT {int(recent)}"
    )
    rows = lake.rows_of(lake.query(con, recent_sql, group))
    name = properties.get(config.group_type(group_type).name_property)
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


def raw_records(config: ProjectConfig, event_ids: Sequence[str]) -> list[RawRecord]:
    """The bronze raw lines behind ``event_ids``, in that order (``account.raw_records``)."""
    ids = list(dict.fromkeys(event_ids))[:MAX_RECENT]
    if not ids:
        return []
    con = lake.connect()
    _register(con, config, {"s": T.SILVER_EVENTS, "b": T.BRONZE_RECORDS}, None)
    sql = f"""
        WITH p AS (
            SELECT DISTINCT ON ({C.EVENT_ID}) {C.EVENT_ID}, {C.SOURCE_FILE}, {C.LINE_NUMBER},
                   {C.RECORD_INDEX}
            FROM s WHERE list_contains($ids, {C.EVENT_ID})),
        l AS (
            SELECT DISTINCT ON ({C.SOURCE_FILE}, {C.LINE_NUMBER}) {C.SOURCE_FILE}, {C.LINE_NUMBER},
                   {C.RAW}
            FROM b WHERE list_contains($files, {C.SOURCE_FILE}))
        SELECT p.*, l.{C.RAW} FROM p LEFT JOIN l USING ({C.SOURCE_FILE}, {C.LINE_NUMBER})
    """
    files_sql = f"SELECT DISTINCT {C.SOURCE_FILE} FROM s WHERE list_contains($ids, {C.EVENT_ID})"
    files = [r[0] for r in con.execute(files_sql, {"ids": ids}).fetchall()]
    found = {
        r[C.EVENT_ID]: r for r in lake.rows_of(lake.query(con, sql, {"ids": ids, "files": files}))
    }
    out = []
    for event_id in ids:
        r = found.get(event_id)
        out.append(
            RawRecord(event_id, r[C.SOURCE_FILE], r[C.LINE_NUMBER], r[C.RECORD_INDEX], r[C.RAW])
            if r else RawRecord(event_id, None, None, None, None)
        )  # fmt: skip
    return out
