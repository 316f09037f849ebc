"""Microscope over stored report rows, without a JVM (delta-rs + DuckDB).

A funnel point (a step, a drop-off, optionally one breakdown or cohort segment) is answered
from gold/funnel_groups, which the report run wrote: the same rows ``microscope.microscope``
returns on Spark, read in well under a second. Segmentation points are recomputed from the
events of their period (event-sized data), so they stay on Spark (``microscope.microscope``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from groupetl import lake, values
from groupetl.config import ProjectConfig
from groupetl.errors import InputError
from groupetl.reports.columns import ALL_LABEL, R
from groupetl.reports.definitions import GOLD_FUNNEL_GROUPS, FunnelReport
from groupetl.reports.microscope import MicroscopePoint
from groupetl.schemas import MICROSCOPE, C, T

MICROSCOPE_COLUMNS = tuple(MICROSCOPE.fieldNames())


def _names(config: ProjectConfig, group_type: str, name_property: str) -> dict[str, str | None]:
    """group_value -> its current decoded name property (``cohorts.columns.current_names``)."""
    path = config.paths.table(T.CURRENT_GROUP_PROPERTIES)
    if not lake.is_table(path):
        return {}
    con = lake.connect()
    con.register("c", lake.dataset(lake.open_table(path, T.CURRENT_GROUP_PROPERTIES)))
    sql = (
        f"SELECT {C.GROUP_VALUE}, element_at({C.PROPERTIES}, $prop)[1] FROM c "
        f"WHERE {C.GROUP_TYPE} = $type"
    )
    rows = con.execute(sql, {"prop": name_property, "type": group_type}).fetchall()
    return {g: values.decoded_text(v) for g, v in rows}


def funnel_point_rows(
    config: ProjectConfig, report: FunnelReport, point: MicroscopePoint
) -> list[dict[str, Any]]:
    """The units behind a funnel ``point`` as MICROSCOPE rows, sorted by group value.

    InputError when the report has not been computed yet (no rows in gold/funnel_groups).
    """
    point.check(report)
    path = config.paths.table(GOLD_FUNNEL_GROUPS)
    con = lake.connect()
    if lake.is_table(path):
        con.register("g", lake.dataset(lake.open_table(path, GOLD_FUNNEL_GROUPS)))
        stored = con.execute(
            f"SELECT count(*) FROM g WHERE {R.REPORT_NAME} = $name", {"name": report.name}
        ).fetchone()[0]
    else:
        stored = 0
    if not stored:
        raise InputError(f"report {report.name!r} has no stored rows yet: run `groupetl report`")
    keep = f"{R.REACHED} >= $step" if point.step is not None else f"{R.REACHED} = $step - 1"
    params: dict[str, Any] = {"name": report.name, "step": point.step or point.dropoff or 0}
    if point.breakdown is not None and point.breakdown != ALL_LABEL:
        keep += f" AND {R.BREAKDOWN} = $breakdown"
        params["breakdown"] = point.breakdown
    if point.cohort_segment is not None:
        keep += f" AND {R.COHORT_SEGMENT} = $segment"
        params["segment"] = point.cohort_segment
    sql = (
        f"SELECT DISTINCT {R.GROUP_VALUE} FROM g WHERE {R.REPORT_NAME} = $name AND {keep} "
        f"ORDER BY 1"
    )
    units = [r[0] for r in con.execute(sql, params).fetchall()]
    name_property = None if report.counts_users else config.group_type(report.group_type)
    names = _names(config, report.group_type, name_property.name_property) if name_property else {}
    computed_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    label = point.label()
    return [
        {
            R.REPORT_NAME: report.name,
            R.POINT: label,
            C.GROUP_TYPE: report.group_type,
            C.GROUP_VALUE: unit,
            R.NAME: names.get(unit),
            R.COMPUTED_AT: computed_at,
        }
        for unit in units
    ]
