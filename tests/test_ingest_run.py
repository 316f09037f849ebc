"""End-to-end tests of ``groupetl.ingest.run`` on hand-written payloads in the real shapes.

The landing fixture (tests/data/ingest/landing) holds every supported format, every quarantine
reason and every reported issue; it is ingested ONCE per module (``ingested``) and the tests read
the tables it wrote. The expected numbers below were counted by hand from the fixture files.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from groupetl.config import ProjectConfig, load_config
from groupetl.ingest import run
from groupetl.ingest.ledger import apply_displacement
from groupetl.schemas import BRONZE_FILES, T
from groupetl.stages import StageResult

pytestmark = pytest.mark.spark

FIXTURES = Path(__file__).parent / "data" / "ingest" / "landing"
ARRIVAL_MS = 1_769_904_000_000  # 2026-02-01T00:00:00Z: the fixture files' modification time
LIMIT_FILE = "amplitude_group_identify/zz_limit.json"
UTC = dt.timezone.utc

EXPECTED_COUNTS = {
    "files_read": 11,
    "records_read": 61,
    "accepted_events": 17,
    "accepted_group_assignments": 7,
    "accepted_group_property_records": 7,
    "duplicates": 4,
    "quarantined": 26,
    "quarantined_invalid_json": 3,
    "quarantined_not_an_object": 2,
    "quarantined_unknown_format": 2,
    "quarantined_unsupported_message_type": 1,
    "quarantined_missing_event_type": 2,
    "quarantined_missing_user": 2,
    "quarantined_invalid_user_id": 4,
    "quarantined_invalid_time": 4,
    "quarantined_time_out_of_range": 1,
    "quarantined_invalid_group_value": 1,
    "quarantined_invalid_property_operation": 1,
    "quarantined_missing_group": 2,
    "quarantined_property_limit_exceeded": 1,
    "reported_undeclared_group_type": 2,
    "reported_group_limit_exceeded": 1,
    "reported_empty_group_assignment": 1,
    "reported_string_truncated": 1,
    "reported_conflicting_property_operation": 2,
    "silver_event_rows": 17,
    "silver_group_assignment_rows": 7,
    "silver_group_property_op_rows": 16,
}


@dataclass(frozen=True)
class LandingFile:
    relative: str
    data: bytes
    mtime_ms: int


def fixture_files() -> list[LandingFile]:
    """The landing fixture as files to drop; Export files are gzipped as Amplitude sends them."""
    files = []
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file()):
        relative, data = path.relative_to(FIXTURES).as_posix(), path.read_bytes()
        if relative.startswith("amplitude_export/"):
            relative, data = relative + ".gz", gzip.compress(data, mtime=0)
        files.append(LandingFile(relative, data, ARRIVAL_MS))
    # 1001 new keys in one update: past the 1000-key limit. It arrives a day later than the
    # rest, so it is last in record order whatever the batching (see ingest/limits.py).
    props = {f"k{i:04d}": i for i in range(1001)}
    body = {
        "api_key": "k",
        "identification": [
            {"group_type": "company", "group_value": "1009", "group_properties": props}
        ],
    }
    files.append(
        LandingFile(LIMIT_FILE, json.dumps(body).encode() + b"\n", ARRIVAL_MS + 86_400_000)
    )
    return files


def drop(landing: Path, files: list[LandingFile]) -> None:
    """Write files into the landing folder with their fixed modification times."""
    for f in files:
        path = landing / f.relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
        os.utime(path, ns=(f.mtime_ms * 1_000_000,) * 2)


def project(root: Path) -> ProjectConfig:
    """A project config whose data lives under ``root``; declares company and workspace."""
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "conf.yaml"
    conf.write_text(
        f"project: ingest_test\npaths:\n  root: {root}\ngroup_types:\n"
        "  - {name: company, name_property: Account Name}\n"
        "  - {name: workspace, name_property: Workspace Name}\n"
    )
    return load_config(conf)


def rows(spark, path: str, drop_columns: tuple[str, ...] = ("ingested_at",)) -> list[str]:
    """A table's rows as sorted JSON texts (maps with sorted keys), some columns left out."""
    df = spark.read.format("delta").load(path)
    df = df.select(*sorted(c for c in df.columns if c not in drop_columns))
    return sorted(
        json.dumps(r.asDict(recursive=True), default=str, sort_keys=True) for r in df.collect()
    )


