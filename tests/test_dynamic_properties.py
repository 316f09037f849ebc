"""Dynamic group properties: config refusals, schedules, snapshots, and a computed scenario.

Scenario (company groups; the logical dates run, in this order: 01-05, 01-07, 01-08, then
the config is edited (7 -> 3 days), then 01-12 and a re-run of 01-08):

    G1  u1 12-30 Create Report custom; u1 01-01 Login; u1 01-02 Create Report custom
        u2 01-04 23:00 Create Report custom, 23:30 standard; u2 01-05 09:00 Create Report custom
        u6 01-07 10:00 Login; u1 01-07 23:59:59 Login; u3 01-08 00:00:00 Create Report custom
        u4 01-08 12:00 Login; u7 01-10 Login
    G2  u5 12-31 Login (only)

"Last 7 Day Active Users" (rolling 7 days; 3 days from 01-12) and "Weekly Custom Reports"
(event_totals of Create Report where report_type = custom, ISO week).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import load_config
from groupetl.dynamic_properties import (
    DEFINITIONS,
    DynamicProperty,
    Schedule,
    compute_dynamic_properties,
    parse_dynamic_properties,
    resolve_snapshot,
    run,
)
from groupetl.errors import ConfigError
from groupetl.schemas import ATTRIBUTED_EVENTS, DYNAMIC_DEFINITIONS, SILVER_GROUP_PROPERTY_OPS, C, T

ROLLING, WEEKLY = "Last 7 Day Active Users", "Weekly Custom Reports"

BASE = """\
project: dyn
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name}
  - workspace
"""

CONFIG = (
    BASE
    + """\
dynamic_properties:
  - name: Last 7 Day Active Users
    group_type: company
    metric: active_users
    window: {last_days: 7}
  - name: Weekly Custom Reports
    group_type: company
    metric: event_totals
    event: Create Report
    where: [{property: report_type, op: "=", value: custom}]
    window: week
