"""A deterministic, fault-rich landing corpus in three batches, and a canonical dump of what
``groupetl.ingest.run`` writes from it (issue 16: old-vs-new equivalence of the ingest stage).

The corpus (``corpus_batches()``), all seeded, every file with a fixed modification time:

- batch 1 and 2: the project's generator output (``groupetl.generate``, malformed and duplicate
  shares > 0), its later days in batch 1 and its first day in batch 2, so the generator's
  re-sends cross batches and the earlier originals displace accepted re-sends;
- batch 1: the hand fixtures of tests/data/ingest/landing (under ``<format>/fixtures/``);
- batches 1-3: a randomized edge-case corpus in every format (Amplitude HTTP V2, Batch, Export,
  Identify API incl. ``identification`` as a JSON string, Group Identify API; Segment
  track/identify/group/page/screen/alias, single and batch; PostHog single and batch), plus
  explicit scenarios: every quarantine reason and their precedence, every reported issue,
  duplicate JSON keys, group value types, > 5 types and > 10 values, mixed property operations,
  long strings, refused and short ids, time encodings, BOM, CRLF, blank and tab lines, empty
  lists, non-object items, non-JSON lines, sniffed and unknown files, hidden files, empty files,
  insert_id duplicates within and across batches, displacement chains, records without insert
  id, the 1000 group property key limit crossed by batch 3 (> 1000 new keys in one batch), a
  changed already-ingested file (``files_changed_skipped``).

``ingest_corpus(spark, root)`` lands the three batches one after the other and runs one ingest
per batch; ``dump(spark, config, results)`` returns every table the ingest writes in canonical
form (see ``TABLES`` and ``canonical_rows``). tests/ingest_golden.py writes the dumps as goldens;
tests/test_ingest_equivalence.py compares the current code's dumps with them.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groupetl.ingest.properties import OPERATIONS

SEED = 16
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
ARRIVALS_MS = (1_769_904_000_000, 1_769_990_400_000, 1_770_076_800_000)  # 2026-02-01/02/03 UTC
T0 = 1_768_003_200_000  # 2026-01-10T00:00:00Z: edge-case event times start here
FIXTURES = Path(__file__).resolve().parent / "data" / "ingest" / "landing"
GOLDEN_DIR = Path(__file__).resolve().parent / "data" / "ingest_equivalence"
GENERATOR_SPEC = {
    "seed": SEED,
    "companies": 5,
    "users_per_company": 4,
    "days": 3,
    "events": 900,
    "malformed_share": 0.08,
    "duplicate_share": 0.06,
}
DECLARED = ("company", "workspace", "playlist", "org_id")
CONFIG_YAML = """project: equivalence
paths:
  root: {root}
group_types:
  - {{name: company, name_property: Account Name}}
  - {{name: workspace, name_property: Workspace Name}}
  - {{name: playlist, name_property: Playlist Name}}
  - {{name: org_id, name_property: Org Name}}
segment:
  group_type_trait: group_type
  group_value_trait: group_value
sources:
  posthog: {{min_id_length: 3}}
