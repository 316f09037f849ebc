"""Date defaults that follow the data, not the wall clock.

"Now" for ``lookup``, ``account``, ``cohort compute`` and ``dynamic-properties`` defaults to the
latest event date in the warehouse: on a warehouse whose data ends on 2026-01-14, "today" (say
2026-12-07) would put every window after the data and every answer would be empty. The latest
date is read without a JVM, from the per-file statistics Delta keeps in its log (the
``event_date`` maximum of every data file of ``silver/attributed_events``); a file without
statistics is read (only that column) instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from groupetl import lake
from groupetl.config import ProjectConfig
from groupetl.errors import InputError
from groupetl.schemas import C, T


def latest_event_date(config: ProjectConfig) -> dt.date | None:
    """The latest ``event_date`` of ``silver/attributed_events``; None when it has no rows."""
    path = config.paths.table(T.ATTRIBUTED_EVENTS)
    if not lake.is_table(path):
        return None
    table = lake.open_table(path, T.ATTRIBUTED_EVENTS)
    actions = pa.table(table.get_add_actions(flatten=True))
    column = f"max.{C.EVENT_DATE}"
    if actions.num_rows == 0:
        return None
    if column in actions.column_names and actions[column].null_count == 0:
        return _as_date(pc.max(actions[column]).as_py())
    con = lake.connect()
    con.register("a", lake.dataset(table))
    return _as_date(con.execute(f"SELECT max({C.EVENT_DATE}) FROM a").fetchone()[0])


def _as_date(value: object) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value  # type: ignore[return-value]
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class AsOf:
    """The date a command works "as of", and the note saying where it came from (or None)."""

    date: dt.date
    note: str | None


def resolve(config: ProjectConfig, given: dt.date | None, option: str = "--now") -> AsOf:
    """``given`` when the user gave it; else the latest event date, with a note saying so.

    InputError when nothing was given and the warehouse has no attributed events yet.
    """
    if given is not None:
        return AsOf(given, None)
    latest = latest_event_date(config)
    if latest is None:
        raise InputError(
            f"no attributed events in {config.paths.warehouse} yet (run ingest and attribute), "
            f"or give {option} YYYY-MM-DD"
        )
    return AsOf(latest, f"as of {latest}, the latest event date; use {option} to change")
