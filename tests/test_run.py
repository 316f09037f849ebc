"""``groupetl run``: every stage for a logical date in order, backfills, re-runs, the run log.

Spark-free tests check date handling, the step plan and exit codes. The slow tests run the real
pipeline on generated data through the CLI (in this process, on the shared session):

- backfill and re-run give the same tables as a single full run (issue #9's acceptance test);
- a failed stage stops the run (exit 1, names the stage), the QA gate stops it with exit 3
  before the reports, and the next run resumes.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from groupetl.cli import main
from groupetl.config import load_config
from groupetl.errors import ConfigError, InputError, StageError
from groupetl.pipeline import ALL_STAGES, QaGateFailed, exit_code, job_main, stage
from groupetl.runs import STEPS, date_range, parse_date, resolve_dates, skip_reason

D1 = dt.date(2026, 1, 1)
# enough for a re-run of a day that is not the last (day 2, after day 3 ran), two CRM syncs that
# write operations (days 2 and 3: the export's accounts are pending on day 1, when no group is
# known yet) and every dated stage; 7 days took 18 min, 4 days 12 min
DAYS = 3
JOBS = Path(__file__).resolve().parent.parent / "jobs"
GROUPETL = Path(sys.executable).parent / "groupetl"

# A project with every dated stage configured: a dynamic property, a CRM export, reports,
# retention and a cohort. The generated data deliberately carries events outside any tracking
# plan and workspaces without a name, so those two checks are warnings here (the QA gate's
# failure path has its own test below); the quarantine threshold allows the injected faults of
# a small dataset.
CONFIG = """\
project: {project}
paths: {{root: data}}
group_types:
  - {{name: company, name_property: Account Name, value_format: numeric}}
  - {{name: workspace, name_property: Workspace Name}}
tracking_plan:
  events: [Login, View Dashboard, Create Report, Share Report, Invite Teammate, Send Invoice,
           Pay Invoice, Upgrade Plan]
  group_properties:
    company: {{Account Name: string, plan: string, region: string, seats: number,
               industry: string, Last 7 Day Active Users: number, crm_tier: string}}
    workspace: {{Workspace Name: string}}
segment: {{group_type_trait: group_type, group_value_trait: group_value}}
spark: {{master: "local[2]", shuffle_partitions: 2}}
qa:
  thresholds: {{max_quarantine_rate: 0.2}}
  severity: {{silver.events.event_type_in_tracking_plan: {plan_severity},
             silver.group_names.every_group_named: warning}}
dynamic_properties:
  - {{name: Last 7 Day Active Users, group_type: company, metric: active_users,
     window: {{last_days: 7}}}}
crm:
  group_type: company
  key_field: Account Number
  field_mapping: {{Tier: crm_tier}}
  interval: {{days: 1}}
  activated_on: 2025-12-31
reports:
  - {{name: daily_active_companies, kind: segmentation, group_type: company, interval: day,
     segment_by: group.plan}}
  - {{name: invoice_to_payment, kind: funnel, group_type: company,
     steps: [Send Invoice, Pay Invoice], window: 7 days}}
retention:
  - {{name: company-daily, group_type: company, period: day, periods: 5}}
cohorts:
  - {{name: Report creators, group_type: company, window: {{last_days: 3}},
     rule: {{event: Create Report, at_least: 1}}}}
"""

MINIMAL = """\
project: minimal
paths: {root: data}
group_types: [{name: company, name_property: Account Name}]
"""


def write_project(folder: Path, name: str, plan_severity: str = "warning") -> Path:
    """A project folder with the config above and the CRM export (dated D1) in its landing."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "project.yaml"
    path.write_text(CONFIG.format(project=name, plan_severity=plan_severity))
    crm = folder / "data" / "landing" / "crm"
    crm.mkdir(parents=True, exist_ok=True)
    rows = [f"{1000 + i},tier{i % 3}" for i in range(1, 11)]
    (crm / f"accounts_{D1}.csv").write_text("Account Number,Tier\n" + "\n".join(rows) + "\n")
    return path


def generate_days(out: Path, days: int = DAYS, events: int = 1500) -> Path:
    """A small deterministic dataset (few Export files: ingest cost is per file)."""
    from groupetl.generate import GeneratorSpec, generate

    spec = GeneratorSpec(
        seed=9, companies=10, users_per_company=5, days=days, events=events, export_share=0.02
    )
    generate(spec, out)
    return out / "landing"


def file_day(path: Path) -> dt.date:
    return dt.date.fromisoformat(re.search(r"\d{4}-\d{2}-\d{2}", path.name).group(0))


