"""Ingest keys of a project.

Ingest keys are public by design: they ship inside browser pages and can only write events to
their project. So every member of the organization, viewers included, may read them (to set up
an SDK); only admins create, edit, revoke and rotate them. Ingest trusts a looked-up key for up
to LOGSIGHT_KEY_CACHE_SECONDS, so a revocation takes effect within that time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, status
from pydantic import AfterValidator, BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.fields import Label
from logsight.api.pagination import DEFAULT_LIMIT, TIME_ID, Limit, Page, decode_cursor, page
from logsight.query import keys as key_queries
from logsight.tenancy import keys

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


@router.get("", response_model=Page[KeyPublic], summary="A project's ingest keys (all members)")
def list_keys(
    project_id: UUID,
    access: CurrentAccess,
    include_revoked: bool = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[KeyPublic]:
    access.project(project_id)
    rows, following = key_queries.keys(
        access.conn,
        project_id,
        include_revoked=include_revoked,
        limit=limit,
        after=decode_cursor(cursor, TIME_ID),
    )
    return page([KeyPublic(**r) for r in rows], following)


@router.post(
    "",
    response_model=KeyPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create an ingest key (admins)",
)
def create_key(project_id: UUID, body: KeyCreate, access: CurrentAccess, ip: ClientIp) -> KeyPublic:
    return KeyPublic(**keys.create(access, project_id, body.label, body.allowed_origins, ip))


@router.get("/{key_id}", response_model=KeyPublic, summary="One ingest key (all members)")
def get_key(project_id: UUID, key_id: UUID, access: CurrentAccess) -> KeyPublic:
    return KeyPublic(**keys.get(access, project_id, key_id))


@router.patch(
    "/{key_id}", response_model=KeyPublic, summary="Relabel a key or change its origins (admins)"
)
def update_key(
    project_id: UUID, key_id: UUID, body: KeyUpdate, access: CurrentAccess, ip: ClientIp
) -> KeyPublic:
    changes = body.model_dump(exclude_none=True)
    return KeyPublic(**keys.update(access, project_id, key_id, changes, ip))


@router.post("/{key_id}/revoke", response_model=KeyPublic, summary="Revoke a key (admins)")
def revoke_key(project_id: UUID, key_id: UUID, access: CurrentAccess, ip: ClientIp) -> KeyPublic:
    return KeyPublic(**keys.revoke(access, project_id, key_id, ip))


@router.post(
    "/{key_id}/rotate",
    response_model=KeyPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Replace a key by a new one with the same label and origins, revoking it (admins)",
)
def rotate_key(project_id: UUID, key_id: UUID, access: CurrentAccess, ip: ClientIp) -> KeyPublic:
    return KeyPublic(**keys.rotate(access, project_id, key_id, ip))
