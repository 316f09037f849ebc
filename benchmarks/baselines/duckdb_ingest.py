"""A single-node DuckDB version of groupetl's essential ingest, as a yardstick for its ingest stage.

One SQL statement over the landing files (``threads`` = the machine's cores):

1. every line of every file (``read_csv`` with no delimiter or quote: one VARCHAR per line; ``.gz``
   decompressed by DuckDB), with its file and 1-based line number (``WITH ORDINALITY`` numbers
   the scan's rows in file order; line = ordinal - first ordinal of the file + 1; blank lines
   are dropped after numbering, as bronze does);
2. each line parsed ONCE against its format's declared structure (``json_transform``; a line
   that is not JSON is one record with nulls, as groupetl counts it);
3. the record lists unnested with their index (HTTP ``events``, Segment ``batch``; an Export line
   is record 0); event time and source sequence parsed to epoch ms (HTTP ``time``; Export
   ``event_time`` / ``server_upload_time``; Segment ``timestamp`` with its offset, ``receivedAt``
   else the batch's ``sentAt``); user key = ``user_id`` else ``device_id`` (non-empty);
4. dedup on (user key, insert_id), keeping the first in record order (event time, source
   sequence nulls last, file, line, index; docs/semantics.md "Time and order"); a record without an
   insert_id is never a duplicate;
5. one Parquet write (snappy, Spark's default) partitioned by ``duplicate`` (kept / duplicates).

Not done (groupetl does): Amplitude's validation and quarantine reasons, groups and property
operations parsed into rows, limits, Delta tables and their commits, bronze's raw copy. It runs
in a child process (its own peak RSS, nothing shared with the benchmark's JVM); the JSON
extension is DuckDB's built-in one and extension auto-install/auto-load is switched off, so
nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script (the child process)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines import Context, landing_files

WHAT = (
    "DuckDB (single node, threads = cores): lines -> one json_transform per line -> unnest -> "
    "dedup on (user key, insert_id), first in record order -> Parquet (no validation, no Delta)"
)
COMPARES_TO = ("ingest",)

_AMPLITUDE = (
    '"user_id":"VARCHAR","device_id":"VARCHAR","event_type":"VARCHAR","time":"VARCHAR",'
    '"insert_id":"VARCHAR","event_properties":"JSON","user_properties":"JSON","groups":"JSON",'
    '"group_properties":"JSON"'
)
STRUCTURES = {
    "amplitude_http": '{"events":[{' + _AMPLITUDE + "}]}",
    "amplitude_export": (
        '{"event_type":"VARCHAR","event_time":"VARCHAR","server_upload_time":"VARCHAR",'
        '"$insert_id":"VARCHAR","user_id":"VARCHAR","device_id":"VARCHAR",'
        '"event_properties":"JSON","user_properties":"JSON","groups":"JSON",'
        '"group_properties":"JSON","uuid":"VARCHAR"}'
    ),
    "segment": (
        '{"sentAt":"VARCHAR","batch":[{"type":"VARCHAR","messageId":"VARCHAR","userId":"VARCHAR",'
        '"anonymousId":"VARCHAR","event":"VARCHAR","name":"VARCHAR","groupId":"VARCHAR",'
        '"properties":"JSON","traits":"JSON","timestamp":"VARCHAR","receivedAt":"VARCHAR",'
        '"integrations":{"Amplitude":{"groups":"JSON"}}}]}'
    ),
}


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ms(expr: str, kind: str) -> str:
    """Epoch ms of a text time; NULL when it does not parse."""
    if kind == "int":
        return f"TRY_CAST({expr} AS BIGINT)"
    return f"epoch_ms(TRY_CAST({expr} AS TIMESTAMPTZ))"  # Export: UTC; Segment: ISO + offset


def ingest_sql(landing: Path, formats: list[str], out: Path) -> str:
    """The one statement: landing lines -> records -> dedup -> Parquet under ``out``."""
    prefix = str(landing.resolve()) + "/"
    globs = ", ".join(_q(str(landing.resolve() / fmt / "*")) for fmt in formats)
    lines = f"""
    read_csv([{globs}], columns = {{'line': 'VARCHAR'}}, header = false, delim = '\\x01',
             quote = '', escape = '', auto_detect = false, filename = true,
             max_line_size = 1000000000, strict_mode = false) WITH ORDINALITY"""
    branches = []
    common = "source_file, line_number"
    parsed = f"try(json_transform(line, {{s}})) AS j, {common}, line"
    # A line that is not JSON (or holds no record list) is one record: its list is [NULL], its
    # index NULL and its text kept; a list is parsed once, never tested again.
    items = "CASE WHEN len(p.j.{k}) > 0 THEN p.j.{k} ELSE [NULL] END"
    index = "CASE WHEN u.e IS NOT NULL THEN u.i - 1 END"
    raw = "CASE WHEN u.e IS NULL THEN p.line END"
    if "amplitude_http" in formats:
        s = _q(STRUCTURES["amplitude_http"])
        branches.append(f"""
    SELECT 'amplitude_http' AS source_format, {common}, {index} AS record_index,
           u.e.event_type, u.e.user_id, u.e.device_id, u.e.insert_id,
           {_ms("u.e.time", "int")} AS event_time_ms, NULL::BIGINT AS seq_ms,
           u.e.event_properties AS properties, u.e.groups, u.e.group_properties,
           u.e.user_properties AS traits, {raw} AS raw
    FROM (SELECT {parsed.format(s=s)} FROM lines WHERE fmt = 'amplitude_http') p,
         unnest({items.format(k="events")}) WITH ORDINALITY AS u(e, i)""")
    if "amplitude_export" in formats:
        s = _q(STRUCTURES["amplitude_export"])
        branches.append(f"""
    SELECT 'amplitude_export', {common}, CASE WHEN j IS NOT NULL THEN 0 END, j.event_type,
           j.user_id, j.device_id, j."$insert_id", {_ms("j.event_time", "ts")},
           {_ms("j.server_upload_time", "ts")}, j.event_properties, j.groups,
           j.group_properties, j.user_properties, CASE WHEN j IS NULL THEN line END
    FROM (SELECT {parsed.format(s=s)} FROM lines WHERE fmt = 'amplitude_export')""")
    if "segment" in formats:
        s = _q(STRUCTURES["segment"])
        branches.append(f"""
    SELECT 'segment', {common}, {index}, coalesce(u.e.event, u.e.name), u.e.userId,
           u.e.anonymousId, u.e.messageId, {_ms("u.e.timestamp", "ts")},
           {_ms("coalesce(u.e.receivedAt, p.j.sentAt)", "ts")}, u.e.properties,
           u.e.integrations.Amplitude.groups, NULL::JSON, u.e.traits, {raw}
    FROM (SELECT {parsed.format(s=s)} FROM lines WHERE fmt = 'segment') p,
         unnest({items.format(k="batch")}) WITH ORDINALITY AS u(e, i)""")
    return f"""
