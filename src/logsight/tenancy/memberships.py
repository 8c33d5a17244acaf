"""Who may change whose membership, and the invariant that every organization keeps an owner.

Membership changes of one organization are serialized by locking the organization's row, so
two owners demoting each other at the same moment cannot leave it without one.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from logsight.errors import ApiError
from logsight.query import memberships as membership_queries
from logsight.tenancy.access import Access, Role
from logsight.tenancy.audit import audited

INVITATION_DAYS = 7


def only_owners() -> ApiError:
    return ApiError(403, "forbidden", "only owners grant or revoke the owner role", "role")


def last_owner() -> ApiError:
    return ApiError(409, "last_owner", "an organization needs at least one owner", "user_id")


def member_not_found() -> ApiError:
    return ApiError(404, "not_found", "member not found", "user_id")


def _lock(conn: psycopg.Connection, organization_id: UUID) -> None:
    conn.execute("SELECT 1 FROM organizations WHERE id = %s FOR UPDATE", (organization_id,))


def _owners(conn: psycopg.Connection, organization_id: UUID) -> int:
    row = conn.execute(
        "SELECT count(*) FROM memberships WHERE organization_id = %s AND role = 'owner'",
        (organization_id,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _target_role(conn: psycopg.Connection, organization_id: UUID, user_id: UUID) -> Role:
    row = conn.execute(
        "SELECT role FROM memberships WHERE organization_id = %s AND user_id = %s",
        (organization_id, user_id),
    ).fetchone()
    if row is None:
        raise member_not_found()
    return Role(row[0])


def member(conn: psycopg.Connection, organization_id: UUID, user_id: UUID) -> dict[str, Any]:
    row = membership_queries.member(conn, organization_id, user_id)
    if row is None:
        raise member_not_found()
    return row


def add_owner(conn: psycopg.Connection, organization_id: UUID, user_id: UUID) -> None:
    """The founder of a new organization (in its creating transaction)."""
    conn.execute(
        "INSERT INTO memberships (organization_id, user_id, role) VALUES (%s, %s, 'owner')",
        (organization_id, user_id),
    )


def change_role(
    access: Access, organization_id: UUID, user_id: UUID, role: Role, ip: str | None
) -> None:
    actor = Role(access.organization(organization_id, need=Role.ADMIN)["role"])
    conn = access.conn
    with audited(conn, access.user_id, ip, organization_id) as log:
        _lock(conn, organization_id)
        current = _target_role(conn, organization_id, user_id)
        if current is role:
            return
        if Role.OWNER in (current, role) and actor is not Role.OWNER:
            raise only_owners()
        if current is Role.OWNER and _owners(conn, organization_id) <= 1:
            raise last_owner()
        conn.execute(
            "UPDATE memberships SET role = %s WHERE organization_id = %s AND user_id = %s",
            (role.value, organization_id, user_id),
        )
        log.record(
            "member.role_changed", "user", user_id, {"from": current.value, "to": role.value}
        )


def remove(access: Access, organization_id: UUID, user_id: UUID, ip: str | None) -> None:
    leaving = user_id == access.user_id
    # Anyone may leave; removing someone else takes an admin, and an owner for an owner.
    actor = Role(
        access.organization(organization_id, need=Role.VIEWER if leaving else Role.ADMIN)["role"]
    )
    access.require_write()
    conn = access.conn
    with audited(conn, access.user_id, ip, organization_id) as log:
        _lock(conn, organization_id)
        current = _target_role(conn, organization_id, user_id)
        if current is Role.OWNER and not leaving and actor is not Role.OWNER:
            raise only_owners()
        if current is Role.OWNER and _owners(conn, organization_id) <= 1:
            raise last_owner()
        conn.execute(
            "DELETE FROM memberships WHERE organization_id = %s AND user_id = %s",
            (organization_id, user_id),
        )
        log.record(
            "member.left" if leaving else "member.removed", "user", user_id, {"role": current.value}
        )


def invite(access: Access, organization_id: UUID, email: str, role: Role, ip: str | None) -> UUID:
    actor = Role(access.organization(organization_id, need=Role.ADMIN)["role"])
    if role is Role.OWNER and actor is not Role.OWNER:
        raise only_owners()
    email = email.strip().lower()
    conn = access.conn
    with audited(conn, access.user_id, ip, organization_id) as log:
        _lock(conn, organization_id)
        already = conn.execute(
            "SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id"
            " WHERE m.organization_id = %s AND lower(u.email) = %s",
            (organization_id, email),
        ).fetchone()
        if already:
            raise ApiError(409, "already_member", f"{email} is already a member", "email")
        # Inviting again renews: the older pending invitation stops working.
        replaced = conn.execute(
            "UPDATE invitations SET revoked_at = now()"
            " WHERE organization_id = %s AND lower(email) = %s"
            " AND accepted_at IS NULL AND revoked_at IS NULL RETURNING id",
            (organization_id, email),
        ).fetchall()
        row = conn.execute(
            "INSERT INTO invitations (organization_id, email, role, invited_by, expires_at)"
            " VALUES (%s, %s, %s, %s, now() + make_interval(days => %s)) RETURNING id",
            (organization_id, email, role.value, access.user_id, INVITATION_DAYS),
        ).fetchone()
        assert row is not None
        log.record(
            "invitation.created",
            "invitation",
            row[0],
            {"email": email, "role": role.value, "replaced": [str(r[0]) for r in replaced]},
        )
    return UUID(str(row[0]))


def revoke_invitation(
    access: Access, organization_id: UUID, invitation_id: UUID, ip: str | None
) -> None:
    access.organization(organization_id, need=Role.ADMIN)
    conn = access.conn
    with audited(conn, access.user_id, ip, organization_id) as log:
        row = conn.execute(
            "UPDATE invitations SET revoked_at = now()"
            " WHERE id = %s AND organization_id = %s AND accepted_at IS NULL"
            " AND revoked_at IS NULL RETURNING email, role",
            (invitation_id, organization_id),
        ).fetchone()
        if row is None:
            raise ApiError(404, "not_found", "invitation not found", "invitation_id")
        log.record(
            "invitation.revoked", "invitation", invitation_id, {"email": row[0], "role": row[1]}
        )


def accept(access: Access, invitation_id: UUID, ip: str | None) -> UUID:
    """Join the invitation's organization; returns its id. Only the invited address may."""
    access.require_write()
    conn = access.conn
    with audited(conn, access.user_id, ip) as log:
        found = conn.execute(
            "SELECT organization_id, role, expires_at <= now() FROM invitations"
            " WHERE id = %s AND lower(email) = lower(%s)"
            " AND accepted_at IS NULL AND revoked_at IS NULL FOR UPDATE",
            (invitation_id, access.principal.email),
        ).fetchone()
        # Someone else's invitation is indistinguishable from none at all.
        if found is None:
            raise ApiError(404, "not_found", "invitation not found", "invitation_id")
        organization_id, role, expired = found
        if expired:
            raise ApiError(
                409, "invitation_expired", "this invitation has expired", "invitation_id"
            )
        _lock(conn, organization_id)
        joined = conn.execute(
            "INSERT INTO memberships (organization_id, user_id, role) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            (organization_id, access.user_id, role),
        ).fetchone()
        if joined is None:
            raise ApiError(
                409, "already_member", "you are already a member of this organization", None
            )
        conn.execute("UPDATE invitations SET accepted_at = now() WHERE id = %s", (invitation_id,))
        details = {"email": access.principal.email, "role": role}
        log.record(
            "invitation.accepted",
            "invitation",
            invitation_id,
            details,
            organization_id=organization_id,
        )
    return UUID(str(organization_id))
