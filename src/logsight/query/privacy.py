"""Reading projects' privacy settings (``project_privacy``) and deletion jobs (``privacy_jobs``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from logsight.privacy.identity import EmailMode, IpMode
from logsight.privacy.scrubber import PrivacySettings

_SETTINGS = "SELECT project_id, scrub, sensitive_keys, safe_keys, email_mode, ip_mode, updated_at"
JOB_COLUMNS = (
    "id, kind, organization_id, project_id, subject_kind, subject_hash, status, result, error,"
    " attempts, created_at, started_at, finished_at, requested_by"
)


def _settings(row: tuple[Any, ...]) -> PrivacySettings:
    return PrivacySettings(
        scrub=bool(row[1]),
        sensitive_keys=tuple(row[2]),
        safe_keys=tuple(row[3]),
        email=EmailMode(row[4]),
        ip=IpMode(row[5]),
        extra={"updated_at": row[6]},
    )


def privacy_settings(
    conn: psycopg.Connection, project_ids: Iterable[UUID]
) -> dict[UUID, PrivacySettings]:
    """Each project's settings; projects without a row get the defaults."""
    ids = list(project_ids)
    found = {pid: PrivacySettings() for pid in ids}
    if ids:
        rows = conn.execute(
            f"{_SETTINGS} FROM project_privacy WHERE project_id = ANY(%s)", (ids,)
        ).fetchall()
        for row in rows:
            found[UUID(str(row[0]))] = _settings(row)
    return found


def privacy_job(conn: psycopg.Connection, job_id: UUID) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {JOB_COLUMNS} FROM privacy_jobs WHERE id = %s", (job_id,)
        ).fetchone()


def privacy_jobs(
    conn: psycopg.Connection, organization_id: UUID, limit: int = 50
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {JOB_COLUMNS} FROM privacy_jobs WHERE organization_id = %s"
            " ORDER BY created_at DESC LIMIT %s",
            (organization_id, limit),
        ).fetchall()


def project_organization(conn: psycopg.Connection, project_id: UUID) -> UUID | None:
    row = conn.execute(
        "SELECT organization_id FROM projects WHERE id = %s", (project_id,)
    ).fetchone()
    return UUID(str(row[0])) if row else None


def organization_by_ref(conn: psycopg.Connection, ref: str) -> UUID | None:
    """An organization by id or slug."""
    try:
        by_id: UUID | None = UUID(ref)
    except ValueError:
        by_id = None
    row = conn.execute(
        "SELECT id FROM organizations WHERE id = %s OR slug = %s", (by_id, ref)
    ).fetchone()
    return UUID(str(row[0])) if row else None
