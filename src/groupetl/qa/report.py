"""What a QA run returns and how it reads: per-expectation outcomes, exit code, printed table.

``QaResult.exit_code`` is the orchestrator's gate: 0 when every ``error`` expectation passed
(failed warnings included), :data:`EXIT_QA_FAILED` otherwise. It differs from the CLI's 1
(groupetl error) and 2 (config error), so a scheduler can tell "the data failed QA" from "the
QA job broke".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from groupetl.qa.settings import ERROR
from groupetl.stages import StageResult

EXIT_QA_FAILED = 3
MAX_SAMPLES = 5
_SAMPLES_WIDTH = 70


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation in one run.

    ``observed``: what GX measured, as text ("2 of 40 rows", "0.031"). ``samples``: up to
    five distinct offending values (as text), empty when the check passed or measures a total.
    """

    suite: str
    expectation: str
    severity: str
    passed: bool
    observed: str
    samples: tuple[str, ...] = ()
    text: str = ""

    @property
    def status(self) -> str:
        """``PASS``, ``FAIL`` (a failed error) or ``WARN`` (a failed warning)."""
        if self.passed:
            return "PASS"
        return "FAIL" if self.severity == ERROR else "WARN"


@dataclass(frozen=True)
class QaResult:
    """One QA run: every outcome, the suites skipped (with why), Data Docs, the stage summary."""

    run_id: str
    project: str
    run_time: dt.datetime
    outcomes: tuple[ExpectationOutcome, ...]
    skipped: tuple[str, ...]  # "silver.membership_history: table silver/membership_history missing"
    data_docs_index: Path
    stage: StageResult

    @property
    def failed_errors(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "FAIL")

    @property
    def failed_warnings(self) -> tuple[ExpectationOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "WARN")

    @property
    def exit_code(self) -> int:
        """0 unless an error-severity expectation failed (then :data:`EXIT_QA_FAILED`)."""
        return EXIT_QA_FAILED if self.failed_errors else 0

    def outcome(self, expectation: str) -> ExpectationOutcome:
        """The outcome of expectation id ``expectation``; KeyError when it did not run."""
        for o in self.outcomes:
            if o.expectation == expectation:
                return o
        raise KeyError(f"expectation {expectation!r} did not run in {self.run_id}")


def headline(result: QaResult) -> str:
    """One line: project, run, verdict and counts."""
    verdict = "FAILED" if result.exit_code else "PASSED"
    return (
        f"QA {result.project} {result.run_id}: {verdict}: {len(result.outcomes)} expectations, "
        f"{len(result.failed_errors)} errors failed, {len(result.failed_warnings)} warnings failed"
    )


def format_qa_table(result: QaResult) -> list[str]:
    """The run as printable lines: a headline, then one row per expectation, failures first.

    Columns: status (PASS/FAIL/WARN), severity, expectation id, observed, samples. Ends with
    the skipped suites and where the Data Docs are.
    """
    order = {"FAIL": 0, "WARN": 1, "PASS": 2}
    rows = [("status", "severity", "expectation", "observed", "samples")]
    rows += [
        (o.status, o.severity, o.expectation, o.observed, _samples_text(o.samples))
        for o in sorted(result.outcomes, key=lambda o: order[o.status])
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [headline(result)]
    for r in rows:
        cells = [r[i].ljust(widths[i]) for i in range(4)]
        lines.append("  ".join([*cells, r[4]]).rstrip())
    lines += [f"skipped {s}" for s in result.skipped]
    lines.append(f"data docs: {result.data_docs_index}")
    return lines


def _samples_text(samples: tuple[str, ...]) -> str:
    text = ", ".join(samples)
    return text if len(text) <= _SAMPLES_WIDTH else text[: _SAMPLES_WIDTH - 3] + "..."


def stage_result(outcomes: tuple[ExpectationOutcome, ...], skipped: tuple[str, ...]) -> StageResult:
    """The run-log summary of a QA run (the CLI prints it; the run log stores its counts)."""
    failed_errors = sum(o.status == "FAIL" for o in outcomes)
    failed_warnings = sum(o.status == "WARN" for o in outcomes)
    counts = {
        "expectations": len(outcomes),
        "passed": sum(o.passed for o in outcomes),
        "failed_errors": failed_errors,
        "failed_warnings": failed_warnings,
        "suites_skipped": len(skipped),
    }
    notes = [f"FAIL {o.expectation}: {o.observed}" for o in outcomes if o.status == "FAIL"]
    return StageResult("qa", counts=counts, notes=notes)
