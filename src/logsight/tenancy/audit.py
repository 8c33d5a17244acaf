"""The audit log: security-relevant changes, readable by organization admins."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
import psycopg


def record(
    conn: psycopg.Connection,
    action: str,
    *,
    organization_id: UUID | None = None,
    actor_user_id: UUID | None = None,
    target_type: str | None = None,
    target_id: object | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO audit_log"
        " (organization_id, actor_user_id, action, target_type, target_id, ip, details)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            organization_id,
            actor_user_id,
            action,
            target_type,
            None if target_id is None else str(target_id),
            ip,
            orjson.dumps(details or {}).decode(),
        ),
    )
