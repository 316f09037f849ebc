"""Compute one report into its gold tables, fully or incrementally.

Incremental rule (docs/reports/*.md): a report is recomputed only where its *input* changed.
Its input is the rows it reads after filters and cohort (each with every column that can change
a number), fingerprinted as a sum of row hashes:

- segmentation: per event date. The dates whose fingerprint differs from the last run's (new,
  restated or removed events, a property version that changed a segment, a cohort that changed)
  give the affected periods (the day/week/month, or the N following days of a rolling window);
  only their rows are recomputed and replaced. ``top`` needs the whole range: any change
  recomputes the report.
- funnels: per counting unit. A unit's attempt depends only on its own step-relevant events, so
  only units whose fingerprint changed are recomputed (a MERGE into gold/funnel_groups); the
  step table is then re-aggregated from gold/funnel_groups (one row per unit: cheap).

A changed definition (its hash), a missing state or ``full=True`` recomputes the whole report.
Either way the result equals a full recompute (tests check this).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl.config import ProjectConfig
from groupetl.reports import funnels as fn
from groupetl.reports import segmentation as seg
from groupetl.reports import store
from groupetl.reports.columns import R
from groupetl.reports.definitions import (
    GOLD_FUNNEL_GROUPS,
    GOLD_FUNNELS,
    GOLD_SEGMENTATION,
    FunnelReport,
    Report,
    SegmentationReport,
)
from groupetl.reports.inputs import (
    input_dates,
    read_inputs,
    report_rows,
    sum_fingerprint,
    with_cohort,
)
from groupetl.schemas import FUNNEL_GROUPS, FUNNEL_STEPS, SEGMENTATION, C

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one report run did: ``mode`` full | incremental | unchanged."""

    report: str
    kind: str
    mode: str
    recomputed: int = 0  # periods (segmentation) or units (funnels) recomputed
    rows_written: int = 0
    detail: str = ""
    state: list[tuple] = field(default_factory=list)  # REPORT_STATE rows to write

    def line(self) -> str:
        what = "periods" if self.kind == "segmentation" else "units"
        text = f"{self.report} ({self.kind}): {self.mode}, {self.recomputed} {what} recomputed"
        return text + (f" [{self.detail}]" if self.detail else "")


def prepared_rows(spark: SparkSession, config: ProjectConfig, report: Report) -> DataFrame:
    """The report's rows with group properties and cohort applied (inputs.py)."""
    events, versions = read_inputs(spark, config)
    rows = report_rows(events, versions, report, input_dates(report))
    return with_cohort(spark, config, rows, report)


def run_segmentation(
    spark: SparkSession,
    config: ProjectConfig,
    report: SegmentationReport,
    run: seg.RunInfo,
    full: bool = False,
) -> Outcome:
    """Compute a segmentation report into gold/segmentation (see module doc)."""
    srows = seg.segmentation_rows(prepared_rows(spark, config, report), report)
    new = store.collect_date_fingerprints(
        srows.groupBy(C.EVENT_DATE).agg(
            sum_fingerprint(seg.row_fingerprint()).alias(R.FINGERPRINT),
            F.count(F.lit(1)).alias(R.ROWS),
        )
    )
    marker, old = store.collect_state(spark, config, report)
    changed = sorted(d for d in new.keys() | old.keys() if new.get(d) != old.get(d))
    same_definition = marker == report.definition_hash()
    last_day = max(new) if new else None
    if same_definition and not changed and not full:
        return Outcome(report.name, report.kind, "unchanged")
    if full or not same_definition or report.top is not None:
        mode, periods, predicate = "full", None, store.report_predicate(report.name)
        recomputed = len({seg.python_period_start(d, report.interval) for d in new})
    else:
        old_last = max(old) if old else None
        mode = "incremental"
        periods = seg.affected_periods(report, changed, (old_last, last_day))
        predicate = store.report_predicate(
            report.name, store.dates_predicate(R.PERIOD_START, periods)
        )
        recomputed = len(periods)
    counts = seg.segmentation_counts(srows, report, periods, last_day)
    ranks = seg.top_segments(srows, report) if report.top is not None else None
    table = seg.segmentation_table(counts, report, run, ranks)
    written = store.replace_rows(spark, config, GOLD_SEGMENTATION, SEGMENTATION, table, predicate)
    detail = _date_span(periods) if periods else ""
    state = store.state_rows(report, run, new)
    return Outcome(report.name, report.kind, mode, recomputed, written, detail, state)


