"""Account lookup: find groups by ``name = value`` and show one group's account view.

Public API:
- ``parse_query(text) -> Query`` (Spark-free; ``QueryError`` says the column).
- ``lookup(spark, config, group_type, query, now, *, limit=100) -> DataFrame``.
- ``account_view(spark, config, group_type, group_value, now, recent=20) -> AccountView``.
- ``raw_records(spark, config, event_ids) -> list[RawRecord]``.
- ``groupetl.lookup.duck``: the same three without Spark (delta-rs + DuckDB; what the CLI uses),
  plus ``explain_empty`` (why a lookup found nothing).
- ``lookup_rows(df)``, ``format_lookup(rows, fmt)``, ``format_account_view(view, fmt)``,
  ``format_raw_records(records, fmt)``: strings for the CLI (fmt: table | json | csv).
"""

from groupetl.lookup.account import AccountView, RawRecord, RecentEvent, account_view, raw_records
from groupetl.lookup.format import (
    FORMATS,
    format_account_view,
    format_lookup,
    format_raw_records,
    lookup_rows,
)
from groupetl.lookup.query import Query, QueryError, parse_query
from groupetl.lookup.search import LOOKUP_COLUMNS, active_since, lookup

__all__ = [
    "FORMATS",
    "LOOKUP_COLUMNS",
    "AccountView",
    "Query",
    "QueryError",
    "RawRecord",
    "RecentEvent",
    "account_view",
    "active_since",
    "format_account_view",
    "format_lookup",
    "format_raw_records",
    "lookup",
    "lookup_rows",
    "parse_query",
    "raw_records",
]
