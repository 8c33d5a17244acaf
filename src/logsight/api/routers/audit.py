"""An organization's audit log, newest first, for its admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from psycopg.rows import dict_row
from pydantic import BaseModel

from logsight.api.deps import CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, encode_cursor
from logsight.tenancy.access import Role
from logsight.tenancy.listing import int_after, page_of

router = APIRouter(
    prefix="/organizations/{organization_id}/audit", tags=["audit"], responses=ERROR_RESPONSES
)


class AuditEntryPublic(BaseModel):
    id: int
    created_at: datetime
    action: str
    actor_user_id: UUID | None
    actor_email: str | None
    target_type: str | None
    target_id: str | None
    ip: str | None
    details: dict[str, Any]


@router.get("", response_model=Page[AuditEntryPublic], summary="Audit log (admins)")
def list_audit(
    organization_id: UUID,
    access: CurrentAccess,
    *,
    action: Annotated[
        str | None,
        Query(
            max_length=100,
            pattern=r"^[a-z_]+(\.[a-z_]+)*(\.\*)?$",
            description="An action (member.role_changed), or a family of them (member.*).",
        ),
    ] = None,
    actor: Annotated[UUID | None, Query(description="Only what this user did.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AuditEntryPublic]:
    access.organization(organization_id, need=Role.ADMIN, reading=True)
    where = ""
    params: dict[str, Any] = {"org": organization_id, "limit": limit + 1}
    if action is not None and action.endswith(".*"):
        where += " AND starts_with(a.action, %(action)s)"
        params["action"] = action[:-1]
    elif action is not None:
        where += " AND a.action = %(action)s"
        params["action"] = action
    if actor is not None:
        where += " AND a.actor_user_id = %(actor)s"
        params["actor"] = actor
    after = int_after(cursor)
    if after is not None:
        where += " AND a.id < %(after)s"
        params["after"] = after
    with access.conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT a.id, a.created_at, a.action, a.actor_user_id, u.email AS actor_email,"
            " a.target_type, a.target_id, a.ip, a.details"
            " FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id"
            f" WHERE a.organization_id = %(org)s{where}"
            " ORDER BY a.id DESC LIMIT %(limit)s",
            params,
        ).fetchall()
    page, more = page_of(rows, limit)
    return Page[AuditEntryPublic](
        data=[AuditEntryPublic(**r) for r in page],
        next_cursor=encode_cursor([page[-1]["id"]]) if more else None,
    )
