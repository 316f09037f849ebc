"""Logical-date orchestration: every stage for a date, in order, with one run-log row per step.

``groupetl run --date D`` (and ``--from D1 --to D2`` for a backfill) and ``jobs/run.py`` call
:func:`run_dates`. The order per date (docs/operations.md)::

    ingest -> attribute -> crm_sync(D) -> dynamic_properties(D) -> attribute_derived
           -> qa_gate -> report -> retention -> cohorts(D)

Every stage is idempotent on its own (ingest skips files already in bronze, attribution keeps a
ledger of attributed batches, reports keep input fingerprints, the dated stages replace their
date's rows), so re-running a date, or resuming after a failure by re-running it from the first
step, gives the same tables. A stage whose config section is absent is skipped and logged as
skipped; the second attribute pass is skipped when neither derived-property stage ran.

The run log (``T.RUN_LOG``) gets one row per step and date: status ``succeeded`` / ``failed`` /
``skipped``, the stage's counts plus ``duration_ms``, and its notes or the error as message.
(Ingest also writes its own row, stage ``ingest`` with no logical date; see docs/operations.md.)
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import ProjectConfig
from groupetl.derived_ops import as_date as parse_date  # the one YYYY-MM-DD parser
from groupetl.errors import InputError, StageError
from groupetl.pipeline import Progress, run_stage, stage
from groupetl.schemas import RUN_LOG, C, T
from groupetl.stages import StageResult

log = logging.getLogger(__name__)

SUCCEEDED, FAILED, SKIPPED = "succeeded", "failed", "skipped"
DURATION = "duration_ms"  # added to every run-log row's counts
MAX_MESSAGE = 4000
MAX_DATES = 366  # a longer backfill is split by the caller; a typo'd year fails fast


@dataclass(frozen=True)
class Step:
    """One step of a date's run: its run-log name and the pipeline stage it runs."""

    name: str
    stage: str
    applies_derived: bool = False  # the second attribute pass: only after a derived stage ran


STEPS: tuple[Step, ...] = (
    Step("ingest", "ingest"),
    Step("attribute", "attribute"),
    Step("crm_sync", "crm_sync"),
    Step("dynamic_properties", "dynamic_properties"),
    Step("attribute_derived", "attribute", applies_derived=True),
    Step("qa_gate", "qa"),
    Step("report", "report"),
    Step("retention", "retention"),
    Step("cohorts", "cohorts"),
)
DERIVED_STEPS = ("crm_sync", "dynamic_properties")


@dataclass
class StepOutcome:
    step: str
    status: str
    seconds: float = 0.0
    result: StageResult | None = None
    message: str | None = None


@dataclass
class DateRun:
    """What one date's run did: one outcome per step reached (a failed step is the last)."""

    date: dt.date
    run_id: str
    outcomes: list[StepOutcome] = field(default_factory=list)
    skipped_as_done: bool = False

    def lines(self) -> list[str]:
        if self.skipped_as_done:
            return [f"run {self.date}: every step already succeeded; skipped (--force re-runs)"]
        total = sum(o.seconds for o in self.outcomes)
        by_status = {s: sum(o.status == s for o in self.outcomes) for s in (SUCCEEDED, SKIPPED)}
        out = [
            f"run {self.date} ({self.run_id}): {by_status[SUCCEEDED]} succeeded, "
            f"{by_status[SKIPPED]} skipped in {total:.1f}s"
        ]
        for o in self.outcomes:
            detail = _counts_line(o.result.counts) if o.result else (o.message or "")
            out.append(f"  {o.step:<20} {o.status:<10} {o.seconds:>7.1f}s  {detail}")
        return out


def _counts_line(counts: Mapping[str, int], limit: int = 5) -> str:
    return ", ".join(f"{k}={v:,}" for k, v in list(counts.items())[:limit])


# --- dates ---


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from ``start`` to ``end`` inclusive; ``InputError`` when empty or too long."""
    if end < start:
        raise InputError(f"--to {end} is before --from {start}")
    days = (end - start).days + 1
    if days > MAX_DATES:
        raise InputError(f"{days} dates from {start} to {end}; split backfills over {MAX_DATES}")
    return [start + dt.timedelta(days=i) for i in range(days)]


# --- the run log ---


def write_run_log(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    run_id: str,
    step: str,
    date: dt.date | None,
    started_at: dt.datetime,
    status: str,
    counts: Mapping[str, int],
    message: str | None,
) -> None:
    """Append one step's row to ``T.RUN_LOG`` (one small commit)."""
    finished = dt.datetime.now(dt.timezone.utc)
    text = message[:MAX_MESSAGE] if message else None
    row = (run_id, step, date, started_at, finished, status, dict(counts), text)
    tables.append(spark.createDataFrame([row], RUN_LOG), config.paths.table(T.RUN_LOG))


