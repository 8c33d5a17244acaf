"""The first administrator of an install without an identity provider."""

from __future__ import annotations

import secrets
from uuid import UUID

import psycopg

from logsight.auth.accounts import (
    EmailTaken,
    add_membership,
    create_user,
    require_password_change,
)
from logsight.config import Settings
from logsight.storage.projects import DEFAULT_ORGANIZATION, ensure_organization
from logsight.tenancy.access import Role

FIRST_ADMIN_EMAIL = "admin@localhost"
# Any constant: concurrent first starts queue on it and only one creates the admin.
_LOCK = 0x4C6F6741


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def create_account(
    conn: psycopg.Connection,
    email: str,
    *,
    organization_slug: str | None = None,
    role: Role = Role.MEMBER,
    password: str | None = None,
) -> tuple[UUID, str]:
    """A built-in account with a generated password, optionally a member of an organization
    (created when missing). Returns (user id, password). Raises EmailTaken."""
    password = password or generate_password()
    with conn.transaction():
        user_id = create_user(conn, email, password)
        if organization_slug:
            add_membership(conn, ensure_organization(conn, organization_slug), user_id, role)
    return user_id, password


def ensure_first_admin(conn: psycopg.Connection, settings: Settings) -> tuple[str, str] | None:
    """Create ``admin@localhost`` with a random password as owner of the "default"
    organization when no user with a password exists, flagged to change it at first sign-in.
    Returns (email, password) only when it created the account, so the caller prints the
    password exactly once."""
    if not settings.builtin_auth:
        return None
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        if conn.execute("SELECT 1 FROM users WHERE password_hash IS NOT NULL LIMIT 1").fetchone():
            return None
        try:
            user_id, password = create_account(
                conn, FIRST_ADMIN_EMAIL, organization_slug=DEFAULT_ORGANIZATION, role=Role.OWNER
            )
            # Printed in a terminal, maybe kept in a log: the first sign-in replaces it.
            require_password_change(conn, user_id, True)
        except EmailTaken:
            # Someone took the address without a password (an identity provider's user).
            return None
    return FIRST_ADMIN_EMAIL, password
