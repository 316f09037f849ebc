"""``groupetl doctor`` finds a double commit and ``--repair`` restores a single run's tables.

The state is the one two concurrent ingests left before the warehouse lease (issue 18): the
same batch committed twice, by two processes with their own ``ingested_at``. It is made here
by appending the second batch's rows of every ingest table (bronze, silver, quarantine, the
batch ledger) once more, one second later. A copy of the warehouse taken before is the serial
run's reference.
"""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from pyspark.sql import functions as F

from groupetl import doctor, tables
from groupetl.cli import main
from groupetl.config import load_config
from groupetl.pipeline import run_stage
from groupetl.schemas import C, T
from test_run import arrive, assert_same_tables, collect_multiset, file_day

CONFIG = """\
project: doctor
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name, value_format: numeric}
  - {name: workspace, name_property: Workspace Name}
"""


def _double_commit(spark, config, batch_id: str) -> dict[str, int]:
    """Append every row of ``batch_id`` again to each ingest table; rows appended per table."""
    appended = {}
    for checked in doctor.CHECKED:
        path = doctor._path(config, checked.name)
        if not tables.exists(spark, path):  # e.g. no record was reported
            continue
        rows = tables.read(spark, path).filter(F.col(C.BATCH_ID) == batch_id)
        clock = [c for c in doctor.WALL_CLOCK if c in rows.columns]
        again = rows.select(
            *[
                (F.col(c) + F.expr("INTERVAL 1 SECOND")).alias(c) if c in clock else F.col(c)
                for c in rows.columns
            ]
        ).collect()  # collected first: the append must not read its own output
        if again:
            tables.append(spark.createDataFrame(again, rows.schema), path)
            appended[checked.name] = len(again)
    return appended


@pytest.mark.slow
def test_doctor_finds_a_double_commit_and_repair_restores_the_serial_tables(spark, tmp_path):
    from groupetl.generate import GeneratorSpec, generate

    spec = GeneratorSpec(seed=4, companies=5, users_per_company=3, days=2, events=300)
    generate(spec, tmp_path / "generated")
    generated = tmp_path / "generated" / "landing"
    project = tmp_path / "p"
    project.mkdir()
    (project / "doctor.yaml").write_text(CONFIG)
    config = load_config(project / "doctor.yaml")
    days = sorted({file_day(p) for p in generated.rglob("*") if p.is_file()})
    for day in days:  # two batches: the second is the one committed twice
        arrive(generated, project, day)
        run_stage(spark, config, "ingest")
    warehouse = config.paths.warehouse
    reference = tmp_path / "reference"
    shutil.copytree(warehouse, reference)
    assert doctor.check(spark, config) == []

    ledger_rows = tables.read(spark, config.paths.table(T.INGEST_BATCHES)).collect()
    second = max(ledger_rows, key=lambda r: r[C.FINISHED_AT])[C.BATCH_ID]
    appended = _double_commit(spark, config, second)
    assert {T.BRONZE_FILES, T.BRONZE_RECORDS, T.SILVER_RECORDS, T.SILVER_EVENTS} <= set(appended)

    found = doctor.check(spark, config)
    repeated = {f.table: f.count for f in found if f.repairable}
    assert repeated == appended  # every copy found, in every table, and nothing else
    assert all(f.batches == [second] for f in found if f.repairable)
    assert [f for f in found if not f.repairable] == []

    runner = CliRunner()
    checked = runner.invoke(main, ["--config", str(project / "doctor.yaml"), "doctor"])
    assert checked.exit_code == 1, checked.output
    lines = [x for x in checked.stdout.splitlines() if "extra copies" in x]
    assert len(lines) == len(appended)
    assert f"{T.SILVER_EVENTS}: {appended[T.SILVER_EVENTS]:,} extra copies of rows written " in (
        checked.stdout
    )

    repaired = runner.invoke(main, ["--config", str(project / "doctor.yaml"), "doctor", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert f"repaired {T.BRONZE_RECORDS}: removed {appended[T.BRONZE_RECORDS]:,} extra copies" in (
        repaired.stdout
    )
    assert repaired.stdout.rstrip().endswith(f"ok: every invariant holds in {warehouse}")

    assert_same_tables(spark, warehouse, reference)
    for name in (T.INGEST_BATCHES,):  # ops/ is not in assert_same_tables' layers
        assert collect_multiset(spark, warehouse / name) == collect_multiset(
            spark, reference / name
        )
    kept = tables.read(spark, config.paths.table(T.BRONZE_FILES)).filter(
        F.col(C.BATCH_ID) == second
    )
    ingested = {r[C.INGESTED_AT] for r in kept.collect()}
    original = {
        r[C.INGESTED_AT]
        for r in spark.read.format("delta")
        .load(str(reference / T.BRONZE_FILES))
        .filter(F.col(C.BATCH_ID) == second)
        .collect()
    }
    assert ingested == original  # the earliest copy is the one kept
