"""Profile ingest's parse/validate step (classify) with Java Flight Recorder: where the CPU goes.

    .venv/bin/python benchmarks/profile_ingest.py --size 200k            # bench data of that size
    .venv/bin/python benchmarks/profile_ingest.py --size 200k --steps lines,explode,all --reps 2

Uses the landing files ``benchmarks/run.py`` generated under ``data/bench/<size>/`` (run the
benchmark at that size first). It writes them to a bronze table of its own
(``data/bench/<size>/profile/warehouse``, reused on later calls), then times each step of
classify over the whole batch with a ``noop`` write (every column computed, nothing stored):

- ``lines``: reading the bronze lines;
- ``explode``: ``records.explode_records`` (unwrap bodies, one row per record);
- ``parse``: ``classify.parse_records`` (every format's parser);
- ``groups``, ``ops``, ``fields``: ``parse`` followed by ``with_groups``, then
  ``with_operations``, then ``with_event_fields`` (each step includes the ones before it, so
  the difference of two neighbours is one rule's cost);
- ``all``: ``classify.classify`` (plus validation and the quarantined records' text).

The first repetition warms the JVM up; on the second one (``--reps`` >= 2) a JFR recording
runs in the driver JVM (local mode: the executors are its threads) and the script prints the
hottest frames, self (the frame on top of the stack) and inclusive (anywhere on the stack), as
counts of execution samples. Figures quoted in docs/performance.md come from this script.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("lines", "explode", "parse", "groups", "ops", "fields", "all")


def _frame(f: dict) -> str:
    m = f["method"]
    return m["type"]["name"].split("/")[-1] + "." + m["name"]


def hottest(recording: Path, n: int) -> tuple[int, list, list]:
    """(samples, top self frames, top inclusive frames) of a JFR recording's CPU samples."""
    out = subprocess.run(
        ["jfr", "print", "--json", "--events", "jdk.ExecutionSample", str(recording)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    events = json.loads(out)["recording"]["events"]
    top: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for event in events:
        frames = event["values"]["stackTrace"]["frames"]
        if not frames:
            continue
        top[_frame(frames[0])] += 1
        inclusive.update({_frame(f) for f in frames})
    return len(events), top.most_common(n), inclusive.most_common(n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="200k", help="bench data folder under data/bench/")
    parser.add_argument("--steps", default="lines,explode,all", help=f"of {','.join(STEPS)}")
    parser.add_argument("--reps", type=int, default=2, help="repetitions; JFR on the second")
    parser.add_argument("--top", type=int, default=25, help="frames to print")
    parser.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark SQL conf to set"
    )
    args = parser.parse_args(argv)
    steps = [s for s in args.steps.split(",") if s]
    if unknown := set(steps) - set(STEPS):
        parser.error(f"unknown steps {sorted(unknown)}; use {', '.join(STEPS)}")
    os.environ.setdefault("GROUPETL_IVY_DIR", str(ROOT / ".cache" / "ivy"))

    import yaml

    from groupetl import tables
    from groupetl.config import load_config
    from groupetl.ingest.bronze import read_batch_lines, write_bronze
    from groupetl.ingest.classify import classify, parse_records, record_type
    from groupetl.ingest.groups import with_groups
    from groupetl.ingest.landing import list_landing, split_new
    from groupetl.ingest.pipeline import ingest_confs
    from groupetl.ingest.properties import with_operations
    from groupetl.ingest.records import explode_records
    from groupetl.ingest.validate import with_event_fields
    from groupetl.schemas import T
    from groupetl.session import session_for

    data = ROOT / "data" / "bench" / args.size
    if not (data / "cold.yaml").is_file():
        parser.error(f"{data}/cold.yaml not found: run `./dev bench --sizes {args.size}` first")
    spec = yaml.safe_load((data / "cold.yaml").read_text())
    spec["paths"]["warehouse"] = str(data / "profile" / "warehouse")
    conf = data / "profile" / "profile.yaml"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(yaml.safe_dump(spec))
    config = load_config(conf)
    spark = session_for(config, app_name="groupetl-profile")
    spark.conf.set("spark.sql.variant.allowDuplicateKeys", "true")  # as ingest.run does
    for key, value in ingest_confs(spark).items():  # likewise
        spark.conf.set(key, value)
    for kv in args.conf:
        key, _, value = kv.partition("=")
        spark.conf.set(key, value)
    batch = "profile"
    if not tables.exists(spark, config.paths.table(T.BRONZE_RECORDS)):
        started = time.monotonic()
        new, _ = split_new(list_landing(config.paths.landing), {})
        n = write_bronze(spark, config, new, batch, dt.datetime.now(dt.timezone.utc))
        print(f"bronze: {n:,} lines of {len(new):,} files in {time.monotonic() - started:.1f}s")
    lines = read_batch_lines(spark, config, batch)
    frames = {
        "lines": lambda: lines,
        "explode": lambda: explode_records(lines, record_type(config)),
        "parse": lambda: parse_records(lines, config),
        "groups": lambda: parse_records(lines, config).transform(
            with_groups, config.group_type_names
        ),
        "ops": lambda: frames["groups"]().transform(with_operations),
        "fields": lambda: frames["ops"]().transform(with_event_fields),
        "all": lambda: classify(lines, config),
    }
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    recording = Path(tempfile.mkdtemp(prefix="groupetl-jfr-")) / "classify.jfr"
    for rep in range(args.reps):
        profiled = rep == 1
        if profiled:
            start = ["jcmd", str(pid), "JFR.start", "name=groupetl", "settings=profile"]
            subprocess.run([*start, f"filename={recording}"], check=True, capture_output=True)
        for step in steps:
            started = time.monotonic()
            frames[step]().write.format("noop").mode("overwrite").save()
            took = time.monotonic() - started
            print(f"rep {rep + 1} {step}: {took:.1f}s" + (" (JFR on)" if profiled else ""))
            sys.stdout.flush()
        if profiled:
            subprocess.run(["jcmd", str(pid), "JFR.stop", "name=groupetl"], check=True)
    spark.stop()
    if args.reps < 2:
        return 0
    samples, top, inclusive = hottest(recording, args.top)
    print(f"\n{samples:,} CPU samples ({recording})\nself:")
    for name, count in top:
        print(f"{count:7,} {100 * count / samples:5.1f}%  {name}")
    print("inclusive:")
    for name, count in inclusive:
        print(f"{count:7,} {100 * count / samples:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
