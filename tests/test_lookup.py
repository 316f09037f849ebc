"""Account lookup on Spark: historical values, the six-month activity window, the account view.

``now`` is 2025-06-30, so a group is active with an event from 2024-12-30 through 2025-06-30.

    1001 Acme Corp  plan trial (2024-01) -> paid (2024-06 ..); seats 10; active (last 06-29)
    1002 Globex     plan paid (2023) -> free (2024-03) -> enterprise (2025-07-05, after now)
    1003 Initech    plan paid; last event 2024-11-29: seven months ago, not active
    1004 Umbrella   plan paid; tags ["beta", "eu"]; one event 2024-12-30 00:00 (first active day)
    1005 Hooli      plan paid; last event 2024-12-29 23:59 (the day before the window)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import pytest

from groupetl import tables
from groupetl.config import load_config
from groupetl.errors import InputError
from groupetl.lookup import (
    account_view,
    active_since,
    format_account_view,
    format_lookup,
    format_raw_records,
    lookup,
    lookup_rows,
    raw_records,
)
from groupetl.lookup.search import months_before
from groupetl.schemas import (
    ATTRIBUTED_EVENTS,
    BRONZE_RECORDS,
    GROUP_PROPERTY_HISTORY,
    GROUP_VERSIONS,
    SILVER_EVENTS,
    T,
)

NOW = dt.date(2025, 6, 30)
T0 = dt.datetime(2024, 1, 1)
BATCH_FILE = "amplitude/batch-1.json"


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def record_id(file: str, line: int, index: int) -> str:
    return hashlib.sha256(f"{file}|{line}|{index}".encode()).hexdigest()


def prop(group, name, value, start, end=None):
    return ("company", group, name, value, ts(start), ts(end) if end else None, "$set",
            "group_identify", "r")  # fmt: skip


HISTORY = [
    prop("1001", "Account Name", '"Acme Corp"', "2024-01-01"),
    prop("1001", "plan", '"trial"', "2024-01-01", "2024-06-01"),
    prop("1001", "plan", '"paid"', "2024-06-01"),
    prop("1001", "seats", "10", "2024-06-01"),
    prop("1002", "Account Name", '"Globex"', "2023-01-01"),
    prop("1002", "plan", '"paid"', "2023-01-01", "2024-03-01"),
    prop("1002", "plan", '"free"', "2024-03-01", "2025-07-05"),
    prop("1002", "plan", '"enterprise"', "2025-07-05"),
    prop("1003", "Account Name", '"Initech"', "2023-01-01"),
    prop("1003", "plan", '"paid"', "2023-01-01"),
    prop("1004", "Account Name", '"Umbrella"', "2023-01-01"),
    prop("1004", "plan", '"paid"', "2023-01-01"),
    prop("1004", "tags", '["beta","eu"]', "2023-01-01"),
    prop("1005", "plan", '"paid"', "2023-01-01"),
]

# (event id or (file, line, index), time, type, group, user)
ACME_EVENTS = [
    ((BATCH_FILE, 1, 0), "2024-02-01 09:00:00", "Login", "u1"),
    ((BATCH_FILE, 1, 1), "2025-05-31 23:00:00", "Login", "u9"),  # day now-30: outside 30 days
    ((BATCH_FILE, 2, 0), "2025-06-01 08:00:00", "Create Report", "u2"),  # day now-29: inside
    ((BATCH_FILE, 3, 0), "2025-06-20 10:00:00", "Share Report", "u1"),
    ((BATCH_FILE, 3, 1), "2025-06-29 18:30:00", "Login", "u3"),
    ((BATCH_FILE, 4, 0), "2025-07-02 10:00:00", "Login", "u4"),  # after now
]
OTHER_EVENTS = [
    (("x.json", 1, 0), "2025-05-01 12:00:00", "Login", "1002", "g1"),
    (("x.json", 2, 0), "2024-11-29 12:00:00", "Login", "1003", "i1"),
    (("x.json", 3, 0), "2024-12-30 00:00:00", "Login", "1004", "m1"),
    (("x.json", 4, 0), "2024-12-29 23:59:00", "Login", "1005", "h1"),
]
EVENTS = [(key, t, e, "1001", u) for key, t, e, u in ACME_EVENTS] + OTHER_EVENTS


def attributed_row(key, when, etype, group, user):
    t = ts(when)
    return (record_id(*key), t, t.date(), etype, user, user, None, {"k": '"v"'}, "amplitude",
            "company", group, "user", 1, "b1")  # fmt: skip


def silver_row(key, when, etype, group, user):
    t = ts(when)
    return (record_id(*key), t, t.date(), etype, user, user, None, None, {}, {}, "amplitude",
            "amplitude_http", None, key[0], key[1], key[2], "b1")  # fmt: skip


@pytest.fixture(scope="module")
def project(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("lookup")
    (root / "p.yaml").write_text(
        "project: lk\npaths: {root: data}\n"
        "group_types:\n  - {name: company, name_property: Account Name}\n"
    )
    config = load_config(root / "p.yaml")

    def save(rows, schema, table):
        tables.append(spark.createDataFrame(rows, schema), config.paths.table(table))

    save(HISTORY, GROUP_PROPERTY_HISTORY, T.GROUP_PROPERTY_HISTORY)
    save([attributed_row(*e) for e in EVENTS], ATTRIBUTED_EVENTS, T.ATTRIBUTED_EVENTS)
    save([silver_row(*e) for e in EVENTS], SILVER_EVENTS, T.SILVER_EVENTS)
    v1 = {"Account Name": '"Acme Corp"', "plan": '"trial"'}
    v2 = {"Account Name": '"Acme Corp"', "plan": '"paid"', "seats": "10"}
    save(
        [
            ("company", "1001", 1, T0, ts("2024-06-01"), v1),
            ("company", "1001", 2, ts("2024-06-01"), None, v2),
        ],
        GROUP_VERSIONS,
        T.GROUP_VERSIONS,
    )
    lines = [(BATCH_FILE, n, f'{{"line": {n}}}') for n in (1, 2, 3, 4)]
    save([("b1", T0, f, "amplitude_http", T0, n, raw) for f, n, raw in lines],
         BRONZE_RECORDS, T.BRONZE_RECORDS)  # fmt: skip
    return config


def found(spark, project, query):
    return [(r.group_value, r.matched_values, r.current_value) for r in
            lookup(spark, project, "company", query, NOW).collect()]  # fmt: skip


def test_active_window_is_six_calendar_months_clamped_to_month_end():
    assert active_since(NOW) == dt.date(2024, 12, 30)
    assert active_since(dt.date(2025, 8, 31)) == dt.date(2025, 2, 28)
    assert active_since(dt.date(2024, 8, 31)) == dt.date(2024, 2, 29)
    assert months_before(dt.date(2025, 3, 15), 6) == dt.date(2024, 9, 15)


def test_lookup_matches_a_value_the_property_had_only_in_the_past(spark, project):
    # 1002 is free now but was paid until 2024-03; 1003 (seven months inactive) and 1005
    # (last seen the day before the window) are left out; 1004 is seen on the window's first day
    assert found(spark, project, "plan = paid") == [
        ("1001", ["paid"], "paid"),
        ("1002", ["paid"], "free"),
        ("1004", ["paid"], "paid"),
    ]


def test_lookup_matches_names_numbers_and_list_items(spark, project):
    assert found(spark, project, 'Account Name = "Acme Corp"') == [
        ("1001", ["Acme Corp"], "Acme Corp")
    ]
    assert found(spark, project, "seats=10.0") == [("1001", ["10"], "10")]
    assert found(spark, project, "tags = eu") == [("1004", ['["beta","eu"]'], '["beta","eu"]')]
    # a value set after `now` does not count yet; a group inactive for seven months never
    assert found(spark, project, "plan = enterprise") == []
    assert found(spark, project, "Account Name = Initech") == []


def test_lookup_output_formats(spark, project):
    rows = lookup_rows(lookup(spark, project, "company", "plan = trial", NOW))
    assert format_lookup(rows, "csv").splitlines() == [
        "group_type,group_value,name,property,matched_values,current_value,last_seen",
        "company,1001,Acme Corp,plan,trial,paid,2025-06-29 18:30:00",
    ]
    assert json.loads(format_lookup(rows, "json")) == [
        {"group_type": "company", "group_value": "1001", "name": "Acme Corp", "property": "plan",
         "matched_values": ["trial"], "current_value": "paid", "last_seen": "2025-06-29 18:30:00"}
    ]  # fmt: skip
    table = format_lookup(rows).splitlines()
    assert [line.split() for line in table[:1] + table[2:]] == [
        ["group_value", "name", "property", "matched_values", "current_value", "last_seen"],
        ["1001", "Acme", "Corp", "plan", "trial", "paid", "2025-06-29", "18:30:00"],
        ["(1", "groups)"],
    ]
    assert set(table[1]) == {"─"}  # the header rule of the rich table
    assert format_lookup([]) == "no matching groups"


def test_account_view_shows_latest_properties_and_recent_activity(spark, project):
    view = account_view(spark, project, "company", "1001", NOW, recent=2)
    assert view.name == "Acme Corp"
    assert view.properties == {"Account Name": "Acme Corp", "plan": "paid", "seats": 10}
    assert (view.first_seen, view.last_seen) == (ts("2024-02-01 09:00"), ts("2025-06-29 18:30"))
    assert (view.events_30d, view.active_users_30d) == (3, 3)  # u2 on 06-01, u1, u3; not u9
    assert [(e.event_time, e.event_type, e.user_key) for e in view.recent] == [
        (ts("2025-06-29 18:30"), "Login", "u3"),
        (ts("2025-06-20 10:00"), "Share Report", "u1"),
    ]
    text = format_account_view(view)
    assert text.splitlines()[:3] == [
        "company 1001  Acme Corp  (as of 2025-06-30)",
        "first seen 2024-02-01 09:00:00   last seen 2025-06-29 18:30:00",
        "last 30 days: 3 events, 3 active users",
    ]
    assert "  seats         10" in text
    assert json.loads(format_account_view(view, "json"))["properties"]["plan"] == "paid"
    assert (
        format_account_view(view, "csv")
        .splitlines()[1]
        .startswith("2025-06-29 18:30:00,Login,u3,u3,,user,")
    )
    # the past: as of 2024-03-01 the plan was trial
    assert (
        account_view(spark, project, "company", "1001", dt.date(2024, 3, 1), 0).properties["plan"]
        == "trial"
    )


def test_raw_records_follow_event_ids_to_the_bronze_lines(spark, project):
    view = account_view(spark, project, "company", "1001", NOW, recent=2)
    records = raw_records(spark, project, [*view.event_ids, "missing"])
    assert [(r.source_file, r.line_number, r.record_index, r.raw) for r in records] == [
        (BATCH_FILE, 3, 1, '{"line": 3}'),
        (BATCH_FILE, 3, 0, '{"line": 3}'),
        (None, None, None, None),
    ]
    assert records[0].event_id == record_id(BATCH_FILE, 3, 1)
    assert format_raw_records(records[:1]) == (
        f'# event {records[0].event_id} ({BATCH_FILE}:3 record 1)\n{{"line": 3}}'
    )


def test_account_view_of_an_unknown_group_is_an_input_error(spark, project):
    with pytest.raises(InputError, match=r"no company '9999' known on 2025-06-30"):
        account_view(spark, project, "company", "9999", NOW)
    with pytest.raises(InputError, match="unknown group type 'user'"):
        lookup(spark, project, "user", "plan = paid", NOW)


# The JVM-free implementations (delta-rs + DuckDB, used by the CLI) give the same answers as the
# Spark ones above on the same tables, including the window edges, lists and numbers.
LOOKUP_QUERIES = [
    "plan = paid", "plan = trial", "plan = free", "plan = enterprise", "seats=10.0", "seats = 10",
    "tags = eu", "tags = beta", 'Account Name = "Acme Corp"', "Account Name = Initech",
    "nothing = here",
]  # fmt: skip


@pytest.mark.parametrize("now", [NOW, dt.date(2024, 3, 1), dt.date(2025, 7, 10)])
def test_jvm_free_lookup_equals_the_spark_lookup(spark, project, now):
    from groupetl.lookup import duck

    for query in LOOKUP_QUERIES:
        expected = lookup_rows(lookup(spark, project, "company", query, now))
        assert duck.lookup(project, "company", query, now) == expected, query


@pytest.mark.parametrize("now", [NOW, dt.date(2024, 3, 1), dt.date(2025, 7, 10)])
def test_jvm_free_account_view_and_raw_records_equal_spark(spark, project, now):
    from groupetl.lookup import duck

    for group in ("1001", "1002", "1004"):
        try:
            expected = account_view(spark, project, "company", group, now, recent=3)
        except InputError as exc:  # unknown on that date: the same one-line error
            with pytest.raises(InputError, match=re.escape(str(exc))):
                duck.account_view(project, "company", group, now, recent=3)
            continue
        assert duck.account_view(project, "company", group, now, recent=3) == expected
    ids = [*account_view(spark, project, "company", "1001", NOW, recent=5).event_ids, "missing"]
    assert duck.raw_records(project, ids) == raw_records(spark, project, ids)
    with pytest.raises(InputError, match=r"no company '9999' known on"):
        duck.account_view(project, "company", "9999", now)
