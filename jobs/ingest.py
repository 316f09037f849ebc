"""spark-submit entry point of the ingest stage (landing -> bronze -> silver, quarantine).

    spark-submit $(groupetl jars --spark-submit) jobs/ingest.py --config conf/local.yaml

Thin on purpose: arguments -> ``load_config`` -> ``session_for`` -> ``groupetl.ingest.run``, then
the summary lines on stdout (``groupetl.pipeline.job_main`` does exactly that for every stage, so
the CLI's ``groupetl ingest`` and this job run the same code). Exit status 1 on a groupetl error.
"""

from __future__ import annotations

import sys

from groupetl.pipeline import job_main

if __name__ == "__main__":
    sys.exit(job_main("ingest", sys.argv[1:]))
