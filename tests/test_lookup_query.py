"""Account lookup query syntax (Spark-free): NAME = VALUE, quotes, and errors with a column."""

from __future__ import annotations

import pytest

from groupetl.errors import InputError
from groupetl.lookup.query import Query, QueryError, parse_query


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plan = paid", Query("plan", "paid")),
        ("plan=paid", Query("plan", "paid")),
        ("plan =paid", Query("plan", "paid")),
        ("  plan=   paid  ", Query("plan", "paid")),
        ('Account Name = "Acme Corp"', Query("Account Name", "Acme Corp")),
        ('Account Name="Acme Corp"', Query("Account Name", "Acme Corp")),
        ("Account Name = 'Acme Corp'", Query("Account Name", "Acme Corp")),
        ('"Account Name" = Acme', Query("Account Name", "Acme")),
        ('region = "EU"', Query("region", "EU")),
        ("seats = 10", Query("seats", "10")),
        ('note = "a=b"', Query("note", "a=b")),
        ("""name = "O'Brien Ltd" """, Query("name", "O'Brien Ltd")),
        ("plan\t=\tpaid", Query("plan", "paid")),
        ('title = "  padded  "', Query("title", "  padded  ")),
        ("domain = acme.io", Query("domain", "acme.io")),
    ],
)
def test_valid_queries_parse_to_property_and_value(text: str, expected: Query) -> None:
    assert parse_query(text) == expected


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("plan = paid, region = EU", 12, "commas are not allowed"),
        ("plan = paid; region = EU", 12, "semicolons are not allowed"),
        ('name = "Acme, Inc"', 13, "commas are not allowed"),
        ("", 1, "empty query; expected NAME = VALUE, e.g. plan = paid"),
        ("   ", 1, "empty query; expected NAME = VALUE, e.g. plan = paid"),
        ("plan paid", 10, "expected '=' between a property name and a value"),
        ("= paid", 1, "missing property name before '='"),
        ("plan =", 7, "missing value after '='"),
        ("plan = ", 7, "missing value after '='"),
        ("plan = paid = free", 13, "only one '=' is allowed; quote a value with '='"),
        ("Account Name = Acme Corp", 21, 'a value of several words needs quotes: "Acme Corp"'),
        ('name = "Acme Corp', 8, 'unterminated quote: add a closing "'),
        ('name = "Acme" Corp', 15, "unexpected text after the quoted value"),
        ('name = "Acme"Corp', 14, "expected a space or '=' after the closing quote"),
        ('name = Ac"me', 10, "a quote can only open or close a whole name or value"),
        ('name = ""', 8, "empty value"),
        ('"" = x', 1, "empty property name"),
        ('"Account" Name = x', 11, "unexpected text after the quoted property name"),
        ('Account "Name" = x', 9, "quote the whole property name, or none of it"),
        ("plan = paid\nregion = EU", 12, "line breaks are not allowed"),
    ],
)
def test_syntax_errors_point_at_the_column(text: str, column: int, reason: str) -> None:
    with pytest.raises(QueryError) as err:
        parse_query(text)
    assert (err.value.column, err.value.reason) == (column, reason)
    assert str(err.value) == f"query error at column {column}: {reason}"


def test_query_error_is_an_input_error_with_a_caret_pointer() -> None:
    text = "plan = paid, region = EU"
    with pytest.raises(InputError) as err:
        parse_query(text)
    assert isinstance(err.value, QueryError)
    assert err.value.pointer(text) == "plan = paid, region = EU\n           ^"


def test_property_name_keeps_inner_spacing_and_case() -> None:
    assert parse_query("Account  name = x") == Query("Account  name", "x")
