"""Helpers the tenancy routers share: keyset cursors, text fields, and the role check of
restricted reads.

Cursors are opaque to clients but decoded values reach SQL, so they are read in the shape their
list writes (logsight.api.pagination): a forged cursor is a 400, never a database error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field

from logsight.api.pagination import SERIAL, TIME_ID, TIME_SERIAL, decode_cursor, encode_cursor

# Text PostgreSQL cannot store (NUL) is refused for every field by logsight.api.storable.
Name = Annotated[str, Field(min_length=1, max_length=100)]
Label = Annotated[str, Field(max_length=100)]
# Deliberately loose: deliverability is the identity provider's business, not ours.
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]


def time_id_after(cursor: str | None) -> tuple[datetime, UUID] | None:
    """The (created_at, id) a (created_at, id)-ordered page continues after."""
    return decode_cursor(cursor, TIME_ID)


def after_clause(
    after: tuple[datetime, UUID] | None, time_col: str = "created_at", id_col: str = "id"
) -> tuple[str, dict[str, Any]]:
    """The WHERE fragment (and its parameters) continuing an ascending (time, id) keyset."""
    if after is None:
        return "", {}
    return f" AND ({time_col}, {id_col}) > (%(at)s, %(after)s)", {"at": after[0], "after": after[1]}


def time_id_cursor(row: dict[str, Any], time_key: str = "created_at", id_key: str = "id") -> str:
    return encode_cursor([row[time_key].isoformat(), str(row[id_key])])


def int_after(cursor: str | None) -> int | None:
    """The bigint id a page ordered by id (descending) continues after."""
    after = decode_cursor(cursor, SERIAL)
    return None if after is None else after[0]


def time_int_after(cursor: str | None) -> tuple[datetime, int] | None:
    """The (created_at, bigint id) a newest-first page continues after."""
    return decode_cursor(cursor, TIME_SERIAL)


def page_of[R](rows: list[R], limit: int) -> tuple[list[R], bool]:
    """Rows were fetched with LIMIT limit + 1: the page, and whether another one follows."""
    return rows[:limit], len(rows) > limit
