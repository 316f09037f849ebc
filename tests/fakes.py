"""Stand-ins shared by the Spark-free process tests: a ``java`` that must not run, a planted lease.

- ``fake_java``: the environment of a CLI process whose ``java`` only leaves a marker file, so a
  test can assert that no JVM was started (tests/test_jvm_free.py, tests/test_operator_errors.py).
- ``holder`` and ``plant``: a lease held by this live test process, written where a command
  would find it (tests/test_lease.py, tests/test_operator_errors.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sys
from dataclasses import asdict, replace
from pathlib import Path

from groupetl import lease


def fake_java(home: Path) -> tuple[dict[str, str], Path]:
    """(env, marker): JAVA_HOME and PATH lead to ``home/bin/java``, which writes ``marker`` and
    fails; SPARK_HOME and PYSPARK_SUBMIT_ARGS are removed so nothing else finds a real one."""
    marker = home / "java-was-started"
    (home / "bin").mkdir(parents=True, exist_ok=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    java.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_HOME", "PYSPARK_SUBMIT_ARGS")}
    env.update(
        JAVA_HOME=str(home), PATH=f"{home / 'bin'}:{Path(sys.executable).parent}:/usr/bin:/bin"
    )
    return env, marker


def holder(
    now: dt.datetime | None = None, lifetime: dt.timedelta = dt.timedelta(minutes=5), **changes
) -> lease.Holder:
    """A lease holder for this (live) process: an ``ingest`` of project ``shop`` started at
    ``now`` (default: the current time) and expiring ``lifetime`` later; ``changes`` override
    any field."""
    now = now or dt.datetime.now(dt.timezone.utc)
    base = lease.Holder(
        command="ingest",
        project="shop",
        host=socket.gethostname(),
        pid=os.getpid(),
        pid_started=lease._pid_started(os.getpid()),
        started_at=now.isoformat(),
        heartbeat_at=now.isoformat(),
        expires_at=(now + lifetime).isoformat(),
        token="planted",
    )
    return replace(base, **changes)


def plant(warehouse: Path, held: lease.Holder) -> None:
    """Write ``held`` as the warehouse's lease file, as the command holding it would."""
    warehouse.mkdir(parents=True, exist_ok=True)
    (warehouse / lease.LEASE_FILE).write_text(json.dumps(asdict(held)))
