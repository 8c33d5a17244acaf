"""Privacy: a project's scrubbing and identity rules, deleting and exporting a user's data, and
exporting a project's events and issues.

Members read the rules; admins change them, delete a user's data and export it (all audited).
Deletion is a job: the request answers 202 with the job, whose status is polled.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from logsight.api.deps import ClientIp, CurrentAccess, Services
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.routers.events import utc
from logsight.api.storable import Time
from logsight.errors import ApiError
from logsight.privacy.deletion import identifiers, queue_deletion
from logsight.privacy.export_format import csv_chunks, json_chunks
from logsight.privacy.identity import EmailMode, IpMode, looks_like_email
from logsight.privacy.keys import DEFAULT_SENSITIVE_KEYS, normalize_key
from logsight.privacy.scrubber import PrivacySettings
from logsight.query import export
from logsight.query.privacy import privacy_job, privacy_jobs, privacy_settings
from logsight.storage.install_secrets import PRIVACY_HASH_KEY, install_secret
from logsight.tenancy import audit
from logsight.tenancy.access import Role, not_found
from logsight.tenancy.privacy import save_privacy_settings

router = APIRouter(tags=["privacy"], responses=ERROR_RESPONSES)

MAX_KEYS = 200


def _key_rule(value: str) -> str:
    normalized = normalize_key(value)
    if not normalized:
        raise ValueError("a key needs at least one letter or digit")
    return normalized


KeyRule = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_key_rule)]


class PrivacyRules(BaseModel):
    """The whole set: a PUT replaces it, omitted fields taking their defaults."""

    model_config = ConfigDict(extra="forbid")

    scrub: bool = Field(
        default=True,
        description="Filter values under sensitive keys and secrets recognised by their shape.",
    )
    sensitive_keys: list[KeyRule] = Field(
        default_factory=list,
        max_length=MAX_KEYS,
        description="Keys filtered besides the defaults (matched on their normalized parts).",
    )
    safe_keys: list[KeyRule] = Field(
        default_factory=list,
        max_length=MAX_KEYS,
        description="Keys whose values are never touched (exact normalized match).",
    )
    email: EmailMode = Field(
        default=EmailMode.STORE, description="E-mail addresses: store, hash (keyed) or drop."
    )
    ip: IpMode = Field(
        default=IpMode.TRUNCATE,
        description="Client IP addresses: store, truncate (/24, /48), hash (keyed) or drop.",
    )


class PrivacyPublic(PrivacyRules):
    default_sensitive_keys: list[str] = Field(description="Always filtered while scrub is on.")
    updated_at: datetime | None = Field(description="Null: the project has the defaults.")


def _public(settings: PrivacySettings) -> PrivacyPublic:
    return PrivacyPublic(
        scrub=settings.scrub,
        sensitive_keys=list(settings.sensitive_keys),
        safe_keys=list(settings.safe_keys),
        email=settings.email,
        ip=settings.ip,
        default_sensitive_keys=list(DEFAULT_SENSITIVE_KEYS),
        updated_at=settings.extra.get("updated_at"),
    )


@router.get(
    "/projects/{project_id}/privacy",
    response_model=PrivacyPublic,
    summary="The project's privacy rules",
)
def get_privacy(project_id: UUID, access: CurrentAccess) -> PrivacyPublic:
    access.project(project_id)
    return _public(privacy_settings(access.conn, [project_id])[project_id])


@router.put(
    "/projects/{project_id}/privacy",
    response_model=PrivacyPublic,
    summary="Replace the project's privacy rules (admins)",
    description="The processor applies them within LOGSIGHT_PRIVACY_CACHE_SECONDS, to events "
    "processed from then on; stored events are not rewritten.",
)
def put_privacy(
    project_id: UUID, body: PrivacyRules, access: CurrentAccess, ip: ClientIp
) -> PrivacyPublic:
    project = access.project(project_id, need=Role.ADMIN)
    settings = PrivacySettings(
        scrub=body.scrub,
        sensitive_keys=tuple(dict.fromkeys(body.sensitive_keys)),
        safe_keys=tuple(dict.fromkeys(body.safe_keys)),
        email=body.email,
        ip=body.ip,
    )
    conn = access.conn
    with conn.transaction():
        save_privacy_settings(conn, project_id, settings)
        audit.record(
            conn,
            "project.privacy_updated",
            organization_id=project["organization_id"],
            actor_user_id=access.user_id,
            target_type="project",
            target_id=project_id,
            ip=ip,
            details=body.model_dump(mode="json"),
        )
    return _public(privacy_settings(conn, [project_id])[project_id])


# -- deleting a user's data ---------------------------------------------------------------------


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class PrivacyJob(BaseModel):
    id: UUID
    kind: str
    organization_id: UUID
    project_id: UUID | None = Field(description="Null: every project of the organization.")
    subject_kind: str = Field(description="user_id or email")
    subject_hash: str = Field(description="The subject's keyed hash (the subject is not kept).")
    status: JobStatus
    result: dict[str, Any] = Field(description="What was deleted, once done.")
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


Subject = Annotated[str | None, Query(min_length=1, max_length=256)]


def _subject(user_id: str | None, email: str | None) -> tuple[str, str]:
    if (user_id is None) == (email is None):
        raise ApiError(
            422, "invalid_value", "give exactly one of user_id and email", "query.user_id"
        )
    if email is not None:
        if not looks_like_email(email):
            raise ApiError(422, "invalid_value", "not an e-mail address", "query.email")
        return "email", email
    assert user_id is not None
    return "user_id", user_id


def _job(conn: Any, job_id: UUID) -> PrivacyJob:
    row = privacy_job(conn, job_id)
    if row is None:
        raise not_found("privacy job")
    return PrivacyJob(**row)


DELETE_DOC = (
    "Queues a job that deletes the user's events (matched by user id, or by e-mail address in "
    "the user id and user traits, hashed forms included), takes them off their issues' counts "
    "and affected users, and deletes the user's exact unique-user rows and the dead letters "
    "that mention them. Per-minute event counts and long-range unique-user sketches keep "
    "them (approximate). Poll the job: GET /api/organizations/{organization_id}/privacy/jobs/"
    "{job_id}."
)


@router.delete(
    "/projects/{project_id}/privacy/users",
    status_code=202,
    response_model=PrivacyJob,
    summary="Delete a user's data in the project (admins; in the background)",
    description=DELETE_DOC,
)
def delete_project_user(
    project_id: UUID,
    access: CurrentAccess,
    ip: ClientIp,
    user_id: Subject = None,
    email: Subject = None,
) -> PrivacyJob:
    kind, subject = _subject(user_id, email)
    project = access.project(project_id, need=Role.ADMIN)
    job_id = queue_deletion(
        access.conn,
        organization_id=project["organization_id"],
        project_id=project_id,
        subject_kind=kind,
        subject=subject,
        requested_by=access.user_id,
        ip=ip,
    )
    return _job(access.conn, job_id)


@router.delete(
    "/organizations/{organization_id}/privacy/users",
    status_code=202,
    response_model=PrivacyJob,
    summary="Delete a user's data in every project of the organization (admins)",
    description=DELETE_DOC,
)
def delete_organization_user(
    organization_id: UUID,
    access: CurrentAccess,
    ip: ClientIp,
    user_id: Subject = None,
    email: Subject = None,
) -> PrivacyJob:
    kind, subject = _subject(user_id, email)
    access.organization(organization_id, need=Role.ADMIN)
    job_id = queue_deletion(
        access.conn,
        organization_id=organization_id,
        project_id=None,
        subject_kind=kind,
        subject=subject,
        requested_by=access.user_id,
        ip=ip,
    )
    return _job(access.conn, job_id)


@router.get(
    "/organizations/{organization_id}/privacy/jobs",
    response_model=list[PrivacyJob],
    summary="The organization's latest privacy jobs (admins)",
)
def list_jobs(organization_id: UUID, access: CurrentAccess) -> list[PrivacyJob]:
    access.organization(organization_id, need=Role.ADMIN, reading=True)
    return [PrivacyJob(**row) for row in privacy_jobs(access.conn, organization_id)]


@router.get(
    "/organizations/{organization_id}/privacy/jobs/{job_id}",
    response_model=PrivacyJob,
    summary="One privacy job and its status (admins)",
)
def get_job(organization_id: UUID, job_id: UUID, access: CurrentAccess) -> PrivacyJob:
    access.organization(organization_id, need=Role.ADMIN, reading=True)
    job = _job(access.conn, job_id)
    if job.organization_id != organization_id:
        raise not_found("privacy job")
    return job


# -- exports ------------------------------------------------------------------------------------


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    if start is None or end is None:
        raise ApiError(
            422,
            "invalid_value",
            "from and to are required",
            "query.from" if start is None else "query.to",
        )
    # Times without an offset are UTC, as everywhere in the API.
    start, end = utc(start) or start, utc(end) or end
    if end <= start:
        raise ApiError(422, "invalid_value", "to must be after from", "query.to")
    return start, end


def _streamed(chunks: Iterator[str], fmt: ExportFormat, filename: str) -> StreamingResponse:
    media = "text/csv; charset=utf-8" if fmt is ExportFormat.CSV else "application/json"
    return StreamingResponse(
        (chunk.encode() for chunk in chunks),
        media_type=media,
        headers={"content-disposition": f'attachment; filename="{filename}.{fmt.value}"'},
    )


EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}, "application/json": {}}, "description": "The export"}
}


class ExportParams(BaseModel):
    from_: Time | None = Field(default=None, alias="from", description="Inclusive.")
    to: Time | None = Field(default=None, description="Exclusive.")
    format: ExportFormat = ExportFormat.JSON


def _project_export(
    what: str, project_id: UUID, access: Any, svc: Any, params: ExportParams
) -> StreamingResponse:
    access.project(project_id, need=Role.MEMBER, reading=True)
    start, end = _range(params.from_, params.to)
    rows, columns = (
        (export.project_events(svc.pool, project_id, start, end), export.EVENT_COLUMNS)
        if what == "events"
        else (export.project_issues(svc.pool, project_id, start, end), export.ISSUE_COLUMNS)
    )
    csv_wanted = params.format is ExportFormat.CSV
    chunks = csv_chunks(rows, columns) if csv_wanted else json_chunks(rows)
    return _streamed(chunks, params.format, f"{what}-{project_id}")


@router.get(
    "/projects/{project_id}/export/events",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
    summary="Export the project's events in a time range (CSV or JSON, streamed; members)",
    description="`from` inclusive, `to` exclusive; oldest first. JSON columns are JSON text in "
    "CSV.",
)
def export_events(
    project_id: UUID,
    access: CurrentAccess,
    svc: Services,
    params: Annotated[ExportParams, Query()],
) -> StreamingResponse:
    return _project_export("events", project_id, access, svc, params)


@router.get(
    "/projects/{project_id}/export/issues",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
    summary="Export the project's issues seen in a time range (CSV or JSON, streamed; members)",
)
def export_issues(
    project_id: UUID,
    access: CurrentAccess,
    svc: Services,
    params: Annotated[ExportParams, Query()],
) -> StreamingResponse:
    return _project_export("issues", project_id, access, svc, params)


def _user_export(
    access: Any,
    svc: Any,
    ip: str | None,
    subject: tuple[str, str],
    organization_id: UUID,
    projects: list[UUID],
    scope: tuple[str, UUID],
) -> StreamingResponse:
    kind, value = subject
    conn = access.conn
    ids = identifiers(install_secret(conn, PRIVACY_HASH_KEY), kind, value)
    audit.record(
        conn,
        "privacy.user_exported",
        organization_id=organization_id,
        actor_user_id=access.user_id,
        target_type=scope[0],
        target_id=scope[1],
        ip=ip,
        details={"subject_kind": kind},
    )
    rows = export.user_events(svc.pool, projects, ids)
    head = {f"{scope[0]}_id": str(scope[1]), "subject_kind": kind, kind: value}
    return _streamed(json_chunks(rows, head), ExportFormat.JSON, f"user-{scope[1]}")


USER_EXPORT_DOC = (
    "The user's events (matched as deletion matches them), oldest first, as "
    '`{"…_id", "subject_kind", "user_id" | "email", "items": [...]}`; streamed.'
)


@router.get(
    "/projects/{project_id}/privacy/users/export",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
    summary="Export one user's events in the project as JSON (admins; audited)",
    description=USER_EXPORT_DOC,
)
def export_user(
    project_id: UUID,
    access: CurrentAccess,
    svc: Services,
    ip: ClientIp,
    user_id: Subject = None,
    email: Subject = None,
) -> StreamingResponse:
    subject = _subject(user_id, email)
    project = access.project(project_id, need=Role.ADMIN, reading=True)
    return _user_export(
        access, svc, ip, subject, project["organization_id"], [project_id], ("project", project_id)
    )


@router.get(
    "/organizations/{organization_id}/privacy/users/export",
    response_class=StreamingResponse,
    responses=EXPORT_RESPONSES,
    summary="Export one user's events in every project of the organization (admins; audited)",
    description=USER_EXPORT_DOC + " Each item names its project (`project_id`).",
)
def export_organization_user(
    organization_id: UUID,
    access: CurrentAccess,
    svc: Services,
    ip: ClientIp,
    user_id: Subject = None,
    email: Subject = None,
) -> StreamingResponse:
    subject = _subject(user_id, email)
    access.organization(organization_id, need=Role.ADMIN, reading=True)
    projects = [p["id"] for p in access.projects(organization_id)]
    return _user_export(
        access, svc, ip, subject, organization_id, projects, ("organization", organization_id)
    )
