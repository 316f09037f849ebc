"""Import a tracking plan from a planning workbook's taxonomy tab saved as CSV.

Columns (header row, any order, case and spacing ignored): ``event, property, type, required,
group type, description``. Each row is one of:

- ``event`` without ``property``: a plain event (its description is kept);
- ``event`` and ``property``: an event property (``type``; ``required`` yes/no);
- ``group type`` and ``property``: a group property of that type (``type``).

Blank rows are skipped. The result is the ``tracking_plan:`` section of a project config::

    plan = import_tracking_plan("conf/tracking_plan.example.csv")
    print(render_tracking_plan_yaml(plan))

Errors raise ``InputError`` naming the file, the line and the column::

    plan.csv:7: column 'type': unknown type 'date'; allowed: string, number, boolean, list, any

Spark-free.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from groupetl.config import PROPERTY_TYPES
from groupetl.errors import InputError

COLUMNS = ("event", "property", "type", "required", "group type", "description")
# Names planning tools use for the config's types.
TYPE_SYNONYMS = {"array": "list", "bool": "boolean"}
_YES = ("yes", "y", "true", "1", "x", "required")
_NO = ("", "no", "n", "false", "0", "optional")


class _Row:
    """One CSV row with its line, for messages that point at a cell."""

    def __init__(self, source: Path, line: int, cells: dict[str, str]):
        self.source, self.line, self.cells = source, line, cells

    def __getitem__(self, column: str) -> str:
        return self.cells.get(column, "").strip()

    def error(self, column: str | None, message: str) -> InputError:
        where = f"{self.source}:{self.line}: " + (f"column {column!r}: " if column else "")
        return InputError(where + message)


def import_tracking_plan(csv_path: str | Path) -> dict[str, Any]:
    """Read the taxonomy CSV into the ``tracking_plan`` section (``events``, ``group_properties``).

    In: the CSV path. Out: a dict ready for YAML (events in first-seen order, each with
    ``name`` and, when present, ``properties``, ``required``, ``description``). Raises
    ``InputError`` naming file, line and column.
    """
    events: dict[str, dict[str, Any]] = {}
    group_properties: dict[str, dict[str, str]] = {}
    for row in _rows(Path(csv_path)):
        event, prop, group_type = row["event"], row["property"], row["group type"]
        if not (event or prop or group_type):
            continue
        if event and group_type:
            raise row.error("group type", "a row is an event row or a group property row, not both")
        if group_type:
            if not prop:
                raise row.error("property", f"group type {group_type!r} needs a property name")
            _no_required(row, "a group property")
            _add_property(row, group_properties.setdefault(group_type, {}), prop)
        elif event:
            entry = events.setdefault(event, {"name": event})
            if prop:
                _add_property(row, entry.setdefault("properties", {}), prop)
                if _required(row):
                    entry.setdefault("required", []).append(prop)
            else:
                _no_required(row, "an event without property")
                if row["description"]:
                    entry["description"] = row["description"]
        else:
            raise row.error("event", f"property {prop!r} needs an event or a group type")
    plan: dict[str, Any] = {"events": list(events.values())}
    if group_properties:
        plan["group_properties"] = group_properties
    return plan


def render_tracking_plan_yaml(plan: dict[str, Any]) -> str:
    """The ``tracking_plan:`` section as YAML text, to paste into a project config."""
    return yaml.safe_dump(
        {"tracking_plan": plan}, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def _rows(source: Path) -> Iterator[_Row]:
    """The CSV's data rows, each with its 1-based starting line; checks the header first."""
    try:
        handle = source.open(encoding="utf-8-sig", newline="")  # -sig: Excel's byte-order mark
    except OSError as exc:
        raise InputError(f"{source}: cannot read tracking plan CSV: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        header = [_column(h) for h in next(reader, [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            found = ", ".join(h for h in header if h) or "none"
            raise InputError(
                f"{source}:1: missing column {missing[0]!r}; expected columns: "
                f"{', '.join(COLUMNS)}; found: {found}"
            )
        line = reader.line_num + 1
        for cells in reader:
            # A quoted cell may span lines: the row starts where the previous one ended.
            yield _Row(source, line, dict(zip(header, cells, strict=False)))
            line = reader.line_num + 1


def _column(name: str) -> str:
    return " ".join(name.replace("_", " ").lower().split())


def _add_property(row: _Row, properties: dict[str, str], name: str) -> None:
    kind = _type(row)
    if properties.get(name, kind) != kind:
        raise row.error("type", f"{name!r} is listed before with type {properties[name]!r}")
    properties[name] = kind


def _type(row: _Row) -> str:
    raw = row["type"].lower()
    kind = TYPE_SYNONYMS.get(raw, raw) or "any"
    if kind not in PROPERTY_TYPES:
        raise row.error(
            "type", f"unknown type {row['type']!r}; allowed: {', '.join(PROPERTY_TYPES)}"
        )
    return kind


def _required(row: _Row) -> bool:
    value = row["required"].lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise row.error("required", f"expected yes or no, found {row['required']!r}")


def _no_required(row: _Row, what: str) -> None:
    if _required(row):
        raise row.error("required", f"only event properties can be required, not {what}")