def silver_tables(config: ProjectConfig) -> list[str]:
    names = (
        T.SILVER_EVENTS,
        T.SILVER_GROUP_ASSIGNMENTS,
        T.SILVER_GROUP_PROPERTY_OPS,
        T.SILVER_DUPLICATES,
        T.SILVER_REPORTED,
        T.SILVER_RECORDS,
        T.BRONZE_RECORDS,
    )
    return [config.paths.table(n) for n in names] + [str(config.paths.quarantine)]


def read(spark, config: ProjectConfig, table: str) -> list[dict]:
    path = str(config.paths.quarantine) if table == "quarantine" else config.paths.table(table)
    return [r.asDict(recursive=True) for r in spark.read.format("delta").load(path).collect()]


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory: pytest.TempPathFactory) -> tuple[ProjectConfig, StageResult]:
    config = project(tmp_path_factory.mktemp("one_batch"))
    drop(config.paths.landing, fixture_files())
    return config, run(spark, config)


def test_counts_add_up_and_match_the_hand_counted_fixture(ingested) -> None:
    _, result = ingested
    got = {k: result.counts.get(k, 0) for k in EXPECTED_COUNTS}
    assert got == EXPECTED_COUNTS
    c = result.counts
    accepted = (
        c["accepted_events"]
        + c["accepted_group_assignments"]
        + c["accepted_group_property_records"]
    )
    assert c["records_read"] == accepted + c["duplicates"] + c["quarantined"]


def test_counts_equal_the_rows_in_the_tables(spark, ingested) -> None:
    config, result = ingested
    assert len(read(spark, config, T.SILVER_EVENTS)) == result.counts["accepted_events"]
    assert len(read(spark, config, T.SILVER_RECORDS)) == 31
    assert len(read(spark, config, T.SILVER_DUPLICATES)) == result.counts["duplicates"]
    assert len(read(spark, config, "quarantine")) == result.counts["quarantined"]
    assert len(read(spark, config, T.SILVER_REPORTED)) == 7
    assert len(read(spark, config, T.BRONZE_FILES)) == 11
    assert result.counts["lines_read"] == len(read(spark, config, T.BRONZE_RECORDS)) == 21
    log = read(spark, config, T.RUN_LOG)
    assert [(r["stage"], r["status"], r["counts"]["records_read"]) for r in log] == [
        ("ingest", "succeeded", 61)
    ]


def test_each_quarantine_row_points_at_its_raw_record(spark, ingested) -> None:
    config, _ = ingested
    q = {
        (r["source_file"], r["line_number"], r["record_index"]): r
        for r in read(spark, config, "quarantine")
    }
    http = "amplitude_http/http_2026-01-05_001.json"
    assert q[(http, 1, 11)]["reason"] == "invalid_user_id"
    assert (
        '"user_id": "null"' in q[(http, 1, 11)]["raw"]
        or '"user_id":"null"' in q[(http, 1, 11)]["raw"]
    )
    assert "null" in q[(http, 1, 11)]["message"]
    assert q[(http, 2, None)]["reason"] == "invalid_json"
    assert q[(http, 2, None)]["raw"].startswith('{"api_key": "test-key", "events": [{')
    assert q[(http, 3, None)]["reason"] == "unknown_format"
    assert q[(http, 4, None)]["reason"] == "not_an_object"
    assert q[(http, 1, 18)]["reason"] == "not_an_object" and q[(http, 1, 18)]["raw"] == "42"
    reasons = {
        (http, 1, 9): "missing_event_type",
        (http, 1, 10): "missing_user",
        (http, 1, 12): "invalid_user_id",
        (http, 1, 13): "invalid_time",
        (http, 1, 14): "time_out_of_range",
        (http, 1, 15): "invalid_group_value",
        (http, 1, 16): "invalid_property_operation",
        (http, 1, 17): "missing_group",
        ("amplitude_export/123456_2026-01-05_10#0.json.gz", 3, 0): "invalid_time",
        ("amplitude_export/123456_2026-01-05_10#0.json.gz", 5, None): "invalid_json",
        ("segment/segment_001.json", 1, 7): "unsupported_message_type",
        ("segment/segment_001.json", 1, 9): "missing_event_type",
        ("posthog/posthog_001.json", 1, 3): "invalid_time",
        ("other/unknown.json", 1, None): "unknown_format",
        ("other/mixed_export.json", 2, None): "invalid_json",
        (LIMIT_FILE, 1, 0): "property_limit_exceeded",
    }
    assert {k: q[k]["reason"] for k in reasons} == reasons
    assert all(r["message"] and r["record_id"] and r["raw"] for r in q.values())


def _events(spark, config) -> dict[str, dict]:
    return {(e["insert_id"] or e["event_type"]): e for e in read(spark, config, T.SILVER_EVENTS)}


