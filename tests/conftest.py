"""Shared fixtures: one SparkSession with Delta for the whole test session (profile ``test``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests use the project's jar cache (made by ./dev setup) unless the caller chose another one.
os.environ.setdefault(
    "GROUPETL_IVY_DIR", str(Path(__file__).resolve().parent.parent / ".cache" / "ivy")
)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A local SparkSession with Delta Lake: two shuffle partitions, UI off, times in UTC."""
    from groupetl.session import build_session

    warehouse = tmp_path_factory.mktemp("warehouse")
    session = build_session(master="local[2]", warehouse=warehouse, profile="test")
    yield session
    session.stop()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def safety(spark, tmp_path_factory: pytest.TempPathFactory):
    """Issue 18's shared project and serial-run warehouses (tests/safety_data.py), built once."""
    from safety_data import build

    return build(spark, tmp_path_factory.mktemp("safety"))
