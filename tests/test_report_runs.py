"""Reports end to end on Delta tables: first run, unchanged re-run, microscope (list, CSV,
cohort), a cohort split, and an incremental run equal to a full recompute.

The tests of this module share one project (a module fixture) and run in file order: the
microscope saves the cohort that the split report uses, and the incremental test changes the
input last.
"""

from __future__ import annotations

import csv
import json

import pytest

from browser_page import CHROMIUM, check_drawn, render
from groupetl import tables
from groupetl.cohorts import read_members
from groupetl.cohorts.spec import members_csv_path
from groupetl.errors import InputError
from groupetl.reports import (
    GOLD_FUNNEL_GROUPS,
    GOLD_FUNNELS,
    GOLD_SEGMENTATION,
    MicroscopePoint,
    load_reports,
    microscope,
    run_reports,
    save_as_cohort,
    write_csv,
    write_html,
    write_microscope,
)
from groupetl.reports.columns import R
from groupetl.reports.definitions import GOLD_MICROSCOPE
from groupetl.schemas import CURRENT_GROUP_PROPERTIES, C, T
from test_report_helpers import at, attributed, event, make_config, version, versions

pytestmark = pytest.mark.spark

REPORTS = """
- name: weekly_by_region
  group_type: company
  interval: week
  segment_by: group.region
- name: rolling_3d_split
  group_type: company
  rolling_days: 3
  cohort: {name: dropped_invoices, split: true}
- name: invoices
  kind: funnel
  group_type: company
  steps: [Send Invoice, Pay Invoice]
  window: 2 days
  breakdown: group.region
"""

VERSIONS = [
    version("acme", 1, at(0), at(day=2), {"Account Name": "Acme Corp", "region": "EU"}),
    version("acme", 2, at(day=2), None, {"Account Name": "Acme Corp", "region": "US"}),
    version("globex", 1, at(0), None, {"Account Name": "Globex", "region": "EU"}),
    version("initech", 1, at(0), None, {"Account Name": "Initech"}),
]

EVENTS = [
    # acme: the admin sends, a patient pays the next day: the company converts
    event("s1", at(60), "Send Invoice", "admin", "acme", 1),
    event("p1", at(60, day=1), "Pay Invoice", "patient", "acme", 1),
    # globex sends and never pays; initech pays 3 days later (outside the 2-day window)
    event("s2", at(60, day=1), "Send Invoice", "gil", "globex", 1),
    event("s3", at(60, day=4), "Send Invoice", "ida", "initech", 1),
    event("p3", at(60, day=7), "Pay Invoice", "ida", "initech", 1),
    event("l1", at(30, day=5), "Login", "admin", "acme", 2),
    event("l2", at(30, day=8), "Login", "gil", "globex", 1),
    event("l3", at(30, day=10), "Login", "ida", "initech", 1),
]


def write_inputs(spark, config, rows) -> None:
    tables.overwrite(attributed(spark, rows), config.paths.table(T.ATTRIBUTED_EVENTS))


