"""Group property operations -> history and versions: one test per row of docs/semantics.md's table.

Every scenario is its own group; all of them go through ``property_history`` and
``group_versions`` together, so the module costs a few Spark jobs, not one per test.
"""

from __future__ import annotations

import itertools
import json

import pytest

from groupetl.properties import (
    NON_NUMERIC_ADD,
    current_group_properties,
    group_versions,
    property_history,
    property_values,
)
from groupetl.schemas import (
    CURRENT_GROUP_PROPERTIES,
    GROUP_PROPERTY_HISTORY,
    GROUP_VERSIONS,
    SILVER_GROUP_PROPERTY_OPS,
)
from reference_attribution import EPOCH, Op, Place, rows

pytestmark = pytest.mark.spark

_line = itertools.count(1)
OPS: list[Op] = []


def op(group, ms, operation, prop, value=None, *, origin="group_identify", record=None, **place):
    """Add one operation; ``record`` reuses a record (same id and place) for several operations."""
    line = record or next(_line)
    OPS.append(
        Op(
            f"r{line}",
            ms,
            "company",
            group,
            operation,
            prop,
            None if value is None else json.dumps(value),
            Place(line_number=line, **place),
            origin,
        )
    )
    return line


op("set", 10, "$set", "plan", "free")
op("set", 20, "$set", "plan", "pro")

op("set_once", 10, "$setOnce", "plan", "free")
op("set_once", 20, "$setOnce", "plan", "pro")

op("set_once_after_set", 10, "$set", "plan", "pro")
op("set_once_after_set", 20, "$setOnce", "plan", "free")

op("unset", 10, "$set", "plan", "pro")
op("unset", 20, "$unset", "plan", "-")

op("unset_then_set", 10, "$set", "plan", "pro")
op("unset_then_set", 20, "$unset", "plan", "-")
op("unset_then_set", 30, "$set", "plan", "enterprise")
op("unset_then_set", 40, "$setOnce", "plan", "free")

# an unset property stays absent while other properties keep changing
op("unset_stays", 10, "$set", "plan", "pro")
op("unset_stays", 15, "$set", "region", "EU")
op("unset_stays", 20, "$unset", "plan", "-")
op("unset_stays", 30, "$set", "region", "US")
op("unset_stays", 40, "$add", "seats", 3)

op("add", 10, "$set", "seats", 5)
op("add", 20, "$add", "seats", 2)
op("add", 30, "$add", "seats", -0.5)

op("add_missing", 10, "$add", "seats", 3)
op("add_missing", 20, "$add", "seats", 4)

op("add_string", 10, "$set", "seats", "many")
op("add_string", 20, "$add", "seats", 1)

op("append", 10, "$append", "tags", "a")
op("append", 20, "$append", "tags", ["b", 1])
op("append", 30, "$set", "owner", "ann")
op("append", 40, "$append", "owner", "bob")

op("prepend", 10, "$prepend", "tags", "a")
op("prepend", 20, "$prepend", "tags", ["b", "c"])
op("prepend", 30, "$set", "seats", 5)
op("prepend", 40, "$prepend", "seats", 4)

op("post_insert", 10, "$set", "tags", ["a", "b"])
op("post_insert", 20, "$postInsert", "tags", ["b", "c", "c"])

op("pre_insert", 10, "$set", "tags", ["a", "b"])
op("pre_insert", 20, "$preInsert", "tags", ["c", "b", "d"])

op("remove", 10, "$set", "tags", ["a", "b", "a", 1])
op("remove", 20, "$remove", "tags", "a")
op("remove", 30, "$remove", "tags", ["b", 1])
op("remove", 40, "$set", "owner", "ann")
op("remove", 50, "$remove", "owner", "ann")

op("clear_all", 10, "$set", "plan", "pro")
op("clear_all", 20, "$set", "region", "EU")
_clear = op("clear_all", 30, "$clearAll", None)
op("clear_all", 30, "$set", "owner", "ann", record=_clear)  # same record: ignored
op("clear_all", 40, "$set", "region", "US")

