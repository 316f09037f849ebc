"""CRM account sync: config, pickup schedules, export choice, the 1000-key limit, and a scenario.

Scenario (company; activated 2026-01-27, weekly; first sync 01-28 for every account):

    accounts_2026-01-20.csv    1001 (twice: the later row wins), 1002 (Plan empty), 1003,
                               a row without a key
    accounts_2026-02-03.jsonl  1001 seats 40, 1002 plan pro, 1003
    accounts_2026-02-10.csv    dated after every sync run: never read
    known groups               1001, 1002, 1004 from events before 01-28; 1003 from 01-28 10:00

Runs: 01-27 (not active yet), 01-28, 01-29, 01-29 again, 02-04.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import load_config
from groupetl.crm import (
    PICKUPS,
    Interval,
    crm_sync,
    find_export,
    parse_crm,
    run,
)
from groupetl.derived_ops import (
    DERIVED_QUARANTINE,
    KEY,
    apply_key_limit,
    quarantine_rows,
    refused_keys,
    to_property_ops,
)
from groupetl.errors import ConfigError, InputError
from groupetl.schemas import (
    ATTRIBUTED_EVENTS,
    CRM_PICKUPS,
    QUARANTINE,
    SILVER_GROUP_PROPERTY_OPS,
    C,
    T,
)

BASE = """\
project: crm
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name}
tracking_plan:
  group_properties:
    company: {Account Name: string, plan: string, seats: number}
"""
CRM = """\
crm:
  group_type: company
  key_field: AccountNumber
  field_mapping: {Name: Account Name, Plan: plan, Seats: seats}
  interval: weekly
  activated_on: 2026-01-27
