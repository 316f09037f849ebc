"""spark-submit entry point of the ``report`` stage (segmentation and funnel reports -> gold).

spark-submit $(groupetl jars --spark-submit) jobs/report.py --config conf/prod.yaml
"""

from groupetl.pipeline import job_main

if __name__ == "__main__":
    raise SystemExit(job_main("report"))
