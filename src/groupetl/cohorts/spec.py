"""The ``cohorts:`` config section, and the event criteria it shares with ``retention:``.

Spark-free: this module only validates YAML into frozen dataclasses; errors name file, line and
key through :class:`groupetl.config.ConfigNode`::

    conf/local.yaml:41: cohorts[0].rule.and[1]: give exactly one of at_least, at_most, exactly

A cohort's ``rule`` is a small tree: a leaf (``event`` done ``at_least`` / ``at_most`` /
``exactly`` N times in a window, with optional event property filters) or ``and:`` / ``or:``
over a list of rules.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from groupetl.config import ConfigNode, ProjectConfig, section_node
from groupetl.errors import InputError

USER = "user"  # the pseudo group type of user-level reports and cohorts (group_value = user key)
FILTER_OPS = ("=", "!=", "in")
COUNT_OPS = ("at_least", "at_most", "exactly")
SOURCES = ("behavioral", "imported", "microscope")
_COHORT_NAME_RE = re.compile(r"^[^\s,;\t\n\r\\'\"][^,;\t\n\r\\'\"]{0,127}$")


@dataclass(frozen=True)
class PropertyFilter:
    """``event_properties[property] op values``; values are compared in decoded text form."""

    property: str
    op: str  # one of FILTER_OPS
    values: tuple[str, ...]


@dataclass(frozen=True)
class EventCriteria:
    """Which events count: ``event`` (None = any active event) and property filters (all hold)."""

    event: str | None = None
    where: tuple[PropertyFilter, ...] = ()

    def describe(self) -> str:
        name = self.event if self.event is not None else "any active event"
        conds = [f"{f.property} {f.op} {'|'.join(f.values)}" for f in self.where]
        return name + (f" where {' and '.join(conds)}" if conds else "")


@dataclass(frozen=True)
class Window:
    """``last_days`` N days ending on the as-of date (inclusive), or ``start``..``end`` inclusive."""

    last_days: int | None = None
    start: dt.date | None = None
    end: dt.date | None = None

    def bounds(self, as_of: dt.date) -> tuple[dt.date | None, dt.date]:
        """First and last event date inside the window on ``as_of`` (never after ``as_of``)."""
        if self.last_days is not None:
            return as_of - dt.timedelta(days=self.last_days - 1), as_of
        end = min(self.end, as_of) if self.end is not None else as_of
        return self.start, end


@dataclass(frozen=True)
class Leaf:
    """The group did events matching ``criteria`` ``count_op`` ``n`` times inside ``window``."""

    criteria: EventCriteria
    count_op: str  # one of COUNT_OPS
    n: int
    window: Window


@dataclass(frozen=True)
class Combo:
    """``and`` / ``or`` of sub-rules."""

    op: str  # "and" | "or"
    children: tuple[Rule, ...]


Rule = Leaf | Combo


@dataclass(frozen=True)
class CohortSpec:
    """One behavioral cohort of the ``cohorts:`` section."""

    name: str
    group_type: str
    rule: Rule

    def leaves(self) -> list[Leaf]:
        """The rule's leaves in depth-first order (their position is their counter's index)."""
        out: list[Leaf] = []

        def walk(r: Rule) -> None:
            if isinstance(r, Leaf):
                out.append(r)
            else:
                for c in r.children:
                    walk(c)

        walk(self.rule)
        return out


def check_group_type(config: ProjectConfig, group_type: str, allow_user: bool = True) -> str:
    """``group_type`` if it is declared (or ``user`` when allowed); InputError otherwise."""
    allowed = (*config.group_type_names, *((USER,) if allow_user else ()))
    if group_type not in allowed:
        raise InputError(f"unknown group type {group_type!r}; expected one of {', '.join(allowed)}")
    return group_type


def check_cohort_name(name: str) -> str:
    """A cohort name: 1-128 characters, no commas, semicolons, quotes, backslashes or tabs."""
    if not _COHORT_NAME_RE.match(name or ""):
        raise InputError(
            f"invalid cohort name {name!r}: 1 to 128 characters, not starting with a space, "
            "without commas, semicolons, quotes, backslashes, tabs or line breaks"
        )
    return name


def members_csv_path(root: Path, name: str) -> Path:
    """Where the members of microscope cohort ``name`` are kept as CSV: ``<root>/microscope/``
    and the name, %-quoted so that any valid cohort name (``/`` included) is one file name.
    ``groupetl microscope --save-cohort`` writes it; the report page links it when present."""
    return root / "microscope" / f"{quote(name, safe=' ')}.csv"


def scalar_text(node: ConfigNode) -> str:
    """A YAML scalar as the text groupetl compares: JSON spelling for booleans."""
    if isinstance(node.value, bool):
        return "true" if node.value else "false"
    return node.string(required=True)


def parse_date(node: ConfigNode) -> dt.date:
    """A YAML date (``2024-01-31``, quoted or not) or a ConfigError naming the key."""
    value = node.value
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise node.error(f"expected a date YYYY-MM-DD, found {value!r}") from None


def parse_event_criteria(node: ConfigNode) -> EventCriteria:
    """``Event Name`` or ``{event: Event Name, where: [...]}``; absent = any active event."""
    if node.value is None:
        return EventCriteria()
    if not isinstance(node.value, dict):
        return EventCriteria(node.string(required=True))
    node.mapping(("event", "where"))
    event = node.child("event").string() if node.child("event").value is not None else None
    return EventCriteria(event, parse_where(node.child("where")))


def parse_where(node: ConfigNode) -> tuple[PropertyFilter, ...]:
    """A list of ``{property: p, op: "=" | "!=" | in, value: v | values: [..]}`` filters."""
    filters = []
    for item in node.items():
        item.mapping(("property", "op", "value", "values"))
        op = item.child("op").choice("=", FILTER_OPS)
        if op == "in":
            if item.child("value").value is not None:
                raise item.child("value").error("op 'in' takes 'values' (a list), not 'value'")
            values = tuple(scalar_text(v) for v in item.child("values").items())
            if not values:
                raise item.child("values").error("required: a non-empty list of values")
        else:
            if item.child("values").value is not None:
                raise item.child("values").error(f"op {op!r} takes one 'value'")
            values = (scalar_text(item.child("value")),)
        filters.append(PropertyFilter(item.child("property").string(required=True), op, values))
    return tuple(filters)


def parse_window(node: ConfigNode) -> Window | None:
    """``{last_days: N}`` or ``{from: date, to: date}`` (either end optional, not both)."""
    if node.value is None:
        return None
    node.mapping(("last_days", "from", "to"))
    if node.child("last_days").value is not None:
        if node.child("from").value is not None or node.child("to").value is not None:
            raise node.error("give either last_days or from/to, not both")
        return Window(last_days=node.child("last_days").integer(30, 1, 36_600))
    start = parse_date(node.child("from")) if node.child("from").value is not None else None
    end = parse_date(node.child("to")) if node.child("to").value is not None else None
    if start is None and end is None:
        raise node.error("give last_days, or from and/or to")
    if start is not None and end is not None and start > end:
        raise node.child("to").error(f"{end} is before from ({start})")
    return Window(start=start, end=end)


def _parse_rule(node: ConfigNode, window: Window | None) -> Rule:
    value = node.mapping()
    combos = [k for k in ("and", "or") if k in value]
    if combos:
        node.mapping(("and", "or"))
        if len(combos) > 1:
            raise node.error("give either 'and' or 'or' at one level, not both")
        items = node.child(combos[0]).items()
        if not items:
            raise node.child(combos[0]).error("expected a non-empty list of rules")
        return Combo(combos[0], tuple(_parse_rule(i, window) for i in items))
    node.mapping(("event", "where", "window", *COUNT_OPS))
    given = [k for k in COUNT_OPS if node.child(k).value is not None]
    if len(given) != 1:
        raise node.error(f"give exactly one of {', '.join(COUNT_OPS)}")
    leaf_window = parse_window(node.child("window")) or window
    if leaf_window is None:
        raise node.error("no window: give one here or on the cohort (last_days or from/to)")
    criteria = EventCriteria(
        node.child("event").string() if node.child("event").value is not None else None,
        parse_where(node.child("where")),
    )
    return Leaf(criteria, given[0], node.child(given[0]).integer(1, 0, 10_000_000), leaf_window)


def parse_cohorts(config: ProjectConfig) -> tuple[CohortSpec, ...]:
    """Validate the ``cohorts:`` section (a list) into CohortSpecs; ConfigError on any problem."""
    root = section_node(config, "cohorts")
    specs: list[CohortSpec] = []
    for item in root.items():
        item.mapping(("name", "group_type", "window", "rule", "description"))
        name = item.child("name").string(required=True)
        try:
            check_cohort_name(name)
        except InputError as exc:
            raise item.child("name").error(str(exc)) from None
        try:
            group_type = check_group_type(config, item.child("group_type").string(required=True))
        except InputError as exc:
            raise item.child("group_type").error(str(exc)) from None
        if name in (s.name for s in specs):
            raise item.child("name").error(f"cohort {name!r} defined twice")
        if item.child("rule").value is None:
            raise item.child("rule").error("required: an event leaf or and/or of leaves")
        rule = _parse_rule(item.child("rule"), parse_window(item.child("window")))
        specs.append(CohortSpec(name, group_type, rule))
    return tuple(specs)
