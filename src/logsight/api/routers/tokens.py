"""Personal API tokens of the signed-in user, for scripts. The secret is shown once, when the
token is created; lists show its prefix only. Token events are audited against the user (they
belong to no organization)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from psycopg.rows import dict_row
from pydantic import AfterValidator, BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from logsight.api.storable import Time
from logsight.errors import ApiError
from logsight.tenancy import api_tokens, audit
from logsight.tenancy.access import Scope
from logsight.tenancy.listing import Name, after_clause, page_of, time_id_after, time_id_cursor

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


_COLUMNS = (
    "id, name, scope, token_prefix AS prefix, created_at, last_used_at, expires_at,"
    " coalesce(expires_at <= now(), false) AS expired"
)


@router.get("", response_model=Page[TokenPublic], summary="Your API tokens (not revoked)")
def list_tokens(
    access: CurrentAccess,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[TokenPublic]:
    where, params = after_clause(time_id_after(cursor))
    with access.conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT {_COLUMNS} FROM api_tokens"
            f" WHERE user_id = %(user)s AND revoked_at IS NULL{where}"
            " ORDER BY created_at, id LIMIT %(limit)s",
            {"user": access.user_id, "limit": limit + 1, **params},
        ).fetchall()
    page, more = page_of(rows, limit)
    return Page[TokenPublic](
        data=[TokenPublic(**r) for r in page],
        next_cursor=time_id_cursor(page[-1]) if more else None,
    )


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
    conn = access.conn
    with conn.transaction():
        issued = api_tokens.issue(
            conn, access.user_id, name=body.name, scope=body.scope, expires_at=body.expires_at
        )
        audit.record(
            conn,
            "token.created",
            actor_user_id=access.user_id,
            target_type="api_token",
            target_id=issued.id,
            ip=ip,
            details={"name": body.name, "scope": body.scope, "prefix": issued.prefix},
        )
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {_COLUMNS} FROM api_tokens WHERE id = %s", (issued.id,)
        ).fetchone()
    assert row is not None
    return TokenCreated(**row, token=issued.token)


@router.delete(
    "/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke one of your tokens"
)
def revoke_token(token_id: UUID, access: CurrentAccess, ip: ClientIp) -> Response:
    access.require_write()
    conn = access.conn
    with conn.transaction():
        row = conn.execute(
            "UPDATE api_tokens SET revoked_at = now()"
            " WHERE id = %s AND user_id = %s AND revoked_at IS NULL RETURNING name, token_prefix",
            (token_id, access.user_id),
        ).fetchone()
        if row is None:
            raise ApiError(404, "not_found", "token not found", "token_id")
        audit.record(
            conn,
            "token.revoked",
            actor_user_id=access.user_id,
            target_type="api_token",
            target_id=token_id,
            ip=ip,
            details={"name": row[0], "prefix": row[1]},
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
