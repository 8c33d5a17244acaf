"""Members of an organization and invitations: an organization's pending ones, and those
addressed to the signed-in user."""

from __future__ import annotations

from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from logsight.query.keyset import Key, Order, Row, fetch

MEMBER_COLUMNS = "m.user_id, u.email, u.name, m.role, m.created_at AS joined_at, m.organization_id"
MEMBERS_OLDEST_FIRST = Order(("m.created_at", "m.user_id"), ("joined_at", "user_id"))
INVITATION_COLUMNS = "id, organization_id, email, role, invited_by, created_at, expires_at"
INVITATIONS_OLDEST_FIRST = Order(("created_at", "id"), ("created_at", "id"))
MY_INVITATIONS_OLDEST_FIRST = Order(("i.created_at", "i.id"), ("created_at", "id"))
# Neither accepted, withdrawn (or replaced) nor expired.
_PENDING = "accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()"


def members(
    conn: psycopg.Connection, organization_id: UUID, *, limit: int, after: Key | None = None
) -> tuple[list[Row], Key | None]:
    return fetch(
        conn,
        f"SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.organization_id = %(org)s",
        MEMBERS_OLDEST_FIRST,
        limit=limit,
        after=after,
        params={"org": organization_id},
    )


def member(conn: psycopg.Connection, organization_id: UUID, user_id: UUID) -> Row | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id"
            " WHERE m.organization_id = %s AND m.user_id = %s",
            (organization_id, user_id),
        ).fetchone()


def invitation(conn: psycopg.Connection, organization_id: UUID, invitation_id: UUID) -> Row | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {INVITATION_COLUMNS} FROM invitations WHERE id = %s AND organization_id = %s",
            (invitation_id, organization_id),
        ).fetchone()


def invitations(
    conn: psycopg.Connection, organization_id: UUID, *, limit: int, after: Key | None = None
) -> tuple[list[Row], Key | None]:
    """An organization's pending invitations."""
    return fetch(
        conn,
        f"SELECT {INVITATION_COLUMNS} FROM invitations"
        f" WHERE organization_id = %(org)s AND {_PENDING}",
        INVITATIONS_OLDEST_FIRST,
        limit=limit,
        after=after,
        params={"org": organization_id},
    )


def invitations_to(
    conn: psycopg.Connection, email: str, *, limit: int, after: Key | None = None
) -> tuple[list[Row], Key | None]:
    """The pending invitations addressed to ``email`` (any case), with who sent them."""
    return fetch(
        conn,
        "SELECT i.id, i.organization_id, o.name AS organization_name, i.role,"
        " inviter.email AS invited_by_email, i.created_at, i.expires_at"
        " FROM invitations i JOIN organizations o ON o.id = i.organization_id"
        " LEFT JOIN users inviter ON inviter.id = i.invited_by"
        " WHERE lower(i.email) = lower(%(email)s) AND i.accepted_at IS NULL"
        " AND i.revoked_at IS NULL AND i.expires_at > now()",
        MY_INVITATIONS_OLDEST_FIRST,
        limit=limit,
        after=after,
        params={"email": email},
    )
