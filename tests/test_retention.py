"""Retention of groups: a hand-checked weekly triangle across ISO-week (and year) boundaries.

Four companies start with ``Create Report`` (start: first_time) and return with any event:

    A  start Sun 2024-12-29 22:00 (ISO week of Mon 12-23); returns Mon 12-30 09:00, Mon 01-06 10:00
    B  start Tue 2024-12-24 10:00 (week 12-23);          returns Wed 01-01 09:00, Thu 01-16 10:00
    C  start Mon 2024-12-30 08:00 (week 12-30);          returns Sun 01-05 23:00, Mon 01-13 07:00
       (and a Login on 12-20, before its start: never a return)
    D  start Wed 2025-01-01 12:00 (week 12-30);          its second Create Report Wed 01-08 12:00

Calendar weeks count Monday boundaries; rolling weeks are 7 x 24 h from each start. The last
event is on 01-16, so cohort 12-23 shows weeks 0..3 and cohort 12-30 weeks 0..2 (a triangle).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from groupetl import tables
from groupetl.cohorts.columns import entity_events
from groupetl.cohorts.spec import EventCriteria, members_csv_path
from groupetl.config import load_config
from groupetl.errors import ConfigError, InputError
from groupetl.retention import (
    GOLD_RETENTION,
    RetentionSpec,
    parse_retention,
    read_retention,
    retention_cells,
    retention_chart,
    retention_members,
    retention_microscope,
    run_retention,
    save_microscope_cohort,
)
from groupetl.retention.compute import data_horizon
from groupetl.retention.spec import CohortRef
from groupetl.schemas import (
    ATTRIBUTED_EVENTS,
    COHORT_MEMBERS,
    CURRENT_GROUP_PROPERTIES,
    RC,
    C,
    T,
)

D1223, D1230, D0106 = dt.date(2024, 12, 23), dt.date(2024, 12, 30), dt.date(2025, 1, 6)
DECLARED = ("company", "workspace")


def event(eid, when, etype, group, user, group_type="company"):
    t = dt.datetime.fromisoformat(when)
    attribution = "none" if group is None else "user"
    return (eid, t, t.date(), etype, user, user, None, {}, "amplitude", group_type, group,
            attribution, None, "b1")  # fmt: skip


EVENTS = [
    event("a0", "2024-12-29 22:00:00", "Create Report", "A", "a1"),
    event("a1", "2024-12-30 09:00:00", "Login", "A", "a2"),
    event("a2", "2025-01-06 10:00:00", "View Dashboard", "A", "a1"),
    event("b0", "2024-12-24 10:00:00", "Create Report", "B", "b1"),
    event("b1", "2025-01-01 09:00:00", "Login", "B", "b1"),
    event("b2", "2025-01-16 10:00:00", "Share Report", "B", "b1"),
    event("c_", "2024-12-20 12:00:00", "Login", "C", "c1"),
    event("c0", "2024-12-30 08:00:00", "Create Report", "C", "c1"),
    event("c1", "2025-01-05 23:00:00", "Login", "C", "c1"),
    event("c2", "2025-01-13 07:00:00", "Login", "C", "c1"),
    event("d0", "2025-01-01 12:00:00", "Create Report", "D", "d1"),
    event("d1", "2025-01-08 12:00:00", "Create Report", "D", "d1"),
    # an event without a company (user u9), and a workspace-only event: no company cohort member
    event("n0", "2025-01-02 10:00:00", "Create Report", None, "u9"),
    event("w0", "2025-01-02 11:00:00", "Create Report", None, "w1"),
    event("w0", "2025-01-02 11:00:00", "Create Report", "W1", "w1", group_type="workspace"),
]

WEEKLY = RetentionSpec(
    name="weekly",
    group_type="company",
    start_event=EventCriteria("Create Report"),
    return_event=EventCriteria(),
    period="week",
    basis="calendar",
    measure="on",
    periods=4,
)


@pytest.fixture(scope="module")
def attributed(spark):
    return spark.createDataFrame(EVENTS, ATTRIBUTED_EVENTS)


def cells(attributed, spec, cohorts_df=None):
    """(segment, cohort_period, period_n) -> (cohort_size, retained) of the report."""
    events = entity_events(attributed, spec.group_type, DECLARED)
    members = retention_members(events, spec, cohorts_df)
    rows = retention_cells(members, spec, data_horizon(events)).collect()
    out = {}
    for r in rows:
        assert r[RC.RATE] == pytest.approx(r[RC.RETAINED] / r[RC.COHORT_SIZE])
        out[(r[RC.SEGMENT], r[RC.COHORT_PERIOD], r[RC.PERIOD_N])] = (
            r[RC.COHORT_SIZE],
            r[RC.RETAINED],
        )
    return out


def triangle(sizes, retained, segment=None):
    """{cohort: size}, {cohort: [retained n0, n1, ...]} -> the expected cell dict."""
    return {
        (segment, cohort, n): (sizes[cohort], r)
        for cohort, row in retained.items()
        for n, r in enumerate(row)
    }


@pytest.mark.parametrize(
    ("basis", "measure", "expected"),
    [
        # calendar: A returns in weeks 1, 2; B in 1, 3; C in 2 (01-05 is still week 0); D in 1
        ("calendar", "on", {D1223: [2, 2, 1, 1], D1230: [2, 1, 1]}),
        ("calendar", "on_or_after", {D1223: [2, 2, 2, 1], D1230: [2, 2, 1]}),
        # rolling: A 11 h (week 0) and 7 d 12 h (1); B 7 d 23 h (1) and 23 d (3);
        # C 6 d 15 h (0) and 13 d 23 h (1); D exactly 7 d (1)
        ("rolling", "on", {D1223: [2, 2, 0, 1], D1230: [2, 2, 0]}),
        ("rolling", "on_or_after", {D1223: [2, 2, 1, 1], D1230: [2, 2, 0]}),
    ],
)
def test_weekly_triangle_across_iso_week_boundaries(attributed, basis, measure, expected):
    spec = replace(WEEKLY, basis=basis, measure=measure)
    assert cells(attributed, spec) == triangle({D1223: 2, D1230: 2}, expected)


def test_start_any_adds_a_cohort_entry_for_every_period_with_a_start_event(attributed):
    spec = replace(WEEKLY, start="any")
    # D's second Create Report (01-08) also puts D in cohort 01-06; it never returns after it
    expected = {D1223: [2, 2, 1, 1], D1230: [2, 1, 1], D0106: [1, 0]}
    assert cells(attributed, spec) == triangle({D1223: 2, D1230: 2, D0106: 1}, expected)


def test_calendar_day_periods_and_a_return_event(attributed):
    spec = replace(WEEKLY, period="day", periods=3, return_event=EventCriteria("Login"))
    got = cells(attributed, spec)
    # A: its Login on 12-30 is day 1; C: no Login on days 1..3; B: its Login 01-01 is day 8
    assert got[(None, dt.date(2024, 12, 29), 1)] == (1, 1)
    assert got[(None, dt.date(2024, 12, 30), 1)] == (1, 0)
    assert got[(None, dt.date(2024, 12, 24), 3)] == (1, 0)


def test_user_level_retention_counts_users_not_companies(attributed):
    spec = replace(WEEKLY, group_type="user")
    # users a1 (A's start; returns week 2), b1 (weeks 1, 3), c1 (week 2), d1 (week 1), and u9
    # and w1 (Create Report on 01-02 without a company; no return); a2 never started
    expected = {D1223: [2, 1, 1, 1], D1230: [4, 1, 1]}
    assert cells(attributed, spec) == triangle({D1223: 2, D1230: 4}, expected)


def members_frame(spark, rows):
    now = dt.datetime(2025, 1, 17)
    return spark.createDataFrame(
        [(c, gt, v, d, "imported", now) for c, gt, v, d in rows], COHORT_MEMBERS
    )


def test_cohort_split_labels_cohort_members_and_the_rest(spark, attributed):
    cohorts_df = members_frame(
        spark,
        [
            ("Big", "company", "A", dt.date(2025, 1, 10)),
            ("Big", "company", "C", dt.date(2025, 1, 10)),
            ("Big", "company", "B", dt.date(2025, 1, 1)),  # an older snapshot: not used
            ("Big", "workspace", "B", dt.date(2025, 1, 12)),  # another group type: not used
        ],
    )
    spec = replace(WEEKLY, cohort=CohortRef("Big", "split"))
    expected = triangle(
        {D1223: 1, D1230: 1}, {D1223: [1, 1, 1, 0], D1230: [1, 0, 1]}, "in cohort"
    ) | triangle({D1223: 1, D1230: 1}, {D1223: [1, 1, 0, 1], D1230: [1, 1, 0]}, "rest")
    assert cells(attributed, spec, cohorts_df) == expected
    filtered = cells(attributed, replace(spec, cohort=CohortRef("Big", "filter")), cohorts_df)
    assert filtered == {(None, k[1], k[2]): v for k, v in expected.items() if k[0] == "in cohort"}


CONFIG = """\
project: rt
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name}
  - {name: workspace, name_property: Workspace Name}
