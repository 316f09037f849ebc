"""The attribution jobs' physical plans: no join whose cost grows with events x history.

Point-in-time lookups are keyed: a broadcast hash join on the key with the time range as extra
condition, or sort/merge style (union, sort, carry forward). A range join without keys would show
up as a BroadcastNestedLoopJoin or a CartesianProduct. The broadcast plan moves no event: between
the events' scan and the result there is no shuffle and no sort. Planning only: no job runs.
"""

from __future__ import annotations

import re

import pytest

from groupetl.attribution import attribute_events, with_group_properties
from groupetl.membership import membership_history
from groupetl.properties import group_versions, property_history, property_values
from groupetl.schemas import SILVER_EVENTS, SILVER_GROUP_ASSIGNMENTS, SILVER_GROUP_PROPERTY_OPS
from reference_attribution import Assignment, Event, Op, Place, rows

pytestmark = pytest.mark.spark

FORBIDDEN = ("CartesianProduct", "BroadcastNestedLoopJoin")
# Operators that move or sort the rows flowing through them.
MOVES = ("Exchange", "Sort", "SortMergeJoin", "BroadcastExchange", *FORBIDDEN)


def executed_plan(df) -> str:
    return df._jdf.queryExecution().executedPlan().toString()


def over_events(df) -> list[str]:
    """The physical operators on the path from the events' scan to the result of ``df``.

    Planned with adaptive execution (``AdaptiveSparkPlanExec`` holds the initial plan); the
    events' scan is the leaf whose output has ``event_id``.
    """
    plan = df._jdf.queryExecution().executedPlan()
    if plan.nodeName() == "AdaptiveSparkPlan":
        plan = plan.executedPlan()

    def children(node):
        seq = node.children()
        return [seq.apply(i) for i in range(seq.size())]

    def paths(node, above):
        here = [*above, node.nodeName()]
        kids = children(node)
        if not kids:
            return [here] if "event_id" in node.output().toString() else []
        return [path for kid in kids for path in paths(kid, here)]

    found = paths(plan, [])
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def plans(spark):
    def df(records, schema):
        return spark.createDataFrame(rows(records, schema.fieldNames()), schema)

    events = df([Event("e1", 5, "u1", {"company": ["c1"]})], SILVER_EVENTS)
    assignments = df([Assignment("a1", 1, "u1", "company", ["c1"])], SILVER_GROUP_ASSIGNMENTS)
    ops = df(
        [
            Op("o1", 1, "company", "c1", "$set", "plan", '"pro"'),
            Op("o2", 2, "company", "c1", "$clearAll", None, None, Place(line_number=2)),
        ],
        SILVER_GROUP_PROPERTY_OPS,
    )
    membership = membership_history(assignments)
    history = property_history(ops)
    versions = group_versions(history)
    attributed = attribute_events(events, membership, versions, ["company", "workspace"])
    sort_merge = attribute_events(
        events,
        membership,
        versions,
        ["company", "workspace"],
        broadcast_membership=False,
        broadcast_versions=False,
    )
    range_join = events.join(membership, events.event_time >= membership.valid_from, "inner")
    return {
        "a range join (detector check)": executed_plan(range_join),
        "membership_history": executed_plan(membership),
        "property_values": executed_plan(property_values(ops)),
        "property_history": executed_plan(history),
        "group_versions": executed_plan(versions),
        "attribute_events": executed_plan(attributed),
        "attribute_events, sort-merge": executed_plan(sort_merge),
        "over events": over_events(attributed),
        "over events, sort-merge": over_events(sort_merge),
        "with_group_properties": executed_plan(with_group_properties(attributed, versions)),
    }


@pytest.mark.parametrize(
    "job",
    [
        "membership_history",
        "property_values",
        "property_history",
        "group_versions",
        "attribute_events",
        "attribute_events, sort-merge",
        "with_group_properties",
    ],
)
def test_attribution_plans_have_no_cartesian_or_nested_loop_join(plans, job):
    plan = plans[job]
    for operator in FORBIDDEN:
        assert operator not in plan, f"{job} plans a {operator}:\n{plan}"


def test_attribution_joins_are_equi_joins(plans):
    """Every join operator in the attribution plan is a hash or sort-merge join on keys."""
    joins = set(re.findall(r"\b(\w+Join)\b", plans["with_group_properties"]))
    assert joins, "expected the version equi-join"
    assert joins <= {"SortMergeJoin", "BroadcastHashJoin", "ShuffledHashJoin"}, joins


def test_the_detector_sees_a_range_join(plans):
    assert any(op in plans["a range join (detector check)"] for op in FORBIDDEN)


def test_the_broadcast_plan_neither_shuffles_nor_sorts_events(plans):
    """Events flow from their scan through two broadcast hash joins (membership, versions)."""
    path = plans["over events"]
    assert not [op for op in path if op.startswith(MOVES)], path
    assert path.count("BroadcastHashJoin") == 2, path


def test_the_sort_merge_plan_shuffles_and_sorts_events_once_per_lookup(plans):
    """The fallback for histories too big to broadcast: it moves events, as it is meant to."""
    path = plans["over events, sort-merge"]
    assert path.count("Exchange") == 2, path
    assert path.count("Sort") == 2, path
    assert "BroadcastHashJoin" not in path, path
