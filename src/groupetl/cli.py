"""The ``groupetl`` command line: thin click commands that parse arguments and call the stages.

Every command that touches data takes the project config (``--config FILE`` or ``--project NAME``
for ``conf/NAME.yaml``), builds the one SparkSession and passes it down.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click

from groupetl.config import ProjectConfig, load_config
from groupetl.errors import ArgumentError, ConfigError, GroupEtlError
from groupetl.stages import StageResult

DEFAULT_CONFIG = "conf/local.yaml"


def _echo_progress(message: str) -> None:
    click.echo(message, err=True)


class _Context:
    def __init__(self, config_path: str | None, project: str | None, verbose: bool):
        self.config_path = config_path
        self.project = project
        self.verbose = verbose
        self._config: ProjectConfig | None = None
        self._spark = None
        self._lease = None

    @property
    def config(self) -> ProjectConfig:
        if self._config is None:
            if self.config_path and self.project:
                raise ConfigError("give either --config or --project, not both")
            path = self.config_path or (
                f"conf/{self.project}.yaml" if self.project else DEFAULT_CONFIG
            )
            config = load_config(path)
            from groupetl.pipeline import validate_sections

            validate_sections(config)
            self._config = config
        return self._config

    def take_lease(self, command: str) -> None:
        """Take the warehouse's lease for a writing ``command`` before Spark starts.

        Another writer holding it ends this command with one line naming it and exit code 75
        (``groupetl.lease``); a stale lease of a crashed run is taken over. Released at exit.
        """
        if self._lease is not None:
            return
        import atexit

        from groupetl.lease import acquire

        config = self.config
        self._lease = acquire(config.paths.warehouse, command=command, project=config.project)
        # released when the command ends (also in-process, e.g. click's test runner), and at
        # exit as a safety net; a killed process leaves a lease the next command takes over
        click.get_current_context().find_root().call_on_close(self._lease.release)
        atexit.register(self._lease.release)
        if self._lease.took_over:
            _echo_progress(f"note: took over the warehouse lease: {self._lease.took_over}")

    def spark(self):
        if self._spark is None:
            from groupetl.session import session_for

            started = time.monotonic()
            self._spark = session_for(self.config, verbose=self.verbose)
            if self._lease is not None:  # the JVM, a child that may outlive a killed parent
                self._lease.add_jvm(self._spark._jvm.java.lang.ProcessHandle.current().pid())
            _echo_progress(f"Spark session ready in {time.monotonic() - started:.1f}s")
        return self._spark


pass_ctx = click.make_pass_decorator(_Context)


class _Group(click.Group):
    """Turn groupetl's own errors into one clear line and an exit code, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a bad option value: one line, exit 2, no usage dump
            where = f" (see: {exc.ctx.command_path} --help)" if exc.ctx else ""
            click.echo(f"error: {exc.format_message()}{where}", err=True)
            sys.exit(2)
        except (ConfigError, ArgumentError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except GroupEtlError as exc:  # 1, or the error's own code (75: warehouse busy)
            click.echo(f"error: {exc}", err=True)
            sys.exit(getattr(exc, "exit_code", 1))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    "config_path",
    envvar="GROUPETL_CONFIG",
    type=click.Path(dir_okay=False),
    help=f"Project config YAML (default {DEFAULT_CONFIG}; env GROUPETL_CONFIG).",
)
@click.option("--project", "-p", help="Shorthand for --config conf/PROJECT.yaml.")
@click.option("--verbose", "-v", is_flag=True, help="Show Spark's INFO logs and debug output.")
@click.version_option(package_name="groupetl")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, project: str | None, verbose: bool) -> None:
    """groupetl: group-level (account-level) product analytics on Spark and Delta Lake.

    Data flows landing -> bronze -> silver -> gold. A typical first session:

    \b
      groupetl demo                      # generate sample data, run every stage
      groupetl generate --events 100000  # raw Amplitude/Segment files into landing/
      groupetl ingest                    # landing -> bronze/silver/quarantine
      groupetl attribute                 # point-in-time groups and group properties
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = _Context(config_path, project, verbose)


@main.command()
@pass_ctx
def setup(obj: _Context) -> None:
    """Fetch Delta Lake's jars into the local cache once (no-op when cached).

    After this, every command works without network access.
    """
    from groupetl.session import build_session, cached_delta_jars, delta_coordinate, ivy_dir

    jars = cached_delta_jars()
    if jars is None:
        click.echo(f"resolving {delta_coordinate()} from Maven Central into {ivy_dir()} ...")
        warehouse = ivy_dir() / "setup-warehouse"
        spark = build_session(master="local[1]", warehouse=warehouse, profile="test")
        spark.stop()
        jars = cached_delta_jars()
        if jars is None:
            raise GroupEtlError(f"Delta jars still not cached in {ivy_dir()} after resolution")
    click.echo(f"Delta Lake jars cached: {len(jars)} files in {ivy_dir()}")


@main.command()
@click.option(
    "--spark-submit", "as_args", is_flag=True, help="Print the spark-submit flags instead."
)
def jars(as_args: bool) -> None:
    """Print the cached Delta jar paths, or the spark-submit flags that carry Delta.

    Example: spark-submit $(groupetl jars --spark-submit) jobs/ingest.py --config conf/local.yaml
    """
    from groupetl.session import cached_delta_jars, spark_submit_args

    if as_args:
        click.echo(" ".join(spark_submit_args()))
        return
    for jar in cached_delta_jars() or []:
        click.echo(jar)


@main.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("dist/groupetl.zip"),
    show_default=True,
)
def package(out: Path) -> None:
    """Zip the groupetl package for `spark-submit --py-files` (ships it to executors).

    Example: spark-submit --py-files dist/groupetl.zip $(groupetl jars --spark-submit) \
    jobs/ingest.py --config conf/prod.yaml
    """
    import zipfile

    import groupetl

    root = Path(groupetl.__file__).resolve().parent
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, Path("groupetl") / path.relative_to(root))
    click.echo(f"wrote {out}")


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: the project's data root; files go under OUT/landing).",
)
@click.option("--seed", default=42, show_default=True, help="Random seed: same seed, same bytes.")
@click.option("--companies", default=50, show_default=True)
@click.option("--users-per-company", default=10, show_default=True)
@click.option("--days", default=14, show_default=True)
@click.option("--events", default=20_000, show_default=True, help="Target activity events.")
@click.option("--malformed-share", default=0.01, show_default=True)
@click.option("--duplicate-share", default=0.01, show_default=True)
@pass_ctx
def generate(obj: _Context, out: Path | None, **spec_args: object) -> None:
    """Write a deterministic synthetic B2B dataset in the real raw formats, plus a manifest.

    Amplitude HTTP V2 bodies, Amplitude Export files (gzipped) and Segment batches land in
    OUT/landing/<format>/; OUT/manifest.json counts every record kind and injected fault.
    """
    from groupetl.demo import generator_group_types
    from groupetl.generate import GeneratorSpec
    from groupetl.generate import generate as run_generator

    target = out or obj.config.paths.root
    spec = GeneratorSpec(
        **spec_args,  # type: ignore[arg-type]
        group_types=generator_group_types(obj.config),
    )
    started = time.monotonic()
    manifest = run_generator(spec, target, progress=_echo_progress)
    data = manifest.to_dict()
    click.echo(
        f"generated {data['records_total']:,} records in {time.monotonic() - started:.1f}s "
        f"into {target / 'landing'} (manifest: {target / 'manifest.json'})"
    )


def _print_result(result: StageResult) -> None:
    for line in result.lines():
        click.echo(line)


@main.command()
@pass_ctx
def ingest(obj: _Context) -> None:
    """Load new landing files into bronze, silver and quarantine (incremental, idempotent).

    Prints files/records read, accepted, duplicates and quarantined by reason;
    records read always equals accepted + duplicates + quarantined.
    """
    from groupetl import checks
    from groupetl.pipeline import run_stage

    checks.landing_folder(obj.config)
    obj.take_lease("ingest")
    _print_result(run_stage(obj.spark(), obj.config, "ingest", progress=_echo_progress))


@main.command()
@click.option("--full-rebuild", is_flag=True, help="Recompute every resolved table from silver.")
@pass_ctx
def attribute(obj: _Context, full_rebuild: bool) -> None:
    """Resolve group membership and group properties as of each event's time.

    Writes membership history, group property history/versions, current group properties and
    the attributed events table (one row per event, declared group type and group value).
    """
    from groupetl.pipeline import run_stage

    obj.take_lease("attribute")
    result = run_stage(
        obj.spark(), obj.config, "attribute", progress=_echo_progress, full_rebuild=full_rebuild
    )
    _print_result(result)


@main.command("run")
@click.option("--date", "date", metavar="D", help="Run every stage for logical date D (always).")
@click.option("--from", "start", metavar="D1", help="Backfill: first logical date.")
@click.option("--to", "end", metavar="D2", help="Backfill: last logical date (inclusive).")
@click.option("--force", is_flag=True, help="Backfill: re-run dates whose steps all succeeded.")
@click.option(
    "--page",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the report page at the end (default: <root>/reports/page.html).",
)
@click.option("--no-page", is_flag=True, help="Do not write the report page.")
@pass_ctx
def run_command(
    obj: _Context,
    date: str | None,
    start: str | None,
    end: str | None,
    force: bool,
    page: Path | None,
    no_page: bool,
):
    """Run every stage for a logical date, or for each date of a backfill, in order.

    \b
    ingest -> attribute -> crm_sync -> dynamic_properties -> attribute_derived
           -> qa_gate -> report -> retention -> cohorts
    Stages whose config section is absent are skipped. Each step writes a row to ops/run_log.
    A failed step stops the run (exit 1; 3 for the QA gate) and names the stage; run the same
    command again to resume (every stage is idempotent). A --from/--to backfill skips dates
    whose steps all succeeded unless --force. Same code as jobs/run.py (docs/operations.md),
    except that the command then writes the report page (docs/reports/page.md) and prints where,
    unless --no-page or no date ran.
    """
    from groupetl import checks
    from groupetl.errors import InputError
    from groupetl.pipeline import exit_code
    from groupetl.runs import resolve_dates, run_dates

    config = obj.config
    try:  # dates and their combination are checked before Spark starts
        dates, force = resolve_dates(date, start, end, force)
    except InputError as exc:
        raise ArgumentError(str(exc)) from None
    checks.landing_folder(config)
    obj.take_lease("run")
    try:
        runs = run_dates(obj.spark(), config, dates, force=force, progress=_echo_progress)
    except GroupEtlError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exit_code(exc))
    for r in runs:
        for line in r.lines():
            click.echo(line)
    if not no_page and any(not r.skipped_as_done for r in runs):
        from groupetl.reports import default_page_path, write_html

        written = write_html(obj.spark(), config, None, page or default_page_path(config))
        click.echo(f"report page: {written}")


@main.command()
@click.option("--events", default=20_000, show_default=True, help="Size of the generated data.")
@click.option(
    "--days",
    default=90,
    show_default=True,
    help="Days of data, from 2026-01-01 (the generator's start).",
)
@click.option("--seed", default=42, show_default=True)
@pass_ctx
def demo(obj: _Context, events: int, days: int, seed: int) -> None:
    """Generate sample data, run every stage for the day after it, and write the report page.

    \b
    The steps are those of `groupetl run --date D` (ingest, attribute, CRM sync, dynamic
    properties, QA gate, reports, retention, cohorts), D being the day after the generated
    data; the demo also writes a CRM account export for the generated companies. It ends by
    printing where the report page and the QA Data Docs are. Exit 3 when the QA gate fails.
    Safe to run again: the data is generated only once per seed, size and days, and every
    step is idempotent.
    """
    from groupetl.demo import run_demo
    from groupetl.errors import GroupEtlError
    from groupetl.pipeline import exit_code

    obj.take_lease("demo")
    try:
        run_demo(
            obj.spark(), obj.config, events=events, seed=seed, days=days, echo=click.echo,
            progress=_echo_progress,
        )  # fmt: skip
    except GroupEtlError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exit_code(exc))


@main.command()
@click.option("--repair", is_flag=True, help="Remove rows written twice (keeps one copy).")
@pass_ctx
def doctor(obj: _Context, repair: bool) -> None:
    """Check the ingest tables' invariants; exit 1 when one is broken (docs/operations.md).

    \b
    One bronze row per file and line, one silver record per record id, one event per event id,
    no row written twice, each record accepted, duplicate or quarantined (never two), the batch
    ledger consistent with the tables. --repair keeps one copy of every row written twice;
    anything else is printed with what to do.
    """
    from groupetl import doctor as checkup

    obj.take_lease("doctor" + (" --repair" if repair else ""))  # no writer may run meanwhile
    spark = obj.spark()
    findings = checkup.check(spark, obj.config)
    for finding in findings:
        click.echo(finding.line())
    if repair and any(f.repairable for f in findings):
        repaired = [f.table for f in findings if f.repairable]
        for line in checkup.repair(spark, obj.config, findings):
            click.echo(f"repaired {line}")
        findings = checkup.check(spark, obj.config)
        for finding in findings:
            click.echo(f"still: {finding.line()}")
        if any(t.startswith("silver/") for t in repaired):
            click.echo(
                "the resolved and gold tables were computed from the repeated silver rows: run "
                "`groupetl attribute --full-rebuild`, then `groupetl report --full-rebuild`"
            )
    if not findings:
        click.echo(f"ok: every invariant holds in {obj.config.paths.warehouse}")
        return
    sys.exit(1)


@main.command("show-config")
@pass_ctx
def show_config(obj: _Context) -> None:
    """Validate the project config and print it resolved (paths absolute) as JSON."""
    cfg = obj.config
    click.echo(
        json.dumps(
            {
                "source": str(cfg.source),
                "project": cfg.project,
                "paths": {k: str(v) for k, v in vars(cfg.paths).items()},
                "group_types": [vars(g) for g in cfg.group_types],
                "events": list(cfg.tracking_plan.event_names),
                "min_id_length": dict(cfg.min_id_length),
                "spark": {
                    "master": cfg.spark.master,
                    "shuffle_partitions": cfg.spark.shuffle_partitions,
                },
            },
            indent=2,
        )
    )


def _register_extensions() -> None:
    from groupetl import cli_analysis, cli_read

    cli_analysis.register(main, pass_ctx)
    cli_read.register(main, pass_ctx)


_register_extensions()


def _spark_started() -> bool:
    """True when this process started a SparkContext (its JVM needs the normal shutdown)."""
    if "pyspark" not in sys.modules:
        return False
    from pyspark import SparkContext

    return SparkContext._active_spark_context is not None


def run() -> None:
    """Console entry point (``groupetl``): ``main()``, then a prompt exit.

    When no Spark was started, the process ends with ``os._exit`` once Python's own exit
    handlers have run and the output is flushed. The C-level exit handlers are skipped on
    purpose: pyarrow's thread pool, torn down there next to delta-rs's runtime, sometimes
    deadlocked (about 1 run in 50: the answer printed, then the process hung forever) or
    aborted. Commands that started Spark exit normally.
    """
    import atexit
    import os

    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            click.echo(exc.code, err=True)
            code = 1
    if _spark_started():
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
