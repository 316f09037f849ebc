"""Checks of command-line arguments against the config, made before any Spark session starts.

Everything the config and the arguments alone can decide (names of reports, retention reports,
cohorts, tables and group types; dates and times; option combinations) is checked here, so a
typo costs milliseconds instead of a JVM start. Each check raises ``ArgumentError`` with one
line naming what was given and what exists; the CLI prints it and exits 2.
"""

from __future__ import annotations

from collections.abc import Sequence

from groupetl import lake
from groupetl.config import ProjectConfig
from groupetl.errors import ArgumentError, InputError
from groupetl.schemas import RC, T


def _listed(names: Sequence[str]) -> str:
    return ", ".join(sorted(names)) or "none configured"


def report_names(config: ProjectConfig, names: Sequence[str]) -> None:
    """Every name in ``names`` is a configured report (config section ``reports:``)."""
    from groupetl.reports import load_reports

    known = [r.name for r in load_reports(config)]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ArgumentError(f"no report {', '.join(map(repr, unknown))}; reports: {_listed(known)}")


def retention_names(config: ProjectConfig, names: Sequence[str]) -> None:
    """Every name in ``names`` is a configured retention report (section ``retention:``)."""
    from groupetl.retention import parse_retention

    known = [s.name for s in parse_retention(config)]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ArgumentError(
            f"no retention report {', '.join(map(repr, unknown))}; "
            f"retention reports: {_listed(known)}"
        )


def group_type(config: ProjectConfig, name: str, *, allow_user: bool) -> str:
    """``name`` is a declared group type (or ``user`` when allowed)."""
    from groupetl.cohorts.spec import check_group_type

    try:
        return check_group_type(config, name, allow_user=allow_user)
    except InputError as exc:
        raise ArgumentError(str(exc)) from None


def as_of_time(text: str | None) -> None:
    """``--as-of-time`` parses as a time (its existence in each table is checked on read)."""
    if text is None:
        return
    try:
        lake.parse_time(text)
    except InputError as exc:
        raise ArgumentError(str(exc)) from None


def not_both(**options: object) -> None:
    """At most one of ``options`` (name -> value; None = not given) is given."""
    given = [k for k, v in options.items() if v is not None and v is not False]
    if len(given) > 1:
        flags = " and ".join("--" + k.replace("_", "-") for k in given)
        raise ArgumentError(f"give {flags} separately, not together")


def stored_cohort(config: ProjectConfig, name: str) -> None:
    """``name`` is a cohort stored in gold/cohort_members (computed, imported or saved)."""
    path = config.paths.table(T.COHORT_MEMBERS)
    stored: list[str] = []
    if lake.is_table(path):
        con = lake.connect()
        con.register("m", lake.dataset(lake.open_table(path, T.COHORT_MEMBERS)))
        stored = [r[0] for r in con.execute(f"SELECT DISTINCT {RC.COHORT} FROM m").fetchall()]
    if name not in stored:
        raise ArgumentError(
            f"no cohort {name!r} in {T.COHORT_MEMBERS}; cohorts: {_listed(stored)} "
            "(run `groupetl cohort compute` or `cohort import` first)"
        )


def landing_folder(config: ProjectConfig) -> None:
    """The landing folder exists: ingesting from a missing folder is a wrong path, not "no
    new files" (a typo in ``paths`` used to ingest nothing and exit 0)."""
    landing = config.paths.landing
    if landing.is_dir():
        return
    what = "is not a folder" if landing.exists() else "does not exist"
    raise ArgumentError(
        f"the landing folder {landing} {what} (paths.landing of {config.source}); create it, "
        "or set paths.landing to the folder files arrive in"
    )
