"""JSON nested deeper than ``MAX_JSON_DEPTH`` levels is quarantined, and never stops the run.

Before this rule, an event whose properties nested about 900 levels deep overflowed the stack
of a Spark task in ``schema_of_variant`` and killed the whole local JVM: the run failed and
loaded nothing. Hand-made Amplitude lines (docs/input-formats.md "Validation"):

1. two events, properties 5 levels deep: both load;
2. two events, one 150 levels deep: the line is ONE record, ``nesting_too_deep``;
3. one event 900 levels deep (the depth that killed the JVM): ``nesting_too_deep``;
4. one event 1,100 levels deep (more than the JSON reader reads): ``invalid_json``;

and an Identify API body whose list is a JSON string (the form-encoded API): its items are not
part of their line's parse, so each is checked on its own: the deep one is quarantined
``nesting_too_deep`` (with its index), the other loads.
"""

from __future__ import annotations

import json
import os

import pytest

from groupetl import tables
from groupetl.ingest import run
from groupetl.ingest.functions import MAX_JSON_DEPTH
from groupetl.ingest.summary import check_balance
from groupetl.schemas import C
from test_ingest_run import ARRIVAL_MS, project

pytestmark = pytest.mark.spark
HTTP = "amplitude_http/deep.json"
IDENTIFY = "amplitude_identify/deep.json"


def _nested(depth: int) -> str:
    text = "1"
    for _ in range(depth):
        text = '{"a":' + text + "}"
    return text


def _event(n: int, depth: int) -> str:
    head = {"event_type": "Login", "user_id": f"user-{n:05d}", "time": ARRIVAL_MS - 60_000,
            "insert_id": f"ins-{n}", "groups": {"company": "1"}}  # fmt: skip
    return json.dumps(head)[:-1] + f', "event_properties": {_nested(depth)}}}'


def _body(*events: str) -> str:
    return '{"api_key": "k", "events": [' + ", ".join(events) + "]}"


def _write(config, name: str, lines: list[str]) -> None:
    path = config.paths.landing / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    os.utime(path, ns=(ARRIVAL_MS * 1_000_000,) * 2)


def test_json_nested_too_deep_is_quarantined_and_the_run_goes_on(spark, tmp_path) -> None:
    assert MAX_JSON_DEPTH < 150
    config = project(tmp_path / "p")
    _write(
        config,
        HTTP,
        [
            _body(_event(1, 5), _event(2, 5)),
            _body(_event(3, 5), _event(4, 150)),
            _body(_event(5, 900)),
            _body(_event(6, 1100)),
        ],
    )
    deep_user = {"user_id": "user-00008", "user_properties": json.loads(_nested(150))}
    items = json.dumps([{"user_id": "user-00007", "user_properties": {"plan": "pro"}}, deep_user])
    _write(config, IDENTIFY, [json.dumps({"api_key": "k", "identification": items})])

    counts = run(spark, config).counts
    check_balance(counts, "the test")
    assert counts["records_read"] == 2 + 1 + 1 + 1 + 2
    assert (counts["accepted_events"], counts["accepted_group_assignments"]) == (2, 1)
    assert (counts["quarantined_nesting_too_deep"], counts["quarantined_invalid_json"]) == (3, 1)

    quarantined = tables.read(spark, str(config.paths.quarantine)).collect()
    got = sorted(
        (r[C.SOURCE_FILE].split("landing/")[-1], r[C.LINE_NUMBER], r[C.RECORD_INDEX], r[C.REASON])
        for r in quarantined
    )
    assert got == [
        (HTTP, 2, None, "nesting_too_deep"),
        (HTTP, 3, None, "nesting_too_deep"),
        (HTTP, 4, None, "invalid_json"),
        (IDENTIFY, 1, 1, "nesting_too_deep"),
    ]
    messages = {r[C.REASON]: r[C.MESSAGE] for r in quarantined if r[C.RECORD_INDEX] is None}
    assert messages["nesting_too_deep"] == (
        f"the line's JSON nests deeper than {MAX_JSON_DEPTH} levels"
    )
    assert messages["invalid_json"] == "the line is not valid JSON"
