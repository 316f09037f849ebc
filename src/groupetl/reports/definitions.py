"""The ``reports:`` config section: report definitions validated into frozen dataclasses.

Spark-free. ``load_reports(config)`` returns one :class:`SegmentationReport` or
:class:`FunnelReport` per list item, or raises ``ConfigError`` naming file, line and key::

    conf/local.yaml:52: reports[1].steps: a funnel has 2 to 10 steps; found 1

Every report is counted per declared group type or per user (``group_type: user``); the
``docs/reports/*.md`` pages describe each key. Gold table locations live here, not in ``T``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import asdict, dataclass

from groupetl.cohorts.spec import USER, check_cohort_name, parse_cohorts
from groupetl.config import ConfigNode, ProjectConfig, section_node
from groupetl.errors import InputError

GOLD_SEGMENTATION = "gold/segmentation"
GOLD_FUNNELS = "gold/funnels"
GOLD_FUNNEL_GROUPS = "gold/funnel_groups"
GOLD_MICROSCOPE = "gold/microscope"
GOLD_REPORT_STATE = "gold/report_state"

KINDS = ("segmentation", "funnel")
INTERVALS = ("day", "week", "month")
ORDERS = ("this_order", "exact_order", "any_order")
OPS = ("=", "!=", "in", "not in", ">", "<", "contains")
LIST_OPS = ("in", "not in")
NUMERIC_OPS = (">", "<")
TOP_BY = ("events", "uniques", "users")
SCOPES = ("event", "group")
SEGMENT_BY_GROUP = "group"  # ``segment_by: group``: one series per group (or user)
MIN_STEPS, MAX_STEPS = 2, 10
MIN_WINDOW_MS, MAX_WINDOW_MS = 60_000, 366 * 86_400_000
_REPORT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_WINDOW_RE = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$")
_UNIT_MS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60_000),
    **dict.fromkeys(("h", "hour", "hours"), 3_600_000),
    **dict.fromkeys(("d", "day", "days"), 86_400_000),
    **dict.fromkeys(("w", "week", "weeks"), 7 * 86_400_000),
}


@dataclass(frozen=True)
class PropertyRef:
    """``event.<name>`` (the event's property) or ``group.<name>`` (the group's, at event time)."""

    scope: str  # "event" | "group"
    name: str

    @property
    def label(self) -> str:
        return f"{self.scope}.{self.name}"


@dataclass(frozen=True)
class Condition:
    """``prop op values``. Values are decoded text; ``>``/``<`` and numeric ``=`` use ``number``."""

    prop: PropertyRef
    op: str  # one of OPS
    values: tuple[str, ...]
    numbers: tuple[float, ...] = ()  # the values as numbers when every one is numeric


@dataclass(frozen=True)
class CohortRef:
    """A cohort from T.COHORT_MEMBERS that filters the report, or splits it (cohort vs rest)."""

    name: str
    split: bool = False


@dataclass(frozen=True)
class TopN:
    """Keep the ``n`` segments with the most ``by`` over the whole report range."""

    n: int
    by: str  # one of TOP_BY


@dataclass(frozen=True)
class ReportBase:
    name: str
    group_type: str  # a declared group type, or "user"
    property_group_type: str  # whose group properties ``group.*`` refs read (rows taken)
    cohort: CohortRef | None
    date_from: dt.date | None
    date_to: dt.date | None

    @property
    def kind(self) -> str:
        raise NotImplementedError

    @property
    def counts_users(self) -> bool:
        return self.group_type == USER

    def definition_hash(self) -> str:
        """A stable hash of the definition: a change forces a full recompute of the report."""
        text = json.dumps({"kind": self.kind, **asdict(self)}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SegmentationReport(ReportBase):
    events: tuple[str, ...]  # empty: any active event
    where: tuple[Condition, ...]
    interval: str  # one of INTERVALS
    segment_by: PropertyRef | None  # scope "group" with name "" = the group itself
    rolling_days: int | None
    top: TopN | None

    @property
    def kind(self) -> str:
        return "segmentation"


@dataclass(frozen=True)
class FunnelStep:
    event: str
    where: tuple[Condition, ...] = ()

    @property
    def label(self) -> str:
        return self.event + (" (filtered)" if self.where else "")


@dataclass(frozen=True)
class Exclusion:
    """An event that ends an attempt when done between step ``after_step`` and the next one."""

    event: str
    where: tuple[Condition, ...]
    after_step: int | None  # 1-based; None = between any two consecutive steps


@dataclass(frozen=True)
class FunnelReport(ReportBase):
    steps: tuple[FunnelStep, ...]
    window_ms: int
    order: str  # one of ORDERS
    exclusions: tuple[Exclusion, ...]
    breakdown: PropertyRef | None
    same_second_any_order: bool

    @property
    def kind(self) -> str:
        return "funnel"


Report = SegmentationReport | FunnelReport


def load_reports(config: ProjectConfig) -> tuple[Report, ...]:
    """Validate the ``reports:`` section; ``ConfigError`` naming file, line and key on a problem."""
    root = section_node(config, "reports")
    behavioral = {c.name: c.group_type for c in parse_cohorts(config)}
    reports: list[Report] = []
    for item in root.items():
        report = _parse_report(item, config, behavioral)
        if report.name in (r.name for r in reports):
            raise item.child("name").error(f"report {report.name!r} defined twice")
        reports.append(report)
    return tuple(reports)


def select_reports(reports: tuple[Report, ...], names: list[str] | None) -> tuple[Report, ...]:
    """The reports called ``names`` (all when None), or InputError listing the known names."""
    if names is None:
        return reports
    known = {r.name: r for r in reports}
    missing = [n for n in names if n not in known]
    if missing:
        raise InputError(
            f"unknown report(s) {', '.join(missing)}; configured: {', '.join(known) or 'none'}"
        )
    return tuple(known[n] for n in names)


_COMMON = (
    "name",
    "kind",
    "group_type",
    "property_group_type",
    "cohort",
    "from",
    "to",
    "description",
)
_SEGMENTATION_KEYS = (*_COMMON, "events", "where", "interval", "segment_by", "rolling_days", "top")
_FUNNEL_KEYS = (
    *_COMMON,
    "steps",
    "window",
    "order",
    "exclude",
    "breakdown",
    "same_second_any_order",
)


def _parse_report(item: ConfigNode, config: ProjectConfig, behavioral: dict[str, str]) -> Report:
    value = item.mapping()
    kind = item.child("kind").choice("segmentation", KINDS)
    item.mapping(_SEGMENTATION_KEYS if kind == "segmentation" else _FUNNEL_KEYS)
    name = item.child("name").string(required=True)
    if not _REPORT_NAME_RE.match(name):
        raise item.child("name").error(
            "letters, digits, '_', '-' and '.' only (1 to 100), starting with a letter or digit"
        )
    group_type = _group_type(item.child("group_type"), config, allow_user=True)
    if "property_group_type" in value:
        prop_type = _group_type(item.child("property_group_type"), config, allow_user=False)
        if group_type != USER and prop_type != group_type:
            raise item.child("property_group_type").error(
                "only a user report may read another group type's properties"
            )
    else:
        prop_type = group_type if group_type != USER else config.active_group_type_names[0]
    date_from = _date(item.child("from"))
    date_to = _date(item.child("to"))
    if date_from and date_to and date_from > date_to:
        raise item.child("to").error(f"{date_to} is before from ({date_from})")
    common = {
        "name": name,
        "group_type": group_type,
        "property_group_type": prop_type,
        "cohort": _cohort(item.child("cohort"), group_type, behavioral),
        "date_from": date_from,
        "date_to": date_to,
    }
    if kind == "segmentation":
        return _segmentation(item, common)
    return _funnel(item, common)


def _segmentation(item: ConfigNode, common: dict) -> SegmentationReport:
    interval = item.child("interval").choice("day", INTERVALS)
    rolling = None
    if item.child("rolling_days").value is not None:
        rolling = item.child("rolling_days").integer(7, 2, 366)
        if interval != "day":
            raise item.child("rolling_days").error("a rolling window needs interval: day")
    segment_by = None
    if item.child("segment_by").value is not None:
        node = item.child("segment_by")
        if node.value == SEGMENT_BY_GROUP:
            segment_by = PropertyRef("group", "")
        else:
            segment_by = _property_ref(node)
    top = None
    if item.child("top").value is not None:
        node = item.child("top")
        node.mapping(("n", "by"))
        if segment_by is None:
            raise node.error("top needs segment_by (a property, or 'group' for top groups)")
        top = TopN(node.child("n").integer(10, 1, 1000), node.child("by").choice("events", TOP_BY))
    events_node = item.child("events")
    if isinstance(events_node.value, str):
        events = (events_node.string(),)
    else:
        events = tuple(e.string(required=True) for e in events_node.items())
    return SegmentationReport(
        **common,
        events=events,
        where=_conditions(item.child("where")),
        interval=interval,
        segment_by=segment_by,
        rolling_days=rolling,
        top=top,
    )


def _funnel(item: ConfigNode, common: dict) -> FunnelReport:
    steps_node = item.child("steps")
    steps = tuple(_step(s) for s in steps_node.items())
    if not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise steps_node.error(f"a funnel has {MIN_STEPS} to {MAX_STEPS} steps; found {len(steps)}")
    order = item.child("order").choice("this_order", ORDERS)
    if order == "any_order" and len(set(steps)) < len(steps):
        raise steps_node.error("any_order cannot repeat a step (use this_order for A -> A -> B)")
    exclusions = tuple(_exclusion(x, len(steps)) for x in item.child("exclude").items())
    if exclusions and order == "any_order":
        raise item.child("exclude").error("exclusion steps need an ordered funnel (not any_order)")
    breakdown = None
    if item.child("breakdown").value is not None:
        breakdown = _property_ref(item.child("breakdown"))
    return FunnelReport(
        **common,
        steps=steps,
        window_ms=_window(item.child("window")),
        order=order,
        exclusions=exclusions,
        breakdown=breakdown,
        same_second_any_order=item.child("same_second_any_order").boolean(False),
    )


def _step(node: ConfigNode) -> FunnelStep:
    if isinstance(node.value, str):
        return FunnelStep(node.string())
    node.mapping(("event", "where"))
    return FunnelStep(node.child("event").string(required=True), _conditions(node.child("where")))


def _exclusion(node: ConfigNode, n_steps: int) -> Exclusion:
    node.mapping(("event", "where", "between"))
    after = None
    between = node.child("between")
    if between.value is not None:
        pair = [b.integer(1, 1, n_steps) for b in between.items()]
        if len(pair) != 2 or pair[1] != pair[0] + 1:
            raise between.error(f"expected two consecutive step numbers [i, i+1]; found {pair}")
        after = pair[0]
    event = node.child("event").string(required=True)
    return Exclusion(event, _conditions(node.child("where")), after)


def _window(node: ConfigNode) -> int:
    if node.value is None:
        return 86_400_000  # Amplitude's default conversion window: 1 day
    match = _WINDOW_RE.match(str(node.value).lower()) if isinstance(node.value, str) else None
    if not match or match.group(2) not in _UNIT_MS:
        raise node.error(
            f"expected a duration such as '30 minutes', '2h', '7 days'; found {node.value!r}"
        )
    ms = int(match.group(1)) * _UNIT_MS[match.group(2)]
    if not MIN_WINDOW_MS <= ms <= MAX_WINDOW_MS:
        raise node.error("a conversion window is from 1 minute to 366 days")
    return ms


def _conditions(node: ConfigNode) -> tuple[Condition, ...]:
    out = []
    for item in node.items():
        item.mapping(("property", "op", "value", "values"))
        prop = _property_ref(item.child("property"))
        op = item.child("op").choice("=", OPS)
        if op in LIST_OPS:
            if item.child("value").value is not None:
                raise item.child("value").error(f"op {op!r} takes 'values' (a list), not 'value'")
            value_nodes = item.child("values").items()
            if not value_nodes:
                raise item.child("values").error("required: a non-empty list of values")
        else:
            if item.child("values").value is not None:
                raise item.child("values").error(f"op {op!r} takes one 'value'")
            value_nodes = [item.child("value")]
        raw = [v.value for v in value_nodes]
        for v, n in zip(raw, value_nodes, strict=True):
            if v is None or isinstance(v, dict | list):
                raise n.error("expected a string, number or boolean")
        numbers = tuple(float(v) for v in raw if _is_number(v))
        if op in NUMERIC_OPS and len(numbers) != len(raw):
            raise value_nodes[0].error(f"op {op!r} compares numbers; found {raw[0]!r}")
        values = tuple(_text(v) for v in raw)
        out.append(Condition(prop, op, values, numbers if len(numbers) == len(raw) else ()))
    return tuple(out)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _property_ref(node: ConfigNode) -> PropertyRef:
    text = node.string(required=True)
    scope, _, name = text.partition(".")
    if scope not in SCOPES or not name:
        raise node.error(f"expected event.<property> or group.<property>; found {text!r}")
    return PropertyRef(scope, name)


def _group_type(node: ConfigNode, config: ProjectConfig, allow_user: bool) -> str:
    name = node.string(required=True)
    allowed = (*config.active_group_type_names, *((USER,) if allow_user else ()))
    if name not in allowed:
        raise node.error(f"expected one of {', '.join(allowed)}; found {name!r}")
    return name


def _cohort(node: ConfigNode, group_type: str, behavioral: dict[str, str]) -> CohortRef | None:
    if node.value is None:
        return None
    if isinstance(node.value, dict):
        node.mapping(("name", "split"))
        ref = CohortRef(
            node.child("name").string(required=True), node.child("split").boolean(False)
        )
    else:
        ref = CohortRef(node.string())
    try:
        check_cohort_name(ref.name)
    except InputError as exc:
        raise node.error(str(exc)) from None
    if ref.name in behavioral and behavioral[ref.name] != group_type:
        raise node.error(
            f"cohort {ref.name!r} is a cohort of {behavioral[ref.name]}; this report counts "
            f"{group_type}"
        )
    return ref


def _date(node: ConfigNode) -> dt.date | None:
    value = node.value
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise node.error(f"expected a date YYYY-MM-DD, found {value!r}") from None


__all__ = [
    "GOLD_FUNNELS",
    "GOLD_FUNNEL_GROUPS",
    "GOLD_MICROSCOPE",
    "GOLD_REPORT_STATE",
    "GOLD_SEGMENTATION",
    "USER",
    "CohortRef",
    "Condition",
    "Exclusion",
    "FunnelReport",
    "FunnelStep",
    "PropertyRef",
    "Report",
    "SegmentationReport",
    "TopN",
    "load_reports",
    "select_reports",
]
