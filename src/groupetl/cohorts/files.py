"""Imported cohorts: a text file with exactly one group value per line, in and out.

Import rules (``groupetl cohort import NAME FILE --group-type company``):
- each line is trimmed; blank lines are skipped;
- a value containing a comma, a semicolon or a tab is an error naming ``file:line`` (nothing is
  written): one value per line, never a list;
- a value repeated on several lines is imported once and reported with its line numbers;
- a value never seen in the attributed events of that group type is imported anyway and reported.

Export writes the cohort's latest snapshot in the same format, sorted, one value per line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from groupetl import tables
from groupetl.cohorts.columns import entity_events
from groupetl.cohorts.spec import check_cohort_name, check_group_type
from groupetl.cohorts.store import latest_members, read_members, save_cohort
from groupetl.config import ProjectConfig
from groupetl.errors import InputError
from groupetl.schemas import ATTRIBUTED_EVENTS, RC, C, T

_FORBIDDEN = {",": "a comma", ";": "a semicolon", "\t": "a tab"}
_IMPORT_SCHEMA = StructType(
    [StructField(C.GROUP_VALUE, StringType(), False), StructField(C.LINE_NUMBER, LongType(), False)]
)


@dataclass
class ImportReport:
    """What ``import_cohort`` read and wrote; ``lines()`` is the summary the CLI prints."""

    name: str
    group_type: str
    file: str
    members: int = 0
    lines_read: int = 0
    blank_lines: int = 0
    duplicates: list[tuple[str, list[int]]] = field(default_factory=list)  # value, its lines
    unknown: list[tuple[str, int]] = field(default_factory=list)  # value, first line

    def lines(self) -> list[str]:
        out = [
            f"cohort {self.name!r} ({self.group_type}): {self.members:,} members imported "
            f"from {self.file}",
            f"  lines read {self.lines_read:,}, blank {self.blank_lines:,}, "
            f"duplicate values {len(self.duplicates):,}, never seen {len(self.unknown):,}",
        ]
        for value, line_numbers in self.duplicates:
            where = ", ".join(str(n) for n in line_numbers)
            out.append(f"  duplicate: {value!r} on lines {where} (imported once)")
        for value, line in self.unknown:
            out.append(
                f"  never seen: {value!r} (line {line}) has no event as {self.group_type} "
                "(imported anyway)"
            )
        return out


def read_cohort_file(path: str | Path) -> tuple[list[tuple[str, int]], ImportReport]:
    """Parse a cohort file -> (first occurrence of each value with its line, partial report).

    Raises InputError ``file:line: ...`` on a value with a comma, semicolon or tab, and when the
    file cannot be read or is not UTF-8.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{source}: cannot read cohort file: {exc}") from None
    report = ImportReport(name="", group_type="", file=str(source))
    first_line: dict[str, int] = {}
    seen_on: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        report.lines_read += 1
        value = line.strip()
        if not value:
            report.blank_lines += 1
            continue
        for char, what in _FORBIDDEN.items():
            if char in value:
                column = line.index(char) + 1
                raise InputError(
                    f"{source}:{number}: column {column}: {what} in {value!r}; "
                    "a cohort file has exactly one group value per line"
                )
        seen_on.setdefault(value, []).append(number)
        first_line.setdefault(value, number)
    report.duplicates = [(v, lines) for v, lines in seen_on.items() if len(lines) > 1]
    return list(first_line.items()), report


def import_cohort(
    spark: SparkSession,
    config: ProjectConfig,
    name: str,
    file: str | Path,
    group_type: str,
    *,
    as_of: dt.date | None = None,
) -> ImportReport:
    """Import ``file`` as cohort ``name`` of ``group_type`` into T.COHORT_MEMBERS.

    Replaces any existing cohort of that name atomically (cohort_source ``imported``,
    as_of_date = ``as_of`` or today UTC). An empty file imports an empty cohort.
    """
    check_cohort_name(name)
    check_group_type(config, group_type)
    values, report = read_cohort_file(file)
    report.name, report.group_type = name, group_type
    given = spark.createDataFrame(values, _IMPORT_SCHEMA)
    attributed = tables.read(spark, config.paths.table(T.ATTRIBUTED_EVENTS), ATTRIBUTED_EVENTS)
    known = entity_events(attributed, group_type, config.group_type_names).select(C.GROUP_VALUE)
    unknown = given.join(known.distinct(), on=C.GROUP_VALUE, how="left_anti")
    # bounded by the file's own size: the file was read into memory above
    report.unknown = [
        (r[C.GROUP_VALUE], r[C.LINE_NUMBER]) for r in unknown.orderBy(C.LINE_NUMBER).collect()
    ]
    report.members = save_cohort(spark, config, given, name, group_type, "imported", as_of)
    return report


def export_cohort(spark: SparkSession, config: ProjectConfig, name: str, out: str | Path) -> int:
    """Write cohort ``name`` (its latest snapshot) to ``out``: one value per line, sorted.

    Returns the number of values written. InputError when no cohort has that name.
    """
    members = read_members(spark, config).filter(F.col(RC.COHORT) == name)
    found = members.select(C.GROUP_TYPE).distinct().limit(2).collect()
    if not found:
        raise InputError(f"no cohort named {name!r} in {T.COHORT_MEMBERS}")
    group_type = found[0][C.GROUP_TYPE]
    values = latest_members(members, name, group_type).orderBy(C.GROUP_VALUE)
    written = 0
    with Path(out).open("w", encoding="utf-8", newline="\n") as fh:
        for row in values.toLocalIterator():
            fh.write(f"{row[C.GROUP_VALUE]}\n")
            written += 1
    return written
