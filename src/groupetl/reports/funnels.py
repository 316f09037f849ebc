"""Funnels counted by group, evaluated with window functions and array higher-order functions.

Pure DataFrame transforms (the runner reads and writes). The chain for one report::

    report_rows(...).transform(with_cohort)   # inputs.py
      -> funnel_rows(rows, report)            # only step/exclusion events, with bit masks
      -> funnel_per_group(frows, report)      # one row per unit: the counted attempt
      -> funnel_steps(per_group, report)      # per (breakdown, cohort segment, step)

Rules (docs/reports/funnels.md says the same with examples):

- A unit (group, or user) *enters* with a first-step event dated inside ``from``..``to``; its
  members' events are pooled, so an admin's step 1 and a patient's step 2 convert the group.
- Events are ordered by time. Events at the same millisecond (the same second with
  ``same_second_any_order``) may count in either order: inside such a tie they are taken in
  funnel-step order (exclusion-only events first, then by the lowest step they match).
- ``this_order``: from a first-step event s, each next step is the first later event matching
  it (greedy; other events may occur between). ``exact_order``: the next step must be the very
  next step-matching event of the unit (any event matching any step counts as "in between",
  including a repeat of the previous step). Both: each step's time <= time(s) + window
  (inclusive: exactly at the window counts, 1 ms later does not).
- ``any_order``: steps in any order; step k is reached when steps 1..k each have an event
  inside one window span (<= window from the span's first event), step 1 included.
- Exclusion of pair (i, i+1): an exclusion event strictly after step i's tie and strictly before
  step i+1's tie ends that attempt at step i.
- The attempt that counts is the earliest first-step occurrence reaching the furthest step
  (Amplitude's rule); the breakdown is the value on that attempt's first-step event.

Complexity per unit with L step-relevant events and n steps: one sort (L log L) for the window
functions, O(L * n) pointer columns ("next event matching step k") computed by growing frames,
and O(S * n) pointer hops for S candidate starts: linear, no self-join, no per-unit Python.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from groupetl.reports.columns import ALL_LABEL, R
from groupetl.reports.definitions import FunnelReport
from groupetl.reports.inputs import all_hold, fingerprint, label_text, sum_fingerprint
from groupetl.reports.segmentation import RunInfo
from groupetl.schemas import FUNNEL_GROUPS, FUNNEL_STEPS, C

# working columns
TIME_MS, STEP_MASK, EXCL_MASK, IN_RANGE = "_time_ms", "_step_mask", "_excl_mask", "_in_range"
TIE, RANK, POS = "_tie", "_rank", "_pos"
NXT, NXT_ANY, NXT_EXCL, EVENTS = "_nxt", "_nxt_any", "_nxt_excl", "_events"
FUNNEL_ROW_COLUMNS = (
    R.UNIT,
    C.EVENT_ID,
    TIME_MS,
    STEP_MASK,
    EXCL_MASK,
    R.BREAKDOWN,
    IN_RANGE,
    R.COHORT_SEGMENT,
)
PER_GROUP_COLUMNS = (
    R.UNIT,
    R.BREAKDOWN,
    R.COHORT_SEGMENT,
    R.REACHED,
    R.ATTEMPT_START,
    R.STEP_TIMES,
    R.FINGERPRINT,
)


def funnel_rows(rows: DataFrame, report: FunnelReport) -> DataFrame:
    """Report rows (inputs.ROW_COLUMNS + cohort_segment) -> FUNNEL_ROW_COLUMNS.

    Only events matching some step or exclusion are kept. ``_step_mask`` bit k-1 = matches step
    k; ``_excl_mask`` bit i-1 = excludes pair (i, i+1); ``_in_range`` = dated inside
    ``from``..``to`` (where a first step may enter). A user report's event can have several rows
    (one per group): they are merged into one, masks OR-ed.
    """
    n = len(report.steps)
    step_mask = F.lit(0)
    for k, step in enumerate(report.steps):
        matches = (F.col(C.EVENT_TYPE) == step.event) & all_hold(step.where)
        step_mask = step_mask.bitwiseOR(F.when(matches, F.lit(1 << k)).otherwise(F.lit(0)))
    excl_mask = F.lit(0)
    for x in report.exclusions:
        pairs = (1 << (x.after_step - 1)) if x.after_step else (1 << (n - 1)) - 1
        matches = (F.col(C.EVENT_TYPE) == x.event) & all_hold(x.where)
        excl_mask = excl_mask.bitwiseOR(F.when(matches, F.lit(pairs)).otherwise(F.lit(0)))
    in_range = F.lit(True)
    if report.date_from is not None:
        in_range = in_range & (F.col(C.EVENT_DATE) >= F.lit(report.date_from))
    if report.date_to is not None:
        in_range = in_range & (F.col(C.EVENT_DATE) <= F.lit(report.date_to))
    marked = rows.select(
        R.UNIT,
        C.EVENT_ID,
        F.unix_millis(C.EVENT_TIME).alias(TIME_MS),
        step_mask.alias(STEP_MASK),
        excl_mask.alias(EXCL_MASK),
        label_text(report.breakdown, ALL_LABEL).alias(R.BREAKDOWN),
        in_range.alias(IN_RANGE),
        R.COHORT_SEGMENT,
    ).filter((F.col(STEP_MASK) != 0) | (F.col(EXCL_MASK) != 0))
    if not report.counts_users:
        return marked  # ATTRIBUTED_EVENTS has one row per (event, group) already
    return (
        marked.groupBy(R.UNIT, C.EVENT_ID)
        .agg(
            F.min(TIME_MS).alias(TIME_MS),
            F.bit_or(STEP_MASK).alias(STEP_MASK),
            F.bit_or(EXCL_MASK).alias(EXCL_MASK),
            F.min(R.BREAKDOWN).alias(R.BREAKDOWN),  # several groups: the smallest value
            F.max(IN_RANGE).alias(IN_RANGE),
            F.first(R.COHORT_SEGMENT).alias(R.COHORT_SEGMENT),  # one per unit
        )
        .select(*FUNNEL_ROW_COLUMNS)
    )


def row_fingerprint() -> Column:
    """The hash of one funnel row: every column that can change the unit's attempt."""
    return fingerprint(*FUNNEL_ROW_COLUMNS[1:], R.UNIT)