"""

# Tables dumped, name -> (location, columns left out). Left out: ``ingested_at`` (wall clock of
# the run), the ledger's ``finished_at`` and the run log's ``run_id`` (uuid4), ``started_at``
# and ``finished_at`` (wall clock). Everything else is a function of the input files, their
# modification times and the config. ``batch_id`` is kept: it is derived from the files' paths,
# sizes and modification times, which the corpus fixes.
TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "bronze_files": ("bronze/files", ("ingested_at",)),
    "bronze_records": ("bronze/records", ("ingested_at",)),
    "silver_records": ("silver/records", ()),
    "silver_events": ("silver/events", ()),
    "silver_group_assignments": ("silver/group_assignments", ()),
    "silver_group_property_ops": ("silver/group_property_ops", ()),
    "silver_reported": ("silver/reported", ()),
    "silver_duplicates": ("silver/duplicates", ()),
    "quarantine": ("<quarantine>", ("ingested_at",)),
    "ingest_batches": ("ops/ingest_batches", ("finished_at",)),
    "run_log": ("ops/run_log", ("run_id", "started_at", "finished_at")),
}
# Not tables: what each run returned, and the corpus files themselves (so a changed generator
# or fixture shows up as "the corpus changed", not as a thousand row differences).
# ``reason_codes``: the Quarantine and Reported codes of the implementation that wrote the
# dump, so a coverage check can compare with the reference's list, not the code under test's.
EXTRA_DUMPS = ("run_results", "corpus_files", "reason_codes")
DUMPS = (*TABLES, *EXTRA_DUMPS)


# ---------------------------------------------------------------------------------------------
# JSON text with control over key repetition and number spelling


class Raw(str):
    """JSON text written verbatim (``1.50``, ``1e3``, a 30-digit integer, broken JSON)."""


class Obj:
    """A JSON object as ordered (key, value) pairs; a key may repeat (read as its last value)."""

    def __init__(self, *pairs: tuple[str, Any]) -> None:
        self.pairs = list(pairs)


def enc(v: Any) -> str:
    """JSON text of ``v`` (``Raw`` verbatim, ``Obj`` with its repeated keys, UTF-8 unescaped)."""
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, Obj):
        return (
            "{"
            + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {enc(x)}" for k, x in v.pairs)
            + "}"
        )
    if isinstance(v, dict):
        return (
            "{"
            + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {enc(x)}" for k, x in v.items())
            + "}"
        )
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(enc(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


@dataclass(frozen=True)
class CorpusFile:
    """One landing file: path relative to the landing folder, bytes, modification time (ms)."""

    relative: str
    data: bytes
    mtime_ms: int


def text_file(
    lines: Sequence[str],
    *,
    bom: bool = False,
    crlf: bool = False,
    final_newline: bool = True,
    gz: bool = False,
) -> bytes:
    """File bytes from lines (UTF-8; optional BOM, CRLF line ends, gzip with a fixed header)."""
    end = "\r\n" if crlf else "\n"
    text = end.join(lines) + (end if final_newline else "")
    data = ("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8")
    return gzip.compress(data, mtime=0) if gz else data


def iso(ms: int, *, zone: str = "Z", sep: str = "T", millis: bool = True) -> str:
    t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    text = t.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if millis:
        text += f".{t.microsecond // 1000:03d}"
    return text + zone


def export_time(ms: int, micros: int = 0) -> str:
    t = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond + micros:06d}"


# ---------------------------------------------------------------------------------------------
# Random pools

REFUSED_IDS = (
    "null",
    "None",
    "undefined",
    "UNKNOWN",
    "0",
    "-1",
    "00000000-0000-0000-0000-000000000000",
    "",
    "   ",
    " null ",
)
GROUP_TYPES = (
    "company",
    "workspace",
    "playlist",
    "org_id",
    "team",
    "region",
    "zeta",
    "Alpha",
    "t-7",
)
PROPERTY_KEYS = (
    "plan",
    "seats",
    "Account Name",
    "region",
    "tier",
    "tags",
    "score",
    "$weird",
    "Plan",
    "plan ",
    "owner",
    "ünïcødé",
)
LONG_KEYS = tuple(f"long-key-{i}-" + "k" * 1030 for i in range(3))  # few: keys count to 1000


def long_text(rng: random.Random, tag: str) -> str:
    return tag + "".join(rng.choice("abcdefghij") for _ in range(1020 + rng.randrange(80)))


class Pools:
    """Seeded draws of the pieces records are made of (ids, times, groups, properties)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, weighted: Sequence[tuple[float, Callable[[], Any]]]) -> Any:
        total = sum(w for w, _ in weighted)
        r = self.rng.random() * total
        for w, make in weighted:
            r -= w
            if r < 0:
                return make()
        return weighted[-1][1]()

    # ids -------------------------------------------------------------------------------------
    def user_id(self, *, present: float = 0.8) -> Any:
        rng = self.rng
        if rng.random() > present:
            return None
        return self.pick(
            [
                (80, lambda: f"user-{rng.randrange(40):04d}"),
                (3, lambda: rng.choice(("abc", "abcd", "a"))),
                (4, lambda: rng.choice(REFUSED_IDS)),
                (1, lambda: "user-" + "x" * 1100),
                (1, lambda: Raw(str(10_000 + rng.randrange(50)))),
                (1, lambda: "üser-ä"),
            ]
        )

    def device_id(self) -> Any:
        rng = self.rng
        return self.pick(
            [
                (50, lambda: None),
                (40, lambda: f"dev-{rng.randrange(40):04d}"),
                (3, lambda: rng.choice(("d-1", "dev"))),
                (3, lambda: rng.choice(REFUSED_IDS)),
            ]
        )

    def insert_id(self, tag: str) -> Any:
        rng = self.rng
        return self.pick(
            [
                (45, lambda: f"ins-{rng.randrange(80)}"),
                (35, lambda: f"{tag}-{rng.randrange(10**9)}"),
                (15, lambda: None),
                (3, lambda: ""),
                (1, lambda: "ins-" + "i" * 1100),
            ]
        )

    # times -----------------------------------------------------------------------------------
    def event_ms(self) -> int:
        return T0 + self.rng.randrange(12 * DAY_MS)

    def amplitude_time(self, arrival: int) -> tuple[bool, Any]:
        """(include the key?, value) of an HTTP/Batch ``time``."""
        rng = self.rng
        ms = self.event_ms()
        return self.pick(
            [
                (70, lambda: (True, ms)),
                (4, lambda: (True, str(ms))),
                (2, lambda: (True, f" {ms} ")),
                (6, lambda: (False, None)),
                (2, lambda: (True, None)),
                (1, lambda: (True, "yesterday")),
                (1, lambda: (True, Raw("1.7e12"))),
                (1, lambda: (True, Raw(f"{ms}.0"))),
                (1, lambda: (True, iso(ms))),
                (1, lambda: (True, True)),
                (1, lambda: (True, {"ms": ms})),
                (1, lambda: (True, Raw("123456789012345678901234"))),
                (1, lambda: (True, 9_999_999_999_999_999)),
                (1, lambda: (True, 999_999_999_999_999)),
                (1, lambda: (True, 0)),
                (1, lambda: (True, -1000)),
                (1, lambda: (True, 946_684_799_999)),
                (1, lambda: (True, 946_684_800_000)),
                (1, lambda: (True, arrival + DAY_MS)),
                (1, lambda: (True, arrival + DAY_MS + 1)),
                (1, lambda: (True, rng.choice(("", "  ")))),
            ]
        )

    def export_time(self, arrival: int) -> tuple[bool, Any]:
        rng = self.rng
        ms = self.event_ms()
        return self.pick(
            [
                (70, lambda: (True, export_time(ms, rng.choice((0, 123, 999))))),
                (5, lambda: (True, export_time(ms)[:19])),
                (2, lambda: (True, export_time(ms)[:21])),
                (2, lambda: (True, f"  {export_time(ms)}  ")),
                (4, lambda: (False, None)),
                (2, lambda: (True, None)),
                (1, lambda: (True, iso(ms))),
                (1, lambda: (True, ms)),
                (1, lambda: (True, "2026-13-45 25:61:00.000000")),
                (1, lambda: (True, "05/01/2026 10:00")),
                (1, lambda: (True, "1999-12-31 23:59:59.999999")),
                (1, lambda: (True, export_time(arrival + 2 * DAY_MS))),
            ]
        )

    def iso_time(self, arrival: int) -> tuple[bool, Any]:
        rng = self.rng
        ms = self.event_ms()
        return self.pick(
            [
                (60, lambda: (True, iso(ms))),
                (5, lambda: (True, iso(ms, zone="+02:00"))),
                (3, lambda: (True, iso(ms, zone="-05:30", millis=False))),
                (3, lambda: (True, iso(ms, zone=""))),
                (2, lambda: (True, iso(ms, zone="", sep=" "))),
                (2, lambda: (True, iso(ms, zone="", millis=False) + ".123456789Z")),
                (6, lambda: (False, None)),
                (2, lambda: (True, None)),
                (1, lambda: (True, iso(ms)[:10])),
                (1, lambda: (True, ms)),
                (1, lambda: (True, "2026-13-45T25:61:00Z")),
                (1, lambda: (True, "2026-01-05 at noon")),
                (1, lambda: (True, "1999-12-31T23:59:59.999Z")),
                (1, lambda: (True, iso(arrival + 2 * DAY_MS))),
                (1, lambda: (True, rng.choice(("", " ")))),
            ]
        )

    def seq_iso(self) -> Any:
        rng = self.rng
        return self.pick(
            [
                (50, lambda: None),
                (40, lambda: iso(self.event_ms())),
                (5, lambda: "garbage"),
                (5, lambda: iso(T0 + rng.randrange(3) * HOUR_MS)),
            ]
        )

    # groups ----------------------------------------------------------------------------------
    def group_scalar(self) -> Any:
        rng = self.rng
        return self.pick(
            [
                (50, lambda: f"{1000 + rng.randrange(12)}"),
                (20, lambda: 1000 + rng.randrange(12)),
                (2, lambda: Raw("1001.50")),
                (2, lambda: Raw("1e3")),
                (1, lambda: Raw("12345678901234567890123")),
                (1, lambda: Raw("-0")),
                (1, lambda: Raw("1001.0")),
                (4, lambda: ""),
                (4, lambda: None),
                (2, lambda: long_text(rng, "gv-")),
                (1, lambda: "ünïcødé ✓"),
                (1, lambda: '"quoted" \\ value'),
                (1, lambda: " 1001 "),
            ]
        )

    def bad_group_value(self) -> Any:
        return self.rng.choice(
            (True, False, {"id": 1}, [1, True], [["a"]], [{"a": 1}], ["1001", None, False])
        )

    def group_value(self, bad: float = 0.03) -> Any:
        rng = self.rng
        if rng.random() < bad:
            return self.bad_group_value()
        if rng.random() < 0.55:
            return self.group_scalar()
        return [self.group_scalar() for _ in range(rng.randrange(0, 7))]

    def groups(self, *, bad: float = 0.03, not_object: float = 0.02) -> Any:
        rng = self.rng
        if rng.random() < not_object:
            return rng.choice(("company", [1, 2], 5, [], None, "[]", Raw("{}")))
        n = self.pick(
            [
                (10, lambda: 0),
                (30, lambda: 1),
                (25, lambda: 2),
                (10, lambda: 3),
                (8, lambda: rng.randrange(4, 6)),
                (8, lambda: rng.randrange(6, 10)),
            ]
        )
        types = rng.sample(GROUP_TYPES, n)
        pairs = [(t, self.group_value(bad)) for t in types]
        if pairs and rng.random() < 0.08:  # a repeated key: the last one counts
            pairs.insert(rng.randrange(len(pairs) + 1), (pairs[0][0], self.group_value(bad)))
        if rng.random() < 0.02:
            pairs.append((long_text(rng, "type-"), "1001"))
        if rng.random() < 0.01:
            pairs.append(("", "1001"))
        return Obj(*pairs)

    # properties ------------------------------------------------------------------------------
    def prop_value(self) -> Any:
        rng = self.rng
        return self.pick(
            [
                (30, lambda: rng.choice(("pro", "free", "enterprise"))),
                (15, lambda: rng.randrange(100)),
                (5, lambda: Raw("2.50")),
                (3, lambda: Raw("1e2")),
                (5, lambda: rng.choice((True, False))),
                (5, lambda: None),
                (5, lambda: {"nested": {"b": 2, "a": [1, None]}}),
                (5, lambda: ["a", "b", None, "a"]),
                (3, lambda: ""),
                (3, lambda: long_text(rng, "pv-")),
                (5, lambda: rng.choice(("5", "-3.5", " 7 "))),
                (1, lambda: Raw("12345678901234567890123")),
            ]
        )

    def prop_key(self) -> str:
        rng = self.rng
        if rng.random() < 0.03:
            return rng.choice(LONG_KEYS)
        return rng.choice(PROPERTY_KEYS)

    def add_value(self, bad: float) -> Any:
        rng = self.rng
        if rng.random() < bad:
            return rng.choice(("abc", True, None, {"n": 1}, [1], ""))
        return rng.choice((1, -2, Raw("2.5"), "3", " 4 ", "1e3", Raw("1E2"), 0))

    def op_map(self, op: str, bad: float) -> Any:
        rng = self.rng
        pairs = []
        for _ in range(rng.randrange(0, 4)):
            key = self.prop_key()
            value = self.add_value(bad) if op == "$add" else self.prop_value()
            pairs.append((key, value))
        if pairs and rng.random() < 0.1:
            pairs.append((pairs[0][0], self.prop_value() if op != "$add" else 9))
        return Obj(*pairs)

    def group_properties(self, *, plain_only: bool = False, bad: float = 0.03) -> Any:
        rng = self.rng
        if rng.random() < bad:
            return rng.choice(("plan=pro", [1], 5, True))
        if rng.random() < 0.03:
            return rng.choice(([], None, Raw("{}")))
        pairs: list[tuple[str, Any]] = []
        for _ in range(rng.randrange(0, 5)):
            r = rng.random()
            if plain_only or r < 0.4:
                pairs.append((self.prop_key(), self.prop_value()))
            elif r < 0.9:
                op = rng.choice(OPERATIONS)
                pairs.append((op, self.op_map(op, bad)))
            elif r < 0.95:
                pairs.append(("$clearAll", rng.choice(("-", None, {}, 1))))
            elif rng.random() < bad * 10:
                pairs.append(
                    rng.choice(
                        (("$foo", {"k": 1}), ("$set", "not an object"), ("$add", [1]), ("$Set", {}))
                    )
                )
        if pairs and rng.random() < 0.1:  # a repeated top-level key
            pairs.append((pairs[0][0], pairs[-1][1]))
        return Obj(*pairs)

    def event_properties(self, *, bad: float = 0.02) -> Any:
        rng = self.rng
        if rng.random() < bad:
            return rng.choice(([1, 2], "text", 5, True))
        if rng.random() < 0.05:
            return rng.choice(([], None, Raw("{}")))
        pairs = [(f"p{rng.randrange(6)}", self.prop_value()) for _ in range(rng.randrange(0, 5))]
        if rng.random() < 0.03:
            pairs.append((long_text(rng, "pk-"), 1))
        if pairs and rng.random() < 0.08:
            pairs.append((pairs[0][0], "last wins"))
        return Obj(*pairs)

    def event_type(self, *, missing: float = 0.03) -> tuple[bool, Any]:
        rng = self.rng
        if rng.random() < missing:
            return rng.choice(((False, None), (True, None), (True, ""), (True, "   ")))
        return self.pick(
            [
                (
                    85,
                    lambda: (
                        True,
                        rng.choice(("Login", "Create Report", "Pay Invoice", "Ünïcødé Event")),
                    ),
                ),
                (3, lambda: (True, long_text(rng, "et-"))),
                (2, lambda: (True, 42)),
                (5, lambda: (True, "$identify")),
                (5, lambda: (True, "$groupidentify")),
            ]
        )


# ---------------------------------------------------------------------------------------------
# Random records per format


def _put(pairs: list[tuple[str, Any]], key: str, present: bool, value: Any) -> None:
    if present:
        pairs.append((key, value))


def amplitude_event(p: Pools, arrival: int, tag: str, *, export: bool = False) -> Obj:
    rng = p.rng
    pairs: list[tuple[str, Any]] = []
    _put(pairs, "event_type", *p.event_type())
    uid, did = p.user_id(), p.device_id()
    _put(pairs, "user_id", uid is not None or rng.random() < 0.1, uid)
    _put(pairs, "device_id", did is not None, did)
    if export:
        _put(pairs, "event_time", *p.export_time(arrival))
        seq = rng.random()
        if seq < 0.7:
            pairs.append(("server_upload_time", export_time(p.event_ms())))
        elif seq < 0.75:
            pairs.append(("server_upload_time", "garbage"))
        ins = p.insert_id(tag)
        _put(pairs, "$insert_id", ins is not None, ins)
        if rng.random() < 0.05:
            pairs.append(("insert_id", f"plain-{rng.randrange(5)}"))
    else:
        _put(pairs, "time", *p.amplitude_time(arrival))
        ins = p.insert_id(tag)
        _put(pairs, "insert_id", ins is not None, ins)
        if rng.random() < 0.05:
            pairs.append(("server_upload_time", export_time(p.event_ms())))
    if rng.random() < 0.7:
        pairs.append(("event_properties", p.event_properties()))
    if rng.random() < 0.75:
        pairs.append(("groups", p.groups()))
    if rng.random() < 0.5:
        pairs.append(("group_properties", p.group_properties()))
    if rng.random() < 0.2:
        pairs.append(("user_properties", {"$set": {"plan": "x"}}))
    if export and rng.random() < 0.5:
        pairs.append(("uuid", f"uuid-{rng.randrange(10**6)}"))
    if rng.random() < 0.04:  # a repeated top-level key
        k, _ = rng.choice(pairs) if pairs else ("event_type", None)
        pairs.append((k, rng.choice(("Login", "user-0001", T0 + 5, None))))
    if rng.random() < 0.2:
        rng.shuffle(pairs)
    return Obj(*pairs)


