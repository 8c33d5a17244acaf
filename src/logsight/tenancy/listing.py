"""Helpers the tenancy routers share: keyset cursors, text fields PostgreSQL can store, and the
role check of restricted reads.

Cursors are opaque to clients but decoded values reach SQL, so they are type-checked here: a
forged cursor is a 400, never a database error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field

from logsight.api.pagination import decode_cursor, encode_cursor
from logsight.errors import ApiError

# PostgreSQL text cannot hold NUL; rejecting it at validation keeps it a 422, not a 500.
NO_NUL = r"^[^\x00]*$"

Name = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
Label = Annotated[str, Field(max_length=100, pattern=NO_NUL)]
# Deliberately loose: deliverability is the identity provider's business, not ours.
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")]

BIGINT_MAX = 2**63 - 1


def _invalid() -> ApiError:
    return ApiError(400, "invalid_cursor", "cursor is not valid", "cursor")


def time_id_after(cursor: str | None) -> tuple[datetime, UUID] | None:
    """The (created_at, id) a (created_at, id)-ordered page continues after."""
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        at = datetime.fromisoformat(str(values[0]))
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, UUID(str(values[1]))
    except ValueError as exc:
        raise _invalid() from exc


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
    values = decode_cursor(cursor, 1)
    if values is None:
        return None
    value = values[0]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= BIGINT_MAX:
        raise _invalid()
    return value


def time_int_after(cursor: str | None) -> tuple[datetime, int] | None:
    """The (created_at, bigint id) a newest-first page continues after."""
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        at = datetime.fromisoformat(str(values[0]))
    except ValueError as exc:
        raise _invalid() from exc
    value = values[1]
    if at.tzinfo is None or not isinstance(value, int) or not 0 < value <= BIGINT_MAX:
        raise _invalid()
    return at, value


def page_of[R](rows: list[R], limit: int) -> tuple[list[R], bool]:
    """Rows were fetched with LIMIT limit + 1: the page, and whether another one follows."""
    return rows[:limit], len(rows) > limit
