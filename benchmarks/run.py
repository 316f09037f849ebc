"""groupetl benchmark: generate data at given sizes, run every stage, write JSON + Markdown.

    ./dev bench                                   # 1M, 4M, 16M events (hours on 2 cores)
    ./dev bench --sizes 100k --out benchmarks/results/dev.json
    ./dev bench --render benchmarks/results/<name>.json   # only regenerate docs/performance.md
    ./dev bench --sizes 200k --stages ingest --cold-only  # quick: ingest + its baselines only

One size runs in its own Python process (so its JVM starts cold), which:

1. builds the session of the embedded default project (``conf/local.yaml``: ``local[*]``, its
   shuffle partitions and driver memory) and times that start-up separately;
2. **cold run**: every stage on a fresh warehouse over the generated landing files, first Spark
   work of this JVM (class loading, JIT and Delta's first log reads are paid here);
3. **warm run**: the identical stages again in the same session, on another fresh warehouse over
   the same landing files (JVM, jars and JIT already warm; OS page cache holds the landing files).

Stages, in order: ingest, attribute, cohorts (as of the last generated day), report (the
``reports:`` section), retention (the ``retention:`` section); ``--stages`` runs a prefix of
them (``--stages ingest``: ingest only). "Pipeline time" is the sum of the wall times of the
stages run; start-up is never part of it. Per stage the script records wall time, events
per second, the peak RSS of this Python process plus its driver JVM (sampled every 0.2 s), bytes
and data files on disk per Delta table, the Spark jobs it ran (from the driver's REST API), the
task-time balance of its heaviest Spark stage (most executor run time: slowest task / median
task), the load average before and after, and the top functions of a cProfile of the stage.

After groupetl's runs, the same process measures the ingest **baselines** (``benchmarks/
baselines/``: the Spark floor in this session, DuckDB in a child process) on the same landing
files, so every result carries its own yardstick: each baseline's time, raw records per
core-second, and groupetl's ingest time over it (``sizes[].baselines``,
``sizes[].ingest_vs_baselines``).

The generated data is kept under ``data/bench/<size>/`` and reused when its spec matches.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from baselines import REGISTRY as BASELINES

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "conf" / "local.yaml"
DEFAULT_DATA = ROOT / "data" / "bench"
DOC = ROOT / "docs" / "performance.md"


def _repo_relative(name: str) -> str:
    """A Spark job or stage name (its Python call site) with this checkout's path removed:
    results and docs name ``src/groupetl/...``, not a path on the machine that ran them."""
    return name.replace(f"{ROOT}/", "")


STAGES = ("ingest", "attribute", "cohorts", "report", "retention")
CORE_STAGES = ("ingest", "attribute", "report")
TARGETS = {"e2e_seconds_16m": 600, "cost_growth": 1.2, "driver_peak_gib_16m": 6.0}


# ---------------------------------------------------------------- sizes and small helpers


def parse_size(text: str) -> int:
    """'1M' -> 1_000_000, '200k' -> 200_000, '5000' -> 5000."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in "kmg" else text
    return int(float(number) * scale)


