"""Spark-free tests of format detection, landing discovery and small helpers of the ingest stage."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from groupetl.ingest.formats import Format, detect_format, format_of, sniff_file
from groupetl.ingest.functions import json_path
from groupetl.ingest.landing import batch_id_for, list_landing, split_new


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ({"api_key": "k", "events": [{"event_type": "Login"}]}, Format.AMPLITUDE_HTTP),
        ({"api_key": "k", "identification": [{"user_id": "u"}]}, Format.AMPLITUDE_IDENTIFY),
        (
            {"api_key": "k", "identification": json.dumps([{"group_type": "company"}])},
            Format.AMPLITUDE_GROUP_IDENTIFY,
        ),
        ({"batch": [{"type": "track"}], "sentAt": "2026-01-05T10:00:00Z"}, Format.SEGMENT),
        ({"api_key": "phc", "batch": [{"event": "$pageview"}]}, Format.POSTHOG),
        ({"type": "identify", "userId": "u"}, Format.SEGMENT),
        ({"event": "clicked", "distinct_id": "d"}, Format.POSTHOG),
        (
            {"event_type": "Login", "event_time": "2026-01-05 10:00:00.000000"},
            Format.AMPLITUDE_EXPORT,
        ),
        ({"foo": 1}, Format.UNKNOWN),
        ({"batch": [1]}, Format.UNKNOWN),
        ([1, 2], Format.UNKNOWN),
    ],
)
def test_detect_format_follows_the_documented_rules(line: object, expected: str) -> None:
    assert detect_format(line) == expected


def test_sniffing_skips_blank_and_broken_lines_and_reads_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.json.gz"
    body = "\n\nnot json\n" + json.dumps({"event_type": "Login"}) + "\n"
    path.write_bytes(gzip.compress(body.encode("utf-8")))
    assert sniff_file(path) == Format.AMPLITUDE_EXPORT


def test_a_format_folder_decides_without_sniffing(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"event_type": "Login"}) + "\n")
    assert format_of("segment/2026/f.json", path) == Format.SEGMENT
    assert format_of("misc/f.json", path) == Format.AMPLITUDE_EXPORT
    assert format_of("f.json", path) == Format.AMPLITUDE_EXPORT


def test_landing_listing_ignores_hidden_files_and_spots_changed_ones(tmp_path: Path) -> None:
    (tmp_path / "segment").mkdir()
    (tmp_path / "segment" / "a.json").write_text("{}\n")
    (tmp_path / "segment" / ".a.json.crc").write_text("x")
    (tmp_path / "segment" / "_SUCCESS").write_text("")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "b.json").write_text("{}\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "b.json").write_text("{}\n")
    os.utime(tmp_path / "other" / "b.json", ns=(1_700_000_000_123_000_000,) * 2)
    files = list_landing(tmp_path)
    assert [f.relative for f in files] == ["other/b.json", "segment/a.json"]
    assert files[0].mtime_ms == 1_700_000_000_123

    seen = {"other/b.json": (files[0].size, files[0].mtime_ms), "segment/a.json": (3, 1)}
    new, changed = split_new(files, seen)
    assert new == [] and [f.relative for f in changed] == ["segment/a.json"]
    new, _ = split_new(files, {})
    assert [(n.file.relative, n.file_format) for n in new] == [
        ("other/b.json", Format.UNKNOWN),
        ("segment/a.json", Format.SEGMENT),
    ]
    assert batch_id_for(new) == batch_id_for(list(reversed(new)))
    assert batch_id_for(new) != batch_id_for(new[:1])


def test_list_landing_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert list_landing(tmp_path / "nope") == []


def test_json_path_quotes_every_segment() -> None:
    assert json_path("integrations.Amplitude.groups") == "$['integrations']['Amplitude']['groups']"
    assert json_path("context.my groups") == "$['context']['my groups']"
