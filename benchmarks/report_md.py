"""Render docs/performance.md from a benchmark JSON written by ``benchmarks/run.py``.

Every figure in the tables comes from the JSON; the interpretation (what dominates, what was
changed, what is doubtful) is kept in ``benchmarks/notes.md`` and included verbatim, so the
words can be revised without re-running hours of benchmark.
"""

from __future__ import annotations

import re
from pathlib import Path

STAGES = ("ingest", "attribute", "cohorts", "report", "retention")
CORE = ("ingest", "attribute", "report")
NOTES = Path(__file__).resolve().parent / "notes.md"
TARGET_SECONDS, TARGET_GROWTH, TARGET_GIB = 600, 1.2, 6.0


def _gib(n: int | float) -> str:
    return f"{n / 1024**3:.2f}"


def _mib(n: int | float) -> str:
    return f"{n / 1024**2:,.1f}"


def _load(pair: list[float]) -> str:
    return f"{pair[0]:.1f}"


def _commit(git: dict) -> str:
    dirty = git.get("dirty_tracked_files")
    return f"`{git['commit'][:7]}`" + (f" (+{dirty} modified files)" if dirty else "")


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _stages_of(run: dict) -> list[str]:
    """The stages a run measured, in pipeline order (``--stages`` runs a prefix)."""
    return [n for n in STAGES if n in run["stages"]]


def _s(value, fmt: str = "{:.1f}", missing: str = "-") -> str:
    return missing if value is None else fmt.format(value)


def _stage_table(size: dict, run: str) -> list[str]:
    r = size["runs"][run]
    out = [
        _row(
            [
                "stage",
                "wall s",
                "events/s",
                "peak RSS GiB (py+JVM)",
                "Spark jobs",
                "tasks",
                "spilled to disk MiB",
                "load 1-min before -> after",
            ]
        ),
        _row(["---"] + ["---:"] * 6 + ["---"]),
    ]
    for name in _stages_of(r):
        s = r["stages"][name]
        spark = s.get("spark") or {}
        out.append(
            _row(
                [
                    name + (" **FAILED**" if s.get("error") else ""),
                    f"{s['seconds']:.1f}",
                    f"{s['events_per_second']:,}",
                    _gib(s["peak_rss_bytes"]),
                    spark.get("jobs", "?"),
                    f"{spark.get('tasks', 0):,}" if spark else "?",
                    # older results did not record spill
                    _mib(spark["spill_disk_bytes"]) if "spill_disk_bytes" in spark else "?",
                    f"{_load(s['load_before'])} -> {_load(s['load_after'])}",
                ]
            )
        )
    out.append(
        _row(
            [
                "**pipeline**",
                f"**{r['pipeline_seconds']:.1f}**",
                f"{round(size['events'] / r['pipeline_seconds']):,}",
                _gib(r["peak_rss_bytes"]),
                "",
                "",
                "",
                "",
            ]
        )
    )
    return out


def _summary(report: dict) -> list[str]:
    out = [
        _row(
            [
                "events",
                "commit",
                "raw records",
                "landing MiB",
                "generate s",
                "start-up s",
                "cold pipeline s",
                "warm pipeline s",
                "warm core s (ingest+attribute+report)",
                "warm s per 1M events",
                "peak RSS GiB",
                "JVM VmHWM GiB",
            ]
        ),
        _row(["---:", "---", *["---:"] * 10]),
    ]
    for size in report["sizes"]:
        runs = size["runs"]
        warm = runs.get("warm")
        gen = size["generate"]
        out.append(
            _row(
                [
                    size["label"],
                    _commit(size.get("git", report["git"])),
                    f"{size['records_total']:,}",
                    _mib(gen["landing_bytes"]),
                    "reused" if gen["reused"] else f"{gen['seconds']:.0f}",
                    f"{size['startup']['seconds']:.1f}",
                    f"{runs['cold']['pipeline_seconds']:.1f}",
                    f"{warm['pipeline_seconds']:.1f}" if warm else "not run",
                    _s(warm.get("core_seconds"), missing="stages not run") if warm else "not run",
                    f"{warm['seconds_per_million_events']:.1f}" if warm else "not run",
                    _gib(max(r["peak_rss_bytes"] for r in runs.values())),
                    _gib(size.get("jvm_vmhwm_bytes", 0)),
                ]
            )
        )
    return out