def unit_fingerprints(frows: DataFrame) -> DataFrame:
    """FUNNEL_ROW_COLUMNS -> (unit, fingerprint): what a unit's result depends on."""
    return frows.groupBy(R.UNIT).agg(sum_fingerprint(row_fingerprint()).alias(R.FINGERPRINT))


def _bit(mask: Column, k: int | Column) -> Column:
    """True when bit ``k`` - 1 of ``mask`` is set (step k, 1-based)."""
    return F.bit_get(mask, F.lit(k - 1) if isinstance(k, int) else k - 1) == 1


def with_pointers(frows: DataFrame, report: FunnelReport) -> DataFrame:
    """FUNNEL_ROW_COLUMNS -> the same plus ``_pos`` and pointers to later events of the unit.

    ``_pos`` numbers a unit's events from the *latest* (1) to the earliest (L), so "later"
    means a smaller ``_pos``. ``_nxt[k]``: the ``_pos`` of the nearest later event matching step
    k (at or after this one for any_order); ``_nxt_any``: the nearest later event matching any
    step; ``_nxt_excl[i]``: the nearest later exclusion event of pair (i, i+1). Each is a
    ``last(..., ignorenulls)`` over a growing frame: one pass per unit.
    """
    n = len(report.steps)
    tie = F.floor(F.col(TIME_MS) / 1000) if report.same_second_any_order else F.col(TIME_MS)
    rank = F.lit(0)  # exclusion-only events first inside a tie, then by the lowest step
    for k in range(n, 0, -1):
        rank = F.when(_bit(F.col(STEP_MASK), k), F.lit(k)).otherwise(rank)
    ranked = frows.withColumns({TIE: tie.cast("long"), RANK: rank})
    order = Window.partitionBy(R.UNIT).orderBy(
        F.col(TIE).desc(), F.col(RANK).desc(), F.col(TIME_MS).desc(), F.col(C.EVENT_ID).desc()
    )
    inclusive = report.order == "any_order"
    frame = order.rowsBetween(Window.unboundedPreceding, 0 if inclusive else -1)

    def nearest(cond: Column) -> Column:
        return F.last(F.when(cond, F.col(POS)), ignorenulls=True).over(frame)

    pointers = {
        NXT: F.array(*[nearest(_bit(F.col(STEP_MASK), k)) for k in range(1, n + 1)]),
        NXT_ANY: nearest(F.col(STEP_MASK) != 0),
        NXT_EXCL: F.array(*[nearest(_bit(F.col(EXCL_MASK), i)) for i in range(1, n)]),
    }
    return ranked.withColumn(POS, F.row_number().over(order)).withColumns(pointers)


