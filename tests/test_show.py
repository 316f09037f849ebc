"""``groupetl show`` and ``--as-of-time`` on the read commands: Delta time travel from the CLI.

A tiny project is ingested and attributed twice (two landing files, two runs), so
``silver/events`` has a version with one event and a later one with two.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from click.testing import CliRunner

from groupetl.catalog import list_tables
from groupetl.cli import main
from groupetl.config import load_config
from groupetl.pipeline import run_stage

CONFIG = """\
project: show
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name}
"""


def _body(insert_id: str, when: str, plan: str) -> str:
    ms = int(dt.datetime.fromisoformat(when + "+00:00").timestamp() * 1000)
    events = [
        {"event_type": "Login", "user_id": "user-1", "time": ms, "insert_id": insert_id,
         "groups": {"company": "100"}},
        {"event_type": "$groupidentify", "user_id": "user-1", "time": ms - 1,
         "insert_id": f"gi-{insert_id}", "groups": {"company": "100"},
         "group_properties": {"$set": {"plan": plan, "Account Name": "Acme"}}},
    ]  # fmt: skip
    return json.dumps({"api_key": "test-key", "events": events}) + "\n"


@pytest.fixture(scope="module")
def project(spark, tmp_path_factory):
    folder = tmp_path_factory.mktemp("show")
    path = folder / "project.yaml"
    path.write_text(CONFIG)
    config = load_config(path)
    http = config.paths.landing / "amplitude_http"
    http.mkdir(parents=True)
    (http / "http_2026-01-01_001.json").write_text(_body("e-1", "2026-01-01 10:00:00", "trial"))
    run_stage(spark, config, "ingest")
    run_stage(spark, config, "attribute")
    first = {t.name: t.version for t in list_tables(config)}["silver/events"]
    time.sleep(1.5)  # commit times are kept in milliseconds: leave a clear gap between runs
    between = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    time.sleep(1.5)
    (http / "http_2026-01-02_001.json").write_text(_body("e-2", "2026-01-02 10:00:00", "paid"))
    run_stage(spark, config, "ingest")
    run_stage(spark, config, "attribute")
    return path, between, first


def show(path, *args: str):
    return CliRunner().invoke(main, ["--config", str(path), "show", *args])


@pytest.mark.spark
def test_without_a_table_it_lists_tables_and_versions(project):
    path, *_ = project
    result = show(path, "--format", "json")
    assert result.exit_code == 0, result.output
    versions = {r["table"]: r["version"] for r in json.loads(result.stdout)}
    assert {"silver/events", "silver/attributed_events", "bronze/files"} <= set(versions)
    assert versions["silver/events"] >= 1
    table = show(path).stdout.splitlines()
    assert table[0].split() == ["table", "version", "committed_at"]
    assert any(
        line.split()[:2] == ["silver/events", str(versions["silver/events"])] for line in table
    )


@pytest.mark.spark
def test_as_of_version_reads_an_earlier_state(project):
    path, *_ = project
    now = show(path, "silver/events", "--columns", "insert_id", "--format", "json")
    assert sorted(r["insert_id"] for r in json.loads(now.stdout)) == ["e-1", "e-2"]
    _, _, version = project
    args = ["--as-of-version", str(version), "--columns", "insert_id", "--format", "csv"]
    first = show(path, "events", *args)
    assert first.exit_code == 0, first.output
    assert first.stdout.split() == ["insert_id", "e-1"]


@pytest.mark.spark
def test_as_of_time_reads_the_state_between_the_runs(project):
    path, between, _ = project
    result = show(path, "current_group_properties", "--as-of-time", between, "--format", "json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert json.loads(row["properties"]["plan"]) == "trial"
    latest = json.loads(show(path, "current_group_properties", "--format", "json").stdout)
    assert json.loads(latest[0]["properties"]["plan"]) == "paid"


@pytest.mark.spark
def test_account_view_as_of_time(project):
    path, between, _ = project
    args = ["--config", str(path), "account", "company", "100", "--now", "2026-01-05"]
    then = CliRunner().invoke(main, [*args, "--as-of-time", between, "--format", "json"])
    assert then.exit_code == 0, then.output
    assert json.loads(then.stdout)["properties"]["plan"] == "trial"
    now = CliRunner().invoke(main, [*args, "--format", "json"])
    assert json.loads(now.stdout)["properties"]["plan"] == "paid"


@pytest.mark.spark
def test_history_lists_one_version_per_write(project):
    path, *_ = project
    result = show(path, "silver/attributed_events", "--history", "--format", "json")
    assert result.exit_code == 0, result.output
    versions = [r["version"] for r in json.loads(result.stdout)]
    assert versions == sorted(versions, reverse=True) and versions[-1] == 0


@pytest.mark.spark
@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["nope"], "no table 'nope'", 2),  # the arguments alone say so: exit 2
        (["events", "--as-of-version", "1", "--as-of-time", "2026-01-01"], "not together", 2),
        (["events", "--as-of-version", "999"], "silver/events has versions 0 to", 1),
        (["events", "--as-of-time", "2001-01-01 00:00:00"], "cannot read it as of 2001-01-01", 1),
        (["events", "--where", "no_such_column = 1"], "silver/events: ", 1),
    ],
)
def test_bad_requests_are_one_line_errors(project, args, message, code):
    path, *_ = project
    result = show(path, *args)
    assert result.exit_code == code
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
