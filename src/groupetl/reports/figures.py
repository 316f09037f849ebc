"""Charts of segmentation and funnel reports (Spark-free): report rows in, a :class:`Chart` out.

Conventions (docs/reports/segmentation.md "Page"): counts start at 0 with whole-number ticks;
one x tick per period; incomplete periods (``chart_axes.is_incomplete``) drawn dashed with open
markers (lines) or hatched (bars); hover lists every series at a period ("x unified"), so series
that lie on top of each other stay readable; a top-N report is drawn as bars; titles carry the
report's filters. Every chart comes with the table of the numbers it draws.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

from groupetl.charts import INCOMPLETE, Chart, DataRange, count_axis, is_incomplete, period_axis
from groupetl.reports.columns import ALL_LABEL, R
from groupetl.reports.definitions import FunnelReport, ReportBase, SegmentationReport

MAX_SERIES = 12
PALETTE = qualitative.Plotly
Rows = Sequence[Mapping[str, Any]]


def filters_text(report: ReportBase) -> str:
    """The report's filters in words, for its title: events, where, cohort, dates ("" if none)."""
    parts = []
    if isinstance(report, SegmentationReport) and report.events:
        parts.append(", ".join(report.events))
    for c in getattr(report, "where", ()):
        parts.append(f"{c.prop.label} {c.op} {', '.join(c.values)}")
    if report.cohort is not None:
        parts.append(f"{'split by' if report.cohort.split else 'in'} cohort {report.cohort.name}")
    if report.date_from or report.date_to:
        parts.append(f"{report.date_from or '…'} to {report.date_to or '…'}")
    return " · ".join(parts)


def _title(report: ReportBase, what: str) -> str:
    filters = filters_text(report)
    return f"{report.name}: {what}" + (f"<br><sub>{filters}</sub>" if filters else "")


def unit_label(report: ReportBase) -> str:
    """What the report counts, in words: ``users`` or ``company groups``."""
    return "users" if report.counts_users else f"{report.group_type} groups"


def series_name(row: Mapping[str, Any], key: str) -> str:
    """The row's segment or breakdown, with its cohort segment when the report is split."""
    name = str(row[key])
    return name if row[R.COHORT_SEGMENT] is None else f"{name} ({row[R.COHORT_SEGMENT]})"


def _grouped(rows: Rows, key: str) -> dict[str, list[Mapping[str, Any]]]:
    series: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        series[series_name(row, key)].append(row)
    return series


def _dashed_part(flags: list[bool]) -> list[bool]:
    """Points of the dashed line: the incomplete ones and their neighbours (to join the solid)."""
    n = len(flags)
    return [flags[i] or (i > 0 and flags[i - 1]) or (i + 1 < n and flags[i + 1]) for i in range(n)]


def _line_traces(
    name: str, color: str, points: list[Mapping[str, Any]], flags: list[bool]
) -> Iterator[go.Scatter]:
    """Three traces of one series: markers (hover), solid line (legend), dotted line."""
    x = [p[R.PERIOD_START].isoformat() for p in points]
    y = [p[R.UNIQUES] for p in points]
    note = [f" ({INCOMPLETE})" if f else "" for f in flags]
    yield go.Scatter(
        x=x, y=y, mode="markers", name=name, legendgroup=name, showlegend=False,
        marker={"color": color, "symbol": ["circle-open" if f else "circle" for f in flags]},
        customdata=[[p[R.EVENTS], p[R.USERS], t] for p, t in zip(points, note, strict=True)],
        hovertemplate="%{y:,} active, %{customdata[0]:,} events, %{customdata[1]:,} users"
        "%{customdata[2]}",
    )  # fmt: skip
    solid = [None if f else v for f, v in zip(flags, y, strict=True)]
    line = {"color": color}
    # the legend shows the solid line: a marker there would be open or filled by chance
    yield go.Scatter(x=x, y=solid, mode="lines", line=line, name=name, legendgroup=name,
                     hoverinfo="skip")  # fmt: skip
    if any(flags):
        dashed = [v if d else None for d, v in zip(_dashed_part(flags), y, strict=True)]
        yield go.Scatter(
            x=x, y=dashed, mode="lines", line={**line, "dash": "dot"}, legendgroup=name,
            showlegend=False, hoverinfo="skip", name=f"{name} ({INCOMPLETE})", meta=INCOMPLETE,
        )  # fmt: skip


def _segment_table(
    chosen: dict[str, list[Mapping[str, Any]]], flags: dict[str, list[bool]]
) -> list[tuple[Any, ...]]:
    """Rows (period, segment, active, events, users, incomplete) of the drawn series."""
    table = []
    for name, points in chosen.items():
        for p, flag in zip(points, flags[name], strict=True):
            row = (p[R.PERIOD_START].isoformat(), name, p[R.UNIQUES], p[R.EVENTS], p[R.USERS])
            table.append((*row, "yes" if flag else ""))
    return sorted(table)


