"""``groupetl doctor`` finds a double commit and ``--repair`` restores a single run's tables.

The state is the one two concurrent ingests left before the warehouse lease (issue 18): the
same batch committed twice, by two processes with their own ``ingested_at``. It is made here
by appending the second batch's rows of every ingest table (bronze, silver, quarantine, the
batch ledger) once more, one second later, on a copy of the session's shared ingested
warehouse (tests/safety_data.py), which is the serial run's reference. That ``doctor`` finds
nothing in a clean warehouse is shown by its last check, after the repair, on tables equal to it.
"""

from __future__ import annotations

import re
import shutil

import pytest
from click.testing import CliRunner
from pyspark.sql import functions as F

from groupetl import doctor, tables
from groupetl.cli import main
from groupetl.config import load_config
from groupetl.schemas import C, T
from safety_data import new_project
from test_run import assert_same_tables, collect_multiset


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
def test_doctor_finds_a_double_commit_and_repair_restores_the_serial_tables(
    spark, safety, tmp_path
):
    config_path = new_project(tmp_path / "p")
    config = load_config(config_path)
    warehouse = config.paths.warehouse
    reference = safety.ingested
    shutil.copytree(reference, warehouse)

    (batch,) = {r[C.BATCH_ID] for r in tables.read(spark, config.paths.table(T.INGEST_BATCHES))
                .collect()}  # fmt: skip
    appended = _double_commit(spark, config, batch)
    assert {T.BRONZE_FILES, T.BRONZE_RECORDS, T.SILVER_RECORDS, T.SILVER_EVENTS} <= set(appended)

    runner = CliRunner()
    checked = runner.invoke(main, ["--config", str(config_path), "doctor"])
    assert checked.exit_code == 1, checked.output
    found = re.findall(
        r"^(\S+): ([\d,]+) extra copies of rows written twice .*\[repairable\]$",
        checked.stdout,
        re.M,
    )
    # every copy found, in every table, and nothing else
    assert {t: int(n.replace(",", "")) for t, n in found} == appended
    assert len(checked.stdout.splitlines()) == len(appended), checked.stdout

    repaired = runner.invoke(main, ["--config", str(config_path), "doctor", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert f"repaired {T.BRONZE_RECORDS}: removed {appended[T.BRONZE_RECORDS]:,} extra copies" in (
        repaired.stdout
    )
    assert repaired.stdout.rstrip().endswith(f"ok: every invariant holds in {warehouse}")

    assert_same_tables(spark, warehouse, reference)
    # ops/ is not in assert_same_tables' layers; finished_at is kept, so the earliest copy is
    assert collect_multiset(spark, warehouse / T.INGEST_BATCHES) == collect_multiset(
        spark, reference / T.INGEST_BATCHES
    )
    kept = tables.read(spark, config.paths.table(T.BRONZE_FILES)).collect()
    original = spark.read.format("delta").load(str(reference / T.BRONZE_FILES)).collect()
    assert {r[C.INGESTED_AT] for r in kept} == {r[C.INGESTED_AT] for r in original}
