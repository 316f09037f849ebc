"""Operator mistakes get one line, a documented exit code, and no JVM (issue 18).

Every case runs the real CLI (or a ``jobs/`` entry point) as a process whose ``java`` only leaves
a marker file (the trick of tests/test_jvm_free.py): the exact message and exit code are
asserted, and the marker proves no Spark session was started. Spark-free, so it runs in seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fakes import fake_java, holder, plant
from groupetl import lease
from groupetl.config import load_config

REPO = Path(__file__).resolve().parent.parent
CONFIG = """\
project: shop
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name}
"""


@pytest.fixture
def no_java(tmp_path):
    """(env, marker): JAVA_HOME and PATH lead to a ``java`` that writes ``marker`` and fails."""
    env, marker = fake_java(tmp_path / "fake-java")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    return env, marker


def _run(no_java, argv: list[str]) -> subprocess.CompletedProcess:
    env, marker = no_java
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert not marker.exists(), f"a JVM was started by {argv}: {result.stderr}"
    return result


def cli(no_java, config: Path, *args: str) -> subprocess.CompletedProcess:
    return _run(no_java, [sys.executable, "-m", "groupetl.cli", "--config", str(config), *args])


def _one_line(result: subprocess.CompletedProcess, code: int, message: str) -> None:
    assert result.returncode == code, result.stderr
    assert result.stderr == message + "\n"
    assert result.stdout == ""


def _project(tmp_path: Path, text: str = CONFIG, landing: bool = True) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    if landing:
        (tmp_path / "data" / "landing").mkdir(parents=True)
    return path


# ---- config and arguments: exit 2 -------------------------------------------------------


def test_config_that_is_not_utf8_names_line_and_byte(tmp_path, no_java):
    path = tmp_path / "shop.yaml"
    path.write_bytes(CONFIG.encode() + "# caf\xe9 au lait\n".encode("latin-1"))
    result = cli(no_java, path, "ingest")
    _one_line(
        result, 2, f"error: {path}:5: not UTF-8 text: byte 0xe9 at column 6; save the file as UTF-8"
    )


def test_config_in_utf16_is_not_a_traceback(tmp_path, no_java):
    path = tmp_path / "shop.yaml"
    path.write_bytes(CONFIG.encode("utf-16"))
    result = cli(no_java, path, "show-config")
    _one_line(
        result, 2, f"error: {path}:1: not UTF-8 text: byte 0xff at column 1; save the file as UTF-8"
    )


@pytest.mark.parametrize(
    ("spark", "line", "message"),
    [
        ("driver_memory: lots", 6, "spark.driver_memory: expected a memory size such as 4g or "
         "512m (a whole number and k, m, g or t); found 'lots'"),
        ("driver_memory: 2gb", 6, "spark.driver_memory: expected a memory size such as 4g or "
         "512m (a whole number and k, m, g or t); found '2gb'"),
        ("driver_memory: 64m", 6, "spark.driver_memory: Spark's driver needs at least 512m; "
         "found '64m'"),
        ("master: locale[4]", 6, "spark.master: expected local, local[N], local[*], "
         "spark://HOST:PORT, yarn or k8s://URL; found 'locale[4]'"),
    ],
)  # fmt: skip
def test_spark_settings_are_validated_at_load(tmp_path, no_java, spark, line, message):
    path = _project(tmp_path, CONFIG + f"spark:\n  {spark}\n")
    _one_line(cli(no_java, path, "ingest"), 2, f"error: {path}:{line}: {message}")


def test_unknown_qa_severity_id_fails_at_start_not_at_the_qa_step(tmp_path, no_java):
    path = _project(tmp_path, CONFIG + "qa:\n  severity:\n    silver.events.typo: warning\n")
    result = cli(no_java, path, "run", "--date", "2026-01-08")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(
        f"error: {path}:7: qa.severity.silver.events.typo: unknown expectation id; known ids: "
    )
    assert result.stderr.count("\n") == 1 and "silver.events.event_type_not_null" in result.stderr


@pytest.mark.parametrize("memory", ["512m", "4g", "16G", "1t", "524288k"])
def test_memory_sizes_spark_takes_are_accepted(tmp_path, memory):
    path = _project(tmp_path, CONFIG + f"spark:\n  driver_memory: {memory}\n", landing=False)
    assert load_config(path).spark.driver_memory == memory


@pytest.mark.parametrize("args", [["ingest"], ["run", "--date", "2026-01-08"]])
def test_missing_landing_folder_is_an_error_not_an_empty_ingest(tmp_path, no_java, args):
    path = _project(tmp_path, landing=False)
    landing = (tmp_path / "data" / "landing").resolve()
    _one_line(
        cli(no_java, path, *args),
        2,
        f"error: the landing folder {landing} does not exist (paths.landing of {path}); create "
        "it, or set paths.landing to the folder files arrive in",
    )
    assert not (tmp_path / "data" / "warehouse").exists()  # nothing written, not even a lease


def test_missing_landing_folder_fails_the_ingest_job_too(tmp_path, no_java):
    path = _project(tmp_path, landing=False)
    result = _run(no_java, [sys.executable, "jobs/ingest.py", "--config", str(path)])
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: the landing folder ")
    assert result.stderr.count("\n") == 1


def test_bad_date_of_the_run_job_is_exit_2(tmp_path, no_java):
    path = _project(tmp_path)
    result = _run(no_java, [sys.executable, "jobs/run.py", "--config", str(path), "--date", "x"])
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")


# ---- another writer holds the warehouse: exit 75 -----------------------------------------


def _hold(tmp_path: Path) -> tuple[str, lease.Holder]:
    """A lease held by this (live) test process, as another command would hold it."""
    now = dt.datetime(2026, 12, 7, 12, 3, 5, tzinfo=dt.timezone.utc)
    held = holder(now, dt.timedelta(days=3650), token="held-by-the-test")
    warehouse = (tmp_path / "data" / "warehouse").resolve()
    plant(warehouse, held)
    message = (
        f"error: another ingest of project shop holds the warehouse {warehouse} since "
        f"2026-12-07 12:03:05 UTC (pid {os.getpid()} on host {socket.gethostname()}); run again "
        "when it has finished"
    )
    return message, held


WRITERS = [
    ["ingest"],
    ["attribute"],
    ["run", "--date", "2026-01-08"],
    ["report"],
    ["retention"],
    ["cohort", "compute", "--as-of", "2026-01-08"],
    ["dynamic-properties", "--date", "2026-01-08"],
    ["crm-sync", "--date", "2026-01-08"],
    ["qa"],
    ["demo"],
]


@pytest.mark.parametrize("args", WRITERS, ids=[" ".join(a[:2]) for a in WRITERS])
def test_every_writing_command_yields_to_the_lease_holder(tmp_path, no_java, args):
    path = _project(tmp_path)
    message, held = _hold(tmp_path)
    _one_line(cli(no_java, path, *args), 75, message)
    lease_file = tmp_path / "data" / "warehouse" / lease.LEASE_FILE
    assert json.loads(lease_file.read_text())["token"] == held.token  # left alone


@pytest.mark.parametrize("job", [["jobs/ingest.py"], ["jobs/attribute.py"], ["jobs/run.py"]])
def test_the_jobs_yield_to_the_lease_holder(tmp_path, no_java, job):
    path = _project(tmp_path)
    message, _ = _hold(tmp_path)
    argv = [sys.executable, *job, "--config", str(path), "--date", "2026-01-08"]
    result = _run(no_java, argv)
    assert result.returncode == 75, result.stderr
    assert result.stderr == message + "\n"


def test_read_only_commands_do_not_wait_for_the_lease(tmp_path, no_java):
    path = _project(tmp_path)
    _hold(tmp_path)
    result = cli(no_java, path, "show", "events")
    assert result.returncode == 2  # no such table yet: answered, not refused as busy
    assert "another ingest" not in result.stderr


def test_a_warehouse_that_cannot_be_written_is_one_line_before_spark(tmp_path, no_java):
    # tests run as root, for whom permissions stop nothing: /sys refuses every new folder
    text = CONFIG.replace("paths: {root: data}", "paths: {root: data, warehouse: /sys/gx-wh}")
    path = _project(tmp_path, text)
    _one_line(
        cli(no_java, path, "ingest"),
        1,
        "error: cannot write to the warehouse /sys/gx-wh: Operation not permitted; nothing was "
        "changed",
    )
