"""Funnels at a couple of million generated rows: linear evaluation, no cartesian joins.

Not timed (the machine is shared): it checks that a run over ~2M rows, including one heavy
group with 200k events, finishes and gives consistent counts, and that the physical plan has
no CartesianProduct or BroadcastNestedLoopJoin.
"""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from groupetl.reports.columns import R
from groupetl.reports.funnels import funnel_per_group, funnel_rows, funnel_steps
from groupetl.reports.inputs import ROW_COLUMNS
from groupetl.schemas import C
from test_report_helpers import BASE, report_from

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROWS = 2_000_000
HEAVY = 200_000  # events of one group
GROUPS = 20_000
DAYS_MS = 30 * 86_400_000

FUNNEL = """
- name: scale
  kind: funnel
  group_type: company
  steps: [A, B, C]
  window: 3 days
  exclude: [{event: D, between: [2, 3]}]
  breakdown: event.plan
"""


def generated_rows(spark):
    """ROW_COLUMNS + cohort_segment: events A..D and X of GROUPS groups, one of them heavy."""
    ids = spark.range(ROWS, numPartitions=4)
    unit = F.when(F.col("id") < HEAVY, F.lit("heavy")).otherwise(
        (F.col("id") % GROUPS).cast("string")
    )
    offset = F.pmod(F.xxhash64("id"), F.lit(DAYS_MS))
    time = F.timestamp_millis(F.lit(int(BASE.timestamp() * 1000)) + offset)
    types = F.array(*[F.lit(t) for t in ("A", "B", "C", "D", "X", "X")])
    kind = F.element_at(types, (F.pmod(F.xxhash64(F.col("id") * 31), F.lit(6)) + 1).cast("int"))
    plan = F.create_map(F.lit("plan"), F.when(F.col("id") % 3 == 0, '"paid"').otherwise('"free"'))
    return ids.select(
        F.col("id").cast("string").alias(C.EVENT_ID),
        time.alias(C.EVENT_TIME),
        time.cast("date").alias(C.EVENT_DATE),
        kind.alias(C.EVENT_TYPE),
        F.concat(F.lit("u"), (F.col("id") % 7).cast("string")).alias(C.USER_KEY),
        unit.alias(C.GROUP_VALUE),
        plan.alias(C.EVENT_PROPERTIES),
        F.lit(None).cast("map<string,string>").alias(C.PROPERTIES),
        unit.alias(R.UNIT),
        F.lit(None).cast("string").alias(R.COHORT_SEGMENT),
    ).select(*ROW_COLUMNS, R.COHORT_SEGMENT)


def test_funnel_over_two_million_rows(spark, tmp_path) -> None:
    report = report_from(tmp_path, FUNNEL)
    per_group = funnel_per_group(funnel_rows(generated_rows(spark), report), report).persist()
    steps = funnel_steps(per_group, report)
    plan = steps._jdf.queryExecution().executedPlan().toString()
    assert "CartesianProduct" not in plan
    assert "BroadcastNestedLoopJoin" not in plan
    rows = steps.filter(F.col(R.BREAKDOWN) == "(all)").orderBy(R.STEP).collect()
    reached = [r[R.REACHED] for r in rows]
    assert reached[0] == GROUPS + 1  # every group did A (the heavy one too)
    assert reached[0] >= reached[1] >= reached[2] > 0
    heavy = per_group.filter(F.col(R.UNIT) == "heavy").first()
    assert heavy[R.REACHED] == 3
    per_group.unpersist()
