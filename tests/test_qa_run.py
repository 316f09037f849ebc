"""``run_qa`` end to end on Delta tables: a missing table is a clear failed check (not a crash),
results land in the QA results table, and the Data Docs render in headless Chromium offline.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest

from groupetl import schemas, tables
from groupetl.config import ProjectConfig, load_config
from groupetl.qa.report import EXIT_QA_FAILED, QaResult
from groupetl.qa.runner import QA_RESULTS, run_qa
from groupetl.schemas import T

pytestmark = pytest.mark.spark

DAY = dt.datetime(2026, 1, 2, 9, 30)
CHROMIUM = Path("/usr/bin/chromium")
CONFIG = """\
project: qa_run
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name, value_format: numeric}
tracking_plan:
  events: [Login]
"""


def write_clean_project_without_bronze(spark, config: ProjectConfig) -> None:
    """A clean project as ingest leaves it (no empty table is written: no quarantine, no
    duplicates, no assignments), except that its bronze table is missing."""
    rows = {
        T.SILVER_EVENTS: (
            schemas.SILVER_EVENTS,
            [("e1", DAY, DAY.date(), "Login", "user-0001", "user-0001", None, "i1", {},
              {"company": ["42"]}, "amplitude", "http_v2", None, "a.json", 1, 0, "b1")],
        ),
        T.SILVER_GROUP_PROPERTY_OPS: (
            schemas.SILVER_GROUP_PROPERTY_OPS,
            [("r2", DAY, "company", "42", "$set", "Account Name", '"Acme"', "group_identify",
              "amplitude", "group_identify", None, "a.json", 1, 1, "b1")],
        ),
        T.SILVER_RECORDS: (
            schemas.SILVER_RECORDS,
            [("r1", "event", DAY, "user-0001", "i1", "amplitude", "http_v2", None, "a.json", 1, 0,
              "b1")],
        ),
    }  # fmt: skip
    for name, (schema, data) in rows.items():
        tables.append(spark.createDataFrame(data, schema), config.paths.table(name))


@pytest.fixture(scope="module")
def run(spark, tmp_path_factory) -> tuple[ProjectConfig, QaResult, list[str]]:
    root = tmp_path_factory.mktemp("qa_run")
    (root / "qa_run.yaml").write_text(CONFIG)
    config = load_config(root / "qa_run.yaml")
    write_clean_project_without_bronze(spark, config)
    progress: list[str] = []
    result = run_qa(spark, config, data_docs_dir=root / "docs", progress=progress.append)
    return config, result, progress


def test_missing_table_is_a_failed_check_naming_it(run) -> None:
    _, result, _ = run
    failed = {o.expectation: o for o in result.outcomes if not o.passed}
    assert set(failed) == {"tables.ingest_tables_exist", "tables.attribution_tables_exist"}
    assert failed["tables.ingest_tables_exist"].samples == (T.BRONZE_RECORDS,)
    assert failed["tables.attribution_tables_exist"].severity == "warning"
    assert set(failed["tables.attribution_tables_exist"].samples) == {
        T.MEMBERSHIP_HISTORY, T.CURRENT_GROUP_PROPERTIES, T.ATTRIBUTED_EVENTS,
    }  # fmt: skip
    assert result.exit_code == EXIT_QA_FAILED


def test_suites_over_missing_tables_are_skipped_and_the_others_run(run) -> None:
    _, result, progress = run
    assert result.skipped == (
        f"bronze.records: table {T.BRONZE_RECORDS} missing",
        f"silver.membership_history: table {T.MEMBERSHIP_HISTORY} missing",
        f"silver.attributed_events: table {T.ATTRIBUTED_EVENTS} missing",
    )
    assert result.outcome("silver.group_names.every_group_named").passed
    assert result.outcome("silver.record_outcomes.quarantine_rate_within_max").observed == "0"
    assert "[qa] silver.events: 7 expectations, 0 failed" in progress
    assert progress[-1].startswith("[qa] QA qa_run qa-")


def test_results_are_recorded_one_row_per_expectation(spark, run) -> None:
    config, result, _ = run
    stored = tables.read(spark, config.paths.table(QA_RESULTS), schemas.QA_RESULTS)
    rows = {r["expectation"]: r for r in stored.filter(stored.run_id == result.run_id).collect()}
    assert set(rows) == {o.expectation for o in result.outcomes}
    row = rows["tables.ingest_tables_exist"]
    assert (row["project"], row["suite"], row["severity"], row["success"]) == (
        "qa_run", "tables", "error", False,
    )  # fmt: skip
    assert row["samples"] == [T.BRONZE_RECORDS] and row["observed"] == "1 of 5 rows"
    assert result.stage.tables == [QA_RESULTS]
    assert result.stage.counts["failed_errors"] == 1


def _chromium(*args: str, page: Path, tmp: Path) -> subprocess.CompletedProcess:
    """Headless Chromium on a local page, with the network cut when ``unshare -n`` works."""
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={tmp / 'profile'}", "--window-size=1200,900",
        *args, page.as_uri(),
    ]  # fmt: skip
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        command = [unshare, "-n", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_data_docs_render_offline_in_headless_chromium(run, tmp_path: Path) -> None:
    _, result, _ = run
    index = result.data_docs_index
    dom = _chromium("--dump-dom", page=index, tmp=tmp_path).stdout
    for suite in {o.suite for o in result.outcomes}:
        assert f">{suite}</a>" in dom, suite
    assert "tables.ingest_tables_exist" in dom and "FAIL" in dom
    # GX's own validation pages are rendered server-side: they show our ids without network.
    page = next(index.parent.glob("validations/**/*.html"))
    assert "[error]" in _chromium("--dump-dom", page=page, tmp=tmp_path).stdout
    shot = tmp_path / "index.png"
    _chromium(f"--screenshot={shot}", page=index, tmp=tmp_path)
    assert shot.stat().st_size > 10_000