def test_amplitude_http_event_is_normalized(spark, ingested) -> None:
    config, _ = ingested
    e = _events(spark, config)["h-1"]
    assert e["event_time"] == dt.datetime(2026, 1, 5, 10, 0)
    assert e["event_date"] == dt.date(2026, 1, 5)
    assert (e["user_key"], e["user_id"], e["device_id"]) == ("user-0001", "user-0001", "dev-0001")
    assert e["event_properties"] == {"method": "sso", "n": "3", "tags": '["a","b"]'}
    assert e["groups"] == {"company": ["1001"], "workspace": ["w-1", "w-2"]}
    assert (e["source"], e["file_format"], e["seq_ms"], e["record_index"]) == (
        "amplitude",
        "amplitude_http",
        None,
        0,
    )
    device_only = _events(spark, config)["h-9"]
    assert device_only["user_key"] == "dev-0009" and device_only["user_id"] is None


def test_undeclared_types_are_kept_and_limits_cut_the_tracked_groups(spark, ingested) -> None:
    config, _ = ingested
    events = _events(spark, config)
    assert events["h-6"]["groups"] == {"company": ["1001"], "team": ["blue"]}
    # declared types first (company: 8 values, workspace: 2 more reach 10), then nothing else
    assert events["h-7x"]["groups"] == {
        "company": [str(i) for i in range(1, 9)],
        "workspace": ["w1", "w2"],
    }
    reported = {(r["reason"], r["detail"]) for r in read(spark, config, T.SILVER_REPORTED)}
    assert ("undeclared_group_type", "team") in reported
    assert ("undeclared_group_type", "[Segment] Group") in reported
    assert any(
        reason == "group_limit_exceeded" and "6 group types with 15 values" in d
        for reason, d in reported
    )
    assert ("string_truncated", "event_properties") in reported
    assert len(events["h-8"]["event_properties"]["note"]) == 1024


def test_identifies_assign_user_level_groups(spark, ingested) -> None:
    config, _ = ingested
    got = {
        (a["user_key"], a["group_type"], tuple(a["group_values"]), a["assigned_at"], a["source"])
        for a in read(spark, config, T.SILVER_GROUP_ASSIGNMENTS)
    }
    arrival = dt.datetime(2026, 2, 1)
    assert got == {
        ("user-0001", "company", ("1001",), dt.datetime(2026, 1, 5, 9, 58, 20), "amplitude"),
        ("user-0001", "workspace", ("w-1",), dt.datetime(2026, 1, 5, 9, 58, 20), "amplitude"),
        ("user-0005", "company", ("1003",), dt.datetime(2026, 1, 5, 10, 0, 9), "amplitude"),
        ("user-0006", "company", ("1004",), arrival, "amplitude"),  # Identify API: arrival time
        ("u-2", "company", ("1006",), dt.datetime(2026, 1, 5, 9, 0), "segment"),
        ("u-2", "company", ("1007",), dt.datetime(2026, 1, 5, 9, 30), "segment"),
        ("u-2", "[Segment] Group", ("g-8",), dt.datetime(2026, 1, 5, 9, 31), "segment"),
    }
    reported = {(r["reason"], r["detail"]) for r in read(spark, config, T.SILVER_REPORTED)}
    assert ("empty_group_assignment", "company") in reported


def test_group_property_operations_from_every_source(spark, ingested) -> None:
    config, _ = ingested
    ops = {
        (
            o["group_type"],
            o["group_value"],
            o["operation"],
            o["property"],
            o["value_json"],
            o["origin"],
        )
        for o in read(spark, config, T.SILVER_GROUP_PROPERTY_OPS)
    }
    assert ops == {
        # event group_properties: plain value -> $set, operation map kept (origin event)
        ("company", "1002", "$set", "plan", '"pro"', "event"),
        ("company", "1002", "$add", "seats", "5", "event"),
        # $groupidentify over HTTP
        ("company", "1001", "$set", "Account Name", '"Acme Inc"', "group_identify"),
        ("company", "1001", "$set", "region", '"EMEA"', "group_identify"),
        ("company", "1001", "$setOnce", "created", '"2026-01-01"', "group_identify"),
        ("company", "1001", "$unset", "legacy", '"-"', "group_identify"),
        ("company", "1001", "$append", "tags", '"new"', "group_identify"),
        # one property under $set and $unset: $set applies (table order), $unset is reported
        ("workspace", "w-1", "$set", "Workspace Name", '"Main"', "group_identify"),
        # Group Identify API: plain values; $clearAll makes the rest of its record ignored
        ("company", "1004", "$set", "Account Name", '"Beta GmbH"', "group_identify"),
        ("company", "1004", "$set", "plan", '"free"', "group_identify"),
        ("company", "1001", "$clearAll", None, None, "group_identify"),
        # Segment group call: all traits, the type and value traits included
        ("company", "1007", "$set", "group_type", '"company"', "group_identify"),
        ("company", "1007", "$set", "group_value", '"1007"', "group_identify"),
        ("company", "1007", "$set", "name", '"Gamma"', "group_identify"),
        ("company", "1007", "$set", "employees", "50", "group_identify"),
        # PostHog $groupidentify
        ("company", "1008", "$set", "name", '"Epsilon"', "group_identify"),
    }
    reported = {(r["reason"], r["detail"]) for r in read(spark, config, T.SILVER_REPORTED)}
    assert ("conflicting_property_operation", "$unset Workspace Name ignored") in reported
    assert ("conflicting_property_operation", "$set plan ignored") in reported


