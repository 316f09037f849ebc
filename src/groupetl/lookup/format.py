"""Text renderings of lookup results, account views and raw records: table, JSON or CSV.

Every function returns a string (no trailing newline); the CLI prints it. The rendering is
``groupetl.output``'s (rich tables fitted to the terminal, CSV with a header, one JSON document).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from pyspark.sql import DataFrame

from groupetl.lookup.account import AccountView, RawRecord
from groupetl.lookup.search import LOOKUP_COLUMNS
from groupetl.output import FORMATS, cell, render_csv, render_json, render_rows, render_table
from groupetl.output import check_format as _check

__all__ = ["FORMATS", "format_account_view", "format_lookup", "format_raw_records", "format_rows"]
RECENT_COLUMNS = (
    "event_time", "event_type", "user_key", "user_id", "device_id", "attribution", "event_id",
)  # fmt: skip
RAW_COLUMNS = ("event_id", "source_file", "line_number", "record_index", "raw")


def lookup_rows(df: DataFrame) -> list[dict[str, Any]]:
    """Collect a ``lookup()`` result (already bounded by its ``limit``) as dicts."""
    return [r.asDict() for r in df.collect()]


def format_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str) -> str:
    """Any rows as a table, JSON (a list of objects with ``columns``) or CSV."""
    return render_rows(rows, columns, fmt)


def format_lookup(rows: Sequence[Mapping[str, Any]], fmt: str = "table") -> str:
    """Lookup rows (``lookup_rows``) as a table, JSON (a list of objects) or CSV."""
    _check(fmt)
    if fmt == "json":
        return render_json([{c: r.get(c) for c in LOOKUP_COLUMNS} for r in rows])
    if fmt == "csv":
        return render_csv(rows, LOOKUP_COLUMNS)
    if not rows:
        return "no matching groups"
    return render_table(rows, LOOKUP_COLUMNS[1:]) + f"\n({len(rows)} groups)"


def _recent_rows(view: AccountView) -> list[dict[str, Any]]:
    return [asdict(e) for e in view.recent]


def format_account_view(view: AccountView, fmt: str = "table") -> str:
    """An account view as text, JSON (the whole view) or CSV (its recent events)."""
    _check(fmt)
    if fmt == "json":
        return render_json(asdict(view))
    if fmt == "csv":
        return render_csv(_recent_rows(view), RECENT_COLUMNS)
    title = f"{view.group_type} {view.group_value}" + (f"  {view.name}" if view.name else "")
    lines = [
        f"{title}  (as of {view.now})",
        f"first seen {cell(view.first_seen) or '-'}   last seen {cell(view.last_seen) or '-'}",
        f"last 30 days: {view.events_30d:,} events, {view.active_users_30d:,} active users",
        "",
        "properties",
    ]
    width = max((len(k) for k in view.properties), default=0)
    lines += [f"  {k.ljust(width)}  {cell(v)}" for k, v in view.properties.items()] or ["  (none)"]
    lines += ["", f"recent events ({len(view.recent)})"]
    if view.recent:
        table = render_table(_recent_rows(view), RECENT_COLUMNS[:-1])
        lines += [f"  {line}" for line in table.splitlines()]
    return "\n".join(lines)


def format_raw_records(records: Sequence[RawRecord], fmt: str = "table") -> str:
    """Raw records as text (one block per record), JSON or CSV."""
    _check(fmt)
    rows = [asdict(r) for r in records]
    if fmt == "json":
        return render_json(rows)
    if fmt == "csv":
        return render_csv(rows, RAW_COLUMNS)
    blocks = []
    for r in records:
        where = (
            f"{r.source_file}:{r.line_number} record {r.record_index}"
            if r.source_file
            else "not found"
        )
        blocks.append(f"# event {r.event_id} ({where})\n{r.raw or ''}")
    return "\n".join(blocks)
