"""Attribution: docs/semantics.md "Attribution: nothing is retroactive", as transforms and as a stage.

The transform scenarios each use their own users and groups and run as one Spark job. The stage
tests write silver Delta tables themselves and run ``attribution.run`` over them incrementally.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest
import yaml

from groupetl import tables
from groupetl.attribution import (
    attribute_events,
    read_attributed,
    read_attributed_with_properties,
    run,
    with_group_properties,
)
from groupetl.config import load_config
from groupetl.membership import membership_history
from groupetl.properties import group_versions, property_history
from groupetl.schemas import (
    ATTRIBUTED_EVENTS,
    SILVER_EVENTS,
    SILVER_GROUP_ASSIGNMENTS,
    SILVER_GROUP_PROPERTY_OPS,
    T,
)
from reference_attribution import Assignment, Event, Op, Place, attribute, rows

pytestmark = pytest.mark.spark

TYPES = ["company", "workspace"]


def place(line, **kw):
    return Place(line_number=line, **kw)


EVENTS = [
    Event("exact_at", 100, "u_exact", place=place(1)),
    Event("exact_before", 99, "u_exact", place=place(2)),
    Event("exact_group_at", 100, "u_none", {"company": ["g_exact"]}, place(3)),
    Event("exact_group_before", 99, "u_none", {"company": ["g_exact"]}, place(4)),
    Event("tie", 100, "u_tie", place=place(5)),
    Event("over_before", 50, "u_over", place=place(6)),
    Event("over_first", 150, "u_over", place=place(7)),
    Event("over_second", 250, "u_over", place=place(8)),
    Event("evt", 100, "u_evt", {"company": ["c_event"]}, place(9)),
    Event("multi", 100, "u_multi", {"workspace": ["w1", "w2", "w1", ""]}, place(10)),
    Event("undeclared", 100, "u_none", {"playlist": ["p1"]}, place(11)),
]
ASSIGNMENTS = [
    Assignment("a1", 100, "u_exact", "company", ["c_exact"], place(101)),
    Assignment("a2", 100, "u_tie", "company", ["from_b"], place(102, source_file="b.json")),
    Assignment("a3", 100, "u_tie", "company", ["from_a"], place(103, source_file="a.json")),
    Assignment("a4", 100, "u_over", "company", ["c1"], place(104)),
    Assignment("a5", 200, "u_over", "company", ["c2"], place(105)),
    Assignment("a6", 0, "u_evt", "company", ["c_user"], place(106)),
    Assignment("a7", 0, "u_evt", "workspace", ["w_user"], place(107)),
    Assignment("a8", 0, "u_multi", "company", ["c1", "c2"], place(108)),
    Assignment("a9", 0, "u_none", "playlist", ["p2"], place(109)),
]
OPS = [
    Op("o1", 100, "company", "g_exact", "$set", "plan", '"pro"', place(201)),
    Op("o2", 100, "company", "from_b", "$set", "plan", '"b"', place(202, source_file="b.json")),
    Op("o3", 100, "company", "from_b", "$set", "plan", '"a"', place(203, source_file="a.json")),
    Op("o4", 100, "company", "c1", "$set", "plan", '"one"', place(204)),
    Op("o5", 180, "company", "c1", "$unset", "plan", "null", place(205)),
]


# docs/attribution.md's worked example
HOUR = 3_600_000
DOC_TIMES = {"e1": 9 * HOUR - 1, "e2": 9 * HOUR, "e3": 10.5 * HOUR, "e4": 11 * HOUR}
DOC_TIMES |= {"e5": 11.5 * HOUR, "e6": 12 * HOUR}
EVENTS += [
    Event(f"doc_{e}", int(t), "u_doc", {"company": ["umbrella"]} if e == "e5" else {}, place(300))
    for e, t in DOC_TIMES.items()
]
ASSIGNMENTS += [
    Assignment("d1", 9 * HOUR, "u_doc", "company", ["acme"], place(301)),
    Assignment("d2", 11 * HOUR, "u_doc", "company", ["globex"], place(302, source_file="a.json")),
    Assignment(
        "d3", 11 * HOUR, "u_doc", "company", ["initech", "acme"], place(303, source_file="b.json")
    ),
]
OPS += [
    Op("d4", 9 * HOUR, "company", "acme", "$set", "plan", '"free"', place(304)),
    Op("d5", 10 * HOUR, "company", "acme", "$add", "seats", "5", place(305)),
    Op("d6", 12 * HOUR, "company", "acme", "$unset", "plan", "null", place(306)),
]


def silver(spark, records, schema):
    return spark.createDataFrame(rows(records, schema.fieldNames()), schema)


@pytest.fixture(scope="module")
def attributed_rows(spark):
    """Every attributed row of the scenarios, with its group's properties."""
    events = silver(spark, EVENTS, SILVER_EVENTS)
    membership = membership_history(silver(spark, ASSIGNMENTS, SILVER_GROUP_ASSIGNMENTS))
    history = property_history(silver(spark, OPS, SILVER_GROUP_PROPERTY_OPS)).localCheckpoint()
    versions = group_versions(history).localCheckpoint()
    result = attribute_events(events, membership, versions, TYPES)
    assert result.columns == ATTRIBUTED_EVENTS.fieldNames()
    return with_group_properties(result, versions).collect()


