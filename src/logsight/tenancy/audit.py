"""The audit log: security-relevant changes, readable by organization admins.

A change and its audit entry commit together or not at all: :func:`audited` opens the
transaction both are written in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


class AuditedWrite:
    """The open transaction of a change by one actor, from one address, in one organization
    (none for what belongs to no organization, or outlives it)."""

    def __init__(
        self,
        conn: psycopg.Connection,
        actor_user_id: UUID | None,
        ip: str | None,
        organization_id: UUID | None,
    ) -> None:
        self.conn = conn
        self.actor_user_id = actor_user_id
        self.ip = ip
        self.organization_id = organization_id

    def record(
        self,
        action: str,
        target_type: str,
        target_id: object | None,
        details: dict[str, Any] | None = None,
        *,
        organization_id: UUID | None = None,
    ) -> None:
        """Record ``action``; in ``organization_id`` when it is learnt inside the transaction."""
        record(
            self.conn,
            action,
            organization_id=organization_id or self.organization_id,
            actor_user_id=self.actor_user_id,
            target_type=target_type,
            target_id=target_id,
            ip=self.ip,
            details=details,
        )


@contextmanager
def audited(
    conn: psycopg.Connection,
    actor_user_id: UUID | None,
    ip: str | None,
    organization_id: UUID | None = None,
) -> Iterator[AuditedWrite]:
    """A transaction for a change and the audit entries recorded with it."""
    with conn.transaction():
        yield AuditedWrite(conn, actor_user_id, ip, organization_id)
