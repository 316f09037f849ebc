"""QA settings and the expectation catalog: Spark-free, milliseconds.

The ``qa:`` section is validated like the rest of the config (file, line, key); the catalog's ids
are stable and its severities follow defaults unless config overrides them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from groupetl.config import load_config
from groupetl.errors import ConfigError
from groupetl.qa.catalog import build_catalog, expectation_ids
from groupetl.qa.datadocs import localize_images
from groupetl.qa.report import EXIT_QA_FAILED, ExpectationOutcome, QaResult, format_qa_table
from groupetl.qa.settings import Thresholds, load_qa_settings
from groupetl.stages import StageResult

NOW = dt.datetime(2026, 1, 10)
BASE = """\
project: p
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name, value_format: numeric}
  - {name: team, retired: true}
tracking_plan:
  events: [Login]
"""


def config_with(tmp_path: Path, qa: str = ""):
    path = tmp_path / "p.yaml"
    path.write_text(BASE + qa)
    return load_config(path)


def test_defaults_when_the_qa_section_is_absent(tmp_path: Path) -> None:
    settings = load_qa_settings(config_with(tmp_path))
    assert settings.thresholds == Thresholds()
    assert settings.severity == {}


def test_thresholds_and_severities_are_read(tmp_path: Path) -> None:
    qa = """\
qa:
  thresholds: {max_quarantine_rate: 0.1, max_duplicate_rate: 0, min_time: 2021-03-04,
               max_time: "2026-02-01T12:00:00Z", max_future_days: 3}
  severity: {silver.events.insert_id_not_null: error}
"""
    settings = load_qa_settings(config_with(tmp_path, qa))
    t = settings.thresholds
    assert (t.max_quarantine_rate, t.max_duplicate_rate) == (0.1, 0.0)
    assert t.min_time == dt.datetime(2021, 3, 4)
    assert t.latest_time(NOW) == dt.datetime(2026, 2, 1, 12)
    assert settings.severity == {"silver.events.insert_id_not_null": "error"}


@pytest.mark.parametrize(
    ("qa", "message"),
    [
        ("qa:\n  thresholds:\n    max_quarantine_rate: 2\n",
         r"p.yaml:10: qa.thresholds.max_quarantine_rate: expected a number from 0 to 1, found 2"),
        ("qa:\n  thresholds:\n    min_time: yesterday\n",
         r"p.yaml:10: qa.thresholds.min_time: expected a date or date-time"),
        ("qa:\n  thresholds: {min_time: 2024-01-01, max_time: 2023-01-01}\n",
         r"qa.thresholds.max_time: must be later than min_time"),
        ("qa:\n  severity:\n    silver.events.insert_id_not_null: fatal\n",
         r"p.yaml:10: qa.severity.silver.events.insert_id_not_null: must be one of error, warning"),
        ("qa:\n  thresholds: {}\n  sevrity: {}\n",
         r"p.yaml:10: qa.sevrity: unknown key; allowed here: thresholds, severity"),
    ],
)  # fmt: skip
def test_invalid_qa_section_names_file_line_and_key(tmp_path: Path, qa: str, message) -> None:
    with pytest.raises(ConfigError, match=message):
        load_qa_settings(config_with(tmp_path, qa))


def test_severity_for_an_unknown_expectation_id_is_refused_at_its_line(tmp_path: Path) -> None:
    config = config_with(tmp_path, "qa:\n  severity:\n    silver.events.typo: warning\n")
    with pytest.raises(ConfigError, match=r"p.yaml:10: qa.severity.silver.events.typo: unknown "):
        build_catalog(config, load_qa_settings(config), NOW)


def test_catalog_ids_follow_the_config(tmp_path: Path) -> None:
    config = config_with(tmp_path)
    ids = list(expectation_ids(build_catalog(config, load_qa_settings(config), NOW)))
    assert len(ids) == len(set(ids))
    assert "silver.group_values.numeric[company]" in ids  # value_format: numeric
    assert "silver.group_types.not_retired" in ids  # a retired type is declared
    assert "silver.events.event_type_in_tracking_plan" in ids
    # no required event property and no planned group property: those checks are left out
    assert "silver.events.required_properties_present" not in ids
    assert "silver.group_property_keys.in_tracking_plan" not in ids


def test_severity_override_changes_only_the_named_expectation(tmp_path: Path) -> None:
    config = config_with(tmp_path, "qa:\n  severity: {silver.group_types.declared: warning}\n")
    suites = build_catalog(config, load_qa_settings(config), NOW)
    severity = {c.id: c.severity for s in suites for c in s.checks}
    assert severity["silver.group_types.declared"] == "warning"
    assert severity["silver.group_types.at_most_5"] == "error"
    assert severity["silver.events.insert_id_not_null"] == "warning"


def result_of(*outcomes: ExpectationOutcome) -> QaResult:
    return QaResult("qa-1", "p", NOW, outcomes, (), Path("docs/index.html"), StageResult("qa"))


def outcome(expectation: str, severity: str, passed: bool) -> ExpectationOutcome:
    return ExpectationOutcome("s", expectation, severity, passed, "1 of 2 rows", ("x",))


def test_exit_code_is_non_zero_iff_an_error_expectation_failed() -> None:
    assert result_of(outcome("a", "error", True), outcome("b", "warning", False)).exit_code == 0
    assert result_of(outcome("a", "error", False)).exit_code == EXIT_QA_FAILED
    assert result_of().exit_code == 0


def test_printed_table_puts_failures_first_and_names_the_docs() -> None:
    lines = format_qa_table(
        result_of(outcome("s.ok", "error", True), outcome("s.bad", "error", False))
    )
    assert lines[0] == ("QA p qa-1: FAILED: 2 expectations, 1 errors failed, 0 warnings failed")
    assert lines[1].split() == ["status", "severity", "expectation", "observed", "samples"]
    assert lines[2].split() == ["FAIL", "error", "s.bad", "1", "of", "2", "rows", "x"]
    assert lines[3].startswith("PASS")
    assert lines[-1] == "data docs: docs/index.html"


def test_data_docs_pages_take_the_gx_logo_from_the_sites_own_copy(tmp_path: Path) -> None:
    s3 = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com"
    (tmp_path / "static" / "images").mkdir(parents=True)
    (tmp_path / "static" / "images" / "logo-long.png").write_bytes(b"png")
    deep = tmp_path / "validations" / "events" / "run" / "20260110"
    deep.mkdir(parents=True)
    nav = f'<img src="{s3}/logo-long.png?d=abc123" alt="GX"><img src="{s3}/missing.png">'
    (tmp_path / "index.html").write_text(nav)
    (deep / "batch.html").write_text(nav)
    (tmp_path / "plain.html").write_text("<p>no logo</p>")
    assert localize_images(tmp_path) == 2
    assert (tmp_path / "index.html").read_text() == (
        f'<img src="static/images/logo-long.png" alt="GX"><img src="{s3}/missing.png">'
    )  # an image GX did not copy keeps its URL
    assert '<img src="../../../../static/images/logo-long.png"' in (deep / "batch.html").read_text()
