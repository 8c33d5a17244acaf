"""Rotating refresh tokens of the built-in issuer.

A family is one login. Each refresh uses up the presented token and issues the next one of the
family. Presenting a token that was already used means two parties hold it (one of them a
thief), so the whole family is revoked: both parties must log in again. Access tokens carry the
family id (``sid``) and stop working when their family is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from uuid import UUID

import psycopg

REFRESH_PREFIX = "lsr_"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class RefreshToken:
    token: str
    family_id: UUID
    expires_in: int


@dataclass(frozen=True, slots=True)
class Rotated:
    user_id: UUID
    email: str
    refresh: RefreshToken


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: Literal["unknown", "expired", "revoked", "reused", "disabled"]
    user_id: UUID | None = None
    family_id: UUID | None = None


def _insert(
    conn: psycopg.Connection, user_id: UUID, family_id: UUID, lifetime: timedelta
) -> RefreshToken:
    token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)"
        " VALUES (%s, %s, %s, now() + %s)",
        (user_id, family_id, _digest(token), lifetime),
    )
    return RefreshToken(token, family_id, int(lifetime.total_seconds()))


def start(conn: psycopg.Connection, user_id: UUID, lifetime: timedelta) -> RefreshToken:
    """A new family: one login."""
    return _insert(conn, user_id, uuid.uuid4(), lifetime)


def rotate(conn: psycopg.Connection, token: str, lifetime: timedelta) -> Rotated | Rejected:
    with conn.transaction():
        # One statement uses the token up, so of two concurrent refreshes exactly one wins.
        used = conn.execute(
            "UPDATE refresh_tokens r SET used_at = now() FROM users u"
            " WHERE r.token_hash = %s AND r.used_at IS NULL AND r.revoked_at IS NULL"
            " AND r.expires_at > now() AND u.id = r.user_id AND u.disabled_at IS NULL"
            " RETURNING r.user_id, r.family_id, u.email",
            (_digest(token),),
        ).fetchone()
        if used is not None:
            user_id, family_id, email = used
            return Rotated(user_id, email, _insert(conn, user_id, family_id, lifetime))
        row = conn.execute(
            "SELECT r.user_id, r.family_id, r.used_at IS NOT NULL, r.revoked_at IS NOT NULL,"
            " r.expires_at <= now(), u.disabled_at IS NOT NULL"
            " FROM refresh_tokens r JOIN users u ON u.id = r.user_id WHERE r.token_hash = %s",
            (_digest(token),),
        ).fetchone()
    if row is None:
        return Rejected("unknown")
    user_id, family_id, was_used, revoked, expired, disabled = row
    if revoked:
        return Rejected("revoked", user_id, family_id)
    if disabled:
        return Rejected("disabled", user_id, family_id)
    if was_used:
        revoke_family(conn, family_id)
        return Rejected("reused", user_id, family_id)
    assert expired
    return Rejected("expired", user_id, family_id)


def family_of(conn: psycopg.Connection, token: str) -> tuple[UUID, UUID] | None:
    """(user id, family id) of a refresh token, whatever its state."""
    row = conn.execute(
        "SELECT user_id, family_id FROM refresh_tokens WHERE token_hash = %s", (_digest(token),)
    ).fetchone()
    return (row[0], row[1]) if row else None


def revoke_family(conn: psycopg.Connection, family_id: UUID) -> int:
    cur = conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = %s AND revoked_at IS NULL",
        (family_id,),
    )
    return cur.rowcount


def revoke_user(conn: psycopg.Connection, user_id: UUID) -> int:
    """Revokes every family of the user; returns how many families were live."""
    row = conn.execute(
        "WITH revoked AS (UPDATE refresh_tokens SET revoked_at = now()"
        " WHERE user_id = %s AND revoked_at IS NULL RETURNING family_id)"
        " SELECT count(DISTINCT family_id) FROM revoked",
        (user_id,),
    ).fetchone()
    return int(row[0]) if row else 0
