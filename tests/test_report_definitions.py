"""The ``reports:`` config section: valid definitions load, bad ones name file, line and key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from groupetl.config import load_config
from groupetl.errors import ConfigError, InputError
from groupetl.reports.columns import R
from groupetl.reports.definitions import (
    Condition,
    FunnelReport,
    PropertyRef,
    SegmentationReport,
    load_reports,
    select_reports,
)
from groupetl.schemas import FUNNEL_GROUPS, FUNNEL_STEPS, MICROSCOPE, REPORT_STATE, SEGMENTATION
from test_report_helpers import make_config


def test_example_reports_load_with_the_demo_config(repo_root: Path, tmp_path: Path) -> None:
    text = (repo_root / "conf/local.yaml").read_text() + "\n"
    text += (repo_root / "conf/reports.example.yaml").read_text()
    path = tmp_path / "local.yaml"
    path.write_text(text)
    reports = load_reports(load_config(path))
    kinds = [r.kind for r in reports]
    assert kinds == ["segmentation"] * 4 + ["funnel"] * 2
    funnel = reports[4]
    assert isinstance(funnel, FunnelReport)
    assert funnel.window_ms == 7 * 86_400_000
    assert funnel.steps[1].where == (
        Condition(PropertyRef("event", "amount"), ">", ("0",), (0.0,)),
    )
    users = reports[1]
    assert isinstance(users, SegmentationReport)
    assert (users.group_type, users.property_group_type) == ("user", "company")
    assert reports[5].exclusions[0].after_step == 2


def test_defaults(tmp_path: Path) -> None:
    seg, fun = load_reports(
        make_config(
            tmp_path,
            """
            - name: a
              group_type: user
            - name: b
              kind: funnel
              group_type: company
              steps: [X, Y]
              from: 2024-01-01
            """,
        )
    )
    assert (seg.interval, seg.property_group_type, seg.events, seg.segment_by) == (
        "day",
        "company",
        (),
        None,
    )
    assert (fun.order, fun.window_ms, fun.date_from) == (
        "this_order",
        86_400_000,
        dt.date(2024, 1, 1),
    )


@pytest.mark.parametrize(
    ("item", "line", "message"),
    [
        ("- name: a\n  group_type: team\n", 2, "reports[0].group_type: expected one of"),
        ("- name: a\n  group_type: company\n  colour: red\n", 3, "reports[0].colour: unknown"),
        (
            "- name: a\n  kind: funnel\n  group_type: company\n  steps: [X]\n",
            4,
            "a funnel has 2 to 10 steps; found 1",
        ),
        (
            "- name: a\n  kind: funnel\n  group_type: company\n  steps: [X, Y]\n  window: 7\n",
            5,
            "expected a duration",
        ),
        (
            "- name: a\n  kind: funnel\n  group_type: company\n  steps: [X, Y]\n"
            "  window: 30 seconds\n",
            5,
            "expected a duration",
        ),
        (
            "- name: a\n  group_type: company\n  interval: week\n  rolling_days: 7\n",
            4,
            "a rolling window needs interval: day",
        ),
        (
            "- name: a\n  group_type: company\n  where:\n"
            "    - {property: event.n, op: '>', value: big}\n",
            4,
            "op '>' compares numbers",
        ),
        (
            "- name: a\n  group_type: company\n  segment_by: plan\n",
            3,
            "expected event.<property> or group.<property>",
        ),
        ("- name: a\n  group_type: company\n  top: {n: 3}\n", 3, "top needs segment_by"),
        (
            "- name: a\n  kind: funnel\n  group_type: company\n  steps: [X, Y]\n"
            "  order: any_order\n  exclude: [{event: Z}]\n",
            6,
            "exclusion steps need an ordered funnel",
        ),
        (
            "- name: a\n  kind: funnel\n  group_type: company\n  steps: [X, Y, Z]\n"
            "  exclude: [{event: Q, between: [1, 3]}]\n",
            5,
            "two consecutive step numbers",
        ),
        (
            "- name: a\n  group_type: company\n- name: a\n  group_type: user\n",
            3,
            "report 'a' defined twice",
        ),
        (
            "- name: a\n  group_type: user\n  property_group_type: user\n",
            3,
            "reports[0].property_group_type: expected one of company, workspace",
        ),
    ],
)
def test_invalid_definitions_name_file_line_and_key(tmp_path, item, line, message) -> None:
    config = make_config(tmp_path, item)
    with pytest.raises(ConfigError) as err:
        load_reports(config)
    text = str(err.value)
    # the generated file has 8 header lines and ``reports:``: item line 1 is file line 10
    assert f"conf.yaml:{line + 9}:" in text, text
    assert message in text, text


def test_a_cohort_of_another_group_type_is_refused(tmp_path: Path) -> None:
    cohorts = """
cohorts:
  - name: busy
    group_type: workspace
    rule: {event: Login, at_least: 3, window: {last_days: 30}}
"""
    config = make_config(tmp_path, "- name: a\n  group_type: company\n  cohort: busy\n", cohorts)
    with pytest.raises(ConfigError, match="cohort 'busy' is a cohort of workspace"):
        load_reports(config)


def test_select_reports_names_unknown_ones(tmp_path: Path) -> None:
    reports = load_reports(make_config(tmp_path, "- name: a\n  group_type: company\n"))
    assert select_reports(reports, None) == reports
    with pytest.raises(InputError, match="unknown report"):
        select_reports(reports, ["b"])


def test_definition_hash_changes_with_the_definition(tmp_path: Path) -> None:
    a = load_reports(make_config(tmp_path / "a", "- name: a\n  group_type: company\n"))[0]
    b = load_reports(
        make_config(tmp_path / "b", "- name: a\n  group_type: company\n  interval: week\n")
    )[0]
    again = load_reports(make_config(tmp_path / "c", "- name: a\n  group_type: company\n"))[0]
    assert a.definition_hash() == again.definition_hash() != b.definition_hash()


def test_gold_schemas_use_the_report_column_names() -> None:
    names = {v for k, v in vars(R).items() if not k.startswith("_") and isinstance(v, str)}
    for schema in (SEGMENTATION, FUNNEL_STEPS, FUNNEL_GROUPS, MICROSCOPE, REPORT_STATE):
        assert set(schema.fieldNames()) <= names
