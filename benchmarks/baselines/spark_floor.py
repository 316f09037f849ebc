"""The floor of Spark on this machine: read the landing's JSON with declared schemas, explode, write.

What it does, and nothing more: ``spark.read.json`` of each format's folder with a DECLARED
schema of the raw bodies (HTTP V2 ``{api_key, events: [...]}``, Export lines, Segment
``{batch: [...], sentAt}``), ``posexplode_outer`` of the record lists (a record's index kept; a
line that is not JSON, or holds no list, is one row of nulls, as groupetl counts it as one
record), nested objects kept as their JSON text, the file from ``_metadata.file_path``, and one
Parquet write of the three formats' union. No validation, no time parsing, no dedup, no Delta.

It runs in the benchmark's own SparkSession (groupetl's config: ``local[*]``, its shuffle
partitions, driver memory and AQE settings) after groupetl's runs, so its JVM is warm. Spark's
JSON reader gives no line number; the record index within the line is kept.
"""

from __future__ import annotations

import time

from baselines import Context, landing_files

WHAT = (
    "Spark floor: spark.read.json with declared schemas -> posexplode_outer -> one Parquet write "
    "(same session and config as groupetl; no validation, time parsing, dedup or Delta)"
)
COMPARES_TO = ("ingest",)

_AMPLITUDE_FIELDS = (
    "user_id STRING, device_id STRING, event_type STRING, time STRING, insert_id STRING, "
    "event_properties STRING, user_properties STRING, groups STRING, group_properties STRING"
)
SCHEMAS = {
    "amplitude_http": (
        f"api_key STRING, events ARRAY<STRUCT<{_AMPLITUDE_FIELDS.replace(' STRING', ': STRING')}>>,"
        " options STRUCT<min_id_length: INT>"
    ),
    "amplitude_export": (
        "event_type STRING, event_time STRING, server_upload_time STRING, `$insert_id` STRING, "
        "user_id STRING, device_id STRING, event_properties STRING, user_properties STRING, "
        "groups STRING, group_properties STRING, uuid STRING"
    ),
    "segment": (
        "batch ARRAY<STRUCT<type: STRING, messageId: STRING, userId: STRING, anonymousId: STRING, "
        "event: STRING, name: STRING, groupId: STRING, properties: STRING, traits: STRING, "
        "timestamp: STRING, receivedAt: STRING, "
        "integrations: STRUCT<Amplitude: STRUCT<groups: STRING>>>>, sentAt STRING"
    ),
}
OUT_COLUMNS = (
    "source_format",
    "source_file",
    "record_index",
    "event_type",
    "user_id",
    "device_id",
    "insert_id",
    "time",
    "seq",
    "properties",
    "groups",
    "group_properties",
    "traits",
)


def _records(spark, fmt: str, folder: str):
    from pyspark.sql import functions as F

    raw = spark.read.schema(SCHEMAS[fmt]).json(folder)
    file = F.col("_metadata.file_path")
    if fmt == "amplitude_export":
        r = F.col("r")
        rows = raw.select(
            F.struct(*[F.col(f"`{c}`") for c in raw.columns]).alias("r"),
            file.alias("source_file"),
            F.lit(0).alias("record_index"),
        )
        fields = {
            "event_type": r["event_type"],
            "user_id": r["user_id"],
            "device_id": r["device_id"],
            "insert_id": r["$insert_id"],
            "time": r["event_time"],
            "seq": r["server_upload_time"],
            "properties": r["event_properties"],
            "groups": r["groups"],
            "group_properties": r["group_properties"],
            "traits": r["user_properties"],
        }
    else:
        items = "events" if fmt == "amplitude_http" else "batch"
        rows = raw.select(
            file.alias("source_file"),
            F.col("sentAt") if fmt == "segment" else F.lit(None).cast("string").alias("sentAt"),
            F.posexplode_outer(items).alias("record_index", "r"),
        )
        r = F.col("r")
        if fmt == "amplitude_http":
            fields = {
                "event_type": r["event_type"],
                "user_id": r["user_id"],
                "device_id": r["device_id"],
                "insert_id": r["insert_id"],
                "time": r["time"],
                "seq": F.lit(None).cast("string"),
                "properties": r["event_properties"],
                "groups": r["groups"],
                "group_properties": r["group_properties"],
                "traits": r["user_properties"],
            }
        else:
            fields = {
                "event_type": F.coalesce(r["event"], r["name"]),
                "user_id": r["userId"],
                "device_id": r["anonymousId"],
                "insert_id": r["messageId"],
                "time": r["timestamp"],
                "seq": F.coalesce(r["receivedAt"], F.col("sentAt")),
                "properties": r["properties"],
                "groups": r["integrations"]["Amplitude"]["groups"],
                "group_properties": F.lit(None).cast("string"),
                "traits": r["traits"],
            }
    return rows.select(
        F.lit(fmt).alias("source_format"),
        "source_file",
        F.col("record_index").cast("int").alias("record_index"),
        *[col.alias(name) for name, col in fields.items()],
    )


def run(ctx: Context) -> dict:
    spark = ctx.spark
    if spark is None:
        raise ValueError("spark_floor needs the benchmark's SparkSession")
    files = landing_files(ctx.landing)
    out = ctx.work_dir / "records.parquet"
    if ctx.sampler is not None:
        ctx.sampler.window()
    started = time.monotonic()
    frames = [_records(spark, fmt, str(ctx.landing / fmt)) for fmt in files]
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    union.write.mode("overwrite").parquet(str(out))
    seconds = time.monotonic() - started
    peak = ctx.sampler.peak if ctx.sampler is not None else None
    rows = spark.read.parquet(str(out)).count()  # not timed: Parquet footers only
    return {
        "seconds": round(seconds, 2),
        "rows_written": rows,
        "files_read": sum(len(v) for v in files.values()),
        "bytes_written": sum(p.stat().st_size for p in out.rglob("*.parquet")),
        "peak_rss_bytes": peak,
        "peak_rss_of": "python + driver JVM (the benchmark's session)",
    }
