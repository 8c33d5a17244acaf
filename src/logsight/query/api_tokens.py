"""The signed-in user's API tokens as lists show them: never the secret, its prefix only."""

from __future__ import annotations

from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from logsight.query.keyset import Key, Order, Row, fetch

OLDEST_FIRST = Order(("created_at", "id"), ("created_at", "id"))
COLUMNS = (
    "id, name, scope, token_prefix AS prefix, created_at, last_used_at, expires_at,"
    " coalesce(expires_at <= now(), false) AS expired"
)


def tokens(
    conn: psycopg.Connection, user_id: UUID, *, limit: int, after: Key | None = None
) -> tuple[list[Row], Key | None]:
    """The user's tokens that are not revoked (expired ones included)."""
    return fetch(
        conn,
        f"SELECT {COLUMNS} FROM api_tokens WHERE user_id = %(user)s AND revoked_at IS NULL",
        OLDEST_FIRST,
        limit=limit,
        after=after,
        params={"user": user_id},
    )


def token(conn: psycopg.Connection, token_id: UUID) -> Row | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {COLUMNS} FROM api_tokens WHERE id = %s", (token_id,)
        ).fetchone()
