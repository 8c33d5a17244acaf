"""Every API query goes through ``Access``: it resolves resources only within the principal's
memberships, so no route can take an id on trust.

Resources of organizations the principal does not belong to are "not found" (404), never
"forbidden": their existence is not disclosed. A member whose role is too low gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from logsight.errors import ApiError


class Role(StrEnum):
    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}

Scope = Literal["read", "write"]


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: UUID
    email: str
    # Personal API tokens may be read-only; interactive sessions can always write.
    scope: Scope = "write"
    method: Literal["jwt", "token"] = "jwt"
    token_id: UUID | None = None


def not_found(what: str, field: str | None = None) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found", field)


class Access:
    def __init__(self, conn: psycopg.Connection, principal: Principal) -> None:
        self.conn = conn
        self.principal = principal

    @property
    def user_id(self) -> UUID:
        return self.principal.user_id

    def require_write(self) -> None:
        if self.principal.scope != "write":
            raise ApiError(403, "insufficient_scope", "this token is read-only", "authorization")

    def _check(self, role: Role, need: Role, what: str, reading: bool) -> None:
        # Beyond viewing, a role is asked for in order to change things, which read-only tokens
        # may not; reads restricted to a role (audit log, dead letters) say reading=True.
        if need is not Role.VIEWER and not reading:
            self.require_write()
        if not role.at_least(need):
            raise ApiError(403, "forbidden", f"{what} needs the {need.value} role or higher")

    def role_in(self, organization_id: UUID) -> Role | None:
        row = self.conn.execute(
            "SELECT role FROM memberships WHERE organization_id = %s AND user_id = %s",
            (organization_id, self.user_id),
        ).fetchone()
        return Role(row[0]) if row else None

    def organization(
        self, organization_id: UUID, need: Role = Role.VIEWER, *, reading: bool = False
    ) -> dict[str, Any]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "SELECT o.id, o.name, o.slug, o.created_at, m.role"
                " FROM organizations o JOIN memberships m ON m.organization_id = o.id"
                " WHERE o.id = %s AND m.user_id = %s",
                (organization_id, self.user_id),
            ).fetchone()
        if row is None:
            raise not_found("organization")
        self._check(Role(row["role"]), need, "this", reading)
        return row

    def project(
        self, project_id: UUID, need: Role = Role.VIEWER, *, reading: bool = False
    ) -> dict[str, Any]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                "SELECT p.id, p.organization_id, p.name, p.slug, p.number, p.retention_days,"
                " p.created_at, (SELECT k.public_key FROM ingest_keys k WHERE k.project_id = p.id"
                " AND k.revoked_at IS NULL ORDER BY k.created_at LIMIT 1) AS dsn_key,"
                " m.role FROM projects p"
                " JOIN memberships m ON m.organization_id = p.organization_id"
                " WHERE p.id = %s AND m.user_id = %s",
                (project_id, self.user_id),
            ).fetchone()
        if row is None:
            raise not_found("project")
        self._check(Role(row["role"]), need, "this", reading)
        return row

    def organizations(self) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "SELECT o.id, o.name, o.slug, o.created_at, m.role"
                " FROM organizations o JOIN memberships m ON m.organization_id = o.id"
                " WHERE m.user_id = %s ORDER BY o.created_at, o.id",
                (self.user_id,),
            ).fetchall()

    def projects(self, organization_id: UUID | None = None) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "SELECT p.id, p.organization_id, p.name, p.slug, p.number, p.retention_days,"
                " p.created_at, (SELECT k.public_key FROM ingest_keys k WHERE k.project_id = p.id"
                " AND k.revoked_at IS NULL ORDER BY k.created_at LIMIT 1) AS dsn_key,"
                " m.role FROM projects p"
                " JOIN memberships m ON m.organization_id = p.organization_id"
                " WHERE m.user_id = %s AND (%s::uuid IS NULL OR p.organization_id = %s)"
                " ORDER BY p.created_at, p.id",
                (self.user_id, organization_id, organization_id),
            ).fetchall()
