"""Organizations: anyone signed in may create one (and becomes its owner); owners change or
delete it; every member reads it."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from logsight.errors import ApiError
from logsight.tenancy import audit
from logsight.tenancy.access import Role
from logsight.tenancy.listing import Name, after_clause, page_of, time_id_after, time_id_cursor

router = APIRouter(prefix="/organizations", tags=["organizations"], responses=ERROR_RESPONSES)

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
Slug = Annotated[str, Field(min_length=1, max_length=63, pattern=SLUG_PATTERN)]


class OrganizationCreate(BaseModel):
    name: Name
    slug: Slug | None = Field(
        default=None,
        description="URL name, unique across the install; made from the name if unset.",
    )


class OrganizationUpdate(BaseModel):
    name: Name | None = None
    slug: Slug | None = None


class OrganizationPublic(BaseModel):
    id: UUID
    name: str
    slug: str
    created_at: datetime
    role: Role = Field(description="Your role in the organization.")


def _slug_from(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return slug or "org"


@router.get("", response_model=Page[OrganizationPublic], summary="Your organizations")
def list_organizations(
    access: CurrentAccess,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[OrganizationPublic]:
    where, params = after_clause(time_id_after(cursor), "o.created_at", "o.id")
    with access.conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT o.id, o.name, o.slug, o.created_at, m.role"
            " FROM organizations o JOIN memberships m ON m.organization_id = o.id"
            f" WHERE m.user_id = %(user)s{where}"
            " ORDER BY o.created_at, o.id LIMIT %(limit)s",
            {"user": access.user_id, "limit": limit + 1, **params},
        ).fetchall()
    page, more = page_of(rows, limit)
    return Page[OrganizationPublic](
        data=[OrganizationPublic(**r) for r in page],
        next_cursor=time_id_cursor(page[-1]) if more else None,
    )


@router.post(
    "",
    response_model=OrganizationPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create an organization (you become its owner)",
)
def create_organization(
    body: OrganizationCreate, access: CurrentAccess, ip: ClientIp
) -> OrganizationPublic:
    access.require_write()
    conn = access.conn
    with conn.transaction():
        slug = body.slug or _slug_from(body.name)
        row = conn.execute(
            "INSERT INTO organizations (name, slug) VALUES (%s, %s)"
            " ON CONFLICT (slug) DO NOTHING RETURNING id",
            (body.name, slug),
        ).fetchone()
        if row is None and body.slug is None:
            # Slugs are unique across the install, so a made-up one gets a suffix rather than
            # failing because someone elsewhere picked the same name.
            slug = f"{slug}-{secrets.token_hex(3)}"
            row = conn.execute(
                "INSERT INTO organizations (name, slug) VALUES (%s, %s)"
                " ON CONFLICT (slug) DO NOTHING RETURNING id",
                (body.name, slug),
            ).fetchone()
        if row is None:
            raise ApiError(409, "conflict", f"the slug {slug!r} is taken", "slug")
        conn.execute(
            "INSERT INTO memberships (organization_id, user_id, role) VALUES (%s, %s, 'owner')",
            (row[0], access.user_id),
        )
        audit.record(
            conn,
            "organization.created",
            organization_id=row[0],
            actor_user_id=access.user_id,
            target_type="organization",
            target_id=row[0],
            ip=ip,
            details={"name": body.name, "slug": slug},
        )
    return OrganizationPublic(**access.organization(row[0]))


@router.get("/{organization_id}", response_model=OrganizationPublic, summary="One organization")
def get_organization(organization_id: UUID, access: CurrentAccess) -> OrganizationPublic:
    return OrganizationPublic(**access.organization(organization_id))


@router.patch(
    "/{organization_id}",
    response_model=OrganizationPublic,
    summary="Rename an organization or change its slug (owners)",
)
def update_organization(
    organization_id: UUID, body: OrganizationUpdate, access: CurrentAccess, ip: ClientIp
) -> OrganizationPublic:
    org = access.organization(organization_id, need=Role.OWNER)
    changes = {k: v for k, v in body.model_dump(exclude_none=True).items() if v != org.get(k)}
    if changes:
        conn = access.conn
        with conn.transaction():
            if "slug" in changes:
                taken = conn.execute(
                    "SELECT 1 FROM organizations WHERE slug = %s AND id <> %s",
                    (changes["slug"], organization_id),
                ).fetchone()
                if taken:
                    raise ApiError(
                        409, "conflict", f"the slug {changes['slug']!r} is taken", "slug"
                    )
            conn.execute(
                "UPDATE organizations SET name = coalesce(%s, name), slug = coalesce(%s, slug)"
                " WHERE id = %s",
                (changes.get("name"), changes.get("slug"), organization_id),
            )
            audit.record(
                conn,
                "organization.updated",
                organization_id=organization_id,
                actor_user_id=access.user_id,
                target_type="organization",
                target_id=organization_id,
                ip=ip,
                details={k: {"from": org[k], "to": v} for k, v in changes.items()},
            )
    return OrganizationPublic(**access.organization(organization_id))


@router.delete(
    "/{organization_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an organization with its projects, keys and members (owners)",
)
def delete_organization(organization_id: UUID, access: CurrentAccess, ip: ClientIp) -> Response:
    org = access.organization(organization_id, need=Role.OWNER)
    conn = access.conn
    with conn.transaction():
        conn.execute("DELETE FROM organizations WHERE id = %s", (organization_id,))
        # The organization's own audit trail goes with it (ON DELETE CASCADE), so the deletion
        # is recorded outside it, against the actor.
        audit.record(
            conn,
            "organization.deleted",
            actor_user_id=access.user_id,
            target_type="organization",
            target_id=organization_id,
            ip=ip,
            details={"name": org["name"], "slug": org["slug"]},
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
