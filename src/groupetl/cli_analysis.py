"""CLI commands over the resolved tables: QA, retention, cohorts, account lookup.

Registered on the main ``groupetl`` group by ``cli.py``; each command parses its arguments and
calls the library function that does the work.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

FORMATS = click.Choice(["table", "json", "csv"])


def _echo_progress(message: str) -> None:
    click.echo(message, err=True)


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


@contextmanager
def _time_travel_errors() -> Iterator[None]:
    """A Delta read as of a time before a table existed, or a bad time: one line, exit 1."""
    from pyspark.errors import AnalysisException

    from groupetl.errors import InputError

    try:
        yield
    except AnalysisException as exc:
        raise InputError(f"--as-of-time: {str(exc).splitlines()[0]}") from None


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
    @pass_ctx
    def qa(obj, data_docs: Path | None, compare: tuple[str, str] | None) -> None:
        """Validate a project's tables with Great Expectations; exit 3 when a suite fails.

        \b
        groupetl --project test qa                 # gate: exit 0 passed, 3 failed
        groupetl qa --compare test prod            # events/properties/group types in one only
        """
        from groupetl import qa as qa_module

        if compare:
            from groupetl.config import load_config

            a, b = (load_config(f"conf/{p}.yaml") for p in compare)
            diff = qa_module.compare_projects(obj.spark(), a, b)
            for line in qa_module.format_taxonomy_diff(diff):
                click.echo(line)
            return
        docs = data_docs or qa_module.default_data_docs_dir(obj.config)
        result = qa_module.run_qa(
            obj.spark(), obj.config, data_docs_dir=docs, progress=_echo_progress
        )
        for line in qa_module.format_qa_table(result):
            click.echo(line)
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
        help="Also write a self-contained HTML page with a chart per report.",
    )
    @pass_ctx
    def report(obj, names: tuple[str, ...], full_rebuild: bool, html_out: Path | None) -> None:
        """Compute the configured reports (config section `reports:`) into gold tables.

        Incremental: only periods touched by new or restated events are recomputed.
        """
        from groupetl.pipeline import run_stage
        from groupetl.reports import write_html

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

    @main.command()
    @click.argument("report_name")
    @click.option("--step", type=int, help="Funnel: groups that reached step K.")
    @click.option("--dropoff", type=int, help="Funnel: groups that reached step K-1, not K.")
    @click.option("--period", type=click.DateTime(["%Y-%m-%d"]), help="Segmentation period.")
    @click.option("--segment", help="Segmentation: one segment value.")
    @click.option("--breakdown", help="Funnel: one breakdown value.")
    @click.option("--out", type=click.Path(dir_okay=False), help="Write the list as CSV.")
    @click.option("--save-cohort", help="Save the list as a static cohort with this name.")
    @pass_ctx
    def microscope(
        obj, report_name: str, step, dropoff, period, segment, breakdown, out, save_cohort
    ) -> None:
        """List the groups behind one data point of a report (CSV, or save as a cohort)."""
        from groupetl.errors import InputError
        from groupetl.reports import MicroscopePoint, load_reports, save_as_cohort, write_csv
        from groupetl.reports import microscope as run_microscope

        reports = {r.name: r for r in load_reports(obj.config)}
        if report_name not in reports:
            raise InputError(f"no report {report_name!r}; reports: {', '.join(sorted(reports))}")
        point = MicroscopePoint(
            step=step,
            dropoff=dropoff,
            period_start=period.date() if period else None,
            segment=segment,
            breakdown=breakdown,
        )
        df = run_microscope(obj.spark(), obj.config, reports[report_name], point)
        if out:
            click.echo(f"wrote {write_csv(df, out):,} rows to {out}")
        if save_cohort:
            count = save_as_cohort(obj.spark(), obj.config, df, save_cohort)
            click.echo(f"saved cohort {save_cohort!r} with {count:,} members")
        if not out and not save_cohort:
            for row in df.limit(50).toLocalIterator():
                click.echo("\t".join("" if v is None else str(v) for v in row))

    @main.command("dynamic-properties")
    @click.option(
        "--date",
        "date",
        required=True,
        type=click.DateTime(["%Y-%m-%d"]),
        help="Logical date D: values over data before D, written at D 00:00 UTC.",
    )
    @pass_ctx
    def dynamic_properties(obj, date: dt.datetime) -> None:
        """Compute dynamic group properties for a date (idempotent per date)."""
        from groupetl.dynamic_properties import compute_dynamic_properties

        result = compute_dynamic_properties(
            obj.spark(), obj.config, date.date(), progress=_echo_progress
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

        result = run_crm_sync(obj.spark(), obj.config, date.date(), progress=_echo_progress)
        for line in result.lines():
            click.echo(line)

    @main.command()
    @click.option("--name", "names", multiple=True, help="Only these retention reports.")
    @pass_ctx
    def retention(obj, names: tuple[str, ...]) -> None:
        """Compute the configured retention reports (config section `retention:`)."""
        from groupetl.retention import run_retention

        result = run_retention(
            obj.spark(), obj.config, progress=_echo_progress, names=names or None
        )
        for line in result.lines():
            click.echo(line)

    @main.group()
    def cohort() -> None:
        """Behavioral and imported cohorts of groups."""

    @cohort.command("compute")
    @click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), help="Default: today (UTC).")
    @pass_ctx
    def cohort_compute(obj, as_of: dt.datetime | None) -> None:
        """Compute the behavioral cohorts of config section `cohorts:` as of a date."""
        from groupetl.cohorts import compute_cohorts

        date = as_of.date() if as_of else _today()
        result = compute_cohorts(obj.spark(), obj.config, date, progress=_echo_progress)
        for line in result.lines():
            click.echo(line)

    @cohort.command("import")
    @click.argument("name")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--group-type", required=True, help="Declared group type, or 'user'.")
    @pass_ctx
    def cohort_import(obj, name: str, file: str, group_type: str) -> None:
        """Import a cohort: a file with exactly one group value per line."""
        from groupetl.cohorts import import_cohort

        report = import_cohort(obj.spark(), obj.config, name, file, group_type)
        for line in report.lines():
            click.echo(line)

    @cohort.command("export")
    @click.argument("name")
    @click.option("--out", required=True, type=click.Path(dir_okay=False))
    @pass_ctx
    def cohort_export(obj, name: str, out: str) -> None:
        """Export a cohort in the import format (one value per line, sorted)."""
        from groupetl.cohorts import export_cohort

        count = export_cohort(obj.spark(), obj.config, name, out)
        click.echo(f"wrote {count:,} values to {out}")

    @main.command()
    @click.option("--group-type", required=True)
    @click.argument("query")
    @click.option("--now", type=click.DateTime(["%Y-%m-%d"]), help="Default: today (UTC).")
    @click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
    @click.option("--limit", default=100, show_default=True)
    @click.option("--as-of-time", metavar="TIME", help="Read the tables as they were then (UTC).")
    @pass_ctx
    def lookup(obj, group_type: str, query: str, now, fmt: str, limit: int, as_of_time) -> None:
        """Find groups by any historical property value: 'plan = paid', 'Account Name = "Acme"'.

        Only groups active in the six months before --now are searched.
        """
        from groupetl.lookup import QueryError, format_lookup, lookup_rows, parse_query
        from groupetl.lookup import lookup as run_lookup

        try:
            parsed = parse_query(query)
        except QueryError as exc:
            click.echo(exc.pointer(query), err=True)
            raise
        date = now.date() if now else _today()
        with _time_travel_errors():
            df = run_lookup(
                obj.spark(),
                obj.config,
                group_type,
                parsed,
                date,
                limit=limit,
                as_of_time=as_of_time,
            )
            click.echo(format_lookup(lookup_rows(df), fmt))

    @main.command()
    @click.argument("group_type")
    @click.argument("group_value")
    @click.option("--now", type=click.DateTime(["%Y-%m-%d"]), help="Default: today (UTC).")
    @click.option("--recent", default=20, show_default=True, help="How many recent events.")
    @click.option("--raw", is_flag=True, help="Show the raw records behind the recent events.")
    @click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
    @click.option("--as-of-time", metavar="TIME", help="Read the tables as they were then (UTC).")
    @pass_ctx
    def account(
        obj, group_type: str, group_value: str, now, recent: int, raw: bool, fmt: str, as_of_time
    ) -> None:
        """Account view: latest properties, first/last seen, active users, recent events."""
        from groupetl.lookup import (
            account_view,
            format_account_view,
            format_raw_records,
            raw_records,
        )

        date = now.date() if now else _today()
        with _time_travel_errors():
            view = account_view(
                obj.spark(), obj.config, group_type, group_value, date, recent, as_of_time
            )
        if raw:
            records = raw_records(obj.spark(), obj.config, view.event_ids)
            click.echo(format_raw_records(records, fmt))
        else:
            click.echo(format_account_view(view, fmt))

    @main.command()
    @click.argument("table", required=False)
    @click.option("--as-of-version", type=click.IntRange(min=0), help="Read Delta version N.")
    @click.option("--as-of-time", metavar="TIME", help="Read the table as it was then (UTC).")
    @click.option("--where", "where", metavar="SQL", help="A Spark SQL filter on the rows.")
    @click.option("--columns", metavar="A,B,...", help="Only these columns, in this order.")
    @click.option("--limit", default=20, show_default=True, type=click.IntRange(min=0))
    @click.option("--history", is_flag=True, help="List the table's Delta versions instead.")
    @click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
    @pass_ctx
    def show(obj, table, as_of_version, as_of_time, where, columns, limit, history, fmt) -> None:
        """Print a table's rows, now or as of an earlier version or time (Delta time travel).

        Without TABLE: list the project's tables with their latest version. TABLE is the path
        under the warehouse (silver/attributed_events), its last part when unambiguous
        (attributed_events), or quarantine.

        \b
        groupetl show                                       # the tables and their versions
        groupetl show attributed_events --limit 5
        groupetl show attributed_events --history           # versions: one per write
        groupetl show attributed_events --as-of-version 3 --where "group_type = 'company'"
        groupetl show current_group_properties --as-of-time "2026-11-20 06:00:00"
        """
        from pyspark.errors import AnalysisException

        from groupetl import catalog
        from groupetl.errors import InputError
        from groupetl.lookup.format import format_rows

        if table is None:
            rows = [
                {"table": t.name, "version": t.version, "committed_at": t.committed_at}
                for t in catalog.list_tables(obj.config)
            ]
            click.echo(format_rows(rows, ["table", "version", "committed_at"], fmt))
            return
        spark = obj.spark()
        if history:
            df = catalog.table_history(spark, obj.config, table)
        else:
            df = catalog.read_table(spark, obj.config, table, as_of_version, as_of_time)
        try:
            if where:
                df = df.filter(where)
            if columns:
                df = df.select(*[c.strip() for c in columns.split(",") if c.strip()])
            rows = [r.asDict(recursive=True) for r in df.limit(limit).collect()]
        except AnalysisException as exc:  # a bad --where or --columns: say so, no traceback
            raise InputError(f"{table}: {str(exc).splitlines()[0]}") from None
        click.echo(format_rows(rows, df.columns, fmt))
