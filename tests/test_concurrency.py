"""Two writers started together never corrupt a warehouse (issue 18's acceptance test).

Real ``groupetl`` processes, real Spark, real Delta: in each round a day's files arrive and two
processes of the same command start on the same warehouse, the second after a random offset
(0 to 1.5 s; the seed is fixed, so a failure replays). Rounds 1-5 race two ``groupetl ingest``
(day i's files arrive before round i), rounds 6-10 two ``groupetl run --date D`` of the last
day (its files arrive before round 6). In every round exactly one wins: the other exits 75 with
the project's one-line message naming the winner's pid, before its JVM starts (its whole stderr
is that line), and the lease still names the winner afterwards (the loser touched nothing).

The race is decided at the lease, seconds before either JVM is up, so only some winners run to
the end (round 1: an existing warehouse for the later rounds; round 10: ``run`` ingests days 2-6
and attributes everything). The winners of rounds 2-9 are SIGKILLed as soon as their loser has
exited; each leaves a stale lease behind, so rounds 3-10 also race two processes for the
takeover of a stale lease (exactly one takes it over, the other is refused with the same line).
Afterwards every bronze, silver, quarantine and gold table equals the one of a serial run of
the same files (tests/test_run.py's comparison: bookkeeping columns aside), the ledger holds
each batch once, and silver holds each record once.

Cost: two Spark processes that run to the end (rounds 1 and 10) and eight killed during their
start; the serial run is the session's shared reference (tests/safety_data.py).
"""

from __future__ import annotations

import random
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from groupetl import lease
from groupetl.config import load_config
from groupetl.schemas import T
from safety_data import cli_env, groupetl_argv, new_project, wait_until_stale
from test_run import arrive, assert_same_tables

INGEST_ROUNDS = 5  # then as many rounds of `run --date D`
RUN_ROUNDS = 5
FINISHED = {1, INGEST_ROUNDS + RUN_ROUNDS}  # rounds whose winner runs to the end; others killed
MAX_OFFSET = 1.5  # seconds; far below a Spark start, so the two always overlap


def _race(config: Path, args: list[str], offset: float, finish: bool, logs: Path) -> dict:
    """Start two processes of ``args``, the second ``offset`` s later; check the loser; let the
    winner finish (``finish``) or SIGKILL it. Returns the loser's pid, code and output."""
    procs = []
    for i, delay in enumerate((0.0, offset)):
        time.sleep(delay)
        # files, not pipes: a winner left running must never block on a full pipe
        with open(logs / f"{i}.out", "w") as out, open(logs / f"{i}.err", "w") as err:
            argv = groupetl_argv(config, *args)
            procs.append(subprocess.Popen(argv, stdout=out, stderr=err, env=cli_env()))
    deadline = time.monotonic() + 120
    while all(p.poll() is None for p in procs):
        assert time.monotonic() < deadline, "neither process was refused: both hold the lease?"
        time.sleep(0.05)
    i = next(i for i, p in enumerate(procs) if p.returncode is not None)
    loser, winner = procs[i], procs[1 - i]
    text = {s: (logs / f"{i}.{s}").read_text() for s in ("out", "err")}
    assert loser.returncode == 75, text["err"][-3000:]
    warehouse = load_config(config).paths.warehouse
    assert lease.read_holder(warehouse).pid == winner.pid  # the loser left the lease alone
    if finish:
        winner.wait(timeout=600)
        assert winner.returncode == 0, (logs / f"{1 - i}.err").read_text()[-3000:]
        assert lease.read_holder(warehouse) is None  # the winner released it
    else:
        winner.send_signal(signal.SIGKILL)
        winner.wait(timeout=60)
        wait_until_stale(warehouse)
    return {"winner": winner.pid, **text}


def _loser_message(command: str, warehouse: Path, pid: int) -> re.Pattern:
    return re.compile(
        re.escape(f"error: another {command} of project safety holds the warehouse {warehouse} ")
        + r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC "
        + re.escape(f"(pid {pid} on host {socket.gethostname()}); run again when it has finished")
        + "\n"
    )


@pytest.mark.slow
def test_two_writers_started_together_leave_the_tables_of_a_serial_run(spark, safety, tmp_path):
    race = new_project(tmp_path / "race")
    warehouse = load_config(race).paths.warehouse
    rng = random.Random(18)
    assert len(safety.days) == INGEST_ROUNDS + 1
    days = safety.days + [safety.days[-1]] * (RUN_ROUNDS - 1)
    for i, day in enumerate(days, start=1):
        if i <= INGEST_ROUNDS + 1:
            arrive(safety.landing, race.parent, day)
        args = ["ingest"] if i <= INGEST_ROUNDS else ["run", "--date", day.isoformat()]
        offset = rng.uniform(0, MAX_OFFSET)
        logs = tmp_path / f"round{i}"
        logs.mkdir()
        loser = _race(race, args, offset, finish=i in FINISHED, logs=logs)
        where = f"round {i} (offset {offset:.2f}s)"
        assert _loser_message(args[0], warehouse, loser["winner"]).fullmatch(loser["err"]), (
            f"{where}: {loser['err']}"
        )
        assert loser["out"] == "", where

    compared = assert_same_tables(spark, warehouse, safety.attributed)
    assert {"bronze/records", "silver/records", "silver/attributed_events"} <= set(compared)

    ledger = spark.read.format("delta").load(str(warehouse / T.INGEST_BATCHES)).collect()
    per_phase = Counter((r.batch_id, r.status) for r in ledger)
    assert set(per_phase.values()) == {1}
    assert {b for b, status in per_phase if status == "done"} == {b for b, _ in per_phase}
    records = spark.read.format("delta").load(str(warehouse / T.SILVER_RECORDS))
    assert records.count() == records.select("record_id").distinct().count() > 0
