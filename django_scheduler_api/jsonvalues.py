"""The JSON this app accepts and stores: what every supported database keeps alike, and nothing else.

Python's ``json`` reads more than the databases store. ``1e400`` becomes infinity and ``NaN`` a float
that SQLite's ``json_valid`` CHECK, PostgreSQL's ``jsonb`` and MariaDB refuse; ``"\\u0000"`` is a
string PostgreSQL cannot store; ``"\\ud800"`` is a lone UTF-16 surrogate that no UTF-8 database can
encode (SQLite stored it and then failed every read of the row); nesting 10,000 deep exhausts the
recursion of whatever reads it next, and MariaDB refuses 32 levels; and a repeated key silently keeps
the last value, hiding a typo.
So the API's parser (``loads``), job data from any source and a handler's result (``problem``) go
through the same rules, and a value that breaks one is refused before anything is written.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Deeper than any job's data needs, and what every database stores: MariaDB's JSON functions, and so
# the json_valid() CHECK of its JSON columns, refuse 32 levels.
MAX_DEPTH = 31

_UNSTORABLE_CHARS = re.compile("[\x00\ud800-\udfff]")


def problem(value: Any) -> str | None:
    """Why ``value`` cannot be stored as JSON on every supported database, or None if it can."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth > MAX_DEPTH:
                return f"JSON nested deeper than {MAX_DEPTH} levels."
            if isinstance(item, dict):
                for key in item:
                    if not isinstance(key, str):
                        return f"JSON object keys must be strings, not {type(key).__name__}."
                    if found := _string_problem(key):
                        return found
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if found := _string_problem(item):
                return found
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{item!r} is not a JSON number (numbers must be finite)."
        elif item is not None and not isinstance(item, bool | int):
            return f"A {type(item).__name__} is not a JSON value."
    return None


def _string_problem(text: str) -> str | None:
    match = _UNSTORABLE_CHARS.search(text)
    if match is None:
        return None
    char = match.group()
    if char == "\x00":
        return "JSON strings must not contain the NUL character (\\u0000)."
    return f"JSON strings must not contain a lone UTF-16 surrogate (\\u{ord(char):04x})."


def storable_text(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD, for a column that must take it (a
    handler's error message): a failure must be recorded even when its message is unstorable."""
    return _UNSTORABLE_CHARS.sub("\ufffd", text)


def loads(text: str | bytes) -> Any:
    """Parse JSON by this app's rules; ``ValueError`` with a sentence for a person otherwise.

    Bytes must be UTF-8 (RFC 8259). Duplicate keys, ``NaN``/``Infinity``, numbers too large for a
    double (``1e400``) and everything ``problem`` names are refused.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"The body is not UTF-8: {exc}.") from None
    try:
        value = json.loads(
            text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_finite_float
        )
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels.") from None
    found = problem(value)
    if found:
        raise ValueError(found)
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"Duplicate key {key!r} in a JSON object.")
        result[key] = value
    return result


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number.")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"The number {text} is too large (numbers must fit a double).")
    return number
