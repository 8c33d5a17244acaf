"""Projects: the unit events belong to. Admins create, rename and delete them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess, Services
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.pagination import DEFAULT_LIMIT, TIME_ID, Limit, Page, decode_cursor, page
from logsight.ingest.sentry.dsn import dsn_for
from logsight.query import keyset
from logsight.tenancy import projects
from logsight.tenancy.access import Role

router = APIRouter(prefix="/projects", tags=["projects"], responses=ERROR_RESPONSES)


class ProjectCreate(BaseModel):
    organization_id: UUID
    name: str = Field(min_length=1, max_length=100)
    retention_days: int | None = Field(default=None, ge=1, le=3650)


class ProjectUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    retention_days: int | None = Field(default=None, ge=1, le=3650)


class ProjectPublic(BaseModel):
    id: UUID
    organization_id: UUID
    name: str
    slug: str
    number: int = Field(description="The numeric id Sentry SDKs use in their DSN.")
    retention_days: int
    created_at: datetime
    role: Role = Field(description="Your role in the project's organization.")
    dsn: str | None = Field(
        default=None,
        description="DSN for Sentry SDKs (with the project's oldest active ingest key).",
    )


class ProjectCreated(ProjectPublic):
    ingest_key: str = Field(description="The project's first ingest key.")


def public(row: dict[str, Any], public_url: str) -> ProjectPublic:
    key = row.get("dsn_key")
    return ProjectPublic(
        **{k: v for k, v in row.items() if k != "dsn_key"},
        dsn=dsn_for(key, public_url, row["number"]) if key else None,
    )


@router.get("", response_model=Page[ProjectPublic], summary="List the projects you can see")
def list_projects(
    access: CurrentAccess,
    svc: Services,
    organization_id: UUID | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ProjectPublic]:
    rows = access.projects(organization_id)
    after = decode_cursor(cursor, TIME_ID)
    if after is not None:
        # Listed by (created_at, id): Python orders UUIDs as PostgreSQL does, by their bytes.
        rows = [r for r in rows if (r["created_at"], r["id"]) > after]
    shown, following = keyset.page(rows, limit, lambda r: (r["created_at"], r["id"]))
    return page([public(r, svc.settings.public_url) for r in shown], following)


@router.post(
    "",
    response_model=ProjectCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create a project (organization admins)",
)
def create_project(
    body: ProjectCreate, access: CurrentAccess, svc: Services, ip: ClientIp
) -> ProjectCreated:
    project_id, key = projects.create(
        access, body.organization_id, body.name, body.retention_days, ip
    )
    project = public(access.project(project_id), svc.settings.public_url)
    return ProjectCreated(**project.model_dump(), ingest_key=key)


@router.get("/{project_id}", response_model=ProjectPublic, summary="One project")
def get_project(project_id: UUID, access: CurrentAccess, svc: Services) -> ProjectPublic:
    return public(access.project(project_id), svc.settings.public_url)


@router.patch("/{project_id}", response_model=ProjectPublic, summary="Rename or change retention")
def update_project(
    project_id: UUID, body: ProjectUpdate, access: CurrentAccess, svc: Services, ip: ClientIp
) -> ProjectPublic:
    projects.update(access, project_id, body.model_dump(exclude_none=True), ip)
    return public(access.project(project_id), svc.settings.public_url)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a project")
def delete_project(project_id: UUID, access: CurrentAccess, ip: ClientIp) -> Response:
    projects.delete(access, project_id, ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
