"""Cursor pagination: opaque cursors that encode the last item's sort key.

Cursors come back from clients and what they hold reaches SQL, so a cursor is read only in the
exact shape its list writes (JSON types checked strictly, times with an offset and within the
calendar, ids, counts within bigint). Anything else, garbled, forged, or written by another list
or sort order, is a 400 naming the cursor.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from logsight.api.storable import BIGINT_MAX, within_calendar
from logsight.errors import ApiError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


class Page[T](BaseModel):
    data: list[T]
    next_cursor: str | None = None


_Time = Annotated[AwareDatetime, AfterValidator(within_calendar)]
_Count = Annotated[int, Field(ge=0, le=BIGINT_MAX)]
_Serial = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
_STRICT = ConfigDict(strict=True)

# The shapes lists write: the sort key of their last item.
TIME: TypeAdapter[tuple[datetime]] = TypeAdapter(tuple[_Time], config=_STRICT)
TIME_ID: TypeAdapter[tuple[datetime, UUID]] = TypeAdapter(tuple[_Time, UUID], config=_STRICT)
TIME_SERIAL: TypeAdapter[tuple[datetime, int]] = TypeAdapter(tuple[_Time, _Serial], config=_STRICT)
COUNT_ID: TypeAdapter[tuple[int, UUID]] = TypeAdapter(tuple[_Count, UUID], config=_STRICT)
SERIAL: TypeAdapter[tuple[int]] = TypeAdapter(tuple[_Serial], config=_STRICT)


def encode_cursor(values: Sequence[Any]) -> str:
    # orjson writes times in ISO 8601 with their offset and ids as text: what the shapes read.
    return base64.urlsafe_b64encode(orjson.dumps(list(values), default=str)).decode().rstrip("=")


def page[T](items: list[T], following: Sequence[Any] | None) -> Page[T]:
    """A page of ``items``, with the cursor of the key its list continues after (if any)."""
    return Page[T](data=items, next_cursor=None if following is None else encode_cursor(following))


def decode_cursor[T](cursor: str | None, shape: TypeAdapter[T]) -> T | None:
    """The values of a cursor written by ``encode_cursor``, in ``shape``; None without one."""
    if not cursor:
        return None
    try:
        document = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return shape.validate_json(document)
    except ValueError as exc:  # base64's, and pydantic's ValidationError
        raise ApiError(400, "invalid_cursor", "cursor is not valid", "cursor") from exc
