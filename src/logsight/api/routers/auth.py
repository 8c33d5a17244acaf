"""The built-in issuer's sessions: log in with email and password, refresh, log out.

Two ways to hold the refresh token: in the JSON body (scripts, /login and /refresh), or, for the
dashboard, in a cookie page scripts cannot read (/session): httpOnly, SameSite=Strict, scoped to
/api/auth so no other request carries it. The cookie endpoints also need the header
``X-LogSight-Session: 1``: a page on another origin cannot send it without a CORS preflight,
which the API never grants, so a forged cross-site request is refused even where the browser
would attach the cookie (a sibling subdomain is "same site")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, Header, Request, Response, status
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
    password_change_required: bool = Field(
        default=False, description="The account must choose a new password (the printed admin's)."
    )


class CookieSessionPublic(BaseModel):
    access_token: str = Field(description="Send as Authorization: Bearer <access_token>.")
    token_type: str = "Bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_in: int = Field(description="Seconds the access token is valid.")
    refresh_expires_in: int = Field(description="Seconds the refresh cookie is valid.")
    password_change_required: bool = False


class SignInOptions(BaseModel):
    builtin: bool = Field(description="Email and password accounts (/api/auth/session).")
    oidc_issuer: str | None = Field(
        description="The OIDC issuer the dashboard signs in with (authorization code + PKCE)."
    )
    oidc_client_id: str | None = Field(description="The dashboard's public OIDC client.")


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
        password_change_required=pair.password_change_required,
    )


REFRESH_COOKIE = "logsight_refresh"
COOKIE_PATH = "/api/auth"
CSRF_HEADER = "X-LogSight-Session"


def require_session_header(
    marker: Annotated[str | None, Header(alias=CSRF_HEADER, include_in_schema=False)] = None,
) -> None:
    if marker != "1":
        raise ApiError(
            403, "csrf_header_missing", f"send the header {CSRF_HEADER}: 1", f"header.{CSRF_HEADER}"
        )


SessionHeader = Annotated[None, Depends(require_session_header)]
RefreshCookie = Annotated[str | None, Cookie(alias=REFRESH_COOKIE, include_in_schema=False)]


def _https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return (forwarded or request.url.scheme) == "https"


def _with_cookie(
    request: Request, response: Response, pair: flows.TokenPair
) -> CookieSessionPublic:
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token,
        max_age=pair.refresh_expires_in,
        path=COOKIE_PATH,
        # Plain http is only ever the local runtime on loopback.
        secure=_https(request),
        httponly=True,
        samesite="strict",
    )
    response.headers["cache-control"] = "no-store"
    return CookieSessionPublic(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.refresh_expires_in,
        password_change_required=pair.password_change_required,
    )


def _missing_cookie() -> ApiError:
    return ApiError(401, "invalid_refresh_token", "no session cookie", f"cookie.{REFRESH_COOKIE}")


@router.get(
    "/options",
    response_model=SignInOptions,
    summary="How to sign in here",
    description="Public: what the sign-in page offers. OIDC appears only with both "
    "LOGSIGHT_OIDC_ISSUER_URL and LOGSIGHT_OIDC_CLIENT_ID set.",
)
def sign_in_options(svc: Svc) -> SignInOptions:
    settings = svc.settings
    oidc = bool(settings.oidc_issuer_url and settings.oidc_client_id)
    return SignInOptions(
        builtin=settings.builtin_auth,
        oidc_issuer=settings.oidc_issuer_url if oidc else None,
        oidc_client_id=settings.oidc_client_id if oidc else None,
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


@router.post(
    "/session",
    response_model=CookieSessionPublic,
    summary="Log in for the dashboard (refresh token in a cookie)",
    description=f"As /login, but the refresh token is set as an httpOnly, SameSite=Strict "
    f"cookie on {COOKIE_PATH} instead of being returned. Needs the header {CSRF_HEADER}: 1.",
)
def login_session(
    body: SessionCreate,
    request: Request,
    response: Response,
    conn: Conn,
    svc: Svc,
    issuer: Builtin,
    ip: ClientIp,
    _: SessionHeader,
) -> CookieSessionPublic:
    pair = flows.login(conn, svc.settings, issuer, email=body.email, password=body.password, ip=ip)
    return _with_cookie(request, response, pair)


@router.post(
    "/session/refresh",
    response_model=CookieSessionPublic,
    summary="New tokens from the session cookie",
    description="Rotates the cookie's refresh token (reuse revokes the session, as /refresh). "
    f"Needs the header {CSRF_HEADER}: 1.",
)
def refresh_session(
    request: Request,
    response: Response,
    conn: Conn,
    svc: Svc,
    issuer: Builtin,
    ip: ClientIp,
    _: SessionHeader,
    token: RefreshCookie = None,
) -> CookieSessionPublic:
    if not token:
        raise _missing_cookie()
    pair = flows.refresh(conn, svc.settings, issuer, token, ip)
    return _with_cookie(request, response, pair)


@router.delete(
    "/session",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out of the dashboard",
    description=f"Revokes the cookie's session and clears the cookie. Needs {CSRF_HEADER}: 1.",
)
def logout_session(
    request: Request,
    conn: Conn,
    issuer: Builtin,
    ip: ClientIp,
    _: SessionHeader,
    token: RefreshCookie = None,
) -> Response:
    if token:
        flows.logout(conn, token, ip)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(
        REFRESH_COOKIE, path=COOKIE_PATH, secure=_https(request), httponly=True, samesite="strict"
    )
    return response