def size_label(events: int) -> str:
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if events >= scale and events % (scale // 10 if scale > 1000 else scale) == 0:
            value = events / scale
            return f"{value:g}{unit}"
    return str(events)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def git_commit() -> dict:
    def run(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout

    # Not stripped: porcelain's first column is often a space ("XY path").
    dirty = run("status", "--porcelain", "--untracked-files=no")
    files = [line[3:] for line in dirty.splitlines() if line.strip()]
    return {
        "commit": run("rev-parse", "HEAD").strip(),
        "dirty_tracked_files": len(files),
        "dirty": files,
    }


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = int(_status_field("/proc/meminfo", "MemTotal") or 0)
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    import pyspark

    try:
        from importlib.metadata import version

        delta = version("delta-spark")
    except Exception:  # pragma: no cover
        delta = "unknown"
    return {
        "hostname": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024**2, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "java": (java.stderr.splitlines() or ["?"])[0],
        "pyspark": pyspark.__version__,
        "delta_spark": delta,
    }


def _status_field(path: str, field: str) -> str | None:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return line.split()[1]
    except OSError:
        return None
    return None


# ---------------------------------------------------------------- memory sampling


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return out


class RssSampler(threading.Thread):
    """Samples VmRSS of this process + its children (the driver JVM) every ``interval`` s."""

    def __init__(self, interval: float = 0.2):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = 0
        self.stop_event = threading.Event()
        self.pids: list[int] = []

    def window(self) -> None:
        """Start a new measuring window (the peak is reset)."""
        self.peak = self.current()

    def current(self) -> int:
        if not self.pids or len(self.pids) == 1:
            self.pids = [os.getpid(), *_children(os.getpid())]
        total = 0
        for pid in self.pids:
            kib = _status_field(f"/proc/{pid}/status", "VmRSS")
            total += int(kib or 0) * 1024
        return total

    def jvm_hwm(self) -> int:
        """High-water mark of the JVM child(ren) over their whole life (VmHWM)."""
        return sum(
            int(_status_field(f"/proc/{pid}/status", "VmHWM") or 0) * 1024 for pid in self.pids[1:]
        )

    def run(self) -> None:
        while not self.stop_event.wait(self.interval):
            self.peak = max(self.peak, self.current())


# ---------------------------------------------------------------- disk


def warehouse_usage(warehouse: Path) -> dict[str, dict]:
    """Per Delta table (folder holding _delta_log): bytes, data files, average data file size."""
    result = {}
    for log_dir in sorted(warehouse.rglob("_delta_log")):
        table = log_dir.parent
        data_bytes = data_files = log_bytes = 0
        for dirpath, _dirs, files in os.walk(table):
            in_log = "_delta_log" in Path(dirpath).relative_to(table).parts
            for name in files:
                size = os.path.getsize(os.path.join(dirpath, name))
                if in_log:
                    log_bytes += size
                elif name.endswith(".parquet"):
                    data_bytes += size
                    data_files += 1
        result[str(table.relative_to(warehouse))] = {
            "bytes": data_bytes + log_bytes,
            "data_files": data_files,
            "avg_file_bytes": data_bytes // data_files if data_files else 0,
        }
    return result


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------- Spark jobs (REST API)


def _rest(spark, what: str):
    """JSON from the driver's REST API (``jobs``, ``stages``, ...); ``[]`` when the UI is off."""
    url = spark.sparkContext.uiWebUrl
    if not url:
        return []
    app = spark.sparkContext.applicationId
    try:
        with urllib.request.urlopen(f"{url}/api/v1/applications/{app}/{what}", timeout=30) as r:
            return json.load(r)
    except OSError:
        return []


def all_jobs(spark) -> list[dict]:
    """Every job the driver's REST API still holds (empty when the UI is off)."""
    return _rest(spark, "jobs")


def _stage_totals(stages: list[dict]) -> dict:
    """Spill and shuffle bytes summed over ``stages`` (every attempt the UI still holds)."""
    keys = {
        "spill_disk_bytes": "diskBytesSpilled",
        "spill_memory_bytes": "memoryBytesSpilled",
        "shuffle_write_bytes": "shuffleWriteBytes",
    }
    return {name: sum(int(st.get(key) or 0) for st in stages) for name, key in keys.items()}


def heaviest_stage(spark, stages: list[dict]) -> dict | None:
    """Task-time balance of the Spark stage with the most executor run time among ``stages``.

    In ingest that is the parse (the job that materializes the classified records). From the
    driver's ``/stages/<id>/<attempt>/taskList`` (successful tasks; ``taskSummary``'s quantiles
    if the list is unavailable): the slowest and the median task duration, and their ratio
    (1.0 = perfectly balanced; a stage of one task is 1.0).
    """
    done = [st for st in stages if st.get("status") == "COMPLETE"]
    if not done:
        return None
    st = max(done, key=lambda s: int(s.get("executorRunTime") or 0))
    sid, attempt = st["stageId"], st.get("attemptId", 0)
    n = int(st.get("numTasks") or 0) + int(st.get("numFailedTasks") or 0) + 10
    tasks = _rest(spark, f"stages/{sid}/{attempt}/taskList?offset=0&length={n}")
    durations = sorted(
        t["duration"]
        for t in (tasks if isinstance(tasks, list) else [])
        if t.get("status") == "SUCCESS" and t.get("duration") is not None
    )
    if durations:
        median, slowest = statistics.median(durations), durations[-1]
    else:
        summary = _rest(spark, f"stages/{sid}/{attempt}/taskSummary?quantiles=0.5,1.0")
        summary = summary if isinstance(summary, dict) else {}
        median, slowest = [*(summary.get("duration") or []), None, None][:2]
    run_ms = int(st.get("executorRunTime") or 0)
    total_run = sum(int(s.get("executorRunTime") or 0) for s in done)
    return {
        "stage_id": sid,
        "attempt": attempt,
        "name": _repo_relative(st.get("name") or "")[:100],
        "tasks": st.get("numCompleteTasks", st.get("numTasks")),
        "executor_run_seconds": round(run_ms / 1000, 1),
        # of the run time: on a CPU (the rest waits: I/O, locks, a busy machine) and in GC
        "executor_cpu_seconds": round(int(st.get("executorCpuTime") or 0) / 1e9, 1),
        "jvm_gc_seconds": round(int(st.get("jvmGcTime") or 0) / 1000, 1),
        "share_of_executor_run": round(run_ms / total_run, 3) if total_run else None,
        "task_median_seconds": round(median / 1000, 2) if median is not None else None,
        "task_max_seconds": round(slowest / 1000, 2) if slowest is not None else None,
        "max_over_median": round(slowest / median, 2) if median and slowest is not None else None,
    }


def spark_jobs(spark, after_job: int) -> dict:
    """Jobs run since ``after_job`` (one stage; threads of a stage do not inherit job groups,
    so jobs are attributed by id): count, tasks, summed job seconds, the longest five."""
    mine = [j for j in all_jobs(spark) if j["jobId"] > after_job]

    def seconds(job: dict) -> float:
        fmt = "%Y-%m-%dT%H:%M:%S.%f%Z"
        try:
            start = dt.datetime.strptime(job["submissionTime"].replace("GMT", "UTC"), fmt)
            end = dt.datetime.strptime(job["completionTime"].replace("GMT", "UTC"), fmt)
        except (KeyError, ValueError):
            return 0.0
        return (end - start).total_seconds()

    longest = sorted(mine, key=seconds, reverse=True)[:5]
    stage_ids = {sid for j in mine for sid in j.get("stageIds", [])}
    stages = [st for st in _rest(spark, "stages") if st.get("stageId") in stage_ids]
    return {
        "jobs": len(mine),
        "tasks": sum(j.get("numTasks", 0) for j in mine),
        "job_seconds": round(sum(seconds(j) for j in mine), 1),
        "longest": [
            {"name": _repo_relative(j.get("name", ""))[:80], "seconds": round(seconds(j), 1)}
            for j in longest
        ],
        "last_job": max((j["jobId"] for j in mine), default=after_job),
        **_stage_totals(stages),
        "heaviest_stage": heaviest_stage(spark, stages),
    }


def top_functions(profile: cProfile.Profile, n: int = 12) -> list[dict]:
    """The groupetl functions with the most cumulative wall time in a stage."""
    stats = pstats.Stats(profile)
    rows = []
    for (filename, line, func), (_cc, ncalls, _tt, cumtime, _callers) in stats.stats.items():
        if "/groupetl/" not in filename:
            continue
        short = filename.split("/groupetl/", 1)[1]
        rows.append({"function": f"{short}:{line}:{func}", "calls": ncalls, "seconds": cumtime})
    rows.sort(key=lambda r: r["seconds"], reverse=True)
    for r in rows:
        r["seconds"] = round(r["seconds"], 1)
    return rows[:n]


# ---------------------------------------------------------------- the worker (one size)


def bench_config(base_config: Path, root: Path, warehouse: Path, out: Path) -> Path:
    """A copy of the project config with its paths pointed at the benchmark's folders."""
    import yaml

    data = yaml.safe_load(base_config.read_text())
    data["paths"] = {"root": str(root), "landing": "landing", "warehouse": str(warehouse)}
    # Keep every job in the driver's REST API, so the per-stage job counts are complete.
    spark = data.setdefault("spark", {})
    options = spark.setdefault("options", {})
    options["spark.ui.retainedJobs"] = "100000"
    options["spark.ui.retainedStages"] = "100000"  # the per-stage spill and task balance
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def ensure_data(spec, root: Path) -> dict:
    from groupetl.generate import generate

    manifest_path = root / "manifest.json"
    if manifest_path.is_file():
        existing = json.loads(manifest_path.read_text())
        if existing.get("spec") == json.loads(json.dumps(spec.to_dict())):
            return {"reused": True, "seconds": None, "manifest": existing}
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    manifest = generate(spec, root, replace=True).to_dict()
    return {"reused": False, "seconds": round(time.monotonic() - started, 1), "manifest": manifest}


def run_stage(spark, config, name: str, as_of: dt.date):
    from groupetl.pipeline import run_stage as pipeline_stage

    if name in CORE_STAGES:
        return pipeline_stage(spark, config, name, progress=lambda m: None)
    if name == "cohorts":
        from groupetl.cohorts import compute_cohorts

        return compute_cohorts(spark, config, as_of)
    if name == "retention":
        from groupetl.retention.run import run_retention

        return run_retention(spark, config)
    raise ValueError(name)


def pipeline_run(spark, config, label: str, events: int, as_of, sampler, say, names=STAGES) -> dict:
    """The stages ``names`` once on ``config``'s (fresh) warehouse; per-stage measurements."""
    stages = {}
    for name in names:
        last_job = max((j["jobId"] for j in all_jobs(spark)), default=-1)
        load_before = loadavg()
        sampler.window()
        profile = cProfile.Profile()
        started = time.monotonic()
        profile.enable()
        try:
            counts, error = run_stage(spark, config, name, as_of).counts, None
        except Exception as exc:  # a failed stage is recorded; the later ones still run
            counts, error = {}, f"{type(exc).__name__}: {exc}"[:2000]
            say(f"  {label} {name} FAILED: {error[:300]}")
        profile.disable()
        seconds = time.monotonic() - started
        stages[name] = {
            "seconds": round(seconds, 2),
            "events_per_second": round(events / seconds) if seconds else None,
            "peak_rss_bytes": sampler.peak,
            "load_before": load_before,
            "load_after": loadavg(),
            "counts": {k: v for k, v in counts.items() if isinstance(v, int)},
            "error": error,
            "spark": spark_jobs(spark, last_job),
            "profile": top_functions(profile),
        }
        say(f"  {label} {name}: {seconds:.1f}s (load {loadavg()[0]})")
    seconds = sum(s["seconds"] for s in stages.values())
    return {
        "stages": stages,
        "pipeline_seconds": round(seconds, 2),
        # None when a core stage was not run (--stages)
        "core_seconds": round(sum(stages[n]["seconds"] for n in CORE_STAGES), 2)
        if all(n in stages for n in CORE_STAGES)
        else None,
        "seconds_per_million_events": round(seconds / events * 1e6, 2),
        "peak_rss_bytes": max(s["peak_rss_bytes"] for s in stages.values()),
        "disk": warehouse_usage(config.paths.warehouse),
    }


def worker(args) -> None:
    """Benchmark one size in this process (fresh JVM); write the partial JSON to args.part."""
    from groupetl.config import load_config
    from groupetl.generate import GeneratorSpec

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    events = args.events
    label = size_label(events)
    root = args.data_dir / label
    spec = GeneratorSpec(
        seed=args.seed,
        events=events,
        companies=args.companies,
        users_per_company=args.users_per_company,
        days=args.days,
        group_types=("company", "workspace"),
    )
    load = loadavg()
    say(f"[{label}] generating (or reusing) data in {root}")
    gen = ensure_data(spec, root)
    gen.update(load_before=load, load_after=loadavg(), landing_bytes=dir_bytes(root / "landing"))
    manifest = gen.pop("manifest")
    as_of = spec.start_date + dt.timedelta(days=spec.days - 1)

    sampler = RssSampler()
    sampler.start()
    runs_dir = root / "runs"
    shutil.rmtree(runs_dir, ignore_errors=True)
    configs = {
        run: load_config(
            bench_config(args.config, root, runs_dir / run / "warehouse", root / f"{run}.yaml")
        )
        for run in ("cold", "warm")
    }
    from groupetl.pipeline import validate_sections
    from groupetl.session import session_for

    validate_sections(configs["cold"])
    load = loadavg()
    sampler.window()
    started = time.monotonic()
    spark = session_for(configs["cold"], app_name="groupetl-bench")
    startup = {
        "seconds": round(time.monotonic() - started, 2),
        "peak_rss_bytes": sampler.peak,
        "load_before": load,
        "load_after": loadavg(),
    }
    say(f"[{label}] session started in {startup['seconds']}s")
    conf = spark.sparkContext.getConf()
    spark_conf = {
        k: conf.get(k, None)
        for k in (
            "spark.master",
            "spark.driver.memory",
            "spark.sql.shuffle.partitions",
            "spark.sql.adaptive.enabled",
            "spark.sql.adaptive.coalescePartitions.enabled",
            "spark.sql.files.maxPartitionBytes",
            "spark.default.parallelism",
        )
    }
    runs = {}
    result = {
        "events": events,
        "label": label,
        "spec": spec.to_dict(),
        "records_total": manifest["records_total"],
        "accepted": manifest["accepted"],
        "generate": gen,
        "startup": startup,
        "spark_conf": spark_conf,
        "stages_run": list(args.stages),
        "runs": runs,
    }
    for run in ("cold", "warm") if not args.cold_only else ("cold",):
        say(f"[{label}] {run} run")
        runs[run] = pipeline_run(spark, configs[run], run, events, as_of, sampler, say, args.stages)
        # Written after every run: a large size takes hours, and a cold run that finished
        # must survive a warm run that is killed or runs out of memory.
        result["jvm_vmhwm_bytes"] = sampler.jvm_hwm()
        args.part.write_text(json.dumps(result, indent=1))
    if args.baselines:
        from baselines import Context, run_baselines

        say(f"[{label}] baselines: {', '.join(args.baselines)}")
        ctx = Context(
            landing=root / "landing",
            work_dir=runs_dir / "baselines",
            cores=os.cpu_count() or 1,
            raw_records=manifest["records_total"],
            spark=spark,
            sampler=sampler,
            say=say,
        )
        result["baselines"] = run_baselines(args.baselines, ctx)
        result["ingest_vs_baselines"] = ingest_vs_baselines(result, ctx.cores)
        result["jvm_vmhwm_bytes"] = sampler.jvm_hwm()
        args.part.write_text(json.dumps(result, indent=1))
    sampler.stop_event.set()
    spark.stop()
    if not args.keep_warehouses:
        shutil.rmtree(runs_dir, ignore_errors=True)


# ---------------------------------------------------------------- the driver (all sizes)


def growth(sizes: list[dict], run: str) -> dict | None:
    """Per-event cost of the largest size over that of the smallest (pipeline time only)."""
    done = [s for s in sizes if run in s["runs"]]
    if len(done) < 2:
        return None
    small, large = done[0], done[-1]
    s_stages, l_stages = small["runs"][run]["stages"], large["runs"][run]["stages"]
    common = [n for n in STAGES if n in s_stages and n in l_stages]
    if not common:
        return None
    s_seconds = sum(s_stages[n]["seconds"] for n in common)
    l_seconds = sum(l_stages[n]["seconds"] for n in common)
    cost_small = s_seconds / small["events"]
    cost_large = l_seconds / large["events"]
    rec_small = s_seconds / small["records_total"]
    rec_large = l_seconds / large["records_total"]
    return {
        "stages": common,
        "per_record_ratio": round(rec_large / rec_small, 3),
        "from": small["label"],
        "to": large["label"],
        "ratio": round(cost_large / cost_small, 3),
        "per_stage": {
            name: round(
                (l_stages[name]["seconds"] / large["events"])
                / (s_stages[name]["seconds"] / small["events"]),
                3,
            )
            for name in common
        },
    }


def ingest_vs_baselines(size: dict, cores: int) -> dict:
    """groupetl's ingest beside each baseline of this size: raw records per core-second of each
    and groupetl ingest seconds / baseline seconds, per run (cold, warm)."""
    records = size["records_total"]
    groupetl, ratio = {}, {}
    for run, r in size["runs"].items():
        ingest = r["stages"].get("ingest")
        if not ingest or ingest.get("error"):
            continue
        seconds = ingest["seconds"]
        groupetl[run] = {
            "seconds": seconds,
            "records_per_core_second": round(records / seconds / cores) if seconds else None,
            "peak_rss_bytes": ingest["peak_rss_bytes"],
            "parse_stage": (ingest.get("spark") or {}).get("heaviest_stage"),
        }
        ratio[run] = {
            name: round(seconds / b["seconds"], 2) if b.get("seconds") else None
            for name, b in (size.get("baselines") or {}).items()
            if "ingest" in b.get("compares_to", ["ingest"])
        }
    return {"cores": cores, "raw_records": records, "groupetl": groupetl, "ratio": ratio}


def merge_results(reports: list[dict]) -> dict:
    """One report from several invocations (each size keeps its own commit and timestamps)."""
    merged = dict(reports[0])
    sizes = {}
    for r in reports:
        for size in r["sizes"]:
            size.setdefault("git", r["git"])
            size.setdefault("started_at", r["started_at"])
            sizes[size["events"]] = size
    merged["sizes"] = [sizes[k] for k in sorted(sizes)]
    requested = {parse_size(s) for r in reports for s in r["sizes_requested"]}
    merged["sizes_requested"] = [size_label(e) for e in sorted(requested)]
    merged["merged_from"] = [
        {
            "started_at": r["started_at"],
            "git": r["git"],
            "sizes": [s["label"] for s in r["sizes"]],
            "note": r.get("note"),
        }
        for r in reports
    ]
    merged["failed"] = [f for r in reports for f in r.get("failed", [])]
    merged["growth"] = {run: growth(merged["sizes"], run) for run in ("cold", "warm")}
    return merged


def parse_stages(parser, text: str) -> tuple[str, ...]:
    """``--stages``: names in pipeline order, each needing the ones before it (a prefix)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in STAGES]
    if unknown or not names:
        parser.error(
            f"--stages: unknown {', '.join(unknown) or '(none)'}; known: {','.join(STAGES)}"
        )
    chosen = tuple(n for n in STAGES if n in names)
    if chosen != STAGES[: len(chosen)]:
        parser.error(
            f"--stages: each stage needs the ones before it; run a prefix of {','.join(STAGES)} "
            f"(e.g. {','.join(STAGES[: STAGES.index(chosen[-1]) + 1])})"
        )
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1M,4M,16M", help="events per size, e.g. 100k,1M")
    parser.add_argument(
        "--out", type=Path, help="JSON result (default benchmarks/results/<utc>.json)"
    )
    parser.add_argument("--render", type=Path, help="only render docs/performance.md from a JSON")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        help="combine result JSONs (sizes measured by separate invocations) into --out",
    )
    parser.add_argument("--doc", type=Path, default=DOC, help="Markdown output")
    parser.add_argument("--no-doc", action="store_true", help="do not write the Markdown")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--companies", type=int, default=20_000)
    parser.add_argument("--users-per-company", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cold-only", action="store_true", help="skip the warm run")
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help="stages to run, a prefix of the pipeline order "
        f"({','.join(STAGES)}); e.g. 'ingest' for the quick ingest loop (default: all)",
    )
    parser.add_argument(
        "--baselines",
        default=",".join(BASELINES),
        help=f"ingest yardsticks measured after groupetl's runs ({','.join(BASELINES)}; "
        "'none' for none; default: all)",
    )
    parser.add_argument("--keep-warehouses", action="store_true")
    parser.add_argument("--note", default="", help="free text stored in the JSON (e.g. contention)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--part", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.stages = parse_stages(parser, args.stages)
    args.baselines = [] if args.baselines.strip() in ("", "none") else args.baselines.split(",")
    unknown = [b for b in args.baselines if b not in BASELINES]
    if unknown:
        parser.error(f"--baselines: unknown {', '.join(unknown)} (known: {', '.join(BASELINES)})")
    os.environ.setdefault("GROUPETL_IVY_DIR", str(ROOT / ".cache" / "ivy"))

    if args.worker:
        worker(args)
        return 0
    if args.merge:
        merged = merge_results([json.loads(p.read_text()) for p in args.merge])
        if not args.out:
            parser.error("--merge needs --out")
        args.out.write_text(json.dumps(merged, indent=1) + "\n")
        if not args.no_doc:
            render(merged, args.doc, args.out)
        return 0
    if args.render:
        render(json.loads(args.render.read_text()), args.doc, args.render)
        return 0

    sizes = sorted(parse_size(s) for s in args.sizes.split(","))
    started = dt.datetime.now(dt.timezone.utc)
    out = args.out or ROOT / "benchmarks" / "results" / f"{started:%Y%m%dT%H%MZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "schema": 1,
        "started_at": started.isoformat(timespec="seconds"),
        "git": git_commit(),
        "machine": machine(),
        "config": str(
            args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config
        ),
        "note": args.note,
        "sizes_requested": [size_label(s) for s in sizes],
        "stages_requested": list(args.stages),
        "baselines_requested": list(args.baselines),
        "sizes": [],
    }
    for events in sizes:
        part = out.with_suffix(f".{size_label(events)}.part.json")
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--events",
            str(events),
            "--part",
            str(part),
            "--config",
            str(args.config),
            "--data-dir",
            str(args.data_dir),
            "--companies",
            str(args.companies),
            "--users-per-company",
            str(args.users_per_company),
            "--days",
            str(args.days),
            "--seed",
            str(args.seed),
        ]
        cmd += [
            "--stages",
            ",".join(args.stages),
            "--baselines",
            ",".join(args.baselines) or "none",
        ]
        cmd += ["--cold-only"] if args.cold_only else []
        cmd += ["--keep-warehouses"] if args.keep_warehouses else []
        part.unlink(missing_ok=True)  # a stale part from a killed invocation is not this run's
        code = subprocess.run(cmd, check=False).returncode
        measured = part.is_file()
        if measured:  # after a failure it holds the runs that finished
            report["sizes"].append(json.loads(part.read_text()))
            part.unlink()
        failed = code != 0 or not measured
        if failed:
            report.setdefault("failed", []).append({"size": size_label(events), "exit_code": code})
            print(f"bench: size {size_label(events)} failed (exit {code})", file=sys.stderr)
        report["growth"] = {run: growth(report["sizes"], run) for run in ("cold", "warm")}
        report["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        out.write_text(json.dumps(report, indent=1) + "\n")  # after every size: partial results
        if failed:
            break
    print(f"bench: wrote {out}", file=sys.stderr)
    if not args.no_doc:
        render(report, args.doc, out)
    return 0 if not report.get("failed") else 1


# ---------------------------------------------------------------- Markdown


def render(report: dict, doc: Path, source: Path) -> None:
    """Write docs/performance.md from a benchmark JSON (nothing in it is typed by hand)."""
    from report_md import render_markdown

    doc.write_text(render_markdown(report, source))
    print(f"bench: wrote {doc}", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
