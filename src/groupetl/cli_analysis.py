"""CLI commands over the resolved tables that run on Spark: QA, reports, retention, cohorts.

Registered on the main ``groupetl`` group by ``cli.py``; each command checks its arguments
against the config first (``groupetl.checks``: exit 2 before any Spark session starts), then
calls the library function that does the work. The read-only commands (show, lookup, account,
microscope) are in ``cli_read`` and start no JVM.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import click

from groupetl.output import FORMATS, render_rows


def _echo_progress(message: str) -> None:
    click.echo(message, err=True)


def _timed(run, *args, **kwargs):
    """Call a stage function that does not time itself, so its summary shows its real wall time
    instead of 0.0s (the Spark start before it has its own "Spark session ready" line)."""
    started = time.monotonic()
    result = run(*args, **kwargs)
    if hasattr(result, "seconds") and not result.seconds:
        result.seconds = time.monotonic() - started
    return result


def _echo_rows(columns: list[str], rows: list[dict], fmt: str) -> None:
    text = render_rows(rows, columns, fmt)
    click.echo(text + ("\n(none yet)" if not rows and fmt == "table" else ""))


def register(main: click.Group, pass_ctx) -> None:
    """Add the analysis commands to the ``groupetl`` group."""

    @main.command()
    @click.option(
        "--data-docs",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where GX's HTML Data Docs go (default: <root>/qa/data_docs).",
    )
    @click.option(
        "--compare",
        nargs=2,
        metavar="PROJECT_A PROJECT_B",
        help="Instead: show the taxonomy difference between two projects' data.",
    )
    @click.option(
        "--results", is_flag=True, help="Instead: list the latest run's stored results (no JVM)."
    )
    @click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
    @pass_ctx
    def qa(obj, data_docs: Path | None, compare, results: bool, fmt: str) -> None:
        """Validate a project's tables with Great Expectations; exit 3 when a suite fails.

        --results lists the latest run's stored results without starting Spark.

        \b
        groupetl --project test qa                 # gate: exit 0 passed, 3 failed
        groupetl qa --compare test prod            # events/properties/group types in one only
        """
        from groupetl import checks
        from groupetl import qa as qa_module

        checks.not_both(compare=compare, results=results)
        if results:
            from groupetl import listing

            _echo_rows(*listing.qa_results(obj.config), fmt)
            return
        if compare:
            from groupetl.config import load_config

            a, b = (load_config(f"conf/{p}.yaml") for p in compare)
            diff = qa_module.compare_projects(obj.spark(), a, b)
            for line in qa_module.format_taxonomy_diff(diff):
                click.echo(line)
            return
        obj.take_lease("qa")  # writes ops/qa_results and the Data Docs
        docs = data_docs or qa_module.default_data_docs_dir(obj.config)
        result = qa_module.run_qa(
            obj.spark(), obj.config, data_docs_dir=docs, progress=_echo_progress
        )
        if fmt == "table":
            for line in qa_module.format_qa_table(result):
                click.echo(line)
        else:  # the headline on stderr, one row per expectation on stdout
            click.echo(qa_module.format_qa_table(result)[0], err=True)
            columns = ["status", "severity", "suite", "expectation", "observed", "samples"]
            rows = [{c: getattr(o, c, None) for c in columns} for o in result.outcomes]
            click.echo(render_rows(rows, columns, fmt))
        sys.exit(result.exit_code)

    @main.command("plan-import")
    @click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
    def plan_import(csv_file: str) -> None:
        """Turn a planning workbook's taxonomy CSV into the config's tracking_plan YAML.

        Columns: event, property, type, required, group type, description.
        """
        from groupetl.qa import import_tracking_plan, render_tracking_plan_yaml

        click.echo(render_tracking_plan_yaml(import_tracking_plan(csv_file)), nl=False)

    @main.command()
    @click.option("--name", "names", multiple=True, help="Only these reports (default: all).")
    @click.option("--full-rebuild", is_flag=True, help="Recompute every period, not only changed.")
    @click.option(
        "--html",
        "html_out",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write the self-contained report page (docs/reports/page.md).",
    )
    @click.option("--list", "list_only", is_flag=True, help="Instead: list them (no JVM).")
    @click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
    @pass_ctx
    def report(
        obj, names: tuple[str, ...], full_rebuild: bool, html_out, list_only: bool, fmt: str
    ) -> None:
        """Compute the configured reports (config section `reports:`) into gold tables.

        Incremental: only periods touched by new or restated events are recomputed.
        --list shows each report and when it was last computed, without starting Spark.
        """
        from groupetl import checks

        if list_only:
            from groupetl import listing

            _echo_rows(*listing.reports(obj.config), fmt)
            return
        from groupetl.pipeline import run_stage
        from groupetl.reports import write_html

        checks.report_names(obj.config, names)
        obj.take_lease("report")
        result = run_stage(
            obj.spark(),
            obj.config,
            "report",
            progress=_echo_progress,
            names=list(names) or None,
            full_rebuild=full_rebuild,
        )
        for line in result.lines():
            click.echo(line)
        if html_out:
            click.echo(f"wrote {write_html(obj.spark(), obj.config, result, html_out)}")

    @main.command("dynamic-properties")
    @click.option(
        "--date",
        "date",
        type=click.DateTime(["%Y-%m-%d"]),
        help="Logical date D: values over data before D, written at D 00:00 UTC. "
        "Default: the day after the latest event date (so every event counts).",
    )
    @pass_ctx
    def dynamic_properties(obj, date: dt.datetime | None) -> None:
        """Compute dynamic group properties for a date (idempotent per date)."""
        from groupetl import asof
        from groupetl.dynamic_properties import compute_dynamic_properties

        if date is None:
            latest = asof.resolve(obj.config, None, "--date").date
            day = latest + dt.timedelta(days=1)
            click.echo(
                f"for {day}, the day after the latest event date (values over data through "
                f"{latest}); use --date to change"
            )
        else:
            day = date.date()
        obj.take_lease("dynamic-properties")
        result = _timed(
            compute_dynamic_properties, obj.spark(), obj.config, day, progress=_echo_progress
        )
        for line in result.lines():
            click.echo(line)

    @main.command("crm-sync")
    @click.option(
        "--date",
        "date",
        required=True,
        type=click.DateTime(["%Y-%m-%d"]),
        help="Logical date D: accounts whose pickup date is D are applied at D 00:00.",
    )
    @pass_ctx
    def crm_sync(obj, date: dt.datetime) -> None:
        """Apply the CRM account export to accounts due for pickup on a date."""
        from groupetl.crm import crm_sync as run_crm_sync

        obj.take_lease("crm-sync")
        result = _timed(run_crm_sync, obj.spark(), obj.config, date.date(), progress=_echo_progress)
        for line in result.lines():
            click.echo(line)

    @main.command()
    @click.option("--name", "names", multiple=True, help="Only these retention reports.")
    @pass_ctx
    def retention(obj, names: tuple[str, ...]) -> None:
        """Compute the configured retention reports (config section `retention:`)."""
        from groupetl import checks
        from groupetl.retention import run_retention

        checks.retention_names(obj.config, names)
        obj.take_lease("retention")
        result = _timed(
            run_retention, obj.spark(), obj.config, progress=_echo_progress, names=names or None
        )
        for line in result.lines():
            click.echo(line)

    @main.group()
    def cohort() -> None:
        """Behavioral and imported cohorts of groups."""

    @cohort.command("compute")
    @click.option(
        "--as-of",
        type=click.DateTime(["%Y-%m-%d"]),
        help="Default: the latest event date in the warehouse.",
    )
    @pass_ctx
    def cohort_compute(obj, as_of: dt.datetime | None) -> None:
        """Compute the behavioral cohorts of config section `cohorts:` as of a date."""
        from groupetl import asof
        from groupetl.cohorts import compute_cohorts

        when = asof.resolve(obj.config, as_of.date() if as_of else None, "--as-of")
        if when.note:
            click.echo(when.note)
        obj.take_lease("cohort compute")
        result = _timed(
            compute_cohorts, obj.spark(), obj.config, when.date, progress=_echo_progress
        )
        for line in result.lines():
            click.echo(line)

    @cohort.command("list")
    @click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
    @pass_ctx
    def cohort_list(obj, fmt: str) -> None:
        """List the stored and configured cohorts: latest date and size (no JVM)."""
        from groupetl import listing

        _echo_rows(*listing.cohorts(obj.config), fmt)

    @cohort.command("import")
    @click.argument("name")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--group-type", required=True, help="Declared group type, or 'user'.")
    @pass_ctx
    def cohort_import(obj, name: str, file: str, group_type: str) -> None:
        """Import a cohort: a file with exactly one group value per line."""
        from groupetl import checks
        from groupetl.cohorts import import_cohort
        from groupetl.cohorts.spec import check_cohort_name
        from groupetl.errors import ArgumentError, InputError

        checks.group_type(obj.config, group_type, allow_user=True)
        try:
            check_cohort_name(name)
        except InputError as exc:
            raise ArgumentError(str(exc)) from None
        obj.take_lease("cohort import")
        report = import_cohort(obj.spark(), obj.config, name, file, group_type)
        for line in report.lines():
            click.echo(line)

    @cohort.command("export")
    @click.argument("name")
    @click.option("--out", required=True, type=click.Path(dir_okay=False))
    @pass_ctx
    def cohort_export(obj, name: str, out: str) -> None:
        """Export a cohort in the import format (one value per line, sorted)."""
        from groupetl import checks
        from groupetl.cohorts import export_cohort

        checks.stored_cohort(obj.config, name)
        count = export_cohort(obj.spark(), obj.config, name, out)
        click.echo(f"wrote {count:,} values to {out}")
