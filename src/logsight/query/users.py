"""A user as the API shows them to themselves."""

from __future__ import annotations

from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from logsight.query.keyset import Row


def user(conn: psycopg.Connection, user_id: UUID) -> Row | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id, email, name, created_at, last_login_at,"
            " password_hash IS NOT NULL AS has_password, password_change_required"
            " FROM users WHERE id = %s",
            (user_id,),
        ).fetchone()