# the same millisecond in two files: a.json sorts first, so b.json's value is the last one
op("tie_files", 10, "$set", "plan", "from_b", source_file="b.json")
op("tie_files", 10, "$set", "plan", "from_a", source_file="a.json")
# within one millisecond every operation still applies in record order
op("tie_fold", 10, "$set", "seats", 1, source_file="a.json")
op("tie_fold", 10, "$add", "seats", 2, source_file="b.json")

# one record naming a property under two operations: the first in the table's order applies
_both = op("conflict", 10, "$add", "seats", 5)
op("conflict", 10, "$set", "seats", 1, record=_both)

op("origin", 10, "$set", "plan", "pro", origin="crm")
op("origin", 20, "$set", "plan", "pro", origin="group_identify")  # no change: no new row
op("origin", 30, "$set", "plan", "enterprise", origin="event")

op("many", 10, "$set", "plan", "free")
for i in range(1, 41):
    op("many", 10 + i, "$add", "seats", 1)
op("many", 60, "$append", "seats", "x")
op("many", 70, "$add", "seats", 1)


@pytest.fixture(scope="module")
def results(spark):
    ops = spark.createDataFrame(
        rows(OPS, SILVER_GROUP_PROPERTY_OPS.fieldNames()), SILVER_GROUP_PROPERTY_OPS
    )
    # materialized once: versions read the history twice (as the stage reads its Delta table)
    history_df = property_history(ops).localCheckpoint()
    versions_df = group_versions(history_df)
    assert history_df.columns == GROUP_PROPERTY_HISTORY.fieldNames()
    assert versions_df.columns == GROUP_VERSIONS.fieldNames()
    assert current_group_properties(versions_df).columns == CURRENT_GROUP_PROPERTIES.fieldNames()
    history: dict[str, dict[str, list]] = {}
    for r in history_df.collect():
        cell = (r.value, _ms(r.valid_from), _ms(r.valid_to), r.operation, r.origin)
        history.setdefault(r.group_value, {}).setdefault(r.property, []).append(cell)
    for props in history.values():
        for changes in props.values():
            changes.sort(key=lambda c: c[1])
    versions: dict[str, list] = {}
    for r in versions_df.collect():
        cell = (r.version, _ms(r.valid_from), _ms(r.valid_to), dict(r.properties))
        versions.setdefault(r.group_value, []).append(cell)
    flagged = {
        (r.group_value, r.record_id) for r in property_values(ops).filter(NON_NUMERIC_ADD).collect()
    }
    return history, {k: sorted(v) for k, v in versions.items()}, flagged


@pytest.fixture(scope="module")
def history(results):
    return results[0]


@pytest.fixture(scope="module")
def versions(results):
    return results[1]


def _ms(ts):
    return None if ts is None else int((ts - EPOCH).total_seconds() * 1000)


def values(history, group, prop):
    """(value, valid_from, valid_to) of one property's changes."""
    return [c[:3] for c in history[group][prop]]


def test_set_sets_the_value(history):
    assert values(history, "set", "plan") == [('"free"', 10, 20), ('"pro"', 20, None)]


def test_set_once_sets_only_a_property_without_value(history):
    assert values(history, "set_once", "plan") == [('"free"', 10, None)]


def test_set_once_after_set_changes_nothing(history):
    assert values(history, "set_once_after_set", "plan") == [('"pro"', 10, None)]


def test_unset_removes_the_property(history):
    assert values(history, "unset", "plan") == [('"pro"', 10, 20), (None, 20, None)]


def test_unset_then_set_sets_again_and_set_once_sees_the_new_value(history):
    assert values(history, "unset_then_set", "plan") == [
        ('"pro"', 10, 20),
        (None, 20, 30),
        ('"enterprise"', 30, None),
    ]


def test_unset_property_stays_absent_in_every_later_version(history, versions):
    assert values(history, "unset_stays", "plan") == [('"pro"', 10, 20), (None, 20, None)]
    # A "last non-null value" fill would bring plan=pro back in the versions after 20.
    assert [(v[1], v[3]) for v in versions["unset_stays"]] == [
        (10, {"plan": '"pro"'}),
        (15, {"plan": '"pro"', "region": '"EU"'}),
        (20, {"region": '"EU"'}),
        (30, {"region": '"US"'}),
        (40, {"region": '"US"', "seats": "3"}),
    ]


