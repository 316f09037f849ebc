"""A full or read-only warehouse disk: one line, the tables as they were, a clean rerun.

The warehouse lives on a real small disk (a tmpfs mounted for the test, so it needs root and
is skipped otherwise). The landing files are the shared generated project of issue 18's tests
(tests/safety_data.py, six days, built once per session). Day 1 is ingested with room; the disk
is then shrunk to what is used plus a little, days 2-6 arrive, and a real ``groupetl ingest``
process runs out of space in its bronze write. Its error is one line naming the warehouse; the
silver, quarantine and ledger tables are as they were (bronze may keep the interrupted batch's
file rows, which mark it for the next run's recovery: docs/architecture.md "Write order and
crash safety"). With room again, the next ingest gives the tables of a serial run (the shared
``safety.ingested`` warehouse: every file ingested in one batch, same config but for the
warehouse's path). Remounted read-only, ingest stops before Spark with one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from groupetl import tables
from groupetl.cli import main
from groupetl.config import load_config
from groupetl.pipeline import run_stage
from groupetl.schemas import T
from safety_data import CONFIG
from test_run import arrive, assert_same_tables

REPO = Path(__file__).resolve().parent.parent
UNCHANGED = (T.SILVER_RECORDS, T.SILVER_EVENTS, T.SILVER_GROUP_ASSIGNMENTS, T.INGEST_BATCHES)


def _mount(disk: Path, options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(disk)], capture_output=True, text=True
    )


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MB tmpfs at ``tmp_path/disk``, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small disk needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = _mount(disk, "size=64m")
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _remount(disk: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(disk)], check=True)


def _project(folder: Path, warehouse: Path) -> Path:
    """The shared project's config with its warehouse at ``warehouse``."""
    folder.mkdir(parents=True)
    path = folder / "disk.yaml"
    text = CONFIG.replace("paths: {root: data}", f"paths: {{root: data, warehouse: {warehouse}}}")
    assert text != CONFIG
    path.write_text(text)
    return path


@pytest.mark.slow
def test_a_full_then_read_only_warehouse_disk(spark, safety, tmp_path, small_disk):
    generated, days = safety.landing, safety.days
    path = _project(tmp_path / "p", small_disk / "warehouse")
    config = load_config(path)
    arrive(generated, path.parent, days[0])
    run_stage(spark, config, "ingest")
    versions = {t: tables.version(spark, config.paths.table(t)) for t in UNCHANGED}

    stat = os.statvfs(small_disk)  # what the disk counts: whole pages per file
    used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
    # days 2-6 take about 215 KB of pages in bronze alone (80 KB bronze/files, 135 KB
    # bronze/records, measured with room), so the write fails in bronze, before silver
    _remount(small_disk, f"size={used + (96 << 10)}")
    for day in days[1:]:
        arrive(generated, path.parent, day)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), *sys.path])}
    full = subprocess.run(
        [sys.executable, "-m", "groupetl.cli", "--config", str(path), "ingest"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert full.returncode == 1, full.stderr[-3000:]
    assert full.stderr.splitlines()[-1] == (
        f"error: stage ingest failed: cannot write to the warehouse {config.paths.warehouse}: "
        "No space left on device; the failed commit wrote nothing, and the next run of the "
        "stage completes it once there is room"
    )
    assert {t: tables.version(spark, config.paths.table(t)) for t in UNCHANGED} == versions

    _remount(small_disk, "size=64m")
    rerun = CliRunner().invoke(main, ["--config", str(path), "ingest"])
    assert rerun.exit_code == 0, rerun.output
    assert_same_tables(spark, config.paths.warehouse, safety.ingested)

    _remount(small_disk, "ro")
    read_only = CliRunner().invoke(main, ["--config", str(path), "ingest"])
    assert read_only.exit_code == 1
    assert read_only.stderr == (
        f"error: cannot write to the warehouse {config.paths.warehouse}: Read-only file system; "
        "nothing was changed\n"
    )
