"""Time ingest's classify on one batch, warm, so two versions of the code can be compared A B A B.

    .venv/bin/python benchmarks/classify_ab.py --size 200k --reps 3
    PYTHONPATH=<other checkout>/src .venv/bin/python benchmarks/classify_ab.py --size 200k

Uses the bronze batch ``profile`` that ``benchmarks/profile_ingest.py`` wrote under
``data/bench/<size>/profile/`` (run it once at that size first). The batch's lines are cached
and spread over 8 partitions by file and line, as ingest spreads them; then, per repetition,
the classified batch is cached and counted (``materialize``), read whole once (``consume``, a
``noop`` write) and read narrow once (``consume2``: the columns dedup reads). The first
repetition pays for the JVM's warm-up. Which code ran is printed first (``groupetl.__file__``),
so an A/B over two checkouts says which is which. The branch ``lanes`` of session 10 split
classify into ``stage_records`` / ``general_records`` / ``classified``; that shape is timed too.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="200k", help="bench data size (data/bench/<size>)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (first one warms up)")
    args = parser.parse_args()
    os.environ.setdefault("GROUPETL_IVY_DIR", str(ROOT / ".cache" / "ivy"))

    import groupetl
    import groupetl.ingest.classify as classify
    from groupetl.config import load_config
    from groupetl.ingest.bronze import read_batch_lines
    from groupetl.ingest.pipeline import ingest_confs
    from groupetl.session import session_for

    print("code", groupetl.__file__)
    config = load_config(ROOT / "data" / "bench" / args.size / "profile" / "profile.yaml")
    spark = session_for(config, app_name="classify-ab")
    for key, value in ingest_confs(spark).items():
        spark.conf.set(key, value)
    lines = read_batch_lines(spark, config, "profile").repartition(8, "source_file", "line_number")
    lines = lines.cache()
    print("lines", lines.count())

    def timed(name: str, action, df) -> None:
        started = time.monotonic()
        action(df)
        print(f"{name}: {time.monotonic() - started:.1f}s", flush=True)

    def count(df) -> None:
        df.count()

    def noop(df) -> None:  # every column computed, nothing stored
        df.write.format("noop").mode("overwrite").save()

    for rep in range(args.reps):
        if hasattr(classify, "classify"):
            result = classify.classify(lines, config).persist()
            caches = [result]
        else:  # the two-lane shape of branch `lanes`
            common = classify.stage_records(lines, config).persist()
            general = classify.general_records(common, config).persist()
            result = classify.classified(common, general)
            caches = [common, general]
        timed(f"rep{rep} materialize", count, result)
        timed(f"rep{rep} consume", noop, result)
        narrow = result.filter("reason is null").select("record_id", "user_key", "insert_id")
        timed(f"rep{rep} consume2", noop, narrow)
        for df in caches:
            df.unpersist()


if __name__ == "__main__":
    main()
