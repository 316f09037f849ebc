"""QA suites on small in-memory tables: good data passes every expectation; data broken in one way
per expectation fails exactly the expectations broken, each naming what was wrong.

Two GX runs for the whole module (one good, one broken), shared by the tests through module-scoped
fixtures: each Spark job of GX costs ~0.1 s even on tiny frames.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from groupetl.config import ProjectConfig, load_config
from groupetl.qa.report import EXIT_QA_FAILED, QaResult, format_qa_table
from groupetl.qa.runner import validate_tables
from groupetl.qa.sources import QUARANTINE, tables_from_frames
from groupetl.schemas import T

pytestmark = pytest.mark.spark

NOW = dt.datetime(2026, 1, 10)
DAY = dt.datetime(2026, 1, 2, 12, 0)

CONFIG = """\
project: qa_test
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name, value_format: numeric}
  - {name: workspace, name_property: Workspace Name}
  - {name: team, name_property: Team Name, retired: true}
tracking_plan:
  events:
    - Login
    - name: Create Report
      properties: {report_type: string, chart_id: string}
      required: [report_type]
  group_properties:
    company: {Account Name: string, plan: string}
    workspace: {Workspace Name: string}
qa:
  thresholds:
    max_quarantine_rate: 0.2
    max_duplicate_rate: 0.2
    min_time: 2020-01-01
  severity:
    silver.events.insert_id_not_null: error       # default warning
    silver.group_names.every_group_named: warning  # default error
