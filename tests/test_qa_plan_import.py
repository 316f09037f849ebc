"""Tracking plan import from a planning workbook's taxonomy CSV: Spark-free."""

from __future__ import annotations

from pathlib import Path

import pytest

from groupetl.config import EventPlan, load_config
from groupetl.errors import InputError
from groupetl.qa.plan_import import import_tracking_plan, render_tracking_plan_yaml

HEADER = "Event,Property,Type,Required,Group Type,Description\n"
GOOD = HEADER + (
    "Login,,,,,User signs in\n"
    'Create Report,report_type,String,yes,,"Kind: table, bar"\n'
    "Create Report,chart_id,string,,,\n"
    "Tag Report,tags,array,no,,\n"
    ",,,,,\n"
    ",Account Name,string,,company,display name\n"
    ",seats,number,,company,\n"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_csv_becomes_the_tracking_plan_section(tmp_path: Path) -> None:
    plan = import_tracking_plan(write(tmp_path, GOOD))
    assert plan == {
        "events": [
            {"name": "Login", "description": "User signs in"},
            {
                "name": "Create Report",
                "properties": {"report_type": "string", "chart_id": "string"},
                "required": ["report_type"],
            },
            {"name": "Tag Report", "properties": {"tags": "list"}},
        ],
        "group_properties": {"company": {"Account Name": "string", "seats": "number"}},
    }


def test_rendered_yaml_loads_as_a_project_config(tmp_path: Path) -> None:
    yaml_text = render_tracking_plan_yaml(import_tracking_plan(write(tmp_path, GOOD)))
    config_path = tmp_path / "p.yaml"
    config_path.write_text("project: p\npaths: {root: d}\ngroup_types: [company]\n" + yaml_text)
    plan = load_config(config_path).tracking_plan
    assert plan.events[1] == EventPlan(
        "Create Report", {"report_type": "string", "chart_id": "string"}, ("report_type",)
    )
    assert plan.group_properties == {"company": {"Account Name": "string", "seats": "number"}}


def test_shipped_example_matches_the_local_projects_plan(repo_root: Path) -> None:
    plan = import_tracking_plan(repo_root / "conf" / "tracking_plan.example.csv")
    local = load_config(repo_root / "conf" / "local.yaml").tracking_plan
    assert [e["name"] for e in plan["events"]] == list(local.event_names)
    assert plan["group_properties"] == local.group_properties


def test_unknown_type_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "Login,,,,,\nLogin,when,date,,,\n")
    with pytest.raises(InputError) as err:
        import_tracking_plan(path)
    assert str(err.value) == (
        f"{path}:3: column 'type': unknown type 'date'; allowed: string, number, boolean, list, any"
    )


def test_line_numbers_count_quoted_cells_spanning_lines(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + 'Login,,,,,"two\nlines"\nLogin,x,string,maybe,,\n')
    with pytest.raises(InputError, match=r"plan.csv:4: column 'required': expected yes or no"):
        import_tracking_plan(path)


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "event,property,type,group type,description\nLogin,,,,\n")
    with pytest.raises(InputError, match=r"plan.csv:1: missing column 'required'; expected"):
        import_tracking_plan(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("Login,x,string,,company,", r":2: column 'group type': a row is an event row or a group"),
        (",x,string,,,", r":2: column 'event': property 'x' needs an event or a group type"),
        (",plan,string,yes,company,", r":2: column 'required': only event properties can be"),
        (",,string,,company,", r":2: column 'property': group type 'company' needs a property"),
    ],
)
def test_ambiguous_rows_are_refused(tmp_path: Path, row: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        import_tracking_plan(write(tmp_path, HEADER + row + "\n"))


def test_conflicting_types_for_one_property_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "A,x,string,,,\nA,x,number,,,\n")
    with pytest.raises(InputError, match=r":3: column 'type': 'x' is listed before with type"):
        import_tracking_plan(path)