"""


def write_config(folder: Path, text: str = BASE + CRM) -> Path:
    path = folder / "project.yaml"
    path.write_text(text)
    return path


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# --- config and schedules (Spark-free) ---


def test_config_parses_with_the_default_landing_folder(tmp_path):
    config = load_config(write_config(tmp_path))
    crm = parse_crm(config)
    assert crm.landing == config.paths.landing / "crm"
    assert crm.field_mapping == (("Name", "Account Name"), ("Plan", "plan"), ("Seats", "seats"))
    assert (crm.interval, crm.first_sync) == (Interval(days=7), d("2026-01-28"))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("group_type: company", "group_type: team", r":9: crm.group_type: unknown group type"),
        ("interval: weekly", "interval: hourly", r":12: crm.interval: must be one of"),
        ("interval: weekly", "interval: {days: 0}", r":12: crm.interval.days: must be from 1"),
        ("interval: weekly", "interval: {}", r":12: crm.interval: .*days is missing"),
        ("  activated_on: 2026-01-27\n", "", r"crm.activated_on: required"),
        ("Plan: plan", "Plan: seats", r":11: crm.field_mapping.Plan: .*mapped twice"),
    ],
)
def test_invalid_crm_config_is_refused_naming_file_line_and_key(tmp_path, old, new, message):
    path = write_config(tmp_path, BASE + CRM.replace(old, new))
    with pytest.raises(ConfigError, match=message):
        parse_crm(load_config(path))


def test_example_config_and_export_fit_together(repo_root):
    config = load_config(repo_root / "conf" / "dynamic-crm.example.yaml")
    crm = parse_crm(config)
    assert (crm.interval, crm.first_sync) == (Interval(days=7), d("2026-01-02"))
    header = (repo_root / "conf" / "crm_accounts.example.csv").read_text().splitlines()[0]
    assert set(crm.columns) <= set(header.split(","))


def pickups(interval: Interval, first: str, until: str) -> list[str]:
    out, day = [], d(first)
    while day <= d(until):
        out.append(day.strftime("%m-%d"))
        day = interval.next_after(day)
    return out


def test_pickup_dates_for_1_7_and_30_day_and_monthly_intervals_cross_month_ends():
    assert pickups(Interval(days=1), "2026-01-28", "2026-02-02") == [
        "01-28", "01-29", "01-30", "01-31", "02-01", "02-02",
    ]  # fmt: skip
    assert pickups(Interval(days=7), "2026-01-28", "2026-02-28") == [
        "01-28", "02-04", "02-11", "02-18", "02-25",
    ]  # fmt: skip
    assert pickups(Interval(days=30), "2026-01-28", "2026-04-30") == [
        "01-28", "02-27", "03-29", "04-28",
    ]  # fmt: skip
    # monthly: same day next month, clamped to the month's end (then it stays on that day)
    assert pickups(Interval(months=1), "2026-01-31", "2026-04-30") == [
        "01-31", "02-28", "03-28", "04-28",
    ]  # fmt: skip
    assert Interval(months=1).next_after(d("2028-01-30")) == d("2028-02-29")


def test_the_newest_export_dated_on_or_before_the_date_is_used(tmp_path):
    for name in ("accounts_2026-01-20.csv", "accounts_2026-02-03.jsonl", "notes.txt",
                 "accounts_2026-02-10.csv", "accounts_2026-13-01.csv"):  # fmt: skip
        (tmp_path / name).write_text("x")
    assert find_export(tmp_path, d("2026-01-19")) is None
    assert find_export(tmp_path, d("2026-02-03")).path.name == "accounts_2026-02-03.jsonl"
    assert find_export(tmp_path, d("2026-02-09")).source_file == "crm/accounts_2026-02-03.jsonl"
    (tmp_path / "accounts_2026-02-03.csv").write_text("x")
    with pytest.raises(InputError, match="two account exports for 2026-02-03"):
        find_export(tmp_path, d("2026-02-05"))


def test_new_keys_are_admitted_in_name_order_while_places_are_free():
    assert refused_keys(["plan", "arr", "seats"], 999, {"seats"}) == ["plan"]  # 1 place: arr
    assert refused_keys(["plan", "seats"], 1000, {"seats", "plan"}) == []


# --- the scenario ---

EXPORT_1 = """\
AccountNumber,Name,Plan,Seats,Owner
1001,"Acme, Inc",enterprise,25,ann
1002,Globex,,10,bob
1003,Initech,trial,x,cy
1001,"Acme, Inc.",enterprise,30,ann
,No key,trial,1,dan
"""
EXPORT_2 = """\
{"AccountNumber": 1001, "Name": "Acme, Inc.", "Plan": "enterprise", "Seats": 40}
{"AccountNumber": "1002", "Name": "Globex", "Plan": "pro", "Seats": "12"}
{"AccountNumber": "1003", "Name": "Initech", "Plan": "trial"}
"""


def event(eid, when, group):
    t = dt.datetime.fromisoformat(when)
    return (eid, t, t.date(), "Login", "u1", "u1", None, {}, "amplitude", "company", group,
            "event", None, "b1")  # fmt: skip


EVENTS = [
    event("e1", "2026-01-20 10:00:00", "1001"),
    event("e2", "2026-01-25 10:00:00", "1002"),
    event("e3", "2026-01-26 10:00:00", "1004"),
    event("e4", "2026-01-28 10:00:00", "1003"),  # 1003 is unknown on 01-28, known on 01-29
]


@pytest.fixture(scope="module")
def scenario(spark, tmp_path_factory):
    folder = tmp_path_factory.mktemp("crm")
    config = load_config(write_config(folder))
    landing = config.paths.landing / "crm"
    landing.mkdir(parents=True)
    (landing / "accounts_2026-01-20.csv").write_text(EXPORT_1)
    (landing / "accounts_2026-02-03.jsonl").write_text(EXPORT_2)
    (landing / "accounts_2026-02-10.csv").write_text("AccountNumber,Name,Plan,Seats\n")
    events = spark.createDataFrame(EVENTS, ATTRIBUTED_EVENTS)
    tables.append(events, config.paths.table(T.ATTRIBUTED_EVENTS))
    results = {"01-27": crm_sync(spark, config, "2026-01-27")}
    results["01-28"] = crm_sync(spark, config, d("2026-01-28"))
    results["01-29"] = crm_sync(spark, config, "2026-01-29")
    ops_path, pickups_path = config.paths.table(T.DERIVED_PROPERTY_OPS), config.paths.table(PICKUPS)
    first = {
        "ops": tables.read(spark, ops_path, SILVER_GROUP_PROPERTY_OPS).collect(),
        "pickups": tables.read(spark, pickups_path, CRM_PICKUPS).collect(),
    }
    results["rerun"] = run(spark, config, date="2026-01-29")
    results["02-04"] = crm_sync(spark, config, "2026-02-04")
    return {
        "config": config,
        "results": results,
        "first": first,
        "ops": tables.read(spark, ops_path, SILVER_GROUP_PROPERTY_OPS),
        "pickups": tables.read(spark, pickups_path, CRM_PICKUPS),
    }


def applied(ops):
    rows = ops.collect()
    return {
        (str(r[C.OP_TIME].date())[5:], r[C.GROUP_VALUE], r[C.PROPERTY]): (
            r[C.OPERATION],
            r[C.VALUE_JSON],
        )
        for r in rows
    }


@pytest.mark.spark
def test_first_sync_is_the_day_after_activation(scenario):
    r = scenario["results"]["01-27"]
    assert r.counts == {} and r.notes == ["not active yet: the first sync runs on 2026-01-28"]
    assert scenario["results"]["01-28"].counts["accounts_due"] == 3  # every account


@pytest.mark.spark
def test_mapped_fields_are_set_at_midnight_and_empty_fields_unset(scenario):
    got = applied(scenario["ops"])
    assert got == {
        # 01-28: the first sync; 1001's later row wins; seats is a number in the tracking plan
        ("01-28", "1001", "Account Name"): ("$set", '"Acme, Inc."'),
        ("01-28", "1001", "plan"): ("$set", '"enterprise"'),
        ("01-28", "1001", "seats"): ("$set", "30"),
        ("01-28", "1002", "Account Name"): ("$set", '"Globex"'),
        ("01-28", "1002", "plan"): ("$unset", None),
        ("01-28", "1002", "seats"): ("$set", "10"),
        # 01-29: 1003, pending on 01-28 (group unknown), applied once its group is known
        ("01-29", "1003", "Account Name"): ("$set", '"Initech"'),
        ("01-29", "1003", "plan"): ("$set", '"trial"'),
        ("01-29", "1003", "seats"): ("$set", '"x"'),  # not a number: kept as a string
        # 02-04: 1001 and 1002 again, one week later, from the newer (JSON lines) export
        ("02-04", "1001", "Account Name"): ("$set", '"Acme, Inc."'),
        ("02-04", "1001", "plan"): ("$set", '"enterprise"'),
        ("02-04", "1001", "seats"): ("$set", "40"),
        ("02-04", "1002", "Account Name"): ("$set", '"Globex"'),
        ("02-04", "1002", "plan"): ("$set", '"pro"'),
        ("02-04", "1002", "seats"): ("$set", "12"),
    }
    row = scenario["ops"].filter(F.col(C.GROUP_VALUE) == "1001").orderBy(C.OP_TIME).first()
    assert row[C.OP_TIME] == dt.datetime(2026, 1, 28)  # the session is UTC
    assert (row[C.ORIGIN], row[C.SOURCE_FILE], row[C.LINE_NUMBER], row[C.BATCH_ID]) == (
        "crm", "crm/accounts_2026-01-20.csv", 5, "crm-2026-01-28",
    )  # fmt: skip


@pytest.mark.spark
def test_unknown_account_is_reported_kept_and_applied_later(scenario):
    r28, r29 = scenario["results"]["01-28"], scenario["results"]["01-29"]
    assert (r28.counts["accounts_synced"], r28.counts["accounts_pending"]) == (2, 1)
    assert "1 accounts with no known group: kept, retried (e.g. 1003)" in r28.notes
    assert (r29.counts["accounts_due"], r29.counts["accounts_synced"]) == (1, 1)


@pytest.mark.spark
def test_export_problems_and_known_groups_missing_from_the_export_are_reported(scenario):
    r = scenario["results"]["01-28"]
    assert (r.counts["accounts_in_export"], r.counts["accounts_without_key"]) == (5, 1)
    assert r.counts["duplicate_key_rows"] == 1
    assert r.counts["known_groups_missing_from_export"] == 1
    assert "1 known groups missing from the export (e.g. 1004)" in r.notes


@pytest.mark.spark
def test_pickup_state_moves_by_the_interval_across_the_month_end(scenario):
    def md(day):
        return day.strftime("%m-%d") if day else None

    got = sorted(
        (r[C.GROUP_VALUE], md(r["sync_date"]), r[C.STATUS], md(r["next_pickup_date"]),
         md(r["last_synced_date"]))
        for r in scenario["pickups"].collect()
    )  # fmt: skip
    assert got == [
        ("1001", "01-28", "synced", "02-04", "01-28"),
        ("1001", "02-04", "synced", "02-11", "02-04"),
        ("1002", "01-28", "synced", "02-04", "01-28"),
        ("1002", "02-04", "synced", "02-11", "02-04"),
        ("1003", "01-28", "pending", "01-29", None),
        ("1003", "01-29", "synced", "02-05", "01-29"),
    ]


@pytest.mark.spark
def test_rerunning_a_date_gives_identical_operations_and_pickups(scenario):
    first, r = scenario["first"], scenario["results"]["rerun"]

    def strip(rows):  # ops and pickups up to 01-29, as written before the re-run
        return sorted(tuple(x) for x in rows)

    ops_now = [x for x in scenario["ops"].collect() if x[C.OP_TIME] < dt.datetime(2026, 2, 1)]
    assert strip(ops_now) == strip(first["ops"])
    picks_now = [x for x in scenario["pickups"].collect() if x["sync_date"] < d("2026-02-01")]
    assert strip(picks_now) == strip(first["pickups"])
    assert (r.counts["accounts_due"], r.counts["operations_written"]) == (1, 3)


@pytest.mark.spark
def test_an_update_with_a_key_past_the_limit_is_not_written_and_is_quarantined(scenario, spark):
    config = scenario["config"]
    rows = [("company", "1001", "$set", p, '"x"', "crm_csv", "crm/a.csv", 2, i, f"k{i}")
            for i, p in enumerate(["plan", "region"])]  # fmt: skip
    rows.append(("company", "1002", "$set", "plan", '"y"', "crm_csv", "crm/a.csv", 3, 0, "k9"))
    schema = ", ".join(f"`{c}` string" for c in (C.GROUP_TYPE, C.GROUP_VALUE, C.OPERATION,
                                                  C.PROPERTY, C.VALUE_JSON, C.FILE_FORMAT,
                                                  C.SOURCE_FILE))  # fmt: skip
    raw = spark.createDataFrame(rows, f"{schema}, line_number long, record_index int, {KEY} string")
    ops = to_property_ops(raw, "crm", d("2026-02-05"), "crm-2026-02-05")
    # known keys: Account Name, plan, seats (3); a limit of 3 leaves no place for "region"
    kept, refused = apply_key_limit(spark, config, ops, ["plan", "region"], max_keys=3)
    assert sorted((r[C.GROUP_VALUE], r[C.PROPERTY]) for r in kept.collect()) == [("1002", "plan")]
    q = quarantine_rows(ops, refused).collect()
    assert [(r[C.REASON], r[C.LINE_NUMBER]) for r in q] == [("property_limit_exceeded", 2)]
    assert '"group_value":"1001"' in q[0][C.RAW] and "new keys: region" in q[0][C.MESSAGE]
    assert not tables.exists(spark, config.paths.table(DERIVED_QUARANTINE))
    assert [f.name for f in QUARANTINE.fields] == list(quarantine_rows(ops, refused).columns)
