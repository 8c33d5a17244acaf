"""Organizations and projects (the API grows this into full tenancy)."""

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
        row = conn.execute(
            "INSERT INTO projects (organization_id, name, slug, retention_days)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            (org_id, name, slug, retention_days),
        ).fetchone()
        assert row is not None
        project_id = UUID(str(row[0]))
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
