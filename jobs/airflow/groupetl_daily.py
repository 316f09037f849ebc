"""Airflow DAG: the groupetl pipeline once a day, one SparkSubmitOperator task per stage.

Install it in Airflow's OWN virtualenv (never groupetl's: the Spark provider depends on
``pyspark-client``, which replaces the real ``pyspark``). Copy or symlink this file into the
dags folder and set, as environment variables of the Airflow workers:

- ``GROUPETL_HOME``: the groupetl checkout holding ``jobs/`` (default: two folders up from here)
- ``GROUPETL_CONFIG``: the project config, e.g. ``conf/prod.yaml`` (relative to GROUPETL_HOME)
- ``GROUPETL_SPARK_CONN``: the Airflow Spark connection (master URL), default ``spark_default``
- ``GROUPETL_DELTA_JARS``: comma-separated Delta jar paths (``groupetl jars`` prints them)
- ``GROUPETL_PY_FILES``: the package zip for executors (``groupetl package --out dist/groupetl.zip``)

Each task runs ``jobs/<stage>.py --config ... --date {{ ds }} --step <task id>``: re-running a
task (or clearing a past date for a backfill) re-runs that stage for that logical date, which is
idempotent; every task writes one row to the run log (``ops/run_log``) named by its task id, as
``groupetl run`` does. The QA gate runs before the reports: a failed error-severity expectation
makes ``jobs/qa.py`` exit 3, the task fails without retrying (the data, not the cluster, is
wrong), and the report tasks do not run. docs/operations.md has the whole picture.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import DAG, chain

HOME = Path(os.environ.get("GROUPETL_HOME", Path(__file__).resolve().parents[2]))
CONFIG = os.environ.get("GROUPETL_CONFIG", "conf/prod.yaml")
DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
}

# (task id, job script): in the order data flows. The second attribute pass applies the property
# changes that CRM sync and dynamic properties wrote for the day.
STAGES = (
    ("ingest", "ingest.py"),
    ("attribute", "attribute.py"),
    ("crm_sync", "crm_sync.py"),
    ("dynamic_properties", "dynamic_properties.py"),
    ("attribute_derived", "attribute.py"),
    ("qa_gate", "qa.py"),
    ("report", "report.py"),
    ("retention", "retention.py"),
    ("cohorts", "cohorts.py"),
)


# A failed QA gate is a verdict on the data: retrying it would only repeat the verdict.
NO_RETRY = {"qa_gate"}


def _task(task_id: str, script: str) -> SparkSubmitOperator:
    extra = {"retries": 0} if task_id in NO_RETRY else {}
    return SparkSubmitOperator(
        task_id=task_id,
        application=str(HOME / "jobs" / script),
        application_args=[
            "--config",
            str(HOME / CONFIG),
            "--date",
            "{{ ds }}",
            "--step",
            task_id,
        ],
        conn_id=os.environ.get("GROUPETL_SPARK_CONN", "spark_default"),
        conf=DELTA_CONF,
        jars=os.environ.get("GROUPETL_DELTA_JARS") or None,
        py_files=os.environ.get("GROUPETL_PY_FILES") or None,
        name=f"groupetl-{task_id}",
        **extra,
    )


with DAG(
    dag_id="groupetl_daily",
    description="groupetl: ingest -> attribute -> CRM/dynamic properties -> QA gate -> reports",
    doc_md=__doc__,
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,  # backfills are explicit: `airflow dags backfill` or `groupetl run --from/--to`
    max_active_runs=1,  # days build on each other's tables; run them one at a time, in order
    default_args={"retries": 1, "retry_delay": timedelta(minutes=10)},
    tags=["groupetl"],
) as dag:
    # One chain, the order of `groupetl run` (groupetl.runs.STEPS), so both give the same tables:
    # crm_sync and dynamic_properties both write silver/derived_property_ops (two concurrent
    # Delta writers to one table can conflict), and reports/retention read the cohort snapshots
    # that the cohorts task writes. The gate sits before every report task.
    tasks = [_task(task_id, script) for task_id, script in STAGES]
    chain(*tasks)
