"""The jobs under ``spark-submit`` on a real Spark standalone cluster on loopback.

One master and one worker (1 core, 1 GB) are started from the pyspark installation
(``tests/standalone_cluster.py``); ``jobs/ingest.py``, ``jobs/attribute.py`` and
``jobs/report.py`` are submitted to ``spark://127.0.0.1:PORT`` exactly as documented in
docs/operations.md (``--py-files`` with the ``groupetl package`` zip, the Delta flags of
``groupetl jars --spark-submit``); the same stages then run locally in this process on a twin
project with the same files, and the tables must hold the same rows. The cluster is stopped by
the process ids it started, also when a job fails.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from groupetl.cli import main
from groupetl.config import load_config
from groupetl.runs import run_logged
from groupetl.session import spark_submit_args
from test_run import D1, arrive, assert_same_tables, generate_days, run_log_rows, write_project

REPO = Path(__file__).resolve().parent.parent
CLUSTER_STAGES = ("ingest", "attribute", "report")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


@pytest.mark.slow
def test_jobs_on_a_standalone_cluster_write_the_same_tables_as_a_local_run(
    spark, tmp_path: Path
) -> None:
    from standalone_cluster import StandaloneCluster

    generated = generate_days(tmp_path / "generated", days=2, events=300)
    config_cluster = write_project(tmp_path / "cluster", "on_cluster")
    config_local = write_project(tmp_path / "local", "in_process")
    arrive(generated, tmp_path / "cluster")
    arrive(generated, tmp_path / "local")
    date = (D1 + dt.timedelta(days=1)).isoformat()

    package = tmp_path / "dist" / "groupetl.zip"
    packaged = CliRunner().invoke(main, ["package", "--out", str(package)])
    assert packaged.exit_code == 0, packaged.output
    delta_args = spark_submit_args()

    cluster = StandaloneCluster(tmp_path / "spark-cluster")
    with cluster:
        pids = [p.pid for p in cluster.procs]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        for name in CLUSTER_STAGES:
            out = cluster.submit(
                REPO / "jobs" / f"{name}.py",
                ["--config", str(config_cluster), "--date", date],
                delta_args,
                py_files=package,
            )
            # spark-submit merges the driver's stderr (progress lines) into its stdout
            assert re.search(rf"^\[{name}\] finished in .*^{name}: [0-9.]+s$", out, re.M | re.S), (
                out
            )
    assert not any(_alive(pid) for pid in pids)  # stopped by its pids

    local = load_config(config_local)
    for name in CLUSTER_STAGES:
        run_logged(spark, local, name, date=dt.date.fromisoformat(date))

    compared = assert_same_tables(
        spark, tmp_path / "cluster/data/warehouse", tmp_path / "local/data/warehouse"
    )
    assert {"silver/events", "silver/attributed_events", "gold/segmentation"} <= set(compared)
    logged = run_log_rows(spark, config_cluster)
    assert sorted(r["stage"] for r in logged) == sorted(CLUSTER_STAGES)
    assert {r["status"] for r in logged} == {"succeeded"}
