"""spark-submit entry point of the CRM account sync for one logical date.

    spark-submit $(groupetl jars --spark-submit) jobs/crm_sync.py \
        --config conf/local.yaml --date 2026-01-08

Thin on purpose: arguments -> ``load_config`` -> ``session_for`` ->
``groupetl.crm.run``, then the summary lines on stdout. Exit status 1 on a
groupetl error.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from groupetl.config import load_config
    from groupetl.crm import parse_crm, run
    from groupetl.derived_ops import as_date
    from groupetl.errors import GroupEtlError
    from groupetl.session import session_for

    parser = argparse.ArgumentParser(prog="jobs/crm_sync.py", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="project config YAML")
    parser.add_argument("--date", required=True, help="logical date YYYY-MM-DD")
    args = parser.parse_args(argv)
    try:
        date = as_date(args.date)  # a bad date fails before Spark starts
        config = load_config(args.config)
        parse_crm(config)  # the section's errors too
        spark = session_for(config, app_name="groupetl-crm-sync")
        result = run(spark, config, date=date, progress=lambda m: print(m, file=sys.stderr))
    except GroupEtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(result.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