def run_funnel(
    spark: SparkSession,
    config: ProjectConfig,
    report: FunnelReport,
    run: seg.RunInfo,
    full: bool = False,
) -> Outcome:
    """Compute a funnel report into gold/funnel_groups and gold/funnels (see module doc)."""
    frows = fn.funnel_rows(prepared_rows(spark, config, report), report)
    marker, _ = store.collect_state(spark, config, report)
    if full or marker != report.definition_hash():
        per_group = fn.funnel_per_group(frows, report)
        table = fn.funnel_groups_table(per_group, report, run)
        recomputed = store.replace_rows(
            spark,
            config,
            GOLD_FUNNEL_GROUPS,
            FUNNEL_GROUPS,
            table,
            store.report_predicate(report.name),
        )
        mode = "full"
    else:
        changed = changed_units(spark, config, report, frows)
        recomputed = changed.count()
        if recomputed == 0:
            changed.unpersist()
            return Outcome(report.name, report.kind, "unchanged")
        kept = changed.filter(~F.col("_removed")).select(R.UNIT)
        redo = fn.funnel_per_group(frows.join(kept, on=R.UNIT, how="left_semi"), report)
        removed = changed.filter(F.col("_removed")).select(F.col(R.UNIT).alias(R.GROUP_VALUE))
        store.merge_funnel_units(
            spark, config, report, fn.funnel_groups_table(redo, report, run), removed
        )
        changed.unpersist()
        mode = "incremental"
    written = write_funnel_steps(spark, config, report, run)
    state = store.state_rows(report, run, {})
    return Outcome(report.name, report.kind, mode, recomputed, written, "", state)


def changed_units(
    spark: SparkSession, config: ProjectConfig, report: FunnelReport, frows: DataFrame
) -> DataFrame:
    """(unit, _removed): the units whose step-relevant rows changed since the last run.

    Materialized (localCheckpoint), so the fingerprints are computed once and the result does
    not move when gold/funnel_groups is rewritten.
    """
    new = fn.unit_fingerprints(frows).withColumnRenamed(R.FINGERPRINT, "_new")
    old = store.read_report_rows(
        spark, config, GOLD_FUNNEL_GROUPS, FUNNEL_GROUPS, report.name
    ).select(F.col(R.GROUP_VALUE).alias(R.UNIT), F.col(R.FINGERPRINT).alias("_old"))
    diff = new.join(old, on=R.UNIT, how="full").filter(~F.col("_new").eqNullSafe(F.col("_old")))
    return diff.select(R.UNIT, F.col("_new").isNull().alias("_removed")).localCheckpoint()


def write_funnel_steps(
    spark: SparkSession, config: ProjectConfig, report: FunnelReport, run: seg.RunInfo
) -> int:
    """Re-aggregate gold/funnel_groups of ``report`` into its gold/funnels rows."""
    groups = store.read_report_rows(
        spark, config, GOLD_FUNNEL_GROUPS, FUNNEL_GROUPS, report.name
    ).withColumnRenamed(R.GROUP_VALUE, R.UNIT)
    steps = fn.funnel_steps_table(fn.funnel_steps(groups, report), report, run)
    return store.replace_rows(
        spark, config, GOLD_FUNNELS, FUNNEL_STEPS, steps, store.report_predicate(report.name)
    )


def run_report(
    spark: SparkSession,
    config: ProjectConfig,
    report: Report,
    run: seg.RunInfo,
    full: bool = False,
) -> Outcome:
    """Compute ``report`` (either kind). Its new state is in the outcome: pass the outcomes
    of a run to ``save_states`` once every report is written."""
    if isinstance(report, FunnelReport):
        return run_funnel(spark, config, report, run, full)
    return run_segmentation(spark, config, report, run, full)


def save_states(spark: SparkSession, config: ProjectConfig, outcomes: list[Outcome]) -> None:
    """Write the state of the reports a run recomputed (one commit)."""
    done = [o for o in outcomes if o.mode != "unchanged"]
    store.write_states(spark, config, [o.report for o in done], [r for o in done for r in o.state])


def _date_span(periods: list) -> str:
    if len(periods) <= 3:
        return ", ".join(p.isoformat() for p in periods)
    return f"{periods[0].isoformat()} .. {periods[-1].isoformat()} ({len(periods)} periods)"
