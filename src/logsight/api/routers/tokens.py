"""Personal API tokens of the signed-in user, for scripts. The secret is shown once, when the
token is created; lists show its prefix only. Token events are audited against the user (they
belong to no organization)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Response, status
from pydantic import AfterValidator, BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.fields import Name
from logsight.api.pagination import DEFAULT_LIMIT, TIME_ID, Limit, Page, decode_cursor, page
from logsight.api.storable import Time
from logsight.errors import ApiError
from logsight.query import api_tokens as token_queries
from logsight.tenancy import api_tokens
from logsight.tenancy.access import Scope

router = APIRouter(prefix="/tokens", tags=["tokens"], responses=ERROR_RESPONSES)


def _aware(value: datetime) -> datetime:
    # A time without a zone is ambiguous; read it as UTC like every time in the API.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class TokenCreate(BaseModel):
    name: Name
    scope: Scope = Field(default="read", description="read: GET only; write: everything.")
    expires_at: Annotated[Time | None, AfterValidator(lambda v: v and _aware(v))] = Field(
        default=None, description="When the token stops working; never when unset."
    )


class TokenPublic(BaseModel):
    id: UUID
    name: str
    scope: Scope
    prefix: str = Field(description="The token's first characters, to recognize it.")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    expired: bool


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret. Shown this once: store it now.")


@router.get("", response_model=Page[TokenPublic], summary="Your API tokens (not revoked)")
def list_tokens(
    access: CurrentAccess, limit: Limit = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[TokenPublic]:
    rows, following = token_queries.tokens(
        access.conn, access.user_id, limit=limit, after=decode_cursor(cursor, TIME_ID)
    )
    return page([TokenPublic(**r) for r in rows], following)


@router.post(
    "",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an API token (its secret is in this response only)",
)
def create_token(body: TokenCreate, access: CurrentAccess, ip: ClientIp) -> TokenCreated:
    access.require_write()
    if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
        raise ApiError(422, "invalid_field", "expires_at must be in the future", "body.expires_at")
    issued = api_tokens.create(
        access, name=body.name, scope=body.scope, expires_at=body.expires_at, ip=ip
    )
    row = token_queries.token(access.conn, issued.id)
    assert row is not None
    return TokenCreated(**row, token=issued.token)


@router.delete(
    "/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke one of your tokens"
)
def revoke_token(token_id: UUID, access: CurrentAccess, ip: ClientIp) -> Response:
    api_tokens.revoke(access, token_id, ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
