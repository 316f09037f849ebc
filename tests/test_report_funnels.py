"""Funnels counted by group: hand-checked cases for each rule of docs/reports/funnels.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from groupetl.reports.columns import R
from groupetl.reports.funnels import funnel_per_group, funnel_rows, funnel_steps
from groupetl.reports.inputs import report_rows, with_cohort
from test_report_helpers import at, attributed, event, report_from, version, versions

pytestmark = pytest.mark.spark

INVOICE = """
- name: invoices
  kind: funnel
  group_type: {group_type}
  steps: [Send Invoice, Pay Invoice]
  window: {window}
  order: {order}
"""


def funnel(tmp_path: Path, group_type="company", window="1 day", order="this_order", extra=""):
    return report_from(
        tmp_path, INVOICE.format(group_type=group_type, window=window, order=order) + extra
    )


def per_group(spark, report, rows, version_rows=()):
    """Rows -> {unit: (reached, breakdown)} through the real chain (no cohort)."""
    events = attributed(spark, rows)
    vers = versions(spark, list(version_rows))
    prepared = report_rows(events, vers, report).transform(
        lambda df: with_cohort(spark, None, df, report)  # no cohort: config unused
    )
    result = funnel_per_group(funnel_rows(prepared, report), report)
    return {r[R.UNIT]: (r[R.REACHED], r[R.BREAKDOWN]) for r in result.collect()}


def test_two_users_of_one_group_convert_the_group_but_not_themselves(spark, tmp_path) -> None:
    rows = [
        event("e1", at(0), "Send Invoice", "admin", "acme"),
        event("e2", at(30), "Pay Invoice", "patient", "acme"),
    ]
    by_group = per_group(spark, funnel(tmp_path / "g"), rows)
    by_user = per_group(spark, funnel(tmp_path / "u", group_type="user"), rows)
    assert by_group == {"acme": (2, "(all)")}
    assert by_user == {"admin": (1, "(all)"), "patient": (0, None)}


def test_window_is_inclusive_to_the_millisecond(spark, tmp_path) -> None:
    rows = [
        event("a1", at(0), "Send Invoice", "u1", "on_time"),
        event("a2", at(60), "Pay Invoice", "u1", "on_time"),  # exactly start + 1 hour
        event("b1", at(0), "Send Invoice", "u2", "late"),
        event("b2", at(60, ms=1), "Pay Invoice", "u2", "late"),  # 1 ms past the window
    ]
    result = per_group(spark, funnel(tmp_path, window="60 minutes"), rows)
    assert result == {"on_time": (2, "(all)"), "late": (1, "(all)")}


ABC = """
- name: abc
  kind: funnel
  group_type: company
  steps: [A, B, C]
  window: 1 day
  order: {order}
"""


@pytest.mark.parametrize(
    ("order", "expected"),
    [("this_order", 3), ("exact_order", 1), ("any_order", 3)],
)
def test_steps_done_out_of_order(spark, tmp_path, order, expected) -> None:
    # A, C, B, C: in this order A -> B -> (second) C; exact order breaks at the first C (a
    # step event that is not B); any order has all three within the window.
    rows = [
        event("1", at(0), "A", "u", "g"),
        event("2", at(1), "C", "u", "g"),
        event("3", at(2), "B", "u", "g"),
        event("4", at(3), "C", "u", "g"),
    ]
    report = report_from(tmp_path, ABC.format(order=order))
    assert per_group(spark, report, rows)["g"][0] == expected


@pytest.mark.parametrize(
    ("order", "expected"), [("this_order", 1), ("exact_order", 1), ("any_order", 2)]
)
def test_second_step_before_the_first(spark, tmp_path, order, expected) -> None:
    rows = [event("1", at(0), "Pay Invoice", "u", "g"), event("2", at(5), "Send Invoice", "u", "g")]
    assert per_group(spark, funnel(tmp_path, order=order), rows)["g"][0] == expected


def test_exact_order_restarts_at_a_repeated_first_step(spark, tmp_path) -> None:
    # A, A, B, C: the attempt from the first A meets another A (a step event) before B; the
    # attempt from the second A converts, so the group reaches step 3.
    rows = [
        event("1", at(0), "A", "u", "g"),
        event("2", at(1), "A", "u", "g"),
        event("3", at(2), "B", "u", "g"),
        event("4", at(3), "C", "u", "g"),
    ]
    report = report_from(tmp_path, ABC.format(order="exact_order"))
    assert per_group(spark, report, rows)["g"][0] == 3


EXCLUDE = """
  exclude:
    - event: Cancel Invoice
      between: [1, 2]
