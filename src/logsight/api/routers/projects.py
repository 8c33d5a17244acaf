"""Projects: the unit events belong to. Admins create, rename and delete them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess, Services
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, encode_cursor
from logsight.errors import ApiError
from logsight.sentry.dsn import dsn_for
from logsight.storage.keys import create_key
from logsight.storage.projects import slugify
from logsight.tenancy import audit
from logsight.tenancy.access import Role
from logsight.tenancy.listing import time_id_after

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
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ProjectPublic]:
    rows = access.projects(organization_id)
    after = time_id_after(cursor)
    if after is not None:
        # Listed by (created_at, id): Python orders UUIDs as PostgreSQL does, by their bytes.
        rows = [r for r in rows if (r["created_at"], r["id"]) > after]
    page = rows[:limit]
    next_cursor = (
        encode_cursor([page[-1]["created_at"].isoformat(), str(page[-1]["id"])])
        if len(rows) > limit
        else None
    )
    return Page[ProjectPublic](
        data=[public(r, svc.settings.public_url) for r in page], next_cursor=next_cursor
    )


@router.post(
    "",
    response_model=ProjectCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create a project (organization admins)",
)
def create_project(
    body: ProjectCreate, access: CurrentAccess, svc: Services, ip: ClientIp
) -> ProjectCreated:
    org = access.organization(body.organization_id, need=Role.ADMIN)
    retention = body.retention_days or 30
    conn = access.conn
    with conn.transaction():
        slug = slugify(body.name)
        taken = conn.execute(
            "SELECT 1 FROM projects WHERE organization_id = %s AND slug = %s", (org["id"], slug)
        ).fetchone()
        if taken:
            raise ApiError(409, "conflict", f"a project named {slug!r} exists", "name")
        row = conn.execute(
            "INSERT INTO projects (organization_id, name, slug, retention_days)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            (org["id"], body.name, slug, retention),
        ).fetchone()
        assert row is not None
        key = create_key(conn, row[0], label="default")
        audit.record(
            conn,
            "project.created",
            organization_id=org["id"],
            actor_user_id=access.user_id,
            target_type="project",
            target_id=row[0],
            ip=ip,
            details={"name": body.name},
        )
    project = access.project(row[0])
    return ProjectCreated(**public(project, svc.settings.public_url).model_dump(), ingest_key=key)


@router.get("/{project_id}", response_model=ProjectPublic, summary="One project")
def get_project(project_id: UUID, access: CurrentAccess, svc: Services) -> ProjectPublic:
    return public(access.project(project_id), svc.settings.public_url)


@router.patch("/{project_id}", response_model=ProjectPublic, summary="Rename or change retention")
def update_project(
    project_id: UUID, body: ProjectUpdate, access: CurrentAccess, svc: Services, ip: ClientIp
) -> ProjectPublic:
    project = access.project(project_id, need=Role.ADMIN)
    changes = body.model_dump(exclude_none=True)
    if changes:
        conn = access.conn
        with conn.transaction():
            conn.execute(
                "UPDATE projects SET name = coalesce(%s, name),"
                " retention_days = coalesce(%s, retention_days) WHERE id = %s",
                (body.name, body.retention_days, project_id),
            )
            audit.record(
                conn,
                "project.updated",
                organization_id=project["organization_id"],
                actor_user_id=access.user_id,
                target_type="project",
                target_id=project_id,
                ip=ip,
                details=changes,
            )
    return public(access.project(project_id), svc.settings.public_url)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a project")
def delete_project(project_id: UUID, access: CurrentAccess, ip: ClientIp) -> Response:
    project = access.project(project_id, need=Role.ADMIN)
    conn = access.conn
    with conn.transaction():
        conn.execute("DELETE FROM projects WHERE id = %s", (project_id,))
        # Its events and rollups go in the background (logsight maintain), not in this request.
        conn.execute(
            "INSERT INTO deleted_projects (project_id) VALUES (%s) ON CONFLICT DO NOTHING",
            (project_id,),
        )
        audit.record(
            conn,
            "project.deleted",
            organization_id=project["organization_id"],
            actor_user_id=access.user_id,
            target_type="project",
            target_id=project_id,
            ip=ip,
            details={"name": project["name"]},
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
