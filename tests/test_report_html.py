"""The report page: chart conventions on hand-made rows (no Spark), and the page drawn by
headless Chromium with the network off (tests/browser_page.py)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from browser_page import CHROMIUM, check_drawn, render
from groupetl.charts import INCOMPLETE, DataRange, is_incomplete, period_axis, period_end
from groupetl.cohorts.chart import cohort_sizes_chart
from groupetl.cohorts.spec import members_csv_path
from groupetl.reports.definitions import Report
from groupetl.reports.figures import duration_text, funnel_chart, report_chart, segmentation_chart
from groupetl.reports.html import member_csv_links
from groupetl.reports.page import PageHeader, Section, page_html
from groupetl.retention.chart import cell_ended, retention_report_chart
from sample_page import (
    COHORT_ROWS,
    DATA,
    FUNNEL_ROWS,
    HORIZON,
    RETENTION_ROWS,
    ROLLING_ROWS,
    TOP_ROWS,
    WAC_ROWS,
    reports,
    retention_row,
    sample_page,
)

WEEK_MS = 7 * 86_400_000


@pytest.fixture(scope="module")
def defined(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """The sample page's reports by name (parsed from a config file)."""
    return reports(tmp_path_factory.mktemp("conf"))


def traces(fig, **match):
    return [t for t in fig.data if all(getattr(t, k) == v for k, v in match.items())]


def test_cut_weeks_months_and_rolling_windows_are_incomplete() -> None:
    data = DataRange(dt.date(2024, 1, 3), dt.date(2024, 2, 14))
    assert is_incomplete(dt.date(2024, 1, 1), "week", data)  # starts before the data
    assert not is_incomplete(dt.date(2024, 1, 8), "week", data)
    assert is_incomplete(dt.date(2024, 2, 12), "week", data)  # ends after the data
    assert is_incomplete(dt.date(2024, 2, 1), "month", data)
    assert period_end(dt.date(2024, 2, 1), "month") == dt.date(2024, 2, 29)
    assert is_incomplete(dt.date(2024, 1, 8), "day", data, rolling_days=7)  # from 01-02
    assert not is_incomplete(dt.date(2024, 1, 9), "day", data, rolling_days=7)
    narrowed = data.clipped(dt.date(2024, 1, 10), None)
    assert is_incomplete(dt.date(2024, 1, 8), "week", narrowed)  # the report's `from`


def test_weekly_counts_start_at_0_with_one_tick_per_week(defined: dict[str, Report]) -> None:
    chart = segmentation_chart(defined["wac"], WAC_ROWS, DATA)
    layout = chart.figure.layout
    assert layout.yaxis.rangemode == "tozero"
    assert layout.xaxis.dtick == WEEK_MS and layout.xaxis.tick0 == "2024-01-01"
    assert layout.hovermode == "x unified"  # EMEA and NA coincide: hover lists both
    assert layout.legend.title.text == "group.region"
    assert period_axis("month", 3)["dtick"] == "M1"
    assert period_axis("day", 90)["dtick"] == 4 * 86_400_000  # 90 days: every 4th day labelled


def test_partial_first_and_last_weeks_are_dotted_not_dropped(defined: dict[str, Report]) -> None:
    chart = segmentation_chart(defined["wac"], WAC_ROWS, DATA)
    emea = traces(chart.figure, legendgroup="EMEA")
    markers, solid, dotted = emea
    assert list(markers.y) == [16, 16, 16, 16]  # every week keeps its count
    assert list(markers.marker.symbol) == ["circle-open", "circle", "circle", "circle-open"]
    assert list(solid.y) == [None, 16, 16, None]
    assert dotted.line.dash == "dot" and dotted.meta == INCOMPLETE
    assert list(dotted.y) == [16, 16, 16, 16]  # the partial weeks joined to their neighbours
    emea_rows = [r for r in chart.table if r[1] == "EMEA"]
    assert [r[-1] for r in emea_rows] == ["yes", "", "", "yes"]
    assert {r[1] for r in chart.table} == {"EMEA", "NA", "APAC"}


