"""The synthetic data generator: determinism, wire formats, and a manifest that is exactly right.

Spark-free. The manifest is checked against an independent, deliberately plain re-reading of the
files (``_Census``): it parses every line with ``json`` / ``gzip`` and classifies every record by
the rules of docs/semantics.md "Bad input", so a counting bug in the generator cannot hide behind
the generator's own bookkeeping.
"""

from __future__ import annotations

import dataclasses
import datetime
import gzip
import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from groupetl.errors import InputError
from groupetl.generate import FORMATS, GeneratorSpec, Manifest, event_group_names, generate
from groupetl.reasons import Quarantine

SMALL = GeneratorSpec(
    seed=7, companies=8, users_per_company=5, days=3, events=4_000, malformed_share=0.02,
    duplicate_share=0.03,
)  # fmt: skip
FAULTY = GeneratorSpec(
    seed=11, companies=6, users_per_company=4, days=2, events=3_000, malformed_share=0.3,
    duplicate_share=0.1,
)  # fmt: skip
# docs/semantics.md "Bad input": ids Amplitude refuses, and the default options.min_id_length.
REFUSED_IDS = {
    "null",
    "none",
    "undefined",
    "unknown",
    "0",
    "-1",
    "0" * 8 + "-0000" * 3 + "-" + "0" * 12,
}
MIN_ID_LENGTH = 5


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("small")
    return out, generate(SMALL, out)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("faulty")
    return out, generate(FAULTY, out)


# -- an independent reading of the files ------------------------------------------------------


@dataclass
class _Record:
    fmt: str
    kind: str  # as in the manifest: events | identifies | group_identifies
    user: str | None  # user key: user id, else device id
    time: datetime.datetime
    body: dict[str, Any]
    groups: dict[str, Any]
    position: tuple[str, int]  # (file name, line number)


@dataclass
class _Census:
    files: Counter[str] = field(default_factory=Counter)
    lines: Counter[str] = field(default_factory=Counter)
    records: int = 0
    accepted: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    quarantined_by_format: dict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    assignments: int = 0
    property_ops: int = 0
    kept: list[_Record] = field(default_factory=list)
    resent: list[tuple[_Record, _Record]] = field(default_factory=list)  # (original, re-send)


def _landing_lines(root: Path) -> Iterator[tuple[str, str, int, str]]:
    """(format, file name, line number, text) of every line, files in name order."""
    for fmt in FORMATS:
        for path in sorted((root / "landing" / fmt).iterdir()):
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as handle:
                for number, text in enumerate(handle):
                    yield fmt, path.name, number, text.rstrip("\n")


def _take_census(root: Path, spec: GeneratorSpec) -> _Census:
    census = _Census()
    seen: dict[tuple[str | None, str], _Record] = {}
    for fmt in FORMATS:
        census.files[fmt] = len(list((root / "landing" / fmt).iterdir()))
        census.lines[fmt] = 0
    for fmt, name, number, text in _landing_lines(root):
        census.lines[fmt] += 1
        try:
            payload = json.loads(text)
        except ValueError:
            census.records += 1
            census.quarantined[Quarantine.INVALID_JSON] += 1
            census.quarantined_by_format[fmt][Quarantine.INVALID_JSON] += 1
            continue
        items = {"amplitude_http": lambda p: p["events"], "segment": lambda p: p["batch"]}
        for item in items.get(fmt, lambda p: [p])(payload):
            census.records += 1
            record_or_reason = _classify(fmt, item, spec, (name, number))
            if isinstance(record_or_reason, str):
                census.quarantined[record_or_reason] += 1
                census.quarantined_by_format[fmt][record_or_reason] += 1
                continue
            record = record_or_reason
            key = (
                record.user,
                item.get("insert_id") or item.get("$insert_id") or item.get("messageId"),
            )
            if key in seen:
                census.duplicates += 1
                census.resent.append((seen[key], record))
                continue
            seen[key] = record
            census.kept.append(record)
            census.accepted[record.kind] += 1
            census.assignments += _assignment_rows(record)
            census.property_ops += _property_op_rows(record)
    return census