"""


def test_exclusion_between_steps_ends_that_attempt(spark, tmp_path) -> None:
    rows = [
        # excluded: Cancel between Send and Pay
        event("a1", at(0), "Send Invoice", "u", "excluded"),
        event("a2", at(1), "Cancel Invoice", "u", "excluded"),
        event("a3", at(2), "Pay Invoice", "u", "excluded"),
        # Cancel after Pay does not matter
        event("b1", at(0), "Send Invoice", "u", "after"),
        event("b2", at(2), "Pay Invoice", "u", "after"),
        event("b3", at(3), "Cancel Invoice", "u", "after"),
        # a new attempt after the Cancel converts
        event("c1", at(0), "Send Invoice", "u", "retried"),
        event("c2", at(1), "Cancel Invoice", "u", "retried"),
        event("c3", at(2), "Send Invoice", "u", "retried"),
        event("c4", at(3), "Pay Invoice", "u", "retried"),
        # a Cancel at the same millisecond as Pay is not strictly between
        event("d1", at(0), "Send Invoice", "u", "same_ms"),
        event("d2", at(2), "Cancel Invoice", "u", "same_ms"),
        event("d3", at(2), "Pay Invoice", "u", "same_ms"),
    ]
    result = per_group(spark, funnel(tmp_path, extra=EXCLUDE), rows)
    assert {g: r[0] for g, r in result.items()} == {
        "excluded": 1,
        "after": 2,
        "retried": 2,
        "same_ms": 2,
    }


def test_same_timestamp_and_same_second(spark, tmp_path) -> None:
    rows = [
        # same millisecond, Pay listed first: either order counts
        event("a1", at(0), "Pay Invoice", "u", "same_ms"),
        event("a2", at(0), "Send Invoice", "u", "same_ms"),
        # Pay 300 ms before Send, same second
        event("b1", at(0, ms=100), "Pay Invoice", "u", "same_s"),
        event("b2", at(0, ms=400), "Send Invoice", "u", "same_s"),
    ]
    strict = per_group(spark, funnel(tmp_path / "a"), rows)
    loose = per_group(spark, funnel(tmp_path / "b", extra="  same_second_any_order: true\n"), rows)
    assert {g: r[0] for g, r in strict.items()} == {"same_ms": 2, "same_s": 1}
    assert {g: r[0] for g, r in loose.items()} == {"same_ms": 2, "same_s": 2}


def test_earliest_attempt_reaching_the_furthest_step_sets_the_breakdown(spark, tmp_path) -> None:
    # plan was free until day 2, then paid. The day-0 attempt never pays within the window;
    # the day-3 attempt converts, so the group converts and is broken down under "paid".
    vers = [
        version("g", 1, at(0), at(day=2), {"plan": "free"}),
        version("g", 2, at(day=2), None, {"plan": "paid"}),
    ]
    rows = [
        event("1", at(0), "Send Invoice", "u", "g", 1),
        event("2", at(10, day=3), "Send Invoice", "u", "g", 2),
        event("3", at(20, day=3), "Pay Invoice", "u", "g", 2),
        event("4", at(30, day=3), "Send Invoice", "u", "g", 2),
    ]
    report = funnel(tmp_path, extra="  breakdown: group.plan\n")
    assert per_group(spark, report, rows, vers) == {"g": (2, "paid")}
    # both attempts convert: the earliest counts (breakdown free)
    rows.append(event("5", at(5), "Pay Invoice", "u", "g", 1))
    assert per_group(spark, report, rows, vers) == {"g": (2, "free")}


def test_repeated_step_needs_two_events(spark, tmp_path) -> None:
    aab = """