def test_export_lines_are_read_from_gzip_with_times_and_sequence(spark, ingested) -> None:
    config, _ = ingested
    e = _events(spark, config)["x-1"]
    assert e["event_time"] == dt.datetime(2026, 1, 5, 10, 30)
    assert e["seq_ms"] == int(dt.datetime(2026, 1, 5, 10, 31, tzinfo=UTC).timestamp() * 1000)
    assert e["file_format"] == "amplitude_export" and e["line_number"] == 1
    assert e["event_properties"] == {"amount": "120.5"}
    sniffed = _events(spark, config)["x-9"]
    assert (sniffed["file_format"], sniffed["source_file"]) == (
        "amplitude_export",
        "other/mixed_export.json",
    )


def test_segment_messages_map_like_amplitudes_destination(spark, ingested) -> None:
    config, _ = ingested
    events = {
        e["insert_id"]: e for e in read(spark, config, T.SILVER_EVENTS) if e["source"] == "segment"
    }
    assert {k: e["event_type"] for k, e in events.items()} == {
        "s-1": "Pay Invoice",
        "s-2": "Viewed Dashboard Page",
        "s-3": "Loaded a Page",
        "s-4": "Viewed Home Screen",
        "s-11": "Login",
    }
    track = events["s-1"]
    assert track["event_time"] == dt.datetime(2026, 1, 5, 10, 0)  # 12:00+02:00
    assert track["seq_ms"] == int(dt.datetime(2026, 1, 5, 10, 0, 1, tzinfo=UTC).timestamp() * 1000)
    assert track["groups"] == {"company": ["1001"]}
    assert (track["user_key"], track["device_id"]) == ("u-1", "anon-1")
    assert events["s-3"]["user_key"] == "anon-2"
    # no receivedAt: the batch's sentAt is the source sequence
    assert events["s-4"]["seq_ms"] == int(
        dt.datetime(2026, 1, 5, 10, 0, 0, 500000, tzinfo=UTC).timestamp() * 1000
    )


def test_posthog_events_groups_and_identifies(spark, ingested) -> None:
    config, _ = ingested
    e = _events(spark, config)["p-1"]
    assert (e["event_type"], e["user_key"], e["groups"]) == (
        "$pageview",
        "ph-1",
        {"company": ["1001"]},
    )
    assert e["event_properties"] == {"$current_url": "https://app.example.com/x"}
    kinds = {
        (r["source"], r["record_kind"])
        for r in read(spark, config, T.SILVER_RECORDS)
        if r["source"] == "posthog"
    }
    assert kinds == {
        ("posthog", "event"),
        ("posthog", "group_property"),
        ("posthog", "group_assignment"),
    }


def test_duplicates_keep_the_first_in_record_order(spark, ingested) -> None:
    config, _ = ingested
    dups = read(spark, config, T.SILVER_DUPLICATES)
    by_key = {(d["user_key"], d["insert_id"]): d for d in dups}
    assert set(by_key) == {
        ("user-0004", "h-dup"),
        ("user-0004", "h-10"),
        ("user-0008", "x-1"),
        ("u-1", "s-1"),
    }
    # same time, no sequence: the earlier file wins over the re-send in a later file
    assert (
        by_key[("user-0004", "h-dup")]["source_file"] == "amplitude_http/http_2026-01-05_002.json"
    )
    # same time: the later server_upload_time / receivedAt is the duplicate
    assert by_key[("user-0008", "x-1")]["line_number"] == 2
    assert by_key[("u-1", "s-1")]["record_index"] == 8
    accepted = {r["record_id"] for r in read(spark, config, T.SILVER_RECORDS)}
    assert all(d["kept_record_id"] in accepted for d in dups)