def _disk_table(size: dict, run: str) -> list[str]:
    disk = size["runs"][run]["disk"]
    out = [
        _row(["table", "MiB", "data files", "avg file MiB"]),
        _row(["---", "---:", "---:", "---:"]),
    ]
    total = 0
    for name, d in sorted(disk.items(), key=lambda kv: -kv[1]["bytes"]):
        total += d["bytes"]
        out.append(_row([name, _mib(d["bytes"]), d["data_files"], _mib(d["avg_file_bytes"])]))
    out.append(_row(["**all tables**", f"**{_mib(total)}**", "", ""]))
    return out


def _profile(size: dict, run: str) -> list[str]:
    stages = size["runs"][run]["stages"]
    slowest = max(_stages_of(size["runs"][run]), key=lambda n: stages[n]["seconds"])
    s = stages[slowest]
    out = [
        f"Slowest stage of the {run} run at {size['label']}: **{slowest}** "
        f"({s['seconds']:.1f} s). Cumulative wall time of its groupetl functions (cProfile; "
        "nested, so they overlap; time in Spark shows as time in the calling function):",
        "",
        _row(["function", "calls", "s"]),
        _row(["---", "---:", "---:"]),
    ]
    out += [_row([f"`{p['function']}`", p["calls"], p["seconds"]]) for p in s["profile"]]
    longest = (s.get("spark") or {}).get("longest") or []
    if longest:
        out += ["", "Its longest Spark jobs (REST API of the driver):", ""]
        out += [_row(["job", "s"]), _row(["---", "---:"])]
        out += [_row([_job_name(j["name"]), j["seconds"]]) for j in longest]
    return out


def _job_name(name: str) -> str:
    """A Spark job's name as the page shows it: a call site in the package relative to the
    repository (``src/groupetl/...``), not under the benchmarking machine's checkout path."""
    return re.sub(r"\S*/(src/groupetl/)", r"\1", name).replace("|", "/")


def _targets(report: dict) -> list[str]:
    sizes = report["sizes"]
    largest = sizes[-1] if sizes else None
    out = [
        _row(["target (2 cores)", "required", "measured", "verdict"]),
        _row(["---", "---", "---", "---"]),
    ]
    have_16m = largest is not None and largest["events"] >= 16_000_000
    if have_16m:
        warm = largest["runs"].get("warm") or largest["runs"]["cold"]
        e2e = warm.get("core_seconds")
        out.append(
            _row(
                [
                    "end to end at 16M (ingest -> attribute -> reports)",
                    "< 600 s",
                    f"{e2e:.0f} s" if e2e is not None else "not run (only some stages)",
                    ("met" if e2e < TARGET_SECONDS else "missed") if e2e is not None else "unknown",
                ]
            )
        )
    else:
        biggest = largest["label"] if largest else "none"
        out.append(
            _row(
                [
                    "end to end at 16M",
                    "< 600 s",
                    f"not run (largest measured: {biggest})",
                    "unknown",
                ]
            )
        )
    g = (report.get("growth") or {}).get("warm") or (report.get("growth") or {}).get("cold")
    if g:
        in_range = g["to"] == "16M" and g["from"] == "1M"
        verdict = "met" if g["ratio"] <= TARGET_GROWTH else "missed"
        measured = f"{g['ratio']:.2f}x per event, {g['per_record_ratio']:.2f}x per raw record"
        out.append(
            _row(
                [
                    "per-event cost growth, 1M -> 16M",
                    "<= 1.2x",
                    f"{measured}, from {g['from']} to {g['to']}",
                    verdict if in_range else "unknown: the target compares 1M with 16M (see notes)",
                ]
            )
        )
    else:
        out.append(
            _row(["per-event cost growth, 1M -> 16M", "<= 1.2x", "needs 2 sizes", "unknown"])
        )
    if have_16m:
        peak = max(r["peak_rss_bytes"] for r in largest["runs"].values())
        out.append(
            _row(
                [
                    "driver peak memory at 16M",
                    "< 6 GiB",
                    f"{_gib(peak)} GiB",
                    "met" if peak / 1024**3 < TARGET_GIB else "missed",
                ]
            )
        )
    else:
        peaks = [(max(r["peak_rss_bytes"] for r in s["runs"].values()), s["label"]) for s in sizes]
        peak, at = max(peaks, default=(0, "-"))
        out.append(
            _row(
                [
                    "driver peak memory at 16M",
                    "< 6 GiB",
                    f"not run (highest measured: {_gib(peak)} GiB, at {at})",
                    "unknown",
                ]
            )
        )
    return out


