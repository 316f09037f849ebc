"""The ordered list of pipeline stages and a runner that times them and reports progress.

The CLI (``groupetl demo``, one command per stage) and the ``jobs/`` entry points all go through
``run_stage`` so every stage is started, timed and summarized the same way.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import SparkSession

from groupetl.config import ProjectConfig
from groupetl.errors import GroupEtlError, StageError
from groupetl.stages import StageResult

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Stage:
    """A pipeline stage: its name and the ``module:function`` that runs it."""

    name: str
    target: str  # "groupetl.ingest:run"
    help: str

    def function(self) -> Callable[..., StageResult]:
        module, func = self.target.split(":")
        return getattr(importlib.import_module(module), func)


# In the order data flows: landing -> bronze -> silver -> resolved silver -> gold.
STAGES: tuple[Stage, ...] = (
    Stage("ingest", "groupetl.ingest:run", "landing files -> bronze, silver, quarantine"),
    Stage("attribute", "groupetl.attribution:run", "silver -> membership, properties, attributed"),
    Stage("report", "groupetl.reports:run", "attributed events -> gold report tables"),
)


def validate_sections(config: ProjectConfig) -> None:
    """Validate the config sections later stages own, so a bad one fails at start-up.

    Each parser raises ``ConfigError`` naming the file, line and key.
    """
    from groupetl.cohorts import parse_cohorts
    from groupetl.crm import parse_crm
    from groupetl.dynamic_properties import parse_dynamic_properties
    from groupetl.qa.settings import load_qa_settings
    from groupetl.reports import load_reports
    from groupetl.retention import parse_retention

    parse_dynamic_properties(config)
    parse_crm(config)
    parse_cohorts(config)
    parse_retention(config)
    load_reports(config)
    load_qa_settings(config)


def stage(name: str) -> Stage:
    """The stage called ``name``; raises ``StageError`` listing the known ones otherwise."""
    for s in STAGES:
        if s.name == name:
            return s
    raise StageError(f"unknown stage {name!r}; stages: {', '.join(s.name for s in STAGES)}")


def run_stage(
    spark: SparkSession,
    config: ProjectConfig,
    name: str,
    progress: Progress | None = None,
    **kwargs: object,
) -> StageResult:
    """Run one stage, timing it; any failure becomes a ``StageError`` that names the stage."""
    say = progress or log.info
    say(f"[{name}] started")
    started = time.monotonic()
    try:
        result = stage(name).function()(spark, config, progress=progress, **kwargs)
    except GroupEtlError as exc:
        raise StageError(f"stage {name} failed: {exc}") from exc
    except Exception as exc:  # a Spark/Delta error: keep its type in the message, stop the run
        raise StageError(f"stage {name} failed: {type(exc).__name__}: {exc}") from exc
    result.seconds = time.monotonic() - started
    say(f"[{name}] finished in {result.seconds:.1f}s")
    return result


def job_main(name: str, argv: list[str] | None = None) -> int:
    """Entry point of ``jobs/<name>.py`` under ``spark-submit``: args -> config -> session -> stage.

    ``spark-submit $(groupetl jars --spark-submit) jobs/ingest.py --config conf/prod.yaml``
    """
    import argparse
    import sys

    from groupetl.config import load_config
    from groupetl.session import session_for

    parser = argparse.ArgumentParser(prog=f"jobs/{name}.py", description=stage(name).help)
    parser.add_argument("--config", required=True, help="project config YAML")
    parser.add_argument("--verbose", action="store_true", help="Spark INFO logs")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        config = load_config(args.config)
        validate_sections(config)
        spark = session_for(config, verbose=args.verbose, app_name=f"groupetl-{name}")
        result = run_stage(spark, config, name, progress=progress)
    except GroupEtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(result.lines()))
    return 0
