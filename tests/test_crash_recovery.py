"""A stage killed with SIGKILL at any point, then run again, leaves an uninterrupted run's tables.

The kill comes from outside, like a real one: a watcher polls the warehouse while a real
``groupetl ingest`` (or ``groupetl attribute``) process runs and kills it (SIGKILL) at a chosen point of its Delta
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

Ingest starts from an empty warehouse with every generated file in its landing, attribute from
the ingested warehouse. The second test does the same for every dated stage (CRM sync, dynamic
properties, report, retention, cohorts), each from the warehouse the previous one left; ingest
also has a crash test at its own ledger points (tests/test_ingest_run.py).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from groupetl.cli import main
from groupetl.config import load_config
from groupetl.pipeline import job_main
from safety_data import REPO, cli_env, groupetl_argv, new_project, wait_until_stale
from test_run import CONFIG, arrive, assert_same_tables, collect_multiset, data_tables


def _commits(warehouse: Path) -> set[Path]:
    """The warehouse's Delta commits, the run log's aside (every command logs its run there)."""
    return {p for p in warehouse.rglob("_delta_log/*.json") if "run_log" not in p.parts}


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
@pytest.mark.parametrize("command", ["ingest", "attribute"])
def test_killed_anywhere_then_rerun_equals_an_uninterrupted_run(spark, safety, tmp_path, command):
    # ingest: every generated file, from an empty warehouse, to the serial run's ingested one;
    # attribute: from that warehouse to the attributed one
    start, reference = {
        "ingest": (None, safety.ingested),
        "attribute": (safety.ingested, safety.attributed),
    }[command]
    total = len(_commits(reference)) - (len(_commits(start)) if start else 0)
    assert total >= 4, f"{command} commits to several tables"

    # during its first commit (so before any), during a middle one, after the one before last
    points = [(0, True), (total // 2, True), (total - 1, False)]
    for i, (commits, during) in enumerate(points):
        # a project folder per point: this session's Delta caches each table's log by path, and
        # a rerun here on a warehouse replaced on disk would read the previous point's log
        config_path = new_project(tmp_path / f"p{i}")
        arrive(safety.landing, config_path.parent)
        warehouse = load_config(config_path).paths.warehouse
        argv = groupetl_argv(config_path, command)
        if start:
            shutil.copytree(start, warehouse)
        hit = kill_at(argv, warehouse, commits, during)
        where = f"killed {'during' if during else 'after'} commit {commits} (hit: {hit} of {total})"
        assert hit < total, where
        rerun = CliRunner().invoke(main, ["--config", str(config_path), command])
        assert rerun.exit_code == 0, f"{where}: {rerun.output}"
        assert "note: took over the warehouse lease" in rerun.stderr, where
        try:
            assert_same_tables(spark, warehouse, reference)
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}") from None


# --- the dated stages, each as its own job (`jobs/<stage>.py --date D`) ---

# The shared project plus test_run's dated sections (dynamic property, CRM export synced
# daily, reports, retention, a cohort).
DATED = (
    "dynamic_properties:"
    + CONFIG.format(project="", plan_severity="").split("dynamic_properties:", 1)[1]
)


def _dated_project(folder: Path, landing: Path, date) -> Path:
    """A project with every dated stage, the generated files and a CRM export in its landing."""
    config_path = new_project(folder)
    config_path.write_text(config_path.read_text() + DATED)
    arrive(landing, folder)
    crm = folder / "data" / "landing" / "crm"
    crm.mkdir(parents=True)
    rows = "".join(f"{1000 + i},tier{i % 3}\n" for i in range(1, 7))
    (crm / f"accounts_{date}.csv").write_text("Account Number,Tier\n" + rows)
    return config_path


# The dated stages in the order a date runs them; the second attribute pass (covered above as
# `attribute`) and the QA gate (no table of its own beyond ops/) are left out: each stage's
# uninterrupted reference starts from the warehouse the previous one left.
DATED_STAGES = ("crm_sync", "dynamic_properties", "report", "retention", "cohorts")


def _job(stage: str, config: Path, date) -> list[str]:
    return [sys.executable, str(REPO / "jobs" / f"{stage}.py"), "--config", str(config),
            "--date", str(date)]  # fmt: skip


def _changed_tables(warehouse: Path, before: Path) -> set[str]:
    """The compared tables whose commits differ from those of the warehouse ``before``."""

    def log(root: Path, table: str) -> set[str]:
        return {p.name for p in (root / table / "_delta_log").glob("*.json")}

    tables = set(data_tables(warehouse)) | set(data_tables(before))
    return {t for t in tables if log(warehouse, t) != log(before, t)}


@pytest.mark.slow
def test_dated_stages_killed_anywhere_then_rerun_equal_an_uninterrupted_run(
    spark, safety, tmp_path
):
    """Every dated stage (CRM sync, dynamic properties, report, retention, cohorts), run as
    its own ``jobs/<stage>.py --date D`` process from the warehouse the previous stage left,
    killed during its first commit (so before any) and after the one before its last; rerun
    (in this process); its tables must equal those of the uninterrupted stage. Only the tables
    either run changed are compared (the others are the same files). A middle point as well
    was run and passed once (15 kills, 688 s); two per stage keep the suite's budget."""
    date = safety.days[-1]
    config_path = _dated_project(tmp_path / "p", safety.landing, date)
    warehouse = load_config(config_path).paths.warehouse
    shutil.copytree(safety.attributed, warehouse)
    states = {DATED_STAGES[0]: tmp_path / "before" / DATED_STAGES[0]}
    shutil.copytree(warehouse, states[DATED_STAGES[0]])
    for i, stage in enumerate(DATED_STAGES):  # the uninterrupted reference, stage by stage
        assert job_main(stage, ["--config", str(config_path), "--date", str(date)]) == 0, stage
        after = tmp_path / "before" / (DATED_STAGES[i + 1] if i + 1 < len(DATED_STAGES) else "end")
        shutil.copytree(warehouse, after)
        states[after.name] = after
    names = [*DATED_STAGES, "end"]

    for stage, before, expected in zip(DATED_STAGES, names, names[1:], strict=False):
        before, expected = states[before], states[expected]
        total = len(_commits(expected)) - len(_commits(before))
        assert total >= 2, f"{stage} commits {total} times"
        for commits, during in ((0, True), (total - 1, False)):
            where = f"{stage} killed {'during' if during else 'after'} commit {commits}"
            # a new project folder each time: this session's Delta caches a table's log by path
            config_path = _dated_project(
                tmp_path / f"{stage}-{commits}-{during}", safety.landing, date
            )
            warehouse = load_config(config_path).paths.warehouse
            shutil.copytree(before, warehouse)
            hit = kill_at(_job(stage, config_path, date), warehouse, commits, during)
            assert hit < total, f"{where}: hit {hit} of {total}"
            assert job_main(stage, ["--config", str(config_path), "--date", str(date)]) == 0, where
            changed = _changed_tables(warehouse, before) | _changed_tables(expected, before)
            differing = [
                t
                for t in sorted(changed)
                if collect_multiset(spark, warehouse / t) != collect_multiset(spark, expected / t)
            ]
            assert not differing, f"{where} (hit {hit} of {total}): {differing} differ"