def identify_item(p: Pools, tag: str) -> Any:
    rng = p.rng
    if rng.random() < 0.04:
        return rng.choice((1, "x", None, [], [{"user_id": "user-0001"}]))
    pairs: list[tuple[str, Any]] = []
    uid, did = p.user_id(), p.device_id()
    _put(pairs, "user_id", uid is not None, uid)
    _put(pairs, "device_id", did is not None, did)
    if rng.random() < 0.7:
        pairs.append(("groups", p.groups()))
    if rng.random() < 0.5:
        pairs.append(("user_properties", {"$set": {"plan": "pro"}, "x": 1}))
    if rng.random() < 0.2:
        pairs.append(("time", p.event_ms()))  # ignored: the Identify API has no time
    if rng.random() < 0.3:
        pairs.append(("insert_id", p.insert_id(tag)))
    return Obj(*pairs)


def group_identify_item(p: Pools, tag: str) -> Any:
    rng = p.rng
    if rng.random() < 0.04:
        return rng.choice((1, "x", None, []))
    pairs: list[tuple[str, Any]] = []
    gt = p.pick(
        [
            (70, lambda: rng.choice(("company", "workspace", "playlist", "org_id"))),
            (10, lambda: rng.choice(("team", "zeta"))),
            (5, lambda: None),
            (5, lambda: ""),
            (2, lambda: 7),
        ]
    )
    _put(pairs, "group_type", gt is not None or rng.random() < 0.3, gt)
    gv = p.group_value(bad=0.05) if rng.random() < 0.9 else None
    _put(pairs, "group_value", gv is not None or rng.random() < 0.5, gv)
    if rng.random() < 0.9:
        pairs.append(("group_properties", p.group_properties()))
    if rng.random() < 0.2:
        pairs.append(("user_id", p.user_id()))
    if rng.random() < 0.2:
        pairs.append(("insert_id", p.insert_id(tag)))
    return Obj(*pairs)


SEGMENT_TYPES = ("track", "track", "track", "page", "screen", "identify", "group", "alias")


def segment_message(p: Pools, arrival: int, tag: str) -> Any:
    rng = p.rng
    if rng.random() < 0.03:
        return rng.choice((1, "x", None, []))
    pairs: list[tuple[str, Any]] = []
    kind = p.pick(
        [
            (95, lambda: rng.choice(SEGMENT_TYPES)),
            (2, lambda: None),
            (2, lambda: "unknown_call"),
            (1, lambda: 5),
        ]
    )
    _put(pairs, "type", kind is not None, kind)
    uid = p.user_id(present=0.75)
    _put(pairs, "userId", uid is not None, uid)
    if rng.random() < 0.5:
        pairs.append(
            ("anonymousId", rng.choice(("anon-1", "a", "", "null", f"anon-{rng.randrange(9)}")))
        )
    mid = p.insert_id(tag)
    _put(pairs, "messageId", mid is not None, mid)
    _put(pairs, "timestamp", *p.iso_time(arrival))
    seq = p.seq_iso()
    _put(pairs, "receivedAt", seq is not None, seq)
    if rng.random() < 0.3:
        pairs.append(("sentAt", iso(p.event_ms())))
    if kind == "track" and rng.random() < 0.95:
        pairs.append(("event", p.event_type(missing=0.05)[1]))
    if kind in ("page", "screen") and rng.random() < 0.6:
        pairs.append(("name", rng.choice(("Dashboard", "Home", "", long_text(rng, "nm-")))))
    if kind in ("track", "page", "screen") and rng.random() < 0.7:
        pairs.append(("properties", p.event_properties()))
    if kind in ("track", "page", "screen", "identify", None) and rng.random() < 0.7:
        pairs.append(("integrations", {"Amplitude": {"groups": p.groups()}}))
    if kind == "group":
        traits: list[tuple[str, Any]] = []
        if rng.random() < 0.75:
            traits.append(("group_type", rng.choice(("company", "workspace", "team", "", None))))
        if rng.random() < 0.75:
            traits.append(("group_value", p.group_value(bad=0.08)))
        plain = p.group_properties(plain_only=True, bad=0.0)
        if isinstance(plain, Obj):
            traits.extend(plain.pairs)
        if rng.random() < 0.1:
            traits.append(("$add", {"seats": 1}))  # a plain property named "$add"
        rng.shuffle(traits)
        pairs.append(("traits", Obj(*traits) if rng.random() > 0.03 else "not an object"))
        if rng.random() < 0.8:
            pairs.append(("groupId", rng.choice(("grp-1", "grp-2", "", 42))))
    if kind == "identify" and rng.random() < 0.3:
        pairs.append(("traits", {"email": "a@b.c"}))
    return Obj(*pairs)


def posthog_event(p: Pools, arrival: int, tag: str) -> Any:
    rng = p.rng
    if rng.random() < 0.03:
        return rng.choice((1, "x", None, []))
    pairs: list[tuple[str, Any]] = []
    event = p.pick(
        [
            (60, lambda: rng.choice(("$pageview", "clicked", "Pay Invoice"))),
            (15, lambda: "$groupidentify"),
            (10, lambda: rng.choice(("$identify", "$set", "$set_once"))),
            (3, lambda: None),
            (2, lambda: ""),
            (2, lambda: long_text(rng, "ph-")),
        ]
    )
    _put(pairs, "event", event is not None or rng.random() < 0.3, event)
    uid = p.pick(
        [
            (80, lambda: f"ph-{rng.randrange(30):03d}"),
            (5, lambda: rng.choice(("ab", "a"))),
            (5, lambda: rng.choice(REFUSED_IDS)),
            (10, lambda: None),
        ]
    )
    in_props = rng.random() < 0.15
    _put(pairs, "distinct_id", uid is not None and not in_props, uid)
    uuid = p.insert_id(tag)
    _put(pairs, "uuid", uuid is not None, uuid)
    _put(pairs, "timestamp", *p.iso_time(arrival))
    if rng.random() < 0.3:
        pairs.append(("sent_at", rng.choice((iso(p.event_ms()), "garbage"))))
    props: list[tuple[str, Any]] = []
    if in_props:
        props.append(("distinct_id", uid))
    if event == "$groupidentify":
        if rng.random() < 0.85:
            props.append(("$group_type", rng.choice(("company", "workspace", "team", "", None))))
        if rng.random() < 0.85:
            props.append(("$group_key", p.group_value(bad=0.08)))
        if rng.random() < 0.85:
            gs = p.group_properties(plain_only=True, bad=0.0)
            props.append(("$group_set", gs if rng.random() > 0.05 else rng.choice(("x", [1]))))
    else:
        if rng.random() < 0.7:
            props.append(("$groups", p.groups()))
        for _ in range(rng.randrange(0, 4)):
            props.append((rng.choice(("$current_url", "plan", "n", "$set")), p.prop_value()))
    if rng.random() < 0.04:
        pairs.append(("properties", rng.choice(("text", [1], 5))))
    elif props or rng.random() < 0.5:
        pairs.append(("properties", Obj(*props)))
    return Obj(*pairs)


# ---------------------------------------------------------------------------------------------
# The corpus


class Corpus:
    """Collects the files of the three batches."""

    def __init__(self) -> None:
        self.batches: list[list[CorpusFile]] = [[], [], []]

    def add(self, batch: int, relative: str, data: bytes, offset_ms: int = 0) -> None:
        """Land ``data`` at ``relative`` in ``batch`` (1-3), arriving ``offset_ms`` after it."""
        self.batches[batch - 1].append(
            CorpusFile(relative, data, ARRIVALS_MS[batch - 1] + offset_ms)
        )

    def lines(
        self, batch: int, relative: str, lines: Sequence[str], offset_ms: int = 0, **kw: Any
    ) -> None:
        self.add(batch, relative, text_file(lines, **kw), offset_ms)


def _generator_files() -> list[tuple[str, bytes]]:
    from groupetl.generate import GeneratorSpec, generate

    with tempfile.TemporaryDirectory(prefix="groupetl-corpus-") as tmp:
        generate(GeneratorSpec(**GENERATOR_SPEC), Path(tmp))
        landing = Path(tmp) / "landing"
        return [
            (p.relative_to(landing).as_posix(), p.read_bytes())
            for p in sorted(landing.rglob("*"))
            if p.is_file()
        ]


def _fixture_files() -> list[tuple[str, bytes]]:
    out = []
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file()):
        relative, data = path.relative_to(FIXTURES).as_posix(), path.read_bytes()
        top, _, rest = relative.partition("/")
        relative = f"{top}/fixtures/{rest}"
        if top == "amplitude_export":  # gzipped, as Amplitude sends them (tests/test_ingest_run.py)
            relative, data = relative + ".gz", gzip.compress(data, mtime=0)
        out.append((relative, data))
    return out


