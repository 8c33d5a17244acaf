"""The current user: who they are, their organizations and roles, their password."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.routers.auth import Builtin, SessionPublic, Svc, session_public
from logsight.auth import login as flows
from logsight.auth.passwords import MAX_LENGTH, MIN_LENGTH
from logsight.tenancy.access import Role

router = APIRouter(prefix="/users", tags=["users"], responses=ERROR_RESPONSES)


class MembershipPublic(BaseModel):
    id: UUID
    name: str
    slug: str
    role: Role


class UserPublic(BaseModel):
    id: UUID
    email: str
    name: str
    created_at: datetime
    last_login_at: datetime | None
    has_password: bool = Field(description="A built-in account (else an identity provider's).")
    organizations: list[MembershipPublic]


class PasswordUpdate(BaseModel):
    current_password: str = Field(min_length=1, max_length=MAX_LENGTH)
    new_password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)


@router.get("/me", response_model=UserPublic, summary="You, your organizations and roles")
def me(access: CurrentAccess) -> UserPublic:
    with access.conn.cursor(row_factory=dict_row) as cur:
        user = cur.execute(
            "SELECT id, email, name, created_at, last_login_at,"
            " password_hash IS NOT NULL AS has_password FROM users WHERE id = %s",
            (access.user_id,),
        ).fetchone()
    assert user is not None
    organizations = [MembershipPublic(**row) for row in access.organizations()]
    return UserPublic(**user, organizations=organizations)


@router.post(
    "/me/password",
    response_model=SessionPublic,
    summary="Change your password",
    description="Needs the current password. Ends every session of the account (other "
    "devices must log in again) and returns fresh tokens for this one.",
)
def change_password(
    body: PasswordUpdate,
    access: CurrentAccess,
    svc: Svc,
    issuer: Builtin,
    ip: ClientIp,
) -> SessionPublic:
    access.require_write()
    pair = flows.change_password(
        access.conn,
        svc.settings,
        issuer,
        access.principal,
        current=body.current_password,
        new=body.new_password,
        ip=ip,
    )
    return session_public(pair)
