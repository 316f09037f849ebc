"""spark-submit entry point of a whole logical date (every stage in order), or a backfill.

    spark-submit --py-files dist/groupetl.zip $(groupetl jars --spark-submit) \
        jobs/run.py --config conf/prod.yaml --date 2026-01-08
    spark-submit ... jobs/run.py --config conf/prod.yaml --from 2026-01-01 --to 2026-01-07

The same code as ``groupetl run`` (``groupetl.runs.run_main``); docs/operations.md.
Exit status: 0 ok, 1 stage failure, 2 config error, 3 QA gate failed.
"""

from __future__ import annotations

import sys

from groupetl.runs import run_main

if __name__ == "__main__":
    sys.exit(run_main(sys.argv[1:]))
