"""Plain-text tables and values for people reading a terminal (``--json`` is for scripts)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any


def when(value: datetime | None) -> str:
    """An instant in UTC to the second, ``-`` for none: one zone keeps columns comparable."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return when(value)
    return str(value).replace("\n", " ")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns padded to their widest cell, headers on top; the last column is not padded."""
    text_rows = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in text_rows]) for i, h in enumerate(headers)]
    lines = [_line(headers, widths)] + [_line(r, widths) for r in text_rows]
    return "\n".join(lines)


def _line(values: Sequence[str], widths: list[int]) -> str:
    padded = [v.ljust(w) for v, w in zip(values[:-1], widths[:-1], strict=True)]
    return "  ".join([*padded, values[-1]]).rstrip()


def fields(pairs: Iterable[tuple[str, Any]]) -> str:
    """``label: value`` lines with the values aligned."""
    pairs = list(pairs)
    width = max(len(label) for label, _ in pairs)
    return "\n".join(f"{(label + ':').ljust(width + 1)} {cell(value)}" for label, value in pairs)
