"""Reading a project's dashboards (at most MAX_DASHBOARDS each, so a list is one page)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

COLUMNS = "id, project_id, name, time_range, widgets, version, created_by, created_at, updated_at"


def list_for(conn: psycopg.Connection, project_id: UUID) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {COLUMNS} FROM dashboards WHERE project_id = %s ORDER BY created_at, id",
            (project_id,),
        ).fetchall()


def get(conn: psycopg.Connection, project_id: UUID, dashboard_id: UUID) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {COLUMNS} FROM dashboards WHERE project_id = %s AND id = %s",
            (project_id, dashboard_id),
        ).fetchone()
