"""The read-only commands without a JVM: same answers as Spark, checks before Spark, data dates.

One small warehouse is written by the real pipeline (generated raw files -> ingest ->
attribute -> report, on the shared Spark session). Then:
- delta-rs + DuckDB reads (show, history, time travel, lookup, account, funnel microscope) are
  compared with the Spark reads of the same tables;
- the CLI runs as a separate process with a ``java`` that only leaves a marker file, and
  ``JAVA_HOME`` pointing at it: the read commands answer, the bad arguments fail with one line
  and exit 2, and the marker proves no JVM was ever launched;
- dates default to the latest event date, and an empty lookup says why.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter

import pytest

from fakes import fake_java
from groupetl import asof, catalog, tables
from groupetl.config import load_config
from groupetl.generate import GeneratorSpec, generate
from groupetl.lookup import account_view, duck, lookup, lookup_rows
from groupetl.pipeline import run_stage
from groupetl.reports import MicroscopePoint, load_reports, microscope
from groupetl.reports.stored import funnel_point_rows
from groupetl.schemas import C, T

CONFIG = """\
project: jvmfree
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name, value_format: numeric}
  - {name: workspace, name_property: Workspace Name}
reports:
  - name: weekly_active_companies_by_region
    kind: segmentation
    group_type: company
    interval: week
    segment_by: group.region
  - name: invoice_to_payment
    kind: funnel
    group_type: company
    steps: [Send Invoice, Pay Invoice]
    window: 7 days
    breakdown: group.plan
cohorts:
  - name: Report creators
    group_type: company
    window: {last_days: 30}
    rule: {event: Create Report, at_least: 1}
