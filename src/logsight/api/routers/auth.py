"""The built-in issuer's sessions: log in with email and password, refresh, log out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, Field

from logsight.api.deps import ClientIp, Conn, services
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.services import ApiServices
from logsight.auth import login as flows
from logsight.auth.builtin import BuiltinIssuer
from logsight.auth.passwords import MAX_LENGTH
from logsight.errors import ApiError

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


class SessionCreate(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_LENGTH)


class SessionRefresh(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class SessionPublic(BaseModel):
    access_token: str = Field(description="Send as Authorization: Bearer <access_token>.")
    token_type: str = "Bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_in: int = Field(description="Seconds the access token is valid.")
    refresh_token: str = Field(description="Single use: /api/auth/refresh returns the next one.")
    refresh_expires_in: int


def builtin_issuer(svc: Annotated[ApiServices, Depends(services)]) -> BuiltinIssuer:
    if svc.builtin is None:
        raise ApiError(404, "not_found", "built-in accounts are disabled on this installation")
    return svc.builtin


Builtin = Annotated[BuiltinIssuer, Depends(builtin_issuer)]
Svc = Annotated[ApiServices, Depends(services)]


def session_public(pair: flows.TokenPair) -> SessionPublic:
    return SessionPublic(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        refresh_expires_in=pair.refresh_expires_in,
    )


@router.post(
    "/login",
    response_model=SessionPublic,
    summary="Log in with email and password",
    description="Returns a short-lived access JWT and a rotating refresh token. Repeated "
    "failures per account or per address answer 429 with Retry-After.",
)
def login(
    body: SessionCreate, conn: Conn, svc: Svc, issuer: Builtin, ip: ClientIp
) -> SessionPublic:
    return session_public(
        flows.login(conn, svc.settings, issuer, email=body.email, password=body.password, ip=ip)
    )


@router.post(
    "/refresh",
    response_model=SessionPublic,
    summary="Exchange a refresh token for new tokens",
    description="Each refresh token works once. Presenting one that was already used revokes "
    "the whole session (reuse detection).",
)
def refresh(
    body: SessionRefresh, conn: Conn, svc: Svc, issuer: Builtin, ip: ClientIp
) -> SessionPublic:
    return session_public(flows.refresh(conn, svc.settings, issuer, body.refresh_token, ip))


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End a session",
    description="Revokes the refresh token's session; its access tokens stop working too.",
)
def logout(body: SessionRefresh, conn: Conn, issuer: Builtin, ip: ClientIp) -> Response:
    flows.logout(conn, body.refresh_token, ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
