"""Unwrapping bronze lines into records (``records.explode_records``), line by line.

The ingest fixture (tests/test_ingest_run.py) covers the formats end to end; these cases pin
the edges of the one-pass explode: an empty list holds no records, a list item that is not an
object is one quarantined record, a line that is not JSON is one record with no index, and an
Export line is one record without being read as an envelope.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import functions as F

from groupetl.config import load_config
from groupetl.ingest.classify import record_type, with_raw
from groupetl.ingest.formats import Format
from groupetl.ingest.functions import position_in
from groupetl.ingest.records import explode_records
from groupetl.reasons import Quarantine as Q
from groupetl.schemas import BRONZE_RECORDS, C

T0 = dt.datetime(2026, 1, 5, 12, 0, 0)


def _lines(spark, *rows: tuple[str, str]):
    data = [("b1", T0, f"f{i}.json", fmt, T0, 1, raw) for i, (fmt, raw) in enumerate(rows)]
    return spark.createDataFrame(data, BRONZE_RECORDS)


def _records(spark, *rows: tuple[str, str]) -> list[tuple]:
    """(file, record index, reason, record text) per record; the text is the record's raw
    JSON as the quarantine would store it, and for an accepted record its event type."""
    config = load_config(Path(__file__).resolve().parent.parent / "conf" / "local.yaml")
    lines = _lines(spark, *rows)
    exploded = explode_records(lines, record_type(config))
    out = with_raw(exploded, lines).select(
        C.SOURCE_FILE,
        C.RECORD_INDEX,
        C.REASON,
        F.when(F.col(C.REASON).isNull(), F.col("_rec.event_type")).otherwise(F.col(C.RAW)),
    )
    return sorted(
        (tuple(r) for r in out.collect()), key=lambda r: (r[0], r[1] if r[1] is not None else -1)
    )


def test_an_empty_list_holds_no_records_and_its_neighbours_are_kept(spark) -> None:
    got = _records(
        spark,
        (Format.AMPLITUDE_HTTP, '{"api_key": "k", "events": []}'),
        (Format.AMPLITUDE_HTTP, '{"api_key": "k", "events": [{"event_type": "A"}, 42]}'),
        (Format.SEGMENT, '{"batch": []}'),
    )
    assert got == [
        ("f1.json", 0, None, "A"),
        ("f1.json", 1, Q.NOT_AN_OBJECT, "42"),
    ]


def test_a_bad_line_is_one_record_without_index(spark) -> None:
    got = _records(
        spark,
        (Format.AMPLITUDE_HTTP, '{"events": [{"event_type": "A"}'),  # cut short
        (Format.AMPLITUDE_EXPORT, "[1, 2]"),
        (Format.AMPLITUDE_HTTP, '{"api_key": "k"}'),  # no list where the format needs one
    )
    assert got == [
        ("f0.json", None, Q.INVALID_JSON, '{"events": [{"event_type": "A"}'),
        ("f1.json", None, Q.NOT_AN_OBJECT, "[1, 2]"),
        ("f2.json", None, Q.UNKNOWN_FORMAT, '{"api_key": "k"}'),
    ]


def test_an_export_line_is_its_own_record(spark) -> None:
    line = '\ufeff{"event_type": "A", "events": "not a list"}'
    got = _records(spark, (Format.AMPLITUDE_EXPORT, line))
    assert got == [("f0.json", 0, None, "A")]


def test_position_in_is_one_based_and_zero_when_absent(spark) -> None:
    df = spark.createDataFrame([("b",), ("z",), (None,)], "v string")
    got = [r[0] for r in df.select(position_in(F.col("v"), ("a", "b", "c"))).collect()]
    assert got == [2, 0, 0]