def run_logged(
    spark: SparkSession,
    config: ProjectConfig,
    name: str,
    *,
    date: dt.date | None,
    step: str | None = None,
    run_id: str | None = None,
    progress: Progress | None = None,
    **kwargs: object,
) -> StageResult:
    """``run_stage`` plus its run-log row (succeeded with counts, or failed with the error)."""
    step = step or name
    run_id = run_id or new_run_id()
    started_at = dt.datetime.now(dt.timezone.utc)
    started = time.monotonic()
    try:
        result = run_stage(spark, config, name, progress, date=date, label=step, **kwargs)
    except StageError as exc:
        counts = {DURATION: int((time.monotonic() - started) * 1000)}
        _log_quietly(spark, config, run_id, step, date, started_at, FAILED, counts, str(exc))
        raise
    counts = {**result.counts, DURATION: int(result.seconds * 1000)}
    message = "; ".join(result.notes) or None
    write_run_log(
        spark, config, run_id=run_id, step=step, date=date, started_at=started_at,
        status=SUCCEEDED, counts=counts, message=message,
    )  # fmt: skip
    return result


def log_skipped(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    step: str,
    date: dt.date | None,
    reason: str,
    run_id: str | None = None,
) -> None:
    """The run-log row of a step that did not run, with the reason as message."""
    write_run_log(
        spark, config, run_id=run_id or new_run_id(), step=step, date=date,
        started_at=dt.datetime.now(dt.timezone.utc), status=SKIPPED, counts={}, message=reason,
    )  # fmt: skip


def _log_quietly(spark, config, run_id, step, date, started_at, status, counts, message) -> None:
    try:
        write_run_log(
            spark, config, run_id=run_id, step=step, date=date, started_at=started_at,
            status=status, counts=counts, message=message,
        )  # fmt: skip
    except Exception:  # the stage's error matters more than its log row
        log.exception("could not write the run log row of failed step %s", step)


def new_run_id() -> str:
    return f"run-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def collect_completed_dates(
    spark: SparkSession, config: ProjectConfig, dates: Sequence[dt.date]
) -> set[dt.date]:
    """Dates whose latest row of every step is ``succeeded`` or ``skipped`` (a few rows/date)."""
    path = config.paths.table(T.RUN_LOG)
    if not dates or not tables.exists(spark, path):
        return set()
    names = [s.name for s in STEPS]
    rows = (
        tables.read(spark, path, RUN_LOG)
        .filter(F.col(C.LOGICAL_DATE).isin(list(dates)) & F.col(C.STAGE).isin(names))
        .select(C.LOGICAL_DATE, C.STAGE, C.STATUS, C.STARTED_AT)
        .collect()
    )
    latest: dict[tuple[dt.date, str], tuple[dt.datetime, str]] = {}
    for r in rows:
        key = (r[C.LOGICAL_DATE], r[C.STAGE])
        if key not in latest or r[C.STARTED_AT] >= latest[key][0]:
            latest[key] = (r[C.STARTED_AT], r[C.STATUS])
    return {
        d
        for d in dates
        if all(latest.get((d, n), (None, FAILED))[1] in (SUCCEEDED, SKIPPED) for n in names)
    }


# --- running dates ---


def skip_reason(step: Step, config: ProjectConfig, ran: set[str]) -> str | None:
    """Why ``step`` is skipped for this date (None: it runs)."""
    spec = stage(step.stage)
    if not spec.is_configured(config):
        return f"not configured (no {spec.section}: section)"
    if step.applies_derived and not ran.intersection(DERIVED_STEPS):
        return "no derived property stage ran"
    return None


