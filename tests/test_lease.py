"""The warehouse lease (groupetl.lease): one holder, a clear loser, stale leases taken over.

Spark-free: the lease is a file, taken before any JVM starts. Real processes are used where
the question is about processes (a dead holder, a zombie, several takers at the same instant).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakes import holder, plant
from groupetl import lease
from groupetl.lease import LeaseError, WarehouseBusy, acquire, read_holder


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_second_taker_is_refused_with_the_holders_command_project_pid_and_host(tmp_path):
    warehouse = tmp_path / "wh"
    with acquire(warehouse, command="ingest", project="shop") as held:
        with pytest.raises(WarehouseBusy) as busy:
            acquire(warehouse, command="run", project="shop")
        since = dt.datetime.fromisoformat(held.holder.started_at).strftime("%Y-%m-%d %H:%M:%S")
        assert str(busy.value) == (
            f"another ingest of project shop holds the warehouse {warehouse} since {since} UTC "
            f"(pid {os.getpid()} on host {socket.gethostname()}); run again when it has finished"
        )
        assert busy.value.exit_code == 75
    assert read_holder(warehouse) is None  # released
    acquire(warehouse, command="run", project="shop").release()


def test_lease_of_a_dead_process_on_this_host_is_taken_over(tmp_path):
    warehouse = tmp_path / "wh"
    pid = _dead_pid()
    plant(warehouse, holder(pid=pid, pid_started=None))
    with acquire(warehouse, command="run", project="shop") as held:
        assert held.took_over.endswith(f"was stale: its process {pid} on this host has ended")
        assert read_holder(warehouse).token == held.holder.token


def test_lease_of_a_killed_but_unreaped_process_is_taken_over(tmp_path):
    warehouse = tmp_path / "wh"
    proc = subprocess.Popen(["sleep", "30"])
    try:
        plant(warehouse, holder(pid=proc.pid, pid_started=lease._pid_started(proc.pid)))
        with pytest.raises(WarehouseBusy):  # alive: respected
            acquire(warehouse, command="run", project="shop")
        proc.send_signal(signal.SIGKILL)
        stat = Path(f"/proc/{proc.pid}/stat")
        deadline = time.monotonic() + 5
        while stat.read_text().split(") ")[1][0] != "Z" and time.monotonic() < deadline:
            time.sleep(0.05)  # not waited for: a zombie, which os.kill(pid, 0) still finds
        assert stat.read_text().split(") ")[1][0] == "Z"
        acquire(warehouse, command="run", project="shop").release()
    finally:
        proc.kill()
        proc.wait()


def test_a_reused_pid_does_not_keep_a_lease_alive(tmp_path):
    warehouse = tmp_path / "wh"
    plant(warehouse, holder(pid_started="1"))  # this pid, but another process's start time
    with acquire(warehouse, command="run", project="shop") as held:
        assert "has ended" in held.took_over


def test_other_hosts_lease_holds_until_its_heartbeat_expires(tmp_path):
    warehouse = tmp_path / "wh"
    now = dt.datetime.now(dt.timezone.utc)
    plant(warehouse, holder(host="etl-2", pid=1))
    with pytest.raises(WarehouseBusy, match=r"\(pid 1 on host etl-2\)"):
        acquire(warehouse, command="run", project="shop")
    expired = (now - dt.timedelta(seconds=1)).isoformat()
    plant(warehouse, holder(host="etl-2", pid=1, expires_at=expired))
    with acquire(warehouse, command="run", project="shop") as held:
        assert "no heartbeat from host etl-2 since " in held.took_over


def test_heartbeat_moves_the_expiry_forward(tmp_path, monkeypatch):
    monkeypatch.setattr(lease, "HEARTBEAT_SECONDS", 0.1)
    warehouse = tmp_path / "wh"
    with acquire(warehouse, command="ingest", project="shop") as held:
        first = read_holder(warehouse).expires_at
        time.sleep(0.5)
        now = read_holder(warehouse)
        assert now.expires_at > first and now.token == held.holder.token
        assert now.started_at == held.holder.started_at


def test_a_lease_file_that_is_not_a_lease_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(lease, "_READ_RETRY_SECONDS", 0.1)
    warehouse = tmp_path / "wh"
    warehouse.mkdir()
    (warehouse / lease.LEASE_FILE).write_text("garbage")
    with pytest.raises(LeaseError, match="is not a groupetl lease; if no groupetl command"):
        acquire(warehouse, command="run", project="shop")


def test_an_unwritable_warehouse_is_one_line_and_writes_nothing():
    # tests run as root, for whom permissions do not stop a write: /sys refuses every mkdir
    warehouse = Path("/sys/groupetl-warehouse")
    with pytest.raises(LeaseError) as err:
        acquire(warehouse, command="ingest", project="shop")
    assert str(err.value) == (
        f"cannot write to the warehouse {warehouse}: Operation not permitted; nothing was changed"
    )


TAKER = """\
import sys, time
from pathlib import Path
from groupetl.lease import WarehouseBusy, acquire
start = float(sys.argv[2])
while time.time() < start:
    pass
try:
    held = acquire(Path(sys.argv[1]), command="ingest", project="shop")
except WarehouseBusy:
    print("busy")
    sys.exit(75)
print("won", held.took_over is not None)
time.sleep(1.5)
held.release()
"""


@pytest.mark.parametrize("stale", [False, True])
def test_of_many_takers_at_the_same_instant_exactly_one_wins(tmp_path, stale):
    warehouse = tmp_path / "wh"
    if stale:
        plant(warehouse, holder(pid=_dead_pid(), pid_started=None))
    start = time.time() + 1.0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TAKER, str(warehouse), str(start)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(6)
    ]
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    winners = [o for o in outputs if o[0] == "won"]
    assert len(winners) == 1, outputs
    assert sorted(p.returncode for p in procs) == [0] + [75] * 5
    assert winners[0][1] == str(stale)
    assert read_holder(warehouse) is None
