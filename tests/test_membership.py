"""Membership history: user-level assignments as validity intervals (docs/semantics.md "Sources of truth").

Every scenario uses its own user, and all run through ``membership_history`` in one Spark job.
"""

from __future__ import annotations

import pytest

from groupetl.membership import membership_history
from groupetl.schemas import MEMBERSHIP_HISTORY, SILVER_GROUP_ASSIGNMENTS
from reference_attribution import EPOCH, Assignment, Place, rows

pytestmark = pytest.mark.spark


def _a(rid, ms, user, values, gtype="company", **place):
    return Assignment(rid, ms, user, gtype, values, Place(line_number=int(rid[1:]), **place))


SCENARIOS = [
    # a later assignment of the same type overwrites the earlier one
    _a("r1", 100, "overwrite", ["c1"]),
    _a("r2", 200, "overwrite", ["c2"]),
    # a list replaces the previous list, it does not add to it
    _a("r3", 100, "list", ["c1", "c2"]),
    _a("r4", 200, "list", ["c3"]),
    # same millisecond, records in different files: record order (file name) decides
    _a("r5", 100, "tie_files", ["from_b"], source_file="b.json"),
    _a("r6", 100, "tie_files", ["from_a"], source_file="a.json"),
    # same millisecond: a source sequence beats file order; a missing sequence sorts last
    _a("r7", 100, "tie_seq", ["seq_null"], source_file="a.json"),
    _a("r8", 100, "tie_seq", ["seq_9"], source_file="b.json", seq_ms=9),
    _a("r9", 100, "tie_seq", ["seq_5"], source_file="c.json", seq_ms=5),
    # an empty list assigns nothing; repeated and empty values count once / not at all
    _a("r10", 100, "empty", ["c1", "c1", ""]),
    _a("r11", 200, "empty", []),
    # group types are independent
    _a("r12", 100, "types", ["c1"]),
    _a("r13", 150, "types", ["w1"], gtype="workspace"),
    _a("r14", 200, "types", ["c2"]),
]


@pytest.fixture(scope="module")
def history(spark):
    """user -> list of (type, values, valid_from ms, valid_to ms, record_id), by type and time."""
    df = spark.createDataFrame(
        rows(SCENARIOS, SILVER_GROUP_ASSIGNMENTS.fieldNames()), SILVER_GROUP_ASSIGNMENTS
    )
    result = membership_history(df)
    assert result.columns == MEMBERSHIP_HISTORY.fieldNames()
    out: dict[str, list] = {}
    for r in result.collect():
        out.setdefault(r.user_key, []).append(
            (r.group_type, r.group_values, _ms(r.valid_from), _ms(r.valid_to), r.record_id)
        )
    return {k: sorted(v, key=lambda x: (x[0], x[2])) for k, v in out.items()}


def _ms(ts):
    return None if ts is None else int((ts - EPOCH).total_seconds() * 1000)


def test_later_assignment_of_same_type_overwrites_earlier(history):
    assert history["overwrite"] == [
        ("company", ["c1"], 100, 200, "r1"),
        ("company", ["c2"], 200, None, "r2"),
    ]


def test_assigned_list_replaces_previous_list(history):
    assert history["list"] == [
        ("company", ["c1", "c2"], 100, 200, "r3"),
        ("company", ["c3"], 200, None, "r4"),
    ]


def test_same_millisecond_assignments_in_different_files_resolve_by_file_order(history):
    # a.json sorts before b.json, so b.json's record is the later one and wins
    assert history["tie_files"] == [("company", ["from_b"], 100, None, "r5")]


def test_same_millisecond_assignments_resolve_by_source_sequence_nulls_last(history):
    assert history["tie_seq"] == [("company", ["seq_null"], 100, None, "r7")]


def test_empty_assignment_assigns_nothing_and_values_count_once(history):
    assert history["empty"] == [("company", ["c1"], 100, None, "r10")]


def test_group_types_have_independent_histories(history):
    assert history["types"] == [
        ("company", ["c1"], 100, 200, "r12"),
        ("company", ["c2"], 200, None, "r14"),
        ("workspace", ["w1"], 150, None, "r13"),
    ]
