"""Spark-free pieces of the JVM-free reads: delta-rs tables, time travel choice, rows, output.

Tables here are written by delta-rs itself (milliseconds, no JVM); the comparison with Spark
on tables the pipeline wrote is in ``test_jvm_free.py``.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from groupetl import lake
from groupetl.errors import InputError
from groupetl.output import render_rows, render_table
from groupetl.values import decoded_text, value_matches


def test_a_table_with_a_newer_reader_protocol_is_refused_not_misread(tmp_path):
    write_deltalake(
        tmp_path / "dv", pa.table({"a": [1]}), configuration={"delta.enableDeletionVectors": "true"}
    )
    with pytest.raises(InputError, match=r"Delta reader version 3 .*support version 1"):
        lake.open_table(tmp_path / "dv")


def test_versions_history_and_time_travel(tmp_path):
    path = tmp_path / "t"
    write_deltalake(path, pa.table({"a": [1]}))
    write_deltalake(path, pa.table({"a": [2]}), mode="append")
    history = lake.commits(path)
    assert [c["version"] for c in history] == [1, 0]
    assert all(isinstance(c["timestamp"], dt.datetime) for c in history)
    old = lake.open_table(path, "t", as_of_version=0)
    assert old.to_pyarrow_table().column("a").to_pylist() == [1]
    with pytest.raises(InputError, match=r"t has versions 0 to 1 .* cannot read it as of 5"):
        lake.open_table(path, "t", as_of_version=5)
    with pytest.raises(InputError, match="cannot read it as of 2001-01-01"):
        lake.open_table(path, "t", as_of_time="2001-01-01")
    with pytest.raises(InputError, match="not both"):
        lake.open_table(path, "t", as_of_version=0, as_of_time="2001-01-01")


def test_version_at_reads_the_latest_commit_at_or_before_the_time():
    t0 = dt.datetime(2026, 1, 1, 12)
    history = [{"version": v, "timestamp": t0 + dt.timedelta(minutes=v)} for v in (2, 1, 0)]
    assert lake.version_at(history, t0 - dt.timedelta(seconds=1)) is None
    assert lake.version_at(history, t0) == 0
    assert lake.version_at(history, t0 + dt.timedelta(seconds=90)) == 1
    assert lake.version_at(history, t0 + dt.timedelta(days=1)) == 2  # after the last: latest


def test_parse_time_accepts_dates_times_and_offsets():
    assert lake.parse_time("2026-01-14") == dt.datetime(2026, 1, 14)
    assert lake.parse_time("2026-01-14 06:00:00.5") == dt.datetime(2026, 1, 14, 6, 0, 0, 500000)
    assert lake.parse_time("2026-01-14T08:00:00+02:00") == dt.datetime(2026, 1, 14, 6)
    with pytest.raises(InputError, match="'last week' is not a time"):
        lake.parse_time("last week")


def test_rows_are_plain_python_like_spark_collect():
    table = pa.table({
        "t": pa.array([dt.datetime(2026, 1, 1, 9)], pa.timestamp("us", tz="UTC")),
        "m": pa.array([[("k", '"v"')]], pa.map_(pa.string(), pa.string())),
        "l": pa.array([[dt.datetime(2026, 1, 2)]], pa.list_(pa.timestamp("us", tz="UTC"))),
    })  # fmt: skip
    assert lake.rows_of(table) == [
        {"t": dt.datetime(2026, 1, 1, 9), "m": {"k": '"v"'}, "l": [dt.datetime(2026, 1, 2)]}
    ]


def test_row_count_comes_from_the_log(tmp_path):
    write_deltalake(tmp_path / "c", pa.table({"a": list(range(7))}))
    write_deltalake(tmp_path / "c", pa.table({"a": [1, 2]}), mode="append")
    assert lake.row_count(tmp_path / "c") == 9


def test_decoded_text_rules():
    assert [decoded_text(v) for v in ['"Acme"', "5.0", "10.50", "1e3", "true", "Acme", None]] == [
        "Acme", "5", "10.5", "1000.0", "true", "Acme", None,
    ]  # fmt: skip
    assert value_matches('["beta","eu"]', "eu") and value_matches("10", "10.0")
    assert not value_matches('"10"', "1") and not value_matches(None, "x")


def test_tables_fit_the_width_and_name_the_columns_left_out():
    rows = [{"a": "x" * 30, "b": "y" * 30, "c": "z"}]
    text = render_table(rows, ["a", "b", "c"], width=40)
    assert all(len(line) <= 40 for line in text.splitlines()[:-1])  # the table, not the note
    assert text.splitlines()[-1] == "(2 more columns: b, c; see --format csv or json)"
    long = render_table([{"a": "w" * 100}], ["a"], width=200)
    assert long.splitlines()[-1].endswith("…") and len(long.splitlines()[-1]) == 48


def test_csv_and_json_keep_every_value_whole():
    rows = [{"a": "w" * 100, "when": dt.datetime(2026, 1, 1, 9), "items": ["x", "y"]}]
    assert render_rows(rows, ["a", "when", "items"], "csv").splitlines()[1] == (
        f"{'w' * 100},2026-01-01 09:00:00,x | y"
    )
    assert json.loads(render_rows(rows, ["a", "when", "items"], "json")) == [
        {"a": "w" * 100, "when": "2026-01-01 09:00:00", "items": ["x", "y"]}
    ]
