"""Ingest keys of a project.

Ingest keys are public by design: they ship inside browser pages and can only write events to
their project. So every member of the organization, viewers included, may read them (to set up
an SDK); only admins create, edit, revoke and rotate them. Ingest trusts a looked-up key for up
to LOGSIGHT_KEY_CACHE_SECONDS, so a revocation takes effect within that time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status
from psycopg.rows import dict_row
from pydantic import AfterValidator, BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from logsight.errors import ApiError
from logsight.storage.keys import new_public_key
from logsight.tenancy import audit
from logsight.tenancy.access import Access, Role
from logsight.tenancy.listing import Label, after_clause, page_of, time_id_after, time_id_cursor

router = APIRouter(prefix="/projects/{project_id}/keys", tags=["keys"], responses=ERROR_RESPONSES)

# What browsers send in Origin: scheme://host[:port], no path. "*" allows any origin.
Origin = Annotated[
    str,
    Field(max_length=255, pattern=r"^(\*|[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s]+/?)$"),
    AfterValidator(lambda origin: origin.rstrip("/").lower()),
]
Origins = Annotated[
    list[Origin],
    Field(
        max_length=50,
        description="Browser origins allowed to send with this key; empty allows any.",
    ),
]


class KeyCreate(BaseModel):
    label: Label = ""
    allowed_origins: Origins = Field(default_factory=list)


class KeyUpdate(BaseModel):
    label: Label | None = None
    allowed_origins: Origins | None = None


class KeyPublic(BaseModel):
    id: UUID
    project_id: UUID
    public_key: str = Field(description="Public, write-only: safe to embed in web pages.")
    label: str
    allowed_origins: list[str]
    created_at: datetime
    revoked_at: datetime | None
    active: bool


_COLUMNS = (
    "id, project_id, public_key, label, allowed_origins, created_at, revoked_at,"
    " revoked_at IS NULL AS active"
)


def _key(access: Access, project_id: UUID, key_id: UUID, *, lock: bool = False) -> dict[str, Any]:
    with access.conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {_COLUMNS} FROM ingest_keys WHERE id = %s AND project_id = %s"
            + (" FOR UPDATE" if lock else ""),
            (key_id, project_id),
        ).fetchone()
    if row is None:
        raise ApiError(404, "not_found", "key not found", "key_id")
    return row


def _insert(access: Access, project_id: UUID, label: str, origins: list[str]) -> dict[str, Any]:
    with access.conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "INSERT INTO ingest_keys (project_id, public_key, label, allowed_origins)"
            f" VALUES (%s, %s, %s, %s) RETURNING {_COLUMNS}",
            (project_id, new_public_key(), label, origins),
        ).fetchone()
    assert row is not None
    return row


def _audit(
    access: Access,
    project: dict[str, Any],
    action: str,
    key: dict[str, Any],
    ip: str | None,
    **details: Any,
) -> None:
    audit.record(
        access.conn,
        action,
        organization_id=project["organization_id"],
        actor_user_id=access.user_id,
        target_type="ingest_key",
        target_id=key["id"],
        ip=ip,
        # The prefix identifies the key in the log without copying it around.
        details={"project_id": str(project["id"]), "key": key["public_key"][:10], **details},
    )


@router.get("", response_model=Page[KeyPublic], summary="A project's ingest keys (all members)")
def list_keys(
    project_id: UUID,
    access: CurrentAccess,
    include_revoked: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[KeyPublic]:
    access.project(project_id)
    where, params = after_clause(time_id_after(cursor))
    if not include_revoked:
        where += " AND revoked_at IS NULL"
    with access.conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT {_COLUMNS} FROM ingest_keys WHERE project_id = %(project)s{where}"
            " ORDER BY created_at, id LIMIT %(limit)s",
            {"project": project_id, "limit": limit + 1, **params},
        ).fetchall()
    page, more = page_of(rows, limit)
    return Page[KeyPublic](
        data=[KeyPublic(**r) for r in page],
        next_cursor=time_id_cursor(page[-1]) if more else None,
    )


@router.post(
    "",
    response_model=KeyPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create an ingest key (admins)",
)
def create_key(project_id: UUID, body: KeyCreate, access: CurrentAccess, ip: ClientIp) -> KeyPublic:
    project = access.project(project_id, need=Role.ADMIN)
    with access.conn.transaction():
        key = _insert(access, project_id, body.label, body.allowed_origins)
        _audit(access, project, "key.created", key, ip, label=body.label)
    return KeyPublic(**key)


@router.get("/{key_id}", response_model=KeyPublic, summary="One ingest key (all members)")
def get_key(project_id: UUID, key_id: UUID, access: CurrentAccess) -> KeyPublic:
    access.project(project_id)
    return KeyPublic(**_key(access, project_id, key_id))


@router.patch(
    "/{key_id}", response_model=KeyPublic, summary="Relabel a key or change its origins (admins)"
)
def update_key(
    project_id: UUID, key_id: UUID, body: KeyUpdate, access: CurrentAccess, ip: ClientIp
) -> KeyPublic:
    project = access.project(project_id, need=Role.ADMIN)
    changes = body.model_dump(exclude_none=True)
    with access.conn.transaction():
        key = _key(access, project_id, key_id, lock=True)
        if not key["active"]:
            raise ApiError(409, "key_revoked", "a revoked key cannot be changed", "key_id")
        if changes:
            access.conn.execute(
                "UPDATE ingest_keys SET label = coalesce(%s, label),"
                " allowed_origins = coalesce(%s, allowed_origins) WHERE id = %s",
                (body.label, body.allowed_origins, key_id),
            )
            _audit(access, project, "key.updated", key, ip, **changes)
    return KeyPublic(**_key(access, project_id, key_id))


@router.post("/{key_id}/revoke", response_model=KeyPublic, summary="Revoke a key (admins)")
def revoke_key(project_id: UUID, key_id: UUID, access: CurrentAccess, ip: ClientIp) -> KeyPublic:
    project = access.project(project_id, need=Role.ADMIN)
    with access.conn.transaction():
        key = _key(access, project_id, key_id, lock=True)
        # Revoking twice is not an error: the key ends up revoked either way.
        if key["active"]:
            access.conn.execute(
                "UPDATE ingest_keys SET revoked_at = now() WHERE id = %s", (key_id,)
            )
            _audit(access, project, "key.revoked", key, ip)
    return KeyPublic(**_key(access, project_id, key_id))


@router.post(
    "/{key_id}/rotate",
    response_model=KeyPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Replace a key by a new one with the same label and origins, revoking it (admins)",
)
def rotate_key(project_id: UUID, key_id: UUID, access: CurrentAccess, ip: ClientIp) -> KeyPublic:
    project = access.project(project_id, need=Role.ADMIN)
    with access.conn.transaction():
        old = _key(access, project_id, key_id, lock=True)
        if not old["active"]:
            raise ApiError(409, "key_revoked", "a revoked key cannot be rotated", "key_id")
        new = _insert(access, project_id, old["label"], old["allowed_origins"])
        access.conn.execute("UPDATE ingest_keys SET revoked_at = now() WHERE id = %s", (key_id,))
        _audit(access, project, "key.rotated", old, ip, replaced_by=str(new["id"]))
    return KeyPublic(**new)
