"""Pure ``Column -> Column`` expressions shared by the ingest parsers and by QA.

Nothing here reads or writes a table. Every expression is safe on dirty input under Spark's ANSI
mode: ``try_cast`` / ``try_to_timestamp`` / ``try_variant_get`` return null instead of failing.

JSON values whose type matters (group values, property values, event property values) are read
as VARIANT, so a JSON string ``"5"`` and a number ``5`` stay distinguishable:
``schema_of_variant`` says ``STRING``, ``BIGINT``, ``DECIMAL(3,1)``, ``ARRAY<...>``,
``OBJECT<...>``, ``BOOLEAN`` or ``VOID`` (JSON null).
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column
from pyspark.sql import functions as F

from groupetl.schemas import C

MAX_STRING = 1024  # Amplitude cuts longer strings (docs/semantics.md "Bad input")
# Ids Amplitude refuses whatever their length (compared lower-cased, trimmed).
REFUSED_IDS = (
    "",
    "null",
    "none",
    "undefined",
    "unknown",
    "0",
    "-1",
    "00000000-0000-0000-0000-000000000000",
)
MIN_TIME = "2000-01-01 00:00:00"  # earliest sane record time (UTC)
MAX_AHEAD = "INTERVAL 1 DAY"  # latest sane record time: the file's arrival time plus this
MAX_EPOCH_DIGITS = 15  # more digits than this is far outside any sane range (and overflows)
NUMERIC_VARIANT = r"^(TINYINT|SMALLINT|INT|BIGINT|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\))$"
VARIANT_MAP = "map<string,variant>"
# Deepest JSON nesting a line may have (docs/input-formats.md "Validation"). Far above any real
# payload, and far below the depth where Spark's recursive VARIANT functions overflow a task's
# stack (about 900 levels in ``schema_of_variant``), which kills the whole local JVM.
MAX_JSON_DEPTH = 100
JSON_LIMITS = {"maxNestingDepth": str(MAX_JSON_DEPTH)}  # Jackson's read constraint, per parse
ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"
EXPORT_FORMATS = ("yyyy-MM-dd HH:mm:ss.SSSSSS", "yyyy-MM-dd HH:mm:ss")


def let(value: Column, body: Callable[[Column], Column]) -> Column:
    """``body(value)`` with ``value`` computed once: Spark SQL has no ``let``, and a lambda
    repeats the sub-expressions it reads several times; a one-element ``transform`` binds it
    (interpreted, so for the rare rows: a staged column instead costs a copy of every row)."""
    return F.element_at(F.transform(F.array(value), body), 1)


def col(c: Column | str) -> Column:
    """A column from a name or a column."""
    return F.col(c) if isinstance(c, str) else c


def is_valid_id(id_col: Column | str, min_length: Column | int) -> Column:
    """True when ``id_col`` is a usable user or device id (Amplitude's rules).

    At least ``min_length`` characters and none of :data:`REFUSED_IDS`. Null gives null (absent).
    Example: ``is_valid_id("user_id", 5)`` is false for ``"null"``, ``"abcd"``, ``"-1"``.
    """
    c = col(id_col)
    refused = F.lower(F.trim(c)).isin(*REFUSED_IDS)
    return (F.length(c) >= min_length) & ~refused


def position_in(value: Column, options: tuple[str, ...]) -> Column:
    """1-based position of ``value`` in the literal list ``options``; 0 when absent or null.

    Same as ``array_position(array(options), value)`` except for null, but a chain of
    comparisons: inside a lambda Spark evaluates ``array_position`` interpreted, and it was the
    hottest frame of ingest's profile (docs/performance.md).
    """
    position: Column = F.lit(0)
    for i, option in reversed(list(enumerate(options, start=1))):
        position = F.when(value == option, F.lit(i)).otherwise(position)
    return position


def is_blank(text: Column | str) -> Column:
    """True for null, empty or space-only text.

    ``trim`` copies the text: it runs only for text that starts with a space (nothing else can
    be blank), which keeps whole JSON objects from being copied to answer "no".
    """
    c = col(text)
    return c.isNull() | (F.length(c) == 0) | (c.startswith(" ") & (F.trim(c) == ""))


def strip_bom(text: Column | str) -> Column:
    """``text`` without a leading UTF-8 byte order mark (a prefix test, not a regex scan)."""
    c = col(text)
    return F.when(c.startswith("\ufeff"), F.substr(c, F.lit(2))).otherwise(c)


def is_json_object(text: Column | str) -> Column:
    """True when ``text`` is a JSON object (false for other JSON and for non-JSON text)."""
    return F.json_object_keys(col(text)).isNotNull()


def nests_too_deep(text: Column | str) -> Column:
    """True when ``text`` is a JSON object nested deeper than :data:`MAX_JSON_DEPTH` levels.

    Jackson reads it with its default limit (1000 levels: :func:`is_json_object`) but not with
    ours; text nested deeper than 1000 levels cannot be read at all (it is not JSON to Spark).
    Two parses: for the few lines that failed the one-parse read only.
    """
    limited = F.from_json(col(text), "map<string,string>", JSON_LIMITS)
    return is_json_object(text) & limited.isNull()


def is_absent_json(text: Column | str) -> Column:
    """True when a JSON field holding an object is absent, null, blank or an empty list.

    An empty list is what PHP's ``json_encode`` makes of an empty dictionary, so it means "none".
    """
    c = col(text)
    # the whitespace-removing regex only for text that can be "[]": no object or string inside
    maybe_list = c.contains("[") & ~c.contains("{") & ~c.contains('"')
    return is_blank(c) | (maybe_list & (F.regexp_replace(c, r"\s", "") == "[]"))


def variant_type(v: Column | str) -> Column:
    """The JSON type of a VARIANT value as Spark names it (``STRING``, ``BIGINT``, ``OBJECT<..>``)."""
    return F.schema_of_variant(col(v))


NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE")


def is_scalar_type(t: Column) -> Column:
    """True when the variant type name ``t`` (:func:`variant_type`) is a string or a number.

    Same as matching :data:`NUMERIC_VARIANT` or ``STRING`` (``schema_of_variant`` writes a
    decimal as ``DECIMAL(p,s)``), without a regex.
    """
    return (t == "STRING") | is_numeric_type(t)


def is_numeric_type(t: Column) -> Column:
    """True when the variant type name ``t`` is a number (:data:`NUMERIC_VARIANT`, no regex)."""
    return t.isin(*NUMERIC_TYPES) | t.startswith("DECIMAL(")


def is_scalar_variant(v: Column | str) -> Column:
    """True when a VARIANT holds a string or a number."""
    return is_scalar_type(variant_type(v))


def variant_string(v: Column | str) -> Column:
    """A VARIANT scalar as text (numbers stringified: ``1001`` -> ``"1001"``)."""
    return F.try_variant_get(col(v), "$", "string")


def json_string(text: Column | str) -> Column:
    """The JSON encoding of a string column (``ab"c`` -> ``"ab\\"c"``)."""
    return F.regexp_extract(F.to_json(F.array(col(text))), r"^\[(.*)\]$", 1)


def cut(text: Column | str) -> Column:
    """``text`` cut to :data:`MAX_STRING` characters."""
    c = col(text)
    return F.when(F.length(c) > MAX_STRING, F.substring(c, 1, MAX_STRING)).otherwise(c)


def is_too_long(text: Column | str) -> Column:
    """True when ``text`` is longer than :data:`MAX_STRING` (and will be cut)."""
    return F.coalesce(F.length(col(text)) > MAX_STRING, F.lit(False))


def variant_json(v: Column | str) -> Column:
    """JSON text of a VARIANT value; a string longer than the limit is cut first."""
    c = col(v)
    s = variant_string(c)
    long_string = (variant_type(c) == "STRING") & is_too_long(s)
    return F.when(long_string, json_string(cut(s))).otherwise(F.to_json(c))


def is_long_string_variant(v: Column | str) -> Column:
    """True when a VARIANT holds a string longer than the limit."""
    c = col(v)
    return F.coalesce((variant_type(c) == "STRING") & is_too_long(variant_string(c)), F.lit(False))


def last_wins(entries: Column) -> Column:
    """Map entries with a repeated key reduced to the last one (JSON's usual reading).

    ``from_json`` keeps every occurrence of a key repeated in an object; later steps need unique
    keys. In: array<struct<key, value>>. Out: the same, in listed order, keys unique.
    """
    keys = F.transform(entries, lambda e: e["key"])
    return F.filter(
        entries,
        lambda e, i: F.forall(
            F.slice(keys, i + 2, F.greatest(F.size(keys), F.lit(1))), lambda k: k != e["key"]
        ),
    )


def unique_entries(m: Column | str) -> Column:
    """Entries (key, value) of a map read from JSON, in listed order, keys unique (the last
    occurrence of a repeated key wins, at its own place: :func:`last_wins`).

    Repeated keys are rare: the quadratic :func:`last_wins` (interpreted lambdas) runs only for
    a map that has them; ``array_distinct`` / ``map_keys`` tell which, compiled.
    """
    c = col(m)
    keys = F.map_keys(c)
    entries = F.map_entries(c)
    return F.when(F.size(F.array_distinct(keys)) == F.size(keys), entries).otherwise(
        last_wins(entries)
    )


def object_map(text: Column | str) -> Column:
    """The JSON object ``text`` as map<string, variant> (listed order, repeated keys kept);
    null when it is absent (:func:`is_absent_json`) or is not a JSON object.

    One parse answers both "is it an object?" and "what does it hold?": ``from_json`` into a
    map is null exactly for text that is not a JSON object (what :func:`is_json_object` tests
    with a parse of its own). Stage it in a column of its own: it is read several times.
    """
    return F.when(~is_absent_json(text), F.from_json(col(text), VARIANT_MAP))


def ms_time(ts: Column) -> Column:
    """A timestamp truncated to milliseconds (Amplitude's resolution, and attribution's)."""
    return F.timestamp_millis(F.unix_millis(ts))


def epoch_ms_time(text: Column | str) -> Column:
    """Time of integer epoch milliseconds given as text; null unless it is such an integer."""
    c = F.trim(col(text))
    ok = c.rlike(rf"^-?\d{{1,{MAX_EPOCH_DIGITS}}}$")
    return F.when(ok, F.timestamp_millis(c.try_cast("long")))


def is_huge_integer(text: Column | str) -> Column:
    """True for an integer with more digits than any sane epoch time (so: out of range)."""
    return F.trim(col(text)).rlike(rf"^-?\d{{{MAX_EPOCH_DIGITS + 1},}}$")


def iso_time(text: Column | str) -> Column:
    """Time of an ISO-8601 date-time (``2026-01-05T10:00:00.123+02:00``, ``...Z``); else null.

    A date-time without zone is read as UTC (the session time zone is UTC).
    """
    c = F.trim(col(text))
    return F.when(c.rlike(ISO_DATETIME), ms_time(F.try_to_timestamp(c)))


def export_time(text: Column | str) -> Column:
    """Time of Amplitude Export's ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC) text; else null."""
    c = F.trim(col(text))
    parsed = [F.try_to_timestamp(c, F.lit(fmt)) for fmt in EXPORT_FORMATS]
    return ms_time(F.coalesce(*parsed))


def epoch_ms(ts: Column) -> Column:
    """Epoch milliseconds of a timestamp (for ``seq_ms``)."""
    return F.unix_millis(ts)


def checked_time(
    present: Column, parsed: Column, out_of_range: Column | None = None
) -> tuple[Column, Column]:
    """The record time and its problem, from a format's time field.

    In: whether the field is present, its parsed value (null when unparseable), optionally a flag
    for values that parse as numbers but cannot be times. Out: (time, problem) where time is the
    parsed time, or the file's arrival time when the field is absent (docs/semantics.md "Time and
    order"), and problem is ``invalid_time``, ``time_out_of_range`` or null. The sane range is
    [2000-01-01, arrival time + 1 day].
    """
    arrival = F.col(C.ARRIVAL_TIME)
    time = F.when(present, parsed).otherwise(arrival)
    too_big = out_of_range if out_of_range is not None else F.lit(False)
    in_range = (time >= F.lit(MIN_TIME).cast("timestamp")) & (time <= arrival + F.expr(MAX_AHEAD))
    problem = (
        F.when(present & too_big, F.lit("time_out_of_range"))
        .when(present & parsed.isNull(), F.lit("invalid_time"))
        .when(~in_range, F.lit("time_out_of_range"))
    )
    return time, problem


def json_path(dotted: str) -> str:
    """A ``get_json_object`` path for a dotted field path: ``a.b c`` -> ``$['a']['b c']``."""
    parts = [p.replace("'", "\\'") for p in dotted.split(".") if p]
    return "$" + "".join(f"['{p}']" for p in parts)


def record_order() -> list[Column]:
    """Sort keys of record order (docs/semantics.md "Time and order"): time, source sequence (nulls
    last), file, line, position. Unique per record, so any batching sorts records the same way."""
    return [
        F.col(C.EVENT_TIME).asc(),
        F.col(C.SEQ_MS).asc_nulls_last(),
        F.col(C.SOURCE_FILE).asc(),
        F.col(C.LINE_NUMBER).asc(),
        F.col(C.RECORD_INDEX).asc(),
    ]


def report(reason: str, detail: Column | str | None) -> Column:
    """One reported issue as the struct ``REPORTS`` arrays hold."""
    d = F.lit(detail) if isinstance(detail, str) or detail is None else detail
    return F.struct(F.lit(reason).alias(C.REASON), d.cast("string").alias(C.DETAIL))


REPORTS_TYPE = f"array<struct<{C.REASON}:string,{C.DETAIL}:string>>"


def reports_when(*pairs: tuple[Column, Column]) -> Column:
    """An array of the reports whose condition holds (a null condition does not):
    ``reports_when((cond, report(...)), ...)``. A concat of compiled pieces, not a ``filter``:
    every record evaluates it, and a lambda is interpreted (and keeps the whole projection out
    of Spark's generated code)."""
    empty = F.array().cast(REPORTS_TYPE)
    return F.concat(*[F.when(cond, F.array(rep)).otherwise(empty) for cond, rep in pairs])
