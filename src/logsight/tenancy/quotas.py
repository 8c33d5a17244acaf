"""A project's ingest quotas: its own values (NULL: the settings' default, 0: unlimited).

Ingest reads them with the key (``logsight.storage.keys``), so a change reaches every ingest
environment within LOGSIGHT_KEY_CACHE_SECONDS.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

import psycopg
from psycopg import sql

from logsight.storage.quotas import count_month_so_far
from logsight.tenancy.access import Access, Role
from logsight.tenancy.audit import audited

QUOTA_COLUMNS = ("events_per_minute", "events_per_month", "key_events_per_second")


def project_quotas(conn: psycopg.Connection, project_id: UUID) -> dict[str, int | None]:
    row = conn.execute(
        sql.SQL("SELECT {} FROM projects WHERE id = %s").format(
            sql.SQL(", ").join(map(sql.Identifier, QUOTA_COLUMNS))
        ),
        (project_id,),
    ).fetchone()
    return dict(zip(QUOTA_COLUMNS, row or (None,) * len(QUOTA_COLUMNS), strict=True))


def set_project_quotas(
    conn: psycopg.Connection, project_id: UUID, changes: Mapping[str, int | None]
) -> None:
    """Set the named quotas (None: back to the default); other columns stay as they are."""
    unknown = set(changes) - set(QUOTA_COLUMNS)
    if unknown:
        raise ValueError(f"not a quota: {sorted(unknown)}")
    if not changes:
        return
    conn.execute(
        sql.SQL("UPDATE projects SET {} WHERE id = %s").format(
            sql.SQL(", ").join(
                sql.SQL("{} = %s").format(sql.Identifier(column)) for column in changes
            )
        ),
        (*changes.values(), project_id),
    )
    if changes.get("events_per_month"):
        count_month_so_far(conn, project_id)


def update(
    access: Access, project_id: UUID, changes: Mapping[str, int | None], ip: str | None
) -> None:
    """Set the named quotas of the project (admins; audited)."""
    project = access.project(project_id, need=Role.ADMIN)
    if not changes:
        return
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        set_project_quotas(access.conn, project_id, changes)
        log.record("project.quotas_updated", "project", project_id, dict(changes))
