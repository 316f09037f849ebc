"""The SparkSession has Delta Lake: a real Delta table round trip on disk, times in UTC."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import Row

from groupetl import tables
from groupetl.schemas import RUN_LOG, C
from groupetl.session import cached_delta_jars, delta_coordinate, spark_submit_args


def test_delta_round_trip_with_declared_schema_and_time_travel(spark, tmp_path: Path) -> None:
    path = str(tmp_path / "ops" / "run_log")
    started = dt.datetime(2026, 1, 5, 10, 0, 0)
    rows = [Row("r1", "ingest", dt.date(2026, 1, 5), started, None, "ok", {"read": 3}, None)]
    tables.append(spark.createDataFrame(rows, RUN_LOG), path)
    second = [Row("r2", "ingest", None, started, None, "ok", {}, None)]
    tables.append(spark.createDataFrame(second, RUN_LOG), path)
    assert tables.exists(spark, path)
    assert (tmp_path / "ops" / "run_log" / "_delta_log").is_dir()
    now = tables.read(spark, path, RUN_LOG)
    assert sorted(r[C.RUN_ID] for r in now.collect()) == ["r1", "r2"]
    first = tables.read(spark, path, as_of_version=0)
    assert [r[C.RUN_ID] for r in first.collect()] == ["r1"]
    assert first.first()[C.COUNTS] == {"read": 3}
    assert tables.version(spark, path) == 1


def test_read_of_missing_table_with_schema_is_empty(spark, tmp_path: Path) -> None:
    df = tables.read(spark, str(tmp_path / "absent"), RUN_LOG)
    assert df.schema == RUN_LOG
    assert df.isEmpty()


def test_replace_where_and_merge_insert_new(spark, tmp_path: Path) -> None:
    path = str(tmp_path / "t")
    df = spark.createDataFrame([(1, "a"), (2, "b")], "k int, v string")
    tables.overwrite(df, path)
    tables.merge_insert_new(
        spark, spark.createDataFrame([(2, "x"), (3, "c")], "k int, v string"), path, ["k"]
    )
    tables.replace_where(spark.createDataFrame([(1, "z")], "k int, v string"), path, "k = 1")
    got = sorted(tuple(r) for r in tables.read(spark, path).collect())
    assert got == [(1, "z"), (2, "b"), (3, "c")]


def test_session_runs_in_utc_with_delta_catalog(spark) -> None:
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert "DeltaCatalog" in spark.conf.get("spark.sql.catalog.spark_catalog")
    ts = spark.sql("select timestamp'2026-01-01 00:00:00' as t").first()["t"]
    assert ts == dt.datetime(2026, 1, 1, 0, 0)


def test_jars_are_cached_and_spark_submit_args_carry_delta() -> None:
    jars = cached_delta_jars()
    assert jars, "the test session resolves Delta's jars into the cache"
    artifact = delta_coordinate().split(":")[1]
    assert any(artifact in j for j in jars)
    args = spark_submit_args()
    assert args[0] == "--jars" and "DeltaSparkSessionExtension" in " ".join(args)