def funnel_per_group(frows: DataFrame, report: FunnelReport) -> DataFrame:
    """FUNNEL_ROW_COLUMNS -> PER_GROUP_COLUMNS: one row per unit with its counted attempt.

    ``reached`` 0 means the unit had step-relevant events but no first step inside the dates;
    ``step_times`` holds the time of each reached step (for any_order: when steps 1..k were all
    done). ``fingerprint`` is the unit's ``unit_fingerprints`` value.
    """
    event = F.struct(
        F.col(POS).alias("pos"),
        F.col(TIME_MS).alias("t"),
        F.col(TIE).alias("tie"),
        F.col(STEP_MASK).alias("mask"),
        F.col(IN_RANGE).alias("ok"),
        F.col(R.BREAKDOWN).alias("bk"),
        F.col(NXT).alias("nxt"),
        F.col(NXT_ANY).alias("nxt_any"),
        F.col(NXT_EXCL).alias("nxt_excl"),
    )
    grouped = (
        with_pointers(frows, report)
        .groupBy(R.UNIT)
        .agg(
            F.array_sort(F.collect_list(event)).alias(EVENTS),  # by pos: element_at(_, pos)
            F.first(R.COHORT_SEGMENT).alias(R.COHORT_SEGMENT),
            sum_fingerprint(row_fingerprint()).alias(R.FINGERPRINT),
        )
    )
    events = F.col(EVENTS)
    if report.order == "any_order":
        best = _best_any_order(events, report)
    else:
        best = _best_ordered(events, report)
    reached = F.coalesce(best["reached"], F.lit(0))
    return grouped.select(
        R.UNIT,
        best["bk"].alias(R.BREAKDOWN),
        R.COHORT_SEGMENT,
        reached.cast("int").alias(R.REACHED),
        F.timestamp_millis(best["t0"]).alias(R.ATTEMPT_START),
        F.transform(best["times"], F.timestamp_millis).alias(R.STEP_TIMES),
        R.FINGERPRINT,
    )


def _at(events: Column, pos: Column) -> Column:
    return F.try_element_at(events, pos)


def _best_ordered(events: Column, report: FunnelReport) -> Column:
    """The best attempt of a unit for this_order / exact_order (struct: reached, start, t0,
    times, bk); ``array_max`` orders by reached, then by start ``pos`` (larger = earlier)."""
    n, window = len(report.steps), report.window_ms
    exact = report.order == "exact_order"
    has_exclusions = bool(report.exclusions)

    def attempt(s: Column) -> Column:
        def step(acc: Column, k: Column) -> Column:
            e = _at(events, acc["pos"])
            q = e["nxt_any"] if exact else F.try_element_at(e["nxt"], k)
            qe = _at(events, q)
            ok = acc["alive"] & q.isNotNull() & (qe["t"] <= s["t"] + F.lit(window))
            if exact:
                ok = ok & _bit(qe["mask"], k)
            if has_exclusions:
                x = F.try_element_at(e["nxt_excl"], k - 1)
                between = x.isNotNull() & (x > q) & (_at(events, x)["tie"] < qe["tie"])
                ok = ok & ~F.coalesce(between, F.lit(False))
            moved = F.struct(
                k.alias("reached"),
                q.alias("pos"),
                F.lit(True).alias("alive"),
                F.concat(acc["times"], F.array(qe["t"])).alias("times"),
            )
            stopped = acc.withField("alive", F.lit(False))
            return F.when(F.coalesce(ok, F.lit(False)), moved).otherwise(stopped)

        init = F.struct(
            F.lit(1).alias("reached"),
            s["pos"].alias("pos"),
            F.lit(True).alias("alive"),
            F.array(s["t"]).alias("times"),
        )
        done = F.aggregate(F.sequence(F.lit(2), F.lit(n)), init, step)
        return F.struct(
            done["reached"].alias("reached"),
            s["pos"].alias("start"),
            s["t"].alias("t0"),
            done["times"].alias("times"),
            s["bk"].alias("bk"),
        )

    starts = F.filter(events, lambda e: _bit(e["mask"], 1) & e["ok"])
    return F.array_max(F.transform(starts, attempt))