@pytest.fixture(scope="module")
def attributed(attributed_rows):
    """(event_id, group_type) -> sorted [(group_value, attribution, properties)]."""
    out: dict[tuple, list] = {}
    for r in attributed_rows:
        props = None if r.properties is None else dict(r.properties)
        out.setdefault((r.event_id, r.group_type), []).append((r.group_value, r.attribution, props))
    return {k: sorted(v, key=lambda x: str(x[0])) for k, v in out.items()}


def test_worked_example_of_the_docs(attributed_rows):
    company = sorted(
        (r.event_id[4:], r.group_value or "", r.attribution, r.group_version, r.properties)
        for r in attributed_rows
        if r.event_id.startswith("doc_") and r.group_type == "company"
    )
    assert company == [
        ("e1", "", "none", None, None),
        ("e2", "acme", "user", 1, {"plan": '"free"'}),
        ("e3", "acme", "user", 2, {"plan": '"free"', "seats": "5"}),
        ("e4", "acme", "user", 2, {"plan": '"free"', "seats": "5"}),
        ("e4", "initech", "user", None, None),
        ("e5", "umbrella", "event", None, None),
        ("e6", "acme", "user", 3, {"seats": "5"}),
        ("e6", "initech", "user", None, None),
    ]


def test_change_at_the_event_millisecond_applies_to_the_event(attributed):
    assert attributed["exact_at", "company"] == [("c_exact", "user", None)]
    assert attributed["exact_before", "company"] == [(None, "none", None)]
    assert attributed["exact_group_at", "company"] == [("g_exact", "event", {"plan": '"pro"'})]
    assert attributed["exact_group_before", "company"] == [("g_exact", "event", None)]


def test_same_millisecond_changes_in_different_files_resolve_in_record_order(attributed):
    # a.json sorts before b.json: b.json's assignment and b.json's $set are the later ones
    assert attributed["tie", "company"] == [("from_b", "user", {"plan": '"b"'})]


def test_later_user_level_assignment_overwrites_earlier_from_its_time_on(attributed):
    assert attributed["over_before", "company"] == [(None, "none", None)]
    assert attributed["over_first", "company"] == [("c1", "user", {"plan": '"one"'})]
    assert attributed["over_second", "company"] == [("c2", "user", None)]


def test_event_level_group_overrides_user_level_group_of_same_type_only(attributed):
    assert attributed["evt", "company"] == [("c_event", "event", None)]
    assert attributed["evt", "workspace"] == [("w_user", "user", None)]


def test_multi_valued_groups_give_one_row_per_distinct_value(attributed):
    assert [r[:2] for r in attributed["multi", "company"]] == [("c1", "user"), ("c2", "user")]
    assert [r[:2] for r in attributed["multi", "workspace"]] == [("w1", "event"), ("w2", "event")]


def test_undeclared_types_are_ignored_and_groupless_events_are_kept(attributed):
    assert attributed["undeclared", "company"] == [(None, "none", None)]
    assert attributed["undeclared", "workspace"] == [(None, "none", None)]
    assert {k[1] for k in attributed} == set(TYPES)


def test_transform_scenarios_agree_with_the_reference(attributed):
    expected: dict[tuple, list] = {}
    for r in attribute(EVENTS, ASSIGNMENTS, OPS, TYPES):
        row = (r["group_value"], r["attribution"], r["properties"])
        expected.setdefault((r["event_id"], r["group_type"]), []).append(row)
    got = {k: [(v, a, p or {}) for v, a, p in rows_] for k, rows_ in attributed.items()}
    assert got == {k: sorted(v, key=lambda x: str(x[0])) for k, v in expected.items()}


