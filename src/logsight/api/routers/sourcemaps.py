"""Source maps and minified files of a project, for people without Sentry's tooling (sentry-cli
speaks logsight.api.routers.sentry_artifacts). One file per request, its body as it is."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Query, status
from pydantic import BaseModel

from logsight.api.deps import ClientIp, CurrentAccess, Services
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.pagination import DEFAULT_LIMIT, TIME_ID, Limit, Page, decode_cursor, page
from logsight.query import artifacts as artifact_queries
from logsight.storage.artifacts import MINIFIED_SOURCE, SOURCE_MAP, Artifact
from logsight.tenancy import artifacts
from logsight.tenancy.artifacts import Limits

router = APIRouter(
    prefix="/projects/{project_id}/sourcemaps", tags=["sourcemaps"], responses=ERROR_RESPONSES
)

Kind = Literal["source_map", "minified_source"]


class ArtifactPublic(BaseModel):
    id: UUID
    kind: Kind
    release: str
    dist: str
    url: str
    debug_id: UUID | None
    sourcemap_url: str | None
    size: int
    sha256: str
    created_at: datetime


def limits(svc: Services) -> Limits:
    return Limits(svc.settings.artifact_max_bytes, svc.settings.artifact_project_max_bytes)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ArtifactPublic,
    summary="Upload one source map or minified file (members, write scope)",
)
def upload(
    project_id: UUID,
    access: CurrentAccess,
    svc: Services,
    ip: ClientIp,
    content: Annotated[bytes, Body(media_type="application/octet-stream")],
    url: Annotated[
        str,
        Query(
            min_length=1,
            max_length=2048,
            description="The file's URL as served, or ~/path to match any host.",
        ),
    ],
    release: Annotated[str, Query(max_length=250)] = "",
    dist: Annotated[str, Query(max_length=64)] = "",
    kind: Annotated[
        Kind | None, Query(description="Default: source_map for a URL ending in .map.")
    ] = None,
    debug_id: UUID | None = None,
) -> ArtifactPublic:
    chosen = kind or (SOURCE_MAP if url.split("?", 1)[0].endswith(".map") else MINIFIED_SOURCE)
    [artifact_id] = artifacts.upload(
        access,
        project_id,
        [Artifact(chosen, url, content, release, dist, debug_id)],
        limits(svc),
        ip,
        field="body",
    )
    return ArtifactPublic(**artifact_queries.artifact(access.conn, project_id, artifact_id))


@router.get("", response_model=Page[ArtifactPublic], summary="A project's uploaded files")
def list_artifacts(
    project_id: UUID,
    access: CurrentAccess,
    release: Annotated[str | None, Query(max_length=250)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ArtifactPublic]:
    access.project(project_id)
    rows, following = artifact_queries.artifacts(
        access.conn,
        project_id,
        release=release,
        limit=limit,
        after=decode_cursor(cursor, TIME_ID),
    )
    return page([ArtifactPublic(**r) for r in rows], following)
