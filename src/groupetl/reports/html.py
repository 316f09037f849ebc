"""Write the report page (``groupetl report --html``): read what it draws, build it, save it.

The page (``reports.page``) has a header (the data's date range, the latest run's time, the QA
verdict), then a chart with a data table for every configured report, every retention report
(triangle and curve) and the cohorts' sizes. The charts are built by Spark-free functions
(``reports.figures``, ``retention.chart``, ``cohorts.chart``) from rows collected here: report
results are aggregates (a few rows per period and step), collected with a cap
(``MAX_CHART_ROWS``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.charts import DataRange
from groupetl.cohorts.chart import MEMBERS, cohort_sizes_chart
from groupetl.cohorts.spec import members_csv_path
from groupetl.config import ProjectConfig
from groupetl.reports import store
from groupetl.reports.columns import R
from groupetl.reports.definitions import (
    GOLD_FUNNELS,
    GOLD_SEGMENTATION,
    FunnelReport,
    Report,
    load_reports,
    select_reports,
)
from groupetl.reports.figures import report_chart, unit_label
from groupetl.reports.page import PageHeader, QaVerdict, Section, page_html
from groupetl.retention.chart import retention_report_chart
from groupetl.retention.run import read_retention
from groupetl.retention.spec import parse_retention
from groupetl.schemas import (
    ATTRIBUTED_EVENTS,
    COHORT_MEMBERS,
    FUNNEL_STEPS,
    QA_RESULTS,
    RC,
    SEGMENTATION,
    C,
    T,
)
from groupetl.stages import StageResult

MAX_CHART_ROWS = 20_000
Rows = list[Mapping[str, Any]]


def collect_chart_rows(df: DataFrame, limit: int = MAX_CHART_ROWS) -> Rows:
    """Collect at most ``limit`` rows of a small result (aggregates) as dicts, for a chart."""
    return [r.asDict() for r in df.limit(limit).collect()]


def collect_data_range(spark: SparkSession, config: ProjectConfig) -> DataRange | None:
    """The first and last event date of the attributed events (None before any event)."""
    events = tables.read(spark, config.paths.table(T.ATTRIBUTED_EVENTS), ATTRIBUTED_EVENTS)
    first, last = events.agg(F.min(C.EVENT_DATE), F.max(C.EVENT_DATE)).first()
    return None if first is None else DataRange(first, last)


def collect_qa_verdict(spark: SparkSession, config: ProjectConfig) -> QaVerdict | None:
    """The latest QA run's verdict from the QA results table (None when QA has not run)."""
    from groupetl.qa.runner import QA_RESULTS as QA_TABLE  # lazy: the QA package is large

    results = tables.read(spark, config.paths.table(QA_TABLE), QA_RESULTS)
    latest = results.orderBy(F.col("run_time").desc()).select(C.RUN_ID).limit(1).collect()
    if not latest:
        return None
    failed = ~F.col("success")
    error = F.col("severity") == "error"
    verdict = results.filter(F.col(C.RUN_ID) == latest[0][0]).agg(
        F.max("run_time"),
        F.count(F.lit(1)),
        F.count_if(failed & error),
        F.count_if(failed & ~error),
    )
    row = verdict.first()
    return QaVerdict(*row)


def collect_cohort_sizes(spark: SparkSession, config: ProjectConfig) -> Rows:
    """Members per (cohort, group type, snapshot date, cohort source) of the cohort membership
    table."""
    members = tables.read(spark, config.paths.table(T.COHORT_MEMBERS), COHORT_MEMBERS)
    sizes = members.groupBy(RC.COHORT, C.GROUP_TYPE, RC.AS_OF_DATE, RC.COHORT_SOURCE).agg(
        F.countDistinct(C.GROUP_VALUE).alias(MEMBERS)
    )
    return collect_chart_rows(sizes)