COPY (
  WITH numbered AS (
    SELECT substr(filename, {len(prefix) + 1}) AS source_file,
           ordinality - min(ordinality) OVER (PARTITION BY filename) + 1 AS line_number,
           line
    FROM {lines}
  ),
  lines AS (
    SELECT split_part(source_file, '/', 1) AS fmt, source_file, line_number, line
    FROM numbered WHERE trim(line) <> ''
  ),
  records AS ({" UNION ALL ".join(branches)}
  ),
  keyed AS (
    SELECT *, coalesce(nullif(user_id, ''), nullif(device_id, '')) AS user_key FROM records
  )
  SELECT *,
         coalesce(insert_id, '') <> '' AND row_number() OVER (
           PARTITION BY user_key, insert_id
           ORDER BY event_time_ms NULLS LAST, seq_ms NULLS LAST, source_file, line_number,
                    record_index
         ) > 1 AS duplicate
  FROM keyed
) TO {_q(str(out))} (FORMAT parquet, COMPRESSION snappy, PARTITION_BY (duplicate),
                     OVERWRITE_OR_IGNORE)
"""


def ingest(landing: Path, out: Path, threads: int) -> dict:
    """Run the statement in this process; the timed figures and the counts of what it wrote."""
    import duckdb

    formats = list(landing_files(landing))
    con = duckdb.connect(
        config={
            "threads": threads,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "temp_directory": str(out.parent / "duckdb_tmp"),
        }
    )
    loaded = dict(
        con.execute(
            "SELECT extension_name, install_path FROM duckdb_extensions() "
            "WHERE extension_name IN ('json', 'parquet', 'icu')"
        ).fetchall()
    )
    started = time.monotonic()
    con.execute(ingest_sql(landing, formats, out))
    seconds = time.monotonic() - started
    counts = con.execute(
        f"""SELECT count(*) FILTER (WHERE NOT duplicate),
                   count(*) FILTER (WHERE duplicate),
                   count(*) FILTER (WHERE raw IS NOT NULL)
            FROM read_parquet({_q(str(out / "**" / "*.parquet"))}, hive_partitioning = true)"""
    ).fetchone()
    return {
        "seconds": round(seconds, 2),
        "threads": int(con.execute("SELECT current_setting('threads')").fetchone()[0]),
        "records_written": counts[0] + counts[1],
        "kept": counts[0],
        "duplicates": counts[1],
        "unparsed_lines": counts[2],
        "bytes_written": sum(p.stat().st_size for p in out.rglob("*.parquet")),
        "duckdb": duckdb.__version__,
        "extensions": loaded,
    }


def run(ctx: Context) -> dict:
    """Run :func:`ingest` in a child process; add the child's peak RSS and process wall time."""
    result_path = ctx.work_dir / "result.json"
    cmd = [
        sys.executable,
        __file__,
        str(ctx.landing),
        str(ctx.work_dir / "records"),
        str(ctx.cores),
        str(result_path),
    ]
    started = time.monotonic()
    child = subprocess.Popen(cmd)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"the DuckDB child exited with {child.returncode}")
    result = json.loads(result_path.read_text())
    result["process_seconds"] = round(time.monotonic() - started, 2)
    result["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux: KiB
    result["peak_rss_of"] = "the DuckDB child process alone"
    return result


if __name__ == "__main__":
    landing_arg, out_arg, threads_arg, result_arg = sys.argv[1:5]
    outcome = ingest(Path(landing_arg), Path(out_arg), int(threads_arg))
    Path(result_arg).write_text(json.dumps(outcome, indent=1))
