"""``groupetl demo``: generate sample data once, run every stage, print what was written."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import SparkSession

from groupetl import lake
from groupetl.config import ProjectConfig
from groupetl.pipeline import STAGES, Progress, run_stage
from groupetl.stages import StageResult


def generator_group_types(config: ProjectConfig) -> tuple[str, str]:
    """The (user-level, event-level) group types the generator should use for a project."""
    names = config.group_type_names
    return (names[0], names[1]) if len(names) > 1 else (names[0], "workspace")


def delta_tables(warehouse: Path) -> list[Path]:
    """Every Delta table folder below ``warehouse`` (a folder holding ``_delta_log``)."""
    return sorted(p.parent for p in warehouse.rglob("_delta_log") if p.is_dir())


def _ensure_data(config: ProjectConfig, events: int, seed: int, progress: Progress) -> dict:
    from groupetl.generate import GeneratorSpec, generate

    root = config.paths.root
    spec = GeneratorSpec(seed=seed, events=events, group_types=generator_group_types(config))
    manifest_path = root / "manifest.json"
    if manifest_path.is_file():
        existing = json.loads(manifest_path.read_text())
        if existing.get("spec") == json.loads(json.dumps(spec.to_dict())):
            progress(f"[generate] reusing {manifest_path} (same seed and size)")
            return existing
    started = time.monotonic()
    progress(f"[generate] writing {events:,} events into {root / 'landing'}")
    # A different seed or size replaces the generated files (only the generator's own names).
    data = generate(spec, root, progress=progress, replace=True).to_dict()
    progress(f"[generate] finished in {time.monotonic() - started:.1f}s")
    return data


def run_demo(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    events: int,
    seed: int,
    echo: Callable[[str], None],
    progress: Progress,
) -> list[StageResult]:
    """Generate (once) and run every stage; echo per-stage counts and a table summary."""
    manifest = _ensure_data(config, events, seed, progress)
    results = [run_stage(spark, config, s.name, progress=progress) for s in STAGES]
    echo("")
    echo(f"groupetl demo: project {config.project!r}, {manifest['records_total']:,} raw records")
    for result in results:
        for line in result.lines():
            echo(line)
    echo("")
    echo(f"Delta tables under {config.paths.warehouse}:")
    for path in delta_tables(config.paths.warehouse):
        rows = lake.row_count(path)  # from the Delta log's statistics: no Spark job per table
        echo(f"  {path.relative_to(config.paths.warehouse)!s:<40} {rows:>12,} rows")
    total = sum(r.seconds for r in results)
    echo(f"stages: {', '.join(f'{r.stage} {r.seconds:.1f}s' for r in results)}; total {total:.1f}s")
    return results
