"""A tiny pure-Python reference of docs/semantics.md's attribution, for tests. Imports nothing from groupetl.

It is written straight from docs/semantics.md ("Time and order", the group property operations
table, "Attribution: nothing is retroactive"), the slow obvious way: for every event it replays
the whole history up to the event's time. Where docs/semantics.md is silent it follows the decisions
written in docs/attribution.md:

- times are compared in whole milliseconds; a change at the event's millisecond applies to it;
- an operation whose value is not JSON, or is JSON null, does nothing; so does ``$add`` of a
  non-number, ``$add`` on a non-number (booleans are not numbers), and ``$remove`` on a non-list;
- list items are equal when their JSON texts are (``1``, ``1.0`` and ``"1"`` differ);
- ``$preInsert``/``$postInsert`` add the new items once each, in the given order;
- a group value list keeps its distinct non-empty values in listed order.

Records are plain dataclasses; ``silver()`` gives the row of the silver table as a dict, so tests
build the same input for Spark and for this reference.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

EPOCH = dt.datetime(1970, 1, 1)
TABLE_ORDER = (
    "$set",
    "$setOnce",
    "$unset",
    "$add",
    "$append",
    "$prepend",
    "$postInsert",
    "$preInsert",
    "$remove",
    "$clearAll",
)
_ABSENT = object()


def at(ms: int) -> dt.datetime:
    """A naive UTC datetime ``ms`` milliseconds after the epoch."""
    return EPOCH + dt.timedelta(milliseconds=ms)


@dataclass(frozen=True)
class Place:
    """Where a record sits in record order besides its time."""

    source_file: str = "f.json"
    line_number: int = 1
    record_index: int = 0
    seq_ms: int | None = None
    batch_id: str = "b1"

    def columns(self) -> dict[str, Any]:
        return {
            "seq_ms": self.seq_ms,
            "source_file": self.source_file,
            "line_number": self.line_number,
            "record_index": self.record_index,
            "batch_id": self.batch_id,
        }


def order_key(time_ms: int, place: Place) -> tuple:
    """Record order: (time, source sequence nulls last, file, line, position)."""
    return (
        time_ms,
        place.seq_ms is None,
        place.seq_ms or 0,
        place.source_file,
        place.line_number,
        place.record_index,
    )


@dataclass(frozen=True)
class Event:
    event_id: str
    time_ms: int
    user_key: str
    groups: dict[str, list[str]] = field(default_factory=dict)
    place: Place = Place()
    event_type: str = "Login"

    def silver(self) -> dict[str, Any]:
        t = at(self.time_ms)
        return {
            "event_id": self.event_id,
            "event_time": t,
            "event_date": t.date(),
            "event_type": self.event_type,
            "user_key": self.user_key,
            "user_id": self.user_key,
            "device_id": None,
            "insert_id": None,
            "event_properties": {},
            "groups": {k: list(v) for k, v in self.groups.items()},
            "source": "amplitude",
            "file_format": "amplitude",
            **self.place.columns(),
        }


@dataclass(frozen=True)
class Assignment:
    record_id: str
    time_ms: int
    user_key: str
    group_type: str
    values: list[str]
    place: Place = Place()

    def silver(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "assigned_at": at(self.time_ms),
            "user_key": self.user_key,
            "group_type": self.group_type,
            "group_values": list(self.values),
            "source": "amplitude",
            "file_format": "amplitude",
            **self.place.columns(),
        }


@dataclass(frozen=True)
class Op:
    record_id: str
    time_ms: int
    group_type: str
    group_value: str
    operation: str
    property: str | None
    value_json: str | None
    place: Place = Place()
    origin: str = "group_identify"

    def silver(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "op_time": at(self.time_ms),
            "group_type": self.group_type,
            "group_value": self.group_value,
            "operation": self.operation,
            "property": self.property,
            "value_json": self.value_json,
            "origin": self.origin,
            "source": "amplitude",
            "file_format": "amplitude",
            **self.place.columns(),
        }


def rows(records: list, names: list[str]) -> list[tuple]:
    """Silver rows as tuples in the column order ``names`` (a schema's field names)."""
    return [tuple(r.silver()[n] for n in names) for r in records]


def canonical(value: Any) -> str:
    """JSON text of a value, the way equality of values and list items is decided."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def clean_values(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        if v is not None and v != "" and v not in out:
            out.append(v)
    return out


def user_groups_at(assignments: list[Assignment], user: str, group_type: str, t: int) -> list[str]:
    """The values of the latest non-empty assignment with time <= t (record order breaks ties)."""
    usable = [
        a
        for a in assignments
        if a.user_key == user
        and a.group_type == group_type
        and a.time_ms <= t
        and clean_values(a.values)
    ]
    if not usable:
        return []
    return clean_values(max(usable, key=lambda a: order_key(a.time_ms, a.place)).values)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _items(v: Any) -> list:
    return list(v) if isinstance(v, list) else [v]


def _as_list(current: Any) -> list:
    if current is _ABSENT:
        return []
    return list(current) if isinstance(current, list) else [current]


def _contains(items: list, item: Any) -> bool:
    return any(canonical(i) == canonical(item) for i in items)


def apply_op(props: dict[str, Any], operation: str, prop: str, value_json: str | None) -> None:
    """Apply one operation to one property of ``props`` (docs/semantics.md table), in place."""
    if operation == "$unset":
        props.pop(prop, None)
        return
    try:
        value = json.loads(value_json) if value_json is not None else None
    except ValueError:
        return
    if value is None:
        return
    current = props.get(prop, _ABSENT)
    if operation == "$set":
        props[prop] = value
    elif operation == "$setOnce":
        if current is _ABSENT:
            props[prop] = value
    elif operation == "$add":
        if _is_number(value) and current is _ABSENT:
            props[prop] = value
        elif _is_number(value) and _is_number(current):
            props[prop] = current + value
    elif operation in ("$append", "$prepend"):
        lst = _as_list(current)
        props[prop] = lst + _items(value) if operation == "$append" else _items(value) + lst
    elif operation in ("$postInsert", "$preInsert"):
        lst = _as_list(current)
        new: list = []
        for item in _items(value):
            if not _contains(lst, item) and not _contains(new, item):
                new.append(item)
        props[prop] = lst + new if operation == "$postInsert" else new + lst
    elif operation == "$remove" and isinstance(current, list):  # a non-list is left alone
        gone = _items(value)
        props[prop] = [i for i in current if not _contains(gone, i)]


def group_properties_at(ops: list[Op], group_type: str, group_value: str, t: int) -> dict[str, Any]:
    """The group's properties after applying, in record order, its operations with time <= t."""
    mine = [
        o
        for o in ops
        if o.group_type == group_type and o.group_value == group_value and o.time_ms <= t
    ]
    records: dict[tuple, list[Op]] = {}
    for o in mine:
        records.setdefault(order_key(o.time_ms, o.place), []).append(o)
    props: dict[str, Any] = {}
    for key in sorted(records):
        record = records[key]
        if any(o.operation == "$clearAll" for o in record):
            props.clear()  # other operations of the record are ignored
            continue
        first: dict[str, Op] = {}
        for o in sorted(
            (o for o in record if o.operation in TABLE_ORDER and o.property is not None),
            key=lambda o: TABLE_ORDER.index(o.operation),
        ):
            first.setdefault(o.property, o)
        for prop, o in first.items():
            apply_op(props, o.operation, prop, o.value_json)
    return props


def attribute(
    events: list[Event],
    assignments: list[Assignment],
    ops: list[Op],
    group_types: list[str],
) -> list[dict[str, Any]]:
    """One dict per (event, declared group type, group value), with the group's properties."""
    out = []
    for e in events:
        for gt in group_types:
            values, how = clean_values(e.groups.get(gt)), "event"
            if not values:
                values, how = user_groups_at(assignments, e.user_key, gt, e.time_ms), "user"
            if not values:
                out.append(_row(e, gt, None, "none", None))
                continue
            for v in values:
                out.append(_row(e, gt, v, how, group_properties_at(ops, gt, v, e.time_ms)))
    return out


def _row(e: Event, gt: str, gv: str | None, how: str, props: dict | None) -> dict[str, Any]:
    return {
        "event_id": e.event_id,
        "group_type": gt,
        "group_value": gv,
        "attribution": how,
        "properties": {k: canonical(v) for k, v in (props or {}).items()},
    }
