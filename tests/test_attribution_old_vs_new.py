"""The broadcast interval-join attribution gives exactly the rows of the sort-merge one it replaced.

``old_attribute_events`` below is ``attribution/join.py``'s ``attribute_events`` as it was before
the broadcast plan (union + window carry-forward over events, twice), copied here verbatim so it
stays the yardstick whatever the module becomes. Every comparison is of multisets of whole rows
(all columns), for each combination of plans (broadcast or sort-merge, per history): hand-made
cases of the tie and overwrite rules, and a small generated dataset run through ingest and the
``attribute`` stage (its written table is compared too).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest
import yaml
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.attribution import attribute_events, run
from groupetl.config import load_config
from groupetl.membership import T_MS, clean_group_values, membership_history, time_ms
from groupetl.properties import group_versions, property_history
from groupetl.schemas import (
    ATTRIBUTED_EVENTS,
    GROUP_VERSIONS,
    MEMBERSHIP_HISTORY,
    SILVER_EVENTS,
    SILVER_GROUP_ASSIGNMENTS,
    SILVER_GROUP_PROPERTY_OPS,
    C,
    T,
)
from reference_attribution import Assignment, Event, Op, Place, rows

pytestmark = pytest.mark.spark

TYPES = ["company", "workspace"]
PLANS = [(True, True), (False, False), (True, False), (False, True)]

# --- the old implementation (attribution/join.py before the broadcast plan) -----------------------

_KIND, _CHANGE, _EVENT = "_kind", 0, 1
_GROUP, _NO_GROUP = "_group", "\u0000none:"
USER_KEY = [C.USER_KEY, C.GROUP_TYPE]
_EVENT_COLUMNS = [
    C.EVENT_ID,
    C.EVENT_TIME,
    C.EVENT_DATE,
    C.EVENT_TYPE,
    C.USER_KEY,
    C.USER_ID,
    C.DEVICE_ID,
    C.EVENT_PROPERTIES,
    C.SOURCE,
    C.BATCH_ID,
]


def old_carry_forward(
    rows_: DataFrame, changes_: DataFrame, key: Sequence[str], carried: str
) -> DataFrame:
    frame = (
        Window.partitionBy(*key)
        .orderBy(T_MS, _KIND)
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    both = rows_.withColumn(_KIND, F.lit(_EVENT)).unionByName(
        changes_.withColumn(_KIND, F.lit(_CHANGE)), allowMissingColumns=True
    )
    return (
        both.withColumn(carried, F.last(carried, ignorenulls=True).over(frame))
        .filter(F.col(_KIND) == _EVENT)
        .drop(_KIND)
    )


def old_events_by_group_type(events: DataFrame, group_types: Sequence[str]) -> DataFrame:
    declared = F.array(*[F.lit(t) for t in group_types])
    values = F.coalesce(
        F.try_element_at(C.GROUPS, F.col(C.GROUP_TYPE)), F.array().cast("array<string>")
    )
    return (
        events.select(*_EVENT_COLUMNS, C.GROUPS, F.explode(declared).alias(C.GROUP_TYPE))
        .withColumn("_event_values", clean_group_values(values))
        .withColumn(T_MS, time_ms(C.EVENT_TIME))
        .drop(C.GROUPS)
    )


def old_attribute_events(
    events: DataFrame, membership: DataFrame, versions: DataFrame, group_types: Sequence[str]
) -> DataFrame:
    per_type = old_events_by_group_type(events, group_types)
    assigned = membership.filter(F.col(C.GROUP_TYPE).isin(*group_types)).select(
        *USER_KEY, time_ms(C.VALID_FROM).alias(T_MS), F.col(C.GROUP_VALUES).alias("_user_values")
    )
    has_event = F.size("_event_values") > 0
    has_user = F.coalesce(F.size("_user_values") > 0, F.lit(False))
    chosen = F.when(has_event, F.col("_event_values")).when(has_user, F.col("_user_values"))
    attribution = F.when(has_event, "event").when(has_user, "user").otherwise("none")
    rows_ = (
        old_carry_forward(per_type, assigned, USER_KEY, "_user_values")
        .withColumn(C.ATTRIBUTION, attribution)
        .withColumn(C.GROUP_VALUE, F.explode_outer(chosen))
        .withColumn(_GROUP, F.coalesce(C.GROUP_VALUE, F.concat(F.lit(_NO_GROUP), C.EVENT_ID)))
    )
    version_starts = versions.filter(F.col(C.GROUP_TYPE).isin(*group_types)).select(
        C.GROUP_TYPE,
        F.col(C.GROUP_VALUE).alias(_GROUP),
        time_ms(C.VALID_FROM).alias(T_MS),
        F.col(C.VERSION).alias(C.GROUP_VERSION),
    )
    versioned = old_carry_forward(rows_, version_starts, [C.GROUP_TYPE, _GROUP], C.GROUP_VERSION)
    return versioned.select(*ATTRIBUTED_EVENTS.fieldNames())


# --- comparison -----------------------------------------------------------------------------------


def multiset(df: DataFrame) -> Counter:
    """All rows of ``df`` as a multiset of plain tuples (maps as sorted items)."""

    def plain(v):
        return tuple(sorted(v.items())) if isinstance(v, dict) else v

    return Counter(tuple(plain(v) for v in r) for r in df.collect())


def assert_same_for_every_plan(events, membership, versions, types=TYPES) -> Counter:
    """New == old for every combination of plans; returns the old rows."""
    old = multiset(old_attribute_events(events, membership, versions, types))
    for broadcast_membership, broadcast_versions in PLANS:
        new = attribute_events(
            events,
            membership,
            versions,
            types,
            broadcast_membership=broadcast_membership,
            broadcast_versions=broadcast_versions,
        )
        assert new.columns == ATTRIBUTED_EVENTS.fieldNames()
        got = multiset(new)
        plan = f"membership broadcast={broadcast_membership}, versions={broadcast_versions}"
        assert got == old, f"{plan}: only new {got - old}, only old {old - got}"
    return old


# --- hand-made cases ------------------------------------------------------------------------------


def p(line: int, file: str = "f.json") -> Place:
    return Place(source_file=file, line_number=line)


EVENTS = [
    # before any membership or property of the user and group
    Event("before_all", 5, "u1", place=p(1)),
    # at the very millisecond of an assignment and of a $set
    Event("at_change", 100, "u1", place=p(2)),
    Event("just_before", 99, "u1", place=p(3)),
    Event("just_after", 101, "u1", place=p(4)),
    # overwritten membership: 100 -> c1, 200 -> [c2, c3]
    Event("after_overwrite", 200, "u1", place=p(5)),
    Event("long_after", 10_000, "u1", place=p(6)),
    # two assignments in one millisecond: b.json is later in record order, so it wins
    Event("tie", 300, "u2", place=p(7)),
    # event-level groups beat user-level ones, per type only; multi-valued, repeated, empty
    Event("event_level", 150, "u1", {"company": ["c9"]}, p(8)),
    Event("multi", 250, "u3", {"workspace": ["w1", "w2", "w1", ""]}, p(9)),
    Event("empty_list", 250, "u1", {"company": []}, p(10)),
    # undeclared type only; a user with no history at all
    Event("undeclared", 250, "u4", {"playlist": ["p1"]}, p(11)),
    # same event time, several events; a late change (after every event) changes nothing
    Event("same_ms_a", 400, "u1", place=p(12)),
    Event("same_ms_b", 400, "u2", {"company": ["c1"]}, p(13)),
    Event("late", 499, "u2", place=p(14)),
]
ASSIGNMENTS = [
    Assignment("a1", 100, "u1", "company", ["c1"], p(101)),
    Assignment("a2", 200, "u1", "company", ["c2", "c3", "c2"], p(102)),
    Assignment("a3", 300, "u2", "company", ["from_a"], p(103, "a.json")),
    Assignment("a4", 300, "u2", "company", ["from_b"], p(104, "b.json")),
    Assignment("a5", 0, "u3", "company", ["c1", "c2"], p(105)),
    Assignment("a6", 0, "u3", "workspace", ["w_user"], p(106)),
    Assignment("a7", 0, "u4", "playlist", ["p2"], p(107)),
    Assignment("a8", 100_000, "u1", "company", ["c_late"], p(108)),
]
OPS = [
    Op("o1", 100, "company", "c1", "$set", "plan", '"free"', p(201)),
    Op("o2", 100, "company", "c1", "$set", "seats", "3", p(202)),  # same ms: one version
    Op("o3", 150, "company", "c9", "$set", "plan", '"pro"', p(203)),
    Op("o4", 200, "company", "c2", "$set", "plan", '"a"', p(204, "a.json")),
    Op("o5", 200, "company", "c2", "$set", "plan", '"b"', p(205, "b.json")),
    Op("o6", 250, "workspace", "w1", "$set", "name", '"one"', p(206)),
    Op("o7", 400, "company", "c1", "$unset", "plan", "null", p(207)),
    Op("o8", 300, "company", "from_b", "$clearAll", None, None, p(208)),
    Op("o9", 100_000, "company", "c1", "$set", "plan", '"late"', p(209)),
]


def silver(spark, records, schema):
    return spark.createDataFrame(rows(records, schema.fieldNames()), schema)


def test_hand_made_cases_give_the_same_rows_with_every_plan(spark):
    events = silver(spark, EVENTS, SILVER_EVENTS)
    membership = membership_history(silver(spark, ASSIGNMENTS, SILVER_GROUP_ASSIGNMENTS))
    history = property_history(silver(spark, OPS, SILVER_GROUP_PROPERTY_OPS))
    membership, versions = membership.localCheckpoint(), group_versions(history).localCheckpoint()
    old = assert_same_for_every_plan(events, membership, versions)
    # the cases are what they claim to be (columns: see ATTRIBUTED_EVENTS)
    names = ATTRIBUTED_EVENTS.fieldNames()
    got = {}
    for r, n in old.items():
        row = dict(zip(names, r, strict=True))
        got.setdefault((row[C.EVENT_ID], row[C.GROUP_TYPE]), []).append(
            (row[C.GROUP_VALUE], row[C.ATTRIBUTION], row[C.GROUP_VERSION], n)
        )
    got = {k: sorted(v, key=repr) for k, v in got.items()}
    assert got["before_all", "company"] == [(None, "none", None, 1)]
    assert got["just_before", "company"] == [(None, "none", None, 1)]
    assert got["at_change", "company"] == [("c1", "user", 1, 1)]
    assert got["after_overwrite", "company"] == [("c2", "user", 1, 1), ("c3", "user", None, 1)]
    # a $clearAll on a group without properties makes no version
    assert got["tie", "company"] == [("from_b", "user", None, 1)]
    assert got["event_level", "company"] == [("c9", "event", 1, 1)]
    assert got["multi", "workspace"] == [("w1", "event", 1, 1), ("w2", "event", None, 1)]
    assert got["multi", "company"] == [("c1", "user", 1, 1), ("c2", "user", 1, 1)]
    assert got["empty_list", "company"] == [("c2", "user", 1, 1), ("c3", "user", None, 1)]
    assert got["undeclared", "company"] == [(None, "none", None, 1)]
    assert got["same_ms_a", "company"] == [("c2", "user", 1, 1), ("c3", "user", None, 1)]
    assert got["same_ms_b", "company"] == [("c1", "event", 2, 1)]
    assert got["long_after", "company"] == [("c2", "user", 1, 1), ("c3", "user", None, 1)]


def test_histories_with_no_rows_give_the_same_rows_with_every_plan(spark):
    events = silver(spark, EVENTS, SILVER_EVENTS)
    membership = spark.createDataFrame([], MEMBERSHIP_HISTORY)
    versions = spark.createDataFrame([], GROUP_VERSIONS)
    old = assert_same_for_every_plan(events, membership, versions)
    assert sum(old.values()) == len(EVENTS) * len(TYPES) + 1  # "multi" has 2 workspaces


# --- generated data, through ingest and the attribute stage ---------------------------------------


@pytest.mark.slow
def test_generated_data_gives_the_same_rows_with_every_plan_and_in_the_stage(spark, tmp_path):
    from groupetl.generate import GeneratorSpec, generate
    from groupetl.ingest import run as ingest

    # every fault kind the generator makes (malformed lines, duplicates, user moves, Segment
    # and export formats), at rates high enough for a few of each in a few hundred records
    spec = GeneratorSpec(
        seed=5,
        companies=4,
        users_per_company=3,
        days=3,
        events=800,
        malformed_share=0.05,
        duplicate_share=0.05,
    )
    generate(spec, tmp_path)
    spec_types = list(spec.group_types)

    def config(name: str, broadcast_rows: int):
        conf = tmp_path / f"{name}.yaml"
        conf.write_text(
            yaml.safe_dump(
                {
                    "project": "generated",
                    "paths": {"root": str(tmp_path)},
                    "group_types": spec_types,
                    "segment": {
                        "group_type_trait": spec.segment_group_type_trait,
                        "group_value_trait": spec.segment_group_value_trait,
                    },
                    "attribution": {"broadcast_history_rows": broadcast_rows},
                }
            )
        )
        return load_config(conf)

    # one warehouse, ingested once, attributed by each plan in turn (the second a full rebuild)
    written = {}
    for name, broadcast_rows in (("broadcast", 1_000_000), ("sort-merge", 0)):
        cfg = config(name, broadcast_rows)
        if not written:
            ingest(spark, cfg)
        result = run(spark, cfg, full_rebuild=bool(written))
        assert f"lookup plans: membership {name}, versions {name}" in result.notes
        written[name] = multiset(tables.read(spark, cfg.paths.table(T.ATTRIBUTED_EVENTS)))

    table = cfg.paths.table
    events = tables.read(spark, table(T.SILVER_EVENTS), SILVER_EVENTS)
    membership = tables.read(spark, table(T.MEMBERSHIP_HISTORY), MEMBERSHIP_HISTORY)
    versions = tables.read(spark, table(T.GROUP_VERSIONS), GROUP_VERSIONS)
    old = assert_same_for_every_plan(events, membership, versions, spec_types)
    assert written["broadcast"] == written["sort-merge"] == old
    # the data exercises what the comparison is about
    names = ATTRIBUTED_EVENTS.fieldNames()
    kinds = Counter(r[names.index(C.ATTRIBUTION)] for r in old.elements())
    assert kinds["user"] and kinds["event"] and kinds["none"], kinds
    assert any(r[names.index(C.GROUP_VERSION)] is not None for r in old)
    assert membership.count() > membership.select(*USER_KEY).distinct().count()  # overwrites
