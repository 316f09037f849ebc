"""CRM sync and dynamic properties, end to end through the real stages into attributed events.

Landing (Amplitude HTTP V2 bodies), company 100, users u1 and u2 (event-level groups):

    01-01 10:00  u1 Login          01-02 12:00  u2 Login        01-03 00:00:00  u1 Login
    01-03 15:00  u1 Login          01-04 10:00  u1 Login
    01-04 12:00  $groupidentify company 100 $set plan = free
    01-04 13:00  u1 Login          01-05 10:00  u1 Login

Config: a dynamic property "Active Users 2d" (rolling 2 days) and a daily CRM sync activated on
01-02 (first sync 01-03) reading ``accounts_2026-01-01.csv`` (company 100: plan pro, seats 12).
Stages, as an orchestrator runs them: ingest, attribute, then for D in 01-03 .. 01-05 crm-sync D
and dynamic-properties D, then attribute again (it takes in the derived operations).

Expected, by docs/semantics.md (a derived value for D is a change at D 00:00 UTC; the latest change
wins; nothing is retroactive):

    event              plan   seats  Active Users 2d
    01-01 10:00        -      -      -            (before any change)
    01-02 12:00        -      -      -
    01-03 00:00:00     pro    12     2            (u1 on 01-01, u2 on 01-02: both before 01-03)
    01-03 15:00        pro    12     2
    01-04 10:00        pro    12     2            (01-04's value: u1 and u2 on [01-02, 01-04))
    01-04 13:00        free   12     2            (the group identify at 12:00 beats 00:00's CRM)
    01-05 10:00        pro    12     1            (CRM again at 01-05 00:00; [01-03, 01-05): u1)
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from groupetl import crm, dynamic_properties
from groupetl.attribution import read_attributed_with_properties
from groupetl.config import load_config
from groupetl.pipeline import run_stage
from groupetl.schemas import C

CONFIG = """\
project: derived
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name}
tracking_plan:
  group_properties:
    company: {Account Name: string, plan: string, seats: number}
dynamic_properties:
  - name: Active Users 2d
    group_type: company
    metric: active_users
    window: {last_days: 2}
crm:
  group_type: company
  key_field: AccountNumber
  field_mapping: {Name: Account Name, Plan: plan, Seats: seats}
  interval: daily
  activated_on: 2026-01-02
"""


def _ms(when: str) -> int:
    return int(dt.datetime.fromisoformat(when + "+00:00").timestamp() * 1000)


def _event(n: int, when: str, user: str) -> dict:
    return {
        "event_type": "Login",
        "user_id": user,
        "time": _ms(when),
        "insert_id": f"login-{n:03d}",
        "groups": {"company": "100"},
    }


EVENTS = [
    _event(1, "2026-01-01 10:00:00", "user-1"),
    _event(2, "2026-01-02 12:00:00", "user-2"),
    _event(3, "2026-01-03 00:00:00", "user-1"),
    _event(4, "2026-01-03 15:00:00", "user-1"),
    _event(5, "2026-01-04 10:00:00", "user-1"),
    _event(6, "2026-01-04 13:00:00", "user-1"),
    _event(7, "2026-01-05 10:00:00", "user-1"),
]
GROUP_IDENTIFY = {
    "event_type": "$groupidentify",
    "user_id": "user-1",
    "time": _ms("2026-01-04 12:00:00"),
    "insert_id": "gi-001",
    "group_properties": {"$set": {"plan": "free"}},
    "groups": {"company": "100"},
}


def _land(root: Path) -> None:
    http = root / "landing" / "amplitude_http"
    http.mkdir(parents=True)
    body = {"api_key": "test-key", "events": [*EVENTS, GROUP_IDENTIFY]}
    (http / "http_2026-01-05_001.json").write_text(json.dumps(body) + "\n")
    exports = root / "landing" / "crm"
    exports.mkdir(parents=True)
    (exports / "accounts_2026-01-01.csv").write_text(
        "AccountNumber,Name,Plan,Seats\n100,Acme,pro,12\n"
    )


@pytest.fixture(scope="module")
def attributed(spark, tmp_path_factory):
    folder = tmp_path_factory.mktemp("derived")
    (folder / "project.yaml").write_text(CONFIG)
    config = load_config(folder / "project.yaml")
    _land(config.paths.root)
    ingest = run_stage(spark, config, "ingest")
    run_stage(spark, config, "attribute")
    for day in ("2026-01-03", "2026-01-04", "2026-01-05"):
        crm.run(spark, config, date=dt.date.fromisoformat(day))
        dynamic_properties.run(spark, config, date=dt.date.fromisoformat(day))
    second = run_stage(spark, config, "attribute")
    rows = (
        read_attributed_with_properties(spark, config)
        .filter(F.col(C.GROUP_TYPE) == "company")
        .select(C.EVENT_TIME, C.GROUP_VALUE, C.PROPERTIES)
        .collect()
    )
    return ingest, second, {r[C.EVENT_TIME]: r for r in rows}


def _props(row) -> dict[str, object]:
    return {k: json.loads(v) for k, v in (row[C.PROPERTIES] or {}).items()}


@pytest.mark.spark
def test_the_crm_export_is_not_ingested_as_events(attributed):
    ingest, _, rows = attributed
    assert ingest.counts["files_read"] == 1  # the HTTP file only; landing/crm/ is skipped
    assert len(rows) == len(EVENTS)


@pytest.mark.spark
@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-01-01 10:00:00", {}),
        ("2026-01-02 12:00:00", {}),
        ("2026-01-03 00:00:00", {"plan": "pro", "seats": 12, "Active Users 2d": 2}),
        ("2026-01-03 15:00:00", {"plan": "pro", "seats": 12, "Active Users 2d": 2}),
        ("2026-01-04 10:00:00", {"plan": "pro", "seats": 12, "Active Users 2d": 2}),
        ("2026-01-04 13:00:00", {"plan": "free", "seats": 12, "Active Users 2d": 2}),
        ("2026-01-05 10:00:00", {"plan": "pro", "seats": 12, "Active Users 2d": 1}),
    ],
)
def test_events_see_the_derived_values_in_force_at_their_time(attributed, when, expected):
    _, _, rows = attributed
    row = rows[dt.datetime.fromisoformat(when)]
    assert row[C.GROUP_VALUE] == "100"
    got = _props(row)
    got.pop("Account Name", None)  # CRM's Name mapping: checked below
    assert got == expected


@pytest.mark.spark
def test_the_crm_name_mapping_reaches_events_from_the_first_sync(attributed):
    _, _, rows = attributed
    assert _props(rows[dt.datetime(2026, 1, 3)])["Account Name"] == "Acme"
    assert "Account Name" not in _props(rows[dt.datetime(2026, 1, 2, 12)])