def _random_files(c: Corpus, rng: random.Random, batch: int) -> None:
    """Randomized records of every format for one batch."""
    p = Pools(rng)
    arrival = ARRIVALS_MS[batch - 1]
    tag = f"r{batch}"

    def body_lines(n: int, make: Callable[[], str]) -> list[str]:
        return [make() for _ in range(n)]

    for fmt in ("amplitude_http", "amplitude_batch"):

        def http_body() -> str:
            events = [amplitude_event(p, arrival, tag) for _ in range(rng.randrange(0, 9))]
            pairs: list[tuple[str, Any]] = [("api_key", "k")]
            if rng.random() < 0.15:
                pairs.append(("options", {"min_id_length": rng.choice((1, 3, 8, "3", "x", None))}))
            pairs.append(("events", events if rng.random() > 0.05 else enc(events)))
            return enc(Obj(*pairs))

        c.lines(batch, f"{fmt}/random/{fmt}_{batch}_a.json", body_lines(14, http_body), 1000)
        c.lines(
            batch,
            f"{fmt}/random/{fmt}_{batch}_b.json",
            body_lines(8, http_body),
            2000,
            crlf=True,
            bom=batch == 2,
        )

    export_lines = [enc(amplitude_event(p, arrival, tag, export=True)) for _ in range(70)]
    c.lines(
        batch,
        f"amplitude_export/random/777_2026-01-1{batch}_10#0.json.gz",
        export_lines[:40],
        3000,
        gz=True,
        bom=batch == 1,
    )
    c.lines(
        batch, f"amplitude_export/random/777_2026-01-1{batch}_11#0.json", export_lines[40:], 3500
    )

    def identify_body() -> str:
        items = [identify_item(p, tag) for _ in range(rng.randrange(0, 6))]
        return enc({"api_key": "k", "identification": enc(items) if rng.random() < 0.4 else items})

    c.lines(
        batch,
        f"amplitude_identify/random/identify_{batch}.json",
        body_lines(10, identify_body),
        4000,
    )

    def group_identify_body() -> str:
        items = [group_identify_item(p, tag) for _ in range(rng.randrange(0, 6))]
        return enc({"api_key": "k", "identification": enc(items) if rng.random() < 0.4 else items})

    c.lines(
        batch,
        f"amplitude_group_identify/random/group_{batch}.json",
        body_lines(10, group_identify_body),
        5000,
    )

    def segment_line() -> str:
        if rng.random() < 0.35:
            return enc(segment_message(p, arrival, tag))
        batch_items = [segment_message(p, arrival, tag) for _ in range(rng.randrange(0, 8))]
        pairs: list[tuple[str, Any]] = [("batch", batch_items)]
        if rng.random() < 0.7:
            pairs.append(("sentAt", iso(p.event_ms())))
        return enc(Obj(*pairs))

    c.lines(
        batch,
        f"segment/random/segment_{batch}.json",
        body_lines(30, segment_line),
        6000,
        crlf=batch == 3,
    )

    def posthog_line() -> str:
        if rng.random() < 0.35:
            return enc(posthog_event(p, arrival, tag))
        items = [posthog_event(p, arrival, tag) for _ in range(rng.randrange(0, 8))]
        pairs: list[tuple[str, Any]] = [("api_key", "phc_x"), ("batch", items)]
        if rng.random() < 0.7:
            pairs.append(("sent_at", iso(p.event_ms())))
        return enc(Obj(*pairs))

    c.lines(batch, f"posthog/random/posthog_{batch}.json", body_lines(30, posthog_line), 7000)


def _event(**fields: Any) -> dict[str, Any]:
    return dict(fields)