# --- the stage over Delta tables ------------------------------------------------------------------

DAY = 86_400_000


def project(tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    conf = tmp_path / "conf.yaml"
    conf.write_text(
        yaml.safe_dump({"project": "t", "paths": {"root": str(tmp_path)}, "group_types": TYPES})
    )
    return load_config(conf)


def load(spark, config, events=(), assignments=(), ops=(), batch="b1", ops_table=None):
    """Append records to the silver tables as one ingest batch would (``ops_table``: put the
    operations in another table, e.g. the derived operations of CRM sync)."""
    for records, name, schema in (
        (events, T.SILVER_EVENTS, SILVER_EVENTS),
        (assignments, T.SILVER_GROUP_ASSIGNMENTS, SILVER_GROUP_ASSIGNMENTS),
        (ops, ops_table or T.SILVER_GROUP_PROPERTY_OPS, SILVER_GROUP_PROPERTY_OPS),
    ):
        if records:
            stamped = [_in_batch(r, batch) for r in records]
            tables.append(silver(spark, stamped, schema), config.paths.table(name))


def _in_batch(record, batch):
    return replace(record, place=replace(record.place, batch_id=batch))


def snapshot(spark, config):
    """Every output table as a sorted list of plain tuples (maps as sorted items)."""

    def plain(v):
        return tuple(sorted(v.items())) if isinstance(v, dict) else v

    out = {}
    for name in (
        T.MEMBERSHIP_HISTORY,
        T.GROUP_PROPERTY_HISTORY,
        T.GROUP_VERSIONS,
        T.CURRENT_GROUP_PROPERTIES,
        T.ATTRIBUTED_EVENTS,
    ):
        df = tables.read(spark, config.paths.table(name))
        df = df.drop("batch_id")  # the one column that says how the input was cut
        out[name] = sorted((tuple(plain(v) for v in r) for r in df.collect()), key=repr)
    return out


def random_history(seed=7):
    """Three days of events, assignments and property operations, with ties and list ops."""
    rnd = random.Random(seed)
    users, groups = ["u1", "u2", "u3"], ["c1", "c2", "c3"]
    line = iter(range(1, 10_000))

    def at():
        return rnd.randrange(3) * DAY + rnd.randrange(6) * 1000

    def where():
        return Place(source_file=rnd.choice(["a.json", "b.json"]), line_number=next(line))

    events = [
        Event(
            f"e{i}",
            at(),
            rnd.choice(users),
            {"company": [rnd.choice(groups)]} if rnd.random() < 0.2 else {},
            where(),
        )
        for i in range(40)
    ]
    assignments = [
        Assignment(
            f"a{i}",
            at(),
            rnd.choice(users),
            rnd.choice(TYPES),
            rnd.sample(groups, rnd.randint(1, 2)),
            where(),
        )
        for i in range(12)
    ]
    ops_ = []
    for i in range(30):
        operation = rnd.choice(["$set", "$set", "$add", "$append", "$unset", "$setOnce"])
        value = json.dumps(rnd.choice([1, 2, "x"]))
        prop = rnd.choice(["plan", "seats"])
        ops_.append(
            Op(f"o{i}", at(), "company", rnd.choice(groups), operation, prop, value, where())
        )
    return events, assignments, ops_


def four_batches(events, assignments, ops_):
    """The records cut into 4 batches in an order no clock gives: every batch holds records of
    every day, and changes arrive both before and after the events they apply to: events alone
    (no history yet), then changes that restate them, then events after those changes, then late
    changes together with the last events (restating both earlier event batches while new events
    arrive). Events and changes are mostly kept apart: a batch of changes is what costs (a
    restating run took 25-29 s, an events-only one 7 s, measured). This was 7 batches (events,
    changes, events, events, changes, events, events): the two events-only batches that came
    right after another events-only batch added no case and were dropped, and the events after
    the second changes now arrive with them, a case the 7 batches lacked (124 s -> 120 s: most
    of the time is in the change batches and the one-batch run)."""
    rnd = random.Random(3)
    e, a, o = (rnd.sample(x, len(x)) for x in (events, assignments, ops_))
    return [e[:12], [*o[:15], *a[:6]], e[12:26], [*o[15:], *a[6:], *e[26:]]]


def test_one_batch_and_four_shuffled_batches_give_identical_tables(spark, tmp_path):
    events, assignments, ops_ = random_history()
    one = project(tmp_path / "one")
    load(spark, one, events[::-1], assignments[::-1], ops_[::-1])
    run(spark, one)

    four = project(tmp_path / "four")
    restated = []
    for b, batch in enumerate(four_batches(events, assignments, ops_)):
        load(
            spark,
            four,
            [r for r in batch if isinstance(r, Event)],
            [r for r in batch if isinstance(r, Assignment)],
            [r for r in batch if isinstance(r, Op)],
            batch=f"b{b}",
        )
        restated.append(run(spark, four).counts["rows_restated"])
    # the late changes of batches 1 and 3 restate rows of the earlier event batches
    assert restated[1] > 0 and restated[3] > 0, restated

    assert snapshot(spark, four) == snapshot(spark, one)
    got = [
        (r.event_id, r.group_type, r.group_value, r.attribution, dict(r.properties or {}))
        for r in read_attributed_with_properties(spark, one).collect()
    ]
    expected = [
        (r["event_id"], r["group_type"], r["group_value"], r["attribution"], r["properties"])
        for r in attribute(events, assignments, ops_, TYPES)
    ]
    assert sorted(got, key=str) == sorted(expected, key=str)


def plans(df):
    """event_id -> the company's plan property at event time."""
    return {
        r.event_id: (r.properties or {}).get("plan")
        for r in df.filter("group_type = 'company'").collect()
    }


def test_late_group_identify_restates_later_events_but_never_earlier_ones(spark, tmp_path):
    config = project(tmp_path)
    early, late = Event("early", 1000, "u1"), Event("late", DAY + 5000, "u1")
    load(
        spark,
        config,
        [early, late],
        [Assignment("a1", 0, "u1", "company", ["c1"], place(2))],
        [Op("o1", 0, "company", "c1", "$set", "plan", '"free"', place(3))],
    )
    first = run(spark, config)
    assert first.counts["rows_written"] == 4  # 2 events x 2 declared types
    assert plans(read_attributed_with_properties(spark, config)) == {
        "early": '"free"',
        "late": '"free"',
    }
    version_before = tables.version(spark, config.paths.table(T.ATTRIBUTED_EVENTS))

    # a group identify at 2000 ms arrives after both events were attributed
    late_op = Op("o2", 2000, "company", "c1", "$set", "plan", '"pro"', place(4))
    load(spark, config, ops=[late_op], batch="b2")
    second = run(spark, config)
    assert second.counts["batches_new"] == 1
    assert second.counts["dates_restated"] == 1  # only the late event's date
    assert second.counts["rows_restated"] == 2
    assert any("restated event dates: 1970-01-02" in n for n in second.notes)

    assert plans(read_attributed_with_properties(spark, config)) == {
        "early": '"free"',
        "late": '"pro"',
    }
    # time travel: the attributed table as it was before the late record
    old = read_attributed(spark, config, as_of_version=version_before)
    assert sorted(r.group_version or 0 for r in old.filter("group_type = 'company'").collect()) == [
        1,
        1,
    ]
    assert run(spark, config).counts["batches_new"] == 0


def test_a_batch_changed_after_attribution_is_seen_and_rebuilt(spark, tmp_path):
    # ingest deletes an accepted record of an older batch when a late duplicate displaces it
    config = project(tmp_path)
    groups = {"company": ["c1"]}
    load(spark, config, [Event("kept", 1000, "u1", groups), Event("displaced", DAY, "u1", groups)])
    # CRM sync's derived operations are applied like ingested ones
    crm = Op("o1", 0, "company", "c1", "$set", "plan", '"pro"', place(2), origin="crm")
    load(spark, config, ops=[crm], batch="crm-1970-01-01", ops_table=T.DERIVED_PROPERTY_OPS)
    run(spark, config)
    events_path = config.paths.table(T.SILVER_EVENTS)
    tables.delete_where(spark, events_path, "event_id = 'displaced'")
    result = run(spark, config)
    assert any("batches changed since attributed (rebuilt)" in n for n in result.notes)
    assert plans(read_attributed_with_properties(spark, config)) == {"kept": '"pro"'}
