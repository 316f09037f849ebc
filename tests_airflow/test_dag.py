"""The Airflow DAG imports in Airflow's own virtualenv and has the expected tasks and order.

Run by ``./dev airflow-test`` (a separate venv: the Spark provider's ``pyspark-client`` would
replace groupetl's ``pyspark``), never by the main suite.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

JOBS = Path(__file__).resolve().parent.parent / "jobs"
DAG_FILE = JOBS / "airflow" / "groupetl_daily.py"


@pytest.fixture(scope="module")
def dag(tmp_path_factory: pytest.TempPathFactory):
    import os

    os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow_home")))
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags["groupetl_daily"]


def test_one_spark_submit_task_per_stage(dag) -> None:
    assert set(dag.task_ids) == set(ORDER)
    for task in dag.tasks:
        assert type(task).__name__ == "SparkSubmitOperator"
        assert Path(task.application).is_file(), task.application  # the job script exists
        assert Path(task.application).parent == JOBS
        args = task.application_args
        assert args[args.index("--date") + 1] == "{{ ds }}"
        assert args[args.index("--step") + 1] == task.task_id  # its run-log row's name
        assert task.conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"


ORDER = [  # groupetl.runs.STEPS: the DAG runs the same steps in the same order as `groupetl run`
    "ingest",
    "attribute",
    "crm_sync",
    "dynamic_properties",
    "attribute_derived",
    "qa_gate",
    "report",
    "retention",
    "cohorts",
]


def test_tasks_form_one_chain_in_the_order_of_groupetl_run(dag) -> None:
    for before, after in itertools.pairwise(ORDER):
        assert dag.get_task(after).upstream_task_ids == {before}, after
    assert dag.get_task("ingest").upstream_task_ids == set()
    assert dag.get_task("cohorts").downstream_task_ids == set()


def test_qa_gate_runs_before_every_report_and_after_attribution(dag) -> None:
    qa = dag.get_task("qa_gate")
    upstream = qa.get_flat_relative_ids(upstream=True)
    downstream = qa.get_flat_relative_ids(upstream=False)
    assert {
        "ingest",
        "attribute",
        "crm_sync",
        "dynamic_properties",
        "attribute_derived",
    } == upstream
    assert {"report", "retention", "cohorts"} == downstream


def test_the_qa_gate_is_not_retried_and_the_other_tasks_are(dag) -> None:
    assert dag.get_task("qa_gate").retries == 0
    assert {t.task_id for t in dag.tasks if t.retries == 0} == {"qa_gate"}


def test_both_attribute_tasks_run_the_attribute_job(dag) -> None:
    for task_id in ("attribute", "attribute_derived"):
        assert Path(dag.get_task(task_id).application).name == "attribute.py"


def test_scheduled_daily_one_run_at_a_time(dag) -> None:
    assert dag.schedule == "@daily"
    assert dag.timetable.expression == "0 0 * * *"
    assert dag.max_active_runs == 1