def _yardsticks(report: dict) -> list[str]:
    """Ingest beside its baselines, per size and run (results without them: a sentence)."""
    sizes = [s for s in report["sizes"] if s.get("baselines") or s.get("ingest_vs_baselines")]
    if not sizes:
        return [
            "No baselines in this result (taken before `benchmarks/baselines/` existed, or run "
            "with `--baselines none`).",
        ]
    names = list(dict.fromkeys(k for s in sizes for k in (s.get("baselines") or {})))
    head = ["size", "run", "groupetl ingest s", "rec/s/core"]
    for name in names:
        head += [f"{name} s", "rec/s/core", f"groupetl / {name}"]
    head += ["parse stage: tasks, max / median task s", "ingest peak RSS GiB"]
    out = [_row(head), _row(["---", "---", *["---:"] * (len(head) - 2)])]
    for size in sizes:
        vs = size.get("ingest_vs_baselines") or {}
        base = size.get("baselines") or {}
        for run in size["runs"]:
            g = (vs.get("groupetl") or {}).get(run)
            if g is None:  # ingest failed (or was not run) in that run: baselines still shown
                g = {"seconds": None, "records_per_core_second": None, "peak_rss_bytes": None}
            cells = [
                size["label"],
                run,
                _s(g["seconds"], missing="**failed**"),
                _s(g["records_per_core_second"], "{:,}"),
            ]
            for name in names:
                b = base.get(name) or {}
                ratio = (vs.get("ratio") or {}).get(run, {}).get(name)
                cells += [
                    "**failed**" if b.get("error") else _s(b.get("seconds")),
                    _s(b.get("records_per_core_second"), "{:,}"),
                    _s(ratio, "**{:.1f}x**"),
                ]
            ps = g.get("parse_stage") or {}
            cells += [
                f"{ps['tasks']}, {_s(ps['task_max_seconds'])} / {_s(ps['task_median_seconds'])}"
                f" = {_s(ps['max_over_median'], '{:.2f}')}"
                if ps
                else "-",
                "-" if g["peak_rss_bytes"] is None else _gib(g["peak_rss_bytes"]),
            ]
            out.append(_row(cells))
    out += ["", "What each baseline does, and what it counted, per size:", ""]
    for size in sizes:
        for name, b in (size.get("baselines") or {}).items():
            counts = ", ".join(
                f"{k} {v:,}"
                for k, v in b.items()
                if k in ("rows_written", "records_written", "kept", "duplicates", "unparsed_lines")
                and isinstance(v, int)
            )
            rss = b.get("peak_rss_bytes")
            extra = [
                f"{counts}" if counts else "",
                f"peak RSS {_gib(rss)} GiB ({b.get('peak_rss_of', '')})" if rss else "",
                f"threads {b['threads']}" if b.get("threads") else "",
                f"**error:** {b['error'][:300]}" if b.get("error") else "",
            ]
            detail = "; ".join(x for x in extra if x)
            out.append(f"- {size['label']} `{name}`: {b.get('what', '')}. {detail}.")
    cores = {s["ingest_vs_baselines"]["cores"] for s in sizes if s.get("ingest_vs_baselines")}
    raw = {s["label"]: s["records_total"] for s in sizes}
    ps_stage = next(
        (
            g["parse_stage"]
            for s in sizes
            for g in (s.get("ingest_vs_baselines") or {}).get("groupetl", {}).values()
            if g.get("parse_stage")
        ),
        None,
    )
    out += [
        "",
        f"rec/s/core = the size's raw records ({', '.join(f'{k}: {v:,}' for k, v in raw.items())})"
        f" / wall seconds / {', '.join(str(c) for c in sorted(cores)) or '?'} cores. "
        "groupetl / baseline = groupetl's ingest seconds of that run over the baseline's. The "
        "baselines run once per size, after groupetl's runs, in the same process: the Spark floor "
        "in the benchmark's own (by then warm) session, DuckDB in a child process; so the warm "
        "row is the like-for-like comparison, the cold row includes the JVM's warm-up.",
    ]
    if ps_stage:
        out += [
            "",
            "Parse stage = the Spark stage of ingest with the most executor run time (e.g. "
            f"`{ps_stage['name']}`, {_s(ps_stage.get('share_of_executor_run'), '{:.0%}')} of "
            "ingest's executor time at the first size); its task balance is the slowest task over "
            "the median one (driver REST API `taskList`; 1.0 = even).",
        ]
    return out


