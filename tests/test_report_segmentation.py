"""Event segmentation counted by group: hand-checked cases (docs/reports/segmentation.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from groupetl.reports.columns import R
from groupetl.reports.inputs import report_rows, with_cohort
from groupetl.reports.segmentation import (
    affected_periods,
    segmentation_counts,
    segmentation_rows,
    top_segments,
)
from test_report_helpers import at, attributed, event, report_from, version, versions

pytestmark = pytest.mark.spark

MON = dt.date(2024, 1, 1)


def counts(spark, tmp_path: Path, yaml_item: str, rows, version_rows=()):
    """{(period_start, segment): (events, uniques, users)} through the real chain."""
    report = report_from(tmp_path, yaml_item)
    prepared = report_rows(attributed(spark, rows), versions(spark, list(version_rows)), report)
    srows = segmentation_rows(with_cohort(spark, None, prepared, report), report)
    out = segmentation_counts(srows, report, last_day=max(r[2] for r in rows))
    return {
        (r[R.PERIOD_START], r[R.SEGMENT]): (r[R.EVENTS], r[R.UNIQUES], r[R.USERS])
        for r in out.collect()
    }


def test_weekly_active_groups_by_a_region_that_changed_mid_week(spark, tmp_path) -> None:
    # acme moved from EU to US on Wednesday: its Monday event counts under EU, its Thursday
    # event under US, so acme is one weekly active company in each region.
    vers = [
        version("acme", 1, at(0), at(day=2), {"region": "EU"}),
        version("acme", 2, at(day=2), None, {"region": "US"}),
        version("globex", 1, at(0), None, {"region": "EU"}),
    ]
    rows = [
        event("1", at(60), "Login", "ann", "acme", 1),
        event("2", at(60, day=3), "Login", "bob", "acme", 2),
        event("3", at(60, day=1), "Login", "cid", "globex", 1),
        event("4", at(60, day=4), "Login", "cid", "globex", 1),
        event("5", at(60, day=4), "Login", "dan", None),  # no company: not in a company report
    ]
    item = """
- name: wac
  group_type: company
  interval: week
  segment_by: group.region
"""
    assert counts(spark, tmp_path, item, rows, vers) == {
        (MON, "EU"): (3, 2, 2),
        (MON, "US"): (1, 1, 1),
    }


def test_multi_valued_event_counts_in_each_group_and_once_in_totals(spark, tmp_path) -> None:
    rows = [
        event("1", at(0), "Login", "ann", "acme"),
        event("1", at(0), "Login", "ann", "globex"),  # one event, two companies
        event("2", at(5), "Login", "bob", "globex"),
    ]
    daily = "- name: d\n  group_type: company\n"
    per_group = daily + "  segment_by: group\n"
    assert counts(spark, tmp_path / "a", daily, rows) == {(MON, "(all)"): (2, 2, 2)}
    assert counts(spark, tmp_path / "b", per_group, rows) == {
        (MON, "acme"): (1, 1, 1),
        (MON, "globex"): (2, 1, 2),
    }


def test_user_report_counts_each_user_and_event_once(spark, tmp_path) -> None:
    rows = [
        event("1", at(0), "Login", "ann", "acme"),
        event("1", at(0), "Login", "ann", "globex"),
        event("2", at(5), "Login", "ann", None),  # no company: still a user event
        event("3", at(5), "Login", "bob", "acme"),
    ]
    item = "- name: dau\n  group_type: user\n"
    assert counts(spark, tmp_path, item, rows) == {(MON, "(all)"): (3, 2, 2)}


def test_filters_on_event_type_event_and_group_properties(spark, tmp_path) -> None:
    vers = [
        version("acme", 1, at(0), None, {"plan": "paid"}),
        version("globex", 1, at(0), None, {"plan": "free"}),
    ]
    rows = [
        event("1", at(0), "Create Report", "ann", "acme", 1, {"chart_id": "c1", "n": 5}),
        event("2", at(1), "Create Report", "bob", "acme", 1, {"chart_id": "c2", "n": 50}),
        event("3", at(2), "Login", "bob", "acme", 1, {"n": 50}),
        event("4", at(3), "Create Report", "cid", "globex", 1, {"chart_id": "c1", "n": 50}),
        event("5", at(4), "Create Report", "dan", "initech", None, {"n": 50}),  # no plan
    ]
    item = """
- name: f
  group_type: company
  events: [Create Report]
  where:
    - {property: group.plan, op: "!=", value: free}
    - {property: event.n, op: ">", value: 10}
"""
    # acme's event 2 (event 1 has n=5, event 3 is a Login) and initech (absent plan != free)
    assert counts(spark, tmp_path / "a", item, rows, vers) == {(MON, "(all)"): (2, 2, 2)}
    by_chart = """
- name: charts
  group_type: company
  where: [{property: event.chart_id, op: in, values: [c1, c2]}]
  segment_by: event.chart_id
"""
    assert counts(spark, tmp_path / "b", by_chart, rows, vers) == {
        (MON, "c1"): (2, 2, 2),
        (MON, "c2"): (1, 1, 1),
    }


def test_rolling_seven_day_active_groups(spark, tmp_path) -> None:
    rows = [
        event("1", at(0), "Login", "ann", "acme"),
        event("2", at(0, day=5), "Login", "bob", "globex"),
        event("3", at(0, day=8), "Login", "bob", "globex"),
    ]
    item = "- name: r7\n  group_type: company\n  rolling_days: 7\n"
    got = counts(spark, tmp_path, item, rows)
    day = [MON + dt.timedelta(days=i) for i in range(9)]
    uniques = {d: got[(d, "(all)")][1] for d in day}
    # acme is active on days 0..6, globex on days 5..14 (reported up to the last day, 8)
    assert uniques == dict(zip(day, [1, 1, 1, 1, 1, 2, 2, 1, 1], strict=True))
    assert got[(day[8], "(all)")] == (2, 1, 1)  # events of days 2..8: events 2 and 3
    assert set(got) == {(d, "(all)") for d in day}


def test_top_groups_by_events(spark, tmp_path) -> None:
    rows = [event(str(i), at(i), "View", "u", g) for i, g in enumerate("aaabbc")]
    report = report_from(
        tmp_path,
        "- name: t\n  group_type: company\n  segment_by: group\n  top: {n: 2, by: events}\n",
    )
    prepared = report_rows(attributed(spark, rows), versions(spark, []), report)
    srows = segmentation_rows(with_cohort(spark, None, prepared, report), report)
    ranks = {r[R.SEGMENT]: r[R.SEGMENT_RANK] for r in top_segments(srows, report).collect()}
    assert ranks == {"a": 1, "b": 2}


def test_affected_periods_cover_the_rolling_window_and_a_moved_last_day(tmp_path) -> None:
    weekly = report_from(tmp_path / "w", "- name: w\n  group_type: company\n  interval: week\n")
    rolling = report_from(tmp_path / "r", "- name: r\n  group_type: company\n  rolling_days: 3\n")
    d = dt.date(2024, 1, 10)  # a Wednesday
    assert affected_periods(weekly, [d, d + dt.timedelta(days=1)]) == [dt.date(2024, 1, 8)]
    assert affected_periods(rolling, [d]) == [d, d + dt.timedelta(1), d + dt.timedelta(2)]
    moved = affected_periods(rolling, [d], (d - dt.timedelta(days=2), d))
    assert moved == [d + dt.timedelta(days=i) for i in range(-1, 3)]
