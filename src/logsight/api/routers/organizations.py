"""Organizations: anyone signed in may create one (and becomes its owner); owners change or
delete it; every member reads it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.fields import Name
from logsight.api.pagination import DEFAULT_LIMIT, TIME_ID, Limit, Page, decode_cursor, page
from logsight.query import organizations as organization_queries
from logsight.tenancy import organizations
from logsight.tenancy.access import Role

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


@router.get("", response_model=Page[OrganizationPublic], summary="Your organizations")
def list_organizations(
    access: CurrentAccess, limit: Limit = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[OrganizationPublic]:
    rows, following = organization_queries.organizations(
        access.conn, access.user_id, limit=limit, after=decode_cursor(cursor, TIME_ID)
    )
    return page([OrganizationPublic(**r) for r in rows], following)


@router.post(
    "",
    response_model=OrganizationPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create an organization (you become its owner)",
)
def create_organization(
    body: OrganizationCreate, access: CurrentAccess, ip: ClientIp
) -> OrganizationPublic:
    organization_id = organizations.create(access, body.name, body.slug, ip)
    return OrganizationPublic(**access.organization(organization_id))


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
    organizations.update(access, organization_id, body.model_dump(exclude_none=True), ip)
    return OrganizationPublic(**access.organization(organization_id))


@router.delete(
    "/{organization_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete an organization with its projects, keys and members (owners)",
)
def delete_organization(organization_id: UUID, access: CurrentAccess, ip: ClientIp) -> Response:
    organizations.delete(access, organization_id, ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