def arrive(generated: Path, project: Path, day: dt.date | None = None) -> int:
    """Copy the generated files of ``day`` (all when None) into the project's landing.

    Each file's mtime (its arrival time in bronze) is fixed to the end of its own day, so two
    projects that receive the same file give it the same arrival time.
    """
    n = 0
    for src in sorted(p for p in generated.rglob("*") if p.is_file()):
        if day is not None and file_day(src) != day:
            continue
        dst = project / "data" / "landing" / src.relative_to(generated)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        arrival = dt.datetime.combine(file_day(src), dt.time(23, 59), dt.timezone.utc)
        os.utime(dst, (arrival.timestamp(), arrival.timestamp()))
        n += 1
    return n


def cli(config: Path, *args: str):
    return CliRunner().invoke(main, ["--config", str(config), "run", *args])


# Columns that name a run or a batch, or hold the wall-clock time a row was written: they differ
# between two runs of the same data by construction and carry no analytics meaning.
BOOKKEEPING_COLUMNS = (
    "batch_id",  # which ingest/derived batch brought the row (A: one batch per day, B: one)
    "ingested_at",  # wall clock of the ingest run
    "attributed_at",  # wall clock of the attribution run
    "run_id",  # the report/retention/cohort run that last wrote the row
    "computed_at",  # wall clock of that run
    "recorded_at",  # wall clock of a dynamic-property bookkeeping row
)
# ops/ (run log, ingest and attribution ledgers, QA results) is not compared: its rows describe
# the runs and batches themselves.
COMPARED_LAYERS = ("bronze", "silver", "gold", "quarantine")


def data_tables(warehouse: Path) -> list[str]:
    """Every Delta table of the compared layers, relative to the warehouse."""
    found = sorted(
        p.parent.relative_to(warehouse).as_posix() for p in warehouse.rglob("_delta_log")
    )
    return [t for t in found if t.split("/")[0] in COMPARED_LAYERS]


def _hashable(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if hasattr(value, "asDict"):
        return _hashable(value.asDict(recursive=False))
    return value


def collect_multiset(spark, path: Path) -> Counter:
    """The table's rows (bookkeeping columns dropped) as a multiset; test-sized tables only."""
    df = spark.read.format("delta").load(str(path))
    df = df.drop(*[c for c in BOOKKEEPING_COLUMNS if c in df.columns])
    names = sorted(df.columns)
    return Counter(tuple(_hashable(r[n]) for n in names) for r in df.select(*names).collect())


def assert_same_tables(spark, warehouse_a: Path, warehouse_b: Path) -> list[str]:
    names = data_tables(warehouse_a)
    assert names == data_tables(warehouse_b)
    differing = []
    for name in names:
        a, b = (
            collect_multiset(spark, warehouse_a / name),
            collect_multiset(spark, warehouse_b / name),
        )
        if a != b:
            only_a, only_b = list((a - b).items())[:3], list((b - a).items())[:3]
            differing.append(f"{name}: only in A {only_a}; only in B {only_b}")
    assert not differing, "\n".join(differing)
    return names


def run_log_rows(spark, config_path: Path) -> list:
    config = load_config(config_path)
    path = config.paths.table("ops/run_log")
    return spark.read.format("delta").load(path).filter("logical_date IS NOT NULL").collect()


# --- Spark-free: dates, plan, exit codes ---


def test_backfill_dates_are_inclusive_and_skip_done_dates_unless_forced() -> None:
    dates, force = resolve_dates(None, "2026-01-30", "2026-02-02", False)
    assert dates == [
        dt.date(2026, 1, 30),
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 1),
        D1.replace(month=2, day=2),
    ]
    assert force is False
    assert resolve_dates(None, "2026-01-01", "2026-01-01", True) == ([D1], True)