def _explicit_batch1(c: Corpus) -> None:
    """Deterministic scenarios: one of everything, with precedence and tie cases."""
    a = ARRIVALS_MS[0]
    long_type = "Long Event " + "e" * 1100
    http_events = [
        # precedence: missing event_type beats missing user beats invalid time
        _event(time="yesterday"),
        _event(event_type="Login", time="yesterday"),
        _event(event_type="Login", user_id="user-0001", time="yesterday"),
        _event(event_type="Login", user_id="abcd", device_id="dev-0001", time=T0),
        _event(event_type="Login", user_id="user-0001", device_id="null", time=T0),
        _event(event_type="Login", user_id="user-0001", time=0),
        _event(
            event_type="Login",
            user_id="user-0001",
            time=T0,
            groups={"company": True},
            group_properties={"$foo": {"a": 1}},
        ),
        _event(
            event_type="Login",
            user_id="user-0001",
            time=T0,
            event_properties=[1],
            group_properties={"$foo": {"a": 1}},
        ),
        _event(
            event_type="Login",
            user_id="user-0001",
            time=T0,
            groups={"company": "1001"},
            group_properties={"$add": {"seats": "abc"}},
        ),
        _event(
            event_type="Login",
            user_id="user-0001",
            time=T0,
            groups={"company": "1001"},
            group_properties={"$add": {"seats": "5"}},
        ),
        _event(
            event_type="Login", user_id="user-0001", time=T0, group_properties={"$foo": {"a": 1}}
        ),  # no groups: ops do not apply, but the error still quarantines
        # a long event type, event property value and key; ids past 1024 characters are kept
        _event(
            event_type=long_type,
            user_id="user-" + "u" * 1100,
            time=T0 + 1,
            insert_id="ins-" + "i" * 1100,
            event_properties={"v": "x" * 1500, "k" * 1100: "short"},
        ),
        # groups: > 5 types and > 10 values, declared listed last, undeclared first
        _event(
            event_type="Groups",
            user_id="user-0002",
            time=T0 + 2,
            insert_id="g-1",
            groups=Obj(
                ("zeta", ["z1", "z2", "z3"]),
                ("team", "t1"),
                ("Alpha", [1, 2]),
                ("region", "eu"),
                ("org_id", [5, 5, "5", 6]),
                ("playlist", ["p1", None, "", "p2"]),
                ("workspace", ["w1", "w2", "w3", "w4"]),
                ("company", ["1001", 1002, Raw("1003.50")]),
            ),
        ),
        _event(
            event_type="Groups",
            user_id="user-0002",
            time=T0 + 3,
            insert_id="g-2",
            groups=Obj(("company", [str(i) for i in range(15)]), ("workspace", "w1")),
        ),
        _event(
            event_type="Groups",
            user_id="user-0002",
            time=T0 + 4,
            insert_id="g-3",
            groups=Obj(
                ("team", "t"),
                ("zeta", "z"),
                ("Alpha", "a"),
                ("region", "r"),
                ("t-7", "7"),
                ("company", "1001"),
            ),
        ),
        _event(
            event_type="Groups",
            user_id="user-0002",
            time=T0 + 5,
            insert_id="g-4",
            groups=Obj(("company", "1001"), ("company", "1002"), ("workspace", Obj(("a", 1)))),
        ),
        _event(
            event_type="Groups",
            user_id="user-0002",
            time=T0 + 6,
            insert_id="g-5",
            groups=Obj(("company", "1001"), ("workspace", {"a": 1}), ("workspace", "w9")),
        ),
        _event(
            event_type="Groups",
            user_id="user-0002",
            time=T0 + 7,
            groups={"company": [None, "", []]},
        ),
        _event(
            event_type="Groups",
            user_id="user-0002",
            time=T0 + 8,
            groups={"company": "x" * 1500, "workspace": ["y" * 1030, "y" * 1030 + "z"]},
        ),
        _event(event_type="Groups", user_id="user-0002", time=T0 + 9, groups={"": "1001"}),
        _event(event_type="Groups", user_id="user-0002", time=T0 + 10, groups="company"),
        _event(event_type="Groups", user_id="user-0002", time=T0 + 11, groups=[]),
        _event(
            event_type="Groups", user_id="user-0002", time=T0 + 12, groups={"company": Raw("1e400")}
        ),
        # property operations: plain + every op on one key, first in table order applies
        _event(
            event_type="Ops",
            user_id="user-0003",
            time=T0 + 20,
            insert_id="o-1",
            groups={"company": ["1001", "1002"]},
            group_properties=Obj(
                ("plan", "a"),
                ("$remove", {"plan": "r"}),
                ("$preInsert", {"plan": "pi"}),
                ("$postInsert", {"plan": "po"}),
                ("$prepend", {"plan": "pp"}),
                ("$append", {"plan": "ap"}),
                ("$add", {"plan": 1}),
                ("$unset", {"plan": "-"}),
                ("$setOnce", {"plan": "so"}),
                ("$set", {"plan": "s"}),
            ),
        ),
        _event(
            event_type="Ops",
            user_id="user-0003",
            time=T0 + 21,
            insert_id="o-2",
            groups={"company": "1001"},
            group_properties=Obj(
                ("$unset", {"a": "-"}), ("$clearAll", "-"), ("$set", {"b": 1}), ("c", 2)
            ),
        ),
        _event(
            event_type="Ops",
            user_id="user-0003",
            time=T0 + 22,
            insert_id="o-3",
            groups={"company": "1001"},
            group_properties=Obj(
                ("$set", Obj(("k", 1), ("k", 2))),
                ("$set", Obj(("k", 3), ("j", 4))),
                ("k", 5),
                ("k", 6),
            ),
        ),
        _event(
            event_type="Ops",
            user_id="user-0003",
            time=T0 + 23,
            insert_id="o-4",
            groups={"company": "1001"},
            group_properties={
                "$add": {
                    "n1": 1,
                    "n2": Raw("2.50"),
                    "n3": "3",
                    "n4": " 4 ",
                    "n5": "1e3",
                    "n6": -0.5,
                    "n7": Raw("123456789012345678901234567890"),
                }
            },
        ),
        _event(
            event_type="Ops",
            user_id="user-0003",
            time=T0 + 24,
            insert_id="o-5",
            groups={"company": "1001"},
            group_properties={"$add": {"n1": None}},
        ),
        _event(
            event_type="Ops",
            user_id="user-0003",
            time=T0 + 25,
            insert_id="o-6",
            groups={"company": "1001"},
            group_properties={"$set": "x"},
        ),
        _event(
            event_type="Ops",
            user_id="user-0003",
            time=T0 + 26,
            insert_id="o-7",
            groups={"company": "1001"},
            group_properties="plan=pro",
        ),
        _event(
            event_type="Ops",
            user_id="user-0003",
            time=T0 + 27,
            insert_id="o-8",
            groups={"company": "1001"},
            group_properties={"$set": {}, "$unset": [], "$clearAll": None},
        ),
        _event(
            event_type="Ops",
            user_id="user-0003",
            time=T0 + 28,
            insert_id="o-9",
            groups={"company": "1001"},
            group_properties={
                "tags": ["a", None, "a", ""],
                "obj": {"z": 1, "a": {"y": [True, None]}},
                "dec": Raw("1.50"),
                "big": Raw("12345678901234567890"),
                "b": False,
                "nul": None,
                "long": "v" * 1500,
                "kk" + "k" * 1100: 1,
                "$append": {"tags": ["c", "d"]},
            },
        ),
        _event(
            event_type="Ops",
            user_id="user-0003",
            time=T0 + 29,
            insert_id="o-10",
            groups={"company": "1001"},
            group_properties={"$setonce": {"a": 1}},
        ),
        # same millisecond: source sequence (nulls last) then position break the tie
        _event(event_type="Tie", user_id="user-0004", time=T0 + 30, insert_id="tie-1"),
        _event(
            event_type="Tie",
            user_id="user-0004",
            time=T0 + 30,
            insert_id="tie-1",
            server_upload_time="2026-01-10 00:00:01.000000",
        ),
        _event(event_type="Tie", user_id="user-0004", time=T0 + 30, insert_id="tie-1"),
        # the same insert id: other user (not a duplicate), other kind (a duplicate), empty id
        _event(event_type="Dup", user_id="user-0005", time=T0 + 40, insert_id="same"),
        _event(event_type="Dup", user_id="user-0006", time=T0 + 40, insert_id="same"),
        _event(
            event_type="$identify",
            user_id="user-0005",
            time=T0 + 41,
            insert_id="same",
            groups={"company": "1003"},
        ),
        _event(
            event_type="Dup",
            user_id="user-0005",
            time=T0 + 39,
            insert_id="same",
            groups={"company": True},
        ),  # invalid: not the winner
        _event(event_type="Dup", user_id="user-0005", time=T0 + 42, insert_id=""),
        _event(event_type="Dup", user_id="user-0005", time=T0 + 42, insert_id=""),
        _event(event_type="Dup", device_id="dev-0005", time=T0 + 43, insert_id="same"),
        _event(
            event_type="Dup",
            user_id="user-0005",
            device_id="dev-0005",
            time=T0 + 44,
            insert_id="same",
        ),
        # identify: empty assignments reported, list replaces list
        _event(
            event_type="$identify",
            user_id="user-0007",
            time=T0 + 50,
            insert_id="id-1",
            groups=Obj(
                ("company", ""),
                ("workspace", None),
                ("playlist", []),
                ("org_id", [None, ""]),
                ("team", "t1"),
            ),
        ),
        _event(
            event_type="$identify",
            user_id="user-0007",
            time=T0 + 51,
            groups={"company": ["1001", "1002", "1001"]},
        ),
        _event(event_type="$identify", user_id="user-0007", time=T0 + 52, groups={}),
        _event(
            event_type="$identify",
            user_id="user-0007",
            time=T0 + 53,
            group_properties={"plan": "ignored"},
        ),
        # group identify without user, with and without groups, duplicate by insert id alone
        _event(
            event_type="$groupidentify",
            time=T0 + 60,
            insert_id="gi-1",
            groups={"company": "1001"},
            group_properties={"plan": "p"},
        ),
        _event(
            event_type="$groupidentify",
            time=T0 + 61,
            insert_id="gi-1",
            groups={"company": "1001"},
            group_properties={"plan": "q"},
        ),
        _event(
            event_type="$groupidentify",
            user_id="user-0008",
            time=T0 + 62,
            insert_id="gi-1",
            groups={"company": "1001"},
            group_properties={"plan": "r"},
        ),
        _event(event_type="$groupidentify", time=T0 + 63, group_properties={"plan": "p"}),
        _event(
            event_type="$groupidentify",
            time=T0 + 64,
            groups={"company": ""},
            group_properties={"plan": "p"},
        ),
        _event(
            event_type="$groupidentify",
            user_id="n",
            time=T0 + 65,
            groups={"company": "1001"},
            group_properties={"plan": "p"},
        ),
        # the displaced-later record: rich, with ops and reports (see batches 2 and 3)
        _event(
            event_type="Chain " + "c" * 1100,
            user_id="user-0009",
            time=T0 + 5 * HOUR_MS,
            insert_id="chain-1",
            groups={"company": "1001", "team": "t9"},
            group_properties={"plan": "chain", "$add": {"seats": 1}},
        ),
        _event(event_type="Chain", user_id="user-0009", time=T0 + 6 * HOUR_MS, insert_id="chain-1"),
        # no time: the file's arrival time; a time exactly at the limits
        _event(event_type="NoTime", user_id="user-0010"),
        _event(event_type="Edge", user_id="user-0010", time=946_684_800_000),
        _event(event_type="Edge", user_id="user-0010", time=a + DAY_MS),
        _event(event_type="Edge", user_id="user-0010", time=a + DAY_MS + 1),
        _event(event_type="Edge", user_id="user-0010", time=Raw("1768003200000.000")),
        _event(event_type="Edge", user_id="user-0010", time=str(T0)),
        _event(event_type="Edge", user_id="user-0010", time=Raw("9" * 16)),
        _event(event_type="Edge", user_id="user-0010", time=Raw("-" + "9" * 15)),
        _event(event_type=7, user_id=12345, device_id=Raw("1.5"), time=T0 + 70),
    ]
    bodies = [
        enc({"api_key": "k", "events": http_events[:30]}),
        enc({"api_key": "k", "events": http_events[30:]}),
        enc(
            {
                "api_key": "k",
                "options": {"min_id_length": 1},
                "events": [_event(event_type="Short", user_id="ab", time=T0 + 80)],
            }
        ),
        enc(
            {
                "api_key": "k",
                "options": {"min_id_length": 12},
                "events": [_event(event_type="Short", user_id="user-0011", time=T0 + 81)],
            }
        ),
        enc(
            {
                "api_key": "k",
                "options": {"min_id_length": "2"},
                "events": [_event(event_type="Short", user_id="abc", time=T0 + 82)],
            }
        ),
        enc(
            {
                "api_key": "k",
                "options": "x",
                "events": [_event(event_type="Short", user_id="abc", time=T0 + 83)],
            }
        ),
        enc({"api_key": "k", "events": []}),
        enc({"api_key": "k", "events": {}}),
        enc({"api_key": "k", "events": None}),
        enc({"api_key": "k"}),
        enc(
            {
                "api_key": "k",
                "events": enc([_event(event_type="AsText", user_id="user-0012", time=T0 + 84)]),
            }
        ),
        enc({"api_key": "k", "events": "[not json"}),
        enc({"api_key": "k", "events": [1, "x", None, [], {}, True]}),
        enc(
            Obj(
                ("events", [_event(event_type="First", user_id="user-0012", time=T0 + 85)]),
                ("events", [_event(event_type="Second", user_id="user-0012", time=T0 + 86)]),
            )
        ),
        enc([_event(event_type="List", user_id="user-0012", time=T0)]),
        '"a string"',
        "5",
        "null",
        "true",
        "{not json",
        '{"events": [{"event_type": "Trunc"',
        "  "
        + enc(
            {
                "api_key": "k",
                "events": [_event(event_type="Indented", user_id="user-0012", time=T0 + 87)],
            }
        )
        + "  ",
        "\t",
    ]
    c.lines(
        1,
        "amplitude_http/explicit/http_explicit.json",
        [*bodies[:12], "", "   ", *bodies[12:]],
        10_000,
    )
    # the Batch API body is the same shape; a file without a final newline
    c.lines(
        1,
        "amplitude_batch/explicit/batch_explicit.json",
        [
            enc(
                {
                    "api_key": "k",
                    "events": [
                        _event(
                            event_type="Batch", user_id="user-0013", time=T0 + 90, insert_id="bx-1"
                        )
                    ],
                }
            )
        ],
        11_000,
        final_newline=False,
    )

    export = [
        {
            "event_type": "Exp",
            "event_time": export_time(T0 + HOUR_MS),
            "server_upload_time": export_time(T0 + 2 * HOUR_MS),
            "$insert_id": "exp-disp",
            "user_id": "user-0014",
            "groups": {"company": "1004"},
            "group_properties": {"region": "eu"},
        },
        {
            "event_type": "Exp",
            "event_time": export_time(T0 + HOUR_MS, 999),
            "$insert_id": "exp-2",
            "user_id": "user-0014",
        },
        {
            "event_type": "Exp",
            "event_time": export_time(T0 + HOUR_MS)[:19],
            "$insert_id": "exp-3",
            "insert_id": "other",
            "user_id": "user-0014",
        },
        {"event_type": "Exp", "insert_id": "exp-4", "user_id": "user-0014"},
        {"event_type": "Exp", "event_time": "2026-01-10T01:00:00Z", "user_id": "user-0014"},
        {"event_type": "Exp", "event_time": T0, "user_id": "user-0014"},
        {
            "event_type": "Exp",
            "event_time": export_time(T0),
            "server_upload_time": "garbage",
            "user_id": "user-0014",
        },
        {
            "event_type": "$groupidentify",
            "event_time": export_time(T0),
            "groups": {"company": "1004"},
            "group_properties": {"$set": {"tier": 1}},
        },
        {
            "event_type": "$identify",
            "event_time": export_time(T0),
            "user_id": "user-0014",
            "groups": {"company": "1004"},
        },
    ]
    c.lines(
        1,
        "amplitude_export/explicit/555_2026-01-10_01#0.json.gz",
        [enc(e) for e in export] + ["", "not json"],
        12_000,
        gz=True,
        crlf=True,
    )

    identify = [
        enc(
            {
                "api_key": "k",
                "identification": enc(
                    [
                        {
                            "user_id": "user-0015",
                            "groups": {"company": "1005", "workspace": ["w1", "w1"]},
                        },
                        {"user_id": "user-0015", "groups": {"company": ""}},
                        {"device_id": "dev-0015", "user_properties": {"plan": "x"}},
                    ]
                ),
            }
        ),
        enc(
            {
                "api_key": "k",
                "identification": [
                    {"user_id": "user-0016", "groups": {"company": True}},
                    {"user_id": "ab"},
                    {},
                    1,
                ],
            }
        ),
        enc({"api_key": "k", "identification": "[broken"}),
        enc({"api_key": "k", "identification": {"user_id": "user-0016"}}),
        enc({"api_key": "k", "identification": []}),
        enc({"api_key": "k", "identification": "[]"}),
        enc(
            {
                "api_key": "k",
                "identification": [
                    {"user_id": "user-0017", "insert_id": "idn-1", "groups": {"company": "1006"}},
                    {"user_id": "user-0017", "insert_id": "idn-1", "groups": {"company": "1007"}},
                ],
            }
        ),
    ]
    c.lines(1, "amplitude_identify/explicit/identify_explicit.json", identify, 13_000, bom=True)

    group_identify = [
        enc(
            {
                "api_key": "k",
                "identification": [
                    {
                        "group_type": "company",
                        "group_value": "1008",
                        "group_properties": {"Account Name": "Acme", "$add": {"seats": 2}},
                    },
                    {
                        "group_type": "company",
                        "group_value": 1008,
                        "group_properties": {"$clearAll": "-", "$set": {"x": 1}, "plain": 2},
                    },
                    {
                        "group_type": "company",
                        "group_value": ["1009", "1010", "1009"],
                        "group_properties": {"plan": "multi"},
                    },
                    {
                        "group_type": "company",
                        "group_value": {"id": 1},
                        "group_properties": {"plan": "bad"},
                    },
                    {
                        "group_type": "company",
                        "group_value": True,
                        "group_properties": {"plan": "bad"},
                    },
                    {
                        "group_type": "company",
                        "group_value": "",
                        "group_properties": {"plan": "empty"},
                    },
                    {
                        "group_type": "company",
                        "group_value": None,
                        "group_properties": {"plan": "null"},
                    },
                    {
                        "group_type": "",
                        "group_value": "1008",
                        "group_properties": {"plan": "no type"},
                    },
                    {"group_value": "1008", "group_properties": {"plan": "no type"}},
                    {
                        "group_type": "team",
                        "group_value": "t1",
                        "group_properties": {"plan": "undeclared"},
                    },
                    {"group_type": "company", "group_value": "1008"},
                    {"group_type": "company", "group_value": "1008", "group_properties": "x"},
                    {
                        "group_type": "company",
                        "group_value": "1008",
                        "group_properties": {"$unknown": {"a": 1}},
                    },
                    {
                        "group_type": "company",
                        "group_value": "1008",
                        "group_properties": {"$add": {"seats": "many"}},
                    },
                    {
                        "group_type": "company",
                        "group_value": "x" * 1100,
                        "group_properties": {"p" * 1100: "v" * 1100},
                    },
                    {
                        "group_type": "company",
                        "group_value": "1008",
                        "user_id": "null",
                        "group_properties": {"plan": "bad user ok?"},
                    },
                ],
            }
        ),
        enc(
            {
                "api_key": "k",
                "identification": enc(
                    [
                        {
                            "group_type": "org_id",
                            "group_value": 77,
                            "group_properties": Obj(("plan", 1), ("plan", 2)),
                        }
                    ]
                ),
            }
        ),
        enc({"api_key": "k", "identification": "not a list"}),
    ]
    c.lines(1, "amplitude_group_identify/explicit/group_explicit.json", group_identify, 14_000)

    segment = [
        enc(
            {
                "batch": [
                    {
                        "type": "track",
                        "messageId": "seg-disp",
                        "userId": "u-disp",
                        "event": "Seg Chain",
                        "timestamp": iso(T0 + 5 * HOUR_MS),
                        "integrations": {
                            "Amplitude": {"groups": {"company": "1001", "zeta": ["z"]}}
                        },
                    },
                    {
                        "type": "track",
                        "messageId": "seg-disp",
                        "userId": "u-disp",
                        "event": "Seg Chain",
                        "timestamp": iso(T0 + 6 * HOUR_MS),
                    },
                    {
                        "type": "page",
                        "messageId": "sp-1",
                        "userId": "u-1",
                        "name": "Dashboard",
                        "timestamp": iso(T0),
                    },
                    {"type": "page", "messageId": "sp-2", "userId": "u-1", "timestamp": iso(T0)},
                    {
                        "type": "screen",
                        "messageId": "sp-3",
                        "userId": "u-1",
                        "name": "Home",
                        "timestamp": iso(T0),
                    },
                    {
                        "type": "screen",
                        "messageId": "sp-4",
                        "userId": "u-1",
                        "name": "",
                        "timestamp": iso(T0),
                    },
                    {
                        "type": "identify",
                        "messageId": "si-1",
                        "userId": "u-1",
                        "timestamp": iso(T0),
                        "integrations": {
                            "Amplitude": {
                                "groups": {
                                    "company": ["1001", "1002"],
                                    "workspace": "",
                                    "team": None,
                                }
                            }
                        },
                    },
                    {
                        "type": "identify",
                        "messageId": "si-2",
                        "userId": "u-1",
                        "timestamp": iso(T0),
                        "traits": {"a": 1},
                    },
                    {
                        "type": "group",
                        "messageId": "sg-1",
                        "userId": "u-1",
                        "groupId": "grp-1",
                        "timestamp": iso(T0),
                        "traits": {
                            "group_type": "company",
                            "group_value": "1011",
                            "Account Name": "Seg Co",
                            "$add": {"n": 1},
                            "plan": None,
                        },
                    },
                    {
                        "type": "group",
                        "messageId": "sg-2",
                        "userId": "u-1",
                        "groupId": "grp-1",
                        "timestamp": iso(T0),
                        "traits": {"group_type": "company"},
                    },
                    {
                        "type": "group",
                        "messageId": "sg-3",
                        "userId": "u-1",
                        "groupId": "grp-2",
                        "timestamp": iso(T0),
                        "traits": {"group_value": "1012"},
                    },
                    {
                        "type": "group",
                        "messageId": "sg-4",
                        "userId": "u-1",
                        "timestamp": iso(T0),
                        "traits": {"plan": "x"},
                    },
                    {
                        "type": "group",
                        "messageId": "sg-5",
                        "groupId": "grp-1",
                        "timestamp": iso(T0),
                        "traits": {"group_type": "company", "group_value": "1011"},
                    },
                    {
                        "type": "group",
                        "messageId": "sg-6",
                        "userId": "u-1",
                        "timestamp": iso(T0),
                        "traits": {"group_type": "company", "group_value": {"id": 1}},
                    },
                    {
                        "type": "group",
                        "messageId": "sg-7",
                        "userId": "u-1",
                        "timestamp": iso(T0),
                        "traits": {"group_type": "company", "group_value": [1, 2]},
                    },
                    {
                        "type": "group",
                        "messageId": "sg-8",
                        "userId": "u-1",
                        "timestamp": iso(T0),
                        "traits": {"group_type": "company", "group_value": None},
                        "groupId": "grp-3",
                    },
                    {"type": "alias", "messageId": "sa-1", "userId": "u-1", "previousId": "anon-1"},
                    {"messageId": "sx-1", "userId": "u-1"},
                    {"type": "Track", "messageId": "sx-2", "userId": "u-1", "event": "Case"},
                    {"type": "track", "messageId": "st-1", "userId": "u-1", "timestamp": iso(T0)},
                    {
                        "type": "track",
                        "messageId": "st-2",
                        "userId": "u-1",
                        "event": "",
                        "timestamp": iso(T0),
                    },
                    {
                        "type": "track",
                        "messageId": "st-3",
                        "anonymousId": "a",
                        "event": "Anon",
                        "timestamp": iso(T0),
                    },
                    {
                        "type": "track",
                        "messageId": "st-4",
                        "userId": "",
                        "anonymousId": "anon-4",
                        "event": "EmptyUser",
                        "timestamp": iso(T0),
                    },
                    {"type": "track", "messageId": "st-5", "event": "NoUser", "timestamp": iso(T0)},
                    {
                        "type": "track",
                        "messageId": "st-6",
                        "userId": "u-1",
                        "event": "Props",
                        "properties": "x",
                        "timestamp": iso(T0),
                    },
                    {"type": "track", "messageId": "st-7", "userId": "u-1", "event": "NoTime"},
                    {
                        "type": "track",
                        "messageId": "st-8",
                        "userId": "u-1",
                        "event": "Seq",
                        "timestamp": iso(T0),
                        "sentAt": iso(T0 + 1),
                    },
                    {
                        "type": "track",
                        "messageId": "st-9",
                        "userId": "u-1",
                        "event": "Seq",
                        "timestamp": iso(T0),
                        "receivedAt": iso(T0 + 2),
                        "sentAt": iso(T0 + 1),
                    },
                ],
                "sentAt": iso(T0 + 3),
            }
        ),
        enc(
            {
                "type": "track",
                "messageId": "st-10",
                "userId": "u-2",
                "event": "Single",
                "timestamp": iso(T0, zone="+02:00"),
                "integrations": {"Amplitude": {"groups": Obj(("company", "1"), ("company", "2"))}},
            }
        ),
        enc({"batch": []}),
        enc({"batch": "[]"}),
        enc({"batch": {"type": "track"}}),
        enc({"batch": [1, None, "x"], "sentAt": "garbage"}),
        enc({"type": "alias", "userId": "u-2"}),
    ]
    c.lines(1, "segment/explicit/segment_explicit.json", segment, 15_000)
    # not UTF-8: a byte that is not valid UTF-8 inside a JSON string
    bad_utf8 = b'{"type": "track", "messageId": "st-u", "userId": "u-3", "event": "Caf\xe9", "timestamp": "2026-01-10T00:00:00Z"}\n'
    c.add(1, "segment/explicit/latin1.json", bad_utf8, 15_500)
    c.lines(
        1,
        "segment/explicit/b1_changed.json",
        [
            enc(
                {
                    "type": "track",
                    "messageId": "ch-1",
                    "userId": "u-4",
                    "event": "Before Change",
                    "timestamp": iso(T0),
                }
            )
        ],
        16_000,
    )

    posthog = [
        enc(
            {
                "api_key": "phc",
                "sent_at": iso(T0 + 10),
                "batch": [
                    {
                        "event": "$pageview",
                        "distinct_id": "ph-disp",
                        "uuid": "ph-disp",
                        "timestamp": iso(T0 + 5 * HOUR_MS),
                        "properties": {
                            "$groups": {"company": "1001"},
                            "$current_url": "/x",
                            "$group_type": "company",
                        },
                    },
                    {
                        "event": "$groupidentify",
                        "distinct_id": "ph-1",
                        "uuid": "pg-1",
                        "timestamp": iso(T0),
                        "properties": {
                            "$group_type": "company",
                            "$group_key": 1013,
                            "$group_set": {"name": "PH", "$add": {"n": 1}, "n": Raw("1.0")},
                        },
                    },
                    {
                        "event": "$groupidentify",
                        "uuid": "pg-2",
                        "timestamp": iso(T0),
                        "properties": {
                            "$group_type": "company",
                            "$group_key": "1013",
                            "$group_set": {"plan": "no user"},
                        },
                    },
                    {
                        "event": "$groupidentify",
                        "distinct_id": "ph-1",
                        "timestamp": iso(T0),
                        "properties": {"$group_key": "1013", "$group_set": {"a": 1}},
                    },
                    {
                        "event": "$groupidentify",
                        "distinct_id": "ph-1",
                        "timestamp": iso(T0),
                        "properties": {"$group_type": "company", "$group_key": ["1", "2"]},
                    },
                    {
                        "event": "$groupidentify",
                        "distinct_id": "ph-1",
                        "timestamp": iso(T0),
                        "properties": {"$group_type": "company", "$group_key": {"a": 1}},
                    },
                    {
                        "event": "$groupidentify",
                        "distinct_id": "ph-1",
                        "timestamp": iso(T0),
                        "properties": {
                            "$group_type": "company",
                            "$group_key": "1014",
                            "$group_set": "x",
                        },
                    },
                    {
                        "event": "$identify",
                        "distinct_id": "ph-1",
                        "uuid": "pi-1",
                        "timestamp": iso(T0),
                        "properties": {"$set": {"a": 1}},
                    },
                    {
                        "event": "$set",
                        "distinct_id": "ph-1",
                        "timestamp": iso(T0),
                        "properties": {"$set": {"a": 1}},
                    },
                    {
                        "event": "$set_once",
                        "properties": {"distinct_id": "ph-2"},
                        "timestamp": iso(T0),
                    },
                    {
                        "event": "clicked",
                        "properties": {
                            "distinct_id": "ph-3",
                            "$groups": {"company": 1, "workspace": [1, 2]},
                        },
                        "timestamp": iso(T0),
                    },
                    {"event": "clicked", "distinct_id": "ab", "timestamp": iso(T0)},
                    {"event": "clicked", "distinct_id": "abc", "timestamp": iso(T0)},
                    {"event": "clicked", "timestamp": iso(T0)},
                    {"distinct_id": "ph-4", "timestamp": iso(T0)},
                    {
                        "event": "clicked",
                        "distinct_id": "ph-4",
                        "properties": [1],
                        "timestamp": iso(T0),
                    },
                    {
                        "event": "clicked",
                        "distinct_id": "ph-4",
                        "properties": {"$groups": "company"},
                        "timestamp": iso(T0),
                    },
                    {
                        "event": "clicked",
                        "distinct_id": "ph-4",
                        "sent_at": iso(T0 + 1),
                        "timestamp": iso(T0),
                    },
                    {"event": "clicked", "distinct_id": "ph-4"},
                ],
            }
        ),
        enc({"event": "single", "distinct_id": "ph-5", "uuid": "ps-1", "timestamp": iso(T0)}),
        enc({"api_key": "phc", "batch": []}),
        enc({"api_key": "phc", "batch": [[], 2]}),
        enc({"api_key": "phc", "batch": None}),
    ]
    c.lines(1, "posthog/explicit/posthog_explicit.json", posthog, 17_000, crlf=True, bom=True)

    # files in no format folder are sniffed
    sniffed = {
        "other/sniff_http.json": [
            enc({"events": [_event(event_type="Sniffed", user_id="user-0018", time=T0)]})
        ],
        "other/sniff_identify.json": [
            enc({"identification": enc([{"user_id": "user-0018", "groups": {"company": "1"}}])})
        ],
        "other/sniff_group.json": [
            enc(
                {
                    "identification": [
                        {
                            "group_type": "company",
                            "group_value": "1015",
                            "group_properties": {"plan": "s"},
                        }
                    ]
                }
            )
        ],
        "other/sniff_segment.json": [
            "",
            "not json",
            "[1, 2]",
            enc(
                {"batch": [{"type": "track", "userId": "u-5", "event": "S", "timestamp": iso(T0)}]}
            ),
        ],
        "other/sniff_segment_single.json": [
            enc({"type": "alias", "userId": "u-5"}),
            enc({"type": "track", "userId": "u-5", "event": "S2", "timestamp": iso(T0)}),
        ],
        "other/sniff_posthog.json": [
            enc({"batch": [{"event": "e", "distinct_id": "ph-6", "timestamp": iso(T0)}]})
        ],
        "other/sniff_posthog_single.json": [
            enc({"event": "e", "properties": {"distinct_id": "ph-6"}, "timestamp": iso(T0)})
        ],
        "other/sniff_export.json": [
            enc({"event_type": "E", "event_time": export_time(T0), "user_id": "user-0018"})
        ],
        "other/sniff_unknown.json": [enc({"foo": 1}), "not json", enc({"event_type": "x"}), "[1]"],
        "other/sniff_batch_unknown.json": [enc({"batch": [1]})],
        "other/only_garbage.json": ["not json", "{broken"],
        "mixpanel/events.json": [
            enc({"event": "mp", "properties": {"distinct_id": "mp-1", "time": 1}})
        ],
        "root_level.json": [
            enc({"event_type": "Root", "event_time": export_time(T0), "user_id": "user-0019"})
        ],
    }
    for i, (relative, lines) in enumerate(sorted(sniffed.items())):
        c.lines(1, relative, lines, 18_000 + i)
    # line separators other than LF: only LF ends a line (a trailing CR is dropped)
    sep_track = {
        "type": "track",
        "userId": "u-6",
        "event": "Line\u2028Sep\u0085Nel",
        "timestamp": iso(T0),
    }
    separators = (
        enc(sep_track).encode("utf-8")
        + b"\n"
        + enc({**sep_track, "event": "Form\x0cFeed"}).encode("utf-8")
        + b"\x0c\n"
        + enc({**sep_track, "event": "CR1"}).encode("utf-8")
        + b"\r"
        + enc({**sep_track, "event": "CR2"}).encode("utf-8")
        + b"\r\r\n"
        + enc({**sep_track, "event": "VT"}).encode("utf-8")
        + b"\x0b\n\x1c\n"
    )
    c.add(1, "segment/explicit/separators.json", separators, 18_500)
    c.add(1, "posthog/explicit/separators.json.gz", gzip.compress(separators, mtime=0), 18_501)
    # a file name Spark would read as a glob or URI-escape: it must stay literal
    c.lines(
        1,
        "segment/explicit/name with space [1] {a,b} #x %20 ü*?.json",
        [enc({"type": "track", "userId": "u-7", "event": "Odd Name", "timestamp": iso(T0)})],
        18_502,
    )
    c.add(1, "other/empty.json", b"", 19_000)
    c.add(1, "segment/explicit/blank_only.json", b"\n\n   \n\r\n", 19_001)
    c.add(1, "segment/explicit/.hidden.json", text_file([enc({"type": "track"})]), 19_002)
    c.add(1, "segment/explicit/_SUCCESS", b"", 19_003)
    c.add(1, "_temporary/x.json", text_file([enc({"type": "track"})]), 19_004)
    c.add(1, ".hidden/x.json", text_file([enc({"type": "track"})]), 19_005)


