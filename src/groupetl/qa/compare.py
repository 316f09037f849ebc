"""Compare the taxonomy of two projects: the check before promoting instrumentation test -> prod.

A taxonomy is the set of names a project uses: event types, event properties (``Event.prop``),
group types and group property keys (``type.prop``). It is read from a project's DATA (its silver
tables: what the instrumentation really sends), from its tracking PLAN (config), or both. The
diff lists what one project has and the other has not, per kind.

Example::

    diff = compare_projects(spark, load_config("conf/test.yaml"), load_config("conf/prod.yaml"))
    print("\\n".join(format_taxonomy_diff(diff)))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from groupetl import schemas, tables
from groupetl.config import ProjectConfig
from groupetl.errors import InputError
from groupetl.qa.frames import event_property_pairs, group_type_occurrences
from groupetl.schemas import C, T

SOURCES = ("data", "plan", "both")
_KIND, _NAME = "kind", "name"
KINDS = {
    "events": "events",
    "event_properties": "event properties",
    "group_types": "group types",
    "group_properties": "group properties",
}


@dataclass(frozen=True)
class Taxonomy:
    """The names a project uses, per kind."""

    events: frozenset[str] = frozenset()
    event_properties: frozenset[str] = frozenset()  # "Event.prop"
    group_types: frozenset[str] = frozenset()
    group_properties: frozenset[str] = frozenset()  # "type.prop"

    def __or__(self, other: Taxonomy) -> Taxonomy:
        return Taxonomy(*(getattr(self, f.name) | getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class TaxonomyDiff:
    """Per kind (``KINDS``), the names only project A has and those only project B has."""

    project_a: str
    project_b: str
    source: str
    only_in_a: Mapping[str, tuple[str, ...]]
    only_in_b: Mapping[str, tuple[str, ...]]

    @property
    def is_empty(self) -> bool:
        """True when both projects use exactly the same names."""
        return not any(self.only_in_a.values()) and not any(self.only_in_b.values())


def compare_projects(
    spark: SparkSession, config_a: ProjectConfig, config_b: ProjectConfig, *, source: str = "data"
) -> TaxonomyDiff:
    """What project A's taxonomy has that B's has not, and the reverse.

    In: two project configs (each project's tables are read from its own warehouse; their data
    never mix) and ``source``: ``data`` (silver tables), ``plan`` (tracking plans and declared
    group types) or ``both`` (their union). Out: TaxonomyDiff with sorted names.
    """
    if source not in SOURCES:
        raise InputError(f"taxonomy source must be one of {', '.join(SOURCES)}; found {source!r}")
    a, b = (_taxonomy(spark, c, source) for c in (config_a, config_b))
    only_a = {k: tuple(sorted(getattr(a, k) - getattr(b, k))) for k in KINDS}
    only_b = {k: tuple(sorted(getattr(b, k) - getattr(a, k))) for k in KINDS}
    return TaxonomyDiff(config_a.project, config_b.project, source, only_a, only_b)


def format_taxonomy_diff(diff: TaxonomyDiff) -> list[str]:
    """The diff as printable lines: a headline, then one line per kind and side with names."""
    count = sum(len(v) for v in diff.only_in_a.values()) + sum(
        len(v) for v in diff.only_in_b.values()
    )
    verdict = "identical" if diff.is_empty else f"{count} differences"
    lines = [f"taxonomy {diff.project_a} vs {diff.project_b} ({diff.source}): {verdict}"]
    for kind, label in KINDS.items():
        for project, only in ((diff.project_a, diff.only_in_a), (diff.project_b, diff.only_in_b)):
            if only[kind]:
                lines.append(f"  {label} only in {project}: {', '.join(only[kind])}")
    return lines


def plan_taxonomy(config: ProjectConfig) -> Taxonomy:
    """The taxonomy a project's config plans: events, their properties, declared group types."""
    plan = config.tracking_plan
    return Taxonomy(
        events=frozenset(plan.event_names),
        event_properties=frozenset(f"{e.name}.{p}" for e in plan.events for p in e.properties),
        group_types=frozenset(config.group_type_names),
        group_properties=frozenset(
            f"{gt}.{p}" for gt, props in plan.group_properties.items() for p in props
        ),
    )


def data_taxonomy(spark: SparkSession, config: ProjectConfig) -> Taxonomy:
    """The taxonomy in a project's silver tables (missing tables contribute nothing).

    One Spark job; collects distinct names only: taxonomy-sized (Amplitude caps group types at 5
    and group properties at 1000), never data-sized.
    """
    events = _read(spark, config, T.SILVER_EVENTS, schemas.SILVER_EVENTS)
    assignments = _read(spark, config, T.SILVER_GROUP_ASSIGNMENTS, schemas.SILVER_GROUP_ASSIGNMENTS)
    ops = _read(spark, config, T.SILVER_GROUP_PROPERTY_OPS, schemas.SILVER_GROUP_PROPERTY_OPS)
    ops = ops.unionByName(
        _read(spark, config, T.DERIVED_PROPERTY_OPS, schemas.SILVER_GROUP_PROPERTY_OPS)
    )
    pairs = event_property_pairs(events, config.tracking_plan)
    types = group_type_occurrences(events, assignments, ops)
    names = (
        _named("events", events.select(F.col(C.EVENT_TYPE)))
        .unionByName(_named("event_properties", pairs.select(_dotted(C.EVENT_TYPE, C.PROPERTY))))
        .unionByName(_named("group_types", types.select(C.GROUP_TYPE)))
        .unionByName(_named("group_properties", ops.select(_dotted(C.GROUP_TYPE, C.PROPERTY))))
    )
    found: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for row in _collect_names(names):
        found[row[_KIND]].add(row[_NAME])
    return Taxonomy(**{kind: frozenset(v) for kind, v in found.items()})


def _taxonomy(spark: SparkSession, config: ProjectConfig, source: str) -> Taxonomy:
    if source == "plan":
        return plan_taxonomy(config)
    data = data_taxonomy(spark, config)
    return data | plan_taxonomy(config) if source == "both" else data


def _read(spark: SparkSession, config: ProjectConfig, name: str, schema) -> DataFrame:
    return tables.read(spark, config.paths.table(name), schema)


def _dotted(first: str, second: str) -> Column:
    return F.when(F.col(second).isNotNull(), F.concat_ws(".", first, second))


def _named(kind: str, names: DataFrame) -> DataFrame:
    """(kind, name) rows from a one-column frame of names."""
    return names.toDF(_NAME).select(F.lit(kind).alias(_KIND), _NAME)


def _collect_names(names: DataFrame) -> list[Row]:
    """Collect the distinct non-null (kind, name) rows (taxonomy-sized) to the driver."""
    return names.filter(F.col(_NAME).isNotNull()).distinct().collect()
