"""Instrumentation QA: expectation suites from the project's config, run with Great Expectations.

docs/semantics.md "Instrumentation QA". Entry points (imported lazily, so the Spark-free parts such as
the tracking plan import load neither Spark nor GX)::

    from groupetl.qa import run_qa, format_qa_table
    result = run_qa(spark, config, data_docs_dir=Path("data/test/qa-docs"))
    sys.exit(result.exit_code)

- ``run_qa`` / ``format_qa_table`` / ``QaResult``: the QA gate (``groupetl.qa.runner``, ``.report``)
- ``import_tracking_plan`` / ``render_tracking_plan_yaml``: CSV taxonomy -> ``tracking_plan:``
- ``compare_projects`` / ``format_taxonomy_diff``: what one project's data has and the other's not
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "run_qa": "groupetl.qa.runner",
    "validate_tables": "groupetl.qa.runner",
    "default_data_docs_dir": "groupetl.qa.runner",
    "QA_RESULTS": "groupetl.qa.runner",
    "QaResult": "groupetl.qa.report",
    "ExpectationOutcome": "groupetl.qa.report",
    "format_qa_table": "groupetl.qa.report",
    "EXIT_QA_FAILED": "groupetl.qa.report",
    "import_tracking_plan": "groupetl.qa.plan_import",
    "render_tracking_plan_yaml": "groupetl.qa.plan_import",
    "compare_projects": "groupetl.qa.compare",
    "format_taxonomy_diff": "groupetl.qa.compare",
    "TaxonomyDiff": "groupetl.qa.compare",
}

__all__ = sorted([*_EXPORTS, "run"])


def run(spark: Any, config: Any, *, progress: Any = None, date: Any = None, **_: object) -> Any:
    """Pipeline stage ``qa`` (``jobs/qa.py``, ``groupetl run``): ``run_qa`` into the default
    Data Docs folder; returns the run-log summary (``failed_errors`` > 0: the gate failed).

    The logical date is not used: QA checks the tables as they are now.
    """
    from groupetl.qa.runner import default_data_docs_dir, run_qa

    result = run_qa(spark, config, data_docs_dir=default_data_docs_dir(config), progress=progress)
    result.stage.notes.append(f"data docs: {result.data_docs_index}")
    return result.stage


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'groupetl.qa' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
