"""Projects: organization admins create, rename and delete them (audited). A new project comes
with its first ingest key; a deleted one's events go in the background."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from logsight.errors import ApiError
from logsight.storage import projects as store
from logsight.storage.keys import create_key
from logsight.tenancy.access import Access, Role
from logsight.tenancy.audit import audited

DEFAULT_RETENTION_DAYS = 30


def create(
    access: Access, organization_id: UUID, name: str, retention_days: int | None, ip: str | None
) -> tuple[UUID, str]:
    """The new project's id and its first ingest key."""
    org = access.organization(organization_id, need=Role.ADMIN)
    with audited(access.conn, access.user_id, ip, org["id"]) as log:
        slug = store.slugify(name)
        if store.project_slug_taken(access.conn, org["id"], slug):
            raise ApiError(409, "conflict", f"a project named {slug!r} exists", "name")
        project_id = store.insert_project(
            access.conn, org["id"], name, slug, retention_days or DEFAULT_RETENTION_DAYS
        )
        key = create_key(access.conn, project_id, label="default")
        log.record("project.created", "project", project_id, {"name": name})
    return project_id, key


def update(access: Access, project_id: UUID, changes: dict[str, Any], ip: str | None) -> None:
    """Set the ``name`` and ``retention_days`` that ``changes`` holds."""
    project = access.project(project_id, need=Role.ADMIN)
    if not changes:
        return
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        store.update_project(
            access.conn,
            project_id,
            name=changes.get("name"),
            retention_days=changes.get("retention_days"),
        )
        log.record("project.updated", "project", project_id, changes)


def delete(access: Access, project_id: UUID, ip: str | None) -> None:
    project = access.project(project_id, need=Role.ADMIN)
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        store.delete_project(access.conn, project_id)
        log.record("project.deleted", "project", project_id, {"name": project["name"]})
