"""A stage killed with SIGKILL at any point, then run again, leaves an uninterrupted run's tables.

The kill comes from outside, like a real one: a watcher polls the warehouse while a real
``groupetl attribute`` process runs and kills it (SIGKILL) at a chosen point of its Delta
commits: before its first commit, while a commit's data files are being written (new Parquet
files, no new log entry yet), and right after a commit, including the one before the last
(the ledger). No hook in the code under test. Then the same command runs again (in this
process, through the CLI: it takes over the dead process's lease) and every bronze, silver,
quarantine and gold table must equal, row for row, the tables of a run that was never killed
(tests/test_run.py's comparison; ``attributed_at`` aside). The points actually hit are in the
assertion messages: the watcher polls every 20 ms, so "after commit k" is the first poll that
saw k commits. Three points: during the first commit (nothing committed yet), during a middle
one, and after the one before the last (the ledger's). The ingested warehouse and the
uninterrupted run's tables are the session's shared ones (tests/safety_data.py).

Only ``attribute`` is covered here (issue 18 asks for every stage: see the report of this
branch for the plan); ingest has its own crash tests (tests/test_ingest_run.py).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from groupetl.cli import main
from groupetl.config import load_config
from safety_data import cli_env, groupetl_argv, new_project, wait_until_stale
from test_run import assert_same_tables


def _commits(warehouse: Path) -> set[Path]:
    return set(warehouse.rglob("_delta_log/*.json"))


def _data_files(warehouse: Path) -> set[Path]:
    return {p for p in warehouse.rglob("*.parquet") if "_delta_log" not in p.parts}


def kill_at(argv: list[str], warehouse: Path, commits: int, during: bool) -> int:
    """Run ``argv``; SIGKILL it once ``commits`` new commits exist (``during``: and the next
    commit's first data file). Returns the new commits when its Spark JVM, which outlives it
    by a moment, has ended too (the lease it left then turns stale)."""
    known, files = _commits(warehouse), _data_files(warehouse)
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=cli_env())
    seen = 0
    while proc.poll() is None:
        seen = len(_commits(warehouse) - known)
        if seen >= commits and (not during or _data_files(warehouse) - files):
            proc.send_signal(signal.SIGKILL)
            break
        if seen < commits:
            files = _data_files(warehouse)  # data files of commits before the point
        time.sleep(0.02)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL, f"finished before the point: {stderr[-2000:]}"
    wait_until_stale(warehouse)
    return len(_commits(warehouse) - known)


@pytest.mark.slow
def test_attribute_killed_anywhere_then_rerun_equals_an_uninterrupted_run(spark, safety, tmp_path):
    config_path = new_project(tmp_path / "p")
    warehouse = load_config(config_path).paths.warehouse
    total = len(_commits(safety.attributed)) - len(_commits(safety.ingested))
    assert total >= 4, "attribute commits to several tables"

    argv = groupetl_argv(config_path, "attribute")
    # during its first commit (so before any), during a middle one, after the one before last
    points = [(0, True), (total // 2, True), (total - 1, False)]
    for commits, during in points:
        shutil.rmtree(warehouse, ignore_errors=True)
        shutil.copytree(safety.ingested, warehouse)
        hit = kill_at(argv, warehouse, commits, during)
        where = f"killed {'during' if during else 'after'} commit {commits} (hit: {hit} of {total})"
        assert hit < total, where
        rerun = CliRunner().invoke(main, ["--config", str(config_path), "attribute"])
        assert rerun.exit_code == 0, f"{where}: {rerun.output}"
        assert "note: took over the warehouse lease" in rerun.stderr, where
        try:
            assert_same_tables(spark, warehouse, safety.attributed)
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}") from None
