"""Landing folder discovery: which files are there, which are new, what format each is.

Listing file names, sizes and modification times is small metadata, so it is done with Python on
the driver; the files' contents are read by Spark (:mod:`groupetl.ingest.bronze`).

A file's identity is its path relative to the landing folder ('/'-separated). A file whose path
is already in bronze is never read again, so dropping the same file twice changes nothing. If
it was changed since (other size or modification time), it is still skipped, and counted and
logged as ``files_changed_skipped``: bronze keeps what arrived first, and a record's id depends on
its file and line, so a changed file must come back under a new name to be ingested.
Hidden files and Spark/Hadoop markers (names starting with ``.`` or ``_``) are ignored.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from groupetl import tables
from groupetl.ingest.formats import format_of
from groupetl.schemas import BRONZE_FILES, C

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LandingFile:
    """One file in the landing folder."""

    relative: str  # path relative to the landing folder, '/'-separated
    path: Path
    size: int
    mtime_ms: int  # the file's arrival time, fixed in bronze at first ingestion

    def identity(self) -> str:
        """Text that identifies this version of the file (path, size, modification time)."""
        return f"{self.relative}|{self.size}|{self.mtime_ms}"


@dataclass(frozen=True)
class NewFile:
    """A landing file to ingest, with its format decided."""

    file: LandingFile
    file_format: str


def list_landing(landing: Path, skip: Sequence[Path] = ()) -> list[LandingFile]:
    """Every regular file under ``landing``, sorted by relative path (empty if no folder).

    Folders in ``skip`` (e.g. the CRM sync's account exports, which are not events) are left out.
    """
    if not landing.is_dir():
        return []
    skipped = {p.resolve() for p in skip}
    found: list[LandingFile] = []
    for folder, dirs, names in os.walk(landing):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith((".", "_")) and (Path(folder) / d).resolve() not in skipped
        )
        for name in sorted(names):
            if name.startswith((".", "_")):
                continue
            path = Path(folder) / name
            stat = path.stat()
            relative = path.relative_to(landing).as_posix()
            found.append(LandingFile(relative, path, stat.st_size, stat.st_mtime_ns // 1_000_000))
    return sorted(found, key=lambda f: f.relative)


def collect_ingested_files(spark: SparkSession, path: str) -> dict[str, tuple[int, int, str]]:
    """Relative path -> (size, arrival ms, batch id) of the files in bronze (collected: small).

    An unreadable file (``error`` set) is in bronze too: it is not read again either.
    """
    # the columns read, not the whole schema: a table written before ``error`` existed has not it
    schema = StructType([f for f in BRONZE_FILES.fields if f.name != C.ERROR])
    rows = (
        tables.read(spark, path, schema)
        .selectExpr(C.SOURCE_FILE, "size_bytes", f"unix_millis({C.ARRIVAL_TIME}) AS ms", C.BATCH_ID)
        .collect()
    )
    return {r[0]: (int(r[1]), int(r[2]), r[3]) for r in rows}


def split_new(
    files: list[LandingFile], ingested: dict[str, tuple[int, int, str]]
) -> tuple[list[NewFile], list[LandingFile]]:
    """(new files with their format, files already in bronze but changed since)."""
    new: list[NewFile] = []
    changed: list[LandingFile] = []
    for f in files:
        seen = ingested.get(f.relative)
        if seen is None:
            new.append(NewFile(f, format_of(f.relative, f.path)))
        elif seen[:2] != (f.size, f.mtime_ms):
            log.warning(
                "%s was already ingested (size %d, arrival ms %d) and has changed (size %d, "
                "modified ms %d): skipped; land a changed file under a new name",
                f.relative,
                seen[0],
                seen[1],
                f.size,
                f.mtime_ms,
            )
            changed.append(f)
    return new, changed


def batch_id_for(files: list[NewFile]) -> str:
    """A batch id derived from the files it holds, so the same files make the same batch."""
    text = "\n".join(sorted(n.file.identity() for n in files))
    return "b-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