def _limit_keys(prefix: str, n: int) -> dict[str, Any]:
    return {f"{prefix}-{i:04d}": i for i in range(n)}


def _explicit_batch2(c: Corpus) -> None:
    """Displacements of batch 1's winners, cross-batch duplicates, 700 new property keys."""
    events = [
        # earlier than batch 1's accepted chain-1: displaces it (its duplicate is repointed)
        _event(
            event_type="Chain",
            user_id="user-0009",
            time=T0 + 4 * HOUR_MS,
            insert_id="chain-1",
            groups={"company": "1002"},
        ),
        # later than batch 1's winners: plain duplicates
        _event(event_type="Dup", user_id="user-0005", time=T0 + 100, insert_id="same"),
        _event(
            event_type="Groups", user_id="user-0002", time=T0 + 2, insert_id="g-1"
        ),  # same time: later file
        _event(
            event_type="$groupidentify",
            time=T0 + 59,
            insert_id="gi-1",
            groups={"company": "1001"},
            group_properties={"plan": "earlier"},
        ),
        _event(event_type="Batch", user_id="user-0013", time=T0 + 90, insert_id="bx-1"),
    ]
    c.lines(
        2,
        "amplitude_http/explicit/http_explicit_2.json",
        [enc({"api_key": "k", "events": events})],
        1_000,
    )
    c.lines(
        2,
        "amplitude_export/explicit/555_2026-01-10_01#1.json",
        [
            enc(
                {
                    "event_type": "Exp",
                    "event_time": export_time(T0 + HOUR_MS),
                    "server_upload_time": export_time(T0 + HOUR_MS + 1),
                    "$insert_id": "exp-disp",
                    "user_id": "user-0014",
                }
            ),
            enc(
                {
                    "event_type": "Exp",
                    "event_time": export_time(T0 + HOUR_MS),
                    "$insert_id": "exp-disp",
                    "user_id": "user-0014",
                }
            ),
        ],
        2_000,
    )
    c.lines(
        2,
        "posthog/explicit/posthog_explicit_2.json",
        [
            enc(
                {
                    "event": "$pageview",
                    "distinct_id": "ph-disp",
                    "uuid": "ph-disp",
                    "timestamp": iso(T0 + 4 * HOUR_MS),
                }
            )
        ],
        3_000,
    )
    # an identify file landing late with an old modification time: its arrival time (its record
    # time) is before batch 1's, so it displaces batch 1's winner of idn-1
    c.batches[1].append(
        CorpusFile(
            "amplitude_identify/explicit/identify_late.json",
            text_file(
                [
                    enc(
                        {
                            "api_key": "k",
                            "identification": [
                                {
                                    "user_id": "user-0017",
                                    "insert_id": "idn-1",
                                    "groups": {"company": "1099"},
                                }
                            ],
                        }
                    )
                ]
            ),
            ARRIVALS_MS[0] - DAY_MS,
        )
    )
    # 700 new property keys in two records
    c.lines(
        2,
        "amplitude_group_identify/limit/keys_2.json",
        [
            enc(
                {
                    "api_key": "k",
                    "identification": [
                        {
                            "group_type": "company",
                            "group_value": "2001",
                            "group_properties": _limit_keys("lim-a", 400),
                        },
                        {
                            "group_type": "workspace",
                            "group_value": "w-2001",
                            "group_properties": {"$set": _limit_keys("lim-b", 300)},
                        },
                    ],
                }
            )
        ],
        4_000,
    )


