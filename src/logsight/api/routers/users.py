"""The current user: who they are, their organizations and roles, their password."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.routers.auth import Builtin, SessionPublic, Svc, session_public
from logsight.auth import login as flows
from logsight.auth.passwords import MAX_LENGTH, MIN_LENGTH
from logsight.query import users as user_queries
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
    password_change_required: bool = Field(
        description="The account must choose a new password (the printed admin's)."
    )
    organizations: list[MembershipPublic]


class PasswordUpdate(BaseModel):
    current_password: str = Field(min_length=1, max_length=MAX_LENGTH)
    new_password: str = Field(
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        description="Not one of the 30,000 most common passwords, nor the account's email "
        "address or its local part (any case).",
    )
    revoke_api_tokens: bool = Field(
        default=True,
        description="Also revoke every API token of the account (whoever knew the old "
        "password may have made one).",
    )


class RevokedTokenPublic(BaseModel):
    id: UUID
    name: str
    prefix: str


class PasswordChangedPublic(SessionPublic):
    revoked_sessions: int = Field(description="Sessions ended (this one's tokens are new).")
    revoked_api_tokens: list[RevokedTokenPublic]


@router.get("/me", response_model=UserPublic, summary="You, your organizations and roles")
def me(access: CurrentAccess) -> UserPublic:
    user = user_queries.user(access.conn, access.user_id)
    assert user is not None
    organizations = [MembershipPublic(**row) for row in access.organizations()]
    return UserPublic(**user, organizations=organizations)


@router.post(
    "/me/password",
    response_model=PasswordChangedPublic,
    summary="Change your password",
    description="Needs the current password. Ends every session of the account (other "
    "devices must log in again), revokes its API tokens unless revoke_api_tokens is false, "
    "and returns fresh tokens for this session with what was revoked. A common password or "
    "the email address answers 422 weak_password.",
)
def change_password(
    body: PasswordUpdate,
    access: CurrentAccess,
    svc: Svc,
    issuer: Builtin,
    ip: ClientIp,
) -> PasswordChangedPublic:
    access.require_write()
    changed = flows.change_password(
        access.conn,
        svc.settings,
        issuer,
        access.principal,
        current=body.current_password,
        new=body.new_password,
        revoke_api_tokens=body.revoke_api_tokens,
        ip=ip,
    )
    return PasswordChangedPublic(
        **session_public(changed.tokens).model_dump(),
        revoked_sessions=changed.revoked_sessions,
        revoked_api_tokens=[
            RevokedTokenPublic(id=t.id, name=t.name, prefix=t.prefix)
            for t in changed.revoked_api_tokens
        ],
    )
