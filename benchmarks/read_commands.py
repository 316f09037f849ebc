"""Wall time of the read-only commands on the demo warehouse, each as a fresh process, no JVM.

    .venv/bin/python benchmarks/read_commands.py [--config conf/local.yaml] [--runs 5]
        [--limit-seconds 2] [--out benchmarks/results/read_commands.json]

Needs a warehouse written by the pipeline (``./dev demo``, or the README's "Running it
yourself"). Each command runs ``--runs`` times as ``python -m groupetl.cli ...`` from process
start to exit, with ``JAVA_HOME`` and ``PATH`` leading to a fake ``java`` that only leaves a
marker file: if any run tried to start a JVM, the marker exists and the script fails. It also
fails when a command's median wall time is over ``--limit-seconds``. Prints one line per
command (median, min, max) and writes them as JSON with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What a person asks first; the group and report exist in the demo data of every seed.
COMMANDS = {
    "show": ["show", "attributed_events", "--limit", "20"],
    "show --history": ["show", "attributed_events", "--history"],
    "show --as-of-version": ["show", "events", "--as-of-version", "0", "--limit", "20"],
    "show (list)": ["show"],
    "lookup": ["lookup", "--group-type", "company", "plan = pro"],
    "account": ["account", "company", "1001"],
    "microscope": ["microscope", "invoice_to_payment", "--dropoff", "2"],
    "sql": ["sql", "SELECT property, count(*) FROM group_properties_now GROUP BY 1"],
}


def fake_java(folder: Path) -> tuple[dict[str, str], Path]:
    """(environment, marker): a ``java`` first on PATH and under JAVA_HOME that touches marker."""
    marker = folder / "java-was-started"
    (folder / "bin").mkdir(parents=True, exist_ok=True)
    java = folder / "bin" / "java"
    java.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    java.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_HOME", "PYSPARK_SUBMIT_ARGS")}
    env["JAVA_HOME"] = str(folder)
    env["PATH"] = f"{folder / 'bin'}:{Path(sys.executable).parent}:/usr/bin:/bin"
    return env, marker


def time_command(args: list[str], config: str, env: dict[str, str]) -> tuple[float, int, str]:
    """(wall seconds, exit code, stderr) of one run, process start to exit."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "groupetl.cli", "--config", config, *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    return time.perf_counter() - started, done.returncode, done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="conf/local.yaml")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--limit-seconds", type=float, default=2.0)
    parser.add_argument("--out", type=Path)
    opts = parser.parse_args()
    failures: list[str] = []
    results = []
    load = [round(x, 2) for x in os.getloadavg()]  # the machine may be shared: say how busy
    with tempfile.TemporaryDirectory() as tmp:
        env, marker = fake_java(Path(tmp))
        for label, args in COMMANDS.items():
            times = []
            for _ in range(opts.runs):
                seconds, code, stderr = time_command(args, opts.config, env)
                if code != 0:
                    failures.append(f"{label}: exit {code}: {stderr.strip()[:300]}")
                    break
                times.append(seconds)
            if marker.exists():
                failures.append(f"{label}: a JVM was started")
                marker.unlink()
            if not times:
                continue
            median = statistics.median(times)
            results.append(
                {"command": label, "args": args, "runs": len(times), "median_s": round(median, 3),
                 "min_s": round(min(times), 3), "max_s": round(max(times), 3)}
            )  # fmt: skip
            over = median > opts.limit_seconds
            if over:
                failures.append(f"{label}: median {median:.2f}s > {opts.limit_seconds}s")
            print(
                f"{label:<22} median {median:5.2f}s  min {min(times):5.2f}s  "
                f"max {max(times):5.2f}s  no JVM{'  OVER LIMIT' if over else ''}"
            )
    if opts.out:
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        info = {"machine": platform.platform(), "cpus": os.cpu_count(), "config": opts.config,
                "load_average_at_start": load, "limit_seconds": opts.limit_seconds,
                "commands": results}  # fmt: skip
        opts.out.write_text(json.dumps(info, indent=2) + "\n")
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
