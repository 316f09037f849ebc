"""A report page built from hand-made rows (no Spark): the charts of tests/test_report_html.py.

Data run Wednesday 2024-01-03 to Wednesday 2024-01-24, so the first and last ISO weeks are
partial and a 7-day window is incomplete until 2024-01-08. EMEA and NA have the same counts
every week (two series on top of each other).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from groupetl.charts import DataRange
from groupetl.cohorts.chart import cohort_sizes_chart
from groupetl.reports.definitions import Report, load_reports
from groupetl.reports.figures import report_chart
from groupetl.reports.page import PageHeader, QaVerdict, Section, page_html
from groupetl.retention.chart import retention_report_chart
from test_report_helpers import make_config

DATA = DataRange(dt.date(2024, 1, 3), dt.date(2024, 1, 24))
MONDAYS = [dt.date(2024, 1, 1) + dt.timedelta(weeks=i) for i in range(4)]
DAYS = [DATA.first + dt.timedelta(days=i) for i in range(22)]
REPORTS = """\
- name: wac
  group_type: company
  interval: week
  segment_by: group.region
- name: active_7d_paid
  group_type: company
  rolling_days: 7
  where: [{property: group.plan, op: "=", value: paid}]
- name: top_charts
  group_type: company
  interval: week
  segment_by: event.chart_id
  top: {n: 3, by: events}
- name: invoices
  kind: funnel
  group_type: company
  steps: [Send Invoice, Pay Invoice, Archive]
  breakdown: group.region
"""


def reports(folder: Path) -> dict[str, Report]:
    """The four reports of the page, by name."""
    return {r.name: r for r in load_reports(make_config(folder, REPORTS))}


def segment_row(start: dt.date, segment: str, uniques: int, rank: int | None = None) -> dict:
    return {
        "period_start": start, "segment": segment, "segment_rank": rank, "cohort_segment": None,
        "events": 3 * uniques, "uniques": uniques, "users": 2 * uniques,
    }  # fmt: skip


WAC_ROWS = [
    segment_row(m, region, n)
    for m in MONDAYS
    for region, n in (("EMEA", 16), ("NA", 16), ("APAC", 9))
]
ROLLING_ROWS = [segment_row(d, "(all)", 26 + i % 3) for i, d in enumerate(DAYS)]
TOP_ROWS = [
    segment_row(m, chart, n, rank)
    for m in MONDAYS
    for rank, (chart, n) in enumerate((("c1", 7), ("c2", 5), ("c3", 2)), start=1)
]


def funnel_row(breakdown: str, step: int, reached: int, previous: int, first: int) -> dict:
    return {
        "breakdown": breakdown, "cohort_segment": None, "step": step, "reached": reached,
        "from_first": reached / first, "from_previous": reached / previous,
        "median_seconds": None if step == 1 else 3_600.0 * step,
    }  # fmt: skip


FUNNEL_ROWS = [
    funnel_row("(all)", 1, 12, 12, 12), funnel_row("(all)", 2, 6, 12, 12),
    funnel_row("(all)", 3, 3, 6, 12), funnel_row("EMEA", 1, 8, 8, 8),
    funnel_row("EMEA", 2, 4, 8, 8), funnel_row("EMEA", 3, 1, 4, 8),
]  # fmt: skip


def retention_row(cohort: dt.date, size: int, n: int, retained: int) -> dict[str, Any]:
    return {
        "report_name": "weekly-calendar", "group_type": "company", "period": "week",
        "basis": "calendar", "measure": "on", "segment": None, "cohort_period": cohort,
        "cohort_size": size, "period_n": n, "retained": retained, "rate": retained / size,
    }  # fmt: skip


# docs/reports/retention.md's example: data end Thursday 2025-01-16, so week 2 of the
# 12-30 cohort (01-13 to 01-19) has not ended; its 0 so far is not a drop to 0
D1223, D1230, HORIZON = dt.date(2024, 12, 23), dt.date(2024, 12, 30), dt.date(2025, 1, 16)
RETENTION_ROWS = [
    retention_row(D1223, 2, 0, 2), retention_row(D1223, 2, 1, 2), retention_row(D1223, 2, 2, 1),
    retention_row(D1223, 2, 3, 1), retention_row(D1230, 2, 0, 2), retention_row(D1230, 2, 1, 1),
    retention_row(D1230, 2, 2, 0),
]  # fmt: skip
COHORT_ROWS = [
    {"cohort": name, "group_type": "company", "as_of_date": d, "members": n}
    for name, counts in (("Power users", (3, 5, 4)), ("Big", (2, 2, 2)))
    for d, n in zip(DAYS[-3:], counts, strict=True)
]
ROWS = {"wac": WAC_ROWS, "active_7d_paid": ROLLING_ROWS, "top_charts": TOP_ROWS,
        "invoices": FUNNEL_ROWS}  # fmt: skip


def sample_sections(folder: Path) -> list[Section]:
    """Every chart of the page: four reports, one retention report, the cohort sizes."""
    sections = [
        Section("Reports", f"report-{i}", name, report.kind, report_chart(report, ROWS[name], DATA))
        for i, (name, report) in enumerate(reports(folder).items())
    ]
    retention = retention_report_chart(RETENTION_ROWS, HORIZON, "weekly-calendar")
    sections.append(Section("Retention", "retention-0", "weekly-calendar", "", retention))
    sections.append(
        Section("Cohorts", "cohorts", "Cohort sizes", "", cohort_sizes_chart(COHORT_ROWS))
    )
    return sections


QA = QaVerdict(dt.datetime(2024, 1, 25, 6, 0), 40, 2, 1)  # a failed QA run
HEADER = PageHeader("sample", DATA, dt.datetime(2024, 1, 25, 5), dt.datetime(2024, 1, 25, 7), QA)


def sample_page(folder: Path) -> str:
    """The whole page."""
    return page_html(HEADER, sample_sections(folder))
