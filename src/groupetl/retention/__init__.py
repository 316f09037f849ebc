"""Retention of groups (and users): cohorts by start period, N-period return rates.

Public API:
- ``run_retention(spark, config, *, progress=None, names=None) -> StageResult`` (stage
  ``retention``): every configured report into ``gold/retention`` (``GOLD_RETENTION``).
- ``read_retention(spark, config, report_name=None) -> DataFrame``.
- ``retention_chart(df) -> plotly Figure``: triangle heatmap and curve of one report.
- ``retention_microscope(spark, config, report_name, cohort_period, period_n, retained)``
  ``-> DataFrame`` of the groups behind one cell; ``save_microscope_cohort(...)`` saves it.
"""

from groupetl.retention.chart import retention_chart
from groupetl.retention.compute import retention_cells, retention_members, start_anchors
from groupetl.retention.run import (
    GOLD_RETENTION,
    MICROSCOPE_COLUMNS,
    read_retention,
    retention_microscope,
    retention_report,
    run_retention,
    save_microscope_cohort,
)
from groupetl.retention.spec import RetentionSpec, parse_retention, retention_spec


def run(spark, config, *, progress=None, date=None, **kw):
    """Pipeline stage ``retention`` (``jobs/retention.py``, ``groupetl run``): every configured
    report (or ``names``). The logical date is not used: retention covers all attributed events.
    """
    names = kw.get("names")
    return run_retention(spark, config, progress=progress, names=list(names) if names else None)


__all__ = [
    "GOLD_RETENTION",
    "MICROSCOPE_COLUMNS",
    "RetentionSpec",
    "parse_retention",
    "read_retention",
    "retention_cells",
    "retention_chart",
    "retention_members",
    "retention_microscope",
    "retention_report",
    "retention_spec",
    "run",
    "run_retention",
    "save_microscope_cohort",
    "start_anchors",
]
