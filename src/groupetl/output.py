"""One output convention for every command that prints rows: ``--format table|csv|json``.

- ``table``: a rich table with a header that fits the terminal's width (long cells wrap);
  plain text, no colour codes, when the output is not a terminal.
- ``csv``: a header line, then one line per row; lists joined with `` | ``, maps as JSON,
  nulls empty, times ISO-8601 (UTC).
- ``json``: one JSON document (a list of objects in column order), times ISO-8601 (UTC).

Every function returns a string without a trailing newline; the CLI prints it.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

FORMATS = ("table", "csv", "json")
DEFAULT_WIDTH = 160  # when stdout is not a terminal and COLUMNS is unset


def check_format(fmt: str) -> None:
    """ValueError unless ``fmt`` is one of FORMATS (click checks it first on the CLI)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; found {fmt!r}")


def plain(value: Any) -> Any:
    """A JSON-ready value: datetimes and dates as ISO text, decimals as int or float."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def cell(value: Any) -> str:
    """One value as the text of a table or CSV cell."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " | ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=plain)
    return str(plain(value))


def terminal_width() -> int:
    """The terminal's width (``COLUMNS`` wins), DEFAULT_WIDTH when there is no terminal."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


MAX_CELL = 48  # a longer cell is cut with an ellipsis in tables (csv/json keep it whole)
GAP = 3  # characters between two columns of SIMPLE_HEAD tables


def fitting_columns(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], width: int
) -> dict[str, int]:
    """The leading ``columns`` that fit in ``width`` characters -> the width each gets.

    A column gets the width of its header or its widest cell, at most MAX_CELL; columns are
    kept while they fit whole (at least one is kept, cut to ``width``).
    """
    kept: dict[str, int] = {}
    used = 0
    for c in columns:
        natural = max([len(c), *(min(len(cell(r.get(c))), MAX_CELL) for r in rows)])
        need = natural + (GAP if kept else 0)
        if kept and used + need > width:
            break
        kept[c] = min(natural, width)
        used += need
    return kept


def render_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    title: str | None = None,
    width: int | None = None,
) -> str:
    """Rows as a rich table with a header line, fitted to ``width`` (default: the terminal).

    Columns that do not fit are left out and named in a last line (``--format csv|json`` or
    ``--columns`` show them); cells longer than MAX_CELL end with an ellipsis.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table

    width = width or terminal_width()
    shown = fitting_columns(rows, columns, width)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for c, w in shown.items():
        table.add_column(c, no_wrap=True, overflow="ellipsis", width=w)
    for r in rows:
        table.add_row(*(_cut(cell(r.get(c))) for c in shown))
    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, color_system=None, soft_wrap=False)
    console.print(table)
    lines = [line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines()]
    hidden = [c for c in columns if c not in shown]
    if hidden:
        lines.append(f"({len(hidden)} more columns: {', '.join(hidden)}; see --format csv or json)")
    return "\n".join(([title] if title else []) + lines)


def _cut(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def render_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV with a header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([cell(r.get(c)) for c in columns])
    return buf.getvalue().rstrip("\n")


def render_json(value: Any) -> str:
    """Any result as indented JSON (times as ISO-8601 text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=plain, sort_keys=False)


def render_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: str,
    *,
    title: str | None = None,
) -> str:
    """Rows as a table (with an optional title line), CSV or JSON (a list of objects)."""
    check_format(fmt)
    if fmt == "json":
        return render_json([{c: r.get(c) for c in columns} for r in rows])
    if fmt == "csv":
        return render_csv(rows, columns)
    return render_table(rows, columns, title=title)
