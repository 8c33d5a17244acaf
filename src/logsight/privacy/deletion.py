"""Deleting one user's data, as a job: requested now, carried out in the background.

The API and ``logsight privacy delete-user`` queue a job (``privacy_jobs``); the scheduled
function (every minute; locally the scheduler) takes waiting jobs one at a time, and the CLI
runs the job it queued at once. Each project is one transaction, so a job that dies half-way
has finished some projects and is taken again (deleting nothing twice: the rows are gone).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from uuid import UUID

import psycopg

from logsight.privacy.identity import hash_email, keyed_hash, looks_like_email
from logsight.storage.install_secrets import PRIVACY_HASH_KEY, install_secret
from logsight.storage.user_data import Deleted, delete_user_rows
from logsight.tenancy import audit
from logsight.tenancy.privacy import (
    ClaimedJob,
    claim_deletion_job,
    create_deletion_job,
    finish_deletion_job,
    organization_project_ids,
)

log = logging.getLogger(__name__)


def identifiers(key: bytes, subject_kind: str, subject: str) -> list[str]:
    """Every stored form of the subject: as sent, and the keyed hash an e-mail address is
    stored as when its project hashes addresses (e-mail ids included)."""
    values = [subject]
    if subject_kind == "email" or looks_like_email(subject):
        values += [subject.strip().lower(), hash_email(key, subject)]
    return sorted(set(values))


def subject_hash(key: bytes, subject: str) -> str:
    return hash_email(key, subject) if looks_like_email(subject) else _id_hash(key, subject)


def _id_hash(key: bytes, subject: str) -> str:
    return keyed_hash(key, "user", subject)


def run_job(conn: psycopg.Connection, job: ClaimedJob) -> Deleted:
    key = install_secret(conn, PRIVACY_HASH_KEY)
    ids = identifiers(key, job.subject_kind, job.subject)
    projects = (
        [job.project_id]
        if job.project_id is not None
        else organization_project_ids(conn, job.organization_id)
    )
    total = Deleted()
    for project_id in projects:
        total += delete_user_rows(conn, UUID(str(project_id)), ids)
    return total


def run_pending(conn: psycopg.Connection, *, job_id: UUID | None = None, limit: int = 10) -> int:
    """Carry out waiting jobs (or the named one); the number finished. A job that fails is
    put back (up to its attempts) with its error visible."""
    finished = 0
    for _ in range(limit):
        job = claim_deletion_job(conn, job_id)
        if job is None:
            break
        try:
            deleted = run_job(conn, job)
        except psycopg.Error as exc:
            log.warning("privacy job %s failed: %s", job.id, exc)
            finish_deletion_job(conn, job.id, {}, error=str(exc) or type(exc).__name__)
            if job_id is not None:
                raise
            continue
        with conn.transaction():
            finish_deletion_job(conn, job.id, asdict(deleted))
            audit.record(
                conn,
                "privacy.user_deleted",
                organization_id=job.organization_id,
                target_type="privacy_job",
                target_id=job.id,
                details={
                    "project_id": str(job.project_id) if job.project_id else None,
                    **asdict(deleted),
                },
            )
        finished += 1
        if job_id is not None:
            break
    return finished


def queue_deletion(
    conn: psycopg.Connection,
    *,
    organization_id: UUID,
    project_id: UUID | None,
    subject_kind: str,
    subject: str,
    requested_by: UUID | None,
    ip: str | None = None,
) -> UUID:
    """Queue the job and audit the request (the subject itself is not written to the audit
    log: only its keyed hash)."""
    key = install_secret(conn, PRIVACY_HASH_KEY)
    digest = subject_hash(key, subject)
    with conn.transaction():
        job_id = create_deletion_job(
            conn,
            organization_id=organization_id,
            project_id=project_id,
            subject_kind=subject_kind,
            subject=subject,
            subject_hash=digest,
            requested_by=requested_by,
        )
        audit.record(
            conn,
            "privacy.user_deletion_requested",
            organization_id=organization_id,
            actor_user_id=requested_by,
            target_type="privacy_job",
            target_id=job_id,
            ip=ip,
            details={
                "project_id": str(project_id) if project_id else None,
                "subject_kind": subject_kind,
                "subject_hash": digest,
            },
        )
    return job_id


def run_pending_jobs(database_url: str) -> int | None:
    """The scheduled function's call: waiting jobs carried out; None when the database cannot
    be reached (they wait for the next run)."""
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
            return run_pending(conn)
    except psycopg.OperationalError as exc:
        log.warning("privacy jobs wait: %s", exc)
        return None
