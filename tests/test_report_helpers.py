"""Builders shared by the report tests: a project config with reports, and tiny input tables.

Rows are written as the attribution stage would write them (ATTRIBUTED_EVENTS, GROUP_VERSIONS
schemas), so the report code runs exactly as in the pipeline.
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

from groupetl.config import ProjectConfig, load_config
from groupetl.reports.definitions import Report, load_reports
from groupetl.schemas import ATTRIBUTED_EVENTS, GROUP_VERSIONS

UTC = dt.timezone.utc
BASE = dt.datetime(2024, 1, 1, tzinfo=UTC)  # a Monday

CONFIG_HEAD = """\
project: reports_test
paths:
  root: {root}
group_types:
  - name: company
    name_property: Account Name
  - name: workspace
    name_property: Workspace Name
"""


def make_config(root: Path, reports_yaml: str = "", extra_yaml: str = "") -> ProjectConfig:
    """A config file under ``root`` whose ``reports:`` section is ``reports_yaml`` (a list)."""
    text = CONFIG_HEAD.format(root=root)
    if reports_yaml:
        text += "reports:\n" + textwrap.indent(textwrap.dedent(reports_yaml).strip("\n"), "  ")
        text += "\n"
    text += textwrap.dedent(extra_yaml)
    path = root / "conf.yaml"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def report_from(tmp_path: Path, yaml_item: str) -> Report:
    """One report parsed from a YAML list item (``- name: ...``)."""
    return load_reports(make_config(tmp_path, yaml_item))[0]


def at(minutes: float = 0, day: int = 0, ms: int = 0) -> dt.datetime:
    """BASE + ``day`` days + ``minutes`` + ``ms`` milliseconds (UTC)."""
    return BASE + dt.timedelta(days=day, minutes=minutes, milliseconds=ms)


def event(
    event_id: str,
    time: dt.datetime,
    event_type: str,
    user: str,
    group: str | None,
    version: int | None = None,
    props: dict | None = None,
    group_type: str = "company",
    batch: str = "b1",
) -> tuple:
    """One ATTRIBUTED_EVENTS row (event properties given as plain values, stored as JSON)."""
    encoded = {k: json.dumps(v) for k, v in (props or {}).items()}
    attribution = "user" if group is not None else "none"
    return (
        event_id,
        time,
        time.date(),
        event_type,
        user,
        user,
        None,
        encoded,
        "amplitude",
        group_type,
        group,
        attribution,
        version,
        batch,
    )


def attributed(spark, rows: list[tuple]):
    return spark.createDataFrame(rows, ATTRIBUTED_EVENTS)


def version(
    group: str,
    number: int,
    valid_from: dt.datetime,
    valid_to: dt.datetime | None,
    props: dict,
    group_type: str = "company",
) -> tuple:
    """One GROUP_VERSIONS row (property values given plain, stored as JSON text)."""
    encoded = {k: json.dumps(v) for k, v in props.items()}
    return (group_type, group, number, valid_from, valid_to, encoded)


def versions(spark, rows: list[tuple]):
    return spark.createDataFrame(rows, GROUP_VERSIONS)


def test_make_config_keeps_the_reports_section(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, "- name: a\n  group_type: company\n")
    assert cfg.extra["reports"] == [{"name": "a", "group_type": "company"}]
