"""Ingest a small generated dataset and compare the written tables with the generator's manifest.

The counts are read back from the tables (bronze, silver, quarantine by reason, duplicates), not
taken from the run summary, so the test checks what was written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from groupetl.config import load_config
from groupetl.schemas import T

pytestmark = [pytest.mark.slow, pytest.mark.spark]

generate_module = pytest.importorskip("groupetl.generate", reason="the generator is not there yet")


def _count_by(spark, path: str, column: str) -> dict[str, int]:
    rows = spark.read.format("delta").load(path).groupBy(column).count().collect()
    return {r[0]: int(r[1]) for r in rows}


def _rows(spark, path: str) -> int:
    return spark.read.format("delta").load(path).count()


def test_generated_dataset_ingests_to_its_manifest(spark, tmp_path: Path) -> None:
    from groupetl.generate import GeneratorSpec, generate
    from groupetl.ingest import run

    spec = GeneratorSpec(
        seed=11,
        companies=4,
        users_per_company=3,
        days=2,
        events=600,
        malformed_share=0.05,
        duplicate_share=0.05,
    )
    manifest = generate(spec, tmp_path).to_dict()
    conf = tmp_path / "conf.yaml"
    conf.write_text(
        f"project: generated\npaths:\n  root: {tmp_path}\n  landing: landing\n"
        f"group_types: [{spec.group_types[0]}, {spec.group_types[1]}]\n"
        f"segment:\n  group_type_trait: {spec.segment_group_type_trait}\n"
        f"  group_value_trait: {spec.segment_group_value_trait}\n"
    )
    config = load_config(conf)
    result = run(spark, config)

    table = config.paths.table
    kinds = _count_by(spark, table(T.SILVER_RECORDS), "record_kind")
    quarantined = _count_by(spark, str(config.paths.quarantine), "reason")
    got = {
        "files": _rows(spark, table(T.BRONZE_FILES)),
        "lines": _rows(spark, table(T.BRONZE_RECORDS)),
        "records_total": sum(kinds.values())
        + _rows(spark, table(T.SILVER_DUPLICATES))
        + sum(quarantined.values()),
        "accepted": {
            "events": kinds.get("event", 0),
            "identifies": kinds.get("group_assignment", 0),
            "group_identifies": kinds.get("group_property", 0),
        },
        "duplicates": _rows(spark, table(T.SILVER_DUPLICATES)),
        "quarantined": {k: v for k, v in quarantined.items() if v},
        "silver_rows": {
            "events": _rows(spark, table(T.SILVER_EVENTS)),
            "group_assignments": _rows(spark, table(T.SILVER_GROUP_ASSIGNMENTS)),
            "group_property_ops": _rows(spark, table(T.SILVER_GROUP_PROPERTY_OPS)),
        },
    }
    expected = {
        "files": sum(manifest["files"].values()),
        "lines": sum(manifest["lines"].values()),
        "records_total": manifest["records_total"],
        "accepted": manifest["accepted"],
        "duplicates": manifest["duplicates"],
        "quarantined": {k: v for k, v in manifest["quarantined"].items() if v},
        "silver_rows": manifest["silver_rows"],
    }
    assert got == expected
    assert result.counts["records_read"] == manifest["records_total"]
