"""A self-contained HTML page with one chart per report (plotly, JavaScript inlined, no CDN).

The page opens from disk with the network off: plotly.js is embedded once
(``include_plotlyjs=True`` on the first chart), the data of every chart is in the page.
Segmentation reports draw lines of ``uniques`` per period (one line per segment); funnels draw
bars of units reaching each step, labelled with the conversion from the first step.

Chart data are report results (a few rows per period and step), read from the gold tables and
collected with a cap (``MAX_CHART_ROWS``); the largest series are drawn (``MAX_SERIES``).
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import plotly.graph_objects as go
from pyspark.sql import DataFrame, Row, SparkSession

from groupetl.config import ProjectConfig
from groupetl.reports import store
from groupetl.reports.columns import ALL_LABEL, R
from groupetl.reports.definitions import (
    GOLD_FUNNELS,
    GOLD_SEGMENTATION,
    FunnelReport,
    Report,
    SegmentationReport,
    load_reports,
    select_reports,
)
from groupetl.schemas import FUNNEL_STEPS, SEGMENTATION
from groupetl.stages import StageResult

MAX_CHART_ROWS = 20_000
MAX_SERIES = 12


def collect_chart_rows(df: DataFrame, limit: int = MAX_CHART_ROWS) -> list[Row]:
    """Collect at most ``limit`` rows of a report result (aggregates, small) for a chart."""
    return df.limit(limit).collect()


def _series_name(row: Row, key: str) -> str:
    name = str(row[key])
    return name if row[R.COHORT_SEGMENT] is None else f"{name} ({row[R.COHORT_SEGMENT]})"


def segmentation_figure(report: SegmentationReport, rows: list[Row]) -> go.Figure:
    """Lines of uniques per period, one per segment (the MAX_SERIES largest)."""
    series: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        series[_series_name(row, R.SEGMENT)].append(row)
    largest = sorted(series, key=lambda s: (-sum(r[R.UNIQUES] for r in series[s]), s))
    fig = go.Figure()
    for name in largest[:MAX_SERIES]:
        points = sorted(series[name], key=lambda r: r[R.PERIOD_START])
        fig.add_trace(
            go.Scatter(
                x=[r[R.PERIOD_START].isoformat() for r in points],
                y=[r[R.UNIQUES] for r in points],
                customdata=[[r[R.EVENTS], r[R.USERS]] for r in points],
                hovertemplate="%{x}: %{y} active<br>%{customdata[0]} events, "
                "%{customdata[1]} users<extra>" + html.escape(name) + "</extra>",
                mode="lines+markers",
                name=name,
            )
        )
    unit = "users" if report.counts_users else f"{report.group_type} groups"
    window = f"{report.rolling_days}-day " if report.rolling_days else ""
    fig.update_layout(
        title=f"{report.name}: {window}active {unit} per {report.interval}",
        xaxis_title=report.interval,
        yaxis_title=f"active {unit}",
    )
    return fig


def funnel_figure(report: FunnelReport, rows: list[Row]) -> go.Figure:
    """Bars of units reaching each step per breakdown value, labelled with % from step 1."""
    series: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        series[_series_name(row, R.BREAKDOWN)].append(row)
    order = sorted(series, key=lambda s: (not s.startswith(ALL_LABEL), -_entered(series[s]), s))
    fig = go.Figure()
    labels = [f"{i}. {s.label}" for i, s in enumerate(report.steps, start=1)]
    for name in order[:MAX_SERIES]:
        points = sorted(series[name], key=lambda r: r[R.STEP])
        fig.add_trace(
            go.Bar(
                x=[labels[r[R.STEP] - 1] for r in points],
                y=[r[R.REACHED] for r in points],
                text=[_percent(r[R.FROM_FIRST]) for r in points],
                textposition="auto",
                name=name,
            )
        )
    unit = "users" if report.counts_users else f"{report.group_type} groups"
    fig.update_layout(
        title=f"{report.name}: {unit} reaching each step ({report.order.replace('_', ' ')})",
        barmode="group",
        yaxis_title=unit,
    )
    return fig


def _entered(rows: list[Row]) -> int:
    return max((r[R.REACHED] for r in rows if r[R.STEP] == 1), default=0)


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def report_figure(spark: SparkSession, config: ProjectConfig, report: Report) -> go.Figure:
    """The chart of one report from its gold rows."""
    if isinstance(report, FunnelReport):
        df = store.read_report_rows(spark, config, GOLD_FUNNELS, FUNNEL_STEPS, report.name)
        return funnel_figure(report, collect_chart_rows(df))
    df = store.read_report_rows(spark, config, GOLD_SEGMENTATION, SEGMENTATION, report.name)
    return segmentation_figure(report, collect_chart_rows(df))


def report_names(results: StageResult | Sequence[str] | None) -> list[str] | None:
    """Which reports to draw: a run's result (its ``reports``), names, or None for all."""
    if results is None:
        return None
    if isinstance(results, StageResult):
        return list(getattr(results, "reports", []))
    return list(results)


def page_html(title: str, charts: Sequence[tuple[Report, go.Figure]]) -> str:
    """A whole HTML page: a heading and one section per (report, figure); plotly.js is
    inlined once, in the first chart."""
    sections = []
    for i, (report, fig) in enumerate(charts):
        chart = fig.to_html(
            full_html=False,
            include_plotlyjs=(i == 0),
            div_id=f"report-{i}",
            config={"displaylogo": False},
        )
        sections.append(
            f'<section class="report" id="section-{i}">'
            f"<h2>{html.escape(report.name)}</h2>"
            f'<p class="kind">{html.escape(report.kind)}, counted by '
            f"{html.escape(report.group_type)}</p>{chart}</section>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}section{margin-bottom:3em}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>"
        + ("".join(sections) or "<p>No reports configured.</p>")
        + "</body></html>\n"
    )


def write_html(
    spark: SparkSession,
    config: ProjectConfig,
    results: StageResult | Sequence[str] | None,
    out_path: str | Path,
) -> Path:
    """Write the page with one chart per report (see module doc); returns its path.

    ``results``: the result of ``run_reports`` (draws the reports it computed), report names,
    or None (every configured report).
    """
    reports = select_reports(load_reports(config), report_names(results))
    charts = [(report, report_figure(spark, config, report)) for report in reports]
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page_html(f"groupetl reports: {config.project}", charts), encoding="utf-8")
    return out