def test_add_adds_to_a_number_and_stays_a_number(history):
    assert values(history, "add", "seats") == [("5", 10, 20), ("7", 20, 30), ("6.5", 30, None)]


def test_add_on_a_missing_property_counts_it_as_zero(history):
    assert values(history, "add_missing", "seats") == [("3", 10, 20), ("7", 20, None)]


def test_add_on_a_string_leaves_it_alone_and_is_reported(history, results):
    assert values(history, "add_string", "seats") == [('"many"', 10, None)]
    assert ("add_string", "r" + str(_record_of("add_string", "$add"))) in results[2]


def _record_of(group, operation):
    return next(
        o.place.line_number for o in OPS if o.group_value == group and o.operation == operation
    )


def test_append_adds_at_the_end_and_turns_a_scalar_into_a_list(history):
    assert values(history, "append", "tags") == [('["a"]', 10, 20), ('["a","b",1]', 20, None)]
    assert values(history, "append", "owner") == [('"ann"', 30, 40), ('["ann","bob"]', 40, None)]


def test_prepend_adds_at_the_front_and_turns_a_scalar_into_a_list(history):
    assert values(history, "prepend", "tags") == [('["a"]', 10, 20), ('["b","c","a"]', 20, None)]
    assert values(history, "prepend", "seats") == [("5", 30, 40), ("[4,5]", 40, None)]


def test_post_insert_appends_only_values_not_already_there(history):
    assert values(history, "post_insert", "tags") == [
        ('["a","b"]', 10, 20),
        ('["a","b","c"]', 20, None),
    ]


def test_pre_insert_prepends_only_values_not_already_there(history):
    assert values(history, "pre_insert", "tags") == [
        ('["a","b"]', 10, 20),
        ('["c","d","a","b"]', 20, None),
    ]


def test_remove_removes_every_occurrence_and_leaves_a_non_list_alone(history):
    assert values(history, "remove", "tags") == [
        ('["a","b","a",1]', 10, 20),
        ('["b",1]', 20, 30),
        ("[]", 30, None),
    ]
    assert values(history, "remove", "owner") == [('"ann"', 40, None)]


def test_clear_all_removes_every_property_and_ignores_the_rest_of_its_record(history, versions):
    assert values(history, "clear_all", "plan") == [('"pro"', 10, 30), (None, 30, None)]
    assert values(history, "clear_all", "region") == [
        ('"EU"', 20, 30),
        (None, 30, 40),
        ('"US"', 40, None),
    ]
    assert "owner" not in history["clear_all"]
    assert [(v[1], v[3]) for v in versions["clear_all"]][-2:] == [
        (30, {}),
        (40, {"region": '"US"'}),
    ]


def test_same_millisecond_ops_in_different_files_apply_in_record_order(history):
    # one change per millisecond: the value after the last record of that millisecond
    assert values(history, "tie_files", "plan") == [('"from_b"', 10, None)]
    assert values(history, "tie_fold", "seats") == [("3", 10, None)]


def test_property_under_two_operations_of_one_record_takes_the_first_in_table_order(history):
    assert values(history, "conflict", "seats") == [("1", 10, None)]


def test_history_keeps_the_origin_of_each_change_and_skips_non_changes(history):
    assert [(c[0], c[1], c[4]) for c in history["origin"]["plan"]] == [
        ('"pro"', 10, "crm"),
        ('"enterprise"', 30, "event"),
    ]


def test_many_adds_are_window_sums_and_a_list_ignores_later_adds(history):
    seats = values(history, "many", "seats")
    assert seats[0] == ("1", 11, 12)
    assert seats[39] == ("40", 50, 60)
    assert seats[40:] == [('[40,"x"]', 60, None)]


def test_versions_number_each_change_time_and_current_is_the_open_one(versions):
    assert versions["set"] == [
        (1, 10, 20, {"plan": '"free"'}),
        (2, 20, None, {"plan": '"pro"'}),
    ]
