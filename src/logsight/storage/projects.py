"""The statements that write organizations and projects: for the API's changes (their rules
and audit in logsight.tenancy), the CLI and the local runtime."""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

import psycopg

from logsight.storage.keys import create_key

DEFAULT_ORGANIZATION = "default"


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "project"


@dataclass(frozen=True, slots=True)
class CreatedProject:
    id: UUID
    name: str
    slug: str
    public_key: str


def ensure_organization(conn: psycopg.Connection, slug: str = DEFAULT_ORGANIZATION) -> UUID:
    row = conn.execute(
        "INSERT INTO organizations (name, slug) VALUES (%s, %s)"
        " ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug RETURNING id",
        (slug.title(), slug),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def create_project(
    conn: psycopg.Connection,
    name: str,
    *,
    organization_slug: str = DEFAULT_ORGANIZATION,
    retention_days: int = 30,
) -> CreatedProject:
    with conn.transaction():
        org_id = ensure_organization(conn, organization_slug)
        slug = slugify(name)
        project_id = insert_project(conn, org_id, name, slug, retention_days)
        key = create_key(conn, project_id, label="default")
    return CreatedProject(project_id, name, slug, key)


def find_project(conn: psycopg.Connection, slug: str) -> UUID | None:
    row = conn.execute(
        "SELECT id FROM projects WHERE slug = %s ORDER BY created_at LIMIT 1", (slug,)
    ).fetchone()
    return UUID(str(row[0])) if row else None


def existing_projects(conn: psycopg.Connection, ids: set[UUID]) -> set[UUID]:
    if not ids:
        return set()
    rows = conn.execute("SELECT id FROM projects WHERE id = ANY(%s)", (list(ids),)).fetchall()
    return {UUID(str(r[0])) for r in rows}


def insert_organization(conn: psycopg.Connection, name: str, slug: str) -> UUID | None:
    """The new organization's id; None when the slug is taken."""
    row = conn.execute(
        "INSERT INTO organizations (name, slug) VALUES (%s, %s)"
        " ON CONFLICT (slug) DO NOTHING RETURNING id",
        (name, slug),
    ).fetchone()
    return None if row is None else UUID(str(row[0]))


def organization_slug_taken(conn: psycopg.Connection, slug: str, other_than: UUID) -> bool:
    taken = conn.execute(
        "SELECT 1 FROM organizations WHERE slug = %s AND id <> %s", (slug, other_than)
    ).fetchone()
    return taken is not None


def update_organization(
    conn: psycopg.Connection, organization_id: UUID, *, name: str | None, slug: str | None
) -> None:
    """Change what is given (None: leave as is)."""
    conn.execute(
        "UPDATE organizations SET name = coalesce(%s, name), slug = coalesce(%s, slug)"
        " WHERE id = %s",
        (name, slug, organization_id),
    )


def delete_organization(conn: psycopg.Connection, organization_id: UUID) -> None:
    conn.execute("DELETE FROM organizations WHERE id = %s", (organization_id,))


def project_slug_taken(conn: psycopg.Connection, organization_id: UUID, slug: str) -> bool:
    taken = conn.execute(
        "SELECT 1 FROM projects WHERE organization_id = %s AND slug = %s", (organization_id, slug)
    ).fetchone()
    return taken is not None


def insert_project(
    conn: psycopg.Connection, organization_id: UUID, name: str, slug: str, retention_days: int
) -> UUID:
    row = conn.execute(
        "INSERT INTO projects (organization_id, name, slug, retention_days)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        (organization_id, name, slug, retention_days),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def update_project(
    conn: psycopg.Connection, project_id: UUID, *, name: str | None, retention_days: int | None
) -> None:
    """Change what is given (None: leave as is)."""
    conn.execute(
        "UPDATE projects SET name = coalesce(%s, name),"
        " retention_days = coalesce(%s, retention_days) WHERE id = %s",
        (name, retention_days, project_id),
    )


def delete_project(conn: psycopg.Connection, project_id: UUID) -> None:
    conn.execute("DELETE FROM projects WHERE id = %s", (project_id,))
    # Its events and rollups go in the background (logsight maintain), not in this transaction.
    conn.execute(
        "INSERT INTO deleted_projects (project_id) VALUES (%s) ON CONFLICT DO NOTHING",
        (project_id,),
    )
