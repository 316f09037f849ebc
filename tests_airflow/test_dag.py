"""The Airflow DAG imports in Airflow's own virtualenv and has the expected tasks and order.

Run by ``./dev airflow-test`` (a separate venv: the Spark provider's ``pyspark-client`` would
replace groupetl's ``pyspark``), never by the main suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DAG_FILE = Path(__file__).resolve().parent.parent / "jobs" / "airflow" / "groupetl_daily.py"


@pytest.fixture(scope="module")
def dag(tmp_path_factory: pytest.TempPathFactory):
    import os

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags["groupetl_daily"]


def test_one_spark_submit_task_per_stage(dag) -> None:
    assert set(dag.task_ids) == {
        "ingest",
        "attribute",
        "crm_sync",
        "dynamic_properties",
        "attribute_derived",
        "qa_gate",
        "report",
        "retention",
        "cohorts",
    }
    for task in dag.tasks:
        assert type(task).__name__ == "SparkSubmitOperator"
        assert task.application.endswith(".py")
        assert "--date" in task.application_args
        assert task.conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"


def test_qa_gate_runs_before_every_report_and_after_attribution(dag) -> None:
    qa = dag.get_task("qa_gate")
    assert qa.upstream_task_ids == {"attribute_derived"}
    assert qa.downstream_task_ids == {"report", "retention", "cohorts"}
    assert dag.get_task("attribute").upstream_task_ids == {"ingest"}
    assert dag.get_task("attribute_derived").upstream_task_ids == {"crm_sync", "dynamic_properties"}


def test_scheduled_daily_one_run_at_a_time(dag) -> None:
    assert dag.schedule == "@daily"
    assert dag.timetable.expression == "0 0 * * *"
    assert dag.max_active_runs == 1
