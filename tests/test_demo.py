"""The files ``groupetl demo`` writes besides the generator's (no Spark): the CRM account export
and the Group Identify call naming the workspaces. The demo itself (every stage, QA gate passed,
the page written) is run by hand and timed in docs/performance.md; it takes 4-5 minutes."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

from groupetl.config import load_config
from groupetl.crm import parse_crm
from groupetl.demo import DEMO_DAYS, write_crm_export, write_group_names
from groupetl.generate import GeneratorSpec, event_group_names


def _demo_project(repo_root: Path, tmp_path: Path):
    text = (repo_root / "conf" / "local.yaml").read_text()
    path = tmp_path / "local.yaml"
    path.write_text(text.replace("root: ../data/local", f"root: {tmp_path / 'data'}"))
    return load_config(path)


def test_the_crm_export_lists_every_generated_company_with_the_mapped_columns(repo_root, tmp_path):
    config = _demo_project(repo_root, tmp_path)
    spec = GeneratorSpec(days=DEMO_DAYS, companies=7)
    path = write_crm_export(config, spec, progress=lambda _: None)
    crm = parse_crm(config)
    assert path == crm.landing / "accounts_2026-01-01.csv"
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == crm.columns == ("Account Number", "Annual Revenue", "Owner")
    assert [r[0] for r in rows[1:]] == [str(1001 + c) for c in range(7)]
    assert all(r[1].isdigit() and "@" in r[2] for r in rows[1:])
    assert write_crm_export(config, spec, progress=lambda _: None).read_bytes() == path.read_bytes()


def test_the_workspace_names_arrive_at_the_first_days_midnight(repo_root, tmp_path):
    config = _demo_project(repo_root, tmp_path)
    spec = GeneratorSpec(days=DEMO_DAYS, companies=7)
    path = write_group_names(config, spec, progress=lambda _: None)
    assert path.parent == config.paths.landing / "amplitude_group_identify"
    (body,) = [json.loads(line) for line in path.read_text().splitlines()]
    names = event_group_names(spec)
    assert [(i["group_value"], i["group_properties"]) for i in body["identification"]] == [
        (value, {"Workspace Name": name}) for value, name in names.items()
    ]
    assert {i["group_type"] for i in body["identification"]} == {"workspace"}
    midnight = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    assert path.stat().st_mtime == midnight
