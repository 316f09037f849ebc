"""Two writers started together never corrupt a warehouse (issue 18's acceptance test).

Real ``groupetl`` processes, real Spark, real Delta: in each round a day's files arrive and two
processes of the same command start on the same warehouse, the second after a random offset
(0 to 1.5 s; the seed is fixed, so a failure replays). Rounds 1-5 race two ``groupetl ingest``,
rounds 6-7 two ``groupetl run --date D``. Exactly one of each pair runs; the other exits 75
with the project's one-line message naming the winner's pid, before its JVM starts (its whole
stderr is that line). Afterwards every bronze, silver, quarantine and gold table equals the
one of a serial run of the same files (tests/test_run.py's comparison: bookkeeping columns
aside), the ledger holds each batch once, and silver holds each record once.

Cost: one Spark process per round (the loser starts none) and one in-process serial run.
"""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from groupetl.cli import main
from groupetl.config import load_config
from groupetl.schemas import T
from test_run import arrive, assert_same_tables, file_day

REPO = Path(__file__).resolve().parent.parent
CONFIG = """\
project: race
paths: {root: data}
group_types:
  - {name: company, name_property: Account Name, value_format: numeric}
  - {name: workspace, name_property: Workspace Name}
tracking_plan:
  events: [Login, View Dashboard, Create Report, Share Report, Invite Teammate, Send Invoice,
           Pay Invoice, Upgrade Plan]
spark: {master: "local[2]", shuffle_partitions: 2, driver_memory: 1g}
qa:
  thresholds: {max_quarantine_rate: 0.5}
  severity: {silver.events.event_type_in_tracking_plan: warning,
             silver.group_names.every_group_named: warning}
"""
INGEST_ROUNDS, RUN_ROUNDS = 5, 2
MAX_OFFSET = 1.5  # seconds; far below a Spark start, so the two always overlap


def _project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "data" / "landing").mkdir(parents=True)
    path = folder / "race.yaml"
    path.write_text(CONFIG)
    return path


def _start(config: Path, args: list[str], delay: float, out: dict) -> None:
    """Run ``groupetl --config CONFIG ARGS`` after ``delay`` seconds; record its outcome."""
    time.sleep(delay)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), *sys.path])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "groupetl.cli", "--config", str(config), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    stdout, stderr = proc.communicate(timeout=600)
    out.update(pid=proc.pid, code=proc.returncode, stdout=stdout, stderr=stderr)


def _race(config: Path, args: list[str], offset: float) -> tuple[dict, dict]:
    """Start two processes of ``args``, the second ``offset`` s later; (winner, loser)."""
    outcomes: list[dict] = [{}, {}]
    threads = [
        threading.Thread(target=_start, args=(config, args, delay, out))
        for delay, out in zip((0.0, offset), outcomes, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(o["code"] for o in outcomes)
    assert codes == [0, 75], "\n---\n".join(o["stderr"][-3000:] for o in outcomes)
    winner, loser = sorted(outcomes, key=lambda o: o["code"])
    return winner, loser


def _loser_message(command: str, warehouse: Path, pid: int) -> re.Pattern:
    return re.compile(
        re.escape(f"error: another {command} of project race holds the warehouse {warehouse} ")
        + r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC "
        + re.escape(f"(pid {pid} on host {socket.gethostname()}); run again when it has finished")
        + "\n"
    )


@pytest.mark.slow
def test_two_writers_started_together_leave_the_tables_of_a_serial_run(spark, tmp_path):
    from groupetl.generate import GeneratorSpec, generate

    spec = GeneratorSpec(
        seed=18, companies=6, users_per_company=4, days=INGEST_ROUNDS + RUN_ROUNDS, events=500,
        export_share=0.02,
    )  # fmt: skip
    generate(spec, tmp_path / "generated")
    generated = tmp_path / "generated" / "landing"
    days = sorted({file_day(p) for p in generated.rglob("*") if p.is_file()})
    assert len(days) == INGEST_ROUNDS + RUN_ROUNDS

    race = _project(tmp_path / "race")
    warehouse = load_config(race).paths.warehouse
    rng = random.Random(18)
    for i, day in enumerate(days):
        arrive(generated, race.parent, day)
        args = ["ingest"] if i < INGEST_ROUNDS else ["run", "--date", day.isoformat()]
        offset = rng.uniform(0, MAX_OFFSET)
        winner, loser = _race(race, args, offset)
        assert _loser_message(args[0], warehouse, winner["pid"]).fullmatch(loser["stderr"]), (
            f"round {i + 1} (offset {offset:.2f}s): {loser['stderr']}"
        )
        assert loser["stdout"] == ""
        assert not (warehouse / "_groupetl_lease.json").exists()  # the winner released it

    serial = _project(tmp_path / "serial")
    arrive(generated, serial.parent)
    result = CliRunner().invoke(
        main, ["--config", str(serial), "run", "--date", days[-1].isoformat()]
    )
    assert result.exit_code == 0, result.output
    compared = assert_same_tables(spark, warehouse, load_config(serial).paths.warehouse)
    assert {"bronze/records", "silver/records", "silver/attributed_events"} <= set(compared)

    ledger = spark.read.format("delta").load(str(warehouse / T.INGEST_BATCHES)).collect()
    per_phase = Counter((r.batch_id, r.status) for r in ledger)
    assert set(per_phase.values()) == {1} and len({r.batch_id for r in ledger}) == len(days)
    records = spark.read.format("delta").load(str(warehouse / T.SILVER_RECORDS))
    assert records.count() == records.select("record_id").distinct().count() > 0
