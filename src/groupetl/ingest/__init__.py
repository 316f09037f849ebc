"""Ingestion: raw product-analytics files -> bronze -> one normalized silver shape.

``run(spark, config)`` is the stage's entry point (``groupetl ingest``, ``jobs/ingest.py``); see
:mod:`groupetl.ingest.pipeline` for the steps and docs/input-formats.md for the formats.
"""

from __future__ import annotations

from groupetl.ingest.pipeline import run

__all__ = ["run"]
