"""Chart conventions of the report page (Spark-free, shared by reports, retention and cohorts):
period bounds, which periods are incomplete, and the count and period axes every chart shares.

A period is *incomplete* when the data do not cover all of it: a first or last week or month
cut by the first or last day with data (or by the report's ``from``/``to``), or a rolling window
that reaches back before the first day. Its value is a real count of fewer days, so the page
draws it dashed or hatched rather than hiding it or drawing it as 0.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go

DAY_MS = 86_400_000
INCOMPLETE = "incomplete"  # the ``meta`` of a trace marking incomplete periods; a table column
MAX_TICKS = 24  # beyond this, one tick every k periods (k whole), so labels do not overlap
SMALL_COUNT = 10  # up to this maximum, a count axis gets a tick at every whole number


@dataclass
class Chart:
    """A figure and the table of the numbers it draws (``header`` names ``table``'s columns)."""

    figure: go.Figure
    header: tuple[str, ...]
    table: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(frozen=True)
class DataRange:
    """The first and last day (inclusive) with data that a chart's periods are judged against."""

    first: dt.date
    last: dt.date

    def clipped(self, date_from: dt.date | None, date_to: dt.date | None) -> DataRange:
        """The range narrowed to a report's own ``from``/``to`` dates (None: not narrowed)."""
        first = max(self.first, date_from) if date_from else self.first
        last = min(self.last, date_to) if date_to else self.last
        return DataRange(first, last)


def period_end(start: dt.date, interval: str) -> dt.date:
    """Last day of the day / ISO week / month beginning on ``start``."""
    if interval == "day":
        return start
    if interval == "week":
        return start + dt.timedelta(days=6)
    following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def is_incomplete(
    start: dt.date, interval: str, data: DataRange, rolling_days: int | None = None
) -> bool:
    """Whether the period beginning ``start`` (with its rolling window) is not fully in ``data``.

    >>> data = DataRange(dt.date(2024, 1, 3), dt.date(2024, 2, 1))
    >>> is_incomplete(dt.date(2024, 1, 1), "week", data)  # its Monday and Tuesday have no data
    True
    """
    covers_from = start - dt.timedelta(days=(rolling_days or 1) - 1)
    return covers_from < data.first or period_end(start, interval) > data.last


def period_axis(interval: str, periods: int, first: dt.date | None = None) -> dict[str, Any]:
    """Layout of a date x-axis with one tick per period (every k-th past MAX_TICKS), labelled
    by period: the day, the week's Monday ("week of"), or the month."""
    step = max(1, math.ceil(periods / MAX_TICKS))
    if interval == "month":
        return {"type": "date", "dtick": f"M{step}", "tickformat": "%b %Y"}
    days = 7 if interval == "week" else 1
    axis: dict[str, Any] = {"type": "date", "dtick": step * days * DAY_MS}
    axis["tickformat"] = "wk of %b %d" if interval == "week" else "%b %d"
    if first is not None:
        axis["tick0"] = first.isoformat()  # ticks on the periods' own first days (Mondays)
    return axis


def count_axis(title: str, largest: float) -> dict[str, Any]:
    """Layout of a count y-axis: starts at 0, whole-number ticks (no 0.5 of a group)."""
    axis: dict[str, Any] = {"title": title, "rangemode": "tozero", "tickformat": ",d"}
    if largest <= SMALL_COUNT:
        axis["dtick"] = 1
    return axis
