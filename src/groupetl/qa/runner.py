"""``run_qa``: validate a project's tables against its expectation suites, as an orchestrator gate.

Reads the project's tables (a missing one is a failed ``tables`` check, not a crash), runs every
suite of the catalog with Great Expectations on Spark, writes the Data Docs HTML, appends one row
per expectation to the ``ops/qa_results`` Delta table and returns a :class:`QaResult` whose
``exit_code`` is non-zero iff an error-severity expectation failed. Nothing is printed: progress
goes to the ``progress`` callback (or the log), the table to ``format_qa_table``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from groupetl import tables
from groupetl.config import ProjectConfig
from groupetl.qa.catalog import build_catalog
from groupetl.qa.datadocs import add_summary, localize_assets, localize_images, summary_html
from groupetl.qa.frames import build_frames
from groupetl.qa.report import ExpectationOutcome, QaResult, headline, stage_result
from groupetl.qa.settings import QaSettings, load_qa_settings
from groupetl.qa.sources import QaTables, load_tables
from groupetl.qa.validation import GxRun
from groupetl.schemas import QA_RESULTS as QA_RESULTS_SCHEMA

log = logging.getLogger(__name__)

QA_RESULTS = "ops/qa_results"  # table path under the warehouse (schema: schemas.QA_RESULTS)
Progress = Callable[[str], None]


def default_data_docs_dir(config: ProjectConfig) -> Path:
    """Where the CLI and jobs write the Data Docs unless told otherwise: ``<root>/qa/data_docs``."""
    return config.paths.root / "qa" / "data_docs"


def run_qa(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    data_docs_dir: Path,
    progress: Progress | None = None,
) -> QaResult:
    """Run QA on the project's tables and record the results.

    In: the session, the project, the folder for GX's Data Docs (created if needed; its
    index.html is the entry page). Out: QaResult (``exit_code``, outcomes, ``stage`` for the run
    log). Raises ``ConfigError`` for an invalid ``qa:`` section.
    """
    started = time.monotonic()
    result = validate_tables(
        spark, config, load_tables(spark, config), data_docs_dir=data_docs_dir, progress=progress
    )
    tables.append(results_frame(spark, result), config.paths.table(QA_RESULTS))
    result.stage.tables.append(QA_RESULTS)
    result.stage.seconds = time.monotonic() - started
    return result


def validate_tables(
    spark: SparkSession,
    config: ProjectConfig,
    qa_tables: QaTables,
    *,
    data_docs_dir: Path,
    settings: QaSettings | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> QaResult:
    """Run every suite on ``qa_tables`` and write the Data Docs; no table is written.

    In: tables from ``load_tables`` (or ``tables_from_frames`` in tests), the Data Docs folder,
    optionally settings (default: the config's ``qa:`` section) and the run's time (naive UTC,
    default now; the upper time bound is relative to it). Out: QaResult.
    """
    say = progress or log.info
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    suites = build_catalog(config, settings or load_qa_settings(config), now)
    run_id = f"qa-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    frames = build_frames(spark, qa_tables, config)
    data_docs_dir.mkdir(parents=True, exist_ok=True)
    gx_run = GxRun(data_docs_dir, run_id, now)
    outcomes: list[ExpectationOutcome] = []
    skipped: list[str] = []
    for suite in suites:
        missing = [name for name in suite.requires if not qa_tables.exists[name]]
        if missing:
            skipped.append(f"{suite.name}: table {', '.join(missing)} missing")
            continue
        suite_outcomes = gx_run.validate(suite, frames[suite.frame])
        failed = sum(not o.passed for o in suite_outcomes)
        say(f"[qa] {suite.name}: {len(suite_outcomes)} expectations, {failed} failed")
        outcomes += suite_outcomes
    index, pages = gx_run.build_docs()
    # logo, styles and scripts from the site's own copies: styled offline, nothing sent out
    localize_images(index.parent)
    localize_assets(index.parent)
    result = QaResult(
        run_id=run_id,
        project=config.project,
        run_time=now,
        outcomes=tuple(outcomes),
        skipped=tuple(skipped),
        data_docs_index=index,
        stage=stage_result(tuple(outcomes), tuple(skipped)),
    )
    add_summary(index, summary_html(headline(result), result.outcomes, pages))
    say(f"[qa] {headline(result)}")
    return result


def results_frame(spark: SparkSession, result: QaResult) -> DataFrame:
    """The run's outcomes as rows of the QA results table (a few dozen rows, built locally)."""
    rows = [
        (
            result.run_id,
            result.project,
            o.suite,
            o.expectation,
            o.severity,
            o.passed,
            o.observed,
            list(o.samples),
            result.run_time,
        )
        for o in result.outcomes
    ]
    return spark.createDataFrame(rows, QA_RESULTS_SCHEMA)
