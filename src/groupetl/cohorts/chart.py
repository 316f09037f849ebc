"""Cohort sizes over time (Spark-free): one line per cohort, members per snapshot date.

Behavioral cohorts keep one snapshot per ``as_of_date``, so their line shows how the cohort grew
or shrank; imported and microscope cohorts have one snapshot (a single marker).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go

from groupetl.charts import Chart, count_axis, period_axis
from groupetl.schemas import RC, C

MEMBERS = "members"  # column of cohort_sizes rows: distinct members in the snapshot


def cohort_sizes_chart(rows: Iterable[Mapping[str, Any]]) -> Chart:
    """Rows ``(cohort, group_type, as_of_date, members)`` -> lines of members per snapshot."""
    series: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        series[f"{r[RC.COHORT]} ({r[C.GROUP_TYPE]})"].append(r)
    fig = go.Figure()
    table = []
    for name in sorted(series):
        points = sorted(series[name], key=lambda r: r[RC.AS_OF_DATE])
        fig.add_trace(
            go.Scatter(
                x=[p[RC.AS_OF_DATE].isoformat() for p in points], y=[p[MEMBERS] for p in points],
                mode="lines+markers", name=name, hovertemplate="%{y:,} members",
            )
        )  # fmt: skip
        table += [(name, p[RC.AS_OF_DATE].isoformat(), p[MEMBERS]) for p in points]
    dates = sorted({p[RC.AS_OF_DATE] for points in series.values() for p in points})
    largest = max((p[MEMBERS] for points in series.values() for p in points), default=0)
    fig.update_layout(
        title="Cohort sizes per snapshot date",
        xaxis=period_axis("day", len(dates), dates[0] if dates else None),
        yaxis=count_axis("members", largest),
        hovermode="x unified",
        legend_title_text="cohort (group type)",
    )
    return Chart(fig, ("cohort", "as of", "members"), table)
