"""What a project has computed, listed without a JVM: reports, cohorts, QA results.

Each function reads small stored tables through delta-rs + DuckDB (``groupetl.lake``) and
returns ``(columns, rows)`` for ``groupetl.output.render_rows``. Configured items that were
never computed are listed too, with empty dates, so a list answers "what is there to run".
"""

from __future__ import annotations

from typing import Any

from groupetl import lake
from groupetl.config import ProjectConfig
from groupetl.schemas import RC, C, T

Rows = tuple[list[str], list[dict[str, Any]]]

REPORT_COLUMNS = ["report", "kind", "group_type", "last_computed_at", "last_run_id"]
COHORT_COLUMNS = ["cohort", "group_type", "source", "as_of_date", "members", "configured"]
QA_COLUMNS = ["run_time", "suite", "expectation", "severity", "success", "observed"]
REPORT_STATE = "gold/report_state"  # reports.definitions.GOLD_REPORT_STATE
QA_RESULTS = "ops/qa_results"  # qa.runner.QA_RESULTS


def _query(config: ProjectConfig, table: str, sql: str) -> list[dict[str, Any]]:
    """Rows of ``sql`` over ``table`` (registered as ``t``); none when the table is missing."""
    path = config.paths.table(table)
    if not lake.is_table(path):
        return []
    con = lake.connect()
    con.register("t", lake.dataset(lake.open_table(path, table)))
    return lake.rows_of(lake.query(con, sql))


def reports(config: ProjectConfig) -> Rows:
    """The configured reports, with when each was last computed (gold/report_state)."""
    from groupetl.reports import load_reports

    state = _query(
        config,
        REPORT_STATE,
        f"SELECT report_name, max(computed_at) AS at, arg_max({C.RUN_ID}, computed_at) AS run "
        f"FROM t WHERE {C.EVENT_DATE} IS NULL GROUP BY 1",
    )
    last = {r["report_name"]: r for r in state}
    rows = []
    for report in load_reports(config):
        seen = last.get(report.name, {})
        rows.append({
            "report": report.name, "kind": report.kind, "group_type": report.group_type,
            "last_computed_at": seen.get("at"), "last_run_id": seen.get("run"),
        })  # fmt: skip
    return REPORT_COLUMNS, rows


def cohorts(config: ProjectConfig) -> Rows:
    """Every stored cohort (latest snapshot: its date and size) and every configured one."""
    from groupetl.cohorts import parse_cohorts

    stored = _query(
        config,
        T.COHORT_MEMBERS,
        f"""
        WITH latest AS (SELECT {RC.COHORT}, max({RC.AS_OF_DATE}) AS d FROM t GROUP BY 1)
        SELECT t.{RC.COHORT} AS cohort, any_value(t.{C.GROUP_TYPE}) AS group_type,
               string_agg(DISTINCT t.{RC.COHORT_SOURCE}, ', ') AS source,
               latest.d AS as_of_date, count(DISTINCT t.{C.GROUP_VALUE}) AS members
        FROM t JOIN latest ON t.{RC.COHORT} = latest.{RC.COHORT}
            AND t.{RC.AS_OF_DATE} IS NOT DISTINCT FROM latest.d
        GROUP BY t.{RC.COHORT}, latest.d ORDER BY 1
        """,
    )
    configured = {c.name: c for c in parse_cohorts(config)}
    rows = [{**r, "configured": r["cohort"] in configured} for r in stored]
    names = {r["cohort"] for r in stored}
    rows += [
        {"cohort": c.name, "group_type": c.group_type, "source": "behavioral",
         "as_of_date": None, "members": None, "configured": True}
        for c in configured.values() if c.name not in names
    ]  # fmt: skip
    return COHORT_COLUMNS, sorted(rows, key=lambda r: r["cohort"])


def qa_results(config: ProjectConfig, all_runs: bool = False) -> Rows:
    """The latest QA run's expectations (or every run's), failures first."""
    latest = "" if all_runs else "WHERE run_id = (SELECT arg_max(run_id, run_time) FROM t)"
    rows = _query(
        config,
        QA_RESULTS,
        f"SELECT run_time, suite, expectation, severity, success, observed FROM t {latest} "
        "ORDER BY run_time DESC, success, severity, suite, expectation",
    )
    return QA_COLUMNS, rows