def test_a_second_run_with_the_same_files_changes_nothing(spark, ingested) -> None:
    config, _ = ingested
    before = {p: rows(spark, p) for p in silver_tables(config)}
    touched = config.paths.landing / "segment" / "segment_001.json"
    os.utime(touched, ns=((ARRIVAL_MS + 5) * 1_000_000,) * 2)  # "changed": skipped, counted
    # a bronze file row without its batch's bronze commit: a run killed mid-bronze left it
    orphan = spark.createDataFrame(
        [
            (
                "gone.json",
                "segment",
                3,
                dt.datetime(2026, 2, 1, tzinfo=UTC),
                "b-orphan",
                dt.datetime.now(UTC),
                1,
                None,
            )
        ],
        BRONZE_FILES,
    )
    orphan.write.format("delta").mode("append").save(config.paths.table(T.BRONZE_FILES))
    result = run(spark, config)
    assert result.counts["files_read"] == 0 and result.counts["records_read"] == 0
    assert result.counts["files_changed_skipped"] == 1
    assert "batch b-orphan: interrupted before its bronze commit, read again" in result.notes
    assert {r["source_file"] for r in read(spark, config, T.BRONZE_FILES)} == {
        f.relative for f in fixture_files()
    }
    assert {p: rows(spark, p) for p in silver_tables(config)} == before
    os.utime(touched, ns=(ARRIVAL_MS * 1_000_000,) * 2)


def test_five_shuffled_batches_give_the_same_tables_as_one(spark, ingested, tmp_path: Path) -> None:
    one_config, _ = ingested
    config = project(tmp_path / "five")
    files = fixture_files()
    by_name = {f.relative: f for f in files}
    # The re-send (002) lands before the original (001): the original displaces it later.
    order = [
        ["amplitude_http/http_2026-01-05_002.json", "segment/segment_001.json"],
        ["posthog/posthog_001.json", "other/unknown.json", "amplitude_identify/identify_001.json"],
        ["amplitude_http/http_2026-01-05_001.json"],
        [
            "amplitude_export/123456_2026-01-05_10#0.json.gz",
            "other/mixed_export.json",
            "amplitude_batch/batch_001.json",
        ],
        ["amplitude_group_identify/group_001.json", LIMIT_FILE],
    ]
    assert sorted(n for names in order for n in names) == sorted(by_name)
    moved = 0
    for names in order:
        drop(config.paths.landing, [by_name[n] for n in names])
        moved += run(spark, config).counts.get("moved_to_duplicates", 0)
    assert moved == 1
    ignore = ("ingested_at", "batch_id")
    for one, five in zip(silver_tables(one_config), silver_tables(config), strict=True):
        assert rows(spark, five, ignore) == rows(spark, one, ignore), five
    # moving displaced records is derived from the tables: applying it again changes nothing
    (displacing,) = [
        r["batch_id"] for r in read(spark, config, T.INGEST_BATCHES) if r["status"] == "silver"
    ]
    before = {p: rows(spark, p) for p in silver_tables(config)}
    apply_displacement(spark, config, displacing)
    assert {p: rows(spark, p) for p in silver_tables(config)} == before


@pytest.mark.slow
def test_sigkill_after_bronze_then_rerun_equals_a_clean_run(
    spark, ingested, tmp_path: Path
) -> None:
    clean_config, _ = ingested
    config = project(tmp_path / "crash")
    drop(config.paths.landing, fixture_files())
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from groupetl.config import load_config\n"
        "from groupetl.ingest import run\n"
        "from groupetl.session import build_session\n"
        "config = load_config(sys.argv[1])\n"
        "spark = build_session(master='local[1]', warehouse=config.paths.warehouse, profile='test')\n"
        "run(spark, config)\n"
    )
    env = {
        **os.environ,
        "GROUPETL_TEST_CRASH_AFTER": "bronze",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(config.source)],
        env=env,
        capture_output=True,
        timeout=600,
    )
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    ledger = read(spark, config, T.INGEST_BATCHES)
    assert [r["status"] for r in ledger] == ["bronze"]
    assert not os.path.exists(config.paths.table(T.SILVER_EVENTS))

    result = run(spark, config)
    assert result.counts["records_read"] == EXPECTED_COUNTS["records_read"]
    assert result.counts["files_read"] == 0
    for clean, crashed in zip(silver_tables(clean_config), silver_tables(config), strict=True):
        assert rows(spark, crashed) == rows(spark, clean), crashed
    shutil.rmtree(config.paths.root)
