"""A plotly figure of one retention report: the cohort triangle and the retention curve.

The input is small (cohorts x periods), so it is collected, bounded by ``MAX_CELLS``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from groupetl.schemas import RC, C

MAX_CELLS = 20_000


def _rows(df: Any) -> list[Mapping[str, Any]]:
    """Rows of a Spark DataFrame (bounded) or of an iterable of mappings / Rows."""
    if hasattr(df, "limit") and hasattr(df, "collect"):
        return [r.asDict() for r in df.limit(MAX_CELLS).collect()]
    return [r.asDict() if hasattr(r, "asDict") else dict(r) for r in df]


def _label(row: Mapping[str, Any]) -> str:
    seg = f"{row[RC.SEGMENT]} · " if row.get(RC.SEGMENT) else ""
    return f"{seg}{row[RC.COHORT_PERIOD]} ({row[RC.COHORT_SIZE]:,})"


def retention_chart(df: Any, title: str | None = None) -> go.Figure:
    """RETENTION rows of one report -> a Figure: heatmap of rates (rows = cohorts) over a curve.

    The curve is the size-weighted rate per period (sum retained / sum cohort size over the
    cohorts that have the cell), one line per segment for a split report.
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
    z: list[list[float | None]] = [[None] * len(periods) for _ in labels]
    text: list[list[str]] = [[""] * len(periods) for _ in labels]
    totals: dict[str | None, dict[int, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    for r in rows:
        i, j = labels.index(_label(r)), periods.index(r[RC.PERIOD_N])
        z[i][j] = r[RC.RATE]
        text[i][j] = f"{r[RC.RATE]:.0%}<br>{r[RC.RETAINED]:,}"
        acc = totals[r.get(RC.SEGMENT)][r[RC.PERIOD_N]]
        acc[0] += r[RC.RETAINED]
        acc[1] += r[RC.COHORT_SIZE]
    fig = make_subplots(rows=2, cols=1, row_heights=[0.65, 0.35], vertical_spacing=0.12)
    fig.add_trace(
        go.Heatmap(
            z=z, x=[f"{unit} {p}" for p in periods], y=labels, text=text,
            texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1, showscale=False,
            hovertemplate="%{y}<br>%{x}: %{z:.1%}<extra></extra>",
        ),
        row=1, col=1,
    )  # fmt: skip
    for segment, by_period in sorted(totals.items(), key=lambda kv: kv[0] or ""):
        xs = sorted(by_period)
        ys = [by_period[p][0] / by_period[p][1] if by_period[p][1] else None for p in xs]
        fig.add_trace(
            go.Scatter(x=xs, y=ys, mode="lines+markers", name=segment or "all groups"),
            row=2, col=1,
        )  # fmt: skip
    group_type = first.get(C.GROUP_TYPE, "")
    measure = "on or after" if first.get(RC.MEASURE) == "on_or_after" else "on"
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05], row=2, col=1)
    fig.update_xaxes(title_text=f"{unit} N ({first.get(RC.BASIS, '')}, {measure})", row=2, col=1)
    fig.update_layout(title=f"{name}: {group_type} retention", height=420 + 22 * len(labels))
    return fig