def test_a_single_date_is_always_run_again() -> None:
    assert resolve_dates("2026-01-03", None, None, False) == ([dt.date(2026, 1, 3)], True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2026-01-03", "2026-01-01", "2026-01-02"), "not both"),
        ((None, "2026-01-01", None), "--from D1 --to D2"),
        ((None, None, None), "--date D"),
        ((None, "2026-01-05", "2026-01-01"), "before --from"),
        ((None, "2020-01-01", "2026-01-01"), "split backfills"),
        (("2026-13-01", None, None), "'2026-13-01'"),
    ],
)
def test_bad_dates_are_refused_before_spark_starts(args, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        resolve_dates(*args, False)


def test_steps_follow_the_daily_order_with_the_qa_gate_before_the_reports() -> None:
    assert [s.name for s in STEPS] == [
        "ingest",
        "attribute",
        "crm_sync",
        "dynamic_properties",
        "attribute_derived",
        "qa_gate",
        "report",
        "retention",
        "cohorts",
    ]
    assert [s.stage for s in STEPS if s.name == "attribute_derived"] == ["attribute"]
    assert stage("qa").gate
    assert {s.stage for s in STEPS} == {s.name for s in ALL_STAGES}


def test_stages_without_a_config_section_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(MINIMAL)
    config = load_config(tmp_path / "p.yaml")
    reasons = {s.name: skip_reason(s, config, ran=set()) for s in STEPS}
    assert reasons == {
        "ingest": None,
        "attribute": None,
        "crm_sync": "not configured (no crm: section)",
        "dynamic_properties": "not configured (no dynamic_properties: section)",
        "attribute_derived": "no derived property stage ran",
        "qa_gate": None,
        "report": "not configured (no reports: section)",
        "retention": "not configured (no retention: section)",
        "cohorts": "not configured (no cohorts: section)",
    }
    derived = next(s for s in STEPS if s.name == "attribute_derived")
    assert skip_reason(derived, config, ran={"ingest", "crm_sync"}) is None


def test_exit_codes_follow_the_cli_convention() -> None:
    assert exit_code(ConfigError("x")) == 2
    assert exit_code(StageError("stage report failed: x")) == 1
    assert exit_code(QaGateFailed("stage qa_gate failed: x")) == 3


def test_dated_jobs_require_a_date_and_every_job_accepts_one(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        job_main("crm_sync", ["--config", "conf/test.yaml"])
    assert exc.value.code == 2
    assert "--date" in capsys.readouterr().err
    assert job_main("ingest", ["--config", "conf/test.yaml", "--date", "2026-02-30"]) == 2
    assert "2026-02-30" in capsys.readouterr().err
    assert parse_date("2026-02-28") == dt.date(2026, 2, 28)


def test_every_stage_has_a_job_script() -> None:
    scripts = {p.stem for p in JOBS.glob("*.py")}
    assert {s.name for s in ALL_STAGES} | {"run"} <= scripts
    for s in ALL_STAGES:
        assert f'job_main("{s.name}"' in (JOBS / f"{s.name}.py").read_text()


def test_date_range_counts_every_day() -> None:
    assert len(date_range(D1, dt.date(2026, 12, 31))) == 365


# --- slow: the real pipeline ---


@pytest.mark.slow
def test_backfill_then_rerun_of_day_2_equals_a_single_full_run(spark, tmp_path: Path) -> None:
    """Issue #9: three generated days; project A receives each day's files and runs that date
    (``run --date D``, as the daily schedule would), then re-runs day 2, a day that is not the
    last one, after day 3 ran; project B receives every file first and runs one backfill
    ``groupetl run --from D1 --to D3`` (a separate process, concurrently with A, to halve the
    wall time). Every bronze, silver, gold and quarantine table must hold the same rows, as
    multisets, with only the columns in ``BOOKKEEPING_COLUMNS`` dropped (they name batches/runs
    or hold wall-clock times) and the attribution ledger left out (its rows are the batches). A
    second backfill of B skips every date (all steps succeeded) and changes nothing. The CRM
    export is synced daily: its accounts are pending on day 1 (no group is known before it) and
    synced on days 2 and 3, so two syncs write operations, one of them on the re-run day.

    Why the day-by-day arrival in A is a fair comparison: every value dated by D is defined by
    event time before D 00:00 UTC, not by load time (docs/semantics.md "Time and order"): a dynamic
    property at D uses events before D, the CRM sync knows a group from events before D, the
    cohort snapshot of D is as of D-1. A's run for D has every file named for days <= D. The
    generator's late records (Segment batches carrying the previous evening's messages, seen in
    its output: at most one day late) are dated D-1 in the file of D, so they are present when
    D runs. A record two or more days late would legitimately change a value dated before its
    arrival in A and not in B; this dataset has none, and the test would name the table.
    """
    generated = generate_days(tmp_path / "generated")
    config_a = write_project(tmp_path / "a", "runs_a")
    config_b = write_project(tmp_path / "b", "runs_b")
    dates = [D1 + dt.timedelta(days=i) for i in range(DAYS)]

    # B: every file present, one backfill, as a real `groupetl run` process (its own Spark),
    # running while A runs in this process.
    arrive(generated, tmp_path / "b")
    span = ("--from", dates[0].isoformat(), "--to", dates[-1].isoformat())
    # --no-page: the report page is checked by the resume test; here it would only add time
    command = [str(GROUPETL), "--config", str(config_b), "run", *span, "--no-page"]
    with (tmp_path / "b.log").open("w") as out:
        backfill = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            for day in dates:
                assert arrive(generated, tmp_path / "a", day) > 0
                result = cli(config_a, "--date", day.isoformat(), "--no-page")
                assert result.exit_code == 0, result.output
            rerun = cli(config_a, "--date", dates[1].isoformat(), "--no-page")  # not the last
            assert rerun.exit_code == 0, rerun.output
            assert backfill.wait(timeout=3600) == 0, (tmp_path / "b.log").read_text()[-3000:]
        finally:
            if backfill.poll() is None:
                backfill.kill()
                backfill.wait()
    output = (tmp_path / "b.log").read_text()
    assert output.count("9 succeeded, 0 skipped") == DAYS, output[-3000:]  # all configured
    again = cli(config_b, *span)
    assert again.exit_code == 0, again.output
    assert again.output.count("every step already succeeded; skipped (--force") == DAYS

    compared = assert_same_tables(
        spark, tmp_path / "a/data/warehouse", tmp_path / "b/data/warehouse"
    )
    assert {"bronze/records", "silver/events", "silver/derived_property_ops",
            "silver/attributed_events", "gold/segmentation", "gold/funnels", "gold/retention",
            "gold/cohort_members"} <= set(compared)  # fmt: skip

    rows = run_log_rows(spark, config_a)
    per_date = Counter(r["logical_date"] for r in rows)
    assert per_date == {d: len(STEPS) * (2 if d == dates[1] else 1) for d in dates}
    assert {r["status"] for r in rows} <= {"succeeded", "skipped"}
    ran = [r for r in rows if r["status"] == "succeeded"]
    assert all(r["counts"]["duration_ms"] >= 0 and r["finished_at"] >= r["started_at"] for r in ran)
    for day in dates[1:]:  # two syncs that write operations, each run of day 2 included
        crm = [r for r in rows if r["stage"] == "crm_sync" and r["logical_date"] == day]
        assert crm and all(r["counts"]["accounts_due"] > 0 for r in crm), crm
        assert all(r["counts"]["accounts_synced"] > 0 for r in crm), crm


@pytest.mark.slow
def test_a_failed_stage_stops_the_run_and_the_next_run_resumes(spark, tmp_path: Path) -> None:
    """One generated day. 1) The CRM export lacks its key column: exit 1, the message names
    ``crm_sync`` and why; ingest and attribute are logged succeeded, crm_sync failed, nothing
    after it ran. 2) Export fixed, same backfill again: the date is not done, so it runs from
    the first step and stops at the QA gate (events outside the tracking plan are an error in
    this config): exit 3, no report table. 3) That check made a warning: the run completes and
    writes the report page. 4) The same backfill once more skips the date and leaves the page."""
    generated = generate_days(tmp_path / "generated", days=1, events=200)
    config = write_project(tmp_path / "p", "resume", plan_severity="error")
    arrive(generated, tmp_path / "p")
    export = tmp_path / "p/data/landing/crm" / f"accounts_{D1}.csv"
    good_export = export.read_text()
    export.write_text(good_export.replace("Account Number", "Account Nr"))
    backfill = ("--from", D1.isoformat(), "--to", D1.isoformat())
    warehouse = tmp_path / "p/data/warehouse"

    failed = cli(config, *backfill)
    assert failed.exit_code == 1, failed.output
    assert "error: stage crm_sync failed:" in failed.output
    assert "columns missing from the header: Account Number" in failed.output
    statuses = {r["stage"]: r["status"] for r in run_log_rows(spark, config)}
    assert statuses == {"ingest": "succeeded", "attribute": "succeeded", "crm_sync": "failed"}

    export.write_text(good_export)
    gated = cli(config, *backfill)
    assert gated.exit_code == 3, gated.output
    assert re.search(r"error: stage qa_gate failed: QA gate: \d+ error-severity", gated.output)
    assert "silver.events.event_type_in_tracking_plan" in gated.output
    assert not (warehouse / "gold/segmentation").exists()  # the reports did not run

    config.write_text(config.read_text().replace("plan: error", "plan: warning"))
    done = cli(config, *backfill)
    assert done.exit_code == 0, done.output
    assert "9 succeeded, 0 skipped" in done.output
    assert (warehouse / "gold/segmentation/_delta_log").is_dir()
    page = tmp_path / "p/data/reports/page.html"
    assert done.output.endswith(f"report page: {page}\n")
    drawn = page.read_text()
    for name in ("daily_active_companies", "invoice_to_payment", "company-daily"):
        assert f"<h3>{name}</h3>" in drawn
    written = page.stat().st_mtime_ns
    again = cli(config, *backfill)
    assert again.exit_code == 0 and "every step already succeeded" in again.output
    assert "report page" not in again.output and page.stat().st_mtime_ns == written

    rows = run_log_rows(spark, config)
    runs = sorted({r["run_id"] for r in rows})
    assert len(runs) == 3  # the skipped backfill ran nothing and logged nothing
    per_run = Counter(r["run_id"] for r in rows)
    assert sorted(per_run.values()) == [3, 6, 9]  # failed at step 3, at the gate (6), all 9
