"""Property values in their decoded text form, in plain Python (no Spark).

The same rules as the Spark expressions of ``groupetl.cohorts.columns`` (``decoded_text``,
``list_items_text``, ``value_matches``), which read values through Spark's VARIANT type, so the
JVM-free lookup (``groupetl.lookup.duck``) matches exactly the groups the Spark lookup matches
(``tests/test_jvm_free.py`` compares both on the same values):

- a JSON string reads as its text: ``'"Acme"'`` -> ``Acme``;
- a JSON number reads as VARIANT spells it: integers as digits (``5``), plain decimals with
  their trailing zeros dropped (``5.0`` -> ``5``, ``10.50`` -> ``10.5``), numbers with an
  exponent or beyond 38 digits as a double (``1e3`` -> ``1000.0``);
- ``true`` / ``false`` as they are; JSON ``null`` and text that is not JSON stay as they are;
- a list or an object reads as its compact JSON text (object keys sorted).
"""

from __future__ import annotations

import decimal
import json
import math
from typing import Any

_MAX_DECIMAL_DIGITS = 38


class _Double(float):
    """A JSON number VARIANT stores as a double (printed the way Java prints doubles)."""


def _number(text: str) -> Any:
    """A JSON number -> int, Decimal (plain decimals that fit 38 digits) or _Double."""
    if "e" in text or "E" in text:
        return _Double(text)
    d = decimal.Decimal(text)
    if len(d.as_tuple().digits) > _MAX_DECIMAL_DIGITS:
        return _Double(text)
    return d


def _reject(constant: str) -> Any:
    raise ValueError(f"not JSON: {constant}")


def parse(text: str) -> Any:
    """JSON text -> Python value as VARIANT holds it; ValueError when it is not JSON."""
    return json.loads(text, parse_float=_number, parse_int=_integer, parse_constant=_reject)


def _integer(text: str) -> Any:
    value = int(text)
    return value if -(2**63) <= value < 2**63 else _number(text)


def _java_double(value: float) -> str:
    """A double as Java's ``Double.toString`` writes it (``1000.0``, ``1.5E-7``, ``1.0E21``)."""
    if math.isinf(value) or math.isnan(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    exact = decimal.Decimal(repr(abs(value))).normalize()  # shortest round-trip digits
    if 1e-3 <= abs(value) < 1e7:
        text = format(exact, "f")
        return sign + (text if "." in text else text + ".0")
    _, digits, exponent = exact.as_tuple()
    text = "".join(map(str, digits))
    return f"{sign}{text[0]}.{text[1:] or '0'}E{len(text) - 1 + int(exponent)}"


def _text(value: Any) -> str | None:
    """A parsed value as VARIANT's cast to string spells it (None for JSON null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, _Double):
        return _java_double(float(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return _decimal_text(value)
    return _compact(value)


def _decimal_text(value: decimal.Decimal) -> str:
    stripped = value.normalize()
    text = format(stripped, "f")
    return "0" if stripped == 0 else text


def _compact(value: Any) -> str:
    """A parsed list or object as VARIANT's compact JSON (keys sorted, numbers as it spells them)."""
    if isinstance(value, list):
        return "[" + ",".join(_compact(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(k, ensure_ascii=False)}:{_compact(value[k])}" for k in sorted(value))
        return "{" + ",".join(items) + "}"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    text = _text(value)
    return "null" if text is None else text


def decoded_text(value: str | None) -> str | None:
    """Stored JSON (or plain) text -> its decoded text form; None stays None."""
    if value is None:
        return None
    try:
        parsed = parse(value)
    except ValueError:
        return value
    text = _text(parsed)
    return value if text is None else text


def list_items_text(value: str | None) -> list[str | None] | None:
    """The decoded items of a JSON list value; None when ``value`` is not a JSON list."""
    if value is None:
        return None
    try:
        parsed = parse(value)
    except ValueError:
        return None
    return [_text(v) for v in parsed] if isinstance(parsed, list) else None


def value_matches(value: str | None, text: str) -> bool:
    """True when ``value`` reads ``text`` (both decoded), or is a list with an item that does."""
    wanted = decoded_text(text)
    if value is None:
        return False
    return decoded_text(value) == wanted or wanted in (list_items_text(value) or [])
