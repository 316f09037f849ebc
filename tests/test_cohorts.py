"""Behavioral cohorts of groups, imported cohorts, and applying a cohort to a report.

Companies (as of 2025-03-31; "last 30 days" = 03-02 .. 03-31):

    G1  Create Report report_type="custom" (JSON text) 03-10, 03-20; Create Report (no props) 03-25
    G2  Create Report report_type=custom (plain text) 03-15; report_type=standard 03-16
    G3  Create Report custom 02-10, 02-20 (outside the window); Login 03-30
    G4  Create Report custom 03-05, 03-06; Invite Teammate 03-07
    G5  Login 04-02 only: after the as-of date, so not in the universe
    G6  Login 01-01 only: in the universe, no event in the window
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from groupetl import tables
from groupetl.cohorts import (
    IN_COHORT,
    REST,
    apply_cohort,
    compute_cohorts,
    export_cohort,
    import_cohort,
    parse_cohorts,
    read_members,
    save_cohort,
)
from groupetl.cohorts.spec import Combo, Leaf
from groupetl.config import load_config
from groupetl.errors import ConfigError, InputError
from groupetl.schemas import ATTRIBUTED_EVENTS, COHORT_MEMBERS, RC, C, T

AS_OF = dt.date(2025, 3, 31)


def event(eid, day, etype, group, props=None, user="u1"):
    t = dt.datetime.fromisoformat(f"{day} 12:00:00")
    return (eid, t, t.date(), etype, user, user, None, props or {}, "amplitude", "company", group,
            "event", None, "b1")  # fmt: skip


CUSTOM_JSON, CUSTOM = {"report_type": '"custom"'}, {"report_type": "custom"}
EVENTS = [
    event("1a", "2025-03-10", "Create Report", "G1", CUSTOM_JSON),
    event("1b", "2025-03-20", "Create Report", "G1", CUSTOM_JSON),
    event("1c", "2025-03-25", "Create Report", "G1"),
    event("2a", "2025-03-15", "Create Report", "G2", CUSTOM),
    event("2b", "2025-03-16", "Create Report", "G2", {"report_type": "standard"}),
    event("3a", "2025-02-10", "Create Report", "G3", CUSTOM),
    event("3b", "2025-02-20", "Create Report", "G3", CUSTOM),
    event("3c", "2025-03-30", "Login", "G3"),
    event("4a", "2025-03-05", "Create Report", "G4", CUSTOM),
    event("4b", "2025-03-06", "Create Report", "G4", CUSTOM),
    event("4c", "2025-03-07", "Invite Teammate", "G4"),
    event("5a", "2025-04-02", "Login", "G5"),
    event("6a", "2025-01-01", "Login", "G6"),
    event("xa", "2025-03-10", "Create Report", None, CUSTOM),  # no company: in no cohort
]

CONFIG = """\
project: ch
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name}
cohorts:
  - name: Custom reporters
    group_type: company
    window: {last_days: 30}
    rule:
      event: Create Report
      where: [{property: report_type, op: "=", value: custom}]
      at_least: 2
  - name: No reports
    group_type: company
    window: {last_days: 30}
    rule: {event: Create Report, at_most: 0}
  - name: Mixed
    group_type: company
    window: {last_days: 30}
    rule:
      or:
        - and:
            - {event: Invite Teammate, at_least: 1}
            - {event: Create Report, exactly: 2}
        - event: Create Report
          where: [{property: report_type, op: in, values: [standard, other]}]
          at_least: 1
  - name: Not custom
    group_type: company
    window: {last_days: 30}
    rule:
      event: Create Report
      where: [{property: report_type, op: "!=", value: custom}]
      at_least: 1
  - name: February custom
    group_type: company
    rule:
      event: Create Report
      exactly: 2
      window: {from: 2025-02-01, to: 2025-02-28}
