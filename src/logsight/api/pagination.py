"""Cursor pagination: opaque cursors that encode the last item's sort key."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from pydantic import BaseModel

from logsight.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page[T](BaseModel):
    data: list[T]
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values, default=str)).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = orjson.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise ApiError(400, "invalid_cursor", "cursor is not valid", "cursor") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise ApiError(400, "invalid_cursor", "cursor is not valid", "cursor")
    return values