"""


def qa_config(tmp_path: Path) -> ProjectConfig:
    path = tmp_path / "qa_test.yaml"
    path.write_text(CONFIG)
    return load_config(path)


# --- rows with the silver schemas' column order (nullable copies: broken data breaks them) ---


def nullable(schema):
    from pyspark.sql.types import StructField, StructType

    return StructType([StructField(f.name, f.dataType, True) for f in schema.fields])


def event(
    n, event_type="Login", user="user-0001", time=DAY, insert_id="ins", props=None, groups=None
):
    insert_id = None if insert_id is None else f"{insert_id}{n}"
    return (
        f"e{n}",
        time,
        DAY.date(),
        event_type,
        user,
        user,
        None,
        insert_id,
        props or {},
        groups,
        "amplitude",
        "http_v2",
        None,
        "f.json",
        n,
        0,
        "b1",
    )


def assignment(n, group_type, values, user="user-0001"):
    return (
        f"a{n}",
        DAY,
        user,
        group_type,
        values,
        "amplitude",
        "identify",
        None,
        "i.json",
        n,
        0,
        "b1",
    )


def op(n, group_type, value, prop, value_json='"x"', operation="$set"):
    return (
        f"o{n}",
        DAY,
        group_type,
        value,
        operation,
        prop,
        value_json,
        "group_identify",
        "amplitude",
        "group_identify",
        None,
        "g.json",
        n,
        0,
        "b1",
    )


def record(n):
    return (
        f"r{n}",
        "event",
        DAY,
        "user-0001",
        None,
        "amplitude",
        "http_v2",
        None,
        "f.json",
        n,
        0,
        "b1",
    )


def duplicate(n):
    return (f"d{n}", "r1", "user-0001", "ins1", "f.json", 100 + n, 0, "b1")


def quarantined(n):
    return ("b1", DAY, "f.json", "http_v2", 200 + n, 0, f"q{n}", "invalid_json", "bad", "{")


def bronze(n, raw="{}", arrival=DAY):
    return ("b1", DAY, "amplitude/b.json", "http_v2", arrival, n, raw)


def membership(user, group_type, values):
    return (user, group_type, values, DAY, None, "a1", "amplitude")


def attributed(n, group_type, value, attribution="event"):
    return (
        f"e{n}",
        DAY,
        DAY.date(),
        "Login",
        "user-0001",
        "user-0001",
        None,
        {},
        "amplitude",
        group_type,
        value,
        attribution,
        1,
        "b1",
    )


def good_rows() -> dict[str, list]:
    """A small, clean project: every expectation passes."""
    return {
        T.BRONZE_RECORDS: [bronze(1), bronze(2)],
        T.SILVER_EVENTS: [
            event(1, groups={"company": ["1001"]}),
            event(
                2,
                "Create Report",
                "user-0002",
                props={"report_type": "t", "chart_id": "c"},
                groups={"workspace": ["ws-a"]},
            ),
            event(3),
        ],
        T.SILVER_GROUP_ASSIGNMENTS: [
            assignment(1, "company", ["1001"]),
            assignment(2, "workspace", ["ws-a"], "user-0002"),
        ],
        T.SILVER_GROUP_PROPERTY_OPS: [
            op(1, "company", "1001", "Account Name", '"Acme"'),
            op(2, "company", "1001", "plan", '"pro"'),
            op(3, "workspace", "ws-a", "Workspace Name", '"Alpha"', "$setOnce"),
        ],
        T.SILVER_RECORDS: [record(n) for n in range(8)],
        T.SILVER_DUPLICATES: [duplicate(1)],
        QUARANTINE: [quarantined(1)],
        T.MEMBERSHIP_HISTORY: [membership("user-0001", "company", ["1001"])],
        T.CURRENT_GROUP_PROPERTIES: [("company", "1001", 1, DAY, {"Account Name": '"Acme"'})],
        T.ATTRIBUTED_EVENTS: [
            attributed(1, "company", "1001"),
            attributed(3, "workspace", None, "none"),
        ],
    }


# expectation id -> a sample its failure must name (None: an aggregate, no samples)
BROKEN = {
    "bronze.records.raw_not_null": "amplitude/b.json:7",
    "bronze.records.arrival_time_in_range": "2019-05-01 00:00:00",
    "silver.events.event_type_not_null": None,
    "silver.events.user_key_not_null": None,
    "silver.events.event_time_not_null": None,
    "silver.events.insert_id_not_null": None,
    "silver.events.user_key_valid": "abc",
    "silver.events.event_time_in_range": "2030-01-01 00:00:00",
    "silver.events.event_type_in_tracking_plan": "Sign Up",
    "silver.events.required_properties_present": "Create Report: report_type",
    "silver.event_properties.in_tracking_plan": "Login.color",
    "silver.group_types.declared": "org",
    "silver.group_types.at_most_5": None,
    "silver.group_types.not_retired": "team",
    "silver.group_values.not_empty": "workspace in group_assignments",
    "silver.group_values.numeric[company]": "acme",
    "silver.group_names.every_group_named": "workspace:ws-unnamed",
    "silver.group_property_keys.at_most_1000": None,
    "silver.group_property_keys.in_tracking_plan": "company.color",
    "silver.record_outcomes.quarantine_rate_within_max": None,
    "silver.record_outcomes.duplicate_rate_within_max": None,
    "silver.membership_history.group_type_declared": "org",
    "silver.attributed_events.group_type_declared": "org",
    "silver.attributed_events.attribution_known": "magic",
}


def broken_rows() -> dict[str, list]:
    """The good project plus one fault per expectation of BROKEN (comments name the id)."""
    rows = good_rows()
    rows[T.BRONZE_RECORDS] += [bronze(7, raw=None), bronze(8, arrival=dt.datetime(2019, 5, 1))]
    rows[T.SILVER_EVENTS] += [
        event(10, event_type=None),  # event_type_not_null
        event(11, user=None),  # user_key_not_null
        event(12, time=None),  # event_time_not_null
        event(13, insert_id=None),  # insert_id_not_null
        event(14, user="abc"),  # user_key_valid: shorter than Amplitude's 5
        event(15, time=dt.datetime(2030, 1, 1)),  # event_time_in_range
        event(16, "Sign Up"),  # event_type_in_tracking_plan
        event(17, "Create Report", props={"chart_id": "c9"}),  # required_properties_present
        event(18, props={"color": "red"}),  # event_properties.in_tracking_plan
        event(19, groups={"org": ["77"]}),  # group_types.declared
        event(20, groups={"company": ["acme"]}),  # group_values.numeric[company]
        event(21, groups={"workspace": ["ws-unnamed"]}),  # group_names.every_group_named
    ]
    rows[T.SILVER_GROUP_ASSIGNMENTS] += [
        assignment(10, "team", ["t1"]),  # group_types.not_retired
        assignment(11, "workspace", [""]),  # group_values.not_empty
    ]
    rows[T.SILVER_GROUP_PROPERTY_OPS] += [
        op(10, "team", "t1", "Team Name"),  # (names the retired type's group)
        op(11, "company", "acme", "Account Name"),  # (names the non-numeric company)
        op(12, "company", "1001", "color"),  # group_property_keys.in_tracking_plan
        # group_types.at_most_5: company, workspace, team, org, x1, x2 (undeclared by necessity)
        op(13, "x2", "1", "k0"),
        # group_property_keys.at_most_1000, on a type without planned properties
        *[op(100 + k, "x1", "1", f"k{k}") for k in range(1001)],
    ]
    rows[T.SILVER_RECORDS] = [record(1), record(2)]
    rows[T.SILVER_DUPLICATES] = [duplicate(n) for n in range(3)]  # 3 of 8 raw records
    rows[QUARANTINE] = [quarantined(n) for n in range(3)]  # 3 of 8 raw records
    rows[T.MEMBERSHIP_HISTORY] += [membership("user-0001", "org", ["77"])]
    rows[T.ATTRIBUTED_EVENTS] += [
        attributed(19, "org", "77"),
        attributed(1, "company", "1001", "magic"),
    ]
    return rows


def run_on(spark, config: ProjectConfig, rows: dict[str, list], docs: Path) -> QaResult:
    from groupetl.qa.sources import SOURCES

    schemas = {s.name: nullable(s.schema) for s in SOURCES}
    frames = {name: spark.createDataFrame(r, schemas[name]) for name, r in rows.items()}
    return validate_tables(
        spark, config, tables_from_frames(spark, frames), data_docs_dir=docs, now=NOW
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> ProjectConfig:
    return qa_config(tmp_path_factory.mktemp("qa_conf"))


@pytest.fixture(scope="module")
def good(spark, config, tmp_path_factory) -> QaResult:
    return run_on(spark, config, good_rows(), tmp_path_factory.mktemp("docs_good"))


@pytest.fixture(scope="module")
def broken(spark, config, tmp_path_factory) -> QaResult:
    return run_on(spark, config, broken_rows(), tmp_path_factory.mktemp("docs_broken"))


def test_good_data_passes_every_expectation_of_every_suite(good: QaResult) -> None:
    failed = [(o.expectation, o.observed, o.samples) for o in good.outcomes if not o.passed]
    assert failed == []
    assert good.exit_code == 0
    assert good.skipped == ()
    suites = {o.suite for o in good.outcomes}
    assert suites == {
        "tables",
        "bronze.records",
        "silver.events",
        "silver.event_properties",
        "silver.group_types",
        "silver.group_values",
        "silver.group_names",
        "silver.group_property_keys",
        "silver.record_outcomes",
        "silver.membership_history",
        "silver.attributed_events",
    }


def test_broken_data_fails_exactly_the_broken_expectations(good, broken: QaResult) -> None:
    assert {o.expectation for o in broken.outcomes} == {o.expectation for o in good.outcomes}
    assert {o.expectation for o in broken.outcomes if not o.passed} == set(BROKEN)


@pytest.mark.parametrize("expectation", sorted(BROKEN))
def test_each_fault_is_reported_by_its_expectation_with_a_sample(broken, expectation) -> None:
    outcome = broken.outcome(expectation)
    assert not outcome.passed
    assert expectation.startswith(outcome.suite + ".")
    sample = BROKEN[expectation]
    if sample is not None:
        assert sample in outcome.samples, outcome


def test_observed_values_say_how_much_is_wrong(broken: QaResult) -> None:
    assert broken.outcome("silver.group_types.at_most_5").observed == "6"
    assert broken.outcome("silver.group_property_keys.at_most_1000").observed == "1006"
    assert broken.outcome("silver.record_outcomes.quarantine_rate_within_max").observed == "0.375"
    assert broken.outcome("silver.events.event_type_in_tracking_plan").observed == "1 of 15 rows"


def test_severity_comes_from_defaults_and_config_overrides(broken: QaResult) -> None:
    severity = {o.expectation: o.severity for o in broken.outcomes}
    assert severity["silver.events.insert_id_not_null"] == "error"  # overridden
    assert severity["silver.group_names.every_group_named"] == "warning"  # overridden
    assert severity["silver.group_types.not_retired"] == "warning"
    assert severity["silver.events.event_type_in_tracking_plan"] == "error"


def test_failed_error_gives_the_qa_exit_code_and_warnings_alone_do_not(broken) -> None:
    assert broken.exit_code == EXIT_QA_FAILED
    only_warnings = QaResult(
        broken.run_id,
        broken.project,
        broken.run_time,
        tuple(o for o in broken.outcomes if o.severity == "warning"),
        (),
        broken.data_docs_index,
        broken.stage,
    )
    assert only_warnings.failed_warnings and not only_warnings.failed_errors
    assert only_warnings.exit_code == 0


def test_run_summary_counts_and_printed_table(broken: QaResult) -> None:
    counts = broken.stage.counts
    assert counts["expectations"] == len(broken.outcomes)
    assert counts["failed_errors"] + counts["failed_warnings"] == len(BROKEN)
    lines = format_qa_table(broken)
    assert lines[0].startswith("QA qa_test qa-20260110T000000Z-") and "FAILED" in lines[0]
    row = next(line for line in lines if "silver.events.event_type_in_tracking_plan" in line)
    assert row.split()[:2] == ["FAIL", "error"] and row.endswith("Sign Up")
    warn = next(line for line in lines if "silver.group_types.not_retired" in line)
    assert warn.split()[:2] == ["WARN", "warning"]
    statuses = [
        line.split()[0] for line in lines[2:] if line.split()[0] in ("FAIL", "WARN", "PASS")
    ]
    assert statuses == sorted(statuses, key=["FAIL", "WARN", "PASS"].index)
    assert lines[-1] == f"data docs: {broken.data_docs_index}"


def test_data_docs_index_lists_every_suite_with_its_page(good: QaResult) -> None:
    index = good.data_docs_index
    page = index.read_text()
    assert 'id="groupetl-qa-summary"' in page
    for suite in {o.suite for o in good.outcomes}:
        assert f">{suite}</a>" in page
    assert (index.parent / "validations").is_dir()
    # the GX logo comes from the site's static/images, not from S3: it shows offline
    pages = [p.read_text() for p in index.parent.rglob("*.html")]
    assert not any("amazonaws.com/logo-long.png" in p for p in pages)
    assert any('src="static/images/logo-long.png"' in p for p in pages)
    # their stylesheets, scripts and fonts come from the site's static/vendor, none from a CDN
    tags = [
        u for p in pages for u in re.findall(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"([^\"]+)", p)
    ]
    assert any("static/vendor/bootstrap/css/bootstrap.min.css" in u for u in tags)
    assert [u for u in tags if re.match(r"https?:", u)] == []
    styles = [p.read_text() for p in index.parent.rglob("*.css")]
    remote = [u for css in styles for u in re.findall(r"url\(['\"]?(https?:[^)'\"]+)", css)]
    assert all(u.endswith("/full_logo_dark.png") for u in remote)  # dark mode's logo, docs/qa.md