def test_first_six_rolling_windows_are_incomplete_and_the_title_says_paid(
    defined: dict[str, Report],
) -> None:
    chart = segmentation_chart(defined["active_7d_paid"], ROLLING_ROWS, DATA)
    markers = traces(chart.figure, legendgroup="(all)")[0]
    opened = [s == "circle-open" for s in markers.marker.symbol]
    assert opened == [True] * 6 + [False] * 16
    assert "group.plan = paid" in chart.figure.layout.title.text
    assert "7-day active company groups per day" in chart.figure.layout.title.text


def test_top_n_is_bars_in_rank_order_hatched_in_partial_weeks(defined: dict[str, Report]) -> None:
    chart = segmentation_chart(defined["top_charts"], TOP_ROWS, DATA)
    bars = chart.figure.data
    assert [b.type for b in bars] == ["bar"] * 3
    assert [b.name for b in bars] == ["c1", "c2", "c3"]
    assert list(bars[0].marker.pattern.shape) == ["/", "", "", "/"]
    assert chart.figure.layout.yaxis.dtick == 1  # small counts: no tick at 2.5 charts
    assert "top 3 by events" in chart.figure.layout.title.text


def test_funnel_shows_counts_both_conversions_and_median_time(defined: dict[str, Report]) -> None:
    chart = funnel_chart(defined["invoices"], FUNNEL_ROWS)
    total, emea = chart.figure.data
    assert emea.name == "EMEA"
    assert total.name == "(all)" and list(total.y) == [12, 6, 3]
    assert list(total.text) == ["12<br>100%", "6<br>50%", "3<br>25%"]
    assert [list(c) for c in total.customdata][2] == ["25%", "50%", "3h"]
    assert list(total.x) == [
        "1. Send Invoice",
        "2. Pay Invoice<br>median 2h",
        "3. Archive<br>median 3h",
    ]
    assert chart.figure.layout.legend.title.text == "group.region"
    assert chart.figure.layout.yaxis.rangemode == "tozero"
    assert ("EMEA", 3, "Archive", 1, "12%", "25%", "3h") in chart.table
    assert duration_text(90_061) == "1d 1h" and duration_text(None) == ""


def test_retention_cells_whose_period_has_not_ended_are_grey_not_zero() -> None:
    chart = retention_report_chart(RETENTION_ROWS, HORIZON, "weekly-calendar")
    ended, open_cells, curve, not_ended = chart.figure.data
    assert list(ended.z[1]) == [1.0, 0.5, None, None]  # 12-30 week 2 is not drawn as 0 %
    assert list(open_cells.z[1]) == [None, None, 0.0, None] and open_cells.meta == INCOMPLETE
    assert open_cells.text[1][2] == "0%<br>0 so far"
    assert list(curve.x) == [0, 1, 2] and list(curve.y) == [1.0, 0.75, 0.5]  # ended cells only
    assert not_ended.line.dash == "dot" and list(not_ended.x) == [2, 3]
    assert chart.figure.layout.xaxis2.dtick == 1  # week numbers, never 1.5
    assert ("", "2024-12-30", 2, 2, 0, "0.0%", "not yet") in chart.table


def test_rolling_retention_cells_end_a_whole_period_after_the_cohorts_last_start() -> None:
    row = {**retention_row(dt.date(2024, 1, 1), 2, 1, 1), "basis": "rolling"}
    # a member may start on Sunday 01-07: its rolling week 1 ends on 01-21
    assert not cell_ended(row, dt.date(2024, 1, 20))
    assert cell_ended(row, dt.date(2024, 1, 21))
    monthly = {**row, "period": "month", "basis": "calendar"}
    assert not cell_ended(monthly, dt.date(2024, 2, 28)) and cell_ended(
        monthly, dt.date(2024, 2, 29)
    )
    assert cell_ended({**row, "period_n": 0}, dt.date(2024, 1, 1))


def test_cohort_sizes_are_lines_of_members_per_snapshot() -> None:
    chart = cohort_sizes_chart(COHORT_ROWS)
    big, power = chart.figure.data
    assert big.name == "Big (company)" and list(big.y) == [2, 2, 2]
    assert power.name == "Power users (company)" and list(power.y) == [3, 5, 4]
    assert chart.figure.layout.yaxis.rangemode == "tozero"
    assert len(chart.table) == 6


