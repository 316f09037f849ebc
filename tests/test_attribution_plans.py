"""The attribution jobs' physical plans: no join whose cost grows with events x history.

Point-in-time lookups must be sort/merge style (union, sort, carry forward, equi-join): a range
join would show up as a BroadcastNestedLoopJoin or a CartesianProduct. Planning only: no job runs.
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


def executed_plan(df) -> str:
    return df._jdf.queryExecution().executedPlan().toString()


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
    range_join = events.join(membership, events.event_time >= membership.valid_from, "inner")
    return {
        "a range join (detector check)": executed_plan(range_join),
        "membership_history": executed_plan(membership),
        "property_values": executed_plan(property_values(ops)),
        "property_history": executed_plan(history),
        "group_versions": executed_plan(versions),
        "attribute_events": executed_plan(attributed),
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
