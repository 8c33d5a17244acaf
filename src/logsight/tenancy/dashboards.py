"""Writing dashboards: created, replaced and deleted by members, each change audited in the
same transaction. A project holds at most MAX_DASHBOARDS; its default dashboard comes with the
project (migration 0017's trigger)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
import psycopg
from psycopg.rows import dict_row

from logsight.dashboard_schema import DashboardDefinition
from logsight.errors import ApiError
from logsight.query.dashboards import COLUMNS, get
from logsight.tenancy import audit

MAX_DASHBOARDS = 50


def _widgets(definition: DashboardDefinition) -> str:
    return orjson.dumps([w.model_dump(mode="json") for w in definition.widgets]).decode()


def _audit(
    conn: psycopg.Connection,
    action: str,
    project: dict[str, Any],
    dashboard_id: UUID,
    actor: UUID,
    ip: str | None,
    name: str,
) -> None:
    audit.record(
        conn,
        action,
        organization_id=project["organization_id"],
        actor_user_id=actor,
        target_type="dashboard",
        target_id=dashboard_id,
        ip=ip,
        details={"project_id": str(project["id"]), "name": name},
    )


def create(
    conn: psycopg.Connection,
    project: dict[str, Any],
    definition: DashboardDefinition,
    *,
    actor: UUID,
    ip: str | None,
) -> dict[str, Any]:
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        # Serializes creations in the project, so the count below cannot be raced past.
        cur.execute("SELECT 1 FROM projects WHERE id = %s FOR UPDATE", (project["id"],))
        counted = cur.execute(
            "SELECT count(*) AS n FROM dashboards WHERE project_id = %s", (project["id"],)
        ).fetchone()
        if counted is not None and counted["n"] >= MAX_DASHBOARDS:
            raise ApiError(
                409,
                "too_many_dashboards",
                f"a project holds at most {MAX_DASHBOARDS} dashboards",
                "name",
            )
        row = cur.execute(
            "INSERT INTO dashboards (project_id, name, time_range, widgets, created_by)"
            f" VALUES (%s, %s, %s, %s, %s) RETURNING {COLUMNS}",
            (project["id"], definition.name, definition.range.value, _widgets(definition), actor),
        ).fetchone()
        assert row is not None
        _audit(conn, "dashboard.created", project, row["id"], actor, ip, definition.name)
    return row


def replace(
    conn: psycopg.Connection,
    project: dict[str, Any],
    dashboard_id: UUID,
    definition: DashboardDefinition,
    *,
    actor: UUID,
    ip: str | None,
    version: int | None = None,
) -> dict[str, Any] | None:
    """The dashboard replaced, or None when the project has no such dashboard. With
    ``version``, only if it is still at that version (409 ``version_conflict`` otherwise)."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "UPDATE dashboards SET name = %s, time_range = %s, widgets = %s,"
            " version = version + 1, updated_at = now()"
            " WHERE project_id = %s AND id = %s AND (%s::integer IS NULL OR version = %s)"
            f" RETURNING {COLUMNS}",
            (
                definition.name,
                definition.range.value,
                _widgets(definition),
                project["id"],
                dashboard_id,
                version,
                version,
            ),
        ).fetchone()
        if row is None and version is not None and get(conn, project["id"], dashboard_id):
            raise ApiError(
                409,
                "version_conflict",
                "the dashboard changed since it was read; read it again",
                "query.version",
            )
        if row is not None:
            _audit(conn, "dashboard.updated", project, dashboard_id, actor, ip, definition.name)
    return row


def delete(
    conn: psycopg.Connection,
    project: dict[str, Any],
    dashboard_id: UUID,
    *,
    actor: UUID,
    ip: str | None,
) -> bool:
    with conn.transaction():
        row = conn.execute(
            "DELETE FROM dashboards WHERE project_id = %s AND id = %s RETURNING name",
            (project["id"], dashboard_id),
        ).fetchone()
        if row is not None:
            _audit(conn, "dashboard.deleted", project, dashboard_id, actor, ip, row[0])
    return row is not None