def render_markdown(report: dict, source: Path) -> str:
    m = report["machine"]
    sizes = report["sizes"]
    done = [s["label"] for s in sizes]
    missing = [s for s in report["sizes_requested"] if s not in done]
    try:
        src = source.resolve().relative_to(Path(__file__).resolve().parents[1])
    except ValueError:
        src = source
    lines = [
        "# Performance",
        "",
        f"<!-- generated by `benchmarks/run.py --render {src}`; do not edit by hand -->",
        "",
        f"Generated from [`{src}`](../{src}): "
        + (
            f"{len(report['merged_from'])} invocations merged (listed below)."
            if report.get("merged_from")
            else f"commit `{report['git']['commit'][:12]}`"
            + (
                f" ({report['git']['dirty_tracked_files']} tracked files modified in the checkout)"
                if report["git"].get("dirty_tracked_files")
                else ""
            )
            + f", started {report['started_at']}."
        ),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}; "
        f"{m['java']}; Python {m['python']}, PySpark {m['pyspark']}, delta-spark "
        f"{m['delta_spark']}. Every stage below carries the machine's 1-minute load average "
        "before and after it (2 cores: anything above about 2 means the stage queued for CPU "
        "behind other work; the note below says what else ran).",
        "",
    ]
    merged = report.get("merged_from") or []
    if merged:
        lines += [
            "Sizes were measured by separate invocations and merged (`./dev bench --merge`); "
            "each size's commit is in the summary table. Notes recorded with them:",
            "",
            *[
                f"- {', '.join(m['sizes'])} (commit {_commit(m['git'])}, started "
                f"{m['started_at']}): {m.get('note') or 'no note'}"
                for m in merged
            ],
            "",
        ]
    elif report.get("note"):
        lines += [f"Note recorded with the run: {report['note']}", ""]
    lines += [
        "## How to run",
        "",
        "```bash",
        "./dev bench                                   # 1M, 4M, 16M events (default)",
        "./dev bench --sizes 100k,1M --out benchmarks/results/mine.json",
        "./dev bench --render benchmarks/results/mine.json   # only regenerate this page",
        "./dev bench --sizes 200k --stages ingest --cold-only --out data/bench/ingest.json --doc data/bench/ingest.md"
        "   # quick: ingest + baselines",
        "```",
        "",
        "Data: the project's generator (`groupetl.generate`), 20,000 companies x 10 users, "
        "90 days, seed 42, its default mix of formats and faults (about 200k identify and 40k "
        "group identify records whatever the number of events, 1% malformed, 1% duplicates). "
        "Config: `conf/local.yaml` (the embedded default: `local[*]`, its shuffle partitions "
        "and driver memory) with paths pointed at `data/bench/<size>/`.",
        "",
        "Definitions:",
        "",
        "- **start-up**: building the SparkSession with Delta (JVM start, jar loading); "
        "reported apart, never part of pipeline time.",
        "- **cold**: the first pipeline run in a fresh JVM (one process per size) on a fresh "
        "warehouse: class loading, JIT and Delta's first log reads are paid here.",
        "- **warm**: the same stages again in the same session, on a second fresh warehouse "
        "over the same landing files (same work, warm JVM, landing files in the page cache).",
        "- **pipeline time**: the sum of the stage wall times: ingest, attribute, cohorts "
        "(as of the last generated day), report (the `reports:` section), retention (the "
        "`retention:` section). **core** = ingest + attribute + report, the issue's end to end.",
        "- **peak RSS**: VmRSS of the Python process plus its driver JVM, sampled every 0.2 s "
        "during the stage; **JVM VmHWM** is the JVM's own high-water mark over its life.",
        "- **spilled to disk**: what the stage's sorts and aggregations spilled to local disk "
        "when execution memory ran out (`diskBytesSpilled` of the driver's REST API, summed "
        "over the Spark stages of its jobs; cached blocks moved to disk are not in it; `?` in "
        "results taken before it was recorded).",
        "- **per-event cost growth**: (pipeline s / events) at the largest size over the same "
        "at the smallest, warm runs (cold if no warm), start-up excluded.",
        "- **baselines** (`benchmarks/baselines/`): yardsticks for ingest measured in the same "
        "invocation on the same landing files: the **Spark floor** (`spark.read.json` with "
        "declared schemas, explode, one Parquet write, in the benchmark's session) and "
        "**DuckDB** (one statement, threads = cores: lines, one JSON parse each, unnest, dedup "
        "on (user key, insert_id) first in record order, Parquet). Neither validates, "
        "quarantines, parses groups and property operations into rows or writes Delta.",
        "",
        "## Targets",
        "",
        *_targets(report),
        "",
    ]
    for f in report.get("failed") or []:
        lines += [
            f"**Failed:** {f['size']} (worker exit code {f['exit_code']}): the runs of that size "
            "that finished are shown below, the others are missing.",
            "",
        ]
    if missing:
        lines += [
            f"**Not run:** {', '.join(missing)} (requested but no result in this JSON; see the "
            "notes below for why). Nothing in this page is extrapolated.",
            "",
        ]
    lines += ["## Summary per size", "", *_summary(report), ""]
    subset = report.get("stages_requested")
    if subset and tuple(subset) != STAGES:
        lines += [
            f"Stages run: **{', '.join(subset)}** only (`--stages`); pipeline time is their sum.",
            "",
        ]
    lines += ["## Ingest against its baselines", "", *_yardsticks(report), ""]
    for key, g in (report.get("growth") or {}).items():
        if g:
            per = ", ".join(f"{k} {v:.2f}x" for k, v in g["per_stage"].items())
            lines += [
                f"Per-event cost growth ({key}), {g['from']} -> {g['to']}: **{g['ratio']:.2f}x** "
                f"(per raw record: {g['per_record_ratio']:.2f}x; per event, per stage: {per}).",
                "",
            ]
    for size in sizes:
        st = size["startup"]
        lines += [
            f"## {size['label']} events ({size['records_total']:,} raw records)",
            "",
            f"Start-up {st['seconds']:.1f} s (load {_load(st['load_before'])} -> "
            f"{_load(st['load_after'])}). Spark: "
            + ", ".join(f"`{k}={v}`" for k, v in size["spark_conf"].items() if v is not None)
            + ".",
            "",
        ]
        for run in ("cold", "warm"):
            if run in size["runs"]:
                lines += [f"### {run}", "", *_stage_table(size, run), ""]
        last = "warm" if "warm" in size["runs"] else "cold"
        lines += [f"Bytes on disk after the {last} run:", "", *_disk_table(size, last), ""]
    if sizes:
        big = sizes[-1]
        run = "warm" if "warm" in big["runs"] else "cold"
        lines += ["## Profile of the slowest stage", "", *_profile(big, run), ""]
    if NOTES.is_file():
        lines += ["## Notes", "", NOTES.read_text().strip(), ""]
    return "\n".join(lines)
