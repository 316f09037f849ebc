"""The ``retention:`` config section: a list of named retention reports (Spark-free).

::

    retention:
      - name: weekly-report-retention
        group_type: company          # a declared group type, or user
        start_event: Create Report   # or {event: ..., where: [...]}; absent = any active event
        start: first_time            # first_time | any
        return_event: Share Report   # absent = any active event
        period: week                 # day | week | month
        basis: rolling               # rolling (24 h / 7 d / 30 d from the start) | calendar
        measure: on                  # on (exactly period N) | on_or_after (N or later)
        periods: 8                   # periods 0..8
        cohort_dates: {from: 2024-01-01, to: 2024-03-31}
        cohort: {name: Power users, mode: split}   # filter | split
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from groupetl.cohorts.spec import (
    EventCriteria,
    check_cohort_name,
    check_group_type,
    parse_date,
    parse_event_criteria,
    section_node,
)
from groupetl.config import ConfigNode, ProjectConfig
from groupetl.errors import ConfigError, InputError

STARTS = ("first_time", "any")
PERIODS = ("day", "week", "month")
BASES = ("rolling", "calendar")
MEASURES = ("on", "on_or_after")
COHORT_MODES = ("filter", "split")
ROLLING_DAYS = {"day": 1, "week": 7, "month": 30}  # Amplitude's rolling period lengths
DEFAULT_PERIODS = 12


@dataclass(frozen=True)
class CohortRef:
    """A behavioral/imported cohort that filters or splits the report."""

    name: str
    mode: str  # filter | split


@dataclass(frozen=True)
class RetentionSpec:
    """One validated retention report."""

    name: str
    group_type: str
    start_event: EventCriteria
    return_event: EventCriteria
    start: str = "first_time"
    period: str = "week"
    basis: str = "rolling"
    measure: str = "on"
    periods: int = DEFAULT_PERIODS
    cohort_from: dt.date | None = None
    cohort_to: dt.date | None = None
    cohort: CohortRef | None = None

    @property
    def split(self) -> bool:
        return self.cohort is not None and self.cohort.mode == "split"


def _cohort_ref(node: ConfigNode) -> CohortRef | None:
    if node.value is None:
        return None
    if isinstance(node.value, str):
        name, mode = node.value, "filter"
    else:
        node.mapping(("name", "mode"))
        name = node.child("name").string(required=True)
        mode = node.child("mode").choice("filter", COHORT_MODES)
    try:
        check_cohort_name(name)
    except InputError as exc:
        raise node.error(str(exc)) from None
    return CohortRef(name, mode)


def _measure(node: ConfigNode) -> str:
    # YAML 1.1 reads a bare `on` as the boolean true: take it as the measure "on"
    return "on" if node.value is True else node.choice("on", MEASURES)


def _one(item: ConfigNode, config: ProjectConfig) -> RetentionSpec:
    item.mapping(
        (
            "name", "group_type", "start_event", "start", "return_event", "period", "basis",
            "measure", "periods", "cohort_dates", "cohort", "description",
        )
    )  # fmt: skip
    try:
        group_type = check_group_type(config, item.child("group_type").string(required=True))
    except InputError as exc:
        raise item.child("group_type").error(str(exc)) from None
    dates = item.child("cohort_dates")
    dates.mapping(("from", "to"))
    cohort_from = parse_date(dates.child("from")) if dates.child("from").value else None
    cohort_to = parse_date(dates.child("to")) if dates.child("to").value else None
    if cohort_from and cohort_to and cohort_from > cohort_to:
        raise dates.child("to").error(f"{cohort_to} is before from ({cohort_from})")
    return RetentionSpec(
        name=item.child("name").string(required=True),
        group_type=group_type,
        start_event=parse_event_criteria(item.child("start_event")),
        return_event=parse_event_criteria(item.child("return_event")),
        start=item.child("start").choice("first_time", STARTS),
        period=item.child("period").choice("week", PERIODS),
        basis=item.child("basis").choice("rolling", BASES),
        measure=_measure(item.child("measure")),
        periods=item.child("periods").integer(DEFAULT_PERIODS, 1, 400),
        cohort_from=cohort_from,
        cohort_to=cohort_to,
        cohort=_cohort_ref(item.child("cohort")),
    )


def parse_retention(config: ProjectConfig) -> tuple[RetentionSpec, ...]:
    """Validate the ``retention:`` section into RetentionSpecs; ConfigError on any problem."""
    specs: list[RetentionSpec] = []
    for item in section_node(config, "retention").items():
        spec = _one(item, config)
        try:
            check_cohort_name(spec.name)  # report names obey the same rule (used in predicates)
        except InputError as exc:
            raise item.child("name").error(str(exc).replace("cohort", "report")) from None
        if spec.name in (s.name for s in specs):
            raise item.child("name").error(f"retention report {spec.name!r} defined twice")
        specs.append(spec)
    return tuple(specs)


def retention_spec(config: ProjectConfig, name: str) -> RetentionSpec:
    """The retention report called ``name``; ConfigError listing the configured ones otherwise."""
    specs = parse_retention(config)
    for s in specs:
        if s.name == name:
            return s
    known = ", ".join(s.name for s in specs) or "none"
    raise ConfigError(f"{config.source}: retention: no report named {name!r}; configured: {known}")
