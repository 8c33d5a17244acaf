"""Users as authentication sees them: built-in accounts with passwords, users of external
issuers provisioned on their first request, and the checks every request makes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlparse
from uuid import UUID

import psycopg
from psycopg import errors as pg_errors

from logsight.auth.passwords import hash_password, require_acceptable
from logsight.tenancy.access import Principal, Role

log = logging.getLogger(__name__)


class EmailTaken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class LoginUser:
    id: UUID
    email: str
    password_hash: str | None
    disabled: bool
    password_change_required: bool


def normalize_email(email: str) -> str:
    return email.strip()


def create_user(
    conn: psycopg.Connection, email: str, password: str | None, *, name: str = ""
) -> UUID:
    """A user; a built-in account when ``password`` is given (422 when it breaks the rules).
    Raises EmailTaken."""
    if password is not None:
        require_acceptable(password, email, "password")
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO users (email, name, password_hash) VALUES (%s, %s, %s) RETURNING id",
                (
                    normalize_email(email),
                    name,
                    hash_password(password) if password is not None else None,
                ),
            ).fetchone()
    except pg_errors.UniqueViolation as exc:
        raise EmailTaken(email) from exc
    assert row is not None
    return UUID(str(row[0]))


def add_membership(
    conn: psycopg.Connection, organization_id: UUID, user_id: UUID, role: Role
) -> None:
    conn.execute(
        "INSERT INTO memberships (organization_id, user_id, role) VALUES (%s, %s, %s)"
        " ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role",
        (organization_id, user_id, role.value),
    )


def find_for_login(conn: psycopg.Connection, email: str) -> LoginUser | None:
    row = conn.execute(
        "SELECT id, email, password_hash, disabled_at IS NOT NULL, password_change_required"
        " FROM users WHERE lower(email) = lower(%s)",
        (normalize_email(email),),
    ).fetchone()
    return LoginUser(row[0], row[1], row[2], row[3], row[4]) if row else None


def password_hash_of(conn: psycopg.Connection, user_id: UUID) -> str | None:
    row = conn.execute("SELECT password_hash FROM users WHERE id = %s", (user_id,)).fetchone()
    return row[0] if row else None


def record_login(conn: psycopg.Connection, user_id: UUID) -> None:
    conn.execute("UPDATE users SET last_login_at = now() WHERE id = %s", (user_id,))


def set_password(conn: psycopg.Connection, user_id: UUID, password: str) -> None:
    conn.execute(
        "UPDATE users SET password_hash = %s WHERE id = %s", (hash_password(password), user_id)
    )


def require_password_change(conn: psycopg.Connection, user_id: UUID, required: bool) -> None:
    """Flag (or clear) an account whose password someone else has seen: the dashboard asks
    for a new one before anything else. A rehash at login keeps the flag."""
    conn.execute(
        "UPDATE users SET password_change_required = %s WHERE id = %s", (required, user_id)
    )


def builtin_principal(
    conn: psycopg.Connection, user_id: UUID, session_id: UUID
) -> Principal | None:
    """The user of a built-in access token, when enabled and their session is still live."""
    row = conn.execute(
        "SELECT u.id, u.email FROM users u WHERE u.id = %s AND u.disabled_at IS NULL"
        " AND u.external_issuer IS NULL AND EXISTS (SELECT 1 FROM refresh_tokens r"
        " WHERE r.family_id = %s AND r.user_id = u.id AND r.revoked_at IS NULL)",
        (user_id, session_id),
    ).fetchone()
    return Principal(user_id=row[0], email=row[1]) if row else None


def _placeholder_email(issuer: str, subject: str) -> str:
    # .invalid (RFC 2606) can never collide with a real address, so invitations cannot match it.
    host = urlparse(issuer).hostname or "issuer"
    return f"{subject}@{host}.invalid"


def external_principal(
    conn: psycopg.Connection, issuer: str, subject: str, email: str | None
) -> Principal | None:
    """The user of an external issuer's token, provisioned on first sight; None when disabled.

    An email address already used by another account is not linked to this identity (that would
    hand the account to whoever controls the address at the provider); the new user gets a
    placeholder address instead."""
    select = (
        "SELECT id, email, disabled_at IS NOT NULL FROM users"
        " WHERE external_issuer = %s AND external_subject = %s"
    )
    row = conn.execute(select, (issuer, subject)).fetchone()
    if row is None:
        candidates = [e for e in (email.strip() if email else None,) if e]
        candidates.append(_placeholder_email(issuer, subject))
        for address in candidates:
            try:
                with conn.transaction():
                    row = conn.execute(
                        "INSERT INTO users (email, external_issuer, external_subject)"
                        " VALUES (%s, %s, %s) ON CONFLICT (external_issuer, external_subject)"
                        " DO NOTHING RETURNING id, email, false",
                        (address, issuer, subject),
                    ).fetchone()
            except pg_errors.UniqueViolation:
                log.warning("email of %s at %s is taken; using a placeholder", subject, issuer)
                continue
            # None: a concurrent first request provisioned the same identity.
            row = row or conn.execute(select, (issuer, subject)).fetchone()
            break
    if row is None or row[2]:
        return None
    return Principal(user_id=row[0], email=row[1])