def _best_any_order(events: Column, report: FunnelReport) -> Column:
    """The best any_order attempt of a unit: from each step event s (the span's first event),
    the earliest event of each step at or after s; step k is reached while steps 1..k all fall
    within s + window. Step 1's event must be inside the report's dates."""
    n, window = len(report.steps), report.window_ms

    def attempt(s: Column) -> Column:
        first = _at(events, F.try_element_at(s["nxt"], F.lit(1)))

        def step(acc: Column, k: Column) -> Column:
            qe = _at(events, F.try_element_at(s["nxt"], k))
            ok = acc["alive"] & qe.isNotNull() & (qe["t"] <= s["t"] + F.lit(window))
            done_at = F.greatest(acc["done_at"], qe["t"])
            moved = F.struct(
                k.alias("reached"),
                F.lit(True).alias("alive"),
                done_at.alias("done_at"),
                F.concat(acc["times"], F.array(done_at)).alias("times"),
            )
            stopped = acc.withField("alive", F.lit(False))
            return F.when(F.coalesce(ok, F.lit(False)), moved).otherwise(stopped)

        init = F.struct(
            F.lit(0).alias("reached"),
            F.coalesce(first["ok"], F.lit(False)).alias("alive"),
            F.lit(0).cast("long").alias("done_at"),
            F.array().cast("array<bigint>").alias("times"),
        )
        done = F.aggregate(F.sequence(F.lit(1), F.lit(n)), init, step)
        return F.struct(
            done["reached"].alias("reached"),
            s["pos"].alias("start"),
            first["t"].alias("t0"),
            done["times"].alias("times"),
            first["bk"].alias("bk"),
        )

    candidates = F.filter(
        F.transform(F.filter(events, lambda e: e["mask"] != 0), attempt), lambda a: a["reached"] > 0
    )
    return F.array_max(candidates)


def funnel_steps(per_group: DataFrame, report: FunnelReport) -> DataFrame:
    """PER_GROUP_COLUMNS -> (breakdown, cohort_segment, step, reached, from_previous,
    from_first, dropped, median_seconds, p90_seconds), every step present (0 when none).

    With a breakdown, a ``(all)`` breakdown holds the totals. Times are from the previous step,
    among the units that reached the step (percentile_approx: a value that occurred).
    """
    entered = per_group.filter(F.col(R.REACHED) >= 1)
    if report.breakdown is not None:
        entered = entered.unionByName(entered.withColumn(R.BREAKDOWN, F.lit(ALL_LABEL)))
    step = F.col(R.STEP)
    times = F.col(R.STEP_TIMES)
    before = F.greatest(step - 1, F.lit(1))  # index 0 is an error even where unused
    gap_ms = F.unix_millis(F.element_at(times, step)) - F.unix_millis(F.element_at(times, before))
    exploded = entered.select(
        R.BREAKDOWN,
        R.COHORT_SEGMENT,
        R.STEP_TIMES,
        F.explode(F.sequence(F.lit(1), F.col(R.REACHED))).alias(R.STEP),
    ).withColumn("_gap", F.when(step > 1, F.greatest(gap_ms, F.lit(0)) / 1000.0))
    keys = (R.BREAKDOWN, R.COHORT_SEGMENT)
    stats = exploded.groupBy(*keys, R.STEP).agg(
        F.count(F.lit(1)).alias(R.REACHED),
        F.percentile_approx("_gap", [0.5, 0.9], 10_000).alias("_pct"),
    )
    grid = (
        entered.select(*keys)
        .distinct()
        .withColumn(R.STEP, F.explode(F.sequence(F.lit(1), F.lit(len(report.steps)))))
    )
    g, s = grid.alias("g"), stats.alias("s")
    joined = g.join(
        s,
        on=[
            F.col(f"g.{R.BREAKDOWN}") == F.col(f"s.{R.BREAKDOWN}"),
            F.col(f"g.{R.COHORT_SEGMENT}").eqNullSafe(F.col(f"s.{R.COHORT_SEGMENT}")),
            F.col(f"g.{R.STEP}") == F.col(f"s.{R.STEP}"),
        ],
        how="left",
    ).select(
        *[F.col(f"g.{k}").alias(k) for k in (*keys, R.STEP)],
        F.coalesce(F.col(f"s.{R.REACHED}"), F.lit(0)).alias(R.REACHED),
        F.col("s._pct").alias("_pct"),
    )
    return joined.transform(_conversion_columns)


