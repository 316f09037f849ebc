"""Behavioral cohorts of groups: the ``cohorts:`` rules evaluated on a date into COHORT_MEMBERS.

The universe of a cohort computed on ``as_of`` is every group of its type with at least one
attributed event on or before ``as_of`` (any time in history). Each leaf counts the group's
matching events inside its window (never after ``as_of``), so ``at_most 0`` / ``exactly 0``
select groups of the universe that did not do the event in the window. A group never seen in
the data is in no cohort.

One aggregation per cohort: every leaf becomes a ``count_if`` counter in the same ``groupBy``,
and the and/or tree becomes one boolean expression over those counters.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.cohorts.columns import criteria_matches, entity_events
from groupetl.cohorts.spec import CohortSpec, Leaf, Rule, parse_cohorts
from groupetl.cohorts.store import cohort_rows, replace_cohorts, sql_string
from groupetl.config import ProjectConfig
from groupetl.schemas import ATTRIBUTED_EVENTS, RC, C, T
from groupetl.stages import StageResult

log = logging.getLogger(__name__)


def leaf_counter(leaf: Leaf, as_of: dt.date) -> Column:
    """How many of a group's events match ``leaf`` inside its window on ``as_of`` (a count_if)."""
    first, last = leaf.window.bounds(as_of)
    in_window = F.col(C.EVENT_DATE) <= F.lit(last)
    if first is not None:
        in_window = in_window & (F.col(C.EVENT_DATE) >= F.lit(first))
    return F.count_if(criteria_matches(leaf.criteria) & in_window)


def rule_holds(rule: Rule, counters: list[str], leaves: list[Leaf]) -> Column:
    """Boolean Column of ``rule`` over the per-leaf counter columns (named in ``counters``)."""
    if isinstance(rule, Leaf):
        n = F.col(counters[leaves.index(rule)])
        if rule.count_op == "at_least":
            return n >= rule.n
        return n <= rule.n if rule.count_op == "at_most" else n == rule.n
    parts = [rule_holds(c, counters, leaves) for c in rule.children]
    combined = parts[0]
    for p in parts[1:]:
        combined = (combined & p) if rule.op == "and" else (combined | p)
    return combined


def behavioral_members(events: DataFrame, spec: CohortSpec, as_of: dt.date) -> DataFrame:
    """Entity events of the cohort's group type -> (group_value) of the groups in the cohort.

    In: ``entity_events(...)`` rows (``group_value``, ``event_date``, ``event_type``,
    ``event_properties``). Out: one row per member group.
    """
    leaves = spec.leaves()
    counters = [f"_n{i}" for i in range(len(leaves))]
    aggs = [leaf_counter(leaf, as_of).alias(c) for leaf, c in zip(leaves, counters, strict=True)]
    counts = events.filter(F.col(C.EVENT_DATE) <= F.lit(as_of)).groupBy(C.GROUP_VALUE).agg(*aggs)
    return counts.filter(rule_holds(spec.rule, counters, leaves)).select(C.GROUP_VALUE)


def compute_cohorts(
    spark: SparkSession,
    config: ProjectConfig,
    as_of: dt.date,
    *,
    progress: Callable[[str], None] | None = None,
) -> StageResult:
    """Compute every behavioral cohort of the config on ``as_of`` into T.COHORT_MEMBERS.

    The snapshots of ``as_of`` of those cohorts are replaced in one commit (a re-run of the same
    date gives the same rows); snapshots of other dates are kept. Counts: ``cohorts`` and
    ``members`` (rows written, all cohorts together).
    """
    say = progress or log.info
    specs = parse_cohorts(config)
    result = StageResult("cohorts", tables=[T.COHORT_MEMBERS])
    result.counts["cohorts"] = len(specs)
    if not specs:
        result.notes.append("no cohorts configured (config section 'cohorts:')")
        return result
    attributed = tables.read(spark, config.paths.table(T.ATTRIBUTED_EVENTS), ATTRIBUTED_EVENTS)
    frames = []
    for spec in specs:
        say(f"[cohorts] {spec.name} ({spec.group_type}) as of {as_of}")
        events = entity_events(attributed, spec.group_type, config.group_type_names)
        members = behavioral_members(events, spec, as_of)
        frames.append(cohort_rows(members, spec.name, spec.group_type, "behavioral", as_of))
    rows = frames[0]
    for f in frames[1:]:
        rows = rows.unionByName(f)
    names = ", ".join(sql_string(s.name) for s in specs)
    predicate = f"{RC.AS_OF_DATE} = DATE'{as_of.isoformat()}' AND {RC.COHORT} IN ({names})"
    result.counts["members"] = replace_cohorts(spark, config, rows, predicate)
    result.notes.append(f"as of {as_of}: {', '.join(s.name for s in specs)}")
    return result
