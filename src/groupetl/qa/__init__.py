"""Instrumentation QA: expectation suites from the project's config, run with Great Expectations.

SEMANTICS.md "Instrumentation QA". Entry points (imported lazily, so the Spark-free parts such as
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

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'groupetl.qa' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
