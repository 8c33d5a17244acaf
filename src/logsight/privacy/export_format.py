"""Rows → CSV or JSON text, a chunk at a time (exports stream; nothing is held whole)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

_CHUNK_ROWS = 200


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def csv_chunks(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    """A header line, then the rows; JSON columns as JSON text, times in ISO 8601."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for count, row in enumerate(rows, 1):
        writer.writerow([_text(row.get(c)) for c in columns])
        if count % _CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_chunks(
    rows: Iterable[dict[str, Any]], head: dict[str, Any] | None = None
) -> Iterator[str]:
    """A JSON array of the rows, or ``{**head, "items": [...]}`` when ``head`` is given."""
    if head is None:
        yield "["
    else:
        opening = orjson.dumps({**head, "items": []}).decode()
        yield opening[: -len("[]}")] + "["
    parts: list[str] = []
    first = True
    for row in rows:
        encoded = orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z).decode()
        parts.append(encoded if first else "," + encoded)
        first = False
        if len(parts) >= _CHUNK_ROWS:
            yield "".join(parts)
            parts = []
    parts.append("]" if head is None else "]}")
    yield "".join(parts)
