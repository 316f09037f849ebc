"""Read-only CLI commands that never start a JVM: show, sql, lookup, account, microscope.

They read small results (a table's first rows, one group, stored report rows) through delta-rs
and DuckDB (``groupetl.lake``), so they answer in well under a second. The one exception is a
microscope of a segmentation point, which recomputes a period from events (event-sized data)
and says so before starting Spark. Every argument is checked before any table is read
(``groupetl.checks``); every command that prints rows takes ``--format table|csv|json``.
"""

from __future__ import annotations

import click

from groupetl.errors import ArgumentError
from groupetl.output import FORMATS, render_rows

FORMAT_OPTION = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)


def _echo_note(note: str | None, fmt: str) -> None:
    """A line about the answer (which date it used): above a table, on stderr otherwise."""
    if note:
        click.echo(note, err=fmt != "table")


def register(main: click.Group, pass_ctx) -> None:
    """Add the read-only commands to the ``groupetl`` group."""

    @main.command()
    @click.argument("table", required=False)
    @click.option("--as-of-version", type=click.IntRange(min=0), help="Read Delta version N.")
    @click.option("--as-of-time", metavar="TIME", help="Read the table as it was then (UTC).")
    @click.option("--where", "where", metavar="SQL", help="A SQL filter on the rows (DuckDB).")
    @click.option("--columns", metavar="A,B,...", help="Only these columns, in this order.")
    @click.option("--limit", default=20, show_default=True, type=click.IntRange(min=0))
    @click.option("--history", is_flag=True, help="List the table's Delta versions instead.")
    @FORMAT_OPTION
    @pass_ctx
    def show(obj, table, as_of_version, as_of_time, where, columns, limit, history, fmt) -> None:
        """Print a table's rows, now or as of an earlier version or time (Delta time travel).

        Without TABLE: list the project's tables with their latest version. TABLE is the path
        under the warehouse (silver/attributed_events), its last part when unambiguous
        (attributed_events), or quarantine. Reads through delta-rs: no JVM is started.

        \b
        groupetl show                                       # the tables and their versions
        groupetl show attributed_events --limit 5
        groupetl show attributed_events --history           # versions: one per write
        groupetl show attributed_events --as-of-version 3 --where "group_type = 'company'"
        groupetl show current_group_properties --as-of-time "2026-01-14 06:00:00"
        """
        from groupetl import catalog, checks

        config = obj.config
        checks.not_both(as_of_version=as_of_version, as_of_time=as_of_time)
        checks.as_of_time(as_of_time)
        if table is None:
            rows = [
                {"table": t.name, "version": t.version, "committed_at": t.committed_at}
                for t in catalog.list_tables(config)
            ]
            click.echo(render_rows(rows, ["table", "version", "committed_at"], fmt))
            return
        full, _ = catalog.resolve(config, table)
        if history:
            rows = catalog.history_rows(config, full)[:limit] if limit else []
            click.echo(render_rows(rows, catalog.HISTORY_COLUMNS, fmt, title=f"{full}: history"))
            return
        wanted = [c.strip() for c in columns.split(",") if c.strip()] if columns else []
        names, rows = catalog.read_rows(
            config, full, as_of_version=as_of_version, as_of_time=as_of_time,
            where=where, columns=wanted, limit=limit,
        )  # fmt: skip
        click.echo(render_rows(rows, names, fmt))

    @main.command()
    @click.argument("query")
    @click.option("--limit", default=100, show_default=True, type=click.IntRange(min=0))
    @FORMAT_OPTION
    @pass_ctx
    def sql(obj, query: str, limit: int, fmt: str) -> None:
        """Run a DuckDB SQL query over the project's tables (no JVM).

        Each table is a view named by its path with '_' for '/' (silver_attributed_events).
        Property maps hold JSON text: prop_text(map, key), prop_number(map, key) and
        prop_list(map, key) decode one key; group_properties_now has one decoded row per
        (group, property). See docs/reading-tables.md.

        \b
        groupetl sql "SELECT property, count(*) FROM group_properties_now GROUP BY 1"
        groupetl sql "SELECT prop_text(properties, 'plan') AS plan, count(*)
                      FROM silver_current_group_properties GROUP BY 1"
        """
        from groupetl import catalog, lake
        from groupetl.errors import InputError

        config = obj.config
        con = lake.project_connection(catalog.table_folders(config), used_by=query)
        try:
            result = con.sql(query)
            table = result.limit(limit).to_arrow_table() if result is not None else None
        except Exception as exc:  # duckdb.Error: a bad query; one line, no traceback
            raise InputError(f"sql: {str(exc).splitlines()[0]}") from None
        if table is not None:
            click.echo(render_rows(lake.rows_of(table), table.column_names, fmt))

    @main.command()
    @click.option("--group-type", required=True)
    @click.argument("query")
    @click.option(
        "--now",
        type=click.DateTime(["%Y-%m-%d"]),
        help="Default: the latest event date in the warehouse.",
    )
    @FORMAT_OPTION
    @click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1))
    @click.option("--as-of-time", metavar="TIME", help="Read the tables as they were then (UTC).")
    @pass_ctx
    def lookup(obj, group_type: str, query: str, now, fmt: str, limit: int, as_of_time) -> None:
        """Find groups by any historical property value: 'plan = paid', 'Account Name = "Acme"'.

        Only groups active in the six months before --now are searched. An empty answer says
        why (no such property, no such value: the values that exist, or nobody active).
        """
        from groupetl import asof, checks
        from groupetl.lookup import QueryError, duck, format_lookup, parse_query

        config = obj.config
        checks.group_type(config, group_type, allow_user=False)
        checks.as_of_time(as_of_time)
        try:
            parsed = parse_query(query)
        except QueryError as exc:
            click.echo(exc.pointer(query), err=True)
            raise ArgumentError(str(exc)) from None
        when = asof.resolve(config, now.date() if now else None)
        _echo_note(when.note, fmt)
        rows = duck.lookup(
            config, group_type, parsed, when.date, limit=limit, as_of_time=as_of_time
        )
        click.echo(format_lookup(rows, fmt))
        if not rows:
            why = duck.explain_empty(config, group_type, parsed, when.date, as_of_time=as_of_time)
            click.echo(why, err=fmt != "table")

    @main.command()
    @click.argument("group_type")
    @click.argument("group_value")
    @click.option(
        "--now",
        type=click.DateTime(["%Y-%m-%d"]),
        help="Default: the latest event date in the warehouse.",
    )
    @click.option("--recent", default=20, show_default=True, type=click.IntRange(0, 1000))
    @click.option("--raw", is_flag=True, help="Show the raw records behind the recent events.")
    @FORMAT_OPTION
    @click.option("--as-of-time", metavar="TIME", help="Read the tables as they were then (UTC).")
    @pass_ctx
    def account(
        obj, group_type: str, group_value: str, now, recent: int, raw: bool, fmt: str, as_of_time
    ) -> None:
        """Account view: latest properties, first/last seen, active users, recent events."""
        from groupetl import asof, checks
        from groupetl.lookup import duck, format_account_view, format_raw_records

        config = obj.config
        checks.group_type(config, group_type, allow_user=False)
        checks.as_of_time(as_of_time)
        when = asof.resolve(config, now.date() if now else None)
        _echo_note(when.note, fmt)
        view = duck.account_view(config, group_type, group_value, when.date, recent, as_of_time)
        if raw:
            click.echo(format_raw_records(duck.raw_records(config, view.event_ids), fmt))
        else:
            click.echo(format_account_view(view, fmt))

    @main.command()
    @click.argument("report_name")
    @click.option("--step", type=int, help="Funnel: groups that reached step K.")
    @click.option("--dropoff", type=int, help="Funnel: groups that reached step K-1, not K.")
    @click.option("--period", type=click.DateTime(["%Y-%m-%d"]), help="Segmentation period.")
    @click.option("--segment", help="Segmentation: one segment value.")
    @click.option("--breakdown", help="Funnel: one breakdown value.")
    @click.option("--out", type=click.Path(dir_okay=False), help="Write the list as CSV.")
    @click.option("--save-cohort", help="Save the list as a static cohort with this name.")
    @click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0))
    @FORMAT_OPTION
    @pass_ctx
    def microscope(
        obj, report_name, step, dropoff, period, segment, breakdown, out, save_cohort, limit, fmt
    ) -> None:
        """List the groups behind one data point of a report (CSV, or save as a cohort).

        Funnel points are read from the stored report rows (no JVM); segmentation points are
        recomputed from the period's events on Spark.
        """
        from groupetl import checks
        from groupetl.cohorts.spec import check_cohort_name
        from groupetl.errors import InputError
        from groupetl.reports import FunnelReport, MicroscopePoint, load_reports

        config = obj.config
        checks.report_names(config, [report_name])
        report = {r.name: r for r in load_reports(config)}[report_name]
        point = MicroscopePoint(
            step=step,
            dropoff=dropoff,
            period_start=period.date() if period else None,
            segment=segment,
            breakdown=breakdown,
        )
        try:
            point.check(report)
            if save_cohort:
                check_cohort_name(save_cohort)
        except InputError as exc:
            raise ArgumentError(str(exc)) from None
        if isinstance(report, FunnelReport) and not save_cohort:
            from groupetl.reports.stored import funnel_point_rows

            rows = funnel_point_rows(config, report, point)
            total, source = len(rows), "stored rows of gold/funnel_groups"
            if out:
                _write_csv(rows, out)
        else:
            total, rows = _microscope_on_spark(obj, report, point, out, save_cohort, limit)
            source = "recomputed from the period's events on Spark"
        if out:
            click.echo(f"wrote {total:,} rows to {out}")
        if save_cohort:
            from groupetl.cohorts.spec import members_csv_path

            csv_path = members_csv_path(config.paths.root, save_cohort)
            click.echo(f"saved cohort {save_cohort!r} with {total:,} members (CSV: {csv_path})")
        if out or save_cohort:
            return
        unit = "users" if report.counts_users else f"{report.group_type} groups"
        shown = rows[:limit]
        more = f"; showing {len(shown):,} (--limit)" if len(shown) < total else ""
        header = f"{report.name} / {point.label()}: {total:,} {unit} ({source}){more}"
        click.echo(header, err=fmt != "table")
        click.echo(render_rows(shown, MICROSCOPE_PRINTED, fmt))