def _explicit_batch3(c: Corpus) -> None:
    """A second displacement of the chain, and > 1000 new keys: the key limit is crossed."""
    events = [
        _event(
            event_type="Chain",
            user_id="user-0009",
            time=T0 + 3 * HOUR_MS,
            insert_id="chain-1",
            groups={"company": "1003"},
        ),
        _event(
            event_type="Chain",
            user_id="user-0009",
            time=T0 + 2 * HOUR_MS,
            insert_id="chain-1",
            groups={"company": True},
        ),  # invalid
        _event(
            event_type="$groupidentify",
            time=T0 + 58,
            insert_id="gi-1",
            groups={"company": "1001"},
            group_properties={"plan": "earliest"},
        ),
    ]
    # key limit: records in record order (by time); each brings new keys; known keys still pass
    limit = []
    for i, (prefix, n) in enumerate(
        (("lim-c", 250), ("lim-d", 250), ("lim-e", 250), ("lim-f", 250), ("lim-g", 150))
    ):
        limit.append(
            _event(
                event_type="$groupidentify",
                time=T0 + (10 - i) * HOUR_MS,
                insert_id=f"lim-{i}",
                groups={"company": f"300{i}"},
                group_properties=_limit_keys(prefix, n),
            )
        )
    limit += [
        # known keys only: accepted whatever the limit
        _event(
            event_type="$groupidentify",
            time=T0 + 20 * HOUR_MS,
            groups={"company": "3010"},
            group_properties={"lim-a-0001": "known", "plan": "known"},
        ),
        # an activity event whose group_properties name a refused key: quarantined whole
        _event(
            event_type="Login",
            user_id="user-0020",
            time=T0 + 21 * HOUR_MS,
            groups={"company": "3011"},
            group_properties={"lim-c-0000": 1, "brand-new-key-late": 2},
        ),
        # the same event without group properties is fine
        _event(
            event_type="Login",
            user_id="user-0020",
            time=T0 + 21 * HOUR_MS + 1,
            groups={"company": "3011"},
        ),
        # an assignment naming new keys: its properties are not ops, so not counted
        _event(
            event_type="$identify",
            user_id="user-0020",
            time=T0 + 22 * HOUR_MS,
            groups={"company": "3011"},
            group_properties={"never-counted": 1},
        ),
    ]
    c.lines(
        3,
        "amplitude_http/explicit/http_explicit_3.json",
        [enc({"api_key": "k", "events": events}), enc({"api_key": "k", "events": limit})],
        1_000,
    )
    c.lines(
        3,
        "segment/explicit/segment_explicit_3.json",
        [
            enc(
                {
                    "batch": [
                        {
                            "type": "track",
                            "messageId": "seg-disp",
                            "userId": "u-disp",
                            "event": "Seg Chain",
                            "timestamp": iso(T0 + 4 * HOUR_MS),
                        }
                    ]
                }
            )
        ],
        2_000,
    )
    # a file already ingested in batch 1, changed since: skipped and counted
    c.lines(
        3,
        "segment/explicit/b1_changed.json",
        [
            enc(
                {
                    "type": "track",
                    "messageId": "ch-1",
                    "userId": "u-4",
                    "event": "After Change",
                    "timestamp": iso(T0),
                }
            ),
            "",
        ],
        3_000,
    )


