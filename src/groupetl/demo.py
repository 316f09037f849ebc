"""``groupetl demo``: generate 90 days of sample data once, run every stage for the day after it,
write the report page, and print what was written and where to look."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import SparkSession

from groupetl import lake
from groupetl.config import ProjectConfig
from groupetl.generate import GeneratorSpec
from groupetl.pipeline import Progress
from groupetl.runs import DateRun

# Enough for weekly retention (8 periods), 30-day cohorts and a monthly dynamic property.
DEMO_DAYS = 90
OWNERS = ("ana@example.com", "ben@example.com", "cho@example.com", "dev@example.com")


def generator_group_types(config: ProjectConfig) -> tuple[str, str]:
    """The (user-level, event-level) group types the generator should use for a project."""
    names = config.group_type_names
    return (names[0], names[1]) if len(names) > 1 else (names[0], "workspace")


def delta_tables(warehouse: Path) -> list[Path]:
    """Every Delta table folder below ``warehouse`` (a folder holding ``_delta_log``)."""
    return sorted(p.parent for p in warehouse.rglob("_delta_log") if p.is_dir())


def _ensure_data(config: ProjectConfig, spec: GeneratorSpec, progress: Progress) -> dict:
    from groupetl.generate import generate

    root = config.paths.root
    manifest_path = root / "manifest.json"
    if manifest_path.is_file():
        existing = json.loads(manifest_path.read_text())
        if existing.get("spec") == json.loads(json.dumps(spec.to_dict())):
            progress(f"[generate] reusing {manifest_path} (same seed, size and days)")
            return existing
    started = time.monotonic()
    progress(
        f"[generate] writing {spec.events:,} events over {spec.days} days into {root / 'landing'}"
    )
    # A different seed or size replaces the generated files (only the generator's own names).
    data = generate(spec, root, progress=progress, replace=True).to_dict()
    progress(f"[generate] finished in {time.monotonic() - started:.1f}s")
    return data


def write_crm_export(config: ProjectConfig, spec: GeneratorSpec, progress: Progress) -> Path | None:
    """Write an account export for the generated companies, dated the data's first day, into the
    ``crm:`` section's landing folder; None (nothing written) when the project has no CRM sync
    or syncs another group type than the generator's user-level one (``spec.group_types[0]``).

    Its columns are the section's key field and mapped columns. The generator's companies are
    ``1001``, ``1002`` ...; every mapped column gets a value derived from the company number
    (revenue-like numbers for columns whose property is typed ``number``, owners otherwise), so
    the file is the same for the same spec.
    """
    from groupetl.crm import parse_crm
    from groupetl.generate.world import COMPANY_BASE

    crm = parse_crm(config)
    if crm is None or crm.group_type != spec.group_types[0]:
        return None
    mapping = dict(crm.field_mapping)
    typed = dict(config.tracking_plan.group_properties.get(crm.group_type, {}))
    path = crm.landing / f"accounts_{spec.start_date.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(crm.columns)
        for c in range(spec.companies):
            row = [str(COMPANY_BASE + c)]
            for column in crm.columns[1:]:
                if typed.get(mapping[column]) == "number":
                    row.append(str((c * 7919 + spec.seed) % 97 * 50_000 + 100_000))
                else:
                    row.append(OWNERS[(c + spec.seed) % len(OWNERS)])
            writer.writerow(row)
    progress(f"[generate] wrote a CRM account export of {spec.companies} companies: {path}")
    return path


def write_group_names(
    config: ProjectConfig, spec: GeneratorSpec, progress: Progress
) -> Path | None:
    """Write an Amplitude Group Identify call naming every group of the event-level type (which
    the generator's events use but never name), as of the data's first day, into
    ``<landing>/amplitude_group_identify/``; returns its path (None: the project does not declare
    that type).

    Group Identify carries no time: a record's time is its file's arrival time, so the file's
    modification time is set to the first day's midnight (UTC) and every event carries the names.
    """
    from groupetl.generate import event_group_names

    group_type = spec.group_types[1]
    declared = {g.name: g.name_property for g in config.group_types}
    if group_type not in declared:  # a one-type project: the generator's events use no such type
        return None
    name_property = declared[group_type]
    names = event_group_names(spec)
    path = config.paths.landing / "amplitude_group_identify" / "demo_group_names.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "api_key": "demo",
        "identification": [
            {"group_type": group_type, "group_value": v, "group_properties": {name_property: n}}
            for v, n in names.items()
        ],
    }
    path.write_text(json.dumps(body) + "\n", encoding="utf-8")
    midnight = dt.datetime.combine(spec.start_date, dt.time(), dt.timezone.utc).timestamp()
    os.utime(path, (midnight, midnight))
    progress(f"[generate] named {len(names)} {group_type} groups: {path}")
    return path


def run_demo(
    spark: SparkSession,
    config: ProjectConfig,
    *,
    events: int,
    seed: int,
    days: int = DEMO_DAYS,
    echo: Callable[[str], None],
    progress: Progress,
) -> tuple[DateRun, Path]:
    """Generate (once), then run every step of ``groupetl run`` for the day after the data
    (ingest, attribute, CRM sync, dynamic properties, QA gate, reports, retention, cohorts), write
    the report page, and echo per-step lines, a table summary and where the page and Data Docs
    are. Returns the date's run and the page's path; a failed step raises its ``StageError``
    (``QaGateFailed`` for the QA gate) before anything is echoed.
    """
    from groupetl.qa.runner import default_data_docs_dir
    from groupetl.reports import default_page_path, write_html
    from groupetl.runs import run_date

    started = time.monotonic()
    spec = GeneratorSpec(
        seed=seed, events=events, days=days, group_types=generator_group_types(config)
    )
    manifest = _ensure_data(config, spec, progress)
    write_group_names(config, spec, progress)
    write_crm_export(config, spec, progress)
    date = spec.start_date + dt.timedelta(days=spec.days)  # every generated event is before it
    outcome = run_date(spark, config, date, progress=progress)
    page = write_html(spark, config, None, default_page_path(config))
    echo("")
    echo(
        f"groupetl demo: project {config.project!r}, {manifest['records_total']:,} generated records "
        f"from {spec.start_date} to {date - dt.timedelta(days=1)}, run for {date}"
    )
    for line in outcome.lines():
        echo(line)
    echo("")
    echo(f"Delta tables under {config.paths.warehouse}:")
    for path in delta_tables(config.paths.warehouse):
        rows = lake.row_count(path)  # from the Delta log's statistics: no Spark job per table
        echo(f"  {path.relative_to(config.paths.warehouse)!s:<40} {rows:>12,} rows")
    echo("")
    echo(f"report page: {page}")
    echo(f"data docs:   {default_data_docs_dir(config) / 'index.html'}")
    echo(f"demo finished in {time.monotonic() - started:.1f}s")
    return outcome, page