def run_date(
    spark: SparkSession,
    config: ProjectConfig,
    date: dt.date,
    *,
    run_id: str | None = None,
    progress: Progress | None = None,
) -> DateRun:
    """Run every step for ``date`` in order; a failed step raises ``StageError`` (logged first)."""
    say = progress or log.info
    outcome = DateRun(date, run_id or new_run_id())
    ran: set[str] = set()
    say(f"[run] {date}: {len(STEPS)} steps ({outcome.run_id})")
    for step in STEPS:
        reason = skip_reason(step, config, ran)
        if reason:
            say(f"[{step.name}] skipped: {reason}")
            log_skipped(
                spark, config, step=step.name, date=date, reason=reason, run_id=outcome.run_id
            )
            outcome.outcomes.append(StepOutcome(step.name, SKIPPED, message=reason))
            continue
        result = run_logged(
            spark, config, step.stage, date=date, step=step.name, run_id=outcome.run_id,
            progress=progress,
        )  # fmt: skip
        ran.add(step.name)
        outcome.outcomes.append(StepOutcome(step.name, SUCCEEDED, result.seconds, result))
    return outcome


def run_dates(
    spark: SparkSession,
    config: ProjectConfig,
    dates: Sequence[dt.date],
    *,
    force: bool = True,
    progress: Progress | None = None,
) -> list[DateRun]:
    """Run ``dates`` in order, stopping at the first failed step (its ``StageError`` propagates).

    With ``force=False`` (a ``--from/--to`` backfill without ``--force``) a date whose every step
    already succeeded (or was skipped) in the run log is not run again; a date with a failed
    or missing step is run from its first step.
    """
    say = progress or log.info
    done = set() if force else collect_completed_dates(spark, config, dates)
    runs = []
    for date in dates:
        if date in done:
            say(f"[run] {date}: every step already succeeded; skipped")
            runs.append(DateRun(date, "", skipped_as_done=True))
            continue
        runs.append(run_date(spark, config, date, progress=progress))
    return runs


def run_main(argv: list[str] | None = None) -> int:
    """``jobs/run.py``: every stage for ``--date D`` or ``--from D1 --to D2`` under spark-submit.

    Exit status: 0 ok, 1 a stage failed, 2 config or argument error, 3 QA gate failed, 75
    another command holds the warehouse.
    """
    import argparse
    import sys

    from groupetl import checks
    from groupetl.config import load_config
    from groupetl.errors import ArgumentError, GroupEtlError
    from groupetl.lease import acquire
    from groupetl.pipeline import exit_code, validate_sections
    from groupetl.session import session_for

    parser = argparse.ArgumentParser(prog="jobs/run.py", description=run_main.__doc__)
    parser.add_argument("--config", required=True, help="project config YAML")
    parser.add_argument("--date", help="one logical date YYYY-MM-DD (always run)")
    parser.add_argument("--from", dest="start", help="first date of a backfill")
    parser.add_argument("--to", dest="end", help="last date of a backfill (inclusive)")
    parser.add_argument("--force", action="store_true", help="re-run dates already done")
    parser.add_argument("--verbose", action="store_true", help="Spark INFO logs")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    held = None
    try:
        dates, force = resolve_dates(args.date, args.start, args.end, args.force)
        config = load_config(args.config)
        validate_sections(config)
        checks.landing_folder(config)
        # before the JVM: a second writer of the warehouse exits in a second (code 75)
        held = acquire(config.paths.warehouse, command="run", project=config.project)
        spark = session_for(config, verbose=args.verbose, app_name="groupetl-run")
        held.add_jvm(spark._jvm.java.lang.ProcessHandle.current().pid())
        runs = run_dates(spark, config, dates, force=force, progress=progress)
    except InputError as exc:  # a bad date or option: exit 2, like the CLI
        print(f"error: {exc}", file=sys.stderr)
        return exit_code(ArgumentError(str(exc)))
    except GroupEtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code(exc)
    finally:
        if held is not None:
            held.release()
    for r in runs:
        print("\n".join(r.lines()))
    return 0


def resolve_dates(
    date: str | None, start: str | None, end: str | None, force: bool
) -> tuple[list[dt.date], bool]:
    """The dates of ``--date`` or ``--from/--to``, and whether done dates are re-run.

    ``--date D`` always runs D (an explicit re-run); a backfill skips done dates unless forced.
    """
    if date and (start or end):
        raise InputError("give either --date or --from/--to, not both")
    if date:
        return [parse_date(date)], True
    if not (start and end):
        raise InputError("give --date D, or --from D1 --to D2 for a backfill")
    return date_range(parse_date(start), parse_date(end)), force
