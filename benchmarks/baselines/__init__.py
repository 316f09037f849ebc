"""Yardsticks measured beside groupetl in the same ``./dev bench`` invocation, same landing files.

A baseline is one module of this package exposing:

- ``WHAT``: one line saying what it does (shown on docs/performance.md);
- ``COMPARES_TO``: the groupetl stage(s) whose summed wall time it is a yardstick for;
- ``run(ctx: Context) -> dict``: does the work once and returns at least ``seconds`` (the timed
  part), plus whatever counts it wants recorded (``rows_written``, ``kept``, ...).

:func:`run_baselines` is the one driver: it runs the named baselines in order, adds each one's
records per core-second, and records a failure instead of raising, so a broken baseline never
costs the groupetl figures of a long benchmark. A new baseline (issue 17's DuckDB version of the
whole essential pipeline: as-of attribution, weekly active groups, funnel, retention) is a new
module with ``COMPARES_TO = ("ingest", "attribute", "report")`` and a name in :data:`REGISTRY`.
"""

from __future__ import annotations

import importlib
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# In the order they run. ``./dev bench --baselines`` picks a subset.
REGISTRY = ("spark_floor", "duckdb_ingest")

# The landing folders of the bench data (groupetl.generate) and what their files hold.
FORMATS = {
    "amplitude_http": "Amplitude HTTP V2 bodies, one per line: {api_key, events: [...], options}",
    "amplitude_export": "Amplitude Export lines (gzip): one event per line",
    "segment": "Segment batches, one per line: {batch: [...], sentAt}",
}


@dataclass
class Context:
    """What a baseline may use. ``spark`` is the benchmark's own session (None if not needed)."""

    landing: Path
    work_dir: Path  # a fresh folder per baseline run; outputs go below it
    cores: int
    raw_records: int  # the generator's records_total: the numerator of every records/s figure
    spark: Any = None
    sampler: Any = None  # run.RssSampler of the worker (py + JVM RSS), if any
    say: Callable[[str], None] = print
    options: dict = field(default_factory=dict)


def landing_files(landing: Path) -> dict[str, list[Path]]:
    """The landing files per format folder, sorted; refuses folders a baseline cannot read.

    groupetl ingests every folder of the landing; a baseline that silently read fewer would look
    faster than it is.
    """
    out: dict[str, list[Path]] = {}
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        if folder.name not in FORMATS:
            raise ValueError(f"baseline: landing folder {folder} is not a bench format {FORMATS}")
        out[folder.name] = sorted(p for p in folder.iterdir() if p.is_file())
    return out


def run_baselines(names: list[str], ctx: Context) -> dict[str, dict]:
    """Run each named baseline once; its result, or ``error`` when it failed."""
    results: dict[str, dict] = {}
    for name in names:
        if name not in REGISTRY:
            raise ValueError(f"unknown baseline {name!r}; known: {', '.join(REGISTRY)}")
        module = importlib.import_module(f"{__name__}.{name}")
        sub = Context(**{**ctx.__dict__, "work_dir": ctx.work_dir / name})
        sub.work_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            result = module.run(sub)
            result["error"] = None
        except Exception as exc:  # recorded; the benchmark goes on
            result = {"seconds": None, "error": f"{type(exc).__name__}: {exc}"[:2000]}
            ctx.say(f"  baseline {name} FAILED: {traceback.format_exc()[-1500:]}")
        result["wall_seconds"] = round(time.monotonic() - started, 2)
        result["what"] = module.WHAT
        result["compares_to"] = list(module.COMPARES_TO)
        seconds = result.get("seconds")
        result["records_per_core_second"] = (
            round(ctx.raw_records / seconds / ctx.cores) if seconds else None
        )
        results[name] = result
        if seconds:
            ctx.say(f"  baseline {name}: {seconds:.1f}s")
    return results