def member_csv_links(
    root: Path, cohorts: Iterable[str], page_dir: Path
) -> tuple[tuple[str, str], ...]:
    """(cohort, path of its members CSV relative to ``page_dir``) for each of ``cohorts`` whose
    CSV exists under ``root`` (``cohorts.spec.members_csv_path``), by name; the others have none.
    """
    paths = {name: members_csv_path(root, name) for name in sorted(set(cohorts))}
    return tuple(
        (name, Path(os.path.relpath(path.resolve(), page_dir.resolve())).as_posix())
        for name, path in paths.items()
        if path.is_file()
    )


def report_names(results: StageResult | Sequence[str] | None) -> list[str] | None:
    """Which reports to draw: a run's result (its ``reports``), names, or None for all."""
    if results is None:
        return None
    if isinstance(results, StageResult):
        return list(getattr(results, "reports", []))
    return list(results)


def report_sections(
    spark: SparkSession, config: ProjectConfig, reports: Sequence[Report], data: DataRange
) -> tuple[list[Section], list[dt.datetime]]:
    """One section per report, and the computed_at times of the rows drawn."""
    sections, times = [], []
    for i, report in enumerate(reports):
        funnel = isinstance(report, FunnelReport)
        table, schema = (
            (GOLD_FUNNELS, FUNNEL_STEPS) if funnel else (GOLD_SEGMENTATION, SEGMENTATION)
        )
        rows = collect_chart_rows(store.read_report_rows(spark, config, table, schema, report.name))
        times += [r[R.COMPUTED_AT] for r in rows]
        note = f"{report.kind}, counting {unit_label(report)}"
        chart = report_chart(report, rows, data)
        message = "No rows yet: run `groupetl report`."
        sections.append(Section("Reports", f"report-{i}", report.name, note, chart, message))
    return sections, times


def retention_sections(
    spark: SparkSession, config: ProjectConfig, horizon: dt.date | None
) -> tuple[list[Section], list[dt.datetime]]:
    """One section per configured retention report (triangle + curve, data table)."""
    sections, times = [], []
    for i, spec in enumerate(parse_retention(config)):
        rows = collect_chart_rows(read_retention(spark, config, spec.name))
        times += [r[RC.COMPUTED_AT] for r in rows]
        note = f"{spec.basis} {spec.period}s, retained {spec.measure.replace('_', ' ')} period N"
        chart = retention_report_chart(rows, horizon, spec.name)
        message = "No rows yet: run `groupetl retention`."
        sections.append(Section("Retention", f"retention-{i}", spec.name, note, chart, message))
    return sections, times


def default_page_path(config: ProjectConfig) -> Path:
    """Where ``groupetl run`` writes the page unless told otherwise: ``<root>/reports/page.html``."""
    return config.paths.root / "reports" / "page.html"


def write_html(
    spark: SparkSession,
    config: ProjectConfig,
    results: StageResult | Sequence[str] | None,
    out_path: str | Path,
) -> Path:
    """Write the page (see module doc); returns its path.

    ``results``: the result of ``run_reports`` (draws the reports it computed), report names,
    or None (every configured report). Retention reports and cohorts are always drawn.
    """
    reports = select_reports(load_reports(config), report_names(results))
    data = collect_data_range(spark, config)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    judged = data or DataRange(now.date(), now.date())
    sections, times = report_sections(spark, config, reports, judged)
    retention, retention_times = retention_sections(spark, config, data.last if data else None)
    sizes = collect_cohort_sizes(spark, config)
    out = Path(out_path)
    # only microscope cohorts: the file of another source could be of an earlier cohort's name
    saved = [r[RC.COHORT] for r in sizes if r[RC.COHORT_SOURCE] == "microscope"]
    csvs = member_csv_links(config.paths.root, saved, out.parent)
    note = "members of each cohort in each saved snapshot"
    cohort_section = Section(
        "Cohorts",
        "cohorts",
        "Cohort sizes",
        note,
        cohort_sizes_chart(sizes),
        "No cohorts yet.",
        csvs,
    )
    times += retention_times
    header = PageHeader(
        config.project, data, max(times, default=None), now, collect_qa_verdict(spark, config)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page_html(header, [*sections, *retention, cohort_section]), encoding="utf-8")
    return out
