"""Cohorts of groups (or users): behavioral (from config), imported (from a file), or saved from
a report's microscope; all live in T.COHORT_MEMBERS and can filter or split any report.

Public API:
- ``compute_cohorts(spark, config, as_of) -> StageResult``: the ``cohorts:`` section on a date.
- ``import_cohort(spark, config, name, file, group_type) -> ImportReport``.
- ``export_cohort(spark, config, name, out) -> int``.
- ``apply_cohort(df, cohorts_df, name, mode, group_type) -> DataFrame``: filter or split.
- ``save_cohort(spark, config, members_df, name, group_type, source) -> int``.
- ``read_members(spark, config) -> DataFrame``; ``write_groups_csv(df, out) -> int``.
"""

from groupetl.cohorts.compute import behavioral_members, compute_cohorts
from groupetl.cohorts.files import ImportReport, export_cohort, import_cohort, read_cohort_file
from groupetl.cohorts.spec import USER, CohortSpec, parse_cohorts
from groupetl.cohorts.store import (
    IN_COHORT,
    REST,
    apply_cohort,
    latest_members,
    read_members,
    save_cohort,
    write_groups_csv,
)


def run(spark, config, *, progress=None, date=None, **_):
    """Pipeline stage ``cohorts`` (``jobs/cohorts.py``, ``groupetl run``) for logical date D: the
    behavioral cohorts as of D - 1, the last whole day before D (``groupetl cohort compute
    --as-of D-1``). Like dynamic properties, a date's outputs cover data before D 00:00 UTC, so
    records of D-1 that arrive during D are in. Without a date: as of the latest event date in
    the warehouse (``groupetl.asof``), not the wall clock, so a warehouse of past data still
    gets its cohorts.
    """
    import datetime as dt

    from groupetl import asof

    as_of = date - dt.timedelta(days=1) if date else asof.resolve(config, None, "--date").date
    return compute_cohorts(spark, config, as_of, progress=progress)


__all__ = [
    "IN_COHORT",
    "REST",
    "USER",
    "CohortSpec",
    "ImportReport",
    "apply_cohort",
    "behavioral_members",
    "compute_cohorts",
    "export_cohort",
    "import_cohort",
    "latest_members",
    "parse_cohorts",
    "read_cohort_file",
    "read_members",
    "run",
    "save_cohort",
    "write_groups_csv",
]
