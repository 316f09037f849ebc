"""Config validation: errors name the file, the line and the key, and say what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from groupetl.config import load_config
from groupetl.errors import ConfigError

MINIMAL = """\
project: test
paths:
  root: data
group_types:
  - name: company
    name_property: Account Name
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "project.yaml"
    path.write_text(text)
    return path


def test_minimal_config_loads_with_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.project == "test"
    assert cfg.group_type_names == ("company",)
    assert cfg.paths.root == (tmp_path / "data").resolve()
    assert cfg.paths.landing == cfg.paths.root / "landing"
    assert cfg.paths.quarantine == cfg.paths.warehouse / "quarantine"
    assert cfg.min_id_length == {"amplitude": 5, "segment": 1, "posthog": 1}
    assert cfg.segment.group_type_trait == "group_type"


def test_shipped_configs_are_valid(repo_root: Path) -> None:
    for name in ("local", "test", "prod"):
        cfg = load_config(repo_root / "conf" / f"{name}.yaml")
        assert cfg.project == name
        assert 1 <= len(cfg.group_types) <= 5


def test_six_group_types_is_a_one_line_error_naming_file_and_line(tmp_path: Path) -> None:
    types = "\n".join(f"  - t{i}" for i in range(6))
    path = write(tmp_path, f"project: p\npaths: {{root: d}}\ngroup_types:\n{types}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message == f"{path}:3: group_types: 6 group types declared; a project may declare 1 to 5"
    assert "\n" not in message


def test_unknown_key_lists_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "sparkk: {}\n")
    with pytest.raises(ConfigError, match=r"project.yaml:7: sparkk: unknown key; allowed here: "):
        load_config(path)


def test_wrong_type_names_key_and_found_value(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "spark:\n  shuffle_partitions: many\n")
    with pytest.raises(ConfigError, match=r":8: spark.shuffle_partitions: expected a whole number"):
        load_config(path)


def test_group_properties_for_undeclared_type_is_refused(tmp_path: Path) -> None:
    text = MINIMAL + "tracking_plan:\n  group_properties:\n    org: {name: string}\n"
    with pytest.raises(ConfigError, match=r"group type 'org' is not declared"):
        load_config(write(tmp_path, text))


def test_duplicate_group_type_and_bad_name(tmp_path: Path) -> None:
    dup = "project: p\npaths: {root: d}\ngroup_types: [a, a]\n"
    with pytest.raises(ConfigError, match="declared twice"):
        load_config(write(tmp_path, dup))
    bad = "project: p\npaths: {root: d}\ngroup_types: ['a,b']\n"
    with pytest.raises(ConfigError, match="no commas or semicolons"):
        load_config(write(tmp_path, bad))


def test_missing_file_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"project.yaml:2: not valid YAML"):
        load_config(write(tmp_path, "project: p\n  - : ]\n"))


def test_required_event_property_must_be_declared(tmp_path: Path) -> None:
    text = MINIMAL + (
        "tracking_plan:\n  events:\n    - name: Login\n      properties: {a: string}\n"
        "      required: [b]\n"
    )
    with pytest.raises(ConfigError, match="'b' is not among this event's properties"):
        load_config(write(tmp_path, text))


def test_invalid_choice_lists_allowed_values(tmp_path: Path) -> None:
    text = MINIMAL + "    value_format: hex\n"
    with pytest.raises(ConfigError, match="must be one of string, numeric; found 'hex'"):
        load_config(write(tmp_path, text))


def test_attribution_broadcast_history_rows_defaults_and_is_validated(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL)).attribution.broadcast_history_rows == 1_000_000
    cfg = load_config(write(tmp_path, MINIMAL + "attribution:\n  broadcast_history_rows: 0\n"))
    assert cfg.attribution.broadcast_history_rows == 0
    for bad, message in (
        ("-1", r":8: attribution.broadcast_history_rows: must be from 0 to 50000000, found -1"),
        ("lots", r":8: attribution.broadcast_history_rows: expected a whole number"),
    ):
        path = write(tmp_path, MINIMAL + f"attribution:\n  broadcast_history_rows: {bad}\n")
        with pytest.raises(ConfigError, match=message):
            load_config(path)
    path = write(tmp_path, MINIMAL + "attribution:\n  broadcast_rows: 5\n")
    with pytest.raises(ConfigError, match=r":8: attribution.broadcast_rows: unknown key"):
        load_config(path)
