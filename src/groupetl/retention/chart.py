"""A plotly figure of one retention report: the cohort triangle and the retention curve.

The input is small (cohorts x periods), so it is collected, bounded by ``MAX_CELLS``. Given the
last day with data (``horizon``), cells whose period has not ended yet are drawn grey, labelled
"so far" (a count so far, not a drop to 0), and the curve leaves them out: its points
are taken over ended cells only, and a period with none of those is drawn dotted.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from groupetl.charts import INCOMPLETE, Chart, period_end
from groupetl.retention.spec import ROLLING_DAYS
from groupetl.schemas import RC, C

MAX_CELLS = 20_000
NOT_ENDED_GREY = [
    [0, "rgb(215,215,215)"],
    [1, "rgb(215,215,215)"],
]  # one flat grey, whatever the rate
ENDED, OPEN = 0, 1  # index of a period's [retained, size] totals over ended / not-ended cells


def _rows(df: Any) -> list[Mapping[str, Any]]:
    """Rows of a Spark DataFrame (bounded) or of an iterable of mappings / Rows."""
    if hasattr(df, "limit") and hasattr(df, "collect"):
        return [r.asDict() for r in df.limit(MAX_CELLS).collect()]
    return [r.asDict() if hasattr(r, "asDict") else dict(r) for r in df]


def _label(row: Mapping[str, Any]) -> str:
    seg = f"{row[RC.SEGMENT]} · " if row.get(RC.SEGMENT) else ""
    return f"{seg}{row[RC.COHORT_PERIOD]} ({row[RC.COHORT_SIZE]:,})"


def _add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def cell_ended(row: Mapping[str, Any], horizon: dt.date | None) -> bool:
    """Whether period N of the row's cohort has ended by ``horizon`` (the last day with data)
    for every member; period 0 always counts (it is the cohort itself).

    Rolling: a member may start on the cohort period's last day, so period N ends L x (N + 1)
    days after that day. Calendar: period N is the cohort period shifted by N.
    """
    n, period = row[RC.PERIOD_N], row[RC.PERIOD]
    if horizon is None or n == 0:
        return True
    cohort = row[RC.COHORT_PERIOD]
    if row[RC.BASIS] == "rolling":
        last_start = period_end(cohort, period)
        return last_start + dt.timedelta(days=ROLLING_DAYS[period] * (n + 1)) <= horizon
    if period == "month":
        return period_end(_add_months(cohort, n), "month") <= horizon
    start = cohort + dt.timedelta(days=n * (7 if period == "week" else 1))
    return period_end(start, period) <= horizon


def _heatmap(z, x, y, text, colorscale: Any, hover: str, meta: str | None) -> go.Heatmap:
    return go.Heatmap(
        z=z, x=x, y=y, text=text, texttemplate="%{text}", colorscale=colorscale, zmin=0, zmax=1,
        meta=meta, showscale=False,
        hovertemplate="%{y}<br>%{x}: %{z:.1%}" + hover + "<extra></extra>",
        hoverongaps=False,
    )  # fmt: skip


def retention_chart(df: Any, title: str | None = None, horizon: dt.date | None = None) -> go.Figure:
    """RETENTION rows of one report -> a Figure: heatmap of rates (rows = cohorts) over a curve.

    The curve is the size-weighted rate per period (sum retained / sum cohort size over the
    cohorts that have the cell), one line per segment for a split report. With ``horizon``,
    cells not ended by then form a second, grey heatmap and a dotted part of the curve.
    """
    rows: Iterable[Mapping[str, Any]] = _rows(df)
    rows = sorted(
        rows, key=lambda r: (r.get(RC.SEGMENT) or "", r[RC.COHORT_PERIOD], r[RC.PERIOD_N])
    )
    reports = {r[RC.REPORT_NAME] for r in rows}
    if len(reports) > 1:
        raise ValueError(f"retention_chart takes one report; got {', '.join(sorted(reports))}")
    name = title or (next(iter(reports)) if reports else "retention")
    first = rows[0] if rows else {}
    unit = first.get(RC.PERIOD, "period")
    labels = list(dict.fromkeys(_label(r) for r in rows))
    periods = sorted({r[RC.PERIOD_N] for r in rows})
    grids = [[[None] * len(periods) for _ in labels] for _ in (ENDED, OPEN)]
    texts = [[[""] * len(periods) for _ in labels] for _ in (ENDED, OPEN)]
    totals: dict[str | None, dict[int, list[list[int]]]] = defaultdict(
        lambda: defaultdict(lambda: [[0, 0], [0, 0]])
    )
    for r in rows:
        i, j = labels.index(_label(r)), periods.index(r[RC.PERIOD_N])
        kind = ENDED if cell_ended(r, horizon) else OPEN
        grids[kind][i][j] = r[RC.RATE]
        shown = f"{r[RC.RATE]:.0%}<br>{r[RC.RETAINED]:,}"
        texts[kind][i][j] = shown if kind == ENDED else f"{shown} so far"
        acc = totals[r.get(RC.SEGMENT)][r[RC.PERIOD_N]][kind]
        acc[0] += r[RC.RETAINED]
        acc[1] += r[RC.COHORT_SIZE]
    fig = make_subplots(rows=2, cols=1, row_heights=[0.65, 0.35], vertical_spacing=0.12)
    x = [f"{unit} {p}" for p in periods]
    fig.add_trace(_heatmap(grids[ENDED], x, labels, texts[ENDED], "Blues", "", None), row=1, col=1)
    if any(v is not None for line in grids[OPEN] for v in line):
        fig.add_trace(
            _heatmap(
                grids[OPEN], x, labels, texts[OPEN], NOT_ENDED_GREY, " so far (not ended)",
                INCOMPLETE,
            ),
            row=1, col=1,
        )  # fmt: skip
    for segment, by_period in sorted(totals.items(), key=lambda kv: kv[0] or ""):
        for trace in _curve(segment or "all groups", by_period):
            fig.add_trace(trace, row=2, col=1)
    group_type = first.get(C.GROUP_TYPE, "")
    measure = "on or after" if first.get(RC.MEASURE) == "on_or_after" else "on"
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], row=2, col=1)
    fig.update_xaxes(dtick=1, tick0=0, row=2, col=1)  # whole period numbers only
    fig.update_xaxes(title_text=f"{unit} N ({first.get(RC.BASIS, '')}, {measure})", row=2, col=1)
    fig.update_layout(title=f"{name}: {group_type} retention", height=420 + 22 * len(labels))
    return fig


def _curve(name: str, by_period: Mapping[int, list[list[int]]]) -> Iterable[go.Scatter]:
    """The retention curve of one segment: solid over ended cells; periods that have no ended
    cell yet, dotted (over their cells so far), joined to the last solid point."""
    xs = sorted(by_period)
    ended = {p: by_period[p][ENDED] for p in xs if by_period[p][ENDED][1]}
    yield go.Scatter(
        x=list(ended), y=[r / n for r, n in ended.values()], mode="lines+markers", name=name
    )
    later = [p for p in xs if p not in ended and by_period[p][OPEN][1]]
    if later:
        joined = ([max(ended)] if ended else []) + later
        sums = [ended[p] if p in ended else by_period[p][OPEN] for p in joined]
        yield go.Scatter(
            x=joined, y=[r / n for r, n in sums], mode="lines+markers", name=f"{name} (not ended)",
            line={"dash": "dot", "color": "grey"}, marker={"symbol": "circle-open"},
            meta=INCOMPLETE,
        )  # fmt: skip


def retention_report_chart(
    rows: Iterable[Mapping[str, Any]], horizon: dt.date | None, title: str | None = None
) -> Chart:
    """RETENTION rows of one report -> its figure (``retention_chart``) and data table, one
    row per cell, saying whether the cell's period has ended by ``horizon``."""
    cells = _rows(rows)
    header = ("segment", "cohort", "cohort size", "period N", "retained", "rate", "ended")
    table = sorted(
        (r.get(RC.SEGMENT) or "", r[RC.COHORT_PERIOD].isoformat(), r[RC.COHORT_SIZE],
         r[RC.PERIOD_N], r[RC.RETAINED], f"{r[RC.RATE]:.1%}",
         "yes" if cell_ended(r, horizon) else "not yet")
        for r in cells
    )  # fmt: skip
    return Chart(retention_chart(cells, title, horizon), header, table)
