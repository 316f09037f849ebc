"""CLI smoke tests: help that teaches, one-line errors with exit codes, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from groupetl.cli import main


def test_help_lists_every_command_with_one_line_help() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "generate", "ingest", "attribute", "setup", "jars", "show-config"):
        assert f"  {command} " in result.output


def test_bad_config_is_one_line_error_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    types = "\n".join(f"  - t{i}" for i in range(6))
    bad.write_text(f"project: p\npaths: {{root: d}}\ngroup_types:\n{types}\n")
    result = CliRunner().invoke(main, ["--config", str(bad), "show-config"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {bad}:3: group_types: 6 group types declared; a project may declare 1 to 5"
    )
    assert "Traceback" not in result.output


def test_project_shorthand_and_show_config(repo_root: Path, monkeypatch) -> None:
    monkeypatch.chdir(repo_root)
    result = CliRunner().invoke(main, ["--project", "test", "show-config"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["project"] == "test"
    assert [g["name"] for g in shown["group_types"]] == ["company", "workspace"]
    assert Path(shown["paths"]["warehouse"]).is_absolute()


def test_config_and_project_together_is_an_error(repo_root: Path, monkeypatch) -> None:
    monkeypatch.chdir(repo_root)
    result = CliRunner().invoke(
        main, ["--config", "conf/local.yaml", "--project", "test", "show-config"]
    )
    assert result.exit_code == 2
    assert "either --config or --project" in result.output


def test_jars_spark_submit_prints_delta_flags() -> None:
    result = CliRunner().invoke(main, ["jars", "--spark-submit"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("--jars ")
    assert "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in result.output
