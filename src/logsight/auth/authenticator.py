"""Turning an ``Authorization`` header into a Principal, or a 401."""

from __future__ import annotations

import psycopg

from logsight.errors import ApiError
from logsight.tenancy import api_tokens
from logsight.tenancy.access import Principal

_CHALLENGE = (("www-authenticate", 'Bearer realm="logsight"'),)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, "authorization", headers=_CHALLENGE)


class Authenticator:
    def authenticate(self, conn: psycopg.Connection, authorization: str | None) -> Principal:
        if not authorization:
            raise unauthorized("send Authorization: Bearer <token>")
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise unauthorized("use the Bearer scheme")
        if credential.startswith(api_tokens.TOKEN_PREFIX):
            principal = api_tokens.authenticate(conn, credential)
            if principal is None:
                raise unauthorized("unknown, revoked or expired API token")
            return principal
        return self.authenticate_jwt(conn, credential)

    def authenticate_jwt(self, conn: psycopg.Connection, token: str) -> Principal:
        raise unauthorized("no JWT issuer is configured")