def _conversion_columns(df: DataFrame) -> DataFrame:
    """Add from_previous, from_first, dropped and the time percentiles (null at step 1)."""
    steps = Window.partitionBy(R.BREAKDOWN, R.COHORT_SEGMENT).orderBy(R.STEP)
    previous = F.lag(R.REACHED).over(steps)
    first = F.first(R.REACHED).over(steps)
    reached = F.col(R.REACHED)
    later = F.col(R.STEP) > 1
    return df.select(
        R.BREAKDOWN,
        R.COHORT_SEGMENT,
        R.STEP,
        reached.alias(R.REACHED),
        F.when(later, F.try_divide(reached, previous)).alias(R.FROM_PREVIOUS),
        F.try_divide(reached, first).alias(R.FROM_FIRST),
        F.when(later, previous - reached).otherwise(F.lit(0)).cast("long").alias(R.DROPPED),
        F.when(later, F.col("_pct")[0]).alias(R.MEDIAN_SECONDS),
        F.when(later, F.col("_pct")[1]).alias(R.P90_SECONDS),
    )


def funnel_steps_table(steps: DataFrame, report: FunnelReport, run: RunInfo) -> DataFrame:
    """funnel_steps output -> rows of the gold FUNNEL_STEPS table."""
    labels = F.array(*[F.lit(s.label) for s in report.steps])
    return steps.select(
        F.lit(report.name).alias(R.REPORT_NAME),
        F.lit(run.run_id).alias(R.RUN_ID),
        F.lit(run.computed_at).cast("timestamp").alias(R.COMPUTED_AT),
        F.lit(report.group_type).alias(R.GROUP_TYPE),
        R.BREAKDOWN,
        R.COHORT_SEGMENT,
        F.col(R.STEP).cast("int").alias(R.STEP),
        F.element_at(labels, F.col(R.STEP)).alias(R.STEP_EVENT),
        F.col(R.REACHED).cast("long").alias(R.REACHED),
        R.FROM_PREVIOUS,
        R.FROM_FIRST,
        R.DROPPED,
        R.MEDIAN_SECONDS,
        R.P90_SECONDS,
    ).select(*FUNNEL_STEPS.fieldNames())


def funnel_groups_table(per_group: DataFrame, report: FunnelReport, run: RunInfo) -> DataFrame:
    """PER_GROUP_COLUMNS -> rows of the gold FUNNEL_GROUPS table."""
    return per_group.select(
        F.lit(report.name).alias(R.REPORT_NAME),
        F.lit(run.run_id).alias(R.RUN_ID),
        F.lit(run.computed_at).cast("timestamp").alias(R.COMPUTED_AT),
        F.lit(report.group_type).alias(R.GROUP_TYPE),
        F.col(R.UNIT).alias(R.GROUP_VALUE),
        R.BREAKDOWN,
        R.COHORT_SEGMENT,
        R.REACHED,
        R.ATTEMPT_START,
        R.STEP_TIMES,
        R.FINGERPRINT,
    ).select(*FUNNEL_GROUPS.fieldNames())
