"""Privacy writes: a project's settings (``project_privacy``) and the jobs that delete a user's
data (``privacy_jobs``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from logsight.privacy.scrubber import PrivacySettings


def save_privacy_settings(
    conn: psycopg.Connection, project_id: UUID, settings: PrivacySettings
) -> None:
    """Store the whole set (an upsert: a project gets its row on its first change)."""
    conn.execute(
        "INSERT INTO project_privacy"
        " (project_id, scrub, sensitive_keys, safe_keys, email_mode, ip_mode, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, now())"
        " ON CONFLICT (project_id) DO UPDATE SET scrub = EXCLUDED.scrub,"
        " sensitive_keys = EXCLUDED.sensitive_keys, safe_keys = EXCLUDED.safe_keys,"
        " email_mode = EXCLUDED.email_mode, ip_mode = EXCLUDED.ip_mode, updated_at = now()",
        (
            project_id,
            settings.scrub,
            list(settings.sensitive_keys),
            list(settings.safe_keys),
            settings.email.value,
            settings.ip.value,
        ),
    )


def create_deletion_job(
    conn: psycopg.Connection,
    *,
    organization_id: UUID,
    project_id: UUID | None,
    subject_kind: str,
    subject: str,
    subject_hash: str,
    requested_by: UUID | None,
) -> UUID:
    row = conn.execute(
        "INSERT INTO privacy_jobs (kind, organization_id, project_id, subject_kind, subject,"
        " subject_hash, requested_by) VALUES ('delete_user', %s, %s, %s, %s, %s, %s)"
        " RETURNING id",
        (organization_id, project_id, subject_kind, subject, subject_hash, requested_by),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: UUID
    organization_id: UUID
    project_id: UUID | None
    subject_kind: str
    subject: str


# A job left 'running' this long was abandoned by a run that died: it is taken again.
STALE_RUNNING = "15 minutes"


def claim_deletion_job(conn: psycopg.Connection, job_id: UUID | None = None) -> ClaimedJob | None:
    """Take the oldest waiting job (or the named one) so no other run takes it too."""
    row = conn.execute(
        "UPDATE privacy_jobs SET status = 'running', started_at = now(),"
        " attempts = attempts + 1"
        " WHERE id = (SELECT id FROM privacy_jobs"
        "  WHERE (status = 'queued' OR (status = 'running'"
        f"   AND started_at < now() - interval '{STALE_RUNNING}'))"
        "   AND (%s::uuid IS NULL OR id = %s)"
        "  ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)"
        " RETURNING id, organization_id, project_id, subject_kind, subject",
        (job_id, job_id),
    ).fetchone()
    if row is None:
        return None
    return ClaimedJob(UUID(str(row[0])), UUID(str(row[1])), row[2], row[3], row[4] or "")


def finish_deletion_job(
    conn: psycopg.Connection, job_id: UUID, result: dict[str, Any], error: str | None = None
) -> None:
    """Done: the subject itself is forgotten (its keyed hash stays). Failed: kept for a retry."""
    if error is None:
        conn.execute(
            "UPDATE privacy_jobs SET status = 'done', finished_at = now(), subject = NULL,"
            " result = %s, error = NULL WHERE id = %s",
            (Jsonb(result), job_id),
        )
    else:
        conn.execute(
            "UPDATE privacy_jobs SET status = CASE WHEN attempts >= %s THEN 'failed'"
            " ELSE 'queued' END, error = %s, finished_at = now() WHERE id = %s",
            (MAX_ATTEMPTS, error, job_id),
        )


MAX_ATTEMPTS = 5


def organization_project_ids(conn: psycopg.Connection, organization_id: UUID) -> list[UUID]:
    rows = conn.execute(
        "SELECT id FROM projects WHERE organization_id = %s ORDER BY id", (organization_id,)
    ).fetchall()
    return [UUID(str(r[0])) for r in rows]