def corpus_batches(seed: int = SEED) -> list[list[CorpusFile]]:
    """The three batches of landing files (deterministic: same seed, same bytes and times)."""
    c = Corpus()
    # generator: its first day lands after its later days, so originals displace re-sends
    for relative, data in _generator_files():
        first_day = "2026-01-01" in relative
        c.add(2 if first_day else 1, relative, data, 500)
    for relative, data in _fixture_files():
        c.add(1, relative, data)
    _explicit_batch1(c)
    _explicit_batch2(c)
    _explicit_batch3(c)
    rng = random.Random(seed)
    for batch in (1, 2, 3):
        _random_files(c, rng, batch)
    # across batches: copies of earlier batches' random records, earlier or later in time
    _cross_batch_copies(c, random.Random(seed + 1))
    return c.batches


def _cross_batch_copies(c: Corpus, rng: random.Random) -> None:
    """Lines of batch 1/2 random HTTP and Segment files re-sent in batch 2/3, times shifted."""
    for target in (2, 3):
        for source_batch in range(1, target):
            for f in c.batches[source_batch - 1]:
                if not f.relative.startswith(("amplitude_http/random/", "segment/random/")):
                    continue
                lines = f.data.decode("utf-8-sig").replace("\r\n", "\n").splitlines()
                picked = [ln for ln in lines if ln.strip() and rng.random() < 0.35]
                shifted = [
                    _shift_times(ln, rng.choice((-HOUR_MS, -1, 0, 1, HOUR_MS))) for ln in picked
                ]
                name = f.relative.replace("/random/", f"/resend_{target}/")
                c.lines(target, name, shifted, 9_000 + source_batch)


def _shift_times(line: str, delta_ms: int) -> str:
    """The same body with every integer ``time`` and ISO ``timestamp`` moved by ``delta_ms``
    (values it cannot read are left as they are); keys keep their order and repetitions."""
    try:
        body = json.loads(
            line, object_pairs_hook=lambda pairs: Obj(*pairs), parse_float=Raw, parse_constant=Raw
        )
    except ValueError:
        return line

    def walk(v: Any) -> Any:
        if isinstance(v, Obj):
            out = []
            for k, x in v.pairs:
                if k == "time" and isinstance(x, int) and not isinstance(x, bool):
                    x = x + delta_ms
                elif k == "timestamp" and isinstance(x, str) and x.endswith("Z") and len(x) == 24:
                    try:
                        t = dt.datetime.strptime(x, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                            tzinfo=dt.timezone.utc
                        )
                        x = iso(int(t.timestamp() * 1000) + delta_ms)
                    except ValueError:
                        pass
                out.append((k, walk(x)))
            return Obj(*out)
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return enc(walk(body))


# ---------------------------------------------------------------------------------------------
# Landing, ingesting, dumping


def drop(landing: Path, files: Iterable[CorpusFile]) -> None:
    """Write files into the landing folder with their fixed modification times."""
    for f in files:
        path = landing / f.relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
        os.utime(path, ns=(f.mtime_ms * 1_000_000,) * 2)


def project_config(root: Path):
    """The corpus project's config, its data under ``root``."""
    from groupetl.config import load_config

    root.mkdir(parents=True, exist_ok=True)
    conf = root / "conf.yaml"
    conf.write_text(CONFIG_YAML.format(root=root))
    return load_config(conf)


def ingest_corpus(spark, root: Path, batches: list[list[CorpusFile]] | None = None):
    """Land each batch and run one ingest after each; return (config, [StageResult x 3])."""
    from groupetl.ingest import run

    batches = batches if batches is not None else corpus_batches()
    config = project_config(root)
    if config.paths.landing.exists():
        shutil.rmtree(config.paths.landing)
    results = []
    for files in batches:
        drop(config.paths.landing, files)
        results.append(run(spark, config, progress=lambda _line: None))
    return config, results


def _canonical_value(v: Any) -> Any:
    if isinstance(v, dict):  # a MAP column: sorted [key, value] pairs
        return sorted(
            ([k, _canonical_value(x)] for k, x in v.items()),
            key=lambda kv: json.dumps(kv, sort_keys=True),
        )
    if isinstance(v, list):
        return [_canonical_value(x) for x in v]
    return v


def canonical_rows(spark, path: str, drop_columns: Sequence[str]) -> list[str]:
    """A Delta table's rows as sorted canonical JSON texts.

    Timestamps: ISO-8601 UTC with milliseconds (and microseconds when a value has any, so a
    sub-millisecond difference is not hidden); dates: ISO; maps: [key, value] pairs sorted by
    key; arrays in their order; structs as objects; every column but ``drop_columns``.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, TimestampType

    from groupetl import tables

    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    if not tables.exists(spark, path):
        return []
    df = spark.read.format("delta").load(path)
    columns = []
    for field in df.schema.fields:
        if field.name in drop_columns:
            continue
        c = F.col(f"`{field.name}`")
        if isinstance(field.dataType, TimestampType):
            micros = F.pmod(F.unix_micros(c), F.lit(1000))
            c = F.concat(
                F.date_format(c, "yyyy-MM-dd'T'HH:mm:ss.SSS"),
                F.when(micros != 0, F.lpad(micros.cast("string"), 3, "0")).otherwise(F.lit("")),
                F.lit("Z"),
            )
        elif isinstance(field.dataType, DateType):
            c = c.cast("string")
        columns.append(c.alias(field.name))
    rows = df.select(*columns).collect()
    out = [
        json.dumps(
            {k: _canonical_value(v) for k, v in r.asDict(recursive=False).items()},
            sort_keys=True,
            ensure_ascii=True,
        )
        for r in rows
    ]
    return sorted(out)


def corpus_file_rows(batches: list[list[CorpusFile]]) -> list[str]:
    rows = [
        json.dumps(
            {
                "batch": i,
                "relative": f.relative,
                "size": len(f.data),
                "sha256": hashlib.sha256(f.data).hexdigest(),
                "mtime_ms": f.mtime_ms,
            },
            sort_keys=True,
        )
        for i, files in enumerate(batches, start=1)
        for f in files
    ]
    return sorted(rows)


def dump(spark, config, results, batches: list[list[CorpusFile]]) -> dict[str, list[str]]:
    """Every dump (``DUMPS``) as sorted canonical JSON row texts."""
    out: dict[str, list[str]] = {}
    for name, (location, dropped) in TABLES.items():
        path = (
            str(config.paths.quarantine)
            if location == "<quarantine>"
            else config.paths.table(location)
        )
        out[name] = canonical_rows(spark, path, dropped)
    root = str(config.paths.root)
    out["run_results"] = [
        json.dumps(
            {
                "run": i,
                "stage": r.stage,
                "counts": sorted([k, v] for k, v in r.counts.items()),
                "notes": r.notes,
                "tables": [os.path.relpath(t, root) for t in r.tables],
            },
            sort_keys=True,
        )
        for i, r in enumerate(results, start=1)
    ]
    out["corpus_files"] = corpus_file_rows(batches)
    out["reason_codes"] = reason_code_rows()
    return out


def reason_code_rows() -> list[str]:
    from groupetl.reasons import Quarantine, Reported

    return sorted(
        json.dumps({"kind": kind, "code": code}, sort_keys=True)
        for kind, codes in (("quarantine", Quarantine.ALL), ("reported", Reported.ALL))
        for code in codes
    )


def golden_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.jsonl.gz"


def write_dumps(dumps: dict[str, list[str]], directory: Path) -> None:
    """One gzip file per dump, byte-deterministic (fixed gzip header, sorted rows)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in dumps.items():
        data = "".join(r + "\n" for r in rows).encode("utf-8")
        golden_path(directory, name).write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def read_dumps(directory: Path) -> dict[str, list[str]]:
    out = {}
    for name in DUMPS:
        path = golden_path(directory, name)
        text = gzip.decompress(path.read_bytes()).decode("utf-8") if path.exists() else ""
        out[name] = [line for line in text.split("\n") if line]
    return out
