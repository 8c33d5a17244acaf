"""An organization's audit log, newest first, for its admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from logsight.api.deps import CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.pagination import DEFAULT_LIMIT, SERIAL, Limit, Page, decode_cursor, page
from logsight.query import audit as audit_queries
from logsight.tenancy.access import Role

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
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AuditEntryPublic]:
    access.organization(organization_id, need=Role.ADMIN, reading=True)
    rows, following = audit_queries.entries(
        access.conn,
        organization_id,
        action=action,
        actor=actor,
        limit=limit,
        after=decode_cursor(cursor, SERIAL),
    )
    return page([AuditEntryPublic(**r) for r in rows], following)
