"""The ordered list of pipeline stages and a runner that times them and reports progress.

The CLI (``groupetl demo``, one command per stage, ``groupetl run``) and the ``jobs/`` entry
points all go through ``run_stage`` so every stage is started, timed and summarized the same way.
``groupetl.runs`` runs them in order for logical dates and writes the run log.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import SparkSession

from groupetl.config import ProjectConfig
from groupetl.errors import ArgumentError, ConfigError, GroupEtlError, InputError, StageError
from groupetl.stages import StageResult

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

# How a stage uses the logical date: not at all (accepted for the run log only), optionally
# (a default applies), or required (the stage's result is defined per date).
NO_DATE, OPTIONAL_DATE, REQUIRED_DATE = "none", "optional", "required"

EXIT_FAILED, EXIT_CONFIG, EXIT_QA_GATE = 1, 2, 3  # the CLI's convention, shared by the jobs


class QaGateFailed(StageError):
    """The QA gate found a failed error-severity expectation; later stages must not run."""

    exit_code = EXIT_QA_GATE


@dataclass(frozen=True)
class Stage:
    """A pipeline stage: its name, the ``module:function`` that runs it, and how it is run.

    ``configured`` names a ``module:function(config)`` that is falsy when the stage's config
    section is absent (the orchestrator then skips the stage); ``gate`` marks the QA gate, whose
    ``failed_errors`` count stops the run.
    """

    name: str
    target: str  # "groupetl.ingest:run"
    help: str
    date: str = NO_DATE
    configured: str | None = None
    section: str | None = None  # the config section ``configured`` reads, for messages
    gate: bool = False

    def function(self) -> Callable[..., StageResult]:
        return _resolve(self.target)

    def is_configured(self, config: ProjectConfig) -> bool:
        return self.configured is None or bool(_resolve(self.configured)(config))


def _resolve(target: str) -> Callable[..., object]:
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


# In the order data flows: landing -> bronze -> silver -> resolved silver -> gold. These three are
# what ``groupetl demo`` runs; the orchestrated daily run (groupetl.runs) uses ALL_STAGES.
STAGES: tuple[Stage, ...] = (
    Stage("ingest", "groupetl.ingest:run", "landing files -> bronze, silver, quarantine"),
    Stage("attribute", "groupetl.attribution:run", "silver -> membership, properties, attributed"),
    Stage(
        "report",
        "groupetl.reports:run",
        "attributed events -> gold report tables",
        configured="groupetl.reports:load_reports",
        section="reports",
    ),
)

DATED_STAGES: tuple[Stage, ...] = (
    Stage(
        "crm_sync",
        "groupetl.crm:run",
        "CRM account export -> derived group property operations for a date",
        date=REQUIRED_DATE,
        configured="groupetl.crm:parse_crm",
        section="crm",
    ),
    Stage(
        "dynamic_properties",
        "groupetl.dynamic_properties:run",
        "attributed events before D -> dynamic group properties at D",
        date=REQUIRED_DATE,
        configured="groupetl.dynamic_properties:parse_dynamic_properties",
        section="dynamic_properties",
    ),
    Stage(
        "qa",
        "groupetl.qa:run",
        "QA gate: expectation suites on the project's tables (exit 3 on a failed error)",
        date=OPTIONAL_DATE,
        gate=True,
    ),
    Stage(
        "retention",
        "groupetl.retention:run",
        "attributed events -> gold/retention",
        configured="groupetl.retention:parse_retention",
        section="retention",
    ),
    Stage(
        "cohorts",
        "groupetl.cohorts:run",
        "behavioral cohorts as of D-1 (data before D; default: the latest event date) -> gold/cohort_members",
        date=OPTIONAL_DATE,
        configured="groupetl.cohorts:parse_cohorts",
        section="cohorts",
    ),
)

ALL_STAGES: tuple[Stage, ...] = STAGES + DATED_STAGES


def validate_sections(config: ProjectConfig) -> None:
    """Validate the config sections later stages own, so a bad one fails at start-up.

    Each parser raises ``ConfigError`` naming the file, line and key.
    """
    from groupetl.cohorts import parse_cohorts
    from groupetl.crm import parse_crm
    from groupetl.dynamic_properties import parse_dynamic_properties
    from groupetl.qa.catalog import build_catalog
    from groupetl.qa.settings import load_qa_settings
    from groupetl.reports import load_reports
    from groupetl.retention import parse_retention

    parse_dynamic_properties(config)
    parse_crm(config)
    parse_cohorts(config)
    parse_retention(config)
    load_reports(config)
    # the severity overrides name expectation ids, which the declared group types and tracking
    # plan decide: built here (no Spark, no GX), a typo fails at start-up, not at the QA step
    # after ingest and attribution have run
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    build_catalog(config, load_qa_settings(config), now)


def stage(name: str) -> Stage:
    """The stage called ``name``; raises ``StageError`` listing the known ones otherwise."""
    for s in ALL_STAGES:
        if s.name == name:
            return s
    raise StageError(f"unknown stage {name!r}; stages: {', '.join(s.name for s in ALL_STAGES)}")


def run_stage(
    spark: SparkSession,
    config: ProjectConfig,
    name: str,
    progress: Progress | None = None,
    *,
    date: dt.date | None = None,
    label: str | None = None,
    **kwargs: object,
) -> StageResult:
    """Run one stage, timing it; any failure becomes a ``StageError`` that names the stage.

    ``date`` is passed to stages that take one (required ones fail without it). ``label`` names
    the step in progress lines and errors (default ``name``; the orchestrator's second attribute
    pass is ``attribute_derived``). The QA gate raises ``QaGateFailed`` when an error-severity
    expectation failed. Progress: ``[name] started`` and ``[name] finished in 3.2s``.
    """
    say = progress or log.info
    spec = stage(name)
    label = label or name
    if spec.date == REQUIRED_DATE and date is None:
        raise StageError(f"stage {label} needs a logical date (--date YYYY-MM-DD)")
    if spec.date != NO_DATE:
        kwargs["date"] = date
    say(f"[{label}] started" + (f" for {date}" if date is not None else ""))
    started = time.monotonic()
    try:
        result = spec.function()(spark, config, progress=progress, **kwargs)
    except GroupEtlError as exc:
        raise StageError(f"stage {label} failed: {exc}") from exc
    except Exception as exc:  # a Spark/Delta error: keep its type in the message, stop the run
        disk = _disk_error(exc)
        if disk is not None:  # one line: the JVM's stack trace says nothing more to an operator
            log.debug("stage %s failed", label, exc_info=True)
            raise StageError(
                f"stage {label} failed: cannot write to the warehouse {config.paths.warehouse}: "
                f"{disk}; the failed commit wrote nothing, and the next run of the stage "
                "completes it once there is room"
            ) from exc
        raise StageError(f"stage {label} failed: {type(exc).__name__}: {exc}") from exc
    result.seconds = time.monotonic() - started
    # The counts are in the summary (``result.lines()``) that every caller prints once; the
    # progress line only marks the end, so a person does not read the same counts twice.
    say(f"[{label}] finished in {result.seconds:.1f}s")
    if spec.gate and result.counts.get("failed_errors", 0):
        failed = "; ".join(n.removeprefix("FAIL ") for n in result.notes if n.startswith("FAIL "))
        raise QaGateFailed(
            f"stage {label} failed: QA gate: {result.counts['failed_errors']} error-severity "
            f"expectations failed: {failed}"
        )
    return result


# The operating system's words for a disk that takes no more writes, as Java reports them.
_DISK_ERRORS = ("No space left on device", "Disk quota exceeded", "Read-only file system")


def _disk_error(exc: BaseException) -> str | None:
    """The disk error behind a Spark/Delta failure (a full or read-only disk), or None."""
    text = str(exc)
    return next((e for e in _DISK_ERRORS if e in text), None)


def exit_code(exc: GroupEtlError) -> int:
    """The process exit code for a groupetl error: 2 config or argument, 3 QA gate, 75 warehouse
    busy (the error's ``exit_code``), 1 anything else."""
    if isinstance(exc, ConfigError | ArgumentError):
        return EXIT_CONFIG
    return getattr(exc, "exit_code", EXIT_FAILED)


def job_main(name: str, argv: list[str] | None = None) -> int:
    """Entry point of ``jobs/<name>.py`` under ``spark-submit``: args -> config -> session -> stage.

    ``spark-submit $(groupetl jars --spark-submit) jobs/ingest.py --config conf/prod.yaml
    --date 2026-01-08``. ``--date`` is required by dated stages (CRM sync, dynamic
    properties) and accepted by all, so an orchestrator passes it to every job; it is recorded
    in the run log. A stage whose config section is absent is logged as skipped (exit 0).
    Exit status: 0 ok, 1 stage failure, 2 config error, 3 QA gate failed, 75 another command
    holds the warehouse (``groupetl.lease``).
    """
    import argparse
    import sys

    from groupetl import checks
    from groupetl.config import load_config
    from groupetl.lease import acquire
    from groupetl.runs import log_skipped, parse_date, run_logged
    from groupetl.session import session_for

    spec = stage(name)
    parser = argparse.ArgumentParser(prog=f"jobs/{name}.py", description=spec.help)
    parser.add_argument("--config", required=True, help="project config YAML")
    parser.add_argument(
        "--date",
        required=spec.date == REQUIRED_DATE,
        help="logical date YYYY-MM-DD"
        + ("" if spec.date != NO_DATE else " (recorded in the run log only)"),
    )
    parser.add_argument("--step", help="name of the step in the run log (default: the stage)")
    parser.add_argument("--verbose", action="store_true", help="Spark INFO logs")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    held = None
    try:
        try:  # a bad date is an argument error (exit 2), found before Spark
            date = parse_date(args.date) if args.date else None
        except InputError as exc:
            raise ArgumentError(str(exc)) from None
        config = load_config(args.config)
        validate_sections(config)
        if name == "ingest":
            checks.landing_folder(config)
        step = args.step or name
        # before the JVM: a second writer of the warehouse exits in a second (code 75)
        held = acquire(config.paths.warehouse, command=step, project=config.project)
        spark = session_for(config, verbose=args.verbose, app_name=f"groupetl-{name}")
        held.add_jvm(spark._jvm.java.lang.ProcessHandle.current().pid())
        if not spec.is_configured(config):  # as `groupetl run` does: logged, not an error
            reason = f"not configured (no {spec.section}: section)"
            log_skipped(spark, config, step=step, date=date, reason=reason)
            print(f"{step}: skipped: {reason}")
            return 0
        result = run_logged(spark, config, name, date=date, step=step, progress=progress)
    except GroupEtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code(exc)
    finally:
        if held is not None:
            held.release()
    print("\n".join(result.lines()))
    return 0
