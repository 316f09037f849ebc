"""spark-submit entry point of the cohorts stage (behavioral cohorts -> gold/cohort_members).

    spark-submit --py-files dist/groupetl.zip $(groupetl jars --spark-submit) \
        jobs/cohorts.py --config conf/prod.yaml --date 2026-01-08

Thin on purpose: arguments -> ``load_config`` -> ``session_for`` -> the stage, then the summary
lines on stdout and one run-log row (``groupetl.pipeline.job_main``, as for every stage).
``--date D`` computes the cohorts as of D-1, the last whole day before D (default today).
Exit status: 0 ok, 1 stage failure, 2 config error, 3 QA gate failed.
"""

from __future__ import annotations

import sys

from groupetl.pipeline import job_main

if __name__ == "__main__":
    sys.exit(job_main("cohorts", sys.argv[1:]))
