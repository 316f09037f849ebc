"""One small generated project shared by issue 18's slow tests (races, crashes, doctor).

Their cost is per Spark stage run, not per record (a cold ``groupetl ingest`` of 75 lines takes
about 50 s, 8 s of it the JVM start; the rest is Spark and Delta planning and commits), so the
data is as small as still fills every ingest table, and the serial reference the tests compare
with is built once per test session (``conftest.py``'s ``safety`` fixture): every generated file
ingested in one batch (``ingested``), then attributed (``attributed``). A run that ingests the
same files in other batches gives the same tables, bookkeeping columns aside
(tests/test_run.py's ``assert_same_tables``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from groupetl import lease
from groupetl.config import load_config
from groupetl.pipeline import run_stage
from test_run import arrive, file_day

REPO = Path(__file__).resolve().parent.parent
DAYS = 6
CONFIG = """\
project: safety
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name, value_format: numeric}
  - {name: workspace, name_property: Workspace Name}
tracking_plan:
  events: [Login, View Dashboard, Create Report, Share Report, Invite Teammate, Send Invoice,
           Pay Invoice, Upgrade Plan]
spark: {master: "local[2]", shuffle_partitions: 2, driver_memory: 1g}
qa:
  thresholds: {max_quarantine_rate: 0.5}
  severity: {silver.events.event_type_in_tracking_plan: warning,
             silver.group_names.every_group_named: warning}
"""


@dataclass(frozen=True)
class Safety:
    """The generated landing files and the serial run's warehouses (read-only: copy them)."""

    landing: Path
    days: list[dt.date]
    ingested: Path  # every file ingested in one batch
    attributed: Path  # ... then attributed


def new_project(folder: Path) -> Path:
    """A project folder with the shared config and an empty landing folder; its config path."""
    (folder / "data" / "landing").mkdir(parents=True)
    path = folder / "safety.yaml"
    path.write_text(CONFIG)
    return path


def build(spark, root: Path) -> Safety:
    """Generate the data and build the serial run's warehouses under ``root``."""
    from groupetl.generate import GeneratorSpec, generate

    spec = GeneratorSpec(
        seed=18, companies=6, users_per_company=4, days=DAYS, events=400, export_share=0.02
    )
    generate(spec, root / "generated")
    landing = root / "generated" / "landing"
    days = sorted({file_day(p) for p in landing.rglob("*") if p.is_file()})
    assert len(days) == DAYS
    config = load_config(new_project(root / "serial"))
    arrive(landing, root / "serial")
    run_stage(spark, config, "ingest")
    shutil.copytree(config.paths.warehouse, root / "ingested")
    run_stage(spark, config, "attribute")
    shutil.copytree(config.paths.warehouse, root / "attributed")
    return Safety(landing, days, root / "ingested", root / "attributed")


def cli_env() -> dict[str, str]:
    """The environment of a ``groupetl`` subprocess: this checkout's package first."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), *sys.path])}


def groupetl_argv(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "groupetl.cli", "--config", str(config), *args]


def wait_until_stale(warehouse: Path, timeout: float = 60) -> None:
    """Wait until the lease a killed command left is stale: its Spark JVM, which outlives the
    killed Python process by a moment and could still commit, has ended too."""
    deadline = time.monotonic() + timeout
    while (held := lease.read_holder(warehouse)) and lease.stale_reason(held) is None:
        assert time.monotonic() < deadline, f"the killed run's JVM still runs: {held}"
        time.sleep(0.1)