retention:
  - name: weekly-calendar
    group_type: company
    start_event: Create Report
    period: week
    basis: calendar
    periods: 4
  - name: weekly-split
    group_type: company
    start_event: {event: Create Report}
    period: week
    basis: calendar
    periods: 4
    cohort: {name: Big, mode: split}
"""


@pytest.fixture(scope="module")
def project(spark, attributed, tmp_path_factory):
    root = tmp_path_factory.mktemp("retention")
    (root / "project.yaml").write_text(CONFIG)
    config = load_config(root / "project.yaml")
    tables.append(attributed, config.paths.table(T.ATTRIBUTED_EVENTS))
    current = spark.createDataFrame(
        [("company", "A", 2, dt.datetime(2024, 1, 1), {"Account Name": '"Acme Corp"'}),
         ("company", "C", 1, dt.datetime(2024, 1, 1), {"plan": '"free"'})],
        CURRENT_GROUP_PROPERTIES,
    )  # fmt: skip
    tables.append(current, config.paths.table(T.CURRENT_GROUP_PROPERTIES))
    big = members_frame(spark, [("Big", "company", v, dt.date(2025, 1, 10)) for v in "AC"])
    tables.append(big, config.paths.table(T.COHORT_MEMBERS))
    return config


def test_run_retention_writes_both_reports_to_gold(spark, project):
    result = run_retention(spark, project)
    assert result.stage == "retention"
    assert result.counts == {"reports": 2, "cells": 7 + 14}
    assert result.tables == [GOLD_RETENTION]
    gold = read_retention(spark, project, "weekly-calendar").collect()
    assert len({r[C.RUN_ID] for r in gold}) == 1
    got = {(r[RC.COHORT_PERIOD], r[RC.PERIOD_N]): (r[RC.RETAINED], r[RC.RATE]) for r in gold}
    assert got == {
        (D1223, 0): (2, 1.0), (D1223, 1): (2, 1.0), (D1223, 2): (1, 0.5), (D1223, 3): (1, 0.5),
        (D1230, 0): (2, 1.0), (D1230, 1): (1, 0.5), (D1230, 2): (1, 0.5),
    }  # fmt: skip
    assert {r[RC.SEGMENT] for r in gold} == {None}
    split = read_retention(spark, project, "weekly-split").collect()
    assert {r[RC.SEGMENT] for r in split} == {"in cohort", "rest"}
    # a re-run replaces the reports' rows instead of adding to them
    run_retention(spark, project, names=["weekly-calendar"])
    assert read_retention(spark, project).count() == 21

    figure = retention_chart(gold)
    heatmap, curve = figure.data
    assert heatmap.type == "heatmap" and curve.type == "scatter"
    assert list(heatmap.z[1]) == [1.0, 0.5, 0.5, None]  # cohort 12-30 has no week 3 yet
    assert list(curve.y) == [1.0, 0.75, 0.5, 0.5]


def test_microscope_lists_the_groups_of_a_cell_and_saves_them_as_a_cohort(spark, project, tmp_path):
    # cached: each DataFrame is used several times below (collect, CSV, save)
    retained = retention_microscope(spark, project, "weekly-calendar", D1223, 2, True).cache()
    assert [(r[C.GROUP_VALUE], r[RC.NAME]) for r in retained.collect()] == [("A", "Acme Corp")]
    dropped = retention_microscope(spark, project, "weekly-calendar", D1223, 2, False).cache()
    assert [(r[C.GROUP_VALUE], r[RC.NAME]) for r in dropped.collect()] == [("B", None)]

    from groupetl.cohorts import read_members, write_groups_csv

    out = tmp_path / "cell.csv"
    assert write_groups_csv(dropped, out) == 1
    with Path(out).open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [
        {"group_type": "company", "group_value": "B", "name": "", "segment": "",
         "cohort_period": "2024-12-23", "start_time": "2024-12-24 10:00:00"}
    ]  # fmt: skip

    day = dt.date(2025, 1, 17)
    assert (
        save_microscope_cohort(spark, project, dropped, "weekly-calendar", "Drop", as_of=day) == 1
    )
    # saving again under the same name replaces the cohort atomically
    assert (
        save_microscope_cohort(spark, project, retained, "weekly-calendar", "Drop", as_of=day) == 1
    )
    saved = read_members(spark, project).filter(f"{RC.COHORT} = 'Drop'").collect()
    assert [(r[C.GROUP_VALUE], r[RC.COHORT_SOURCE]) for r in saved] == [("A", "microscope")]
    # the members as CSV, where the report page links them: the last save's
    with members_csv_path(project.paths.root, "Drop").open() as fh:
        assert [r["group_value"] for r in csv.DictReader(fh)] == ["A"]
    retained.unpersist()
    dropped.unpersist()


def test_microscope_refuses_a_period_outside_the_report(spark, project):
    with pytest.raises(InputError, match=r"period 5 is outside 0..4"):
        retention_microscope(spark, project, "weekly-calendar", D1223, 5, True)


def test_retention_config_errors_name_file_line_and_key(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        CONFIG.replace(
            "basis: calendar\n    periods: 4\n  - name: weekly-split",
            "basis: calender\n    periods: 4\n  - name: weekly-split",
        )
    )
    with pytest.raises(ConfigError) as err:
        parse_retention(load_config(path))
    assert str(err.value) == (
        f"{path}:11: retention[0].basis: must be one of rolling, calendar; found 'calender'"
    )
    path.write_text(
        CONFIG.replace(
            "group_type: company\n    start_event: Create",
            "group_type: team\n    start_event: Create",
        )
    )
    with pytest.raises(ConfigError, match=r"p.yaml:8: retention\[0\].group_type: unknown group"):
        parse_retention(load_config(path))
