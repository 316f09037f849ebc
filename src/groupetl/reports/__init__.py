"""Group-level reports: event segmentation and funnels into gold Delta tables, microscope, HTML.

Public API (the CLI and ``jobs/report.py`` call these):

- ``run_reports(spark, config, *, names=None, full=False, progress=None) -> ReportRunResult``:
  compute the configured reports (all, or ``names``), incrementally unless ``full``.
- ``run(spark, config, *, progress=None, **kw)``: the pipeline stage ``report``
  (``kw``: ``names``, ``full_rebuild``).
- ``load_reports(config)``: validate the ``reports:`` section (ConfigError naming file:line).
- ``microscope(spark, config, report, point) -> DataFrame``, ``write_microscope``,
  ``write_csv(df, path)``, ``save_as_cohort(spark, config, df, cohort_name)``.
- ``write_html(spark, config, results, out_path) -> Path``; ``default_page_path(config)``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from groupetl.config import ProjectConfig
from groupetl.reports.definitions import (
    GOLD_FUNNEL_GROUPS,
    GOLD_FUNNELS,
    GOLD_MICROSCOPE,
    GOLD_REPORT_STATE,
    GOLD_SEGMENTATION,
    FunnelReport,
    Report,
    SegmentationReport,
    load_reports,
    select_reports,
)
from groupetl.reports.html import default_page_path, write_html
from groupetl.reports.microscope import (
    MicroscopePoint,
    microscope,
    save_as_cohort,
    write_csv,
    write_microscope,
)
from groupetl.reports.runner import run_report, save_states
from groupetl.reports.segmentation import RunInfo
from groupetl.stages import StageResult

log = logging.getLogger(__name__)


@dataclass
class ReportRunResult(StageResult):
    """A StageResult that also lists the reports computed (``write_html`` draws those)."""

    reports: list[str] = field(default_factory=list)


def run_reports(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    names: Sequence[str] | None = None,
    full: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ReportRunResult:
    """Compute the configured reports (all, or ``names``) into their gold tables.

    Incremental by default: only periods (segmentation) or units (funnels) whose input changed
    since the report's last run are recomputed; ``full=True`` recomputes everything. Counts:
    reports by mode, periods and units recomputed, rows written; one note per report.
    """
    say = progress or log.info
    reports = select_reports(load_reports(config), list(names) if names is not None else None)
    run = RunInfo(uuid.uuid4().hex, dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
    started = time.monotonic()
    counts = {
        "reports": len(reports),
        "reports_full": 0,
        "reports_incremental": 0,
        "reports_unchanged": 0,
        "periods_recomputed": 0,
        "units_recomputed": 0,
        "rows_written": 0,
    }
    notes = []
    outcomes = []
    for report in reports:
        say(f"[report] {report.name} ({report.kind}, by {report.group_type})")
        outcome = run_report(spark, config, report, run, full)
        outcomes.append(outcome)
        counts[f"reports_{outcome.mode}"] += 1
        key = "periods_recomputed" if report.kind == "segmentation" else "units_recomputed"
        counts[key] += outcome.recomputed
        counts["rows_written"] += outcome.rows_written
        notes.append(outcome.line())
    save_states(spark, config, outcomes)
    return ReportRunResult(
        stage="report",
        counts=counts,
        tables=[GOLD_SEGMENTATION, GOLD_FUNNELS, GOLD_FUNNEL_GROUPS, GOLD_REPORT_STATE],
        seconds=time.monotonic() - started,
        notes=notes,
        reports=[r.name for r in reports],
    )


def run(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    progress: Callable[[str], None] | None = None,
    **kw: object,
) -> StageResult:
    """The ``report`` pipeline stage: ``run_reports`` with ``names`` / ``full_rebuild`` from kw."""
    names = kw.get("names")
    return run_reports(
        spark,
        config,
        names=list(names) if names else None,  # type: ignore[call-overload]
        full=bool(kw.get("full_rebuild", False)),
        progress=progress,
    )


__all__ = [
    "GOLD_FUNNELS",
    "GOLD_FUNNEL_GROUPS",
    "GOLD_MICROSCOPE",
    "GOLD_REPORT_STATE",
    "GOLD_SEGMENTATION",
    "FunnelReport",
    "MicroscopePoint",
    "Report",
    "ReportRunResult",
    "SegmentationReport",
    "default_page_path",
    "load_reports",
    "microscope",
    "run",
    "run_reports",
    "save_as_cohort",
    "write_csv",
    "write_html",
    "write_microscope",
]
