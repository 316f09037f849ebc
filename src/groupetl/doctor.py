"""``groupetl doctor``: check the invariants of ingest's tables, and repair what bronze allows.

The invariants (docs/semantics.md "Bad input", docs/architecture.md "Bronze"), each checked by
one aggregate per table:

- **no row twice**: no table holds two copies of one row (all columns equal but the wall-clock
  ones, ``ingested_at``/``finished_at``). Two writers that committed the same batch (before the
  warehouse lease existed, or on a filesystem where it cannot be held) leave exactly this;
- **one row per key**: one ``bronze/files`` row per file, one ``bronze/records`` row per file and
  line, one ``silver/records`` row per record id, one ``silver/events`` row per event id, one
  duplicates or quarantine row per record id, one ledger row per batch and phase. Two rows
  with one key and different content are a conflict: doctor names it and repairs nothing;
- **each record in one place**: a record id is accepted (``silver/records``), a duplicate or
  quarantined, never two of them, so the three counts add up to the records read;
- **the ledger agrees with the tables**: every batch with rows in bronze or silver has its
  ledger rows; a batch in bronze without a ``done`` row is unfinished (the next ingest finishes
  it; a finding only while no ingest is running, which the lease guarantees).

``--repair`` (:func:`repair`) removes the extra copies of repeated rows, keeping the earliest
written, one ``replaceWhere`` commit per table over the batches concerned: every copy is the
same bronze-derived row, so keeping one restores what a single commit wrote. Conflicts and
misplaced records are reported, not guessed at. After a repair of silver, the resolved tables
were computed from the doubled rows: rebuild them (``groupetl attribute --full-rebuild``, then
``groupetl report --full-rebuild``), as the summary says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import MapType

from groupetl import tables
from groupetl.config import ProjectConfig
from groupetl.ingest import ledger
from groupetl.schemas import C, T

# Columns holding the wall clock of a write: two copies of one row differ only there.
WALL_CLOCK = (C.INGESTED_AT, C.FINISHED_AT)
EXAMPLES = 3


@dataclass(frozen=True)
class Checked:
    """A table doctor checks, and the key that must be unique in it (None: whole rows)."""

    name: str  # as printed: the table's name under the warehouse, or "quarantine"
    key: tuple[str, ...] | None


CHECKED: tuple[Checked, ...] = (
    Checked(T.BRONZE_FILES, (C.SOURCE_FILE,)),
    Checked(T.BRONZE_RECORDS, (C.SOURCE_FILE, C.LINE_NUMBER)),
    Checked(T.SILVER_RECORDS, (C.RECORD_ID,)),
    Checked(T.SILVER_EVENTS, (C.EVENT_ID,)),
    Checked(T.SILVER_GROUP_ASSIGNMENTS, None),
    Checked(T.SILVER_GROUP_PROPERTY_OPS, None),
    Checked(T.SILVER_DUPLICATES, (C.RECORD_ID,)),
    Checked(T.SILVER_REPORTED, None),
    Checked("quarantine", (C.RECORD_ID,)),
    Checked(T.INGEST_BATCHES, (C.BATCH_ID, C.STATUS)),
)


@dataclass
class Finding:
    """One broken invariant: where, what, how many, a few examples, and whether --repair can."""

    table: str
    problem: str
    count: int
    examples: list[str] = field(default_factory=list)
    repairable: bool = False
    batches: list[str] = field(default_factory=list)  # the batches a repair rewrites

    def line(self) -> str:
        shown = f" (e.g. {'; '.join(self.examples)})" if self.examples else ""
        fix = "repairable" if self.repairable else "not repaired automatically"
        return f"{self.table}: {self.count:,} {self.problem}{shown} [{fix}]"


def _path(config: ProjectConfig, name: str) -> str:
    return str(config.paths.quarantine) if name == "quarantine" else config.paths.table(name)


def _fingerprint(df: DataFrame) -> Column:
    """A row's content without its wall-clock columns, as one hash.

    A map's entries are sorted first: two equal maps may list their keys in another order
    (a map read back through Python is rebuilt in its own order), and ``to_json`` keeps it.
    """
    content = [
        F.array_sort(F.map_entries(f.name)).alias(f.name)
        if isinstance(f.dataType, MapType)
        else F.col(f.name)
        for f in df.schema.fields
        if f.name not in WALL_CLOCK
    ]
    return F.sha2(F.to_json(F.struct(*content)), 256)


def _key_text(key: Sequence[str]) -> Column:
    return F.concat_ws(" / ", *[F.col(k).cast("string") for k in key])


def check_table(spark: SparkSession, config: ProjectConfig, checked: Checked) -> list[Finding]:
    """The repeated rows and the key conflicts of one table (one aggregate; a few rows back)."""
    path = _path(config, checked.name)
    if not tables.exists(spark, path):
        return []
    df = tables.read(spark, path)
    df = df.withColumn("_fp", _fingerprint(df))
    key = list(checked.key or ("_fp",))
    per_copy = df.groupBy(*dict.fromkeys([*key, "_fp"])).agg(
        F.count(F.lit(1)).alias("_copies"), F.min(C.BATCH_ID).alias("_batch")
    )
    per_key = per_copy.groupBy(*key).agg(
        F.sum(F.col("_copies") - 1).alias("_extra"),
        F.count(F.lit(1)).alias("_variants"),
        F.collect_set(F.when(F.col("_copies") > 1, F.col("_batch"))).alias("_batches"),
    )
    bad = per_key.filter((F.col("_extra") > 0) | (F.col("_variants") > 1))
    summary = bad.agg(
        F.sum("_extra").alias("extra"),
        F.count_if(F.col("_variants") > 1).alias("conflicts"),
        F.array_distinct(F.flatten(F.collect_list("_batches"))).alias("batches"),
        F.slice(F.sort_array(F.collect_list(F.when(F.col("_extra") > 0, _key_text(key)))), 1,
                EXAMPLES).alias("repeated"),
        F.slice(F.sort_array(F.collect_list(F.when(F.col("_variants") > 1, _key_text(key)))), 1,
                EXAMPLES).alias("conflicting"),
    ).first()  # fmt: skip
    found = []
    if summary["extra"]:
        examples = [] if checked.key is None else list(summary["repeated"])
        found.append(
            Finding(
                checked.name,
                "extra copies of rows written twice",
                int(summary["extra"]),
                examples,
                repairable=True,
                batches=sorted(summary["batches"]),
            )
        )
    if summary["conflicts"]:
        what = " / ".join(key)
        found.append(
            Finding(
                checked.name,
                f"keys ({what}) with rows of different content",
                int(summary["conflicts"]),
                list(summary["conflicting"]),
            )
        )
    return found


def _record_ids(spark: SparkSession, path: str) -> DataFrame | None:
    if not tables.exists(spark, path):
        return None
    return tables.read(spark, path).select(C.RECORD_ID).distinct()


def check_placement(spark: SparkSession, config: ProjectConfig) -> list[Finding]:
    """Record ids found in more than one of accepted, duplicates and quarantine."""
    places = {
        "accepted": _record_ids(spark, config.paths.table(T.SILVER_RECORDS)),
        "duplicates": _record_ids(spark, config.paths.table(T.SILVER_DUPLICATES)),
        "quarantine": _record_ids(spark, str(config.paths.quarantine)),
    }
    names = [n for n, df in places.items() if df is not None]
    found = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = places[a].join(places[b], on=C.RECORD_ID, how="inner")
            ids = both.orderBy(C.RECORD_ID).limit(EXAMPLES).collect()
            if ids:
                total = both.count()
                found.append(
                    Finding(
                        "silver",
                        f"records both {a} and {b}",
                        total,
                        [r[C.RECORD_ID][:16] for r in ids],
                    )
                )
    return found


def check_ledger(spark: SparkSession, config: ProjectConfig) -> list[Finding]:
    """Batches whose rows and ledger disagree (orphan rows, unfinished batches)."""
    ledger_path = config.paths.table(T.INGEST_BATCHES)
    states = ledger.collect_batch_states(spark, config) if tables.exists(spark, ledger_path) else {}
    seen: set[str] = set()
    for path in [config.paths.table(T.BRONZE_FILES), *ledger.batch_tables(config)]:
        if tables.exists(spark, path):
            rows = tables.read(spark, path).select(C.BATCH_ID).distinct().collect()
            seen.update(r[0] for r in rows)
    found = []
    orphans = sorted(seen - set(states))
    if orphans:
        found.append(
            Finding(
                T.INGEST_BATCHES,
                "batches with rows in bronze or silver but no ledger row (an interrupted bronze "
                "write: the next ingest reads their files again)",
                len(orphans),
                orphans[:EXAMPLES],
            )
        )
    unfinished = sorted(b for b, s in states.items() if s.phase != ledger.DONE)
    if unfinished:
        found.append(
            Finding(
                T.INGEST_BATCHES,
                "batches not finished (the next ingest finishes them)",
                len(unfinished),
                unfinished[:EXAMPLES],
            )
        )
    return found


def check(spark: SparkSession, config: ProjectConfig) -> list[Finding]:
    """Every finding on the project's ingest tables (empty: all invariants hold)."""
    found = []
    for checked in CHECKED:
        found += check_table(spark, config, checked)
    return found + check_placement(spark, config) + check_ledger(spark, config)


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)


def remove_repeated_rows(spark: SparkSession, config: ProjectConfig, finding: Finding) -> None:
    """Keep one copy of every repeated row of ``finding``'s batches (one commit).

    The copy kept is the earliest written (its wall-clock columns decide; then any).
    """
    path = _path(config, finding.table)
    predicate = f"{C.BATCH_ID} IN ({_sql_list(finding.batches)})"
    df = tables.read(spark, path).filter(F.expr(predicate))
    clock = [F.col(c).asc_nulls_last() for c in WALL_CLOCK if c in df.columns]
    first = Window.partitionBy("_fp").orderBy(*clock, F.lit(1))
    kept = (
        df.withColumn("_fp", _fingerprint(df))
        .withColumn("_n", F.row_number().over(first))
        .filter(F.col("_n") == 1)
        .drop("_fp", "_n")
    )
    tables.replace_where(kept, path, predicate)


def repair(spark: SparkSession, config: ProjectConfig, findings: Sequence[Finding]) -> list[str]:
    """Apply the repairable findings; return one line per table repaired."""
    done = []
    for finding in findings:
        if finding.repairable:
            remove_repeated_rows(spark, config, finding)
            done.append(f"{finding.table}: removed {finding.count:,} extra copies")
    return done