"""
)


def write_config(folder: Path, text: str) -> Path:
    path = folder / "project.yaml"
    path.write_text(text)
    return path


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# --- config: refused at load with file:line: key ---


@pytest.mark.parametrize(
    ("item", "line", "key", "words"),
    [
        ("metric: frequency\n    window: week", 9, "metric", "frequency metrics"),
        ("metric: property_distribution\n    window: week", 9, "metric", "property-distribution"),
        ("metric: active_users\n    formula: UNIQUES(A)/TOTALS(B)\n    window: week", 10, "formula",
         "formulas"),
        ("metric: active_users\n    window: {from: 2026-01-01, to: 2026-01-31}", 10, "window.from",
         "static date ranges"),
        ("metric: uniques\n    event: Login\n    date_range: {start: 2026-01-01}\n    window: week",
         11, "date_range", "static date ranges"),
    ],
)  # fmt: skip
def test_unsupported_definitions_are_refused_naming_file_line_and_key(
    tmp_path, item, line, key, words
):
    text = BASE + f"dynamic_properties:\n  - name: KPI\n    group_type: company\n    {item}\n"
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        parse_dynamic_properties(load_config(path))
    assert f"{path}:{line}: dynamic_properties[0].{key}:" in str(err.value)
    assert words in str(err.value)


def test_undeclared_group_type_is_refused(tmp_path):
    text = BASE + "dynamic_properties:\n  - {name: KPI, group_type: team, metric: active_users,"
    path = write_config(tmp_path, text + " window: month}\n")
    with pytest.raises(ConfigError, match=r"project.yaml:7: dynamic_properties\[0\].group_type:"):
        parse_dynamic_properties(load_config(path))


def test_event_metrics_need_an_event_and_active_users_takes_none(tmp_path):
    no_event = BASE + "dynamic_properties:\n  - {name: K, group_type: company, metric: uniques,"
    path = write_config(tmp_path, no_event + " window: week}\n")
    with pytest.raises(ConfigError, match=r"dynamic_properties\[0\].event: required"):
        parse_dynamic_properties(load_config(path))
    extra = BASE + "dynamic_properties:\n  - {name: K, group_type: company, metric: active_users,"
    path = write_config(tmp_path, extra + " event: Login, window: week}\n")
    with pytest.raises(ConfigError, match=r"dynamic_properties\[0\].event: active_users"):
        parse_dynamic_properties(load_config(path))


def test_valid_config_parses_into_definitions(tmp_path):
    props = parse_dynamic_properties(load_config(write_config(tmp_path, CONFIG)))
    assert [p.name for p in props] == [ROLLING, WEEKLY]
    assert props[0].schedule == Schedule("rolling", 7)
    assert props[1].criteria.event == "Create Report"
    assert DynamicProperty.from_definition(WEEKLY, props[1].definition_json()) == props[1]


def test_example_config_parses(repo_root):
    config = load_config(repo_root / "conf" / "dynamic-crm.example.yaml")
    props = parse_dynamic_properties(config)
    assert [(p.metric, p.schedule.kind) for p in props] == [
        ("active_users", "rolling"), ("event_totals", "week"), ("uniques", "month"),
        ("active_users", "rolling"),
    ]  # fmt: skip


# --- schedules and snapshots (Spark-free) ---


def test_windows_end_at_the_logical_date_and_calendar_windows_run_once_per_period():
    week, month = Schedule("week"), Schedule("month")
    assert Schedule("rolling", 7).window(d("2026-01-08")) == (d("2026-01-01"), d("2026-01-08"))
    assert [week.is_due(d(f"2026-01-{n:02}")) for n in (5, 6, 11, 12)] == [True, False, False, True]
    assert week.window(d("2026-01-12")) == (d("2026-01-05"), d("2026-01-12"))
    assert month.is_due(d("2026-03-01")) and not month.is_due(d("2026-03-02"))
    assert month.window(d("2026-03-01")) == (d("2026-02-01"), d("2026-03-01"))
    assert week.latest_due_before(d("2026-01-12")) == d("2026-01-05")
    assert month.latest_due_before(d("2026-03-01")) == d("2026-02-01")


def test_an_edit_applies_only_after_the_last_computed_date(tmp_path):
    v1 = parse_dynamic_properties(load_config(write_config(tmp_path, CONFIG)))[0]
    v2 = parse_dynamic_properties(
        load_config(write_config(tmp_path, CONFIG.replace("last_days: 7", "last_days: 3")))
    )[0]
    first = resolve_snapshot(v1, [], False, d("2026-01-05"))
    assert (first.version, first.new_version.valid_from) == (1, d("2026-01-05"))
    stored = [first.new_version]
    rerun = resolve_snapshot(v2, stored, True, d("2026-01-08"))  # 01-08 was computed
    assert (rerun.prop.schedule.last_days, rerun.new_version) == (7, None)
    before_creation = resolve_snapshot(v2, stored, True, d("2026-01-01"))
    assert before_creation.version == 1
    later = resolve_snapshot(v2, stored, False, d("2026-01-12"))  # after the last computed
    assert (later.version, later.prop.schedule.last_days) == (2, 3)
    assert later.new_version.valid_from == d("2026-01-12")
    assert later.previous.schedule.last_days == 7  # the universe covers v1's last window too


# --- the computed scenario ---


def event(eid, when, etype, group, user, props=None):
    t = dt.datetime.fromisoformat(when)
    return (eid, t, t.date(), etype, user, user, None, props or {}, "amplitude", "company", group,
            "event" if group else "none", None, "b1")  # fmt: skip


CUSTOM, STANDARD = {"report_type": "custom"}, {"report_type": '"standard"'}
EVENTS = [
    event("e1", "2025-12-30 10:00:00", "Create Report", "G1", "u1", CUSTOM),
    event("e2", "2026-01-01 10:00:00", "Login", "G1", "u1"),
    event("e3", "2026-01-02 10:00:00", "Create Report", "G1", "u1", CUSTOM),
    event("e4", "2026-01-04 23:00:00", "Create Report", "G1", "u2", CUSTOM),
    event("e5", "2026-01-04 23:30:00", "Create Report", "G1", "u2", STANDARD),
    event("e6", "2026-01-05 09:00:00", "Create Report", "G1", "u2", CUSTOM),
    event("e7", "2026-01-07 10:00:00", "Login", "G1", "u6"),
    event("e8", "2026-01-07 23:59:59", "Login", "G1", "u1"),
    event("e9", "2026-01-08 00:00:00", "Create Report", "G1", "u3", CUSTOM),
    event("e10", "2026-01-08 12:00:00", "Login", "G1", "u4"),
    event("e11", "2026-01-10 08:00:00", "Login", "G1", "u7"),
    event("e12", "2025-12-31 12:00:00", "Login", "G2", "u5"),
    event("e13", "2026-01-06 12:00:00", "Login", None, "u9"),
]


@pytest.fixture(scope="module")
def scenario(spark, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dynamic")
    path = write_config(folder, CONFIG)
    config = load_config(path)
    events = spark.createDataFrame(EVENTS, ATTRIBUTED_EVENTS)
    tables.append(events, config.paths.table(T.ATTRIBUTED_EVENTS))
    ops_path = config.paths.table(T.DERIVED_PROPERTY_OPS)
    results = {}
    for day in ("2026-01-05", "2026-01-07", "2026-01-08"):
        results[day] = compute_dynamic_properties(spark, config, day)
    first_0108 = tables.read(spark, ops_path, SILVER_GROUP_PROPERTY_OPS).collect()
    edited = load_config(write_config(folder, CONFIG.replace("last_days: 7", "last_days: 3")))
    results["2026-01-12"] = run(spark, edited, date=dt.date(2026, 1, 12))
    results["rerun"] = compute_dynamic_properties(spark, edited, "2026-01-08")
    ops = tables.read(spark, ops_path, SILVER_GROUP_PROPERTY_OPS)
    return {"config": config, "results": results, "ops": ops, "before_rerun": first_0108}


def values(ops, name):
    rows = ops.filter(F.col(C.PROPERTY) == name).collect()
    return {(str(r[C.OP_TIME].date()), r[C.GROUP_VALUE]): r[C.VALUE_JSON] for r in rows}


@pytest.mark.spark
def test_rolling_active_users_count_only_events_before_the_logical_date(scenario):
    got = values(scenario["ops"], ROLLING)
    assert got == {
        ("2026-01-05", "G1"): "2",  # u1, u2 in [12-29, 01-05)
        ("2026-01-05", "G2"): "1",
        ("2026-01-07", "G1"): "2",  # u6 and u1 on 01-07 itself are not counted yet
        ("2026-01-07", "G2"): "1",
        ("2026-01-08", "G1"): "3",  # u1, u2, u6; u3 at 01-08 00:00:00 is not before D
        ("2026-01-08", "G2"): "0",  # u5 left the window: the value drops to 0
        ("2026-01-12", "G1"): "1",  # edited to 3 days from 01-12: u7 only (7 days: 6 users)
    }


@pytest.mark.spark
def test_values_are_set_at_midnight_utc_with_stable_record_columns(scenario):
    row = (
        scenario["ops"]
        .filter((F.col(C.PROPERTY) == ROLLING) & (F.col(C.GROUP_VALUE) == "G1"))
        .orderBy(C.OP_TIME)
        .first()
    )
    assert row[C.OP_TIME] == dt.datetime(2026, 1, 5)  # the session is UTC
    assert (row[C.OPERATION], row[C.ORIGIN], row[C.SOURCE]) == ("$set", "dynamic", "dynamic")
    assert (row[C.SOURCE_FILE], row[C.SEQ_MS], row[C.BATCH_ID]) == (
        f"dynamic/{ROLLING}", None, "dynamic-2026-01-05",
    )  # fmt: skip
    assert len(row[C.RECORD_ID]) == 64


@pytest.mark.spark
def test_attribution_shows_an_event_the_value_computed_for_its_own_day(scenario):
    """The value for D is set at D 00:00: an event on D sees it, an event on D-1 sees D-1's.

    Attribution's rule (docs/semantics.md): a property's latest change with time <= the event's time.
    """
    ops = scenario["ops"].filter((F.col(C.PROPERTY) == ROLLING) & (F.col(C.GROUP_VALUE) == "G1"))

    def as_of(when: str) -> str:
        seen = ops.filter(F.col(C.OP_TIME) <= F.lit(dt.datetime.fromisoformat(when)))
        return seen.orderBy(F.col(C.OP_TIME).desc()).first()[C.VALUE_JSON]

    assert as_of("2026-01-07 23:59:59") == "2"  # e8, on D-1: the value of 01-07
    assert as_of("2026-01-08 00:00:00") == "3"  # e9, on D at midnight: the value of 01-08
    assert as_of("2026-01-08 12:00:00") == "3"
    assert as_of("2026-01-11 23:59:59") == "3"  # 01-09 .. 01-11 were not computed


@pytest.mark.spark
def test_weekly_property_is_computed_once_per_iso_week(scenario):
    got = values(scenario["ops"], WEEKLY)
    assert got == {
        ("2026-01-05", "G1"): "3",  # e1, e3, e4 in the ISO week 12-29 .. 01-04 (e5 is standard)
        ("2026-01-05", "G2"): "0",  # active, but no custom report
        ("2026-01-12", "G1"): "2",  # e6, e9
        ("2026-01-12", "G2"): "0",  # still in the universe (active in the previous window)
    }
    r = scenario["results"]["2026-01-07"]
    assert r.counts["properties_not_scheduled"] == 1
    assert any(n.startswith(f"{WEEKLY}: not scheduled on 2026-01-07") for n in r.notes)


@pytest.mark.spark
def test_rerunning_a_date_gives_identical_rows(scenario):
    def of_0108(rows):
        return sorted(
            tuple(r) for r in rows if r[C.OP_TIME] == dt.datetime(2026, 1, 8)
        )  # fmt: skip

    before = of_0108(scenario["before_rerun"])
    after = of_0108(scenario["ops"].collect())
    assert before == after and len(after) == 2  # the 01-08 rolling values, recomputed with v1
    assert scenario["results"]["rerun"].counts["values_written"] == 2


@pytest.mark.spark
def test_definition_edit_applies_only_to_later_dates(scenario, spark):
    config = scenario["config"]
    defs = tables.read(spark, config.paths.table(DEFINITIONS), DYNAMIC_DEFINITIONS)
    got = sorted(
        (r["name"], r[C.VERSION], str(r["valid_from_date"]), str(r["created_for_date"]))
        for r in defs.collect()
    )
    assert got == [
        (ROLLING, 1, "2026-01-05", "2026-01-05"),
        (ROLLING, 2, "2026-01-12", "2026-01-05"),
        (WEEKLY, 1, "2026-01-05", "2026-01-05"),
    ]
    notes = scenario["results"]["rerun"].notes
    assert any(n.startswith(f"{ROLLING} (v1, active_users, last 7 days)") for n in notes)