MICROSCOPE_PRINTED = ("group_type", "group_value", "name")


def _write_csv(rows: list[dict], out: str) -> None:
    """The microscope CSV (header, then group_type, group_value, name), as ``write_csv``."""
    from groupetl.output import render_csv

    with open(out, "w", encoding="utf-8", newline="") as fh:
        fh.write(render_csv(rows, MICROSCOPE_PRINTED) + "\n")


def _microscope_on_spark(
    obj, report, point, out: str | None, save_cohort: str | None, limit: int
) -> tuple[int, list[dict]]:
    """Segmentation points (and saving a cohort): Spark, because the input is event-sized.

    Returns (units behind the point, the first ``limit`` of them by group value).
    """
    from groupetl.reports import microscope as run_microscope
    from groupetl.reports import save_as_cohort, write_csv

    click.echo(
        "this point is recomputed from the events of its period (event-sized data): starting Spark",
        err=True,
    )
    if save_cohort:  # writes gold/cohort_members
        obj.take_lease("microscope --save-cohort")
    spark = obj.spark()
    df = run_microscope(spark, obj.config, report, point).cache()
    total = write_csv(df, out) if out else df.count()
    if save_cohort:
        total = save_as_cohort(spark, obj.config, df, save_cohort)
    rows = [r.asDict() for r in df.orderBy("group_value").limit(limit).collect()]
    return total, rows