def test_cohorts_link_the_members_csv_that_exist_relative_to_the_page(tmp_path: Path) -> None:
    root, page_dir = tmp_path / "data", tmp_path / "site" / "pages"
    for name in ("Big", "Trial/2026 Q1"):  # a name with a slash is still one file
        members_csv_path(root, name).parent.mkdir(parents=True, exist_ok=True)
        members_csv_path(root, name).write_text("group_type,group_value,name\n")
    links = member_csv_links(root, ["Trial/2026 Q1", "Big", "Power users", "Big"], page_dir)
    assert links == (
        ("Big", "../../data/microscope/Big.csv"),
        ("Trial/2026 Q1", "../../data/microscope/Trial%2F2026 Q1.csv"),
    )  # "Power users" has no CSV: no link
    chart = cohort_sizes_chart(COHORT_ROWS)
    page = page_html(
        PageHeader("p", DATA, None, dt.datetime(2024, 1, 1), None),
        [Section("Cohorts", "cohorts", "Cohort sizes", "", chart, member_csvs=links)],
    )
    hrefs = re.findall(r'<p class="files">Members as CSV: (.*?)</p>', page)
    assert len(hrefs) == 1
    targets = re.findall(r'<a href="([^"]+)">([^<]+)</a>', hrefs[0])
    assert [label for _, label in targets] == ["Big", "Trial/2026 Q1"]
    for href, label in targets:  # the browser unquotes the href once: the file itself
        assert (page_dir / unquote(href)).resolve() == members_csv_path(root, label).resolve()
    no_files = page_html(PageHeader("p", DATA, None, dt.datetime(2024, 1, 1), None), [
        Section("Cohorts", "cohorts", "Cohort sizes", "", chart)
    ])  # fmt: skip
    assert "Members as CSV" not in no_files


def test_reports_without_rows_get_an_empty_chart_and_say_so(defined: dict[str, Report]) -> None:
    charts = [report_chart(report, [], DATA) for report in defined.values()]
    charts += [retention_report_chart([], HORIZON), cohort_sizes_chart([])]
    assert all(c.table == [] for c in charts)
    sections = [
        Section("Reports", f"r{i}", "r", "", c, "No rows yet.") for i, c in enumerate(charts)
    ]
    header = PageHeader("empty", None, None, dt.datetime(2024, 1, 1), None)
    page = page_html(header, sections)
    assert page.count('<p class="note">No rows yet.</p>') == len(charts)
    assert "no events yet" in page and "not run yet (<code>groupetl qa</code>)" in page


def test_page_is_self_contained_with_a_header_and_a_table_per_chart(tmp_path: Path) -> None:
    page = sample_page(tmp_path)
    assert page.count("<script src=") == 0  # no CDN, no external file
    assert page.count("plotly.js v") == 1  # the library is inlined once
    assert page.count('class="plotly-graph-div"') == 6
    assert page.count("<details><summary>Data table") == 6
    assert "2024-01-03 to 2024-01-24" in page
    assert '<b class="fail">FAILED</b>: 40 expectations, 2 errors' in page
    assert (
        page.index("<h2>Reports</h2>")
        < page.index("<h2>Retention</h2>")
        < page.index("<h2>Cohorts</h2>")
    )


@pytest.mark.slow
def test_browser_draws_every_chart_offline_with_incomplete_periods_marked(tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    summary = render(sample_page(tmp_path), tmp_path)
    reports = [f"report-{i}-plot" for i in range(4)]
    check_drawn(summary, {*reports, "retention-0-plot", "cohorts-plot"})
    plots = summary["plots"]
    marks = {name: plots[name]["incomplete"] for name in plots}
    # partial weeks and windows drawn dotted (in the SVG too), hatched bars, grey cells
    assert [m["dash"] for m in marks["report-0-plot"]] == ["dot"] * 3
    assert plots["report-0-plot"]["svgDashed"] == 3 and plots["report-1-plot"]["svgDashed"] == 1
    assert [m["hatched"] for m in marks["report-2-plot"]] == [True] * 3
    assert [m["type"] for m in marks["retention-0-plot"]] == ["heatmap", "scatter"]
    assert set(marks["retention-0-plot"][0]["colorscale"]) == {"rgb(215,215,215)"}
    assert marks["report-3-plot"] == [] and marks["cohorts-plot"] == []  # nothing incomplete