"""

EXPECTED = {
    "Custom reporters": ["G1", "G4"],  # G2 has one custom report in the window, G3 none
    "No reports": ["G3", "G6"],  # G5 is not in the universe on 03-31
    "Mixed": ["G2", "G4"],  # G4 by the and-branch, G2 by report_type in [standard, other]
    "Not custom": ["G1", "G2"],  # != matches G1's report without the property, G2's standard
    "February custom": ["G3"],
}


def write_config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "project.yaml"
    path.write_text(text)
    return path


def test_cohort_rules_parse_into_a_tree(tmp_path):
    specs = parse_cohorts(load_config(write_config(tmp_path)))
    assert [s.name for s in specs] == list(EXPECTED)
    mixed = specs[2].rule
    assert isinstance(mixed, Combo) and mixed.op == "or"
    assert isinstance(mixed.children[0], Combo) and mixed.children[0].op == "and"
    leaf = mixed.children[1]
    assert isinstance(leaf, Leaf) and leaf.criteria.where[0].values == ("standard", "other")
    assert leaf.window.last_days == 30
    assert specs[4].rule.window.bounds(AS_OF) == (dt.date(2025, 2, 1), dt.date(2025, 2, 28))
    assert specs[0].rule.window.bounds(AS_OF) == (dt.date(2025, 3, 2), AS_OF)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("rule: {event: Create Report, at_most: 0}",
         "rule: {event: Create Report, at_most: 0, at_least: 1}",
         r"project.yaml:16: cohorts\[1\].rule: give exactly one of at_least, at_most, exactly"),
        ("      window: {from: 2025-02-01, to: 2025-02-28}\n", "",
         r"project.yaml:37: cohorts\[4\].rule: no window: give one here or on the cohort"),
        ('op: "!=", value: custom', "op: like, value: custom",
         r"project.yaml:33: cohorts\[3\].rule.where\[0\].op: must be one of =, !=, in; "
         r"found 'like'"),
        ("name: Mixed", "name: No reports",
         r"project.yaml:17: cohorts\[2\].name: cohort 'No reports' defined twice"),
        ("name: Mixed", "name: Mixed, or not", r"cohorts\[2\].name: invalid cohort name"),
    ],
)  # fmt: skip
def test_cohort_config_errors_name_file_line_and_key(tmp_path, old, new, message):
    assert old in CONFIG
    with pytest.raises(ConfigError, match=message):
        parse_cohorts(load_config(write_config(tmp_path, CONFIG.replace(old, new, 1))))


def test_apply_cohort_filters_or_splits_by_the_latest_snapshot(spark):
    df = spark.createDataFrame(
        [("e1", "A", "u1"), ("e2", "B", "u2"), ("e3", None, "u3")],
        "event_id string, group_value string, user_key string",
    )
    now = dt.datetime(2025, 1, 1)
    members = spark.createDataFrame(
        [("Big", "company", "B", dt.date(2024, 12, 1), "imported", now),  # older snapshot
         ("Big", "company", "A", dt.date(2024, 12, 31), "imported", now),
         ("Big", "user", "u2", dt.date(2024, 12, 31), "imported", now),
         ("Other", "company", "B", dt.date(2024, 12, 31), "imported", now)],
        COHORT_MEMBERS,
    )  # fmt: skip
    filtered = apply_cohort(df, members, "Big", "filter", "company")
    assert sorted(r.event_id for r in filtered.collect()) == ["e1"]
    split = apply_cohort(df, members, "Big", "split", "company")
    assert sorted((r.event_id, r[RC.COHORT_SEGMENT]) for r in split.collect()) == [
        ("e1", IN_COHORT), ("e2", REST), ("e3", REST),
    ]  # fmt: skip
    users = apply_cohort(df, members, "Big", "filter", "user")  # keyed on user_key
    assert [r.event_id for r in users.collect()] == ["e2"]
    with pytest.raises(InputError, match="cohort mode must be one of filter, split"):
        apply_cohort(df, members, "Big", "segment", "company")


@pytest.fixture(scope="module")
def project(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("cohorts")
    config = load_config(write_config(root))
    tables.append(
        spark.createDataFrame(EVENTS, ATTRIBUTED_EVENTS), config.paths.table(T.ATTRIBUTED_EVENTS)
    )
    return config


def members_by_cohort(spark, config, source):
    rows = read_members(spark, config).filter(f"{RC.COHORT_SOURCE} = '{source}'").collect()
    out: dict[str, list[str]] = {}
    for r in sorted(rows, key=lambda r: (r[RC.COHORT], r[C.GROUP_VALUE])):
        out.setdefault(r[RC.COHORT], []).append(r[C.GROUP_VALUE])
        assert r[RC.AS_OF_DATE] == AS_OF or source != "behavioral"
    return out


def test_compute_cohorts_writes_each_cohort_as_of_the_date(spark, project):
    result = compute_cohorts(spark, project, AS_OF)
    assert result.stage == "cohorts"
    assert result.counts == {"cohorts": 5, "members": 9}
    assert members_by_cohort(spark, project, "behavioral") == EXPECTED
    # a re-run of the same date replaces that date's snapshot
    assert compute_cohorts(spark, project, AS_OF).counts["members"] == 9
    assert read_members(spark, project).filter(f"{RC.COHORT_SOURCE} = 'behavioral'").count() == 9


def test_import_reports_blank_lines_duplicates_and_unknown_groups(spark, project, tmp_path):
    file = tmp_path / "accounts.txt"
    file.write_text("G1\n  G2  \n\nG1\nG99\nG4\n   \n")
    report = import_cohort(spark, project, "Key accounts", file, "company", as_of=AS_OF)
    assert (report.members, report.lines_read, report.blank_lines) == (4, 7, 2)
    assert report.duplicates == [("G1", [1, 4])]
    assert report.unknown == [("G99", 5)]
    assert report.lines()[1:] == [
        "  lines read 7, blank 2, duplicate values 1, never seen 1",
        "  duplicate: 'G1' on lines 1, 4 (imported once)",
        "  never seen: 'G99' (line 5) has no event as company (imported anyway)",
    ]
    out = tmp_path / "out.txt"
    assert export_cohort(spark, project, "Key accounts", out) == 4
    assert out.read_text() == "G1\nG2\nG4\nG99\n"

    # importing again under the same name replaces the cohort
    file.write_text("G6\n")
    assert import_cohort(spark, project, "Key accounts", file, "company").members == 1
    assert members_by_cohort(spark, project, "imported") == {"Key accounts": ["G6"]}


def test_import_refuses_a_line_with_a_comma_and_names_file_and_line(spark, project, tmp_path):
    file = tmp_path / "bad.txt"
    file.write_text("G1\nG2, G3\n")
    with pytest.raises(InputError) as err:
        import_cohort(spark, project, "Bad", file, "company")
    assert str(err.value).startswith(f"{file}:2: column 3: a comma in 'G2, G3'")
    file.write_text("G1\tG2\n")
    with pytest.raises(InputError, match=r"bad.txt:1: column 3: a tab"):
        import_cohort(spark, project, "Bad", file, "company")


def test_import_and_save_refuse_bad_names_and_group_types(spark, project, tmp_path):
    file = tmp_path / "a.txt"
    file.write_text("G1\n")
    with pytest.raises(InputError, match="unknown group type 'team'"):
        import_cohort(spark, project, "Teams", file, "team")
    with pytest.raises(InputError, match="invalid cohort name"):
        import_cohort(spark, project, "a;b", file, "company")
    with pytest.raises(InputError, match="is a behavioral cohort of the config"):
        save_cohort(spark, project, spark.range(0), "Mixed", "company")
    with pytest.raises(InputError, match="no cohort named 'Nope'"):
        export_cohort(spark, project, "Nope", tmp_path / "x.txt")


def test_example_config_sections_are_valid_and_consistent(tmp_path, repo_root):
    from groupetl.retention import parse_retention

    base = (
        "project: ex\npaths: {root: data}\ngroup_types:\n"
        "  - {name: company, name_property: Account Name}\n"
        "  - {name: workspace, name_property: Workspace Name}\n"
    )
    example = (repo_root / "conf" / "retention-cohorts.example.yaml").read_text()
    config = load_config(write_config(tmp_path, base + example))
    cohorts = {c.name: c for c in parse_cohorts(config)}
    reports = parse_retention(config)
    assert len(cohorts) == 3 and len(reports) == 5
    for report in reports:
        if report.cohort is not None:
            assert cohorts[report.cohort.name].group_type == report.group_type