def segmentation_chart(report: SegmentationReport, rows: Rows, data: DataRange) -> Chart:
    """Active units per period, one series per segment (the MAX_SERIES largest, or the top N
    in rank order as grouped bars); ``data`` is the range of days with data."""
    series = _grouped(rows, R.SEGMENT)
    largest = sorted(series, key=lambda s: (-sum(r[R.UNIQUES] for r in series[s]), s))
    if report.top is not None:
        largest = sorted(series, key=lambda s: (series[s][0][R.SEGMENT_RANK] or 0, s))
    chosen = {s: sorted(series[s], key=lambda r: r[R.PERIOD_START]) for s in largest[:MAX_SERIES]}
    data = data.clipped(report.date_from, report.date_to)
    flags = {
        name: [
            is_incomplete(p[R.PERIOD_START], report.interval, data, report.rolling_days)
            for p in points
        ]
        for name, points in chosen.items()
    }
    fig = go.Figure()
    for i, (name, points) in enumerate(chosen.items()):
        color = PALETTE[i % len(PALETTE)]
        if report.top is not None:
            fig.add_trace(_bar_trace(name, color, points, flags[name]))
        else:
            for trace in _line_traces(name, color, points, flags[name]):
                fig.add_trace(trace)
    periods = sorted({p[R.PERIOD_START] for points in chosen.values() for p in points})
    unit = unit_label(report)
    window = f"{report.rolling_days}-day " if report.rolling_days else ""
    top = f"top {report.top.n} by {report.top.by}, " if report.top else ""
    fig.update_layout(
        title=_title(report, f"{top}{window}active {unit} per {report.interval}"),
        xaxis=period_axis(report.interval, len(periods), periods[0] if periods else None),
        yaxis=count_axis(f"{window}active {unit}", max((r[R.UNIQUES] for r in rows), default=0)),
        hovermode="x unified",
        barmode="group",
        legend_title_text=report.segment_by.label if report.segment_by else "",
    )
    header = ("period", "segment", "active", "events", "users", INCOMPLETE)
    return Chart(fig, header, _segment_table(chosen, flags))


def _bar_trace(name: str, color: str, points: list[Mapping[str, Any]], flags: list[bool]) -> go.Bar:
    """One segment of a top-N report as bars; incomplete periods hatched and paler."""
    return go.Bar(
        x=[p[R.PERIOD_START].isoformat() for p in points], y=[p[R.UNIQUES] for p in points],
        name=name, marker={
            "color": color, "opacity": [0.45 if f else 1.0 for f in flags],
            "pattern": {"shape": ["/" if f else "" for f in flags]},
        },
        hovertemplate="%{y:,}" + "%{customdata}",
        customdata=[f" ({INCOMPLETE})" if f else "" for f in flags],
        meta=INCOMPLETE if any(flags) else None,
    )  # fmt: skip


def duration_text(seconds: float | None) -> str:
    """``3725`` -> ``1h 2m``; ``None`` -> ``""`` (nobody converted)."""
    if seconds is None:
        return ""
    total = round(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{u}" for n, u in parts if n][:2]
    return " ".join(shown) or "0s"


def percent(value: float | None) -> str:
    """``0.5`` -> ``50%``; ``None`` (no one at the step before) -> ``""``."""
    return "" if value is None else f"{value:.0%}"


def _entered(rows: list[Mapping[str, Any]]) -> int:
    return max((r[R.REACHED] for r in rows if r[R.STEP] == 1), default=0)


def funnel_chart(report: FunnelReport, rows: Rows) -> Chart:
    """Bars of units reaching each step per breakdown value, labelled with the count and the
    conversion from the first step; hover adds the conversion from the previous step and the
    median time to convert; x labels carry the overall median time from the previous step."""
    series = _grouped(rows, R.BREAKDOWN)
    order = sorted(series, key=lambda s: (not s.startswith(ALL_LABEL), -_entered(series[s]), s))
    total = {r[R.STEP]: r for r in series.get(ALL_LABEL, [])}
    labels = []
    for k, step in enumerate(report.steps, start=1):
        median = duration_text(total[k][R.MEDIAN_SECONDS]) if k > 1 and k in total else ""
        labels.append(f"{k}. {step.label}" + (f"<br>median {median}" if median else ""))
    fig = go.Figure()
    table = []
    for name in order[:MAX_SERIES]:
        points = sorted(series[name], key=lambda r: r[R.STEP])
        fig.add_trace(
            go.Bar(
                x=[labels[r[R.STEP] - 1] for r in points], y=[r[R.REACHED] for r in points],
                text=[f"{r[R.REACHED]:,}<br>{percent(r[R.FROM_FIRST])}" for r in points],
                textposition="auto", name=name,
                customdata=[
                    [percent(r[R.FROM_FIRST]), percent(r[R.FROM_PREVIOUS]),
                     duration_text(r[R.MEDIAN_SECONDS]) or "–"] for r in points
                ],
                hovertemplate="%{y:,} reached · %{customdata[0]} of step 1 · %{customdata[1]} "
                "of previous · median time %{customdata[2]}",
            )
        )  # fmt: skip
        table += [
            (name, r[R.STEP], report.steps[r[R.STEP] - 1].label, r[R.REACHED],
             percent(r[R.FROM_FIRST]), percent(r[R.FROM_PREVIOUS]),
             duration_text(r[R.MEDIAN_SECONDS]))
            for r in points
        ]  # fmt: skip
    unit = unit_label(report)
    fig.update_layout(
        title=_title(report, f"{unit} reaching each step ({report.order.replace('_', ' ')})"),
        barmode="group",
        yaxis=count_axis(unit, max((r[R.REACHED] for r in rows), default=0)),
        legend_title_text=report.breakdown.label if report.breakdown else "",
    )
    header = ("breakdown", "step", "event", "reached", "of step 1", "of previous", "median time")
    return Chart(fig, header, table)


def report_chart(report: SegmentationReport | FunnelReport, rows: Rows, data: DataRange) -> Chart:
    """The chart of one report of either kind."""
    if isinstance(report, FunnelReport):
        return funnel_chart(report, rows)
    return segmentation_chart(report, rows, data)
