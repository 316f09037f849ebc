"""The report page as HTML (Spark-free): a header, then one section per chart, each with a
data-table toggle. ``html.write_html`` reads the rows and calls these.

The page opens from disk with the network off: plotly.js is inlined once (in the first chart)
and every chart's data are in the page. It reads at 1400 px and on a laptop screen (charts take
the page's width, at most ``MAX_WIDTH_PX``).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from groupetl.charts import Chart, DataRange

MAX_WIDTH_PX = 1400
STYLE = (
    f"body{{font-family:sans-serif;margin:1.5em auto;max-width:{MAX_WIDTH_PX}px;padding:0 1em}}"
    "section{margin-bottom:2.5em}header dl{display:grid;grid-template-columns:max-content auto;"
    "gap:.2em 1em}header dt{font-weight:bold}.fail{color:#b00020}.pass{color:#1e7e34}"
    "table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:2px 6px}"
    "td.n{text-align:right}details{margin-top:.5em}.note{color:#555}nav a{margin-right:1em}"
)


@dataclass(frozen=True)
class QaVerdict:
    """The latest QA run: its time and how many expectations failed, by severity."""

    run_time: dt.datetime
    expectations: int
    failed_errors: int
    failed_warnings: int

    @property
    def passed(self) -> bool:
        return self.failed_errors == 0


@dataclass(frozen=True)
class Section:
    """One chart of the page: ``group`` is the page part (Reports, Retention, Cohorts)."""

    group: str
    anchor: str  # the HTML id, also the plot div's id prefix
    heading: str
    note: str  # a line under the heading (kind, counting unit)
    chart: Chart
    empty_message: str = "No rows yet."
    # (label, path relative to the page) of CSV files listing members, e.g. one per cohort
    member_csvs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PageHeader:
    project: str
    data: DataRange | None  # None: no events yet
    computed_at: dt.datetime | None  # the latest report/retention run drawn on the page
    generated_at: dt.datetime
    qa: QaVerdict | None  # None: QA has not run


def _cell(value: Any) -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    text = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
    return f'<td class="n">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>"


def data_table_html(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A collapsed ``<details>`` holding an HTML table of ``rows`` under ``header``."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return (
        f"<details><summary>Data table ({len(rows):,} rows)</summary>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></details>"
    )


def qa_text(qa: QaVerdict | None) -> str:
    """The QA verdict as an HTML fragment."""
    if qa is None:
        return "not run yet (<code>groupetl qa</code>)"
    verdict = '<b class="pass">PASSED</b>' if qa.passed else '<b class="fail">FAILED</b>'
    return (
        f"{verdict}: {qa.expectations} expectations, {qa.failed_errors} errors and "
        f"{qa.failed_warnings} warnings failed (run {qa.run_time:%Y-%m-%d %H:%M} UTC)"
    )


def header_html(header: PageHeader) -> str:
    """The page header: project, the data's date range, run and page times, QA verdict."""
    data = "no events yet" if header.data is None else f"{header.data.first} to {header.data.last}"
    ran = f"{header.computed_at:%Y-%m-%d %H:%M} UTC" if header.computed_at else "not run yet"
    items = (
        ("Data", f"{data} (event dates, UTC)"),
        ("Reports computed", ran),
        ("Page written", f"{header.generated_at:%Y-%m-%d %H:%M} UTC"),
        ("QA", qa_text(header.qa)),
    )
    rows = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items)
    return f"<header><h1>groupetl: {html.escape(header.project)}</h1><dl>{rows}</dl></header>"


def member_csvs_html(files: Sequence[tuple[str, str]]) -> str:
    """A line of links to CSV ``files`` ((label, path relative to the page)); empty without."""
    if not files:
        return ""
    links = ", ".join(
        f'<a href="{html.escape(quote(path))}">{html.escape(label)}</a>' for label, path in files
    )
    return f'<p class="files">Members as CSV: {links}</p>'


def section_html(section: Section, include_plotlyjs: bool) -> str:
    """One section: heading, note, the figure (plotly div), member CSV links, data table."""
    plot = section.chart.figure.to_html(
        full_html=False,
        include_plotlyjs=include_plotlyjs,
        div_id=f"{section.anchor}-plot",
        config={"displaylogo": False, "responsive": True},
    )
    empty = (
        "" if section.chart.table else f'<p class="note">{html.escape(section.empty_message)}</p>'
    )
    return (
        f'<section class="chart" id="{html.escape(section.anchor)}">'
        f'<h3>{html.escape(section.heading)}</h3><p class="note">{html.escape(section.note)}</p>'
        f"{empty}{plot}{member_csvs_html(section.member_csvs)}"
        f"{data_table_html(section.chart.header, section.chart.table)}</section>"
    )


def page_html(header: PageHeader, sections: Sequence[Section]) -> str:
    """The whole page: header, a table of contents, then the sections under their group's h2."""
    body, groups = [], list(dict.fromkeys(s.group for s in sections))
    nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.heading)}</a>' for s in sections)
    for group in groups:
        body.append(f"<h2>{html.escape(group)}</h2>")
        body += [
            section_html(s, include_plotlyjs=(s is sections[0]))
            for s in sections
            if s.group == group
        ]
    title = f"groupetl: {header.project}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"{header_html(header)}<nav>{nav}</nav>"
        + ("".join(body) or "<p>No reports configured.</p>")
        + "</body></html>\n"
    )