- name: aab
  kind: funnel
  group_type: company
  steps: [A, A, B]
"""
    rows = [
        event("1", at(0), "A", "u", "once"),
        event("2", at(1), "B", "u", "once"),
        event("3", at(0), "A", "u", "twice"),
        event("4", at(1), "A", "u", "twice"),
        event("5", at(2), "B", "u", "twice"),
    ]
    result = per_group(spark, report_from(tmp_path, aab), rows)
    assert {g: r[0] for g, r in result.items()} == {"once": 1, "twice": 3}


def test_multi_valued_event_counts_in_each_group(spark, tmp_path) -> None:
    rows = [
        event("1", at(0), "Send Invoice", "u", "acme"),
        event("1", at(0), "Send Invoice", "u", "globex"),  # the same event, two companies
        event("2", at(5), "Pay Invoice", "v", "globex"),
    ]
    result = per_group(spark, funnel(tmp_path), rows)
    assert {g: r[0] for g, r in result.items()} == {"acme": 1, "globex": 2}


def test_step_filters_on_event_and_group_properties(spark, tmp_path) -> None:
    filtered = """
- name: big_invoices
  kind: funnel
  group_type: company
  steps:
    - event: Send Invoice
      where: [{property: event.amount, op: ">", value: 100}]
    - event: Pay Invoice
      where: [{property: group.plan, op: "=", value: paid}]
"""
    vers = [version("g", 1, at(0), None, {"plan": "paid"}), version("h", 1, at(0), None, {})]
    rows = [
        event("1", at(0), "Send Invoice", "u", "g", 1, {"amount": 50}),
        event("2", at(1), "Send Invoice", "u", "g", 1, {"amount": 150}),
        event("3", at(2), "Pay Invoice", "u", "g", 1),
        event("4", at(0), "Send Invoice", "u", "h", 1, {"amount": 500}),
        event("5", at(1), "Pay Invoice", "u", "h", 1),  # h has no plan
    ]
    result = per_group(spark, report_from(tmp_path, filtered), rows, vers)
    assert {g: r[0] for g, r in result.items()} == {"g": 2, "h": 1}


def test_step_table_counts_conversion_and_times(spark, tmp_path) -> None:
    rows = [
        event("a1", at(0), "Send Invoice", "u", "a"),
        event("a2", at(10), "Pay Invoice", "u", "a"),
        event("b1", at(0), "Send Invoice", "u", "b"),
        event("b2", at(30), "Pay Invoice", "u", "b"),
        event("c1", at(0), "Send Invoice", "u", "c"),
        event("d2", at(0), "Pay Invoice", "u", "d"),  # never entered
    ]
    report = funnel(tmp_path)
    prepared = report_rows(attributed(spark, rows), versions(spark, []), report).transform(
        lambda df: with_cohort(spark, None, df, report)
    )
    steps = funnel_steps(funnel_per_group(funnel_rows(prepared, report), report), report)
    got = [
        (
            r[R.STEP],
            r[R.REACHED],
            r[R.FROM_PREVIOUS],
            r[R.FROM_FIRST],
            r[R.DROPPED],
            r[R.MEDIAN_SECONDS],
            r[R.P90_SECONDS],
        )
        for r in steps.orderBy(R.STEP).collect()
    ]
    assert got == [
        (1, 3, None, 1.0, 0, None, None),
        (2, 2, pytest.approx(2 / 3), pytest.approx(2 / 3), 1, 600.0, 1800.0),
    ]


def test_plan_has_no_cartesian_or_nested_loop_join(spark, tmp_path) -> None:
    report = funnel(tmp_path, extra=EXCLUDE + "  breakdown: group.plan\n")
    prepared = report_rows(attributed(spark, []), versions(spark, []), report).transform(
        lambda df: with_cohort(spark, None, df, report)
    )
    steps = funnel_steps(funnel_per_group(funnel_rows(prepared, report), report), report)
    plan = steps._jdf.queryExecution().executedPlan().toString()
    assert "CartesianProduct" not in plan
    assert "BroadcastNestedLoopJoin" not in plan