def _classify(
    fmt: str, item: dict[str, Any], spec: GeneratorSpec, position: tuple[str, int]
) -> _Record | str:
    """The record, or the reason it must be quarantined.

    Every check runs, and at most one may fail: an injected fault must give the same reason
    whatever order an ingester checks in.
    """
    if fmt == "segment":
        kind = {"identify": "identifies", "group": "group_identifies"}.get(item["type"], "events")
        has_type = item["type"] != "track" or "event" in item
        user_id, device_id = item.get("userId"), item.get("anonymousId")
        groups = item.get("integrations", {}).get("Amplitude", {}).get("groups", {})
        if item["type"] == "group":  # the group named by the configured traits
            traits = item["traits"]
            groups = {traits[spec.segment_group_type_trait]: traits[spec.segment_group_value_trait]}
        time = _parse_iso(item["timestamp"])
    else:
        event_type = item.get("event_type")
        has_type = event_type is not None
        kind = {"$identify": "identifies", "$groupidentify": "group_identifies"}.get(
            event_type, "events"
        )
        user_id, device_id = item.get("user_id"), item.get("device_id")
        groups = item.get("groups", {})
        if fmt == "amplitude_http":
            raw = item["time"]
            time = (
                datetime.datetime.fromtimestamp(raw / 1000, datetime.timezone.utc)
                if isinstance(raw, int)
                else None
            )
        else:
            time = _parse_export_time(item["event_time"])
    user = next((i for i in (user_id, device_id) if _valid_id(i)), None)
    values = [
        v for value in groups.values() for v in (value if isinstance(value, list) else [value])
    ]
    failed = [
        reason
        for reason, failing in (
            (Quarantine.MISSING_EVENT_TYPE, not has_type),
            (
                Quarantine.MISSING_USER,
                user_id is None and device_id is None and kind != "group_identifies",
            ),
            (Quarantine.INVALID_USER_ID, user is None and (user_id, device_id) != (None, None)),
            (Quarantine.INVALID_TIME, time is None),
            (Quarantine.TIME_OUT_OF_RANGE, time is not None and not 2000 <= time.year < 2100),
            (Quarantine.INVALID_GROUP_VALUE, not all(isinstance(v, str) for v in values)),
        )
        if failing
    ]
    assert len(failed) <= 1, (failed, item)
    if failed:
        return failed[0]
    assert time is not None
    return _Record(fmt, kind, user, time, item, groups, position)


def _valid_id(value: object) -> bool:
    return isinstance(value, str) and len(value) >= MIN_ID_LENGTH and value not in REFUSED_IDS


