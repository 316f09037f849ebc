"""A landing line that is not valid UTF-8 is quarantined whole (``invalid_utf8``), not mended.

A tiny hand-made Segment file: Latin-1 bytes inside a single message (line 2) and inside a
batch of two messages (line 3), between two good UTF-8 lines. Each bad line is ONE quarantined
record naming its file and line; the good lines load; the counts add up; bronze keeps the
bytes as they were.
"""

from __future__ import annotations

import json
import os

import pytest
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.ingest import run
from groupetl.ingest.summary import check_balance
from groupetl.schemas import C, T
from test_ingest_run import ARRIVAL_MS, project

pytestmark = pytest.mark.spark
FILE = "segment/latin1.json"


def _track(message_id: str, event: str) -> bytes:
    body = {"type": "track", "messageId": message_id, "userId": "user-1", "event": event,
            "timestamp": "2026-01-31T12:00:00Z"}  # fmt: skip
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def test_lines_that_are_not_utf8_are_quarantined_whole(spark, tmp_path) -> None:
    config = project(tmp_path / "p")
    latin1_y = _track("m-4", "xÿ").replace("ÿ".encode(), b"\xff")  # a lone 0xff byte
    bad_batch = b'{"batch": [' + _track("m-3", "ok") + b", " + latin1_y + b"]}"
    lines = [
        _track("m-1", "Café"),  # UTF-8: fine
        _track("m-2", "Café").replace("é".encode(), b"\xe9"),  # the same text in Latin-1
        bad_batch,  # two messages in one line: the line is one record
        _track("m-5", "Login"),
    ]
    path = config.paths.landing / FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\n".join(lines) + b"\n")
    os.utime(path, ns=(ARRIVAL_MS * 1_000_000,) * 2)

    counts = run(spark, config).counts
    check_balance(counts, "the test")
    assert (counts["records_read"], counts["accepted_events"], counts["quarantined"]) == (4, 2, 2)
    assert counts["quarantined_invalid_utf8"] == 2

    events = tables.read(spark, config.paths.table(T.SILVER_EVENTS)).collect()
    assert sorted(e[C.EVENT_TYPE] for e in events) == ["Café", "Login"]
    quarantined = sorted(
        tables.read(spark, str(config.paths.quarantine)).collect(), key=lambda r: r[C.LINE_NUMBER]
    )
    assert [(r[C.LINE_NUMBER], r[C.RECORD_INDEX], r[C.REASON]) for r in quarantined] == [
        (2, None, "invalid_utf8"),
        (3, None, "invalid_utf8"),
    ]
    assert all(f"line {r[C.LINE_NUMBER]} of {FILE} is not valid UTF-8" in r[C.MESSAGE]
               for r in quarantined)  # fmt: skip
    assert '"Caf\ufffd"' in quarantined[0][C.RAW]
    # bronze keeps the bytes: its lines 2 and 3 are still not UTF-8
    bronze = tables.read(spark, config.paths.table(T.BRONZE_RECORDS))
    kept = bronze.filter(~F.is_valid_utf8(C.RAW)).select(C.LINE_NUMBER).collect()
    assert sorted(r[0] for r in kept) == [2, 3]
