"""Taxonomy comparison of two projects (test -> prod promotion check) on their silver tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from groupetl import schemas, tables
from groupetl.config import ProjectConfig, load_config
from groupetl.errors import InputError
from groupetl.qa.compare import compare_projects, format_taxonomy_diff
from groupetl.schemas import T

pytestmark = pytest.mark.spark

DAY = dt.datetime(2026, 1, 2, 9, 30)


def project(root: Path, name: str, events: str) -> ProjectConfig:
    path = root / f"{name}.yaml"
    path.write_text(
        f"project: {name}\npaths: {{root: {name}-data}}\n"
        "group_types: [company, workspace]\n"
        f"tracking_plan:\n  events: [{events}]\n"
    )
    return load_config(path)


def event(n: int, event_type: str, props: dict, groups: dict) -> tuple:
    return (f"e{n}", DAY, DAY.date(), event_type, "user-0001", "user-0001", None, f"i{n}", props,
            groups, "amplitude", "http_v2", None, "a.json", n, 0, "b1")  # fmt: skip


def op(n: int, group_type: str, prop: str) -> tuple:
    return (f"o{n}", DAY, group_type, "1", "$set", prop, '"x"', "group_identify", "amplitude",
            "group_identify", None, "g.json", n, 0, "b1")  # fmt: skip


def write(spark, config: ProjectConfig, events: list, ops: list) -> None:
    tables.append(
        spark.createDataFrame(events, schemas.SILVER_EVENTS), config.paths.table(T.SILVER_EVENTS)
    )
    tables.append(
        spark.createDataFrame(ops, schemas.SILVER_GROUP_PROPERTY_OPS),
        config.paths.table(T.SILVER_GROUP_PROPERTY_OPS),
    )


@pytest.fixture(scope="module")
def projects(spark, tmp_path_factory) -> tuple[ProjectConfig, ProjectConfig]:
    """test sends Export Report and Login.source; prod's data has a workspace group type."""
    root = tmp_path_factory.mktemp("compare")
    test = project(root, "test", "Login, Export Report")
    prod = project(root, "prod", "Login")
    shared = [op(1, "company", "Account Name")]
    write(spark, test, [
        event(1, "Login", {"plan": "pro", "source": "ios"}, {"company": ["1"]}),
        event(2, "Export Report", {}, {"company": ["1"]}),
    ], shared)  # fmt: skip
    write(spark, prod, [
        event(1, "Login", {"plan": "pro"}, {"company": ["1"], "workspace": ["w1"]}),
    ], shared)  # fmt: skip
    return test, prod


def test_data_diff_names_the_event_property_and_group_type_of_each_side(spark, projects) -> None:
    test, prod = projects
    diff = compare_projects(spark, test, prod)
    assert diff.only_in_a == {
        "events": ("Export Report",),
        "event_properties": ("Login.source",),
        "group_types": (),
        "group_properties": (),
    }
    assert diff.only_in_b == {
        "events": (),
        "event_properties": (),
        "group_types": ("workspace",),
        "group_properties": (),
    }
    assert format_taxonomy_diff(diff) == [
        "taxonomy test vs prod (data): 3 differences",
        "  events only in test: Export Report",
        "  event properties only in test: Login.source",
        "  group types only in prod: workspace",
    ]


def test_a_project_compared_with_itself_is_identical(spark, projects) -> None:
    test, _ = projects
    diff = compare_projects(spark, test, test)
    assert diff.is_empty
    assert format_taxonomy_diff(diff) == ["taxonomy test vs test (data): identical"]


def test_plan_diff_reads_the_configs_only(spark, projects) -> None:
    test, prod = projects
    diff = compare_projects(spark, test, prod, source="plan")
    assert diff.only_in_a["events"] == ("Export Report",)
    assert not any(diff.only_in_b.values())


def test_unknown_source_is_refused(spark, projects) -> None:
    with pytest.raises(InputError, match="taxonomy source must be one of data, plan, both"):
        compare_projects(spark, *projects, source="prod")
