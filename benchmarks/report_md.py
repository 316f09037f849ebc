"""Render docs/performance.md from a benchmark JSON written by ``benchmarks/run.py``.

Every figure in the tables comes from the JSON; the interpretation (what dominates, what was
changed, what is doubtful) is kept in ``benchmarks/notes.md`` and included verbatim, so the
words can be revised without re-running hours of benchmark.
"""

from __future__ import annotations

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
    for name in STAGES:
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
                    f"{warm['core_seconds']:.1f}" if warm else "not run",
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
    slowest = max(STAGES, key=lambda n: stages[n]["seconds"])
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
        out += [_row([j["name"].replace("|", "/"), j["seconds"]]) for j in longest]
    return out


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
        e2e = warm["core_seconds"]
        out.append(
            _row(
                [
                    "end to end at 16M (ingest -> attribute -> reports)",
                    "< 600 s",
                    f"{e2e:.0f} s",
                    "met" if e2e < TARGET_SECONDS else "missed",
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
