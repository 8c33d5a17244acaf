"""The audit log of an organization, newest first."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from logsight.query.keyset import Key, Order, Row, fetch

NEWEST_FIRST = Order(("a.id",), ("id",), descending=True)


def entries(
    conn: psycopg.Connection,
    organization_id: UUID,
    *,
    action: str | None = None,
    actor: UUID | None = None,
    limit: int,
    after: Key | None = None,
) -> tuple[list[Row], Key | None]:
    """One page of entries; ``action`` ending in ``.*`` names a family of actions."""
    where = ""
    params: dict[str, Any] = {"org": organization_id}
    if action is not None and action.endswith(".*"):
        where += " AND starts_with(a.action, %(action)s)"
        params["action"] = action[:-1]
    elif action is not None:
        where += " AND a.action = %(action)s"
        params["action"] = action
    if actor is not None:
        where += " AND a.actor_user_id = %(actor)s"
        params["actor"] = actor
    return fetch(
        conn,
        "SELECT a.id, a.created_at, a.action, a.actor_user_id, u.email AS actor_email,"
        " a.target_type, a.target_id, a.ip, a.details"
        " FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id"
        f" WHERE a.organization_id = %(org)s{where}",
        NEWEST_FIRST,
        limit=limit,
        after=after,
        params=params,
    )
