"""Great Expectations (1.x) on Spark: run the catalog's suites and turn results into outcomes.

One ephemeral GX context per QA run: suites and results live in memory, and one Data Docs site
writes HTML to the run's ``data_docs_dir``. Each suite becomes a GX ``ExpectationSuite`` over a
Spark ``DataFrameAsset`` and is run by a ``ValidationDefinition`` with the DataFrame as batch
parameter. (A ``Checkpoint`` passes the same batch parameters to all its validation definitions,
so it cannot hand each suite its own frame; Data Docs are built once at the end instead of by an
``UpdateDataDocsAction`` per suite.)

GX computes every metric with Spark; what comes back to the driver is counts and up to
``PARTIAL_UNEXPECTED`` offending values per expectation.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame

from groupetl.qa.catalog import Check, Suite
from groupetl.qa.report import MAX_SAMPLES, ExpectationOutcome
from groupetl.qa.settings import ERROR, WARNING

log = logging.getLogger(__name__)

SITE = "groupetl_qa"
QA_ID = "groupetl_qa_id"  # key of the expectation's meta holding its catalog id
# More than MAX_SAMPLES, so that repeated values still leave up to five distinct samples.
PARTIAL_UNEXPECTED = 20
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": PARTIAL_UNEXPECTED}
_GX_SEVERITY = {ERROR: "critical", WARNING: "warning"}


class GxRun:
    """A GX context for one QA run: validates suites, then builds the Data Docs."""

    def __init__(self, data_docs_dir: Path, run_name: str, run_time: dt.datetime):
        import great_expectations as gx

        self._gx = gx
        self.data_docs_dir = data_docs_dir
        self.context = gx.get_context(
            mode="ephemeral", project_config=_context_config(data_docs_dir)
        )
        # persist=False: QA persists each frame itself for the duration of its suite only.
        self._source = self.context.data_sources.add_spark(name="groupetl", persist=False)
        self.run_id = gx.RunIdentifier(run_name=run_name, run_time=run_time)

    def validate(self, suite: Suite, frame: DataFrame) -> list[ExpectationOutcome]:
        """Run ``suite`` on ``frame``; one outcome per check, in catalog order.

        In: a catalog suite and the frame it validates. Out: outcomes (GX results are also
        kept in the context's store for the Data Docs).
        """
        gx = self._gx
        batch = self._source.add_dataframe_asset(
            name=suite.name
        ).add_batch_definition_whole_dataframe("whole")
        expectations = [build_expectation(c) for c in suite.checks]
        gx_suite = self.context.suites.add(
            gx.ExpectationSuite(name=suite.name, expectations=expectations)
        )
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=gx_suite)
        )
        frame.persist()  # every metric of the suite is one Spark job over the same frame
        try:
            result = definition.run(
                batch_parameters={"dataframe": frame},
                result_format=RESULT_FORMAT,
                run_id=self.run_id,
            )
        finally:
            frame.unpersist()
        by_id = {r.expectation_config.meta.get(QA_ID): r for r in result.results}
        return [to_outcome(suite.name, c, by_id.get(c.id)) for c in suite.checks]

    def build_docs(self) -> tuple[Path, dict[str, str]]:
        """Write the Data Docs site; return its index.html and each suite's result page.

        Out: (index path, suite name -> path of its validation page relative to the site).
        """
        self.context.build_data_docs(site_names=[SITE])
        pages: dict[str, str] = {}
        for key in self.context.validation_results_store.list_keys():
            urls = self.context.get_docs_sites_urls(resource_identifier=key, site_name=SITE)
            url = urls[0]["site_url"] if urls else None
            if url and url.startswith("file://"):
                page = Path(url.removeprefix("file://"))
                pages[key.expectation_suite_identifier.name] = page.relative_to(
                    self.data_docs_dir.resolve()
                ).as_posix()
        return self.data_docs_dir / "index.html", pages


def _context_config(data_docs_dir: Path) -> Any:
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
    )

    site = {
        "class_name": "SiteBuilder",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(data_docs_dir.resolve()),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    return DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={SITE: site},
        analytics_enabled=False,  # an orchestrator gate makes no calls home
        progress_bars={"globally": False},  # no interactive output in job logs
    )


def build_expectation(check: Check) -> Any:
    """The GX expectation of ``check``: its class and arguments, id in meta, severity and text.

    The description replaces GX's generated sentence in Data Docs, so the pages show the
    same ids and severities as the printed table.
    """
    import great_expectations as gx

    cls = getattr(gx.expectations, check.expectation)
    return cls(
        **check.kwargs,
        meta={QA_ID: check.id, "severity": check.severity},
        severity=_GX_SEVERITY[check.severity],
        description=f"{check.id} [{check.severity}]: {check.text}",
    )


def to_outcome(suite: str, check: Check, result: Any | None) -> ExpectationOutcome:
    """An outcome from one GX ``ExpectationValidationResult`` (None: GX returned no result)."""
    if result is None:
        return ExpectationOutcome(
            suite, check.id, check.severity, False, "no result", (), check.text
        )
    error = _exception_message(result.exception_info)
    if error is not None:
        log.warning("QA expectation %s raised: %s", check.id, error)
        return ExpectationOutcome(
            suite, check.id, check.severity, False, f"error: {error[:200]}", (), check.text
        )
    details = result.result or {}
    samples = () if result.success else _distinct_samples(details.get("partial_unexpected_list"))
    return ExpectationOutcome(
        suite,
        check.id,
        check.severity,
        bool(result.success),
        _observed(check, details),
        samples,
        check.text,
    )


def _observed(check: Check, details: dict[str, Any]) -> str:
    if check.observe == "value":
        value = details.get("observed_value")
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    rows = details.get("element_count") or 0
    return f"{details.get('unexpected_count') or 0:,} of {rows:,} rows"


def _distinct_samples(values: list[Any] | None) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for v in values or []:
        seen.setdefault(str(v), None)
        if len(seen) == MAX_SAMPLES:
            break
    return tuple(seen)


def _exception_message(info: dict[str, Any] | None) -> str | None:
    """The first raised exception's message in GX's exception_info (flat or keyed by metric)."""
    if not info:
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message")) if info.get("raised_exception") else None
    for nested in info.values():
        if isinstance(nested, dict) and nested.get("raised_exception"):
            return str(nested.get("exception_message"))
    return None