"""
SPEC = GeneratorSpec(seed=5, companies=8, users_per_company=4, days=6, events=2_500)


@pytest.fixture(scope="module")
def project(spark, tmp_path_factory):
    """(config path, config) of a warehouse written by ingest, attribute and report."""
    folder = tmp_path_factory.mktemp("jvmfree")
    path = folder / "project.yaml"
    path.write_text(CONFIG)
    config = load_config(path)
    generate(SPEC, config.paths.root)
    for stage in ("ingest", "attribute", "report", "cohorts"):  # cohorts: no date given
        run_stage(spark, config, stage)
    return path, config


def _bag(rows):
    """Rows as a multiset of their sorted items (order-free comparison)."""
    return Counter(json.dumps(r, sort_keys=True, default=str) for r in rows)


# ---- same answers as Spark ----------------------------------------------------------------


@pytest.mark.spark
@pytest.mark.parametrize(
    "table",
    [T.ATTRIBUTED_EVENTS, T.GROUP_VERSIONS, T.CURRENT_GROUP_PROPERTIES, "gold/funnel_groups"],
)
def test_show_reads_the_rows_spark_reads(spark, project, table):
    _, config = project
    spark_rows = [
        r.asDict(recursive=True) for r in tables.read(spark, config.paths.table(table)).collect()
    ]
    columns, rows = catalog.read_rows(config, table, limit=1_000_000)
    assert columns == tables.read(spark, config.paths.table(table)).columns
    assert len(rows) == len(spark_rows) > 0
    assert _bag(rows) == _bag(spark_rows)


@pytest.mark.spark
def test_history_and_time_travel_match_spark(spark, project):
    from delta.tables import DeltaTable

    _, config = project
    path = config.paths.table(T.SILVER_EVENTS)
    spark_history = DeltaTable.forPath(spark, path).history().orderBy("version").collect()
    ours = sorted(catalog.history_rows(config, T.SILVER_EVENTS), key=lambda r: r["version"])
    assert [(r["version"], r["operation"]) for r in ours] == [
        (r.version, r.operation) for r in spark_history
    ]
    for version in (0, ours[-1]["version"]):
        spark_rows = tables.read(spark, path, as_of_version=version).select(C.EVENT_ID).collect()
        _, rows = catalog.read_rows(
            config, "events", as_of_version=version, columns=[C.EVENT_ID], limit=10**7
        )
        assert sorted(r[C.EVENT_ID] for r in rows) == sorted(r[0] for r in spark_rows)


@pytest.mark.spark
def test_lookup_and_account_match_spark(spark, project):
    _, config = project
    now = asof.latest_event_date(config)
    for query in ("plan = pro", "plan = free", "region = EU", "Account Name = nothing"):
        expected = lookup_rows(lookup(spark, config, "company", query, now))
        assert duck.lookup(config, "company", query, now) == expected, query
    assert duck.lookup(config, "company", "plan = pro", now), "the demo data has pro companies"
    groups = [r.group_value for r in spark.read.format("delta")
              .load(config.paths.table(T.CURRENT_GROUP_PROPERTIES))
              .filter("group_type = 'company'").select("group_value").limit(3).collect()]  # fmt: skip
    for group in groups:
        for day in (now, now - dt.timedelta(days=3)):
            expected = account_view(spark, config, "company", group, day, recent=15)
            assert duck.account_view(config, "company", group, day, recent=15) == expected


@pytest.mark.spark
def test_funnel_microscope_matches_spark(spark, project):
    _, config = project
    report = {r.name: r for r in load_reports(config)}["invoice_to_payment"]
    for point in (MicroscopePoint(step=1), MicroscopePoint(step=2), MicroscopePoint(dropoff=2)):
        spark_rows = microscope(spark, config, report, point).drop("computed_at").collect()
        ours = [{k: v for k, v in r.items() if k != "computed_at"}
                for r in funnel_point_rows(config, report, point)]  # fmt: skip
        assert _bag(ours) == _bag([r.asDict() for r in spark_rows]), point
    assert funnel_point_rows(config, report, MicroscopePoint(step=1))


@pytest.mark.spark
def test_decoded_text_in_python_equals_the_spark_expression(spark):
    from pyspark.sql import functions as F

    from groupetl import values
    from groupetl.cohorts.columns import decoded_text, list_items_text

    samples = [
        "5", "5.0", "10.50", "-0", "1e3", "2.5e-3", "1.5E-7", "12345678901234567890",
        '"x"', '"5"', "true", "false", "null", "Acme", " 5 ", "0.1", "100.000", '""',
        '["beta", "eu"]', '[1.50, "a", null, [2]]', '{"b": 1, "a": 2}', "[]", "{}", "01", "NaN",
    ]  # fmt: skip
    df = spark.createDataFrame([(v,) for v in samples], "v string")
    got = df.select(
        "v", decoded_text(F.col("v")).alias("d"), list_items_text(F.col("v")).alias("i")
    )
    for row in got.collect():
        assert values.decoded_text(row.v) == row.d, row.v
        assert values.list_items_text(row.v) == row.i, row.v


# ---- the CLI as a process: no JVM -------------------------------------------------------------


@pytest.fixture(scope="module")
def no_java(tmp_path_factory):
    """(env, marker): JAVA_HOME and PATH lead to a ``java`` that writes ``marker`` and fails."""
    env, marker = fake_java(tmp_path_factory.mktemp("fake-java"))
    env["COLUMNS"] = "200"
    return env, marker


def cli(no_java, config_path, *args):
    env, marker = no_java
    result = subprocess.run(
        [sys.executable, "-m", "groupetl.cli", "--config", str(config_path), *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert not marker.exists(), f"a JVM was started by {args}: {result.stderr}"
    return result


@pytest.mark.spark
def test_read_commands_answer_without_a_jvm(project, no_java):
    path, config = project
    latest = asof.latest_event_date(config)
    shown = cli(no_java, path, "show", "attributed_events", "--limit", "20", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert len(json.loads(shown.stdout)) == 20
    assert cli(no_java, path, "show", "events", "--history").returncode == 0
    found = cli(no_java, path, "lookup", "--group-type", "company", "plan = pro")
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[0] == (
        f"as of {latest}, the latest event date; use --now to change"
    )
    assert "groups)" in found.stdout
    group = json.loads(
        cli(
            no_java, path, "lookup", "--group-type", "company", "plan = pro", "--format", "json"
        ).stdout
    )[0]["group_value"]
    view = cli(no_java, path, "account", "company", group, "--format", "json")
    assert view.returncode == 0, view.stderr
    assert json.loads(view.stdout)["now"] == latest.isoformat()
    assert f"as of {latest}" in view.stderr
    scope = cli(no_java, path, "microscope", "invoice_to_payment", "--step", "1")
    assert scope.returncode == 0, scope.stderr
    assert scope.stdout.startswith("invoice_to_payment / step 1: ")


@pytest.mark.spark
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "attributed_event"], "error: no table 'attributed_event' in "),
        (["report", "--name", "nosuch"], "error: no report 'nosuch'; reports: "
         "invoice_to_payment, weekly_active_companies_by_region"),
        (["retention", "--name", "nosuch"], "error: no retention report 'nosuch'; "
         "retention reports: none configured"),
        (["microscope", "nosuch", "--step", "1"], "error: no report 'nosuch'; reports: "),
        (["microscope", "invoice_to_payment", "--step", "9"], "error: step must be 1 to 2; found 9"),
        (["cohort", "export", "nosuch", "--out", "x.txt"], "error: no cohort 'nosuch' in "),
        (["lookup", "--group-type", "team", "plan = paid"], "error: unknown group type 'team'; "
         "expected one of company, workspace"),
        (["cohort", "import", "c", "{config}", "--group-type", "team"],
         "error: unknown group type 'team'; expected one of company, workspace, user"),
        (["account", "company", "1", "--now", "2026-13-01"], "error: Invalid value for '--now': "),
        (["cohort", "compute", "--as-of", "yesterday"], "error: Invalid value for '--as-of': "),
        (["show", "events", "--as-of-time", "last week"], "error: --as-of-time: 'last week' is "
         "not a time"),
        (["run", "--from", "2026-01-05", "--to", "2026-01-01"], "error: --to 2026-01-01 is before "
         "--from 2026-01-05"),
        (["show", "events", "--as-of-version", "1", "--as-of-time", "2026-01-01"], "error: give "
         "--as-of-version and --as-of-time separately, not together"),
    ],
)  # fmt: skip
def test_bad_arguments_fail_in_one_line_with_exit_2_before_spark(project, no_java, args, message):
    path, _ = project
    result = cli(no_java, path, *[a.format(config=path) for a in args])
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(message), result.stderr
    assert result.stdout == ""


# ---- dates that follow the data, empty answers that say why ----------------------------------


@pytest.mark.spark
def test_latest_event_date_comes_from_the_data(spark, project):
    _, config = project
    events = tables.read(spark, config.paths.table(T.ATTRIBUTED_EVENTS))
    assert asof.latest_event_date(config) == events.agg({C.EVENT_DATE: "max"}).first()[0]
    assert asof.latest_event_date(config) < dt.date.today()  # generated data is in the past


@pytest.mark.spark
def test_an_empty_lookup_says_why(project, no_java):
    path, config = project
    latest = asof.latest_event_date(config)
    wrong_value = cli(no_java, path, "lookup", "--group-type", "company", "plan = platinum")
    assert wrong_value.returncode == 0
    assert "no matching groups" in wrong_value.stdout
    why = wrong_value.stdout.splitlines()[-1]
    assert why.startswith(f"no company had plan = platinum by {latest}; values: ")
    assert "pro" in why.split("values: ")[1].split(", ")
    no_property = duck.explain_empty(config, "company", "colour = red", latest)
    assert no_property.startswith("no company had a property 'colour' by ")
    assert "plan" in no_property and "region" in no_property
    later = latest + dt.timedelta(days=400)  # every group inactive for more than six months
    assert duck.lookup(config, "company", "plan = pro", later) == []
    inactive = duck.explain_empty(config, "company", "plan = pro", later)
    assert "but none was active from " in inactive
    assert f"the latest activity of any of them was on {latest}" in inactive


# ---- docs/reading-tables.md: the snippets run, the SQL helpers decode -----------------------


@pytest.mark.spark
def test_reading_tables_doc_snippets_run_on_a_real_warehouse(project, repo_root):
    import re

    _, config = project
    text = (repo_root / "docs" / "reading-tables.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 3  # DuckDB, polars, pandas
    for block in blocks:
        code = block.replace('"data/local/warehouse"', repr(str(config.paths.warehouse)))
        exec(compile(code, "docs/reading-tables.md", "exec"), {})


@pytest.mark.spark
def test_sql_command_decodes_properties_without_a_jvm(spark, project, no_java):
    path, config = project
    query = (
        "SELECT group_value, prop_text(properties, 'plan') AS plan, "
        "prop_number(properties, 'seats') AS seats FROM silver_current_group_properties "
        "WHERE group_type = 'company' ORDER BY group_value"
    )
    result = cli(no_java, path, "sql", query, "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    current = tables.read(spark, config.paths.table(T.CURRENT_GROUP_PROPERTIES))
    expected = {
        r.group_value: r.properties for r in current.filter("group_type = 'company'").collect()
    }
    assert [r["group_value"] for r in rows] == sorted(expected)
    for r in rows:
        props = expected[r["group_value"]]
        assert r["plan"] == (json.loads(props["plan"]) if "plan" in props else None)
        assert r["seats"] == (float(json.loads(props["seats"])) if "seats" in props else None)


# ---- listings and counts without a JVM; stages default to the data's date ------------------


@pytest.mark.spark
def test_listings_and_row_counts_match_spark(spark, project, no_java):
    from groupetl import lake, listing

    _, config = project
    for table in (T.ATTRIBUTED_EVENTS, T.SILVER_EVENTS, T.GROUP_VERSIONS, T.COHORT_MEMBERS):
        path = config.paths.table(table)
        assert lake.row_count(path) == tables.read(spark, path).count() > 0
    _, reports = listing.reports(config)
    assert [r["report"] for r in reports] == [
        "weekly_active_companies_by_region", "invoice_to_payment",
    ]  # fmt: skip
    assert all(r["last_computed_at"] is not None for r in reports)
    members = tables.read(spark, config.paths.table(T.COHORT_MEMBERS)).collect()
    latest = asof.latest_event_date(config)
    _, cohorts = listing.cohorts(config)
    # the cohorts stage without a date used the latest event date, not today
    assert cohorts == [
        {"cohort": "Report creators", "group_type": "company", "source": "behavioral",
         "as_of_date": latest, "members": len(members), "configured": True}
    ]  # fmt: skip
    assert {r.as_of_date for r in members} == {latest}
    listed = cli(no_java, project[0], "cohort", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["members"] == len(members)


@pytest.mark.spark
def test_cohort_compute_without_a_date_uses_the_latest_event_date(project):
    from click.testing import CliRunner

    from groupetl.cli import main

    path, config = project
    latest = asof.latest_event_date(config)
    result = CliRunner().invoke(main, ["--config", str(path), "cohort", "compute"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        f"as of {latest}, the latest event date; use --as-of to change"
    )
    members = [line.split() for line in result.stdout.splitlines() if "members" in line]
    assert members and int(members[0][-1].replace(",", "")) > 0
