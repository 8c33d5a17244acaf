"""Turning an ``Authorization`` header into a Principal, or a 401.

Bearer credentials are personal API tokens (``lst_…``) or JWTs. A JWT is routed by its (not yet
trusted) ``iss`` to exactly one configured issuer, which then verifies signature, algorithm,
``exp``/``nbf``, ``iss`` and ``aud``/``azp``; nothing else in the token is trusted before that.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import psycopg

from logsight.auth import accounts
from logsight.auth.builtin import BuiltinIssuer
from logsight.auth.external import ExternalIssuer
from logsight.auth.jwt_common import normalize_issuer, peek, unauthorized
from logsight.config import Settings
from logsight.tenancy import api_tokens
from logsight.tenancy.access import Principal

__all__ = ["Authenticator", "unauthorized"]


class Authenticator:
    def __init__(
        self,
        *,
        builtin: BuiltinIssuer | None = None,
        external: Sequence[ExternalIssuer] = (),
    ) -> None:
        self.builtin = builtin
        self.external = {issuer.issuer: issuer for issuer in external}

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        """Issuers as configured. Nothing is fetched or generated here: keys and key sets load
        on first use, so building the API (Lambda init) needs no network."""
        external: list[ExternalIssuer] = []
        common: dict[str, Any] = {
            "cache_seconds": settings.jwks_cache_seconds,
            "refresh_cooldown_seconds": settings.jwks_refresh_cooldown_seconds,
        }
        if settings.clerk_issuer_url:
            external.append(
                ExternalIssuer(
                    "clerk",
                    settings.clerk_issuer_url,
                    authorized_parties=tuple(settings.allowed_origin_list),
                    **common,
                )
            )
        if settings.oidc_issuer_url:
            external.append(
                ExternalIssuer(
                    "oidc",
                    settings.oidc_issuer_url,
                    audience=settings.oidc_audience,
                    jwks_url=settings.oidc_jwks_url,
                    **common,
                )
            )
        builtin = BuiltinIssuer.from_settings(settings) if settings.builtin_auth else None
        return cls(builtin=builtin, external=external)

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
        if self.builtin is None and not self.external:
            raise unauthorized("no JWT issuer is configured")
        header, claims = peek(token)
        issuer = normalize_issuer(claims["iss"])
        if self.builtin is not None and claims["iss"] == self.builtin.issuer:
            verified = self.builtin.verify(token, header, claims)
            try:
                user_id, session_id = uuid.UUID(verified["sub"]), uuid.UUID(verified["sid"])
            except (ValueError, TypeError, AttributeError) as exc:
                raise unauthorized("the token is not valid") from exc
            principal = accounts.builtin_principal(conn, user_id, session_id)
            if principal is None:
                raise unauthorized("the session has ended or the account is disabled")
            return principal
        external = self.external.get(issuer)
        if external is None:
            raise unauthorized("the token's issuer is not accepted")
        verified = external.verify(token, header, claims)
        email = verified.get("email")
        principal = accounts.external_principal(
            conn, external.issuer, verified["sub"], email if isinstance(email, str) else None
        )
        if principal is None:
            raise unauthorized("the account is disabled")
        return principal
