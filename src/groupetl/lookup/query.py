"""Account lookup query syntax: ``NAME = VALUE`` (Spark-free).

Grammar (docs/semantics.md "Account lookup")::

    query  := name '=' value            spaces around '=' are optional
    name   := word (space word)* | quoted
    value  := word | quoted             a value of several words needs quotes
    quoted := '"' text '"' | "'" text "'"   (no escapes: use the other quote to include one)

Commas and semicolons are not allowed anywhere (not even inside quotes): one condition per
query. Errors say where: ``query error at column 12: commas are not allowed``; columns count
characters from 1.

>>> parse_query('Account Name = "Acme Corp"')
Query(property='Account Name', value='Acme Corp')
>>> parse_query("plan=paid")
Query(property='plan', value='paid')
"""

from __future__ import annotations

from dataclasses import dataclass

from groupetl.errors import InputError

QUOTES = ('"', "'")
_FORBIDDEN = {",": "commas are not allowed", ";": "semicolons are not allowed"}
_SPACE = (" ", "\t")


class QueryError(InputError):
    """A lookup query that does not parse; ``column`` is the 1-based position of the problem."""

    def __init__(self, column: int, reason: str):
        super().__init__(f"query error at column {column}: {reason}")
        self.column = column
        self.reason = reason

    def pointer(self, text: str) -> str:
        """The query and a caret under the offending column (two lines, for a terminal)."""
        return f"{text}\n{' ' * (self.column - 1)}^"


@dataclass(frozen=True)
class Query:
    """``property = value``: match groups whose ``property`` ever had ``value``."""

    property: str
    value: str


@dataclass(frozen=True)
class _Token:
    kind: str  # "word" | "quoted" | "eq"
    text: str
    start: int  # 0-based index of the first character
    end: int  # 0-based index just past the last character


def _check_characters(text: str) -> None:
    for i, ch in enumerate(text):
        if ch in _FORBIDDEN:
            raise QueryError(i + 1, _FORBIDDEN[ch])
        if ch in "\r\n":
            raise QueryError(i + 1, "line breaks are not allowed")


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _SPACE:
            i += 1
        elif ch == "=":
            tokens.append(_Token("eq", "=", i, i + 1))
            i += 1
        elif ch in QUOTES:
            close = text.find(ch, i + 1)
            if close < 0:
                raise QueryError(i + 1, f"unterminated quote: add a closing {ch}")
            tokens.append(_Token("quoted", text[i + 1 : close], i, close + 1))
            i = close + 1
            if i < len(text) and text[i] not in (*_SPACE, "="):
                raise QueryError(i + 1, "expected a space or '=' after the closing quote")
        else:
            j = i
            while j < len(text) and text[j] not in (*_SPACE, "=", *QUOTES):
                j += 1
            if j < len(text) and text[j] in QUOTES:
                raise QueryError(j + 1, "a quote can only open or close a whole name or value")
            tokens.append(_Token("word", text[i:j], i, j))
            i = j
    return tokens


def _name(text: str, left: list[_Token], eq: _Token) -> str:
    if not left:
        raise QueryError(eq.start + 1, "missing property name before '='")
    if left[0].kind == "quoted":
        if len(left) > 1:
            raise QueryError(left[1].start + 1, "unexpected text after the quoted property name")
        if not left[0].text.strip():
            raise QueryError(left[0].start + 1, "empty property name")
        return left[0].text
    for t in left[1:]:
        if t.kind == "quoted":
            raise QueryError(t.start + 1, "quote the whole property name, or none of it")
    return text[left[0].start : left[-1].end]


def _value(text: str, right: list[_Token], eq: _Token) -> str:
    if not right:
        raise QueryError(eq.end + 1, "missing value after '='")
    first = right[0]
    if len(right) > 1:
        if first.kind == "quoted":
            raise QueryError(right[1].start + 1, "unexpected text after the quoted value")
        raise QueryError(
            right[1].start + 1,
            f'a value of several words needs quotes: "{text[first.start : right[-1].end]}"',
        )
    if first.kind == "quoted" and not first.text:
        raise QueryError(first.start + 1, "empty value")
    return first.text


def parse_query(text: str) -> Query:
    """Parse ``NAME = VALUE``; raise QueryError (an InputError) pointing at the problem."""
    _check_characters(text)
    tokens = _tokens(text)
    if not tokens:
        raise QueryError(1, "empty query; expected NAME = VALUE, e.g. plan = paid")
    equals = [t for t in tokens if t.kind == "eq"]
    if not equals:
        raise QueryError(len(text.rstrip()) + 1, "expected '=' between a property name and a value")
    if len(equals) > 1:
        raise QueryError(equals[1].start + 1, "only one '=' is allowed; quote a value with '='")
    eq = equals[0]
    at = tokens.index(eq)
    return Query(_name(text, tokens[:at], eq), _value(text, tokens[at + 1 :], eq))