@pytest.fixture(scope="module")
def project(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("reports_project")
    config = make_config(root, REPORTS)
    tables.overwrite(versions(spark, VERSIONS), config.paths.table(T.GROUP_VERSIONS))
    current = [(v[0], v[1], v[2], v[3], v[5]) for v in VERSIONS if v[4] is None]
    tables.overwrite(
        spark.createDataFrame(current, CURRENT_GROUP_PROPERTIES),
        config.paths.table(T.CURRENT_GROUP_PROPERTIES),
    )
    write_inputs(spark, config, EVENTS)
    first = run_reports(spark, config)
    return config, first


def gold(spark, config, table: str) -> list[tuple]:
    """A gold table's rows without run_id/computed_at, sorted (for whole-table comparison)."""
    df = tables.read(spark, config.paths.table(table))
    cols = [c for c in df.columns if c not in (R.RUN_ID, R.COMPUTED_AT)]
    return sorted(
        (tuple(json.dumps(v, default=str) for v in r) for r in df.select(*cols).collect()),
    )


def test_first_run_is_full_then_unchanged(spark, project) -> None:
    config, first = project
    assert first.counts["reports_full"] == 3
    assert first.counts["units_recomputed"] == 3
    again = run_reports(spark, config)
    assert again.counts["reports_unchanged"] == 3, again.notes
    steps = tables.read(spark, config.paths.table(GOLD_FUNNELS))
    total = steps.filter(f"{R.BREAKDOWN} = '(all)'").orderBy(R.STEP).collect()
    assert [(r[R.REACHED], r[R.DROPPED]) for r in total] == [(3, 0), (1, 2)]


def test_html_page_has_a_chart_per_computed_report(spark, project, tmp_path) -> None:
    config, first = project
    page = write_html(spark, config, first, tmp_path / "out" / "reports.html").read_text()
    assert page.count('class="plotly-graph-div"') == 3 + 1  # and the (empty) cohort sizes
    assert page.count("<script src=") == 0
    assert '"Send Invoice"' in page or "Send Invoice" in page
    assert "2024-01-01 to 2024-01-11 (event dates, UTC)" in page
    assert "not run yet (<code>groupetl qa</code>)" in page


@pytest.mark.slow
def test_html_page_from_gold_rows_is_drawn_offline(spark, project, tmp_path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    config, first = project
    page = write_html(spark, config, first, tmp_path / "out" / "reports.html").read_text()
    # the one end-to-end drawing: every report drawn from its gold rows, offline, counts from 0
    summary = render(page, tmp_path)
    check_drawn(summary, {f"report-{i}-plot" for i in range(3)}, frozenset({"cohorts-plot"}))
    marks = {name: plot["incomplete"] for name, plot in summary["plots"].items()}
    assert marks["report-0-plot"]  # the week of 01-08 is cut by the last day, 01-11
    assert marks["report-1-plot"]  # 3-day windows of 01-01 and 01-02 reach before the data


def test_microscope_lists_the_groups_of_a_drop_off(spark, project, tmp_path) -> None:
    config, _ = project
    report = {r.name: r for r in load_reports(config)}["invoices"]
    point = MicroscopePoint(dropoff=2)
    dropped = microscope(spark, config, report, point)
    got = sorted((r[C.GROUP_VALUE], r[R.NAME]) for r in dropped.collect())
    assert got == [("globex", "Globex"), ("initech", "Initech")]
    converted = microscope(spark, config, report, MicroscopePoint(step=2, breakdown="EU"))
    assert [r[C.GROUP_VALUE] for r in converted.collect()] == ["acme"]

    assert write_csv(dropped, tmp_path / "dropped.csv") == 2
    with (tmp_path / "dropped.csv").open() as fh:
        assert list(csv.reader(fh)) == [
            ["group_type", "group_value", "name"],
            ["company", "globex", "Globex"],
            ["company", "initech", "Initech"],
        ]
    with pytest.raises(InputError, match="more than 1 groups"):
        write_csv(dropped, tmp_path / "capped.csv", max_rows=1)
    assert not (tmp_path / "capped.csv").exists()

    assert write_microscope(spark, config, report, point, dropped) == 2
    saved = tables.read(spark, config.paths.table(GOLD_MICROSCOPE)).collect()
    assert {r[R.POINT] for r in saved} == {"dropoff 2"}

    assert save_as_cohort(spark, config, dropped, "dropped_invoices") == 2
    assert save_as_cohort(spark, config, dropped.limit(1), "dropped_invoices") == 1  # replaced
    assert save_as_cohort(spark, config, dropped, "dropped_invoices") == 2
    # and as CSV where the report page links it (the replaced one's single row is gone)
    with members_csv_path(config.paths.root, "dropped_invoices").open() as fh:
        assert [row[1] for row in csv.reader(fh)] == ["group_value", "globex", "initech"]
    members = read_members(spark, config).collect()
    assert sorted((m["cohort"], m[C.GROUP_VALUE], m["cohort_source"]) for m in members) == [
        ("dropped_invoices", "globex", "microscope"),
        ("dropped_invoices", "initech", "microscope"),
    ]


def test_segmentation_microscope_of_a_week_and_region(spark, project) -> None:
    config, _ = project
    report = {r.name: r for r in load_reports(config)}["weekly_by_region"]
    monday = at(0).date()
    point = MicroscopePoint(period_start=monday, segment="EU")
    groups = sorted(r[C.GROUP_VALUE] for r in microscope(spark, config, report, point).collect())
    assert groups == ["acme", "globex"]  # acme was in EU on Monday and Tuesday


def test_incremental_run_equals_a_full_recompute(spark, project) -> None:
    config, _ = project
    tables_ = (GOLD_SEGMENTATION, GOLD_FUNNELS, GOLD_FUNNEL_GROUPS)
    changed = [e for e in EVENTS if e[0] not in ("l3", "l1")]  # l3 was the last day
    changed += [
        event("p2", at(0, day=2), "Pay Invoice", "gil", "globex", 1),  # late: globex converts
        event("l1", at(30, day=5), "Login", "admin", "initech", 1),  # restated group
        event("l4", at(0, day=12), "Login", "nia", "globex", 1),  # new day
    ]
    write_inputs(spark, config, changed)
    # The split report sees the cohort saved by the microscope test: a changed cohort is a
    # changed input, so the days of globex's and initech's events are recomputed too.
    incremental = run_reports(spark, config)
    assert incremental.counts["reports_incremental"] == 3, incremental.notes
    assert incremental.counts["units_recomputed"] == 1  # globex (Logins are not funnel steps)
    notes = "\n".join(incremental.notes)
    # changed dates: Jan 3 (late Pay), Jan 6 (restated Login), Jan 11 (removed), Jan 13 (new)
    assert "weekly_by_region (segmentation): incremental, 2 periods" in notes, notes
    after_incremental = {t: gold(spark, config, t) for t in tables_}
    full = run_reports(spark, config, full=True)
    assert full.counts["reports_full"] == 3
    assert {t: gold(spark, config, t) for t in tables_} == after_incremental
    split = tables.read(spark, config.paths.table(GOLD_SEGMENTATION)).filter(
        f"{R.REPORT_NAME} = 'rolling_3d_split'"
    )
    cells = {(r[R.PERIOD_START].day, r[R.COHORT_SEGMENT]): r[R.UNIQUES] for r in split.collect()}
    assert cells[(2, "in cohort")] == 1 and cells[(2, "rest")] == 1  # globex; acme
