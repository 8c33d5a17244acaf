"""Personal API tokens: random secrets shown once, stored as SHA-256 digests.

A token is ``lst_<id prefix>_<secret>``; the digest of the whole string is what is stored, and
the short prefix lets people recognize a token in lists without revealing it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from logsight.errors import ApiError
from logsight.tenancy.access import Access, Principal, Scope
from logsight.tenancy.audit import audited

TOKEN_PREFIX = "lst_"  # noqa: S105 - a public marker, not a secret


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: UUID
    token: str
    prefix: str


def issue(
    conn: psycopg.Connection,
    user_id: UUID,
    *,
    name: str,
    scope: Scope,
    expires_at: datetime | None = None,
) -> IssuedToken:
    secret = secrets.token_urlsafe(32)
    token = f"{TOKEN_PREFIX}{secret}"
    prefix = token[: len(TOKEN_PREFIX) + 6]
    row = conn.execute(
        "INSERT INTO api_tokens (user_id, name, scope, token_prefix, token_hash, expires_at)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (user_id, name, scope, prefix, digest(token), expires_at),
    ).fetchone()
    assert row is not None
    return IssuedToken(row[0], token, prefix)


def create(
    access: Access, *, name: str, scope: Scope, expires_at: datetime | None, ip: str | None
) -> IssuedToken:
    """A token of the signed-in user (audited against the user: it belongs to no
    organization)."""
    access.require_write()
    with audited(access.conn, access.user_id, ip) as log:
        issued = issue(access.conn, access.user_id, name=name, scope=scope, expires_at=expires_at)
        log.record(
            "token.created",
            "api_token",
            issued.id,
            {"name": name, "scope": scope, "prefix": issued.prefix},
        )
    return issued


def revoke(access: Access, token_id: UUID, ip: str | None) -> None:
    """Revoke one live token of the signed-in user."""
    access.require_write()
    with audited(access.conn, access.user_id, ip) as log:
        row = access.conn.execute(
            "UPDATE api_tokens SET revoked_at = now()"
            " WHERE id = %s AND user_id = %s AND revoked_at IS NULL RETURNING name, token_prefix",
            (token_id, access.user_id),
        ).fetchone()
        if row is None:
            raise ApiError(404, "not_found", "token not found", "token_id")
        log.record("token.revoked", "api_token", token_id, {"name": row[0], "prefix": row[1]})


@dataclass(frozen=True, slots=True)
class RevokedToken:
    id: UUID
    name: str
    prefix: str


def revoke_all(conn: psycopg.Connection, user_id: UUID) -> list[RevokedToken]:
    """Revoke every live token of the user; the ones this revoked."""
    rows = conn.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL"
        " RETURNING id, name, token_prefix",
        (user_id,),
    ).fetchall()
    return sorted((RevokedToken(*row) for row in rows), key=lambda t: (t.name, str(t.id)))


def authenticate(conn: psycopg.Connection, token: str) -> Principal | None:
    """The token's principal, or None when unknown, revoked, expired or its user is disabled."""
    row = conn.execute(
        "UPDATE api_tokens t SET last_used_at = now()"
        " FROM users u"
        " WHERE t.token_hash = %s AND u.id = t.user_id AND t.revoked_at IS NULL"
        " AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.disabled_at IS NULL"
        " RETURNING t.id, t.scope, u.id, u.email",
        (digest(token),),
    ).fetchone()
    if row is None:
        return None
    return Principal(user_id=row[2], email=row[3], scope=row[1], method="token", token_id=row[0])
