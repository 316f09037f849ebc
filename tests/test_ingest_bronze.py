"""Bronze: Spark's line reader with exact line numbers, and unreadable files quarantined whole.

- the new reader writes exactly the rows the former whole-file reader did (reference below);
- a truncated, corrupt, empty or non-gzip ``.gz`` never stops a batch: it is quarantined as one
  record (``unreadable_file``), recorded in ``bronze/files`` and never read again;
- a file far past Java's 2 GB string limit loads (slow).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from groupetl import tables
from groupetl.config import ProjectConfig
from groupetl.ingest import bronze, ledger, run
from groupetl.ingest.bronze import (
    _escape_glob,
    _scan_keys,
    arrival_time,
    check_file,
    write_bronze_batch,
)
from groupetl.ingest.landing import NewFile, list_landing, split_new
from groupetl.ingest.summary import check_balance
from groupetl.schemas import BRONZE_RECORDS, C, T
from test_ingest_run import ARRIVAL_MS, FIXTURES, drop, fixture_files, project, rows

pytestmark = pytest.mark.spark

UTC = dt.timezone.utc
BATCH = "b-test"
NOW = dt.datetime(2026, 2, 2, tzinfo=UTC)


def reference_lines(
    spark: SparkSession, files: list[NewFile], batch_id: str, ingested_at: dt.datetime
) -> DataFrame:
    """The former bronze reader (whole file as one value, split with posexplode), verbatim."""
    keys = _scan_keys(spark, [str(n.file.path) for n in files])
    info = spark.createDataFrame(
        [
            (key, n.file.relative, n.file_format, arrival_time(n.file.mtime_ms))
            for key, n in zip(keys, files, strict=True)
        ],
        f"_key string, {C.SOURCE_FILE} string, {C.FILE_FORMAT} string, {C.ARRIVAL_TIME} timestamp",
    )
    paths = [_escape_glob(str(n.file.path)) for n in files]
    text = spark.read.text(paths, wholetext=True).select(
        F.regexp_replace(F.col("_metadata.file_path"), "^[a-zA-Z][a-zA-Z0-9+.-]*:(//)?", "").alias(
            "_key"
        ),
        F.posexplode(F.split(F.col("value"), "\n")).alias("_pos", "_line"),
    )
    lines = text.join(F.broadcast(info), on="_key", how="left")
    line = F.regexp_replace(F.col("_line"), "\r$", "")
    return lines.filter(F.trim(line) != "").select(
        F.lit(batch_id).alias(C.BATCH_ID),
        F.lit(ingested_at).alias(C.INGESTED_AT),
        C.SOURCE_FILE,
        C.FILE_FORMAT,
        C.ARRIVAL_TIME,
        (F.col("_pos") + 1).cast("long").alias(C.LINE_NUMBER),
        line.alias(C.RAW),
    )


def _as_rows(df: DataFrame) -> list[tuple]:
    cols = [c for c in BRONZE_RECORDS.fieldNames() if c != C.INGESTED_AT]
    return sorted(tuple(r) for r in df.select(*cols).collect())


def _bronze_vs_reference(spark: SparkSession, config: ProjectConfig) -> tuple[list, list]:
    new, _ = split_new(list_landing(config.paths.landing), {})
    result = write_bronze_batch(spark, config, new, BATCH, NOW)
    assert not result.unreadable
    got = _as_rows(bronze.read_batch_lines(spark, config, BATCH))
    assert result.lines == len(got)
    return got, _as_rows(reference_lines(spark, new, BATCH, NOW))


# Edge cases of line splitting; several files per scan, names Spark would read as globs or URIs.
TRICKY = {
    "amplitude_export/plain.json": b'{"a": 1}\n\n   \n{"b": 2}\n\n',
    "amplitude_export/crlf.json": b'{"a": 1}\r\n\r\n{"b": 2}\r\n{"c": 3}',
    "amplitude_export/bom.json": b'\xef\xbb\xbf{"a": 1}\n{"b": 2}\n',
    "amplitude_export/bom crlf.json.gz": gzip.compress(b'\xef\xbb\xbf{"x": 1}\r\n\n{"y": 2}\r\n'),
    "amplitude_export/dir #1 [a]/we ird#[x] {y} name?.json": b'\n\n{"deep": true}\n',
    "amplitude_export/inner_cr.json": b'{"a": "x\ry"}\n\r\n \t \n{"b": 1}\r\r\n',
    "amplitude_export/no_trailing_newline.json": b'{"a": 1}\n{"b": 2}',
    "amplitude_export/only_blank.json": b"\n\n  \n",
    "amplitude_export/empty.json": b"",
    "amplitude_export/latin1_byte.json": b'{"a": "caf\xe9"}\n{"b": 2}\n',
    "segment/100 lines.json": b"".join(
        (b"\n" if i % 7 == 0 else b'{"i": %d}\n' % i) for i in range(100)
    ),
    "other/big.json.gz": gzip.compress(b"".join(b'{"n": %d}\n' % i for i in range(5000))),
}


def test_bronze_rows_equal_the_former_reader_on_the_fixture(spark, tmp_path: Path) -> None:
    config = project(tmp_path / "fixture")
    drop(config.paths.landing, fixture_files())
    got, expected = _bronze_vs_reference(spark, config)
    assert got == expected
    assert len(got) == 21


def test_bronze_rows_equal_the_former_reader_on_edge_cases(
    spark, tmp_path: Path, monkeypatch
) -> None:
    config = project(tmp_path / "tricky")
    for relative, data in TRICKY.items():
        path = config.paths.landing / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    monkeypatch.setattr(bronze, "FILES_PER_READ", 5)  # several reads, several files in each
    got, expected = _bronze_vs_reference(spark, config)
    assert got == expected
    by_file: dict[str, list[tuple[int, str]]] = {}
    for r in got:
        by_file.setdefault(r[1], []).append((r[4], r[5]))
    assert by_file["amplitude_export/crlf.json"] == [
        (1, '{"a": 1}'),
        (3, '{"b": 2}'),
        (4, '{"c": 3}'),
    ]
    assert by_file["amplitude_export/bom.json"][0] == (1, '\ufeff{"a": 1}')
    assert by_file["amplitude_export/dir #1 [a]/we ird#[x] {y} name?.json"] == [
        (3, '{"deep": true}')
    ]
    assert [n for n, _ in by_file["segment/100 lines.json"]] == [i + 1 for i in range(100) if i % 7]
    assert [n for n, _ in by_file["other/big.json.gz"]] == list(range(1, 5001))
    assert "amplitude_export/only_blank.json" not in by_file
    files = {
        r[C.SOURCE_FILE]: r["lines"]
        for r in spark.read.format("delta").load(config.paths.table(T.BRONZE_FILES)).collect()
    }
    assert files == {f: len(by_file.get(f, [])) for f in TRICKY}
    # the split settings are the session's again
    assert spark.conf.get("spark.sql.files.maxPartitionBytes", None) is None
    assert spark.conf.get("spark.sql.files.openCostInBytes", None) is None


def test_the_bronze_scan_is_one_partition_per_file_with_no_shuffle(spark, tmp_path: Path) -> None:
    config = project(tmp_path / "plan")
    drop(config.paths.landing, fixture_files())
    new, _ = split_new(list_landing(config.paths.landing), {})
    with bronze.one_file_per_partition(spark):
        scan = bronze._scan(spark, new)
        assert scan._jdf.rdd().getNumPartitions() == len(new)
        plan = bronze.read_lines(spark, new, BATCH, NOW, scan)._jdf.queryExecution()
        physical = plan.executedPlan().toString()
    assert "Exchange" not in physical.replace("BroadcastExchange", "")
    assert "Sort" not in physical


def test_check_file_catches_empty_and_non_gzip_files(tmp_path: Path) -> None:
    def new(name: str, data: bytes | None) -> NewFile:
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        return NewFile(bronze_landing_file(path, name), "segment")

    assert check_file(new("ok.json.gz", gzip.compress(b"x\n"))) is None
    assert check_file(new("ok.json", b"")) is None
    assert "empty .gz" in check_file(new("empty.json.gz", b""))
    assert "not gzip data" in check_file(new("plain.json.gz", b'{"a": 1}\n'))
    assert "cannot be opened" in check_file(new("gone.json", None))


def bronze_landing_file(path: Path, relative: str):
    from groupetl.ingest.landing import LandingFile

    size = path.stat().st_size if path.exists() else 0
    return LandingFile(relative, path, size, ARRIVAL_MS)


GOOD_EXPORT = b"".join(
    json.dumps(
        {
            "event_type": "Login",
            "event_time": f"2026-01-05 10:{i:02d}:00.000000",
            "$insert_id": f"bad-files-{i}",
            "user_id": "user-0001",
            "groups": {"company": "1001"},
        }
    ).encode()
    + b"\n"
    for i in range(40)
)


def bad_landing() -> dict[str, bytes]:
    """Two good files and six unreadable ones (the truncated ones hold 20,000 lines)."""
    big = gzip.compress(b"".join(b'{"n": %d}\n' % i for i in range(20_000)), mtime=0)
    corrupt = bytearray(big)
    corrupt[len(big) // 2 : len(big) // 2 + 64] = b"\x00" * 64
    bad_head = bytearray(big)
    bad_head[12:80] = b"\xff" * 68
    return {
        "amplitude_export/good.json.gz": gzip.compress(GOOD_EXPORT, mtime=0),
        "segment/good.json": (FIXTURES / "segment" / "segment_001.json").read_bytes(),
        "amplitude_export/truncated.json.gz": big[: len(big) // 2],
        "amplitude_export/corrupt #1.json.gz": bytes(corrupt),
        "amplitude_export/empty.json.gz": b"",
        "amplitude_export/not_gzip.json.gz": GOOD_EXPORT,
        "other/truncated sniffed.json.gz": big[: len(big) // 3],
        "other/corrupt head.json.gz": bytes(bad_head),
    }


BAD = {
    "amplitude_export/truncated.json.gz",
    "amplitude_export/corrupt #1.json.gz",
    "amplitude_export/empty.json.gz",
    "amplitude_export/not_gzip.json.gz",
    "other/truncated sniffed.json.gz",
    "other/corrupt head.json.gz",
}


def _drop_bytes(landing: Path, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        path = landing / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, ns=(ARRIVAL_MS * 1_000_000,) * 2)


def _table(spark, path: str) -> list[dict]:
    return [r.asDict(recursive=True) for r in spark.read.format("delta").load(path).collect()]


@pytest.fixture(scope="module")
def bad_run(spark, tmp_path_factory: pytest.TempPathFactory):
    """The bad landing, ingested once for the module: (config, result)."""
    config = project(tmp_path_factory.mktemp("bad"))
    _drop_bytes(config.paths.landing, bad_landing())
    return config, run(spark, config)


def test_unreadable_files_are_quarantined_and_the_rest_loads(spark, bad_run) -> None:
    config, result = bad_run
    c = result.counts
    check_balance(c, "the test")
    assert c["files_read"] == 8 and c["files_unreadable"] == 6
    assert c["quarantined_unreadable_file"] == 6
    accepted = (
        c["accepted_events"]
        + c["accepted_group_assignments"]
        + c["accepted_group_property_records"]
    )
    assert c["records_read"] == accepted + c["duplicates"] + c["quarantined"]
    # the good files loaded whole
    bronze_rows = _table(spark, config.paths.table(T.BRONZE_RECORDS))
    assert {r[C.SOURCE_FILE] for r in bronze_rows} == {
        "amplitude_export/good.json.gz",
        "segment/good.json",
    }
    events = _table(spark, config.paths.table(T.SILVER_EVENTS))
    assert sum(e[C.SOURCE_FILE] == "amplitude_export/good.json.gz" for e in events) == 40
    assert any(e[C.SOURCE_FILE] == "segment/good.json" for e in events)
    # each bad file: one quarantine row naming it, with the lines read before the error
    q = {
        r[C.SOURCE_FILE]: r
        for r in _table(spark, str(config.paths.quarantine))
        if r[C.REASON] == "unreadable_file"
    }
    assert set(q) == BAD
    for name, row in q.items():
        assert name in row[C.MESSAGE]
        assert (row[C.LINE_NUMBER], row[C.RECORD_INDEX], row[C.RAW]) == (0, None, None)
        assert row[C.BATCH_ID] == result_batch(spark, config)
    assert "0 lines were read" in q["amplitude_export/empty.json.gz"][C.MESSAGE]
    assert "not gzip data" in q["amplitude_export/not_gzip.json.gz"][C.MESSAGE]
    truncated = q["amplitude_export/truncated.json.gz"][C.MESSAGE]
    assert "lines were read before the error" in truncated and " 0 lines" not in truncated
    assert "EOFException" in truncated
    # bronze/files records every file, the bad ones with their error, so none is read again
    files = {r[C.SOURCE_FILE]: r for r in _table(spark, config.paths.table(T.BRONZE_FILES))}
    assert set(files) == set(bad_landing())
    assert {f for f, r in files.items() if r[C.ERROR]} == BAD
    assert all(files[f]["lines"] == 0 for f in BAD)
    assert files["amplitude_export/good.json.gz"]["lines"] == 40


def test_unreadable_files_are_not_read_again(spark, bad_run) -> None:
    config, _ = bad_run
    again = run(spark, config)
    assert again.counts["files_read"] == 0 and again.counts["records_read"] == 0


def result_batch(spark, config: ProjectConfig) -> str:
    (batch,) = {r[C.BATCH_ID] for r in _table(spark, config.paths.table(T.INGEST_BATCHES))}
    return batch


def test_a_crash_inside_bronze_leaves_no_trace_and_the_rerun_equals_a_clean_run(
    spark, bad_run, tmp_path: Path, monkeypatch
) -> None:
    clean, _ = bad_run
    config = project(tmp_path / "crash")
    _drop_bytes(config.paths.landing, bad_landing())

    def killed(*args, **kwargs):
        raise RuntimeError("killed before the files rows were completed")

    # records are written; the final bronze/files commit and the ledger row never happen
    monkeypatch.setattr(bronze.tables, "replace_where", killed)
    with pytest.raises(RuntimeError, match="killed"):
        run(spark, config)
    monkeypatch.undo()
    assert tables.exists(spark, config.paths.table(T.BRONZE_RECORDS))
    result = run(spark, config)
    assert any("interrupted before its bronze commit" in n for n in result.notes)
    for table in (T.BRONZE_RECORDS, T.BRONZE_FILES, T.SILVER_EVENTS, T.SILVER_RECORDS):
        assert rows(spark, config.paths.table(table)) == rows(spark, clean.paths.table(table))
    assert rows(spark, str(config.paths.quarantine)) == rows(spark, str(clean.paths.quarantine))


def test_a_files_table_without_the_error_column_gains_it(spark, tmp_path: Path) -> None:
    config = project(tmp_path / "old")
    old = spark.createDataFrame(
        [("segment/old.json", "segment", 3, NOW, "b-old", NOW, 1)],
        "source_file string, file_format string, size_bytes long, arrival_time timestamp, "
        "batch_id string, ingested_at timestamp, lines long",
    )
    old.write.format("delta").save(config.paths.table(T.BRONZE_FILES))
    for phase in (ledger.BRONZE, ledger.DONE):
        ledger.mark(spark, config, "b-old", phase)
    _drop_bytes(
        config.paths.landing,
        {"amplitude_export/good.json.gz": gzip.compress(GOOD_EXPORT), "x/empty.json.gz": b""},
    )
    result = run(spark, config)
    assert result.counts["accepted_events"] == 40
    assert result.counts["quarantined_unreadable_file"] == 1
    files = {r[C.SOURCE_FILE]: r for r in _table(spark, config.paths.table(T.BRONZE_FILES))}
    assert files["segment/old.json"][C.ERROR] is None
    assert "empty .gz" in files["x/empty.json.gz"][C.ERROR]


@pytest.mark.slow
def test_the_cli_ingest_exits_0_with_unreadable_files(tmp_path: Path, repo_root: Path) -> None:
    config = project(tmp_path / "cli")
    _drop_bytes(config.paths.landing, bad_landing())
    cli = Path(sys.executable).parent / "groupetl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [str(cli), "--config", str(config.source), "ingest"],
        env=env,
        capture_output=True,
        timeout=900,
        cwd=repo_root,
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err[-3000:]
    assert "6 unreadable" in out + err, out + err
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    assert counts["files_unreadable"] == counts["quarantined_unreadable_file"] == 6, out
    check_balance(counts, "the CLI run")


# -- a file past Java's 2 GB string limit ----------------------------------------------------

HUGE_BYTES = 2_700_000_000  # uncompressed, > 2.5 GiB: past 2^31, the former reader's limit


def _write_huge_gzip(path: Path) -> tuple[int, int]:
    """A gzip file of > HUGE_BYTES of JSON lines (repetitive: compresses ~100x); (bytes, lines)."""
    pad = "x" * 900
    block_lines = 1000
    line = json.dumps({"event_type": "Pad", "user_id": "user-0001", "pad": pad}) + "\n"
    block = (line * block_lines).encode()
    written = lines = 0
    with gzip.open(path, "wb", compresslevel=1) as fh:
        while written <= HUGE_BYTES:
            fh.write(block)
            written += len(block)
            lines += block_lines
        marker = json.dumps({"event_type": "Last", "line": lines + 2}) + "\n"
        fh.write(b"\n" + marker.encode())  # a blank line, then the last line
        written += 1 + len(marker)
        lines += 2
    return written, lines


@pytest.mark.slow
def test_a_gzip_file_past_2_gb_uncompressed_loads_with_exact_line_numbers(
    spark, tmp_path: Path
) -> None:
    config = project(tmp_path / "huge")
    path = config.paths.landing / "amplitude_export" / "huge.json.gz"
    path.parent.mkdir(parents=True)
    try:
        started = time.monotonic()
        size, lines = _write_huge_gzip(path)
        print(
            f"generated {size:,} bytes ({path.stat().st_size:,} gzipped) in "
            f"{time.monotonic() - started:.0f}s"
        )
        assert size > 2.5 * 2**30
        new, _ = split_new(list_landing(config.paths.landing), {})
        started = time.monotonic()
        result = write_bronze_batch(spark, config, new, BATCH, NOW)
        print(f"bronze: {result.lines:,} lines in {time.monotonic() - started:.0f}s")
        assert not result.unreadable
        assert result.lines == lines - 1  # every line but the blank one
        written = bronze.read_batch_lines(spark, config, BATCH)
        last = written.orderBy(F.col(C.LINE_NUMBER).desc()).first()
        assert last[C.LINE_NUMBER] == lines
        assert json.loads(last[C.RAW]) == {"event_type": "Last", "line": lines}
        first = written.filter(F.col(C.LINE_NUMBER) == 1).first()
        assert json.loads(first[C.RAW])["event_type"] == "Pad"
        files = _table(spark, config.paths.table(T.BRONZE_FILES))
        assert [(f["lines"], f[C.ERROR]) for f in files] == [(lines - 1, None)]
    finally:
        path.unlink(missing_ok=True)
        import shutil

        shutil.rmtree(config.paths.root, ignore_errors=True)