def _parse_iso(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _parse_export_time(text: str) -> datetime.datetime | None:
    try:
        parsed = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f")
    except ValueError:
        return None
    return parsed.replace(tzinfo=datetime.timezone.utc)


def _assignment_rows(record: _Record) -> int:
    """Identify records and Segment group calls assign their groups to the user."""
    if record.kind == "identifies" or (
        record.kind == "group_identifies" and record.fmt == "segment"
    ):
        return sum(1 for value in record.groups.values() if value not in ("", [], None))
    return 0


def _property_op_rows(record: _Record) -> int:
    if record.kind != "group_identifies":
        return 0
    if record.fmt == "segment":
        return len(record.body["traits"])
    return sum(len(keys) for keys in record.body["group_properties"].values())


def _digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# -- determinism --------------------------------------------------------------------------------


def test_same_spec_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    spec = GeneratorSpec(seed=3, companies=5, users_per_company=4, days=2, events=1_500)
    generate(spec, tmp_path / "a")
    generate(spec, tmp_path / "b")
    generate(dataclasses.replace(spec, seed=4), tmp_path / "c")
    first, second, other = (_digests(tmp_path / name) for name in "abc")
    assert len(first) > 10
    assert first == second
    assert first != other


def test_export_files_have_a_fixed_gzip_header(small: tuple[Path, Manifest]) -> None:
    root, _ = small
    for path in (root / "landing" / "amplitude_export").iterdir():
        header = path.read_bytes()[:10]
        assert header[:2] == b"\x1f\x8b"
        assert header[4:8] == b"\x00\x00\x00\x00", f"{path.name}: gzip mtime must be 0"


# -- the manifest -------------------------------------------------------------------------------


def test_manifest_adds_up_and_is_written_as_sorted_json(small: tuple[Path, Manifest]) -> None:
    root, manifest = small
    data = manifest.to_dict()
    classified = (
        sum(data["accepted"].values()) + data["duplicates"] + sum(data["quarantined"].values())
    )
    assert data["records_total"] == classified
    text = (root / "manifest.json").read_text(encoding="utf-8")
    assert text == json.dumps(data, sort_keys=True, indent=2) + "\n"
    assert Manifest.read(root) == manifest
    assert data["spec"] == json.loads(json.dumps(SMALL.to_dict()))


@pytest.mark.parametrize("fixture", ["small", "faulty"])
def test_every_record_in_the_files_is_where_the_manifest_says(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    root, manifest = request.getfixturevalue(fixture)
    spec = SMALL if fixture == "small" else FAULTY
    data = manifest.to_dict()
    census = _take_census(root, spec)
    assert dict(census.files) == data["files"]
    assert dict(census.lines) == data["lines"]
    assert census.records == data["records_total"]
    assert census.accepted == Counter(data["accepted"])
    assert census.duplicates == data["duplicates"]
    assert {k: v for k, v in data["quarantined"].items() if v} == dict(census.quarantined)
    assert data["silver_rows"] == {
        "events": census.accepted["events"],
        "group_assignments": census.assignments,
        "group_property_ops": census.property_ops,
    }
    users = {r.user for r in census.kept if r.kind == "identifies"}
    companies = {r.groups[spec.group_types[0]] for r in census.kept if r.kind == "group_identifies"}
    assert (data["users"], data["companies"]) == (len(users), len(companies))
    assert data["users"] == spec.companies * spec.users_per_company
    assert data["moves"] == data["accepted"]["identifies"] - data["users"]


def test_every_fault_type_appears_in_every_format(faulty: tuple[Path, Manifest]) -> None:
    root, manifest = faulty
    census = _take_census(root, FAULTY)
    for fmt in FORMATS:
        assert set(census.quarantined_by_format[fmt]) == set(manifest.quarantined), fmt
    assert all(count > 0 for count in manifest.quarantined.values())


def test_a_resend_comes_after_its_original_in_record_order(faulty: tuple[Path, Manifest]) -> None:
    root, manifest = faulty
    census = _take_census(root, FAULTY)
    assert len(census.resent) == manifest.duplicates > 0
    for original, resend in census.resent:
        assert original.position < resend.position
        assert original.time == resend.time
        source_sequence = {"segment": "receivedAt", "amplitude_export": "server_upload_time"}
        if original.fmt in source_sequence:
            key = source_sequence[original.fmt]
            assert original.body[key] < resend.body[key]


# -- the scenario -------------------------------------------------------------------------------


def test_users_are_assigned_before_their_first_event(small: tuple[Path, Manifest]) -> None:
    root, _ = small
    first_identify: dict[str, datetime.datetime] = {}
    first_event: dict[str, datetime.datetime] = {}
    for record in _take_census(root, SMALL).kept:
        target = {"identifies": first_identify, "events": first_event}.get(record.kind)
        if target is not None and record.user is not None and record.user.startswith("u"):
            target[record.user] = min(target.get(record.user, record.time), record.time)
    assert first_event
    for user, time in first_event.items():
        assert first_identify[user] < time, user


def test_companies_are_named_before_any_record_names_them(small: tuple[Path, Manifest]) -> None:
    root, _ = small
    primary = SMALL.group_types[0]
    named: dict[str, datetime.datetime] = {}
    referenced: dict[str, datetime.datetime] = {}
    for record in _take_census(root, SMALL).kept:
        value = record.groups.get(primary)
        if record.kind == "group_identifies":
            props = record.body.get("group_properties", {}).get("$set") or record.body.get("traits")
            if props and "Account Name" in props:
                named[value] = min(named.get(value, record.time), record.time)
        elif value is not None:
            referenced[value] = min(referenced.get(value, record.time), record.time)
    assert referenced
    for company, time in referenced.items():
        assert named[company] < time, company


def test_the_data_has_device_only_events_moves_and_multi_valued_workspaces(
    small: tuple[Path, Manifest],
) -> None:
    root, manifest = small
    kept = _take_census(root, SMALL).kept
    events = [r for r in kept if r.kind == "events"]
    assert any(r.user is not None and r.user.startswith("d") for r in events)
    assert manifest.moves > 0
    assignments = defaultdict(set)
    for record in kept:
        if record.kind == "identifies":
            assignments[record.user].update(record.groups.values())
    assert sum(len(values) > 1 for values in assignments.values()) == manifest.moves
    workspaces = [r.groups.get("workspace") for r in events]
    assert any(isinstance(w, list) and 2 <= len(w) <= 3 for w in workspaces)
    own_company = {f"u{v}": v for v in range(1001, 1001 + SMALL.companies)}
    assert any(
        r.groups.get("company") not in (None, own_company.get(r.user.split("_")[0]))
        for r in events
        if r.user and r.user.startswith("u")
    )


def test_event_group_names_cover_every_workspace_the_data_uses(
    small: tuple[Path, Manifest],
) -> None:
    """``groupetl demo`` names the workspaces from ``event_group_names``: it must rebuild the
    generator's world exactly, so every workspace an event names has a name, and names differ."""
    root, _ = small
    names = event_group_names(SMALL)
    used = set()
    for record in _take_census(root, SMALL).kept:
        value = record.groups.get("workspace") if record.kind == "events" else None
        used.update(value if isinstance(value, list) else [value] if value else [])
    assert used and used <= set(names), sorted(used - set(names))[:5]
    assert len(set(names.values())) == len(names)
    assert names[min(used)].endswith(f" workspace {min(used).split('_')[1]}")


def test_a_segment_group_call_never_moves_its_sender(small: tuple[Path, Manifest]) -> None:
    root, _ = small
    kept = sorted(_take_census(root, SMALL).kept, key=lambda r: r.time)
    identifies = defaultdict(list)  # user -> [(time, company)]
    for record in kept:
        if record.kind == "identifies":
            identifies[record.user].append((record.time, record.groups["company"]))
    calls = [r for r in kept if r.kind == "group_identifies" and r.fmt == "segment"]
    assert calls
    for call in calls:
        history = identifies[call.user]
        before = [company for time, company in history if time <= call.time]
        assert (before[-1] if before else history[0][1]) == call.groups["company"]


def test_segment_group_calls_carry_the_configured_traits(tmp_path: Path) -> None:
    spec = GeneratorSpec(
        seed=5, companies=6, users_per_company=3, days=2, events=800, segment_share=0.9,
        export_share=0.0, group_types=("org_id", "team"), segment_group_type_trait="gt",
        segment_group_value_trait="gv",
    )  # fmt: skip
    manifest = generate(spec, tmp_path)
    groups = [r for r in _take_census(tmp_path, spec).kept if r.kind == "group_identifies"]
    segment_calls = [r.body for r in groups if r.fmt == "segment"]
    assert segment_calls
    for call in segment_calls:
        assert call["traits"]["gt"] == "org_id"
        assert call["traits"]["gv"] == call["groupId"]
    assert manifest.files["amplitude_export"] == 0


# -- spec validation and the output folder ------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"companies": 0}, "companies"),
        ({"users_per_company": -1}, "users_per_company"),
        ({"days": 0}, "days"),
        ({"events": 0}, "events"),
        ({"seed": 1.5}, "seed"),
        ({"malformed_share": 1.5}, "malformed_share"),
        ({"duplicate_share": -0.1}, "duplicate_share"),
        ({"segment_share": 0.7, "export_share": 0.7}, "segment_share + export_share"),
        ({"group_types": ("company", "company")}, "group_types"),
        ({"group_types": ("company", "")}, "group_types"),
        ({"group_types": ("company",)}, "group_types"),
        ({"start_date": datetime.datetime(2026, 1, 1)}, "start_date"),
        ({"segment_group_type_trait": "x", "segment_group_value_trait": "x"}, "segment_group"),
    ],
)
def test_an_invalid_spec_is_refused_naming_the_field(
    change: dict[str, Any], field_name: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(f"GeneratorSpec.{field_name}")) as refused:
        GeneratorSpec(**change)
    assert isinstance(refused.value, InputError)  # so the CLI prints it without a traceback


def test_generated_files_are_never_mixed_with_earlier_ones(tmp_path: Path) -> None:
    spec = GeneratorSpec(seed=1, companies=3, users_per_company=2, days=1, events=300)
    generate(spec, tmp_path)
    with pytest.raises(FileExistsError, match="replace=True") as refused:
        generate(spec, tmp_path)
    assert isinstance(refused.value, InputError)
    manifest = generate(dataclasses.replace(spec, days=2), tmp_path, replace=True)
    assert sum(1 for _ in (tmp_path / "landing").rglob("*.*")) == sum(manifest.files.values())


def test_progress_reports_each_day(tmp_path: Path) -> None:
    messages: list[str] = []
    generate(
        GeneratorSpec(companies=2, users_per_company=2, days=3, events=200),
        tmp_path,
        messages.append,
    )
    assert [m.split()[1] for m in messages] == ["2026-01-01:", "2026-01-02:", "2026-01-03:"]
