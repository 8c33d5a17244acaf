"""The organizations the signed-in user belongs to, with their role in each."""

from __future__ import annotations

from uuid import UUID

import psycopg

from logsight.query.keyset import Key, Order, Row, fetch

OLDEST_FIRST = Order(("o.created_at", "o.id"), ("created_at", "id"))


def organizations(
    conn: psycopg.Connection, user_id: UUID, *, limit: int, after: Key | None = None
) -> tuple[list[Row], Key | None]:
    return fetch(
        conn,
        "SELECT o.id, o.name, o.slug, o.created_at, m.role"
        " FROM organizations o JOIN memberships m ON m.organization_id = o.id"
        " WHERE m.user_id = %(user)s",
        OLDEST_FIRST,
        limit=limit,
        after=after,
        params={"user": user_id},
    )
